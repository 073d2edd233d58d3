//! Delegated administration without scripts: the tenant setting `delegated_admin`, which
//! stands in for the hooks of Auth0's Delegated Administration Extension (DAE).
//!
//! DAE runs customer JavaScript at four hook points; Gatehouse expresses what those hooks
//! are almost always used for as data:
//!
//! | DAE hook | here |
//! |---|---|
//! | filter | `filter`: a v3 query template every list, search, view and write is limited to |
//! | access | the role's level (Auditor, User, Operator, Administrator) decides the actions |
//! | create (write) | `create_fields` (what the form may set) and `create_defaults` (what is set for it) |
//! | memberships | `memberships`: the groups the create form offers, stored in `app_metadata.memberships` |
//!
//! Templates name the signed-in administrator's own profile with `{{admin.<path>}}`
//! (`user_id`, `email`, `connection`, or `app_metadata.<path>`: values the administrator
//! cannot change about themselves). In the filter a value always becomes one quoted,
//! escaped v3 phrase, so whatever an administrator's profile holds (`" OR *:*`) is matched
//! as text and can never widen the query. A value that is missing makes the filter match
//! nobody: delegation fails closed.

use crate::payload::{InvalidBody, Payload};
use crate::user::User;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

/// The longest filter template, in characters (the rendered query is bounded by the
/// search parser's own limit).
pub const MAX_FILTER_LEN: usize = 2048;
/// At most this many create fields and memberships.
pub const MAX_LIST: usize = 50;
/// The longest membership name.
pub const MAX_MEMBERSHIP_LEN: usize = 100;
/// The `app_metadata` key the chosen memberships are stored under (DAE's default create hook).
pub const MEMBERSHIPS_KEY: &str = "memberships";

/// Profile fields a create form may be allowed to set (besides `user_metadata.<key>`).
/// `app_metadata` is never among them: it holds the roles that open the dashboard and the
/// values filters are written against, so only `create_defaults` set it.
pub const CREATABLE_FIELDS: &[&str] = &[
    "email",
    "password",
    "connection",
    "username",
    "phone_number",
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "email_verified",
    "verify_email",
];

/// Keys `create_defaults` may hold.
const DEFAULT_KEYS: &[&str] = &[
    "connection",
    "email_verified",
    "verify_email",
    "user_metadata",
    "app_metadata",
];

/// `app_metadata` keys no template may set: the first three decide who may use the
/// dashboard (`roles`, `permissions`, `authorization.roles`); memberships come from the
/// `memberships` list.
pub const PROTECTED_APP_METADATA_KEYS: &[&str] =
    &["roles", "permissions", "authorization", MEMBERSHIPS_KEY];

/// The tenant's `delegated_admin` setting.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct DelegatedAdminSettings {
    /// A v3 query template limiting which users delegated administrators see and change.
    /// Unset, they see nobody.
    pub filter: Option<String>,
    /// What the create form may set: entries of [`CREATABLE_FIELDS`] and `user_metadata.<key>`.
    /// Empty, delegated administrators cannot create users.
    pub create_fields: Vec<String>,
    /// Set on every user a delegated administrator creates (winning over the form); strings
    /// may hold `{{admin.<path>}}` placeholders.
    pub create_defaults: Map<String, Value>,
    /// The memberships the create form offers (placeholders allowed; an entry whose value
    /// is missing is left out).
    pub memberships: Vec<String>,
}

/// A template placeholder with no value in the administrator's profile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("your profile has no value for {{{{admin.{path}}}}}")]
pub struct MissingValue {
    pub path: String,
}

/// Why a filter could not be filled in for an administrator: either way it matches nobody.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FilterProblem {
    #[error(transparent)]
    Missing(MissingValue),
    /// The stored template no longer passes the checks it passed when saved.
    #[error("{0}")]
    Invalid(String),
}

/// A piece of a template: text as written, or a placeholder's path (`app_metadata.department`).
#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(String),
    Admin(String),
}

