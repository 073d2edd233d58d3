//! Metadata both ways: the service provider's (what an administrator uploads to the IdP:
//! entity id, assertion consumer, signing certificate) and the identity provider's (its
//! entity id, single sign-on URLs and signing certificates, read from its metadata XML),
//! and the connection's `signingCert` in either PEM or bare base64.

use crate::ns::{BINDING_POST, BINDING_REDIRECT, DSIG, METADATA};
use crate::xml::{self, children, is, text};
use crate::{SamlError, signature};
use base64::Engine;
use gatehouse_core::email::escape_html as escape;

/// The SP metadata document for one connection; `slo_url` receives the IdP's answers to
/// logout requests (both bindings).
pub fn sp_metadata(
    entity_id: &str,
    acs_url: &str,
    slo_url: &str,
    signing_cert_der: Option<&[u8]>,
) -> String {
    let key = signing_cert_der
        .map(|der| {
            format!(
                "<md:KeyDescriptor use=\"signing\"><ds:KeyInfo xmlns:ds=\"{DSIG}\"><ds:X509Data><ds:X509Certificate>{}</ds:X509Certificate></ds:X509Data></ds:KeyInfo></md:KeyDescriptor>",
                base64::engine::general_purpose::STANDARD.encode(der)
            )
        })
        .unwrap_or_default();
    let signed = signing_cert_der.is_some();
    format!(
        "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<md:EntityDescriptor xmlns:md=\"{METADATA}\" entityID=\"{entity}\"><md:SPSSODescriptor protocolSupportEnumeration=\"urn:oasis:names:tc:SAML:2.0:protocol\" AuthnRequestsSigned=\"{signed}\" WantAssertionsSigned=\"true\">{key}<md:SingleLogoutService Binding=\"{BINDING_REDIRECT}\" Location=\"{slo}\"/><md:SingleLogoutService Binding=\"{BINDING_POST}\" Location=\"{slo}\"/><md:NameIDFormat>urn:oasis:names:tc:SAML:1.1:nameid-format:emailAddress</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:persistent</md:NameIDFormat><md:NameIDFormat>urn:oasis:names:tc:SAML:2.0:nameid-format:transient</md:NameIDFormat><md:AssertionConsumerService Binding=\"{BINDING_POST}\" Location=\"{acs}\" index=\"0\" isDefault=\"true\"/></md:SPSSODescriptor></md:EntityDescriptor>\n",
        entity = escape(entity_id),
        acs = escape(acs_url),
        slo = escape(slo_url),
    )
}

/// A certificate as an administrator pastes it: PEM (`-----BEGIN CERTIFICATE-----`) or the
/// bare base64 of the DER, line breaks allowed.
pub fn certificate_der(pasted: &str) -> Result<Vec<u8>, SamlError> {
    let body: String = pasted
        .lines()
        .filter(|l| !l.trim_start().starts_with("-----"))
        .flat_map(|l| l.chars())
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    let der = base64::engine::general_purpose::STANDARD
        .decode(body.as_bytes())
        .map_err(|e| {
            SamlError::Settings(format!(
                "the signing certificate is not PEM or base64 ({e})"
            ))
        })?;
    signature::public_key_of(&der)?;
    Ok(der)
}

/// What Gatehouse needs from an identity provider's metadata.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IdpMetadata {
    pub entity_id: Option<String>,
    /// Single sign-on URL for the HTTP-Redirect binding.
    pub sso_redirect: Option<String>,
    /// Single sign-on URL for the HTTP-POST binding.
    pub sso_post: Option<String>,
    /// Single logout URL for the HTTP-Redirect binding (else HTTP-POST's).
    pub slo: Option<String>,
    /// Certificates (DER) the IdP signs with.
    pub signing_certificates: Vec<Vec<u8>>,
}

impl IdpMetadata {
    pub fn parse(document: &str) -> Result<Self, SamlError> {
        let doc = xml::parse(document)?;
        let idp = doc
            .descendants()
            .find(|n| is(*n, METADATA, "IDPSSODescriptor"))
            .ok_or_else(|| {
                SamlError::Settings("the metadata describes no identity provider".into())
            })?;
        let entity_id = idp
            .ancestors()
            .find(|n| is(*n, METADATA, "EntityDescriptor"))
            .and_then(|e| e.attribute("entityID"))
            .map(str::to_string);
        let mut out = IdpMetadata {
            entity_id,
            ..Default::default()
        };
        for sso in children(idp, METADATA, "SingleSignOnService") {
            let location = sso.attribute("Location").map(str::to_string);
            match sso.attribute("Binding") {
                Some(BINDING_REDIRECT) if out.sso_redirect.is_none() => out.sso_redirect = location,
                Some(BINDING_POST) if out.sso_post.is_none() => out.sso_post = location,
                _ => {}
            }
        }
        let slo = |binding: &str| {
            children(idp, METADATA, "SingleLogoutService")
                .find(|s| s.attribute("Binding") == Some(binding))
                .and_then(|s| s.attribute("Location"))
                .map(str::to_string)
        };
        out.slo = slo(BINDING_REDIRECT).or_else(|| slo(BINDING_POST));
        for key in children(idp, METADATA, "KeyDescriptor") {
            if key.attribute("use").is_some_and(|u| u != "signing") {
                continue;
            }
            for cert in key
                .descendants()
                .filter(|n| is(*n, DSIG, "X509Certificate"))
            {
                out.signing_certificates.push(certificate_der(&text(cert))?);
            }
        }
        if out.signing_certificates.is_empty() {
            return Err(SamlError::Settings(
                "the metadata names no signing certificate".into(),
            ));
        }
        if out.sso_redirect.is_none() && out.sso_post.is_none() {
            return Err(SamlError::Settings(
                "the metadata names no single sign-on URL for HTTP-Redirect or HTTP-POST".into(),
            ));
        }
        Ok(out)
    }
}
