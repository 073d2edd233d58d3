//! The browser flow over HTTP: `/authorize`, the hosted login page, SSO sessions, prompts,
//! the authorization-code exchange with PKCE, and the log events each step leaves.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::{Browser, Page};
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

const CALLBACK: &str = "https://app.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

struct App {
    id: String,
    secret: Option<String>,
}

async fn app(s: &mut TestServer, extra: Value) -> App {
    let mut body = json!({"name": "Shop", "callbacks": [CALLBACK, "https://*.tenant.example/cb"],
        "allowed_logout_urls": ["https://app.example.com/bye"],
        "grant_types": ["authorization_code", "implicit", "refresh_token"]});
    for (k, v) in extra.as_object().unwrap() {
        body[k] = v.clone();
    }
    let c = s.post("/api/v2/clients", body).await;
    let c = c.assert_status(201).clone();
    App {
        id: c["client_id"].as_str().unwrap().into(),
        secret: c["client_secret"].as_str().map(String::from),
    }
}

fn authorize_url(app: &App, extra: &str) -> String {
    format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email&state=xyz%20%2F1&nonce=n-0S6&code_challenge={CHALLENGE}&code_challenge_method=S256{extra}",
        app.id,
        enc(CALLBACK)
    )
}

async fn exchange(
    s: &TestServer,
    app: &App,
    code: &str,
    verifier: Option<&str>,
) -> common::Response {
    let mut body = json!({"grant_type": "authorization_code", "client_id": app.id,
        "code": code, "redirect_uri": CALLBACK});
    if let Some(sec) = &app.secret {
        body["client_secret"] = json!(sec);
    }
    if let Some(v) = verifier {
        body["code_verifier"] = json!(v);
    }
    s.raw(Method::POST, "/oauth/token", None, Some(body)).await
}

async fn log_types(s: &mut TestServer) -> Vec<String> {
    let r = s.get("/api/v2/logs?per_page=100&sort=date:1").await;
    r.assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap().to_string())
        .collect()
}

/// A code from `/authorize`, logging in when the browser has no session yet.
async fn code_via(b: &mut Browser, url: &str, user: &str) -> String {
    let p = b.visit(url).await;
    let p = if p.status == 200 {
        b.submit_login(&p, user, PASSWORD).await
    } else {
        p
    };
    p.callback_param("code").expect("a code")
}

async fn signup(b: &mut Browser, form: &Page, email: &str, password: &str) -> Page {
    let (state, csrf) = (form.input("state").unwrap(), form.input("_csrf").unwrap());
    let p = b
        .post_form(
            "/u/signup",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("email", email),
                ("password", password),
            ],
        )
        .await;
    b.follow(p).await
}

