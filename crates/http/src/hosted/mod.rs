//! The browser-facing surface: `GET /authorize`, the hosted login, sign-up and consent pages
//! under `/u/`, and `/continue` after the post-login redirect hook. Pages are rendered here;
//! the flow's decisions are the service's (`gatehouse_service::browser`).

mod account;
pub(crate) mod cookies;
mod forgot_password;
mod pages;

pub use cookies::{BrowserRequest, SESSION_COOKIE};
pub use pages::message as message_page;

use crate::AppState;
use axum::Router;
use axum::extract::{Form, FromRequest, Query, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use gatehouse_core::authorize::ResponseMode;
use gatehouse_service::Gatehouse;
use gatehouse_service::browser::{Outcome, Step};
use std::collections::HashMap;

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/authorize", get(authorize))
        .route("/u/login", get(login_page).post(login_submit))
        .route("/u/login/upstream", get(login_with_provider))
        .route("/u/link", axum::routing::post(link_submit))
        .route(
            "/login/callback",
            get(upstream_callback).post(upstream_callback_post),
        )
        .route("/samlp/metadata", get(saml_metadata))
        .route("/u/signup", get(signup_page).post(signup_submit))
        .route("/u/consent", get(consent_page).post(consent_submit))
        .route("/continue", get(resume).post(resume_post))
        .route("/u/profile", get(profile_page).post(profile_submit))
        .route("/lo/reset", get(reset_page).post(reset_submit))
        .route("/lo/verify_email", get(verify_email))
        .route("/lo/unblock", get(unblock))
        .route("/passwordless/verify_redirect", get(magic_link))
        .route("/co/verify", axum::routing::post(co_verify))
        .route(
            "/u/reset-password",
            get(forgot_password::page).post(forgot_password::submit),
        )
        .merge(account::router())
        .layer(axum::middleware::map_response(hosted_headers))
}

fn secure(g: &Gatehouse) -> bool {
    g.config().secure_cookies()
}

/// The hosted pages' content security policy: no scripts at all.
const HOSTED_CSP: &str = "default-src 'none'; style-src 'unsafe-inline'; img-src https: http: data:; frame-ancestors 'none'; base-uri 'none'";

/// The hosted surface's response layer: every answer of these routes carries the page
/// headers, so no page can forget them.
async fn hosted_headers(mut resp: Response) -> Response {
    page_headers(&mut resp, HOSTED_CSP, "no-referrer");
    resp
}

/// Marks the one hosted answer that may be framed: the `web_message` page, whose own
/// policy's `frame-ancestors` names the application's origin.
#[derive(Clone, Copy)]
struct Frameable;

/// Headers every browser page carries: never cached, never framed, no sniffing, the given
/// Referer policy (hosted pages: none, so the transaction in the URL never leaks) and
/// content security policy. A header the handler set itself (the form_post page's own
/// policy) is kept.
pub(crate) fn page_headers(resp: &mut Response, csp: &'static str, referrer: &'static str) {
    let frameable = resp.extensions().get::<Frameable>().is_some();
    let h = resp.headers_mut();
    if !frameable && !h.contains_key(header::X_FRAME_OPTIONS) {
        h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    }
    for (name, value) in [
        (header::CACHE_CONTROL, "no-store"),
        (header::REFERRER_POLICY, referrer),
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::CONTENT_SECURITY_POLICY, csp),
    ] {
        if !h.contains_key(&name) {
            h.insert(name, HeaderValue::from_static(value));
        }
    }
}

/// A page outside the hosted routes (logout) that looks and is protected like them.
pub(crate) fn harden(resp: &mut Response) {
    page_headers(resp, HOSTED_CSP, "no-referrer");
}

fn redirect(location: &str) -> Response {
    match HeaderValue::from_str(location) {
        Ok(v) => {
            let mut r = StatusCode::FOUND.into_response();
            r.headers_mut().insert(header::LOCATION, v);
            r
        }
        Err(_) => html(
            StatusCode::BAD_REQUEST,
            pages::message("Something went wrong", "The redirect address is not valid."),
        ),
    }
}

/// A form shown again with an error is a 400; shown fresh, a 200.
fn form_status(has_error: bool) -> StatusCode {
    if has_error {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    }
}

fn html(status: StatusCode, page: crate::templates::Markup) -> Response {
    (status, page).into_response()
}

