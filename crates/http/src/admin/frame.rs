//! The dashboard's side of the shared page frame (`crate::templates`): its navigation bar
//! (the sections the administrator may open) with who is signed in and the sign-out button,
//! and the bare frame of the sign-in problems.

use crate::templates::{Frame, Markup, Surface, csrf_input, html};
use gatehouse_service::admin::{DaePermission, DashboardAccess};

/// The dashboard's sections, for the navigation bar.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Nav {
    Home,
    Users,
    Applications,
    Connections,
    Actions,
    Jobs,
    Logs,
    Delegation,
    /// A page of no section (a refusal).
    Other,
}

/// Each section, and the permission a delegated administrator needs to see it (`None`:
/// full administrators only).
const SECTIONS: &[(Nav, &str, &str, Option<DaePermission>)] = &[
    (Nav::Home, "/admin", "Activity", None),
    (
        Nav::Users,
        "/admin/users",
        "Users",
        Some(DaePermission::ReadUsers),
    ),
    (
        Nav::Applications,
        "/admin/applications",
        "Applications",
        None,
    ),
    (Nav::Connections, "/admin/connections", "Connections", None),
    (Nav::Actions, "/admin/actions", "Actions", None),
    (Nav::Jobs, "/admin/jobs", "Import & export", None),
    (
        Nav::Logs,
        "/admin/logs",
        "Logs",
        Some(DaePermission::ReadLogs),
    ),
    (
        Nav::Delegation,
        "/admin/delegated-admin",
        "Delegated admin",
        Some(DaePermission::ManageConfig),
    ),
];

/// Whether the section is open to this administrator.
fn open(access: &DashboardAccess, needs: Option<DaePermission>) -> bool {
    match (access, needs) {
        (DashboardAccess::Full, _) => true,
        (DashboardAccess::Delegated(_), None) => false,
        (DashboardAccess::Delegated(d), Some(p)) => d.has(p),
    }
}

/// The bar on top of every signed-in page.
fn banner(current: Nav, admin_email: &str, access: &DashboardAccess, csrf: &str) -> Markup {
    html! {
        header.top {
            span.brand { "Gatehouse" }
            nav.actions aria-label="Dashboard" {
                @for (nav, href, label, needs) in SECTIONS {
                    @if open(access, *needs) {
                        a href=(href) aria-current=[(*nav == current).then_some("page")] { (label) }
                    }
                }
            }
            form method="post" action="/admin/signout" {
                span { (admin_email) }
                @if let DashboardAccess::Delegated(d) = access {
                    " " span.badge #admin-role { (d.level.role()) }
                }
                (csrf_input(csrf))
                button type="submit" { "Sign out" }
            }
        }
    }
}

/// A whole dashboard page: navigation, who is signed in, sign-out, and the body.
pub fn layout(
    title: &str,
    nav: Nav,
    admin_email: &str,
    access: &DashboardAccess,
    csrf: &str,
    body: Markup,
) -> Markup {
    Frame {
        title,
        surface: Surface::Dashboard,
        banner: Some(banner(nav, admin_email, access, csrf)),
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
