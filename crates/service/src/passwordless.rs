//! Passwordless email: `POST /passwordless/start` emails a one-time code (exchanged by the
//! `http://auth0.com/oauth/grant-type/passwordless/otp` grant) or a magic link (which
//! continues an `/authorize` request). Codes are stored hashed, work once, expire
//! (`options.totp.time_step`) and take three guesses; an address may ask for five codes per
//! ten minutes. Guesses and sends are counted and checked in one statement each, so
//! concurrent requests get no more than that. The user is created when a code is first
//! redeemed, as in Auth0, and `/passwordless/start` answers alike for known and unknown
//! addresses.

use crate::Gatehouse;
use crate::browser::Browser;
use crate::browser::magic_link::MagicLink;
use crate::connections::{CONNECTION_NOT_ENABLED, connection_serves};
use crate::oauth::OAuthError;
use gatehouse_core::connection::EMAIL_STRATEGY;
use gatehouse_core::email::EmailTemplate;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::user::User;
use gatehouse_store::StoredConnection;
use serde_json::{Value, json};
use std::collections::HashMap;

/// Guesses at one code, the right one included.
const MAX_GUESSES: i32 = 3;
const MAX_SENDS: i32 = 5;
const SEND_WINDOW_MS: i64 = 10 * 60 * 1000;

fn wrong_code() -> OAuthError {
    OAuthError::new(403, "invalid_grant", "Wrong email or verification code.")
}

