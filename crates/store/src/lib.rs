//! Gatehouse's persistence: one store per domain (tenants, keys, connections, clients,
//! users), each over SQLite (the embedded default) or PostgreSQL, chosen by URL.
//!
//! Queries are written once with `$n` placeholders, which both drivers accept, and run on
//! whichever pool the [`Db`] holds; dialect differences live in the migrations. All SQL is
//! parameterised: no request text is ever spliced into a statement.

mod actions;
mod authorization;
mod bulk;
mod clients;
mod config_versions;
mod connections;
mod db;
mod error;
mod jobs;
pub mod keys;
mod login_failures;
mod logs;
mod outbox;
mod refresh_tokens;
mod resource_servers;
mod rules;
pub mod search;
mod sessions;
mod tenants;
mod users;

pub use actions::{
    ActionDeletion, ActionStore, BoundAction, StoredAction, StoredActionVersion, StoredBinding,
    StoredSecret,
};
pub use authorization::{
    Added, AuthorizationStore, EffectiveAccess, GroupMapping, HeldPermission, Holder, Link,
    MemberRow, Named, NamedEntry,
};
pub use clients::{ClientGrant, ClientStore, StoredClient};
pub use config_versions::ConfigVersions;
pub use connections::{ConnectionStore, StoredConnection};
pub use db::{Db, Dialect, PoolUse};
pub use error::StoreError;
pub use jobs::{
    ImportBatch, ImportUpdate, ImportedFactor, Job, JobBlock, JobError, JobProgress, JobStore,
};
pub use keys::{KeyListing, KeyStore, Revocation, StoredKey};
pub use login_failures::{ALL_IPS, LoginFailureStore, Slot};
pub use logs::{ACTIVITY_KINDS, DayActivity, LogQuery, LogStore};
pub use outbox::{
    BODY_PURPOSE, OutboxBacklog, OutboxMessage, OutboxStore, PasswordlessCode, PasswordlessStore,
};
pub use refresh_tokens::{RefreshToken, RefreshTokenStore};
pub use resource_servers::{ResourceServerStore, StoredResourceServer};
pub use rules::{RuleStore, StoredRule};
pub use sessions::{
    AuthorizationCode, AuthorizationCodeStore, BrowserSession, SessionKind, SessionStore,
    UpstreamStateStore, UserGrantStore,
};
pub use tenants::TenantStore;
pub use users::{
    SEARCH_TIMEOUT, SortField, TOTAL_EXACT_BOUND, UserList, UserOrder, UserSearch, UserStore,
    VersionedUser,
};

/// Runs `$body` with `$pool` bound to the concrete pool of whichever database `$db` is.
/// The body is compiled once per driver, so generic sqlx calls work on both.
macro_rules! on_pool {
    ($db:expr, $pool:ident => $body:expr) => {
        match $db {
            $crate::db::Db::Sqlite($pool) => $body,
            $crate::db::Db::Postgres($pool) => $body,
        }
    };
}
pub(crate) use on_pool;

/// Opening a transaction that writes. On SQLite it takes the write lock at once (`BEGIN
/// IMMEDIATE`, waiting as long as the busy timeout allows): a deferred transaction that
/// reads first and writes later fails at once with `SQLITE_BUSY_SNAPSHOT` (517) whenever
/// another connection committed in between, which the log writer's batches make frequent.
pub(crate) trait BeginWrite {
    type Database: sqlx::Database;
    fn begin_write(
        &self,
    ) -> impl std::future::Future<
        Output = Result<sqlx::Transaction<'static, Self::Database>, sqlx::Error>,
    > + Send;
}

impl BeginWrite for sqlx::SqlitePool {
    type Database = sqlx::Sqlite;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Sqlite>, sqlx::Error> {
        self.begin_with("BEGIN IMMEDIATE").await
    }
}

impl BeginWrite for sqlx::PgPool {
    type Database = sqlx::Postgres;
    async fn begin_write(&self) -> Result<sqlx::Transaction<'static, sqlx::Postgres>, sqlx::Error> {
        self.begin().await
    }
}
