//! The "Custom database" card of a database connection's page (Auth0's "Use my own
//! database"): the two switches, the configuration values, one editor per action script and
//! a Try button under each.
//!
//! Configuration values are sealed: the card shows their keys, never their values, and a
//! save copies the sealed value of every key left alone from the stored options, so it stays.
//! The editors are `code::editor`s (a line-number gutter beside the text). The card is one
//! form; its Try buttons post that same form to `/try` (`formaction`), so the source as edited
//! and the arguments are tried without saving, and without any script on the page.

use super::code::{self, source_text};
use super::format::seg;
use super::param;
use crate::templates::{Markup, check, csrf_input, hidden, html, notice, table};
use gatehouse_core::custom_db::{MAX_SCRIPT_BYTES, ScriptName};
use gatehouse_service::custom_db::{ScriptTrial, TryRequest};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

/// The form field that says the custom-database card was posted (the settings form above
/// it posts to the same address).
pub(super) const MARKER: &str = "custom_database";
/// The Try buttons' field: which script to run.
const TRY: &str = "try";
const NEW_KEY: &str = "config_new_key";
const NEW_VALUE: &str = "config_new_value";

/// One script the card edits: what it is called, the signature Auth0's templates give it,
/// what it is for, and the arguments its Try starts with.
struct Script {
    name: ScriptName,
    label: &'static str,
    signature: &'static str,
    about: &'static str,
    example: &'static str,
}

/// The scripts, in the order Auth0's dashboard shows them.
const SCRIPTS: [Script; 7] = [
    Script {
        name: ScriptName::Login,
        label: "Login",
        signature: "function login(email, password, callback) {\n}",
        about: "Checks an email (or username) and password; calls back with the user's profile.",
        example: r#"["user@example.com", "password"]"#,
    },
    Script {
        name: ScriptName::GetUser,
        label: "Get user",
        signature: "function getByEmail(email, callback) {\n}",
        about: "Finds a user by email: sign-up, password reset and email change ask it first.",
        example: r#"["user@example.com"]"#,
    },
    Script {
        name: ScriptName::Create,
        label: "Create",
        signature: "function create(user, callback) {\n}",
        about: "Adds a user who signs up.",
        example: r#"[{"email": "user@example.com", "password": "password"}]"#,
    },
    Script {
        name: ScriptName::Verify,
        label: "Verify",
        signature: "function verify(email, callback) {\n}",
        about: "Marks a user's email as verified.",
        example: r#"["user@example.com"]"#,
    },
    Script {
        name: ScriptName::ChangePassword,
        label: "Change password",
        signature: "function changePassword(email, newPassword, callback) {\n}",
        about: "Sets a user's new password (a reset or a change).",
        example: r#"["user@example.com", "new password"]"#,
    },
    Script {
        name: ScriptName::Delete,
        label: "Delete",
        signature: "function remove(id, callback) {\n}",
        about: "Deletes a user, by the id the login script gave.",
        example: r#"["123"]"#,
    },
    Script {
        name: ScriptName::ChangeEmail,
        label: "Change email",
        signature: "function changeEmail(email, newEmail, verified, callback) {\n}",
        about: "Moves a user to a new email address.",
        example: r#"["old@example.com", "new@example.com", true]"#,
    },
];

fn script(name: ScriptName) -> Option<&'static Script> {
    SCRIPTS.iter().find(|s| s.name == name)
}

fn script_field(name: ScriptName) -> String {
    format!("script_{}", name.key())
}

fn args_field(name: ScriptName) -> String {
    format!("args_{}", name.key())
}

fn value_field(key: &str) -> String {
    format!("config_value.{key}")
}

fn remove_field(key: &str) -> String {
    format!("config_remove.{key}")
}

/// What the card's fields show: the stored settings, or what was posted (a refused save, a
/// trial). Configuration values typed into the form are never shown again.
#[derive(Default)]
pub(super) struct CustomDbForm {
    enabled: bool,
    import_mode: bool,
    scripts: HashMap<ScriptName, String>,
    /// A Try's arguments as typed; a script without them shows its example.
    args: HashMap<ScriptName, String>,
    /// Stored keys whose removal is ticked.
    removed: Vec<String>,
    new_key: String,
    /// Whether values were typed for the configuration (not shown again: they are secret).
    values_dropped: bool,
}

