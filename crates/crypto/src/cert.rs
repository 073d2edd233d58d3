//! Self-signed X.509 certificates for our signing keys, as Auth0 hands them out (`cert`,
//! `pkcs7`, `fingerprint`, `thumbprint` of `/api/v2/keys/signing`, `x5c`/`x5t` of the JWKS).
//! A certificate here only wraps a public key under the tenant's name: nobody validates a
//! chain, so a v3 certificate without extensions, hand-built in DER, is all it takes and no
//! ASN.1 crate is needed.

use crate::keys::{EcSigningKey, KeyError, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The key a certificate is made for (and signed by).
#[derive(Clone, Copy)]
pub enum CertKey<'k> {
    Rsa(&'k SigningKey),
    Ec(&'k EcSigningKey),
}

/// How long a certificate says it is valid: ten years, like Auth0's.
const VALID_DAYS: i64 = 3650;

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const UTF8_STRING: u8 = 0x0c;
const NULL: &[u8] = &[0x05, 0x00];
const OID_SHA256_WITH_RSA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x0b,
];
const OID_RSA_ENCRYPTION: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x01, 0x01,
];
const OID_ECDSA_WITH_SHA256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_P256: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
const OID_COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const OID_PKCS7_SIGNED_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x02,
];
const OID_PKCS7_DATA: &[u8] = &[
    0x06, 0x09, 0x2a, 0x86, 0x48, 0x86, 0xf7, 0x0d, 0x01, 0x07, 0x01,
];

/// A DER tag-length-value.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = Vec::with_capacity(len + 6);
    out.push(tag);
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = len.to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (bytes.len() - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

fn bit_string(bytes: &[u8]) -> Vec<u8> {
    tlv(BIT_STRING, &[&[0u8][..], bytes].concat())
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian (Hinnant's algorithm).
fn civil(days: i64) -> (i64, i64, i64) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// An X.509 time: UTCTime until 2049, GeneralizedTime after (RFC 5280 §4.1.2.5).
fn x509_time(epoch_secs: i64) -> Vec<u8> {
    let (y, mo, d) = civil(epoch_secs.div_euclid(86_400));
    let s = epoch_secs.rem_euclid(86_400);
    let (h, mi, se) = (s / 3600, s / 60 % 60, s % 60);
    if (1950..2050).contains(&y) {
        let text = format!("{:02}{mo:02}{d:02}{h:02}{mi:02}{se:02}Z", y % 100);
        tlv(0x17, text.as_bytes())
    } else {
        let text = format!("{y:04}{mo:02}{d:02}{h:02}{mi:02}{se:02}Z");
        tlv(0x18, text.as_bytes())
    }
}

/// A self-signed certificate (DER) for `key`, named `common_name`, valid from `not_before`
/// (epoch seconds) for ten years. The serial number comes from the key's `kid`, so the same
/// key and dates always give the same certificate.
pub fn self_signed(
    key: CertKey<'_>,
    common_name: &str,
    not_before: i64,
) -> Result<Vec<u8>, KeyError> {
    let (kid, sig_alg, spki) = match key {
        CertKey::Rsa(k) => (
            k.kid(),
            seq(&[OID_SHA256_WITH_RSA, NULL]),
            seq(&[
                &seq(&[OID_RSA_ENCRYPTION, NULL]),
                &bit_string(k.public_der()),
            ]),
        ),
        CertKey::Ec(k) => (
            k.kid(),
            seq(&[OID_ECDSA_WITH_SHA256]),
            seq(&[
                &seq(&[OID_EC_PUBLIC_KEY, OID_P256]),
                &bit_string(&k.public().point),
            ]),
        ),
    };
    let digest = ring::digest::digest(&ring::digest::SHA256, kid.as_bytes());
    let mut serial = digest.as_ref()[..16].to_vec();
    // Positive, and minimal in DER: the first byte is neither 0 nor has its top bit set.
    serial[0] = (serial[0] & 0x7f) | 0x40;
    let name = seq(&[&tlv(
        SET,
        &seq(&[OID_COMMON_NAME, &tlv(UTF8_STRING, common_name.as_bytes())]),
    )]);
    let validity = seq(&[
        &x509_time(not_before),
        &x509_time(not_before + VALID_DAYS * 86_400),
    ]);
    let version = tlv(0xa0, &tlv(INTEGER, &[2]));
    let tbs = seq(&[
        &version,
        &tlv(INTEGER, &serial),
        &sig_alg,
        &name,
        &validity,
        &name,
        &spki,
    ]);
    let signature = match key {
        CertKey::Rsa(k) => k.sign(&tbs)?,
        CertKey::Ec(k) => k.sign_der(&tbs)?,
    };
    Ok(seq(&[&tbs, &sig_alg, &bit_string(&signature)]))
}

fn pem_block(label: &str, der: &[u8]) -> String {
    let body = STANDARD.encode(der);
    let mut out = format!("-----BEGIN {label}-----\r\n");
    for line in body.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(line));
        out.push_str("\r\n");
    }
    out.push_str(&format!("-----END {label}-----"));
    out
}

/// The certificate as PEM, with CRLF line ends as Auth0 writes them.
pub fn pem(der: &[u8]) -> String {
    pem_block("CERTIFICATE", der)
}

/// The certificate in a degenerate PKCS#7 `SignedData` (certificates only, no signers), as
/// PEM.
pub fn pkcs7_pem(der: &[u8]) -> String {
    let signed_data = seq(&[
        &tlv(INTEGER, &[1]),
        &tlv(SET, &[]),
        &seq(&[OID_PKCS7_DATA]),
        &tlv(0xa0, der),
        &tlv(SET, &[]),
    ]);
    let content_info = seq(&[OID_PKCS7_SIGNED_DATA, &tlv(0xa0, &signed_data)]);
    pem_block("PKCS7", &content_info)
}

fn sha1(der: &[u8]) -> ring::digest::Digest {
    ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, der)
}