/// Where a placeholder may read from: values an administrator cannot change about
/// themselves through the dashboard.
fn allowed_path(path: &str) -> bool {
    let segment_ok = |s: &str| {
        !s.is_empty()
            && !s
                .chars()
                .any(|c| c.is_whitespace() || matches!(c, '$' | '{' | '}' | '"' | '\\'))
    };
    match path.split_once('.') {
        None => matches!(path, "user_id" | "email" | "connection"),
        Some(("app_metadata", rest)) => rest.split('.').all(segment_ok),
        Some(_) => false,
    }
}

/// Splits a template into text and `{{admin.<path>}}` placeholders (spaces inside the
/// braces allowed). Any other `{{` is an error, so a misspelt placeholder is never matched
/// literally.
fn parts(template: &str) -> Result<Vec<Part>, String> {
    let mut out = vec![];
    let mut rest = template;
    while let Some(at) = rest.find("{{") {
        if at > 0 {
            out.push(Part::Text(rest[..at].to_string()));
        }
        let after = &rest[at + 2..];
        let end = after
            .find("}}")
            .ok_or_else(|| "'{{' is not closed by '}}'".to_string())?;
        let inner = after[..end].trim();
        let path = inner.strip_prefix("admin.").unwrap_or("");
        if !allowed_path(path) {
            return Err(format!(
                "'{{{{{inner}}}}}' is not a placeholder: use {{{{admin.user_id}}}}, {{{{admin.email}}}}, {{{{admin.connection}}}} or {{{{admin.app_metadata.<path>}}}}"
            ));
        }
        out.push(Part::Admin(path.to_string()));
        rest = &after[end + 2..];
    }
    if !rest.is_empty() {
        out.push(Part::Text(rest.to_string()));
    }
    Ok(out)
}

/// The administrator's value at `path`, as text: strings (not empty), numbers and booleans.
/// Anything else (absent, null, an array, an object) is missing.
fn admin_value(admin: &User, path: &str) -> Result<String, MissingValue> {
    let missing = || MissingValue {
        path: path.to_string(),
    };
    let found = match path.split_once('.') {
        None => match path {
            "user_id" => Some(Value::String(admin.user_id.clone())),
            "email" => admin.email.clone().map(Value::String),
            "connection" => Some(Value::String(admin.connection.clone())),
            _ => None,
        },
        Some(("app_metadata", rest)) => {
            let mut at = admin.app_metadata.get(rest.split('.').next().unwrap_or(""));
            for key in rest.split('.').skip(1) {
                at = at.and_then(|v| v.get(key));
            }
            at.cloned()
        }
        Some(_) => None,
    };
    match found {
        Some(Value::String(s)) if !s.is_empty() => Ok(s),
        Some(Value::Number(n)) => Ok(n.to_string()),
        Some(Value::Bool(b)) => Ok(b.to_string()),
        _ => Err(missing()),
    }
}

