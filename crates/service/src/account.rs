//! The account lifecycle over email: verification and password-reset tickets, the
//! `/dbconnections` endpoints, and what a password change sets off.
//!
//! Tickets are sealed tokens (AES-GCM with the server key) holding the user, the purpose and
//! the expiry; a used ticket's id is recorded so it works once, and a reset ticket also
//! carries the password's date, so it dies when the password changes by any route.

use crate::Gatehouse;
use crate::browser::Browser;
use crate::connections::{connection_not_enabled, connection_serves};
use crate::error::{Result, ServiceError};
use gatehouse_core::authorize::AuthorizeRequest;
use gatehouse_core::email::{EmailTemplate, render};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{DATABASE_PROVIDER, NewUser, User, UserPatch};
use gatehouse_store::OutboxMessage;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// Auth0's default ticket lifetime: five days.
const DEFAULT_TICKET_TTL_SECS: i64 = 432_000;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TicketKind {
    PasswordReset,
    EmailVerification,
    /// Lifts the brute-force blocks of a user (the link in the blocked-account email).
    Unblock,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
struct Ticket {
    id: String,
    kind: TicketKind,
    user_id: String,
    expires_at: i64,
    result_url: Option<String>,
    mark_email_verified: bool,
    /// The user's `password_set_date` when the ticket was made (reset tickets).
    password_stamp: Option<i64>,
    /// The login a reset was asked for from (the hosted login page's "Forgot password?"):
    /// once the password is set, the user goes back to it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    login: Option<gatehouse_core::authorize::AuthorizeRequest>,
}

impl crate::sealed::Sealable for Ticket {
    const PURPOSE: &'static str = "account-ticket";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// Why a ticket link does not work (shown on the page).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TicketRefused {
    #[error("This link is not valid.")]
    Invalid,
    #[error("This link has expired. Ask for a new one.")]
    Expired,
    #[error("This link was already used. Ask for a new one.")]
    Used,
    /// Our failure (e.g. the database could not be reached): the link may still be good.
    #[error("Something went wrong on our side. Try the link again in a moment.")]
    Failed(crate::Failure),
}

impl From<ServiceError> for TicketRefused {
    fn from(e: ServiceError) -> Self {
        TicketRefused::Failed(e.into())
    }
}

impl From<gatehouse_store::StoreError> for TicketRefused {
    fn from(e: gatehouse_store::StoreError) -> Self {
        TicketRefused::Failed(e.into())
    }
}

/// What the reset page shows.
#[derive(Debug, Clone)]
pub struct ResetScreen {
    pub email: Option<String>,
    pub policy: String,
}

/// Where to go after a ticket did its job.
#[derive(Debug, Clone)]
pub struct TicketDone {
    pub redirect: Option<String>,
    pub message: &'static str,
    /// A link back to the application's login page (a reset asked for from it).
    pub back_to_login: Option<String>,
}

fn absolute_url(field: &str, v: &str) -> Result<()> {
    if v.starts_with("https://") || v.starts_with("http://") {
        Ok(())
    } else {
        Err(gatehouse_core::payload::InvalidBody::on_property(
            format!("{field} must be an absolute http(s) URL"),
            field,
        )
        .into())
    }
}

/// What `/dbconnections/signup` answers: the user's id without its provider prefix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignupAnswer {
    pub id: String,
    pub email: Option<String>,
    pub email_verified: bool,
    pub username: Option<String>,
}

/// `/dbconnections/signup`'s refusal of the request itself (Auth0's `invalid_signup`).
fn invalid_signup(message: impl Into<String>) -> ServiceError {
    ServiceError::NotAllowed {
        code: "invalid_signup",
        message: message.into(),
    }
}

/// A public sign-up may set only what Auth0's sign-up accepts; `email_verified`, `blocked`,
/// `app_metadata`, `user_id` and the like are for the Management API. `user_metadata` is at
/// most 10 string fields of 500 characters in all.
fn check_signup_fields(fields: &Map<String, Value>) -> std::result::Result<(), String> {
    const ALLOWED: &[&str] = &[
        "email",
        "password",
        "connection",
        "username",
        "given_name",
        "family_name",
        "name",
        "nickname",
        "picture",
        "user_metadata",
    ];
    if let Some(k) = fields.keys().find(|k| !ALLOWED.contains(&k.as_str())) {
        return Err(format!("{k} cannot be set at sign-up"));
    }
    match fields.get("user_metadata") {
        None | Some(Value::Null) => Ok(()),
        Some(Value::Object(m)) => {
            let total: usize = m
                .values()
                .map(|v| v.as_str().map(str::len).ok_or(()))
                .sum::<std::result::Result<usize, ()>>()
                .map_err(|_| "user_metadata values must be strings".to_string())?;
            if m.len() > 10 || total > 500 {
                return Err("user_metadata is limited to 10 fields and 500 characters".into());
            }
            Ok(())
        }
        Some(_) => Err("user_metadata must be an object".into()),
    }
}

