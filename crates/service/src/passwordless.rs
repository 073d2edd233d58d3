//! Passwordless email: `POST /passwordless/start` emails a one-time code, and the
//! `http://auth0.com/oauth/grant-type/passwordless/otp` grant exchanges it for tokens. Codes
//! are stored hashed, work once, expire (`options.totp.time_step`), allow three wrong
//! guesses, and an address may ask for five codes per ten minutes.

use crate::authorize::Browser;
use crate::error::ServiceError;
use crate::login::IdTokenExtras;
use crate::tokens::{IssuedToken, OAuthError, TokenRequest};
use crate::{Gatehouse, now_millis};
use gatehouse_core::connection::EMAIL_STRATEGY;
use gatehouse_core::email::EmailTemplate;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_store::StoredConnection;
use serde_json::{Value, json};

pub const PASSWORDLESS_OTP_GRANT: &str = "http://auth0.com/oauth/grant-type/passwordless/otp";
const MAX_WRONG_GUESSES: i32 = 3;
const MAX_SENDS: i32 = 5;
const SEND_WINDOW_MS: i64 = 10 * 60 * 1000;

fn wrong_code() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Wrong email or verification code.")
}

/// A code of `len` decimal digits, uniformly drawn (bytes of 250 and above are redrawn).
fn random_code(len: usize) -> Result<String, OAuthError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let bytes = gatehouse_crypto::random::bytes::<16>().map_err(|_| OAuthError::internal())?;
        for b in bytes {
            if b < 250 && out.len() < len {
                out.push(char::from(b'0' + b % 10));
            }
        }
    }
    Ok(out)
}

fn hash_code(connection_id: &str, email: &str, code: &str) -> String {
    gatehouse_crypto::sha256_hex(format!("{connection_id}\0{email}\0{code}").as_bytes())
}

impl Gatehouse {
    async fn email_connection(&self, name: &str) -> Result<StoredConnection, OAuthError> {
        self.connection_by_name(name)
            .await
            .map_err(|_| OAuthError::internal())?
            .filter(|c| c.settings.strategy == EMAIL_STRATEGY)
            .ok_or_else(|| {
                OAuthError::new(
                    400,
                    "bad.connection",
                    format!("Connection does not exist: {name}"),
                )
            })
    }

    /// The connection's user for an address, created on first use unless sign-ups are off.
    async fn passwordless_user(
        &self,
        conn: &StoredConnection,
        email: &str,
    ) -> Result<User, OAuthError> {
        let found = self
            .inner
            .users
            .by_identifier(self.tenant(), email, Some(&conn.id))
            .await
            .map_err(|_| OAuthError::internal())?
            .into_iter()
            .next();
        if let Some(v) = found {
            return Ok(v.user);
        }
        if conn
            .settings
            .options
            .get("disable_signup")
            .and_then(Value::as_bool)
            == Some(true)
        {
            return Err(OAuthError::new(
                400,
                "bad.connection",
                "Public signup is disabled",
            ));
        }
        let now = now_millis();
        let id = gatehouse_crypto::random::hex(12).map_err(|_| OAuthError::internal())?;
        let user = User {
            user_id: format!("{EMAIL_STRATEGY}|{id}"),
            connection_id: conn.id.clone(),
            connection: conn.settings.name.clone(),
            provider: EMAIL_STRATEGY.into(),
            email: Some(email.to_string()),
            email_verified: false,
            name: Some(email.to_string()),
            nickname: email.split('@').next().map(String::from),
            picture: None,
            username: None,
            phone_number: None,
            phone_verified: false,
            given_name: None,
            family_name: None,
            blocked: None,
            user_metadata: Default::default(),
            app_metadata: Default::default(),
            created_at: now,
            updated_at: now,
            last_login: None,
            last_ip: None,
            logins_count: 0,
            last_password_reset: None,
            password_set_date: None,
        };
        self.inner
            .users
            .insert(self.tenant(), &user, None, &[])
            .await
            .map_err(|_| OAuthError::internal())?;
        Ok(user)
    }

