//! Password hashes imported from other systems: Auth0's `password_hash` (bcrypt) and every
//! `custom_password_hash` algorithm of its import schema (argon2, bcrypt, pbkdf2, scrypt,
//! hmac, ldap, salted md4/md5/sha1/sha256/sha512), plus Firebase's modified scrypt.
//!
//! An import is validated here once: a hash whose parameters are unknown, malformed or too
//! costly is an import error, never a user who can never log in. What is stored is either
//! the self-describing string (bcrypt, argon2 PHC) or a normalised description behind the
//! `$gh-imported$` prefix; at login the password is checked in the imported algorithm and
//! the caller re-hashes it to argon2id.

use crate::hex;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE, URL_SAFE_NO_PAD};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Prefix of the stored form of the non-self-describing algorithms.
const PREFIX: &str = "$gh-imported$";

/// Highest costs accepted, so that one imported hash cannot make every login of that user
/// (or a guessing attacker) burn seconds of CPU or much memory: each check at these caps
/// costs at most 0.7 s of one core on the 2-core reference machine
/// (docs/benchmarks.md, `cargo bench -p gatehouse-crypto -- imported`), paid on every
/// failed login until the user's first successful one re-hashes the password to argon2id.
/// They cover the legacy defaults seen in migrations (bcrypt 10-12, Django's pbkdf2-sha256
/// 600,000-870,000, Firebase's scrypt N=2^14 r=8, argon2 up to 64 MiB).
pub const MAX_BCRYPT_COST: u32 = 13;
pub const MAX_PBKDF2_ITERATIONS: u32 = 1_000_000;
pub const MAX_SCRYPT_MEMORY: u64 = 64 * 1024 * 1024;
/// scrypt's `p` multiplies its time: `p` × 128·r·N stays within this.
pub const MAX_SCRYPT_WORK: u64 = 128 * 1024 * 1024;
pub const MAX_ARGON2_MEMORY_KIB: u32 = 64 * 1024;
pub const MAX_ARGON2_TIME: u32 = 4;

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("{0}")]
pub struct ImportHashError(pub String);

