//! The hosted account page (`/u/account`): a logged-in user sees their data, downloads it,
//! corrects their name, withdraws their consent and deletes their account.
//!
//! The page reads the SSO session (`gh_session`). A browser without one signs in through the
//! hosted login as the dashboard does (`crate::admin`): Gatehouse's own first-party
//! application `Gatehouse Account` (code + PKCE, a sealed `state` in a cookie), whose
//! callback burns the code; the login itself sets the SSO session. Deleting the account takes
//! the password again (database users, with brute-force protection) or a login within the
//! last five minutes (everyone else), as Keycloak's account console asks.

use crate::Gatehouse;
use crate::browser::sessions::ActiveSession;
use crate::browser::{Branding, Browser};
use crate::credentials::LoginRefusal;
use crate::error::{Result, ServiceError};
use crate::oauth::TokenRequest;
use gatehouse_core::gdpr::{ConsentSettings, ConsentState};
use gatehouse_core::log_event::{LogEvent, LogFilter, codes};
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{DATABASE_PROVIDER, User, UserPatch};
use gatehouse_store::LogQuery;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

pub use crate::clients::ACCOUNT_CLIENT_ID;
pub const ACCOUNT_CLIENT_NAME: &str = "Gatehouse Account";
/// How recent a login must be to delete an account without a password.
pub const FRESH_LOGIN_MS: i64 = 5 * 60 * 1000;
/// How long a sign-in may take between leaving for the login page and coming back.
const SIGN_IN_LIFETIME_MS: i64 = 10 * 60 * 1000;
/// Logins shown on the page.
const RECENT_LOGINS: i64 = 10;

/// A sign-in on its way through the hosted login, kept sealed in a cookie.
#[derive(Serialize, Deserialize)]
struct PendingAccountSignIn {
    state: String,
    verifier: String,
    return_to: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for PendingAccountSignIn {
    const PURPOSE: &'static str = "account-sign-in";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// Where to send the browser to sign in, and the sealed cookie that must come back with it.
pub struct AccountSignIn {
    pub authorize_url: String,
    pub pending_cookie: String,
}

/// How the user proves it is them before their account is deleted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Reauthentication {
    /// Their password (database connections).
    Password,
    /// A login within [`FRESH_LOGIN_MS`]; `fresh` tells whether the session's is.
    RecentLogin { fresh: bool },
}

/// What the account page shows.
#[derive(Debug, Clone)]
pub struct AccountView {
    pub user: User,
    pub consent: Option<ConsentState>,
    /// The tenant's current terms, if it has any.
    pub terms: Option<ConsentSettings>,
    /// Their latest logins (`s`, `ssa`), newest first.
    pub recent_logins: Vec<LogEvent>,
    pub branding: Branding,
    pub reauthentication: Reauthentication,
}

/// Why a deletion did not happen.
#[derive(Debug)]
pub enum DeleteRefused {
    /// Shown on the page: a wrong password, a block, a missing confirmation.
    Problem(String),
    /// The login is too old: sign in again, then come back.
    NeedsFreshLogin,
    Failed(crate::Failure),
}

impl From<ServiceError> for DeleteRefused {
    fn from(e: ServiceError) -> Self {
        DeleteRefused::Failed(e.into())
    }
}

/// Why a name correction was not saved: shown on the page.
#[derive(Debug)]
pub enum NameRefused {
    Problem(String),
    Failed(crate::Failure),
}

/// A path under `/u/account` to come back to; anything else is the account page.
fn safe_return_path(p: &str) -> String {
    let ok = (p == "/u/account" || p.starts_with("/u/account/") || p.starts_with("/u/account?"))
        && !p.contains("//")
        && !p.contains('\\');
    if ok {
        p.to_string()
    } else {
        "/u/account".into()
    }
}

impl Gatehouse {
    fn account_callback(&self) -> String {
        format!("{}/u/account/callback", self.config().public_url)
    }

    /// Creates the account page's application if it is missing, and points its callback at
    /// this server's address (which may have changed since).
    async fn ensure_account_client(&self) -> Result<()> {
        self.ensure_own_client(crate::clients::OwnClient {
            client_id: ACCOUNT_CLIENT_ID,
            name: ACCOUNT_CLIENT_NAME,
            description: "Gatehouse's hosted account page (/u/account), where users see, download, correct and delete their data. Created by the server.",
            callback: self.account_callback(),
            logout_url: None,
        })
        .await
    }

