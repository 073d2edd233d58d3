//! `GET /authorize`: checks the client and its callback, uses an SSO session when there is
//! one, otherwise sends the browser to the hosted login or sign-up page, asks for consent
//! where needed, and answers the callback with a code (or, for legacy SPAs, tokens).

use super::sessions::ActiveSession;
use super::{
    Browser, CallbackAnswer, Halt, Outcome, Step, Transaction, early_problem, error_page,
    expired_or_failed, problem_answer,
};
use crate::Gatehouse;
use crate::actions::LoginFacts;
use crate::authorization::NOT_PERMITTED;
use crate::connections::connection_serves;
use crate::error::{Failure, ServiceError};
use crate::oauth::{IdTokenExtras, Impersonator, OAuthError};
use gatehouse_core::authorize::{
    AuthorizeProblem, AuthorizeRequest, ChallengeMethod, Prompt, ResponseMode, ResponseType,
};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::redirect;
use gatehouse_core::user::User;
use gatehouse_store::{AuthorizationCode, StoredClient, StoredConnection};
use std::collections::HashMap;

/// Authorization codes are exchanged by the application right away.
const CODE_LIFETIME_MS: i64 = 120 * 1000;

/// Whom a callback answer logs in: the user, the browser session behind the login (none for
/// an impersonation, which opens no session) and when they authenticated.
pub(crate) struct Grantee<'a> {
    pub user: &'a User,
    pub session_id: Option<&'a str>,
    /// Epoch milliseconds.
    pub auth_time: i64,
    /// The administrator logging in as the user, for an impersonation.
    pub impersonator: Option<&'a Impersonator>,
    /// The browser's address and user agent, for the post-login actions' `event.request`.
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    /// The session's cookie digest, kept with a login an action sends away.
    pub session_hash: Option<&'a str>,
}

/// Where a login goes once its user is known: the application's callback, or an external
/// page an action sent the user to (the login resumes at `/continue`).
pub(crate) enum Answered {
    Callback(CallbackAnswer),
    Away(String),
}

/// How long a login an action sent away waits for `/continue`.
const ACTION_CONTINUE_LIFETIME_MS: i64 = 60 * 60 * 1000;

impl Gatehouse {
    /// `GET /authorize`.
    pub async fn authorize(&self, q: &HashMap<String, String>, browser: &Browser) -> Outcome {
        let tx = match self.open_authorize_request(q).await {
            Ok(tx) => tx,
            Err(step) => return step.into(),
        };
        if let Some(ticket) = q.get("login_ticket").filter(|t| !t.is_empty()) {
            return self.redeem_login_ticket(ticket, tx, browser).await;
        }
        let session = match self.active_session(browser.session_cookie.as_deref()).await {
            Ok(s) => s,
            Err(e) => return Step::from(e).into(),
        };
        self.proceed(tx, session, browser).await.into()
    }

    /// An `/authorize` request checked (client, callback, response type, grant, audience,
    /// connection) and opened as a transaction; a request that cannot be served is the step
    /// that says so. Also how a login an identity provider started becomes a transaction.
    pub(super) async fn open_authorize_request(
        &self,
        q: &HashMap<String, String>,
    ) -> Result<Transaction, Step> {
        let Some(client_id) = q.get("client_id").filter(|c| !c.is_empty()) else {
            return Err(error_page(400, "Missing required parameter: client_id"));
        };
        let client = match self.stored_client(client_id).await {
            Ok(c) => c,
            Err(ServiceError::Store(e)) => return Err(Step::from(ServiceError::Store(e))),
            Err(_) => {
                return Err(error_page(
                    400,
                    "Unknown client: the application is not registered.",
                ));
            }
        };
        let callbacks = &client.settings.callbacks;
        let redirect_uri = match q.get("redirect_uri").filter(|r| !r.is_empty()) {
            Some(r) if redirect::is_registered_callback(r, callbacks) => r.clone(),
            Some(_) => {
                return Err(error_page(
                    400,
                    "The redirect_uri is not in the application's Allowed Callback URLs.",
                ));
            }
            // Auth0 falls back to the first callback; only when it is unambiguous here.
            None if callbacks.len() == 1 && !callbacks[0].contains('*') => callbacks[0].clone(),
            None => return Err(error_page(400, "Missing required parameter: redirect_uri")),
        };
        // An answer is posted only to an origin the application lists as a web origin; the
        // page holding it may be framed by that origin alone.
        if ResponseMode::asks_web_message(q)
            && !redirect::web_origin(&redirect_uri)
                .is_some_and(|o| client.settings.allows_web_message(&o))
        {
            return Err(error_page(
                400,
                "response_mode=web_message needs the redirect_uri's origin in the application's Allowed Web Origins.",
            ));
        }
        let public = client.settings.token_endpoint_auth_method == "none";
        let req = match AuthorizeRequest::parse(q, client_id, &redirect_uri, public) {
            Ok(r) => r,
            Err(p) => return Err(early_problem(q, &redirect_uri, p)),
        };
        let grant = match req.response_type {
            ResponseType::Code => "authorization_code",
            _ => "implicit",
        };
        if !client.settings.allows_grant(grant) {
            return Err(problem_answer(
                &req,
                AuthorizeProblem::new(
                    "unauthorized_client",
                    format!("Grant type '{grant}' not allowed for the client."),
                ),
            ));
        }
        if let Some(a) = &req.audience {
            match self.api_for_users(a).await.map_err(Halt::from) {
                Ok(_) => {}
                Err(Halt::Refused(p)) => return Err(problem_answer(&req, p)),
                Err(Halt::Failed(f)) => return Err(Step::Failed(f)),
            }
        }
        match self.requested_connection(&req).await {
            Err(e) => return Err(Step::from(e)),
            Ok(None) => {
                return Err(problem_answer(
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
                ));
            }
            Ok(Some(c)) if !connection_serves(&c, &req.client_id) => {
                return Err(problem_answer(
                    &req,
                    AuthorizeProblem::new("invalid_request", "the connection is not enabled"),
                ));
            }
            Ok(Some(_)) => {}
        }
        Ok(Transaction {
            req,
            created_at: self.now(),
            authenticated_sid: None,
            consented: false,
            login_claims: Default::default(),
        })
    }

