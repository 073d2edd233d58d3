//! Browser applications over HTTP (issue 19): CORS on the Authentication API for the
//! applications' origins only, `response_mode=web_message` (framed by the callback's web
//! origin alone), and cross-origin authentication (`/co/authenticate` and its
//! `co_verifier` cookie). The SDKs themselves run in Chromium: tests/compat/node/spa_sdk.

use crate::common;

use common::browser::Browser;
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

const APP_ORIGIN: &str = "https://app.example.com";
const CALLBACK: &str = "https://app.example.com/cb";
const OTHER_CALLBACK: &str = "https://other.example.net/cb";
const PASSWORD: &str = "Sup3r-secret!";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

/// The browser-facing paths that answer cross-origin calls.
const CORS_PATHS: &[&str] = &[
    "/oauth/token",
    "/userinfo",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/co/authenticate",
    "/passwordless/start",
    "/dbconnections/signup",
    "/dbconnections/change_password",
    "/oidc/logout",
];

async fn spa(s: &mut TestServer, extra: Value) -> String {
    let mut body = json!({
        "name": "Ünïcode SPA",
        "app_type": "spa",
        "token_endpoint_auth_method": "none",
        "grant_types": ["authorization_code", "implicit", "refresh_token"],
        "callbacks": [CALLBACK, OTHER_CALLBACK],
        "web_origins": [APP_ORIGIN],
        "allowed_origins": ["https://*.widgets.example.org"],
    });
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = s.post("/api/v2/clients", body).await;
    c.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

async fn user(s: &mut TestServer, email: &str) -> String {
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": common::DB_CONNECTION, "email": email, "password": PASSWORD}),
        )
        .await;
    r.assert_status(201)["user_id"]
        .as_str()
        .unwrap()
        .to_string()
}

fn header<'a>(h: &'a reqwest::header::HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

