//! `/dbconnections/signup` and `/dbconnections/change_password`, with the legacy error shape
//! Auth0 uses on these two endpoints: `{name, code, description, statusCode}`.

use crate::AppState;
use crate::hosted::BrowserRequest;
use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
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

fn not_an_object() -> Response {
    bad_request("invalid_body", "The body must be a JSON object")
}

pub async fn signup(State(s): State<AppState>, b: BrowserRequest, body: Bytes) -> Response {
    let Some(fields) = json_object(&body) else {
        return not_an_object();
    };
    match s.gatehouse.dbconnections_signup(fields, &b.browser).await {
        Ok(u) => {
            let mut out =
                json!({"_id": u.id, "email": u.email, "email_verified": u.email_verified});
            if let Some(n) = &u.username {
                out["username"] = json!(n);
            }
            (StatusCode::OK, Json(out)).into_response()
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
        // A pre-user-registration action refused the sign-up: Auth0's shape, its message.
        Err(ServiceError::Script {
            code: code @ "extensibility_error",
            message,
            ..
        }) => legacy_error(StatusCode::BAD_REQUEST, "ExtensibilityError", code, message),
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
