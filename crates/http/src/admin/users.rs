//! Dashboard users: the searchable list (Auth0's v3 query syntax), a user's page (profile,
//! identities, metadata editor, login statistics, events) and the actions on a user.

use super::html::{self, Nav, button_form, esc, seg};
use super::{Dashboard, param, refusal, see_other};
use crate::AppState;
use crate::hosted::VerifiedForm;
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use gatehouse_core::log_event::{LogFilter, codes, explain};
use gatehouse_core::payload::Payload;
use gatehouse_core::user::{NewUser, User, UserPatch};
use gatehouse_service::browser::Browser;
use gatehouse_service::jobs::VerificationEmailParams;
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

const QUERY_HELP: &str = "<details id=\"q-help\"><summary>Query syntax</summary><ul class=\"muted\">\
<li><code>email:\"jane@example.com\"</code> an exact field value; <code>email:*@example.com</code> or <code>name:jan*</code> with wildcards</li>\
<li><code>logins_count:[5 TO *]</code>, <code>created_at:[2026-01-01 TO 2026-06-30]</code> ranges (<code>{ }</code> exclude the ends)</li>\
<li><code>user_metadata.plan:\"pro\"</code>, <code>app_metadata.roles:admin</code> metadata fields</li>\
<li><code>blocked:true AND NOT email_verified:true</code>, <code>(a OR b)</code>, <code>_exists_:phone_number</code></li>\
<li>a bare word searches email, name, nickname and username</li></ul></details>";

