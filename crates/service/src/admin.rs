//! Who may use the admin dashboard, and how they sign in to it.
//!
//! The dashboard is a first-party application of the tenant, `Gatehouse Dashboard`, that
//! signs people in through the hosted login like any other application: authorization code
//! with PKCE (S256) and a sealed, short-lived `state`. Only users with dashboard access get
//! a dashboard session: full administrators (`admin` among their roles) and delegated
//! administrators (a `Delegated Admin - …` role, or DAE's permissions), whose reach
//! `crate::delegated_admin` limits. Roles are read in one place, [`dashboard_roles`]. That
//! session is a browser session of its own (its own cookie), and the access is read again on
//! every request, so taking the role away or blocking the user ends their access at once.
//!
//! Logging in as another user (impersonation, `crate::impersonation`) takes a dedicated
//! permission on top, decided by [`may_impersonate`] alone.

use crate::Gatehouse;
use crate::browser::sessions::NewSessionCookie;
use crate::error::{Result, ServiceError};
use crate::oauth::TokenRequest;
use gatehouse_core::user::User;
use gatehouse_store::SessionKind;
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
/// The `app_metadata` key holding DAE's permissions (`read:users`, …).
pub const PERMISSIONS_KEY: &str = "permissions";
/// The `app_metadata` object the Authorization Extension writes `roles` and `permissions`
/// into; DAE reads both there too.
pub const AUTHORIZATION_KEY: &str = "authorization";
/// `app_metadata` keys whose change can open the dashboard: changing them is a full user
/// update, never an `app_metadata`-only one.
pub const ACCESS_KEYS: &[&str] = &[ROLES_KEY, PERMISSIONS_KEY, AUTHORIZATION_KEY];

/// How far a delegated administrator reaches, as DAE's roles: each level has the
/// permissions of the one before and one more.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DelegatedLevel {
    /// Search and view users (`read:users`).
    Auditor,
    /// And change, block, delete and create them (`manage:users`).
    User,
    /// And read the tenant logs, without Management API operations (`read:logs`).
    Operator,
    /// And change the `delegated_admin` setting (`manage:config`).
    Administrator,
}

impl DelegatedLevel {
    pub const ALL: [DelegatedLevel; 4] = [
        DelegatedLevel::Auditor,
        DelegatedLevel::User,
        DelegatedLevel::Operator,
        DelegatedLevel::Administrator,
    ];

    /// DAE's role name, `Delegated Admin - User`.
    pub fn role(self) -> &'static str {
        match self {
            DelegatedLevel::Auditor => "Delegated Admin - Auditor",
            DelegatedLevel::User => "Delegated Admin - User",
            DelegatedLevel::Operator => "Delegated Admin - Operator",
            DelegatedLevel::Administrator => "Delegated Admin - Administrator",
        }
    }

    /// The permission this level adds to the one below.
    fn adds(self) -> DaePermission {
        match self {
            DelegatedLevel::Auditor => DaePermission::ReadUsers,
            DelegatedLevel::User => DaePermission::ManageUsers,
            DelegatedLevel::Operator => DaePermission::ReadLogs,
            DelegatedLevel::Administrator => DaePermission::ManageConfig,
        }
    }
}

/// DAE's permissions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum DaePermission {
    ReadUsers,
    ManageUsers,
    ReadLogs,
    ManageConfig,
}

impl DaePermission {
    pub fn name(self) -> &'static str {
        match self {
            DaePermission::ReadUsers => "read:users",
            DaePermission::ManageUsers => "manage:users",
            DaePermission::ReadLogs => "read:logs",
            DaePermission::ManageConfig => "manage:config",
        }
    }

    fn parse(s: &str) -> Option<Self> {
        DelegatedLevel::ALL
            .iter()
            .map(|l| l.adds())
            .find(|p| p.name() == s)
    }
}

/// A delegated administrator's level and permissions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DelegatedAccess {
    pub level: DelegatedLevel,
    /// Sorted, without duplicates; always holds `read:users`.
    pub permissions: Vec<DaePermission>,
}

impl DelegatedAccess {
    pub fn has(&self, p: DaePermission) -> bool {
        self.permissions.contains(&p)
    }
}

/// What a dashboard user may reach.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DashboardAccess {
    /// Every page and action (`admin` among the roles).
    Full,
    /// The users area, limited by the tenant's `delegated_admin` setting.
    Delegated(DelegatedAccess),
}

