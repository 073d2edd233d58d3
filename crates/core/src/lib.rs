//! Gatehouse's pure core: the Auth0-shaped domain types and the rules that apply to them.
//!
//! Nothing here performs I/O, so every rule is unit-testable and reusable by the store,
//! the services and the HTTP layer alike.

pub mod actions;
pub mod authorization;
pub mod authorize;
pub mod avatar;
pub mod breached;
pub mod client;
pub mod connection;
pub mod custom_db;
pub mod delegated_admin;
pub mod directory;
pub mod email;
pub mod gdpr;
pub mod impersonation;
pub mod import;
pub mod log_event;
pub mod metadata;
pub mod password_policy;
pub mod payload;
pub mod redirect;
pub mod resource_server;
pub mod rules;
pub mod saml;
pub mod scopes;
pub mod search;
pub mod tenant_settings;
pub mod time;
pub mod upstream;
pub mod user;
