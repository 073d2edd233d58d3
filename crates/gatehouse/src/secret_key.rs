//! The key that encrypts secrets at rest: from `GATEHOUSE_SECRET_KEY`, else from a key file
//! created (mode 0600) on first start.

use crate::StartError;
use crate::config::ServeConfig;
use base64::Engine;
use gatehouse_crypto::secretbox::SecretBox;
use std::io::Write;

fn parse(text: &str) -> Option<Vec<u8>> {
    let t = text.trim();
    if t.len() == 64 && t.chars().all(|c| c.is_ascii_hexdigit()) {
        return (0..32)
            .map(|i| u8::from_str_radix(&t[2 * i..2 * i + 2], 16).ok())
            .collect();
    }
    base64::engine::general_purpose::STANDARD
        .decode(t)
        .ok()
        .filter(|k| k.len() == 32)
}

pub fn load(cfg: &ServeConfig) -> Result<SecretBox, StartError> {
    let bad = |e: &dyn std::fmt::Display| StartError::SecretKey(e.to_string());
    let key = if let Some(text) = &cfg.secret_key {
        parse(text).ok_or_else(|| {
            StartError::SecretKey(
                "GATEHOUSE_SECRET_KEY must be 64 hex characters or base64 of 32 bytes".into(),
            )
        })?
    } else if let Some(path) = cfg.default_key_file() {
        match std::fs::read_to_string(&path) {
            Ok(text) => parse(&text).ok_or_else(|| {
                StartError::SecretKey(format!("{} does not hold a valid key", path.display()))
            })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = gatehouse_crypto::random::bytes::<32>()
                    .map_err(|_| StartError::SecretKey("no randomness".into()))?;
                let mut opts = std::fs::OpenOptions::new();
                opts.write(true).create_new(true);
                #[cfg(unix)]
                {
                    use std::os::unix::fs::OpenOptionsExt;
                    opts.mode(0o600);
                }
                let mut f = opts
                    .open(&path)
                    .map_err(|e| bad(&format!("cannot create {}: {e}", path.display())))?;
                writeln!(f, "{}", gatehouse_crypto::hex(&key)).map_err(|e| bad(&e))?;
                tracing::info!(path = %path.display(), "generated secret key file; back it up with the database");
                key.to_vec()
            }
            Err(e) => return Err(bad(&format!("cannot read {}: {e}", path.display()))),
        }
    } else {
        // In-memory databases die with the process, and so may their key.
        gatehouse_crypto::random::bytes::<32>()
            .map_err(|_| StartError::SecretKey("no randomness".into()))?
            .to_vec()
    };
    SecretBox::new(&key).map_err(|e| bad(&e))
}
