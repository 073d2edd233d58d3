//! Dashboard actions: the list with each trigger's bound actions in run order, an action's
//! editor (code with its gutter, secrets whose values are never shown again, save, deploy,
//! versions to roll back to, a Test run of the code as edited that shows what it changes and
//! the tokens a login would get) and a trigger's page, where its bindings are ordered.
//!
//! Every change goes through the same service calls as `/api/v2/actions`; the Test writes
//! nothing. The editor is one form; Test posts it to `/test` (`formaction`), so the code as
//! edited is run without saving it.

use super::code::{self, json_object, source_text};
use super::format::{seg, time};
use super::frame::Nav;
use super::{Dashboard, api_body, param, refusal_in_words, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{Markup, button_form, check, csrf_input, error_box, html, notice, table};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::actions::{ActionPatch, BindingRef, NewAction, NewBinding, Trigger};
use gatehouse_service::Gatehouse;
use gatehouse_service::actions::{ActionFilter, CodeTrial, example_event};
use gatehouse_store::{StoredAction, StoredBinding};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/actions", get(list_page).post(create))
        .route(
            "/admin/actions/triggers/{trigger}",
            get(trigger_page).post(rebind),
        )
        .route("/admin/actions/{id}", get(editor_page).post(save))
        .route("/admin/actions/{id}/test", post(test))
        .route("/admin/actions/{id}/delete", post(delete))
        .route(
            "/admin/actions/{id}/versions/{version}/deploy",
            post(roll_back),
        )
}

const NEW_SECRET_NAME: &str = "secret_new_name";
const NEW_SECRET_VALUE: &str = "secret_new_value";

fn secret_value_field(name: &str) -> String {
    format!("secret_value.{name}")
}

fn secret_remove_field(name: &str) -> String {
    format!("secret_remove.{name}")
}

/// The trigger an action runs on (its first; Gatehouse actions support one each).
fn action_trigger(a: &StoredAction) -> Option<Trigger> {
    a.supported_triggers
        .iter()
        .find_map(|t| Trigger::parse(&t.id))
}

/// What a trigger is for, in the list.
fn about(t: Trigger) -> &'static str {
    match t {
        Trigger::PostLogin => {
            "Every login that gets tokens: browser, password, refresh, passwordless."
        }
        Trigger::CredentialsExchange => "An application's client-credentials token.",
        Trigger::PreUserRegistration => "A public sign-up, before the user is created.",
        Trigger::PostUserRegistration => "After a public sign-up created the user.",
        Trigger::PostChangePassword => "After a user's password changed.",
    }
}

/// A new action's code: the trigger's handler, empty.
fn starter_code(t: Trigger) -> String {
    format!(
        "// Runs on {}: `event` says what is happening, `api` changes it.\nexports.{} = async (event, api) => {{\n}};\n",
        t.id(),
        t.handler()
    )
}

/// Where the action is: deployed (which version), with changes not deployed, or a draft.
fn status(a: &StoredAction) -> String {
    match (&a.deployed_version, a.deployed_at) {
        (None, _) => "Draft (not deployed)".into(),
        (Some(_), Some(at)) if a.updated_at > at => "Deployed; changes not deployed".into(),
        (Some(_), _) => "Deployed".into(),
    }
}

async fn list_page(
    State(s): State<AppState>,
    d: Dashboard,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = match param(&q, "done") {
        "deleted" => Some("Action deleted."),
        _ => None,
    };
    list(&s.gatehouse, &d, StatusCode::OK, None, done, "").await
}

