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

/// Auth0 publishes no change_email template; this one is written in the templates' style.
fn change_email_script(db_url: &str) -> String {
    format!(
        "function changeEmail(email, newEmail, verified, callback) {{
  const postgres = require('pg');
  postgres.connect('{db_url}', function (err, client, done) {{
    if (err) return callback(err);
    client.query('UPDATE users SET email = $1, email_verified = $2 WHERE email = $3', [newEmail, verified, email], function (err, result) {{
      done();
      return callback(err, result && result.rowCount > 0);
    }});
  }});
}}"
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
            "CREATE TABLE users (id serial PRIMARY KEY, nickname text, email text UNIQUE NOT NULL, password text NOT NULL, email_verified boolean DEFAULT false)",
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
        // New sign-ups get ids far from the fixture's.
        sqlx::query("SELECT setval('users_id_seq', 100000000)")
            .execute(&mut c)
            .await
            .expect("sequence");
        Some(Self {
            admin_url,
            name,
            url,
        })
    }

    async fn count(&self, sql: &str, bind: &str) -> i64 {
        let mut c = sqlx::PgConnection::connect(&self.url)
            .await
            .expect("connect legacy");
        sqlx::query_scalar::<_, i64>(sql)
            .bind(bind)
            .fetch_one(&mut c)
            .await
            .expect("legacy count")
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

    // get_user guards creation: an address the store still has is taken.
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "legacy-db", "email": jan.email, "password": "Brand-new-2026!"}),
        )
        .await;
    r.assert_error(409, "auth0_idp_error");
    s.post("/api/v2/users", json!({"connection": "legacy-db", "email": "nowa.osoba@example.pl", "password": "Brand-new-2026!"}))
        .await
        .assert_status(201);

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
                "create": template("postgres/create.js", &legacy.url),
                "verify": template("postgres/verify.js", &legacy.url),
                "change_email": change_email_script(&legacy.url),
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

    // The verification link runs `verify` in the store (Auth0's template), then marks the
    // copy verified.
    assert_eq!(
        legacy
            .count(
                "SELECT count(*) FROM users WHERE email = $1 AND email_verified",
                &sam.email
            )
            .await,
        0
    );
    let ticket = s
        .post(
            "/api/v2/tickets/email-verification",
            json!({"user_id": user_id}),
        )
        .await;
    let ticket = ticket.assert_status(201)["ticket"]
        .as_str()
        .unwrap()
        .to_string();
    let page = s.http().get(&ticket).send().await.unwrap();
    assert!(
        page.status().is_success() || page.status().is_redirection(),
        "{}",
        page.status()
    );
    assert_eq!(
        legacy
            .count(
                "SELECT count(*) FROM users WHERE email = $1 AND email_verified",
                &sam.email
            )
            .await,
        1
    );
    assert_eq!(
        s.get(&path).await.assert_status(200)["email_verified"],
        true
    );
    // An email change asks get_user whether the new address is free, then change_email.
    let taken = users[0].email.clone();
    let r = s.patch(&path, json!({"email": taken})).await;
    r.assert_error(409, "auth0_idp_error");
    let moved_to = "seamus.oneil@example.ie";
    s.patch(&path, json!({"email": moved_to}))
        .await
        .assert_status(200);
    assert_eq!(
        legacy
            .count("SELECT count(*) FROM users WHERE email = $1", moved_to)
            .await,
        1
    );
    let sam_email = moved_to.to_string();
    let sam = LegacyUser {
        email: sam_email,
        ..legacy_users().remove(4).0
    };
    let sam = &sam;

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

    // Sign-up: get_user guards the store, create adds the user there, login reads the
    // profile back; an address the store already has is refused without running create.
    let signup = |email: &str| json!({"client_id": app.0, "email": email, "password": "Nouveau-Mot-2026!", "connection": "legacy-live"});
    let r = s
        .raw(
            reqwest::Method::POST,
            "/dbconnections/signup",
            None,
            Some(signup("émile.zola@example.fr")),
        )
        .await;
    r.assert_status(200);
    assert_eq!(
        legacy
            .count(
                "SELECT count(*) FROM users WHERE email = $1",
                "émile.zola@example.fr"
            )
            .await,
        1
    );
    let created = s
        .get(&format!(
            "/api/v2/users-by-email?email={}",
            enc("émile.zola@example.fr")
        ))
        .await;
    let created = created.assert_status(200).as_array().unwrap().clone();
    assert_eq!(created.len(), 1);
    assert!(
        created[0]["user_id"]
            .as_str()
            .unwrap()
            .starts_with("auth0|1000000"),
        "{created:?}"
    );
    login(
        &s,
        &app,
        "legacy-live",
        "émile.zola@example.fr",
        "Nouveau-Mot-2026!",
    )
    .await
    .assert_status(200);
    let taken = &users[0].email;
    let r = s
        .post(
            "/api/v2/users",
            json!({"connection": "legacy-live", "email": taken, "password": "Whatever-2026!"}),
        )
        .await;
    r.assert_error(409, "auth0_idp_error");
    assert_eq!(
        legacy
            .count("SELECT count(*) FROM users WHERE email = $1", taken)
            .await,
        1
    );
    let fs = events(&mut s, "fs").await;
    assert!(
        fs.is_empty() || fs.iter().all(|e| e["user_name"] != json!(taken)),
        "{fs:?}"
    );
    legacy.drop_now().await;
}

