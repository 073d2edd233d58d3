//! How values read on dashboard pages: times, counts, JSON values as text, and the query
//! strings and path segments of links (percent-encoding, which is not HTML escaping: maud
//! escapes the finished link like any other attribute).

use serde_json::Value;

/// An epoch-millisecond time as `2026-12-02 10:04:05 UTC`.
pub fn time(ms: Option<i64>) -> String {
    match ms {
        Some(ms) => {
            let iso = gatehouse_core::time::iso8601(ms);
            format!("{} UTC", iso.get(..19).unwrap_or(&iso).replace('T', " "))
        }
        None => "never".into(),
    }
}

/// A JSON value as text for a cell: strings bare, the rest as JSON.
pub fn text(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Null => String::new(),
        other => other.to_string(),
    }
}

/// `1 user`, `2 users`: a count with its noun.
pub fn count(n: i64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

/// `a=b&c=d` with each value percent-encoded.
pub fn query(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .filter(|(_, v)| !v.is_empty())
        .map(|(k, v)| format!("{k}={}", gatehouse_core::authorize::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

/// Percent-encodes a path segment (user ids carry `|`).
pub fn seg(s: &str) -> String {
    gatehouse_core::authorize::percent_encode(s)
}
