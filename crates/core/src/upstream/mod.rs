//! Upstream identity providers: connections whose users prove who they are elsewhere —
//! a generic OpenID Connect provider (`oidc`), a generic OAuth 2.0 one (`oauth2`), and the
//! social presets (`google-oauth2`, `github`, `windowslive`, `apple`, `facebook`,
//! `linkedin`). This module reads and checks such a connection's `options` into
//! [`UpstreamOptions`]; `profile` turns what a provider answered into the normalized
//! profile. Fetching, token checks and storage happen in the service.

pub mod presets;
pub mod profile;

use crate::payload::InvalidBody;
use serde_json::{Map, Value};

pub use presets::Preset;

pub const OIDC_STRATEGY: &str = "oidc";
pub const OAUTH2_STRATEGY: &str = "oauth2";

/// Options that hold secrets: sealed at rest, never returned by the API.
pub const SECRET_OPTIONS: &[&str] = &["client_secret", "app_secret"];

/// Auth0's cap on `non_persistent_attrs`.
pub const MAX_DENY_LIST: usize = 96;

/// Whether a strategy logs users in at another provider.
pub fn is_upstream_strategy(strategy: &str) -> bool {
    strategy == OIDC_STRATEGY
        || strategy == OAUTH2_STRATEGY
        || presets::by_strategy(strategy).is_some()
}

/// Whether identities of this provider are social (Auth0's `isSocial`): the presets and
/// custom OAuth 2.0; enterprise OpenID Connect and databases are not.
pub fn is_social_provider(provider: &str) -> bool {
    provider == OAUTH2_STRATEGY || presets::by_strategy(provider).is_some()
}

/// How a provider is spoken to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocol {
    /// Authorization code (or, front channel, an ID token posted back) with a signed ID
    /// token checked against the provider's keys.
    Oidc,
    /// Authorization code and an access token; the profile from a user-info URL.
    OAuth2,
}

/// Where the profile comes from and how it reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProfileShape {
    /// Standard OpenID Connect claims (ID token, then user-info).
    OidcClaims,
    GitHub,
    MicrosoftGraph,
    Facebook,
    /// The ID token, plus the name Apple posts once on the first login.
    Apple,
    /// A generic OAuth 2.0 provider's user-info JSON through `attribute_map`.
    Mapped,
}

/// `connection_settings.pkce`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Pkce {
    /// S256 when the provider's discovery document lists it (presets: when the provider
    /// supports it); none otherwise.
    Auto,
    S256,
    Plain,
    Disabled,
}

/// `options.type` of an OpenID Connect connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    /// The ID token is posted back by the browser (`response_type=id_token`,
    /// `response_mode=form_post`); no client secret.
    Front,
    /// Authorization code exchanged server to server with the client secret.
    Back,
}

/// `options.set_user_root_attributes`: when the provider's profile overwrites the user's
/// root attributes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RootSync {
    OnEachLogin,
    OnFirstLogin,
    NeverOnLogin,
}

impl RootSync {
    /// `options.set_user_root_attributes`, `on_each_login` when absent.
    pub fn of_options(o: &Map<String, Value>) -> Result<Self, InvalidBody> {
        match opt_string(o, "set_user_root_attributes")? {
            None => Ok(RootSync::OnEachLogin),
            Some(s) => RootSync::parse(&s).ok_or_else(|| {
                bad(
                    "No enum match (on_each_login, on_first_login, never_on_login)",
                    "set_user_root_attributes",
                )
            }),
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "on_each_login" => Some(Self::OnEachLogin),
            "on_first_login" => Some(Self::OnFirstLogin),
            "never_on_login" => Some(Self::NeverOnLogin),
            _ => None,
        }
    }
}

/// The root attributes `set_user_root_attributes` governs.
pub const SYNCED_ROOT_ATTRIBUTES: [&str; 5] =
    ["family_name", "given_name", "name", "nickname", "picture"];

