//! Opening the database named by `GATEHOUSE_DATABASE_URL` and migrating it.

use crate::BeginWrite;
use crate::StoreError;
use serde_json::{Map, Value};
use sqlx::postgres::{PgConnectOptions, PgPoolOptions};
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqlitePoolOptions, SqliteSynchronous};
use sqlx::types::Json;
use sqlx::{ConnectOptions, Connection, PgPool, SqlitePool};
use std::str::FromStr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// A connection pool to one of the supported databases.
#[derive(Clone, Debug)]
pub enum Db {
    Sqlite(SqlitePool),
    Postgres(PgPool),
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Dialect {
    Sqlite,
    Postgres,
}

struct Migration {
    version: i64,
    name: &'static str,
    sqlite: &'static str,
    postgres: &'static str,
}

/// Migrations in order; each runs once, in a transaction, recorded in `schema_migrations`.
const MIGRATIONS: &[Migration] = &[
    Migration {
        version: 1,
        name: "foundation",
        sqlite: include_str!("../migrations/sqlite/0001_foundation.sql"),
        postgres: include_str!("../migrations/postgres/0001_foundation.sql"),
    },
    Migration {
        version: 2,
        name: "search",
        sqlite: include_str!("../migrations/sqlite/0002_search.sql"),
        postgres: include_str!("../migrations/postgres/0002_search.sql"),
    },
    Migration {
        version: 3,
        name: "logs",
        sqlite: include_str!("../migrations/sqlite/0003_logs.sql"),
        postgres: include_str!("../migrations/postgres/0003_logs.sql"),
    },
    Migration {
        version: 4,
        name: "login_failures",
        sqlite: include_str!("../migrations/sqlite/0004_login_failures.sql"),
        postgres: include_str!("../migrations/postgres/0004_login_failures.sql"),
    },
    Migration {
        version: 5,
        name: "refresh_tokens",
        sqlite: include_str!("../migrations/sqlite/0005_refresh_tokens.sql"),
        postgres: include_str!("../migrations/postgres/0005_refresh_tokens.sql"),
    },
    Migration {
        version: 6,
        name: "browser_sessions",
        sqlite: include_str!("../migrations/sqlite/0006_browser_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0006_browser_sessions.sql"),
    },
    Migration {
        version: 7,
        name: "outbox",
        sqlite: include_str!("../migrations/sqlite/0007_outbox.sql"),
        postgres: include_str!("../migrations/postgres/0007_outbox.sql"),
    },
    Migration {
        version: 8,
        name: "jobs",
        sqlite: include_str!("../migrations/sqlite/0008_jobs.sql"),
        postgres: include_str!("../migrations/postgres/0008_jobs.sql"),
    },
    Migration {
        version: 9,
        name: "hardening",
        sqlite: include_str!("../migrations/sqlite/0009_hardening.sql"),
        postgres: include_str!("../migrations/postgres/0009_hardening.sql"),
    },
    Migration {
        version: 10,
        name: "upstream",
        sqlite: include_str!("../migrations/sqlite/0010_upstream.sql"),
        postgres: include_str!("../migrations/postgres/0010_upstream.sql"),
    },
    Migration {
        version: 11,
        name: "authorization",
        sqlite: include_str!("../migrations/sqlite/0011_authorization.sql"),
        postgres: include_str!("../migrations/postgres/0011_authorization.sql"),
    },
    Migration {
        version: 12,
        name: "impersonation",
        sqlite: include_str!("../migrations/sqlite/0012_impersonation.sql"),
        postgres: include_str!("../migrations/postgres/0012_impersonation.sql"),
    },
    Migration {
        version: 13,
        name: "gdpr",
        sqlite: include_str!("../migrations/sqlite/0013_gdpr.sql"),
        postgres: include_str!("../migrations/postgres/0013_gdpr.sql"),
    },
    Migration {
        version: 14,
        name: "config_versions",
        sqlite: include_str!("../migrations/sqlite/0014_config_versions.sql"),
        postgres: include_str!("../migrations/postgres/0014_config_versions.sql"),
    },
    Migration {
        version: 15,
        name: "search_probes",
        sqlite: include_str!("../migrations/sqlite/0015_search_probes.sql"),
        postgres: include_str!("../migrations/postgres/0015_search_probes.sql"),
    },
    Migration {
        version: 16,
        name: "signing_key_rotation",
        sqlite: include_str!("../migrations/sqlite/0016_signing_key_rotation.sql"),
        postgres: include_str!("../migrations/postgres/0016_signing_key_rotation.sql"),
    },
    Migration {
        version: 17,
        name: "log_activity",
        sqlite: include_str!("../migrations/sqlite/0017_log_activity.sql"),
        postgres: include_str!("../migrations/postgres/0017_log_activity.sql"),
    },
    Migration {
        version: 18,
        name: "search_in_page_order",
        sqlite: include_str!("../migrations/sqlite/0018_search_in_page_order.sql"),
        postgres: include_str!("../migrations/postgres/0018_search_in_page_order.sql"),
    },
    Migration {
        version: 19,
        name: "actions_and_rules",
        sqlite: include_str!("../migrations/sqlite/0019_actions_and_rules.sql"),
        postgres: include_str!("../migrations/postgres/0019_actions_and_rules.sql"),
    },
    Migration {
        version: 20,
        name: "federated_sessions",
        sqlite: include_str!("../migrations/sqlite/0020_federated_sessions.sql"),
        postgres: include_str!("../migrations/postgres/0020_federated_sessions.sql"),
    },
];

/// Connections of the pool: open (idle or in use), idle, and the most it opens.
#[derive(Clone, Copy, Debug)]
pub struct PoolUse {
    pub size: u32,
    pub idle: u32,
    pub max: u32,
}

/// A JSON object column.
type Document = Json<Map<String, Value>>;

/// The migration after which existing users' metadata must be indexed.
const SEARCH_MIGRATION: i64 = 2;
/// The migration from which connections' `enabled_clients` are enforced: connections that
/// listed none (the field was stored but ignored before) get every existing application, so
/// an upgrade changes no login.
const ENABLED_CLIENTS_MIGRATION: i64 = 9;

/// How long a request waits for a pool connection by default: when the database is down, a
/// request answers 503 after this instead of holding its client for longer.
pub const DEFAULT_ACQUIRE_TIMEOUT: Duration = Duration::from_secs(3);

/// A PostgreSQL connection idle at least this long is pinged before it is used again.
const PING_WHEN_IDLE_FOR: Duration = Duration::from_secs(1);
/// For this long after a statement failed because its connection broke, every PostgreSQL
/// connection is pinged before use: the others may have been ended by the same restart.
const PING_AFTER_FAILURE_FOR: Duration = Duration::from_secs(10);

/// When this process last saw a connection break: milliseconds on [`process_clock`] plus one
/// (0: never).
static CONNECTION_BROKE_AT: AtomicU64 = AtomicU64::new(0);

/// Time since this process first asked; only differences of it are used.
fn process_clock() -> Duration {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed()
}

/// Notes that a statement failed because its connection broke (the server ended it, the
/// network dropped it), so that connections are pinged before use for a while.
pub(crate) fn note_broken_connection() {
    let at = u64::try_from(process_clock().as_millis()).unwrap_or(u64::MAX - 1);
    CONNECTION_BROKE_AT.store(at.saturating_add(1), Ordering::Relaxed);
}

/// Whether a PostgreSQL connection is pinged before it is handed out. sqlx's default pings
/// every time (a round trip before every statement: 4-11 % of a refresh exchange's rate). A
/// connection was pinged when it was given back, so it is pinged again only after sitting
/// idle, or while connections have been breaking (a restart of the server ends them all at
/// once). The trade: when every connection is lost without a sign, the statements that take
/// one before the first failure is seen fail (one, when they come one after another).
fn must_ping(idle_for: Duration, since_broken: Option<Duration>) -> bool {
    idle_for >= PING_WHEN_IDLE_FOR || since_broken.is_some_and(|d| d <= PING_AFTER_FAILURE_FOR)
}

fn since_broken_connection() -> Option<Duration> {
    match CONNECTION_BROKE_AT.load(Ordering::Relaxed) {
        0 => None,
        at => Some(process_clock().saturating_sub(Duration::from_millis(at - 1))),
    }
}

/// Creates an SQLite database file readable by its owner only (0600) when it does not exist
/// yet; SQLite gives its `-wal` and `-shm` files the database file's mode.
fn create_private_file(path: &std::path::Path) -> Result<(), StoreError> {
    if path.as_os_str().is_empty() || path.exists() {
        return Ok(());
    }
    let mut open = std::fs::OpenOptions::new();
    open.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        open.mode(0o600);
    }
    match open.open(path) {
        Ok(_) => Ok(()),
        // Another process created it first.
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(StoreError::File(e)),
    }
}

