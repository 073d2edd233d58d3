//! Consecutive failed logins per (user, IP), and the blocks they cause.

use crate::{Db, StoreError, on_pool};

#[derive(Clone, Debug)]
pub struct LoginFailureStore {
    db: Db,
}

impl LoginFailureStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn is_blocked(
        &self,
        tenant: &str,
        user_id: &str,
        ip: &str,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let blocked: Option<Option<i64>> = sqlx::query_scalar(
                "SELECT blocked_at FROM login_failures WHERE tenant_id = $1 AND user_id = $2 AND ip = $3",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(ip)
            .fetch_optional(pool)
            .await?;
            Ok(blocked.flatten().is_some())
        })
    }

    /// Counts one more failure; returns true when this failure reached `threshold` and
    /// blocked the pair (only once: later failures return false).
    pub async fn record_failure(
        &self,
        tenant: &str,
        user_id: &str,
        ip: &str,
        threshold: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let failures: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (tenant_id, user_id, ip, failures, blocked_at, updated_at) VALUES ($1, $2, $3, 1, NULL, $4)
                 ON CONFLICT (tenant_id, user_id, ip) DO UPDATE SET failures = login_failures.failures + 1, updated_at = excluded.updated_at
                 RETURNING failures",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(ip)
            .bind(now)
            .fetch_one(pool)
            .await?;
            if failures < threshold {
                return Ok(false);
            }
            let r = sqlx::query(
                "UPDATE login_failures SET blocked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND ip = $3 AND blocked_at IS NULL",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(ip)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Forgets the failures of one pair (a successful login).
    pub async fn reset(&self, tenant: &str, user_id: &str, ip: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM login_failures WHERE tenant_id = $1 AND user_id = $2 AND ip = $3")
                .bind(tenant)
                .bind(user_id)
                .bind(ip)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The IPs a user is blocked from.
    pub async fn blocked_ips(
        &self,
        tenant: &str,
        user_id: &str,
    ) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar(
                "SELECT ip FROM login_failures WHERE tenant_id = $1 AND user_id = $2 AND blocked_at IS NOT NULL ORDER BY ip",
            )
            .bind(tenant)
            .bind(user_id)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Lifts every block and failure count of a user (admin unblock, password change).
    pub async fn clear_user(&self, tenant: &str, user_id: &str) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("DELETE FROM login_failures WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user_id)
                .execute(pool)
                .await?;
            Ok(r.rows_affected())
        })
    }
}
