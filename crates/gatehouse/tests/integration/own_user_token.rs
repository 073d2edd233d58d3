//! The user's own token on the Management API (Auth0's `current_user` scopes): issued through
//! a real `/authorize` login (code + PKCE, implicit), refreshed, and through the password
//! grant; it carries only the user's own scopes and opens only the user's own `/users/{id}`
//! routes: read, `user_metadata` only, linking with `link_with` and unlinking.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::Browser;
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

const CALLBACK: &str = "https://spa.example.com/callback";
const PASSWORD: &str = "Sup3r-secret!";
// RFC 7636's example verifier and its S256 challenge.
const VERIFIER: &str = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";
const ASKED: &str = "openid read:current_user update:current_user_metadata update:current_user_identities read:users offline_access";

fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn random_email(tag: &str) -> String {
    format!(
        "{tag}-{}@own-token.example",
        gatehouse_crypto::random::hex(6).unwrap()
    )
}

/// A single-page application (public client, PKCE) that a client grant would also allow
/// `read:users` and `update:users`: the user's token must get neither.
async fn spa(s: &mut TestServer) -> String {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Ślimak SPA", "app_type": "spa", "token_endpoint_auth_method": "none",
                "callbacks": [CALLBACK],
                "grant_types": ["authorization_code", "implicit", "refresh_token"]}),
        )
        .await;
    let id = c.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    let audience = s.audience();
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": id, "audience": audience, "scope": ["read:users", "update:users"]}),
    )
    .await
    .assert_status(201);
    id
}

fn authorize_url(s: &TestServer, client_id: &str, response_type: &str, scope: &str) -> String {
    format!(
        "/authorize?response_type={}&client_id={client_id}&redirect_uri={}&scope={}&audience={}&state=st-%C5%BC&nonce=n-0S6&code_challenge={CHALLENGE}&code_challenge_method=S256",
        enc(response_type),
        enc(CALLBACK),
        enc(scope),
        enc(&s.audience()),
    )
}

/// Logs `email` in through the hosted page with code + PKCE and exchanges the code.
async fn login_with_code(s: &TestServer, client_id: &str, email: &str, scope: &str) -> Value {
    let mut b = Browser::new(&s.url);
    let page = b.visit(&authorize_url(s, client_id, "code", scope)).await;
    assert_eq!(page.status, 200, "login page: {}", page.body);
    let back = b.submit_login(&page, email, PASSWORD).await;
    assert_eq!(back.callback_param("state").as_deref(), Some("st-ż"));
    let code = back.callback_param("code").expect("a code at the callback");
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "authorization_code", "client_id": client_id,
                "code": code, "redirect_uri": CALLBACK, "code_verifier": VERIFIER}),
            ),
        )
        .await;
    r.assert_status(200).clone()
}

