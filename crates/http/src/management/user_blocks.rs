//! `/api/v2/user-blocks`: brute-force blocks by user id or by identifier (email/username).

use super::{Caller, render};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::QueryParams;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::scopes::{READ_USERS, UPDATE_USERS};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/user-blocks",
            get(by_identifier).delete(unblock_identifier),
        )
        .route("/user-blocks/{id}", get(by_id).delete(unblock_id))
}

fn identifier(q: &QueryParams) -> ApiResult<String> {
    q.allow_only(&["identifier", "consider_brute_force_enablement"])?;
    let _ = q.bool("consider_brute_force_enablement")?;
    q.str("identifier")
        .filter(|s| !s.is_empty())
        .map(String::from)
        .ok_or_else(|| {
            ApiError::invalid_query(
                "Query validation error: 'Missing required property: identifier'.",
            )
        })
}

async fn by_identifier(
    State(s): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_USERS])?;
    let blocks = s
        .gatehouse
        .user_blocks_by_identifier(&identifier(&q)?)
        .await?;
    Ok(Json(render::user_blocks(&blocks)))
}

async fn unblock_identifier(
    State(s): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    caller.require(&[UPDATE_USERS])?;
    s.gatehouse.unblock_identifier(&identifier(&q)?).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn by_id(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_USERS])?;
    let blocks = s.gatehouse.user_blocks(&id).await?;
    Ok(Json(render::user_blocks(&blocks)))
}

async fn unblock_id(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[UPDATE_USERS])?;
    s.gatehouse.unblock_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
