//! Save-time checks of a script: it compiles (without running), and a syntax error names its
//! line, so `PATCH /api/v2/connections/{id}` can refuse it with a 400 that says where.

use crate::worker::wrapped;
use rquickjs::context::EvalOptions;
use rquickjs::{Context, Runtime};

/// Why a script does not compile.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}{}", .line.map(|l| format!(" (line {l})")).unwrap_or_default())]
pub struct SyntaxProblem {
    pub message: String,
    /// 1-based line in the script's own source.
    pub line: Option<u32>,
}

/// Compiles `source` as the function it must be, without running any of it (the function
/// that would return it is compiled, not called).
pub fn check_syntax(name: &str, source: &str) -> Result<(), SyntaxProblem> {
    let sandbox = |e: rquickjs::Error| SyntaxProblem {
        message: format!("the sandbox could not start: {e}"),
        line: None,
    };
    let runtime = Runtime::new().map_err(sandbox)?;
    runtime.set_memory_limit(32 * 1024 * 1024);
    runtime.set_max_stack_size(512 * 1024);
    let context = Context::full(&runtime).map_err(sandbox)?;
    context.with(|ctx| {
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = false;
        options.filename = Some(format!("{name}.js"));
        // The wrapper is compiled and evaluated to a function value; the script inside it
        // does not run.
        match ctx.eval_with_options::<rquickjs::Function, _>(wrapped(source), options) {
            Ok(_) => Ok(()),
            // Not an exception (the source is not a function, the engine is out of memory):
            // the engine's own words.
            Err(e) if !e.is_exception() => Err(SyntaxProblem {
                message: e.to_string(),
                line: None,
            }),
            Err(_) => {
                let caught = ctx.catch();
                let (message, stack) = match caught.as_exception() {
                    Some(e) => (
                        format!(
                            "{}: {}",
                            e.get::<_, String>("name")
                                .unwrap_or_else(|_| "SyntaxError".into()),
                            e.message().unwrap_or_default()
                        ),
                        e.stack().unwrap_or_default(),
                    ),
                    None => ("the script does not compile".to_string(), String::new()),
                };
                Err(SyntaxProblem {
                    message,
                    line: line_in(&stack, &format!("{name}.js")),
                })
            }
        }
    })
}

/// The line of the first frame in `file` of a QuickJS stack (`    at login.js:3:7`).
fn line_in(stack: &str, file: &str) -> Option<u32> {
    stack.lines().find_map(|l| {
        let rest = &l[l.find(file)? + file.len()..];
        rest.strip_prefix(':')?
            .split(':')
            .next()?
            .trim_end_matches(')')
            .parse()
            .ok()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_scripts_compile_and_bad_ones_name_their_line() {
        assert_eq!(
            check_syntax(
                "login",
                "function login(e, p, cb) {\n  cb(null, {user_id: 1});\n}"
            ),
            Ok(())
        );
        let bad = check_syntax(
            "login",
            "function login(e, p, cb) {\n  const x = ;\n  cb();\n}",
        )
        .unwrap_err();
        assert!(bad.message.contains("SyntaxError"), "{bad:?}");
        assert_eq!(bad.line, Some(2), "{bad:?}");
        // Two statements are not one function.
        assert!(check_syntax("login", "function a() {}\nfunction b() {}").is_err());
        // Compiling runs nothing: an endless loop in the body is fine at save time.
        assert_eq!(
            check_syntax("login", "function login() { while (true) {} }"),
            Ok(())
        );
    }
}
