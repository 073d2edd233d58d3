//! The body of `POST /users/{user_id}/impersonate` (Auth0's legacy impersonation API) read
//! into an [`ImpersonationRequest`], with Auth0's "Payload validation error" wording.
//!
//! Only the shape is checked here; whether the users, the application and its callback exist
//! and fit together is the service's (it needs the stores).

use crate::authorize::ResponseType;
use crate::payload::{InvalidBody, Payload};

/// The protocol Gatehouse answers impersonations in; Auth0's `samlp`, `wsfed` and
/// `wstrust-usernamemixed` have no counterpart here.
pub const OAUTH2_PROTOCOL: &str = "oauth2";

/// Longest `state` carried: it travels in the single-use URL and back to the callback.
const MAX_STATE_CHARS: usize = 2048;
/// Longest `scope` accepted (only `openid profile email` mean anything without an audience).
const MAX_SCOPE_CHARS: usize = 1024;

/// A validated impersonation request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImpersonationRequest {
    /// The administrator starting the login.
    pub impersonator_id: String,
    /// The application the login is into.
    pub client_id: String,
    /// `code` (the default) or `token` (an access token in the fragment).
    pub response_type: ResponseType,
    /// Where the answer goes; `None` means the application's only callback.
    pub callback_url: Option<String>,
    pub state: Option<String>,
    /// The scopes asked for, `openid` by default, never `offline_access`: an impersonated
    /// login gets no refresh token.
    pub scope: String,
}

/// Why a body was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestProblem {
    /// Malformed: a missing, mistyped or unknown property.
    Invalid(InvalidBody),
    /// A protocol of Auth0's Gatehouse does not speak.
    UnsupportedProtocol(String),
}

impl From<InvalidBody> for RequestProblem {
    fn from(e: InvalidBody) -> Self {
        RequestProblem::Invalid(e)
    }
}

fn non_empty(value: String, field: &str) -> Result<String, InvalidBody> {
    if value.trim().is_empty() {
        Err(InvalidBody::on_property(
            "String is too short (0 chars), minimum 1",
            field,
        ))
    } else {
        Ok(value)
    }
}

