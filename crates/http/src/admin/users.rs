//! Dashboard users: the searchable list (Auth0's v3 query syntax), a user's page (profile,
//! identities, metadata editor, login statistics, events) and the actions on a user, "Log in
//! as this user" (impersonation) among them for administrators allowed to.
//!
//! Every handler reaches users through the request's `UserScope` (the service's `…_as`
//! calls), so a delegated administrator's filter and level hold for every list, view and
//! action; the pages only leave out what the scope would refuse anyway.

use super::format::{self, seg};
use super::frame::Nav;
use super::{Scoped, noted, param, refusal, see_other};
use crate::AppState;
use crate::extract::ClientInfo;
use crate::hosted::VerifiedForm;
use crate::templates::{
    Markup, button_form, check, csrf_input, error_box, html, notice, options, pager, table,
    table_with,
};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::delegated_admin::MEMBERSHIPS_KEY;
use gatehouse_core::log_event::{LogEvent, LogFilter, codes, explain};
use gatehouse_core::payload::Payload;
use gatehouse_core::redirect::web_origin;
use gatehouse_core::user::{User, UserPatch};
use gatehouse_service::admin::{DaePermission, may_impersonate};
use gatehouse_service::browser::Browser;
use gatehouse_service::delegated_admin::{CreateForm, UserAction, UserScope};
use gatehouse_service::impersonation::ImpersonationTarget;
use gatehouse_service::user_blocks::UserBlock;
use gatehouse_service::{Gatehouse, ServiceError};
use gatehouse_store::{LogQuery, SortField, UserOrder, UserSearch};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

const PER_PAGE: i64 = 25;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin/users", get(list).post(create))
        .route("/admin/users/new", get(new_form))
        .route("/admin/users/{id}", get(show))
        .route("/admin/users/{id}/metadata", post(save_metadata))
        .route("/admin/users/{id}/delete", get(confirm_delete).post(delete))
        .route("/admin/users/{id}/impersonate", post(impersonate))
        .route("/admin/users/{id}/{action}", post(act))
}

type Params = Query<HashMap<String, String>>;

/// Columns the list can be sorted by, with their headings.
const SORTABLE: &[(&str, &str)] = &[
    ("email", "Email"),
    ("name", "Name"),
    ("logins_count", "Logins"),
    ("last_login", "Last login"),
    ("created_at", "Created"),
];

/// The search syntax, folded under the search box.
fn query_help() -> Markup {
    html! {
        details #q-help {
            summary { "Query syntax" }
            ul.muted {
                li { code { "email:\"jane@example.com\"" } " an exact field value; " code { "email:*@example.com" } " or " code { "name:jan*" } " with wildcards" }
                li { code { "logins_count:[5 TO *]" } ", " code { "created_at:[2026-01-01 TO 2026-06-30]" } " ranges (" code { "{ }" } " exclude the ends)" }
                li { code { "user_metadata.plan:\"pro\"" } ", " code { "app_metadata.roles:admin" } " metadata fields" }
                li { code { "blocked:true AND NOT email_verified:true" } ", " code { "(a OR b)" } ", " code { "_exists_:phone_number" } }
                li { "a bare word searches email, name, nickname and username" }
            }
        }
    }
}

/// The search box, with what is wrong with the query (if anything) and the syntax help.
fn search_form(text: &str, sort: &str, problem: Option<Markup>) -> Markup {
    let described_by = if problem.is_some() {
        "q-help q-error"
    } else {
        "q-help"
    };
    html! {
        form method="get" action="/admin/users" role="search" {
            label for="q" { "Search users" }
            div.row {
                input #q type="search" name="q" value=(text)
                    placeholder="email:*@example.com AND logins_count:[1 TO *]"
                    aria-describedby=(described_by) autocomplete="off";
                input type="hidden" name="sort" value=(sort);
                button type="submit" { "Search" }
            }
            @if let Some(p) = problem { (p) }
            (query_help())
        }
    }
}

/// The list's heading with the way to create a user (when the scope allows it).
fn list_head(scope: &UserScope) -> Markup {
    html! {
        div.row {
            h1 { "Users" }
            @if scope.may_create().is_ok() { a.button href="/admin/users/new" { "Create user" } }
        }
    }
}

/// The query's error where it is: the query with a caret under the position.
fn query_problem(text: &str, e: &gatehouse_core::search::ParseError) -> Markup {
    let caret = format!("{}^", " ".repeat(e.position.min(text.chars().count())));
    html! {
        div.error #q-error role="alert" {
            "The query is not valid at character " (e.position + 1) ": " (e.message) "\n"
            code { (text) "\n" (caret) }
        }
    }
}

/// The sortable column headings; each links to sorting by it, the other way when it is
/// the current order.
fn sort_headings(sort: &str, link: impl Fn(&str) -> String) -> Markup {
    html! {
        @for (field, label) in SORTABLE {
            @let (next, mark, aria) = match sort.split_once(':') {
                Some((f, "1")) if f == *field => (format!("{field}:-1"), " ▲", "ascending"),
                Some((f, "-1")) if f == *field => (format!("{field}:1"), " ▼", "descending"),
                _ => (format!("{field}:1"), "", "none"),
            };
            th aria-sort=(aria) class=[(!matches!(*field, "email" | "name")).then_some("wide")] {
                a href=(link(&next)) { (label) (mark) }
            }
        }
        th.wide { "Connection" }
    }
}

