//! Dashboard rules (Auth0's legacy login code): the list in run order, a rule's editor (name,
//! order, enabled, the script with its gutter, a Try with a `user` and `context` that shows
//! what the rule changes and the tokens a login would get) and the rules-config values,
//! whose keys are listed and whose values are never shown again.
//!
//! Every change goes through the same service calls as `/api/v2/rules` and
//! `/api/v2/rules-configs`; the Try writes nothing.

use super::code::{self, json_object, source_text};
use super::format::{seg, time};
use super::frame::Nav;
use super::{Dashboard, api_body, param, refusal_in_words, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{button_form, check, csrf_input, error_box, html, notice, table};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::rules::{NewRule, RulePatch};
use gatehouse_service::actions::{CodeTrial, example_rule_input};
use gatehouse_service::{Gatehouse, ServiceError};
use gatehouse_store::StoredRule;
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/rules", get(list_page).post(create))
        .route("/admin/rules/configs", post(set_config))
        .route("/admin/rules/configs/delete", post(delete_config))
        .route("/admin/rules/{id}", get(editor_page).post(save))
        .route("/admin/rules/{id}/try", post(try_rule))
        .route("/admin/rules/{id}/delete", post(delete))
}

/// A new rule's script: Auth0's signature, passing the login on unchanged.
const STARTER: &str = "function (user, context, callback) {\n  // Change `user` or `context` (context.idToken, context.accessToken, context.redirect),\n  // or call back with an error to refuse the login.\n  return callback(null, user, context);\n}\n";

async fn list_page(
    State(s): State<AppState>,
    d: Dashboard,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = match param(&q, "done") {
        "deleted" => Some("Rule deleted."),
        "config" => Some("Configuration saved."),
        _ => None,
    };
    list(&s.gatehouse, &d, StatusCode::OK, None, done).await
}

async fn list(
    g: &Gatehouse,
    d: &Dashboard,
    status_code: StatusCode,
    error: Option<&str>,
    done: Option<&str>,
) -> Response {
    let (rules, keys) = match (g.list_rules(None).await, g.rules_config_keys().await) {
        (Ok(r), Ok(k)) => (r, k),
        (Err(e), _) | (_, Err(e)) => return d.refused(e, "Rules", Nav::Actions),
    };
    let body = html! {
        p { a href="/admin/actions" { "← Actions" } }
        h1 { "Rules" }
        (notice(done))
        (error_box(error))
        section.card #rule-list {
            h2 { "Rules, in run order" }
            p.muted { "Enabled rules run on every login before the post-login actions, lowest order first." }
            @if rules.is_empty() {
                p.muted { "No rules." }
            } @else {
                (table(Some("rules"), &["Order", "Name", "Enabled", "Updated"], html! {
                    @for r in &rules {
                        tr {
                            td { (r.order) }
                            td { a href={ "/admin/rules/" (seg(&r.id)) } { (r.name) } }
                            td { @if r.enabled { span.badge.good { "enabled" } } @else { span.badge { "disabled" } } }
                            td.muted { (time(Some(r.updated_at))) }
                        }
                    }
                }))
            }
            h3 { "New rule" }
            form method="post" action="/admin/rules" {
                (csrf_input(&d.csrf))
                label for="rule-name" { "Name (letters, digits, spaces and - only)" }
                input #rule-name name="name" type="text" required maxlength="255";
                button type="submit" { "Create" }
            }
        }
        section.card #rules-config {
            h2 { "Configuration" }
            p.muted { "Values every rule reads as " code { "configuration.KEY" } ". Stored encrypted and never shown again." }
            @if !keys.is_empty() {
                (table(Some("config-keys"), &["Key", "Value", ""], html! {
                    @for k in &keys {
                        tr {
                            td { code { (k) } }
                            td.muted { "••••• (set)" }
                            td {
                                form method="post" action="/admin/rules/configs/delete" {
                                    (csrf_input(&d.csrf))
                                    input type="hidden" name="key" value=(k);
                                    button.danger type="submit" { "Remove" }
                                }
                            }
                        }
                    }
                }))
            }
            form method="post" action="/admin/rules/configs" {
                (csrf_input(&d.csrf))
                div.row {
                    div {
                        label for="config-key" { "Key" }
                        input #config-key name="key" type="text" required autocomplete="off" spellcheck="false" placeholder="API_KEY";
                    }
                    div {
                        label for="config-value" { "Value (replaces the key's value)" }
                        input #config-value name="value" type="password" required autocomplete="new-password";
                    }
                    button type="submit" { "Set" }
                }
            }
        }
    };
    d.page(status_code, "Rules", Nav::Actions, body)
}

