//! `/api/v2/jobs`: users imports (a multipart upload streamed into the job's blocks), users
//! exports, verification emails, and a job's status and errors.

use super::{Caller, render};
use crate::AppState;
use crate::error::{ApiError, ApiResult};
use crate::extract::{
    FieldError, JsonBody, MAX_FORM_FIELDS, drain_refused_upload, small_text_field,
};
use axum::extract::{DefaultBodyLimit, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::scopes::{CREATE_USERS, READ_USERS, UPDATE_USERS};
use gatehouse_service::jobs::{ExportParams, ImportParams, ImportUpload, VerificationEmailParams};
use serde_json::Value;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/jobs/users-imports",
            // The file streams into the job; its own limit is counted while it arrives.
            post(users_imports).layer(DefaultBodyLimit::disable()),
        )
        .route("/jobs/users-exports", post(users_exports))
        .route("/jobs/verification-email", post(verification_email))
        .route("/jobs/{id}", get(job))
        .route("/jobs/{id}/errors", get(job_errors))
}

fn bad_form(message: impl Into<String>) -> ApiError {
    ApiError::invalid_body(message.into())
}

fn form_bool(name: &str, v: &str) -> ApiResult<bool> {
    match v.trim() {
        "true" | "1" => Ok(true),
        "false" | "0" | "" => Ok(false),
        _ => Err(bad_form(format!(
            "Payload validation error: '{name} must be true or false'."
        ))),
    }
}

async fn users_imports(
    State(s): State<AppState>,
    caller: Caller,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[CREATE_USERS])?;
    let mut multipart = multipart.map_err(|_| {
        bad_form(
            "Payload validation error: 'The body must be multipart/form-data with a users file'.",
        )
    })?;
    let limit = s.import_max_bytes;
    let mut params = ImportParams {
        send_completion_email: true,
        ..ImportParams::default()
    };
    let mut connection_id = None;
    let mut upload: Option<ImportUpload> = None;
    let mut fields = 0usize;
    let result = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| bad_form(format!("Payload validation error: '{}'.", e.body_text())))?
        {
            let name = field.name().unwrap_or_default().to_string();
            if name == "users" {
                if upload.is_some() {
                    return Err(bad_form(
                        "Payload validation error: 'users given more than once'.",
                    ));
                }
                let mut received = 0usize;
                let u = upload.insert(s.gatehouse.begin_import().await?);
                while let Some(chunk) = field.chunk().await.map_err(|e| {
                    bad_form(format!("Payload validation error: '{}'.", e.body_text()))
                })? {
                    received += chunk.len();
                    if received > limit {
                        return Err(ApiError::new(
                            StatusCode::PAYLOAD_TOO_LARGE,
                            "too_large",
                            format!("The users file is larger than {limit} bytes"),
                        ));
                    }
                    u.feed(&chunk).await?;
                }
                continue;
            }
            fields += 1;
            if fields > MAX_FORM_FIELDS {
                return Err(bad_form(
                    "Payload validation error: 'Too many form fields'.",
                ));
            }
            let text = small_text_field(&mut field).await.map_err(|e| match e {
                FieldError::TooLong => {
                    bad_form(format!("Payload validation error: '{name} is too long'."))
                }
                FieldError::Malformed(m) => bad_form(format!("Payload validation error: '{m}'.")),
            })?;
            match name.as_str() {
                "connection_id" => connection_id = Some(text),
                "upsert" => params.upsert = form_bool(&name, &text)?,
                "send_completion_email" => params.send_completion_email = form_bool(&name, &text)?,
                "external_id" => params.external_id = Some(text).filter(|t| !t.is_empty()),
                other => {
                    return Err(bad_form(format!(
                        "Payload validation error: 'Additional properties not allowed: {other}'."
                    )));
                }
            }
        }
        Ok(())
    }
    .await;
    if result.is_err() {
        drain_refused_upload(&mut multipart).await;
    }
    let finished = match (result, upload) {
        (Err(e), Some(u)) => {
            u.abort().await;
            return Err(e);
        }
        (Err(e), None) => return Err(e),
        (Ok(()), None) => {
            return Err(bad_form(
                "Payload validation error: 'Missing required property: users'.",
            ));
        }
        (Ok(()), Some(u)) => match connection_id {
            None => {
                u.abort().await;
                return Err(bad_form(
                    "Payload validation error: 'Missing required property: connection_id'.",
                ));
            }
            Some(c) => {
                params.connection_id = c;
                u.finish(params).await?
            }
        },
    };
    Ok((StatusCode::ACCEPTED, Json(render::job(&finished))))
}

async fn users_exports(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[READ_USERS])?;
    let params = ExportParams::from_payload(body)?;
    let job = s.gatehouse.create_export_job(params).await?;
    Ok((StatusCode::CREATED, Json(render::job(&job))))
}

async fn verification_email(
    State(s): State<AppState>,
    caller: Caller,
    JsonBody(body): JsonBody,
) -> ApiResult<(StatusCode, Json<Value>)> {
    caller.require(&[UPDATE_USERS])?;
    let params = VerificationEmailParams::from_payload(body)?;
    let job = s.gatehouse.create_verification_email_job(params).await?;
    Ok((StatusCode::CREATED, Json(render::job(&job))))
}

async fn job(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Json<Value>> {
    caller.require(&[CREATE_USERS, READ_USERS])?;
    let job = s.gatehouse.job(&id).await?;
    Ok(Json(render::job(&job)))
}

async fn job_errors(
    State(s): State<AppState>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    caller.require(&[CREATE_USERS])?;
    Ok(match s.gatehouse.job_errors(&id).await? {
        Some(rows) => Json(render::refused_rows(&rows)).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    })
}
