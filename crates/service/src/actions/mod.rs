//! Actions and rules in one folder: `mod` (the Management API's use cases: actions with sealed
//! secrets, deployment into numbered versions, trigger bindings in run order), `rules` (Auth0's
//! legacy rules and rules-configs, run before a login's actions), `run` (running a trigger's
//! rules and bound actions in the script sandbox inside a flow) and `trial` (test runs of an
//! action's or a rule's code, for the API and the dashboard's editors). The token endpoint and
//! the browser flow call `run`; nothing here knows about either.

pub(crate) mod rules;
pub(crate) mod run;
mod trial;

pub use run::{ActionFailure, LoginFacts};
pub use trial::{ActionTrial, CodeTrial, TrialOutcome, example_event, example_rule_input};

use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::actions::{
    ActionPatch, BindingRef, NewAction, NewBinding, SupportedTrigger, Trigger,
};
use gatehouse_store::{
    ActionDeletion, StoredAction, StoredActionVersion, StoredBinding, StoredSecret,
};
use std::collections::HashMap;

/// A filter of `GET /actions/actions`.
#[derive(Debug, Clone, Default)]
pub struct ActionFilter {
    pub trigger_id: Option<String>,
    pub action_name: Option<String>,
    pub deployed: Option<bool>,
}

/// The purpose an action's secret is sealed for: bound to the action and the secret's
/// name, so a sealed value copied to another action or name does not open.
fn secret_purpose(action_id: &str, name: &str) -> String {
    format!("action-secret/{action_id}/{name}")
}

fn action_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_action",
        message: "The action does not exist.".into(),
    }
}

fn version_not_found() -> ServiceError {
    ServiceError::NotFound {
        code: "inexistent_action_version",
        message: "The action version does not exist.".into(),
    }
}

/// The trigger a path names, or Auth0's 404 for an unknown one.
pub fn trigger_of(id: &str) -> Result<Trigger> {
    Trigger::parse(id).ok_or_else(|| ServiceError::NotFound {
        code: "inexistent_trigger",
        message: format!(
            "The trigger {id} does not exist here; Gatehouse runs {}.",
            Trigger::ALL.map(Trigger::id).join(", ")
        ),
    })
}

/// Auth0 action ids are UUIDs.
fn new_uuid() -> Result<String> {
    let h = gatehouse_crypto::random::hex(16).map_err(ServiceError::internal)?;
    Ok(format!(
        "{}-{}-4{}-a{}-{}",
        &h[0..8],
        &h[8..12],
        &h[13..16],
        &h[17..20],
        &h[20..32]
    ))
}

fn name_taken(name: &str) -> ServiceError {
    ServiceError::Conflict(format!("An action with the name '{name}' already exists."))
}

impl Gatehouse {
    /// Seals each given secret for `action_id`; a secret given without a value keeps the
    /// sealed value of `before`, and one not given is dropped.
    fn seal_secrets(
        &self,
        action_id: &str,
        given: Vec<(String, Option<String>)>,
        before: &[StoredSecret],
    ) -> Result<Vec<StoredSecret>> {
        let now = self.now();
        given
            .into_iter()
            .map(|(name, value)| match value {
                Some(clear) => Ok(StoredSecret {
                    sealed: self
                        .inner
                        .secrets
                        .seal_text(&secret_purpose(action_id, &name), &clear)
                        .map_err(ServiceError::internal)?,
                    name,
                    updated_at: now,
                }),
                None => before
                    .iter()
                    .find(|s| s.name == name)
                    .cloned()
                    .ok_or_else(|| {
                        ServiceError::InvalidBody(
                            gatehouse_core::payload::InvalidBody::on_property(
                                format!("Missing required property: value (secret {name} is new)"),
                                "secrets",
                            ),
                        )
                    }),
            })
            .collect()
    }

    /// The action's secrets in clear, for a run (`event.secrets`).
    fn open_secrets(
        &self,
        action_id: &str,
        secrets: &[StoredSecret],
    ) -> Result<serde_json::Map<String, serde_json::Value>> {
        secrets
            .iter()
            .map(|s| {
                let clear = self
                    .inner
                    .secrets
                    .open_text(&secret_purpose(action_id, &s.name), &s.sealed)
                    .map_err(ServiceError::internal)?;
                Ok((s.name.clone(), serde_json::Value::String(clear)))
            })
            .collect()
    }

    /// Puts the action's secrets in clear into `event.secrets` for a run; answers their
    /// values, which the sandbox masks in the console.
    pub(crate) fn give_secrets(
        &self,
        action_id: &str,
        secrets: &[StoredSecret],
        event: &mut serde_json::Value,
    ) -> Result<Vec<String>> {
        let clear = self.open_secrets(action_id, secrets)?;
        let masks = clear
            .values()
            .filter_map(|v| v.as_str().map(str::to_string))
            .collect();
        event["secrets"] = serde_json::Value::Object(clear);
        Ok(masks)
    }

