//! The dashboard's code editor (a textarea with a line-number gutter drawn here and kept in
//! step by `admin.js`) and the result of a test run of actions' and rules' code, shared by the
//! custom-database card, the action editor and the rule editor.

use crate::templates::{Markup, html};
use gatehouse_service::actions::CodeTrial;
use serde_json::{Map, Value};

/// `1` to the number of lines of `source`, one a line: the editor's gutter.
pub(super) fn line_numbers(source: &str) -> String {
    let lines = source.split('\n').count();
    (1..=lines)
        .map(|n| n.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

/// A source as the browser posted it (CRLF line ends) made as typed.
pub(super) fn source_text(posted: &str) -> String {
    posted.replace("\r\n", "\n")
}

/// The editor for the form field `field`: the gutter (`gutter-{key}`) beside the textarea.
pub(super) fn editor(field: &str, key: &str, source: &str, placeholder: &str) -> Markup {
    let gutter = format!("gutter-{key}");
    let lines = source.split('\n').count();
    html! {
        div.editor {
            pre.gutter #(gutter) aria-hidden="true" { (line_numbers(source)) }
            // The newline after the tag is the one HTML drops: a source's own first line
            // break (if it has one) survives.
            textarea #(field) name=(field) data-gutter=(gutter) wrap="off" spellcheck="false"
                autocomplete="off" autocapitalize="off" rows=((lines + 1).clamp(8, 30))
                placeholder=(placeholder) { "\n" (source) }
        }
    }
}

/// A JSON object, pretty.
fn pretty(v: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

/// What a test run of an action or a rule did: the denial, the redirect, the changes to the
/// login, the claims left out, the tokens the login would get; its console and time.
pub(super) fn trial_view(trial: &CodeTrial) -> Markup {
    html! {
        div.trial #trial role="status" {
            h3 { "Result" }
            @match &trial.outcome {
                Err(why) => p.error #trial-error { (why) },
                Ok(o) => {
                    @let c = &o.changes;
                    @if let Some(d) = &c.denied {
                        p.error #trial-denied {
                            "The login would be refused (" code { (d.code) } "): " (d.reason)
                            @if let Some(m) = &d.user_message { " The user would read: " (m) }
                        }
                    }
                    @if let Some(r) = &c.redirect {
                        p #trial-redirect {
                            "The user would be sent to " code { (r.url) }
                            @if !r.query.is_empty() { " with " code { (Value::Object(r.query.clone())) } }
                            ", and the login would go on at " code { "/continue" } "."
                        }
                    }
                    dl #trial-changes {
                        @if let Some(s) = &c.set_scopes { dt { "Scope set to" } dd { code { (s.join(" ")) } } }
                        @if !c.add_scopes.is_empty() { dt { "Scopes added" } dd { code { (c.add_scopes.join(" ")) } } }
                        @if !c.remove_scopes.is_empty() { dt { "Scopes removed" } dd { code { (c.remove_scopes.join(" ")) } } }
                        @if !c.app_metadata.is_empty() { dt { "app_metadata written" } dd { pre { (pretty(&c.app_metadata)) } } }
                        @if !c.user_metadata.is_empty() { dt { "user_metadata written" } dd { pre { (pretty(&c.user_metadata)) } } }
                        @if let Some(p) = &c.primary_user { dt { "Primary user" } dd { code { (p) } } }
                    }
                    @if !o.dropped.is_empty() {
                        p.warn #trial-dropped {
                            "Left out of the tokens (no code may set them): "
                            @for (i, claim) in o.dropped.iter().enumerate() {
                                @if i > 0 { ", " } code { (claim) }
                            }
                        }
                    }
                    @if let Some(t) = &o.tokens {
                        @if let Some(id) = &t.id_token {
                            h3 { "ID token" }
                            pre #trial-id-token { (pretty(id)) }
                        }
                        h3 { "Access token" }
                        pre #trial-access-token { (pretty(&t.access_token)) }
                        p.muted { "Payloads before signing; the token endpoint adds the times (iat, exp) and its own claims." }
                    }
                }
            }
            h3 { "Console" }
            @if trial.console.is_empty() {
                p.muted #trial-console { "Nothing was logged." }
            } @else {
                pre #trial-console { (trial.console.join("\n")) }
            }
            p.muted #trial-time { "Ran in " (trial.elapsed_ms) " ms." }
        }
    }
}

/// The text of a posted JSON field read as an object, or why it is not one.
pub(super) fn json_object(label: &str, typed: &str) -> Result<Value, String> {
    match serde_json::from_str::<Value>(typed.trim()) {
        Ok(v @ Value::Object(_)) => Ok(v),
        Ok(other) => Err(format!(
            "The {label} must be a JSON object ({{ … }}), not {}.",
            gatehouse_core::payload::type_name(&other)
        )),
        Err(e) => Err(format!("The {label} is not valid JSON: {e}.")),
    }
}
