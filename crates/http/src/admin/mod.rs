//! The admin dashboard at `/admin`: server-rendered pages over the same service calls the
//! Management API makes, for users holding the admin role (`gatehouse_service::admin`).
//! Every request checks the dashboard session and the role; every form carries the CSRF
//! token of the hosted pages; pages get the hosted pages' hardening headers.
//!
//! Two extractors say who a page is for: [`Dashboard`] admits full administrators only (so
//! a page is closed to delegated administrators unless it says otherwise), and [`Scoped`]
//! admits delegated administrators too, with the `UserScope` that limits every call the
//! users, logs and delegation pages make (`gatehouse_service::delegated_admin`).

mod actions;
mod charts;
mod code;
mod connections;
mod delegation;
mod directory;
mod format;
mod frame;
mod home;
mod jobs;
mod logs;
mod rules;
mod saml;
mod scripts;
mod settings;
mod users;

use crate::AppState;
use crate::extract::ClientInfo;
use crate::hosted::cookies;
use crate::templates::{Markup, error_box, html};
use axum::Router;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::http::{HeaderValue, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use gatehouse_core::log_event::{LogEvent, codes};
use gatehouse_service::admin::{Admin, DashboardAccess, SignInRefused};
use gatehouse_service::delegated_admin::UserScope;
use gatehouse_service::{Gatehouse, ServiceError};
use std::collections::HashMap;

/// The dashboard session cookie (scoped to `/admin`).
const ADMIN_COOKIE: &str = "gh_admin";
/// The sealed state of a sign-in on its way through the login page.
const SIGN_IN_COOKIE: &str = "gh_admin_signin";

const SCRIPT: &str = include_str!("admin.js");

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/admin", get(home::home))
        .route("/admin/", get(home::home))
        .route("/admin/callback", get(callback))
        .route("/admin/signout", post(sign_out))
        .route("/admin/assets/admin.js", get(script))
        .merge(users::router())
        .merge(settings::router())
        .merge(connections::router())
        .merge(jobs::router())
        .merge(logs::router())
        .merge(actions::router())
        .merge(rules::router())
        .merge(delegation::router())
        .layer(axum::middleware::from_fn_with_state(state, audit))
        .layer(axum::middleware::map_response(admin_headers))
}

/// Why a request was refused, said on its answer for the tenant log (the page says it too).
#[derive(Clone)]
pub(crate) struct Refusal(pub String);

/// Notes a refusal's reason on a 403 answer, for [`audit`].
pub(crate) fn noted(mut r: Response, message: &str) -> Response {
    if r.status() == StatusCode::FORBIDDEN {
        r.extensions_mut().insert(Refusal(message.to_string()));
    }
    r
}

/// Records every dashboard write in the tenant log as Management API writes are (`sapi` when
/// it succeeded, `fapi` when it was refused), with the administrator who made it, so "who
/// blocked this user?" has an answer; and every refused page (a 403: a delegated
/// administrator reaching past their limits) as `fapi` with its reason. Only the method and
/// path are kept: forms carry passwords.
async fn audit(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let who = ClientInfo::from_headers_and_extensions(req.headers(), req.extensions());
    let cookie = cookies::read(req.headers(), ADMIN_COOKIE);
    let resp = next.run(req).await;
    let status = resp.status();
    if method != Method::POST && status != StatusCode::FORBIDDEN {
        return resp;
    }
    // Strangers were refused before any handler ran; a sign-out has ended the session.
    let Ok(Some(admin)) = s.gatehouse.admin_session(cookie.as_deref()).await else {
        return resp;
    };
    let reason = resp.extensions().get::<Refusal>().map(|r| r.0.clone());
    let mut details = serde_json::Map::new();
    details.insert(
        "request".into(),
        serde_json::json!({"method": method.as_str(), "path": path}),
    );
    details.insert(
        "response".into(),
        serde_json::json!({"statusCode": status.as_u16()}),
    );
    if let DashboardAccess::Delegated(d) = &admin.access {
        details.insert("delegated_admin".into(), serde_json::json!(d.level.role()));
    }
    let description = match &reason {
        Some(r) => format!("Dashboard: {method} {path} refused. {r}"),
        None => format!("Dashboard: {method} {path}"),
    };
    s.gatehouse
        .record(LogEvent {
            kind: if status.as_u16() < 400 {
                codes::SUCCESS_API_OPERATION
            } else {
                codes::FAILED_API_OPERATION
            }
            .into(),
            description: Some(description),
            client_id: Some(gatehouse_service::admin::DASHBOARD_CLIENT_ID.into()),
            user_id: Some(admin.user.user_id.clone()),
            user_name: admin.user.email.clone(),
            ip: who.ip,
            user_agent: who.user_agent,
            details,
            ..Default::default()
        })
        .await;
    resp
}