fn user_row(u: &User) -> Markup {
    html! {
        tr {
            td {
                a href={ "/admin/users/" (seg(&u.user_id)) } {
                    (u.email.as_deref().or(u.username.as_deref()).unwrap_or(&u.user_id))
                }
                @if u.blocked == Some(true) { " " span.badge.bad { "blocked" } }
            }
            td { (u.name.as_deref().unwrap_or("")) }
            td.num.wide { (u.logins_count) }
            td.wide { (format::time(u.last_login)) }
            td.wide { (format::time(Some(u.created_at))) }
            td.wide { (u.connection) }
        }
    }
}

/// How many users match and which of them the page shows.
fn summary(total: i64, first: i64, last: i64) -> String {
    if total == 0 {
        return "No users match.".into();
    }
    let count = format::count(total, "user", "users");
    format!("{count} · showing {first}–{last}")
}

async fn list(State(s): State<AppState>, d: Scoped, Query(q): Params) -> Response {
    let text = param(&q, "q").trim().to_string();
    let sort_raw = param(&q, "sort").to_string();
    let page: i64 = param(&q, "page").parse().unwrap_or(0).clamp(0, 10_000);
    let filter = if text.is_empty() {
        None
    } else {
        match gatehouse_core::search::parse(&text) {
            Ok(f) => Some(f),
            Err(e) => {
                let body = html! {
                    (list_head(&d.scope))
                    section.card { (search_form(&text, &sort_raw, Some(query_problem(&text, &e)))) }
                };
                return d.page(StatusCode::BAD_REQUEST, "Users", Nav::Users, body);
            }
        }
    };
    let sort = sort_raw
        .split_once(':')
        .and_then(|(f, dir)| SortField::parse(f).map(|field| (field, dir != "-1")));
    let search = UserSearch {
        filter,
        order: sort.map_or(UserOrder::Created, |(f, asc)| UserOrder::Field(f, asc)),
        offset: page * PER_PAGE,
        limit: PER_PAGE,
        with_total: true,
        ..Default::default()
    };
    let result = match s.gatehouse.search_users_as(&d.scope, search).await {
        Ok(r) => r,
        Err(e) => {
            let (status, message) = refusal(e);
            let problem = error_box(Some(&message));
            let body = html! {
                (list_head(&d.scope))
                section.card { (search_form(&text, &sort_raw, Some(problem))) }
            };
            return noted(d.page(status, "Users", Nav::Users, body), &message);
        }
    };
    let total = result.total.unwrap_or(0);
    let link = |page: i64, sort: &str| {
        format!(
            "/admin/users?{}",
            format::query(&[("q", &text), ("sort", sort), ("page", &page.to_string())])
        )
    };
    let last = page * PER_PAGE + result.users.len() as i64;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let rows = html! { @for u in &result.users { (user_row(u)) } };
    let body = html! {
        (list_head(&d.scope))
        (notice((param(&q, "deleted") == "1").then_some("User deleted.")))
        @if let Some(nobody) = d.scope.nobody() {
            p.warn #nobody role="alert" { "You see no users: " (nobody) "." }
        }
        section.card {
            (search_form(&text, &sort_raw, None))
            p.muted #total role="status" { (summary(total, page * PER_PAGE + 1, last)) }
            (table_with(None, sort_headings(&sort_raw, |next| link(0, next)), rows))
            (pager(
                (page > 0).then(|| (link(page - 1, &sort_raw), "Previous")),
                Some(format!("Page {} of {pages}", page + 1)),
                (last < total).then(|| (link(page + 1, &sort_raw), "Next")),
            ))
        }
    };
    d.page(StatusCode::OK, "Users", Nav::Users, body)
}

/// The database connections a user can be created on.
async fn database_connections(g: &Gatehouse) -> Vec<String> {
    match g.list_connections(Some("auth0"), None, 0, 100).await {
        Ok((list, _)) => list.iter().map(|c| c.settings.name.clone()).collect(),
        Err(_) => vec![],
    }
}

async fn new_form(State(s): State<AppState>, d: Scoped) -> Response {
    if let Err(refused) = d.scope.may_create() {
        return d.refused(refused.into(), "Create user", Nav::Users);
    }
    create_page(&s.gatehouse, &d, StatusCode::OK, &HashMap::new(), None).await
}

/// The form a delegated administrator's create form posts a membership under.
const MEMBERSHIP_FIELD: &str = "membership_";

/// An input for one of `create_fields`; its id is the name with dots as dashes.
fn create_input(field: &str, form: &HashMap<String, String>, connections: &[String]) -> Markup {
    let id = field.replace('.', "-");
    let value = param(form, field);
    html! {
        @match field {
            "email_verified" => (check(field, None, value == "on", html! { "Email already verified" })),
            "verify_email" => (check(field, None, value == "on", html! { "Send a verification email" })),
            "connection" => {
                label for=(id) { "Connection" }
                select id=(id) name=(field) {
                    (options(connections.iter().map(|c| (None, c.as_str())), value))
                }
            }
            "password" => {
                label for=(id) { "Password" }
                input id=(id) name=(field) type="password" autocomplete="new-password" required;
            }
            "email" => {
                label for=(id) { "Email" }
                input id=(id) name=(field) type="email" required value=(value);
            }
            _ => {
                label for=(id) {
                    @if let Some(key) = field.strip_prefix("user_metadata.") { (key) " " span.muted { "(user_metadata)" } }
                    @else { (field) }
                }
                input id=(id) name=(field) type="text" value=(value);
            }
        }
    }
}

