//! The hosted login in the browser, in one place: `GET /authorize` (`authorize`), the login
//! and sign-up screens (`login`), consent (`consent`), the post-login redirect hook and
//! `/continue` (`resume`), magic links (`magic_link`), "Forgot password?" (`password_reset`),
//! SSO sessions (`sessions`) and logout (`logout`). This module holds what they share: what the browser brings, the steps the
//! flow answers with, and the sealed transaction.
//!
//! Between pages the pending request travels as a sealed *transaction* (AES-GCM with the
//! server key): the browser carries it but can neither read nor change it. Every way of
//! logging in ends in `login::complete_login`, the strategy seam (docs/architecture.md).

pub mod authorize;
pub mod consent;
pub mod cross_origin;
mod home_realm;
pub mod login;
pub mod logout;
pub mod magic_link;
pub mod password_reset;
pub mod profile;
pub mod resume;
pub mod saml;
pub mod sessions;
pub mod terms;
pub mod upstream;

pub use consent::describe_scope;

use crate::Gatehouse;
use crate::error::ServiceError;
use crate::oauth::OAuthError;
use gatehouse_core::authorize::{AuthorizeProblem, AuthorizeRequest, ResponseMode, redirect_url};
use gatehouse_core::log_event::LogEvent;
use serde::{Deserialize, Serialize};
use sessions::NewSessionCookie;
use std::collections::HashMap;

/// How long a user may take on the login pages before starting again.
const TRANSACTION_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// How long an external redirect hook may take before `/continue`.
const CONTINUE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// What the browser brings: its cookies and address.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub session_cookie: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
    /// The browser's CSRF cookie: the one it sent, or the one this answer sets. A login sent
    /// to an identity provider is bound to it, so its answer is taken only from this browser.
    pub csrf: Option<String>,
    /// The CSRF cookie came with the request (it is not one minted for this answer).
    pub csrf_sent: bool,
    /// The `co_verifier` cookie `/co/authenticate` set (`cross_origin`).
    pub co_verifier: Option<String>,
}

impl Browser {
    /// A log event carrying this browser's address and user agent.
    pub fn event(&self) -> LogEvent {
        LogEvent {
            ip: self.ip.clone(),
            user_agent: self.user_agent.clone(),
            ..Default::default()
        }
    }
}

/// The tenant's name and logo, shown on every hosted page.
#[derive(Debug, Clone)]
pub struct Branding {
    pub tenant_name: String,
    pub logo_url: Option<String>,
}

/// The login or sign-up form.
#[derive(Debug, Clone)]
pub struct LoginScreen {
    pub transaction: String,
    pub signup: bool,
    pub signup_allowed: bool,
    pub client_name: String,
    pub username: Option<String>,
    pub error: Option<String>,
    pub branding: Branding,
    /// A button per upstream provider the application may use.
    pub providers: Vec<upstream::ProviderButton>,
    /// The terms a sign-up must accept (tenant setting `consent`).
    pub terms: Option<gatehouse_core::gdpr::ConsentSettings>,
    /// Ask for the email alone first: it may belong to a connection's domain
    /// (`domain_aliases`), whose users log in at their identity provider.
    pub identifier_first: bool,
}

#[derive(Debug, Clone)]
pub struct ConsentScreen {
    pub transaction: String,
    pub client_name: String,
    pub user_email: Option<String>,
    pub scopes: Vec<String>,
    pub audience: Option<String>,
    pub branding: Branding,
}

/// The answer to the application, at its callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CallbackAnswer {
    pub redirect_uri: String,
    pub mode: ResponseMode,
    pub params: Vec<(String, String)>,
}

impl CallbackAnswer {
    /// The URL to redirect to (for `form_post`, the form's action is `redirect_uri`).
    pub fn location(&self) -> String {
        let params: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        redirect_url(&self.redirect_uri, self.mode, &params)
    }
}

/// Where the flow goes next.
#[derive(Debug, Clone)]
pub enum Step {
    /// A problem that cannot go back to the application (unknown client, bad callback,
    /// expired transaction): shown to the user, never redirected.
    ErrorPage {
        status: u16,
        message: String,
    },
    /// A failure of ours (the database could not be reached, ...): a 503 or 500 page that
    /// says so, the cause logged at the edge; never shown as an expired or invalid page.
    Failed(crate::Failure),
    /// Send the browser to the login (or sign-up) page for this transaction.
    ToLogin {
        transaction: String,
        signup: bool,
    },
    /// Show the login form again, with an error.
    Login(LoginScreen),
    ToConsent {
        transaction: String,
    },
    Consent(ConsentScreen),
    /// Send the browser to the terms page (`consent` setting: new terms, or none accepted).
    ToTerms {
        transaction: String,
    },
    Terms(terms::TermsScreen),
    /// After a first login through a provider: "this email already has an account — link
    /// them?" (`suggest_account_linking`).
    SuggestLink(upstream::LinkScreen),
    /// The post-login redirect hook: an external URL carrying a signed `state`.
    External(String),
    /// The progressive-profiling page (`profile`).
    Profile(profile::ProfileScreen),
    /// A cross-origin login whose browser kept no `co_verifier` cookie: ask the
    /// application's verification page for it (`cross_origin`).
    VerifyCrossOrigin(cross_origin::VerifierRequest),
    Callback(CallbackAnswer),
}

/// A step and what to do with the session cookie.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub step: Step,
    pub set_session: Option<NewSessionCookie>,
}

impl From<Step> for Outcome {
    fn from(step: Step) -> Self {
        Outcome {
            step,
            set_session: None,
        }
    }
}

