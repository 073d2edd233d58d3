//! The token path's configuration cache and the tenant log's batched writer: a change made
//! through one server applies at the next request of another server on the same database,
//! and log events still queued when a server stops are in the table after it restarts.

use crate::common;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{RawRequest, TestServer, release_together};
use reqwest::Method;
use serde_json::{Value, json};
use sqlx::Connection;

fn claims(token: &str) -> Value {
    let part = token.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

trait OAuthAnswer {
    fn assert_oauth_error(&self, status: u16, error: &str);
}

impl OAuthAnswer for common::Response {
    /// The token endpoint answers OAuth's `{error, error_description}`.
    fn assert_oauth_error(&self, status: u16, error: &str) {
        assert_eq!(self.status.as_u16(), status, "{}", self.body);
        assert_eq!(self.body["error"], error, "{}", self.body);
    }
}

/// A second server on the first one's database (and secret key), as a second node.
async fn second_node(a: &TestServer) -> TestServer {
    let (url, key) = (a.cfg.database_url.clone(), a.cfg.secret_key.clone());
    TestServer::start_with(move |c| {
        c.database_url = url;
        c.secret_key = key;
    })
    .await
}

fn exchange(id: &str, secret: &str, audience: &str) -> Value {
    json!({"grant_type": "client_credentials", "client_id": id, "client_secret": secret, "audience": audience})
}

async fn token_for(s: &TestServer, id: &str, secret: &str, audience: &str) -> common::Response {
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(exchange(id, secret, audience)),
    )
    .await
}