async fn list(
    g: &Gatehouse,
    d: &Dashboard,
    status_code: StatusCode,
    error: Option<&str>,
    done: Option<&str>,
    typed_name: &str,
) -> Response {
    let actions = match g.list_actions(&ActionFilter::default(), 0, 1000).await {
        Ok((list, _)) => list,
        Err(e) => return d.refused(e, "Actions", Nav::Actions),
    };
    let mut flows = Vec::new();
    for t in Trigger::ALL {
        match g.trigger_bindings(t).await {
            Ok(b) => flows.push((t, b)),
            Err(e) => return d.refused(e, "Actions", Nav::Actions),
        }
    }
    let body = html! {
        h1 { "Actions" }
        (notice(done))
        (error_box(error))
        section.card #triggers {
            h2 { "Triggers" }
            p.muted { "Each trigger runs its bound actions in the order shown; open one to change what runs." }
            (table(Some("trigger-list"), &["Trigger", "Runs", "Actions in order"], html! {
                @for (t, bound) in &flows {
                    tr {
                        td { a href={ "/admin/actions/triggers/" (t.id()) } { code { (t.id()) } } }
                        td.muted { (about(*t)) }
                        td {
                            @if bound.is_empty() { span.muted { "none" } }
                            @else {
                                ol.bound { @for b in bound { li { (b.action.name) } } }
                            }
                        }
                    }
                }
            }))
        }
        section.card #action-list {
            h2 { "Custom actions" }
            @if actions.is_empty() {
                p.muted { "No actions yet." }
            } @else {
                (table(Some("actions"), &["Name", "Trigger", "Status", "Updated"], html! {
                    @for a in &actions {
                        tr {
                            td { a href={ "/admin/actions/" (seg(&a.id)) } { (a.name) } }
                            td { @if let Some(t) = action_trigger(a) { code { (t.id()) } } }
                            td { (status(a)) }
                            td.muted { (time(Some(a.updated_at))) }
                        }
                    }
                }))
            }
            h3 { "New action" }
            form method="post" action="/admin/actions" {
                (csrf_input(&d.csrf))
                div.row {
                    div {
                        label for="action-name" { "Name" }
                        input #action-name name="name" type="text" required maxlength="255" value=(typed_name);
                    }
                    div {
                        label for="action-trigger" { "Trigger" }
                        select #action-trigger name="trigger" {
                            @for t in Trigger::ALL { option value=(t.id()) { (t.id()) } }
                        }
                    }
                }
                button type="submit" { "Create" }
            }
        }
        section.card {
            h2 { "Rules" }
            p.muted { "Auth0's legacy login code, run before the post-login actions. " a href="/admin/rules" { "Open the rules" } }
        }
    };
    d.page(status_code, "Actions", Nav::Actions, body)
}

