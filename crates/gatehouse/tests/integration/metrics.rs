//! `GET /metrics` (docs/operations.md): off unless `GATEHOUSE_METRICS_LISTEN` is set, never on
//! the public listener; the exposition parses line by line as Prometheus' text format; the
//! counters move by exactly what was done (labels by route template, grant and connection);
//! histograms are cumulative with `_count` equal to the `+Inf` bucket.

use crate::common;

use common::{DB_CONNECTION, TestServer, enc};
use reqwest::Method;
use serde_json::json;
use std::collections::{BTreeMap, HashSet};

const REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// One sample: its metric name, labels, value.
#[derive(Debug, Clone)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

fn is_name(s: &str, first_colon: bool) -> bool {
    let mut chars = s.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (first_colon && c == ':'))
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (first_colon && c == ':'))
}

fn parse_value(s: &str) -> Option<f64> {
    match s {
        "+Inf" => Some(f64::INFINITY),
        "-Inf" => Some(f64::NEG_INFINITY),
        "NaN" => Some(f64::NAN),
        s if !s.is_empty()
            && s.chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | 'e' | 'E' | '-' | '+')) =>
        {
            s.parse().ok()
        }
        _ => None,
    }
}

/// `{a="x",b="y\"z"}` (after the name) into labels, and the rest of the line.
fn parse_labels(line: &str) -> Result<(BTreeMap<String, String>, &str), String> {
    let mut labels = BTreeMap::new();
    let Some(mut rest) = line.strip_prefix('{') else {
        return Ok((labels, line));
    };
    loop {
        if let Some(after) = rest.strip_prefix('}') {
            return Ok((labels, after));
        }
        let eq = rest.find('=').ok_or("label without =")?;
        let name = &rest[..eq];
        if !is_name(name, false) {
            return Err(format!("bad label name {name:?}"));
        }
        rest = rest[eq + 1..]
            .strip_prefix('"')
            .ok_or("label value not quoted")?;
        let mut value = String::new();
        let mut chars = rest.char_indices();
        let end = loop {
            match chars.next().ok_or("unterminated label value")? {
                (i, '"') => break i,
                (_, '\\') => match chars.next().ok_or("dangling escape")?.1 {
                    '\\' => value.push('\\'),
                    '"' => value.push('"'),
                    'n' => value.push('\n'),
                    c => return Err(format!("bad escape \\{c}")),
                },
                (_, '\n') => return Err("newline in label value".into()),
                (_, c) => value.push(c),
            }
        };
        if labels.insert(name.to_string(), value).is_some() {
            return Err(format!("label {name} twice"));
        }
        rest = &rest[end + 1..];
        if let Some(after) = rest.strip_prefix(',') {
            rest = after;
        } else if !rest.starts_with('}') {
            return Err("labels not separated by a comma".into());
        }
    }
}

/// Parses the exposition strictly: every line is a HELP, a TYPE (before the family's samples,
/// once), or a sample of a declared family; a family's samples are contiguous.
fn parse(text: &str) -> Vec<Sample> {
    let mut types: BTreeMap<String, String> = BTreeMap::new();
    let mut finished: HashSet<String> = HashSet::new();
    let mut current: Option<String> = None;
    let mut samples = Vec::new();
    assert!(text.ends_with('\n'), "the exposition ends with a newline");
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let (name, help) = rest.split_once(' ').expect("HELP has a text");
            assert!(is_name(name, true) && !help.is_empty(), "{line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest.split_once(' ').expect("TYPE has a type");
            assert!(is_name(name, true), "{line}");
            assert!(
                ["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind),
                "{line}"
            );
            assert!(
                types.insert(name.into(), kind.into()).is_none(),
                "TYPE twice: {line}"
            );
            if let Some(c) = current.replace(name.to_string()) {
                finished.insert(c);
            }
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.is_empty(),
            "stray line {line:?}"
        );
        let name_end = line.find(['{', ' ']).expect("a sample has a value");
        let name = &line[..name_end];
        assert!(is_name(name, true), "bad metric name in {line:?}");
        let (labels, rest) =
            parse_labels(&line[name_end..]).unwrap_or_else(|e| panic!("{e}: {line:?}"));
        let value = rest.strip_prefix(' ').expect("one space before the value");
        let value = parse_value(value).unwrap_or_else(|| panic!("bad value in {line:?}"));
        let family = ["_bucket", "_sum", "_count"]
            .iter()
            .find_map(|suffix| {
                name.strip_suffix(suffix)
                    .filter(|base| types.get(*base).is_some_and(|t| t == "histogram"))
            })
            .unwrap_or(name);
        assert!(
            types.contains_key(family),
            "sample before its TYPE: {line:?}"
        );
        assert_eq!(
            current.as_deref(),
            Some(family),
            "family not contiguous: {line:?}"
        );
        assert!(!finished.contains(family));
        samples.push(Sample {
            name: name.into(),
            labels,
            value,
        });
    }
    samples
}

