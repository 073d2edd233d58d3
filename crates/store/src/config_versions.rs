//! Reading the tenant's configuration version (migration 0014) on every token request, as
//! cheaply as each database allows.
//!
//! The version is what lets every server cache applications, grants and APIs and still see
//! a change made through any other server at its next request, so it is read once per
//! request and must stay a read of the committed row, never a guess. On a SQLite file the
//! read through sqlx costs two thread hand-offs (its worker thread per connection) and
//! their context switches: about a sixth of a token request's CPU on one core. Read here on
//! a plain SQLite connection on the caller's thread instead, it is a primary-key lookup of
//! a few microseconds; a write-ahead-log reader never waits for writers, so the caller is
//! not held up by them.
//!
//! PostgreSQL (and an in-memory SQLite database) read through the pool, a round trip that
//! cost a token request about a quarter of its CPU on one core. Requests in flight together
//! share one read there: a request takes the result of a read that *started after it
//! arrived* (so the read saw every commit made before the request), and at most one read is
//! under way at a time; under load one read answers every request that arrived while the
//! previous one was out.

use crate::{Db, StoreError, on_pool};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Connections kept for the next reads (reads overlap at most once per runtime thread, one
/// a core); more are opened while more overlap and closed after.
const IDLE_CONNECTIONS: usize = 16;
/// The longest a direct read waits for a lock, holding up the runtime thread it runs on; a
/// read that would wait longer (recovery after a crash, another process's exclusive lock)
/// goes through the pool instead.
const BUSY_TIMEOUT: Duration = Duration::from_millis(5);
const READ_VERSION: &str = "SELECT version FROM config_versions WHERE tenant_id = ?1";

/// Reads the configuration version of one tenant: [`ConfigVersions::read`].
pub struct ConfigVersions {
    db: Db,
    tenant: String,
    /// The database file, when the database is a SQLite file (not in memory).
    sqlite_file: Option<PathBuf>,
    idle: Mutex<Vec<rusqlite::Connection>>,
    shared: SharedReads,
}

/// The pool's reads, shared by the requests that wait for them.
#[derive(Default)]
struct SharedReads {
    /// Reads started so far; a read's number is this count once it started.
    started: AtomicU64,
    /// The newest finished read: its number and the version it found, or why it failed.
    latest: Mutex<Option<(u64, SharedResult)>>,
    /// Held by the one read under way.
    reading: tokio::sync::Mutex<()>,
}

type SharedResult = Result<i64, Arc<StoreError>>;

impl SharedReads {
    /// The number of the newest finished read (0 before the first).
    fn finished(&self) -> u64 {
        self.latest
            .lock()
            .ok()
            .and_then(|l| l.as_ref().map(|(n, _)| *n))
            .unwrap_or(0)
    }

    /// What the newest finished read gives a request that arrived when `ticket` reads had
    /// started and the newest finished one was `finished`: its version if it started after
    /// the request arrived; its failure if it ended after (a read under way when the
    /// database went away answers everyone waiting for it, within the pool's timeout,
    /// instead of each waiter trying again in turn).
    fn after(&self, ticket: u64, finished: u64) -> Option<SharedResult> {
        let latest = self.latest.lock().ok()?;
        let (n, found) = latest.as_ref()?;
        (*n > ticket || (found.is_err() && *n > finished)).then(|| found.clone())
    }
}

impl ConfigVersions {
    pub fn new(db: Db, tenant: &str) -> Self {
        let sqlite_file = match &db {
            Db::Sqlite(pool) => {
                let path = pool.connect_options().get_filename().to_path_buf();
                // An in-memory database has a name but no file another connection could open.
                path.is_file().then_some(path)
            }
            Db::Postgres(_) => None,
        };
        Self {
            db,
            tenant: tenant.to_string(),
            sqlite_file,
            idle: Mutex::new(Vec::new()),
            shared: SharedReads::default(),
        }
    }

    /// The tenant's configuration version as committed now (0 before the first write):
    /// triggers move it forward in the transaction of every write to applications, grants,
    /// APIs, connections, the settings and signing keys, so what was read at version `v`
    /// is still current while this answers `v`.
    pub async fn read(&self) -> Result<i64, StoreError> {
        if let Some(path) = &self.sqlite_file {
            match self.read_file(path) {
                Ok(version) => return Ok(version),
                // Busy beyond a few milliseconds, or the file unreadable on its own
                // connection: the pool's read waits on sqlx's thread, not on this one.
                Err(e) => {
                    tracing::debug!(error = %e, "configuration version read through the pool")
                }
            }
        }
        self.read_shared().await
    }

    /// Whether reads go to the SQLite file on the caller's thread (else through the pool).
    pub fn reads_the_file_directly(&self) -> bool {
        self.sqlite_file.is_some()
    }

    async fn read_shared(&self) -> Result<i64, StoreError> {
        let shared = &self.shared;
        // Any read numbered above the count now starts after this request arrived.
        let ticket = shared.started.load(Ordering::SeqCst);
        let finished = shared.finished();
        let _turn = shared.reading.lock().await;
        if let Some(found) = shared.after(ticket, finished) {
            return found.map_err(StoreError::Shared);
        }
        let number = shared.started.fetch_add(1, Ordering::SeqCst) + 1;
        let found = self.read_pool().await.map_err(Arc::new);
        if let Ok(mut latest) = shared.latest.lock() {
            *latest = Some((number, found.clone()));
        }
        found.map_err(StoreError::Shared)
    }

    async fn read_pool(&self) -> Result<i64, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, i64>("SELECT version FROM config_versions WHERE tenant_id = $1")
                .bind(&self.tenant)
                .fetch_optional(pool)
                .await?
                .unwrap_or(0))
        })
    }

    fn read_file(&self, path: &std::path::Path) -> Result<i64, StoreError> {
        let taken = self.idle.lock().ok().and_then(|mut idle| idle.pop());
        let conn = match taken {
            Some(c) => c,
            None => open(path)?,
        };
        let version = {
            let mut statement = conn
                .prepare_cached(READ_VERSION)
                .map_err(version_read_error)?;
            let mut rows = statement
                .query([&self.tenant])
                .map_err(version_read_error)?;
            match rows.next().map_err(version_read_error)? {
                Some(row) => row.get::<_, i64>(0).map_err(version_read_error)?,
                None => 0,
            }
        };
        if let Ok(mut idle) = self.idle.lock()
            && idle.len() < IDLE_CONNECTIONS
        {
            idle.push(conn);
        }
        Ok(version)
    }
}