async fn create(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let name = param(&f, "name");
    let Some(trigger) = Trigger::parse(param(&f, "trigger")) else {
        let why = "Choose one of the triggers.";
        return list(g, &d, StatusCode::BAD_REQUEST, Some(why), None, name).await;
    };
    let body = json!({
        "name": name,
        "supported_triggers": [{"id": trigger.id(), "version": trigger.version()}],
        "code": starter_code(trigger),
    });
    let created = match api_body(body, NewAction::from_payload) {
        Ok(new) => g.create_action(new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(a) => see_other(&format!("/admin/actions/{}?done=created", seg(&a.id))),
        Err(e) => {
            let (status, why) = refusal_in_words(e);
            list(g, &d, status, Some(&why), None, name).await
        }
    }
}

/// What the editor's fields show: the stored action, or what was posted (a refused save,
/// a test). Secret values typed are never shown again.
struct EditorForm {
    name: String,
    code: String,
    event: String,
    removed: Vec<String>,
    new_secret: String,
    values_dropped: bool,
}

impl EditorForm {
    fn stored(a: &StoredAction) -> Self {
        let event = example_event(action_trigger(a).unwrap_or(Trigger::PostLogin));
        Self {
            name: a.name.clone(),
            code: a.code.clone(),
            event: serde_json::to_string_pretty(&event).unwrap_or_default(),
            removed: vec![],
            new_secret: String::new(),
            values_dropped: false,
        }
    }

    fn posted(f: &HashMap<String, String>) -> Self {
        Self {
            name: param(f, "name").to_string(),
            code: source_text(param(f, "code")),
            event: source_text(param(f, "event")),
            removed: f
                .iter()
                .filter(|(k, v)| k.starts_with("secret_remove.") && !v.is_empty())
                .filter_map(|(k, _)| k.strip_prefix("secret_remove.").map(str::to_string))
                .collect(),
            new_secret: param(f, NEW_SECRET_NAME).to_string(),
            values_dropped: f
                .iter()
                .any(|(k, v)| k.starts_with("secret_value") && !v.is_empty()),
        }
    }
}

/// The editor's page: what it shows besides the action.
#[derive(Default)]
struct Shown {
    form: Option<EditorForm>,
    error: Option<String>,
    notice: Option<&'static str>,
    trial: Option<CodeTrial>,
}

async fn editor_page(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match param(&q, "done") {
        "created" => {
            Some("Action created. Write its code, then deploy it and bind it to its trigger.")
        }
        "saved" => Some("Saved. Logins run the deployed version until you deploy."),
        "deployed" => Some("Deployed: the trigger's logins run this version now."),
        _ => None,
    };
    let shown = Shown {
        notice,
        ..Shown::default()
    };
    editor(&s.gatehouse, &d, &id, StatusCode::OK, shown).await
}

async fn editor(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status_code: StatusCode,
    shown: Shown,
) -> Response {
    let (versions, action) = match g.action_versions(id).await {
        Ok(v) => v,
        Err(e) => return d.refused(e, "Action", Nav::Actions),
    };
    let form = shown.form.unwrap_or_else(|| EditorForm::stored(&action));
    let base = format!("/admin/actions/{}", seg(&action.id));
    let trigger = action_trigger(&action);
    let body = html! {
        p { a href="/admin/actions" { "← Actions" } }
        h1 { (action.name) }
        p.muted {
            @if let Some(t) = trigger { "Trigger " a href={ "/admin/actions/triggers/" (t.id()) } { code { (t.id()) } } " · " }
            (status(&action))
        }
        (notice(shown.notice))
        @if let Some(e) = &shown.error {
            p.error #action-error role="alert" { (e) }
        }
        section.card #editor {
            form method="post" action=(base) {
                (csrf_input(&d.csrf))
                label for="name" { "Name" }
                input #name name="name" type="text" required maxlength="255" value=(form.name);
                label for="code" { "Code" }
                (code::editor("code", "code", &form.code, "exports.onExecutePostLogin = async (event, api) => {\n};"))
                (secrets(&action, &form))
                // First in the form, so Enter in a field saves rather than tests.
                button type="submit" { "Save draft" }
                " "
                button type="submit" name="deploy" value="on" { "Save and deploy" }
                h2 #test { "Test" }
                label for="event" { "Event (JSON): the test's user, application and request" }
                textarea.args #event name="event" rows="12" spellcheck="false" { "\n" (form.event) }
                button.secondary type="submit" formnovalidate formaction={ (base) "/test#test" } { "Test" }
                span.muted { " Runs the code above as it is now, with the saved secrets. Nothing is written." }
                @if let Some(t) = &shown.trial { (code::trial_view(t)) }
            }
        }
        section.card #versions {
            h2 { "Versions" }
            @if versions.is_empty() {
                p.muted { "Not deployed yet." }
            } @else {
                (table(Some("version-list"), &["Version", "Deployed", ""], html! {
                    @for v in &versions {
                        tr {
                            td { "v" (v.number) @if action.deployed_version.as_deref() == Some(v.id.as_str()) { " " span.badge { "live" } } }
                            td.muted { (time(Some(v.created_at))) }
                            td {
                                @if action.deployed_version.as_deref() != Some(v.id.as_str()) {
                                    (button_form(&format!("{base}/versions/{}/deploy", seg(&v.id)), &d.csrf, "Deploy this version", "secondary"))
                                }
                            }
                        }
                    }
                }))
            }
        }
        section.card {
            h2 { "Delete" }
            p.muted { "Deleting removes the action from every trigger it is bound to." }
            (button_form(&format!("{base}/delete"), &d.csrf, "Delete action", "danger"))
        }
    };
    d.page(status_code, &action.name, Nav::Actions, body)
}

