//! Connections: where users come from. Database connections (strategy `auth0`) carry the
//! password policy and username rules; passwordless email connections (`email`) the code
//! length and lifetime.

use crate::directory::{BIND_PASSWORD, DIRECTORY_STRATEGY, DirectoryOptions};
use crate::password_policy::{PasswordPolicy, StrengthLevel};
use crate::payload::{InvalidBody, Payload};
use crate::upstream::{self, UpstreamOptions};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub const DEFAULT_DATABASE_CONNECTION: &str = "Username-Password-Authentication";
pub const DATABASE_STRATEGY: &str = "auth0";
/// Passwordless email: one-time codes sent by email.
pub const EMAIL_STRATEGY: &str = "email";

/// The stored settings of a connection.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ConnectionSettings {
    pub name: String,
    pub strategy: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub display_name: Option<String>,
    pub options: Map<String, Value>,
    pub enabled_clients: Vec<String>,
    pub is_domain_connection: bool,
    pub metadata: Map<String, Value>,
    /// Upstream connections: whether the hosted login page shows this connection's button
    /// (Auth0's `show_as_button`, on unless turned off).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub show_as_button: Option<bool>,
    /// Secret options (`client_secret`, Apple's `app_secret`) sealed by the service, by
    /// option name; never rendered.
    #[serde(default, skip_serializing_if = "Map::is_empty")]
    pub sealed_secrets: Map<String, Value>,
}

