//! Logging in at an upstream provider: `/authorize?connection=NAME` or a button on the
//! login page sends the browser to the provider with the transaction sealed into `state`
//! (with the nonce and PKCE verifier); the provider's answer at `/login/callback` is checked
//! (single use, ID token, user-info), the user found or created (`upstream::identity`), and
//! the login ends in `complete_login` like every other. A provider's refusal goes back to the
//! application's callback; a provider that cannot be reached is a page saying so.

use super::{
    Browser, Outcome, Step, Transaction, error_page, expired, expired_or_failed, problem_answer,
};
use crate::Gatehouse;
use crate::browser::login::Authenticated;
use crate::connections::connection_serves;
use crate::credentials::LoginRefusal;
use crate::upstream::{UpstreamError, UpstreamLogin};
use gatehouse_core::authorize::{AuthorizeProblem, ResponseMode, redirect_url};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::upstream::{Channel, Pkce, UpstreamOptions, UpstreamParam};
use gatehouse_core::user::DATABASE_PROVIDER;
use gatehouse_store::StoredConnection;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// How long a user may spend at the provider.
const UPSTREAM_LIFETIME_MS: i64 = 15 * 60 * 1000;

/// OAuth errors a provider may send back that the application hears as they are; any other
/// becomes `access_denied`.
const PASSED_THROUGH: &[&str] = &[
    "access_denied",
    "invalid_request",
    "invalid_scope",
    "server_error",
    "temporarily_unavailable",
    "login_required",
    "consent_required",
    "interaction_required",
];

/// A login at a provider, sealed into the `state` the provider brings back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct UpstreamState {
    tx: Transaction,
    connection_id: String,
    /// The single-use row this login consumes when it comes back.
    state_id: String,
    nonce: String,
    code_verifier: Option<String>,
    /// SHA-256 of the CSRF cookie of the browser that left for the provider.
    browser_binding: Option<String>,
    created_at: i64,
}

impl crate::sealed::Sealable for UpstreamState {
    const PURPOSE: &'static str = "upstream-state";
    fn expires_at(&self) -> Option<i64> {
        Some(self.created_at + UPSTREAM_LIFETIME_MS)
    }
}

/// A first login through a provider, waiting on the user's choice to link it to the
/// existing account with the same email.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LinkSuggestion {
    tx: Transaction,
    new_user_id: String,
    existing_user_id: String,
    /// The upstream connection's name and button label, and the email both accounts have.
    connection: String,
    provider: String,
    email: String,
    created_at: i64,
}

impl crate::sealed::Sealable for LinkSuggestion {
    const PURPOSE: &'static str = "link-suggestion";
    fn expires_at(&self) -> Option<i64> {
        Some(self.created_at + UPSTREAM_LIFETIME_MS)
    }
}

/// "An account with this email already exists: link them?"
#[derive(Debug, Clone)]
pub struct LinkScreen {
    /// The sealed suggestion the page posts back.
    pub state: String,
    pub email: String,
    /// The provider's label ("Google").
    pub provider: String,
    pub error: Option<String>,
    pub branding: super::Branding,
}

/// A login button on the hosted page.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderButton {
    pub connection: String,
    pub label: String,
}

impl Gatehouse {
    /// The upstream and SAML connections whose buttons the login page shows to this
    /// application.
    pub(super) async fn provider_buttons(
        &self,
        client_id: &str,
    ) -> Result<Vec<ProviderButton>, crate::error::ServiceError> {
        let (all, _) = self
            .inner
            .connections
            .list(self.tenant(), None, 0, i64::MAX)
            .await?;
        Ok(all
            .into_iter()
            .filter(|c| {
                (c.settings.is_upstream() || c.settings.is_saml())
                    && c.settings.show_as_button != Some(false)
            })
            .filter(|c| connection_serves(c, client_id))
            .filter_map(|c| {
                // A SAML connection's button is labelled with its display name.
                if c.settings.is_saml() {
                    return Some(ProviderButton {
                        label: c
                            .settings
                            .display_name
                            .clone()
                            .unwrap_or_else(|| c.settings.name.clone()),
                        connection: c.settings.name,
                    });
                }
                // A connection whose stored options no longer read gets no button; say why.
                let o = match c.settings.upstream_options() {
                    Ok(o) => o,
                    Err(e) => {
                        tracing::warn!(connection = %c.settings.name, "no login button: {}", e.message);
                        return None;
                    }
                };
                Some(ProviderButton {
                    label: o.label(c.settings.display_name.as_deref(), &c.settings.name),
                    connection: c.settings.name,
                })
            })
            .collect())
    }

