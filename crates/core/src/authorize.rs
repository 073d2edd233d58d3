//! The parameters of `GET /authorize` and the rules on them that need no storage: which
//! response types and modes go together, prompts, `max_age`, and PKCE challenges.
//!
//! The client and its `redirect_uri` are checked first by the service (an unknown client or
//! callback is shown on an error page, never redirected to); every later problem here is an
//! [`AuthorizeProblem`] that goes back to the callback as `error` / `error_description`.

use serde::{Deserialize, Serialize};
use std::collections::HashMap;

/// What the application asked to receive.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseType {
    /// `code`: the authorization-code flow (with PKCE for public clients).
    Code,
    /// `id_token`: legacy implicit flow, ID token only.
    IdToken,
    /// `token`: legacy implicit flow, access token only.
    Token,
    /// `id_token token` in either order.
    IdTokenToken,
}

impl ResponseType {
    fn parse(s: &str) -> Option<Self> {
        let mut parts: Vec<&str> = s.split_whitespace().collect();
        parts.sort_unstable();
        match parts.as_slice() {
            ["code"] => Some(Self::Code),
            ["id_token"] => Some(Self::IdToken),
            ["token"] => Some(Self::Token),
            ["id_token", "token"] => Some(Self::IdTokenToken),
            _ => None,
        }
    }
    /// As `/authorize` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Code => "code",
            Self::IdToken => "id_token",
            Self::Token => "token",
            Self::IdTokenToken => "id_token token",
        }
    }
    pub fn wants_id_token(self) -> bool {
        matches!(self, Self::IdToken | Self::IdTokenToken)
    }
    pub fn wants_access_token(self) -> bool {
        matches!(self, Self::Token | Self::IdTokenToken)
    }
}

/// How the answer travels back to the callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ResponseMode {
    Query,
    Fragment,
    FormPost,
    /// Auth0's `web_message`: a page that posts the answer to the window that opened it
    /// (a popup's opener, a silent-authentication iframe's parent) at the callback's origin.
    WebMessage,
}

impl ResponseMode {
    /// Whether `q` asks for `response_mode=web_message`: its callback's origin must then be
    /// one of the application's web origins before any answer is posted to it.
    pub fn asks_web_message(q: &HashMap<String, String>) -> bool {
        q.get("response_mode").map(String::as_str) == Some("web_message")
    }
}

