//! The `mysql` module against a real MySQL / MariaDB server: Auth0's published MySQL templates
//! run unchanged but for their connection settings, and the bridge decodes values as the npm
//! `mysql` package does.
//!
//! Needs `GATEHOUSE_TEST_MYSQL_URL` (for example `mysql://root@127.0.0.1:3306/test`, an
//! account allowed to create databases); without it the database tests return early. Each
//! test works in a scratch database of its own, dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;
use std::time::Duration;

use gatehouse_scripts::mysql::{MySqlFailure, MySqlPools};
use gatehouse_scripts::{
    AllowedHosts, ErrorClass, SandboxLimits, ScriptCall, ScriptError, ScriptPool, ScriptRun,
};
use serde_json::{Map, Value, json};

const FIXTURES: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../tests/fixtures/custom-db/mysql"
);

fn admin_url() -> Option<url::Url> {
    match std::env::var("GATEHOUSE_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => {
            let mut url = url::Url::parse(&url).expect("GATEHOUSE_TEST_MYSQL_URL is a URL");
            // Administration needs no database (the URL's may not exist).
            url.set_path("/");
            Some(url)
        }
        _ => {
            eprintln!("GATEHOUSE_TEST_MYSQL_URL is not set: skipping the MySQL bridge test");
            None
        }
    }
}

fn random_suffix() -> String {
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_nanos(),
    );
    format!("{:016x}", hasher.finish())
}

/// A scratch database's coordinates.
#[derive(Clone)]
struct Scratch {
    url: String,
    host: String,
    port: u16,
    user: String,
    password: String,
    database: String,
}

/// Runs `body` with a fresh scratch database, then drops the database, even when `body`
/// panics.
async fn with_scratch_database<F, Fut>(body: F)
where
    F: FnOnce(Arc<MySqlPools>, Scratch) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = admin_url() else {
        return;
    };
    let pools = Arc::new(MySqlPools::new());
    let name = format!("gatehouse_mysql_bridge_{}", random_suffix());
    pools
        .query(
            admin.as_str(),
            &format!("CREATE DATABASE {name} CHARACTER SET utf8mb4"),
            &[],
        )
        .await
        .unwrap();
    let mut url = admin.clone();
    url.set_path(&name);
    let scratch = Scratch {
        url: url.to_string(),
        host: admin.host_str().unwrap_or("127.0.0.1").to_string(),
        port: admin.port().unwrap_or(3306),
        user: admin.username().to_string(),
        password: admin.password().unwrap_or("").to_string(),
        database: name.clone(),
    };
    let outcome = tokio::spawn(body(Arc::clone(&pools), scratch)).await;
    pools
        .query(admin.as_str(), &format!("DROP DATABASE {name}"), &[])
        .await
        .unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn ok(pools: &MySqlPools, url: &str, sql: &str, params: Value) -> Value {
    let params = params.as_array().cloned().unwrap_or_default();
    match pools.query(url, sql, &params).await {
        Ok(result) => result,
        Err(failure) => panic!("{sql}: {failure:?}"),
    }
}

async fn err(pools: &MySqlPools, url: &str, sql: &str, params: Value) -> MySqlFailure {
    let params = params.as_array().cloned().unwrap_or_default();
    match pools.query(url, sql, &params).await {
        Ok(result) => panic!("{sql} succeeded: {result}"),
        Err(failure) => failure,
    }
}

fn sandbox() -> ScriptPool {
    ScriptPool::start(SandboxLimits {
        time_limit: Duration::from_secs(15),
        memory_limit: 32 * 1024 * 1024,
        workers: 2,
        queue: 16,
        allowed_hosts: AllowedHosts::parse("127.0.0.1 localhost ::1").unwrap(),
    })
    .unwrap()
}

async fn run(pool: &ScriptPool, name: &str, source: &str, args: Vec<Value>) -> ScriptRun {
    pool.run(ScriptCall {
        cache_key: "con_mysql/1".into(),
        name: name.into(),
        source: source.into(),
        args,
        configuration: Map::new(),
        secrets: vec![],
        keep_warm: false,
    })
    .await
}

fn js_string(s: &str) -> String {
    serde_json::to_string(s).unwrap().replace('\'', "\\'")
}