/// How the provider's claims become the profile (`options.attribute_map`).
#[derive(Debug, Clone, PartialEq)]
pub struct AttributeMap {
    pub mode: MappingMode,
    /// Profile key → a literal or a `${context.…}` template.
    pub attributes: Map<String, Value>,
    pub userinfo_scope: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MappingMode {
    /// Every claim of the provider, then `attributes` on top.
    BindAll,
    /// Only `attributes`.
    UseMap,
}

/// An extra parameter sent to the provider's authorization endpoint
/// (`options.upstream_params`): a fixed value, or the value of one of the application's
/// `/authorize` parameters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpstreamParam {
    Value(String),
    Alias(String),
}

/// `/authorize` parameters an `upstream_params` alias may forward (Auth0's list).
const ALIASABLE: &[&str] = &[
    "acr_values",
    "audience",
    "client_id",
    "display",
    "id_token_hint",
    "login_hint",
    "max_age",
    "prompt",
    "resource",
    "response_mode",
    "response_type",
    "ui_locales",
];

/// Parameters Gatehouse itself sends to the provider; `upstream_params` cannot replace them.
const PROTOCOL_PARAMS: &[&str] = &[
    "client_id",
    "redirect_uri",
    "response_type",
    "response_mode",
    "scope",
    "state",
    "nonce",
    "code_challenge",
    "code_challenge_method",
];

/// An upstream connection's options, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct UpstreamOptions {
    pub strategy: String,
    pub preset: Option<Preset>,
    pub protocol: Protocol,
    pub channel: Channel,
    pub client_id: Option<String>,
    pub discovery_url: Option<String>,
    pub issuer: Option<String>,
    pub authorization_endpoint: Option<String>,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    /// Space-separated, as sent.
    pub scope: String,
    pub pkce: Pkce,
    pub form_post: bool,
    pub profile: ProfileShape,
    pub attribute_map: AttributeMap,
    pub upstream_params: Vec<(String, UpstreamParam)>,
    pub root_sync: RootSync,
    pub non_persistent_attrs: Vec<String>,
    pub domain_aliases: Vec<String>,
    /// Sign in with Apple's key for its client-secret JWT: team id and key id.
    pub apple_team_id: Option<String>,
    pub apple_key_id: Option<String>,
}

pub(crate) fn bad(what: impl AsRef<str>, key: &str) -> InvalidBody {
    InvalidBody::on_property(what, &format!("options.{key}"))
}

pub(crate) fn opt_string(o: &Map<String, Value>, key: &str) -> Result<Option<String>, InvalidBody> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(_) => Err(bad("Expected type string", key)),
    }
}

fn opt_url(o: &Map<String, Value>, key: &str) -> Result<Option<String>, InvalidBody> {
    let Some(u) = opt_string(o, key)? else {
        return Ok(None);
    };
    check_provider_url(&u).map_err(|why| bad(why, key))?;
    Ok(Some(u))
}

/// `options.non_persistent_attrs`: at most [`MAX_DENY_LIST`] names of 1 to 255 characters.
pub(crate) fn deny_list(o: &Map<String, Value>) -> Result<Vec<String>, InvalidBody> {
    let list = string_list(o, "non_persistent_attrs")?;
    if list.len() > MAX_DENY_LIST || list.iter().any(|a| a.is_empty() || a.len() > 255) {
        return Err(bad(
            format!("at most {MAX_DENY_LIST} attribute names of 1 to 255 characters"),
            "non_persistent_attrs",
        ));
    }
    Ok(list)
}

pub(crate) fn string_list(o: &Map<String, Value>, key: &str) -> Result<Vec<String>, InvalidBody> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(vec![]),
        Some(Value::Array(a)) => a
            .iter()
            .map(|v| {
                v.as_str()
                    .map(String::from)
                    .ok_or_else(|| bad("Expected an array of strings", key))
            })
            .collect(),
        Some(_) => Err(bad("Expected type array", key)),
    }
}

