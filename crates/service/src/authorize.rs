//! The browser login flow behind `GET /authorize`: checks the client and its callback, uses
//! an SSO session when there is one, otherwise sends the browser to the hosted login or
//! sign-up page, asks for consent where needed, runs the post-login redirect hook, and
//! answers the callback with a code (or, for legacy SPAs, tokens).
//!
//! Between pages the pending request travels as a sealed *transaction* (AES-GCM with the
//! server key): the browser carries it but can neither read nor change it.

use crate::Gatehouse;
use crate::connections::connection_serves;
use crate::error::{Failure, RandomnessFailed, ServiceError};
use crate::login::IdTokenExtras;
use crate::sessions::{ActiveSession, NewSessionCookie};
use crate::tokens::{ExchangeEvents, IssuedToken, OAuthError, TokenRequest};
use gatehouse_core::authorize::{
    AuthorizeProblem, AuthorizeRequest, ChallengeMethod, Prompt, ResponseMode, ResponseType,
    redirect_url,
};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::redirect;
use gatehouse_core::user::{DATABASE_PROVIDER, NewUser};
use gatehouse_store::{AuthorizationCode, StoredClient, StoredConnection, StoredResourceServer};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// How long a user may take on the login pages before starting again.
const TRANSACTION_LIFETIME_MS: i64 = 60 * 60 * 1000;
/// Authorization codes are exchanged by the application right away.
const CODE_LIFETIME_MS: i64 = 120 * 1000;
/// How long an external redirect hook may take before `/continue`.
const CONTINUE_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// Scopes that are about the user's profile rather than an API.
const OIDC_SCOPES: &[&str] = &["openid", "profile", "email", "offline_access"];

