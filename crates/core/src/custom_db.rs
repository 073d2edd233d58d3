//! Custom-database connections: a database connection (`strategy: auth0`) whose users live
//! in the customer's own store, reached through Auth0's action scripts
//! (`options.customScripts`), either for every operation (legacy) or until each user has
//! moved over at a successful login (`import_mode`, automatic migration).

use crate::payload::InvalidBody;
use serde_json::{Map, Value};
use std::collections::BTreeMap;

/// Largest script Auth0 accepts.
pub const MAX_SCRIPT_BYTES: usize = 100 * 1024;

/// The action scripts, by Auth0's key in `options.customScripts`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum ScriptName {
    Login,
    GetUser,
    Create,
    Verify,
    ChangePassword,
    Delete,
    ChangeEmail,
    ChangeUsername,
    ChangePhoneNumber,
}

impl ScriptName {
    pub const ALL: [ScriptName; 9] = [
        ScriptName::Login,
        ScriptName::GetUser,
        ScriptName::Create,
        ScriptName::Verify,
        ScriptName::ChangePassword,
        ScriptName::Delete,
        ScriptName::ChangeEmail,
        ScriptName::ChangeUsername,
        ScriptName::ChangePhoneNumber,
    ];

    pub fn key(self) -> &'static str {
        match self {
            ScriptName::Login => "login",
            ScriptName::GetUser => "get_user",
            ScriptName::Create => "create",
            ScriptName::Verify => "verify",
            ScriptName::ChangePassword => "change_password",
            ScriptName::Delete => "delete",
            ScriptName::ChangeEmail => "change_email",
            ScriptName::ChangeUsername => "change_username",
            ScriptName::ChangePhoneNumber => "change_phone_number",
        }
    }

    pub fn parse(key: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.key() == key)
    }
}

/// A connection's custom-database settings, read from its options.
#[derive(Debug, Clone, PartialEq)]
pub struct CustomDatabase {
    /// `import_mode`: users move to Gatehouse at their first successful login.
    pub import_mode: bool,
    pub scripts: BTreeMap<ScriptName, String>,
}

impl CustomDatabase {
    /// The settings when `enabledDatabaseCustomization` is on; `None` for an ordinary
    /// database connection.
    pub fn of(options: &Map<String, Value>) -> Option<Self> {
        if options
            .get("enabledDatabaseCustomization")
            .and_then(Value::as_bool)
            != Some(true)
        {
            return None;
        }
        let scripts = options
            .get("customScripts")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| {
                        let name = ScriptName::parse(k)?;
                        let source = v.as_str().filter(|s| !s.trim().is_empty())?;
                        Some((name, source.to_string()))
                    })
                    .collect()
            })
            .unwrap_or_default();
        Some(Self {
            import_mode: options.get("import_mode").and_then(Value::as_bool) == Some(true),
            scripts,
        })
    }

    pub fn script(&self, name: ScriptName) -> Option<&str> {
        self.scripts.get(&name).map(String::as_str)
    }

    /// Legacy mode: the customer's store stays the source of truth for every operation.
    pub fn is_legacy(&self) -> bool {
        !self.import_mode
    }
}

/// Checks `customScripts` and `configuration` as given in a request: known script names,
/// source text within Auth0's size limit, configuration values as strings.
pub fn validate(options: &Map<String, Value>) -> Result<(), InvalidBody> {
    if let Some(scripts) = options.get("customScripts") {
        let Some(scripts) = scripts.as_object() else {
            return Err(InvalidBody::on_property(
                "Expected type object",
                "options.customScripts",
            ));
        };
        for (key, source) in scripts {
            let path = format!("options.customScripts.{key}");
            if ScriptName::parse(key).is_none() {
                return Err(InvalidBody::on_property(
                    format!(
                        "unknown script \"{key}\"; the scripts are {}",
                        ScriptName::ALL.map(ScriptName::key).join(", ")
                    ),
                    &path,
                ));
            }
            match source {
                Value::String(s) if s.len() > MAX_SCRIPT_BYTES => {
                    return Err(InvalidBody::on_property(
                        format!(
                            "the {key} script is {} bytes; a script may have at most {MAX_SCRIPT_BYTES}",
                            s.len()
                        ),
                        &path,
                    ));
                }
                Value::String(_) | Value::Null => {}
                _ => return Err(InvalidBody::on_property("Expected type string", &path)),
            }
        }
    }
    if let Some(config) = options.get("configuration") {
        let Some(config) = config.as_object() else {
            return Err(InvalidBody::on_property(
                "Expected type object",
                "options.configuration",
            ));
        };
        for (key, value) in config {
            if !value.is_string() {
                return Err(InvalidBody::on_property(
                    "Expected type string",
                    &format!("options.configuration.{key}"),
                ));
            }
        }
    }
    for key in ["enable_script_context"] {
        if options.get(key).is_some_and(|v| !v.is_boolean()) {
            return Err(InvalidBody::on_property(
                "Expected type boolean",
                &format!("options.{key}"),
            ));
        }
    }
    Ok(())
}

/// The profile a `login` or `get_user` script called back with, as Auth0 reads it: a
/// `user_id` (or `id`, in older templates) unique in the connection, stored as
/// `auth0|<user_id>`; the normalized attributes; `user_metadata` and `app_metadata` (older
/// templates: `metadata`).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ScriptProfile {
    pub user_id: String,
    pub email: Option<String>,
    pub email_verified: Option<bool>,
    pub username: Option<String>,
    pub phone_number: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub picture: Option<String>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
}

