//! Dashboard SAML connections (`strategy: "samlp"`): the card that connects an identity
//! provider from the connections list (its metadata URL or XML, or its sign-on URL and
//! certificate), the connection's settings form, what the IdP's administrator needs from
//! Gatehouse (entity id, assertion consumer URL, the SP metadata's address), and "Test
//! connection", which reads the saved settings and fetches the metadata again.
//!
//! Options the form does not show (`fieldsMap`, `idpinitiated`, `set_user_root_attributes`,
//! `non_persistent_attrs`…) are kept as they are on a save.

use super::format::seg;
use super::param;
use crate::templates::{Markup, check, csrf_input, html, options};
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::payload::Payload;
use gatehouse_core::saml::SAML_STRATEGY;
use gatehouse_service::saml::SamlProbe;
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
const POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
const BINDINGS: &[(&str, &str)] = &[
    (REDIRECT, "HTTP-Redirect (the request in the URL)"),
    (POST, "HTTP-POST (the request in a posted form)"),
];

/// The form's fields, as stored or as typed.
#[derive(Default)]
pub(super) struct SamlFields {
    name: String,
    metadata_url: String,
    /// Pasted metadata: read into the sign-on URL and certificate when saved, not kept.
    metadata_xml: String,
    sign_in_endpoint: String,
    signing_cert: String,
    binding: String,
    sign_request: bool,
    domain_aliases: String,
    user_id_attribute: String,
    debug: bool,
}

fn text(o: &Map<String, Value>, key: &str) -> String {
    o.get(key).and_then(Value::as_str).unwrap_or("").to_string()
}

fn on(o: &Map<String, Value>, key: &str) -> bool {
    o.get(key).and_then(Value::as_bool) == Some(true)
}

impl SamlFields {
    pub(super) fn stored(c: &ConnectionSettings) -> Self {
        let o = &c.options;
        Self {
            name: c.name.clone(),
            metadata_url: text(o, "metadataUrl"),
            metadata_xml: String::new(),
            sign_in_endpoint: text(o, "signInEndpoint"),
            signing_cert: text(o, "signingCert"),
            binding: match text(o, "protocolBinding").as_str() {
                "" => REDIRECT.into(),
                b => b.into(),
            },
            sign_request: on(o, "signSAMLRequest"),
            domain_aliases: o
                .get("domain_aliases")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .collect::<Vec<_>>()
                        .join(", ")
                })
                .unwrap_or_default(),
            user_id_attribute: text(o, "user_id_attribute"),
            debug: on(o, "debug"),
        }
    }

    pub(super) fn posted(f: &HashMap<String, String>) -> Self {
        let on = |k: &str| !param(f, k).is_empty();
        Self {
            name: param(f, "name").trim().to_string(),
            metadata_url: param(f, "metadataUrl").trim().to_string(),
            metadata_xml: param(f, "metadataXml").trim().to_string(),
            sign_in_endpoint: param(f, "signInEndpoint").trim().to_string(),
            signing_cert: param(f, "signingCert").trim().to_string(),
            binding: param(f, "protocolBinding").to_string(),
            sign_request: on("signSAMLRequest"),
            domain_aliases: param(f, "domain_aliases").to_string(),
            user_id_attribute: param(f, "user_id_attribute").trim().to_string(),
            debug: on("debug"),
        }
    }

    /// The options: the stored ones with the form's written over them.
    fn options(&self, stored: &Map<String, Value>) -> Map<String, Value> {
        let mut o = stored.clone();
        let mut put = |k: &str, v: &str| {
            if v.is_empty() {
                o.remove(k);
            } else {
                o.insert(k.into(), json!(v));
            }
        };
        put("metadataUrl", &self.metadata_url);
        put("metadataXml", &self.metadata_xml);
        put("signInEndpoint", &self.sign_in_endpoint);
        put("signingCert", &self.signing_cert);
        put("protocolBinding", &self.binding);
        put("user_id_attribute", &self.user_id_attribute);
        o.insert("signSAMLRequest".into(), json!(self.sign_request));
        o.insert("debug".into(), json!(self.debug));
        let aliases: Vec<&str> = self
            .domain_aliases
            .split([',', ' ', '\n'])
            .map(str::trim)
            .filter(|a| !a.is_empty())
            .collect();
        o.insert("domain_aliases".into(), json!(aliases));
        o
    }
}

