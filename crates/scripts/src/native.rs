//! The natives behind the prelude's modules: each takes and gives plain strings and numbers
//! (bytes as base64), answering `{"ok": …}` or `{"error": {"message", "code"}}` so the
//! prelude throws a proper `Error`. Blocking ones (bcrypt, PostgreSQL, MySQL, HTTP) run on the
//! sandbox thread, their I/O on the server's runtime, bounded by the run's deadline.

use crate::hosts::AllowedHosts;
use crate::outcome::CallbackError;
use crate::pool::Shared;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use hmac::{Hmac, Mac};
use md5 as _;
use rquickjs::{Ctx, Function, Object};
use serde_json::{Value, json};
use sha1::Sha1;
use sha2::{Digest, Sha224, Sha256, Sha384, Sha512};
use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// bcrypt costs above this would hold a sandbox thread for minutes.
const MAX_BCRYPT_COST: u32 = 16;
/// Console lines kept per run (for the "try" answer), and characters per line.
const MAX_CONSOLE_LINES: usize = 200;
const MAX_CONSOLE_LINE: usize = 2_000;

/// What one run's natives record.
#[derive(Default)]
pub(crate) struct RunState {
    /// The first callback: its error, or its value (`None` for no value).
    pub settled: Option<Result<Option<Value>, CallbackError>>,
    /// An exception nobody caught (in a callback, a timer, a rejected promise the script
    /// returned).
    pub uncaught: Option<String>,
    pub console: Vec<String>,
}

/// Per-run facts the natives need.
pub(crate) struct RunContext {
    pub shared: Arc<Shared>,
    pub deadline: Instant,
    pub masks: Vec<String>,
    pub script: String,
}

/// The run a context's natives serve: swapped at the start of each run of a context kept
/// warm between runs (`worker`), so the natives installed once always see the current run.
pub(crate) struct RunSlot(RefCell<Rc<RunContext>>);

impl RunSlot {
    pub(crate) fn new(run: Rc<RunContext>) -> Self {
        Self(RefCell::new(run))
    }
    pub(crate) fn get(&self) -> Rc<RunContext> {
        self.0.borrow().clone()
    }
    pub(crate) fn set(&self, run: Rc<RunContext>) {
        *self.0.borrow_mut() = run;
    }
}

impl RunContext {
    fn time_left(&self) -> Duration {
        self.deadline.saturating_duration_since(Instant::now())
    }

    /// Replaces every secret in console text before it is kept or logged.
    pub fn mask(&self, text: &str) -> String {
        let mut out = text.to_string();
        for secret in &self.masks {
            if out.contains(secret.as_str()) {
                out = out.replace(secret.as_str(), "[redacted]");
            }
        }
        out
    }

    /// Runs I/O on the server's runtime, waiting on this thread, cut off at the deadline.
    fn block_on<T>(
        &self,
        what: &str,
        work: impl std::future::Future<Output = Result<T, String>>,
    ) -> Result<T, String> {
        let left = self.time_left();
        self.shared
            .io
            .block_on(async { tokio::time::timeout(left, work).await })
            .unwrap_or_else(|_| {
                Err(format!(
                    "{what} did not answer before the script's time limit"
                ))
            })
    }
}

fn ok(value: impl Into<Value>) -> String {
    json!({ "ok": value.into() }).to_string()
}

fn fail(message: impl Into<String>, code: Option<String>) -> String {
    json!({ "error": { "message": message.into(), "code": code } }).to_string()
}

fn answer(r: Result<Value, String>) -> String {
    match r {
        Ok(v) => ok(v),
        Err(e) => fail(e, None),
    }
}

fn bytes(b64: &str) -> Result<Vec<u8>, String> {
    B64.decode(b64).map_err(|e| format!("bad bytes: {e}"))
}

fn digest(alg: &str, data: &[u8]) -> Result<Vec<u8>, String> {
    Ok(match alg.to_ascii_lowercase().replace('-', "").as_str() {
        "md5" => md5::Md5::digest(data).to_vec(),
        "sha1" => Sha1::digest(data).to_vec(),
        "sha224" => Sha224::digest(data).to_vec(),
        "sha256" => Sha256::digest(data).to_vec(),
        "sha384" => Sha384::digest(data).to_vec(),
        "sha512" => Sha512::digest(data).to_vec(),
        other => return Err(format!("Digest method not supported: {other}")),
    })
}