/// A code of `len` decimal digits, uniformly drawn (bytes of 250 and above are redrawn).
fn random_code(len: usize) -> Result<String, OAuthError> {
    let mut out = String::with_capacity(len);
    while out.len() < len {
        let bytes = gatehouse_crypto::random::bytes::<16>().map_err(OAuthError::internal)?;
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
    pub(crate) async fn email_connection(
        &self,
        name: &str,
    ) -> Result<StoredConnection, OAuthError> {
        self.connection_by_name(name)
            .await
            .map_err(OAuthError::failed)?
            .filter(|c| c.settings.strategy == EMAIL_STRATEGY)
            .ok_or_else(|| {
                OAuthError::new(
                    400,
                    "bad.connection",
                    format!("Connection does not exist: {name}"),
                )
            })
    }

    /// The connection's user for an address, if there is one.
    async fn passwordless_user(
        &self,
        conn: &StoredConnection,
        email: &str,
    ) -> Result<Option<User>, OAuthError> {
        Ok(self
            .inner
            .users
            .by_identifier(self.tenant(), email, Some(&conn.id))
            .await?
            .into_iter()
            .next()
            .map(|v| v.user))
    }

    /// A user for an address that has just proved it holds the address (a redeemed code).
    async fn create_passwordless_user(
        &self,
        conn: &StoredConnection,
        email: &str,
    ) -> Result<User, OAuthError> {
        if conn.settings.signup_disabled() {
            return Err(wrong_code());
        }
        let id = gatehouse_crypto::random::hex(12).map_err(OAuthError::internal)?;
        let mut user = User::new(
            EMAIL_STRATEGY,
            &id,
            &conn.id,
            &conn.settings.name,
            email,
            self.now(),
        );
        user.email_verified = true;
        self.inner
            .users
            .insert(self.tenant(), &user, None, &[])
            .await?;
        Ok(user)
    }

    /// The `_id` `/passwordless/start` answers for an address without a user: the same for
    /// every request, shaped like a real one, so the answer does not say whether the address
    /// has an account.
    fn stand_in_id(&self, conn: &StoredConnection, email: &str) -> String {
        let tag = self.inner.secrets.mac(
            "passwordless-id",
            format!("{}\0{email}", conn.id).as_bytes(),
        );
        tag.iter().take(12).map(|b| format!("{b:02x}")).collect()
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
        let link = match text("send").unwrap_or("link") {
            "code" => false,
            "link" => true,
            other => {
                return Err(OAuthError::new(
                    400,
                    "bad.send",
                    format!("Unknown send: {other}"),
                ));
            }
        };
        // A link continues an /authorize request: its parameters are checked now, so a bad
        // redirect_uri never reaches an inbox.
        let auth_params = if link {
            let mut params: HashMap<String, String> = match body.get("authParams") {
                None | Some(Value::Null) => HashMap::new(),
                Some(Value::Object(m)) => m
                    .iter()
                    .filter_map(|(k, v)| v.as_str().map(|v| (k.clone(), v.to_string())))
                    .collect(),
                Some(_) => {
                    return Err(OAuthError::new(
                        400,
                        "bad.authParams",
                        "authParams must be an object",
                    ));
                }
            };
            params.insert("client_id".into(), client_id.to_string());
            params
                .entry("response_type".into())
                .or_insert_with(|| "code".into());
            let client = self
                .stored_client(client_id)
                .await
                .map_err(OAuthError::failed)?;
            let registered = params.get("redirect_uri").is_some_and(|r| {
                gatehouse_core::redirect::is_registered_callback(r, &client.settings.callbacks)
            });
            if !registered {
                return Err(OAuthError::new(
                    400,
                    "bad.redirect_uri",
                    "authParams.redirect_uri must be one of the application's Allowed Callback URLs",
                ));
            }
            Some(params)
        } else {
            None
        };
        let conn = self.email_connection(connection).await?;
        if !connection_serves(&conn, client_id) {
            return Err(OAuthError::new(
                400,
                "bad.connection",
                CONNECTION_NOT_ENABLED,
            ));
        }
        // The user is created when a code is redeemed, not here: asking for a code proves
        // nothing, and the answer is the same whether or not the address has an account
        // (security review L3).
        let existing = self.passwordless_user(&conn, &email).await?;
        let id = match &existing {
            Some(u) => u.provider_user_id().to_string(),
            None => self.stand_in_id(&conn, &email),
        };
        let answer = json!({"_id": id, "email": email, "email_verified": false});
        let deliver = match &existing {
            Some(u) => u.blocked != Some(true),
            None => !conn.settings.signup_disabled(),
        };
        if !deliver {
            return Ok(answer);
        }
        let user = existing.unwrap_or_else(|| {
            User::new(
                EMAIL_STRATEGY,
                &id,
                &conn.id,
                &conn.settings.name,
                &email,
                self.now(),
            )
        });
        let now = self.now();
        let store = &self.inner.passwordless;
        if !store
            .reserve_send(
                self.tenant(),
                &conn.id,
                &email,
                now,
                SEND_WINDOW_MS,
                MAX_SENDS,
            )
            .await?
        {
            return Err(OAuthError::new(
                429,
                "too_many_requests",
                "Too many codes asked for this address; try again in a few minutes",
            ));
        }
        let code = random_code(conn.settings.code_length())?;
        let lifetime = conn.settings.code_lifetime_secs();
        store
            .set_code(
                self.tenant(),
                &conn.id,
                &email,
                &hash_code(&conn.id, &email, &code),
                now + lifetime * 1000,
            )
            .await?;
        let minutes = (lifetime / 60).max(1).to_string();
        let (template, url) = match auth_params {
            Some(params) => {
                let token = self
                    .seal(&MagicLink {
                        connection: conn.settings.name.clone(),
                        email: email.clone(),
                        code: code.clone(),
                        params,
                    })
                    .map_err(OAuthError::failed)?;
                (
                    EmailTemplate::PasswordlessLink,
                    Some(format!(
                        "{}/passwordless/verify_redirect?token={token}",
                        self.config().public_url
                    )),
                )
            }
            None => (EmailTemplate::PasswordlessCode, None),
        };
        let message = self
            .email_with(
                template,
                &user,
                url.as_deref(),
                &[("code", &code), ("minutes", &minutes)],
            )
            .await
            .map_err(OAuthError::failed)?;
        if let Some(m) = message {
            self.inner
                .outbox
                .enqueue(self.tenant(), &[m])
                .await
                .map_err(OAuthError::failed)?;
        }
        self.record(LogEvent {
            kind: if url.is_some() {
                codes::CODE_LINK_SENT
            } else {
                codes::CODE_SENT
            }
            .into(),
            description: Some(if url.is_some() {
                "Passwordless login link sent".into()
            } else {
                "Passwordless login code sent".into()
            }),
            client_id: Some(client_id.to_string()),
            connection: Some(conn.settings.name.clone()),
            user_id: Some(user.user_id.clone()),
            user_name: Some(email.clone()),
            ..browser.event()
        })
        .await;
        Ok(answer)
    }

    /// Checks a code against the live one for an address and uses it up; on success the
    /// address counts as verified. Wrong guesses are counted.
    pub(crate) async fn redeem_code(
        &self,
        conn: &StoredConnection,
        email: &str,
        otp: &str,
    ) -> Result<User, OAuthError> {
        let store = &self.inner.passwordless;
        let live = store
            .reserve_guess(self.tenant(), &conn.id, email, self.now(), MAX_GUESSES)
            .await?
            .ok_or_else(wrong_code)?;
        let hash = hash_code(&conn.id, email, otp.trim());
        if !gatehouse_crypto::ct_eq(hash.as_bytes(), live.as_bytes())
            || !store.consume(self.tenant(), &conn.id, email, &hash).await?
        {
            return Err(wrong_code());
        }
        let user = match self.passwordless_user(conn, email).await? {
            Some(u) => u,
            None => self.create_passwordless_user(conn, email).await?,
        };
        if user.blocked == Some(true) {
            return Err(OAuthError::new(401, "unauthorized", "user is blocked"));
        }
        if !user.email_verified {
            // Receiving the code proves the address.
            let patch =
                gatehouse_core::payload::Payload::from_value(json!({"email_verified": true}))
                    .and_then(gatehouse_core::user::UserPatch::from_payload)
                    .map_err(OAuthError::internal)?;
            self.update_user(&user.user_id, patch)
                .await
                .map_err(OAuthError::failed)?;
        }
        Ok(user)
    }
}
