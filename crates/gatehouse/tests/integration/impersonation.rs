//! Impersonation (issue 18, item 5): `POST /users/{id}/impersonate` with a Management API token
//! carrying `impersonate:users` answers a single-use, five-minute URL; opening it lands in the
//! application as the user with tokens that say who acts (`act`, `impersonated`,
//! `impersonator`, checked by decoding and verifying the signature); both users' logs record
//! it; every refusal changes nothing; the dashboard offers it only to administrators holding
//! the permission.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::{Browser, Page};
use common::{TestServer, enc};
use gatehouse_crypto::keys::PublicKey;
use reqwest::Method;
use serde_json::{Value, json};

const CALLBACK: &str = "https://app.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
const ADMIN_EMAIL: &str = "boss@example.com";

struct World {
    s: TestServer,
    /// The application logged into: (client_id, client_secret).
    app: (String, String),
    /// A Management API token carrying `impersonate:users` (and nothing else).
    token: String,
    admin_id: String,
    user_id: String,
}

/// A server with an application, an administrator holding the admin and impersonator roles,
/// a user to log in as, and a machine client granted `impersonate:users`.
async fn world(s: TestServer) -> World {
    let mut s = s;
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "Shop", "callbacks": [CALLBACK, "https://*.tenant.example/cb"],
                "grant_types": ["authorization_code", "implicit", "refresh_token"]}),
        )
        .await;
    let app = app.assert_status(201).clone();
    let app = (
        app["client_id"].as_str().unwrap().to_string(),
        app["client_secret"].as_str().unwrap().to_string(),
    );
    let admin = s
        .create_user(
            ADMIN_EMAIL,
            json!({"password": PASSWORD, "app_metadata": {"roles": ["admin", "impersonator"]}}),
        )
        .await;
    let user = s
        .create_user(
            "ada@example.com",
            json!({"name": "Ada", "password": PASSWORD}),
        )
        .await;
    let token = impersonation_token(&mut s).await;
    World {
        s,
        app,
        token,
        admin_id: admin["user_id"].as_str().unwrap().into(),
        user_id: user["user_id"].as_str().unwrap().into(),
    }
}

/// A machine client granted only `impersonate:users` on the Management API, and its token.
async fn impersonation_token(s: &mut TestServer) -> String {
    let (id, secret) = s.app_with_grants(&["client_credentials"]).await;
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": id, "audience": s.audience(), "scope": ["impersonate:users"]}),
    )
    .await
    .assert_status(201);
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials", "client_id": id,
                "client_secret": secret, "audience": s.audience()})),
        )
        .await;
    let body = r.assert_status(200);
    assert_eq!(body["scope"], "impersonate:users");
    body["access_token"].as_str().unwrap().to_string()
}

fn body(w: &World, extra: Value) -> Value {
    let mut b = json!({"protocol": "oauth2", "impersonator_id": w.admin_id, "client_id": w.app.0,
        "additionalParameters": {"response_type": "code", "callback_url": CALLBACK,
            "state": "st-1", "scope": "openid profile email offline_access"}});
    for (k, v) in extra.as_object().unwrap() {
        b[k] = v.clone();
    }
    b
}

async fn start(w: &World, token: Option<&str>, user_id: &str, body: Value) -> common::Response {
    w.s.raw(
        Method::POST,
        &format!("/users/{}/impersonate", enc(user_id)),
        token,
        Some(body),
    )
    .await
}

/// Starts an impersonation that must succeed; the single-use URL.
async fn url(w: &World, body: Value) -> String {
    let r = start(w, Some(&w.token), &w.user_id, body).await;
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(
        r.headers["content-type"].to_str().unwrap(),
        "text/plain; charset=utf-8"
    );
    assert_eq!(r.headers["cache-control"], "no-store");
    r.body.as_str().expect("a URL as text").to_string()
}

