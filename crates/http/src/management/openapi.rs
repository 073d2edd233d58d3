//! `GET /api/v2/openapi.json`: every Management API route described in OpenAPI 3.0.3 with
//! Auth0's request and response shapes, error body, query parameters and scopes.
//!
//! Built in Rust rather than kept as a static file: the paging, projection and error pieces
//! repeat on most of the 86 operations, and here they are one function each; scope names and
//! email-template names come from `gatehouse_core`, so they cannot drift from what the routes
//! check. The document is rendered once, on first request, and served as bytes. It is public,
//! as Auth0's own description is: it names routes and shapes, nothing of a tenant.
//! A unit test compares [`operations`] with the `.route(` calls of the routers' sources, so
//! a route added without its description fails the build's tests.

use axum::http::header;
use axum::response::IntoResponse;
use gatehouse_core::custom_db::ScriptName;
use gatehouse_core::email::TEMPLATE_NAMES;
use gatehouse_core::scopes::{ALL_MANAGEMENT_SCOPES, CURRENT_USER_SCOPES};
use serde_json::{Map, Value, json};
use std::sync::LazyLock;

/// The rendered document, built once.
static DOCUMENT: LazyLock<Vec<u8>> =
    LazyLock::new(|| serde_json::to_vec(&document()).unwrap_or_default());

/// The handler of `GET /api/v2/openapi.json` (no token needed).
pub async fn serve() -> impl IntoResponse {
    (
        [(header::CONTENT_TYPE, "application/json")],
        DOCUMENT.as_slice(),
    )
}

fn schema_ref(name: &str) -> Value {
    json!({"$ref": format!("#/components/schemas/{name}")})
}

fn array_of(item: Value) -> Value {
    json!({"type": "array", "items": item})
}

/// Auth0's list answer: the bare array, or with `include_totals` the page object
/// `{start, limit, length, total, <key>: [...]}`.
fn paged(item: &str, key: &str) -> Value {
    let mut page = json!({
        "type": "object",
        "required": ["start", "limit", "length", key],
        "properties": {
            "start": {"type": "integer", "minimum": 0},
            "limit": {"type": "integer", "minimum": 1},
            "length": {"type": "integer", "minimum": 0},
            "total": {"type": "integer", "minimum": 0},
        }
    });
    page["properties"][key] = array_of(schema_ref(item));
    json!({"anyOf": [array_of(schema_ref(item)), page]})
}

/// An actions page: `{<key>: [...], total, page, per_page}`.
fn actions_page(key: &str, item: &str) -> Value {
    let mut page = json!({
        "type": "object",
        "required": [key, "total", "page", "per_page"],
        "properties": {
            "total": {"type": "integer", "minimum": 0},
            "page": {"type": "integer", "minimum": 0},
            "per_page": {"type": "integer", "minimum": 1},
        }
    });
    page["properties"][key] = array_of(schema_ref(item));
    page
}

/// Members of a role or group: a page as [`paged`], or a checkpoint `{users, next}`.
fn members() -> Value {
    let mut any = paged("Member", "users");
    if let Some(list) = any["anyOf"].as_array_mut() {
        list.push(json!({
            "type": "object",
            "required": ["users"],
            "properties": {"users": array_of(schema_ref("Member")), "next": {"type": "string"}}
        }));
    }
    any
}

/// One query parameter by name, with its type and limits as the handlers check them.
fn query_param(name: &str) -> Value {
    let (schema, required, description) = match name {
        "page" => (
            json!({"type": "integer", "minimum": 0}),
            false,
            "Page index of the results (0-based).",
        ),
        "per_page" => (
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
            false,
            "Number of results per page.",
        ),
        "take" => (
            json!({"type": "integer", "minimum": 1, "maximum": 100, "default": 50}),
            false,
            "Checkpoint paging: number of results.",
        ),
        "from" => (
            json!({"type": "string"}),
            false,
            "Checkpoint paging: the id to start after.",
        ),
        "include_totals"
        | "include_fields"
        | "primary_order"
        | "is_global"
        | "is_first_party"
        | "consider_brute_force_enablement"
        | "deployed"
        | "installed"
        | "force" => (json!({"type": "boolean"}), false, ""),
        "fields" => (
            json!({"type": "string"}),
            false,
            "Comma-separated list of fields to include or exclude (see include_fields).",
        ),
        "q" => (
            json!({"type": "string"}),
            false,
            "Query in Lucene query string syntax.",
        ),
        "sort" => (
            json!({"type": "string", "pattern": "^[A-Za-z0-9_.]+:(1|-1)$"}),
            false,
            "Field to sort by: <field>:1 ascending, <field>:-1 descending.",
        ),
        "log_sort" => (
            json!({"type": "string", "enum": ["date:1", "date:-1"]}),
            false,
            "Sort by date: date:1 ascending, date:-1 descending.",
        ),
        "search_engine" => (
            json!({"type": "string", "enum": ["v1", "v2", "v3"]}),
            false,
            "Search engine version; only v3 is served (v1 and v2 answer 400).",
        ),
        "email" | "identifier" => (json!({"type": "string", "minLength": 1}), true, ""),
        _ => (json!({"type": "string"}), false, ""),
    };
    let name = if name == "log_sort" { "sort" } else { name };
    let mut p = json!({"name": name, "in": "query", "required": required, "schema": schema});
    if !description.is_empty() {
        p["description"] = json!(description);
    }
    p
}

fn path_param(name: &str) -> Value {
    let schema = if name == "templateName" {
        json!({"type": "string", "enum": TEMPLATE_NAMES})
    } else {
        json!({"type": "string"})
    };
    json!({"name": name, "in": "path", "required": true, "schema": schema})
}

