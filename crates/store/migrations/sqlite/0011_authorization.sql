-- Role-based access control and groups (issue 18). Permissions are an API's scopes, named by
-- the API's identifier; every table is keyed by tenant first, as everything else is.
CREATE TABLE roles (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE TABLE role_permissions (
    tenant_id        TEXT NOT NULL,
    role_id          TEXT NOT NULL,
    resource_server  TEXT NOT NULL,
    permission       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, role_id, resource_server, permission)
);
-- Deleting an API or one of its scopes finds its grants here.
CREATE INDEX role_permissions_by_api ON role_permissions (tenant_id, resource_server, permission);
CREATE TABLE user_roles (
    tenant_id   TEXT NOT NULL,
    user_id     TEXT NOT NULL,
    role_id     TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, role_id)
);
-- A role's members, in user_id order for checkpoint paging.
CREATE INDEX user_roles_by_role ON user_roles (tenant_id, role_id, user_id);
CREATE TABLE user_permissions (
    tenant_id        TEXT NOT NULL,
    user_id          TEXT NOT NULL,
    resource_server  TEXT NOT NULL,
    permission       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, user_id, resource_server, permission)
);
CREATE INDEX user_permissions_by_api ON user_permissions (tenant_id, resource_server, permission);
CREATE TABLE access_groups (
    tenant_id    TEXT NOT NULL,
    id           TEXT NOT NULL,
    name         TEXT NOT NULL,
    description  TEXT,
    created_at   BIGINT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, name)
);
CREATE TABLE group_members (
    tenant_id  TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    user_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, user_id)
);
CREATE INDEX group_members_by_user ON group_members (tenant_id, user_id);
-- Nesting: a member of the child is a member of the parent (and of its ancestors).
CREATE TABLE group_children (
    tenant_id  TEXT NOT NULL,
    parent_id  TEXT NOT NULL,
    child_id   TEXT NOT NULL,
    PRIMARY KEY (tenant_id, parent_id, child_id)
);
CREATE INDEX group_children_by_child ON group_children (tenant_id, child_id);
CREATE TABLE group_roles (
    tenant_id  TEXT NOT NULL,
    group_id   TEXT NOT NULL,
    role_id    TEXT NOT NULL,
    PRIMARY KEY (tenant_id, group_id, role_id)
);
CREATE INDEX group_roles_by_role ON group_roles (tenant_id, role_id);
-- An identity provider's group name on a connection stands for a group at login.
CREATE TABLE group_mappings (
    tenant_id        TEXT NOT NULL,
    id               TEXT NOT NULL,
    group_id         TEXT NOT NULL,
    connection_name  TEXT NOT NULL,
    group_name       TEXT NOT NULL,
    PRIMARY KEY (tenant_id, id),
    UNIQUE (tenant_id, group_id, connection_name, group_name)
);
CREATE INDEX group_mappings_by_connection ON group_mappings (tenant_id, connection_name, group_name);