/// Provider URLs must be https, except on loopback hosts (127.0.0.0/8, ::1, localhost),
/// where plain http lets providers run by tests and local development work without TLS.
pub fn check_provider_url(raw: &str) -> Result<(), String> {
    let url = url::Url::parse(raw).map_err(|e| format!("{raw} is not a valid URL ({e})"))?;
    if !url.username().is_empty() || url.password().is_some() {
        return Err(format!("{raw} must not carry credentials"));
    }
    if url.fragment().is_some() {
        return Err(format!("{raw} must not have a fragment"));
    }
    match url.scheme() {
        "https" => Ok(()),
        "http" if is_loopback(&url) => Ok(()),
        "http" => Err(format!(
            "{raw} must use https (plain http is allowed only on loopback hosts)"
        )),
        other => Err(format!("{raw} has the unsupported scheme {other}")),
    }
}

pub(crate) fn is_loopback(url: &url::Url) -> bool {
    match url.host() {
        Some(url::Host::Domain(d)) => d.eq_ignore_ascii_case("localhost"),
        Some(url::Host::Ipv4(ip)) => ip.is_loopback(),
        Some(url::Host::Ipv6(ip)) => ip.is_loopback(),
        None => false,
    }
}

impl UpstreamOptions {
    /// Reads and checks the options of an upstream connection of `strategy`. Secrets are
    /// not read here: the service seals them apart.
    pub fn parse(strategy: &str, o: &Map<String, Value>) -> Result<Self, InvalidBody> {
        let preset = presets::by_strategy(strategy);
        let protocol = match (preset, strategy) {
            (Some(p), _) => p.protocol,
            (None, OIDC_STRATEGY) => Protocol::Oidc,
            (None, OAUTH2_STRATEGY) => Protocol::OAuth2,
            (None, other) => {
                return Err(InvalidBody::on_property(
                    format!("{other} is not an upstream strategy"),
                    "strategy",
                ));
            }
        };
        let client_id = opt_string(o, "client_id")?;
        let has_secret = o.get("client_secret").is_some_and(|v| !v.is_null());
        let channel = match opt_string(o, "type")?.as_deref() {
            None if protocol == Protocol::Oidc && preset.is_none() && !has_secret => Channel::Front,
            None | Some("back_channel") => Channel::Back,
            Some("front_channel") if protocol == Protocol::Oidc && preset.is_none() => {
                Channel::Front
            }
            Some("front_channel") => {
                return Err(bad(
                    "front_channel applies to OpenID Connect connections only",
                    "type",
                ));
            }
            Some(_) => return Err(bad("No enum match (front_channel, back_channel)", "type")),
        };
        // Auth0's names for the generic OAuth 2.0 endpoints, then the OpenID Connect ones.
        let authorization_endpoint = match opt_url(o, "authorizationURL")? {
            Some(u) => Some(u),
            None => opt_url(o, "authorization_endpoint")?,
        };
        let token_endpoint = match opt_url(o, "tokenURL")? {
            Some(u) => Some(u),
            None => opt_url(o, "token_endpoint")?,
        };
        let mut opts = Self {
            strategy: strategy.to_string(),
            preset,
            protocol,
            channel,
            client_id,
            discovery_url: opt_url(o, "discovery_url")?,
            issuer: opt_string(o, "issuer")?,
            authorization_endpoint,
            token_endpoint,
            userinfo_endpoint: opt_url(o, "userinfo_endpoint")?,
            jwks_uri: opt_url(o, "jwks_uri")?,
            scope: String::new(),
            pkce: Pkce::Auto,
            form_post: preset.is_some_and(|p| p.form_post),
            profile: preset.map_or(
                match protocol {
                    Protocol::Oidc => ProfileShape::OidcClaims,
                    Protocol::OAuth2 => ProfileShape::Mapped,
                },
                |p| p.profile,
            ),
            attribute_map: parse_attribute_map(o)?,
            upstream_params: parse_upstream_params(o)?,
            root_sync: RootSync::of_options(o)?,
            non_persistent_attrs: deny_list(o)?,
            domain_aliases: string_list(o, "domain_aliases")?,
            apple_team_id: opt_string(o, "team_id")?,
            apple_key_id: opt_string(o, "kid")?,
        };
        opts.scope = opts.read_scope(o)?;
        opts.pkce = match o
            .get("connection_settings")
            .and_then(|s| s.get("pkce"))
            .and_then(Value::as_str)
        {
            None | Some("auto") => Pkce::Auto,
            Some("s256") | Some("S256") => Pkce::S256,
            Some("plain") => Pkce::Plain,
            Some("disabled") => Pkce::Disabled,
            Some(_) => {
                return Err(bad(
                    "No enum match (auto, s256, plain, disabled)",
                    "connection_settings.pkce",
                ));
            }
        };
        if o.get("pkce_enabled").and_then(Value::as_bool) == Some(true) && opts.pkce == Pkce::Auto {
            opts.pkce = Pkce::S256;
        }
        opts.check_endpoints(o)?;
        Ok(opts)
    }

