//! Tenants: every other row belongs to one.

use crate::{Db, StoreError, on_pool};

#[derive(Clone, Debug)]
pub struct TenantStore {
    db: Db,
}

impl TenantStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Creates the tenant if it does not exist yet.
    pub async fn ensure(&self, id: &str, name: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("INSERT INTO tenants (id, name, created_at) VALUES ($1, $2, $3) ON CONFLICT (id) DO NOTHING")
                .bind(id)
                .bind(name)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The tenant's settings document (`{}` until first changed).
    pub async fn settings(&self, id: &str) -> Result<String, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>("SELECT settings FROM tenants WHERE id = $1")
                .bind(id)
                .fetch_optional(pool)
                .await?
                .unwrap_or_else(|| "{}".to_string()))
        })
    }

    pub async fn put_settings(&self, id: &str, settings: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE tenants SET settings = $2 WHERE id = $1")
                .bind(id)
                .bind(settings)
                .execute(pool)
                .await?;
            Ok(())
        })
    }
}
