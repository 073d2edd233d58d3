//! The Management API's OAuth scopes, as Auth0 names them.

pub const READ_USERS: &str = "read:users";
pub const CREATE_USERS: &str = "create:users";
pub const UPDATE_USERS: &str = "update:users";
pub const DELETE_USERS: &str = "delete:users";
pub const READ_USERS_APP_METADATA: &str = "read:users_app_metadata";
pub const CREATE_USERS_APP_METADATA: &str = "create:users_app_metadata";
pub const UPDATE_USERS_APP_METADATA: &str = "update:users_app_metadata";
pub const DELETE_USERS_APP_METADATA: &str = "delete:users_app_metadata";
pub const READ_USER_IDP_TOKENS: &str = "read:user_idp_tokens";
pub const READ_CLIENTS: &str = "read:clients";
pub const READ_CLIENT_KEYS: &str = "read:client_keys";
pub const CREATE_CLIENTS: &str = "create:clients";
pub const UPDATE_CLIENTS: &str = "update:clients";
pub const UPDATE_CLIENT_KEYS: &str = "update:client_keys";
pub const DELETE_CLIENTS: &str = "delete:clients";
pub const READ_CONNECTIONS: &str = "read:connections";
pub const CREATE_CONNECTIONS: &str = "create:connections";
pub const UPDATE_CONNECTIONS: &str = "update:connections";
pub const DELETE_CONNECTIONS: &str = "delete:connections";
pub const READ_TENANT_SETTINGS: &str = "read:tenant_settings";
pub const UPDATE_TENANT_SETTINGS: &str = "update:tenant_settings";
pub const READ_ATTACK_PROTECTION: &str = "read:attack_protection";
pub const UPDATE_ATTACK_PROTECTION: &str = "update:attack_protection";
pub const READ_SIGNING_KEYS: &str = "read:signing_keys";
pub const CREATE_SIGNING_KEYS: &str = "create:signing_keys";
pub const UPDATE_SIGNING_KEYS: &str = "update:signing_keys";
pub const READ_ACTIONS: &str = "read:actions";
pub const CREATE_ACTIONS: &str = "create:actions";
pub const UPDATE_ACTIONS: &str = "update:actions";
pub const DELETE_ACTIONS: &str = "delete:actions";
pub const READ_RULES: &str = "read:rules";
pub const CREATE_RULES: &str = "create:rules";
pub const UPDATE_RULES: &str = "update:rules";
pub const DELETE_RULES: &str = "delete:rules";
pub const READ_RULES_CONFIGS: &str = "read:rules_configs";
pub const UPDATE_RULES_CONFIGS: &str = "update:rules_configs";
pub const DELETE_RULES_CONFIGS: &str = "delete:rules_configs";
/// Starting a login as another user (`POST /users/{user_id}/impersonate`). Gatehouse's own
/// name: Auth0 reserved its impersonation API to the tenant's global client.
pub const IMPERSONATE_USERS: &str = "impersonate:users";

/// The signed-in user's own scopes (Auth0's "current_user" scopes): a token issued to a user
/// through a login for the Management API's audience carries only these, and they open only
/// the user's own `/users/{id}` routes (`docs/current-user-token.md`).
pub const READ_CURRENT_USER: &str = "read:current_user";
pub const UPDATE_CURRENT_USER_METADATA: &str = "update:current_user_metadata";
pub const CREATE_CURRENT_USER_METADATA: &str = "create:current_user_metadata";
pub const DELETE_CURRENT_USER_METADATA: &str = "delete:current_user_metadata";
pub const UPDATE_CURRENT_USER_IDENTITIES: &str = "update:current_user_identities";

/// Every current_user scope Auth0 defines, those of routes Gatehouse does not have included
/// (`delete:current_user_metadata` is Auth0's scope for deleting one's MFA enrollment, the
/// device-credential ones for `/device-credentials`): asking for them is not an error, and
/// they open nothing here.
pub const CURRENT_USER_SCOPES: &[&str] = &[
    READ_CURRENT_USER,
    UPDATE_CURRENT_USER_METADATA,
    CREATE_CURRENT_USER_METADATA,
    DELETE_CURRENT_USER_METADATA,
    UPDATE_CURRENT_USER_IDENTITIES,
    "create:current_user_device_credentials",
    "read:current_user_device_credentials",
    "delete:current_user_device_credentials",
];

