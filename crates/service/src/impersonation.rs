//! Impersonation: an administrator logs in as a user, into one application, to see what the
//! user sees (Auth0's legacy `POST /users/{user_id}/impersonate`; docs/impersonation.md).
//!
//! Starting one (the API, or the dashboard's "Log in as this user") checks everything once
//! (the administrator holds the permission, `crate::admin::may_impersonate`; the user exists,
//! is not blocked and is on a connection the application may use; the callback is one of the
//! application's, exactly) and answers a URL carrying a sealed *ticket*: bound to its purpose,
//! valid five minutes by the service clock, and spent at its first opening (the used-tickets
//! table the reset tickets use). Opening it checks again what may have changed since, then
//! answers the callback exactly as `/authorize` does (`browser::authorize::answer`): a code
//! that names the administrator, or tokens in the fragment. The tokens carry `act`, the ID
//! token `impersonated` and `impersonator`.
//!
//! What it leaves alone, on purpose: no SSO session is created (the login is single use; a
//! session would let the administrator's browser go on logging into every application as the
//! user), the user's `logins_count`, `last_login` and `last_ip` stay theirs, and no refresh
//! token is issued (it would outlive the five audited minutes). Both users' logs record it:
//! `sapi` on the administrator when it starts (`fapi` when refused), `s` with
//! `details.impersonator` on the user when it is opened.

use crate::Gatehouse;
use crate::admin::{Admin, may_impersonate};
use crate::browser::authorize::Grantee;
use crate::browser::{Browser, Halt, Step};
use crate::clients::DASHBOARD_CLIENT_ID;
use crate::connections::{connection_not_enabled, connection_serves};
use crate::error::{Result, ServiceError};
use crate::oauth::Impersonator;
use crate::sealed::Unsealed;
use gatehouse_core::authorize::{AuthorizeRequest, ResponseMode, ResponseType, percent_encode};
use gatehouse_core::impersonation::{ImpersonationRequest, RequestProblem};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_core::redirect::web_origin;
use gatehouse_core::user::User;
use gatehouse_store::StoredClient;
use serde::{Deserialize, Serialize};
use serde_json::json;

/// How long the single-use URL can be opened.
pub const TICKET_LIFETIME_MS: i64 = 5 * 60 * 1000;

/// The scopes the dashboard's "Log in as this user" asks for.
const DASHBOARD_SCOPE: &str = "openid profile email";

/// What the single-use URL carries, sealed: everything the login needs, checked when it was
/// made and again (what can change) when it is opened.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    /// Recorded in `used_tickets` at the first opening.
    id: String,
    user_id: String,
    impersonator_id: String,
    client_id: String,
    response_type: ResponseType,
    callback_url: String,
    state: Option<String>,
    scope: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for Ticket {
    const PURPOSE: &'static str = "impersonation-ticket";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// An application a user may be impersonated into, with the callbacks that can receive
/// the login (the dashboard's form lists them).
#[derive(Debug, Clone)]
pub struct ImpersonationTarget {
    pub client_id: String,
    pub name: String,
    pub callbacks: Vec<String>,
}

fn refused(message: &str) -> ServiceError {
    ServiceError::NotAllowed {
        code: "operation_not_allowed",
        message: message.into(),
    }
}

/// A page for the person who opened the URL: never redirected to the application, which
/// did not ask for this login.
fn page(status: u16, message: &str) -> Step {
    Step::ErrorPage {
        status,
        message: message.into(),
    }
}

/// The grant type a response type needs the application to allow.
fn grant_for(response_type: ResponseType) -> &'static str {
    match response_type {
        ResponseType::Code => "authorization_code",
        _ => "implicit",
    }
}

/// A callback that may receive an impersonated login: registered as is (wildcards are
/// patterns, not addresses; fragments never carry answers).
fn usable_callback(client: &StoredClient, url: &str) -> bool {
    !url.contains('*') && !url.contains('#') && client.settings.callbacks.iter().any(|c| c == url)
}

