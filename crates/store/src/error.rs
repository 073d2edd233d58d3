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
}

impl StoreError {
    /// The database could not be reached or answered with a failure of its own: the request
    /// may succeed if retried (a 503), unlike corrupt data or a refused write.
    pub fn is_outage(&self) -> bool {
        matches!(self, StoreError::Database(_))
    }
}

impl From<sqlx::Error> for StoreError {
    fn from(e: sqlx::Error) -> Self {
        if let sqlx::Error::Database(db) = &e
            && db.is_unique_violation()
        {
            return StoreError::Conflict(db.constraint().unwrap_or("unique").to_string());
        }
        StoreError::Database(e)
    }
}
