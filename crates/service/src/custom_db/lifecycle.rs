//! What the scripts do outside a login, as Auth0's table of "which script runs when" says:
//! `get_user` guards sign-up, password reset and email change; in legacy mode `create`,
//! `change_password`, `change_email`, `verify` and `delete` make the change in the
//! customer's store and Gatehouse's copy follows; in import mode changes are local.

use super::CustomConnection;
use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::custom_db::{ScriptName, ScriptProfile};
use gatehouse_core::payload::Field;
use gatehouse_core::user::{User, UserPatch};
use gatehouse_scripts::{ErrorClass, ScriptError};
use serde_json::{Value, json};

/// Root attributes a legacy custom-database user's profile takes from the scripts only.
const SCRIPT_OWNED: &str =
    "name, nickname, given_name, family_name, picture, username, phone_number, phone_verified";

/// What a public sign-up is told when the scripts could not complete it.
const SIGNUP_FAILED: &str = "The sign-up could not be completed; try again later.";

fn already_exists() -> ServiceError {
    ServiceError::Conflict("The user already exists.".into())
}

impl Gatehouse {
    /// Before a user is created on a custom-database connection (sign-up, `POST /users`):
    /// `get_user` refuses an address the customer's store knows; in legacy mode `create`
    /// adds the user there and `login` reads back the profile Gatehouse keeps. `None`: create
    /// the user locally (import mode).
    pub(crate) async fn create_through_scripts(
        &self,
        c: &CustomConnection<'_>,
        user: &User,
        password: &str,
    ) -> Result<Option<User>> {
        let email = user.email.clone().unwrap_or_default();
        if c.has(ScriptName::GetUser) && self.script_user(c, &email).await??.is_some() {
            return Err(already_exists());
        }
        if c.custom.import_mode {
            return Ok(None);
        }
        if !c.has(ScriptName::Create) {
            return Err(ServiceError::NotSupported(format!(
                "The connection {} has no create script: users cannot sign up",
                c.name()
            )));
        }
        let mut new_user = json!({
            "tenant": self.tenant(),
            "connection": c.name(),
            "email": email,
            "password": password,
            "email_verified": user.email_verified,
        });
        if let Some(u) = &user.username {
            new_user["username"] = json!(u);
        }
        if !user.user_metadata.is_empty() {
            new_user["user_metadata"] = Value::Object(user.user_metadata.clone());
        }
        if !user.app_metadata.is_empty() {
            new_user["app_metadata"] = Value::Object(user.app_metadata.clone());
        }
        match self
            .run_script(
                c,
                ScriptName::Create,
                vec![new_user],
                vec![password.to_string()],
            )
            .await?
        {
            Ok(_) => {}
            Err(f) => {
                return Err(match &f.error {
                    ScriptError::Callback(e)
                        if e.class == ErrorClass::ValidationError
                            && e.first_text().as_deref() == Some("user_exists") =>
                    {
                        already_exists()
                    }
                    _ => f.into(),
                });
            }
        }
        // The store has the user; its login gives the profile Gatehouse keeps.
        let identifier = user.username.clone().unwrap_or(email);
        let profile = match self
            .run_script(
                c,
                ScriptName::Login,
                vec![json!(identifier), json!(password)],
                vec![password.to_string()],
            )
            .await?
        {
            Ok(Some(v)) => ScriptProfile::read(&v).map_err(|p| ServiceError::Script {
                code: "custom_script_error",
                public: SIGNUP_FAILED.into(),
                message: format!(
                    "the login script after create gave a profile Gatehouse cannot use: {p}"
                ),
            })?,
            Ok(None) => {
                return Err(ServiceError::Script {
                    code: "custom_script_error",
                    public: SIGNUP_FAILED.into(),
                    message: "the create script succeeded but the login script does not find the new user".into(),
                });
            }
            Err(f) => return Err(f.into()),
        };
        let mut profile = profile;
        if profile.user_metadata.is_none() && !user.user_metadata.is_empty() {
            profile.user_metadata = Some(user.user_metadata.clone());
        }
        if profile.app_metadata.is_none() && !user.app_metadata.is_empty() {
            profile.app_metadata = Some(user.app_metadata.clone());
        }
        self.keep_script_user(c, &profile, None).await.map(Some)
    }

    /// A password reset for an address Gatehouse does not know yet: `get_user` may find it in
    /// the customer's store, and the user's profile is then kept (import mode: the reset's
    /// new password moves the user).
    pub(crate) async fn user_from_store(
        &self,
        c: &CustomConnection<'_>,
        email: &str,
    ) -> Result<Option<User>> {
        if !c.has(ScriptName::GetUser) {
            return Ok(None);
        }
        match self.script_user(c, email).await?? {
            Some(profile) => self.keep_script_user(c, &profile, None).await.map(Some),
            None => Ok(None),
        }
    }

