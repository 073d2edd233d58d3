//! The integration suite: the real server on 127.0.0.1 driven over HTTP, on a fresh SQLite file
//! per test, or a fresh PostgreSQL database when `GATEHOUSE_TEST_DATABASE_URL` is set.
//!
//! One test binary with a module per area: each file under `tests/` would be a binary of its
//! own, linking the whole server again. Add new areas here as modules, not as new files in
//! `tests/`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

mod common;

mod account_linking;
mod actions;
mod admin_actions;
mod admin_dashboard;
mod auth_api;
mod authorize_flow;
mod breached_passwords;
mod browser_apps;
mod brute_force;
mod cli;
mod clients_connections_api;
mod custom_database;
mod dashboard_home;
mod delegated_admin;
mod directory_login;
mod email_flows;
mod forgot_password;
mod gdpr;
mod impersonation;
mod jobs;
mod lifetimes;
mod logout_api;
mod logs_api;
mod metrics;
mod openapi;
mod outages;
mod own_user_token;
mod page_headers;
mod password_grant;
mod rbac;
mod refresh_tokens;
mod resource_servers_api;
mod saml_connections;
mod search_api;
mod security_review;
mod signing_keys;
mod token_path;
mod upstream_login;
mod upstream_presets;
mod users_api;