    /// Sends the browser to the connection's provider for this transaction.
    pub(super) async fn to_provider(
        &self,
        tx: Transaction,
        c: &StoredConnection,
        browser: &Browser,
    ) -> Step {
        if !connection_serves(c, &tx.req.client_id) {
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new("invalid_request", "the connection is not enabled"),
            );
        }
        let o = match c.settings.upstream_options() {
            Ok(o) => o,
            Err(e) => return self.misconfigured(&tx, c, &e.message),
        };
        let Some(client_id) = o.client_id.clone() else {
            return self.misconfigured(&tx, c, "it has no client_id");
        };
        let endpoints = match self.provider_endpoints(&o).await {
            Ok(e) => e,
            Err(UpstreamError::Unreachable(why)) => return provider_down(&o, c, &why),
            Err(UpstreamError::Ours(e)) => return e.into(),
            Err(e) => return self.misconfigured(&tx, c, &e.to_string()),
        };
        let random =
            |n| gatehouse_crypto::random::b64url(n).map_err(crate::error::ServiceError::internal);
        let (state_id, nonce) = match (random(16), random(24)) {
            (Ok(s), Ok(n)) => (s, n),
            (Err(e), _) | (_, Err(e)) => return e.into(),
        };
        let pkce = match (o.channel, o.pkce) {
            (Channel::Front, _) | (_, Pkce::Disabled) => None,
            (_, Pkce::Auto) if !endpoints.s256_supported => None,
            (_, Pkce::Plain) => Some("plain"),
            _ => Some("S256"),
        };
        let code_verifier = match pkce {
            Some(_) => match random(48) {
                Ok(v) => Some(v),
                Err(e) => return e.into(),
            },
            None => None,
        };
        let now = self.now();
        if let Err(e) = self
            .inner
            .upstream_states
            .begin(self.tenant(), &state_id, now + UPSTREAM_LIFETIME_MS)
            .await
        {
            return Step::from(crate::error::ServiceError::from(e));
        }
        let login_hint = tx.req.login_hint.clone();
        let prompt = tx.req.prompt.map(|p| p.as_str().to_string());
        let sealed = UpstreamState {
            tx,
            connection_id: c.id.clone(),
            state_id,
            nonce: nonce.clone(),
            code_verifier: code_verifier.clone(),
            browser_binding: browser
                .csrf
                .as_deref()
                .map(|c| gatehouse_crypto::sha256_hex(c.as_bytes())),
            created_at: now,
        };
        let state = match self.seal(&sealed) {
            Ok(s) => s,
            Err(e) => return e.into(),
        };
        let callback = self.upstream_callback_url();
        let challenge = match (pkce, &code_verifier) {
            (Some("S256"), Some(v)) => Some(gatehouse_crypto::pkce_s256(v)),
            (Some(_), Some(v)) => Some(v.clone()),
            _ => None,
        };
        let mut params: Vec<(&str, &str)> = vec![
            ("client_id", &client_id),
            ("redirect_uri", &callback),
            ("scope", &o.scope),
            ("state", &state),
        ];
        match o.channel {
            Channel::Back => params.push(("response_type", "code")),
            Channel::Front => {
                params.push(("response_type", "id_token"));
                params.push(("response_mode", "form_post"));
            }
        }
        if o.form_post && o.channel == Channel::Back {
            params.push(("response_mode", "form_post"));
        }
        if o.protocol == gatehouse_core::upstream::Protocol::Oidc {
            params.push(("nonce", &nonce));
        }
        if let (Some(method), Some(ch)) = (pkce, &challenge) {
            params.push(("code_challenge", ch));
            params.push(("code_challenge_method", method));
        }
        let aliased = |name: &str| -> Option<&str> {
            match name {
                "login_hint" => login_hint.as_deref(),
                "prompt" => prompt.as_deref(),
                _ => None,
            }
        };
        for (name, param) in &o.upstream_params {
            let value = match param {
                UpstreamParam::Value(v) => Some(v.as_str()),
                UpstreamParam::Alias(a) => aliased(a),
            };
            if let Some(v) = value {
                params.push((name, v));
            }
        }
        Step::External(redirect_url(
            &endpoints.authorization_endpoint,
            ResponseMode::Query,
            &params,
        ))
    }

    /// `GET /u/login/upstream`: a provider's button on the login page.
    pub async fn login_with_provider(
        &self,
        transaction: &str,
        connection: &str,
        browser: &Browser,
    ) -> Outcome {
        let Some(tx) = self.open_transaction(transaction) else {
            return expired().into();
        };
        match self.connection_by_name(connection).await {
            Ok(Some(c)) if c.settings.is_upstream() => {
                self.to_provider(tx, &c, browser).await.into()
            }
            Ok(Some(c)) if c.settings.is_saml() => self.to_saml_idp(tx, &c).await.into(),
            Ok(_) => error_page(
                400,
                format!("There is no identity provider named {connection}."),
            )
            .into(),
            Err(e) => Step::from(e).into(),
        }
    }

    /// `/login/callback` (GET, or POST for `form_post` providers): the provider's answer.
    /// It must come to the browser that left for the provider (its CSRF cookie), else a
    /// stranger could hand a victim the answer to the stranger's own login. A provider's
    /// posted answer is cross-site, so a `SameSite=Lax` cookie does not come with it: there
    /// the cookie is checked when it comes.
    pub async fn upstream_callback(
        &self,
        params: &HashMap<String, String>,
        posted: bool,
        browser: &Browser,
    ) -> Outcome {
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let Some(st) = param("state").and_then(|s| self.unseal::<UpstreamState>(s).ok()) else {
            return expired().into();
        };
        let presented = browser
            .csrf
            .as_deref()
            .filter(|_| browser.csrf_sent)
            .map(|c| gatehouse_crypto::sha256_hex(c.as_bytes()));
        let same_browser = match (&st.browser_binding, &presented) {
            (Some(bound), Some(p)) => gatehouse_crypto::ct_eq(bound.as_bytes(), p.as_bytes()),
            (Some(_), None) => posted,
            (None, _) => true,
        };
        if !same_browser {
            return error_page(
                400,
                "This sign-in was started in another browser. Go back to the application and sign in again.",
            )
            .into();
        }
        match self
            .inner
            .upstream_states
            .consume(self.tenant(), &st.state_id, self.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => {
                return error_page(
                    400,
                    "This sign-in was already completed or has expired. Go back to the application and sign in again.",
                )
                .into();
            }
            Err(e) => return Step::from(crate::error::ServiceError::from(e)).into(),
        }
        let UpstreamState {
            mut tx,
            connection_id,
            nonce,
            code_verifier,
            ..
        } = st;
        let c = match self.stored_connection(&connection_id).await {
            Ok(c) => c,
            Err(e) => return expired_or_failed(e).into(),
        };
        if !connection_serves(&c, &tx.req.client_id) {
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new("invalid_request", "the connection is not enabled"),
            )
            .into();
        }
        let mut event = LogEvent {
            client_id: Some(tx.req.client_id.clone()),
            connection: Some(c.settings.name.clone()),
            ..browser.event()
        };
        event
            .details
            .insert("strategy".into(), json!(c.settings.strategy));
        if let Some(err) = param("error") {
            let desc = param("error_description")
                .unwrap_or("The identity provider did not log the user in.");
            let error = PASSED_THROUGH
                .iter()
                .find(|e| **e == err)
                .copied()
                .unwrap_or("access_denied");
            self.record_upstream_failure(event, &format!("{err}: {desc}"))
                .await;
            return problem_answer(&tx.req, AuthorizeProblem::new(error, desc)).into();
        }
        let o = match c.settings.upstream_options() {
            Ok(o) => o,
            Err(e) => return self.misconfigured(&tx, &c, &e.message).into(),
        };
        let login = self
            .login_at_provider(&c, &o, params, &nonce, code_verifier.as_deref())
            .await;
        let login = match login {
            Ok(l) => l,
            Err(e) => return self.upstream_failed(&tx, &c, &o, event, e).await.into(),
        };
        event.user_name = login.profile.email.clone();
        let verified_email = login
            .profile
            .email
            .clone()
            .filter(|_| login.profile.email_verified);
        let user = match self.upstream_user(&c, &o, login).await {
            Ok(u) => u,
            Err(e) => return self.upstream_failed(&tx, &c, &o, event, e).await.into(),
        };
        if user.created {
            event.details.insert("created".into(), json!(true));
        }
        tx.login_claims = user.denied;
        if user.created
            && let Some(email) = verified_email
        {
            match self.suggest_link(&tx, &c, &o, &user.user_id, &email).await {
                Ok(Some(screen)) => return Step::SuggestLink(screen).into(),
                Ok(None) => {}
                Err(e) => return Step::from(e).into(),
            }
        }
        let proven = Authenticated::new(user.user_id, event, "Successful login");
        self.complete_login(tx, proven, browser).await
    }

    /// The link suggestion for a user a provider just created, when the tenant wants it and
    /// exactly one database user has the same verified email.
    async fn suggest_link(
        &self,
        tx: &Transaction,
        c: &StoredConnection,
        o: &UpstreamOptions,
        new_user_id: &str,
        email: &str,
    ) -> Result<Option<LinkScreen>, crate::error::ServiceError> {
        if !self.tenant_settings().await?.suggest_account_linking {
            return Ok(None);
        }
        let candidates: Vec<_> = self
            .inner
            .users
            .by_email(self.tenant(), email)
            .await?
            .into_iter()
            .filter(|u| {
                u.user_id != new_user_id && u.email_verified && u.provider == DATABASE_PROVIDER
            })
            .collect();
        let [existing] = candidates.as_slice() else {
            return Ok(None);
        };
        let provider = o.label(c.settings.display_name.as_deref(), &c.settings.name);
        let suggestion = LinkSuggestion {
            tx: tx.clone(),
            new_user_id: new_user_id.to_string(),
            existing_user_id: existing.user_id.clone(),
            connection: c.settings.name.clone(),
            provider: provider.clone(),
            email: email.to_string(),
            created_at: self.now(),
        };
        Ok(Some(LinkScreen {
            state: self.seal(&suggestion)?,
            email: email.to_string(),
            provider,
            error: None,
            branding: self.branding().await?,
        }))
    }

    /// `POST /u/link`: link the accounts (after the existing account's password) or go on
    /// without linking.
    pub async fn submit_link_suggestion(
        &self,
        state: &str,
        link: bool,
        password: String,
        browser: &Browser,
    ) -> Outcome {
        let Ok(s) = self.unseal::<LinkSuggestion>(state) else {
            return expired().into();
        };
        // The login through the provider, as logged once the user has chosen.
        let upstream_event = LogEvent {
            client_id: Some(s.tx.req.client_id.clone()),
            connection: Some(s.connection.clone()),
            user_name: Some(s.email.clone()),
            ..browser.event()
        };
        if !link {
            let proven =
                Authenticated::new(s.new_user_id.clone(), upstream_event, "Successful login");
            return self.complete_login(s.tx, proven, browser).await;
        }
        let existing = match self
            .inner
            .users
            .get(self.tenant(), &s.existing_user_id)
            .await
        {
            Ok(Some(v)) => v.user,
            Ok(None) => return expired().into(),
            Err(e) => return Step::from(crate::error::ServiceError::from(e)).into(),
        };
        let (connection, email) = match (
            self.stored_connection(&existing.connection_id).await,
            existing.email.clone(),
        ) {
            (Ok(c), Some(e)) => (c, e),
            (Err(e), _) => return Step::from(e).into(),
            (_, None) => return expired().into(),
        };
        let mut event = LogEvent {
            client_id: Some(s.tx.req.client_id.clone()),
            ..browser.event()
        };
        let again = |error: String| async {
            let branding = match self.branding().await {
                Ok(b) => b,
                Err(e) => return Outcome::from(Step::from(e)),
            };
            Step::SuggestLink(LinkScreen {
                state: state.to_string(),
                email: s.email.clone(),
                provider: s.provider.clone(),
                error: Some(error),
                branding,
            })
            .into()
        };
        match self
            .verify_password(&connection, &email, password, &mut event)
            .await
        {
            Ok(user) if user.user_id == existing.user_id => {}
            Ok(_) => return again("That password belongs to another account.".into()).await,
            Err(LoginRefusal::Failed(f)) => return Step::Failed(f).into(),
            Err(refusal) => return again(refusal.to_string()).await,
        }
        match self
            .inner
            .users
            .link(self.tenant(), &existing.user_id, &s.new_user_id, self.now())
            .await
        {
            Ok(true) => {}
            Ok(false) => return again("These accounts cannot be linked any more.".into()).await,
            Err(e) => return Step::from(crate::error::ServiceError::from(e)).into(),
        }
        let mut proven_event = upstream_event;
        proven_event
            .details
            .insert("linked".into(), json!(s.new_user_id));
        let proven = Authenticated::new(existing.user_id, proven_event, "Successful login");
        self.complete_login(s.tx, proven, browser).await
    }

    /// The code exchange (or the posted ID token) and the profile.
    async fn login_at_provider(
        &self,
        c: &StoredConnection,
        o: &UpstreamOptions,
        params: &HashMap<String, String>,
        nonce: &str,
        code_verifier: Option<&str>,
    ) -> Result<UpstreamLogin, UpstreamError> {
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let endpoints = self.provider_endpoints(o).await?;
        let tokens: Map<String, Value> = match o.channel {
            Channel::Back => {
                let code = param("code").ok_or_else(|| {
                    UpstreamError::Refused("the identity provider sent no code".into())
                })?;
                self.exchange_code_at_provider(c, o, &endpoints, code, code_verifier)
                    .await?
            }
            Channel::Front => {
                let id_token = param("id_token").ok_or_else(|| {
                    UpstreamError::Refused("the identity provider sent no ID token".into())
                })?;
                let mut m = Map::new();
                m.insert("id_token".into(), Value::String(id_token.into()));
                m
            }
        };
        // Sign in with Apple posts the user's name once, on the first login.
        let apple_user = param("user").and_then(|u| serde_json::from_str::<Value>(u).ok());
        self.provider_profile(c, o, &endpoints, &tokens, nonce, apple_user)
            .await
    }

    pub(super) async fn record_upstream_failure(&self, mut event: LogEvent, why: &str) {
        event.kind = codes::FAILED_LOGIN.into();
        event.description = Some(why.to_string());
        self.record(event).await;
    }

    /// A failed upstream login: logged as `f`; the provider being down is a page (nothing
    /// was stored), our own failure a failure page, anything else `access_denied` at the
    /// application's callback.
    async fn upstream_failed(
        &self,
        tx: &Transaction,
        c: &StoredConnection,
        o: &UpstreamOptions,
        event: LogEvent,
        e: UpstreamError,
    ) -> Step {
        match e {
            UpstreamError::Ours(e) => e.into(),
            UpstreamError::Unreachable(why) => {
                self.record_upstream_failure(
                    event,
                    &format!("the identity provider could not be reached: {why}"),
                )
                .await;
                provider_down(o, c, &why)
            }
            other => {
                let why = other.to_string();
                self.record_upstream_failure(event, &why).await;
                problem_answer(&tx.req, AuthorizeProblem::new("access_denied", why))
            }
        }
    }

    pub(super) fn misconfigured(&self, tx: &Transaction, c: &StoredConnection, why: &str) -> Step {
        tracing::warn!(connection = %c.settings.name, "upstream connection cannot be used: {why}");
        problem_answer(
            &tx.req,
            AuthorizeProblem::new(
                "server_error",
                format!(
                    "the connection {} is not configured correctly",
                    c.settings.name
                ),
            ),
        )
    }
}

fn provider_down(o: &UpstreamOptions, c: &StoredConnection, why: &str) -> Step {
    tracing::warn!(connection = %c.settings.name, "identity provider unreachable: {why}");
    let label = o.label(c.settings.display_name.as_deref(), &c.settings.name);
    error_page(
        502,
        format!(
            "We could not reach {label} to sign you in, so nothing was changed. Try again in a moment."
        ),
    )
}
