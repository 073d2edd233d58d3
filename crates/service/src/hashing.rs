//! A bounded pool for password hashing. argon2id costs ~20 ms of CPU; run unbounded on the
//! async workers, a burst of sign-ups or logins would starve every other request. Hashes
//! run on blocking threads, at most one per core at a time.

use crate::error::{Result, ServiceError};
use std::sync::Arc;
use tokio::sync::Semaphore;

/// An argon2id hash of a random string at today's cost, verified when a login names an
/// unknown user.
const DUMMY_HASH: &str = "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$2Tq5oHdXkqUZ1jQyZsqX7yV0mAr1JYq3c0B3gk5cE1A";

#[derive(Clone, Debug)]
pub struct PasswordHasher {
    permits: Arc<Semaphore>,
}

impl PasswordHasher {
    pub fn new(concurrency: usize) -> Self {
        Self {
            permits: Arc::new(Semaphore::new(concurrency.max(1))),
        }
    }

    pub fn for_this_machine() -> Self {
        Self::new(
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(2),
        )
    }

    pub async fn hash(&self, password: String) -> Result<String> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(move || gatehouse_crypto::password::hash(&password))
            .await
            .map_err(ServiceError::internal)?
            .map_err(ServiceError::internal)
    }

    /// Checks a password against a stored hash, or against a fixed dummy hash when the user
    /// does not exist, so that both answers take the same time.
    pub async fn verify(&self, password: String, hash: Option<String>) -> Result<bool> {
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(move || match hash {
            Some(h) => gatehouse_crypto::password::verify(&password, &h),
            None => {
                let _ = gatehouse_crypto::password::verify(&password, DUMMY_HASH);
                false
            }
        })
        .await
        .map_err(ServiceError::internal)
    }

    /// True when `password` matches any of `hashes` (used for password history).
    pub async fn matches_any(&self, password: String, hashes: Vec<String>) -> Result<bool> {
        if hashes.is_empty() {
            return Ok(false);
        }
        let _permit = self
            .permits
            .acquire()
            .await
            .map_err(ServiceError::internal)?;
        tokio::task::spawn_blocking(move || {
            hashes
                .iter()
                .any(|h| gatehouse_crypto::password::verify(&password, h))
        })
        .await
        .map_err(ServiceError::internal)
    }
}
