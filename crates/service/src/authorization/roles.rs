//! Core RBAC: roles (`rol_` ids, unique names), the permissions a role or a user holds (an
//! API's defined scopes), a role's users and a user's roles, with Auth0's limits and answers.

use super::named::{Kind, page_of};
use super::{
    MemberPaging, MembersPage, PermissionRef, Role, decode_checkpoint, encode_checkpoint,
    over_limit, role_not_found,
};
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::authorization::{
    NamedFields, PERMISSIONS_PER_ROLE, PERMISSIONS_PER_USER, ROLES_PER_TENANT, ROLES_PER_USER,
};
use gatehouse_core::gdpr::DefaultPicture;
use gatehouse_store::{Added, Holder, Link, Named};
use std::collections::HashMap;

/// A permission with its API's name and the scope's description, as Auth0 lists them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PermissionView {
    pub permission: PermissionRef,
    pub resource_server_name: String,
    pub description: String,
}

/// A user's permission and where it comes from: `None` for a direct one, else the roles
/// (id, name) that give it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserPermissionView {
    pub view: PermissionView,
    pub direct: bool,
    pub roles: Vec<(String, String)>,
}

const ROLE: Kind = Kind {
    named: Named::Role,
    prefix: "rol_",
    limit: ROLES_PER_TENANT,
    taken: "The role already exists.",
    too_many: "too_many_roles",
    plural: "roles",
};

impl Gatehouse {
    pub async fn create_role(&self, fields: NamedFields) -> Result<Role> {
        self.create_named(&ROLE, fields).await
    }

    pub(crate) async fn stored_role(&self, id: &str, missing: &str) -> Result<Role> {
        self.inner
            .authorization
            .get_named(Named::Role, self.tenant(), id)
            .await?
            .ok_or_else(|| role_not_found(missing))
    }

    pub async fn get_role(&self, id: &str) -> Result<Role> {
        self.stored_role(id, "Role not found.").await
    }

    /// Roles whose name holds `name_filter` (case-insensitive), by name, a page of them and
    /// the total.
    pub async fn list_roles(
        &self,
        name_filter: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Role>, i64)> {
        self.list_named(Named::Role, name_filter, page, per_page)
            .await
    }

    pub async fn update_role(&self, id: &str, fields: NamedFields) -> Result<Role> {
        let role = self.stored_role(id, "Role not found.").await?;
        self.save_named(&ROLE, role, fields)
            .await?
            .ok_or_else(|| role_not_found("Role not found."))
    }

    /// Deletes the role; it leaves every user and group holding it.
    pub async fn delete_role(&self, id: &str) -> Result<()> {
        if !self
            .inner
            .authorization
            .delete_named(Named::Role, self.tenant(), id)
            .await?
        {
            return Err(role_not_found("Role not found."));
        }
        Ok(())
    }

    pub async fn role_permissions(
        &self,
        id: &str,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<PermissionView>, i64)> {
        self.stored_role(id, "The role does not exist.").await?;
        let perms = self
            .inner
            .authorization
            .permissions_of(Holder::Role, self.tenant(), id)
            .await?;
        let views = self.permission_views(perms).await?;
        Ok(page_of(views, page, per_page))
    }

    pub async fn add_role_permissions(&self, id: &str, perms: Vec<PermissionRef>) -> Result<()> {
        self.stored_role(id, "The role does not exist.").await?;
        self.check_permissions_defined(&perms).await?;
        match self
            .inner
            .authorization
            .add_permissions(
                Holder::Role,
                self.tenant(),
                id,
                &perms,
                PERMISSIONS_PER_ROLE,
            )
            .await?
        {
            Added::Done => Ok(()),
            _ => Err(over_limit(
                "too_many_permissions",
                format!(
                    "No more permissions can be assigned to this role: the limit is {PERMISSIONS_PER_ROLE}."
                ),
            )),
        }
    }

    pub async fn remove_role_permissions(&self, id: &str, perms: Vec<PermissionRef>) -> Result<()> {
        self.stored_role(id, "The role does not exist.").await?;
        self.check_apis_exist(&perms).await?;
        Ok(self
            .inner
            .authorization
            .remove_permissions(Holder::Role, self.tenant(), id, &perms)
            .await?)
    }