    /// A change to a user of a custom-database connection, before Gatehouse's copy is
    /// written. Legacy mode: only metadata, `blocked`, email and password may change; the
    /// password goes to `change_password` (and is not kept here), the email through
    /// `get_user` and `change_email`. Import mode: an email change is checked against the
    /// store with `get_user`; the rest is local. Returns the patch to apply locally, and
    /// whether the password changed in the customer's store.
    pub(crate) async fn patch_through_scripts(
        &self,
        c: &CustomConnection<'_>,
        current: &User,
        mut patch: UserPatch,
    ) -> Result<(UserPatch, bool)> {
        let new_email = patch
            .email
            .clone()
            .map(|e| e.to_lowercase())
            .filter(|e| Some(e) != current.email.as_ref());
        if let Some(email) = &new_email
            && c.has(ScriptName::GetUser)
            && self.script_user(c, email).await??.is_some()
        {
            return Err(ServiceError::Conflict(
                "The specified new email already exists".into(),
            ));
        }
        if c.custom.import_mode {
            return Ok((patch, false));
        }
        let owned: Vec<&str> = [
            ("name", patch.name != Field::Absent),
            ("nickname", patch.nickname != Field::Absent),
            ("given_name", patch.given_name != Field::Absent),
            ("family_name", patch.family_name != Field::Absent),
            ("picture", patch.picture != Field::Absent),
            ("username", patch.username != Field::Absent),
            ("phone_number", patch.phone_number != Field::Absent),
            ("phone_verified", patch.phone_verified.is_some()),
        ]
        .into_iter()
        .filter_map(|(k, changed)| changed.then_some(k))
        .collect();
        if !owned.is_empty() {
            return Err(ServiceError::InvalidBody(
                gatehouse_core::payload::InvalidBody::new(format!(
                    "The following user attributes cannot be updated: {}. The connection ({}) is a custom database in legacy mode: {SCRIPT_OWNED} come from its scripts; app_metadata, user_metadata, blocked, email and password may change.",
                    owned.join(", "),
                    c.name()
                )),
            ));
        }
        let old_email = current.email.clone().unwrap_or_default();
        let mut password_changed = false;
        if let Some(password) = patch.password.take() {
            if !c.has(ScriptName::ChangePassword) {
                return Err(ServiceError::NotSupported(format!(
                    "The connection {} has no change_password script",
                    c.name()
                )));
            }
            let answer = self
                .run_script(
                    c,
                    ScriptName::ChangePassword,
                    vec![json!(old_email), json!(password)],
                    vec![password.clone()],
                )
                .await??;
            let changed = match answer {
                Some(Value::Bool(b)) => b,
                Some(Value::Object(_)) => true,
                _ => false,
            };
            if !changed {
                return Err(ServiceError::Script {
                    code: "password_not_changed",
                    public: "The password could not be changed.".into(),
                    message: format!(
                        "The change_password script of the connection {} did not change the password",
                        c.name()
                    ),
                });
            }
            password_changed = true;
        }
        if let Some(email) = new_email {
            if !c.has(ScriptName::ChangeEmail) {
                return Err(ServiceError::NotSupported(format!(
                    "The connection {} has no change_email script",
                    c.name()
                )));
            }
            let verified = patch.email_verified.unwrap_or(false);
            let answer = self
                .run_script(
                    c,
                    ScriptName::ChangeEmail,
                    vec![json!(old_email), json!(email), json!(verified)],
                    vec![],
                )
                .await??;
            if answer != Some(Value::Bool(true)) {
                return Err(ServiceError::Script {
                    code: "email_not_changed",
                    public: "The email could not be changed.".into(),
                    message: format!(
                        "The change_email script of the connection {} did not change the email",
                        c.name()
                    ),
                });
            }
        }
        Ok((patch, password_changed))
    }

    /// Legacy mode: `delete(id)` (the id without `auth0|`) removes the user from the
    /// customer's store first; its failure keeps the user.
    pub(crate) async fn delete_through_scripts(
        &self,
        c: &CustomConnection<'_>,
        user: &User,
    ) -> Result<()> {
        if c.custom.import_mode || !c.has(ScriptName::Delete) {
            return Ok(());
        }
        self.run_script(
            c,
            ScriptName::Delete,
            vec![json!(user.provider_user_id())],
            vec![],
        )
        .await??;
        Ok(())
    }

    /// Legacy mode: `verify(email)` marks the address verified in the customer's store
    /// before Gatehouse's copy is.
    pub(crate) async fn verify_through_scripts(
        &self,
        c: &CustomConnection<'_>,
        user: &User,
    ) -> Result<()> {
        if c.custom.import_mode || !c.has(ScriptName::Verify) {
            return Ok(());
        }
        self.run_script(
            c,
            ScriptName::Verify,
            vec![json!(user.email.clone().unwrap_or_default())],
            vec![],
        )
        .await??;
        Ok(())
    }
}
