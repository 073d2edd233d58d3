//! `GET|POST /userinfo`: the OIDC claims of the access token's user.

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_service::oauth::OAuthError;

pub async fn userinfo(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let claims = match token {
        Some(t) => s.gatehouse.userinfo(&t).await,
        None => Ok(None),
    };
    match claims {
        Ok(Some(c)) => axum::Json(serde_json::Value::Object(c)).into_response(),
        Err(f) => crate::authentication::token::oauth_error(OAuthError::failed(f)),
        Ok(None) => {
            // RFC 6750: the error travels in WWW-Authenticate.
            let mut r = (StatusCode::UNAUTHORIZED, "Unauthorized").into_response();
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                HeaderValue::from_static("Bearer error=\"invalid_token\""),
            );
            r
        }
    }
}
