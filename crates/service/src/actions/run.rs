//! Running a trigger's bound actions inside a flow: the `event` Auth0 defines for the trigger,
//! each action's deployed version in binding order in the sandbox (its own secrets in
//! `event.secrets`, its own `api.cache`), the commands merged (`FlowChanges`), metadata written
//! once at the end, and a failure or denial recorded in the tenant log with the action's name.
//! Also the Management API's test run of an action's draft.

use super::rules::LoginRules;
use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::actions::{
    ActionCommands, Denial, EXCHANGE_DENY_CODES, FlowChanges, RedirectTo, Trigger,
};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_core::metadata::{MetadataKind, MetadataPatch};
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{NewUser, User, UserPatch};
use gatehouse_scripts::{ScriptCall, ScriptError};
use gatehouse_store::{BoundAction, StoredClient, StoredResourceServer};
use serde_json::{Map, Value, json};

/// What a post-login run knows about the login.
#[derive(Debug, Clone)]
pub struct LoginFacts<'a> {
    pub user: &'a User,
    pub client: &'a StoredClient,
    /// `event.transaction.protocol`: `oidc-basic-profile`, `oauth2-password`,
    /// `oauth2-resource-owner`, `oauth2-refresh-token`, …
    pub protocol: &'static str,
    pub scope: Option<&'a str>,
    pub audience: Option<&'a str>,
    pub ip: Option<&'a str>,
    pub user_agent: Option<&'a str>,
    pub session_id: Option<&'a str>,
    pub redirect_uri: Option<&'a str>,
    pub state: Option<&'a str>,
    pub response_type: Option<&'a str>,
    /// Whether an action may send the user away (`api.redirect`): browser logins only.
    pub can_redirect: bool,
    /// The `state` the browser will bring back to `/continue` if an action redirects (the
    /// tokens `api.redirect.encodeToken` makes are bound to it).
    pub continue_state: Option<&'a str>,
    /// What `/continue` brought (`event.request.query` and `.body`), when resuming.
    pub continue_request: Option<&'a Value>,
}

/// Why a flow's actions stopped it.
#[derive(Debug, thiserror::Error)]
pub enum ActionFailure {
    /// An action called `api.access.deny`.
    #[error("{}: {}", .0.code, .0.reason)]
    Denied(Denial),
    /// An action threw, rejected, ran out of time or memory, or never finished; the
    /// description names it and says why, for the application and the tenant log.
    #[error("{description}")]
    Failed {
        description: String,
        /// Every sandbox thread was busy: a retry may succeed.
        busy: bool,
    },
    /// A failure of ours (the database, the sealed secrets).
    #[error(transparent)]
    Service(#[from] ServiceError),
}

impl From<gatehouse_store::StoreError> for ActionFailure {
    fn from(e: gatehouse_store::StoreError) -> Self {
        ActionFailure::Service(e.into())
    }
}

/// What the sandbox's failure means for the flow, in words that name the action (or rule).
pub(crate) fn failure_description(kind: &str, action: &str, error: &ScriptError) -> String {
    match error {
        ScriptError::Callback(e) => format!("The {kind} '{action}' failed: {}", e.message),
        ScriptError::Threw(t) => format!("The {kind} '{action}' failed: {t}"),
        ScriptError::TimedOut(ms) => {
            format!("The {kind} '{action}' did not finish within {ms} ms.")
        }
        ScriptError::OutOfMemory(_) => format!("The {kind} '{action}' ran out of memory."),
        ScriptError::NoCallback => {
            format!("The {kind} '{action}' never finished: its handler's promise did not settle.")
        }
        ScriptError::Invalid(t) => format!("The {kind} '{action}' does not compile: {t}"),
        ScriptError::Busy => {
            format!("Too many {kind}s are waiting to run; try again in a moment.")
        }
        ScriptError::Sandbox(_) => format!("The {kind} '{action}' could not be run."),
    }
}

/// One value for every run of a flow, as Auth0 names them.
pub(super) fn request_of(ip: Option<&str>, user_agent: Option<&str>, hostname: &str) -> Value {
    json!({
        "ip": ip,
        "user_agent": user_agent,
        "hostname": hostname,
        "method": "POST",
        "query": {},
        "body": {},
        "geoip": {},
        "language": Value::Null,
    })
}

/// What a login redirected by a rule resumes after (action ids are UUIDs, never this).
const AFTER_RULES: &str = "rules";

/// `event.user` with metadata changes applied (`null` removes a key).
fn see_metadata(event: &mut Value, app: &Map<String, Value>, user: &Map<String, Value>) {
    for (field, set) in [("app_metadata", app), ("user_metadata", user)] {
        if let Some(Value::Object(doc)) = event["user"].get_mut(field) {
            for (k, v) in set {
                if v.is_null() {
                    doc.remove(k);
                } else {
                    doc.insert(k.clone(), v.clone());
                }
            }
        }
    }
}

impl Gatehouse {
    pub(super) fn host(&self) -> String {
        self.config()
            .issuer()
            .trim_end_matches('/')
            .trim_start_matches("https://")
            .trim_start_matches("http://")
            .to_string()
    }

