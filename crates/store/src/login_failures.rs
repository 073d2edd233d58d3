//! Brute-force counters: failed logins per (user, IP), which block the pair, and per user
//! across every IP (the row whose ip is [`ALL_IPS`]), which throttles the user for a while.
//!
//! Every attempt takes its slot with one statement *before* its password is checked
//! (`… ON CONFLICT DO UPDATE SET failures = failures + 1 RETURNING`), so concurrent requests
//! cannot all read "not blocked yet" and then each get a guess: exactly the allowed number
//! get through, whatever their timing (security review M1).

use crate::{Db, StoreError, on_pool};

/// The `ip` of a user's counter across every address.
pub const ALL_IPS: &str = "*";

/// What a reservation found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Slot {
    /// This attempt may check its password; it is attempt number `n` since the last reset.
    Granted(i64),
    /// The pair is blocked, or the limit is used up: the password is not checked.
    Refused,
}

#[derive(Clone, Debug)]
pub struct LoginFailureStore {
    db: Db,
}

impl LoginFailureStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Takes an attempt slot for (user, IP): granted while fewer than `threshold` attempts
    /// are counted and the pair is not blocked. A success then [`reset`](Self::reset)s the
    /// pair; a failure keeps its slot, and the one that fills the last slot blocks the pair
    /// ([`block`](Self::block)).
    pub async fn reserve(
        &self,
        tenant: &str,
        user_key: &str,
        ip: &str,
        threshold: i64,
        now: i64,
    ) -> Result<Slot, StoreError> {
        on_pool!(&self.db, pool => {
            let (failures, blocked_at): (i64, Option<i64>) = sqlx::query_as(
                "INSERT INTO login_failures (tenant_id, user_id, ip, failures, blocked_at, updated_at) VALUES ($1, $2, $3, 1, NULL, $4)
                 ON CONFLICT (tenant_id, user_id, ip) DO UPDATE SET failures = login_failures.failures + 1, updated_at = excluded.updated_at
                 RETURNING failures, blocked_at",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ip)
            .bind(now)
            .fetch_one(pool)
            .await?;
            Ok(if blocked_at.is_some() || failures > threshold {
                Slot::Refused
            } else {
                Slot::Granted(failures)
            })
        })
    }

    /// Takes a slot in the user's counter across every IP: at most `limit` failures in a
    /// window that starts afresh once `window_ms` pass without an attempt. A success gives
    /// its slot back ([`release_user`](Self::release_user)), so only failures stay counted.
    pub async fn reserve_user(
        &self,
        tenant: &str,
        user_key: &str,
        limit: i64,
        window_ms: i64,
        now: i64,
    ) -> Result<Slot, StoreError> {
        on_pool!(&self.db, pool => {
            let failures: i64 = sqlx::query_scalar(
                "INSERT INTO login_failures (tenant_id, user_id, ip, failures, blocked_at, updated_at) VALUES ($1, $2, $3, 1, NULL, $4)
                 ON CONFLICT (tenant_id, user_id, ip) DO UPDATE SET
                   failures = CASE WHEN login_failures.updated_at < $5 THEN 1 ELSE login_failures.failures + 1 END,
                   blocked_at = CASE WHEN login_failures.updated_at < $5 THEN NULL ELSE login_failures.blocked_at END,
                   updated_at = excluded.updated_at
                 RETURNING failures",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ALL_IPS)
            .bind(now)
            .bind(now - window_ms)
            .fetch_one(pool)
            .await?;
            if failures <= limit {
                return Ok(Slot::Granted(failures));
            }
            // Shown by the user-blocks API until the window passes or an admin lifts it.
            sqlx::query(
                "UPDATE login_failures SET blocked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND ip = $3 AND blocked_at IS NULL",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ALL_IPS)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(Slot::Refused)
        })
    }

    /// A successful login gives its slot in the user's counter back.
    pub async fn release_user(&self, tenant: &str, user_key: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE login_failures SET failures = failures - 1 WHERE tenant_id = $1 AND user_id = $2 AND ip = $3 AND failures > 0",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ALL_IPS)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Gives back a slot that checked no password (the user's own limit refused it).
    pub async fn release(&self, tenant: &str, user_key: &str, ip: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "UPDATE login_failures SET failures = failures - 1 WHERE tenant_id = $1 AND user_id = $2 AND ip = $3 AND failures > 0 AND blocked_at IS NULL",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ip)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    /// Blocks the pair; true when this call did (so the owner is told once).
    pub async fn block(
        &self,
        tenant: &str,
        user_key: &str,
        ip: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "UPDATE login_failures SET blocked_at = $4 WHERE tenant_id = $1 AND user_id = $2 AND ip = $3 AND blocked_at IS NULL",
            )
            .bind(tenant)
            .bind(user_key)
            .bind(ip)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Forgets the failures of one pair (a successful login).
    pub async fn reset(&self, tenant: &str, user_key: &str, ip: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("DELETE FROM login_failures WHERE tenant_id = $1 AND user_id = $2 AND ip = $3")
                .bind(tenant)
                .bind(user_key)
                .bind(ip)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// The IPs a user is blocked from ([`ALL_IPS`] when throttled everywhere).
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

    /// Housekeeping: counters untouched for `idle_ms` that no administrator needs to see:
    /// those of unknown identifiers (keys starting `?`), and per-user counters, whose window
    /// has long passed. Blocks of real users stay until lifted, as in Auth0.
    pub async fn sweep(&self, now: i64, idle_ms: i64) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "DELETE FROM login_failures WHERE updated_at < $1 AND (user_id LIKE '?%' OR ip = $2)",
            )
            .bind(now - idle_ms)
            .bind(ALL_IPS)
            .execute(pool)
            .await?;
            Ok(r.rows_affected())
        })
    }
}
