//! Message boxes: the one error box (`#error`, announced as an alert) and the one notice
//! (`#notice`, announced as a status) that pages show after an action.

use maud::{Markup, html};

/// The error of an action or form, if there is one.
pub fn error_box(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.error #error role="alert" { (m) }
        }
    }
}

/// What an action did, if there is something to say.
pub fn notice(message: Option<&str>) -> Markup {
    html! {
        @if let Some(m) = message {
            p.notice #notice role="status" { (m) }
        }
    }
}