/// The secrets: stored names with their values masked (a new value replaces one, a tick
/// removes it), and a row for a new one.
fn secrets(action: &StoredAction, form: &EditorForm) -> Markup {
    html! {
        fieldset #secrets {
            legend { "Secrets" }
            p.muted { "Values the code reads as " code { "event.secrets.NAME" } ". Stored encrypted, never shown again, and masked in the console." }
            @if !action.secrets.is_empty() {
                (table(Some("secret-list"), &["Name", "Value", "Replace with", ""], html! {
                    @for s in &action.secrets {
                        tr {
                            td { code { (s.name) } }
                            td.muted { "••••• (set)" }
                            td {
                                input type="password" name=(secret_value_field(&s.name)) autocomplete="new-password"
                                    aria-label={ "New value for " (s.name) } placeholder="Leave empty to keep";
                            }
                            td { (check(&secret_remove_field(&s.name), None, form.removed.contains(&s.name), html! { "Remove" })) }
                        }
                    }
                }))
            }
            div.row {
                div {
                    label for=(NEW_SECRET_NAME) { "New secret" }
                    input #(NEW_SECRET_NAME) name=(NEW_SECRET_NAME) type="text" value=(form.new_secret)
                        autocomplete="off" spellcheck="false" placeholder="API_KEY";
                }
                div {
                    label for=(NEW_SECRET_VALUE) { "Its value" }
                    input #(NEW_SECRET_VALUE) name=(NEW_SECRET_VALUE) type="password" autocomplete="new-password";
                }
            }
            @if form.values_dropped {
                p.warn role="status" { "Secret values typed are not shown again: enter them again before saving." }
            }
        }
    }
}

/// The Management API body of a save: name, code, and the secrets (a stored one kept unless
/// ticked for removal, with its new value when one was typed; the new one).
fn save_body(action: &StoredAction, f: &HashMap<String, String>) -> Result<Value, String> {
    let mut secrets = Vec::new();
    for s in &action.secrets {
        if !param(f, &secret_remove_field(&s.name)).is_empty() {
            continue;
        }
        match param(f, &secret_value_field(&s.name)) {
            "" => secrets.push(json!({"name": s.name})),
            value => secrets.push(json!({"name": s.name, "value": value})),
        }
    }
    let new_name = param(f, NEW_SECRET_NAME).trim();
    let new_value = param(f, NEW_SECRET_VALUE);
    match (new_name.is_empty(), new_value.is_empty()) {
        (true, true) => {}
        (true, false) => return Err("The new secret has no name: name it, then save.".into()),
        (false, true) => {
            return Err(format!(
                "The new secret {new_name} has no value: enter one, then save."
            ));
        }
        (false, false) => {
            if action.secrets.iter().any(|s| s.name == new_name) {
                return Err(format!(
                    "There is already a secret called {new_name}: type its new value beside it."
                ));
            }
            secrets.push(json!({"name": new_name, "value": new_value}));
        }
    }
    Ok(json!({
        "name": param(f, "name"),
        "code": source_text(param(f, "code")),
        "secrets": secrets,
    }))
}

