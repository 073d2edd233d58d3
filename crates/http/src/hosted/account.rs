//! GDPR self-service in the browser (docs/gdpr.md): the terms step of a login (`/u/terms`),
//! the terms box of the sign-up form, the account page (`/u/account`: the user's data, its
//! download, name correction, consent withdrawal, deletion with re-authentication) and the
//! initials pictures Gatehouse draws itself (`/u/avatars/<initials>.svg`). The decisions are
//! the service's (`gatehouse_service::gdpr`, `browser::terms`); this module draws and routes.

use super::pages::{flow_fields, layout, password_input};
use super::{BrowserRequest, VerifiedForm, failure_page, field, html as page, redirect};
use crate::AppState;
use crate::templates::{Markup, button_form, check, csrf_input, error_box, html, notice, table};
use axum::Router;
use axum::extract::{Path, Query, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::gdpr::ConsentSettings;
use gatehouse_core::time::iso8601;
use gatehouse_service::Gatehouse;
use gatehouse_service::browser::sessions::ActiveSession;
use gatehouse_service::browser::terms::TermsScreen;
use gatehouse_service::gdpr::account::{AccountView, DeleteRefused, NameRefused, Reauthentication};
use serde_json::Value;
use std::collections::HashMap;

/// The sealed state of an account sign-in, only sent back to the account pages.
const SIGN_IN_COOKIE: &str = "gh_account_signin";
const SIGN_IN_COOKIE_PATH: &str = "/u/account";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/u/terms", get(terms_get).post(terms_post))
        .route("/u/account", get(account_page))
        .route("/u/account/callback", get(sign_in_callback))
        .route("/u/account/data", get(download))
        .route("/u/account/profile", axum::routing::post(correct_name))
        .route("/u/account/consent", axum::routing::post(withdraw))
        .route("/u/account/delete", get(delete_page).post(delete_account))
        .route("/u/account/reauthenticate", get(reauthenticate))
        .route("/u/avatars/{file}", get(avatar))
}

// ---- the terms: sign-up box and login step ----

/// The sign-up form's required box; its value is the version the page shows, so a change
/// of terms while the page was open is noticed.
pub(super) fn terms_checkbox(t: &ConsentSettings) -> Markup {
    html! {
        p #terms {
            label.check {
                input type="checkbox" name="terms" value=(t.terms_version) required;
                " I have read and accept the "
                a href=(t.terms_url) target="_blank" rel="noopener noreferrer" { "terms" }
                " (version " (t.terms_version) ")."
            }
        }
    }
}

pub(super) fn terms_page(s: &TermsScreen, csrf: &str) -> Markup {
    let body = html! {
        h1 { @if s.changed { "Our terms have changed" } @else { "Accept our terms" } }
        @if let Some(e) = &s.user_email { p.muted { "Signed in as " (e) } }
        (error_box(s.error.as_deref()))
        p {
            @if s.withdrawn { "You withdrew your consent to our terms. " }
            "To continue to " (s.client_name) ", read and accept our "
            a href=(s.terms_url) target="_blank" rel="noopener noreferrer" { "terms" }
            " (version " (s.terms_version) ")."
        }
        form method="post" action="/u/terms" {
            (flow_fields(&s.transaction, csrf))
            input type="hidden" name="terms_version" value=(s.terms_version);
            button type="submit" name="action" value="accept" { "Accept" }
            button.secondary type="submit" name="action" value="decline" { "Decline" }
        }
    };
    layout("Terms", Some(&s.branding), body)
}

async fn terms_get(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .terms_screen(field(&q, "state"), &b.browser)
        .await;
    super::render(&s.gatehouse, outcome, &b)
}

async fn terms_post(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .submit_terms(
            field(&f, "state"),
            field(&f, "action") == "accept",
            field(&f, "terms_version"),
            &b.browser,
        )
        .await;
    super::render(&s.gatehouse, outcome, &b)
}

// ---- the account page ----

fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

/// A page with forms: the browser gets its CSRF cookie if it has none yet.
fn form_page(g: &Gatehouse, b: &BrowserRequest, status: StatusCode, markup: Markup) -> Response {
    let mut r = page(status, markup);
    if !b.browser.csrf_sent
        && let Some(c) = &b.browser.csrf
    {
        super::set_csrf_cookie(g, &mut r, c);
    }
    r
}

