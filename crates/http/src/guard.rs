//! Request guards at the edge (security review M3, M4): the client's address (the TCP peer,
//! or `X-Forwarded-For` from a trusted proxy), per-IP limits on the unauthenticated
//! endpoints that cost password checks or send mail, and a deadline on every request.
//!
//! Limits are token buckets per node, like the Management API's per-client limit: behind a
//! load balancer each node enforces them on the traffic it sees.

use crate::AppState;
use crate::error::ApiError;
use crate::rate_limit::RateLimiter;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

/// The client's address as the guards and the tenant log see it.
#[derive(Clone, Debug)]
pub struct ClientAddr(pub IpAddr);

/// An address range (`10.0.0.0/8`, `::1/128`, or one address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    base: IpAddr,
    prefix: u8,
}

impl IpRange {
    pub fn parse(s: &str) -> Option<Self> {
        let (addr, prefix) = match s.trim().split_once('/') {
            Some((a, p)) => (a.parse::<IpAddr>().ok()?, Some(p.parse::<u8>().ok()?)),
            None => (s.trim().parse::<IpAddr>().ok()?, None),
        };
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { base: addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        fn bits(ip: IpAddr) -> (u128, u8) {
            match ip {
                IpAddr::V4(v) => (u32::from(v) as u128, 32),
                IpAddr::V6(v) => match v.to_ipv4_mapped() {
                    Some(v4) => (u32::from(v4) as u128, 32),
                    None => (u128::from(v), 128),
                },
            }
        }
        let ((base, width), (cand, cand_width)) = (bits(self.base), bits(ip));
        if width != cand_width {
            return false;
        }
        let shift = u32::from(width - self.prefix.min(width));
        shift >= u32::from(width) || (base >> shift) == (cand >> shift)
    }
}

/// The endpoints limited per IP.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Limited {
    /// `/oauth/token` grants that check a password or one-time code.
    PasswordGrant,
    Signup,
    ChangePassword,
    PasswordlessStart,
    /// Posts of the hosted login and sign-up forms.
    HostedForm,
}

/// Per-IP buckets of the limited endpoints. The defaults follow Auth0's published limits
/// where it has them, a little wider where Auth0 counts per IP *and* address; `scale`
/// multiplies every bucket (0 turns them off).
pub struct AuthLimits {
    buckets: Vec<(Limited, RateLimiter)>,
}

impl AuthLimits {
    /// (endpoint, burst, refill per second) at scale 1.
    pub const DEFAULTS: &'static [(Limited, f64, f64)] = &[
        (Limited::PasswordGrant, 100.0, 10.0),
        (Limited::Signup, 50.0, 50.0 / 60.0),
        (Limited::ChangePassword, 10.0, 1.0 / 60.0),
        (Limited::PasswordlessStart, 50.0, 50.0 / 3600.0),
        (Limited::HostedForm, 50.0, 1.0),
    ];

    pub fn new(scale: f64) -> Self {
        let scale = if scale.is_finite() {
            scale.max(0.0)
        } else {
            1.0
        };
        Self {
            buckets: Self::DEFAULTS
                .iter()
                .map(|(which, burst, refill)| {
                    let burst = (burst * scale).ceil() as u64;
                    (*which, RateLimiter::with_refill(burst, refill * scale))
                })
                .collect(),
        }
    }

    /// Takes one request from `ip`'s bucket; a 429 answer when it is empty.
    pub fn check(&self, which: Limited, ip: Option<&ClientAddr>, now: i64) -> Result<(), u64> {
        let (Some((_, limiter)), Some(ip)) = (self.buckets.iter().find(|(w, _)| *w == which), ip)
        else {
            return Ok(());
        };
        if !limiter.enabled() {
            return Ok(());
        }
        let d = limiter.check(&ip.0.to_string(), now);
        if d.allowed {
            Ok(())
        } else {
            Err(d.retry_after)
        }
    }
}

/// The answer to a request over its IP's limit: Auth0's `too_many_requests`, with
/// `Retry-After`.
pub fn too_many(retry_after: u64, oauth_shape: bool) -> Response {
    let mut resp = if oauth_shape {
        (
            StatusCode::TOO_MANY_REQUESTS,
            axum::Json(serde_json::json!({"error": "too_many_requests",
                "error_description": "Too many requests from this address; retry later."})),
        )
            .into_response()
    } else {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Too many requests from this address; retry later.",
        )
        .into_response()
    };
    if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Sets [`ClientAddr`]: the TCP peer, unless it is a trusted proxy, in which case the
/// right-most `X-Forwarded-For` address that is not a trusted proxy.
pub async fn client_addr(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let peer = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let trusted = |ip: &IpAddr| s.trusted_proxies.iter().any(|r| r.contains(*ip));
    let addr = match peer {
        Some(p) if trusted(&p) => {
            let forwarded: Vec<IpAddr> = req
                .headers()
                .get_all("x-forwarded-for")
                .iter()
                .filter_map(|v| v.to_str().ok())
                .flat_map(|v| v.split(','))
                .filter_map(|a| a.trim().parse::<IpAddr>().ok())
                .collect();
            Some(
                forwarded
                    .into_iter()
                    .rev()
                    .find(|ip| !trusted(ip))
                    .unwrap_or(p),
            )
        }
        other => other,
    };
    if let Some(ip) = addr {
        req.extensions_mut().insert(ClientAddr(ip));
    }
    next.run(req).await
}

