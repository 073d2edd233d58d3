//! `GET /v2/logout`: redirect only to an allowed `returnTo`, otherwise explain on a page;
//! `/logout`: a SAML identity provider's answer to a federated logout.

use crate::AppState;
use crate::hosted::{BrowserRequest, clear_session};
use axum::extract::{Form, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_service::browser::logout::LogoutRefused;
use std::collections::HashMap;

fn page(status: StatusCode, title: &str, message: &str) -> Response {
    let mut r = (status, crate::hosted::message_page(title, message)).into_response();
    crate::hosted::harden(&mut r);
    r
}

/// Answers a logout and always deletes the session cookie.
fn respond(
    s: &AppState,
    b: &BrowserRequest,
    result: Result<Option<String>, LogoutRefused>,
) -> Response {
    let mut resp = answer(result, &b.request_id);
    if let Some(v) = clear_session(&s.gatehouse) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

fn answer(result: Result<Option<String>, LogoutRefused>, request_id: &str) -> Response {
    match result {
        Ok(Some(url)) => match HeaderValue::from_str(&url) {
            Ok(location) => {
                let mut r = StatusCode::FOUND.into_response();
                r.headers_mut().insert(header::LOCATION, location);
                r.headers_mut()
                    .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
                r
            }
            Err(_) => page(
                StatusCode::BAD_REQUEST,
                "Logout failed",
                "The redirect URL is not valid.",
            ),
        },
        Ok(None) => page(StatusCode::OK, "Logged out", "You have been logged out."),
        Err(LogoutRefused::Refused(why)) => page(StatusCode::BAD_REQUEST, "Logout failed", &why),
        Err(LogoutRefused::Failed(f)) => {
            let mut r = crate::hosted::failure_page(f, request_id);
            crate::hosted::harden(&mut r);
            r
        }
    }
}

/// `GET /v2/logout` (Auth0's logout).
pub async fn logout(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let client_id = q.get("client_id").map(String::as_str);
    let return_to = q.get("returnTo").map(String::as_str);
    // `federated` (any value, or none): also end a SAML session at its identity provider.
    let federated = q.contains_key("federated");
    let result = s
        .gatehouse
        .logout(client_id, return_to, federated, &b.browser)
        .await;
    respond(&s, &b, result)
}

/// `GET /logout`: a SAML identity provider's answer to a logout request (HTTP-Redirect).
pub async fn saml_logout_answer(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let result = s.gatehouse.saml_logout_return(&q, true).await;
    respond(&s, &b, result)
}

/// `POST /logout`: the same answer posted (HTTP-POST).
pub async fn saml_logout_answer_posted(
    State(s): State<AppState>,
    b: BrowserRequest,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let result = s.gatehouse.saml_logout_return(&f, false).await;
    respond(&s, &b, result)
}

/// `GET /oidc/logout`: OpenID Connect RP-initiated logout.
pub async fn oidc_logout(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| q.get(k).map(String::as_str);
    let result = s
        .gatehouse
        .oidc_logout(
            get("client_id"),
            get("id_token_hint"),
            get("post_logout_redirect_uri"),
            get("state"),
            &b.browser,
        )
        .await;
    respond(&s, &b, result)
}
