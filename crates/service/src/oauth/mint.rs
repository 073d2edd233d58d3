//! Token minting shared by every grant that issues a user's tokens (and the browser flow's
//! implicit answers): the access token, the ID token and its claims, refresh tokens with
//! their families, and the login count.

use super::password::wrong_credentials;
use super::{IssuedToken, OAuthError};
use crate::Gatehouse;
use crate::error::ServiceError;
use gatehouse_core::actions::FlowChanges;
use gatehouse_core::user::User;
use gatehouse_crypto::jwt;
use gatehouse_crypto::keys::Algorithm;
use gatehouse_store::{RefreshToken, StoredClient, StoredResourceServer};
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// ID token claims that depend on how the user logged in.
#[derive(Debug, Clone, Default)]
pub struct IdTokenExtras {
    pub nonce: Option<String>,
    /// When the user last entered credentials, in epoch seconds.
    pub auth_time: Option<i64>,
    /// The browser session, for logout.
    pub sid: Option<String>,
    /// Implicit flows returning `id_token token` bind the two with `at_hash`.
    pub at_hash: bool,
    /// An upstream login's deny-listed attributes: in this login's ID token only (never
    /// replacing a claim of ours; a denied `name` or `nickname` stays out, as in Auth0).
    pub claims: Map<String, Value>,
    /// The administrator logged in as the user (an impersonation), if any.
    pub impersonator: Option<super::Impersonator>,
    /// What the login's post-login actions set: custom claims and scope changes.
    pub actions: FlowChanges,
}

/// OIDC claims of a user for the requested scopes (`openid` gives `sub` only).
pub fn user_claims(u: &User, scopes: &[&str]) -> Map<String, Value> {
    let mut c = Map::new();
    c.insert("sub".into(), json!(u.user_id));
    if scopes.contains(&"profile") {
        for (k, v) in [
            ("name", &u.name),
            ("given_name", &u.given_name),
            ("family_name", &u.family_name),
            ("nickname", &u.nickname),
            ("picture", &u.picture),
        ] {
            if let Some(v) = v {
                c.insert(k.into(), json!(v));
            }
        }
        c.insert(
            "updated_at".into(),
            json!(gatehouse_core::time::iso8601(u.updated_at)),
        );
    }
    if scopes.contains(&"email") {
        if let Some(e) = &u.email {
            c.insert("email".into(), json!(e));
        }
        c.insert("email_verified".into(), json!(u.email_verified));
    }
    c
}

/// The algorithm of an ID token for `client`: PS256 when its `jwt_configuration.alg` says
/// so, RS256 otherwise. HS256 is accepted as a setting (Auth0 offers it) and signed RS256,
/// as Gatehouse always has: a token signed with the client's secret is not issued here.
fn id_token_algorithm(client: &StoredClient) -> Algorithm {
    match client
        .settings
        .jwt_configuration
        .get("alg")
        .and_then(Value::as_str)
    {
        Some("PS256") => Algorithm::Ps256,
        _ => Algorithm::Rs256,
    }
}

impl Gatehouse {
    /// The algorithm of an access token for `api` (none: `/userinfo` only, RS256): the
    /// API's `signing_alg`. The Management API's tokens are RS256 whatever it says, since
    /// its bearer check accepts nothing else.
    pub(crate) fn access_token_algorithm(&self, api: Option<&StoredResourceServer>) -> Algorithm {
        match api {
            Some(api) if api.settings.identifier != self.config().management_audience() => {
                Algorithm::parse(&api.settings.signing_alg).unwrap_or(Algorithm::Rs256)
            }
            _ => Algorithm::Rs256,
        }
    }
}

fn users_may_hold(api: &StoredResourceServer, scope: &str) -> bool {
    !api.settings.is_system || gatehouse_core::scopes::is_current_user_scope(scope)
}

/// Where a new refresh token belongs: its family (for reuse detection) and the family's
/// absolute expiry, which rotation never extends.
pub(crate) struct Lineage<'a> {
    pub family_id: &'a str,
    pub expires_at: Option<i64>,
}