impl Gatehouse {
    /// `POST /users/{user_id}/impersonate`, for a Management API client whose token carries
    /// `impersonate:users`: the single-use URL.
    pub async fn impersonate(
        &self,
        user_id: &str,
        body: Payload,
        api_client_id: &str,
        origin: &Browser,
    ) -> Result<String> {
        let req = match ImpersonationRequest::from_payload(body) {
            Ok(r) => r,
            Err(p) => {
                let e = match p {
                    RequestProblem::Invalid(b) => ServiceError::InvalidBody(b),
                    RequestProblem::UnsupportedProtocol(m) => ServiceError::NotSupported(m),
                };
                self.log_start(user_id, None, api_client_id, origin, &Err(&e))
                    .await;
                return Err(e);
            }
        };
        self.begin_impersonation(user_id, &req, api_client_id, origin)
            .await
    }

    /// The dashboard's "Log in as this user": the signed-in administrator impersonates the
    /// user into the application, the answer going to `callback_url` as an authorization
    /// code. The URL to send the browser to.
    pub async fn impersonate_from_dashboard(
        &self,
        admin: &Admin,
        user_id: &str,
        client_id: &str,
        callback_url: &str,
        origin: &Browser,
    ) -> Result<String> {
        let req = ImpersonationRequest {
            impersonator_id: admin.user.user_id.clone(),
            client_id: client_id.to_string(),
            response_type: ResponseType::Code,
            callback_url: Some(callback_url.to_string()),
            state: None,
            scope: DASHBOARD_SCOPE.into(),
        };
        self.begin_impersonation(user_id, &req, DASHBOARD_CLIENT_ID, origin)
            .await
    }

    /// The applications `target` could be impersonated into from a browser, with their
    /// usable callbacks (`http(s)`, registered as is): those allowing the code flow and
    /// enabled on the user's connection.
    pub async fn impersonation_targets(&self, target: &User) -> Result<Vec<ImpersonationTarget>> {
        let Some(connection) = self.connection_by_name(&target.connection).await? else {
            return Ok(vec![]);
        };
        let mut found = vec![];
        for client_id in &connection.settings.enabled_clients {
            if client_id == DASHBOARD_CLIENT_ID {
                continue;
            }
            let client = match self.stored_client(client_id).await {
                Ok(c) => c,
                Err(ServiceError::NotFound { .. }) => continue,
                Err(e) => return Err(e),
            };
            if !client.settings.allows_grant("authorization_code") {
                continue;
            }
            let callbacks: Vec<String> = client
                .settings
                .callbacks
                .iter()
                .filter(|c| usable_callback(&client, c) && web_origin(c).is_some())
                .cloned()
                .collect();
            if !callbacks.is_empty() {
                found.push(ImpersonationTarget {
                    client_id: client.client_id.clone(),
                    name: client.settings.name.clone(),
                    callbacks,
                });
            }
        }
        found.sort_by(|a, b| a.name.cmp(&b.name).then(a.client_id.cmp(&b.client_id)));
        Ok(found)
    }

    /// Checks a request, seals its ticket and logs the start (or the refusal).
    async fn begin_impersonation(
        &self,
        user_id: &str,
        req: &ImpersonationRequest,
        requested_by: &str,
        origin: &Browser,
    ) -> Result<String> {
        let result = self.impersonation_ticket(user_id, req).await;
        let logged = result.as_ref().map(|(t, _)| t);
        self.log_start(user_id, Some(req), requested_by, origin, &logged)
            .await;
        result.map(|(_, url)| url)
    }