impl ResponseMode {
    /// The mode asked for, else the response type's default (fragment when tokens travel):
    /// used before the rest of the request is known to be valid, to send its error back.
    pub fn for_error(q: &HashMap<String, String>) -> Self {
        let implicit = q
            .get("response_type")
            .and_then(|r| ResponseType::parse(r))
            .is_some_and(|t| t != ResponseType::Code);
        match q.get("response_mode").map(String::as_str) {
            Some("form_post") => Self::FormPost,
            Some("web_message") => Self::WebMessage,
            Some("fragment") => Self::Fragment,
            Some("query") if !implicit => Self::Query,
            _ if implicit => Self::Fragment,
            _ => Self::Query,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Prompt {
    /// Answer without showing anything: a code, or `login_required` / `consent_required`.
    None,
    /// Ask for the password again even with a session.
    Login,
    /// Show the consent page even when the scopes were granted before.
    Consent,
}

impl Prompt {
    pub fn as_str(self) -> &'static str {
        match self {
            Prompt::None => "none",
            Prompt::Login => "login",
            Prompt::Consent => "consent",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChallengeMethod {
    S256,
    Plain,
}

/// An error sent to the callback (RFC 6749 §4.1.2.1), with Auth0's descriptions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuthorizeProblem {
    pub error: &'static str,
    pub description: String,
}

impl AuthorizeProblem {
    pub fn new(error: &'static str, description: impl Into<String>) -> Self {
        Self {
            error,
            description: description.into(),
        }
    }
    fn invalid(description: impl Into<String>) -> Self {
        Self::new("invalid_request", description)
    }
}

/// A validated `/authorize` request. It is sealed into the login page's transaction, so it
/// carries everything needed to finish the flow after the user authenticates.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizeRequest {
    pub client_id: String,
    /// The callback, already matched against the client's Allowed Callback URLs.
    pub redirect_uri: String,
    pub response_type: ResponseType,
    pub response_mode: ResponseMode,
    pub scope: String,
    pub state: Option<String>,
    pub nonce: Option<String>,
    pub audience: Option<String>,
    pub connection: Option<String>,
    pub prompt: Option<Prompt>,
    /// Seconds since the last authentication beyond which the user must log in again.
    pub max_age: Option<i64>,
    pub login_hint: Option<String>,
    /// `screen_hint=signup` opens the sign-up page first.
    pub signup_first: bool,
    pub code_challenge: Option<String>,
    pub code_challenge_method: Option<ChallengeMethod>,
}

fn non_empty<'a>(q: &'a HashMap<String, String>, k: &str) -> Option<&'a str> {
    q.get(k).map(String::as_str).filter(|v| !v.is_empty())
}

impl AuthorizeRequest {
    /// Validates the parameters other than `client_id` and `redirect_uri`, which the caller
    /// has checked. `public_client` marks clients that cannot keep a secret: they must use
    /// PKCE with the code flow.
    pub fn parse(
        q: &HashMap<String, String>,
        client_id: &str,
        redirect_uri: &str,
        public_client: bool,
    ) -> Result<Self, AuthorizeProblem> {
        let state = non_empty(q, "state").map(String::from);
        let response_type = match non_empty(q, "response_type") {
            None => {
                return Err(AuthorizeProblem::invalid(
                    "Missing required parameter: response_type",
                ));
            }
            Some(rt) => ResponseType::parse(rt).ok_or_else(|| {
                AuthorizeProblem::new(
                    "unsupported_response_type",
                    format!("Unsupported response type: {rt}"),
                )
            })?,
        };
        let response_mode = match non_empty(q, "response_mode") {
            None if response_type == ResponseType::Code => ResponseMode::Query,
            None => ResponseMode::Fragment,
            Some("query") if response_type != ResponseType::Code => {
                // Tokens in a query string end up in server logs and Referer headers.
                return Err(AuthorizeProblem::invalid(
                    "response_mode=query is not allowed with tokens in the response",
                ));
            }
            Some("query") => ResponseMode::Query,
            Some("fragment") => ResponseMode::Fragment,
            Some("form_post") => ResponseMode::FormPost,
            Some("web_message") => ResponseMode::WebMessage,
            Some(other) => {
                return Err(AuthorizeProblem::invalid(format!(
                    "Unsupported response_mode: {other}"
                )));
            }
        };
        let scope = non_empty(q, "scope").unwrap_or("openid").to_string();
        let nonce = non_empty(q, "nonce").map(String::from);
        if response_type.wants_id_token() && nonce.is_none() {
            return Err(AuthorizeProblem::invalid(
                "Missing required parameter: nonce",
            ));
        }
        let prompt = match non_empty(q, "prompt") {
            None => None,
            Some("none") => Some(Prompt::None),
            Some("login") => Some(Prompt::Login),
            Some("consent") => Some(Prompt::Consent),
            Some(other) => {
                return Err(AuthorizeProblem::invalid(format!(
                    "Unsupported prompt: {other}"
                )));
            }
        };
        let max_age = match non_empty(q, "max_age") {
            None => None,
            Some(v) => Some(v.parse::<i64>().ok().filter(|n| *n >= 0).ok_or_else(|| {
                AuthorizeProblem::invalid("max_age must be a non-negative integer")
            })?),
        };
        let code_challenge = non_empty(q, "code_challenge").map(String::from);
        // S256 when the method is left out, and `plain` only for confidential clients: a
        // public client's `plain` challenge is its verifier, readable wherever the
        // authorization request is (security review L6; RFC 9700).
        let code_challenge_method = match (non_empty(q, "code_challenge_method"), &code_challenge) {
            (_, None) => None,
            (Some("plain"), Some(_)) if public_client => {
                return Err(AuthorizeProblem::invalid(
                    "code_challenge_method plain is not allowed for public clients; use S256",
                ));
            }
            (Some("plain"), Some(_)) => Some(ChallengeMethod::Plain),
            (None | Some("S256"), Some(_)) => Some(ChallengeMethod::S256),
            (Some(other), Some(_)) => {
                return Err(AuthorizeProblem::invalid(format!(
                    "Unsupported code_challenge_method: {other}"
                )));
            }
        };
        if let Some(c) = &code_challenge
            && !valid_pkce_string(c)
        {
            return Err(AuthorizeProblem::invalid(
                "code_challenge must be 43 to 128 characters of [A-Za-z0-9-._~]",
            ));
        }
        if response_type == ResponseType::Code && public_client && code_challenge.is_none() {
            return Err(AuthorizeProblem::invalid(
                "Missing required parameter: code_challenge (PKCE is required for public clients)",
            ));
        }
        Ok(Self {
            client_id: client_id.to_string(),
            redirect_uri: redirect_uri.to_string(),
            response_type,
            response_mode,
            scope,
            state,
            nonce,
            audience: non_empty(q, "audience").map(String::from),
            connection: non_empty(q, "connection").map(String::from),
            prompt,
            max_age,
            login_hint: non_empty(q, "login_hint").map(String::from),
            signup_first: non_empty(q, "screen_hint") == Some("signup"),
            code_challenge,
            code_challenge_method,
        })
    }

