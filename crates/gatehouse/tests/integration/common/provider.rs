//! A stand-in identity provider on 127.0.0.1 for the upstream-connection tests, serving each
//! provider's documented paths and JSON shapes: OpenID Connect discovery, an authorization
//! endpoint that logs in whichever user the test chose (no page of its own), a token endpoint
//! that checks the code, the client's credentials and PKCE, user-info, the signing keys, and
//! the social providers' own paths (GitHub's `/user` and `/user/emails`, Microsoft Graph's
//! `/v1.0/me`, Facebook's `/me`, Apple's posted answer). Tests turn on its faults: down, a
//! wrong nonce, a token signed by a key it does not publish, a key rotation.

use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use base64::Engine;
use gatehouse_crypto::keys::SigningKey;
use serde_json::{Map, Value, json};
use std::collections::HashMap;
use std::sync::{Arc, Mutex};

pub const CLIENT_ID: &str = "gatehouse-at-the-provider";
pub const CLIENT_SECRET: &str = "provider-issued-secret-ÅÄÖ-0123456789";

const AUTHORIZE_PATHS: &[&str] = &[
    "/authorize",
    "/o/oauth2/v2/auth",
    "/login/oauth/authorize",
    "/common/oauth2/v2.0/authorize",
    "/v19.0/dialog/oauth",
    "/oauth/v2/authorization",
    "/auth/authorize",
];
const TOKEN_PATHS: &[&str] = &[
    "/token",
    "/login/oauth/access_token",
    "/common/oauth2/v2.0/token",
    "/v19.0/oauth/access_token",
    "/oauth/v2/accessToken",
    "/auth/token",
];
const USERINFO_PATHS: &[&str] = &[
    "/userinfo",
    "/v1/userinfo",
    "/user",
    "/v1.0/me",
    "/v19.0/me",
    "/v2/userinfo",
];
const JWKS_PATHS: &[&str] = &[
    "/jwks",
    "/oauth2/v3/certs",
    "/auth/keys",
    "/oauth/openid/jwks",
];

/// The user the next authorization logs in, as the provider describes them.
#[derive(Clone, Debug, Default)]
pub struct ProviderUser {
    /// Claims of the ID token besides the protocol's own (`sub` included).
    pub id_token: Map<String, Value>,
    /// The user-info answer.
    pub userinfo: Map<String, Value>,
    /// GitHub's `/user/emails`.
    pub emails: Option<Value>,
    /// Apple's `user` form field (first login only).
    pub apple_user: Option<Value>,
}

/// How the client proves itself at the token endpoint.
#[derive(Clone)]
pub enum ExpectedSecret {
    Exact(String),
    /// Apple: an ES256 JWT signed by the team's key (its public key, uncompressed point).
    AppleJwt {
        team: String,
        public_key: Vec<u8>,
    },
}

struct Grant {
    nonce: Option<String>,
    challenge: Option<(String, String)>,
    redirect_uri: String,
    user: ProviderUser,
}

pub struct ProviderState {
    pub issuer: String,
    key: SigningKey,
    /// Keys in the JWKS (the current one unless a test changes it).
    published: Vec<SigningKey>,
    pub user: ProviderUser,
    pub secret: ExpectedSecret,
    /// Every request answers 503.
    pub down: bool,
    /// The ID token carries this nonce instead of the one asked for.
    pub wrong_nonce: bool,
    /// Sign ID tokens with a key that is not published.
    pub rogue_key: Option<SigningKey>,
    /// Answer the authorization with a form posted back (Apple, front channel).
    pub form_post: bool,
    /// An error to answer the authorization with (`access_denied`, ...).
    pub deny: Option<String>,
    codes: HashMap<String, Grant>,
    access_tokens: HashMap<String, ProviderUser>,
    /// The token endpoint's requests: their form fields and whether basic auth was used.
    pub token_requests: Vec<(HashMap<String, String>, bool)>,
    /// How many times the key set was fetched.
    pub jwks_fetches: usize,
    pub authorize_requests: Vec<HashMap<String, String>>,
}

