//! Checking who someone is from what they typed: a username and password on a connection,
//! with brute-force protection per user and IP, breached-password checks and re-hashing of
//! imported hashes. Both the token endpoint's password grants (`crate::oauth::password`)
//! and the hosted login page (`crate::browser::login`) come here.

use crate::{Gatehouse, ServiceError};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_store::Slot;

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
    /// A custom database's script refused the login or failed: what the user is told (its
    /// `UnauthorizedError` message, or a description without the cause).
    #[error("{0}")]
    Script(String),
    /// A directory connection's directory could not be reached or failed: nothing about
    /// the password was learnt, and nothing was stored.
    #[error(
        "We could not reach the directory of {0} to check your password. Nothing was changed; try again in a moment."
    )]
    DirectoryDown(String),
    /// Our failure (the database, the hasher): the cause goes to the edge's log.
    #[error("Something went wrong on our side. Try again in a moment.")]
    Failed(crate::Failure),
}

/// How a connection checks a password. Database connections compare against the hash
/// stored with the user; a custom-database connection with a `login` script runs it (in
/// import mode only for users who have not moved yet: `custom_db::login`); a directory
/// connection asks its directory (`crate::directory`).
enum PasswordCheck {
    StoredHash,
    Script,
    Directory,
}

impl PasswordCheck {
    fn of(connection: &gatehouse_core::connection::ConnectionSettings) -> Self {
        if connection.is_directory() {
            return PasswordCheck::Directory;
        }
        match connection.custom_database() {
            Some(c)
                if c.script(gatehouse_core::custom_db::ScriptName::Login)
                    .is_some() =>
            {
                PasswordCheck::Script
            }
            _ => PasswordCheck::StoredHash,
        }
    }
}

/// How long the per-user counter across IPs keeps failures after the last attempt.
const USER_FAILURE_WINDOW_MS: i64 = 3_600_000;

/// A store failure during a login: its cause goes with the refusal to the edge's log.
pub(crate) fn refusal_cause(e: gatehouse_store::StoreError) -> LoginRefusal {
    LoginRefusal::Failed(e.into())
}

/// The brute-force counter key of an identifier no user has on this connection: a digest,
/// so the table never holds what was typed.
pub(crate) fn unknown_identifier_key(connection_id: &str, identifier: &str) -> String {
    let digest = gatehouse_crypto::sha256_hex(
        format!("{connection_id}\0{}", identifier.to_lowercase()).as_bytes(),
    );
    format!("?{}", &digest[..32])
}

impl Gatehouse {
    /// Checks a password on a connection, by the connection's strategy: the seam where a
    /// custom-database connection's `login` script will sit beside the stored hashes. The
    /// hosted login and the password grants both come here.
    pub(crate) async fn verify_password(
        &self,
        connection: &gatehouse_store::StoredConnection,
        username: &str,
        password: String,
        event: &mut LogEvent,
    ) -> Result<User, LoginRefusal> {
        match PasswordCheck::of(&connection.settings) {
            PasswordCheck::StoredHash => {
                self.check_password(connection, username, password, event)
                    .await
            }
            PasswordCheck::Script => {
                self.check_with_script(connection, username, password, event)
                    .await
            }
            PasswordCheck::Directory => {
                self.check_with_directory(connection, username, password, event)
                    .await
            }
        }
    }

    /// Starts counting a password attempt: its address, its brute-force counter key (the
    /// connection's user the identifier names, else a digest of what was typed, so the
    /// lockout answer does not tell which accounts exist: security review L3) and, when the
    /// connection is protected, the slot reserved for it.
    pub(crate) async fn begin_attempt(
        &self,
        connection: &gatehouse_store::StoredConnection,
        known: Option<&User>,
        username: &str,
        event: &LogEvent,
    ) -> Result<(String, String, Option<i64>), LoginRefusal> {
        let ip = event.ip.clone().unwrap_or_else(|| "unknown".into());
        let key = match known {
            Some(u) => u.user_id.clone(),
            None => unknown_identifier_key(&connection.id, username),
        };
        let slot = if connection.settings.brute_force_protection() {
            Some(self.reserve_login_attempt(&key, &ip).await?)
        } else {
            None
        };
        Ok((ip, key, slot))
    }

