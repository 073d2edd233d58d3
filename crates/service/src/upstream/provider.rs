//! One upstream provider's endpoints and the calls made to it during a login.

use crate::Gatehouse;
use crate::error::ServiceError;
use gatehouse_core::upstream::profile::{
    ProfileProblem, ProviderAnswer, UpstreamProfile, normalize,
};
use gatehouse_core::upstream::{
    Channel, ProfileShape, Protocol, UpstreamOptions, check_provider_url,
};
use gatehouse_crypto::keys::PublicKey;
use gatehouse_store::StoredConnection;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// Discovery documents and key sets are kept this long.
const CACHE_MS: i64 = 60 * 60 * 1000;
/// A token signed by a key we do not know refetches the key set, at most this often.
const KEY_REFETCH_MS: i64 = 10 * 1000;
/// Seconds of clock difference tolerated on an ID token's times.
const CLOCK_SKEW_SECS: i64 = 60;
/// Provider answers larger than this are refused unread.
const MAX_ANSWER_BYTES: usize = 256 * 1024;

/// Why a login at a provider did not produce a user.
#[derive(Debug, thiserror::Error)]
pub(crate) enum UpstreamError {
    /// The provider could not be reached or answered with a server error: the user sees a
    /// page saying so, and nothing is stored.
    #[error("the identity provider could not be reached ({0})")]
    Unreachable(String),
    /// The provider refused (an OAuth error at its token endpoint, or an answer we cannot
    /// use): the application hears `access_denied` at its callback.
    #[error("{0}")]
    Refused(String),
    #[error("the ID token is not valid: {0}")]
    InvalidIdToken(String),
    #[error(transparent)]
    Profile(#[from] ProfileProblem),
    /// The connection lacks something it needs (a client id, a secret).
    #[error("the connection is not configured: {0}")]
    Misconfigured(String),
    #[error(transparent)]
    Ours(#[from] ServiceError),
}

/// Where a provider is reached.
#[derive(Debug, Clone)]
pub(crate) struct Endpoints {
    pub issuer: Option<String>,
    pub authorization_endpoint: String,
    pub token_endpoint: Option<String>,
    pub userinfo_endpoint: Option<String>,
    pub jwks_uri: Option<String>,
    /// From discovery: the provider accepts S256 code challenges.
    pub s256_supported: bool,
    /// From discovery: the token endpoint takes `client_secret_basic` only.
    pub basic_auth_only: bool,
}

/// Discovery documents and JWKS by URL, with when they were fetched (service clock).
#[derive(Debug, Default)]
pub(crate) struct ProviderCache {
    documents: Mutex<HashMap<String, (i64, Value)>>,
}

impl ProviderCache {
    fn get(&self, url: &str, now: i64, max_age: i64) -> Option<Value> {
        // A cache is still a cache after a panic elsewhere held its lock.
        let docs = self.documents.lock().unwrap_or_else(|p| p.into_inner());
        docs.get(url)
            .filter(|(at, _)| now - at < max_age)
            .map(|(_, v)| v.clone())
    }

    fn put(&self, url: &str, now: i64, v: Value) {
        self.documents
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(url.to_string(), (now, v));
    }
}

/// What a successful login at the provider brought back.
#[derive(Debug)]
pub(crate) struct UpstreamLogin {
    pub profile: UpstreamProfile,
    pub access_token: Option<String>,
    pub refresh_token: Option<String>,
    pub expires_in: Option<i64>,
}

fn unreachable(e: reqwest::Error) -> UpstreamError {
    // reqwest's text names the URL, never a body: no secret reaches the log.
    UpstreamError::Unreachable(e.without_url().to_string())
}

impl Gatehouse {
    /// A preset's documented URL, or the operator's stand-in for its origin
    /// (`GATEHOUSE_UPSTREAM_ORIGIN_OVERRIDES`, for tests and local development).
    fn preset_url(&self, strategy: &str, url: &str) -> String {
        match self.inner.config.upstream_origin_overrides.get(strategy) {
            Some(origin) => match url
                .find("://")
                .and_then(|i| url[i + 3..].find('/').map(|j| i + 3 + j))
            {
                Some(path_start) => {
                    format!("{}{}", origin.trim_end_matches('/'), &url[path_start..])
                }
                None => origin.clone(),
            },
            None => url.to_string(),
        }
    }

    /// The connection's endpoints: a preset's, the ones configured, or its discovery
    /// document's (cached).
    pub(crate) async fn provider_endpoints(
        &self,
        o: &UpstreamOptions,
    ) -> Result<Endpoints, UpstreamError> {
        if let Some(p) = o.preset {
            let u = |url: &str| self.preset_url(p.strategy, url);
            return Ok(Endpoints {
                issuer: p.issuer.map(String::from),
                authorization_endpoint: u(p.authorization_endpoint),
                token_endpoint: Some(u(p.token_endpoint)),
                userinfo_endpoint: p.userinfo_endpoint.map(u),
                jwks_uri: p.jwks_uri.map(u),
                s256_supported: p.pkce,
                basic_auth_only: false,
            });
        }
        let discovered = match &o.discovery_url {
            Some(url) => Some(self.discovery(url).await?),
            None => None,
        };
        let from_doc = |key: &str| -> Result<Option<String>, UpstreamError> {
            let Some(v) = discovered
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_str)
            else {
                return Ok(None);
            };
            if key != "issuer" {
                check_provider_url(v).map_err(|why| {
                    UpstreamError::Refused(format!("discovery document: {key}: {why}"))
                })?;
            }
            Ok(Some(v.to_string()))
        };
        let pick = |given: &Option<String>, key: &str| -> Result<Option<String>, UpstreamError> {
            match given {
                Some(v) => Ok(Some(v.clone())),
                None => from_doc(key),
            }
        };
        let authorization_endpoint = pick(&o.authorization_endpoint, "authorization_endpoint")?
            .ok_or_else(|| UpstreamError::Misconfigured("no authorization endpoint".into()))?;
        let methods = |key: &str| -> Vec<String> {
            discovered
                .as_ref()
                .and_then(|d| d.get(key))
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(String::from)
                        .collect()
                })
                .unwrap_or_default()
        };
        let auth_methods = methods("token_endpoint_auth_methods_supported");
        Ok(Endpoints {
            issuer: pick(&o.issuer, "issuer")?,
            authorization_endpoint,
            token_endpoint: pick(&o.token_endpoint, "token_endpoint")?,
            userinfo_endpoint: pick(&o.userinfo_endpoint, "userinfo_endpoint")?,
            jwks_uri: pick(&o.jwks_uri, "jwks_uri")?,
            s256_supported: methods("code_challenge_methods_supported")
                .iter()
                .any(|m| m == "S256"),
            basic_auth_only: !auth_methods.is_empty()
                && !auth_methods.iter().any(|m| m == "client_secret_post")
                && auth_methods.iter().any(|m| m == "client_secret_basic"),
        })
    }

    async fn fetch_json(
        &self,
        url: &str,
        bearer: Option<&str>,
        github: bool,
    ) -> Result<Value, UpstreamError> {
        let mut req = self
            .inner
            .http
            .get(url)
            .header("accept", "application/json");
        if github {
            // GitHub's API refuses requests without a user agent.
            req = req
                .header("user-agent", "Gatehouse")
                .header("accept", "application/vnd.github+json");
        }
        if let Some(t) = bearer {
            req = req.bearer_auth(t);
        }
        let resp = req.send().await.map_err(unreachable)?;
        read_json(resp).await
    }

    async fn discovery(&self, url: &str) -> Result<Value, UpstreamError> {
        let now = self.now();
        if let Some(doc) = self.inner.provider_cache.get(url, now, CACHE_MS) {
            return Ok(doc);
        }
        let doc = self.fetch_json(url, None, false).await?;
        self.inner.provider_cache.put(url, now, doc.clone());
        Ok(doc)
    }

    /// The provider's signing keys; `refresh` fetches them again unless that happened
    /// moments ago (a token under a new key after a rotation).
    async fn provider_keys(
        &self,
        jwks_uri: &str,
        refresh: bool,
    ) -> Result<Vec<PublicKey>, UpstreamError> {
        let now = self.now();
        let max_age = if refresh { KEY_REFETCH_MS } else { CACHE_MS };
        let doc = match self.inner.provider_cache.get(jwks_uri, now, max_age) {
            Some(doc) => doc,
            None => {
                let doc = self.fetch_json(jwks_uri, None, false).await?;
                self.inner.provider_cache.put(jwks_uri, now, doc.clone());
                doc
            }
        };
        Ok(rsa_keys(&doc))
    }

    /// Checks an ID token from the provider: its signature against the provider's keys
    /// (refetched once when the key is unknown), then issuer, audience, times and nonce.
    pub(crate) async fn verify_id_token(
        &self,
        token: &str,
        endpoints: &Endpoints,
        client_id: &str,
        nonce: &str,
    ) -> Result<Map<String, Value>, UpstreamError> {
        use gatehouse_crypto::jwt::{JwtError, verify_foreign};
        let jwks_uri = endpoints
            .jwks_uri
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("no jwks_uri".into()))?;
        let keys = self.provider_keys(jwks_uri, false).await?;
        let claims = match verify_foreign(token, &keys) {
            Err(JwtError::UnknownKey) => {
                let keys = self.provider_keys(jwks_uri, true).await?;
                verify_foreign(token, &keys)
            }
            other => other,
        }
        .map_err(|e| UpstreamError::InvalidIdToken(e.to_string()))?;
        let bad = |why: &str| Err(UpstreamError::InvalidIdToken(why.into()));
        if let Some(iss) = &endpoints.issuer
            && claims.get("iss").and_then(Value::as_str) != Some(iss)
        {
            return bad("unexpected issuer");
        }
        let audience_ok = match claims.get("aud") {
            Some(Value::String(a)) => a == client_id,
            Some(Value::Array(a)) => {
                a.iter().any(|v| v.as_str() == Some(client_id))
                    && (a.len() == 1
                        || claims.get("azp").and_then(Value::as_str) == Some(client_id))
            }
            _ => false,
        };
        if !audience_ok {
            return bad("the token is for another audience");
        }
        let now = self.now() / 1000;
        match claims.get("exp").and_then(Value::as_i64) {
            Some(exp) if exp + CLOCK_SKEW_SECS > now => {}
            _ => return bad("expired"),
        }
        if claims
            .get("iat")
            .and_then(Value::as_i64)
            .is_some_and(|iat| iat > now + CLOCK_SKEW_SECS)
            || claims
                .get("nbf")
                .and_then(Value::as_i64)
                .is_some_and(|nbf| nbf > now + CLOCK_SKEW_SECS)
        {
            return bad("issued in the future");
        }
        let nonce_ok = claims
            .get("nonce")
            .and_then(Value::as_str)
            .is_some_and(|n| gatehouse_crypto::ct_eq(n.as_bytes(), nonce.as_bytes()));
        if !nonce_ok {
            return bad("the nonce does not match this login");
        }
        if claims
            .get("sub")
            .and_then(Value::as_str)
            .is_none_or(str::is_empty)
        {
            return bad("no subject");
        }
        Ok(claims)
    }

    /// The client secret to present: the stored one, or for Sign in with Apple a short-lived
    /// ES256 token made with the team's key.
    fn client_secret(
        &self,
        c: &StoredConnection,
        o: &UpstreamOptions,
        client_id: &str,
    ) -> Result<Option<String>, UpstreamError> {
        if let Some(s) = self.connection_secret(c, "client_secret")? {
            return Ok(Some(s));
        }
        let Some(pem) = self.connection_secret(c, "app_secret")? else {
            return Ok(None);
        };
        let (Some(team), Some(kid)) = (&o.apple_team_id, &o.apple_key_id) else {
            return Err(UpstreamError::Misconfigured(
                "app_secret needs team_id and kid".into(),
            ));
        };
        let der = gatehouse_crypto::jwt::pem_to_der(&pem)
            .ok_or_else(|| UpstreamError::Misconfigured("app_secret is not a PEM key".into()))?;
        let now = self.now() / 1000;
        let audience = o
            .issuer
            .clone()
            .unwrap_or_else(|| "https://appleid.apple.com".into());
        let claims =
            json!({"iss": team, "iat": now, "exp": now + 300, "aud": audience, "sub": client_id});
        gatehouse_crypto::jwt::sign_es256(&der, kid, &claims)
            .map(Some)
            .map_err(|e| UpstreamError::Misconfigured(format!("app_secret: {e}")))
    }

    /// Exchanges the authorization code at the provider's token endpoint.
    pub(crate) async fn exchange_code_at_provider(
        &self,
        c: &StoredConnection,
        o: &UpstreamOptions,
        endpoints: &Endpoints,
        code: &str,
        code_verifier: Option<&str>,
    ) -> Result<Map<String, Value>, UpstreamError> {
        let client_id = o
            .client_id
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("no client_id".into()))?;
        let token_endpoint = endpoints
            .token_endpoint
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("no token endpoint".into()))?;
        let secret = self.client_secret(c, o, client_id)?;
        let redirect_uri = self.upstream_callback_url();
        let mut form: Vec<(&str, &str)> = vec![
            ("grant_type", "authorization_code"),
            ("code", code),
            ("redirect_uri", &redirect_uri),
        ];
        if let Some(v) = code_verifier {
            form.push(("code_verifier", v));
        }
        let mut req = self
            .inner
            .http
            .post(token_endpoint)
            .header("accept", "application/json");
        match (&secret, endpoints.basic_auth_only) {
            (Some(s), true) => req = req.basic_auth(form_encode(client_id), Some(form_encode(s))),
            (Some(s), false) => {
                form.push(("client_id", client_id));
                form.push(("client_secret", s));
            }
            (None, _) => form.push(("client_id", client_id)),
        }
        let resp = req.form(&form).send().await.map_err(unreachable)?;
        let status = resp.status();
        let body = read_json_any_status(resp).await?;
        let answer = body.as_object().cloned().unwrap_or_default();
        if let Some(err) = answer.get("error").and_then(Value::as_str) {
            let desc = answer
                .get("error_description")
                .and_then(Value::as_str)
                .unwrap_or("");
            return Err(UpstreamError::Refused(format!(
                "the identity provider refused the code ({err}{}{desc})",
                if desc.is_empty() { "" } else { ": " }
            )));
        }
        if status.is_server_error() {
            return Err(UpstreamError::Unreachable(format!(
                "token endpoint answered {status}"
            )));
        }
        if !status.is_success() || answer.get("access_token").and_then(Value::as_str).is_none() {
            return Err(UpstreamError::Refused(format!(
                "the identity provider's token endpoint answered {status} without a token"
            )));
        }
        Ok(answer)
    }

    /// Everything the provider says about the user, normalized: the ID token (checked), the
    /// user-info endpoint, GitHub's e-mail list, Apple's first-login name.
    #[allow(clippy::too_many_arguments)]
    pub(crate) async fn provider_profile(
        &self,
        c: &StoredConnection,
        o: &UpstreamOptions,
        endpoints: &Endpoints,
        tokens: &Map<String, Value>,
        nonce: &str,
        apple_user: Option<Value>,
    ) -> Result<UpstreamLogin, UpstreamError> {
        let client_id = o
            .client_id
            .as_deref()
            .ok_or_else(|| UpstreamError::Misconfigured("no client_id".into()))?;
        let access_token = tokens
            .get("access_token")
            .and_then(Value::as_str)
            .map(String::from);
        let id_token = match (o.protocol, tokens.get("id_token").and_then(Value::as_str)) {
            (Protocol::Oidc, Some(t)) => {
                Some(self.verify_id_token(t, endpoints, client_id, nonce).await?)
            }
            (Protocol::Oidc, None) => {
                return Err(UpstreamError::InvalidIdToken(
                    "the provider sent no ID token".into(),
                ));
            }
            (Protocol::OAuth2, _) => None,
        };
        let github = o.profile == ProfileShape::GitHub;
        let userinfo = match (&endpoints.userinfo_endpoint, &access_token, o.channel) {
            (Some(url), Some(token), Channel::Back) => {
                let info = self.fetch_json(url, Some(token), github).await?;
                let info = info.as_object().cloned().ok_or_else(|| {
                    UpstreamError::Refused("the user-info answer is not a JSON object".into())
                })?;
                // An OpenID Connect provider's user-info must describe the token's subject.
                if let Some(claims) = &id_token
                    && info
                        .get("sub")
                        .is_some_and(|s| Some(s) != claims.get("sub"))
                {
                    return Err(UpstreamError::Refused(
                        "the user-info answer is about another user".into(),
                    ));
                }
                Some(info)
            }
            _ => None,
        };
        let emails = match (&endpoints.userinfo_endpoint, &access_token, github) {
            (Some(url), Some(token), true) => {
                let url = format!("{}/emails", url.trim_end_matches('/'));
                Some(self.fetch_json(&url, Some(token), true).await?)
            }
            _ => None,
        };
        let answer = ProviderAnswer {
            id_token,
            userinfo,
            emails,
            apple_user,
            access_token: access_token.clone(),
            connection_id: c.id.clone(),
            strategy: c.settings.strategy.clone(),
        };
        let profile = normalize(o.profile, &o.attribute_map, &answer)?;
        Ok(UpstreamLogin {
            profile,
            access_token,
            refresh_token: tokens
                .get("refresh_token")
                .and_then(Value::as_str)
                .map(String::from),
            expires_in: tokens.get("expires_in").and_then(Value::as_i64),
        })
    }

    /// Where providers send users back: Auth0's path for it.
    pub fn upstream_callback_url(&self) -> String {
        format!("{}/login/callback", self.inner.config.public_url)
    }
}

