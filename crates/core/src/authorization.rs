//! Role-based access control as the Management API receives it: roles, permissions (an API's
//! scope held by a role or a user), groups and their mappings, Auth0's limits, the access
//! token dialects, and the tenant's choice of which outcomes reach tokens and `app_metadata`.

use crate::payload::{InvalidBody, Payload};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Auth0's limits (`authorization/concepts/authz-limits`).
pub const ROLES_PER_TENANT: i64 = 1000;
pub const PERMISSIONS_PER_ROLE: i64 = 1000;
pub const ROLES_PER_USER: i64 = 50;
pub const PERMISSIONS_PER_USER: i64 = 1000;
/// Gatehouse's own bounds for groups (the Authorization Extension kept all of them in one
/// 500 KB document, which held about this many).
pub const GROUPS_PER_TENANT: i64 = 1000;
pub const GROUPS_PER_USER: i64 = 100;
/// How many ids one add or remove call may name.
pub const IDS_PER_CALL: usize = 100;

const NAME_MAX: usize = 255;
const DESCRIPTION_MAX: usize = 500;

/// A role's or a group's `name` and `description` as a create or update sends them.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct NamedFields {
    pub name: Option<String>,
    pub description: Option<String>,
}

impl NamedFields {
    /// `POST /roles` or `POST /groups`: `name` required.
    pub fn from_create(mut p: Payload) -> Result<Self, InvalidBody> {
        p.allow_only(&["name", "description"])?;
        let name = p.required_string("name")?;
        let description = p.string("description")?;
        let f = Self {
            name: Some(name),
            description,
        };
        f.check()?;
        Ok(f)
    }

    /// `PATCH`: at least one of the two.
    pub fn from_patch(mut p: Payload) -> Result<Self, InvalidBody> {
        p.require_some()?;
        p.allow_only(&["name", "description"])?;
        let f = Self {
            name: p.string("name")?,
            description: p.string("description")?,
        };
        f.check()?;
        Ok(f)
    }

    fn check(&self) -> Result<(), InvalidBody> {
        if let Some(n) = &self.name {
            let len = n.chars().count();
            if n.trim().is_empty() {
                return Err(InvalidBody::on_property(
                    "String is too short (0 chars), minimum 1",
                    "name",
                ));
            }
            if len > NAME_MAX {
                return Err(InvalidBody::on_property(
                    format!("String is too long ({len} chars), maximum {NAME_MAX}"),
                    "name",
                ));
            }
        }
        if let Some(d) = &self.description {
            let len = d.chars().count();
            if len > DESCRIPTION_MAX {
                return Err(InvalidBody::on_property(
                    format!("String is too long ({len} chars), maximum {DESCRIPTION_MAX}"),
                    "description",
                ));
            }
        }
        Ok(())
    }
}

/// One permission: a scope of one API.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct PermissionRef {
    pub resource_server_identifier: String,
    pub permission_name: String,
}