/// One operation as it is being described.
struct Op {
    method: &'static str,
    path: &'static str,
    doc: Map<String, Value>,
    responses: Map<String, Value>,
    query: Vec<&'static str>,
    scopes: &'static [&'static [&'static str]],
}

/// An operation: its id, a one-line summary, and the scopes that open it: any one of the
/// alternatives, each alternative all of its scopes.
fn op(
    method: &'static str,
    path: &'static str,
    id: &str,
    summary: &str,
    scopes: &'static [&'static [&'static str]],
) -> Op {
    let mut doc = Map::new();
    doc.insert("operationId".into(), json!(id));
    doc.insert("summary".into(), json!(summary));
    let tag = path
        .trim_start_matches('/')
        .split('/')
        .next()
        .unwrap_or_default();
    doc.insert("tags".into(), json!([tag]));
    Op {
        method,
        path,
        doc,
        responses: Map::new(),
        query: Vec::new(),
        scopes,
    }
}

impl Op {
    fn query(mut self, names: &[&'static str]) -> Self {
        self.query.extend_from_slice(names);
        self
    }
    fn body(mut self, schema: Value) -> Self {
        self.doc.insert(
            "requestBody".into(),
            json!({"required": true, "content": {"application/json": {"schema": schema}}}),
        );
        self
    }
    fn ok(mut self, status: u16, schema: Value) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({"description": "Success", "content": {"application/json": {"schema": schema}}}),
        );
        self
    }
    fn empty(mut self, status: u16) -> Self {
        self.responses.insert(
            status.to_string(),
            json!({"description": "Success, no body"}),
        );
        self
    }

    /// The operation's OpenAPI object.
    fn render(self) -> Value {
        let mut doc = self.doc;
        let mut params: Vec<Value> = self
            .path
            .split('/')
            .filter_map(|s| s.strip_prefix('{')?.strip_suffix('}'))
            .map(path_param)
            .collect();
        params.extend(self.query.iter().map(|q| query_param(q)));
        if !params.is_empty() {
            doc.insert("parameters".into(), Value::Array(params));
        }
        let security: Vec<Value> = self
            .scopes
            .iter()
            .map(|all| json!({"oAuth2ClientCredentials": all}))
            .collect();
        doc.insert("security".into(), Value::Array(security));
        let mut responses = self.responses;
        if !self.scopes.is_empty() {
            responses.insert(
                "default".into(),
                json!({"$ref": "#/components/responses/Error"}),
            );
        }
        doc.insert("responses".into(), Value::Object(responses));
        Value::Object(doc)
    }
}

const PAGE: &[&str] = &["page", "per_page", "include_totals"];
const PROJECTION: &[&str] = &["fields", "include_fields"];

/// Every operation of the Management API, in the routers' order.
fn operations() -> Vec<Op> {
    use gatehouse_core::scopes::*;
    let user = || schema_ref("User");
    let object = || json!({"type": "object"});
    let ids = |key: &str| {
        json!({"type": "object", "additionalProperties": false, "required": [key],
               "properties": {key: {"type": "array", "minItems": 1, "items": {"type": "string"}}}})
    };
    let permissions = || schema_ref("PermissionsBody");
    vec![
        op("get", "/openapi.json", "get_openapi", "This document", &[])
            .ok(200, object()),
        // users
        op("get", "/users", "get_users", "List or search users", &[&[READ_USERS]])
            .query(PAGE)
            .query(&["sort", "connection", "q", "search_engine", "primary_order", "from", "take"])
            .query(PROJECTION)
            .ok(200, paged("User", "users")),
        op("post", "/users", "post_users", "Create a user", &[&[CREATE_USERS]])
            .body(schema_ref("UserCreate"))
            .ok(201, user()),
        op("get", "/users/{id}", "get_users_by_id", "Get a user", &[&[READ_USERS], &[READ_CURRENT_USER]])
            .query(PROJECTION)
            .ok(200, user()),
        op("patch", "/users/{id}", "patch_users_by_id", "Update a user", &[
            &[UPDATE_USERS], &[UPDATE_USERS_APP_METADATA],
            &[UPDATE_CURRENT_USER_METADATA], &[CREATE_CURRENT_USER_METADATA],
        ])
            .body(schema_ref("UserUpdate"))
            .ok(200, user()),
        op("delete", "/users/{id}", "delete_users_by_id", "Delete a user", &[&[DELETE_USERS]])
            .empty(204),
        op("get", "/users-by-email", "get_users_by_email", "Users with an email address", &[&[READ_USERS]])
            .query(&["email"])
            .query(PROJECTION)
            .ok(200, array_of(user())),
        op("post", "/users/{id}/identities", "post_identities", "Link an identity", &[&[UPDATE_USERS], &[UPDATE_CURRENT_USER_IDENTITIES]])
            .body(schema_ref("LinkIdentity"))
            .ok(201, array_of(schema_ref("Identity"))),
        op("delete", "/users/{id}/identities/{provider}/{user_id}", "delete_user_identity_by_user_id", "Unlink an identity", &[&[UPDATE_USERS], &[UPDATE_CURRENT_USER_IDENTITIES]])
            .ok(200, array_of(schema_ref("Identity"))),
        // clients
        op("get", "/clients", "get_clients", "List applications", &[&[READ_CLIENTS]])
            .query(PAGE)
            .query(PROJECTION)
            .query(&["is_global", "is_first_party", "app_type"])
            .ok(200, paged("Client", "clients")),
        op("post", "/clients", "post_clients", "Create an application", &[&[CREATE_CLIENTS]])
            .body(schema_ref("ClientCreate"))
            .ok(201, schema_ref("Client")),
        op("get", "/clients/{id}", "get_clients_by_id", "Get an application", &[&[READ_CLIENTS]])
            .query(PROJECTION)
            .ok(200, schema_ref("Client")),
        op("patch", "/clients/{id}", "patch_clients_by_id", "Update an application (client_secret needs update:client_keys too)", &[&[UPDATE_CLIENTS]])
            .body(schema_ref("ClientUpdate"))
            .ok(200, schema_ref("Client")),
        op("delete", "/clients/{id}", "delete_clients_by_id", "Delete an application", &[&[DELETE_CLIENTS]])
            .empty(204),
        op("post", "/clients/{id}/rotate-secret", "post_rotate_secret", "Rotate an application's secret", &[&[UPDATE_CLIENT_KEYS]])
            .ok(200, schema_ref("Client")),
        // connections
        op("get", "/connections", "get_connections", "List connections", &[&[READ_CONNECTIONS]])
            .query(PAGE)
            .query(&["strategy", "name", "from", "take"])
            .query(PROJECTION)
            .ok(200, {
                let mut any = paged("Connection", "connections");
                if let Some(list) = any["anyOf"].as_array_mut() {
                    list.push(json!({"type": "object", "required": ["connections"], "properties": {
                        "connections": array_of(schema_ref("Connection")), "next": {"type": "string"}}}));
                }
                any
            }),
        op("post", "/connections", "post_connections", "Create a connection", &[&[CREATE_CONNECTIONS]])
            .body(schema_ref("ConnectionCreate"))
            .ok(201, schema_ref("Connection")),
        op("get", "/connections/{id}", "get_connections_by_id", "Get a connection", &[&[READ_CONNECTIONS]])
            .query(PROJECTION)
            .ok(200, schema_ref("Connection")),
        op("patch", "/connections/{id}", "patch_connections_by_id", "Update a connection", &[&[UPDATE_CONNECTIONS]])
            .body(schema_ref("ConnectionUpdate"))
            .ok(200, schema_ref("Connection")),
        op("delete", "/connections/{id}", "delete_connections_by_id", "Delete a connection", &[&[DELETE_CONNECTIONS]])
            .empty(204),
        op("delete", "/connections/{id}/users", "delete_users_by_email", "Delete a user of a database connection by email", &[&[DELETE_USERS]])
            .query(&["email"])
            .empty(204),
        op("post", "/connections/{id}/try", "post_try_connection_script", "Run a custom-database script (Gatehouse)", &[&[UPDATE_CONNECTIONS]])
            .body(schema_ref("TryScript"))
            .ok(200, schema_ref("ScriptTrial")),
        // resource servers and client grants
        op("get", "/resource-servers", "get_resource_servers", "List APIs", &[&["read:resource_servers"]])
            .query(PAGE)
            .query(&["identifiers"])
            .ok(200, paged("ResourceServer", "resource_servers")),
        op("post", "/resource-servers", "post_resource_servers", "Create an API", &[&["create:resource_servers"]])
            .body(schema_ref("ResourceServerCreate"))
            .ok(201, schema_ref("ResourceServer")),
        op("get", "/resource-servers/{id}", "get_resource_servers_by_id", "Get an API", &[&["read:resource_servers"]])
            .ok(200, schema_ref("ResourceServer")),
        op("patch", "/resource-servers/{id}", "patch_resource_servers_by_id", "Update an API", &[&["update:resource_servers"]])
            .body(schema_ref("ResourceServerUpdate"))
            .ok(200, schema_ref("ResourceServer")),
        op("delete", "/resource-servers/{id}", "delete_resource_servers_by_id", "Delete an API", &[&["delete:resource_servers"]])
            .empty(204),
        op("get", "/client-grants", "get_client_grants", "List client grants", &[&["read:client_grants"]])
            .query(PAGE)
            .query(&["client_id", "audience"])
            .ok(200, paged("ClientGrant", "client_grants")),
        op("post", "/client-grants", "post_client_grants", "Create a client grant", &[&["create:client_grants"]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["client_id", "audience", "scope"], "properties": {
                "client_id": {"type": "string"}, "audience": {"type": "string"},
                "scope": {"type": "array", "items": {"type": "string"}}}}))
            .ok(201, schema_ref("ClientGrant")),
        op("patch", "/client-grants/{id}", "patch_client_grants_by_id", "Update a client grant", &[&["update:client_grants"]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["scope"], "properties": {
                "scope": {"type": "array", "items": {"type": "string"}}}}))
            .ok(200, schema_ref("ClientGrant")),
        op("delete", "/client-grants/{id}", "delete_client_grants_by_id", "Delete a client grant", &[&["delete:client_grants"]])
            .empty(204),
        // roles
        op("get", "/roles", "get_roles", "List roles", &[&["read:roles"]])
            .query(PAGE)
            .query(&["name_filter"])
            .ok(200, paged("Role", "roles")),
        op("post", "/roles", "post_roles", "Create a role (answered 200, as Auth0)", &[&["create:roles"]])
            .body(schema_ref("NamedCreate"))
            .ok(200, schema_ref("Role")),
        op("get", "/roles/{id}", "get_roles_by_id", "Get a role", &[&["read:roles"]])
            .ok(200, schema_ref("Role")),
        op("patch", "/roles/{id}", "patch_roles_by_id", "Update a role", &[&["update:roles"]])
            .body(schema_ref("NamedUpdate"))
            .ok(200, schema_ref("Role")),
        op("delete", "/roles/{id}", "delete_roles_by_id", "Delete a role", &[&["delete:roles"]])
            .empty(200),
        op("get", "/roles/{id}/permissions", "get_role_permission", "A role's permissions", &[&["read:roles"]])
            .query(PAGE)
            .ok(200, paged("Permission", "permissions")),
        op("post", "/roles/{id}/permissions", "post_role_permission_assignment", "Add permissions to a role", &[&["update:roles"]])
            .body(permissions())
            .empty(201),
        op("delete", "/roles/{id}/permissions", "delete_role_permission_assignment", "Remove permissions from a role", &[&["update:roles"]])
            .body(permissions())
            .empty(200),
        op("get", "/roles/{id}/users", "get_role_user", "A role's users", &[&["read:role_members"], &[READ_USERS, "read:roles"]])
            .query(PAGE)
            .query(&["from", "take"])
            .ok(200, members()),
        op("post", "/roles/{id}/users", "post_role_users", "Assign users to a role", &[&["update:roles"], &["create:role_members"]])
            .body(ids("users"))
            .empty(200),
        op("get", "/users/{id}/roles", "get_user_roles", "A user's roles", &[&["read:role_members"], &[READ_USERS, "read:roles"]])
            .query(PAGE)
            .ok(200, paged("Role", "roles")),
        op("post", "/users/{id}/roles", "post_user_roles", "Assign roles to a user", &[&[UPDATE_USERS], &["create:role_members"]])
            .body(ids("roles"))
            .empty(204),
        op("delete", "/users/{id}/roles", "delete_user_roles", "Remove roles from a user", &[&[UPDATE_USERS], &["delete:role_members"]])
            .body(ids("roles"))
            .empty(204),
        op("get", "/users/{id}/permissions", "get_permissions", "A user's permissions with their sources", &[&[READ_USERS]])
            .query(PAGE)
            .ok(200, paged("UserPermission", "permissions")),
        op("post", "/users/{id}/permissions", "post_permissions", "Give a user permissions", &[&[UPDATE_USERS]])
            .body(permissions())
            .empty(201),
        op("delete", "/users/{id}/permissions", "delete_permissions", "Take permissions from a user", &[&[UPDATE_USERS]])
            .body(permissions())
            .empty(204),
        // groups (Gatehouse's extension in Auth0's style)
        op("get", "/groups", "get_groups", "List groups", &[&["read:groups"]])
            .query(PAGE)
            .query(&["name_filter"])
            .ok(200, paged("Role", "groups")),
        op("post", "/groups", "post_groups", "Create a group", &[&["create:groups"]])
            .body(schema_ref("NamedCreate"))
            .ok(201, schema_ref("Role")),
        op("get", "/groups/{id}", "get_groups_by_id", "Get a group", &[&["read:groups"]])
            .ok(200, schema_ref("Role")),
        op("patch", "/groups/{id}", "patch_groups_by_id", "Update a group", &[&["update:groups"]])
            .body(schema_ref("NamedUpdate"))
            .ok(200, schema_ref("Role")),
        op("delete", "/groups/{id}", "delete_groups_by_id", "Delete a group", &[&["delete:groups"]])
            .empty(204),
        op("get", "/groups/{id}/members", "get_group_members", "A group's members", &[&["read:groups"]])
            .query(PAGE)
            .query(&["from", "take"])
            .ok(200, members()),
        op("post", "/groups/{id}/members", "post_group_members", "Add members to a group", &[&["update:groups"]])
            .body(ids("members"))
            .empty(204),
        op("delete", "/groups/{id}/members", "delete_group_members", "Remove members from a group", &[&["update:groups"]])
            .body(ids("members"))
            .empty(204),
        op("get", "/groups/{id}/nested", "get_group_nested", "A group's nested groups", &[&["read:groups"]])
            .ok(200, array_of(schema_ref("Role"))),
        op("post", "/groups/{id}/nested", "post_group_nested", "Nest groups in a group", &[&["update:groups"]])
            .body(ids("groups"))
            .empty(204),
        op("delete", "/groups/{id}/nested", "delete_group_nested", "Take nested groups out of a group", &[&["update:groups"]])
            .body(ids("groups"))
            .empty(204),
        op("get", "/groups/{id}/roles", "get_group_roles", "A group's roles", &[&["read:groups"]])
            .ok(200, array_of(schema_ref("Role"))),
        op("post", "/groups/{id}/roles", "post_group_roles", "Give roles to a group", &[&["update:groups"]])
            .body(ids("roles"))
            .empty(204),
        op("delete", "/groups/{id}/roles", "delete_group_roles", "Take roles from a group", &[&["update:groups"]])
            .body(ids("roles"))
            .empty(204),
        op("get", "/groups/{id}/mappings", "get_group_mappings", "A group's identity-provider mappings", &[&["read:groups"]])
            .ok(200, array_of(schema_ref("GroupMapping"))),
        op("post", "/groups/{id}/mappings", "post_group_mappings", "Add identity-provider mappings to a group", &[&["update:groups"]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["mappings"], "properties": {
                "mappings": {"type": "array", "minItems": 1, "items": {"type": "object", "properties": {
                    "connection_name": {"type": "string"}, "group_name": {"type": "string"},
                    "connectionName": {"type": "string"}, "groupName": {"type": "string"}}}}}}))
            .ok(200, array_of(schema_ref("GroupMapping"))),
        op("delete", "/groups/{id}/mappings", "delete_group_mappings", "Remove identity-provider mappings", &[&["update:groups"]])
            .body(ids("mappings"))
            .empty(204),
        op("get", "/users/{id}/groups", "get_user_groups", "A user's groups", &[&["read:groups"]])
            .ok(200, array_of(schema_ref("Role"))),
        // logs
        op("get", "/logs", "get_logs", "Search log events", &[&["read:logs"]])
            .query(PAGE)
            .query(&["log_sort", "q", "from", "take"])
            .query(PROJECTION)
            .ok(200, paged("LogEvent", "logs")),
        op("get", "/logs/{id}", "get_logs_by_id", "Get a log event", &[&["read:logs"]])
            .ok(200, schema_ref("LogEvent")),
        op("get", "/users/{id}/logs", "get_logs_by_user", "A user's log events", &[&["read:logs"], &["read:logs_users"]])
            .query(PAGE)
            .query(&["log_sort"])
            .ok(200, paged("LogEvent", "logs")),
        // user blocks
        op("get", "/user-blocks", "get_user_blocks", "Brute-force blocks of an identifier", &[&[READ_USERS]])
            .query(&["identifier", "consider_brute_force_enablement"])
            .ok(200, schema_ref("UserBlocks")),
        op("delete", "/user-blocks", "delete_user_blocks", "Lift the blocks of an identifier", &[&[UPDATE_USERS]])
            .query(&["identifier", "consider_brute_force_enablement"])
            .empty(204),
        op("get", "/user-blocks/{id}", "get_user_blocks_by_id", "Brute-force blocks of a user", &[&[READ_USERS]])
            .ok(200, schema_ref("UserBlocks")),
        op("delete", "/user-blocks/{id}", "delete_user_blocks_by_id", "Lift the blocks of a user", &[&[UPDATE_USERS]])
            .empty(204),
        // signing keys
        op("get", "/keys/signing", "get_signing_keys", "The tenant's signing keys", &[&["read:signing_keys"]])
            .ok(200, array_of(schema_ref("SigningKey"))),
        op("post", "/keys/signing/rotate", "post_signing_keys", "Rotate the signing keys", &[&["create:signing_keys", "update:signing_keys"]])
            .ok(201, schema_ref("SigningKeyCert")),
        op("get", "/keys/signing/{kid}", "get_signing_key", "A signing key", &[&["read:signing_keys"]])
            .ok(200, schema_ref("SigningKey")),
        op("put", "/keys/signing/{kid}/revoke", "put_signing_keys", "Revoke a previous signing key", &[&["update:signing_keys"]])
            .ok(200, schema_ref("SigningKeyCert")),
        // actions
        op("get", "/actions/actions", "get_actions", "List actions", &[&[READ_ACTIONS]])
            .query(&["triggerId", "actionName", "deployed", "installed", "page", "per_page"])
            .ok(200, actions_page("actions", "Action")),
        op("post", "/actions/actions", "post_action", "Create an action", &[&[CREATE_ACTIONS]])
            .body(schema_ref("ActionCreate"))
            .ok(201, schema_ref("Action")),
        op("get", "/actions/actions/{id}", "get_action", "Get an action", &[&[READ_ACTIONS]])
            .ok(200, schema_ref("Action")),
        op("patch", "/actions/actions/{id}", "patch_action", "Update an action's draft", &[&[UPDATE_ACTIONS]])
            .body(schema_ref("ActionUpdate"))
            .ok(200, schema_ref("Action")),
        op("delete", "/actions/actions/{id}", "delete_action", "Delete an action", &[&[DELETE_ACTIONS]])
            .query(&["force"])
            .empty(204),
        op("post", "/actions/actions/{id}/deploy", "post_deploy_action", "Deploy an action's draft", &[&[CREATE_ACTIONS]])
            .ok(202, schema_ref("ActionVersion")),
        op("post", "/actions/actions/{id}/test", "post_test_action", "Run an action's draft with an event", &[&[CREATE_ACTIONS]])
            .body(json!({"type": "object", "additionalProperties": false, "properties": {"payload": {"type": "object"}}}))
            .ok(200, json!({"type": "object", "required": ["payload"], "properties": {"payload": {"type": "object"}}})),
        op("get", "/actions/actions/{id}/versions", "get_action_versions", "An action's versions", &[&[READ_ACTIONS]])
            .query(&["page", "per_page"])
            .ok(200, actions_page("versions", "ActionVersion")),
        op("get", "/actions/actions/{id}/versions/{version_id}", "get_action_version", "An action's version", &[&[READ_ACTIONS]])
            .ok(200, schema_ref("ActionVersion")),
        op("post", "/actions/actions/{id}/versions/{version_id}/deploy", "post_deploy_draft_version", "Deploy an earlier version again", &[&[CREATE_ACTIONS]])
            .ok(202, schema_ref("ActionVersion")),
        op("get", "/actions/triggers", "get_triggers", "The triggers actions run at", &[&[READ_ACTIONS]])
            .ok(200, json!({"type": "object", "required": ["triggers"], "properties": {"triggers": array_of(object())}})),
        op("get", "/actions/triggers/{trigger_id}/bindings", "get_bindings", "A trigger's bindings in run order", &[&[READ_ACTIONS]])
            .query(&["page", "per_page"])
            .ok(200, actions_page("bindings", "ActionBinding")),
        op("patch", "/actions/triggers/{trigger_id}/bindings", "patch_bindings", "Replace a trigger's bindings", &[&[UPDATE_ACTIONS]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["bindings"], "properties": {
                "bindings": {"type": "array", "maxItems": 20, "items": {"type": "object", "required": ["ref"], "properties": {
                    "ref": {"type": "object", "required": ["type", "value"], "properties": {
                        "type": {"type": "string", "enum": ["action_id", "action_name"]},
                        "value": {"type": "string", "minLength": 1}}},
                    "display_name": {"type": "string"}}}}}}))
            .ok(200, json!({"type": "object", "required": ["bindings"], "properties": {"bindings": array_of(schema_ref("ActionBinding"))}})),
        // rules
        op("get", "/rules", "get_rules", "List rules in run order", &[&[READ_RULES]])
            .query(&["enabled"])
            .query(PAGE)
            .query(PROJECTION)
            .ok(200, paged("Rule", "rules")),
        op("post", "/rules", "post_rules", "Create a rule", &[&[CREATE_RULES]])
            .body(schema_ref("RuleCreate"))
            .ok(201, schema_ref("Rule")),
        op("get", "/rules/{id}", "get_rules_by_id", "Get a rule", &[&[READ_RULES]])
            .query(PROJECTION)
            .ok(200, schema_ref("Rule")),
        op("patch", "/rules/{id}", "patch_rules_by_id", "Update a rule", &[&[UPDATE_RULES]])
            .body(schema_ref("RuleUpdate"))
            .ok(200, schema_ref("Rule")),
        op("delete", "/rules/{id}", "delete_rules_by_id", "Delete a rule", &[&[DELETE_RULES]])
            .empty(204),
        op("get", "/rules-configs", "get_rules_configs", "The rules-config keys (never their values)", &[&[READ_RULES_CONFIGS]])
            .ok(200, array_of(json!({"type": "object", "required": ["key"], "properties": {"key": {"type": "string"}}}))),
        op("put", "/rules-configs/{key}", "put_rules_configs_by_key", "Set a rules-config value", &[&[UPDATE_RULES_CONFIGS]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["value"], "properties": {"value": {"type": "string", "minLength": 1}}}))
            .ok(200, json!({"type": "object", "required": ["key", "value"], "properties": {"key": {"type": "string"}, "value": {"type": "string"}}})),
        op("delete", "/rules-configs/{key}", "delete_rules_configs_by_key", "Delete a rules-config value", &[&[DELETE_RULES_CONFIGS]])
            .empty(204),
        // tenant settings
        op("get", "/tenants/settings", "get_settings", "The tenant's settings", &[&[READ_TENANT_SETTINGS]])
            .ok(200, schema_ref("TenantSettings")),
        op("patch", "/tenants/settings", "patch_settings", "Update the tenant's settings", &[&[UPDATE_TENANT_SETTINGS]])
            .body(schema_ref("TenantSettings"))
            .ok(200, schema_ref("TenantSettings")),
        // tickets
        op("post", "/tickets/password-change", "post_password_change", "A password-change ticket", &[&["create:user_tickets"]])
            .body(json!({"type": "object", "additionalProperties": false, "properties": {
                "user_id": {"type": "string"}, "email": {"type": "string"}, "connection_id": {"type": "string"},
                "result_url": {"type": "string"}, "ttl_sec": {"type": "integer", "minimum": 0},
                "mark_email_as_verified": {"type": "boolean"}, "client_id": {"type": "string"},
                "includeEmailInRedirect": {"type": "boolean"}}}))
            .ok(201, schema_ref("Ticket")),
        op("post", "/tickets/email-verification", "post_email_verification", "An email-verification ticket", &[&["create:user_tickets"]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["user_id"], "properties": {
                "user_id": {"type": "string"}, "result_url": {"type": "string"},
                "ttl_sec": {"type": "integer", "minimum": 0}, "client_id": {"type": "string"},
                "includeEmailInRedirect": {"type": "boolean"}, "identity": {"type": "object", "properties": {
                    "user_id": {"type": "string"}, "provider": {"type": "string"}}}}}))
            .ok(201, schema_ref("Ticket")),
        // attack protection
        op("get", "/attack-protection/breached-password-detection", "get_breached_password_detection", "Breached-password detection settings", &[&[READ_ATTACK_PROTECTION]])
            .ok(200, schema_ref("BreachedPasswordDetection")),
        op("patch", "/attack-protection/breached-password-detection", "patch_breached_password_detection", "Update breached-password detection", &[&[UPDATE_ATTACK_PROTECTION]])
            .body(schema_ref("BreachedPasswordDetection"))
            .ok(200, schema_ref("BreachedPasswordDetection")),
        // email templates
        op("post", "/email-templates", "post_email_templates", "Create an email template", &[&["create:email_templates"]])
            .body(schema_ref("EmailTemplateCreate"))
            .ok(201, schema_ref("EmailTemplate")),
        op("get", "/email-templates/{templateName}", "get_email_templates_by_template_name", "Get an email template", &[&["read:email_templates"]])
            .ok(200, schema_ref("EmailTemplate")),
        op("patch", "/email-templates/{templateName}", "patch_email_templates_by_template_name", "Update an email template", &[&["update:email_templates"]])
            .body(schema_ref("EmailTemplateUpdate"))
            .ok(200, schema_ref("EmailTemplate")),
        op("put", "/email-templates/{templateName}", "put_email_templates_by_template_name", "Set an email template", &[&["update:email_templates"]])
            .body(schema_ref("EmailTemplateCreate"))
            .ok(200, schema_ref("EmailTemplate")),
        // jobs
        {
            let mut o = op("post", "/jobs/users-imports", "post_users_imports", "Import users from a file", &[&[CREATE_USERS]])
                .ok(202, schema_ref("Job"));
            o.doc.insert("requestBody".into(), json!({"required": true, "content": {"multipart/form-data": {"schema": {
                "type": "object", "required": ["users", "connection_id"], "properties": {
                    "users": {"type": "string", "format": "binary"},
                    "connection_id": {"type": "string"},
                    "upsert": {"type": "boolean"},
                    "send_completion_email": {"type": "boolean"},
                    "external_id": {"type": "string"}}}}}}));
            o
        },
        op("post", "/jobs/users-exports", "post_users_exports", "Export users to a file", &[&[READ_USERS]])
            .body(json!({"type": "object", "additionalProperties": false, "properties": {
                "connection_id": {"type": "string"}, "format": {"type": "string", "enum": ["json", "csv"]},
                "limit": {"type": "integer", "minimum": 1},
                "fields": {"type": "array", "items": {"type": "object", "required": ["name"], "properties": {
                    "name": {"type": "string"}, "export_as": {"type": "string"}}}},
                "q": {"type": "string"}}}))
            .ok(201, schema_ref("Job")),
        op("post", "/jobs/verification-email", "post_verification_email", "Send a verification email", &[&[UPDATE_USERS]])
            .body(json!({"type": "object", "additionalProperties": false, "required": ["user_id"], "properties": {
                "user_id": {"type": "string"}, "client_id": {"type": "string"},
                "identity": {"type": "object", "properties": {"user_id": {"type": "string"}, "provider": {"type": "string"}}},
                "organization_id": {"type": "string"}}}))
            .ok(201, schema_ref("Job")),
        op("get", "/jobs/{id}", "get_jobs_by_id", "A job's status", &[&[CREATE_USERS], &[READ_USERS]])
            .ok(200, schema_ref("Job")),
        op("get", "/jobs/{id}/errors", "get_errors", "The rows an import refused", &[&[CREATE_USERS]])
            .ok(200, array_of(schema_ref("JobError")))
            .empty(204),
    ]
}

