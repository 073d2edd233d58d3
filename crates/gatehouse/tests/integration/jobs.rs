//! `/api/v2/jobs`: users imports (bad rows, upsert, external_id, imported hashes that log in
//! and are re-hashed, a crash in the middle), exports that round-trip, verification emails.

use crate::common;

use common::smtp::SmtpServer;
use common::{DB_CONNECTION, TestServer};
use reqwest::Method;
use serde_json::{Value, json};
use std::io::Read;

const REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

async fn app(s: &mut TestServer) -> (String, String) {
    s.app_with_grants(&["password", REALM_GRANT]).await
}

async fn login(
    s: &TestServer,
    app: &(String, String),
    realm: &str,
    user: &str,
    password: &str,
) -> common::Response {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": REALM_GRANT, "realm": realm, "username": user, "password": password,
            "client_id": app.0, "client_secret": app.1})),
    )
    .await
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// SHA-256 from `ring`: a different implementation from the one the server verifies with.
fn sha256(parts: &[&[u8]]) -> Vec<u8> {
    let mut c = ring::digest::Context::new(&ring::digest::SHA256);
    for p in parts {
        c.update(p);
    }
    c.finish().as_ref().to_vec()
}

fn pbkdf2_sha256(password: &str, salt: &[u8], iterations: u32) -> Vec<u8> {
    let mut out = vec![0u8; 32];
    ring::pbkdf2::derive(
        ring::pbkdf2::PBKDF2_HMAC_SHA256,
        std::num::NonZeroU32::new(iterations).unwrap(),
        salt,
        password.as_bytes(),
        &mut out,
    );
    out
}

fn b64_nopad(b: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::STANDARD_NO_PAD.encode(b)
}

async fn start_import(s: &mut TestServer, rows: &Value, fields: &[(&str, &str)]) -> Value {
    let file = serde_json::to_vec(rows).unwrap();
    let r = s.upload_import(file, fields).await;
    let job = r.assert_status(202).clone();
    assert_eq!(job["type"], "users_import");
    // The worker may already have taken the job by the time the answer is written.
    assert!(
        job["status"] == "pending" || job["status"] == "processing",
        "{job}"
    );
    let id = job["id"].as_str().unwrap().to_string();
    s.wait_job(&id).await
}