async fn create_page(
    g: &Gatehouse,
    d: &Scoped,
    status: StatusCode,
    form: &HashMap<String, String>,
    error: Option<&str>,
) -> Response {
    let connections = database_connections(g).await;
    let fields = match d.scope.create_form() {
        // A full administrator's form.
        None => html! {
            label for="email" { "Email" }
            input #email name="email" type="email" required value=(param(form, "email"));
            label for="password" { "Password" }
            input #password name="password" type="password" autocomplete="new-password" required;
            label for="connection" { "Connection" }
            select #connection name="connection" {
                (options(connections.iter().map(|c| (None, c.as_str())), param(form, "connection")))
            }
            (check("email_verified", None, param(form, "email_verified") == "on", html! { "Email already verified" }))
        },
        // A delegated administrator's: the fields the setting allows, and its memberships.
        Some((allowed, memberships)) => html! {
            @for f in &allowed { (create_input(f, form, &connections)) }
            @if !memberships.is_empty() {
                fieldset #memberships {
                    legend { "Memberships" }
                    @for (i, m) in memberships.iter().enumerate() {
                        @let name = format!("{MEMBERSHIP_FIELD}{i}");
                        (check(&name, Some(m), param(form, &name) == m.as_str(), html! { (m) }))
                    }
                }
            }
        },
    };
    let body = html! {
        h1 { "Create user" }
        section.card {
            (error_box(error))
            form method="post" action="/admin/users" {
                (csrf_input(&d.csrf))
                (fields)
                button type="submit" { "Create" }
                " "
                a href="/admin/users" { "Cancel" }
            }
        }
    };
    d.page(status, "Create user", Nav::Users, body)
}

/// What the create form posted. A full administrator's form has its four fields; a
/// delegated administrator's everything posted is passed on, so the service refuses what
/// the setting does not allow rather than it being dropped unseen.
fn create_form(scope: &UserScope, f: &HashMap<String, String>) -> CreateForm {
    let value = |k: &str, v: &str| match k {
        "email_verified" | "verify_email" => Value::Bool(v == "on"),
        _ => json!(v),
    };
    if scope.is_full() {
        return CreateForm {
            fields: ["connection", "email", "password", "email_verified"]
                .iter()
                .map(|k| (k.to_string(), value(k, param(f, k))))
                .collect(),
            memberships: vec![],
        };
    }
    let mut fields: Vec<(String, Value)> = f
        .iter()
        .filter(|(k, _)| *k != "_csrf" && !k.starts_with(MEMBERSHIP_FIELD))
        .map(|(k, v)| (k.clone(), value(k, v)))
        .collect();
    fields.sort_by(|a, b| a.0.cmp(&b.0));
    let mut memberships: Vec<(&String, &String)> = f
        .iter()
        .filter(|(k, _)| k.starts_with(MEMBERSHIP_FIELD))
        .collect();
    memberships.sort();
    CreateForm {
        fields,
        memberships: memberships.into_iter().map(|(_, v)| v.clone()).collect(),
    }
}

async fn create(State(s): State<AppState>, d: Scoped, VerifiedForm(f): VerifiedForm) -> Response {
    let g = &s.gatehouse;
    match g.create_user_as(&d.scope, create_form(&d.scope, &f)).await {
        Ok(u) => see_other(&format!("/admin/users/{}?done=created", seg(&u.user_id))),
        Err(e) => {
            let (status, message) = refusal(e);
            noted(
                create_page(g, &d, status, &f, Some(&message)).await,
                &message,
            )
        }
    }
}

/// What the user page shows besides the user: a message, an action's error, or the
/// metadata editor's refused text.
#[derive(Default)]
struct Shown<'a> {
    notice: Option<&'a str>,
    error: Option<String>,
    metadata_error: Option<String>,
    user_metadata_text: Option<&'a str>,
    app_metadata_text: Option<&'a str>,
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "created" => "User created.",
        "metadata" => "Metadata saved.",
        "blocked" => "User blocked: they cannot log in until unblocked.",
        "unblocked" => "User unblocked.",
        "lifted" => "Brute-force blocks lifted.",
        "password" => "Password changed.",
        "picture" => "Picture changed.",
        "verification" => "Verification email queued.",
        "verified" => "Email marked as verified.",
        "linked" => "Identity linked.",
        "unlinked" => "Identity unlinked: it is a user of its own again.",
        "reset" => "Password reset email queued.",
        _ => return None,
    })
}

async fn show(
    State(s): State<AppState>,
    d: Scoped,
    Path(id): Path<String>,
    Query(q): Params,
) -> Response {
    let shown = Shown {
        notice: done_message(param(&q, "done")),
        ..Default::default()
    };
    user_page(&s.gatehouse, &d, &id, StatusCode::OK, shown).await
}

