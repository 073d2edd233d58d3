//! What a test run's changes would make of a login's tokens, for the dashboard's editors: the
//! payloads of the ID token and the access token (unsigned, without their times), built from
//! the test's example user, application and API, with the actions' claims and scopes applied
//! by the same [`FlowChanges`] methods the token endpoint uses.

use super::{ActionCommands, FlowChanges, is_restricted_claim};
use serde_json::{Map, Value, json};

/// Who and what the tokens of a test run are for, read from the test's input.
#[derive(Debug, Clone, Default)]
pub struct TrialBase {
    /// The user (`event.user`, a rule's `user`); `None` for a client-credentials exchange.
    pub user: Option<Value>,
    pub client_id: String,
    /// The API the access token is for, if the test names one.
    pub audience: Option<String>,
    /// The scopes the application asked for.
    pub scopes: Vec<String>,
    /// This server's issuer (`https://…/`).
    pub issuer: String,
    /// The Management API's audience: there only namespaced custom claims are kept.
    pub management_audience: String,
}

impl TrialBase {
    /// The base of a trigger's test event (`event.user`, `event.client`,
    /// `event.resource_server`, `event.transaction.requested_scopes`).
    pub fn of_event(event: &Value, with_user: bool) -> Self {
        let text = |v: &Value| v.as_str().map(str::to_string);
        Self {
            user: with_user.then(|| event["user"].clone()),
            client_id: text(&event["client"]["client_id"]).unwrap_or_default(),
            audience: text(&event["resource_server"]["identifier"]),
            scopes: event["transaction"]["requested_scopes"]
                .as_array()
                .map(|s| s.iter().filter_map(text).collect())
                .unwrap_or_default(),
            ..Self::default()
        }
    }

    /// The base of a rule's test (`user`, `context.clientID`, and the audience and scope of
    /// `context.request.query`).
    pub fn of_rule(user: &Value, context: &Value) -> Self {
        let query = &context["request"]["query"];
        Self {
            user: Some(user.clone()),
            client_id: context["clientID"].as_str().unwrap_or_default().to_string(),
            audience: query["audience"].as_str().map(str::to_string),
            scopes: query["scope"]
                .as_str()
                .unwrap_or("openid profile email")
                .split_whitespace()
                .map(str::to_string)
                .collect(),
            ..Self::default()
        }
    }
}

/// The payloads a login with these changes would be issued.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenPreview {
    /// Only when the application asked for `openid` (and never for a client).
    pub id_token: Option<Map<String, Value>>,
    pub access_token: Map<String, Value>,
}

impl TokenPreview {
    pub fn of(base: &TrialBase, changes: &FlowChanges) -> Self {
        let mut scopes = base.scopes.clone();
        changes.apply_to_scopes(&mut scopes);
        let sub = match &base.user {
            Some(user) => user["user_id"].clone(),
            None => json!(format!("{}@clients", base.client_id)),
        };
        let mut access = Map::new();
        access.insert("iss".into(), json!(base.issuer));
        access.insert("sub".into(), sub.clone());
        if let Some(aud) = &base.audience {
            access.insert("aud".into(), json!(aud));
        }
        access.insert("azp".into(), json!(base.client_id));
        if base.user.is_none() {
            access.insert("gty".into(), json!("client-credentials"));
        }
        access.insert("scope".into(), json!(scopes.join(" ")));
        let system_api = base.audience.as_deref() == Some(base.management_audience.as_str());
        changes.add_access_claims(&mut access, system_api);

        let id_token = base
            .user
            .as_ref()
            .filter(|_| base.scopes.iter().any(|s| s == "openid"))
            .map(|user| {
                let mut id = Map::new();
                id.insert("iss".into(), json!(base.issuer));
                id.insert("sub".into(), sub);
                id.insert("aud".into(), json!(base.client_id));
                let has = |s: &str| base.scopes.iter().any(|x| x == s);
                let mut profile = |keys: &[&str]| {
                    for k in keys {
                        if let Some(v) = user.get(*k).filter(|v| !v.is_null()) {
                            id.insert((*k).into(), v.clone());
                        }
                    }
                };
                if has("profile") {
                    profile(&[
                        "name",
                        "given_name",
                        "family_name",
                        "nickname",
                        "picture",
                        "updated_at",
                    ]);
                }
                if has("email") {
                    profile(&["email", "email_verified"]);
                }
                changes.add_id_claims(&mut id);
                id
            });
        Self {
            id_token,
            access_token: access,
        }
    }
}

