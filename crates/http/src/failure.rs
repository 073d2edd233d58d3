//! Failures of ours at the edge. A handler answers as its surface does (a Management API
//! error body, an OAuth error, a page) and puts the [`Failure`] on the response; one layer,
//! [`log_failures`], logs it once with the request id the client also got in `x-request-id`.

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::middleware::Next;
use axum::response::Response;
use gatehouse_service::Failure;

/// The header carrying the request id (set by the outermost layer, echoed on the answer).
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// A failure riding on its response to the logging layer.
#[derive(Clone)]
struct FailureCause(Failure);

/// Puts the failure on the response for [`log_failures`].
pub fn attach(resp: &mut Response, failure: Failure) {
    resp.extensions_mut().insert(FailureCause(failure));
}

/// Logs each answer that carries a failure: request id, method, path, status and cause.
pub async fn log_failures(req: Request, next: Next) -> Response {
    let id = RequestId::of(req.headers());
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let resp = next.run(req).await;
    if let Some(FailureCause(f)) = resp.extensions().get::<FailureCause>() {
        tracing::error!(
            request_id = %id.0,
            method = %method,
            path = %path,
            status = resp.status().as_u16(),
            cause = %f.report(),
            "request failed"
        );
    }
    resp
}

/// This request's id, for pages that show it to the user as a reference.
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

impl RequestId {
    /// The id the request-id layer put on this request, or `-`.
    pub(crate) fn of(headers: &axum::http::HeaderMap) -> Self {
        Self(
            headers
                .get(REQUEST_ID_HEADER)
                .and_then(|v| v.to_str().ok())
                .unwrap_or("-")
                .to_string(),
        )
    }
}

impl<S: Send + Sync> FromRequestParts<S> for RequestId {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&parts.headers))
    }
}
