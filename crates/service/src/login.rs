//! Logging in with a password at the token endpoint (the `password` and Auth0's
//! `password-realm` grants), ID tokens, login statistics and `/userinfo`.

use crate::connections::{CONNECTION_NOT_ENABLED, connection_serves};
use crate::tokens::{IssuedToken, OAuthError, TokenRequest};
use crate::{Gatehouse, ServiceError};
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_crypto::jwt;
use gatehouse_store::Slot;
use serde_json::{Map, Value, json};

pub const PASSWORD_REALM_GRANT: &str = "http://auth0.com/oauth/grant-type/password-realm";

/// Failed logins log `fp` (wrong password) or `fu` (unknown user) and answer the same.
fn wrong_credentials() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Wrong email or password.")
}

/// Auth0's answer once a user is blocked from an IP.
fn too_many_attempts() -> OAuthError {
    OAuthError::new(
        429,
        "too_many_attempts",
        "Your account has been blocked after multiple consecutive login attempts.",
    )
}

/// ID token claims that depend on how the user logged in.
#[derive(Debug, Clone, Default)]
pub struct IdTokenExtras {
    pub nonce: Option<String>,
    /// When the user last entered credentials, in epoch seconds.
    pub auth_time: Option<i64>,
    /// The browser session, for logout.
    pub sid: Option<String>,
    /// Implicit flows returning `id_token token` bind the two with `at_hash`.
    pub at_hash: bool,
}

/// OIDC claims of a user for the requested scopes (`openid` gives `sub` only).
pub fn user_claims(u: &User, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(u.user_id));
    if scopes.contains(&"profile") {
        for (k, v) in [
            ("name", &u.name),
            ("given_name", &u.given_name),
            ("family_name", &u.family_name),
            ("nickname", &u.nickname),
            ("picture", &u.picture),
        ] {
            if let Some(v) = v {
                c.insert(k.into(), json!(v));
            }
        }
        c.insert(
            "updated_at".into(),
            json!(gatehouse_core::time::iso8601(u.updated_at)),
        );
    }
    if scopes.contains(&"email") {
        if let Some(e) = &u.email {
            c.insert("email".into(), json!(e));
        }
        c.insert("email_verified".into(), json!(u.email_verified));
    }
    c
}

/// Why a password login was refused; each has Auth0's wording.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum LoginRefusal {
    #[error("Wrong email or password.")]
    WrongCredentials,
    #[error("user is blocked")]
    Blocked,
    #[error("Your account has been blocked after multiple consecutive login attempts.")]
    TooManyAttempts,
    #[error(
        "This login attempt has been blocked because the password you're using was previously disclosed through a data breach (not in this application)."
    )]
    PasswordLeaked,
    #[error("Too many requests are waiting for password checks; retry in a moment")]
    Busy,
    /// Our failure (the database, the hasher): the cause goes to the edge's log.
    #[error("Something went wrong on our side. Try again in a moment.")]
    Failed(crate::Failure),
}

impl From<LoginRefusal> for OAuthError {
    fn from(r: LoginRefusal) -> Self {
        match r {
            LoginRefusal::WrongCredentials => wrong_credentials(),
            LoginRefusal::Blocked => OAuthError::new(401, "unauthorized", "user is blocked"),
            LoginRefusal::TooManyAttempts => too_many_attempts(),
            LoginRefusal::PasswordLeaked => OAuthError::new(403, "password_leaked", r.to_string()),
            LoginRefusal::Busy => OAuthError::new(429, "too_many_requests", r.to_string()),
            LoginRefusal::Failed(f) => OAuthError::failed(f),
        }
    }
}

/// How long the per-user counter across IPs keeps failures after the last attempt.
const USER_FAILURE_WINDOW_MS: i64 = 3_600_000;

/// A store failure during a login: its cause goes with the refusal to the edge's log.
fn refusal_cause(e: gatehouse_store::StoreError) -> LoginRefusal {
    LoginRefusal::Failed(e.into())
}

/// The brute-force counter key of an identifier no user has on this connection: a digest,
/// so the table never holds what was typed.
fn unknown_identifier_key(connection_id: &str, identifier: &str) -> String {
    let digest = gatehouse_crypto::sha256_hex(
        format!("{connection_id}\0{}", identifier.to_lowercase()).as_bytes(),
    );
    format!("?{}", &digest[..32])
}