/// An Auth0 template, unchanged but for the values of its connection settings.
fn template(path: &str, db: &Scratch) -> String {
    let source = std::fs::read_to_string(format!("{FIXTURES}/{path}")).unwrap();
    let host = if db.port == 3306 {
        format!("host: {}", js_string(&db.host))
    } else {
        format!("host: {}, port: {}", js_string(&db.host), db.port)
    };
    let replaced = source
        .replace("host: 'localhost'", &host)
        .replace("user: 'me'", &format!("user: {}", js_string(&db.user)))
        .replace(
            "password: 'secret'",
            &format!("password: {}", js_string(&db.password)),
        )
        .replace(
            "database: 'mydb'",
            &format!("database: {}", js_string(&db.database)),
        );
    for original in ["'localhost'", "'me'", "'secret'", "'mydb'"] {
        assert!(!replaced.contains(original), "{path}: {original} left");
    }
    replaced
}

const CREATE_USERS: &str = "CREATE TABLE users (
    id INT AUTO_INCREMENT PRIMARY KEY,
    nickname VARCHAR(100),
    email VARCHAR(255) NOT NULL UNIQUE,
    password VARCHAR(255),
    email_verified BOOLEAN NOT NULL DEFAULT FALSE,
    created DATETIME(3) NOT NULL DEFAULT CURRENT_TIMESTAMP(3),
    balance DECIMAL(12, 4),
    avatar BLOB
) CHARACTER SET utf8mb4";

fn profile(run: ScriptRun) -> Value {
    match run.outcome {
        Ok(Some(v)) => v,
        other => panic!("expected a profile: {other:?} (console: {:?})", run.console),
    }
}