fn csrf_of(g: &Gatehouse, b: &BrowserRequest) -> String {
    g.csrf_token(b.browser.csrf.as_deref().unwrap_or_default())
}

/// Sends the browser through the hosted login to come back to `return_to`.
async fn sign_in(
    g: &Gatehouse,
    b: &BrowserRequest,
    return_to: &str,
    fresh: bool,
    connection: Option<&str>,
) -> Response {
    match g.begin_account_sign_in(return_to, fresh, connection).await {
        Ok(start) => {
            let mut r = redirect(&start.authorize_url);
            let cookie = super::cookies::set_under(
                SIGN_IN_COOKIE_PATH,
                SIGN_IN_COOKIE,
                &start.pending_cookie,
                600,
                super::secure(g),
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(e) => failure_page(e.into(), &b.request_id),
    }
}

/// The logged-in user, or the response that signs them in (or reports our failure).
async fn session_or_sign_in(
    g: &Gatehouse,
    b: &BrowserRequest,
    return_to: &str,
) -> Result<ActiveSession, Response> {
    match g.account_session(&b.browser).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(sign_in(g, b, return_to, false, None).await),
        Err(e) => Err(failure_page(e.into(), &b.request_id)),
    }
}

/// A form post needs a live session; without one the page is stale.
async fn session_for_post(g: &Gatehouse, b: &BrowserRequest) -> Result<ActiveSession, Response> {
    match g.account_session(&b.browser).await {
        Ok(Some(s)) => Ok(s),
        Ok(None) => Err(see_other("/u/account")),
        Err(e) => Err(failure_page(e.into(), &b.request_id)),
    }
}

async fn sign_in_callback(
    State(s): State<AppState>,
    b: BrowserRequest,
    headers: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = &s.gatehouse;
    if let Some(e) = q.get("error") {
        let text = q.get("error_description").unwrap_or(e);
        return page(
            StatusCode::BAD_REQUEST,
            super::pages::message("You are not signed in", text),
        );
    }
    let pending = super::cookies::read(&headers, SIGN_IN_COOKIE);
    let mut r = match g
        .finish_account_sign_in(
            field(&q, "code"),
            field(&q, "state"),
            pending.as_deref(),
            &b.browser,
        )
        .await
    {
        Ok(back) => see_other(&back),
        Err(text) => page(
            StatusCode::BAD_REQUEST,
            super::pages::message("You are not signed in", &text),
        ),
    };
    let clear =
        super::cookies::set_under(SIGN_IN_COOKIE_PATH, SIGN_IN_COOKIE, "", 0, super::secure(g));
    if let Ok(v) = HeaderValue::from_str(&clear) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
    r
}

fn done_message(code: &str) -> Option<&'static str> {
    Some(match code {
        "name" => "Your name was saved.",
        "withdrawn" => "Your consent was withdrawn. You will be asked again at your next login.",
        "nothing" => "There was no consent to withdraw.",
        _ => return None,
    })
}

fn time(date: Option<&str>) -> String {
    date.map(|d| d.get(..19).unwrap_or(d).replace('T', " ") + " UTC")
        .unwrap_or_else(|| "—".into())
}

fn time_ms(ms: Option<i64>) -> String {
    time(ms.map(iso8601).as_deref())
}

fn opt(v: &Option<String>) -> String {
    v.clone().unwrap_or_else(|| "—".into())
}

fn pretty(v: &serde_json::Map<String, Value>) -> String {
    serde_json::to_string_pretty(v).unwrap_or_default()
}

