//! Clients (applications), their encrypted secrets, and their grants to APIs.

use crate::{Db, StoreError, on_pool};
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
            let mut tx = pool.begin().await?;
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

    /// Records an API (resource server) by identifier if it is not known yet.
    pub async fn ensure_resource_server(
        &self,
        tenant: &str,
        id: &str,
        identifier: &str,
        settings: &serde_json::Value,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO resource_servers (id, tenant_id, identifier, settings, created_at) VALUES ($1, $2, $3, $4, $5)
                 ON CONFLICT (tenant_id, identifier) DO NOTHING",
            )
            .bind(id)
            .bind(tenant)
            .bind(identifier)
            .bind(Json(settings))
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
