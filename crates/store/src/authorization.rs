//! Roles, permissions, groups and their memberships; and a user's effective access (groups
//! with their ancestors, roles direct and through groups, permissions direct and through
//! roles) computed in the database for a login.
//!
//! Limits that depend on what is already stored (roles per user, permissions per role) are
//! checked inside the writing transaction after the insert, so two concurrent additions
//! cannot both slip under a limit: the one that ends over it rolls back.

use crate::{BeginWrite, Db, StoreError, on_pool};
use gatehouse_core::authorization::PermissionRef;
use std::collections::BTreeSet;

/// A role or a group: `id`, `name`, `description`.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct NamedEntry {
    pub id: String,
    pub name: String,
    pub description: Option<String>,
}

/// A user as the member lists show them (`{user_id, picture, name, email}`).
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct MemberRow {
    pub user_id: String,
    pub email: Option<String>,
    pub name: Option<String>,
    pub picture: Option<String>,
}

/// A group mapping as stored.
#[derive(Clone, Debug, PartialEq, Eq, sqlx::FromRow)]
pub struct GroupMapping {
    pub id: String,
    pub connection_name: String,
    pub group_name: String,
}

/// A permission a user holds and where it comes from: `role` is `None` for a direct one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct HeldPermission {
    pub permission: PermissionRef,
    pub role: Option<(String, String)>,
}

/// What a user holds at a login: groups (direct, mapped from the identity provider's groups,
/// and every ancestor), roles (direct and through those groups), and permissions (direct and
/// through those roles; only one API's when asked for one). Each list sorted, unique.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EffectiveAccess {
    pub groups: Vec<NamedEntry>,
    pub roles: Vec<NamedEntry>,
    pub permissions: Vec<PermissionRef>,
}

/// The outcome of an addition bounded by a limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Added {
    Done,
    /// Some of the named rows do not exist (nothing was written).
    Missing,
    /// The addition would pass the limit (nothing was written).
    OverLimit,
}

#[derive(sqlx::FromRow)]
struct PermRow {
    resource_server: String,
    permission: String,
}

impl From<PermRow> for PermissionRef {
    fn from(r: PermRow) -> Self {
        PermissionRef {
            resource_server_identifier: r.resource_server,
            permission_name: r.permission,
        }
    }
}

