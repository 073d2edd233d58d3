//! Prometheus metrics (docs/operations.md): the layer that counts and times every request by
//! its route template, and the `/metrics` router served on its own listener
//! (`GATEHOUSE_METRICS_LISTEN`), never on the public one.

use crate::AppState;
use axum::Router;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_service::Gatehouse;
use gatehouse_service::metrics::UNMATCHED_ROUTE;
use std::time::Instant;

/// Times a request from the moment routing chose its route to its answer's head. The
/// route's template (`/api/v2/users/{id}`) is the label: raw paths would carry ids and
/// emails and make a series per user.
pub(crate) async fn observe(State(s): State<AppState>, req: Request, next: Next) -> Response {
    let started = Instant::now();
    let route = req.extensions().get::<MatchedPath>().cloned();
    let method = req.method().clone();
    let resp = next.run(req).await;
    s.gatehouse.metrics().observe_request(
        route.as_ref().map_or(UNMATCHED_ROUTE, MatchedPath::as_str),
        method.as_str(),
        resp.status().as_u16(),
        started.elapsed(),
    );
    resp
}

/// The router of the metrics listener: `GET /metrics` and nothing else.
pub fn router(gatehouse: Gatehouse) -> Router {
    Router::new()
        .route("/metrics", get(metrics))
        .with_state(gatehouse)
}

const TEXT_FORMAT: &str = "text/plain; version=0.0.4; charset=utf-8";

async fn metrics(State(g): State<Gatehouse>) -> Response {
    match g.metrics_text().await {
        Ok(text) => (
            [(header::CONTENT_TYPE, HeaderValue::from_static(TEXT_FORMAT))],
            text,
        )
            .into_response(),
        Err(e) => {
            // The scraper only sees the status; the cause goes to the server's log.
            tracing::warn!(error = %e, "metrics could not be read");
            StatusCode::SERVICE_UNAVAILABLE.into_response()
        }
    }
}
