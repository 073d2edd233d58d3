//! Groups (the Authorization Extension's model on the Management API): members, nested
//! groups (a member of a child is a member of every ancestor; cycles refused), the roles a
//! group gives its members, and mappings from an identity provider's group names.

use super::named::Kind;
use super::{MemberPaging, MembersPage, Role, over_limit};
use crate::Gatehouse;
use crate::error::{Result, ServiceError};
use gatehouse_core::authorization::{
    GROUPS_PER_TENANT, GROUPS_PER_USER, GroupMappingInput, NamedFields,
};
use gatehouse_core::user::User;
use gatehouse_crypto::random;
use gatehouse_store::{Added, GroupMapping, Link, Named, NamedEntry};

/// A group: `grp_` id, unique name, description.
pub type Group = NamedEntry;
/// A group's member as listed.
pub type GroupMember = gatehouse_store::MemberRow;

fn group_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_group",
        message: "The group does not exist.".into(),
    }
}

const GROUP: Kind = Kind {
    named: Named::Group,
    prefix: "grp_",
    limit: GROUPS_PER_TENANT,
    taken: "A group with the same name already exists.",
    too_many: "too_many_groups",
    plural: "groups",
};

impl Gatehouse {
    pub async fn create_group(&self, fields: NamedFields) -> Result<Group> {
        self.create_named(&GROUP, fields).await
    }

    pub async fn get_group(&self, id: &str) -> Result<Group> {
        self.inner
            .authorization
            .get_named(Named::Group, self.tenant(), id)
            .await?
            .ok_or_else(group_not_found)
    }

    pub async fn list_groups(
        &self,
        name_filter: Option<&str>,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<Group>, i64)> {
        self.list_named(Named::Group, name_filter, page, per_page)
            .await
    }

    pub async fn update_group(&self, id: &str, fields: NamedFields) -> Result<Group> {
        let group = self.get_group(id).await?;
        self.save_named(&GROUP, group, fields)
            .await?
            .ok_or_else(group_not_found)
    }

    /// Deletes the group, its memberships, nesting, roles and mappings.
    pub async fn delete_group(&self, id: &str) -> Result<()> {
        if !self
            .inner
            .authorization
            .delete_named(Named::Group, self.tenant(), id)
            .await?
        {
            return Err(group_not_found());
        }
        Ok(())
    }

    pub async fn group_members(&self, id: &str, paging: MemberPaging) -> Result<MembersPage> {
        self.get_group(id).await?;
        self.members(Link::GroupUser, id, paging).await
    }

    pub async fn add_group_members(&self, id: &str, users: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        match self
            .inner
            .authorization
            .add_members(
                Link::GroupUser,
                self.tenant(),
                id,
                &users,
                Some(GROUPS_PER_USER),
            )
            .await?
        {
            Added::Done => Ok(()),
            Added::Missing => Err(ServiceError::NotFound {
                code: "inexistent_user",
                message: "One or more of the users do not exist.".into(),
            }),
            Added::OverLimit => Err(over_limit(
                "too_many_groups",
                format!("A user can be a direct member of at most {GROUPS_PER_USER} groups."),
            )),
        }
    }