/// Stands for "never" in the `expires_at` column.
const NEVER: i64 = i64::MAX / 2;

impl Gatehouse {
    /// An API users may get tokens for. The Management API is one: its token for a user
    /// carries only the user's own (`current_user`) scopes (see [`Gatehouse::user_tokens`]),
    /// as Auth0 issues it through `/authorize` and the password grants.
    pub(crate) async fn api_for_users(
        &self,
        audience: &str,
    ) -> Result<Arc<StoredResourceServer>, OAuthError> {
        self.cached_api(audience).await?.ok_or_else(|| {
            OAuthError::new(
                403,
                "access_denied",
                format!("Service not found: {audience}"),
            )
        })
    }

    /// Counts a login: `logins_count`, `last_login`, `last_ip`.
    pub(crate) async fn record_login(
        &self,
        user_id: &str,
        ip: Option<&str>,
    ) -> Result<User, OAuthError> {
        self.inner
            .users
            .record_login(self.tenant(), user_id, self.now(), ip)
            .await
            .map_err(OAuthError::failed)?
            .map(|v| v.user)
            .ok_or_else(wrong_credentials)
    }

    /// The tokens of a grant that has just proved its user (password, passwordless code,
    /// authorization code): access and ID tokens, plus a refresh token when `offline_access`
    /// was asked for and is allowed, in `lineage`'s family when given.
    pub(crate) async fn tokens_for_user(
        &self,
        client: &StoredClient,
        user: &User,
        api: Option<&StoredResourceServer>,
        scope: Option<&str>,
        extra: &IdTokenExtras,
        lineage: Option<Lineage<'_>>,
    ) -> Result<IssuedToken, OAuthError> {
        let mut issued = self.user_tokens(client, user, api, scope, extra).await?;
        self.maybe_refresh_token(client, user, api, scope, lineage, &mut issued)
            .await?;
        Ok(issued)
    }

