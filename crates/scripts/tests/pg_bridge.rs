//! The `pg` bridge against a real PostgreSQL server: parameters encoded for the types the
//! server infers, results decoded as node-postgres returns them.
//!
//! Needs `GATEHOUSE_TEST_DATABASE_URL` (for example `postgres://postgres@127.0.0.1:5432/postgres`,
//! a role allowed to create databases); without it every test returns early. Each test works in
//! a scratch database of its own, dropped at the end.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::future::Future;
use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use gatehouse_scripts::pg::{PgFailure, PgPools};
use serde_json::{Value, json};

fn admin_url() -> Option<String> {
    match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => Some(url),
        _ => {
            eprintln!(
                "GATEHOUSE_TEST_DATABASE_URL is not set: skipping the PostgreSQL bridge test"
            );
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

/// Runs `body` with the URL of a fresh scratch database, then drops the database, even when
/// `body` panics.
async fn with_scratch_database<F, Fut>(body: F)
where
    F: FnOnce(Arc<PgPools>, String) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let Some(admin) = admin_url() else {
        return;
    };
    let pools = Arc::new(PgPools::new());
    let name = format!("gatehouse_pg_bridge_{}", random_suffix());
    pools
        .query(&admin, &format!("CREATE DATABASE {name}"), &[])
        .await
        .unwrap();
    let mut url = url::Url::parse(&admin).unwrap();
    url.set_path(&name);
    let outcome = tokio::spawn(body(Arc::clone(&pools), url.to_string())).await;
    pools
        .query(&admin, &format!("DROP DATABASE {name} WITH (FORCE)"), &[])
        .await
        .unwrap();
    if let Err(error) = outcome {
        std::panic::resume_unwind(error.into_panic());
    }
}

async fn ok(pools: &PgPools, url: &str, sql: &str, params: Value) -> Value {
    let params = params.as_array().cloned().unwrap_or_default();
    match pools.query(url, sql, &params).await {
        Ok(result) => result,
        Err(failure) => panic!("{sql}: {failure:?}"),
    }
}

async fn err(pools: &PgPools, url: &str, sql: &str, params: Value) -> PgFailure {
    let params = params.as_array().cloned().unwrap_or_default();
    match pools.query(url, sql, &params).await {
        Ok(result) => panic!("{sql} succeeded: {result}"),
        Err(failure) => failure,
    }
}

const CREATE_USERS: &str = "CREATE TABLE users (
    id serial PRIMARY KEY,
    email text NOT NULL UNIQUE,
    nickname varchar(100),
    password text,
    created timestamptz,
    big bigint,
    ratio numeric,
    flags bool,
    data jsonb,
    uid uuid,
    born date
)";

const INSERT_USER: &str = "INSERT INTO users (email, nickname, password, created, big, ratio, \
                           flags, data, uid, born) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)";

