//! Tables: a scrollable wrapper, a header row and the body rows the page made.

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
