//! Dashboard import and export: upload a users file to a connection, start an export from
//! a search, and a job's page with live progress, per-row errors and the download link.

use super::format::{self, seg};
use super::frame::Nav;
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::extract::{FieldError, MAX_FORM_FIELDS, drain_refused_upload, small_text_field};
use crate::hosted::VerifiedForm;
use crate::templates::{Markup, check, csrf_input, error_box, html, table};
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::payload::Payload;
use gatehouse_service::jobs::{
    ExportParams, ImportParams, ImportUpload, JobView, RefusedRow, USERS_IMPORT,
};
use gatehouse_service::{Gatehouse, ServiceError};
use serde_json::{Value, json};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/jobs", get(jobs_page))
        .route(
            "/admin/jobs/import",
            post(import).layer(DefaultBodyLimit::disable()),
        )
        .route("/admin/jobs/export", post(export))
        .route("/admin/jobs/{id}", get(job_page))
        .route("/admin/jobs/{id}/status", get(job_status))
}

/// The database connections as a select's options, "All connections" first when asked.
async fn connection_options(g: &Gatehouse, with_any: bool) -> Markup {
    let list = g
        .list_connections(Some("auth0"), None, 0, 100)
        .await
        .map(|(l, _)| l)
        .unwrap_or_default();
    html! {
        @if with_any { option value="" { "All connections" } }
        @for c in &list {
            option value=(c.id) { (c.settings.name) }
        }
    }
}

async fn jobs_page(
    State(s): State<AppState>,
    d: Dashboard,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    page(&s.gatehouse, &d, StatusCode::OK, None, param(&q, "q")).await
}

async fn page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    error: Option<&str>,
    q: &str,
) -> Response {
    let body = html! {
        h1 { "Import & export" }
        (error_box(error))
        (import_form(&d.csrf, connection_options(g, false).await))
        (export_form(&d.csrf, q, connection_options(g, true).await))
    };
    d.page(status, "Import & export", Nav::Jobs, body)
}

fn import_form(csrf: &str, connections: Markup) -> Markup {
    html! {
        section.card {
            h2 { "Import users" }
            p.muted {
                "A JSON array or NDJSON file in Auth0's import format (password hashes included). "
                code { "gatehouse convert" }
                " turns exports of Auth0, Okta, Gigya, Stormpath, Keycloak and Firebase into it."
            }
            form method="post" action="/admin/jobs/import" enctype="multipart/form-data" {
                (csrf_input(csrf))
                label for="import-connection" { "Connection" }
                select #import-connection name="connection_id" { (connections) }
                (check("upsert", Some("true"), false, html! { "Update users that already exist (upsert)" }))
                label for="users-file" { "Users file" }
                input #users-file name="users" type="file" accept=".json,.ndjson,application/json" required;
                button type="submit" { "Import" }
            }
        }
    }
}

fn export_form(csrf: &str, q: &str, connections: Markup) -> Markup {
    html! {
        section.card {
            h2 { "Export users" }
            form method="post" action="/admin/jobs/export" {
                (csrf_input(csrf))
                label for="export-q" { "Search (optional, v3 query syntax)" }
                input #export-q name="q" type="search" value=(q);
                div.row {
                    div {
                        label for="export-connection" { "Connection" }
                        select #export-connection name="connection_id" { (connections) }
                    }
                    div {
                        label for="export-format" { "Format" }
                        select #export-format name="format" {
                            option value="json" { "JSON (one user per line)" }
                            option value="csv" { "CSV" }
                        }
                    }
                }
                button type="submit" { "Export" }
            }
        }
    }
}

