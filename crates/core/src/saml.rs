//! SAML connections' settings (`strategy: "samlp"`) as Auth0 names them, and how a signed
//! assertion's subject and attributes become the normalized profile: `fieldsMap` merged over
//! the defaults (the WS-Federation claim names Auth0's connector reads, plus the plain and
//! Azure AD names IdPs commonly send), every other attribute at the root under its own name,
//! `groups` always a list. What needs XML or certificates is in `gatehouse_saml`.

use crate::payload::InvalidBody;
use crate::upstream::profile::UpstreamProfile;
use crate::upstream::{RootSync, bad, check_provider_url, deny_list, opt_string, string_list};
use serde_json::{Map, Value};
use std::collections::BTreeMap;

pub const SAML_STRATEGY: &str = "samlp";

const CLAIMS: &str = "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/";
/// The attribute the assertion's `NameID` is read as, as Auth0's connector names it.
pub const NAME_IDENTIFIER: &str =
    "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/nameidentifier";
const MAX_FIELDS: usize = 44;

/// `options.protocolBinding`: how the AuthnRequest goes to the IdP.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RequestBinding {
    Redirect,
    Post,
}

/// `options.idpinitiated`: logins the identity provider starts, off unless enabled, landing
/// in one application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IdpInitiated {
    pub client_id: String,
    /// Extra `/authorize` parameters for that application (`response_type=code&scope=…`).
    pub client_authorizequery: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct SamlOptions {
    /// The IdP's single sign-on URL (filled from metadata when given).
    pub sign_in_endpoint: Option<String>,
    /// The IdP's signing certificate, PEM or base64 DER (filled from metadata when given).
    pub signing_cert: Option<String>,
    pub metadata_url: Option<String>,
    pub metadata_xml: Option<String>,
    /// The IdP's single logout URL (`signOutEndpoint`; the sign-on URL when absent), used by
    /// a `federated` logout unless `disableSignout`.
    pub sign_out_endpoint: Option<String>,
    /// The IdP's entity id (`issuer`, filled from its metadata): assertions must name it.
    pub issuer: Option<String>,
    pub disable_signout: bool,
    pub sign_request: bool,
    pub binding: RequestBinding,
    /// Profile field → attribute names tried in order.
    pub fields_map: BTreeMap<String, Vec<String>>,
    pub user_id_attribute: Option<String>,
    pub domain_aliases: Vec<String>,
    pub debug: bool,
    pub idp_initiated: Option<IdpInitiated>,
    pub root_sync: RootSync,
    pub non_persistent_attrs: Vec<String>,
}

fn flag(o: &Map<String, Value>, key: &str) -> Result<bool, InvalidBody> {
    match o.get(key) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(_) => Err(bad("Expected type boolean", key)),
    }
}

fn defaults() -> BTreeMap<String, Vec<String>> {
    let claim = |c: &str| format!("{CLAIMS}{c}");
    let mut m = BTreeMap::new();
    m.insert(
        "email".into(),
        vec![claim("emailaddress"), "email".into(), "mail".into()],
    );
    m.insert(
        "name".into(),
        vec![claim("name"), "name".into(), "displayName".into()],
    );
    m.insert(
        "given_name".into(),
        vec![claim("givenname"), "given_name".into(), "firstName".into()],
    );
    m.insert(
        "family_name".into(),
        vec![claim("surname"), "family_name".into(), "lastName".into()],
    );
    m.insert(
        "groups".into(),
        vec![
            "http://schemas.xmlsoap.org/claims/Group".into(),
            "http://schemas.microsoft.com/ws/2008/06/identity/claims/groups".into(),
            "groups".into(),
        ],
    );
    m
}

