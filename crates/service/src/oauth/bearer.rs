//! Bearer tokens presented to us: Management API access tokens (signature, issuer,
//! audience, expiry) and `/userinfo`.

use super::mint::user_claims;
use crate::{Failure, Gatehouse};
use gatehouse_core::user::User;
use gatehouse_crypto::keys::Algorithm;
use serde_json::{Map, Value};

#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum TokenRejection {
    #[error("Invalid token")]
    Invalid,
    #[error("Expired token")]
    Expired,
    #[error("Bad audience")]
    Audience,
}

/// A verified Management API access token.
#[derive(Debug, Clone)]
pub struct AccessClaims {
    pub subject: String,
    /// The client the token was issued to (`azp`); rate limits are kept per client.
    pub client_id: String,
    pub scopes: Vec<String>,
}

impl AccessClaims {
    /// A token issued to a user through a login (its subject is the user), not to a client
    /// through `client_credentials` (its subject is `<client_id>@clients`).
    pub fn is_user(&self) -> bool {
        self.subject.strip_suffix("@clients") != Some(self.client_id.as_str())
    }

    /// Whether the token carries any of `wanted`. A user's token counts only the user's own
    /// (`current_user`) scopes, and a client's token never counts those: whatever else a
    /// token names opens nothing.
    pub fn has_any(&self, wanted: &[&str]) -> bool {
        let user = self.is_user();
        wanted
            .iter()
            .filter(|w| gatehouse_core::scopes::is_current_user_scope(w) == user)
            .any(|w| self.scopes.iter().any(|s| s == w))
    }
}

impl Gatehouse {
    /// Checks a Management API bearer token: signature (RS256, the Management API's
    /// algorithm whatever it is set to), issuer, audience and expiry.
    pub async fn verify_management_token(
        &self,
        token: &str,
    ) -> Result<AccessClaims, TokenRejection> {
        // Which check failed is not the caller's business: every failure is "Invalid token".
        let claims = self
            .verify_own_token(token, &[Algorithm::Rs256])
            .await
            .map_err(|_| TokenRejection::Invalid)?;
        let str_claim =
            |m: &Map<String, Value>, k: &str| m.get(k).and_then(Value::as_str).map(String::from);
        if str_claim(&claims, "iss").as_deref() != Some(self.config().issuer().as_str()) {
            return Err(TokenRejection::Invalid);
        }
        let audience = self.config().management_audience();
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == audience,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(audience.as_str())),
            _ => false,
        };
        if !aud_ok {
            return Err(TokenRejection::Audience);
        }
        let exp = claims
            .get("exp")
            .and_then(Value::as_i64)
            .ok_or(TokenRejection::Invalid)?;
        if exp <= self.now() / 1000 {
            return Err(TokenRejection::Expired);
        }
        let subject = str_claim(&claims, "sub").ok_or(TokenRejection::Invalid)?;
        // `azp` in Auth0's dialect, `client_id` in RFC 9068's.
        let client_id = str_claim(&claims, "azp")
            .or_else(|| str_claim(&claims, "client_id"))
            .or_else(|| subject.strip_suffix("@clients").map(String::from))
            .unwrap_or_else(|| subject.clone());
        let scopes = str_claim(&claims, "scope")
            .map(|s| s.split_whitespace().map(String::from).collect())
            .unwrap_or_default();
        Ok(AccessClaims {
            subject,
            client_id,
            scopes,
        })
    }

    /// `/userinfo`: the claims of the token's user, read fresh, for the token's OIDC scopes;
    /// `None` for a token that is not valid here. Reading the user can fail (the database):
    /// that is ours, never "invalid token".
    pub async fn userinfo(&self, token: &str) -> Result<Option<Map<String, Value>>, Failure> {
        // A key revoked through another server is refused here at once.
        self.follow_configuration().await?;
        // Any algorithm an API may choose: the token may be for an API and `/userinfo`.
        let Ok(claims) = self.verify_own_token(token, Algorithm::ALL).await else {
            return Ok(None);
        };
        Ok(self.userinfo_user(&claims).await?.map(|(user, scopes)| {
            let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
            user_claims(&user, &scopes)
        }))
    }

    /// The live user a `/userinfo` token names and the token's scopes, if the token holds.
    async fn userinfo_user(
        &self,
        claims: &Map<String, Value>,
    ) -> Result<Option<(User, Vec<String>)>, Failure> {
        let userinfo = format!("{}userinfo", self.config().issuer());
        let aud_ok = match claims.get("aud") {
            Some(Value::String(a)) => *a == userinfo,
            Some(Value::Array(list)) => list.iter().any(|a| a.as_str() == Some(userinfo.as_str())),
            _ => false,
        };
        let live = claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| exp > self.now() / 1000);
        let ours = claims.get("iss").and_then(Value::as_str) == Some(&self.config().issuer());
        let (Some(sub), Some(iat)) = (
            claims.get("sub").and_then(Value::as_str),
            claims.get("iat").and_then(Value::as_i64),
        ) else {
            return Ok(None);
        };
        if !aud_ok || !live || !ours {
            return Ok(None);
        }
        let scopes = claims
            .get("scope")
            .and_then(Value::as_str)
            .unwrap_or("")
            .split_whitespace()
            .map(String::from)
            .collect();
        let Some(found) = self.inner.users.get(self.tenant(), sub).await? else {
            return Ok(None);
        };
        // A token issued before this user existed was issued to a deleted user whose id
        // has been given to someone else.
        if found.user.created_at / 1000 > iat {
            return Ok(None);
        }
        Ok(Some((found.user, scopes)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(subject: &str, client_id: &str, scopes: &[&str]) -> AccessClaims {
        AccessClaims {
            subject: subject.into(),
            client_id: client_id.into(),
            scopes: scopes.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn a_users_token_counts_only_the_users_own_scopes() {
        let user = claims(
            "auth0|5f1c0e3a9b7d",
            "spaClientId",
            &["read:current_user", "read:users"],
        );
        assert!(user.is_user());
        assert!(user.has_any(&["read:current_user"]));
        assert!(!user.has_any(&["read:users"]), "never a client's scope");
        // A user id that happens to end like a client's subject is still a user's.
        let odd = claims("auth0|x@clients", "spaClientId", &["read:current_user"]);
        assert!(odd.is_user());
        let client = claims(
            "m2mClient@clients",
            "m2mClient",
            &["read:users", "read:current_user"],
        );
        assert!(!client.is_user());
        assert!(client.has_any(&["read:users"]));
        assert!(!client.has_any(&["read:current_user"]), "no user behind it");
    }
}