fn pretty(m: &Map<String, Value>) -> String {
    serde_json::to_string_pretty(m).unwrap_or_else(|_| "{}".into())
}

/// What the user page shows about the user besides the user record.
struct Facts {
    events: Vec<LogEvent>,
    blocks: Vec<UserBlock>,
    /// When a breached password was last seen, if after the current password was set.
    breached: Option<i64>,
    /// Where the administrator could log in as the user; `None` when they may not.
    impersonation: Option<Vec<ImpersonationTarget>>,
}

/// A failure to read them is the page's failure: "no blocks" or "no events" would be wrong.
/// Delegated administrators see the user's events without the Management API's own
/// operations, as on their logs page.
async fn facts(
    g: &Gatehouse,
    scope: &UserScope,
    admin: &User,
    user: &User,
) -> Result<Facts, ServiceError> {
    let (events, _) = g
        .list_logs(&LogQuery {
            filter: LogFilter {
                user_id: Some(user.user_id.clone()),
                exclude_api_operations: !scope.is_full(),
                ..Default::default()
            },
            limit: 20,
            ..Default::default()
        })
        .await?;
    let blocks = g.user_blocks(&user.user_id).await?;
    let breached = breached_since_password_set(g, user).await?;
    let impersonation = if may_impersonate(admin, user) {
        Some(g.impersonation_targets(user).await?)
    } else {
        None
    };
    Ok(Facts {
        events,
        blocks,
        breached,
        impersonation,
    })
}

async fn user_page(
    g: &Gatehouse,
    d: &Scoped,
    id: &str,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    let user = match g.user_as(&d.scope, id).await {
        Ok(u) => u,
        Err(e) => {
            let (status, message) = refusal(e);
            let body = html! {
                h1 { "User" }
                (error_box(Some(&message)))
                p { a href="/admin/users" { "Back to users" } }
            };
            return noted(d.page(status, "User", Nav::Users, body), &message);
        }
    };
    let facts = match facts(g, &d.scope, &d.admin.user, &user).await {
        Ok(f) => f,
        Err(e) => return d.refused(e, "User", Nav::Users),
    };
    let title = user
        .email
        .as_deref()
        .or(user.username.as_deref())
        .unwrap_or(&user.user_id);
    let csrf = &d.csrf;
    let scope = &d.scope;
    let may = |action| scope.may(action, &user);
    let body = html! {
        p { a href="/admin/users" { "← Users" } }
        div.user-head {
            @if let Some(p) = &user.picture { img.avatar src=(p) alt=""; }
            h1 { (title) }
        }
        p { (badges(&user)) }
        (notice(shown.notice))
        (error_box(shown.error.as_deref()))
        @if let Some(date) = facts.breached { (breach_warning(date)) }
        @if !scope.is_full() && !may(UserAction::ChangeProfile) {
            p.muted #read-only {
                @if scope.has(DaePermission::ManageUsers) {
                    "This account can use the dashboard itself, so you can view it but not change it."
                } @else {
                    "Your role lets you view users, not change them."
                }
            }
        }
        @if may(UserAction::Block) || may(UserAction::ChangePassword) {
            section.card {
                h2 { "Actions" }
                div.actions { (actions(&user, scope, csrf)) }
                (credential_forms(&user, scope, csrf))
            }
        }
        section.card { h2 { "Profile" } (profile(&user)) }
        section.card #consent { h2 { "Consent" } (consent_state(&user)) }
        section.card { h2 { "Login statistics" } (login_statistics(&user, &facts.blocks, may(UserAction::Unblock), csrf)) }
        section.card { h2 { "Metadata" } (metadata_editor(&user, &shown, scope, csrf)) }
        @if let Some(targets) = &facts.impersonation {
            section.card #impersonation { h2 { "Log in as this user" } (impersonation_form(&user, targets, csrf)) }
        }
        section.card { h2 { "Identities" } (identities(&user, scope.is_full(), csrf)) }
        section.card { h2 { "Recent events" } (recent_events(&user, &facts.events, scope.has(DaePermission::ReadLogs))) }
    };
    let mut r = d.page(status, title, Nav::Users, body);
    // The form ends at the chosen application's callback.
    let mut origins: Vec<String> = facts
        .impersonation
        .iter()
        .flatten()
        .flat_map(|t| t.callbacks.iter().filter_map(|c| web_origin(c)))
        .collect();
    origins.sort();
    origins.dedup();
    super::allow_form_redirects_to(&mut r, &origins);
    r
}

/// The value of one choice of the impersonation form: the application and the callback.
fn target_value(client_id: &str, callback: &str) -> String {
    format!("{client_id} {callback}")
}

