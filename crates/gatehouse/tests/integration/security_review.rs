//! Regression tests for the security review of 2026-12-03 (`security-review.md`): one or
//! more tests per finding, named after it. Races are driven with `release_together`: every
//! request is written but for its last byte, then all last bytes go out at once.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::browser::{Browser, Page};
use common::smtp::{SmtpServer, free_port};
use common::{CLIENT_ID, CLIENT_SECRET, DB_CONNECTION, RawRequest, TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;
use std::time::Duration;

const PASSWORD: &str = "Sup3r-secret!";
const CALLBACK: &str = "https://app.example.com/callback";
const PASSWORD_REALM: &str = "http://auth0.com/oauth/grant-type/password-realm";
const OTP_GRANT: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";
/// RFC 7636 appendix B: CHALLENGE is the S256 of VERIFIER.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ADMIN_EMAIL: &str = "root@example.com";

/// Runs `$body` with `$c` bound to a fresh connection to the test server's database
/// (PostgreSQL or SQLite); both arms must give the same type.
macro_rules! on_db {
    ($s:expr, |$c:ident| $body:expr) => {{
        let url = $s.cfg.database_url.clone();
        if url.starts_with("postgres") {
            let mut $c = sqlx::PgConnection::connect(&url)
                .await
                .expect("connect to the database");
            $body
        } else {
            let mut $c = sqlx::SqliteConnection::connect(&url)
                .await
                .expect("connect to the database");
            $body
        }
    }};
}

// ---------------------------------------------------------------------------------------
// Small helpers
// ---------------------------------------------------------------------------------------

/// `POST /oauth/token`: status and JSON body.
async fn token(s: &TestServer, body: Value) -> (u16, Value) {
    let r = s.raw(Method::POST, "/oauth/token", None, Some(body)).await;
    (r.status.as_u16(), r.body)
}

/// A POST with a JSON body and no credentials: status and body.
async fn post_public(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let r = s.raw(Method::POST, path, None, Some(body)).await;
    (r.status.as_u16(), r.body)
}

/// The `error` of an OAuth error body given as text ("" when there is none).
fn error_of(body: &str) -> String {
    serde_json::from_str::<Value>(body)
        .ok()
        .and_then(|v| v["error"].as_str().map(String::from))
        .unwrap_or_default()
}

fn claims(jwt: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jwt.split('.').nth(1).expect("a JWT"))
            .expect("base64url"),
    )
    .expect("JSON claims")
}

fn realm_login(cid: &str, secret: &str, username: &str, password: &str, realm: &str) -> Value {
    json!({"grant_type": PASSWORD_REALM, "client_id": cid, "client_secret": secret,
        "username": username, "password": password, "realm": realm, "scope": "openid"})
}

fn client_credentials_body(id: &str, secret: &str, audience: &str) -> Value {
    json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret,
        "audience": audience})
}

/// The status of a client-credentials request for the Management API.
async fn client_credentials(s: &TestServer, id: &str, secret: &str) -> u16 {
    token(s, client_credentials_body(id, secret, &s.audience()))
        .await
        .0
}

/// A machine-to-machine client granted `scopes` of the Management API: (id, secret).
async fn m2m_client(s: &mut TestServer, scopes: &[&str]) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "integration", "app_type": "non_interactive", "grant_types": ["client_credentials"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let id = c["client_id"].as_str().expect("client_id").to_string();
    let secret = c["client_secret"].as_str().expect("secret").to_string();
    let audience = s.audience();
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": id, "audience": audience, "scope": scopes}),
    )
    .await
    .assert_status(201);
    (id, secret)
}

/// A regular web application with CALLBACK, allowed the browser, password and refresh
/// grants (plus `extra` settings): (id, secret).
async fn web_app(s: &mut TestServer, extra: Value) -> (String, String) {
    let mut body = json!({"name": "Web", "callbacks": [CALLBACK],
        "grant_types": ["authorization_code", "refresh_token", "password", PASSWORD_REALM]});
    if let Some(e) = extra.as_object() {
        for (k, v) in e {
            body[k.as_str()] = v.clone();
        }
    }
    let c = s.post("/api/v2/clients", body).await;
    let c = c.assert_status(201).clone();
    (
        c["client_id"].as_str().expect("client_id").to_string(),
        c["client_secret"].as_str().unwrap_or_default().to_string(),
    )
}

/// `/authorize` for the code flow with PKCE (S256) to CALLBACK, plus `extra` parameters.
fn authorize_url(client_id: &str, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        enc(CALLBACK)
    )
}

/// Logs in on the hosted page and returns the redirect to the application.
async fn hosted_login(b: &mut Browser, url: &str, user: &str) -> Page {
    let page = b.visit(url).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    let back = b.submit_login(&page, user, PASSWORD).await;
    assert!(
        back.callback_param("code").is_some(),
        "logged in: {:?} {}",
        back.location,
        back.body
    );
    back
}

/// The status of `GET /userinfo` with this access token.
async fn userinfo_status(s: &TestServer, access_token: &str) -> u16 {
    s.http()
        .get(format!("{}/userinfo", s.url))
        .bearer_auth(access_token)
        .send()
        .await
        .expect("userinfo")
        .status()
        .as_u16()
}

async fn users_by_email(s: &mut TestServer, email: &str) -> Value {
    s.get(&format!("/api/v2/users-by-email?email={}", enc(email)))
        .await
        .assert_status(200)
        .clone()
}

fn enabled_clients(connection: &Value) -> Vec<String> {
    connection["enabled_clients"]
        .as_array()
        .expect("enabled_clients")
        .iter()
        .filter_map(|c| c.as_str().map(String::from))
        .collect()
}

async fn start_with_smtp(smtp_url: String) -> TestServer {
    TestServer::start_with(|c| {
        c.smtp_url = Some(smtp_url);
        c.mail_poll_ms = 50;
    })
    .await
}

/// An application allowed the passwordless OTP grant, and the `email` connection enabled
/// for it: (id, secret).
async fn passwordless_setup(s: &mut TestServer) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "pl", "grant_types": [OTP_GRANT, "refresh_token"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let id = c["client_id"].as_str().expect("client_id").to_string();
    let secret = c["client_secret"].as_str().expect("secret").to_string();
    s.post(
        "/api/v2/connections",
        json!({"name": "email", "strategy": "email", "enabled_clients": [id]}),
    )
    .await
    .assert_status(201);
    (id, secret)
}

fn passwordless_start_body(cid: &str, email: &str) -> Value {
    json!({"client_id": cid, "connection": "email", "email": email, "send": "code"})
}

fn otp_body(cid: &str, secret: &str, email: &str, otp: &str) -> Value {
    json!({"grant_type": OTP_GRANT, "client_id": cid, "client_secret": secret,
        "username": email, "otp": otp, "realm": "email", "scope": "openid email"})
}

/// The six-digit code in a passwordless email (the subject's last word).
fn code_in(m: &common::smtp::Received) -> String {
    m.subject()
        .rsplit(' ')
        .next()
        .filter(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit()))
        .expect("code in the subject")
        .to_string()
}

fn is_hex_id(v: &Value) -> bool {
    v.as_str()
        .is_some_and(|s| s.len() == 24 && s.chars().all(|c| c.is_ascii_hexdigit()))
}

async fn passwordless_attempts(s: &TestServer, email: &str) -> i32 {
    let sql = "SELECT attempts FROM passwordless_codes WHERE email = $1";
    on_db!(s, |c| sqlx::query_scalar::<_, i32>(sql)
        .bind(email)
        .fetch_one(&mut c)
        .await
        .expect("the address's code row"))
}

/// Every outbox row: (template, text_body, html_body).
async fn outbox_rows(s: &TestServer) -> Vec<(String, String, String)> {
    let sql = "SELECT template, text_body, html_body FROM outbox";
    on_db!(s, |c| sqlx::query_as::<_, (String, String, String)>(sql)
        .fetch_all(&mut c)
        .await
        .expect("outbox rows"))
}

async fn unsent_messages(s: &TestServer) -> i64 {
    let sql = "SELECT COUNT(*) FROM outbox WHERE sent_at IS NULL";
    on_db!(s, |c| sqlx::query_scalar::<_, i64>(sql)
        .fetch_one(&mut c)
        .await
        .expect("count"))
}

