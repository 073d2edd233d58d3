//! `/api/v2/tickets`: single-use links for a password change or an email verification.

use super::Caller;
use crate::AppState;
use crate::error::ApiResult;
use crate::extract::JsonBody;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::post;
use axum::{Json, Router};
use serde_json::{Value, json};

const CREATE_USER_TICKETS: &str = "create:user_tickets";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/tickets/password-change", post(password_change))
        .route("/tickets/email-verification", post(email_verification))
}

async fn password_change(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_USER_TICKETS])?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ticket": s.gatehouse.password_change_ticket(body).await?})),
    ))
}

async fn email_verification(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_USER_TICKETS])?;
    Ok((
        StatusCode::CREATED,
        Json(json!({"ticket": s.gatehouse.email_verification_ticket(body).await?})),
    ))
}