fn bad(msg: impl Into<String>) -> ImportHashError {
    ImportHashError(msg.into())
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DigestAlg {
    Md4,
    Md5,
    Ripemd160,
    Sha1,
    Sha224,
    Sha256,
    Sha384,
    Sha512,
    Whirlpool,
}

impl DigestAlg {
    /// Digest names as Auth0 and OpenSSL spell them, including the `RSA-` and
    /// `WithRSAEncryption` aliases Auth0 lists for pbkdf2.
    fn parse(name: &str) -> Result<Self, ImportHashError> {
        let lower = name.to_ascii_lowercase();
        let n = lower
            .strip_prefix("rsa-")
            .unwrap_or(&lower)
            .trim_end_matches("withrsaencryption");
        Ok(match n {
            "md4" => Self::Md4,
            "md5" => Self::Md5,
            "ripemd160" | "rmd160" | "ripemd" => Self::Ripemd160,
            "sha1" | "sha-1" => Self::Sha1,
            "sha224" | "sha-224" => Self::Sha224,
            "sha256" | "sha-256" => Self::Sha256,
            "sha384" | "sha-384" => Self::Sha384,
            "sha512" | "sha-512" => Self::Sha512,
            "whirlpool" => Self::Whirlpool,
            _ => return Err(bad(format!("unsupported digest \"{name}\""))),
        })
    }

    fn len(self) -> usize {
        match self {
            Self::Md4 | Self::Md5 => 16,
            Self::Ripemd160 | Self::Sha1 => 20,
            Self::Sha224 => 28,
            Self::Sha256 => 32,
            Self::Sha384 => 48,
            Self::Sha512 | Self::Whirlpool => 64,
        }
    }
}

macro_rules! with_digest {
    ($alg:expr, $d:ident => $body:expr) => {
        match $alg {
            DigestAlg::Md4 => {
                type $d = md4::Md4;
                $body
            }
            DigestAlg::Md5 => {
                type $d = md5::Md5;
                $body
            }
            DigestAlg::Ripemd160 => {
                type $d = ripemd::Ripemd160;
                $body
            }
            DigestAlg::Sha1 => {
                type $d = sha1::Sha1;
                $body
            }
            DigestAlg::Sha224 => {
                type $d = sha2::Sha224;
                $body
            }
            DigestAlg::Sha256 => {
                type $d = sha2::Sha256;
                $body
            }
            DigestAlg::Sha384 => {
                type $d = sha2::Sha384;
                $body
            }
            DigestAlg::Sha512 => {
                type $d = sha2::Sha512;
                $body
            }
            DigestAlg::Whirlpool => {
                type $d = whirlpool::Whirlpool;
                $body
            }
        }
    };
}

fn digest(alg: DigestAlg, parts: &[&[u8]]) -> Vec<u8> {
    use sha2::Digest;
    with_digest!(alg, D => {
        let mut h = D::new();
        for p in parts {
            h.update(p);
        }
        h.finalize().to_vec()
    })
}

fn hmac(alg: DigestAlg, key: &[u8], parts: &[&[u8]]) -> Vec<u8> {
    use hmac::Mac;
    with_digest!(alg, D => {
        match hmac::Hmac::<D>::new_from_slice(key) {
            Ok(mut m) => {
                for p in parts {
                    m.update(p);
                }
                m.finalize().into_bytes().to_vec()
            }
            Err(_) => Vec::new(),
        }
    })
}

fn pbkdf2(alg: DigestAlg, password: &[u8], salt: &[u8], rounds: u32, out: &mut [u8]) {
    with_digest!(alg, D => pbkdf2::pbkdf2_hmac::<D>(password, salt, rounds, out))
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SaltPosition {
    Prefix,
    Suffix,
}

/// How the password's characters become bytes before hashing (Node.js buffer encodings,
/// which is what Auth0's schema names).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum PasswordEncoding {
    #[default]
    Utf8,
    Ascii,
    Latin1,
    Utf16le,
}

impl PasswordEncoding {
    fn parse(name: &str) -> Result<Self, ImportHashError> {
        Ok(match name.to_ascii_lowercase().as_str() {
            "utf8" | "utf-8" => Self::Utf8,
            "ascii" => Self::Ascii,
            "latin1" | "binary" => Self::Latin1,
            "utf16le" | "utf-16le" | "ucs2" | "ucs-2" => Self::Utf16le,
            other => return Err(bad(format!("unsupported password encoding \"{other}\""))),
        })
    }

    fn bytes(self, password: &str) -> Vec<u8> {
        match self {
            Self::Utf8 => password.as_bytes().to_vec(),
            // Node keeps the low 7 bits for ascii and the low byte for latin1.
            Self::Ascii => password.chars().map(|c| (c as u32 & 0x7f) as u8).collect(),
            Self::Latin1 => password.chars().map(|c| (c as u32 & 0xff) as u8).collect(),
            Self::Utf16le => password
                .encode_utf16()
                .flat_map(|u| u.to_le_bytes())
                .collect(),
        }
    }
}

/// The stored description of a hash that does not describe itself.
#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "alg", rename_all = "kebab-case")]
enum Stored {
    /// `digest(salt ‖ password)` or `digest(password ‖ salt)`.
    Digest {
        digest: DigestAlg,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<String>,
        position: SaltPosition,
        password: PasswordEncoding,
        hash: String,
    },
    /// `HMAC(key, salted password)`.
    Hmac {
        digest: DigestAlg,
        key: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        salt: Option<String>,
        position: SaltPosition,
        password: PasswordEncoding,
        hash: String,
    },
    Pbkdf2 {
        digest: DigestAlg,
        iterations: u32,
        salt: String,
        hash: String,
    },
    Scrypt {
        log_n: u8,
        r: u32,
        p: u32,
        salt: String,
        hash: String,
    },
    /// Firebase Auth's scrypt variant: the scrypt output keys AES-256-CTR, which encrypts
    /// the project's signer key; the ciphertext is the hash.
    FirebaseScrypt {
        signer_key: String,
        salt_separator: String,
        rounds: u32,
        mem_cost: u8,
        salt: String,
        hash: String,
    },
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) || !s.is_ascii() {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).ok())
        .collect()
}

/// Standard or URL-safe base64, padded or not (Auth0 accepts both alphabets); passlib's
/// `.` for `+` too.
fn unbase64(s: &str) -> Option<Vec<u8>> {
    let s = s.trim();
    for engine in [&STANDARD, &STANDARD_NO_PAD, &URL_SAFE, &URL_SAFE_NO_PAD] {
        if let Ok(b) = engine.decode(s) {
            return Some(b);
        }
    }
    STANDARD_NO_PAD
        .decode(s.replace('.', "+").trim_end_matches('='))
        .ok()
}

fn decode(value: &str, encoding: &str, what: &str) -> Result<Vec<u8>, ImportHashError> {
    let decoded = match encoding.to_ascii_lowercase().as_str() {
        "hex" => unhex(value),
        "base64" => unbase64(value),
        "utf8" | "utf-8" => Some(value.as_bytes().to_vec()),
        other => {
            return Err(bad(format!("{what}: unsupported encoding \"{other}\"")));
        }
    };
    decoded.ok_or_else(|| bad(format!("{what}: value is not valid {encoding}")))
}

