//! The login and sign-up screens of a transaction and their submits, and `complete_login`,
//! where every way of logging in ends: the login is counted, a fresh session replaces the
//! browser's old one, the redirect hook runs, then the flow goes on.

use super::sessions::ActiveSession;
use super::{
    Browser, CONTINUE_LIFETIME_MS, Continuation, LoginScreen, Outcome, Step, Transaction, expired,
    expired_or_failed,
};
use crate::Gatehouse;
use crate::credentials::LoginRefusal;
use crate::error::ServiceError;
use gatehouse_core::authorize::{AuthorizeRequest, ResponseMode, redirect_url};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_core::user::{DATABASE_PROVIDER, NewUser};
use gatehouse_store::{BrowserSession, StoredConnection};

/// A user a login strategy has proved: the password check on a database connection and a
/// magic link today; an upstream provider's callback and a custom-database script produce
/// the same, then `complete_login` finishes every one of them alike.
pub(crate) struct Authenticated {
    pub user_id: String,
    /// The attempt's log event (client, connection, address), completed as `s`.
    pub event: LogEvent,
    /// How the `s` event describes this login.
    pub description: &'static str,
    /// What a federated logout of the session needs (a SAML login's subject and session).
    pub federated: Option<String>,
}

impl Authenticated {
    pub fn new(user_id: String, event: LogEvent, description: &'static str) -> Self {
        Self {
            user_id,
            event,
            description,
            federated: None,
        }
    }

    pub fn with_federated(mut self, federated: String) -> Self {
        self.federated = Some(federated);
        self
    }
}

/// What a login leaves behind: the user as counted, the new session and its cookie, and the
/// tenant settings read on the way (the redirect hook is one of them).
pub(crate) struct LoginSession {
    pub user: gatehouse_core::user::User,
    pub session: BrowserSession,
    pub cookie: super::NewSessionCookie,
    pub settings: TenantSettings,
}

