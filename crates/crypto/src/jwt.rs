//! Compact JWS tokens signed with RS256, PS256 or ES256. Claim checks (issuer, audience,
//! expiry) belong to the caller; this module only proves who signed what. A token's `alg`
//! must be one of ours and fit the key's type (RSA for RS256/PS256, EC P-256 for ES256):
//! `none` and HMAC are refused, so a public key can never be used as an HMAC secret.

use crate::keys::{Algorithm, KeyError, PublicKey, Signer, Verifier};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// Signs `claims` as `header.payload.signature` with the key's algorithm and `kid` in the
/// header (an RSA [`crate::keys::SigningKey`] signs RS256, [`crate::keys::Pss`] PS256, an
/// [`crate::keys::EcSigningKey`] ES256).
pub fn sign(key: &impl Signer, claims: &Value) -> Result<String, KeyError> {
    sign_typed(key, "JWT", claims)
}

/// [`sign`] with another `typ` in the header (`at+jwt` for RFC 9068 access tokens).
pub fn sign_typed(key: &impl Signer, typ: &str, claims: &Value) -> Result<String, KeyError> {
    let header = json!({"alg": key.algorithm().name(), "typ": typ, "kid": key.kid()});
    let mut out = String::with_capacity(800);
    out.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = key.sign(out.as_bytes())?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig));
    Ok(out)
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum JwtError {
    #[error("malformed token")]
    Malformed,
    #[error("unsupported algorithm")]
    Algorithm,
    #[error("unknown signing key")]
    UnknownKey,
    #[error("invalid signature")]
    Signature,
}

/// A compact token taken apart: its header and algorithm, the signed bytes, the signature
/// and the payload still encoded. An algorithm not in `allowed` (always `none` and HMAC)
/// is refused here.
struct Parts<'t> {
    header: Map<String, Value>,
    alg: Algorithm,
    signed: &'t [u8],
    signature: Vec<u8>,
    payload: &'t str,
}

fn parts<'t>(token: &'t str, allowed: &[Algorithm]) -> Result<Parts<'t>, JwtError> {
    let mut parts = token.splitn(3, '.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    if s.contains('.') {
        return Err(JwtError::Malformed);
    }
    let header: Map<String, Value> = decode_json(h)?;
    let alg = header
        .get("alg")
        .and_then(Value::as_str)
        .and_then(Algorithm::parse)
        .filter(|a| allowed.contains(a))
        .ok_or(JwtError::Algorithm)?;
    Ok(Parts {
        header,
        alg,
        signed: &token.as_bytes()[..h.len() + 1 + p.len()],
        signature: URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?,
        payload: p,
    })
}

/// Verifies the signature against the keys we publish and returns the claims: any
/// algorithm we issue, checked against the type of the key the `kid` names.
pub fn verify<K: Verifier>(
    token: &str,
    keys: impl IntoIterator<Item = K>,
) -> Result<Map<String, Value>, JwtError> {
    verify_with(token, keys, Algorithm::ALL)
}

/// [`verify`] accepting only the algorithms in `allowed`.
pub fn verify_with<K: Verifier>(
    token: &str,
    keys: impl IntoIterator<Item = K>,
    allowed: &[Algorithm],
) -> Result<Map<String, Value>, JwtError> {
    let t = parts(token, allowed)?;
    let kid = t
        .header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::UnknownKey)?;
    let key = keys
        .into_iter()
        .find(|k| k.kid() == kid)
        .ok_or(JwtError::UnknownKey)?;
    if !key.verifies(t.alg, t.signed, &t.signature) {
        return Err(JwtError::Signature);
    }
    decode_json(t.payload)
}

/// The `kid` a token's header names, unverified (to tell an unknown key from a bad token).
pub fn header_kid(token: &str) -> Option<String> {
    let header: Map<String, Value> = decode_json(token.split('.').next()?).ok()?;
    header.get("kid")?.as_str().map(String::from)
}

/// Verifies an RS256 token signed by another party (an upstream provider) against its
/// published keys: the key named by `kid`, or, when the header names none, any of them.
pub fn verify_foreign(token: &str, keys: &[PublicKey]) -> Result<Map<String, Value>, JwtError> {
    let t = parts(token, &[Algorithm::Rs256])?;
    let candidates: Vec<&PublicKey> = match t.header.get("kid").and_then(Value::as_str) {
        Some(kid) => keys.iter().filter(|k| k.kid == kid).collect(),
        None => keys.iter().collect(),
    };
    if candidates.is_empty() {
        return Err(JwtError::UnknownKey);
    }
    if candidates.iter().any(|k| k.verify(t.signed, &t.signature)) {
        decode_json(t.payload)
    } else {
        Err(JwtError::Signature)
    }
}

/// Signs `claims` with ES256 (ECDSA P-256, SHA-256) using a PKCS#8 key: Sign in with Apple
/// wants its client secret as such a token.
pub fn sign_es256(pkcs8: &[u8], kid: &str, claims: &Value) -> Result<String, KeyError> {
    use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair};
    let rng = ring::rand::SystemRandom::new();
    let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8, &rng)
        .map_err(|e| KeyError::Parse(e.to_string()))?;
    let header = json!({"alg": "ES256", "kid": kid});
    let mut out = String::with_capacity(400);
    out.push_str(&URL_SAFE_NO_PAD.encode(header.to_string()));
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
    let sig = pair
        .sign(&rng, out.as_bytes())
        .map_err(|_| KeyError::Sign)?;
    out.push('.');
    out.push_str(&URL_SAFE_NO_PAD.encode(sig.as_ref()));
    Ok(out)
}

