//! Browser sessions (the SSO cookie's server side), single-use authorization codes, and
//! the scopes each user granted each application.

use crate::{Db, StoreError, on_pool};

/// What a browser session is for. A cookie is only ever looked up as its own kind, so the
/// SSO cookie does not open the dashboard nor the dashboard's cookie log into applications
/// (security review L2).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionKind {
    /// The login session behind `/authorize` (SSO across a tenant's applications).
    Sso,
    /// The admin dashboard's own session.
    Dashboard,
}

impl SessionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            SessionKind::Sso => "sso",
            SessionKind::Dashboard => "dashboard",
        }
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct BrowserSession {
    pub cookie_hash: String,
    /// The public id, put in ID tokens as `sid`.
    pub session_id: String,
    pub user_id: String,
    pub auth_time: i64,
    pub created_at: i64,
    pub last_seen_at: i64,
    pub expires_at: i64,
    pub revoked_at: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct SessionStore {
    db: Db,
}

impl SessionStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(
        &self,
        tenant: &str,
        s: &BrowserSession,
        kind: SessionKind,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO sessions (tenant_id, cookie_hash, session_id, user_id, auth_time, created_at, last_seen_at, expires_at, kind)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
            )
            .bind(tenant)
            .bind(&s.cookie_hash)
            .bind(&s.session_id)
            .bind(&s.user_id)
            .bind(s.auth_time)
            .bind(s.created_at)
            .bind(s.last_seen_at)
            .bind(s.expires_at)
            .bind(kind.as_str())
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get(
        &self,
        tenant: &str,
        cookie_hash: &str,
        kind: SessionKind,
    ) -> Result<Option<BrowserSession>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, BrowserSession>(
                "SELECT cookie_hash, session_id, user_id, auth_time, created_at, last_seen_at, expires_at, revoked_at
                 FROM sessions WHERE tenant_id = $1 AND cookie_hash = $2 AND kind = $3",
            )
            .bind(tenant)
            .bind(cookie_hash)
            .bind(kind.as_str())
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Keeps what a federated logout of this session needs (JSON; see the migration).
    pub async fn set_federated(
        &self,
        tenant: &str,
        cookie_hash: &str,
        federated: &str,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE sessions SET federated = $3 WHERE tenant_id = $1 AND cookie_hash = $2")
                .bind(tenant)
                .bind(cookie_hash)
                .bind(federated)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// What a federated logout of this session needs, when its login left anything.
    pub async fn federated(
        &self,
        tenant: &str,
        cookie_hash: &str,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            let row: Option<(Option<String>,)> = sqlx::query_as(
                "SELECT federated FROM sessions WHERE tenant_id = $1 AND cookie_hash = $2",
            )
            .bind(tenant)
            .bind(cookie_hash)
            .fetch_optional(pool)
            .await?;
            Ok(row.and_then(|(f,)| f))
        })
    }

    /// Records use (sliding the idle timeout) and, after a fresh login, the new auth time.
    pub async fn touch(
        &self,
        tenant: &str,
        cookie_hash: &str,
        now: i64,
        auth_time: Option<i64>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("UPDATE sessions SET last_seen_at = $3, auth_time = COALESCE($4, auth_time) WHERE tenant_id = $1 AND cookie_hash = $2")
                .bind(tenant)
                .bind(cookie_hash)
                .bind(now)
                .bind(auth_time)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    pub async fn revoke(
        &self,
        tenant: &str,
        cookie_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND cookie_hash = $2 AND revoked_at IS NULL")
                .bind(tenant)
                .bind(cookie_hash)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Ends every session of a user (deleted or blocked users, password changes).
    pub async fn revoke_user(
        &self,
        tenant: &str,
        user_id: &str,
        now: i64,
    ) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE sessions SET revoked_at = $3 WHERE tenant_id = $1 AND user_id = $2 AND revoked_at IS NULL")
                .bind(tenant)
                .bind(user_id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected())
        })
    }

    /// Removes ended sessions, used or expired codes, expired refresh tokens and logins that
    /// never came back from an action's redirect.
    pub async fn sweep(&self, now: i64) -> Result<u64, StoreError> {
        on_pool!(&self.db, pool => {
            let mut n = 0;
            for sql in [
                "DELETE FROM sessions WHERE expires_at <= $1 OR revoked_at IS NOT NULL",
                "DELETE FROM authorization_codes WHERE expires_at <= $1",
                "DELETE FROM refresh_tokens WHERE expires_at <= $1",
                "DELETE FROM upstream_states WHERE expires_at <= $1",
                "DELETE FROM login_continuations WHERE expires_at <= $1",
            ] {
                n += sqlx::query(sql).bind(now).execute(pool).await?.rows_affected();
            }
            Ok(n)
        })
    }
}

#[derive(Clone, Debug, sqlx::FromRow)]
pub struct AuthorizationCode {
    pub code_hash: String,
    pub client_id: String,
    pub user_id: String,
    pub redirect_uri: String,
    pub scope: String,
    pub audience: Option<String>,
    pub nonce: Option<String>,
    pub code_challenge: Option<String>,
    /// `S256` or `plain`.
    pub code_challenge_method: Option<String>,
    pub session_id: String,
    pub auth_time: i64,
    /// The refresh-token family this code's exchange starts, revoked if the code is replayed.
    pub family_id: String,
    pub created_at: i64,
    pub expires_at: i64,
    pub used_at: Option<i64>,
    /// The login's deny-listed attributes, sealed (upstream logins only).
    pub login_claims: Option<String>,
    /// The administrator who started this login as the user (an impersonation), and their
    /// email then; `None` for the user's own logins.
    pub impersonator_id: Option<String>,
    pub impersonator_email: Option<String>,
}

