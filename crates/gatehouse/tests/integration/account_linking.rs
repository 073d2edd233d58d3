//! Account linking (issue 16): `POST /api/v2/users/{id}/identities` with a provider and id
//! or with `link_with` (an ID token of the secondary account), `DELETE
//! .../identities/{provider}/{user_id}`, Auth0's error answers, the secondary leaving the
//! user list but found by `identities.*` searches, logins through a linked identity (upstream
//! or password) yielding the primary, and unlinking giving back a user without metadata.

use crate::common;
use crate::upstream_login::{app, authorize_url, exchange, login_through};

use common::browser::Browser;
use common::provider::{
    CLIENT_ID as PROVIDER_CLIENT, CLIENT_SECRET as PROVIDER_SECRET, Provider, ProviderUser,
    jwt_claims,
};
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    v.as_object().cloned().unwrap()
}

/// A server with a GitHub preset pointed at a stand-in, and the GitHub user `octocat`
/// (id 583231) created by logging in once.
async fn with_github_user() -> (TestServer, Provider, crate::upstream_login::App) {
    let stand_in = Provider::start(None).await;
    let url = stand_in.url.clone();
    let mut s =
        TestServer::start_with(|c| c.upstream_origin_overrides = vec![format!("github={url}")])
            .await;
    let shop = app(&mut s, "Shop").await;
    s.post(
        "/api/v2/connections",
        json!({"name": "github", "strategy": "github", "enabled_clients": [shop.id],
            "options": {"client_id": PROVIDER_CLIENT, "client_secret": PROVIDER_SECRET}}),
    )
    .await
    .assert_status(201);
    stand_in.set_user(ProviderUser {
        userinfo: obj(json!({"login": "octocat", "id": 583231, "name": "Ｏｃｔｏ Cat", "avatar_url": "https://avatars.example/o.png"})),
        emails: Some(json!([{"email": "octo@example.com", "primary": true, "verified": true}])),
        ..Default::default()
    });
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");
    (s, stand_in, shop)
}

async fn search_ids(s: &mut TestServer, q: &str) -> Vec<String> {
    let r = s
        .get(&format!("/api/v2/users?q={}&per_page=100", enc(q)))
        .await;
    let mut ids: Vec<String> = r
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap().to_string())
        .collect();
    ids.sort();
    ids
}

