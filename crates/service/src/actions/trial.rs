//! Test runs of customer code that write nothing: the Management API's run of an action's
//! draft (`POST /actions/actions/{id}/test`), and the dashboard editors' runs of an action's or
//! a rule's code as it is being edited. A dashboard run also reads what the code asked for
//! into the changes a login would get and the tokens it would be issued ([`TokenPreview`]).

use super::run::{failure_description, request_of};
use crate::{Gatehouse, Result};
use gatehouse_core::actions::{
    ActionCommands, FlowChanges, RedirectTo, TokenPreview, TrialBase, Trigger, restricted_claims_in,
};
use gatehouse_core::rules::{denial_of, outcome_of};
use gatehouse_scripts::{ErrorClass, ScriptCall, ScriptError};
use gatehouse_store::StoredAction;
use serde_json::{Map, Value, json};

/// A test run of an action's draft (`POST /actions/actions/{id}/test`).
#[derive(Debug, Clone)]
pub struct ActionTrial {
    /// The commands the run produced, or its error.
    pub result: std::result::Result<Value, String>,
    pub console: Vec<String>,
    pub elapsed_ms: u64,
}

/// A dashboard test run: what the code changed, or why it did not run to the end.
#[derive(Debug, Clone)]
pub struct CodeTrial {
    pub outcome: std::result::Result<TrialOutcome, String>,
    pub console: Vec<String>,
    pub elapsed_ms: u64,
}

/// What a test run asked for, read as a login would read it.
#[derive(Debug, Clone)]
pub struct TrialOutcome {
    /// The changes to the login: claims (restricted ones taken out), scopes, metadata, a
    /// denial, a redirect.
    pub changes: FlowChanges,
    /// Claims the code set that no code may set, left out of the tokens.
    pub dropped: Vec<String>,
    /// The tokens the login would be issued (post-login and credentials exchange only; none
    /// when the login was denied or sent away).
    pub tokens: Option<TokenPreview>,
}

/// A user as the examples show one: Unicode in the name, both metadata documents.
fn example_user() -> Value {
    json!({
        "user_id": "auth0|5f7c8ec7c33c6c004bbafe82",
        "email": "zoe.angstrom@example.com",
        "email_verified": true,
        "name": "Zoë Ångström",
        "given_name": "Zoë",
        "family_name": "Ångström",
        "nickname": "zoe",
        "picture": "https://gravatar.com/avatar/0?d=identicon",
        "created_at": "2026-01-14T09:21:00.000Z",
        "updated_at": "2026-11-30T17:02:11.000Z",
        "identities": [{"provider": "auth0", "user_id": "5f7c8ec7c33c6c004bbafe82", "connection": "Username-Password-Authentication", "isSocial": false}],
        "app_metadata": {"plan": "gold"},
        "user_metadata": {"locale": "sv-SE"},
    })
}

fn example_client() -> Value {
    json!({"client_id": "example-client-id", "name": "My App", "metadata": {}})
}

/// An event to start a test of `trigger` with, shaped as a real run's.
pub fn example_event(trigger: Trigger) -> Value {
    let request = request_of(Some("203.0.113.7"), Some("Mozilla/5.0"), "example.com");
    let connection = json!({"id": "con_example", "name": "Username-Password-Authentication", "strategy": "auth0", "metadata": {}});
    match trigger {
        Trigger::PostLogin => json!({
            "user": example_user(),
            "client": example_client(),
            "connection": connection,
            "request": request,
            "transaction": {
                "protocol": "oidc-basic-profile",
                "requested_scopes": ["openid", "profile", "email"],
                "redirect_uri": "https://app.example.com/callback",
                "state": "af0ifjsldkj",
                "response_type": ["code"],
                "prompt": [],
                "acr_values": [],
                "ui_locales": [],
                "metadata": {},
            },
            "authorization": {"roles": ["editor"]},
            "stats": {"logins_count": 2},
            "authentication": {"methods": [{"name": "pwd", "timestamp": "2026-12-01T08:00:00.000Z"}]},
            "resource_server": {"identifier": "https://api.example.com"},
            "tenant": {"id": "example"},
        }),
        Trigger::CredentialsExchange => json!({
            "client": example_client(),
            "resource_server": {"identifier": "https://api.example.com"},
            "request": request,
            "transaction": {"requested_scopes": ["read:reports"]},
            "tenant": {"id": "example"},
        }),
        Trigger::PreUserRegistration
        | Trigger::PostUserRegistration
        | Trigger::PostChangePassword => json!({
            "user": example_user(),
            "client": example_client(),
            "connection": connection,
            "request": request,
            "transaction": {},
            "tenant": {"id": "example"},
        }),
    }
}