    /// Runs one action's deployed version with `event`; its commands, or why it failed.
    pub(super) async fn run_bound(
        &self,
        bound: &BoundAction,
        trigger: Trigger,
        handler: &str,
        event: &mut Value,
        meta: &Value,
    ) -> std::result::Result<ActionCommands, ActionFailure> {
        let masks = self.give_secrets(&bound.action_id, &bound.version.secrets, event)?;
        let pool = self.script_pool().await?;
        let run = pool
            .run(ScriptCall {
                cache_key: format!("action/{}/{}", bound.action_id, bound.version.id),
                name: "action".into(),
                source: gatehouse_scripts::action_source(&bound.version.code),
                args: vec![event.clone(), {
                    let mut meta = meta.clone();
                    meta["trigger"] = json!(trigger.id());
                    meta["handler"] = json!(handler);
                    meta
                }],
                configuration: Map::new(),
                secrets: masks,
                keep_warm: true,
            })
            .await;
        event["secrets"] = json!({});
        tracing::debug!(
            action = %bound.action_name,
            trigger = trigger.id(),
            elapsed_ms = run.elapsed_ms,
            "action ran"
        );
        match run.outcome {
            Ok(Some(value)) => serde_json::from_value(value).map_err(|e| ActionFailure::Failed {
                description: format!(
                    "The action '{}' answered something unreadable: {e}",
                    bound.action_name
                ),
                busy: false,
            }),
            Ok(None) => Ok(ActionCommands::default()),
            Err(error) => Err(ActionFailure::Failed {
                description: failure_description("action", &bound.action_name, &error),
                busy: matches!(error, ScriptError::Busy),
            }),
        }
    }

    /// Records why a flow's actions stopped it, naming the action (`f`, Auth0's failed login).
    async fn record_action_stop(&self, mut event: LogEvent, failure: &ActionFailure) {
        let description = match failure {
            ActionFailure::Denied(d) => d.reason.clone(),
            ActionFailure::Failed { description, .. } => description.clone(),
            ActionFailure::Service(_) => return,
        };
        event.kind = codes::FAILED_LOGIN.into();
        event.description = Some(description);
        self.record(event).await;
    }

    /// Runs the post-login actions of a login that has proved its user: their changes to the
    /// tokens, with the metadata they set already written (once, after the last action, even
    /// when one denied the login, as Auth0 keeps them). Nothing bound: nothing read but the
    /// cached (empty) binding list.
    pub(crate) async fn run_post_login(
        &self,
        facts: &LoginFacts<'_>,
    ) -> std::result::Result<FlowChanges, ActionFailure> {
        self.post_login(facts, None).await
    }

    /// Goes on with a login an action sent away, back from `/continue`: that action's
    /// `onContinuePostLogin`, then the actions bound after it (rules do not run again).
    pub(crate) async fn resume_post_login(
        &self,
        facts: &LoginFacts<'_>,
        so_far: FlowChanges,
    ) -> std::result::Result<FlowChanges, ActionFailure> {
        self.post_login(facts, Some(so_far)).await
    }