    /// An access token (for the API, else for `/userinfo`) and, with `openid`, an ID token.
    /// The API's scopes are those requested that it defines and, when it enforces policies,
    /// that the user holds as permissions; its dialect decides the `permissions` claim and
    /// the RFC 9068 shape. The tenant's authorization claims go in both tokens.
    pub(crate) async fn user_tokens(
        &self,
        client: &StoredClient,
        user: &User,
        api: Option<&StoredResourceServer>,
        scope: Option<&str>,
        extra: &IdTokenExtras,
    ) -> Result<IssuedToken, OAuthError> {
        let access_rights = self.login_access(client, user, api).await?;
        if !access_rights.permitted {
            return Err(OAuthError::new(
                403,
                "access_denied",
                crate::authorization::NOT_PERMITTED,
            ));
        }
        let requested: Vec<&str> = scope.unwrap_or("openid").split_whitespace().collect();
        let oidc: Vec<&str> = requested
            .iter()
            .copied()
            .filter(|s| ["openid", "profile", "email"].contains(s))
            .collect();
        let now = self.now() / 1000;
        let issuer = self.config().issuer();
        let userinfo = format!("{issuer}userinfo");
        let (aud, lifetime, mut scopes) = match api {
            Some(api) => {
                let enforced = api.settings.enforce_policies;
                let api_scopes: Vec<&str> = requested
                    .iter()
                    .copied()
                    .filter(|s| api.settings.defines_scope(s) && access_rights.holds(enforced, s))
                    .filter(|s| users_may_hold(api, s))
                    .collect();
                let a = &api.settings.identifier;
                let aud = if oidc.contains(&"openid") {
                    json!([a, userinfo])
                } else {
                    json!(a)
                };
                (aud, api.settings.token_lifetime, api_scopes)
            }
            None => (json!(userinfo), 86_400, vec![]),
        };
        let mut granted: Vec<String> = oidc.iter().map(|s| s.to_string()).collect();
        granted.extend(scopes.drain(..).map(str::to_string));
        extra.actions.apply_to_scopes(&mut granted);
        let scope = granted.join(" ");
        let dialect = api.map(|a| a.settings.token_dialect).unwrap_or_default();
        let mut access = json!({
            "iss": issuer, "sub": user.user_id, "aud": aud, "iat": now, "exp": now + lifetime,
            "scope": scope,
        });
        // An impersonated login names its actor in both tokens (RFC 8693 `act`).
        let act = extra
            .impersonator
            .as_ref()
            .map(|i| json!({"sub": i.user_id}));
        if let Value::Object(claims) = &mut access {
            if dialect.is_rfc9068() {
                claims.insert("client_id".into(), json!(client.client_id));
                claims.insert(
                    "jti".into(),
                    json!(gatehouse_crypto::random::b64url(16).map_err(OAuthError::internal)?),
                );
            } else {
                claims.insert("azp".into(), json!(client.client_id));
            }
            if dialect.with_permissions() {
                claims.insert(
                    "permissions".into(),
                    json!(access_rights.api_permissions.clone().unwrap_or_default()),
                );
            }
            for (k, v) in &access_rights.claims {
                claims.entry(k.clone()).or_insert_with(|| v.clone());
            }
            if let Some(act) = &act {
                claims.insert("act".into(), act.clone());
            }
            // Actions' claims never replace ours; on the Management API only namespaced
            // ones are kept, as Auth0 does for its own APIs.
            let system_api = api.is_some_and(|a| a.settings.is_system);
            extra.actions.add_access_claims(claims, system_api);
        }
        let typ = if dialect.is_rfc9068() {
            "at+jwt"
        } else {
            "JWT"
        };
        let keys = self.keyring();
        let access_token =
            jwt::sign_typed(&keys.signer(self.access_token_algorithm(api)), typ, &access)
                .map_err(OAuthError::internal)?;
        let id_token = if oidc.contains(&"openid") {
            let lifetime = client.settings.id_token_lifetime();
            let mut claims = user_claims(user, &oidc);
            claims.insert("iss".into(), json!(issuer));
            claims.insert("aud".into(), json!(client.client_id));
            claims.insert("iat".into(), json!(now));
            claims.insert("exp".into(), json!(now + lifetime));
            if let Some(n) = &extra.nonce {
                claims.insert("nonce".into(), json!(n));
            }
            if let Some(t) = extra.auth_time {
                claims.insert("auth_time".into(), json!(t));
            }
            if let Some(sid) = &extra.sid {
                claims.insert("sid".into(), json!(sid));
            }
            if let (Some(act), Some(i)) = (act, &extra.impersonator) {
                claims.insert("act".into(), act);
                claims.insert("impersonated".into(), json!(true));
                claims.insert(
                    "impersonator".into(),
                    json!({"user_id": i.user_id, "email": i.email}),
                );
            }
            for (k, v) in extra.claims.iter().chain(&access_rights.claims) {
                if k != "name" && k != "nickname" && !claims.contains_key(k) {
                    claims.insert(k.clone(), v.clone());
                }
            }
            extra.actions.add_id_claims(&mut claims);
            if extra.at_hash {
                claims.insert(
                    "at_hash".into(),
                    json!(gatehouse_crypto::at_hash(&access_token)),
                );
            }
            Some(
                jwt::sign(
                    &keys.signer(id_token_algorithm(client)),
                    &Value::Object(claims),
                )
                .map_err(OAuthError::internal)?,
            )
        } else {
            None
        };
        Ok(IssuedToken {
            access_token,
            id_token,
            refresh_token: None,
            scope,
            expires_in: lifetime,
        })
    }

