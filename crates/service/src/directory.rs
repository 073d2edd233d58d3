//! Directory connections' logins (`strategy: "ad"`): the password checked by the directory
//! (`gatehouse_directory`), with brute-force protection and `fp`/`fu`/`f` events as for
//! database users; the entry kept as an external identity (`ad|<connection>|<id>`), updated
//! as `set_user_root_attributes` says, its groups on the user (`groups`, where the
//! authorization's group mappings turn them into roles and permissions). A directory that
//! cannot be reached ends the attempt with [`LoginRefusal::DirectoryDown`]: nothing stored,
//! nothing counted against the user.

use crate::credentials::{LoginRefusal, refusal_cause};
use crate::upstream::{ExternalIdentity, UpstreamError};
use crate::{Gatehouse, ServiceError};
use gatehouse_core::directory::{BIND_PASSWORD, DIRECTORY_STRATEGY, DirectoryOptions, profile_of};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_directory::Verdict;
use gatehouse_store::StoredConnection;

impl Gatehouse {
    /// The connection's options and the service account's password, or our failure (the
    /// options were checked when saved).
    fn directory_settings(
        &self,
        stored: &StoredConnection,
    ) -> Result<(DirectoryOptions, Option<String>), LoginRefusal> {
        let options = stored.settings.directory_options().map_err(|e| {
            LoginRefusal::Failed(
                ServiceError::broken(format!(
                    "the stored options of the directory connection {} do not parse: {e}",
                    stored.settings.name
                ))
                .into(),
            )
        })?;
        let bind_password = self
            .connection_secret(stored, BIND_PASSWORD)
            .map_err(|e| LoginRefusal::Failed(e.into()))?;
        Ok((options, bind_password))
    }

    /// Records a login the directory could not decide (`f`, with the cause) and answers the
    /// refusal that says so.
    async fn directory_failed(&self, event: &LogEvent, cause: String) -> LoginRefusal {
        let mut failure = event.clone();
        failure.kind = codes::FAILED_LOGIN.into();
        failure.description = Some(cause);
        self.record(failure).await;
        LoginRefusal::DirectoryDown(event.connection.clone().unwrap_or_default())
    }

