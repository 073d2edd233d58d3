//! The service's typed values as the Management API's JSON: one place that knows Auth0's
//! wire shapes for applications, connections, APIs, client grants, tenant settings and email
//! templates and brute-force blocks (the `fields` projection is applied to these documents by the handlers).

use crate::error::ApiError;
use gatehouse_core::email::CustomTemplate;
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_service::clients::Client;
use gatehouse_service::connections::Connection;
use gatehouse_service::resource_servers::{ClientGrant, ResourceServer};
use gatehouse_service::user_blocks::UserBlock;
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Value, json};

pub fn client(g: &Gatehouse, c: &Client) -> Value {
    gatehouse_core::client::client_json(&c.client_id, g.tenant(), &c.settings, c.secret.as_deref())
}

pub fn connection(c: &Connection) -> Value {
    c.settings.to_json(&c.id)
}

pub fn resource_server(rs: &ResourceServer) -> Value {
    rs.settings.to_json(&rs.id)
}

pub fn client_grant(g: &ClientGrant) -> Value {
    json!({"id": g.id, "client_id": g.client_id, "audience": g.audience, "scope": g.scope})
}

/// `{"blocked_for": [{identifier, ip, connection}]}`.
pub fn user_blocks(blocks: &[UserBlock]) -> Value {
    let blocked_for: Vec<Value> = blocks
        .iter()
        .map(|b| json!({"identifier": b.identifier, "ip": b.ip, "connection": b.connection}))
        .collect();
    json!({ "blocked_for": blocked_for })
}

pub fn tenant_settings(s: &TenantSettings) -> Value {
    s.to_json()
}

pub fn email_template(t: &CustomTemplate) -> Result<Value, ApiError> {
    serde_json::to_value(t).map_err(|e| ServiceError::internal(e).into())
}
