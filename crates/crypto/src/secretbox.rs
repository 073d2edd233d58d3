//! Secrets at rest (signing keys, client secrets): AES-256-GCM with a random nonce stored
//! in front of the ciphertext. The key comes from `GATEHOUSE_SECRET_KEY` or a key file.

use ring::aead::{AES_256_GCM, Aad, LessSafeKey, NONCE_LEN, Nonce, UnboundKey};
use ring::hmac;

#[derive(Debug, thiserror::Error)]
pub enum SecretBoxError {
    #[error("the secret key must be 32 bytes")]
    KeyLength,
    #[error("could not decrypt: wrong GATEHOUSE_SECRET_KEY or damaged data")]
    Decrypt,
    #[error("encryption failed")]
    Encrypt,
}

/// An encryption key for values stored in the database.
pub struct SecretBox {
    key: LessSafeKey,
    /// A separate key for MACs (CSRF tokens), derived from the same secret.
    mac_key: hmac::Key,
}

impl std::fmt::Debug for SecretBox {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SecretBox(..)")
    }
}

impl SecretBox {
    pub fn new(key: &[u8]) -> Result<Self, SecretBoxError> {
        let unbound = UnboundKey::new(&AES_256_GCM, key).map_err(|_| SecretBoxError::KeyLength)?;
        let derived = hmac::sign(
            &hmac::Key::new(hmac::HMAC_SHA256, key),
            b"gatehouse mac key v1",
        );
        Ok(Self {
            key: LessSafeKey::new(unbound),
            mac_key: hmac::Key::new(hmac::HMAC_SHA256, derived.as_ref()),
        })
    }

    /// HMAC-SHA256 of `data` for `purpose`.
    pub fn mac(&self, purpose: &str, data: &[u8]) -> Vec<u8> {
        let mut ctx = hmac::Context::with_key(&self.mac_key);
        ctx.update(purpose.as_bytes());
        ctx.update(&[0]);
        ctx.update(data);
        ctx.sign().as_ref().to_vec()
    }

    /// Checks a MAC made by [`SecretBox::mac`] in constant time.
    pub fn verify_mac(&self, purpose: &str, data: &[u8], tag: &[u8]) -> bool {
        crate::ct_eq(&self.mac(purpose, data), tag)
    }

    /// `purpose` is bound as associated data, so a ciphertext moved to another column or
    /// row fails to decrypt instead of being accepted.
    pub fn seal(&self, purpose: &str, plaintext: &[u8]) -> Result<Vec<u8>, SecretBoxError> {
        let nonce_bytes =
            crate::random::bytes::<NONCE_LEN>().map_err(|_| SecretBoxError::Encrypt)?;
        let mut buf = plaintext.to_vec();
        self.key
            .seal_in_place_append_tag(
                Nonce::assume_unique_for_key(nonce_bytes),
                Aad::from(purpose.as_bytes()),
                &mut buf,
            )
            .map_err(|_| SecretBoxError::Encrypt)?;
        let mut out = nonce_bytes.to_vec();
        out.extend_from_slice(&buf);
        Ok(out)
    }

    pub fn open(&self, purpose: &str, sealed: &[u8]) -> Result<Vec<u8>, SecretBoxError> {
        if sealed.len() < NONCE_LEN {
            return Err(SecretBoxError::Decrypt);
        }
        let (nonce, body) = sealed.split_at(NONCE_LEN);
        let nonce = Nonce::try_assume_unique_for_key(nonce).map_err(|_| SecretBoxError::Decrypt)?;
        let mut buf = body.to_vec();
        let plain = self
            .key
            .open_in_place(nonce, Aad::from(purpose.as_bytes()), &mut buf)
            .map_err(|_| SecretBoxError::Decrypt)?;
        Ok(plain.to_vec())
    }
}

impl SecretBox {
    /// Seals text for storage in a text column: URL-safe base64 of [`SecretBox::seal`].
    pub fn seal_text(&self, purpose: &str, plaintext: &str) -> Result<String, SecretBoxError> {
        use base64::Engine;
        let sealed = self.seal(purpose, plaintext.as_bytes())?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens what [`SecretBox::seal_text`] sealed for the same purpose.
    pub fn open_text(&self, purpose: &str, sealed: &str) -> Result<String, SecretBoxError> {
        use base64::Engine;
        let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(sealed)
            .map_err(|_| SecretBoxError::Decrypt)?;
        String::from_utf8(self.open(purpose, &bytes)?).map_err(|_| SecretBoxError::Decrypt)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trip() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal_text("outbox", "Your code is 123456").unwrap();
        assert!(!sealed.contains("123456"));
        assert_eq!(
            b.open_text("outbox", &sealed).unwrap(),
            "Your code is 123456"
        );
        assert!(b.open_text("other", &sealed).is_err());
    }

    #[test]
    fn round_trip_and_purpose_binding() {
        let b = SecretBox::new(&[7u8; 32]).unwrap();
        let sealed = b.seal("client:abc", b"s3cret").unwrap();
        assert_eq!(b.open("client:abc", &sealed).unwrap(), b"s3cret");
        assert!(b.open("client:xyz", &sealed).is_err());
        assert!(
            SecretBox::new(&[7u8; 32])
                .unwrap()
                .open("client:abc", &sealed[..5])
                .is_err()
        );
        assert!(
            SecretBox::new(&[8u8; 32])
                .unwrap()
                .open("client:abc", &sealed)
                .is_err()
        );
    }
}
