//! The Management API (`/api/v2`): bearer-token authentication, per-endpoint scopes,
//! rate-limit headers, and the routers of each resource.

mod actions;
mod attack_protection;
mod clients;
mod connections;
mod email_templates;
mod groups;
mod jobs;
mod logs;
mod openapi;
pub mod render;
mod resource_servers;
mod roles;
mod rules;
mod signing_keys;
mod tenant_settings;
mod tickets;
mod user_blocks;
mod users;

use crate::AppState;
use crate::error::ApiError;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use gatehouse_service::oauth::{AccessClaims, TokenRejection};

pub fn router(state: AppState) -> Router<AppState> {
    let authenticated = Router::new()
        .merge(users::router())
        .merge(clients::router())
        .merge(connections::router())
        .merge(resource_servers::router())
        .merge(roles::router())
        .merge(groups::router())
        .merge(logs::router())
        .merge(user_blocks::router())
        .merge(tenant_settings::router())
        .merge(tickets::router())
        .merge(attack_protection::router())
        .merge(email_templates::router())
        .merge(jobs::router())
        .merge(signing_keys::router())
        .merge(actions::router())
        .merge(rules::router())
        .fallback(|| async { ApiError::not_found() })
        .layer(middleware::from_fn_with_state(state, authenticate));
    // The description is public, as Auth0's is: it is the one route without a token.
    Router::new()
        .route("/openapi.json", axum::routing::get(openapi::serve))
        .merge(authenticated)
}

/// The verified caller, available to every Management API handler.
#[derive(Clone, Debug)]
pub struct Caller(pub AccessClaims);

impl Caller {
    /// Passes when a client's token carries any of `scopes`. A user's own token (issued
    /// through a login) passes only [`Caller::require_on_user`], so every route that does
    /// not ask for it refuses such a token.
    pub fn require(&self, scopes: &[&str]) -> Result<(), ApiError> {
        if !self.0.is_user() && self.0.has_any(scopes) {
            Ok(())
        } else {
            Err(ApiError::insufficient_scope(scopes))
        }
    }

    /// The one check of a `/users/{id}` route a user's own token may use: a client's token
    /// with any of `scopes`, or a user's token with any of `own` (the `current_user` scopes
    /// this request needs; none when it needs more than the user's own rights) acting on the
    /// token's own user, as Auth0 answers (403 `unowned_resource` for anyone else).
    pub fn require_on_user(&self, id: &str, scopes: &[&str], own: &[&str]) -> Result<(), ApiError> {
        if !self.0.is_user() {
            return if self.0.has_any(scopes) {
                Ok(())
            } else {
                Err(ApiError::insufficient_scope(&[scopes, own].concat()))
            };
        }
        if !self.0.has_any(own) {
            return Err(ApiError::insufficient_scope(&[scopes, own].concat()));
        }
        if id != self.0.subject {
            return Err(ApiError::new(
                StatusCode::FORBIDDEN,
                "unowned_resource",
                "User to be acted on does not match subject in bearer token.",
            ));
        }
        Ok(())
    }
}

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Caller {
    type Rejection = ApiError;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Self, ApiError> {
        parts.extensions.get::<Caller>().cloned().ok_or_else(|| {
            ApiError::new(
                StatusCode::UNAUTHORIZED,
                "missing_token",
                "Missing authentication",
            )
        })
    }
}

/// A Management API token that was not accepted, in Auth0's words.
pub(crate) fn token_rejected(rejection: TokenRejection) -> ApiError {
    let message = match rejection {
        TokenRejection::Expired => "Expired token",
        TokenRejection::Audience => "Bad audience",
        TokenRejection::Invalid => "Invalid token",
    };
    ApiError::new(StatusCode::UNAUTHORIZED, "invalid_token", message)
}

/// No bearer token at all.
pub(crate) fn missing_token() -> ApiError {
    ApiError::new(
        StatusCode::UNAUTHORIZED,
        "missing_token",
        "Missing authentication",
    )
}

pub(crate) fn bearer(headers: &HeaderMap) -> Option<&str> {
    let value = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, token) = value.split_once(' ')?;
    scheme
        .eq_ignore_ascii_case("bearer")
        .then(|| token.trim())
        .filter(|t| !t.is_empty())
}