/// `{permissions: [{resource_server_identifier, permission_name}]}`, at least one, no other
/// keys anywhere; duplicates collapse.
pub fn permissions_body(mut p: Payload) -> Result<Vec<PermissionRef>, InvalidBody> {
    p.allow_only(&["permissions"])?;
    let Some(raw) = p.raw("permissions") else {
        return Err(InvalidBody::new(
            "Payload validation error: 'Missing required property: permissions'.",
        ));
    };
    let Value::Array(items) = raw else {
        return Err(InvalidBody::on_property(
            "Expected type array but found another type",
            "permissions",
        ));
    };
    if items.is_empty() {
        return Err(InvalidBody::on_property(
            "Array is too short (0), minimum 1",
            "permissions",
        ));
    }
    if items.len() > PERMISSIONS_PER_ROLE as usize {
        return Err(InvalidBody::on_property(
            format!(
                "Array is too long ({}), maximum {PERMISSIONS_PER_ROLE}",
                items.len()
            ),
            "permissions",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut one = Payload::from_value(item)?;
        one.allow_only(&["resource_server_identifier", "permission_name"])?;
        let r = PermissionRef {
            resource_server_identifier: one.required_string("resource_server_identifier")?,
            permission_name: one.required_string("permission_name")?,
        };
        if r.resource_server_identifier.is_empty() || r.permission_name.is_empty() {
            return Err(InvalidBody::on_property(
                "String is too short (0 chars), minimum 1",
                "permissions",
            ));
        }
        out.push(r);
    }
    out.sort();
    out.dedup();
    Ok(out)
}

/// A body of ids under `key` (`{roles: [...]}`, `{users: [...]}`, `{members: [...]}`):
/// at least one, at most [`IDS_PER_CALL`], no other keys; duplicates collapse, order kept.
pub fn ids_body(mut p: Payload, key: &str) -> Result<Vec<String>, InvalidBody> {
    p.allow_only(&[key])?;
    let ids = p.string_array(key)?.ok_or_else(|| {
        InvalidBody::new(format!(
            "Payload validation error: 'Missing required property: {key}'."
        ))
    })?;
    if ids.is_empty() {
        return Err(InvalidBody::on_property(
            "Array is too short (0), minimum 1",
            key,
        ));
    }
    if ids.len() > IDS_PER_CALL {
        return Err(InvalidBody::on_property(
            format!("Array is too long ({}), maximum {IDS_PER_CALL}", ids.len()),
            key,
        ));
    }
    if ids.iter().any(String::is_empty) {
        return Err(InvalidBody::on_property(
            "String is too short (0 chars), minimum 1",
            key,
        ));
    }
    let mut seen = std::collections::HashSet::new();
    Ok(ids.into_iter().filter(|i| seen.insert(i.clone())).collect())
}

/// A group mapping: an identity provider's group name on one connection stands for a group.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GroupMappingInput {
    pub connection_name: String,
    pub group_name: String,
}

/// `{mappings: [{connection_name, group_name}]}` (the extension's `groupName` and
/// `connectionName` are accepted too, for teams moving over), each 1–50 characters as there.
pub fn mappings_body(mut p: Payload) -> Result<Vec<GroupMappingInput>, InvalidBody> {
    p.allow_only(&["mappings"])?;
    let items = match p.raw("mappings") {
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(InvalidBody::on_property(
                "Expected type array but found another type",
                "mappings",
            ));
        }
        None => {
            return Err(InvalidBody::new(
                "Payload validation error: 'Missing required property: mappings'.",
            ));
        }
    };
    if items.is_empty() || items.len() > IDS_PER_CALL {
        return Err(InvalidBody::on_property(
            format!("Array must hold 1 to {IDS_PER_CALL} mappings"),
            "mappings",
        ));
    }
    let mut out = Vec::with_capacity(items.len());
    for item in items {
        let mut one = Payload::from_value(item)?;
        one.allow_only(&[
            "connection_name",
            "group_name",
            "connectionName",
            "groupName",
        ])?;
        let connection_name = match one.string("connection_name")? {
            Some(c) => c,
            None => one.required_string("connectionName")?,
        };
        let group_name = match one.string("group_name")? {
            Some(g) => g,
            None => one.required_string("groupName")?,
        };
        for (value, key) in [
            (&connection_name, "connection_name"),
            (&group_name, "group_name"),
        ] {
            let len = value.chars().count();
            if !(1..=50).contains(&len) {
                return Err(InvalidBody::on_property(
                    format!("{key} must be 1 to 50 characters"),
                    "mappings",
                ));
            }
        }
        out.push(GroupMappingInput {
            connection_name,
            group_name,
        });
    }
    Ok(out)
}

/// What a user must hold to log in to an application (Gatehouse's `login_requires` client
/// property): any one of these roles (ids) or permissions. Empty: anyone the application's
/// connections let in.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct LoginRequirement {
    pub roles: Vec<String>,
    pub permissions: Vec<PermissionRef>,
}

impl LoginRequirement {
    pub fn is_empty(&self) -> bool {
        self.roles.is_empty() && self.permissions.is_empty()
    }