/// The claims a run tried to set that Auth0 never lets code set (dropped from the tokens),
/// each once.
pub fn restricted_claims_in(commands: &ActionCommands) -> Vec<String> {
    let mut dropped: Vec<String> = Vec::new();
    for k in commands
        .id_claims
        .keys()
        .chain(commands.access_claims.keys())
    {
        if is_restricted_claim(k) && !dropped.contains(k) {
            dropped.push(k.clone());
        }
    }
    dropped
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(user: Option<Value>, scopes: &str, audience: Option<&str>) -> TrialBase {
        TrialBase {
            user,
            client_id: "app-1".into(),
            audience: audience.map(str::to_string),
            scopes: scopes.split_whitespace().map(str::to_string).collect(),
            issuer: "https://id.example.com/".into(),
            management_audience: "https://id.example.com/api/v2/".into(),
        }
    }

    fn changes(commands: Value) -> FlowChanges {
        let mut c = FlowChanges::default();
        c.merge(serde_json::from_value(commands).expect("commands"));
        c
    }

    #[test]
    fn a_login_preview_has_the_users_claims_and_the_actions_without_the_restricted_ones() {
        let user = json!({"user_id": "auth0|7f3a", "name": "Zoë Ångström", "email": "zoe@example.com", "email_verified": true, "picture": null});
        let c = changes(json!({
            "id_claims": {"https://example.com/roles": ["admin"], "sub": "forged", "name": "Zoë Å."},
            "access_claims": {"https://example.com/plan": "gold", "iss": "forged"},
            "add_scopes": ["read:reports"],
            "remove_scopes": ["email"]
        }));
        let p = TokenPreview::of(
            &base(
                Some(user),
                "openid profile email",
                Some("https://api.example.com"),
            ),
            &c,
        );
        let id = p.id_token.expect("openid asked");
        assert_eq!(id["sub"], json!("auth0|7f3a"));
        assert_eq!(id["aud"], json!("app-1"));
        assert_eq!(id["email"], json!("zoe@example.com"));
        // A profile claim an action may replace; `sub` it may not; `null` profile values left out.
        assert_eq!(id["name"], json!("Zoë Å."));
        assert!(!id.contains_key("picture"));
        assert_eq!(id["https://example.com/roles"], json!(["admin"]));
        let at = &p.access_token;
        assert_eq!(at["iss"], json!("https://id.example.com/"));
        assert_eq!(at["aud"], json!("https://api.example.com"));
        assert_eq!(at["scope"], json!("openid profile read:reports"));
        assert_eq!(at["https://example.com/plan"], json!("gold"));
    }

    #[test]
    fn no_id_token_without_openid_and_none_for_a_client() {
        let user = json!({"user_id": "auth0|1"});
        assert!(
            TokenPreview::of(&base(Some(user), "read:x", None), &FlowChanges::default())
                .id_token
                .is_none()
        );
        let p = TokenPreview::of(
            &base(None, "openid read:x", Some("https://api")),
            &FlowChanges::default(),
        );
        assert!(p.id_token.is_none());
        assert_eq!(p.access_token["sub"], json!("app-1@clients"));
        assert_eq!(p.access_token["gty"], json!("client-credentials"));
    }

    #[test]
    fn on_the_management_api_only_namespaced_claims_are_kept() {
        let c = changes(json!({"access_claims": {"plan": "gold", "https://x/plan": "gold"}}));
        let p = TokenPreview::of(
            &base(None, "read:users", Some("https://id.example.com/api/v2/")),
            &c,
        );
        assert!(!p.access_token.contains_key("plan"));
        assert!(p.access_token.contains_key("https://x/plan"));
    }

    #[test]
    fn restricted_claims_are_named_once() {
        let commands: ActionCommands = serde_json::from_value(json!({
            "id_claims": {"sub": 1, "ok": 2, "sip_x": 3},
            "access_claims": {"sub": 1, "aud": 2}
        }))
        .expect("commands");
        let mut dropped = restricted_claims_in(&commands);
        dropped.sort();
        assert_eq!(dropped, vec!["aud", "sip_x", "sub"]);
    }
}
