//! Embedded login across origins, as Auth0 defines it for `auth0-js` and Lock: the page of an
//! application checks a password with `POST /co/authenticate` (a CORS call from one of the
//! application's origins) and gets a short-lived `login_ticket` plus a `co_verifier`; the
//! same answer sets the verifier as a cookie of ours. The page then sends the browser to
//! `/authorize?login_ticket=…`, which logs the user in only when that browser brings the
//! cookie whose digest the ticket holds, so a ticket copied elsewhere is worth nothing.
//!
//! A browser that refused the cookie (third-party cookies blocked) gets Auth0's fallback when
//! the application names a verification page (`cross_origin_loc`): a page of ours frames it,
//! asks it for the verifier auth0-js kept (`co_verifier_request` by `co_id`) and posts the
//! answer back with the pending login sealed (`POST /co/verify`, CSRF-checked).

use super::login::Authenticated;
use super::{Browser, Outcome, Step, Transaction, expired, problem_answer};
use crate::Gatehouse;
use crate::connections::{CONNECTION_NOT_ENABLED, connection_serves};
use crate::credentials::LoginRefusal;
use crate::oauth::OAuthError;
use crate::sealed::Unsealed;
use gatehouse_core::authorize::AuthorizeProblem;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};
use serde::{Deserialize, Serialize};

/// How long a login ticket may wait for its `/authorize`: auth0-js redirects at once.
const TICKET_LIFETIME_MS: i64 = 5 * 60 * 1000;
/// How long the verification page may take to hand the verifier back.
const VERIFICATION_LIFETIME_MS: i64 = 2 * 60 * 1000;
/// The verifier cookie's lifetime in seconds (auth0-js keeps its copy for 15 minutes).
pub const VERIFIER_COOKIE_SECONDS: i64 = 15 * 60;

/// `POST /co/authenticate`'s body, as auth0-js sends it, with where the call came from.
#[derive(Debug, Clone, Default)]
pub struct CrossOriginLogin {
    pub client_id: String,
    pub username: String,
    pub password: String,
    /// The connection (`realm`); the default database when absent.
    pub realm: Option<String>,
    /// The page's `Origin` header.
    pub origin: Option<String>,
    pub ip: Option<String>,
    pub user_agent: Option<String>,
}

/// The answer auth0-js reads: `login_ticket`, `co_verifier`, `co_id`.
#[derive(Debug, Clone)]
pub struct CrossOriginTicket {
    pub login_ticket: String,
    pub co_verifier: String,
    pub co_id: String,
}

