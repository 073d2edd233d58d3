//! Applications (OAuth clients) as the Management API shows them.

use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

pub const APP_TYPES: &[&str] = &["native", "spa", "regular_web", "non_interactive"];
pub const AUTH_METHODS: &[&str] = &["none", "client_secret_post", "client_secret_basic"];
pub const GRANT_TYPES: &[&str] = &[
    "authorization_code",
    "implicit",
    "refresh_token",
    "client_credentials",
    "password",
    "http://auth0.com/oauth/grant-type/password-realm",
    "http://auth0.com/oauth/grant-type/passwordless/otp",
    "http://auth0.com/oauth/grant-type/mfa-otp",
    "http://auth0.com/oauth/grant-type/mfa-oob",
    "http://auth0.com/oauth/grant-type/mfa-recovery-code",
    "urn:ietf:params:oauth:grant-type:device_code",
];

/// The stored, non-secret settings of a client. The secret is kept apart, encrypted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClientSettings {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logo_uri: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub app_type: Option<String>,
    pub is_first_party: bool,
    pub oidc_conformant: bool,
    pub callbacks: Vec<String>,
    pub allowed_logout_urls: Vec<String>,
    pub allowed_origins: Vec<String>,
    pub web_origins: Vec<String>,
    pub grant_types: Vec<String>,
    pub token_endpoint_auth_method: String,
    pub jwt_configuration: Map<String, Value>,
    pub client_metadata: Map<String, Value>,
    #[serde(default)]
    pub refresh_token: RefreshTokenPolicy,
    /// Gatehouse extension: a role or permission a user must hold to log in here.
    #[serde(
        default,
        skip_serializing_if = "crate::authorization::LoginRequirement::is_empty"
    )]
    pub login_requires: crate::authorization::LoginRequirement,
    /// Auth0's switch for embedded login (`POST /co/authenticate`) from the application's
    /// `allowed_origins`/`web_origins`; off unless turned on.
    #[serde(default)]
    pub cross_origin_authentication: bool,
    /// Auth0's `cross_origin_loc`: the application's page that hands back the `co_verifier`
    /// when the browser kept no cookie from `/co/authenticate`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cross_origin_loc: Option<String>,
}

/// Auth0's `refresh_token` client setting. Gatehouse defaults to rotating, expiring tokens
/// (Auth0 defaults new applications to non-rotating, non-expiring ones): a leaked token is
/// then caught by reuse detection instead of living forever.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RefreshTokenPolicy {
    /// `rotating` or `non-rotating`.
    pub rotation_type: String,
    /// `expiring` or `non-expiring`.
    pub expiration_type: String,
    /// Seconds during which a rotated token may be used again (concurrent tabs) without
    /// counting as reuse.
    pub leeway: i64,
    /// Absolute lifetime, in seconds, counted from the first token of a login.
    pub token_lifetime: i64,
    pub infinite_token_lifetime: bool,
    /// Lifetime of an unused token, in seconds.
    pub idle_token_lifetime: i64,
    pub infinite_idle_token_lifetime: bool,
}

impl Default for RefreshTokenPolicy {
    fn default() -> Self {
        Self {
            rotation_type: "rotating".into(),
            expiration_type: "expiring".into(),
            leeway: 0,
            token_lifetime: 2_592_000,
            infinite_token_lifetime: false,
            idle_token_lifetime: 1_296_000,
            infinite_idle_token_lifetime: false,
        }
    }
}

/// A year: Auth0's longest lifetime for expiring refresh tokens.
const MAX_REFRESH_LIFETIME: i64 = 31_557_600;

impl RefreshTokenPolicy {
    pub fn rotating(&self) -> bool {
        self.rotation_type == "rotating"
    }

    /// Absolute lifetime in milliseconds, `None` for never.
    pub fn lifetime_ms(&self) -> Option<i64> {
        (self.expiration_type == "expiring" && !self.infinite_token_lifetime)
            .then_some(self.token_lifetime * 1000)
    }

    /// Idle lifetime in milliseconds, `None` for never.
    pub fn idle_ms(&self) -> Option<i64> {
        (self.expiration_type == "expiring" && !self.infinite_idle_token_lifetime)
            .then_some(self.idle_token_lifetime * 1000)
    }