/// What the browser brings: its cookies and address.
#[derive(Debug, Clone, Default)]
pub struct Browser {
    pub session_cookie: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
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
    /// The post-login redirect hook: an external URL carrying a signed `state`.
    External(String),
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

/// In a grant, a refused audience is `access_denied`.
impl From<Halt> for OAuthError {
    fn from(h: Halt) -> Self {
        match h {
            Halt::Refused(p) => OAuthError::new(403, "access_denied", p.description),
            Halt::Failed(f) => OAuthError::failed(f),
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

    async fn branding(&self) -> Branding {
        let settings = self.tenant_settings().await.unwrap_or_default();
        Branding {
            tenant_name: settings
                .friendly_name
                .unwrap_or_else(|| self.tenant().to_string()),
            logo_url: settings.picture_url,
        }
    }

    /// The connection a login uses: the requested one, else the default database.
    async fn login_connection(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<Option<StoredConnection>, ServiceError> {
        let name = req
            .connection
            .as_deref()
            .unwrap_or(DEFAULT_DATABASE_CONNECTION);
        Ok(self
            .connection_by_name(name)
            .await?
            .filter(|c| c.settings.strategy == DATABASE_PROVIDER))
    }

    /// `GET /authorize`.
    pub async fn authorize(&self, q: &HashMap<String, String>, browser: &Browser) -> Outcome {
        let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
            return error_page(400, "Missing required parameter: client_id").into();
        };
        let client = match self.stored_client(client_id).await {
            Ok(c) => c,
            Err(ServiceError::Store(e)) => return Step::from(ServiceError::Store(e)).into(),
            Err(_) => {
                return error_page(400, "Unknown client: the application is not registered.")
                    .into();
            }
        };
        let callbacks = &client.settings.callbacks;
        let redirect_uri = match q.get("redirect_uri").filter(|r| !r.is_empty()) {
            Some(r) if redirect::is_registered_callback(r, callbacks) => r.clone(),
            Some(_) => {
                return error_page(
                    400,
                    "The redirect_uri is not in the application's Allowed Callback URLs.",
                )
                .into();
            }
            // Auth0 falls back to the first callback; only when it is unambiguous here.
            None if callbacks.len() == 1 && !callbacks[0].contains('*') => callbacks[0].clone(),
            None => return error_page(400, "Missing required parameter: redirect_uri").into(),
        };
        let public = client.settings.token_endpoint_auth_method == "none";
        let req = match AuthorizeRequest::parse(q, client_id, &redirect_uri, public) {
            Ok(r) => r,
            Err(p) => return early_problem(q, &redirect_uri, p).into(),
        };
        let grant = match req.response_type {
            ResponseType::Code => "authorization_code",
            _ => "implicit",
        };
        if !client.settings.allows_grant(grant) {
            return problem_answer(
                &req,
                AuthorizeProblem::new(
                    "unauthorized_client",
                    format!("Grant type '{grant}' not allowed for the client."),
                ),
            )
            .into();
        }
        if let Some(a) = &req.audience {
            match self.api_for_users(a).await {
                Ok(_) => {}
                Err(Halt::Refused(p)) => return problem_answer(&req, p).into(),
                Err(Halt::Failed(f)) => return Step::Failed(f).into(),
            }
        }
        match self.login_connection(&req).await {
            Err(e) => return Step::from(e).into(),
            Ok(None) => {
                return problem_answer(
                    &req,
                    AuthorizeProblem::new(
                        "invalid_request",
                        format!(
                            "the connection was not found: {}",
                            req.connection
                                .as_deref()
                                .unwrap_or(DEFAULT_DATABASE_CONNECTION)
                        ),
                    ),
                )
                .into();
            }
            Ok(Some(c)) if !connection_serves(&c, &req.client_id) => {
                return problem_answer(
                    &req,
                    AuthorizeProblem::new("invalid_request", "the connection is not enabled"),
                )
                .into();
            }
            Ok(Some(_)) => {}
        }
        let tx = Transaction {
            req,
            created_at: self.now(),
            authenticated_sid: None,
            consented: false,
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(s) => s,
            Err(e) => return Step::from(e).into(),
        };
        self.proceed(tx, session, browser).await.into()
    }

    /// An API users may get tokens for; the Management API is not one of them.
    pub(crate) async fn api_for_users(&self, audience: &str) -> Result<StoredResourceServer, Halt> {
        let api = self
            .inner
            .resource_servers
            .get_by_identifier(self.tenant(), audience)
            .await?
            .ok_or_else(|| {
                AuthorizeProblem::new("access_denied", format!("Service not found: {audience}"))
            })?;
        if api.settings.is_system {
            return Err(AuthorizeProblem::new(
                "access_denied",
                "The Management API does not accept user tokens",
            )
            .into());
        }
        Ok(api)
    }

    /// Decides the next step for a transaction given the browser's session.
    async fn proceed(
        &self,
        tx: Transaction,
        session: Option<ActiveSession>,
        browser: &Browser,
    ) -> Step {
        let req = &tx.req;
        let silent = req.prompt == Some(Prompt::None);
        let client = match self.stored_client(&req.client_id).await {
            Ok(c) => c,
            Err(e) => return expired_or_failed(e),
        };
        let now = self.now();
        // A session from a connection this application may not use does not log it in.
        let session = match session {
            Some(s) => match self.connection_by_name(&s.user.connection).await {
                Ok(Some(c)) if connection_serves(&c, &req.client_id) => Some(s),
                Ok(_) => None,
                Err(e) => return e.into(),
            },
            None => None,
        };
        let needs_login = match &session {
            None => true,
            Some(s) => {
                let fresh = tx.authenticated_sid.as_deref() == Some(&s.session.session_id);
                !fresh
                    && (req.prompt == Some(Prompt::Login)
                        || req
                            .max_age
                            .is_some_and(|m| now - s.session.auth_time > m.saturating_mul(1000)))
            }
        };
        let Some(session) = session.filter(|_| !needs_login) else {
            if silent {
                self.log_silent_failure(req, browser, "Login required")
                    .await;
                return problem_answer(
                    req,
                    AuthorizeProblem::new("login_required", "Login required"),
                );
            }
            return match self.seal(&tx) {
                Ok(t) => Step::ToLogin {
                    transaction: t,
                    signup: req.signup_first,
                },
                Err(e) => e.into(),
            };
        };
        match self.needs_consent(&client, &tx, &session).await {
            Ok(false) => {}
            Ok(true) if silent => {
                self.log_silent_failure(req, browser, "Consent required")
                    .await;
                return problem_answer(
                    req,
                    AuthorizeProblem::new("consent_required", "Consent required"),
                );
            }
            Ok(true) => {
                return match self.seal(&tx) {
                    Ok(t) => Step::ToConsent { transaction: t },
                    Err(e) => e.into(),
                };
            }
            Err(e) => return e.into(),
        }
        if let Err(e) = self.touch_session(&session.session).await {
            return e.into();
        }
        match self.answer(&client, req, &session).await {
            Ok(answer) => {
                if silent {
                    self.record(LogEvent {
                        kind: codes::SUCCESS_SILENT_AUTH.into(),
                        description: Some("Successful silent authentication".into()),
                        client_id: Some(req.client_id.clone()),
                        user_id: Some(session.user.user_id.clone()),
                        ..browser.event()
                    })
                    .await;
                }
                Step::Callback(answer)
            }
            Err(Halt::Refused(p)) => problem_answer(req, p),
            Err(Halt::Failed(f)) => Step::Failed(f),
        }
    }

    async fn log_silent_failure(&self, req: &AuthorizeRequest, browser: &Browser, why: &str) {
        self.record(LogEvent {
            kind: codes::FAILED_SILENT_AUTH.into(),
            description: Some(why.into()),
            client_id: Some(req.client_id.clone()),
            ..browser.event()
        })
        .await;
    }

    /// Third-party applications need the user's consent for scopes not granted before;
    /// `prompt=consent` asks again even for first-party ones.
    async fn needs_consent(
        &self,
        client: &StoredClient,
        tx: &Transaction,
        session: &ActiveSession,
    ) -> Result<bool, ServiceError> {
        if tx.consented {
            return Ok(false);
        }
        if tx.req.prompt == Some(Prompt::Consent) {
            return Ok(true);
        }
        if client.settings.is_first_party {
            return Ok(false);
        }
        let granted = self
            .inner
            .user_grants
            .scope(
                self.tenant(),
                &session.user.user_id,
                &client.client_id,
                tx.req.audience.as_deref().unwrap_or(""),
            )
            .await?
            .unwrap_or_default();
        let granted: Vec<&str> = granted.split_whitespace().collect();
        Ok(tx.req.scopes().any(|s| !granted.contains(&s)))
    }

    /// The code, or the tokens of a legacy implicit flow, for the callback.
    async fn answer(
        &self,
        client: &StoredClient,
        req: &AuthorizeRequest,
        session: &ActiveSession,
    ) -> Result<CallbackAnswer, Halt> {
        let no_randomness = |_| Halt::Failed(Failure::internal(RandomnessFailed));
        let mut params: Vec<(String, String)> = vec![];
        if req.response_type == ResponseType::Code {
            let code = gatehouse_crypto::random::b64url(32).map_err(no_randomness)?;
            let now = self.now();
            let record = AuthorizationCode {
                code_hash: gatehouse_crypto::sha256_hex(code.as_bytes()),
                client_id: client.client_id.clone(),
                user_id: session.user.user_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                scope: req.scope.clone(),
                audience: req.audience.clone(),
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.clone(),
                code_challenge_method: req.code_challenge_method.map(|m| match m {
                    ChallengeMethod::S256 => "S256".to_string(),
                    ChallengeMethod::Plain => "plain".to_string(),
                }),
                session_id: session.session.session_id.clone(),
                auth_time: session.session.auth_time,
                family_id: gatehouse_crypto::random::hex(12).map_err(no_randomness)?,
                created_at: now,
                expires_at: now + CODE_LIFETIME_MS,
                used_at: None,
            };
            self.inner.codes.insert(self.tenant(), &record).await?;
            params.push(("code".into(), code));
        } else {
            let api = match &req.audience {
                Some(a) => Some(self.api_for_users(a).await?),
                None => None,
            };
            let extra = IdTokenExtras {
                nonce: req.nonce.clone(),
                auth_time: Some(session.session.auth_time / 1000),
                sid: Some(session.session.session_id.clone()),
                at_hash: req.response_type == ResponseType::IdTokenToken,
            };
            // Implicit flows never get refresh tokens.
            let scope: String = req
                .scopes()
                .filter(|s| *s != "offline_access")
                .collect::<Vec<_>>()
                .join(" ");
            let issued =
                self.user_tokens(client, &session.user, api.as_ref(), Some(&scope), &extra)?;
            if req.response_type.wants_access_token() {
                params.push(("access_token".into(), issued.access_token));
                params.push(("token_type".into(), "Bearer".into()));
                params.push(("expires_in".into(), issued.expires_in.to_string()));
                params.push(("scope".into(), issued.scope));
            }
            if let Some(id) = issued
                .id_token
                .filter(|_| req.response_type.wants_id_token())
            {
                params.push(("id_token".into(), id));
            }
        }
        if let Some(s) = &req.state {
            params.push(("state".into(), s.clone()));
        }
        Ok(CallbackAnswer {
            redirect_uri: req.redirect_uri.clone(),
            mode: req.response_mode,
            params,
        })
    }

    /// `GET /u/login` and `/u/signup`: the form for a transaction.
    pub async fn login_screen(&self, transaction: &str, signup: bool) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let username = tx.req.login_hint.clone();
        self.screen(transaction, &tx, signup, username, None)
            .await
            .into()
    }

    async fn screen(
        &self,
        transaction: &str,
        tx: &Transaction,
        signup: bool,
        username: Option<String>,
        error: Option<String>,
    ) -> Step {
        let client_name = match self.stored_client(&tx.req.client_id).await {
            Ok(c) => c.settings.name,
            Err(e) => return expired_or_failed(e),
        };
        let signup_allowed = match self.login_connection(&tx.req).await {
            Ok(c) => c.is_some_and(|c| !c.settings.signup_disabled()),
            Err(e) => return e.into(),
        };
        Step::Login(LoginScreen {
            transaction: transaction.to_string(),
            signup: signup && signup_allowed,
            signup_allowed,
            client_name,
            username,
            error,
            branding: self.branding().await,
        })
    }

    /// `POST /u/login`: checks the password, starts a session, and goes on with the flow.
    pub async fn submit_login(
        &self,
        transaction: &str,
        username: &str,
        password: String,
        browser: &Browser,
    ) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let connection = match self.login_connection(&tx.req).await {
            Ok(Some(c)) => c,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        let username = username.trim();
        if username.is_empty() || password.is_empty() {
            return self
                .screen(
                    transaction,
                    &tx,
                    false,
                    Some(username.to_string()),
                    Some("Enter your email and password.".into()),
                )
                .await
                .into();
        }
        let mut event = LogEvent {
            client_id: Some(tx.req.client_id.clone()),
            ..browser.event()
        };
        match self
            .check_password(&connection, username, password, &mut event)
            .await
        {
            Ok(user) => self.logged_in(tx, &user.user_id, event, browser).await,
            Err(crate::login::LoginRefusal::Failed(f)) => Step::Failed(f).into(),
            Err(refusal) => {
                if refusal == crate::login::LoginRefusal::TooManyAttempts {
                    event.kind = codes::FAILED_LOGIN.into();
                    event.description = Some(refusal.to_string());
                    self.record(event).await;
                }
                self.screen(
                    transaction,
                    &tx,
                    false,
                    Some(username.to_string()),
                    Some(refusal.to_string()),
                )
                .await
                .into()
            }
        }
    }

    /// `POST /u/signup`: creates a database user with the connection's password policy,
    /// then logs them in.
    pub async fn submit_signup(
        &self,
        transaction: &str,
        email: &str,
        password: String,
        browser: &Browser,
    ) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        let connection = match self.login_connection(&tx.req).await {
            Ok(Some(c)) => c,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(e).into(),
        };
        let email = email.trim().to_string();
        let retry = |message: String| async {
            let mut step = self
                .screen(transaction, &tx, true, Some(email.clone()), Some(message))
                .await;
            if let Step::Login(s) = &mut step {
                s.signup = true;
            }
            Outcome::from(step)
        };
        if connection.settings.signup_disabled() {
            return retry("Sign-ups are disabled for this application.".into()).await;
        }
        if !gatehouse_core::payload::is_email(&email) {
            return retry("Enter a valid email address.".into()).await;
        }
        let new_user = NewUser::with_password(&connection.settings.name, &email, password);
        // `signup` checks breached passwords, logs `ss`/`fs` and tells the owner of a taken
        // address, exactly as for `/dbconnections/signup`.
        match self
            .signup(new_user, Some(&tx.req.client_id), browser)
            .await
        {
            Ok(user) => {
                let event = LogEvent {
                    client_id: Some(tx.req.client_id.clone()),
                    connection: Some(connection.settings.name.clone()),
                    user_name: Some(email.clone()),
                    ..browser.event()
                };
                self.logged_in(tx, &user.user_id, event, browser).await
            }
            Err(e) => {
                let message = match &e {
                    ServiceError::Password(p) => p.to_string(),
                    // This form logs new users straight in, so it cannot hide a taken address.
                    ServiceError::Conflict(_) => "The user already exists.".into(),
                    ServiceError::InvalidBody(_) | ServiceError::NotSupported(_) => {
                        "Sign-up is not possible with these details.".into()
                    }
                    ServiceError::NotAllowed { code, .. } if *code == "operation_not_allowed" => {
                        "Sign-ups are disabled for this application.".into()
                    }
                    ServiceError::NotAllowed { .. } => {
                        "This application cannot sign users up here.".into()
                    }
                    _ => return Step::from(e).into(),
                };
                retry(message).await
            }
        }
    }