/// `text` as the inside of a v3 phrase: `\` and `"` escaped, so the phrase cannot end early.
fn escape_phrase(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    for c in text.chars() {
        if matches!(c, '"' | '\\') {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

/// Where a filter's placeholders stand: inside a quoted phrase or on their own.
#[derive(Default)]
struct Scan {
    in_phrase: bool,
    /// The last character was an unescaped backslash.
    escaping: bool,
    last: Option<char>,
}

impl Scan {
    fn text(&mut self, s: &str) {
        for c in s.chars() {
            if self.escaping {
                self.escaping = false;
            } else if c == '\\' {
                self.escaping = true;
            } else if c == '"' {
                self.in_phrase = !self.in_phrase;
            }
            self.last = Some(c);
        }
    }
}

/// A filter template checked for where its placeholders stand; `render` fills them.
fn render_filter(
    template: &str,
    value: impl Fn(&str) -> Result<String, MissingValue>,
) -> Result<Result<String, MissingValue>, String> {
    let parts = parts(template)?;
    let mut scan = Scan::default();
    let mut out = String::with_capacity(template.len());
    let mut missing = None;
    for (i, part) in parts.iter().enumerate() {
        match part {
            Part::Text(t) => {
                scan.text(t);
                out.push_str(t);
            }
            Part::Admin(path) => {
                // After a backslash the inserted text would start escaped, and its quotes
                // would no longer delimit it.
                if scan.escaping {
                    return Err(format!("{{{{admin.{path}}}}} cannot follow a backslash"));
                }
                // Outside a phrase a placeholder is a whole value: `field:{{…}}`, `({{…}})`.
                if !scan.in_phrase {
                    let before_ok = scan
                        .last
                        .is_none_or(|c| c == ':' || c == '(' || c.is_whitespace());
                    let after_ok = match parts.get(i + 1) {
                        Some(Part::Text(t)) => t
                            .chars()
                            .next()
                            .is_none_or(|c| c == ')' || c.is_whitespace()),
                        Some(Part::Admin(_)) => false,
                        None => true,
                    };
                    if !(before_ok && after_ok) {
                        return Err(format!(
                            "{{{{admin.{path}}}}} must be a whole value (after ':' or a space) or stand inside a quoted phrase"
                        ));
                    }
                }
                match value(path) {
                    Ok(v) if scan.in_phrase => out.push_str(&escape_phrase(&v)),
                    Ok(v) => {
                        out.push('"');
                        out.push_str(&escape_phrase(&v));
                        out.push('"');
                    }
                    Err(m) => {
                        missing.get_or_insert(m);
                    }
                }
                scan.last = Some('"');
            }
        }
    }
    Ok(match missing {
        Some(m) => Err(m),
        None => Ok(out),
    })
}

/// A template string with its placeholders replaced by values as plain text (for
/// `create_defaults` and `memberships`, which are not queries).
fn render_text(template: &str, value: &Lookup<'_>) -> Result<String, MissingValue> {
    // Checked when the setting was saved; a stored template that no longer parses is
    // treated as having no value, so nothing is created from it.
    let parts = parts(template).map_err(|_| MissingValue {
        path: template.to_string(),
    })?;
    let mut out = String::new();
    for part in parts {
        match part {
            Part::Text(t) => out.push_str(&t),
            Part::Admin(path) => out.push_str(&value(&path)?),
        }
    }
    Ok(out)
}

/// Where placeholders' values come from: an administrator, or samples when checking.
type Lookup<'a> = dyn Fn(&str) -> Result<String, MissingValue> + 'a;

fn render_json(v: &Value, value: &Lookup<'_>) -> Result<Value, MissingValue> {
    Ok(match v {
        Value::String(s) => Value::String(render_text(s, value)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|i| render_json(i, value))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| Ok((k.clone(), render_json(v, value)?)))
                .collect::<Result<_, MissingValue>>()?,
        ),
        other => other.clone(),
    })
}

/// Every placeholder answered with the same sample value, for checking templates.
fn sample(_: &str) -> Result<String, MissingValue> {
    Ok("sample".into())
}

fn invalid(property: &str, what: impl AsRef<str>) -> InvalidBody {
    InvalidBody::on_property(what, &format!("delegated_admin.{property}"))
}

/// Every string in a JSON value, for checking the placeholders in them.
fn strings(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::String(s) => out.push(s.clone()),
        Value::Array(items) => items.iter().for_each(|i| strings(i, out)),
        Value::Object(m) => m.values().for_each(|i| strings(i, out)),
        _ => {}
    }
}

impl DelegatedAdminSettings {
    /// Reads and checks the whole setting (a PATCH replaces it). Every problem is a
    /// `Payload validation error` naming the property.
    pub fn from_value(v: Value) -> Result<Self, InvalidBody> {
        let mut p = Payload::from_value(v)
            .map_err(|_| InvalidBody::on_property("Expected type object", "delegated_admin"))?;
        p.allow_only(&["filter", "create_fields", "create_defaults", "memberships"])
            .map_err(|e| {
                InvalidBody::new(
                    e.message
                        .replace("properties", "properties in delegated_admin"),
                )
            })?;
        let filter = match p
            .nullable_string("filter")
            .map_err(|_| invalid("filter", "Expected type string (a v3 query) or null"))?
        {
            crate::payload::Field::Set(f) => Some(check_filter(&f)?),
            _ => None,
        };
        let create_fields = p
            .string_array("create_fields")
            .map_err(|_| invalid("create_fields", "Expected an array of strings"))?
            .unwrap_or_default();
        check_create_fields(&create_fields)?;
        let create_defaults = p
            .object("create_defaults")
            .map_err(|_| invalid("create_defaults", "Expected type object"))?
            .unwrap_or_default();
        check_defaults(&create_defaults)?;
        let memberships = p
            .string_array("memberships")
            .map_err(|_| invalid("memberships", "Expected an array of strings"))?
            .unwrap_or_default();
        check_memberships(&memberships)?;
        Ok(Self {
            filter,
            create_fields,
            create_defaults,
            memberships,
        })
    }