impl SamlOptions {
    pub fn parse(o: &Map<String, Value>) -> Result<Self, InvalidBody> {
        let url = |key: &str| -> Result<Option<String>, InvalidBody> {
            let Some(u) = opt_string(o, key)? else {
                return Ok(None);
            };
            check_provider_url(&u).map_err(|why| bad(why, key))?;
            Ok(Some(u))
        };
        let sign_in_endpoint = url("signInEndpoint")?;
        let sign_out_endpoint = url("signOutEndpoint")?;
        let metadata_url = url("metadataUrl")?;
        let metadata_xml = opt_string(o, "metadataXml")?;
        let signing_cert = opt_string(o, "signingCert")?;
        if metadata_url.is_none()
            && metadata_xml.is_none()
            && (sign_in_endpoint.is_none() || signing_cert.is_none())
        {
            return Err(bad(
                "A SAML connection needs the IdP's metadata (metadataUrl or metadataXml), or its signInEndpoint and signingCert",
                "signInEndpoint",
            ));
        }
        let binding = match opt_string(o, "protocolBinding")?.as_deref() {
            None | Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect") => {
                RequestBinding::Redirect
            }
            Some("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST") => RequestBinding::Post,
            Some(_) => {
                return Err(bad(
                    "No enum match (urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect, urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST)",
                    "protocolBinding",
                ));
            }
        };
        let sign_request = flag(o, "signSAMLRequest")?;
        if sign_request && binding == RequestBinding::Post {
            return Err(bad(
                "Gatehouse signs requests of the HTTP-Redirect binding only; use it, or turn signSAMLRequest off",
                "signSAMLRequest",
            ));
        }
        match opt_string(o, "signatureAlgorithm")?.as_deref() {
            None | Some("rsa-sha256") => {}
            Some(_) => {
                return Err(bad(
                    "Gatehouse signs requests with rsa-sha256 only",
                    "signatureAlgorithm",
                ));
            }
        }
        match opt_string(o, "digestAlgorithm")?.as_deref() {
            None | Some("sha256") => {}
            Some(_) => return Err(bad("Gatehouse uses sha256 only", "digestAlgorithm")),
        }
        let mut fields_map = defaults();
        match o.get("fieldsMap") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) if m.len() <= MAX_FIELDS => {
                for (field, names) in m {
                    let names: Vec<String> = match names {
                        Value::String(s) => vec![s.clone()],
                        Value::Array(a) if a.len() <= 4 => a
                            .iter()
                            .map(|v| v.as_str().map(String::from))
                            .collect::<Option<_>>()
                            .ok_or_else(|| bad("Expected strings", "fieldsMap"))?,
                        _ => {
                            return Err(bad(
                                "Each field maps to an attribute name or a list of up to 4",
                                "fieldsMap",
                            ));
                        }
                    };
                    if names.iter().any(|n| n.is_empty() || n.len() > 2048) {
                        return Err(bad(
                            "Attribute names have 1 to 2048 characters",
                            "fieldsMap",
                        ));
                    }
                    fields_map.insert(field.clone(), names);
                }
            }
            Some(_) => {
                return Err(bad(
                    format!("An object of at most {MAX_FIELDS} fields"),
                    "fieldsMap",
                ));
            }
        }
        let idp_initiated = match o.get("idpinitiated") {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                if flag(m, "enabled")? {
                    let client_id = opt_string(m, "client_id")?.ok_or_else(|| {
                        bad(
                            "IdP-initiated login needs the client_id of the application it lands in",
                            "idpinitiated.client_id",
                        )
                    })?;
                    Some(IdpInitiated {
                        client_id,
                        client_authorizequery: opt_string(m, "client_authorizequery")?,
                    })
                } else {
                    None
                }
            }
            Some(_) => return Err(bad("Expected type object", "idpinitiated")),
        };
        Ok(Self {
            sign_in_endpoint,
            signing_cert,
            metadata_url,
            metadata_xml,
            sign_out_endpoint,
            issuer: opt_string(o, "issuer")?,
            disable_signout: flag(o, "disableSignout")?,
            sign_request,
            binding,
            fields_map,
            user_id_attribute: opt_string(o, "user_id_attribute")?,
            domain_aliases: string_list(o, "domain_aliases")?,
            debug: flag(o, "debug")?,
            idp_initiated,
            root_sync: RootSync::of_options(o)?,
            non_persistent_attrs: deny_list(o)?,
        })
    }

    /// Where a `federated` logout sends the user, unless sign-out is off.
    pub fn logout_url(&self) -> Option<&str> {
        if self.disable_signout {
            return None;
        }
        self.sign_out_endpoint
            .as_deref()
            .or(self.sign_in_endpoint.as_deref())
    }

    /// `identities[].user_id`: the connection's name and the IdP's id for the user.
    pub fn identity_user_id(connection: &str, id: &str) -> String {
        format!("{connection}|{id}")
    }

    /// The profile of a signed assertion: `NameID` is read as the `nameidentifier` claim;
    /// the user id is `user_id_attribute`, else `nameidentifier`, `upn` or `name`.
    pub fn profile_of(
        &self,
        name_id: &str,
        attributes: &BTreeMap<String, Vec<String>>,
    ) -> Option<UpstreamProfile> {
        let mut attrs = attributes.clone();
        if !name_id.is_empty() {
            attrs
                .entry(NAME_IDENTIFIER.to_string())
                .or_insert_with(|| vec![name_id.to_string()]);
        }
        let first = |names: &[String]| -> Option<String> {
            names
                .iter()
                .find_map(|n| {
                    attrs
                        .get(n)
                        .and_then(|v| v.first())
                        .filter(|v| !v.is_empty())
                })
                .cloned()
        };
        let id_names: Vec<String> = match &self.user_id_attribute {
            Some(a) => vec![a.clone()],
            None => vec![
                NAME_IDENTIFIER.to_string(),
                format!("{CLAIMS}upn"),
                format!("{CLAIMS}name"),
            ],
        };
        let id = first(&id_names)?;
        // The names the id was looked for under are on `user_id`, not repeated at the root.
        let mut mapped_names: Vec<&String> = id_names.iter().collect();
        let mut field = |key: &str| -> Option<String> {
            let names = self.fields_map.get(key)?;
            mapped_names.extend(names.iter());
            first(names)
        };
        let email = field("email");
        let name = field("name");
        let given_name = field("given_name");
        let family_name = field("family_name");
        let picture = field("picture");
        let mut other = Map::new();
        for (key, names) in &self.fields_map {
            if matches!(
                key.as_str(),
                "email" | "name" | "given_name" | "family_name" | "picture"
            ) {
                continue;
            }
            let values: Vec<String> = names
                .iter()
                .filter_map(|n| attrs.get(n))
                .flatten()
                .cloned()
                .collect();
            mapped_names.extend(names.iter());
            if key == "groups" {
                other.insert(
                    key.clone(),
                    Value::Array(values.into_iter().map(Value::String).collect()),
                );
            } else if let Some(v) = one_or_many(values) {
                other.insert(key.clone(), v);
            }
        }
        // Unmapped attributes stay at the root under their own names.
        for (name, values) in &attrs {
            if mapped_names.contains(&name) || other.contains_key(name) {
                continue;
            }
            if let Some(v) = one_or_many(values.clone()) {
                other.insert(name.clone(), v);
            }
        }
        let nickname = email
            .as_deref()
            .and_then(|e| e.split('@').next())
            .map(str::to_string);
        Some(UpstreamProfile {
            id,
            email,
            email_verified: false,
            name,
            nickname,
            given_name,
            family_name,
            picture,
            other,
        })
    }
}

