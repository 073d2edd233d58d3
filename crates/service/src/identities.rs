//! Account linking: `POST /api/v2/users/{id}/identities` links another user's identity to a
//! primary user (by provider and id, or by an ID token of the secondary account), and
//! `DELETE .../identities/{provider}/{user_id}` makes it a user of its own again. A linked
//! identity keeps its row, leaves the user list, and logs in as the primary.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::user::User;
use serde_json::Value;

/// What names the identity to link.
#[derive(Debug, Clone)]
pub enum LinkRequest {
    /// `{provider, user_id, connection_id?}`.
    Identity {
        provider: String,
        user_id: String,
        connection_id: Option<String>,
    },
    /// `{link_with}`: an ID token of the secondary account, issued by this server to the
    /// calling application.
    IdToken(String),
}

impl LinkRequest {
    /// Reads Auth0's body: exactly one of the two forms, nothing else.
    pub fn parse(body: &serde_json::Map<String, Value>) -> Result<Self> {
        let bad = |m: &str| ServiceError::InvalidBody(gatehouse_core::payload::InvalidBody::new(m));
        if let Some(k) = body
            .keys()
            .find(|k| !["provider", "user_id", "connection_id", "link_with"].contains(&k.as_str()))
        {
            return Err(bad(&format!(
                "Payload validation error: 'Additional properties not allowed: {k}'."
            )));
        }
        if let Some(token) = body.get("link_with") {
            if body.len() > 1 {
                return Err(bad(
                    "Payload validation error: 'link_with cannot be sent with provider, user_id or connection_id'.",
                ));
            }
            return match token.as_str() {
                Some(t) if !t.is_empty() => Ok(Self::IdToken(t.to_string())),
                _ => Err(bad(
                    "Payload validation error: 'Expected type string' on property link_with.",
                )),
            };
        }
        let provider = match body.get("provider").and_then(Value::as_str) {
            Some(p) if !p.is_empty() => p.to_string(),
            _ => {
                return Err(bad(
                    "Payload validation error: 'Missing required property: provider'.",
                ));
            }
        };
        let user_id = match body.get("user_id") {
            Some(Value::String(s)) if !s.is_empty() => s.clone(),
            Some(Value::Number(n)) => n.to_string(),
            _ => {
                return Err(bad(
                    "Payload validation error: 'Missing required property: user_id'.",
                ));
            }
        };
        let connection_id = match body.get("connection_id") {
            None | Some(Value::Null) => None,
            Some(Value::String(c))
                if c.strip_prefix("con_").is_some_and(|r| {
                    r.len() == 16 && r.chars().all(|c| c.is_ascii_alphanumeric())
                }) =>
            {
                Some(c.clone())
            }
            Some(_) => {
                return Err(bad(
                    "Payload validation error: 'String does not match pattern ^con_[A-Za-z0-9]{16}$' on property connection_id.",
                ));
            }
        };
        Ok(Self::Identity {
            provider,
            user_id,
            connection_id,
        })
    }
}

fn bad_request(message: &str) -> ServiceError {
    ServiceError::BadReference {
        code: "invalid_body",
        message: message.into(),
    }
}

impl Gatehouse {
    /// Links the identity `req` names to `primary_id`; the primary's identities afterwards.
    /// `caller` is the calling application (an ID token in `link_with` must be for it).
    pub async fn link_identity(
        &self,
        primary_id: &str,
        req: LinkRequest,
        caller: Option<&str>,
    ) -> Result<User> {
        let primary = self.get_user(primary_id).await?;
        let secondary_id = match req {
            LinkRequest::Identity {
                provider,
                user_id,
                connection_id,
            } => {
                let id = format!("{provider}|{user_id}");
                if let Some(c) = &connection_id {
                    let found = self.inner.users.get(self.tenant(), &id).await?;
                    if found.is_some_and(|f| &f.user.connection_id != c) {
                        return Err(bad_request("Provided secondary account not found."));
                    }
                }
                id
            }
            LinkRequest::IdToken(token) => self.secondary_from_id_token(&token, caller)?,
        };
        if secondary_id == primary.user_id {
            return Err(bad_request("Main identity and the new one are the same."));
        }
        let secondary = self
            .inner
            .users
            .get(self.tenant(), &secondary_id)
            .await?
            .ok_or_else(|| bad_request("Provided secondary account not found."))?;
        if secondary.linked_to.is_some() {
            return Err(ServiceError::Conflict(
                "Specified identity already exists.".into(),
            ));
        }
        if !secondary.user.linked_identities.is_empty() {
            return Err(bad_request(
                "Unable to link with the secondary account: it has linked identities of its own; unlink them first.",
            ));
        }
        if !self
            .inner
            .users
            .link(self.tenant(), &primary.user_id, &secondary_id, self.now())
            .await?
        {
            // Another request linked one of the two meanwhile.
            return Err(ServiceError::Conflict(
                "Specified identity already exists.".into(),
            ));
        }
        self.record(gatehouse_core::log_event::LogEvent {
            kind: "sui".into(),
            description: Some(format!("linked {secondary_id}")),
            user_id: Some(primary.user_id.clone()),
            ..Default::default()
        })
        .await;
        self.get_user(&primary.user_id).await
    }

    /// Unlinks `provider|user_id` from `primary_id`; the primary's remaining identities.
    /// The identity becomes a user again, with its own profile and no metadata.
    pub async fn unlink_identity(
        &self,
        primary_id: &str,
        provider: &str,
        user_id: &str,
    ) -> Result<User> {
        let primary = self.get_user(primary_id).await?;
        let secondary_id = format!("{provider}|{user_id}");
        if secondary_id == primary.user_id {
            return Err(ServiceError::NotSupported(
                "Main identity cannot be removed.".into(),
            ));
        }
        if !self
            .inner
            .users
            .unlink(self.tenant(), &primary.user_id, &secondary_id, self.now())
            .await?
        {
            return Err(ServiceError::NotFound {
                code: "inexistent_identity",
                message: format!("The user has no linked identity {secondary_id}."),
            });
        }
        self.get_user(&primary.user_id).await
    }

    /// The user an ID token of ours names, checked as Auth0 checks `link_with`: signed with
    /// our key (RS256), issued by us, unexpired, and for the calling application.
    fn secondary_from_id_token(&self, token: &str, caller: Option<&str>) -> Result<String> {
        let invalid = || bad_request("Invalid token (link_with).");
        let claims = gatehouse_crypto::jwt::verify_with(
            token,
            self.keyring().published(),
            gatehouse_crypto::keys::ID_TOKEN_ALGORITHMS,
        )
        .map_err(|_| invalid())?;
        let issuer = self.config().issuer();
        if claims.get("iss").and_then(Value::as_str) != Some(issuer.as_str()) {
            return Err(bad_request(
                "Invalid token (link_with): the token must have the same issuer.",
            ));
        }
        if claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_none_or(|exp| exp * 1000 <= self.now())
        {
            return Err(invalid());
        }
        let aud_ok = match (claims.get("aud"), caller) {
            (Some(Value::String(a)), Some(c)) => a == c,
            (Some(Value::Array(a)), Some(c)) => a.iter().any(|v| v.as_str() == Some(c)),
            _ => false,
        };
        if !aud_ok {
            return Err(bad_request(
                "Invalid token (link_with): the audience must match the azp of the access token.",
            ));
        }
        claims
            .get("sub")
            .and_then(Value::as_str)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .ok_or_else(|| bad_request("Invalid token (link_with): the token must contain sub."))
    }
}