/// Logs in through the hosted page and returns the callback redirect.
async fn log_in(b: &mut Browser, url: &str, user: &str) -> Page {
    let page = b.visit(url).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    b.submit_login(&page, user, PASSWORD).await
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce_logs_in_and_issues_verifiable_tokens() {
    let mut s = TestServer::start().await;
    s.patch(
        "/api/v2/tenants/settings",
        json!({"friendly_name": "Acme <Corp>", "picture_url": "https://cdn.example/logo.png"}),
    )
    .await
    .assert_status(200);
    let app = app(&mut s, json!({})).await;
    let user = s
        .create_user("ada@example.com", json!({"name": "Ada"}))
        .await;
    let mut b = Browser::new(&s.url);

    let first = b.get(&authorize_url(&app, "")).await;
    assert_eq!(first.status, 302);
    let to_login = first.location.clone().unwrap();
    assert!(
        to_login.starts_with(&format!("{}/u/login?state=", s.url)),
        "{to_login}"
    );
    let page = b.follow(first).await;
    assert_eq!(page.status, 200);
    for needle in [
        "name=\"username\"",
        "name=\"password\"",
        "name=\"_csrf\"",
        "Acme &lt;Corp&gt;",
        "https://cdn.example/logo.png",
        "Shop",
        "/u/signup?state=",
    ] {
        assert!(page.body.contains(needle), "login page lacks {needle}");
    }
    assert!(
        !page.body.contains("<script"),
        "the login page needs no JavaScript"
    );
    let csrf_cookie = page
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gh_csrf="))
        .expect("CSRF cookie");
    assert!(csrf_cookie.contains("HttpOnly") && csrf_cookie.contains("SameSite=Lax"));

    let back = b.submit_login(&page, "ada@example.com", PASSWORD).await;
    assert_eq!(back.status, 302, "{}", back.body);
    let loc = back.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}?code=")), "{loc}");
    assert_eq!(
        back.callback_param("state").as_deref(),
        Some("xyz /1"),
        "state comes back unchanged"
    );
    let session = back
        .set_cookies
        .iter()
        .find(|c| c.starts_with("gh_session="))
        .expect("session cookie");
    assert!(
        session.contains("HttpOnly")
            && session.contains("SameSite=Lax")
            && session.contains("Path=/")
    );
    assert!(
        !session.contains("Secure"),
        "plain http in tests; Secure is set for https public URLs"
    );
    let code = back.callback_param("code").unwrap();

    let t = exchange(&s, &app, &code, Some(VERIFIER)).await;
    let t = t.assert_status(200).clone();
    assert_eq!(t["token_type"], "Bearer");
    let id = claims(t["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], user["user_id"]);
    assert_eq!(id["aud"], json!(app.id));
    assert_eq!(id["iss"], json!(format!("{}/", s.url)));
    assert_eq!(id["nonce"], "n-0S6");
    assert_eq!(id["email"], "ada@example.com");
    assert_eq!(id["name"], "Ada");
    assert!(id["auth_time"].as_i64().unwrap() > 1_700_000_000);
    assert!(id["sid"].as_str().is_some_and(|s| s.len() >= 16));
    assert!(t.get("refresh_token").is_none(), "no offline_access asked");
    let me = s
        .raw(
            Method::GET,
            "/userinfo",
            Some(t["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    assert_eq!(me.assert_status(200)["email"], "ada@example.com");

    // The login counted, and the log tells the story.
    let u = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(user["user_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(u.body["logins_count"], 1);
    assert!(u.body["last_login"].is_string());
    let types = log_types(&mut s).await;
    let tail: Vec<&str> = types
        .iter()
        .map(String::as_str)
        .filter(|t| ["s", "seacft"].contains(t))
        .collect();
    assert_eq!(tail, ["s", "seacft"]);

    // SSO: the same browser gets a code without seeing the login page, and logins_count stays.
    let again = b.get(&authorize_url(&app, "")).await;
    assert_eq!(again.status, 302);
    assert!(
        again
            .location
            .unwrap()
            .starts_with(&format!("{CALLBACK}?code="))
    );
    // ... and across the tenant's applications.
    let other = self::app(&mut s, json!({"name": "Blog"})).await;
    let sso = b.get(&authorize_url(&other, "&prompt=none")).await;
    let code = sso
        .callback_param("code")
        .expect("SSO into another application");
    let t = exchange(&s, &other, &code, Some(VERIFIER)).await;
    let t = t.assert_status(200).clone();
    assert_eq!(
        claims(t["id_token"].as_str().unwrap())["sid"],
        id["sid"],
        "one session, one sid"
    );
    let u = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(user["user_id"].as_str().unwrap())
        ))
        .await;
    assert_eq!(u.body["logins_count"], 1, "SSO is not a new login");
}

#[tokio::test(flavor = "multi_thread")]
async fn codes_are_single_use_bound_to_client_redirect_uri_and_verifier() {
    let mut s = TestServer::start().await;
    let app1 = app(&mut s, json!({})).await;
    let other = app(&mut s, json!({})).await;
    s.create_user("bob@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    // Reuse: the second exchange fails and revokes the refresh token the first one issued.
    let code = code_via(
        &mut b,
        &authorize_url(&app1, "&scope=openid%20offline_access"),
        "bob@example.com",
    )
    .await;
    let first = exchange(&s, &app1, &code, Some(VERIFIER)).await;
    let first = first.assert_status(200).clone();
    let refresh = first["refresh_token"]
        .as_str()
        .expect("offline_access gives a refresh token")
        .to_string();
    let again = exchange(&s, &app1, &code, Some(VERIFIER)).await;
    assert_eq!(again.assert_status(403)["error"], "invalid_grant");
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "refresh_token",
        "client_id": app1.id, "client_secret": app1.secret, "refresh_token": refresh})),
        )
        .await;
    assert_eq!(
        r.assert_status(403)["error"],
        "invalid_grant",
        "replaying a code revokes its tokens"
    );

    // PKCE: a wrong or missing verifier fails, and burns the code.
    let code = code_via(&mut b, &authorize_url(&app1, ""), "bob@example.com").await;
    let wrong = exchange(
        &s,
        &app1,
        &code,
        Some("wrong-verifier-wrong-verifier-wrong-verifier-0"),
    )
    .await;
    assert_eq!(
        wrong.assert_status(403)["error_description"],
        "Failed to verify code verifier"
    );
    assert_eq!(
        exchange(&s, &app1, &code, Some(VERIFIER))
            .await
            .status
            .as_u16(),
        403
    );
    let code = code_via(&mut b, &authorize_url(&app1, ""), "bob@example.com").await;
    assert_eq!(exchange(&s, &app1, &code, None).await.status.as_u16(), 403);

    // Another client, or another redirect_uri, cannot use the code.
    let code = code_via(&mut b, &authorize_url(&app1, ""), "bob@example.com").await;
    assert_eq!(
        exchange(&s, &other, &code, Some(VERIFIER))
            .await
            .status
            .as_u16(),
        403
    );
    let code = code_via(&mut b, &authorize_url(&app1, ""), "bob@example.com").await;
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "authorization_code",
        "client_id": app1.id, "client_secret": app1.secret, "code": code, "code_verifier": VERIFIER,
        "redirect_uri": "https://x.tenant.example/cb"})),
        )
        .await;
    assert_eq!(r.assert_status(403)["error"], "invalid_grant");
    let r = s.raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "authorization_code",
        "client_id": app1.id, "client_secret": app1.secret, "code": "made-up", "code_verifier": VERIFIER,
        "redirect_uri": CALLBACK}))).await;
    assert_eq!(r.assert_status(403)["error"], "invalid_grant");
    // A confidential client must authenticate.
    let code = code_via(&mut b, &authorize_url(&app1, ""), "bob@example.com").await;
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "authorization_code",
        "client_id": app1.id, "client_secret": "wrong", "code": code, "code_verifier": VERIFIER,
        "redirect_uri": CALLBACK})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 401);

    let types = log_types(&mut s).await;
    assert_eq!(types.iter().filter(|t| *t == "seacft").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "feacft").count(), 8);
}

