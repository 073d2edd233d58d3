//! `/api/v2/users` and `/api/v2/users-by-email`.

use super::{Caller, paged};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{JsonBody, QueryParams};
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::{Json, Router};
use gatehouse_core::scopes::*;
use gatehouse_core::user::{NewUser, UserPatch};
use gatehouse_store::{SortField, TOTAL_EXACT_BOUND, UserOrder, UserSearch};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/users", get(list).post(create))
        .route("/users/{id}", get(read).patch(update).delete(remove))
        .route("/users-by-email", get(by_email))
        .route("/users/{id}/identities", axum::routing::post(link))
        .route(
            "/users/{id}/identities/{provider}/{user_id}",
            axum::routing::delete(unlink),
        )
}

/// Set on a list whose `total` stopped counting at [`TOTAL_EXACT_BOUND`] (or the end of the
/// page asked for): more users match than `total` says.
pub const TOTAL_CAPPED_HEADER: &str = "x-total-capped";

async fn list(
    State(s): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> ApiResult<axum::response::Response> {
    caller.require(&[READ_USERS])?;
    q.allow_only(&[
        "page",
        "per_page",
        "include_totals",
        "sort",
        "connection",
        "fields",
        "include_fields",
        "q",
        "search_engine",
        "primary_order",
        "from",
        "take",
    ])?;
    match q.str("search_engine") {
        None | Some("v3") => {}
        Some(v @ ("v1" | "v2")) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "operation_not_supported",
                format!("The search_engine {v} is no longer supported; use v3"),
            ));
        }
        Some(other) => {
            return Err(ApiError::invalid_query(format!(
                "Query validation error: 'No enum match for: \"{other}\"' on property search_engine."
            )));
        }
    }
    let filter = match q.str("q").map(str::trim).filter(|s| !s.is_empty()) {
        None => None,
        Some(text) => Some(gatehouse_core::search::parse(text).map_err(|e| {
            ApiError::invalid_query(format!("Query validation error: '{e}' on property q."))
        })?),
    };
    let _ = q.bool("primary_order")?;
    let fields = q.fields()?;
    // Checkpoint mode (`from` and/or `take`): walk any result set in user_id order.
    if q.str("from").is_some() || q.str("take").is_some() {
        let take = q.int("take", 1, 100)?.unwrap_or(50);
        let search = UserSearch {
            filter,
            limit: take,
            order: UserOrder::UserId {
                after: q.str("from").filter(|f| !f.is_empty()).map(str::to_string),
            },
            ..Default::default()
        };
        let list = s
            .gatehouse
            .search_users(q.str("connection"), search)
            .await?;
        return Ok(Json(Value::Array(
            list.users
                .iter()
                .map(|u| fields.apply(u.to_json()))
                .collect(),
        ))
        .into_response());
    }
    let (page, per_page) = q.paging()?;
    let include_totals = q.bool("include_totals")?.unwrap_or(false);
    let sort = match q.str("sort") {
        None => None,
        Some(raw) => {
            let bad = || {
                ApiError::invalid_query(format!(
                    "Query validation error: 'sort must be <field>:1 or <field>:-1 on a sortable field: {raw}' on property sort."
                ))
            };
            let (field, dir) = raw.split_once(':').ok_or_else(bad)?;
            let field = SortField::parse(field).ok_or_else(bad)?;
            let ascending = match dir {
                "1" => true,
                "-1" => false,
                _ => return Err(bad()),
            };
            Some((field, ascending))
        }
    };
    let search = UserSearch {
        filter,
        order: sort.map_or(UserOrder::Created, |(f, asc)| UserOrder::Field(f, asc)),
        offset: page.saturating_mul(per_page),
        limit: per_page,
        with_total: include_totals,
        total_bound: Some(TOTAL_EXACT_BOUND),
        ..Default::default()
    };
    let list = s
        .gatehouse
        .search_users(q.str("connection"), search)
        .await?;
    let users = list
        .users
        .iter()
        .map(|u| fields.apply(u.to_json()))
        .collect();
    let body = paged(
        "users",
        users,
        include_totals,
        page,
        per_page,
        list.total.unwrap_or(0),
    );
    // Auth0's `total` is a number, so the body keeps that shape; the header tells a capped
    // count from an exact one.
    if list.total_capped {
        Ok(([(TOTAL_CAPPED_HEADER, "true")], body).into_response())
    } else {
        Ok(body.into_response())
    }
}

