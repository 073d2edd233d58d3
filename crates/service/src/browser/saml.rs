//! Logging in at a SAML identity provider (`strategy: "samlp"`): `/authorize?connection=NAME`,
//! a button, or an email domain in the connection's `domain_aliases` sends the browser to
//! the IdP with an AuthnRequest (HTTP-Redirect, signed when `signSAMLRequest`, or an
//! auto-posted HTTP-POST form) and the transaction sealed into `RelayState`; the IdP posts
//! its Response to `/login/callback?connection=NAME`. The Response must answer that very
//! request (`InResponseTo`), once (the relay state is single use, the assertion's id is
//! remembered until it expires), be signed by the connection's certificate and meant for
//! this service provider now (`gatehouse_saml`). The user is then found or created like a
//! provider's (`ExternalIdentity`), the attributes mapped by `fieldsMap`, and the login ends
//! in `complete_login`. A login the IdP starts itself is refused unless the connection's
//! `idpinitiated` names the application it lands in.

use super::{Browser, CallbackAnswer, Outcome, Step, Transaction, error_page, problem_answer};
use crate::Gatehouse;
use crate::browser::login::Authenticated;
use crate::connections::connection_serves;
use crate::saml::SamlSettings;
use crate::upstream::{ExternalIdentity, UpstreamError};
use gatehouse_core::authorize::{AuthorizeProblem, Prompt, ResponseMode};
use gatehouse_core::log_event::LogEvent;
use gatehouse_core::saml::{RequestBinding, SAML_STRATEGY, SamlOptions};
use gatehouse_saml::{AuthnRequest, Expectations, Message, SamlError};
use gatehouse_store::StoredConnection;
use serde::{Deserialize, Serialize};
use serde_json::json;
use std::collections::HashMap;

/// How long a user may spend at the identity provider.
const SAML_LIFETIME_MS: i64 = 15 * 60 * 1000;
/// Clock difference tolerated between Gatehouse and the IdP on every time check.
const CLOCK_SKEW_MS: i64 = 60 * 1000;

/// A login sent to the IdP, sealed into the `RelayState` it posts back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SamlRelayState {
    tx: Transaction,
    connection_id: String,
    /// The single-use row this login consumes when it comes back.
    state_id: String,
    /// The AuthnRequest's ID: the Response's `InResponseTo`.
    request_id: String,
    created_at: i64,
}

impl crate::sealed::Sealable for SamlRelayState {
    const PURPOSE: &'static str = "saml-relay-state";
    fn expires_at(&self) -> Option<i64> {
        Some(self.created_at + SAML_LIFETIME_MS)
    }
}

/// What a federated logout needs of a SAML login, kept with its session.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SamlSession {
    connection_id: String,
    name_id: String,
    name_id_format: Option<String>,
    session_index: Option<String>,
}

/// A logout sent to the IdP, sealed into the `RelayState` its answer brings back.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SamlLogoutState {
    /// The checked `returnTo`.
    return_to: Option<String>,
    /// The LogoutRequest's ID: the answer's `InResponseTo`.
    request_id: String,
    created_at: i64,
}

impl crate::sealed::Sealable for SamlLogoutState {
    const PURPOSE: &'static str = "saml-logout-state";
    fn expires_at(&self) -> Option<i64> {
        Some(self.created_at + SAML_LIFETIME_MS)
    }
}

