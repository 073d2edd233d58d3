//! Gatehouse's HTTP edge: routers per surface, request ids, tracing, body limits, and the
//! single mapping of service errors to Auth0's error format.

mod admin;
mod authentication;
mod cors;
pub mod error;
mod extract;
mod failure;
pub mod guard;
mod hosted;
mod management;
pub mod metrics;
/// The service's typed values as Auth0's JSON (also for the CLI's local mode).
pub use management::render;
mod ops;
pub mod rate_limit;
mod templates;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderName, Request};
use gatehouse_service::Gatehouse;
use rate_limit::RateLimiter;
use std::sync::Arc;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::trace::TraceLayer;

/// Settings of the HTTP edge.
#[derive(Clone, Debug)]
pub struct HttpConfig {
    /// Management API requests per second per client (also the burst); 0 disables.
    pub rate_limit_per_second: u64,
    /// Largest accepted request body, in bytes.
    pub max_body_bytes: usize,
    /// Largest users file an import accepts, in bytes (it streams to the database).
    pub import_max_bytes: usize,
    /// Deadline of a request (uploads and downloads of user files excepted); zero: none.
    pub request_timeout: std::time::Duration,
    /// Multiplies the per-IP limits of [`guard::AuthLimits`]; 0 turns them off.
    pub auth_rate_limit_scale: f64,
    /// Reverse proxies whose `X-Forwarded-For` names the client.
    pub trusted_proxies: Vec<guard::IpRange>,
}

impl Default for HttpConfig {
    fn default() -> Self {
        Self {
            rate_limit_per_second: 1000,
            max_body_bytes: 1024 * 1024,
            import_max_bytes: DEFAULT_IMPORT_MAX_BYTES,
            request_timeout: guard::DEFAULT_REQUEST_TIMEOUT,
            auth_rate_limit_scale: 1.0,
            trusted_proxies: vec![],
        }
    }
}

/// 4 GiB: files of millions of users stream through in constant memory.
pub const DEFAULT_IMPORT_MAX_BYTES: usize = 4 << 30;

#[derive(Clone)]
pub struct AppState {
    pub gatehouse: Gatehouse,
    pub rate_limiter: Arc<RateLimiter>,
    pub auth_limits: Arc<guard::AuthLimits>,
    pub trusted_proxies: Arc<Vec<guard::IpRange>>,
    pub request_timeout: std::time::Duration,
    pub import_max_bytes: usize,
}

#[derive(Clone, Default)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
        let id = gatehouse_crypto::random::hex(8).ok()?;
        axum::http::HeaderValue::from_str(&id)
            .ok()
            .map(RequestId::new)
    }
}

/// The whole application: every surface under one router.
pub fn app(gatehouse: Gatehouse, config: &HttpConfig) -> Router {
    let state = AppState {
        gatehouse,
        rate_limiter: Arc::new(RateLimiter::new(config.rate_limit_per_second)),
        auth_limits: Arc::new(guard::AuthLimits::new(config.auth_rate_limit_scale)),
        trusted_proxies: Arc::new(config.trusted_proxies.clone()),
        request_timeout: config.request_timeout,
        import_max_bytes: config.import_max_bytes,
    };
    let request_id = HeaderName::from_static(failure::REQUEST_ID_HEADER);
    Router::new()
        .nest("/api/v2", management::router(state.clone()))
        .merge(authentication::router())
        .merge(hosted::router())
        .merge(admin::router(state.clone()))
        .merge(ops::router())
        .fallback(|| async { error::ApiError::not_found() })
        .method_not_allowed_fallback(|| async {
            error::ApiError {
                status: axum::http::StatusCode::METHOD_NOT_ALLOWED,
                message: "Method Not Allowed".into(),
                error_code: None,
                retry_after: None,
                failure: None,
            }
        })
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::limit_by_ip,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::deadline,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            guard::client_addr,
        ))
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            cors::cors,
        ))
        .layer(DefaultBodyLimit::max(config.max_body_bytes))
        .layer(axum::middleware::from_fn(failure::log_failures))
        .layer(
            TraceLayer::new_for_http().make_span_with(|req: &Request<_>| {
                let id = failure::RequestId::of(req.headers()).0;
                // The path only: query strings can carry emails and other personal data.
                tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id = %id)
            }),
        )
        .layer(axum::middleware::from_fn_with_state(
            state.clone(),
            metrics::observe,
        ))
        .layer(PropagateRequestIdLayer::new(request_id.clone()))
        .layer(SetRequestIdLayer::new(request_id, RandomRequestId))
        .with_state(state)
}
