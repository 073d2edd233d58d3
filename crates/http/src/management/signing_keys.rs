//! `/api/v2/keys/signing`: list, read, rotate and revoke the tenant's signing keys.

use super::Caller;
use crate::AppState;
use crate::error::ApiResult;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::routing::{get, post, put};
use axum::{Json, Router};
use gatehouse_core::scopes::{CREATE_SIGNING_KEYS, READ_SIGNING_KEYS, UPDATE_SIGNING_KEYS};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/keys/signing", get(list))
        .route("/keys/signing/rotate", post(rotate))
        .route("/keys/signing/{kid}", get(read))
        .route("/keys/signing/{kid}/revoke", put(revoke))
}

async fn list(State(s): State<AppState>, caller: Caller) -> ApiResult<Json<Vec<Value>>> {
    caller.require(&[READ_SIGNING_KEYS])?;
    Ok(Json(s.gatehouse.signing_keys().await?))
}

async fn read(
    State(s): State<AppState>,
    caller: Caller,
    Path(kid): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[READ_SIGNING_KEYS])?;
    Ok(Json(s.gatehouse.signing_key(&kid).await?))
}

/// Auth0 asks for both scopes: a rotation makes keys and changes the ones in use.
async fn rotate(State(s): State<AppState>, caller: Caller) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_SIGNING_KEYS])?;
    caller.require(&[UPDATE_SIGNING_KEYS])?;
    Ok((
        StatusCode::CREATED,
        Json(s.gatehouse.rotate_signing_keys().await?),
    ))
}

async fn revoke(
    State(s): State<AppState>,
    caller: Caller,
    Path(kid): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[UPDATE_SIGNING_KEYS])?;
    Ok(Json(s.gatehouse.revoke_signing_key(&kid).await?))
}
