//! `/api/v2/users` and `/api/v2/users-by-email` over HTTP, on SQLite or PostgreSQL.

use crate::common;

use common::{DB_CONNECTION, TestServer, enc};
use serde_json::{Value, json};

fn user_path(u: &Value) -> String {
    format!(
        "/api/v2/users/{}",
        enc(u["user_id"].as_str().expect("user_id"))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn create_user_has_auth0_profile_shape() {
    let mut s = TestServer::start().await;
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": DB_CONNECTION, "email": "Jane.Doe@Example.COM", "password": "Sup3r-secret!",
                   "given_name": "Jane", "user_metadata": {"theme": "dark"}, "app_metadata": {"plan": "gold"}}),
        )
        .await;
    let u = r.assert_status(201).clone();
    let id = u["user_id"].as_str().unwrap();
    let hex = id.strip_prefix("auth0|").expect("auth0| prefix");
    assert_eq!(hex.len(), 24);
    assert!(
        hex.chars()
            .all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase())
    );
    assert_eq!(u["email"], "jane.doe@example.com", "emails are lower-cased");
    assert_eq!(u["email_verified"], false);
    assert_eq!(u["name"], "jane.doe@example.com");
    assert_eq!(u["nickname"], "jane.doe");
    assert_eq!(u["given_name"], "Jane");
    assert_eq!(u["logins_count"], 0);
    assert_eq!(
        u["identities"],
        json!([{"connection": DB_CONNECTION, "provider": "auth0", "user_id": hex, "isSocial": false}])
    );
    assert_eq!(u["user_metadata"], json!({"theme": "dark"}));
    assert_eq!(u["app_metadata"], json!({"plan": "gold"}));
    assert!(u.get("password").is_none() && u.get("password_hash").is_none());
    let created = u["created_at"].as_str().unwrap();
    assert_eq!(created.len(), 24, "ISO 8601 with milliseconds: {created}");
    assert!(created.ends_with('Z'));
    assert!(u["picture"].as_str().unwrap().starts_with("https://"));

    let got = s.get(&user_path(&u)).await;
    assert_eq!(got.assert_status(200), &u, "GET returns what POST returned");
}

