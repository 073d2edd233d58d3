//! Signing keys, stored encrypted (the service seals and opens them), and their lifecycle:
//! each family (`algorithm`: RS256 for RSA keys, ES256 for EC keys) has one `current` key,
//! one `next`, any number of `previous` ones and `revoked` ones, whose private key is erased.
//! Every change of status runs in a transaction that first locks the tenant's row, so two
//! nodes rotating at once rotate twice rather than leave two current keys.

use crate::{BeginWrite, Db, StoreError, on_pool};

pub const CURRENT: &str = "current";
pub const NEXT: &str = "next";
pub const PREVIOUS: &str = "previous";
pub const REVOKED: &str = "revoked";

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct StoredKey {
    pub kid: String,
    pub algorithm: String,
    pub private_key: Vec<u8>,
    pub status: String,
    pub created_at: i64,
    /// The self-signed certificate (PEM); `None` for keys stored before rotation existed
    /// until the key ring first loads them.
    pub cert: Option<String>,
    pub current_since: Option<i64>,
    pub current_until: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// A key as the Management API lists it: everything but the private key.
#[derive(Clone, Debug, sqlx::FromRow)]
pub struct KeyListing {
    pub kid: String,
    pub algorithm: String,
    pub status: String,
    pub created_at: i64,
    pub cert: Option<String>,
    pub current_since: Option<i64>,
    pub current_until: Option<i64>,
    pub revoked_at: Option<i64>,
}

/// What a revocation found.
#[derive(Debug)]
pub enum Revocation {
    /// Revoked now, or earlier (revoking twice changes nothing).
    Revoked(KeyListing),
    /// The key is current or next: it is not revoked.
    InUse(KeyListing),
    NotFound,
}

const LISTING: &str = "SELECT kid, algorithm, status, created_at, cert, current_since, current_until, revoked_at FROM signing_keys";

/// The tenant row locked for the rest of the transaction (a no-op update takes the lock on
/// both databases; SQLite's whole-database write lock is taken by it too).
const LOCK_TENANT: &str = "UPDATE tenants SET id = id WHERE id = $1";

macro_rules! insert_key {
    ($conn:expr, $tenant:expr, $key:expr) => {
        sqlx::query(
            "INSERT INTO signing_keys (kid, tenant_id, algorithm, private_key, status, created_at, cert, current_since) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        )
        .bind(&$key.kid)
        .bind($tenant)
        .bind(&$key.algorithm)
        .bind(&$key.private_key)
        .bind(&$key.status)
        .bind($key.created_at)
        .bind(&$key.cert)
        .bind($key.current_since)
        .execute($conn)
        .await?
    };
}

#[derive(Clone, Debug)]
pub struct KeyStore {
    db: Db,
}

impl KeyStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// Every key that may still sign or verify (not revoked), oldest first.
    pub async fn list(&self, tenant: &str) -> Result<Vec<StoredKey>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, StoredKey>(
                "SELECT kid, algorithm, private_key, status, created_at, cert, current_since, current_until, revoked_at FROM signing_keys WHERE tenant_id = $1 AND status <> 'revoked' ORDER BY created_at, kid",
            )
            .bind(tenant)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Every key, revoked ones included, without private keys: RSA keys first, then by
    /// status (current, next, previous, revoked), newest first within a status.
    pub async fn listing(&self, tenant: &str) -> Result<Vec<KeyListing>, StoreError> {
        let sql = format!(
            "{LISTING} WHERE tenant_id = $1 ORDER BY CASE algorithm WHEN 'RS256' THEN 0 ELSE 1 END, \
             CASE status WHEN 'current' THEN 0 WHEN 'next' THEN 1 WHEN 'previous' THEN 2 ELSE 3 END, \
             created_at DESC, kid"
        );
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, KeyListing>(&sql)
                .bind(tenant)
                .fetch_all(pool)
                .await?)
        })
    }

    pub async fn get(&self, tenant: &str, kid: &str) -> Result<Option<KeyListing>, StoreError> {
        let sql = format!("{LISTING} WHERE tenant_id = $1 AND kid = $2");
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, KeyListing>(&sql)
                .bind(tenant)
                .bind(kid)
                .fetch_optional(pool)
                .await?)
        })
    }

    pub async fn insert(&self, tenant: &str, key: &StoredKey) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            insert_key!(&mut *tx, tenant, key);
            tx.commit().await?;
            Ok(())
        })
    }

    /// Stores `key` unless its family already has a key of its status (another node may
    /// have stored one first); whether it was stored.
    pub async fn insert_unless_present(
        &self,
        tenant: &str,
        key: &StoredKey,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(LOCK_TENANT).bind(tenant).execute(&mut *tx).await?;
            let present: Option<String> = sqlx::query_scalar(
                "SELECT kid FROM signing_keys WHERE tenant_id = $1 AND algorithm = $2 AND status = $3",
            )
            .bind(tenant)
            .bind(&key.algorithm)
            .bind(&key.status)
            .fetch_optional(&mut *tx)
            .await?;
            if present.is_some() {
                return Ok(false);
            }
            insert_key!(&mut *tx, tenant, key);
            tx.commit().await?;
            Ok(true)
        })
    }

    /// Records the certificate of a key stored without one.
    pub async fn set_cert(&self, tenant: &str, kid: &str, cert: &str) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE signing_keys SET cert = $3 WHERE tenant_id = $1 AND kid = $2 AND cert IS NULL")
                .bind(tenant)
                .bind(kid)
                .bind(cert)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Rotates every family that `new_next` holds a key for: its current key becomes a
    /// previous one, its next key current, and the new key next. A family without a next
    /// key is left as it is. Answers each family rotated with its new current key's kid.
    pub async fn rotate(
        &self,
        tenant: &str,
        new_next: &[StoredKey],
        now: i64,
    ) -> Result<Vec<(String, String)>, StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(LOCK_TENANT).bind(tenant).execute(&mut *tx).await?;
            let mut rotated = Vec::new();
            for key in new_next {
                let next: Option<String> = sqlx::query_scalar(
                    "SELECT kid FROM signing_keys WHERE tenant_id = $1 AND algorithm = $2 AND status = 'next'",
                )
                .bind(tenant)
                .bind(&key.algorithm)
                .fetch_optional(&mut *tx)
                .await?;
                let Some(next) = next else { continue };
                sqlx::query(
                    "UPDATE signing_keys SET status = 'previous', current_until = $3 WHERE tenant_id = $1 AND algorithm = $2 AND status = 'current'",
                )
                .bind(tenant)
                .bind(&key.algorithm)
                .bind(now)
                .execute(&mut *tx)
                .await?;
                sqlx::query(
                    "UPDATE signing_keys SET status = 'current', current_since = $3 WHERE tenant_id = $1 AND kid = $2",
                )
                .bind(tenant)
                .bind(next.as_str())
                .bind(now)
                .execute(&mut *tx)
                .await?;
                insert_key!(&mut *tx, tenant, key);
                rotated.push((key.algorithm.clone(), next));
            }
            tx.commit().await?;
            Ok(rotated)
        })
    }

    /// Revokes a previous key: its private key is erased, its certificate kept.
    pub async fn revoke(
        &self,
        tenant: &str,
        kid: &str,
        now: i64,
    ) -> Result<Revocation, StoreError> {
        let select = format!("{LISTING} WHERE tenant_id = $1 AND kid = $2");
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(LOCK_TENANT).bind(tenant).execute(&mut *tx).await?;
            let Some(found) = sqlx::query_as::<_, KeyListing>(&select)
                .bind(tenant)
                .bind(kid)
                .fetch_optional(&mut *tx)
                .await?
            else {
                return Ok(Revocation::NotFound);
            };
            match found.status.as_str() {
                CURRENT | NEXT => return Ok(Revocation::InUse(found)),
                REVOKED => return Ok(Revocation::Revoked(found)),
                _ => {}
            }
            sqlx::query(
                "UPDATE signing_keys SET status = 'revoked', revoked_at = $3, private_key = $4 WHERE tenant_id = $1 AND kid = $2",
            )
            .bind(tenant)
            .bind(kid)
            .bind(now)
            .bind(Vec::<u8>::new())
            .execute(&mut *tx)
            .await?;
            tx.commit().await?;
            Ok(Revocation::Revoked(KeyListing {
                status: REVOKED.into(),
                revoked_at: Some(now),
                ..found
            }))
        })
    }
}
