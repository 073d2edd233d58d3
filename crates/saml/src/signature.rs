//! One enveloped XML signature checked with `xml-sec` against the connection's certificates,
//! answering with the exact bytes it covers (the referenced element, canonicalised, its own
//! signature removed): the only bytes the rest of this crate reads.

use crate::SamlError;
use xml_sec::xmldsig::{
    DsigStatus, ENVELOPED_SIGNATURE_URI, SignatureAlgorithm, VerificationKey, VerifyContext,
};

/// Canonicalisations and transforms an IdP's signature may use; XPath, XSLT, base64 and
/// the "with comments" forms are refused (none is needed for SAML; each widens what a
/// signature can be made to cover).
const TRANSFORMS: [&str; 4] = [
    ENVELOPED_SIGNATURE_URI,
    "http://www.w3.org/2001/10/xml-exc-c14n#",
    "http://www.w3.org/TR/2001/REC-xml-c14n-20010315",
    "http://www.w3.org/2006/12/xml-c14n11",
];

/// The public key of a certificate (DER), as `SubjectPublicKeyInfo`.
pub(crate) fn public_key_of(certificate_der: &[u8]) -> Result<Vec<u8>, SamlError> {
    let (_, cert) = x509_parser::parse_x509_certificate(certificate_der)
        .map_err(|e| SamlError::Settings(format!("the signing certificate cannot be read: {e}")))?;
    Ok(cert.public_key().raw.to_vec())
}

/// Verifies the signature that is a direct child of the element whose `ID` is `element_id`
/// and returns the canonical bytes it covers. `method` is the signature's
/// `SignatureMethod/@Algorithm`.
pub(crate) fn signed_bytes(
    xml: &str,
    element_id: &str,
    method: &str,
    certificates: &[Vec<u8>],
) -> Result<Vec<u8>, SamlError> {
    let algorithm = SignatureAlgorithm::from_uri(method)
        .ok_or_else(|| SamlError::Signature(format!("unknown signature method {method}")))?;
    if !matches!(
        algorithm,
        SignatureAlgorithm::RsaSha256
            | SignatureAlgorithm::RsaSha384
            | SignatureAlgorithm::RsaSha512
            | SignatureAlgorithm::EcdsaSha256
            | SignatureAlgorithm::EcdsaSha384
            | SignatureAlgorithm::EcdsaSha512
    ) {
        return Err(SamlError::Signature(format!(
            "the signature method {method} is refused; sign with RSA-SHA256 or stronger"
        )));
    }
    if certificates.is_empty() {
        return Err(SamlError::Settings(
            "no signing certificate is configured".into(),
        ));
    }
    let expected_uri = format!("#{element_id}");
    let mut last = String::from("no certificate verified it");
    for der in certificates {
        let key = VerificationKey {
            algorithm,
            public_key_bytes: public_key_of(der)?,
            certificate_der: Some(der.clone()),
            name: None,
        };
        let context = VerifyContext::new()
            .key(&key)
            .start_node_id(element_id)
            .allowed_transforms(TRANSFORMS)
            .store_pre_digest(true);
        let result = match context.verify(xml) {
            Ok(r) => r,
            Err(e) => {
                last = e.to_string();
                continue;
            }
        };
        if result.status != DsigStatus::Valid {
            last = format!("{:?}", result.status);
            continue;
        }
        let [reference] = result.signed_info_references.as_slice() else {
            return Err(SamlError::Signature(
                "the signature must cover exactly one element".into(),
            ));
        };
        if reference.uri != expected_uri {
            return Err(SamlError::Signature(format!(
                "the signature covers {} instead of {expected_uri}",
                reference.uri
            )));
        }
        if reference.status != DsigStatus::Valid {
            last = format!("{:?}", reference.status);
            continue;
        }
        return reference
            .pre_digest_data
            .clone()
            .ok_or_else(|| SamlError::Signature("the signed content was not kept".into()));
    }
    Err(SamlError::Signature(last))
}
