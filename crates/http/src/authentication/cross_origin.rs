//! `POST /co/authenticate`: an embedded login form's password check across origins
//! (`gatehouse_service::browser::cross_origin`). The answer carries the `co_verifier`
//! cookie the later `/authorize?login_ticket=…` must bring.

use super::token::{no_store, oauth_error, parse};
use crate::AppState;
use crate::extract::ClientInfo;
use crate::hosted::cookies::{CO_VERIFIER_COOKIE, set_cross_site};
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gatehouse_service::browser::cross_origin::{CrossOriginLogin, VERIFIER_COOKIE_SECONDS};
use serde_json::json;

pub async fn authenticate(
    State(s): State<AppState>,
    who: ClientInfo,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let addr = who
        .ip
        .as_deref()
        .and_then(|ip| ip.parse().ok())
        .map(crate::guard::ClientAddr);
    if let Err(retry) = s.auth_limits.check(
        crate::guard::Limited::PasswordGrant,
        addr.as_ref(),
        s.gatehouse.now(),
    ) {
        return no_store(crate::guard::too_many(retry, true));
    }
    let req = match parse(&headers, &body) {
        Ok(r) => r,
        Err(e) => return no_store(oauth_error(e)),
    };
    let login = CrossOriginLogin {
        client_id: req.client_id.unwrap_or_default(),
        username: req.username.unwrap_or_default(),
        password: req.password.unwrap_or_default(),
        realm: req.realm,
        origin: headers
            .get(header::ORIGIN)
            .and_then(|v| v.to_str().ok())
            .map(String::from),
        ip: who.ip,
        user_agent: who.user_agent,
    };
    match s.gatehouse.cross_origin_authenticate(login).await {
        Ok(t) => {
            let mut resp = (
                StatusCode::OK,
                axum::Json(json!({
                    "login_ticket": t.login_ticket,
                    "co_verifier": t.co_verifier,
                    "co_id": t.co_id,
                })),
            )
                .into_response();
            let cookie = set_cross_site(
                CO_VERIFIER_COOKIE,
                &t.co_verifier,
                VERIFIER_COOKIE_SECONDS,
                s.gatehouse.config().secure_cookies(),
            );
            if let Ok(v) = HeaderValue::from_str(&cookie) {
                resp.headers_mut().append(header::SET_COOKIE, v);
            }
            no_store(resp)
        }
        Err(e) => no_store(oauth_error(e)),
    }
}