    fn patch(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.allow_only(&[
            "rotation_type",
            "expiration_type",
            "leeway",
            "token_lifetime",
            "infinite_token_lifetime",
            "idle_token_lifetime",
            "infinite_idle_token_lifetime",
        ])?;
        if let Some(v) = p.string("rotation_type")? {
            one_of(
                "refresh_token.rotation_type",
                &v,
                &["rotating", "non-rotating"],
            )?;
            self.rotation_type = v;
        }
        if let Some(v) = p.string("expiration_type")? {
            one_of(
                "refresh_token.expiration_type",
                &v,
                &["expiring", "non-expiring"],
            )?;
            self.expiration_type = v;
        }
        for (key, slot, max) in [
            ("leeway", &mut self.leeway, 3600),
            (
                "token_lifetime",
                &mut self.token_lifetime,
                MAX_REFRESH_LIFETIME,
            ),
            (
                "idle_token_lifetime",
                &mut self.idle_token_lifetime,
                MAX_REFRESH_LIFETIME,
            ),
        ] {
            if let Some(v) = p.integer(key)? {
                let min = if key == "leeway" { 0 } else { 1 };
                if !(min..=max).contains(&v) {
                    return Err(InvalidBody::on_property(
                        format!("refresh_token.{key} must be between {min} and {max}"),
                        &format!("refresh_token.{key}"),
                    ));
                }
                *slot = v;
            }
        }
        if let Some(v) = p.bool("infinite_token_lifetime")? {
            self.infinite_token_lifetime = v;
        }
        if let Some(v) = p.bool("infinite_idle_token_lifetime")? {
            self.infinite_idle_token_lifetime = v;
        }
        if self.rotating() && self.expiration_type != "expiring" {
            return Err(InvalidBody::on_property(
                "Rotating refresh tokens must be expiring (expiration_type: expiring)",
                "refresh_token.expiration_type",
            ));
        }
        Ok(())
    }
}

impl ClientSettings {
    /// Auth0's defaults for a client created with only a name.
    pub fn new(name: String) -> Self {
        Self {
            name,
            description: None,
            logo_uri: None,
            app_type: None,
            is_first_party: true,
            oidc_conformant: true,
            callbacks: vec![],
            allowed_logout_urls: vec![],
            allowed_origins: vec![],
            web_origins: vec![],
            grant_types: vec![
                "authorization_code".into(),
                "implicit".into(),
                "refresh_token".into(),
                "client_credentials".into(),
            ],
            token_endpoint_auth_method: "client_secret_post".into(),
            jwt_configuration:
                json!({"alg": "RS256", "lifetime_in_seconds": 36000, "secret_encoded": false})
                    .as_object()
                    .cloned()
                    .unwrap_or_default(),
            client_metadata: Map::new(),
            refresh_token: RefreshTokenPolicy::default(),
            login_requires: Default::default(),
            cross_origin_authentication: false,
            cross_origin_loc: None,
        }
    }