/// The sealed login ticket: who proved their password, for which application, and the
/// digest of the verifier the same browser must bring back.
#[derive(Debug, Serialize, Deserialize)]
struct LoginTicket {
    id: String,
    client_id: String,
    user_id: String,
    connection: String,
    verifier_sha256: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for LoginTicket {
    const PURPOSE: &'static str = "co-login-ticket";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// The fallback page's content: the application's verification page to frame (with our
/// origin in its fragment, as auth0-js's `crossOriginVerification()` reads it), that page's
/// origin (the only one whose answer counts), the `co_id` to ask for, and the pending login.
#[derive(Debug, Clone)]
pub struct VerifierRequest {
    pub frame_url: String,
    pub frame_origin: String,
    pub co_id: String,
    pub state: String,
    /// Where the login goes after `/co/verify` (a form's redirect is bound by the page's
    /// `form-action` too).
    pub callback_origin: Option<String>,
}

/// A login waiting for its verifier from the application's verification page.
#[derive(Debug, Serialize, Deserialize)]
struct PendingVerification {
    tx: Transaction,
    ticket: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for PendingVerification {
    const PURPOSE: &'static str = "co-verification";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

fn refused(error: &'static str, description: impl Into<String>) -> OAuthError {
    OAuthError::new(403, error, description)
}

impl Gatehouse {
    /// `POST /co/authenticate`: the application must allow cross-origin authentication and
    /// list the calling origin; the password is checked as at any login (brute-force
    /// protection, custom-database scripts, breached passwords), then a ticket is handed out.
    pub async fn cross_origin_authenticate(
        &self,
        login: CrossOriginLogin,
    ) -> Result<CrossOriginTicket, OAuthError> {
        if login.client_id.is_empty() {
            return Err(OAuthError::invalid_request(
                "Missing required parameter: client_id",
            ));
        }
        if login.username.is_empty() || login.password.is_empty() {
            return Err(OAuthError::invalid_request(
                "Missing required parameters: username and password",
            ));
        }
        let client = match self.stored_client(&login.client_id).await {
            Ok(c) => c,
            // Our failures keep their cause; only a client that is not there is "unknown".
            Err(e @ (crate::ServiceError::Store(_) | crate::ServiceError::Internal(_))) => {
                return Err(e.into());
            }
            Err(_not_found) => return Err(refused("unauthorized_client", "Unknown client.")),
        };
        if !client.settings.cross_origin_authentication {
            return Err(refused(
                "unauthorized_client",
                "Cross origin login not allowed.",
            ));
        }
        match login.origin.as_deref() {
            Some(o) if client.settings.allows_origin(o) => {}
            Some(o) => {
                return Err(refused(
                    "access_denied",
                    format!("Origin {o} is not allowed."),
                ));
            }
            None => {
                return Err(refused(
                    "access_denied",
                    "Cross origin login needs the page's Origin.",
                ));
            }
        }
        let realm = login
            .realm
            .clone()
            .filter(|r| !r.is_empty())
            .unwrap_or_else(|| DEFAULT_DATABASE_CONNECTION.to_string());
        let connection = self
            .connection_by_name(&realm)
            .await?
            .filter(|c| {
                c.settings.strategy == gatehouse_core::user::DATABASE_PROVIDER
                    || c.settings.is_directory()
            })
            .ok_or_else(|| OAuthError::invalid_request(format!("Unknown realm: {realm}")))?;
        if !connection_serves(&connection, &client.client_id) {
            return Err(OAuthError::invalid_request(CONNECTION_NOT_ENABLED));
        }
        let mut event = LogEvent {
            client_id: Some(client.client_id.clone()),
            connection: Some(realm.clone()),
            ip: login.ip.clone(),
            user_agent: login.user_agent.clone(),
            user_name: Some(login.username.clone()),
            ..Default::default()
        };
        let user = match self
            .verify_password(&connection, &login.username, login.password, &mut event)
            .await
        {
            Ok(u) => u,
            Err(refusal) => {
                event.kind = codes::FAILED_CROSS_ORIGIN_AUTH.into();
                event.description = Some(refusal.to_string());
                self.record(event).await;
                // Auth0 answers a wrong password here as `access_denied` (Lock reads it).
                return Err(match refusal {
                    LoginRefusal::WrongCredentials => {
                        refused("access_denied", "Wrong email or password.")
                    }
                    other => other.into(),
                });
            }
        };
        let random = |n| {
            gatehouse_crypto::random::b64url(n)
                .map_err(|e| OAuthError::failed(crate::Failure::internal(e)))
        };
        let co_verifier = random(32)?;
        let co_id = random(12)?;
        let ticket = LoginTicket {
            id: co_id.clone(),
            client_id: client.client_id.clone(),
            user_id: user.user_id.clone(),
            connection: realm,
            verifier_sha256: gatehouse_crypto::sha256_hex(co_verifier.as_bytes()),
            expires_at: self.now() + TICKET_LIFETIME_MS,
        };
        let login_ticket = self.seal(&ticket)?;
        event.kind = codes::SUCCESS_CROSS_ORIGIN_AUTH.into();
        event.description = Some("Successful cross-origin authentication".into());
        event.user_id = Some(user.user_id);
        self.record(event).await;
        Ok(CrossOriginTicket {
            login_ticket,
            co_verifier,
            co_id,
        })
    }

    /// `/authorize?login_ticket=…`: the ticket must be for this application, unspent, and
    /// match the verifier cookie this browser brings; then the login completes as any other.
    /// Every refusal goes to the application's callback as `access_denied`.
    pub(super) async fn redeem_login_ticket(
        &self,
        ticket: &str,
        tx: Transaction,
        browser: &Browser,
    ) -> Outcome {
        self.redeem(ticket, tx, browser.co_verifier.as_deref(), browser)
            .await
    }

    /// `POST /co/verify`: the verifier the application's verification page handed back.
    pub async fn verify_cross_origin(
        &self,
        state: &str,
        verifier: &str,
        browser: &Browser,
    ) -> Outcome {
        let Ok(p) = self.unseal::<PendingVerification>(state) else {
            return expired().into();
        };
        let verifier = Some(verifier).filter(|v| !v.is_empty());
        self.redeem(&p.ticket, p.tx, verifier, browser).await
    }

    async fn redeem(
        &self,
        ticket: &str,
        tx: Transaction,
        verifier: Option<&str>,
        browser: &Browser,
    ) -> Outcome {
        let deny = |why: &str| -> Outcome {
            problem_answer(&tx.req, AuthorizeProblem::new("access_denied", why)).into()
        };
        let t: LoginTicket = match self.unseal(ticket) {
            Ok(t) => t,
            Err(Unsealed::Expired) => return deny("The login ticket has expired."),
            Err(Unsealed::Invalid) => return deny("The login ticket is not valid."),
        };
        if t.client_id != tx.req.client_id {
            return deny("The login ticket is not valid.");
        }
        // No cookie: the application's verification page may still hold the verifier.
        if verifier.is_none()
            && let Some(loc) = self.verification_page(&t.client_id).await
        {
            return self.ask_verification_page(ticket, t.id, tx, &loc);
        }
        let verified = verifier.is_some_and(|v| {
            gatehouse_crypto::ct_eq(
                gatehouse_crypto::sha256_hex(v.as_bytes()).as_bytes(),
                t.verifier_sha256.as_bytes(),
            )
        });
        if !verified {
            return deny(
                "The cross-origin login could not be verified: this browser did not keep the co_verifier cookie of /co/authenticate.",
            );
        }
        match self
            .inner
            .outbox
            .use_ticket(self.tenant(), &t.id, self.now(), t.expires_at)
            .await
        {
            Ok(true) => {}
            Ok(false) => return deny("The login ticket was already used."),
            Err(e) => return Step::from(crate::ServiceError::from(e)).into(),
        }
        let event = LogEvent {
            client_id: Some(t.client_id.clone()),
            connection: Some(t.connection.clone()),
            ..browser.event()
        };
        let proven = Authenticated::new(t.user_id, event, "Successful login");
        self.complete_login(tx, proven, browser).await
    }

    /// The application's `cross_origin_loc`, when it has one (an unreadable application
    /// means no fallback: the login is refused as without one).
    async fn verification_page(&self, client_id: &str) -> Option<String> {
        self.stored_client(client_id)
            .await
            .ok()?
            .settings
            .cross_origin_loc
    }

    fn ask_verification_page(
        &self,
        ticket: &str,
        co_id: String,
        tx: Transaction,
        loc: &str,
    ) -> Outcome {
        let (Some(frame_origin), Some(ours)) = (
            gatehouse_core::redirect::web_origin(loc),
            gatehouse_core::redirect::web_origin(&self.config().public_url),
        ) else {
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new(
                    "access_denied",
                    "The cross-origin verification page is not valid.",
                ),
            )
            .into();
        };
        let callback_origin = gatehouse_core::redirect::web_origin(&tx.req.redirect_uri);
        let pending = PendingVerification {
            tx,
            ticket: ticket.to_string(),
            expires_at: self.now() + VERIFICATION_LIFETIME_MS,
        };
        match self.seal(&pending) {
            Ok(state) => Step::VerifyCrossOrigin(VerifierRequest {
                frame_url: format!(
                    "{}#origin={}",
                    loc.split('#').next().unwrap_or(loc),
                    gatehouse_core::authorize::percent_encode(&ours)
                ),
                frame_origin,
                co_id,
                state,
                callback_origin,
            })
            .into(),
            Err(e) => Step::from(e).into(),
        }
    }
}
