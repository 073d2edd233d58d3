//! Actions: customers' code that runs inside a login or a token exchange
//! (`exports.onExecutePostLogin = async (event, api) => { … }`). This module holds what is pure:
//! the triggers Gatehouse runs, an action's body as the Management API takes it
//! (`NewAction`, `ActionPatch`), trigger bindings (`BindingRef`), and what an action's run asks
//! for (`ActionCommands`), merged over the actions of one flow into `FlowChanges` with the
//! claims Auth0 never lets code set taken out.

mod preview;

pub use preview::{TokenPreview, TrialBase, restricted_claims_in};

use crate::payload::{InvalidBody, Payload, type_name};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// Largest action code Auth0 accepts.
pub const MAX_CODE_BYTES: usize = 100 * 1024;
/// Auth0's limits on an action's secrets.
pub const MAX_SECRET_NAME: usize = 128;
pub const MAX_SECRET_VALUE: usize = 4096;
/// Actions one trigger may have bound (Auth0 allows a handful more; a login runs them in turn).
pub const MAX_BINDINGS: usize = 20;

/// A point in a flow where bound actions run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Trigger {
    /// Every user-token grant: the browser flows, password, password-realm, refresh and
    /// passwordless.
    #[serde(rename = "post-login")]
    PostLogin,
    /// The client-credentials grant.
    #[serde(rename = "credentials-exchange")]
    CredentialsExchange,
    /// A public sign-up on a database connection, before the user is created: deny it with
    /// a message for the user, or set metadata.
    #[serde(rename = "pre-user-registration")]
    PreUserRegistration,
    /// After a public sign-up created the user; what it does cannot change the sign-up.
    #[serde(rename = "post-user-registration")]
    PostUserRegistration,
    /// After a user's password changed; what it does cannot undo the change.
    #[serde(rename = "post-change-password")]
    PostChangePassword,
}

impl Trigger {
    pub const ALL: [Trigger; 5] = [
        Trigger::PostLogin,
        Trigger::CredentialsExchange,
        Trigger::PreUserRegistration,
        Trigger::PostUserRegistration,
        Trigger::PostChangePassword,
    ];

    pub fn id(self) -> &'static str {
        match self {
            Trigger::PostLogin => "post-login",
            Trigger::CredentialsExchange => "credentials-exchange",
            Trigger::PreUserRegistration => "pre-user-registration",
            Trigger::PostUserRegistration => "post-user-registration",
            Trigger::PostChangePassword => "post-change-password",
        }
    }

    /// The trigger version Auth0 currently offers.
    pub fn version(self) -> &'static str {
        match self {
            Trigger::PostLogin => "v3",
            _ => "v2",
        }
    }

    pub fn parse(id: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// The export a run of this trigger calls.
    pub fn handler(self) -> &'static str {
        match self {
            Trigger::PostLogin => "onExecutePostLogin",
            Trigger::CredentialsExchange => "onExecuteCredentialsExchange",
            Trigger::PreUserRegistration => "onExecutePreUserRegistration",
            Trigger::PostUserRegistration => "onExecutePostUserRegistration",
            Trigger::PostChangePassword => "onExecutePostChangePassword",
        }
    }
}

/// Runtimes Auth0 lists; all run in the same sandbox here, the name is kept as given.
pub const RUNTIMES: [&str; 4] = ["node12", "node16", "node18", "node22"];
pub const DEFAULT_RUNTIME: &str = "node22";

/// Modules the sandbox provides to `require` without installing anything; a dependency
/// naming one of them is accepted (its version is the sandbox's).
pub const PROVIDED_MODULES: [&str; 8] = [
    "axios",
    "node-fetch",
    "request",
    "crypto",
    "bcrypt",
    "bcryptjs",
    "pg",
    "mysql",
];

/// One of an action's supported triggers, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SupportedTrigger {
    pub id: String,
    pub version: String,
}

/// A dependency, as stored and shown.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Dependency {
    pub name: String,
    pub version: String,
}

