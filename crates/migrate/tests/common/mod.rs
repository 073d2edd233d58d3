//! Scaffolding shared by the converter tests: fixtures, and the report as `(record, field)`
//! pairs.

use std::path::PathBuf;

use gatehouse_migrate::Conversion;

/// The bytes of `tests/fixtures/<path>`.
pub fn fixture(path: &str) -> Vec<u8> {
    let full = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(path);
    std::fs::read(&full).unwrap_or_else(|e| panic!("reading {}: {e}", full.display()))
}

/// `(record, field)` of every report entry, sorted.
pub fn reported(conversion: &Conversion) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = conversion
        .report
        .iter()
        .map(|entry| (entry.record.clone(), entry.field.clone()))
        .collect();
    pairs.sort();
    pairs
}

/// Expected `(record, field)` pairs, sorted to compare with `reported`.
pub fn pairs(expected: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = expected
        .iter()
        .map(|&(record, field)| (record.to_owned(), field.to_owned()))
        .collect();
    pairs.sort();
    pairs
}

/// The reason the report gives for `record` / `field`.
pub fn reason<'a>(conversion: &'a Conversion, record: &str, field: &str) -> &'a str {
    conversion
        .report
        .iter()
        .find(|entry| entry.record == record && entry.field == field)
        .map(|entry| entry.reason.as_str())
        .unwrap_or_else(|| panic!("no report entry for {record} / {field}"))
}
