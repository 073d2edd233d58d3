//! `/api/v2/tenants/settings`: the tenant's name, logo, logout URLs, session lifetimes and
//! post-login redirect hook.

use super::{Caller, render};
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
    let settings = s.gatehouse.tenant_settings().await?;
    Ok(Json(render::tenant_settings(&settings)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_TENANT_SETTINGS])?;
    let settings = s.gatehouse.update_tenant_settings(body).await?;
    Ok(Json(render::tenant_settings(&settings)))
}