/// The pending `/authorize` request and what happened since.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Transaction {
    req: AuthorizeRequest,
    created_at: i64,
    /// The session created by a login within this transaction: it satisfies `prompt=login`
    /// and `max_age` without asking again.
    authenticated_sid: Option<String>,
    /// The user accepted the consent page within this transaction.
    consented: bool,
    /// An upstream login's deny-listed attributes: for this login's ID token, never stored.
    #[serde(default, skip_serializing_if = "serde_json::Map::is_empty")]
    login_claims: serde_json::Map<String, serde_json::Value>,
}

impl crate::sealed::Sealable for Transaction {
    const PURPOSE: &'static str = "authorize-transaction";
    fn expires_at(&self) -> Option<i64> {
        Some(self.created_at + TRANSACTION_LIFETIME_MS)
    }
}

/// The state handed to the post-login redirect hook and brought back to `/continue`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Continuation {
    tx: Transaction,
    session_id: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for Continuation {
    const PURPOSE: &'static str = "authorize-continue";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// A login an action sent away (`api.redirect.sendUserTo`), kept sealed in
/// `login_continuations` under the digest of the `state` the browser carries to the external
/// page and back to `/continue`.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct ActionContinuation {
    req: AuthorizeRequest,
    user_id: String,
    session_id: Option<String>,
    /// The session's cookie digest: a cross-site POST to `/continue` brings no cookie.
    session_hash: Option<String>,
    auth_time: i64,
    login_claims: serde_json::Map<String, serde_json::Value>,
    changes: gatehouse_core::actions::FlowChanges,
    expires_at: i64,
}

impl crate::sealed::Sealable for ActionContinuation {
    const PURPOSE: &'static str = "action-continue";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

fn error_page(status: u16, message: impl Into<String>) -> Step {
    Step::ErrorPage {
        status,
        message: message.into(),
    }
}

fn expired() -> Step {
    error_page(
        400,
        "This login page has expired or is not valid. Go back to the application and sign in again.",
    )
}

/// Why the flow stops short of its callback answer: a refusal the application hears about
/// at its callback, or a failure of ours shown as a page.
#[derive(Debug)]
pub(crate) enum Halt {
    Refused(AuthorizeProblem),
    Failed(crate::Failure),
}

impl From<AuthorizeProblem> for Halt {
    fn from(p: AuthorizeProblem) -> Self {
        Halt::Refused(p)
    }
}

impl From<ServiceError> for Halt {
    fn from(e: ServiceError) -> Self {
        Halt::Failed(e.into())
    }
}

impl From<gatehouse_store::StoreError> for Halt {
    fn from(e: gatehouse_store::StoreError) -> Self {
        Halt::Failed(e.into())
    }
}

impl From<OAuthError> for Halt {
    fn from(e: OAuthError) -> Self {
        match e.failure {
            Some(f) => Halt::Failed(f),
            None => Halt::Refused(AuthorizeProblem::new(e.error, e.description)),
        }
    }
}

/// A grant's failure inside the browser flow: ours is a page, a refusal a plain error page.
impl From<OAuthError> for Step {
    fn from(e: OAuthError) -> Self {
        match e.failure {
            Some(f) => Step::Failed(f),
            None => error_page(e.status, e.description),
        }
    }
}

impl From<ServiceError> for Step {
    fn from(e: ServiceError) -> Self {
        Step::Failed(e.into())
    }
}

/// A lookup by a transaction's reference: a store or internal failure is ours; a reference
/// that is gone or malformed means the page is stale.
fn expired_or_failed(e: ServiceError) -> Step {
    match e {
        e @ (ServiceError::Store(_) | ServiceError::Internal(_)) => e.into(),
        _ => expired(),
    }
}

/// Sends an error to the callback, with `state`.
fn problem_answer(req: &AuthorizeRequest, p: AuthorizeProblem) -> Step {
    callback_error(
        &req.redirect_uri,
        req.response_mode,
        req.state.as_deref(),
        p,
    )
}

/// The error at the callback when the parameters themselves are wrong: the answer goes
/// where a well-formed request of the same kind would have gone.
fn early_problem(q: &HashMap<String, String>, redirect_uri: &str, p: AuthorizeProblem) -> Step {
    let state = q.get("state").map(String::as_str).filter(|s| !s.is_empty());
    callback_error(redirect_uri, ResponseMode::for_error(q), state, p)
}

fn callback_error(
    redirect_uri: &str,
    mode: ResponseMode,
    state: Option<&str>,
    p: AuthorizeProblem,
) -> Step {
    let mut params = vec![
        ("error".to_string(), p.error.to_string()),
        ("error_description".to_string(), p.description),
    ];
    if let Some(s) = state {
        params.push(("state".into(), s.to_string()));
    }
    Step::Callback(CallbackAnswer {
        redirect_uri: redirect_uri.to_string(),
        mode,
        params,
    })
}

impl Gatehouse {
    fn open_transaction(&self, token: &str) -> Option<Transaction> {
        self.unseal::<Transaction>(token).ok()
    }

    /// The tenant's name and logo; the settings cannot be read in an outage, and the page
    /// then says so rather than showing another name.
    pub async fn branding(&self) -> Result<Branding, ServiceError> {
        let settings = self.tenant_settings().await?;
        Ok(Branding {
            tenant_name: settings
                .friendly_name
                .unwrap_or_else(|| self.tenant().to_string()),
            logo_url: settings.picture_url,
        })
    }
}