impl Gatehouse {
    /// The IdP URL that ends a SAML session there (HTTP-Redirect binding, signed when the
    /// connection signs requests), or `None` when the connection has no single logout (or
    /// is gone). `session` is what the login kept; `return_to` was checked already.
    pub(super) async fn saml_logout_request(
        &self,
        session: &str,
        return_to: Option<String>,
    ) -> crate::Result<Option<String>> {
        let Ok(session) = serde_json::from_str::<SamlSession>(session) else {
            return Ok(None);
        };
        let c = match self.stored_connection(&session.connection_id).await {
            Ok(c) if c.settings.is_saml() => c,
            Ok(_) | Err(crate::error::ServiceError::NotFound { .. }) => return Ok(None),
            Err(e) => return Err(e),
        };
        let Ok(options) = c.settings.saml_options() else {
            return Ok(None);
        };
        let Some(destination) = options.logout_url() else {
            return Ok(None);
        };
        let request_id = format!(
            "_{}",
            gatehouse_crypto::random::b64url(20).map_err(crate::error::ServiceError::internal)?
        );
        let now = self.now();
        let relay_state = self.seal(&SamlLogoutState {
            return_to,
            request_id: request_id.clone(),
            created_at: now,
        })?;
        let entity = self.saml_entity_id(&c.settings.name);
        let request = gatehouse_saml::LogoutRequest {
            id: &request_id,
            issue_instant_ms: now,
            destination,
            sp_entity_id: &entity,
            name_id: &session.name_id,
            name_id_format: session.name_id_format.as_deref(),
            session_index: session.session_index.as_deref(),
        };
        let url = self.redirect_to_idp(&request, &relay_state, options.sign_request)?;
        Ok(Some(url))
    }

    /// `GET|POST /logout`: the IdP's answer to a logout request, which goes on to the
    /// `returnTo` sealed in its relay state (the local session ended before).
    pub async fn saml_logout_return(
        &self,
        params: &HashMap<String, String>,
        deflated: bool,
    ) -> Result<Option<String>, super::logout::LogoutRefused> {
        use super::logout::LogoutRefused;
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let state = param("RelayState")
            .and_then(|s| self.unseal::<SamlLogoutState>(s).ok())
            .ok_or_else(|| {
                LogoutRefused::Refused(
                    "This logout answer is not one Gatehouse is waiting for, or it expired.".into(),
                )
            })?;
        let answer = param("SAMLResponse")
            .ok_or_else(|| {
                LogoutRefused::Refused("The identity provider sent no SAMLResponse.".into())
            })
            .and_then(|r| {
                gatehouse_saml::read_logout_response(r, deflated)
                    .map_err(|e| LogoutRefused::Refused(e.to_string()))
            })?;
        if answer.in_response_to.as_deref() != Some(state.request_id.as_str()) {
            return Err(LogoutRefused::Refused(
                "This logout answer belongs to another logout request.".into(),
            ));
        }
        if !answer.success {
            tracing::warn!("the identity provider did not end its session at logout");
        }
        Ok(state.return_to)
    }

    /// The IdP URL carrying `message` (HTTP-Redirect binding), signed with the tenant's
    /// current RSA key when the connection signs requests.
    fn redirect_to_idp(
        &self,
        message: &impl Message,
        relay_state: &str,
        sign: bool,
    ) -> crate::Result<String> {
        if !sign {
            return match message.redirect_url::<std::convert::Infallible>(relay_state, None) {
                Ok(url) => Ok(url),
                Err(never) => match never {},
            };
        }
        let ring = self.keyring();
        let sign = |q: &[u8]| gatehouse_crypto::keys::Signer::sign(ring.current(), q);
        message
            .redirect_url(relay_state, Some(&sign))
            .map_err(crate::error::ServiceError::internal)
    }

    /// Sends the browser to the connection's identity provider for this transaction.
    pub(super) async fn to_saml_idp(&self, tx: Transaction, c: &StoredConnection) -> Step {
        if !connection_serves(c, &tx.req.client_id) {
            return problem_answer(
                &tx.req,
                AuthorizeProblem::new("invalid_request", "the connection is not enabled"),
            );
        }
        let settings = match self.saml_settings(c) {
            Ok(s) => s,
            Err(why) => return self.misconfigured(&tx, c, &why),
        };
        let random =
            |n| gatehouse_crypto::random::b64url(n).map_err(crate::error::ServiceError::internal);
        let (state_id, request_id) = match (random(16), random(20)) {
            // An XML ID starts with a letter or an underscore.
            (Ok(s), Ok(r)) => (s, format!("_{r}")),
            (Err(e), _) | (_, Err(e)) => return e.into(),
        };
        let now = self.now();
        if let Err(e) = self
            .inner
            .upstream_states
            .begin(self.tenant(), &state_id, now + SAML_LIFETIME_MS)
            .await
        {
            return Step::from(crate::error::ServiceError::from(e));
        }
        let force_authn = tx.req.prompt == Some(Prompt::Login);
        let relay = SamlRelayState {
            tx,
            connection_id: c.id.clone(),
            state_id,
            request_id: request_id.clone(),
            created_at: now,
        };
        let relay_state = match self.seal(&relay) {
            Ok(s) => s,
            Err(e) => return e.into(),
        };
        let name = &c.settings.name;
        let (acs, entity) = (self.saml_acs_url(name), self.saml_entity_id(name));
        let request = AuthnRequest {
            id: &request_id,
            issue_instant_ms: now,
            destination: &settings.sso_url,
            acs_url: &acs,
            sp_entity_id: &entity,
            force_authn,
        };
        match settings.options.binding {
            RequestBinding::Redirect => {
                match self.redirect_to_idp(&request, &relay_state, settings.options.sign_request) {
                    Ok(url) => Step::External(url),
                    Err(e) => e.into(),
                }
            }
            RequestBinding::Post => Step::Callback(CallbackAnswer {
                redirect_uri: settings.sso_url.clone(),
                mode: ResponseMode::FormPost,
                params: vec![
                    ("SAMLRequest".into(), request.post_value()),
                    ("RelayState".into(), relay_state),
                ],
            }),
        }
    }

