//! The `authorization_code` grant: the code the browser flow (`crate::browser`) handed to
//! the callback, burnt at its first exchange, bound to its client, callback and PKCE
//! verifier. A code issued for an impersonation (`crate::impersonation`) names its
//! administrator, and its tokens say so.

use super::mint::{IdTokenExtras, Lineage};
use super::{ExchangeEvents, Impersonator, IssuedToken, OAuthError, TokenRequest};
use crate::Gatehouse;
use gatehouse_core::log_event::{LogEvent, codes};

impl Gatehouse {
    /// The `authorization_code` grant at `/oauth/token`.
    pub(crate) async fn code_grant(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        let mut event = LogEvent {
            client_id: req.client_id.clone(),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            ..Default::default()
        };
        let result = self.exchange_code(&req, &mut event).await;
        self.log_exchange(
            event,
            &result,
            ExchangeEvents {
                success: codes::SUCCESS_CODE_EXCHANGE,
                description: "Authorization Code for Access Token",
                failure: codes::FAILED_CODE_EXCHANGE,
            },
        )
        .await;
        result
    }

    async fn exchange_code(
        &self,
        req: &TokenRequest,
        event: &mut LogEvent,
    ) -> Result<IssuedToken, OAuthError> {
        let invalid_code = || OAuthError::new(403, "invalid_grant", "Invalid authorization code");
        let client = self
            .client_for_user_grant(req, "authorization_code")
            .await?;
        let code = req
            .code
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: code"))?;
        let redirect_uri = req.redirect_uri.as_deref().ok_or_else(|| {
            OAuthError::invalid_request("Missing required parameter: redirect_uri")
        })?;
        let hash = gatehouse_crypto::sha256_hex(code.as_bytes());
        let store = &self.inner.codes;
        let record = store
            .get(self.tenant(), &hash)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(invalid_code)?;
        event.user_id = Some(record.user_id.clone());
        if !gatehouse_crypto::ct_eq(record.client_id.as_bytes(), client.client_id.as_bytes()) {
            return Err(invalid_code());
        }
        let now = self.now();
        // A code is burnt by its first exchange attempt, whatever the outcome, so a stolen
        // code cannot be tried against many verifiers.
        if !store
            .mark_used(self.tenant(), &hash, now)
            .await
            .map_err(OAuthError::failed)?
        {
            // Replayed: revoke what its first exchange issued (RFC 6749 §4.1.2).
            self.inner
                .refresh_tokens
                .revoke_family(self.tenant(), &record.family_id, now)
                .await
                .map_err(OAuthError::failed)?;
            event
                .details
                .insert("reuse_detected".into(), serde_json::json!(true));
            return Err(invalid_code());
        }
        if record.expires_at <= now {
            return Err(invalid_code());
        }
        if record.redirect_uri != redirect_uri {
            return Err(OAuthError::new(
                403,
                "invalid_grant",
                "redirect_uri does not match the one of the authorization request",
            ));
        }
        match (&record.code_challenge, req.code_verifier.as_deref()) {
            (None, None) => {}
            (None, Some(_)) => {
                return Err(OAuthError::new(
                    403,
                    "invalid_grant",
                    "code_verifier given but the authorization request had no code_challenge",
                ));
            }
            (Some(_), None) => {
                return Err(OAuthError::new(
                    403,
                    "invalid_grant",
                    "Missing required parameter: code_verifier",
                ));
            }
            (Some(challenge), Some(verifier)) => {
                let computed = match record.code_challenge_method.as_deref() {
                    Some("S256") => gatehouse_crypto::pkce_s256(verifier),
                    _ => verifier.to_string(),
                };
                if !gatehouse_core::authorize::valid_pkce_string(verifier)
                    || !gatehouse_crypto::ct_eq(computed.as_bytes(), challenge.as_bytes())
                {
                    return Err(OAuthError::new(
                        403,
                        "invalid_grant",
                        "Failed to verify code verifier",
                    ));
                }
            }
        }
        let user = self
            .inner
            .users
            .get(self.tenant(), &record.user_id)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(invalid_code)?
            .user;
        if user.blocked == Some(true) {
            return Err(OAuthError::new(403, "invalid_grant", "user is blocked"));
        }
        let api = match &record.audience {
            Some(a) => Some(self.api_for_users(a).await?),
            None => None,
        };
        let impersonator = record.impersonator_id.clone().map(|user_id| Impersonator {
            user_id,
            email: record.impersonator_email.clone(),
        });
        // An impersonation opens no session (its code carries none), so there is no `sid`
        // to log out of; and it ends with this exchange: no refresh token prolongs it.
        let scope = match &impersonator {
            Some(_) => without_offline_access(&record.scope),
            None => record.scope.clone(),
        };
        // What the login's actions decided travels sealed on the code: they ran before it
        // was issued and do not run again here.
        let (claims, actions) = self.open_login_claims(record.login_claims.as_deref())?;
        actions.note_in(&mut event.details);
        let extra = IdTokenExtras {
            nonce: record.nonce.clone(),
            auth_time: Some(record.auth_time / 1000),
            sid: Some(record.session_id.clone()).filter(|s| !s.is_empty()),
            at_hash: false,
            claims,
            impersonator,
            actions,
        };
        let lineage = Lineage {
            family_id: &record.family_id,
            expires_at: None,
        };
        self.tokens_for_user(
            &client,
            &user,
            api.as_deref(),
            Some(&scope),
            &extra,
            Some(lineage),
        )
        .await
    }
}

/// A scope without `offline_access`.
fn without_offline_access(scope: &str) -> String {
    scope
        .split_whitespace()
        .filter(|s| *s != "offline_access")
        .collect::<Vec<_>>()
        .join(" ")
}
