//! Signing keys: RSA keys generated once (the `rsa` crate, since ring cannot generate RSA
//! keys) and EC P-256 keys (ring), stored as PKCS#8 and parsed into ring key pairs once at
//! load so that signing a token never re-parses a key. One RSA key signs both RS256 and
//! PS256; an EC key signs ES256 only.

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{self, EcdsaKeyPair, KeyPair, RsaKeyPair};
use serde_json::{Value, json};
use sha2_like::sha256;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("key generation failed: {0}")]
    Generate(String),
    #[error("stored key is not a valid RSA PKCS#8 key: {0}")]
    Parse(String),
    #[error("stored key is not a valid EC P-256 PKCS#8 key: {0}")]
    ParseEc(String),
    #[error("signing failed")]
    Sign,
}

/// The JWS algorithms Gatehouse signs with. HMAC and `none` are not among them: a token
/// naming either is refused by every verifier here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Algorithm {
    /// RSASSA-PKCS1-v1_5 with SHA-256: Auth0's default.
    Rs256,
    /// RSASSA-PSS with SHA-256, same RSA key.
    Ps256,
    /// ECDSA P-256 with SHA-256 (a Gatehouse extension for APIs).
    Es256,
}

impl Algorithm {
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Rs256 => "RS256",
            Algorithm::Ps256 => "PS256",
            Algorithm::Es256 => "ES256",
        }
    }

    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "PS256" => Some(Algorithm::Ps256),
            "ES256" => Some(Algorithm::Es256),
            _ => None,
        }
    }

    /// Every algorithm a token of ours may carry.
    pub const ALL: &'static [Algorithm] = &[Algorithm::Rs256, Algorithm::Ps256, Algorithm::Es256];
}

/// What an ID token of ours may be signed with (an application's `jwt_configuration.alg`).
pub const ID_TOKEN_ALGORITHMS: &[Algorithm] = &[Algorithm::Rs256, Algorithm::Ps256];

/// A public key that checks signatures of some algorithms: a token's `alg` is checked
/// against the key's type, so an RSA key never checks an HMAC or ECDSA signature.
pub trait Verifier {
    fn kid(&self) -> &str;
    fn verifies(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool;
}

/// The public half of a signing key, as published in the JWKS.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PublicKey {
    pub kid: String,
    pub n: Vec<u8>,
    pub e: Vec<u8>,
}

impl PublicKey {
    /// The JWK, without `alg`: one RSA key signs both RS256 and PS256, and a JWK naming one
    /// algorithm makes strict libraries (`jose`, `oauth4webapi`) refuse the other with it
    /// (docs/signing-keys.md).
    pub fn jwk(&self) -> Value {
        json!({
            "kty": "RSA",
            "use": "sig",
            "kid": self.kid,
            "n": URL_SAFE_NO_PAD.encode(&self.n),
            "e": URL_SAFE_NO_PAD.encode(&self.e),
        })
    }

    /// Verifies an RS256 (RSASSA-PKCS1-v1_5, SHA-256) signature.
    pub fn verify(&self, message: &[u8], sig: &[u8]) -> bool {
        self.verifies(Algorithm::Rs256, message, sig)
    }
}

impl Verifier for PublicKey {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        let params = match alg {
            Algorithm::Rs256 => &signature::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Ps256 => &signature::RSA_PSS_2048_8192_SHA256,
            Algorithm::Es256 => return false,
        };
        signature::RsaPublicKeyComponents {
            n: &self.n,
            e: &self.e,
        }
        .verify(params, message, sig)
        .is_ok()
    }
}

/// The public half of an EC P-256 signing key: its uncompressed point (`04 || x || y`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EcPublicKey {
    pub kid: String,
    pub point: Vec<u8>,
}

impl EcPublicKey {
    fn coordinates(&self) -> (&[u8], &[u8]) {
        let xy = self.point.get(1..).unwrap_or_default();
        xy.split_at(xy.len() / 2)
    }

    /// The JWK, with `alg` (an EC P-256 key signs ES256 and nothing else).
    pub fn jwk(&self) -> Value {
        let (x, y) = self.coordinates();
        json!({
            "kty": "EC",
            "use": "sig",
            "alg": "ES256",
            "crv": "P-256",
            "kid": self.kid,
            "x": URL_SAFE_NO_PAD.encode(x),
            "y": URL_SAFE_NO_PAD.encode(y),
        })
    }
}

impl Verifier for EcPublicKey {
    fn kid(&self) -> &str {
        &self.kid
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        alg == Algorithm::Es256
            && signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.point)
                .verify(message, sig)
                .is_ok()
    }
}

/// A key we publish: RSA (RS256, PS256) or EC P-256 (ES256).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum VerifyingKey {
    Rsa(PublicKey),
    Ec(EcPublicKey),
}

impl Verifier for VerifyingKey {
    fn kid(&self) -> &str {
        match self {
            VerifyingKey::Rsa(k) => &k.kid,
            VerifyingKey::Ec(k) => &k.kid,
        }
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        match self {
            VerifyingKey::Rsa(k) => k.verifies(alg, message, sig),
            VerifyingKey::Ec(k) => k.verifies(alg, message, sig),
        }
    }
}

impl<T: Verifier + ?Sized> Verifier for &T {
    fn kid(&self) -> &str {
        (**self).kid()
    }

