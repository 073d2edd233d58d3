//! Signing keys as Auth0 manages them (`/api/v2/keys/signing`): the next key published
//! before it signs, rotation keeping earlier tokens valid until their key is revoked,
//! refusals that change nothing, PS256 and ES256 tokens verified with the JWKS, and a
//! rotation on one node picked up by another.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{TestServer, enc};
use gatehouse_crypto::keys::{EcPublicKey, PublicKey, VerifyingKey};
use reqwest::Method;
use serde_json::{Value, json};

const PASSWORD: &str = "Sup3r-secret!";

fn part(token: &str, i: usize) -> Value {
    serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(token.split('.').nth(i).unwrap())
            .unwrap(),
    )
    .unwrap()
}

fn kid(token: &str) -> String {
    part(token, 0)["kid"].as_str().unwrap().to_string()
}

async fn jwks(s: &TestServer) -> Value {
    s.raw(Method::GET, "/.well-known/jwks.json", None, None)
        .await
        .assert_status(200)
        .clone()
}

fn jwks_kids(jwks: &Value) -> Vec<String> {
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].as_str().unwrap().to_string())
        .collect()
}

/// The JWKS read as any verifier reads it: RSA keys from `n`/`e`, EC keys from `x`/`y`.
fn verifying_keys(jwks: &Value) -> Vec<VerifyingKey> {
    let b64 = |k: &Value, m: &str| URL_SAFE_NO_PAD.decode(k[m].as_str().unwrap()).unwrap();
    jwks["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            let kid = k["kid"].as_str().unwrap().to_string();
            match k["kty"].as_str().unwrap() {
                "RSA" => VerifyingKey::Rsa(PublicKey {
                    kid,
                    n: b64(k, "n"),
                    e: b64(k, "e"),
                }),
                "EC" => {
                    assert_eq!(
                        (k["crv"].clone(), k["alg"].clone()),
                        (json!("P-256"), json!("ES256"))
                    );
                    let mut point = vec![4u8];
                    point.extend(b64(k, "x"));
                    point.extend(b64(k, "y"));
                    VerifyingKey::Ec(EcPublicKey { kid, point })
                }
                other => panic!("unexpected kty {other}"),
            }
        })
        .collect()
}

/// The RSA keys of the listing by status.
fn by_status<'a>(list: &'a Value, status: &str) -> Vec<&'a Value> {
    list.as_array()
        .unwrap()
        .iter()
        .filter(|k| k[status] == true)
        .collect()
}

async fn listing(s: &mut TestServer) -> Value {
    s.get("/api/v2/keys/signing")
        .await
        .assert_status(200)
        .clone()
}

/// An application with the password grant and a user of it: a `/userinfo` token getter.
async fn password_app(s: &mut TestServer, extra: Value) -> (String, String, String) {
    let mut body =
        json!({"name": "Ünïcode app", "app_type": "regular_web", "grant_types": ["password"]});
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    let c = s
        .post("/api/v2/clients", body)
        .await
        .assert_status(201)
        .clone();
    let email = format!(
        "rotación-{}@example.com",
        gatehouse_crypto::random::hex(4).unwrap()
    );
    s.create_user(&email, json!({"name": "Zoë Keyholder"}))
        .await;
    (
        c["client_id"].as_str().unwrap().into(),
        c["client_secret"].as_str().unwrap().into(),
        email,
    )
}

async fn password_login(
    s: &TestServer,
    (cid, secret, email): &(String, String, String),
    audience: Option<&str>,
) -> Value {
    let mut body = json!({"grant_type": "password", "client_id": cid, "client_secret": secret,
        "username": email, "password": PASSWORD, "scope": "openid profile email"});
    if let Some(a) = audience {
        body["audience"] = json!(a);
    }
    s.raw(Method::POST, "/oauth/token", None, Some(body))
        .await
        .assert_status(200)
        .clone()
}

async fn userinfo(s: &TestServer, access_token: &str) -> u16 {
    s.raw(Method::GET, "/userinfo", Some(access_token), None)
        .await
        .status
        .as_u16()
}

