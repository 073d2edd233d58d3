//! `/v2/logout` and `/oidc/logout`: end the browser session and redirect only to an
//! allowed URL.

use crate::Gatehouse;
use crate::browser::Browser;
use crate::error::ServiceError;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::redirect;

/// Why a logout request was refused (shown to the user; never a redirect).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LogoutRefused {
    /// The request itself is wrong (an unknown client, a `returnTo` not allowed).
    #[error("{0}")]
    Refused(String),
    /// Our failure (the database could not be reached): the cause goes to the edge's log and
    /// the user is told to retry, never that the request was wrong.
    #[error("Logout failed; try again.")]
    Failed(crate::Failure),
}

fn refused(why: &str) -> LogoutRefused {
    LogoutRefused::Refused(why.into())
}

impl Gatehouse {
    /// Ends the browser's session and checks `returnTo` against the application's Allowed
    /// Logout URLs (with `client_id`) or the tenant's (without); returns where to redirect.
    /// A refused `returnTo` still logs the browser out: leaving a session open because the
    /// redirect was wrong would surprise the user more than a page saying so.
    ///
    /// With `federated`, a session that came from a SAML identity provider with single
    /// logout also ends there: the redirect goes to the IdP with a logout request, and the
    /// IdP's answer at `/logout` goes on to `returnTo`.
    pub async fn logout(
        &self,
        client_id: Option<&str>,
        return_to: Option<&str>,
        federated: bool,
        browser: &Browser,
    ) -> Result<Option<String>, LogoutRefused> {
        let mut event = LogEvent {
            client_id: client_id.map(String::from),
            ..browser.event()
        };
        let mut upstream = None;
        if let Ok(Some(s)) = self.active_session(browser.session_cookie.as_deref()).await {
            event.user_id = Some(s.user.user_id.clone());
            if federated {
                upstream = self
                    .inner
                    .sessions
                    .federated(self.tenant(), &s.session.cookie_hash)
                    .await
                    .map_err(|e| LogoutRefused::Failed(ServiceError::from(e).into()))?;
            }
        }
        if let Err(e) = self.end_session(browser.session_cookie.as_deref()).await {
            return Err(LogoutRefused::Failed(e.into()));
        }
        let result = self.check_logout(client_id, return_to).await;
        match &result {
            Ok(_) => {
                event.kind = codes::SUCCESS_LOGOUT.into();
                event.description = Some("Logout".into());
            }
            Err(e) => {
                event.kind = codes::FAILED_LOGOUT.into();
                event.description = Some(e.to_string());
            }
        }
        self.record(event).await;
        match (result, upstream) {
            (Ok(target), Some(session)) => {
                match self.saml_logout_request(&session, target.clone()).await {
                    Ok(Some(at_idp)) => Ok(Some(at_idp)),
                    Ok(None) => Ok(target),
                    // The local session has ended; the IdP's is left as it is.
                    Err(e) => {
                        tracing::warn!(error = %e, "federated logout not sent to the identity provider");
                        Ok(target)
                    }
                }
            }
            (result, _) => result,
        }
    }

    /// RP-initiated logout (`/oidc/logout`): the client comes from `client_id` or from the
    /// audience of a valid `id_token_hint`; `state` is appended to the redirect.
    pub async fn oidc_logout(
        &self,
        client_id: Option<&str>,
        id_token_hint: Option<&str>,
        post_logout_redirect_uri: Option<&str>,
        state: Option<&str>,
        browser: &Browser,
    ) -> Result<Option<String>, LogoutRefused> {
        let hinted = match id_token_hint {
            Some(t) => {
                let claims = gatehouse_crypto::jwt::verify_with(
                    t,
                    self.keyring().published(),
                    gatehouse_crypto::keys::ID_TOKEN_ALGORITHMS,
                )
                .map_err(|_| refused("id_token_hint is not an ID token issued here"))?;
                if claims.get("iss").and_then(serde_json::Value::as_str)
                    != Some(self.config().issuer().as_str())
                {
                    return Err(refused("id_token_hint is not an ID token issued here"));
                }
                claims
                    .get("aud")
                    .and_then(serde_json::Value::as_str)
                    .map(String::from)
            }
            None => None,
        };
        let client = match (client_id, hinted.as_deref()) {
            (Some(a), Some(b)) if a != b => {
                return Err(refused("client_id does not match id_token_hint"));
            }
            (Some(a), _) => Some(a),
            (None, b) => b,
        };
        let target = self
            .logout(client, post_logout_redirect_uri, false, browser)
            .await?;
        Ok(target.map(|url| match state {
            Some(st) => {
                let sep = if url.contains('?') { '&' } else { '?' };
                let encoded: String = st
                    .bytes()
                    .map(|b| match b {
                        b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                            (b as char).to_string()
                        }
                        _ => format!("%{b:02X}"),
                    })
                    .collect();
                format!("{url}{sep}state={encoded}")
            }
            None => url,
        }))
    }

    async fn check_logout(
        &self,
        client_id: Option<&str>,
        return_to: Option<&str>,
    ) -> Result<Option<String>, LogoutRefused> {
        let allowed = match client_id {
            Some(id) => match self.stored_client(id).await {
                Ok(c) => c.settings.allowed_logout_urls,
                Err(e @ (ServiceError::Store(_) | ServiceError::Internal(_))) => {
                    return Err(LogoutRefused::Failed(e.into()));
                }
                Err(_) => return Err(refused("Unknown client_id")),
            },
            None => {
                self.tenant_settings()
                    .await
                    .map_err(|e| LogoutRefused::Failed(e.into()))?
                    .allowed_logout_urls
            }
        };
        match return_to {
            None => Ok(None),
            Some(url) if redirect::is_allowed(url, &allowed) => Ok(Some(url.to_string())),
            Some(_) if client_id.is_none() => Err(refused(
                "returnTo is not in the tenant's Allowed Logout URLs",
            )),
            Some(_) => Err(refused(
                "returnTo is not in the application's Allowed Logout URLs",
            )),
        }
    }
}
