//! `/api/v2/keys/signing`: the tenant's signing keys as Auth0 lists them, rotation and
//! revocation (docs/signing-keys.md). Both changes reload this node's key ring at once;
//! other nodes reload when they meet an unknown `kid` or when told to.

use crate::error::{Result, ServiceError};
use crate::{Gatehouse, keyring};
use gatehouse_crypto::cert;
use gatehouse_store::keys::{CURRENT, NEXT, PREVIOUS, REVOKED};
use gatehouse_store::{KeyListing, KeyStore, Revocation};
use serde_json::{Map, Value, json};

fn not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_key",
        message: "Signing key does not exist.".into(),
    }
}

/// A key in Auth0's shape: its certificate in PEM and PKCS#7, the certificate's SHA-1 as
/// `fingerprint` and `thumbprint`, its status as booleans and its dates.
pub fn signing_key_json(key: &KeyListing) -> Value {
    let mut out = Map::new();
    out.insert("kid".into(), json!(key.kid));
    let pem = key.cert.clone().unwrap_or_default();
    let der = gatehouse_crypto::jwt::pem_to_der(&pem).unwrap_or_default();
    out.insert("cert".into(), json!(pem));
    out.insert("pkcs7".into(), json!(cert::pkcs7_pem(&der)));
    out.insert("fingerprint".into(), json!(cert::fingerprint(&der)));
    out.insert("thumbprint".into(), json!(cert::thumbprint(&der)));
    for status in [CURRENT, NEXT, PREVIOUS, REVOKED] {
        out.insert(status.into(), json!(key.status == status));
    }
    let date = |ms: Option<i64>| ms.map(gatehouse_core::time::iso8601);
    for (name, at) in [
        ("current_since", date(key.current_since)),
        ("current_until", date(key.current_until)),
        ("revoked_at", date(key.revoked_at)),
    ] {
        if let Some(at) = at {
            out.insert(name.into(), json!(at));
        }
    }
    Value::Object(out)
}

/// The `{cert, kid}` answer of a rotation or revocation.
fn cert_and_kid(key: &KeyListing) -> Value {
    json!({"cert": key.cert.clone().unwrap_or_default(), "kid": key.kid})
}

impl Gatehouse {
    /// The JWKS as `/.well-known/jwks.json` publishes it. The EC keys of the ES256 extension
    /// are in it only while some API signs with ES256: Auth0's own SDKs read every key of a
    /// tenant's JWKS as RSA (auth0-python's token verifier fails with "Not an RSA key"), so a
    /// tenant that does not use ES256 publishes RSA keys only, as Auth0 does.
    /// Read inside a configuration view: a key rotated through another server is published
    /// here from the next request on, and the APIs are not listed on every request.
    pub async fn published_jwks(&self) -> Result<Value> {
        self.with_config_view(async {
            let mut jwks = self.keyring().jwks();
            if !self.cached_es256_in_use().await?
                && let Some(keys) = jwks.get_mut("keys").and_then(Value::as_array_mut)
            {
                keys.retain(|k| k.get("kty").and_then(Value::as_str) != Some("EC"));
            }
            Ok(jwks)
        })
        .await?
    }

    pub(crate) async fn some_api_signs_es256(&self) -> Result<bool> {
        const PAGE: i64 = 100;
        let mut offset = 0;
        loop {
            let (page, total) = self
                .inner
                .resource_servers
                .list(self.tenant(), offset, PAGE)
                .await?;
            if page.iter().any(|a| a.settings.signing_alg == "ES256") {
                return Ok(true);
            }
            offset += page.len() as i64;
            if page.is_empty() || offset >= total {
                return Ok(false);
            }
        }
    }

    fn key_store(&self) -> KeyStore {
        KeyStore::new(self.db().clone())
    }

    /// Every key, revoked ones included: RSA keys (Auth0's) first, then the EC keys of the
    /// ES256 extension.
    pub async fn signing_keys(&self) -> Result<Vec<Value>> {
        let keys = self.key_store().listing(self.tenant()).await?;
        Ok(keys.iter().map(signing_key_json).collect())
    }

    pub async fn signing_key(&self, kid: &str) -> Result<Value> {
        let key = self.key_store().get(self.tenant(), kid).await?;
        key.as_ref().map(signing_key_json).ok_or_else(not_found)
    }

    /// Rotates both families: each next key becomes current (it has been published since
    /// the last rotation, so verifiers already hold it), each current key previous, and new
    /// next keys are made. Answers with the RSA key that now signs.
    pub async fn rotate_signing_keys(&self) -> Result<Value> {
        let now = self.now();
        let issuer = self.config().issuer();
        let fresh =
            keyring::new_next_keys(&self.inner.secrets, keyring::common_name(&issuer), now).await?;
        let store = self.key_store();
        let promoted = store.rotate(self.tenant(), &fresh, now).await?;
        self.reload_keyring().await?;
        let signing = promoted
            .iter()
            .find(|(family, _)| family == keyring::RSA_FAMILY)
            .map(|(_, kid)| kid.clone())
            .ok_or_else(|| ServiceError::broken("no next RSA key to rotate to"))?;
        let key = store
            .get(self.tenant(), &signing)
            .await?
            .ok_or_else(|| ServiceError::broken("the rotated key disappeared"))?;
        tracing::info!(kid = %key.kid, "signing keys rotated");
        Ok(cert_and_kid(&key))
    }

    /// Revokes a previous key: it leaves the JWKS and tokens it signed stop verifying. The
    /// current and next keys are refused (rotate first); revoking twice answers the same.
    pub async fn revoke_signing_key(&self, kid: &str) -> Result<Value> {
        match self
            .key_store()
            .revoke(self.tenant(), kid, self.now())
            .await?
        {
            Revocation::NotFound => Err(not_found()),
            Revocation::InUse(key) => Err(ServiceError::NotSupported(if key.status == CURRENT {
                "The current signing key cannot be revoked; rotate the keys first.".into()
            } else {
                "The next signing key cannot be revoked; it becomes current at the next rotation."
                    .into()
            })),
            Revocation::Revoked(key) => {
                self.reload_keyring().await?;
                tracing::info!(kid = %key.kid, "signing key revoked");
                Ok(cert_and_kid(&key))
            }
        }
    }
}
