//! The service's typed values as the Management API's JSON: one place that knows Auth0's
//! wire shapes for applications, connections, APIs, client grants, tenant settings and email
//! templates, jobs and brute-force blocks (the `fields` projection is applied to these documents by the handlers).

use crate::error::ApiError;
use gatehouse_core::email::CustomTemplate;
use gatehouse_core::tenant_settings::TenantSettings;
use gatehouse_core::time::iso8601;
use gatehouse_service::clients::Client;
use gatehouse_service::connections::Connection;
use gatehouse_service::jobs::{JobView, RefusedRow};
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

/// `GET /api/v2/jobs/{id}` in Auth0's shape, with Gatehouse's `processed`/`total` counts.
pub fn job(j: &JobView) -> Value {
    let mut m = j.params.clone();
    m.insert("id".into(), json!(j.id));
    m.insert("type".into(), json!(j.kind));
    m.insert("status".into(), json!(j.status));
    m.insert("created_at".into(), json!(iso8601(j.created_at)));
    if let Some(l) = &j.location {
        m.insert("location".into(), json!(l));
    }
    if let Some(p) = j.percentage_done {
        m.insert("percentage_done".into(), json!(p));
    }
    if let Some(t) = j.time_left_seconds {
        m.insert("time_left_seconds".into(), json!(t));
    }
    if let Some(s) = &j.summary {
        m.insert(
            "summary".into(),
            json!({"failed": s.failed, "updated": s.updated, "inserted": s.inserted,
                   "total": s.inserted + s.updated + s.failed}),
        );
    }
    m.insert("processed".into(), json!(j.processed));
    if let Some(t) = j.total {
        m.insert("total".into(), json!(t));
    }
    if let Some(d) = &j.status_details {
        m.insert("status_details".into(), json!(d));
    }
    Value::Object(m)
}

/// `GET /api/v2/jobs/{id}/errors`: each refused row with its reasons.
pub fn refused_rows(rows: &[RefusedRow]) -> Value {
    rows.iter()
        .map(|r| {
            let errors: Vec<Value> = r
                .reasons
                .iter()
                .map(|e| json!({"code": e.code, "message": e.message, "path": e.path}))
                .collect();
            json!({"user": r.user, "errors": errors, "index": r.index})
        })
        .collect()
}

pub fn tenant_settings(s: &TenantSettings) -> Value {
    s.to_json()
}

pub fn email_template(t: &CustomTemplate) -> Result<Value, ApiError> {
    serde_json::to_value(t).map_err(|e| ServiceError::internal(e).into())
}
