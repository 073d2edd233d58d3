//! Dashboard import and export: upload a users file to a connection, start an export from
//! a search, and a job's page with live progress, per-row errors and the download link.

use super::html::{self, Nav, esc, seg};
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::extract::{FieldError, MAX_FORM_FIELDS, drain_refused_upload, small_text_field};
use crate::hosted::VerifiedForm;
use axum::extract::{DefaultBodyLimit, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use gatehouse_core::payload::Payload;
use gatehouse_service::jobs::{ExportParams, ImportParams, ImportUpload};
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

async fn connection_options(g: &Gatehouse, with_any: bool) -> String {
    let list = g
        .list_connections(Some("auth0"), None, 0, 100)
        .await
        .map(|(l, _)| l)
        .unwrap_or_default();
    let any = if with_any {
        "<option value=\"\">All connections</option>"
    } else {
        ""
    };
    let options: String = list
        .iter()
        .map(|c| {
            format!(
                "<option value=\"{}\">{}</option>",
                esc(&html::text(&c["id"])),
                esc(&html::text(&c["name"]))
            )
        })
        .collect();
    format!("{any}{options}")
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
    let body = format!(
        "<h1>Import &amp; export</h1>{}\
<section class=\"card\"><h2>Import users</h2><p class=\"muted\">A JSON array or NDJSON file in Auth0's import format (password hashes included). \
<code>gatehouse convert</code> turns exports of Auth0, Okta, Gigya, Stormpath, Keycloak and Firebase into it.</p>\
<form method=\"post\" action=\"/admin/jobs/import\" enctype=\"multipart/form-data\">{}\
<label for=\"import-connection\">Connection</label><select id=\"import-connection\" name=\"connection_id\">{}</select>\
<label style=\"font-weight:400\"><input type=\"checkbox\" name=\"upsert\" value=\"true\"> Update users that already exist (upsert)</label>\
<label for=\"users-file\">Users file</label><input id=\"users-file\" name=\"users\" type=\"file\" accept=\".json,.ndjson,application/json\" required>\
<button type=\"submit\">Import</button></form></section>\
<section class=\"card\"><h2>Export users</h2><form method=\"post\" action=\"/admin/jobs/export\">{}\
<label for=\"export-q\">Search (optional, v3 query syntax)</label><input id=\"export-q\" name=\"q\" type=\"search\" value=\"{}\">\
<div class=\"row\"><div><label for=\"export-connection\">Connection</label><select id=\"export-connection\" name=\"connection_id\">{}</select></div>\
<div><label for=\"export-format\">Format</label><select id=\"export-format\" name=\"format\"><option value=\"json\">JSON (one user per line)</option><option value=\"csv\">CSV</option></select></div></div>\
<button type=\"submit\">Export</button></form></section>",
        html::error_box(error),
        html::csrf_input(&d.csrf),
        connection_options(g, false).await,
        html::csrf_input(&d.csrf),
        esc(q),
        connection_options(g, true).await,
    );
    d.page(status, "Import & export", Nav::Jobs, &body)
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
        Ok(job) => see_other(&format!("/admin/jobs/{}", seg(&html::text(&job["id"])))),
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
    let created: Result<Value, ServiceError> =
        match Payload::from_value(Value::Object(body)).and_then(ExportParams::from_payload) {
            Ok(p) => g.create_export_job(p).await,
            Err(e) => Err(e.into()),
        };
    match created {
        Ok(job) => see_other(&format!("/admin/jobs/{}", seg(&html::text(&job["id"])))),
        Err(e) => {
            let (status, message) = refusal(e);
            page(g, &d, status, Some(&message), param(&f, "q")).await
        }
    }
}

/// The job as the Management API shows it, for the page's live progress.
async fn job_status(State(s): State<AppState>, _d: Dashboard, Path(id): Path<String>) -> Response {
    match s.gatehouse.job(&id).await {
        Ok(job) => Json(job).into_response(),
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn job_page(State(s): State<AppState>, d: Dashboard, Path(id): Path<String>) -> Response {
    let g = &s.gatehouse;
    let job = match g.job(&id).await {
        Ok(j) => j,
        Err(e) => return d.refused(e, "Job", Nav::Jobs),
    };
    let status = html::text(&job["status"]);
    let running = matches!(status.as_str(), "pending" | "processing");
    let kind = html::text(&job["type"]);
    let processed = job["processed"].as_i64().unwrap_or(0);
    let total = job["total"].as_i64();
    let progress = match total {
        Some(t) if t > 0 => {
            format!("<progress id=\"job-progress\" max=\"{t}\" value=\"{processed}\"></progress>")
        }
        _ if running => "<progress id=\"job-progress\"></progress>".to_string(),
        _ => String::new(),
    };
    let summary = match job.get("summary") {
        Some(sm) => format!(
            "<p id=\"job-summary\">Inserted {}, updated {}, failed {} of {}.</p>",
            sm["inserted"], sm["updated"], sm["failed"], sm["total"]
        ),
        None => String::new(),
    };
    let download = match job["location"].as_str() {
        Some(url) => format!(
            "<p><a class=\"button\" id=\"download\" href=\"{}\" download>Download the export</a> <span class=\"muted\">(the link expires)</span></p>",
            esc(url)
        ),
        None => String::new(),
    };
    let errors = if kind == "users_import" && !running {
        match g.job_errors(&id).await {
            Ok(Some(Value::Array(rows))) => {
                let rows: String = rows
                    .iter()
                    .map(|r| {
                        let reasons: Vec<String> = r["errors"]
                            .as_array()
                            .map(|es| {
                                es.iter()
                                    .map(|e| {
                                        format!(
                                            "{} ({})",
                                            html::text(&e["message"]),
                                            html::text(&e["code"])
                                        )
                                    })
                                    .collect()
                            })
                            .unwrap_or_default();
                        let who = r["user"]["email"]
                            .as_str()
                            .or(r["user"]["user_id"].as_str())
                            .unwrap_or("");
                        format!(
                            "<tr><td class=\"num\">{}</td><td>{}</td><td>{}</td></tr>",
                            r["index"].as_i64().map_or(0, |i| i + 1),
                            esc(who),
                            esc(&reasons.join("; "))
                        )
                    })
                    .collect();
                format!(
                    "<section class=\"card\"><h2>Rows not imported</h2><div class=\"table\"><table id=\"job-errors\"><thead><tr><th>Row (first is 1)</th><th>User</th><th>Reason</th></tr></thead><tbody>{rows}</tbody></table></div></section>"
                )
            }
            Ok(_) => String::new(),
            Err(e) => html::error_box(Some(&refusal(e).1)),
        }
    } else {
        String::new()
    };
    let details = job["status_details"]
        .as_str()
        .map(|d| format!("<p class=\"error\">{}</p>", esc(d)))
        .unwrap_or_default();
    let live = if running {
        format!(
            " data-job=\"{}\"",
            esc(&format!("/admin/jobs/{}/status", seg(&id)))
        )
    } else {
        String::new()
    };
    let body = format!(
        "<p><a href=\"/admin/jobs\">← Import &amp; export</a></p><h1>{} job</h1>\
<section class=\"card\"{live}><dl><dt>Job</dt><dd><code>{}</code></dd><dt>Status</dt><dd id=\"job-status\" role=\"status\">{}</dd>\
<dt>Processed</dt><dd id=\"job-processed\">{processed}{}</dd><dt>Connection</dt><dd>{}</dd><dt>Started</dt><dd>{}</dd></dl>{progress}{summary}{details}{download}\
{}</section>{errors}",
        if kind == "users_import" {
            "Import"
        } else {
            "Export"
        },
        esc(&id),
        esc(&status),
        total.map(|t| format!(" of {t}")).unwrap_or_default(),
        esc(&html::text(&job["connection"])),
        html::json_time(&job["created_at"]),
        if running {
            "<p class=\"muted\">This page follows the job as it runs (or reload it).</p>"
        } else {
            ""
        },
    );
    d.page(StatusCode::OK, "Job", Nav::Jobs, &body)
}