/// "Log in as this user": the applications (and callbacks) that can receive the login.
fn impersonation_form(user: &User, targets: &[ImpersonationTarget], csrf: &str) -> Markup {
    html! {
        p.muted {
            "Opens the chosen application as this user, once, within five minutes. The application's tokens say it is you ("
            code { "act" } ", " code { "impersonated" } "), and the login is recorded in your log and the user's."
        }
        @if targets.is_empty() {
            p.muted #no-impersonation-targets {
                "No application can receive a login for this user: it needs the authorization-code grant, an http(s) callback, and the user's connection enabled."
            }
        } @else {
            form method="post" action={ "/admin/users/" (seg(&user.user_id)) "/impersonate" } {
                (csrf_input(csrf))
                label for="impersonate-target" { "Application" }
                div.row {
                    select #impersonate-target name="target" {
                        @for t in targets {
                            @for c in &t.callbacks {
                                option value=(target_value(&t.client_id, c)) {
                                    (t.name) " — " (c)
                                }
                            }
                        }
                    }
                    button type="submit" { "Log in as this user" }
                }
            }
        }
    }
}

/// Starts an impersonation and sends the browser to its single-use URL. Only for
/// administrators allowed to (`may_impersonate`): for others a 403, whatever the form says.
async fn impersonate(
    State(s): State<AppState>,
    d: Scoped,
    who: ClientInfo,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let user = match g.user_as(&d.scope, &id).await {
        Ok(u) => u,
        Err(e) => return d.refused(e, "User", Nav::Users),
    };
    if !may_impersonate(&d.admin.user, &user) {
        let shown = Shown {
            error: Some("You are not allowed to log in as this user.".into()),
            ..Default::default()
        };
        return user_page(g, &d, &id, StatusCode::FORBIDDEN, shown).await;
    }
    let (client_id, callback) = param(&f, "target").split_once(' ').unwrap_or_default();
    let origin = Browser {
        ip: who.ip,
        user_agent: who.user_agent,
        ..Default::default()
    };
    match g
        .impersonate_from_dashboard(&d.admin, &id, client_id, callback, &origin)
        .await
    {
        Ok(url) => see_other(&url),
        Err(e) => {
            let (status, message) = refusal(e);
            let shown = Shown {
                error: Some(message),
                ..Default::default()
            };
            user_page(g, &d, &id, status, shown).await
        }
    }
}

fn badges(user: &User) -> Markup {
    html! {
        @if user.blocked == Some(true) { " " span.badge.bad #blocked-badge { "blocked" } }
        " "
        @if user.email_verified { span.badge.good { "email verified" } }
        @else { span.badge { "email not verified" } }
    }
}

fn breach_warning(date: i64) -> Markup {
    html! {
        p.warn #breached role="alert" {
            "On " (format::time(Some(date)))
            " this user logged in or set a password that appears in a list of breached passwords. Send them a password reset email."
        }
    }
}

/// The one-button actions that fit the user's state and the scope.
fn actions(user: &User, scope: &UserScope, csrf: &str) -> Markup {
    let uid = seg(&user.user_id);
    let act = |action: &str, label: &str, class: &str| {
        button_form(&format!("/admin/users/{uid}/{action}"), csrf, label, class)
    };
    let may = |action| scope.may(action, user);
    let has_email = user.email.is_some();
    html! {
        @if user.blocked == Some(true) {
            @if may(UserAction::Unblock) { (act("unblock", "Unblock", "")) }
        } @else if may(UserAction::Block) { (act("block", "Block", "danger")) }
        @if has_email && !user.email_verified {
            @if may(UserAction::SendVerificationEmail) {
                (act("send-verification", "Send verification email", "secondary"))
            }
            @if may(UserAction::ChangeProfile) {
                (act("mark-verified", "Mark email verified", "secondary"))
            }
        }
        @if has_email && may(UserAction::ResetPassword) {
            (act("send-reset", "Send password reset email", "secondary"))
        }
    }
}

/// Setting a password or picture, and the way to deletion.
fn credential_forms(user: &User, scope: &UserScope, csrf: &str) -> Markup {
    let uid = seg(&user.user_id);
    let may = |action| scope.may(action, user);
    html! {
        @if may(UserAction::ChangePassword) {
        form method="post" action={ "/admin/users/" (uid) "/password" } {
            (csrf_input(csrf))
            label for="new-password" { "New password" }
            div.row {
                input #new-password name="password" type="password" autocomplete="new-password" required;
                button type="submit" { "Change password" }
            }
        }
        }
        @if may(UserAction::ChangeProfile) {
        form method="post" action={ "/admin/users/" (uid) "/picture" } {
            (csrf_input(csrf))
            label for="picture" { "Picture URL" }
            div.row {
                input #picture name="picture" type="url" value=(user.picture.as_deref().unwrap_or(""));
                button type="submit" { "Change picture" }
            }
        }
        }
        @if may(UserAction::Delete) {
            p { a.button.danger href={ "/admin/users/" (uid) "/delete" } { "Delete user…" } }
        }
    }
}