    async fn impersonation_ticket(
        &self,
        user_id: &str,
        req: &ImpersonationRequest,
    ) -> Result<(Ticket, String)> {
        let user = self.get_user(user_id).await?;
        let impersonator = match self.get_user(&req.impersonator_id).await {
            Ok(u) => u,
            Err(ServiceError::NotFound { .. } | ServiceError::InvalidBody(_)) => {
                return Err(ServiceError::BadReference {
                    code: "inexistent_user",
                    message: "The impersonator does not exist.".into(),
                });
            }
            Err(e) => return Err(e),
        };
        if !may_impersonate(&impersonator, &user) {
            return Err(refused(
                "The impersonator may not log in as this user: it takes the admin and impersonator roles.",
            ));
        }
        if user.blocked == Some(true) {
            return Err(refused(
                "The user is blocked: they cannot be logged in, not even by impersonation.",
            ));
        }
        let client = match self.stored_client(&req.client_id).await {
            Ok(c) => c,
            Err(ServiceError::NotFound { code, message }) => {
                return Err(ServiceError::BadReference { code, message });
            }
            Err(e) => return Err(e),
        };
        if client.client_id == DASHBOARD_CLIENT_ID {
            return Err(refused(
                "Impersonation into the dashboard is not allowed: choose an application.",
            ));
        }
        let grant = grant_for(req.response_type);
        if !client.settings.allows_grant(grant) {
            return Err(ServiceError::NotAllowed {
                code: "unauthorized_client",
                message: format!("Grant type '{grant}' not allowed for the client."),
            });
        }
        let callback_url = match &req.callback_url {
            Some(c) if usable_callback(&client, c) => c.clone(),
            Some(_) => {
                return Err(ServiceError::InvalidUri(
                    "The callback_url must be exactly one of the application's Allowed Callback URLs."
                        .into(),
                ));
            }
            // Auth0 falls back to the application's callback; only when it is unambiguous.
            None => match client.settings.callbacks.as_slice() {
                [only] if usable_callback(&client, only) => only.clone(),
                _ => {
                    return Err(InvalidBody::new(
                        "Payload validation error: 'Missing required property: callback_url' on property additionalParameters.",
                    )
                    .into());
                }
            },
        };
        match self.connection_by_name(&user.connection).await? {
            Some(c) if connection_serves(&c, &client.client_id) => {}
            _ => return Err(connection_not_enabled()),
        }
        let ticket = Ticket {
            id: gatehouse_crypto::random::hex(16).map_err(ServiceError::internal)?,
            user_id: user.user_id.clone(),
            impersonator_id: impersonator.user_id.clone(),
            client_id: client.client_id.clone(),
            response_type: req.response_type,
            callback_url,
            state: req.state.clone(),
            scope: req.scope.clone(),
            expires_at: self.now() + TICKET_LIFETIME_MS,
        };
        let url = format!(
            "{}/users/{}/impersonate?ticket={}",
            self.config().public_url,
            percent_encode(&ticket.impersonator_id),
            self.seal(&ticket)?
        );
        Ok((ticket, url))
    }

    /// The administrator's log: `sapi` for an impersonation started, `fapi` for a refused
    /// one (the impersonator named in a refused request is not attributed the event: the
    /// name may be anyone's).
    async fn log_start(
        &self,
        user_id: &str,
        req: Option<&ImpersonationRequest>,
        requested_by: &str,
        origin: &Browser,
        result: &std::result::Result<&Ticket, &ServiceError>,
    ) {
        let mut details = serde_json::Map::new();
        details.insert(
            "impersonation".into(),
            json!({
                "user_id": user_id,
                "impersonator_id": req.map(|r| &r.impersonator_id),
                "client_id": req.map(|r| &r.client_id),
            }),
        );
        let event = match result {
            Ok(t) => {
                details.insert("expires_at".into(), json!(t.expires_at));
                LogEvent {
                    kind: codes::SUCCESS_API_OPERATION.into(),
                    description: Some(format!("Impersonation of {user_id} started")),
                    user_id: Some(t.impersonator_id.clone()),
                    ..origin.event()
                }
            }
            Err(e) => {
                details.insert("error".into(), json!(e.to_string()));
                LogEvent {
                    kind: codes::FAILED_API_OPERATION.into(),
                    description: Some(format!("Impersonation of {user_id} refused")),
                    ..origin.event()
                }
            }
        };
        self.record(LogEvent {
            client_id: Some(requested_by.to_string()),
            details,
            ..event
        })
        .await;
    }

