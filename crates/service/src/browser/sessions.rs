//! Browser sessions: the server side of the SSO cookie. A session is found by the SHA-256 of
//! the cookie, ends after the tenant's absolute or idle lifetime, and is replaced (never
//! reused) at every login so a cookie planted before login is worthless afterwards.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_core::user::User;
use gatehouse_store::{BrowserSession, SessionKind};

/// A cookie to set after a login.
#[derive(Debug, Clone)]
pub struct NewSessionCookie {
    pub value: String,
    pub max_age_secs: i64,
}

/// A live session and its user.
#[derive(Debug, Clone)]
pub struct ActiveSession {
    pub session: BrowserSession,
    pub user: User,
}

impl Gatehouse {
    /// The login (SSO) session behind a cookie, when it is live and its user may still log in.
    pub async fn active_session(&self, cookie: Option<&str>) -> Result<Option<ActiveSession>> {
        self.live_session(cookie, SessionKind::Sso).await
    }

    /// The session of this kind behind a cookie, when it is live and its user may still log
    /// in. A cookie of the other kind finds nothing.
    pub(crate) async fn live_session(
        &self,
        cookie: Option<&str>,
        kind: SessionKind,
    ) -> Result<Option<ActiveSession>> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty() && c.len() <= 128) else {
            return Ok(None);
        };
        let hash = gatehouse_crypto::sha256_hex(cookie.as_bytes());
        self.live_session_by_hash(&hash, kind).await
    }

    /// The session with this cookie digest, when it is live and its user may still log in
    /// (a login resumed by a cross-site POST, which brings no cookie, names it this way).
    pub(crate) async fn live_session_by_hash(
        &self,
        hash: &str,
        kind: SessionKind,
    ) -> Result<Option<ActiveSession>> {
        let Some(session) = self.inner.sessions.get(self.tenant(), hash, kind).await? else {
            return Ok(None);
        };
        let settings = self.tenant_settings().await?;
        let now = self.now();
        if session.revoked_at.is_some()
            || session.expires_at <= now
            || session.last_seen_at + settings.idle_session_lifetime_ms() <= now
        {
            return Ok(None);
        }
        let Some(user) = self
            .inner
            .users
            .get(self.tenant(), &session.user_id)
            .await?
        else {
            return Ok(None);
        };
        if user.user.blocked == Some(true) {
            return Ok(None);
        }
        Ok(Some(ActiveSession {
            session,
            user: user.user,
        }))
    }

    /// Starts a login session for a user who just authenticated, ending the browser's
    /// previous one.
    pub(crate) async fn start_session(
        &self,
        user_id: &str,
        previous_cookie: Option<&str>,
        settings: &TenantSettings,
    ) -> Result<(BrowserSession, NewSessionCookie)> {
        self.start_session_of(user_id, previous_cookie, settings, SessionKind::Sso, None)
            .await
    }

    /// Starts a session of `kind`; `auth_time` is when the user last entered a password
    /// (now, unless the session is made from another login).
    pub(crate) async fn start_session_of(
        &self,
        user_id: &str,
        previous_cookie: Option<&str>,
        settings: &TenantSettings,
        kind: SessionKind,
        auth_time: Option<i64>,
    ) -> Result<(BrowserSession, NewSessionCookie)> {
        let now = self.now();
        if let Some(old) = previous_cookie {
            self.end_session(Some(old)).await?;
        }
        let value = gatehouse_crypto::random::b64url(32).map_err(ServiceError::internal)?;
        let lifetime = settings.session_lifetime_ms();
        let session = BrowserSession {
            cookie_hash: gatehouse_crypto::sha256_hex(value.as_bytes()),
            session_id: gatehouse_crypto::random::b64url(18).map_err(ServiceError::internal)?,
            user_id: user_id.to_string(),
            auth_time: auth_time.unwrap_or(now),
            created_at: now,
            last_seen_at: now,
            expires_at: now + lifetime,
            revoked_at: None,
        };
        self.inner
            .sessions
            .insert(self.tenant(), &session, kind)
            .await?;
        Ok((
            session,
            NewSessionCookie {
                value,
                max_age_secs: lifetime / 1000,
            },
        ))
    }

    /// Slides the idle timeout of a session that was just used.
    pub(crate) async fn touch_session(&self, s: &BrowserSession) -> Result<()> {
        Ok(self
            .inner
            .sessions
            .touch(self.tenant(), &s.cookie_hash, self.now(), None)
            .await?)
    }

    /// Ends the session behind a cookie (logout). True when there was one.
    pub async fn end_session(&self, cookie: Option<&str>) -> Result<bool> {
        let Some(cookie) = cookie.filter(|c| !c.is_empty()) else {
            return Ok(false);
        };
        let hash = gatehouse_crypto::sha256_hex(cookie.as_bytes());
        Ok(self
            .inner
            .sessions
            .revoke(self.tenant(), &hash, self.now())
            .await?)
    }

    /// A CSRF token for forms, bound to the browser's CSRF cookie.
    pub fn csrf_token(&self, csrf_cookie: &str) -> String {
        use base64::Engine;
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(self.inner.secrets.mac("csrf", csrf_cookie.as_bytes()))
    }

    /// True when a form's CSRF token was made for this browser's CSRF cookie.
    pub fn check_csrf(&self, csrf_cookie: Option<&str>, token: Option<&str>) -> bool {
        use base64::Engine;
        let (Some(cookie), Some(token)) = (csrf_cookie, token) else {
            return false;
        };
        if cookie.len() < 16 {
            return false;
        }
        match base64::engine::general_purpose::URL_SAFE_NO_PAD.decode(token) {
            Ok(tag) => self
                .inner
                .secrets
                .verify_mac("csrf", cookie.as_bytes(), &tag),
            Err(_) => false,
        }
    }
}