    async fn post_login(
        &self,
        facts: &LoginFacts<'_>,
        so_far: Option<FlowChanges>,
    ) -> std::result::Result<FlowChanges, ActionFailure> {
        let bound = self.cached_bindings_of(Trigger::PostLogin).await?;
        let rules = self.cached_login_rules().await?;
        if bound.is_empty() && rules.rules.is_empty() && so_far.is_none() {
            return Ok(FlowChanges::default());
        }
        let mut log = LogEvent {
            client_id: Some(facts.client.client_id.clone()),
            user_id: Some(facts.user.user_id.clone()),
            connection: Some(facts.user.connection.clone()),
            ip: facts.ip.map(str::to_string),
            user_agent: facts.user_agent.map(str::to_string),
            ..Default::default()
        };
        let result = self.post_login_actions(facts, &rules, &bound, so_far).await;
        let changes = match result {
            Ok(changes) => changes,
            Err(failure) => {
                log.details.insert("trigger".into(), json!("post-login"));
                self.record_action_stop(log, &failure).await;
                return Err(failure);
            }
        };
        if let Some(denial) = &changes.denied {
            log.details.insert("trigger".into(), json!("post-login"));
            let failure = ActionFailure::Denied(denial.clone());
            self.record_action_stop(log, &failure).await;
            return Err(failure);
        }
        Ok(changes)
    }

    async fn post_login_actions(
        &self,
        facts: &LoginFacts<'_>,
        rules: &LoginRules,
        bound: &[BoundAction],
        so_far: Option<FlowChanges>,
    ) -> std::result::Result<FlowChanges, ActionFailure> {
        let mut event = self.post_login_event(facts).await?;
        let meta = json!({
            "can_redirect": facts.can_redirect,
            "state": facts.continue_state,
            // The state the browser came back to /continue with: what tokens from the
            // external page must carry.
            "resumed_state": facts.continue_request.map(|r| r["state"].clone()),
            "domain": self.host(),
        });
        // Resuming: from the action that redirected, whose continuation handler runs first;
        // or, after a rule's redirect, every rule again (`redirect-callback`), then the
        // actions from the first.
        let (mut changes, mut resume_at) = match so_far {
            Some(mut changes) => {
                let after = changes.resume_after.take().unwrap_or_default();
                see_metadata(&mut event, &changes.app_metadata, &changes.user_metadata);
                if let (Some(request), Some(r)) = (facts.continue_request, event.get_mut("request"))
                {
                    r["query"] = request["query"].clone();
                    r["body"] = request["body"].clone();
                    r["method"] = request["method"].clone();
                }
                if after == AFTER_RULES {
                    self.run_rules(rules, facts, &event, &mut changes, true)
                        .await?;
                    see_metadata(&mut event, &changes.app_metadata, &changes.user_metadata);
                    (changes, None)
                } else {
                    let at = bound.iter().position(|a| a.action_id == after).ok_or_else(|| {
                        ActionFailure::Failed {
                            description: "The action that redirected this login is no longer bound; sign in again.".into(),
                            busy: false,
                        }
                    })?;
                    (changes, Some(at))
                }
            }
            None => {
                let mut changes = FlowChanges::default();
                // Rules run first, as in Auth0 tenants that have both; actions see their
                // metadata. A rule's `context.redirect` sends the user away after the last
                // rule (ignored where the login cannot redirect, as for the password grant).
                if !rules.rules.is_empty() {
                    let redirect = self
                        .run_rules(rules, facts, &event, &mut changes, false)
                        .await?;
                    if let Some(url) = redirect.filter(|_| facts.can_redirect) {
                        changes.redirect = Some(RedirectTo {
                            url,
                            query: Map::new(),
                        });
                        changes.resume_after = Some(AFTER_RULES.into());
                        return Ok(changes);
                    }
                    see_metadata(&mut event, &changes.app_metadata, &changes.user_metadata);
                }
                (changes, None)
            }
        };
        let start = resume_at.unwrap_or(0);
        for action in bound.iter().skip(start) {
            let handler = match resume_at.take() {
                Some(_) => "onContinuePostLogin",
                None => Trigger::PostLogin.handler(),
            };
            let commands = self
                .run_bound(action, Trigger::PostLogin, handler, &mut event, &meta)
                .await?;
            changes.ran_actions.push(action.action_name.clone());
            // Later actions see the metadata earlier ones set.
            see_metadata(&mut event, &commands.app_metadata, &commands.user_metadata);
            changes.merge(commands);
            if changes.denied.is_some() {
                break;
            }
            if changes.redirect.is_some() {
                // The login waits for /continue; metadata is written when it ends.
                changes.resume_after = Some(action.action_id.clone());
                return Ok(changes);
            }
        }
        if self.switches_primary(facts.user, &changes).await? {
            // Auth0: metadata set for the identity that logged in is lost when the login
            // moves to its primary user.
            changes.app_metadata.clear();
            changes.user_metadata.clear();
        }
        self.write_action_metadata(facts.user, &mut changes).await?;
        Ok(changes)
    }