    /// `scope`: a string (OpenID Connect, OAuth 2.0) or an array added to a preset's own.
    fn read_scope(&self, o: &Map<String, Value>) -> Result<String, InvalidBody> {
        let given: Vec<String> = match o.get("scope") {
            None | Some(Value::Null) => vec![],
            Some(Value::String(s)) => s.split_whitespace().map(String::from).collect(),
            Some(Value::Array(_)) => string_list(o, "scope")?,
            Some(_) => return Err(bad("Expected a string or an array of strings", "scope")),
        };
        let mut scopes: Vec<String> = match self.preset {
            Some(p) => p.scope.split_whitespace().map(String::from).collect(),
            None if given.is_empty() && self.protocol == Protocol::Oidc => {
                vec!["openid".into(), "profile".into(), "email".into()]
            }
            None => vec![],
        };
        for s in given {
            if !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let scope = scopes.join(" ");
        if self.protocol == Protocol::Oidc && self.preset.is_none() {
            if !scopes.iter().any(|s| s == "openid") {
                return Err(bad("must contain openid", "scope"));
            }
            if !(6..=255).contains(&scope.len()) {
                return Err(bad("must be 6 to 255 characters", "scope"));
            }
        }
        Ok(scope)
    }

    fn check_endpoints(&self, o: &Map<String, Value>) -> Result<(), InvalidBody> {
        if self.preset.is_some() {
            return Ok(());
        }
        match self.protocol {
            Protocol::Oidc if self.discovery_url.is_none() => {
                let manual = [
                    ("issuer", self.issuer.is_some()),
                    (
                        "authorization_endpoint",
                        self.authorization_endpoint.is_some(),
                    ),
                    ("jwks_uri", self.jwks_uri.is_some()),
                ];
                if let Some((missing, _)) = manual.iter().find(|(_, set)| !set) {
                    return Err(bad(
                        "either discovery_url, or issuer, authorization_endpoint, jwks_uri (and token_endpoint for back_channel) are required",
                        missing,
                    ));
                }
                if self.channel == Channel::Back && self.token_endpoint.is_none() {
                    return Err(bad("required for back_channel", "token_endpoint"));
                }
            }
            Protocol::Oidc => {}
            Protocol::OAuth2 => {
                for (key, set) in [
                    ("authorizationURL", self.authorization_endpoint.is_some()),
                    ("tokenURL", self.token_endpoint.is_some()),
                ] {
                    if !set {
                        return Err(bad("required for oauth2 connections", key));
                    }
                }
                if self.userinfo_endpoint.is_none() {
                    let why = if o.get("scripts").is_some() {
                        "fetchUserProfile scripts are not run yet; give the provider's user-info URL in options.userinfo_endpoint and map it with options.attribute_map"
                    } else {
                        "required for oauth2 connections: the provider's user-info URL, mapped with options.attribute_map"
                    };
                    return Err(bad(why, "userinfo_endpoint"));
                }
            }
        }
        Ok(())
    }

    /// The label of the login button.
    pub fn label<'a>(&self, display_name: Option<&'a str>, name: &'a str) -> String {
        match (display_name, self.preset) {
            (Some(d), _) => d.to_string(),
            (None, Some(p)) => p.label.to_string(),
            (None, None) => name.to_string(),
        }
    }