#[derive(Clone, Debug)]
pub struct AuthorizationCodeStore {
    db: Db,
}

impl AuthorizationCodeStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn insert(&self, tenant: &str, c: &AuthorizationCode) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO authorization_codes (tenant_id, code_hash, client_id, user_id, redirect_uri, scope, audience, nonce, code_challenge, code_challenge_method, session_id, auth_time, family_id, created_at, expires_at, login_claims, impersonator_id, impersonator_email)
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18)",
            )
            .bind(tenant)
            .bind(&c.code_hash)
            .bind(&c.client_id)
            .bind(&c.user_id)
            .bind(&c.redirect_uri)
            .bind(&c.scope)
            .bind(&c.audience)
            .bind(&c.nonce)
            .bind(&c.code_challenge)
            .bind(&c.code_challenge_method)
            .bind(&c.session_id)
            .bind(c.auth_time)
            .bind(&c.family_id)
            .bind(c.created_at)
            .bind(c.expires_at)
            .bind(&c.login_claims)
            .bind(&c.impersonator_id)
            .bind(&c.impersonator_email)
            .execute(pool)
            .await?;
            Ok(())
        })
    }

    pub async fn get(
        &self,
        tenant: &str,
        code_hash: &str,
    ) -> Result<Option<AuthorizationCode>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, AuthorizationCode>(
                "SELECT code_hash, client_id, user_id, redirect_uri, scope, audience, nonce, code_challenge, code_challenge_method, session_id, auth_time, family_id, created_at, expires_at, used_at, login_claims, impersonator_id, impersonator_email
                 FROM authorization_codes WHERE tenant_id = $1 AND code_hash = $2",
            )
            .bind(tenant)
            .bind(code_hash)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Marks a code used; false when it already was (a replay, or a concurrent exchange).
    pub async fn mark_used(
        &self,
        tenant: &str,
        code_hash: &str,
        now: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("UPDATE authorization_codes SET used_at = $3 WHERE tenant_id = $1 AND code_hash = $2 AND used_at IS NULL")
                .bind(tenant)
                .bind(code_hash)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }
}

#[derive(Clone, Debug)]
pub struct UserGrantStore {
    db: Db,
}

impl UserGrantStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    /// The scopes the user granted the client for `audience` (`""` for none).
    pub async fn scope(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
        audience: &str,
    ) -> Result<Option<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "SELECT scope FROM user_grants WHERE tenant_id = $1 AND user_id = $2 AND client_id = $3 AND audience = $4",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(client_id)
            .bind(audience)
            .fetch_optional(pool)
            .await?)
        })
    }

    pub async fn put(
        &self,
        tenant: &str,
        user_id: &str,
        client_id: &str,
        audience: &str,
        scope: &str,
        now: i64,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query(
                "INSERT INTO user_grants (tenant_id, user_id, client_id, audience, scope, created_at) VALUES ($1, $2, $3, $4, $5, $6)
                 ON CONFLICT (tenant_id, user_id, client_id, audience) DO UPDATE SET scope = excluded.scope",
            )
            .bind(tenant)
            .bind(user_id)
            .bind(client_id)
            .bind(audience)
            .bind(scope)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(())
        })
    }
}

/// Logins sent to an upstream provider and not yet back: each callback consumes its own
/// once, so a replayed callback is refused.
#[derive(Clone, Debug)]
pub struct UpstreamStateStore {
    db: Db,
}

impl UpstreamStateStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    pub async fn begin(&self, tenant: &str, id: &str, expires_at: i64) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            sqlx::query("INSERT INTO upstream_states (tenant_id, id, expires_at) VALUES ($1, $2, $3)")
                .bind(tenant)
                .bind(id)
                .bind(expires_at)
                .execute(pool)
                .await?;
            Ok(())
        })
    }

    /// Remembers a single-use value (a SAML assertion's id) until it expires; false when
    /// it is remembered already, so the value was used before. An expired row left behind
    /// by housekeeping is replaced.
    pub async fn remember_once(
        &self,
        tenant: &str,
        id: &str,
        now: i64,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query(
                "INSERT INTO upstream_states (tenant_id, id, expires_at) VALUES ($1, $2, $3) \
                 ON CONFLICT (tenant_id, id) DO UPDATE SET expires_at = excluded.expires_at \
                 WHERE upstream_states.expires_at <= $4",
            )
            .bind(tenant)
            .bind(id)
            .bind(expires_at)
            .bind(now)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Consumes a pending login; false when it was consumed before or has expired.
    pub async fn consume(&self, tenant: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        on_pool!(&self.db, pool => {
            let r = sqlx::query("DELETE FROM upstream_states WHERE tenant_id = $1 AND id = $2 AND expires_at > $3")
                .bind(tenant)
                .bind(id)
                .bind(now)
                .execute(pool)
                .await?;
            Ok(r.rows_affected() == 1)
        })
    }
}
