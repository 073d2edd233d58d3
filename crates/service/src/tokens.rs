//! Access tokens: the client-credentials grant that Management API callers use, and the
//! checks every Management API request makes on its bearer token.

use crate::Gatehouse;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_crypto::jwt;
use serde_json::{Map, Value, json};

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
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("Invalid token")]
    Invalid,
    #[error("Expired token")]
    Expired,
    #[error("Bad audience")]
    Audience,
}

/// A verified Management API access token.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub subject: String,
    /// The client the token was issued to (`azp`); rate limits are kept per client.
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl AccessClaims {
    pub fn has_any(&self, wanted: &[&str]) -> bool {
        wanted.iter().any(|w| self.scopes.iter().any(|s| s == w))
    }
}

/// The log events of one kind of token exchange: success code and description, failure code.
pub(crate) struct ExchangeEvents {
    pub success: &'static str,
    pub description: &'static str,
    pub failure: &'static str,
}

const CLIENT_CREDENTIALS_EVENTS: ExchangeEvents = ExchangeEvents {
    success: codes::SUCCESS_CLIENT_CREDENTIALS,
    description: "Client Credentials for Access Token",
    failure: codes::FAILED_CLIENT_CREDENTIALS,
};

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

    pub async fn issue_token(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        match req.grant_type.as_deref() {
            Some("client_credentials") => {
                let mut event = LogEvent {
                    client_id: req.client_id.clone(),
                    ip: req.ip.clone(),
                    user_agent: req.user_agent.clone(),
                    ..Default::default()
                };
                if let Some(a) = &req.audience {
                    event.details.insert("audience".into(), json!(a));
                }
                let result = self.client_credentials(req).await;
                if let Ok(t) = &result {
                    event.details.insert("scope".into(), json!(t.scope));
                }
                self.log_exchange(event, &result, CLIENT_CREDENTIALS_EVENTS)
                    .await;
                result
            }
            Some("password") | Some(crate::login::PASSWORD_REALM_GRANT) => {
                self.password_grant(req).await
            }
            Some("refresh_token") => self.refresh_grant(req).await,
            Some("authorization_code") => self.code_grant(req).await,
            Some(crate::passwordless::PASSWORDLESS_OTP_GRANT) => self.passwordless_grant(req).await,
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

    async fn client_credentials(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        let client_id = req
            .client_id
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
        let secret = req.client_secret.unwrap_or_default();
        let client = self.authenticate_client(&client_id, &secret).await?;
        if !client.settings.allows_grant("client_credentials") {
            return Err(OAuthError::new(
                403,
                "unauthorized_client",
                "Grant type 'client_credentials' not allowed for the client.",
            ));
        }
        let audience = req.audience.ok_or_else(|| {
            OAuthError::new(
                403,
                "access_denied",
                "No audience parameter was provided, and no default audience has been configured",
            )
        })?;
        let api = self
            .inner
            .resource_servers
            .get_by_identifier(self.tenant(), &audience)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(|| {
                OAuthError::new(
                    403,
                    "access_denied",
                    format!("Service not found: {audience}"),
                )
            })?;
        let grant = self
            .inner
            .clients
            .grant(self.tenant(), &client_id, &audience)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(|| {
                OAuthError::new(
                    403,
                    "access_denied",
                    format!("Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API."),
                )
            })?;
        let scopes: Vec<&str> = match req
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // A requested scope narrows the grant; scopes outside it are dropped, as in Auth0.
            Some(requested) => requested
                .split_whitespace()
                .filter(|s| grant.scope.iter().any(|g| g == s))
                .collect(),
            None => grant.scope.iter().map(String::as_str).collect(),
        };
        let scope = scopes.join(" ");
        let now = self.now() / 1000;
        let lifetime = api.settings.token_lifetime;
        let claims = json!({
            "iss": self.config().issuer(),
            "sub": format!("{client_id}@clients"),
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "scope": scope,
            "gty": "client-credentials",
            "azp": client_id,
        });
        let access_token =
            jwt::sign(self.keyring().current(), &claims).map_err(OAuthError::internal)?;
        Ok(IssuedToken {
            access_token,
            id_token: None,
            refresh_token: None,
            scope,
            expires_in: lifetime,
        })
    }

    /// Checks a Management API bearer token: signature, issuer, audience and expiry.
    pub fn verify_management_token(&self, token: &str) -> Result<AccessClaims, TokenRejection> {
        let claims =
            jwt::verify(token, self.keyring().published()).map_err(|_| TokenRejection::Invalid)?;
        let str_claim =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(String::from);
        if str_claim(&claims, "iss").as_deref() != Some(self.config().issuer().as_str()) {
            return Err(TokenRejection::Invalid);
        }
        let audience = self.config().management_audience();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(TokenRejection::Audience);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenRejection::Invalid)?;
        if exp <= self.now() / 1000 {
            return Err(TokenRejection::Expired);
        }
        let subject = str_claim(&claims, "sub").ok_or(TokenRejection::Invalid)?;
        let client_id = str_claim(&claims, "azp").unwrap_or_else(|| subject.clone());
        let scopes = str_claim(&claims, "scope")
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        Ok(AccessClaims {
            subject,
            client_id,
            scopes,
        })
    }
}