fn callback_error(run: ScriptRun) -> gatehouse_scripts::CallbackError {
    match run.outcome {
        Err(ScriptError::Callback(e)) => e,
        other => panic!(
            "expected a callback error: {other:?} (console: {:?})",
            run.console
        ),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auth0_templates_run_unchanged() {
    with_scratch_database(|pools, db| async move {
        ok(&pools, &db.url, CREATE_USERS, json!([])).await;
        let pool = sandbox();
        let email = "zoë.łódź@exämple.com";

        // create: `INSERT INTO users SET ?` with an object, the password hashed with bcrypt.
        let create = template("create.js", &db);
        let r = run(
            &pool,
            "create",
            &create,
            vec![json!({"email": email, "password": "Pässwörd-1 🚀", "tenant": "t"})],
        )
        .await;
        assert_eq!(r.outcome, Ok(None), "{:?}", r.console);
        let stored = ok(
            &pools,
            &db.url,
            "SELECT id, email, password FROM users",
            json!([]),
        )
        .await;
        let rows = stored["rows"].as_array().unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0]["email"], email);
        let hash = rows[0]["password"].as_str().unwrap();
        assert!(hash.starts_with("$2b$10$"), "{hash}");
        let id = rows[0]["id"].as_i64().unwrap();
        ok(
            &pools,
            &db.url,
            "UPDATE users SET nickname = ?, balance = ? WHERE id = ?",
            json!(["Zoë 🚀 Łódź", "12.5", id]),
        )
        .await;

        // The same email again: the server's duplicate-key error, as the npm package words it.
        let r = run(
            &pool,
            "create",
            &create,
            vec![json!({"email": email, "password": "other"})],
        )
        .await;
        let e = callback_error(r);
        assert_eq!(e.class, ErrorClass::Error);
        assert!(
            e.message.starts_with("ER_DUP_ENTRY: Duplicate entry"),
            "{}",
            e.message
        );

        // login: the right password gives the profile, a wrong one or an unknown user
        // WrongUsernameOrPasswordError with the email.
        let expected =
            json!({"user_id": id.to_string(), "nickname": "Zoë 🚀 Łódź", "email": email});
        for path in ["login.js", "dashboard-create-db-connection/login.js"] {
            let login = template(path, &db);
            let r = run(
                &pool,
                "login",
                &login,
                vec![json!(email), json!("Pässwörd-1 🚀")],
            )
            .await;
            assert_eq!(profile(r), expected, "{path}");
            let r = run(&pool, "login", &login, vec![json!(email), json!("wrong")]).await;
            let e = callback_error(r);
            assert_eq!(e.class, ErrorClass::WrongUsernameOrPasswordError, "{path}");
            assert_eq!(e.first, Some(json!(email)), "{path}");
            let r = run(
                &pool,
                "login",
                &login,
                vec![json!("nobody@exämple.com"), json!("x")],
            )
            .await;
            let e = callback_error(r);
            assert_eq!(e.class, ErrorClass::WrongUsernameOrPasswordError, "{path}");
        }
        let legacy = template("legacy-auth0-docs-024cae62/login.js", &db);
        let r = run(
            &pool,
            "login",
            &legacy,
            vec![json!(email), json!("Pässwörd-1 🚀")],
        )
        .await;
        assert_eq!(
            profile(r),
            json!({"id": id.to_string(), "nickname": "Zoë 🚀 Łódź", "email": email})
        );

        // get_user: found, and not found as callback(null).
        let get_user = template("get_user.js", &db);
        let r = run(&pool, "get_user", &get_user, vec![json!(email)]).await;
        assert_eq!(profile(r), expected);
        let r = run(
            &pool,
            "get_user",
            &get_user,
            vec![json!("nobody@exämple.com")],
        )
        .await;
        assert_eq!(r.outcome, Ok(None));

        // change_password: `results.length > 0` on an OkPacket is false, as with the npm
        // package; the password changes all the same.
        let change = template("change_password.js", &db);
        let r = run(
            &pool,
            "change_password",
            &change,
            vec![json!(email), json!("Nëw-pässwörd-2")],
        )
        .await;
        assert_eq!(r.outcome, Ok(Some(json!(false))), "{:?}", r.console);
        let login = template("login.js", &db);
        let r = run(
            &pool,
            "login",
            &login,
            vec![json!(email), json!("Nëw-pässwörd-2")],
        )
        .await;
        assert_eq!(profile(r), expected);
        let r = run(
            &pool,
            "login",
            &login,
            vec![json!(email), json!("Pässwörd-1 🚀")],
        )
        .await;
        assert_eq!(
            callback_error(r).class,
            ErrorClass::WrongUsernameOrPasswordError
        );

        // verify: likewise false, and the flag is set.
        let verify = template("verify.js", &db);
        let r = run(&pool, "verify", &verify, vec![json!(email)]).await;
        assert_eq!(r.outcome, Ok(Some(json!(false))), "{:?}", r.console);
        let flag = ok(
            &pools,
            &db.url,
            "SELECT email_verified FROM users WHERE email = ?",
            json!([email]),
        )
        .await;
        assert_eq!(flag["rows"], json!([{"email_verified": 1}]));

        // delete, by the user id Auth0 passes (a string).
        let delete = template("delete.js", &db);
        let r = run(&pool, "delete", &delete, vec![json!(id.to_string())]).await;
        assert_eq!(r.outcome, Ok(None), "{:?}", r.console);
        let r = run(&pool, "get_user", &get_user, vec![json!(email)]).await;
        assert_eq!(r.outcome, Ok(None));
    })
    .await;
}

