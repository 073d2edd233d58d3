//! The per-request crypto bounds the endpoint load runs are compared against:
//! one RS256 signature (POST /oauth/token) and one argon2id hash (POST /api/v2/users).

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_crypto::{jwt, keys::SigningKey, password};
use serde_json::json;

fn bench(c: &mut Criterion) {
    let key = SigningKey::generate().expect("key");
    let claims = json!({"iss": "http://127.0.0.1:3000/", "sub": "abc@clients", "aud": "http://127.0.0.1:3000/api/v2/", "scope": "read:users"});
    c.bench_function("rs256_sign_token", |b| {
        b.iter(|| jwt::sign(&key, &claims).expect("sign"))
    });
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
}

criterion_group!(benches, bench);
criterion_main!(benches);
