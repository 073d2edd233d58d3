//! Gatehouse's cryptography, in one place so its choices are reviewed together: argon2id
//! password hashes (and the imported algorithms they replace), RSA and EC P-256 signing keys,
//! RS256/PS256/ES256 JWTs (ring, keys parsed once) and the keys' self-signed certificates,
//! AES-256-GCM for secrets at rest, and random identifiers.

pub mod cert;
pub mod imported;
pub mod jwt;
pub mod keys;
pub mod password;
pub mod random;
pub mod secretbox;

pub use subtle::ConstantTimeEq;

/// Constant-time equality for secrets (client secrets, tokens).
pub fn ct_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && bool::from(a.ct_eq(b))
}

/// Lower-case hex of bytes.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex MD5, for Gravatar URLs only (never for secrets).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    hex(&Md5::digest(data))
}

/// Hex SHA-256, for storing high-entropy tokens (refresh tokens) without their value.
pub fn sha256_hex(data: &[u8]) -> String {
    hex(ring::digest::digest(&ring::digest::SHA256, data).as_ref())
}

fn b64url(data: &[u8]) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

/// PKCE S256 (RFC 7636 §4.2): `BASE64URL(SHA256(verifier))`.
pub fn pkce_s256(verifier: &str) -> String {
    b64url(ring::digest::digest(&ring::digest::SHA256, verifier.as_bytes()).as_ref())
}

/// OIDC `at_hash` for RS256 tokens: the left half of the SHA-256 of the access token.
pub fn at_hash(access_token: &str) -> String {
    let d = ring::digest::digest(&ring::digest::SHA256, access_token.as_bytes());
    b64url(&d.as_ref()[..16])
}

/// Upper-case hex SHA-1, only for the Pwned Passwords range protocol (never for storage).
pub fn sha1_hex_upper(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

#[cfg(test)]
mod pkce_tests {
    #[test]
    fn rfc7636_appendix_b() {
        assert_eq!(
            super::pkce_s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
    }
}
