//! Tables: a scrollable wrapper, a header row and the body rows the page made; the pager
//! under a long one.

use maud::{Markup, html};

/// A table with one plain heading per column; `id` is what tests and scripts find it by.
pub fn table(id: Option<&str>, headings: &[&str], rows: Markup) -> Markup {
    table_with(id, html! { @for h in headings { th { (h) } } }, rows)
}

/// A table whose header cells the page draws itself (sort links, hidden columns).
pub fn table_with(id: Option<&str>, header_cells: Markup, rows: Markup) -> Markup {
    html! {
        div.table {
            table id=[id] {
                thead { tr { (header_cells) } }
                tbody { (rows) }
            }
        }
    }
}

/// A link to a neighbouring page of a long list: where it goes and what it says.
pub type PageLink<'a> = Option<(String, &'a str)>;

/// The links to the previous and next pages of a list, with where this one is between them.
pub fn pager(prev: PageLink<'_>, position: Option<String>, next: PageLink<'_>) -> Markup {
    html! {
        nav.pager aria-label="Pages" {
            @if let Some((href, label)) = prev { a href=(href) rel="prev" { (label) } }
            @if let Some(p) = position { span.muted { (p) } }
            @if let Some((href, label)) = next { a href=(href) rel="next" { (label) } }
        }
    }
}