fn find(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> Option<f64> {
    samples
        .iter()
        .find(|s| {
            s.name == name
                && s.labels.len() == labels.len()
                && labels
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
        })
        .map(|s| s.value)
}

fn value(samples: &[Sample], name: &str, labels: &[(&str, &str)]) -> f64 {
    find(samples, name, labels).unwrap_or(0.0)
}

async fn scrape(s: &TestServer) -> (String, Vec<Sample>) {
    let url = s.metrics_url().expect("metrics are on");
    let r = s.http().get(&url).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(
        r.headers()["content-type"],
        "text/plain; version=0.0.4; charset=utf-8"
    );
    let text = r.text().await.unwrap();
    let samples = parse(&text);
    (text, samples)
}

/// Every histogram series: buckets in increasing `le`, cumulative, `+Inf` equal to `_count`,
/// and the request counter of the same labels equal to it.
fn assert_histograms_consistent(samples: &[Sample]) {
    let mut series: BTreeMap<BTreeMap<String, String>, Vec<(f64, f64)>> = BTreeMap::new();
    for s in samples
        .iter()
        .filter(|s| s.name == "gatehouse_http_request_duration_seconds_bucket")
    {
        let mut labels = s.labels.clone();
        let le = labels.remove("le").expect("a bucket has le");
        let le = parse_value(&le).expect("le is a number");
        series.entry(labels).or_default().push((le, s.value));
    }
    assert!(!series.is_empty());
    for (labels, buckets) in &series {
        assert!(
            buckets
                .windows(2)
                .all(|w| w[0].0 < w[1].0 && w[0].1 <= w[1].1),
            "not cumulative: {labels:?} {buckets:?}"
        );
        let (last_le, inf) = *buckets.last().unwrap();
        assert!(last_le.is_infinite(), "{labels:?}");
        let pairs: Vec<(&str, &str)> = labels
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        assert_eq!(
            find(
                samples,
                "gatehouse_http_request_duration_seconds_count",
                &pairs
            ),
            Some(inf),
            "{labels:?}"
        );
        assert_eq!(
            find(samples, "gatehouse_http_requests_total", &pairs),
            Some(inf),
            "{labels:?}"
        );
        let sum = find(
            samples,
            "gatehouse_http_request_duration_seconds_sum",
            &pairs,
        )
        .expect("a sum");
        assert!(sum >= 0.0);
    }
}

#[tokio::test]
async fn metrics_are_off_by_default_and_never_on_the_public_listener() {
    let s = TestServer::start().await;
    assert_eq!(s.metrics_url(), None);
    let r = s.raw(Method::GET, "/metrics", None, None).await;
    r.assert_status(404);
    assert_eq!(r.body["statusCode"], 404);

    let s = TestServer::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".into())).await;
    let r = s.raw(Method::GET, "/metrics", None, None).await;
    r.assert_status(404);
    assert_eq!(r.body["statusCode"], 404);
    // The metrics listener serves /metrics and nothing of the public surface.
    let url = s.metrics_url().unwrap();
    let other = url.replace("/metrics", "/api/v2/users");
    assert_eq!(s.http().get(&other).send().await.unwrap().status(), 404);
    let healthz = url.replace("/metrics", "/oauth/token");
    assert_eq!(s.http().post(&healthz).send().await.unwrap().status(), 404);
}

#[tokio::test(flavor = "multi_thread")]
async fn counters_move_by_what_was_done_with_route_templates_and_grant_labels() {
    let mut s = TestServer::start_with(|c| c.metrics_listen = Some("127.0.0.1:0".into())).await;
    let (cid, secret) = s
        .app_with_grants(&["client_credentials", REALM_GRANT])
        .await;
    s.post(
        "/api/v2/client-grants",
        json!({"client_id": cid, "audience": s.audience(), "scope": ["read:users"]}),
    )
    .await
    .assert_status(201);
    let email = format!(
        "zoë.{}@example.com",
        gatehouse_crypto::random::hex(3).unwrap()
    );
    let user = s.create_user(&email, json!({})).await;
    let user_id = user["user_id"].as_str().unwrap().to_string();
    let (_, before) = scrape(&s).await;

    // Three client-credentials tokens, two logins, three failed logins (two wrong passwords,
    // one unknown user), one refused client secret.
    for _ in 0..3 {
        s.raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(json!({"grant_type": "client_credentials",
            "client_id": cid, "client_secret": secret, "audience": s.audience()})),
        )
        .await
        .assert_status(200);
    }
    let login = |username: String, password: &'static str| {
        json!({"grant_type": REALM_GRANT, "realm": DB_CONNECTION, "client_id": cid,
            "client_secret": secret, "username": username, "password": password})
    };
    for _ in 0..2 {
        s.raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(login(email.clone(), "Sup3r-secret!")),
        )
        .await
        .assert_status(200);
    }
    for _ in 0..2 {
        s.raw(
            Method::POST,
            "/oauth/token",
            None,
            Some(login(email.clone(), "wrong-Passw0rd")),
        )
        .await
        .assert_status(403);
    }
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(login("nobody@example.com".into(), "wrong-Passw0rd")),
    )
    .await
    .assert_status(403);
    s.raw(
        Method::POST,
        "/oauth/token",
        None,
        Some(json!({"grant_type": "client_credentials",
        "client_id": cid, "client_secret": "not-the-secret", "audience": s.audience()})),
    )
    .await
    .assert_status(401);
    // A user read twice by id: one series under the route's template.
    for _ in 0..2 {
        s.get(&format!("/api/v2/users/{}", enc(&user_id)))
            .await
            .assert_status(200);
    }
    s.get("/no/such/page/42").await;

    let (text, after) = scrape(&s).await;
    let delta = |name: &str, labels: &[(&str, &str)]| {
        value(&after, name, labels) - value(&before, name, labels)
    };

    assert_eq!(
        delta(
            "gatehouse_tokens_issued_total",
            &[("grant", "client_credentials")]
        ),
        3.0
    );
    assert_eq!(
        delta("gatehouse_tokens_issued_total", &[("grant", REALM_GRANT)]),
        2.0
    );
    assert_eq!(
        delta(
            "gatehouse_tokens_issued_total",
            &[("grant", "refresh_token")]
        ),
        0.0
    );
    assert_eq!(
        delta(
            "gatehouse_logins_total",
            &[("connection", DB_CONNECTION), ("result", "success")]
        ),
        2.0
    );
    assert_eq!(
        delta(
            "gatehouse_logins_total",
            &[("connection", DB_CONNECTION), ("result", "failure")]
        ),
        3.0
    );
    let token_route = |status: &'static str| {
        [
            ("route", "/oauth/token"),
            ("method", "POST"),
            ("status", status),
        ]
    };
    assert_eq!(
        delta("gatehouse_http_requests_total", &token_route("200")),
        5.0
    );
    assert_eq!(
        delta("gatehouse_http_requests_total", &token_route("403")),
        3.0
    );
    assert_eq!(
        delta("gatehouse_http_requests_total", &token_route("401")),
        1.0
    );
    assert_eq!(
        delta(
            "gatehouse_http_request_duration_seconds_count",
            &token_route("200")
        ),
        5.0
    );
    assert_eq!(
        delta(
            "gatehouse_http_requests_total",
            &[
                ("route", "/api/v2/users/{id}"),
                ("method", "GET"),
                ("status", "200")
            ]
        ),
        2.0
    );
    assert_eq!(
        delta(
            "gatehouse_http_requests_total",
            &[("route", "unmatched"), ("method", "GET"), ("status", "404")]
        ),
        1.0
    );
    // Raw paths never become labels: no user id, email or probed path in the exposition.
    assert!(!text.contains(&user_id) && !text.contains(&enc(&user_id)));
    assert!(!text.contains("zoë") && !text.contains("/no/such/page"));
    assert_histograms_consistent(&after);

    // The gauges read at scrape time are there, with their labels.
    for lane in ["native", "imported"] {
        assert_eq!(
            find(&after, "gatehouse_hashing_queue_depth", &[("lane", lane)]),
            Some(0.0)
        );
        assert!(find(&after, "gatehouse_hashing_capacity", &[("lane", lane)]).unwrap() >= 1.0);
    }
    let max = find(&after, "gatehouse_db_pool_connections", &[("state", "max")]).unwrap();
    let idle = find(
        &after,
        "gatehouse_db_pool_connections",
        &[("state", "idle")],
    )
    .unwrap();
    let in_use = find(
        &after,
        "gatehouse_db_pool_connections",
        &[("state", "in_use")],
    )
    .unwrap();
    assert!(max >= 1.0 && idle + in_use <= max, "{idle} {in_use} {max}");
    assert!(find(&after, "gatehouse_outbox_backlog", &[("due", "true")]).is_some());
    assert!(find(&after, "gatehouse_outbox_oldest_seconds", &[]).is_some());
}