impl ConnectionSettings {
    pub const PROPERTIES: &'static [&'static str] = &[
        "name",
        "strategy",
        "display_name",
        "options",
        "enabled_clients",
        "is_domain_connection",
        "metadata",
        "realms",
        "show_as_button",
    ];

    /// A database connection with Auth0's defaults and the given password policy level.
    pub fn database(name: &str, level: StrengthLevel) -> Self {
        let mut options = Map::new();
        options.insert("passwordPolicy".into(), json!(level));
        options.insert("brute_force_protection".into(), json!(true));
        Self {
            name: name.into(),
            strategy: DATABASE_STRATEGY.into(),
            display_name: None,
            options,
            enabled_clients: vec![],
            is_domain_connection: false,
            metadata: Map::new(),
            show_as_button: None,
            sealed_secrets: Map::new(),
        }
    }

    /// A passwordless email connection with Auth0's defaults: six-digit codes valid five
    /// minutes.
    pub fn passwordless_email(name: &str) -> Self {
        let mut options = Map::new();
        options.insert("totp".into(), json!({"time_step": 300, "length": 6}));
        options.insert("brute_force_protection".into(), json!(true));
        options.insert("disable_signup".into(), json!(false));
        Self {
            name: name.into(),
            strategy: EMAIL_STRATEGY.into(),
            display_name: None,
            options,
            enabled_clients: vec![],
            is_domain_connection: false,
            metadata: Map::new(),
            show_as_button: None,
            sealed_secrets: Map::new(),
        }
    }

    /// An upstream (OpenID Connect, OAuth 2.0 or social) connection with no options yet.
    pub fn upstream(name: &str, strategy: &str) -> Self {
        Self {
            name: name.into(),
            strategy: strategy.into(),
            display_name: None,
            options: Map::new(),
            enabled_clients: vec![],
            is_domain_connection: false,
            metadata: Map::new(),
            show_as_button: None,
            sealed_secrets: Map::new(),
        }
    }

    /// A database connection's custom-database settings, when its scripts are switched on.
    pub fn custom_database(&self) -> Option<crate::custom_db::CustomDatabase> {
        if self.strategy != DATABASE_STRATEGY {
            return None;
        }
        crate::custom_db::CustomDatabase::of(&self.options)
    }

    pub fn is_upstream(&self) -> bool {
        upstream::is_upstream_strategy(&self.strategy)
    }

    /// An AD/LDAP connection: a directory checks its users' passwords.
    pub fn is_directory(&self) -> bool {
        self.strategy == DIRECTORY_STRATEGY
    }

    /// The checked options of a directory connection.
    pub fn directory_options(&self) -> Result<DirectoryOptions, InvalidBody> {
        DirectoryOptions::parse(&self.options)
    }

    /// A SAML connection: an identity provider's signed assertions log its users in.
    pub fn is_saml(&self) -> bool {
        self.strategy == crate::saml::SAML_STRATEGY
    }

    /// The checked options of a SAML connection.
    pub fn saml_options(&self) -> Result<crate::saml::SamlOptions, InvalidBody> {
        crate::saml::SamlOptions::parse(&self.options)
    }

    /// Whose users come from elsewhere (a provider, a directory, a SAML IdP): their
    /// passwords and, by `set_user_root_attributes`, their profiles are not Gatehouse's to
    /// change.
    pub fn is_external(&self) -> bool {
        self.is_upstream() || self.is_directory() || self.is_saml()
    }

    /// `options.set_user_root_attributes` of an external connection.
    pub fn root_sync(&self) -> Result<upstream::RootSync, InvalidBody> {
        if self.is_directory() {
            self.directory_options().map(|o| o.root_sync)
        } else if self.is_saml() {
            self.saml_options().map(|o| o.root_sync)
        } else {
            self.upstream_options().map(|o| o.root_sync)
        }
    }

    /// The checked options of an upstream connection.
    pub fn upstream_options(&self) -> Result<UpstreamOptions, InvalidBody> {
        UpstreamOptions::parse(&self.strategy, &self.options)
    }

    /// Takes the secret options out of `options` (to be sealed apart): `Some(None)` for a
    /// secret set to null (removed), `Some(Some(text))` for a new one.
    pub fn take_secrets(&mut self) -> Vec<(String, Option<String>)> {
        let mut out = vec![];
        for key in upstream::SECRET_OPTIONS.iter().chain(&[BIND_PASSWORD]) {
            match self.options.remove(*key) {
                Some(Value::String(s)) if !s.is_empty() => out.push((key.to_string(), Some(s))),
                Some(_) => out.push((key.to_string(), None)),
                None => {}
            }
        }
        out
    }

    /// Writes the OpenID Connect channel into `options` when the caller left it out: back
    /// channel when there is a client secret (given now, or kept sealed from before), front
    /// channel otherwise. Decided here, while the secret is still visible: once sealed apart
    /// it no longer is, and the login must not fall back to the front channel.
    fn settle_channel(&self, o: &mut Map<String, Value>) {
        let generic_oidc = self.strategy == upstream::OIDC_STRATEGY;
        if !generic_oidc || o.get("type").is_some_and(|t| !t.is_null()) {
            return;
        }
        let has_secret = match o.get("client_secret") {
            Some(Value::String(s)) => !s.is_empty(),
            Some(_) => false,
            None => self.sealed_secrets.contains_key("client_secret"),
        };
        let channel = if has_secret {
            "back_channel"
        } else {
            "front_channel"
        };
        o.insert("type".into(), Value::String(channel.into()));
    }

    /// `options.disable_signup`: only the Management API and imports may add users.
    pub fn signup_disabled(&self) -> bool {
        self.options.get("disable_signup").and_then(Value::as_bool) == Some(true)
    }

    /// `options.brute_force_protection`: on unless turned off explicitly.
    pub fn brute_force_protection(&self) -> bool {
        self.options
            .get("brute_force_protection")
            .and_then(Value::as_bool)
            != Some(false)
    }

    /// Seconds a passwordless code stays valid (`options.totp.time_step`, 60 to 3600).
    pub fn code_lifetime_secs(&self) -> i64 {
        self.options
            .get("totp")
            .and_then(|t| t.get("time_step"))
            .and_then(Value::as_i64)
            .map_or(300, |s| s.clamp(60, 3600))
    }

    /// Digits in a passwordless code (`options.totp.length`, 4 to 10).
    pub fn code_length(&self) -> usize {
        self.options
            .get("totp")
            .and_then(|t| t.get("length"))
            .and_then(Value::as_u64)
            .map_or(6, |l| l.clamp(4, 10) as usize)
    }

    pub fn from_create(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(Self::PROPERTIES)?;
        let name = p.required_string("name")?;
        check_name(&name)?;
        let strategy = p.required_string("strategy")?;
        let mut c = match strategy.as_str() {
            DATABASE_STRATEGY => Self::database(&name, StrengthLevel::Good),
            EMAIL_STRATEGY => Self::passwordless_email(&name),
            s if upstream::is_upstream_strategy(s)
                || s == DIRECTORY_STRATEGY
                || s == crate::saml::SAML_STRATEGY =>
            {
                Self::upstream(&name, s)
            }
            _ => {
                return Err(InvalidBody::on_property(
                    format!(
                        "Strategy \"{strategy}\" is not supported yet; database (\"auth0\"), passwordless email (\"email\"), AD/LDAP (\"ad\"), SAML (\"samlp\"), OpenID Connect (\"oidc\"), OAuth 2.0 (\"oauth2\") and {} connections are",
                        upstream::presets::ALL
                            .map(|p| format!("\"{}\"", p.strategy))
                            .join(", ")
                    ),
                    "strategy",
                ));
            }
        };
        c.apply(&mut p)?;
        Ok(c)
    }

    /// PATCH: `options` replaces the whole options object, as Auth0 documents.
    pub fn patch(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.require_some()?;
        p.allow_only(&[
            "display_name",
            "options",
            "enabled_clients",
            "is_domain_connection",
            "metadata",
            "realms",
            "show_as_button",
        ])?;
        self.apply(&mut p)
    }

    fn apply(&mut self, p: &mut Payload) -> Result<(), InvalidBody> {
        if let Some(d) = p.string("display_name")? {
            self.display_name = Some(d);
        }
        if let Some(mut o) = p.object("options")? {
            if self.is_upstream() {
                self.settle_channel(&mut o);
                UpstreamOptions::parse(&self.strategy, &o)?;
            } else if self.is_directory() {
                DirectoryOptions::parse(&o)?;
            } else if self.is_saml() {
                crate::saml::SamlOptions::parse(&o)?;
            } else {
                validate_options(&o)?;
            }
            self.options = o;
        } else if self.is_upstream() && self.options.is_empty() {
            // A new upstream connection without options is still checked (a generic
            // OpenID Connect one needs its endpoints).
            UpstreamOptions::parse(&self.strategy, &self.options)?;
        } else if self.is_directory() && self.options.is_empty() {
            // A directory connection needs at least its server and base.
            DirectoryOptions::parse(&self.options)?;
        } else if self.is_saml() && self.options.is_empty() {
            // A SAML connection needs its IdP's metadata or endpoint and certificate.
            crate::saml::SamlOptions::parse(&self.options)?;
        }
        if let Some(b) = p.bool("show_as_button")? {
            self.show_as_button = Some(b);
        }
        if let Some(c) = p.string_array("enabled_clients")? {
            self.enabled_clients = c;
        }
        if let Some(b) = p.bool("is_domain_connection")? {
            self.is_domain_connection = b;
        }
        if let Some(m) = p.object("metadata")? {
            self.metadata = check_metadata(m)?;
        }
        // Database connections have exactly one realm, their name.
        if let Some(realms) = p.string_array("realms")?
            && realms.iter().any(|r| r != &self.name)
        {
            return Err(InvalidBody::on_property(
                "realms of a database connection must be [name]",
                "realms",
            ));
        }
        Ok(())
    }

    pub fn password_policy(&self) -> PasswordPolicy {
        let o = &self.options;
        let enabled = |key: &str| {
            o.get(key)
                .and_then(|v| v.get("enable"))
                .and_then(Value::as_bool)
                == Some(true)
        };
        PasswordPolicy {
            level: o
                .get("passwordPolicy")
                .and_then(Value::as_str)
                .and_then(StrengthLevel::parse)
                .unwrap_or(StrengthLevel::None),
            min_length: o
                .get("password_complexity_options")
                .and_then(|v| v.get("min_length"))
                .and_then(Value::as_u64)
                .map(|n| n as usize),
            history_size: enabled("password_history").then(|| {
                o.get("password_history")
                    .and_then(|v| v.get("size"))
                    .and_then(Value::as_u64)
                    .unwrap_or(5) as usize
            }),
            dictionary: enabled("password_dictionary").then(|| {
                o.get("password_dictionary")
                    .and_then(|v| v.get("dictionary"))
                    .and_then(Value::as_array)
                    .map(|a| {
                        a.iter()
                            .filter_map(Value::as_str)
                            .map(String::from)
                            .collect()
                    })
                    .unwrap_or_default()
            }),
            no_personal_info: enabled("password_no_personal_info"),
        }
    }

    pub fn requires_username(&self) -> bool {
        self.options
            .get("requires_username")
            .and_then(Value::as_bool)
            == Some(true)
    }

    /// `validation.username.{min,max}`, Auth0's defaults 1 and 15.
    pub fn username_length(&self) -> (usize, usize) {
        let v = self
            .options
            .get("validation")
            .and_then(|v| v.get("username"));
        let get = |k: &str, d: usize| {
            v.and_then(|u| u.get(k))
                .and_then(Value::as_u64)
                .map_or(d, |n| n as usize)
        };
        (get("min", 1), get("max", 15))
    }

    pub fn to_json(&self, id: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), json!(id));
            m.insert("realms".into(), json!([self.name]));
            m.remove("sealed_secrets");
        }
        v
    }
}