impl DashboardAccess {
    pub fn has(&self, p: DaePermission) -> bool {
        match self {
            DashboardAccess::Full => true,
            DashboardAccess::Delegated(d) => d.has(p),
        }
    }

    pub fn is_full(&self) -> bool {
        matches!(self, DashboardAccess::Full)
    }
}

/// A list read as DAE reads roles and permissions: an array of strings, or one string of
/// comma-separated names.
fn names(v: Option<&serde_json::Value>) -> Vec<String> {
    match v {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|i| i.as_str())
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect(),
        _ => vec![],
    }
}

/// `app_metadata.<key>` and `app_metadata.authorization.<key>`, without duplicates.
fn app_metadata_names(user: &User, key: &str) -> Vec<String> {
    let m = &user.app_metadata;
    let mut out = names(m.get(key));
    for n in names(m.get(AUTHORIZATION_KEY).and_then(|a| a.get(key))) {
        if !out.contains(&n) {
            out.push(n);
        }
    }
    out
}

/// The user's roles as far as the dashboard is concerned, read as DAE reads them:
/// `app_metadata.roles` and `app_metadata.authorization.roles`, each an array or a
/// comma-separated string. The one place roles are read (RBAC roles will join here).
pub fn dashboard_roles(user: &User) -> Vec<String> {
    app_metadata_names(user, ROLES_KEY)
}

/// DAE's permissions granted to the user directly, read as DAE reads them:
/// `app_metadata.permissions` and `app_metadata.authorization.permissions`.
pub fn dashboard_permissions(user: &User) -> Vec<String> {
    app_metadata_names(user, PERMISSIONS_KEY)
}

/// What the user may reach in the dashboard, or `None`. `admin` wins; otherwise the
/// highest `Delegated Admin - …` role with its permissions and those granted directly.
/// Without `read:users` there is nothing a delegated administrator could see, so no access.
pub fn dashboard_access(user: &User) -> Option<DashboardAccess> {
    let roles = dashboard_roles(user);
    if roles.iter().any(|r| r == ADMIN_ROLE) {
        return Some(DashboardAccess::Full);
    }
    let by_role = DelegatedLevel::ALL
        .iter()
        .rev()
        .find(|l| roles.iter().any(|r| r == l.role()))
        .copied();
    let mut permissions: Vec<DaePermission> = by_role
        .map(|top| {
            DelegatedLevel::ALL
                .iter()
                .filter(|l| **l <= top)
                .map(|l| l.adds())
                .collect()
        })
        .unwrap_or_default();
    permissions.extend(
        dashboard_permissions(user)
            .iter()
            .filter_map(|p| DaePermission::parse(p)),
    );
    permissions.sort();
    permissions.dedup();
    if !permissions.contains(&DaePermission::ReadUsers) {
        return None;
    }
    // Without a role, the level is the highest whose permissions are all held.
    let level = by_role.unwrap_or_else(|| {
        DelegatedLevel::ALL
            .iter()
            .take_while(|l| permissions.contains(&l.adds()))
            .last()
            .copied()
            .unwrap_or(DelegatedLevel::Auditor)
    });
    Some(DashboardAccess::Delegated(DelegatedAccess {
        level,
        permissions,
    }))
}

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
    #[error(
        "Your account ({0}) does not have the admin role or a Delegated Admin role, so it cannot use the dashboard."
    )]
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

/// A signed-in administrator, full or delegated.
#[derive(Debug, Clone)]
pub struct Admin {
    pub user: User,
    pub session_id: String,
    /// When the administrator last entered their password (epoch ms).
    pub auth_time: i64,
    /// What they may reach, read from their roles at this request.
    pub access: DashboardAccess,
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

/// True when the user holds the admin role (full dashboard access).
pub fn is_admin(user: &User) -> bool {
    dashboard_access(user).is_some_and(|a| a.is_full())
}

/// Whether `admin` may log in as `target` (impersonation), from the dashboard or through
/// `POST /users/{id}/impersonate`: the one decision both ask. A full administrator (not a
/// delegated one: impersonation is never theirs, whatever their filter selects), unblocked,
/// who also holds the impersonator role.
pub fn may_impersonate(admin: &User, target: &User) -> bool {
    let _ = target;
    admin.blocked != Some(true)
        && is_admin(admin)
        && dashboard_roles(admin)
            .iter()
            .any(|r| r == IMPERSONATOR_ROLE)
}

impl Gatehouse {
    fn dashboard_callback(&self) -> String {
        format!("{}/admin/callback", self.config().public_url)
    }