async fn authenticate(State(state): State<AppState>, mut req: Request, next: Next) -> Response {
    let Some(token) = bearer(req.headers()) else {
        return ApiError::new(
            StatusCode::UNAUTHORIZED,
            "missing_token",
            "Missing authentication",
        )
        .into_response();
    };
    // A signing key revoked through another server is refused here from now on.
    if let Err(e) = state.gatehouse.follow_configuration().await {
        return ApiError::from(e).into_response();
    }
    let claims = match state.gatehouse.verify_management_token(token).await {
        Ok(c) => c,
        Err(rejection) => return token_rejected(rejection).into_response(),
    };
    let decision = state.rate_limiter.enabled().then(|| {
        state
            .rate_limiter
            .check(&claims.client_id, state.gatehouse.now())
    });
    let mut resp = match decision {
        Some(d) if !d.allowed => {
            tracing::warn!(client_id = %claims.client_id, "management API rate limit reached");
            let mut e = ApiError::new(
                StatusCode::TOO_MANY_REQUESTS,
                "too_many_requests",
                "Global limit has been reached",
            );
            e.retry_after = Some(d.retry_after);
            e.into_response()
        }
        _ => {
            let write =
                req.method() != axum::http::Method::GET && req.method() != axum::http::Method::HEAD;
            let audit = write.then(|| {
                (
                    req.method().to_string(),
                    // Inside the nested router the URI lost its /api/v2 prefix; log the full path.
                    req.extensions()
                        .get::<axum::extract::OriginalUri>()
                        .map_or_else(|| req.uri().path().to_string(), |u| u.0.path().to_string()),
                    crate::extract::ClientInfo::from_headers_and_extensions(
                        req.headers(),
                        req.extensions(),
                    ),
                    claims.client_id.clone(),
                    claims.is_user().then(|| claims.subject.clone()),
                )
            });
            req.extensions_mut().insert(Caller(claims));
            let resp = next.run(req).await;
            if let Some((method, path, who, client_id, user_id)) = audit {
                let actor = Actor { client_id, user_id };
                record_write(&state, method, path, who, actor, resp.status()).await;
            }
            resp
        }
    };
    if let Some(d) = decision {
        let h = resp.headers_mut();
        for (name, value) in [
            ("x-ratelimit-limit", d.limit),
            ("x-ratelimit-remaining", d.remaining),
            ("x-ratelimit-reset", d.reset),
        ] {
            if let Ok(v) = HeaderValue::from_str(&value.to_string()) {
                h.insert(name, v);
            }
        }
    }
    resp
}

/// Who made a Management API call: the client, and the user when it was the user's own token.
struct Actor {
    client_id: String,
    user_id: Option<String>,
}

/// Logs a Management API write as Auth0 does: `sapi` when it succeeded, `fapi` when not.
/// Only the method and path are kept: bodies can hold passwords and secrets.
async fn record_write(
    state: &AppState,
    method: String,
    path: String,
    who: crate::extract::ClientInfo,
    actor: Actor,
    status: StatusCode,
) {
    use gatehouse_core::log_event::{LogEvent, codes};
    let mut details = serde_json::Map::new();
    details.insert(
        "request".into(),
        serde_json::json!({"method": method, "path": path}),
    );
    details.insert(
        "response".into(),
        serde_json::json!({"statusCode": status.as_u16()}),
    );
    let ok = status.is_success();
    state
        .gatehouse
        .record(LogEvent {
            kind: if ok {
                codes::SUCCESS_API_OPERATION
            } else {
                codes::FAILED_API_OPERATION
            }
            .into(),
            description: Some(format!("{method} {path}")),
            client_id: Some(actor.client_id),
            user_id: actor.user_id,
            ip: who.ip,
            user_agent: who.user_agent,
            details,
            ..Default::default()
        })
        .await;
}

/// `{start, limit, length, total, <key>: [...]}` when `include_totals`, else the bare list.
/// The items of page `page` (0-based) of `per_page` each.
pub(crate) fn page_slice<T>(all: &[T], page: i64, per_page: i64) -> impl Iterator<Item = &T> {
    all.iter()
        .skip(usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX))
        .take(usize::try_from(per_page).unwrap_or(0))
}

pub(crate) fn paged(
    key: &str,
    items: Vec<serde_json::Value>,
    include_totals: bool,
    page: i64,
    per_page: i64,
    total: i64,
) -> axum::Json<serde_json::Value> {
    if include_totals {
        let mut body = serde_json::json!({
            "start": page * per_page,
            "limit": per_page,
            "length": items.len(),
            "total": total,
        });
        body[key] = serde_json::Value::Array(items);
        axum::Json(body)
    } else {
        axum::Json(serde_json::Value::Array(items))
    }
}