    /// The code must compile as a module before it is kept (Auth0 builds it at save).
    fn check_action_code(code: &str) -> Result<()> {
        gatehouse_scripts::check_syntax("action", &gatehouse_scripts::action_source(code)).map_err(
            |p| {
                ServiceError::InvalidBody(gatehouse_core::payload::InvalidBody::on_property(
                    match p.line {
                        Some(line) => {
                            format!("The code does not compile: {} (line {line})", p.message)
                        }
                        None => format!("The code does not compile: {}", p.message),
                    },
                    "code",
                ))
            },
        )
    }

    /// `POST /api/v2/actions/actions`.
    pub async fn create_action(&self, new: NewAction) -> Result<StoredAction> {
        Self::check_action_code(&new.code)?;
        let id = new_uuid()?;
        let secrets = self.seal_secrets(
            &id,
            new.secrets
                .into_iter()
                .map(|s| (s.name, Some(s.value)))
                .collect(),
            &[],
        )?;
        let now = self.now();
        let action = StoredAction {
            id,
            name: new.name,
            code: new.code,
            runtime: new.runtime,
            supported_triggers: new.supported_triggers,
            dependencies: new.dependencies,
            secrets,
            deployed_version: None,
            deployed_at: None,
            created_at: now,
            updated_at: now,
        };
        match self.inner.actions.insert(self.tenant(), &action).await {
            Ok(()) => Ok(action),
            Err(gatehouse_store::StoreError::Conflict(_)) => Err(name_taken(&action.name)),
            Err(e) => Err(e.into()),
        }
    }

    pub async fn get_action(&self, id: &str) -> Result<StoredAction> {
        self.inner
            .actions
            .get(self.tenant(), id)
            .await?
            .ok_or_else(action_not_found)
    }

    /// `GET /api/v2/actions/actions`: the page asked for and the number that matched.
    pub async fn list_actions(
        &self,
        filter: &ActionFilter,
        page: i64,
        per_page: i64,
    ) -> Result<(Vec<StoredAction>, i64)> {
        let all = self.inner.actions.list(self.tenant()).await?;
        let matching: Vec<StoredAction> = all
            .into_iter()
            .filter(|a| {
                filter
                    .trigger_id
                    .as_ref()
                    .is_none_or(|t| a.supported_triggers.iter().any(|s| &s.id == t))
                    && filter.action_name.as_ref().is_none_or(|n| &a.name == n)
                    && filter
                        .deployed
                        .is_none_or(|d| a.deployed_version.is_some() == d)
            })
            .collect();
        let total = matching.len() as i64;
        let start = usize::try_from(page.saturating_mul(per_page)).unwrap_or(usize::MAX);
        let items = matching
            .into_iter()
            .skip(start)
            .take(usize::try_from(per_page).unwrap_or(0))
            .collect();
        Ok((items, total))
    }

    /// `PATCH /api/v2/actions/actions/{id}`: changes the draft; the deployed version runs
    /// until the next deployment.
    pub async fn update_action(&self, id: &str, patch: ActionPatch) -> Result<StoredAction> {
        let mut action = self.get_action(id).await?;
        if let Some(code) = patch.code {
            Self::check_action_code(&code)?;
            action.code = code;
        }
        if let Some(name) = patch.name {
            action.name = name;
        }
        if let Some(triggers) = patch.supported_triggers {
            action.supported_triggers = triggers;
        }
        if let Some(runtime) = patch.runtime {
            action.runtime = runtime;
        }
        if let Some(deps) = patch.dependencies {
            action.dependencies = deps;
        }
        if let Some(secrets) = patch.secrets {
            action.secrets = self.seal_secrets(id, secrets, &action.secrets)?;
        }
        action.updated_at = self.now();
        match self.inner.actions.update(self.tenant(), &action).await {
            Ok(true) => Ok(action),
            Ok(false) => Err(action_not_found()),
            Err(gatehouse_store::StoreError::Conflict(_)) => Err(name_taken(&action.name)),
            Err(e) => Err(e.into()),
        }
    }

    /// `DELETE /api/v2/actions/actions/{id}`: a bound action only with `force`, which
    /// removes its bindings too.
    pub async fn delete_action(&self, id: &str, force: bool) -> Result<()> {
        match self.inner.actions.delete(self.tenant(), id, force).await? {
            ActionDeletion::Deleted => Ok(()),
            ActionDeletion::NotFound => Err(action_not_found()),
            ActionDeletion::Bound(triggers) => Err(ServiceError::Conflict(format!(
                "The action is bound to {}; remove its bindings first or delete with force=true.",
                triggers.join(", ")
            ))),
        }
    }