/// A secret as given in a body: its value is sealed before it is stored and never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretValue {
    pub name: String,
    pub value: String,
}

/// `POST /api/v2/actions/actions`.
#[derive(Debug, Clone, PartialEq)]
pub struct NewAction {
    pub name: String,
    pub supported_triggers: Vec<SupportedTrigger>,
    pub code: String,
    pub runtime: String,
    pub dependencies: Vec<Dependency>,
    pub secrets: Vec<SecretValue>,
}

/// `PATCH /api/v2/actions/actions/{id}`: only what is given changes. `secrets` replaces the
/// list; a secret given without a value keeps its stored one.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct ActionPatch {
    pub name: Option<String>,
    pub supported_triggers: Option<Vec<SupportedTrigger>>,
    pub code: Option<String>,
    pub runtime: Option<String>,
    pub dependencies: Option<Vec<Dependency>>,
    pub secrets: Option<Vec<(String, Option<String>)>>,
}

const ACTION_PROPERTIES: [&str; 6] = [
    "name",
    "supported_triggers",
    "code",
    "runtime",
    "dependencies",
    "secrets",
];

impl NewAction {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&ACTION_PROPERTIES)?;
        let name = checked_name(p.required_string("name")?)?;
        let supported_triggers = match p.raw("supported_triggers") {
            Some(v) => triggers(v)?,
            None => {
                return Err(InvalidBody::new(
                    "Payload validation error: 'Missing required property: supported_triggers'.",
                ));
            }
        };
        let code = checked_code(p.string("code")?.unwrap_or_default())?;
        let runtime = checked_runtime(p.string("runtime")?)?;
        let dependencies = match p.raw("dependencies") {
            Some(v) => dependencies(v)?,
            None => vec![],
        };
        let secrets = match p.raw("secrets") {
            Some(v) => secrets(v)?
                .into_iter()
                .map(|(name, value)| {
                    value
                        .map(|value| SecretValue {
                            name: name.clone(),
                            value,
                        })
                        .ok_or_else(|| {
                            InvalidBody::on_property(
                                format!("Missing required property: value (secret {name})"),
                                "secrets",
                            )
                        })
                })
                .collect::<Result<_, _>>()?,
            None => vec![],
        };
        Ok(Self {
            name,
            supported_triggers,
            code,
            runtime: runtime.unwrap_or_else(|| DEFAULT_RUNTIME.into()),
            dependencies,
            secrets,
        })
    }
}

impl ActionPatch {
    pub fn from_payload(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&ACTION_PROPERTIES)?;
        p.require_some()?;
        Ok(Self {
            name: p.string("name")?.map(checked_name).transpose()?,
            supported_triggers: p.raw("supported_triggers").map(triggers).transpose()?,
            code: p.string("code")?.map(checked_code).transpose()?,
            runtime: checked_runtime(p.string("runtime")?)?,
            dependencies: p.raw("dependencies").map(dependencies).transpose()?,
            secrets: p.raw("secrets").map(secrets).transpose()?,
        })
    }
}

fn checked_name(name: String) -> Result<String, InvalidBody> {
    let trimmed = name.trim();
    if trimmed.is_empty() || name.chars().count() > 255 {
        return Err(InvalidBody::on_property(
            "String length must be between 1 and 255 characters",
            "name",
        ));
    }
    if name.chars().any(char::is_control) {
        return Err(InvalidBody::on_property(
            "Control characters are not allowed",
            "name",
        ));
    }
    Ok(name)
}

fn checked_code(code: String) -> Result<String, InvalidBody> {
    if code.len() > MAX_CODE_BYTES {
        return Err(InvalidBody::on_property(
            format!(
                "String is too long ({} bytes), maximum {MAX_CODE_BYTES}",
                code.len()
            ),
            "code",
        ));
    }
    Ok(code)
}