    /// Adds a refresh token when `offline_access` was asked for, the client may use the
    /// refresh_token grant, and the API (if any) allows offline access.
    pub(crate) async fn maybe_refresh_token(
        &self,
        client: &StoredClient,
        user: &User,
        api: Option<&StoredResourceServer>,
        scope: Option<&str>,
        lineage: Option<Lineage<'_>>,
        issued: &mut IssuedToken,
    ) -> Result<(), OAuthError> {
        let wants = scope
            .unwrap_or("")
            .split_whitespace()
            .any(|s| s == "offline_access");
        // The Management API allows no offline access to clients, but a user's own token
        // for it may be refreshed like any login's (SPAs keep their session with it).
        if !wants
            || !client.settings.allows_grant("refresh_token")
            || api.is_some_and(|a| !a.settings.allow_offline_access && !a.settings.is_system)
        {
            return Ok(());
        }
        let value = gatehouse_crypto::random::b64url(48).map_err(OAuthError::internal)?;
        let now = self.now();
        // A new family holds what was granted (never more than the user held then, when the
        // API enforces policies); a rotation keeps its family's scope.
        let rotating = matches!(
            lineage,
            Some(Lineage {
                expires_at: Some(_),
                ..
            })
        );
        let stored_scope = if rotating {
            scope.unwrap_or("").to_string()
        } else {
            format!("{} offline_access", issued.scope)
                .trim()
                .to_string()
        };
        let policy = &client.settings.refresh_token;
        let (family_id, expires_at) = match lineage {
            Some(Lineage {
                family_id,
                expires_at: Some(e),
            }) => (family_id.to_string(), e),
            other => (
                match other {
                    Some(l) => l.family_id.to_string(),
                    None => gatehouse_crypto::random::hex(12).map_err(OAuthError::internal)?,
                },
                policy.lifetime_ms().map_or(NEVER, |l| now + l),
            ),
        };
        let record = RefreshToken {
            token_hash: gatehouse_crypto::sha256_hex(value.as_bytes()),
            family_id,
            client_id: client.client_id.clone(),
            user_id: user.user_id.clone(),
            audience: api.map(|a| a.settings.identifier.clone()),
            scope: stored_scope,
            created_at: now,
            expires_at,
            used_at: None,
            revoked_at: None,
        };
        self.inner
            .refresh_tokens
            .insert(self.tenant(), &record)
            .await
            .map_err(OAuthError::failed)?;
        issued.refresh_token = Some(value);
        if !issued
            .scope
            .split_whitespace()
            .any(|s| s == "offline_access")
        {
            issued.scope = format!("{} offline_access", issued.scope)
                .trim()
                .to_string();
        }
        Ok(())
    }
}

/// The purpose a login's extra claims are sealed for on its code.
const LOGIN_CLAIMS_PURPOSE: &str = "login-claims";

/// What an authorization code carries for its tokens beyond the code row: an upstream
/// login's deny-listed attributes and what the login's actions set.
#[derive(serde::Serialize, serde::Deserialize, Default)]
struct SealedLogin {
    #[serde(default)]
    upstream: Map<String, Value>,
    #[serde(default)]
    actions: FlowChanges,
}

impl Gatehouse {
    /// Seals a login's deny-listed attributes and its actions' token changes onto its
    /// authorization code (the database never holds them in clear); nothing when there are
    /// none.
    pub(crate) fn seal_login_claims(
        &self,
        upstream: &Map<String, Value>,
        actions: &FlowChanges,
    ) -> Result<Option<String>, ServiceError> {
        if upstream.is_empty() && !actions.touches_tokens() {
            return Ok(None);
        }
        let text = serde_json::to_string(&SealedLogin {
            upstream: upstream.clone(),
            actions: actions.clone(),
        })
        .map_err(ServiceError::internal)?;
        self.inner
            .secrets
            .seal_text(LOGIN_CLAIMS_PURPOSE, &text)
            .map(Some)
            .map_err(ServiceError::internal)
    }

    /// The sealed extras of a code: the upstream attributes and the actions' changes.
    pub(crate) fn open_login_claims(
        &self,
        sealed: Option<&str>,
    ) -> Result<(Map<String, Value>, FlowChanges), ServiceError> {
        let Some(sealed) = sealed else {
            return Ok((Map::new(), FlowChanges::default()));
        };
        let text = self
            .inner
            .secrets
            .open_text(LOGIN_CLAIMS_PURPOSE, sealed)
            .map_err(ServiceError::internal)?;
        let login: SealedLogin = serde_json::from_str(&text).map_err(ServiceError::internal)?;
        Ok((login.upstream, login.actions))
    }
}