/// A script for the tests that need no legacy database: users kept in the script itself,
/// their passwords checked with bcrypt as Auth0's templates do.
fn inline_login_script() -> String {
    let users: Vec<Value> = legacy_users()
        .into_iter()
        .map(
            |(u, hash)| json!({"id": u.id, "email": u.email, "nickname": u.nickname, "hash": hash}),
        )
        .collect();
    format!(
        "function login(email, password, callback) {{
  const bcrypt = require('bcrypt');
  const users = {};
  const user = users.find(function (u) {{ return u.email === email; }});
  if (!user) return callback(new WrongUsernameOrPasswordError(email));
  bcrypt.compare(password, user.hash, function (err, ok) {{
    if (err || !ok) return callback(err || new WrongUsernameOrPasswordError(email));
    callback(null, {{ user_id: user.id, email: user.email, nickname: user.nickname }});
  }});
}}",
        serde_json::to_string(&users).unwrap()
    )
}

async fn start_with_limit(ms: u64) -> TestServer {
    TestServer::start_with(|c| {
        c.script_time_limit_ms = ms;
    })
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn script_failures_reach_users_clearly_and_the_log_with_their_cause() {
    let mut s = start_with_limit(1_500).await;
    let scripts = [
        ("loops", "function login(e, p, cb) { while (true) {} }"),
        (
            "throws",
            "function login(e, p, cb) { const row = null; cb(null, { user_id: row.id }); }",
        ),
        (
            "twice",
            "function login(e, p, cb) { cb(null, { user_id: 'first-one', email: e }); cb(null, { user_id: 'second', email: e }); }",
        ),
        (
            "refuses",
            "function login(e, p, cb) { cb(new UnauthorizedError('Your account is on hold in the old system.')); }",
        ),
        ("silent", "function login(e, p, cb) { }"),
    ];
    let mut apps = vec![];
    for (name, source) in scripts {
        let id = custom_connection(
            &mut s,
            name,
            json!({"enabledDatabaseCustomization": true, "customScripts": {"login": source}}),
        )
        .await;
        apps.push(app_on(&mut s, &id).await);
    }
    let email = "ada.lovelace@example.org";

    // The endless loop is cut off at the limit, while the server goes on answering.
    let looping = {
        let url = s.url.clone();
        let body = login_body(&apps[0], "loops", email, "pw");
        tokio::spawn(async move {
            let answer =
                release_together(&url, vec![RawRequest::post_json("/oauth/token", &body)]).await;
            (answer, std::time::Instant::now())
        })
    };
    let health = s.raw(reqwest::Method::GET, "/healthz", None, None).await;
    health.assert_status(200);
    let health_done = std::time::Instant::now();
    let (answer, loop_done) = looping.await.unwrap();
    assert!(health_done < loop_done, "healthz waited for the script");
    assert_eq!(answer[0].0, 403, "{answer:?}");
    let body: Value = serde_json::from_str(&answer[0].1).unwrap();
    assert_eq!(body["error"], "invalid_grant");
    assert_eq!(
        body["error_description"],
        "The login script of the connection loops did not answer within 1500 ms."
    );

    let r = login(&s, &apps[1], "throws", email, "pw").await;
    let message = oauth_error(&r);
    assert_eq!(
        message,
        "The login script of the connection throws failed; the tenant log has the details."
    );
    let r = login(&s, &apps[2], "twice", email, "pw").await;
    r.assert_status(200);
    s.get(&format!("/api/v2/users/{}", enc("auth0|first-one")))
        .await
        .assert_status(200);
    s.get(&format!("/api/v2/users/{}", enc("auth0|second")))
        .await
        .assert_status(404);
    let r = login(&s, &apps[3], "refuses", email, "pw").await;
    assert_eq!(
        oauth_error(&r),
        "Your account is on hold in the old system."
    );
    let r = login(&s, &apps[4], "silent", email, "pw").await;
    assert!(oauth_error(&r).contains("silent failed"));

    let failures = events(&mut s, "f").await;
    let described = |conn: &str| {
        failures
            .iter()
            .find(|e| e["connection"] == conn)
            .and_then(|e| e["description"].as_str())
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        described("loops").contains("did not call back within 1500 ms"),
        "{failures:?}"
    );
    assert!(described("throws").contains("TypeError"), "{failures:?}");
    assert!(described("refuses").contains("on hold"), "{failures:?}");
    assert!(
        described("silent").contains("finished without calling back"),
        "{failures:?}"
    );
    assert!(!format!("{failures:?}").contains("\"pw\""));
}

#[tokio::test(flavor = "multi_thread")]
async fn scripts_are_compiled_when_saved_and_configuration_never_shows_in_clear() {
    let mut s = start_with_limit(3_000).await;
    let before = s
        .get("/api/v2/connections")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len();
    let broken = "function login(email, password, callback) {\n  const user = { email: email };\n  callback(null, user.);\n}";
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": "broken-db", "strategy": "auth0",
                "options": {"enabledDatabaseCustomization": true, "customScripts": {"login": broken}}}),
        )
        .await;
    let message = r.assert_error(400, "invalid_body");
    assert!(
        message.contains("the login script does not compile (line 3)"),
        "{message}"
    );
    let too_big = format!(
        "function login(e, p, cb) {{ cb(); }} // {}",
        "x".repeat(100 * 1024)
    );
    let r = s
        .post(
            "/api/v2/connections",
            json!({"name": "big-db", "strategy": "auth0",
                "options": {"enabledDatabaseCustomization": true, "customScripts": {"login": too_big}}}),
        )
        .await;
    assert!(
        r.assert_error(400, "invalid_body")
            .contains("at most 102400")
    );
    let after = s
        .get("/api/v2/connections")
        .await
        .assert_status(200)
        .as_array()
        .unwrap()
        .len();
    assert_eq!(before, after, "a refused connection is not created");

    let secret = "sk_live_Zoë-🚀-51Hx";
    let show = "function login(email, password, callback) {\n  console.log('key is', configuration.API_KEY, 'for', email);\n  callback(null, { user_id: 'u1', email: email, nickname: configuration.API_KEY });\n}";
    let created = s
        .post(
            "/api/v2/connections",
            json!({"name": "config-db", "strategy": "auth0",
                "options": {"enabledDatabaseCustomization": true, "customScripts": {"login": show},
                    "configuration": {"API_KEY": secret, "REGION": "eu-west-1"}}}),
        )
        .await;
    let created = created.assert_status(201).clone();
    assert!(!created.to_string().contains(secret));
    assert!(!created.to_string().contains("eu-west-1"));
    let id = created["id"].as_str().unwrap().to_string();
    let read = s.get(&format!("/api/v2/connections/{id}")).await;
    assert!(!read.body.to_string().contains(secret));
    let try_login = |args: Value| json!({"script": "login", "args": args});
    let trial = s
        .post(
            &format!("/api/v2/connections/{id}/try"),
            try_login(json!(["grace@example.org", "pw"])),
        )
        .await;
    let trial = trial.assert_status(200).clone();
    assert_eq!(trial["result"]["nickname"], json!(secret), "{trial}");
    assert_eq!(
        trial["console"],
        json!(["key is [redacted] for grace@example.org"])
    );
    // Options sent back as read keep the sealed values; a new value replaces one.
    let mut options = read.body["options"].clone();
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"options": options.clone()}),
    )
    .await
    .assert_status(200);
    let trial = s
        .post(
            &format!("/api/v2/connections/{id}/try"),
            try_login(json!(["grace@example.org", "pw"])),
        )
        .await;
    assert_eq!(
        trial.assert_status(200)["result"]["nickname"],
        json!(secret)
    );
    options["configuration"]["API_KEY"] = json!("rotated-key-2");
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"options": options}),
    )
    .await
    .assert_status(200);
    let trial = s
        .post(
            &format!("/api/v2/connections/{id}/try"),
            try_login(json!(["grace@example.org", "pw"])),
        )
        .await;
    assert_eq!(
        trial.assert_status(200)["result"]["nickname"],
        json!("rotated-key-2")
    );

    // Trying a source before saving it: the host stays out of reach.
    for (source, expected) in [
        (
            "function login(e, p, cb) { require('fs').readFileSync('/etc/passwd'); }",
            "Cannot find module 'fs'",
        ),
        (
            "function login(e, p, cb) { require('child_process').execSync('id'); }",
            "Cannot find module 'child_process'",
        ),
        (
            "function login(e, p, cb) { cb(null, { user_id: process.env.HOME }); }",
            "process is not defined",
        ),
        (
            "function login(e, p, cb) { fetch('http://169.254.169.254/').then(function () { cb(null, {user_id: 'x'}); }, cb); }",
            "may not connect to 169.254.169.254",
        ),
        (
            "function login(e, p, cb) { cb(null, { user_id: 1 }\n",
            "SyntaxError",
        ),
    ] {
        let trial = s
            .post(
                &format!("/api/v2/connections/{id}/try"),
                json!({"script": "login", "args": ["a@b.c", "pw"], "source": source}),
            )
            .await;
        let trial = trial.assert_status(200).clone();
        assert!(trial["result"].is_null(), "{trial}");
        assert!(
            trial["error"]["message"]
                .as_str()
                .unwrap_or_default()
                .contains(expected),
            "{trial}"
        );
        assert!(!trial.to_string().contains("root:"), "{trial}");
    }
    let r = s
        .post(
            &format!("/api/v2/connections/{id}/try"),
            json!({"script": "signin", "args": []}),
        )
        .await;
    r.assert_error(400, "invalid_body");
}

