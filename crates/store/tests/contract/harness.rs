//! Where each contract runs: a fresh SQLite file always, and a fresh PostgreSQL database
//! when `GATEHOUSE_TEST_DATABASE_URL` names a server (created through that admin URL and
//! dropped afterwards, as the integration suite does), plus the fixtures tests share.

use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::password_policy::StrengthLevel;
use gatehouse_core::user::User;
use gatehouse_store::{ConnectionStore, Db, StoredConnection, TenantStore};
use sqlx::Connection;
use std::future::Future;
use std::io::Write;
use std::path::PathBuf;

/// The tenant every contract writes to.
pub const TENANT: &str = "tenant-a";
/// A second tenant, which must never see the first one's rows.
pub const OTHER: &str = "tenant-b";
/// An instant in epoch milliseconds that tests count from; far from the wall clock, so a
/// store that read the time itself instead of the one passed in would be noticed.
pub const T0: i64 = 1_900_000_000_000;

/// A random lowercase hex string of `bytes` bytes.
pub fn hex(bytes: usize) -> String {
    gatehouse_crypto::random::hex(bytes).expect("randomness")
}

/// A fresh SQLite file in its own directory, removed when the test ends (passed or not).
struct SqliteFile(PathBuf);

impl Drop for SqliteFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// A fresh PostgreSQL database, dropped when the test ends (passed or not).
struct PgDatabase {
    admin_url: String,
    name: String,
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop may run while the test's runtime unwinds; a private one always works.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .ok()?;
            rt.block_on(async {
                let mut c = sqlx::PgConnection::connect(&url).await.ok()?;
                sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                    .execute(&mut c)
                    .await
                    .ok()
            })
        })
        .join();
    }
}

/// Migrates a fresh database and creates both tenants.
async fn prepare(db: &Db) {
    db.migrate().await.expect("migrate");
    let tenants = TenantStore::new(db.clone());
    for t in [TENANT, OTHER] {
        tenants.ensure(t, t, T0).await.expect("tenant");
    }
}

/// Runs a contract on a fresh SQLite file.
pub async fn on_sqlite<F, Fut>(body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let dir = SqliteFile(std::env::temp_dir().join(format!("gatehouse-contract-{}", hex(6))));
    std::fs::create_dir_all(&dir.0).expect("temp dir");
    let db = Db::connect(&format!("sqlite://{}", dir.0.join("store.db").display()))
        .await
        .expect("open SQLite");
    prepare(&db).await;
    body(db.clone()).await;
    db.close().await;
}

/// Runs a contract on a fresh PostgreSQL database, or says loudly that it did not run.
pub async fn on_postgres<F, Fut>(test: &str, body: F)
where
    F: FnOnce(Db) -> Fut,
    Fut: Future<Output = ()>,
{
    let admin_url = match std::env::var("GATEHOUSE_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => {
            // Straight to stderr: the test harness hides what passing tests print, and a
            // skipped run must not look like a PostgreSQL pass.
            let _ = writeln!(
                std::io::stderr(),
                "SKIPPED {test} on PostgreSQL: GATEHOUSE_TEST_DATABASE_URL is not set"
            );
            return;
        }
    };
    let name = format!("gh_contract_{}", hex(6));
    let mut admin = sqlx::PgConnection::connect(&admin_url)
        .await
        .expect("connect to GATEHOUSE_TEST_DATABASE_URL");
    sqlx::query(&format!("CREATE DATABASE \"{name}\""))
        .execute(&mut admin)
        .await
        .expect("create the test database");
    let _ = admin.close().await;
    let guard = PgDatabase {
        admin_url: admin_url.clone(),
        name: name.clone(),
    };
    let base = admin_url.split('?').next().unwrap_or(&admin_url);
    let (server, _) = base.rsplit_once('/').expect("database URL has a path");
    let db = Db::connect(&format!("{server}/{name}"))
        .await
        .expect("open the test database");
    prepare(&db).await;
    body(db.clone()).await;
    db.close().await;
    drop(guard);
}

/// Runs one contract on each database; see [`on_sqlite`] and [`on_postgres`]. Each test
/// becomes a module with a `sqlite` and a `postgres` test, so a failure names both the
/// contract and the database.
macro_rules! contract {
    ($name:ident, |$db:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            async fn run($db: gatehouse_store::Db) $body

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn sqlite() {
                $crate::harness::on_sqlite(run).await
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 4)]
            async fn postgres() {
                $crate::harness::on_postgres(module_path!(), run).await
            }
        }
    };
}
pub(crate) use contract;

/// A database connection `id` named `name` in `tenant`.
pub async fn connection(db: &Db, tenant: &str, id: &str, name: &str) -> StoredConnection {
    let c = StoredConnection {
        id: id.to_string(),
        settings: ConnectionSettings::database(name, StrengthLevel::None),
    };
    ConnectionStore::new(db.clone())
        .insert(tenant, &c, T0)
        .await
        .expect("insert connection");
    c
}

/// A user of `conn` with a random id, created at `created_at`.
pub fn user(conn: &StoredConnection, email: &str, created_at: i64) -> User {
    User::new(
        "auth0",
        &hex(12),
        &conn.id,
        &conn.settings.name,
        email,
        created_at,
    )
}