async fn create(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    // Creating a user (a password, email_verified, roles in app_metadata) is `create:users`
    // alone, as Auth0 documents it (security review M9).
    caller.require(&[CREATE_USERS])?;
    let req = NewUser::from_payload(body)?;
    let user = s.gatehouse.create_user(req).await?;
    Ok((StatusCode::CREATED, Json(user.to_json())))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    // A profile is `read:users`, as Auth0 documents it; `read:users_app_metadata` alone
    // does not read one (security review M9). The user's own token reads its own.
    caller.require_on_user(&id, &[READ_USERS], &[READ_CURRENT_USER])?;
    q.allow_only(&["fields", "include_fields"])?;
    let fields = q.fields()?;
    let user = s.gatehouse.get_user(&id).await?;
    let mut doc = user.to_json();
    // The providers' tokens are shown only to callers allowed to read them.
    if caller.0.has_any(&[READ_USER_IDP_TOKENS]) {
        let tokens = s.gatehouse.identity_provider_tokens(&user).await?;
        if let Some(identities) = doc.get_mut("identities").and_then(Value::as_array_mut) {
            for (i, t) in tokens {
                if let Some(Value::Object(identity)) = identities.get_mut(i) {
                    identity.extend(t);
                }
            }
        }
    }
    Ok(Json(fields.apply(doc)))
}

/// `POST /api/v2/users/{id}/identities`: links an identity; 201 with the identities. The
/// user's own token links only an account it proves with that account's ID token
/// (`link_with`), as Auth0 allows.
async fn link(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<impl IntoResponse> {
    let own: &[&str] = if body.contains("link_with") {
        &[UPDATE_CURRENT_USER_IDENTITIES]
    } else {
        &[]
    };
    caller.require_on_user(&id, &[UPDATE_USERS], own)?;
    let req = gatehouse_service::identities::LinkRequest::parse(body.as_map())?;
    let user = s
        .gatehouse
        .link_identity(&id, req, Some(&caller.0.client_id))
        .await?;
    Ok((
        StatusCode::CREATED,
        Json(user.to_json()["identities"].clone()),
    ))
}

/// `DELETE /api/v2/users/{id}/identities/{provider}/{user_id}`: 200 with what remains.
async fn unlink(
    State(s): State<AppState>,
    caller: Caller,
    Path((id, provider, user_id)): Path<(String, String, String)>,
) -> ApiResult<Json<Value>> {
    caller.require_on_user(&id, &[UPDATE_USERS], &[UPDATE_CURRENT_USER_IDENTITIES])?;
    let user = s
        .gatehouse
        .unlink_identity(&id, &provider, &user_id)
        .await?;
    Ok(Json(user.to_json()["identities"].clone()))
}

async fn update(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
    JsonBody(body): JsonBody,
) -> ApiResult<Json<Value>> {
    let touches_only = |property: &str| {
        body.contains(property)
            && UserPatch::PROPERTIES
                .iter()
                .all(|p| *p == property || !body.contains(p))
    };
    // A token limited to app_metadata may change nothing else; the user's own token changes
    // only its user's user_metadata (Auth0: `update:` or `create:current_user_metadata`).
    let scopes: &[&str] = if touches_only("app_metadata") {
        &[UPDATE_USERS, UPDATE_USERS_APP_METADATA]
    } else {
        &[UPDATE_USERS]
    };
    let only_user_metadata =
        body.contains("user_metadata") && body.as_map().keys().all(|k| k == "user_metadata");
    let own: &[&str] = if only_user_metadata {
        &[UPDATE_CURRENT_USER_METADATA, CREATE_CURRENT_USER_METADATA]
    } else {
        &[]
    };
    caller.require_on_user(&id, scopes, own)?;
    let patch = UserPatch::from_payload(body)?;
    // `app_metadata.roles` (`admin`, `Delegated Admin - …`), `permissions` and
    // `authorization` open the dashboard: granting them is a full user update, not an
    // app_metadata one.
    if patch.app_metadata.as_ref().is_some_and(|m| {
        gatehouse_service::admin::ACCESS_KEYS
            .iter()
            .any(|k| m.touches(k))
    }) {
        caller.require(&[UPDATE_USERS])?;
    }
    let user = s.gatehouse.update_user(&id, patch).await?;
    Ok(Json(user.to_json()))
}

async fn remove(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<StatusCode> {
    caller.require(&[DELETE_USERS])?;
    s.gatehouse.delete_user(&id).await?;
    Ok(StatusCode::NO_CONTENT)
}

async fn by_email(
    State(s): State<AppState>,
    caller: Caller,
    q: QueryParams,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_USERS])?;
    q.allow_only(&["email", "fields", "include_fields"])?;
    let email = q.str("email").filter(|e| !e.is_empty()).ok_or_else(|| {
        ApiError::invalid_query("Query validation error: 'Missing required property: email'.")
    })?;
    let fields = q.fields()?;
    let users = s.gatehouse.users_by_email(email).await?;
    Ok(Json(Value::Array(
        users.iter().map(|u| fields.apply(u.to_json())).collect(),
    )))
}