fn profile(user: &User) -> Markup {
    let opt = |v: &Option<String>| v.clone().unwrap_or_else(|| "—".into());
    html! {
        dl {
            dt { "user_id" } dd { code #user-id { (user.user_id) } }
            dt { "Email" } dd { (opt(&user.email)) }
            dt { "Username" } dd { (opt(&user.username)) }
            dt { "Phone" } dd { (opt(&user.phone_number)) }
            dt { "Name" } dd { (opt(&user.name)) }
            dt { "Given / family name" } dd { (opt(&user.given_name)) " / " (opt(&user.family_name)) }
            dt { "Nickname" } dd { (opt(&user.nickname)) }
            dt { "Connection" } dd { (user.connection) }
            dt { "Created" } dd { (format::time(Some(user.created_at))) }
            dt { "Updated" } dd { (format::time(Some(user.updated_at))) }
            dt { "Password set" } dd { (format::time(user.password_set_date)) }
            @if let Some(m) = user.app_metadata.get(MEMBERSHIPS_KEY).and_then(Value::as_array) {
                dt { "Memberships" }
                dd #user-memberships { (m.iter().map(format::text).collect::<Vec<_>>().join(", ")) }
            }
        }
    }
}

fn login_statistics(user: &User, blocks: &[UserBlock], may_lift: bool, csrf: &str) -> Markup {
    html! {
        dl {
            dt { "Logins" } dd #logins-count { (user.logins_count) }
            dt { "Last login" } dd { (format::time(user.last_login)) }
            dt { "Last IP" } dd { (user.last_ip.as_deref().unwrap_or("—")) }
            dt { "Brute-force blocks" }
            dd {
                @if blocks.is_empty() { "none" }
                @else {
                    ul #brute-force-blocks {
                        @for b in blocks {
                            li { (b.identifier) " from IP " (b.ip) }
                        }
                    }
                    @if may_lift {
                        (button_form(
                            &format!("/admin/users/{}/lift-blocks", seg(&user.user_id)),
                            csrf,
                            "Lift brute-force blocks",
                            "secondary",
                        ))
                    }
                }
            }
        }
    }
}

/// The two metadata editors, holding the refused text (when a save was refused) so nothing
/// typed is lost; the script checks the JSON as it is typed. A delegated administrator
/// edits `user_metadata` only (when they may change the user); `app_metadata` is shown.
fn metadata_editor(user: &User, shown: &Shown<'_>, scope: &UserScope, csrf: &str) -> Markup {
    let user_meta = shown
        .user_metadata_text
        .map(String::from)
        .unwrap_or_else(|| pretty(&user.user_metadata));
    let app_meta = shown
        .app_metadata_text
        .map(String::from)
        .unwrap_or_else(|| pretty(&user.app_metadata));
    if !scope.is_full() {
        return html! {
            @if scope.may(UserAction::ChangeProfile, user) {
                form method="post" action={ "/admin/users/" (seg(&user.user_id)) "/metadata" } data-metadata-form {
                    (csrf_input(csrf))
                    p.error #metadata-error role="alert" data-json-error hidden[shown.metadata_error.is_none()] {
                        (shown.metadata_error.as_deref().unwrap_or(""))
                    }
                    label for="user_metadata" { "user_metadata" }
                    textarea #user_metadata name="user_metadata" data-json spellcheck="false" { (user_meta) }
                    p.muted { "A JSON object. Key names cannot contain " code { "." } " or " code { "$" } "; removing a key deletes it." }
                    button type="submit" { "Save metadata" }
                }
            } @else {
                h3 { "user_metadata" }
                pre #user_metadata_view { (pretty(&user.user_metadata)) }
            }
            h3 { "app_metadata" }
            pre #app_metadata_view { (pretty(&user.app_metadata)) }
        };
    }
    html! {
        form method="post" action={ "/admin/users/" (seg(&user.user_id)) "/metadata" } data-metadata-form {
            (csrf_input(csrf))
            p.error #metadata-error role="alert" data-json-error hidden[shown.metadata_error.is_none()] {
                (shown.metadata_error.as_deref().unwrap_or(""))
            }
            label for="user_metadata" { "user_metadata" }
            textarea #user_metadata name="user_metadata" data-json spellcheck="false" { (user_meta) }
            label for="app_metadata" { "app_metadata" }
            textarea #app_metadata name="app_metadata" data-json spellcheck="false" { (app_meta) }
            p.muted {
                "JSON objects. Key names cannot contain " code { "." } " or " code { "$" } "; removing a key deletes it."
            }
            button type="submit" { "Save metadata" }
        }
    }
}

/// The user's own identity, the ones linked to it (each with an unlink button), and a form
/// to link another user's identity; linking is for full administrators only.
fn identities(user: &User, may_link: bool, csrf: &str) -> Markup {
    let action = format!("/admin/users/{}/", seg(&user.user_id));
    let social = |provider: &str| gatehouse_core::upstream::is_social_provider(provider);
    let rows = html! {
        tr {
            td { (user.connection) }
            td { (user.provider) }
            td { code { (user.provider_user_id()) } }
            td { (social(&user.provider)) }
            td.muted { "main identity" }
        }
        @for l in &user.linked_identities {
            tr {
                td { (l.connection) }
                td { (l.provider) }
                td { code { (l.user_id) } }
                td { (l.is_social) }
                td {
                    @if may_link {
                        form method="post" action={ (action) "unlink" } {
                            (csrf_input(csrf))
                            input type="hidden" name="provider" value=(l.provider);
                            input type="hidden" name="user_id" value=(l.user_id);
                            button.secondary type="submit" { "Unlink" }
                        }
                    }
                }
            }
        }
    };
    html! {
        (table(Some("identities"), &["Connection", "Provider", "user_id", "Social", ""], rows))
        @if may_link {
        form.inline method="post" action={ (action) "link" } {
            (csrf_input(csrf))
            label for="link-provider" { "Provider" }
            input #link-provider name="provider" type="text" placeholder="github" required;
            label for="link-user-id" { "Its user_id (after the |)" }
            input #link-user-id name="user_id" type="text" required;
            button type="submit" { "Link identity" }
        }
        p.muted { "Linking moves that user into this one: it leaves the user list, its metadata is discarded, and logging in through it logs in this user." }
        }
    }
}

