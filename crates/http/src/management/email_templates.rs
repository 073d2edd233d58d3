//! `/api/v2/email-templates`: the tenant's own email subjects and bodies.

use super::{Caller, render};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post};
use axum::{Json, Router};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new().route("/email-templates", post(create)).route(
        "/email-templates/{name}",
        get(read).patch(update).put(replace),
    )
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&["create:email_templates"])?;
    let t = s.gatehouse.create_email_template(None, body, false).await?;
    Ok((StatusCode::CREATED, Json(render::email_template(&t)?)))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:email_templates"])?;
    let t = s.gatehouse.get_email_template(&name).await?;
    Ok(Json(render::email_template(&t)?))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:email_templates"])?;
    let t = s.gatehouse.update_email_template(&name, body).await?;
    Ok(Json(render::email_template(&t)?))
}

async fn replace(
    State(s): State<AppState>,
    caller: Caller,
    Path(name): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:email_templates"])?;
    let t = s
        .gatehouse
        .create_email_template(Some(&name), body, true)
        .await?;
    Ok(Json(render::email_template(&t)?))
}
