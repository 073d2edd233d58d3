//! `/api/v2/groups` (a Gatehouse extension in Auth0's style, carrying the Authorization
//! Extension's model): groups, their members, nested groups, roles and identity-provider
//! mappings, and a user's `/groups`.

use super::roles::{member_paging, render_members};
use super::{Caller, paged, render};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::authorization::{NamedFields, ids_body, mappings_body};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/groups", get(list).post(create))
        .route("/groups/{id}", get(read).patch(update).delete(remove))
        .route(
            "/groups/{id}/members",
            get(members).post(add_members).delete(remove_members),
        )
        .route(
            "/groups/{id}/nested",
            get(nested).post(add_nested).delete(remove_nested),
        )
        .route(
            "/groups/{id}/roles",
            get(roles).post(add_roles).delete(remove_roles),
        )
        .route(
            "/groups/{id}/mappings",
            get(mappings).post(add_mappings).delete(remove_mappings),
        )
        .route("/users/{id}/groups", get(user_groups))
}

fn list_of(items: &[gatehouse_service::authorization::Group]) -> Json<Value> {
    Json(Value::Array(items.iter().map(render::named).collect()))
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    q.allow_only(&["page", "per_page", "include_totals", "name_filter"])?;
    let (page, per_page) = q.paging()?;
    let (groups, total) = s
        .gatehouse
        .list_groups(q.str("name_filter"), page, per_page)
        .await?;
    Ok(paged(
        "groups",
        groups.iter().map(render::named).collect(),
        q.bool("include_totals")?.unwrap_or(false),
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
    caller.require(&["create:groups"])?;
    let group = s
        .gatehouse
        .create_group(NamedFields::from_create(body)?)
        .await?;
    Ok((StatusCode::CREATED, Json(render::named(&group))))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    Ok(Json(render::named(&s.gatehouse.get_group(&id).await?)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:groups"])?;
    let group = s
        .gatehouse
        .update_group(&id, NamedFields::from_patch(body)?)
        .await?;
    Ok(Json(render::named(&group)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&["delete:groups"])?;
    s.gatehouse.delete_group(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn members(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    let (paging, totals) = member_paging(&q)?;
    let page = s.gatehouse.group_members(&id, paging.clone()).await?;
    Ok(render_members(page, &paging, totals))
}

async fn add_members(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .add_group_members(&id, ids_body(body, "members")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_members(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .remove_group_members(&id, ids_body(body, "members")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn nested(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    Ok(list_of(&s.gatehouse.group_children(&id).await?))
}

async fn add_nested(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .add_group_children(&id, ids_body(body, "groups")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_nested(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .remove_group_children(&id, ids_body(body, "groups")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    Ok(list_of(&s.gatehouse.group_roles(&id).await?))
}

async fn add_roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .add_group_roles(&id, ids_body(body, "roles")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .remove_group_roles(&id, ids_body(body, "roles")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    let list = s.gatehouse.group_mappings(&id).await?;
    Ok(Json(Value::Array(
        list.iter().map(render::group_mapping).collect(),
    )))
}

async fn add_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:groups"])?;
    let list = s
        .gatehouse
        .add_group_mappings(&id, mappings_body(body)?)
        .await?;
    Ok(Json(Value::Array(
        list.iter().map(render::group_mapping).collect(),
    )))
}

async fn remove_mappings(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:groups"])?;
    s.gatehouse
        .remove_group_mappings(&id, ids_body(body, "mappings")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_groups(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:groups"])?;
    Ok(list_of(&s.gatehouse.user_groups(&id).await?))
}
