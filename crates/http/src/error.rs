//! The one place service errors become Auth0's Management API error body:
//! `{statusCode, error, message, errorCode}`.

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_core::payload::InvalidBody;
use gatehouse_service::ServiceError;
use serde_json::json;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub message: String,
    pub error_code: Option<&'static str>,
    pub retry_after: Option<u64>,
    /// Our failure behind a 500 or 503, logged with the request id by the edge layer.
    pub failure: Option<gatehouse_service::Failure>,
}

impl ApiError {
    pub fn new(status: StatusCode, error_code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
            error_code: Some(error_code),
            retry_after: None,
            failure: None,
        }
    }
    pub fn invalid_body(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_body", message)
    }
    pub fn invalid_query(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "invalid_query_string", message)
    }
    pub fn not_found() -> Self {
        Self {
            status: StatusCode::NOT_FOUND,
            message: "Not Found".into(),
            error_code: None,
            retry_after: None,
            failure: None,
        }
    }
    pub fn insufficient_scope(expected: &[&str]) -> Self {
        Self::new(
            StatusCode::FORBIDDEN,
            "insufficient_scope",
            format!(
                "Insufficient scope, expected any of: {}",
                expected.join(",")
            ),
        )
    }
}

impl From<InvalidBody> for ApiError {
    fn from(e: InvalidBody) -> Self {
        ApiError::invalid_body(e.message)
    }
}

fn e_busy() -> String {
    ServiceError::Busy.to_string()
}

impl From<ServiceError> for ApiError {
    fn from(e: ServiceError) -> Self {
        use ServiceError as E;
        match e {
            E::InvalidBody(b) => ApiError::invalid_body(b.message),
            E::InvalidQuery(m) => ApiError::invalid_query(m),
            E::InvalidUri(m) => ApiError::new(StatusCode::BAD_REQUEST, "invalid_uri", m),
            E::NotFound { code, message } => ApiError::new(StatusCode::NOT_FOUND, code, message),
            E::BadReference { code, message } => {
                ApiError::new(StatusCode::BAD_REQUEST, code, message)
            }
            E::Conflict(m) => ApiError::new(StatusCode::CONFLICT, "auth0_idp_error", m),
            E::Script { code, message, .. } => {
                ApiError::new(StatusCode::BAD_REQUEST, code, message)
            }
            E::Password(p) => {
                ApiError::new(StatusCode::BAD_REQUEST, "invalid_password", p.to_string())
            }
            E::NotSupported(m) => {
                ApiError::new(StatusCode::BAD_REQUEST, "operation_not_supported", m)
            }
            E::NotAllowed { code, message } => ApiError::new(StatusCode::FORBIDDEN, code, message),
            E::Busy => ApiError {
                retry_after: Some(1),
                ..ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", e_busy())
            },
            E::TooManyRequests(m) => {
                ApiError::new(StatusCode::TOO_MANY_REQUESTS, "too_many_requests", m)
            }
            e @ E::Internal(_) => ApiError {
                failure: Some(e.into()),
                ..ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal_error",
                    "Internal error",
                )
            },
            E::Store(gatehouse_store::StoreError::TimedOut) => ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                "query_timeout",
                "The search took too long and was stopped; narrow the query",
            ),
            E::Store(s) => ApiError {
                failure: Some(s.into()),
                ..ApiError::new(
                    StatusCode::SERVICE_UNAVAILABLE,
                    "storage_unavailable",
                    "The database is unavailable, retry later",
                )
            },
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut body = json!({
            "statusCode": self.status.as_u16(),
            "error": self.status.canonical_reason().unwrap_or("Error"),
            "message": self.message,
        });
        if let Some(code) = self.error_code {
            body["errorCode"] = json!(code);
        }
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(f) = self.failure {
            crate::failure::attach(&mut resp, f);
        }
        if let Some(secs) = self.retry_after
            && let Ok(v) = HeaderValue::from_str(&secs.to_string())
        {
            resp.headers_mut().insert(header::RETRY_AFTER, v);
        }
        resp
    }
}

pub type ApiResult<T> = Result<T, ApiError>;
