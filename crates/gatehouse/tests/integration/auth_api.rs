//! Tokens, discovery, bearer checks, scopes and rate limits over HTTP.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{CLIENT_ID, CLIENT_SECRET, TestServer};
use gatehouse_crypto::keys::PublicKey;
use reqwest::Method;
use serde_json::{Value, json};

fn decode_part(token: &str, i: usize) -> Value {
    let part = token.split('.').nth(i).expect("jwt part");
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).expect("b64")).expect("json")
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_token_is_an_rs256_jwt_verifiable_with_the_jwks() {
    let mut s = TestServer::start().await;
    let disc = s
        .raw(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    let disc = disc.assert_status(200).clone();
    assert_eq!(
        disc["issuer"],
        format!("{}/", s.url),
        "issuer has a trailing slash"
    );
    assert_eq!(disc["token_endpoint"], format!("{}/oauth/token", s.url));
    assert_eq!(disc["jwks_uri"], format!("{}/.well-known/jwks.json", s.url));

    let r = s
        .raw(Method::POST, "/oauth/token", None, Some(json!({"grant_type": "client_credentials", "client_id": CLIENT_ID, "client_secret": CLIENT_SECRET, "audience": s.audience()})))
        .await;
    let body = r.assert_status(200).clone();
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 86400);
    assert_eq!(r.headers["cache-control"], "no-store");
    let token = body["access_token"].as_str().unwrap();
    let header = decode_part(token, 0);
    assert_eq!(header["alg"], "RS256");
    let claims = decode_part(token, 1);
    assert_eq!(claims["iss"], format!("{}/", s.url));
    assert_eq!(claims["sub"], format!("{CLIENT_ID}@clients"));
    assert_eq!(claims["aud"], s.audience());
    assert_eq!(claims["gty"], "client-credentials");
    assert_eq!(claims["azp"], CLIENT_ID);
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        86400
    );
    let scopes: Vec<&str> = claims["scope"].as_str().unwrap().split(' ').collect();
    for needed in [
        "read:users",
        "create:users",
        "update:users",
        "delete:users",
        "read:users_app_metadata",
        "read:clients",
        "read:connections",
    ] {
        assert!(scopes.contains(&needed), "{needed} missing");
    }
    assert_eq!(body["scope"], claims["scope"]);

    // Verify the signature with the published key, as any OIDC library would.
    let jwks = s
        .raw(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .body;
    // Only RSA keys while no API signs with ES256: Auth0's SDKs read every key as RSA.
    assert!(
        jwks["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kty"] == "RSA"),
        "{jwks}"
    );
    let key = jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["kid"] == header["kid"])
        .expect("kid published");
    // No `alg` on an RSA key: it signs PS256 as well (docs/signing-keys.md).
    assert_eq!(
        (key["kty"].clone(), key["alg"].clone(), key["use"].clone()),
        (json!("RSA"), Value::Null, json!("sig"))
    );
    let public = PublicKey {
        kid: key["kid"].as_str().unwrap().into(),
        n: URL_SAFE_NO_PAD.decode(key["n"].as_str().unwrap()).unwrap(),
        e: URL_SAFE_NO_PAD.decode(key["e"].as_str().unwrap()).unwrap(),
    };
    assert!(gatehouse_crypto::jwt::verify(token, [&public]).is_ok());
    let _ = s.token().await;
}

async fn post_form(
    s: &TestServer,
    form: &[(&str, &str)],
    basic: Option<(&str, &str)>,
) -> common::Response {
    let mut req = s.http().post(format!("{}/oauth/token", s.url)).form(form);
    if let Some((id, secret)) = basic {
        req = req.header(
            "authorization",
            format!("Basic {}", STANDARD.encode(format!("{id}:{secret}"))),
        );
    }
    TestServer::read(req.send().await.unwrap()).await
}