    /// Creates the dashboard's application if it is missing, and points its callback at this
    /// server's address (which may have changed since it was created).
    async fn ensure_dashboard_client(&self) -> Result<()> {
        self.ensure_own_client(crate::clients::OwnClient {
            client_id: DASHBOARD_CLIENT_ID,
            name: DASHBOARD_CLIENT_NAME,
            description: "Gatehouse's own admin dashboard (/admin). Created by the server; only users with the admin role can sign in to it.",
            callback: self.dashboard_callback(),
            logout_url: Some(format!("{}/admin", self.config().public_url)),
        })
        .await
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
        if dashboard_access(&user).is_none() {
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
    /// still has dashboard access. `Ok(None)` means "sign in"; a signed-in user without
    /// access gets `Err(NotAdmin)`.
    pub async fn admin_session(
        &self,
        cookie: Option<&str>,
    ) -> std::result::Result<Option<Admin>, SignInRefused> {
        let Some(active) = self.live_session(cookie, SessionKind::Dashboard).await? else {
            return Ok(None);
        };
        let Some(access) = dashboard_access(&active.user) else {
            let who = active
                .user
                .email
                .clone()
                .unwrap_or(active.user.user_id.clone());
            return Err(SignInRefused::NotAdmin(who));
        };
        self.touch_session(&active.session).await?;
        Ok(Some(Admin {
            user: active.user,
            session_id: active.session.session_id,
            auth_time: active.session.auth_time,
            access,
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

    fn user_with(app_metadata: serde_json::Value) -> User {
        let mut u = User::new("auth0", "x", "con", "db", "x@example.com", 0);
        u.app_metadata = app_metadata.as_object().cloned().unwrap_or_default();
        u
    }

    #[test]
    fn roles_are_read_as_dae_reads_them() {
        let u = user_with(serde_json::json!({
            "roles": "support, Delegated Admin - User",
            "authorization": {"roles": ["Delegated Admin - Auditor", "support"]},
        }));
        assert_eq!(
            dashboard_roles(&u),
            vec![
                "support",
                "Delegated Admin - User",
                "Delegated Admin - Auditor"
            ]
        );
        let Some(DashboardAccess::Delegated(d)) = dashboard_access(&u) else {
            panic!("delegated access expected");
        };
        assert_eq!(d.level, DelegatedLevel::User);
        assert_eq!(
            d.permissions,
            vec![DaePermission::ReadUsers, DaePermission::ManageUsers]
        );
        assert!(!d.has(DaePermission::ReadLogs));
    }

    #[test]
    fn admin_wins_and_no_read_users_means_no_access() {
        let full = user_with(serde_json::json!({"roles": ["Delegated Admin - Auditor", "admin"]}));
        assert_eq!(dashboard_access(&full), Some(DashboardAccess::Full));
        assert!(is_admin(&full));
        for none in [
            serde_json::json!({}),
            serde_json::json!({"roles": ["support"]}),
            serde_json::json!({"roles": "Delegated Admin - Nobody"}),
            serde_json::json!({"permissions": ["read:logs"]}),
            serde_json::json!({"roles": {"admin": true}}),
        ] {
            assert_eq!(dashboard_access(&user_with(none.clone())), None, "{none}");
        }
        let operator = user_with(
            serde_json::json!({"authorization": {"roles": ["Delegated Admin - Operator"]}}),
        );
        assert!(matches!(
            dashboard_access(&operator),
            Some(DashboardAccess::Delegated(DelegatedAccess {
                level: DelegatedLevel::Operator,
                ..
            }))
        ));
        let by_permissions =
            user_with(serde_json::json!({"permissions": "read:users,manage:users"}));
        let Some(DashboardAccess::Delegated(d)) = dashboard_access(&by_permissions) else {
            panic!("delegated access expected");
        };
        assert_eq!(d.level, DelegatedLevel::User);
        assert!(!is_admin(&by_permissions));
    }

    #[test]
    fn return_path_stays_in_the_dashboard() {
        assert_eq!(safe_return_path("/admin/users?q=a"), "/admin/users?q=a");
        assert_eq!(safe_return_path("https://evil.example/admin"), "/admin");
        assert_eq!(safe_return_path("//evil.example"), "/admin");
        assert_eq!(safe_return_path("/u/login"), "/admin");
    }
}
