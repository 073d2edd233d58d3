//! What `GET /metrics` reports (docs/operations.md), in Prometheus' text exposition format.
//!
//! Counters are atomics kept per server (tests run several servers in one process): the hot
//! paths (every request, every token) find their series under a read lock held for a map
//! lookup, never across an await, and allocate only the first time a series appears. Gauges
//! (hashing queues, jobs, outbox, database pool) are read when scraped. Written by hand: the
//! format is a few lines of text, and a metrics crate would bring a registry, macros and
//! global state for what a dozen atomics do.

use crate::Gatehouse;
use crate::error::Result;
use gatehouse_core::log_event::codes;
use std::collections::HashMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// Upper bounds of the request-duration histogram, in seconds.
pub const LATENCY_BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The grant types `/oauth/token` knows, as their `grant` label.
pub const GRANTS: [&str; 6] = [
    "client_credentials",
    "password",
    crate::oauth::PASSWORD_REALM_GRANT,
    "refresh_token",
    "authorization_code",
    crate::oauth::PASSWORDLESS_OTP_GRANT,
];

/// A grant type of [`GRANTS`], by its place there.
#[derive(Clone, Copy, Debug)]
pub struct KnownGrant(usize);

/// The label of a requested grant type, when it is one `/oauth/token` knows (others are
/// refused and not counted, so a client cannot add series).
pub fn known_grant(grant_type: Option<&str>) -> Option<KnownGrant> {
    let grant_type = grant_type?;
    GRANTS.iter().position(|g| *g == grant_type).map(KnownGrant)
}

/// HTTP methods as labels; anything else is `OTHER`.
const METHODS: [&str; 8] = [
    "GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS", "OTHER",
];

/// Connections counted by name before further ones share the series `connection="other"`:
/// a login naming an unknown realm must not grow the registry without bound.
const MAX_CONNECTIONS: usize = 256;

/// The route label of a request no route matched (404s), so probes of random paths add no
/// series.
pub const UNMATCHED_ROUTE: &str = "unmatched";

/// One histogram: per-bucket counts (not cumulative; summed when rendered, so `+Inf` and
/// `_count` always agree) and the sum of observations in microseconds.
#[derive(Default)]
struct Histogram {
    buckets: [AtomicU64; LATENCY_BUCKETS.len() + 1],
    sum_micros: AtomicU64,
}

impl Histogram {
    fn observe(&self, elapsed: Duration) {
        let seconds = elapsed.as_secs_f64();
        let slot = LATENCY_BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(LATENCY_BUCKETS.len());
        self.buckets[slot].fetch_add(1, Ordering::Relaxed);
        let micros = u64::try_from(elapsed.as_micros()).unwrap_or(u64::MAX);
        self.sum_micros.fetch_add(micros, Ordering::Relaxed);
    }
}

/// Requests of one route, method and status.
struct RequestSeries {
    method: usize,
    status: u16,
    duration: Histogram,
}

#[derive(Default)]
struct LoginCounts {
    success: AtomicU64,
    failure: AtomicU64,
}

/// The counters of one server.
#[derive(Default)]
pub struct Metrics {
    /// By route template (`/api/v2/users/{id}`), then a short list per method and status.
    requests: RwLock<HashMap<Box<str>, Vec<Arc<RequestSeries>>>>,
    tokens: [AtomicU64; GRANTS.len()],
    logins: RwLock<HashMap<Box<str>, Arc<LoginCounts>>>,
}

fn method_index(method: &str) -> usize {
    METHODS
        .iter()
        .position(|m| *m == method)
        .unwrap_or(METHODS.len() - 1)
}

impl Metrics {
    /// One answered request. `route` is the matched route's template, never the raw path.
    pub fn observe_request(&self, route: &str, method: &str, status: u16, elapsed: Duration) {
        let method = method_index(method);
        let found = {
            let map = self.requests.read().unwrap_or_else(|p| p.into_inner());
            map.get(route).and_then(|series| {
                series
                    .iter()
                    .find(|s| s.method == method && s.status == status)
                    .cloned()
            })
        };
        let series = match found {
            Some(s) => s,
            None => {
                let mut map = self.requests.write().unwrap_or_else(|p| p.into_inner());
                let list = map.entry(route.into()).or_default();
                match list
                    .iter()
                    .find(|s| s.method == method && s.status == status)
                {
                    Some(s) => s.clone(),
                    None => {
                        let s = Arc::new(RequestSeries {
                            method,
                            status,
                            duration: Histogram::default(),
                        });
                        list.push(s.clone());
                        s
                    }
                }
            }
        };
        series.duration.observe(elapsed);
    }