#[tokio::test(flavor = "multi_thread")]
async fn rotation_keeps_earlier_tokens_until_their_key_is_revoked() {
    let mut s = TestServer::start().await;
    let app = password_app(&mut s, json!({})).await;
    let old_mgmt = s.token().await;
    let old_login = password_login(&s, &app, None).await;
    let old_access = old_login["access_token"].as_str().unwrap().to_string();
    let k1 = kid(&old_mgmt);
    assert_eq!(kid(&old_access), k1);

    // The listing: a current and a next key per family, in Auth0's shape.
    let list = listing(&mut s).await;
    let current = by_status(&list, "current");
    let next = by_status(&list, "next");
    assert_eq!((current.len(), next.len()), (2, 2), "RSA and EC: {list}");
    assert!(by_status(&list, "previous").is_empty());
    assert_eq!(current[0]["kid"], k1.as_str(), "RSA first");
    let k2 = next[0]["kid"].as_str().unwrap().to_string();
    for key in list.as_array().unwrap() {
        assert!(
            key["cert"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN CERTIFICATE-----\r\n")
        );
        assert!(
            key["pkcs7"]
                .as_str()
                .unwrap()
                .starts_with("-----BEGIN PKCS7-----\r\n")
        );
        let fp = key["fingerprint"].as_str().unwrap();
        assert_eq!(fp.len(), 59, "SHA-1 as colon-separated hex: {fp}");
        assert_eq!(key["thumbprint"], fp.replace(':', ""));
        assert_eq!(key["revoked"], false);
    }
    assert!(current[0]["current_since"].is_string());
    assert_eq!(
        s.get(&format!("/api/v2/keys/signing/{}", enc(&k1)))
            .await
            .assert_status(200),
        current[0]
    );

    // The next key is published before it signs anything; RSA keys carry no `alg`, so
    // strict libraries accept them for PS256 as well as RS256.
    let before = jwks(&s).await;
    let kids = jwks_kids(&before);
    assert_eq!(kids[0], k1, "the signing key first");
    assert!(kids.contains(&k2), "next key published: {kids:?}");
    let rsa_jwk = &before["keys"][0];
    assert_eq!(rsa_jwk["alg"], Value::Null);
    assert_eq!(rsa_jwk["use"], "sig");
    assert_eq!(rsa_jwk["x5c"][0].as_str().unwrap(), {
        let pem = current[0]["cert"].as_str().unwrap();
        gatehouse_crypto::jwt::pem_to_der(pem)
            .map(|d| base64::engine::general_purpose::STANDARD.encode(d))
            .unwrap()
    });

    // Refusals change nothing: an unknown kid, the current or next key, missing scopes.
    s.get("/api/v2/keys/signing/no-such-kid")
        .await
        .assert_error(404, "inexistent_key");
    let put = |kid: &str| format!("/api/v2/keys/signing/{}/revoke", enc(kid));
    let t = s.token().await;
    for (k, what) in [(&k1, "current"), (&k2, "next")] {
        let r = s.raw(Method::PUT, &put(k), Some(&t), None).await;
        let message = r.assert_error(400, "operation_not_supported");
        assert!(message.contains(what), "{message}");
    }
    s.raw(Method::PUT, &put("no-such-kid"), Some(&t), None)
        .await
        .assert_error(404, "inexistent_key");
    let reader = s.token_with_scope(Some("read:signing_keys")).await;
    let other = s.token_with_scope(Some("read:users")).await;
    s.raw(Method::GET, "/api/v2/keys/signing", Some(&other), None)
        .await
        .assert_error(403, "insufficient_scope");
    let rotate = "/api/v2/keys/signing/rotate";
    s.raw(Method::POST, rotate, Some(&reader), None)
        .await
        .assert_error(403, "insufficient_scope");
    let creator_only = s.token_with_scope(Some("create:signing_keys")).await;
    s.raw(Method::POST, rotate, Some(&creator_only), None)
        .await
        .assert_error(403, "insufficient_scope");
    s.raw(Method::PUT, &put(&k1), Some(&reader), None)
        .await
        .assert_error(403, "insufficient_scope");
    assert_eq!(listing(&mut s).await, list, "nothing changed");
    assert_eq!(jwks(&s).await, before, "nothing changed");

    // Rotate: next → current, current → previous, a new next.
    let r = s.raw(Method::POST, rotate, Some(&t), None).await;
    let rotated = r.assert_status(201).clone();
    assert_eq!(rotated["kid"], k2.as_str(), "the key that now signs");
    assert!(
        rotated["cert"]
            .as_str()
            .unwrap()
            .starts_with("-----BEGIN CERTIFICATE-----")
    );
    let list = listing(&mut s).await;
    assert_eq!(by_status(&list, "current")[0]["kid"], k2.as_str());
    let previous = by_status(&list, "previous");
    assert_eq!(previous.len(), 2, "RSA and EC");
    assert_eq!(previous[0]["kid"], k1.as_str());
    assert!(previous[0]["current_until"].is_string());
    let k3 = by_status(&list, "next")[0]["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(k3 != k1 && k3 != k2);
    let after = jwks(&s).await;
    let kids = jwks_kids(&after);
    assert_eq!(kids[0], k2);
    for k in [&k1, &k2, &k3] {
        assert!(kids.contains(k), "{k} published: {kids:?}");
    }

    // Tokens from before still verify; new ones carry the new kid.
    s.raw(Method::GET, "/api/v2/users", Some(&old_mgmt), None)
        .await
        .assert_status(200);
    assert_eq!(userinfo(&s, &old_access).await, 200);
    let new_mgmt = s.token_with_scope(None).await;
    assert_eq!(kid(&new_mgmt), k2);
    let new_login = password_login(&s, &app, None).await;
    assert_eq!(kid(new_login["id_token"].as_str().unwrap()), k2);
    let keys = verifying_keys(&after);
    assert!(gatehouse_crypto::jwt::verify(new_login["id_token"].as_str().unwrap(), &keys).is_ok());
    assert!(gatehouse_crypto::jwt::verify(&old_mgmt, &keys).is_ok());

    // Revoke the previous key: it leaves the JWKS and its tokens stop verifying.
    let r = s.raw(Method::PUT, &put(&k1), Some(&new_mgmt), None).await;
    let revoked = r.assert_status(200).clone();
    assert_eq!(revoked["kid"], k1.as_str());
    assert_eq!(revoked["cert"], previous[0]["cert"]);
    assert!(!jwks_kids(&jwks(&s).await).contains(&k1));
    s.raw(Method::GET, "/api/v2/users", Some(&old_mgmt), None)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(userinfo(&s, &old_access).await, 401);
    let shown = s
        .raw(
            Method::GET,
            &format!("/api/v2/keys/signing/{}", enc(&k1)),
            Some(&new_mgmt),
            None,
        )
        .await
        .assert_status(200)
        .clone();
    assert_eq!(
        (shown["revoked"].clone(), shown["previous"].clone()),
        (json!(true), json!(false))
    );
    assert!(shown["revoked_at"].is_string());
    assert_eq!(
        shown["cert"], previous[0]["cert"],
        "the certificate outlives the key"
    );
    assert_eq!(
        s.count_rows(&format!(
            "signing_keys WHERE kid = '{k1}' AND length(private_key) = 0"
        ))
        .await,
        1,
        "the private key is erased"
    );
    // Revoking again answers the same and changes nothing.
    s.raw(Method::PUT, &put(&k1), Some(&new_mgmt), None)
        .await
        .assert_status(200);

    // After a restart the same keys are loaded.
    s.restart().await;
    s.raw(Method::GET, "/api/v2/users", Some(&new_mgmt), None)
        .await
        .assert_status(200);
    s.raw(Method::GET, "/api/v2/users", Some(&old_mgmt), None)
        .await
        .assert_error(401, "invalid_token");
    assert_eq!(jwks_kids(&jwks(&s).await)[0], k2);
}

#[tokio::test(flavor = "multi_thread")]
async fn ps256_and_es256_tokens_verify_against_the_jwks() {
    let mut s = TestServer::start().await;
    let disc = s
        .raw(Method::GET, "/.well-known/openid-configuration", None, None)
        .await;
    assert_eq!(
        disc.assert_status(200)["id_token_signing_alg_values_supported"],
        json!(["RS256", "PS256"])
    );
    for (identifier, alg) in [
        ("https://es.example/api", "ES256"),
        ("https://ps.example/api", "PS256"),
    ] {
        s.post(
            "/api/v2/resource-servers",
            json!({"identifier": identifier, "signing_alg": alg, "scopes": [{"value": "read:things"}]}),
        )
        .await
        .assert_status(201);
    }
    let app = password_app(&mut s, json!({"jwt_configuration": {"alg": "PS256"}})).await;
    let es = password_login(&s, &app, Some("https://es.example/api")).await;
    let ps = password_login(&s, &app, Some("https://ps.example/api")).await;
    let keys = verifying_keys(&jwks(&s).await);
    for (token, alg) in [
        (es["access_token"].as_str().unwrap(), "ES256"),
        (es["id_token"].as_str().unwrap(), "PS256"),
        (ps["access_token"].as_str().unwrap(), "PS256"),
    ] {
        assert_eq!(part(token, 0)["alg"], alg);
        let claims = gatehouse_crypto::jwt::verify(token, &keys).expect("verifies with the JWKS");
        assert_eq!(claims["iss"], format!("{}/", s.url));
    }
    // The access tokens are also for /userinfo, whatever the API's algorithm.
    assert_eq!(
        userinfo(&s, es["access_token"].as_str().unwrap()).await,
        200
    );
    assert_eq!(
        userinfo(&s, ps["access_token"].as_str().unwrap()).await,
        200
    );

    // ES256 for client_credentials too; the Management API's tokens stay RS256.
    let (cid, secret) = s.app_with_grants(&["client_credentials"]).await;
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": cid, "audience": "https://es.example/api", "scope": ["read:things"]}),
    )
    .await
    .assert_status(201);
    let r = s
        .raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials",
            "client_id": cid, "client_secret": secret, "audience": "https://es.example/api"})),
        )
        .await;
    let token = r.assert_status(200)["access_token"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(part(&token, 0)["alg"], "ES256");
    assert!(gatehouse_crypto::jwt::verify(&token, &keys).is_ok());
    assert_eq!(part(&s.token().await, 0)["alg"], "RS256");
    // An ES256 token is no Management API token, even with its audience's claims.
    s.raw(Method::GET, "/api/v2/users", Some(&token), None)
        .await
        .assert_error(401, "invalid_token");
    s.post(
        "/api/v2/resource-servers",
        json!({"identifier": "https://hs.example/api", "signing_alg": "HS256"}),
    )
    .await
    .assert_error(400, "invalid_body");
}