/// The multipart upload. The CSRF token must come before the file, so a forged upload is
/// refused before any of it is stored.
async fn import(
    State(s): State<AppState>,
    d: Dashboard,
    headers: axum::http::HeaderMap,
    multipart: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> Response {
    let g = &s.gatehouse;
    let csrf_cookie = crate::hosted::cookies::read(&headers, crate::hosted::cookies::CSRF_COOKIE);
    let refused = |m: &str| (StatusCode::BAD_REQUEST, m.to_string());
    let mut upload: Option<ImportUpload> = None;
    let mut params = ImportParams {
        send_completion_email: false,
        ..ImportParams::default()
    };
    let mut verified = false;
    let mut fields = 0usize;
    let mut multipart = match multipart {
        Ok(m) => m,
        Err(_) => {
            let message = "The form must be sent as multipart/form-data.";
            return page(g, &d, StatusCode::BAD_REQUEST, Some(message), "").await;
        }
    };
    let outcome: Result<(), (StatusCode, String)> = async {
        while let Some(mut field) = multipart
            .next_field()
            .await
            .map_err(|e| refused(&e.body_text()))?
        {
            let name = field.name().unwrap_or_default().to_string();
            if name == "users" {
                if !verified {
                    return Err((
                        StatusCode::FORBIDDEN,
                        "This form could not be verified; reload the page and try again.".into(),
                    ));
                }
                if upload.is_some() {
                    return Err(refused("Only one users file can be imported at a time."));
                }
                let u = upload.insert(g.begin_import().await.map_err(refusal)?);
                let mut received = 0usize;
                while let Some(chunk) = field.chunk().await.map_err(|e| refused(&e.body_text()))? {
                    received += chunk.len();
                    if received > s.import_max_bytes {
                        return Err((
                            StatusCode::PAYLOAD_TOO_LARGE,
                            format!(
                                "The users file is larger than {} bytes.",
                                s.import_max_bytes
                            ),
                        ));
                    }
                    u.feed(&chunk).await.map_err(refusal)?;
                }
                continue;
            }
            fields += 1;
            if fields > MAX_FORM_FIELDS {
                return Err(refused("The form has too many fields."));
            }
            let text = small_text_field(&mut field).await.map_err(|e| match e {
                FieldError::TooLong => refused("A form field is too long."),
                FieldError::Malformed(m) => refused(&m),
            })?;
            match name.as_str() {
                "_csrf" => verified = g.check_csrf(csrf_cookie.as_deref(), Some(&text)),
                "connection_id" => params.connection_id = text,
                "upsert" => params.upsert = text == "true",
                _ => {}
            }
        }
        Ok(())
    }
    .await;
    if outcome.is_err() {
        drain_refused_upload(&mut multipart).await;
    }
    let finished = match (outcome, upload) {
        (Err(e), u) => {
            if let Some(u) = u {
                u.abort().await;
            }
            Err(e)
        }
        (Ok(()), None) => Err(refused("Choose a users file to import.")),
        (Ok(()), Some(u)) => u.finish(params).await.map_err(refusal),
    };
    match finished {
        Ok(job) => see_other(&format!("/admin/jobs/{}", seg(&job.id))),
        Err((status, message)) => page(g, &d, status, Some(&message), "").await,
    }
}

async fn export(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let mut body = serde_json::Map::new();
    body.insert("format".into(), json!(param(&f, "format")));
    if !param(&f, "connection_id").is_empty() {
        body.insert("connection_id".into(), json!(param(&f, "connection_id")));
    }
    if !param(&f, "q").trim().is_empty() {
        body.insert("q".into(), json!(param(&f, "q").trim()));
    }
    let created: Result<JobView, ServiceError> =
        match Payload::from_value(Value::Object(body)).and_then(ExportParams::from_payload) {
            Ok(p) => g.create_export_job(p).await,
            Err(e) => Err(e.into()),
        };
    match created {
        Ok(job) => see_other(&format!("/admin/jobs/{}", seg(&job.id))),
        Err(e) => {
            let (status, message) = refusal(e);
            page(g, &d, status, Some(&message), param(&f, "q")).await
        }
    }
}

/// The job as the Management API shows it, for the page's live progress.
async fn job_status(State(s): State<AppState>, _d: Dashboard, Path(id): Path<String>) -> Response {
    match s.gatehouse.job(&id).await {
        Ok(job) => Json(crate::management::render::job(&job)).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn job_page(State(s): State<AppState>, d: Dashboard, Path(id): Path<String>) -> Response {
    let g = &s.gatehouse;
    let job = match g.job(&id).await {
        Ok(j) => j,
        Err(e) => return d.refused(e, "Job", Nav::Jobs),
    };
    let running = job.is_running();
    let import = job.kind == USERS_IMPORT;
    let errors = if import && !running {
        match g.job_errors(&id).await {
            Ok(Some(rows)) => rejected_rows(&rows),
            Ok(_) => html! {},
            Err(e) => error_box(Some(&refusal(e).1)),
        }
    } else {
        html! {}
    };
    // While it runs, the script polls this address and reloads the page when it ends.
    let live = running.then(|| format!("/admin/jobs/{}/status", seg(&id)));
    let body = html! {
        p { a href="/admin/jobs" { "← Import & export" } }
        h1 { (if import { "Import" } else { "Export" }) " job" }
        section.card data-job=[live] {
            (job_facts(&id, &job))
            (job_outcome(&job, running))
            @if running {
                p.muted { "This page follows the job as it runs (or reload it)." }
            }
        }
        (errors)
    };
    d.page(StatusCode::OK, "Job", Nav::Jobs, body)
}

/// What the job is and how far it got (the script updates status and count in place).
fn job_facts(id: &str, job: &JobView) -> Markup {
    let connection = job
        .params
        .get("connection")
        .map(format::text)
        .unwrap_or_default();
    html! {
        dl {
            dt { "Job" } dd { code { (id) } }
            dt { "Status" } dd #job-status role="status" { (job.status) }
            dt { "Processed" }
            dd #job-processed {
                (job.processed)
                @if let Some(t) = job.total { " of " (t) }
            }
            dt { "Connection" } dd { (connection) }
            dt { "Started" } dd { (format::time(Some(job.created_at))) }
        }
    }
}

/// Progress, the import's summary, why it failed, and the export's download.
fn job_outcome(job: &JobView, running: bool) -> Markup {
    html! {
        @match job.total {
            Some(t) if t > 0 => progress #job-progress max=(t) value=(job.processed) {},
            _ if running => progress #job-progress {},
            _ => {},
        }
        @if let Some(sm) = &job.summary {
            p #job-summary {
                "Inserted " (sm.inserted) ", updated " (sm.updated)
                ", failed " (sm.failed) " of " (sm.inserted + sm.updated + sm.failed) "."
            }
        }
        @if let Some(details) = &job.status_details {
            p.error { (details) }
        }
        @if let Some(url) = &job.location {
            p {
                a.button #download href=(url) download { "Download the export" }
                " "
                span.muted { "(the link expires)" }
            }
        }
    }
}

/// The rows an import refused, numbered from 1 as a person counts lines.
fn rejected_rows(rows: &[RefusedRow]) -> Markup {
    let row = |r: &RefusedRow| {
        let reasons: Vec<String> = r
            .reasons
            .iter()
            .map(|e| format!("{} ({})", e.message, e.code))
            .collect();
        // The row as the file gave it: whatever identifies the person, if anything does.
        let who = r.user["email"]
            .as_str()
            .or(r.user["user_id"].as_str())
            .unwrap_or("");
        html! {
            tr {
                td.num { (r.index + 1) }
                td { (who) }
                td { (reasons.join("; ")) }
            }
        }
    };
    html! {
        section.card {
            h2 { "Rows not imported" }
            (table(Some("job-errors"), &["Row (first is 1)", "User", "Reason"], html! { @for r in rows { (row(r)) } }))
        }
    }
}
