//! `user_metadata` and `app_metadata`: Auth0's field-name rules, reserved keys, size limit
//! and first-level merge.

use crate::payload::InvalidBody;
use serde_json::{Map, Value};

/// Which of the two metadata documents a rule is being applied to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MetadataKind {
    User,
    App,
}

impl MetadataKind {
    pub fn field(self) -> &'static str {
        match self {
            MetadataKind::User => "user_metadata",
            MetadataKind::App => "app_metadata",
        }
    }
}

/// Top-level `app_metadata` keys Auth0 refuses because they collide with the profile it
/// builds for rules.
pub const RESERVED_APP_METADATA_KEYS: &[&str] = &[
    "__tenant",
    "_id",
    "blocked",
    "clientID",
    "created_at",
    "email_verified",
    "email",
    "globalClientID",
    "global_client_id",
    "identities",
    "lastIP",
    "lastLogin",
    "loginsCount",
    "metadata",
    "multifactor_last_modified",
    "multifactor",
    "updated_at",
    "user_id",
];

/// Default ceiling for one metadata document, serialised. Auth0 documents 16 kB as the
/// practical limit; larger documents slow every search and token build.
pub const DEFAULT_MAX_METADATA_BYTES: usize = 16 * 1024;

/// A validated metadata change: the top-level keys to set, and those to delete (`null`).
/// An empty patch object means "clear the whole document", as Auth0 does.
#[derive(Debug, Clone, PartialEq)]
pub struct MetadataPatch {
    kind: MetadataKind,
    changes: Map<String, Value>,
}

impl MetadataPatch {
    /// Checks names (no `.` or `$` at any depth) and reserved keys; size is checked after
    /// merging, against the document that would be stored.
    pub fn parse(kind: MetadataKind, changes: Map<String, Value>) -> Result<Self, InvalidBody> {
        validate_names(kind.field(), &changes)?;
        if kind == MetadataKind::App
            && let Some(key) = changes
                .keys()
                .find(|k| RESERVED_APP_METADATA_KEYS.contains(&k.as_str()))
        {
            return Err(InvalidBody::new(format!(
                "Payload validation error: 'app_metadata.{key} is a reserved property name' on property app_metadata."
            )));
        }
        Ok(Self { kind, changes })
    }

    /// The top-level keys it sets (`null`: removes).
    pub fn changes(&self) -> &Map<String, Value> {
        &self.changes
    }

    /// Whether the patch sets or removes this top-level key.
    pub fn touches(&self, key: &str) -> bool {
        self.changes.contains_key(key)
    }

    pub fn kind(&self) -> MetadataKind {
        self.kind
    }

    /// A new document from this patch alone (user creation): `null`s are dropped.
    pub fn into_document(self, max_bytes: usize) -> Result<Map<String, Value>, InvalidBody> {
        let kind = self.kind;
        let doc = self.apply_to(Map::new());
        check_size(kind, &doc, max_bytes)?;
        Ok(doc)
    }

    /// Applies the patch to `current` and checks the result's size.
    pub fn merge_into(
        self,
        current: Map<String, Value>,
        max_bytes: usize,
    ) -> Result<Map<String, Value>, InvalidBody> {
        let kind = self.kind;
        let doc = self.apply_to(current);
        check_size(kind, &doc, max_bytes)?;
        Ok(doc)
    }

    fn apply_to(self, mut current: Map<String, Value>) -> Map<String, Value> {
        if self.changes.is_empty() {
            return Map::new();
        }
        for (key, value) in self.changes {
            if value.is_null() {
                current.remove(&key);
            } else {
                current.insert(key, value);
            }
        }
        current
    }
}

fn check_size(kind: MetadataKind, doc: &Map<String, Value>, max: usize) -> Result<(), InvalidBody> {
    let size = serde_json::to_vec(doc)
        .map(|v| v.len())
        .unwrap_or(usize::MAX);
    if size > max {
        return Err(InvalidBody::on_property(
            format!(
                "{} is too large ({size} bytes), maximum {max} bytes",
                kind.field()
            ),
            kind.field(),
        ));
    }
    Ok(())
}

fn validate_names(path: &str, map: &Map<String, Value>) -> Result<(), InvalidBody> {
    for (key, value) in map {
        if key.contains('.') || key.contains('$') {
            return Err(InvalidBody::new(format!(
                "Payload validation error: 'Invalid property name \"{key}\": metadata field names cannot contain \".\" or \"$\"' on property {path}."
            )));
        }
        validate_value(&format!("{path}.{key}"), value)?;
    }
    Ok(())
}

fn validate_value(path: &str, value: &Value) -> Result<(), InvalidBody> {
    match value {
        Value::Object(m) => validate_names(path, m),
        Value::Array(items) => items.iter().try_for_each(|v| validate_value(path, v)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn obj(v: Value) -> Map<String, Value> {
        match v {
            Value::Object(m) => m,
            _ => panic!("test helper wants an object"),
        }
    }

    #[test]
    fn first_level_merge_replaces_nested_objects() {
        let current = obj(json!({"profileCode": 1479, "addresses": {"home": "1 Main St"}}));
        let patch = MetadataPatch::parse(
            MetadataKind::User,
            obj(json!({"addresses": {"work_address": "100 Industrial Way"}})),
        )
        .unwrap();
        let merged = patch
            .merge_into(current, DEFAULT_MAX_METADATA_BYTES)
            .unwrap();
        assert_eq!(
            Value::Object(merged),
            json!({"profileCode": 1479, "addresses": {"work_address": "100 Industrial Way"}})
        );
    }

    #[test]
    fn null_deletes_and_empty_clears() {
        let current = obj(json!({"a": 1, "b": 2}));
        let del = MetadataPatch::parse(MetadataKind::User, obj(json!({"a": null}))).unwrap();
        assert_eq!(
            Value::Object(del.merge_into(current.clone(), 1000).unwrap()),
            json!({"b": 2})
        );
        let clear = MetadataPatch::parse(MetadataKind::User, Map::new()).unwrap();
        assert!(clear.merge_into(current, 1000).unwrap().is_empty());
    }

    #[test]
    fn rejects_dots_and_dollars_at_any_depth() {
        for bad in [
            json!({"a.b": 1}),
            json!({"$a": 1}),
            json!({"a": {"b.c": 1}}),
            json!({"a": [{"$x": 1}]}),
        ] {
            let err = MetadataPatch::parse(MetadataKind::User, obj(bad)).unwrap_err();
            assert!(err.message.contains("user_metadata"), "{}", err.message);
        }
        assert!(MetadataPatch::parse(MetadataKind::User, obj(json!({"a": "x.y$"}))).is_ok());
    }

    #[test]
    fn rejects_reserved_app_metadata_keys_only_in_app_metadata() {
        let err = MetadataPatch::parse(MetadataKind::App, obj(json!({"email": "x"}))).unwrap_err();
        assert!(err.message.contains("app_metadata.email"));
        assert!(MetadataPatch::parse(MetadataKind::User, obj(json!({"email": "x"}))).is_ok());
    }

    #[test]
    fn size_limit_names_the_field() {
        let patch =
            MetadataPatch::parse(MetadataKind::App, obj(json!({"big": "x".repeat(100)}))).unwrap();
        let err = patch.into_document(50).unwrap_err();
        assert!(err.message.contains("app_metadata is too large"));
    }
}