impl Gatehouse {
    /// The connection a login uses: the requested one, else the default database.
    pub(super) async fn login_connection(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<Option<StoredConnection>, ServiceError> {
        Ok(self
            .named_connection(req)
            .await?
            .filter(|c| c.settings.strategy == DATABASE_PROVIDER))
    }

    /// The connection whose passwords the login form checks: a database, or a directory
    /// (AD/LDAP), which has no sign-up or password reset here.
    pub(super) async fn login_form_connection(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<Option<StoredConnection>, ServiceError> {
        Ok(self
            .named_connection(req)
            .await?
            .filter(|c| c.settings.strategy == DATABASE_PROVIDER || c.settings.is_directory()))
    }

    /// The connection `/authorize` names, of any strategy; by default the database.
    pub(super) async fn named_connection(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<Option<StoredConnection>, ServiceError> {
        let name = req
            .connection
            .as_deref()
            .unwrap_or(DEFAULT_DATABASE_CONNECTION);
        self.connection_by_name(name).await
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
        let branding = match self.branding().await {
            Ok(b) => b,
            Err(e) => return e.into(),
        };
        let providers = match self.provider_buttons(&tx.req.client_id).await {
            Ok(p) => p,
            Err(e) => return e.into(),
        };
        let terms = match self.tenant_settings().await {
            Ok(s) => s.consent,
            Err(e) => return e.into(),
        };
        let identifier_first = !signup
            && username.is_none()
            && match self.has_home_realms(&tx.req.client_id).await {
                Ok(h) => h,
                Err(e) => return e.into(),
            };
        Step::Login(LoginScreen {
            identifier_first,
            providers,
            terms,
            transaction: transaction.to_string(),
            signup: signup && signup_allowed,
            signup_allowed,
            client_name,
            username,
            error,
            branding,
        })
    }

    /// The transaction a login or sign-up form posts, and the connection it logs in to (a
    /// sign-up: a database only); a stale page is "expired", a failure of ours a failure page.
    async fn open_form(
        &self,
        transaction: &str,
        signup: bool,
    ) -> Result<(Transaction, StoredConnection), Step> {
        let tx = self.open_transaction(transaction).ok_or_else(expired)?;
        let connection = if signup {
            self.login_connection(&tx.req).await
        } else {
            self.login_form_connection(&tx.req).await
        };
        match connection {
            Ok(Some(c)) => Ok((tx, c)),
            Ok(None) => Err(expired()),
            Err(e) => Err(e.into()),
        }
    }

    /// `POST /u/login`: checks the password, starts a session, and goes on with the flow.
    pub async fn submit_login(
        &self,
        transaction: &str,
        username: &str,
        password: String,
        browser: &Browser,
    ) -> Outcome {
        let (tx, connection) = match self.open_form(transaction, false).await {
            Ok(opened) => opened,
            Err(step) => return step.into(),
        };
        let username = username.trim();
        // An email of a connection's domain logs in at its identity provider.
        let (tx, asked_email_first) = match self.to_home_realm(tx, username, browser).await {
            Ok(outcome) => return outcome,
            Err(back) => back,
        };
        // The email step of an identifier-first page: now the password.
        if asked_email_first && !username.is_empty() && password.is_empty() {
            return self
                .screen(transaction, &tx, false, Some(username.to_string()), None)
                .await
                .into();
        }
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
            .verify_password(&connection, username, password, &mut event)
            .await
        {
            Ok(user) => {
                let proven = Authenticated::new(user.user_id, event, "Successful login");
                self.complete_login(tx, proven, browser).await
            }
            Err(LoginRefusal::Failed(f)) => Step::Failed(f).into(),
            Err(refusal) => {
                if refusal == LoginRefusal::TooManyAttempts {
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
    /// then logs them in. When the tenant has terms, `terms` is the version the form's
    /// box accepted (`None`: not ticked); the user is created with the consent recorded.
    pub async fn submit_signup(
        &self,
        transaction: &str,
        email: &str,
        password: String,
        terms: Option<&str>,
        browser: &Browser,
    ) -> Outcome {
        let (tx, connection) = match self.open_form(transaction, true).await {
            Ok(opened) => opened,
            Err(step) => return step.into(),
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
        let mut new_user = NewUser::with_password(&connection.settings.name, &email, password);
        let current_terms = match self.tenant_settings().await {
            Ok(s) => s.consent,
            Err(e) => return Step::from(e).into(),
        };
        if let Some(current) = current_terms {
            match terms {
                Some(v) if v == current.terms_version => {}
                Some(_) => {
                    return retry(
                        "The terms changed while this page was open. Read the current terms and accept them to sign up.".into(),
                    )
                    .await;
                }
                None => return retry("Accept the terms to sign up.".into()).await,
            }
            let record = gatehouse_core::gdpr::accepted(
                &Default::default(),
                &current,
                &gatehouse_core::time::iso8601(self.now()),
            );
            let mut consent = serde_json::Map::new();
            consent.insert(gatehouse_core::gdpr::CONSENT_KEY.into(), record);
            match gatehouse_core::metadata::MetadataPatch::parse(
                gatehouse_core::metadata::MetadataKind::User,
                consent,
            ) {
                Ok(m) => new_user.user_metadata = Some(m),
                Err(e) => return Step::from(ServiceError::from(e)).into(),
            }
        }
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
                let proven = Authenticated::new(user.user_id, event, "Successful login");
                self.complete_login(tx, proven, browser).await
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

    /// Where every way of logging in ends (the strategy seam): the login is counted, a
    /// fresh session replaces the browser's old one, the redirect hook runs if the tenant has
    /// one, then the flow goes on with the session.
    pub(super) async fn complete_login(
        &self,
        mut tx: Transaction,
        proven: Authenticated,
        browser: &Browser,
    ) -> Outcome {
        let started = match self.start_login_session(proven, browser).await {
            Ok(s) => s,
            Err(step) => return step.into(),
        };
        let LoginSession {
            user,
            session,
            cookie,
            settings,
        } = started;
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

    /// Counts the login, starts a fresh session (revoking the browser's old one) and logs
    /// `s`. A failure of ours is a failure page, never "expired".
    pub(super) async fn start_login_session(
        &self,
        proven: Authenticated,
        browser: &Browser,
    ) -> Result<LoginSession, Step> {
        let Authenticated {
            user_id,
            mut event,
            description,
            federated,
        } = proven;
        let user = self.record_login(&user_id, browser.ip.as_deref()).await?;
        let settings = self.tenant_settings().await?;
        let (session, cookie) = self
            .start_session(&user_id, browser.session_cookie.as_deref(), &settings)
            .await?;
        if let Some(f) = federated {
            self.inner
                .sessions
                .set_federated(self.tenant(), &session.cookie_hash, &f)
                .await
                .map_err(crate::error::ServiceError::from)?;
        }
        event.kind = codes::SUCCESS_LOGIN.into();
        event.description = Some(description.into());
        event.user_id = Some(user_id);
        event
            .details
            .insert("session_id".into(), serde_json::json!(session.session_id));
        self.record(event).await;
        Ok(LoginSession {
            user,
            session,
            cookie,
            settings,
        })
    }
}
