//! Users: create, read, update (with Auth0's metadata merge and root-attribute rules),
//! delete, list and look-up by email.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::email::EmailTemplate;
use gatehouse_core::payload::{Field, InvalidBody};
use gatehouse_core::user::{DATABASE_PROVIDER, NewUser, User, UserPatch};
use gatehouse_crypto::random;
use gatehouse_store::{StoreError, UserList, UserSearch};

/// Most attempts at a read-merge-write before giving up under heavy contention.
const UPDATE_ATTEMPTS: u64 = 64;

/// A short randomised pause between optimistic-update attempts, so writers that collided
/// do not collide again in lock-step.
async fn backoff(attempt: u64) {
    let jitter = gatehouse_crypto::random::bytes::<1>()
        .map(|b| b[0] as u64 % 4)
        .unwrap_or(1);
    tokio::time::sleep(std::time::Duration::from_millis(
        (attempt.min(10) + jitter) * 2,
    ))
    .await;
}

fn user_exists() -> ServiceError {
    ServiceError::Conflict("The user already exists.".into())
}

fn map_conflict(e: StoreError) -> ServiceError {
    match e {
        StoreError::Conflict(_) => user_exists(),
        other => other.into(),
    }
}

/// `auth0|…` ids are at most the provider, a bar and 255 characters; longer or empty ids
/// cannot exist and are refused before touching the database.
pub fn check_user_id(id: &str) -> Result<()> {
    if id.is_empty() || id.len() > 300 || id.chars().any(char::is_control) {
        return Err(ServiceError::InvalidUri(format!(
            "Path validation error: 'String does not match a valid user_id' on property id (ID of the user): {}",
            id.chars().take(64).collect::<String>()
        )));
    }
    Ok(())
}

fn check_username(conn: &ConnectionSettings, username: &str) -> Result<()> {
    let (min, max) = conn.username_length();
    let n = username.chars().count();
    if n < min || n > max {
        return Err(InvalidBody::on_property(
            format!("Username must be between {min} and {max} characters"),
            "username",
        )
        .into());
    }
    let allowed = |c: char| c.is_ascii_alphanumeric() || "_+-.!#$'^`~@".contains(c);
    if !username.chars().all(allowed) {
        return Err(InvalidBody::on_property(
            "Username contains characters that are not allowed",
            "username",
        )
        .into());
    }
    // Logins take an email or a username in one field: a username that is an address could
    // answer for someone else's email (security review L7).
    if gatehouse_core::payload::is_email(username) {
        return Err(
            InvalidBody::on_property("Username cannot be an email address", "username").into(),
        );
    }
    Ok(())
}

fn personal_info(u: &User) -> Vec<&str> {
    let mut v: Vec<&str> = [
        &u.name,
        &u.username,
        &u.nickname,
        &u.given_name,
        &u.family_name,
    ]
    .into_iter()
    .flatten()
    .map(String::as_str)
    .collect();
    if let Some(local) = u.email.as_deref().and_then(|e| e.split('@').next()) {
        v.push(local);
    }
    v
}

impl Gatehouse {
    pub async fn create_user(&self, req: NewUser) -> Result<User> {
        self.create_user_checked(req, |_| Ok(())).await
    }

