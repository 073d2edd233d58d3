//! The admin dashboard over HTTP: sign-in through the hosted login (authorization code with
//! PKCE), the admin role checked on every request, CSRF on every form, and the user actions
//! changing what the Management API then reads; upstream connections set up through the
//! forms, their secrets written but never shown.

use crate::common;
use crate::upstream_login::{app, authorize_url, login_through};

use common::browser::{Browser, Page};
use common::provider::{
    CLIENT_ID as PROVIDER_CLIENT, CLIENT_SECRET as PROVIDER_SECRET, Provider, ProviderUser,
};
use common::{TestServer, enc};
use serde_json::{Value, json};

pub(crate) const ADMIN_EMAIL: &str = "root@example.com";
const PASSWORD: &str = "Sup3r-secret!";

pub(crate) async fn server() -> TestServer {
    TestServer::start_with(|cfg| {
        cfg.bootstrap_admin_email = Some(ADMIN_EMAIL.into());
        cfg.bootstrap_admin_password = Some(PASSWORD.into());
    })
    .await
}

/// Opens `/admin` and logs in on the hosted page; returns the first dashboard page.
pub(crate) async fn sign_in(b: &mut Browser, email: &str) -> Page {
    let login = b.visit("/admin").await;
    assert_eq!(login.status, 200, "{}", login.body);
    assert!(login.body.contains("action=\"/u/login\""), "{}", login.body);
    b.submit_login(&login, email, PASSWORD).await
}

pub(crate) fn csrf(page: &Page) -> String {
    page.input("_csrf").expect("the page has a CSRF token")
}

async fn user_json(s: &mut TestServer, id: &str) -> Value {
    s.get(&format!("/api/v2/users/{}", enc(id)))
        .await
        .assert_status(200)
        .clone()
}