async fn preflight(s: &TestServer, path: &str, origin: &str) -> reqwest::Response {
    s.http()
        .request(Method::OPTIONS, format!("{}{path}", s.url))
        .header("origin", origin)
        .header("access-control-request-method", "POST")
        .header(
            "access-control-request-headers",
            "auth0-client,content-type",
        )
        .send()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn cors_answers_the_applications_origins_only_and_errors_carry_it() {
    let mut s = TestServer::start().await;
    let _id = spa(&mut s, json!({})).await;
    for path in CORS_PATHS {
        for origin in [APP_ORIGIN, "https://shop.widgets.example.org"] {
            let r = preflight(&s, path, origin).await;
            assert_eq!(r.status(), 204, "{path} {origin}");
            let h = r.headers();
            assert_eq!(
                header(h, "access-control-allow-origin"),
                Some(origin),
                "{path}"
            );
            let allowed = header(h, "access-control-allow-headers").unwrap_or("");
            assert!(allowed.contains("auth0-client") && allowed.contains("content-type"));
            assert!(
                header(h, "access-control-allow-methods")
                    .unwrap()
                    .contains("POST")
            );
            assert_eq!(
                header(h, "access-control-allow-credentials").is_some(),
                *path == "/co/authenticate",
                "credentials only where auth0-js sends cookies: {path}"
            );
        }
        // Not listed: no CORS header at all (never `*`, never an echo); a deeper subdomain
        // than the wildcard's one level, another scheme, another port.
        for origin in [
            "https://evil.example",
            "https://a.b.widgets.example.org",
            "http://app.example.com",
            "https://app.example.com:8443",
        ] {
            let r = preflight(&s, path, origin).await;
            assert_eq!(
                header(r.headers(), "access-control-allow-origin"),
                None,
                "{path} {origin}"
            );
        }
    }
    // An error answer carries the header too, so the SDK reads `invalid_grant`.
    let failing = |origin: &'static str| {
        s.http()
            .post(format!("{}/oauth/token", s.url))
            .header("origin", origin)
            .form(&[
                ("grant_type", "refresh_token"),
                ("client_id", "nope"),
                ("refresh_token", "ŧöken"),
            ])
            .send()
    };
    let r = failing(APP_ORIGIN).await.unwrap();
    assert!(r.status().is_client_error());
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(header(r.headers(), "vary").unwrap_or("").contains("Origin"));
    let body: Value = r.json().await.unwrap();
    assert!(body["error"].is_string(), "{body}");
    let r = failing("https://evil.example").await.unwrap();
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
    // A user's own routes answer the page (its own token), the rest of the Management API
    // is for servers.
    let r = preflight(&s, "/api/v2/users/auth0%7Cabc", APP_ORIGIN).await;
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(APP_ORIGIN)
    );
    assert!(
        header(r.headers(), "access-control-allow-methods")
            .unwrap()
            .contains("PATCH")
    );
    let r = preflight(&s, "/api/v2/users/auth0%7Cabc", "https://evil.example").await;
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
    let r = preflight(&s, "/api/v2/clients", APP_ORIGIN).await;
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
    let r = s
        .http()
        .get(format!("{}/api/v2/users", s.url))
        .header("origin", APP_ORIGIN)
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_new_web_origin_applies_at_once_and_a_removed_one_is_gone() {
    let mut s = TestServer::start().await;
    let id = spa(&mut s, json!({})).await;
    let newcomer = "https://ünï.example.com";
    let punycode = "https://xn--n-wgab.example.com";
    assert_eq!(
        header(
            preflight(&s, "/oauth/token", punycode).await.headers(),
            "access-control-allow-origin"
        ),
        None
    );
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"web_origins": [punycode]}),
        )
        .await;
    r.assert_status(200);
    let r = preflight(&s, "/oauth/token", punycode).await;
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(punycode)
    );
    // The old one was replaced.
    let r = preflight(&s, "/oauth/token", APP_ORIGIN).await;
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
    // A Unicode origin is not a valid web origin: refused, nothing changed.
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"web_origins": [newcomer]}),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = preflight(&s, "/oauth/token", punycode).await;
    assert_eq!(
        header(r.headers(), "access-control-allow-origin"),
        Some(punycode)
    );
    s.delete(&format!("/api/v2/clients/{id}"))
        .await
        .assert_status(204);
    let r = preflight(&s, "/oauth/token", punycode).await;
    assert_eq!(header(r.headers(), "access-control-allow-origin"), None);
}

fn web_message_url(client: &str, redirect: &str, prompt_none: bool) -> String {
    format!(
        "/authorize?response_type=code&response_mode=web_message&client_id={client}&redirect_uri={}&scope=openid%20email&state=st%C3%A5te&code_challenge={CHALLENGE}{}",
        enc(redirect),
        if prompt_none { "&prompt=none" } else { "" }
    )
}

