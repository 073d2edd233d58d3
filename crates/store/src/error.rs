//! Store failures, typed so services can tell a conflict from an outage.

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// A unique constraint refused the write (duplicate email, name, ...).
    #[error("conflict on {0}")]
    Conflict(String),
    #[error("database error: {0}")]
    Database(#[source] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
    #[error("unsupported database URL: {0}")]
    UnsupportedUrl(String),
    /// The database stopped a statement at its deadline (a search too heavy to finish).
    #[error("the query ran past its deadline")]
    TimedOut,
    #[error("could not create the database file: {0}")]
    File(#[source] std::io::Error),
    /// The configuration version could not be read on the direct SQLite connection.
    #[error("configuration version unreadable: {0}")]
    VersionRead(#[source] rusqlite::Error),
    /// A failure shared by the requests that waited for one read (`ConfigVersions`).
    #[error(transparent)]
    Shared(std::sync::Arc<StoreError>),
}

impl StoreError {
    /// The database could not be reached or answered with a failure of its own: the request
    /// may succeed if retried (a 503), unlike corrupt data or a refused write.
    pub fn is_outage(&self) -> bool {
        match self {
            StoreError::Database(_) | StoreError::VersionRead(_) => true,
            StoreError::Shared(e) => e.is_outage(),
            _ => false,
        }
    }

    /// The failure says nothing about the statement itself: the database was unreachable,
    /// busy, shutting down or short of resources, so the same write may succeed later. A
    /// statement the database refused for its content is not transient.
    pub fn is_transient(&self) -> bool {
        let e = match self {
            StoreError::Database(e) => e,
            StoreError::Shared(e) => return e.is_transient(),
            _ => return false,
        };
        match e {
            e if connection_broke(e) => true,
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::WorkerCrashed => {
                true
            }
            sqlx::Error::Database(db) => match postgres_code(db.as_ref()) {
                // Transaction rollbacks such as deadlocks (40), insufficient resources (53),
                // operator intervention (57).
                Some(code) => ["40", "53", "57"]
                    .iter()
                    .any(|class| code.starts_with(class)),
                // SQLite: SQLITE_BUSY (5) and SQLITE_LOCKED (6), primary or extended.
                None => db
                    .code()
                    .unwrap_or_default()
                    .parse::<i64>()
                    .is_ok_and(|n| matches!(n & 0xff, 5 | 6)),
            },
            _ => false,
        }
    }
}

/// A PostgreSQL error's SQLSTATE; `None` for SQLite's errors.
fn postgres_code(db: &dyn sqlx::error::DatabaseError) -> Option<&str> {
    db.try_downcast_ref::<sqlx::postgres::PgDatabaseError>()
        .map(|pg| pg.code())
}

/// The statement failed because its connection broke, not for anything about the statement:
/// the network or the server ended it (PostgreSQL's connection exceptions, class 08, and
/// operator intervention such as a shutdown or a terminated backend, class 57P).
fn connection_broke(e: &sqlx::Error) -> bool {
    match e {
        sqlx::Error::Io(_) | sqlx::Error::Tls(_) | sqlx::Error::Protocol(_) => true,
        sqlx::Error::Database(db) => postgres_code(db.as_ref())
            .is_some_and(|code| code.starts_with("08") || code.starts_with("57P")),
        _ => false,
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if connection_broke(&e) {
            crate::db::note_broken_connection();
        }
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.constraint().unwrap_or("unique").to_string());
        }
        StoreError::Database(e)
    }
}
