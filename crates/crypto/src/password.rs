//! Password hashing: argon2id at OWASP's minimum cost (m = 19456 KiB, t = 2, p = 1),
//! stored as PHC strings so the cost can rise later without breaking old hashes.

use argon2::password_hash::{Output, ParamsString, PasswordHash, SaltString};
use argon2::{Algorithm, Argon2, Block, Params, Version};
use std::sync::{Mutex, PoisonError};

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
    let argon2 = hasher()?;
    let params = argon2.params().clone();
    let mut out = [0u8; Params::DEFAULT_OUTPUT_LEN];
    with_blocks(params.block_count(), |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), &salt_bytes, &mut out, blocks)
    })
    .map_err(|e| PasswordHashError::Hash(e.to_string()))?;
    let phc = PasswordHash {
        algorithm: Algorithm::Argon2id.ident(),
        version: Some(Version::V0x13.into()),
        params: ParamsString::try_from(&params)
            .map_err(|e| PasswordHashError::Hash(e.to_string()))?,
        salt: Some(salt.as_salt()),
        hash: Some(Output::new(&out).map_err(|e| PasswordHashError::Hash(e.to_string()))?),
    };
    Ok(phc.to_string())
}

/// Argon2's working memory (19 MiB at today's cost), kept for the next hash instead of
/// allocated and zeroed for each: the zeroing alone was 6-8 % of a login's CPU, and a buffer
/// used again is still in the caches. Argon2 writes every block before it reads it, so what a
/// buffer held before never reaches a result. A few buffers are kept (one per hashing thread
/// at once, so up to 4 × 19 MiB stays allocated for the life of the process); larger ones
/// (imported hashes up to 64 MiB) are allocated for their hash only.
static SPARE_BLOCKS: Mutex<Vec<Vec<Block>>> = Mutex::new(Vec::new());
const SPARE_BUFFERS: usize = 4;
const SPARE_MAX_BLOCKS: usize = 19_456;

/// Runs `hash` with at least `count` blocks of working memory.
fn with_blocks<T>(count: usize, hash: impl FnOnce(&mut [Block]) -> T) -> T {
    let spare = if count <= SPARE_MAX_BLOCKS {
        SPARE_BLOCKS
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop()
    } else {
        None
    };
    let mut blocks = spare.unwrap_or_default();
    if blocks.len() < count {
        blocks.resize(count, Block::default());
    }
    let result = hash(&mut blocks);
    if blocks.len() <= SPARE_MAX_BLOCKS {
        let mut spares = SPARE_BLOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        if spares.len() < SPARE_BUFFERS {
            spares.push(blocks);
        }
    }
    result
}