fn field<'a>(v: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(v, |v, k| v.get(k))
}

fn string<'a>(v: &'a Value, path: &str) -> Result<Option<&'a str>, ImportHashError> {
    match field(v, path) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(bad(format!("{path} must be a string"))),
    }
}

fn required<'a>(v: &'a Value, path: &str) -> Result<&'a str, ImportHashError> {
    string(v, path)?.ok_or_else(|| bad(format!("{path} is required")))
}

fn only_keys(v: &Value, path: &str, allowed: &[&str]) -> Result<(), ImportHashError> {
    match field(v, path) {
        None => Ok(()),
        Some(Value::Object(m)) => match m.keys().find(|k| !allowed.contains(&k.as_str())) {
            Some(k) => Err(bad(format!("{path}.{k} is not allowed"))),
            None => Ok(()),
        },
        Some(_) => Err(bad(format!("{path} must be an object"))),
    }
}

/// Validates Auth0's `password_hash` field (bcrypt only) and returns what to store.
pub fn from_password_hash(hash: &str) -> Result<String, ImportHashError> {
    check_bcrypt(hash)?;
    Ok(hash.to_string())
}

fn check_bcrypt(hash: &str) -> Result<(), ImportHashError> {
    // `$2y$` (PHP) is the same algorithm as `$2b$`; `$2x$` is a buggy variant and `$2$` is
    // obsolete, so both are refused.
    let rest = ["$2a$", "$2b$", "$2y$"]
        .iter()
        .find_map(|p| hash.strip_prefix(p))
        .ok_or_else(|| bad("bcrypt hash must start with $2a$, $2b$ or $2y$"))?;
    let (cost, body) = rest
        .split_once('$')
        .ok_or_else(|| bad("bcrypt hash has no cost"))?;
    let cost: u32 = cost
        .parse()
        .map_err(|_| bad("bcrypt hash has a malformed cost"))?;
    if !(4..=31).contains(&cost) {
        return Err(bad("bcrypt cost must be between 4 and 31"));
    }
    if cost > MAX_BCRYPT_COST {
        return Err(bad(format!(
            "bcrypt cost {cost} is above the highest accepted ({MAX_BCRYPT_COST})"
        )));
    }
    let bcrypt_alphabet = |c: char| c.is_ascii_alphanumeric() || c == '.' || c == '/';
    if body.len() != 53 || !body.chars().all(bcrypt_alphabet) {
        return Err(bad("bcrypt hash must have 53 characters of salt and hash"));
    }
    Ok(())
}

fn check_argon2(phc: &str) -> Result<(), ImportHashError> {
    let parsed = argon2::PasswordHash::new(phc)
        .map_err(|e| bad(format!("argon2 hash is not a PHC string: {e}")))?;
    if !matches!(
        parsed.algorithm.as_str(),
        "argon2id" | "argon2i" | "argon2d"
    ) {
        return Err(bad("argon2 hash must be argon2i, argon2d or argon2id"));
    }
    let params =
        argon2::Params::try_from(&parsed).map_err(|e| bad(format!("argon2 parameters: {e}")))?;
    if params.m_cost() > MAX_ARGON2_MEMORY_KIB || params.t_cost() > MAX_ARGON2_TIME {
        return Err(bad(format!(
            "argon2 costs above the highest accepted (m={MAX_ARGON2_MEMORY_KIB}, t={MAX_ARGON2_TIME})"
        )));
    }
    if parsed.hash.is_none() || parsed.salt.is_none() {
        return Err(bad("argon2 hash has no salt or hash"));
    }
    Ok(())
}