    /// A role's users, by offset (with the total) or from a checkpoint (with `next`).
    pub async fn role_users(&self, id: &str, paging: MemberPaging) -> Result<MembersPage> {
        self.stored_role(id, "The role does not exist.").await?;
        self.members(Link::RoleUser, id, paging).await
    }

    pub(crate) async fn members(
        &self,
        link: Link,
        owner: &str,
        paging: MemberPaging,
    ) -> Result<MembersPage> {
        let store = &self.inner.authorization;
        match paging {
            MemberPaging::Offset { page, per_page } => {
                let (mut users, total) = store
                    .members_page(link, self.tenant(), owner, None, page * per_page, per_page)
                    .await?;
                fill_pictures(self, self.picture_style().await?, &mut users);
                Ok(MembersPage {
                    users,
                    total,
                    next: None,
                })
            }
            MemberPaging::Checkpoint { from, take } => {
                let after = from.as_deref().map(decode_checkpoint).transpose()?;
                // One more than asked tells whether a next page exists.
                let (mut users, total) = store
                    .members_page(link, self.tenant(), owner, after.as_deref(), 0, take + 1)
                    .await?;
                let next = if users.len() as i64 > take {
                    users.truncate(take as usize);
                    users.last().map(|u| encode_checkpoint(&u.user_id))
                } else {
                    None
                };
                fill_pictures(self, self.picture_style().await?, &mut users);
                Ok(MembersPage { users, total, next })
            }
        }
    }

    /// `POST /roles/{id}/users`: every user must exist; a user may hold 50 roles.
    pub async fn add_role_users(&self, id: &str, users: Vec<String>) -> Result<()> {
        self.stored_role(id, "The role does not exist.").await?;
        match self
            .inner
            .authorization
            .add_members(
                Link::RoleUser,
                self.tenant(),
                id,
                &users,
                Some(ROLES_PER_USER),
            )
            .await?
        {
            Added::Done => Ok(()),
            Added::Missing => Err(ServiceError::NotFound {
                code: "inexistent_user",
                message: "One or more of the users do not exist.".into(),
            }),
            Added::OverLimit => Err(too_many_user_roles()),
        }
    }

    pub async fn user_roles(
        &self,
        user_id: &str,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Role>, i64)> {
        self.get_user(user_id).await?;
        let roles = self
            .inner
            .authorization
            .linked_entries(Link::RoleUser, self.tenant(), user_id)
            .await?;
        Ok(page_of(roles, page, per_page))
    }

    pub async fn add_user_roles(&self, user_id: &str, roles: Vec<String>) -> Result<()> {
        self.get_user(user_id).await?;
        match self
            .inner
            .authorization
            .add_user_roles(self.tenant(), user_id, &roles, ROLES_PER_USER)
            .await?
        {
            Added::Done => Ok(()),
            Added::Missing => Err(role_not_found("One or more of the roles do not exist.")),
            Added::OverLimit => Err(too_many_user_roles()),
        }
    }

    pub async fn remove_user_roles(&self, user_id: &str, roles: Vec<String>) -> Result<()> {
        self.get_user(user_id).await?;
        let store = &self.inner.authorization;
        for role in &roles {
            store
                .remove_members(
                    Link::RoleUser,
                    self.tenant(),
                    role,
                    std::slice::from_ref(&user_id.to_string()),
                )
                .await?;
        }
        Ok(())
    }

    /// Every permission the user holds: direct ones and those of the roles the user holds
    /// directly or through groups, each with its sources.
    pub async fn user_permissions(
        &self,
        user_id: &str,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<UserPermissionView>, i64)> {
        let user = self.get_user(user_id).await?;
        let groups = self.user_group_ids(&user).await?;
        let held = self
            .inner
            .authorization
            .held_permissions(self.tenant(), user_id, &groups)
            .await?;
        // `held` is sorted by permission: one view per permission, its rows are its sources.
        let mut unique: Vec<PermissionRef> = held.iter().map(|h| h.permission.clone()).collect();
        unique.dedup();
        let views = self.permission_views(unique).await?;
        let out: Vec<UserPermissionView> = views
            .into_iter()
            .map(|view| {
                let first = held.partition_point(|h| h.permission < view.permission);
                let rows = held[first..]
                    .iter()
                    .take_while(|h| h.permission == view.permission);
                UserPermissionView {
                    direct: rows.clone().any(|h| h.role.is_none()),
                    roles: rows.filter_map(|h| h.role.clone()).collect(),
                    view,
                }
            })
            .collect();
        Ok(page_of(out, page, per_page))
    }