fn recent_events(user: &User, events: &[LogEvent], link_to_logs: bool) -> Markup {
    let rows = html! {
        @for l in events {
            tr {
                td { (format::time(Some(l.date))) }
                td { code { (l.kind) } }
                td { (explain(&l.kind).unwrap_or("")) }
                td { (l.description.as_deref().unwrap_or("")) }
                td { (l.ip.as_deref().unwrap_or("")) }
            }
        }
    };
    html! {
        (table(Some("events"), &["Date", "Type", "What happened", "Details", "IP"], rows))
        @if link_to_logs {
            p { a href={ "/admin/logs?" (format::query(&[("user", &user.user_id)])) } { "All of this user's events" } }
        }
    }
}

/// The date of a breached-password event newer than the user's current password, if any.
async fn breached_since_password_set(
    g: &Gatehouse,
    user: &User,
) -> Result<Option<i64>, ServiceError> {
    let (events, _) = g
        .list_logs(&LogQuery {
            filter: LogFilter {
                user_id: Some(user.user_id.clone()),
                kind: Some(codes::BREACHED_PASSWORD.into()),
                ..Default::default()
            },
            limit: 1,
            ..Default::default()
        })
        .await?;
    let set = user.password_set_date.unwrap_or(0);
    Ok(events.first().map(|e| e.date).filter(|seen| *seen > set))
}

/// Parses one metadata editor's text: a JSON object, or the reason it is not.
fn metadata_object(name: &str, text: &str) -> Result<Map<String, Value>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(Map::new());
    }
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(m)) => Ok(m),
        Ok(_) => Err(format!("{name} must be a JSON object ({{ … }}).")),
        Err(e) => Err(format!("{name} is not valid JSON: {e}.")),
    }
}