/// Validates Auth0's `custom_password_hash` object and returns what to store.
pub fn from_custom(v: &Value) -> Result<String, ImportHashError> {
    if !v.is_object() {
        return Err(bad("custom_password_hash must be an object"));
    }
    let algorithm = required(v, "algorithm")?.to_ascii_lowercase();
    let keys: &[&str] = match algorithm.as_str() {
        "scrypt" => &[
            "algorithm",
            "hash",
            "salt",
            "password",
            "keylen",
            "cost",
            "blockSize",
            "parallelization",
        ],
        "firebase-scrypt" => &["algorithm", "hash", "salt", "firebase"],
        _ => &["algorithm", "hash", "salt", "password"],
    };
    if let Some(k) = v
        .as_object()
        .and_then(|m| m.keys().find(|k| !keys.contains(&k.as_str())))
    {
        return Err(bad(format!("custom_password_hash.{k} is not allowed")));
    }
    only_keys(v, "hash", &["value", "encoding", "digest", "key"])?;
    only_keys(v, "hash.key", &["value", "encoding"])?;
    only_keys(v, "salt", &["value", "encoding", "position"])?;
    only_keys(v, "password", &["encoding"])?;
    let value = required(v, "hash.value")?;
    let encoding = string(v, "hash.encoding")?.unwrap_or("utf8");
    let password = match string(v, "password.encoding")? {
        Some(e) => PasswordEncoding::parse(e)?,
        None => PasswordEncoding::Utf8,
    };
    let salt = |allowed: bool| -> Result<Option<(Vec<u8>, SaltPosition)>, ImportHashError> {
        let Some(s) = field(v, "salt") else {
            return Ok(None);
        };
        if !allowed {
            return Err(bad(format!("a salt is not allowed with {algorithm}")));
        }
        let value = required(v, "salt.value")?;
        let enc = string(v, "salt.encoding")?.unwrap_or("utf8");
        let position = match string(s, "position")? {
            None | Some("prefix") => SaltPosition::Prefix,
            Some("suffix") => SaltPosition::Suffix,
            Some(other) => {
                return Err(bad(format!(
                    "salt.position \"{other}\" is not prefix or suffix"
                )));
            }
        };
        Ok(Some((decode(value, enc, "salt")?, position)))
    };
    let utf8_only = |what: &str| -> Result<(), ImportHashError> {
        if encoding.eq_ignore_ascii_case("utf8") {
            Ok(())
        } else {
            Err(bad(format!("hash.encoding must be utf8 for {what}")))
        }
    };
    let hex_or_b64 = || -> Result<Vec<u8>, ImportHashError> {
        if !matches!(encoding.to_ascii_lowercase().as_str(), "hex" | "base64") {
            return Err(bad(format!(
                "hash.encoding must be hex or base64 for {algorithm}"
            )));
        }
        decode(value, encoding, "hash")
    };
    let stored = match algorithm.as_str() {
        "bcrypt" => {
            utf8_only("bcrypt")?;
            salt(false)?;
            check_bcrypt(value)?;
            return Ok(value.to_string());
        }
        "argon2" => {
            utf8_only("argon2")?;
            salt(false)?;
            check_argon2(value)?;
            return Ok(value.to_string());
        }
        "md4" | "md5" | "sha1" | "sha256" | "sha512" => {
            let d = DigestAlg::parse(&algorithm)?;
            let hash = hex_or_b64()?;
            if hash.len() != d.len() {
                return Err(bad(format!(
                    "a {algorithm} hash has {} bytes, this one {}",
                    d.len(),
                    hash.len()
                )));
            }
            let (salt, position) = split_salt(salt(true)?);
            Stored::Digest {
                digest: d,
                salt,
                position,
                password,
                hash: hex(&hash),
            }
        }
        "hmac" => {
            let d = DigestAlg::parse(required(v, "hash.digest")?)?;
            let key = decode(
                required(v, "hash.key.value")?,
                string(v, "hash.key.encoding")?.unwrap_or("utf8"),
                "hash.key",
            )?;
            let hash = hex_or_b64()?;
            if hash.len() != d.len() {
                return Err(bad("hmac hash length does not match its digest"));
            }
            let (salt, position) = split_salt(salt(true)?);
            Stored::Hmac {
                digest: d,
                key: hex(&key),
                salt,
                position,
                password,
                hash: hex(&hash),
            }
        }
        "ldap" => {
            utf8_only("ldap")?;
            salt(false)?;
            ldap(value, password)?
        }
        "pbkdf2" => {
            utf8_only("pbkdf2")?;
            salt(false)?;
            pbkdf2_phc(value)?
        }
        "scrypt" => scrypt(v, value, encoding, salt(true)?)?,
        "firebase-scrypt" => firebase(v, value, encoding, salt(true)?)?,
        other => return Err(bad(format!("unsupported algorithm \"{other}\""))),
    };
    serde_json::to_string(&stored)
        .map(|json| format!("{PREFIX}{json}"))
        .map_err(|e| bad(e.to_string()))
}

fn split_salt(salt: Option<(Vec<u8>, SaltPosition)>) -> (Option<String>, SaltPosition) {
    match salt {
        Some((s, p)) => (Some(hex(&s)), p),
        None => (None, SaltPosition::Prefix),
    }
}

