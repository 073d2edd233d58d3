//! Random identifiers and secrets from the operating system's CSPRNG.

use base64::Engine;
use ring::rand::{SecureRandom, SystemRandom};

/// The system's random number generator failed (ring tells nothing more).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomnessFailed;

impl From<ring::error::Unspecified> for RandomnessFailed {
    fn from(_: ring::error::Unspecified) -> Self {
        RandomnessFailed
    }
}

/// Fills a buffer with OS randomness. The OS generator failing is unrecoverable for a
/// security server, so it aborts the request with an error rather than weakening ids.
pub fn bytes<const N: usize>() -> Result<[u8; N], RandomnessFailed> {
    let mut buf = [0u8; N];
    SystemRandom::new().fill(&mut buf)?;
    Ok(buf)
}

/// `n` random bytes as lower-case hex (`2n` characters).
pub fn hex(n: usize) -> Result<String, RandomnessFailed> {
    let mut buf = vec![0u8; n];
    SystemRandom::new().fill(&mut buf)?;
    Ok(buf.iter().map(|b| format!("{b:02x}")).collect())
}

const ALNUM: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `len` random alphanumeric characters, unbiased (rejection sampling).
pub fn alnum(len: usize) -> Result<String, RandomnessFailed> {
    let rng = SystemRandom::new();
    let mut out = String::with_capacity(len);
    let mut buf = [0u8; 64];
    while out.len() < len {
        rng.fill(&mut buf)?;
        for b in buf {
            // 248 = 62 * 4: bytes above it would favour the first characters.
            if b < 248 && out.len() < len {
                out.push(ALNUM[(b % 62) as usize] as char);
            }
        }
    }
    Ok(out)
}

/// `n` random bytes, base64url without padding.
pub fn b64url(n: usize) -> Result<String, RandomnessFailed> {
    let mut buf = vec![0u8; n];
    SystemRandom::new().fill(&mut buf)?;
    Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(buf))
}

#[cfg(test)]
mod tests {
    #[test]
    fn lengths_and_alphabets() {
        let a = super::alnum(32).unwrap();
        assert_eq!(a.len(), 32);
        assert!(a.chars().all(|c| c.is_ascii_alphanumeric()));
        assert_eq!(super::hex(12).unwrap().len(), 24);
        assert_ne!(super::hex(12).unwrap(), super::hex(12).unwrap());
    }
}