/// A signed-in full administrator with the CSRF token for the page's forms. Extracting it
/// refuses the request (sign-in redirect, 403 for a user without the role, 403 for a
/// delegated administrator) before any handler runs.
pub(crate) struct Dashboard {
    pub admin: Admin,
    pub csrf: String,
    new_csrf_cookie: Option<String>,
    secure: bool,
}

/// What a delegated administrator is told on a page that is not theirs.
const FULL_ONLY: &str = "Not allowed: delegated administrators can use the users area only (and the logs, or the delegation settings, when their role includes them).";

impl FromRequestParts<AppState> for Dashboard {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let d = signed_in(parts, s).await?;
        if !d.admin.access.is_full() {
            let page = d.page(
                StatusCode::FORBIDDEN,
                "Not allowed",
                frame::Nav::Other,
                error_box(Some(FULL_ONLY)),
            );
            return Err(noted(page, FULL_ONLY));
        }
        Ok(d)
    }
}

/// A signed-in administrator, full or delegated, with what they may reach: the pages that
/// delegated administrators use take this, and make every call through its scope.
pub(crate) struct Scoped {
    pub dash: Dashboard,
    pub scope: UserScope,
}

impl std::ops::Deref for Scoped {
    type Target = Dashboard;
    fn deref(&self) -> &Dashboard {
        &self.dash
    }
}

impl FromRequestParts<AppState> for Scoped {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, s: &AppState) -> Result<Self, Response> {
        let dash = signed_in(parts, s).await?;
        match s.gatehouse.user_scope(&dash.admin).await {
            Ok(scope) => Ok(Self { dash, scope }),
            Err(e) => Err(failure(e)),
        }
    }
}

/// The dashboard session behind the request, whatever its access; refuses (sign-in
/// redirect, or 403 for a user without dashboard access) otherwise.
async fn signed_in(parts: &mut Parts, s: &AppState) -> Result<Dashboard, Response> {
    let g = &s.gatehouse;
    let cookie = cookies::read(&parts.headers, ADMIN_COOKIE);
    match g.admin_session(cookie.as_deref()).await {
        Ok(Some(admin)) if parts.method == Method::POST && !admin.logged_in_recently(g.now()) => {
            // A change needs a recent password: log in again, then come back to the
            // page the form was on (the change itself is made again from there).
            let back = parts
                .headers
                .get(header::REFERER)
                .and_then(|r| r.to_str().ok())
                .and_then(|r| r.strip_prefix(&g.config().public_url))
                .unwrap_or("/admin")
                .to_string();
            Err(start_sign_in(g, &back).await)
        }
        Ok(Some(admin)) => {
            let existing = cookies::read(&parts.headers, cookies::CSRF_COOKIE);
            let (csrf_cookie, new) = match existing {
                Some(c) if c.len() >= 16 => (c, false),
                // Without randomness there is no CSRF cookie to hand out: an empty one would
                // give every browser the same token.
                _ => match gatehouse_crypto::random::b64url(24) {
                    Ok(c) => (c, true),
                    Err(e) => return Err(failure(gatehouse_service::Failure::internal(e))),
                },
            };
            Ok(Dashboard {
                admin,
                csrf: g.csrf_token(&csrf_cookie),
                new_csrf_cookie: new.then_some(csrf_cookie),
                secure: secure(g),
            })
        }
        Ok(None) => {
            // Only a page can be come back to; an action starts again from the home page.
            let back = if parts.method == Method::GET {
                parts
                    .uri
                    .path_and_query()
                    .map(|p| p.as_str())
                    .unwrap_or("/admin")
            } else {
                "/admin"
            };
            Err(start_sign_in(g, back).await)
        }
        Err(SignInRefused::NotAdmin(who)) => Err(not_admin(g, &who)),
        Err(e) => Err(failure(e)),
    }
}

