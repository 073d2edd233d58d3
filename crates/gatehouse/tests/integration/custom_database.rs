//! Custom-database connections end to end: Auth0's own published PostgreSQL templates run
//! unchanged (but for their connection string) against a real legacy database the test
//! creates, with bcrypt hashes made by pyca/bcrypt; automatic migration (import mode) and
//! legacy mode; the sandbox's failures as users and administrators see them.
//!
//! The legacy database lives on the PostgreSQL server of `GATEHOUSE_TEST_DATABASE_URL`; the
//! tests that need it skip without it. The rest run on every storage.

use crate::common::{self, RawRequest, TestServer, enc, release_together};
use serde_json::{Value, json};
use sqlx::Connection;

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/custom-db"
);

/// An Auth0 template, unchanged but for its hard-coded connection string.
fn template(path: &str, db_url: &str) -> String {
    let source = std::fs::read_to_string(format!("{FIXTURES}/{path}")).expect("template");
    let line = "const conString = 'postgres://user:pass@localhost/mydb';";
    assert!(
        source.contains(line),
        "{path} no longer has Auth0's connection string line"
    );
    source.replace(
        "'postgres://user:pass@localhost/mydb'",
        &format!("'{db_url}'"),
    )
}

struct LegacyUser {
    id: i64,
    email: String,
    nickname: String,
    password: String,
}

fn legacy_users() -> Vec<(LegacyUser, String)> {
    let doc: Value = serde_json::from_str(
        &std::fs::read_to_string(format!("{FIXTURES}/legacy-users.json")).expect("fixture"),
    )
    .expect("fixture JSON");
    doc["users"]
        .as_array()
        .expect("users")
        .iter()
        .map(|u| {
            (
                LegacyUser {
                    id: u["id"].as_i64().expect("id"),
                    email: u["email"].as_str().expect("email").into(),
                    nickname: u["nickname"].as_str().expect("nickname").into(),
                    password: u["password"].as_str().expect("password").into(),
                },
                u["hash"].as_str().expect("hash").into(),
            )
        })
        .collect()
}

/// A legacy store as Auth0's templates expect it (`users(id, nickname, email, password)`),
/// in a database of its own on the test PostgreSQL server.
struct LegacyDb {
    admin_url: String,
    name: String,
    url: String,
}

impl LegacyDb {
    async fn create() -> Option<Self> {
        let admin_url = std::env::var("GATEHOUSE_TEST_DATABASE_URL")
            .ok()
            .filter(|u| !u.is_empty())?;
        let name = format!(
            "legacy_{}",
            gatehouse_crypto::random::alnum(10)
                .expect("random")
                .to_lowercase()
        );
        let mut admin = sqlx::PgConnection::connect(&admin_url)
            .await
            .expect("connect");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut admin)
            .await
            .expect("create legacy database");
        let base = admin_url.split('?').next().unwrap_or(&admin_url);
        let (server, _) = base.rsplit_once('/').expect("path");
        let url = format!("{server}/{name}");
        let mut c = sqlx::PgConnection::connect(&url)
            .await
            .expect("connect legacy");
        sqlx::query(
            "CREATE TABLE users (id integer PRIMARY KEY, nickname text, email text UNIQUE NOT NULL, password text NOT NULL, email_verified boolean DEFAULT false)",
        )
        .execute(&mut c)
        .await
        .expect("table");
        for (u, hash) in legacy_users() {
            sqlx::query(
                "INSERT INTO users (id, nickname, email, password) VALUES ($1, $2, $3, $4)",
            )
            .bind(u.id as i32)
            .bind(&u.nickname)
            .bind(&u.email)
            .bind(&hash)
            .execute(&mut c)
            .await
            .expect("legacy user");
        }
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    async fn execute(&self, sql: &str, binds: &[&str]) {
        let mut c = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect legacy");
        let mut q = sqlx::query(sql);
        for b in binds {
            q = q.bind(*b);
        }
        q.execute(&mut c).await.expect("legacy statement");
    }