    /// A token issued by `/oauth/token` for `grant` (from [`known_grant`]).
    pub fn token_issued(&self, grant: KnownGrant) {
        self.tokens[grant.0].fetch_add(1, Ordering::Relaxed);
    }

    /// Counts a login outcome from a tenant log event: `s` and `sepft` succeed, `f`, `fp` and
    /// `fu` fail; other events are no logins.
    pub fn observe_event(&self, kind: &str, connection: Option<&str>) {
        let success = match kind {
            codes::SUCCESS_LOGIN | codes::SUCCESS_PASSWORD_EXCHANGE => true,
            codes::FAILED_LOGIN | codes::FAILED_LOGIN_PASSWORD | codes::FAILED_LOGIN_USERNAME => {
                false
            }
            _ => return,
        };
        let connection = connection.unwrap_or("");
        let found = {
            let map = self.logins.read().unwrap_or_else(|p| p.into_inner());
            map.get(connection).cloned()
        };
        let counts = match found {
            Some(c) => c,
            None => {
                let mut map = self.logins.write().unwrap_or_else(|p| p.into_inner());
                let key = if map.len() >= MAX_CONNECTIONS && !map.contains_key(connection) {
                    "other"
                } else {
                    connection
                };
                map.entry(key.into()).or_default().clone()
            }
        };
        let counter = if success {
            &counts.success
        } else {
            &counts.failure
        };
        counter.fetch_add(1, Ordering::Relaxed);
    }

    fn render_counters(&self, out: &mut String) {
        header(
            out,
            "gatehouse_http_requests_total",
            "counter",
            "Requests answered, by route template, method and status.",
        );
        let requests = {
            let map = self.requests.read().unwrap_or_else(|p| p.into_inner());
            let mut all: Vec<(Box<str>, Vec<Arc<RequestSeries>>)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        // Read each histogram once, so the counter and the histogram agree.
        let snapshots: Vec<(&str, &RequestSeries, [u64; LATENCY_BUCKETS.len() + 1], u64)> =
            requests
                .iter()
                .flat_map(|(route, list)| list.iter().map(move |s| (&**route, &**s)))
                .map(|(route, s)| {
                    let counts =
                        std::array::from_fn(|i| s.duration.buckets[i].load(Ordering::Relaxed));
                    (
                        route,
                        s,
                        counts,
                        s.duration.sum_micros.load(Ordering::Relaxed),
                    )
                })
                .collect();
        for (route, s, counts, _) in &snapshots {
            let total: u64 = counts.iter().sum();
            let _ = writeln!(
                out,
                "gatehouse_http_requests_total{{route=\"{}\",method=\"{}\",status=\"{}\"}} {total}",
                escape(route),
                METHODS[s.method],
                s.status
            );
        }
        header(
            out,
            "gatehouse_http_request_duration_seconds",
            "histogram",
            "Time from a request's arrival to its answer, by route template, method and status.",
        );
        for (route, s, counts, sum_micros) in &snapshots {
            let labels = format!(
                "route=\"{}\",method=\"{}\",status=\"{}\"",
                escape(route),
                METHODS[s.method],
                s.status
            );
            let mut cumulative = 0;
            for (bound, n) in LATENCY_BUCKETS.iter().zip(counts.iter()) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            cumulative += counts[LATENCY_BUCKETS.len()];
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {cumulative}"
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_sum{{{labels}}} {}",
                *sum_micros as f64 / 1e6
            );
            let _ = writeln!(
                out,
                "gatehouse_http_request_duration_seconds_count{{{labels}}} {cumulative}"
            );
        }
        header(
            out,
            "gatehouse_tokens_issued_total",
            "counter",
            "Tokens issued by /oauth/token, by grant type.",
        );
        for (grant, n) in GRANTS.iter().zip(self.tokens.iter()) {
            let _ = writeln!(
                out,
                "gatehouse_tokens_issued_total{{grant=\"{}\"}} {}",
                escape(grant),
                n.load(Ordering::Relaxed)
            );
        }
        header(
            out,
            "gatehouse_logins_total",
            "counter",
            "Logins by connection and result: success (log events s, sepft) or failure (f, fp, fu).",
        );
        let logins = {
            let map = self.logins.read().unwrap_or_else(|p| p.into_inner());
            let mut all: Vec<(Box<str>, Arc<LoginCounts>)> =
                map.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
            all.sort_by(|a, b| a.0.cmp(&b.0));
            all
        };
        for (connection, counts) in &logins {
            for (result, n) in [("success", &counts.success), ("failure", &counts.failure)] {
                let _ = writeln!(
                    out,
                    "gatehouse_logins_total{{connection=\"{}\",result=\"{result}\"}} {}",
                    escape(connection),
                    n.load(Ordering::Relaxed)
                );
            }
        }
    }
}