    /// Checks a username and password with the connection's directory.
    pub(crate) async fn check_with_directory(
        &self,
        stored: &StoredConnection,
        username: &str,
        password: String,
        event: &mut LogEvent,
    ) -> Result<User, LoginRefusal> {
        let name = stored.settings.name.clone();
        event.connection = Some(name.clone());
        event.user_name = Some(username.to_string());
        let (options, bind_password) = self.directory_settings(stored)?;
        let local = self
            .inner
            .users
            .by_identifier(self.tenant(), username, Some(&stored.id))
            .await
            .map_err(refusal_cause)?
            .into_iter()
            .next();
        let (ip, key, slot) = self
            .begin_attempt(stored, local.as_ref().map(|v| &v.user), username, event)
            .await?;
        let user_id_of = |id: &str| {
            format!(
                "{DIRECTORY_STRATEGY}|{}",
                DirectoryOptions::identity_user_id(&name, id)
            )
        };
        let verdict = gatehouse_directory::check_password(
            &self.inner.directory_pool,
            &options,
            bind_password.as_deref(),
            username,
            &password,
        )
        .await;
        let entry = match verdict {
            Ok(Verdict::Verified(entry)) => entry,
            Ok(Verdict::UnknownUser) => {
                return Err(self
                    .refuse_wrong_credentials(event, None, &key, &ip, slot, None)
                    .await);
            }
            Ok(Verdict::WrongPassword { id }) => {
                let known = local
                    .as_ref()
                    .map(|v| v.user.user_id.clone())
                    .or_else(|| id.as_deref().map(user_id_of));
                return Err(self
                    .refuse_wrong_credentials(event, known, &key, &ip, slot, None)
                    .await);
            }
            Ok(Verdict::Refused(why)) => {
                let description = format!("the directory refused the account: {why}");
                return Err(self
                    .refuse_wrong_credentials(event, None, &key, &ip, slot, Some(description))
                    .await);
            }
            Err(e) => {
                // Nothing about the password was learnt: the attempt's slots go back.
                if slot.is_some() {
                    self.give_back_slots(&key, &ip, false).await?;
                }
                tracing::warn!(connection = %name, error = %e, "directory login failed");
                return Err(self.directory_failed(event, e.to_string()).await);
            }
        };
        let Some(mut profile) = profile_of(&entry.dn, &entry.attrs, entry.guid, entry.groups)
        else {
            if slot.is_some() {
                self.give_back_slots(&key, &ip, false).await?;
            }
            let why = format!(
                "the directory entry {} has none of objectGUID, uid or cn to identify it",
                entry.dn
            );
            return Err(self.directory_failed(event, why).await);
        };
        // Deny-listed attributes are never stored (the password grants carry no
        // login-only claims).
        profile.split_off_denied(&options.non_persistent_attrs);
        let who = ExternalIdentity {
            strategy: DIRECTORY_STRATEGY,
            identity_user_id: DirectoryOptions::identity_user_id(&name, &profile.id),
            root_sync: options.root_sync,
            name_on_first_login_only: false,
        };
        let user_id = match self.keep_external_user(stored, &who, profile).await {
            Ok((user_id, _)) => user_id,
            Err(UpstreamError::Refused(m)) => {
                if slot.is_some() {
                    self.give_back_slots(&key, &ip, false).await?;
                }
                let mut failure = event.clone();
                failure.kind = codes::FAILED_LOGIN.into();
                failure.description = Some(m.clone());
                self.record(failure).await;
                return Err(LoginRefusal::Script(format!(
                    "This account cannot sign in here: {m}."
                )));
            }
            Err(UpstreamError::Ours(e)) => return Err(LoginRefusal::Failed(e.into())),
            Err(e) => {
                return Err(LoginRefusal::Failed(
                    ServiceError::broken(format!("keeping a directory user: {e}")).into(),
                ));
            }
        };
        if slot.is_some() {
            self.give_back_slots(&key, &ip, true).await?;
        }
        let user = self
            .inner
            .users
            .get(self.tenant(), &user_id)
            .await
            .map_err(refusal_cause)?
            .ok_or_else(|| {
                LoginRefusal::Failed(
                    ServiceError::broken(format!("the directory user {user_id} is gone")).into(),
                )
            })?;
        self.login_as_primary(user.user, event).await
    }
}

/// What the dashboard's "Test connection" found.
#[derive(Debug, Clone)]
pub struct DirectoryProbe {
    /// How many entries the user filter found for the sample username (when one was given),
    /// or why the directory could not be used.
    pub outcome: std::result::Result<Option<usize>, String>,
    pub elapsed_ms: u64,
}

impl Gatehouse {
    /// Connects to a directory connection's server with its saved settings, binds as the
    /// service account, reads the base DN and, given a sample username, counts the entries
    /// the user filter finds. Writes nothing.
    pub async fn probe_directory(
        &self,
        id: &str,
        sample: Option<&str>,
    ) -> crate::Result<DirectoryProbe> {
        let stored = self.stored_connection(id).await?;
        if !stored.settings.is_directory() {
            return Err(ServiceError::NotSupported(
                "Only AD/LDAP connections have a directory to test.".into(),
            ));
        }
        let (options, bind_password) = match self.directory_settings(&stored) {
            Ok(s) => s,
            Err(LoginRefusal::Failed(f)) => return Err(ServiceError::broken(f.to_string())),
            Err(other) => return Err(ServiceError::broken(other.to_string())),
        };
        let started = std::time::Instant::now();
        let outcome = gatehouse_directory::probe(&options, bind_password.as_deref(), sample)
            .await
            .map_err(|e| e.to_string());
        Ok(DirectoryProbe {
            outcome,
            elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        })
    }
}
