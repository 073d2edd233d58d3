//! Actions and rules in the sandbox: an action's module code (`exports.onExecutePostLogin = …`)
//! or a rule's function wrapped into the one function a run calls, with Gatehouse's runtime
//! for Auth0's `api` object (`action_runtime.js`) or the rules' `auth0` object
//! (`rules_runtime.js`). The customer's code starts on the wrapper's first line, so the line
//! numbers in its errors are its own.

const RUNTIME: &str = include_str!("action_runtime.js");
const RULES_RUNTIME: &str = include_str!("rules_runtime.js");

/// The source of a run of `code`: a function of `(event, meta, callback)` that evaluates the
/// module and calls the handler `meta.handler` names. Its answer is the commands object of
/// `action_runtime.js` (`gatehouse_core::actions::ActionCommands`).
pub fn action_source(code: &str) -> String {
    format!(
        "function (event, meta, callback) {{ const module = {{ exports: {{}} }}; (function (exports, module) {{ {code}\n}})(module.exports, module); return ({RUNTIME})(module.exports, event, meta, callback); }}"
    )
}

/// The source of a run of a rule (`function (user, context, callback) { … }`): a function of
/// `(user, context, meta, callback)` answering `{user, context, updates}`.
pub fn rule_source(script: &str) -> String {
    format!(
        "function (user, context, meta, callback) {{ const rule = ({script}\n); return ({RULES_RUNTIME})(rule, user, context, meta, callback); }}"
    )
}