#[tokio::test(flavor = "multi_thread")]
async fn import_takes_good_rows_reports_bad_ones_and_imported_passwords_log_in() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 50).await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let app = app(&mut s).await;
    let salt = b"pepper-salt";
    let rows = json!([
        {"email": "Salted@Example.com", "user_id": "auth0|legacy-1", "email_verified": true, "given_name": "Sal",
         "mfa_factors": [{"totp": {"secret": "JBSWY3DPEHPK3PXP"}}, {"phone": {"value": "+15551234567"}}],
         "user_metadata": {"plan": "gold"}, "app_metadata": {"tier": 2},
         "custom_password_hash": {"algorithm": "sha256", "hash": {"value": hex(&sha256(&[salt, b"old-secret-1"])), "encoding": "hex"},
            "salt": {"value": String::from_utf8_lossy(salt), "position": "prefix"}}},
        {"email": "pbkdf2@example.com",
         "custom_password_hash": {"algorithm": "pbkdf2", "hash": {"value": format!("$pbkdf2-sha256$i=20000,l=32${}${}",
            b64_nopad(b"NaClNaCl"), b64_nopad(&pbkdf2_sha256("old-secret-2", b"NaClNaCl", 20000)))}}},
        {"email": "nopassword@example.com", "blocked": true},
        {"user_id": "no-email"},
        {"email": "extra@example.com", "age": 40},
        {"email": "badhash@example.com", "custom_password_hash": {"algorithm": "crc32", "hash": {"value": "00"}}},
        {"email": "salted@example.com"},
        {"email": "bcrypt@example.com", "password_hash": "$2b$10$tooshort"},
        7
    ]);
    let job = start_import(
        &mut s,
        &rows,
        &[("connection_id", &conn), ("send_completion_email", "false")],
    )
    .await;
    assert_eq!(job["status"], "completed", "{job}");
    assert_eq!(
        job["summary"],
        json!({"inserted": 3, "updated": 0, "failed": 6, "total": 9})
    );
    assert_eq!(job["connection_id"], json!(conn));
    assert_eq!(job["connection"], json!(DB_CONNECTION));
    let id = job["id"].as_str().unwrap().to_string();
    let errors = s.get(&format!("/api/v2/jobs/{id}/errors")).await;
    let errors = errors.assert_status(200).as_array().unwrap().clone();
    let by_index: Vec<(i64, String, String)> = errors
        .iter()
        .map(|e| {
            (
                e["index"].as_i64().unwrap(),
                e["errors"][0]["code"].as_str().unwrap().to_string(),
                e["errors"][0]["path"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        by_index,
        vec![
            (3, "OBJECT_MISSING_REQUIRED_PROPERTY".into(), "email".into()),
            (4, "OBJECT_ADDITIONAL_PROPERTIES".into(), "age".into()),
            (5, "INVALID_FORMAT".into(), "custom_password_hash".into()),
            (6, "DUPLICATED_USER".into(), "email".into()),
            (7, "INVALID_FORMAT".into(), "password_hash".into()),
            (8, "INVALID_TYPE".into(), "".into()),
        ]
    );
    // Secrets never come back in the report.
    assert_eq!(errors[2]["user"]["custom_password_hash"], "*****");
    assert_eq!(errors[4]["user"]["password_hash"], "*****");

    let user = s.get("/api/v2/users/auth0%7Clegacy-1").await;
    let user = user.assert_status(200);
    assert_eq!(user["email"], "salted@example.com");
    assert_eq!(user["email_verified"], true);
    assert_eq!(user["given_name"], "Sal");
    assert_eq!(user["user_metadata"], json!({"plan": "gold"}));
    assert_eq!(user["app_metadata"], json!({"tier": 2}));
    let blocked = s
        .get("/api/v2/users-by-email?email=nopassword%40example.com")
        .await;
    assert_eq!(blocked.assert_status(200)[0]["blocked"], true);

    // Imported hashes log in with the old password, and only with it.
    for (email, password) in [
        ("salted@example.com", "old-secret-1"),
        ("pbkdf2@example.com", "old-secret-2"),
    ] {
        let before = s.stored_password_hash(email).await.unwrap();
        assert!(before.starts_with("$gh-imported$"), "{before}");
        assert_eq!(
            login(&s, &app, DB_CONNECTION, email, "wrong-password")
                .await
                .assert_status(403)["error"],
            "invalid_grant"
        );
        assert_eq!(
            s.stored_password_hash(email).await.unwrap(),
            before,
            "a failed login re-hashes nothing"
        );
        let ok = login(&s, &app, DB_CONNECTION, email, password).await;
        assert!(ok.assert_status(200)["access_token"].is_string());
        let after = s.stored_password_hash(email).await.unwrap();
        assert!(
            after.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
            "{after}"
        );
        login(&s, &app, DB_CONNECTION, email, password)
            .await
            .assert_status(200);
        assert_eq!(
            login(&s, &app, DB_CONNECTION, email, "wrong-password")
                .await
                .assert_status(403)["error"],
            "invalid_grant"
        );
    }
    let logs = s.get("/api/v2/logs?q=type%3Asui").await;
    let logs = logs.assert_status(200).as_array().unwrap().clone();
    assert_eq!(logs.len(), 1);
    assert_eq!(
        logs[0]["details"]["summary"],
        json!({"inserted": 3, "updated": 0, "failed": 6})
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn upsert_updates_only_given_fields_and_external_id_is_echoed() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 50).await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let created = s
        .create_user(
            "kept@example.com",
            json!({"email_verified": true, "given_name": "Old", "family_name": "Name",
            "user_metadata": {"a": 1, "b": 2}}),
        )
        .await;
    let user_id = created["user_id"].as_str().unwrap().to_string();
    let rows = json!([{"email": "kept@example.com", "given_name": "New", "user_metadata": {"b": 3, "c": 4}},
                      {"email": "fresh@example.com"}]);
    let job = start_import(
        &mut s,
        &rows,
        &[("connection_id", &conn), ("external_id", "batch-7")],
    )
    .await;
    assert_eq!(
        job["summary"],
        json!({"inserted": 1, "updated": 0, "failed": 1, "total": 2})
    );
    assert_eq!(job["external_id"], "batch-7");
    assert_eq!(job["upsert"], false);
    let id = job["id"].as_str().unwrap().to_string();
    let errors = s.get(&format!("/api/v2/jobs/{id}/errors")).await;
    assert_eq!(
        errors.assert_status(200)[0]["errors"][0]["code"],
        "DUPLICATED_USER"
    );
    let unchanged = s
        .get(&format!("/api/v2/users/{}", common::enc(&user_id)))
        .await;
    assert_eq!(unchanged.assert_status(200)["given_name"], "Old");

    let rows = json!([{"email": "kept@example.com", "given_name": "New", "user_metadata": {"b": 3, "c": 4}},
                      {"email": "fresh@example.com", "nickname": "freshie"}]);
    let job = start_import(
        &mut s,
        &rows,
        &[("connection_id", &conn), ("upsert", "true")],
    )
    .await;
    assert_eq!(
        job["summary"],
        json!({"inserted": 0, "updated": 2, "failed": 0, "total": 2})
    );
    let u = s
        .get(&format!("/api/v2/users/{}", common::enc(&user_id)))
        .await;
    let u = u.assert_status(200);
    assert_eq!(u["given_name"], "New");
    assert_eq!(
        u["family_name"], "Name",
        "fields the row does not name stay"
    );
    assert_eq!(
        u["email_verified"], true,
        "email_verified stays unless the row gives it"
    );
    assert_eq!(u["user_metadata"], json!({"a": 1, "b": 3, "c": 4}));
    // A merge that would outgrow the metadata limit refuses that row and changes nothing.
    let big = "x".repeat(9_000);
    s.create_user("big@example.com", json!({"user_metadata": {"a": big}}))
        .await;
    let rows = json!([{"email": "big@example.com", "user_metadata": {"b": big}}]);
    let job = start_import(
        &mut s,
        &rows,
        &[("connection_id", &conn), ("upsert", "true")],
    )
    .await;
    assert_eq!(
        job["summary"],
        json!({"inserted": 0, "updated": 0, "failed": 1, "total": 1})
    );
    let id = job["id"].as_str().unwrap().to_string();
    let errors = s.get(&format!("/api/v2/jobs/{id}/errors")).await;
    let errors = errors.assert_status(200).clone();
    assert_eq!(errors[0]["errors"][0]["path"], "user_metadata", "{errors}");
    let unchanged = s
        .get("/api/v2/users-by-email?email=big%40example.com")
        .await;
    assert!(
        unchanged.assert_status(200)[0]["user_metadata"]
            .get("b")
            .is_none()
    );
    let search = s
        .get("/api/v2/users?q=user_metadata.c%3A4&search_engine=v3")
        .await;
    assert_eq!(
        search.assert_status(200).as_array().unwrap().len(),
        1,
        "the metadata index follows upserts"
    );
    // The password of an existing user is not an import's to replace.
    let app = app(&mut s).await;
    login(&s, &app, DB_CONNECTION, "kept@example.com", "Sup3r-secret!")
        .await
        .assert_status(200);
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_uploads_change_nothing() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 60_000).await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let users = serde_json::to_vec(&json!([{"email": "a@example.com"}])).unwrap();
    s.upload_import(users.clone(), &[])
        .await
        .assert_error(400, "invalid_body");
    s.upload_import(users.clone(), &[("connection_id", "con_doesnotexist0000")])
        .await
        .assert_error(400, "inexistent_connection");
    s.upload_import(
        b"{\"email\": \"a@example.com\"} trailing".to_vec(),
        &[("connection_id", &conn)],
    )
    .await
    .assert_error(400, "invalid_body");
    s.upload_import(
        b"[{\"email\": \"a@example.com\"}".to_vec(),
        &[("connection_id", &conn)],
    )
    .await
    .assert_error(400, "invalid_body");
    s.upload_import(b"[]".to_vec(), &[("connection_id", &conn)])
        .await
        .assert_error(400, "invalid_body");
    s.upload_import(
        users.clone(),
        &[("connection_id", &conn), ("upsert", "maybe")],
    )
    .await
    .assert_error(400, "invalid_body");
    s.upload_import(
        users.clone(),
        &[("connection_id", &conn), ("colour", "blue")],
    )
    .await
    .assert_error(400, "invalid_body");
    s.send_bytes(
        Method::POST,
        "/api/v2/jobs/users-imports",
        "application/json",
        users.clone(),
    )
    .await
    .assert_error(400, "invalid_body");
    // Two waiting imports are the limit (the worker here only looks once a minute).
    for _ in 0..2 {
        s.upload_import(users.clone(), &[("connection_id", &conn)])
            .await
            .assert_status(202);
    }
    let msg = s
        .upload_import(users.clone(), &[("connection_id", &conn)])
        .await
        .assert_error(429, "too_many_requests");
    assert!(msg.contains("2 active import users jobs"), "{msg}");
    s.get("/api/v2/jobs/not-a-job")
        .await
        .assert_error(400, "invalid_uri");
    s.get("/api/v2/jobs/job_0000000000000000")
        .await
        .assert_error(404, "inexistent_job");
    let read_only = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            Method::GET,
            "/api/v2/jobs/job_0000000000000000/errors",
            Some(&read_only),
            None,
        )
        .await;
    r.assert_error(403, "insufficient_scope");
    s.post("/api/v2/jobs/users-exports", json!({"format": "xml"}))
        .await
        .assert_error(400, "invalid_body");
    s.post("/api/v2/jobs/users-exports", json!({"q": "email:("}))
        .await
        .assert_error(400, "invalid_body");
    s.post(
        "/api/v2/jobs/users-exports",
        json!({"fields": [{"name": "a..b"}]}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.post(
        "/api/v2/jobs/users-exports",
        json!({"connection_id": "con_doesnotexist0000"}),
    )
    .await
    .assert_error(400, "inexistent_connection");
    let users = s.get("/api/v2/users?include_totals=true").await;
    assert_eq!(
        users.assert_status(200)["total"],
        0,
        "no upload created a user"
    );
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::MultiGzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("gzip");
    out
}

pub(crate) async fn export(s: &mut TestServer, body: Value) -> (Value, String) {
    let r = s.post("/api/v2/jobs/users-exports", body).await;
    let job = r.assert_status(201).clone();
    assert_eq!(job["type"], "users_export");
    let job = s.wait_job(job["id"].as_str().unwrap()).await;
    assert_eq!(job["status"], "completed", "{job}");
    let location = job["location"].as_str().unwrap().to_string();
    let resp = s.http().get(&location).send().await.unwrap();
    assert_eq!(resp.status(), 200);
    assert_eq!(resp.headers()["content-type"], "application/gzip");
    let bytes = resp.bytes().await.unwrap();
    // The link is signed: a changed signature or job id is refused.
    let forged = location.replace("sig=", "sig=x");
    assert_eq!(s.http().get(&forged).send().await.unwrap().status(), 404);
    (job, gunzip(&bytes))
}

#[tokio::test(flavor = "multi_thread")]
async fn exports_round_trip_through_an_import_and_can_export_search_results() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 50).await;
    let conn = s.connection_id(DB_CONNECTION).await;
    // 12,000 users: more than two export pages.
    let rows: Vec<Value> = (0..12_000)
        .map(|i| {
            json!({"email": format!("user{i:05}@example.com"), "user_id": format!("u{i:05}"), "email_verified": i % 2 == 0,
                "given_name": format!("Given, \"{i}\""), "user_metadata": {"n": i, "team": if i % 3 == 0 { "red" } else { "blue" }}})
        })
        .collect();
    let job = start_import(
        &mut s,
        &Value::Array(rows.clone()),
        &[("connection_id", &conn)],
    )
    .await;
    assert_eq!(job["summary"]["inserted"], 12_000);

    let fields = json!([{"name": "user_id"}, {"name": "email"}, {"name": "email_verified"}, {"name": "given_name"},
                        {"name": "user_metadata"}]);
    let (job, ndjson) = export(
        &mut s,
        json!({"connection_id": conn, "format": "json", "fields": fields}),
    )
    .await;
    assert_eq!(job["connection"], DB_CONNECTION);
    let lines: Vec<Value> = ndjson
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 12_000);
    assert_eq!(
        lines[7],
        json!({"user_id": "auth0|u00007", "email": "user00007@example.com", "email_verified": false,
        "given_name": "Given, \"7\"", "user_metadata": {"n": 7, "team": "blue"}})
    );

    // The export imports as it is (NDJSON, auth0| prefixes) into another connection.
    let other = s
        .post(
            "/api/v2/connections",
            json!({"name": "copy", "strategy": "auth0"}),
        )
        .await
        .assert_status(201)["id"]
        .as_str()
        .unwrap()
        .to_string();
    let copy: String = lines
        .iter()
        .map(|l| {
            let mut l = l.clone();
            l["user_id"] = json!(format!(
                "copy-{}",
                l["user_id"].as_str().unwrap().trim_start_matches("auth0|")
            ));
            l.to_string() + "\n"
        })
        .collect();
    let r = s
        .upload_import(copy.into_bytes(), &[("connection_id", &other)])
        .await;
    let job = s
        .wait_job(r.assert_status(202)["id"].as_str().unwrap())
        .await;
    assert_eq!(
        job["summary"],
        json!({"inserted": 12_000, "updated": 0, "failed": 0, "total": 12_000})
    );
    let (_, again) = export(
        &mut s,
        json!({"connection_id": other, "format": "json", "fields": fields}),
    )
    .await;
    let again: Vec<Value> = again
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(again.len(), 12_000);
    for (a, b) in lines.iter().zip(&again) {
        let mut b = b.clone();
        b["user_id"] = json!(
            b["user_id"]
                .as_str()
                .unwrap()
                .replace("auth0|copy-", "auth0|")
        );
        assert_eq!(a, &b);
    }

    // Search results as CSV, columns renamed, with a limit.
    let (_, csv) = export(
        &mut s,
        json!({"connection_id": conn, "q": "user_metadata.team:red AND email_verified:true", "limit": 100,
               "fields": [{"name": "email", "export_as": "Email"}, {"name": "given_name"}, {"name": "identities[0].connection", "export_as": "provider"}]}),
    )
    .await;
    let csv_lines: Vec<&str> = csv.lines().collect();
    assert!(csv.contains("\r\n"), "CSV lines end in CRLF");
    assert_eq!(csv_lines[0], "Email,given_name,provider");
    assert_eq!(csv_lines.len(), 101);
    assert_eq!(
        csv_lines[1],
        "user00000@example.com,\"Given, \"\"0\"\"\",Username-Password-Authentication"
    );
    assert_eq!(
        csv_lines[2],
        "user00006@example.com,\"Given, \"\"6\"\"\",Username-Password-Authentication"
    );
    // No fields: the default CSV columns; an empty result is still a valid file.
    let (_, empty) = export(&mut s, json!({"q": "email:nobody@example.com"})).await;
    assert!(
        empty.starts_with("user_id,email,email_verified,"),
        "{empty}"
    );
    assert_eq!(empty.lines().count(), 1);
}

