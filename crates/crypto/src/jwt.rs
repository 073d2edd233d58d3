//! Compact JWS tokens signed with RS256. Claim checks (issuer, audience, expiry) belong to
//! the caller; this module only proves who signed what.

use crate::keys::{KeyError, PublicKey, SigningKey};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value, json};

/// Signs `claims` as `header.payload.signature` with the key's `kid` in the header.
pub fn sign(key: &SigningKey, claims: &Value) -> Result<String, KeyError> {
    let header = json!({"alg": "RS256", "typ": "JWT", "kid": key.kid()});
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

/// Verifies the signature against the keys we publish and returns the claims.
pub fn verify<'k>(
    token: &str,
    keys: impl IntoIterator<Item = &'k PublicKey>,
) -> Result<Map<String, Value>, JwtError> {
    let mut parts = token.splitn(3, '.');
    let (Some(h), Some(p), Some(s)) = (parts.next(), parts.next(), parts.next()) else {
        return Err(JwtError::Malformed);
    };
    if s.contains('.') {
        return Err(JwtError::Malformed);
    }
    let header: Map<String, Value> = decode_json(h)?;
    if header.get("alg").and_then(Value::as_str) != Some("RS256") {
        return Err(JwtError::Algorithm);
    }
    let kid = header
        .get("kid")
        .and_then(Value::as_str)
        .ok_or(JwtError::UnknownKey)?;
    let key = keys
        .into_iter()
        .find(|k| k.kid == kid)
        .ok_or(JwtError::UnknownKey)?;
    let sig = URL_SAFE_NO_PAD.decode(s).map_err(|_| JwtError::Malformed)?;
    let signed_len = h.len() + 1 + p.len();
    if !key.verify(&token.as_bytes()[..signed_len], &sig) {
        return Err(JwtError::Signature);
    }
    decode_json(p)
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
    fn reloaded_key_keeps_kid() {
        let key = SigningKey::generate().unwrap();
        let again = SigningKey::from_pkcs8(key.pkcs8()).unwrap();
        assert_eq!(key.kid(), again.kid());
    }
}