async fn create(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let body = json!({"name": param(&f, "name"), "script": STARTER});
    let created = match api_body(body, NewRule::from_payload) {
        Ok(new) => g.create_rule(new).await,
        Err(e) => Err(e),
    };
    match created {
        Ok(r) => see_other(&format!("/admin/rules/{}?done=created", seg(&r.id))),
        Err(e) => {
            let (status, why) = refusal_in_words(e);
            list(g, &d, status, Some(&why), None).await
        }
    }
}

async fn set_config(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let key = param(&f, "key").trim();
    let value = param(&f, "value");
    if value.is_empty() {
        let why = format!("The key {key} has no value: enter one, then set it.");
        return list(g, &d, StatusCode::BAD_REQUEST, Some(&why), None).await;
    }
    let set = g.set_rules_config(key, value).await;
    config_changed(g, &d, set).await
}

/// After a configuration change: the list, with why when it was refused.
async fn config_changed(
    g: &Gatehouse,
    d: &Dashboard,
    result: Result<(), ServiceError>,
) -> Response {
    match result {
        Ok(()) => see_other("/admin/rules?done=config"),
        Err(e) => {
            let (status, why) = refusal_in_words(e);
            list(g, d, status, Some(&why), None).await
        }
    }
}

async fn delete_config(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let removed = g.delete_rules_config(param(&f, "key")).await;
    config_changed(g, &d, removed).await
}

/// What the editor's fields show: the stored rule, or what was posted.
struct RuleForm {
    name: String,
    order: String,
    enabled: bool,
    script: String,
    user: String,
    context: String,
}

impl RuleForm {
    fn stored(r: &StoredRule) -> Self {
        let (user, context) = example_rule_input();
        let pretty = |v: &Value| serde_json::to_string_pretty(v).unwrap_or_default();
        Self {
            name: r.name.clone(),
            order: r.order.to_string(),
            enabled: r.enabled,
            script: r.script.clone(),
            user: pretty(&user),
            context: pretty(&context),
        }
    }

    fn posted(f: &HashMap<String, String>) -> Self {
        Self {
            name: param(f, "name").to_string(),
            order: param(f, "order").to_string(),
            enabled: !param(f, "enabled").is_empty(),
            script: source_text(param(f, "script")),
            user: source_text(param(f, "user")),
            context: source_text(param(f, "context")),
        }
    }
}

async fn editor_page(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let done = match param(&q, "done") {
        "created" => Some("Rule created and enabled: it runs on the next login."),
        "saved" => Some("Saved: the next login runs it as it is now."),
        _ => None,
    };
    editor(
        &s.gatehouse,
        &d,
        &id,
        StatusCode::OK,
        None,
        None,
        done,
        None,
    )
    .await
}

