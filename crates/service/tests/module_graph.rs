//! The service's top-level modules depend on each other without cycles, and the flows keep
//! their direction: `oauth` (the token endpoint) and `credentials` never reach into the
//! browser flow or the account pages, so a new grant or login strategy has one obvious home.
//! A module depends on another when its code names it by path (`crate::other::…`); methods
//! on `Gatehouse` defined elsewhere are calls, not imports, and are not counted.

#![allow(clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

type Graph = BTreeMap<String, BTreeMap<String, String>>;

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).expect("source directory readable");
    for entry in entries {
        let path = entry.expect("directory entry").path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The identifier that starts at `s`, if any.
fn ident(s: &str) -> &str {
    let end = s
        .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .unwrap_or(s.len());
    &s[..end]
}

/// Every module named right after `crate::` in code (comments left out), including the
/// members of `use crate::{a, b::c}`.
fn crate_references(source: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for line in source.lines() {
        let code = line.split("//").next().unwrap_or("");
        let mut rest = code;
        while let Some(at) = rest.find("crate::") {
            rest = &rest[at + "crate::".len()..];
            if let Some(group) = rest.strip_prefix('{') {
                let inner = group.split('}').next().unwrap_or("");
                for member in inner.split(',') {
                    found.insert(ident(member.trim()).to_string());
                }
            } else {
                found.insert(ident(rest).to_string());
            }
        }
    }
    found
}

fn module_graph() -> Graph {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = vec![];
    rust_files(&src, &mut files);
    let top_of = |path: &Path| -> String {
        let relative = path.strip_prefix(&src).expect("inside src");
        let first = relative.components().next().expect("a component");
        let name = first.as_os_str().to_string_lossy();
        name.trim_end_matches(".rs").to_string()
    };
    let modules: BTreeSet<String> = files
        .iter()
        .map(|f| top_of(f))
        .filter(|m| m != "lib")
        .collect();
    let mut graph = Graph::new();
    for file in &files {
        let from = top_of(file);
        if from == "lib" {
            continue;
        }
        let source = std::fs::read_to_string(file).expect("source readable");
        let edges = graph.entry(from.clone()).or_default();
        for to in crate_references(&source) {
            if to != from && modules.contains(&to) {
                let shown = file.strip_prefix(&src).expect("inside src").display();
                edges.entry(to).or_insert_with(|| shown.to_string());
            }
        }
    }
    graph
}

/// A cycle through `node`, if the graph has one reachable from it.
fn find_cycle(
    graph: &Graph,
    node: &str,
    path: &mut Vec<String>,
    done: &mut BTreeSet<String>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| n == node) {
        let mut cycle = path[at..].to_vec();
        cycle.push(node.to_string());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node.to_string());
    for next in graph.get(node).into_iter().flat_map(|e| e.keys()) {
        if let Some(c) = find_cycle(graph, next, path, done) {
            return Some(c);
        }
    }
    path.pop();
    done.insert(node.to_string());
    None
}

#[test]
fn service_modules_have_no_import_cycle() {
    let graph = module_graph();
    assert!(graph.contains_key("oauth") && graph.contains_key("browser"));
    let mut done = BTreeSet::new();
    for node in graph.keys() {
        if let Some(cycle) = find_cycle(&graph, node, &mut vec![], &mut done) {
            let steps: Vec<String> = cycle
                .windows(2)
                .map(|w| format!("{} -> {} (in {})", w[0], w[1], graph[&w[0]][&w[1]]))
                .collect();
            panic!("import cycle among service modules:\n{}", steps.join("\n"));
        }
    }
}

#[test]
fn the_token_endpoint_and_credential_checks_do_not_reach_into_pages() {
    let graph = module_graph();
    for (lower, forbidden) in [
        (
            "credentials",
            &["browser", "oauth", "account", "passwordless", "admin"][..],
        ),
        (
            "oauth",
            &["browser", "account", "passwordless", "admin"][..],
        ),
        ("browser", &["account", "admin"][..]),
        // Talking to identity providers is below the flow that sends users there.
        (
            "upstream",
            &["browser", "oauth", "account", "passwordless", "admin"][..],
        ),
        ("identities", &["browser", "oauth", "account", "admin"][..]),
        // Custom-database scripts are a credential check and account hooks: the flows and
        // use cases call them, never the other way round.
        (
            "custom_db",
            &[
                "browser",
                "oauth",
                "account",
                "passwordless",
                "admin",
                "users",
            ][..],
        ),
    ] {
        for upper in forbidden {
            if let Some(file) = graph.get(lower).and_then(|e| e.get(*upper)) {
                panic!("{lower} must not depend on {upper}, but {file} names it");
            }
        }
    }
}

#[test]
fn references_are_read_from_code_not_comments() {
    let refs = crate_references(
        "use crate::{Gatehouse, oauth::OAuthError};\n// crate::browser\nlet x = crate::error::Failure::internal(e);",
    );
    let refs: Vec<&str> = refs.iter().map(String::as_str).collect();
    assert_eq!(refs, ["Gatehouse", "error", "oauth"]);
}
