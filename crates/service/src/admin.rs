//! Who may use the admin dashboard, and how they sign in to it.
//!
//! The dashboard is a first-party application of the tenant, `Gatehouse Dashboard`, that
//! signs people in through the hosted login like any other application: authorization code
//! with PKCE (S256) and a sealed, short-lived `state`. Only users whose
//! `app_metadata.roles` holds `admin` get a dashboard session. That session is a browser
//! session of its own (its own cookie), and the role is checked again on every request, so
//! taking the role away or blocking the user ends their access at once.
//!
//! Logging in as another user (impersonation, `crate::impersonation`) takes a dedicated
//! permission on top, decided by [`may_impersonate`] alone.

use crate::Gatehouse;
use crate::browser::sessions::NewSessionCookie;
use crate::error::{Result, ServiceError};
use crate::oauth::TokenRequest;
use gatehouse_core::client::ClientSettings;
use gatehouse_core::user::User;
use gatehouse_store::{SessionKind, StoredClient};
use serde::{Deserialize, Serialize};

pub use crate::clients::DASHBOARD_CLIENT_ID;
pub const DASHBOARD_CLIENT_NAME: &str = "Gatehouse Dashboard";
/// The role (in `app_metadata.roles`) that opens the dashboard.
pub const ADMIN_ROLE: &str = "admin";
/// The `app_metadata` key holding a user's roles, [`ADMIN_ROLE`] among them.
pub const ROLES_KEY: &str = "roles";
/// The role (in `app_metadata.roles`, beside [`ADMIN_ROLE`]) that lets an administrator log
/// in as another user ([`may_impersonate`]).
pub const IMPERSONATOR_ROLE: &str = "impersonator";

/// How long a sign-in may take between leaving for the login page and coming back.
const SIGN_IN_LIFETIME_MS: i64 = 10 * 60 * 1000;

/// A sign-in on its way through the hosted login, kept sealed in a cookie.
#[derive(Serialize, Deserialize)]
struct PendingSignIn {
    state: String,
    verifier: String,
    return_to: String,
    expires_at: i64,
}

impl crate::sealed::Sealable for PendingSignIn {
    const PURPOSE: &'static str = "admin-sign-in";
    fn expires_at(&self) -> Option<i64> {
        Some(self.expires_at)
    }
}

/// Where to send the browser to sign in, and the sealed cookie that must come back with it.
pub struct SignInStart {
    pub authorize_url: String,
    pub pending_cookie: String,
}

/// Why a sign-in did not give a dashboard session.
#[derive(Debug, thiserror::Error)]
pub enum SignInRefused {
    #[error(
        "This sign-in link has expired or was not started in this browser. Please sign in again."
    )]
    Expired,
    #[error("The login did not complete: {0}")]
    Login(String),
    #[error("Your account ({0}) does not have the admin role, so it cannot use the dashboard.")]
    NotAdmin(String),
    #[error(transparent)]
    Service(#[from] ServiceError),
    /// Our failure inside the login's token exchange (the database, signing).
    #[error("{0}")]
    Failed(crate::Failure),
}

/// A refusal reaching the edge as a failure: the service's own keeps its kind (an outage
/// stays a 503); the others are unexpected there.
impl From<SignInRefused> for crate::Failure {
    fn from(r: SignInRefused) -> Self {
        match r {
            SignInRefused::Service(e) => e.into(),
            SignInRefused::Failed(f) => f,
            other => crate::Failure::internal(other),
        }
    }
}

/// A signed-in administrator.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: User,
    pub session_id: String,
    /// When the administrator last entered their password (epoch ms).
    pub auth_time: i64,
}

/// How recent a password must be for the dashboard to change anything: older, a write sends
/// the administrator through the login page again (security review L2).
pub const FRESH_LOGIN_MS: i64 = 15 * 60 * 1000;

impl Admin {
    /// Whether the administrator entered their password recently enough to make changes.
    pub fn logged_in_recently(&self, now: i64) -> bool {
        now - self.auth_time <= FRESH_LOGIN_MS
    }
}

/// True when the user holds the admin role.
pub fn is_admin(user: &User) -> bool {
    has_role(user, ADMIN_ROLE)
}

fn has_role(user: &User, role: &str) -> bool {
    user.app_metadata
        .get(ROLES_KEY)
        .and_then(|r| r.as_array())
        .is_some_and(|roles| roles.iter().any(|r| r.as_str() == Some(role)))
}

/// Whether `admin` may log in as `target` (impersonation), from the dashboard or through
/// `POST /users/{id}/impersonate`: the one decision both ask, so widening or narrowing it
/// (RBAC permissions, a delegated administrator's filter on `target`) happens here only.
/// Today: an unblocked user holding both the admin and the impersonator role, for any
/// target.
pub fn may_impersonate(admin: &User, target: &User) -> bool {
    // The target is not consulted yet; delegated administrators will be limited to the
    // users their filter selects.
    let _ = target;
    admin.blocked != Some(true) && is_admin(admin) && has_role(admin, IMPERSONATOR_ROLE)
}