async fn exchange(w: &World, code: &str) -> common::Response {
    w.s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(
            json!({"grant_type": "authorization_code", "client_id": w.app.0,
            "client_secret": w.app.1, "code": code, "redirect_uri": CALLBACK}),
        ),
    )
    .await
}

/// The claims of a token whose signature verifies against the published key set.
async fn verified_claims(s: &TestServer, token: &str) -> Value {
    let header: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').next().unwrap())
            .unwrap(),
    )
    .unwrap();
    let jwks = s
        .raw(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let k = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("the token's key is published");
    let key = PublicKey {
        kid: k["kid"].as_str().unwrap().into(),
        n: URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap(),
        e: URL_SAFE_NO_PAD.decode(k["e"].as_str().unwrap()).unwrap(),
    };
    let claims = gatehouse_crypto::jwt::verify(token, [&key]).expect("signature verifies");
    Value::Object(claims)
}

async fn logs_of(s: &mut TestServer, user_id: &str) -> Vec<Value> {
    s.get(&format!("/api/v2/users/{}/logs?per_page=100", enc(user_id)))
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .clone()
}

fn of_type<'a>(logs: &'a [Value], kind: &str) -> Vec<&'a Value> {
    logs.iter().filter(|e| e["type"] == kind).collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn an_impersonation_logs_in_once_with_tokens_that_name_the_administrator() {
    let mut w = world(TestServer::start().await).await;
    let link = url(&w, body(&w, json!({}))).await;
    assert!(
        link.starts_with(&format!(
            "{}/users/{}/impersonate?ticket=",
            w.s.url,
            enc(&w.admin_id)
        )),
        "{link}"
    );

    // A HEAD (a link checker) does not spend it.
    let head = w.s.http().head(&link).send().await.unwrap();
    assert_eq!(head.status(), 200);

    // Opening it lands at the callback with a code and the state, and opens no session.
    let mut b = Browser::new(&w.s.url);
    let landed = b.get(&link).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    let loc = landed.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}?code=")), "{loc}");
    assert_eq!(landed.callback_param("state").as_deref(), Some("st-1"));
    assert!(
        !b.cookies.contains_key("gh_session"),
        "an impersonation opens no SSO session: {:?}",
        landed.set_cookies
    );
    assert_eq!(
        common::browser::param(&loc, "code").map(|c| c.len() > 20),
        Some(true)
    );

    // The code's tokens say who acts; no refresh token although offline_access was asked.
    let t = exchange(&w, &landed.callback_param("code").unwrap()).await;
    let t = t.assert_status(200).clone();
    assert!(t.get("refresh_token").is_none(), "{t}");
    assert!(!t["scope"].as_str().unwrap().contains("offline_access"));
    let id = verified_claims(&w.s, t["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], json!(w.user_id));
    assert_eq!(id["aud"], json!(w.app.0));
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["name"], "Ada");
    assert_eq!(id["impersonated"], true);
    assert_eq!(
        id["impersonator"],
        json!({"user_id": w.admin_id, "email": ADMIN_EMAIL})
    );
    assert_eq!(id["act"], json!({"sub": w.admin_id}));
    assert!(id.get("sid").is_none(), "no session, no sid: {id}");
    let access = verified_claims(&w.s, t["access_token"].as_str().unwrap()).await;
    assert_eq!(access["sub"], json!(w.user_id));
    assert_eq!(access["act"], json!({"sub": w.admin_id}));
    assert_eq!(access["aud"], json!(format!("{}/userinfo", w.s.url)));
    let me =
        w.s.raw(
            Method::GET,
            "/userinfo",
            Some(t["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(me.assert_status(200)["email"], "ada@example.com");

    // The URL works once.
    let again = Browser::new(&w.s.url).get(&link).await;
    assert_eq!(again.status, 400);
    assert!(again.location.is_none());
    assert!(again.body.contains("already used"), "{}", again.body);
    assert_eq!(again.body.matches("code=").count(), 0);

    // Both users' logs tell it; the user's own login statistics stay theirs.
    let user_logs = logs_of(&mut w.s, &w.user_id).await;
    let logins = of_type(&user_logs, "s");
    assert_eq!(logins.len(), 1, "{user_logs:?}");
    assert_eq!(
        logins[0]["details"]["impersonator"]["user_id"],
        json!(w.admin_id)
    );
    assert_eq!(logins[0]["details"]["impersonator"]["email"], ADMIN_EMAIL);
    assert_eq!(logins[0]["client_id"], json!(w.app.0));
    let admin_logs = logs_of(&mut w.s, &w.admin_id).await;
    let started = of_type(&admin_logs, "sapi");
    assert_eq!(started.len(), 1, "{admin_logs:?}");
    assert_eq!(
        started[0]["details"]["impersonation"]["user_id"],
        json!(w.user_id)
    );
    assert_eq!(
        started[0]["details"]["impersonation"]["client_id"],
        json!(w.app.0)
    );
    let u = w.s.get(&format!("/api/v2/users/{}", enc(&w.user_id))).await;
    assert_eq!(u.assert_status(200)["logins_count"], 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn response_type_token_answers_in_the_fragment_and_the_only_callback_is_the_default() {
    let mut w = world(TestServer::start().await).await;
    // An application with one callback: callback_url may be left out.
    let one =
        w.s.post(
            "/api/v2/clients",
            json!({"name": "Spa", "callbacks": ["https://spa.example/cb"],
                "grant_types": ["implicit"], "token_endpoint_auth_method": "none"}),
        )
        .await;
    let spa = one.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = url(
        &w,
        body(
            &w,
            json!({"client_id": spa, "additionalParameters": {"response_type": "token", "state": "s"}}),
        ),
    )
    .await;
    let landed = Browser::new(&w.s.url).get(&link).await;
    assert_eq!(landed.status, 302, "{}", landed.body);
    let loc = landed.location.clone().unwrap();
    assert!(loc.starts_with("https://spa.example/cb#"), "{loc}");
    assert_eq!(landed.callback_param("state").as_deref(), Some("s"));
    let access = landed.callback_param("access_token").expect("a token");
    let claims = verified_claims(&w.s, &access).await;
    assert_eq!(claims["sub"], json!(w.user_id));
    assert_eq!(claims["act"], json!({"sub": w.admin_id}));
    assert!(landed.callback_param("refresh_token").is_none());
}

#[tokio::test(flavor = "multi_thread")]
async fn the_url_expires_after_five_minutes_by_the_server_clock() {
    let w = world(TestServer::start_with_manual_clock().await).await;
    let fresh = url(&w, body(&w, json!({}))).await;
    let stale = url(&w, body(&w, json!({}))).await;
    w.s.clock().advance(4 * 60 * 1000);
    let ok = Browser::new(&w.s.url).get(&fresh).await;
    assert_eq!(ok.status, 302, "still valid at four minutes: {}", ok.body);
    w.s.clock().advance(61 * 1000);
    let late = Browser::new(&w.s.url).get(&stale).await;
    assert_eq!(late.status, 400);
    assert!(late.body.contains("expired"), "{}", late.body);
    assert!(late.location.is_none());
}

/// Starts an impersonation of the world's user with the world's token.
async fn attempt(w: &World, body: Value) -> common::Response {
    start(w, Some(&w.token), &w.user_id, body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn refusals_are_auth0_errors_and_change_nothing() {
    let mut w = world(TestServer::start().await).await;
    let user = w.user_id.clone();

    // The token: missing, not a token, or without the scope (the bootstrap client's lacks it).
    start(&w, None, &user, body(&w, json!({})))
        .await
        .assert_error(401, "missing_token");
    start(&w, Some("not-a-token"), &user, body(&w, json!({})))
        .await
        .assert_error(401, "invalid_token");
    let every_other_scope = w.s.token().await;
    let m = start(&w, Some(&every_other_scope), &user, body(&w, json!({})))
        .await
        .assert_error(403, "insufficient_scope");
    assert!(m.contains("impersonate:users"), "{m}");

    // The body.
    attempt(&w, json!({"client_id": w.app.0}))
        .await
        .assert_error(400, "invalid_body");
    for missing in ["protocol", "impersonator_id", "client_id"] {
        let mut b = body(&w, json!({}));
        b.as_object_mut().unwrap().remove(missing);
        let m = attempt(&w, b).await.assert_error(400, "invalid_body");
        assert!(m.contains(missing), "{m}");
    }
    attempt(&w, body(&w, json!({"protocol": "samlp"})))
        .await
        .assert_error(400, "operation_not_supported");
    for bad in [
        json!({"callback_url": CALLBACK, "audience": "https://api"}),
        json!({"callback_url": CALLBACK, "response_type": "id_token"}),
        json!({"callback_url": CALLBACK, "state": 7}),
    ] {
        attempt(&w, body(&w, json!({"additionalParameters": bad})))
            .await
            .assert_error(400, "invalid_body");
    }

    // The callback must be one of the application's, exactly; with two, it must be given.
    for wrong in [
        "https://evil.example/callback",
        "https://app.example.com/callback/",
        "https://app.example.com/callback?x=1",
        "https://a.tenant.example/cb",
        "https://*.tenant.example/cb",
    ] {
        let b = body(&w, json!({"additionalParameters": {"callback_url": wrong}}));
        let m = attempt(&w, b).await.assert_error(400, "invalid_uri");
        assert!(m.contains("Allowed Callback URLs"), "{m}");
    }
    attempt(
        &w,
        body(
            &w,
            json!({"additionalParameters": {"response_type": "code"}}),
        ),
    )
    .await
    .assert_error(400, "invalid_body");

    // Who and where.
    start(&w, Some(&w.token), "auth0|nobody", body(&w, json!({})))
        .await
        .assert_error(404, "inexistent_user");
    attempt(&w, body(&w, json!({"impersonator_id": "auth0|nobody"})))
        .await
        .assert_error(400, "inexistent_user");
    attempt(
        &w,
        body(&w, json!({"client_id": "NoSuchClient0000000000000000000"})),
    )
    .await
    .assert_error(400, "inexistent_client");
    // An impersonator without the permission: the user themselves, an admin without the
    // impersonator role.
    attempt(&w, body(&w, json!({"impersonator_id": user})))
        .await
        .assert_error(403, "operation_not_allowed");
    let plain_admin =
        w.s.create_user(
            "plain-admin@example.com",
            json!({"app_metadata": {"roles": ["admin"]}}),
        )
        .await;
    attempt(
        &w,
        body(&w, json!({"impersonator_id": plain_admin["user_id"]})),
    )
    .await
    .assert_error(403, "operation_not_allowed");
    // Not into the dashboard (it exists once someone opened /admin), nor into an
    // application without the grant or the user's connection.
    Browser::new(&w.s.url).visit("/admin").await;
    let m = attempt(
        &w,
        body(
            &w,
            json!({"client_id": "gatehouse-dashboard",
                "additionalParameters": {"callback_url": format!("{}/admin/callback", w.s.url)}}),
        ),
    )
    .await
    .assert_error(403, "operation_not_allowed");
    assert!(m.contains("dashboard"), "{m}");
    let (m2m, _) = w.s.app_with_grants(&["client_credentials"]).await;
    w.s.patch(
        &format!("/api/v2/clients/{m2m}"),
        json!({"callbacks": [CALLBACK]}),
    )
    .await
    .assert_status(200);
    attempt(&w, body(&w, json!({"client_id": m2m})))
        .await
        .assert_error(403, "unauthorized_client");
    let conn = w.s.connection_id(common::DB_CONNECTION).await;
    let enabled =
        w.s.get(&format!("/api/v2/connections/{conn}"))
            .await
            .assert_status(200)["enabled_clients"]
            .clone();
    let without: Vec<Value> = enabled
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| **c != json!(w.app.0))
        .cloned()
        .collect();
    w.s.patch(
        &format!("/api/v2/connections/{conn}"),
        json!({"enabled_clients": without}),
    )
    .await
    .assert_status(200);
    attempt(&w, body(&w, json!({})))
        .await
        .assert_error(403, "invalid_request");
    w.s.patch(
        &format!("/api/v2/connections/{conn}"),
        json!({"enabled_clients": enabled}),
    )
    .await
    .assert_status(200);
    // A blocked user is not logged in by anyone.
    w.s.patch(
        &format!("/api/v2/users/{}", enc(&user)),
        json!({"blocked": true}),
    )
    .await
    .assert_status(200);
    attempt(&w, body(&w, json!({})))
        .await
        .assert_error(403, "operation_not_allowed");

    // Nothing happened to the user; the administrator's log holds no start; the tenant log
    // holds the refusals.
    let user_logs = logs_of(&mut w.s, &user).await;
    assert!(of_type(&user_logs, "s").is_empty(), "{user_logs:?}");
    let admin_logs = logs_of(&mut w.s, &w.admin_id).await;
    assert!(of_type(&admin_logs, "sapi").is_empty(), "{admin_logs:?}");
    let all =
        w.s.get("/api/v2/logs?q=type:fapi&per_page=100")
            .await
            .assert_status(200)
            .clone();
    let refusals = all
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| {
            e["description"]
                .as_str()
                .is_some_and(|d| d.starts_with("Impersonation of"))
        })
        .count();
    assert!(refusals >= 10, "{all}");
}

#[tokio::test(flavor = "multi_thread")]
async fn opening_checks_again_and_a_forged_or_misdirected_url_is_refused() {
    let mut w = world(TestServer::start().await).await;
    // A ticket opened under another impersonator's path, or altered, is refused.
    let link = url(&w, body(&w, json!({}))).await;
    let moved = link.replace(&enc(&w.admin_id), &enc(&w.user_id));
    let p = Browser::new(&w.s.url).get(&moved).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("not valid"), "{}", p.body);
    let (head, ticket) = link.split_once("ticket=").unwrap();
    let mut bytes = ticket.as_bytes().to_vec();
    bytes[10] = if bytes[10] == b'A' { b'B' } else { b'A' };
    let forged = format!("{head}ticket={}", String::from_utf8(bytes).unwrap());
    assert_eq!(Browser::new(&w.s.url).get(&forged).await.status, 400);
    // The untouched one still works (nothing was spent by the refusals).
    assert_eq!(Browser::new(&w.s.url).get(&link).await.status, 302);

    // The permission taken away between start and opening: refused, and spent.
    let link = url(&w, body(&w, json!({}))).await;
    w.s.patch(
        &format!("/api/v2/users/{}", enc(&w.admin_id)),
        json!({"app_metadata": {"roles": ["admin"]}}),
    )
    .await
    .assert_status(200);
    let p = Browser::new(&w.s.url).get(&link).await;
    assert_eq!(p.status, 403, "{}", p.body);
    assert!(p.location.is_none());
    w.s.patch(
        &format!("/api/v2/users/{}", enc(&w.admin_id)),
        json!({"app_metadata": {"roles": ["admin", "impersonator"]}}),
    )
    .await
    .assert_status(200);
    let p = Browser::new(&w.s.url).get(&link).await;
    assert_eq!(p.status, 400);
    assert!(p.body.contains("already used"), "{}", p.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_bootstrap_client_keeps_an_opt_in_grant_across_restarts() {
    let mut s = TestServer::start().await;
    let grants = s
        .get(&format!(
            "/api/v2/client-grants?client_id={}",
            common::CLIENT_ID
        ))
        .await
        .assert_status(200)
        .clone();
    let grant = &grants.as_array().unwrap()[0];
    let scopes = grant["scope"].as_array().unwrap();
    assert!(
        !scopes.contains(&json!("impersonate:users")),
        "not granted by default"
    );
    let mut with: Vec<Value> = scopes.clone();
    with.push(json!("impersonate:users"));
    s.patch(
        &format!("/api/v2/client-grants/{}", grant["id"].as_str().unwrap()),
        json!({"scope": with}),
    )
    .await
    .assert_status(200);
    s.restart().await;
    let t = s.token_with_scope(Some("impersonate:users")).await;
    let claims: Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(t.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["scope"], "impersonate:users");
}

/// Signs in to the dashboard as `email`; the first dashboard page.
async fn sign_in(b: &mut Browser, email: &str) -> Page {
    let login = b.visit("/admin").await;
    assert_eq!(login.status, 200, "{}", login.body);
    b.submit_login(&login, email, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_offers_it_only_with_the_permission() {
    let mut w = world(TestServer::start().await).await;
    let user_page = format!("/admin/users/{}", enc(&w.user_id));
    let target = format!("{} {CALLBACK}", w.app.0);

    // With the permission: the form lists the application and its exact callbacks only.
    let mut b = Browser::new(&w.s.url);
    sign_in(&mut b, ADMIN_EMAIL).await;
    let page = b.get(&user_page).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Log in as this user"), "{}", page.body);
    assert!(
        page.body.contains(&format!("value=\"{target}\"")),
        "{}",
        page.body
    );
    assert!(!page.body.contains("*.tenant.example"));
    let csrf = page.input("_csrf").unwrap();
    // Without the form's token: refused before anything starts.
    let no_csrf = b
        .post_form(&format!("{user_page}/impersonate"), &[("target", &target)])
        .await;
    assert_eq!(no_csrf.status, 403);
    let sent = b
        .post_form(
            &format!("{user_page}/impersonate"),
            &[("_csrf", &csrf), ("target", &target)],
        )
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let link = sent.location.clone().unwrap();
    assert!(link.contains("/impersonate?ticket="), "{link}");
    let session_before = b.cookies.get("gh_session").cloned();
    let landed = b.follow(sent).await;
    assert_eq!(
        b.cookies.get("gh_session"),
        session_before.as_ref(),
        "the impersonation set no session cookie"
    );
    let code = landed
        .callback_param("code")
        .expect("a code at the callback");
    assert!(landed.callback_param("state").is_none());
    let t = exchange(&w, &code).await;
    let id = verified_claims(&w.s, t.assert_status(200)["id_token"].as_str().unwrap()).await;
    assert_eq!(id["sub"], json!(w.user_id));
    assert_eq!(id["act"], json!({"sub": w.admin_id}));
    assert_eq!(id["impersonator"]["email"], ADMIN_EMAIL);
    let admin_logs = logs_of(&mut w.s, &w.admin_id).await;
    assert!(
        admin_logs
            .iter()
            .any(|e| e["type"] == "sapi"
                && e["details"]["impersonation"]["user_id"] == json!(w.user_id)),
        "{admin_logs:?}"
    );

    // An administrator without the permission sees no form, and a posted one is a 403.
    let other =
        w.s.create_user(
            "plain-admin@example.com",
            json!({"password": PASSWORD, "app_metadata": {"roles": ["admin"]}}),
        )
        .await;
    let mut b = Browser::new(&w.s.url);
    sign_in(&mut b, "plain-admin@example.com").await;
    let page = b.get(&user_page).await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains("Log in as this user"), "{}", page.body);
    let csrf = page.input("_csrf").unwrap();
    let refused = b
        .post_form(
            &format!("{user_page}/impersonate"),
            &[("_csrf", &csrf), ("target", &target)],
        )
        .await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.location.is_none());
    let other_logs = logs_of(&mut w.s, other["user_id"].as_str().unwrap()).await;
    assert!(
        !other_logs
            .iter()
            .any(|e| e["details"].get("impersonation").is_some()),
        "{other_logs:?}"
    );
    let user_logs = logs_of(&mut w.s, &w.user_id).await;
    assert_eq!(
        of_type(&user_logs, "s").len(),
        1,
        "only the first one logged in"
    );
}
