//! `GET|POST /userinfo`: the OIDC claims of the access token's user.

use crate::AppState;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};

pub async fn userinfo(State(s): State<AppState>, headers: HeaderMap) -> Response {
    let token = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, t)| t.trim().to_string());
    let claims = match token {
        Some(t) => s.gatehouse.userinfo(&t).await,
        None => None,
    };
    match claims {
        Some(c) => axum::Json(serde_json::Value::Object(c)).into_response(),
        None => {
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
