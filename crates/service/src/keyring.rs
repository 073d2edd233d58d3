//! The tenant's signing keys, decrypted and parsed once per load: one RSA family (RS256 and
//! PS256) and one EC P-256 family (ES256), each with a current key that signs, a next key
//! published before it signs, and previous keys published until revoked
//! (docs/signing-keys.md). A load makes what is missing (a family's current or next key), so
//! a ring always has a next key to rotate to.

use crate::error::{Result, ServiceError};
use gatehouse_crypto::cert::{self, CertKey};
use gatehouse_crypto::keys::{
    Algorithm, EcSigningKey, KeyError, Pss, Signer, SigningKey, Verifier, VerifyingKey,
};
use gatehouse_crypto::secretbox::SecretBox;
use gatehouse_store::keys::{CURRENT, NEXT, PREVIOUS};
use gatehouse_store::{KeyStore, StoredKey};
use serde_json::{Value, json};

/// The `algorithm` column of RSA keys (which sign PS256 too).
pub const RSA_FAMILY: &str = "RS256";
/// The `algorithm` column of EC P-256 keys.
pub const EC_FAMILY: &str = "ES256";

pub struct KeyRing {
    rsa: SigningKey,
    ec: EcSigningKey,
    /// Current keys first, then next, then previous ones; RSA before EC.
    published: Vec<VerifyingKey>,
    jwks: Value,
    /// Each loaded key's kid and status, to tell whether a reload found anything new.
    statuses: Vec<(String, String)>,
}

fn purpose(kid: &str) -> String {
    format!("signing_key:{kid}")
}

/// A parsed private key of either family.
enum Private {
    Rsa(SigningKey),
    Ec(EcSigningKey),
}

impl Private {
    fn kid(&self) -> &str {
        match self {
            Private::Rsa(k) => k.kid(),
            Private::Ec(k) => k.kid(),
        }
    }

    fn family(&self) -> &'static str {
        match self {
            Private::Rsa(_) => RSA_FAMILY,
            Private::Ec(_) => EC_FAMILY,
        }
    }

    fn pkcs8(&self) -> &[u8] {
        match self {
            Private::Rsa(k) => k.pkcs8(),
            Private::Ec(k) => k.pkcs8(),
        }
    }

    fn cert_key(&self) -> CertKey<'_> {
        match self {
            Private::Rsa(k) => CertKey::Rsa(k),
            Private::Ec(k) => CertKey::Ec(k),
        }
    }

    fn verifying(&self) -> VerifyingKey {
        match self {
            Private::Rsa(k) => VerifyingKey::Rsa(k.public().clone()),
            Private::Ec(k) => VerifyingKey::Ec(k.public().clone()),
        }
    }

    fn jwk(&self, cert_der: &[u8]) -> Value {
        let mut jwk = match self {
            Private::Rsa(k) => k.public().jwk(),
            Private::Ec(k) => k.public().jwk(),
        };
        if let Value::Object(m) = &mut jwk {
            m.insert("x5c".into(), json!([cert::x5c(cert_der)]));
            m.insert("x5t".into(), json!(cert::x5t(cert_der)));
        }
        jwk
    }
}

/// A fresh key of `family`, made off the async threads (an RSA key takes a while).
async fn generate(family: &str) -> Result<Private> {
    let rsa = family == RSA_FAMILY;
    tokio::task::spawn_blocking(move || {
        if rsa {
            SigningKey::generate().map(Private::Rsa)
        } else {
            EcSigningKey::generate().map(Private::Ec)
        }
    })
    .await
    .map_err(ServiceError::internal)?
    .map_err(ServiceError::internal)
}

/// What a new key is stored as: sealed, with its certificate.
fn to_stored(
    key: &Private,
    status: &str,
    secrets: &SecretBox,
    common_name: &str,
    now: i64,
) -> Result<StoredKey> {
    let der = cert::self_signed(key.cert_key(), common_name, now / 1000)
        .map_err(ServiceError::internal)?;
    Ok(StoredKey {
        kid: key.kid().to_string(),
        algorithm: key.family().into(),
        private_key: secrets
            .seal(&purpose(key.kid()), key.pkcs8())
            .map_err(ServiceError::internal)?,
        status: status.into(),
        created_at: now,
        cert: Some(cert::pem(&der)),
        current_since: (status == CURRENT).then_some(now),
        current_until: None,
        revoked_at: None,
    })
}