/// Auth0's limits on a connection's `metadata`: at most 10 properties, each a string of at most
/// 255 characters (a `null` drops the property).
fn check_metadata(m: Map<String, Value>) -> Result<Map<String, Value>, InvalidBody> {
    const MAX_PROPERTIES: usize = 10;
    const MAX_VALUE_CHARS: usize = 255;
    let kept: Map<String, Value> = m.into_iter().filter(|(_, v)| !v.is_null()).collect();
    if kept.len() > MAX_PROPERTIES {
        return Err(InvalidBody::on_property(
            format!(
                "Too many properties ({}), maximum {MAX_PROPERTIES}",
                kept.len()
            ),
            "metadata",
        ));
    }
    for (key, value) in &kept {
        match value.as_str() {
            Some(s) if s.chars().count() <= MAX_VALUE_CHARS => {}
            Some(_) => {
                return Err(InvalidBody::on_property(
                    format!("String is too long (maximum {MAX_VALUE_CHARS})"),
                    &format!("metadata.{key}"),
                ));
            }
            None => {
                return Err(InvalidBody::on_property(
                    "Expected type string",
                    &format!("metadata.{key}"),
                ));
            }
        }
    }
    Ok(kept)
}

fn check_name(name: &str) -> Result<(), InvalidBody> {
    let ok = !name.is_empty()
        && name.len() <= 128
        && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
        && !name.starts_with('-')
        && !name.ends_with('-');
    if ok {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!(
                "String does not match pattern ^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$: {name}"
            ),
            "name",
        ))
    }
}