/// The JSON data block of a web_message page.
fn web_message_data(body: &str) -> Value {
    let needle = "id=\"authorization-response\">";
    let start = body.find(needle).expect("the data block") + needle.len();
    let end = start + body[start..].find("</script>").unwrap();
    serde_json::from_str(&body[start..end]).unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn web_message_posts_to_a_listed_web_origin_and_only_it_may_frame_the_answer() {
    let mut s = TestServer::start().await;
    let id = spa(&mut s, json!({})).await;
    let email = format!(
        "wm.{}@example.org",
        gatehouse_crypto::random::hex(6).unwrap()
    );
    user(&mut s, &email).await;
    let mut b = Browser::new(&s.url);

    // A callback whose origin is not a web origin: a page nobody may frame, nothing posted.
    let p = b.get(&web_message_url(&id, OTHER_CALLBACK, true)).await;
    assert_eq!(p.status, 400);
    assert!(!p.body.contains("authorization_response"));
    let r = s
        .http()
        .get(format!(
            "{}{}",
            s.url,
            web_message_url(&id, OTHER_CALLBACK, true)
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(header(r.headers(), "x-frame-options"), Some("DENY"));
    assert!(
        header(r.headers(), "content-security-policy")
            .unwrap()
            .contains("frame-ancestors 'none'")
    );

    // No session: login_required, posted to the application's origin, framable by it only.
    let r = s
        .http()
        .get(format!("{}{}", s.url, web_message_url(&id, CALLBACK, true)))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(header(r.headers(), "x-frame-options"), None);
    let csp = header(r.headers(), "content-security-policy")
        .unwrap()
        .to_string();
    assert!(
        csp.contains(&format!("frame-ancestors {APP_ORIGIN};")),
        "{csp}"
    );
    assert!(csp.contains("script-src 'sha256-"), "{csp}");
    let data = web_message_data(&r.text().await.unwrap());
    assert_eq!(data["origin"], APP_ORIGIN);
    assert_eq!(data["response"]["error"], "login_required");
    assert_eq!(data["response"]["state"], "ståte");

    // Logged in (the popup's way: the login page, then the answer): a code, exchangeable.
    let p = b.visit(&web_message_url(&id, CALLBACK, false)).await;
    let p = b.submit_login(&p, &email, PASSWORD).await;
    assert_eq!(p.status, 200, "{}", p.body);
    let code = web_message_data(&p.body)["response"]["code"]
        .as_str()
        .expect("a code")
        .to_string();
    let t = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "authorization_code", "client_id": id, "code": code,
                "redirect_uri": CALLBACK, "code_verifier": VERIFIER}),
            ),
        )
        .await;
    t.assert_status(200);
    // Then silently, in the iframe's way.
    let p = b.get(&web_message_url(&id, CALLBACK, true)).await;
    assert_eq!(p.status, 200);
    let data = web_message_data(&p.body);
    assert!(data["response"]["code"].is_string(), "{data}");
    let kinds: Vec<String> = s
        .get("/api/v2/logs?per_page=100")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(
        kinds.iter().any(|k| k == "ssa") && kinds.iter().any(|k| k == "fsa"),
        "{kinds:?}"
    );
}

async fn co_authenticate(
    s: &TestServer,
    origin: Option<&str>,
    body: Value,
) -> (u16, reqwest::header::HeaderMap, Value) {
    let mut req = s
        .http()
        .post(format!("{}/co/authenticate", s.url))
        .json(&body);
    if let Some(o) = origin {
        req = req.header("origin", o);
    }
    let r = req.send().await.unwrap();
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    (status, headers, r.json().await.unwrap_or(Value::Null))
}