#[tokio::test(flavor = "multi_thread")]
async fn a_linked_identity_logs_in_as_the_primary_and_unlinking_gives_it_back() {
    let (mut s, stand_in, shop) = with_github_user().await;
    // Users created out of id order, with metadata on both sides.
    let decoy = s.create_user("zz-decoy@example.com", json!({})).await;
    let primary = s
        .create_user(
            "maría.lópez@example.com",
            json!({"user_metadata": {"theme": "dark"}}),
        )
        .await;
    let primary_id = primary["user_id"].as_str().unwrap().to_string();
    s.patch(
        "/api/v2/users/github%7C583231",
        json!({"user_metadata": {"secondary": true}, "app_metadata": {"plan": "free"}}),
    )
    .await
    .assert_status(200);

    let r = s
        .post(
            &format!("/api/v2/users/{}/identities", enc(&primary_id)),
            json!({"provider": "github", "user_id": "583231"}),
        )
        .await;
    let identities = r.assert_status(201).clone();
    assert_eq!(identities.as_array().unwrap().len(), 2, "{identities}");
    assert_eq!(identities[0]["provider"], "auth0");
    assert_eq!(
        identities[0]["user_id"],
        primary_id.trim_start_matches("auth0|")
    );
    assert_eq!(identities[1]["provider"], "github");
    assert_eq!(identities[1]["user_id"], "583231");
    assert_eq!(identities[1]["connection"], "github");
    assert_eq!(identities[1]["isSocial"], true);
    assert_eq!(identities[1]["profileData"]["email"], "octo@example.com");
    assert_eq!(identities[1]["profileData"]["name"], "Ｏｃｔｏ Cat");
    assert!(identities[1]["profileData"].get("user_metadata").is_none());

    // The secondary leaves the user list; searches on identities find the primary.
    s.get("/api/v2/users/github%7C583231")
        .await
        .assert_error(404, "inexistent_user");
    let all = search_ids(&mut s, "").await;
    assert_eq!(all.len(), 2, "{all:?}");
    assert!(!all.iter().any(|id| id.starts_with("github|")));
    for q in [
        "identities.user_id:583231",
        "identities.provider:github",
        "identities.connection:github",
        "identities.isSocial:true",
    ] {
        assert_eq!(search_ids(&mut s, q).await, vec![primary_id.clone()], "{q}");
    }
    assert_eq!(
        search_ids(&mut s, "identities.isSocial:false").await.len(),
        2
    );
    let by_email = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("octo@example.com")
        ))
        .await;
    assert_eq!(by_email.assert_status(200), &json!([]));
    let narrow = s.token_with_scope(Some("read:users")).await;
    let fetched = s
        .raw(
            Method::GET,
            &format!("/api/v2/users/{}", enc(&primary_id)),
            Some(&narrow),
            None,
        )
        .await
        .assert_status(200)
        .clone();
    assert_eq!(fetched["identities"], identities);
    assert_eq!(
        fetched["user_metadata"],
        json!({"theme": "dark"}),
        "the primary keeps its own"
    );

    // Logging in with GitHub now logs the primary in.
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    let tokens = exchange(&s, &shop, &back.callback_param("code").unwrap()).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        primary_id
    );
    let logged = s
        .get("/api/v2/logs?per_page=100&sort=date:-1")
        .await
        .assert_status(200)
        .clone();
    let login = logged
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["type"] == "s")
        .expect("an s event");
    assert_eq!(login["user_id"], primary_id);
    assert_eq!(login["connection"], "github");

    // The provider's tokens are shown only to callers allowed read:user_idp_tokens.
    let plain = s
        .raw(
            Method::GET,
            &format!("/api/v2/users/{}", enc(&primary_id)),
            Some(&narrow),
            None,
        )
        .await;
    assert!(
        plain.assert_status(200)["identities"][1]
            .get("access_token")
            .is_none()
    );
    let full = s
        .get(&format!("/api/v2/users/{}", enc(&primary_id)))
        .await
        .assert_status(200)
        .clone();
    assert!(
        full["identities"][1]["access_token"]
            .as_str()
            .is_some_and(|t| t.len() > 10),
        "{full}"
    );

    // Unlinking: the identity is a user again, with its profile and no metadata.
    let r = s
        .delete(&format!(
            "/api/v2/users/{}/identities/github/583231",
            enc(&primary_id)
        ))
        .await;
    assert_eq!(r.assert_status(200).as_array().unwrap().len(), 1);
    let back_again = s
        .get("/api/v2/users/github%7C583231")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(back_again["email"], "octo@example.com");
    assert!(
        back_again.get("user_metadata").is_none() && back_again.get("app_metadata").is_none(),
        "{back_again}"
    );
    assert_eq!(
        search_ids(&mut s, "identities.provider:github").await,
        vec!["github|583231".to_string()]
    );
    let _ = decoy;
}