impl Gatehouse {
    fn dashboard_callback(&self) -> String {
        format!("{}/admin/callback", self.config().public_url)
    }

    /// Creates the dashboard's application if it is missing, and points its callback at this
    /// server's address (which may have changed since it was created).
    async fn ensure_dashboard_client(&self) -> Result<()> {
        let callback = self.dashboard_callback();
        let logout = format!("{}/admin", self.config().public_url);
        match self
            .inner
            .clients
            .get(self.tenant(), DASHBOARD_CLIENT_ID)
            .await?
        {
            Some(mut c) => {
                if c.settings.callbacks != [callback.clone()]
                    || c.settings.allowed_logout_urls != [logout.clone()]
                {
                    c.settings.callbacks = vec![callback];
                    c.settings.allowed_logout_urls = vec![logout];
                    self.inner
                        .clients
                        .update(self.tenant(), &c, self.now())
                        .await?;
                }
            }
            None => {
                let mut s = ClientSettings::new(DASHBOARD_CLIENT_NAME.into());
                s.description = Some(
                    "Gatehouse's own admin dashboard (/admin). Created by the server; only users with the admin role can sign in to it."
                        .into(),
                );
                s.app_type = Some("regular_web".into());
                s.is_first_party = true;
                s.callbacks = vec![callback];
                s.allowed_logout_urls = vec![logout];
                s.grant_types = vec!["authorization_code".into()];
                s.token_endpoint_auth_method = "none".into();
                let client = StoredClient {
                    client_id: DASHBOARD_CLIENT_ID.into(),
                    settings: s,
                    sealed_secret: None,
                };
                match self
                    .inner
                    .clients
                    .insert(self.tenant(), &client, self.now())
                    .await
                {
                    // Another node created it first.
                    Ok(()) | Err(gatehouse_store::StoreError::Conflict(_)) => {}
                    Err(e) => return Err(e.into()),
                }
            }
        }
        Ok(())
    }

