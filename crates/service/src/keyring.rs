//! The tenant's signing keys, decrypted and parsed once at start-up.

use crate::error::{Result, ServiceError};
use gatehouse_crypto::keys::{PublicKey, SigningKey};
use gatehouse_crypto::secretbox::SecretBox;
use gatehouse_store::{KeyStore, StoredKey};
use serde_json::{Value, json};

pub struct KeyRing {
    current: SigningKey,
    published: Vec<PublicKey>,
}

fn purpose(kid: &str) -> String {
    format!("signing_key:{kid}")
}

impl KeyRing {
    /// Loads the tenant's keys; on a database's first start, stores `first` (a PKCS#8 key
    /// given by the configuration) or a newly generated key.
    pub async fn load_or_create(
        store: &KeyStore,
        tenant: &str,
        secrets: &SecretBox,
        first: Option<&[u8]>,
        now: i64,
    ) -> Result<Self> {
        let stored = store.list(tenant).await?;
        let mut keys = Vec::with_capacity(stored.len());
        for k in &stored {
            let der = secrets.open(&purpose(&k.kid), &k.private_key).map_err(|e| {
                ServiceError::broken(format!("signing key {} cannot be decrypted ({e}); is GATEHOUSE_SECRET_KEY the one this database was created with?", k.kid))
            })?;
            let key = SigningKey::from_pkcs8(&der).map_err(ServiceError::internal)?;
            keys.push((k.status.clone(), key));
        }
        if keys.is_empty() {
            let key = match first {
                Some(der) => SigningKey::from_pkcs8(der).map_err(ServiceError::internal)?,
                None => tokio::task::spawn_blocking(SigningKey::generate)
                    .await
                    .map_err(ServiceError::internal)?
                    .map_err(ServiceError::internal)?,
            };
            let sealed = secrets
                .seal(&purpose(key.kid()), key.pkcs8())
                .map_err(ServiceError::internal)?;
            store
                .insert(
                    tenant,
                    &StoredKey {
                        kid: key.kid().to_string(),
                        algorithm: "RS256".into(),
                        private_key: sealed,
                        status: "current".into(),
                        created_at: now,
                    },
                )
                .await?;
            tracing::info!(kid = key.kid(), "first signing key stored");
            keys.push(("current".into(), key));
        }
        let published = keys.iter().map(|(_, k)| k.public().clone()).collect();
        let current_idx = keys
            .iter()
            .rposition(|(s, _)| s == "current")
            .unwrap_or(keys.len() - 1);
        let current = keys.swap_remove(current_idx).1;
        Ok(Self { current, published })
    }

    pub fn current(&self) -> &SigningKey {
        &self.current
    }

    pub fn published(&self) -> &[PublicKey] {
        &self.published
    }

    pub fn jwks(&self) -> Value {
        json!({ "keys": self.published.iter().map(PublicKey::jwk).collect::<Vec<_>>() })
    }
}