    /// The user a proven identity logs in as: itself, or the primary user it is linked to;
    /// refused (and logged `f`) when that user is blocked.
    pub(crate) async fn login_as_primary(
        &self,
        user: User,
        event: &mut LogEvent,
    ) -> Result<User, LoginRefusal> {
        event.user_id = Some(user.user_id.clone());
        if user.blocked == Some(true) {
            let mut failure = event.clone();
            failure.kind = codes::FAILED_LOGIN.into();
            failure.description = Some("user is blocked".into());
            self.record(failure).await;
            return Err(LoginRefusal::Blocked);
        }
        let primary = self
            .inner
            .users
            .primary_of(self.tenant(), &user.user_id)
            .await
            .map_err(refusal_cause)?;
        match primary {
            Some(p) if p != user.user_id => {
                let primary = self
                    .inner
                    .users
                    .get(self.tenant(), &p)
                    .await
                    .map_err(refusal_cause)?
                    .ok_or_else(|| {
                        LoginRefusal::Failed(
                            ServiceError::broken(format!("the primary user {p} is gone")).into(),
                        )
                    })?;
                if primary.user.blocked == Some(true) {
                    return Err(LoginRefusal::Blocked);
                }
                event.user_id = Some(p);
                Ok(primary.user)
            }
            _ => Ok(user),
        }
    }

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
        if let Some(v) = &found {
            event.user_id = Some(v.user.user_id.clone());
        }
        let (ip, key, slot) = self
            .begin_attempt(connection, found.as_ref().map(|v| &v.user), username, event)
            .await?;
        let candidate = password.clone();
        let stored = hash.clone();
        let ok = match self.inner.hasher.verify(password, hash).await {
            Ok(ok) => ok,
            Err(ServiceError::Busy) => {
                // Nothing was checked: the attempt gives its slots back.
                if slot.is_some() {
                    self.give_back_slots(&key, &ip, false).await?;
                }
                return Err(LoginRefusal::Busy);
            }
            Err(e) => return Err(LoginRefusal::Failed(e.into())),
        };
        let Some(found) = found.filter(|_| ok) else {
            let known_user = event.user_id.clone();
            return Err(self
                .refuse_wrong_credentials(event, known_user, &key, &ip, slot, None)
                .await);
        };
        if slot.is_some() {
            // A right password clears the pair's count of consecutive failures.
            self.give_back_slots(&key, &ip, true).await?;
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
        let Some(primary) = &found.linked_to else {
            return Ok(found.user);
        };
        // A linked identity logs in as the user it is linked to.
        let primary = self
            .inner
            .users
            .get(self.tenant(), primary)
            .await
            .map_err(refusal_cause)?
            .ok_or_else(|| {
                LoginRefusal::Failed(
                    ServiceError::broken(format!(
                        "the primary user of {} is gone",
                        found.user.user_id
                    ))
                    .into(),
                )
            })?;
        if primary.user.blocked == Some(true) {
            let mut failure = event.clone();
            failure.kind = codes::FAILED_LOGIN.into();
            failure.description = Some("user is blocked".into());
            self.record(failure).await;
            return Err(LoginRefusal::Blocked);
        }
        event.user_id = Some(primary.user.user_id.clone());
        Ok(primary.user)
    }

    /// A wrong password or unknown identifier: logs `fp` (a known user) or `fu`, and blocks
    /// the user from the IP once the consecutive failures reach the threshold (`limit_wc`,
    /// with the blocked-account email). `description` replaces Auth0's wording (a script's
    /// own message).
    pub(crate) async fn refuse_wrong_credentials(
        &self,
        event: &LogEvent,
        known_user: Option<String>,
        key: &str,
        ip: &str,
        slot: Option<i64>,
        description: Option<String>,
    ) -> LoginRefusal {
        let mut failure = event.clone();
        failure.user_id = known_user.clone();
        failure.kind = if known_user.is_some() {
            codes::FAILED_LOGIN_PASSWORD
        } else {
            codes::FAILED_LOGIN_USERNAME
        }
        .into();
        failure.description =
            Some(description.unwrap_or_else(|| "Wrong email or password.".into()));
        self.record(failure.clone()).await;
        let threshold = self.config().brute_force_threshold;
        let blocked = if slot.is_some_and(|n| n >= threshold) {
            match self
                .inner
                .login_failures
                .block(self.tenant(), key, ip, self.now())
                .await
            {
                Ok(b) => b,
                Err(e) => return refusal_cause(e),
            }
        } else {
            false
        };
        if blocked && let Some(user_id) = known_user {
            failure.kind = codes::BLOCKED_ACCOUNT.into();
            failure.description = Some(format!(
                "{threshold} consecutive failed logins: blocked from {ip}"
            ));
            self.record(failure).await;
            if let Ok(Some(v)) = self.inner.users.get(self.tenant(), &user_id).await
                && let Err(e) = self.send_blocked_account_email(&v.user, ip).await
            {
                tracing::warn!(error = %e, "could not queue the blocked-account email");
            }
        }
        LoginRefusal::WrongCredentials
    }

    /// Takes this attempt's slots before its password is hashed: one per (user, IP) and one
    /// in the user's counter across every IP. The attempt number in the pair's counter
    /// comes back; a used-up limit refuses the attempt without checking the password.
    pub(crate) async fn reserve_login_attempt(
        &self,
        key: &str,
        ip: &str,
    ) -> Result<i64, LoginRefusal> {
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

    /// Returns an attempt's slots: the user's one across addresses, and the pair's (or, with
    /// `reset`, clears the pair's count altogether).
    pub(crate) async fn give_back_slots(
        &self,
        key: &str,
        ip: &str,
        reset: bool,
    ) -> Result<(), LoginRefusal> {
        let failures = &self.inner.login_failures;
        if reset {
            failures.reset(self.tenant(), key, ip).await
        } else {
            failures.release(self.tenant(), key, ip).await
        }
        .map_err(refusal_cause)?;
        failures
            .release_user(self.tenant(), key)
            .await
            .map_err(refusal_cause)?;
        Ok(())
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
}