/// Whether `password` gives the argon2 hash `phc` records, computed with its algorithm,
/// version, parameters and salt (as the argon2 crate's own verifier does, in kept memory).
fn argon2_matches(password: &str, phc: &PasswordHash<'_>) -> Option<bool> {
    let algorithm = Algorithm::try_from(phc.algorithm).ok()?;
    let version = match phc.version {
        Some(v) => Version::try_from(v).ok()?,
        None => Version::default(),
    };
    let params = Params::try_from(phc).ok()?;
    let mut salt = [0u8; 64];
    let salt = phc.salt?.decode_b64(&mut salt).ok()?;
    let expected = phc.hash?;
    let mut out = vec![0u8; expected.len()];
    let count = params.block_count();
    let argon2 = Argon2::new(algorithm, version, params);
    with_blocks(count, |blocks| {
        argon2.hash_password_into_with_memory(password.as_bytes(), salt, &mut out, blocks)
    })
    .ok()?;
    Some(crate::ct_eq(&out, expected.as_bytes()))
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
    argon2_matches(password, &parsed).unwrap_or(false)
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

    /// Hashes made by the argon2 crate's own hasher, with every algorithm, both versions,
    /// several costs, lanes, output lengths and associated data, in an order that makes a
    /// kept buffer sometimes larger and sometimes smaller than the next hash needs (and one
    /// past the size kept at all): ours must accept exactly what the crate's verifier does.
    #[test]
    fn verifies_what_the_argon2_crate_hashes() {
        use argon2::password_hash::{PasswordHasher, SaltString};
        use argon2::{Algorithm, Argon2, AssociatedData, ParamsBuilder, Version};
        let cases = [
            (
                Algorithm::Argon2id,
                Version::V0x13,
                19_456,
                2,
                1,
                None,
                None,
            ),
            (
                Algorithm::Argon2i,
                Version::V0x13,
                1_024,
                3,
                1,
                Some(16),
                None,
            ),
            (
                Algorithm::Argon2d,
                Version::V0x10,
                8_192,
                1,
                2,
                Some(64),
                None,
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                32_768,
                1,
                4,
                None,
                None,
            ),
            (
                Algorithm::Argon2id,
                Version::V0x10,
                4_096,
                2,
                1,
                Some(32),
                Some(&b"ctx"[..]),
            ),
            (
                Algorithm::Argon2id,
                Version::V0x13,
                19_456,
                2,
                1,
                None,
                None,
            ),
        ];
        for (i, (algorithm, version, m, t, p, len, data)) in cases.into_iter().enumerate() {
            let mut params = ParamsBuilder::new();
            params.m_cost(m).t_cost(t).p_cost(p);
            if let Some(len) = len {
                params.output_len(len);
            }
            if let Some(data) = data {
                params.data(AssociatedData::new(data).unwrap());
            }
            let params = params.build().unwrap();
            let salt = SaltString::encode_b64(&crate::random::bytes::<16>().unwrap()).unwrap();
            let password = format!("pässwörd-{i}-🔑");
            let reference = Argon2::new(algorithm, version, params)
                .hash_password(password.as_bytes(), &salt)
                .unwrap()
                .to_string();
            assert!(
                super::verify(&password, &reference),
                "case {i}: {reference}"
            );
            assert!(
                !super::verify(&format!("{password}x"), &reference),
                "case {i}"
            );
            assert!(!super::verify("", &reference), "case {i}");
        }
    }

    /// Strings at the edges of the PHC format get the same answer from ours as from the
    /// argon2 crate's verifier: no version (argon2 1.3 assumed), a key id, an unknown or
    /// duplicated parameter, a salt or hash too short, no hash, another algorithm.
    #[test]
    fn answers_as_the_argon2_crate_on_odd_strings() {
        use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
        use argon2::{Algorithm, Argon2, Params, Version};
        let password = "odd ñ strings";
        let salt = SaltString::encode_b64(b"0123456789abcdef").unwrap();
        let made = Argon2::new(
            Algorithm::Argon2id,
            Version::V0x13,
            Params::new(1_024, 1, 1, None).unwrap(),
        )
        .hash_password(password.as_bytes(), &salt)
        .unwrap();
        let hash = made.hash.unwrap().to_string();
        let strings = [
            format!("$argon2id$m=1024,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=16$m=1024,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1,keyid=AAAA${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1,x=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1$c2FsdA${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}$YWJj"),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}"),
            format!("$argon2i$v=19$m=1024,t=1,p=1${salt}${hash}"),
            format!("$scrypt$v=19$m=1024,t=1,p=1${salt}${hash}"),
            format!("$argon2id$v=19$m=1024,t=1,p=1${salt}${hash}"),
        ];
        for phc in &strings {
            for attempt in [password, "wrong"] {
                let theirs = PasswordHash::new(phc).is_ok_and(|parsed| {
                    Argon2::default()
                        .verify_password(attempt.as_bytes(), &parsed)
                        .is_ok()
                });
                assert_eq!(super::verify(attempt, phc), theirs, "{phc} with {attempt}");
            }
        }
        assert!(super::verify(password, &strings[0]), "no version is 1.3");
        assert!(super::verify(password, &strings[10]));
    }

    /// Our hashes are what the argon2 crate's verifier accepts, hashing and verifying on
    /// several threads at once (the kept buffers are shared between them).
    #[test]
    fn hashes_on_many_threads_verify_with_the_argon2_crate() {
        use argon2::password_hash::{PasswordHash, PasswordVerifier};
        let threads: Vec<_> = (0..6)
            .map(|i| {
                std::thread::spawn(move || {
                    let password = format!("correct horse {i} ✓");
                    let h = super::hash(&password).unwrap();
                    let parsed = PasswordHash::new(&h).unwrap();
                    assert!(
                        argon2::Argon2::default()
                            .verify_password(password.as_bytes(), &parsed)
                            .is_ok()
                    );
                    assert!(super::verify(&password, &h));
                    assert!(!super::verify("correct horse", &h));
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
    }
}