    /// `{roles?: [ids], permissions?: [{resource_server_identifier, permission_name}]}`;
    /// `{}` clears it.
    pub fn from_value(raw: Value) -> Result<Self, InvalidBody> {
        let mut p = Payload::from_value(raw)
            .map_err(|_| InvalidBody::on_property("Expected type object", "login_requires"))?;
        p.allow_only(&["roles", "permissions"])?;
        let roles = p.string_array("roles")?.unwrap_or_default();
        if roles.len() > IDS_PER_CALL || roles.iter().any(String::is_empty) {
            return Err(InvalidBody::on_property(
                format!("login_requires.roles must hold at most {IDS_PER_CALL} role ids"),
                "login_requires",
            ));
        }
        let permissions = match p.raw("permissions") {
            None => vec![],
            Some(Value::Array(items)) if items.is_empty() => vec![],
            Some(list) => permissions_body(Payload::from_value(
                serde_json::json!({"permissions": list}),
            )?)?,
        };
        Ok(Self { roles, permissions })
    }
}

/// What an API's access tokens look like (`token_dialect`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TokenDialect {
    #[default]
    AccessToken,
    AccessTokenAuthz,
    Rfc9068Profile,
    Rfc9068ProfileAuthz,
}

impl TokenDialect {
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            "access_token" => Self::AccessToken,
            "access_token_authz" => Self::AccessTokenAuthz,
            "rfc9068_profile" => Self::Rfc9068Profile,
            "rfc9068_profile_authz" => Self::Rfc9068ProfileAuthz,
            _ => return None,
        })
    }

    /// The `_authz` dialects add a `permissions` claim.
    pub fn with_permissions(self) -> bool {
        matches!(self, Self::AccessTokenAuthz | Self::Rfc9068ProfileAuthz)
    }

    /// RFC 9068: `typ: at+jwt`, `client_id` instead of `azp`, a `jti`, no `gty`.
    pub fn is_rfc9068(self) -> bool {
        matches!(self, Self::Rfc9068Profile | Self::Rfc9068ProfileAuthz)
    }
}

/// Which of a user's authorization outcomes (groups, roles, permissions) reach the tokens of
/// a login and which are written to `app_metadata.authorization`: the Authorization
/// Extension's configuration (`groupsInToken`, `persistRoles`, …) as a tenant setting.
/// Claims are namespaced (`<claim_namespace>groups`); the namespace must be an http(s) URL,
/// as Auth0 requires of custom claims.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct AuthorizationSettings {
    pub groups_in_token: bool,
    pub roles_in_token: bool,
    pub permissions_in_token: bool,
    pub persist_groups: bool,
    pub persist_roles: bool,
    pub persist_permissions: bool,
    /// `None`: the issuer URL.
    pub claim_namespace: Option<String>,
}