    /// [`Gatehouse::create_user`], with `check` run on the user as it would be stored,
    /// before anything else happens (a delegated administrator's new user must meet their
    /// filter; no script runs, no email is queued, when it does not).
    pub(crate) async fn create_user_checked(
        &self,
        req: NewUser,
        check: impl FnOnce(&User) -> Result<()>,
    ) -> Result<User> {
        let conn = self
            .connection_by_name(&req.connection)
            .await?
            .ok_or_else(|| ServiceError::BadReference {
                code: "inexistent_connection",
                message: "The connection does not exist.".into(),
            })?;
        let settings = &conn.settings;
        if settings.strategy != DATABASE_PROVIDER {
            return Err(ServiceError::NotSupported(format!(
                "Users can only be created on database connections; {} is a {} connection",
                settings.name, settings.strategy
            )));
        }
        let email = req.email.map(|e| e.to_lowercase()).ok_or_else(|| {
            InvalidBody::new("Payload validation error: 'Missing required property: email'.")
        })?;
        let password = req.password.ok_or_else(|| {
            InvalidBody::new("Payload validation error: 'Missing required property: password'.")
        })?;
        match (&req.username, settings.requires_username()) {
            (Some(u), true) => check_username(settings, u)?,
            (None, true) => {
                return Err(InvalidBody::new(
                    "Payload validation error: 'Missing required property: username'.",
                )
                .into());
            }
            (Some(_), false) => {
                return Err(ServiceError::NotSupported(
                    "Cannot set username for connection without requires_username".into(),
                ));
            }
            (None, false) => {}
        }
        let max = self.config().max_metadata_bytes;
        let user_metadata = req
            .user_metadata
            .map(|m| m.into_document(max))
            .transpose()?
            .unwrap_or_default();
        let app_metadata = req
            .app_metadata
            .map(|m| m.into_document(max))
            .transpose()?
            .unwrap_or_default();
        let id = match req.user_id {
            Some(id) => id,
            None => random::hex(12).map_err(ServiceError::internal)?,
        };
        let now = self.now();
        let base = User::new(
            DATABASE_PROVIDER,
            &id,
            &conn.id,
            &settings.name,
            &email,
            now,
        );
        let picture = match req.picture {
            Some(p) => p,
            None => {
                let who = crate::pictures::Who {
                    email: &email,
                    given_name: req.given_name.as_deref(),
                    family_name: req.family_name.as_deref(),
                    name: req.name.as_deref(),
                };
                self.picture_for(self.picture_style().await?, who)
            }
        };
        let user = User {
            picture: Some(picture),
            name: req.name.or_else(|| base.name.clone()),
            nickname: req.nickname.or_else(|| base.nickname.clone()),
            email_verified: req.email_verified.unwrap_or(false),
            username: req.username,
            phone_verified: req.phone_verified.unwrap_or(false) && req.phone_number.is_some(),
            phone_number: req.phone_number,
            given_name: req.given_name,
            family_name: req.family_name,
            blocked: req.blocked,
            user_metadata,
            app_metadata,
            password_set_date: Some(now),
            ..base
        };
        check(&user)?;
        settings
            .password_policy()
            .check(&password, &personal_info(&user))?;
        if let Some(c) = crate::custom_db::CustomConnection::of(&conn)
            && let Some(kept) = self.create_through_scripts(&c, &user, &password).await?
        {
            tracing::info!(user_id = %kept.user_id, connection = %kept.connection, "user created in a custom database");
            return Ok(kept);
        }
        let hash = self.inner.hasher.hash(password).await?;
        // Auth0 sends the verification email unless told not to (`verify_email: false`).
        let outbox = match req.verify_email {
            Some(false) => None,
            _ => self.verification_email(&user).await?,
        };
        self.inner
            .users
            .insert(self.tenant(), &user, Some(&hash), outbox.as_slice())
            .await
            .map_err(map_conflict)?;
        tracing::info!(user_id = %user.user_id, connection = %user.connection, "user created");
        Ok(user)
    }

    /// A user; a linked identity is not a user of its own (Auth0: it leaves the user list).
    pub async fn get_user(&self, user_id: &str) -> Result<User> {
        check_user_id(user_id)?;
        Ok(self
            .inner
            .users
            .get(self.tenant(), user_id)
            .await?
            .filter(|v| v.linked_to.is_none())
            .ok_or_else(ServiceError::user_not_found)?
            .user)
    }

    pub async fn delete_user(&self, user_id: &str) -> Result<()> {
        check_user_id(user_id)?;
        let Some(found) = self.inner.users.get(self.tenant(), user_id).await? else {
            return Ok(());
        };
        // A linked identity is not a user to delete: unlink it first (as in Auth0).
        if found.linked_to.is_some() {
            return Ok(());
        }
        // Legacy custom databases delete in the customer's store first; a failure keeps
        // the user.
        if let Ok(conn) = self.stored_connection(&found.user.connection_id).await
            && let Some(c) = crate::custom_db::CustomConnection::of(&conn)
        {
            self.delete_through_scripts(&c, &found.user).await?;
        }
        // Deletion is the GDPR erasure (Auth0's documented way): the user's log events are
        // pseudonymised in the same transaction (`crate::gdpr`).
        let erasure = self.erasure_of(&found.user);
        // Events still queued for the log would be written after the erasure, unerased.
        self.flush_logs().await;
        if self
            .inner
            .users
            .delete_erasing(self.tenant(), user_id, Some(&erasure))
            .await?
        {
            tracing::info!(pseudonym = %erasure.pseudonym, "user deleted and its log events pseudonymised");
            self.record(gatehouse_core::log_event::LogEvent {
                kind: gatehouse_core::log_event::codes::SUCCESS_USER_DELETION.into(),
                description: Some("User deleted".into()),
                user_id: Some(erasure.pseudonym),
                ..Default::default()
            })
            .await;
        }
        Ok(())
    }

