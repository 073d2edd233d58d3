//! Breached-password detection: the bundled common-password list and a local range service
//! answering in the Pwned Passwords format, at login, sign-up and password change, with the
//! tenant choosing to block or only notify.

use crate::common;

use common::browser::Browser;
use common::smtp::SmtpServer;
use common::{DB_CONNECTION, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const COMMON: &str = "Password1";
/// Not in the bundled list; the range server below says it leaked.
const LEAKED_ELSEWHERE: &str = "Zq8#Kettle-Lantern";
const SAFE: &str = "Sup3r-secret!";

/// A Pwned Passwords range service on 127.0.0.1: `GET /range/{prefix}` lists the suffix of
/// `LEAKED_ELSEWHERE` among padding lines; every requested path is kept.
async fn range_server() -> (String, Arc<Mutex<Vec<String>>>) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let seen: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = seen.clone();
    let hash = gatehouse_crypto::sha1_hex_upper(LEAKED_ELSEWHERE.as_bytes());
    let (prefix, suffix) = hash.split_at(5);
    let (prefix, suffix) = (prefix.to_string(), suffix.to_string());
    tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let mut buf = vec![0u8; 4096];
            let n = stream.read(&mut buf).await.unwrap_or(0);
            let request = String::from_utf8_lossy(&buf[..n]).to_string();
            let path = request.split_whitespace().nth(1).unwrap_or("").to_string();
            log.lock().unwrap().push(path.clone());
            let mut body = String::from(
                "0018A45C4D1DEF81644B54AB7F969B88D65:3\r\n00D4F6E8FA6EECAD2A3AA415EEC418D38EC:0\r\n",
            );
            if path == format!("/range/{prefix}") {
                body.push_str(&format!("{suffix}:42\r\n"));
            }
            let resp = format!(
                "HTTP/1.1 200 OK\r\ncontent-type: text/plain\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
                body.len()
            );
            let _ = stream.write_all(resp.as_bytes()).await;
        }
    });
    (format!("http://{addr}/range"), seen)
}

async fn app(s: &mut TestServer) -> (String, String) {
    s.app_with_grants(&["password"]).await
}

async fn login(
    s: &TestServer,
    app: &(String, String),
    user: &str,
    password: &str,
) -> common::Response {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": "password", "client_id": app.0,
        "client_secret": app.1, "username": user, "password": password, "scope": "openid"})),
    )
    .await
}

async fn count(s: &mut TestServer, kind: &str) -> usize {
    let r = s
        .get(&format!("/api/v2/logs?per_page=100&q=type:{kind}"))
        .await;
    r.body.as_array().unwrap().len()
}