/// Form values in HTTP basic authentication are form-encoded first (RFC 6749 §2.3.1).
fn form_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'*' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// The RSA signing keys of a JWKS document.
fn rsa_keys(doc: &Value) -> Vec<PublicKey> {
    use base64::Engine;
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    doc.get("keys")
        .and_then(Value::as_array)
        .map(|keys| {
            keys.iter()
                .filter(|k| k.get("kty").and_then(Value::as_str) == Some("RSA"))
                .filter(|k| {
                    k.get("use")
                        .and_then(Value::as_str)
                        .is_none_or(|u| u == "sig")
                })
                .filter_map(|k| {
                    Some(PublicKey {
                        kid: k
                            .get("kid")
                            .and_then(Value::as_str)
                            .unwrap_or("")
                            .to_string(),
                        n: b64
                            .decode(k.get("n")?.as_str()?.trim_end_matches('='))
                            .ok()?,
                        e: b64
                            .decode(k.get("e")?.as_str()?.trim_end_matches('='))
                            .ok()?,
                    })
                })
                .collect()
        })
        .unwrap_or_default()
}

async fn read_body(resp: reqwest::Response) -> Result<Vec<u8>, UpstreamError> {
    if resp
        .content_length()
        .is_some_and(|l| l as usize > MAX_ANSWER_BYTES)
    {
        return Err(UpstreamError::Refused(
            "the provider's answer is too large".into(),
        ));
    }
    let bytes = resp.bytes().await.map_err(unreachable)?;
    if bytes.len() > MAX_ANSWER_BYTES {
        return Err(UpstreamError::Refused(
            "the provider's answer is too large".into(),
        ));
    }
    Ok(bytes.to_vec())
}

/// A successful JSON answer; a server error means the provider is down.
async fn read_json(resp: reqwest::Response) -> Result<Value, UpstreamError> {
    let status = resp.status();
    if status.is_server_error() {
        return Err(UpstreamError::Unreachable(format!("answered {status}")));
    }
    if !status.is_success() {
        return Err(UpstreamError::Refused(format!(
            "the identity provider answered {status}"
        )));
    }
    read_json_any_status(resp).await
}

async fn read_json_any_status(resp: reqwest::Response) -> Result<Value, UpstreamError> {
    let status = resp.status();
    let body = read_body(resp).await?;
    serde_json::from_slice(&body).map_err(|e| {
        if status.is_server_error() {
            UpstreamError::Unreachable(format!("answered {status}"))
        } else {
            UpstreamError::Refused(format!(
                "the identity provider's answer ({status}) is not JSON: {e}"
            ))
        }
    })
}