/// `$from, $from+1, …` for `n` values: statements with a list of values stay parameterised.
fn placeholders(from: usize, n: usize) -> String {
    (from..from + n)
        .map(|i| format!("${i}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Which table a named entry lives in; fixed names, never request text.
#[derive(Clone, Copy, Debug)]
pub enum Named {
    Role,
    Group,
}

impl Named {
    fn table(self) -> &'static str {
        match self {
            Named::Role => "roles",
            Named::Group => "access_groups",
        }
    }
}

#[derive(Clone, Debug)]
pub struct AuthorizationStore {
    db: Db,
}

impl AuthorizationStore {
    pub fn new(db: Db) -> Self {
        Self { db }
    }

    // ---- roles and groups as named entries ----

    /// Inserts a role or group unless the tenant already has `limit` of them; `Ok(false)`
    /// when it has. A taken name is `StoreError::Conflict`.
    pub async fn insert_named(
        &self,
        kind: Named,
        tenant: &str,
        entry: &NamedEntry,
        limit: i64,
        now: i64,
    ) -> Result<bool, StoreError> {
        let table = kind.table();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            sqlx::query(&format!(
                "INSERT INTO {table} (tenant_id, id, name, description, created_at) VALUES ($1, $2, $3, $4, $5)"
            ))
            .bind(tenant)
            .bind(&entry.id)
            .bind(&entry.name)
            .bind(&entry.description)
            .bind(now)
            .execute(&mut *tx)
            .await?;
            let count: i64 = sqlx::query_scalar(&format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1"))
                .bind(tenant)
                .fetch_one(&mut *tx)
                .await?;
            if count > limit {
                tx.rollback().await?;
                return Ok(false);
            }
            tx.commit().await?;
            Ok(true)
        })
    }

    pub async fn get_named(
        &self,
        kind: Named,
        tenant: &str,
        id: &str,
    ) -> Result<Option<NamedEntry>, StoreError> {
        let table = kind.table();
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, NamedEntry>(&format!(
                "SELECT id, name, description FROM {table} WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(id)
            .fetch_optional(pool)
            .await?)
        })
    }

    /// Every role or group of the tenant (at most a thousand), by name.
    pub async fn list_named(
        &self,
        kind: Named,
        tenant: &str,
    ) -> Result<Vec<NamedEntry>, StoreError> {
        let table = kind.table();
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, NamedEntry>(&format!(
                "SELECT id, name, description FROM {table} WHERE tenant_id = $1 ORDER BY name, id"
            ))
            .bind(tenant)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Rewrites name and description; `Ok(false)` when there is no such entry.
    pub async fn update_named(
        &self,
        kind: Named,
        tenant: &str,
        entry: &NamedEntry,
    ) -> Result<bool, StoreError> {
        let table = kind.table();
        on_pool!(&self.db, pool => {
            let r = sqlx::query(&format!(
                "UPDATE {table} SET name = $3, description = $4 WHERE tenant_id = $1 AND id = $2"
            ))
            .bind(tenant)
            .bind(&entry.id)
            .bind(&entry.name)
            .bind(&entry.description)
            .execute(pool)
            .await?;
            Ok(r.rows_affected() == 1)
        })
    }

    /// Deletes a role or group and every assignment of it, in one transaction.
    pub async fn delete_named(
        &self,
        kind: Named,
        tenant: &str,
        id: &str,
    ) -> Result<bool, StoreError> {
        let (table, dependents): (&str, &[&str]) = match kind {
            Named::Role => (
                "roles",
                &[
                    "DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2",
                    "DELETE FROM user_roles WHERE tenant_id = $1 AND role_id = $2",
                    "DELETE FROM group_roles WHERE tenant_id = $1 AND role_id = $2",
                ],
            ),
            Named::Group => (
                "access_groups",
                &[
                    "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2",
                    "DELETE FROM group_children WHERE tenant_id = $1 AND (parent_id = $2 OR child_id = $2)",
                    "DELETE FROM group_roles WHERE tenant_id = $1 AND group_id = $2",
                    "DELETE FROM group_mappings WHERE tenant_id = $1 AND group_id = $2",
                ],
            ),
        };
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for sql in dependents {
                sqlx::query(sql).bind(tenant).bind(id).execute(&mut *tx).await?;
            }
            let r = sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND id = $2"))
                .bind(tenant)
                .bind(id)
                .execute(&mut *tx)
                .await?;
            tx.commit().await?;
            Ok(r.rows_affected() == 1)
        })
    }

    // ---- permissions of roles and users ----

    /// A role's permissions (`holder` = role id) or a user's direct ones, sorted.
    pub async fn permissions_of(
        &self,
        holder: Holder,
        tenant: &str,
        id: &str,
    ) -> Result<Vec<PermissionRef>, StoreError> {
        let sql = match holder {
            Holder::Role => {
                "SELECT resource_server, permission FROM role_permissions WHERE tenant_id = $1 AND role_id = $2 ORDER BY resource_server, permission"
            }
            Holder::User => {
                "SELECT resource_server, permission FROM user_permissions WHERE tenant_id = $1 AND user_id = $2 ORDER BY resource_server, permission"
            }
        };
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, PermRow>(sql).bind(tenant).bind(id).fetch_all(pool).await?;
            Ok(rows.into_iter().map(Into::into).collect())
        })
    }

    /// Adds permissions to a role or a user; over `limit` in all, nothing is added.
    pub async fn add_permissions(
        &self,
        holder: Holder,
        tenant: &str,
        id: &str,
        perms: &[PermissionRef],
        limit: i64,
    ) -> Result<Added, StoreError> {
        let (insert, count) = match holder {
            Holder::Role => (
                "INSERT INTO role_permissions (tenant_id, role_id, resource_server, permission) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                "SELECT COUNT(*) FROM role_permissions WHERE tenant_id = $1 AND role_id = $2",
            ),
            Holder::User => (
                "INSERT INTO user_permissions (tenant_id, user_id, resource_server, permission) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
                "SELECT COUNT(*) FROM user_permissions WHERE tenant_id = $1 AND user_id = $2",
            ),
        };
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for p in perms {
                sqlx::query(insert)
                    .bind(tenant)
                    .bind(id)
                    .bind(&p.resource_server_identifier)
                    .bind(&p.permission_name)
                    .execute(&mut *tx)
                    .await?;
            }
            let n: i64 = sqlx::query_scalar(count).bind(tenant).bind(id).fetch_one(&mut *tx).await?;
            if n > limit {
                tx.rollback().await?;
                return Ok(Added::OverLimit);
            }
            tx.commit().await?;
            Ok(Added::Done)
        })
    }

    pub async fn remove_permissions(
        &self,
        holder: Holder,
        tenant: &str,
        id: &str,
        perms: &[PermissionRef],
    ) -> Result<(), StoreError> {
        let sql = match holder {
            Holder::Role => {
                "DELETE FROM role_permissions WHERE tenant_id = $1 AND role_id = $2 AND resource_server = $3 AND permission = $4"
            }
            Holder::User => {
                "DELETE FROM user_permissions WHERE tenant_id = $1 AND user_id = $2 AND resource_server = $3 AND permission = $4"
            }
        };
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for p in perms {
                sqlx::query(sql)
                    .bind(tenant)
                    .bind(id)
                    .bind(&p.resource_server_identifier)
                    .bind(&p.permission_name)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// An API's permissions leave every role and user: the API was deleted (`names` empty
    /// means all of them) or these scopes left its definition.
    pub async fn forget_api_permissions(
        &self,
        tenant: &str,
        identifier: &str,
        names: Option<&[String]>,
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for table in ["role_permissions", "user_permissions"] {
                match names {
                    None => {
                        sqlx::query(&format!("DELETE FROM {table} WHERE tenant_id = $1 AND resource_server = $2"))
                            .bind(tenant)
                            .bind(identifier)
                            .execute(&mut *tx)
                            .await?;
                    }
                    Some(names) => {
                        for name in names {
                            sqlx::query(&format!(
                                "DELETE FROM {table} WHERE tenant_id = $1 AND resource_server = $2 AND permission = $3"
                            ))
                            .bind(tenant)
                            .bind(identifier)
                            .bind(name)
                            .execute(&mut *tx)
                            .await?;
                        }
                    }
                }
            }
            tx.commit().await?;
            Ok(())
        })
    }

    // ---- memberships: users in roles and groups, roles of groups, nested groups ----

    /// Adds `(owner, member)` rows of a membership after checking that every member exists;
    /// with `member_limit`, no member may end up in more than that many owners.
    pub async fn add_members(
        &self,
        link: Link,
        tenant: &str,
        owner: &str,
        members: &[String],
        member_limit: Option<i64>,
    ) -> Result<Added, StoreError> {
        let (insert, exists, per_member) = link.sql();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for m in members {
                let found: i64 = sqlx::query_scalar(exists).bind(tenant).bind(m).fetch_one(&mut *tx).await?;
                if found == 0 {
                    tx.rollback().await?;
                    return Ok(Added::Missing);
                }
                sqlx::query(insert).bind(tenant).bind(owner).bind(m).execute(&mut *tx).await?;
                if let (Some(limit), Some(count)) = (member_limit, per_member) {
                    let n: i64 = sqlx::query_scalar(count).bind(tenant).bind(m).fetch_one(&mut *tx).await?;
                    if n > limit {
                        tx.rollback().await?;
                        return Ok(Added::OverLimit);
                    }
                }
            }
            tx.commit().await?;
            Ok(Added::Done)
        })
    }

    /// Gives a user roles (the user's side of `user_roles`): every role must exist, and the
    /// user may not end up with more than `limit`.
    pub async fn add_user_roles(
        &self,
        tenant: &str,
        user_id: &str,
        roles: &[String],
        limit: i64,
    ) -> Result<Added, StoreError> {
        // Reads (the roles exist) before it writes: see `BeginWrite`.
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for r in roles {
                let found: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM roles WHERE tenant_id = $1 AND id = $2")
                    .bind(tenant)
                    .bind(r)
                    .fetch_one(&mut *tx)
                    .await?;
                if found == 0 {
                    tx.rollback().await?;
                    return Ok(Added::Missing);
                }
                sqlx::query("INSERT INTO user_roles (tenant_id, role_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING")
                    .bind(tenant)
                    .bind(r)
                    .bind(user_id)
                    .execute(&mut *tx)
                    .await?;
            }
            let n: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM user_roles WHERE tenant_id = $1 AND user_id = $2")
                .bind(tenant)
                .bind(user_id)
                .fetch_one(&mut *tx)
                .await?;
            if n > limit {
                tx.rollback().await?;
                return Ok(Added::OverLimit);
            }
            tx.commit().await?;
            Ok(Added::Done)
        })
    }

    pub async fn remove_members(
        &self,
        link: Link,
        tenant: &str,
        owner: &str,
        members: &[String],
    ) -> Result<(), StoreError> {
        let sql = link.delete_sql();
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for m in members {
                sqlx::query(sql).bind(tenant).bind(owner).bind(m).execute(&mut *tx).await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    /// Users in a role or group (direct members), in `user_id` order: a page after
    /// `after` (checkpoint) or at `offset`, and the total.
    pub async fn members_page(
        &self,
        link: Link,
        tenant: &str,
        owner: &str,
        after: Option<&str>,
        offset: i64,
        limit: i64,
    ) -> Result<(Vec<MemberRow>, i64), StoreError> {
        let (table, owner_col) = match link {
            Link::RoleUser => ("user_roles", "role_id"),
            Link::GroupUser => ("group_members", "group_id"),
            Link::GroupRole | Link::GroupChild => {
                return Err(StoreError::Corrupt("not a user membership".into()));
            }
        };
        let page = format!(
            "SELECT u.user_id, u.email, u.name, u.picture FROM {table} m JOIN users u ON u.tenant_id = m.tenant_id AND u.user_id = m.user_id
             WHERE m.tenant_id = $1 AND m.{owner_col} = $2 AND m.user_id > $3 ORDER BY m.user_id LIMIT $4 OFFSET $5"
        );
        let total =
            format!("SELECT COUNT(*) FROM {table} WHERE tenant_id = $1 AND {owner_col} = $2");
        on_pool!(&self.db, pool => {
            let rows = sqlx::query_as::<_, MemberRow>(&page)
                .bind(tenant)
                .bind(owner)
                .bind(after.unwrap_or(""))
                .bind(limit)
                .bind(offset)
                .fetch_all(pool)
                .await?;
            let total: i64 = sqlx::query_scalar(&total).bind(tenant).bind(owner).fetch_one(pool).await?;
            Ok((rows, total))
        })
    }

    /// The roles of a user or group, or the children of a group, by name.
    pub async fn linked_entries(
        &self,
        link: Link,
        tenant: &str,
        owner: &str,
    ) -> Result<Vec<NamedEntry>, StoreError> {
        let sql = match link {
            Link::RoleUser => {
                "SELECT r.id, r.name, r.description FROM user_roles m JOIN roles r ON r.tenant_id = m.tenant_id AND r.id = m.role_id
                 WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY r.name, r.id"
            }
            Link::GroupRole => {
                "SELECT r.id, r.name, r.description FROM group_roles m JOIN roles r ON r.tenant_id = m.tenant_id AND r.id = m.role_id
                 WHERE m.tenant_id = $1 AND m.group_id = $2 ORDER BY r.name, r.id"
            }
            Link::GroupChild => {
                "SELECT g.id, g.name, g.description FROM group_children m JOIN access_groups g ON g.tenant_id = m.tenant_id AND g.id = m.child_id
                 WHERE m.tenant_id = $1 AND m.parent_id = $2 ORDER BY g.name, g.id"
            }
            Link::GroupUser => {
                "SELECT g.id, g.name, g.description FROM group_members m JOIN access_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                 WHERE m.tenant_id = $1 AND m.user_id = $2 ORDER BY g.name, g.id"
            }
        };
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, NamedEntry>(sql).bind(tenant).bind(owner).fetch_all(pool).await?)
        })
    }

    /// `group` and every group it sits under (its ancestors), for cycle checks.
    pub async fn ancestors_of(&self, tenant: &str, group: &str) -> Result<Vec<String>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_scalar::<_, String>(
                "WITH RECURSIVE up(id) AS (SELECT $2 UNION SELECT c.parent_id FROM group_children c JOIN up ON c.child_id = up.id WHERE c.tenant_id = $1)
                 SELECT id FROM up",
            )
            .bind(tenant)
            .bind(group)
            .fetch_all(pool)
            .await?)
        })
    }

    // ---- group mappings ----

    pub async fn mappings_of(
        &self,
        tenant: &str,
        group: &str,
    ) -> Result<Vec<GroupMapping>, StoreError> {
        on_pool!(&self.db, pool => {
            Ok(sqlx::query_as::<_, GroupMapping>(
                "SELECT id, connection_name, group_name FROM group_mappings WHERE tenant_id = $1 AND group_id = $2 ORDER BY connection_name, group_name",
            )
            .bind(tenant)
            .bind(group)
            .fetch_all(pool)
            .await?)
        })
    }

    /// Adds mappings; one already there is kept (not duplicated).
    pub async fn add_mappings(
        &self,
        tenant: &str,
        group: &str,
        mappings: &[GroupMapping],
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for m in mappings {
                sqlx::query(
                    "INSERT INTO group_mappings (tenant_id, id, group_id, connection_name, group_name) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING",
                )
                .bind(tenant)
                .bind(&m.id)
                .bind(group)
                .bind(&m.connection_name)
                .bind(&m.group_name)
                .execute(&mut *tx)
                .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    pub async fn remove_mappings(
        &self,
        tenant: &str,
        group: &str,
        ids: &[String],
    ) -> Result<(), StoreError> {
        on_pool!(&self.db, pool => {
            let mut tx = pool.begin_write().await?;
            for id in ids {
                sqlx::query("DELETE FROM group_mappings WHERE tenant_id = $1 AND group_id = $2 AND id = $3")
                    .bind(tenant)
                    .bind(group)
                    .bind(id)
                    .execute(&mut *tx)
                    .await?;
            }
            tx.commit().await?;
            Ok(())
        })
    }

    // ---- a user's access ----

    /// Every permission a user holds, with its sources: direct ones, and those of each role
    /// the user holds directly or through `groups` (the user's effective group ids).
    pub async fn held_permissions(
        &self,
        tenant: &str,
        user_id: &str,
        groups: &[String],
    ) -> Result<Vec<HeldPermission>, StoreError> {
        let sql = format!(
            "SELECT p.resource_server, p.permission, r.id AS role_id, r.name AS role_name
             FROM role_permissions p JOIN roles r ON r.tenant_id = p.tenant_id AND r.id = p.role_id
             WHERE p.tenant_id = $1 AND p.role_id IN (
                 SELECT role_id FROM user_roles WHERE tenant_id = $1 AND user_id = $2
                 UNION SELECT role_id FROM group_roles WHERE tenant_id = $1 AND group_id IN ({}))",
            placeholders_or_none(3, groups.len())
        );
        on_pool!(&self.db, pool => {
            let mut conn = pool.acquire().await?;
            let direct = sqlx::query_as::<_, PermRow>(
                "SELECT resource_server, permission FROM user_permissions WHERE tenant_id = $1 AND user_id = $2",
            )
            .bind(tenant)
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
            let mut q = sqlx::query_as::<_, (String, String, String, String)>(&sql).bind(tenant).bind(user_id);
            for g in groups {
                q = q.bind(g);
            }
            let via_roles = q.fetch_all(&mut *conn).await?;
            let mut out: Vec<HeldPermission> = direct
                .into_iter()
                .map(|r| HeldPermission { permission: r.into(), role: None })
                .chain(via_roles.into_iter().map(|(rs, p, id, name)| HeldPermission {
                    permission: PermissionRef { resource_server_identifier: rs, permission_name: p },
                    role: Some((id, name)),
                }))
                .collect();
            out.sort();
            out.dedup();
            Ok(out)
        })
    }

    /// A user's effective groups, roles and permissions at a login through `connection`,
    /// whose identity provider named `idp_groups`; permissions of `audience` only when given.
    pub async fn effective_access(
        &self,
        tenant: &str,
        user_id: &str,
        connection: &str,
        idp_groups: &[String],
        audience: Option<&str>,
    ) -> Result<EffectiveAccess, StoreError> {
        on_pool!(&self.db, pool => {
            let mut conn = pool.acquire().await?;
            // Seeds: the user's own groups, and groups mapped from the provider's group names
            // (or, as the Authorization Extension does, from the names of the user's groups).
            let direct = sqlx::query_as::<_, NamedEntry>(
                "SELECT g.id, g.name, g.description FROM group_members m JOIN access_groups g ON g.tenant_id = m.tenant_id AND g.id = m.group_id
                 WHERE m.tenant_id = $1 AND m.user_id = $2",
            )
            .bind(tenant)
            .bind(user_id)
            .fetch_all(&mut *conn)
            .await?;
            let mappings = sqlx::query_as::<_, (String, String)>(
                "SELECT group_id, group_name FROM group_mappings WHERE tenant_id = $1 AND connection_name = $2",
            )
            .bind(tenant)
            .bind(connection)
            .fetch_all(&mut *conn)
            .await?;
            let mut seeds: BTreeSet<String> = direct.iter().map(|g| g.id.clone()).collect();
            for (group_id, group_name) in mappings {
                if idp_groups.contains(&group_name) || direct.iter().any(|g| g.name == group_name) {
                    seeds.insert(group_id);
                }
            }
            let groups = if seeds.is_empty() {
                vec![]
            } else {
                let sql = format!(
                    "WITH RECURSIVE up(id) AS (
                         SELECT id FROM access_groups WHERE tenant_id = $1 AND id IN ({})
                         UNION SELECT c.parent_id FROM group_children c JOIN up ON c.child_id = up.id WHERE c.tenant_id = $1)
                     SELECT g.id, g.name, g.description FROM access_groups g JOIN up ON g.id = up.id WHERE g.tenant_id = $1 ORDER BY g.name, g.id",
                    placeholders(2, seeds.len())
                );
                let mut q = sqlx::query_as::<_, NamedEntry>(&sql).bind(tenant);
                for s in &seeds {
                    q = q.bind(s);
                }
                q.fetch_all(&mut *conn).await?
            };
            let group_ids: Vec<&String> = groups.iter().map(|g| &g.id).collect();
            let sql = format!(
                "SELECT id, name, description FROM roles WHERE tenant_id = $1 AND id IN (
                     SELECT role_id FROM user_roles WHERE tenant_id = $1 AND user_id = $2
                     UNION SELECT role_id FROM group_roles WHERE tenant_id = $1 AND group_id IN ({}))
                 ORDER BY name, id",
                placeholders_or_none(3, group_ids.len())
            );
            let mut q = sqlx::query_as::<_, NamedEntry>(&sql).bind(tenant).bind(user_id);
            for g in &group_ids {
                q = q.bind(*g);
            }
            let roles = q.fetch_all(&mut *conn).await?;
            let audience_clause = if audience.is_some() { "AND resource_server = $3" } else { "AND $3 = $3" };
            let n = roles.len();
            let sql = format!(
                "SELECT resource_server, permission FROM user_permissions WHERE tenant_id = $1 AND user_id = $2 {audience_clause}
                 UNION SELECT resource_server, permission FROM role_permissions WHERE tenant_id = $1 {audience_clause} AND role_id IN ({})
                 ORDER BY resource_server, permission",
                placeholders_or_none(4, n)
            );
            let mut q = sqlx::query_as::<_, PermRow>(&sql)
                .bind(tenant)
                .bind(user_id)
                .bind(audience.unwrap_or(""));
            for r in &roles {
                q = q.bind(&r.id);
            }
            let permissions = q.fetch_all(&mut *conn).await?.into_iter().map(Into::into).collect();
            Ok(EffectiveAccess { groups, roles, permissions })
        })
    }
}