impl CustomDbForm {
    fn stored(options: &Map<String, Value>) -> Self {
        let flag = |k: &str| options.get(k).and_then(Value::as_bool) == Some(true);
        let scripts = options
            .get("customScripts")
            .and_then(Value::as_object)
            .map(|m| {
                m.iter()
                    .filter_map(|(k, v)| Some((ScriptName::parse(k)?, v.as_str()?.to_string())))
                    .collect()
            })
            .unwrap_or_default();
        Self {
            enabled: flag("enabledDatabaseCustomization"),
            import_mode: flag("import_mode"),
            scripts,
            ..Default::default()
        }
    }

    pub(super) fn posted(f: &HashMap<String, String>) -> Self {
        let on = |k: &str| param(f, k) == "on";
        Self {
            enabled: on("enabledDatabaseCustomization"),
            import_mode: on("import_mode"),
            scripts: SCRIPTS
                .iter()
                .map(|s| (s.name, source_text(param(f, &script_field(s.name)))))
                .collect(),
            args: SCRIPTS
                .iter()
                .filter_map(|s| Some((s.name, f.get(&args_field(s.name))?.clone())))
                .collect(),
            removed: f
                .iter()
                .filter(|(k, v)| k.starts_with("config_remove.") && v.as_str() == "on")
                .filter_map(|(k, _)| k.strip_prefix("config_remove.").map(str::to_string))
                .collect(),
            new_key: param(f, NEW_KEY).trim().to_string(),
            values_dropped: !param(f, NEW_VALUE).is_empty()
                || f.iter()
                    .any(|(k, v)| k.starts_with("config_value.") && !v.is_empty()),
        }
    }
}

/// The connection's options with the card's fields written over the stored ones (`options`
/// is replaced as a whole, so what the card does not edit is kept): the switches, the seven
/// scripts (an emptied editor removes its script), and the configuration: each stored key
/// kept with its sealed value, given the value typed for it, or removed; a new key added.
pub(super) fn custom_options(
    f: &HashMap<String, String>,
    mut options: Map<String, Value>,
) -> Result<Map<String, Value>, String> {
    let on = |k: &str| param(f, k) == "on";
    options.insert(
        "enabledDatabaseCustomization".into(),
        json!(on("enabledDatabaseCustomization")),
    );
    options.insert("import_mode".into(), json!(on("import_mode")));

    let mut scripts = match options.remove("customScripts") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    for s in &SCRIPTS {
        let source = source_text(param(f, &script_field(s.name)));
        if source.trim().is_empty() {
            scripts.remove(s.name.key());
        } else {
            scripts.insert(s.name.key().into(), json!(source));
        }
    }
    if !scripts.is_empty() {
        options.insert("customScripts".into(), Value::Object(scripts));
    }

    let mut config = match options.remove("configuration") {
        Some(Value::Object(m)) => m,
        _ => Map::new(),
    };
    let stored: Vec<String> = config.keys().cloned().collect();
    for key in stored {
        if on(&remove_field(&key)) {
            config.remove(&key);
            continue;
        }
        let typed = param(f, &value_field(&key));
        if !typed.is_empty() {
            // In clear: the service seals it. Left empty, the sealed value stays as it is.
            config.insert(key, json!(typed));
        }
    }
    let new_key = param(f, NEW_KEY).trim();
    let new_value = param(f, NEW_VALUE);
    match (new_key.is_empty(), new_value.is_empty()) {
        (true, true) => {}
        (true, false) => {
            return Err("The new configuration value has no key: name it, then save.".into());
        }
        (false, true) => {
            return Err(format!(
                "The new configuration key {new_key} has no value: enter one, then save."
            ));
        }
        (false, false) => {
            config.insert(new_key.to_string(), json!(new_value));
        }
    }
    if !config.is_empty() {
        options.insert("configuration".into(), Value::Object(config));
    }
    Ok(options)
}

