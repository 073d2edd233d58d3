//! What a user holds when tokens are minted for them: the permissions an API's token may
//! carry (`enforce_policies`, the `_authz` dialects), and the groups, roles and permissions
//! the tenant puts in namespaced claims or persists to `app_metadata.authorization`.
//! Nothing is read when neither the API nor the tenant asks for it.

use super::groups::idp_groups;
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::authorization::AuthorizationSettings;
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{User, UserPatch};
use gatehouse_store::{StoredClient, StoredResourceServer};
use serde_json::{Map, Value, json};

/// A login's authorization, computed once per token response.
#[derive(Debug, Clone, Default)]
pub struct LoginAccess {
    /// The user's permissions on the token's API, when the API enforces policies or its
    /// dialect adds a `permissions` claim.
    pub api_permissions: Option<Vec<String>>,
    /// The tenant's namespaced claims (`<ns>groups`, `<ns>roles`, `<ns>permissions`), for
    /// both tokens; empty when the tenant puts none in tokens.
    pub claims: Map<String, Value>,
    /// The user holds what the application's `login_requires` names (or it names nothing).
    pub permitted: bool,
}

impl LoginAccess {
    /// Whether the user holds `scope` on the token's API; true when the API does not
    /// enforce policies (then every scope it defines may be granted).
    pub fn holds(&self, enforced: bool, scope: &str) -> bool {
        !enforced
            || self
                .api_permissions
                .as_ref()
                .is_some_and(|p| p.iter().any(|s| s == scope))
    }
}

/// What a user without the role or permission an application requires is told.
pub(crate) const NOT_PERMITTED: &str = "You are not allowed to log in to this application";

impl Gatehouse {
    /// Whether the user holds one of the roles or permissions the application requires
    /// (`login_requires`); true when it requires none.
    pub(crate) async fn meets_login_requirement(
        &self,
        client: &StoredClient,
        user: &User,
    ) -> Result<bool> {
        let needed = &client.settings.login_requires;
        if needed.is_empty() {
            return Ok(true);
        }
        let held = self
            .inner
            .authorization
            .effective_access(
                self.tenant(),
                &user.user_id,
                &user.connection,
                &idp_groups(user),
                None,
            )
            .await?;
        Ok(satisfies(needed, &held))
    }

    /// Every role an application's `login_requires` names exists, and every permission is
    /// defined by its API.
    pub(crate) async fn check_login_requirement(
        &self,
        needed: &gatehouse_core::authorization::LoginRequirement,
    ) -> Result<()> {
        for r in &needed.roles {
            self.stored_role(r, "One or more of the roles do not exist.")
                .await?;
        }
        self.check_permissions_defined(&needed.permissions).await
    }

    /// The user's access for a token of `client` to `api` (or to `/userinfo` only), read
    /// once for the application's `login_requires`, the API and the tenant's claims;
    /// persists `app_metadata.authorization` when the tenant asks for it and it changed.
    pub(crate) async fn login_access(
        &self,
        client: &StoredClient,
        user: &User,
        api: Option<&StoredResourceServer>,
    ) -> Result<LoginAccess> {
        let needed = &client.settings.login_requires;
        let api_needs = api
            .filter(|a| a.settings.enforce_policies || a.settings.token_dialect.with_permissions());
        let settings = self.cached_tenant_settings().await?.authorization.clone();
        let tenant_needs = settings.any_in_token() || settings.any_persisted();
        if api_needs.is_none() && !tenant_needs && needed.is_empty() {
            return Ok(LoginAccess {
                permitted: true,
                ..Default::default()
            });
        }
        // Only one API's permissions are read unless the tenant or the application's
        // requirement needs all of them.
        let audience = match (tenant_needs || !needed.is_empty(), api_needs) {
            (false, Some(a)) => Some(a.settings.identifier.as_str()),
            _ => None,
        };
        let effective = self
            .inner
            .authorization
            .effective_access(
                self.tenant(),
                &user.user_id,
                &user.connection,
                &idp_groups(user),
                audience,
            )
            .await?;
        let permitted = needed.is_empty() || satisfies(needed, &effective);
        if !permitted {
            return Ok(LoginAccess::default());
        }
        let api_permissions = api_needs.map(|a| {
            effective
                .permissions
                .iter()
                .filter(|p| p.resource_server_identifier == a.settings.identifier)
                .map(|p| p.permission_name.clone())
                .collect()
        });
        let mut claims = Map::new();
        if tenant_needs {
            let groups = names(effective.groups.iter().map(|g| g.name.clone()));
            let roles = names(effective.roles.iter().map(|r| r.name.clone()));
            let permissions = names(
                effective
                    .permissions
                    .iter()
                    .map(|p| p.permission_name.clone()),
            );
            let ns = settings
                .claim_namespace
                .clone()
                .unwrap_or_else(|| self.config().issuer());
            for (on, key, list) in [
                (settings.groups_in_token, "groups", &groups),
                (settings.roles_in_token, "roles", &roles),
                (settings.permissions_in_token, "permissions", &permissions),
            ] {
                if on {
                    claims.insert(format!("{ns}{key}"), json!(list));
                }
            }
            self.persist_authorization(user, &settings, &groups, &roles, &permissions)
                .await?;
        }
        Ok(LoginAccess {
            api_permissions,
            claims,
            permitted,
        })
    }

    /// Writes `app_metadata.authorization` (only the parts the tenant persists) when it
    /// differs from what the user has, as the extension's rule does at each login.
    async fn persist_authorization(
        &self,
        user: &User,
        settings: &AuthorizationSettings,
        groups: &[String],
        roles: &[String],
        permissions: &[String],
    ) -> Result<()> {
        if !settings.any_persisted() {
            return Ok(());
        }
        let mut doc = Map::new();
        for (on, key, list) in [
            (settings.persist_groups, "groups", groups),
            (settings.persist_roles, "roles", roles),
            (settings.persist_permissions, "permissions", permissions),
        ] {
            if on {
                doc.insert(key.into(), json!(list));
            }
        }
        let doc = Value::Object(doc);
        if user.app_metadata.get("authorization") == Some(&doc) {
            return Ok(());
        }
        let patch = Payload::from_value(json!({"app_metadata": {"authorization": doc}}))
            .and_then(UserPatch::from_payload)
            .map_err(ServiceError::from)?;
        self.update_user(&user.user_id, patch).await?;
        Ok(())
    }
}

/// Whether `held` has one of the roles or permissions `needed` names.
fn satisfies(
    needed: &gatehouse_core::authorization::LoginRequirement,
    held: &gatehouse_store::EffectiveAccess,
) -> bool {
    held.roles.iter().any(|r| needed.roles.contains(&r.id))
        || held
            .permissions
            .iter()
            .any(|p| needed.permissions.contains(p))
}

/// Sorted, unique names.
fn names(items: impl Iterator<Item = String>) -> Vec<String> {
    let mut v: Vec<String> = items.collect();
    v.sort();
    v.dedup();
    v
}
