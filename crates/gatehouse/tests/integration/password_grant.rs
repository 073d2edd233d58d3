//! The `password` and `password-realm` grants: ID tokens verified against the JWKS, login
//! statistics, failures and their log events, and `/userinfo`.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, enc};
use gatehouse_crypto::keys::PublicKey;
use reqwest::Method;
use serde_json::{Value, json};

fn claims(token: &str) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap()
}

async fn app(s: &mut TestServer, grants: Value) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "app_type": "regular_web", "grant_types": grants}),
        )
        .await;
    let c = c.assert_status(201).clone();
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
    )
}

async fn login(s: &TestServer, body: Value) -> common::Response {
    s.raw(Method::POST, "/oauth/token", None, Some(body)).await
}

#[tokio::test(flavor = "multi_thread")]
async fn password_grant_issues_verifiable_tokens_and_counts_logins() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(
        &mut s,
        json!([
            "password",
            "http://auth0.com/oauth/grant-type/password-realm"
        ]),
    )
    .await;
    let u = s
        .create_user(
            "Pat@Example.com",
            json!({"name": "Pat Doe", "given_name": "Pat", "email_verified": true}),
        )
        .await;
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://api.example", "scopes": [{"value": "read:things"}]}),
    )
    .await
    .assert_status(201);

    let r = login(&s, json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "pat@example.com",
        "password": "Sup3r-secret!", "scope": "openid profile email read:things offline", "audience": "https://api.example"})).await;
    let body = r.assert_status(200).clone();
    let id = claims(body["id_token"].as_str().unwrap());
    assert_eq!(id["sub"], u["user_id"]);
    assert_eq!(id["aud"], cid.as_str());
    assert_eq!(id["iss"], format!("{}/", s.url));
    assert_eq!(
        (
            id["email"].clone(),
            id["email_verified"].clone(),
            id["name"].clone()
        ),
        (json!("pat@example.com"), json!(true), json!("Pat Doe"))
    );
    let access = claims(body["access_token"].as_str().unwrap());
    assert_eq!(
        access["aud"],
        json!(["https://api.example", format!("{}/userinfo", s.url)])
    );
    assert_eq!(
        access["scope"], "openid profile email read:things",
        "unknown scopes are dropped"
    );

    // Both tokens verify against the published key.
    let jwks = s
        .raw(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    let k = &jwks["keys"][0];
    let key = PublicKey {
        kid: k["kid"].as_str().unwrap().into(),
        n: URL_SAFE_NO_PAD.decode(k["n"].as_str().unwrap()).unwrap(),
        e: URL_SAFE_NO_PAD.decode(k["e"].as_str().unwrap()).unwrap(),
    };
    assert!(gatehouse_crypto::jwt::verify(body["id_token"].as_str().unwrap(), [&key]).is_ok());

    // userinfo with the access token; the Management API refuses it.
    let info = s
        .http()
        .get(format!("{}/userinfo", s.url))
        .bearer_auth(body["access_token"].as_str().unwrap())
        .send()
        .await
        .unwrap();
    let info = TestServer::read(info).await;
    assert_eq!(info.assert_status(200)["sub"], u["user_id"]);
    assert_eq!(info.body["given_name"], "Pat");
    s.raw(
        Method::GET,
        "/api/v2/users",
        Some(body["access_token"].as_str().unwrap()),
        None,
    )
    .await
    .assert_error(401, "invalid_token");
    let bad = s
        .http()
        .get(format!("{}/userinfo", s.url))
        .bearer_auth("nope")
        .send()
        .await
        .unwrap();
    assert_eq!(bad.status().as_u16(), 401);

    // password-realm picks the connection; stats are updated.
    let r = login(&s, json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm", "client_id": cid, "client_secret": secret,
        "username": "PAT@example.com", "password": "Sup3r-secret!", "realm": "Username-Password-Authentication"})).await;
    let r = r.assert_status(200).clone();
    assert_eq!(
        claims(r["access_token"].as_str().unwrap())["aud"],
        format!("{}/userinfo", s.url)
    );
    let after = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(u["user_id"].as_str().unwrap())
        ))
        .await
        .body;
    assert_eq!(after["logins_count"], 2);
    assert_eq!(after["last_ip"], "127.0.0.1");
    assert!(after["last_login"].is_string());
}

#[tokio::test(flavor = "multi_thread")]
async fn password_grant_failures_and_their_log_events() {
    let mut s = TestServer::start().await;
    let (cid, secret) = app(&mut s, json!(["password"])).await;
    let (other, other_secret) = app(&mut s, json!(["client_credentials"])).await;
    let u = s.create_user("kim@example.com", json!({})).await;
    let path = format!("/api/v2/users/{}", enc(u["user_id"].as_str().unwrap()));
    let base = json!({"grant_type": "password", "client_id": cid, "client_secret": secret, "username": "kim@example.com", "password": "Sup3r-secret!"});
    let with = |k: &str, v: Value| {
        let mut b = base.clone();
        b[k] = v;
        b
    };
    let wrong = login(&s, with("password", json!("nope"))).await;
    assert_eq!(
        (
            wrong.status.as_u16(),
            wrong.body["error"].clone(),
            wrong.body["error_description"].clone()
        ),
        (
            403,
            json!("invalid_grant"),
            json!("Wrong email or password.")
        )
    );
    let unknown = login(&s, with("username", json!("ghost@example.com"))).await;
    assert_eq!(
        (
            unknown.status.as_u16(),
            unknown.body["error_description"].clone()
        ),
        (403, json!("Wrong email or password.")),
        "same answer for unknown users"
    );
    login(&s, with("client_secret", json!("wrong")))
        .await
        .assert_status(401);
    let r = login(&s, json!({"grant_type": "password", "client_id": other, "client_secret": other_secret, "username": "kim@example.com", "password": "Sup3r-secret!"})).await;
    assert_eq!(
        (r.status.as_u16(), r.body["error"].clone()),
        (403, json!("unauthorized_client"))
    );
    login(&s, with("realm", json!("no-such-realm")))
        .await
        .assert_status(400);
    // The Management API's audience gives the user's own token: own_user_token.rs.

    s.patch(&path, json!({"blocked": true}))
        .await
        .assert_status(200);
    let blocked = login(&s, base.clone()).await;
    assert_eq!(
        (
            blocked.status.as_u16(),
            blocked.body["error"].clone(),
            blocked.body["error_description"].clone()
        ),
        (401, json!("unauthorized"), json!("user is blocked"))
    );
    assert_eq!(
        s.get(&path).await.body["logins_count"],
        0,
        "no failed attempt counts as a login"
    );

    let logs = s
        .get(&format!(
            "/api/v2/logs?sort=date:1&per_page=100&q={}",
            enc(&format!("client_id:{cid}"))
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
        kinds,
        // The login failure, then the failed exchange it caused.
        vec!["fp", "fepft", "fu", "fepft", "f", "fepft"],
        "{}",
        logs.body
    );
    let fp = &logs.body[0];
    assert_eq!(fp["user_id"], u["user_id"]);
    assert_eq!(fp["connection"], "Username-Password-Authentication");
    assert!(!logs.body.to_string().contains("Sup3r-secret!"));
}