/// The JWKS another node at `url` publishes.
async fn jwks_at(http: &reqwest::Client, url: &str) -> Value {
    http.get(format!("{url}/.well-known/jwks.json"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap()
}

/// A second server on `a`'s database, issuer and secret key (another node), and its URL.
async fn second_node(a: &TestServer) -> (gatehouse::Running, String) {
    let mut cfg = a.cfg.clone();
    cfg.listen = "127.0.0.1:0".into();
    cfg.public_url = Some(a.url.clone());
    let b = gatehouse::start(&cfg, std::future::pending())
        .await
        .expect("second node starts");
    let url = format!("http://{}", b.addr);
    (b, url)
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rotation_on_one_node_is_picked_up_by_another() {
    let mut a = TestServer::start().await;
    let (b, b_url) = second_node(&a).await;
    let http = reqwest::Client::new();
    let users_on_b = |token: String| {
        let req = http.get(format!("{b_url}/api/v2/users")).bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    // Two rotations on A: the key that now signs was never published while B loaded.
    for _ in 0..2 {
        let t = a.token().await;
        a.raw(Method::POST, "/api/v2/keys/signing/rotate", Some(&t), None)
            .await
            .assert_status(201);
    }
    let fresh = a.token_with_scope(None).await;
    assert_eq!(
        users_on_b(fresh.clone()).await,
        200,
        "B reloads on the unknown kid"
    );
    let b_jwks = jwks_at(&http, &b_url).await;
    assert_eq!(
        jwks_kids(&b_jwks)[0],
        kid(&fresh),
        "B signs with the new key too"
    );
    b.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_key_revoked_through_one_node_is_refused_by_another_at_once() {
    let mut a = TestServer::start().await;
    let (b, b_url) = second_node(&a).await;
    let http = reqwest::Client::new();
    let on_b = |path: &'static str, token: String| {
        let req = http.get(format!("{b_url}{path}")).bearer_auth(token);
        async move { req.send().await.unwrap().status().as_u16() }
    };
    let b_jwks = || async { jwks_kids(&jwks_at(&http, &b_url).await) };
    let app = password_app(&mut a, json!({})).await;
    let old_mgmt = a.token_with_scope(None).await;
    let login = password_login(&a, &app, None).await;
    let old_access = login["access_token"].as_str().unwrap().to_string();
    assert_eq!(on_b("/api/v2/users", old_mgmt.clone()).await, 200);
    assert_eq!(on_b("/userinfo", old_access.clone()).await, 200);
    let old_kid = kid(&old_mgmt);

    // Rotated through A: B publishes A's new next key at once (no token asked of B).
    let t = a.token().await;
    a.raw(Method::POST, "/api/v2/keys/signing/rotate", Some(&t), None)
        .await
        .assert_status(201);
    let listed = listing(&mut a).await;
    let next = by_status(&listed, "next")[0]["kid"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(b_jwks().await.contains(&next), "B publishes {next}");

    // Revoked through A: B refuses the earlier tokens on their next use.
    let fresh = a.token_with_scope(None).await;
    a.raw(
        Method::PUT,
        &format!("/api/v2/keys/signing/{}/revoke", enc(&old_kid)),
        Some(&fresh),
        None,
    )
    .await
    .assert_status(200);
    assert_eq!(on_b("/api/v2/users", old_mgmt).await, 401);
    assert_eq!(on_b("/userinfo", old_access).await, 401);
    assert!(!b_jwks().await.contains(&old_kid));
    assert_eq!(on_b("/api/v2/users", fresh).await, 200);
    b.stop().await;
}