#[tokio::test(flavor = "multi_thread")]
async fn token_endpoint_accepts_forms_and_basic_auth_and_refuses_bad_requests() {
    let s = TestServer::start().await;
    let aud = s.audience();
    let r = post_form(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("client_id", CLIENT_ID),
            ("client_secret", CLIENT_SECRET),
            ("audience", &aud),
        ],
        None,
    )
    .await;
    r.assert_status(200);
    let r = post_form(
        &s,
        &[("grant_type", "client_credentials"), ("audience", &aud)],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    r.assert_status(200);
    let r = post_form(
        &s,
        &[
            ("grant_type", "client_credentials"),
            ("audience", &aud),
            ("scope", "read:users nonsense:scope"),
        ],
        Some((CLIENT_ID, CLIENT_SECRET)),
    )
    .await;
    assert_eq!(
        decode_part(r.assert_status(200)["access_token"].as_str().unwrap(), 1)["scope"],
        "read:users"
    );

    type Form<'a> = Vec<(&'a str, &'a str)>;
    let cases: Vec<(Form, u16, &str)> = vec![
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", "wrong"),
                ("audience", &aud),
            ],
            401,
            "access_denied",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", "unknownclient"),
                ("client_secret", CLIENT_SECRET),
                ("audience", &aud),
            ],
            401,
            "access_denied",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
                ("audience", "https://other.example/api"),
            ],
            403,
            "access_denied",
        ),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_id", CLIENT_ID),
                ("client_secret", CLIENT_SECRET),
            ],
            403,
            "access_denied",
        ),
        (
            vec![("grant_type", "magic"), ("client_id", CLIENT_ID)],
            400,
            "unsupported_grant_type",
        ),
        (vec![("client_id", CLIENT_ID)], 400, "invalid_request"),
    ];
    for (form, status, error) in cases {
        let r = post_form(&s, &form, None).await;
        assert_eq!(r.status.as_u16(), status, "{form:?}: {}", r.body);
        assert_eq!(r.body["error"], error, "{form:?}");
        assert!(r.body["error_description"].is_string());
    }
    let r = s
        .http()
        .post(format!("{}/oauth/token", s.url))
        .header("content-type", "text/plain")
        .body("x")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 400);
}

#[tokio::test(flavor = "multi_thread")]
async fn management_api_checks_the_bearer_token() {
    let mut s = TestServer::start().await;
    let r = s.raw(Method::GET, "/api/v2/users", None, None).await;
    r.assert_error(401, "missing_token");
    let r = s
        .raw(Method::GET, "/api/v2/users", Some("not.a.jwt"), None)
        .await;
    r.assert_error(401, "invalid_token");

    // A token with a tampered payload fails the signature check.
    let token = s.token().await;
    let mut parts: Vec<String> = token.split('.').map(String::from).collect();
    let mut claims = decode_part(&token, 1);
    claims["scope"] = json!("read:users delete:users admin");
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    let r = s
        .raw(Method::GET, "/api/v2/users", Some(&parts.join(".")), None)
        .await;
    r.assert_error(401, "invalid_token");

    // A token from another Gatehouse (another key) is refused.
    let mut other = TestServer::start().await;
    let foreign = other.token().await;
    s.raw(Method::GET, "/api/v2/users", Some(&foreign), None)
        .await
        .assert_error(401, "invalid_token");
}

