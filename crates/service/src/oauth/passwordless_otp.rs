//! Auth0's passwordless OTP grant: an emailed code (`crate::passwordless`) exchanged for
//! tokens; the user is created when a code is first redeemed.

use super::mint::IdTokenExtras;
use super::{IssuedToken, OAuthError, TokenRequest};
use crate::Gatehouse;
use crate::actions::LoginFacts;
use crate::connections::{CONNECTION_NOT_ENABLED, connection_serves};
use gatehouse_core::log_event::{LogEvent, codes};

pub const PASSWORDLESS_OTP_GRANT: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";

impl Gatehouse {
    /// The passwordless OTP grant at `/oauth/token`.
    pub(crate) async fn passwordless_grant(
        &self,
        req: TokenRequest,
    ) -> Result<IssuedToken, OAuthError> {
        let mut event = LogEvent {
            client_id: req.client_id.clone(),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            user_name: req.username.clone(),
            connection: req.realm.clone(),
            ..Default::default()
        };
        let result = self.exchange_otp(&req, &mut event).await;
        match &result {
            Ok(_) => {
                event.kind = codes::SUCCESS_LOGIN.into();
                event.description = Some("Successful passwordless login".into());
            }
            Err(e) => {
                event.kind = codes::FAILED_LOGIN.into();
                event.description = Some(e.description.clone());
            }
        }
        self.record(event).await;
        result
    }

    async fn exchange_otp(
        &self,
        req: &TokenRequest,
        event: &mut LogEvent,
    ) -> Result<IssuedToken, OAuthError> {
        let client = self
            .client_for_user_grant(req, PASSWORDLESS_OTP_GRANT)
            .await?;
        let realm = req
            .realm
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: realm"))?;
        let (Some(email), Some(otp)) = (req.username.as_deref(), req.otp.as_deref()) else {
            return Err(OAuthError::invalid_request(
                "Missing required parameters: username and otp",
            ));
        };
        let conn = self.email_connection(realm).await?;
        if !connection_serves(&conn, &client.client_id) {
            return Err(OAuthError::invalid_request(CONNECTION_NOT_ENABLED));
        }
        let user = self.redeem_code(&conn, &email.to_lowercase(), otp).await?;
        event.user_id = Some(user.user_id.clone());
        let user = self.record_login(&user.user_id, req.ip.as_deref()).await?;
        let api = match req.audience.as_deref() {
            Some(a) => Some(self.api_for_users(a).await?),
            None => None,
        };
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
        self.tokens_for_user(
            &client,
            &user,
            api.as_deref(),
            req.scope.as_deref(),
            &extra,
            None,
        )
        .await
    }
}
