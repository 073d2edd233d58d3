//! `GET /api/v2/openapi.json` against the real routers, and the bugs the Management API
//! fuzzer (`tests/fuzz`) found, each reproduced over HTTP.

use crate::common;

use common::{DB_CONNECTION, RawRequest, TestServer, release_together};
use reqwest::Method;
use serde_json::{Value, json};

const METHODS: [&str; 5] = ["get", "post", "put", "patch", "delete"];

/// A path of the document with its parameters filled with ids nothing has.
fn concrete(path: &str) -> String {
    let unknown = format!("nope-{}", gatehouse_crypto::random::hex(6).unwrap());
    path.split('/')
        .map(|s| match s {
            "{templateName}" => "verify_email".to_string(),
            s if s.starts_with('{') => unknown.clone(),
            s => s.to_string(),
        })
        .collect::<Vec<_>>()
        .join("/")
}

#[tokio::test(flavor = "multi_thread")]
async fn openapi_document_is_public_and_matches_the_routes_both_ways() {
    let mut s = TestServer::start().await;
    let doc = s.raw(Method::GET, "/api/v2/openapi.json", None, None).await;
    let doc = doc.assert_status(200).clone();
    assert_eq!(doc["openapi"], "3.0.3");
    assert_eq!(doc["servers"][0]["url"], "/api/v2");
    let token = s.token().await;
    let paths = doc["paths"].as_object().expect("paths");
    let mut operations = 0;
    for (path, item) in paths {
        let url = format!("/api/v2{}", concrete(path));
        for method in METHODS {
            let described = item.get(method).is_some();
            let m = Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
            let body = (method != "get").then(|| json!({}));
            let r = s.raw(m, &url, Some(&token), body).await;
            if described {
                operations += 1;
                // Routed: not 405, and not the router's own 404 (which has no errorCode;
                // a handler's "no such thing" has one).
                assert_ne!(r.status, 405, "{method} {path} is described but not routed");
                assert!(
                    !(r.status == 404 && r.body.get("errorCode").is_none()),
                    "{method} {path} is described but not routed: {}",
                    r.body
                );
                assert!(
                    r.status.as_u16() < 500,
                    "{method} {path}: {} {}",
                    r.status,
                    r.body
                );
                if item[method]["security"] != json!([]) {
                    let anonymous = s
                        .raw(
                            Method::from_bytes(method.to_uppercase().as_bytes()).unwrap(),
                            &url,
                            None,
                            None,
                        )
                        .await;
                    anonymous.assert_error(401, "missing_token");
                }
            } else {
                assert_eq!(r.status, 405, "{method} {path} is routed but not described");
            }
        }
    }
    assert!(operations >= 87, "{operations} operations");
}

/// The fuzzer sent `metadata: {"x": {}}` and the connection kept it: Auth0 takes at most 10
/// properties, each a string of at most 255 characters.
#[tokio::test(flavor = "multi_thread")]
async fn connection_metadata_takes_only_short_strings() {
    let mut s = TestServer::start().await;
    let id = s.connection_id(DB_CONNECTION).await;
    let path = format!("/api/v2/connections/{id}");
    let r = s
        .patch(
            &path,
            json!({"metadata": {"région": "Île-de-France ✓", "tier": "gold"}}),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["metadata"],
        json!({"région": "Île-de-France ✓", "tier": "gold"})
    );
    let eleven: serde_json::Map<String, Value> =
        (0..11).map(|i| (format!("k{i}"), json!("v"))).collect();
    for bad in [
        json!({"nested": {}}),
        json!({"n": 5}),
        json!({"list": ["a"]}),
        json!({"long": "é".repeat(256)}),
        Value::Object(eleven),
    ] {
        let r = s.patch(&path, json!({"metadata": bad})).await;
        r.assert_error(400, "invalid_body");
    }
    let r = s.get(&path).await;
    assert_eq!(
        r.assert_status(200)["metadata"],
        json!({"région": "Île-de-France ✓", "tier": "gold"}),
        "a refused change changes nothing"
    );
    let r = s
        .patch(&path, json!({"metadata": {"région": null, "tier": "gold"}}))
        .await;
    assert_eq!(r.assert_status(200)["metadata"], json!({"tier": "gold"}));
}

/// The fuzzer got a 503 "database is locked" from `POST /clients` once it had turned on
/// `flags.enable_client_connections`: adding the new client to every connection read the
/// connections before writing in a deferred SQLite transaction, which fails at once when
/// another write lands in between (and on PostgreSQL, without a row lock, one of two
/// concurrent additions could be lost).
#[tokio::test(flavor = "multi_thread")]
async fn clients_created_together_are_all_enabled_on_every_connection() {
    let mut s = TestServer::start().await;
    s.patch(
        "/api/v2/tenants/settings",
        json!({"flags": {"enable_client_connections": true}}),
    )
    .await
    .assert_status(200);
    for n in 0..3 {
        let name = format!("fuzz-{n}-{}", gatehouse_crypto::random::hex(4).unwrap());
        s.post(
            "/api/v2/connections",
            json!({"name": name, "strategy": "auth0"}),
        )
        .await
        .assert_status(201);
    }
    let token = s.token().await;
    let requests: Vec<RawRequest> = (0..16)
        .map(|i| {
            RawRequest::post_json("/api/v2/clients", &json!({"name": format!("Appli ✓ {i}")}))
                .with_header("Authorization", &format!("Bearer {token}"))
        })
        .collect();
    let answers = release_together(&s.url, requests).await;
    let mut created = Vec::new();
    for (status, body) in answers {
        assert_eq!(status, 201, "{body}");
        let v: Value = serde_json::from_str(&body).unwrap();
        created.push(v["client_id"].as_str().unwrap().to_string());
    }
    let list = s.get("/api/v2/connections").await;
    for c in list.assert_status(200).as_array().unwrap() {
        let enabled = c["enabled_clients"].as_array().unwrap();
        for id in &created {
            assert!(
                enabled.iter().any(|e| e == id),
                "{id} missing from {}",
                c["name"]
            );
        }
    }
}
