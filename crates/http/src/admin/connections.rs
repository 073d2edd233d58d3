//! Dashboard database connections: the list, create, edit (password policy, brute-force
//! protection, sign-ups).

use super::format::{self, seg};
use super::frame::Nav;
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use crate::templates::{Markup, check, csrf_input, error_box, html, notice, options, table};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_core::connection::ConnectionSettings;
use gatehouse_core::payload::Payload;
use gatehouse_service::Gatehouse;
use serde_json::{Map, Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/admin/connections",
            get(connections).post(create_connection),
        )
        .route(
            "/admin/connections/{id}",
            get(connection).post(update_connection),
        )
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
    let rows = html! {
        @for c in &list {
            tr {
                td { a href={ "/admin/connections/" (seg(&c.id)) } { (c.settings.name) } }
                td { (c.settings.strategy) }
                td { code { (c.id) } }
            }
        }
    };
    let body = html! {
        h1 { "Connections" }
        section.card {
            p.muted { (format::count(total, "connection", "connections")) }
            (table(None, &["Name", "Strategy", "ID"], rows))
        }
        section.card {
            h2 { "Create a database connection" }
            (error_box(error))
            form method="post" action="/admin/connections" {
                (csrf_input(&d.csrf))
                div.row {
                    div {
                        label for="name" { "Name" }
                        input #name name="name" type="text" required pattern="[A-Za-z0-9](?:[A-Za-z0-9\\-]*[A-Za-z0-9])?";
                    }
                    button type="submit" { "Create" }
                }
            }
        }
    };
    d.page(status, "Connections", Nav::Connections, body)
}

async fn create_connection(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let body = json!({"name": param(&f, "name"), "strategy": "auth0"});
    let created = match Payload::from_value(body).and_then(ConnectionSettings::from_create) {
        Ok(settings) => g.create_connection(settings).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(c) => see_other(&format!("/admin/connections/{}?done=created", seg(&c.id))),
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
    notice_text: Option<&str>,
    error: Option<&str>,
) -> Response {
    let c = match g.get_connection(id).await {
        Ok(c) => c,
        Err(e) => return d.refused(e, "Connection", Nav::Connections),
    };
    let body = html! {
        p { a href="/admin/connections" { "← Connections" } }
        h1 { (c.settings.name) }
        (notice(notice_text))
        (error_box(error))
        section.card {
            dl {
                dt { "ID" } dd { code { (id) } }
                dt { "Strategy" } dd { (c.settings.strategy) }
            }
        }
        section.card { h2 { "Settings" } (connection_form(id, &c.settings, &d.csrf)) }
    };
    d.page(status, "Connection", Nav::Connections, body)
}

/// A database connection's options: password policy and length, brute-force protection,
/// sign-ups, personal information in passwords.
fn connection_form(id: &str, c: &ConnectionSettings, csrf: &str) -> Markup {
    let rules = c.password_policy();
    let policy = rules.level.as_str();
    let min_length = rules.min_length;
    html! {
        form method="post" action={ "/admin/connections/" (seg(id)) } {
            (csrf_input(csrf))
            label for="policy" { "Password policy" }
            select #policy name="passwordPolicy" {
                (options(POLICIES.iter().map(|(v, l)| (Some(*v), *l)), policy))
            }
            label for="min_length" { "Minimum length (optional, 1–128)" }
            input #min_length name="min_length" type="number" min="1" max="128"
                value=(min_length.map(|n| n.to_string()).unwrap_or_default());
            (check("brute_force_protection", None, c.brute_force_protection(), html! { "Brute-force protection" }))
            (check("disable_signup", None, c.signup_disabled(), html! { "Disable sign-ups" }))
            (check("password_no_personal_info", None, rules.no_personal_info,
                html! { "Refuse passwords containing the user's name or email" }))
            button type="submit" { "Save" }
        }
    }
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
    let mut options: Map<String, Value> = current.settings.options;
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