    /// The user id of a provider's user: `<strategy>|<id>` for social providers; enterprise
    /// and custom OAuth 2.0 connections embed the connection name, as in Auth0.
    pub fn user_id(&self, connection: &str, provider_user_id: &str) -> String {
        format!(
            "{}|{}",
            self.strategy,
            self.identity_user_id(connection, provider_user_id)
        )
    }

    /// `identities[].user_id`: the user id after the provider.
    pub fn identity_user_id(&self, connection: &str, provider_user_id: &str) -> String {
        if self.preset.is_some() {
            provider_user_id.to_string()
        } else {
            format!("{connection}|{provider_user_id}")
        }
    }
}

fn parse_attribute_map(o: &Map<String, Value>) -> Result<AttributeMap, InvalidBody> {
    let default_mode = MappingMode::BindAll;
    let Some(m) = o.get("attribute_map").filter(|v| !v.is_null()) else {
        return Ok(AttributeMap {
            mode: default_mode,
            attributes: Map::new(),
            userinfo_scope: None,
        });
    };
    let Some(m) = m.as_object() else {
        return Err(bad("Expected type object", "attribute_map"));
    };
    let mode = match m.get("mapping_mode").and_then(Value::as_str) {
        None => default_mode,
        Some("bind_all") => MappingMode::BindAll,
        Some("use_map") => MappingMode::UseMap,
        Some(_) => {
            return Err(bad(
                "No enum match (bind_all, use_map)",
                "attribute_map.mapping_mode",
            ));
        }
    };
    let attributes = match m.get("attributes") {
        None | Some(Value::Null) => Map::new(),
        Some(Value::Object(a)) => a.clone(),
        Some(_) => return Err(bad("Expected type object", "attribute_map.attributes")),
    };
    for (key, value) in &attributes {
        if let Some(t) = value.as_str() {
            profile::check_template(t)
                .map_err(|why| bad(why, &format!("attribute_map.attributes.{key}")))?;
        }
    }
    let userinfo_scope = m
        .get("userinfo_scope")
        .and_then(Value::as_str)
        .map(String::from);
    Ok(AttributeMap {
        mode,
        attributes,
        userinfo_scope,
    })
}

