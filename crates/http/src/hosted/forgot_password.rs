//! `/u/reset-password`: "Forgot password?" from the hosted login page. `GET` shows the email
//! form of a login transaction, `POST` (CSRF-checked, limited per IP in `crate::guard`)
//! asks the service to send the reset email and shows the same "check your email" answer
//! whether or not the address has an account. The decisions are the service's
//! (`gatehouse_service::browser::password_reset`).

use super::{BrowserRequest, VerifiedForm, field, html, pages, render, set_csrf_cookie};
use crate::AppState;
use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use gatehouse_service::browser::password_reset::ResetRequestScreen;
use gatehouse_service::browser::{Outcome, Step};
use std::collections::HashMap;

/// `GET /u/reset-password?state=<login transaction>`.
pub(super) async fn page(
    State(s): State<AppState>,
    b: BrowserRequest,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let screen = s.gatehouse.reset_request_screen(field(&q, "state")).await;
    answer(&s, screen, &b)
}

/// `POST /u/reset-password`.
pub(super) async fn submit(
    State(s): State<AppState>,
    b: BrowserRequest,
    VerifiedForm(f): VerifiedForm,
) -> Response {
    let screen = s
        .gatehouse
        .submit_reset_request(field(&f, "state"), field(&f, "email"), &b.browser)
        .await;
    answer(&s, screen, &b)
}

/// The screen as a page (its form bound to the browser's CSRF cookie), or the flow's
/// expired or failure page.
fn answer(s: &AppState, screen: Result<ResetRequestScreen, Step>, b: &BrowserRequest) -> Response {
    let screen = match screen {
        Ok(screen) => screen,
        Err(step) => return render(&s.gatehouse, Outcome::from(step), b),
    };
    let csrf = b.browser.csrf.clone().unwrap_or_default();
    let status = if screen.error.is_some() {
        StatusCode::BAD_REQUEST
    } else {
        StatusCode::OK
    };
    let mut resp = html(
        status,
        pages::reset_request(&screen, &s.gatehouse.csrf_token(&csrf)),
    );
    if !b.browser.csrf_sent {
        set_csrf_cookie(&s.gatehouse, &mut resp, &csrf);
    }
    resp
}