fn header(out: &mut String, name: &str, kind: &str, help: &str) {
    let _ = writeln!(out, "# HELP {name} {help}");
    let _ = writeln!(out, "# TYPE {name} {kind}");
}

fn gauge(out: &mut String, name: &str, help: &str, samples: &[(String, f64)]) {
    header(out, name, "gauge", help);
    for (labels, value) in samples {
        if labels.is_empty() {
            let _ = writeln!(out, "{name} {value}");
        } else {
            let _ = writeln!(out, "{name}{{{labels}}} {value}");
        }
    }
}

/// A label value as the text format wants it: backslash, double quote and newline escaped.
pub fn escape(value: &str) -> String {
    let mut s = String::with_capacity(value.len());
    for c in value.chars() {
        match c {
            '\\' => s.push_str("\\\\"),
            '"' => s.push_str("\\\""),
            '\n' => s.push_str("\\n"),
            c => s.push(c),
        }
    }
    s
}

impl Gatehouse {
    /// This server's counters.
    pub fn metrics(&self) -> &Metrics {
        &self.inner.metrics
    }

    /// The whole exposition: counters, then gauges read now (hashing queues, database pool,
    /// jobs and outbox from the database).
    pub async fn metrics_text(&self) -> Result<String> {
        let mut out = String::with_capacity(16 * 1024);
        self.inner.metrics.render_counters(&mut out);
        let lanes = self.inner.hasher.lanes();
        gauge(
            &mut out,
            "gatehouse_hashing_queue_depth",
            "Password checks waiting for a hashing thread, by lane (native argon2id, imported hashes).",
            &lanes
                .iter()
                .map(|l| (format!("lane=\"{}\"", l.name), l.waiting as f64))
                .collect::<Vec<_>>(),
        );
        gauge(
            &mut out,
            "gatehouse_hashing_busy",
            "Hashing threads at work, by lane.",
            &lanes
                .iter()
                .map(|l| (format!("lane=\"{}\"", l.name), l.busy as f64))
                .collect::<Vec<_>>(),
        );
        gauge(
            &mut out,
            "gatehouse_hashing_capacity",
            "Hashing threads, by lane.",
            &lanes
                .iter()
                .map(|l| (format!("lane=\"{}\"", l.name), l.permits as f64))
                .collect::<Vec<_>>(),
        );
        let pool = self.inner.db.pool_use();
        gauge(
            &mut out,
            "gatehouse_db_pool_connections",
            "Database connections of this node's pool, by state (idle, in_use), and its maximum.",
            &[
                ("state=\"idle\"".into(), pool.idle as f64),
                (
                    "state=\"in_use\"".into(),
                    pool.size.saturating_sub(pool.idle) as f64,
                ),
                ("state=\"max\"".into(), pool.max as f64),
            ],
        );
        let directory = &self.inner.directory_pool;
        let name = "gatehouse_directory_connections_total";
        header(
            &mut out,
            name,
            "counter",
            "AD/LDAP service-account connections: opened, and logins that reused a kept one.",
        );
        let _ = writeln!(out, "{name}{{event=\"opened\"}} {}", directory.opened());
        let _ = writeln!(out, "{name}{{event=\"reused\"}} {}", directory.reused());
        let jobs = self.inner.jobs.progress().await?;
        gauge(
            &mut out,
            "gatehouse_jobs",
            "Jobs not yet finished, by kind and status (receiving, pending: queued; processing: running).",
            &jobs
                .iter()
                .map(|j| {
                    (
                        format!(
                            "kind=\"{}\",status=\"{}\"",
                            escape(&j.kind),
                            escape(&j.status)
                        ),
                        j.jobs as f64,
                    )
                })
                .collect::<Vec<_>>(),
        );
        gauge(
            &mut out,
            "gatehouse_job_rows_processed",
            "Rows processed so far by jobs not yet finished, by kind and status.",
            &jobs
                .iter()
                .map(|j| {
                    (
                        format!(
                            "kind=\"{}\",status=\"{}\"",
                            escape(&j.kind),
                            escape(&j.status)
                        ),
                        j.processed as f64,
                    )
                })
                .collect::<Vec<_>>(),
        );
        let outbox = self.inner.outbox.backlog(self.now()).await?;
        gauge(
            &mut out,
            "gatehouse_outbox_backlog",
            "Emails not yet sent nor given up, by whether they are due now.",
            &[
                ("due=\"true\"".into(), outbox.due as f64),
                ("due=\"false\"".into(), outbox.waiting as f64),
            ],
        );
        gauge(
            &mut out,
            "gatehouse_outbox_oldest_seconds",
            "Age of the oldest email not yet sent nor given up (0 when none).",
            &[(String::new(), outbox.oldest_age_ms as f64 / 1000.0)],
        );
        Ok(out)
    }
}
