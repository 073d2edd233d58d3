//! Authorization in one folder: `roles` (core RBAC as Auth0's Management API has it: roles,
//! their permissions and users, a user's roles and permissions), `groups` (groups with
//! members, nesting, roles and identity-provider mappings), and `access` (what a user holds
//! at a login: the scopes an API's token may carry, the `permissions` claim, the groups,
//! roles and permissions the tenant puts in tokens or `app_metadata.authorization`), and
//! `named` (what roles and groups share).

mod access;
mod groups;
mod named;
mod roles;

pub use access::LoginAccess;
pub(crate) use access::NOT_PERMITTED;
pub use gatehouse_core::authorization::PermissionRef;
pub use gatehouse_store::{GroupMapping, MemberRow, NamedEntry as Role};
pub(crate) use groups::idp_groups;
pub use groups::{Group, GroupMember};
pub use roles::{PermissionView, UserPermissionView};

use crate::error::ServiceError;

/// A page of a role's or group's users: offset paging gives `total`, checkpoint paging
/// gives `next` while more remain.
#[derive(Debug, Clone)]
pub struct MembersPage {
    pub users: Vec<MemberRow>,
    pub total: i64,
    pub next: Option<String>,
}

/// How a member list is paged: by `page`/`per_page`, or from a checkpoint (`from`, `take`).
#[derive(Debug, Clone)]
pub enum MemberPaging {
    Offset { page: i64, per_page: i64 },
    Checkpoint { from: Option<String>, take: i64 },
}

fn role_not_found(message: &str) -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_role",
        message: message.into(),
    }
}

fn over_limit(code: &'static str, message: impl Into<String>) -> ServiceError {
    ServiceError::BadReference {
        code,
        message: message.into(),
    }
}

/// The checkpoint of a member list: the last `user_id` of a page, opaque to callers.
fn encode_checkpoint(user_id: &str) -> String {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(user_id)
}

fn decode_checkpoint(from: &str) -> Result<String, ServiceError> {
    use base64::Engine;
    base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(from)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .ok_or_else(|| {
            ServiceError::InvalidQuery("Invalid value for from: not a checkpoint".into())
        })
}
