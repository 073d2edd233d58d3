//! Logging in through upstream identity providers (issue 16): a stand-in OpenID Connect
//! provider on 127.0.0.1 (`common::provider`) behind an `oidc` connection, from the
//! application's `/authorize` to its callback and the code exchange; the checks on the way
//! back (state bound to the browser, replay, nonce, signature, key rotation, provider down); the profile kept in
//! step by `set_user_root_attributes`; deny-listed attributes; enabled applications.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::browser::{Browser, Page};
use common::provider::{
    CLIENT_ID as PROVIDER_CLIENT, CLIENT_SECRET as PROVIDER_SECRET, Provider, ProviderAnswer,
    ProviderUser,
};
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Map, Value, json};

const CALLBACK: &str = "https://app.example.com/callback";

fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

pub struct App {
    pub id: String,
    pub secret: String,
}

pub async fn app(s: &mut TestServer, name: &str) -> App {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": name, "callbacks": [CALLBACK], "grant_types": ["authorization_code"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    App {
        id: c["client_id"].as_str().unwrap().into(),
        secret: c["client_secret"].as_str().unwrap().into(),
    }
}

/// An `oidc` connection to the stand-in, enabled for `apps`, with extra options.
pub(crate) async fn oidc_connection(
    s: &mut TestServer,
    p: &Provider,
    name: &str,
    apps: &[&App],
    extra: Value,
) -> Value {
    // No `type`: with a client secret the connection settles on the back channel.
    let mut options = json!({"discovery_url": p.discovery_url(),
        "client_id": PROVIDER_CLIENT, "client_secret": PROVIDER_SECRET, "scope": "openid profile email"});
    for (k, v) in extra.as_object().unwrap() {
        options[k] = v.clone();
    }
    let enabled: Vec<&str> = apps.iter().map(|a| a.id.as_str()).collect();
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": name, "strategy": "oidc", "display_name": "Acme Staff", "enabled_clients": enabled, "options": options}),
        )
        .await;
    r.assert_status(201).clone()
}

pub fn authorize_url(app: &App, connection: Option<&str>) -> String {
    let mut url = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope=openid%20profile%20email&state=app-state%2F7&nonce=app-nonce",
        app.id,
        enc(CALLBACK)
    );
    if let Some(c) = connection {
        url.push_str(&format!("&connection={}", enc(c)));
    }
    url
}

/// Back from the provider: its redirect or its posted form, followed on the server.
pub async fn back_from(b: &mut Browser, answer: ProviderAnswer) -> Page {
    match answer {
        ProviderAnswer::Redirect(url) => b.visit(&url).await,
        ProviderAnswer::FormPost { action, fields } => {
            let fields: Vec<(&str, &str)> = fields
                .iter()
                .map(|(k, v)| (k.as_str(), v.as_str()))
                .collect();
            let p = b.post_form(&action, &fields).await;
            b.follow(p).await
        }
    }
}

/// From the application's `/authorize` to the provider and back: the page the server ends
/// on (the application's callback redirect, or an error page).
pub async fn login_through(b: &mut Browser, p: &Provider, url: &str) -> Page {
    let page = b.visit(url).await;
    let to = page
        .location
        .clone()
        .unwrap_or_else(|| panic!("not sent to the provider: {} {}", page.status, page.body));
    back_from(b, p.authorize(&to).await).await
}

pub async fn exchange(s: &TestServer, app: &App, code: &str) -> Value {
    let body = json!({"grant_type": "authorization_code", "client_id": app.id, "client_secret": app.secret,
        "code": code, "redirect_uri": CALLBACK});
    let r = s.raw(Method::POST, "/oauth/token", None, Some(body)).await;
    r.assert_status(200).clone()
}

pub(crate) fn staff_user(sub: &str, name: &str, email: &str) -> ProviderUser {
    ProviderUser {
        id_token: obj(json!({"sub": sub, "name": name, "email": email, "email_verified": true})),
        userinfo: obj(
            json!({"sub": sub, "name": name, "email": email, "email_verified": true,
            "given_name": name.split(' ').next().unwrap(), "locale": "sv-SE", "groups": ["staff", "ops"]}),
        ),
        ..Default::default()
    }
}