    /// The Management API's view.
    pub fn to_json(&self) -> Value {
        json!({
            "filter": self.filter,
            "create_fields": self.create_fields,
            "create_defaults": self.create_defaults,
            "memberships": self.memberships,
        })
    }

    /// The filter for this administrator: `Ok(None)` when none is configured, or the query
    /// text with their values quoted in.
    pub fn filter_for(&self, admin: &User) -> Result<Option<String>, FilterProblem> {
        let Some(template) = &self.filter else {
            return Ok(None);
        };
        match render_filter(template, |path| admin_value(admin, path)) {
            Ok(rendered) => rendered.map(Some).map_err(FilterProblem::Missing),
            // Checked when saved; a stored template that no longer passes is not used.
            Err(why) => Err(FilterProblem::Invalid(why)),
        }
    }

    /// `create_defaults` with this administrator's values filled in.
    pub fn defaults_for(&self, admin: &User) -> Result<Map<String, Value>, MissingValue> {
        let value = |path: &str| admin_value(admin, path);
        match render_json(&Value::Object(self.create_defaults.clone()), &value)? {
            Value::Object(m) => Ok(m),
            _ => Ok(Map::new()),
        }
    }

    /// The memberships offered to this administrator, without duplicates; an entry whose
    /// placeholder has no value is left out.
    pub fn memberships_for(&self, admin: &User) -> Vec<String> {
        let mut out: Vec<String> = vec![];
        let value = |path: &str| admin_value(admin, path);
        for m in &self.memberships {
            if let Ok(v) = render_text(m, &value)
                && !v.trim().is_empty()
                && !out.contains(&v)
            {
                out.push(v);
            }
        }
        out
    }

    /// Whether the create form may set `field` (`email`, `user_metadata.plan`).
    pub fn may_create_with(&self, field: &str) -> bool {
        self.create_fields.iter().any(|f| f == field)
    }
}

/// A filter template: placeholders well placed, and a valid v3 query once filled in.
fn check_filter(f: &str) -> Result<String, InvalidBody> {
    if f.trim().is_empty() {
        return Err(invalid(
            "filter",
            "The filter is empty: use null for no filter (delegated administrators then see nobody), or _exists_:user_id for everyone",
        ));
    }
    if f.chars().count() > MAX_FILTER_LEN {
        return Err(invalid(
            "filter",
            format!("The filter is longer than {MAX_FILTER_LEN} characters"),
        ));
    }
    let rendered = render_filter(f, sample)
        .map_err(|m| invalid("filter", m))?
        .map_err(|m| invalid("filter", m.to_string()))?;
    crate::search::parse(&rendered).map_err(|e| {
        invalid(
            "filter",
            format!(
                "Not a valid v3 query (with sample values for the placeholders): {} at character {}",
                e.message,
                e.position + 1
            ),
        )
    })?;
    Ok(f.to_string())
}

fn check_create_fields(fields: &[String]) -> Result<(), InvalidBody> {
    if fields.len() > MAX_LIST {
        return Err(invalid(
            "create_fields",
            format!("At most {MAX_LIST} fields"),
        ));
    }
    for (i, f) in fields.iter().enumerate() {
        let ok = CREATABLE_FIELDS.contains(&f.as_str())
            || f.strip_prefix("user_metadata.").is_some_and(|k| {
                !k.is_empty() && !k.contains('.') && !k.contains('$') && k.len() <= 100
            });
        if !ok {
            return Err(invalid(
                "create_fields",
                format!(
                    "'{f}' cannot be set on create: use {} or user_metadata.<key> (app_metadata is set through create_defaults)",
                    CREATABLE_FIELDS.join(", ")
                ),
            ));
        }
        if fields[..i].contains(f) {
            return Err(invalid("create_fields", format!("'{f}' is listed twice")));
        }
    }
    Ok(())
}

