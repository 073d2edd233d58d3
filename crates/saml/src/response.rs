//! Reading the identity provider's `<Response>` posted to the assertion consumer: the
//! signature first (over the Response or over its Assertion), then, from the signed bytes
//! only, who the subject is and whether the assertion is for this service provider, this
//! request and this moment.

use crate::ns::{ASSERTION, BEARER, DSIG, PROTOCOL, SUCCESS};
use crate::xml::{self, child, children, is, only_child, text};
use crate::{SamlError, signature};
use base64::Engine;
use gatehouse_core::time::parse_iso8601;
use roxmltree::Node;
use std::collections::BTreeMap;

/// A posted `SAMLResponse` larger than this is refused before it is decoded.
const MAX_ENCODED: usize = 1024 * 1024;

/// What the Response must match.
#[derive(Debug, Clone)]
pub struct Expectations<'a> {
    /// This connection's entity id: the audience the assertion must name.
    pub sp_entity_id: &'a str,
    /// The assertion consumer URL: the recipient the assertion must name.
    pub acs_url: &'a str,
    /// The AuthnRequest this answers; `None` for a login the IdP started.
    pub request_id: Option<&'a str>,
    /// The IdP's signing certificates (DER); any one of them may have signed.
    pub certificates: &'a [Vec<u8>],
    /// The IdP's entity id, when known (its metadata's): the assertion's `Issuer` must be it.
    pub issuer: Option<&'a str>,
    pub now_ms: i64,
    /// Clock difference tolerated on every time check.
    pub skew_ms: i64,
}

/// A signed assertion that passed every check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Assertion {
    pub id: String,
    pub issuer: Option<String>,
    pub name_id: String,
    pub name_id_format: Option<String>,
    pub session_index: Option<String>,
    /// Until when the assertion could be presented: its id must be remembered that long.
    pub not_on_or_after: i64,
    /// Attribute name to values, in the order the IdP sent them.
    pub attributes: BTreeMap<String, Vec<String>>,
}

/// A message as posted or put in a query: base64 (line breaks allowed), at most 1 MiB.
fn decode(encoded: &str) -> Result<Vec<u8>, SamlError> {
    if encoded.len() > MAX_ENCODED {
        return Err(SamlError::Malformed("it is larger than 1 MiB".into()));
    }
    let compact: String = encoded
        .chars()
        .filter(|c| !c.is_ascii_whitespace())
        .collect();
    base64::engine::general_purpose::STANDARD
        .decode(compact.as_bytes())
        .map_err(|e| SamlError::Malformed(format!("it is not base64 ({e})")))
}

/// Decodes, verifies and checks a posted `SAMLResponse`.
pub fn read_response(encoded: &str, expect: &Expectations<'_>) -> Result<Assertion, SamlError> {
    let text = String::from_utf8(decode(encoded)?)
        .map_err(|e| SamlError::Malformed(format!("it is not UTF-8 ({e})")))?;
    let doc = xml::parse(&text)?;
    let response = doc.root_element();
    if !is(response, PROTOCOL, "Response") {
        return Err(SamlError::Malformed(
            "the document is not a SAML 2.0 Response".into(),
        ));
    }
    let response_id = required_attr(response, "ID")?;
    check_status(response)?;
    if child(response, ASSERTION, "EncryptedAssertion").is_some() {
        return Err(SamlError::Unsupported(
            "encrypted assertions; turn assertion encryption off at the identity provider".into(),
        ));
    }
    // The signed part: the whole Response when the IdP signed it, else the Assertion.
    let signed = match only_child(response, DSIG, "Signature")? {
        Some(sig) => {
            signature::signed_bytes(&text, response_id, method_of(sig)?, expect.certificates)?
        }
        None => {
            let assertion = only_child(response, ASSERTION, "Assertion")?
                .ok_or_else(|| SamlError::Malformed("the response carries no assertion".into()))?;
            let sig = only_child(assertion, DSIG, "Signature")?.ok_or_else(|| {
                SamlError::Signature("neither the response nor its assertion is signed".into())
            })?;
            let id = required_attr(assertion, "ID")?;
            signature::signed_bytes(&text, id, method_of(sig)?, expect.certificates)?
        }
    };
    let signed = String::from_utf8(signed)
        .map_err(|e| SamlError::Malformed(format!("the signed part is not UTF-8 ({e})")))?;
    let signed_doc = xml::parse(&signed)?;
    let root = signed_doc.root_element();
    let assertion = if is(root, PROTOCOL, "Response") {
        check_response_envelope(root, expect)?;
        only_child(root, ASSERTION, "Assertion")?.ok_or_else(|| {
            SamlError::Malformed("the signed response carries no assertion".into())
        })?
    } else if is(root, ASSERTION, "Assertion") {
        // The envelope around a signed assertion is not signed: its Destination is only
        // checked when present, and the binding to the request is the assertion's own.
        check_response_envelope(response, expect)?;
        root
    } else {
        return Err(SamlError::Signature(
            "the signature covers neither the response nor an assertion".into(),
        ));
    };
    check_assertion(assertion, expect)
}

