//! A password checked by a custom database's `login` script: in legacy mode for every
//! login, in import mode until the user has moved (then the stored argon2id hash answers and
//! the customer's store is never asked again). Brute-force protection, `fp`/`fu` events and
//! blocks work as for stored hashes.

use super::{CustomConnection, ScriptFailure};
use crate::credentials::{LoginRefusal, refusal_cause};
use crate::{Gatehouse, ServiceError};
use gatehouse_core::custom_db::{ScriptName, ScriptProfile};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_scripts::{ErrorClass, ScriptError};
use gatehouse_store::StoredConnection;
use serde_json::Value;

impl Gatehouse {
    /// Checks a password with the connection's `login` script.
    pub(crate) async fn check_with_script(
        &self,
        stored: &StoredConnection,
        username: &str,
        password: String,
        event: &mut LogEvent,
    ) -> Result<User, LoginRefusal> {
        let Some(c) = CustomConnection::of(stored) else {
            return self.check_password(stored, username, password, event).await;
        };
        event.connection = Some(stored.settings.name.clone());
        event.user_name = Some(username.to_string());
        let local = self
            .inner
            .users
            .by_identifier(self.tenant(), username, Some(&stored.id))
            .await
            .map_err(refusal_cause)?
            .into_iter()
            .next();
        if c.custom.import_mode
            && let Some(v) = &local
        {
            let moved = self
                .inner
                .users
                .password_hash(self.tenant(), &v.user.user_id)
                .await
                .map_err(refusal_cause)?
                .is_some();
            if moved {
                return self.check_password(stored, username, password, event).await;
            }
        }
        let (ip, key, slot) = self
            .begin_attempt(stored, local.as_ref().map(|v| &v.user), username, event)
            .await?;
        let answer = self
            .run_script(
                &c,
                ScriptName::Login,
                vec![
                    Value::String(username.into()),
                    Value::String(password.clone()),
                ],
                vec![password.clone()],
            )
            .await
            .map_err(|e| LoginRefusal::Failed(e.into()))?;
        let profile = match answer {
            Ok(Some(v)) => ScriptProfile::read(&v).map_err(|p| ScriptFailure {
                connection: c.name().to_string(),
                script: ScriptName::Login,
                error: ScriptError::Threw(p.to_string()),
            }),
            // `callback()` without a profile: no such user (older templates answer a 401 so).
            Ok(None) => {
                return Err(self
                    .refuse_wrong_credentials(event, None, &key, &ip, slot, None)
                    .await);
            }
            Err(f) => Err(f),
        };
        let profile = match profile {
            Ok(p) => p,
            Err(f) => {
                let wrong = matches!(&f.error, ScriptError::Callback(e) if e.class == ErrorClass::WrongUsernameOrPasswordError);
                if wrong {
                    let (known, description) = self.who_failed(&c, &f, username, &local).await;
                    return Err(self
                        .refuse_wrong_credentials(event, known, &key, &ip, slot, description)
                        .await);
                }
                // Nothing about the password was learnt: the attempt's slots go back.
                if slot.is_some() {
                    self.give_back_slots(&key, &ip, false).await?;
                }
                if f.error == ScriptError::Busy {
                    return Err(LoginRefusal::Busy);
                }
                let mut failure = event.clone();
                failure.kind = codes::FAILED_LOGIN.into();
                failure.description = Some(f.to_string());
                self.record(failure).await;
                return Err(LoginRefusal::Script(f.public_description()));
            }
        };
        // The login succeeded: in import mode the password moves with the user, re-hashed.
        let hash = if c.custom.import_mode {
            match self.inner.hasher.hash(password).await {
                Ok(h) => Some(h),
                Err(ServiceError::Busy) => {
                    if slot.is_some() {
                        self.give_back_slots(&key, &ip, false).await?;
                    }
                    return Err(LoginRefusal::Busy);
                }
                Err(e) => return Err(LoginRefusal::Failed(e.into())),
            }
        } else {
            None
        };
        let user = match self.keep_script_user(&c, &profile, hash.as_deref()).await {
            Ok(u) => u,
            Err(ServiceError::Conflict(m)) => {
                let mut failure = event.clone();
                failure.kind = codes::FAILED_LOGIN.into();
                failure.description = Some(m.clone());
                self.record(failure).await;
                return Err(LoginRefusal::Script(m));
            }
            Err(e) => return Err(LoginRefusal::Failed(e.into())),
        };
        if slot.is_some() {
            self.give_back_slots(&key, &ip, true).await?;
        }
        self.login_as_primary(user, event).await
    }

    /// Whom a `WrongUsernameOrPasswordError` was about, for `fp` (a user) or `fu`. Auth0
    /// reads the error's first argument: falsy is `fu`, anything else `fp` for
    /// `auth0|<argument>`. Auth0's own templates pass the typed email for both an unknown
    /// user and a wrong password; then the copy Gatehouse holds, or the `get_user` script,
    /// tells which it was.
    async fn who_failed(
        &self,
        c: &CustomConnection<'_>,
        f: &ScriptFailure,
        typed: &str,
        local: &Option<gatehouse_store::VersionedUser>,
    ) -> (Option<String>, Option<String>) {
        let ScriptError::Callback(e) = &f.error else {
            return (None, None);
        };
        let description = Some(e.message.clone());
        let Some(first) = e.first_text() else {
            return (None, description);
        };
        if !first.eq_ignore_ascii_case(typed) {
            return (Some(format!("auth0|{first}")), description);
        }
        if let Some(v) = local {
            return (Some(v.user.user_id.clone()), description);
        }
        if !c.has(ScriptName::GetUser) {
            return (Some(format!("auth0|{first}")), description);
        }
        match self.script_user(c, typed).await {
            Ok(Ok(Some(p))) => (Some(format!("auth0|{}", p.user_id)), description),
            Ok(Ok(None)) => (None, description),
            _ => (Some(format!("auth0|{first}")), description),
        }
    }
}