#[tokio::test(flavor = "multi_thread")]
async fn linking_refuses_what_auth0_refuses() {
    let (mut s, _stand_in, _shop) = with_github_user().await;
    let a = s.create_user("ana@example.com", json!({})).await["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let b = s.create_user("bea@example.com", json!({})).await["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let link = |id: &str| format!("/api/v2/users/{}/identities", enc(id));
    let b_local = b.trim_start_matches("auth0|").to_string();

    let r = s
        .post(
            &link(&a),
            json!({"provider": "auth0", "user_id": a.trim_start_matches("auth0|")}),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "invalid_body"),
        "Main identity and the new one are the same."
    );
    let r = s
        .post(&link(&a), json!({"provider": "github", "user_id": "999"}))
        .await;
    assert_eq!(
        r.assert_error(400, "invalid_body"),
        "Provided secondary account not found."
    );
    let r = s
        .post(
            &link("auth0|000000000000000000000000"),
            json!({"provider": "github", "user_id": "583231"}),
        )
        .await;
    r.assert_error(404, "inexistent_user");
    let r = s
        .post(
            &link(&a),
            json!({"provider": "github", "user_id": "583231", "colour": "red"}),
        )
        .await;
    assert!(r.assert_error(400, "invalid_body").contains("colour"));
    let r = s
        .post(
            &link(&a),
            json!({"provider": "github", "user_id": "583231", "link_with": "x.y.z"}),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s.post(&link(&a), json!({"user_id": "583231"})).await;
    assert!(r.assert_error(400, "invalid_body").contains("provider"));
    let r = s
        .post(
            &link(&a),
            json!({"provider": "github", "user_id": "583231", "connection_id": "con_short"}),
        )
        .await;
    assert!(
        r.assert_error(400, "invalid_body")
            .contains("connection_id")
    );
    let r = s
        .post(&link(&a), json!({"provider": "github", "user_id": 583231}))
        .await;
    r.assert_status(201);
    // Already linked (to anyone): 409.
    for to in [&a, &b] {
        let r = s
            .post(
                &link(to),
                json!({"provider": "github", "user_id": "583231"}),
            )
            .await;
        assert_eq!(
            r.assert_error(409, "auth0_idp_error"),
            "Specified identity already exists."
        );
    }
    // A user with identities of its own is not a secondary; nor is a linked one a primary.
    let r = s
        .post(
            &link(&b),
            json!({"provider": "auth0", "user_id": a.trim_start_matches("auth0|")}),
        )
        .await;
    assert!(
        r.assert_error(400, "invalid_body")
            .contains("Unable to link")
    );
    let r = s
        .post(
            &link("github|583231"),
            json!({"provider": "auth0", "user_id": b_local}),
        )
        .await;
    r.assert_error(404, "inexistent_user");
    // Unlinking the main identity, or one that is not linked.
    let r = s
        .delete(&format!(
            "{}/auth0/{}",
            link(&a),
            a.trim_start_matches("auth0|")
        ))
        .await;
    assert_eq!(
        r.assert_error(400, "operation_not_supported"),
        "Main identity cannot be removed."
    );
    let r = s.delete(&format!("{}/auth0/{b_local}", link(&a))).await;
    r.assert_error(404, "inexistent_identity");
    // Without update:users.
    let read_only = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            Method::POST,
            &link(&b),
            Some(&read_only),
            Some(json!({"provider": "auth0", "user_id": "x"})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 403);

    // Deleting the primary deletes what is linked to it.
    s.delete(&format!("/api/v2/users/{}", enc(&a))).await;
    s.get("/api/v2/users/github%7C583231")
        .await
        .assert_error(404, "inexistent_user");
    assert_eq!(
        s.count_rows("users WHERE user_id = 'github|583231'").await,
        0
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn link_with_takes_an_id_token_for_the_calling_application() {
    let mut s = TestServer::start().await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "Linker", "app_type": "regular_web",
                "grant_types": ["client_credentials", "http://auth0.com/oauth/grant-type/password-realm"]}),
        )
        .await
        .assert_status(201)
        .clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    s.post("/api/v2/client-grants", json!({"client_id": cid, "audience": s.audience(), "scope": ["update:users", "read:users"]}))
        .await
        .assert_status(201);
    let mgmt = s
        .raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": cid, "client_secret": secret, "audience": s.audience()})))
        .await
        .assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    let primary = s.create_user("primary@example.com", json!({})).await["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let secondary = s.create_user("second.account@example.com", json!({})).await["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let realm_login = json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "client_id": cid, "client_secret": secret,
        "username": "second.account@example.com", "password": "Sup3r-secret!", "realm": "Username-Password-Authentication", "scope": "openid"});
    let token = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(realm_login.clone()),
        )
        .await
        .assert_status(200)["id_token"]
        .as_str()
        .unwrap()
        .to_string();
    let path = format!("/api/v2/users/{}/identities", enc(&primary));

    // The bootstrap client is not the token's audience.
    let r = s.post(&path, json!({"link_with": token})).await;
    assert!(r.assert_error(400, "invalid_body").contains("audience"));
    // A token we did not sign.
    let (h, rest) = token.split_once('.').unwrap();
    let _ = h;
    let forged = format!(
        "{}.{}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            r#"{"alg":"HS256","typ":"JWT"}"#
        ),
        rest
    );
    let r = s
        .raw(
            Method::POST,
            &path,
            Some(&mgmt),
            Some(json!({"link_with": forged})),
        )
        .await;
    assert_eq!(
        r.assert_error(400, "invalid_body"),
        "Invalid token (link_with)."
    );

    let r = s
        .raw(
            Method::POST,
            &path,
            Some(&mgmt),
            Some(json!({"link_with": token})),
        )
        .await;
    let identities = r.assert_status(201).clone();
    assert_eq!(
        identities[1]["user_id"],
        secondary.trim_start_matches("auth0|")
    );

    // The secondary's password now logs the primary in.
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(realm_login))
        .await;
    assert_eq!(
        jwt_claims(r.assert_status(200)["id_token"].as_str().unwrap())["sub"],
        primary
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_first_provider_login_may_offer_to_link_the_existing_account() {
    let stand_in = Provider::start(None).await;
    let url = stand_in.url.clone();
    let mut s =
        TestServer::start_with(|c| c.upstream_origin_overrides = vec![format!("github={url}")])
            .await;
    let shop = app(&mut s, "Shop").await;
    s.post(
        "/api/v2/connections",
        json!({"name": "github", "strategy": "github", "enabled_clients": [shop.id],
            "options": {"client_id": PROVIDER_CLIENT, "client_secret": PROVIDER_SECRET}}),
    )
    .await
    .assert_status(201);
    let existing = s
        .create_user("renée@example.com", json!({"email_verified": true}))
        .await["user_id"]
        .as_str()
        .unwrap()
        .to_string();
    let github_user = |id: u64| ProviderUser {
        userinfo: obj(json!({"login": format!("renee{id}"), "id": id, "name": "Renée"})),
        emails: Some(json!([{"email": "renée@example.com", "primary": true, "verified": true}])),
        ..Default::default()
    };

    // Off (the default): the provider's user is simply created and logged in.
    stand_in.set_user(github_user(1001));
    let mut b = Browser::new(&s.url);
    let back = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    assert!(back.callback_param("code").is_some(), "{back:?}");

    s.patch(
        "/api/v2/tenants/settings",
        json!({"suggest_account_linking": true}),
    )
    .await
    .assert_status(200);
    stand_in.set_user(github_user(1002));
    let mut b = Browser::new(&s.url);
    let offer = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    assert_eq!(offer.status, 200, "{offer:?}");
    assert!(
        offer.body.contains("You already have an account")
            && offer.body.contains("renée@example.com"),
        "{}",
        offer.body
    );
    let (state, csrf) = (offer.input("state").unwrap(), offer.input("_csrf").unwrap());

    // The existing account's password is the proof; a wrong one links nothing.
    let wrong = b
        .post_form(
            "/u/link",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("action", "link"),
                ("password", "not-it"),
            ],
        )
        .await;
    assert_eq!(wrong.status, 400, "{}", wrong.body);
    let linked = b
        .post_form(
            "/u/link",
            &[
                ("state", &state),
                ("_csrf", &csrf),
                ("action", "link"),
                ("password", "Sup3r-secret!"),
            ],
        )
        .await;
    let linked = b.follow(linked).await;
    let tokens = exchange(&s, &shop, &linked.callback_param("code").expect("a code")).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        existing
    );
    let narrow = s.token_with_scope(Some("read:users")).await;
    let user = s
        .raw(
            Method::GET,
            &format!("/api/v2/users/{}", enc(&existing)),
            Some(&narrow),
            None,
        )
        .await;
    let ids = user.assert_status(200)["identities"].clone();
    assert_eq!(ids[1]["user_id"], "1002", "{ids}");
    s.get("/api/v2/users/github%7C1002")
        .await
        .assert_error(404, "inexistent_user");

    // "Continue without linking" logs the provider's new user in as they are.
    stand_in.set_user(github_user(1003));
    let mut b = Browser::new(&s.url);
    let offer = login_through(&mut b, &stand_in, &authorize_url(&shop, Some("github"))).await;
    let (state, csrf) = (offer.input("state").unwrap(), offer.input("_csrf").unwrap());
    let skipped = b
        .post_form(
            "/u/link",
            &[("state", &state), ("_csrf", &csrf), ("action", "skip")],
        )
        .await;
    let skipped = b.follow(skipped).await;
    let tokens = exchange(&s, &shop, &skipped.callback_param("code").expect("a code")).await;
    assert_eq!(
        jwt_claims(tokens["id_token"].as_str().unwrap())["sub"],
        "github|1003"
    );
    // The form needs its CSRF token.
    let forged = b
        .post_form("/u/link", &[("state", &state), ("action", "skip")])
        .await;
    assert_eq!(forged.status, 403, "{}", forged.body);
}