/// How a limited endpoint answers a request over its limit.
#[derive(Clone, Copy)]
enum Refusal {
    /// Auth0's error body.
    Api,
    /// OAuth's `error` / `error_description`.
    OAuth,
    /// A hosted page, for a person in a browser.
    Page,
}

/// Per-IP limits of the form and account endpoints (the token endpoint checks its own,
/// once it knows the grant). The hosted "Forgot password?" form sends the same email as
/// `/dbconnections/change_password` and shares its bucket.
pub async fn limit_by_ip(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let which = match (req.method(), req.uri().path()) {
        (&Method::POST, "/dbconnections/signup") => Some((Limited::Signup, Refusal::Api)),
        (&Method::POST, "/dbconnections/change_password") => {
            Some((Limited::ChangePassword, Refusal::Api))
        }
        (&Method::POST, "/passwordless/start") => {
            Some((Limited::PasswordlessStart, Refusal::OAuth))
        }
        (&Method::POST, "/u/login" | "/u/signup") => Some((Limited::HostedForm, Refusal::Api)),
        (&Method::POST, "/u/reset-password") => Some((Limited::ChangePassword, Refusal::Page)),
        _ => None,
    };
    if let Some((which, refusal)) = which
        && let Err(retry) = s.auth_limits.check(
            which,
            req.extensions().get::<ClientAddr>(),
            s.gatehouse.now(),
        )
    {
        return match refusal {
            Refusal::Api => too_many(retry, false),
            Refusal::OAuth => too_many(retry, true),
            Refusal::Page => too_many_page(retry),
        };
    }
    next.run(req).await
}

/// [`too_many`] for a person: a hosted page saying to wait, with `Retry-After`.
fn too_many_page(retry_after: u64) -> Response {
    let minutes = retry_after.max(1).div_ceil(60);
    let text = format!(
        "Too many requests came from your network. Wait {minutes} minute{} and try again.",
        if minutes == 1 { "" } else { "s" }
    );
    let mut resp = (
        StatusCode::TOO_MANY_REQUESTS,
        crate::hosted::message_page("Please wait", &text),
    )
        .into_response();
    crate::hosted::harden(&mut resp);
    if let Ok(v) = HeaderValue::from_str(&retry_after.max(1).to_string()) {
        resp.headers_mut().insert(header::RETRY_AFTER, v);
    }
    resp
}

/// Paths whose requests may run long: uploads and downloads of whole user files.
fn runs_long(path: &str) -> bool {
    path.starts_with("/api/v2/jobs/users-imports")
        || path.starts_with("/admin/jobs/import")
        || path.starts_with("/exports/")
}

/// Answers 408 when a request is not done within the deadline (the work is dropped).
pub async fn deadline(State(s): State<AppState>, req: Request, next: Next) -> Response {
    if runs_long(req.uri().path()) || s.request_timeout.is_zero() {
        return next.run(req).await;
    }
    match tokio::time::timeout(s.request_timeout, next.run(req)).await {
        Ok(resp) => resp,
        Err(_) => ApiError::new(
            StatusCode::REQUEST_TIMEOUT,
            "request_timeout",
            format!(
                "The request took longer than {} s",
                s.request_timeout.as_secs()
            ),
        )
        .into_response(),
    }
}

/// Default deadline of a request.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        let r = IpRange::parse("10.0.0.0/8").unwrap();
        assert!(r.contains("10.1.2.3".parse().unwrap()));
        assert!(!r.contains("11.0.0.1".parse().unwrap()));
        assert!(r.contains("::ffff:10.9.9.9".parse().unwrap()));
        let one = IpRange::parse("127.0.0.1").unwrap();
        assert!(one.contains("127.0.0.1".parse().unwrap()));
        assert!(!one.contains("127.0.0.2".parse().unwrap()));
        let v6 = IpRange::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(
            IpRange::parse("0.0.0.0/0")
                .unwrap()
                .contains("8.8.8.8".parse().unwrap())
        );
        assert!(IpRange::parse("10.0.0.0/33").is_none());
        assert!(IpRange::parse("nonsense").is_none());
    }

    #[test]
    fn buckets_refuse_past_the_burst_and_scale_zero_turns_them_off() {
        let ip = ClientAddr("192.0.2.1".parse().unwrap());
        let limits = AuthLimits::new(1.0);
        for _ in 0..10 {
            assert!(limits.check(Limited::ChangePassword, Some(&ip), 0).is_ok());
        }
        assert!(limits.check(Limited::ChangePassword, Some(&ip), 0).is_err());
        let other = ClientAddr("192.0.2.2".parse().unwrap());
        assert!(
            limits
                .check(Limited::ChangePassword, Some(&other), 0)
                .is_ok()
        );
        let off = AuthLimits::new(0.0);
        for _ in 0..100 {
            assert!(off.check(Limited::ChangePassword, Some(&ip), 0).is_ok());
        }
    }
}