fn checked_runtime(runtime: Option<String>) -> Result<Option<String>, InvalidBody> {
    match runtime {
        Some(r) if !RUNTIMES.contains(&r.as_str()) => Err(InvalidBody::on_property(
            format!("Runtime {r} is not one of {}", RUNTIMES.join(", ")),
            "runtime",
        )),
        other => Ok(other),
    }
}

fn array(v: Value, field: &str) -> Result<Vec<Value>, InvalidBody> {
    match v {
        Value::Array(items) => Ok(items),
        other => Err(InvalidBody::on_property(
            format!("Expected type array but found type {}", type_name(&other)),
            field,
        )),
    }
}

fn object_of(v: Value, field: &str) -> Result<Map<String, Value>, InvalidBody> {
    match v {
        Value::Object(m) => Ok(m),
        other => Err(InvalidBody::on_property(
            format!("Expected type object but found type {}", type_name(&other)),
            field,
        )),
    }
}

fn string_in(
    m: &Map<String, Value>,
    key: &str,
    field: &str,
) -> Result<Option<String>, InvalidBody> {
    match m.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(InvalidBody::on_property(
            format!(
                "Expected type string but found type {} ({key})",
                type_name(other)
            ),
            field,
        )),
    }
}

fn triggers(v: Value) -> Result<Vec<SupportedTrigger>, InvalidBody> {
    let items = array(v, "supported_triggers")?;
    if items.is_empty() {
        return Err(InvalidBody::on_property(
            "Array is too short (0), minimum 1",
            "supported_triggers",
        ));
    }
    let mut out: Vec<SupportedTrigger> = Vec::new();
    for item in items {
        let m = object_of(item, "supported_triggers")?;
        let id = string_in(&m, "id", "supported_triggers")?.ok_or_else(|| {
            InvalidBody::on_property("Missing required property: id", "supported_triggers")
        })?;
        let trigger = Trigger::parse(&id).ok_or_else(|| {
            InvalidBody::on_property(
                format!(
                    "Trigger {id} is not supported here; Gatehouse runs {}",
                    Trigger::ALL.map(Trigger::id).join(", ")
                ),
                "supported_triggers",
            )
        })?;
        let version = string_in(&m, "version", "supported_triggers")?
            .unwrap_or_else(|| trigger.version().to_string());
        if !out.iter().any(|t| t.id == id) {
            out.push(SupportedTrigger { id, version });
        }
    }
    Ok(out)
}

fn dependencies(v: Value) -> Result<Vec<Dependency>, InvalidBody> {
    let mut out = Vec::new();
    for item in array(v, "dependencies")? {
        let m = object_of(item, "dependencies")?;
        let name = string_in(&m, "name", "dependencies")?.ok_or_else(|| {
            InvalidBody::on_property("Missing required property: name", "dependencies")
        })?;
        if !PROVIDED_MODULES.contains(&name.as_str()) {
            return Err(InvalidBody::on_property(
                format!(
                    "Dependency {name} cannot be installed: actions run in Gatehouse's sandbox, \
                     which provides {} and nothing from npm",
                    PROVIDED_MODULES.join(", ")
                ),
                "dependencies",
            ));
        }
        let version = string_in(&m, "version", "dependencies")?.unwrap_or_else(|| "latest".into());
        out.push(Dependency { name, version });
    }
    Ok(out)
}

/// Secrets as given: names checked, values (when given) within Auth0's limit.
fn secrets(v: Value) -> Result<Vec<(String, Option<String>)>, InvalidBody> {
    let mut out: Vec<(String, Option<String>)> = Vec::new();
    for item in array(v, "secrets")? {
        let m = object_of(item, "secrets")?;
        let name = string_in(&m, "name", "secrets")?.ok_or_else(|| {
            InvalidBody::on_property("Missing required property: name", "secrets")
        })?;
        if name.is_empty() || name.len() > MAX_SECRET_NAME {
            return Err(InvalidBody::on_property(
                format!("A secret's name must be 1 to {MAX_SECRET_NAME} characters"),
                "secrets",
            ));
        }
        let value = string_in(&m, "value", "secrets")?;
        if value.as_ref().is_some_and(|v| v.len() > MAX_SECRET_VALUE) {
            return Err(InvalidBody::on_property(
                format!("The value of secret {name} is longer than {MAX_SECRET_VALUE} characters"),
                "secrets",
            ));
        }
        if out.iter().any(|(n, _)| n == &name) {
            return Err(InvalidBody::on_property(
                format!("Secret {name} is given twice"),
                "secrets",
            ));
        }
        out.push((name, value));
    }
    Ok(out)
}