fn hmac(alg: &str, key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
    fn run<M: Mac + hmac::digest::KeyInit>(key: &[u8], data: &[u8]) -> Result<Vec<u8>, String> {
        let mut m = <M as Mac>::new_from_slice(key).map_err(|e| e.to_string())?;
        m.update(data);
        Ok(m.finalize().into_bytes().to_vec())
    }
    match alg.to_ascii_lowercase().replace('-', "").as_str() {
        "md5" => run::<Hmac<md5::Md5>>(key, data),
        "sha1" => run::<Hmac<Sha1>>(key, data),
        "sha224" => run::<Hmac<Sha224>>(key, data),
        "sha256" => run::<Hmac<Sha256>>(key, data),
        "sha384" => run::<Hmac<Sha384>>(key, data),
        "sha512" => run::<Hmac<Sha512>>(key, data),
        other => Err(format!("Invalid digest: {other}")),
    }
}

fn pbkdf2(
    password: &[u8],
    salt: &[u8],
    rounds: u32,
    len: usize,
    alg: &str,
) -> Result<Vec<u8>, String> {
    if rounds == 0 || rounds > 10_000_000 || len == 0 || len > 1024 {
        return Err("pbkdf2: iterations or key length out of range".into());
    }
    let mut out = vec![0u8; len];
    match alg.to_ascii_lowercase().replace('-', "").as_str() {
        "sha1" => pbkdf2::pbkdf2_hmac::<Sha1>(password, salt, rounds, &mut out),
        "sha256" => pbkdf2::pbkdf2_hmac::<Sha256>(password, salt, rounds, &mut out),
        "sha512" => pbkdf2::pbkdf2_hmac::<Sha512>(password, salt, rounds, &mut out),
        other => return Err(format!("Invalid digest: {other}")),
    }
    Ok(out)
}

/// The cost in a bcrypt hash (`$2b$10$…`).
fn bcrypt_cost(hash: &str) -> Option<u32> {
    hash.split('$').nth(2).and_then(|c| c.parse().ok())
}

fn host_and_port(connection_string: &str) -> Result<(String, u16), String> {
    let url = url::Url::parse(connection_string)
        .map_err(|_| "the PostgreSQL connection string is not a postgres:// URL".to_string())?;
    let host = url.host_str().unwrap_or("localhost").to_string();
    Ok((host, url.port().unwrap_or(5432)))
}

fn mysql_host_and_port(url: &str) -> Result<(String, u16), String> {
    let parsed = url::Url::parse(url)
        .ok()
        .filter(|u| u.scheme() == "mysql")
        .ok_or_else(|| "the MySQL connection is not a mysql:// URL".to_string())?;
    let host = parsed
        .host_str()
        .filter(|h| !h.is_empty())
        .unwrap_or("localhost")
        .to_string();
    Ok((host, parsed.port().unwrap_or(3306)))
}

/// A `mysql` failure with the npm package's error fields.
fn mysql_fail(f: crate::mysql::MySqlFailure) -> String {
    json!({ "error": {
        "message": f.message,
        "code": f.code,
        "errno": f.errno,
        "sqlState": f.sql_state,
        "fatal": f.fatal,
    } })
    .to_string()
}

