//! The terms step of a login (tenant setting `consent`): a user whose recorded consent is
//! missing, withdrawn or for another `terms_version` is asked to accept the current terms
//! before the application gets its answer, like the consent page. Accepting records it in
//! `user_metadata.consent`; declining ends the login with `access_denied` at the callback;
//! `prompt=none` gets `interaction_required` (what Auth0 answers when a redirect rule, its
//! way of re-asking, would need the user).

use super::sessions::ActiveSession;
use super::{Branding, Browser, Outcome, Step, expired, expired_or_failed, problem_answer};
use crate::Gatehouse;
use crate::error::ServiceError;
use gatehouse_core::authorize::AuthorizeProblem;
use gatehouse_core::gdpr::{ConsentSettings, ConsentState, must_accept};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;

/// The terms page.
#[derive(Debug, Clone)]
pub struct TermsScreen {
    pub transaction: String,
    pub client_name: String,
    pub user_email: Option<String>,
    pub terms_url: String,
    pub terms_version: String,
    /// They accepted an earlier version (the page says the terms changed).
    pub changed: bool,
    /// They had withdrawn their consent.
    pub withdrawn: bool,
    pub branding: Branding,
    pub error: Option<String>,
}

/// What the application is told when the user declines.
pub const TERMS_DECLINED: &str = "The user did not accept the terms";

/// Gatehouse's own applications (the dashboard, the account page) ask for no terms: a user
/// who withdrew their consent can still reach their account to delete it.
fn exempt(client_id: &str) -> bool {
    client_id == crate::clients::DASHBOARD_CLIENT_ID
        || client_id == crate::clients::ACCOUNT_CLIENT_ID
}

impl Gatehouse {
    /// The terms this user must accept before logging in to `client_id`, if any.
    pub(super) async fn terms_to_accept(
        &self,
        client_id: &str,
        user: &User,
    ) -> Result<Option<ConsentSettings>, ServiceError> {
        if exempt(client_id) {
            return Ok(None);
        }
        Ok(self
            .tenant_settings()
            .await?
            .consent
            .filter(|terms| must_accept(&user.user_metadata, terms)))
    }

    /// `GET /u/terms`.
    pub async fn terms_screen(&self, transaction: &str, browser: &Browser) -> Outcome {
        self.terms_page(transaction, browser, None).await
    }

    async fn terms_page(
        &self,
        transaction: &str,
        browser: &Browser,
        error: Option<String>,
    ) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) => s,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        let terms = match self.terms_to_accept(&tx.req.client_id, &session.user).await {
            Ok(Some(t)) => t,
            // Accepted meanwhile (another tab), or the tenant dropped its terms: go on.
            Ok(None) => return self.proceed(tx, Some(session), browser).await.into(),
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
        let previous = ConsentState::of(&session.user.user_metadata);
        Step::Terms(TermsScreen {
            transaction: transaction.to_string(),
            client_name,
            user_email: session.user.email.clone(),
            changed: previous.as_ref().is_some_and(|c| c.given),
            withdrawn: previous
                .as_ref()
                .is_some_and(|c| !c.given && !c.history.is_empty()),
            terms_url: terms.terms_url,
            terms_version: terms.terms_version,
            branding,
            error,
        })
        .into()
    }

    /// `POST /u/terms`: records the acceptance and goes on, or tells the application no.
    /// `version_seen` is the version the page showed: if the terms changed since, the page
    /// is shown again with the new ones.
    pub async fn submit_terms(
        &self,
        transaction: &str,
        accepted: bool,
        version_seen: &str,
        browser: &Browser,
    ) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) => s,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        if !accepted {
            self.record(LogEvent {
                kind: codes::FAILED_LOGIN.into(),
                description: Some(TERMS_DECLINED.into()),
                client_id: Some(tx.req.client_id.clone()),
                user_id: Some(session.user.user_id.clone()),
                ..browser.event()
            })
            .await;
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new("access_denied", TERMS_DECLINED),
            )
            .into();
        }
        let terms = match self.terms_to_accept(&tx.req.client_id, &session.user).await {
            Ok(Some(t)) => t,
            Ok(None) => return self.proceed(tx, Some(session), browser).await.into(),
            Err(e) => return Step::from(e).into(),
        };
        if terms.terms_version != version_seen {
            return self
                .terms_page(
                    transaction,
                    browser,
                    Some("The terms changed while this page was open. Read the current terms and accept them to continue.".into()),
                )
                .await;
        }
        let user = match self.record_consent(&session.user, &terms).await {
            Ok(u) => u,
            Err(e) => return Step::from(e).into(),
        };
        let session = ActiveSession {
            session: session.session,
            user,
        };
        self.proceed(tx, Some(session), browser).await.into()
    }
}