impl Gatehouse {
    /// Checks a username (or email) and password on a connection, with brute-force
    /// protection per user and IP. Logs the login failures (`fp`, `fu`, `f`, `limit_wc`);
    /// the caller logs its own success or exchange event. `event` carries the request's
    /// client, IP and user agent, and gets the user's id when one was found.
    pub(crate) async fn check_password(
        &self,
        connection: &gatehouse_store::StoredConnection,
        username: &str,
        password: String,
        event: &mut LogEvent,
    ) -> Result<User, LoginRefusal> {
        event.connection = Some(connection.settings.name.clone());
        event.user_name = Some(username.to_string());
        let found = self
            .inner
            .users
            .by_identifier(self.tenant(), username, Some(&connection.id))
            .await
            .map_err(refusal_cause)?
            .into_iter()
            .next();
        let hash = match &found {
            Some(v) => self
                .inner
                .users
                .password_hash(self.tenant(), &v.user.user_id)
                .await
                .map_err(refusal_cause)?,
            None => None,
        };
        let ip = event.ip.clone().unwrap_or_else(|| "unknown".into());
        let guarded = connection
            .settings
            .options
            .get("brute_force_protection")
            .and_then(Value::as_bool)
            != Some(false);
        if let Some(v) = &found {
            event.user_id = Some(v.user.user_id.clone());
        }
        // Unknown identifiers are counted too, under a key of their own, so the lockout
        // answer does not tell which accounts exist (security review L3).
        let key = match &found {
            Some(v) => v.user.user_id.clone(),
            None => unknown_identifier_key(&connection.id, username),
        };
        let slot = if guarded {
            Some(self.reserve_login_attempt(&key, &ip).await?)
        } else {
            None
        };
        let candidate = password.clone();
        let stored = hash.clone();
        let ok = match self.inner.hasher.verify(password, hash).await {
            Ok(ok) => ok,
            Err(ServiceError::Busy) => {
                // Nothing was checked: the attempt gives its slots back.
                if slot.is_some() {
                    let failures = &self.inner.login_failures;
                    failures
                        .release(self.tenant(), &key, &ip)
                        .await
                        .map_err(refusal_cause)?;
                    failures
                        .release_user(self.tenant(), &key)
                        .await
                        .map_err(refusal_cause)?;
                }
                return Err(LoginRefusal::Busy);
            }
            Err(e) => return Err(LoginRefusal::Failed(e.into())),
        };
        let Some(found) = found.filter(|_| ok) else {
            let known_user = event.user_id.clone();
            let mut failure = event.clone();
            failure.kind = if known_user.is_some() {
                codes::FAILED_LOGIN_PASSWORD
            } else {
                codes::FAILED_LOGIN_USERNAME
            }
            .into();
            failure.description = Some("Wrong email or password.".into());
            self.record(failure.clone()).await;
            let threshold = self.config().brute_force_threshold;
            if slot.is_some_and(|n| n >= threshold)
                && self
                    .inner
                    .login_failures
                    .block(self.tenant(), &key, &ip, self.now())
                    .await
                    .map_err(refusal_cause)?
                && let Some(user_id) = known_user
            {
                failure.kind = codes::BLOCKED_ACCOUNT.into();
                failure.description = Some(format!(
                    "{threshold} consecutive failed logins: blocked from {ip}"
                ));
                self.record(failure).await;
                if let Ok(Some(v)) = self.inner.users.get(self.tenant(), &user_id).await
                    && let Err(e) = self.send_blocked_account_email(&v.user, &ip).await
                {
                    tracing::warn!(error = %e, "could not queue the blocked-account email");
                }
            }
            return Err(LoginRefusal::WrongCredentials);
        };
        if slot.is_some() {
            let failures = &self.inner.login_failures;
            failures
                .reset(self.tenant(), &key, &ip)
                .await
                .map_err(refusal_cause)?;
            failures
                .release_user(self.tenant(), &key)
                .await
                .map_err(refusal_cause)?;
        }
        if found.user.blocked == Some(true) {
            let mut failure = event.clone();
            failure.kind = codes::FAILED_LOGIN.into();
            failure.description = Some("user is blocked".into());
            self.record(failure).await;
            return Err(LoginRefusal::Blocked);
        }
        if self
            .breached_at_login(&found.user, &candidate, event)
            .await
            .map_err(|e| LoginRefusal::Failed(e.into()))?
        {
            return Err(LoginRefusal::PasswordLeaked);
        }
        if let Some(old) = stored.filter(|h| gatehouse_crypto::password::needs_rehash(h)) {
            self.rehash_imported(&found.user.user_id, &old, candidate)
                .await;
        }
        Ok(found.user)
    }