/// Puts the natives on `globalThis.__gh`, where the prelude takes them from.
pub(crate) fn install<'js>(
    ctx: &Ctx<'js>,
    state: Rc<RefCell<RunState>>,
    run: Rc<RunSlot>,
) -> rquickjs::Result<()> {
    let gh = Object::new(ctx.clone())?;

    let s = state.clone();
    gh.set(
        "settle",
        Function::new(
            ctx.clone(),
            move |err: Option<String>, value: Option<String>| {
                let mut st = s.borrow_mut();
                if st.settled.is_some() {
                    return;
                }
                let outcome = match err {
                    Some(e) => {
                        let parsed = serde_json::from_str::<CallbackError>(&e).ok();
                        Err(parsed.unwrap_or(CallbackError {
                            class: crate::ErrorClass::Error,
                            message: e,
                            first: None,
                        }))
                    }
                    None => Ok(value
                        .and_then(|v| serde_json::from_str::<Value>(&v).ok())
                        .filter(|v| !v.is_null())),
                };
                st.settled = Some(outcome);
            },
        )?,
    )?;

    let s = state.clone();
    let slot = run.clone();
    gh.set(
        "uncaught",
        Function::new(ctx.clone(), move |text: String| {
            let r = slot.get();
            let mut st = s.borrow_mut();
            if st.settled.is_none() && st.uncaught.is_none() {
                st.uncaught = Some(r.mask(&text));
            }
        })?,
    )?;

    let s = state.clone();
    let slot = run.clone();
    gh.set(
        "console",
        Function::new(ctx.clone(), move |level: String, text: String| {
            let r = slot.get();
            let line: String = r.mask(&text).chars().take(MAX_CONSOLE_LINE).collect();
            tracing::debug!(target: "gatehouse::script", script = %r.script, level = %level, "{line}");
            let mut st = s.borrow_mut();
            if st.console.len() < MAX_CONSOLE_LINES {
                st.console.push(line);
            }
        })?,
    )?;

    gh.set(
        "bcryptCompare",
        Function::new(ctx.clone(), |plain: String, hash: String| {
            match bcrypt_cost(&hash) {
                Some(cost) if cost > MAX_BCRYPT_COST => {
                    return fail(
                        format!(
                            "bcrypt cost {cost} is above the sandbox's limit of {MAX_BCRYPT_COST}"
                        ),
                        None,
                    );
                }
                None => return fail("Invalid bcrypt hash", None),
                _ => {}
            }
            // A malformed hash does not match, as bcrypt.compare answers false in Node.
            ok(bcrypt::verify(plain.as_bytes(), &hash).unwrap_or(false))
        })?,
    )?;
    gh.set(
        "bcryptHash",
        Function::new(ctx.clone(), |plain: String, cost: f64| {
            let cost = cost as u32;
            if !(4..=MAX_BCRYPT_COST).contains(&cost) {
                return fail(
                    format!("bcrypt rounds must be from 4 to {MAX_BCRYPT_COST}"),
                    None,
                );
            }
            answer(
                bcrypt::hash(plain.as_bytes(), cost)
                    .map(Value::String)
                    .map_err(|e| e.to_string()),
            )
        })?,
    )?;
    gh.set(
        "digest",
        Function::new(ctx.clone(), |alg: String, data: String| {
            answer(
                bytes(&data)
                    .and_then(|d| digest(&alg, &d))
                    .map(|d| Value::String(B64.encode(d))),
            )
        })?,
    )?;
    gh.set(
        "hmac",
        Function::new(ctx.clone(), |alg: String, key: String, data: String| {
            answer(
                bytes(&key)
                    .and_then(|k| bytes(&data).map(|d| (k, d)))
                    .and_then(|(k, d)| hmac(&alg, &k, &d))
                    .map(|d| Value::String(B64.encode(d))),
            )
        })?,
    )?;
    gh.set(
        "pbkdf2",
        Function::new(
            ctx.clone(),
            |password: String, salt: String, rounds: f64, len: f64, alg: String| {
                answer(
                    bytes(&password)
                        .and_then(|p| bytes(&salt).map(|s| (p, s)))
                        .and_then(|(p, s)| pbkdf2(&p, &s, rounds as u32, len as usize, &alg))
                        .map(|d| Value::String(B64.encode(d))),
                )
            },
        )?,
    )?;
    gh.set(
        "randomBytes",
        Function::new(ctx.clone(), |n: f64| {
            let n = n as usize;
            if n > 65_536 {
                return fail("randomBytes: at most 65536 bytes", None);
            }
            let mut out = vec![0u8; n];
            match rand_core::RngCore::try_fill_bytes(&mut rand_core::OsRng, &mut out) {
                Ok(()) => ok(B64.encode(out)),
                Err(e) => fail(format!("no randomness: {e}"), None),
            }
        })?,
    )?;
    gh.set(
        "timingSafeEqual",
        Function::new(ctx.clone(), |a: String, b: String| {
            answer(
                bytes(&a)
                    .and_then(|a| bytes(&b).map(|b| (a, b)))
                    .map(|(a, b)| {
                        Value::Bool(
                            subtle::ConstantTimeEq::ct_eq(a.as_slice(), b.as_slice()).into(),
                        )
                    }),
            )
        })?,
    )?;
    gh.set(
        "urlParse",
        Function::new(ctx.clone(), |input: String, base: Option<String>| {
            let parsed = match base {
                Some(b) => url::Url::parse(&b).and_then(|b| b.join(&input)),
                None => url::Url::parse(&input),
            };
            match parsed {
                Ok(u) => ok(json!({
                    "href": u.as_str(),
                    "protocol": format!("{}:", u.scheme()),
                    "username": u.username(),
                    "password": u.password().unwrap_or(""),
                    "host": match u.port() { Some(p) => format!("{}:{p}", u.host_str().unwrap_or("")), None => u.host_str().unwrap_or("").to_string() },
                    "hostname": u.host_str().unwrap_or(""),
                    "port": u.port().map(|p| p.to_string()).unwrap_or_default(),
                    "pathname": u.path(),
                    "search": u.query().map(|q| format!("?{q}")).unwrap_or_default(),
                    "hash": u.fragment().map(|f| format!("#{f}")).unwrap_or_default(),
                    "origin": u.origin().ascii_serialization(),
                })),
                Err(e) => fail(format!("Invalid URL: {e}"), Some("ERR_INVALID_URL".into())),
            }
        })?,
    )?;

    let slot = run.clone();
    gh.set(
        "fetch",
        Function::new(ctx.clone(), move |request: String| {
            let r = slot.get();
            let request: crate::http::FetchRequest = match serde_json::from_str(&request) {
                Ok(v) => v,
                Err(e) => return fail(format!("bad request: {e}"), None),
            };
            let shared = r.shared.clone();
            let left = r.time_left();
            let result = r.block_on("the HTTP server", async move {
                crate::http::fetch(&shared.http, &shared.limits.allowed_hosts, request, left).await
            });
            match result {
                Ok(a) => answer(serde_json::to_value(a).map_err(|e| e.to_string())),
                Err(e) => fail(e, None),
            }
        })?,
    )?;

    let slot = run.clone();
    gh.set(
        "pg",
        Function::new(
            ctx.clone(),
            move |connection: String, sql: String, params: String| {
                let r = slot.get();
                let params: Vec<Value> = match serde_json::from_str(&params) {
                    Ok(v) => v,
                    Err(e) => return fail(format!("bad parameters: {e}"), None),
                };
                let (host, port) = match host_and_port(&connection) {
                    Ok(v) => v,
                    Err(e) => return fail(e, None),
                };
                if !r.shared.limits.allowed_hosts.allows(&host, port) {
                    return fail(AllowedHosts::refusal(&host), None);
                }
                let shared = r.shared.clone();
                let mut code = None;
                let result = r.block_on("PostgreSQL", async {
                    shared
                        .pg
                        .query(&connection, &sql, &params)
                        .await
                        .map_err(|f| {
                            code = f.code.clone();
                            f.message
                        })
                });
                match result {
                    Ok(v) => ok(v),
                    Err(e) => fail(e, code),
                }
            },
        )?,
    )?;

    let slot = run;
    gh.set(
        "mysql",
        Function::new(
            ctx.clone(),
            move |url: String, sql: String, params: String| {
                let r = slot.get();
                let params: Vec<Value> = match serde_json::from_str(&params) {
                    Ok(v) => v,
                    Err(e) => return fail(format!("bad parameters: {e}"), None),
                };
                let (host, port) = match mysql_host_and_port(&url) {
                    Ok(v) => v,
                    Err(e) => return fail(e, None),
                };
                if !r.shared.limits.allowed_hosts.allows(&host, port) {
                    return fail(AllowedHosts::refusal(&host), None);
                }
                let shared = r.shared.clone();
                let mut failure = None;
                let result = r.block_on("MySQL", async {
                    shared.mysql.query(&url, &sql, &params).await.map_err(|f| {
                        let message = f.message.clone();
                        failure = Some(f);
                        message
                    })
                });
                match (result, failure) {
                    (Ok(v), _) => ok(v),
                    (Err(_), Some(f)) => mysql_fail(f),
                    (Err(e), None) => fail(e, Some("PROTOCOL_SEQUENCE_TIMEOUT".into())),
                }
            },
        )?,
    )?;

    ctx.globals().set("__gh", gh)?;
    Ok(())
}