#[tokio::test]
async fn an_administrator_signs_in_and_manages_a_user() {
    let mut s = server().await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    assert_eq!(home.status, 200, "{}", home.body);
    assert!(home.body.contains("<h1>Activity</h1>"), "{}", home.body);
    assert!(home.body.contains(ADMIN_EMAIL));
    assert!(b.cookies.contains_key("gh_admin"));
    let cookie = home
        .set_cookies
        .iter()
        .chain(std::iter::empty())
        .find(|c| c.starts_with("gh_admin="));
    // The session cookie was set on the callback's redirect; the page itself sets only CSRF.
    assert!(cookie.is_none() || cookie.is_some_and(|c| c.contains("HttpOnly")));

    // Create a user through the form.
    let token = csrf(&home);
    let created = b
        .post_form(
            "/admin/users",
            &[
                ("_csrf", &token),
                ("email", "walk@example.com"),
                ("password", PASSWORD),
                ("connection", common::DB_CONNECTION),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.follow(created).await;
    assert!(page.body.contains("User created."), "{}", page.body);
    let id = page.body.split("<code id=\"user-id\">").nth(1).unwrap();
    let id = id[..id.find('<').unwrap()].replace("&#124;", "|");
    assert!(id.starts_with("auth0|"), "{id}");

    // Found by a v3 query; a bad query shows its error where it is.
    let found = b
        .get(&format!("/admin/users?q={}", enc("email:walk@example.com")))
        .await;
    assert_eq!(found.status, 200);
    assert!(found.body.contains("1 user ·"), "{}", found.body);
    assert!(found.body.contains("walk@example.com"));
    let bad = b
        .get(&format!("/admin/users?q={}", enc("email:(walk")))
        .await;
    assert_eq!(bad.status, 400);
    assert!(bad.body.contains("id=\"q-error\""), "{}", bad.body);
    assert!(bad.body.contains("The query is not valid at character"));

    // Metadata: a bad key is refused and nothing is saved; a good edit is saved.
    let bad_key = b
        .post_form(
            &format!("/admin/users/{}/metadata", enc(&id)),
            &[
                ("_csrf", &token),
                ("user_metadata", r#"{"bad.key": 1}"#),
                ("app_metadata", "{}"),
            ],
        )
        .await;
    assert_eq!(bad_key.status, 400, "{}", bad_key.body);
    assert!(bad_key.body.contains("bad.key"), "{}", bad_key.body);
    assert_eq!(user_json(&mut s, &id).await.get("user_metadata"), None);
    let saved = b
        .post_form(
            &format!("/admin/users/{}/metadata", enc(&id)),
            &[
                ("_csrf", &token),
                ("user_metadata", r#"{"plan": "pro", "seats": 3}"#),
                ("app_metadata", r#"{"tier": 2}"#),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let u = user_json(&mut s, &id).await;
    assert_eq!(u["user_metadata"], json!({"plan": "pro", "seats": 3}));
    assert_eq!(u["app_metadata"], json!({"tier": 2}));
    // Removing a key in the editor deletes it.
    let trimmed = b
        .post_form(
            &format!("/admin/users/{}/metadata", enc(&id)),
            &[
                ("_csrf", &token),
                ("user_metadata", r#"{"plan": "pro"}"#),
                ("app_metadata", r#"{"tier": 2}"#),
            ],
        )
        .await;
    assert_eq!(trimmed.status, 303);
    assert_eq!(
        user_json(&mut s, &id).await["user_metadata"],
        json!({"plan": "pro"})
    );

    // Block, then a login attempt shows up as an explained failure on the user's page.
    let blocked = b
        .post_form(
            &format!("/admin/users/{}/block", enc(&id)),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(blocked.status, 303);
    assert_eq!(user_json(&mut s, &id).await["blocked"], json!(true));
    let (app_id, app_secret) = s.app_with_grants(&["password"]).await;
    let refused = s
        .http()
        .post(format!("{}/oauth/token", s.url))
        .json(
            &json!({"grant_type": "password", "username": "walk@example.com",
            "password": PASSWORD, "client_id": app_id, "client_secret": app_secret}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status().as_u16(), 401);
    let page = b.get(&format!("/admin/users/{}", enc(&id))).await;
    assert!(page.body.contains("id=\"blocked-badge\""));
    assert!(
        page.body
            .contains("Login refused (for example: the user is blocked)"),
        "{}",
        page.body
    );

    // Unblock, change the password (the new one works), delete.
    for (action, fields) in [
        ("unblock", vec![]),
        ("password", vec![("password", "N3w-passw0rd!x")]),
    ] {
        let mut form = vec![("_csrf", token.as_str())];
        form.extend(fields);
        let r = b
            .post_form(&format!("/admin/users/{}/{action}", enc(&id)), &form)
            .await;
        assert_eq!(r.status, 303, "{action}: {}", r.body);
    }
    let ok = s
        .http()
        .post(format!("{}/oauth/token", s.url))
        .json(
            &json!({"grant_type": "password", "username": "walk@example.com",
            "password": "N3w-passw0rd!x", "client_id": app_id, "client_secret": app_secret}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(ok.status().as_u16(), 200);
    // A weak password is refused with the policy's words, and changes nothing.
    let weak = b
        .post_form(
            &format!("/admin/users/{}/password", enc(&id)),
            &[("_csrf", &token), ("password", "abc")],
        )
        .await;
    assert_eq!(weak.status, 400, "{}", weak.body);
    assert!(weak.body.contains("id=\"error\""));

    // Each write is in the tenant log with the administrator who made it; refused ones too.
    let admin = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc(ADMIN_EMAIL)
        ))
        .await
        .assert_status(200)[0]["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let events = s
        .get(&format!("/api/v2/users/{}/logs?per_page=100", enc(&admin)))
        .await
        .assert_status(200)
        .clone();
    let audit: Vec<(String, String)> = events
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or("").to_string(),
                e["description"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let block = format!("Dashboard: POST /admin/users/{}/block", enc(&id));
    assert!(
        audit.iter().any(|(t, d)| t == "sapi" && *d == block),
        "{audit:?}"
    );
    assert!(
        audit
            .iter()
            .any(|(t, d)| t == "fapi" && d.ends_with("/password")),
        "{audit:?}"
    );
    assert!(!events.to_string().contains("N3w-passw0rd"));

    let confirm = b.get(&format!("/admin/users/{}/delete", enc(&id))).await;
    assert!(confirm.body.contains("Delete permanently"));
    let deleted = b
        .post_form(
            &format!("/admin/users/{}/delete", enc(&id)),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(deleted.status, 303);
    s.get(&format!("/api/v2/users/{}", enc(&id)))
        .await
        .assert_status(404);
}

#[tokio::test]
async fn forms_without_the_csrf_token_change_nothing() {
    let mut s = server().await;
    let victim = s.create_user("victim@example.com", json!({})).await;
    let id = victim["user_id"].as_str().unwrap().to_string();
    let mut b = Browser::new(&s.url);
    sign_in(&mut b, ADMIN_EMAIL).await;
    for token in ["", "forged-token"] {
        let r = b
            .post_form(
                &format!("/admin/users/{}/block", enc(&id)),
                &[("_csrf", token)],
            )
            .await;
        assert_eq!(r.status, 403, "{}", r.body);
    }
    assert_eq!(user_json(&mut s, &id).await.get("blocked"), None);
}

/// Every dashboard page and action: (method, path).
fn every_route(user: &str, client: &str, connection: &str) -> Vec<(&'static str, String)> {
    let u = enc(user);
    let mut routes = vec![
        ("GET", "/admin".to_string()),
        ("GET", "/admin/users".into()),
        ("GET", "/admin/users/new".into()),
        ("GET", format!("/admin/users/{u}")),
        ("GET", format!("/admin/users/{u}/delete")),
        ("GET", "/admin/applications".into()),
        ("GET", format!("/admin/applications/{client}")),
        ("GET", "/admin/connections".into()),
        ("GET", "/admin/connections/new".into()),
        ("GET", "/admin/connections/new?strategy=github".into()),
        ("GET", format!("/admin/connections/{connection}")),
        ("GET", "/admin/jobs".into()),
        ("GET", "/admin/jobs/job_x".into()),
        ("GET", "/admin/jobs/job_x/status".into()),
        ("GET", "/admin/logs".into()),
        ("GET", "/admin/actions".into()),
        ("GET", "/admin/actions/triggers/post-login".into()),
        (
            "GET",
            "/admin/actions/4f1c2a9e-0b7d-4c1e-a3f5-9d2e8b6c7a10".into(),
        ),
        ("GET", "/admin/rules".into()),
        ("GET", "/admin/rules/rul_x".into()),
        ("POST", "/admin/users".into()),
        ("POST", format!("/admin/users/{u}/metadata")),
        ("POST", format!("/admin/users/{u}/delete")),
        ("POST", "/admin/applications".into()),
        ("POST", format!("/admin/applications/{client}")),
        ("POST", format!("/admin/applications/{client}/rotate")),
        ("POST", "/admin/connections".into()),
        ("POST", format!("/admin/connections/{connection}")),
        ("POST", format!("/admin/connections/{connection}/try")),
        ("POST", "/admin/jobs/import".into()),
        ("POST", "/admin/jobs/export".into()),
        ("POST", "/admin/actions".into()),
        ("POST", "/admin/actions/triggers/post-login".into()),
        (
            "POST",
            "/admin/actions/4f1c2a9e-0b7d-4c1e-a3f5-9d2e8b6c7a10".into(),
        ),
        (
            "POST",
            "/admin/actions/4f1c2a9e-0b7d-4c1e-a3f5-9d2e8b6c7a10/test".into(),
        ),
        (
            "POST",
            "/admin/actions/4f1c2a9e-0b7d-4c1e-a3f5-9d2e8b6c7a10/delete".into(),
        ),
        ("POST", "/admin/rules".into()),
        ("POST", "/admin/rules/configs".into()),
        ("POST", "/admin/rules/configs/delete".into()),
        ("POST", "/admin/rules/rul_x".into()),
        ("POST", "/admin/rules/rul_x/try".into()),
        ("POST", "/admin/rules/rul_x/delete".into()),
        ("POST", "/admin/signout".into()),
    ];
    for action in [
        "block",
        "unblock",
        "lift-blocks",
        "password",
        "picture",
        "mark-verified",
        "send-verification",
        "send-reset",
    ] {
        routes.push(("POST", format!("/admin/users/{u}/{action}")));
    }
    routes
}

#[tokio::test]
async fn a_user_without_the_admin_role_is_refused_every_page_and_action() {
    let mut s = server().await;
    s.create_user("plain@example.com", json!({"email_verified": true}))
        .await;
    let victim = s.create_user("victim@example.com", json!({})).await;
    let id = victim["user_id"].as_str().unwrap().to_string();
    let (client, _) = s.app_with_grants(&[]).await;
    let connection = s.connection_id(common::DB_CONNECTION).await;

    // The login itself succeeds, but the dashboard refuses the account and opens no session.
    let mut b = Browser::new(&s.url);
    let refused = sign_in(&mut b, "plain@example.com").await;
    assert_eq!(refused.status, 403, "{}", refused.body);
    assert!(refused.body.contains("does not have the admin role"));
    assert!(!b.cookies.contains_key("gh_admin"));
    // The hosted login page's CSRF token is valid for this browser: forms are not what
    // stops this user.
    let login_page = b.get("/u/login").await;
    let token = login_page.input("_csrf").unwrap_or_default();

    for (method, path) in every_route(&id, &client, &connection) {
        let r = if method == "GET" {
            b.get(&path).await
        } else {
            b.post_form(
                &path,
                &[
                    ("_csrf", &token),
                    ("password", "An0ther-passw0rd!"),
                    ("name", "x"),
                    ("email", "new@example.com"),
                    ("connection", common::DB_CONNECTION),
                    ("user_metadata", "{\"a\":1}"),
                    ("app_metadata", "{\"roles\":[\"admin\"]}"),
                ],
            )
            .await
        };
        // Not signed in to the dashboard: sent to sign in, which the SSO session answers
        // with a refusal once more.
        assert_eq!(r.status, 303, "{method} {path}: {}", r.body);
        let back = b.follow(r).await;
        assert_eq!(back.status, 403, "{method} {path}: {}", back.body);
        assert!(!b.cookies.contains_key("gh_admin"), "{method} {path}");
    }
    let v = user_json(&mut s, &id).await;
    assert_eq!(v.get("blocked"), None);
    assert_eq!(v.get("user_metadata"), None);
    assert_eq!(v["email_verified"], json!(false));
    let found = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("new@example.com")
        ))
        .await;
    assert_eq!(found.assert_status(200), &json!([]));
}

#[tokio::test]
async fn taking_the_role_away_ends_dashboard_access_at_once() {
    let mut s = server().await;
    let mut b = Browser::new(&s.url);
    assert_eq!(sign_in(&mut b, ADMIN_EMAIL).await.status, 200);
    let admin = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc(ADMIN_EMAIL)
        ))
        .await
        .assert_status(200)[0]
        .clone();
    let id = admin["user_id"].as_str().unwrap();
    s.patch(
        &format!("/api/v2/users/{}", enc(id)),
        json!({"app_metadata": {"roles": ["support"]}}),
    )
    .await
    .assert_status(200);
    let page = b.get("/admin/users").await;
    assert_eq!(page.status, 403, "{}", page.body);
    assert!(!b.cookies.contains_key("gh_admin"));
}

#[tokio::test]
async fn sign_in_state_must_come_back_from_this_browser() {
    let s = server().await;
    // A callback with a code but without the sign-in cookie (another browser's link).
    let mut b = Browser::new(&s.url);
    let r = b.get("/admin/callback?code=abc&state=def").await;
    assert_eq!(r.status, 400, "{}", r.body);
    assert!(
        r.body
            .contains("expired or was not started in this browser")
    );
    assert!(!b.cookies.contains_key("gh_admin"));
}

/// The text between `start` and the next `<` in a page.
fn text_after(page: &Page, start: &str) -> Option<String> {
    let rest = page.body.split(start).nth(1)?;
    Some(rest[..rest.find('<')?].to_string())
}

async fn client_credentials(s: &TestServer, id: &str, secret: &str) -> u16 {
    s.http()
        .post(format!("{}/oauth/token", s.url))
        .json(&json!({"grant_type": "client_credentials", "client_id": id,
            "client_secret": secret, "audience": s.audience()}))
        .send()
        .await
        .unwrap()
        .status()
        .as_u16()
}

#[tokio::test]
async fn applications_show_their_secret_once_and_rotate_it() {
    let mut s = server().await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let created = b
        .post_form(
            "/admin/applications",
            &[
                ("_csrf", &token),
                ("name", "Back office"),
                ("app_type", "non_interactive"),
            ],
        )
        .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let id = text_after(&created, "<code id=\"client-id\">").unwrap();
    let secret = text_after(&created, "<pre id=\"client-secret\">").unwrap();
    assert!(secret.len() >= 32);
    // Shown once: the application's page never shows it again.
    let again = b.get(&format!("/admin/applications/{id}")).await;
    assert_eq!(again.status, 200);
    assert!(!again.body.contains(&secret));
    assert!(!again.body.contains("client-secret"));
    // Allowed to call the Management API, to prove the secret works.
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": id, "audience": s.audience(), "scope": ["read:users"]}),
    )
    .await
    .assert_status(201);
    assert_eq!(client_credentials(&s, &id, &secret).await, 200);

    // Edit: callbacks, logout URLs, grant types.
    let saved = b
        .post_form(
            &format!("/admin/applications/{id}"),
            &[
                ("_csrf", &token),
                ("name", "Back office"),
                ("app_type", "regular_web"),
                (
                    "callbacks",
                    "https://app.example.com/cb\nhttps://app.example.com/cb2",
                ),
                ("allowed_logout_urls", "https://app.example.com/bye"),
                ("web_origins", ""),
                ("allowed_origins", "https://*.widgets.example.org"),
                ("cross_origin_authentication", "on"),
                ("grant_client_credentials", "on"),
                ("grant_authorization_code", "on"),
                ("token_endpoint_auth_method", "client_secret_post"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let c = s
        .get(&format!("/api/v2/clients/{id}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(
        c["callbacks"],
        json!(["https://app.example.com/cb", "https://app.example.com/cb2"])
    );
    assert_eq!(
        c["allowed_logout_urls"],
        json!(["https://app.example.com/bye"])
    );
    assert_eq!(
        c["grant_types"],
        json!(["authorization_code", "client_credentials"])
    );
    assert_eq!(
        c["allowed_origins"],
        json!(["https://*.widgets.example.org"])
    );
    assert_eq!(c["cross_origin_authentication"], true);
    let page = b.get(&format!("/admin/applications/{id}")).await;
    assert!(page.body.contains("https://*.widgets.example.org"));
    // A callback that is not a URL is refused with the API's words, and nothing changes.
    let bad = b
        .post_form(
            &format!("/admin/applications/{id}"),
            &[
                ("_csrf", &token),
                ("name", "Back office"),
                ("app_type", "regular_web"),
                ("callbacks", "not a url"),
                ("token_endpoint_auth_method", "client_secret_post"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("id=\"error\""));
    assert_eq!(
        s.get(&format!("/api/v2/clients/{id}"))
            .await
            .assert_status(200)["callbacks"],
        c["callbacks"]
    );

    // Rotate: a new secret, shown once; the old one stops working.
    let rotated = b
        .post_form(
            &format!("/admin/applications/{id}/rotate"),
            &[("_csrf", &token)],
        )
        .await;
    assert_eq!(rotated.status, 200, "{}", rotated.body);
    let new_secret = text_after(&rotated, "<pre id=\"client-secret\">").unwrap();
    assert_ne!(new_secret, secret);
    assert_eq!(client_credentials(&s, &id, &secret).await, 401);
    assert_eq!(client_credentials(&s, &id, &new_secret).await, 200);
}

#[tokio::test]
async fn a_connection_policy_edited_in_the_dashboard_applies_to_new_passwords() {
    let mut s = server().await;
    let conn = s.connection_id(common::DB_CONNECTION).await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let page = b.get(&format!("/admin/connections/{conn}")).await;
    assert!(page.body.contains("<option value=\"good\" selected>"));
    let saved = b
        .post_form(
            &format!("/admin/connections/{conn}"),
            &[
                ("_csrf", &token),
                ("passwordPolicy", "low"),
                ("min_length", "20"),
                ("brute_force_protection", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(c["options"]["passwordPolicy"], json!("low"));
    assert_eq!(
        c["options"]["password_complexity_options"]["min_length"],
        json!(20)
    );
    let short = s
        .post(
            "/api/v2/users",
            json!({"connection": common::DB_CONNECTION, "email": "short@example.com",
                "password": "Sup3r-secret!"}),
        )
        .await;
    let message = short.assert_error(400, "invalid_password");
    assert!(message.contains("PasswordStrengthError"), "{message}");
    // Out of range: refused on the page, nothing saved.
    let bad = b
        .post_form(
            &format!("/admin/connections/{conn}"),
            &[
                ("_csrf", &token),
                ("passwordPolicy", "low"),
                ("min_length", "0"),
            ],
        )
        .await;
    assert_eq!(bad.status, 400);
    assert_eq!(
        s.get(&format!("/api/v2/connections/{conn}"))
            .await
            .assert_status(200)["options"]["password_complexity_options"]["min_length"],
        json!(20)
    );
}

#[tokio::test]
async fn logs_are_filtered_by_type_user_and_date() {
    let mut s = server().await;
    let user = s.create_user("logged@example.com", json!({})).await;
    let id = user["user_id"].as_str().unwrap().to_string();
    let (app_id, app_secret) = s.app_with_grants(&["password"]).await;
    for password in ["wrong-password-1", "wrong-password-2"] {
        s.http()
            .post(format!("{}/oauth/token", s.url))
            .json(
                &json!({"grant_type": "password", "username": "logged@example.com",
                "password": password, "client_id": app_id, "client_secret": app_secret}),
            )
            .send()
            .await
            .unwrap();
    }
    let mut b = Browser::new(&s.url);
    sign_in(&mut b, ADMIN_EMAIL).await;
    let page = b
        .get(&format!("/admin/logs?type=fp&user={}", enc(&id)))
        .await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("2 events"), "{}", page.body);
    // The administrator's own sign-in is the one successful login: counted in the singular.
    let one = b.get("/admin/logs?type=s").await;
    assert!(one.body.contains(">1 event<"), "{}", one.body);
    assert!(page.body.contains("Login failed: wrong password"));
    assert!(
        page.body
            .contains(&format!("href=\"/admin/users/{}\"", enc(&id)))
    );
    let other_type = b.get("/admin/logs?type=fu").await;
    assert!(other_type.body.contains("0 events"), "{}", other_type.body);
    let future = b.get("/admin/logs?type=fp&from=2999-01-01").await;
    assert!(future.body.contains("0 events"));
    let bad_date = b.get("/admin/logs?from=yesterday").await;
    assert_eq!(bad_date.status, 400);
    assert!(bad_date.body.contains("is not a date"));
}

#[tokio::test]
async fn an_upload_without_the_csrf_token_is_refused_before_it_is_stored() {
    let mut s = server().await;
    let conn = s.connection_id(common::DB_CONNECTION).await;
    let mut b = Browser::new(&s.url);
    sign_in(&mut b, ADMIN_EMAIL).await;
    let cookies = b.cookie_header();
    let form = reqwest::multipart::Form::new()
        .text("_csrf", "forged")
        .text("connection_id", conn)
        .part(
            "users",
            reqwest::multipart::Part::bytes(br#"[{"email":"sneaky@example.com"}]"#.to_vec())
                .file_name("users.json"),
        );
    let r = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
        .post(format!("{}/admin/jobs/import", s.url))
        .header("cookie", cookies)
        .multipart(form)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 403);
    // Refused before the upload began: no job exists to import it later.
    assert_eq!(s.count_rows("jobs").await, 0);
    let found = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("sneaky@example.com")
        ))
        .await;
    assert_eq!(found.assert_status(200), &json!([]));
}

#[tokio::test]
async fn the_other_user_actions_do_what_they_say() {
    let mut s = server().await;
    let user = s.create_user("actions@example.com", json!({})).await;
    let id = user["user_id"].as_str().unwrap().to_string();
    let (app_id, app_secret) = s.app_with_grants(&["password"]).await;
    // Ten wrong passwords block the user from this IP.
    for _ in 0..10 {
        s.http()
            .post(format!("{}/oauth/token", s.url))
            .json(
                &json!({"grant_type": "password", "username": "actions@example.com",
                "password": "wrong-password", "client_id": app_id, "client_secret": app_secret}),
            )
            .send()
            .await
            .unwrap();
    }
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let page = b.get(&format!("/admin/users/{}", enc(&id))).await;
    assert!(
        page.body.contains("id=\"brute-force-blocks\""),
        "{}",
        page.body
    );
    assert!(page.body.contains("Lift brute-force blocks"));
    let act = |action: &'static str| format!("/admin/users/{}/{action}", enc(&id));

    let lifted = b.post_form(&act("lift-blocks"), &[("_csrf", &token)]).await;
    assert_eq!(lifted.status, 303);
    let blocks = s
        .get(&format!("/api/v2/user-blocks/{}", enc(&id)))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(blocks["blocked_for"], json!([]));

    let pic = b
        .post_form(
            &act("picture"),
            &[
                ("_csrf", &token),
                ("picture", "https://cdn.example.com/a.png"),
            ],
        )
        .await;
    assert_eq!(pic.status, 303);
    assert_eq!(
        user_json(&mut s, &id).await["picture"],
        json!("https://cdn.example.com/a.png")
    );
    let bad_pic = b
        .post_form(
            &act("picture"),
            &[("_csrf", &token), ("picture", "not a url")],
        )
        .await;
    assert_eq!(bad_pic.status, 400, "{}", bad_pic.body);

    let sent = b
        .post_form(&act("send-verification"), &[("_csrf", &token)])
        .await;
    assert_eq!(sent.status, 303, "{}", sent.body);
    let page = b.follow(sent).await;
    assert!(page.body.contains("Verification email queued."));

    let reset = b.post_form(&act("send-reset"), &[("_csrf", &token)]).await;
    assert_eq!(reset.status, 303, "{}", reset.body);
    let events = s
        .get(&format!("/api/v2/users/{}/logs", enc(&id)))
        .await
        .assert_status(200)
        .clone();
    assert!(
        events
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["type"] == "scpr"),
        "{events}"
    );

    let verified = b
        .post_form(&act("mark-verified"), &[("_csrf", &token)])
        .await;
    assert_eq!(verified.status, 303);
    assert_eq!(user_json(&mut s, &id).await["email_verified"], json!(true));
    // Once verified, the page no longer offers to verify.
    let page = b.get(&format!("/admin/users/{}", enc(&id))).await;
    assert!(!page.body.contains("Mark email verified"));
    assert!(!page.body.contains("Lift brute-force blocks"));

    let unknown = b.post_form(&act("explode"), &[("_csrf", &token)]).await;
    assert_eq!(unknown.status, 404);
}

/// The client secret GitHub issued: no dashboard page and no API answer may show it.
const GITHUB_SECRET: &str = "9f4c1e7a2b8d3f6e0a5c9b1d7e2f8a4c6b0d3e5f";
const GITHUB_CLIENT: &str = "Iv1.8a61f9b3a7aba766";

/// A new application of this name, made through the Management API: its client id.
async fn application(s: &mut TestServer, name: &str) -> String {
    s.post(
        "/api/v2/clients",
        json!({"name": name, "app_type": "regular_web"}),
    )
    .await
    .assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string()
}

/// The connection of this name as the Management API shows it (null when there is none).
async fn connection_named(s: &mut TestServer, name: &str) -> Value {
    s.get(&format!("/api/v2/connections?name={}", enc(name)))
        .await
        .assert_status(200)[0]
        .clone()
}

fn enabled_clients(c: &Value) -> Vec<String> {
    let mut ids: Vec<String> = c["enabled_clients"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

fn sorted(ids: &[&str]) -> Vec<String> {
    let mut ids: Vec<String> = ids.iter().map(|s| s.to_string()).collect();
    ids.sort();
    ids
}

/// Owned form fields as `post_form` takes them.
fn as_form(fields: &[(String, String)]) -> Vec<(&str, &str)> {
    fields
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// Whether the checkbox enabling the connection for this application is ticked on the page.
fn ticked(page: &Page, client_id: &str) -> bool {
    page.body
        .contains(&format!("name=\"enabled_{client_id}\" checked"))
}

#[tokio::test]
async fn a_github_connection_is_made_from_its_preset_and_keeps_its_secret_when_edited() {
    let mut s = server().await;
    // Made out of alphabetical order: the form lists applications by name.
    let members = application(&mut s, "Mitgliederportal São Paulo").await;
    let books = application(&mut s, "Buchhaltung Ærøskøbing").await;
    let till = application(&mut s, "Kassensystem Zürich").await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let mut pages = vec![];

    let list = b.get("/admin/connections").await;
    for label in [
        "Google",
        "GitHub",
        "Microsoft",
        "Apple",
        "Facebook",
        "LinkedIn",
        "OpenID Connect",
    ] {
        assert!(list.body.contains(&format!(">{label}</a>")), "{label}");
    }
    assert!(
        list.body
            .contains("href=\"/admin/connections/new?strategy=github\""),
        "{}",
        list.body
    );
    let form = b.get("/admin/connections/new?strategy=github").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.input("name").as_deref(), Some("github"));
    assert!(form.body.contains("<code>read:user user:email</code>"));
    assert!(form.body.contains(&format!(
        "<code id=\"callback-url\">{}/login/callback<",
        s.url
    )));
    let at = |name: &str| form.body.find(name).unwrap();
    assert!(at("Buchhaltung") < at("Kassensystem") && at("Kassensystem") < at("Mitglieder"));
    assert!(![&members, &books, &till].iter().any(|id| ticked(&form, id)));

    let enable_books = format!("enabled_{books}");
    let enable_till = format!("enabled_{till}");
    let created = b
        .post_form(
            "/admin/connections",
            &[
                ("_csrf", &token),
                ("strategy", "github"),
                ("name", "github"),
                ("display_name", "GitHub für Entwickler·innen"),
                ("client_id", GITHUB_CLIENT),
                ("client_secret", GITHUB_SECRET),
                ("scope", "repo  read:org"),
                ("set_user_root_attributes", "on_first_login"),
                ("non_persistent_attrs", "ip_address\r\nlocation\r\n"),
                (&enable_books, "on"),
                (&enable_till, "on"),
                ("show_as_button", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.follow(created).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Connection created."));
    assert!(
        page.body
            .contains("GitHub <code class=\"muted\">github</code>")
    );
    assert!(page.body.contains(&format!(
        "<code id=\"callback-url\">{}/login/callback<",
        s.url
    )));
    assert!(
        page.body.contains(
            "<p id=\"button-preview\"><a class=\"provider\">Continue with GitHub für Entwickler·innen</a></p>"
        ),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("Shown on the login page of Buchhaltung Ærøskøbing, Kassensystem Zürich.")
    );
    assert!(page.body.contains("leave empty to keep the current secret"));
    assert!(ticked(&page, &books) && ticked(&page, &till) && !ticked(&page, &members));
    pages.push(page);

    let c = connection_named(&mut s, "github").await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["strategy"], "github");
    assert_eq!(c["display_name"], "GitHub für Entwickler·innen");
    assert_eq!(
        c["options"],
        json!({"client_id": GITHUB_CLIENT, "scope": ["repo", "read:org"],
            "set_user_root_attributes": "on_first_login",
            "non_persistent_attrs": ["ip_address", "location"]})
    );
    assert_eq!(enabled_clients(&c), sorted(&[&books, &till]));
    assert_eq!(c["show_as_button"], true);
    assert!(!c.to_string().contains(GITHUB_SECRET), "{c}");
    // Stored sealed, never in clear.
    let sealed = "connections WHERE name = 'github' AND CAST(settings AS TEXT) LIKE '%sealed_secrets%client_secret%'";
    assert_eq!(s.count_rows(sealed).await, 1);
    let in_clear = format!(
        "connections WHERE CAST(settings AS TEXT) LIKE '%{}%'",
        &GITHUB_SECRET[..16]
    );
    assert_eq!(s.count_rows(&in_clear).await, 0);

    // Refused on the form (a deny-listed name past Auth0's 255 characters): the entered
    // values stay on the page, the new secret does not, and nothing changes.
    let too_long = "x".repeat(256);
    let enable_members = format!("enabled_{members}");
    let new_secret = "0a1b2c3d4e5f60718293a4b5c6d7e8f9a0b1c2d3";
    let refused = b
        .post_form(
            &format!("/admin/connections/{id}"),
            &[
                ("_csrf", &token),
                ("display_name", "GitHub (Ærø)"),
                ("client_id", GITHUB_CLIENT),
                ("client_secret", new_secret),
                ("set_user_root_attributes", "never_on_login"),
                ("non_persistent_attrs", &too_long),
                (&enable_members, "on"),
            ],
        )
        .await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("at most 96 attribute names of 1 to 255 characters"),
        "{}",
        refused.body
    );
    assert_eq!(
        refused.input("display_name").as_deref(),
        Some("GitHub (Ærø)")
    );
    assert!(
        refused
            .body
            .contains("<option value=\"never_on_login\" selected>")
    );
    assert!(ticked(&refused, &members) && !ticked(&refused, &books));
    assert!(!refused.body.contains(new_secret));
    pages.push(refused);
    assert_eq!(connection_named(&mut s, "github").await, c);

    // Saved without a secret: the options are replaced, the sealed secret is kept.
    let saved = b
        .post_form(
            &format!("/admin/connections/{id}"),
            &[
                ("_csrf", &token),
                ("display_name", ""),
                ("client_id", GITHUB_CLIENT),
                ("client_secret", ""),
                ("scope", ""),
                ("set_user_root_attributes", "never_on_login"),
                ("non_persistent_attrs", "ip_address"),
                (&enable_members, "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.follow(saved).await;
    assert!(page.body.contains("Connection saved."));
    assert!(page.body.contains("Continue with GitHub</a>"));
    assert!(page.body.contains("Hidden: no login page shows it."));
    assert!(page.body.contains("leave empty to keep the current secret"));
    pages.push(page);
    let c = connection_named(&mut s, "github").await;
    assert_eq!(
        c["options"],
        json!({"client_id": GITHUB_CLIENT, "set_user_root_attributes": "never_on_login",
            "non_persistent_attrs": ["ip_address"]})
    );
    assert_eq!(enabled_clients(&c), sorted(&[&members]));
    assert_eq!(c["show_as_button"], false);
    assert_eq!(s.count_rows(sealed).await, 1);
    assert_eq!(s.count_rows(&in_clear).await, 0);

    // The list shows the provider by name; no page ever showed a secret.
    let list = b.get("/admin/connections").await;
    assert!(
        list.body.contains(&format!(
            "<a href=\"/admin/connections/{id}\">github</a></td><td>GitHub <code class=\"muted\">github</code>"
        )),
        "{}",
        list.body
    );
    assert!(
        list.body
            .contains("Database <code class=\"muted\">auth0</code>")
    );
    pages.push(list);
    pages.push(b.get(&format!("/admin/connections/{id}")).await);
    for page in &pages {
        assert!(!page.body.contains(GITHUB_SECRET), "{}", page.body);
        assert!(!page.body.contains(new_secret), "{}", page.body);
    }
    let api = s
        .get("/api/v2/connections")
        .await
        .assert_status(200)
        .to_string();
    assert!(
        !api.contains(GITHUB_SECRET) && !api.contains("sealed"),
        "{api}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_openid_connect_provider_set_up_in_the_dashboard_logs_users_in() {
    let mut s = server().await;
    let p = Provider::start(None).await;
    let volunteers = app(&mut s, "Portail des bénévoles").await;
    let intranet = app(&mut s, "Intranet Øresund").await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);

    let form = b.get("/admin/connections/new?strategy=oidc").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.input("name").as_deref(), Some(""));
    assert_eq!(form.input("scope").as_deref(), Some("openid profile email"));
    assert!(
        form.body
            .contains("<option value=\"back_channel\" selected>")
    );

    let enable_volunteers = format!("enabled_{}", volunteers.id);
    let discovery = p.discovery_url();
    let create = |discovery_url: &str| -> Vec<(String, String)> {
        [
            ("_csrf", token.as_str()),
            ("strategy", "oidc"),
            ("name", "acme-sso"),
            ("display_name", "Acme Ångström SSO"),
            ("type", "back_channel"),
            ("discovery_url", discovery_url),
            ("client_id", PROVIDER_CLIENT),
            ("client_secret", PROVIDER_SECRET),
            ("scope", "openid profile email"),
            ("set_user_root_attributes", "on_each_login"),
            ("non_persistent_attrs", ""),
            (&enable_volunteers, "on"),
            ("show_as_button", "on"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
    };

    // A provider URL that is neither https nor loopback: the service's words on the form,
    // the entered values kept, the secret not shown back, nothing created.
    let plain_http = "http://idp.example.com/.well-known/openid-configuration";
    let fields = create(plain_http);
    let refused = b.post_form("/admin/connections", &as_form(&fields)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(
        refused
            .body
            .contains("must use https (plain http is allowed only on loopback hosts)"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("options.discovery_url"));
    assert_eq!(refused.input("discovery_url").as_deref(), Some(plain_http));
    assert_eq!(refused.input("name").as_deref(), Some("acme-sso"));
    assert_eq!(
        refused.input("display_name").as_deref(),
        Some("Acme Ångström SSO")
    );
    assert!(ticked(&refused, &volunteers.id) && !ticked(&refused, &intranet.id));
    assert!(!refused.body.contains(PROVIDER_SECRET), "{}", refused.body);
    assert_eq!(connection_named(&mut s, "acme-sso").await, Value::Null);
    // Neither discovery nor the endpoints: refused too.
    let fields = create("");
    let refused = b.post_form("/admin/connections", &as_form(&fields)).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("either discovery_url, or issuer"));
    assert!(!refused.body.contains(PROVIDER_SECRET));
    assert_eq!(connection_named(&mut s, "acme-sso").await, Value::Null);

    // The stand-in provider on 127.0.0.1: nothing is fetched until a login.
    let fields = create(&discovery);
    let created = b.post_form("/admin/connections", &as_form(&fields)).await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.follow(created).await;
    assert!(
        page.body
            .contains("OpenID Connect <code class=\"muted\">oidc</code>")
    );
    assert!(page.body.contains(&format!(
        "<code id=\"callback-url\">{}/login/callback<",
        s.url
    )));
    assert!(
        page.body
            .contains("<a class=\"provider\">Continue with Acme Ångström SSO</a>")
    );
    assert!(
        page.body
            .contains("Shown on the login page of Portail des bénévoles.")
    );
    assert!(!page.body.contains(PROVIDER_SECRET));
    let c = connection_named(&mut s, "acme-sso").await;
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(
        c["options"],
        json!({"type": "back_channel", "discovery_url": discovery, "client_id": PROVIDER_CLIENT,
            "scope": "openid profile email", "set_user_root_attributes": "on_each_login"})
    );
    assert_eq!(enabled_clients(&c), sorted(&[&volunteers.id]));
    assert!(!c.to_string().contains(PROVIDER_SECRET));

    // The login page shows the button the preview showed, to the enabled application only.
    let mut visitor = Browser::new(&s.url);
    let login = visitor.visit(&authorize_url(&volunteers, None)).await;
    assert!(
        login.body.contains("Continue with Acme Ångström SSO</a>"),
        "{}",
        login.body
    );
    let login = visitor.visit(&authorize_url(&intranet, None)).await;
    assert!(!login.body.contains("Continue with Acme"), "{}", login.body);

    // Saved without a secret (fewer scopes, one more application): the provider still gets
    // the secret it issued at the code exchange, so the stored one was kept.
    let enable_intranet = format!("enabled_{}", intranet.id);
    let saved = b
        .post_form(
            &format!("/admin/connections/{id}"),
            &[
                ("_csrf", &token),
                ("display_name", "Acme Ångström SSO"),
                ("type", "back_channel"),
                ("discovery_url", &discovery),
                ("client_id", PROVIDER_CLIENT),
                ("client_secret", ""),
                ("scope", "openid email"),
                ("set_user_root_attributes", "on_each_login"),
                (&enable_volunteers, "on"),
                (&enable_intranet, "on"),
                ("show_as_button", "on"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let c = connection_named(&mut s, "acme-sso").await;
    assert_eq!(c["options"]["scope"], "openid email");
    assert_eq!(c["options"]["type"], "back_channel");
    assert_eq!(enabled_clients(&c), sorted(&[&volunteers.id, &intranet.id]));
    p.set_user(ProviderUser {
        id_token: json!({"sub": "u-4821", "name": "Søren Ødegård", "email": "soren@example.org",
            "email_verified": true})
        .as_object()
        .cloned()
        .unwrap(),
        userinfo: json!({"sub": "u-4821", "name": "Søren Ødegård", "email": "soren@example.org",
            "email_verified": true})
        .as_object()
        .cloned()
        .unwrap(),
        ..Default::default()
    });
    let mut visitor = Browser::new(&s.url);
    let back = login_through(
        &mut visitor,
        &p,
        &authorize_url(&intranet, Some("acme-sso")),
    )
    .await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    let (asked, exchanged) = p.with(|st| {
        (
            st.authorize_requests[0].clone(),
            st.token_requests[0].0.clone(),
        )
    });
    assert_eq!(asked["scope"], "openid email");
    assert_eq!(asked["redirect_uri"], format!("{}/login/callback", s.url));
    assert_eq!(exchanged["client_secret"], PROVIDER_SECRET);
    let page = b.get(&format!("/admin/connections/{id}")).await;
    assert!(!page.body.contains(PROVIDER_SECRET));
    assert!(page.body.contains("leave empty to keep the current secret"));
}

#[tokio::test]
async fn an_apple_connection_takes_the_team_key_id_and_private_key_and_never_shows_the_key() {
    let mut s = server().await;
    let shop = application(&mut s, "Épicerie Fine Lyon").await;
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let form = b.get("/admin/connections/new?strategy=apple").await;
    assert_eq!(form.status, 200, "{}", form.body);
    assert_eq!(form.input("name").as_deref(), Some("apple"));
    for field in ["client_id", "team_id", "kid"] {
        assert_eq!(form.input(field).as_deref(), Some(""), "{field}");
    }
    assert!(
        form.body
            .contains("<textarea id=\"app_secret\" name=\"app_secret\"")
    );
    assert!(!form.body.contains("name=\"client_secret\""));

    // The key's body: what must never be shown again.
    let key_body = "MIGTAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBHkwdwIBAQQgVxq3nQ7C0fW2pY";
    let pem = format!("-----BEGIN PRIVATE KEY-----\n{key_body}\n-----END PRIVATE KEY-----\n");
    let enable_shop = format!("enabled_{shop}");
    let created = b
        .post_form(
            "/admin/connections",
            &[
                ("_csrf", &token),
                ("strategy", "apple"),
                ("name", "apple"),
                ("display_name", ""),
                ("client_id", "com.epicerie-fine.web"),
                ("team_id", "7QK2M9XW4R"),
                ("kid", "ZB4N8C2P6D"),
                ("app_secret", &pem),
                ("set_user_root_attributes", "on_first_login"),
                (&enable_shop, "on"),
                ("show_as_button", "on"),
            ],
        )
        .await;
    assert_eq!(created.status, 303, "{}", created.body);
    let page = b.follow(created).await;
    assert!(
        page.body
            .contains("<a class=\"provider\">Continue with Apple</a>")
    );
    assert!(page.body.contains("leave empty to keep the current secret"));
    assert!(!page.body.contains(key_body), "{}", page.body);
    let c = connection_named(&mut s, "apple").await;
    assert_eq!(
        c["options"],
        json!({"client_id": "com.epicerie-fine.web", "team_id": "7QK2M9XW4R",
            "kid": "ZB4N8C2P6D", "set_user_root_attributes": "on_first_login"})
    );
    assert!(c.get("display_name").is_none(), "{c}");
    assert!(!c.to_string().contains(key_body));
    let sealed = "connections WHERE name = 'apple' AND CAST(settings AS TEXT) LIKE '%sealed_secrets%app_secret%'";
    assert_eq!(s.count_rows(sealed).await, 1);
    let in_clear = format!("connections WHERE CAST(settings AS TEXT) LIKE '%{key_body}%'");
    assert_eq!(s.count_rows(&in_clear).await, 0);
}

#[tokio::test]
async fn an_administrator_links_and_unlinks_an_identity_on_the_users_page() {
    let mut s = server().await;
    // Created out of id order: the secondary first.
    let secondary = s
        .create_user(
            "ōtani.second@example.com",
            json!({"user_metadata": {"old": true}}),
        )
        .await;
    let primary = s.create_user("ōtani@example.com", json!({})).await;
    let (pid, sid) = (
        primary["user_id"].as_str().unwrap().to_string(),
        secondary["user_id"].as_str().unwrap().to_string(),
    );
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let act = |action: &str| format!("/admin/users/{}/{action}", enc(&pid));

    let local = sid.trim_start_matches("auth0|");
    let linked = b
        .post_form(
            &act("link"),
            &[("_csrf", &token), ("provider", "auth0"), ("user_id", local)],
        )
        .await;
    assert_eq!(linked.status, 303, "{}", linked.body);
    let page = b.visit(linked.location.as_deref().unwrap()).await;
    assert!(page.body.contains("Identity linked."), "{}", page.body);
    assert!(
        page.body.contains(local) && page.body.contains("Unlink"),
        "{}",
        page.body
    );
    let ids = user_json(&mut s, &pid).await["identities"].clone();
    assert_eq!(ids[1]["user_id"], local);

    // Linking it again is refused in words on the page, nothing changes.
    let again = b
        .post_form(
            &act("link"),
            &[("_csrf", &token), ("provider", "auth0"), ("user_id", local)],
        )
        .await;
    assert_eq!(again.status, 409, "{}", again.body);
    assert!(again.body.contains("Specified identity already exists."));
    // Without the CSRF token nothing is unlinked.
    let forged = b
        .post_form(&act("unlink"), &[("provider", "auth0"), ("user_id", local)])
        .await;
    assert_eq!(forged.status, 403);

    let unlinked = b
        .post_form(
            &act("unlink"),
            &[("_csrf", &token), ("provider", "auth0"), ("user_id", local)],
        )
        .await;
    assert_eq!(unlinked.status, 303, "{}", unlinked.body);
    let back = user_json(&mut s, &sid).await;
    assert_eq!(back["email"], "ōtani.second@example.com");
    assert!(
        back.get("user_metadata").is_none(),
        "metadata was discarded at linking: {back}"
    );
    assert_eq!(
        user_json(&mut s, &pid).await["identities"]
            .as_array()
            .unwrap()
            .len(),
        1
    );
}

/// Text as maud writes it into a page.
pub(crate) fn escaped(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// The text of the element whose id is `id` (a `<pre>` or `<textarea>`, no markup inside),
/// unescaped, without the newline HTML drops after the start tag.
pub(crate) fn element_text(page: &Page, id: &str, close: &str) -> Option<String> {
    let start = page.body.find(&format!("id=\"{id}\""))?;
    let open = page.body[start..].find('>')? + start + 1;
    let end = page.body[open..].find(close)? + open;
    let text = page.body[open..end]
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&");
    Some(text.strip_prefix('\n').unwrap_or(&text).to_string())
}

/// The custom-database card's form as a browser posts it: the CSRF token, the card's marker,
/// the login editor's source, and the fields given.
fn card_form<'a>(
    token: &'a str,
    login: &'a str,
    fields: &[(&'a str, &'a str)],
) -> Vec<(&'a str, &'a str)> {
    let mut form = vec![
        ("_csrf", token),
        ("custom_database", "on"),
        ("enabledDatabaseCustomization", "on"),
        ("script_login", login),
        ("script_get_user", ""),
        ("args_login", r#"["user@example.com", "password"]"#),
        ("config_new_key", ""),
        ("config_new_value", ""),
    ];
    form.extend_from_slice(fields);
    form
}

/// The secret the configuration holds: no dashboard page may show it but a Try's result.
const CONFIG_SECRET: &str = "sk_test_Zoë";

#[tokio::test]
async fn a_custom_database_is_set_up_in_the_dashboard_and_its_scripts_tried() {
    let mut s = server().await;
    let conn = s
        .post(
            "/api/v2/connections",
            json!({"name": "legacy-db", "strategy": "auth0"}),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let api = |c: &Value| c["options"].clone();
    let mut b = Browser::new(&s.url);
    let home = sign_in(&mut b, ADMIN_EMAIL).await;
    let token = csrf(&home);
    let path = format!("/admin/connections/{conn}");
    let try_path = format!("{path}/try");

    // The card, switched off, each script with its editor and example arguments.
    let page = b.get(&path).await;
    assert_eq!(page.status, 200, "{}", page.body);
    assert!(page.body.contains("Use my own database"), "{}", page.body);
    assert!(page.body.contains("Import users to Gatehouse"));
    assert!(
        !page
            .body
            .contains("name=\"enabledDatabaseCustomization\" checked")
    );
    for (script, example) in [
        ("login", r#"["user@example.com", "password"]"#),
        ("get_user", r#"["user@example.com"]"#),
        (
            "create",
            r#"[{"email": "user@example.com", "password": "password"}]"#,
        ),
        ("verify", r#"["user@example.com"]"#),
        ("change_password", r#"["user@example.com", "new password"]"#),
        ("delete", r#"["123"]"#),
        (
            "change_email",
            r#"["old@example.com", "new@example.com", true]"#,
        ),
    ] {
        assert_eq!(
            element_text(&page, &format!("script_{script}"), "</textarea>").as_deref(),
            Some(""),
            "{script}"
        );
        assert_eq!(
            element_text(&page, &format!("gutter-{script}"), "</pre>").as_deref(),
            Some("1"),
            "{script}"
        );
        assert_eq!(
            element_text(&page, &format!("args_{script}"), "</textarea>").as_deref(),
            Some(example),
            "{script}"
        );
        assert!(page.body.contains(&format!(
            "formaction=\"/admin/connections/{conn}/try#script-{script}\""
        )));
    }

    // Switched on with a login script (CRLF as browsers post it): saved as typed.
    let login = "function login(email, password, callback) {\r\n  callback(null, { user_id: '42', email: email });\r\n}";
    let saved = b.post_form(&path, &card_form(&token, login, &[])).await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let page = b.follow(saved).await;
    assert!(
        page.body.contains("Custom database saved."),
        "{}",
        page.body
    );
    assert!(
        page.body
            .contains("name=\"enabledDatabaseCustomization\" checked")
    );
    let unix = login.replace("\r\n", "\n");
    assert_eq!(
        element_text(&page, "script_login", "</textarea>").as_deref(),
        Some(unix.as_str())
    );
    // The gutter numbers the script's three lines.
    assert_eq!(
        element_text(&page, "gutter-login", "</pre>").as_deref(),
        Some("1\n2\n3")
    );
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c)["enabledDatabaseCustomization"], json!(true));
    assert_eq!(api(&c)["import_mode"], json!(false));
    assert_eq!(api(&c)["customScripts"], json!({"login": unix}));
    // What the card does not edit is kept.
    assert!(api(&c).get("passwordPolicy").is_some(), "{c}");

    // A syntax error on line 3: refused with the script and line, the source kept as typed.
    let broken = "function login(email, password, callback) {\n  var user = { user_id: \"42\" };\n  callback(null, user;\n}";
    let refused = b.post_form(&path, &card_form(&token, broken, &[])).await;
    assert_eq!(refused.status, 400, "{}", refused.body);
    assert!(refused.body.contains("line 3"), "{}", refused.body);
    assert!(
        refused
            .body
            .contains("The login script does not compile (line 3)"),
        "{}",
        refused.body
    );
    assert!(refused.body.contains(&escaped(broken)));
    assert_eq!(
        element_text(&refused, "script_login", "</textarea>").as_deref(),
        Some(broken)
    );
    assert_eq!(
        element_text(&refused, "gutter-login", "</pre>").as_deref(),
        Some("1\n2\n3\n4")
    );
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c)["customScripts"]["login"], json!(unix));

    // A configuration value: its key shown, its value never.
    let added = b
        .post_form(
            &path,
            &card_form(
                &token,
                login,
                &[
                    ("config_new_key", "API_KEY"),
                    ("config_new_value", CONFIG_SECRET),
                ],
            ),
        )
        .await;
    assert_eq!(added.status, 303, "{}", added.body);
    let page = b.follow(added).await;
    assert!(!page.body.contains(CONFIG_SECRET), "{}", page.body);
    assert!(page.body.contains("<code>API_KEY</code>"), "{}", page.body);
    assert!(page.body.contains("••••• (set)"));
    assert!(page.body.contains("name=\"config_value.API_KEY\""));
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    let sealed = api(&c)["configuration"]["API_KEY"].clone();
    assert!(
        sealed.is_string() && !c.to_string().contains(CONFIG_SECRET),
        "{c}"
    );
    // Sealed values appear nowhere on the page either.
    assert!(!page.body.contains(sealed.as_str().unwrap()));

    // Saved again without touching it (its replacement field left empty): it stays.
    let again = b
        .post_form(
            &path,
            &card_form(&token, login, &[("config_value.API_KEY", "")]),
        )
        .await;
    assert_eq!(again.status, 303, "{}", again.body);
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c)["configuration"]["API_KEY"], sealed);

    // A Try of an unsaved source reads it: the value survived both saves.
    let reads_key = "function login(e, p, cb) { cb(null, {user_id: configuration.API_KEY}); }";
    let tried = b
        .post_form(
            &try_path,
            &card_form(&token, reads_key, &[("try", "login")]),
        )
        .await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    let result = element_text(&tried, "trial-result", "</pre>").unwrap_or_default();
    assert!(result.contains(CONFIG_SECRET), "{}", tried.body);
    assert!(tried.body.contains("Ran in "));
    // The edit is kept in its editor, and was not saved.
    assert_eq!(
        element_text(&tried, "script_login", "</textarea>").as_deref(),
        Some(reads_key)
    );
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c)["customScripts"]["login"], json!(unix));

    // The console's lines are shown (configuration values in them redacted).
    let logs = "function login(email, password, callback) {\n  console.log('checking', email, configuration.API_KEY);\n  callback(null, { user_id: 'u1', email: email });\n}";
    let tried = b
        .post_form(
            &try_path,
            &card_form(
                &token,
                logs,
                &[
                    ("try", "login"),
                    ("args_login", r#"["zoë@example.com", "pw"]"#),
                ],
            ),
        )
        .await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    let console = element_text(&tried, "trial-console", "</pre>").unwrap_or_default();
    assert!(
        console.starts_with("checking zoë@example.com"),
        "{}",
        tried.body
    );
    assert!(!tried.body.contains(CONFIG_SECRET), "{}", tried.body);
    let result: Value =
        serde_json::from_str(&element_text(&tried, "trial-result", "</pre>").unwrap()).unwrap();
    assert_eq!(result, json!({"user_id": "u1", "email": "zoë@example.com"}));

    // An error the script calls back with: its name and message.
    let wrong = "function login(email, password, callback) {\n  callback(new WrongUsernameOrPasswordError(email, 'No such user'));\n}";
    let tried = b
        .post_form(&try_path, &card_form(&token, wrong, &[("try", "login")]))
        .await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    let error = element_text(&tried, "trial-error", "</p>").unwrap_or_default();
    assert!(error.contains("WrongUsernameOrPasswordError"), "{error}");
    assert!(error.contains("No such user"), "{error}");

    // Arguments that are not JSON, or not an array: a readable refusal under the script.
    for (args, expected) in [
        (
            "[\"user@example.com\", ",
            "The arguments are not valid JSON",
        ),
        ("{\"email\": \"a@b.c\"}", "must be a JSON array"),
    ] {
        let tried = b
            .post_form(
                &try_path,
                &card_form(&token, login, &[("try", "login"), ("args_login", args)]),
            )
            .await;
        assert_eq!(tried.status, 400, "{}", tried.body);
        let error = element_text(&tried, "trial-error", "</p>").unwrap_or_default();
        assert!(error.contains(expected), "{}", tried.body);
        assert_eq!(
            element_text(&tried, "args_login", "</textarea>").as_deref(),
            Some(args)
        );
    }

    // A new value replaces the old one; then the key is removed; import mode switched on.
    let replaced = b
        .post_form(
            &path,
            &card_form(&token, login, &[("config_value.API_KEY", "sk_live_2")]),
        )
        .await;
    assert_eq!(replaced.status, 303, "{}", replaced.body);
    let tried = b
        .post_form(
            &try_path,
            &card_form(&token, reads_key, &[("try", "login")]),
        )
        .await;
    let result = element_text(&tried, "trial-result", "</pre>").unwrap_or_default();
    assert!(result.contains("sk_live_2"), "{}", tried.body);
    let removed = b
        .post_form(
            &path,
            &card_form(
                &token,
                login,
                &[("config_remove.API_KEY", "on"), ("import_mode", "on")],
            ),
        )
        .await;
    assert_eq!(removed.status, 303, "{}", removed.body);
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c).get("configuration"), None, "{c}");
    assert_eq!(api(&c)["import_mode"], json!(true));
    assert_eq!(api(&c)["customScripts"]["login"], json!(unix));

    // The settings form above the card leaves the scripts alone.
    let policy = b
        .post_form(
            &path,
            &[
                ("_csrf", &token),
                ("passwordPolicy", "low"),
                ("brute_force_protection", "on"),
            ],
        )
        .await;
    assert_eq!(policy.status, 303, "{}", policy.body);
    let c = s
        .get(&format!("/api/v2/connections/{conn}"))
        .await
        .assert_status(200)
        .clone();
    assert_eq!(api(&c)["passwordPolicy"], json!("low"));
    assert_eq!(api(&c)["customScripts"]["login"], json!(unix));
    assert_eq!(api(&c)["enabledDatabaseCustomization"], json!(true));

    // Saves and trials are in the tenant log with the administrator who made them.
    let events = s
        .get(&format!("/api/v2/logs?q={}&per_page=100", enc("type:sapi")))
        .await
        .assert_status(200)
        .to_string();
    assert!(
        events.contains(&format!("Dashboard: POST {try_path}")),
        "{events}"
    );
    assert!(
        events.contains(&format!("Dashboard: POST {path}")),
        "{events}"
    );
    assert!(!events.contains(CONFIG_SECRET), "{events}");
}
