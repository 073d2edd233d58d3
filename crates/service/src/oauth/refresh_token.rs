//! The `refresh_token` grant: rotation at every use, and a reused token revokes its whole
//! family (Auth0's rotating refresh tokens with reuse detection). Issuing the first token of
//! a family is minting (`super::mint`).

use super::mint::{IdTokenExtras, Lineage};
use super::{ExchangeEvents, IssuedToken, OAuthError, TokenRequest};
use crate::Gatehouse;
use crate::actions::LoginFacts;
use gatehouse_core::log_event::{LogEvent, codes};

fn invalid_refresh() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Unknown or invalid refresh token.")
}

impl Gatehouse {
    pub(crate) async fn refresh_grant(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        let mut event = LogEvent {
            client_id: req.client_id.clone(),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            ..Default::default()
        };
        let result = self.rotate(&req, &mut event).await;
        self.log_exchange(
            event,
            &result,
            ExchangeEvents {
                success: codes::SUCCESS_REFRESH_EXCHANGE,
                description: "Refresh Token for Access Token",
                failure: codes::FAILED_REFRESH_EXCHANGE,
            },
        )
        .await;
        result
    }

    async fn rotate(
        &self,
        req: &TokenRequest,
        event: &mut LogEvent,
    ) -> Result<IssuedToken, OAuthError> {
        let client = self.client_for_user_grant(req, "refresh_token").await?;
        let value = req.refresh_token.clone().ok_or_else(|| {
            OAuthError::invalid_request("Missing required parameter: refresh_token")
        })?;
        let hash = gatehouse_crypto::sha256_hex(value.as_bytes());
        let store = &self.inner.refresh_tokens;
        let token = store
            .get(self.tenant(), &hash)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(invalid_refresh)?;
        event.user_id = Some(token.user_id.clone());
        // Tokens are bound to the client they were issued to.
        if !gatehouse_crypto::ct_eq(token.client_id.as_bytes(), client.client_id.as_bytes()) {
            return Err(invalid_refresh());
        }
        let now = self.now();
        if token.revoked_at.is_some() || token.expires_at <= now {
            return Err(invalid_refresh());
        }
        let policy = &client.settings.refresh_token;
        let last_use = token.used_at.unwrap_or(token.created_at);
        if policy.idle_ms().is_some_and(|idle| last_use + idle <= now) {
            return Err(invalid_refresh());
        }
        let rotating = policy.rotating();
        // A use after `first_use` is reuse unless that first use was within the leeway.
        let reuse_after = |first_use: Option<i64>| {
            !(policy.leeway > 0 && first_use.is_some_and(|u| now - u <= policy.leeway * 1000))
        };
        // A token used before is reuse, unless that use was within the leeway (two tabs, a
        // retry). A token read as unused is marked used; when another request marked it
        // after this one read it, the first use is read again: requests racing with the same
        // token within the leeway are not reuse. A token read as used is not written again
        // (its first use stays the one the leeway counts from).
        let reused = rotating
            && match token.used_at {
                Some(first_use) => reuse_after(Some(first_use)),
                None if store
                    .mark_used(self.tenant(), &hash, now)
                    .await
                    .map_err(OAuthError::failed)? =>
                {
                    false
                }
                None => reuse_after(
                    store
                        .get(self.tenant(), &hash)
                        .await
                        .map_err(OAuthError::failed)?
                        .filter(|t| t.revoked_at.is_none())
                        .and_then(|t| t.used_at),
                ),
            };
        if reused {
            // A rotated token came back: someone holds a copy. End the whole family.
            store
                .revoke_family(self.tenant(), &token.family_id, now)
                .await
                .map_err(OAuthError::failed)?;
            event
                .details
                .insert("reuse_detected".into(), serde_json::json!(true));
            return Err(invalid_refresh());
        }
        let user = self
            .inner
            .users
            .get(self.tenant(), &token.user_id)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(invalid_refresh)?
            .user;
        if user.blocked == Some(true) {
            return Err(OAuthError::new(401, "unauthorized", "user is blocked"));
        }
        // A requested scope may narrow, never widen, what the token carried.
        let scope = match req
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            Some(narrow) => {
                let original: Vec<&str> = token.scope.split_whitespace().collect();
                if let Some(extra) = narrow.split_whitespace().find(|s| !original.contains(s)) {
                    return Err(OAuthError::new(
                        403,
                        "invalid_scope",
                        format!("The refresh token does not carry the scope {extra}"),
                    ));
                }
                narrow.to_string()
            }
            None => token.scope.clone(),
        };
        let api = match &token.audience {
            Some(a) => self.cached_api(a).await.map_err(OAuthError::failed)?,
            None => None,
        };
        if token.audience.is_some() && api.is_none() {
            return Err(invalid_refresh());
        }
        // Post-login actions run on every refresh too (`oauth2-refresh-token`), as in Auth0:
        // they may deny it, and their claims are decided again.
        let actions = self
            .run_post_login(&LoginFacts {
                user: &user,
                client: &client,
                protocol: "oauth2-refresh-token",
                scope: Some(&scope),
                audience: token.audience.as_deref(),
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
        let mut issued = self
            .user_tokens(
                &client,
                &user,
                api.as_deref(),
                Some(&scope),
                &IdTokenExtras {
                    actions,
                    ..Default::default()
                },
            )
            .await?;
        if !rotating {
            // A non-rotating token stays valid; its last use drives the idle timeout.
            store
                .touch(self.tenant(), &hash, now)
                .await
                .map_err(OAuthError::failed)?;
            return Ok(issued);
        }
        // Rotation: the next token joins the same family, keeping the original scope and
        // the family's absolute expiry.
        self.maybe_refresh_token(
            &client,
            &user,
            api.as_deref(),
            Some(&token.scope),
            Some(Lineage {
                family_id: &token.family_id,
                expires_at: Some(token.expires_at),
            }),
            &mut issued,
        )
        .await?;
        Ok(issued)
    }
}