#[tokio::test(flavor = "multi_thread")]
async fn fifty_script_logins_at_once_leave_the_server_answering() {
    let mut s = start_with_limit(20_000).await;
    let id = custom_connection(
        &mut s,
        "bcrypt-db",
        // Fifty logins of one user from one address would trip the brute-force limit before
        // any password is checked; this test is about the sandbox under load.
        json!({"enabledDatabaseCustomization": true, "brute_force_protection": false,
            "customScripts": {"login": inline_login_script()}}),
    )
    .await;
    let app = app_on(&mut s, &id).await;
    let users: Vec<LegacyUser> = legacy_users().into_iter().map(|(u, _)| u).collect();
    // Zoë's hash has cost 10: the script's bcrypt compare is the work.
    let zoe = &users[1];
    let requests: Vec<RawRequest> = (0..50)
        .map(|_| {
            RawRequest::post_json(
                "/oauth/token",
                &login_body(&app, "bcrypt-db", &zoe.email, &zoe.password),
            )
        })
        .collect();
    let logins = {
        let url = s.url.clone();
        tokio::spawn(async move {
            let answers = release_together(&url, requests).await;
            (answers, std::time::Instant::now())
        })
    };
    let mut health_done = vec![];
    for _ in 0..5 {
        s.raw(reqwest::Method::GET, "/healthz", None, None)
            .await
            .assert_status(200);
        health_done.push(std::time::Instant::now());
    }
    let (answers, logins_done) = logins.await.unwrap();
    let statuses: Vec<u16> = answers.iter().map(|(status, _)| *status).collect();
    assert_eq!(statuses, vec![200; 50], "{answers:?}");
    assert!(
        health_done[4] < logins_done,
        "healthz waited for the scripts"
    );
    let user = s
        .get(&format!(
            "/api/v2/users/{}",
            enc(&format!("auth0|{}", zoe.id))
        ))
        .await;
    assert_eq!(user.assert_status(200)["logins_count"], 50);
}

