//! Rules, Auth0's legacy login code, beside actions: the Management API's use cases
//! (`/api/v2/rules` with Auth0's 409s on a taken name or order, `/api/v2/rules-configs` whose
//! values are sealed and never read back) and the run before a login's actions, each rule in
//! `order` handing `user` and `context` to the next.

use super::run::{ActionFailure, LoginFacts, failure_description};
use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::actions::FlowChanges;
use gatehouse_core::rules::{NewRule, RulePatch, denial_of, is_config_key, outcome_of};
use gatehouse_scripts::{ErrorClass, ScriptCall, ScriptError};
use gatehouse_store::StoredRule;
use serde_json::{Map, Value, json};
use std::sync::Arc;

/// The enabled rules in run order with the rules-config values in clear, as a login needs
/// them (kept in the configuration cache).
#[derive(Debug, Default)]
pub(crate) struct LoginRules {
    pub rules: Vec<StoredRule>,
    pub configuration: Map<String, Value>,
}

fn config_purpose(key: &str) -> String {
    format!("rules-config/{key}")
}

fn rule_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_rule",
        message: "The rule does not exist.".into(),
    }
}

fn bad_key(key: &str) -> ServiceError {
    ServiceError::InvalidBody(gatehouse_core::payload::InvalidBody::new(format!(
        "Path validation error: 'String does not match pattern ^[A-Za-z0-9_\\-@*+:]*$ (at most 127 characters)' on property key ({key})."
    )))
}

impl Gatehouse {
    pub(super) fn check_rule_script(script: &str) -> Result<()> {
        gatehouse_scripts::check_syntax("rule", script).map_err(|p| {
            ServiceError::InvalidBody(gatehouse_core::payload::InvalidBody::on_property(
                match p.line {
                    Some(line) => {
                        format!("The script does not compile: {} (line {line})", p.message)
                    }
                    None => format!("The script does not compile: {}", p.message),
                },
                "script",
            ))
        })
    }

    /// Auth0's 409s, checked before writing so the message says which one clashed.
    fn check_rule_unique(all: &[StoredRule], rule: &StoredRule) -> Result<()> {
        if all.iter().any(|r| r.id != rule.id && r.name == rule.name) {
            return Err(ServiceError::Conflict(
                "A rule with the same name already exists".into(),
            ));
        }
        if all.iter().any(|r| r.id != rule.id && r.order == rule.order) {
            return Err(ServiceError::Conflict(
                "A rule with the same order already exists".into(),
            ));
        }
        Ok(())
    }