    /// Drops the database, ending the connections the sandbox's pool still holds.
    async fn drop_now(&self) {
        let mut admin = sqlx::PgConnection::connect(&self.admin_url)
            .await
            .expect("connect");
        sqlx::query(&format!("DROP DATABASE \"{}\" WITH (FORCE)", self.name))
            .execute(&mut admin)
            .await
            .expect("drop legacy database");
    }
}

async fn start() -> TestServer {
    TestServer::start_with(|c| {
        c.script_allowed_hosts = vec!["127.0.0.1".into(), "localhost".into()];
        c.script_time_limit_ms = 5_000;
    })
    .await
}

/// An application allowed the password-realm grant on `connection`.
async fn app_on(s: &mut TestServer, connection_id: &str) -> (String, String) {
    let c = s
        .post(
            "/api/v2/clients",
            json!({"name": "legacy app", "app_type": "regular_web",
                "grant_types": ["http://auth0.com/oauth/grant-type/password-realm"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let client_id = c["client_id"].as_str().unwrap().to_string();
    s.patch(
        &format!("/api/v2/connections/{connection_id}"),
        json!({"enabled_clients": [client_id]}),
    )
    .await
    .assert_status(200);
    (client_id, c["client_secret"].as_str().unwrap().into())
}

fn login_body(app: &(String, String), realm: &str, username: &str, password: &str) -> Value {
    json!({"grant_type": "http://auth0.com/oauth/grant-type/password-realm",
        "client_id": app.0, "client_secret": app.1, "realm": realm,
        "username": username, "password": password})
}

async fn login(
    s: &TestServer,
    app: &(String, String),
    realm: &str,
    username: &str,
    password: &str,
) -> common::Response {
    s.raw(
        reqwest::Method::POST,
        "/oauth/token",
        None,
        Some(login_body(app, realm, username, password)),
    )
    .await
}

/// An OAuth error answer (`{error, error_description}`) with 403 `invalid_grant`; its
/// description.
fn oauth_error(r: &common::Response) -> String {
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
    assert_eq!(r.body["error"], "invalid_grant", "{}", r.body);
    r.body["error_description"]
        .as_str()
        .unwrap_or_default()
        .to_string()
}

/// The tenant log's events of `kind`, oldest first.
async fn events(s: &mut TestServer, kind: &str) -> Vec<Value> {
    let r = s
        .get(&format!(
            "/api/v2/logs?sort=date:1&per_page=100&q={}",
            enc(&format!("type:{kind}"))
        ))
        .await;
    r.assert_status(200).as_array().unwrap().clone()
}

async fn custom_connection(s: &mut TestServer, name: &str, options: Value) -> String {
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": name, "strategy": "auth0", "options": options}),
        )
        .await;
    r.assert_status(201)["id"].as_str().unwrap().to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn auth0_postgres_templates_move_users_at_their_first_login() {
    let Some(legacy) = LegacyDb::create().await else {
        eprintln!("skipped: GATEHOUSE_TEST_DATABASE_URL is not set");
        return;
    };
    let mut s = start().await;
    let id = custom_connection(
        &mut s,
        "legacy-db",
        json!({"enabledDatabaseCustomization": true, "import_mode": true,
            "customScripts": {
                "login": template("postgres/login.js", &legacy.url),
                "get_user": template("postgres/get_user.js", &legacy.url)}}),
    )
    .await;
    let app = app_on(&mut s, &id).await;
    let users: Vec<LegacyUser> = legacy_users().into_iter().map(|(u, _)| u).collect();
    let amelie = &users[0];
    let zoe = &users[1];
    let li = &users[2];
    let jan = &users[3];

    // First login: the template's profile becomes auth0|<legacy id>, the password argon2id.
    let r = login(&s, &app, "legacy-db", &amelie.email, &amelie.password).await;
    assert!(r.assert_status(200)["access_token"].is_string());
    let path = format!("/api/v2/users/{}", enc(&format!("auth0|{}", amelie.id)));
    let moved = s.get(&path).await;
    let moved = moved.assert_status(200);
    assert_eq!(moved["email"], json!(amelie.email));
    assert_eq!(moved["nickname"], json!(amelie.nickname));
    assert_eq!(moved["identities"][0]["connection"], "legacy-db");
    assert_eq!(
        moved["identities"][0]["user_id"],
        json!(amelie.id.to_string())
    );
    let hash = s
        .stored_password_hash(&amelie.email)
        .await
        .expect("password moved");
    assert!(hash.starts_with("$argon2id$"), "{hash}");

    // Two first logins of one user released together: both succeed, one user results.
    let requests = (0..2)
        .map(|_| {
            RawRequest::post_json(
                "/oauth/token",
                &login_body(&app, "legacy-db", &zoe.email, &zoe.password),
            )
        })
        .collect();
    let answers = release_together(&s.url, requests).await;
    assert!(
        answers.iter().all(|(status, _)| *status == 200),
        "{answers:?}"
    );
    let by_email = s
        .get(&format!("/api/v2/users-by-email?email={}", enc(&zoe.email)))
        .await;
    assert_eq!(by_email.assert_status(200).as_array().unwrap().len(), 1);

    // A wrong password of a user the store knows is `fp`; an unknown address `fu`.
    let r = login(&s, &app, "legacy-db", &jan.email, "not his password").await;
    oauth_error(&r);
    let r = login(&s, &app, "legacy-db", "nobody@example.org", "whatever").await;
    oauth_error(&r);
    let fp = events(&mut s, "fp").await;
    assert_eq!(fp.len(), 1, "{fp:?}");
    assert_eq!(fp[0]["user_id"], json!(format!("auth0|{}", jan.id)));
    assert_eq!(fp[0]["connection"], "legacy-db");
    let fu = events(&mut s, "fu").await;
    assert_eq!(fu.len(), 1, "{fu:?}");
    assert_eq!(fu[0]["user_name"], "nobody@example.org");
    assert!(!format!("{fp:?}{fu:?}").contains("not his password"));

    // A reset for a user still in the legacy store goes through get_user.
    s.raw(
        reqwest::Method::POST,
        "/dbconnections/change_password",
        None,
        Some(json!({"client_id": app.0, "email": li.email, "connection": "legacy-db"})),
    )
    .await
    .assert_status(200);
    let li_path = format!("/api/v2/users/{}", enc(&format!("auth0|{}", li.id)));
    let found = s.get(&li_path).await;
    assert_eq!(found.assert_status(200)["nickname"], json!(li.nickname));
    assert_eq!(events(&mut s, "scpr").await.len(), 1);

    // Once moved, users never need the legacy store again: drop it and log in.
    legacy.drop_now().await;
    let r = login(&s, &app, "legacy-db", &amelie.email, &amelie.password).await;
    r.assert_status(200);
    let r = login(&s, &app, "legacy-db", &zoe.email, &zoe.password).await;
    r.assert_status(200);
    let r = login(&s, &app, "legacy-db", &amelie.email, &zoe.password).await;
    oauth_error(&r);
    // Not moved yet: the script fails (its store is gone) with a clear description.
    let r = login(&s, &app, "legacy-db", &jan.email, &jan.password).await;
    let message = oauth_error(&r);
    assert!(
        message.contains("login script of the connection legacy-db failed"),
        "{message}"
    );
    let failed = events(&mut s, "f").await;
    assert!(
        failed.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("does not exist"))),
        "the tenant log keeps the cause: {failed:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn legacy_mode_asks_the_store_at_every_login_and_keeps_the_profile_fresh() {
    let Some(legacy) = LegacyDb::create().await else {
        eprintln!("skipped: GATEHOUSE_TEST_DATABASE_URL is not set");
        return;
    };
    let mut s = start().await;
    let id = custom_connection(
        &mut s,
        "legacy-live",
        json!({"enabledDatabaseCustomization": true, "import_mode": false,
            "customScripts": {
                "login": template("postgres/login.js", &legacy.url),
                "get_user": template("postgres/get_user.js", &legacy.url),
                "change_password": template("postgres/change_password.js", &legacy.url),
                "delete": template("postgres/delete.js", &legacy.url)}}),
    )
    .await;
    let app = app_on(&mut s, &id).await;
    let users: Vec<LegacyUser> = legacy_users().into_iter().map(|(u, _)| u).collect();
    let sam = &users[4];
    let user_id = format!("auth0|{}", sam.id);
    let path = format!("/api/v2/users/{}", enc(&user_id));

    login(&s, &app, "legacy-live", &sam.email, &sam.password)
        .await
        .assert_status(200);
    assert_eq!(
        s.get(&path).await.assert_status(200)["nickname"],
        json!(sam.nickname)
    );
    assert_eq!(
        s.stored_password_hash(&sam.email).await,
        None,
        "legacy mode keeps no password"
    );

    // The store changes: the next login brings the new profile, and only the store's
    // password counts.
    legacy
        .execute(
            "UPDATE users SET nickname = $1 WHERE email = $2",
            &["Séamus 🍀", &sam.email],
        )
        .await;
    // pyca/bcrypt 5.0.0: hashpw("Tr1cky-Pässword", gensalt(4)).
    let new_hash = "$2b$04$v6Zjq8dbP8UYLW1w462VuOQJ9/eWi4BqtwVFIHw1rwSmNLDwA2Ki2";
    legacy
        .execute(
            "UPDATE users SET password = $1 WHERE email = $2",
            &[new_hash, &sam.email],
        )
        .await;
    let r = login(&s, &app, "legacy-live", &sam.email, &sam.password).await;
    oauth_error(&r);
    login(&s, &app, "legacy-live", &sam.email, "Tr1cky-Pässword")
        .await
        .assert_status(200);
    let fresh = s.get(&path).await;
    assert_eq!(fresh.assert_status(200)["nickname"], json!("Séamus 🍀"));
    assert_eq!(fresh.body["logins_count"], 2);

    // The profile belongs to the store: PATCH may change metadata, not the name.
    let r = s.patch(&path, json!({"name": "Someone Else"})).await;
    let message = r.assert_error(400, "invalid_body");
    assert!(message.contains("cannot be updated: name"), "{message}");
    s.patch(&path, json!({"user_metadata": {"colour": "grün"}}))
        .await
        .assert_status(200);
    // A password change goes to the store (change_password), not to Gatehouse.
    s.patch(&path, json!({"password": "Another-Pässword-42"}))
        .await
        .assert_status(200);
    assert_eq!(s.stored_password_hash(&sam.email).await, None);
    login(&s, &app, "legacy-live", &sam.email, "Another-Pässword-42")
        .await
        .assert_status(200);

    // Removing the local copy (Auth0's DUPLICATED_USER remedy) leaves the store alone: the
    // next login brings the user back.
    let conn_users = format!("/api/v2/connections/{id}/users?email={}", enc(&sam.email));
    s.delete(&conn_users).await.assert_status(204);
    s.get(&path).await.assert_status(404);
    login(&s, &app, "legacy-live", &sam.email, "Another-Pässword-42")
        .await
        .assert_status(200);
    s.get(&path).await.assert_status(200);
    // Deleting the user runs `delete` in the store; then the login fails.
    s.delete(&path).await.assert_status(204);
    let r = login(&s, &app, "legacy-live", &sam.email, "Another-Pässword-42").await;
    oauth_error(&r);
    legacy.drop_now().await;
}