fn one_or_many(mut values: Vec<String>) -> Option<Value> {
    match values.len() {
        0 => None,
        1 => values.pop().map(Value::String),
        _ => Some(Value::Array(
            values.into_iter().map(Value::String).collect(),
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn options(extra: Value) -> SamlOptions {
        let mut o = json!({
            "signInEndpoint": "https://idp.example.com/sso",
            "signingCert": "MIIB",
        });
        if let (Some(m), Value::Object(e)) = (o.as_object_mut(), extra) {
            m.extend(e);
        }
        SamlOptions::parse(o.as_object().unwrap()).unwrap()
    }

    fn attrs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.iter().map(|s| s.to_string()).collect()))
            .collect()
    }

    #[test]
    fn the_default_mapping_reads_ws_federation_claims_and_keeps_the_rest_at_the_root() {
        let a = attrs(&[
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/emailaddress",
                &["zoë@example.com"],
            ),
            (
                "http://schemas.xmlsoap.org/ws/2005/05/identity/claims/givenname",
                &["Zoë"],
            ),
            (
                "http://schemas.xmlsoap.org/claims/Group",
                &["Engineering", "All Hands"],
            ),
            ("department", &["R&D"]),
        ]);
        let p = options(json!({})).profile_of("zoe-1842", &a).unwrap();
        assert_eq!(p.id, "zoe-1842");
        assert_eq!(p.email.as_deref(), Some("zoë@example.com"));
        assert_eq!(p.nickname.as_deref(), Some("zoë"));
        assert_eq!(p.given_name.as_deref(), Some("Zoë"));
        assert_eq!(p.other["groups"], json!(["Engineering", "All Hands"]));
        assert_eq!(p.other["department"], json!("R&D"));
        assert!(
            !p.other
                .contains_key("http://schemas.xmlsoap.org/claims/Group")
        );
        assert!(!p.other.contains_key(NAME_IDENTIFIER));
    }

    #[test]
    fn fields_map_and_user_id_attribute_override_the_defaults() {
        let a = attrs(&[
            ("mail", &["a@example.com"]),
            ("employeeNumber", &["E-77"]),
            ("roles", &["admin"]),
        ]);
        let o = options(
            json!({"fieldsMap": {"email": "mail", "groups": ["roles"]}, "user_id_attribute": "employeeNumber"}),
        );
        let p = o.profile_of("ignored", &a).unwrap();
        assert_eq!(p.id, "E-77");
        assert_eq!(p.email.as_deref(), Some("a@example.com"));
        assert_eq!(p.other["groups"], json!(["admin"]));
        // No id at all: no profile.
        assert!(o.profile_of("", &attrs(&[])).is_none());
    }

    #[test]
    fn bad_options_are_refused_with_the_property_named() {
        let bad = |v: Value| SamlOptions::parse(v.as_object().unwrap()).unwrap_err();
        assert!(format!("{:?}", bad(json!({}))).contains("signInEndpoint"));
        let base = json!({"signInEndpoint": "https://idp.example.com/sso", "signingCert": "MIIB"});
        let with = |k: &str, v: Value| {
            let mut o = base.clone();
            o[k] = v;
            o
        };
        assert!(
            format!("{:?}", bad(with("protocolBinding", json!("SOAP"))))
                .contains("protocolBinding")
        );
        assert!(
            format!(
                "{:?}",
                bad(with("signInEndpoint", json!("http://idp.example.com/sso")))
            )
            .contains("signInEndpoint")
        );
        assert!(format!("{:?}", bad(with("fieldsMap", json!({"email": 3})))).contains("fieldsMap"));
        assert!(
            format!("{:?}", bad(with("idpinitiated", json!({"enabled": true}))))
                .contains("client_id")
        );
        let mut post_signed = with(
            "protocolBinding",
            json!("urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST"),
        );
        post_signed["signSAMLRequest"] = json!(true);
        assert!(format!("{:?}", bad(post_signed)).contains("signSAMLRequest"));
    }
}