async fn save(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let action = match g.get_action(&id).await {
        Ok(a) => a,
        Err(e) => return d.refused(e, "Action", Nav::Actions),
    };
    let refused = |why: String| Shown {
        form: Some(EditorForm::posted(&f)),
        error: Some(why),
        ..Shown::default()
    };
    let body = match save_body(&action, &f) {
        Ok(b) => b,
        Err(why) => return editor(g, &d, &id, StatusCode::BAD_REQUEST, refused(why)).await,
    };
    let saved = match api_body(body, ActionPatch::from_payload) {
        Ok(patch) => g.update_action(&id, patch).await,
        Err(e) => Err(e),
    };
    let deploy = param(&f, "deploy") == "on";
    let result = match saved {
        Ok(_) if deploy => g.deploy_action(&id).await.map(|_| "deployed"),
        Ok(_) => Ok("saved"),
        Err(e) => Err(e),
    };
    match result {
        Ok(done) => see_other(&format!("/admin/actions/{}?done={done}", seg(&id))),
        Err(e) => {
            let (status, why) = refusal_in_words(e);
            editor(g, &d, &id, status, refused(why)).await
        }
    }
}

/// Test: runs the code as edited with the event typed, and shows the editor again with what
/// it did (everything typed kept as it was).
async fn test(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let code_text = source_text(param(&f, "code"));
    let (status, error, trial) = match json_object("event", param(&f, "event")) {
        Err(why) => (StatusCode::BAD_REQUEST, Some(why), None),
        Ok(_) if code_text.len() > gatehouse_core::actions::MAX_CODE_BYTES => (
            StatusCode::BAD_REQUEST,
            Some(format!(
                "The code is {} bytes; an action may have at most {}.",
                code_text.len(),
                gatehouse_core::actions::MAX_CODE_BYTES
            )),
            None,
        ),
        Ok(event) => match g.try_action_code(&id, &code_text, event).await {
            Ok(t) => (StatusCode::OK, None, Some(t)),
            Err(e) => {
                let (status, why) = refusal_in_words(e);
                (status, Some(why), None)
            }
        },
    };
    let shown = Shown {
        form: Some(EditorForm::posted(&f)),
        error,
        trial,
        ..Shown::default()
    };
    editor(g, &d, &id, status, shown).await
}

async fn delete(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    match s.gatehouse.delete_action(&id, true).await {
        Ok(()) => see_other("/admin/actions?done=deleted"),
        Err(e) => d.refused(e, "Action", Nav::Actions),
    }
}

async fn roll_back(
    State(s): State<AppState>,
    d: Dashboard,
    Path((id, version)): Path<(String, String)>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    match s.gatehouse.redeploy_action_version(&id, &version).await {
        Ok(_) => see_other(&format!("/admin/actions/{}?done=deployed", seg(&id))),
        Err(e) => d.refused(e, "Action", Nav::Actions),
    }
}

async fn trigger_page(
    State(s): State<AppState>,
    d: Dashboard,
    Path(trigger): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = (param(&q, "done") == "saved").then_some("Saved: the next run uses this order.");
    bindings_page(&s.gatehouse, &d, &trigger, StatusCode::OK, None, done).await
}

