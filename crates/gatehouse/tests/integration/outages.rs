//! The database going away in the middle of a browser login, a token exchange and a
//! reset-link visit: each answers 503 with its request id (never "expired" or "not valid"),
//! the log line for that request id names the cause, and the flow goes on once the database
//! is back. PostgreSQL only: the test takes the test database's connections away.

use crate::common;

use common::browser::{Browser, Page};
use common::{TestServer, enc, server_log_lines};
use reqwest::Method;
use serde_json::{Value, json};

const CALLBACK: &str = "https://app.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn on_postgres() -> bool {
    let set = std::env::var("GATEHOUSE_TEST_DATABASE_URL").is_ok_and(|u| !u.is_empty());
    if !set {
        eprintln!("skipped: needs GATEHOUSE_TEST_DATABASE_URL (a database to stop)");
    }
    set
}

async fn app_and_user(s: &mut TestServer) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Shop", "callbacks": [CALLBACK], "grant_types": ["authorization_code"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    s.create_user("ada.lovelace@example.com", json!({"name": "Ada Łovelace"}))
        .await;
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
    )
}

fn authorize_url(client_id: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid%20email&state=s-1&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(CALLBACK)
    )
}

/// The answer names its request id, and the server logged the cause under that id.
#[track_caller]
fn assert_outage_page(page: &Page, what: &str) {
    assert_eq!(page.status, 503, "{what}: {}", page.body);
    let id = page.request_id.clone().expect("x-request-id on the answer");
    assert!(
        page.body.contains(&id),
        "{what}: the page shows its request id {id}: {}",
        page.body
    );
    assert_cause_logged(&id, what);
}