/// Why a script's profile cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ProfileProblem {
    #[error("the script's profile is not an object")]
    NotAnObject,
    #[error("the script's profile has no user_id")]
    NoUserId,
    #[error("the script's user_id {0:?} is not usable: at most 255 characters, no '|'")]
    BadUserId(String),
    #[error("the script's profile has {0} of the wrong type")]
    WrongType(&'static str),
}

impl ScriptProfile {
    pub fn read(v: &Value) -> Result<Self, ProfileProblem> {
        let o = v.as_object().ok_or(ProfileProblem::NotAnObject)?;
        let id = match o.get("user_id").or_else(|| o.get("id")) {
            Some(Value::String(s)) if !s.trim().is_empty() => s.trim().to_string(),
            Some(Value::Number(n)) => n.to_string(),
            _ => return Err(ProfileProblem::NoUserId),
        };
        // Auth0 stores `auth0|<id>`; a script that already prefixed it keeps one prefix.
        let id = id.strip_prefix("auth0|").map(str::to_string).unwrap_or(id);
        if id.len() > 255 || id.contains('|') || id.is_empty() {
            return Err(ProfileProblem::BadUserId(id));
        }
        let text = |key: &'static str| -> Result<Option<String>, ProfileProblem> {
            match o.get(key) {
                None | Some(Value::Null) => Ok(None),
                Some(Value::String(s)) if s.is_empty() => Ok(None),
                Some(Value::String(s)) => Ok(Some(s.clone())),
                Some(Value::Number(n)) => Ok(Some(n.to_string())),
                Some(_) => Err(ProfileProblem::WrongType(key)),
            }
        };
        let object = |keys: &[&'static str]| -> Result<Option<Map<String, Value>>, ProfileProblem> {
            for key in keys {
                match o.get(*key) {
                    None | Some(Value::Null) => continue,
                    Some(Value::Object(m)) => return Ok(Some(m.clone())),
                    Some(_) => return Err(ProfileProblem::WrongType(key)),
                }
            }
            Ok(None)
        };
        Ok(Self {
            user_id: id,
            email: text("email")?.map(|e| e.to_lowercase()),
            email_verified: match o.get("email_verified") {
                Some(Value::Bool(b)) => Some(*b),
                Some(Value::String(s)) => Some(s == "true"),
                _ => None,
            },
            username: text("username")?,
            phone_number: text("phone_number")?,
            name: text("name")?,
            nickname: text("nickname")?,
            given_name: text("given_name")?,
            family_name: text("family_name")?,
            picture: text("picture")?,
            user_metadata: object(&["user_metadata"])?,
            app_metadata: object(&["app_metadata", "metadata"])?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn settings_are_read_only_when_customization_is_on() {
        let o = json!({"customScripts": {"login": "function login(){}"}, "import_mode": true});
        assert_eq!(CustomDatabase::of(o.as_object().unwrap()), None);
        let o = json!({"enabledDatabaseCustomization": true, "import_mode": true,
            "customScripts": {"login": "function login(){}", "get_user": "  ", "bogus": "x"}});
        let c = CustomDatabase::of(o.as_object().unwrap()).unwrap();
        assert!(c.import_mode);
        assert_eq!(c.script(ScriptName::Login), Some("function login(){}"));
        assert_eq!(c.script(ScriptName::GetUser), None);
        assert_eq!(c.scripts.len(), 1);
    }

    #[test]
    fn profiles_are_read_as_auth0_reads_them() {
        let p = ScriptProfile::read(
            &json!({"user_id": 42, "email": "Zoë@Example.com", "nickname": "zoë",
            "metadata": {"plan": "gold"}, "email_verified": true}),
        )
        .unwrap();
        assert_eq!(p.user_id, "42");
        assert_eq!(p.email.as_deref(), Some("zoë@example.com"));
        assert_eq!(
            p.app_metadata,
            Some(json!({"plan": "gold"}).as_object().unwrap().clone())
        );
        assert_eq!(p.email_verified, Some(true));
        assert_eq!(
            ScriptProfile::read(&json!({"id": "auth0|abc"}))
                .unwrap()
                .user_id,
            "abc"
        );
        assert_eq!(
            ScriptProfile::read(&json!({"email": "a@b.c"})),
            Err(ProfileProblem::NoUserId)
        );
        assert!(ScriptProfile::read(&json!({"user_id": "a|b"})).is_err());
        assert_eq!(
            ScriptProfile::read(&json!({"user_id": 1, "name": {}})),
            Err(ProfileProblem::WrongType("name"))
        );
        assert_eq!(
            ScriptProfile::read(&json!("x")),
            Err(ProfileProblem::NotAnObject)
        );
    }

    #[test]
    fn oversized_unknown_and_mistyped_scripts_are_refused() {
        let big = "x".repeat(MAX_SCRIPT_BYTES + 1);
        let o = json!({"customScripts": {"login": big}});
        let e = validate(o.as_object().unwrap()).unwrap_err();
        assert!(e.message.contains("at most 102400"), "{e:?}");
        let o = json!({"customScripts": {"signin": "function () {}"}});
        assert!(
            validate(o.as_object().unwrap())
                .unwrap_err()
                .message
                .contains("get_user")
        );
        let o = json!({"configuration": {"DB": 5}});
        assert!(validate(o.as_object().unwrap()).is_err());
        let o = json!({"customScripts": {"login": "function login() {}"}, "configuration": {"DB": "postgres://x"}});
        assert!(validate(o.as_object().unwrap()).is_ok());
    }
}
