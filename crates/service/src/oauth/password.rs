//! The `password` grant and Auth0's `password-realm` grant: a username and password checked
//! on a connection (`crate::credentials`), then tokens.

use super::mint::IdTokenExtras;
use super::{IssuedToken, OAuthError, TokenRequest};
use crate::Gatehouse;
use crate::actions::LoginFacts;
use crate::connections::{CONNECTION_NOT_ENABLED, connection_serves};
use crate::credentials::LoginRefusal;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};

pub const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// Failed logins log `fp` (wrong password) or `fu` (unknown user) and answer the same.
pub(super) fn wrong_credentials() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Wrong email or password.")
}

/// Auth0's answer once a user is blocked from an IP.
fn too_many_attempts() -> OAuthError {
    OAuthError::new(
        429,
        "too_many_attempts",
        "Your account has been blocked after multiple consecutive login attempts.",
    )
}

impl From<LoginRefusal> for OAuthError {
    fn from(r: LoginRefusal) -> Self {
        match r {
            LoginRefusal::WrongCredentials => wrong_credentials(),
            LoginRefusal::Blocked => OAuthError::new(401, "unauthorized", "user is blocked"),
            LoginRefusal::TooManyAttempts => too_many_attempts(),
            LoginRefusal::PasswordLeaked => OAuthError::new(403, "password_leaked", r.to_string()),
            LoginRefusal::Busy => OAuthError::new(429, "too_many_requests", r.to_string()),
            LoginRefusal::Failed(f) => OAuthError::failed(f),
            LoginRefusal::Script(m) => OAuthError::new(403, "invalid_grant", m),
            LoginRefusal::DirectoryDown(_) => {
                OAuthError::new(503, "temporarily_unavailable", r.to_string())
            }
        }
    }
}

impl Gatehouse {
    pub(crate) async fn password_grant(
        &self,
        req: TokenRequest,
    ) -> Result<IssuedToken, OAuthError> {
        let grant = req.grant_type.clone().unwrap_or_default();
        let client = self.client_for_user_grant(&req, &grant).await?;
        let (Some(username), Some(password)) = (req.username.clone(), req.password.clone()) else {
            return Err(OAuthError::invalid_request(
                "Missing required parameters: username and password",
            ));
        };
        let realm = match (grant.as_str(), &req.realm) {
            (PASSWORD_REALM_GRANT, None) => {
                return Err(OAuthError::invalid_request(
                    "Missing required parameter: realm",
                ));
            }
            (_, Some(r)) => r.clone(),
            (_, None) => DEFAULT_DATABASE_CONNECTION.to_string(),
        };
        let connection = self.cached_connection(&realm).await?.ok_or_else(|| {
            OAuthError::new(400, "invalid_request", format!("Unknown realm: {realm}"))
        })?;
        if !connection_serves(&connection, &client.client_id) {
            return Err(OAuthError::invalid_request(CONNECTION_NOT_ENABLED));
        }
        // Refuse a bad audience before the password is checked, so it never counts as a login.
        let api = match req.audience.as_deref() {
            Some(a) => Some(self.api_for_users(a).await?),
            None => None,
        };
        let mut event = LogEvent {
            client_id: Some(client.client_id.clone()),
            connection: Some(realm.clone()),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            user_name: Some(username.clone()),
            ..Default::default()
        };
        let found = match self
            .verify_password(&connection, &username, password, &mut event)
            .await
        {
            Ok(user) => user,
            Err(refusal) => {
                event.kind = codes::FAILED_PASSWORD_EXCHANGE.into();
                event.description = Some(refusal.to_string());
                self.record(event).await;
                return Err(refusal.into());
            }
        };
        let user = self.record_login(&found.user_id, req.ip.as_deref()).await?;
        let actions = self
            .run_post_login(&LoginFacts {
                user: &user,
                client: &client,
                protocol: "oauth2-password",
                scope: req.scope.as_deref(),
                audience: req.audience.as_deref(),
                ip: req.ip.as_deref(),
                user_agent: req.user_agent.as_deref(),
                session_id: None,
                redirect_uri: None,
                state: None,
                response_type: None,
                can_redirect: false,
                continue_state: None,
                continue_request: None,
            })
            .await?;
        let user = self.user_after_actions(user, &actions).await?;
        actions.note_in(&mut event.details);
        let extra = IdTokenExtras {
            auth_time: Some(self.now() / 1000),
            actions,
            ..Default::default()
        };
        let issued = self
            .tokens_for_user(
                &client,
                &user,
                api.as_deref(),
                req.scope.as_deref(),
                &extra,
                None,
            )
            .await?;
        event.kind = codes::SUCCESS_PASSWORD_EXCHANGE.into();
        event.description = Some("Password for Access Token".into());
        self.record(event).await;
        Ok(issued)
    }
}
