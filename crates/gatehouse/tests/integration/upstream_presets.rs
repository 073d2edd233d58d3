//! The social presets (`google-oauth2`, `github`, `windowslive`, `apple`, `facebook`,
//! `linkedin`), each against a stand-in serving that provider's documented paths and JSON
//! shapes (`GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES` points the preset's documented URLs at it):
//! the user id, the normalized profile, `isSocial`, and each provider's quirks — GitHub's
//! primary verified e-mail from its e-mail list, Apple's posted answer, ES256 client secret
//! and name sent on the first login only.

use crate::common;
use crate::upstream_login::{App, app, authorize_url, exchange, login_through};

use common::browser::Browser;
use common::provider::{
    CLIENT_ID as PROVIDER_CLIENT, CLIENT_SECRET as PROVIDER_SECRET, ExpectedSecret, Provider,
    ProviderUser,
};
use common::{TestServer, enc};
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

struct Preset {
    strategy: &'static str,
    issuer: Option<&'static str>,
    user: ProviderUser,
}

fn presets() -> Vec<Preset> {
    vec![
        Preset {
            strategy: "google-oauth2",
            issuer: Some("https://accounts.google.com"),
            user: ProviderUser {
                id_token: obj(
                    json!({"sub": "103547991597142817347", "email": "jürgen.weiß@gmail.com", "email_verified": true,
                    "name": "Jürgen Weiß", "given_name": "Jürgen", "family_name": "Weiß",
                    "picture": "https://lh3.googleusercontent.com/a/photo.jpg", "locale": "de"}),
                ),
                userinfo: obj(
                    json!({"sub": "103547991597142817347", "email": "jürgen.weiß@gmail.com", "email_verified": true,
                    "name": "Jürgen Weiß", "given_name": "Jürgen", "family_name": "Weiß",
                    "picture": "https://lh3.googleusercontent.com/a/photo.jpg", "locale": "de", "hd": "example.de"}),
                ),
                ..Default::default()
            },
        },
        Preset {
            strategy: "github",
            issuer: None,
            user: ProviderUser {
                userinfo: obj(
                    json!({"login": "octocat", "id": 583231, "node_id": "MDQ6VXNlcjU4MzIzMQ==",
                    "avatar_url": "https://avatars.githubusercontent.com/u/583231?v=4", "name": null,
                    "email": "public@example.com", "html_url": "https://github.com/octocat", "company": "@github"}),
                ),
                emails: Some(json!([
                    {"email": "old@example.com", "primary": false, "verified": true, "visibility": null},
                    {"email": "octocat@example.com", "primary": true, "verified": true, "visibility": "public"}
                ])),
                ..Default::default()
            },
        },
        Preset {
            strategy: "windowslive",
            issuer: None,
            user: ProviderUser {
                userinfo: obj(
                    json!({"@odata.context": "https://graph.microsoft.com/v1.0/$metadata#users/$entity",
                    "id": "4cf0a30169d55031", "displayName": "Søren Kierkegaard", "givenName": "Søren", "surname": "Kierkegaard",
                    "mail": "soren@outlook.com", "userPrincipalName": "soren@outlook.com", "preferredLanguage": "da-DK"}),
                ),
                ..Default::default()
            },
        },
        Preset {
            strategy: "facebook",
            issuer: None,
            user: ProviderUser {
                userinfo: obj(
                    json!({"id": "10158293847561234", "name": "Aoife Ní Bhriain", "first_name": "Aoife",
                    "last_name": "Ní Bhriain", "email": "aoife@example.ie",
                    "picture": {"data": {"height": 50, "is_silhouette": false, "url": "https://platform-lookaside.fbsbx.com/p.jpg", "width": 50}}}),
                ),
                ..Default::default()
            },
        },
        Preset {
            strategy: "linkedin",
            issuer: Some("https://www.linkedin.com/oauth"),
            user: ProviderUser {
                id_token: obj(
                    json!({"sub": "782bbtaQ", "name": "Chidi Okonkwo", "given_name": "Chidi", "family_name": "Okonkwo",
                    "email": "chidi@example.ng", "email_verified": true, "picture": "https://media.licdn.com/p.jpg",
                    "locale": {"country": "NG", "language": "en"}}),
                ),
                userinfo: obj(
                    json!({"sub": "782bbtaQ", "name": "Chidi Okonkwo", "given_name": "Chidi", "family_name": "Okonkwo",
                    "email": "chidi@example.ng", "email_verified": true, "picture": "https://media.licdn.com/p.jpg",
                    "locale": {"country": "NG", "language": "en"}}),
                ),
                ..Default::default()
            },
        },
    ]
}