/// A save refused by the service, in the dashboard's words: the reason without the
/// Management API's wrapping (`Payload validation error: '…' on property …`).
pub(super) fn plain_message(message: &str) -> String {
    let inner = message
        .strip_prefix("Payload validation error: '")
        .and_then(|m| m.rsplit_once("' on property "))
        .map(|(inner, _)| inner)
        .unwrap_or(message);
    let mut chars = inner.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A Try as posted: the script to run, or why there is nothing to run (with the script, when
/// the name was one of the card's).
pub(super) fn try_request(
    f: &HashMap<String, String>,
) -> Result<TryRequest, (Option<ScriptName>, String)> {
    let name = param(f, TRY);
    let Some(s) = ScriptName::parse(name).and_then(script) else {
        return Err((
            None,
            format!("There is no script called \u{201c}{name}\u{201d} to try."),
        ));
    };
    let refused = |why: String| Err((Some(s.name), why));
    let typed = param(f, &args_field(s.name)).trim();
    let args = if typed.is_empty() {
        vec![]
    } else {
        match serde_json::from_str::<Value>(typed) {
            Ok(Value::Array(args)) => args,
            Ok(_) => {
                return refused(format!(
                    "The arguments must be a JSON array (the callback comes after them), for example {}",
                    s.example
                ));
            }
            Err(e) => return refused(format!("The arguments are not valid JSON: {e}.")),
        }
    };
    let source = source_text(param(f, &script_field(s.name)));
    if source.trim().is_empty() {
        return refused(format!(
            "The {} script is empty: write it, then try it.",
            s.label.to_lowercase()
        ));
    }
    if source.len() > MAX_SCRIPT_BYTES {
        return refused(format!(
            "The script is {} bytes; a script may have at most {MAX_SCRIPT_BYTES}.",
            source.len()
        ));
    }
    Ok(TryRequest {
        script: s.name,
        args,
        source: Some(source),
    })
}

/// A Try's outcome, shown under its script: what the script did, or why it did not run.
pub(super) struct Trial {
    pub script: ScriptName,
    pub outcome: Result<ScriptTrial, String>,
}

/// What the card shows besides the fields: the form as posted, a save's error, a notice,
/// a trial.
#[derive(Default)]
pub(super) struct CardState {
    pub form: Option<CustomDbForm>,
    pub error: Option<String>,
    pub notice: Option<&'static str>,
    pub trial: Option<Trial>,
}

/// The card: switches, configuration, the script editors.
pub(super) fn card(id: &str, options: &Map<String, Value>, state: CardState, csrf: &str) -> Markup {
    let form = state.form.unwrap_or_else(|| CustomDbForm::stored(options));
    let config = options.get("configuration").and_then(Value::as_object);
    let base = format!("/admin/connections/{}", seg(id));
    html! {
        section.card #custom-database {
            h2 { "Custom database" }
            (notice(state.notice))
            @if let Some(e) = &state.error {
                p.error #custom-database-error role="alert" { (e) }
            }
            form method="post" action={ (base) "#custom-database" } {
                (csrf_input(csrf))
                (hidden(MARKER, "on"))
                (check("enabledDatabaseCustomization", None, form.enabled, html! { "Use my own database" }))
                p.muted {
                    "Logins and sign-ups run the scripts below against your own user store. "
                    "Without import it stays the source of truth for every user (legacy)."
                }
                (check("import_mode", None, form.import_mode, html! { "Import users to Gatehouse" }))
                p.muted {
                    "Automatic migration: each user moves to Gatehouse at their first successful "
                    "login, and the scripts are not used for them again."
                }
                (configuration(config, &form))
                // First in the form, so Enter in a field saves rather than tries.
                button type="submit" { "Save" }
                @for s in &SCRIPTS {
                    (editor(s, &base, &form, state.trial.as_ref()))
                }
                button type="submit" { "Save" }
            }
        }
    }
}

/// The configuration: stored keys with their values masked (a new value replaces one, a
/// tick removes the key), and a row for a new key.
fn configuration(config: Option<&Map<String, Value>>, form: &CustomDbForm) -> Markup {
    let rows = html! {
        @for (key, value) in config.into_iter().flatten() {
            tr {
                td { code { (key) } }
                td.muted {
                    @if value.as_str().is_some_and(|v| !v.is_empty()) { "••••• (set)" } @else { "(empty)" }
                }
                td {
                    input type="password" name=(value_field(key)) autocomplete="new-password"
                        aria-label={ "New value for " (key) } placeholder="Leave empty to keep";
                }
                td { (check(&remove_field(key), None, form.removed.contains(key), html! { "Remove" })) }
            }
        }
    };
    html! {
        fieldset #configuration {
            legend { "Configuration" }
            p.muted {
                "Values the scripts read as " code { "configuration.KEY" } " (connection strings, API keys). "
                "They are stored encrypted and never shown again."
            }
            @if config.is_some_and(|c| !c.is_empty()) {
                (table(Some("configuration-keys"), &["Key", "Value", "Replace with", ""], rows))
            }
            div.row {
                div {
                    label for=(NEW_KEY) { "New key" }
                    input #(NEW_KEY) name=(NEW_KEY) type="text" value=(form.new_key) autocomplete="off"
                        spellcheck="false" placeholder="API_KEY";
                }
                div {
                    label for=(NEW_VALUE) { "Its value" }
                    input #(NEW_VALUE) name=(NEW_VALUE) type="password" autocomplete="new-password";
                }
            }
            @if form.values_dropped {
                p.warn role="status" { "Values typed for the configuration are not shown again: enter them again before saving." }
            }
        }
    }
}

