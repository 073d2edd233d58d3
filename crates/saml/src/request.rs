//! The `<AuthnRequest>` Gatehouse sends to the identity provider, in either binding:
//! HTTP-Redirect (deflated, base64, in the query; signed over the query string when the
//! connection signs requests) or HTTP-POST (base64 in an auto-submitted form).

use crate::ns::{ASSERTION, BINDING_POST, PROTOCOL};
use base64::Engine;
use flate2::Compression;
use flate2::write::DeflateEncoder;
use gatehouse_core::email::escape_html as escape;
use gatehouse_core::time::iso8601;
use std::io::Write;

/// The XML-DSig name of RSA PKCS#1 v1.5 with SHA-256, the only request signature Gatehouse makes.
pub const RSA_SHA256: &str = "http://www.w3.org/2001/04/xmldsig-more#rsa-sha256";

/// Signs the bytes of a Redirect-binding query (RSA-SHA256).
pub type QuerySigner<'a, E> = &'a dyn Fn(&[u8]) -> Result<Vec<u8>, E>;

/// How the request travels to the identity provider (Auth0's `protocolBinding`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Binding {
    Redirect,
    Post,
}

/// One login request.
#[derive(Debug, Clone)]
pub struct AuthnRequest<'a> {
    /// Unique, starting with a letter or underscore (an XML ID); the Response's
    /// `InResponseTo` must name it.
    pub id: &'a str,
    pub issue_instant_ms: i64,
    /// The IdP's single sign-on URL.
    pub destination: &'a str,
    /// Where the IdP posts its Response.
    pub acs_url: &'a str,
    pub sp_entity_id: &'a str,
    /// Ask the IdP to log the user in again (`prompt=login`).
    pub force_authn: bool,
}

impl AuthnRequest<'_> {
    pub fn xml(&self) -> String {
        let force = if self.force_authn {
            " ForceAuthn=\"true\""
        } else {
            ""
        };
        format!(
            "<samlp:AuthnRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{dest}\" AssertionConsumerServiceURL=\"{acs}\" ProtocolBinding=\"{BINDING_POST}\"{force}><saml:Issuer>{issuer}</saml:Issuer><samlp:NameIDPolicy AllowCreate=\"true\" Format=\"urn:oasis:names:tc:SAML:1.1:nameid-format:unspecified\"/></samlp:AuthnRequest>",
            id = escape(self.id),
            instant = iso8601(self.issue_instant_ms),
            dest = escape(self.destination),
            acs = escape(self.acs_url),
            issuer = escape(self.sp_entity_id),
        )
    }
}

impl Message for AuthnRequest<'_> {
    fn xml(&self) -> String {
        AuthnRequest::xml(self)
    }

    fn destination(&self) -> &str {
        self.destination
    }
}

/// A request to end the user's session at the IdP (SP-initiated single logout), naming the
/// subject and session the IdP's assertion gave.
#[derive(Debug, Clone)]
pub struct LogoutRequest<'a> {
    pub id: &'a str,
    pub issue_instant_ms: i64,
    /// The IdP's single logout URL.
    pub destination: &'a str,
    pub sp_entity_id: &'a str,
    pub name_id: &'a str,
    pub name_id_format: Option<&'a str>,
    pub session_index: Option<&'a str>,
}

impl LogoutRequest<'_> {
    pub fn xml(&self) -> String {
        let format = self
            .name_id_format
            .map(|f| format!(" Format=\"{}\"", escape(f)))
            .unwrap_or_default();
        let session = self
            .session_index
            .map(|s| format!("<samlp:SessionIndex>{}</samlp:SessionIndex>", escape(s)))
            .unwrap_or_default();
        format!(
            "<samlp:LogoutRequest xmlns:samlp=\"{PROTOCOL}\" xmlns:saml=\"{ASSERTION}\" ID=\"{id}\" Version=\"2.0\" IssueInstant=\"{instant}\" Destination=\"{dest}\"><saml:Issuer>{issuer}</saml:Issuer><saml:NameID{format}>{name_id}</saml:NameID>{session}</samlp:LogoutRequest>",
            id = escape(self.id),
            instant = iso8601(self.issue_instant_ms),
            dest = escape(self.destination),
            issuer = escape(self.sp_entity_id),
            name_id = escape(self.name_id),
        )
    }
}

impl Message for LogoutRequest<'_> {
    fn xml(&self) -> String {
        LogoutRequest::xml(self)
    }

    fn destination(&self) -> &str {
        self.destination
    }
}

/// A request Gatehouse sends an identity provider, in either binding.
pub trait Message {
    fn xml(&self) -> String;
    /// The IdP URL it goes to.
    fn destination(&self) -> &str;

