//! SAML connections' settings on the service side: the IdP's metadata (pasted or fetched
//! from its URL) read into the connection's `signInEndpoint` and `signingCert` when the
//! connection is saved, the service provider's own names (entity id, assertion consumer,
//! metadata document), and the dashboard's "Test connection". The login itself is
//! `browser::saml`.

use crate::{Gatehouse, Result, ServiceError};
use base64::Engine;
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::payload::InvalidBody;
use gatehouse_core::saml::{RequestBinding, SamlOptions};
use gatehouse_saml::{IdpMetadata, certificate_der};
use gatehouse_store::StoredConnection;
use serde_json::Value;

/// Metadata documents larger than this are refused.
const MAX_METADATA_BYTES: usize = 512 * 1024;

/// What a login at a SAML connection needs, read from its saved options.
pub(crate) struct SamlSettings {
    pub options: SamlOptions,
    pub sso_url: String,
    pub certificates: Vec<Vec<u8>>,
}

fn invalid(what: impl AsRef<str>, key: &str) -> ServiceError {
    InvalidBody::on_property(what, &format!("options.{key}")).into()
}

/// What the dashboard's "Test connection" found.
#[derive(Debug, Clone)]
pub struct SamlProbe {
    /// The IdP's entity id, sign-on URL and certificate subject, or why they could not be read.
    pub outcome: std::result::Result<Vec<(String, String)>, String>,
}

impl Gatehouse {
    /// This connection's entity id, as Auth0 names it: the audience assertions must carry.
    pub fn saml_entity_id(&self, connection: &str) -> String {
        format!("urn:auth0:{}:{connection}", self.tenant())
    }

    /// Where the IdP answers a logout request (Auth0's path).
    pub fn saml_logout_url(&self) -> String {
        format!("{}/logout", self.config().public_url)
    }

    /// Where the IdP posts its Response (Auth0's path).
    pub fn saml_acs_url(&self, connection: &str) -> String {
        format!("{}?connection={connection}", self.upstream_callback_url())
    }

    /// The current RSA signing key's certificate (DER): what signs AuthnRequests.
    pub(crate) fn request_signing_certificate(&self) -> Option<Vec<u8>> {
        let ring = self.keyring();
        let kid = gatehouse_crypto::keys::Signer::kid(ring.current()).to_string();
        let jwks = ring.jwks();
        let x5c = jwks
            .get("keys")?
            .as_array()?
            .iter()
            .find(|k| k.get("kid").and_then(Value::as_str) == Some(kid.as_str()))?
            .get("x5c")?
            .get(0)?
            .as_str()?
            .to_string();
        base64::engine::general_purpose::STANDARD.decode(x5c).ok()
    }

    /// `GET /samlp/metadata?connection=NAME`: the SP metadata to upload to the IdP.
    pub async fn saml_sp_metadata(&self, connection: &str) -> Result<String> {
        let c = self
            .connection_by_name(connection)
            .await?
            .filter(|c| c.settings.is_saml())
            .ok_or_else(|| ServiceError::NotFound {
                code: "inexistent_connection",
                message: format!("There is no SAML connection named {connection}"),
            })?;
        let signs = c.settings.saml_options().is_ok_and(|o| o.sign_request);
        let cert = if signs {
            self.request_signing_certificate()
        } else {
            None
        };
        Ok(gatehouse_saml::sp_metadata(
            &self.saml_entity_id(connection),
            &self.saml_acs_url(connection),
            &self.saml_logout_url(),
            cert.as_deref(),
        ))
    }

