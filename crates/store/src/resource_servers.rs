//! APIs (resource servers) and clients' grants to call them.

use crate::{BeginWrite, Db, StoreError, on_pool};
use gatehouse_core::resource_server::ResourceServerSettings;
use sqlx::types::Json;

#[derive(Clone, Debug)]
pub struct StoredResourceServer {
    pub id: String,
    pub settings: ResourceServerSettings,
}

#[derive(sqlx::FromRow)]
struct Row {
    id: String,
    settings: Json<ResourceServerSettings>,
}

impl From<Row> for StoredResourceServer {
    fn from(r: Row) -> Self {
        Self {
            id: r.id,
            settings: r.settings.0,
        }
    }
}

#[derive(Clone, Debug)]
pub struct ResourceServerStore {
    db: Db,
}

impl ResourceServerStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(
        &self,
        tenant: &str,
        rs: &StoredResourceServer,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("INSERT INTO resource_servers (id, tenant_id, identifier, settings, created_at) VALUES ($1, $2, $3, $4, $5)")
                .bind(&rs.id)
                .bind(tenant)
                .bind(&rs.settings.identifier)
                .bind(Json(&rs.settings))
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Creates the API, or rewrites its settings if its identifier is known (start-up).
    pub async fn upsert_by_identifier(
        &self,
        tenant: &str,
        rs: &StoredResourceServer,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO resource_servers (id, tenant_id, identifier, settings, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, identifier) DO UPDATE SET settings = excluded.settings",
            )
            .bind(&rs.id)
            .bind(tenant)
            .bind(&rs.settings.identifier)
            .bind(Json(&rs.settings))
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
    ) -> Result<Option<StoredResourceServer>, StoreError> {
        self.find(
            tenant,
            "SELECT id, settings FROM resource_servers WHERE tenant_id = $1 AND id = $2",
            id,
        )
        .await
    }

    pub async fn get_by_identifier(
        &self,
        tenant: &str,
        identifier: &str,
    ) -> Result<Option<StoredResourceServer>, StoreError> {
        self.find(
            tenant,
            "SELECT id, settings FROM resource_servers WHERE tenant_id = $1 AND identifier = $2",
            identifier,
        )
        .await
    }

    /// Runs one of the fixed look-ups above (never SQL built from a request).
    async fn find(
        &self,
        tenant: &str,
        sql: &'static str,
        value: &str,
    ) -> Result<Option<StoredResourceServer>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Row>(sql).bind(tenant).bind(value).fetch_optional(pool).await?.map(Into::into))
        })
    }

    pub async fn list(
        &self,
        tenant: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<StoredResourceServer>, i64), StoreError> {
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(
                "SELECT id, settings FROM resource_servers WHERE tenant_id = $1 ORDER BY created_at, id LIMIT $2 OFFSET $3",
            )
            .bind(tenant)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM resource_servers WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(pool)
                .await?;
            Ok((rows.into_iter().map(Into::into).collect(), total))
        })
    }

    pub async fn update(
        &self,
        tenant: &str,
        rs: &StoredResourceServer,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE resource_servers SET settings = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&rs.id)
                .bind(Json(&rs.settings))
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Deletes the API and every client grant to it, in one transaction.
    pub async fn delete(
        &self,
        tenant: &str,
        rs: &StoredResourceServer,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM client_grants WHERE tenant_id = $1 AND audience = $2")
                .bind(tenant)
                .bind(&rs.settings.identifier)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query("DELETE FROM resource_servers WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(&rs.id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