    pub async fn remove_group_members(&self, id: &str, users: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .remove_members(Link::GroupUser, self.tenant(), id, &users)
            .await?)
    }

    /// The groups nested in this one (its children).
    pub async fn group_children(&self, id: &str) -> Result<Vec<Group>> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .linked_entries(Link::GroupChild, self.tenant(), id)
            .await?)
    }

    /// Nests `children` in the group. A group cannot contain itself or one of its ancestors
    /// (that would make every member a member of everything in the cycle).
    pub async fn add_group_children(&self, id: &str, children: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        let ancestors = self
            .inner
            .authorization
            .ancestors_of(self.tenant(), id)
            .await?;
        if let Some(c) = children.iter().find(|c| ancestors.contains(c)) {
            return Err(ServiceError::BadReference {
                code: "group_cycle",
                message: format!(
                    "The group {c} cannot be nested in {id}: it is the group itself or one of its ancestors."
                ),
            });
        }
        match self
            .inner
            .authorization
            .add_members(Link::GroupChild, self.tenant(), id, &children, None)
            .await?
        {
            Added::Done => Ok(()),
            _ => Err(ServiceError::NotFound {
                code: "inexistent_group",
                message: "One or more of the groups do not exist.".into(),
            }),
        }
    }

    pub async fn remove_group_children(&self, id: &str, children: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .remove_members(Link::GroupChild, self.tenant(), id, &children)
            .await?)
    }

    pub async fn group_roles(&self, id: &str) -> Result<Vec<Role>> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .linked_entries(Link::GroupRole, self.tenant(), id)
            .await?)
    }

    pub async fn add_group_roles(&self, id: &str, roles: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        match self
            .inner
            .authorization
            .add_members(Link::GroupRole, self.tenant(), id, &roles, None)
            .await?
        {
            Added::Done => Ok(()),
            _ => Err(super::role_not_found(
                "One or more of the roles do not exist.",
            )),
        }
    }

    pub async fn remove_group_roles(&self, id: &str, roles: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .remove_members(Link::GroupRole, self.tenant(), id, &roles)
            .await?)
    }

    pub async fn group_mappings(&self, id: &str) -> Result<Vec<GroupMapping>> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .mappings_of(self.tenant(), id)
            .await?)
    }

    /// Maps identity-provider group names on a connection to this group; the connection
    /// must exist.
    pub async fn add_group_mappings(
        &self,
        id: &str,
        mappings: Vec<GroupMappingInput>,
    ) -> Result<Vec<GroupMapping>> {
        self.get_group(id).await?;
        let mut rows = Vec::with_capacity(mappings.len());
        for m in mappings {
            if self
                .inner
                .connections
                .get_by_name(self.tenant(), &m.connection_name)
                .await?
                .is_none()
            {
                return Err(ServiceError::BadReference {
                    code: "inexistent_connection",
                    message: format!("The connection {} does not exist.", m.connection_name),
                });
            }
            rows.push(GroupMapping {
                id: format!("gmp_{}", random::alnum(16).map_err(ServiceError::internal)?),
                connection_name: m.connection_name,
                group_name: m.group_name,
            });
        }
        self.inner
            .authorization
            .add_mappings(self.tenant(), id, &rows)
            .await?;
        self.group_mappings(id).await
    }

    pub async fn remove_group_mappings(&self, id: &str, ids: Vec<String>) -> Result<()> {
        self.get_group(id).await?;
        Ok(self
            .inner
            .authorization
            .remove_mappings(self.tenant(), id, &ids)
            .await?)
    }

    /// The groups a user is a direct member of.
    pub async fn user_groups(&self, user_id: &str) -> Result<Vec<Group>> {
        self.get_user(user_id).await?;
        Ok(self
            .inner
            .authorization
            .linked_entries(Link::GroupUser, self.tenant(), user_id)
            .await?)
    }

    /// The ids of every group the user is in: direct, mapped from the groups their identity
    /// provider gave (`groups` at the profile's root), and all their ancestors.
    pub(crate) async fn user_group_ids(&self, user: &User) -> Result<Vec<String>> {
        let access = self
            .inner
            .authorization
            .effective_access(
                self.tenant(),
                &user.user_id,
                &user.connection,
                &idp_groups(user),
                Some(""),
            )
            .await?;
        Ok(access.groups.into_iter().map(|g| g.id).collect())
    }
}

/// The group names a user's identity provider gave: `groups` at the profile's root, an
/// array or (as the Authorization Extension accepts) a string split on commas and spaces.
pub(crate) fn idp_groups(user: &User) -> Vec<String> {
    match user.idp_attributes.get("groups") {
        Some(serde_json::Value::Array(items)) => items
            .iter()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect(),
        Some(serde_json::Value::String(s)) => s
            .split(|c: char| c == ',' || c.is_whitespace())
            .filter(|g| !g.is_empty())
            .map(str::to_string)
            .collect(),
        _ => vec![],
    }
}