fn check_defaults(d: &Map<String, Value>) -> Result<(), InvalidBody> {
    if let Some(k) = d.keys().find(|k| !DEFAULT_KEYS.contains(&k.as_str())) {
        return Err(invalid(
            "create_defaults",
            format!("'{k}' cannot be a default: use {}", DEFAULT_KEYS.join(", ")),
        ));
    }
    if let Some(app) = d.get("app_metadata").and_then(Value::as_object)
        && let Some(k) = app
            .keys()
            .find(|k| PROTECTED_APP_METADATA_KEYS.contains(&k.as_str()))
    {
        return Err(invalid(
            "create_defaults",
            format!(
                "app_metadata.{k} cannot be a default: roles, permissions and authorization decide who may use the dashboard, and memberships come from the memberships list"
            ),
        ));
    }
    let mut all = vec![];
    strings(&Value::Object(d.clone()), &mut all);
    for s in &all {
        parts(s).map_err(|m| invalid("create_defaults", m))?;
    }
    // The defaults must make a valid user body: checked with sample values, the way every
    // create will check them.
    let mut body = match render_json(&Value::Object(d.clone()), &sample) {
        Ok(Value::Object(m)) => m,
        _ => Map::new(),
    };
    body.insert("email".into(), json!("sample@example.com"));
    body.insert("password".into(), json!("sample"));
    body.entry("connection").or_insert(json!("sample"));
    Payload::from_value(Value::Object(body))
        .and_then(crate::user::NewUser::from_payload)
        .map_err(|e| invalid("create_defaults", e.message))?;
    Ok(())
}