fn parse_upstream_params(
    o: &Map<String, Value>,
) -> Result<Vec<(String, UpstreamParam)>, InvalidBody> {
    let Some(p) = o.get("upstream_params").filter(|v| !v.is_null()) else {
        return Ok(vec![]);
    };
    let Some(p) = p.as_object() else {
        return Err(bad("Expected type object", "upstream_params"));
    };
    let mut out = vec![];
    for (name, spec) in p {
        if PROTOCOL_PARAMS.contains(&name.as_str()) {
            return Err(bad(
                format!("{name} is sent by the server itself and cannot be set"),
                "upstream_params",
            ));
        }
        let value = spec.get("value").and_then(Value::as_str);
        let alias = spec.get("alias").and_then(Value::as_str);
        let param = match (value, alias) {
            (Some(v), None) => UpstreamParam::Value(v.to_string()),
            (None, Some(a)) if ALIASABLE.contains(&a) => UpstreamParam::Alias(a.to_string()),
            (None, Some(a)) => {
                return Err(bad(
                    format!(
                        "{a} cannot be forwarded; aliases may name {}",
                        ALIASABLE.join(", ")
                    ),
                    &format!("upstream_params.{name}"),
                ));
            }
            _ => {
                return Err(bad(
                    "expected {\"value\": \"...\"} or {\"alias\": \"...\"}",
                    &format!("upstream_params.{name}"),
                ));
            }
        };
        out.push((name.clone(), param));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(strategy: &str, o: Value) -> Result<UpstreamOptions, String> {
        UpstreamOptions::parse(strategy, o.as_object().unwrap()).map_err(|e| e.message)
    }

    #[test]
    fn provider_urls_must_be_https_except_on_loopback() {
        assert!(check_provider_url("https://idp.example.com/authorize").is_ok());
        assert!(check_provider_url("http://127.0.0.1:9000/authorize").is_ok());
        assert!(check_provider_url("http://127.8.0.1/x").is_ok());
        assert!(check_provider_url("http://[::1]:8080/x").is_ok());
        assert!(check_provider_url("http://localhost:3000/x").is_ok());
        for bad in [
            "http://idp.example.com/authorize",
            "http://10.0.0.1/x",
            "http://localhost.evil.com/x",
            "ftp://idp.example.com/",
            "https://user:pw@idp.example.com/",
            "not a url",
        ] {
            assert!(check_provider_url(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn oidc_needs_discovery_or_manual_endpoints_and_openid_scope() {
        let e = parse("oidc", json!({"client_id": "a"})).unwrap_err();
        assert!(e.contains("discovery_url"), "{e}");
        let ok = parse(
            "oidc",
            json!({"client_id": "a", "client_secret": "s", "discovery_url": "https://idp.example.com/.well-known/openid-configuration"}),
        )
        .unwrap();
        assert_eq!(ok.channel, Channel::Back);
        assert_eq!(ok.scope, "openid profile email");
        let e = parse(
            "oidc",
            json!({"discovery_url": "https://idp.example.com/x", "scope": "profile email"}),
        )
        .unwrap_err();
        assert!(e.contains("openid"), "{e}");
        let front = parse(
            "oidc",
            json!({"discovery_url": "https://idp.example.com/x"}),
        )
        .unwrap();
        assert_eq!(front.channel, Channel::Front);
    }

    #[test]
    fn presets_add_scopes_to_their_own() {
        let g = parse("github", json!({"client_id": "a", "scope": ["repo"]})).unwrap();
        assert_eq!(g.scope, "read:user user:email repo");
        assert_eq!(g.profile, ProfileShape::GitHub);
        assert_eq!(g.user_id("github", "1234"), "github|1234");
        let o = parse(
            "oidc",
            json!({"discovery_url": "https://idp.example.com/x"}),
        )
        .unwrap();
        assert_eq!(o.user_id("acme-sso", "abc"), "oidc|acme-sso|abc");
    }

    #[test]
    fn options_are_checked() {
        let base = |extra: Value| {
            let mut o = json!({"discovery_url": "https://idp.example.com/x"});
            for (k, v) in extra.as_object().unwrap() {
                o[k] = v.clone();
            }
            parse("oidc", o)
        };
        assert!(base(json!({"set_user_root_attributes": "sometimes"})).is_err());
        assert_eq!(
            base(json!({"set_user_root_attributes": "on_first_login"}))
                .unwrap()
                .root_sync,
            RootSync::OnFirstLogin
        );
        assert!(base(json!({"connection_settings": {"pkce": "sha1"}})).is_err());
        assert!(
            base(json!({"upstream_params": {"screen_name": {"alias": "client_secret"}}})).is_err()
        );
        assert_eq!(
            base(json!({"upstream_params": {"hd": {"value": "acme.com"}, "login_hint": {"alias": "login_hint"}}}))
                .unwrap()
                .upstream_params
                .len(),
            2
        );
        let many: Vec<String> = (0..97).map(|i| format!("claim{i}")).collect();
        assert!(base(json!({"non_persistent_attrs": many})).is_err());
        assert!(base(json!({"attribute_map": {"mapping_mode": "use_map", "attributes": {"name": "${context.tokenset.name"}}})).is_err());
        assert!(parse("oauth2", json!({"authorizationURL": "https://p.example/a", "tokenURL": "https://p.example/t"})).unwrap_err().contains("userinfo_endpoint"));
    }
}
