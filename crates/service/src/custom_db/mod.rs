//! Custom-database connections: the customer's own user store reached through Auth0's
//! action scripts, run in the `gatehouse-scripts` sandbox. `login` is the password check
//! behind `credentials::verify_password`; `lifecycle` holds what runs at sign-up, password
//! change and reset, email change, verification and delete. In legacy mode the scripts run
//! for every operation and Gatehouse keeps a copy of the profile; in import mode each user
//! moves over at the first successful login and the scripts never run for them again.

mod lifecycle;
mod login;
mod try_script;

pub use try_script::{ScriptTrial, TryRequest};

use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::custom_db::{CustomDatabase, ScriptName, ScriptProfile};
use gatehouse_core::user::User;
use gatehouse_scripts::{ScriptCall, ScriptError, ScriptPool, ScriptRun};
use gatehouse_store::{StoreError, StoredConnection};
use serde_json::{Map, Value};

/// A connection whose scripts are switched on, with its settings read once.
pub(crate) struct CustomConnection<'a> {
    pub stored: &'a StoredConnection,
    pub custom: CustomDatabase,
}

impl<'a> CustomConnection<'a> {
    pub(crate) fn of(stored: &'a StoredConnection) -> Option<Self> {
        Some(Self {
            custom: stored.settings.custom_database()?,
            stored,
        })
    }

    fn name(&self) -> &str {
        &self.stored.settings.name
    }

    fn has(&self, script: ScriptName) -> bool {
        self.custom.script(script).is_some()
    }
}

/// A script that did not give an answer Gatehouse can use, with the connection and script
/// it came from; shown to administrators, logged with its cause.
#[derive(Debug, Clone, thiserror::Error)]
#[error("the {} script of the connection {connection} failed: {error}", script.key())]
pub struct ScriptFailure {
    pub connection: String,
    pub script: ScriptName,
    pub error: ScriptError,
}

impl ScriptFailure {
    /// What a user or an application is told: the script's own message for the errors Auth0
    /// shows (`UnauthorizedError`, `ValidationError`), a description without the cause for
    /// the rest (the cause may name the customer's hosts; it goes to the tenant log).
    pub fn public_description(&self) -> String {
        use gatehouse_scripts::ErrorClass;
        match &self.error {
            ScriptError::Callback(e)
                if matches!(
                    e.class,
                    ErrorClass::UnauthorizedError | ErrorClass::ValidationError
                ) =>
            {
                e.message.clone()
            }
            ScriptError::TimedOut(ms) => format!(
                "The {} script of the connection {} did not answer within {ms} ms.",
                self.script.key(),
                self.connection
            ),
            ScriptError::Busy => {
                "Too many logins are waiting for their scripts; try again in a moment.".into()
            }
            _ => format!(
                "The {} script of the connection {} failed; the tenant log has the details.",
                self.script.key(),
                self.connection
            ),
        }
    }
}

impl From<ScriptFailure> for ServiceError {
    fn from(f: ScriptFailure) -> Self {
        if let ScriptError::Busy = f.error {
            return ServiceError::TooManyRequests(f.public_description());
        }
        ServiceError::Script {
            code: "custom_script_error",
            public: f.public_description(),
            message: f.to_string(),
        }
    }
}

/// The purpose one `configuration` value is sealed for: bound to its connection and key, so
/// a sealed value copied elsewhere does not open.
fn configuration_purpose(connection_id: &str, key: &str) -> String {
    format!("connection-configuration/{connection_id}/{key}")
}

impl Gatehouse {
    /// The sandbox, started at the first script run.
    pub(crate) async fn script_pool(&self) -> Result<&ScriptPool> {
        self.inner
            .scripts
            .get_or_try_init(|| async {
                ScriptPool::start(self.config().scripts.clone()).map_err(ServiceError::internal)
            })
            .await
    }