    /// Takes this attempt's slots before its password is hashed: one per (user, IP) and one
    /// in the user's counter across every IP. The attempt number in the pair's counter
    /// comes back; a used-up limit refuses the attempt without checking the password.
    async fn reserve_login_attempt(&self, key: &str, ip: &str) -> Result<i64, LoginRefusal> {
        let cfg = self.config();
        let now = self.now();
        let failures = &self.inner.login_failures;
        let pair = failures
            .reserve(self.tenant(), key, ip, cfg.brute_force_threshold, now)
            .await
            .map_err(refusal_cause)?;
        let Slot::Granted(n) = pair else {
            return Err(LoginRefusal::TooManyAttempts);
        };
        let user = failures
            .reserve_user(
                self.tenant(),
                key,
                cfg.brute_force_user_limit,
                USER_FAILURE_WINDOW_MS,
                now,
            )
            .await
            .map_err(refusal_cause)?;
        if user == Slot::Refused {
            // The pair's slot checked nothing: give it back.
            failures
                .release(self.tenant(), key, ip)
                .await
                .map_err(refusal_cause)?;
            return Err(LoginRefusal::TooManyAttempts);
        }
        Ok(n)
    }

    /// After a login with an imported (or older-cost) hash, stores the password as argon2id
    /// at today's cost. A failure only logs: the login itself already succeeded.
    async fn rehash_imported(&self, user_id: &str, old: &str, password: String) {
        let algorithm = gatehouse_crypto::imported::algorithm_name(old);
        let result = match self.inner.hasher.hash(password).await {
            Ok(new) => self
                .inner
                .users
                .replace_password_hash(self.tenant(), user_id, old, &new)
                .await
                .map_err(ServiceError::from),
            Err(e) => Err(e),
        };
        match result {
            Ok(true) => tracing::info!(user_id, from = algorithm, "password re-hashed to argon2id"),
            Ok(false) => {}
            Err(e) => tracing::warn!(user_id, error = %e, "could not re-hash a password"),
        }
    }

    pub(crate) async fn password_grant(
        &self,
        req: TokenRequest,
    ) -> Result<IssuedToken, OAuthError> {
        let grant = req.grant_type.clone().unwrap_or_default();
        let client = self.client_for_user_grant(&req, &grant).await?;
        let (Some(username), Some(password)) = (req.username.clone(), req.password.clone()) else {
            return Err(OAuthError::invalid_request(
                "Missing required parameters: username and password",
            ));
        };
        let realm = match (grant.as_str(), &req.realm) {
            (PASSWORD_REALM_GRANT, None) => {
                return Err(OAuthError::invalid_request(
                    "Missing required parameter: realm",
                ));
            }
            (_, Some(r)) => r.clone(),
            (_, None) => DEFAULT_DATABASE_CONNECTION.to_string(),
        };
        let connection = self.connection_by_name(&realm).await?.ok_or_else(|| {
            OAuthError::new(400, "invalid_request", format!("Unknown realm: {realm}"))
        })?;
        if !connection_serves(&connection, &client.client_id) {
            return Err(OAuthError::invalid_request(CONNECTION_NOT_ENABLED));
        }
        // Refuse a bad audience before the password is checked, so it never counts as a login.
        let api = match req.audience.as_deref() {
            Some(a) => {
                let api = self
                    .inner
                    .resource_servers
                    .get_by_identifier(self.tenant(), a)
                    .await
                    .map_err(OAuthError::failed)?
                    .ok_or_else(|| {
                        OAuthError::new(403, "access_denied", format!("Service not found: {a}"))
                    })?;
                if api.settings.is_system {
                    return Err(OAuthError::new(
                        403,
                        "access_denied",
                        "The Management API does not accept user tokens",
                    ));
                }
                Some(api)
            }
            None => None,
        };
        let mut event = LogEvent {
            client_id: Some(client.client_id.clone()),
            connection: Some(realm.clone()),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            user_name: Some(username.clone()),
            ..Default::default()
        };
        let found = match self
            .check_password(&connection, &username, password, &mut event)
            .await
        {
            Ok(user) => user,
            Err(refusal) => {
                event.kind = codes::FAILED_PASSWORD_EXCHANGE.into();
                event.description = Some(refusal.to_string());
                self.record(event).await;
                return Err(refusal.into());
            }
        };
        let user = self.record_login(&found.user_id, req.ip.as_deref()).await?;
        let extra = IdTokenExtras {
            auth_time: Some(self.now() / 1000),
            ..Default::default()
        };
        let mut issued =
            self.user_tokens(&client, &user, api.as_ref(), req.scope.as_deref(), &extra)?;
        self.maybe_refresh_token(
            &client,
            &user,
            api.as_ref(),
            req.scope.as_deref(),
            None,
            &mut issued,
        )
        .await?;
        event.kind = codes::SUCCESS_PASSWORD_EXCHANGE.into();
        event.description = Some("Password for Access Token".into());
        self.record(event).await;
        Ok(issued)
    }