/// RFC 2307 `{SCHEME}base64`: plain digests, or salted ones whose salt follows the digest.
fn ldap(value: &str, password: PasswordEncoding) -> Result<Stored, ImportHashError> {
    let rest = value
        .strip_prefix('{')
        .ok_or_else(|| bad("ldap hash must start with {SCHEME}"))?;
    let (scheme, b64) = rest
        .split_once('}')
        .ok_or_else(|| bad("ldap hash must start with {SCHEME}"))?;
    let scheme = scheme.to_ascii_uppercase();
    let (salted, name) = match scheme.as_str() {
        "MD5" => (false, "md5"),
        "SMD5" => (true, "md5"),
        "SHA" | "SHA1" => (false, "sha1"),
        "SSHA" | "SSHA1" => (true, "sha1"),
        "SHA256" => (false, "sha256"),
        "SSHA256" => (true, "sha256"),
        "SHA384" => (false, "sha384"),
        "SSHA384" => (true, "sha384"),
        "SHA512" => (false, "sha512"),
        "SSHA512" => (true, "sha512"),
        other => return Err(bad(format!("unsupported ldap scheme {{{other}}}"))),
    };
    let d = DigestAlg::parse(name)?;
    let bytes = unbase64(b64).ok_or_else(|| bad("ldap hash is not valid base64"))?;
    let ok_len = if salted {
        bytes.len() > d.len()
    } else {
        bytes.len() == d.len()
    };
    if !ok_len {
        return Err(bad(format!("ldap {{{scheme}}} value has the wrong length")));
    }
    let (hash, salt) = bytes.split_at(d.len());
    Ok(Stored::Digest {
        digest: d,
        salt: salted.then(|| hex(salt)),
        position: SaltPosition::Suffix,
        password,
        hash: hex(hash),
    })
}

/// `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>`, defaults i=100000, l=64.
fn pbkdf2_phc(value: &str) -> Result<Stored, ImportHashError> {
    let parts: Vec<&str> = value.split('$').collect();
    let [empty, id, params, salt, hash] = parts.as_slice() else {
        return Err(bad(
            "pbkdf2 hash must be $pbkdf2-<digest>$i=<iterations>,l=<length>$<salt>$<hash>",
        ));
    };
    let digest_name = id
        .strip_prefix("pbkdf2-")
        .filter(|_| empty.is_empty())
        .ok_or_else(|| bad("pbkdf2 hash must start with $pbkdf2-<digest>$"))?;
    let d = DigestAlg::parse(digest_name)?;
    let (mut iterations, mut length) = (100_000u32, 64usize);
    for p in params.split(',').filter(|p| !p.is_empty()) {
        match p.split_once('=') {
            Some(("i", n)) => {
                iterations = n.parse().map_err(|_| bad("pbkdf2 i= is not a number"))?
            }
            Some(("l", n)) => length = n.parse().map_err(|_| bad("pbkdf2 l= is not a number"))?,
            _ => return Err(bad(format!("pbkdf2 parameter \"{p}\" is unknown"))),
        }
    }
    if iterations == 0 || iterations > MAX_PBKDF2_ITERATIONS {
        return Err(bad(format!(
            "pbkdf2 iterations must be between 1 and {MAX_PBKDF2_ITERATIONS}"
        )));
    }
    let salt = unbase64(salt).ok_or_else(|| bad("pbkdf2 salt is not base64"))?;
    let hash = unbase64(hash).ok_or_else(|| bad("pbkdf2 hash is not base64"))?;
    if hash.len() != length || hash.is_empty() {
        return Err(bad(format!(
            "pbkdf2 hash has {} bytes, l= says {length}",
            hash.len()
        )));
    }
    Ok(Stored::Pbkdf2 {
        digest: d,
        iterations,
        salt: hex(&salt),
        hash: hex(&hash),
    })
}

fn scrypt_memory_ok(log_n: u8, r: u32, p: u32) -> Result<(), ImportHashError> {
    let memory = 128u64
        .saturating_mul(r as u64)
        .saturating_mul(1u64 << log_n.min(63));
    let work = memory.saturating_mul(p as u64);
    if log_n == 0
        || log_n > 24
        || r == 0
        || p == 0
        || p > 16
        || memory > MAX_SCRYPT_MEMORY
        || work > MAX_SCRYPT_WORK
    {
        return Err(bad(format!(
            "scrypt parameters out of range (memory 128·r·N at most {} MiB, p·128·r·N at most {} MiB, p at most 16)",
            MAX_SCRYPT_MEMORY >> 20,
            MAX_SCRYPT_WORK >> 20
        )));
    }
    Ok(())
}

