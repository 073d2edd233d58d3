//! APIs (resource servers): what access tokens are issued for, and the scopes they define.

use crate::authorization::TokenDialect;
use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

/// One scope an API defines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ScopeDefinition {
    pub value: String,
    #[serde(default)]
    pub description: String,
}

/// The stored settings of an API, in Auth0's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ResourceServerSettings {
    pub name: String,
    pub identifier: String,
    pub scopes: Vec<ScopeDefinition>,
    pub signing_alg: String,
    pub token_lifetime: i64,
    pub allow_offline_access: bool,
    pub skip_consent_for_verifiable_first_party_clients: bool,
    /// The Management API itself: read-only through the API, as in Auth0.
    #[serde(default)]
    pub is_system: bool,
    /// Role-based access control: a user's access token carries only the requested scopes
    /// the user holds as permissions (directly, through roles or through groups).
    #[serde(default)]
    pub enforce_policies: bool,
    #[serde(default)]
    pub token_dialect: TokenDialect,
}

/// Longest access-token lifetime an API may ask for (30 days, Auth0's ceiling).
const MAX_TOKEN_LIFETIME: i64 = 2_592_000;

/// The `signing_alg` values an API may have.
pub const SIGNING_ALGS: &[&str] = &["RS256", "PS256", "ES256"];

impl ResourceServerSettings {
    pub const PROPERTIES: &'static [&'static str] = &[
        "name",
        "identifier",
        "scopes",
        "signing_alg",
        "token_lifetime",
        "allow_offline_access",
        "skip_consent_for_verifiable_first_party_clients",
        "token_dialect",
        "enforce_policies",
    ];

    /// The Management API as a resource server, with every scope it checks.
    pub fn management_api(identifier: &str, scopes: &[&str]) -> Self {
        Self {
            name: "Gatehouse Management API".into(),
            identifier: identifier.into(),
            scopes: scopes
                .iter()
                .map(|s| ScopeDefinition {
                    value: (*s).into(),
                    description: String::new(),
                })
                .collect(),
            signing_alg: "RS256".into(),
            token_lifetime: 86_400,
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: false,
            is_system: true,
            enforce_policies: false,
            token_dialect: TokenDialect::AccessToken,
        }
    }

    pub fn from_create(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(Self::PROPERTIES)?;
        let identifier = p.required_string("identifier")?;
        if identifier.is_empty()
            || identifier.len() > 600
            || identifier.chars().any(char::is_whitespace)
        {
            return Err(InvalidBody::on_property(
                "identifier must be a non-empty string without spaces",
                "identifier",
            ));
        }
        let mut s = Self {
            name: identifier.clone(),
            identifier,
            scopes: vec![],
            signing_alg: "RS256".into(),
            token_lifetime: 86_400,
            allow_offline_access: false,
            skip_consent_for_verifiable_first_party_clients: true,
            is_system: false,
            enforce_policies: false,
            token_dialect: TokenDialect::AccessToken,
        };
        s.apply(&mut p)?;
        Ok(s)
    }

    /// PATCH: `identifier` cannot change; listed properties are replaced.
    pub fn patch(&mut self, mut p: Payload) -> Result<(), InvalidBody> {
        p.require_some()?;
        p.allow_only(
            &Self::PROPERTIES[..]
                .iter()
                .copied()
                .filter(|k| *k != "identifier")
                .collect::<Vec<_>>(),
        )?;
        self.apply(&mut p)
    }

    fn apply(&mut self, p: &mut Payload) -> Result<(), InvalidBody> {
        if let Some(name) = p.string("name")? {
            if name.trim().is_empty() {
                return Err(InvalidBody::on_property(
                    "String is too short (0 chars), minimum 1",
                    "name",
                ));
            }
            self.name = name;
        }
        if let Some(raw) = p.raw("scopes") {
            let scopes: Vec<ScopeDefinition> = serde_json::from_value(raw).map_err(|_| {
                InvalidBody::on_property(
                    "scopes must be an array of {value, description}",
                    "scopes",
                )
            })?;
            for s in &scopes {
                if s.value.is_empty()
                    || s.value.len() > 280
                    || s.value.chars().any(char::is_whitespace)
                {
                    return Err(InvalidBody::on_property(
                        format!("Invalid scope value: {:?}", s.value),
                        "scopes",
                    ));
                }
            }
            self.scopes = scopes;
        }
        if let Some(alg) = p.string("signing_alg")? {
            // Auth0's RS256 and PS256, and ES256 (a Gatehouse extension: a cheaper
            // signature, docs/signing-keys.md). HS256 needs a signing secret, not offered.
            if !SIGNING_ALGS.contains(&alg.as_str()) {
                return Err(InvalidBody::on_property(
                    format!(
                        "No enum match for: \"{alg}\" (supported: {})",
                        SIGNING_ALGS.join(", ")
                    ),
                    "signing_alg",
                ));
            }
            self.signing_alg = alg;
        }
        if let Some(t) = p.integer("token_lifetime")? {
            if !(1..=MAX_TOKEN_LIFETIME).contains(&t) {
                return Err(InvalidBody::on_property(
                    format!("token_lifetime must be between 1 and {MAX_TOKEN_LIFETIME}"),
                    "token_lifetime",
                ));
            }
            self.token_lifetime = t;
        }
        if let Some(b) = p.bool("allow_offline_access")? {
            self.allow_offline_access = b;
        }
        if let Some(b) = p.bool("skip_consent_for_verifiable_first_party_clients")? {
            self.skip_consent_for_verifiable_first_party_clients = b;
        }
        if let Some(d) = p.string("token_dialect")? {
            self.token_dialect = TokenDialect::parse(&d).ok_or_else(|| {
                InvalidBody::on_property(format!("No enum match for: \"{d}\""), "token_dialect")
            })?;
        }
        if let Some(b) = p.bool("enforce_policies")? {
            self.enforce_policies = b;
        }
        Ok(())
    }

    pub fn defines_scope(&self, scope: &str) -> bool {
        self.scopes.iter().any(|s| s.value == scope)
    }

    pub fn to_json(&self, id: &str) -> Value {
        let mut v = serde_json::to_value(self).unwrap_or_else(|_| json!({}));
        if let Value::Object(m) = &mut v {
            m.insert("id".into(), json!(id));
        }
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn create_and_patch_rules() {
        let p = Payload::from_value(json!({"identifier": "https://api.example", "scopes": [{"value": "read:things", "description": "x"}]})).unwrap();
        let mut rs = ResourceServerSettings::from_create(p).unwrap();
        assert!(rs.defines_scope("read:things"));
        assert_eq!(rs.name, "https://api.example");
        let bad = Payload::from_value(json!({"identifier": "https://api.example"})).unwrap();
        assert!(rs.patch(bad).is_err(), "identifier is immutable");
        let bad = Payload::from_value(json!({"token_lifetime": 0})).unwrap();
        assert!(rs.patch(bad).is_err());
        let bad = Payload::from_value(json!({"scopes": [{"value": "has space"}]})).unwrap();
        assert!(rs.patch(bad).is_err());
        assert!(
            ResourceServerSettings::from_create(Payload::from_value(json!({"name": "x"})).unwrap())
                .is_err()
        );
    }
}