fn profile(view: &AccountView) -> Markup {
    let u = &view.user;
    html! {
        dl #profile {
            dt { "User id" } dd { code { (u.user_id) } }
            dt { "Email" } dd { (opt(&u.email)) @if u.email.is_some() { " " span.muted { @if u.email_verified { "(verified)" } @else { "(not verified)" } } } }
            dt { "Username" } dd { (opt(&u.username)) }
            dt { "Phone" } dd { (opt(&u.phone_number)) }
            dt { "Name" } dd { (opt(&u.name)) }
            dt { "Given / family name" } dd { (opt(&u.given_name)) " / " (opt(&u.family_name)) }
            dt { "Nickname" } dd { (opt(&u.nickname)) }
            dt { "Connection" } dd { (u.connection) }
            dt { "Created" } dd { (time_ms(Some(u.created_at))) }
            dt { "Updated" } dd { (time_ms(Some(u.updated_at))) }
            dt { "Logins" } dd { (u.logins_count) }
            dt { "Last login" } dd { (time_ms(u.last_login)) }
            dt { "Last IP address" } dd { (opt(&u.last_ip)) }
        }
    }
}

fn name_form(view: &AccountView, csrf: &str) -> Markup {
    let u = &view.user;
    html! {
        form method="post" action="/u/account/profile" #name-form {
            (csrf_input(csrf))
            label for="name" { "Name" }
            input #name name="name" type="text" autocomplete="name" required value=(u.name.as_deref().unwrap_or(""));
            label for="given_name" { "Given name" }
            input #given_name name="given_name" type="text" autocomplete="given-name" value=(u.given_name.as_deref().unwrap_or(""));
            label for="family_name" { "Family name" }
            input #family_name name="family_name" type="text" autocomplete="family-name" value=(u.family_name.as_deref().unwrap_or(""));
            button type="submit" { "Save" }
        }
    }
}

fn consent_section(view: &AccountView, csrf: &str) -> Markup {
    html! {
        div #consent {
            @match &view.consent {
                Some(c) if c.given => {
                    p { "You accepted the terms (version " (opt(&c.version)) ") on " (time(c.date.as_deref())) "." }
                }
                Some(c) if !c.history.is_empty() => {
                    p { "You withdrew your consent on " (time(c.date.as_deref())) "." }
                }
                _ => { p.muted { "No consent recorded." } }
            }
            @if let Some(t) = &view.terms {
                p.muted { "Current terms: " a href=(t.terms_url) target="_blank" rel="noopener noreferrer" { "version " (t.terms_version) } }
            }
            @if let Some(c) = view.consent.as_ref().filter(|c| !c.history.is_empty()) {
                (table(Some("consent-history"), &["Date", "Version", "Change"], html! {
                    @for h in c.history.iter().rev() {
                        tr {
                            td { (time(h.date.as_deref())) }
                            td { (opt(&h.version)) }
                            td { @if h.given { "given" } @else { "withdrawn" } }
                        }
                    }
                }))
            }
            @if view.consent.as_ref().is_some_and(|c| c.given) {
                (button_form("/u/account/consent", csrf, "Withdraw my consent", "secondary"))
            }
        }
    }
}

fn identities(view: &AccountView) -> Markup {
    let doc = view.user.to_json();
    let ids = doc["identities"].as_array().cloned().unwrap_or_default();
    table(
        Some("identities"),
        &["Connection", "Provider", "Id at the provider", "Email"],
        html! {
            @for i in &ids {
                tr {
                    td { (i["connection"].as_str().unwrap_or("")) }
                    td { (i["provider"].as_str().unwrap_or("")) }
                    td { code { (i["user_id"].as_str().map(String::from).unwrap_or_else(|| i["user_id"].to_string())) } }
                    td { (i["profileData"]["email"].as_str().or(view.user.email.as_deref().filter(|_| i.get("profileData").is_none())).unwrap_or("—")) }
                }
            }
        },
    )
}

fn logins(view: &AccountView) -> Markup {
    html! {
        @if view.recent_logins.is_empty() {
            p.muted { "No logins recorded." }
        } @else {
            (table(Some("logins"), &["Date", "IP address", "Application", "Browser"], html! {
                @for e in &view.recent_logins {
                    tr {
                        td { (time_ms(Some(e.date))) }
                        td { (opt(&e.ip)) }
                        td { (opt(&e.client_id)) }
                        td { (opt(&e.user_agent)) }
                    }
                }
            }))
        }
    }
}

