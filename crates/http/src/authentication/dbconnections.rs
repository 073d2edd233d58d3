//! `/dbconnections/signup` and `/dbconnections/change_password`, with the legacy error shape
//! Auth0 uses on these two endpoints: `{name, code, description, statusCode}`.

use crate::AppState;
use crate::hosted::BrowserRequest;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use gatehouse_core::payload::Payload;
use gatehouse_core::user::NewUser;
use gatehouse_service::ServiceError;
use serde_json::{Value, json};

fn legacy_error(
    status: StatusCode,
    name: &str,
    code: &str,
    description: impl Into<String>,
) -> Response {
    (
        status,
        Json(json!({"name": name, "code": code, "description": description.into(), "statusCode": status.as_u16()})),
    )
        .into_response()
}

fn bad_request(code: &str, description: impl Into<String>) -> Response {
    legacy_error(
        StatusCode::BAD_REQUEST,
        "BadRequestError",
        code,
        description,
    )
}

fn json_object(body: &[u8]) -> Option<serde_json::Map<String, Value>> {
    match serde_json::from_slice(body) {
        Ok(Value::Object(m)) => Some(m),
        _ => None,
    }
}

/// A public sign-up may set only what Auth0's sign-up accepts; `email_verified`, `blocked`,
/// `app_metadata`, `user_id` and the like are for the Management API. `user_metadata` is at
/// most 10 string fields of 500 characters in all.
fn check_signup_fields(fields: &serde_json::Map<String, Value>) -> Result<(), String> {
    const ALLOWED: &[&str] = &[
        "email",
        "password",
        "connection",
        "username",
        "given_name",
        "family_name",
        "name",
        "nickname",
        "picture",
        "user_metadata",
    ];
    if let Some(k) = fields.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(format!("{k} cannot be set at sign-up"));
    }
    match fields.get("user_metadata") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => {
            let total: usize = m
                .values()
                .map(|v| v.as_str().map(str::len).ok_or(()))
                .sum::<Result<usize, ()>>()
                .map_err(|_| "user_metadata values must be strings".to_string())?;
            if m.len() > 10 || total > 500 {
                return Err("user_metadata is limited to 10 fields and 500 characters".into());
            }
            Ok(())
        }
        Some(_) => Err("user_metadata must be an object".into()),
    }
}

fn not_an_object() -> Response {
    bad_request("invalid_body", "The body must be a JSON object")
}

pub async fn signup(State(s): State<AppState>, b: BrowserRequest, body: Bytes) -> Response {
    let Some(mut fields) = json_object(&body) else {
        return not_an_object();
    };
    let client_id = match fields.remove("client_id") {
        Some(Value::String(c)) => c,
        _ => return bad_request("invalid_signup", "Missing required parameter: client_id"),
    };
    if s.gatehouse.client_exists(&client_id).await.is_err() {
        return bad_request("invalid_signup", "Unknown client");
    }
    if let Err(message) = check_signup_fields(&fields) {
        return bad_request("invalid_signup", message);
    }
    let req = match Payload::from_value(Value::Object(fields)).and_then(NewUser::from_payload) {
        Ok(r) => r,
        Err(e) => return bad_request("invalid_signup", e.message),
    };
    let email = req.email.clone().map(|e| e.to_lowercase());
    match s.gatehouse.signup(req, Some(&client_id), &b.browser).await {
        Ok(u) => {
            let id = u
                .user_id
                .split_once('|')
                .map(|(_, id)| id)
                .unwrap_or(&u.user_id);
            let mut out = json!({"_id": id, "email": u.email, "email_verified": u.email_verified});
            if let Some(n) = &u.username {
                out["username"] = json!(n);
            }
            (StatusCode::OK, Json(out)).into_response()
        }
        // No enumeration: an address that has an account gets the answer a new one gets
        // (its owner is emailed instead). Auth0 answers `user_exists` here.
        Err(ServiceError::Conflict(_)) => {
            let id = gatehouse_crypto::random::hex(12).unwrap_or_default();
            let email = email.unwrap_or_default();
            (
                StatusCode::OK,
                Json(json!({"_id": id, "email": email, "email_verified": false})),
            )
                .into_response()
        }
        Err(ServiceError::Password(
            p @ gatehouse_core::password_policy::PasswordRejection::Leaked,
        )) => bad_request("password_leaked", p.to_string()),
        Err(ServiceError::Password(p)) => legacy_error(
            StatusCode::BAD_REQUEST,
            "PasswordStrengthError",
            "invalid_password",
            p.to_string(),
        ),
        Err(ServiceError::InvalidBody(e)) => bad_request("invalid_signup", e.message),
        Err(ServiceError::BadReference { message, .. }) => bad_request("invalid_signup", message),
        Err(ServiceError::NotSupported(m)) => bad_request("invalid_signup", m),
        Err(ServiceError::NotAllowed { code, message }) => bad_request(code, message),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

/// Always the same answer, whether or not the address has an account.
pub async fn change_password(
    State(s): State<AppState>,
    b: BrowserRequest,
    body: Bytes,
) -> Response {
    let Some(fields) = json_object(&body) else {
        return not_an_object();
    };
    let text = |k: &str| {
        fields
            .get(k)
            .and_then(Value::as_str)
            .filter(|v| !v.is_empty())
    };
    let (Some(email), Some(connection)) = (text("email"), text("connection")) else {
        return bad_request(
            "invalid_request",
            "Missing required parameters: email and connection",
        );
    };
    match s
        .gatehouse
        .request_password_reset(text("client_id"), email, connection, &b.browser)
        .await
    {
        Ok(()) => {}
        Err(ServiceError::NotAllowed { code, message }) => return bad_request(code, message),
        Err(e) => return crate::error::ApiError::from(e).into_response(),
    }
    (
        StatusCode::OK,
        "We've just sent you an email to reset your password.",
    )
        .into_response()
}
