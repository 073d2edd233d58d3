//! Property test: every parseable query compiles, for both dialects, into SQL whose
//! placeholders match its parameters exactly, and no query text appears in the SQL.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use gatehouse_core::search::parse;
use gatehouse_store::Dialect;
use gatehouse_store::search::compile;
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(3000))]

    #[test]
    fn compiled_sql_is_well_formed(s in "[a-z_.:*()\\[\\]{}\" '=;-]{0,60}") {
        let Ok(q) = parse(&s) else { return Ok(()) };
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let f = compile(&q, d, "$1", 2);
            for n in 2..2 + f.params.len() {
                prop_assert!(f.sql.contains(&format!("${n}")), "{s} -> {}", f.sql);
            }
            prop_assert!(!f.sql.contains(&format!("${}", 2 + f.params.len())), "{s} -> {}", f.sql);
            prop_assert!(!f.sql.contains(';') && !f.sql.contains("--"), "{s} -> {}", f.sql);
            prop_assert_eq!(f.sql.matches('(').count(), f.sql.matches(')').count());
        }
    }
}

fn clause() -> impl Strategy<Value = String> {
    let field = prop::sample::select(vec![
        "email",
        "name",
        "user_id",
        "email.domain",
        "app_metadata.plan",
        "user_metadata.a.b",
    ]);
    let value = "[a-zA-Z0-9'\";=%_ -]{1,12}";
    prop_oneof![
        (field.clone(), value).prop_map(|(f, v)| format!("{f}:\"{}\"", v.replace('"', "\\\""))),
        (field.clone(), "[a-z%_']{1,6}")
            .prop_map(|(f, v)| format!("{f}:{}*", v.replace('\'', "\\'"))),
        (field.clone(), "[a-z%_]{3,6}").prop_map(|(f, v)| format!("{f}:*{v}*")),
        field.prop_map(|f| format!("_exists_:{f}")),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn values_only_travel_as_parameters(a in clause(), b in clause(), op in prop::sample::select(vec!["AND", "OR", "AND NOT"])) {
        let text = format!("{a} {op} ({b})");
        let q = parse(&text).map_err(|e| TestCaseError::fail(format!("{text}: {e}")))?;
        for d in [Dialect::Sqlite, Dialect::Postgres] {
            let f = compile(&q, d, "$1", 2);
            prop_assert!(!f.sql.contains(';') && !f.sql.contains('"') && !f.sql.contains('%'), "{text} -> {}", f.sql);
            prop_assert_eq!(f.sql.matches('\'').count(), 2 * f.sql.matches("ESCAPE").count(), "{} -> {}", text, f.sql);
        }
    }
}
