//! `/api/v2/email-templates/{name}`: a tenant's own subject and body for each email.

use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::email::{CustomTemplate, TEMPLATE_NAMES};
use gatehouse_core::payload::Payload;

fn not_found(name: &str) -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_email_template",
        message: format!("The template {name} does not exist."),
    }
}

impl Gatehouse {
    pub async fn get_email_template(&self, name: &str) -> Result<CustomTemplate> {
        let mut settings = self.tenant_settings().await?;
        settings
            .email_templates
            .remove(name)
            .ok_or_else(|| not_found(name))
    }

    /// `POST /api/v2/email-templates` (409 when it exists) or, with `replace`, `PUT`.
    pub async fn create_email_template(
        &self,
        name: Option<&str>,
        mut body: Payload,
        replace: bool,
    ) -> Result<CustomTemplate> {
        let name = match name {
            Some(n) => n.to_string(),
            None => body.string("template")?.ok_or_else(|| {
                gatehouse_core::payload::InvalidBody::new(
                    "Payload validation error: 'Missing required property: template'.",
                )
            })?,
        };
        let t = CustomTemplate::from_create(&name, body)?;
        let mut settings = self.tenant_settings().await?;
        if !replace && settings.email_templates.contains_key(&name) {
            return Err(ServiceError::Conflict(format!(
                "Template {name} already exists."
            )));
        }
        settings.email_templates.insert(name, t.clone());
        self.save_settings(&settings).await?;
        Ok(t)
    }

    pub async fn update_email_template(&self, name: &str, body: Payload) -> Result<CustomTemplate> {
        if !TEMPLATE_NAMES.contains(&name) {
            return Err(not_found(name));
        }
        let mut settings = self.tenant_settings().await?;
        let t = settings
            .email_templates
            .get_mut(name)
            .ok_or_else(|| not_found(name))?;
        t.patch(body)?;
        let out = t.clone();
        self.save_settings(&settings).await?;
        Ok(out)
    }
}
