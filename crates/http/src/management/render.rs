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

/// A role or a group: `{id, name, description}` (no description when none was given).
pub fn named(r: &gatehouse_service::authorization::Role) -> Value {
    let mut v = json!({"id": r.id, "name": r.name});
    if let Some(d) = &r.description {
        v["description"] = json!(d);
    }
    v
}

/// `{resource_server_identifier, permission_name, resource_server_name, description}`.
pub fn permission(p: &gatehouse_service::authorization::PermissionView) -> Value {
    json!({
        "resource_server_identifier": p.permission.resource_server_identifier,
        "permission_name": p.permission.permission_name,
        "resource_server_name": p.resource_server_name,
        "description": p.description,
    })
}

/// A user's permission with `sources`: `DIRECT` and one `ROLE` entry per role giving it.
pub fn user_permission(p: &gatehouse_service::authorization::UserPermissionView) -> Value {
    let mut v = permission(&p.view);
    let mut sources = Vec::new();
    if p.direct {
        sources.push(json!({"source_id": "", "source_name": "", "source_type": "DIRECT"}));
    }
    for (id, name) in &p.roles {
        sources.push(json!({"source_id": id, "source_name": name, "source_type": "ROLE"}));
    }
    v["sources"] = Value::Array(sources);
    v
}

/// A role's or group's member: `{user_id, picture, name, email}`.
pub fn member(u: &gatehouse_service::authorization::MemberRow) -> Value {
    json!({"user_id": u.user_id, "picture": u.picture, "name": u.name, "email": u.email})
}

/// A group mapping: `{id, connection_name, group_name}`.
pub fn group_mapping(m: &gatehouse_service::authorization::GroupMapping) -> Value {
    json!({"id": m.id, "connection_name": m.connection_name, "group_name": m.group_name})
}
