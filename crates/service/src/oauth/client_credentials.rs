//! The `client_credentials` grant: machine clients (Management API callers included) get an
//! access token for an API their client grant covers.

use super::{ExchangeEvents, IssuedToken, OAuthError, TokenRequest};
use crate::Gatehouse;
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_crypto::jwt;
use serde_json::json;

const CLIENT_CREDENTIALS_EVENTS: ExchangeEvents = ExchangeEvents {
    success: codes::SUCCESS_CLIENT_CREDENTIALS,
    description: "Client Credentials for Access Token",
    failure: codes::FAILED_CLIENT_CREDENTIALS,
};

impl Gatehouse {
    pub(crate) async fn client_credentials_grant(
        &self,
        req: TokenRequest,
    ) -> Result<IssuedToken, OAuthError> {
        let mut event = LogEvent {
            client_id: req.client_id.clone(),
            ip: req.ip.clone(),
            user_agent: req.user_agent.clone(),
            ..Default::default()
        };
        if let Some(a) = &req.audience {
            event.details.insert("audience".into(), json!(a));
        }
        let result = self.client_credentials(req).await;
        if let Ok(t) = &result {
            event.details.insert("scope".into(), json!(t.scope));
        }
        self.log_exchange(event, &result, CLIENT_CREDENTIALS_EVENTS)
            .await;
        result
    }

    async fn client_credentials(&self, req: TokenRequest) -> Result<IssuedToken, OAuthError> {
        let client_id = req
            .client_id
            .ok_or_else(|| OAuthError::invalid_request("Missing required parameter: client_id"))?;
        let secret = req.client_secret.unwrap_or_default();
        let client = self.authenticate_client(&client_id, &secret).await?;
        if !client.settings.allows_grant("client_credentials") {
            return Err(OAuthError::new(
                403,
                "unauthorized_client",
                "Grant type 'client_credentials' not allowed for the client.",
            ));
        }
        let audience = req.audience.ok_or_else(|| {
            OAuthError::new(
                403,
                "access_denied",
                "No audience parameter was provided, and no default audience has been configured",
            )
        })?;
        let api = self
            .cached_api(&audience)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(|| {
                OAuthError::new(
                    403,
                    "access_denied",
                    format!("Service not found: {audience}"),
                )
            })?;
        let grant = self
            .cached_grant(&client_id, &audience)
            .await
            .map_err(OAuthError::failed)?
            .ok_or_else(|| {
                OAuthError::new(
                    403,
                    "access_denied",
                    format!("Client is not authorized to access \"{audience}\". You need to create a \"client-grant\" associated to this API."),
                )
            })?;
        let scopes: Vec<&str> = match req
            .scope
            .as_deref()
            .map(str::trim)
            .filter(|s| !s.is_empty())
        {
            // A requested scope narrows the grant; scopes outside it are dropped, as in Auth0.
            Some(requested) => requested
                .split_whitespace()
                .filter(|s| grant.scope.iter().any(|g| g == s))
                .collect(),
            None => grant.scope.iter().map(String::as_str).collect(),
        };
        let scope = scopes.join(" ");
        let actions = self
            .run_credentials_exchange(
                &client,
                &api,
                &scope,
                req.ip.as_deref(),
                req.user_agent.as_deref(),
            )
            .await?;
        let now = self.now() / 1000;
        let lifetime = api.settings.token_lifetime;
        let dialect = api.settings.token_dialect;
        let mut claims = json!({
            "iss": self.config().issuer(),
            "sub": format!("{client_id}@clients"),
            "aud": audience,
            "iat": now,
            "exp": now + lifetime,
            "scope": scope,
        });
        if let serde_json::Value::Object(c) = &mut claims {
            // RFC 9068 names the client `client_id`, adds a `jti` and has no `gty`.
            if dialect.is_rfc9068() {
                c.insert("client_id".into(), json!(client_id));
                c.insert(
                    "jti".into(),
                    json!(gatehouse_crypto::random::b64url(16).map_err(OAuthError::internal)?),
                );
            } else {
                c.insert("gty".into(), json!("client-credentials"));
                c.insert("azp".into(), json!(client_id));
            }
            if dialect.with_permissions() {
                c.insert("permissions".into(), json!(scopes));
            }
            // Credentials-exchange actions' claims never replace ours; on the Management
            // API only namespaced ones are kept.
            actions.add_access_claims(c, api.settings.is_system);
        }
        let typ = if dialect.is_rfc9068() {
            "at+jwt"
        } else {
            "JWT"
        };
        let access_token = jwt::sign_typed(
            &self
                .keyring()
                .signer(self.access_token_algorithm(Some(&api))),
            typ,
            &claims,
        )
        .map_err(OAuthError::internal)?;
        Ok(IssuedToken {
            access_token,
            id_token: None,
            refresh_token: None,
            scope,
            expires_in: lifetime,
        })
    }
}