impl Gatehouse {
    /// Renders a built-in email for a user with the tenant's name.
    pub(crate) async fn email_for(
        &self,
        template: EmailTemplate,
        user: &User,
        url: Option<&str>,
    ) -> Result<Option<OutboxMessage>> {
        self.email_with(template, user, url, &[]).await
    }

    /// [`Gatehouse::email_for`] with more template variables.
    pub(crate) async fn email_with(
        &self,
        template: EmailTemplate,
        user: &User,
        url: Option<&str>,
        extra: &[(&str, &str)],
    ) -> Result<Option<OutboxMessage>> {
        let Some(to) = user.email.as_deref() else {
            return Ok(None);
        };
        let settings = self.tenant_settings().await?;
        let name = settings
            .friendly_name
            .clone()
            .unwrap_or_else(|| self.tenant().to_string());
        let support = settings
            .support_email
            .clone()
            .or(settings.support_url.clone())
            .unwrap_or_else(|| "support".into());
        let vars = [
            ("user.email", to),
            ("user.name", user.name.as_deref().unwrap_or(to)),
            ("url", url.unwrap_or("")),
            ("friendly_name", &name),
            ("tenant", self.tenant()),
            ("support", &support),
            ("support_url", settings.support_url.as_deref().unwrap_or("")),
        ];
        let vars: Vec<(&str, &str)> = vars.iter().chain(extra.iter()).copied().collect();
        let custom = settings.email_templates.get(template.name());
        let rendered = match custom {
            // A disabled template sends nothing, as in Auth0.
            Some(c) if !c.enabled => return Ok(None),
            Some(c) => c.render(template, to, &vars),
            None => render(template, to, &vars),
        };
        // Bodies carry live links and codes: sealed until sent, blanked after (security
        // review M8).
        let seal = |body: &str| {
            self.inner
                .secrets
                .seal_text(gatehouse_store::BODY_PURPOSE, body)
                .map_err(ServiceError::internal)
        };
        Ok(Some(OutboxMessage {
            id: gatehouse_crypto::random::hex(16).map_err(ServiceError::internal)?,
            template: rendered.template.to_string(),
            sender: custom.and_then(|c| c.from.clone()),
            recipient: rendered.to,
            subject: rendered.subject,
            text_body: seal(&rendered.text)?,
            html_body: seal(&rendered.html)?,
            sealed: true,
            created_at: self.now(),
            attempts: 0,
        }))
    }

    fn ticket_url(&self, t: &Ticket) -> Result<String> {
        let token = self.seal(t)?;
        let path = match t.kind {
            TicketKind::PasswordReset => "lo/reset",
            TicketKind::EmailVerification => "lo/verify_email",
            TicketKind::Unblock => "lo/unblock",
        };
        Ok(format!(
            "{}/{path}?ticket={token}",
            self.config().public_url
        ))
    }

    fn new_ticket(
        &self,
        kind: TicketKind,
        user: &User,
        ttl_secs: i64,
        result_url: Option<String>,
        mark_email_verified: bool,
    ) -> Result<Ticket> {
        Ok(Ticket {
            id: gatehouse_crypto::random::hex(16).map_err(ServiceError::internal)?,
            kind,
            user_id: user.user_id.clone(),
            expires_at: self.now() + ttl_secs * 1000,
            result_url,
            mark_email_verified,
            password_stamp: (kind == TicketKind::PasswordReset)
                .then_some(user.password_set_date.unwrap_or(0)),
            login: None,
        })
    }