    /// Starts a sign-in to the account page that comes back to `return_to`. `fresh` asks
    /// for the login again even with a live session (`prompt=login`); `connection` sends a
    /// user of an identity provider straight to it.
    pub async fn begin_account_sign_in(
        &self,
        return_to: &str,
        fresh: bool,
        connection: Option<&str>,
    ) -> Result<AccountSignIn> {
        self.ensure_account_client().await?;
        let rand = |n| gatehouse_crypto::random::b64url(n).map_err(ServiceError::internal);
        let pending = PendingAccountSignIn {
            state: rand(16)?,
            verifier: rand(48)?,
            return_to: safe_return_path(return_to),
            expires_at: self.now() + SIGN_IN_LIFETIME_MS,
        };
        let challenge = gatehouse_crypto::pkce_s256(&pending.verifier);
        let callback = self.account_callback();
        let mut query = vec![
            ("response_type", "code"),
            ("client_id", ACCOUNT_CLIENT_ID),
            ("redirect_uri", callback.as_str()),
            ("scope", "openid"),
            ("state", pending.state.as_str()),
            ("code_challenge", challenge.as_str()),
            ("code_challenge_method", "S256"),
        ];
        if fresh {
            query.push(("prompt", "login"));
        }
        if let Some(c) = connection {
            query.push(("connection", c));
        }
        let query = query
            .iter()
            .map(|(k, v)| format!("{k}={}", gatehouse_core::authorize::percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        Ok(AccountSignIn {
            authorize_url: format!("/authorize?{query}"),
            pending_cookie: self.seal(&pending)?,
        })
    }

    /// The callback of an account sign-in: the state must match the browser's cookie, and
    /// the code is redeemed (so it cannot be used later); the login already set the SSO
    /// session. Returns the path to go back to, or what the page should say.
    pub async fn finish_account_sign_in(
        &self,
        code: &str,
        state: &str,
        pending_cookie: Option<&str>,
        browser: &Browser,
    ) -> std::result::Result<String, String> {
        let expired =
            || "This sign-in link has expired or was not started in this browser.".to_string();
        let pending = pending_cookie
            .and_then(|c| self.unseal::<PendingAccountSignIn>(c).ok())
            .filter(|p| gatehouse_crypto::ct_eq(p.state.as_bytes(), state.as_bytes()))
            .ok_or_else(expired)?;
        self.issue_token(TokenRequest {
            grant_type: Some("authorization_code".into()),
            client_id: Some(ACCOUNT_CLIENT_ID.into()),
            code: Some(code.to_string()),
            redirect_uri: Some(self.account_callback()),
            code_verifier: Some(pending.verifier.clone()),
            ip: browser.ip.clone(),
            user_agent: browser.user_agent.clone(),
            ..Default::default()
        })
        .await
        .map_err(|e| format!("The login did not complete: {}", e.description))?;
        Ok(pending.return_to)
    }

    /// The logged-in user of the account page, by the SSO session cookie.
    pub async fn account_session(&self, browser: &Browser) -> Result<Option<ActiveSession>> {
        self.active_session(browser.session_cookie.as_deref()).await
    }

    /// How this user re-authenticates before deleting their account.
    pub async fn reauthentication(&self, session: &ActiveSession) -> Result<Reauthentication> {
        if self.password_connection(&session.user).await?.is_some() {
            return Ok(Reauthentication::Password);
        }
        let fresh = self.now() - session.session.auth_time <= FRESH_LOGIN_MS;
        Ok(Reauthentication::RecentLogin { fresh })
    }

    /// The user's database connection, when they log in with a password.
    async fn password_connection(
        &self,
        user: &User,
    ) -> Result<Option<gatehouse_store::StoredConnection>> {
        if user.provider != DATABASE_PROVIDER {
            return Ok(None);
        }
        let c = self.stored_connection(&user.connection_id).await?;
        Ok((c.settings.strategy == DATABASE_PROVIDER).then_some(c))
    }

    /// What the account page shows.
    pub async fn account_view(&self, session: &ActiveSession) -> Result<AccountView> {
        let user = session.user.clone();
        let settings = self.tenant_settings().await?;
        let mut recent_logins = Vec::new();
        for kind in [codes::SUCCESS_LOGIN, codes::SUCCESS_SILENT_AUTH] {
            let q = LogQuery {
                filter: LogFilter {
                    user_id: Some(user.user_id.clone()),
                    kind: Some(kind.into()),
                    ..Default::default()
                },
                limit: RECENT_LOGINS,
                ..Default::default()
            };
            recent_logins.extend(self.list_logs(&q).await?.0);
        }
        recent_logins.sort_by(|a, b| b.log_id.cmp(&a.log_id));
        recent_logins.truncate(RECENT_LOGINS as usize);
        Ok(AccountView {
            consent: ConsentState::of(&user.user_metadata),
            terms: settings.consent,
            recent_logins,
            branding: self.branding().await?,
            reauthentication: self.reauthentication(session).await?,
            user,
        })
    }

    /// Corrects the user's name: `name` is required; an empty given or family name is
    /// removed. The usual profile rules apply (lengths).
    pub async fn correct_name(
        &self,
        user: &User,
        name: &str,
        given_name: &str,
        family_name: &str,
    ) -> std::result::Result<User, NameRefused> {
        let name = name.trim();
        if name.is_empty() {
            return Err(NameRefused::Problem("Enter your name.".into()));
        }
        let mut body = Map::new();
        body.insert("name".into(), Value::String(name.into()));
        for (k, v) in [("given_name", given_name), ("family_name", family_name)] {
            let v = v.trim();
            body.insert(
                k.into(),
                if v.is_empty() {
                    Value::Null
                } else {
                    Value::String(v.into())
                },
            );
        }
        let patch = Payload::from_value(Value::Object(body))
            .and_then(UserPatch::from_payload)
            .map_err(|e| NameRefused::Problem(e.message))?;
        self.update_user(&user.user_id, patch)
            .await
            .map_err(|e| match e {
                ServiceError::InvalidBody(b) => NameRefused::Problem(b.message),
                other => NameRefused::Failed(other.into()),
            })
    }

    /// Deletes the user's own account after they proved it is them: their password (checked
    /// as a login is, so wrong guesses count towards a block), or a recent login. Their log
    /// events are pseudonymised with the deletion (`Gatehouse::delete_user`).
    pub async fn delete_own_account(
        &self,
        session: &ActiveSession,
        password: &str,
        confirmed: bool,
        browser: &Browser,
    ) -> std::result::Result<(), DeleteRefused> {
        let user = &session.user;
        if !confirmed {
            return Err(DeleteRefused::Problem(
                "Tick the box to confirm that you want your account deleted.".into(),
            ));
        }
        match self.password_connection(user).await? {
            Some(connection) => {
                if password.is_empty() {
                    return Err(DeleteRefused::Problem("Enter your password.".into()));
                }
                let identifier = user
                    .email
                    .clone()
                    .or_else(|| user.username.clone())
                    .unwrap_or_else(|| user.provider_user_id().to_string());
                let mut event = LogEvent {
                    client_id: Some(ACCOUNT_CLIENT_ID.into()),
                    ..browser.event()
                };
                match self
                    .verify_password(&connection, &identifier, password.to_string(), &mut event)
                    .await
                {
                    Ok(proven) if proven.user_id == user.user_id => {}
                    Ok(_) => {
                        return Err(DeleteRefused::Problem(
                            LoginRefusal::WrongCredentials.to_string(),
                        ));
                    }
                    Err(LoginRefusal::Failed(f)) => return Err(DeleteRefused::Failed(f)),
                    Err(refusal) => {
                        if refusal == LoginRefusal::TooManyAttempts {
                            event.kind = codes::FAILED_LOGIN.into();
                            event.description = Some(refusal.to_string());
                            self.record(event).await;
                        }
                        return Err(DeleteRefused::Problem(refusal.to_string()));
                    }
                }
            }
            None => {
                if self.now() - session.session.auth_time > FRESH_LOGIN_MS {
                    return Err(DeleteRefused::NeedsFreshLogin);
                }
            }
        }
        self.delete_user(&user.user_id).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn return_path_stays_on_the_account_page() {
        assert_eq!(safe_return_path("/u/account/delete"), "/u/account/delete");
        assert_eq!(safe_return_path("/u/account"), "/u/account");
        assert_eq!(safe_return_path("/u/accounts"), "/u/account");
        assert_eq!(
            safe_return_path("https://evil.example/u/account"),
            "/u/account"
        );
        assert_eq!(safe_return_path("/u/account//evil"), "/u/account");
    }
}
