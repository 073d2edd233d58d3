//! What a script run costs beside the work it does: a fresh context per call (globals,
//! prelude, compile, callback) on the pool, and a login script's bcrypt compare beside bcrypt
//! alone, the bound a custom-database login cannot beat.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use criterion::{Criterion, criterion_group, criterion_main};
use gatehouse_scripts::{SandboxLimits, ScriptCall, ScriptPool};
use serde_json::{Map, json};
use std::time::Duration;

/// pyca/bcrypt 5.0.0, cost 10 (tests/fixtures/custom-db/legacy-users.json, user 7).
const HASH: &str = "$2b$10$5VhcHmlt6Nesln3MncLI7uMSfqr4SHebkmie/TOBdhZzSM5QdEqVm";
const PASSWORD: &str = "Zoë-pässwörd-2019";

fn call(source: &str) -> ScriptCall {
    ScriptCall {
        cache_key: "bench".into(),
        name: "login".into(),
        source: source.into(),
        args: vec![json!("zoe.okafor@example.com"), json!(PASSWORD)],
        configuration: Map::new(),
        secrets: vec![],
        keep_warm: false,
    }
}

fn sandbox(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let pool = rt
        .block_on(async {
            ScriptPool::start(SandboxLimits {
                workers: 1,
                time_limit: Duration::from_secs(20),
                ..SandboxLimits::default()
            })
        })
        .unwrap();
    let trivial = call(
        "function login(email, password, callback) { callback(null, { user_id: 7, email: email }); }",
    );
    let template_shaped = call(&format!(
        "function login(email, password, callback) {{
  const bcrypt = require('bcrypt');
  bcrypt.compare(password, '{HASH}', function (err, isValid) {{
    if (err || !isValid) return callback(err || new WrongUsernameOrPasswordError(email));
    return callback(null, {{ user_id: 7, nickname: 'Zoë', email: email }});
  }});
}}"
    ));
    let mut g = c.benchmark_group("script_run");
    g.bench_function("context_per_call_trivial_login", |b| {
        b.iter(|| {
            let run = rt.block_on(pool.run(trivial.clone()));
            assert!(run.outcome.is_ok());
        })
    });
    g.sample_size(20);
    g.bench_function("login_with_bcrypt_cost_10", |b| {
        b.iter(|| {
            let run = rt.block_on(pool.run(template_shaped.clone()));
            assert!(run.outcome.unwrap().is_some());
        })
    });
    g.bench_function("bcrypt_cost_10_alone", |b| {
        b.iter(|| assert!(bcrypt::verify(PASSWORD, HASH).unwrap()))
    });
    g.finish();
}

criterion_group!(benches, sandbox);
criterion_main!(benches);
