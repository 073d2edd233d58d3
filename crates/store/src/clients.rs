//! Clients (applications), their encrypted secrets, and their grants to APIs.

use crate::{BeginWrite, Db, StoreError, on_pool};
use gatehouse_core::client::ClientSettings;
use sqlx::types::Json;

#[derive(Clone, Debug)]
pub struct StoredClient {
    pub client_id: String,
    pub settings: ClientSettings,
    /// The client secret sealed with the server's secret key; `None` for public clients.
    pub sealed_secret: Option<Vec<u8>>,
}

#[derive(sqlx::FromRow)]
struct Row {
    client_id: String,
    settings: Json<ClientSettings>,
    client_secret: Option<Vec<u8>>,
}

impl From<Row> for StoredClient {
    fn from(r: Row) -> Self {
        Self {
            client_id: r.client_id,
            settings: r.settings.0,
            sealed_secret: r.client_secret,
        }
    }
}

/// A client's authorisation to call one API (resource server) with some scopes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientGrant {
    pub id: String,
    pub client_id: String,
    pub audience: String,
    pub scope: Vec<String>,
}

#[derive(Clone, Debug)]
pub struct ClientStore {
    db: Db,
}

impl ClientStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, tenant: &str, c: &StoredClient, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO clients (client_id, tenant_id, settings, client_secret, created_at, updated_at) VALUES ($1, $2, $3, $4, $5, $5)",
            )
            .bind(&c.client_id)
            .bind(tenant)
            .bind(Json(&c.settings))
            .bind(&c.sealed_secret)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get(
        &self,
        tenant: &str,
        client_id: &str,
    ) -> Result<Option<StoredClient>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, Row>(
                "SELECT client_id, settings, client_secret FROM clients WHERE tenant_id = $1 AND client_id = $2",
            )
            .bind(tenant)
            .bind(client_id)
            .fetch_optional(pool)
            .await?
            .map(Into::into))
        })
    }

    pub async fn list(
        &self,
        tenant: &str,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<StoredClient>, i64), StoreError> {
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, Row>(
                "SELECT client_id, settings, client_secret FROM clients WHERE tenant_id = $1 ORDER BY created_at, client_id LIMIT $2 OFFSET $3",
            )
            .bind(tenant)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM clients WHERE tenant_id = $1")
                .bind(tenant)
                .fetch_one(pool)
                .await?;
            Ok((rows.into_iter().map(Into::into).collect(), total))
        })
    }

    pub async fn update(
        &self,
        tenant: &str,
        c: &StoredClient,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "UPDATE clients SET settings = $3, client_secret = $4, updated_at = $5 WHERE tenant_id = $1 AND client_id = $2",
            )
            .bind(tenant)
            .bind(&c.client_id)
            .bind(Json(&c.settings))
            .bind(&c.sealed_secret)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Deletes the client and its grants in one transaction.
    pub async fn delete(&self, tenant: &str, client_id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query("DELETE FROM client_grants WHERE tenant_id = $1 AND client_id = $2")
                .bind(tenant)
                .bind(client_id)
                .execute(&mut *tx)
                .await?;
            let r = sqlx::query("DELETE FROM clients WHERE tenant_id = $1 AND client_id = $2")
                .bind(tenant)
                .bind(client_id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Creates or replaces the grant of `client_id` to `audience`.
    pub async fn upsert_grant(
        &self,
        tenant: &str,
        grant: &ClientGrant,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO client_grants (id, tenant_id, client_id, audience, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (tenant_id, client_id, audience) DO UPDATE SET scope = excluded.scope",
            )
            .bind(&grant.id)
            .bind(tenant)
            .bind(&grant.client_id)
            .bind(&grant.audience)
            .bind(Json(&grant.scope))
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn grant(
        &self,
        tenant: &str,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<ClientGrant>, StoreError> {
        on_pool!(&self.db, pool => {
            let row: Option<(String, Json<Vec<String>>)> = sqlx::query_as(
                "SELECT id, scope FROM client_grants WHERE tenant_id = $1 AND client_id = $2 AND audience = $3",
            )
            .bind(tenant)
            .bind(client_id)
            .bind(audience)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(id, scope)| ClientGrant {
                id,
                client_id: client_id.to_string(),
                audience: audience.to_string(),
                scope: scope.0,
            }))
        })
    }

    /// Grants, optionally only those of one client and/or one audience, in creation order.
    pub async fn list_grants(
        &self,
        tenant: &str,
        client_id: Option<&str>,
        audience: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<ClientGrant>, i64), StoreError> {
        on_pool!(&self.db, pool => {
            let rows: Vec<(String, String, String, Json<Vec<String>>)> = sqlx::query_as(
                "SELECT id, client_id, audience, scope FROM client_grants
                 WHERE tenant_id = $1 AND ($2 IS NULL OR client_id = $2) AND ($3 IS NULL OR audience = $3)
                 ORDER BY created_at, id LIMIT $4 OFFSET $5",
            )
            .bind(tenant)
            .bind(client_id)
            .bind(audience)
            .bind(limit)
            .bind(offset)
            .fetch_all(pool)
            .await?;
            let total: i64 = sqlx::query_scalar(
                "SELECT COUNT(*) FROM client_grants WHERE tenant_id = $1 AND ($2 IS NULL OR client_id = $2) AND ($3 IS NULL OR audience = $3)",
            )
            .bind(tenant)
            .bind(client_id)
            .bind(audience)
            .fetch_one(pool)
            .await?;
            let grants = rows
                .into_iter()
                .map(|(id, client_id, audience, scope)| ClientGrant { id, client_id, audience, scope: scope.0 })
                .collect();
            Ok((grants, total))
        })
    }

    pub async fn grant_by_id(
        &self,
        tenant: &str,
        id: &str,
    ) -> Result<Option<ClientGrant>, StoreError> {
        on_pool!(&self.db, pool => {
            let row: Option<(String, String, String, Json<Vec<String>>)> = sqlx::query_as(
                "SELECT id, client_id, audience, scope FROM client_grants WHERE tenant_id = $1 AND id = $2",
            )
            .bind(tenant)
            .bind(id)
            .fetch_optional(pool)
            .await?;
            Ok(row.map(|(id, client_id, audience, scope)| ClientGrant { id, client_id, audience, scope: scope.0 }))
        })
    }

    /// Creates a grant; a second grant of the same client to the same audience is a conflict.
    pub async fn insert_grant(
        &self,
        tenant: &str,
        grant: &ClientGrant,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO client_grants (id, tenant_id, client_id, audience, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&grant.id)
            .bind(tenant)
            .bind(&grant.client_id)
            .bind(&grant.audience)
            .bind(Json(&grant.scope))
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn update_grant_scope(
        &self,
        tenant: &str,
        id: &str,
        scope: &[String],
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE client_grants SET scope = $3 WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .bind(Json(scope))
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    pub async fn delete_grant(&self, tenant: &str, id: &str) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("DELETE FROM client_grants WHERE tenant_id = $1 AND id = $2")
                .bind(tenant)
                .bind(id)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