async fn list(State(s): State<AppState>, d: Dashboard, Query(q): Params) -> Response {
    let text = param(&q, "q").trim().to_string();
    let sort_raw = param(&q, "sort").to_string();
    let page: i64 = param(&q, "page").parse().unwrap_or(0).clamp(0, 10_000);
    let mut query_error = None;
    let filter = if text.is_empty() {
        None
    } else {
        match gatehouse_core::search::parse(&text) {
            Ok(f) => Some(f),
            Err(e) => {
                query_error = Some(e);
                None
            }
        }
    };
    let sort = sort_raw
        .split_once(':')
        .and_then(|(f, dir)| SortField::parse(f).map(|field| (field, dir != "-1")));
    let form = format!(
        "<form method=\"get\" action=\"/admin/users\" role=\"search\">\
<label for=\"q\">Search users</label><div class=\"row\">\
<input type=\"search\" id=\"q\" name=\"q\" value=\"{}\" placeholder='email:*@example.com AND logins_count:[1 TO *]' aria-describedby=\"q-help{}\" autocomplete=\"off\">\
<input type=\"hidden\" name=\"sort\" value=\"{}\"><button type=\"submit\">Search</button></div>",
        esc(&text),
        if query_error.is_some() {
            " q-error"
        } else {
            ""
        },
        esc(&sort_raw),
    );
    let deleted = html::notice((param(&q, "deleted") == "1").then_some("User deleted."));
    let head = "<div class=\"row\"><h1>Users</h1><a class=\"button\" href=\"/admin/users/new\" style=\"flex:0 0 auto\">Create user</a></div>";
    if let Some(e) = query_error {
        // The query's error where it is: the query with a caret under the position.
        let caret = format!("{}^", " ".repeat(e.position.min(text.chars().count())));
        let body = format!(
            "{head}<section class=\"card\">{form}<div class=\"error\" role=\"alert\" id=\"q-error\">The query is not valid at character {}: {}\n<code>{}\n{}</code></div>{QUERY_HELP}</form></section>",
            e.position + 1,
            esc(&e.message),
            esc(&text),
            caret
        );
        return d.page(StatusCode::BAD_REQUEST, "Users", Nav::Users, &body);
    }
    let search = UserSearch {
        filter,
        order: sort.map_or(UserOrder::Created, |(f, asc)| UserOrder::Field(f, asc)),
        offset: page * PER_PAGE,
        limit: PER_PAGE,
        with_total: true,
        ..Default::default()
    };
    let result = match s.gatehouse.search_users(None, search).await {
        Ok(r) => r,
        Err(e) => {
            let (status, message) = refusal(e);
            let body = format!(
                "{head}<section class=\"card\">{form}{}{QUERY_HELP}</form></section>",
                html::error_box(Some(&message))
            );
            return d.page(status, "Users", Nav::Users, &body);
        }
    };
    let total = result.total.unwrap_or(0);
    let link = |page: i64, sort: &str| {
        format!(
            "/admin/users?{}",
            html::query(&[("q", &text), ("sort", sort), ("page", &page.to_string())])
        )
    };
    let headings: String = SORTABLE
        .iter()
        .map(|(field, label)| {
            let (next, mark, aria) = match sort_raw.split_once(':') {
                Some((f, "1")) if f == *field => (format!("{field}:-1"), " ▲", "ascending"),
                Some((f, "-1")) if f == *field => (format!("{field}:1"), " ▼", "descending"),
                _ => (format!("{field}:1"), "", "none"),
            };
            format!(
                "<th aria-sort=\"{aria}\"{}><a href=\"{}\">{label}{mark}</a></th>",
                if matches!(*field, "email" | "name") {
                    ""
                } else {
                    " class=\"wide\""
                },
                esc(&link(0, &next))
            )
        })
        .collect();
    let rows: String = result
        .users
        .iter()
        .map(|u| {
            let blocked = if u.blocked == Some(true) {
                " <span class=\"badge bad\">blocked</span>"
            } else {
                ""
            };
            format!(
                "<tr><td><a href=\"/admin/users/{}\">{}</a>{blocked}</td><td>{}</td><td class=\"num wide\">{}</td><td class=\"wide\">{}</td><td class=\"wide\">{}</td><td class=\"wide\">{}</td></tr>",
                seg(&u.user_id),
                esc(u.email.as_deref().or(u.username.as_deref()).unwrap_or(&u.user_id)),
                esc(u.name.as_deref().unwrap_or("")),
                u.logins_count,
                html::time(u.last_login),
                html::time(Some(u.created_at)),
                esc(&u.connection),
            )
        })
        .collect();
    let first = page * PER_PAGE + 1;
    let last = page * PER_PAGE + result.users.len() as i64;
    let pages = ((total + PER_PAGE - 1) / PER_PAGE).max(1);
    let prev = if page > 0 {
        format!(
            "<a href=\"{}\" rel=\"prev\">Previous</a>",
            esc(&link(page - 1, &sort_raw))
        )
    } else {
        String::new()
    };
    let next = if last < total {
        format!(
            "<a href=\"{}\" rel=\"next\">Next</a>",
            esc(&link(page + 1, &sort_raw))
        )
    } else {
        String::new()
    };
    let summary = if total == 0 {
        "No users match.".to_string()
    } else {
        format!(
            "{} · showing {first}–{last}",
            html::count(total, "user", "users")
        )
    };
    let body = format!(
        "{head}{deleted}<section class=\"card\">{form}{QUERY_HELP}</form>\
<p class=\"muted\" id=\"total\" role=\"status\">{summary}</p>\
<div class=\"table\"><table><thead><tr>{headings}<th class=\"wide\">Connection</th></tr></thead><tbody>{rows}</tbody></table></div>\
<nav class=\"pager\" aria-label=\"Pages\">{prev}<span class=\"muted\">Page {} of {pages}</span>{next}</nav></section>",
        page + 1
    );
    d.page(StatusCode::OK, "Users", Nav::Users, &body)
}

/// The database connections a user can be created on.
async fn database_connections(g: &Gatehouse) -> Vec<String> {
    match g.list_connections(Some("auth0"), None, 0, 100).await {
        Ok((list, _)) => list
            .iter()
            .filter_map(|c| c["name"].as_str().map(String::from))
            .collect(),
        Err(_) => vec![],
    }
}

async fn new_form(State(s): State<AppState>, d: Dashboard) -> Response {
    create_page(&s.gatehouse, &d, StatusCode::OK, &HashMap::new(), None).await
}

