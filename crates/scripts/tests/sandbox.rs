//! The sandbox's limits and contract, run through the pool as the server runs scripts.

#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use gatehouse_scripts::{
    AllowedHosts, ErrorClass, SandboxLimits, ScriptCall, ScriptError, ScriptPool, ScriptRun,
};
use serde_json::{Map, Value, json};
use std::time::{Duration, Instant};

fn limits(time_ms: u64) -> SandboxLimits {
    SandboxLimits {
        time_limit: Duration::from_millis(time_ms),
        memory_limit: 32 * 1024 * 1024,
        workers: 3,
        queue: 64,
        allowed_hosts: AllowedHosts::parse("127.0.0.1").unwrap(),
    }
}

fn call(source: &str, args: Vec<Value>) -> ScriptCall {
    ScriptCall {
        cache_key: "con_test/1".into(),
        name: "login".into(),
        source: source.into(),
        args,
        configuration: Map::new(),
        secrets: vec![],
        keep_warm: false,
    }
}

async fn run(pool: &ScriptPool, source: &str, args: Vec<Value>) -> ScriptRun {
    pool.run(call(source, args)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_login_script_calls_back_with_a_profile() {
    let pool = ScriptPool::start(limits(2_000)).unwrap();
    let r = run(
        &pool,
        "function login(email, password, callback) {\n  callback(null, { user_id: 42, email: email, nickname: 'Zoë 🚀', when: new Date(0) });\n}",
        vec![json!("zoe@example.com"), json!("pw")],
    )
    .await;
    assert_eq!(
        r.outcome.unwrap(),
        Some(
            json!({"user_id": 42, "email": "zoe@example.com", "nickname": "Zoë 🚀", "when": "1970-01-01T00:00:00.000Z"})
        )
    );
    // `callback(null)` is "no value" (get_user's "not found").
    let r = run(
        &pool,
        "function getByEmail(email, callback) { callback(null); }",
        vec![json!("x")],
    )
    .await;
    assert_eq!(r.outcome.unwrap(), None);
    let r = run(
        &pool,
        "function getByEmail(email, callback) { callback(); }",
        vec![json!("x")],
    )
    .await;
    assert_eq!(r.outcome.unwrap(), None);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_keep_their_class_and_first_argument() {
    let pool = ScriptPool::start(limits(2_000)).unwrap();
    let cases = [
        (
            "callback(new WrongUsernameOrPasswordError(email, 'nope'))",
            ErrorClass::WrongUsernameOrPasswordError,
            Some(json!("a@b.c")),
            "nope",
        ),
        (
            "callback(new WrongUsernameOrPasswordError())",
            ErrorClass::WrongUsernameOrPasswordError,
            None,
            "Wrong email or password.",
        ),
        (
            "callback(new ValidationError('user_exists', 'taken'))",
            ErrorClass::ValidationError,
            Some(json!("user_exists")),
            "taken",
        ),
        (
            "callback(new UnauthorizedError('store down'))",
            ErrorClass::UnauthorizedError,
            None,
            "store down",
        ),
        (
            "callback(new Error('boom'))",
            ErrorClass::Error,
            None,
            "boom",
        ),
        ("callback('a string')", ErrorClass::Error, None, "a string"),
    ];
    for (body, class, first, message) in cases {
        let source = format!("function login(email, password, callback) {{ {body}; }}");
        let r = run(&pool, &source, vec![json!("a@b.c"), json!("pw")]).await;
        let Err(ScriptError::Callback(e)) = r.outcome else {
            panic!("{body}: {:?}", r.outcome)
        };
        assert_eq!(e.class, class, "{body}");
        assert_eq!(e.first.filter(|v| !v.is_null()), first, "{body}");
        assert_eq!(e.message, message, "{body}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_callback_is_ignored() {
    let pool = ScriptPool::start(limits(2_000)).unwrap();
    let r = run(
        &pool,
        "function login(e, p, callback) {\n  callback(null, { user_id: 'first' });\n  callback(null, { user_id: 'second' });\n  setTimeout(function () { callback(new Error('late')); }, 5);\n}",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(r.outcome.unwrap(), Some(json!({"user_id": "first"})));
    // Called back later, from a timer and a promise, the first still wins.
    let r = run(
        &pool,
        "async function login(e, p, callback) {\n  await new Promise(function (ok) { setTimeout(ok, 20); });\n  callback(null, { user_id: 'after-await' });\n  callback(new Error('again'));\n}",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(r.outcome.unwrap(), Some(json!({"user_id": "after-await"})));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throwing_and_never_calling_back_are_errors() {
    let pool = ScriptPool::start(limits(1_000)).unwrap();
    let r = run(
        &pool,
        "function login(e, p, cb) { null.x; }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert!(
        matches!(&r.outcome, Err(ScriptError::Threw(t)) if t.contains("TypeError")),
        "{:?}",
        r.outcome
    );
    let r = run(&pool, "function login(e, p, cb) { setTimeout(function () { throw new Error('in a timer'); }, 1); }", vec![json!("e"), json!("p")]).await;
    assert!(
        matches!(&r.outcome, Err(ScriptError::Threw(t)) if t.contains("in a timer")),
        "{:?}",
        r.outcome
    );
    let r = run(
        &pool,
        "async function login(e, p, cb) { throw new Error('rejected'); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert!(
        matches!(&r.outcome, Err(ScriptError::Threw(t)) if t.contains("rejected")),
        "{:?}",
        r.outcome
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(r.outcome.unwrap_err(), ScriptError::NoCallback);
    let r = run(&pool, "function login(e, p, cb) { const = }", vec![]).await;
    assert!(
        matches!(r.outcome, Err(ScriptError::Invalid(_))),
        "{:?}",
        r.outcome
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endless_loop_is_cut_off_while_other_scripts_keep_answering() {
    let pool = ScriptPool::start(limits(1_500)).unwrap();
    let looping = tokio::spawn({
        let pool = pool.clone();
        async move {
            let r = run(
                &pool,
                "function login(e, p, cb) { while (true) {} }",
                vec![json!("e"), json!("p")],
            )
            .await;
            (r, Instant::now())
        }
    });
    // A busy loop that swallows exceptions cannot catch the interrupt either.
    let catching = tokio::spawn({
        let pool = pool.clone();
        async move {
            run(
                &pool,
                "function login(e, p, cb) { for (;;) { try { while (true) {} } catch (x) {} } }",
                vec![json!("e"), json!("p")],
            )
            .await
        }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let quick = run(
        &pool,
        "function login(e, p, cb) { cb(null, {user_id: 'quick'}); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    let quick_done = Instant::now();
    assert_eq!(quick.outcome.unwrap(), Some(json!({"user_id": "quick"})));
    let (looped, loop_done) = looping.await.unwrap();
    assert_eq!(looped.outcome.unwrap_err(), ScriptError::TimedOut(1_500));
    assert_eq!(
        catching.await.unwrap().outcome.unwrap_err(),
        ScriptError::TimedOut(1_500)
    );
    assert!(
        quick_done < loop_done,
        "the quick script waited for the loop"
    );
    // The thread that ran the loop serves again.
    for _ in 0..4 {
        let again = run(
            &pool,
            "function login(e, p, cb) { cb(null, {user_id: 'again'}); }",
            vec![json!("e"), json!("p")],
        )
        .await;
        assert_eq!(again.outcome.unwrap(), Some(json!({"user_id": "again"})));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_exhaustion_is_contained() {
    let pool = ScriptPool::start(limits(5_000)).unwrap();
    let r = run(
        &pool,
        "function login(e, p, cb) { const keep = []; for (;;) { keep.push(new Array(100000).fill('x'.repeat(10))); } }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(
        r.outcome.unwrap_err(),
        ScriptError::OutOfMemory(32 * 1024 * 1024)
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { let s = 'x'; for (;;) { s = s + s; } }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert!(
        matches!(
            r.outcome,
            Err(ScriptError::OutOfMemory(_) | ScriptError::Threw(_))
        ),
        "{:?}",
        r.outcome
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { function f() { return f() + 1; } f(); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert!(
        matches!(&r.outcome, Err(ScriptError::Threw(t)) if t.contains("stack")),
        "{:?}",
        r.outcome
    );
    for _ in 0..4 {
        let ok = run(
            &pool,
            "function login(e, p, cb) { cb(null, {user_id: 'fine'}); }",
            vec![json!("e"), json!("p")],
        )
        .await;
        assert_eq!(ok.outcome.unwrap(), Some(json!({"user_id": "fine"})));
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_host_is_out_of_reach() {
    let pool = ScriptPool::start(limits(3_000)).unwrap();
    for module in ["fs", "child_process", "net", "os", "vm", "process"] {
        let source = format!(
            "function login(e, p, cb) {{ require('{module}'); cb(null, {{user_id: 'leaked'}}); }}"
        );
        let r = run(&pool, &source, vec![json!("e"), json!("p")]).await;
        let Err(ScriptError::Threw(t)) = &r.outcome else {
            panic!("{module}: {:?}", r.outcome)
        };
        assert!(
            t.contains(&format!("Cannot find module '{module}'")) && t.contains("pg, bcrypt"),
            "{t}"
        );
    }
    let r = run(
        &pool,
        "function login(e, p, cb) { cb(null, {user_id: String(process.env.HOME)}); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert!(
        matches!(&r.outcome, Err(ScriptError::Threw(t)) if t.contains("process")),
        "{:?}",
        r.outcome
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { cb(null, {user_id: [typeof process, typeof std, typeof os, typeof globalThis.__gh, typeof require('crypto').createHash].join(',')}); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    assert_eq!(
        r.outcome.unwrap(),
        Some(json!({"user_id": "undefined,undefined,undefined,undefined,function"}))
    );
    // Hosts off the operator's list: refused before any connection, for HTTP and PostgreSQL.
    let r = run(
        &pool,
        "function login(e, p, cb) { fetch('http://169.254.169.254/latest/meta-data/').then(function () { cb(null, {user_id: 'reached'}); }, function (err) { cb(err); }); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    let Err(ScriptError::Callback(e)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(
        e.message.contains("may not connect to 169.254.169.254"),
        "{e:?}"
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { require('request').get({url: 'https://example.com/'}, function (err, res) { cb(err || new Error('reached')); }); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    let Err(ScriptError::Callback(e)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(
        e.message.contains("may not connect to example.com"),
        "{e:?}"
    );
    let r = run(
        &pool,
        "function login(e, p, cb) { require('pg').connect('postgres://u:secretpw@db.example.com/x', function (err, client, done) { client.query('select 1', [], function (err) { cb(err); }); }); }",
        vec![json!("e"), json!("p")],
    )
    .await;
    let Err(ScriptError::Callback(e)) = &r.outcome else {
        panic!("{:?}", r.outcome)
    };
    assert!(
        e.message.contains("may not connect to db.example.com") && !e.message.contains("secretpw"),
        "{e:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn console_output_is_kept_with_secrets_masked() {
    let pool = ScriptPool::start(limits(2_000)).unwrap();
    let mut c = call(
        "function login(email, password, cb) {\n  console.log('login for', email, 'with', password, 'key', configuration.API_KEY, {n: 1});\n  cb(null, {user_id: configuration.API_KEY.length});\n}",
        vec![json!("zoë@example.com"), json!("hunter2-Ünïcode")],
    );
    c.configuration
        .insert("API_KEY".into(), json!("sk_live_abcdef"));
    c.secrets = vec!["hunter2-Ünïcode".into()];
    let r = pool.run(c).await;
    assert_eq!(r.outcome.unwrap(), Some(json!({"user_id": 14})));
    assert_eq!(
        r.console,
        vec!["login for zoë@example.com with [redacted] key [redacted] {\"n\":1}".to_string()]
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn global_is_a_cache_per_connection() {
    let pool = ScriptPool::start(SandboxLimits {
        workers: 1,
        ..limits(2_000)
    })
    .unwrap();
    let source = "function login(e, p, cb) { global.count = (global.count || 0) + 1; cb(null, {user_id: global.count}); }";
    for n in 1..=3 {
        let r = run(&pool, source, vec![json!("e"), json!("p")]).await;
        assert_eq!(r.outcome.unwrap(), Some(json!({"user_id": n})));
    }
    let mut other = call(source, vec![json!("e"), json!("p")]);
    other.cache_key = "con_other/1".into();
    assert_eq!(
        pool.run(other).await.outcome.unwrap(),
        Some(json!({"user_id": 1}))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn crypto_bcrypt_and_buffers_match_node() {
    let pool = ScriptPool::start(limits(5_000)).unwrap();
    // The hash was made by Python's bcrypt 5.0.0 (pyca/bcrypt), a reference implementation.
    let r = run(
        &pool,
        r#"function login(e, p, cb) {
  const crypto = require('crypto');
  const bcrypt = require('bcrypt');
  const out = {
    sha256: crypto.createHash('sha256').update('Zoë 🚀').digest('hex'),
    md5b64: crypto.createHash('md5').update(Buffer.from('abc')).digest('base64'),
    hmac: crypto.createHmac('sha256', 'key').update('The quick brown fox jumps over the lazy dog').digest('hex'),
    pbkdf2: crypto.pbkdf2Sync('password', 'salt', 1, 20, 'sha1').toString('hex'),
    same: crypto.timingSafeEqual(Buffer.from('abc'), Buffer.from('abc')),
    random: crypto.randomBytes(16).length,
    utf8: Buffer.from('Łódź', 'utf8').toString('base64'),
    back: Buffer.from('xYHDs2Q=', 'base64').toString(),
    enc: Array.from(new TextEncoder().encode('é')),
    url: new URL('/a?b=1&c=%C3%A9', 'https://example.com:8443').searchParams.get('c'),
  };
  bcrypt.hash('Zoë-pässword', 4, function (err, hash) {
    if (err) return cb(err);
    out.own = bcrypt.compareSync('Zoë-pässword', hash) && !bcrypt.compareSync('other', hash);
    bcrypt.compare(p, e, function (err, ok) { out.reference = ok; cb(err, out); });
  });
}"#,
        vec![json!("$2b$04$lK51CcOGJMMQR9SQzNDuauAeq7ZTe/cVClb6jW395jP.UGvDP7F2O"), json!("correct horse battery staple")],
    )
    .await;
    let v = r.outcome.unwrap().unwrap();
    // `printf 'Zoë 🚀' | sha256sum`
    assert_eq!(
        v["sha256"],
        json!("c42451691e2d83ec03e7e0d0208f3e2faf1dc538d3aede9af9d5a30887885374")
    );
    assert_eq!(v["md5b64"], json!("kAFQmDzST7DWlj99KOF/cg=="));
    assert_eq!(
        v["hmac"],
        json!("f7bc83f430538424b13298e6aa6fb143ef4d59a14946175997479dbc2d1a3cd8")
    );
    assert_eq!(
        v["pbkdf2"],
        json!("0c60c80f961f0e71f3a9b524af6012062fe037a6")
    );
    assert_eq!(v["same"], json!(true));
    assert_eq!(v["random"], json!(16));
    assert_eq!(v["utf8"], json!("xYHDs2TFug=="));
    assert_eq!(v["back"], json!("Łód"));
    assert_eq!(v["enc"], json!([195, 169]));
    assert_eq!(v["url"], json!("é"));
    assert_eq!(v["own"], json!(true));
    assert_eq!(v["reference"], json!(true));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_queue_says_busy() {
    let pool = ScriptPool::start(SandboxLimits {
        workers: 1,
        queue: 1,
        ..limits(1_000)
    })
    .unwrap();
    let looping = "function login(e, p, cb) { while (true) {} }";
    let first = tokio::spawn({
        let pool = pool.clone();
        async move { run(&pool, looping, vec![]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let second = tokio::spawn({
        let pool = pool.clone();
        async move { run(&pool, looping, vec![]).await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    let third = run(&pool, looping, vec![]).await;
    assert_eq!(third.outcome.unwrap_err(), ScriptError::Busy);
    assert_eq!(
        first.await.unwrap().outcome.unwrap_err(),
        ScriptError::TimedOut(1_000)
    );
    assert_eq!(
        second.await.unwrap().outcome.unwrap_err(),
        ScriptError::TimedOut(1_000)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn errors_never_carry_the_password_or_configuration() {
    let pool = ScriptPool::start(limits(2_000)).unwrap();
    for body in [
        "throw new Error('bad password ' + password + ' with ' + configuration.DB_PASSWORD)",
        "callback(new Error('bad password ' + password + ' with ' + configuration.DB_PASSWORD))",
        "callback(new UnauthorizedError('bad password ' + password + ' with ' + configuration.DB_PASSWORD))",
        "setTimeout(function () { throw new Error('bad password ' + password + ' with ' + configuration.DB_PASSWORD); }, 1)",
    ] {
        let mut c = call(
            &format!("function login(email, password, callback) {{ {body}; }}"),
            vec![json!("ada@example.org"), json!("Sésame-ouvre-toi")],
        );
        c.configuration
            .insert("DB_PASSWORD".into(), json!("pg-s3cret-Ω"));
        c.secrets = vec!["Sésame-ouvre-toi".into()];
        let r = pool.run(c).await;
        let text = format!("{:?}", r.outcome);
        assert!(
            text.contains("bad password [redacted] with [redacted]"),
            "{body}: {text}"
        );
        assert!(
            !text.contains("Sésame") && !text.contains("s3cret"),
            "{body}: {text}"
        );
    }
}

/// A warm context keeps its `global` between runs of one key and is thrown away when a run
/// fails or leaves work behind, so nothing of one run reaches into the next.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn warm_contexts_are_kept_only_while_runs_end_cleanly() {
    // One thread, so every run meets the same engine.
    let pool = ScriptPool::start(SandboxLimits {
        workers: 1,
        ..limits(1_000)
    })
    .unwrap();
    let warm = |key: &str, source: &str, arg: Value| ScriptCall {
        cache_key: key.into(),
        keep_warm: true,
        ..call(source, vec![arg])
    };
    let counter = "function (mode, callback) {
      global.runs = (global.runs || 0) + 1;
      console.log('run ' + global.runs);
      if (mode === 'timer') { setTimeout(function () { callback(null, 'late'); }, 50); callback(null, global.runs); return; }
      if (mode === 'throw') { throw new Error('boom ' + global.runs); }
      callback(null, global.runs);
    }";
    let runs = |key: &'static str, mode: &'static str| {
        let pool = pool.clone();
        let c = warm(key, counter, json!(mode));
        async move { pool.run(c).await }
    };
    let first = runs("action/a/1", "plain").await;
    assert_eq!(first.outcome.unwrap(), Some(json!(1)));
    let second = runs("action/a/1", "plain").await;
    assert_eq!(
        second.outcome.unwrap(),
        Some(json!(2)),
        "the context was kept"
    );
    assert_eq!(
        second.console,
        vec!["run 2".to_string()],
        "only this run's console"
    );
    // Another key has a context of its own.
    assert_eq!(
        runs("action/b/1", "plain").await.outcome.unwrap(),
        Some(json!(1))
    );
    // A run leaving a timer behind answers, and the next run starts afresh: the timer's late
    // callback never reaches it.
    assert_eq!(
        runs("action/a/1", "timer").await.outcome.unwrap(),
        Some(json!(3))
    );
    let after_timer = runs("action/a/1", "plain").await;
    assert_eq!(after_timer.outcome.unwrap(), Some(json!(1)));
    // A throwing run fails, and the next one starts afresh too.
    let threw = runs("action/a/1", "throw").await;
    assert!(
        matches!(threw.outcome, Err(ScriptError::Threw(ref t)) if t.contains("boom 2")),
        "{:?}",
        threw.outcome
    );
    assert_eq!(
        runs("action/a/1", "plain").await.outcome.unwrap(),
        Some(json!(1))
    );
    // An endless loop is stopped at the limit in a warm context as in a fresh one.
    let looping = warm(
        "action/c/1",
        "function (x, callback) { while (true) {} }",
        json!(null),
    );
    let started = Instant::now();
    assert!(matches!(
        pool.run(looping).await.outcome,
        Err(ScriptError::TimedOut(1000))
    ));
    assert!(started.elapsed() < Duration::from_secs(10));
    assert_eq!(
        runs("action/b/1", "plain").await.outcome.unwrap(),
        Some(json!(1)),
        "a new engine after a limit"
    );
}