fn open(path: &std::path::Path) -> Result<rusqlite::Connection, StoreError> {
    use rusqlite::OpenFlags;
    // Read-write (never create): a read-only connection may not join a write-ahead log whose
    // shared-memory file it cannot write. Nothing is written through it.
    let conn = rusqlite::Connection::open_with_flags(
        path,
        OpenFlags::SQLITE_OPEN_READ_WRITE | OpenFlags::SQLITE_OPEN_NO_MUTEX,
    )
    .map_err(version_read_error)?;
    conn.busy_timeout(BUSY_TIMEOUT)
        .map_err(version_read_error)?;
    Ok(conn)
}

fn version_read_error(e: rusqlite::Error) -> StoreError {
    StoreError::VersionRead(e)
}

#[cfg(test)]
mod tests {
    use super::{SharedReads, StoreError};
    use std::sync::Arc;

    fn finished_read(number: u64, found: Result<i64, StoreError>) -> SharedReads {
        let reads = SharedReads::default();
        if let Ok(mut latest) = reads.latest.lock() {
            *latest = Some((number, found.map_err(Arc::new)));
        }
        reads
    }

    /// A version counts only from a read that started after the request arrived; a failure
    /// counts for every request that was waiting when it ended (faults check 3: waiters that
    /// each tried again in turn while PostgreSQL was down answered after two pool timeouts).
    #[test]
    fn who_takes_a_finished_read() {
        let found = finished_read(3, Ok(7));
        assert_eq!(found.finished(), 3);
        assert!(
            matches!(found.after(2, 2), Some(Ok(7))),
            "started after arrival"
        );
        assert!(found.after(3, 2).is_none(), "under way at arrival: too old");
        assert!(found.after(3, 3).is_none());

        let failed = finished_read(3, Err(StoreError::Corrupt("down".into())));
        assert!(matches!(failed.after(2, 2), Some(Err(_))));
        assert!(
            matches!(failed.after(3, 2), Some(Err(_))),
            "under way at arrival, ended after it: its failure answers"
        );
        assert!(
            failed.after(3, 3).is_none(),
            "ended before arrival: read again"
        );

        assert_eq!(SharedReads::default().finished(), 0);
        assert!(SharedReads::default().after(0, 0).is_none());
    }
}