/// The editor holds the whole object; a PATCH merges, so keys that were removed are sent
/// as `null` (which deletes them).
fn replacement(old: &Map<String, Value>, new: Map<String, Value>) -> Value {
    let mut patch = new;
    for k in old.keys() {
        if !patch.contains_key(k) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    Value::Object(patch)
}

async fn save_metadata(
    State(s): State<AppState>,
    d: Scoped,
    Path(id): Path<String>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let user_text = param(&f, "user_metadata");
    let app_text = param(&f, "app_metadata");
    let refused = |message: String| Shown {
        metadata_error: Some(message),
        user_metadata_text: Some(user_text),
        app_metadata_text: Some(app_text),
        ..Default::default()
    };
    // A form without the app_metadata editor (a delegated administrator's) leaves it alone.
    let app_posted = f.contains_key("app_metadata");
    let (user_meta, app_meta) = match (
        metadata_object("user_metadata", user_text),
        metadata_object("app_metadata", app_text),
    ) {
        (Ok(u), Ok(a)) => (u, a),
        (Err(e), _) | (_, Err(e)) => {
            return user_page(g, &d, &id, StatusCode::BAD_REQUEST, refused(e)).await;
        }
    };
    let current = match g.user_as(&d.scope, &id).await {
        Ok(u) => u,
        Err(e) => return user_page(g, &d, &id, refusal(e).0, Shown::default()).await,
    };
    let mut body = json!({ "user_metadata": replacement(&current.user_metadata, user_meta) });
    if app_posted {
        body["app_metadata"] = replacement(&current.app_metadata, app_meta);
    }
    match patch(g, &d.scope, &id, UserAction::ChangeProfile, body).await {
        Ok(_) => see_other(&format!("/admin/users/{}?done=metadata", seg(&id))),
        Err(e) => {
            let (status, message) = refusal(e);
            let page = user_page(g, &d, &id, status, refused(message.clone())).await;
            noted(page, &message)
        }
    }
}

/// A PATCH of the user made for `action`, validated exactly as the Management API
/// validates it, then limited by the scope.
async fn patch(
    g: &Gatehouse,
    scope: &UserScope,
    id: &str,
    action: UserAction,
    body: Value,
) -> Result<User, ServiceError> {
    let patch = Payload::from_value(body).and_then(UserPatch::from_payload)?;
    g.update_user_as(scope, id, action, patch).await
}

async fn act(
    State(s): State<AppState>,
    d: Scoped,
    Path((id, action)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let scope = &d.scope;
    let result: Result<&str, ServiceError> = async {
        match action.as_str() {
            "block" => patch(g, scope, &id, UserAction::Block, json!({"blocked": true}))
                .await
                .map(|_| "blocked"),
            "unblock" => patch(
                g,
                scope,
                &id,
                UserAction::Unblock,
                json!({"blocked": false}),
            )
            .await
            .map(|_| "unblocked"),
            "lift-blocks" => g.lift_blocks_as(scope, &id).await.map(|_| "lifted"),
            "password" => patch(
                g,
                scope,
                &id,
                UserAction::ChangePassword,
                json!({"password": param(&f, "password")}),
            )
            .await
            .map(|_| "password"),
            "picture" => {
                let pic = param(&f, "picture").trim();
                let value = if pic.is_empty() {
                    Value::Null
                } else {
                    json!(pic)
                };
                patch(
                    g,
                    scope,
                    &id,
                    UserAction::ChangeProfile,
                    json!({ "picture": value }),
                )
                .await
                .map(|_| "picture")
            }
            "link" => {
                let req = gatehouse_service::identities::LinkRequest::Identity {
                    provider: param(&f, "provider").trim().to_string(),
                    user_id: param(&f, "user_id").trim().to_string(),
                    connection_id: None,
                };
                g.link_identity_as(scope, &id, req).await.map(|_| "linked")
            }
            "unlink" => g
                .unlink_identity_as(scope, &id, param(&f, "provider"), param(&f, "user_id"))
                .await
                .map(|_| "unlinked"),
            "mark-verified" => patch(
                g,
                scope,
                &id,
                UserAction::ChangeProfile,
                json!({"email_verified": true}),
            )
            .await
            .map(|_| "verified"),
            "send-verification" => g
                .send_verification_as(scope, &id)
                .await
                .map(|_| "verification"),
            "send-reset" => g.send_reset_as(scope, &id).await.map(|_| "reset"),
            _ => Err(ServiceError::NotFound {
                code: "not_found",
                message: "There is no such action.".into(),
            }),
        }
    }
    .await;
    match result {
        Ok(done) => see_other(&format!("/admin/users/{}?done={done}", seg(&id))),
        Err(e) => {
            let (status, message) = refusal(e);
            let shown = Shown {
                error: Some(message.clone()),
                ..Default::default()
            };
            noted(user_page(g, &d, &id, status, shown).await, &message)
        }
    }
}

/// The user's consent to the tenant's terms (`user_metadata.consent`, docs/gdpr.md).
fn consent_state(user: &User) -> Markup {
    let Some(c) = gatehouse_core::gdpr::ConsentState::of(&user.user_metadata) else {
        return html! { p.muted #consent-state { "No consent recorded." } };
    };
    let date = |d: &Option<String>| {
        d.as_deref()
            .and_then(gatehouse_core::time::parse_iso8601)
            .map(|ms| format::time(Some(ms)))
            .unwrap_or_else(|| "—".into())
    };
    let version = c.version.clone().unwrap_or_else(|| "—".into());
    html! {
        dl #consent-state {
            dt { "State" }
            dd {
                @if c.given { span.badge.good { "given" } }
                @else { span.badge.bad { "withdrawn" } }
            }
            dt { "Terms version" } dd { (version) }
            dt { @if c.given { "Given" } @else { "Withdrawn" } } dd { (date(&c.date)) }
            @if let Some(t) = &c.text_details { dt { "Terms" } dd { (t) } }
            dt { "Changes" } dd { (c.history.len()) }
        }
    }
}

async fn confirm_delete(State(s): State<AppState>, d: Scoped, Path(id): Path<String>) -> Response {
    let user = match s
        .gatehouse
        .authorize_user_action(&d.scope, &id, UserAction::Delete)
        .await
    {
        Ok(u) => u,
        Err(e) => return d.refused(e, "Delete user", Nav::Users),
    };
    let who = user.email.as_deref().unwrap_or(&user.user_id);
    let uid = seg(&user.user_id);
    let body = html! {
        h1 { "Delete " (who) "?" }
        section.card {
            p {
                "This deletes the user " code { (user.user_id) }
                ", their sessions and refresh tokens, and pseudonymises their log events (no email or IP address is kept). It cannot be undone."
            }
            form method="post" action={ "/admin/users/" (uid) "/delete" } {
                (csrf_input(&d.csrf))
                button.danger type="submit" { "Delete permanently" }
                a.button.secondary href={ "/admin/users/" (uid) } { "Cancel" }
            }
        }
    };
    d.page(StatusCode::OK, "Delete user", Nav::Users, body)
}

async fn delete(
    State(s): State<AppState>,
    d: Scoped,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    match s.gatehouse.delete_user_as(&d.scope, &id).await {
        Ok(()) => see_other("/admin/users?deleted=1"),
        Err(e) => d.refused(e, "Delete user", Nav::Users),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn removed_metadata_keys_become_null() {
        let old: Map<String, Value> = serde_json::from_str(r#"{"a":1,"b":2}"#).unwrap();
        let new: Map<String, Value> = serde_json::from_str(r#"{"b":3,"c":4}"#).unwrap();
        assert_eq!(replacement(&old, new), json!({"a": null, "b": 3, "c": 4}));
    }

    #[test]
    fn metadata_text_must_be_an_object() {
        assert!(metadata_object("user_metadata", "").unwrap().is_empty());
        assert!(metadata_object("user_metadata", "[1]").is_err());
        let e = metadata_object("app_metadata", "{\"a\":").unwrap_err();
        assert!(e.starts_with("app_metadata is not valid JSON"), "{e}");
    }
}