#[tokio::test]
async fn inserts_and_selects_as_node_postgres_would() {
    with_scratch_database(|pools, url| async move {
        let created = ok(&pools, &url, CREATE_USERS, json!([])).await;
        assert_eq!(created["command"], "CREATE");
        assert_eq!(created["rowCount"], Value::Null);

        // A row with every column set, as a script passes values.
        let inserted = ok(
            &pools,
            &url,
            &format!("{INSERT_USER} RETURNING id"),
            json!([
                "zoe@example.com",
                "Zoë 🚀 Łódź",
                "$2b$10$abcdefghijklmnopqrstuv",
                "2021-03-04T05:06:07.123Z",
                9_007_199_254_740_993_i64,
                "12345.6789",
                true,
                {"roles": ["admin", "ünïcødé"], "n": 1.5, "nested": {"ok": true}},
                "A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11",
                "1990-07-15"
            ]),
        )
        .await;
        assert_eq!(
            inserted,
            json!({
                "command": "INSERT",
                "rowCount": 1,
                "rows": [{"id": 1}],
                "fields": [{"name": "id", "dataTypeID": 23}],
                "dates": []
            })
        );

        // Numbers as strings, negative numerics, milliseconds since the epoch, NULLs; no
        // RETURNING, so the row count comes from the command tag.
        let inserted = ok(
            &pools,
            &url,
            INSERT_USER,
            json!([
                "neg@example.com",
                null,
                null,
                1_614_834_367_123_i64,
                "-42",
                -0.5,
                "false",
                "[1, 2, 3]",
                null,
                null
            ]),
        )
        .await;
        assert_eq!(inserted["command"], "INSERT");
        assert_eq!(inserted["rowCount"], 1);
        assert_eq!(inserted["rows"], json!([]));

        ok(
            &pools,
            &url,
            INSERT_USER,
            json!([
                "edge@example.com",
                "",
                "x",
                "2021-03-04 07:06:07+02:00",
                "-9223372036854775808",
                "-98765432109876543210.000123",
                null,
                null,
                "{a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12}",
                "2000-02-29"
            ]),
        )
        .await;

        // `id = $1` with a number and with a numeric string: the server infers int4 for both.
        let expected_first = json!({
            "id": 1,
            "email": "zoe@example.com",
            "nickname": "Zoë 🚀 Łódź",
            "password": "$2b$10$abcdefghijklmnopqrstuv",
            "created": "2021-03-04T05:06:07.123Z",
            "big": "9007199254740993",
            "ratio": "12345.6789",
            "flags": true,
            "data": {"roles": ["admin", "ünïcødé"], "n": 1.5, "nested": {"ok": true}},
            "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
            "born": "1990-07-15"
        });
        for id in [json!(1), json!("1")] {
            let selected = ok(
                &pools,
                &url,
                "SELECT * FROM users WHERE id = $1",
                json!([id]),
            )
            .await;
            assert_eq!(
                selected,
                json!({
                    "command": "SELECT",
                    "rowCount": 1,
                    "rows": [expected_first],
                    "fields": [
                        {"name": "id", "dataTypeID": 23},
                        {"name": "email", "dataTypeID": 25},
                        {"name": "nickname", "dataTypeID": 1043},
                        {"name": "password", "dataTypeID": 25},
                        {"name": "created", "dataTypeID": 1184},
                        {"name": "big", "dataTypeID": 20},
                        {"name": "ratio", "dataTypeID": 1700},
                        {"name": "flags", "dataTypeID": 16},
                        {"name": "data", "dataTypeID": 3802},
                        {"name": "uid", "dataTypeID": 2950},
                        {"name": "born", "dataTypeID": 1082}
                    ],
                    "dates": ["created", "born"]
                })
            );
        }

        let second = ok(
            &pools,
            &url,
            "SELECT * FROM users WHERE email = $1",
            json!(["neg@example.com"]),
        )
        .await;
        assert_eq!(
            second["rows"],
            json!([{
                "id": 2,
                "email": "neg@example.com",
                "nickname": null,
                "password": null,
                "created": "2021-03-04T05:06:07.123Z",
                "big": "-42",
                "ratio": "-0.5",
                "flags": false,
                "data": [1, 2, 3],
                "uid": null,
                "born": null
            }])
        );

        let third = ok(
            &pools,
            &url,
            "SELECT * FROM users WHERE id = $1",
            json!([3]),
        )
        .await;
        assert_eq!(
            third["rows"],
            json!([{
                "id": 3,
                "email": "edge@example.com",
                "nickname": "",
                "password": "x",
                "created": "2021-03-04T05:06:07.000Z",
                "big": "-9223372036854775808",
                "ratio": "-98765432109876543210.000123",
                "flags": null,
                "data": null,
                "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12",
                "born": "2000-02-29"
            }])
        );

        // The server's own text forms, so an encoder and decoder that were wrong in the same
        // way would still be caught.
        let stored = ok(
            &pools,
            &url,
            "SELECT id, \
                    to_char(created AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS') AS created, \
                    big::text AS big, ratio::text AS ratio, data::text AS data, \
                    uid::text AS uid, born::text AS born, \
                    octet_length(nickname) AS nickname_bytes, \
                    nickname = 'Zoë 🚀 Łódź' AS nickname_matches \
             FROM users ORDER BY id",
            json!([]),
        )
        .await;
        assert_eq!(
            stored["rows"],
            json!([
                {
                    "id": 1,
                    "created": "2021-03-04T05:06:07.123",
                    "big": "9007199254740993",
                    "ratio": "12345.6789",
                    "data": r#"{"n": 1.5, "roles": ["admin", "ünïcødé"], "nested": {"ok": true}}"#,
                    "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11",
                    "born": "1990-07-15",
                    "nickname_bytes": 17,
                    "nickname_matches": true
                },
                {
                    "id": 2,
                    "created": "2021-03-04T05:06:07.123",
                    "big": "-42",
                    "ratio": "-0.5",
                    "data": "[1, 2, 3]",
                    "uid": null,
                    "born": null,
                    "nickname_bytes": null,
                    "nickname_matches": null
                },
                {
                    "id": 3,
                    "created": "2021-03-04T05:06:07.000",
                    "big": "-9223372036854775808",
                    "ratio": "-98765432109876543210.000123",
                    "data": null,
                    "uid": "a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a12",
                    "born": "2000-02-29",
                    "nickname_bytes": 0,
                    "nickname_matches": false
                }
            ])
        );

        let updated = ok(
            &pools,
            &url,
            "UPDATE users SET flags = $1 WHERE id > $2",
            json!([true, 1]),
        )
        .await;
        assert_eq!(updated["command"], "UPDATE");
        assert_eq!(updated["rowCount"], 2);
        assert_eq!(updated["fields"], json!([]));

        let none = ok(
            &pools,
            &url,
            "SELECT email FROM users WHERE email = $1",
            json!(["nobody@example.com"]),
        )
        .await;
        assert_eq!(none["rowCount"], 0);
        assert_eq!(none["rows"], json!([]));
        assert_eq!(none["fields"], json!([{"name": "email", "dataTypeID": 25}]));

        let deleted = ok(
            &pools,
            &url,
            "WITH gone AS (DELETE FROM users WHERE id >= $1 RETURNING email) \
             SELECT email FROM gone ORDER BY email",
            json!(["2"]),
        )
        .await;
        assert_eq!(deleted["command"], "SELECT");
        assert_eq!(deleted["rowCount"], 2);
        assert_eq!(
            deleted["rows"],
            json!([{"email": "edge@example.com"}, {"email": "neg@example.com"}])
        );

        let deleted = ok(&pools, &url, "DELETE FROM users", json!([])).await;
        assert_eq!(deleted["command"], "DELETE");
        assert_eq!(deleted["rowCount"], 1);
    })
    .await;
}