impl Dashboard {
    /// A page that only says why something could not be shown or done.
    pub fn refused(&self, e: ServiceError, title: &str, nav: frame::Nav) -> Response {
        let (status, message) = refusal(e);
        noted(
            self.page(status, title, nav, error_box(Some(&message))),
            &message,
        )
    }

    pub fn email(&self) -> &str {
        self.admin
            .user
            .email
            .as_deref()
            .unwrap_or(&self.admin.user.user_id)
    }

    /// A full page with the navigation.
    pub fn page(&self, status: StatusCode, title: &str, nav: frame::Nav, body: Markup) -> Response {
        let mut r = (
            status,
            frame::layout(
                title,
                nav,
                self.email(),
                &self.admin.access,
                &self.csrf,
                body,
            ),
        )
            .into_response();
        if let Some(c) = &self.new_csrf_cookie
            && let Ok(v) =
                HeaderValue::from_str(&cookies::set(cookies::CSRF_COOKIE, c, 86_400, self.secure))
        {
            r.headers_mut().append(header::SET_COOKIE, v);
        }
        r
    }
}

fn secure(g: &Gatehouse) -> bool {
    g.config().secure_cookies()
}

/// The dashboard's policy: its own script and status polling, and nothing from elsewhere.
const ADMIN_CSP: &str = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'unsafe-inline'; img-src https: http: data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// The dashboard's response layer: the hosted pages' headers on every answer, with
/// [`ADMIN_CSP`] unless the page set its own ([`allow_form_redirects_to`]).
async fn admin_headers(mut r: Response) -> Response {
    crate::hosted::page_headers(&mut r, ADMIN_CSP, "same-origin");
    r
}

/// Gives a page the dashboard's policy with forms allowed to end at these origins as well:
/// browsers apply `form-action` to the redirects after a submission, and a form that logs
/// into an application (impersonation) is redirected to that application's callback.
/// `origins` come from `gatehouse_core::redirect::web_origin`, which admits no policy syntax.
pub(crate) fn allow_form_redirects_to(r: &mut Response, origins: &[String]) {
    if origins.is_empty() {
        return;
    }
    let policy = ADMIN_CSP.replace(
        "form-action 'self'",
        &format!("form-action 'self' {}", origins.join(" ")),
    );
    if let Ok(v) = HeaderValue::from_str(&policy) {
        r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
}

fn bare(status: StatusCode, title: &str, body: Markup) -> Response {
    (status, frame::bare(title, body)).into_response()
}

/// See-other redirect (after a form, the browser GETs the target).
pub(crate) fn see_other(location: &str) -> Response {
    let mut r = StatusCode::SEE_OTHER.into_response();
    if let Ok(v) = HeaderValue::from_str(location) {
        r.headers_mut().insert(header::LOCATION, v);
    }
    r
}

fn set_cookie(r: &mut Response, name: &str, value: &str, max_age: i64, secure: bool) {
    let cookie = cookies::set_under("/admin", name, value, max_age, secure);
    if let Ok(v) = HeaderValue::from_str(&cookie) {
        r.headers_mut().append(header::SET_COOKIE, v);
    }
}

async fn start_sign_in(g: &Gatehouse, back: &str) -> Response {
    match g.begin_admin_sign_in(back).await {
        Ok(start) => {
            let mut r = see_other(&start.authorize_url);
            set_cookie(
                &mut r,
                SIGN_IN_COOKIE,
                &start.pending_cookie,
                600,
                secure(g),
            );
            r
        }
        Err(e) => failure(e),
    }
}

fn not_admin(g: &Gatehouse, who: &str) -> Response {
    let mut r = bare(
        StatusCode::FORBIDDEN,
        "Not an administrator",
        html! {
            (error_box(Some(&SignInRefused::NotAdmin(who.to_string()).to_string())))
            p { "Ask an administrator to add " code { "admin" } " (or a " code { "Delegated Admin - …" } " role) to your " code { "app_metadata.roles" } "." }
            p { a.button.secondary href=(g.admin_sign_out_url()) { "Sign out" } }
        },
    );
    set_cookie(&mut r, ADMIN_COOKIE, "", 0, secure(g));
    r
}

/// Our failure on a dashboard request: a 503 when the database could not be reached, else a
/// 500; the cause goes to the edge's log with the request id.
fn failure(e: impl Into<gatehouse_service::Failure>) -> Response {
    let f = e.into();
    let status = if f.is_unavailable() {
        StatusCode::SERVICE_UNAVAILABLE
    } else {
        StatusCode::INTERNAL_SERVER_ERROR
    };
    let mut r = bare(
        status,
        "Something went wrong",
        error_box(Some(
            "The server could not complete this request. The details are in its log.",
        )),
    );
    crate::failure::attach(&mut r, f);
    r
}

/// A refused action in the page's words: its status, and the reason without the
/// Management API's wrapping (`Payload validation error: '…' on property …`).
pub(crate) fn refusal_in_words(e: ServiceError) -> (StatusCode, String) {
    let (status, message) = refusal(e);
    (status, scripts::plain_message(&message))
}

/// A form's fields as the Management API body `parse` reads, refused as that API would
/// refuse it: the dashboard checks what the API checks, in one place.
pub(crate) fn api_body<T>(
    body: serde_json::Value,
    parse: impl FnOnce(
        gatehouse_core::payload::Payload,
    ) -> Result<T, gatehouse_core::payload::InvalidBody>,
) -> Result<T, ServiceError> {
    let payload = gatehouse_core::payload::Payload::from_value(body)?;
    Ok(parse(payload)?)
}

/// A form or query field, empty when absent.
pub(crate) fn param<'a>(q: &'a HashMap<String, String>, k: &str) -> &'a str {
    q.get(k).map(String::as_str).unwrap_or("")
}

