//! APIs (resource servers) and client grants: which client may get tokens for which API,
//! with which scopes.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_core::resource_server::ResourceServerSettings;
use gatehouse_crypto::random;
use gatehouse_store::{StoreError, StoredResourceServer};

fn rs_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_resource_server",
        message: "The resource server does not exist".into(),
    }
}

fn grant_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_client_grant",
        message: "The client grant does not exist".into(),
    }
}

fn system_api() -> ServiceError {
    ServiceError::NotSupported(
        "The Management API is a system resource server and cannot be changed".into(),
    )
}

/// A client grant: which client may get tokens for which API, with which scopes.
pub use gatehouse_store::ClientGrant;
/// An API as the service hands it out (its id and settings).
pub use gatehouse_store::StoredResourceServer as ResourceServer;

impl Gatehouse {
    pub async fn create_resource_server(
        &self,
        settings: ResourceServerSettings,
    ) -> Result<ResourceServer> {
        let rs = StoredResourceServer {
            id: random::hex(12).map_err(ServiceError::internal)?,
            settings,
        };
        self.inner
            .resource_servers
            .insert(self.tenant(), &rs, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "A resource server with the same identifier already exists".into(),
                ),
                other => other.into(),
            })?;
        Ok(rs)
    }

    /// By id or, as Auth0 allows, by (URL-encoded) identifier.
    pub(crate) async fn stored_resource_server(
        &self,
        id_or_identifier: &str,
    ) -> Result<StoredResourceServer> {
        let store = &self.inner.resource_servers;
        if let Some(rs) = store.get(self.tenant(), id_or_identifier).await? {
            return Ok(rs);
        }
        store
            .get_by_identifier(self.tenant(), id_or_identifier)
            .await?
            .ok_or_else(rs_not_found)
    }

    pub async fn get_resource_server(&self, id: &str) -> Result<ResourceServer> {
        self.stored_resource_server(id).await
    }

    pub async fn list_resource_servers(
        &self,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<ResourceServer>, i64)> {
        Ok(self
            .inner
            .resource_servers
            .list(self.tenant(), page * per_page, per_page)
            .await?)
    }

    pub async fn update_resource_server(&self, id: &str, body: Payload) -> Result<ResourceServer> {
        let mut rs = self.stored_resource_server(id).await?;
        if rs.settings.is_system {
            return Err(system_api());
        }
        let before = rs.settings.scopes.clone();
        rs.settings.patch(body)?;
        if !self
            .inner
            .resource_servers
            .update(self.tenant(), &rs)
            .await?
        {
            return Err(rs_not_found());
        }
        // A scope the API no longer defines is no longer anyone's permission.
        let removed: Vec<String> = before
            .into_iter()
            .filter(|s| !rs.settings.defines_scope(&s.value))
            .map(|s| s.value)
            .collect();
        if !removed.is_empty() {
            self.inner
                .authorization
                .forget_api_permissions(self.tenant(), &rs.settings.identifier, Some(&removed))
                .await?;
        }
        Ok(rs)
    }

    pub async fn delete_resource_server(&self, id: &str) -> Result<()> {
        let rs = self.stored_resource_server(id).await?;
        if rs.settings.is_system {
            return Err(system_api());
        }
        self.inner
            .resource_servers
            .delete(self.tenant(), &rs)
            .await?;
        self.inner
            .authorization
            .forget_api_permissions(self.tenant(), &rs.settings.identifier, None)
            .await?;
        Ok(())
    }

    /// `{client_id, audience, scope: [..]}`; every scope must be defined by the API.
    pub async fn create_client_grant(&self, mut body: Payload) -> Result<ClientGrant> {
        body.allow_only(&["client_id", "audience", "scope"])?;
        let client_id = body.required_string("client_id")?;
        let audience = body.required_string("audience")?;
        let scope = body.string_array("scope")?.ok_or_else(|| {
            InvalidBody::new("Payload validation error: 'Missing required property: scope'.")
        })?;
        self.stored_client(&client_id).await?;
        let rs = self
            .inner
            .resource_servers
            .get_by_identifier(self.tenant(), &audience)
            .await?
            .ok_or_else(rs_not_found)?;
        check_scopes(&rs.settings, &scope)?;
        let grant = ClientGrant {
            id: format!("cgr_{}", random::alnum(16).map_err(ServiceError::internal)?),
            client_id,
            audience,
            scope,
        };
        self.inner
            .clients
            .insert_grant(self.tenant(), &grant, self.now())
            .await
            .map_err(|e| match e {
                StoreError::Conflict(_) => ServiceError::Conflict(
                    "A client grant for this client and audience already exists".into(),
                ),
                other => other.into(),
            })?;
        Ok(grant)
    }

    pub async fn list_client_grants(
        &self,
        client_id: Option<&str>,
        audience: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<ClientGrant>, i64)> {
        Ok(self
            .inner
            .clients
            .list_grants(
                self.tenant(),
                client_id,
                audience,
                page * per_page,
                per_page,
            )
            .await?)
    }

    pub async fn update_client_grant(&self, id: &str, mut body: Payload) -> Result<ClientGrant> {
        body.require_some()?;
        body.allow_only(&["scope"])?;
        let scope = body.string_array("scope")?.ok_or_else(|| {
            InvalidBody::new("Payload validation error: 'Missing required property: scope'.")
        })?;
        let mut grant = self
            .inner
            .clients
            .grant_by_id(self.tenant(), id)
            .await?
            .ok_or_else(grant_not_found)?;
        if let Some(rs) = self
            .inner
            .resource_servers
            .get_by_identifier(self.tenant(), &grant.audience)
            .await?
        {
            check_scopes(&rs.settings, &scope)?;
        }
        if !self
            .inner
            .clients
            .update_grant_scope(self.tenant(), id, &scope)
            .await?
        {
            return Err(grant_not_found());
        }
        grant.scope = scope;
        Ok(grant)
    }

    pub async fn delete_client_grant(&self, id: &str) -> Result<()> {
        if !self.inner.clients.delete_grant(self.tenant(), id).await? {
            return Err(grant_not_found());
        }
        Ok(())
    }
}

fn check_scopes(rs: &ResourceServerSettings, scope: &[String]) -> Result<()> {
    match scope.iter().find(|s| !rs.defines_scope(s)) {
        Some(unknown) => Err(InvalidBody::on_property(
            format!(
                "The scope {unknown} is not defined by the resource server {}",
                rs.identifier
            ),
            "scope",
        )
        .into()),
        None => Ok(()),
    }
}
