//! The operator commands, run as the real binary: `gatehouse convert` on a Keycloak realm
//! export whose password hash is made here, `gatehouse import` into the database the server
//! uses, a login with the Keycloak password; then `import` and `export` against the running
//! server with `--server`.

use crate::common;

use common::{CLIENT_ID, CLIENT_SECRET, DB_CONNECTION, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::process::{Command, Output};

const REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

fn gatehouse(s: &TestServer, args: &[&str], dir: &std::path::Path) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(args)
        .current_dir(dir)
        .env("GATEHOUSE_DATABASE_URL", &s.cfg.database_url)
        .env(
            "GATEHOUSE_SECRET_KEY",
            s.cfg.secret_key.as_deref().unwrap_or_default(),
        )
        .env("GATEHOUSE_LOG", "warn")
        .env_remove("GATEHOUSE_SERVER")
        .output()
        .expect("run gatehouse");
    assert!(
        out.status.success(),
        "gatehouse {args:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn b64(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD.encode(b)
}

/// A Keycloak 2x realm export with one user whose pbkdf2-sha256 credential is computed by
/// `ring` (a different PBKDF2 from the server's).
fn keycloak_export(password: &str) -> Value {
    let salt = b"keycloak-salt-16";
    let mut hash = [0u8; 64];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(27_500).unwrap(),
        salt,
        password.as_bytes(),
        &mut hash,
    );
    let secret = json!({"value": b64(&hash), "salt": b64(salt), "additionalParameters": {}});
    let data =
        json!({"hashIterations": 27_500, "algorithm": "pbkdf2-sha256", "additionalParameters": {}});
    json!({"realm": "acme", "users": [{
        "id": "6b1d7d4e-5a33-4c53-9e55-6a4e3c2f1a01", "createdTimestamp": 1_700_000_000_000u64,
        "username": "kc-user", "enabled": true, "emailVerified": true, "firstName": "Kay", "lastName": "Cloak",
        "email": "kc-user@example.com",
        "credentials": [{"type": "password", "createdDate": 1_700_000_100_000u64,
            "secretData": secret.to_string(), "credentialData": data.to_string()}],
        "requiredActions": [], "realmRoles": ["default-roles-acme"], "groups": []
    }]})
}

async fn realm_login(s: &TestServer, app: &Value, user: &str, password: &str) -> common::Response {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": REALM_GRANT, "realm": DB_CONNECTION, "username": user, "password": password,
            "client_id": app["client_id"], "client_secret": app["client_secret"]})),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn convert_import_and_log_in_then_work_against_a_running_server() {
    let mut s = TestServer::start().await;
    let dir = std::env::temp_dir().join(format!(
        "gh-cli-{}",
        gatehouse_crypto::random::hex(6).unwrap()
    ));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(
        dir.join("realm.json"),
        keycloak_export("Keycloak-pa55").to_string(),
    )
    .unwrap();

    let converted = gatehouse(&s, &["convert", "--from", "keycloak", "realm.json"], &dir);
    let users: Value = serde_json::from_slice(&converted.stdout).expect("a JSON array");
    assert_eq!(users.as_array().unwrap().len(), 1);
    assert_eq!(users[0]["email"], "kc-user@example.com");
    assert_eq!(users[0]["custom_password_hash"]["algorithm"], "pbkdf2");
    assert!(String::from_utf8_lossy(&converted.stderr).contains("1 users converted from keycloak"));
    std::fs::write(dir.join("users.json"), &converted.stdout).unwrap();

    let imported = gatehouse(
        &s,
        &["import", "users.json", "--connection", DB_CONNECTION],
        &dir,
    );
    let summary = String::from_utf8_lossy(&imported.stderr);
    assert!(
        summary.contains("completed: 1 inserted, 0 updated, 0 failed of 1"),
        "{summary}"
    );

    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "app", "grant_types": [REALM_GRANT]}),
        )
        .await
        .assert_status(201)
        .clone();
    assert_eq!(
        realm_login(&s, &app, "kc-user@example.com", "wrong")
            .await
            .status,
        403
    );
    let ok = realm_login(&s, &app, "kc-user@example.com", "Keycloak-pa55").await;
    assert!(ok.assert_status(200)["access_token"].is_string());
    let stored = s.stored_password_hash("kc-user@example.com").await.unwrap();
    assert!(stored.starts_with("$argon2id$"), "{stored}");

    // The same commands against the running server's Management API.
    let remote = [
        "--server",
        s.url.as_str(),
        "--client-id",
        CLIENT_ID,
        "--client-secret",
        CLIENT_SECRET,
    ];
    let ndjson = "{\"email\":\"remote1@example.com\",\"given_name\":\"R1\"}\n{\"email\":\"remote2@example.com\"}\n{\"email\":\"nope\"}\n";
    std::fs::write(dir.join("more.ndjson"), ndjson).unwrap();
    let mut args = vec!["import", "more.ndjson", "--connection", DB_CONNECTION];
    args.extend(remote);
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&args)
        .current_dir(&dir)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("completed: 2 inserted, 0 updated, 1 failed of 3"),
        "{stderr}"
    );
    assert!(stderr.contains("row 2: INVALID_FORMAT email"), "{stderr}");

    let mut args = vec![
        "export",
        "--format",
        "csv",
        "--fields",
        "email,given_name:first",
        "--q",
        "email:remote*",
    ];
    args.extend(remote);
    let out = Command::new(env!("CARGO_BIN_EXE_gatehouse"))
        .args(&args)
        .current_dir(&dir)
        .env("GATEHOUSE_LOG", "warn")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let csv = String::from_utf8_lossy(&out.stdout);
    let mut lines: Vec<&str> = csv.lines().collect();
    lines[1..].sort();
    assert_eq!(
        lines,
        vec![
            "email,first",
            "remote1@example.com,R1",
            "remote2@example.com,"
        ]
    );

    // Locally too, gzipped as the API serves it.
    let out = gatehouse(
        &s,
        &["export", "--gzip", "--q", "email:kc-user@example.com"],
        &dir,
    );
    assert_eq!(&out.stdout[..2], &[0x1f, 0x8b], "a gzip file");
    let _ = std::fs::remove_dir_all(&dir);
}
