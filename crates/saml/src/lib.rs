//! The service provider's side of SAML 2.0 for `samlp` connections: the AuthnRequest Gatehouse
//! sends (HTTP-Redirect or HTTP-POST binding), the SP metadata it publishes, the IdP metadata
//! it reads, and the identity provider's Response it accepts.
//!
//! A Response is trusted only through an XML signature made with one of the connection's
//! certificates, checked by `xml-sec` (canonicalisation and digests are not written here).
//! Everything Gatehouse reads from a Response (subject, audience, times, attributes) is read
//! from the bytes that signature covers, never from the document around them: a second,
//! unsigned assertion beside or around the signed one (signature wrapping) is never looked at.
//! Time is passed in, so expiry is tested without waiting.

mod metadata;
mod request;
mod response;
mod signature;
mod xml;

pub use metadata::{IdpMetadata, certificate_der, sp_metadata};
pub use request::{AuthnRequest, Binding, LogoutRequest, Message, QuerySigner, RSA_SHA256};
pub use response::{Assertion, Expectations, LogoutAnswer, read_logout_response, read_response};

/// The SAML 2.0 namespaces Gatehouse reads and writes.
pub mod ns {
    pub const PROTOCOL: &str = "urn:oasis:names:tc:SAML:2.0:protocol";
    pub const ASSERTION: &str = "urn:oasis:names:tc:SAML:2.0:assertion";
    pub const METADATA: &str = "urn:oasis:names:tc:SAML:2.0:metadata";
    pub const DSIG: &str = "http://www.w3.org/2000/09/xmldsig#";
    pub const BINDING_REDIRECT: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-Redirect";
    pub const BINDING_POST: &str = "urn:oasis:names:tc:SAML:2.0:bindings:HTTP-POST";
    pub const BEARER: &str = "urn:oasis:names:tc:SAML:2.0:cm:bearer";
    pub const SUCCESS: &str = "urn:oasis:names:tc:SAML:2.0:status:Success";
}

/// Why a Response (or metadata) was not accepted. The message says what was wrong in words
/// an administrator can act on; it never carries the assertion's content.
#[derive(Debug, thiserror::Error)]
pub enum SamlError {
    /// Not base64, not UTF-8, not well-formed, too large, or not a SAML Response.
    #[error("the SAML response is malformed: {0}")]
    Malformed(String),
    /// A DOCTYPE or entity declaration: SAML never needs one, and it is how XML external
    /// entity attacks start.
    #[error("the SAML response declares a DTD or entities, which SAML never uses")]
    Dtd,
    /// No signature by a trusted certificate covers the assertion.
    #[error("the SAML response is not signed by the identity provider: {0}")]
    Signature(String),
    /// The identity provider answered with a non-success status.
    #[error("the identity provider did not log the user in ({status}{})", message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Status {
        status: String,
        message: Option<String>,
    },
    /// Signed, but not for this service provider, this request or this moment.
    #[error("the SAML assertion was refused: {0}")]
    Refused(String),
    /// A feature the Response uses that Gatehouse does not read (encrypted assertions).
    #[error("the SAML response uses something Gatehouse does not support: {0}")]
    Unsupported(String),
    /// The connection's certificate or metadata cannot be read.
    #[error("the identity provider's settings cannot be used: {0}")]
    Settings(String),
}
