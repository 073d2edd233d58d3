//! User search: Auth0's v3 query syntax (a Lucene subset) parsed into a typed AST.
//!
//! The parser validates everything a database cannot: field names, value types, Auth0's
//! wildcard rules. The store compiles the AST to parameterised SQL for each dialect.

mod ast;
mod dates;
mod parser;

pub use ast::{Bound, Field, MetadataKind, Pattern, Piece, Query, RangeValue, TextField, Value};
pub use dates::parse_date;
pub use parser::{ParseError, parse};