    /// The value of the `SAMLRequest` form field (HTTP-POST binding).
    fn post_value(&self) -> String {
        base64::engine::general_purpose::STANDARD.encode(self.xml())
    }

    /// The IdP URL carrying this request (HTTP-Redirect binding); see [`redirect_url`].
    fn redirect_url<E>(
        &self,
        relay_state: &str,
        sign: Option<QuerySigner<'_, E>>,
    ) -> Result<String, E> {
        redirect_url(self.destination(), &self.xml(), relay_state, sign)
    }
}

/// `destination` with a message in its query (HTTP-Redirect binding): deflated, base64,
/// with the relay state. With `sign`, the query carries `SigAlg` and a `Signature` over the
/// encoded `SAMLRequest`, `RelayState` and `SigAlg` (SAML bindings §3.4.4.1); `sign` makes
/// an RSA-SHA256 signature.
fn redirect_url<E>(
    destination: &str,
    xml: &str,
    relay_state: &str,
    sign: Option<QuerySigner<'_, E>>,
) -> Result<String, E> {
    let mut query = format!(
        "SAMLRequest={}&RelayState={}",
        percent(&deflate_b64(xml)),
        percent(relay_state)
    );
    if let Some(sign) = sign {
        query.push_str("&SigAlg=");
        query.push_str(&percent(RSA_SHA256));
        let signature = sign(query.as_bytes())?;
        query.push_str("&Signature=");
        query.push_str(&percent(
            &base64::engine::general_purpose::STANDARD.encode(signature),
        ));
    }
    let joiner = if destination.contains('?') { '&' } else { '?' };
    Ok(format!("{destination}{joiner}{query}"))
}

fn deflate_b64(xml: &str) -> String {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    // Writing to a Vec cannot fail; an error would leave the output empty, which the IdP
    // would refuse as a malformed request.
    let deflated = encoder
        .write_all(xml.as_bytes())
        .and_then(|()| encoder.finish())
        .unwrap_or_default();
    base64::engine::general_purpose::STANDARD.encode(deflated)
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
fn percent(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3 / 2);
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::read::DeflateDecoder;
    use std::io::Read;

    fn request() -> AuthnRequest<'static> {
        AuthnRequest {
            id: "_a1b2",
            issue_instant_ms: 1_764_921_600_000,
            destination: "https://idp.example.com/sso?tenant=x",
            acs_url: "https://auth.example.com/login/callback?connection=acme",
            sp_entity_id: "urn:auth0:example:acme",
            force_authn: false,
        }
    }

    #[test]
    fn redirect_binding_deflates_the_request_into_the_query() {
        let url = request().redirect_url::<()>("relay &state", None).unwrap();
        assert!(url.starts_with("https://idp.example.com/sso?tenant=x&SAMLRequest="));
        assert!(url.ends_with("&RelayState=relay%20%26state"));
        let encoded = url
            .split("SAMLRequest=")
            .nth(1)
            .unwrap()
            .split('&')
            .next()
            .unwrap();
        let b64 = encoded
            .replace("%2B", "+")
            .replace("%2F", "/")
            .replace("%3D", "=");
        let raw = base64::engine::general_purpose::STANDARD
            .decode(b64)
            .unwrap();
        let mut xml = String::new();
        DeflateDecoder::new(&raw[..])
            .read_to_string(&mut xml)
            .unwrap();
        assert!(xml.contains("ID=\"_a1b2\""));
        assert!(xml.contains("Destination=\"https://idp.example.com/sso?tenant=x\""));
        assert!(xml.contains("<saml:Issuer>urn:auth0:example:acme</saml:Issuer>"));
    }

    #[test]
    fn a_signed_redirect_signs_the_encoded_query_in_order() {
        let seen = std::cell::RefCell::new(Vec::new());
        let sign = |q: &[u8]| -> Result<Vec<u8>, ()> {
            seen.borrow_mut().extend_from_slice(q);
            Ok(vec![1, 2, 3])
        };
        let sign: QuerySigner<'_, ()> = &sign;
        let url = request().redirect_url("rs", Some(sign)).unwrap();
        let signed = String::from_utf8(seen.into_inner()).unwrap();
        assert!(signed.starts_with("SAMLRequest="));
        assert!(signed.ends_with(
            "&RelayState=rs&SigAlg=http%3A%2F%2Fwww.w3.org%2F2001%2F04%2Fxmldsig-more%23rsa-sha256"
        ));
        assert!(url.ends_with(&format!("?tenant=x&{signed}&Signature=AQID")));
    }
}