    /// Opens a ticket and checks it against the user as they are now.
    async fn open_ticket(
        &self,
        token: &str,
        kind: TicketKind,
    ) -> std::result::Result<(Ticket, User), TicketRefused> {
        let t: Ticket = self.unseal(token).map_err(|e| match e {
            crate::sealed::Unsealed::Invalid => TicketRefused::Invalid,
            crate::sealed::Unsealed::Expired => TicketRefused::Expired,
        })?;
        if t.kind != kind {
            return Err(TicketRefused::Invalid);
        }
        let user = self
            .inner
            .users
            .get(self.tenant(), &t.user_id)
            .await?
            .ok_or(TicketRefused::Invalid)?
            .user;
        if kind == TicketKind::PasswordReset
            && t.password_stamp != Some(user.password_set_date.unwrap_or(0))
        {
            return Err(TicketRefused::Used);
        }
        Ok((t, user))
    }

    async fn ticket_body_user(&self, p: &mut Payload, allow_email: bool) -> Result<User> {
        let user_id = p.string("user_id")?;
        let email = if allow_email {
            p.string("email")?
        } else {
            None
        };
        let connection_id = if allow_email {
            p.string("connection_id")?
        } else {
            None
        };
        match (user_id, email, connection_id) {
            (Some(id), None, None) => self.get_user(&id).await,
            (None, Some(email), Some(conn)) => {
                let conn = self.stored_connection(&conn).await?;
                self.inner
                    .users
                    .by_identifier(self.tenant(), &email, Some(&conn.id))
                    .await?
                    .into_iter()
                    .next()
                    .map(|v| v.user)
                    .ok_or_else(ServiceError::user_not_found)
            }
            _ => Err(gatehouse_core::payload::InvalidBody::new(if allow_email {
                "Payload validation error: give user_id, or connection_id and email."
            } else {
                "Payload validation error: 'Missing required property: user_id'."
            })
            .into()),
        }
    }

    fn ticket_options(p: &mut Payload) -> Result<(i64, Option<String>)> {
        let ttl = match p.integer("ttl_sec")? {
            None | Some(0) => DEFAULT_TICKET_TTL_SECS,
            Some(t) if (1..=30 * 86_400).contains(&t) => t,
            Some(_) => {
                return Err(gatehouse_core::payload::InvalidBody::on_property(
                    "ttl_sec must be between 0 and 2592000",
                    "ttl_sec",
                )
                .into());
            }
        };
        let result_url = p.string("result_url")?;
        if let Some(u) = &result_url {
            absolute_url("result_url", u)?;
        }
        Ok((ttl, result_url))
    }

    /// `POST /api/v2/tickets/password-change`: the ticket's URL.
    pub async fn password_change_ticket(&self, mut p: Payload) -> Result<String> {
        p.allow_only(&[
            "user_id",
            "email",
            "connection_id",
            "result_url",
            "ttl_sec",
            "mark_email_as_verified",
            "client_id",
            "includeEmailInRedirect",
        ])?;
        let (ttl, result_url) = Self::ticket_options(&mut p)?;
        let mark = p.bool("mark_email_as_verified")?.unwrap_or(false);
        let _ = p.string("client_id")?;
        let _ = p.bool("includeEmailInRedirect")?;
        let user = self.ticket_body_user(&mut p, true).await?;
        if user.provider != DATABASE_PROVIDER {
            return Err(ServiceError::NotSupported(
                "Only database users have passwords".into(),
            ));
        }
        let t = self.new_ticket(TicketKind::PasswordReset, &user, ttl, result_url, mark)?;
        self.ticket_url(&t)
    }

    /// `POST /api/v2/tickets/email-verification`: the ticket's URL.
    pub async fn email_verification_ticket(&self, mut p: Payload) -> Result<String> {
        p.allow_only(&[
            "user_id",
            "result_url",
            "ttl_sec",
            "client_id",
            "includeEmailInRedirect",
            "identity",
        ])?;
        let (ttl, result_url) = Self::ticket_options(&mut p)?;
        let _ = p.string("client_id")?;
        let _ = p.bool("includeEmailInRedirect")?;
        let _ = p.object("identity")?;
        let user = self.ticket_body_user(&mut p, false).await?;
        let t = self.new_ticket(TicketKind::EmailVerification, &user, ttl, result_url, true)?;
        self.ticket_url(&t)
    }

    /// The verification email for a new user, when their email is not verified yet.
    pub(crate) async fn verification_email(&self, user: &User) -> Result<Option<OutboxMessage>> {
        if user.email_verified || user.email.is_none() {
            return Ok(None);
        }
        let (ttl, result_url) = self.link_options(EmailTemplate::VerifyEmail).await?;
        let t = self.new_ticket(TicketKind::EmailVerification, user, ttl, result_url, true)?;
        let url = self.ticket_url(&t)?;
        self.email_for(EmailTemplate::VerifyEmail, user, Some(&url))
            .await
    }