/// Either a PHC string `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt>$<hash>` (passlib's form) or
/// Auth0's fields: hash and salt with `keylen`, `cost` (N), `blockSize` (r) and
/// `parallelization` (p).
fn scrypt(
    v: &Value,
    value: &str,
    encoding: &str,
    salt: Option<(Vec<u8>, SaltPosition)>,
) -> Result<Stored, ImportHashError> {
    if value.starts_with("$scrypt$") {
        if salt.is_some() {
            return Err(bad("a scrypt PHC string carries its own salt"));
        }
        let parts: Vec<&str> = value.split('$').collect();
        let [_, _, params, salt, hash] = parts.as_slice() else {
            return Err(bad(
                "scrypt hash must be $scrypt$ln=..,r=..,p=..$<salt>$<hash>",
            ));
        };
        let (mut log_n, mut r, mut p) = (None, None, None);
        for kv in params.split(',') {
            match kv.split_once('=') {
                Some(("ln", n)) => log_n = n.parse::<u8>().ok(),
                Some(("r", n)) => r = n.parse::<u32>().ok(),
                Some(("p", n)) => p = n.parse::<u32>().ok(),
                _ => return Err(bad(format!("scrypt parameter \"{kv}\" is unknown"))),
            }
        }
        let (Some(log_n), Some(r), Some(p)) = (log_n, r, p) else {
            return Err(bad("scrypt hash needs ln, r and p"));
        };
        scrypt_memory_ok(log_n, r, p)?;
        let salt = unbase64(salt).ok_or_else(|| bad("scrypt salt is not base64"))?;
        let hash = unbase64(hash).ok_or_else(|| bad("scrypt hash is not base64"))?;
        if hash.is_empty() || hash.len() > 256 {
            return Err(bad("scrypt hash length out of range"));
        }
        return Ok(Stored::Scrypt {
            log_n,
            r,
            p,
            salt: hex(&salt),
            hash: hex(&hash),
        });
    }
    let number = |k: &str, default: u64| -> Result<u64, ImportHashError> {
        match v.get(k) {
            None => Ok(default),
            Some(n) => n
                .as_u64()
                .ok_or_else(|| bad(format!("{k} must be a positive integer"))),
        }
    };
    let cost = number("cost", 16384)?;
    let r = u32::try_from(number("blockSize", 8)?).map_err(|_| bad("blockSize too large"))?;
    let p = u32::try_from(number("parallelization", 1)?)
        .map_err(|_| bad("parallelization too large"))?;
    if !cost.is_power_of_two() {
        return Err(bad("scrypt cost must be a power of two"));
    }
    let log_n = cost.trailing_zeros() as u8;
    scrypt_memory_ok(log_n, r, p)?;
    let hash = decode(value, encoding, "hash")?;
    let keylen = number("keylen", hash.len() as u64)?;
    if keylen != hash.len() as u64 || hash.is_empty() || hash.len() > 256 {
        return Err(bad("scrypt keylen does not match the hash length"));
    }
    let Some((salt, SaltPosition::Prefix)) = salt else {
        return Err(bad("scrypt needs a salt (its position is not used)"));
    };
    Ok(Stored::Scrypt {
        log_n,
        r,
        p,
        salt: hex(&salt),
        hash: hex(&hash),
    })
}

fn firebase(
    v: &Value,
    value: &str,
    encoding: &str,
    salt: Option<(Vec<u8>, SaltPosition)>,
) -> Result<Stored, ImportHashError> {
    only_keys(
        v,
        "firebase",
        &["signer_key", "salt_separator", "rounds", "mem_cost"],
    )?;
    let signer_key = unbase64(required(v, "firebase.signer_key")?)
        .ok_or_else(|| bad("firebase.signer_key is not base64"))?;
    let salt_separator = match string(v, "firebase.salt_separator")? {
        Some(s) => unbase64(s).ok_or_else(|| bad("firebase.salt_separator is not base64"))?,
        None => Vec::new(),
    };
    let int = |k: &str| {
        field(v, k)
            .and_then(Value::as_u64)
            .ok_or_else(|| bad(format!("{k} must be a positive integer")))
    };
    let rounds = u32::try_from(int("firebase.rounds")?).map_err(|_| bad("rounds too large"))?;
    let mem_cost =
        u8::try_from(int("firebase.mem_cost")?).map_err(|_| bad("mem_cost too large"))?;
    scrypt_memory_ok(mem_cost, rounds, 1)?;
    let hash = decode(value, encoding, "hash")?;
    if signer_key.is_empty() || hash.len() != signer_key.len() {
        return Err(bad(
            "a firebase hash is as long as the project's signer key",
        ));
    }
    let salt = salt.map(|(s, _)| s).unwrap_or_default();
    Ok(Stored::FirebaseScrypt {
        signer_key: hex(&signer_key),
        salt_separator: hex(&salt_separator),
        rounds,
        mem_cost,
        salt: hex(&salt),
        hash: hex(&hash),
    })
}

/// True when `stored` is one of the imported forms this module verifies (bcrypt, a
/// `$gh-imported$` description); argon2 PHC strings are verified by [`crate::password`].
pub fn is_imported(stored: &str) -> bool {
    stored.starts_with(PREFIX) || stored.starts_with("$2")
}

