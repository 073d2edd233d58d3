//! `/api/v2/roles` and a user's `/roles` and `/permissions`: core RBAC with Auth0's routes,
//! success codes (they differ per route) and scopes.

use super::{Caller, paged, render};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::authorization::{NamedFields, ids_body, permissions_body};
use gatehouse_service::authorization::{MemberPaging, MembersPage};
use serde_json::{Value, json};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/roles", get(list).post(create))
        .route("/roles/{id}", get(read).patch(update).delete(remove))
        .route(
            "/roles/{id}/permissions",
            get(role_permissions)
                .post(add_role_permissions)
                .delete(remove_role_permissions),
        )
        .route("/roles/{id}/users", get(role_users).post(add_role_users))
        .route(
            "/users/{id}/roles",
            get(user_roles)
                .post(add_user_roles)
                .delete(remove_user_roles),
        )
        .route(
            "/users/{id}/permissions",
            get(user_permissions)
                .post(add_user_permissions)
                .delete(remove_user_permissions),
        )
}

async fn list(State(s): State<AppState>, caller: Caller, q: QueryParams) -> ApiResult<Json<Value>> {
    caller.require(&["read:roles"])?;
    q.allow_only(&["page", "per_page", "include_totals", "name_filter"])?;
    let (page, per_page) = q.paging()?;
    let (roles, total) = s
        .gatehouse
        .list_roles(q.str("name_filter"), page, per_page)
        .await?;
    Ok(paged(
        "roles",
        roles.iter().map(render::named).collect(),
        q.bool("include_totals")?.unwrap_or(false),
        page,
        per_page,
        total,
    ))
}

/// Auth0 answers a created role with 200, not 201.
async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["create:roles"])?;
    let role = s
        .gatehouse
        .create_role(NamedFields::from_create(body)?)
        .await?;
    Ok(Json(render::named(&role)))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:roles"])?;
    Ok(Json(render::named(&s.gatehouse.get_role(&id).await?)))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    caller.require(&["update:roles"])?;
    let role = s
        .gatehouse
        .update_role(&id, NamedFields::from_patch(body)?)
        .await?;
    Ok(Json(render::named(&role)))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&["delete:roles"])?;
    s.gatehouse.delete_role(&id).await?;
    Ok(StatusCode::OK)
}

async fn role_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:roles"])?;
    q.allow_only(&["page", "per_page", "include_totals"])?;
    let (page, per_page) = q.paging()?;
    let (perms, total) = s.gatehouse.role_permissions(&id, page, per_page).await?;
    Ok(paged(
        "permissions",
        perms.iter().map(render::permission).collect(),
        q.bool("include_totals")?.unwrap_or(false),
        page,
        per_page,
        total,
    ))
}

async fn add_role_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:roles"])?;
    s.gatehouse
        .add_role_permissions(&id, permissions_body(body)?)
        .await?;
    Ok(StatusCode::CREATED)
}

async fn remove_role_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:roles"])?;
    s.gatehouse
        .remove_role_permissions(&id, permissions_body(body)?)
        .await?;
    Ok(StatusCode::OK)
}

/// Reading members needs `read:role_members`, or both `read:users` and `read:roles`.
fn require_member_read(caller: &Caller) -> Result<(), ApiError> {
    if caller.0.has_any(&["read:role_members"])
        || (caller.0.has_any(&["read:users"]) && caller.0.has_any(&["read:roles"]))
    {
        Ok(())
    } else {
        Err(ApiError::insufficient_scope(&[
            "read:role_members",
            "read:users",
            "read:roles",
        ]))
    }
}

/// Offset paging (`page`, `per_page`, `include_totals`) or checkpoint paging (`from`,
/// `take`). With `from` or `take` the answer is `{users, next}` whatever else is sent: Auth0's
/// v6 SDKs send `include_totals=true` with every checkpoint request.
pub(super) fn member_paging(q: &QueryParams) -> Result<(MemberPaging, bool), ApiError> {
    q.allow_only(&["page", "per_page", "include_totals", "from", "take"])?;
    let totals = q.bool("include_totals")?.unwrap_or(false);
    if q.str("from").is_some() || q.str("take").is_some() {
        let take = q.int("take", 1, 100)?.unwrap_or(50);
        let from = q.str("from").filter(|f| !f.is_empty()).map(str::to_string);
        return Ok((MemberPaging::Checkpoint { from, take }, false));
    }
    let (page, per_page) = q.paging()?;
    Ok((MemberPaging::Offset { page, per_page }, totals))
}

/// `{next, users}` for checkpoints; else Auth0's paged list.
pub(super) fn render_members(
    page: MembersPage,
    paging: &MemberPaging,
    totals: bool,
) -> Json<Value> {
    let users: Vec<Value> = page.users.iter().map(render::member).collect();
    match paging {
        MemberPaging::Checkpoint { .. } => {
            let mut body = json!({"users": users});
            if let Some(n) = page.next {
                body["next"] = json!(n);
            }
            Json(body)
        }
        MemberPaging::Offset { page: p, per_page } => {
            paged("users", users, totals, *p, *per_page, page.total)
        }
    }
}

async fn role_users(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    require_member_read(&caller)?;
    let (paging, totals) = member_paging(&q)?;
    let page = s.gatehouse.role_users(&id, paging.clone()).await?;
    Ok(render_members(page, &paging, totals))
}

async fn add_role_users(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:roles", "create:role_members"])?;
    s.gatehouse
        .add_role_users(&id, ids_body(body, "users")?)
        .await?;
    Ok(StatusCode::OK)
}

async fn user_roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    require_member_read(&caller)?;
    q.allow_only(&["page", "per_page", "include_totals"])?;
    let (page, per_page) = q.paging()?;
    let (roles, total) = s.gatehouse.user_roles(&id, page, per_page).await?;
    Ok(paged(
        "roles",
        roles.iter().map(render::named).collect(),
        q.bool("include_totals")?.unwrap_or(false),
        page,
        per_page,
        total,
    ))
}

async fn add_user_roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:users", "create:role_members"])?;
    s.gatehouse
        .add_user_roles(&id, ids_body(body, "roles")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn remove_user_roles(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:users", "delete:role_members"])?;
    s.gatehouse
        .remove_user_roles(&id, ids_body(body, "roles")?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn user_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&["read:users"])?;
    q.allow_only(&["page", "per_page", "include_totals"])?;
    let (page, per_page) = q.paging()?;
    let (perms, total) = s.gatehouse.user_permissions(&id, page, per_page).await?;
    Ok(paged(
        "permissions",
        perms.iter().map(render::user_permission).collect(),
        q.bool("include_totals")?.unwrap_or(false),
        page,
        per_page,
        total,
    ))
}

async fn add_user_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:users"])?;
    s.gatehouse
        .add_user_permissions(&id, permissions_body(body)?)
        .await?;
    Ok(StatusCode::CREATED)
}

async fn remove_user_permissions(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<StatusCode> {
    caller.require(&["update:users"])?;
    s.gatehouse
        .remove_user_permissions(&id, permissions_body(body)?)
        .await?;
    Ok(StatusCode::NO_CONTENT)
}
