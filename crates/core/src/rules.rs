//! Rules: Auth0's legacy login code (`function (user, context, callback) { … }`), still in many
//! tenants. This module reads the Management API's bodies (`NewRule`, `RulePatch`, a
//! rules-config value) with Auth0's name and key patterns, and what a run of the rules left in
//! `context` (`RulesOutcome`): the claims, the access token's scope, the error.

use crate::actions::{ActionCommands, Denial};
use crate::payload::{InvalidBody, Payload};
use serde_json::{Map, Value};

/// Largest rule script Auth0 accepts.
pub const MAX_SCRIPT_BYTES: usize = 100 * 1024;
/// Longest rules-config key.
pub const MAX_CONFIG_KEY: usize = 127;

/// Auth0's rule name pattern: letters, digits, spaces and hyphens, starting and ending with a
/// letter or digit.
pub fn is_rule_name(name: &str) -> bool {
    let ok = |c: char| c.is_ascii_alphanumeric();
    !name.is_empty()
        && name.len() <= 255
        && name.starts_with(ok)
        && name.ends_with(ok)
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == ' ' || c == '-')
}

/// Auth0's rules-config key pattern: `^[A-Za-z0-9_\-@*+:]*$`, at most 127 characters.
pub fn is_config_key(key: &str) -> bool {
    !key.is_empty()
        && key.len() <= MAX_CONFIG_KEY
        && key
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-@*+:".contains(c))
}

/// `POST /api/v2/rules`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRule {
    pub name: String,
    pub script: String,
    /// `None`: after the last rule.
    pub order: Option<i64>,
    pub enabled: bool,
}

/// `PATCH /api/v2/rules/{id}`.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RulePatch {
    pub name: Option<String>,
    pub script: Option<String>,
    pub order: Option<i64>,
    pub enabled: Option<bool>,
}

fn checked_name(name: String) -> Result<String, InvalidBody> {
    if is_rule_name(&name) {
        Ok(name)
    } else {
        Err(InvalidBody::on_property(
            "String does not match pattern ^[a-zA-Z0-9]([ \\-a-zA-Z0-9]*[a-zA-Z0-9])?$",
            "name",
        ))
    }
}

fn checked_script(script: String) -> Result<String, InvalidBody> {
    if script.trim().is_empty() {
        return Err(InvalidBody::on_property(
            "String is too short (0 chars), minimum 1",
            "script",
        ));
    }
    if script.len() > MAX_SCRIPT_BYTES {
        return Err(InvalidBody::on_property(
            format!("String is too long, maximum {MAX_SCRIPT_BYTES}"),
            "script",
        ));
    }
    Ok(script)
}

fn checked_order(order: Option<i64>) -> Result<Option<i64>, InvalidBody> {
    match order {
        Some(o) if o < 0 => Err(InvalidBody::on_property(
            "Value must be at least 0",
            "order",
        )),
        other => Ok(other),
    }
}

const RULE_PROPERTIES: [&str; 5] = ["name", "script", "order", "enabled", "stage"];

/// Auth0 accepts `stage` only as `login_success`, the one stage rules run at.
fn checked_stage(p: &mut Payload) -> Result<(), InvalidBody> {
    match p.string("stage")? {
        None => Ok(()),
        Some(s) if s == "login_success" => Ok(()),
        Some(s) => Err(InvalidBody::on_property(
            format!("No enum match for: \"{s}\""),
            "stage",
        )),
    }
}

impl NewRule {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&RULE_PROPERTIES)?;
        checked_stage(&mut p)?;
        Ok(Self {
            name: checked_name(p.required_string("name")?)?,
            script: checked_script(p.required_string("script")?)?,
            order: checked_order(p.integer("order")?)?,
            enabled: p.bool("enabled")?.unwrap_or(true),
        })
    }
}

impl RulePatch {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&RULE_PROPERTIES)?;
        p.require_some()?;
        checked_stage(&mut p)?;
        Ok(Self {
            name: p.string("name")?.map(checked_name).transpose()?,
            script: p.string("script")?.map(checked_script).transpose()?,
            order: checked_order(p.integer("order")?)?,
            enabled: p.bool("enabled")?,
        })
    }
}