impl Db {
    /// Opens `sqlite://path` (created if missing, mode 0600, WAL mode) or `postgres://...`.
    pub async fn connect(url: &str) -> Result<Self, StoreError> {
        Self::connect_with(url, DEFAULT_ACQUIRE_TIMEOUT).await
    }

    /// [`Db::connect`] with the longest wait for a pool connection.
    pub async fn connect_with(url: &str, acquire_timeout: Duration) -> Result<Self, StoreError> {
        if url.starts_with("sqlite:") {
            let opts = SqliteConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(redact(url)))?;
            let in_memory = url.contains(":memory:") || url.contains("mode=memory");
            if !in_memory {
                create_private_file(opts.get_filename())?;
            }
            let opts = opts
                .create_if_missing(true)
                .synchronous(SqliteSynchronous::Normal)
                .foreign_keys(true)
                .busy_timeout(Duration::from_secs(10));
            // WAL is a property of the file: set it once, on a connection of its own, before
            // the pool exists. Asked again by every pool connection opened later, the switch
            // may need a lock the busy timeout does not wait for (sqlx's own warning); CI once
            // saw a 503 "database is locked" within 1 ms on a test's first request.
            let opts = if in_memory {
                opts.journal_mode(SqliteJournalMode::Wal)
            } else {
                let first = opts
                    .clone()
                    .journal_mode(SqliteJournalMode::Wal)
                    .connect()
                    .await?;
                first.close().await?;
                opts
            };
            // An embedded connection cannot go stale: no ping before each use (sqlx's default
            // is a round trip to the connection's worker thread every time one is taken).
            let pool = SqlitePoolOptions::new()
                .max_connections(8)
                .test_before_acquire(false)
                .acquire_timeout(acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Db::Sqlite(pool))
        } else if url.starts_with("postgres:") || url.starts_with("postgresql:") {
            let opts = PgConnectOptions::from_str(url)
                .map_err(|_| StoreError::UnsupportedUrl(redact(url)))?
                // Search selectivity depends on the values (a customer id matches one user, a
                // plan a quarter of them). Generic plans of cached statements pick one shape
                // for all values and turned 20 ms searches into 2 s ones: plan with the values.
                // Starting parallel workers costs 10-20 ms, more than a whole page of search
                // results: keep parallel plans for big scans (counts) only. JIT compiling a
                // plan costs tens of milliseconds too, and a search walking a page's worth of
                // users is estimated dear enough to trigger it: no JIT.
                .options([("parallel_setup_cost", "10000"), ("jit", "off")]);
            let pool = PgPoolOptions::new()
                .max_connections(32)
                .test_before_acquire(false)
                .before_acquire(|conn, meta| {
                    Box::pin(async move {
                        if must_ping(meta.idle_for, since_broken_connection())
                            && let Err(e) = conn.ping().await
                        {
                            // sqlx replaces the connection without telling us: the others
                            // may be gone too.
                            note_broken_connection();
                            return Err(e);
                        }
                        Ok(true)
                    })
                })
                .acquire_timeout(acquire_timeout)
                .connect_with(opts)
                .await?;
            Ok(Db::Postgres(pool))
        } else {
            Err(StoreError::UnsupportedUrl(redact(url)))
        }
    }

    pub fn dialect(&self) -> Dialect {
        match self {
            Db::Sqlite(_) => Dialect::Sqlite,
            Db::Postgres(_) => Dialect::Postgres,
        }
    }

    /// Applies pending migrations. Safe to call at every start, from several nodes: on
    /// PostgreSQL an advisory lock serialises them.
    pub async fn migrate(&self) -> Result<(), StoreError> {
        crate::on_pool!(self, pool => {
            let mut tx = pool.begin_write().await?;
            if self.dialect() == Dialect::Postgres {
                sqlx::query("SELECT pg_advisory_xact_lock(7261013)").execute(&mut *tx).await?;
            }
            sqlx::raw_sql(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version BIGINT PRIMARY KEY, name TEXT NOT NULL, applied_at BIGINT NOT NULL)",
            )
            .execute(&mut *tx)
            .await?;
            let applied: Vec<i64> = sqlx::query_scalar("SELECT version FROM schema_migrations")
                .fetch_all(&mut *tx)
                .await?;
            let mut index_metadata = false;
            for m in MIGRATIONS.iter().filter(|m| !applied.contains(&m.version)) {
                let sql = match self.dialect() {
                    Dialect::Sqlite => m.sqlite,
                    Dialect::Postgres => m.postgres,
                };
                tracing::info!(version = m.version, name = m.name, "applying migration");
                sqlx::raw_sql(sql).execute(&mut *tx).await?;
                sqlx::query("INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)")
                    .bind(m.version)
                    .bind(m.name)
                    .bind(now_millis())
                    .execute(&mut *tx)
                    .await?;
                if m.version == ENABLED_CLIENTS_MIGRATION {
                    let clients: Vec<(String, String)> =
                        sqlx::query_as("SELECT tenant_id, client_id FROM clients ORDER BY created_at, client_id")
                            .fetch_all(&mut *tx)
                            .await?;
                    let connections: Vec<(String, String, Document)> =
                        sqlx::query_as("SELECT tenant_id, id, settings FROM connections")
                            .fetch_all(&mut *tx)
                            .await?;
                    for (tenant, id, mut settings) in connections {
                        let listed = settings.0.get("enabled_clients").and_then(Value::as_array).is_some_and(|a| !a.is_empty());
                        if listed {
                            continue;
                        }
                        let all: Vec<Value> = clients.iter().filter(|(t, _)| *t == tenant).map(|(_, c)| Value::String(c.clone())).collect();
                        settings.0.insert("enabled_clients".into(), Value::Array(all));
                        sqlx::query("UPDATE connections SET settings = $3 WHERE tenant_id = $1 AND id = $2")
                            .bind(&tenant)
                            .bind(&id)
                            .bind(&settings)
                            .execute(&mut *tx)
                            .await?;
                    }
                }
                index_metadata |= m.version == SEARCH_MIGRATION;
            }
            if index_metadata {
                // Index the metadata of users created before search existed, once the index
                // table has all its columns (later migrations add some).
                let users: Vec<(String, String, Document, Document)> =
                    sqlx::query_as("SELECT tenant_id, user_id, user_metadata, app_metadata FROM users")
                        .fetch_all(&mut *tx)
                        .await?;
                for (tenant, user_id, um, am) in &users {
                    crate::users::replace_metadata_index!(tx, tenant, user_id, &um.0, &am.0);
                }
            }
            tx.commit().await?;
            if self.dialect() == Dialect::Sqlite {
                // Bounded, approximate statistics for tables that lack them (SQLite's advice for
                // long-lived connections); cheap when they are current.
                sqlx::raw_sql("PRAGMA analysis_limit=1000; PRAGMA optimize=0x10002;").execute(pool).await?;
            }
            Ok(())
        })
    }

    /// Refreshes the planner's statistics. SQLite's planner has none until asked, and
    /// without them it prefers walking the created_at index for ORDER BY over a selective
    /// search index; run after bulk loads. PostgreSQL's autovacuum also does this in time.
    pub async fn analyze(&self) -> Result<(), StoreError> {
        crate::on_pool!(self, pool => {
            // VACUUM also sets PostgreSQL's visibility map, which index-only scans need.
            let sql = if self.dialect() == Dialect::Postgres { "VACUUM ANALYZE" } else { "ANALYZE" };
            sqlx::raw_sql(sql).execute(pool).await?;
            Ok(())
        })
    }

    /// The pool's connections now, for `/metrics`.
    pub fn pool_use(&self) -> PoolUse {
        crate::on_pool!(self, pool => PoolUse {
            size: pool.size(),
            idle: u32::try_from(pool.num_idle()).unwrap_or(u32::MAX),
            max: pool.options().get_max_connections(),
        })
    }

    /// A cheap round trip, for `/readyz`.
    pub async fn ping(&self) -> Result<(), StoreError> {
        crate::on_pool!(self, pool => {
            sqlx::query("SELECT 1").execute(pool).await?;
            Ok(())
        })
    }

    pub async fn close(&self) {
        crate::on_pool!(self, pool => pool.close().await)
    }
}

