//! `/api/v2/attack-protection/breached-password-detection`.

use super::Caller;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::scopes::{READ_ATTACK_PROTECTION, UPDATE_ATTACK_PROTECTION};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/attack-protection/breached-password-detection",
        get(read).patch(update),
    )
}

async fn read(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&[READ_ATTACK_PROTECTION])?;
    Ok(Json(s.gatehouse.get_breached_detection().await?.to_json()))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_ATTACK_PROTECTION])?;
    Ok(Json(
        s.gatehouse.update_breached_detection(body).await?.to_json(),
    ))
}