    /// `POST /passwordless/start` with `connection: email`, `send: code`.
    pub async fn passwordless_start(
        &self,
        body: &Value,
        browser: &Browser,
    ) -> Result<Value, OAuthError> {
        let text = |k: &str| {
            body.get(k)
                .and_then(Value::as_str)
                .filter(|v| !v.is_empty())
        };
        let client_id = text("client_id")
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
        if self.client_exists(client_id).await.is_err() {
            return Err(OAuthError::new(
                401,
                "unauthorized_client",
                "Unknown client",
            ));
        }
        let connection = text("connection").ok_or_else(|| {
            OAuthError::new(
                400,
                "bad.connection",
                "Missing required parameter: connection",
            )
        })?;
        let email = text("email")
            .map(str::to_lowercase)
            .filter(|e| gatehouse_core::payload::is_email(e))
            .ok_or_else(|| {
                OAuthError::new(
                    400,
                    "bad.email",
                    "email is required and must be an email address",
                )
            })?;
        match text("send").unwrap_or("link") {
            "code" => {}
            "link" => {
                return Err(OAuthError::new(
                    400,
                    "bad.send",
                    "send=link is not supported yet; use send=code",
                ));
            }
            other => {
                return Err(OAuthError::new(
                    400,
                    "bad.send",
                    format!("Unknown send: {other}"),
                ));
            }
        }
        let conn = self.email_connection(connection).await?;
        let user = self.passwordless_user(&conn, &email).await?;
        if user.blocked == Some(true) {
            return Err(OAuthError::new(401, "unauthorized", "user is blocked"));
        }
        let now = now_millis();
        let store = &self.inner.passwordless;
        let previous = store
            .get(self.tenant(), &conn.id, &email)
            .await
            .map_err(|_| OAuthError::internal())?;
        let (window_start, sends) = match previous {
            Some(p) if now - p.window_start < SEND_WINDOW_MS => {
                if p.sends >= MAX_SENDS {
                    return Err(OAuthError::new(
                        429,
                        "too_many_requests",
                        "Too many codes asked for this address; try again in a few minutes",
                    ));
                }
                (p.window_start, p.sends + 1)
            }
            _ => (now, 1),
        };
        let code = random_code(conn.settings.code_length())?;
        let lifetime = conn.settings.code_lifetime_secs();
        store
            .put(
                self.tenant(),
                &conn.id,
                &email,
                &hash_code(&conn.id, &email, &code),
                now + lifetime * 1000,
                window_start,
                sends,
            )
            .await
            .map_err(|_| OAuthError::internal())?;
        let minutes = (lifetime / 60).max(1).to_string();
        let message = self
            .email_with(
                EmailTemplate::PasswordlessCode,
                &user,
                None,
                &[("code", &code), ("minutes", &minutes)],
            )
            .await
            .map_err(|_| OAuthError::internal())?;
        if let Some(m) = message {
            self.inner
                .outbox
                .enqueue(self.tenant(), &[m])
                .await
                .map_err(|_| OAuthError::internal())?;
        }
        self.record(LogEvent {
            kind: codes::CODE_SENT.into(),
            description: Some("Passwordless login code sent".into()),
            client_id: Some(client_id.to_string()),
            connection: Some(conn.settings.name.clone()),
            user_id: Some(user.user_id.clone()),
            user_name: Some(email.clone()),
            ip: browser.ip.clone(),
            user_agent: browser.user_agent.clone(),
            ..Default::default()
        })
        .await;
        let id = user.provider_user_id().to_string();
        Ok(json!({"_id": id, "email": email, "email_verified": user.email_verified}))
    }