/// Current time in epoch milliseconds.
pub fn now_millis() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

/// A database URL with any password removed, for error messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let creds = &url[s + 3..at];
            match creds.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..s + 3], &url[at..]),
                None => url.to_string(),
            }
        }
        _ => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn redacts_passwords() {
        assert_eq!(
            super::redact("postgres://u:pw@h/db"),
            "postgres://u:***@h/db"
        );
        assert_eq!(super::redact("sqlite://x.db"), "sqlite://x.db");
    }

    #[test]
    fn pings_a_connection_only_after_it_sat_idle_or_while_connections_break() {
        use super::must_ping;
        use std::time::Duration;
        let ms = Duration::from_millis;
        // In use all the time, nothing broken: no round trip before the statement.
        assert!(!must_ping(ms(0), None));
        assert!(!must_ping(ms(999), None));
        // Idle for a second or more: the server may have ended it meanwhile.
        assert!(must_ping(ms(1000), None));
        assert!(must_ping(ms(60_000), Some(ms(3_600_000))));
        // A connection broke a moment ago: the others may be gone too.
        assert!(must_ping(ms(0), Some(ms(0))));
        assert!(must_ping(ms(5), Some(ms(10_000))));
        // Long enough after the last break, busy connections go without again.
        assert!(!must_ping(ms(5), Some(ms(10_001))));
    }
}