    /// Seals every value of `options.configuration` that is not already sealed for this
    /// connection: values come back from the API sealed (never in clear), and a PATCH that
    /// sends them back unchanged keeps them.
    pub(crate) fn seal_configuration(
        &self,
        connection_id: &str,
        options: &mut Map<String, Value>,
    ) -> Result<()> {
        let Some(Value::Object(config)) = options.get_mut("configuration") else {
            return Ok(());
        };
        for (key, value) in config.iter_mut() {
            let Value::String(text) = value else { continue };
            let purpose = configuration_purpose(connection_id, key);
            if self.inner.secrets.open_text(&purpose, text).is_ok() {
                continue;
            }
            let sealed = self
                .inner
                .secrets
                .seal_text(&purpose, text)
                .map_err(ServiceError::internal)?;
            *value = Value::String(sealed);
        }
        Ok(())
    }

    /// The connection's `configuration` in clear, for a script run.
    fn script_configuration(&self, c: &StoredConnection) -> Result<Map<String, Value>> {
        let mut out = Map::new();
        let Some(config) = c
            .settings
            .options
            .get("configuration")
            .and_then(Value::as_object)
        else {
            return Ok(out);
        };
        for (key, value) in config {
            let Some(sealed) = value.as_str() else {
                continue;
            };
            let clear = self
                .inner
                .secrets
                .open_text(&configuration_purpose(&c.id, key), sealed)
                .map_err(ServiceError::internal)?;
            out.insert(key.clone(), Value::String(clear));
        }
        Ok(out)
    }

    /// Runs one of a connection's scripts with `args` (the callback is added), returning the
    /// whole run (console included).
    async fn run_script_source(
        &self,
        c: &StoredConnection,
        script: ScriptName,
        source: &str,
        args: Vec<Value>,
        secrets: Vec<String>,
    ) -> Result<ScriptRun> {
        let configuration = self.script_configuration(c)?;
        let pool = self.script_pool().await?;
        // The cache is per connection and per version of its scripts: changed scripts start
        // with an empty `global`.
        let version = gatehouse_crypto::sha256_hex(
            serde_json::to_string(&c.settings.options.get("customScripts"))
                .unwrap_or_default()
                .as_bytes(),
        );
        let run = pool
            .run(ScriptCall {
                cache_key: format!("{}/{}", c.id, &version[..16]),
                name: script.key().to_string(),
                source: source.to_string(),
                args,
                configuration,
                secrets,
                keep_warm: false,
            })
            .await;
        tracing::debug!(
            connection = %c.settings.name,
            script = script.key(),
            elapsed_ms = run.elapsed_ms,
            ok = run.outcome.is_ok(),
            "script ran"
        );
        Ok(run)
    }

    /// Runs a script the connection has, giving its callback value or why it failed.
    pub(crate) async fn run_script(
        &self,
        c: &CustomConnection<'_>,
        script: ScriptName,
        args: Vec<Value>,
        secrets: Vec<String>,
    ) -> Result<std::result::Result<Option<Value>, ScriptFailure>> {
        let Some(source) = c.custom.script(script) else {
            return Err(ServiceError::broken(format!(
                "the connection {} has no {} script",
                c.name(),
                script.key()
            )));
        };
        let run = self
            .run_script_source(c.stored, script, source, args, secrets)
            .await?;
        Ok(run.outcome.map_err(|error| {
            let failure = ScriptFailure {
                connection: c.name().to_string(),
                script,
                error,
            };
            if !matches!(failure.error, ScriptError::Callback(_)) {
                tracing::warn!(error = %failure, "custom database script failed");
            }
            failure
        }))
    }

    /// `get_user(email)`: the customer's profile of a user, `None` when the store has none.
    pub(crate) async fn script_user(
        &self,
        c: &CustomConnection<'_>,
        email: &str,
    ) -> Result<std::result::Result<Option<ScriptProfile>, ScriptFailure>> {
        let answer = self
            .run_script(
                c,
                ScriptName::GetUser,
                vec![Value::String(email.to_string())],
                vec![],
            )
            .await?;
        Ok(match answer {
            Ok(None) => Ok(None),
            Ok(Some(v)) => ScriptProfile::read(&v)
                .map(Some)
                .map_err(|p| ScriptFailure {
                    connection: c.name().to_string(),
                    script: ScriptName::GetUser,
                    error: ScriptError::Threw(p.to_string()),
                }),
            Err(f) => Err(f),
        })
    }

