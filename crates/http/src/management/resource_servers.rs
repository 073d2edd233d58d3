//! `/api/v2/resource-servers` and `/api/v2/client-grants`.

use super::{Caller, paged, render};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::resource_server::ResourceServerSettings;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/resource-servers", get(list).post(create))
        .route(
            "/resource-servers/{id}",
            get(read).patch(update).delete(remove),
        )
        .route("/client-grants", get(list_grants).post(create_grant))
        .route(
            "/client-grants/{id}",
            axum::routing::patch(update_grant).delete(remove_grant),
        )
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&["read:resource_servers"])?;
    q.allow_only(&["page", "per_page", "include_totals", "identifiers"])?;
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let (list, total) = s.gatehouse.list_resource_servers(page, per_page).await?;
    Ok(paged(
        "resource_servers",
        list.iter().map(render::resource_server).collect(),
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
    caller.require(&["create:resource_servers"])?;
    let settings = ResourceServerSettings::from_create(body)?;
    let api = s.gatehouse.create_resource_server(settings).await?;
    Ok((StatusCode::CREATED, Json(render::resource_server(&api))))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:resource_servers"])?;
    let api = s.gatehouse.get_resource_server(&id).await?;
    Ok(Json(render::resource_server(&api)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:resource_servers"])?;
    let api = s.gatehouse.update_resource_server(&id, body).await?;
    Ok(Json(render::resource_server(&api)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&["delete:resource_servers"])?;
    s.gatehouse.delete_resource_server(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn list_grants(
    State(s): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:client_grants"])?;
    q.allow_only(&[
        "page",
        "per_page",
        "include_totals",
        "client_id",
        "audience",
    ])?;
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let (list, total) = s
        .gatehouse
        .list_client_grants(q.str("client_id"), q.str("audience"), page, per_page)
        .await?;
    Ok(paged(
        "client_grants",
        list.iter().map(render::client_grant).collect(),
        include_totals,
        page,
        per_page,
        total,
    ))
}

async fn create_grant(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    caller.require(&["create:client_grants"])?;
    let grant = s.gatehouse.create_client_grant(body).await?;
    Ok((StatusCode::CREATED, Json(render::client_grant(&grant))))
}

async fn update_grant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:client_grants"])?;
    let grant = s.gatehouse.update_client_grant(&id, body).await?;
    Ok(Json(render::client_grant(&grant)))
}

async fn remove_grant(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&["delete:client_grants"])?;
    s.gatehouse.delete_client_grant(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}