/// A new key for each family, to become next at a rotation.
pub(crate) async fn new_next_keys(
    secrets: &SecretBox,
    common_name: &str,
    now: i64,
) -> Result<Vec<StoredKey>> {
    let mut out = Vec::with_capacity(2);
    for family in [RSA_FAMILY, EC_FAMILY] {
        let key = generate(family).await?;
        out.push(to_stored(&key, NEXT, secrets, common_name, now)?);
    }
    Ok(out)
}

/// The certificate's common name: the issuer's host (the tenant's domain, as Auth0 names it).
pub(crate) fn common_name(issuer: &str) -> &str {
    let rest = issuer.split_once("://").map_or(issuer, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

fn sorted_statuses(stored: &[StoredKey]) -> Vec<(String, String)> {
    let mut s: Vec<(String, String)> = stored
        .iter()
        .map(|k| (k.kid.clone(), k.status.clone()))
        .collect();
    s.sort();
    s
}

impl KeyRing {
    /// Loads the tenant's keys, first storing what is missing: on a database's first start
    /// the current RSA key is `first` (a PKCS#8 key given by the configuration) or a newly
    /// generated one; each family gets a current and a next key.
    pub async fn load_or_create(
        store: &KeyStore,
        tenant: &str,
        secrets: &SecretBox,
        first: Option<&[u8]>,
        common_name: &str,
        now: i64,
    ) -> Result<Self> {
        let mut stored = store.list(tenant).await?;
        let mut added = false;
        for family in [RSA_FAMILY, EC_FAMILY] {
            for status in [CURRENT, NEXT] {
                if stored
                    .iter()
                    .any(|k| k.algorithm == family && k.status == status)
                {
                    continue;
                }
                let key = match (first, family, status) {
                    (Some(der), RSA_FAMILY, CURRENT) => {
                        Private::Rsa(SigningKey::from_pkcs8(der).map_err(ServiceError::internal)?)
                    }
                    _ => generate(family).await?,
                };
                let row = to_stored(&key, status, secrets, common_name, now)?;
                // Another node starting at the same time may have stored one first: then
                // that one is kept and this one dropped.
                if store.insert_unless_present(tenant, &row).await? {
                    tracing::info!(kid = key.kid(), family, status, "signing key stored");
                }
                added = true;
            }
        }
        if added {
            stored = store.list(tenant).await?;
        }
        Self::from_stored(store, tenant, secrets, common_name, &stored).await
    }

    /// Reloads from the store when its keys or their statuses changed; `None` when they did
    /// not (nothing is decrypted or parsed then).
    pub(crate) async fn reload(
        &self,
        store: &KeyStore,
        tenant: &str,
        secrets: &SecretBox,
        common_name: &str,
        now: i64,
    ) -> Result<Option<Self>> {
        let stored = store.list(tenant).await?;
        if sorted_statuses(&stored) == self.statuses {
            return Ok(None);
        }
        let complete = [RSA_FAMILY, EC_FAMILY].iter().all(|f| {
            [CURRENT, NEXT]
                .iter()
                .all(|s| stored.iter().any(|k| k.algorithm == *f && k.status == *s))
        });
        if complete {
            Self::from_stored(store, tenant, secrets, common_name, &stored)
                .await
                .map(Some)
        } else {
            Self::load_or_create(store, tenant, secrets, None, common_name, now)
                .await
                .map(Some)
        }
    }

    async fn from_stored(
        store: &KeyStore,
        tenant: &str,
        secrets: &SecretBox,
        common_name: &str,
        stored: &[StoredKey],
    ) -> Result<Self> {
        let rank = |status: &str| match status {
            CURRENT => 0,
            NEXT => 1,
            PREVIOUS => 2,
            _ => 3,
        };
        let mut ordered: Vec<&StoredKey> = stored.iter().collect();
        // RSA first, then by status, newest first within one.
        ordered.sort_by_key(|k| {
            (
                k.algorithm != RSA_FAMILY,
                rank(&k.status),
                std::cmp::Reverse(k.created_at),
            )
        });
        let mut rsa = None;
        let mut ec = None;
        let mut published = Vec::with_capacity(ordered.len());
        let mut jwks = Vec::with_capacity(ordered.len());
        for k in ordered {
            let der = secrets.open(&purpose(&k.kid), &k.private_key).map_err(|e| {
                ServiceError::broken(format!("signing key {} cannot be decrypted ({e}); is GATEHOUSE_SECRET_KEY the one this database was created with?", k.kid))
            })?;
            let key = match k.algorithm.as_str() {
                EC_FAMILY => EcSigningKey::from_pkcs8(&der).map(Private::Ec),
                _ => SigningKey::from_pkcs8(&der).map(Private::Rsa),
            }
            .map_err(ServiceError::internal)?;
            let cert_der = match k
                .cert
                .as_deref()
                .and_then(gatehouse_crypto::jwt::pem_to_der)
            {
                Some(der) => der,
                None => {
                    // A key stored before certificates were: its certificate is made (the
                    // same every time for an RSA key) and kept.
                    let der = cert::self_signed(key.cert_key(), common_name, k.created_at / 1000)
                        .map_err(ServiceError::internal)?;
                    store.set_cert(tenant, &k.kid, &cert::pem(&der)).await?;
                    der
                }
            };
            published.push(key.verifying());
            jwks.push(key.jwk(&cert_der));
            match key {
                Private::Rsa(r) if k.status == CURRENT && rsa.is_none() => rsa = Some(r),
                Private::Ec(e) if k.status == CURRENT && ec.is_none() => ec = Some(e),
                _ => {}
            }
        }
        let (Some(rsa), Some(ec)) = (rsa, ec) else {
            return Err(ServiceError::broken(
                "the signing keys have no current RSA or EC key",
            ));
        };
        Ok(Self {
            rsa,
            ec,
            published,
            jwks: json!({ "keys": jwks }),
            statuses: sorted_statuses(stored),
        })
    }

    /// The current RSA key (RS256).
    pub fn current(&self) -> &SigningKey {
        &self.rsa
    }

    /// The current key of `alg`'s family, signing with `alg`.
    pub fn signer(&self, alg: Algorithm) -> KeySigner<'_> {
        match alg {
            Algorithm::Rs256 => KeySigner::Rsa(&self.rsa),
            Algorithm::Ps256 => KeySigner::Pss(Pss(&self.rsa)),
            Algorithm::Es256 => KeySigner::Ec(&self.ec),
        }
    }

    pub fn published(&self) -> &[VerifyingKey] {
        &self.published
    }

    /// Whether a key of this ring has `kid`.
    pub fn knows(&self, kid: &str) -> bool {
        self.published.iter().any(|k| k.kid() == kid)
    }

    pub fn jwks(&self) -> Value {
        self.jwks.clone()
    }
}

/// A current key of the ring with the algorithm it signs a token with.
pub enum KeySigner<'k> {
    Rsa(&'k SigningKey),
    Pss(Pss<'k>),
    Ec(&'k EcSigningKey),
}

impl Signer for KeySigner<'_> {
    fn kid(&self) -> &str {
        match self {
            KeySigner::Rsa(k) => Signer::kid(*k),
            KeySigner::Pss(k) => k.kid(),
            KeySigner::Ec(k) => Signer::kid(*k),
        }
    }

    fn algorithm(&self) -> Algorithm {
        match self {
            KeySigner::Rsa(k) => k.algorithm(),
            KeySigner::Pss(k) => k.algorithm(),
            KeySigner::Ec(k) => k.algorithm(),
        }
    }

    fn sign(&self, message: &[u8]) -> std::result::Result<Vec<u8>, KeyError> {
        match self {
            KeySigner::Rsa(k) => Signer::sign(*k, message),
            KeySigner::Pss(k) => k.sign(message),
            KeySigner::Ec(k) => Signer::sign(*k, message),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_common_name_is_the_issuers_host() {
        assert_eq!(
            common_name("https://tenant.example.com/"),
            "tenant.example.com"
        );
        assert_eq!(common_name("http://127.0.0.1:3000/"), "127.0.0.1:3000");
    }
}