#[tokio::test]
async fn encodes_and_decodes_other_types() {
    with_scratch_database(|pools, url| async move {
        let result = ok(
            &pools,
            &url,
            "SELECT $1::int2 AS small, $2::float8 AS double, $3::float4 AS single, \
                    $4::bytea AS buffer, $4::bytea = '\\x0001ff'::bytea AS buffer_matches, \
                    $5::bytea AS text_bytes, $6::int4[] AS ints, $7::text[] AS texts, \
                    '{}'::int4[] AS empty, ARRAY[[1, 2], [3, 4]] AS grid, \
                    $8::numeric AS small_numeric, 'NaN'::numeric AS nan, \
                    interval '1 year 2 mons 3 days 04:05:06.5' AS span, \
                    time '05:06:07.25' AS clock, '192.168.0.1'::inet AS ip, \
                    '10.0.0.0/8'::cidr AS net, $9::date AS day, \
                    $10::timestamp AS wall, NULL::text AS nothing, $11 AS untyped, \
                    $12::int8 AS big, $13::bool AS yes, $14::json AS doc",
            json!([
                7,
                1.5,
                "2.25",
                {"type": "Buffer", "data": [0, 1, 255]},
                "héllo",
                [1, null, 3],
                ["a", "b,c", "Zoë \"quoted\""],
                "0.000100",
                "2024-02-29",
                "2021-03-04T05:06:07.5+05:00",
                "plain",
                "9007199254740993",
                "yes",
                {"k": [1, "two"]}
            ]),
        )
        .await;
        assert_eq!(
            result["rows"],
            json!([{
                "small": 7,
                "double": 1.5,
                "single": 2.25,
                "buffer": {"type": "Buffer", "data": [0, 1, 255]},
                "buffer_matches": true,
                "text_bytes": {"type": "Buffer", "data": [104, 195, 169, 108, 108, 111]},
                "ints": [1, null, 3],
                "texts": ["a", "b,c", "Zoë \"quoted\""],
                "empty": [],
                "grid": [[1, 2], [3, 4]],
                "small_numeric": "0.000100",
                "nan": "NaN",
                "span": {"years": 1, "months": 2, "days": 3, "hours": 4, "minutes": 5,
                         "seconds": 6, "milliseconds": 500.0},
                "clock": "05:06:07.25",
                "ip": "192.168.0.1",
                "net": "10.0.0.0/8",
                "day": "2024-02-29",
                "wall": "2021-03-04T05:06:07.500Z",
                "nothing": null,
                "untyped": "plain",
                "big": "9007199254740993",
                "yes": true,
                "doc": {"k": [1, "two"]}
            }])
        );
        assert_eq!(result["dates"], json!(["day", "wall"]));

        // User-defined types: an enum and a domain, resolved through the catalog.
        ok(
            &pools,
            &url,
            "CREATE TYPE mood AS ENUM ('sad', 'happy')",
            json!([]),
        )
        .await;
        ok(
            &pools,
            &url,
            "CREATE DOMAIN positive AS int4 CHECK (VALUE > 0)",
            json!([]),
        )
        .await;
        ok(
            &pools,
            &url,
            "CREATE TABLE moods (who text, feeling mood, score positive)",
            json!([]),
        )
        .await;
        let inserted = ok(
            &pools,
            &url,
            "INSERT INTO moods VALUES ($1, $2, $3), ($4, $5, $6) RETURNING feeling, score",
            json!(["ann", "happy", "5", "bob", "sad", 2]),
        )
        .await;
        assert_eq!(
            inserted["rows"],
            json!([{"feeling": "happy", "score": 5}, {"feeling": "sad", "score": 2}])
        );
        assert_eq!(inserted["rowCount"], 2);
        let failure = err(
            &pools,
            &url,
            "INSERT INTO moods VALUES ($1, $2, $3)",
            json!(["cy", "angry", 1]),
        )
        .await;
        assert_eq!(failure.code.as_deref(), Some("22P02"), "{failure:?}");
        assert!(failure.message.contains("angry"), "{failure:?}");
        let failure = err(
            &pools,
            &url,
            "INSERT INTO moods VALUES ($1, $2, $3)",
            json!(["cy", "sad", -1]),
        )
        .await;
        assert_eq!(failure.code.as_deref(), Some("23514"), "{failure:?}");
    })
    .await;
}