/// `PUT /api/v2/rules-configs/{key}`: `{value}`.
pub fn config_value_from_payload(mut p: Payload) -> Result<String, InvalidBody> {
    p.allow_only(&["value"])?;
    let value = p.required_string("value")?;
    if value.is_empty() {
        return Err(InvalidBody::on_property(
            "String is too short (0 chars), minimum 1",
            "value",
        ));
    }
    Ok(value)
}

/// What the rules of a login left behind: `context.idToken`, `context.accessToken` (its
/// `scope` apart), and the metadata `auth0.users.update…Metadata` asked to write; or the
/// error a rule called back with.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct RulesOutcome {
    pub commands: ActionCommands,
    /// `context.accessToken.scope`, when a rule set it: the access token's whole scope.
    pub scope: Option<Vec<String>>,
}

/// Reads `context` after the last rule (and the metadata updates the runtime collected).
pub fn outcome_of(
    context: &Value,
    app: Map<String, Value>,
    user: Map<String, Value>,
) -> RulesOutcome {
    let claims = |key: &str| -> Map<String, Value> {
        context
            .get(key)
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter(|(k, _)| k.as_str() != "scope")
                    .map(|(k, v)| (k.clone(), v.clone()))
                    .collect()
            })
            .unwrap_or_default()
    };
    let scope = context
        .get("accessToken")
        .and_then(|t| t.get("scope"))
        .and_then(|s| match s {
            Value::String(s) => Some(s.split_whitespace().map(str::to_string).collect()),
            Value::Array(items) => Some(
                items
                    .iter()
                    .filter_map(|i| i.as_str().map(str::to_string))
                    .collect(),
            ),
            _ => None,
        });
    RulesOutcome {
        commands: ActionCommands {
            id_claims: claims("idToken"),
            access_claims: claims("accessToken"),
            app_metadata: app,
            user_metadata: user,
            primary_user: context
                .get("primaryUser")
                .and_then(Value::as_str)
                .map(str::to_string),
            ..Default::default()
        },
        scope,
    }
}

/// The error a rule called back with, as the application hears it: `UnauthorizedError`
/// answers `unauthorized`, anything else `access_denied`, with the rule's message.
pub fn denial_of(class_is_unauthorized: bool, message: &str) -> Denial {
    Denial {
        code: if class_is_unauthorized {
            "unauthorized".into()
        } else {
            "access_denied".into()
        },
        reason: message.to_string(),
        user_message: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_and_keys_follow_auth0s_patterns() {
        assert!(is_rule_name("Add roles-to tokens 2"));
        assert!(!is_rule_name("-leading"));
        assert!(!is_rule_name("trailing "));
        assert!(!is_rule_name("Ünïcode"));
        assert!(is_config_key("SLACK_HOOK_URL"));
        assert!(is_config_key("a:b@c*d+e-f_g"));
        assert!(!is_config_key("with space"));
        assert!(!is_config_key(&"k".repeat(128)));
    }

    #[test]
    fn a_rule_body_is_checked() {
        let r = NewRule::from_payload(
            Payload::from_value(
                json!({"name": "r1", "script": "function (u, c, cb) { cb(null, u, c); }"}),
            )
            .expect("object"),
        )
        .expect("valid");
        assert!(r.enabled);
        assert_eq!(r.order, None);
        let refused = |v: Value| {
            NewRule::from_payload(Payload::from_value(v).expect("object"))
                .expect_err("refused")
                .message
        };
        assert!(refused(json!({"name": "r 1 ", "script": "x"})).contains("pattern"));
        assert!(refused(json!({"name": "r1", "script": "x", "order": -1})).contains("order"));
        assert!(
            refused(json!({"name": "r1", "script": "x", "stage": "pre_authorize"}))
                .contains("stage")
        );
    }

    #[test]
    fn the_context_gives_claims_and_scope() {
        let context = json!({
            "idToken": {"https://x/roles": ["a"]},
            "accessToken": {"https://x/plan": "gold", "scope": ["read:a", "write:b"]},
            "primaryUser": "auth0|1"
        });
        let o = outcome_of(&context, Map::new(), Map::new());
        assert_eq!(
            o.scope,
            Some(vec!["read:a".to_string(), "write:b".to_string()])
        );
        assert!(o.commands.access_claims.contains_key("https://x/plan"));
        assert!(!o.commands.access_claims.contains_key("scope"));
        assert_eq!(o.commands.primary_user.as_deref(), Some("auth0|1"));
    }
}