#[tokio::test(flavor = "multi_thread")]
async fn custom_user_id_and_duplicate_conflicts() {
    let mut s = TestServer::start().await;
    let u = s
        .create_user("a@example.com", json!({"user_id": "legacy-42"}))
        .await;
    assert_eq!(u["user_id"], "auth0|legacy-42");

    // Same email in another case: still the same user for a database connection.
    let r = s
        .post("/api/v2/users", json!({"connection": DB_CONNECTION, "email": "A@Example.com", "password": "Sup3r-secret!"}))
        .await;
    assert_eq!(
        r.assert_error(409, "auth0_idp_error"),
        "The user already exists."
    );
    let r = s
        .post("/api/v2/users", json!({"connection": DB_CONNECTION, "email": "b@example.com", "password": "Sup3r-secret!", "user_id": "legacy-42"}))
        .await;
    r.assert_error(409, "auth0_idp_error");
    let all = s.get("/api/v2/users").await;
    assert_eq!(
        all.assert_status(200).as_array().unwrap().len(),
        1,
        "nothing was created by refused requests"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn username_rules_follow_the_connection() {
    let mut s = TestServer::start().await;
    let r = s
        .post("/api/v2/users", json!({"connection": DB_CONNECTION, "email": "a@example.com", "password": "Sup3r-secret!", "username": "jane"}))
        .await;
    r.assert_error(400, "operation_not_supported");

    let c = s
        .post("/api/v2/connections", json!({"name": "with-usernames", "strategy": "auth0", "options": {"requires_username": true, "passwordPolicy": "low"}}))
        .await;
    c.assert_status(201);
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "with-usernames", "email": "a@example.com", "password": "secret"}),
        )
        .await;
    assert!(r.assert_error(400, "invalid_body").contains("username"));
    let r = s
        .post("/api/v2/users", json!({"connection": "with-usernames", "email": "a@example.com", "password": "secret", "username": "this-username-is-too-long"}))
        .await;
    assert!(r.assert_error(400, "invalid_body").contains("username"));
    let u = s
        .post("/api/v2/users", json!({"connection": "with-usernames", "email": "a@example.com", "password": "secret", "username": "jane"}))
        .await;
    assert_eq!(u.assert_status(201)["username"], "jane");
    let dup = s
        .post("/api/v2/users", json!({"connection": "with-usernames", "email": "b@example.com", "password": "secret", "username": "jane"}))
        .await;
    dup.assert_error(409, "auth0_idp_error");
    // The same email on another connection is a different user.
    s.create_user("a@example.com", json!({})).await;
    let by_email = s.get("/api/v2/users-by-email?email=a@example.com").await;
    assert_eq!(by_email.assert_status(200).as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn password_policy_is_enforced_with_auth0_messages() {
    let mut s = TestServer::start().await;
    for weak in ["short1!", "alllowercase", "ALLUPPER1234", "1234567890"] {
        let r = s
            .post(
                "/api/v2/users",
                json!({"connection": DB_CONNECTION, "email": "a@example.com", "password": weak}),
            )
            .await;
        assert_eq!(
            r.assert_error(400, "invalid_password"),
            "PasswordStrengthError: Password is too weak",
            "{weak}"
        );
    }
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": DB_CONNECTION, "email": "a@example.com"}),
        )
        .await;
    assert!(r.assert_error(400, "invalid_body").contains("password"));
    assert_eq!(s.get("/api/v2/users").await.body, json!([]));

    // min_length and history on a custom connection.
    let c = s
        .post(
            "/api/v2/connections",
            json!({"name": "strict", "strategy": "auth0", "options": {
            "passwordPolicy": "none", "password_complexity_options": {"min_length": 12},
            "password_history": {"enable": true, "size": 2}}}),
        )
        .await;
    c.assert_status(201);
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "strict", "email": "h@example.com", "password": "elevenchars"}),
        )
        .await;
    r.assert_error(400, "invalid_password");
    let u = s
        .post(
            "/api/v2/users",
            json!({"connection": "strict", "email": "h@example.com", "password": "first password"}),
        )
        .await;
    let u = u.assert_status(201).clone();
    let path = user_path(&u);
    s.patch(&path, json!({"password": "second password"}))
        .await
        .assert_status(200);
    let r = s.patch(&path, json!({"password": "first password"})).await;
    assert_eq!(
        r.assert_error(400, "invalid_password"),
        "PasswordHistoryError: Password has previously been used"
    );
    let r = s.patch(&path, json!({"password": "second password"})).await;
    r.assert_error(400, "invalid_password");
    let ok = s.patch(&path, json!({"password": "third password"})).await;
    let ok = ok.assert_status(200);
    assert!(ok["last_password_reset"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_merges_like_auth0() {
    let mut s = TestServer::start().await;
    let u = s
        .create_user("m@example.com", json!({"user_metadata": {"profileCode": 1479, "addresses": {"home": "1 Main St"}, "gone": true}}))
        .await;
    let path = user_path(&u);
    let r = s
        .patch(&path, json!({"user_metadata": {"addresses": {"work_address": "100 Industrial Way"}, "gone": null}}))
        .await;
    assert_eq!(
        r.assert_status(200)["user_metadata"],
        json!({"profileCode": 1479, "addresses": {"work_address": "100 Industrial Way"}}),
        "first level merges, nested objects are replaced, null deletes"
    );
    let r = s
        .patch(
            &path,
            json!({"app_metadata": {"roles": ["a"], "plan": {"tier": 1}}}),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["app_metadata"],
        json!({"roles": ["a"], "plan": {"tier": 1}})
    );
    assert_eq!(
        r.body["user_metadata"]["profileCode"], 1479,
        "other metadata untouched"
    );

    let r = s.patch(&path, json!({"user_metadata": {}})).await;
    assert!(
        r.assert_status(200).get("user_metadata").is_none(),
        "an empty object clears the metadata"
    );
    let got = s.get(&path).await;
    assert!(got.body.get("user_metadata").is_none());
    assert_eq!(
        got.body["app_metadata"],
        json!({"roles": ["a"], "plan": {"tier": 1}})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn metadata_rules_are_400s_naming_the_field_and_change_nothing() {
    let mut s = TestServer::start_with(|c| c.metadata_max_bytes = 200).await;
    let u = s
        .create_user("r@example.com", json!({"user_metadata": {"keep": 1}}))
        .await;
    let path = user_path(&u);
    let cases = [
        (json!({"user_metadata": {"a.b": 1}}), "user_metadata"),
        (json!({"user_metadata": {"$set": 1}}), "user_metadata"),
        (
            json!({"user_metadata": {"nested": {"x.y": 1}}}),
            "user_metadata",
        ),
        (
            json!({"app_metadata": {"email": "x"}}),
            "app_metadata.email",
        ),
        (
            json!({"app_metadata": {"user_id": "x"}}),
            "app_metadata.user_id",
        ),
        (
            json!({"user_metadata": {"big": "x".repeat(300)}}),
            "user_metadata",
        ),
        (json!({"user_metadata": "not an object"}), "user_metadata"),
    ];
    for (body, field) in cases {
        let r = s.patch(&path, body.clone()).await;
        let msg = r.assert_error(400, "invalid_body");
        assert!(msg.contains(field), "{body} -> {msg}");
        let r = s
            .post("/api/v2/users", {
                let mut b = body.clone();
                b["connection"] = json!(DB_CONNECTION);
                b["email"] = json!("other@example.com");
                b["password"] = json!("Sup3r-secret!");
                b
            })
            .await;
        r.assert_error(400, "invalid_body");
    }
    let after = s.get(&path).await;
    assert_eq!(after.body, u, "refused PATCHes changed nothing");
    assert_eq!(
        s.get("/api/v2/users").await.body.as_array().unwrap().len(),
        1,
        "refused POSTs created nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn patch_root_attributes() {
    let mut s = TestServer::start().await;
    let u = s
        .create_user(
            "p@example.com",
            json!({"email_verified": true, "given_name": "Pat", "phone_number": "+14155550100"}),
        )
        .await;
    let path = user_path(&u);
    let r = s
        .patch(&path, json!({"family_name": "Smith", "name": "Pat Smith", "nickname": "ps", "picture": "https://img.example/p.png", "blocked": true, "phone_verified": true}))
        .await;
    let b = r.assert_status(200).clone();
    assert_eq!(b["family_name"], "Smith");
    assert_eq!(b["name"], "Pat Smith");
    assert_eq!(b["blocked"], true);
    assert_eq!(b["phone_verified"], true);
    assert_eq!(b["picture"], "https://img.example/p.png");
    assert!(b["updated_at"].as_str() >= u["updated_at"].as_str());

    // A new email is unverified unless stated; null unsets an attribute.
    let r = s
        .patch(
            &path,
            json!({"email": "New@Example.com", "given_name": null}),
        )
        .await;
    let b = r.assert_status(200).clone();
    assert_eq!(b["email"], "new@example.com");
    assert_eq!(b["email_verified"], false);
    assert!(b.get("given_name").is_none());
    let r = s
        .patch(
            &path,
            json!({"email": "newer@example.com", "email_verified": true}),
        )
        .await;
    assert_eq!(r.assert_status(200)["email_verified"], true);

    // Email collision with another user of the connection.
    s.create_user("taken@example.com", json!({})).await;
    let r = s.patch(&path, json!({"email": "taken@example.com"})).await;
    r.assert_error(409, "auth0_idp_error");

    let bad = [
        (json!({}), "invalid_body"),
        (json!({"unknown": 1}), "invalid_body"),
        (json!({"email": "not-an-email"}), "invalid_body"),
        (json!({"email": 5}), "invalid_body"),
        (json!({"blocked": "yes"}), "invalid_body"),
        (json!({"phone_number": "555"}), "invalid_body"),
        (json!({"picture": "javascript:alert(1)"}), "invalid_body"),
        (
            json!({"email": "x@example.com", "password": "Sup3r-secret!2"}),
            "invalid_body",
        ),
        (json!({"username": "jane"}), "operation_not_supported"),
        (
            json!({"connection": "other-connection", "email_verified": true}),
            "operation_not_supported",
        ),
        (json!({"password": "weak"}), "invalid_password"),
    ];
    let before = s.get(&path).await.body;
    for (body, code) in bad {
        let r = s.patch(&path, body.clone()).await;
        r.assert_error(400, code);
    }
    assert_eq!(
        s.get(&path).await.body,
        before,
        "refused PATCHes changed nothing"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn get_delete_and_unknown_users() {
    let mut s = TestServer::start().await;
    let u = s.create_user("d@example.com", json!({})).await;
    let path = user_path(&u);
    let r = s.get("/api/v2/users/auth0%7Cdoesnotexist").await;
    assert_eq!(
        r.assert_error(404, "inexistent_user"),
        "The user does not exist."
    );
    let r = s
        .patch("/api/v2/users/auth0%7Cdoesnotexist", json!({"name": "x"}))
        .await;
    r.assert_error(404, "inexistent_user");
    let long = "x".repeat(400);
    s.get(&format!("/api/v2/users/{long}"))
        .await
        .assert_error(400, "invalid_uri");

    let r = s.delete(&path).await;
    assert_eq!(r.status.as_u16(), 204);
    assert!(r.body.is_null());
    s.get(&path).await.assert_error(404, "inexistent_user");
    assert_eq!(
        s.delete(&path).await.status.as_u16(),
        204,
        "delete is idempotent as in Auth0"
    );
    // The email is free again.
    s.create_user("d@example.com", json!({})).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn list_pages_sorts_and_selects_fields() {
    let mut s = TestServer::start().await;
    let mut ids = vec![];
    for (i, name) in ["carol", "alice", "bob", "dave", "erin"].iter().enumerate() {
        let u = s
            .create_user(
                &format!("{name}@example.com"),
                json!({"name": name, "app_metadata": {"n": i}}),
            )
            .await;
        ids.push(u["user_id"].as_str().unwrap().to_string());
    }
    let r = s
        .get("/api/v2/users?per_page=2&page=1&include_totals=true")
        .await;
    let b = r.assert_status(200);
    assert_eq!(
        (
            b["start"].clone(),
            b["limit"].clone(),
            b["length"].clone(),
            b["total"].clone()
        ),
        (json!(2), json!(2), json!(2), json!(5))
    );
    let page_ids: Vec<&str> = b["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["user_id"].as_str().unwrap())
        .collect();
    assert_eq!(
        page_ids,
        vec![ids[2].as_str(), ids[3].as_str()],
        "default order is creation order"
    );

    let r = s.get("/api/v2/users?sort=name:1&fields=name,user_id").await;
    let names: Vec<&str> = r
        .assert_status(200)
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, vec!["alice", "bob", "carol", "dave", "erin"]);
    assert_eq!(
        r.body[0].as_object().unwrap().len(),
        2,
        "only the selected fields"
    );
    let r = s
        .get("/api/v2/users?sort=name:-1&fields=app_metadata,identities&include_fields=false")
        .await;
    let first = &r.assert_status(200)[0];
    assert_eq!(first["name"], "erin");
    assert!(first.get("app_metadata").is_none() && first.get("identities").is_none());

    let r = s
        .get(&format!(
            "/api/v2/users?connection={DB_CONNECTION}&per_page=1"
        ))
        .await;
    assert_eq!(r.assert_status(200).as_array().unwrap().len(), 1);
    let r = s
        .get("/api/v2/users?connection=nope&include_totals=true")
        .await;
    assert_eq!(r.assert_status(200)["total"], 0);

    for bad in [
        "per_page=101",
        "per_page=abc",
        "page=-1",
        "sort=name",
        "sort=password:1",
        "sort=name:2",
        "include_totals=maybe",
        "frobnicate=1",
    ] {
        s.get(&format!("/api/v2/users?{bad}"))
            .await
            .assert_error(400, "invalid_query_string");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn users_by_email_is_exact() {
    let mut s = TestServer::start().await;
    let u = s.create_user("Exact@Example.com", json!({})).await;
    let r = s
        .get("/api/v2/users-by-email?email=exact@example.com")
        .await;
    assert_eq!(
        r.assert_status(200).as_array().unwrap()[0]["user_id"],
        u["user_id"]
    );
    let r = s
        .get("/api/v2/users-by-email?email=EXACT@example.com")
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!([]),
        "case-sensitive, as Auth0 documents"
    );
    let r = s
        .get("/api/v2/users-by-email?email=exact@example.com&fields=email")
        .await;
    assert_eq!(
        r.assert_status(200),
        &json!([{"email": "exact@example.com"}])
    );
    s.get("/api/v2/users-by-email")
        .await
        .assert_error(400, "invalid_query_string");
}

#[tokio::test(flavor = "multi_thread")]
async fn malformed_and_oversized_bodies_are_400s() {
    let mut s = TestServer::start_with(|c| c.max_body_bytes = 4096).await;
    let r = s
        .send_bytes(
            reqwest::Method::POST,
            "/api/v2/users",
            "application/json",
            b"{\"connection\":".to_vec(),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s
        .send_bytes(
            reqwest::Method::POST,
            "/api/v2/users",
            "application/json",
            b"[1,2]".to_vec(),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s
        .send_bytes(
            reqwest::Method::POST,
            "/api/v2/users",
            "application/json",
            Vec::new(),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let big = format!(
        "{{\"connection\":\"{DB_CONNECTION}\",\"email\":\"big@example.com\",\"password\":\"Sup3r-secret!\",\"name\":\"{}\"}}",
        "x".repeat(10_000)
    );
    let r = s
        .send_bytes(
            reqwest::Method::POST,
            "/api/v2/users",
            "application/json",
            big.into_bytes(),
        )
        .await;
    r.assert_error(400, "invalid_body");
    let r = s.post("/api/v2/users", json!({"connection": "no-such-connection", "email": "a@example.com", "password": "Sup3r-secret!"})).await;
    assert_eq!(
        r.assert_error(400, "inexistent_connection"),
        "The connection does not exist."
    );
    let r = s.post("/api/v2/users", json!({"connection": DB_CONNECTION, "email": "a@example.com", "password": "Sup3r-secret!", "is_admin": true})).await;
    assert!(r.assert_error(400, "invalid_body").contains("is_admin"));
    assert_eq!(
        s.get("/api/v2/users").await.body,
        json!([]),
        "nothing was created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn data_survives_a_restart() {
    let mut s = TestServer::start().await;
    let u = s
        .create_user(
            "persist@example.com",
            json!({"app_metadata": {"plan": "gold"}}),
        )
        .await;
    let old_token = s.token().await;
    let jwks_before = s
        .raw(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    s.restart().await;
    let got = s
        .raw(reqwest::Method::GET, &user_path(&u), Some(&old_token), None)
        .await;
    assert_eq!(
        got.assert_status(200),
        &u,
        "user and signing key survive a restart"
    );
    let jwks_after = s
        .raw(reqwest::Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    assert_eq!(jwks_before, jwks_after);
}

#[tokio::test(flavor = "multi_thread")]
async fn concurrent_metadata_patches_do_not_lose_updates() {
    let mut s = TestServer::start().await;
    let u = s.create_user("race@example.com", json!({})).await;
    let path = user_path(&u);
    let token = s.token().await;
    let s = std::sync::Arc::new(s);
    let mut tasks = vec![];
    for i in 0..12 {
        let s = s.clone();
        let (path, token) = (path.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let r = s
                .raw(
                    reqwest::Method::PATCH,
                    &path,
                    Some(&token),
                    Some(json!({"user_metadata": {format!("k{i}"): i}})),
                )
                .await;
            r.status.as_u16()
        }));
    }
    for t in tasks {
        assert_eq!(t.await.unwrap(), 200);
    }
    let got = s.raw(reqwest::Method::GET, &path, Some(&token), None).await;
    assert_eq!(
        got.body["user_metadata"].as_object().unwrap().len(),
        12,
        "{}",
        got.body
    );
}