#[tokio::test(flavor = "multi_thread")]
async fn jobs_and_the_outbox_show_as_gauges() {
    let mut s = TestServer::start_with(|c| {
        c.metrics_listen = Some("127.0.0.1:0".into());
        // Nothing is taken from the queues while the test looks.
        c.job_poll_ms = 3_600_000;
        c.mail_poll_ms = 3_600_000;
    })
    .await;
    let (_, before) = scrape(&s).await;
    let due = |samples: &[Sample]| value(samples, "gatehouse_outbox_backlog", &[("due", "true")]);
    // A new user gets a verification email (in the outbox at once); an import waits for a
    // worker.
    s.create_user("adá@example.com", json!({})).await;
    let connection = s.connection_id(DB_CONNECTION).await;
    s.upload_import(
        br#"[{"email": "one@import.example"}, {"email": "two@import.example"}]"#.to_vec(),
        &[("connection_id", &connection)],
    )
    .await
    .assert_status(202);
    let (_, after) = scrape(&s).await;
    let jobs: Vec<&Sample> = after
        .iter()
        .filter(|x| x.name == "gatehouse_jobs")
        .collect();
    assert_eq!(jobs.len(), 1, "{jobs:?}");
    assert_eq!(
        find(
            &after,
            "gatehouse_jobs",
            &[("kind", "users_import"), ("status", "pending")]
        ),
        Some(1.0),
    );
    assert_eq!(
        find(
            &after,
            "gatehouse_job_rows_processed",
            &[("kind", "users_import"), ("status", "pending")]
        ),
        Some(0.0),
    );
    assert_eq!(due(&after) - due(&before), 1.0);
    assert!(value(&after, "gatehouse_outbox_oldest_seconds", &[]) >= 0.0);
}