/// Whether `scope` is one of the signed-in user's own scopes.
pub fn is_current_user_scope(scope: &str) -> bool {
    CURRENT_USER_SCOPES.contains(&scope)
}

/// Scopes the Management API defines but grants to no client by default, not even the
/// bootstrap client: an operator grants them to the one client that needs them (a client
/// grant), and the bootstrap client keeps them across restarts once granted.
pub const OPT_IN_SCOPES: &[&str] = &[IMPERSONATE_USERS];

/// Every scope the bootstrap machine-to-machine client is granted, including those of
/// endpoints that later issues add, so its token keeps working as they land.
pub const ALL_MANAGEMENT_SCOPES: &[&str] = &[
    READ_USERS,
    CREATE_USERS,
    UPDATE_USERS,
    DELETE_USERS,
    READ_USERS_APP_METADATA,
    CREATE_USERS_APP_METADATA,
    UPDATE_USERS_APP_METADATA,
    DELETE_USERS_APP_METADATA,
    READ_USER_IDP_TOKENS,
    "create:user_tickets",
    "read:logs",
    "read:logs_users",
    READ_CLIENTS,
    READ_CLIENT_KEYS,
    CREATE_CLIENTS,
    UPDATE_CLIENTS,
    UPDATE_CLIENT_KEYS,
    DELETE_CLIENTS,
    READ_CONNECTIONS,
    CREATE_CONNECTIONS,
    UPDATE_CONNECTIONS,
    DELETE_CONNECTIONS,
    "read:resource_servers",
    "create:resource_servers",
    "update:resource_servers",
    "delete:resource_servers",
    "read:client_grants",
    "create:client_grants",
    "update:client_grants",
    "delete:client_grants",
    "read:roles",
    "create:roles",
    "update:roles",
    "delete:roles",
    "read:role_members",
    "create:role_members",
    "delete:role_members",
    "read:groups",
    "create:groups",
    "update:groups",
    "delete:groups",
    "read:grants",
    "delete:grants",
    "read:anomaly_blocks",
    "delete:anomaly_blocks",
    READ_TENANT_SETTINGS,
    UPDATE_TENANT_SETTINGS,
    READ_ATTACK_PROTECTION,
    UPDATE_ATTACK_PROTECTION,
    "read:email_templates",
    "create:email_templates",
    "update:email_templates",
    READ_SIGNING_KEYS,
    CREATE_SIGNING_KEYS,
    UPDATE_SIGNING_KEYS,
    READ_ACTIONS,
    CREATE_ACTIONS,
    UPDATE_ACTIONS,
    DELETE_ACTIONS,
    READ_RULES,
    CREATE_RULES,
    UPDATE_RULES,
    DELETE_RULES,
    READ_RULES_CONFIGS,
    UPDATE_RULES_CONFIGS,
    DELETE_RULES_CONFIGS,
];

/// Every scope the Management API defines: the bootstrap client's, the opt-in ones and the
/// signed-in user's own.
pub fn management_api_scopes() -> Vec<&'static str> {
    ALL_MANAGEMENT_SCOPES
        .iter()
        .chain(OPT_IN_SCOPES)
        .chain(CURRENT_USER_SCOPES)
        .copied()
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opt_in_scopes_are_defined_but_not_granted_by_default() {
        assert!(!ALL_MANAGEMENT_SCOPES.contains(&IMPERSONATE_USERS));
        assert!(management_api_scopes().contains(&IMPERSONATE_USERS));
    }

    #[test]
    fn current_user_scopes_are_defined_and_no_client_holds_them_by_default() {
        for s in CURRENT_USER_SCOPES {
            assert!(management_api_scopes().contains(s), "{s}");
            assert!(!ALL_MANAGEMENT_SCOPES.contains(s), "{s}");
            assert!(is_current_user_scope(s));
        }
        assert!(!is_current_user_scope(READ_USERS));
    }
}