    fn verifies(&self, alg: Algorithm, message: &[u8], sig: &[u8]) -> bool {
        (**self).verifies(alg, message, sig)
    }
}

/// A private key with the algorithm it signs a token with.
pub trait Signer {
    fn kid(&self) -> &str;
    fn algorithm(&self) -> Algorithm;
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError>;
}

/// A private RSA key ready to sign.
pub struct SigningKey {
    /// Parses the key and gives its public half.
    pair: RsaKeyPair,
    /// Signs: AWS-LC's RSA is 1.7× faster than ring's on these machines (348 against 586 µs
    /// per RS256 signature, docs/benchmarks.md), and a signature is most of a token's cost.
    signer: aws_lc_rs::signature::RsaKeyPair,
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
        let signer = aws_lc_rs::signature::RsaKeyPair::from_pkcs8(der)
            .map_err(|e| KeyError::Parse(e.to_string()))?;
        let components = signature::RsaPublicKeyComponents::<Vec<u8>>::from(pair.public());
        let (n, e) = (components.n, components.e);
        let kid = thumbprint(&n, &e);
        Ok(Self {
            pair,
            signer,
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

    /// The PKCS#1 `RSAPublicKey` DER (what a certificate's key info wraps).
    pub fn public_der(&self) -> &[u8] {
        self.pair.public().as_ref()
    }

    /// An RS256 signature.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_with(Algorithm::Rs256, message)
    }

    /// An RS256 or PS256 signature (PSS salts with fresh randomness each time).
    pub fn sign_with(&self, alg: Algorithm, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        use aws_lc_rs::signature as lc;
        let padding: &'static dyn lc::RsaEncoding = match alg {
            Algorithm::Rs256 => &lc::RSA_PKCS1_SHA256,
            Algorithm::Ps256 => &lc::RSA_PSS_SHA256,
            Algorithm::Es256 => return Err(KeyError::Sign),
        };
        let mut sig = vec![0u8; self.signer.public_modulus_len()];
        self.signer
            .sign(
                padding,
                &aws_lc_rs::rand::SystemRandom::new(),
                message,
                &mut sig,
            )
            .map_err(|_| KeyError::Sign)?;
        Ok(sig)
    }
}

/// An RSA key signs RS256 unless told otherwise ([`Pss`]).
impl Signer for SigningKey {
    fn kid(&self) -> &str {
        SigningKey::kid(self)
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Rs256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.sign_with(Algorithm::Rs256, message)
    }
}

/// An RSA key signing PS256.
pub struct Pss<'k>(pub &'k SigningKey);

impl Signer for Pss<'_> {
    fn kid(&self) -> &str {
        self.0.kid()
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Ps256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        self.0.sign_with(Algorithm::Ps256, message)
    }
}

/// A private EC P-256 key ready to sign ES256.
pub struct EcSigningKey {
    pair: EcdsaKeyPair,
    pkcs8: Vec<u8>,
    public: EcPublicKey,
}

impl std::fmt::Debug for EcSigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EcSigningKey")
            .field("kid", &self.public.kid)
            .finish_non_exhaustive()
    }
}

impl EcSigningKey {
    pub fn generate() -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let der = EcdsaKeyPair::generate_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|e| KeyError::Generate(e.to_string()))?;
        Self::from_pkcs8(der.as_ref())
    }

    pub fn from_pkcs8(der: &[u8]) -> Result<Self, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&signature::ECDSA_P256_SHA256_FIXED_SIGNING, der, &rng)
            .map_err(|e| KeyError::ParseEc(e.to_string()))?;
        let point = pair.public_key().as_ref().to_vec();
        let mut public = EcPublicKey {
            kid: String::new(),
            point,
        };
        let (x, y) = public.coordinates();
        let canonical = format!(
            r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
            URL_SAFE_NO_PAD.encode(x),
            URL_SAFE_NO_PAD.encode(y)
        );
        public.kid = URL_SAFE_NO_PAD.encode(sha256(canonical.as_bytes()));
        Ok(Self {
            pair,
            pkcs8: der.to_vec(),
            public,
        })
    }

    pub fn kid(&self) -> &str {
        &self.public.kid
    }

    pub fn pkcs8(&self) -> &[u8] {
        &self.pkcs8
    }

    pub fn public(&self) -> &EcPublicKey {
        &self.public
    }

    /// An ASN.1 DER ECDSA signature, the form X.509 certificates carry (tokens carry the
    /// fixed-width form [`Signer::sign`] makes).
    pub fn sign_der(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(
            &signature::ECDSA_P256_SHA256_ASN1_SIGNING,
            &self.pkcs8,
            &rng,
        )
        .map_err(|e| KeyError::ParseEc(e.to_string()))?;
        Ok(pair
            .sign(&rng, message)
            .map_err(|_| KeyError::Sign)?
            .as_ref()
            .to_vec())
    }
}

impl Signer for EcSigningKey {
    fn kid(&self) -> &str {
        &self.public.kid
    }

    fn algorithm(&self) -> Algorithm {
        Algorithm::Es256
    }

    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, KeyError> {
        Ok(self
            .pair
            .sign(&ring::rand::SystemRandom::new(), message)
            .map_err(|_| KeyError::Sign)?
            .as_ref()
            .to_vec())
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
