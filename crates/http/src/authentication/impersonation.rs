//! `/users/{id}/impersonate` (Auth0's legacy impersonation API): `POST` starts a login as the
//! user for a Management API token carrying `impersonate:users` and answers the single-use
//! URL as `text/plain`; `GET` is that URL, opened by the administrator's browser, answering
//! the application's callback. The decisions are the service's (`gatehouse_service::
//! impersonation`).

use crate::AppState;
use crate::error::ApiError;
use crate::extract::{ClientInfo, JsonBody};
use crate::hosted::BrowserRequest;
use crate::management::{bearer, missing_token, token_rejected};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::scopes::IMPERSONATE_USERS;
use gatehouse_service::browser::{Browser, Outcome};
use std::collections::HashMap;

/// `POST /users/{user_id}/impersonate`.
pub async fn start(
    State(s): State<AppState>,
    Path(user_id): Path<String>,
    who: ClientInfo,
    headers: HeaderMap,
    body: Result<JsonBody, ApiError>,
) -> Response {
    let g = &s.gatehouse;
    // Authentication comes before the body is looked at, as on the Management API.
    let Some(token) = bearer(&headers) else {
        return missing_token().into_response();
    };
    let claims = match g.verify_management_token(token).await {
        Ok(c) => c,
        Err(r) => return token_rejected(r).into_response(),
    };
    // The Management API's per-client bucket: this is one of its clients' calls.
    if s.rate_limiter.enabled() && !s.rate_limiter.check(&claims.client_id, g.now()).allowed {
        return ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "too_many_requests",
            "Global limit has been reached",
        )
        .into_response();
    }
    if !claims.has_any(&[IMPERSONATE_USERS]) {
        return ApiError::insufficient_scope(&[IMPERSONATE_USERS]).into_response();
    }
    let JsonBody(body) = match body {
        Ok(b) => b,
        Err(e) => return e.into_response(),
    };
    let origin = Browser {
        ip: who.ip,
        user_agent: who.user_agent,
        ..Default::default()
    };
    match g
        .impersonate(&user_id, body, &claims.client_id, &origin)
        .await
    {
        Ok(url) => {
            let mut r = (
                StatusCode::OK,
                [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
                url,
            )
                .into_response();
            // The URL logs its holder in as the user: no cache keeps it.
            r.headers_mut()
                .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
            r
        }
        Err(e) => ApiError::from(e).into_response(),
    }
}

/// `GET /users/{impersonator_id}/impersonate?ticket=…`: the single-use URL.
pub async fn open(
    State(s): State<AppState>,
    method: Method,
    Path(impersonator_id): Path<String>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    // A HEAD (a link checker's) must not spend the ticket: only a real opening does.
    if method == Method::HEAD {
        let mut r = StatusCode::OK.into_response();
        crate::hosted::harden(&mut r);
        return r;
    }
    let ticket = q.get("ticket").map(String::as_str).unwrap_or("");
    let step = s
        .gatehouse
        .open_impersonation(&impersonator_id, ticket, &b.browser)
        .await;
    let outcome = Outcome {
        step,
        set_session: None,
    };
    let mut r = crate::hosted::render(&s.gatehouse, outcome, &b);
    // The hosted pages' headers: among them no Referer, so the ticket in this URL never
    // reaches the application the browser is sent to.
    crate::hosted::harden(&mut r);
    r
}