    /// The link lifetime and result URL a tenant's template sets (else 5 days, none).
    async fn link_options(&self, template: EmailTemplate) -> Result<(i64, Option<String>)> {
        let settings = self.tenant_settings().await?;
        let custom = settings.email_templates.get(template.name());
        Ok((
            custom
                .and_then(|c| c.url_lifetime_in_seconds)
                .unwrap_or(DEFAULT_TICKET_TTL_SECS),
            custom.and_then(|c| c.result_url.clone()),
        ))
    }

    /// A single-use reset link for a user, as the reset template configures it.
    pub(crate) async fn reset_link(&self, user: &User) -> Result<String> {
        self.reset_link_from(user, None).await
    }

    /// [`Gatehouse::reset_link`], leading back to `login` (the hosted login page's request)
    /// once the password is set.
    async fn reset_link_from(
        &self,
        user: &User,
        login: Option<&AuthorizeRequest>,
    ) -> Result<String> {
        let (ttl, result_url) = self.link_options(EmailTemplate::ResetEmail).await?;
        let mut t = self.new_ticket(TicketKind::PasswordReset, user, ttl, result_url, true)?;
        t.login = login.cloned();
        self.ticket_url(&t)
    }

    /// `POST /dbconnections/change_password`: emails a reset link when the user exists. The
    /// caller answers the same either way, so the endpoint tells nobody who has an account.
    pub async fn request_password_reset(
        &self,
        client_id: Option<&str>,
        email: &str,
        connection: &str,
        browser: &Browser,
    ) -> Result<()> {
        self.send_password_reset(client_id, email, connection, browser, None)
            .await
    }

    /// What [`Gatehouse::request_password_reset`] does, for the hosted login page too, whose
    /// `login` the emailed link returns to.
    pub(crate) async fn send_password_reset(
        &self,
        client_id: Option<&str>,
        email: &str,
        connection: &str,
        browser: &Browser,
        login: Option<&AuthorizeRequest>,
    ) -> Result<()> {
        let mut event = LogEvent {
            client_id: client_id.map(String::from),
            connection: Some(connection.to_string()),
            user_name: Some(email.to_string()),
            ..browser.event()
        };
        let conn = self
            .connection_by_name(connection)
            .await?
            .filter(|c| c.settings.strategy == DATABASE_PROVIDER);
        if let (Some(c), Some(client_id)) = (&conn, client_id)
            && !connection_serves(c, client_id)
        {
            return Err(connection_not_enabled());
        }
        let user = match &conn {
            Some(c) => self
                .inner
                .users
                .by_identifier(self.tenant(), email, Some(&c.id))
                .await?
                .into_iter()
                .next()
                .map(|v| v.user),
            None => None,
        };
        // A custom database may know the address before Gatehouse does (`get_user`).
        let user = match (
            user,
            conn.as_ref()
                .and_then(crate::custom_db::CustomConnection::of),
        ) {
            (None, Some(c)) => match self.user_from_store(&c, email).await {
                Ok(found) => found,
                // The endpoint answers the same either way; the failure goes to the log.
                Err(ServiceError::Script { message, .. }) => {
                    event.kind = codes::FAILED_CHANGE_PASSWORD_REQUEST.into();
                    event.description = Some(message);
                    self.record(event).await;
                    return Ok(());
                }
                Err(e) => return Err(e),
            },
            (user, _) => user,
        };
        let Some(user) = user.filter(|u| u.email.is_some()) else {
            event.kind = codes::FAILED_CHANGE_PASSWORD_REQUEST.into();
            event.description = Some("No such user on this connection".into());
            self.record(event).await;
            return Ok(());
        };
        let url = self.reset_link_from(&user, login).await?;
        if let Some(m) = self
            .email_for(EmailTemplate::ResetEmail, &user, Some(&url))
            .await?
        {
            self.inner.outbox.enqueue(self.tenant(), &[m]).await?;
        }
        event.kind = codes::SUCCESS_CHANGE_PASSWORD_REQUEST.into();
        event.description = Some("Change password request: email sent".into());
        event.user_id = Some(user.user_id.clone());
        self.record(event).await;
        Ok(())
    }

