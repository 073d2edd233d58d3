//! Connections and, on delete, the users that belong to them.

use crate::{BeginWrite, Db, StoreError, on_pool};
use gatehouse_core::connection::ConnectionSettings;
use sqlx::types::Json;

#[derive(Clone, Debug)]
pub struct StoredConnection {
    pub id: String,
    pub settings: ConnectionSettings,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    settings: Json<ConnectionSettings>,
}

impl From<Row> for StoredConnection {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            settings: r.settings.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ConnectionStore {
    db: Db,
}

impl ConnectionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(
        &self,
        tenant: &str,
        c: &StoredConnection,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO connections (id, tenant_id, name, strategy, settings, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $6, $6)",
            )
            .bind(&c.id)
            .bind(tenant)
            .bind(&c.settings.name)
            .bind(&c.settings.strategy)
            .bind(Json(&c.settings))
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        self.find(
            tenant,
            "SELECT id, settings FROM connections WHERE tenant_id = $1 AND id = $2",
            id,
        )
        .await
    }

    pub async fn get_by_name(
        &self,
        tenant: &str,
        name: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        self.find(
            tenant,
            "SELECT id, settings FROM connections WHERE tenant_id = $1 AND name = $2",
            name,
        )
        .await
    }

    /// Runs one of the fixed look-ups above (never SQL built from a request).
    async fn find(
        &self,
        tenant: &str,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<StoredConnection>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Row>(sql).bind(tenant).bind(value).fetch_optional(pool).await?.map(Into::into))
        })
    }

    /// A page of connections in creation order, optionally only those of one strategy.
    pub async fn list(
        &self,
        tenant: &str,
        strategy: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<StoredConnection>, i64), StoreError> {
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(
                "SELECT id, settings FROM connections WHERE tenant_id = $1 AND ($2 IS NULL OR strategy = $2) ORDER BY created_at, id LIMIT $3 OFFSET $4",
            )
            .bind(tenant)
            .bind(strategy)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM connections WHERE tenant_id = $1 AND ($2 IS NULL OR strategy = $2)",
            )
            .bind(tenant)
            .bind(strategy)
            .fetch_one(pool)
            .await?;
            Ok((rows.into_iter().map(Into::into).collect(), total))
        })
    }

    pub async fn update(
        &self,
        tenant: &str,
        c: &StoredConnection,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE connections SET settings = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&c.id)
                .bind(Json(&c.settings))
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Adds a client to every connection's `enabled_clients` (Auth0's tenant flag
    /// `enable_client_connections`), in one transaction.
    pub async fn enable_client_everywhere(
        &self,
        tenant: &str,
        client_id: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        // A read-modify-write of every connection: the rows are locked as they are read (the
        // write lock from BEGIN on SQLite, FOR UPDATE on PostgreSQL), so neither a concurrent
        // write nor a concurrent change of a connection is lost or refused.
        let lock = match self.db.dialect() {
            crate::db::Dialect::Sqlite => "",
            crate::db::Dialect::Postgres => " FOR UPDATE",
        };
        // In id order: concurrent lockers then queue on the same first row instead of each
        // holding rows the other waits for (PostgreSQL found such deadlocks with 16 at once).
        let select =
            format!("SELECT id, settings FROM connections WHERE tenant_id = $1 ORDER BY id{lock}");
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            let rows = sqlx::query_as::<_, Row>(&select)
                .bind(tenant)
                .fetch_all(&mut *tx)
                .await?;
            for row in rows {
                let mut c = StoredConnection::from(row);
                if c.settings.enabled_clients.iter().any(|id| id == client_id) {
                    continue;
                }
                c.settings.enabled_clients.push(client_id.to_string());
                sqlx::query("UPDATE connections SET settings = $3, updated_at = $4 WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(&c.id)
                    .bind(Json(&c.settings))
                    .bind(now)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Deletes the connection and every user on it, in one transaction.
    pub async fn delete(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for table in crate::users::USER_OWNED_TABLES {
                sqlx::query(&format!(
                    "DELETE FROM {table} WHERE tenant_id = $1 AND user_id IN (SELECT user_id FROM users WHERE tenant_id = $1 AND connection_id = $2)"
                ))
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            }
            sqlx::query("DELETE FROM users WHERE tenant_id = $1 AND connection_id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query("DELETE FROM connections WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
