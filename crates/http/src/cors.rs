//! CORS for the endpoints browser SDKs call across origins (`auth0-spa-js`, `auth0-js`,
//! Lock): the token, user-info, discovery, embedded-login, passwordless, sign-up, reset and
//! logout endpoints answer a page whose `Origin` an application lists
//! (`gatehouse_service::cors`), preflight included, and their errors carry the same
//! headers so the SDK reads the real error. Any other origin gets no CORS header at all:
//! never `*`, never an echo. Cookies cross only to `/co/authenticate`, whose `co_verifier`
//! cookie is the point of the call. `/api/v2/users/{id}…` answers too: a single-page app
//! calls it with the user's own token (`read:current_user`, …); every other Management API
//! route is for servers and answers no cross-origin call.
//!
//! This layer sits outside the per-IP limits, so their 429 answers are readable too.

use crate::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};

/// The paths that answer cross-origin calls.
const CORS_PATHS: &[&str] = &[
    "/oauth/token",
    "/userinfo",
    "/.well-known/openid-configuration",
    "/.well-known/jwks.json",
    "/co/authenticate",
    "/passwordless/start",
    "/dbconnections/signup",
    "/dbconnections/change_password",
    "/oidc/logout",
];
/// The Management API routes a user's own token may call from the page.
const USER_ROUTES: &str = "/api/v2/users/";
/// The one path whose cross-origin calls carry cookies (auth0-js `withCredentials`).
const WITH_CREDENTIALS: &str = "/co/authenticate";
/// What Auth0's SDKs send: their telemetry header, JSON or form bodies, bearer tokens.
const ALLOWED_HEADERS: &str = "auth0-client, authorization, content-type";
const ALLOWED_METHODS: &str = "GET, POST, PATCH, DELETE, OPTIONS";
/// Browsers keep a preflight's answer this long (Chromium caps it at two hours).
const PREFLIGHT_MAX_AGE: &str = "7200";

pub async fn cors(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let path = req.uri().path();
    if !CORS_PATHS.contains(&path) && !path.starts_with(USER_ROUTES) {
        return next.run(req).await;
    }
    let credentials = path == WITH_CREDENTIALS;
    let Some(origin) = req
        .headers()
        .get(header::ORIGIN)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
    else {
        return next.run(req).await;
    };
    let preflight = req.method() == Method::OPTIONS
        && req
            .headers()
            .contains_key(header::ACCESS_CONTROL_REQUEST_METHOD);
    let allowed = s.gatehouse.cors_allows(&origin).await;
    if preflight {
        let mut resp = match &allowed {
            Ok(_) => StatusCode::NO_CONTENT.into_response(),
            Err(_) => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        };
        let h = resp.headers_mut();
        h.insert(header::VARY, HeaderValue::from_static("Origin"));
        if matches!(allowed, Ok(true)) {
            allow(&mut resp, &origin, credentials);
            let h = resp.headers_mut();
            h.insert(
                header::ACCESS_CONTROL_ALLOW_METHODS,
                HeaderValue::from_static(ALLOWED_METHODS),
            );
            h.insert(
                header::ACCESS_CONTROL_ALLOW_HEADERS,
                HeaderValue::from_static(ALLOWED_HEADERS),
            );
            h.insert(
                header::ACCESS_CONTROL_MAX_AGE,
                HeaderValue::from_static(PREFLIGHT_MAX_AGE),
            );
        }
        if let Err(e) = allowed {
            crate::failure::attach(&mut resp, e.into());
        }
        return resp;
    }
    let mut resp = next.run(req).await;
    resp.headers_mut()
        .append(header::VARY, HeaderValue::from_static("Origin"));
    match allowed {
        Ok(true) => allow(&mut resp, &origin, credentials),
        Ok(false) => {}
        // The request ran; only the origin could not be checked, so the page cannot read it.
        Err(e) => {
            tracing::warn!(error = %e, "CORS origins could not be read; no CORS headers given")
        }
    }
    resp
}

fn allow(resp: &mut Response, origin: &str, credentials: bool) {
    let Ok(value) = HeaderValue::from_str(origin) else {
        return;
    };
    let h = resp.headers_mut();
    h.insert(header::ACCESS_CONTROL_ALLOW_ORIGIN, value);
    if credentials {
        h.insert(
            header::ACCESS_CONTROL_ALLOW_CREDENTIALS,
            HeaderValue::from_static("true"),
        );
    }
}