    /// `POST /login/callback?connection=NAME` with `SAMLResponse` (and `RelayState`): the
    /// IdP's answer, posted cross-site by the user's browser.
    pub async fn saml_callback(
        &self,
        connection: &str,
        params: &HashMap<String, String>,
        browser: &Browser,
    ) -> Outcome {
        let param = |k: &str| params.get(k).map(String::as_str).filter(|v| !v.is_empty());
        let c = match self.connection_by_name(connection).await {
            Ok(Some(c)) if c.settings.is_saml() => c,
            Ok(_) => {
                return error_page(
                    400,
                    format!("There is no SAML connection named {connection}."),
                )
                .into();
            }
            Err(e) => return Step::from(e).into(),
        };
        let settings = match self.saml_settings(&c) {
            Ok(s) => s,
            Err(why) => {
                tracing::warn!(connection = %c.settings.name, "SAML connection cannot be used: {why}");
                return error_page(
                    500,
                    format!("The connection {connection} is not configured correctly."),
                )
                .into();
            }
        };
        let Some(response) = param("SAMLResponse") else {
            return error_page(400, "The identity provider sent no SAMLResponse.").into();
        };
        let relay = param("RelayState").and_then(|s| self.unseal::<SamlRelayState>(s).ok());
        let (tx, request_id) = match relay {
            Some(r) if r.connection_id == c.id => {
                match self
                    .inner
                    .upstream_states
                    .consume(self.tenant(), &r.state_id, self.now())
                    .await
                {
                    Ok(true) => (r.tx, Some(r.request_id)),
                    Ok(false) => {
                        return error_page(
                            400,
                            "This sign-in was already completed or has expired. Go back to the application and sign in again.",
                        )
                        .into();
                    }
                    Err(e) => return Step::from(crate::error::ServiceError::from(e)).into(),
                }
            }
            Some(_) => return error_page(400, "This answer belongs to another connection.").into(),
            // No login of ours: the IdP started this one.
            None => match self.idp_initiated_transaction(&c, &settings.options).await {
                Ok(tx) => (tx, None),
                Err(step) => return step.into(),
            },
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
            .insert("strategy".into(), json!(SAML_STRATEGY));
        if request_id.is_none() {
            event.details.insert("idp_initiated".into(), json!(true));
        }
        let (user, federated) = match self
            .saml_user(&c, &settings, response, request_id.as_deref(), &mut event)
            .await
        {
            Ok(u) => u,
            Err(UpstreamError::Ours(e)) => return Step::from(e).into(),
            Err(e) => {
                let why = e.to_string();
                self.record_upstream_failure(event, &why).await;
                return problem_answer(&tx.req, AuthorizeProblem::new("access_denied", why)).into();
            }
        };
        let mut tx = tx;
        tx.login_claims = user.denied;
        if user.created {
            event.details.insert("created".into(), json!(true));
        }
        let proven =
            Authenticated::new(user.user_id, event, "Successful login").with_federated(federated);
        self.complete_login(tx, proven, browser).await
    }

    /// The Response read and checked, the assertion remembered against replay, and the
    /// user it names found or created.
    async fn saml_user(
        &self,
        c: &StoredConnection,
        settings: &SamlSettings,
        response: &str,
        request_id: Option<&str>,
        event: &mut LogEvent,
    ) -> Result<(crate::upstream::identity::UpstreamUser, String), UpstreamError> {
        let name = &c.settings.name;
        let (acs, entity) = (self.saml_acs_url(name), self.saml_entity_id(name));
        let now = self.now();
        let expect = Expectations {
            sp_entity_id: &entity,
            acs_url: &acs,
            request_id,
            certificates: &settings.certificates,
            issuer: settings.options.issuer.as_deref(),
            now_ms: now,
            skew_ms: CLOCK_SKEW_MS,
        };
        let assertion = gatehouse_saml::read_response(response, &expect).map_err(|e| {
            if settings.options.debug {
                tracing::info!(connection = %name, error = %e, "SAML response refused");
            }
            match e {
                SamlError::Status { .. } => UpstreamError::Refused(e.to_string()),
                other => UpstreamError::InvalidIdToken(other.to_string()),
            }
        })?;
        let fresh = self
            .inner
            .upstream_states
            .remember_once(
                self.tenant(),
                &format!("saml-assertion:{}:{}", c.id, assertion.id),
                now,
                assertion.not_on_or_after + CLOCK_SKEW_MS,
            )
            .await
            .map_err(crate::error::ServiceError::from)?;
        if !fresh {
            return Err(UpstreamError::Refused(
                "the SAML assertion was refused: it was used before (replayed)".into(),
            ));
        }
        let Some(mut profile) = settings
            .options
            .profile_of(&assertion.name_id, &assertion.attributes)
        else {
            return Err(UpstreamError::Refused(
                "the SAML assertion names no user (no NameID and no user id attribute)".into(),
            ));
        };
        event.user_name = profile.email.clone().or_else(|| Some(profile.id.clone()));
        let denied = profile.split_off_denied(&settings.options.non_persistent_attrs);
        let who = ExternalIdentity {
            strategy: SAML_STRATEGY,
            identity_user_id: SamlOptions::identity_user_id(name, &profile.id),
            root_sync: settings.options.root_sync,
            name_on_first_login_only: false,
        };
        let (user_id, created) = self.keep_external_user(c, &who, profile).await?;
        let primary = self
            .inner
            .users
            .primary_of(self.tenant(), &user_id)
            .await
            .map_err(crate::error::ServiceError::from)?
            .unwrap_or(user_id);
        let federated = serde_json::to_string(&SamlSession {
            connection_id: c.id.clone(),
            name_id: assertion.name_id.clone(),
            name_id_format: assertion.name_id_format.clone(),
            session_index: assertion.session_index.clone(),
        })
        .map_err(crate::error::ServiceError::internal)?;
        Ok((
            crate::upstream::identity::UpstreamUser {
                user_id: primary,
                denied,
                created,
            },
            federated,
        ))
    }

    /// A login the IdP started: allowed only when the connection names the application it
    /// lands in (`idpinitiated.client_id`), opened as that application's `/authorize`
    /// request (its one callback URL, `response_type=code` unless `client_authorizequery`
    /// says otherwise).
    async fn idp_initiated_transaction(
        &self,
        c: &StoredConnection,
        options: &SamlOptions,
    ) -> Result<Transaction, Step> {
        let Some(idp) = &options.idp_initiated else {
            return Err(error_page(
                400,
                "This connection accepts only sign-ins that start at the application (IdP-initiated login is off), or the sign-in expired. Go back to the application and sign in again.",
            ));
        };
        let mut q: HashMap<String, String> = HashMap::from([
            ("response_type".to_string(), "code".to_string()),
            ("scope".to_string(), "openid profile email".to_string()),
        ]);
        if let Some(extra) = &idp.client_authorizequery {
            for (k, v) in url::form_urlencoded::parse(extra.as_bytes()) {
                q.insert(k.into_owned(), v.into_owned());
            }
        }
        q.insert("client_id".into(), idp.client_id.clone());
        q.insert("connection".into(), c.settings.name.clone());
        self.open_authorize_request(&q).await
    }
}