/// How a binding names its action (`ref.type`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BindingRef {
    ActionId(String),
    ActionName(String),
}

/// One entry of `PATCH /actions/triggers/{trigger}/bindings`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewBinding {
    pub action: BindingRef,
    pub display_name: Option<String>,
}

/// The body of `PATCH /actions/triggers/{trigger}/bindings`: the whole list, in run order.
pub fn bindings_from_payload(mut p: Payload) -> Result<Vec<NewBinding>, InvalidBody> {
    p.allow_only(&["bindings"])?;
    let items = match p.raw("bindings") {
        Some(v) => array(v, "bindings")?,
        None => {
            return Err(InvalidBody::new(
                "Payload validation error: 'Missing required property: bindings'.",
            ));
        }
    };
    if items.len() > MAX_BINDINGS {
        return Err(InvalidBody::on_property(
            format!(
                "Array is too long ({}), maximum {MAX_BINDINGS}",
                items.len()
            ),
            "bindings",
        ));
    }
    let mut out = Vec::new();
    for item in items {
        let m = object_of(item, "bindings")?;
        let reference = match m.get("ref") {
            Some(r) => object_of(r.clone(), "bindings")?,
            None => {
                return Err(InvalidBody::on_property(
                    "Missing required property: ref",
                    "bindings",
                ));
            }
        };
        let kind = string_in(&reference, "type", "bindings")?.unwrap_or_default();
        let value = string_in(&reference, "value", "bindings")?
            .filter(|v| !v.is_empty())
            .ok_or_else(|| {
                InvalidBody::on_property("Missing required property: ref.value", "bindings")
            })?;
        let action = match kind.as_str() {
            "action_id" => BindingRef::ActionId(value),
            "action_name" => BindingRef::ActionName(value),
            other => {
                return Err(InvalidBody::on_property(
                    format!("ref.type must be action_id or action_name, not '{other}'"),
                    "bindings",
                ));
            }
        };
        let display_name = string_in(&m, "display_name", "bindings")?;
        out.push(NewBinding {
            action,
            display_name,
        });
    }
    Ok(out)
}

/// Claims no action may set (Auth0's list): they are dropped without an error.
const RESTRICTED_CLAIMS: &[&str] = &[
    "acr",
    "act",
    "active",
    "amr",
    "at_hash",
    "ath",
    "attest",
    "aud",
    "auth_time",
    "authorization_details",
    "azp",
    "c_hash",
    "client_id",
    "cnf",
    "cty",
    "dest",
    "entitlements",
    "events",
    "exp",
    "groups",
    "gty",
    "htm",
    "htu",
    "iat",
    "internalService",
    "iss",
    "jcard",
    "jku",
    "jti",
    "jwe",
    "jwk",
    "kid",
    "may_act",
    "mky",
    "nbf",
    "nonce",
    "object_id",
    "org_id",
    "org_name",
    "orig",
    "origid",
    "permissions",
    "roles",
    "rph",
    "s_hash",
    "sid",
    "sub",
    "sub_jwk",
    "toe",
    "txn",
    "typ",
    "uuid",
    "vot",
    "vtm",
    "x5t#S256",
    "scope",
];

/// Standard profile claims an action may replace in an ID token (Auth0 lets custom claims
/// set them); any other claim already there wins over an action's.
pub const PROFILE_CLAIMS: [&str; 9] = [
    "name",
    "given_name",
    "family_name",
    "nickname",
    "picture",
    "email",
    "email_verified",
    "updated_at",
    "locale",
];

