//! Request extractors that answer bad input in Auth0's format: JSON bodies (malformed,
//! oversized, not an object) and query strings (unknown or mistyped parameters).

use crate::error::ApiError;
use axum::body::Bytes;
use axum::extract::{FromRequest, FromRequestParts, Request};
use axum::http::request::Parts;
use gatehouse_core::payload::Payload;
use std::collections::HashMap;

/// A JSON object body, ready for field-by-field validation.
pub struct JsonBody(pub Payload);

impl<S: Send + Sync> FromRequest<S> for JsonBody {
    type Rejection = ApiError;

    async fn from_request(req: Request, state: &S) -> Result<Self, ApiError> {
        let bytes = Bytes::from_request(req, state).await.map_err(|e| {
            ApiError::invalid_body(format!("Payload validation error: '{}'.", e.body_text()))
        })?;
        if bytes.is_empty() {
            return Err(ApiError::invalid_body(
                "Payload validation error: 'Expected type object but found type null'.",
            ));
        }
        Ok(JsonBody(Payload::parse(&bytes)?))
    }
}

/// Query parameters with Auth0-style validation.
pub struct QueryParams(HashMap<String, String>);

impl<S: Send + Sync> FromRequestParts<S> for QueryParams {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let raw = parts.uri.query().unwrap_or("");
        let pairs: Vec<(String, String)> =
            axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&parts.uri)
                .map(|q| q.0)
                .map_err(|_| {
                    ApiError::invalid_query(format!(
                        "Query validation error: 'Malformed query string: {raw}'."
                    ))
                })?;
        let mut map = HashMap::new();
        for (k, v) in pairs {
            if map.insert(k.clone(), v).is_some() {
                return Err(ApiError::invalid_query(format!(
                    "Query validation error: 'Parameter {k} given more than once'."
                )));
            }
        }
        Ok(QueryParams(map))
    }
}

impl QueryParams {
    pub fn allow_only(&self, allowed: &[&str]) -> Result<(), ApiError> {
        let mut extra: Vec<&str> = self
            .0
            .keys()
            .map(String::as_str)
            .filter(|k| !allowed.contains(k))
            .collect();
        if extra.is_empty() {
            return Ok(());
        }
        extra.sort_unstable();
        Err(ApiError::invalid_query(format!(
            "Query validation error: 'Additional properties not allowed: {}'.",
            extra.join(",")
        )))
    }

    pub fn str(&self, key: &str) -> Option<&str> {
        self.0.get(key).map(String::as_str)
    }

    pub fn int(&self, key: &str, min: i64, max: i64) -> Result<Option<i64>, ApiError> {
        let Some(raw) = self.0.get(key) else {
            return Ok(None);
        };
        let n: i64 = raw.parse().map_err(|_| {
            ApiError::invalid_query(format!(
                "Query validation error: 'Expected type integer but found type string' on property {key}."
            ))
        })?;
        if n < min {
            return Err(ApiError::invalid_query(format!(
                "Query validation error: 'Value {n} is less than minimum {min}' on property {key}."
            )));
        }
        if n > max {
            return Err(ApiError::invalid_query(format!(
                "Query validation error: 'Value {n} is greater than maximum {max}' on property {key}."
            )));
        }
        Ok(Some(n))
    }

    pub fn bool(&self, key: &str) -> Result<Option<bool>, ApiError> {
        match self.0.get(key).map(String::as_str) {
            None => Ok(None),
            Some("true") => Ok(Some(true)),
            Some("false") => Ok(Some(false)),
            Some(_) => Err(ApiError::invalid_query(format!(
                "Query validation error: 'Expected type boolean but found type string' on property {key}."
            ))),
        }
    }

    /// `fields` + `include_fields` (default true) as a projection.
    pub fn fields(&self) -> Result<gatehouse_core::user::FieldSelection, ApiError> {
        Ok(gatehouse_core::user::FieldSelection::new(
            self.str("fields"),
            self.bool("include_fields")?.unwrap_or(true),
        ))
    }

    /// `page` (0-based) and `per_page` (1..=100, default 50), Auth0's paging.
    pub fn paging(&self) -> Result<(i64, i64), ApiError> {
        let per_page = self.int("per_page", 1, 100)?.unwrap_or(50);
        let page = self.int("page", 0, i64::MAX / 1000)?.unwrap_or(0);
        Ok((page, per_page))
    }
}

/// Who is calling, for the tenant log: the peer address (proxies' forwarding headers are
/// not trusted) and the user agent.
#[derive(Debug, Clone, Default)]
pub struct ClientInfo {
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

impl ClientInfo {
    pub fn from_parts(parts: &Parts) -> Self {
        Self::from_headers_and_extensions(&parts.headers, &parts.extensions)
    }

    pub fn from_headers_and_extensions(
        headers: &axum::http::HeaderMap,
        ext: &axum::http::Extensions,
    ) -> Self {
        let ip = ext
            .get::<crate::guard::ClientAddr>()
            .map(|c| c.0.to_string())
            .or_else(|| {
                ext.get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
                    .map(|c| c.0.ip().to_string())
            });
        let user_agent = headers
            .get(axum::http::header::USER_AGENT)
            .and_then(|v| v.to_str().ok())
            .map(|s| s.chars().take(512).collect());
        Self { ip, user_agent }
    }
}

impl<S: Send + Sync> FromRequestParts<S> for ClientInfo {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(Self::from_parts(parts))
    }
}

/// Form fields of a multipart upload other than its file: at most this many bytes each…
pub const MAX_FORM_FIELD_BYTES: usize = 1024;
/// …and at most this many fields in one upload.
pub const MAX_FORM_FIELDS: usize = 16;

/// Why a multipart text field was not read.
pub enum FieldError {
    TooLong,
    Malformed(String),
}

/// The most of a refused upload read after the refusal, and for how long.
const DRAIN_BYTES: usize = 64 * 1024;
const DRAIN_FOR: std::time::Duration = std::time::Duration::from_millis(500);

/// Reads what is left of a refused multipart upload, up to [`DRAIN_BYTES`] and [`DRAIN_FOR`],
/// before the refusal is sent. A connection closed with unread bytes is reset by the kernel,
/// and the reset can reach the client before the answer does: a small form refused at its
/// first field must still get its 400. A huge upload is not read to its end.
pub async fn drain_refused_upload(multipart: &mut axum::extract::Multipart) {
    let drain = async {
        let mut read = 0usize;
        while let Ok(Some(mut field)) = multipart.next_field().await {
            while let Ok(Some(chunk)) = field.chunk().await {
                read += chunk.len();
                if read > DRAIN_BYTES {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(DRAIN_FOR, drain).await;
}

/// Reads a small multipart text field chunk by chunk, giving up as soon as it passes
/// [`MAX_FORM_FIELD_BYTES`]: a huge field is never held in memory (security review L4).
pub async fn small_text_field(
    field: &mut axum::extract::multipart::Field<'_>,
) -> Result<String, FieldError> {
    let mut bytes = Vec::new();
    while let Some(chunk) = field
        .chunk()
        .await
        .map_err(|e| FieldError::Malformed(e.body_text()))?
    {
        if bytes.len() + chunk.len() > MAX_FORM_FIELD_BYTES {
            return Err(FieldError::TooLong);
        }
        bytes.extend_from_slice(&chunk);
    }
    String::from_utf8(bytes).map_err(|_| FieldError::Malformed("a form field is not UTF-8".into()))
}
