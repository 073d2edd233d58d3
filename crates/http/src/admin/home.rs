//! The dashboard's home page for full administrators: the tenant's activity from its log
//! (`gatehouse_service::activity`) as charts of the last 30 days and 12 weeks, each followed
//! by its numbers in a table. Delegated administrators keep landing on the users list.

use super::charts::{self, Chart, Series};
use super::frame::Nav;
use super::{Scoped, see_other};
use crate::AppState;
use crate::templates::{Markup, html, table};
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_service::activity::{Activity, DAY_MS, FAILURE_REASONS};

const LOGINS: &str = "#1d4ed8";
const SIGNUPS: &str = "#047857";
const ACTIVE: &str = "#7c3aed";
/// One colour per failure reason, in the order of `FAILURE_REASONS`.
const FAILURES: [&str; 3] = ["#b91c1c", "#d97706", "#4b5563"];

/// `2026-12-04` for a day since the epoch.
fn date(day: i64) -> String {
    let iso = gatehouse_core::time::iso8601(day * DAY_MS);
    iso.get(..10).unwrap_or(&iso).to_string()
}

/// `12-04`: short enough to sit under a bar.
fn short(day: i64) -> String {
    let d = date(day);
    d.get(5..).unwrap_or(&d).to_string()
}

pub(super) async fn home(State(s): State<AppState>, d: Scoped) -> Response {
    if !d.admin.access.is_full() {
        return see_other("/admin/users");
    }
    match s.gatehouse.activity().await {
        Ok(a) => d.page(StatusCode::OK, "Activity", Nav::Home, page(&a)),
        Err(e) => d.refused(e, "Activity", Nav::Home),
    }
}

fn page(a: &Activity) -> Markup {
    let day_labels: Vec<String> = a.days.iter().map(|d| short(d.day)).collect();
    let week_labels: Vec<String> = a.weeks.iter().map(|w| short(w.first_day)).collect();
    let days_chart = |id, title, description| Chart {
        id,
        title,
        description,
        labels: &day_labels,
        label_every: 7,
    };
    let first = a.days.first().map(|d| date(d.day)).unwrap_or_default();
    let last = a.days.last().map(|d| date(d.day)).unwrap_or_default();
    let total = |f: &dyn Fn(&gatehouse_service::activity::Day) -> i64| -> i64 {
        a.days.iter().map(f).sum()
    };
    let failures: Vec<Series<'_>> = FAILURE_REASONS
        .iter()
        .enumerate()
        .map(|(i, (_, name))| Series {
            name,
            colour: FAILURES[i],
            values: a.days.iter().map(|d| d.failures[i]).collect(),
        })
        .collect();
    html! {
        h1 { "Activity" }
        p.muted #activity-period { "From " (first) " to " (last) " (UTC days), from the tenant log." }
        section.card {
            h2 { "Logins per day" }
            p.muted { (total(&|d| d.logins)) " in 30 days." }
            (charts::bars(&days_chart("chart-logins", "Logins per day, last 30 days", "Successful logins per day; the numbers are in the table of days below."), &[Series { name: "Logins", colour: LOGINS, values: a.days.iter().map(|d| d.logins).collect() }]))
        }
        section.card {
            h2 { "Sign-ups per day" }
            p.muted { (total(&|d| d.signups)) " in 30 days." }
            (charts::bars(&days_chart("chart-signups", "Sign-ups per day, last 30 days", "Sign-ups per day; the numbers are in the table of days below."), &[Series { name: "Sign-ups", colour: SIGNUPS, values: a.days.iter().map(|d| d.signups).collect() }]))
        }
        section.card {
            h2 { "Failed logins per day, by reason" }
            p.muted { (total(&|d| d.failures.iter().sum())) " in 30 days." }
            (charts::bars(&days_chart("chart-failures", "Failed logins per day by reason, last 30 days", "Failed logins per day, stacked by reason; the numbers are in the table of days below."), &failures))
        }
        section.card {
            h2 { "Active users per day" }
            (charts::line(&days_chart("chart-daily-users", "Active users per day, last 30 days", "Users who logged in at least once each day; the numbers are in the table of days below."), &Series { name: "Active users", colour: ACTIVE, values: a.days.iter().map(|d| d.active_users).collect() }))
        }
        section.card {
            h2 { "Active users per week" }
            (charts::bars(&Chart { id: "chart-weekly-users", title: "Active users per week, last 12 weeks", description: "Users who logged in at least once each week (Monday to Sunday); the numbers are in the table of weeks below.", labels: &week_labels, label_every: 2 }, &[Series { name: "Active users", colour: ACTIVE, values: a.weeks.iter().map(|w| w.active_users).collect() }]))
        }
        section.card {
            h2 #days-heading { "Days" }
            (table(Some("activity-days"), &["Day", "Logins", "Sign-ups", FAILURE_REASONS[0].1, FAILURE_REASONS[1].1, FAILURE_REASONS[2].1, "Active users"], html! {
                @for d in a.days.iter().rev() {
                    tr {
                        td { (date(d.day)) }
                        td.num { (d.logins) }
                        td.num { (d.signups) }
                        @for f in d.failures { td.num { (f) } }
                        td.num { (d.active_users) }
                    }
                }
            }))
        }
        section.card {
            h2 #weeks-heading { "Weeks" }
            (table(Some("activity-weeks"), &["Week of", "Logins", "Sign-ups", "Active users"], html! {
                @for w in a.weeks.iter().rev() {
                    tr {
                        td { (date(w.first_day)) }
                        td.num { (w.logins) }
                        td.num { (w.signups) }
                        td.num { (w.active_users) }
                    }
                }
            }))
        }
    }
}
