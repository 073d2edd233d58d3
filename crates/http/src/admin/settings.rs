//! Dashboard applications (clients): the list, create, edit. A client secret is shown once,
//! when it is made (creation or rotation). Connections have their own pages
//! (`super::connections`).

use super::format::{self, seg};
use super::frame::Nav;
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{
    Markup, button_form, check, csrf_input, error_box, html, notice, options, table,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::client::ClientSettings;
use gatehouse_core::payload::Payload;
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/applications",
            get(applications).post(create_application),
        )
        .route(
            "/admin/applications/{id}",
            get(application).post(update_application),
        )
        .route("/admin/applications/{id}/rotate", post(rotate_secret))
}

/// One URL per line (or comma-separated) into a JSON array.
fn lines(text: &str) -> Value {
    Value::Array(
        text.split(['\n', ','])
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(|l| json!(l))
            .collect(),
    )
}

const APP_TYPES: &[(&str, &str)] = &[
    ("regular_web", "Regular web application"),
    ("spa", "Single-page application"),
    ("native", "Native application"),
    ("non_interactive", "Machine to machine"),
];

const GRANT_TYPES: &[(&str, &str)] = &[
    ("authorization_code", "Authorization code"),
    ("implicit", "Implicit"),
    ("refresh_token", "Refresh token"),
    ("client_credentials", "Client credentials"),
    ("password", "Password"),
    (
        "http://auth0.com/oauth/grant-type/password-realm",
        "Password (realm)",
    ),
    (
        "http://auth0.com/oauth/grant-type/passwordless/otp",
        "Passwordless OTP",
    ),
];

/// The application's type as the forms show it (empty when never set).
fn app_type(c: &ClientSettings) -> &str {
    c.app_type.as_deref().unwrap_or("")
}

fn app_type_options(current: &str) -> Markup {
    options(APP_TYPES.iter().map(|(v, l)| (Some(*v), *l)), current)
}

async fn applications(State(s): State<AppState>, d: Dashboard) -> Response {
    applications_page(&s.gatehouse, &d, StatusCode::OK, None, "").await
}