#[tokio::test(flavor = "multi_thread")]
async fn the_hosted_login_page_runs_the_script_and_shows_its_failures() {
    let mut s = start_with_limit(1_500).await;
    let script = "function login(email, password, callback) {
  if (email === 'held@example.org') return callback(new UnauthorizedError('Your old account is on hold: call us.'));
  if (email === 'slow@example.org') { while (true) {} }
  if (password !== 'Grüße-aus-Köln') return callback(new WrongUsernameOrPasswordError(email));
  callback(null, { user_id: 'k-' + email.length, email: email, name: 'Käthe Kollwitz' });
}";
    let id = custom_connection(
        &mut s,
        "hosted-legacy",
        json!({"enabledDatabaseCustomization": true, "customScripts": {"login": script}}),
    )
    .await;
    let callback = "https://app.example.com/callback";
    let app = s
        .post(
            "/api/v2/clients",
            json!({"name": "web", "app_type": "regular_web", "callbacks": [callback]}),
        )
        .await;
    let client_id = app.assert_status(201)["client_id"]
        .as_str()
        .unwrap()
        .to_string();
    s.patch(
        &format!("/api/v2/connections/{id}"),
        json!({"enabled_clients": [client_id]}),
    )
    .await
    .assert_status(200);
    let authorize = format!(
        "/authorize?response_type=code&client_id={client_id}&redirect_uri={}&state=s1&connection=hosted-legacy",
        enc(callback)
    );
    let mut b = common::browser::Browser::new(&s.url);
    for (email, password, shown) in [
        ("kathe@example.org", "wrong", "Wrong email or password."),
        (
            "held@example.org",
            "x",
            "Your old account is on hold: call us.",
        ),
        ("slow@example.org", "x", "did not answer within 1500 ms"),
    ] {
        let page = b.visit(&authorize).await;
        let page = b.submit_login(&page, email, password).await;
        // The form again (400), with what went wrong: never a 500 page.
        assert_eq!(page.status, 400, "{email}: {}", page.body);
        assert!(page.body.contains(shown), "{email}: {}", page.body);
    }
    let page = b.visit(&authorize).await;
    let page = b
        .submit_login(&page, "kathe@example.org", "Grüße-aus-Köln")
        .await;
    assert!(page.callback_param("code").is_some(), "{page:?}");
    let user = s.get(&format!("/api/v2/users/{}", enc("auth0|k-17"))).await;
    assert_eq!(user.assert_status(200)["name"], "Käthe Kollwitz");
}

