//! Password hashing: argon2id at OWASP's minimum cost (m = 19456 KiB, t = 2, p = 1),
//! stored as PHC strings so the cost can rise later without breaking old hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

#[derive(Debug, thiserror::Error)]
pub enum PasswordHashError {
    #[error("password hashing failed: {0}")]
    Hash(String),
}

fn hasher() -> Result<Argon2<'static>, PasswordHashError> {
    let params =
        Params::new(19_456, 2, 1, None).map_err(|e| PasswordHashError::Hash(e.to_string()))?;
    Ok(Argon2::new(Algorithm::Argon2id, Version::V0x13, params))
}

/// Hashes a password into a PHC string. CPU-heavy (~20 ms): call it off the async runtime.
pub fn hash(password: &str) -> Result<String, PasswordHashError> {
    let salt_bytes = crate::random::bytes::<16>()
        .map_err(|_| PasswordHashError::Hash("no randomness".into()))?;
    let salt =
        SaltString::encode_b64(&salt_bytes).map_err(|e| PasswordHashError::Hash(e.to_string()))?;
    Ok(hasher()?
        .hash_password(password.as_bytes(), &salt)
        .map_err(|e| PasswordHashError::Hash(e.to_string()))?
        .to_string())
}

/// Checks a password against a stored hash: an argon2 PHC string, or a hash imported from
/// another system (see [`crate::imported`]); a malformed hash never matches. Comparisons
/// are constant-time.
pub fn verify(password: &str, phc: &str) -> bool {
    if crate::imported::is_imported(phc) {
        return crate::imported::verify(password, phc);
    }
    let Ok(parsed) = PasswordHash::new(phc) else {
        return false;
    };
    // Verify with the parameters recorded in the hash, not today's defaults.
    Argon2::default()
        .verify_password(password.as_bytes(), &parsed)
        .is_ok()
}

/// True when a stored hash is not argon2id at today's cost, so the next successful login
/// should replace it.
pub fn needs_rehash(stored: &str) -> bool {
    !stored.starts_with("$argon2id$v=19$m=19456,t=2,p=1$")
}

#[cfg(test)]
mod tests {
    #[test]
    fn round_trip_and_mismatch() {
        let h = super::hash("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"));
        assert!(super::verify("correct horse", &h));
        assert!(!super::verify("wrong horse", &h));
        assert!(!super::verify("x", "not a hash"));
        assert!(!super::needs_rehash(&h));
        assert!(super::needs_rehash(
            "$2b$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"
        ));
    }
}