async fn applications_page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    error: Option<&str>,
    name: &str,
) -> Response {
    let (list, total) = match g.list_clients(0, 100, false).await {
        Ok(l) => l,
        Err(e) => return d.refused(e, "Applications", Nav::Applications),
    };
    let rows = html! {
        @for c in &list {
            tr {
                td { a href={ "/admin/applications/" (seg(&c.client_id)) } { (c.settings.name) } }
                td { code { (c.client_id) } }
                td { (app_type(&c.settings)) }
            }
        }
    };
    let body = html! {
        h1 { "Applications" }
        section.card {
            p.muted { (format::count(total, "application", "applications")) }
            (table(None, &["Name", "Client ID", "Type"], rows))
        }
        section.card {
            h2 { "Create an application" }
            (error_box(error))
            form method="post" action="/admin/applications" {
                (csrf_input(&d.csrf))
                div.row {
                    div { label for="name" { "Name" } input #name name="name" type="text" required value=(name); }
                    div {
                        label for="app_type" { "Type" }
                        select #app_type name="app_type" { (app_type_options("regular_web")) }
                    }
                    button type="submit" { "Create" }
                }
            }
        }
    };
    d.page(status, "Applications", Nav::Applications, body)
}

async fn create_application(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let app_type = param(&f, "app_type");
    let grants = if app_type == "non_interactive" {
        json!(["client_credentials"])
    } else {
        json!(["authorization_code", "refresh_token"])
    };
    let body = json!({"name": param(&f, "name"), "app_type": app_type, "grant_types": grants});
    // The Management API's own validation, so the dashboard accepts what it accepts.
    let created = match Payload::from_value(body).and_then(ClientSettings::from_create) {
        Ok(settings) => g.create_client(settings).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(c) => {
            application_page(
                g,
                &d,
                &c.client_id,
                StatusCode::CREATED,
                Shown {
                    secret: c.secret,
                    notice: Some("Application created."),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => {
            let (status, message) = refusal(e);
            applications_page(g, &d, status, Some(&message), param(&f, "name")).await
        }
    }
}

#[derive(Default)]
struct Shown {
    secret: Option<String>,
    notice: Option<&'static str>,
    error: Option<String>,
}

async fn application(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = (param(&q, "done") == "saved").then_some("Application saved.");
    application_page(
        &s.gatehouse,
        &d,
        &id,
        StatusCode::OK,
        Shown {
            notice,
            ..Default::default()
        },
    )
    .await
}

async fn application_page(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status: StatusCode,
    shown: Shown,
) -> Response {
    let c = match g.get_client(id, false).await {
        Ok(c) => c,
        Err(e) => return d.refused(e, "Application", Nav::Applications),
    };
    let body = html! {
        p { a href="/admin/applications" { "← Applications" } }
        h1 { (c.settings.name) }
        (notice(shown.notice))
        (error_box(shown.error.as_deref()))
        @if let Some(secret) = &shown.secret { (secret_once(secret)) }
        section.card {
            dl {
                dt { "Client ID" } dd { code #client-id { (id) } }
                dt { "Type" } dd { (app_type(&c.settings)) }
            }
            h2 { "Client secret" }
            p.muted { "Secrets are stored encrypted and never shown again. Rotating makes a new one and the old one stops working at once." }
            (button_form(&format!("/admin/applications/{}/rotate", seg(id)), &d.csrf, "Rotate secret", "secondary"))
        }
        section.card { h2 { "Settings" } (application_form(id, &c.settings, &d.csrf)) }
    };
    d.page(status, "Application", Nav::Applications, body)
}

/// A new client secret, shown this once.
fn secret_once(secret: &str) -> Markup {
    html! {
        div.warn role="alert" {
            p { strong { "Client secret" } " (shown once; copy it now):" }
            pre #client-secret { (secret) }
        }
    }
}

/// The application's settings: name, type, URLs, grant types, token endpoint authentication.
fn application_form(id: &str, c: &ClientSettings, csrf: &str) -> Markup {
    let granted = &c.grant_types;
    let method = c.token_endpoint_auth_method.as_str();
    let methods = ["client_secret_post", "client_secret_basic", "none"].map(|m| (None, m));
    let urls = |id: &str, name: &str, label: &str, list: &[String]| {
        html! {
            label for=(id) { (label) " (one per line)" }
            textarea #(id) name=(name) { (list.join("\n")) }
        }
    };
    html! {
        form method="post" action={ "/admin/applications/" (seg(id)) } {
            (csrf_input(csrf))
            label for="name" { "Name" }
            input #name name="name" type="text" value=(c.name) required;
            label for="app_type" { "Type" }
            select #app_type name="app_type" { (app_type_options(app_type(c))) }
            (urls("callbacks", "callbacks", "Allowed callback URLs", &c.callbacks))
            (urls("logout_urls", "allowed_logout_urls", "Allowed logout URLs", &c.allowed_logout_urls))
            (urls("web_origins", "web_origins", "Allowed web origins", &c.web_origins))
            (urls("allowed_origins", "allowed_origins", "Allowed origins (CORS)", &c.allowed_origins))
            (check("cross_origin_authentication", None, c.cross_origin_authentication, html! { "Allow cross-origin authentication (embedded login: auth0-js, Lock)" }))
            fieldset {
                legend { "Grant types" }
                @for (v, label) in GRANT_TYPES {
                    (check(&format!("grant_{v}"), None, granted.iter().any(|g| g == v), html! { (label) " " code.muted { (v) } }))
                }
            }
            label for="auth_method" { "Token endpoint authentication" }
            select #auth_method name="token_endpoint_auth_method" { (options(methods, method)) }
            button type="submit" { "Save" }
        }
    }
}

async fn update_application(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let grants: Vec<&str> = GRANT_TYPES
        .iter()
        .filter(|(v, _)| param(&f, &format!("grant_{v}")) == "on")
        .map(|(v, _)| *v)
        .collect();
    let body = json!({
        "name": param(&f, "name"),
        "app_type": param(&f, "app_type"),
        "callbacks": lines(param(&f, "callbacks")),
        "allowed_logout_urls": lines(param(&f, "allowed_logout_urls")),
        "web_origins": lines(param(&f, "web_origins")),
        "allowed_origins": lines(param(&f, "allowed_origins")),
        "cross_origin_authentication": param(&f, "cross_origin_authentication") == "on",
        "grant_types": grants,
        "token_endpoint_auth_method": param(&f, "token_endpoint_auth_method"),
    });
    let saved = match Payload::from_value(body) {
        Ok(p) => g.update_client(&id, p, false).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!("/admin/applications/{}?done=saved", seg(&id))),
        Err(e) => application_refused(g, &d, &id, e).await,
    }
}

/// The application's page again, saying why the action was refused.
async fn application_refused(g: &Gatehouse, d: &Dashboard, id: &str, e: ServiceError) -> Response {
    let (status, message) = refusal(e);
    let shown = Shown {
        error: Some(message),
        ..Default::default()
    };
    application_page(g, d, id, status, shown).await
}

async fn rotate_secret(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    match g.rotate_client_secret(&id, true).await {
        Ok(c) => {
            application_page(
                g,
                &d,
                &id,
                StatusCode::OK,
                Shown {
                    secret: c.secret,
                    notice: Some("Secret rotated: the old secret no longer works."),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => application_refused(g, &d, &id, e).await,
    }
}