pub struct Provider {
    pub url: String,
    pub state: Arc<Mutex<ProviderState>>,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Provider {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn key() -> SigningKey {
    // Generating RSA keys is slow; tests share a few.
    static KEYS: std::sync::OnceLock<Vec<Vec<u8>>> = std::sync::OnceLock::new();
    static NEXT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let keys = KEYS.get_or_init(|| {
        (0..3)
            .map(|_| SigningKey::generate().expect("key").pkcs8().to_vec())
            .collect()
    });
    let i = NEXT.fetch_add(1, std::sync::atomic::Ordering::SeqCst) % keys.len();
    SigningKey::from_pkcs8(&keys[i]).expect("key")
}

/// Another of the shared keys than `other`.
pub fn other_key(other: &SigningKey) -> SigningKey {
    loop {
        let k = key();
        if k.kid() != other.kid() {
            return k;
        }
    }
}

impl Provider {
    /// A provider whose ID tokens carry `issuer` (its own URL when `None`).
    pub async fn start(issuer: Option<&str>) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!("http://{}", listener.local_addr().expect("addr"));
        let key = key();
        let state = Arc::new(Mutex::new(ProviderState {
            issuer: issuer.map_or_else(|| url.clone(), String::from),
            published: vec![SigningKey::from_pkcs8(key.pkcs8()).expect("key")],
            key,
            user: ProviderUser::default(),
            secret: ExpectedSecret::Exact(CLIENT_SECRET.into()),
            down: false,
            wrong_nonce: false,
            rogue_key: None,
            form_post: false,
            deny: None,
            codes: HashMap::new(),
            access_tokens: HashMap::new(),
            token_requests: vec![],
            jwks_fetches: 0,
            authorize_requests: vec![],
        }));
        let app = axum::Router::new()
            .fallback(handle)
            .with_state((state.clone(), url.clone()));
        let task = tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        });
        Self { url, state, task }
    }

    pub fn discovery_url(&self) -> String {
        format!("{}/.well-known/openid-configuration", self.url)
    }

    pub fn with<T>(&self, f: impl FnOnce(&mut ProviderState) -> T) -> T {
        f(&mut self.state.lock().expect("provider state"))
    }

    /// The next logins are of this user.
    pub fn set_user(&self, user: ProviderUser) {
        self.with(|s| s.user = user);
    }

    /// Signs with a new key and publishes only that one.
    pub fn rotate_key(&self) {
        self.with(|s| {
            let next = other_key(&s.key);
            s.published = vec![SigningKey::from_pkcs8(next.pkcs8()).expect("key")];
            s.key = next;
        });
    }

    /// Follows the provider's answer to an authorization request: the callback URL it
    /// redirects to, or (form_post) the form's action and fields.
    pub async fn authorize(&self, url: &str) -> ProviderAnswer {
        assert!(
            url.starts_with(&self.url),
            "not sent to the provider: {url}"
        );
        let resp = reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap()
            .get(url)
            .send()
            .await
            .unwrap();
        let status = resp.status().as_u16();
        if (300..400).contains(&status) {
            let to = resp.headers()["location"].to_str().unwrap().to_string();
            return ProviderAnswer::Redirect(to);
        }
        let body = resp.text().await.unwrap();
        assert_eq!(status, 200, "provider answered {status}: {body}");
        let action = between(&body, "action=\"", "\"").expect("form action");
        let mut fields = vec![];
        let mut rest = body.as_str();
        while let Some(i) = rest.find("<input type=\"hidden\" name=\"") {
            rest = &rest[i + 27..];
            let name = rest[..rest.find('"').unwrap()].to_string();
            let value = between(rest, "value=\"", "\"").unwrap_or_default();
            fields.push((name, html_unescape(&value)));
        }
        ProviderAnswer::FormPost {
            action: html_unescape(&action),
            fields,
        }
    }
}

/// Where the provider sends the browser back.
#[derive(Debug, Clone)]
pub enum ProviderAnswer {
    Redirect(String),
    FormPost {
        action: String,
        fields: Vec<(String, String)>,
    },
}

/// The text between two markers (for reading a page's link).
pub fn between_pub(s: &str, start: &str, end: &str) -> Option<String> {
    between(s, start, end)
}

/// A JWT's claims, unverified (the test checks what the server issued).
pub fn jwt_claims(token: &str) -> Value {
    let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
    serde_json::from_slice(&b64.decode(token.split('.').nth(1).unwrap()).unwrap()).unwrap()
}

/// The key the provider signs with now.
pub fn current_key(s: &ProviderState) -> SigningKey {
    SigningKey::from_pkcs8(s.key.pkcs8()).expect("key")
}

fn between(s: &str, start: &str, end: &str) -> Option<String> {
    let i = s.find(start)? + start.len();
    let j = s[i..].find(end)? + i;
    Some(s[i..j].to_string())
}