/// (lifetime, scope) of a token the server at `s` issues now.
async fn issued(s: &TestServer, id: &str, secret: &str, audience: &str) -> (i64, String) {
    let r = token_for(s, id, secret, audience).await;
    let c = claims(r.assert_status(200)["access_token"].as_str().unwrap());
    (
        c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(),
        c["scope"].as_str().unwrap().to_string(),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_through_one_server_applies_at_the_next_request_of_another() {
    let mut a = TestServer::start().await;
    let mut b = second_node(&a).await;
    let suffix = gatehouse_crypto::random::hex(4).unwrap();
    let api = format!("https://commandes-{suffix}.exemple.fr/api");
    let rs = a
        .post(
            "/api/v2/resource-servers",
            json!({"identifier": api, "name": "Commandes — entrepôt", "token_lifetime": 3600,
                   "scopes": [{"value": "read:commandes"}, {"value": "write:commandes"}, {"value": "annuler:commandes"}]}),
        )
        .await;
    let rs_id = rs.assert_status(201)["id"].as_str().unwrap().to_string();
    let c = a
        .post(
            "/api/v2/clients",
            json!({"name": "Entrepôt Süd", "app_type": "non_interactive", "grant_types": ["client_credentials"]}),
        )
        .await;
    let c = c.assert_status(201).clone();
    let cid = c["client_id"].as_str().unwrap().to_string();
    let secret = c["client_secret"].as_str().unwrap().to_string();
    let g = a
        .post(
            "/api/v2/client-grants",
            json!({"client_id": cid, "audience": api, "scope": ["read:commandes"]}),
        )
        .await;
    let grant_id = g.assert_status(201)["id"].as_str().unwrap().to_string();

    // Both servers have issued (and so hold the application, API and grant in memory).
    assert_eq!(
        issued(&b, &cid, &secret, &api).await,
        (3600, "read:commandes".to_string())
    );
    assert_eq!(
        issued(&a, &cid, &secret, &api).await,
        (3600, "read:commandes".to_string())
    );

    // The secret rotated through A: B refuses the old one and takes the new one at once.
    let rotated = a
        .post(&format!("/api/v2/clients/{cid}/rotate-secret"), json!({}))
        .await;
    let new_secret = rotated.assert_status(200)["client_secret"]
        .as_str()
        .unwrap()
        .to_string();
    token_for(&b, &cid, &secret, &api)
        .await
        .assert_oauth_error(401, "access_denied");
    assert_eq!(issued(&b, &cid, &new_secret, &api).await.0, 3600);

    // The API's token lifetime changed through A.
    a.patch(
        &format!("/api/v2/resource-servers/{rs_id}"),
        json!({"token_lifetime": 600}),
    )
    .await
    .assert_status(200);
    assert_eq!(issued(&b, &cid, &new_secret, &api).await.0, 600);

    // The grant's scopes changed through A.
    a.patch(
        &format!("/api/v2/client-grants/{grant_id}"),
        json!({"scope": ["read:commandes", "annuler:commandes"]}),
    )
    .await
    .assert_status(200);
    assert_eq!(
        issued(&b, &cid, &new_secret, &api).await,
        (600, "read:commandes annuler:commandes".to_string())
    );

    // And the other way: the grant removed through B, A refuses at once.
    b.delete(&format!("/api/v2/client-grants/{grant_id}"))
        .await
        .assert_status(204);
    token_for(&a, &cid, &new_secret, &api)
        .await
        .assert_oauth_error(403, "access_denied");
    // An application deleted through B cannot get tokens from A.
    b.delete(&format!("/api/v2/clients/{cid}"))
        .await
        .assert_status(204);
    token_for(&a, &cid, &new_secret, &a.audience())
        .await
        .assert_oauth_error(401, "access_denied");
}

/// Holds back every write to the `logs` table from another connection, as a slow or
/// locked database does, until released.
enum LogTableLock {
    Sqlite(sqlx::SqliteConnection),
    Postgres(sqlx::PgConnection),
}

impl LogTableLock {
    async fn take(url: &str) -> Self {
        if url.starts_with("postgres") {
            let mut c = sqlx::PgConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN").execute(&mut c).await.unwrap();
            sqlx::query("LOCK TABLE logs IN EXCLUSIVE MODE")
                .execute(&mut c)
                .await
                .unwrap();
            Self::Postgres(c)
        } else {
            let mut c = sqlx::SqliteConnection::connect(url).await.unwrap();
            sqlx::query("BEGIN IMMEDIATE")
                .execute(&mut c)
                .await
                .unwrap();
            Self::Sqlite(c)
        }
    }

    /// Counts rows of `logs` (the test's own condition) as this connection sees them.
    async fn count(&mut self, condition: &str) -> i64 {
        let sql = format!("SELECT COUNT(*) FROM logs WHERE {condition}");
        match self {
            Self::Postgres(c) => sqlx::query_scalar(&sql).fetch_one(c).await.unwrap(),
            Self::Sqlite(c) => sqlx::query_scalar(&sql).fetch_one(c).await.unwrap(),
        }
    }

    async fn release(self) {
        match self {
            Self::Postgres(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
            }
            Self::Sqlite(mut c) => {
                sqlx::query("COMMIT").execute(&mut c).await.unwrap();
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn log_events_queued_at_stop_are_in_the_table_after_restart() {
    let mut s = TestServer::start().await;
    let mgmt = s.audience();
    // Reading the log waits for what is queued, so the counts below start from a written log.
    s.get("/api/v2/logs?per_page=1").await.assert_status(200);
    let exchanges = "type IN ('seccft', 'feccft')";
    let before = s.count_rows(&format!("logs WHERE {exchanges}")).await;
    let refusals_before = s.count_rows("logs WHERE type = 'feccft'").await;

    let mut lock = LogTableLock::take(&s.cfg.database_url).await;
    // Exchanges released together while the log cannot be written: every one is answered
    // (the token path does not wait for its log row), half with a wrong secret.
    let requests = (0..48)
        .map(|i| {
            let secret = if i % 2 == 0 {
                common::CLIENT_SECRET.to_string()
            } else {
                format!("falsch-{i}-ß")
            };
            RawRequest::post_json("/oauth/token", &exchange(common::CLIENT_ID, &secret, &mgmt))
        })
        .collect();
    let answers = release_together(&s.url, requests).await;
    let ok = answers.iter().filter(|(status, _)| *status == 200).count();
    let refused = answers.iter().filter(|(status, _)| *status == 401).count();
    assert_eq!((ok, refused), (24, 24), "{answers:?}");
    assert_eq!(lock.count(exchanges).await, before, "nothing written yet");

    // The server stops while its 48 events wait; the table frees up a moment later.
    let release = async {
        tokio::time::sleep(std::time::Duration::from_millis(700)).await;
        lock.release().await;
    };
    tokio::join!(s.restart(), release);

    assert_eq!(
        s.count_rows(&format!("logs WHERE {exchanges}")).await,
        before + 48
    );
    assert_eq!(
        s.count_rows("logs WHERE type = 'feccft'").await,
        refusals_before + 24
    );
}