/// The `user` and `context` a rule's test starts with.
pub fn example_rule_input() -> (Value, Value) {
    let user = example_user();
    let context = json!({
        "tenant": "example",
        "clientID": "example-client-id",
        "clientName": "My App",
        "clientMetadata": {},
        "connection": "Username-Password-Authentication",
        "connectionStrategy": "auth0",
        "protocol": "oidc-basic-profile",
        "stats": {"loginsCount": 2},
        "request": {
            "userAgent": "Mozilla/5.0",
            "ip": "203.0.113.7",
            "hostname": "example.com",
            "query": {"scope": "openid profile email", "audience": "https://api.example.com"},
            "body": {},
            "geoip": {},
        },
        "authorization": {"roles": ["editor"]},
        "idToken": {},
        "accessToken": {},
    });
    (user, context)
}

/// Whether the source compiles; the reason (with its line) when it does not.
fn compile_problem(kind: &str, source: &str) -> Option<String> {
    gatehouse_scripts::check_syntax(kind, source)
        .err()
        .map(|p| match p.line {
            Some(line) => format!("The code does not compile: {} (line {line})", p.message),
            None => format!("The code does not compile: {}", p.message),
        })
}

impl Gatehouse {
    /// The trial base's server-side parts (issuer, the Management API's audience).
    fn on_this_server(&self, mut base: TrialBase) -> TrialBase {
        base.issuer = self.config().issuer();
        base.management_audience = self.config().management_audience();
        base
    }

    /// Runs `code` as `action`'s, with its saved secrets (masked in the console), for the
    /// first trigger it supports.
    async fn run_action_code(
        &self,
        action: &StoredAction,
        code: &str,
        mut event: Value,
    ) -> Result<(Trigger, ActionTrial)> {
        let trigger = action
            .supported_triggers
            .iter()
            .find_map(|t| Trigger::parse(&t.id))
            .unwrap_or(Trigger::PostLogin);
        let masks = self.give_secrets(&action.id, &action.secrets, &mut event)?;
        let pool = self.script_pool().await?;
        let run = pool
            .run(ScriptCall {
                cache_key: format!("action-test/{}", action.id),
                name: "action".into(),
                source: gatehouse_scripts::action_source(code),
                args: vec![
                    event,
                    json!({"trigger": trigger.id(), "handler": trigger.handler()}),
                ],
                configuration: Map::new(),
                secrets: masks,
                keep_warm: false,
            })
            .await;
        Ok((
            trigger,
            ActionTrial {
                result: match run.outcome {
                    Ok(v) => Ok(v.unwrap_or(Value::Null)),
                    Err(e) => Err(failure_description("action", &action.name, &e)),
                },
                console: run.console,
                elapsed_ms: run.elapsed_ms,
            },
        ))
    }

    /// `POST /api/v2/actions/actions/{id}/test`: runs the draft with the given event (its
    /// first supported trigger's handler; the action's own secrets in `event.secrets`);
    /// nothing is written, whatever the commands say.
    pub async fn test_action(&self, id: &str, event: Map<String, Value>) -> Result<ActionTrial> {
        let action = self.get_action(id).await?;
        let (_, trial) = self
            .run_action_code(&action, &action.code, Value::Object(event))
            .await?;
        Ok(trial)
    }

