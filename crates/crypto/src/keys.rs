//! RSA signing keys: generated once (the `rsa` crate, since ring cannot generate RSA keys),
//! stored as PKCS#8, and parsed into ring key pairs once at load so that signing a token
//! never re-parses a key.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, RsaKeyPair};
use serde_json::{Value, json};
use sha2_like::sha256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key is not a valid RSA PKCS#8 key: {0}")]
    Parse(String),
    #[error("signing failed")]
    Sign,
}

/// The public half of a signing key, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl PublicKey {
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "alg": "RS256",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Verifies an RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(&signature::RSA_PKCS1_2048_8192_SHA256, message, sig)
        .is_ok()
    }
}

/// A private RSA key ready to sign.
pub struct SigningKey {
    pair: RsaKeyPair,
    pkcs8: Vec<u8>,
    public: PublicKey,
}

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl SigningKey {
    /// A fresh 2048-bit key (what Auth0 issues; verifiers everywhere accept it).
    pub fn generate() -> Result<Self, KeyError> {
        use rsa::pkcs8::EncodePrivateKey;
        let key = rsa::RsaPrivateKey::new(&mut rand_core::OsRng, 2048)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        let der = key
            .to_pkcs8_der()
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(der.as_bytes())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let pair = RsaKeyPair::from_pkcs8(der).map_err(|e| KeyError::Parse(e.to_string()))?;
        let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (components.n, components.e);
        let kid = thumbprint(&n, &e);
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            public: PublicKey { kid, n, e },
        })
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public(&self) -> &PublicKey {
        &self.public
    }

    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let mut sig = vec![0u8; self.pair.public().modulus_len()];
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(sig)
    }
}

/// RFC 7638 JWK thumbprint: a stable `kid` derived from the public key itself.
fn thumbprint(n: &[u8], e: &[u8]) -> String {
    let canonical = format!(
        r#"{{"e":"{}","kty":"RSA","n":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(e),
        URL_SAFE_NO_PAD.encode(n)
    );
    URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()))
}

mod sha2_like {
    pub fn sha256(data: &[u8]) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, data)
            .as_ref()
            .to_vec()
    }
}