#[track_caller]
fn assert_cause_logged(request_id: &str, what: &str) {
    let lines = server_log_lines(request_id);
    assert!(
        lines
            .iter()
            .any(|l| l.contains("ERROR") && l.contains("database error")),
        "{what}: a log line for request {request_id} names the database failure; lines: {lines:#?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_interrupted_by_a_database_outage_answers_503_and_resumes() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let (client_id, _) = app_and_user(&mut s).await;
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&client_id)).await;
    assert_eq!(login.status, 200, "{}", login.body);

    let outage = s.database_outage().await.unwrap();
    let refused = b
        .submit_login(&login, "ada.lovelace@example.com", PASSWORD)
        .await;
    assert_outage_page(&refused, "POST /u/login");
    assert!(
        !refused.body.contains("expired"),
        "an outage is not an expired page: {}",
        refused.body
    );
    // A new authorization during the outage is a 503 page too, not a redirect to the app
    // saying its connection does not exist.
    let started = b.get(&authorize_url(&client_id)).await;
    assert_eq!(started.location, None, "no redirect to the app");
    assert_outage_page(&started, "GET /authorize");
    outage.end().await;

    // The same login form works once the database is back.
    let done = b
        .submit_login(&login, "ada.lovelace@example.com", PASSWORD)
        .await;
    assert!(
        done.callback_param("code").is_some(),
        "{:?} {}",
        done.location,
        done.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_exchange_during_an_outage_answers_503_and_keeps_the_code() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let (client_id, secret) = app_and_user(&mut s).await;
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&client_id)).await;
    let back = b
        .submit_login(&login, "ada.lovelace@example.com", PASSWORD)
        .await;
    let code = back.callback_param("code").expect("a code");
    let exchange = json!({"grant_type": "authorization_code", "client_id": client_id,
        "client_secret": secret, "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER});

    let outage = s.database_outage().await.unwrap();
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(exchange.clone()))
        .await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    assert_eq!(
        r.body["error"],
        json!("temporarily_unavailable"),
        "{}",
        r.body
    );
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_cause_logged(&id, "POST /oauth/token");
    outage.end().await;

    // The code was not spent by the failed attempt.
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(exchange))
        .await;
    let tokens: &Value = r.assert_status(200);
    assert!(tokens["access_token"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reset_link_visited_during_an_outage_answers_503_and_still_works_after() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let user = s
        .create_user("grace.hopper@example.com", json!({"email_verified": true}))
        .await;
    let r = s
        .post(
            "/api/v2/tickets/password-change",
            json!({"user_id": user["user_id"], "ttl_sec": 600}),
        )
        .await;
    let ticket = r.assert_status(201)["ticket"].as_str().unwrap().to_string();
    let mut b = Browser::new(&s.url);

    let outage = s.database_outage().await.unwrap();
    let page = b.get(&ticket).await;
    assert_outage_page(&page, "GET /lo/reset");
    assert!(
        !page.body.contains("not valid"),
        "an outage is not an invalid link: {}",
        page.body
    );
    outage.end().await;

    let form = b.get(&ticket).await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert!(
        form.body.contains("grace.hopper@example.com"),
        "{}",
        form.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn the_dashboard_during_an_outage_answers_503_and_logs_the_cause() {
    if !on_postgres() {
        return;
    }
    let s = TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some("zoë.admin@example.com".into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    let mut b = Browser::new(&s.url);
    let login = b.visit("/admin").await;
    let home = b
        .submit_login(&login, "zoë.admin@example.com", PASSWORD)
        .await;
    assert_eq!(home.status, 200, "{}", home.body);

    let outage = s.database_outage().await.unwrap();
    let page = b.get("/admin/users").await;
    assert_eq!(page.status, 503, "{}", page.body);
    let id = page.request_id.clone().expect("x-request-id");
    assert_cause_logged(&id, "GET /admin/users");
    outage.end().await;
    assert_eq!(b.get("/admin/users").await.status, 200);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_public_signup_during_an_outage_answers_503_not_unknown_client() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let (client_id, _) = app_and_user(&mut s).await;
    let signup = json!({"client_id": client_id, "email": "émile.noether@example.com",
        "password": PASSWORD, "connection": "Username-Password-Authentication"});

    let outage = s.database_outage().await.unwrap();
    let r = s
        .raw(
            Method::POST,
            "/dbconnections/signup",
            None,
            Some(signup.clone()),
        )
        .await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    assert_ne!(r.body["code"], json!("invalid_signup"), "{}", r.body);
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_cause_logged(&id, "POST /dbconnections/signup");
    outage.end().await;

    let r = s
        .raw(Method::POST, "/dbconnections/signup", None, Some(signup))
        .await;
    assert_eq!(
        r.assert_status(200)["email"],
        json!("émile.noether@example.com")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_logout_during_an_outage_answers_503_not_a_refusal() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let (client_id, _) = app_and_user(&mut s).await;
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&client_id)).await;
    let back = b
        .submit_login(&login, "ada.lovelace@example.com", PASSWORD)
        .await;
    assert!(back.callback_param("code").is_some(), "signed in");

    let outage = s.database_outage().await.unwrap();
    let page = b.get("/v2/logout").await;
    assert_outage_page(&page, "GET /v2/logout");
    outage.end().await;

    let page = b.get("/v2/logout").await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(
        page.body.contains("You have been logged out"),
        "{}",
        page.body
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn userinfo_during_an_outage_answers_503_not_invalid_token() {
    if !on_postgres() {
        return;
    }
    let mut s = TestServer::start().await;
    let (client_id, secret) = app_and_user(&mut s).await;
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&client_id)).await;
    let back = b
        .submit_login(&login, "ada.lovelace@example.com", PASSWORD)
        .await;
    let code = back.callback_param("code").expect("a code");
    let exchange = json!({"grant_type": "authorization_code", "client_id": client_id,
        "client_secret": secret, "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER});
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(exchange))
        .await;
    let token = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();

    let outage = s.database_outage().await.unwrap();
    let r = s.raw(Method::GET, "/userinfo", Some(&token), None).await;
    assert_eq!(r.status.as_u16(), 503, "{}", r.body);
    assert_eq!(
        r.body["error"],
        json!("temporarily_unavailable"),
        "{}",
        r.body
    );
    let id = r.headers["x-request-id"].to_str().unwrap().to_string();
    assert_cause_logged(&id, "GET /userinfo");
    outage.end().await;

    let r = s.raw(Method::GET, "/userinfo", Some(&token), None).await;
    assert_eq!(
        r.assert_status(200)["email"],
        json!("ada.lovelace@example.com")
    );
}