async fn user_count(s: &mut TestServer) -> usize {
    s.get("/api/v2/users?per_page=100")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len()
}

async fn logs(s: &mut TestServer) -> Vec<Value> {
    s.get("/api/v2/logs?per_page=100&sort=date:1")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .clone()
}

#[tokio::test(flavor = "multi_thread")]
async fn oidc_login_creates_the_user_and_the_application_gets_its_tokens() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user(
        "248289761001",
        "Zoë Ångström",
        "zoe.angstrom@example.org",
    ));

    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert_eq!(
        back.callback_param("state").as_deref(),
        Some("app-state/7"),
        "{back:?}"
    );
    let code = back
        .callback_param("code")
        .expect("a code for the application");
    let tokens = exchange(&s, &shop, &code).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], "oidc|acme-sso|248289761001");
    assert_eq!(id["email"], "zoe.angstrom@example.org");
    assert_eq!(id["name"], "Zoë Ångström");
    assert_eq!(id["nonce"], "app-nonce");

    // The provider saw PKCE (its discovery lists S256) and our client secret, posted.
    let (asked, form) = p.with(|st| {
        (
            st.authorize_requests[0].clone(),
            st.token_requests[0].clone(),
        )
    });
    assert_eq!(asked["code_challenge_method"], "S256");
    assert_eq!(asked["redirect_uri"], format!("{}/login/callback", s.url));
    assert!(asked["nonce"].len() >= 16 && asked["state"].len() > 32);
    assert_eq!(form.0["client_secret"], PROVIDER_SECRET);
    assert!(!form.1, "client_secret_post, not basic");
    assert!(form.0["code_verifier"].len() >= 43);

    let narrow = s.token_with_scope(Some("read:users")).await;
    let user = s
        .raw(
            Method::GET,
            "/api/v2/users/oidc%7Cacme-sso%7C248289761001",
            Some(&narrow),
            None,
        )
        .await;
    let user = user.assert_status(200).clone();
    assert_eq!(
        user["identities"],
        json!([{"connection": "acme-sso", "isSocial": false, "provider": "oidc", "user_id": "acme-sso|248289761001"}])
    );
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["given_name"], "Zoë");
    assert_eq!(user["nickname"], "zoe.angstrom");
    assert_eq!(user["locale"], "sv-SE", "other claims stay at the root");
    assert_eq!(user["groups"], json!(["staff", "ops"]));
    assert!(
        user.get("access_token").is_none() && user["identities"][0].get("access_token").is_none()
    );
    // With read:user_idp_tokens (the bootstrap client has it) the provider's tokens show.
    let full = s.get("/api/v2/users/oidc%7Cacme-sso%7C248289761001").await;
    let tokens = &full.assert_status(200)["identities"][0];
    assert_eq!(tokens["expires_in"], 3600);
    assert!(
        tokens["access_token"]
            .as_str()
            .is_some_and(|t| t.len() > 10)
            && tokens["refresh_token"].is_string()
    );
    assert_eq!(
        s.count_rows("users WHERE idp_tokens LIKE '%access_token%'")
            .await,
        0,
        "sealed at rest"
    );
    assert_eq!(user["logins_count"], 1);

    // The second login finds the same user.
    let mut b2 = Browser::new(&s.url);
    let back = login_through(&mut b2, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert!(back.callback_param("code").is_some());
    assert_eq!(user_count(&mut s).await, 1);
    let user = s.get("/api/v2/users/oidc%7Cacme-sso%7C248289761001").await;
    assert_eq!(user.assert_status(200)["logins_count"], 2);
    let logged: Vec<Value> = logs(&mut s)
        .await
        .into_iter()
        .filter(|e| e["type"] == "s")
        .collect();
    assert_eq!(logged.len(), 2);
    assert_eq!(logged[0]["connection"], "acme-sso");
    assert_eq!(logged[0]["user_id"], "oidc|acme-sso|248289761001");

    // The SSO session now serves the application without the provider.
    let again = b.visit(&authorize_url(&shop, Some("acme-sso"))).await;
    assert!(again.callback_param("code").is_some(), "{again:?}");
    assert_eq!(p.with(|st| st.authorize_requests.len()), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_login_page_offers_the_providers_the_application_may_use() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    let other = app(&mut s, "Other").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    oidc_connection(&mut s, &p, "hidden-sso", &[&shop, &other], json!({})).await;
    let hidden = s.connection_id("hidden-sso").await;
    s.patch(
        &format!("/api/v2/connections/{hidden}"),
        json!({"show_as_button": false}),
    )
    .await
    .assert_status(200);
    p.set_user(staff_user("u-77", "Maëlle Durand", "maelle@example.org"));

    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&shop, None)).await;
    assert_eq!(login.status, 200);
    assert!(
        login.body.contains("Continue with Acme Staff"),
        "{}",
        login.body
    );
    assert!(!login.body.contains("hidden-sso"));
    let href = common::provider::between_pub(&login.body, "href=\"/u/login/upstream?", "\"")
        .expect("a button");
    let to = b
        .get(&format!("/u/login/upstream?{}", href.replace("&amp;", "&")))
        .await;
    let back = back_from(&mut b, p.authorize(to.location.as_deref().unwrap()).await).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");

    // Another application is not offered a connection it is not enabled on.
    let mut b = Browser::new(&s.url);
    let login = b.visit(&authorize_url(&other, None)).await;
    assert!(!login.body.contains("Continue with"), "{}", login.body);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_bad_state_or_a_replayed_callback_logs_nobody_in() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user("u-1", "Ana Lima", "ana@example.org"));

    let mut b = Browser::new(&s.url);
    let at_provider = b.visit(&authorize_url(&shop, Some("acme-sso"))).await;
    let ProviderAnswer::Redirect(callback) =
        p.authorize(at_provider.location.as_deref().unwrap()).await
    else {
        panic!("a redirect")
    };
    let state = common::browser::param(&callback, "state").unwrap();
    let code = common::browser::param(&callback, "code").unwrap();

    // A state that is not ours, or changed by one character, is refused without a login.
    // The changed character must differ from the one it replaces: base64url's last character
    // of a 32-byte value is one of 16, so a fixed 'A' left the state unchanged 1 run in 16.
    let last = if state.ends_with('A') { 'B' } else { 'A' };
    for bad in [
        "forged".to_string(),
        format!("{}{last}", &state[..state.len() - 1]),
    ] {
        let page = b
            .get(&format!("/login/callback?code={code}&state={}", enc(&bad)))
            .await;
        assert_eq!(page.status, 400, "{}", page.body);
    }
    let page = b.get(&format!("/login/callback?code={code}")).await;
    assert_eq!(page.status, 400);

    // Login CSRF: the answer to this login opened in another browser (a victim handed the
    // link, with or without a session of its own here) is refused, and stays usable by the
    // browser that left for the provider.
    let mut victim = Browser::new(&s.url);
    let victims_page = victim.visit(&authorize_url(&shop, None)).await;
    assert_eq!(
        victims_page.status, 200,
        "the victim has its own CSRF cookie now"
    );
    for stranger in [&mut victim, &mut Browser::new(&s.url)] {
        let page = stranger.visit(&callback).await;
        assert_eq!(page.status, 400, "{page:?}");
        assert!(
            page.body.contains("started in another browser"),
            "{}",
            page.body
        );
    }
    assert_eq!(p.with(|st| st.token_requests.len()), 0);

    let first = b.visit(&callback).await;
    assert!(first.callback_param("code").is_some(), "{first:?}");
    // The same answer again (a replay, even by the same browser) is refused.
    let replay = b.visit(&callback).await;
    assert_eq!(replay.status, 400, "{replay:?}");
    assert!(replay.body.contains("already completed"), "{}", replay.body);
    assert_eq!(
        p.with(|st| st.token_requests.len()),
        1,
        "a replay never reaches the provider"
    );
    let user = s.get("/api/v2/users/oidc%7Cacme-sso%7Cu-1").await;
    assert_eq!(user.assert_status(200)["logins_count"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn tokens_with_a_wrong_nonce_or_an_unpublished_key_are_refused() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user("u-2", "Bo Ek", "bo@example.org"));

    p.with(|st| st.wrong_nonce = true);
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("access_denied"),
        "{back:?}"
    );
    assert!(
        back.callback_param("error_description")
            .unwrap()
            .contains("nonce")
    );
    assert_eq!(back.callback_param("state").as_deref(), Some("app-state/7"));

    p.with(|st| {
        st.wrong_nonce = false;
        st.rogue_key = Some(common::provider::other_key(&common::provider::current_key(
            st,
        )));
    });
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("access_denied"),
        "{back:?}"
    );
    assert!(
        back.callback_param("error_description")
            .unwrap()
            .contains("ID token")
    );

    assert_eq!(user_count(&mut s).await, 0, "nothing stored");
    let failures: Vec<Value> = logs(&mut s)
        .await
        .into_iter()
        .filter(|e| e["type"] == "f")
        .collect();
    assert_eq!(failures.len(), 2);
    assert_eq!(failures[0]["connection"], "acme-sso");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_rotates_its_key_is_followed() {
    let mut s = TestServer::start_with_manual_clock().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user("u-3", "Chen Wei", "chen@example.org"));

    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    assert_eq!(p.with(|st| st.jwks_fetches), 1);

    // The next login is signed with a key the cached set does not have: fetched again.
    p.rotate_key();
    s.clock().advance(11_000);
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    assert_eq!(p.with(|st| st.jwks_fetches), 2);

    // A key nobody publishes is not fetched for again and again: once per ten seconds.
    p.with(|st| {
        st.rogue_key = Some(common::provider::other_key(&common::provider::current_key(
            st,
        )))
    });
    for _ in 0..3 {
        let mut b = Browser::new(&s.url);
        let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
        assert_eq!(
            back.callback_param("error").as_deref(),
            Some("access_denied")
        );
    }
    assert_eq!(
        p.with(|st| st.jwks_fetches),
        2,
        "recently fetched: not again"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_provider_that_is_down_is_an_error_page_and_nothing_is_stored() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user("u-4", "Dara Ní Bhriain", "dara@example.org"));

    let mut b = Browser::new(&s.url);
    let at_provider = b.visit(&authorize_url(&shop, Some("acme-sso"))).await;
    let answer = p.authorize(at_provider.location.as_deref().unwrap()).await;
    p.with(|st| st.down = true);
    let page = back_from(&mut b, answer).await;
    assert_eq!(page.status, 502, "{page:?}");
    assert!(
        page.body.contains("could not reach Acme Staff"),
        "{}",
        page.body
    );
    assert!(page.location.is_none());
    assert_eq!(user_count(&mut s).await, 0);
    let f: Vec<Value> = logs(&mut s)
        .await
        .into_iter()
        .filter(|e| e["type"] == "f")
        .collect();
    assert_eq!(f.len(), 1);

    // Down before the user even leaves: the same page, not a 500.
    let mut b = Browser::new(&s.url);
    let down = Provider::start(None).await;
    oidc_connection(&mut s, &down, "flaky-sso", &[&shop], json!({})).await;
    drop(down);
    let page = b.visit(&authorize_url(&shop, Some("flaky-sso"))).await;
    assert_eq!(page.status, 502, "{page:?}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_refusal_at_the_provider_reaches_the_application() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.with(|st| st.deny = Some("access_denied".into()));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert!(back.location.as_deref().unwrap().starts_with(CALLBACK));
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("access_denied")
    );
    assert_eq!(
        back.callback_param("error_description").as_deref(),
        Some("The user has denied your application access.")
    );
    assert_eq!(back.callback_param("state").as_deref(), Some("app-state/7"));
    let f: Vec<Value> = logs(&mut s)
        .await
        .into_iter()
        .filter(|e| e["type"] == "f")
        .collect();
    assert_eq!(f.len(), 1);
    assert_eq!(f[0]["connection"], "acme-sso");
}

