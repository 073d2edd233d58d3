//! The store contract: what the service relies on from `gatehouse_store`, written once and
//! run on SQLite always and on PostgreSQL when `GATEHOUSE_TEST_DATABASE_URL` is set (each
//! test on a database of its own). Every test is a module with a `sqlite` and a `postgres`
//! case, e.g. `users::stale_version_is_refused::postgres`.
//!
//! Data is meant to look like production's: random ids that do not sort in creation order,
//! Unicode names and addresses, more rows than one page, two tenants side by side, and
//! concurrent callers where the service has them.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

mod harness;

mod config_versions;
mod directory;
mod isolation;
mod jobs;
mod login_failures;
mod logs;
mod outbox;
mod postgres_pool;
mod search;
mod sessions;
mod sqlite_pool;
mod users;