    /// `GET /users/{impersonator_id}/impersonate?ticket=…`: spends the ticket and answers
    /// the application's callback as the user. Anything wrong is a page for whoever opened
    /// the URL.
    pub async fn open_impersonation(
        &self,
        impersonator_id: &str,
        ticket: &str,
        browser: &Browser,
    ) -> Step {
        let t: Ticket = match self.unseal(ticket) {
            Ok(t) => t,
            Err(Unsealed::Expired) => {
                return page(
                    400,
                    "This impersonation link has expired. Start the impersonation again.",
                );
            }
            Err(Unsealed::Invalid) => return page(400, "This impersonation link is not valid."),
        };
        if t.impersonator_id != impersonator_id {
            return page(400, "This impersonation link is not valid.");
        }
        // Spent at the first opening, whatever happens next, so it can never be tried twice.
        match self
            .inner
            .outbox
            .use_ticket(self.tenant(), &t.id, self.now(), t.expires_at)
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return page(
                    400,
                    "This impersonation link was already used. Start the impersonation again.",
                );
            }
            Err(e) => return Step::Failed(e.into()),
        }
        match self.impersonated_answer(&t, browser).await {
            Ok(step) => step,
            Err(Halt::Failed(f)) => Step::Failed(f),
            Err(Halt::Refused(p)) => page(400, &p.description),
        }
    }

    /// The callback answer for an opened ticket, after checking again what may have changed
    /// in the five minutes (the users, the permission, the application).
    async fn impersonated_answer(
        &self,
        t: &Ticket,
        browser: &Browser,
    ) -> std::result::Result<Step, Halt> {
        let gone = |what: &str| Ok(page(400, what));
        let Some(user) = self.live_user(&t.user_id).await? else {
            return gone("The user no longer exists.");
        };
        let Some(impersonator) = self.live_user(&t.impersonator_id).await? else {
            return gone("The impersonator no longer exists.");
        };
        if !may_impersonate(&impersonator, &user) {
            return Ok(page(
                403,
                "The impersonator may no longer log in as this user.",
            ));
        }
        if user.blocked == Some(true) {
            return Ok(page(403, "The user is blocked."));
        }
        let client = match self.stored_client(&t.client_id).await {
            Ok(c) => c,
            Err(ServiceError::NotFound { .. }) => return gone("The application no longer exists."),
            Err(e) => return Err(e.into()),
        };
        let serves = self
            .connection_by_name(&user.connection)
            .await?
            .is_some_and(|c| connection_serves(&c, &client.client_id));
        if !usable_callback(&client, &t.callback_url)
            || !client.settings.allows_grant(grant_for(t.response_type))
            || !serves
        {
            return gone("The application's settings changed: it cannot receive this login.");
        }
        let req = AuthorizeRequest {
            client_id: client.client_id.clone(),
            redirect_uri: t.callback_url.clone(),
            response_type: t.response_type,
            response_mode: match t.response_type {
                ResponseType::Code => ResponseMode::Query,
                _ => ResponseMode::Fragment,
            },
            scope: t.scope.clone(),
            state: t.state.clone(),
            nonce: None,
            audience: None,
            connection: None,
            prompt: None,
            max_age: None,
            login_hint: None,
            signup_first: false,
            code_challenge: None,
            code_challenge_method: None,
        };
        let actor = Impersonator {
            user_id: impersonator.user_id.clone(),
            email: impersonator.email.clone(),
        };
        let grantee = Grantee {
            user: &user,
            session_id: None,
            auth_time: self.now(),
            impersonator: Some(&actor),
            ip: None,
            user_agent: None,
            session_hash: None,
        };
        let answer = match self
            .answer(&client, &req, grantee, &Default::default(), None)
            .await?
        {
            crate::browser::authorize::Answered::Callback(a) => a,
            // Impersonations may not be redirected (`can_redirect` is false for them).
            crate::browser::authorize::Answered::Away(_) => {
                return Err(
                    ServiceError::broken("an impersonation was sent away by an action").into(),
                );
            }
        };
        let mut details = serde_json::Map::new();
        details.insert(
            "impersonator".into(),
            json!({"user_id": actor.user_id, "email": actor.email}),
        );
        self.record(LogEvent {
            kind: codes::SUCCESS_LOGIN.into(),
            description: Some("Successful login (impersonated by an administrator)".into()),
            client_id: Some(client.client_id.clone()),
            connection: Some(user.connection.clone()),
            user_id: Some(user.user_id.clone()),
            user_name: user.email.clone().or(user.username.clone()),
            details,
            ..browser.event()
        })
        .await;
        Ok(Step::Callback(answer))
    }

    /// A user as stored now (not a linked secondary); `None` when gone.
    async fn live_user(&self, user_id: &str) -> std::result::Result<Option<User>, Halt> {
        match self.get_user(user_id).await {
            Ok(u) => Ok(Some(u)),
            Err(ServiceError::NotFound { .. } | ServiceError::InvalidBody(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
}