/// `placeholders`, or a value no id equals when the list is empty (`IN ()` is not SQL).
fn placeholders_or_none(from: usize, n: usize) -> String {
    if n == 0 {
        "NULL".into()
    } else {
        placeholders(from, n)
    }
}

/// Who holds a permission.
#[derive(Clone, Copy, Debug)]
pub enum Holder {
    Role,
    User,
}

/// A membership table: `(owner, member)` rows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Link {
    /// role → user (`user_roles`; listed from the user's side with `linked_entries`).
    RoleUser,
    /// group → user (`group_members`).
    GroupUser,
    /// group → role (`group_roles`).
    GroupRole,
    /// group → child group (`group_children`).
    GroupChild,
}

impl Link {
    /// (insert, member exists, owners per member)
    fn sql(self) -> (&'static str, &'static str, Option<&'static str>) {
        const USER_EXISTS: &str = "SELECT COUNT(*) FROM users WHERE tenant_id = $1 AND user_id = $2 AND linked_to IS NULL";
        match self {
            Link::RoleUser => (
                "INSERT INTO user_roles (tenant_id, role_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                USER_EXISTS,
                Some("SELECT COUNT(*) FROM user_roles WHERE tenant_id = $1 AND user_id = $2"),
            ),
            Link::GroupUser => (
                "INSERT INTO group_members (tenant_id, group_id, user_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                USER_EXISTS,
                Some("SELECT COUNT(*) FROM group_members WHERE tenant_id = $1 AND user_id = $2"),
            ),
            Link::GroupRole => (
                "INSERT INTO group_roles (tenant_id, group_id, role_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                "SELECT COUNT(*) FROM roles WHERE tenant_id = $1 AND id = $2",
                None,
            ),
            Link::GroupChild => (
                "INSERT INTO group_children (tenant_id, parent_id, child_id) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING",
                "SELECT COUNT(*) FROM access_groups WHERE tenant_id = $1 AND id = $2",
                None,
            ),
        }
    }

    fn delete_sql(self) -> &'static str {
        match self {
            Link::RoleUser => {
                "DELETE FROM user_roles WHERE tenant_id = $1 AND role_id = $2 AND user_id = $3"
            }
            Link::GroupUser => {
                "DELETE FROM group_members WHERE tenant_id = $1 AND group_id = $2 AND user_id = $3"
            }
            Link::GroupRole => {
                "DELETE FROM group_roles WHERE tenant_id = $1 AND group_id = $2 AND role_id = $3"
            }
            Link::GroupChild => {
                "DELETE FROM group_children WHERE tenant_id = $1 AND parent_id = $2 AND child_id = $3"
            }
        }
    }
}
