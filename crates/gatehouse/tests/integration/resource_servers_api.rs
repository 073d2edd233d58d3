//! `/api/v2/resource-servers`, `/api/v2/client-grants`, and client-credentials tokens for
//! APIs other than the Management API.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, enc};
use reqwest::Method;
use serde_json::{Value, json};

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

async fn token_for(s: &TestServer, id: &str, secret: &str, audience: &str) -> common::Response {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": audience})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn apis_grants_and_their_tokens() {
    let mut s = TestServer::start().await;
    // The Management API is listed and cannot be changed.
    let list = s.get("/api/v2/resource-servers").await;
    let mgmt = list.assert_status(200).as_array().unwrap()[0].clone();
    assert_eq!(mgmt["identifier"], s.audience());
    assert_eq!(mgmt["is_system"], true);
    let mgmt_id = mgmt["id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/resource-servers/{mgmt_id}"),
        json!({"name": "x"}),
    )
    .await
    .assert_error(400, "operation_not_supported");
    s.delete(&format!("/api/v2/resource-servers/{mgmt_id}"))
        .await
        .assert_error(400, "operation_not_supported");

    let api = "https://api.example.com";
    let r = s
        .post("/api/v2/resource-servers", json!({"identifier": api, "name": "Things", "token_lifetime": 3600,
               "scopes": [{"value": "read:things", "description": "Read"}, {"value": "write:things", "description": "Write"}]}))
        .await;
    let rs = r.assert_status(201).clone();
    let rs_id = rs["id"].as_str().unwrap().to_string();
    s.post("/api/v2/resource-servers", json!({"identifier": api}))
        .await
        .assert_error(409, "auth0_idp_error");
    for bad in [
        json!({"name": "no identifier"}),
        json!({"identifier": "has space"}),
        json!({"identifier": "https://x", "token_lifetime": 0}),
        json!({"identifier": "https://x", "scopes": [{"value": "a b"}]}),
        json!({"identifier": "https://x", "scopes": "read"}),
        json!({"identifier": "https://x", "signing_alg": "HS256"}),
        json!({"identifier": "https://x", "extra": 1}),
    ] {
        s.post("/api/v2/resource-servers", bad.clone())
            .await
            .assert_error(400, "invalid_body");
    }
    let by_identifier = s
        .get(&format!("/api/v2/resource-servers/{}", enc(api)))
        .await;
    assert_eq!(by_identifier.assert_status(200)["id"], rs_id.as_str());

    // A machine-to-machine client, granted part of the API's scopes.
    let c = s.post("/api/v2/clients", json!({"name": "worker", "app_type": "non_interactive", "grant_types": ["client_credentials"]})).await;
    let c = c.assert_status(201).clone();
    let (cid, secret) = (
        c["client_id"].as_str().unwrap().to_string(),
        c["client_secret"].as_str().unwrap().to_string(),
    );
    token_for(&s, &cid, &secret, api).await.assert_status(403);
    for (body, status, code) in [
        (
            json!({"client_id": cid, "audience": api, "scope": ["delete:things"]}),
            400,
            "invalid_body",
        ),
        (
            json!({"client_id": cid, "audience": "https://nope.example", "scope": []}),
            404,
            "inexistent_resource_server",
        ),
        (
            json!({"client_id": "NoSuchClient", "audience": api, "scope": []}),
            404,
            "inexistent_client",
        ),
        (
            json!({"client_id": cid, "audience": api}),
            400,
            "invalid_body",
        ),
    ] {
        s.post("/api/v2/client-grants", body)
            .await
            .assert_error(status, code);
    }
    let g = s
        .post(
            "/api/v2/client-grants",
            json!({"client_id": cid, "audience": api, "scope": ["read:things"]}),
        )
        .await;
    let grant_id = g.assert_status(201)["id"].as_str().unwrap().to_string();
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": cid, "audience": api, "scope": ["read:things"]}),
    )
    .await
    .assert_error(409, "auth0_idp_error");

    let t = token_for(&s, &cid, &secret, api).await;
    let body = t.assert_status(200).clone();
    assert_eq!(body["expires_in"], 3600, "the API's token lifetime");
    let cl = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        (cl["aud"].clone(), cl["scope"].clone(), cl["azp"].clone()),
        (json!(api), json!("read:things"), json!(cid))
    );
    assert_eq!(
        cl["exp"].as_i64().unwrap() - cl["iat"].as_i64().unwrap(),
        3600
    );
    // A token for another API does not open the Management API.
    let r = s
        .raw(
            Method::GET,
            "/api/v2/users",
            Some(body["access_token"].as_str().unwrap()),
            None,
        )
        .await;
    r.assert_error(401, "invalid_token");

    // Changing the grant changes the next token; filters on the grant list.
    s.patch(
        &format!("/api/v2/client-grants/{grant_id}"),
        json!({"scope": ["read:things", "write:things"]}),
    )
    .await
    .assert_status(200);
    let cl = claims(
        token_for(&s, &cid, &secret, api).await.body["access_token"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(cl["scope"], "read:things write:things");
    s.patch(
        &format!("/api/v2/client-grants/{grant_id}"),
        json!({"scope": ["nuke:things"]}),
    )
    .await
    .assert_error(400, "invalid_body");
    let mine = s
        .get(&format!("/api/v2/client-grants?client_id={cid}"))
        .await;
    assert_eq!(mine.assert_status(200).as_array().unwrap().len(), 1);
    let all = s.get("/api/v2/client-grants?include_totals=true").await;
    assert_eq!(
        all.assert_status(200)["total"],
        2,
        "bootstrap grant + this one"
    );

    // Deleting the grant, then the API, shuts the door.
    assert_eq!(
        s.delete(&format!("/api/v2/client-grants/{grant_id}"))
            .await
            .status
            .as_u16(),
        204
    );
    token_for(&s, &cid, &secret, api).await.assert_status(403);
    s.delete(&format!("/api/v2/client-grants/{grant_id}"))
        .await
        .assert_error(404, "inexistent_client_grant");
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": cid, "audience": api, "scope": []}),
    )
    .await
    .assert_status(201);
    assert_eq!(
        s.delete(&format!("/api/v2/resource-servers/{rs_id}"))
            .await
            .status
            .as_u16(),
        204
    );
    let r = token_for(&s, &cid, &secret, api).await;
    assert_eq!(r.status.as_u16(), 403);
    assert_eq!(
        r.body["error_description"],
        format!("Service not found: {api}")
    );
    let left = s
        .get(&format!("/api/v2/client-grants?client_id={cid}"))
        .await;
    assert_eq!(left.body, json!([]), "the API's grants went with it");
    s.get(&format!("/api/v2/resource-servers/{rs_id}"))
        .await
        .assert_error(404, "inexistent_resource_server");
}

#[tokio::test(flavor = "multi_thread")]
async fn resource_server_endpoints_enforce_scopes() {
    let mut s = TestServer::start().await;
    let read_users = s.token_with_scope(Some("read:users")).await;
    for (m, p, body, scope) in [
        (
            Method::GET,
            "/api/v2/resource-servers",
            None,
            "read:resource_servers",
        ),
        (
            Method::POST,
            "/api/v2/resource-servers",
            Some(json!({"identifier": "https://a"})),
            "create:resource_servers",
        ),
        (
            Method::GET,
            "/api/v2/client-grants",
            None,
            "read:client_grants",
        ),
        (
            Method::POST,
            "/api/v2/client-grants",
            Some(json!({})),
            "create:client_grants",
        ),
    ] {
        let r = s.raw(m, p, Some(&read_users), body).await;
        assert!(r.assert_error(403, "insufficient_scope").contains(scope));
    }
    assert_eq!(
        s.get("/api/v2/resource-servers")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );
}
