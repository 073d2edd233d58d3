//! The account lifecycle over a real SMTP listener: reset and verification emails, their
//! single-use links, no user enumeration, and delivery that survives SMTP outages and
//! server restarts.

use crate::common;

use common::browser::{Browser, Page};
use common::smtp::{SmtpServer, free_port};
use common::{DB_CONNECTION, TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Sup3r-secret!";
const NEW_PASSWORD: &str = "An0ther-Secret!";

async fn start_with_smtp(smtp_url: String) -> TestServer {
    TestServer::start_with(|c| {
        c.smtp_url = Some(smtp_url);
        c.mail_poll_ms = 100;
    })
    .await
}

async fn app(s: &mut TestServer) -> (String, String) {
    s.app_with_grants(&["password", "refresh_token"]).await
}

async fn login(
    s: &TestServer,
    cid: &str,
    secret: &str,
    email: &str,
    password: &str,
) -> common::Response {
    s.raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "password", "client_id": cid,
        "client_secret": secret, "username": email, "password": password, "scope": "openid offline_access"})))
        .await
}

async fn change_password_request(s: &TestServer, email: &str) -> (u16, String) {
    let r = reqwest::Client::new()
        .post(format!("{}/dbconnections/change_password", s.url))
        .json(&json!({"client_id": common::CLIENT_ID, "email": email, "connection": DB_CONNECTION}))
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

async fn submit_reset(b: &mut Browser, form: &Page, password: &str, confirm: &str) -> Page {
    let (ticket, csrf) = (form.input("ticket").unwrap(), form.input("_csrf").unwrap());
    b.post_form(
        "/lo/reset",
        &[
            ("ticket", &ticket),
            ("_csrf", &csrf),
            ("password", password),
            ("confirm", confirm),
        ],
    )
    .await
}

async fn log_types(s: &mut TestServer) -> Vec<String> {
    s.get("/api/v2/logs?per_page=100&sort=date:1")
        .await
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn password_reset_by_email_end_to_end() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let (cid, secret) = app(&mut s).await;
    s.create_user("reset@example.com", json!({"email_verified": true}))
        .await;
    let before = login(&s, &cid, &secret, "reset@example.com", PASSWORD).await;
    let old_refresh = before.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();

    // No enumeration: the same answer for an unknown address, and no email.
    let unknown = change_password_request(&s, "nobody@example.com").await;
    let known = change_password_request(&s, "reset@example.com").await;
    assert_eq!(unknown, known);
    assert_eq!(
        known,
        (
            200,
            "We've just sent you an email to reset your password.".to_string()
        )
    );
    let mail = smtp.wait_for(1).await;
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1, "no email for the unknown address");
    assert_eq!(mail[0].to, vec!["reset@example.com".to_string()]);
    assert!(mail[0].subject().contains("Reset your"));
    let link = mail[0]
        .link(&format!("{}/lo/reset?ticket=", s.url))
        .expect("reset link");

    let mut b = Browser::new(&s.url);
    let form = b.get(&link).await;
    assert_eq!(form.status, 200);
    assert!(form.body.contains("reset@example.com") && form.body.contains("At least 8 characters"));
    let r = submit_reset(&mut b, &form, NEW_PASSWORD, "different").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("do not match"));
    let r = submit_reset(&mut b, &form, "weak", "weak").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("PasswordStrengthError"), "{}", r.body);
    let r = b
        .post_form(
            "/lo/reset",
            &[
                ("ticket", &form.input("ticket").unwrap()),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403, "the form needs its CSRF token");
    let r = submit_reset(&mut b, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(r.body.contains("password was changed"));

    // The link is dead now, the old password too; the new one works.
    assert_eq!(b.get(&link).await.status, 400);
    let again = submit_reset(&mut b, &form, "Th1rd-Secret!!", "Th1rd-Secret!!").await;
    assert_eq!(again.status, 400);
    assert_eq!(
        login(&s, &cid, &secret, "reset@example.com", PASSWORD)
            .await
            .status
            .as_u16(),
        403
    );
    login(&s, &cid, &secret, "reset@example.com", NEW_PASSWORD)
        .await
        .assert_status(200);
    // Changing the password ended the old refresh token.
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "refresh_token", "client_id": cid,
        "client_secret": secret, "refresh_token": old_refresh})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);
    // ... and told the user.
    let mail = smtp.wait_for(2).await;
    assert!(mail[1].subject().contains("password was changed"));

    let types = log_types(&mut s).await;
    for t in ["fcpr", "scpr", "fcp", "scp"] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    let logs = s.get("/api/v2/logs?per_page=100").await.body.to_string();
    assert!(
        !logs.contains(NEW_PASSWORD) && !logs.contains("ticket="),
        "no secrets in the log"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn signup_sends_a_verification_email_whose_link_works_once() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let (cid, _) = app(&mut s).await;
    let http = reqwest::Client::new();
    let signup = |body: Value| {
        let http = http.clone();
        let url = format!("{}/dbconnections/signup", s.url);
        async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        }
    };
    let (status, body) = signup(json!({"client_id": cid, "email": "new@example.com", "password": PASSWORD, "connection": DB_CONNECTION})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["email_verified"], false);
    assert!(body["_id"].as_str().is_some_and(|id| id.len() == 24));
    let (status, body) = signup(json!({"client_id": cid, "email": "new@example.com", "password": PASSWORD, "connection": DB_CONNECTION})).await;
    assert_eq!(
        status, 200,
        "an existing address gets the same answer as a new one: {body}"
    );
    assert_eq!(body["email"], "new@example.com");
    assert_eq!(body["email_verified"], false);
    let (status, body) = signup(json!({"client_id": cid, "email": "weak@example.com", "password": "weak", "connection": DB_CONNECTION})).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_password"))
    );
    assert_eq!(body["name"], "PasswordStrengthError");
    let (status, _) = signup(json!({"client_id": "NoSuchClient", "email": "x@example.com", "password": PASSWORD, "connection": DB_CONNECTION})).await;
    assert_eq!(status, 400);

    let mail = smtp.wait_for(2).await;
    s.wait_outbox_settled().await;
    assert_eq!(
        smtp.messages().len(),
        2,
        "the sign-up's verification email and a notice to the owner of the taken address"
    );
    assert!(
        mail[1].subject().contains("tried to sign up"),
        "{}",
        mail[1].subject()
    );
    assert!(
        mail[1]
            .link(&format!("{}/lo/reset?ticket=", s.url))
            .is_some()
    );
    let link = mail[0]
        .link(&format!("{}/lo/verify_email?ticket=", s.url))
        .expect("verification link");
    s.post(
        "/api/v2/email-templates",
        json!({"template": "welcome_email", "subject": "Welcome aboard", "body": "<p>Hi {{ user.email }}</p>", "enabled": true}),
    )
    .await
    .assert_status(201);
    let mut b = Browser::new(&s.url);
    let r = b.get(&link).await;
    assert_eq!(r.status, 200, "{}", r.body);
    let user = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("new@example.com")
        ))
        .await;
    assert_eq!(user.body[0]["email_verified"], true);
    let mail = smtp.wait_for(3).await;
    assert_eq!(
        mail[2].subject(),
        "Welcome aboard",
        "the enabled welcome email follows verification"
    );
    assert_eq!(
        b.get(&link).await.status,
        400,
        "a verification link works once"
    );
    assert_eq!(b.get(&format!("{link}x")).await.status, 400);
    let types = log_types(&mut s).await;
    assert!(
        types.iter().any(|t| t == "ss")
            && types.iter().any(|t| t == "fs")
            && types.iter().any(|t| t == "sv")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn management_tickets() {
    let mut s = TestServer::start().await;
    let u = s.create_user("t@example.com", json!({})).await;
    let uid = u["user_id"].as_str().unwrap();
    let r = s.post("/api/v2/tickets/password-change", json!({"user_id": uid, "result_url": "https://app.example.com/done", "ttl_sec": 60, "mark_email_as_verified": true})).await;
    let ticket = r.assert_status(201)["ticket"].as_str().unwrap().to_string();
    assert!(ticket.starts_with(&format!("{}/lo/reset?ticket=", s.url)));
    let mut b = Browser::new(&s.url);
    let form = b.get(&ticket).await;
    let r = b
        .post_form(
            "/lo/reset",
            &[
                ("ticket", &form.input("ticket").unwrap()),
                ("_csrf", &form.input("_csrf").unwrap()),
                ("password", NEW_PASSWORD),
                ("confirm", NEW_PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 302);
    assert_eq!(r.location.as_deref(), Some("https://app.example.com/done"));
    let after = s.get(&format!("/api/v2/users/{}", enc(uid))).await;
    assert_eq!(after.body["email_verified"], true, "mark_email_as_verified");

    let conns = s
        .get("/api/v2/connections?name=Username-Password-Authentication")
        .await;
    let conn_id = conns.body[0]["id"].as_str().unwrap().to_string();
    let r = s
        .post(
            "/api/v2/tickets/password-change",
            json!({"connection_id": conn_id, "email": "t@example.com"}),
        )
        .await;
    r.assert_status(201);
    // Tickets expire: lifetimes::password_change_tickets_live_their_ttl, with a moved clock.
    let r = s
        .post(
            "/api/v2/tickets/email-verification",
            json!({"user_id": uid}),
        )
        .await;
    let verify = r.assert_status(201)["ticket"].as_str().unwrap().to_string();
    assert!(verify.contains("/lo/verify_email?ticket="));
    for bad in [
        json!({}),
        json!({"user_id": uid, "ttl_sec": -5}),
        json!({"user_id": uid, "result_url": "javascript:x"}),
        json!({"user_id": uid, "nope": 1}),
    ] {
        s.post("/api/v2/tickets/password-change", bad)
            .await
            .assert_error(400, "invalid_body");
    }
    s.post(
        "/api/v2/tickets/email-verification",
        json!({"user_id": "auth0|000000000000000000000000"}),
    )
    .await
    .assert_error(404, "inexistent_user");
    let narrow = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            Method::POST,
            "/api/v2/tickets/email-verification",
            Some(&narrow),
            Some(json!({"user_id": uid})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_smtp_outage_delays_mail_but_loses_none() {
    let port = free_port();
    let mut s = start_with_smtp(format!("smtp://127.0.0.1:{port}")).await;
    s.create_user("outage@example.com", json!({"email_verified": true}))
        .await;
    change_password_request(&s, "outage@example.com").await;
    // The first attempt fails (nothing listens) and is recorded; the listener comes up only
    // then, so the delivery below is the worker's retry after its backoff.
    let failed = "outbox WHERE attempts > 0 AND last_error IS NOT NULL AND sent_at IS NULL";
    common::wait_for_background_work(
        "a failed delivery attempt recorded",
        std::time::Duration::from_secs(20),
        s.background_progress(),
        || async { (s.count_rows(failed).await > 0).then_some(()) },
    )
    .await;
    let smtp = SmtpServer::start_on(port).await;
    let mail = smtp.wait_for(1).await;
    assert!(mail[0].subject().contains("Reset your"));
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1, "delivered exactly once");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_crash_between_commit_and_send_delivers_exactly_once() {
    let smtp = SmtpServer::start().await;
    // The worker checks the outbox at start and then not for a minute: the message below is
    // committed and never sent before the "crash".
    let mut s = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp.url());
        c.mail_poll_ms = 60_000;
    })
    .await;
    s.create_user("crash@example.com", json!({"email_verified": true}))
        .await;
    change_password_request(&s, "crash@example.com").await;
    assert_eq!(s.count_rows("outbox WHERE sent_at IS NULL").await, 1);
    assert!(smtp.messages().is_empty());
    s.cfg.mail_poll_ms = 100;
    s.restart().await;
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["crash@example.com".to_string()]);
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1, "exactly one delivery");
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_email_templates() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    s.create_user("tpl@example.com", json!({"email_verified": true}))
        .await;
    s.get("/api/v2/email-templates/reset_email")
        .await
        .assert_error(404, "inexistent_email_template");
    s.post(
        "/api/v2/email-templates",
        json!({"template": "reset_email", "body": "x"}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.post(
        "/api/v2/email-templates",
        json!({"template": "nonsense", "body": "x", "subject": "y"}),
    )
    .await
    .assert_error(400, "invalid_body");
    let created = s
        .post("/api/v2/email-templates", json!({"template": "reset_email", "subject": "{{ friendly_name }}: new password for {{ user.email }}",
            "body": "<p>Pick a new password: <a href=\"{{ url }}\">here</a></p>", "from": "Acme Security <security@acme.example>",
            "resultUrl": "https://app.example.com/after-reset", "urlLifetimeInSeconds": 600, "syntax": "liquid", "enabled": true}))
        .await;
    assert_eq!(
        created.assert_status(201)["resultUrl"],
        "https://app.example.com/after-reset"
    );
    s.post(
        "/api/v2/email-templates",
        json!({"template": "reset_email", "body": "x", "subject": "y"}),
    )
    .await
    .assert_status(409);
    s.patch("/api/v2/tenants/settings", json!({"friendly_name": "Acme"}))
        .await
        .assert_status(200);

    change_password_request(&s, "tpl@example.com").await;
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].subject(), "Acme: new password for tpl@example.com");
    assert!(
        mail[0]
            .data
            .contains("From: \"Acme Security\" <security@acme.example>")
            || mail[0]
                .data
                .contains("From: Acme Security <security@acme.example>"),
        "{}",
        mail[0].data
    );
    let link = mail[0]
        .link(&format!("{}/lo/reset?ticket=", s.url))
        .expect("link in the custom body");
    let mut b = Browser::new(&s.url);
    let form = b.get(&link).await;
    let r = submit_reset(&mut b, &form, NEW_PASSWORD, NEW_PASSWORD).await;
    assert_eq!(
        r.location.as_deref(),
        Some("https://app.example.com/after-reset"),
        "the template's resultUrl"
    );

    // A disabled template sends nothing.
    s.patch(
        "/api/v2/email-templates/reset_email",
        json!({"enabled": false}),
    )
    .await
    .assert_status(200);
    change_password_request(&s, "tpl@example.com").await;
    s.wait_outbox_settled().await;
    assert_eq!(
        smtp.messages().len(),
        2,
        "only the reset and the password-changed notice"
    );
    assert!(
        smtp.messages()[1]
            .subject()
            .contains("password was changed")
    );
    s.patch(
        "/api/v2/email-templates/reset_email",
        json!({"template": "verify_email"}),
    )
    .await
    .assert_error(400, "invalid_body");
    let token = s.token().await;
    let put = s
        .raw(
            Method::PUT,
            "/api/v2/email-templates/welcome_email",
            Some(&token),
            Some(json!({"body": "<p>Hi</p>", "subject": "Welcome"})),
        )
        .await;
    put.assert_status(200);
}