    pub const PROPERTIES: &'static [&'static str] = &[
        "name",
        "description",
        "logo_uri",
        "app_type",
        "is_first_party",
        "oidc_conformant",
        "callbacks",
        "allowed_logout_urls",
        "allowed_origins",
        "web_origins",
        "grant_types",
        "token_endpoint_auth_method",
        "jwt_configuration",
        "client_metadata",
        "refresh_token",
        "login_requires",
        "cross_origin_authentication",
        "cross_origin_loc",
    ];

    /// Validates a create body (`name` required) into fresh settings.
    pub fn from_create(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(Self::PROPERTIES)?;
        let name = p.required_string("name")?;
        let mut s = Self::new(String::new());
        s.apply(&mut p)?;
        s.name = name;
        s.check_name()?;
        Ok(s)
    }

    /// Applies a PATCH body: listed properties are replaced.
    pub fn patch(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.require_some()?;
        p.allow_only(Self::PROPERTIES)?;
        if let Some(name) = p.string("name")? {
            self.name = name;
        }
        self.apply(&mut p)?;
        self.check_name()
    }

    fn check_name(&self) -> Result<(), InvalidBody> {
        if self.name.trim().is_empty() {
            return Err(InvalidBody::on_property(
                "String is too short (0 chars), minimum 1",
                "name",
            ));
        }
        if self.name.chars().any(|c| c == '<' || c == '>') {
            return Err(InvalidBody::on_property(
                "name must not contain < or >",
                "name",
            ));
        }
        Ok(())
    }

    fn apply(&mut self, p: &mut Payload) -> Result<(), InvalidBody> {
        if let Some(v) = p.string("description")? {
            self.description = Some(v);
        }
        if let Some(v) = p.string("logo_uri")? {
            self.logo_uri = Some(v);
        }
        if let Some(v) = p.string("app_type")? {
            one_of("app_type", &v, APP_TYPES)?;
            self.app_type = Some(v);
        }
        if let Some(v) = p.bool("is_first_party")? {
            self.is_first_party = v;
        }
        if let Some(v) = p.bool("oidc_conformant")? {
            self.oidc_conformant = v;
        }
        for (key, slot) in [
            ("callbacks", &mut self.callbacks),
            ("allowed_logout_urls", &mut self.allowed_logout_urls),
            ("allowed_origins", &mut self.allowed_origins),
            ("web_origins", &mut self.web_origins),
        ] {
            if let Some(urls) = p.string_array(key)? {
                let valid = if key.ends_with("origins") {
                    crate::redirect::is_valid_web_origin
                } else {
                    crate::redirect::is_valid_app_url
                };
                for u in &urls {
                    if !valid(u) {
                        return Err(InvalidBody::on_property(
                            format!(
                                "Object didn't pass validation for format absolute-uri-or-empty: {u}"
                            ),
                            key,
                        ));
                    }
                }
                *slot = urls;
            }
        }
        if let Some(grants) = p.string_array("grant_types")? {
            for g in &grants {
                one_of("grant_types", g, GRANT_TYPES)?;
            }
            self.grant_types = grants;
        }
        if let Some(m) = p.string("token_endpoint_auth_method")? {
            one_of("token_endpoint_auth_method", &m, AUTH_METHODS)?;
            self.token_endpoint_auth_method = m;
        }
        if let Some(jwt) = p.object("jwt_configuration")? {
            let mut jp = Payload::from_value(Value::Object(jwt))?;
            jp.allow_only(&["alg", "lifetime_in_seconds", "secret_encoded", "scopes"])?;
            let mut cfg = self.jwt_configuration.clone();
            if let Some(alg) = jp.string("alg")? {
                one_of("jwt_configuration.alg", &alg, &["RS256", "HS256", "PS256"])?;
                cfg.insert("alg".into(), json!(alg));
            }
            if let Some(l) = jp.integer("lifetime_in_seconds")? {
                if !(1..=2_592_000).contains(&l) {
                    return Err(InvalidBody::on_property(
                        "lifetime_in_seconds must be between 1 and 2592000",
                        "jwt_configuration.lifetime_in_seconds",
                    ));
                }
                cfg.insert("lifetime_in_seconds".into(), json!(l));
            }
            if let Some(b) = jp.bool("secret_encoded")? {
                cfg.insert("secret_encoded".into(), json!(b));
            }
            if let Some(s) = jp.object("scopes")? {
                cfg.insert("scopes".into(), Value::Object(s));
            }
            self.jwt_configuration = cfg;
        }
        if let Some(m) = p.object("client_metadata")? {
            if let Some((k, _)) = m.iter().find(|(_, v)| !v.is_string()) {
                return Err(InvalidBody::on_property(
                    format!("client_metadata.{k} must be a string"),
                    "client_metadata",
                ));
            }
            self.client_metadata = m;
        }
        if let Some(r) = p.object("refresh_token")? {
            self.refresh_token
                .patch(Payload::from_value(Value::Object(r))?)?;
        }
        if let Some(raw) = p.raw("login_requires") {
            self.login_requires = crate::authorization::LoginRequirement::from_value(raw)?;
        }
        if let Some(b) = p.bool("cross_origin_authentication")? {
            self.cross_origin_authentication = b;
        }
        if let Some(loc) = p.string("cross_origin_loc")? {
            if !loc.is_empty() && crate::redirect::web_origin(&loc).is_none() {
                return Err(InvalidBody::on_property(
                    format!(
                        "Object didn't pass validation for format absolute-uri-or-empty: {loc}"
                    ),
                    "cross_origin_loc",
                ));
            }
            self.cross_origin_loc = Some(loc).filter(|l| !l.is_empty());
        }
        Ok(())
    }

    /// Whether a browser page at `origin` (an `Origin` header) may call this application's
    /// endpoints: listed in its `allowed_origins` or `web_origins` (wildcard subdomains as
    /// for callbacks).
    pub fn allows_origin(&self, origin: &str) -> bool {
        crate::redirect::is_allowed(origin, &self.allowed_origins)
            || crate::redirect::is_allowed(origin, &self.web_origins)
    }

    /// Whether the page at `origin` may frame this application's silent-authentication
    /// answer and receive its `web_message`: listed in `web_origins` only, as in Auth0.
    pub fn allows_web_message(&self, origin: &str) -> bool {
        crate::redirect::is_allowed(origin, &self.web_origins)
    }

    pub fn allows_grant(&self, grant: &str) -> bool {
        self.grant_types.iter().any(|g| g == grant)
    }

    /// `jwt_configuration.lifetime_in_seconds`: how long the client's ID tokens last
    /// (Auth0's default, 36,000 seconds, when unset).
    pub fn id_token_lifetime(&self) -> i64 {
        self.jwt_configuration
            .get("lifetime_in_seconds")
            .and_then(Value::as_i64)
            .unwrap_or(36_000)
    }
}