/// The algorithm's name for logs (never the hash).
pub fn algorithm_name(stored: &str) -> &'static str {
    if stored.starts_with("$2") {
        return "bcrypt";
    }
    if stored.starts_with("$argon2") {
        return "argon2";
    }
    match stored
        .strip_prefix(PREFIX)
        .map(serde_json::from_str::<Stored>)
    {
        Some(Ok(Stored::Digest { .. })) => "digest",
        Some(Ok(Stored::Hmac { .. })) => "hmac",
        Some(Ok(Stored::Pbkdf2 { .. })) => "pbkdf2",
        Some(Ok(Stored::Scrypt { .. })) => "scrypt",
        Some(Ok(Stored::FirebaseScrypt { .. })) => "firebase-scrypt",
        _ => "unknown",
    }
}

/// Checks a password against an imported hash; anything unparseable never matches.
pub fn verify(password: &str, stored: &str) -> bool {
    if stored.starts_with("$2") {
        return bcrypt::verify(password, stored).unwrap_or(false);
    }
    let Some(Ok(s)) = stored
        .strip_prefix(PREFIX)
        .map(serde_json::from_str::<Stored>)
    else {
        return false;
    };
    verify_stored(password, &s).unwrap_or(false)
}

fn salted<'a>(pw: &'a [u8], salt: &'a [u8], position: SaltPosition) -> [&'a [u8]; 2] {
    match position {
        SaltPosition::Prefix => [salt, pw],
        SaltPosition::Suffix => [pw, salt],
    }
}

