//! `/api/v2/tenants/settings`: read and change the tenant's settings.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::payload::Payload;
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_store::TenantStore;

impl Gatehouse {
    pub(crate) fn tenants_store(&self) -> TenantStore {
        TenantStore::new(self.db().clone())
    }

    /// The tenant's settings; fields never set have their defaults.
    pub async fn tenant_settings(&self) -> Result<TenantSettings> {
        let raw = self.tenants_store().settings(self.tenant()).await?;
        serde_json::from_str(&raw).map_err(ServiceError::internal)
    }

    /// Stores the whole settings document (the public settings, breached-password detection
    /// and email templates all live in it).
    pub(crate) async fn save_settings(&self, settings: &TenantSettings) -> Result<()> {
        let raw = serde_json::to_string(settings).map_err(ServiceError::internal)?;
        Ok(self
            .tenants_store()
            .put_settings(self.tenant(), &raw)
            .await?)
    }

    pub async fn update_tenant_settings(&self, body: Payload) -> Result<TenantSettings> {
        let mut settings = self.tenant_settings().await?;
        settings.patch(body)?;
        self.save_settings(&settings).await?;
        Ok(settings)
    }
}