async fn create_page(
    g: &Gatehouse,
    d: &Dashboard,
    status: StatusCode,
    form: &HashMap<String, String>,
    error: Option<&str>,
) -> Response {
    let chosen = param(form, "connection");
    let options: String = database_connections(g)
        .await
        .iter()
        .map(|c| {
            let sel = if c == chosen { " selected" } else { "" };
            format!("<option{sel}>{}</option>", esc(c))
        })
        .collect();
    let checked = if param(form, "email_verified") == "on" {
        " checked"
    } else {
        ""
    };
    let body = format!(
        "<h1>Create user</h1><section class=\"card\">{}<form method=\"post\" action=\"/admin/users\">{}\
<label for=\"email\">Email</label><input id=\"email\" name=\"email\" type=\"email\" required value=\"{}\">\
<label for=\"password\">Password</label><input id=\"password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required>\
<label for=\"connection\">Connection</label><select id=\"connection\" name=\"connection\">{options}</select>\
<label><input type=\"checkbox\" name=\"email_verified\"{checked}> Email already verified</label>\
<button type=\"submit\">Create</button> <a href=\"/admin/users\">Cancel</a></form></section>",
        html::error_box(error),
        html::csrf_input(&d.csrf),
        esc(param(form, "email")),
    );
    d.page(status, "Create user", Nav::Users, &body)
}

async fn create(
    State(s): State<AppState>,
    d: Dashboard,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let body = json!({
        "connection": param(&f, "connection"),
        "email": param(&f, "email"),
        "password": param(&f, "password"),
        "email_verified": param(&f, "email_verified") == "on",
    });
    let created = match Payload::from_value(body).and_then(NewUser::from_payload) {
        Ok(req) => g.create_user(req).await,
        Err(e) => Err(e.into()),
    };
    match created {
        Ok(u) => see_other(&format!("/admin/users/{}?done=created", seg(&u.user_id))),
        Err(e) => {
            let (status, message) = refusal(e);
            create_page(g, &d, status, &f, Some(&message)).await
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
        "reset" => "Password reset email queued.",
        _ => return None,
    })
}