const CREATE_KINDS: &str = "CREATE TABLE kinds (
    id BIGINT UNSIGNED AUTO_INCREMENT PRIMARY KEY,
    t TINYINT, flag TINYINT(1), u TINYINT UNSIGNED, s SMALLINT, m MEDIUMINT, i INT,
    big BIGINT, ubig BIGINT UNSIGNED, f FLOAT, d DOUBLE, amount DECIMAL(20, 6),
    name VARCHAR(50), txt TEXT, ch CHAR(3), vb VARBINARY(16), bl BLOB, bits BIT(8),
    dt DATETIME(3), ts TIMESTAMP(6) NULL, day DATE, tm TIME, yr YEAR,
    e ENUM('a', 'b'), st SET('x', 'y'), j JSON,
    tb TEXT COLLATE utf8mb4_bin, vcb VARCHAR(10) COLLATE utf8mb4_bin
) CHARACTER SET utf8mb4";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bridge_binds_and_decodes_as_the_npm_package() {
    with_scratch_database(|pools, db| async move {
        let created = ok(&pools, &db.url, CREATE_KINDS, json!([])).await;
        assert_eq!(
            created,
            json!({"affectedRows": 0, "insertId": 0, "changedRows": 0})
        );
        let inserted = ok(
            &pools,
            &db.url,
            "INSERT INTO kinds (t, flag, u, s, m, i, big, ubig, f, d, amount, name, txt, ch, vb, bl, \
             bits, dt, ts, day, tm, yr, e, st, j, tb, vcb) \
             VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            json!([
                -128, true, 255, -32768, -8_388_608, -2_147_483_648_i64,
                i64::MIN, u64::MAX, 1.1, 2.5e-300, "12345678901234.123456",
                "Zoë 🚀", "Łódź\n'quoted'", "abc",
                {"type": "Buffer", "data": [0, 1, 255]},
                {"type": "Buffer", "data": [104, 105]},
                {"type": "Buffer", "data": [165]},
                "2021-03-04 05:06:07.123", "2021-03-04 05:06:07.123456", "1990-07-15",
                "-838:59:59", 2024, "b", "x,y",
                {"a": [1, "ü"]},
                "Täxt", "Väl"
            ]),
        )
        .await;
        assert_eq!(
            inserted,
            json!({"affectedRows": 1, "insertId": 1, "changedRows": 0})
        );
        let inserted = ok(
            &pools,
            &db.url,
            "INSERT INTO kinds (big, day, dt) VALUES (?, '0000-00-00', NULL)",
            json!([9_007_199_254_740_993_i64]),
        )
        .await;
        assert_eq!(inserted["insertId"], 2);

        let selected = ok(&pools, &db.url, "SELECT * FROM kinds ORDER BY id", json!([])).await;
        let mut rows = selected["rows"].as_array().unwrap().clone();
        // MySQL's JSON comes back as text, as the npm package gives it; MariaDB's JSON is a
        // LONGTEXT of a binary collation, which sqlx cannot tell from a LONGBLOB: a Buffer.
        let j = rows[0].as_object_mut().unwrap().remove("j").unwrap();
        let json_text = "{\"a\":[1,\"ü\"]}";
        assert!(
            j == json!(json_text)
                || j == json!({"type": "Buffer", "data": json_text.as_bytes()}),
            "{j}"
        );
        // A TEXT of a binary collation is text; a VARCHAR of one cannot be told from a
        // VARBINARY: a Buffer (the safe reading).
        assert_eq!(rows[0]["tb"], "Täxt");
        assert_eq!(
            rows[0].as_object_mut().unwrap().remove("vcb").unwrap(),
            json!({"type": "Buffer", "data": "Väl".as_bytes()})
        );
        assert_eq!(
            rows[0],
            json!({
                "id": 1, "t": -128, "flag": 1, "u": 255, "s": -32768, "m": -8_388_608,
                "i": -2_147_483_648_i64,
                "big": "-9223372036854775808", "ubig": "18446744073709551615",
                "f": 1.1, "d": 2.5e-300, "amount": "12345678901234.123456",
                "name": "Zoë 🚀", "txt": "Łódź\n'quoted'", "ch": "abc",
                "vb": {"type": "Buffer", "data": [0, 1, 255]},
                "bl": {"type": "Buffer", "data": [104, 105]},
                "bits": {"type": "Buffer", "data": [165]},
                "dt": "2021-03-04 05:06:07.123", "ts": "2021-03-04 05:06:07.123456",
                "day": "1990-07-15", "tm": "-838:59:59", "yr": 2024, "e": "b", "st": "x,y",
                "tb": "Täxt"
            })
        );
        assert_eq!(rows[1]["big"], "9007199254740993");
        assert_eq!(rows[1]["day"], "0000-00-00");
        assert_eq!(rows[1]["dt"], Value::Null);
        assert_eq!(rows[1]["t"], Value::Null);
        assert_eq!(selected["dates"], json!(["dt", "ts", "day"]));
        let fields = selected["fields"].as_array().unwrap();
        assert_eq!(fields.len(), 28);
        assert_eq!(fields[26], json!({"name": "tb", "type": 252, "typeName": "TEXT"}));
        assert_eq!(fields[0], json!({"name": "id", "type": 8, "typeName": "BIGINT UNSIGNED"}));
        assert_eq!(fields[2]["typeName"], "BOOLEAN");
        assert_eq!(fields[11]["type"], 246);

        // An empty result is still rows, with its fields.
        let empty = ok(&pools, &db.url, "SELECT id, dt FROM kinds WHERE id = ?", json!([99])).await;
        assert_eq!(empty["rows"], json!([]));
        assert_eq!(empty["dates"], json!(["dt"]));
        assert_eq!(empty["fields"].as_array().unwrap().len(), 2);

        // UPDATE reports the rows it matched; DELETE the rows it removed.
        let updated = ok(
            &pools,
            &db.url,
            "UPDATE kinds SET name = ? WHERE id > ?",
            json!([null, 0]),
        )
        .await;
        assert_eq!(updated["affectedRows"], 2);
        assert_eq!(updated["changedRows"], 2);

        // Errors carry MySQL's names and numbers.
        let missing = err(&pools, &db.url, "SELECT * FROM nowhere", json!([])).await;
        assert_eq!(missing.code.as_deref(), Some("ER_NO_SUCH_TABLE"));
        assert_eq!(missing.errno, Some(1146));
        assert_eq!(missing.sql_state.as_deref(), Some("42S02"));
        let syntax = err(&pools, &db.url, "SELEC 1", json!([])).await;
        assert_eq!(syntax.code.as_deref(), Some("ER_PARSE_ERROR"));
        let count = err(&pools, &db.url, "SELECT ?, ?", json!([1])).await;
        assert!(count.message.contains("2 placeholder"), "{}", count.message);
        let refused = err(&pools, &db.url, "START TRANSACTION", json!([])).await;
        assert!(refused.message.contains("not supported"), "{}", refused.message);
        let mut bad_db = url::Url::parse(&db.url).unwrap();
        bad_db.set_path("gatehouse_no_such_database");
        let bad_db = err(&pools, bad_db.as_str(), "SELECT 1", json!([])).await;
        assert_eq!(bad_db.code.as_deref(), Some("ER_BAD_DB_ERROR"));
        assert!(bad_db.fatal);
    })
    .await;
}

