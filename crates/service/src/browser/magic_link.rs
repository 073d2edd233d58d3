//! Magic links: a passwordless code sent as a link (`crate::passwordless`) that, opened in
//! the browser, logs the user in and continues the `/authorize` request it was made for.

use super::login::Authenticated;
use super::{Browser, Outcome, Step};
use crate::Gatehouse;
use crate::oauth::OAuthError;
use gatehouse_core::log_event::{LogEvent, codes};
use std::collections::HashMap;

/// What a magic link carries, sealed: the code and the `/authorize` request to continue.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub(crate) struct MagicLink {
    pub connection: String,
    pub email: String,
    pub code: String,
    pub params: HashMap<String, String>,
}

impl crate::sealed::Sealable for MagicLink {
    const PURPOSE: &'static str = "passwordless-link";
    /// The link's code expires (and is used up) in the database.
    fn expires_at(&self) -> Option<i64> {
        None
    }
}

impl Gatehouse {
    /// `GET /passwordless/verify_redirect?token=`: the magic link. Uses the code, logs the
    /// user in with a fresh browser session and continues the `/authorize` request the link
    /// was made for.
    pub async fn verify_magic_link(&self, token: &str, browser: &Browser) -> Outcome {
        let refused = |m: &str| {
            Outcome::from(Step::ErrorPage {
                status: 400,
                message: m.to_string(),
            })
        };
        let Ok(link) = self.unseal::<MagicLink>(token) else {
            return refused("This link is not valid.");
        };
        let mut event = LogEvent {
            client_id: link.params.get("client_id").cloned(),
            connection: Some(link.connection.clone()),
            user_name: Some(link.email.clone()),
            ..browser.event()
        };
        let user = match self.email_connection(&link.connection).await {
            Ok(conn) => self.redeem_code(&conn, &link.email, &link.code).await,
            Err(e) => Err(e),
        };
        let user = match user {
            Ok(u) => u,
            Err(OAuthError {
                failure: Some(f), ..
            }) => return Step::Failed(f).into(),
            Err(e) => {
                event.kind = codes::FAILED_LOGIN.into();
                event.description = Some(e.description.clone());
                self.record(event).await;
                return refused("This link has expired or was already used. Ask for a new one.");
            }
        };
        let proven =
            Authenticated::new(user.user_id, event, "Successful passwordless login (link)");
        // A failure of ours while starting the session is a failure page (503 when the
        // database is down), not "try again" on a link that has just been used up.
        let cookie = match self.start_login_session(proven, browser).await {
            Ok(started) => started.cookie,
            Err(step) => return step.into(),
        };
        let with_session = Browser {
            session_cookie: Some(cookie.value.clone()),
            ..browser.clone()
        };
        let mut outcome = self.authorize(&link.params, &with_session).await;
        outcome.set_session = Some(cookie);
        outcome
    }
}
