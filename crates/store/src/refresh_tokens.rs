//! Rotating refresh tokens, stored as hashes, grouped in families for reuse detection.

use crate::{Db, StoreError, on_pool};

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct RefreshToken {
    pub token_hash: String,
    pub family_id: String,
    pub client_id: String,
    pub user_id: String,
    pub audience: Option<String>,
    pub scope: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct RefreshTokenStore {
    db: Db,
}

impl RefreshTokenStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, tenant: &str, t: &RefreshToken) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO refresh_tokens (tenant_id, token_hash, family_id, client_id, user_id, audience, scope, created_at, expires_at)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(tenant)
            .bind(&t.token_hash)
            .bind(&t.family_id)
            .bind(&t.client_id)
            .bind(&t.user_id)
            .bind(&t.audience)
            .bind(&t.scope)
            .bind(t.created_at)
            .bind(t.expires_at)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get(
        &self,
        tenant: &str,
        token_hash: &str,
    ) -> Result<Option<RefreshToken>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, RefreshToken>(
                "SELECT token_hash, family_id, client_id, user_id, audience, scope, created_at, expires_at, used_at, revoked_at
                 FROM refresh_tokens WHERE tenant_id = $1 AND token_hash = $2",
            )
            .bind(tenant)
            .bind(token_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Marks a token used; false when it was already used or revoked (a concurrent or
    /// repeated use), which the caller treats as reuse.
    pub async fn mark_used(
        &self,
        tenant: &str,
        token_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_hash = $2 AND used_at IS NULL AND revoked_at IS NULL",
            )
            .bind(tenant)
            .bind(token_hash)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Records the use of a non-rotating token (its idle timeout counts from here).
    pub async fn touch(&self, tenant: &str, token_hash: &str, now: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE refresh_tokens SET used_at = $3 WHERE tenant_id = $1 AND token_hash = $2")
                .bind(tenant)
                .bind(token_hash)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Revokes every token of a family (reuse detected).
    pub async fn revoke_family(
        &self,
        tenant: &str,
        family_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND family_id = $2 AND revoked_at IS NULL")
                .bind(tenant)
                .bind(family_id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected())
        })
    }

    /// Revokes every token of a user (password changed, user blocked).
    pub async fn revoke_user(
        &self,
        tenant: &str,
        user_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE refresh_tokens SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL")
                .bind(tenant)
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected())
        })
    }
}