    async fn fetch_metadata(&self, url: &str) -> std::result::Result<String, String> {
        let resp = self
            .inner
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("the metadata at {url} could not be fetched: {e}"))?;
        if !resp.status().is_success() {
            return Err(format!(
                "the metadata at {url} answered HTTP {}",
                resp.status().as_u16()
            ));
        }
        // A declared length over the bound is refused before anything is read.
        if resp
            .content_length()
            .is_some_and(|n| n > MAX_METADATA_BYTES as u64)
        {
            return Err(format!("the metadata at {url} is larger than 512 KiB"));
        }
        let body = resp
            .bytes()
            .await
            .map_err(|e| format!("the metadata at {url} could not be read: {e}"))?;
        if body.len() > MAX_METADATA_BYTES {
            return Err(format!("the metadata at {url} is larger than 512 KiB"));
        }
        String::from_utf8(body.to_vec())
            .map_err(|e| format!("the metadata at {url} is not UTF-8 ({e})"))
    }

    /// Before a SAML connection is saved: its IdP metadata (pasted, or fetched from its
    /// URL) fills `signInEndpoint` and `signingCert`, and the certificate must read. A
    /// pasted document is not kept: what Gatehouse uses from it is in those two options.
    pub(crate) async fn settle_saml(&self, settings: &mut ConnectionSettings) -> Result<()> {
        if !settings.is_saml() {
            return Ok(());
        }
        let o = settings.saml_options()?;
        let document = match (&o.metadata_xml, &o.metadata_url) {
            (Some(xml), _) => Some((xml.clone(), "metadataXml")),
            (None, Some(url)) => Some((
                self.fetch_metadata(url)
                    .await
                    .map_err(|why| invalid(why, "metadataUrl"))?,
                "metadataUrl",
            )),
            (None, None) => None,
        };
        if let Some((xml, key)) = document {
            let m = IdpMetadata::parse(&xml).map_err(|e| invalid(e.to_string(), key))?;
            let sso = match o.binding {
                RequestBinding::Redirect => m.sso_redirect.or(m.sso_post),
                RequestBinding::Post => m.sso_post.or(m.sso_redirect),
            };
            if let Some(sso) = sso {
                gatehouse_core::upstream::check_provider_url(&sso)
                    .map_err(|why| invalid(format!("the metadata's sign-on URL: {why}"), key))?;
                settings
                    .options
                    .insert("signInEndpoint".into(), Value::String(sso));
            }
            if let Some(entity) = m.entity_id {
                settings
                    .options
                    .insert("issuer".into(), Value::String(entity));
            }
            if let Some(slo) = m.slo {
                gatehouse_core::upstream::check_provider_url(&slo)
                    .map_err(|why| invalid(format!("the metadata's logout URL: {why}"), key))?;
                settings
                    .options
                    .insert("signOutEndpoint".into(), Value::String(slo));
            }
            if let Some(cert) = m.signing_certificates.first() {
                settings.options.insert(
                    "signingCert".into(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(cert)),
                );
            }
            settings.options.remove("metadataXml");
        }
        let settled = settings.saml_options()?;
        let cert = settled
            .signing_cert
            .as_deref()
            .ok_or_else(|| invalid("the IdP's signing certificate is missing", "signingCert"))?;
        certificate_der(cert).map_err(|e| invalid(e.to_string(), "signingCert"))?;
        if settled.sign_in_endpoint.is_none() {
            return Err(invalid(
                "the IdP's single sign-on URL is missing",
                "signInEndpoint",
            ));
        }
        Ok(())
    }

    /// The saved settings of a SAML connection, ready for a login.
    pub(crate) fn saml_settings(
        &self,
        c: &StoredConnection,
    ) -> std::result::Result<SamlSettings, String> {
        let options = c.settings.saml_options().map_err(|e| e.message)?;
        let sso_url = options
            .sign_in_endpoint
            .clone()
            .ok_or("it has no signInEndpoint")?;
        let cert = options
            .signing_cert
            .as_deref()
            .ok_or("it has no signingCert")?;
        let der = certificate_der(cert).map_err(|e| e.to_string())?;
        Ok(SamlSettings {
            options,
            sso_url,
            certificates: vec![der],
        })
    }

    /// The dashboard's "Test connection": the saved settings read, and the metadata fetched
    /// again when the connection has a URL for it. Writes nothing.
    pub async fn probe_saml(&self, id: &str) -> Result<SamlProbe> {
        let c = self.stored_connection(id).await?;
        if !c.settings.is_saml() {
            return Err(ServiceError::NotSupported(
                "Only SAML connections have an identity provider's metadata to test.".into(),
            ));
        }
        let settings = match self.saml_settings(&c) {
            Ok(s) => s,
            Err(why) => return Ok(SamlProbe { outcome: Err(why) }),
        };
        let mut found = vec![("Single sign-on URL".to_string(), settings.sso_url.clone())];
        if let Some(url) = &settings.options.metadata_url {
            let fetched = match self.fetch_metadata(url).await {
                Ok(xml) => IdpMetadata::parse(&xml).map_err(|e| e.to_string()),
                Err(why) => Err(why),
            };
            match fetched {
                Ok(m) => {
                    found.push((
                        "Metadata".into(),
                        format!(
                            "read from {url}: entity {}, {} signing certificate(s)",
                            m.entity_id.as_deref().unwrap_or("(none)"),
                            m.signing_certificates.len()
                        ),
                    ));
                    if !m.signing_certificates.contains(&settings.certificates[0]) {
                        found.push((
                            "Certificate".into(),
                            "the metadata now names another certificate: save the connection again to use it".into(),
                        ));
                    }
                }
                Err(why) => return Ok(SamlProbe { outcome: Err(why) }),
            }
        }
        found.push((
            "Service provider entity id".into(),
            self.saml_entity_id(&c.settings.name),
        ));
        found.push((
            "Assertion consumer URL".into(),
            self.saml_acs_url(&c.settings.name),
        ));
        Ok(SamlProbe { outcome: Ok(found) })
    }
}