fn verify_stored(password: &str, s: &Stored) -> Option<bool> {
    let computed = match s {
        Stored::Digest {
            digest: d,
            salt,
            position,
            password: enc,
            hash,
        } => {
            let salt = unhex(salt.as_deref().unwrap_or(""))?;
            let pw = enc.bytes(password);
            (digest(*d, &salted(&pw, &salt, *position)), unhex(hash)?)
        }
        Stored::Hmac {
            digest: d,
            key,
            salt,
            position,
            password: enc,
            hash,
        } => {
            let salt = unhex(salt.as_deref().unwrap_or(""))?;
            let pw = enc.bytes(password);
            (
                hmac(*d, &unhex(key)?, &salted(&pw, &salt, *position)),
                unhex(hash)?,
            )
        }
        Stored::Pbkdf2 {
            digest: d,
            iterations,
            salt,
            hash,
        } => {
            let expected = unhex(hash)?;
            let mut out = vec![0u8; expected.len()];
            pbkdf2(
                *d,
                password.as_bytes(),
                &unhex(salt)?,
                *iterations,
                &mut out,
            );
            (out, expected)
        }
        Stored::Scrypt {
            log_n,
            r,
            p,
            salt,
            hash,
        } => {
            let expected = unhex(hash)?;
            let params = scrypt::Params::new(*log_n, *r, *p, expected.len()).ok()?;
            let mut out = vec![0u8; expected.len()];
            scrypt::scrypt(password.as_bytes(), &unhex(salt)?, &params, &mut out).ok()?;
            (out, expected)
        }
        Stored::FirebaseScrypt {
            signer_key,
            salt_separator,
            rounds,
            mem_cost,
            salt,
            hash,
        } => {
            use aes::cipher::{KeyIvInit, StreamCipher};
            let mut salt = unhex(salt)?;
            salt.extend(unhex(salt_separator)?);
            let params = scrypt::Params::new(*mem_cost, *rounds, 1, 32).ok()?;
            let mut key = [0u8; 32];
            scrypt::scrypt(password.as_bytes(), &salt, &params, &mut key).ok()?;
            let mut block = unhex(signer_key)?;
            let mut cipher = ctr::Ctr128BE::<aes::Aes256>::new(&key.into(), &[0u8; 16].into());
            cipher.apply_keystream(&mut block);
            (block, unhex(hash)?)
        }
    };
    Some(crate::ct_eq(&computed.0, &computed.1))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn custom(v: Value) -> String {
        from_custom(&v).unwrap_or_else(|e| panic!("{v}: {e}"))
    }

    // Expected values below come from RFC and standard test vectors (RFC 1321, FIPS 180,
    // RFC 2202/4231, RFC 6070, RFC 7914), not from this module.
    #[test]
    fn salted_digests_in_either_position_and_encoding() {
        // md5("abc") (RFC 1321)
        let s = custom(
            json!({"algorithm":"md5","hash":{"value":"900150983cd24fb0d6963f7d28e17f72","encoding":"hex"}}),
        );
        assert!(verify("abc", &s));
        assert!(!verify("abd", &s));
        // sha1("abc") with salt "a" prefix + password "bc"
        let s = custom(
            json!({"algorithm":"sha1","hash":{"value":"A9993E364706816ABA3E25717850C26C9CD0D89D","encoding":"hex"},
            "salt":{"value":"a","position":"prefix"}}),
        );
        assert!(verify("bc", &s));
        let s = custom(
            json!({"algorithm":"sha256","hash":{"value":"ungWv48Bz+pBQUDeXa4iI7ADYaOWF3qctBD/YfIAFa0=","encoding":"base64"},
            "salt":{"value":"Yw==","encoding":"base64","position":"suffix"}}),
        );
        assert!(verify("ab", &s));
        assert!(!verify("abc", &s));
    }

    #[test]
    fn hmac_rfc4231_case_2() {
        let s = custom(
            json!({"algorithm":"hmac","hash":{"value":"5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843",
            "encoding":"hex","digest":"sha256","key":{"value":"Jefe"}}}),
        );
        assert!(verify("what do ya want for nothing?", &s));
        assert!(!verify("what do ya want for nothing", &s));
    }

    #[test]
    fn pbkdf2_rfc6070() {
        // P="password", S="salt", c=4096, dkLen=20, sha1.
        let salt = STANDARD_NO_PAD.encode(b"salt");
        let hash = STANDARD_NO_PAD
            .encode(unhex("4b007901b765489abead49d926f721d065a429c1").unwrap_or_default());
        let s = custom(
            json!({"algorithm":"pbkdf2","hash":{"value":format!("$pbkdf2-sha1$i=4096,l=20${salt}${hash}")}}),
        );
        assert!(verify("password", &s));
        assert!(!verify("Password", &s));
    }

    #[test]
    fn scrypt_rfc7914() {
        // P="password", S="NaCl", N=1024, r=8, p=16, dkLen=64.
        let expected = "fdbabe1c9d3472007856e7190d01e9fe7c6ad7cbc8237830e77376634b3731622eaf30d92e22a3886ff109279d9830dac727afb94a83ee6d8360cbdfa2cc0640";
        let s = custom(
            json!({"algorithm":"scrypt","hash":{"value":expected,"encoding":"hex"},
            "salt":{"value":"NaCl"},"keylen":64,"cost":1024,"blockSize":8,"parallelization":16}),
        );
        assert!(verify("password", &s));
        assert!(!verify("passwort", &s));
    }

    #[test]
    fn ldap_salted_sha() {
        // {SSHA}: sha1("abc" ‖ salt) ‖ salt with salt "" is refused (salted needs a salt);
        // build one from the sha1("abc") vector with a salt of "c" after "ab".
        let mut bytes = unhex("a9993e364706816aba3e25717850c26c9cd0d89d").unwrap_or_default();
        bytes.push(b'c');
        let value = format!("{{SSHA}}{}", STANDARD.encode(&bytes));
        let s = custom(json!({"algorithm":"ldap","hash":{"value":value}}));
        assert!(verify("ab", &s));
        assert!(!verify("abc", &s));
    }

    #[test]
    fn bad_parameters_are_import_errors() {
        for v in [
            json!({"algorithm":"md5","hash":{"value":"00","encoding":"hex"}}),
            json!({"algorithm":"md5","hash":{"value":"zz","encoding":"hex"}}),
            json!({"algorithm":"sha1","hash":{"value":"A9993E364706816ABA3E25717850C26C9CD0D89D","encoding":"utf8"}}),
            json!({"algorithm":"crc32","hash":{"value":"x"}}),
            json!({"algorithm":"bcrypt","hash":{"value":"$2x$10$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"}}),
            json!({"algorithm":"bcrypt","hash":{"value":"$2b$31$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"}}),
            json!({"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-mdc2$i=1,l=16$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA"}}),
            json!({"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=99999999,l=16$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA"}}),
            json!({"algorithm":"pbkdf2","hash":{"value":"$pbkdf2-sha256$i=1000,l=32$c2FsdA$AAAAAAAAAAAAAAAAAAAAAA"}}),
            json!({"algorithm":"hmac","hash":{"value":"00","encoding":"hex","digest":"sha256"}}),
            json!({"algorithm":"argon2","hash":{"value":"$argon2id$v=19$m=9999999,t=2,p=1$c29tZXNhbHQ$AAAAAAAAAAAAAAAAAAAAAA"}}),
            json!({"algorithm":"md5","hash":{"value":"900150983cd24fb0d6963f7d28e17f72","encoding":"hex"},"extra":1}),
            json!({"algorithm":"scrypt","hash":{"value":"00","encoding":"hex"},"salt":{"value":"x"},"cost":1000}),
            json!({"algorithm":"ldap","hash":{"value":"{CRYPT}abc"}}),
        ] {
            assert!(from_custom(&v).is_err(), "accepted {v}");
        }
        assert!(from_password_hash("$2b$10$short").is_err());
        assert!(from_password_hash("plain").is_err());
    }
}