    /// The dashboard's Test: runs `code` (as edited, unsaved) as the action's, with `event`,
    /// and reads its commands into the changes and tokens a login would get.
    pub async fn try_action_code(&self, id: &str, code: &str, event: Value) -> Result<CodeTrial> {
        let action = self.get_action(id).await?;
        if let Some(why) = compile_problem("action", &gatehouse_scripts::action_source(code)) {
            return Ok(CodeTrial {
                outcome: Err(why),
                console: vec![],
                elapsed_ms: 0,
            });
        }
        let base = TrialBase::of_event(&event, true);
        let (trigger, trial) = self.run_action_code(&action, code, event).await?;
        let outcome = trial.result.and_then(|value| {
            let commands: ActionCommands = if value.is_null() {
                ActionCommands::default()
            } else {
                serde_json::from_value(value)
                    .map_err(|e| format!("The action answered something unreadable: {e}"))?
            };
            let dropped = restricted_claims_in(&commands);
            let mut changes = FlowChanges::default();
            changes.merge(commands);
            let issues_tokens =
                matches!(trigger, Trigger::PostLogin | Trigger::CredentialsExchange);
            let base = TrialBase {
                user: base.user.filter(|_| trigger == Trigger::PostLogin),
                ..base
            };
            let tokens = (issues_tokens && changes.denied.is_none() && changes.redirect.is_none())
                .then(|| TokenPreview::of(&self.on_this_server(base), &changes));
            Ok(TrialOutcome {
                changes,
                dropped,
                tokens,
            })
        });
        Ok(CodeTrial {
            outcome,
            console: trial.console,
            elapsed_ms: trial.elapsed_ms,
        })
    }

    /// The dashboard's Try of a rule: runs `script` (as edited, unsaved) with `user` and
    /// `context` and the saved rules-config values (masked in the console), and reads what
    /// it left in `context` (claims, scope, redirect) and asked `auth0` to write, or the error
    /// it called back with, as the login would.
    pub async fn try_rule_script(
        &self,
        name: &str,
        script: &str,
        user: Value,
        context: Value,
    ) -> Result<CodeTrial> {
        if let Some(why) = compile_problem("rule", script) {
            return Ok(CodeTrial {
                outcome: Err(why),
                console: vec![],
                elapsed_ms: 0,
            });
        }
        let configuration = self.rules_configuration().await?;
        let masks: Vec<String> = configuration
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        let base = TrialBase::of_rule(&user, &context);
        let meta = json!({"user_id": user["user_id"], "domain": self.host()});
        let pool = self.script_pool().await?;
        let run = pool
            .run(ScriptCall {
                cache_key: "rule-trial".into(),
                name: "rule".into(),
                source: gatehouse_scripts::rule_source(script),
                args: vec![user, context, meta],
                configuration,
                secrets: masks,
                keep_warm: false,
            })
            .await;
        let mut changes = FlowChanges::default();
        let outcome = match run.outcome {
            Ok(Some(answer)) => match (answer.get("user"), answer.get("context")) {
                (Some(_), Some(context)) => {
                    let updates = |field: &str| {
                        answer["updates"][field]
                            .as_object()
                            .cloned()
                            .unwrap_or_default()
                    };
                    let rules =
                        outcome_of(context, updates("app_metadata"), updates("user_metadata"));
                    let dropped = restricted_claims_in(&rules.commands);
                    changes.merge(rules.commands);
                    changes.set_scopes = rules.scope;
                    changes.redirect = context["redirect"]["url"].as_str().map(|url| RedirectTo {
                        url: url.to_string(),
                        query: Map::new(),
                    });
                    let tokens = changes
                        .redirect
                        .is_none()
                        .then(|| TokenPreview::of(&self.on_this_server(base), &changes));
                    Ok(TrialOutcome {
                        changes,
                        dropped,
                        tokens,
                    })
                }
                _ => Err(format!("The rule '{name}' answered something unreadable.")),
            },
            // Finished without calling back into the wrapper: nothing changed.
            Ok(None) => Ok(TrialOutcome {
                tokens: Some(TokenPreview::of(&self.on_this_server(base), &changes)),
                changes,
                dropped: vec![],
            }),
            Err(ScriptError::Callback(e)) => {
                changes.denied = Some(denial_of(
                    e.class == ErrorClass::UnauthorizedError,
                    &e.message,
                ));
                Ok(TrialOutcome {
                    changes,
                    dropped: vec![],
                    tokens: None,
                })
            }
            Err(e) => Err(failure_description("rule", name, &e)),
        };
        Ok(CodeTrial {
            outcome,
            console: run.console,
            elapsed_ms: run.elapsed_ms,
        })
    }
}