#[tokio::test(flavor = "multi_thread")]
async fn deny_listed_attributes_reach_that_logins_tokens_but_are_never_stored() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    oidc_connection(
        &mut s,
        &p,
        "acme-sso",
        &[&shop],
        json!({"non_persistent_attrs": ["https://acme.example/temporary_idtoken", "family_name", "name"]}),
    )
    .await;
    let mut user = staff_user("u-5", "Ebba Holm", "ebba@example.org");
    user.id_token.insert(
        "https://acme.example/temporary_idtoken".into(),
        json!("tmp-Ω-4711"),
    );
    user.id_token
        .insert("family_name".into(), json!("Holm-Secret"));
    p.set_user(user);

    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    let tokens = exchange(&s, &shop, &back.callback_param("code").unwrap()).await;
    let id = claims(tokens["id_token"].as_str().unwrap());
    assert_eq!(id["https://acme.example/temporary_idtoken"], "tmp-Ω-4711");
    assert_eq!(id["family_name"], "Holm-Secret");
    assert_ne!(
        id["name"], "Ebba Holm",
        "a denied name stays out of tokens, as in Auth0"
    );

    let stored = s
        .get("/api/v2/users/oidc%7Cacme-sso%7Cu-5")
        .await
        .assert_status(200)
        .to_string();
    let listed = s
        .get("/api/v2/users?q=ebba")
        .await
        .assert_status(200)
        .to_string();
    let logged = serde_json::to_string(&logs(&mut s).await).unwrap();
    let (_, exported) = crate::jobs::export(&mut s, json!({"format": "json"})).await;
    assert!(
        exported.contains("\"locale\":\"sv-SE\""),
        "other attributes are exported: {exported}"
    );
    for doc in [&stored, &listed, &logged, &exported] {
        assert!(
            !doc.contains("tmp-Ω-4711")
                && !doc.contains("Holm-Secret")
                && !doc.contains("Ebba Holm"),
            "{doc}"
        );
    }
    assert_eq!(
        s.count_rows("users WHERE CAST(idp_attributes AS TEXT) LIKE '%tmp-%'")
            .await,
        0
    );
    assert_eq!(
        s.count_rows("authorization_codes WHERE login_claims LIKE '%tmp-%'")
            .await,
        0,
        "sealed on the code"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn root_attributes_follow_set_user_root_attributes() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    let each = oidc_connection(&mut s, &p, "each-login", &[&shop], json!({})).await;
    oidc_connection(
        &mut s,
        &p,
        "first-login",
        &[&shop],
        json!({"set_user_root_attributes": "on_first_login"}),
    )
    .await;
    oidc_connection(
        &mut s,
        &p,
        "never-login",
        &[&shop],
        json!({"set_user_root_attributes": "never_on_login"}),
    )
    .await;
    assert!(
        each["options"].get("client_secret").is_none(),
        "never returned: {each}"
    );
    p.set_user(staff_user("u-6", "Fatima Zahra", "fatima@example.org"));

    for conn in ["each-login", "first-login"] {
        let mut b = Browser::new(&s.url);
        let back = login_through(&mut b, &p, &authorize_url(&shop, Some(conn))).await;
        assert!(back.callback_param("code").is_some(), "{conn}: {back:?}");
    }
    // on_each_login: the provider owns the name; a PATCH of it is refused as in Auth0.
    let r = s
        .patch(
            "/api/v2/users/oidc%7Ceach-login%7Cu-6",
            json!({"name": "Edited"}),
        )
        .await;
    let msg = r.assert_error(400, "operation_not_supported");
    assert!(
        msg.starts_with("The following user attributes cannot be updated: name."),
        "{msg}"
    );
    assert!(
        msg.contains("The connection (each-login) must either be a database connection"),
        "{msg}"
    );
    s.patch(
        "/api/v2/users/oidc%7Ceach-login%7Cu-6",
        json!({"user_metadata": {"plan": "gold"}}),
    )
    .await
    .assert_status(200);
    // on_first_login: the user's edit stands after the next login.
    s.patch(
        "/api/v2/users/oidc%7Cfirst-login%7Cu-6",
        json!({"name": "Fatima Z."}),
    )
    .await
    .assert_status(200);

    p.set_user(staff_user(
        "u-6",
        "Fatima Zahra-Renamed",
        "fatima@example.org",
    ));
    for conn in ["each-login", "first-login"] {
        let mut b = Browser::new(&s.url);
        let back = login_through(&mut b, &p, &authorize_url(&shop, Some(conn))).await;
        assert!(back.callback_param("code").is_some(), "{conn}: {back:?}");
    }
    let each = s
        .get("/api/v2/users/oidc%7Ceach-login%7Cu-6")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(each["name"], "Fatima Zahra-Renamed");
    assert_eq!(each["user_metadata"]["plan"], "gold");
    let first = s
        .get("/api/v2/users/oidc%7Cfirst-login%7Cu-6")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(first["name"], "Fatima Z.");

    // never_on_login creates nobody.
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("never-login"))).await;
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("access_denied"),
        "{back:?}"
    );
    s.get("/api/v2/users/oidc%7Cnever-login%7Cu-6")
        .await
        .assert_error(404, "inexistent_user");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_connection_serves_only_its_enabled_applications() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    let other = app(&mut s, "Other").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    p.set_user(staff_user("u-8", "Gao Min", "gao@example.org"));

    let mut b = Browser::new(&s.url);
    let refused = b.visit(&authorize_url(&other, Some("acme-sso"))).await;
    assert_eq!(
        refused.callback_param("error").as_deref(),
        Some("invalid_request"),
        "{refused:?}"
    );
    assert!(
        refused
            .callback_param("error_description")
            .unwrap()
            .contains("not enabled")
    );

    // Enabled when the login started, disabled before the provider answered.
    let at_provider = b.visit(&authorize_url(&shop, Some("acme-sso"))).await;
    let answer = p.authorize(at_provider.location.as_deref().unwrap()).await;
    let id = s.connection_id("acme-sso").await;
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"enabled_clients": [other.id]}),
    )
    .await
    .assert_status(200);
    let back = back_from(&mut b, answer).await;
    assert_eq!(
        back.callback_param("error").as_deref(),
        Some("invalid_request"),
        "{back:?}"
    );
    assert_eq!(user_count(&mut s).await, 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn upstream_connections_are_checked_and_keep_their_secret() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Shop").await;
    let c = oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    assert_eq!(c["options"]["type"], "back_channel", "{c}");
    let text = c.to_string();
    assert!(
        !text.contains(PROVIDER_SECRET) && !text.contains("sealed"),
        "{text}"
    );
    let id = c["id"].as_str().unwrap();
    let got = s
        .get(&format!("/api/v2/connections/{id}"))
        .await
        .assert_status(200)
        .to_string();
    assert!(!got.contains(PROVIDER_SECRET), "{got}");
    assert_eq!(
        s.count_rows(&format!(
            "connections WHERE CAST(settings AS TEXT) LIKE '%{}%'",
            &PROVIDER_SECRET[..12]
        ))
        .await,
        0
    );

    // A PATCH of options without the secret keeps it: the next login still authenticates.
    let mut options = c["options"].clone();
    options["scope"] = json!("openid email");
    options.as_object_mut().unwrap().remove("type");
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"options": options}),
    )
    .await
    .assert_status(200);
    p.set_user(staff_user("u-9", "Hana Sato", "hana@example.org"));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &authorize_url(&shop, Some("acme-sso"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    assert_eq!(
        p.with(|st| st.authorize_requests[0]["scope"].clone()),
        "openid email"
    );

    for (options, what) in [
        (
            json!({"discovery_url": "http://idp.example.com/.well-known/openid-configuration"}),
            "https",
        ),
        (json!({"client_id": "x"}), "discovery_url"),
        (
            json!({"discovery_url": p.discovery_url(), "scope": "email profile"}),
            "openid",
        ),
        (
            json!({"discovery_url": p.discovery_url(), "set_user_root_attributes": "always"}),
            "set_user_root_attributes",
        ),
        (
            json!({"discovery_url": p.discovery_url(), "upstream_params": {"redirect_uri": {"value": "https://evil.example"}}}),
            "upstream_params",
        ),
    ] {
        let r = s
            .post(
                "/api/v2/connections",
                json!({"name": "bad-sso", "strategy": "oidc", "options": options}),
            )
            .await;
        let msg = r.assert_error(400, "invalid_body");
        assert!(msg.contains(what), "{what}: {msg}");
    }
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": "x", "strategy": "waad"}),
        )
        .await;
    // The refusal lists what is supported, SAML among them.
    let msg = r.assert_error(400, "invalid_body");
    assert!(msg.contains("github") && msg.contains("\"samlp\""), "{msg}");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_providers_groups_map_to_groups_whose_roles_reach_the_token() {
    let mut s = TestServer::start().await;
    let p = Provider::start(None).await;
    let shop = app(&mut s, "Ops console").await;
    oidc_connection(&mut s, &p, "acme-sso", &[&shop], json!({})).await;
    const OPS_API: &str = "https://ops.example";
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": OPS_API, "enforce_policies": true, "token_dialect": "access_token_authz",
               "scopes": [{"value": "restart:servers"}, {"value": "read:dashboards"}]}),
    )
    .await
    .assert_status(201);
    let role = s.post("/api/v2/roles", json!({"name": "Operator"})).await;
    let role = role.assert_status(200)["id"].as_str().unwrap().to_string();
    let token = s.token().await;
    s.raw(
        Method::POST,
        &format!("/api/v2/roles/{role}/permissions"),
        Some(&token),
        Some(json!({"permissions": [{"resource_server_identifier": OPS_API, "permission_name": "restart:servers"}]})),
    )
    .await
    .assert_status(201);
    let group = s
        .post("/api/v2/groups", json!({"name": "Operations"}))
        .await;
    let group = group.assert_status(201)["id"].as_str().unwrap().to_string();
    s.raw(
        Method::POST,
        &format!("/api/v2/groups/{group}/roles"),
        Some(&token),
        Some(json!({"roles": [role]})),
    )
    .await
    .assert_status(204);
    // The provider's "ops" group, on this connection only, stands for Operations.
    s.raw(
        Method::POST,
        &format!("/api/v2/groups/{group}/mappings"),
        Some(&token),
        Some(json!({"mappings": [{"connection_name": "acme-sso", "group_name": "ops"}]})),
    )
    .await
    .assert_status(200);
    s.patch(
        "/api/v2/tenants/settings",
        json!({"authorization": {"groups_in_token": true, "claim_namespace": "https://acme.example/"}}),
    )
    .await
    .assert_status(200);

    let url = format!(
        "/authorize?response_type=code&client_id={}&redirect_uri={}&scope={}&audience={}&state=s&connection=acme-sso",
        shop.id,
        enc(CALLBACK),
        enc("openid profile restart:servers read:dashboards"),
        enc(OPS_API)
    );
    let login = |groups: Value| {
        let mut u = staff_user("u-7", "Sam Berg", "sam@example.org");
        u.userinfo.insert("groups".into(), groups);
        u
    };
    p.set_user(login(json!(["staff", "ops"])));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &url).await;
    let tokens = exchange(&s, &shop, &back.callback_param("code").unwrap()).await;
    let at = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["scope"], "openid profile restart:servers");
    assert_eq!(at["permissions"], json!(["restart:servers"]));
    assert_eq!(at["https://acme.example/groups"], json!(["Operations"]));

    // The provider stops listing "ops": the next login holds nothing of the group.
    p.set_user(login(json!(["staff"])));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &p, &url).await;
    let tokens = exchange(&s, &shop, &back.callback_param("code").unwrap()).await;
    let at = claims(tokens["access_token"].as_str().unwrap());
    assert_eq!(at["scope"], "openid profile");
    assert_eq!(at["permissions"], json!([]));
    assert_eq!(at["https://acme.example/groups"], json!([]));
}
