//! The sandbox customers' JavaScript runs in: Auth0's custom-database scripts and actions. Each run gets a fresh QuickJS context with Auth0's globals
//! (`configuration`, `callback`, the error classes, `global` as a volatile per-connection
//! cache, `require` for the modules Auth0's templates use), a wall-clock limit, a memory limit,
//! and nothing of the host: no file system, no processes, no environment, network only to the
//! hosts the operator allows. Runs happen on a bounded pool of threads of their own, so a
//! script that loops or blocks never holds up the server's request threads.

mod actions;
mod bridge;
mod hosts;
mod http;
pub mod mysql;
mod native;
mod outcome;
pub mod pg;
mod pool;
mod syntax;
mod worker;

pub use actions::{action_source, rule_source};
pub use hosts::AllowedHosts;
pub use outcome::{CallbackError, ErrorClass, ScriptError, ScriptRun};
pub use pool::{SandboxLimits, ScriptCall, ScriptPool};
pub use syntax::{SyntaxProblem, check_syntax};

/// Largest script Auth0 accepts (100 KB); larger ones are refused when saved.
pub const MAX_SCRIPT_BYTES: usize = 100 * 1024;