#[tokio::test(flavor = "multi_thread")]
async fn public_clients_must_use_pkce() {
    let mut s = TestServer::start().await;
    let spa = app(
        &mut s,
        json!({"app_type": "spa", "token_endpoint_auth_method": "none"}),
    )
    .await;
    let spa = App {
        id: spa.id,
        secret: None,
    };
    s.create_user("spa@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let no_pkce = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&state=s1",
        spa.id,
        enc(CALLBACK)
    );
    let r = b.get(&no_pkce).await;
    assert_eq!(r.status, 302);
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("invalid_request")
    );
    assert_eq!(r.callback_param("state").as_deref(), Some("s1"));
    let back = log_in(&mut b, &authorize_url(&spa, ""), "spa@example.com").await;
    let code = back.callback_param("code").unwrap();
    let t = exchange(&s, &spa, &code, Some(VERIFIER)).await;
    t.assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn unknown_clients_and_callbacks_get_a_page_never_a_redirect() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    let mut b = Browser::new(&s.url);
    let r = b
        .get(&format!(
            "/authorize?response_type=code&client_id=NoSuchClient&redirect_uri={}",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(r.status, 400);
    assert!(r.location.is_none());
    let r = b.get("/authorize?response_type=code").await;
    assert_eq!(r.status, 400);
    for bad in [
        "https://evil.com/callback",
        "https://app.example.com.evil.com/callback",
        "https://app.example.com@evil.com/callback",
        "https://evil.com\\@app.example.com/callback",
        "https://evil.com%2F@app.example.com/callback",
        "https://app.example.com/callback/../evil",
        "https://app.example.com/callback%2F..%2Fevil",
        "https://app.example.com/callback?next=https://evil.com",
        "https://app.example.com/callback#x",
        "https://app.example.com/Callback",
        "http://app.example.com/callback",
        "https://app.example.com:444/callback",
        "//evil.com/callback",
        "javascript:alert(1)//app.example.com/callback",
        "https://a.b.tenant.example/cb",
        "https://tenant.example/cb",
        "https://app.example.com /callback",
        "<script>alert(1)</script>",
    ] {
        let r = b
            .get(&format!(
                "/authorize?response_type=code&client_id={}&redirect_uri={}&state=s",
                app.id,
                enc(bad)
            ))
            .await;
        assert_eq!(r.status, 400, "{bad}");
        assert!(r.location.is_none(), "{bad}: never redirected");
        assert!(!r.body.contains("<script>"), "{bad}: escaped");
    }
    // The subdomain wildcard admits one level.
    let r = b
        .get(&format!("/authorize?response_type=code&client_id={}&redirect_uri={}&code_challenge={CHALLENGE}&code_challenge_method=S256", app.id, enc("https://shop.tenant.example/cb")))
        .await;
    assert_eq!(r.status, 302);
    assert!(r.location.unwrap().contains("/u/login?state="));
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_parameters_go_back_to_the_callback_with_state() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    let mut b = Browser::new(&s.url);
    for (extra, error) in [
        ("&response_type=token%20code", "unsupported_response_type"),
        (
            "&response_type=code&prompt=select_account",
            "invalid_request",
        ),
        ("&response_type=code&max_age=soon", "invalid_request"),
        ("&response_type=code&code_challenge=abc", "invalid_request"),
        (
            "&response_type=code&code_challenge_method=S512&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM",
            "invalid_request",
        ),
        (
            "&response_type=code&audience=https://no.such.api/",
            "access_denied",
        ),
        (
            "&response_type=code&connection=no-such-connection",
            "invalid_request",
        ),
        ("&response_type=id_token", "invalid_request"),
    ] {
        let r = b
            .get(&format!(
                "/authorize?client_id={}&redirect_uri={}&state=keep{extra}",
                app.id,
                enc(CALLBACK)
            ))
            .await;
        assert_eq!(r.status, 302, "{extra}");
        assert_eq!(
            r.callback_param("error").as_deref(),
            Some(error),
            "{extra}: {:?}",
            r.location
        );
        assert_eq!(r.callback_param("state").as_deref(), Some("keep"));
    }
    let m2m = s
        .post(
            "/api/v2/clients",
            json!({"name": "m2m", "callbacks": [CALLBACK], "grant_types": ["client_credentials"]}),
        )
        .await;
    let m2m = m2m.body["client_id"].as_str().unwrap().to_string();
    let r = b
        .get(&format!(
            "/authorize?response_type=code&client_id={m2m}&redirect_uri={}",
            enc(CALLBACK)
        ))
        .await;
    assert_eq!(
        r.callback_param("error").as_deref(),
        Some("unauthorized_client")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn prompt_none_answers_without_pages() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.create_user("sso@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let silent = authorize_url(&app, "&prompt=none");
    let r = b.get(&silent).await;
    assert_eq!(r.status, 302);
    assert_eq!(r.callback_param("error").as_deref(), Some("login_required"));
    assert_eq!(r.callback_param("state").as_deref(), Some("xyz /1"));

    log_in(&mut b, &authorize_url(&app, ""), "sso@example.com").await;
    let r = b.get(&silent).await;
    let code = r
        .callback_param("code")
        .expect("a session answers prompt=none with a code");
    exchange(&s, &app, &code, Some(VERIFIER))
        .await
        .assert_status(200);

    // max_age=0 and prompt=login need the password again; prompt=none then cannot answer.
    let r = b.get(&authorize_url(&app, "&prompt=none&max_age=0")).await;
    assert_eq!(r.callback_param("error").as_deref(), Some("login_required"));
    let r = b.visit(&authorize_url(&app, "&prompt=login")).await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains("name=\"password\""));
    let back = b.submit_login(&r, "sso@example.com", PASSWORD).await;
    assert!(
        back.callback_param("code").is_some(),
        "a fresh login satisfies prompt=login"
    );
    let r = b.visit(&authorize_url(&app, "&max_age=0")).await;
    let back = b.submit_login(&r, "sso@example.com", PASSWORD).await;
    assert!(
        back.callback_param("code").is_some(),
        "a fresh login satisfies max_age"
    );

    // Another browser has no session.
    let mut other = Browser::new(&s.url);
    let r = other.get(&silent).await;
    assert_eq!(r.callback_param("error").as_deref(), Some("login_required"));

    let types = log_types(&mut s).await;
    assert_eq!(types.iter().filter(|t| *t == "ssa").count(), 1);
    assert_eq!(types.iter().filter(|t| *t == "fsa").count(), 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn wrong_passwords_blocked_users_and_csrf_are_refused_on_the_page() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    let u = s.create_user("eve@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let page = b.visit(&authorize_url(&app, "")).await;

    let r = b.submit_login(&page, "eve@example.com", "nope").await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("Wrong email or password."));
    assert!(
        r.body.contains("value=\"eve@example.com\""),
        "the username stays filled in"
    );
    let r = b.submit_login(&page, "nobody@example.com", "nope").await;
    assert_eq!(r.status, 400);
    assert!(
        r.body.contains("Wrong email or password."),
        "same words for unknown users"
    );

    // CSRF: missing or foreign tokens are refused and nothing happens.
    let state = page.input("state").unwrap();
    let before = log_types(&mut s).await.len();
    let r = b
        .post_form(
            "/u/login",
            &[
                ("state", &state),
                ("username", "eve@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let r = b
        .post_form(
            "/u/login",
            &[
                ("state", &state),
                ("_csrf", "forged"),
                ("username", "eve@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 403);
    let mut stranger = Browser::new(&s.url);
    let csrf = page.input("_csrf").unwrap();
    let r = stranger
        .post_form(
            "/u/login",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("username", "eve@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(
        r.status, 403,
        "a token is good only with its browser's cookie"
    );
    assert!(!b.cookies.contains_key("gh_session") && !stranger.cookies.contains_key("gh_session"));
    assert_eq!(
        log_types(&mut s).await.len(),
        before,
        "refused forms log nothing and change nothing"
    );

    // A tampered transaction is an error page.
    let r = b
        .post_form(
            "/u/login",
            &[
                ("state", &format!("{state}x")),
                ("_csrf", &csrf),
                ("username", "eve@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 400);

    // Blocked users see Auth0's message and get no session.
    s.patch(
        &format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap())),
        json!({"blocked": true}),
    )
    .await
    .assert_status(200);
    let r = b.submit_login(&page, "eve@example.com", PASSWORD).await;
    assert_eq!(r.status, 400);
    assert!(r.body.contains("user is blocked"));
    assert!(!b.cookies.contains_key("gh_session"));

    let types = log_types(&mut s).await;
    for t in ["fp", "fu", "f"] {
        assert!(types.iter().any(|x| x == t), "{t} in {types:?}");
    }
    assert!(!types.iter().any(|x| x == "s"));
}

#[tokio::test(flavor = "multi_thread")]
async fn an_existing_session_ends_when_its_user_is_blocked_and_at_logout() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    let u = s.create_user("kim@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    log_in(&mut b, &authorize_url(&app, ""), "kim@example.com").await;
    let silent = authorize_url(&app, "&prompt=none");
    assert!(b.get(&silent).await.callback_param("code").is_some());

    let r = b
        .get(&format!(
            "/v2/logout?client_id={}&returnTo={}",
            app.id,
            enc("https://app.example.com/bye")
        ))
        .await;
    assert_eq!(r.status, 302);
    assert!(
        r.set_cookies
            .iter()
            .any(|c| c.starts_with("gh_session=;") && c.contains("Max-Age=0"))
    );
    assert_eq!(
        b.get(&silent).await.callback_param("error").as_deref(),
        Some("login_required")
    );

    // A stolen cookie is worthless after logout too.
    log_in(&mut b, &authorize_url(&app, ""), "kim@example.com").await;
    let stolen = b.cookies.get("gh_session").unwrap().clone();
    b.get("/oidc/logout").await;
    let mut thief = Browser::new(&s.url);
    thief.cookies.insert("gh_session".into(), stolen);
    assert_eq!(
        thief.get(&silent).await.callback_param("error").as_deref(),
        Some("login_required")
    );

    log_in(&mut b, &authorize_url(&app, ""), "kim@example.com").await;
    s.patch(
        &format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap())),
        json!({"blocked": true}),
    )
    .await;
    assert_eq!(
        b.get(&silent).await.callback_param("error").as_deref(),
        Some("login_required")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn third_party_apps_ask_for_consent_once() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({"is_first_party": false})).await;
    s.create_user("cat@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let silent = authorize_url(&app, "&prompt=none");

    let page = b.visit(&authorize_url(&app, "")).await;
    let consent = b.submit_login(&page, "cat@example.com", PASSWORD).await;
    assert_eq!(consent.status, 200, "{:?}", consent.location);
    assert!(consent.body.contains("Authorize Shop"));
    assert!(consent.body.contains("Read your email address"));
    assert_eq!(
        b.get(&silent).await.callback_param("error").as_deref(),
        Some("consent_required")
    );

    let state = consent.input("state").unwrap();
    let csrf = consent.input("_csrf").unwrap();
    let r = b
        .post_form("/u/consent", &[("state", &state), ("action", "accept")])
        .await;
    assert_eq!(r.status, 403, "consent needs the CSRF token");
    let denied = b
        .post_form(
            "/u/consent",
            &[("state", &state), ("_csrf", &csrf), ("action", "deny")],
        )
        .await;
    assert_eq!(
        denied.callback_param("error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(denied.callback_param("state").as_deref(), Some("xyz /1"));
    let accepted = b
        .post_form(
            "/u/consent",
            &[("state", &state), ("_csrf", &csrf), ("action", "accept")],
        )
        .await;
    assert!(accepted.callback_param("code").is_some());

    // Remembered: no page now, and prompt=none works; prompt=consent asks again.
    assert!(b.get(&silent).await.callback_param("code").is_some());
    let again = b.visit(&authorize_url(&app, "&prompt=consent")).await;
    assert_eq!(again.status, 200);
    assert!(again.body.contains("Authorize Shop"));
    // More scopes than granted need consent again.
    let wider = b
        .visit(&authorize_url(
            &app,
            "&scope=openid%20profile%20email%20offline_access",
        ))
        .await;
    assert!(wider.body.contains("Stay signed in"));
}

#[tokio::test(flavor = "multi_thread")]
async fn sign_up_from_the_login_page() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.create_user("taken@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let page = b.visit(&authorize_url(&app, "&screen_hint=signup")).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("action=\"/u/signup\"") && page.body.contains("/u/login?state="));
    let weak = signup(&mut b, &page, "new@example.com", "short").await;
    assert_eq!(weak.status, 400);
    assert!(weak.body.contains("class=\"error\""), "{}", weak.body);
    let taken = signup(&mut b, &page, "taken@example.com", PASSWORD).await;
    assert!(taken.body.contains("The user already exists."));
    let bad = signup(&mut b, &page, "not-an-email", PASSWORD).await;
    assert!(bad.body.contains("valid email"));
    let ok = signup(&mut b, &page, "new@example.com", PASSWORD).await;
    assert!(
        ok.callback_param("code").is_some(),
        "{:?} {}",
        ok.location,
        ok.body
    );
    let users = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("new@example.com")
        ))
        .await;
    assert_eq!(users.body[0]["logins_count"], 1);
    let types = log_types(&mut s).await;
    assert!(
        types.iter().any(|t| t == "ss")
            && types.iter().any(|t| t == "fs")
            && types.iter().any(|t| t == "s")
    );

    // A connection with sign-ups disabled hides the link and refuses the form.
    let conns = s
        .get("/api/v2/connections?name=Username-Password-Authentication")
        .await;
    let conn_id = conns.body[0]["id"].as_str().unwrap().to_string();
    let mut options = conns.body[0]["options"].clone();
    options["disable_signup"] = json!(true);
    s.patch(
        &format!("/api/v2/connections/{conn_id}"),
        json!({"options": options}),
    )
    .await
    .assert_status(200);
    let mut b2 = Browser::new(&s.url);
    let page = b2.visit(&authorize_url(&app, "")).await;
    assert!(!page.body.contains("/u/signup"));
    let r = b2
        .post_form(
            "/u/signup",
            &[
                ("state", &page.input("state").unwrap()),
                ("_csrf", &page.input("_csrf").unwrap()),
                ("email", "late@example.com"),
                ("password", PASSWORD),
            ],
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(
        s.get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("late@example.com")
        ))
        .await
        .body,
        json!([])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_and_form_post_responses() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.create_user("imp@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let url = format!(
        "/authorize?response_type=id_token%20token&client_id={}&redirect_uri={}&nonce=abc&state=st",
        app.id,
        enc(CALLBACK)
    );
    let back = log_in(&mut b, &url, "imp@example.com").await;
    let loc = back.location.clone().unwrap();
    assert!(
        loc.starts_with(&format!("{CALLBACK}#")),
        "tokens travel in the fragment: {loc}"
    );
    let id = claims(&back.callback_param("id_token").unwrap());
    let at = back.callback_param("access_token").unwrap();
    assert_eq!(id["nonce"], "abc");
    assert_eq!(id["at_hash"], json!(gatehouse_crypto::at_hash(&at)));
    assert_eq!(back.callback_param("state").as_deref(), Some("st"));

    let r = b
        .get(&format!(
            "{}&response_mode=form_post",
            authorize_url(&app, "")
        ))
        .await;
    assert_eq!(r.status, 200);
    assert!(r.body.contains(&format!("action=\"{CALLBACK}\"")));
    assert!(r.body.contains("name=\"code\"") && r.body.contains("name=\"state\" value=\"xyz /1\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn redirect_hook_sends_users_out_and_continue_resumes() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.create_user("hook@example.com", json!({})).await;
    let bad = s
        .patch(
            "/api/v2/tenants/settings",
            json!({"post_login_redirect_url": "ftp://x"}),
        )
        .await;
    bad.assert_error(400, "invalid_body");
    assert!(
        s.get("/api/v2/tenants/settings")
            .await
            .body
            .get("post_login_redirect_url")
            .is_none(),
        "a refused change changes nothing"
    );
    s.patch(
        "/api/v2/tenants/settings",
        json!({"post_login_redirect_url": "https://mfa.example.com/step"}),
    )
    .await
    .assert_status(200);

    let mut b = Browser::new(&s.url);
    let out = log_in(&mut b, &authorize_url(&app, ""), "hook@example.com").await;
    let loc = out.location.clone().unwrap();
    assert!(
        loc.starts_with("https://mfa.example.com/step?state="),
        "{loc}"
    );
    let state = out.callback_param("state").unwrap();

    // Only the browser that logged in can resume, and only with the untouched state.
    let mut other = Browser::new(&s.url);
    assert_eq!(
        other
            .get(&format!("/continue?state={}", enc(&state)))
            .await
            .status,
        400
    );
    assert_eq!(
        b.get(&format!("/continue?state={}x", enc(&state)))
            .await
            .status,
        400
    );
    let back = b.get(&format!("/continue?state={}", enc(&state))).await;
    assert!(back.callback_param("code").is_some(), "{:?}", back.location);
    assert_eq!(
        back.callback_param("state").as_deref(),
        Some("xyz /1"),
        "the app's state is untouched"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn tenant_logout_urls_and_settings_api() {
    let mut s = TestServer::start().await;
    let r = s.get("/api/v2/tenants/settings").await;
    assert_eq!(r.assert_status(200)["session_lifetime"], json!(168.0));
    let narrow = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            Method::PATCH,
            "/api/v2/tenants/settings",
            Some(&narrow),
            Some(json!({"friendly_name": "x"})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    s.patch(
        "/api/v2/tenants/settings",
        json!({"allowed_logout_urls": ["https://www.example.com/"]}),
    )
    .await
    .assert_status(200);
    let mut b = Browser::new(&s.url);
    let r = b
        .get(&format!(
            "/v2/logout?returnTo={}",
            enc("https://www.example.com/")
        ))
        .await;
    assert_eq!(r.status, 302);
    let r = b
        .get(&format!(
            "/v2/logout?returnTo={}",
            enc("https://evil.example.com/")
        ))
        .await;
    assert_eq!(r.status, 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn log_events_older_than_the_retention_are_deleted() {
    let mut s = TestServer::start_with_manual_clock().await;
    s.post("/api/v2/clients", json!({"name": "x"}))
        .await
        .assert_status(201);
    assert!(!log_types(&mut s).await.is_empty());
    // Keep a day: nothing is old enough to go.
    s.cfg.log_retention_days = 1.0;
    s.restart().await;
    assert!(!log_types(&mut s).await.is_empty());
    s.clock().advance(50);
    // Keep 10 ms: everything recorded before the restart is gone.
    s.cfg.log_retention_days = 10.0 / 86_400_000.0;
    s.restart().await;
    let left = log_types(&mut s).await;
    assert!(
        left.iter().all(|t| t == "seccft"),
        "only the new token's event: {left:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn login_hint_audience_connection_and_fragment() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.post("/api/v2/resource-servers", json!({"name": "Orders", "identifier": "https://orders.example/", "scopes": [{"value": "read:orders", "description": "Read orders"}]}))
        .await
        .assert_status(201);
    s.create_user("hint@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let page = b
        .visit(&authorize_url(&app, "&login_hint=hint%40example.com&connection=Username-Password-Authentication&audience=https%3A%2F%2Forders.example%2F&scope=openid%20read%3Aorders&response_mode=fragment"))
        .await;
    assert!(
        page.body.contains("value=\"hint@example.com\""),
        "login_hint fills the username"
    );
    let back = b.submit_login(&page, "hint@example.com", PASSWORD).await;
    let loc = back.location.clone().unwrap();
    assert!(loc.starts_with(&format!("{CALLBACK}#code=")), "{loc}");
    let t = exchange(
        &s,
        &app,
        &back.callback_param("code").unwrap(),
        Some(VERIFIER),
    )
    .await;
    let t = t.assert_status(200).clone();
    let at = claims(t["access_token"].as_str().unwrap());
    assert_eq!(
        at["aud"],
        json!(["https://orders.example/", format!("{}/userinfo", s.url)])
    );
    assert_eq!(at["scope"], "openid read:orders");
}

#[tokio::test(flavor = "multi_thread")]
async fn repeated_failures_on_the_page_block_the_user_from_that_ip() {
    let mut s = TestServer::start().await;
    let app = app(&mut s, json!({})).await;
    s.create_user("bf@example.com", json!({})).await;
    let mut b = Browser::new(&s.url);
    let page = b.visit(&authorize_url(&app, "")).await;
    for _ in 0..10 {
        assert_eq!(
            b.submit_login(&page, "bf@example.com", "wrong")
                .await
                .status,
            400
        );
    }
    let r = b.submit_login(&page, "bf@example.com", PASSWORD).await;
    assert_eq!(r.status, 400);
    assert!(
        r.body
            .contains("blocked after multiple consecutive login attempts"),
        "{}",
        r.body
    );
    assert!(!b.cookies.contains_key("gh_session"));
    let types = log_types(&mut s).await;
    assert_eq!(types.iter().filter(|t| *t == "limit_wc").count(), 1);
    s.delete(&format!(
        "/api/v2/user-blocks?identifier={}",
        enc("bf@example.com")
    ))
    .await;
    let ok = b.submit_login(&page, "bf@example.com", PASSWORD).await;
    assert!(
        ok.callback_param("code").is_some(),
        "lifting the block lets the user in"
    );
}