fn implicit_url(client: &str, ticket: &str) -> String {
    format!(
        "/authorize?response_type=token%20id_token&client_id={client}&redirect_uri={}&nonce=n%C3%B6nce&state=s1&login_ticket={}",
        enc(CALLBACK),
        enc(ticket)
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_authentication_binds_the_ticket_to_the_browser_that_checked_the_password() {
    let mut s = TestServer::start().await;
    let off = spa(&mut s, json!({})).await;
    let id = spa(&mut s, json!({"cross_origin_authentication": true})).await;
    let email = format!(
        "çø.{}@example.org",
        gatehouse_crypto::random::hex(6).unwrap()
    );
    let user_id = user(&mut s, &email).await;
    let body = |client: &str, password: &str| {
        json!({"client_id": client, "username": email, "password": password,
            "realm": common::DB_CONNECTION, "credential_type": "http://auth0.com/oauth/grant-type/password-realm"})
    };

    // Refusals: the switch off, an unlisted origin, no origin, a wrong password.
    let (st, _, e) = co_authenticate(&s, Some(APP_ORIGIN), body(&off, PASSWORD)).await;
    assert_eq!(
        (st, e["error"].as_str()),
        (403, Some("unauthorized_client"))
    );
    let (st, h, e) = co_authenticate(&s, Some("https://evil.example"), body(&id, PASSWORD)).await;
    assert_eq!((st, e["error"].as_str()), (403, Some("access_denied")));
    assert!(h.get("set-cookie").is_none());
    let (st, _, _) = co_authenticate(&s, None, body(&id, PASSWORD)).await;
    assert_eq!(st, 403);
    let (st, h, e) = co_authenticate(&s, Some(APP_ORIGIN), body(&id, "wrong-Ω-password")).await;
    assert_eq!(
        (st, e["error"].as_str(), e["error_description"].as_str()),
        (403, Some("access_denied"), Some("Wrong email or password."))
    );
    assert_eq!(header(&h, "access-control-allow-origin"), Some(APP_ORIGIN));
    assert!(h.get("set-cookie").is_none());

    // The password checks out: a ticket, a verifier and the same verifier as a cookie.
    let (st, h, t) = co_authenticate(&s, Some(APP_ORIGIN), body(&id, PASSWORD)).await;
    assert_eq!(st, 200, "{t}");
    let verifier = t["co_verifier"].as_str().unwrap().to_string();
    let ticket = t["login_ticket"].as_str().unwrap().to_string();
    assert!(t["co_id"].is_string());
    let cookie = header(&h, "set-cookie").unwrap();
    assert!(
        cookie.starts_with(&format!("gh_co_verifier={verifier};")),
        "{cookie}"
    );
    assert!(cookie.contains("HttpOnly"), "{cookie}");

    // Another browser (no cookie, or another verifier) cannot use the ticket.
    let mut thief = Browser::new(&s.url);
    let p = thief.get(&implicit_url(&id, &ticket)).await;
    assert_eq!(p.callback_param("error").as_deref(), Some("access_denied"));
    assert!(p.callback_param("access_token").is_none());
    thief
        .cookies
        .insert("gh_co_verifier".into(), "x".repeat(43));
    let p = thief.get(&implicit_url(&id, &ticket)).await;
    assert_eq!(p.callback_param("error").as_deref(), Some("access_denied"));
    // Another application cannot either.
    let mut b = Browser::new(&s.url);
    b.cookies.insert("gh_co_verifier".into(), verifier.clone());
    let p = b.get(&implicit_url(&off, &ticket)).await;
    assert_eq!(p.callback_param("error").as_deref(), Some("access_denied"));

    // The browser that checked the password logs in, once (the refused try above spent
    // its cookie, as any answer to a login_ticket does).
    b.cookies.insert("gh_co_verifier".into(), verifier.clone());
    let p = b.get(&implicit_url(&id, &ticket)).await;
    let id_token = p.callback_param("id_token").expect("an ID token");
    assert!(p.callback_param("access_token").is_some());
    assert!(
        p.set_cookies
            .iter()
            .any(|c| c.starts_with("gh_co_verifier=;") && c.contains("Max-Age=0")),
        "{:?}",
        p.set_cookies
    );
    let claims: Value = serde_json::from_slice(
        &base64::Engine::decode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            id_token.split('.').nth(1).unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["sub"], user_id);
    assert_eq!(claims["nonce"], "nönce");
    b.cookies.insert("gh_co_verifier".into(), verifier.clone());
    let p = b.get(&implicit_url(&id, &ticket)).await;
    assert_eq!(p.callback_param("error").as_deref(), Some("access_denied"));
    let kinds: Vec<String> = s
        .get("/api/v2/logs?per_page=100")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap_or("").to_string())
        .collect();
    assert!(kinds.iter().any(|k| k == "scoa"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "fcoa"), "{kinds:?}");
    assert!(kinds.iter().any(|k| k == "s"), "{kinds:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn cross_origin_settings_are_checked() {
    let mut s = TestServer::start().await;
    let id = spa(&mut s, json!({})).await;
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"cross_origin_loc": "javascript:alert(1)"}),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"cross_origin_authentication": "yes"}),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"cross_origin_authentication": true,
                "cross_origin_loc": "https://app.example.com/co-verify"}),
        )
        .await;
    let c = r.assert_status(200);
    assert_eq!(c["cross_origin_authentication"], true);
    assert_eq!(c["cross_origin_loc"], "https://app.example.com/co-verify");
}

