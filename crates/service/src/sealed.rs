//! Sealed values: state the server hands out and gets back — login transactions, the
//! `/continue` state, tickets, magic links, the dashboard's sign-in state. Each is
//! encrypted and authenticated for one purpose (AES-256-GCM with the purpose as associated
//! data, so a ticket cannot be replayed as a transaction) and carries its own expiry, checked
//! against the service clock when it comes back. The token is URL-safe base64 of the sealed
//! JSON of the value itself, so links handed out before an upgrade keep working.

use crate::Gatehouse;
use crate::error::ServiceError;
use base64::Engine;
use serde::Serialize;
use serde::de::DeserializeOwned;

/// Tokens longer than this are refused unread.
const MAX_TOKEN_BYTES: usize = 16 * 1024;

/// A value that can be sealed: what it is for, and until when it holds.
pub(crate) trait Sealable: Serialize + DeserializeOwned {
    /// The purpose bound into the seal.
    const PURPOSE: &'static str;
    /// Epoch milliseconds after which the value is refused; `None` when something else
    /// bounds it (a magic link's code expires in the database).
    fn expires_at(&self) -> Option<i64>;
}

/// Why a sealed value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Unsealed {
    /// Not one of ours, altered, sealed for another purpose, or unreadable.
    Invalid,
    /// Ours, but past its expiry.
    Expired,
}

impl Gatehouse {
    /// Seals `value` into a URL-safe token.
    pub(crate) fn seal<T: Sealable>(&self, value: &T) -> Result<String, ServiceError> {
        let json = serde_json::to_vec(value).map_err(ServiceError::internal)?;
        let sealed = self
            .inner
            .secrets
            .seal(T::PURPOSE, &json)
            .map_err(ServiceError::internal)?;
        Ok(base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sealed))
    }

    /// Opens a token made by [`Gatehouse::seal`] for the same kind of value, refusing it
    /// once expired.
    pub(crate) fn unseal<T: Sealable>(&self, token: &str) -> Result<T, Unsealed> {
        if token.len() > MAX_TOKEN_BYTES {
            return Err(Unsealed::Invalid);
        }
        let sealed = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .map_err(|_| Unsealed::Invalid)?;
        let json = self
            .inner
            .secrets
            .open(T::PURPOSE, &sealed)
            .map_err(|_| Unsealed::Invalid)?;
        let value: T = serde_json::from_slice(&json).map_err(|_| Unsealed::Invalid)?;
        match value.expires_at() {
            Some(at) if at <= self.now() => Err(Unsealed::Expired),
            _ => Ok(value),
        }
    }
}
