//! The delegated-administration setting (`delegated_admin` in the tenant settings) as one
//! JSON editor: for full administrators and for delegated administrators whose role
//! includes `manage:config` (DAE's Administrator, who edits the extension's hooks). The
//! service checks the permission and the setting; this page only shows and posts it.

use super::frame::Nav;
use super::{Scoped, noted, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{csrf_input, error_box, html, notice};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_core::delegated_admin::DelegatedAdminSettings;
use gatehouse_service::admin::DaePermission;
use serde_json::Value;
use std::collections::HashMap;

const PATH: &str = "/admin/delegated-admin";

/// What the editor starts with when nothing is set: the usual department filter.
const EXAMPLE: &str = r#"{
  "filter": "app_metadata.department:{{admin.app_metadata.department}}",
  "create_fields": ["email", "password", "connection", "user_metadata.phone"],
  "create_defaults": {"app_metadata": {"department": "{{admin.app_metadata.department}}"}},
  "memberships": []
}"#;

pub fn router() -> Router<AppState> {
    Router::new().route(PATH, get(show).post(save))
}

fn pretty(s: &DelegatedAdminSettings) -> String {
    serde_json::to_string_pretty(&s.to_json()).unwrap_or_default()
}

/// The page: what the setting does, and the editor holding `text`.
fn page(d: &Scoped, status: StatusCode, text: &str, done: bool, error: Option<&str>) -> Response {
    let body = html! {
        h1 { "Delegated administration" }
        (notice(done.then_some("Setting saved.")))
        section.card {
            p {
                "Users whose " code { "app_metadata.roles" } " hold "
                code { "Delegated Admin - Auditor" } ", " code { "User" } ", " code { "Operator" }
                " or " code { "Administrator" } " use the users area of this dashboard, limited by this setting. "
                code { "{{admin.<path>}}" } " is the administrator's own value ("
                code { "user_id" } ", " code { "email" } ", " code { "connection" } " or "
                code { "app_metadata.…" } "); without a filter, or without the value, they see nobody."
            }
            @if !d.scope.is_full() { p.warn { "This setting limits you too." } }
            (error_box(error))
            form method="post" action=(PATH) {
                (csrf_input(&d.csrf))
                label for="delegated_admin" { "delegated_admin" }
                textarea #delegated_admin name="delegated_admin" spellcheck="false" rows="14" { (text) }
                p.muted { "A JSON object: filter, create_fields, create_defaults, memberships. Empty removes the setting." }
                button type="submit" { "Save" }
            }
        }
    };
    d.page(status, "Delegated administration", Nav::Delegation, body)
}

async fn show(
    State(s): State<AppState>,
    d: Scoped,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.gatehouse.delegated_settings_as(&d.scope).await {
        Ok(current) => {
            let text = current.as_ref().map_or(EXAMPLE.to_string(), pretty);
            page(
                &d,
                StatusCode::OK,
                &text,
                param(&q, "done") == "saved",
                None,
            )
        }
        Err(e) => d.refused(e, "Delegated administration", Nav::Delegation),
    }
}

async fn save(State(s): State<AppState>, d: Scoped, VerifiedForm(f): VerifiedForm) -> Response {
    // Refused before the posted text is even read back into a page.
    if let Err(e) = s
        .gatehouse
        .require_as(&d.scope, DaePermission::ManageConfig)
    {
        return d.refused(e, "Delegated administration", Nav::Delegation);
    }
    let text = param(&f, "delegated_admin");
    let value = if text.trim().is_empty() {
        Value::Null
    } else {
        match serde_json::from_str::<Value>(text) {
            Ok(v) => v,
            Err(e) => {
                let message = format!("The setting is not valid JSON: {e}.");
                return page(&d, StatusCode::BAD_REQUEST, text, false, Some(&message));
            }
        }
    };
    match s
        .gatehouse
        .update_delegated_settings_as(&d.scope, value)
        .await
    {
        Ok(_) => see_other(&format!("{PATH}?done=saved")),
        Err(e) => {
            let (status, message) = refusal(e);
            noted(page(&d, status, text, false, Some(&message)), &message)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_a_valid_setting() {
        let v: Value = serde_json::from_str(EXAMPLE).unwrap();
        DelegatedAdminSettings::from_value(v).unwrap();
    }
}
