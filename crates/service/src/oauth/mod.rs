//! `POST /oauth/token` and the tokens it issues, in one place: the grant dispatch here, one
//! file per grant, token minting (`mint`), client authentication (`client_auth`) and
//! bearer-token verification (`bearer`). The browser flow (`crate::browser`) uses this module
//! to answer its callback; nothing here knows about pages.

pub mod authorization_code;
pub mod bearer;
mod client_auth;
pub mod client_credentials;
pub mod mint;
pub mod password;
pub mod passwordless_otp;
pub mod refresh_token;

pub use bearer::{AccessClaims, TokenRejection};
pub use mint::IdTokenExtras;
pub use password::PASSWORD_REALM_GRANT;
pub use passwordless_otp::PASSWORDLESS_OTP_GRANT;

use crate::Gatehouse;
use gatehouse_core::log_event::LogEvent;
use serde_json::{Value, json};

/// The administrator behind an impersonated login (`crate::impersonation`): named in that
/// login's tokens as `act` (RFC 8693) and, in the ID token, as Auth0's `impersonator`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonator {
    pub user_id: String,
    pub email: Option<String>,
}

/// An OAuth error as `/oauth/token` answers it: `{error, error_description}`. A failure of
/// ours keeps its cause in `failure`, which the HTTP edge logs with the request id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{error}: {description}")]
pub struct OAuthError {
    pub status: u16,
    pub error: &'static str,
    pub description: String,
    pub failure: Option<crate::Failure>,
}

impl OAuthError {
    pub fn new(status: u16, error: &'static str, description: impl Into<String>) -> Self {
        Self {
            status,
            error,
            description: description.into(),
            failure: None,
        }
    }
    pub fn invalid_request(description: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", description)
    }
    /// Our failure: a 503 when the database could not be reached, else a 500; the cause
    /// goes with it to the edge.
    pub fn failed(failure: impl Into<crate::Failure>) -> Self {
        let failure = failure.into();
        let mut e = if failure.is_unavailable() {
            Self::new(
                503,
                "temporarily_unavailable",
                "The database is unavailable, retry later",
            )
        } else {
            Self::new(500, "server_error", "Internal error")
        };
        e.failure = Some(failure);
        e
    }
    /// A failure of randomness, signing or serialisation.
    pub(crate) fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self::failed(crate::Failure::internal(cause))
    }
}

/// A use case's failure inside a grant: storage failures answer 503 and anything else 500,
/// the cause kept for the edge's log.
impl From<crate::ServiceError> for OAuthError {
    fn from(e: crate::ServiceError) -> Self {
        Self::failed(e)
    }
}

/// A storage failure: the client is told to retry, never that its credentials or code
/// were wrong.
impl From<gatehouse_store::StoreError> for OAuthError {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Self::failed(e)
    }
}

/// A flow stopped by its actions: a denial answers with the error the action chose, a
/// failing action with `access_denied` and a description naming it (never a 500: the cause
/// is the customer's code), a full sandbox with 429.
impl From<crate::actions::ActionFailure> for OAuthError {
    fn from(f: crate::actions::ActionFailure) -> Self {
        use crate::actions::ActionFailure;
        match f {
            // A rule's `UnauthorizedError`.
            ActionFailure::Denied(d) if d.code == "unauthorized" => {
                OAuthError::new(401, "unauthorized", d.reason)
            }
            ActionFailure::Denied(d) => {
                let error = gatehouse_core::actions::EXCHANGE_DENY_CODES
                    .into_iter()
                    .find(|c| *c == d.code)
                    .unwrap_or("access_denied");
                OAuthError::new(403, error, d.reason)
            }
            ActionFailure::Failed {
                description,
                busy: true,
            } => OAuthError::new(429, "too_many_requests", description),
            ActionFailure::Failed { description, .. } => {
                OAuthError::new(403, "access_denied", description)
            }
            ActionFailure::Service(e) => OAuthError::failed(e),
        }
    }
}

/// The fields of a token request, from a JSON or form body and Basic authentication.
#[derive(Debug, Default, Clone)]
pub struct TokenRequest {
    pub grant_type: Option<String>,
    pub client_id: Option<String>,
    pub client_secret: Option<String>,
    pub audience: Option<String>,
    pub scope: Option<String>,
    pub username: Option<String>,
    pub password: Option<String>,
    pub refresh_token: Option<String>,
    /// The connection of a `password-realm` grant.
    pub realm: Option<String>,
    /// The `authorization_code` grant's code, callback and PKCE verifier.
    pub code: Option<String>,
    pub redirect_uri: Option<String>,
    pub code_verifier: Option<String>,
    /// The passwordless one-time code.
    pub otp: Option<String>,
    /// The caller's address and user agent, for the tenant log.
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

#[derive(Debug, Clone)]
pub struct IssuedToken {
    pub access_token: String,
    pub id_token: Option<String>,
    pub refresh_token: Option<String>,
    pub scope: String,
    pub expires_in: i64,
}

impl IssuedToken {
    pub fn to_json(&self) -> Value {
        let mut v = json!({
            "access_token": self.access_token,
            "scope": self.scope,
            "expires_in": self.expires_in,
            "token_type": "Bearer",
        });
        if let Some(id) = &self.id_token {
            v["id_token"] = json!(id);
        }
        if let Some(r) = &self.refresh_token {
            v["refresh_token"] = json!(r);
        }
        v
    }
}

/// Why a bearer token was refused.
/// The log events of one kind of token exchange: success code and description, failure code.
pub(crate) struct ExchangeEvents {
    pub success: &'static str,
    pub description: &'static str,
    pub failure: &'static str,
}

impl Gatehouse {
    /// Records how a token exchange ended; failures carry the error's description.
    pub(crate) async fn log_exchange(
        &self,
        mut event: LogEvent,
        result: &Result<IssuedToken, OAuthError>,
        kinds: ExchangeEvents,
    ) {
        match result {
            Ok(_) => {
                event.kind = kinds.success.into();
                event.description = Some(kinds.description.into());
            }
            Err(e) => {
                event.kind = kinds.failure.into();
                event.description = Some(e.description.clone());
            }
        }
        self.record(event).await;
    }

    /// `POST /oauth/token`: each grant type to its own file, reading applications, APIs,
    /// grants, connections and settings from the configuration cache (`config_cache`).
    pub async fn issue_token(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        self.with_config_view(self.dispatch_grant(req))
            .await
            .map_err(OAuthError::failed)?
    }

    async fn dispatch_grant(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        match req.grant_type.as_deref() {
            Some("client_credentials") => self.client_credentials_grant(req).await,
            Some("password") | Some(PASSWORD_REALM_GRANT) => self.password_grant(req).await,
            Some("refresh_token") => self.refresh_grant(req).await,
            Some("authorization_code") => self.code_grant(req).await,
            Some(PASSWORDLESS_OTP_GRANT) => self.passwordless_grant(req).await,
            Some(other) => Err(OAuthError::new(
                400,
                "unsupported_grant_type",
                format!("Unsupported grant type: {other}"),
            )),
            None => Err(OAuthError::invalid_request(
                "Missing required parameter: grant_type",
            )),
        }
    }
}