    pub async fn add_user_permissions(
        &self,
        user_id: &str,
        perms: Vec<PermissionRef>,
    ) -> Result<()> {
        self.get_user(user_id).await?;
        self.check_permissions_defined(&perms).await?;
        match self
            .inner
            .authorization
            .add_permissions(
                Holder::User,
                self.tenant(),
                user_id,
                &perms,
                PERMISSIONS_PER_USER,
            )
            .await?
        {
            Added::Done => Ok(()),
            _ => Err(over_limit(
                "too_many_permissions",
                "No more permissions can be assigned to this user.",
            )),
        }
    }

    pub async fn remove_user_permissions(
        &self,
        user_id: &str,
        perms: Vec<PermissionRef>,
    ) -> Result<()> {
        self.get_user(user_id).await?;
        self.check_apis_exist(&perms).await?;
        Ok(self
            .inner
            .authorization
            .remove_permissions(Holder::User, self.tenant(), user_id, &perms)
            .await?)
    }

    /// Every permission names an API that exists and a scope it defines.
    pub(crate) async fn check_permissions_defined(&self, perms: &[PermissionRef]) -> Result<()> {
        let apis = self.check_apis_exist(perms).await?;
        for p in perms {
            let defined = apis
                .get(&p.resource_server_identifier)
                .is_some_and(|s| s.defines_scope(&p.permission_name));
            if !defined {
                return Err(ServiceError::BadReference {
                    code: "invalid_body",
                    message: format!(
                        "Permission {} is not defined by the resource server {}.",
                        p.permission_name, p.resource_server_identifier
                    ),
                });
            }
        }
        Ok(())
    }

    async fn check_apis_exist(
        &self,
        perms: &[PermissionRef],
    ) -> Result<HashMap<String, gatehouse_core::resource_server::ResourceServerSettings>> {
        let mut apis = HashMap::new();
        for p in perms {
            if apis.contains_key(&p.resource_server_identifier) {
                continue;
            }
            let api = self
                .inner
                .resource_servers
                .get_by_identifier(self.tenant(), &p.resource_server_identifier)
                .await?
                .ok_or_else(|| ServiceError::NotFound {
                    code: "inexistent_resource_server",
                    message: "The resource server does not exist.".into(),
                })?;
            apis.insert(p.resource_server_identifier.clone(), api.settings);
        }
        Ok(apis)
    }

    /// Permissions with their API's name and the scope's description.
    async fn permission_views(&self, perms: Vec<PermissionRef>) -> Result<Vec<PermissionView>> {
        let mut apis: HashMap<
            String,
            Option<gatehouse_core::resource_server::ResourceServerSettings>,
        > = HashMap::new();
        let mut out = Vec::with_capacity(perms.len());
        for p in perms {
            if !apis.contains_key(&p.resource_server_identifier) {
                let api = self
                    .inner
                    .resource_servers
                    .get_by_identifier(self.tenant(), &p.resource_server_identifier)
                    .await?
                    .map(|a| a.settings);
                apis.insert(p.resource_server_identifier.clone(), api);
            }
            let api = apis
                .get(&p.resource_server_identifier)
                .and_then(Option::as_ref);
            let description = api
                .and_then(|a| a.scopes.iter().find(|s| s.value == p.permission_name))
                .map(|s| s.description.clone())
                .unwrap_or_default();
            out.push(PermissionView {
                resource_server_name: api.map(|a| a.name.clone()).unwrap_or_default(),
                description,
                permission: p,
            });
        }
        Ok(out)
    }
}

fn too_many_user_roles() -> ServiceError {
    over_limit(
        "too_many_roles",
        format!("No more roles can be assigned to this user: the limit is {ROLES_PER_USER}."),
    )
}

/// Users without a picture of their own get the one their profile shows.
fn fill_pictures(g: &Gatehouse, style: DefaultPicture, users: &mut [gatehouse_store::MemberRow]) {
    for u in users {
        if u.picture.is_none()
            && let Some(e) = &u.email
        {
            u.picture = Some(g.picture_for(style, crate::pictures::Who::email(e)));
        }
    }
}