fn account_markup(
    view: &AccountView,
    csrf: &str,
    shown: Option<&str>,
    error: Option<&str>,
) -> Markup {
    let u = &view.user;
    let title = u
        .name
        .as_deref()
        .or(u.email.as_deref())
        .unwrap_or(&u.user_id);
    let body = html! {
        div.user-head {
            @if let Some(p) = &u.picture { img.avatar #picture src=(p) alt=""; }
            h1 { (title) }
        }
        (notice(shown))
        (error_box(error))
        p { a.button href="/u/account/data" download #download { "Download my data" } }
        h2 { "Your profile" }
        (profile(view))
        h2 { "Correct your name" }
        (name_form(view, csrf))
        h2 { "Consent" }
        (consent_section(view, csrf))
        h2 { "Identities" }
        (identities(view))
        h2 { "Your metadata" }
        pre #user-metadata { (pretty(&u.user_metadata)) }
        h2 { "Set by the application" }
        pre #app-metadata { (pretty(&u.app_metadata)) }
        h2 { "Recent logins" }
        (logins(view))
        h2 { "Delete your account" }
        p { "Deleting your account removes your profile for good; your entries in our logs keep no email or IP address." }
        p { a.button.danger href="/u/account/delete" { "Delete my account…" } }
    };
    layout("Your account", Some(&view.branding), body)
}

async fn show_account(
    g: &Gatehouse,
    b: &BrowserRequest,
    session: &ActiveSession,
    status: StatusCode,
    shown: Option<&str>,
    error: Option<&str>,
) -> Response {
    match g.account_view(session).await {
        Ok(view) => form_page(
            g,
            b,
            status,
            account_markup(&view, &csrf_of(g, b), shown, error),
        ),
        Err(e) => failure_page(e.into(), &b.request_id),
    }
}

async fn account_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = &s.gatehouse;
    let session = match session_or_sign_in(g, &b, "/u/account").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    show_account(
        g,
        &b,
        &session,
        StatusCode::OK,
        done_message(field(&q, "done")),
        None,
    )
    .await
}

/// `GET /u/account/data`: everything about the user as one JSON file.
async fn download(State(s): State<AppState>, b: BrowserRequest) -> Response {
    let g = &s.gatehouse;
    let session = match session_or_sign_in(g, &b, "/u/account").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match g.personal_data(&session.user).await {
        Ok(doc) => {
            let body = serde_json::to_vec_pretty(&doc).unwrap_or_default();
            let mut r = (StatusCode::OK, body).into_response();
            let h = r.headers_mut();
            h.insert(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json; charset=utf-8"),
            );
            h.insert(
                header::CONTENT_DISPOSITION,
                HeaderValue::from_static("attachment; filename=\"my-data.json\""),
            );
            r
        }
        Err(e) => failure_page(e.into(), &b.request_id),
    }
}

async fn correct_name(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let session = match session_for_post(g, &b).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match g
        .correct_name(
            &session.user,
            field(&f, "name"),
            field(&f, "given_name"),
            field(&f, "family_name"),
        )
        .await
    {
        Ok(_) => see_other("/u/account?done=name"),
        Err(NameRefused::Problem(m)) => {
            show_account(g, &b, &session, StatusCode::BAD_REQUEST, None, Some(&m)).await
        }
        Err(NameRefused::Failed(f)) => failure_page(f, &b.request_id),
    }
}

async fn withdraw(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(_): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let session = match session_for_post(g, &b).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match g.withdraw_consent(&session.user).await {
        Ok(true) => see_other("/u/account?done=withdrawn"),
        Ok(false) => see_other("/u/account?done=nothing"),
        Err(e) => failure_page(e.into(), &b.request_id),
    }
}

fn delete_markup(
    g: &Gatehouse,
    b: &BrowserRequest,
    session: &ActiveSession,
    how: Reauthentication,
    error: Option<&str>,
    branding: &gatehouse_service::browser::Branding,
) -> Markup {
    let csrf = csrf_of(g, b);
    let who = session
        .user
        .email
        .as_deref()
        .unwrap_or(&session.user.user_id);
    let body = html! {
        h1 { "Delete your account" }
        p.muted { "Signed in as " (who) }
        (error_box(error))
        p { "This deletes your profile, your sessions and your consent records. It cannot be undone. Our logs keep your past events without your email, name or IP address." }
        @match how {
            Reauthentication::RecentLogin { fresh: false } => {
                p { "For your security, log in again before deleting your account." }
                p { a.button href="/u/account/reauthenticate" { "Log in again" } }
            }
            _ => {
                form method="post" action="/u/account/delete" #delete-form {
                    (csrf_input(&csrf))
                    @if how == Reauthentication::Password {
                        label for="password" { "Your password" }
                        (password_input("password", "password", "current-password", true))
                    }
                    (check("confirm", Some("yes"), false, html! { "I understand that my account will be deleted for good." }))
                    button.danger type="submit" { "Delete my account" }
                }
            }
        }
        p { a href="/u/account" { "Cancel" } }
    };
    layout("Delete your account", Some(branding), body)
}

