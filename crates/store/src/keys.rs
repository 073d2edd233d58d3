//! Signing keys, stored encrypted (the service seals and opens them).

use crate::{Db, StoreError, on_pool};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub status: String,
    pub created_at: i64,
}

#[derive(Clone, Debug)]
pub struct KeyStore {
    db: Db,
}

impl KeyStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn list(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, StoredKey>(
                "SELECT kid, algorithm, private_key, status, created_at FROM signing_keys WHERE tenant_id = $1 ORDER BY created_at",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await?)
        })
    }

    pub async fn insert(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO signing_keys (kid, tenant_id, algorithm, private_key, status, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
            )
            .bind(&key.kid)
            .bind(tenant)
            .bind(&key.algorithm)
            .bind(&key.private_key)
            .bind(&key.status)
            .bind(key.created_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}
