//! The consent page: third-party applications (and `prompt=consent`) ask the user before
//! getting scopes not granted before; a grant is remembered per user, client and API.

use super::{Browser, ConsentScreen, Outcome, Step, expired, expired_or_failed, problem_answer};
use crate::Gatehouse;
use crate::error::ServiceError;
use gatehouse_core::authorize::AuthorizeProblem;

/// Scopes that are about the user's profile rather than an API.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

impl Gatehouse {
    /// `GET /u/consent`: the scopes the application asks for.
    pub async fn consent_screen(&self, transaction: &str, browser: &Browser) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) => s,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        let client_name = match self.stored_client(&tx.req.client_id).await {
            Ok(c) => c.settings.name,
            Err(e) => return expired_or_failed(e).into(),
        };
        let branding = match self.branding().await {
            Ok(b) => b,
            Err(e) => return Step::from(e).into(),
        };
        Step::Consent(ConsentScreen {
            transaction: transaction.to_string(),
            client_name,
            user_email: session.user.email.clone(),
            scopes: tx.req.scopes().map(String::from).collect(),
            audience: tx.req.audience.clone(),
            branding,
        })
        .into()
    }

    /// `POST /u/consent`: remembers the grant and goes on, or tells the application no.
    pub async fn submit_consent(
        &self,
        transaction: &str,
        accepted: bool,
        browser: &Browser,
    ) -> Outcome {
        let Some(mut tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) => s,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        if !accepted {
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new("access_denied", "User did not authorize the request"),
            )
            .into();
        }
        let audience = tx.req.audience.clone().unwrap_or_default();
        let previous = match self
            .inner
            .user_grants
            .scope(
                self.tenant(),
                &session.user.user_id,
                &tx.req.client_id,
                &audience,
            )
            .await
        {
            Ok(p) => p.unwrap_or_default(),
            Err(e) => return Step::from(ServiceError::from(e)).into(),
        };
        let mut scopes: Vec<&str> = previous.split_whitespace().collect();
        for s in tx.req.scopes() {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        if let Err(e) = self
            .inner
            .user_grants
            .put(
                self.tenant(),
                &session.user.user_id,
                &tx.req.client_id,
                &audience,
                &scopes.join(" "),
                self.now(),
            )
            .await
        {
            return Step::from(ServiceError::from(e)).into();
        }
        tx.consented = true;
        self.proceed(tx, Some(session), browser).await.into()
    }
}

/// Scopes to show on the consent page with words a user understands.
pub fn describe_scope(scope: &str) -> String {
    match scope {
        "openid" => "Know who you are".into(),
        "profile" => "Read your name, nickname and picture".into(),
        "email" => "Read your email address".into(),
        "offline_access" => "Stay signed in when you are not using it".into(),
        other if OIDC_SCOPES.contains(&other) => other.into(),
        other => format!("Use the permission \u{201c}{other}\u{201d}"),
    }
}