/// One script: its editor with the line-number gutter, the arguments of a Try, the button,
/// and the trial's outcome when it was this script that ran.
fn editor(s: &Script, base: &str, form: &CustomDbForm, trial: Option<&Trial>) -> Markup {
    let key = s.name.key();
    let source = form.scripts.get(&s.name).map(String::as_str).unwrap_or("");
    let args = form
        .args
        .get(&s.name)
        .map(String::as_str)
        .unwrap_or(s.example);
    let trial = trial.filter(|t| t.script == s.name);
    let field = script_field(s.name);
    let args_id = args_field(s.name);
    html! {
        details.script #{ "script-" (key) } open[!source.trim().is_empty() || trial.is_some()] {
            summary { (s.label) " " code.muted { (key) } }
            p.muted { (s.about) }
            label for=(field) { (s.label) " script" }
            (code::editor(&field, key, source, s.signature))
            label for=(args_id) { "Arguments to try it with (a JSON array; the callback comes after them)" }
            textarea.args #(args_id) name=(args_id) rows="2" spellcheck="false" { "\n" (args) }
            button.secondary type="submit" name=(TRY) value=(key) formnovalidate
                formaction={ (base) "/try#script-" (key) } { "Try" }
            span.muted { " Runs the source above as it is now, with the saved configuration." }
            @if let Some(t) = trial { (trial_result(t)) }
        }
    }
}

/// What a Try did: the callback's value or error, the console, the time it took.
fn trial_result(t: &Trial) -> Markup {
    let text = |v: Option<&Value>| v.map(super::format::text).unwrap_or_default();
    html! {
        div.trial #trial role="status" {
            h3 { "Result" }
            @match &t.outcome {
                Err(why) => p.error #trial-error { (why) },
                Ok(run) => {
                    @if let Some(e) = &run.error {
                        p.error #trial-error {
                            strong { (text(e.get("name"))) } ": " (text(e.get("message")))
                        }
                    } @else {
                        p.muted { "Called back with:" }
                        pre #trial-result {
                            (serde_json::to_string_pretty(run.result.as_ref().unwrap_or(&Value::Null)).unwrap_or_default())
                        }
                    }
                    p.muted { "Console:" }
                    @if run.console.is_empty() {
                        p.muted #trial-console { "Nothing was logged." }
                    } @else {
                        pre #trial-console { (run.console.join("\n")) }
                    }
                    p.muted #trial-time { "Ran in " (run.elapsed_ms) " ms." }
                }
            }
        }
    }
}