/// What the normalized profile must say for each preset.
fn expected(strategy: &str) -> Value {
    match strategy {
        "google-oauth2" => {
            json!({"user_id": "google-oauth2|103547991597142817347", "email": "jürgen.weiß@gmail.com",
            "email_verified": true, "name": "Jürgen Weiß", "nickname": "jürgen.weiß", "given_name": "Jürgen",
            "family_name": "Weiß", "picture": "https://lh3.googleusercontent.com/a/photo.jpg", "locale": "de", "hd": "example.de"})
        }
        "github" => {
            json!({"user_id": "github|583231", "email": "octocat@example.com", "email_verified": true,
            "name": "octocat", "nickname": "octocat", "picture": "https://avatars.githubusercontent.com/u/583231?v=4",
            "html_url": "https://github.com/octocat"})
        }
        "windowslive" => {
            json!({"user_id": "windowslive|4cf0a30169d55031", "email": "soren@outlook.com",
            "email_verified": false, "name": "Søren Kierkegaard", "given_name": "Søren", "family_name": "Kierkegaard",
            "nickname": "soren"})
        }
        "facebook" => {
            json!({"user_id": "facebook|10158293847561234", "email": "aoife@example.ie", "email_verified": false,
            "name": "Aoife Ní Bhriain", "given_name": "Aoife", "family_name": "Ní Bhriain",
            "picture": "https://platform-lookaside.fbsbx.com/p.jpg"})
        }
        "linkedin" => {
            json!({"user_id": "linkedin|782bbtaQ", "email": "chidi@example.ng", "email_verified": true,
            "name": "Chidi Okonkwo", "given_name": "Chidi", "family_name": "Okonkwo",
            "picture": "https://media.licdn.com/p.jpg", "locale": {"country": "NG", "language": "en"}})
        }
        _ => unreachable!(),
    }
}

async fn preset_connection(s: &mut TestServer, strategy: &str, shop: &App, options: Value) {
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": strategy, "strategy": strategy, "enabled_clients": [shop.id], "options": options}),
        )
        .await;
    r.assert_status(201);
}