#[tokio::test]
async fn reports_errors_instead_of_panicking() {
    with_scratch_database(|pools, url| async move {
        let failure = err(&pools, &url, "SELECT * FROM nope WHERE id = $1", json!([1])).await;
        assert_eq!(failure.code.as_deref(), Some("42P01"));
        assert_eq!(failure.message, "relation \"nope\" does not exist");

        ok(&pools, &url, CREATE_USERS, json!([])).await;

        let failure = err(
            &pools,
            &url,
            "SELECT * FROM users WHERE id = $1 AND email = $2",
            json!([1]),
        )
        .await;
        assert_eq!(
            failure.message,
            "bind message supplies 1 parameters, but prepared statement \"\" requires 2"
        );
        let failure = err(&pools, &url, "SELECT 1", json!([1])).await;
        assert!(failure.message.contains("requires 0"), "{failure:?}");

        let failure = err(
            &pools,
            &url,
            "SELECT * FROM users WHERE id = $1",
            json!(["abc"]),
        )
        .await;
        assert!(failure.message.contains("$1"), "{failure:?}");
        assert!(failure.message.contains("int4"), "{failure:?}");
        let failure = err(
            &pools,
            &url,
            "SELECT * FROM users WHERE email = $1 AND uid = $2",
            json!(["a@example.com", "not-a-uuid"]),
        )
        .await;
        assert!(failure.message.contains("$2"), "{failure:?}");
        assert!(failure.message.contains("uuid"), "{failure:?}");
        let failure = err(
            &pools,
            &url,
            "SELECT * FROM users WHERE created < $1",
            json!(["last tuesday"]),
        )
        .await;
        assert!(failure.message.contains("$1"), "{failure:?}");
        assert!(failure.message.contains("timestamptz"), "{failure:?}");

        ok(
            &pools,
            &url,
            "INSERT INTO users (email) VALUES ($1)",
            json!(["dup@example.com"]),
        )
        .await;
        let failure = err(
            &pools,
            &url,
            "INSERT INTO users (email) VALUES ($1)",
            json!(["dup@example.com"]),
        )
        .await;
        assert_eq!(failure.code.as_deref(), Some("23505"));
        assert!(failure.message.contains("users_email_key"), "{failure:?}");

        let failure = err(&pools, &url, "SELEC 1", json!([])).await;
        assert_eq!(failure.code.as_deref(), Some("42601"));

        let failure = err(&pools, &url, "BEGIN", json!([])).await;
        assert!(failure.message.contains("transaction"), "{failure:?}");

        // The pool still works after all of that.
        let count = ok(&pools, &url, "SELECT count(*) AS n FROM users", json!([])).await;
        assert_eq!(count["rows"], json!([{"n": "1"}]));
    })
    .await;
}

#[tokio::test]
async fn connection_failures_never_show_the_password() {
    let Some(admin) = admin_url() else {
        return;
    };
    let pools = PgPools::new();
    let secret = "Sup3rSecretPassw0rd";

    let unparsable = format!("postgres://gatehouse:{secret}@127.0.0.1:notaport/db");
    let failure = err(&pools, &unparsable, "SELECT 1", json!([])).await;
    assert!(failure.message.contains("connection string"), "{failure:?}");
    assert!(!failure.message.contains(secret), "{failure:?}");

    let mut missing = url::Url::parse(&admin).unwrap();
    missing.set_password(Some(secret)).unwrap();
    missing.set_path("gatehouse_no_such_database");
    let failure = err(&pools, missing.as_str(), "SELECT 1", json!([])).await;
    assert_eq!(failure.code.as_deref(), Some("3D000"), "{failure:?}");
    assert!(!failure.message.contains(secret), "{failure:?}");

    // Nothing listens on port 1: the pool retries until its acquire timeout, then says why.
    let refused = format!("postgres://gatehouse:{secret}@127.0.0.1:1/db");
    let failure = err(&pools, &refused, "SELECT 1", json!([])).await;
    assert!(failure.message.contains("127.0.0.1:1"), "{failure:?}");
    assert!(
        failure.message.to_lowercase().contains("refused"),
        "{failure:?}"
    );
    assert!(!failure.message.contains(secret), "{failure:?}");
}