    /// Whether `api.authentication.setPrimaryUser` moves this login to another user: only to
    /// the user the logged-in identity is now linked to (an action links it, through the
    /// Management API, before naming the primary); anything else fails the login.
    async fn switches_primary(
        &self,
        user: &User,
        changes: &FlowChanges,
    ) -> std::result::Result<bool, ActionFailure> {
        let Some(primary) = changes
            .primary_user
            .as_deref()
            .filter(|p| *p != user.user_id)
        else {
            return Ok(false);
        };
        let linked = self
            .inner
            .users
            .get(self.tenant(), &user.user_id)
            .await?
            .and_then(|v| v.linked_to);
        if linked.as_deref() == Some(primary) {
            Ok(true)
        } else {
            Err(ActionFailure::Failed {
                description: format!(
                    "setPrimaryUser: the identity that logged in ({}) is not linked to {primary}",
                    user.user_id
                ),
                busy: false,
            })
        }
    }

    /// The user a login's tokens are for once its actions ran: the primary user an action
    /// named with `setPrimaryUser` (checked to be the one the identity is linked to), else
    /// the user who logged in.
    pub(crate) async fn user_after_actions(
        &self,
        user: User,
        changes: &FlowChanges,
    ) -> std::result::Result<User, ActionFailure> {
        let Some(primary) = changes
            .primary_user
            .as_deref()
            .filter(|p| *p != user.user_id)
        else {
            return Ok(user);
        };
        self.inner
            .users
            .get(self.tenant(), primary)
            .await?
            .filter(|v| v.linked_to.is_none())
            .map(|v| v.user)
            .ok_or_else(|| ActionFailure::Failed {
                description: format!("setPrimaryUser: the user {primary} does not exist"),
                busy: false,
            })
    }

    /// Writes the metadata the actions set, in one update; a value the metadata rules refuse
    /// (a key with `.` or `$`, a reserved key) fails the login with the rule's words.
    async fn write_action_metadata(
        &self,
        user: &User,
        changes: &mut FlowChanges,
    ) -> std::result::Result<(), ActionFailure> {
        if changes.app_metadata.is_empty() && changes.user_metadata.is_empty() {
            return Ok(());
        }
        let mut body = Map::new();
        if !changes.app_metadata.is_empty() {
            body.insert(
                "app_metadata".into(),
                Value::Object(std::mem::take(&mut changes.app_metadata)),
            );
        }
        if !changes.user_metadata.is_empty() {
            body.insert(
                "user_metadata".into(),
                Value::Object(std::mem::take(&mut changes.user_metadata)),
            );
        }
        let refused = |message: String| ActionFailure::Failed {
            description: format!("The metadata set by the login's actions was refused: {message}"),
            busy: false,
        };
        let patch = Payload::from_value(Value::Object(body))
            .and_then(UserPatch::from_payload)
            .map_err(|e| refused(e.message))?;
        match self.update_user(&user.user_id, patch).await {
            Ok(_) => Ok(()),
            Err(ServiceError::InvalidBody(e)) => Err(refused(e.message)),
            Err(e) => Err(e.into()),
        }
    }

    /// Auth0's post-login `event` (secrets are added per action).
    async fn post_login_event(&self, facts: &LoginFacts<'_>) -> Result<Value> {
        let user = facts.user;
        let connection = self.cached_connection(&user.connection).await?;
        let roles: Vec<String> = self
            .inner
            .authorization
            .effective_access(
                self.tenant(),
                &user.user_id,
                &user.connection,
                &crate::authorization::idp_groups(user),
                None,
            )
            .await?
            .roles
            .into_iter()
            .map(|r| r.name)
            .collect();
        let requested: Vec<&str> = facts.scope.unwrap_or("").split_whitespace().collect();
        let now = gatehouse_core::time::iso8601(self.now());
        let method = if facts.protocol == "oauth2-refresh-token" {
            "refresh_token"
        } else {
            "pwd"
        };
        // Auth0 always gives both metadata documents, empty or not.
        let mut user_json = user.to_json();
        if let Some(root) = user_json.as_object_mut() {
            for field in ["user_metadata", "app_metadata"] {
                root.entry(field).or_insert_with(|| json!({}));
            }
        }
        Ok(json!({
            "user": user_json,
            "client": {
                "client_id": facts.client.client_id,
                "name": facts.client.settings.name,
                "metadata": facts.client.settings.client_metadata,
            },
            "connection": connection.as_ref().map(|c| json!({
                "id": c.id,
                "name": c.settings.name,
                "strategy": c.settings.strategy,
                "metadata": c.settings.metadata,
            })),
            "request": request_of(facts.ip, facts.user_agent, &self.host()),
            "transaction": {
                "protocol": facts.protocol,
                "requested_scopes": requested,
                "redirect_uri": facts.redirect_uri,
                "state": facts.state,
                "response_type": facts.response_type.map(|r| r.split_whitespace().collect::<Vec<_>>()),
                "prompt": [],
                "acr_values": [],
                "ui_locales": [],
                "metadata": {},
            },
            "authorization": { "roles": roles },
            "stats": { "logins_count": user.logins_count },
            "authentication": { "methods": [{ "name": method, "timestamp": now }] },
            "resource_server": facts.audience.map(|a| json!({ "identifier": a })),
            "session": facts.session_id.map(|s| json!({ "id": s })),
            "tenant": { "id": self.tenant() },
            "secrets": {},
        }))
    }