/// What every operation may answer besides its success: Auth0's error body.
fn error_schema() -> Value {
    json!({
        "type": "object",
        "required": ["statusCode", "error", "message"],
        "properties": {
            "statusCode": {"type": "integer", "minimum": 400, "maximum": 599},
            "error": {"type": "string"},
            "message": {"type": "string"},
            "errorCode": {"type": "string"},
        }
    })
}

fn schemas() -> Value {
    let string = || json!({"type": "string"});
    let nullable_string = || json!({"type": "string", "nullable": true});
    let boolean = || json!({"type": "boolean"});
    let integer = || json!({"type": "integer"});
    let object = || json!({"type": "object"});
    let strings = || array_of(string());
    let date = || json!({"type": "string", "format": "date-time"});
    let user_writable = json!({
        "email": {"type": "string", "format": "email"},
        "email_verified": boolean(),
        "verify_email": boolean(),
        "username": {"type": "string", "minLength": 1, "maxLength": 128},
        "phone_number": string(),
        "phone_verified": boolean(),
        "given_name": {"type": "string", "maxLength": 150},
        "family_name": {"type": "string", "maxLength": 150},
        "name": {"type": "string", "maxLength": 300},
        "nickname": {"type": "string", "maxLength": 300},
        "picture": string(),
        "blocked": boolean(),
        "password": string(),
        "connection": {"type": "string", "example": "Username-Password-Authentication"},
        "client_id": string(),
        "user_metadata": object(),
        "app_metadata": object(),
    });
    let mut user_create = user_writable.clone();
    user_create["user_id"] = string();
    let mut user_update = user_writable;
    user_update["verify_phone_number"] = boolean();
    user_update["phone_number"] = nullable_string();
    let client_writable = json!({
        "name": {"type": "string", "minLength": 1},
        "description": string(),
        "logo_uri": string(),
        "app_type": {"type": "string", "enum": ["native", "spa", "regular_web", "non_interactive"]},
        "is_first_party": boolean(),
        "oidc_conformant": boolean(),
        "callbacks": strings(),
        "allowed_logout_urls": strings(),
        "allowed_origins": strings(),
        "web_origins": strings(),
        "grant_types": strings(),
        "token_endpoint_auth_method": {"type": "string", "enum": ["none", "client_secret_post", "client_secret_basic"]},
        "jwt_configuration": {"type": "object", "properties": {
            "alg": string(), "lifetime_in_seconds": integer(), "secret_encoded": boolean(),
            "scopes": object()}},
        "client_metadata": {"type": "object", "additionalProperties": {"type": "string"}},
        "refresh_token": {"type": "object", "properties": {
            "rotation_type": {"type": "string", "enum": ["rotating", "non-rotating"]},
            "expiration_type": {"type": "string", "enum": ["expiring", "non-expiring"]},
            "leeway": integer(), "token_lifetime": integer(), "infinite_token_lifetime": boolean(),
            "idle_token_lifetime": integer(), "infinite_idle_token_lifetime": boolean()}},
        "login_requires": {"type": "object", "properties": {
            "roles": strings(), "permissions": strings()}},
        "cross_origin_authentication": boolean(),
        "cross_origin_loc": string(),
    });
    let mut client = client_writable.clone();
    client["client_id"] = string();
    client["client_secret"] = string();
    client["tenant"] = string();
    client["global"] = boolean();
    let mut client_update = client_writable.clone();
    client_update["client_secret"] = string();
    let connection_writable = json!({
        "display_name": string(),
        "options": object(),
        "enabled_clients": strings(),
        "is_domain_connection": boolean(),
        "metadata": {"type": "object", "maxProperties": 10,
            "additionalProperties": {"type": "string", "maxLength": 255}},
        "realms": strings(),
        "show_as_button": boolean(),
    });
    let mut connection_create = connection_writable.clone();
    connection_create["name"] = json!({"type": "string", "pattern": "^[a-zA-Z0-9](?:[a-zA-Z0-9-]*[a-zA-Z0-9])?$", "maxLength": 128});
    connection_create["strategy"] = json!({"type": "string", "example": "auth0"});
    let mut connection = connection_create.clone();
    connection["id"] = string();
    let scope_definitions = array_of(
        json!({"type": "object", "required": ["value"], "properties": {
        "value": string(), "description": string()}}),
    );
    let resource_server_writable = json!({
        "name": string(),
        "scopes": scope_definitions,
        "signing_alg": {"type": "string", "enum": ["RS256", "HS256"]},
        "token_lifetime": {"type": "integer", "minimum": 1, "maximum": 2_592_000},
        "allow_offline_access": boolean(),
        "skip_consent_for_verifiable_first_party_clients": boolean(),
        "enforce_policies": boolean(),
        "token_dialect": {"type": "string", "enum": ["access_token", "access_token_authz", "rfc9068_profile", "rfc9068_profile_authz"]},
    });
    let mut resource_server_create = resource_server_writable.clone();
    resource_server_create["identifier"] = json!({"type": "string", "minLength": 1});
    let mut resource_server = resource_server_create.clone();
    resource_server["id"] = string();
    resource_server["is_system"] = boolean();
    let email_template = json!({
        "template": {"type": "string", "enum": TEMPLATE_NAMES},
        "body": string(),
        "subject": string(),
        "from": string(),
        "syntax": {"type": "string", "enum": ["liquid"]},
        "resultUrl": string(),
        "urlLifetimeInSeconds": {"type": "integer", "minimum": 0},
        "includeEmailInRedirect": boolean(),
        "enabled": boolean(),
    });
    let shields = |values: &[&str]| array_of(json!({"type": "string", "enum": values}));
    let mut s = Map::new();
    s.insert("Error".into(), error_schema());
    s.insert("Identity".into(), json!({"type": "object", "required": ["connection", "provider", "user_id"], "properties": {
            "connection": string(), "provider": string(), "user_id": string(), "isSocial": boolean(),
            "profileData": object()}}));
    // Every property may be left out by `fields`, so none is required.
    s.insert("User".into(), json!({"type": "object", "properties": {
            "user_id": string(), "email": string(), "email_verified": boolean(), "username": string(),
            "phone_number": string(), "phone_verified": boolean(), "created_at": date(),
            "updated_at": date(), "identities": array_of(schema_ref("Identity")),
            "app_metadata": object(), "user_metadata": object(), "picture": string(),
            "name": string(), "nickname": string(), "given_name": string(), "family_name": string(),
            "last_ip": string(), "last_login": date(), "last_password_reset": date(),
            "password_set_date": date(), "logins_count": {"type": "integer", "minimum": 0},
            "blocked": boolean()}}));
    s.insert(
        "UserCreate".into(),
        json!({"type": "object", "additionalProperties": false, "required": ["connection"],
            "properties": user_create}),
    );
    s.insert(
        "UserUpdate".into(),
        json!({"type": "object", "additionalProperties": false, "properties": user_update}),
    );
    s.insert("LinkIdentity".into(), json!({"type": "object", "additionalProperties": false, "properties": {
            "provider": string(), "user_id": string(), "connection_id": string(), "link_with": string()}}));
    s.insert(
        "Client".into(),
        json!({"type": "object", "properties": client}),
    );
    s.insert(
        "ClientCreate".into(),
        json!({"type": "object", "additionalProperties": false, "required": ["name"],
            "properties": client_writable}),
    );
    s.insert(
        "ClientUpdate".into(),
        json!({"type": "object", "additionalProperties": false, "properties": client_update}),
    );
    s.insert(
        "Connection".into(),
        json!({"type": "object", "properties": connection}),
    );
    s.insert(
        "ConnectionCreate".into(),
        json!({"type": "object", "additionalProperties": false, "required": ["name", "strategy"],
            "properties": connection_create}),
    );
    s.insert(
        "ConnectionUpdate".into(),
        json!({"type": "object", "additionalProperties": false, "properties": connection_writable}),
    );
    s.insert("TryScript".into(), json!({"type": "object", "additionalProperties": false, "required": ["script"], "properties": {
            "script": {"type": "string", "enum": ScriptName::ALL.map(ScriptName::key)},
            "args": array_of(json!({})), "source": string()}}));
    s.insert("ScriptTrial".into(), json!({"type": "object", "required": ["console"], "properties": {
            "result": {}, "error": {"nullable": true}, "console": strings(), "elapsed_ms": {"type": "integer", "minimum": 0}}}));
    s.insert(
        "ResourceServer".into(),
        json!({"type": "object", "required": ["id", "identifier"], "properties": resource_server}),
    );
    s.insert(
        "ResourceServerCreate".into(),
        json!({"type": "object", "additionalProperties": false, "required": ["identifier"],
            "properties": resource_server_create}),
    );
    s.insert("ResourceServerUpdate".into(), json!({"type": "object", "additionalProperties": false, "properties": resource_server_writable}));
    s.insert("ClientGrant".into(), json!({"type": "object", "required": ["id", "client_id", "audience", "scope"], "properties": {
            "id": string(), "client_id": string(), "audience": string(), "scope": strings()}}));
    s.insert(
        "Role".into(),
        json!({"type": "object", "required": ["id", "name"], "properties": {
            "id": string(), "name": string(), "description": string()}}),
    );
    s.insert("NamedCreate".into(), json!({"type": "object", "additionalProperties": false, "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1}, "description": string()}}));
    s.insert(
        "NamedUpdate".into(),
        json!({"type": "object", "additionalProperties": false, "properties": {
            "name": {"type": "string", "minLength": 1}, "description": string()}}),
    );
    s.insert("PermissionsBody".into(), json!({"type": "object", "additionalProperties": false, "required": ["permissions"], "properties": {
            "permissions": {"type": "array", "minItems": 1, "items": {"type": "object", "additionalProperties": false,
                "required": ["resource_server_identifier", "permission_name"], "properties": {
                    "resource_server_identifier": string(), "permission_name": string()}}}}}));
    s.insert("Permission".into(), json!({"type": "object", "required": ["resource_server_identifier", "permission_name"], "properties": {
            "resource_server_identifier": string(), "permission_name": string(),
            "resource_server_name": nullable_string(), "description": nullable_string()}}));
    s.insert("UserPermission".into(), json!({"allOf": [schema_ref("Permission"), {"type": "object", "required": ["sources"], "properties": {
            "sources": array_of(json!({"type": "object", "required": ["source_id", "source_name", "source_type"], "properties": {
                "source_id": string(), "source_name": string(),
                "source_type": {"type": "string", "enum": ["DIRECT", "ROLE", "GROUP"]}}}))}}]}));
    s.insert("Member".into(), json!({"type": "object", "required": ["user_id"], "properties": {
            "user_id": string(), "picture": nullable_string(), "name": nullable_string(), "email": nullable_string()}}));
    s.insert("GroupMapping".into(), json!({"type": "object", "required": ["id", "connection_name", "group_name"], "properties": {
            "id": string(), "connection_name": string(), "group_name": string()}}));
    // Every property may be left out by `fields`.
    s.insert("LogEvent".into(), json!({"type": "object", "properties": {
            "log_id": string(), "date": date(), "type": string(), "description": string(),
            "client_id": string(), "connection": string(), "user_id": string(), "user_name": string(),
            "ip": string(), "user_agent": string(), "details": object()}}));
    let trigger_ref = json!({"type": "object", "required": ["id"], "properties": {
        "id": {"type": "string", "enum": ["post-login", "credentials-exchange", "pre-user-registration", "post-user-registration", "post-change-password"]}, "version": string()}});
    let action_writable = json!({
        "name": {"type": "string", "minLength": 1, "maxLength": 255},
        "supported_triggers": {"type": "array", "minItems": 1, "items": trigger_ref},
        "code": {"type": "string", "maxLength": 102400},
        "runtime": {"type": "string", "enum": ["node12", "node16", "node18", "node22"]},
        "dependencies": array_of(json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "enum": ["axios", "node-fetch", "request", "crypto", "bcrypt", "bcryptjs", "pg", "mysql"]},
            "version": string()}})),
        "secrets": array_of(json!({"type": "object", "required": ["name"], "properties": {
            "name": {"type": "string", "minLength": 1, "maxLength": 128},
            "value": {"type": "string", "maxLength": 4096}}})),
    });
    s.insert(
        "ActionCreate".into(),
        json!({"type": "object", "additionalProperties": false,
        "required": ["name", "supported_triggers"], "properties": action_writable.clone()}),
    );
    s.insert(
        "ActionUpdate".into(),
        json!({"type": "object", "additionalProperties": false,
        "minProperties": 1, "properties": action_writable}),
    );
    let secret_listing = array_of(
        json!({"type": "object", "required": ["name"], "properties": {
        "name": string(), "updated_at": date()}}),
    );
    let action_props = json!({
        "id": string(), "name": string(), "supported_triggers": array_of(object()), "code": string(),
        "dependencies": array_of(object()), "runtime": string(), "secrets": secret_listing.clone(),
        "status": string(), "all_changes_deployed": boolean(), "created_at": date(), "updated_at": date(),
    });
    s.insert(
        "Action".into(),
        json!({"type": "object",
        "required": ["id", "name", "supported_triggers", "code", "secrets", "all_changes_deployed"],
        "properties": action_props}),
    );
    s.insert(
        "ActionVersion".into(),
        json!({"type": "object",
        "required": ["id", "action_id", "number", "code", "deployed", "secrets"],
        "properties": {
            "id": string(), "action_id": string(), "number": integer(), "code": string(),
            "dependencies": array_of(object()), "runtime": string(), "secrets": secret_listing,
            "supported_triggers": array_of(object()), "deployed": boolean(), "status": string(),
            "created_at": date(), "updated_at": date(), "built_at": date(), "action": object()}}),
    );
    s.insert(
        "ActionBinding".into(),
        json!({"type": "object",
        "required": ["id", "trigger_id", "display_name", "action"],
        "properties": {"id": string(), "trigger_id": string(), "display_name": string(),
            "action": schema_ref("Action"), "created_at": date(), "updated_at": date()}}),
    );
    let rule_writable = json!({
        "name": {"type": "string", "pattern": "^[a-zA-Z0-9]([ \\-a-zA-Z0-9]*[a-zA-Z0-9])?$"},
        "script": {"type": "string", "minLength": 1},
        "order": {"type": "integer", "minimum": 0},
        "enabled": boolean(),
        "stage": {"type": "string", "enum": ["login_success"]},
    });
    s.insert(
        "RuleCreate".into(),
        json!({"type": "object", "additionalProperties": false,
        "required": ["name", "script"], "properties": rule_writable.clone()}),
    );
    s.insert(
        "RuleUpdate".into(),
        json!({"type": "object", "additionalProperties": false,
        "minProperties": 1, "properties": rule_writable}),
    );
    s.insert(
        "Rule".into(),
        json!({"type": "object", "properties": {
        "id": string(), "name": string(), "script": string(), "order": integer(),
        "enabled": boolean(), "stage": string()}}),
    );
    s.insert("SigningKey".into(), json!({"type": "object", "required": ["kid", "cert", "current", "next", "previous", "revoked"], "properties": {
        "kid": {"type": "string"}, "cert": {"type": "string"}, "pkcs7": {"type": "string"},
        "fingerprint": {"type": "string"}, "thumbprint": {"type": "string"},
        "current": {"type": "boolean"}, "next": {"type": "boolean"}, "previous": {"type": "boolean"}, "revoked": {"type": "boolean"},
        "current_since": {"type": "string", "format": "date-time"}, "current_until": {"type": "string", "format": "date-time"},
        "revoked_at": {"type": "string", "format": "date-time"}}}));
    s.insert(
        "SigningKeyCert".into(),
        json!({"type": "object", "required": ["cert", "kid"], "properties": {
        "cert": {"type": "string"}, "kid": {"type": "string"}}}),
    );
    s.insert("UserBlocks".into(), json!({"type": "object", "required": ["blocked_for"], "properties": {
            "blocked_for": array_of(json!({"type": "object", "required": ["identifier"], "properties": {
                "identifier": string(), "ip": nullable_string(), "connection": nullable_string()}}))}}));
    s.insert(
        "TenantSettings".into(),
        json!({"type": "object", "properties": {
            "friendly_name": string(), "picture_url": string(), "support_email": string(),
            "support_url": string(), "allowed_logout_urls": strings(),
            "session_lifetime": {"type": "number"}, "idle_session_lifetime": {"type": "number"},
            "default_redirection_uri": string(), "post_login_redirect_url": string(),
            "keep_sessions_on_password_change": boolean(), "suggest_account_linking": boolean(),
            "delegated_admin": object(), "flags": object(), "authorization": object(),
            "consent": object(), "default_picture": string()}}),
    );
    s.insert("Ticket".into(), json!({"type": "object", "required": ["ticket"], "properties": {"ticket": {"type": "string", "format": "uri"}}}));
    s.insert("BreachedPasswordDetection".into(), json!({"type": "object", "properties": {
            "enabled": boolean(),
            "shields": shields(&["block", "user_notification", "admin_notification"]),
            "admin_notification_frequency": shields(&["immediately", "daily", "weekly", "monthly"]),
            "method": {"type": "string", "enum": ["standard", "enhanced"]},
            "stage": {"type": "object", "properties": {
                "pre-user-registration": {"type": "object", "properties": {"shields": shields(&["block", "admin_notification"])}},
                "pre-change-password": {"type": "object", "properties": {"shields": shields(&["block", "admin_notification"])}}}}}}));
    s.insert(
        "EmailTemplate".into(),
        json!({"type": "object", "required": ["template", "body", "subject", "syntax", "enabled"],
            "properties": email_template}),
    );
    s.insert("EmailTemplateCreate".into(), json!({"type": "object", "additionalProperties": false, "required": ["template", "body", "subject", "syntax", "enabled"],
            "properties": email_template}));
    s.insert(
        "EmailTemplateUpdate".into(),
        json!({"type": "object", "additionalProperties": false, "properties": email_template}),
    );
    s.insert("Job".into(), json!({"type": "object", "required": ["id", "type", "status", "created_at"], "properties": {
            "id": string(), "type": {"type": "string", "enum": ["users_import", "users_export", "verification_email"]},
            "status": {"type": "string", "enum": ["pending", "processing", "completed", "failed", "cancelled"]},
            "created_at": date(), "connection_id": string(), "connection": string(), "external_id": string(),
            "location": string(), "percentage_done": {"type": "integer", "minimum": 0, "maximum": 100},
            "time_left_seconds": {"type": "integer", "minimum": 0},
            "summary": {"type": "object", "properties": {
                "failed": integer(), "updated": integer(), "inserted": integer(), "total": integer()}},
            "processed": {"type": "integer", "minimum": 0}, "total": {"type": "integer", "minimum": 0},
            "status_details": string(), "format": string(), "limit": integer(), "fields": {}}}));
    s.insert("JobError".into(), json!({"type": "object", "required": ["user", "errors"], "properties": {
            "user": {}, "index": {"type": "integer", "minimum": 0},
            "errors": array_of(json!({"type": "object", "required": ["code", "message"], "properties": {
                "code": string(), "message": string(), "path": string()}}))}}));
    Value::Object(s)
}