    /// `POST /api/v2/rules`.
    pub async fn create_rule(&self, new: NewRule) -> Result<StoredRule> {
        Self::check_rule_script(&new.script)?;
        let all = self.inner.rules.list(self.tenant()).await?;
        let now = self.now();
        let rule = StoredRule {
            id: format!(
                "rul_{}",
                gatehouse_crypto::random::alnum(16).map_err(ServiceError::internal)?
            ),
            name: new.name,
            script: new.script,
            order: new
                .order
                .unwrap_or_else(|| all.iter().map(|r| r.order + 1).max().unwrap_or(1)),
            enabled: new.enabled,
            created_at: now,
            updated_at: now,
        };
        Self::check_rule_unique(&all, &rule)?;
        match self.inner.rules.insert(self.tenant(), &rule).await {
            Ok(()) => Ok(rule),
            Err(gatehouse_store::StoreError::Conflict(_)) => Err(ServiceError::Conflict(
                "A rule with the same name or order already exists".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_rule(&self, id: &str) -> Result<StoredRule> {
        self.inner
            .rules
            .get(self.tenant(), id)
            .await?
            .ok_or_else(rule_not_found)
    }

    /// `GET /api/v2/rules`, in run order, optionally only enabled (or disabled) ones.
    pub async fn list_rules(&self, enabled: Option<bool>) -> Result<Vec<StoredRule>> {
        let all = self.inner.rules.list(self.tenant()).await?;
        Ok(all
            .into_iter()
            .filter(|r| enabled.is_none_or(|e| r.enabled == e))
            .collect())
    }

    pub async fn update_rule(&self, id: &str, patch: RulePatch) -> Result<StoredRule> {
        let all = self.inner.rules.list(self.tenant()).await?;
        let mut rule = all
            .iter()
            .find(|r| r.id == id)
            .cloned()
            .ok_or_else(rule_not_found)?;
        if let Some(script) = patch.script {
            Self::check_rule_script(&script)?;
            rule.script = script;
        }
        if let Some(name) = patch.name {
            rule.name = name;
        }
        if let Some(order) = patch.order {
            rule.order = order;
        }
        if let Some(enabled) = patch.enabled {
            rule.enabled = enabled;
        }
        rule.updated_at = self.now();
        Self::check_rule_unique(&all, &rule)?;
        match self.inner.rules.update(self.tenant(), &rule).await {
            Ok(true) => Ok(rule),
            Ok(false) => Err(rule_not_found()),
            Err(gatehouse_store::StoreError::Conflict(_)) => Err(ServiceError::Conflict(
                "A rule with the same name or order already exists".into(),
            )),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn delete_rule(&self, id: &str) -> Result<()> {
        if self.inner.rules.delete(self.tenant(), id).await? {
            Ok(())
        } else {
            Err(rule_not_found())
        }
    }

    /// `PUT /api/v2/rules-configs/{key}`: the value is sealed; the answer repeats it, as
    /// Auth0's does, and it is never readable afterwards.
    pub async fn set_rules_config(&self, key: &str, value: &str) -> Result<()> {
        if !is_config_key(key) {
            return Err(bad_key(key));
        }
        let sealed = self
            .inner
            .secrets
            .seal_text(&config_purpose(key), value)
            .map_err(ServiceError::internal)?;
        Ok(self
            .inner
            .rules
            .put_config(self.tenant(), key, &sealed, self.now())
            .await?)
    }

    /// `GET /api/v2/rules-configs`: the keys only.
    pub async fn rules_config_keys(&self) -> Result<Vec<String>> {
        Ok(self
            .inner
            .rules
            .configs(self.tenant())
            .await?
            .into_iter()
            .map(|(k, _)| k)
            .collect())
    }

    pub async fn delete_rules_config(&self, key: &str) -> Result<()> {
        if !is_config_key(key) {
            return Err(bad_key(key));
        }
        if self.inner.rules.delete_config(self.tenant(), key).await? {
            Ok(())
        } else {
            Err(ServiceError::NotFound {
                code: "inexistent_rules_config",
                message: "The rules-config key does not exist.".into(),
            })
        }
    }

    /// What a login's rules need, read from the database (the cache calls this).
    pub(crate) async fn read_login_rules(&self) -> Result<Arc<LoginRules>> {
        let rules: Vec<StoredRule> = self
            .inner
            .rules
            .list(self.tenant())
            .await?
            .into_iter()
            .filter(|r| r.enabled)
            .collect();
        if rules.is_empty() {
            return Ok(Arc::new(LoginRules::default()));
        }
        Ok(Arc::new(LoginRules {
            rules,
            configuration: self.rules_configuration().await?,
        }))
    }

    /// The rules-config values in clear: the rules' `configuration`.
    pub(super) async fn rules_configuration(&self) -> Result<Map<String, Value>> {
        let mut configuration = Map::new();
        for (key, sealed) in self.inner.rules.configs(self.tenant()).await? {
            let clear = self
                .inner
                .secrets
                .open_text(&config_purpose(&key), &sealed)
                .map_err(ServiceError::internal)?;
            configuration.insert(key, Value::String(clear));
        }
        Ok(configuration)
    }

    /// Auth0's rules `user`: the profile with `app_metadata`'s keys also at the root.
    pub(super) fn rules_user(user_json: &Value) -> Value {
        let mut user = user_json.clone();
        if let (Some(app), Some(root)) = (
            user_json.get("app_metadata").and_then(Value::as_object),
            user.as_object_mut(),
        ) {
            for (k, v) in app {
                root.insert(k.clone(), v.clone());
            }
        }
        user
    }

    /// Auth0's rules `context` for this login (`protocol` is `redirect-callback` when the
    /// rules run again after a rule's redirect).
    fn rules_context(&self, facts: &LoginFacts<'_>, event: &Value, protocol: &str) -> Value {
        let connection = &event["connection"];
        json!({
            "tenant": self.tenant(),
            "clientID": facts.client.client_id,
            "clientName": facts.client.settings.name,
            "clientMetadata": facts.client.settings.client_metadata,
            "connection": connection["name"],
            "connectionID": connection["id"],
            "connectionStrategy": connection["strategy"],
            "connectionOptions": {},
            "connectionMetadata": connection["metadata"],
            "protocol": protocol,
            "stats": { "loginsCount": facts.user.logins_count },
            "sso": { "with_auth0": false, "with_dbconn": false },
            "request": {
                "userAgent": facts.user_agent,
                "ip": facts.ip,
                "hostname": event["request"]["hostname"],
                "query": event["request"]["query"],
                "body": event["request"]["body"],
                "geoip": {},
            },
            "authentication": { "methods": event["authentication"]["methods"] },
            "authorization": { "roles": event["authorization"]["roles"] },
            "sessionID": facts.session_id,
            "idToken": {},
            "accessToken": {},
        })
    }

    /// Runs the enabled rules in order; their claims, scope and metadata updates go into
    /// `changes`. A rule's error stops the login (`UnauthorizedError` → `unauthorized`, any
    /// other → `access_denied`, with the rule's message). Answers the URL of
    /// `context.redirect` when a rule set one (ignored when `resumed`: the rules then run
    /// again as `redirect-callback`, as in Auth0).
    pub(crate) async fn run_rules(
        &self,
        rules: &LoginRules,
        facts: &LoginFacts<'_>,
        event: &Value,
        changes: &mut FlowChanges,
        resumed: bool,
    ) -> std::result::Result<Option<String>, ActionFailure> {
        let mut user = Self::rules_user(&event["user"]);
        let protocol = if resumed {
            "redirect-callback"
        } else {
            facts.protocol
        };
        let mut context = self.rules_context(facts, event, protocol);
        let mut app_updates = Map::new();
        let mut user_updates = Map::new();
        let pool = self.script_pool().await?;
        let meta = json!({"user_id": facts.user.user_id, "domain": self.host()});
        for rule in &rules.rules {
            let run = pool
                .run(ScriptCall {
                    // Each rule keeps its own warm context (and so its own `global`).
                    cache_key: format!("rule/{}/{}", rule.id, rule.updated_at),
                    name: "rule".into(),
                    source: gatehouse_scripts::rule_source(&rule.script),
                    args: vec![user.clone(), context.clone(), meta.clone()],
                    configuration: rules.configuration.clone(),
                    secrets: vec![],
                    keep_warm: true,
                })
                .await;
            changes.ran_rules.push(rule.name.clone());
            match run.outcome {
                Ok(Some(mut answer)) => {
                    // The runtime answers `{user, context, updates}`; a rule reaching the
                    // wrapper's own callback could answer anything, which is its failure.
                    let (Some(next_user), Some(next_context)) = (
                        answer.get_mut("user").map(Value::take),
                        answer.get_mut("context").map(Value::take),
                    ) else {
                        return Err(ActionFailure::Failed {
                            description: format!(
                                "The rule '{}' answered something unreadable.",
                                rule.name
                            ),
                            busy: false,
                        });
                    };
                    user = next_user;
                    context = next_context;
                    for (field, into) in [
                        ("app_metadata", &mut app_updates),
                        ("user_metadata", &mut user_updates),
                    ] {
                        if let Some(Value::Object(set)) =
                            answer.get_mut("updates").and_then(|u| u.get_mut(field))
                        {
                            into.extend(std::mem::take(set));
                        }
                    }
                }
                Ok(None) => {}
                Err(ScriptError::Callback(e)) => {
                    return Err(ActionFailure::Denied(denial_of(
                        e.class == ErrorClass::UnauthorizedError,
                        &e.message,
                    )));
                }
                Err(error) => {
                    return Err(ActionFailure::Failed {
                        description: failure_description("rule", &rule.name, &error),
                        busy: matches!(error, ScriptError::Busy),
                    });
                }
            }
        }
        let redirect = context
            .get("redirect")
            .and_then(|r| r.get("url"))
            .and_then(Value::as_str)
            .filter(|_| !resumed)
            .map(str::to_string);
        let outcome = outcome_of(&context, app_updates, user_updates);
        changes.merge(outcome.commands);
        if outcome.scope.is_some() {
            changes.set_scopes = outcome.scope;
        }
        Ok(redirect)
    }
}