    /// `GET /lo/reset`: checks the ticket and describes the form.
    pub async fn reset_screen(
        &self,
        token: &str,
    ) -> std::result::Result<ResetScreen, TicketRefused> {
        let (_, user) = self.open_ticket(token, TicketKind::PasswordReset).await?;
        let policy = match self.stored_connection(&user.connection_id).await {
            Ok(c) => c.settings.password_policy().describe(),
            Err(e @ ServiceError::Store(_)) => return Err(e.into()),
            Err(_) => String::new(),
        };
        Ok(ResetScreen {
            email: user.email,
            policy,
        })
    }

    /// `POST /lo/reset`: sets the new password (connection policy and history enforced).
    /// `Err(Ok(message))` re-shows the form with the message; `Err(Err(_))` is a dead ticket.
    pub async fn submit_reset(
        &self,
        token: &str,
        password: &str,
        confirm: &str,
        browser: &Browser,
    ) -> std::result::Result<TicketDone, std::result::Result<String, TicketRefused>> {
        let (t, user) = self
            .open_ticket(token, TicketKind::PasswordReset)
            .await
            .map_err(Err)?;
        if password != confirm {
            return Err(Ok("The passwords do not match.".into()));
        }
        let probe = LogEvent {
            user_id: Some(user.user_id.clone()),
            user_name: user.email.clone(),
            connection: Some(user.connection.clone()),
            ..browser.event()
        };
        if let Err(e) = self.refuse_breached(password, false, probe).await {
            return Err(Ok(e.to_string()));
        }
        let mut body = json!({"password": password});
        if t.mark_email_verified && !user.email_verified {
            body["email_verified"] = json!(true);
        }
        let patch = Payload::from_value(body)
            .and_then(UserPatch::from_payload)
            .map_err(|e| Ok(e.message))?;
        let mut event = LogEvent {
            user_id: Some(user.user_id.clone()),
            user_name: user.email.clone(),
            connection: Some(user.connection.clone()),
            ..browser.event()
        };
        match self.update_user(&user.user_id, patch).await {
            Ok(_) => {}
            Err(ServiceError::Password(p)) => {
                event.kind = codes::FAILED_CHANGE_PASSWORD.into();
                event.description = Some(p.to_string());
                self.record(event).await;
                return Err(Ok(p.to_string()));
            }
            Err(e) => return Err(Err(e.into())),
        }
        let _ = self
            .inner
            .outbox
            .use_ticket(self.tenant(), &t.id, self.now(), t.expires_at)
            .await;
        event.kind = codes::SUCCESS_CHANGE_PASSWORD.into();
        event.description = Some("Password changed with a reset ticket".into());
        self.record(event).await;
        // Asked for from an application's login page: back to that login, as Universal
        // Login does, rather than to the template's result URL.
        let back_to_login = match &t.login {
            Some(req) => self.login_again(req).await,
            None => None,
        };
        Ok(TicketDone {
            redirect: t.result_url.filter(|_| t.login.is_none()),
            message: "Your password was changed. You can now log in with it.",
            back_to_login,
        })
    }

    /// `GET /lo/verify_email`: marks the email verified, once.
    pub async fn verify_email(
        &self,
        token: &str,
        browser: &Browser,
    ) -> std::result::Result<TicketDone, TicketRefused> {
        let (t, user) = self
            .open_ticket(token, TicketKind::EmailVerification)
            .await?;
        let fresh = self
            .inner
            .outbox
            .use_ticket(self.tenant(), &t.id, self.now(), t.expires_at)
            .await?;
        if !fresh {
            return Err(TicketRefused::Used);
        }
        if let Ok(conn) = self.stored_connection(&user.connection_id).await
            && let Some(c) = crate::custom_db::CustomConnection::of(&conn)
        {
            self.verify_through_scripts(&c, &user).await?;
        }
        let patch = Payload::from_value(json!({"email_verified": true}))
            .and_then(UserPatch::from_payload)
            .map_err(|e| TicketRefused::Failed(crate::Failure::internal(e)))?;
        // Auth0 sends the welcome email after verification once the tenant enables that
        // template; the built-in one is not sent on its own.
        let welcome = self
            .tenant_settings()
            .await?
            .email_templates
            .get(EmailTemplate::WelcomeEmail.name())
            .is_some_and(|t| t.enabled)
            .then_some(EmailTemplate::WelcomeEmail);
        self.update_user_and_notify(&user.user_id, patch, welcome)
            .await?;
        self.record(LogEvent {
            kind: codes::SUCCESS_VERIFICATION_EMAIL.into(),
            description: Some("Email verified".into()),
            user_id: Some(user.user_id.clone()),
            user_name: user.email.clone(),
            connection: Some(user.connection.clone()),
            ..browser.event()
        })
        .await;
        Ok(TicketDone {
            redirect: t.result_url,
            message: "Your email address is verified.",
            back_to_login: None,
        })
    }