fn check_memberships(list: &[String]) -> Result<(), InvalidBody> {
    if list.len() > MAX_LIST {
        return Err(invalid(
            "memberships",
            format!("At most {MAX_LIST} memberships"),
        ));
    }
    for m in list {
        if m.trim().is_empty() || m.chars().count() > MAX_MEMBERSHIP_LEN {
            return Err(invalid(
                "memberships",
                format!("A membership is 1 to {MAX_MEMBERSHIP_LEN} characters"),
            ));
        }
        parts(m).map_err(|e| invalid("memberships", e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn admin(app_metadata: Value) -> User {
        let mut u = User::new("auth0", "a1", "con_1", "db", "boss@example.com", 0);
        u.app_metadata = app_metadata.as_object().cloned().unwrap_or_default();
        u
    }

    fn settings(v: Value) -> Result<DelegatedAdminSettings, InvalidBody> {
        DelegatedAdminSettings::from_value(v)
    }

    #[test]
    fn a_value_is_one_quoted_phrase_whatever_it_holds() {
        let s = settings(
            json!({"filter": "app_metadata.department:{{admin.app_metadata.department}}"}),
        )
        .unwrap();
        let f = s
            .filter_for(&admin(json!({"department": "Sales"})))
            .unwrap();
        assert_eq!(f.as_deref(), Some(r#"app_metadata.department:"Sales""#));
        // An administrator cannot widen their filter through their own metadata.
        let evil = admin(json!({"department": "x\" OR *:* OR name:\"y\\"}));
        let f = s.filter_for(&evil).unwrap().unwrap();
        let q = crate::search::parse(&f).unwrap();
        assert_eq!(q.leaves(), 1, "{f}");
        match q {
            crate::search::Query::Match { pattern, .. } => assert_eq!(
                pattern,
                crate::search::Pattern::Exact("x\" OR *:* OR name:\"y\\".into())
            ),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn inside_a_phrase_a_value_is_escaped() {
        let s = settings(json!({"filter": "app_metadata.department:\"{{admin.app_metadata.department}}\" AND NOT blocked:true"})).unwrap();
        let f = s
            .filter_for(&admin(json!({"department": "R\"&D"})))
            .unwrap()
            .unwrap();
        assert_eq!(f, r#"app_metadata.department:"R\"&D" AND NOT blocked:true"#);
        let q = crate::search::parse(&f).unwrap();
        assert_eq!(q.leaves(), 2);
    }

    #[test]
    fn a_missing_value_or_no_filter_is_said() {
        let s = settings(
            json!({"filter": "app_metadata.department:{{ admin.app_metadata.department }}"}),
        )
        .unwrap();
        for m in [
            json!({}),
            json!({"department": ""}),
            json!({"department": null}),
            json!({"department": ["a"]}),
        ] {
            assert_eq!(
                s.filter_for(&admin(m)).unwrap_err(),
                FilterProblem::Missing(MissingValue {
                    path: "app_metadata.department".into()
                })
            );
        }
        assert_eq!(
            s.filter_for(&admin(json!({"department": 7})))
                .unwrap()
                .as_deref(),
            Some(r#"app_metadata.department:"7""#)
        );
        let none = DelegatedAdminSettings::default();
        assert_eq!(none.filter_for(&admin(json!({}))), Ok(None));
        let nested =
            settings(json!({"filter": "user_metadata.region:{{admin.app_metadata.scope.region}}"}))
                .unwrap();
        assert!(
            nested
                .filter_for(&admin(json!({"scope": {"region": "EU"}})))
                .unwrap()
                .is_some()
        );
    }

    #[test]
    fn bad_filters_are_refused_with_the_property() {
        for (bad, words) in [
            (json!({"filter": ""}), "empty"),
            (json!({"filter": "email:(a"}), "Not a valid v3 query"),
            (
                json!({"filter": "name:{{admin.user_metadata.x}}"}),
                "is not a placeholder",
            ),
            (
                json!({"filter": "name:{{user.name}}"}),
                "is not a placeholder",
            ),
            (json!({"filter": "name:{{admin.email"}), "not closed"),
            (json!({"filter": "name:x{{admin.email}}"}), "whole value"),
            (json!({"filter": "name:{{admin.email}}*"}), "whole value"),
            (json!({"filter": "name:\\{{admin.email}}"}), "backslash"),
            (json!({"filter": 5}), "Expected type string"),
            (json!({"nope": 1}), "Additional properties"),
            (
                json!({"create_fields": ["app_metadata.department"]}),
                "cannot be set on create",
            ),
            (json!({"create_fields": ["email", "email"]}), "twice"),
            (
                json!({"create_defaults": {"app_metadata": {"roles": ["admin"]}}}),
                "cannot be a default",
            ),
            (
                json!({"create_defaults": {"blocked": true}}),
                "cannot be a default",
            ),
            (
                json!({"create_defaults": {"user_metadata": {"a.b": 1}}}),
                "a.b",
            ),
            (json!({"memberships": [""]}), "1 to"),
            (
                json!({"memberships": ["{{admin.name}}"]}),
                "is not a placeholder",
            ),
        ] {
            let e = settings(bad.clone()).unwrap_err();
            assert!(e.message.contains(words), "{bad}: {}", e.message);
            assert!(
                e.message.contains("delegated_admin"),
                "{bad}: {}",
                e.message
            );
        }
    }

    #[test]
    fn defaults_and_memberships_take_the_administrators_values() {
        let s = settings(json!({
            "filter": "app_metadata.department:\"{{admin.app_metadata.department}}\"",
            "create_fields": ["email", "password", "user_metadata.phone_extension"],
            "create_defaults": {"connection": "db", "app_metadata": {"department": "{{admin.app_metadata.department}}"}},
            "memberships": ["{{admin.app_metadata.department}}", "Everyone", "Everyone", "{{admin.app_metadata.team}}"],
        }))
        .unwrap();
        let a = admin(json!({"department": "Sales"}));
        assert_eq!(
            Value::Object(s.defaults_for(&a).unwrap()),
            json!({"connection": "db", "app_metadata": {"department": "Sales"}})
        );
        assert_eq!(s.memberships_for(&a), vec!["Sales", "Everyone"]);
        assert!(s.may_create_with("user_metadata.phone_extension"));
        assert!(!s.may_create_with("username"));
        assert!(s.defaults_for(&admin(json!({}))).is_err());
        assert_eq!(
            settings(s.to_json()).unwrap(),
            s,
            "the Management API's view reads back"
        );
    }
}
