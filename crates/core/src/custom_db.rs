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