/// The script side: `??`, arrays, objects, Dates and Buffers, row objects with `Date`s and
/// `Buffer`s, the npm package's error fields, pools and mysql2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn placeholders_expand_into_bound_values() {
    with_scratch_database(|pools, db| async move {
        ok(&pools, &db.url, CREATE_USERS, json!([])).await;
        let pool = sandbox();
        let config = json!({
            "host": db.host, "port": db.port, "user": db.user, "password": db.password,
            "database": db.database,
        });
        let source = format!(
            r#"function login(email, password, callback) {{
  const mysql = require('mysql');
  const connection = mysql.createConnection({config});
  connection.connect();
  const out = {{}};
  const user = {{ email: email, nickname: "O'Brien ? `x` 🚀", password: password,
    created: new Date(Date.UTC(2021, 2, 4, 5, 6, 7, 123)), balance: 12.5, avatar: Buffer.from('hé') }};
  connection.query('INSERT INTO ?? SET ?', ['users', user], function (err, ok) {{
    if (err) return callback(err);
    out.insert = ok;
    connection.query({{ sql: 'INSERT INTO users (email, nickname) VALUES ?', values: [[['b@x.y', 'B'], ['c@x.y', null]]] }}, function (err, ok) {{
      if (err) return callback(err);
      out.bulk = ok.affectedRows;
      connection.query("SELECT ??, created, balance, avatar, '?' AS q FROM users WHERE email IN (?) -- ?\n ORDER BY id", [['id', 'nickname'], [email, 'c@x.y']], function (err, rows, fields) {{
        if (err) return callback(err);
        out.rows = rows.length;
        out.first = rows[0];
        out.isDate = rows[0].created instanceof Date;
        out.created = rows[0].created.toISOString();
        out.avatar = Buffer.isBuffer(rows[0].avatar) ? rows[0].avatar.toString() : 'not a buffer';
        out.balance = rows[0].balance;
        out.keys = Object.keys(rows[0]);
        out.fields = fields.map(function (f) {{ return f.name; }});
        out.second = rows[1];
        connection.query('SELECT * FROM nowhere', function (err) {{
          out.error = {{ message: err.message, code: err.code, errno: err.errno, sqlState: err.sqlState, isError: err instanceof Error }};
          out.format = mysql.format('SELECT ?? FROM t WHERE a = ? AND b IN (?) AND c = ?', ['x.y', "it's", [1, 'z'], null]);
          out.escape = mysql.escape({{ a: 1, b: 'q"' }});
          const pool = mysql.createPool({config});
          pool.getConnection(function (err, conn) {{
            if (err) return callback(err);
            conn.query('SELECT COUNT(*) AS n FROM users', function (err, rows) {{
              conn.release();
              if (err) return callback(err);
              out.count = rows[0].n;
              require('mysql2/promise').createConnection({config}).then(function (c) {{
                return c.execute('SELECT balance FROM users WHERE email = ?', [email]);
              }}).then(function (result) {{
                out.mysql2 = result[0][0].balance;
                callback(null, out);
              }}, callback);
            }});
          }});
        }});
      }});
    }});
  }});
}}"#
        );
        let r = run(&pool, "login", &source, vec![json!("zoë@exämple.com"), json!("pw")]).await;
        let out = profile(r);
        assert_eq!(out["insert"]["affectedRows"], 1);
        assert_eq!(out["insert"]["insertId"], 1);
        assert_eq!(out["insert"]["protocol41"], true);
        assert_eq!(out["bulk"], 2);
        assert_eq!(out["rows"], 2);
        assert_eq!(out["first"]["nickname"], "O'Brien ? `x` 🚀");
        assert_eq!(out["first"]["q"], "?");
        assert_eq!(out["isDate"], true);
        assert_eq!(out["created"], "2021-03-04T05:06:07.123Z");
        assert_eq!(out["avatar"], "hé");
        // DECIMAL is a number with the npm package's defaults, a string with mysql2's.
        assert_eq!(out["balance"], 12.5);
        assert_eq!(out["mysql2"], "12.5000");
        assert_eq!(
            out["keys"],
            json!(["id", "nickname", "created", "balance", "avatar", "q"])
        );
        assert_eq!(out["fields"], out["keys"]);
        assert_eq!(out["second"]["nickname"], Value::Null);
        assert_eq!(out["second"]["id"], 3);
        assert_eq!(out["count"], 3);
        let error = &out["error"];
        assert_eq!(error["code"], "ER_NO_SUCH_TABLE");
        assert_eq!(error["errno"], 1146);
        assert_eq!(error["sqlState"], "42S02");
        assert_eq!(error["isError"], true);
        assert!(
            error["message"]
                .as_str()
                .unwrap()
                .starts_with("ER_NO_SUCH_TABLE: Table"),
            "{error}"
        );
        assert_eq!(
            out["format"],
            "SELECT `x`.`y` FROM t WHERE a = 'it\\'s' AND b IN (1, 'z') AND c = NULL"
        );
        assert_eq!(out["escape"], "`a` = 1, `b` = 'q\\\"'");
    })
    .await;
}