    /// Starts a dashboard sign-in that comes back to `return_to` (a path under `/admin`).
    pub async fn begin_admin_sign_in(&self, return_to: &str) -> Result<SignInStart> {
        self.ensure_dashboard_client().await?;
        let rand = |n| gatehouse_crypto::random::b64url(n).map_err(ServiceError::internal);
        let pending = PendingSignIn {
            state: rand(16)?,
            verifier: rand(48)?,
            return_to: safe_return_path(return_to),
            expires_at: self.now() + SIGN_IN_LIFETIME_MS,
        };
        let challenge = gatehouse_crypto::pkce_s256(&pending.verifier);
        let query = [
            ("response_type", "code"),
            ("client_id", DASHBOARD_CLIENT_ID),
            ("redirect_uri", &self.dashboard_callback()),
            ("scope", "openid profile email"),
            ("state", &pending.state),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
            // A login session older than this asks for the password again.
            ("max_age", &(FRESH_LOGIN_MS / 1000).to_string()),
        ]
        .iter()
        .map(|(k, v)| format!("{k}={}", gatehouse_core::authorize::percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&");
        Ok(SignInStart {
            authorize_url: format!("/authorize?{query}"),
            pending_cookie: self.seal(&pending)?,
        })
    }

    /// The callback of a dashboard sign-in: redeems the code through the token endpoint's
    /// own logic, and opens a dashboard session for an administrator. Returns the session
    /// cookie and the path to go back to.
    pub async fn finish_admin_sign_in(
        &self,
        code: &str,
        state: &str,
        pending_cookie: Option<&str>,
        previous_admin_cookie: Option<&str>,
        ip: Option<String>,
        user_agent: Option<String>,
    ) -> std::result::Result<(NewSessionCookie, String), SignInRefused> {
        let pending = pending_cookie
            .and_then(|c| self.unseal::<PendingSignIn>(c).ok())
            .filter(|p| gatehouse_crypto::ct_eq(p.state.as_bytes(), state.as_bytes()))
            .ok_or(SignInRefused::Expired)?;
        let issued = self
            .issue_token(TokenRequest {
                grant_type: Some("authorization_code".into()),
                client_id: Some(DASHBOARD_CLIENT_ID.into()),
                code: Some(code.to_string()),
                redirect_uri: Some(self.dashboard_callback()),
                code_verifier: Some(pending.verifier.clone()),
                ip,
                user_agent,
                ..Default::default()
            })
            .await
            .map_err(|e| match e.failure {
                Some(f) => SignInRefused::Failed(f),
                None => SignInRefused::Login(e.description),
            })?;
        let user_id = self
            .userinfo(&issued.access_token)
            .await
            .map_err(SignInRefused::Failed)?
            .and_then(|claims| claims.get("sub").and_then(|s| s.as_str()).map(String::from))
            .ok_or_else(|| SignInRefused::Login("the access token was not accepted".into()))?;
        let user = self.get_user(&user_id).await?;
        if !is_admin(&user) {
            let who = user.email.clone().unwrap_or(user.user_id.clone());
            return Err(SignInRefused::NotAdmin(who));
        }
        // The dashboard session is its own kind, dated from the password the login took.
        let auth_time = issued
            .id_token
            .as_deref()
            .and_then(|t| gatehouse_crypto::jwt::verify(t, self.keyring().published()).ok())
            .and_then(|claims| claims.get("auth_time").and_then(|v| v.as_i64()))
            .map(|secs| secs * 1000);
        let settings = self.tenant_settings().await?;
        let (_, cookie) = self
            .start_session_of(
                &user.user_id,
                previous_admin_cookie,
                &settings,
                SessionKind::Dashboard,
                auth_time,
            )
            .await?;
        Ok((cookie, pending.return_to))
    }

    /// The administrator behind a dashboard cookie, when the session is live and the user
    /// still holds the admin role. `Ok(None)` means "sign in"; a signed-in user without the
    /// role gets `Err(NotAdmin)`.
    pub async fn admin_session(
        &self,
        cookie: Option<&str>,
    ) -> std::result::Result<Option<Admin>, SignInRefused> {
        let Some(active) = self.live_session(cookie, SessionKind::Dashboard).await? else {
            return Ok(None);
        };
        if !is_admin(&active.user) {
            let who = active
                .user
                .email
                .clone()
                .unwrap_or(active.user.user_id.clone());
            return Err(SignInRefused::NotAdmin(who));
        }
        self.touch_session(&active.session).await?;
        Ok(Some(Admin {
            user: active.user,
            session_id: active.session.session_id,
            auth_time: active.session.auth_time,
        }))
    }

    /// Where the dashboard's sign-out sends the browser: the tenant's logout, which ends the
    /// login session too, then back to the dashboard.
    pub fn admin_sign_out_url(&self) -> String {
        format!(
            "/v2/logout?client_id={DASHBOARD_CLIENT_ID}&returnTo={}",
            gatehouse_core::authorize::percent_encode(&format!(
                "{}/admin",
                self.config().public_url
            ))
        )
    }
}

/// A path under `/admin` to come back to; anything else (another site, `//host`) becomes
/// the dashboard's home.
fn safe_return_path(p: &str) -> String {
    if p.starts_with("/admin") && !p.starts_with("//") && !p.contains('\\') {
        p.to_string()
    } else {
        "/admin".into()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user_with_roles(roles: serde_json::Value) -> User {
        let mut app_metadata = serde_json::Map::new();
        app_metadata.insert(ROLES_KEY.into(), roles);
        User {
            user_id: "auth0|a".into(),
            connection_id: "con_1".into(),
            connection: "db".into(),
            provider: "auth0".into(),
            email: None,
            email_verified: false,
            username: None,
            phone_number: None,
            phone_verified: false,
            given_name: None,
            family_name: None,
            name: None,
            nickname: None,
            picture: None,
            blocked: None,
            user_metadata: Default::default(),
            app_metadata,
            created_at: 0,
            updated_at: 0,
            last_login: None,
            last_ip: None,
            logins_count: 0,
            last_password_reset: None,
            password_set_date: None,
            idp_attributes: Default::default(),
            linked_identities: vec![],
        }
    }

    #[test]
    fn impersonation_needs_both_roles_and_an_unblocked_admin() {
        let target = user_with_roles(serde_json::json!([]));
        let both = user_with_roles(serde_json::json!(["admin", "impersonator"]));
        assert!(may_impersonate(&both, &target));
        for roles in [
            serde_json::json!(["admin"]),
            serde_json::json!(["impersonator"]),
            serde_json::json!("admin impersonator"),
        ] {
            assert!(!may_impersonate(&user_with_roles(roles), &target));
        }
        let mut blocked = both.clone();
        blocked.blocked = Some(true);
        assert!(!may_impersonate(&blocked, &target));
    }

    #[test]
    fn return_path_stays_in_the_dashboard() {
        assert_eq!(safe_return_path("/admin/users?q=a"), "/admin/users?q=a");
        assert_eq!(safe_return_path("https://evil.example/admin"), "/admin");
        assert_eq!(safe_return_path("//evil.example"), "/admin");
        assert_eq!(safe_return_path("/u/login"), "/admin");
    }
}