#[tokio::test(flavor = "multi_thread")]
async fn each_endpoint_enforces_its_scope() {
    let mut s = TestServer::start().await;
    let u = s.create_user("scoped@example.com", json!({})).await;
    let path = format!(
        "/api/v2/users/{}",
        common::enc(u["user_id"].as_str().unwrap())
    );
    let read_only = s.token_with_scope(Some("read:users")).await;
    s.raw(Method::GET, &path, Some(&read_only), None)
        .await
        .assert_status(200);
    s.raw(Method::GET, "/api/v2/users", Some(&read_only), None)
        .await
        .assert_status(200);
    let checks: Vec<(Method, String, Option<Value>, &str)> = vec![
        (
            Method::POST,
            "/api/v2/users".into(),
            Some(
                json!({"connection": common::DB_CONNECTION, "email": "n@example.com", "password": "Sup3r-secret!"}),
            ),
            "create:users",
        ),
        (
            Method::PATCH,
            path.clone(),
            Some(json!({"name": "x"})),
            "update:users",
        ),
        (Method::DELETE, path.clone(), None, "delete:users"),
        (Method::GET, "/api/v2/clients".into(), None, "read:clients"),
        (
            Method::POST,
            "/api/v2/clients".into(),
            Some(json!({"name": "x"})),
            "create:clients",
        ),
        (
            Method::GET,
            "/api/v2/connections".into(),
            None,
            "read:connections",
        ),
        (
            Method::POST,
            "/api/v2/connections".into(),
            Some(json!({"name": "x", "strategy": "auth0"})),
            "create:connections",
        ),
    ];
    for (method, p, body, scope) in checks {
        let r = s.raw(method.clone(), &p, Some(&read_only), body).await;
        let msg = r.assert_error(403, "insufficient_scope");
        assert!(
            msg.starts_with("Insufficient scope, expected any of: ") && msg.contains(scope),
            "{method} {p}: {msg}"
        );
    }
    assert_eq!(s.get(&path).await.body, u, "nothing changed");
    assert_eq!(
        s.get("/api/v2/clients")
            .await
            .body
            .as_array()
            .unwrap()
            .len(),
        1
    );

    // update:users_app_metadata alone may change app_metadata and nothing else.
    let app_only = s.token_with_scope(Some("update:users_app_metadata")).await;
    let r = s
        .raw(
            Method::PATCH,
            &path,
            Some(&app_only),
            Some(json!({"app_metadata": {"plan": "gold"}})),
        )
        .await;
    assert_eq!(
        r.assert_status(200)["app_metadata"],
        json!({"plan": "gold"})
    );
    let r = s
        .raw(
            Method::PATCH,
            &path,
            Some(&app_only),
            Some(json!({"app_metadata": {"plan": "x"}, "name": "y"})),
        )
        .await;
    r.assert_error(403, "insufficient_scope");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_headers_and_429() {
    let mut s = TestServer::start_with_manual_clock_and(|c| c.rate_limit = 3).await;
    let token = s.token().await;
    let mut last = None;
    for i in 0..3 {
        let r = s
            .raw(Method::GET, "/api/v2/users", Some(&token), None)
            .await;
        r.assert_status(200);
        assert_eq!(r.headers["x-ratelimit-limit"], "3");
        assert_eq!(
            r.headers["x-ratelimit-remaining"].to_str().unwrap(),
            (2 - i).to_string()
        );
        let reset: u64 = r.headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(
            reset >= now && reset <= now + 2,
            "reset is epoch seconds: {reset} vs {now}"
        );
        last = Some(r);
    }
    drop(last);
    let r = s
        .raw(Method::GET, "/api/v2/users", Some(&token), None)
        .await;
    r.assert_error(429, "too_many_requests");
    assert!(
        r.headers["retry-after"]
            .to_str()
            .unwrap()
            .parse::<u64>()
            .unwrap()
            >= 1
    );
    assert_eq!(r.headers["x-ratelimit-remaining"], "0");
    s.clock().advance(1100);
    s.raw(Method::GET, "/api/v2/users", Some(&token), None)
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn health_readiness_unknown_routes_and_request_ids() {
    let s = TestServer::start().await;
    let r = s.raw(Method::GET, "/healthz", None, None).await;
    r.assert_status(200);
    assert_eq!(r.headers["x-request-id"].len(), 16);
    s.raw(Method::GET, "/readyz", None, None)
        .await
        .assert_status(200);
    let r = s
        .raw(
            Method::GET,
            "/api/v2/nothing-here",
            Some(&s.token_with_scope(None).await),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 404);
    assert_eq!(r.body["statusCode"], 404);
    let r = s
        .raw(
            Method::PUT,
            "/api/v2/users",
            Some(&s.token_with_scope(None).await),
            Some(json!({})),
        )
        .await;
    assert_eq!(r.status.as_u16(), 405);
    assert_eq!(
        r.body["statusCode"], 405,
        "Auth0-shaped even for a wrong method"
    );
}