async fn show(
    State(s): State<AppState>,
    d: Dashboard,
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

async fn user_page(
    g: &Gatehouse,
    d: &Dashboard,
    id: &str,
    status: StatusCode,
    shown: Shown<'_>,
) -> Response {
    let user = match g.get_user(id).await {
        Ok(u) => u,
        Err(e) => {
            let (status, message) = refusal(e);
            let body = format!(
                "<h1>User</h1>{}<p><a href=\"/admin/users\">Back to users</a></p>",
                html::error_box(Some(&message))
            );
            return d.page(status, "User", Nav::Users, &body);
        }
    };
    let logs = g
        .list_logs(&LogQuery {
            filter: LogFilter {
                user_id: Some(user.user_id.clone()),
                ..Default::default()
            },
            limit: 20,
            ..Default::default()
        })
        .await
        .map(|(l, _)| l)
        .unwrap_or_default();
    let blocks = g
        .user_blocks(&user.user_id)
        .await
        .ok()
        .and_then(|v| v["blocked_for"].as_array().cloned())
        .unwrap_or_default();
    let leaked = breached_since_password_set(g, &user).await;
    let uid = seg(&user.user_id);
    let csrf = &d.csrf;
    let title = user
        .email
        .as_deref()
        .or(user.username.as_deref())
        .unwrap_or(&user.user_id);

    let picture = user
        .picture
        .as_deref()
        .map(|p| format!("<img class=\"avatar\" src=\"{}\" alt=\"\">", esc(p)))
        .unwrap_or_default();
    let mut badges = String::new();
    if user.blocked == Some(true) {
        badges.push_str(" <span class=\"badge bad\" id=\"blocked-badge\">blocked</span>");
    }
    badges.push_str(if user.email_verified {
        " <span class=\"badge good\">email verified</span>"
    } else {
        " <span class=\"badge\">email not verified</span>"
    });
    let opt = |v: &Option<String>| esc(v.as_deref().unwrap_or("—"));
    let profile = format!(
        "<dl><dt>user_id</dt><dd><code id=\"user-id\">{}</code></dd><dt>Email</dt><dd>{}</dd><dt>Username</dt><dd>{}</dd>\
<dt>Phone</dt><dd>{}</dd><dt>Name</dt><dd>{}</dd><dt>Given / family name</dt><dd>{} / {}</dd><dt>Nickname</dt><dd>{}</dd>\
<dt>Connection</dt><dd>{}</dd><dt>Created</dt><dd>{}</dd><dt>Updated</dt><dd>{}</dd><dt>Password set</dt><dd>{}</dd></dl>",
        esc(&user.user_id),
        opt(&user.email),
        opt(&user.username),
        opt(&user.phone_number),
        opt(&user.name),
        opt(&user.given_name),
        opt(&user.family_name),
        opt(&user.nickname),
        esc(&user.connection),
        html::time(Some(user.created_at)),
        html::time(Some(user.updated_at)),
        html::time(user.password_set_date),
    );
    let block_rows: String = blocks
        .iter()
        .map(|b| {
            format!(
                "<li>{} from IP {}</li>",
                esc(&html::text(&b["identifier"])),
                esc(&html::text(&b["ip"]))
            )
        })
        .collect();
    let stats = format!(
        "<dl><dt>Logins</dt><dd id=\"logins-count\">{}</dd><dt>Last login</dt><dd>{}</dd><dt>Last IP</dt><dd>{}</dd>\
<dt>Brute-force blocks</dt><dd>{}</dd></dl>",
        user.logins_count,
        html::time(user.last_login),
        opt(&user.last_ip),
        if blocks.is_empty() {
            "none".to_string()
        } else {
            format!(
                "<ul id=\"brute-force-blocks\">{block_rows}</ul>{}",
                button_form(
                    &format!("/admin/users/{uid}/lift-blocks"),
                    csrf,
                    "Lift brute-force blocks",
                    "secondary"
                )
            )
        },
    );
    let identities: String = user.to_json()["identities"]
        .as_array()
        .map(|ids| {
            ids.iter()
                .map(|i| {
                    format!(
                        "<tr><td>{}</td><td>{}</td><td><code>{}</code></td><td>{}</td></tr>",
                        esc(&html::text(&i["connection"])),
                        esc(&html::text(&i["provider"])),
                        esc(&html::text(&i["user_id"])),
                        esc(&html::text(&i["isSocial"]))
                    )
                })
                .collect()
        })
        .unwrap_or_default();
    let breached = match &leaked {
        Some(date) => format!(
            "<p class=\"warn\" role=\"alert\" id=\"breached\">On {} this user logged in or set a password that appears in a list of breached passwords. Send them a password reset email.</p>",
            html::json_time(&Value::String(date.clone()))
        ),
        None => String::new(),
    };
    let user_meta = shown
        .user_metadata_text
        .map(String::from)
        .unwrap_or_else(|| pretty(&user.user_metadata));
    let app_meta = shown
        .app_metadata_text
        .map(String::from)
        .unwrap_or_else(|| pretty(&user.app_metadata));
    let metadata = format!(
        "<form method=\"post\" action=\"/admin/users/{uid}/metadata\" data-metadata-form>{}{}\
<p class=\"error\" role=\"alert\" id=\"metadata-error\" data-json-error{}>{}</p>\
<label for=\"user_metadata\">user_metadata</label><textarea id=\"user_metadata\" name=\"user_metadata\" data-json spellcheck=\"false\">{}</textarea>\
<label for=\"app_metadata\">app_metadata</label><textarea id=\"app_metadata\" name=\"app_metadata\" data-json spellcheck=\"false\">{}</textarea>\
<p class=\"muted\">JSON objects. Key names cannot contain <code>.</code> or <code>$</code>; removing a key deletes it.</p>\
<button type=\"submit\">Save metadata</button></form>",
        html::csrf_input(csrf),
        "",
        if shown.metadata_error.is_some() {
            ""
        } else {
            " hidden"
        },
        esc(shown.metadata_error.as_deref().unwrap_or("")),
        esc(&user_meta),
        esc(&app_meta),
    );
    let mut actions = String::new();
    if user.blocked == Some(true) {
        actions.push_str(&button_form(
            &format!("/admin/users/{uid}/unblock"),
            csrf,
            "Unblock",
            "",
        ));
    } else {
        actions.push_str(&button_form(
            &format!("/admin/users/{uid}/block"),
            csrf,
            "Block",
            "danger",
        ));
    }
    if user.email.is_some() && !user.email_verified {
        actions.push_str(&button_form(
            &format!("/admin/users/{uid}/send-verification"),
            csrf,
            "Send verification email",
            "secondary",
        ));
        actions.push_str(&button_form(
            &format!("/admin/users/{uid}/mark-verified"),
            csrf,
            "Mark email verified",
            "secondary",
        ));
    }
    if user.email.is_some() {
        actions.push_str(&button_form(
            &format!("/admin/users/{uid}/send-reset"),
            csrf,
            "Send password reset email",
            "secondary",
        ));
    }
    let forms = format!(
        "<form method=\"post\" action=\"/admin/users/{uid}/password\">{c}<label for=\"new-password\">New password</label>\
<div class=\"row\"><input id=\"new-password\" name=\"password\" type=\"password\" autocomplete=\"new-password\" required><button type=\"submit\">Change password</button></div></form>\
<form method=\"post\" action=\"/admin/users/{uid}/picture\">{c}<label for=\"picture\">Picture URL</label>\
<div class=\"row\"><input id=\"picture\" name=\"picture\" type=\"url\" value=\"{}\"><button type=\"submit\">Change picture</button></div></form>\
<p><a class=\"button danger\" style=\"background:#b91c1c\" href=\"/admin/users/{uid}/delete\">Delete user…</a></p>",
        esc(user.picture.as_deref().unwrap_or("")),
        c = html::csrf_input(csrf),
    );
    let events: String = logs
        .iter()
        .map(|l| {
            let kind = html::text(&l["type"]);
            format!(
                "<tr><td>{}</td><td><code>{}</code></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                html::json_time(&l["date"]),
                esc(&kind),
                esc(explain(&kind).unwrap_or("")),
                esc(&html::text(&l["description"])),
                esc(&html::text(&l["ip"])),
            )
        })
        .collect();
    let body = format!(
        "<p><a href=\"/admin/users\">← Users</a></p><div class=\"user-head\">{picture}<h1>{}</h1></div><p>{badges}</p>\
{}{}{breached}\
<section class=\"card\"><h2>Actions</h2><div class=\"actions\">{actions}</div>{forms}</section>\
<section class=\"card\"><h2>Profile</h2>{profile}</section>\
<section class=\"card\"><h2>Login statistics</h2>{stats}</section>\
<section class=\"card\"><h2>Metadata</h2>{metadata}</section>\
<section class=\"card\"><h2>Identities</h2><div class=\"table\"><table><thead><tr><th>Connection</th><th>Provider</th><th>user_id</th><th>Social</th></tr></thead><tbody>{identities}</tbody></table></div></section>\
<section class=\"card\"><h2>Recent events</h2><div class=\"table\"><table id=\"events\"><thead><tr><th>Date</th><th>Type</th><th>What happened</th><th>Details</th><th>IP</th></tr></thead><tbody>{events}</tbody></table></div>\
<p><a href=\"/admin/logs?{}\">All of this user's events</a></p></section>",
        esc(title),
        html::notice(shown.notice),
        html::error_box(shown.error.as_deref()),
        esc(&html::query(&[("user", &user.user_id)])),
    );
    d.page(status, title, Nav::Users, &body)
}

/// The date of a breached-password event newer than the user's current password, if any.
async fn breached_since_password_set(g: &Gatehouse, user: &User) -> Option<String> {
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
        .await
        .ok()?;
    let date = events.first()?["date"].as_str()?.to_string();
    let set = user
        .password_set_date
        .map(gatehouse_core::time::iso8601)
        .unwrap_or_default();
    // Both are ISO 8601 with milliseconds in UTC, so they compare as strings.
    (date > set).then_some(date)
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
    d: Dashboard,
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
    let (user_meta, app_meta) = match (
        metadata_object("user_metadata", user_text),
        metadata_object("app_metadata", app_text),
    ) {
        (Ok(u), Ok(a)) => (u, a),
        (Err(e), _) | (_, Err(e)) => {
            return user_page(g, &d, &id, StatusCode::BAD_REQUEST, refused(e)).await;
        }
    };
    let current = match g.get_user(&id).await {
        Ok(u) => u,
        Err(e) => return user_page(g, &d, &id, refusal(e).0, Shown::default()).await,
    };
    let body = json!({
        "user_metadata": replacement(&current.user_metadata, user_meta),
        "app_metadata": replacement(&current.app_metadata, app_meta),
    });
    match patch(g, &id, body).await {
        Ok(_) => see_other(&format!("/admin/users/{}?done=metadata", seg(&id))),
        Err(e) => {
            let (status, message) = refusal(e);
            user_page(g, &d, &id, status, refused(message)).await
        }
    }
}

/// A PATCH of the user, validated exactly as the Management API validates it.
async fn patch(g: &Gatehouse, id: &str, body: Value) -> Result<User, ServiceError> {
    let patch = Payload::from_value(body).and_then(UserPatch::from_payload)?;
    g.update_user(id, patch).await
}

async fn act(
    State(s): State<AppState>,
    d: Dashboard,
    Path((id, action)): Path<(String, String)>,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let result: Result<&str, ServiceError> = async {
        match action.as_str() {
            "block" => patch(g, &id, json!({"blocked": true}))
                .await
                .map(|_| "blocked"),
            "unblock" => patch(g, &id, json!({"blocked": false}))
                .await
                .map(|_| "unblocked"),
            "lift-blocks" => g.unblock_user(&id).await.map(|_| "lifted"),
            "password" => patch(g, &id, json!({"password": param(&f, "password")}))
                .await
                .map(|_| "password"),
            "picture" => {
                let pic = param(&f, "picture").trim();
                let value = if pic.is_empty() {
                    Value::Null
                } else {
                    json!(pic)
                };
                patch(g, &id, json!({ "picture": value }))
                    .await
                    .map(|_| "picture")
            }
            "mark-verified" => patch(g, &id, json!({"email_verified": true}))
                .await
                .map(|_| "verified"),
            "send-verification" => {
                let params = Payload::from_value(json!({ "user_id": id }))
                    .and_then(VerificationEmailParams::from_payload)?;
                g.create_verification_email_job(params)
                    .await
                    .map(|_| "verification")
            }
            "send-reset" => {
                let user = g.get_user(&id).await?;
                let email = user.email.clone().unwrap_or_default();
                g.request_password_reset(
                    Some(gatehouse_service::admin::DASHBOARD_CLIENT_ID),
                    &email,
                    &user.connection,
                    &Browser::default(),
                )
                .await
                .map(|_| "reset")
            }
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
                error: Some(message),
                ..Default::default()
            };
            user_page(g, &d, &id, status, shown).await
        }
    }
}

async fn confirm_delete(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
) -> Response {
    let user = match s.gatehouse.get_user(&id).await {
        Ok(u) => u,
        Err(e) => return d.refused(e, "Delete user", Nav::Users),
    };
    let who = user.email.clone().unwrap_or(user.user_id.clone());
    let body = format!(
        "<h1>Delete {}?</h1><section class=\"card\"><p>This deletes the user <code>{}</code>, their sessions and refresh tokens. It cannot be undone.</p>\
<form method=\"post\" action=\"/admin/users/{}/delete\">{}<button type=\"submit\" class=\"danger\">Delete permanently</button>\
<a class=\"button secondary\" href=\"/admin/users/{}\">Cancel</a></form></section>",
        esc(&who),
        esc(&user.user_id),
        seg(&user.user_id),
        html::csrf_input(&d.csrf),
        seg(&user.user_id),
    );
    d.page(StatusCode::OK, "Delete user", Nav::Users, &body)
}

async fn delete(
    State(s): State<AppState>,
    d: Dashboard,
    Path(id): Path<String>,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    match s.gatehouse.delete_user(&id).await {
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
