//! `fetch` and `request` from a script: HTTP to allowed hosts only (every redirect hop is
//! checked too), with the run's remaining time as the timeout and a cap on the body read.

use crate::hosts::AllowedHosts;
use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// Largest response body a script may read (5 MiB).
const MAX_BODY: usize = 5 * 1024 * 1024;

/// What the JavaScript side asks for.
#[derive(Debug, Deserialize)]
pub(crate) struct FetchRequest {
    pub method: String,
    pub url: String,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// The body, base64.
    #[serde(default)]
    pub body: Option<String>,
}

/// What it gets back (the body base64, decoded by the JavaScript `Response`).
#[derive(Debug, Serialize)]
pub(crate) struct FetchAnswer {
    pub status: u16,
    #[serde(rename = "statusText")]
    pub status_text: String,
    pub url: String,
    pub headers: BTreeMap<String, String>,
    pub body: String,
}

/// The HTTP client of the sandbox: redirects followed only to allowed hosts.
pub(crate) fn client(hosts: AllowedHosts) -> Result<reqwest::Client, String> {
    let policy = reqwest::redirect::Policy::custom(move |attempt| {
        let url = attempt.url();
        let allowed = url
            .host_str()
            .zip(url.port_or_known_default())
            .is_some_and(|(h, p)| hosts.allows(h, p));
        if attempt.previous().len() >= 5 {
            attempt.error("too many redirects")
        } else if allowed {
            attempt.follow()
        } else {
            let host = url.host_str().unwrap_or("").to_string();
            attempt.error(AllowedHosts::refusal(&host))
        }
    });
    reqwest::Client::builder()
        .redirect(policy)
        .user_agent("Gatehouse-Script/1")
        .build()
        .map_err(|e| format!("the HTTP client could not start: {e}"))
}

/// Sends one request, refusing hosts off the list before any connection is made.
pub(crate) async fn fetch(
    client: &reqwest::Client,
    hosts: &AllowedHosts,
    request: FetchRequest,
    time_left: Duration,
) -> Result<FetchAnswer, String> {
    let url = url::Url::parse(&request.url).map_err(|e| format!("invalid URL: {e}"))?;
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be fetched, not {}",
            url.scheme()
        ));
    }
    let host = url.host_str().unwrap_or("").to_string();
    let port = url.port_or_known_default().unwrap_or(0);
    if !hosts.allows(&host, port) {
        return Err(AllowedHosts::refusal(&host));
    }
    let method = reqwest::Method::from_bytes(request.method.to_ascii_uppercase().as_bytes())
        .map_err(|_| format!("invalid method {}", request.method))?;
    let mut builder = client.request(method, url).timeout(time_left);
    for (k, v) in &request.headers {
        builder = builder.header(k, v);
    }
    if let Some(body) = request.body {
        let bytes = B64.decode(body).map_err(|e| format!("body: {e}"))?;
        builder = builder.body(bytes);
    }
    let mut answer = builder.send().await.map_err(describe)?;
    let status = answer.status();
    let mut headers = BTreeMap::new();
    for (k, v) in answer.headers() {
        if let Ok(v) = v.to_str() {
            headers
                .entry(k.as_str().to_string())
                .and_modify(|old: &mut String| {
                    old.push_str(", ");
                    old.push_str(v);
                })
                .or_insert_with(|| v.to_string());
        }
    }
    let final_url = answer.url().to_string();
    let mut body = Vec::new();
    while let Some(chunk) = answer.chunk().await.map_err(describe)? {
        if body.len() + chunk.len() > MAX_BODY {
            return Err(format!("the response body is larger than {MAX_BODY} bytes"));
        }
        body.extend_from_slice(&chunk);
    }
    Ok(FetchAnswer {
        status: status.as_u16(),
        status_text: status.canonical_reason().unwrap_or("").to_string(),
        url: final_url,
        headers,
        body: B64.encode(body),
    })
}

/// reqwest's error with its causes (the refusal of a redirect hop is a cause).
fn describe(e: reqwest::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(&e);
    while let Some(s) = source {
        text.push_str(": ");
        text.push_str(&s.to_string());
        source = s.source();
    }
    text
}