#[tokio::test(flavor = "multi_thread")]
async fn breached_passwords_are_blocked_until_changed() {
    let smtp = SmtpServer::start().await;
    let (range_url, seen) = range_server().await;
    let mut s = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp.url());
        c.mail_poll_ms = 100;
        c.breached_passwords_url = Some(range_url);
    })
    .await;
    let app = app(&mut s).await;
    s.create_user(
        "common@example.com",
        json!({"password": COMMON, "email_verified": true}),
    )
    .await;
    s.create_user(
        "elsewhere@example.com",
        json!({"password": LEAKED_ELSEWHERE, "email_verified": true}),
    )
    .await;

    // Off by default, as on a new Auth0 tenant.
    let r = s
        .get("/api/v2/attack-protection/breached-password-detection")
        .await;
    assert_eq!(r.assert_status(200)["enabled"], false);
    login(&s, &app, "common@example.com", COMMON)
        .await
        .assert_status(200);
    assert_eq!(count(&mut s, "pwd_leak").await, 0);

    // Refused changes change nothing.
    for bad in [
        json!({"shields": ["nuke"]}),
        json!({"enabled": "yes"}),
        json!({"stage": {"pre-login": {}}}),
    ] {
        s.patch("/api/v2/attack-protection/breached-password-detection", bad)
            .await
            .assert_error(400, "invalid_body");
    }
    let narrow = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            Method::PATCH,
            "/api/v2/attack-protection/breached-password-detection",
            Some(&narrow),
            Some(json!({"enabled": true})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    assert_eq!(
        s.get("/api/v2/attack-protection/breached-password-detection")
            .await
            .body["enabled"],
        false
    );

    let r = s
        .patch("/api/v2/attack-protection/breached-password-detection", json!({"enabled": true, "shields": ["block", "user_notification"],
            "stage": {"pre-user-registration": {"shields": ["block"]}, "pre-change-password": {"shields": ["block"]}}}))
        .await;
    assert_eq!(
        r.assert_status(200)["stage"]["pre-user-registration"]["shields"],
        json!(["block"])
    );

    // Login: refused with Auth0's error, logged, and the user gets a reset link.
    let r = login(&s, &app, "common@example.com", COMMON).await;
    assert_eq!(r.assert_status(403)["error"], "password_leaked");
    let r = login(&s, &app, "elsewhere@example.com", LEAKED_ELSEWHERE).await;
    assert_eq!(
        r.assert_status(403)["error"],
        "password_leaked",
        "the range service knows this one"
    );
    assert!(
        login(&s, &app, "common@example.com", "wrong-password")
            .await
            .status
            .as_u16()
            == 403
    );
    assert_eq!(
        count(&mut s, "pwd_leak").await,
        2,
        "only correct passwords are checked and logged"
    );
    let paths = seen.lock().unwrap().clone();
    assert!(!paths.is_empty());
    for p in &paths {
        let prefix = p.strip_prefix("/range/").expect("range path");
        assert_eq!(
            prefix.len(),
            5,
            "only five hex characters of the SHA-1 leave the server: {p}"
        );
        assert!(prefix.chars().all(|c| c.is_ascii_hexdigit()));
    }
    let mail = smtp.wait_for(2).await;
    assert!(mail.iter().all(|m| m.subject().contains("data breach")));
    let link = mail
        .iter()
        .find(|m| m.to == vec!["common@example.com".to_string()])
        .and_then(|m| m.link(&format!("{}/lo/reset?ticket=", s.url)))
        .expect("reset link");

    // Changing to another breached password is refused; a safe one lifts the block.
    let mut b = Browser::new(&s.url);
    let form = b.get(&link).await;
    let (ticket, csrf) = (form.input("ticket").unwrap(), form.input("_csrf").unwrap());
    let r = b
        .post_form(
            "/lo/reset",
            &[
                ("ticket", &ticket),
                ("_csrf", &csrf),
                ("password", "P@ssw0rd"),
                ("confirm", "P@ssw0rd"),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("data breach"), "{}", r.body);
    let r = b
        .post_form(
            "/lo/reset",
            &[
                ("ticket", &ticket),
                ("_csrf", &csrf),
                ("password", SAFE),
                ("confirm", SAFE),
            ],
        )
        .await;
    assert_eq!(r.status, 200, "{}", r.body);
    login(&s, &app, "common@example.com", SAFE)
        .await
        .assert_status(200);

    // Sign-up with a breached password is refused at that stage.
    let resp = reqwest::Client::new()
        .post(format!("{}/dbconnections/signup", s.url))
        .json(&json!({"client_id": app.0, "email": "newbie@example.com", "password": "Qwerty123", "connection": DB_CONNECTION}))
        .send()
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 400);
    let body: Value = resp.json().await.unwrap();
    assert_eq!(body["code"], "password_leaked");
    assert_eq!(
        s.get("/api/v2/users-by-email?email=newbie%40example.com")
            .await
            .body,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn notify_only_lets_the_login_through() {
    let smtp = SmtpServer::start().await;
    let mut s = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp.url());
        c.mail_poll_ms = 100;
    })
    .await;
    let app = app(&mut s).await;
    s.create_user(
        "notify@example.com",
        json!({"password": COMMON, "email_verified": true}),
    )
    .await;
    s.patch(
        "/api/v2/attack-protection/breached-password-detection",
        json!({"enabled": true, "shields": ["user_notification"]}),
    )
    .await
    .assert_status(200);
    login(&s, &app, "notify@example.com", COMMON)
        .await
        .assert_status(200);
    let mail = smtp.wait_for(1).await;
    assert!(mail[0].subject().contains("data breach"));
    assert_eq!(count(&mut s, "pwd_leak").await, 1);
    // Without a range service configured, an uncommon password is not flagged.
    s.create_user(
        "fine@example.com",
        json!({"password": LEAKED_ELSEWHERE, "email_verified": true}),
    )
    .await;
    login(&s, &app, "fine@example.com", LEAKED_ELSEWHERE)
        .await
        .assert_status(200);
    assert_eq!(count(&mut s, "pwd_leak").await, 1);
}
