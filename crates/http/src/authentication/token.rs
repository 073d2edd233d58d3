//! `POST /oauth/token`: JSON or form bodies, client_secret_post or client_secret_basic.

use crate::AppState;
use crate::extract::ClientInfo;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use gatehouse_service::oauth::{OAuthError, TokenRequest};
use serde_json::{Map, Value, json};

pub(crate) fn oauth_error(e: OAuthError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = (
        status,
        axum::Json(json!({"error": e.error, "error_description": e.description})),
    )
        .into_response();
    if let Some(f) = e.failure {
        crate::failure::attach(&mut resp, f);
    }
    // A busy server or a limit that refills: the client may retry in a second.
    if matches!(
        status,
        StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
    ) && e.error != "too_many_attempts"
    {
        resp.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    resp
}

/// Grants that check a password or one-time code, limited per IP.
fn checks_a_password(grant: Option<&str>) -> bool {
    matches!(
        grant,
        Some(
            "password"
                | gatehouse_service::oauth::PASSWORD_REALM_GRANT
                | gatehouse_service::oauth::PASSWORDLESS_OTP_GRANT
        )
    )
}

pub(super) fn no_store(mut resp: Response) -> Response {
    resp.headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    resp.headers_mut()
        .insert(header::PRAGMA, HeaderValue::from_static("no-cache"));
    resp
}

pub async fn token(
    State(s): State<AppState>,
    who: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let result = match parse(&headers, &body) {
        Ok(req) if checks_a_password(req.grant_type.as_deref()) => {
            let addr = who
                .ip
                .as_deref()
                .and_then(|ip| ip.parse().ok())
                .map(crate::guard::ClientAddr);
            if let Err(retry) = s.auth_limits.check(
                crate::guard::Limited::PasswordGrant,
                addr.as_ref(),
                s.gatehouse.now(),
            ) {
                return no_store(crate::guard::too_many(retry, true));
            }
            Ok(req)
        }
        other => other,
    };
    let result = match result {
        Ok(mut req) => {
            req.ip = who.ip;
            req.user_agent = who.user_agent;
            let grant = gatehouse_service::metrics::known_grant(req.grant_type.as_deref());
            let issued = s.gatehouse.issue_token(req).await;
            if let (Ok(_), Some(grant)) = (&issued, grant) {
                s.gatehouse.metrics().token_issued(grant);
            }
            issued
        }
        Err(e) => Err(e),
    };
    no_store(match result {
        Ok(t) => (StatusCode::OK, axum::Json(t.to_json())).into_response(),
        Err(e) => oauth_error(e),
    })
}

/// Reads the token request from a JSON or form body, plus HTTP Basic client credentials.
pub(super) fn parse(headers: &HeaderMap, body: &[u8]) -> Result<TokenRequest, OAuthError> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    let fields: Map<String, Value> = if content_type.starts_with("application/json") {
        match serde_json::from_slice(body) {
            Ok(Value::Object(m)) => m,
            _ => {
                return Err(OAuthError::invalid_request(
                    "The request body must be a JSON object",
                ));
            }
        }
    } else if content_type.starts_with("application/x-www-form-urlencoded") {
        let pairs: Vec<(String, String)> = serde_urlencoded_pairs(body)?;
        pairs
            .into_iter()
            .map(|(k, v)| (k, Value::String(v)))
            .collect()
    } else {
        return Err(OAuthError::invalid_request(
            "Content-Type must be application/json or application/x-www-form-urlencoded",
        ));
    };
    let text = |k: &str| -> Result<Option<String>, OAuthError> {
        match fields.get(k) {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Ok(Some(s.clone())),
            Some(_) => Err(OAuthError::invalid_request(format!(
                "Parameter {k} must be a string"
            ))),
        }
    };
    let mut req = TokenRequest {
        grant_type: text("grant_type")?,
        client_id: text("client_id")?,
        client_secret: text("client_secret")?,
        audience: text("audience")?,
        scope: text("scope")?,
        username: text("username")?,
        password: text("password")?,
        refresh_token: text("refresh_token")?,
        realm: text("realm")?,
        code: text("code")?,
        redirect_uri: text("redirect_uri")?,
        code_verifier: text("code_verifier")?,
        otp: text("otp")?,
        ip: None,
        user_agent: None,
    };
    if let Some((id, secret)) = basic_credentials(headers)? {
        if req.client_secret.is_some() {
            return Err(OAuthError::invalid_request(
                "Use only one client authentication method",
            ));
        }
        if req.client_id.as_ref().is_some_and(|body_id| *body_id != id) {
            return Err(OAuthError::invalid_request(
                "client_id does not match the Authorization header",
            ));
        }
        req.client_id = Some(id);
        req.client_secret = Some(secret);
    }
    Ok(req)
}

fn serde_urlencoded_pairs(body: &[u8]) -> Result<Vec<(String, String)>, OAuthError> {
    let s = std::str::from_utf8(body)
        .map_err(|_| OAuthError::invalid_request("The body is not UTF-8"))?;
    let uri: axum::http::Uri = format!("/?{}", s.trim())
        .parse()
        .map_err(|_| OAuthError::invalid_request("Malformed form body"))?;
    axum::extract::Query::<Vec<(String, String)>>::try_from_uri(&uri)
        .map(|q| q.0)
        .map_err(|_| OAuthError::invalid_request("Malformed form body"))
}

/// `Authorization: Basic base64(urlencode(id):urlencode(secret))` (RFC 6749 §2.3.1).
fn basic_credentials(headers: &HeaderMap) -> Result<Option<(String, String)>, OAuthError> {
    let Some(value) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    else {
        return Ok(None);
    };
    let Some((scheme, encoded)) = value.split_once(' ') else {
        return Ok(None);
    };
    if !scheme.eq_ignore_ascii_case("basic") {
        return Ok(None);
    }
    let bad = || OAuthError::new(401, "invalid_client", "Malformed Basic authentication");
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|_| bad())?;
    let decoded = String::from_utf8(decoded).map_err(|_| bad())?;
    let (id, secret) = decoded.split_once(':').ok_or_else(bad)?;
    let pairs =
        serde_urlencoded_pairs(format!("i={id}&s={secret}").as_bytes()).map_err(|_| bad())?;
    let get = |k: &str| {
        pairs
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(Some((get("i"), get("s"))))
}