    pub fn scopes(&self) -> impl Iterator<Item = &str> {
        self.scope.split_whitespace()
    }
}

/// RFC 7636 §4.1: verifiers (and plain challenges) are 43–128 unreserved characters.
pub fn valid_pkce_string(s: &str) -> bool {
    (43..=128).contains(&s.len())
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// Where the answer goes: `redirect_uri` plus the parameters in the query or fragment.
/// For `form_post` and `web_message` the caller renders a page instead.
pub fn redirect_url(redirect_uri: &str, mode: ResponseMode, params: &[(&str, &str)]) -> String {
    let encoded: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect();
    let encoded = encoded.join("&");
    match mode {
        ResponseMode::Fragment => format!("{redirect_uri}#{encoded}"),
        ResponseMode::Query | ResponseMode::FormPost | ResponseMode::WebMessage => {
            let sep = if redirect_uri.contains('?') { '&' } else { '?' };
            format!("{redirect_uri}{sep}{encoded}")
        }
    }
}

/// Percent-encodes everything but RFC 3986's unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn q(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    const CHALLENGE: &str = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM";

    #[test]
    fn code_flow_defaults() {
        let r = AuthorizeRequest::parse(
            &q(&[("response_type", "code"), ("state", "s")]),
            "c",
            "https://a/cb",
            false,
        )
        .unwrap();
        assert_eq!(r.response_mode, ResponseMode::Query);
        assert_eq!(r.scope, "openid");
        assert_eq!(r.state.as_deref(), Some("s"));
    }

    #[test]
    fn web_message_goes_with_every_response_type() {
        for (rt, nonce) in [("code", None), ("token id_token", Some("n"))] {
            let mut pairs = vec![("response_type", rt), ("response_mode", "web_message")];
            if let Some(n) = nonce {
                pairs.push(("nonce", n));
            }
            let r = AuthorizeRequest::parse(&q(&pairs), "c", "https://a/cb", false).unwrap();
            assert_eq!(r.response_mode, ResponseMode::WebMessage, "{rt}");
            assert_eq!(
                ResponseMode::for_error(&q(&pairs)),
                ResponseMode::WebMessage
            );
            assert!(ResponseMode::asks_web_message(&q(&pairs)));
        }
        assert!(!ResponseMode::asks_web_message(&q(&[(
            "response_mode",
            "query"
        )])));
    }

    #[test]
    fn public_clients_need_pkce() {
        let base = [("response_type", "code")];
        let e = AuthorizeRequest::parse(&q(&base), "c", "https://a/cb", true).unwrap_err();
        assert_eq!(e.error, "invalid_request");
        let ok = AuthorizeRequest::parse(
            &q(&[
                ("response_type", "code"),
                ("code_challenge", CHALLENGE),
                ("code_challenge_method", "S256"),
            ]),
            "c",
            "https://a/cb",
            true,
        )
        .unwrap();
        assert_eq!(ok.code_challenge_method, Some(ChallengeMethod::S256));
    }

    #[test]
    fn refuses_bad_parameters() {
        for (pairs, error) in [
            (vec![], "invalid_request"),
            (
                vec![("response_type", "code id_token")],
                "unsupported_response_type",
            ),
            (vec![("response_type", "id_token")], "invalid_request"),
            (
                vec![("response_type", "token"), ("response_mode", "query")],
                "invalid_request",
            ),
            (
                vec![("response_type", "code"), ("prompt", "select_account")],
                "invalid_request",
            ),
            (
                vec![("response_type", "code"), ("max_age", "-1")],
                "invalid_request",
            ),
            (
                vec![("response_type", "code"), ("max_age", "x")],
                "invalid_request",
            ),
            (
                vec![
                    ("response_type", "code"),
                    ("code_challenge", CHALLENGE),
                    ("code_challenge_method", "S512"),
                ],
                "invalid_request",
            ),
            (
                vec![("response_type", "code"), ("code_challenge", "short")],
                "invalid_request",
            ),
        ] {
            let e = AuthorizeRequest::parse(&q(&pairs), "c", "https://a/cb", false).unwrap_err();
            assert_eq!(e.error, error, "{pairs:?}");
        }
    }

    #[test]
    fn implicit_defaults_to_fragment() {
        let r = AuthorizeRequest::parse(
            &q(&[("response_type", "token id_token"), ("nonce", "n")]),
            "c",
            "https://a/cb",
            false,
        )
        .unwrap();
        assert_eq!(r.response_type, ResponseType::IdTokenToken);
        assert_eq!(r.response_mode, ResponseMode::Fragment);
    }

    #[test]
    fn builds_redirects() {
        assert_eq!(
            redirect_url(
                "https://a/cb?x=1",
                ResponseMode::Query,
                &[("code", "c d"), ("state", "a&b=")]
            ),
            "https://a/cb?x=1&code=c%20d&state=a%26b%3D"
        );
        assert_eq!(
            redirect_url("https://a/cb", ResponseMode::Fragment, &[("id_token", "t")]),
            "https://a/cb#id_token=t"
        );
    }
}