async fn show_delete(
    g: &Gatehouse,
    b: &BrowserRequest,
    session: &ActiveSession,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let how = match g.reauthentication(session).await {
        Ok(h) => h,
        Err(e) => return failure_page(e.into(), &b.request_id),
    };
    let branding = match g.branding().await {
        Ok(br) => br,
        Err(e) => return failure_page(e.into(), &b.request_id),
    };
    form_page(
        g,
        b,
        status,
        delete_markup(g, b, session, how, error, &branding),
    )
}

async fn delete_page(State(s): State<AppState>, b: BrowserRequest) -> Response {
    let g = &s.gatehouse;
    let session = match session_or_sign_in(g, &b, "/u/account/delete").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    show_delete(g, &b, &session, StatusCode::OK, None).await
}

/// The login again that deleting an account without a password takes (`prompt=login`,
/// through the user's own identity provider).
async fn reauthenticate(State(s): State<AppState>, b: BrowserRequest) -> Response {
    let g = &s.gatehouse;
    let session = match session_or_sign_in(g, &b, "/u/account/delete").await {
        Ok(s) => s,
        Err(r) => return r,
    };
    let connection = session.user.connection.clone();
    sign_in(g, &b, "/u/account/delete", true, Some(&connection)).await
}

async fn delete_account(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    let session = match session_for_post(g, &b).await {
        Ok(s) => s,
        Err(r) => return r,
    };
    match g
        .delete_own_account(
            &session,
            field(&f, "password"),
            field(&f, "confirm") == "yes",
            &b.browser,
        )
        .await
    {
        Ok(()) => {
            let mut r = page(
                StatusCode::OK,
                super::pages::message(
                    "Your account has been deleted",
                    "Your account and your profile are gone, and you are logged out. Our logs keep no email or IP address of yours.",
                ),
            );
            if let Some(v) = super::clear_session(g) {
                r.headers_mut().append(header::SET_COOKIE, v);
            }
            r
        }
        Err(DeleteRefused::Problem(m)) => {
            show_delete(g, &b, &session, StatusCode::BAD_REQUEST, Some(&m)).await
        }
        Err(DeleteRefused::NeedsFreshLogin) => see_other("/u/account/reauthenticate"),
        Err(DeleteRefused::Failed(f)) => failure_page(f, &b.request_id),
    }
}

// ---- pictures ----

/// An initials picture can be drawn but never runs anything, even opened on its own.
const AVATAR_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'";

/// `GET /u/avatars/<initials>.svg`: the same letters always draw the same picture, so it is
/// cached for a year; applications on other origins show it (`Cross-Origin-Resource-Policy`).
async fn avatar(Path(file): Path<String>) -> Response {
    let Some(initials) = file
        .strip_suffix(".svg")
        .filter(|i| gatehouse_core::avatar::valid_initials(i))
    else {
        return (StatusCode::NOT_FOUND, "Not found").into_response();
    };
    let mut r = (StatusCode::OK, gatehouse_core::avatar::svg(initials)).into_response();
    let h = r.headers_mut();
    for (name, value) in [
        (header::CONTENT_TYPE, "image/svg+xml; charset=utf-8"),
        (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
        (header::CONTENT_SECURITY_POLICY, AVATAR_CSP),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
    ] {
        h.insert(name, HeaderValue::from_static(value));
    }
    h.insert(
        header::HeaderName::from_static("cross-origin-resource-policy"),
        HeaderValue::from_static("cross-origin"),
    );
    r
}