async fn passwordless_start(s: &TestServer, body: Value) -> (u16, Value) {
    let r = reqwest::Client::new()
        .post(format!("{}/passwordless/start", s.url))
        .json(&body)
        .send()
        .await
        .unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

/// The six-digit code in a passwordless email.
fn code_in(m: &common::smtp::Received) -> String {
    let subject = m.subject();
    subject
        .rsplit(' ')
        .next()
        .filter(|c| c.len() == 6 && c.chars().all(|d| d.is_ascii_digit()))
        .expect("code in the subject")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn passwordless_email_codes() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    s.post(
        "/api/v2/connections",
        json!({"name": "email", "strategy": "email"}),
    )
    .await
    .assert_status(201);
    let c = s
        .post("/api/v2/clients", json!({"name": "pl", "grant_types": ["http://auth0.com/oauth/grant-type/passwordless/otp", "refresh_token"]}))
        .await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    let otp = |code: &str| {
        json!({"grant_type": "http://auth0.com/oauth/grant-type/passwordless/otp", "client_id": cid,
        "client_secret": secret, "username": "pl@example.com", "otp": code, "realm": "email", "scope": "openid email offline_access"})
    };

    for (bad, error) in [
        (
            json!({"client_id": cid, "connection": "email", "email": "not-an-email", "send": "code"}),
            "bad.email",
        ),
        (
            json!({"client_id": cid, "connection": "Username-Password-Authentication", "email": "pl@example.com", "send": "code"}),
            "bad.connection",
        ),
        (
            json!({"client_id": cid, "connection": "email", "email": "pl@example.com", "send": "fax"}),
            "bad.send",
        ),
    ] {
        let (status, body) = passwordless_start(&s, bad).await;
        assert_eq!((status, body["error"].clone()), (400, json!(error)));
    }
    let (status, body) = passwordless_start(
        &s,
        json!({"client_id": cid, "connection": "email", "email": "PL@example.com", "send": "code"}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["email"], "pl@example.com");
    let mail = smtp.wait_for(1).await;
    let code = code_in(&mail[0]);

    // Wrong guesses fail; the right code works once, verifies the address and logs in.
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(otp(wrong)))
        .await;
    assert_eq!(
        r.assert_status(403)["error_description"],
        "Wrong email or verification code."
    );
    let t = s
        .raw(Method::POST, "/oauth/token", None, Some(otp(&code)))
        .await;
    let t = t.assert_status(200).clone();
    assert!(t["refresh_token"].is_string());
    let again = s
        .raw(Method::POST, "/oauth/token", None, Some(otp(&code)))
        .await;
    assert_eq!(again.status.as_u16(), 403, "a code works once");
    let users = s.get("/api/v2/users-by-email?email=pl%40example.com").await;
    assert_eq!(
        users.body[0]["user_id"].as_str().unwrap().split('|').next(),
        Some("email")
    );
    assert_eq!(users.body[0]["email_verified"], true);
    assert_eq!(users.body[0]["logins_count"], 1);
    assert_eq!(users.body[0]["identities"][0]["provider"], "email");

    // Three wrong guesses burn a code.
    passwordless_start(
        &s,
        json!({"client_id": cid, "connection": "email", "email": "pl@example.com", "send": "code"}),
    )
    .await;
    let mail = smtp.wait_for(2).await;
    let code = code_in(&mail[1]);
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..3 {
        s.raw(Method::POST, "/oauth/token", None, Some(otp(wrong)))
            .await
            .assert_status(403);
    }
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(otp(&code)))
        .await;
    assert_eq!(
        r.status.as_u16(),
        403,
        "the right code after three wrong guesses is refused"
    );

    // At most five codes per address per ten minutes.
    let mut statuses = vec![];
    for _ in 0..5 {
        statuses.push(passwordless_start(&s, json!({"client_id": cid, "connection": "email", "email": "pl@example.com", "send": "code"})).await.0);
    }
    assert_eq!(statuses, vec![200, 200, 200, 429, 429]);
    let types = log_types(&mut s).await;
    assert_eq!(types.iter().filter(|t| *t == "cs").count(), 5);
    assert!(types.iter().any(|t| t == "s") && types.iter().any(|t| t == "f"));
}

