//! "Try" (Auth0's dashboard button, and `POST /api/v2/connections/{id}/try` here): runs one
//! script of a connection, saved or as edited, with given arguments, and shows what it
//! called back with and what it wrote to the console.

use crate::{Gatehouse, Result, ServiceError};
use gatehouse_core::custom_db::ScriptName;
use gatehouse_core::payload::{InvalidBody, Payload};
use gatehouse_scripts::ScriptError;
use serde_json::{Value, json};

/// What to run: a script by name, its arguments (before the callback), and optionally a
/// source to run instead of the saved one.
#[derive(Debug, Clone)]
pub struct TryRequest {
    pub script: ScriptName,
    pub args: Vec<Value>,
    pub source: Option<String>,
}

impl TryRequest {
    pub fn from_payload(mut p: Payload) -> std::result::Result<Self, InvalidBody> {
        p.allow_only(&["script", "args", "source"])?;
        let name = p.required_string("script")?;
        let script = ScriptName::parse(&name).ok_or_else(|| {
            InvalidBody::on_property(
                format!(
                    "unknown script \"{name}\"; the scripts are {}",
                    ScriptName::ALL.map(ScriptName::key).join(", ")
                ),
                "script",
            )
        })?;
        let args = match p.raw("args") {
            None | Some(Value::Null) => vec![],
            Some(Value::Array(a)) => a,
            Some(_) => return Err(InvalidBody::on_property("Expected type array", "args")),
        };
        let source = p.string("source")?;
        if source
            .as_ref()
            .is_some_and(|s| s.len() > gatehouse_scripts::MAX_SCRIPT_BYTES)
        {
            return Err(InvalidBody::on_property(
                format!(
                    "a script may have at most {} bytes",
                    gatehouse_scripts::MAX_SCRIPT_BYTES
                ),
                "source",
            ));
        }
        Ok(Self {
            script,
            args,
            source,
        })
    }
}

/// What a trial shows.
#[derive(Debug, Clone)]
pub struct ScriptTrial {
    /// The callback's value (`null` for none), when it called back without an error.
    pub result: Option<Value>,
    /// `{name, message, ...}` when it failed: the error it called back with, or the
    /// sandbox's reason (time limit, memory, no callback).
    pub error: Option<Value>,
    pub console: Vec<String>,
    pub elapsed_ms: u64,
}

impl ScriptTrial {
    pub fn to_json(&self) -> Value {
        json!({
            "result": self.result,
            "error": self.error,
            "console": self.console,
            "elapsed_ms": self.elapsed_ms,
        })
    }
}

impl Gatehouse {
    /// Runs a script of a database connection for an administrator.
    pub async fn try_connection_script(&self, id: &str, req: TryRequest) -> Result<ScriptTrial> {
        let c = self.stored_connection(id).await?;
        if c.settings.strategy != gatehouse_core::connection::DATABASE_STRATEGY {
            return Err(ServiceError::NotSupported(
                "Connection must be a database connection".into(),
            ));
        }
        let saved = c
            .settings
            .custom_database()
            .and_then(|d| d.script(req.script).map(str::to_string));
        let Some(source) = req.source.or(saved) else {
            return Err(ServiceError::NotSupported(format!(
                "The connection has no {} script; send its source to try it",
                req.script.key()
            )));
        };
        if let Err(problem) = gatehouse_scripts::check_syntax(req.script.key(), &source) {
            return Ok(ScriptTrial {
                result: None,
                error: Some(
                    json!({"name": "SyntaxError", "message": problem.to_string(), "line": problem.line}),
                ),
                console: vec![],
                elapsed_ms: 0,
            });
        }
        let run = self
            .run_script_source(&c, req.script, &source, req.args, vec![])
            .await?;
        let (result, error) = match run.outcome {
            Ok(v) => (Some(v.unwrap_or(Value::Null)), None),
            Err(ScriptError::Callback(e)) => (
                None,
                Some(json!({"name": e.class_name(), "message": e.message, "first": e.first})),
            ),
            Err(e) => (
                None,
                Some(json!({"name": "SandboxError", "message": e.to_string()})),
            ),
        };
        Ok(ScriptTrial {
            result,
            error,
            console: run.console,
            elapsed_ms: run.elapsed_ms,
        })
    }
}
