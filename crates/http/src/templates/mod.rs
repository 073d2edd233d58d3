//! The browser pages' building blocks, shared by the hosted pages (`crate::hosted`) and the
//! admin dashboard (`crate::admin`): one page frame, one stylesheet, and the small pieces
//! both compose pages from (forms, tables, message boxes). Everything renders through maud,
//! which escapes every spliced value; `PreEscaped` is kept for compile-time constants.

mod forms;
mod frame;
mod messages;
mod style;
mod tables;

pub use forms::{button_form, check, csrf_input, hidden, options, provider_button};
pub use frame::{Frame, Surface};
pub use maud::{Markup, html};
pub use messages::{error_box, notice};
pub use tables::{pager, table, table_with};
