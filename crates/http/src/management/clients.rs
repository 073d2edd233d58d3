//! `/api/v2/clients`.

use super::{Caller, paged, render};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::client::ClientSettings;
use gatehouse_core::scopes::*;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/clients", get(list).post(create))
        .route("/clients/{id}", get(read).patch(update).delete(remove))
        .route("/clients/{id}/rotate-secret", post(rotate))
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&[READ_CLIENTS])?;
    q.allow_only(&[
        "page",
        "per_page",
        "include_totals",
        "fields",
        "include_fields",
        "is_global",
        "is_first_party",
        "app_type",
    ])?;
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let fields = q.fields()?;
    let (clients, total) = s
        .gatehouse
        .list_clients(page, per_page, caller.0.has_any(&[READ_CLIENT_KEYS]))
        .await?;
    let clients = clients
        .iter()
        .map(|c| fields.apply(render::client(&s.gatehouse, c)))
        .collect();
    Ok(paged(
        "clients",
        clients,
        include_totals,
        page,
        per_page,
        total,
    ))
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    caller.require(&[CREATE_CLIENTS])?;
    let settings = ClientSettings::from_create(body)?;
    let client = s.gatehouse.create_client(settings).await?;
    Ok((
        StatusCode::CREATED,
        Json(render::client(&s.gatehouse, &client)),
    ))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_CLIENTS])?;
    q.allow_only(&["fields", "include_fields"])?;
    let fields = q.fields()?;
    let client = s
        .gatehouse
        .get_client(&id, caller.0.has_any(&[READ_CLIENT_KEYS]))
        .await?;
    Ok(Json(fields.apply(render::client(&s.gatehouse, &client))))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_CLIENTS])?;
    // Setting a secret is a key change: `update:clients` alone must not be able to take
    // over a client (security review H1).
    if body.contains("client_secret") {
        caller.require(&[UPDATE_CLIENT_KEYS])?;
    }
    let client = s
        .gatehouse
        .update_client(&id, body, caller.0.has_any(&[READ_CLIENT_KEYS]))
        .await?;
    Ok(Json(render::client(&s.gatehouse, &client)))
}

async fn rotate(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_CLIENT_KEYS])?;
    let client = s
        .gatehouse
        .rotate_client_secret(&id, caller.0.has_any(&[READ_CLIENT_KEYS]))
        .await?;
    Ok(Json(render::client(&s.gatehouse, &client)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_CLIENTS])?;
    s.gatehouse.delete_client(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