    pub async fn users_by_email(&self, email: &str) -> Result<Vec<User>> {
        Ok(self.inner.users.by_email(self.tenant(), email).await?)
    }

    /// Lists or searches users; `connection` is a connection name, as in Auth0's parameter.
    /// Results reflect every committed write: there is no separate search index to lag.
    pub async fn search_users(
        &self,
        connection: Option<&str>,
        mut q: UserSearch,
    ) -> Result<UserList> {
        if let Some(name) = connection {
            match self.connection_by_name(name).await? {
                Some(c) => q.connection_id = Some(c.id),
                None => {
                    return Ok(UserList {
                        users: vec![],
                        total: q.with_total.then_some(0),
                        ..Default::default()
                    });
                }
            }
        }
        Ok(self.inner.users.search(self.tenant(), &q).await?)
    }

    pub async fn update_user(&self, user_id: &str, patch: UserPatch) -> Result<User> {
        self.update_user_and_notify(user_id, patch, None).await
    }

    /// [`Gatehouse::update_user`], committing `notice` (an email) with the change.
    pub(crate) async fn update_user_and_notify(
        &self,
        user_id: &str,
        patch: UserPatch,
        notice: Option<EmailTemplate>,
    ) -> Result<User> {
        check_user_id(user_id)?;
        let first = self
            .inner
            .users
            .get(self.tenant(), user_id)
            .await?
            .filter(|v| v.linked_to.is_none())
            .ok_or_else(ServiceError::user_not_found)?;
        let conn = self
            .stored_connection(&first.user.connection_id)
            .await
            .map_err(|e| match e {
                // A user always has its connection; its absence is a broken rule, while a
                // store failure stays what it is.
                ServiceError::NotFound { .. } => {
                    ServiceError::broken(format!("connection of {user_id} is missing"))
                }
                other => other,
            })?;
        let settings = &conn.settings;
        if let Some(name) = &patch.connection
            && *name != first.user.connection
        {
            return Err(ServiceError::NotSupported(format!(
                "The user has no identity on connection {name}"
            )));
        }
        if let Field::Set(u) = &patch.username {
            if !settings.requires_username() {
                return Err(ServiceError::NotSupported(
                    "Cannot set username for connection without requires_username".into(),
                ));
            }
            check_username(settings, u)?;
        }
        if settings.is_external() {
            refuse_provider_owned_changes(settings, &patch)?;
        }
        // A custom database's scripts see the change first (legacy mode: the customer's
        // store owns the password and the profile).
        let (patch, password_changed_elsewhere) =
            match crate::custom_db::CustomConnection::of(&conn) {
                Some(c) => self.patch_through_scripts(&c, &first.user, patch).await?,
                None => (patch, false),
            };
        if patch.username == Field::Null && settings.requires_username() {
            return Err(ServiceError::NotSupported(
                "Cannot remove username for connection with requires_username".into(),
            ));
        }
        // Hash once, outside the retry loop: it is the expensive part.
        let new_password = match &patch.password {
            Some(pw) => {
                let mut candidate = first.user.clone();
                apply_root_changes(&mut candidate, &patch);
                let policy = settings.password_policy();
                policy.check(pw, &personal_info(&candidate))?;
                if let Some(n) = policy.history_size {
                    let mut previous = self
                        .inner
                        .users
                        .password_history(self.tenant(), user_id, n as i64)
                        .await?;
                    previous.extend(
                        self.inner
                            .users
                            .password_hash(self.tenant(), user_id)
                            .await?,
                    );
                    if self.inner.hasher.matches_any(pw.clone(), previous).await? {
                        return Err(
                            gatehouse_core::password_policy::PasswordRejection::PreviouslyUsed
                                .into(),
                        );
                    }
                }
                Some((
                    self.inner.hasher.hash(pw.clone()).await?,
                    policy.history_size.unwrap_or(0) as i64,
                ))
            }
            None => None,
        };
        let max = self.config().max_metadata_bytes;
        let mut current = first;
        for attempt in 0..UPDATE_ATTEMPTS {
            let mut user = current.user.clone();
            apply_root_changes(&mut user, &patch);
            if let Some(m) = patch.user_metadata.clone() {
                user.user_metadata = m.merge_into(std::mem::take(&mut user.user_metadata), max)?;
            }
            if let Some(m) = patch.app_metadata.clone() {
                user.app_metadata = m.merge_into(std::mem::take(&mut user.app_metadata), max)?;
            }
            let now = self.now().max(user.updated_at);
            user.updated_at = now;
            if new_password.is_some() || password_changed_elsewhere {
                user.last_password_reset = Some(now);
                user.password_set_date = Some(now);
            }
            let pw = new_password.as_ref().map(|(h, keep)| (h.as_str(), *keep));
            let mut outbox = vec![];
            if new_password.is_some() {
                outbox.extend(
                    self.email_for(EmailTemplate::PasswordChanged, &user, None)
                        .await?,
                );
            }
            if let Some(template) = notice {
                outbox.extend(self.email_for(template, &user, None).await?);
            }
            if self
                .inner
                .users
                .update(self.tenant(), &user, current.version, pw, outbox.as_slice())
                .await
                .map_err(map_conflict)?
            {
                if new_password.is_some() || password_changed_elsewhere {
                    // A new password lifts brute-force blocks, as in Auth0, and ends the
                    // user's sessions and refresh tokens.
                    self.inner
                        .login_failures
                        .clear_user(self.tenant(), user_id)
                        .await?;
                    self.after_password_change(user_id).await?;
                }
                if patch.blocked == Some(true) {
                    // Blocking ends what the user holds; unblocking brings none of it back
                    // (security review M6).
                    self.end_user_sessions(user_id).await?;
                }
                return Ok(user);
            }
            backoff(attempt).await;
            current = self
                .inner
                .users
                .get(self.tenant(), user_id)
                .await?
                .ok_or_else(ServiceError::user_not_found)?;
        }
        Err(ServiceError::broken(format!(
            "too much contention updating {user_id}"
        )))
    }
}

