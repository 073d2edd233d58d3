//! The browser's cookies: the SSO session and the CSRF cookie, and the extractor that reads
//! them with the caller's address.

use crate::extract::ClientInfo;
use axum::extract::FromRequestParts;
use axum::http::HeaderMap;
use axum::http::request::Parts;
use gatehouse_service::browser::Browser;

pub const SESSION_COOKIE: &str = "gh_session";
pub const CSRF_COOKIE: &str = "gh_csrf";
/// The verifier `POST /co/authenticate` hands the browser (`browser::cross_origin`).
pub const CO_VERIFIER_COOKIE: &str = "gh_co_verifier";

/// The value of cookie `name` from the request's `Cookie` headers.
pub fn read(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(axum::http::header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.trim_matches('"').to_string())
        .filter(|v| !v.is_empty())
}

/// A `Set-Cookie` value for the whole site: HttpOnly and SameSite=Lax always, Secure when
/// served over https. `max_age` 0 deletes the cookie.
pub fn set(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    set_under("/", name, value, max_age, secure)
}

/// [`set`] for the paths under `path` only (the dashboard's cookies stay under `/admin`).
pub fn set_under(path: &str, name: &str, value: &str, max_age: i64, secure: bool) -> String {
    format!(
        "{name}={value}; Path={path}; Max-Age={max_age}; HttpOnly; SameSite=Lax{}",
        if secure { "; Secure" } else { "" }
    )
}

/// The `co_verifier` cookie. It is set by a cross-origin call (`/co/authenticate` from the
/// application's page), where a `SameSite=Lax` cookie would be dropped when the page is on
/// another site, so over https it is `SameSite=None; Secure`; over plain http (development
/// on one machine) browsers refuse `None` without `Secure`, and it is `Lax`.
pub fn set_cross_site(name: &str, value: &str, max_age: i64, secure: bool) -> String {
    if secure {
        format!("{name}={value}; Path=/; Max-Age={max_age}; HttpOnly; SameSite=None; Secure")
    } else {
        set(name, value, max_age, false)
    }
}

/// A request's browser context: session cookie, CSRF cookie, IP and user agent.
pub struct BrowserRequest {
    /// With its CSRF cookie (`browser.csrf`: sent, or minted for this answer).
    pub browser: Browser,
    /// Shown on failure pages as the reference to quote.
    pub request_id: String,
}

impl<S: Send + Sync> FromRequestParts<S> for BrowserRequest {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let who = ClientInfo::from_parts(parts);
        let (csrf, csrf_sent) = match read(&parts.headers, CSRF_COOKIE) {
            Some(c) if c.len() >= 16 => (Some(c), true),
            // A new one, set by the answer if a page or a provider's login needs it.
            _ => (gatehouse_crypto::random::b64url(24).ok(), false),
        };
        Ok(Self {
            browser: Browser {
                session_cookie: read(&parts.headers, SESSION_COOKIE),
                ip: who.ip,
                user_agent: who.user_agent,
                csrf,
                csrf_sent,
                co_verifier: read(&parts.headers, CO_VERIFIER_COOKIE),
            },
            request_id: crate::failure::RequestId::of(&parts.headers).0,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_one_cookie_among_many() {
        let mut h = HeaderMap::new();
        h.insert("cookie", "a=1; gh_session=abc; gh_csrf=x".parse().unwrap());
        assert_eq!(read(&h, SESSION_COOKIE).as_deref(), Some("abc"));
        assert_eq!(read(&h, "gh_sess"), None);
    }
}