/// Gives the browser its CSRF cookie (a day; forms carry a token derived from it).
fn set_csrf_cookie(g: &Gatehouse, resp: &mut Response, value: &str) {
    if let Ok(v) = HeaderValue::from_str(&cookies::set(
        cookies::CSRF_COOKIE,
        value,
        86_400,
        secure(g),
    )) {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Turns a step of the flow into a response, setting cookies as needed.
pub(crate) fn render(g: &Gatehouse, outcome: Outcome, b: &BrowserRequest) -> Response {
    // The browser's CSRF cookie, or the one minted for this answer (`BrowserRequest`).
    let csrf = b.browser.csrf.clone().unwrap_or_default();
    let new_csrf = !b.browser.csrf_sent;
    let mut set_csrf = false;
    let mut resp = match outcome.step {
        Step::Failed(f) => return failure_page(f, &b.request_id),
        Step::ErrorPage { status, message } => html(
            StatusCode::from_u16(status).unwrap_or(StatusCode::BAD_REQUEST),
            pages::message("Something went wrong", &message),
        ),
        Step::ToLogin {
            transaction,
            signup,
        } => {
            let page = if signup { "signup" } else { "login" };
            redirect(&format!("/u/{page}?state={transaction}"))
        }
        Step::Login(screen) => {
            set_csrf = new_csrf;
            let status = form_status(screen.error.is_some());
            html(status, pages::login(&screen, &g.csrf_token(&csrf)))
        }
        Step::ToConsent { transaction } => redirect(&format!("/u/consent?state={transaction}")),
        Step::Consent(screen) => {
            set_csrf = new_csrf;
            html(
                StatusCode::OK,
                pages::consent(&screen, &g.csrf_token(&csrf)),
            )
        }
        Step::Profile(screen) => {
            set_csrf = new_csrf;
            let status = form_status(screen.error.is_some());
            html(status, pages::profile(&screen, &g.csrf_token(&csrf)))
        }
        Step::ToTerms { transaction } => redirect(&format!("/u/terms?state={transaction}")),
        Step::Terms(screen) => {
            set_csrf = new_csrf;
            let status = form_status(screen.error.is_some());
            html(status, account::terms_page(&screen, &g.csrf_token(&csrf)))
        }
        Step::SuggestLink(screen) => {
            set_csrf = new_csrf;
            let status = form_status(screen.error.is_some());
            html(status, pages::suggest_link(&screen, &g.csrf_token(&csrf)))
        }
        Step::VerifyCrossOrigin(r) => {
            set_csrf = new_csrf;
            let mut resp = html(
                StatusCode::OK,
                pages::cross_origin_verification(&r, &g.csrf_token(&csrf)),
            );
            if let Ok(csp) = HeaderValue::from_str(&pages::cross_origin_verification_csp(&r)) {
                resp.headers_mut()
                    .insert(header::CONTENT_SECURITY_POLICY, csp);
            }
            resp
        }
        Step::External(url) => {
            // A login sent to an identity provider is bound to this cookie.
            set_csrf = new_csrf;
            redirect(&url)
        }
        Step::Callback(answer) => match answer.mode {
            ResponseMode::FormPost => {
                let mut r = html(
                    StatusCode::OK,
                    pages::form_post(&answer.redirect_uri, &answer.params),
                );
                r.headers_mut().insert(
                    header::CONTENT_SECURITY_POLICY,
                    HeaderValue::from_static(pages::FORM_POST_CSP),
                );
                return with_session(g, r, outcome.set_session);
            }
            ResponseMode::WebMessage => {
                // The service checked this origin against the application's web origins.
                let Some(origin) = gatehouse_core::redirect::web_origin(&answer.redirect_uri)
                else {
                    return html(
                        StatusCode::BAD_REQUEST,
                        pages::message(
                            "Something went wrong",
                            "The redirect address is not valid.",
                        ),
                    );
                };
                let mut r = html(StatusCode::OK, pages::web_message(&origin, &answer.params));
                // Without its own policy the page is never framed: the hosted one and DENY apply.
                if let Ok(csp) = HeaderValue::from_str(&pages::web_message_csp(&origin)) {
                    r.headers_mut().insert(header::CONTENT_SECURITY_POLICY, csp);
                    r.extensions_mut().insert(Frameable);
                }
                return with_session(g, r, outcome.set_session);
            }
            _ => redirect(&answer.location()),
        },
    };
    if set_csrf {
        set_csrf_cookie(g, &mut resp, &csrf);
    }
    with_session(g, resp, outcome.set_session)
}

fn with_session(
    g: &Gatehouse,
    mut resp: Response,
    session: Option<gatehouse_service::browser::sessions::NewSessionCookie>,
) -> Response {
    if let Some(c) = session
        && let Ok(v) = HeaderValue::from_str(&cookies::set(
            SESSION_COOKIE,
            &c.value,
            c.max_age_secs,
            secure(g),
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

/// The cookie header that logs a browser out.
pub fn clear_session(g: &Gatehouse) -> Option<HeaderValue> {
    HeaderValue::from_str(&cookies::set(SESSION_COOKIE, "", 0, secure(g))).ok()
}

fn csrf_refused() -> Response {
    html(
        StatusCode::FORBIDDEN,
        pages::message(
            "Please try again",
            "This form could not be verified (its security token is missing or expired). Go back, reload the page and submit it again.",
        ),
    )
}

/// A form body whose CSRF token matches the browser's CSRF cookie; anything else is refused
/// before a handler runs.
pub(crate) struct VerifiedForm(pub HashMap<String, String>);

impl FromRequest<AppState> for VerifiedForm {
    type Rejection = Response;

    async fn from_request(req: Request, state: &AppState) -> Result<Self, Self::Rejection> {
        let csrf_cookie = cookies::read(req.headers(), cookies::CSRF_COOKIE);
        let Form(f) = Form::<HashMap<String, String>>::from_request(req, state)
            .await
            .map_err(|_| csrf_refused())?;
        if !state
            .gatehouse
            .check_csrf(csrf_cookie.as_deref(), f.get("_csrf").map(String::as_str))
        {
            return Err(csrf_refused());
        }
        Ok(Self(f))
    }
}

fn field<'a>(form: &'a HashMap<String, String>, k: &str) -> &'a str {
    form.get(k).map(String::as_str).unwrap_or("")
}

async fn authorize(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s.gatehouse.authorize(&q, &b.browser).await;
    let mut resp = render(&s.gatehouse, outcome, &b);
    // A cross-origin login's verifier is spent with its ticket, whatever the outcome.
    if q.contains_key("login_ticket")
        && b.browser.co_verifier.is_some()
        && let Ok(v) = HeaderValue::from_str(&cookies::set_cross_site(
            cookies::CO_VERIFIER_COOKIE,
            "",
            0,
            secure(&s.gatehouse),
        ))
    {
        resp.headers_mut().append(header::SET_COOKIE, v);
    }
    resp
}

async fn login_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s.gatehouse.login_screen(field(&q, "state"), false).await;
    render(&s.gatehouse, outcome, &b)
}

async fn login_with_provider(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .login_with_provider(field(&q, "state"), field(&q, "connection"), &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// A provider's answer in the query (the usual redirect).
async fn upstream_callback(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s.gatehouse.upstream_callback(&q, false, &b.browser).await;
    render(&s.gatehouse, outcome, &b)
}

/// A provider's answer posted by the browser (`response_mode=form_post`: Apple, front-channel
/// OpenID Connect). It comes from the provider's page, so it carries no form token of ours;
/// the sealed, single-use `state` is what ties it to the login.
async fn upstream_callback_post(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    // A SAML identity provider posts its Response to Auth0's path for it.
    if f.contains_key("SAMLResponse") {
        let connection = field(&q, "connection");
        let outcome = s.gatehouse.saml_callback(connection, &f, &b.browser).await;
        return render(&s.gatehouse, outcome, &b);
    }
    let outcome = s.gatehouse.upstream_callback(&f, true, &b.browser).await;
    render(&s.gatehouse, outcome, &b)
}

/// `GET /samlp/metadata?connection=NAME`: a SAML connection's service-provider metadata,
/// for the identity provider's administrator.
async fn saml_metadata(
    State(s): State<AppState>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.gatehouse.saml_sp_metadata(field(&q, "connection")).await {
        Ok(xml) => (
            [(header::CONTENT_TYPE, "application/xml; charset=utf-8")],
            xml,
        )
            .into_response(),
        Err(gatehouse_service::ServiceError::NotFound { message, .. }) => {
            html(StatusCode::NOT_FOUND, pages::message("Not found", &message))
        }
        Err(e) => crate::error::ApiError::from(e).into_response(),
    }
}

async fn signup_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s.gatehouse.login_screen(field(&q, "state"), true).await;
    render(&s.gatehouse, outcome, &b)
}

async fn login_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .submit_login(
            field(&f, "state"),
            field(&f, "username"),
            field(&f, "password").to_string(),
            &b.browser,
        )
        .await;
    render(&s.gatehouse, outcome, &b)
}

async fn link_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .submit_link_suggestion(
            field(&f, "state"),
            field(&f, "action") == "link",
            field(&f, "password").to_string(),
            &b.browser,
        )
        .await;
    render(&s.gatehouse, outcome, &b)
}

async fn signup_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .submit_signup(
            field(&f, "state"),
            field(&f, "email"),
            field(&f, "password").to_string(),
            // The box's value is the version of the terms the page showed.
            f.get("terms").map(String::as_str),
            &b.browser,
        )
        .await;
    render(&s.gatehouse, outcome, &b)
}

