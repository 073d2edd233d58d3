//! `/api/v2/connections` (database connections).

use super::{Caller, paged, render};
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::scopes::*;
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/connections", get(list).post(create))
        .route("/connections/{id}", get(read).patch(update).delete(remove))
        .route(
            "/connections/{id}/users",
            axum::routing::delete(remove_user_by_email),
        )
        .route("/connections/{id}/try", axum::routing::post(try_script))
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&[READ_CONNECTIONS])?;
    q.allow_only(&[
        "page",
        "per_page",
        "include_totals",
        "strategy",
        "name",
        "fields",
        "include_fields",
        "from",
        "take",
    ])?;
    // Checkpoint paging (`from`/`take`, what Auth0's v6 SDKs send by default).
    if let Some(take) = q.int("take", 1, 100)? {
        let fields = q.fields()?;
        let (list, next) = s
            .gatehouse
            .connections_after(q.str("strategy"), q.str("name"), q.str("from"), take)
            .await?;
        let list: Vec<Value> = list
            .iter()
            .map(|c| fields.apply(render::connection(c)))
            .collect();
        let mut body = serde_json::json!({ "connections": list });
        if let Some(n) = next {
            body["next"] = serde_json::json!(n);
        }
        return Ok(Json(body));
    }
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let fields = q.fields()?;
    let (list, total) = s
        .gatehouse
        .list_connections(q.str("strategy"), q.str("name"), page, per_page)
        .await?;
    let list = list
        .iter()
        .map(|c| fields.apply(render::connection(c)))
        .collect();
    Ok(paged(
        "connections",
        list,
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
    caller.require(&[CREATE_CONNECTIONS])?;
    let settings = ConnectionSettings::from_create(body)?;
    let connection = s.gatehouse.create_connection(settings).await?;
    Ok((StatusCode::CREATED, Json(render::connection(&connection))))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_CONNECTIONS])?;
    q.allow_only(&["fields", "include_fields"])?;
    let fields = q.fields()?;
    let connection = s.gatehouse.get_connection(&id).await?;
    Ok(Json(fields.apply(render::connection(&connection))))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_CONNECTIONS])?;
    let connection = s.gatehouse.update_connection(&id, body).await?;
    Ok(Json(render::connection(&connection)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_CONNECTIONS])?;
    s.gatehouse.delete_connection(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `DELETE /api/v2/connections/{id}/users?email=`: removes a user from Gatehouse's own store
/// of a database connection (Auth0's remedy for `DUPLICATED_USER` in a migration: the user
/// moves again from the custom database at the next login).
async fn remove_user_by_email(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_USERS])?;
    q.allow_only(&["email"])?;
    let email = q.str("email").unwrap_or_default();
    s.gatehouse.delete_connection_user(&id, email).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /api/v2/connections/{id}/try`: runs one custom-database script (saved, or the
/// `source` given) with `args`, answering its result or error and its console output.
async fn try_script(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_CONNECTIONS])?;
    let request = gatehouse_service::custom_db::TryRequest::from_payload(body)?;
    let trial = s.gatehouse.try_connection_script(&id, request).await?;
    Ok(Json(trial.to_json()))
}