    /// Finds or creates Gatehouse's copy of a script user and brings its profile up to date
    /// (`set_user_root_attributes`: on each login unless set to `on_first_login`). With
    /// `password_hash`, the user's password moves too (import mode).
    pub(crate) async fn keep_script_user(
        &self,
        c: &CustomConnection<'_>,
        profile: &ScriptProfile,
        password_hash: Option<&str>,
    ) -> Result<User> {
        let user_id = format!("auth0|{}", profile.user_id);
        let each_login = c
            .stored
            .settings
            .options
            .get("set_user_root_attributes")
            .and_then(Value::as_str)
            != Some("on_first_login");
        for _ in 0..3 {
            let existing = self.inner.users.get(self.tenant(), &user_id).await?;
            let Some(existing) = existing else {
                let user = self.new_script_user(c.stored, profile, self.picture_style().await?);
                match self
                    .inner
                    .users
                    .insert(self.tenant(), &user, password_hash, &[])
                    .await
                {
                    Ok(()) => {
                        tracing::info!(user_id = %user.user_id, connection = %user.connection, "user moved in from a custom database");
                        return Ok(user);
                    }
                    // Two first logins at once: the other created the user; read it again.
                    Err(StoreError::Conflict(_)) => continue,
                    Err(e) => return Err(e.into()),
                }
            };
            let mut user = existing.user.clone();
            if each_login {
                apply_script_profile(&mut user, profile);
            }
            let changed = user != existing.user || password_hash.is_some();
            if !changed {
                return Ok(user);
            }
            user.updated_at = self.now();
            let new_password = password_hash.map(|h| (h, 0));
            if self
                .inner
                .users
                .update(self.tenant(), &user, existing.version, new_password, &[])
                .await
                .map_err(|e| match e {
                    StoreError::Conflict(_) => ServiceError::Conflict(
                        "The user already exists: another user of this connection has the script profile's email or username".into(),
                    ),
                    other => other.into(),
                })?
            {
                return Ok(user);
            }
        }
        Err(ServiceError::Conflict(format!(
            "The user already exists: {user_id} clashes with another user of the connection {}",
            c.name()
        )))
    }

    fn new_script_user(
        &self,
        c: &StoredConnection,
        p: &ScriptProfile,
        picture_style: gatehouse_core::gdpr::DefaultPicture,
    ) -> User {
        let now = self.now();
        let email = p.email.clone().unwrap_or_default();
        let mut user = User::new(
            gatehouse_core::connection::DATABASE_STRATEGY,
            &p.user_id,
            &c.id,
            &c.settings.name,
            &email,
            now,
        );
        if p.email.is_none() {
            user.email = None;
            user.name = p.username.clone();
            user.nickname = p.username.clone();
        }
        user.picture = Some(self.picture_for(picture_style, crate::pictures::Who::email(&email)));
        apply_script_profile(&mut user, p);
        user.user_metadata = p.user_metadata.clone().unwrap_or_default();
        user.app_metadata = p.app_metadata.clone().unwrap_or_default();
        user
    }
}

/// The script profile's root attributes over Gatehouse's copy (absent ones are kept).
fn apply_script_profile(u: &mut User, p: &ScriptProfile) {
    let keep = |old: &mut Option<String>, new: &Option<String>| {
        if new.is_some() {
            *old = new.clone();
        }
    };
    keep(&mut u.email, &p.email);
    keep(&mut u.username, &p.username);
    keep(&mut u.phone_number, &p.phone_number);
    keep(&mut u.name, &p.name);
    keep(&mut u.nickname, &p.nickname);
    keep(&mut u.given_name, &p.given_name);
    keep(&mut u.family_name, &p.family_name);
    keep(&mut u.picture, &p.picture);
    if let Some(v) = p.email_verified {
        u.email_verified = v;
    }
}
