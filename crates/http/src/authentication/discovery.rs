//! OpenID Provider metadata and the JWKS.

use crate::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};

pub async fn openid_configuration(State(s): State<AppState>) -> Json<Value> {
    let base = &s.gatehouse.config().public_url;
    Json(json!({
        "issuer": s.gatehouse.config().issuer(),
        "authorization_endpoint": format!("{base}/authorize"),
        "token_endpoint": format!("{base}/oauth/token"),
        "userinfo_endpoint": format!("{base}/userinfo"),
        "jwks_uri": format!("{base}/.well-known/jwks.json"),
        "end_session_endpoint": format!("{base}/oidc/logout"),
        "response_types_supported": ["code", "token", "id_token", "token id_token"],
        "response_modes_supported": ["query", "fragment", "form_post"],
        "code_challenge_methods_supported": ["S256", "plain"],
        "subject_types_supported": ["public"],
        "id_token_signing_alg_values_supported": gatehouse_crypto::keys::ID_TOKEN_ALGORITHMS
            .iter()
            .map(|a| a.name())
            .collect::<Vec<_>>(),
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post", "none"],
        "grant_types_supported": ["authorization_code", "implicit", "client_credentials", "password", "http://auth0.com/oauth/grant-type/password-realm", "http://auth0.com/oauth/grant-type/passwordless/otp", "refresh_token"],
        "scopes_supported": ["openid", "profile", "email", "offline_access"],
        "request_parameter_supported": false,
        "claims_supported": ["aud", "sub", "iss", "iat", "exp", "nonce", "auth_time", "sid", "at_hash", "name", "given_name", "family_name", "nickname", "picture", "email", "email_verified", "updated_at"],
    }))
}

pub async fn jwks(State(s): State<AppState>) -> crate::error::ApiResult<Json<Value>> {
    Ok(Json(s.gatehouse.published_jwks().await?))
}