async fn admin_server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await
}

/// Opens `/admin`, logs in on the hosted page, returns the dashboard's first page.
async fn dashboard_sign_in(b: &mut Browser) -> Page {
    let login = b.visit("/admin").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("action=\"/u/login\""), "{}", login.body);
    let home = b.submit_login(&login, ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<h1>Activity</h1>"), "{}", home.body);
    home
}

// ---------------------------------------------------------------------------------------
// H1: update:clients alone took over any client
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn h1_update_clients_alone_cannot_rotate_or_set_a_secret() {
    let mut s = TestServer::start().await;
    let (lim_id, lim_secret) = m2m_client(&mut s, &["update:clients"]).await;
    let (status, t) = token(
        &s,
        client_credentials_body(&lim_id, &lim_secret, &s.audience()),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let lim = t["access_token"]
        .as_str()
        .expect("access_token")
        .to_string();
    assert_eq!(claims(&lim)["scope"], "update:clients");

    let rotate = s
        .raw(
            Method::POST,
            &format!("/api/v2/clients/{CLIENT_ID}/rotate-secret"),
            Some(&lim),
            Some(json!({})),
        )
        .await;
    rotate.assert_error(403, "insufficient_scope");
    assert!(rotate.body.get("client_secret").is_none());

    let chosen = "attacker-chosen-secret-0123456789abcdef";
    let set = s
        .raw(
            Method::PATCH,
            &format!("/api/v2/clients/{CLIENT_ID}"),
            Some(&lim),
            Some(json!({"client_secret": chosen})),
        )
        .await;
    set.assert_error(403, "insufficient_scope");

    // The bootstrap client's own secret still works; the attacker's does not.
    assert_eq!(client_credentials(&s, CLIENT_ID, CLIENT_SECRET).await, 200);
    assert_eq!(client_credentials(&s, CLIENT_ID, chosen).await, 401);

    // update:clients still does what it is for.
    let edit = s
        .raw(
            Method::PATCH,
            &format!("/api/v2/clients/{lim_id}"),
            Some(&lim),
            Some(json!({"description": "manages callbacks"})),
        )
        .await;
    edit.assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn h1_rotating_needs_update_client_keys_and_shows_the_secret_only_with_read_client_keys() {
    let mut s = TestServer::start().await;
    let (victim, original) = m2m_client(&mut s, &["read:users"]).await;
    assert_eq!(client_credentials(&s, &victim, &original).await, 200);
    let path = format!("/api/v2/clients/{victim}/rotate-secret");

    // update:client_keys without read:client_keys: rotated, but the secret is not shown.
    let keys = s.token_with_scope(Some("update:client_keys")).await;
    let r = s
        .raw(Method::POST, &path, Some(&keys), Some(json!({})))
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["client_id"], victim.as_str());
    assert!(body.get("client_secret").is_none(), "{body}");
    assert_eq!(
        client_credentials(&s, &victim, &original).await,
        401,
        "the secret was rotated"
    );

    // With read:client_keys too, the new secret comes back, works, and the old does not.
    let keys_and_read = s
        .token_with_scope(Some("update:client_keys read:client_keys"))
        .await;
    let r = s
        .raw(Method::POST, &path, Some(&keys_and_read), Some(json!({})))
        .await;
    let fresh = r.assert_status(200)["client_secret"]
        .as_str()
        .expect("the new secret is shown")
        .to_string();
    assert_ne!(fresh, original);
    assert_eq!(client_credentials(&s, &victim, &fresh).await, 200);
    assert_eq!(client_credentials(&s, &victim, &original).await, 401);

    // Setting a secret with PATCH takes update:client_keys as well.
    let chosen = "operator-chosen-secret-0123456789abcdef";
    let clients_only = s.token_with_scope(Some("update:clients")).await;
    let r = s
        .raw(
            Method::PATCH,
            &format!("/api/v2/clients/{victim}"),
            Some(&clients_only),
            Some(json!({"client_secret": chosen})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    let both = s
        .token_with_scope(Some("update:clients update:client_keys"))
        .await;
    let r = s
        .raw(
            Method::PATCH,
            &format!("/api/v2/clients/{victim}"),
            Some(&both),
            Some(json!({"client_secret": chosen})),
        )
        .await;
    r.assert_status(200);
    assert_eq!(client_credentials(&s, &victim, chosen).await, 200);
    assert_eq!(client_credentials(&s, &victim, &fresh).await, 401);
}

// ---------------------------------------------------------------------------------------
// H2: disable_signup did not apply to /dbconnections/signup
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn h2_disable_signup_refuses_public_signup_but_not_the_management_api() {
    let mut s = TestServer::start().await;
    let (cid, secret) = s.app_with_grants(&["password"]).await;
    let conn_id = s.connection_id(DB_CONNECTION).await;
    let conn = s
        .get(&format!("/api/v2/connections/{conn_id}"))
        .await
        .assert_status(200)
        .clone();
    let mut options = conn["options"].clone();
    options["disable_signup"] = json!(true);
    let patched = s
        .patch(
            &format!("/api/v2/connections/{conn_id}"),
            json!({"options": options}),
        )
        .await;
    let patched = patched.assert_status(200).clone();
    assert_eq!(patched["options"]["disable_signup"], true);
    assert_eq!(
        patched["options"]["passwordPolicy"],
        conn["options"]["passwordPolicy"]
    );

    let (status, body) = post_public(
        &s,
        "/dbconnections/signup",
        json!({"client_id": cid, "connection": DB_CONNECTION, "email": "intruder@evil.test", "password": "Intrud3r!Passw0rd"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(
        body,
        json!({"name": "BadRequestError", "code": "operation_not_allowed",
            "description": "Public signup is disabled", "statusCode": 400})
    );
    assert_eq!(
        users_by_email(&mut s, "intruder@evil.test").await,
        json!([])
    );
    let (status, _) = token(
        &s,
        realm_login(
            &cid,
            &secret,
            "intruder@evil.test",
            "Intrud3r!Passw0rd",
            DB_CONNECTION,
        ),
    )
    .await;
    assert_eq!(status, 403, "no account to log in to");

    // The Management API still adds users to the connection.
    let invited = s.create_user("invited@example.com", json!({})).await;
    assert_eq!(invited["email"], "invited@example.com");
}

// ---------------------------------------------------------------------------------------
// H3: passwordless limits only held for sequential requests
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn h3_concurrent_otp_guesses_compare_at_most_three() {
    let smtp = SmtpServer::start().await;
    let mut s = TestServer::start_with_manual_clock_and(|c| {
        c.smtp_url = Some(smtp.url());
        c.mail_poll_ms = 50;
    })
    .await;
    let (cid, secret) = passwordless_setup(&mut s).await;
    let email = "otp-race@example.com";
    let (status, body) = post_public(
        &s,
        "/passwordless/start",
        passwordless_start_body(&cid, email),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.wait_for(1).await;
    let code = code_in(&mail[0]);
    let wrong = if code == "000000" { "111111" } else { "000000" };

    let guess = RawRequest::post_json("/oauth/token", &otp_body(&cid, &secret, email, wrong));
    let answers = common::release_together(&s.url, vec![guess; 100]).await;
    let mut refused = 0;
    for (status, body) in &answers {
        // 403 for a wrong (or used-up) code; a per-IP request limit on the token endpoint
        // may also answer 429 too_many_requests, which checks nothing either.
        match (*status, error_of(body).as_str()) {
            (403, "invalid_grant") => refused += 1,
            (429, "too_many_requests") => {}
            other => panic!("unexpected answer {other:?}: {body}"),
        }
    }
    assert!(refused >= 3, "{refused} guesses reached the code");
    assert_eq!(
        passwordless_attempts(&s, email).await,
        3,
        "exactly three guesses were compared with the code"
    );

    // The code is used up: the right one is refused now, and no user was made. (Time moves
    // on first, so that the per-IP request limit has room again.)
    s.clock().advance(1500);
    let (status, body) = token(&s, otp_body(&cid, &secret, email, &code)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (403, json!("invalid_grant")),
        "{body}"
    );
    assert_eq!(users_by_email(&mut s, email).await, json!([]));
}

#[tokio::test(flavor = "multi_thread")]
async fn h3_concurrent_passwordless_starts_send_at_most_five_codes() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let (cid, _) = passwordless_setup(&mut s).await;
    let email = "bombed@example.com";
    let start = RawRequest::post_json("/passwordless/start", &passwordless_start_body(&cid, email));
    let answers = common::release_together(&s.url, vec![start; 60]).await;
    let sent = answers.iter().filter(|(status, _)| *status == 200).count();
    for (status, body) in answers.iter().filter(|(status, _)| *status != 200) {
        assert_eq!(*status, 429, "{body}");
        assert_eq!(error_of(body), "too_many_requests", "{body}");
    }
    assert!((1..=5).contains(&sent), "{sent} of 60 answered 200");

    // Each 200 sent one email, and nothing more arrives.
    smtp.wait_for(sent).await;
    s.wait_outbox_settled().await;
    let delivered = smtp
        .messages()
        .iter()
        .filter(|m| m.to.iter().any(|t| t == email))
        .count();
    assert!(delivered <= 5, "{delivered} emails to one address");
    assert_eq!(delivered, sent);
}

// ---------------------------------------------------------------------------------------
// M1: brute-force protection could be raced, and was only per (user, IP)
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m1_concurrent_wrong_passwords_get_at_most_ten_checks() {
    let mut s = TestServer::start().await;
    let (cid, secret) = s.app_with_grants(&["password", PASSWORD_REALM]).await;
    let user = "race@example.com";
    s.create_user(user, json!({})).await;
    let wrong = RawRequest::post_json(
        "/oauth/token",
        &realm_login(&cid, &secret, user, "Wr0ng-password!", DB_CONNECTION),
    );
    let mut burst = vec![wrong; 60];
    burst.push(RawRequest::post_json(
        "/oauth/token",
        &realm_login(&cid, &secret, user, PASSWORD, DB_CONNECTION),
    ));
    let answers = common::release_together(&s.url, burst).await;
    let (wrong, right) = answers.split_at(60);
    let refused = wrong
        .iter()
        .filter(|(st, b)| *st == 403 && error_of(b) == "invalid_grant")
        .count();
    let throttled = wrong
        .iter()
        .filter(|(st, b)| *st == 429 && error_of(b) == "too_many_attempts")
        .count();
    let seen: Vec<(u16, String)> = answers.iter().map(|(st, b)| (*st, error_of(b))).collect();
    assert_eq!(refused + throttled, 60, "{seen:?}");
    let (right_status, right_body) = &right[0];
    if *right_status == 200 {
        // The right password took one of the ten slots and succeeded, which starts the
        // count afresh: at most nine wrong ones were checked before it and ten after.
        assert!(refused <= 19, "{refused} wrong passwords checked: {seen:?}");
    } else {
        assert_eq!(
            (*right_status, error_of(right_body)),
            (429, "too_many_attempts".to_string()),
            "{right_body}"
        );
        assert!(refused <= 10, "{refused} wrong passwords checked: {seen:?}");
        // Blocked from this IP now, the right password included.
        let (status, body) = token(
            &s,
            realm_login(&cid, &secret, user, PASSWORD, DB_CONNECTION),
        )
        .await;
        assert_eq!(
            (status, body["error"].clone()),
            (429, json!("too_many_attempts"))
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m1_a_user_has_a_failure_limit_across_every_ip() {
    let mut s = TestServer::start_with(|c| c.brute_force_user_limit = 5).await;
    let (cid, secret) = s.app_with_grants(&["password", PASSWORD_REALM]).await;
    let user = "limit@example.com";
    let u = s.create_user(user, json!({})).await;
    let uid = enc(u["user_id"].as_str().expect("user_id"));
    let attempt = |password: &str| realm_login(&cid, &secret, user, password, DB_CONNECTION);

    // The per-IP threshold is 10; the user's own limit of 5 failures comes first.
    for i in 0..5 {
        let (status, body) = token(&s, attempt("Wr0ng-password!")).await;
        assert_eq!(
            (status, body["error"].clone()),
            (403, json!("invalid_grant")),
            "attempt {i}"
        );
    }
    let (status, body) = token(&s, attempt("Wr0ng-password!")).await;
    assert_eq!(
        (status, body["error"].clone()),
        (429, json!("too_many_attempts")),
        "the sixth failure is over the user's limit"
    );
    let (status, body) = token(&s, attempt(PASSWORD)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (429, json!("too_many_attempts")),
        "{body}"
    );
    let blocks = s.get(&format!("/api/v2/user-blocks/{uid}")).await;
    assert_eq!(
        blocks.assert_status(200),
        &json!({"blocked_for": [{"identifier": user, "ip": "*", "connection": DB_CONNECTION}]})
    );

    assert_eq!(
        s.delete(&format!("/api/v2/user-blocks/{uid}"))
            .await
            .status
            .as_u16(),
        204
    );
    let (status, body) = token(&s, attempt(PASSWORD)).await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------
// L3: ways to tell whether an account exists
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn l3_lockout_answers_alike_for_unknown_and_existing_users() {
    let mut s = TestServer::start().await;
    let (cid, secret) = s.app_with_grants(&["password", PASSWORD_REALM]).await;
    s.create_user("carol@example.com", json!({})).await;
    let mut answers = vec![];
    for user in ["carol@example.com", "nobody-x@example.com"] {
        let mut seen = vec![];
        for _ in 0..12 {
            let (status, body) = token(
                &s,
                realm_login(&cid, &secret, user, "Wr0ng-password!", DB_CONNECTION),
            )
            .await;
            seen.push((
                status,
                body["error"].clone(),
                body["error_description"].clone(),
            ));
        }
        answers.push(seen);
    }
    let statuses: Vec<(u16, Value)> = answers[0]
        .iter()
        .map(|(st, e, _)| (*st, e.clone()))
        .collect();
    let expected: Vec<(u16, Value)> = (0..12)
        .map(|i| {
            if i < 10 {
                (403, json!("invalid_grant"))
            } else {
                (429, json!("too_many_attempts"))
            }
        })
        .collect();
    assert_eq!(statuses, expected);
    assert_eq!(
        answers[0], answers[1],
        "an unknown address gets the answers an existing user gets"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn l3_passwordless_start_answers_alike_and_creates_no_user() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let (cid, secret) = passwordless_setup(&mut s).await;

    // An existing user of the connection: made by redeeming a first code.
    let known = "known@example.com";
    let (status, body) = post_public(
        &s,
        "/passwordless/start",
        passwordless_start_body(&cid, known),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.wait_for(1).await;
    let (status, body) = token(&s, otp_body(&cid, &secret, known, &code_in(&mail[0]))).await;
    assert_eq!(status, 200, "{body}");
    let existing = users_by_email(&mut s, known).await;
    assert_eq!(existing[0]["email_verified"], true);
    let known_id = existing[0]["user_id"]
        .as_str()
        .and_then(|id| id.split_once('|'))
        .map(|(_, id)| id.to_string())
        .expect("user id");

    let unknown = "unknown@example.com";
    let mut replies = vec![];
    for email in [known, unknown, unknown] {
        let (status, body) = post_public(
            &s,
            "/passwordless/start",
            passwordless_start_body(&cid, email),
        )
        .await;
        assert_eq!(status, 200, "{email}: {body}");
        let mut keys: Vec<String> = body.as_object().expect("object").keys().cloned().collect();
        keys.sort();
        assert_eq!(keys, ["_id", "email", "email_verified"], "{body}");
        assert_eq!(body["email"], email);
        assert_eq!(body["email_verified"], false, "{body}");
        assert!(is_hex_id(&body["_id"]), "{body}");
        replies.push(body);
    }
    assert_eq!(replies[0]["_id"], known_id.as_str());
    assert_eq!(
        replies[1]["_id"], replies[2]["_id"],
        "a stable id for an unknown address"
    );
    assert_ne!(replies[0]["_id"], replies[1]["_id"]);
    assert_eq!(users_by_email(&mut s, unknown).await, json!([]));
}

// ---------------------------------------------------------------------------------------
// M5: a connection's enabled_clients was never enforced
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m5_enabled_clients_is_enforced_on_every_route() {
    let mut s = TestServer::start().await;
    // The application first (a new application joins every connection there is), then a
    // connection that lists no application.
    let (app, secret) = web_app(&mut s, json!({})).await;
    let staff = s
        .post(
            "/api/v2/connections",
            json!({"name": "Staff-DB", "strategy": "auth0", "enabled_clients": []}),
        )
        .await;
    let staff = staff.assert_status(201).clone();
    let staff_id = staff["id"].as_str().expect("connection id").to_string();
    assert_eq!(enabled_clients(&staff), Vec::<String>::new());
    s.post(
        "/api/v2/users",
        json!({"connection": "Staff-DB", "email": "staff@example.com", "password": PASSWORD}),
    )
    .await
    .assert_status(201);

    let login = realm_login(&app, &secret, "staff@example.com", PASSWORD, "Staff-DB");
    let (status, body) = token(&s, login.clone()).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["error"], "invalid_request");
    assert_eq!(
        body["error_description"],
        "the connection is not enabled for this client"
    );

    let (status, body) = post_public(
        &s,
        "/dbconnections/signup",
        json!({"client_id": app, "connection": "Staff-DB", "email": "intruder@evil.test", "password": "Intrud3r!Passw0rd"}),
    )
    .await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["code"], "invalid_request", "{body}");
    assert_eq!(
        users_by_email(&mut s, "intruder@evil.test").await,
        json!([])
    );

    let mut b = Browser::new(&s.url);
    let r = b.get(&authorize_url(&app, "&connection=Staff-DB")).await;
    assert_eq!(r.status, 302, "{}", r.body);
    let location = r.location.clone().unwrap_or_default();
    assert!(location.starts_with(CALLBACK), "{location}");
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("invalid_request"),
        "{location}"
    );
    assert_eq!(r.callback_param("state").as_deref(), Some("s"));

    // Enabled, the application logs the connection's users in.
    s.patch(
        &format!("/api/v2/connections/{staff_id}"),
        json!({"enabled_clients": [app]}),
    )
    .await
    .assert_status(200);
    let (status, body) = token(&s, login).await;
    assert_eq!(status, 200, "{body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn m5_enable_client_connections_flag_off_adds_new_clients_nowhere() {
    let mut s = TestServer::start().await;
    let default_id = s.connection_id(DB_CONNECTION).await;
    let path = format!("/api/v2/connections/{default_id}");
    let (before, _) = s.app_with_grants(&["password"]).await;
    let conn = s.get(&path).await.assert_status(200).clone();
    assert!(
        enabled_clients(&conn).contains(&before),
        "Auth0's default: a new application joins every connection"
    );

    s.patch(
        "/api/v2/tenants/settings",
        json!({"flags": {"enable_client_connections": false}}),
    )
    .await
    .assert_status(200);
    let (after, _) = s.app_with_grants(&["password"]).await;
    let conn = s.get(&path).await.assert_status(200).clone();
    let enabled = enabled_clients(&conn);
    assert!(!enabled.contains(&after), "{enabled:?}");
    assert!(enabled.contains(&before), "{enabled:?}");
}

// ---------------------------------------------------------------------------------------
// M6: deleting or blocking a user left their sessions and tokens in place
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m6_a_recreated_user_id_inherits_no_tokens_or_sessions() {
    let clock = gatehouse_service::clock::ManualClock::starting_now();
    let for_server = clock.clone();
    let mut s = TestServer::start_with(|c| c.clock = Some(for_server)).await;
    let (app, secret) = web_app(&mut s, json!({})).await;
    let former = "former.employee@example.com";
    let u = s
        .create_user(former, json!({"user_id": "recycled0001"}))
        .await;
    let uid = u["user_id"].as_str().expect("user_id").to_string();
    assert_eq!(uid, "auth0|recycled0001");

    let (status, t) = token(
        &s,
        json!({"grant_type": "password", "client_id": app, "client_secret": secret,
            "username": former, "password": PASSWORD, "scope": "openid offline_access"}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let refresh = t["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let access = t["access_token"]
        .as_str()
        .expect("access token")
        .to_string();
    let mut b = Browser::new(&s.url);
    hosted_login(&mut b, &authorize_url(&app, ""), former).await;
    let silent = authorize_url(&app, "&prompt=none");
    assert!(b.get(&silent).await.callback_param("code").is_some());
    let refresh_body = |rt: &str| json!({"grant_type": "refresh_token", "client_id": app, "client_secret": secret, "refresh_token": rt});
    assert_eq!(userinfo_status(&s, &access).await, 200);

    assert_eq!(
        s.delete(&format!("/api/v2/users/{}", enc(&uid)))
            .await
            .status
            .as_u16(),
        204
    );
    // The new user is created in a later second than the old access token's `iat`.
    clock.advance(1100);
    let hire = s
        .create_user("new.hire@example.com", json!({"user_id": "recycled0001"}))
        .await;
    assert_eq!(hire["user_id"], uid.as_str());

    let (status, body) = token(&s, refresh_body(&refresh)).await;
    assert_eq!(status, 403, "the former user's refresh token: {body}");
    let r = b.get(&silent).await;
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("login_required"),
        "the former user's browser session: {:?}",
        r.location
    );
    assert_eq!(
        userinfo_status(&s, &access).await,
        401,
        "an access token issued before the user was deleted"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn m6_unblocking_brings_back_no_session_or_refresh_token() {
    let mut s = TestServer::start().await;
    let (app, secret) = web_app(&mut s, json!({})).await;
    let u = s.create_user("carol@example.com", json!({})).await;
    let uid = enc(u["user_id"].as_str().expect("user_id"));
    let (status, t) = token(
        &s,
        json!({"grant_type": "password", "client_id": app, "client_secret": secret,
            "username": "carol@example.com", "password": PASSWORD, "scope": "openid offline_access"}),
    )
    .await;
    assert_eq!(status, 200, "{t}");
    let refresh = t["refresh_token"]
        .as_str()
        .expect("refresh token")
        .to_string();
    let mut b = Browser::new(&s.url);
    hosted_login(&mut b, &authorize_url(&app, ""), "carol@example.com").await;
    let silent = authorize_url(&app, "&prompt=none");
    assert!(b.get(&silent).await.callback_param("code").is_some());

    for blocked in [true, false] {
        s.patch(&format!("/api/v2/users/{uid}"), json!({"blocked": blocked}))
            .await
            .assert_status(200);
    }
    let (status, body) = token(
        &s,
        json!({"grant_type": "refresh_token", "client_id": app, "client_secret": secret, "refresh_token": refresh}),
    )
    .await;
    assert_eq!(status, 403, "{body}");
    let r = b.get(&silent).await;
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("login_required"),
        "{:?}",
        r.location
    );
    // The user may log in again, afresh.
    let (status, body) = token(
        &s,
        realm_login(&app, &secret, "carol@example.com", PASSWORD, DB_CONNECTION),
    )
    .await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------
// M7: script schemes as callbacks, and a form_post page without a CSP
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m7_script_schemes_are_refused_as_urls() {
    let mut s = TestServer::start().await;
    let count_clients = |r: &common::Response| r.body.as_array().map(Vec::len).unwrap_or(0);
    let before = count_clients(&s.get("/api/v2/clients").await);
    assert!(before >= 1, "the bootstrap client");
    for (key, url) in [
        ("callbacks", "javascript://app.example.com/cb%0aalert(1)"),
        ("callbacks", "JavaScript://app.example.com/cb"),
        ("callbacks", "data://app.example.com/x"),
        ("callbacks", "vbscript://app.example.com/x"),
        ("callbacks", "file://app.example.com/x"),
        (
            "allowed_logout_urls",
            "javascript://app.example.com/bye%0aalert(1)",
        ),
        ("web_origins", "com.example.app://tenant.example.com"),
        ("web_origins", "javascript://app.example.com"),
    ] {
        let mut body = json!({"name": "x"});
        body[key] = json!([url]);
        let r = s.post("/api/v2/clients", body).await;
        assert_eq!(r.status.as_u16(), 400, "{key} {url}: {}", r.body);
    }
    let clients = s.get("/api/v2/clients").await;
    clients.assert_status(200);
    assert_eq!(
        count_clients(&clients),
        before,
        "no client was created: {}",
        clients.body
    );

    // A native application's custom scheme is fine.
    let native = "com.example.app://tenant.example.com/cb";
    let r = s
        .post(
            "/api/v2/clients",
            json!({"name": "native", "callbacks": [native]}),
        )
        .await;
    let id = r.assert_status(201)["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    // And a script scheme cannot be patched in either.
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"callbacks": ["javascript://app.example.com/cb%0aalert(1)"]}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let c = s.get(&format!("/api/v2/clients/{id}")).await;
    assert_eq!(c.assert_status(200)["callbacks"], json!([native]));
}

#[tokio::test(flavor = "multi_thread")]
async fn m7_form_post_page_runs_only_its_hashed_script() {
    let mut s = TestServer::start().await;
    let (app, _) = web_app(&mut s, json!({})).await;
    s.create_user("fp@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    hosted_login(&mut b, &authorize_url(&app, ""), "fp@example.com").await;
    let cookie = b.cookie_header();
    let resp = s
        .http()
        .get(format!(
            "{}{}",
            s.url,
            authorize_url(&app, "&response_mode=form_post")
        ))
        .header("cookie", cookie)
        .send()
        .await
        .expect("form_post page");
    assert_eq!(resp.status().as_u16(), 200);
    let csp = resp
        .headers()
        .get("content-security-policy")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_string();
    let page = resp.text().await.expect("body");
    assert!(page.contains("name=\"code\""), "{page}");
    assert!(page.contains(&format!("action=\"{CALLBACK}\"")), "{page}");
    assert!(!page.contains("onload"), "{page}");

    assert!(csp.contains("script-src 'sha256-"), "CSP: {csp:?}");
    let script_src = csp
        .split(';')
        .map(str::trim)
        .find(|d| d.starts_with("script-src"))
        .expect("a script-src directive");
    assert!(!script_src.contains("unsafe-inline"), "{csp}");
    let script = page
        .split("<script>")
        .nth(1)
        .and_then(|rest| rest.split("</script>").next())
        .expect("the page's inline script");
    let digest = ring::digest::digest(&ring::digest::SHA256, script.as_bytes());
    let hash = STANDARD.encode(digest.as_ref());
    assert!(
        script_src.contains(&format!("'sha256-{hash}'")),
        "the CSP allows exactly the page's script: {csp}"
    );
}

// ---------------------------------------------------------------------------------------
// M8: live links and codes kept in plain text, in a world-readable database
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m8_sent_messages_keep_no_body() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let (cid, _) = s.app_with_grants(&["password"]).await;
    s.create_user("bob@example.com", json!({})).await;
    let (status, body) = post_public(
        &s,
        "/dbconnections/change_password",
        json!({"client_id": cid, "email": "bob@example.com", "connection": DB_CONNECTION}),
    )
    .await;
    assert_eq!(status, 200, "{body}");

    let prefix = format!("{}/lo/reset?ticket=", s.url);
    // Marked sent once the SMTP server accepted it: then the bodies are blanked.
    s.wait_outbox_settled().await;
    assert_eq!(unsent_messages(&s).await, 0);
    let link = smtp.messages().iter().find_map(|m| m.link(&prefix));
    let link = link.expect("a reset email");
    let ticket = link[prefix.len()..].to_string();
    assert!(ticket.len() >= 16, "{link}");
    let rows = outbox_rows(&s).await;
    assert!(rows.iter().any(|(t, _, _)| t == "reset_email"), "{rows:?}");
    for (template, text, html) in &rows {
        assert!(
            !text.contains(&ticket) && !html.contains(&ticket),
            "{template} keeps the ticket"
        );
        assert_eq!((text.as_str(), html.as_str()), ("", ""), "{template}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m8_pending_messages_are_sealed() {
    // Nothing listens on this port: messages stay pending.
    let mut s = start_with_smtp(format!("smtp://127.0.0.1:{}", free_port())).await;
    let (cid, _) = s.app_with_grants(&["password"]).await;
    s.create_user("bob@example.com", json!({})).await;
    let (status, body) = post_public(
        &s,
        "/dbconnections/change_password",
        json!({"client_id": cid, "email": "bob@example.com", "connection": DB_CONNECTION}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    // Queued in the request's own transaction: there by the time it is answered.
    let rows = outbox_rows(&s).await;
    assert!(rows.iter().any(|(t, _, _)| t == "reset_email"), "{rows:?}");
    assert_eq!(
        unsent_messages(&s).await as usize,
        rows.len(),
        "still pending"
    );
    for (template, text, html) in &rows {
        for body in [text, html] {
            assert!(
                !body.contains("/lo/reset") && !body.contains("ticket="),
                "{template} is readable in the database: {body}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m8_sqlite_database_file_is_private() {
    use std::os::unix::fs::PermissionsExt;
    let s = TestServer::start().await;
    let Some(path) = s.cfg.database_url.strip_prefix("sqlite://") else {
        return; // PostgreSQL: no file of ours.
    };
    let path = path.split('?').next().unwrap_or(path).to_string();
    let mode = std::fs::metadata(&path)
        .expect("the database file")
        .permissions()
        .mode()
        & 0o777;
    assert_eq!(mode, 0o600, "{path}: {mode:o}");
    for suffix in ["-wal", "-shm"] {
        if let Ok(m) = std::fs::metadata(format!("{path}{suffix}")) {
            assert_eq!(m.permissions().mode() & 0o077, 0, "{path}{suffix}");
        }
    }
}

// ---------------------------------------------------------------------------------------
// M9: the *_app_metadata scopes granted full user creation and reads
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn m9_app_metadata_scopes_neither_create_nor_read_users_nor_grant_roles() {
    let mut s = TestServer::start().await;
    let u = s.create_user("meta@example.com", json!({})).await;
    let path = format!(
        "/api/v2/users/{}",
        enc(u["user_id"].as_str().expect("user_id"))
    );

    let create_meta = s.token_with_scope(Some("create:users_app_metadata")).await;
    let r = s
        .raw(
            Method::POST,
            "/api/v2/users",
            Some(&create_meta),
            Some(json!({"connection": DB_CONNECTION, "email": "viaappmeta@example.com",
                "password": PASSWORD, "email_verified": true, "app_metadata": {"roles": ["admin"]}})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    assert_eq!(
        users_by_email(&mut s, "viaappmeta@example.com").await,
        json!([])
    );

    let read_meta = s.token_with_scope(Some("read:users_app_metadata")).await;
    let r = s.raw(Method::GET, &path, Some(&read_meta), None).await;
    r.assert_error(403, "insufficient_scope");
    assert!(r.body.get("email").is_none());

    let update_meta = s.token_with_scope(Some("update:users_app_metadata")).await;
    let r = s
        .raw(
            Method::PATCH,
            &path,
            Some(&update_meta),
            Some(json!({"app_metadata": {"roles": ["admin"]}})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    let r = s
        .raw(
            Method::PATCH,
            &path,
            Some(&update_meta),
            Some(json!({"app_metadata": {"plan": "gold"}})),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["app_metadata"],
        json!({"plan": "gold"})
    );
    let after = s.get(&path).await;
    assert_eq!(
        after.assert_status(200)["app_metadata"],
        json!({"plan": "gold"})
    );

    // The documented scopes do what they are for.
    let create = s.token_with_scope(Some("create:users")).await;
    let r = s
        .raw(
            Method::POST,
            "/api/v2/users",
            Some(&create),
            Some(json!({"connection": DB_CONNECTION, "email": "created@example.com", "password": PASSWORD})),
        )
        .await;
    r.assert_status(201);
    let read = s.token_with_scope(Some("read:users")).await;
    let r = s.raw(Method::GET, &path, Some(&read), None).await;
    assert_eq!(r.assert_status(200)["email"], "meta@example.com");
}

// ---------------------------------------------------------------------------------------
// L1: mailbox syntax accepted as an email address
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn l1_mailbox_syntax_is_not_an_email_address() {
    let mut s = TestServer::start().await;
    let (cid, _) = s.app_with_grants(&["password"]).await;
    for bad in [
        "\"ceo@corp.example\"<attacker@evil.test>",
        "a@x,b@y",
        "attacker@evil.test(ceo@corp.example)",
    ] {
        let (status, body) = post_public(
            &s,
            "/dbconnections/signup",
            json!({"client_id": cid, "connection": DB_CONNECTION, "email": bad, "password": "Intrud3r!Passw0rd"}),
        )
        .await;
        assert_eq!(status, 400, "sign-up with {bad}: {body}");
        let r = s
            .post(
                "/api/v2/users",
                json!({"connection": DB_CONNECTION, "email": bad, "password": PASSWORD}),
            )
            .await;
        assert_eq!(
            r.status.as_u16(),
            400,
            "Management API with {bad}: {}",
            r.body
        );
    }
    let users = s.get("/api/v2/users").await;
    assert_eq!(users.assert_status(200), &json!([]), "nothing was created");
}

// ---------------------------------------------------------------------------------------
// L2: a dashboard session was an ordinary login session
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn l2_login_and_dashboard_cookies_are_not_interchangeable() {
    let mut s = admin_server().await;
    let (app, _) = web_app(&mut s, json!({})).await;
    let mut b = Browser::new(&s.url);
    dashboard_sign_in(&mut b).await;
    let sso = b
        .cookies
        .get("gh_session")
        .expect("a login session")
        .clone();
    let admin = b
        .cookies
        .get("gh_admin")
        .expect("a dashboard session")
        .clone();
    assert_ne!(sso, admin);

    // The login session's cookie does not open the dashboard.
    let mut thief = Browser::new(&s.url);
    thief.cookies.insert("gh_admin".into(), sso);
    let r = thief.get("/admin/users").await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.clone().unwrap_or_default();
    assert!(
        location.contains("/authorize?"),
        "to the sign-in: {location}"
    );
    assert!(!r.body.contains("<h1>Users</h1>"));

    // The dashboard's cookie does not log into applications.
    let mut other = Browser::new(&s.url);
    other.cookies.insert("gh_session".into(), admin);
    let silent = authorize_url(&app, "&prompt=none");
    let r = other.get(&silent).await;
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("login_required"),
        "{:?}",
        r.location
    );
    // While the real login cookie does.
    let r = b.get(&silent).await;
    assert!(r.callback_param("code").is_some(), "{:?}", r.location);
}

#[tokio::test(flavor = "multi_thread")]
async fn l2_dashboard_changes_need_a_recent_login() {
    let mut s = admin_server().await;
    let victim = s.create_user("victim@example.com", json!({})).await;
    let vid = victim["user_id"].as_str().expect("user_id").to_string();
    let mut b = Browser::new(&s.url);
    let home = dashboard_sign_in(&mut b).await;
    let csrf = home.input("_csrf").expect("a CSRF token");

    // The password behind the dashboard session was entered an hour ago.
    let sql = "UPDATE sessions SET auth_time = auth_time - 3600000 WHERE kind = 'dashboard'";
    let changed = on_db!(s, |c| sqlx::query(sql)
        .execute(&mut c)
        .await
        .expect("update the dashboard session")
        .rows_affected());
    assert!(changed >= 1, "a dashboard session row");

    // Reading still works; a change sends the administrator to log in again.
    assert_eq!(b.get("/admin/users").await.status, 200);
    let r = b
        .post_form(
            &format!("/admin/users/{}/block", enc(&vid)),
            &[("_csrf", &csrf)],
        )
        .await;
    assert_eq!(r.status, 303, "{}", r.body);
    let location = r.location.clone().unwrap_or_default();
    assert!(
        location.contains("/authorize?") && location.contains("max_age=900"),
        "{location}"
    );
    let u = s.get(&format!("/api/v2/users/{}", enc(&vid))).await;
    assert_ne!(u.assert_status(200)["blocked"], json!(true), "not blocked");
}

// ---------------------------------------------------------------------------------------
// L6: PKCE plain allowed, and the default, for public clients
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn l6_public_clients_cannot_use_plain_and_s256_is_the_default() {
    let mut s = TestServer::start().await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "SPA", "app_type": "spa", "token_endpoint_auth_method": "none",
                "callbacks": [CALLBACK], "grant_types": ["authorization_code", "refresh_token"]}),
        )
        .await;
    let spa = c.assert_status(201)["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();
    s.create_user("spa@example.com", json!({})).await;
    let base = format!(
        "/authorize?response_type=code&client_id={spa}&redirect_uri={}&scope=openid&code_challenge={CHALLENGE}",
        enc(CALLBACK)
    );
    let mut b = Browser::new(&s.url);
    let r = b
        .get(&format!("{base}&state=s1&code_challenge_method=plain"))
        .await;
    assert_eq!(r.status, 302, "{}", r.body);
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("invalid_request"),
        "{:?}",
        r.location
    );
    assert_eq!(r.callback_param("state").as_deref(), Some("s1"));

    // No method: S256. The challenge itself as the verifier (plain) is refused...
    let no_method = format!("{base}&state=s2");
    let back = hosted_login(&mut b, &no_method, "spa@example.com").await;
    let code = back.callback_param("code").expect("a code");
    let exchange = |code: &str, verifier: &str| {
        json!({"grant_type": "authorization_code", "client_id": spa, "code": code,
            "redirect_uri": CALLBACK, "code_verifier": verifier})
    };
    let (status, body) = token(&s, exchange(&code, CHALLENGE)).await;
    assert_eq!(
        (status, body["error"].clone()),
        (403, json!("invalid_grant")),
        "{body}"
    );
    // ...and the S256 verifier works (a second code: the first was burnt).
    let again = b.get(&no_method).await;
    let code = again
        .callback_param("code")
        .expect("a code from the session");
    let (status, body) = token(&s, exchange(&code, VERIFIER)).await;
    assert_eq!(status, 200, "{body}");
}

// ---------------------------------------------------------------------------------------
// L7: a username could claim another user's email address
// ---------------------------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread")]
async fn l7_usernames_cannot_be_email_addresses_and_email_login_works() {
    let mut s = TestServer::start().await;
    s.post(
        "/api/v2/connections",
        json!({"name": "UserDB", "strategy": "auth0", "options": {"requires_username": true}}),
    )
    .await
    .assert_status(201);
    // Created after the connection: enabled on it.
    let (cid, secret) = s.app_with_grants(&["password", PASSWORD_REALM]).await;

    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "UserDB", "email": "att3x@evil.test", "username": "v3@c.io", "password": PASSWORD}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    let attacker = s
        .post(
            "/api/v2/users",
            json!({"connection": "UserDB", "email": "att3x@evil.test", "username": "att3x", "password": PASSWORD}),
        )
        .await;
    let attacker = attacker.assert_status(201).clone();
    let victim = s
        .post(
            "/api/v2/users",
            json!({"connection": "UserDB", "email": "v3@c.io", "username": "vic3", "password": PASSWORD}),
        )
        .await;
    let victim = victim.assert_status(201).clone();
    let r = s
        .patch(
            &format!(
                "/api/v2/users/{}",
                enc(attacker["user_id"].as_str().expect("user_id"))
            ),
            json!({"username": "v3@c.io"}),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);

    for identifier in ["v3@c.io", "vic3"] {
        let (status, body) = token(
            &s,
            realm_login(&cid, &secret, identifier, PASSWORD, "UserDB"),
        )
        .await;
        assert_eq!(status, 200, "{identifier}: {body}");
        let id = claims(body["id_token"].as_str().expect("id_token"));
        assert_eq!(id["sub"], victim["user_id"], "{identifier}");
    }
    let (status, body) = token(&s, realm_login(&cid, &secret, "att3x", PASSWORD, "UserDB")).await;
    assert_eq!(status, 200, "{body}");
    let id = claims(body["id_token"].as_str().expect("id_token"));
    assert_eq!(id["sub"], attacker["user_id"]);
}

// ---------------------------------------------------------------------------------------
// M2, M3, M4, L4, L5: work a request can cost, and the limits on it
// ---------------------------------------------------------------------------------------

/// The refused rows of an import, as `(index, message)`.
async fn import_errors(s: &mut TestServer, rows: &Value) -> Vec<(i64, String)> {
    let conn = s.connection_id(DB_CONNECTION).await;
    let r = s
        .upload_import(
            serde_json::to_vec(rows).unwrap(),
            &[("connection_id", &conn)],
        )
        .await;
    let id = r.assert_status(202)["id"].as_str().unwrap().to_string();
    s.wait_job(&id).await;
    let errors = s.get(&format!("/api/v2/jobs/{id}/errors")).await;
    if errors.status.as_u16() == 204 {
        return vec![];
    }
    errors
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["user"]["index"]
                    .as_i64()
                    .or(e["index"].as_i64())
                    .unwrap_or(-1),
                e["errors"].to_string(),
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn m2_imported_hashes_above_the_login_bound_are_refused_rows() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 50).await;
    let salt = base64::engine::general_purpose::STANDARD_NO_PAD.encode(b"0123456789abcdef");
    let h32 = base64::engine::general_purpose::STANDARD_NO_PAD.encode([7u8; 32]);
    // Syntactically valid hashes whose cost is just past, or just at, each cap.
    let bcrypt =
        |cost: u32| format!("$2b${cost:02}$abcdefghijklmnopqrstuu5nOq1vQ1pVQy7m7nV8sKf2c5Yh0a7bS");
    let pbkdf2 = |i: u32| json!({"algorithm": "pbkdf2", "hash": {"value": format!("$pbkdf2-sha256$i={i},l=32${salt}${h32}")}});
    let argon2 = |m: u32, t: u32| json!({"algorithm": "argon2", "hash": {"value": format!("$argon2id$v=19$m={m},t={t},p=1${salt}${h32}")}});
    let scrypt = |n: u64, p: u32| {
        json!({"algorithm": "scrypt", "hash": {"value": "07".repeat(32), "encoding": "hex"},
        "salt": {"value": "NaCl"}, "keylen": 32, "cost": n, "blockSize": 8, "parallelization": p})
    };
    let rows = json!([
        {"email": "b14@example.com", "password_hash": bcrypt(14)},
        {"email": "b13@example.com", "password_hash": bcrypt(13)},
        {"email": "p-over@example.com", "custom_password_hash": pbkdf2(1_000_001)},
        {"email": "p-cap@example.com", "custom_password_hash": pbkdf2(1_000_000)},
        {"email": "a-over@example.com", "custom_password_hash": argon2(131_072, 2)},
        {"email": "a-time@example.com", "custom_password_hash": argon2(65_536, 5)},
        {"email": "a-cap@example.com", "custom_password_hash": argon2(65_536, 4)},
        {"email": "s-over@example.com", "custom_password_hash": scrypt(131_072, 1)},
        {"email": "s-work@example.com", "custom_password_hash": scrypt(65_536, 3)},
        {"email": "s-cap@example.com", "custom_password_hash": scrypt(65_536, 2)},
    ]);
    let errors = import_errors(&mut s, &rows).await;
    let refused: Vec<i64> = errors.iter().map(|e| e.0).collect();
    assert_eq!(refused, vec![0, 2, 4, 5, 7, 8], "{errors:?}");
    for email in [
        "b13@example.com",
        "p-cap@example.com",
        "a-cap@example.com",
        "s-cap@example.com",
    ] {
        assert_eq!(
            users_by_email(&mut s, email)
                .await
                .as_array()
                .unwrap()
                .len(),
            1,
            "{email}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m3_password_grants_sign_ups_and_resets_are_limited_per_ip() {
    // A tenth of the default buckets: 10 password grants, 5 sign-ups, 1 reset request.
    let mut s = TestServer::start_with(|c| c.auth_rate_limit_scale = 0.1).await;
    let (cid, secret) = web_app(&mut s, json!({})).await;
    for i in 0..10 {
        let (status, body) = token(
            &s,
            realm_login(
                &cid,
                &secret,
                &format!("nobody{i}@example.com"),
                "wrong",
                DB_CONNECTION,
            ),
        )
        .await;
        assert_eq!(status, 403, "{body}");
    }
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(realm_login(
                &cid,
                &secret,
                "nobody@example.com",
                "wrong",
                DB_CONNECTION,
            )),
        )
        .await;
    assert_eq!(r.status.as_u16(), 429, "{}", r.body);
    assert_eq!(r.body["error"], "too_many_requests");
    assert!(r.headers.get("retry-after").is_some(), "Retry-After");
    // Client credentials check no password: not limited.
    for _ in 0..20 {
        assert_eq!(client_credentials(&s, CLIENT_ID, CLIENT_SECRET).await, 200);
    }
    let signup = |i: usize| {
        json!({"client_id": cid, "connection": DB_CONNECTION,
            "email": format!("new{i}@example.com"), "password": "Corr3ct-Horse-Battery"})
    };
    for i in 0..5 {
        assert_eq!(
            post_public(&s, "/dbconnections/signup", signup(i)).await.0,
            200
        );
    }
    let (status, body) = post_public(&s, "/dbconnections/signup", signup(5)).await;
    assert_eq!(status, 429, "{body}");
    assert_eq!(users_by_email(&mut s, "new5@example.com").await, json!([]));
    let reset = json!({"client_id": cid, "connection": DB_CONNECTION, "email": "new0@example.com"});
    assert_eq!(
        post_public(&s, "/dbconnections/change_password", reset.clone())
            .await
            .0,
        200
    );
    assert_eq!(
        post_public(&s, "/dbconnections/change_password", reset)
            .await
            .0,
        429
    );
}

/// Opens `n` connections that send half a request each and then nothing.
async fn half_sent_requests(addr: &str, n: usize) -> Vec<tokio::net::TcpStream> {
    use tokio::io::AsyncWriteExt;
    let mut held = Vec::with_capacity(n);
    for _ in 0..n {
        let mut c = tokio::net::TcpStream::connect(addr).await.expect("connect");
        c.write_all(b"GET /healthz HTTP/1.1\r\nHost: gatehouse\r\nX-Slow: ")
            .await
            .expect("write");
        held.push(c);
    }
    held
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_slow_clients_are_cut_off_and_healthz_answers_during_a_flood() {
    let s = TestServer::start_with(|c| c.header_read_timeout_ms = 1_000).await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let mut held = half_sent_requests(&addr, 600).await;
    let health = reqwest::Client::builder()
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("/healthz answers while 600 requests hang");
    assert_eq!(health.status().as_u16(), 200);
    // The server gives up on each half-sent request after its header timeout: every held
    // connection is closed (end of stream, possibly after a 408).
    use tokio::io::AsyncReadExt;
    for c in &mut held {
        let mut buf = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), c.read_to_end(&mut buf)).await;
        assert!(
            read.is_ok(),
            "a half-sent request was kept open past the timeout"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn m4_connections_beyond_the_bound_wait_instead_of_failing_the_server() {
    let s = TestServer::start_with(|c| {
        c.max_connections = 8;
        c.header_read_timeout_ms = 1_000;
    })
    .await;
    let addr = s.url.trim_start_matches("http://").to_string();
    // Eight idle connections take every place; a ninth request is served once the header
    // timeout frees one, not refused or dropped.
    let _held = half_sent_requests(&addr, 8).await;
    let r = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
        .get(format!("{}/healthz", s.url))
        .send()
        .await
        .expect("served after a place freed");
    assert_eq!(r.status().as_u16(), 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn l4_an_oversized_form_field_is_refused_before_it_is_all_sent() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut s = TestServer::start().await;
    let token = s.token().await;
    let addr = s.url.trim_start_matches("http://").to_string();
    let boundary = "gatehouse-test-boundary";
    // A form that announces a 400 MiB connection_id field and sends its first 4 KiB: the
    // answer must come now, not after 400 MiB.
    let head =
        format!("--{boundary}\r\nContent-Disposition: form-data; name=\"connection_id\"\r\n\r\n");
    let length = head.len() + 400 * 1024 * 1024;
    let mut c = tokio::net::TcpStream::connect(&addr).await.unwrap();
    c.write_all(
        format!(
            "POST /api/v2/jobs/users-imports HTTP/1.1\r\nHost: gatehouse\r\nAuthorization: Bearer {token}\r\n\
             Content-Type: multipart/form-data; boundary={boundary}\r\nContent-Length: {length}\r\n\r\n{head}"
        )
        .as_bytes(),
    )
    .await
    .unwrap();
    c.write_all(&[b'x'; 4096]).await.unwrap();
    let mut answer = vec![0u8; 4096];
    let n = tokio::time::timeout(Duration::from_secs(10), c.read(&mut answer))
        .await
        .expect("answered without waiting for the rest of the field")
        .unwrap();
    let text = String::from_utf8_lossy(&answer[..n]).to_string();
    assert!(text.starts_with("HTTP/1.1 400"), "{text}");
    assert!(text.contains("connection_id is too long"), "{text}");
    // A form with more fields than an import has is refused, and so is a form whose first
    // field is unknown; each client gets its 400 although the server stops reading early
    // (unread bytes at close used to reset the connection before the answer arrived).
    for first in ["upsert", "unknown_field"] {
        let mut form = reqwest::multipart::Form::new();
        // About 60 KiB: still being sent when the server has its answer.
        for i in 0..40 {
            let padding = if i < 17 {
                "false".to_string()
            } else {
                "é".repeat(700)
            };
            form = form.text(first, padding);
        }
        let r = s
            .http()
            .post(format!("{}/api/v2/jobs/users-imports", s.url))
            .bearer_auth(&token)
            .multipart(form)
            .send()
            .await
            .expect("the refusal reaches the client");
        assert_eq!(r.status().as_u16(), 400);
        let body: Value = r.json().await.unwrap();
        let expected = if first == "upsert" {
            "Too many form fields"
        } else {
            "Additional properties not allowed: unknown_field"
        };
        assert!(
            body["message"].as_str().unwrap().contains(expected),
            "{body}"
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn l5_queries_past_the_term_bound_are_400_and_long_ones_still_answer() {
    let mut s = TestServer::start().await;
    s.create_user("searchable@example.com", json!({})).await;
    // The review's query: 1,365 quoted terms (a 503 "Expression tree is too large").
    let q = "\"a\"".repeat(1365);
    let r = s
        .get(&format!("/api/v2/users?search_engine=v3&q={}", enc(&q)))
        .await;
    let message = r.assert_error(400, "invalid_query_string");
    assert!(message.contains("more than 100 terms"), "{message}");
    // 100 free terms (each OR-ed across every text column) are answered.
    let q = (0..100)
        .map(|i| format!("term{i}*"))
        .collect::<Vec<_>>()
        .join(" ");
    let r = s
        .get(&format!("/api/v2/users?search_engine=v3&q={}", enc(&q)))
        .await;
    r.assert_status(200);
    let q = (0..99)
        .map(|i| format!("name:x{i}"))
        .chain(["email:searchable@example.com".to_string()])
        .collect::<Vec<_>>()
        .join(" OR ");
    let r = s
        .get(&format!("/api/v2/users?search_engine=v3&q={}", enc(&q)))
        .await;
    assert_eq!(r.assert_status(200).as_array().unwrap().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn l5_a_search_past_its_deadline_is_stopped() {
    let mut s = TestServer::start_with(|c| {
        c.search_timeout_ms = 1;
        c.job_poll_ms = 50;
    })
    .await;
    let rows: Vec<Value> = (0..5_000)
        .map(|i| json!({"email": format!("heavy{i}@example.com"), "user_metadata": {"bio": format!("text {i} more text")}}))
        .collect();
    assert!(import_errors(&mut s, &Value::Array(rows)).await.is_empty());
    let q = (0..40)
        .map(|i| format!("*ext{i}*"))
        .collect::<Vec<_>>()
        .join(" OR ");
    let r = s
        .get(&format!(
            "/api/v2/users?search_engine=v3&include_totals=true&q={}",
            enc(&q)
        ))
        .await;
    r.assert_error(503, "query_timeout");
    // The database is usable again at once (a read that is not a search: with a 1 ms
    // deadline any search on a busy machine may be stopped).
    let u = s.create_user("after-timeout@example.com", json!({})).await;
    s.get(&format!(
        "/api/v2/users/{}",
        enc(u["user_id"].as_str().unwrap())
    ))
    .await
    .assert_status(200);
}

// ---------------------------------------------------------------------------------------
// Pages: what users and applications put in them is shown as text, never as markup
// ---------------------------------------------------------------------------------------

const SCRIPT_TAG: &str = "<script>alert(1)</script>";
const ATTRIBUTE_BREAK: &str = "\"><img src=x onerror=alert(1)>";
/// Application names cannot hold `<` or `>`, but a quote could still end an attribute.
const QUOTED_APP_NAME: &str = "Shop\" autofocus onfocus=\"alert(1)";

/// Neither payload appears as markup; both appear escaped (so the value is shown, not lost).
#[track_caller]
fn assert_escaped(what: &str, body: &str) {
    for raw in [SCRIPT_TAG, "<img src=x"] {
        assert!(!body.contains(raw), "{what} shows {raw} as markup:\n{body}");
    }
    for escaped in [
        "&lt;script&gt;alert(1)&lt;/script&gt;",
        "&quot;&gt;&lt;img src=x onerror=alert(1)&gt;",
    ] {
        assert!(body.contains(escaped), "{what} lacks {escaped}:\n{body}");
    }
}

/// The application's name is there, its quotes escaped.
#[track_caller]
fn assert_app_name_escaped(what: &str, body: &str) {
    assert!(!body.contains(QUOTED_APP_NAME), "{what}:\n{body}");
    assert!(
        body.contains("Shop&quot; autofocus onfocus=&quot;alert(1)"),
        "{what} lacks the escaped name:\n{body}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn pages_escape_what_users_and_applications_put_in_them() {
    let mut s = admin_server().await;
    let hostile = format!("{SCRIPT_TAG}{ATTRIBUTE_BREAK}");
    s.patch(
        "/api/v2/tenants/settings",
        json!({ "friendly_name": hostile }),
    )
    .await
    .assert_status(200);
    let user = s
        .create_user(
            "mallory@example.com",
            json!({"name": hostile, "nickname": hostile, "given_name": hostile,
                "user_metadata": {"bio": hostile}, "app_metadata": {"note": hostile}}),
        )
        .await;
    let user_id = user["user_id"].as_str().expect("user_id").to_string();
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": QUOTED_APP_NAME, "callbacks": [CALLBACK], "is_first_party": false,
                "grant_types": ["authorization_code"]}),
        )
        .await;
    let client_id = app.assert_status(201)["client_id"]
        .as_str()
        .expect("client_id")
        .to_string();

    // The dashboard: the users list, a search that echoes the query, the user's page, and
    // the application in the list and in its settings form (an attribute value).
    let mut admin = Browser::new(&s.url);
    dashboard_sign_in(&mut admin).await;
    for path in [
        "/admin/users".to_string(),
        format!("/admin/users?q={}", enc(&hostile)),
        format!("/admin/users/{}", enc(&user_id)),
    ] {
        let page = admin.get(&path).await;
        assert!(page.status < 500, "{path}: {}", page.status);
        assert_escaped(&path, &page.body);
    }
    for path in [
        "/admin/applications".to_string(),
        format!("/admin/applications/{}", enc(&client_id)),
    ] {
        let page = admin.get(&path).await;
        assert_eq!(page.status, 200, "{path}");
        assert_app_name_escaped(&path, &page.body);
    }

    // The hosted pages show the tenant's name and the application's: the login page, then
    // the consent page of this third-party application.
    let mut b = Browser::new(&s.url);
    let login = b
        .visit(&format!(
            "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert_escaped("the login page", &login.body);
    assert_app_name_escaped("the login page", &login.body);
    let consent = b
        .submit_login(&login, "mallory@example.com", PASSWORD)
        .await;
    assert_eq!(consent.status, 200, "{:?}", consent.location);
    assert!(
        consent.body.contains("action=\"/u/consent\""),
        "{}",
        consent.body
    );
    assert_escaped("the consent page", &consent.body);
    assert_app_name_escaped("the consent page", &consent.body);
}