#[tokio::test(flavor = "multi_thread")]
async fn without_the_cookie_the_applications_verification_page_can_hand_the_verifier_back() {
    let mut s = TestServer::start().await;
    let loc = "https://app.example.com/co-verify";
    let id = spa(
        &mut s,
        json!({"cross_origin_authentication": true, "cross_origin_loc": loc}),
    )
    .await;
    let email = format!(
        "fallback.{}@example.org",
        gatehouse_crypto::random::hex(6).unwrap()
    );
    user(&mut s, &email).await;
    let login = |password: &'static str| {
        json!({"client_id": id, "username": email, "password": password,
            "realm": common::DB_CONNECTION})
    };

    // A browser without the cookie gets the page that asks the application's page for it.
    let (_, _, t) = co_authenticate(&s, Some(APP_ORIGIN), login(PASSWORD)).await;
    let verifier = t["co_verifier"].as_str().unwrap().to_string();
    let co_id = t["co_id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&s.url);
    let r = s
        .http()
        .get(format!(
            "{}{}",
            s.url,
            implicit_url(&id, t["login_ticket"].as_str().unwrap())
        ))
        .send()
        .await
        .unwrap();
    let csp = header(r.headers(), "content-security-policy")
        .unwrap()
        .to_string();
    assert!(csp.contains("frame-src https://app.example.com;"), "{csp}");
    assert!(csp.contains("frame-ancestors 'none'"), "{csp}");
    assert_eq!(header(r.headers(), "x-frame-options"), Some("DENY"));
    // That look spent nothing: the ticket is only spent with its verifier.
    let p = b
        .get(&implicit_url(&id, t["login_ticket"].as_str().unwrap()))
        .await;
    assert_eq!(p.status, 200);
    let our_origin = s.url.trim_end_matches('/').to_string();
    assert!(
        p.body
            .contains(&format!("src=\"{loc}#origin={}\"", enc(&our_origin))),
        "{}",
        p.body
    );
    assert!(p.body.contains(&format!("\"id\":\"{co_id}\"")));
    let state = p.input("state").expect("the pending login");
    let csrf = p.input("_csrf").expect("a CSRF token");

    // No CSRF token, a garbled state, a wrong verifier: refused.
    let r = b
        .post_form(
            "/co/verify",
            &[("state", &state), ("co_verifier", &verifier)],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = b
        .post_form(
            "/co/verify",
            &[
                ("state", "garbled"),
                ("_csrf", &csrf),
                ("co_verifier", &verifier),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    let r = b
        .post_form(
            "/co/verify",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("co_verifier", "wrong"),
            ],
        )
        .await;
    assert_eq!(r.callback_param("error").as_deref(), Some("access_denied"));

    // The right one logs in, once.
    let (_, _, t) = co_authenticate(&s, Some(APP_ORIGIN), login(PASSWORD)).await;
    let verifier = t["co_verifier"].as_str().unwrap().to_string();
    let p = b
        .get(&implicit_url(&id, t["login_ticket"].as_str().unwrap()))
        .await;
    let state = p.input("state").unwrap();
    let csrf = p.input("_csrf").unwrap();
    let fields = [
        ("state", state.as_str()),
        ("_csrf", csrf.as_str()),
        ("co_verifier", verifier.as_str()),
    ];
    let r = b.post_form("/co/verify", &fields).await;
    assert!(r.callback_param("id_token").is_some(), "{:?}", r.location);
    let r = b.post_form("/co/verify", &fields).await;
    assert_eq!(r.callback_param("error").as_deref(), Some("access_denied"));
}