impl ImpersonationRequest {
    pub fn from_payload(mut p: Payload) -> Result<Self, RequestProblem> {
        p.allow_only(&[
            "protocol",
            "impersonator_id",
            "client_id",
            "additionalParameters",
        ])?;
        let protocol = p.required_string("protocol")?;
        let impersonator_id = non_empty(p.required_string("impersonator_id")?, "impersonator_id")?;
        let client_id = non_empty(p.required_string("client_id")?, "client_id")?;
        if protocol != OAUTH2_PROTOCOL {
            return Err(RequestProblem::UnsupportedProtocol(format!(
                "The protocol {protocol} is not supported: only {OAUTH2_PROTOCOL} is"
            )));
        }
        let mut extra = Payload::from_value(serde_json::Value::Object(
            p.object("additionalParameters")?.unwrap_or_default(),
        ))?;
        // Auth0 ignores `audience` here (the access token serves /userinfo only); refusing
        // it says so instead of silently issuing a token the caller did not expect.
        if let Err(e) = extra.allow_only(&["response_type", "state", "callback_url", "scope"]) {
            return Err(InvalidBody::new(
                e.message
                    .replace("'.", "' on property additionalParameters."),
            )
            .into());
        }
        let field = |name: &str| format!("additionalParameters.{name}");
        let response_type = match extra.string("response_type")?.as_deref() {
            None | Some("code") => ResponseType::Code,
            Some("token") => ResponseType::Token,
            Some(_) => {
                return Err(InvalidBody::on_property(
                    "No enum match for response_type: expected code or token",
                    &field("response_type"),
                )
                .into());
            }
        };
        let callback_url = extra
            .string("callback_url")?
            .map(|c| non_empty(c, &field("callback_url")))
            .transpose()?;
        let state = extra.string("state")?.filter(|s| !s.is_empty());
        if state
            .as_ref()
            .is_some_and(|s| s.chars().count() > MAX_STATE_CHARS)
        {
            return Err(InvalidBody::on_property(
                format!("String is too long, maximum {MAX_STATE_CHARS}"),
                &field("state"),
            )
            .into());
        }
        let scope = extra.string("scope")?.unwrap_or_default();
        if scope.chars().count() > MAX_SCOPE_CHARS {
            return Err(InvalidBody::on_property(
                format!("String is too long, maximum {MAX_SCOPE_CHARS}"),
                &field("scope"),
            )
            .into());
        }
        let mut scopes: Vec<&str> = vec![];
        for s in scope.split_whitespace() {
            if s != "offline_access" && !scopes.contains(&s) {
                scopes.push(s);
            }
        }
        let scope = if scopes.is_empty() {
            "openid".to_string()
        } else {
            scopes.join(" ")
        };
        Ok(Self {
            impersonator_id,
            client_id,
            response_type,
            callback_url,
            state,
            scope,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn parse(v: serde_json::Value) -> Result<ImpersonationRequest, RequestProblem> {
        ImpersonationRequest::from_payload(Payload::from_value(v).unwrap())
    }

    fn invalid(v: serde_json::Value) -> String {
        match parse(v) {
            Err(RequestProblem::Invalid(e)) => e.message,
            other => panic!("expected an invalid body, got {other:?}"),
        }
    }

    #[test]
    fn reads_auth0s_shape_with_defaults() {
        let r =
            parse(json!({"protocol": "oauth2", "impersonator_id": "auth0|a", "client_id": "c"}))
                .unwrap();
        assert_eq!(r.response_type, ResponseType::Code);
        assert_eq!(r.scope, "openid");
        assert_eq!((r.callback_url, r.state), (None, None));
        let r = parse(json!({"protocol": "oauth2", "impersonator_id": "auth0|a", "client_id": "c",
            "additionalParameters": {"response_type": "token", "state": "s", "callback_url": "https://a/cb",
            "scope": "openid email offline_access email"}}))
        .unwrap();
        assert_eq!(r.response_type, ResponseType::Token);
        assert_eq!(r.scope, "openid email", "no refresh tokens, no repeats");
        assert_eq!(r.callback_url.as_deref(), Some("https://a/cb"));
        assert_eq!(r.state.as_deref(), Some("s"));
    }

    #[test]
    fn refuses_what_auth0_refuses_and_more() {
        assert!(invalid(json!({"impersonator_id": "a", "client_id": "c"})).contains("protocol"));
        assert!(
            invalid(json!({"protocol": "oauth2", "client_id": "c"})).contains("impersonator_id")
        );
        assert!(
            invalid(json!({"protocol": "oauth2", "impersonator_id": "a"})).contains("client_id")
        );
        assert!(
            invalid(json!({"protocol": "oauth2", "impersonator_id": "", "client_id": "c"}))
                .contains("impersonator_id")
        );
        assert!(
            invalid(
                json!({"protocol": "oauth2", "impersonator_id": "a", "client_id": "c", "x": 1})
            )
            .contains("Additional properties not allowed: x")
        );
        let audience = invalid(
            json!({"protocol": "oauth2", "impersonator_id": "a", "client_id": "c",
            "additionalParameters": {"audience": "https://api"}}),
        );
        assert!(
            audience.contains("audience' on property additionalParameters."),
            "{audience}"
        );
        assert!(
            invalid(
                json!({"protocol": "oauth2", "impersonator_id": "a", "client_id": "c",
            "additionalParameters": {"response_type": "id_token"}})
            )
            .contains("additionalParameters.response_type")
        );
        assert!(
            invalid(
                json!({"protocol": "oauth2", "impersonator_id": "a", "client_id": "c",
            "additionalParameters": {"state": "x".repeat(3000)}})
            )
            .contains("additionalParameters.state")
        );
        assert!(matches!(
            parse(json!({"protocol": "samlp", "impersonator_id": "a", "client_id": "c"})),
            Err(RequestProblem::UnsupportedProtocol(_))
        ));
    }
}
