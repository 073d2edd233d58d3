//! Brute-force protection: ten consecutive failures from one IP block that user there;
//! `/api/v2/user-blocks` shows and lifts blocks; success and password changes reset them.

use crate::common;

use common::{DB_CONNECTION, TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

async fn attempt(s: &TestServer, cid: &str, secret: &str, user: &str, password: &str) -> u16 {
    let body = json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": user, "password": password});
    s.raw(Method::POST, "/oauth/token", None, Some(body))
        .await
        .status
        .as_u16()
}

async fn setup(s: &mut TestServer) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "grant_types": ["password"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn ten_failures_block_until_lifted_or_password_changed() {
    let mut s = TestServer::start().await;
    let (cid, secret) = setup(&mut s).await;
    let u = s.create_user("bf@example.com", json!({})).await;
    let uid = enc(u["user_id"].as_str().unwrap());

    // A success in between resets the count.
    for _ in 0..9 {
        assert_eq!(
            attempt(&s, &cid, &secret, "bf@example.com", "wrong").await,
            403
        );
    }
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "Sup3r-secret!").await,
        200
    );
    for _ in 0..9 {
        assert_eq!(
            attempt(&s, &cid, &secret, "bf@example.com", "wrong").await,
            403
        );
    }
    assert_eq!(
        s.get(&format!("/api/v2/user-blocks/{uid}")).await.body,
        json!({"blocked_for": []})
    );
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "wrong").await,
        403
    );
    // Now blocked, even with the right password.
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "bf@example.com", "password": "Sup3r-secret!"})))
        .await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].clone()),
        (429, json!("too_many_attempts"))
    );
    let expected = json!({"blocked_for": [{"identifier": "bf@example.com", "ip": "127.0.0.1", "connection": DB_CONNECTION}]});
    assert_eq!(
        s.get(&format!("/api/v2/user-blocks/{uid}"))
            .await
            .assert_status(200),
        &expected
    );
    assert_eq!(
        s.get("/api/v2/user-blocks?identifier=BF@example.com")
            .await
            .assert_status(200),
        &expected
    );

    // Lifting by identifier.
    assert_eq!(
        s.delete("/api/v2/user-blocks?identifier=bf@example.com")
            .await
            .status
            .as_u16(),
        204
    );
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "Sup3r-secret!").await,
        200
    );

    // Blocked again, then a password change lifts it.
    for _ in 0..10 {
        attempt(&s, &cid, &secret, "bf@example.com", "wrong").await;
    }
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "Sup3r-secret!").await,
        429
    );
    s.patch(
        &format!("/api/v2/users/{uid}"),
        json!({"password": "An0ther-secret!"}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "An0ther-secret!").await,
        200
    );

    // Blocked again, lifted by user id.
    for _ in 0..10 {
        attempt(&s, &cid, &secret, "bf@example.com", "wrong").await;
    }
    assert_eq!(
        s.delete(&format!("/api/v2/user-blocks/{uid}"))
            .await
            .status
            .as_u16(),
        204
    );
    assert_eq!(
        attempt(&s, &cid, &secret, "bf@example.com", "An0ther-secret!").await,
        200
    );

    let logs = s
        .get(&format!(
            "/api/v2/users/{uid}/logs?per_page=100&sort=date:1"
        ))
        .await;
    let kinds: Vec<&str> = logs
        .body
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["type"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds.iter().filter(|k| **k == "limit_wc").count(),
        3,
        "{kinds:?}"
    );
    assert_eq!(
        kinds.iter().filter(|k| **k == "ublkdu").count(),
        2,
        "{kinds:?}"
    );

    s.get("/api/v2/user-blocks/auth0%7Cnobody")
        .await
        .assert_error(404, "inexistent_user");
    s.get("/api/v2/user-blocks")
        .await
        .assert_error(400, "invalid_query_string");
    let ro: Value = json!(s.token_with_scope(Some("read:users")).await);
    let r = s
        .raw(
            Method::DELETE,
            &format!("/api/v2/user-blocks/{uid}"),
            ro.as_str(),
            None,
        )
        .await;
    r.assert_error(403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_can_turn_protection_off() {
    let mut s = TestServer::start().await;
    let (cid, secret) = setup(&mut s).await;
    let c = s.post("/api/v2/connections", json!({"name": "open", "strategy": "auth0", "enabled_clients": [cid], "options": {"brute_force_protection": false, "passwordPolicy": "low"}})).await;
    c.assert_status(201);
    s.post(
        "/api/v2/users",
        json!({"connection": "open", "email": "o@example.com", "password": "secret"}),
    )
    .await
    .assert_status(201);
    let realm = |password: &str| json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "o@example.com", "password": password, "realm": "open"});
    for _ in 0..12 {
        assert_eq!(
            s.raw(Method::POST, "/oauth/token", None, Some(realm("wrong")))
                .await
                .status
                .as_u16(),
            403
        );
    }
    assert_eq!(
        s.raw(Method::POST, "/oauth/token", None, Some(realm("secret")))
            .await
            .status
            .as_u16(),
        200
    );
}