/// Whether an action may not set `claim`.
pub fn is_restricted_claim(claim: &str) -> bool {
    RESTRICTED_CLAIMS.contains(&claim) || claim.starts_with("sip_")
}

/// Whether a claim is namespaced (a URL or URN), as Auth0 requires of custom claims in
/// access tokens for its own API.
pub fn is_namespaced(claim: &str) -> bool {
    claim.starts_with("http://") || claim.starts_with("https://") || claim.starts_with("urn:")
}

/// What one action's run asked for, as the sandbox's runtime reports it.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct ActionCommands {
    /// `api.access.deny(reason)` (post-login) or `deny(code, reason)` (credentials exchange).
    pub deny: Option<Denial>,
    pub id_claims: Map<String, Value>,
    pub access_claims: Map<String, Value>,
    pub add_scopes: Vec<String>,
    pub remove_scopes: Vec<String>,
    /// First-level keys; `null` deletes.
    pub app_metadata: Map<String, Value>,
    pub user_metadata: Map<String, Value>,
    pub primary_user: Option<String>,
    /// `api.redirect.sendUserTo(url, {query})`.
    pub redirect: Option<RedirectTo>,
}

/// Where an action sends the user before the login goes on (`/continue` brings them back).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
pub struct RedirectTo {
    pub url: String,
    #[serde(default)]
    pub query: Map<String, Value>,
}

impl RedirectTo {
    /// The redirect's address: its URL with the query the action gave and `state`, or
    /// `None` when the URL is neither an absolute http(s) URL nor a path on this server
    /// (`/u/profile`, a Gatehouse extension), which is taken relative to `origin`.
    pub fn location(&self, state: &str, origin: &str) -> Option<String> {
        let lower = self.url.to_ascii_lowercase();
        let url = if self.url.starts_with('/') && !self.url.starts_with("//") {
            format!("{}{}", origin.trim_end_matches('/'), self.url)
        } else if lower.starts_with("https://") || lower.starts_with("http://") {
            self.url.clone()
        } else {
            return None;
        };
        if url.chars().any(|c| c.is_control() || c == ' ') {
            return None;
        }
        let (base, fragment) = match url.split_once('#') {
            Some((b, f)) => (b, Some(f)),
            None => (url.as_str(), None),
        };
        let mut out = base.to_string();
        let mut sep = if base.contains('?') { '&' } else { '?' };
        let pairs = self
            .query
            .iter()
            .filter(|(k, _)| k.as_str() != "state")
            .map(|(k, v)| {
                let text = match v {
                    Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), text)
            })
            .chain(std::iter::once(("state".to_string(), state.to_string())));
        for (k, v) in pairs {
            out.push(sep);
            out.push_str(&percent_encode(&k));
            out.push('=');
            out.push_str(&percent_encode(&v));
            sep = '&';
        }
        if let Some(f) = fragment {
            out.push('#');
            out.push_str(f);
        }
        Some(out)
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Denial {
    /// The OAuth error (`access_denied`, or the code a credentials-exchange action chose).
    pub code: String,
    pub reason: String,
    /// What a refused sign-up shows the user (`api.access.deny(reason, userMessage)`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_message: Option<String>,
}

/// The OAuth errors a credentials-exchange action may answer with (Auth0's list).
pub const EXCHANGE_DENY_CODES: [&str; 5] = [
    "invalid_scope",
    "invalid_request",
    "server_error",
    "unauthorized_client",
    "access_denied",
];

/// What the actions of one flow asked for, merged in run order; restricted claims already
/// taken out. Sealed onto an authorization code so the code exchange mints what the login's
/// actions decided.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct FlowChanges {
    pub id_claims: Map<String, Value>,
    pub access_claims: Map<String, Value>,
    pub add_scopes: Vec<String>,
    pub remove_scopes: Vec<String>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub app_metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Map::is_empty")]
    pub user_metadata: Map<String, Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub primary_user: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub denied: Option<Denial>,
    /// The access token's whole scope, when a rule set `context.accessToken.scope`; actions'
    /// additions and removals apply after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_scopes: Option<Vec<String>>,
    /// An action sent the user away: the login waits for `/continue`, then resumes with
    /// that action's `onContinuePostLogin` and the actions bound after it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect: Option<RedirectTo>,
    /// The action that redirected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resume_after: Option<String>,
    /// The rules and actions that ran, by name, for the tenant log.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ran_rules: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ran_actions: Vec<String>,
}