/// A refused action: its HTTP status (as the Management API would answer) and the words
/// for the page. Internal details stay in the log.
pub(crate) fn refusal(e: ServiceError) -> (StatusCode, String) {
    let message = match &e {
        ServiceError::Internal(_) | ServiceError::Store(_) => {
            tracing::error!(error = %e, "admin dashboard action failed");
            "The server could not complete this action. The details are in its log.".into()
        }
        other => other.to_string(),
    };
    (crate::error::ApiError::from(e).status, message)
}

/// Why a sign-in did not complete, and the way back in.
fn sign_in_problem(message: &str, again: &str) -> Markup {
    html! {
        (error_box(Some(message)))
        p { a href="/admin" { (again) } }
    }
}

async fn callback(
    State(s): State<AppState>,
    who: ClientInfo,
    parts: axum::http::HeaderMap,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let g = &s.gatehouse;
    let get = |k: &str| q.get(k).map(String::as_str).unwrap_or("");
    if !get("error").is_empty() {
        return bare(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            sign_in_problem(get("error_description"), "Try again"),
        );
    }
    let pending = cookies::read(&parts, SIGN_IN_COOKIE);
    let previous = cookies::read(&parts, ADMIN_COOKIE);
    let result = g
        .finish_admin_sign_in(
            get("code"),
            get("state"),
            pending.as_deref(),
            previous.as_deref(),
            who.ip,
            who.user_agent,
        )
        .await;
    let mut r = match result {
        Ok((session, back)) => {
            let mut r = see_other(&back);
            set_cookie(
                &mut r,
                ADMIN_COOKIE,
                &session.value,
                session.max_age_secs,
                secure(g),
            );
            r
        }
        Err(SignInRefused::NotAdmin(who)) => not_admin(g, &who),
        Err(e @ (SignInRefused::Expired | SignInRefused::Login(_))) => bare(
            StatusCode::BAD_REQUEST,
            "Sign-in did not complete",
            sign_in_problem(&e.to_string(), "Sign in again"),
        ),
        Err(e) => failure(e),
    };
    set_cookie(&mut r, SIGN_IN_COOKIE, "", 0, secure(g));
    r
}

/// Ends the dashboard session, then the login session through the tenant's logout (any
/// administrator, delegated ones included).
async fn sign_out(
    State(s): State<AppState>,
    headers: axum::http::HeaderMap,
    _d: Scoped,
    crate::hosted::VerifiedForm(_): crate::hosted::VerifiedForm,
) -> Response {
    let g = &s.gatehouse;
    if let Err(e) = g
        .end_session(cookies::read(&headers, ADMIN_COOKIE).as_deref())
        .await
    {
        return failure(e);
    }
    let mut r = see_other(&g.admin_sign_out_url());
    set_cookie(&mut r, ADMIN_COOKIE, "", 0, secure(g));
    r
}

async fn script() -> Response {
    let mut r = (
        [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
        SCRIPT,
    )
        .into_response();
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        HeaderValue::from_static("public, max-age=300"),
    );
    r.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    r
}