impl AuthorizationSettings {
    const KEYS: &'static [&'static str] = &[
        "groups_in_token",
        "roles_in_token",
        "permissions_in_token",
        "persist_groups",
        "persist_roles",
        "persist_permissions",
        "claim_namespace",
    ];

    /// Replaces the given keys of the `authorization` object of a tenant-settings PATCH.
    pub fn patch(&mut self, raw: Value) -> Result<(), InvalidBody> {
        let mut p = Payload::from_value(raw)
            .map_err(|_| InvalidBody::on_property("Expected type object", "authorization"))?;
        p.allow_only(Self::KEYS)?;
        for (key, slot) in [
            ("groups_in_token", &mut self.groups_in_token),
            ("roles_in_token", &mut self.roles_in_token),
            ("permissions_in_token", &mut self.permissions_in_token),
            ("persist_groups", &mut self.persist_groups),
            ("persist_roles", &mut self.persist_roles),
            ("persist_permissions", &mut self.persist_permissions),
        ] {
            if let Some(b) = p.bool(key)? {
                *slot = b;
            }
        }
        match p.nullable_string("claim_namespace")? {
            crate::payload::Field::Absent => {}
            crate::payload::Field::Null => self.claim_namespace = None,
            crate::payload::Field::Set(ns) => {
                let ok = (ns.starts_with("https://") || ns.starts_with("http://"))
                    && ns.len() <= 200
                    && !ns.chars().any(char::is_whitespace);
                if !ok {
                    return Err(InvalidBody::on_property(
                        "claim_namespace must be an http(s) URL without spaces (up to 200 characters)",
                        "authorization",
                    ));
                }
                self.claim_namespace = Some(ns);
            }
        }
        Ok(())
    }

    pub fn any_in_token(&self) -> bool {
        self.groups_in_token || self.roles_in_token || self.permissions_in_token
    }

    pub fn any_persisted(&self) -> bool {
        self.persist_groups || self.persist_roles || self.persist_permissions
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn body(v: Value) -> Payload {
        Payload::from_value(v).unwrap()
    }

    #[test]
    fn role_fields() {
        assert!(NamedFields::from_create(body(json!({"description": "x"}))).is_err());
        assert!(NamedFields::from_create(body(json!({"name": "  "}))).is_err());
        assert!(NamedFields::from_create(body(json!({"name": "a", "extra": 1}))).is_err());
        assert!(NamedFields::from_create(body(json!({"name": "é".repeat(256)}))).is_err());
        let f = NamedFields::from_create(body(json!({"name": "Rédacteur", "description": "d"})))
            .unwrap();
        assert_eq!(f.name.as_deref(), Some("Rédacteur"));
        assert!(NamedFields::from_patch(body(json!({}))).is_err());
        assert!(NamedFields::from_patch(body(json!({"name": 3}))).is_err());
    }

    #[test]
    fn permission_bodies() {
        let ok = permissions_body(body(json!({"permissions": [
            {"resource_server_identifier": "https://api", "permission_name": "read:b"},
            {"resource_server_identifier": "https://api", "permission_name": "read:a"},
            {"resource_server_identifier": "https://api", "permission_name": "read:b"},
        ]})))
        .unwrap();
        assert_eq!(ok.len(), 2);
        assert_eq!(ok[0].permission_name, "read:a");
        for bad in [
            json!({}),
            json!({"permissions": []}),
            json!({"permissions": "x"}),
            json!({"permissions": [{"resource_server_identifier": "a"}]}),
            json!({"permissions": [{"resource_server_identifier": "a", "permission_name": "b", "x": 1}]}),
            json!({"permissions": [{"resource_server_identifier": "", "permission_name": "b"}]}),
        ] {
            assert!(permissions_body(body(bad.clone())).is_err(), "{bad}");
        }
    }

    #[test]
    fn id_bodies() {
        assert_eq!(
            ids_body(body(json!({"roles": ["b", "a", "b"]})), "roles").unwrap(),
            vec!["b", "a"]
        );
        assert!(ids_body(body(json!({"roles": []})), "roles").is_err());
        assert!(ids_body(body(json!({"users": ["a"]})), "roles").is_err());
        assert!(ids_body(body(json!({"roles": [""]})), "roles").is_err());
        assert!(
            ids_body(
                body(json!({"roles": (0..101).map(|i| i.to_string()).collect::<Vec<_>>()})),
                "roles"
            )
            .is_err()
        );
    }

    #[test]
    fn mappings_and_settings() {
        let m = mappings_body(body(json!({"mappings": [
            {"groupName": "Marketing", "connectionName": "corp-ad"},
            {"group_name": "Ventes", "connection_name": "acme-sso"},
        ]})))
        .unwrap();
        assert_eq!(m[1].group_name, "Ventes");
        assert!(mappings_body(body(json!({"mappings": [{"group_name": "x"}]}))).is_err());
        assert!(
            mappings_body(body(
                json!({"mappings": [{"group_name": "", "connection_name": "c"}]})
            ))
            .is_err()
        );

        let mut s = AuthorizationSettings::default();
        s.patch(json!({"roles_in_token": true, "claim_namespace": "https://example.com/"}))
            .unwrap();
        assert!(s.roles_in_token && !s.groups_in_token);
        assert!(s.patch(json!({"claim_namespace": "example"})).is_err());
        assert!(s.patch(json!({"unknown": true})).is_err());
        assert!(s.patch(json!({"roles_in_token": "yes"})).is_err());
        assert_eq!(
            TokenDialect::parse("rfc9068_profile_authz"),
            Some(TokenDialect::Rfc9068ProfileAuthz)
        );
        assert!(TokenDialect::parse("jwt").is_none());
    }
}
