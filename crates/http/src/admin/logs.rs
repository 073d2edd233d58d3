//! Dashboard logs: the tenant's events, newest first, filtered by type, user and dates;
//! each event says in words what happened and links to its user.

use super::html::{self, Nav, esc, seg};
use super::{Dashboard, refusal};
use crate::AppState;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_core::log_event::{LogFilter, explain};
use gatehouse_store::LogQuery;
use std::collections::HashMap;

const PER_PAGE: i64 = 50;

pub fn router() -> Router<AppState> {
    Router::new().route("/admin/logs", get(logs))
}

/// `2026-12-02` as the first (or, with `end`, the last) millisecond of that UTC day.
fn day(text: &str, end: bool) -> Result<Option<i64>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let time = if end {
        "T23:59:59.999Z"
    } else {
        "T00:00:00.000Z"
    };
    gatehouse_core::time::parse_iso8601(&format!("{text}{time}"))
        .map(Some)
        .ok_or_else(|| format!("{text} is not a date (YYYY-MM-DD)."))
}

async fn logs(
    State(s): State<AppState>,
    d: Dashboard,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| {
        q.get(k)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    let (kind, user, from, to) = (get("type"), get("user"), get("from"), get("to"));
    let page: i64 = get("page").parse().unwrap_or(0).clamp(0, 10_000);
    let form = format!(
        "<form method=\"get\" action=\"/admin/logs\" class=\"row\">\
<div><label for=\"type\">Type code</label><input id=\"type\" name=\"type\" type=\"text\" value=\"{}\" placeholder=\"fp\"></div>\
<div><label for=\"user\">User ID</label><input id=\"user\" name=\"user\" type=\"text\" value=\"{}\" placeholder=\"auth0|…\"></div>\
<div><label for=\"from\">From</label><input id=\"from\" name=\"from\" type=\"date\" value=\"{}\"></div>\
<div><label for=\"to\">To</label><input id=\"to\" name=\"to\" type=\"date\" value=\"{}\"></div>\
<button type=\"submit\">Filter</button></form>",
        esc(&kind),
        esc(&user),
        esc(&from),
        esc(&to)
    );
    let dates = day(&from, false).and_then(|f| day(&to, true).map(|t| (f, t)));
    let (date_from, date_to) = match dates {
        Ok(d) => d,
        Err(e) => {
            let body = format!(
                "<h1>Logs</h1><section class=\"card\">{form}{}</section>",
                html::error_box(Some(&e))
            );
            return d.page(StatusCode::BAD_REQUEST, "Logs", Nav::Logs, &body);
        }
    };
    let query = LogQuery {
        filter: LogFilter {
            kind: Some(kind.clone()).filter(|k| !k.is_empty()),
            user_id: Some(user.clone()).filter(|u| !u.is_empty()),
            date_from,
            date_to,
            ..Default::default()
        },
        offset: page * PER_PAGE,
        limit: PER_PAGE,
        with_total: true,
        ..Default::default()
    };
    let (events, total) = match s.gatehouse.list_logs(&query).await {
        Ok(r) => r,
        Err(e) => {
            let (status, message) = refusal(e);
            let body = format!(
                "<h1>Logs</h1><section class=\"card\">{form}{}</section>",
                html::error_box(Some(&message))
            );
            return d.page(status, "Logs", Nav::Logs, &body);
        }
    };
    let total = total.unwrap_or(0);
    let rows: String = events
        .iter()
        .map(|l| {
            let kind = html::text(&l["type"]);
            let user_id = html::text(&l["user_id"]);
            let who = match html::text(&l["user_name"]) {
                n if n.is_empty() => user_id.clone(),
                n => n,
            };
            let user_cell = if user_id.is_empty() {
                esc(&who)
            } else {
                format!("<a href=\"/admin/users/{}\">{}</a>", seg(&user_id), esc(&who))
            };
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{user_cell}</td><td>{}</td><td>{}</td></tr>",
                html::json_time(&l["date"]),
                esc(&kind),
                esc(explain(&kind).unwrap_or("")),
                esc(&html::text(&l["description"])),
                esc(&match html::text(&l["client_name"]) {
                    n if n.is_empty() => html::text(&l["client_id"]),
                    n => n,
                }),
                esc(&html::text(&l["ip"])),
            )
        })
        .collect();
    let link = |p: i64| {
        format!(
            "/admin/logs?{}",
            html::query(&[
                ("type", &kind),
                ("user", &user),
                ("from", &from),
                ("to", &to),
                ("page", &p.to_string())
            ])
        )
    };
    let shown_to = page * PER_PAGE + events.len() as i64;
    let prev = if page > 0 {
        format!(
            "<a href=\"{}\" rel=\"prev\">Newer</a>",
            esc(&link(page - 1))
        )
    } else {
        String::new()
    };
    let next = if shown_to < total {
        format!(
            "<a href=\"{}\" rel=\"next\">Older</a>",
            esc(&link(page + 1))
        )
    } else {
        String::new()
    };
    let body = format!(
        "<h1>Logs</h1><section class=\"card\">{form}<p class=\"muted\" role=\"status\">{}</p>\
<div class=\"table\"><table id=\"logs\"><thead><tr><th>Date</th><th>Type</th><th>What happened</th><th>Details</th><th>User</th><th>Application</th><th>IP</th></tr></thead><tbody>{rows}</tbody></table></div>\
<nav class=\"pager\" aria-label=\"Pages\">{prev}{next}</nav></section>",
        html::count(total, "event", "events")
    );
    d.page(StatusCode::OK, "Logs", Nav::Logs, &body)
}
