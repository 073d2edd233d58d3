//! Gatehouse's cryptography, in one place so its choices are reviewed together: argon2id
//! password hashes, RSA signing keys and RS256 JWTs (ring, keys parsed once), AES-256-GCM
//! for secrets at rest, and random identifiers.

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

/// Hex MD5, for Gravatar URLs only (never for secrets).
pub fn md5_hex(data: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(data);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

/// Hex SHA-256, for storing high-entropy tokens (refresh tokens) without their value.
pub fn sha256_hex(data: &[u8]) -> String {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}