    /// Runs the credentials-exchange actions of a client-credentials grant: their claims for
    /// the access token, or the error one of them chose.
    pub(crate) async fn run_credentials_exchange(
        &self,
        client: &StoredClient,
        api: &StoredResourceServer,
        scope: &str,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> std::result::Result<FlowChanges, ActionFailure> {
        let bound = self
            .cached_bindings_of(Trigger::CredentialsExchange)
            .await?;
        if bound.is_empty() {
            return Ok(FlowChanges::default());
        }
        let mut event = json!({
            "client": {
                "client_id": client.client_id,
                "name": client.settings.name,
                "metadata": client.settings.client_metadata,
            },
            "resource_server": { "identifier": api.settings.identifier },
            "request": request_of(ip, user_agent, &self.host()),
            "transaction": { "requested_scopes": scope.split_whitespace().collect::<Vec<_>>() },
            "accessToken": { "scope": scope.split_whitespace().collect::<Vec<_>>() },
            "tenant": { "id": self.tenant() },
            "secrets": {},
        });
        // The grant's failed-exchange event carries the description, which names the action.
        let mut changes = FlowChanges::default();
        for action in bound.iter() {
            let commands = self
                .run_bound(
                    action,
                    Trigger::CredentialsExchange,
                    Trigger::CredentialsExchange.handler(),
                    &mut event,
                    &json!({}),
                )
                .await?;
            changes.merge(commands);
            if let Some(mut denial) = changes.denied.take() {
                if !EXCHANGE_DENY_CODES.contains(&denial.code.as_str()) {
                    denial.code = "access_denied".into();
                }
                return Err(ActionFailure::Denied(denial));
            }
        }
        Ok(changes)
    }
}

/// What a refused or failed pre-registration run means for the sign-up: Auth0's
/// `extensibility_error`, the user told the action's message (or a sentence without the
/// cause), the tenant log the whole reason.
fn registration_refusal(failure: ActionFailure) -> ServiceError {
    match failure {
        ActionFailure::Denied(d) => ServiceError::Script {
            code: "extensibility_error",
            public: d.user_message.clone().unwrap_or_else(|| d.reason.clone()),
            message: format!(
                "A pre-user-registration action denied the sign-up: {}",
                d.reason
            ),
        },
        ActionFailure::Failed {
            busy: true,
            description,
        } => ServiceError::TooManyRequests(description),
        ActionFailure::Failed { description, .. } => ServiceError::Script {
            code: "extensibility_error",
            public: "The sign-up could not be completed; try again later.".into(),
            message: description,
        },
        ActionFailure::Service(e) => e,
    }
}

impl Gatehouse {
    /// The `event.user` of the registration triggers, from the sign-up's fields.
    fn registration_user(new: &NewUser) -> Value {
        let doc = |p: &Option<MetadataPatch>| {
            Value::Object(p.as_ref().map(|p| p.changes().clone()).unwrap_or_default())
        };
        json!({
            "email": new.email,
            "username": new.username,
            "phone_number": new.phone_number,
            "name": new.name,
            "given_name": new.given_name,
            "family_name": new.family_name,
            "nickname": new.nickname,
            "picture": new.picture,
            "user_metadata": doc(&new.user_metadata),
            "app_metadata": doc(&new.app_metadata),
        })
    }