fn required_attr<'a>(node: Node<'a, '_>, name: &str) -> Result<&'a str, SamlError> {
    node.attribute(name)
        .filter(|v| !v.is_empty())
        .ok_or_else(|| SamlError::Malformed(format!("{} has no {name}", node.tag_name().name())))
}

fn method_of<'a>(signature: Node<'a, '_>) -> Result<&'a str, SamlError> {
    child(signature, DSIG, "SignedInfo")
        .and_then(|si| child(si, DSIG, "SignatureMethod"))
        .and_then(|m| m.attribute("Algorithm"))
        .ok_or_else(|| SamlError::Signature("the signature names no method".into()))
}

fn check_status(response: Node<'_, '_>) -> Result<(), SamlError> {
    let status = child(response, PROTOCOL, "Status")
        .ok_or_else(|| SamlError::Malformed("the response has no Status".into()))?;
    let code = child(status, PROTOCOL, "StatusCode")
        .and_then(|c| c.attribute("Value"))
        .unwrap_or_default();
    if code == SUCCESS {
        return Ok(());
    }
    // The second-level code says more ("AuthnFailed", "RequestDenied").
    let detail = child(status, PROTOCOL, "StatusCode")
        .and_then(|c| child(c, PROTOCOL, "StatusCode"))
        .and_then(|c| c.attribute("Value"));
    let short = |v: &str| v.rsplit(':').next().unwrap_or(v).to_string();
    Err(SamlError::Status {
        status: match detail {
            Some(d) => format!("{}/{}", short(code), short(d)),
            None => short(code),
        },
        message: child(status, PROTOCOL, "StatusMessage").map(text),
    })
}

/// `Destination` (when present) is this consumer; `InResponseTo` (when present) is the
/// request, and a login the IdP started has none.
fn check_response_envelope(
    response: Node<'_, '_>,
    expect: &Expectations<'_>,
) -> Result<(), SamlError> {
    if let Some(d) = response.attribute("Destination")
        && d != expect.acs_url
    {
        return Err(SamlError::Refused(format!(
            "it was sent to {d}, not to this service provider"
        )));
    }
    match (
        response.attribute("InResponseTo").filter(|v| !v.is_empty()),
        expect.request_id,
    ) {
        (None, _) => Ok(()),
        (Some(got), Some(want)) if got == want => Ok(()),
        (Some(_), _) => Err(SamlError::Refused(
            "it answers another login request".into(),
        )),
    }
}

fn time_attr(node: Node<'_, '_>, name: &str) -> Result<Option<i64>, SamlError> {
    match node.attribute(name) {
        None => Ok(None),
        Some(v) => parse_iso8601(v)
            .map(Some)
            .ok_or_else(|| SamlError::Malformed(format!("{name} is not a date-time"))),
    }
}