fn html_escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('"', "&quot;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

fn html_unescape(s: &str) -> String {
    s.replace("&quot;", "\"")
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&amp;", "&")
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

fn random() -> String {
    gatehouse_crypto::random::b64url(18).unwrap()
}

type Shared = (Arc<Mutex<ProviderState>>, String);

async fn handle(
    State((state, base)): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    Query(query): Query<HashMap<String, String>>,
    body: Bytes,
) -> Response {
    let path = uri.path().to_string();
    let mut s = state.lock().unwrap();
    if s.down {
        return (StatusCode::SERVICE_UNAVAILABLE, "down for maintenance").into_response();
    }
    if path == "/.well-known/openid-configuration" {
        return axum::Json(json!({
            "issuer": s.issuer,
            "authorization_endpoint": format!("{base}/authorize"),
            "token_endpoint": format!("{base}/token"),
            "userinfo_endpoint": format!("{base}/userinfo"),
            "jwks_uri": format!("{base}/jwks"),
            "response_types_supported": ["code", "id_token"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
        }))
        .into_response();
    }
    if JWKS_PATHS.contains(&path.as_str()) {
        s.jwks_fetches += 1;
        let keys: Vec<Value> = s.published.iter().map(|k| k.public().jwk()).collect();
        return axum::Json(json!({ "keys": keys })).into_response();
    }
    if AUTHORIZE_PATHS.contains(&path.as_str()) && method == Method::GET {
        return authorize(&mut s, query);
    }
    if TOKEN_PATHS.contains(&path.as_str()) && method == Method::POST {
        return token(&mut s, &headers, &body);
    }
    let bearer = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(String::from);
    let user = bearer.and_then(|t| s.access_tokens.get(&t).cloned());
    if path == "/user/emails" {
        return match user {
            Some(u) => axum::Json(u.emails.unwrap_or(json!([]))).into_response(),
            None => StatusCode::UNAUTHORIZED.into_response(),
        };
    }
    if USERINFO_PATHS.contains(&path.as_str()) {
        if path == "/user" && headers.get("user-agent").is_none() {
            return (StatusCode::FORBIDDEN, "GitHub requires a user agent").into_response();
        }
        return match user {
            Some(u) => axum::Json(Value::Object(u.userinfo)).into_response(),
            None => StatusCode::UNAUTHORIZED.into_response(),
        };
    }
    (StatusCode::NOT_FOUND, format!("no {path} here")).into_response()
}

fn id_token(s: &ProviderState, user: &ProviderUser, nonce: Option<&str>) -> String {
    let mut claims = user.id_token.clone();
    claims.insert("iss".into(), json!(s.issuer));
    claims.insert("aud".into(), json!(CLIENT_ID));
    claims.insert("iat".into(), json!(now()));
    claims.insert("exp".into(), json!(now() + 600));
    if let Some(n) = nonce {
        let n = if s.wrong_nonce { "another-login" } else { n };
        claims.insert("nonce".into(), json!(n));
    }
    let key = s.rogue_key.as_ref().unwrap_or(&s.key);
    gatehouse_crypto::jwt::sign(key, &Value::Object(claims)).unwrap()
}

fn authorize(s: &mut ProviderState, q: HashMap<String, String>) -> Response {
    s.authorize_requests.push(q.clone());
    let redirect_uri = q.get("redirect_uri").cloned().unwrap_or_default();
    if q.get("client_id").map(String::as_str) != Some(CLIENT_ID) {
        return (StatusCode::BAD_REQUEST, "unknown client").into_response();
    }
    let mut answer: Vec<(String, String)> = vec![];
    if let Some(error) = &s.deny {
        answer.push(("error".into(), error.clone()));
        answer.push((
            "error_description".into(),
            "The user has denied your application access.".into(),
        ));
    } else if q.get("response_type").map(String::as_str) == Some("id_token") {
        let user = s.user.clone();
        answer.push((
            "id_token".into(),
            id_token(s, &user, q.get("nonce").map(String::as_str)),
        ));
    } else {
        let code = random();
        let challenge = q.get("code_challenge").map(|c| {
            (
                c.clone(),
                q.get("code_challenge_method")
                    .cloned()
                    .unwrap_or("plain".into()),
            )
        });
        s.codes.insert(
            code.clone(),
            Grant {
                nonce: q.get("nonce").cloned(),
                challenge,
                redirect_uri: redirect_uri.clone(),
                user: s.user.clone(),
            },
        );
        answer.push(("code".into(), code));
        if let Some(u) = &s.user.apple_user {
            answer.push(("user".into(), u.to_string()));
        }
    }
    if let Some(state) = q.get("state") {
        answer.push(("state".into(), state.clone()));
    }
    let posted = s.form_post || q.get("response_mode").map(String::as_str) == Some("form_post");
    if posted {
        let inputs: String = answer
            .iter()
            .map(|(k, v)| {
                format!(
                    "<input type=\"hidden\" name=\"{}\" value=\"{}\">",
                    html_escape(k),
                    html_escape(v)
                )
            })
            .collect();
        return Html(format!(
            "<html><body onload=\"document.forms[0].submit()\"><form method=\"post\" action=\"{}\">{inputs}</form></body></html>",
            html_escape(&redirect_uri)
        ))
        .into_response();
    }
    let mut url = reqwest::Url::parse(&redirect_uri).unwrap();
    for (k, v) in &answer {
        url.query_pairs_mut().append_pair(k, v);
    }
    (StatusCode::FOUND, [("location", url.to_string())]).into_response()
}

fn token_error(error: &str) -> Response {
    (
        StatusCode::BAD_REQUEST,
        axum::Json(
            json!({"error": error, "error_description": format!("stand-in refused: {error}")}),
        ),
    )
        .into_response()
}

fn token(s: &mut ProviderState, headers: &HeaderMap, body: &[u8]) -> Response {
    let form: HashMap<String, String> =
        reqwest::Url::parse(&format!("http://x/?{}", String::from_utf8_lossy(body)))
            .unwrap()
            .query_pairs()
            .into_owned()
            .collect();
    let basic = headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "))
        .and_then(|b| base64::engine::general_purpose::STANDARD.decode(b).ok())
        .and_then(|b| String::from_utf8(b).ok());
    s.token_requests.push((form.clone(), basic.is_some()));
    let (client_id, secret) = match &basic {
        Some(pair) => {
            let (id, secret) = pair.split_once(':').unwrap_or((pair, ""));
            (decode_form(id), Some(decode_form(secret)))
        }
        None => (
            form.get("client_id").cloned().unwrap_or_default(),
            form.get("client_secret").cloned(),
        ),
    };
    if client_id != CLIENT_ID || !secret_ok(&s.secret, secret.as_deref()) {
        return token_error("invalid_client");
    }
    let Some(grant) = form.get("code").and_then(|c| s.codes.remove(c)) else {
        return token_error("invalid_grant");
    };
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return token_error("invalid_grant");
    }
    if let Some((challenge, method)) = &grant.challenge {
        let verifier = form.get("code_verifier").cloned().unwrap_or_default();
        let computed = if method == "S256" {
            gatehouse_crypto::pkce_s256(&verifier)
        } else {
            verifier
        };
        if &computed != challenge {
            return token_error("invalid_grant");
        }
    }
    let access = random();
    s.access_tokens.insert(access.clone(), grant.user.clone());
    let mut answer = json!({"access_token": access, "token_type": "Bearer", "expires_in": 3600, "refresh_token": random()});
    if !grant.user.id_token.is_empty() {
        answer["id_token"] = json!(id_token(s, &grant.user, grant.nonce.as_deref()));
    }
    axum::Json(answer).into_response()
}

fn decode_form(s: &str) -> String {
    reqwest::Url::parse(&format!("http://x/?v={s}"))
        .unwrap()
        .query_pairs()
        .next()
        .map(|(_, v)| v.into_owned())
        .unwrap_or_default()
}

fn secret_ok(expected: &ExpectedSecret, given: Option<&str>) -> bool {
    match (expected, given) {
        (ExpectedSecret::Exact(e), Some(g)) => e == g,
        (ExpectedSecret::AppleJwt { team, public_key }, Some(jwt)) => {
            let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
            let Some((signed, sig)) = jwt.rsplit_once('.') else {
                return false;
            };
            let ok = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_FIXED,
                public_key,
            )
            .verify(signed.as_bytes(), &b64.decode(sig).unwrap_or_default())
            .is_ok();
            let claims: Value = signed
                .split('.')
                .nth(1)
                .and_then(|p| b64.decode(p).ok())
                .and_then(|b| serde_json::from_slice(&b).ok())
                .unwrap_or(Value::Null);
            ok && claims["iss"] == json!(team)
                && claims["sub"] == json!(CLIENT_ID)
                && claims["aud"] == "https://appleid.apple.com"
        }
        _ => false,
    }
}