/// The DER inside a PEM block (`-----BEGIN PRIVATE KEY-----` ...), as Apple hands out keys.
pub fn pem_to_der(pem: &str) -> Option<Vec<u8>> {
    let body: String = pem
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with("-----"))
        .collect();
    base64::engine::general_purpose::STANDARD.decode(body).ok()
}

fn decode_json(part: &str) -> Result<Map<String, Value>, JwtError> {
    let bytes = URL_SAFE_NO_PAD
        .decode(part)
        .map_err(|_| JwtError::Malformed)?;
    serde_json::from_slice(&bytes).map_err(|_| JwtError::Malformed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::keys::{EcSigningKey, Pss, SigningKey, VerifyingKey};

    #[test]
    fn ps256_and_es256_verify_with_the_right_key_type_only() {
        let rsa = SigningKey::generate().unwrap();
        let ec = EcSigningKey::generate().unwrap();
        let published = [
            VerifyingKey::Rsa(rsa.public().clone()),
            VerifyingKey::Ec(ec.public().clone()),
        ];
        let ps = sign(&Pss(&rsa), &json!({"sub": "ps"})).unwrap();
        let es = sign(&ec, &json!({"sub": "es"})).unwrap();
        let header = |t: &str| decode_json(t.split('.').next().unwrap()).unwrap();
        assert_eq!(header(&ps)["alg"], "PS256");
        assert_eq!(header(&es)["alg"], "ES256");
        assert_eq!(header(&es)["kid"], ec.kid());
        assert_eq!(verify(&ps, &published).unwrap()["sub"], "ps");
        assert_eq!(verify(&es, &published).unwrap()["sub"], "es");
        // Only the algorithms asked for.
        assert_eq!(
            verify_with(&ps, &published, &[Algorithm::Rs256]),
            Err(JwtError::Algorithm)
        );
        // An ES256 header over an RSA key's kid, or RS256 over the EC key's: refused.
        let (_, rest) = es.split_once('.').unwrap();
        let swapped = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"ES256","kid":"{}"}}"#, rsa.kid()))
        );
        assert_eq!(verify(&swapped, &published), Err(JwtError::Signature));
        let (_, rest) = ps.split_once('.').unwrap();
        let swapped = format!(
            "{}.{rest}",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"RS256","kid":"{}"}}"#, ec.kid()))
        );
        assert_eq!(verify(&swapped, &published), Err(JwtError::Signature));
        // HMAC keyed with the public key's bytes: never.
        let hs = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(format!(r#"{{"alg":"HS256","kid":"{}"}}"#, rsa.kid())),
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode("sig")
        );
        assert_eq!(verify(&hs, &published), Err(JwtError::Algorithm));
        assert_eq!(header_kid(&es).as_deref(), Some(ec.kid()));
    }

    #[test]
    fn sign_verify_and_tamper() {
        let key = SigningKey::generate().unwrap();
        let token = sign(&key, &json!({"sub": "x"})).unwrap();
        let claims = verify(&token, [key.public()]).unwrap();
        assert_eq!(claims["sub"], "x");

        let (head, _) = token.rsplit_once('.').unwrap();
        let forged = format!("{head}.{}", URL_SAFE_NO_PAD.encode([0u8; 256]));
        assert_eq!(verify(&forged, [key.public()]), Err(JwtError::Signature));

        let other = SigningKey::generate().unwrap();
        assert_eq!(verify(&token, [other.public()]), Err(JwtError::UnknownKey));

        let none_alg = format!(
            "{}.{}.",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"none"}"#),
            URL_SAFE_NO_PAD.encode("{}")
        );
        assert_eq!(verify(&none_alg, [key.public()]), Err(JwtError::Algorithm));
    }

    #[test]
    fn foreign_tokens_need_rs256_and_a_published_key() {
        let key = SigningKey::generate().unwrap();
        let other = SigningKey::generate().unwrap();
        let token = sign(&key, &json!({"sub": "x"})).unwrap();
        assert_eq!(
            verify_foreign(&token, &[key.public().clone()]).unwrap()["sub"],
            "x"
        );
        assert_eq!(
            verify_foreign(&token, &[other.public().clone()]),
            Err(JwtError::UnknownKey)
        );
        let mut renamed = other.public().clone();
        renamed.kid = key.kid().to_string();
        assert_eq!(verify_foreign(&token, &[renamed]), Err(JwtError::Signature));
        let hs = format!(
            "{}.{}.{}",
            URL_SAFE_NO_PAD.encode(r#"{"alg":"HS256"}"#),
            URL_SAFE_NO_PAD.encode("{}"),
            URL_SAFE_NO_PAD.encode("sig")
        );
        assert_eq!(
            verify_foreign(&hs, &[key.public().clone()]),
            Err(JwtError::Algorithm)
        );
    }

    #[test]
    fn es256_tokens_verify_with_the_public_key() {
        use ring::signature::{
            ECDSA_P256_SHA256_FIXED, ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair,
            UnparsedPublicKey,
        };
        let rng = ring::rand::SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let token = sign_es256(pkcs8.as_ref(), "K1", &json!({"iss": "TEAM"})).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let (signed, sig) = token.rsplit_once('.').unwrap();
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, pair.public_key().as_ref())
            .verify(signed.as_bytes(), &URL_SAFE_NO_PAD.decode(sig).unwrap())
            .unwrap();
        let pem = format!(
            "-----BEGIN PRIVATE KEY-----\n{}\n-----END PRIVATE KEY-----\n",
            base64::engine::general_purpose::STANDARD.encode(pkcs8.as_ref())
        );
        assert_eq!(pem_to_der(&pem).unwrap(), pkcs8.as_ref());
    }

    #[test]
    fn reloaded_key_keeps_kid() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(key.kid(), again.kid());
    }
}