#[tokio::test(flavor = "multi_thread")]
async fn each_social_preset_logs_in_with_its_providers_shapes() {
    let mut providers = vec![];
    for p in presets() {
        providers.push((Provider::start(p.issuer).await, p));
    }
    let overrides: Vec<String> = providers
        .iter()
        .map(|(stand_in, p)| format!("{}={}", p.strategy, stand_in.url))
        .collect();
    let mut s = TestServer::start_with(|c| c.upstream_origin_overrides = overrides).await;
    let shop = app(&mut s, "Shop").await;
    for (stand_in, p) in &providers {
        preset_connection(
            &mut s,
            p.strategy,
            &shop,
            json!({"client_id": PROVIDER_CLIENT, "client_secret": PROVIDER_SECRET}),
        )
        .await;
        stand_in.set_user(p.user.clone());
        let mut b = Browser::new(&s.url);
        let back = login_through(&mut b, stand_in, &authorize_url(&shop, Some(p.strategy))).await;
        let code = back
            .callback_param("code")
            .unwrap_or_else(|| panic!("{}: {back:?}", p.strategy));
        let want = expected(p.strategy);
        let user_id = want["user_id"].as_str().unwrap();
        let tokens = exchange(&s, &shop, &code).await;
        let id = common::provider::jwt_claims(tokens["id_token"].as_str().unwrap());
        assert_eq!(id["sub"], user_id, "{}", p.strategy);

        let narrow = s.token_with_scope(Some("read:users")).await;
        let user = s
            .raw(
                reqwest::Method::GET,
                &format!("/api/v2/users/{}", enc(user_id)),
                Some(&narrow),
                None,
            )
            .await;
        let user = user.assert_status(200).clone();
        for (k, v) in want.as_object().unwrap() {
            assert_eq!(&user[k], v, "{}: {k} in {user}", p.strategy);
        }
        let provider_id = user_id.split_once('|').unwrap().1;
        assert_eq!(
            user["identities"],
            json!([{"connection": p.strategy, "isSocial": true, "provider": p.strategy, "user_id": provider_id}]),
            "{}",
            p.strategy
        );
        // Each provider was asked for its documented scopes.
        let asked = stand_in.with(|st| st.authorize_requests[0].clone());
        let scope = &asked["scope"];
        match p.strategy {
            "google-oauth2" => assert_eq!(scope, "openid email profile"),
            "github" => assert_eq!(scope, "read:user user:email"),
            "facebook" => assert_eq!(scope, "public_profile email"),
            "linkedin" => assert_eq!(scope, "openid profile email"),
            "windowslive" => assert!(scope.contains("User.Read")),
            _ => {}
        }
        let pkce = asked.contains_key("code_challenge");
        assert_eq!(
            pkce,
            matches!(p.strategy, "google-oauth2" | "windowslive"),
            "{}: PKCE where the provider supports it",
            p.strategy
        );
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn github_without_a_verified_primary_email_gives_no_email() {
    let stand_in = Provider::start(None).await;
    let url = stand_in.url.clone();
    let mut s =
        TestServer::start_with(|c| c.upstream_origin_overrides = vec![format!("github={url}")])
            .await;
    let shop = app(&mut s, "Shop").await;
    preset_connection(
        &mut s,
        "github",
        &shop,
        json!({"client_id": PROVIDER_CLIENT, "client_secret": PROVIDER_SECRET}),
    )
    .await;
    stand_in.set_user(ProviderUser {
        userinfo: obj(
            json!({"login": "mona", "id": 9919, "name": "Mona Lisa", "email": "mona@example.com"}),
        ),
        emails: Some(json!([{"email": "mona@example.com", "primary": true, "verified": false}])),
        ..Default::default()
    });
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    let user = s
        .get("/api/v2/users/github%7C9919")
        .await
        .assert_status(200)
        .clone();
    assert!(
        user.get("email").is_none(),
        "an unverified address is not the user's: {user}"
    );
    assert_eq!(user["email_verified"], false);
    assert_eq!(user["name"], "Mona Lisa");
}

#[tokio::test(flavor = "multi_thread")]
async fn apple_posts_back_signs_its_secret_and_sends_the_name_once() {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
    let pair =
        EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng).unwrap();
    let pem = format!(
        "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
        base64::Engine::encode(&base64::engine::general_purpose::STANDARD, pkcs8.as_ref())
    );

    let stand_in = Provider::start(Some("https://appleid.apple.com")).await;
    stand_in.with(|st| {
        st.secret = ExpectedSecret::AppleJwt {
            team: "TEAM123456".into(),
            public_key: pair.public_key().as_ref().to_vec(),
        }
    });
    let url = stand_in.url.clone();
    let mut s =
        TestServer::start_with(|c| c.upstream_origin_overrides = vec![format!("apple={url}")])
            .await;
    let shop = app(&mut s, "Shop").await;
    preset_connection(&mut s, "apple", &shop, json!({"client_id": PROVIDER_CLIENT, "team_id": "TEAM123456", "kid": "KEY7890", "app_secret": pem})).await;
    let conn = s
        .get("/api/v2/connections?name=apple")
        .await
        .assert_status(200)
        .to_string();
    assert!(!conn.contains("PRIVATE KEY"), "{conn}");

    let apple_user = |name: bool| {
        ProviderUser {
        id_token: obj(json!({"sub": "001234.5f6e7d8c9b0a.1234", "email": "x7yz@privaterelay.appleid.com",
            "email_verified": "true", "is_private_email": "true"})),
        apple_user: name.then(|| json!({"name": {"firstName": "Siân", "lastName": "O'Brien"}, "email": "x7yz@privaterelay.appleid.com"})),
        ..Default::default()
    }
    };
    stand_in.set_user(apple_user(true));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("apple"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    let asked = stand_in.with(|st| st.authorize_requests[0].clone());
    assert_eq!(asked["response_mode"], "form_post");
    assert_eq!(asked["scope"], "name email");

    let user = s
        .get("/api/v2/users/apple%7C001234.5f6e7d8c9b0a.1234")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(user["name"], "Siân O'Brien");
    assert_eq!(user["given_name"], "Siân");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["is_private_email"], "true");

    // Later logins carry no name: the first one's stays.
    stand_in.set_user(apple_user(false));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("apple"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    let user = s
        .get("/api/v2/users/apple%7C001234.5f6e7d8c9b0a.1234")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(user["name"], "Siân O'Brien");
    assert_eq!(user["logins_count"], 2);
}