#[allow(clippy::too_many_arguments)]
async fn editor(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status_code: StatusCode,
    form: Option<RuleForm>,
    error: Option<&str>,
    done: Option<&str>,
    trial: Option<CodeTrial>,
) -> Response {
    let rule = match g.get_rule(id).await {
        Ok(r) => r,
        Err(e) => return d.refused(e, "Rule", Nav::Actions),
    };
    let form = form.unwrap_or_else(|| RuleForm::stored(&rule));
    let base = format!("/admin/rules/{}", seg(&rule.id));
    let body = html! {
        p { a href="/admin/rules" { "← Rules" } }
        h1 { (rule.name) }
        (notice(done))
        @if let Some(e) = error {
            p.error #rule-error role="alert" { (e) }
        }
        section.card #editor {
            form method="post" action=(base) {
                (csrf_input(&d.csrf))
                div.row {
                    div {
                        label for="name" { "Name" }
                        input #name name="name" type="text" required maxlength="255" value=(form.name);
                    }
                    div {
                        label for="order" { "Order" }
                        input #order name="order" type="number" min="0" required value=(form.order);
                    }
                }
                (check("enabled", Some("on"), form.enabled, html! { "Enabled: runs on every login" }))
                label for="script" { "Script" }
                (code::editor("script", "script", &form.script, "function (user, context, callback) {\n}"))
                button type="submit" { "Save" }
                h2 #try { "Try" }
                div.row {
                    div {
                        label for="user" { "user (JSON)" }
                        textarea.args #user name="user" rows="10" spellcheck="false" { "\n" (form.user) }
                    }
                    div {
                        label for="context" { "context (JSON)" }
                        textarea.args #context name="context" rows="10" spellcheck="false" { "\n" (form.context) }
                    }
                }
                button.secondary type="submit" formnovalidate formaction={ (base) "/try#try" } { "Try" }
                span.muted { " Runs the script above as it is now, with the saved configuration. Nothing is written." }
                @if let Some(t) = &trial { (code::trial_view(t)) }
            }
        }
        section.card {
            h2 { "Delete" }
            (button_form(&format!("{base}/delete"), &d.csrf, "Delete rule", "danger"))
        }
    };
    d.page(status_code, &rule.name, Nav::Actions, body)
}

/// The Management API body of a save.
fn save_body(f: &HashMap<String, String>) -> Result<Value, String> {
    let order = param(f, "order").trim();
    let order: i64 = order
        .parse()
        .map_err(|_| format!("The order must be a whole number, not \u{201c}{order}\u{201d}."))?;
    Ok(json!({
        "name": param(f, "name"),
        "script": source_text(param(f, "script")),
        "order": order,
        "enabled": !param(f, "enabled").is_empty(),
    }))
}

async fn save(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let saved = match save_body(&f) {
        Err(why) => Err((StatusCode::BAD_REQUEST, why)),
        Ok(body) => {
            let patched = match api_body(body, RulePatch::from_payload) {
                Ok(patch) => g.update_rule(&id, patch).await,
                Err(e) => Err(e),
            };
            patched.map_err(refusal_in_words)
        }
    };
    match saved {
        Ok(_) => see_other(&format!("/admin/rules/{}?done=saved", seg(&id))),
        Err((status, why)) => {
            let form = Some(RuleForm::posted(&f));
            editor(g, &d, &id, status, form, Some(&why), None, None).await
        }
    }
}

/// Try: runs the script as edited with the `user` and `context` typed, and shows the editor
/// again with what it did.
async fn try_rule(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let rule = match g.get_rule(&id).await {
        Ok(r) => r,
        Err(e) => return d.refused(e, "Rule", Nav::Actions),
    };
    let script = source_text(param(&f, "script"));
    let input = json_object("user", param(&f, "user"))
        .and_then(|u| Ok((u, json_object("context", param(&f, "context"))?)));
    let (status, error, trial) = match input {
        Err(why) => (StatusCode::BAD_REQUEST, Some(why), None),
        Ok(_) if script.len() > gatehouse_core::rules::MAX_SCRIPT_BYTES => (
            StatusCode::BAD_REQUEST,
            Some(format!(
                "The script is {} bytes; a rule may have at most {}.",
                script.len(),
                gatehouse_core::rules::MAX_SCRIPT_BYTES
            )),
            None,
        ),
        Ok((user, context)) => match g.try_rule_script(&rule.name, &script, user, context).await {
            Ok(t) => (StatusCode::OK, None, Some(t)),
            Err(e) => {
                let (status, why) = refusal_in_words(e);
                (status, Some(why), None)
            }
        },
    };
    let form = Some(RuleForm::posted(&f));
    editor(g, &d, &id, status, form, error.as_deref(), None, trial).await
}

async fn delete(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    match s.gatehouse.delete_rule(&id).await {
        Ok(()) => see_other("/admin/rules?done=deleted"),
        Err(e) => d.refused(e, "Rule", Nav::Actions),
    }
}