    /// Tells the owner of an address that someone tried to sign up with it.
    async fn notify_signup_attempt(&self, connection: &str, email: &str) -> Result<()> {
        let Some(conn) = self.connection_by_name(connection).await? else {
            return Ok(());
        };
        let Some(user) = self
            .inner
            .users
            .by_identifier(self.tenant(), email, Some(&conn.id))
            .await?
            .into_iter()
            .next()
            .map(|v| v.user)
        else {
            return Ok(());
        };
        let url = self.reset_link(&user).await?;
        if let Some(m) = self
            .email_for(EmailTemplate::SignupAttempt, &user, Some(&url))
            .await?
        {
            self.inner.outbox.enqueue(self.tenant(), &[m]).await?;
        }
        Ok(())
    }

    /// The blocked-account email (Auth0's `blocked_account`), with a link that lifts the
    /// block, sent when brute-force protection blocks a user.
    pub(crate) async fn send_blocked_account_email(&self, user: &User, ip: &str) -> Result<()> {
        let t = self.new_ticket(
            TicketKind::Unblock,
            user,
            DEFAULT_TICKET_TTL_SECS,
            None,
            false,
        )?;
        let url = self.ticket_url(&t)?;
        if let Some(m) = self
            .email_with(
                EmailTemplate::BlockedAccount,
                user,
                Some(&url),
                &[("ip", ip)],
            )
            .await?
        {
            self.inner.outbox.enqueue(self.tenant(), &[m]).await?;
        }
        Ok(())
    }

    /// `GET /lo/unblock?ticket=`: lifts the user's brute-force blocks, once.
    pub async fn unblock_by_ticket(
        &self,
        token: &str,
    ) -> std::result::Result<TicketDone, TicketRefused> {
        let (t, user) = self.open_ticket(token, TicketKind::Unblock).await?;
        let fresh = self
            .inner
            .outbox
            .use_ticket(self.tenant(), &t.id, self.now(), t.expires_at)
            .await?;
        if !fresh {
            return Err(TicketRefused::Used);
        }
        self.unblock_user(&user.user_id).await?;
        Ok(TicketDone {
            redirect: None,
            message: "Your account is unblocked. You can log in again.",
            back_to_login: None,
        })
    }

    /// `POST /dbconnections/signup` with its JSON body: the application must exist, the body
    /// may set only what Auth0's public sign-up accepts, and an address that already has an
    /// account gets the answer a new one gets (its owner is emailed instead), so the answer
    /// never tells who has an account. Auth0 answers `user_exists` there.
    pub async fn dbconnections_signup(
        &self,
        mut fields: Map<String, Value>,
        browser: &Browser,
    ) -> Result<SignupAnswer> {
        let client_id = match fields.remove("client_id") {
            Some(Value::String(c)) => c,
            _ => return Err(invalid_signup("Missing required parameter: client_id")),
        };
        match self.client_exists(&client_id).await {
            Ok(()) => {}
            Err(ServiceError::NotFound { .. }) => return Err(invalid_signup("Unknown client")),
            Err(e) => return Err(e),
        }
        check_signup_fields(&fields).map_err(invalid_signup)?;
        let req = Payload::from_value(Value::Object(fields)).and_then(NewUser::from_payload)?;
        let email = req.email.clone().map(|e| e.to_lowercase());
        match self.signup(req, Some(&client_id), browser).await {
            Ok(u) => Ok(SignupAnswer {
                id: u
                    .user_id
                    .split_once('|')
                    .map_or(u.user_id.as_str(), |(_, id)| id)
                    .to_string(),
                email: u.email,
                email_verified: u.email_verified,
                username: u.username,
            }),
            Err(ServiceError::Conflict(_)) => Ok(SignupAnswer {
                id: gatehouse_crypto::random::hex(12).map_err(ServiceError::internal)?,
                email: Some(email.unwrap_or_default()),
                email_verified: false,
                username: None,
            }),
            Err(e) => Err(e),
        }
    }

