//! Property tests for the search parser: it never panics, and queries built from the
//! grammar always parse.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use gatehouse_core::search::parse;
use proptest::prelude::*;

fn field() -> impl Strategy<Value = &'static str> {
    prop::sample::select(vec![
        "email",
        "name",
        "given_name",
        "family_name",
        "nickname",
        "user_id",
        "username",
        "email.domain",
        "identities.connection",
        "app_metadata.plan",
        "user_metadata.addresses.city",
    ])
}

fn term() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z0-9@.]{1,8}".prop_map(|s| s),
        "[a-z]{1,5}".prop_map(|s| format!("{s}*")),
        "[a-z]{3,6}".prop_map(|s| format!("*{s}")),
        "[a-z ]{1,10}".prop_map(|s| format!("\"{s}\"")),
    ]
}

fn clause() -> impl Strategy<Value = String> {
    prop_oneof![
        (field(), term()).prop_map(|(f, t)| format!("{f}:{t}")),
        (0i64..1000, 0i64..1000).prop_map(|(a, b)| format!("logins_count:[{a} TO {b}}}")),
        field().prop_map(|f| format!("_exists_:{f}")),
        prop::bool::ANY.prop_map(|b| format!("blocked:{b}")),
        (2000u32..2030, 1u32..13).prop_map(|(y, m)| format!("created_at:[{y}-{m:02} TO *]")),
    ]
}

fn query() -> impl Strategy<Value = String> {
    clause().prop_recursive(4, 24, 3, |inner| {
        prop_oneof![
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} AND {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} OR {b}")),
            (inner.clone(), inner.clone()).prop_map(|(a, b)| format!("{a} {b}")),
            inner.clone().prop_map(|a| format!("NOT {a}")),
            inner.prop_map(|a| format!("({a})")),
        ]
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn never_panics_on_any_input(s in "\\PC{0,200}") {
        let _ = parse(&s);
    }

    #[test]
    fn never_panics_on_query_like_noise(s in "[a-z_.:*?()\\[\\]{}\" \\\\TOANDORNT0-9-]{0,80}") {
        if let Err(e) = parse(&s) {
            prop_assert!(e.position <= s.chars().count());
        }
    }

    #[test]
    fn grammar_queries_parse(q in query()) {
        prop_assert!(parse(&q).is_ok(), "{q}: {:?}", parse(&q));
    }
}
