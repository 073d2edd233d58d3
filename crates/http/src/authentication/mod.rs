//! The Authentication API: `/oauth/token`, OpenID discovery, and Auth0's legacy
//! impersonation endpoint.

mod cross_origin;
mod dbconnections;
mod discovery;
mod exports;
mod impersonation;
mod logout;
mod passwordless;
mod token;
mod userinfo;

use crate::AppState;
use axum::Router;
use axum::routing::{get, post};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/oauth/token", post(token::token))
        .route("/co/authenticate", post(cross_origin::authenticate))
        .route("/dbconnections/signup", post(dbconnections::signup))
        .route("/passwordless/start", post(passwordless::start))
        .route(
            "/dbconnections/change_password",
            post(dbconnections::change_password),
        )
        .route("/exports/{job}/{file}", get(exports::download))
        .route(
            "/users/{user_id}/impersonate",
            get(impersonation::open).post(impersonation::start),
        )
        .route("/v2/logout", get(logout::logout))
        .route(
            "/logout",
            get(logout::saml_logout_answer).post(logout::saml_logout_answer_posted),
        )
        .route("/oidc/logout", get(logout::oidc_logout))
        .route(
            "/userinfo",
            get(userinfo::userinfo).post(userinfo::userinfo),
        )
        .route(
            "/.well-known/openid-configuration",
            get(discovery::openid_configuration),
        )
        .route("/.well-known/jwks.json", get(discovery::jwks))
}
