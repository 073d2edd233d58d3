//! Rotating refresh tokens: issued for offline_access, single use, reuse revokes the family.

use crate::common;

use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

async fn token(s: &TestServer, body: Value) -> common::Response {
    s.raw(Method::POST, "/oauth/token", None, Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_and_reuse_detection() {
    let mut s = TestServer::start().await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "grant_types": ["password", "refresh_token"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    let u = s.create_user("rt@example.com", json!({})).await;
    let login = json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "rt@example.com",
        "password": "Sup3r-secret!", "scope": "openid email offline_access"});
    let first = token(&s, login.clone()).await.assert_status(200).clone();
    let r1 = first["refresh_token"]
        .as_str()
        .expect("refresh token for offline_access")
        .to_string();
    assert!(first["scope"].as_str().unwrap().contains("offline_access"));
    let without = token(&s, json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "rt@example.com", "password": "Sup3r-secret!", "scope": "openid"})).await;
    assert!(
        without.assert_status(200).get("refresh_token").is_none(),
        "no offline_access, no refresh token"
    );

    let refresh = |rt: &str| json!({"grant_type": "refresh_token", "client_id": cid, "client_secret": secret, "refresh_token": rt});
    let second = token(&s, refresh(&r1)).await.assert_status(200).clone();
    let r2 = second["refresh_token"].as_str().unwrap().to_string();
    assert_ne!(r1, r2, "rotated");
    assert!(second["id_token"].is_string() && second["access_token"].is_string());
    let third = token(&s, refresh(&r2)).await.assert_status(200).clone();
    let r3 = third["refresh_token"].as_str().unwrap().to_string();

    // Narrowing is allowed, widening is not.
    let narrowed = token(&s, json!({"grant_type": "refresh_token", "client_id": cid, "client_secret": secret, "refresh_token": r3, "scope": "openid profile"})).await;
    assert_eq!(
        (narrowed.status.as_u16(), narrowed.body["error"].clone()),
        (403, json!("invalid_scope"))
    );

    // Reusing r1 (already rotated) revokes the family: r3 stops working too.
    let reuse = token(&s, refresh(&r1)).await;
    assert_eq!(
        (reuse.status.as_u16(), reuse.body["error"].clone()),
        (403, json!("invalid_grant"))
    );
    let after = token(&s, refresh(&r3)).await;
    assert_eq!(after.status.as_u16(), 403, "family revoked");

    // A fresh login starts a new family; another client cannot use it; a blocked user cannot refresh.
    let fresh = token(&s, login).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let other = s
        .post(
            "/api/v2/clients",
            json!({"name": "other", "grant_types": ["refresh_token"]}),
        )
        .await
        .assert_status(201)
        .clone();
    let stolen = token(&s, json!({"grant_type": "refresh_token", "client_id": other["client_id"], "client_secret": other["client_secret"], "refresh_token": fresh})).await;
    assert_eq!(stolen.status.as_u16(), 403);
    s.patch(
        &format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap())),
        json!({"blocked": true}),
    )
    .await
    .assert_status(200);
    // Blocking revoked the refresh token (security review M6): refused as any revoked
    // token is, and still refused once the user is unblocked.
    assert_eq!(token(&s, refresh(&fresh)).await.status.as_u16(), 403);
    s.patch(
        &format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap())),
        json!({"blocked": false}),
    )
    .await
    .assert_status(200);
    assert_eq!(token(&s, refresh(&fresh)).await.status.as_u16(), 403);
    assert_eq!(token(&s, refresh("garbage")).await.status.as_u16(), 403);

    let logs = s
        .get(&format!(
            "/api/v2/logs?per_page=100&q={}",
            enc("type:fertft")
        ))
        .await;
    assert!(
        logs.body
            .as_array()
            .unwrap()
            .iter()
            .any(|e| e["details"]["reuse_detected"] == true),
        "{}",
        logs.body
    );
    let ok = s
        .get(&format!(
            "/api/v2/logs?per_page=100&q={}",
            enc("type:sertft")
        ))
        .await;
    assert_eq!(ok.body.as_array().unwrap().len(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn apis_must_allow_offline_access() {
    let mut s = TestServer::start().await;
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "grant_types": ["password", "refresh_token"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    s.create_user("api@example.com", json!({})).await;
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://closed.example"}),
    )
    .await
    .assert_status(201);
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://open.example", "allow_offline_access": true}),
    )
    .await
    .assert_status(201);
    for (aud, expect) in [
        ("https://closed.example", false),
        ("https://open.example", true),
    ] {
        let r = token(&s, json!({"grant_type": "password", "client_id": c["client_id"], "client_secret": c["client_secret"], "username": "api@example.com",
            "password": "Sup3r-secret!", "scope": "offline_access", "audience": aud})).await;
        assert_eq!(
            r.assert_status(200).get("refresh_token").is_some(),
            expect,
            "{aud}"
        );
    }
}

async fn client_with_policy(s: &mut TestServer, policy: Value) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "grant_types": ["password", "refresh_token"], "refresh_token": policy}),
        )
        .await;
    let c = c.assert_status(201).clone();
    assert_eq!(
        c["refresh_token"]["leeway"],
        policy.get("leeway").cloned().unwrap_or(json!(0))
    );
    (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn client_refresh_token_policies() {
    let mut s = TestServer::start().await;
    s.create_user("pol@example.com", json!({})).await;
    let bad = s
        .post("/api/v2/clients", json!({"name": "x", "refresh_token": {"rotation_type": "rotating", "expiration_type": "non-expiring"}}))
        .await;
    bad.assert_error(400, "invalid_body");

    // Non-rotating (Auth0's default for new applications): the same token keeps working and
    // refreshes return no new refresh token.
    let (cid, secret) = client_with_policy(
        &mut s,
        json!({"rotation_type": "non-rotating", "expiration_type": "non-expiring"}),
    )
    .await;
    let login = json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "pol@example.com",
        "password": "Sup3r-secret!", "scope": "openid offline_access"});
    let rt = token(&s, login).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..3 {
        let r = token(&s, json!({"grant_type": "refresh_token", "client_id": cid, "client_secret": secret, "refresh_token": rt})).await;
        let r = r.assert_status(200);
        assert!(r.get("refresh_token").is_none());
        assert!(r["access_token"].is_string());
    }

    // Rotating with leeway: a just-rotated token may be used again (two tabs racing) without
    // revoking the family.
    let (cid, secret) = client_with_policy(&mut s, json!({"leeway": 30})).await;
    let login = json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "pol@example.com",
        "password": "Sup3r-secret!", "scope": "openid offline_access"});
    let r1 = token(&s, login).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let refresh = |rt: &str| json!({"grant_type": "refresh_token", "client_id": cid, "client_secret": secret, "refresh_token": rt});
    let r2 = token(&s, refresh(&r1)).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    let r2b = token(&s, refresh(&r1)).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_ne!(r2, r2b);
    token(&s, refresh(&r2)).await.assert_status(200);

    // Requests with one fresh token, released together, within the leeway: each gets a new
    // token and the family lives on, though most read the token before any marked it used.
    let mut rt = token(&s, refresh(&r2)).await.assert_status(200)["refresh_token"]
        .as_str()
        .unwrap()
        .to_string();
    for _ in 0..4 {
        let raced = common::release_together(
            &s.url,
            (0..32)
                .map(|_| common::RawRequest::post_json("/oauth/token", &refresh(&rt)))
                .collect(),
        )
        .await;
        let statuses: Vec<u16> = raced.iter().map(|(status, _)| *status).collect();
        assert_eq!(statuses, vec![200; 32], "{raced:?}");
        let next: Value = serde_json::from_str(&raced[31].1).unwrap();
        rt = next["refresh_token"].as_str().unwrap().to_string();
    }
    token(&s, refresh(&rt)).await.assert_status(200);
}