#[tokio::test(flavor = "multi_thread")]
async fn passwordless_magic_links_continue_authorize() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    s.post(
        "/api/v2/connections",
        json!({"name": "email", "strategy": "email"}),
    )
    .await
    .assert_status(201);
    let c = s
        .post("/api/v2/clients", json!({"name": "web", "callbacks": ["https://app.example.com/cb"], "grant_types": ["authorization_code"]}))
        .await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    let (status, body) = passwordless_start(&s, json!({"client_id": cid, "connection": "email", "email": "ml@example.com", "send": "link",
        "authParams": {"response_type": "code", "redirect_uri": "https://app.example.com/cb", "scope": "openid email", "state": "st8", "nonce": "n1"}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let mail = smtp.wait_for(1).await;
    let link = mail[0]
        .link(&format!("{}/passwordless/verify_redirect?token=", s.url))
        .expect("magic link");
    let mut b = Browser::new(&s.url);
    let back = b.get(&link).await;
    assert_eq!(back.status, 302, "{}", back.body);
    assert_eq!(back.callback_param("state").as_deref(), Some("st8"));
    assert!(
        b.cookies.contains_key("gh_session"),
        "the link starts a session"
    );
    let code = back.callback_param("code").expect("a code at the callback");
    let t = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "authorization_code", "client_id": cid,
        "client_secret": secret, "code": code, "redirect_uri": "https://app.example.com/cb"})),
        )
        .await;
    let t = t.assert_status(200).clone();
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            t["id_token"].as_str().unwrap().split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["email"], "ml@example.com");
    assert_eq!(claims["email_verified"], true);
    assert_eq!(claims["nonce"], "n1");
    assert_eq!(b.get(&link).await.status, 400, "a magic link works once");
    let types = log_types(&mut s).await;
    assert!(types.iter().any(|t| t == "cls") && types.iter().any(|t| t == "s"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_brute_force_block_emails_an_unblock_link() {
    let smtp = SmtpServer::start().await;
    let mut s = start_with_smtp(smtp.url()).await;
    let app = app(&mut s).await;
    s.create_user("bf@example.com", json!({"email_verified": true}))
        .await;
    for _ in 0..10 {
        login(&s, &app.0, &app.1, "bf@example.com", "wrong").await;
    }
    let r = login(&s, &app.0, &app.1, "bf@example.com", PASSWORD).await;
    assert_eq!(r.assert_status(429)["error"], "too_many_attempts");
    let mail = smtp.wait_for(1).await;
    assert!(mail[0].subject().contains("blocked"));
    assert!(
        mail[0].decoded().contains("127.0.0.1"),
        "the email names the IP"
    );
    let link = mail[0]
        .link(&format!("{}/lo/unblock?ticket=", s.url))
        .expect("unblock link");
    let mut b = Browser::new(&s.url);
    let r = b.get(&link).await;
    assert_eq!(r.status, 200, "{}", r.body);
    login(&s, &app.0, &app.1, "bf@example.com", PASSWORD)
        .await
        .assert_status(200);
    assert_eq!(b.get(&link).await.status, 400, "the link works once");
    let types = log_types(&mut s).await;
    assert!(types.iter().any(|t| t == "limit_wc") && types.iter().any(|t| t == "ublkdu"));
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_account_requests_are_refused_and_change_nothing() {
    let mut s = TestServer::start().await;
    let (cid, _) = app(&mut s).await;
    let http = reqwest::Client::new();
    let post_raw = |path: &str, body: &'static str| {
        let req = http
            .post(format!("{}{path}", s.url))
            .header("content-type", "application/json")
            .body(body);
        async move {
            let r = req.send().await.unwrap();
            (
                r.status().as_u16(),
                r.json::<Value>().await.unwrap_or(Value::Null),
            )
        }
    };
    for path in [
        "/dbconnections/signup",
        "/dbconnections/change_password",
        "/passwordless/start",
    ] {
        for body in ["not json", "[1,2]", "\"x\""] {
            let (status, body) = post_raw(path, body).await;
            assert_eq!(status, 400, "{path}: {body}");
        }
    }
    let (status, body) = post_raw(
        "/dbconnections/change_password",
        r#"{"email": "a@example.com"}"#,
    )
    .await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_request"))
    );
    let (status, body) = post_raw("/dbconnections/signup", r#"{"email": "a@example.com", "password": "Sup3r-secret!", "connection": "Username-Password-Authentication"}"#).await;
    assert_eq!(
        (status, body["code"].clone()),
        (400, json!("invalid_signup")),
        "client_id is required"
    );
    let r = http
        .post(format!("{}/dbconnections/signup", s.url))
        .json(&json!({"client_id": cid, "email": "x@example.com", "password": "Sup3r-secret!", "connection": "Username-Password-Authentication", "blocked": true}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400, "only sign-up fields are accepted");
    for extra in [
        json!({"email_verified": true}),
        json!({"app_metadata": {"roles": ["admin"]}}),
        json!({"user_id": "abc"}),
        json!({"verify_email": false}),
        json!({"user_metadata": {"n": 1}}),
        json!({"user_metadata": {"a": "1", "b": "2", "c": "3", "d": "4", "e": "5", "f": "6", "g": "7", "h": "8", "i": "9", "j": "10", "k": "11"}}),
    ] {
        let mut body = json!({"client_id": cid, "email": "x@example.com", "password": "Sup3r-secret!", "connection": "Username-Password-Authentication"});
        for (k, v) in extra.as_object().unwrap() {
            body[k] = v.clone();
        }
        let r = http
            .post(format!("{}/dbconnections/signup", s.url))
            .json(&body)
            .send()
            .await
            .unwrap();
        assert_eq!(r.status().as_u16(), 400, "{extra}");
    }
    let r = http
        .post(format!("{}/dbconnections/signup", s.url))
        .json(&json!({"client_id": cid, "email": "meta@example.com", "password": "Sup3r-secret!", "connection": "Username-Password-Authentication", "user_metadata": {"plan": "free"}, "given_name": "Meta"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200, "Auth0's sign-up fields are fine");
    let (status, body) = post_raw(
        "/passwordless/start",
        r#"{"connection": "email", "email": "a@example.com"}"#,
    )
    .await;
    assert_eq!(
        (status, body["error"].clone()),
        (400, json!("invalid_request"))
    );
    let users = s.get("/api/v2/users").await.body;
    assert_eq!(
        users.as_array().unwrap().len(),
        1,
        "only the valid sign-up created a user: {users}"
    );

    let token = |body: Value| s.raw(Method::POST, "/oauth/token", None, Some(body));
    let r = token(json!({"grant_type": "authorization_code", "client_id": cid, "redirect_uri": "https://a/cb"})).await;
    r.assert_status(401);
    s.get("/api/v2/email-templates/not_a_template")
        .await
        .assert_error(404, "inexistent_email_template");
    s.patch(
        "/api/v2/email-templates/reset_email",
        json!({"subject": "x"}),
    )
    .await
    .assert_error(404, "inexistent_email_template");
}
