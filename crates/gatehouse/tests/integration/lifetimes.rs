//! Every lifetime, tested at its edge with a clock the test moves (no sleeping): the
//! authorization code (2 minutes), the login transaction (1 hour), the `/continue` window
//! (10 minutes), browser sessions (idle and absolute, the tenant's settings), refresh tokens
//! (idle and absolute, the application's policy) and password-change tickets (`ttl_sec`).

use crate::common;

use common::browser::Browser;
use common::{TestServer, enc};
use gatehouse_service::clock::ManualClock;
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::Arc;

const CALLBACK: &str = "https://app.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const SECOND: i64 = 1000;
const MINUTE: i64 = 60 * SECOND;
const HOUR: i64 = 60 * MINUTE;

/// A server whose time only moves when the test says so.
async fn server() -> (TestServer, Arc<ManualClock>) {
    let clock = ManualClock::starting_now();
    let for_server = clock.clone();
    let s = TestServer::start_with(|c| c.clock = Some(for_server)).await;
    (s, clock)
}

/// A confidential web application allowed the code, password and refresh grants: (id, secret).
async fn web_app(s: &mut TestServer, extra: Value) -> (String, String) {
    let mut body = json!({"name": "Web", "callbacks": [CALLBACK],
        "grant_types": ["authorization_code", "password", "refresh_token"]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = s.post("/api/v2/clients", body).await;
    let c = c.assert_status(201);
    (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    )
}

fn authorize_url(client_id: &str, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&scope=openid&state=s&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        enc(CALLBACK)
    )
}

async fn exchange(s: &TestServer, app: &(String, String), code: &str) -> u16 {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(
            json!({"grant_type": "authorization_code", "client_id": app.0, "client_secret": app.1,
            "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER}),
        ),
    )
    .await
    .status
    .as_u16()
}

/// Logs in through the hosted page and returns the authorization code.
async fn code_after_login(b: &mut Browser, client_id: &str, user: &str) -> String {
    let page = b.visit(&authorize_url(client_id, "")).await;
    assert_eq!(page.status, 200, "{}", page.body);
    b.submit_login(&page, user, PASSWORD)
        .await
        .callback_param("code")
        .expect("a code")
}

/// `prompt=none` with the browser's session: a code, or the error the callback got.
async fn silent(b: &mut Browser, client_id: &str) -> Result<String, String> {
    let p = b.visit(&authorize_url(client_id, "&prompt=none")).await;
    match p.callback_param("code") {
        Some(code) => Ok(code),
        None => Err(p.callback_param("error").unwrap_or_default()),
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn authorization_codes_live_two_minutes() {
    let (mut s, clock) = server().await;
    let app = web_app(&mut s, json!({})).await;
    s.create_user("code@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    // (age of the code when exchanged, accepted)
    for (age, accepted) in [
        (2 * MINUTE - SECOND, true),
        (2 * MINUTE, false),
        (10 * MINUTE, false),
    ] {
        let code = match silent(&mut b, &app.0).await {
            Ok(code) => code,
            Err(_) => code_after_login(&mut b, &app.0, "code@example.com").await,
        };
        clock.advance(age);
        let status = exchange(&s, &app, &code).await;
        assert_eq!(status == 200, accepted, "a code {age} ms old: {status}");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_login_page_lives_an_hour() {
    let (mut s, clock) = server().await;
    let app = web_app(&mut s, json!({})).await;
    s.create_user("tx@example.com", json!({})).await;
    for (age, accepted) in [(HOUR - SECOND, true), (HOUR, false)] {
        let mut b = Browser::new(&s.url);
        let page = b.visit(&authorize_url(&app.0, "")).await;
        assert_eq!(page.status, 200);
        clock.advance(age);
        let after = b.submit_login(&page, "tx@example.com", PASSWORD).await;
        if accepted {
            assert!(
                after.callback_param("code").is_some(),
                "{age} ms: {:?}",
                after.location
            );
        } else {
            assert_eq!(after.status, 400, "{age} ms");
            assert!(after.body.contains("expired"), "{}", after.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_hook_must_come_back_within_ten_minutes() {
    let (mut s, clock) = server().await;
    let app = web_app(&mut s, json!({})).await;
    s.create_user("hook@example.com", json!({})).await;
    s.patch(
        "/api/v2/tenants/settings",
        json!({"post_login_redirect_url": "https://mfa.example.com/step"}),
    )
    .await
    .assert_status(200);
    for (age, accepted) in [(10 * MINUTE - SECOND, true), (10 * MINUTE, false)] {
        let mut b = Browser::new(&s.url);
        let page = b.visit(&authorize_url(&app.0, "")).await;
        let out = b.submit_login(&page, "hook@example.com", PASSWORD).await;
        let state = out.callback_param("state").expect("sent to the hook");
        clock.advance(age);
        let back = b.get(&format!("/continue?state={}", enc(&state))).await;
        assert_eq!(
            back.callback_param("code").is_some(),
            accepted,
            "{age} ms: {}",
            back.status
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn sessions_end_when_idle_or_at_their_absolute_lifetime() {
    let (mut s, clock) = server().await;
    let app = web_app(&mut s, json!({})).await;
    s.create_user("sso@example.com", json!({})).await;
    // One hour idle, two hours in all.
    s.patch(
        "/api/v2/tenants/settings",
        json!({"idle_session_lifetime": 1, "session_lifetime": 2}),
    )
    .await
    .assert_status(200);

    // Idle: used just inside the idle window it lives on; left a full window it ends.
    let mut b = Browser::new(&s.url);
    code_after_login(&mut b, &app.0, "sso@example.com").await;
    clock.advance(HOUR - SECOND);
    assert!(
        silent(&mut b, &app.0).await.is_ok(),
        "used within the idle hour"
    );
    clock.advance(HOUR - SECOND);
    assert!(
        silent(&mut b, &app.0).await.is_ok(),
        "idle time restarts at each use"
    );
    // 1 h 59 min 58 s old now; used every hour it still ends at two hours.
    clock.advance(2 * SECOND);
    assert_eq!(silent(&mut b, &app.0).await, Err("login_required".into()));

    let mut b = Browser::new(&s.url);
    code_after_login(&mut b, &app.0, "sso@example.com").await;
    clock.advance(HOUR);
    assert_eq!(
        silent(&mut b, &app.0).await,
        Err("login_required".into()),
        "a full idle hour ends it"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_tokens_end_when_idle_or_at_their_absolute_lifetime() {
    let (mut s, clock) = server().await;
    // Rotating, idle one hour, absolute three hours.
    let app = web_app(
        &mut s,
        json!({"refresh_token": {"rotation_type": "rotating", "expiration_type": "expiring",
            "token_lifetime": 3 * 3600, "idle_token_lifetime": 3600}}),
    )
    .await;
    s.create_user("rt@example.com", json!({})).await;
    let login = || {
        json!({"grant_type": "password", "client_id": app.0, "client_secret": app.1,
            "username": "rt@example.com", "password": PASSWORD, "scope": "openid offline_access"})
    };
    let refresh = |rt: &str| json!({"grant_type": "refresh_token", "client_id": app.0, "client_secret": app.1, "refresh_token": rt});
    let post = |body: Value| {
        let s = &s;
        async move {
            let r = s.raw(Method::POST, "/oauth/token", None, Some(body)).await;
            (r.status.as_u16(), r.body)
        }
    };
    let (status, body) = post(login()).await;
    assert_eq!(status, 200, "{body}");
    let mut rt = body["refresh_token"].as_str().unwrap().to_string();
    // Used every 59 minutes, it lives until the family's third hour, not a moment longer.
    for _ in 0..3 {
        clock.advance(HOUR - MINUTE);
        let (status, body) = post(refresh(&rt)).await;
        assert_eq!(status, 200, "{body}");
        rt = body["refresh_token"].as_str().unwrap().to_string();
    }
    clock.advance(3 * MINUTE);
    let (status, body) = post(refresh(&rt)).await;
    assert_eq!(status, 403, "past the absolute lifetime: {body}");

    let (_, body) = post(login()).await;
    let rt = body["refresh_token"].as_str().unwrap().to_string();
    clock.advance(HOUR);
    let (status, body) = post(refresh(&rt)).await;
    assert_eq!(status, 403, "a full idle hour: {body}");
}

#[tokio::test(flavor = "multi_thread")]
async fn password_change_tickets_live_their_ttl() {
    let (mut s, clock) = server().await;
    let u = s.create_user("ticket@example.com", json!({})).await;
    let uid = u["user_id"].as_str().unwrap().to_string();
    for (age, accepted) in [(59 * SECOND, true), (60 * SECOND, false)] {
        let r = s
            .post(
                "/api/v2/tickets/password-change",
                json!({"user_id": uid, "ttl_sec": 60}),
            )
            .await;
        let ticket = r.assert_status(201)["ticket"].as_str().unwrap().to_string();
        clock.advance(age);
        let page = Browser::new(&s.url).get(&ticket).await;
        if accepted {
            assert_eq!(page.status, 200, "{age} ms: {}", page.body);
            assert!(page.input("ticket").is_some());
        } else {
            assert_eq!(page.status, 400, "{age} ms");
            assert!(page.body.contains("expired"), "{}", page.body);
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_sealed_value_only_opens_for_its_own_purpose() {
    let (mut s, _clock) = server().await;
    let app = web_app(&mut s, json!({})).await;
    let u = s.create_user("purpose@example.com", json!({})).await;
    let r = s
        .post(
            "/api/v2/tickets/password-change",
            json!({"user_id": u["user_id"], "ttl_sec": 600}),
        )
        .await;
    let ticket_url = r.assert_status(201)["ticket"].as_str().unwrap().to_string();
    let ticket = ticket_url.split("ticket=").nth(1).unwrap().to_string();
    let mut b = Browser::new(&s.url);
    let page = b.get(&authorize_url(&app.0, "")).await;
    let transaction = common::browser::param(page.location.as_deref().unwrap(), "state").unwrap();

    // A live ticket is not a login transaction, and a live transaction is not a ticket.
    let as_login = b.get(&format!("/u/login?state={ticket}")).await;
    assert_eq!(as_login.status, 400, "{}", as_login.body);
    assert!(
        as_login.body.contains("expired or is not valid"),
        "{}",
        as_login.body
    );
    let as_ticket = b.get(&format!("/lo/reset?ticket={transaction}")).await;
    assert_eq!(as_ticket.status, 400, "{}", as_ticket.body);
    assert!(
        as_ticket.body.contains("This link is not valid."),
        "{}",
        as_ticket.body
    );
    let as_continue = b.get(&format!("/continue?state={transaction}")).await;
    assert_eq!(as_continue.status, 400, "{}", as_continue.body);
    // Each still opens where it belongs.
    assert_eq!(b.get(&ticket_url).await.status, 200);
    assert_eq!(
        b.get(&format!("/u/login?state={transaction}")).await.status,
        200
    );
}
