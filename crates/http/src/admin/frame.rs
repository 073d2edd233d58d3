//! The dashboard's side of the shared page frame (`crate::templates`): its navigation bar
//! with who is signed in and the sign-out button, and the bare frame of the sign-in problems.

use crate::templates::{Frame, Markup, Surface, csrf_input, html};

/// The dashboard's sections, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Users,
    Applications,
    Connections,
    Jobs,
    Logs,
}

const SECTIONS: &[(Nav, &str, &str)] = &[
    (Nav::Users, "/admin/users", "Users"),
    (Nav::Applications, "/admin/applications", "Applications"),
    (Nav::Connections, "/admin/connections", "Connections"),
    (Nav::Jobs, "/admin/jobs", "Import & export"),
    (Nav::Logs, "/admin/logs", "Logs"),
];

/// The bar on top of every signed-in page.
fn banner(current: Nav, admin_email: &str, csrf: &str) -> Markup {
    html! {
        header.top {
            span.brand { "Gatehouse" }
            nav.actions aria-label="Dashboard" {
                @for (nav, href, label) in SECTIONS {
                    a href=(href) aria-current=[(*nav == current).then_some("page")] { (label) }
                }
            }
            form method="post" action="/admin/signout" {
                span { (admin_email) }
                (csrf_input(csrf))
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// A whole dashboard page: navigation, who is signed in, sign-out, and the body.
pub fn layout(title: &str, nav: Nav, admin_email: &str, csrf: &str, body: Markup) -> Markup {
    Frame {
        title,
        surface: Surface::Dashboard,
        banner: Some(banner(nav, admin_email, csrf)),
        script: Some("/admin/assets/admin.js"),
    }
    .render(body)
}

/// A bare page (sign-in problems), without navigation.
pub fn bare(title: &str, body: Markup) -> Markup {
    Frame {
        title,
        surface: Surface::Dashboard,
        banner: None,
        script: None,
    }
    .render(html! { section.card { h1 { (title) } (body) } })
}
