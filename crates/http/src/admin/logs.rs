//! Dashboard logs: the tenant's events, newest first, filtered by type, user and dates;
//! each event says in words what happened and links to its user. Delegated administrators
//! whose role includes `read:logs` see them too, without the Management API's operations.

use super::format::{self, seg};
use super::frame::Nav;
use super::{Dashboard, Scoped, noted, refusal};
use crate::AppState;
use crate::templates::{Markup, error_box, html, pager, table};
use axum::Router;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use gatehouse_core::log_event::{LogEvent, LogFilter, explain};
use gatehouse_service::admin::DaePermission;
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

/// The filter as asked, kept in the form and in the pager's links.
struct Filter {
    kind: String,
    user: String,
    from: String,
    to: String,
}

impl Filter {
    fn link(&self, page: i64) -> String {
        format!(
            "/admin/logs?{}",
            format::query(&[
                ("type", &self.kind),
                ("user", &self.user),
                ("from", &self.from),
                ("to", &self.to),
                ("page", &page.to_string())
            ])
        )
    }
}

fn filter_form(f: &Filter) -> Markup {
    html! {
        form.row method="get" action="/admin/logs" {
            div { label for="type" { "Type code" } input #type name="type" type="text" value=(f.kind) placeholder="fp"; }
            div { label for="user" { "User ID" } input #user name="user" type="text" value=(f.user) placeholder="auth0|…"; }
            div { label for="from" { "From" } input #from name="from" type="date" value=(f.from); }
            div { label for="to" { "To" } input #to name="to" type="date" value=(f.to); }
            button type="submit" { "Filter" }
        }
    }
}

/// The page with the filter and, instead of events, why there are none.
fn refused(d: &Dashboard, status: StatusCode, f: &Filter, message: &str) -> Response {
    let body = html! {
        h1 { "Logs" }
        section.card { (filter_form(f)) (error_box(Some(message))) }
    };
    d.page(status, "Logs", Nav::Logs, body)
}

/// The rules and actions a login ran, in order, as its event's details name them.
fn ran(l: &LogEvent) -> Markup {
    let names = |key: &str| -> Vec<String> {
        l.details
            .get(key)
            .and_then(|v| v.as_array())
            .map(|a| a.iter().map(format::text).collect())
            .unwrap_or_default()
    };
    let (rules, actions) = (names("rules"), names("actions"));
    html! {
        @if !rules.is_empty() || !actions.is_empty() {
            div.ran.muted {
                @if !rules.is_empty() { "Rules: " (rules.join(" → ")) }
                @if !rules.is_empty() && !actions.is_empty() { "; " }
                @if !actions.is_empty() { "Actions: " (actions.join(" → ")) }
            }
        }
    }
}

/// One event: when, its code in words, who and from where; the user links to their page.
fn event_row(l: &LogEvent) -> Markup {
    let kind = l.kind.as_str();
    let user_id = l.user_id.clone().unwrap_or_default();
    let who = l.user_name.clone().unwrap_or_else(|| user_id.clone());
    let application = l.client_id.as_deref().unwrap_or("");
    html! {
        tr {
            td { (format::time(Some(l.date))) }
            td { code { (kind) } }
            td { (explain(kind).unwrap_or("")) }
            td {
                (l.description.as_deref().unwrap_or(""))
                (ran(l))
            }
            td {
                @if user_id.is_empty() { (who) }
                @else { a href={ "/admin/users/" (seg(&user_id)) } { (who) } }
            }
            td { (application) }
            td { (l.ip.as_deref().unwrap_or("")) }
        }
    }
}

async fn logs(
    State(s): State<AppState>,
    d: Scoped,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let get = |k: &str| {
        q.get(k)
            .map(String::as_str)
            .unwrap_or("")
            .trim()
            .to_string()
    };
    // Refused before anything is read, whatever was asked.
    if let Err(e) = s.gatehouse.require_as(&d.scope, DaePermission::ReadLogs) {
        return d.refused(e, "Logs", Nav::Logs);
    }
    let f = Filter {
        kind: get("type"),
        user: get("user"),
        from: get("from"),
        to: get("to"),
    };
    let page: i64 = get("page").parse().unwrap_or(0).clamp(0, 10_000);
    let dates = day(&f.from, false).and_then(|from| day(&f.to, true).map(|to| (from, to)));
    let (date_from, date_to) = match dates {
        Ok(d) => d,
        Err(e) => return refused(&d, StatusCode::BAD_REQUEST, &f, &e),
    };
    let query = LogQuery {
        filter: LogFilter {
            kind: Some(f.kind.clone()).filter(|k| !k.is_empty()),
            user_id: Some(f.user.clone()).filter(|u| !u.is_empty()),
            date_from,
            date_to,
            ..Default::default()
        },
        offset: page * PER_PAGE,
        limit: PER_PAGE,
        with_total: true,
        ..Default::default()
    };
    let (events, total) = match s.gatehouse.logs_as(&d.scope, query).await {
        Ok(r) => r,
        Err(e) => {
            let (status, message) = refusal(e);
            return noted(refused(&d, status, &f, &message), &message);
        }
    };
    let total = total.unwrap_or(0);
    let shown_to = page * PER_PAGE + events.len() as i64;
    let headings = [
        "Date",
        "Type",
        "What happened",
        "Details",
        "User",
        "Application",
        "IP",
    ];
    let body = html! {
        h1 { "Logs" }
        section.card {
            (filter_form(&f))
            p.muted role="status" { (format::count(total, "event", "events")) }
            (table(Some("logs"), &headings, html! { @for l in &events { (event_row(l)) } }))
            (pager(
                (page > 0).then(|| (f.link(page - 1), "Newer")),
                None,
                (shown_to < total).then(|| (f.link(page + 1), "Older")),
            ))
        }
    };
    d.page(StatusCode::OK, "Logs", Nav::Logs, body)
}