fn fields(f: &SamlFields) -> Markup {
    html! {
        p.muted { "Give the identity provider's metadata (its URL, or the XML pasted), or its sign-on URL and signing certificate." }
        label for="metadataUrl" { "Metadata URL" }
        input #metadataUrl name="metadataUrl" type="url" value=(f.metadata_url) spellcheck="false"
            placeholder="https://idp.example.com/app/abc123/sso/saml/metadata";
        label for="metadataXml" { "Metadata XML (read when saved)" }
        textarea #metadataXml name="metadataXml" rows="3" spellcheck="false" { (f.metadata_xml) }
        div.row {
            div {
                label for="signInEndpoint" { "Sign-on URL" }
                input #signInEndpoint name="signInEndpoint" type="url" value=(f.sign_in_endpoint) spellcheck="false";
            }
            div {
                label for="protocolBinding" { "Request binding" }
                select #protocolBinding name="protocolBinding" {
                    (options(BINDINGS.iter().map(|(v, l)| (Some(*v), *l)), &f.binding))
                }
            }
        }
        label for="signingCert" { "Signing certificate (PEM or base64)" }
        textarea #signingCert name="signingCert" rows="3" spellcheck="false" { (f.signing_cert) }
        div.row {
            div {
                label for="domain_aliases" { "Email domains (home-realm discovery; comma-separated)" }
                input #domain_aliases name="domain_aliases" type="text" value=(f.domain_aliases) spellcheck="false"
                    placeholder="example.com, example.org";
            }
            div {
                label for="user_id_attribute" { "User id attribute (optional; NameID otherwise)" }
                input #user_id_attribute name="user_id_attribute" type="text" value=(f.user_id_attribute) spellcheck="false";
            }
        }
        (check("signSAMLRequest", None, f.sign_request, html! { "Sign requests (HTTP-Redirect binding, RSA-SHA256, the tenant's signing key)" }))
        (check("debug", None, f.debug, html! { "Log why a Response was refused" }))
    }
}

/// The connections list's card that connects a SAML identity provider.
pub(super) fn create_card(csrf: &str, typed: Option<SamlFields>, error: Option<&str>) -> Markup {
    let f = typed.unwrap_or(SamlFields {
        binding: REDIRECT.into(),
        ..SamlFields::default()
    });
    html! {
        section.card #saml {
            h2 { "Connect a SAML identity provider" }
            p.muted { "Okta, Microsoft Entra ID (Azure AD), Keycloak, ADFS, Google Workspace…: users sign in there." }
            @if let Some(e) = error { p.error #saml-error role="alert" { (e) } }
            form method="post" action="/admin/connections#saml" {
                (csrf_input(csrf))
                input type="hidden" name="strategy" value=(SAML_STRATEGY);
                label for="saml-name" { "Name" }
                input #saml-name name="name" type="text" required value=(f.name);
                (fields(&f))
                button type="submit" { "Create" }
            }
        }
    }
}

pub(super) fn create_settings(
    f: &HashMap<String, String>,
) -> Result<ConnectionSettings, ServiceError> {
    let typed = SamlFields::posted(f);
    let body = json!({
        "name": typed.name,
        "strategy": SAML_STRATEGY,
        "options": typed.options(&Map::new()),
    });
    Ok(ConnectionSettings::from_create(Payload::from_value(body)?)?)
}

pub(super) fn updated_options(
    stored: &ConnectionSettings,
    f: &HashMap<String, String>,
) -> Map<String, Value> {
    SamlFields::posted(f).options(&stored.options)
}

/// The connection page's cards: what the IdP needs from Gatehouse, the settings, and
/// "Test connection" with its outcome.
pub(super) fn settings_card(
    g: &Gatehouse,
    id: &str,
    c: &ConnectionSettings,
    csrf: &str,
    typed: Option<SamlFields>,
    probe: Option<&SamlProbe>,
) -> Markup {
    let f = typed.unwrap_or_else(|| SamlFields::stored(c));
    let base = format!("/admin/connections/{}", seg(id));
    let metadata = format!(
        "{}/samlp/metadata?connection={}",
        g.config().public_url,
        c.name
    );
    html! {
        section.card #saml-sp {
            h2 { "For the identity provider" }
            p.muted { "Give these to the IdP's administrator, or the metadata's address." }
            dl {
                dt { "Entity ID (audience)" } dd { code { (g.saml_entity_id(&c.name)) } }
                dt { "Assertion consumer (reply) URL" } dd { code { (g.saml_acs_url(&c.name)) } }
                dt { "Metadata" } dd { a href=(metadata) { (metadata) } }
            }
        }
        section.card #saml {
            h2 { "Identity provider" }
            form method="post" action=(base) {
                (csrf_input(csrf))
                (fields(&f))
                button type="submit" { "Save" }
            }
            h3 { "Test connection" }
            form method="post" action={ (base) "/test-saml#saml" } {
                (csrf_input(csrf))
                button.secondary type="submit" { "Test connection" }
                span.muted { " Reads the saved settings and fetches the metadata again." }
            }
            @if let Some(p) = probe {
                @match &p.outcome {
                    Ok(found) => div.notice #saml-test role="status" {
                        p { "The settings can be used." }
                        dl { @for (k, v) in found { dt { (k) } dd { (v) } } }
                    },
                    Err(why) => p.error #saml-test role="alert" {
                        "The identity provider's settings cannot be used: " (why)
                    },
                }
            }
        }
    }
}
