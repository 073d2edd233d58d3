//! The per-request crypto bounds the endpoint load runs are compared against:
//! one RS256 signature (POST /oauth/token; PS256 and ES256 for tenants that choose them,
//! `sign_token/*`) and one argon2id hash (POST /api/v2/users); and
//! what one failed login costs against an imported hash at the highest accepted costs
//! (`imported_at_cap`), the bound the caps in `imported.rs` state.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use base64::Engine;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_crypto::imported::{
    self, MAX_ARGON2_MEMORY_KIB, MAX_ARGON2_TIME, MAX_BCRYPT_COST, MAX_PBKDF2_ITERATIONS,
};
use gatehouse_crypto::keys::{EcSigningKey, Pss, SigningKey};
use gatehouse_crypto::{jwt, password};
use serde_json::json;

/// Stored forms of imported hashes at the caps (of "x"; the bench checks another password,
/// as a guessing attacker does).
fn hashes_at_caps() -> Vec<(&'static str, String)> {
    let salt = STANDARD_NO_PAD.encode(b"0123456789abcdef");
    let h32 = STANDARD_NO_PAD.encode([7u8; 32]);
    let custom = |v: serde_json::Value| imported::from_custom(&v).expect("accepted at the cap");
    vec![
        (
            "bcrypt_cost_13",
            bcrypt::hash_with_salt("x", MAX_BCRYPT_COST, [1u8; 16])
                .expect("bcrypt")
                .format_for_version(bcrypt::Version::TwoB),
        ),
        (
            "pbkdf2_sha256_1m",
            custom(json!({"algorithm": "pbkdf2", "hash": {"value":
                format!("$pbkdf2-sha256$i={MAX_PBKDF2_ITERATIONS},l=32${salt}${h32}")}})),
        ),
        (
            "pbkdf2_sha512_1m",
            custom(json!({"algorithm": "pbkdf2", "hash": {"value":
                format!("$pbkdf2-sha512$i={MAX_PBKDF2_ITERATIONS},l=32${salt}${h32}")}})),
        ),
        (
            "scrypt_n65536_r8_p2",
            custom(
                json!({"algorithm": "scrypt", "hash": {"value": "07".repeat(32), "encoding": "hex"},
                "salt": {"value": "NaCl"}, "keylen": 32, "cost": 65536, "blockSize": 8, "parallelization": 2}),
            ),
        ),
        (
            "argon2id_64mib_t4",
            format!(
                "$argon2id$v=19$m={MAX_ARGON2_MEMORY_KIB},t={MAX_ARGON2_TIME},p=1${salt}${h32}"
            ),
        ),
    ]
}

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate().expect("key");
    let claims = json!({"iss": "http://127.0.0.1:3000/", "sub": "abc@clients", "aud": "http://127.0.0.1:3000/api/v2/", "scope": "read:users"});
    c.bench_function("rs256_sign_token", |b| {
        b.iter(|| jwt::sign(&key, &claims).expect("sign"))
    });
    let ec = EcSigningKey::generate().expect("EC key");
    let mut g = c.benchmark_group("sign_token");
    g.bench_function("RS256", |b| {
        b.iter(|| jwt::sign(&key, &claims).expect("sign"))
    });
    g.bench_function("PS256", |b| {
        b.iter(|| jwt::sign(&Pss(&key), &claims).expect("sign"))
    });
    g.bench_function("ES256", |b| {
        b.iter(|| jwt::sign(&ec, &claims).expect("sign"))
    });
    // The RSA signature alone, by ring (which signed tokens before AWS-LC) and by AWS-LC
    // (which signs them now), from the same key, in the same run.
    let ring_pair = ring::signature::RsaKeyPair::from_pkcs8(key.pkcs8()).expect("ring key");
    let message = vec![b'x'; 400];
    g.bench_function("RS256 signature, ring", |b| {
        let rng = ring::rand::SystemRandom::new();
        let mut sig = vec![0u8; ring_pair.public().modulus_len()];
        b.iter(|| {
            ring_pair
                .sign(&ring::signature::RSA_PKCS1_SHA256, &rng, &message, &mut sig)
                .expect("sign")
        })
    });
    g.bench_function("RS256 signature, AWS-LC", |b| {
        b.iter(|| key.sign(&message).expect("sign"))
    });
    g.finish();
    let token = jwt::sign(&key, &claims).expect("sign");
    c.bench_function("rs256_verify_token", |b| {
        b.iter(|| jwt::verify(&token, [key.public()]).expect("verify"))
    });
    let mut g = c.benchmark_group("argon2id");
    g.sample_size(20);
    g.bench_function("hash_m19456_t2_p1", |b| {
        b.iter(|| password::hash("correct horse battery").expect("hash"))
    });
    g.finish();
    let mut g = c.benchmark_group("imported_at_cap");
    g.sample_size(10);
    for (name, stored) in hashes_at_caps() {
        g.bench_function(name, |b| {
            b.iter(|| assert!(!password::verify("wrong guess", &stored)))
        });
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