    /// Decides the next step for a transaction given the browser's session.
    pub(super) async fn proceed(
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
            return self.to_login(tx, browser).await;
        };
        // The application may require a role or permission (`login_requires`).
        match self.meets_login_requirement(&client, &session.user).await {
            Ok(true) => {}
            Ok(false) => {
                self.record(LogEvent {
                    kind: codes::FAILED_LOGIN.into(),
                    description: Some(NOT_PERMITTED.into()),
                    client_id: Some(req.client_id.clone()),
                    user_id: Some(session.user.user_id.clone()),
                    ..browser.event()
                })
                .await;
                return problem_answer(req, AuthorizeProblem::new("access_denied", NOT_PERMITTED));
            }
            Err(e) => return e.into(),
        }
        // The tenant's terms, when this user has not accepted their current version.
        match self.terms_to_accept(&req.client_id, &session.user).await {
            Ok(None) => {}
            Ok(Some(_)) if silent => {
                self.log_silent_failure(req, browser, "Terms must be accepted")
                    .await;
                return problem_answer(
                    req,
                    AuthorizeProblem::new("interaction_required", "The user must accept the terms"),
                );
            }
            Ok(Some(_)) => {
                return match self.seal(&tx) {
                    Ok(t) => Step::ToTerms { transaction: t },
                    Err(e) => e.into(),
                };
            }
            Err(e) => return e.into(),
        }
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
        let grantee = Grantee {
            user: &session.user,
            session_id: Some(&session.session.session_id),
            auth_time: session.session.auth_time,
            impersonator: None,
            ip: browser.ip.as_deref(),
            user_agent: browser.user_agent.as_deref(),
            session_hash: Some(&session.session.cookie_hash),
        };
        match self
            .answer(&client, req, grantee, &tx.login_claims, None)
            .await
        {
            Ok(Answered::Away(url)) => Step::External(url),
            Ok(Answered::Callback(answer)) => {
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

    /// The connection `/authorize` names (by default the database): a database, a directory
    /// or an upstream provider; passwordless connections log in through their own endpoints.
    async fn requested_connection(
        &self,
        req: &AuthorizeRequest,
    ) -> Result<Option<StoredConnection>, ServiceError> {
        Ok(self.named_connection(req).await?.filter(|c| {
            c.settings.strategy == gatehouse_core::user::DATABASE_PROVIDER
                || c.settings.is_external()
        }))
    }

    /// Where a user without a usable session logs in: the provider (or SAML identity
    /// provider) of a connection the request names, else the hosted login page.
    async fn to_login(&self, tx: Transaction, browser: &Browser) -> Step {
        if let Some(name) = &tx.req.connection {
            match self.connection_by_name(name).await {
                Ok(Some(c)) if c.settings.is_upstream() => {
                    return self.to_provider(tx, &c, browser).await;
                }
                Ok(Some(c)) if c.settings.is_saml() => return self.to_saml_idp(tx, &c).await,
                Ok(_) => {}
                Err(e) => return e.into(),
            }
        }
        let signup = tx.req.signup_first;
        match self.seal(&tx) {
            Ok(t) => Step::ToLogin {
                transaction: t,
                signup,
            },
            Err(e) => e.into(),
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

    /// The code, or the tokens of a legacy implicit flow, for the callback: the one place
    /// both the login flow and an impersonation (`crate::impersonation`) answer from.
    pub(crate) async fn answer(
        &self,
        client: &StoredClient,
        req: &AuthorizeRequest,
        grantee: Grantee<'_>,
        login_claims: &serde_json::Map<String, serde_json::Value>,
        resuming: Option<(gatehouse_core::actions::FlowChanges, &serde_json::Value)>,
    ) -> Result<Answered, Halt> {
        let user = grantee.user;
        let no_randomness = |e| Halt::Failed(Failure::internal(e));
        // The post-login rules and actions run before the application hears anything: a
        // denial or a failing action goes to its callback; their claims go with the code; a
        // redirect sends the user away first.
        let continue_state = gatehouse_crypto::random::b64url(24).map_err(no_randomness)?;
        let (so_far, continue_request) = match resuming {
            Some((changes, request)) => (Some(changes), Some(request)),
            None => (None, None),
        };
        let facts = LoginFacts {
            user,
            client,
            protocol: if req.response_type == ResponseType::Code {
                "oidc-basic-profile"
            } else {
                "oidc-implicit-profile"
            },
            scope: Some(&req.scope),
            audience: req.audience.as_deref(),
            ip: grantee.ip,
            user_agent: grantee.user_agent,
            session_id: grantee.session_id,
            redirect_uri: Some(&req.redirect_uri),
            state: req.state.as_deref(),
            response_type: Some(req.response_type.as_str()),
            // An impersonation opens no session to come back to.
            can_redirect: grantee.impersonator.is_none() && grantee.session_id.is_some(),
            continue_state: Some(&continue_state),
            continue_request,
        };
        let mut actions = match so_far {
            Some(changes) => self.resume_post_login(&facts, changes).await,
            None => self.run_post_login(&facts).await,
        }
        .map_err(OAuthError::from)?;
        if let Some(to) = actions.redirect.take() {
            if req.prompt == Some(Prompt::None) {
                return Err(Halt::Refused(AuthorizeProblem::new(
                    "interaction_required",
                    "An action needs the user to interact",
                )));
            }
            let location = to
                .location(&continue_state, &self.config().issuer())
                .ok_or_else(|| {
                    Halt::Refused(AuthorizeProblem::new(
                        "access_denied",
                        "An action asked to redirect to an address that is not an http(s) URL",
                    ))
                })?;
            let now = self.now();
            let cont = super::ActionContinuation {
                req: req.clone(),
                user_id: user.user_id.clone(),
                session_id: grantee.session_id.map(str::to_string),
                session_hash: grantee.session_hash.map(str::to_string),
                auth_time: grantee.auth_time,
                login_claims: login_claims.clone(),
                changes: actions,
                expires_at: now + ACTION_CONTINUE_LIFETIME_MS,
            };
            let sealed = self.seal(&cont)?;
            self.inner
                .actions
                .save_continuation(
                    self.tenant(),
                    &gatehouse_crypto::sha256_hex(continue_state.as_bytes()),
                    &sealed,
                    cont.expires_at,
                )
                .await?;
            return Ok(Answered::Away(location));
        }
        // `setPrimaryUser`: the code (or tokens) are for the primary user.
        let after = self
            .user_after_actions(user.clone(), &actions)
            .await
            .map_err(OAuthError::from)?;
        let user = &after;
        let mut params: Vec<(String, String)> = vec![];
        if req.response_type == ResponseType::Code {
            let code = gatehouse_crypto::random::b64url(32).map_err(no_randomness)?;
            let now = self.now();
            let record = AuthorizationCode {
                code_hash: gatehouse_crypto::sha256_hex(code.as_bytes()),
                client_id: client.client_id.clone(),
                user_id: user.user_id.clone(),
                redirect_uri: req.redirect_uri.clone(),
                scope: req.scope.clone(),
                audience: req.audience.clone(),
                nonce: req.nonce.clone(),
                code_challenge: req.code_challenge.clone(),
                code_challenge_method: req.code_challenge_method.map(|m| match m {
                    ChallengeMethod::S256 => "S256".to_string(),
                    ChallengeMethod::Plain => "plain".to_string(),
                }),
                session_id: grantee.session_id.unwrap_or_default().to_string(),
                auth_time: grantee.auth_time,
                family_id: gatehouse_crypto::random::hex(12).map_err(no_randomness)?,
                created_at: now,
                expires_at: now + CODE_LIFETIME_MS,
                used_at: None,
                login_claims: self.seal_login_claims(login_claims, &actions)?,
                impersonator_id: grantee.impersonator.map(|i| i.user_id.clone()),
                impersonator_email: grantee.impersonator.and_then(|i| i.email.clone()),
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
                auth_time: Some(grantee.auth_time / 1000),
                sid: grantee.session_id.map(String::from),
                at_hash: req.response_type == ResponseType::IdTokenToken,
                claims: login_claims.clone(),
                impersonator: grantee.impersonator.cloned(),
                actions,
            };
            // Implicit flows never get refresh tokens.
            let scope: String = req
                .scopes()
                .filter(|s| *s != "offline_access")
                .collect::<Vec<_>>()
                .join(" ");
            let issued = self
                .user_tokens(client, user, api.as_deref(), Some(&scope), &extra)
                .await?;
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
        Ok(Answered::Callback(CallbackAnswer {
            redirect_uri: req.redirect_uri.clone(),
            mode: req.response_mode,
            params,
        }))
    }
}