    /// After a successful login or sign-up: count the login, start a fresh session, run the
    /// redirect hook if the tenant has one, then go on with the flow.
    async fn logged_in(
        &self,
        mut tx: Transaction,
        user_id: &str,
        mut event: LogEvent,
        browser: &Browser,
    ) -> Outcome {
        let user = match self.record_login(user_id, browser.ip.as_deref()).await {
            Ok(u) => u,
            Err(e) => return Step::from(e).into(),
        };
        let settings = match self.tenant_settings().await {
            Ok(s) => s,
            Err(e) => return Step::from(e).into(),
        };
        let (session, cookie) = match self
            .start_session(user_id, browser.session_cookie.as_deref(), &settings)
            .await
        {
            Ok(s) => s,
            Err(e) => return Step::from(e).into(),
        };
        event.kind = codes::SUCCESS_LOGIN.into();
        event.description = Some("Successful login".into());
        event.user_id = Some(user_id.to_string());
        event
            .details
            .insert("session_id".into(), serde_json::json!(session.session_id));
        self.record(event).await;
        tx.authenticated_sid = Some(session.session_id.clone());
        let step = match settings.post_login_redirect_url {
            Some(url) => {
                let cont = Continuation {
                    tx,
                    session_id: session.session_id.clone(),
                    expires_at: self.now() + CONTINUE_LIFETIME_MS,
                };
                match self.seal(&cont) {
                    Ok(state) => Step::External(redirect_url(
                        &url,
                        ResponseMode::Query,
                        &[("state", &state)],
                    )),
                    Err(e) => e.into(),
                }
            }
            // The session and user were just written: go on with them, not a fresh read.
            None => {
                self.proceed(tx, Some(ActiveSession { session, user }), browser)
                    .await
            }
        };
        Outcome {
            step,
            set_session: Some(cookie),
        }
    }

