//! Form pieces: hidden fields (the CSRF token first among them), one-button action forms,
//! checkboxes with their label, the options of a select, and the login page's link to an
//! upstream provider.

use maud::{Markup, html};

/// A hidden field. The name comes before the value, as the test browser reads them.
pub fn hidden(name: &str, value: &str) -> Markup {
    html! { input type="hidden" name=(name) value=(value); }
}

/// The CSRF token every posted form carries.
pub fn csrf_input(token: &str) -> Markup {
    hidden("_csrf", token)
}

/// A one-button form posting to `action` (with the CSRF token).
pub fn button_form(action: &str, csrf: &str, label: &str, class: &str) -> Markup {
    html! {
        form method="post" action=(action) {
            (csrf_input(csrf))
            button type="submit" class=(class) { (label) }
        }
    }
}

/// A checkbox inside its label, the label in normal weight.
pub fn check(name: &str, value: Option<&str>, checked: bool, label: Markup) -> Markup {
    html! {
        label.check { input type="checkbox" name=(name) value=[value] checked[checked]; " " (label) }
    }
}

/// One option of a select: its value (`None`: the label is the value), its label.
pub type Choice<'a> = (Option<&'a str>, &'a str);

/// A select's options, the one whose value is `current` selected.
pub fn options<'a>(choices: impl IntoIterator<Item = Choice<'a>>, current: &str) -> Markup {
    html! {
        @for (value, label) in choices {
            option value=[value] selected[value.unwrap_or(label) == current] { (label) }
        }
    }
}

/// "Continue with Google": the login page's link to an upstream provider. Without `href` it
/// is the dashboard's preview of the same button, going nowhere.
pub fn provider_button(href: Option<&str>, label: &str) -> Markup {
    html! { a.provider href=[href] { "Continue with " (label) } }
}
