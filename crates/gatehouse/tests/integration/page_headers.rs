//! Every answer of the browser surfaces (hosted pages, the dashboard) carries the page
//! headers — no-store, no framing, no sniffing, a Referer policy and a content security
//! policy — because one response layer per surface sets them, whatever the handler
//! answered: pages, redirects, refusals, and the dashboard's JSON status polling.

use crate::common;

use common::TestServer;
use common::browser::Browser;
use reqwest::Method;
use serde_json::json;

const ADMIN_EMAIL: &str = "zoë.admin@example.com";
const PASSWORD: &str = "Sup3r-secret!";

/// What is asked, how, where, and the form sent (if any).
type Probe<'a> = (&'a str, Method, String, Option<Vec<(&'a str, &'a str)>>);

#[track_caller]
fn assert_page_headers(what: &str, status: u16, h: &reqwest::header::HeaderMap) {
    let get = |n: &str| h.get(n).and_then(|v| v.to_str().ok()).unwrap_or("");
    assert_eq!(get("cache-control"), "no-store", "{what} ({status})");
    assert_eq!(get("x-frame-options"), "DENY", "{what} ({status})");
    assert_eq!(
        get("x-content-type-options"),
        "nosniff",
        "{what} ({status})"
    );
    assert!(!get("referrer-policy").is_empty(), "{what} ({status})");
    assert!(
        get("content-security-policy").contains("frame-ancestors 'none'"),
        "{what} ({status}): {:?}",
        h.get("content-security-policy")
    );
}

async fn answer(
    http: &reqwest::Client,
    url: &str,
    method: Method,
    cookies: &str,
    form: Option<&[(&str, &str)]>,
) -> (u16, reqwest::header::HeaderMap) {
    let mut req = http.request(method, url).header("cookie", cookies);
    if let Some(f) = form {
        req = req.form(f);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.headers().clone())
}

#[tokio::test(flavor = "multi_thread")]
async fn every_hosted_and_dashboard_answer_carries_the_page_headers() {
    let mut s = TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await;
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "Shop", "callbacks": ["https://app.example.com/cb"]}),
        )
        .await;
    let client_id = app.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let http = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();

    let authorize = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri=https%3A%2F%2Fapp.example.com%2Fcb&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256"
    );
    let anonymous: Vec<Probe> = vec![
        (
            "authorize, missing client",
            Method::GET,
            "/authorize".into(),
            None,
        ),
        ("authorize, to the login page", Method::GET, authorize, None),
        (
            "login page, stale state",
            Method::GET,
            "/u/login?state=stale".into(),
            None,
        ),
        (
            "signup page, stale state",
            Method::GET,
            "/u/signup?state=stale".into(),
            None,
        ),
        (
            "login form without CSRF",
            Method::POST,
            "/u/login".into(),
            Some(vec![
                ("state", "x"),
                ("username", "a@example.com"),
                ("password", "p"),
            ]),
        ),
        (
            "consent, stale",
            Method::GET,
            "/u/consent?state=stale".into(),
            None,
        ),
        (
            "continue, stale",
            Method::GET,
            "/continue?state=stale".into(),
            None,
        ),
        (
            "reset link, bad ticket",
            Method::GET,
            "/lo/reset?ticket=bad".into(),
            None,
        ),
        (
            "verify link, bad ticket",
            Method::GET,
            "/lo/verify_email?ticket=bad".into(),
            None,
        ),
        (
            "unblock link, bad ticket",
            Method::GET,
            "/lo/unblock?ticket=bad".into(),
            None,
        ),
        (
            "magic link, bad token",
            Method::GET,
            "/passwordless/verify_redirect?token=bad".into(),
            None,
        ),
        ("dashboard, signed out", Method::GET, "/admin".into(), None),
        (
            "dashboard page, signed out",
            Method::GET,
            "/admin/users".into(),
            None,
        ),
        (
            "dashboard callback, no sign-in",
            Method::GET,
            "/admin/callback?code=a&state=b".into(),
            None,
        ),
    ];
    for (what, method, path, form) in &anonymous {
        let url = format!("{}{path}", s.url);
        let (status, h) = answer(&http, &url, method.clone(), "", form.as_deref()).await;
        assert_page_headers(what, status, &h);
    }

    // Signed in: pages, a redirect after a form, a refused form, and the JSON the job page
    // polls (found or not).
    let mut b = Browser::new(&s.url);
    let login = b.visit("/admin").await;
    let home = b.submit_login(&login, ADMIN_EMAIL, PASSWORD).await;
    assert_eq!(home.status, 200, "{}", home.body);
    let cookies = b.cookie_header();
    let signed_in: Vec<Probe> = vec![
        ("users page", Method::GET, "/admin/users".into(), None),
        (
            "a user that does not exist",
            Method::GET,
            "/admin/users/auth0%7Cnobody".into(),
            None,
        ),
        ("logs page", Method::GET, "/admin/logs".into(), None),
        (
            "job status, unknown job",
            Method::GET,
            "/admin/jobs/job_0123456789abcdef/status".into(),
            None,
        ),
        (
            "a form without CSRF",
            Method::POST,
            "/admin/users/auth0%7Cnobody/block".into(),
            Some(vec![]),
        ),
    ];
    for (what, method, path, form) in &signed_in {
        let url = format!("{}{path}", s.url);
        let (status, h) = answer(&http, &url, method.clone(), &cookies, form.as_deref()).await;
        assert_page_headers(what, status, &h);
    }
}