fn check_assertion(
    assertion: Node<'_, '_>,
    expect: &Expectations<'_>,
) -> Result<Assertion, SamlError> {
    let id = required_attr(assertion, "ID")?.to_string();
    let now = expect.now_ms;
    let skew = expect.skew_ms;
    let subject = only_child(assertion, ASSERTION, "Subject")?
        .ok_or_else(|| SamlError::Refused("the assertion has no subject".into()))?;
    let name_id_node = only_child(subject, ASSERTION, "NameID")?;
    // A bearer confirmation for this consumer, this request, still valid.
    let mut confirmed_until = None;
    let mut why_not = String::from("the subject has no bearer confirmation");
    for confirmation in children(subject, ASSERTION, "SubjectConfirmation") {
        if confirmation.attribute("Method") != Some(BEARER) {
            continue;
        }
        let Some(data) = child(confirmation, ASSERTION, "SubjectConfirmationData") else {
            why_not = "the bearer confirmation has no data".into();
            continue;
        };
        if data.attribute("Recipient") != Some(expect.acs_url) {
            why_not = "it is meant for another recipient".into();
            continue;
        }
        let Some(until) = time_attr(data, "NotOnOrAfter")? else {
            why_not = "the bearer confirmation has no NotOnOrAfter".into();
            continue;
        };
        if now >= until + skew {
            why_not = "it has expired".into();
            continue;
        }
        if let Some(before) = time_attr(data, "NotBefore")?
            && now + skew < before
        {
            why_not = "it is not valid yet".into();
            continue;
        }
        match (
            data.attribute("InResponseTo").filter(|v| !v.is_empty()),
            expect.request_id,
        ) {
            (Some(got), Some(want)) if got == want => {}
            (None, None) => {}
            (None, Some(_)) => {
                why_not = "it does not say which login request it answers".into();
                continue;
            }
            (Some(_), _) => {
                why_not = "it answers another login request".into();
                continue;
            }
        }
        confirmed_until = Some(until);
        break;
    }
    let Some(mut not_on_or_after) = confirmed_until else {
        return Err(SamlError::Refused(why_not));
    };
    if let Some(conditions) = only_child(assertion, ASSERTION, "Conditions")? {
        if let Some(before) = time_attr(conditions, "NotBefore")?
            && now + skew < before
        {
            return Err(SamlError::Refused("it is not valid yet".into()));
        }
        if let Some(until) = time_attr(conditions, "NotOnOrAfter")? {
            if now >= until + skew {
                return Err(SamlError::Refused("it has expired".into()));
            }
            not_on_or_after = not_on_or_after.min(until);
        }
        for restriction in children(conditions, ASSERTION, "AudienceRestriction") {
            let ours = children(restriction, ASSERTION, "Audience")
                .any(|a| text(a) == expect.sp_entity_id);
            if !ours {
                return Err(SamlError::Refused(format!(
                    "it is meant for another audience, not {}",
                    expect.sp_entity_id
                )));
            }
        }
    }
    let mut attributes: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for statement in children(assertion, ASSERTION, "AttributeStatement") {
        for attribute in children(statement, ASSERTION, "Attribute") {
            let Some(name) = attribute.attribute("Name") else {
                continue;
            };
            let values = attributes.entry(name.to_string()).or_default();
            values.extend(children(attribute, ASSERTION, "AttributeValue").map(text));
        }
    }
    let issuer = child(assertion, ASSERTION, "Issuer").map(text);
    if let Some(want) = expect.issuer
        && issuer.as_deref() != Some(want)
    {
        return Err(SamlError::Refused(format!(
            "it was issued by {}, not by the connection's identity provider {want}",
            issuer.as_deref().unwrap_or("nobody")
        )));
    }
    let name_id = name_id_node.map(text).unwrap_or_default();
    let session_index = child(assertion, ASSERTION, "AuthnStatement")
        .and_then(|s| s.attribute("SessionIndex"))
        .map(str::to_string);
    Ok(Assertion {
        id,
        issuer,
        name_id,
        name_id_format: name_id_node
            .and_then(|n| n.attribute("Format"))
            .map(str::to_string),
        session_index,
        not_on_or_after,
        attributes,
    })
}

/// The IdP's answer to a logout request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LogoutAnswer {
    pub in_response_to: Option<String>,
    pub success: bool,
}

/// Reads a `<LogoutResponse>`: from the query (HTTP-Redirect: deflated, base64) or a posted
/// form (HTTP-POST: base64). Its signature is not needed: it proves nobody's identity and
/// only says the IdP is done; where the browser goes next comes from Gatehouse's own sealed
/// relay state, and the local session ended before the IdP was asked.
pub fn read_logout_response(encoded: &str, deflated: bool) -> Result<LogoutAnswer, SamlError> {
    let bytes = decode(encoded)?;
    let bytes = if deflated {
        use std::io::Read;
        let mut out = Vec::new();
        flate2::read::DeflateDecoder::new(&bytes[..])
            .take(MAX_ENCODED as u64)
            .read_to_end(&mut out)
            .map_err(|e| SamlError::Malformed(format!("it is not deflated ({e})")))?;
        out
    } else {
        bytes
    };
    let text = String::from_utf8(bytes)
        .map_err(|e| SamlError::Malformed(format!("it is not UTF-8 ({e})")))?;
    let doc = xml::parse(&text)?;
    let root = doc.root_element();
    if !is(root, PROTOCOL, "LogoutResponse") {
        return Err(SamlError::Malformed(
            "the document is not a SAML 2.0 LogoutResponse".into(),
        ));
    }
    Ok(LogoutAnswer {
        in_response_to: root.attribute("InResponseTo").map(str::to_string),
        success: check_status(root).is_ok(),
    })
}