impl FlowChanges {
    /// Adds one action's commands; a later action's claim or metadata key wins.
    pub fn merge(&mut self, commands: ActionCommands) {
        for (k, v) in commands.id_claims {
            if !is_restricted_claim(&k) {
                self.id_claims.insert(k, v);
            }
        }
        for (k, v) in commands.access_claims {
            if !is_restricted_claim(&k) {
                self.access_claims.insert(k, v);
            }
        }
        for s in commands.add_scopes {
            self.remove_scopes.retain(|r| r != &s);
            if !self.add_scopes.contains(&s) {
                self.add_scopes.push(s);
            }
        }
        for s in commands.remove_scopes {
            self.add_scopes.retain(|a| a != &s);
            if !self.remove_scopes.contains(&s) {
                self.remove_scopes.push(s);
            }
        }
        self.app_metadata.extend(commands.app_metadata);
        self.user_metadata.extend(commands.user_metadata);
        if commands.primary_user.is_some() {
            self.primary_user = commands.primary_user;
        }
        if self.denied.is_none() {
            self.denied = commands.deny;
        }
        if commands.redirect.is_some() {
            self.redirect = commands.redirect;
        }
    }

    /// Names the rules and actions that ran in a log event's details (`rules`, `actions`).
    pub fn note_in(&self, details: &mut Map<String, Value>) {
        if !self.ran_rules.is_empty() {
            details.insert("rules".into(), Value::from(self.ran_rules.clone()));
        }
        if !self.ran_actions.is_empty() {
            details.insert("actions".into(), Value::from(self.ran_actions.clone()));
        }
    }

    /// Whether a code must carry this (claims, scopes, or the names for the exchange's log).
    pub fn touches_tokens(&self) -> bool {
        !(self.id_claims.is_empty()
            && self.access_claims.is_empty()
            && self.set_scopes.is_none()
            && self.ran_actions.is_empty()
            && self.ran_rules.is_empty()
            && self.add_scopes.is_empty()
            && self.remove_scopes.is_empty())
    }

    /// Adds the actions' access-token claims to a token's: they never replace ours, and on
    /// the Management API (`system_api`) only namespaced ones are kept, as Auth0 does for its
    /// own APIs.
    pub fn add_access_claims(&self, claims: &mut Map<String, Value>, system_api: bool) {
        for (k, v) in &self.access_claims {
            if !claims.contains_key(k) && (!system_api || is_namespaced(k)) {
                claims.insert(k.clone(), v.clone());
            }
        }
    }

    /// Adds the actions' ID-token claims to a token's: the standard profile claims
    /// ([`PROFILE_CLAIMS`]) they may replace, any other claim already there wins.
    pub fn add_id_claims(&self, claims: &mut Map<String, Value>) {
        for (k, v) in &self.id_claims {
            if !claims.contains_key(k) || PROFILE_CLAIMS.contains(&k.as_str()) {
                claims.insert(k.clone(), v.clone());
            }
        }
    }