/// Every scope a route may ask for, each with a line saying what it opens.
fn scope_descriptions() -> Map<String, Value> {
    ALL_MANAGEMENT_SCOPES
        .iter()
        .chain(CURRENT_USER_SCOPES)
        .chain(gatehouse_core::scopes::OPT_IN_SCOPES)
        .map(|s| {
            let (verb, what) = s.split_once(':').unwrap_or((s, ""));
            (
                s.to_string(),
                json!(format!("{verb} {}", what.replace('_', " "))),
            )
        })
        .collect()
}

/// The whole document.
fn document() -> Value {
    let mut paths = Map::new();
    for op in operations() {
        let (method, path) = (op.method, op.path);
        let entry = paths.entry(path).or_insert_with(|| json!({}));
        entry[method] = op.render();
    }
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Gatehouse Management API",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Auth0-compatible Management API. Every route takes a bearer token (`Authorization: Bearer <access token>`) issued by `POST /oauth/token` for the audience `<public URL>/api/v2/`; each operation lists the scopes that open it (any one alternative). Errors answer `{statusCode, error, message, errorCode}`.",
        },
        "servers": [{"url": "/api/v2"}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "oAuth2ClientCredentials": {
                    "type": "oauth2",
                    "description": "A bearer access token from the client-credentials grant, sent as `Authorization: Bearer <token>`.",
                    "flows": {"clientCredentials": {"tokenUrl": "/oauth/token", "scopes": scope_descriptions()}},
                },
            },
            "responses": {
                "Error": {
                    "description": "An error in Auth0's format",
                    "content": {"application/json": {"schema": schema_ref("Error")}},
                },
            },
            "schemas": schemas(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    /// `(METHOD, /path)` pairs of the `.route(` calls in the management routers' sources,
    /// path parameters reduced to `{}` (the names may differ from the document's).
    fn routes_in_sources() -> BTreeSet<(String, String)> {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("src/management");
        let mut found = BTreeSet::new();
        let mut entries: Vec<_> = std::fs::read_dir(&dir)
            .expect("management sources")
            .map(|e| e.expect("entry").path())
            // This file's own tests mention `.route(` in text.
            .filter(|p| p.extension().is_some_and(|x| x == "rs") && !p.ends_with("openapi.rs"))
            .collect();
        entries.sort();
        for file in entries {
            let text = std::fs::read_to_string(&file).expect("source");
            let mut rest = text.as_str();
            while let Some(at) = rest.find(".route(") {
                rest = &rest[at + ".route(".len()..];
                // The call's arguments: up to the parenthesis that closes `.route(`.
                let mut depth = 1;
                let end = rest
                    .char_indices()
                    .find(|&(_, c)| {
                        match c {
                            '(' => depth += 1,
                            ')' => depth -= 1,
                            _ => {}
                        }
                        depth == 0
                    })
                    .map(|(i, _)| i)
                    .expect("closed .route(");
                let args = &rest[..end];
                let path = args
                    .split('"')
                    .nth(1)
                    .expect("a route's path literal")
                    .to_string();
                for method in ["get", "post", "patch", "put", "delete"] {
                    let called = args.match_indices(&format!("{method}(")).any(|(i, _)| {
                        i == 0 || !args[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_')
                    });
                    if called {
                        found.insert((method.to_uppercase(), normalise(&path)));
                    }
                }
            }
        }
        found
    }

    fn normalise(path: &str) -> String {
        path.split('/')
            .map(|s| if s.starts_with('{') { "{}" } else { s })
            .collect::<Vec<_>>()
            .join("/")
    }

    #[test]
    fn every_router_route_is_described_and_nothing_else() {
        let in_sources = routes_in_sources();
        assert!(
            in_sources.len() > 80,
            "the scan found the routers: {in_sources:?}"
        );
        let doc = document();
        let mut described = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().expect("paths") {
            for method in item.as_object().expect("path item").keys() {
                described.insert((method.to_uppercase(), normalise(path)));
            }
        }
        let missing: Vec<_> = in_sources.difference(&described).collect();
        let extra: Vec<_> = described.difference(&in_sources).collect();
        assert!(
            missing.is_empty(),
            "routes without a description: {missing:?}"
        );
        assert!(
            extra.is_empty(),
            "described routes that no router has: {extra:?}"
        );
    }

    #[test]
    fn every_scope_is_a_management_scope_and_every_operation_is_unique() {
        let known = scope_descriptions();
        let mut ids = BTreeSet::new();
        for op in operations() {
            for alternative in op.scopes {
                for scope in *alternative {
                    assert!(known.contains_key(*scope), "unknown scope {scope}");
                }
            }
            let id = op.doc["operationId"].as_str().expect("id").to_string();
            assert!(ids.insert(id.clone()), "operationId {id} twice");
        }
    }

    #[test]
    fn references_resolve() {
        let doc = document();
        let text = doc.to_string();
        for piece in text.split("\"$ref\":\"#/components/").skip(1) {
            let target = piece.split('"').next().expect("ref");
            let (kind, name) = target.split_once('/').expect("kind/name");
            assert!(
                doc["components"][kind].get(name).is_some(),
                "unresolved $ref {target}"
            );
        }
        assert!(!DOCUMENT.is_empty());
    }
}