/// Auth0's `fingerprint`: the SHA-1 of the certificate, upper-case hex pairs joined by `:`.
pub fn fingerprint(der: &[u8]) -> String {
    sha1(der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Auth0's `thumbprint`: the same SHA-1 as upper-case hex.
pub fn thumbprint(der: &[u8]) -> String {
    sha1(der)
        .as_ref()
        .iter()
        .map(|b| format!("{b:02X}"))
        .collect()
}

/// The JWK `x5t` member: the SHA-1 of the certificate, base64url.
pub fn x5t(der: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(sha1(der).as_ref())
}

/// The JWK `x5c` member's one entry: the certificate, standard base64.
pub fn x5c(der: &[u8]) -> String {
    STANDARD.encode(der)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_convert_like_the_calendar() {
        assert_eq!(civil(0), (1970, 1, 1));
        assert_eq!(civil(19_723), (2024, 1, 1));
        assert_eq!(civil(11_016), (2000, 2, 29));
        assert_eq!(x509_time(1_700_000_000), tlv(0x17, b"231114221320Z"));
        assert_eq!(x509_time(2_556_144_000), tlv(0x18, b"20510101000000Z"));
    }

    #[test]
    fn certificates_are_stable_and_signed_by_their_key() {
        let rsa = SigningKey::generate().unwrap();
        let a = self_signed(CertKey::Rsa(&rsa), "tenant.example.com", 1_700_000_000).unwrap();
        let b = self_signed(CertKey::Rsa(&rsa), "tenant.example.com", 1_700_000_000).unwrap();
        assert_eq!(a, b, "RSA PKCS#1 v1.5 signatures are deterministic");
        assert_eq!(fingerprint(&a).len(), 59);
        assert_eq!(thumbprint(&a), fingerprint(&a).replace(':', ""));
        assert!(pem(&a).starts_with("-----BEGIN CERTIFICATE-----\r\n"));
        assert_eq!(crate::jwt::pem_to_der(&pem(&a)).unwrap(), a);
        assert!(pkcs7_pem(&a).starts_with("-----BEGIN PKCS7-----\r\n"));

        let ec = EcSigningKey::generate().unwrap();
        let c = self_signed(CertKey::Ec(&ec), "tenant.example.com", 1_700_000_000).unwrap();
        // The EC point sits at the end of the key info, in the clear.
        let point = &ec.public().point;
        assert!(c.windows(point.len()).any(|w| w == point.as_slice()));
    }
}