async fn consent_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .consent_screen(field(&q, "state"), &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

async fn consent_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let accepted = field(&f, "action") == "accept";
    let outcome = s
        .gatehouse
        .submit_consent(field(&f, "state"), accepted, &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

async fn resume(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .resume(field(&q, "state"), &q, false, &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// `POST /continue`: the external site may post the state back (Auth0 allows both), from
/// another site too: no CSRF token is asked for, the single-use state binds it.
async fn resume_post(
    State(s): State<AppState>,
    b: BrowserRequest,
    Form(f): Form<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .resume(field(&f, "state"), &f, true, &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// `GET /u/profile?state=…&fields=…`: the fields an action asked for.
async fn profile_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .profile_screen(field(&q, "state"), field(&q, "fields"), &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// `POST /u/profile`: the answers (CSRF-checked: this is Gatehouse's own form).
async fn profile_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .submit_profile(field(&f, "state"), &f, &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// `POST /co/verify`: the verifier the application's verification page handed back.
async fn co_verify(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let outcome = s
        .gatehouse
        .verify_cross_origin(field(&f, "state"), field(&f, "co_verifier"), &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// Our failure as a page: a 503 saying to try again when the database could not be reached,
/// else a 500. The request id is shown so a user can quote it; the cause goes to the log.
pub(crate) fn failure_page(f: gatehouse_service::Failure, request_id: &str) -> Response {
    let (status, text) = if f.is_unavailable() {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            "We cannot reach our database right now, so nothing was done. Try again in a moment.",
        )
    } else {
        (
            StatusCode::INTERNAL_SERVER_ERROR,
            "Something went wrong on our side, so nothing was done. Try again in a moment.",
        )
    };
    let mut r = html(status, pages::failure(text, request_id));
    crate::failure::attach(&mut r, f);
    r
}

fn ticket_refused(e: gatehouse_service::account::TicketRefused, request_id: &str) -> Response {
    if let gatehouse_service::account::TicketRefused::Failed(f) = e {
        return failure_page(f, request_id);
    }
    html(
        StatusCode::BAD_REQUEST,
        pages::message("This link does not work", &e.to_string()),
    )
}

fn ticket_done(done: gatehouse_service::account::TicketDone) -> Response {
    match (done.back_to_login, done.redirect) {
        (Some(login), _) => html(StatusCode::OK, pages::reset_done(done.message, &login)),
        (None, Some(url)) => redirect(&url),
        (None, None) => html(StatusCode::OK, pages::message("Done", done.message)),
    }
}

fn reset_form(
    g: &Gatehouse,
    screen: &gatehouse_service::account::ResetScreen,
    ticket: &str,
    b: &BrowserRequest,
    error: Option<&str>,
) -> Response {
    let csrf = b.browser.csrf.clone().unwrap_or_default();
    let new_csrf = !b.browser.csrf_sent;
    let status = form_status(error.is_some());
    let mut r = html(
        status,
        pages::reset(
            screen.email.as_deref(),
            &screen.policy,
            ticket,
            &g.csrf_token(&csrf),
            error,
        ),
    );
    if new_csrf {
        set_csrf_cookie(g, &mut r, &csrf);
    }
    r
}

/// `GET /lo/reset?ticket=`: the new-password form.
async fn reset_page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let ticket = field(&q, "ticket");
    match s.gatehouse.reset_screen(ticket).await {
        Ok(screen) => reset_form(&s.gatehouse, &screen, ticket, &b, None),
        Err(e) => ticket_refused(e, &b.request_id),
    }
}

async fn reset_submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let ticket = field(&f, "ticket");
    match s
        .gatehouse
        .submit_reset(
            ticket,
            field(&f, "password"),
            field(&f, "confirm"),
            &b.browser,
        )
        .await
    {
        Ok(done) => ticket_done(done),
        Err(Err(e)) => ticket_refused(e, &b.request_id),
        Err(Ok(message)) => match s.gatehouse.reset_screen(ticket).await {
            Ok(screen) => reset_form(&s.gatehouse, &screen, ticket, &b, Some(&message)),
            Err(e) => ticket_refused(e, &b.request_id),
        },
    }
}

/// `GET /lo/verify_email?ticket=`: marks the address verified.
async fn verify_email(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s
        .gatehouse
        .verify_email(field(&q, "ticket"), &b.browser)
        .await
    {
        Ok(done) => ticket_done(done),
        Err(e) => ticket_refused(e, &b.request_id),
    }
}

/// `GET /passwordless/verify_redirect?token=`: a passwordless magic link.
async fn magic_link(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let outcome = s
        .gatehouse
        .verify_magic_link(field(&q, "token"), &b.browser)
        .await;
    render(&s.gatehouse, outcome, &b)
}

/// `GET /lo/unblock?ticket=`: the link in the blocked-account email.
async fn unblock(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    match s.gatehouse.unblock_by_ticket(field(&q, "ticket")).await {
        Ok(done) => ticket_done(done),
        Err(e) => ticket_refused(e, &b.request_id),
    }
}