    /// `POST /api/v2/actions/actions/{id}/deploy`: the draft becomes the next version and
    /// runs wherever the action is bound, from the next flow on.
    pub async fn deploy_action(&self, id: &str) -> Result<(StoredActionVersion, StoredAction)> {
        let action = self.get_action(id).await?;
        Self::check_action_code(&action.code)?;
        let version_id = new_uuid()?;
        let version = self
            .inner
            .actions
            .deploy(self.tenant(), id, &version_id, self.now())
            .await?
            .ok_or_else(action_not_found)?;
        let action = self.get_action(id).await?;
        Ok((version, action))
    }

    /// `GET /api/v2/actions/actions/{id}/versions`, newest first.
    pub async fn action_versions(
        &self,
        id: &str,
    ) -> Result<(Vec<StoredActionVersion>, StoredAction)> {
        let action = self.get_action(id).await?;
        let versions = self.inner.actions.versions(self.tenant(), id).await?;
        Ok((versions, action))
    }

    pub async fn action_version(
        &self,
        action_id: &str,
        id: &str,
    ) -> Result<(StoredActionVersion, StoredAction)> {
        let action = self.get_action(action_id).await?;
        let version = self
            .inner
            .actions
            .version(self.tenant(), action_id, id)
            .await?
            .ok_or_else(version_not_found)?;
        Ok((version, action))
    }

    /// `POST /api/v2/actions/actions/{actionId}/versions/{id}/deploy`: an earlier version
    /// runs again.
    pub async fn redeploy_action_version(
        &self,
        action_id: &str,
        id: &str,
    ) -> Result<(StoredActionVersion, StoredAction)> {
        self.get_action(action_id).await?;
        let version = self
            .inner
            .actions
            .redeploy(self.tenant(), action_id, id)
            .await?
            .ok_or_else(version_not_found)?;
        let action = self.get_action(action_id).await?;
        Ok((version, action))
    }

    /// `GET /api/v2/actions/triggers/{trigger}/bindings`, in run order.
    pub async fn trigger_bindings(&self, trigger: Trigger) -> Result<Vec<StoredBinding>> {
        Ok(self
            .inner
            .actions
            .bindings(self.tenant(), trigger.id())
            .await?)
    }

    /// `PATCH /api/v2/actions/triggers/{trigger}/bindings`: the whole list, in run order.
    /// Each action must exist, support the trigger and be deployed.
    pub async fn update_trigger_bindings(
        &self,
        trigger: Trigger,
        bindings: Vec<NewBinding>,
    ) -> Result<Vec<StoredBinding>> {
        let actions = self.inner.actions.list(self.tenant()).await?;
        let by_id: HashMap<&str, &StoredAction> =
            actions.iter().map(|a| (a.id.as_str(), a)).collect();
        let mut rows: Vec<(String, String, String)> = Vec::new();
        for binding in bindings {
            let action = match &binding.action {
                BindingRef::ActionId(id) => by_id.get(id.as_str()).copied(),
                BindingRef::ActionName(name) => actions.iter().find(|a| &a.name == name),
            }
            .ok_or_else(|| ServiceError::BadReference {
                code: "invalid_body",
                message: match &binding.action {
                    BindingRef::ActionId(id) => format!("The action with id {id} does not exist."),
                    BindingRef::ActionName(n) => format!("The action named '{n}' does not exist."),
                },
            })?;
            if !supports(&action.supported_triggers, trigger) {
                return Err(ServiceError::BadReference {
                    code: "invalid_body",
                    message: format!(
                        "The action '{}' does not support the trigger {}.",
                        action.name,
                        trigger.id()
                    ),
                });
            }
            if action.deployed_version.is_none() {
                return Err(ServiceError::BadReference {
                    code: "invalid_body",
                    message: format!(
                        "The action '{}' has not been deployed; deploy it before binding it.",
                        action.name
                    ),
                });
            }
            if rows.iter().any(|(_, a, _)| a == &action.id) {
                return Err(ServiceError::BadReference {
                    code: "invalid_body",
                    message: format!("The action '{}' is bound twice.", action.name),
                });
            }
            rows.push((
                new_uuid()?,
                action.id.clone(),
                binding.display_name.unwrap_or_else(|| action.name.clone()),
            ));
        }
        self.inner
            .actions
            .replace_bindings(self.tenant(), trigger.id(), &rows, self.now())
            .await?;
        self.trigger_bindings(trigger).await
    }
}

fn supports(triggers: &[SupportedTrigger], trigger: Trigger) -> bool {
    triggers.iter().any(|t| t.id == trigger.id())
}