    /// A database user and their verification email, committed together (the hosted sign-up
    /// page and `/dbconnections/signup`).
    pub async fn signup(
        &self,
        req: NewUser,
        client_id: Option<&str>,
        browser: &Browser,
    ) -> Result<User> {
        let mut event = LogEvent {
            client_id: client_id.map(String::from),
            connection: Some(req.connection.clone()),
            user_name: req.email.clone(),
            ..browser.event()
        };
        let connection = req.connection.clone();
        let email = req.email.clone().map(|e| e.to_lowercase());
        let result = match self.public_signup_allowed(&connection, client_id).await {
            Ok(()) => {
                self.refuse_breached(req.password.as_deref().unwrap_or(""), true, event.clone())
                    .await
            }
            Err(e) => Err(e),
        };
        // Pre-user-registration actions may refuse the sign-up or add metadata.
        let mut req = req;
        let result = match result {
            Ok(()) => {
                self.run_pre_user_registration(
                    &mut req,
                    client_id,
                    browser.ip.as_deref(),
                    browser.user_agent.as_deref(),
                )
                .await
            }
            Err(e) => Err(e),
        };
        let result = match result {
            Ok(()) => self.create_user(req).await,
            Err(e) => Err(e),
        };
        if let (Err(ServiceError::Conflict(_)), Some(email)) = (&result, &email) {
            // The caller answers as for a new account; the owner of the address hears of
            // the attempt instead, with a way back in.
            self.notify_signup_attempt(&connection, email).await?;
        }
        // A script's failure is told to the tenant log in full and to the public without
        // its cause (it may name the customer's hosts).
        let result = match result {
            Err(ServiceError::Script {
                code,
                message,
                public,
            }) => {
                event.kind = codes::FAILED_SIGNUP.into();
                event.description = Some(message);
                self.record(event).await;
                return Err(ServiceError::Script {
                    code,
                    message: public.clone(),
                    public,
                });
            }
            other => other,
        };
        match &result {
            Ok(u) => {
                event.kind = codes::SUCCESS_SIGNUP.into();
                event.description = Some("Successful signup".into());
                event.user_id = Some(u.user_id.clone());
            }
            Err(e) => {
                event.kind = codes::FAILED_SIGNUP.into();
                event.description = Some(e.to_string());
            }
        }
        self.record(event).await;
        if let Ok(user) = &result {
            self.run_notification(
                gatehouse_core::actions::Trigger::PostUserRegistration,
                user,
                browser.ip.as_deref(),
                browser.user_agent.as_deref(),
            )
            .await;
        }
        result
    }

    /// Every public sign-up (`/dbconnections/signup`, the hosted page) passes here: the
    /// application must be enabled on the connection (M5), and a connection with
    /// `disable_signup` takes users only from the Management API and imports (H2).
    async fn public_signup_allowed(&self, connection: &str, client_id: Option<&str>) -> Result<()> {
        match self.connection_by_name(connection).await? {
            Some(c) if client_id.is_some_and(|id| !connection_serves(&c, id)) => {
                Err(connection_not_enabled())
            }
            Some(c) if c.settings.signup_disabled() => Err(ServiceError::signup_disabled()),
            _ => Ok(()),
        }
    }

    /// After a password change: end the user's sessions and refresh tokens unless the tenant
    /// keeps them.
    pub(crate) async fn after_password_change(&self, user_id: &str) -> Result<()> {
        if let Some(found) = self.inner.users.get(self.tenant(), user_id).await? {
            self.run_notification(
                gatehouse_core::actions::Trigger::PostChangePassword,
                &found.user,
                None,
                None,
            )
            .await;
        }
        if self
            .tenant_settings()
            .await?
            .keep_sessions_on_password_change
        {
            return Ok(());
        }
        self.end_user_sessions(user_id).await
    }

    /// Ends every browser session and refresh token of a user (a password change, a block).
    pub(crate) async fn end_user_sessions(&self, user_id: &str) -> Result<()> {
        let now = self.now();
        self.inner
            .sessions
            .revoke_user(self.tenant(), user_id, now)
            .await?;
        self.inner
            .refresh_tokens
            .revoke_user(self.tenant(), user_id, now)
            .await?;
        Ok(())
    }
}
