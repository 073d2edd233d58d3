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
}