    /// The scope list after the actions' additions and removals, in order.
    pub fn apply_to_scopes(&self, scopes: &mut Vec<String>) {
        if let Some(set) = &self.set_scopes {
            scopes.clone_from(set);
        }
        scopes.retain(|s| !self.remove_scopes.contains(s));
        for s in &self.add_scopes {
            if !scopes.contains(s) {
                scopes.push(s.clone());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn payload(v: Value) -> Payload {
        Payload::from_value(v).expect("object")
    }

    #[test]
    fn a_new_action_is_read_with_defaults_and_checked() {
        let a = NewAction::from_payload(payload(json!({
            "name": "Add roles — ünïcode",
            "supported_triggers": [{"id": "post-login"}],
            "code": "exports.onExecutePostLogin = async () => {};",
            "secrets": [{"name": "KEY", "value": "s3cret"}],
            "dependencies": [{"name": "axios", "version": "1.6.0"}]
        })))
        .expect("valid");
        assert_eq!(a.runtime, DEFAULT_RUNTIME);
        assert_eq!(a.supported_triggers[0].version, "v3");
        assert_eq!(a.secrets[0].value, "s3cret");

        let refused = |v: Value| {
            NewAction::from_payload(payload(v))
                .expect_err("refused")
                .message
        };
        assert!(
            refused(
                json!({"name": "x", "supported_triggers": [{"id": "post-login"}],
                "dependencies": [{"name": "lodash", "version": "4"}]})
            )
            .contains("lodash cannot be installed")
        );
        assert!(refused(json!({"name": "x"})).contains("supported_triggers"));
        assert!(
            refused(json!({"name": "x", "supported_triggers": [{"id": "send-phone-message"}]}))
                .contains("not supported here")
        );
        assert!(
            refused(
                json!({"name": "x", "supported_triggers": [{"id": "post-login"}],
                "secrets": [{"name": "A", "value": "x".repeat(4097)}]})
            )
            .contains("longer than 4096")
        );
        assert!(
            refused(json!({"name": "", "supported_triggers": [{"id": "post-login"}]}))
                .contains("name")
        );
        assert!(
            refused(json!({"name": "x", "supported_triggers": [], "extra": 1}))
                .contains("Additional properties not allowed: extra")
        );
    }

    #[test]
    fn bindings_name_their_action_by_id_or_name() {
        let b = bindings_from_payload(payload(json!({"bindings": [
            {"ref": {"type": "action_name", "value": "Deny contractors"}},
            {"ref": {"type": "action_id", "value": "abc"}, "display_name": "Roles"}
        ]})))
        .expect("valid");
        assert_eq!(
            b[0].action,
            BindingRef::ActionName("Deny contractors".into())
        );
        assert_eq!(b[1].display_name.as_deref(), Some("Roles"));
        assert!(
            bindings_from_payload(payload(
                json!({"bindings": [{"ref": {"type": "secret", "value": "x"}}]})
            ))
            .is_err()
        );
    }

    #[test]
    fn restricted_claims_are_dropped_and_later_actions_win() {
        let mut changes = FlowChanges::default();
        changes.merge(ActionCommands {
            id_claims: serde_json::from_value(
                json!({"sub": "evil", "https://x/roles": ["a"], "name": "Zoë", "sip_x": 1}),
            )
            .expect("map"),
            add_scopes: vec!["read:a".into()],
            user_metadata: serde_json::from_value(json!({"k": 1})).expect("map"),
            ..Default::default()
        });
        changes.merge(ActionCommands {
            id_claims: serde_json::from_value(json!({"name": "Zoé"})).expect("map"),
            remove_scopes: vec!["read:a".into(), "write:b".into()],
            user_metadata: serde_json::from_value(json!({"k": null})).expect("map"),
            deny: Some(Denial {
                code: "access_denied".into(),
                reason: "no".into(),
                user_message: None,
            }),
            ..Default::default()
        });
        assert_eq!(
            Value::Object(changes.id_claims.clone()),
            json!({"https://x/roles": ["a"], "name": "Zoé"})
        );
        let mut scopes = vec!["openid".to_string(), "write:b".to_string()];
        changes.apply_to_scopes(&mut scopes);
        assert_eq!(scopes, vec!["openid".to_string()]);
        assert_eq!(changes.user_metadata.get("k"), Some(&Value::Null));
        assert_eq!(
            changes.denied.as_ref().map(|d| d.reason.as_str()),
            Some("no")
        );
    }
}