async fn as_user(
    s: &TestServer,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> common::Response {
    s.raw(method, path, Some(token), body).await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_users_own_token_reads_and_changes_only_its_own_user() {
    let mut s = TestServer::start().await;
    let client_id = spa(&mut s).await;
    let me = s
        .create_user(
            &random_email("zofia"),
            json!({"name": "Zofia Łukasiewicz", "user_metadata": {"język": "pl"},
                "app_metadata": {"plan": "gold"}}),
        )
        .await;
    let other = s.create_user(&random_email("other"), json!({})).await;
    let my_id = me["user_id"].as_str().unwrap().to_string();
    let other_id = other["user_id"].as_str().unwrap().to_string();
    let my_path = format!("/api/v2/users/{}", enc(&my_id));
    let other_path = format!("/api/v2/users/{}", enc(&other_id));

    let tokens = login_with_code(&s, &client_id, me["email"].as_str().unwrap(), ASKED).await;
    let token = tokens["access_token"].as_str().unwrap().to_string();
    let granted = "openid read:current_user update:current_user_metadata update:current_user_identities offline_access";
    assert_eq!(
        tokens["scope"], granted,
        "never read:users, whatever the grants"
    );
    let at = claims(&token);
    assert_eq!(at["sub"], my_id.as_str());
    assert_eq!(at["azp"], client_id.as_str());
    assert_eq!(
        at["scope"],
        "openid read:current_user update:current_user_metadata update:current_user_identities"
    );
    assert!(at["aud"].as_array().unwrap().contains(&json!(s.audience())));

    // Reading: its own user only.
    let r = as_user(&s, &token, Method::GET, &my_path, None).await;
    assert_eq!(r.assert_status(200)["email"], me["email"]);
    let msg = as_user(&s, &token, Method::GET, &other_path, None)
        .await
        .assert_error(403, "unowned_resource");
    assert_eq!(
        msg,
        "User to be acted on does not match subject in bearer token."
    );
    for path in [
        "/api/v2/users".to_string(),
        format!(
            "/api/v2/users-by-email?email={}",
            enc(me["email"].as_str().unwrap())
        ),
        format!("{my_path}/roles"),
        format!("{my_path}/permissions"),
        format!("{my_path}/logs"),
        "/api/v2/clients".to_string(),
        "/api/v2/tenants/settings".to_string(),
    ] {
        as_user(&s, &token, Method::GET, &path, None)
            .await
            .assert_error(403, "insufficient_scope");
    }
    as_user(&s, &token, Method::DELETE, &my_path, None)
        .await
        .assert_error(403, "insufficient_scope");

    // Changing: user_metadata of its own user, nothing else.
    let r = as_user(
        &s,
        &token,
        Method::PATCH,
        &my_path,
        Some(json!({"user_metadata": {"motyw": "ciemny", "język": null}})),
    )
    .await;
    assert_eq!(
        r.assert_status(200)["user_metadata"],
        json!({"motyw": "ciemny"})
    );
    for body in [
        json!({"app_metadata": {"plan": "platinum"}}),
        json!({"email": random_email("taken-over")}),
        json!({"user_metadata": {"motyw": "jasny"}, "email_verified": true}),
        json!({"password": "Pwn3d-Passw0rd!", "connection": common::DB_CONNECTION}),
        json!({"blocked": false}),
    ] {
        as_user(&s, &token, Method::PATCH, &my_path, Some(body.clone()))
            .await
            .assert_error(403, "insufficient_scope");
    }
    as_user(
        &s,
        &token,
        Method::PATCH,
        &other_path,
        Some(json!({"user_metadata": {"x": 1}})),
    )
    .await
    .assert_error(403, "unowned_resource");
    let now = s.get(&my_path).await;
    let now = now.assert_status(200);
    assert_eq!(now["user_metadata"], json!({"motyw": "ciemny"}));
    assert_eq!(now["app_metadata"], json!({"plan": "gold"}));
    assert_eq!(now["email"], me["email"]);
    assert!(s.get(&other_path).await.body["user_metadata"].is_null());

    // The write is logged with its user.
    let logs = s
        .get(&format!(
            "/api/v2/logs?q={}",
            enc(&format!("client_id:\"{client_id}\" AND type:sapi"))
        ))
        .await;
    let logs = logs.assert_status(200).as_array().unwrap().clone();
    assert!(
        logs.iter().any(|e| e["user_id"] == my_id.as_str()),
        "{logs:?}"
    );

    // A token without update:current_user_metadata changes nothing.
    let reader = login_with_code(
        &s,
        &client_id,
        me["email"].as_str().unwrap(),
        "openid read:current_user",
    )
    .await;
    let reader = reader["access_token"].as_str().unwrap();
    as_user(
        &s,
        reader,
        Method::PATCH,
        &my_path,
        Some(json!({"user_metadata": {"motyw": "jasny"}})),
    )
    .await
    .assert_error(403, "insufficient_scope");
    as_user(&s, reader, Method::GET, &my_path, None)
        .await
        .assert_status(200);

    // The refresh token of the login gives the same narrow token again.
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "refresh_token", "client_id": client_id,
                "refresh_token": tokens["refresh_token"]}),
            ),
        )
        .await;
    let refreshed = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(claims(&refreshed)["scope"], at["scope"]);
    as_user(&s, &refreshed, Method::GET, &my_path, None)
        .await
        .assert_status(200);
    as_user(&s, &refreshed, Method::GET, "/api/v2/users", None)
        .await
        .assert_error(403, "insufficient_scope");

    // A user token is no impersonator either.
    let r = as_user(
        &s,
        &token,
        Method::POST,
        &format!("/users/{}/impersonate", enc(&other_id)),
        Some(json!({"protocol": "oauth2", "impersonator_id": my_id, "client_id": client_id})),
    )
    .await;
    r.assert_error(403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_user_links_and_unlinks_its_own_accounts() {
    let mut s = TestServer::start().await;
    let client_id = spa(&mut s).await;
    let primary = s.create_user(&random_email("główny"), json!({})).await;
    let secondary = s
        .create_user(&random_email("drugi"), json!({"name": "Drugi Łoś"}))
        .await;
    let stranger = s.create_user(&random_email("obcy"), json!({})).await;
    let primary_id = primary["user_id"].as_str().unwrap().to_string();
    let secondary_id = secondary["user_id"].as_str().unwrap().to_string();
    let stranger_id = stranger["user_id"].as_str().unwrap().to_string();

    let token = login_with_code(&s, &client_id, primary["email"].as_str().unwrap(), ASKED).await;
    let token = token["access_token"].as_str().unwrap().to_string();
    // The second account proves itself with its ID token for the same application.
    let second = login_with_code(
        &s,
        &client_id,
        secondary["email"].as_str().unwrap(),
        "openid email",
    )
    .await;
    let id_token = second["id_token"].as_str().unwrap().to_string();

    let link = |id: &str| format!("/api/v2/users/{}/identities", enc(id));
    // Only by ID token: naming the account is for update:users.
    as_user(
        &s,
        &token,
        Method::POST,
        &link(&primary_id),
        Some(json!({"provider": "auth0", "user_id": secondary_id.trim_start_matches("auth0|")})),
    )
    .await
    .assert_error(403, "insufficient_scope");
    as_user(
        &s,
        &token,
        Method::POST,
        &link(&stranger_id),
        Some(json!({"link_with": id_token})),
    )
    .await
    .assert_error(403, "unowned_resource");
    let r = as_user(
        &s,
        &token,
        Method::POST,
        &link(&primary_id),
        Some(json!({"link_with": id_token})),
    )
    .await;
    let identities = r.assert_status(201).as_array().unwrap().clone();
    assert_eq!(identities.len(), 2, "{identities:?}");
    assert_eq!(
        identities[1]["user_id"],
        secondary_id.trim_start_matches("auth0|")
    );
    s.get(&format!("/api/v2/users/{}", enc(&secondary_id)))
        .await
        .assert_status(404);

    // Unlinking: its own identities only.
    let unlink = |id: &str| {
        format!(
            "/api/v2/users/{}/identities/auth0/{}",
            enc(id),
            enc(secondary_id.trim_start_matches("auth0|"))
        )
    };
    as_user(&s, &token, Method::DELETE, &unlink(&stranger_id), None)
        .await
        .assert_error(403, "unowned_resource");
    let r = as_user(&s, &token, Method::DELETE, &unlink(&primary_id), None).await;
    assert_eq!(r.assert_status(200).as_array().unwrap().len(), 1);
    s.get(&format!("/api/v2/users/{}", enc(&secondary_id)))
        .await
        .assert_status(200);

    // A token without update:current_user_identities links nothing.
    let reader = login_with_code(
        &s,
        &client_id,
        primary["email"].as_str().unwrap(),
        "openid read:current_user",
    )
    .await;
    as_user(
        &s,
        reader["access_token"].as_str().unwrap(),
        Method::POST,
        &link(&primary_id),
        Some(json!({"link_with": id_token})),
    )
    .await
    .assert_error(403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread")]
async fn implicit_and_password_grants_give_the_same_narrow_token() {
    let mut s = TestServer::start().await;
    let client_id = spa(&mut s).await;
    let me = s.create_user(&random_email("józef"), json!({})).await;
    let email = me["email"].as_str().unwrap().to_string();
    let my_path = format!("/api/v2/users/{}", enc(me["user_id"].as_str().unwrap()));

    // Implicit: the access token comes in the fragment.
    let mut b = Browser::new(&s.url);
    let page = b
        .visit(&authorize_url(
            &s,
            &client_id,
            "id_token token",
            "openid read:current_user read:users update:users",
        ))
        .await;
    let back = b.submit_login(&page, &email, PASSWORD).await;
    let token = back
        .callback_param("access_token")
        .expect("an access token");
    assert_eq!(claims(&token)["scope"], "openid read:current_user");
    as_user(&s, &token, Method::GET, &my_path, None)
        .await
        .assert_status(200);
    as_user(&s, &token, Method::GET, "/api/v2/users", None)
        .await
        .assert_error(403, "insufficient_scope");

    // The password grant, as Auth0's migration guide shows it.
    let (cid, secret) = s.app_with_grants(&["password"]).await;
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(
                json!({"grant_type": "password", "client_id": cid, "client_secret": secret,
                "username": email, "password": PASSWORD, "audience": s.audience(),
                "scope": "read:current_user read:users create:users"}),
            ),
        )
        .await;
    let r = r.assert_status(200);
    assert_eq!(r["scope"], "read:current_user");
    let token = r["access_token"].as_str().unwrap();
    as_user(&s, token, Method::GET, &my_path, None)
        .await
        .assert_status(200);
    as_user(&s, token, Method::POST, "/api/v2/users",
        Some(json!({"connection": common::DB_CONNECTION, "email": random_email("nowy"), "password": PASSWORD})))
        .await
        .assert_error(403, "insufficient_scope");
}
