//! What a script run comes back with: the value it called back with, or why it failed, and
//! what it wrote to the console.

use serde::Deserialize;
use serde_json::Value;

/// The classes of error a script may call back with, as Auth0 names them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum ErrorClass {
    WrongUsernameOrPasswordError,
    ValidationError,
    UnauthorizedError,
    /// `new Error(…)`, a string, or anything else.
    Error,
}

/// An error a script handed to its callback (`callback(new ValidationError("user_exists", …))`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CallbackError {
    pub class: ErrorClass,
    pub message: String,
    /// The first constructor argument: the user's id or email for
    /// `WrongUsernameOrPasswordError`, the code for `ValidationError`.
    #[serde(default)]
    pub first: Option<Value>,
}

/// Why a run gave no answer from the script.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum ScriptError {
    /// The script called back with an error.
    #[error("the script called back with {}: {}", .0.class_name(), .0.message)]
    Callback(CallbackError),
    /// The script threw (synchronously, or a promise it returned was rejected).
    #[error("the script threw: {0}")]
    Threw(String),
    /// It did not call back within the time limit (a loop, or I/O that never finished).
    #[error("the script did not call back within {0} ms")]
    TimedOut(u64),
    #[error("the script ran out of memory (limit {0} bytes)")]
    OutOfMemory(usize),
    /// Everything it started finished, and the callback was never called.
    #[error("the script finished without calling back")]
    NoCallback,
    /// The script does not compile, or is not a function.
    #[error("the script does not compile: {0}")]
    Invalid(String),
    /// Every sandbox thread is busy and the queue is full.
    #[error("too many scripts are waiting to run; retry in a moment")]
    Busy,
    /// The sandbox itself failed (the engine could not start).
    #[error("the script sandbox failed: {0}")]
    Sandbox(String),
}

impl CallbackError {
    pub fn class_name(&self) -> &'static str {
        match self.class {
            ErrorClass::WrongUsernameOrPasswordError => "WrongUsernameOrPasswordError",
            ErrorClass::ValidationError => "ValidationError",
            ErrorClass::UnauthorizedError => "UnauthorizedError",
            ErrorClass::Error => "Error",
        }
    }

    /// The first argument as text, when it is a non-empty string or a number (Auth0 logs
    /// `fp` with `auth0|<first>` only for a truthy first argument).
    pub fn first_text(&self) -> Option<String> {
        match &self.first {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            Some(Value::Number(n)) if n.as_f64() != Some(0.0) => Some(n.to_string()),
            _ => None,
        }
    }
}

/// One run: what the script answered and the console lines it wrote (with configuration
/// values and the call's secrets masked).
#[derive(Debug, Clone)]
pub struct ScriptRun {
    /// `Ok(value)`: the callback's second argument (`None` for `callback(null)` or
    /// `callback()`).
    pub outcome: Result<Option<Value>, ScriptError>,
    pub console: Vec<String>,
    /// Wall-clock time the run took, queueing excluded.
    pub elapsed_ms: u64,
}