    /// Counts a login: `logins_count`, `last_login`, `last_ip`.
    pub(crate) async fn record_login(
        &self,
        user_id: &str,
        ip: Option<&str>,
    ) -> Result<User, OAuthError> {
        self.inner
            .users
            .record_login(self.tenant(), user_id, self.now(), ip)
            .await
            .map_err(OAuthError::failed)?
            .map(|v| v.user)
            .ok_or_else(wrong_credentials)
    }

    /// An access token (for the API, else for `/userinfo`) and, with `openid`, an ID token.
    pub(crate) fn user_tokens(
        &self,
        client: &gatehouse_store::StoredClient,
        user: &User,
        api: Option<&gatehouse_store::StoredResourceServer>,
        scope: Option<&str>,
        extra: &IdTokenExtras,
    ) -> Result<IssuedToken, OAuthError> {
        let requested: Vec<&str> = scope.unwrap_or("openid").split_whitespace().collect();
        let oidc: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|s| ["openid", "profile", "email"].contains(s))
            .collect();
        let now = self.now() / 1000;
        let issuer = self.config().issuer();
        let userinfo = format!("{issuer}userinfo");
        let (aud, lifetime, mut scopes) = match api {
            Some(api) => {
                // Without role-based access control, a user may have any scope the API defines.
                let api_scopes: Vec<&str> = requested
                    .iter()
                    .copied()
                    .filter(|s| api.settings.defines_scope(s))
                    .collect();
                let a = &api.settings.identifier;
                let aud = if oidc.contains(&"openid") {
                    json!([a, userinfo])
                } else {
                    json!(a)
                };
                (aud, api.settings.token_lifetime, api_scopes)
            }
            None => (json!(userinfo), 86_400, vec![]),
        };
        let mut granted = oidc.clone();
        granted.append(&mut scopes);
        let scope = granted.join(" ");
        let access = json!({
            "iss": issuer, "sub": user.user_id, "aud": aud, "iat": now, "exp": now + lifetime,
            "scope": scope, "azp": client.client_id,
        });
        let access_token =
            jwt::sign(self.keyring().current(), &access).map_err(OAuthError::internal)?;
        let id_token = if oidc.contains(&"openid") {
            let lifetime = client
                .settings
                .jwt_configuration
                .get("lifetime_in_seconds")
                .and_then(Value::as_i64)
                .unwrap_or(36_000);
            let mut claims = user_claims(user, &oidc);
            claims.insert("iss".into(), json!(issuer));
            claims.insert("aud".into(), json!(client.client_id));
            claims.insert("iat".into(), json!(now));
            claims.insert("exp".into(), json!(now + lifetime));
            if let Some(n) = &extra.nonce {
                claims.insert("nonce".into(), json!(n));
            }
            if let Some(t) = extra.auth_time {
                claims.insert("auth_time".into(), json!(t));
            }
            if let Some(sid) = &extra.sid {
                claims.insert("sid".into(), json!(sid));
            }
            if extra.at_hash {
                claims.insert(
                    "at_hash".into(),
                    json!(gatehouse_crypto::at_hash(&access_token)),
                );
            }
            Some(
                jwt::sign(self.keyring().current(), &Value::Object(claims))
                    .map_err(OAuthError::internal)?,
            )
        } else {
            None
        };
        Ok(IssuedToken {
            access_token,
            id_token,
            refresh_token: None,
            scope,
            expires_in: lifetime,
        })
    }

    /// `/userinfo`: the claims of the token's user, read fresh, for the token's OIDC scopes.
    pub async fn userinfo(&self, token: &str) -> Option<Map<String, Value>> {
        let claims = jwt::verify(token, self.keyring().published()).ok()?;
        let userinfo = format!("{}userinfo", self.config().issuer());
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == userinfo,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(userinfo.as_str())),
            _ => false,
        };
        let exp = claims.get("exp").and_then(Value::as_i64)?;
        if !aud_ok
            || exp <= self.now() / 1000
            || claims.get("iss").and_then(Value::as_str) != Some(&self.config().issuer())
        {
            return None;
        }
        let sub = claims.get("sub").and_then(Value::as_str)?;
        let scopes: Vec<&str> = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .collect();
        let user = self.inner.users.get(self.tenant(), sub).await.ok()??.user;
        // A token issued before this user existed was issued to a deleted user whose id
        // has been given to someone else.
        let iat = claims.get("iat").and_then(Value::as_i64)?;
        if user.created_at / 1000 > iat {
            return None;
        }
        Some(user_claims(&user, &scopes))
    }
}