    /// Runs the pre-user-registration actions of a public sign-up: a denial refuses it with
    /// the action's message for the user; metadata they set goes into the new user.
    pub(crate) async fn run_pre_user_registration(
        &self,
        new: &mut NewUser,
        client_id: Option<&str>,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) -> Result<()> {
        let bound = self
            .cached_bindings_of(Trigger::PreUserRegistration)
            .await?;
        if bound.is_empty() {
            return Ok(());
        }
        let client = match client_id {
            Some(id) => self.cached_client(id).await?,
            None => None,
        };
        let connection = self.cached_connection(&new.connection).await?;
        let mut event = json!({
            "user": Self::registration_user(new),
            "client": client.as_ref().map(|c| json!({
                "client_id": c.client_id, "name": c.settings.name, "metadata": c.settings.client_metadata,
            })),
            "connection": connection.as_ref().map(|c| json!({
                "id": c.id, "name": c.settings.name, "strategy": c.settings.strategy, "metadata": c.settings.metadata,
            })),
            "request": request_of(ip, user_agent, &self.host()),
            "transaction": {},
            "tenant": { "id": self.tenant() },
            "secrets": {},
        });
        let mut changes = FlowChanges::default();
        for action in bound.iter() {
            let trigger = Trigger::PreUserRegistration;
            let commands = self
                .run_bound(action, trigger, trigger.handler(), &mut event, &json!({}))
                .await
                .map_err(registration_refusal)?;
            see_metadata(&mut event, &commands.app_metadata, &commands.user_metadata);
            changes.merge(commands);
            if let Some(denial) = changes.denied.take() {
                return Err(registration_refusal(ActionFailure::Denied(denial)));
            }
        }
        for (kind, set, target) in [
            (
                MetadataKind::User,
                &changes.user_metadata,
                &mut new.user_metadata,
            ),
            (
                MetadataKind::App,
                &changes.app_metadata,
                &mut new.app_metadata,
            ),
        ] {
            if set.is_empty() {
                continue;
            }
            let mut doc = target
                .as_ref()
                .map(|p| p.changes().clone())
                .unwrap_or_default();
            for (k, v) in set {
                if v.is_null() {
                    doc.remove(k);
                } else {
                    doc.insert(k.clone(), v.clone());
                }
            }
            *target = Some(MetadataPatch::parse(kind, doc).map_err(|e| {
                registration_refusal(ActionFailure::Failed {
                    description: format!(
                        "The metadata set by the pre-user-registration actions was refused: {}",
                        e.message
                    ),
                    busy: false,
                })
            })?);
        }
        Ok(())
    }

    /// Runs a notification trigger (`post-user-registration`, `post-change-password`) for
    /// `user`: the event already happened, so a failing action is logged and changes nothing.
    pub(crate) async fn run_notification(
        &self,
        trigger: Trigger,
        user: &User,
        ip: Option<&str>,
        user_agent: Option<&str>,
    ) {
        let bound = match self.cached_bindings_of(trigger).await {
            Ok(b) if !b.is_empty() => b,
            Ok(_) => return,
            Err(e) => {
                tracing::warn!(trigger = trigger.id(), error = %e, "the actions could not be read");
                return;
            }
        };
        let connection = self
            .cached_connection(&user.connection)
            .await
            .ok()
            .flatten();
        let mut event = json!({
            "user": user.to_json(),
            "connection": connection.as_ref().map(|c| json!({
                "id": c.id, "name": c.settings.name, "strategy": c.settings.strategy, "metadata": c.settings.metadata,
            })),
            "request": request_of(ip, user_agent, &self.host()),
            "tenant": { "id": self.tenant() },
            "secrets": {},
        });
        for action in bound.iter() {
            if let Err(failure) = self
                .run_bound(action, trigger, trigger.handler(), &mut event, &json!({}))
                .await
            {
                tracing::warn!(trigger = trigger.id(), error = %failure, "an action failed");
                let mut log = LogEvent {
                    user_id: Some(user.user_id.clone()),
                    connection: Some(user.connection.clone()),
                    ip: ip.map(str::to_string),
                    user_agent: user_agent.map(str::to_string),
                    ..Default::default()
                };
                log.details.insert("trigger".into(), json!(trigger.id()));
                self.record_action_stop(log, &failure).await;
            }
        }
    }
}