/// Root attributes a PATCH sets; `null` unsets where Auth0 allows it.
fn apply_root_changes(u: &mut User, p: &UserPatch) {
    if let Some(email) = &p.email {
        let email = email.to_lowercase();
        if u.email.as_deref() != Some(email.as_str()) {
            // A new address is unverified unless the caller says otherwise.
            u.email_verified = p.email_verified.unwrap_or(false);
        }
        u.email = Some(email);
    }
    if let Some(v) = p.email_verified {
        u.email_verified = v;
    }
    let set = |slot: &mut Option<String>, f: &Field<String>| match f {
        Field::Absent => {}
        Field::Null => *slot = None,
        Field::Set(v) => *slot = Some(v.clone()),
    };
    set(&mut u.username, &p.username);
    set(&mut u.given_name, &p.given_name);
    set(&mut u.family_name, &p.family_name);
    set(&mut u.name, &p.name);
    set(&mut u.nickname, &p.nickname);
    set(&mut u.picture, &p.picture);
    if p.phone_number != Field::Absent {
        let changed = match &p.phone_number {
            Field::Set(v) => u.phone_number.as_deref() != Some(v.as_str()),
            _ => true,
        };
        set(&mut u.phone_number, &p.phone_number);
        if changed {
            u.phone_verified = false;
        }
    }
    if let Some(v) = p.phone_verified {
        u.phone_verified = v && u.phone_number.is_some();
    }
    if let Some(b) = p.blocked {
        u.blocked = Some(b);
    }
}

/// An upstream provider's or a directory's users: their password lives there, and under
/// `set_user_root_attributes: on_each_login` (the default) so do the root attributes each
/// login overwrites; Auth0 refuses such a PATCH with this message.
fn refuse_provider_owned_changes(
    settings: &gatehouse_core::connection::ConnectionSettings,
    patch: &UserPatch,
) -> Result<()> {
    if patch.password.is_some() {
        return Err(ServiceError::NotSupported(format!(
            "Cannot change the password of a user of the connection {}: it is kept by the identity provider",
            settings.name
        )));
    }
    let each_login = settings
        .root_sync()
        .map(|r| r == gatehouse_core::upstream::RootSync::OnEachLogin)
        .unwrap_or(true);
    if !each_login {
        return Ok(());
    }
    let touched: Vec<&str> = [
        ("family_name", &patch.family_name),
        ("given_name", &patch.given_name),
        ("name", &patch.name),
        ("nickname", &patch.nickname),
        ("picture", &patch.picture),
    ]
    .into_iter()
    .filter(|(_, f)| !matches!(f, Field::Absent))
    .map(|(k, _)| k)
    .collect();
    if touched.is_empty() {
        return Ok(());
    }
    Err(ServiceError::NotSupported(format!(
        "The following user attributes cannot be updated: {}. The connection ({}) must either be a database connection (using the Auth0 store), a passwordless connection (email or sms) or has disabled 'Sync user profile attributes at each login'. For more information, see https://auth0.com/docs/dashboard/guides/connections/configure-connection-sync",
        touched.join(", "),
        settings.name
    )))
}