/// How many rows the job has processed once it is part-way through `rows` (some, not all),
/// caught by reading its progress often; the job must not finish first.
async fn part_way(s: &mut TestServer, id: &str, rows: i64) -> i64 {
    let token = s.token().await;
    let (server, path) = (&*s, format!("/api/v2/jobs/{id}"));
    common::wait_for_background_work(
        "the job part-way through",
        std::time::Duration::from_secs(20),
        s.background_progress(),
        || async {
            let r = server.raw(Method::GET, &path, Some(&token), None).await;
            let job = r.assert_status(200).clone();
            let processed = job["processed"].as_i64().unwrap();
            if let Some(total) = job["total"].as_i64() {
                assert!(processed <= total, "{job}");
            }
            assert_ne!(
                job["status"], "completed",
                "the job finished before it could be interrupted"
            );
            (processed > 0 && processed < rows).then_some(processed)
        },
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn an_import_interrupted_mid_way_resumes_to_exactly_the_right_count() {
    let mut s = TestServer::start_with(|c| {
        c.job_poll_ms = 20;
        c.job_lease_ms = 1_000;
    })
    .await;
    let conn = s.connection_id(DB_CONNECTION).await;
    const N: usize = 40_000;
    let rows: Vec<Value> = (0..N)
        .map(|i| json!({"email": format!("crash{i:06}@example.com"), "user_metadata": {"i": i}}))
        .collect();
    let r = s
        .upload_import(
            serde_json::to_vec(&rows).unwrap(),
            &[("connection_id", &conn)],
        )
        .await;
    let id = r.assert_status(202)["id"].as_str().unwrap().to_string();
    // Stop the server while the job is part-way through: its running batch is cut off
    // mid-transaction, as in a crash.
    let stopped_at = part_way(&mut s, &id, N as i64).await;
    s.restart().await;
    let job = s.wait_job(&id).await;
    assert!(stopped_at < N as i64);
    assert_eq!(
        job["summary"],
        json!({"inserted": N, "updated": 0, "failed": 0, "total": N}),
        "{job}"
    );
    assert_eq!(
        s.get(&format!("/api/v2/jobs/{id}/errors")).await.status,
        204
    );
    // Past 1,000 the API's `total` is capped (x-total-capped); the table has every user.
    let total = s.get("/api/v2/users?include_totals=true&per_page=1").await;
    assert_eq!(total.assert_status(200)["total"], 1000);
    assert_eq!(total.headers["x-total-capped"], "true");
    assert_eq!(s.count_rows("users").await, N as i64);
}

#[tokio::test(flavor = "multi_thread")]
async fn verification_email_job_sends_the_email_once() {
    let smtp = SmtpServer::start().await;
    let mut s = TestServer::start_with(|c| {
        c.smtp_url = Some(smtp.url());
        c.mail_poll_ms = 50;
    })
    .await;
    let user = s
        .create_user("verify-me@example.com", json!({"verify_email": false}))
        .await;
    let user_id = user["user_id"].as_str().unwrap();
    let r = s
        .post(
            "/api/v2/jobs/verification-email",
            json!({"user_id": user_id}),
        )
        .await;
    let job = r.assert_status(201).clone();
    assert_eq!(job["type"], "verification_email");
    assert!(job["id"].as_str().unwrap().starts_with("job_"));
    let mail = smtp.wait_for(1).await;
    assert_eq!(mail[0].to, vec!["verify-me@example.com".to_string()]);
    let link = mail[0]
        .link(&format!("{}/lo/verify_email?ticket=", s.url))
        .expect("verification link");
    let page = s.http().get(&link).send().await.unwrap();
    assert_eq!(page.status(), 200);
    let u = s
        .get(&format!("/api/v2/users/{}", common::enc(user_id)))
        .await;
    assert_eq!(u.assert_status(200)["email_verified"], true);
    s.post(
        "/api/v2/jobs/verification-email",
        json!({"user_id": user_id}),
    )
    .await
    .assert_error(400, "invalid_body");
    s.post(
        "/api/v2/jobs/verification-email",
        json!({"user_id": "auth0|nobody"}),
    )
    .await
    .assert_error(404, "inexistent_user");
    s.post("/api/v2/jobs/verification-email", json!({}))
        .await
        .assert_error(400, "invalid_body");
    s.wait_outbox_settled().await;
    assert_eq!(smtp.messages().len(), 1);
}

#[tokio::test(flavor = "multi_thread")]
async fn files_over_the_limit_are_refused_and_huge_records_are_bad_rows() {
    let mut s = TestServer::start_with(|c| {
        c.job_poll_ms = 50;
        c.import_max_bytes = 400_000;
    })
    .await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let too_big =
        serde_json::to_vec(&json!([{"email": "a@example.com", "name": "x".repeat(500_000)}]))
            .unwrap();
    let msg = s
        .upload_import(too_big, &[("connection_id", &conn)])
        .await
        .assert_error(413, "too_large");
    assert!(msg.contains("400000"), "{msg}");
    // A record beyond 256 KiB is a refused row, not a refused file.
    let huge = format!(
        "[{{\"email\": \"huge@example.com\", \"nickname\": \"{}\"}}, {{\"email\": \"fine@example.com\"}}]",
        "n".repeat(300_000)
    );
    let r = s
        .upload_import(huge.into_bytes(), &[("connection_id", &conn)])
        .await;
    let job = s
        .wait_job(r.assert_status(202)["id"].as_str().unwrap())
        .await;
    assert_eq!(
        job["summary"],
        json!({"inserted": 1, "updated": 0, "failed": 1, "total": 2})
    );
    let id = job["id"].as_str().unwrap().to_string();
    let errors = s.get(&format!("/api/v2/jobs/{id}/errors")).await;
    let errors = errors.assert_status(200).clone();
    assert_eq!(errors[0]["index"], 0);
    assert!(
        errors[0]["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("at most 262144"),
        "{errors}"
    );
    let users = s.get("/api/v2/users?include_totals=true").await;
    assert_eq!(
        users.assert_status(200)["total"],
        1,
        "only the good row became a user"
    );
}

/// splitmix64: test data in an order unrelated to creation order, reproducible from the
/// printed seed.
struct Shuffle(u64);

impl Shuffle {
    fn from_clock() -> Self {
        let seed = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        eprintln!("shuffle seed {seed}");
        Self(seed)
    }

    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A 24-hex id, as Gatehouse and Auth0 generate them.
    fn hex_id(&mut self) -> String {
        format!("{:016x}{:08x}", self.next(), self.next() as u32)
    }

    fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = (self.next() % (i as u64 + 1)) as usize;
            items.swap(i, j);
        }
    }
}

/// Emails in an export file (NDJSON with `email`, or CSV with an `email` column), after
/// checking that no user_id appears twice.
fn exported_emails(file: &str, csv: bool) -> Vec<String> {
    let rows: Vec<(String, String)> = if csv {
        let mut lines = file.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let (id_col, email_col) = (
            header.iter().position(|h| *h == "user_id").unwrap(),
            header.iter().position(|h| *h == "email").unwrap(),
        );
        lines
            .map(|l| {
                // Neither ids nor these emails need CSV quoting.
                let cells: Vec<&str> = l.split(',').collect();
                (cells[id_col].to_string(), cells[email_col].to_string())
            })
            .collect()
    } else {
        file.lines()
            .map(|l| {
                let v: Value = serde_json::from_str(l).unwrap();
                (
                    v["user_id"].as_str().unwrap().to_string(),
                    v["email"].as_str().unwrap().to_string(),
                )
            })
            .collect()
    };
    let mut ids: Vec<&String> = rows.iter().map(|r| &r.0).collect();
    ids.sort();
    for pair in ids.windows(2) {
        assert_ne!(pair[0], pair[1], "user written twice");
    }
    rows.into_iter().map(|r| r.1).collect()
}

fn sorted(mut v: Vec<String>) -> Vec<String> {
    v.sort();
    v
}

/// Issue 13: the export's first page was in creation order and the later ones in user_id
/// order after the first page's last id, so users were written twice or not at all.
#[tokio::test(flavor = "multi_thread")]
async fn exports_write_each_user_once_when_ids_are_not_in_creation_order() {
    let mut s = TestServer::start_with(|c| c.job_poll_ms = 50).await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let mut rng = Shuffle::from_clock();
    // (email, team): the expected contents, whatever the ids.
    let mut users: Vec<(String, &str)> = Vec::new();
    // Explicit ids created in descending order through the Management API.
    for (i, id) in ["fff0001", "eee0001", "ddd0001"].iter().enumerate() {
        let email = format!("desc{i}@example.com");
        s.create_user(
            &email,
            json!({"user_id": id, "user_metadata": {"team": "red"}}),
        )
        .await;
        users.push((email, "red"));
    }
    // Three imports: explicit random ids, ids left to the server, explicit ids again. Each
    // import's users are newer than the last's, their ids in no relation to that.
    for import in 0..3 {
        let mut rows: Vec<Value> = (0..4_000)
            .map(|i| {
                let team = ["red", "blue", "grün"][(i + import) % 3];
                let email = format!("u{import}-{i:04}@exämple.com").replace('ä', "a");
                users.push((email.clone(), team));
                let mut row = json!({"email": email, "name": format!("Zoë {i} 山田"),
                    "user_metadata": {"team": team, "n": i}});
                if import != 1 {
                    row["user_id"] = json!(rng.hex_id());
                }
                row
            })
            .collect();
        rng.shuffle(&mut rows);
        let job = start_import(&mut s, &Value::Array(rows), &[("connection_id", &conn)]).await;
        assert_eq!(job["summary"]["inserted"], 4_000, "{job}");
    }
    assert_eq!(users.len(), 12_003);
    let all = sorted(users.iter().map(|u| u.0.clone()).collect());
    let not_red = sorted(
        users
            .iter()
            .filter(|u| u.1 != "red")
            .map(|u| u.0.clone())
            .collect(),
    );
    assert!(not_red.len() > 5_000, "the query's result spans pages");
    let fields = json!([{"name": "user_id"}, {"name": "email"}]);
    for (format, q, limit, expected) in [
        ("json", None, None, &all),
        ("csv", None, None, &all),
        ("json", Some("NOT user_metadata.team:red"), None, &not_red),
        ("csv", Some("NOT user_metadata.team:red"), None, &not_red),
        ("json", None, Some(7_001), &all),
        (
            "csv",
            Some("NOT user_metadata.team:red"),
            Some(6_500),
            &not_red,
        ),
    ] {
        let mut body = json!({"connection_id": conn, "format": format, "fields": fields});
        if let Some(q) = q {
            body["q"] = json!(q);
        }
        if let Some(limit) = limit {
            body["limit"] = json!(limit);
        }
        let (job, file) = export(&mut s, body.clone()).await;
        let got = sorted(exported_emails(&file, format == "csv"));
        let count = limit.unwrap_or(expected.len());
        assert_eq!(got.len(), count, "{body}");
        assert_eq!(job["processed"], count, "{body}: {job}");
        assert_eq!(job["total"], count, "{body}: {job}");
        if limit.is_none() {
            assert_eq!(&got, expected, "{body}");
        } else {
            let expected: std::collections::HashSet<&String> = expected.iter().collect();
            assert!(got.iter().all(|e| expected.contains(e)), "{body}");
        }
    }
}

/// Issue 13: an export stopped part-way (its node restarted in the middle of a page) resumes
/// from its stored cursor; users created while it runs are not part of it.
#[tokio::test(flavor = "multi_thread")]
async fn an_export_interrupted_mid_way_resumes_and_writes_each_user_once() {
    let mut s = TestServer::start_with(|c| {
        c.job_poll_ms = 20;
        c.job_lease_ms = 1_000;
        c.export_page_size = 50;
    })
    .await;
    let conn = s.connection_id(DB_CONNECTION).await;
    let mut rng = Shuffle::from_clock();
    let mut rows: Vec<Value> = (0..6_000)
        .map(|i| json!({"email": format!("resume{i:05}@example.com"), "user_id": rng.hex_id()}))
        .collect();
    rng.shuffle(&mut rows);
    let mut expected: Vec<String> = rows
        .iter()
        .map(|r| r["email"].as_str().unwrap().to_string())
        .collect();
    let job = start_import(&mut s, &Value::Array(rows), &[("connection_id", &conn)]).await;
    assert_eq!(job["summary"]["inserted"], 6_000);

    for format in ["json", "csv"] {
        let total_now = expected.len() as i64;
        let mut late = Vec::new();
        let r = s
            .post(
                "/api/v2/jobs/users-exports",
                json!({"connection_id": conn, "format": format,
                       "fields": [{"name": "user_id"}, {"name": "email"}]}),
            )
            .await;
        let id = r.assert_status(201)["id"].as_str().unwrap().to_string();
        let stopped_at = part_way(&mut s, &id, total_now).await;
        // Users created now, with ids before and after the cursor, are not part of the
        // export that is running (they are of the next one).
        for (prefix, id) in [("late-a", "0000late"), ("late-z", "zzzzlate")] {
            let email = format!("{prefix}-{format}@example.com");
            s.create_user(&email, json!({"user_id": format!("{id}{format}")}))
                .await;
            late.push(email);
        }
        s.restart().await;
        let job = s.wait_job(&id).await;
        assert_eq!(job["status"], "completed", "{job}");
        assert!(stopped_at < total_now);
        assert_eq!(job["processed"], total_now, "{job}");
        assert_eq!(job["total"], total_now, "{job}");
        let location = job["location"].as_str().unwrap().to_string();
        let bytes = s
            .http()
            .get(&location)
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
        let got = sorted(exported_emails(&gunzip(&bytes), format == "csv"));
        assert_eq!(
            got,
            sorted(expected.clone()),
            "{format}: each user exactly once"
        );
        expected.extend(late);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn finished_jobs_are_swept_a_day_after_they_end() {
    let mut s = TestServer::start_with_manual_clock_and(|c| c.job_poll_ms = 50).await;
    s.create_user("élodie@example.com", json!({})).await;
    let (job, _) = export(&mut s, json!({"format": "json"})).await;
    let path = format!("/api/v2/jobs/{}", job["id"].as_str().unwrap());
    // The sweep runs at every start: a day less a minute after it ended, the job stays.
    s.clock().advance(24 * 3_600_000 - 60_000);
    s.restart().await;
    s.get(&path).await.assert_status(200);
    s.clock().advance(120_000);
    s.restart().await;
    // (The cached token has expired by now: a new one.)
    let token = s.token_with_scope(None).await;
    s.raw(Method::GET, &path, Some(&token), None)
        .await
        .assert_error(404, "inexistent_job");
}