    /// The passwordless OTP grant at `/oauth/token`.
    pub(crate) async fn passwordless_grant(
        &self,
        req: TokenRequest,
    ) -> Result<IssuedToken, OAuthError> {
        let mut event = LogEvent {
            client_id: req.client_id.clone(),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            user_name: req.username.clone(),
            connection: req.realm.clone(),
            ..Default::default()
        };
        let result = self.exchange_otp(&req, &mut event).await;
        match &result {
            Ok(_) => {
                event.kind = codes::SUCCESS_LOGIN.into();
                event.description = Some("Successful passwordless login".into());
            }
            Err(e) => {
                event.kind = codes::FAILED_LOGIN.into();
                event.description = Some(e.description.clone());
            }
        }
        self.record(event).await;
        result
    }

    async fn exchange_otp(
        &self,
        req: &TokenRequest,
        event: &mut LogEvent,
    ) -> Result<IssuedToken, OAuthError> {
        let client = self
            .client_for_user_grant(req, PASSWORDLESS_OTP_GRANT)
            .await?;
        let realm = req
            .realm
            .as_deref()
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: realm"))?;
        let (Some(email), Some(otp)) = (req.username.as_deref(), req.otp.as_deref()) else {
            return Err(OAuthError::invalid_request(
                "Missing required parameters: username and otp",
            ));
        };
        let email = email.to_lowercase();
        let conn = self.email_connection(realm).await?;
        let store = &self.inner.passwordless;
        let code = store
            .get(self.tenant(), &conn.id, &email)
            .await
            .map_err(|_| OAuthError::internal())?
            .filter(|c| !c.code_hash.is_empty())
            .ok_or_else(wrong_code)?;
        if code.expires_at <= now_millis() || code.attempts >= MAX_WRONG_GUESSES {
            return Err(wrong_code());
        }
        let hash = hash_code(&conn.id, &email, otp.trim());
        if !gatehouse_crypto::ct_eq(hash.as_bytes(), code.code_hash.as_bytes()) {
            store
                .count_attempt(self.tenant(), &conn.id, &email)
                .await
                .map_err(|_| OAuthError::internal())?;
            return Err(wrong_code());
        }
        if !store
            .consume(self.tenant(), &conn.id, &email, &hash)
            .await
            .map_err(|_| OAuthError::internal())?
        {
            return Err(wrong_code());
        }
        let user = self
            .inner
            .users
            .by_identifier(self.tenant(), &email, Some(&conn.id))
            .await
            .map_err(|_| OAuthError::internal())?
            .into_iter()
            .next()
            .ok_or_else(wrong_code)?
            .user;
        event.user_id = Some(user.user_id.clone());
        if user.blocked == Some(true) {
            return Err(OAuthError::new(401, "unauthorized", "user is blocked"));
        }
        if !user.email_verified {
            // Receiving the code proves the address.
            let patch =
                gatehouse_core::payload::Payload::from_value(json!({"email_verified": true}))
                    .and_then(gatehouse_core::user::UserPatch::from_payload)
                    .map_err(|_| OAuthError::internal())?;
            self.update_user(&user.user_id, patch)
                .await
                .map_err(|e: ServiceError| {
                    tracing::error!(error = %e, "could not mark a passwordless email verified");
                    OAuthError::internal()
                })?;
        }
        let user = self.record_login(&user.user_id, req.ip.as_deref()).await?;
        let api = match req.audience.as_deref() {
            Some(a) => Some(
                self.api_for_users(a)
                    .await
                    .map_err(|p| OAuthError::new(403, "access_denied", p.description))?,
            ),
            None => None,
        };
        let extra = IdTokenExtras {
            auth_time: Some(now_millis() / 1000),
            ..Default::default()
        };
        let mut issued =
            self.user_tokens(&client, &user, api.as_ref(), req.scope.as_deref(), &extra)?;
        self.maybe_refresh_token(
            &client,
            &user,
            api.as_ref(),
            req.scope.as_deref(),
            None,
            &mut issued,
        )
        .await?;
        Ok(issued)
    }
}
