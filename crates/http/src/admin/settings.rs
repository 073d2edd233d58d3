//! Dashboard applications (clients) and database connections: lists, create, edit. A
//! client secret is shown once, when it is made (creation or rotation).

use super::html::{self, Nav, button_form, esc, seg};
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::payload::Payload;
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Map, Value, json};
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
        .route(
            "/admin/connections",
            get(connections).post(create_connection),
        )
        .route(
            "/admin/connections/{id}",
            get(connection).post(update_connection),
        )
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

fn joined(v: &Value) -> String {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default()
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

fn app_type_options(current: &str) -> String {
    APP_TYPES
        .iter()
        .map(|(v, label)| {
            let sel = if *v == current { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{label}</option>")
        })
        .collect()
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
    let rows: String = list
        .iter()
        .map(|c| {
            let id = html::text(&c["client_id"]);
            format!(
                "<tr><td><a href=\"/admin/applications/{}\">{}</a></td><td><code>{}</code></td><td>{}</td></tr>",
                seg(&id),
                esc(&html::text(&c["name"])),
                esc(&id),
                esc(&html::text(&c["app_type"])),
            )
        })
        .collect();
    let body = format!(
        "<h1>Applications</h1><section class=\"card\"><p class=\"muted\">{}</p>\
<div class=\"table\"><table><thead><tr><th>Name</th><th>Client ID</th><th>Type</th></tr></thead><tbody>{rows}</tbody></table></div></section>\
<section class=\"card\"><h2>Create an application</h2>{}<form method=\"post\" action=\"/admin/applications\">{}\
<div class=\"row\"><div><label for=\"name\">Name</label><input id=\"name\" name=\"name\" type=\"text\" required value=\"{}\"></div>\
<div><label for=\"app_type\">Type</label><select id=\"app_type\" name=\"app_type\">{}</select></div><button type=\"submit\">Create</button></div></form></section>",
        html::count(total, "application", "applications"),
        html::error_box(error),
        html::csrf_input(&d.csrf),
        esc(name),
        app_type_options("regular_web"),
    );
    d.page(status, "Applications", Nav::Applications, &body)
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
    let created = match Payload::from_value(body) {
        Ok(p) => g.create_client(p).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(c) => {
            application_page(
                g,
                &d,
                &html::text(&c["client_id"]),
                StatusCode::CREATED,
                Shown {
                    secret: c["client_secret"].as_str().map(String::from),
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
    let sid = seg(id);
    let granted: Vec<&str> = c["grant_types"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let grants: String = GRANT_TYPES
        .iter()
        .map(|(v, label)| {
            let checked = if granted.contains(v) { " checked" } else { "" };
            format!(
                "<label style=\"font-weight:400\"><input type=\"checkbox\" name=\"grant_{v}\"{checked}> {label} <code class=\"muted\">{}</code></label>",
                esc(v)
            )
        })
        .collect();
    let method = html::text(&c["token_endpoint_auth_method"]);
    let methods: String = ["client_secret_post", "client_secret_basic", "none"]
        .iter()
        .map(|m| {
            let sel = if *m == method { " selected" } else { "" };
            format!("<option{sel}>{m}</option>")
        })
        .collect();
    let secret = match &shown.secret {
        Some(secret) => format!(
            "<div class=\"warn\" role=\"alert\"><p><strong>Client secret</strong> (shown once; copy it now):</p><pre id=\"client-secret\">{}</pre></div>",
            esc(secret)
        ),
        None => String::new(),
    };
    let body = format!(
        "<p><a href=\"/admin/applications\">← Applications</a></p><h1>{name}</h1>{}{}{secret}\
<section class=\"card\"><dl><dt>Client ID</dt><dd><code id=\"client-id\">{cid}</code></dd><dt>Type</dt><dd>{}</dd></dl>\
<h2>Client secret</h2><p class=\"muted\">Secrets are stored encrypted and never shown again. Rotating makes a new one and the old one stops working at once.</p>{}</section>\
<section class=\"card\"><h2>Settings</h2><form method=\"post\" action=\"/admin/applications/{sid}\">{}\
<label for=\"name\">Name</label><input id=\"name\" name=\"name\" type=\"text\" value=\"{name}\" required>\
<label for=\"app_type\">Type</label><select id=\"app_type\" name=\"app_type\">{}</select>\
<label for=\"callbacks\">Allowed callback URLs (one per line)</label><textarea id=\"callbacks\" name=\"callbacks\">{}</textarea>\
<label for=\"logout_urls\">Allowed logout URLs (one per line)</label><textarea id=\"logout_urls\" name=\"allowed_logout_urls\">{}</textarea>\
<label for=\"web_origins\">Allowed web origins (one per line)</label><textarea id=\"web_origins\" name=\"web_origins\">{}</textarea>\
<fieldset><legend>Grant types</legend>{grants}</fieldset>\
<label for=\"auth_method\">Token endpoint authentication</label><select id=\"auth_method\" name=\"token_endpoint_auth_method\">{methods}</select>\
<button type=\"submit\">Save</button></form></section>",
        html::notice(shown.notice),
        html::error_box(shown.error.as_deref()),
        esc(&html::text(&c["app_type"])),
        button_form(
            &format!("/admin/applications/{sid}/rotate"),
            &d.csrf,
            "Rotate secret",
            "secondary"
        ),
        html::csrf_input(&d.csrf),
        app_type_options(&html::text(&c["app_type"])),
        esc(&joined(&c["callbacks"])),
        esc(&joined(&c["allowed_logout_urls"])),
        esc(&joined(&c["web_origins"])),
        name = esc(&html::text(&c["name"])),
        cid = esc(id),
    );
    d.page(status, "Application", Nav::Applications, &body)
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
                    secret: c["client_secret"].as_str().map(String::from),
                    notice: Some("Secret rotated: the old secret no longer works."),
                    ..Default::default()
                },
            )
            .await
        }
        Err(e) => application_refused(g, &d, &id, e).await,
    }
}

const POLICIES: &[(&str, &str)] = &[
    ("none", "None: at least 1 character"),
    ("low", "Low: at least 6 characters"),
    ("fair", "Fair: 8 characters, lower, upper case and numbers"),
    (
        "good",
        "Good: 8 characters, 3 of lower, upper, numbers, special",
    ),
    (
        "excellent",
        "Excellent: 10 characters, no more than 2 identical in a row",
    ),
];

async fn connections(State(s): State<AppState>, d: Dashboard) -> Response {
    connections_page(&s.gatehouse, &d, StatusCode::OK, None).await
}

async fn connections_page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (list, total) = match g.list_connections(None, None, 0, 100).await {
        Ok(l) => l,
        Err(e) => return d.refused(e, "Connections", Nav::Connections),
    };
    let rows: String = list
        .iter()
        .map(|c| {
            let id = html::text(&c["id"]);
            format!(
                "<tr><td><a href=\"/admin/connections/{}\">{}</a></td><td>{}</td><td><code>{}</code></td></tr>",
                seg(&id),
                esc(&html::text(&c["name"])),
                esc(&html::text(&c["strategy"])),
                esc(&id),
            )
        })
        .collect();
    let body = format!(
        "<h1>Connections</h1><section class=\"card\"><p class=\"muted\">{}</p>\
<div class=\"table\"><table><thead><tr><th>Name</th><th>Strategy</th><th>ID</th></tr></thead><tbody>{rows}</tbody></table></div></section>\
<section class=\"card\"><h2>Create a database connection</h2>{}<form method=\"post\" action=\"/admin/connections\">{}\
<div class=\"row\"><div><label for=\"name\">Name</label><input id=\"name\" name=\"name\" type=\"text\" required pattern=\"[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?\"></div><button type=\"submit\">Create</button></div></form></section>",
        html::count(total, "connection", "connections"),
        html::error_box(error),
        html::csrf_input(&d.csrf),
    );
    d.page(status, "Connections", Nav::Connections, &body)
}

async fn create_connection(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let body = json!({"name": param(&f, "name"), "strategy": "auth0"});
    let created = match Payload::from_value(body) {
        Ok(p) => g.create_connection(p).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(c) => see_other(&format!(
            "/admin/connections/{}?done=created",
            seg(&html::text(&c["id"]))
        )),
        Err(e) => {
            let (status, message) = refusal(e);
            connections_page(g, &d, status, Some(&message)).await
        }
    }
}

async fn connection(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let notice = match param(&q, "done") {
        "created" => Some("Connection created."),
        "saved" => Some("Connection saved."),
        _ => None,
    };
    connection_page(&s.gatehouse, &d, &id, StatusCode::OK, notice, None).await
}

async fn connection_page(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status: StatusCode,
    notice: Option<&str>,
    error: Option<&str>,
) -> Response {
    let c = match g.get_connection(id).await {
        Ok(c) => c,
        Err(e) => return d.refused(e, "Connection", Nav::Connections),
    };
    let o = &c["options"];
    let policy = o["passwordPolicy"].as_str().unwrap_or("none");
    let policies: String = POLICIES
        .iter()
        .map(|(v, label)| {
            let sel = if *v == policy { " selected" } else { "" };
            format!("<option value=\"{v}\"{sel}>{label}</option>")
        })
        .collect();
    let checked = |b: bool| if b { " checked" } else { "" };
    let min_length = o["password_complexity_options"]["min_length"]
        .as_i64()
        .map(|n| n.to_string())
        .unwrap_or_default();
    let body = format!(
        "<p><a href=\"/admin/connections\">← Connections</a></p><h1>{}</h1>{}{}\
<section class=\"card\"><dl><dt>ID</dt><dd><code>{}</code></dd><dt>Strategy</dt><dd>{}</dd></dl></section>\
<section class=\"card\"><h2>Settings</h2><form method=\"post\" action=\"/admin/connections/{}\">{}\
<label for=\"policy\">Password policy</label><select id=\"policy\" name=\"passwordPolicy\">{policies}</select>\
<label for=\"min_length\">Minimum length (optional, 1–128)</label><input id=\"min_length\" name=\"min_length\" type=\"number\" min=\"1\" max=\"128\" value=\"{min_length}\">\
<label style=\"font-weight:400\"><input type=\"checkbox\" name=\"brute_force_protection\"{}> Brute-force protection</label>\
<label style=\"font-weight:400\"><input type=\"checkbox\" name=\"disable_signup\"{}> Disable sign-ups</label>\
<label style=\"font-weight:400\"><input type=\"checkbox\" name=\"password_no_personal_info\"{}> Refuse passwords containing the user's name or email</label>\
<button type=\"submit\">Save</button></form></section>",
        esc(&html::text(&c["name"])),
        html::notice(notice),
        html::error_box(error),
        esc(id),
        esc(&html::text(&c["strategy"])),
        seg(id),
        html::csrf_input(&d.csrf),
        checked(o["brute_force_protection"].as_bool().unwrap_or(false)),
        checked(o["disable_signup"].as_bool().unwrap_or(false)),
        checked(
            o["password_no_personal_info"]["enable"]
                .as_bool()
                .unwrap_or(false)
        ),
    );
    d.page(status, "Connection", Nav::Connections, &body)
}

async fn update_connection(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let current = match g.get_connection(&id).await {
        Ok(c) => c,
        Err(e) => {
            let (status, message) = refusal(e);
            return connection_page(g, &d, &id, status, None, Some(&message)).await;
        }
    };
    // `options` is replaced as a whole (Auth0's rule), so start from the current one.
    let mut options: Map<String, Value> =
        current["options"].as_object().cloned().unwrap_or_default();
    options.insert("passwordPolicy".into(), json!(param(&f, "passwordPolicy")));
    options.insert(
        "brute_force_protection".into(),
        json!(param(&f, "brute_force_protection") == "on"),
    );
    options.insert(
        "disable_signup".into(),
        json!(param(&f, "disable_signup") == "on"),
    );
    options.insert(
        "password_no_personal_info".into(),
        json!({"enable": param(&f, "password_no_personal_info") == "on"}),
    );
    match param(&f, "min_length").trim() {
        "" => {
            options.remove("password_complexity_options");
        }
        n => match n.parse::<i64>() {
            Ok(n) if (1..=128).contains(&n) => {
                options.insert(
                    "password_complexity_options".into(),
                    json!({ "min_length": n }),
                );
            }
            _ => {
                return connection_page(
                    g,
                    &d,
                    &id,
                    StatusCode::BAD_REQUEST,
                    None,
                    Some("The minimum length must be a number from 1 to 128."),
                )
                .await;
            }
        },
    }
    let saved = match Payload::from_value(json!({ "options": options })) {
        Ok(p) => g.update_connection(&id, p).await,
        Err(e) => Err(e.into()),
    };
    match saved {
        Ok(_) => see_other(&format!("/admin/connections/{}?done=saved", seg(&id))),
        Err(e) => {
            let (status, message) = refusal(e);
            connection_page(g, &d, &id, status, None, Some(&message)).await
        }
    }
}