fn one_of(field: &str, value: &str, allowed: &[&str]) -> Result<(), InvalidBody> {
    if allowed.contains(&value) {
        Ok(())
    } else {
        Err(InvalidBody::on_property(
            format!("No enum match for: \"{value}\""),
            field,
        ))
    }
}

/// The client as returned by the Management API. `secret` is shown only to callers allowed
/// to read client keys, as in Auth0.
pub fn client_json(
    client_id: &str,
    tenant: &str,
    s: &ClientSettings,
    secret: Option<&str>,
) -> Value {
    let mut v = serde_json::to_value(s).unwrap_or_else(|_| json!({}));
    if let Value::Object(m) = &mut v {
        m.insert("client_id".into(), json!(client_id));
        m.insert("tenant".into(), json!(tenant));
        m.insert("global".into(), json!(false));
        if let Some(secret) = secret {
            m.insert("client_secret".into(), json!(secret));
        }
    }
    v
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_requires_name_and_validates_enums() {
        assert!(ClientSettings::from_create(Payload::from_value(json!({})).unwrap()).is_err());
        let bad = Payload::from_value(json!({"name": "a", "app_type": "desktop"})).unwrap();
        assert!(
            ClientSettings::from_create(bad)
                .unwrap_err()
                .message
                .contains("app_type")
        );
        let ok = Payload::from_value(
            json!({"name": "a", "app_type": "spa", "callbacks": ["https://x/cb"]}),
        )
        .unwrap();
        let s = ClientSettings::from_create(ok).unwrap();
        assert_eq!(s.callbacks, vec!["https://x/cb".to_string()]);
    }

    #[test]
    fn refresh_token_policy_is_validated() {
        let mut s = ClientSettings::new("a".into());
        assert!(s.refresh_token.rotating());
        assert_eq!(s.refresh_token.lifetime_ms(), Some(2_592_000_000));
        s.patch(Payload::from_value(json!({"refresh_token": {"rotation_type": "non-rotating", "expiration_type": "non-expiring"}})).unwrap())
            .unwrap();
        assert!(!s.refresh_token.rotating());
        assert_eq!(s.refresh_token.lifetime_ms(), None);
        for bad in [
            json!({"refresh_token": {"rotation_type": "sometimes"}}),
            json!({"refresh_token": {"rotation_type": "rotating", "expiration_type": "non-expiring"}}),
            json!({"refresh_token": {"leeway": -1}}),
            json!({"refresh_token": {"token_lifetime": 0}}),
            json!({"refresh_token": {"colour": "red"}}),
        ] {
            let mut c = ClientSettings::new("a".into());
            assert!(
                c.patch(Payload::from_value(bad.clone()).unwrap()).is_err(),
                "{bad}"
            );
        }
    }

    #[test]
    fn id_tokens_last_what_jwt_configuration_says() {
        let mut s = ClientSettings::new("a".into());
        assert_eq!(s.id_token_lifetime(), 36_000);
        s.patch(
            Payload::from_value(json!({"jwt_configuration": {"lifetime_in_seconds": 600}}))
                .unwrap(),
        )
        .unwrap();
        assert_eq!(s.id_token_lifetime(), 600);
    }
}