    /// `GET|POST /continue?state=...`: resumes after the redirect hook, in the same browser
    /// session that started it.
    pub async fn resume(&self, state: &str, browser: &Browser) -> Outcome {
        let Some(cont) = self.unseal::<Continuation>(state).ok() else {
            return expired().into();
        };
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(Some(s)) if s.session.session_id == cont.session_id => s,
            Ok(_) => return error_page(400, "This login was started in another browser session. Go back to the application and sign in again.").into(),
            Err(e) => return Step::from(e).into(),
        };
        self.proceed(cont.tx, Some(session), browser).await.into()
    }

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
        Step::Consent(ConsentScreen {
            transaction: transaction.to_string(),
            client_name,
            user_email: session.user.email.clone(),
            scopes: tx.req.scopes().map(String::from).collect(),
            audience: tx.req.audience.clone(),
            branding: self.branding().await,
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
        let extra = IdTokenExtras {
            nonce: record.nonce.clone(),
            auth_time: Some(record.auth_time / 1000),
            sid: Some(record.session_id.clone()),
            at_hash: false,
        };
        let mut issued =
            self.user_tokens(&client, &user, api.as_ref(), Some(&record.scope), &extra)?;
        self.maybe_refresh_token(
            &client,
            &user,
            api.as_ref(),
            Some(&record.scope),
            Some(crate::refresh::Lineage {
                family_id: &record.family_id,
                expires_at: None,
            }),
            &mut issued,
        )
        .await?;
        Ok(issued)
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
