//! The page frame every browser page is drawn in: doctype, head (title, viewport, the inline
//! stylesheet, an optional script file), an optional banner above the content, and `<main>`.
//! Each surface brings its own banner: the dashboard its navigation bar, the hosted pages
//! nothing (their branding is part of the card, inside `<main>`).

use super::style::STYLESHEET;
use maud::{DOCTYPE, Markup, PreEscaped, html};

/// Which surface a page belongs to: it picks the stylesheet's surface rules (the `<body>`
/// class) and how the title reads.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Surface {
    Hosted,
    Dashboard,
}

impl Surface {
    fn class(self) -> &'static str {
        match self {
            Surface::Hosted => "hosted",
            Surface::Dashboard => "dashboard",
        }
    }
}

/// What a page puts around its content.
pub struct Frame<'a> {
    pub title: &'a str,
    pub surface: Surface,
    /// Shown above `<main>` with a skip link to the content.
    pub banner: Option<Markup>,
    /// A script of ours, loaded by URL (the CSP allows `'self'` scripts where one is used).
    pub script: Option<&'static str>,
}

impl Frame<'_> {
    pub fn render(self, content: Markup) -> Markup {
        html! {
            (DOCTYPE)
            html lang="en" {
                head {
                    meta charset="utf-8";
                    meta name="viewport" content="width=device-width,initial-scale=1";
                    title {
                        (self.title)
                        @if self.surface == Surface::Dashboard { " · Gatehouse" }
                    }
                    // A compile-time constant of ours, so there is nothing to escape.
                    style { (PreEscaped(STYLESHEET)) }
                    @if let Some(src) = self.script {
                        script src=(src) defer {}
                    }
                }
                body class=(self.surface.class()) {
                    @if let Some(banner) = self.banner {
                        a.skip href="#main" { "Skip to content" }
                        (banner)
                    }
                    main #main { (content) }
                }
            }
        }
    }
}
