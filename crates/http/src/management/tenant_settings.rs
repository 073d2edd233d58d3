//! `/api/v2/tenants/settings`: the tenant's name, logo, logout URLs, session lifetimes and
//! post-login redirect hook.

use super::Caller;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::scopes::{READ_TENANT_SETTINGS, UPDATE_TENANT_SETTINGS};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route("/tenants/settings", get(read).patch(update))
}

async fn read(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Value>> {
    caller.require(&[READ_TENANT_SETTINGS])?;
    Ok(Json(s.gatehouse.get_tenant_settings().await?))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_TENANT_SETTINGS])?;
    Ok(Json(s.gatehouse.update_tenant_settings(body).await?))
}
