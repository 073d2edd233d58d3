//! `POST /passwordless/start`: email a one-time code.

use super::token::oauth_error;
use crate::AppState;
use crate::hosted::BrowserRequest;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_service::oauth::OAuthError;
use serde_json::Value;

pub async fn start(State(s): State<AppState>, b: BrowserRequest, body: Bytes) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(v @ Value::Object(_)) => v,
        _ => {
            return oauth_error(OAuthError::invalid_request(
                "The body must be a JSON object",
            ));
        }
    };
    match s.gatehouse.passwordless_start(&body, &b.browser).await {
        Ok(v) => (StatusCode::OK, Json(v)).into_response(),
        Err(e) => oauth_error(e),
    }
}
