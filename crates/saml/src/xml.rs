//! Reading XML safely: DTDs refused (no entity can be declared, so none can be expanded or
//! fetched), a bound on nodes, and helpers that find children by namespace and read text
//! whole (every text node, so a comment inside a value cannot cut it short).

use crate::SamlError;
use roxmltree::{Document, Node, ParsingOptions};

/// More than any real Response or metadata document holds.
const MAX_NODES: u32 = 20_000;

pub(crate) fn parse(text: &str) -> Result<Document<'_>, SamlError> {
    let options = ParsingOptions {
        allow_dtd: false,
        nodes_limit: MAX_NODES,
        ..ParsingOptions::default()
    };
    Document::parse_with_options(text, options).map_err(|e| match e {
        roxmltree::Error::DtdDetected => SamlError::Dtd,
        other => SamlError::Malformed(other.to_string()),
    })
}

pub(crate) fn is(node: Node<'_, '_>, ns: &str, local: &str) -> bool {
    node.is_element() && node.tag_name().name() == local && node.tag_name().namespace() == Some(ns)
}

/// The element children of `node` with this name.
pub(crate) fn children<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> impl Iterator<Item = Node<'a, 'input>> + 'a {
    node.children().filter(move |c| is(*c, ns, local))
}

pub(crate) fn child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> Option<Node<'a, 'input>> {
    children(node, ns, local).next()
}

/// The only child with this name; two are refused (a second one could be read by another
/// SAML implementation, so which one counts would be ambiguous).
pub(crate) fn only_child<'a, 'input: 'a>(
    node: Node<'a, 'input>,
    ns: &'a str,
    local: &'a str,
) -> Result<Option<Node<'a, 'input>>, SamlError> {
    let mut found = children(node, ns, local);
    let first = found.next();
    if found.next().is_some() {
        return Err(SamlError::Refused(format!("more than one {local}")));
    }
    Ok(first)
}

/// All the text inside `node`, trimmed.
pub(crate) fn text(node: Node<'_, '_>) -> String {
    let all: String = node
        .descendants()
        .filter(Node::is_text)
        .filter_map(|t| t.text())
        .collect();
    all.trim().to_string()
}