fn validate_options(o: &Map<String, Value>) -> Result<(), InvalidBody> {
    crate::custom_db::validate(o)?;
    let fail =
        |what: &str, key: &str| Err(InvalidBody::on_property(what, &format!("options.{key}")));
    for (key, value) in o {
        let size_ok = |field: &str, max: u64| {
            value.get(field).is_none()
                || value
                    .get(field)
                    .and_then(Value::as_u64)
                    .is_some_and(|n| (1..=max).contains(&n))
        };
        match key.as_str() {
            "passwordPolicy"
                if !(value.is_null()
                    || value.as_str().and_then(StrengthLevel::parse).is_some()) =>
            {
                return fail("No enum match (none, low, fair, good, excellent)", key);
            }
            "requires_username"
            | "brute_force_protection"
            | "disable_signup"
            | "import_mode"
            | "enabledDatabaseCustomization"
            | "disable_self_service_change_password"
                if !value.is_boolean() =>
            {
                return fail("Expected type boolean", key);
            }
            "password_history" if !value.is_object() || !size_ok("size", 24) => {
                return fail("size must be an integer from 1 to 24", key);
            }
            "password_complexity_options" if !value.is_object() || !size_ok("min_length", 128) => {
                return fail("min_length must be an integer from 1 to 128", key);
            }
            "password_dictionary" | "password_no_personal_info" | "validation"
                if !value.is_object() =>
            {
                return fail("Expected type object", key);
            }
            _ => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_is_read_from_options() {
        let mut c = ConnectionSettings::database("db", StrengthLevel::Fair);
        c.options.insert(
            "password_history".into(),
            json!({"enable": true, "size": 3}),
        );
        c.options.insert(
            "password_complexity_options".into(),
            json!({"min_length": 12}),
        );
        let p = c.password_policy();
        assert_eq!(p.level, StrengthLevel::Fair);
        assert_eq!(p.history_size, Some(3));
        assert_eq!(p.min_length, Some(12));
    }

    #[test]
    fn rejects_bad_options_and_names() {
        let bad = Payload::from_value(
            json!({"name": "db", "strategy": "auth0", "options": {"passwordPolicy": "ultra"}}),
        )
        .unwrap();
        assert!(
            ConnectionSettings::from_create(bad)
                .unwrap_err()
                .message
                .contains("passwordPolicy")
        );
        let bad_name = Payload::from_value(json!({"name": "my db", "strategy": "auth0"})).unwrap();
        assert!(ConnectionSettings::from_create(bad_name).is_err());
    }
}
