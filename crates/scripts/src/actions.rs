//! Actions in the sandbox: an action's module code (`exports.onExecutePostLogin = …`) wrapped
//! into the one function a run calls, with Gatehouse's runtime for Auth0's `api` object
//! (`action_runtime.js`). The action's code starts on the wrapper's first line, so the line
//! numbers in its errors are its own.

const RUNTIME: &str = include_str!("action_runtime.js");

/// The source of a run of `code`: a function of `(event, meta, callback)` that evaluates the
/// module and calls the handler `meta.handler` names. Its answer is the commands object of
/// `action_runtime.js` (`gatehouse_core::actions::ActionCommands`).
pub fn action_source(code: &str) -> String {
    format!(
        "function (event, meta, callback) {{ const module = {{ exports: {{}} }}; (function (exports, module) {{ {code}\n}})(module.exports, module); return ({RUNTIME})(module.exports, event, meta, callback); }}"
    )
}