async fn bindings_page(
    g: &Gatehouse,
    d: &Dashboard,
    trigger: &str,
    status_code: StatusCode,
    error: Option<&str>,
    done: Option<&str>,
) -> Response {
    let title = format!("Trigger {trigger}");
    let t = match gatehouse_service::actions::trigger_of(trigger) {
        Ok(t) => t,
        Err(e) => return d.refused(e, &title, Nav::Actions),
    };
    let (bound, actions) = match (
        g.trigger_bindings(t).await,
        g.list_actions(
            &ActionFilter {
                trigger_id: Some(t.id().into()),
                deployed: Some(true),
                ..ActionFilter::default()
            },
            0,
            1000,
        )
        .await,
    ) {
        (Ok(b), Ok((a, _))) => (b, a),
        (Err(e), _) | (_, Err(e)) => return d.refused(e, &title, Nav::Actions),
    };
    let base = format!("/admin/actions/triggers/{}", t.id());
    let addable: Vec<&StoredAction> = actions
        .iter()
        .filter(|a| !bound.iter().any(|b| b.action.id == a.id))
        .collect();
    let step = |op: &str, i: usize, label: &str, class: &str| {
        html! {
            form.inline method="post" action=(base) {
                (csrf_input(&d.csrf))
                input type="hidden" name="op" value=(op);
                input type="hidden" name="at" value=(i);
                button type="submit" class=(class) { (label) }
            }
        }
    };
    let body = html! {
        p { a href="/admin/actions" { "← Actions" } }
        h1 { code { (t.id()) } }
        p.muted { (about(t)) }
        (notice(done))
        (error_box(error))
        section.card {
            h2 { "Runs, in this order" }
            @if bound.is_empty() {
                p.muted #bindings { "No action is bound: nothing runs." }
            } @else {
                ol #bindings {
                    @for (i, b) in bound.iter().enumerate() {
                        li {
                            a href={ "/admin/actions/" (seg(&b.action.id)) } { (b.action.name) }
                            " "
                            @if i > 0 { (step("up", i, "Move up", "secondary")) }
                            @if i + 1 < bound.len() { (step("down", i, "Move down", "secondary")) }
                            (step("remove", i, "Remove", "danger"))
                        }
                    }
                }
            }
            h3 { "Add an action" }
            @if addable.is_empty() {
                p.muted { "Every deployed action of this trigger is bound. Deploy an action to add it here." }
            } @else {
                form method="post" action=(base) {
                    (csrf_input(&d.csrf))
                    input type="hidden" name="op" value="add";
                    label for="add-action" { "Action (added last)" }
                    select #add-action name="action_id" {
                        @for a in &addable { option value=(a.id) { (a.name) } }
                    }
                    button type="submit" { "Add" }
                }
            }
        }
    };
    d.page(status_code, &title, Nav::Actions, body)
}

/// The bindings after one step of the trigger page (move up or down, remove, add), or why
/// the step does not apply (the list changed under the page).
fn stepped(
    bound: &[StoredBinding],
    f: &HashMap<String, String>,
) -> Result<Vec<NewBinding>, &'static str> {
    let mut list: Vec<NewBinding> = bound
        .iter()
        .map(|b| NewBinding {
            action: BindingRef::ActionId(b.action.id.clone()),
            display_name: Some(b.display_name.clone()),
        })
        .collect();
    let stale = "The bindings changed since the page was opened: look again, then retry.";
    let at = param(f, "at").parse::<usize>().ok();
    match (param(f, "op"), at) {
        ("up", Some(i)) if i > 0 && i < list.len() => list.swap(i - 1, i),
        ("down", Some(i)) if i + 1 < list.len() => list.swap(i, i + 1),
        ("remove", Some(i)) if i < list.len() => {
            list.remove(i);
        }
        ("add", _) => {
            let id = param(f, "action_id");
            if id.is_empty() {
                return Err("Choose an action to add.");
            }
            if bound.iter().any(|b| b.action.id == id) {
                return Err(stale);
            }
            list.push(NewBinding {
                action: BindingRef::ActionId(id.to_string()),
                display_name: None,
            });
        }
        _ => return Err(stale),
    }
    Ok(list)
}

async fn rebind(
    State(s): State<AppState>,
    d: Dashboard,
    Path(trigger): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let t = match gatehouse_service::actions::trigger_of(&trigger) {
        Ok(t) => t,
        Err(e) => return d.refused(e, "Trigger", Nav::Actions),
    };
    let bound = match g.trigger_bindings(t).await {
        Ok(b) => b,
        Err(e) => return d.refused(e, "Trigger", Nav::Actions),
    };
    let result = match stepped(&bound, &f) {
        Ok(list) => g
            .update_trigger_bindings(t, list)
            .await
            .map_err(refusal_in_words),
        Err(why) => Err((StatusCode::CONFLICT, why.to_string())),
    };
    match result {
        Ok(_) => see_other(&format!("/admin/actions/triggers/{}?done=saved", t.id())),
        Err((status, why)) => bindings_page(g, &d, t.id(), status, Some(&why), None).await,
    }
}
