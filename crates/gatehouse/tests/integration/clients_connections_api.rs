//! `/api/v2/clients` and `/api/v2/connections` over HTTP.

use crate::common;

use common::{CLIENT_ID, DB_CONNECTION, TestServer};
use reqwest::Method;
use serde_json::json;

#[tokio::test(flavor = "multi_thread")]
async fn client_lifecycle() {
    let mut s = TestServer::start().await;
    let r = s
        .post("/api/v2/clients", json!({"name": "My App", "app_type": "regular_web", "callbacks": ["https://app.example/callback"], "grant_types": ["client_credentials", "authorization_code"], "token_endpoint_auth_method": "client_secret_basic"}))
        .await;
    let c = r.assert_status(201).clone();
    let id = c["client_id"].as_str().unwrap().to_string();
    assert_eq!(id.len(), 32);
    let secret = c["client_secret"].as_str().unwrap().to_string();
    assert!(secret.len() >= 48);
    assert_eq!(c["callbacks"], json!(["https://app.example/callback"]));
    assert_eq!(c["jwt_configuration"]["alg"], "RS256");
    assert_eq!(c["is_first_party"], true);

    let got = s.get(&format!("/api/v2/clients/{id}")).await;
    assert_eq!(
        got.assert_status(200)["client_secret"],
        secret.as_str(),
        "read:client_keys shows the secret"
    );
    let no_keys = s.token_with_scope(Some("read:clients")).await;
    let got = s
        .raw(
            Method::GET,
            &format!("/api/v2/clients/{id}"),
            Some(&no_keys),
            None,
        )
        .await;
    assert!(got.assert_status(200).get("client_secret").is_none());

    let r = s
        .patch(
            &format!("/api/v2/clients/{id}"),
            json!({"name": "Renamed", "web_origins": ["https://app.example"]}),
        )
        .await;
    assert_eq!(r.assert_status(200)["name"], "Renamed");
    assert_eq!(
        r.body["callbacks"],
        json!(["https://app.example/callback"]),
        "unlisted properties kept"
    );

    let list = s.get("/api/v2/clients?include_totals=true").await;
    assert_eq!(list.assert_status(200)["total"], 2);
    let list = s.get("/api/v2/clients?fields=client_id,name").await;
    assert!(
        list.body
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c.as_object().unwrap().len() == 2)
    );

    // The new client can't get a Management API token: it has no grant.
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": s.audience()})))
        .await;
    assert_eq!(r.status.as_u16(), 403);

    let rotated = s
        .post(&format!("/api/v2/clients/{id}/rotate-secret"), json!({}))
        .await;
    assert_ne!(rotated.assert_status(200)["client_secret"], secret.as_str());

    assert_eq!(
        s.delete(&format!("/api/v2/clients/{id}"))
            .await
            .status
            .as_u16(),
        204
    );
    s.get(&format!("/api/v2/clients/{id}"))
        .await
        .assert_error(404, "inexistent_client");
    s.get(&format!("/api/v2/clients/{CLIENT_ID}"))
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn client_bad_input_changes_nothing() {
    let mut s = TestServer::start().await;
    let bad = [
        json!({}),
        json!({"name": ""}),
        json!({"name": 5}),
        json!({"name": "x", "app_type": "desktop"}),
        json!({"name": "x", "grant_types": ["magic"]}),
        json!({"name": "x", "callbacks": "https://a"}),
        json!({"name": "x", "callbacks": ["not a url"]}),
        json!({"name": "x", "token_endpoint_auth_method": "psychic"}),
        json!({"name": "x", "jwt_configuration": {"lifetime_in_seconds": -1}}),
        json!({"name": "x", "client_metadata": {"n": 1}}),
        json!({"name": "x", "surprise": true}),
    ];
    for body in bad {
        let r = s.post("/api/v2/clients", body.clone()).await;
        r.assert_error(400, "invalid_body");
    }
    let before = s.get(&format!("/api/v2/clients/{CLIENT_ID}")).await.body;
    s.patch(
        &format!("/api/v2/clients/{CLIENT_ID}"),
        json!({"app_type": "nope"}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.patch(&format!("/api/v2/clients/{CLIENT_ID}"), json!({}))
        .await
        .assert_error(400, "invalid_body");
    assert_eq!(
        s.get(&format!("/api/v2/clients/{CLIENT_ID}")).await.body,
        before
    );
    assert_eq!(
        s.get("/api/v2/clients")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
    s.get("/api/v2/clients/does-not-exist")
        .await
        .assert_error(404, "inexistent_client");
    s.get("/api/v2/clients/bad%20id")
        .await
        .assert_error(400, "invalid_uri");
    s.delete("/api/v2/clients/bad%20id")
        .await
        .assert_error(400, "invalid_uri");
}

#[tokio::test(flavor = "multi_thread")]
async fn connection_lifecycle_and_password_policy_changes() {
    let mut s = TestServer::start().await;
    let list = s.get("/api/v2/connections?strategy=auth0").await;
    let default = list.assert_status(200).as_array().unwrap()[0].clone();
    assert_eq!(default["name"], DB_CONNECTION);
    assert_eq!(default["strategy"], "auth0");
    assert_eq!(default["options"]["passwordPolicy"], "good");
    assert!(default["id"].as_str().unwrap().starts_with("con_"));
    let by_name = s
        .get(&format!("/api/v2/connections?name={DB_CONNECTION}"))
        .await;
    assert_eq!(by_name.body.as_array().unwrap().len(), 1);

    let c = s.post("/api/v2/connections", json!({"name": "staff", "strategy": "auth0", "options": {"passwordPolicy": "excellent"}, "enabled_clients": [CLIENT_ID]})).await;
    let c = c.assert_status(201).clone();
    let id = c["id"].as_str().unwrap().to_string();
    assert_eq!(c["enabled_clients"], json!([CLIENT_ID]));
    s.post(
        "/api/v2/connections",
        json!({"name": "staff", "strategy": "auth0"}),
    )
    .await
    .assert_error(409, "auth0_idp_error");

    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "staff", "email": "s@example.com", "password": "Sup3r-secret!"}),
        )
        .await;
    r.assert_status(201);
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "staff", "email": "t@example.com", "password": "Short-1!"}),
        )
        .await;
    r.assert_error(400, "invalid_password");

    // PATCH replaces options whole; the policy relaxes immediately.
    let r = s
        .patch(
            &format!("/api/v2/connections/{id}"),
            json!({"options": {"passwordPolicy": "low"}}),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["options"],
        json!({"passwordPolicy": "low"})
    );
    s.post(
        "/api/v2/users",
        json!({"connection": "staff", "email": "t@example.com", "password": "simple"}),
    )
    .await
    .assert_status(201);

    for bad in [
        json!({"name": "x"}),
        json!({"name": "has space", "strategy": "auth0"}),
        json!({"name": "ok", "strategy": "samlp"}),
        json!({"name": "ok", "strategy": "oidc"}),
        json!({"name": "ok", "strategy": "auth0", "options": {"passwordPolicy": "ultra"}}),
        json!({"name": "ok", "strategy": "auth0", "options": {"password_history": {"enable": true, "size": 99}}}),
        json!({"name": "ok", "strategy": "auth0", "extra": 1}),
    ] {
        s.post("/api/v2/connections", bad.clone())
            .await
            .assert_error(400, "invalid_body");
    }
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"name": "renamed"}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.get("/api/v2/connections/con_doesnotexist00")
        .await
        .assert_error(404, "inexistent_connection");
    s.get("/api/v2/connections/not-a-connection-id")
        .await
        .assert_error(400, "invalid_uri");
    s.patch("/api/v2/connections/con_", json!({"display_name": "x"}))
        .await
        .assert_error(400, "invalid_uri");

    // Deleting a connection deletes its users.
    assert_eq!(
        s.delete(&format!("/api/v2/connections/{id}"))
            .await
            .status
            .as_u16(),
        204
    );
    let users = s.get("/api/v2/users-by-email?email=s@example.com").await;
    assert_eq!(users.body, json!([]));
    s.get(&format!("/api/v2/connections/{id}"))
        .await
        .assert_error(404, "inexistent_connection");
    let total = s.get("/api/v2/connections?include_totals=true").await;
    assert_eq!(total.body["total"], 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn bootstrap_admin_and_credentials_are_reapplied_at_start() {
    let mut s = TestServer::start_with(|c| {
        c.bootstrap_admin_email = Some("Admin@Example.com".into());
        c.bootstrap_admin_password = Some("Adm1n-password!".into());
    })
    .await;
    let admins = s
        .get("/api/v2/users-by-email?email=admin@example.com")
        .await;
    let admin = admins.body[0].clone();
    assert_eq!(admin["app_metadata"]["roles"], json!(["admin"]));
    assert_eq!(admin["email_verified"], true);
    // A restart with the same settings keeps one admin and the same client.
    s.restart().await;
    let admins = s
        .get("/api/v2/users-by-email?email=admin@example.com")
        .await;
    assert_eq!(admins.body.as_array().unwrap().len(), 1);
    assert_eq!(admins.body[0]["user_id"], admin["user_id"]);
    // New bootstrap secret at restart: the old one stops working.
    s.cfg.bootstrap_client_secret = Some("a-completely-different-secret-0123456789".into());
    s.restart().await;
    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": common::CLIENT_SECRET, "audience": s.audience()})))
        .await;
    assert_eq!(r.status.as_u16(), 401);
}

#[tokio::test(flavor = "multi_thread")]
async fn connections_list_with_checkpoint_paging() {
    let mut s = TestServer::start().await;
    for name in ["cp-a", "cp-b", "cp-c"] {
        s.post(
            "/api/v2/connections",
            json!({"name": name, "strategy": "auth0"}),
        )
        .await
        .assert_status(201);
    }
    let first = s
        .get("/api/v2/connections?take=2")
        .await
        .assert_status(200)
        .clone();
    let page1 = first["connections"].as_array().unwrap().clone();
    assert_eq!(page1.len(), 2);
    let next = first["next"].as_str().expect("more follow").to_string();
    let second = s
        .get(&format!("/api/v2/connections?take=2&from={next}"))
        .await
        .assert_status(200)
        .clone();
    let page2 = second["connections"].as_array().unwrap().clone();
    assert_eq!(
        page2.len(),
        2,
        "4 connections: the default one and three more"
    );
    assert!(second.get("next").is_none());
    let mut ids: Vec<&str> = page1
        .iter()
        .chain(&page2)
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    ids.dedup();
    assert_eq!(ids.len(), 4);
    let named = s
        .get("/api/v2/connections?take=50&name=cp-b")
        .await
        .assert_status(200)
        .clone();
    assert_eq!(named["connections"][0]["name"], "cp-b");
    s.get("/api/v2/connections?take=0")
        .await
        .assert_error(400, "invalid_query_string");
}