#[tokio::test(flavor = "multi_thread")]
async fn public_sign_up_and_reset_never_show_a_scripts_cause() {
    let mut s = start_with_limit(2_000).await;
    let failing = "function f(a, callback) { callback(new Error('connect ECONNREFUSED db-7.corp.internal:5432')); }";
    let id = custom_connection(
        &mut s,
        "internal-db",
        json!({"enabledDatabaseCustomization": true,
            "customScripts": {"get_user": failing.replace("f(a,", "getByEmail(email,"), "create": failing.replace("f(a,", "create(user,"),
                "login": "function login(e, p, callback) { callback(new WrongUsernameOrPasswordError(e)); }"}}),
    )
    .await;
    let app = app_on(&mut s, &id).await;
    let body = json!({"client_id": app.0, "email": "new.person@example.org", "password": "Fresh-Start-2026!", "connection": "internal-db"});
    let r = s
        .raw(
            reqwest::Method::POST,
            "/dbconnections/signup",
            None,
            Some(body),
        )
        .await;
    assert_eq!(r.status.as_u16(), 400, "{}", r.body);
    assert!(!r.body.to_string().contains("corp.internal"), "{}", r.body);
    let r = s
        .raw(
            reqwest::Method::POST,
            "/dbconnections/change_password",
            None,
            Some(json!({"client_id": app.0, "email": "someone@example.org", "connection": "internal-db"})),
        )
        .await;
    r.assert_status(200);
    assert!(!r.body.to_string().contains("corp.internal"), "{}", r.body);
    // Administrators read the cause in the tenant log.
    let fs = events(&mut s, "fs").await;
    assert!(
        fs.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("db-7.corp.internal"))),
        "{fs:?}"
    );
    let fcpr = events(&mut s, "fcpr").await;
    assert!(
        fcpr.iter().any(|e| e["description"]
            .as_str()
            .is_some_and(|d| d.contains("db-7.corp.internal"))),
        "{fcpr:?}"
    );
    // The Management API is for administrators: its answer names the cause.
    let r = s
        .post("/api/v2/users", json!({"connection": "internal-db", "email": "admin.made@example.org", "password": "Fresh-Start-2026!"}))
        .await;
    assert!(
        r.assert_error(400, "custom_script_error")
            .contains("db-7.corp.internal")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn bad_input_to_the_new_routes_is_refused_and_changes_nothing() {
    let mut s = start_with_limit(2_000).await;
    let id = custom_connection(
        &mut s,
        "strict-db",
        json!({"enabledDatabaseCustomization": true,
            "customScripts": {"login": "function login(e, p, cb) { cb(null, {user_id: 'x1', email: e}); }"}}),
    )
    .await;
    let before = s
        .get(&format!("/api/v2/connections/{id}"))
        .await
        .body
        .clone();
    for (options, expected) in [
        (
            json!({"customScripts": {"signin": "function () {}"}}),
            "options.customScripts.signin",
        ),
        (
            json!({"customScripts": {"login": 42}}),
            "options.customScripts.login",
        ),
        (
            json!({"customScripts": "function login() {}"}),
            "options.customScripts",
        ),
        (
            json!({"configuration": {"DB_URL": 5432}}),
            "options.configuration.DB_URL",
        ),
        (json!({"configuration": ["a"]}), "options.configuration"),
        (
            json!({"enabledDatabaseCustomization": "yes"}),
            "options.enabledDatabaseCustomization",
        ),
    ] {
        let r = s
            .patch(
                &format!("/api/v2/connections/{id}"),
                json!({"options": options}),
            )
            .await;
        let message = r.assert_error(400, "invalid_body");
        assert!(message.contains(expected), "{message}");
    }
    assert_eq!(
        s.get(&format!("/api/v2/connections/{id}")).await.body,
        before
    );

    let try_path = format!("/api/v2/connections/{id}/try");
    for body in [
        json!({"script": "login", "args": "a@b.c"}),
        json!({"args": []}),
        json!({"script": "login", "args": [], "extra": 1}),
        json!({"script": "login", "source": "x".repeat(100 * 1024 + 1)}),
    ] {
        s.post(&try_path, body)
            .await
            .assert_error(400, "invalid_body");
    }
    s.post(
        "/api/v2/connections/con_doesnotexist/try",
        json!({"script": "login"}),
    )
    .await
    .assert_error(404, "inexistent_connection");
    let db = s.connection_id("Username-Password-Authentication").await;
    let r = s
        .post(
            &format!("/api/v2/connections/{db}/try"),
            json!({"script": "get_user", "args": ["a@b.c"]}),
        )
        .await;
    assert_eq!(
        r.status.as_u16(),
        400,
        "a connection without that script: {}",
        r.body
    );

    // DELETE /connections/{id}/users: an email is required, the connection must exist and
    // hold database users.
    let path = format!("/api/v2/connections/{id}/users");
    s.delete(&path).await.assert_status(400);
    s.delete(&format!("{path}?email=")).await.assert_status(400);
    s.delete(&format!("{path}?email=a%40b.c&other=1"))
        .await
        .assert_status(400);
    s.delete("/api/v2/connections/con_doesnotexist/users?email=a%40b.c")
        .await
        .assert_error(404, "inexistent_connection");
    let oidc = s
        .post(
            "/api/v2/connections",
            json!({"name": "corp-oidc", "strategy": "oidc", "options": {"client_id": "c", "client_secret": "s",
                "issuer": "https://idp.example.com", "authorization_endpoint": "https://idp.example.com/auth",
                "token_endpoint": "https://idp.example.com/token", "jwks_uri": "https://idp.example.com/jwks"}}),
        )
        .await;
    let oidc = oidc.assert_status(201)["id"].as_str().unwrap().to_string();
    let r = s
        .delete(&format!("/api/v2/connections/{oidc}/users?email=a%40b.c"))
        .await;
    assert!(
        r.assert_error(400, "invalid_query_string")
            .contains("must be a database connection")
    );
    // A narrow token is refused.
    let narrow = s.token_with_scope(Some("read:users")).await;
    let r = s
        .raw(
            reqwest::Method::DELETE,
            &format!("{path}?email=a%40b.c"),
            Some(&narrow),
            None,
        )
        .await;
    assert_eq!(r.status.as_u16(), 403, "{}", r.body);
}