/// Less common forms: a URL string, streaming events, a custom typeCast, mysql2's execute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn urls_events_and_type_casts() {
    with_scratch_database(|pools, db| async move {
        ok(&pools, &db.url, CREATE_USERS, json!([])).await;
        ok(
            &pools,
            &db.url,
            "INSERT INTO users (email, email_verified, created) VALUES (?, ?, ?), (?, ?, ?)",
            json!(["a@x.y", true, "2020-01-02 03:04:05", "b@x.y", false, "0000-00-00"]),
        )
        .await;
        let pool = sandbox();
        let source = format!(
            r#"function login(email, password, callback) {{
  const mysql = require('mysql');
  const connection = mysql({url});
  const out = {{ events: [] }};
  connection.query('SELECT email, email_verified, created FROM users ORDER BY id')
    .on('fields', function (fields) {{ out.events.push('fields:' + fields.length); }})
    .on('result', function (row) {{ out.events.push(row.email); }})
    .on('end', function () {{
      out.events.push('end');
      connection.query({{ sql: 'SELECT email_verified AS v, created FROM users ORDER BY id', typeCast: function (field, next) {{
        if (field.type === 'TINY' && field.length === 1) return field.string() === '1';
        return next();
      }} }}, function (err, rows) {{
        if (err) return callback(err);
        out.cast = rows.map(function (r) {{ return r.v; }});
        out.zero = rows[1].created;
        out.date = rows[0].created instanceof Date ? rows[0].created.toISOString() : 'no date';
        const c2 = require('mysql2').createConnection({url});
        c2.execute('SELECT ? AS n', [7], function (err, rows) {{
          if (err) return callback(err);
          out.mysql2 = rows[0];
          callback(null, out);
        }});
      }});
    }});
}}"#,
            url = serde_json::to_string(&db.url).unwrap()
        );
        let out = profile(run(&pool, "login", &source, vec![json!("e"), json!("p")]).await);
        assert_eq!(out["events"], json!(["fields:3", "a@x.y", "b@x.y", "end"]));
        assert_eq!(out["cast"], json!([true, false]));
        // A zero date is no Date: the npm package keeps its text.
        assert_eq!(out["zero"], "0000-00-00 00:00:00");
        assert_eq!(out["date"], "2020-01-02T03:04:05.000Z");
        assert_eq!(out["mysql2"]["n"], 7);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hosts_off_the_list_are_refused_and_passwords_stay_out_of_errors() {
    let pool = sandbox();
    let source = "function login(email, password, callback) {
  const mysql = require('mysql');
  const connection = mysql({ host: 'db.example.com', user: 'me', password: 'hunter2-s3cret', database: 'mydb' });
  connection.connect();
  connection.query('SELECT 1', [], function (err) { callback(err || new Error('reached')); });
}";
    let e = callback_error(run(&pool, "login", source, vec![json!("e"), json!("p")]).await);
    assert!(
        e.message.contains("may not connect to db.example.com") && !e.message.contains("hunter2"),
        "{e:?}"
    );
    // A socket file is no way around the list.
    let source = "function login(email, password, callback) {
  try { require('mysql').createConnection({ socketPath: '/run/mysqld/mysqld.sock' }); callback(new Error('accepted')); }
  catch (e) { callback(e); }
}";
    let e = callback_error(run(&pool, "login", source, vec![json!("e"), json!("p")]).await);
    assert!(e.message.contains("socket"), "{e:?}");

    let Some(admin) = admin_url() else {
        return;
    };
    let host = admin.host_str().unwrap_or("127.0.0.1").to_string();
    let port = admin.port().unwrap_or(3306);
    // A wrong password: the server's refusal, without the password.
    let source = format!(
        "function login(email, password, callback) {{
  const connection = require('mysql').createConnection({{ host: '{host}', port: {port}, user: 'gatehouse_nobody', password: 'hunter2-s3cret' }});
  connection.connect(function (err) {{ callback(err || new Error('connected')); }});
}}"
    );
    let e = callback_error(run(&pool, "login", &source, vec![json!("e"), json!("p")]).await);
    assert!(
        e.message
            .starts_with("ER_ACCESS_DENIED_ERROR: Access denied")
            && !e.message.contains("hunter2"),
        "{e:?}"
    );
    let pools = MySqlPools::new();
    let url = format!("mysql://gatehouse_nobody:hunter2-s3cret@{host}:{port}/x");
    let failure = pools.query(&url, "SELECT 1", &[]).await.unwrap_err();
    assert_eq!(failure.code.as_deref(), Some("ER_ACCESS_DENIED_ERROR"));
    assert_eq!(failure.errno, Some(1045));
    assert!(failure.fatal);
    assert!(!format!("{failure:?} {pools:?}").contains("hunter2"));
    // Nothing listens on port 1: refused, as Node names it.
    let failure = pools
        .query("mysql://root:hunter2-s3cret@127.0.0.1:1/x", "SELECT 1", &[])
        .await
        .unwrap_err();
    assert_eq!(failure.code.as_deref(), Some("ECONNREFUSED"), "{failure:?}");
    assert!(!failure.message.contains("hunter2"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_oldest_templates_find_postgres_and_bcrypt_as_globals() {
    let pool = sandbox();
    let r = run(
        &pool,
        "login",
        "function login(email, password, callback) {
  callback(null, { user_id: [typeof postgres, typeof bcrypt, typeof bcrypt.compare, bcrypt === require('bcrypt'), typeof require('mysql'), typeof require('mysql').createConnection].join(',') });
}",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(
        r.outcome,
        Ok(Some(
            json!({"user_id": "function,object,function,true,function,function"})
        ))
    );
}
