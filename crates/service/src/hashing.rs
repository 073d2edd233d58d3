//! A bounded pool for password hashing. argon2id costs ~20 ms of CPU; run unbounded on the
//! async workers, a burst of sign-ups or logins would starve every other request. Hashes
//! run on blocking threads, at most one per core at a time.

use crate::error::{Result, ServiceError};
use std::sync::Arc;
use tokio::sync::Semaphore;

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
