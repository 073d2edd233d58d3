//! Helpers shared by the converters. Any converter module may use them:
//!
//! - `records(input, source)` reads an export into user objects: one JSON object, a JSON array
//!   of objects, NDJSON, or any run of these back to back (files concatenated by the CLI).
//! - `format_error(source, reason)` builds `ConvertError::Format`.
//! - `label(id, index)` names a record in the report: its id, else `#n` (1-based position).
//! - `text(value)` is a trimmed, non-empty string, with nothing reported.
//! - `Record` reads one record's fields (reporting values of the wrong type) and files metadata,
//!   dropping and reporting keys the import rejects (`.` or `$` in a name, at any depth, and
//!   Auth0's reserved `app_metadata` names).
//! - `Dropped` counts fields that every record loses by design (timestamps, counters, links);
//!   they are reported once per field with record `*`, not once per user.
//! - `set(user, key, value)` inserts an optional value into a user object.
//! - `split_name("Ada King Lovelace")` gives `("Ada", "King Lovelace")`.
//! - Passwords: `bcrypt` (a `password_hash`, `$2y$` rewritten to `$2b$`), `digest_algorithm`,
//!   `digest_hash` and `Salt` (salted md5/sha*), `encoded_hash` (bcrypt/argon2/pbkdf2/ldap
//!   strings), `pbkdf2_phc` and `base64_bytes`.

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};

use crate::{ConvertError, Unmapped};

/// A JSON object: a record read from an export, or a user written for the import.
pub(crate) type Object = Map<String, Value>;

/// Names `app_metadata` may not use (Auth0's bulk-import schema).
const RESERVED_APP_METADATA: [&str; 18] = [
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

/// The error for input that is not the source's export format.
pub(crate) fn format_error(source: &'static str, reason: impl Into<String>) -> ConvertError {
    ConvertError::Format {
        system: source,
        reason: reason.into(),
    }
}

/// Reads every user object in `input`: objects, arrays of objects, or several of either one
/// after another (NDJSON and concatenated files both fit). A UTF-8 byte-order mark is skipped.
pub(crate) fn records(input: &[u8], source: &'static str) -> Result<Vec<Object>, ConvertError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let mut out = Vec::new();
    for value in serde_json::Deserializer::from_slice(input).into_iter::<Value>() {
        let value = value.map_err(|e| format_error(source, format!("invalid JSON: {e}")))?;
        match value {
            Value::Object(object) => out.push(object),
            Value::Array(items) => {
                for item in items {
                    match item {
                        Value::Object(object) => out.push(object),
                        other => return Err(not_a_user(source, &other)),
                    }
                }
            }
            other => return Err(not_a_user(source, &other)),
        }
    }
    Ok(out)
}

fn not_a_user(source: &'static str, value: &Value) -> ConvertError {
    format_error(
        source,
        format!("expected user objects, found {}", type_name(value)),
    )
}

fn type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// How the report names a record: its id, else `#n`, its 1-based position in the input.
pub(crate) fn label(id: Option<&str>, index: usize) -> String {
    match id {
        Some(id) => id.to_owned(),
        None => format!("#{}", index + 1),
    }
}

/// A trimmed, non-empty string value, without reporting anything (for ids and lookups).
pub(crate) fn text(value: Option<&Value>) -> Option<&str> {
    value
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|text| !text.is_empty())
}

fn non_empty(text: &str) -> Option<String> {
    let text = text.trim();
    (!text.is_empty()).then(|| text.to_owned())
}

/// Inserts `value` under `key` if there is one.
pub(crate) fn set<V: Into<Value>>(user: &mut Object, key: &str, value: Option<V>) {
    if let Some(value) = value {
        user.insert(key.to_owned(), value.into());
    }
}

/// Splits a full name at its first run of whitespace: given name, then the rest.
pub(crate) fn split_name(full: &str) -> (Option<String>, Option<String>) {
    match full.trim().split_once(char::is_whitespace) {
        Some((given, family)) => (non_empty(given), non_empty(family)),
        None => (non_empty(full), None),
    }
}

/// Which metadata object a value goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metadata {
    /// `app_metadata`: set by the application or administrators, not by the user.
    App,
    /// `user_metadata`: profile data the user may edit.
    User,
}

/// Why the import would reject a metadata field name, if it would.
fn key_problem(key: &str) -> Option<&'static str> {
    (key.contains('.') || key.contains('$'))
        .then_some("metadata field names may not contain '.' or '$'; dropped")
}

/// One record being converted: its name in the report, and the report.
pub(crate) struct Record<'a> {
    name: String,
    report: &'a mut Vec<Unmapped>,
}

impl<'a> Record<'a> {
    pub(crate) fn new(name: String, report: &'a mut Vec<Unmapped>) -> Self {
        Self { name, report }
    }

    /// Reports that `field` of this record did not carry over, and why.
    pub(crate) fn note(&mut self, field: &str, reason: impl Into<String>) {
        self.report
            .push(Unmapped::new(self.name.as_str(), field, reason));
    }

    /// A trimmed, non-empty string. Null and absence give `None`; other types are reported.
    pub(crate) fn string(&mut self, value: Option<&Value>, field: &str) -> Option<String> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::String(text)) => non_empty(text),
            Some(other) => {
                let found = type_name(other);
                self.note(field, format!("expected a string, found {found}; dropped"));
                None
            }
        }
    }

    /// A boolean. Null and absence give `None`; other types are reported.
    pub(crate) fn boolean(&mut self, value: Option<&Value>, field: &str) -> Option<bool> {
        match value {
            None | Some(Value::Null) => None,
            Some(Value::Bool(flag)) => Some(*flag),
            Some(other) => {
                let found = type_name(other);
                self.note(
                    field,
                    format!("expected true or false, found {found}; dropped"),
                );
                None
            }
        }
    }

    /// Files `value` under `key` in `target`, which is the user's `app_metadata` or
    /// `user_metadata` as `to` says. Names the import rejects are reported under `field`
    /// (nested ones under `field.name`) and dropped.
    pub(crate) fn put_metadata(
        &mut self,
        target: &mut Object,
        to: Metadata,
        key: &str,
        value: Value,
        field: &str,
    ) {
        if let Some(problem) = key_problem(key) {
            self.note(field, problem);
        } else if to == Metadata::App && RESERVED_APP_METADATA.contains(&key) {
            self.note(field, "a name app_metadata may not use; dropped");
        } else {
            let value = self.clean(value, field);
            target.insert(key.to_owned(), value);
        }
    }

    /// Files every entry of `object` into `target` as `put_metadata` does, each reported (if
    /// need be) under `field.name`.
    pub(crate) fn put_all_metadata(
        &mut self,
        target: &mut Object,
        to: Metadata,
        object: Object,
        field: &str,
    ) {
        for (key, value) in object {
            let here = format!("{field}.{key}");
            self.put_metadata(target, to, &key, value, &here);
        }
    }

    /// Drops (and reports) nested object keys the import rejects.
    fn clean(&mut self, value: Value, path: &str) -> Value {
        match value {
            Value::Object(object) => {
                let mut out = Object::new();
                for (key, inner) in object {
                    let here = format!("{path}.{key}");
                    if let Some(problem) = key_problem(&key) {
                        self.note(&here, problem);
                    } else {
                        let inner = self.clean(inner, &here);
                        out.insert(key, inner);
                    }
                }
                Value::Object(out)
            }
            Value::Array(items) => Value::Array(
                items
                    .into_iter()
                    .map(|item| self.clean(item, path))
                    .collect(),
            ),
            other => other,
        }
    }
}

/// Fields dropped by design from many records, counted per field and reported once each with
/// record `*`.
#[derive(Debug, Default)]
pub(crate) struct Dropped {
    fields: BTreeMap<String, (usize, &'static str)>,
}

impl Dropped {
    pub(crate) fn add(&mut self, field: &str, reason: &'static str) {
        let entry = self.fields.entry(field.to_owned()).or_insert((0, reason));
        entry.0 += 1;
    }

    pub(crate) fn report_to(self, report: &mut Vec<Unmapped>) {
        for (field, (count, reason)) in self.fields {
            let records = if count == 1 { "record" } else { "records" };
            report.push(Unmapped::new(
                "*",
                field,
                format!("{reason} (dropped from {count} {records})"),
            ));
        }
    }
}

/// A bcrypt hash as the import's `password_hash` takes it: `$2a$` or `$2b$`, a two-digit cost
/// from 04 to 31, then 53 characters of salt and hash. `$2y$` (PHP's name for the same
/// algorithm) is rewritten to `$2b$`. `None` for anything else.
pub(crate) fn bcrypt(hash: &str) -> Option<String> {
    let hash = hash.trim();
    let (version, rest) = if let Some(rest) = hash.strip_prefix("$2a$") {
        ("2a", rest)
    } else if let Some(rest) = hash.strip_prefix("$2b$") {
        ("2b", rest)
    } else if let Some(rest) = hash.strip_prefix("$2y$") {
        ("2b", rest)
    } else {
        return None;
    };
    let (cost, body) = rest.split_once('$')?;
    let cost_ok = cost.len() == 2
        && cost.bytes().all(|b| b.is_ascii_digit())
        && (4..=31).contains(&cost.parse::<u8>().unwrap_or(0));
    let body_ok = body.len() == 53
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    (cost_ok && body_ok).then(|| format!("${version}${cost}${body}"))
}

/// The import's name and the digest length in bytes for `MD5`, `SHA-1`, `SHA-256` and
/// `SHA-512` (the spelling Okta and Stormpath use).
pub(crate) fn digest_algorithm(name: &str) -> Option<(&'static str, usize)> {
    match name {
        "MD5" => Some(("md5", 16)),
        "SHA-1" => Some(("sha1", 20)),
        "SHA-256" => Some(("sha256", 32)),
        "SHA-512" => Some(("sha512", 64)),
        _ => None,
    }
}

/// A salt for `digest_hash`: its text, that text's encoding (`base64`, `hex` or `utf8`), and
/// where it went: `prefix` (digest of salt + password) or `suffix` (password + salt).
pub(crate) struct Salt<'a> {
    pub(crate) value: &'a str,
    pub(crate) encoding: &'a str,
    pub(crate) position: &'a str,
}

/// `custom_password_hash` for one round of md4, md5, sha1, sha256 or sha512; `encoding` is
/// the hash's (`hex` or `base64`).
pub(crate) fn digest_hash(
    algorithm: &str,
    hash: &str,
    encoding: &str,
    salt: Option<Salt<'_>>,
) -> Value {
    let mut out = Object::new();
    out.insert("algorithm".to_owned(), json!(algorithm));
    out.insert(
        "hash".to_owned(),
        json!({ "value": hash, "encoding": encoding }),
    );
    if let Some(salt) = salt {
        out.insert(
            "salt".to_owned(),
            json!({
                "value": salt.value,
                "encoding": salt.encoding,
                "position": salt.position,
            }),
        );
    }
    Value::Object(out)
}

/// `custom_password_hash` for a self-describing hash string (bcrypt, argon2, PHC pbkdf2,
/// ldap): `hash.encoding` is `utf8` and there is no separate salt.
pub(crate) fn encoded_hash(algorithm: &str, hash: &str) -> Value {
    json!({
        "algorithm": algorithm,
        "hash": { "value": hash, "encoding": "utf8" },
    })
}

/// A PBKDF2 hash in the PHC string form the import takes for `pbkdf2`:
/// `$pbkdf2-<digest>$i=<iterations>,l=<key length>$<salt>$<hash>`, salt and hash in unpadded
/// standard base64.
pub(crate) fn pbkdf2_phc(digest: &str, iterations: u64, salt: &[u8], hash: &[u8]) -> String {
    let length = hash.len();
    let salt = STANDARD_NO_PAD.encode(salt);
    let hash = STANDARD_NO_PAD.encode(hash);
    format!("$pbkdf2-{digest}$i={iterations},l={length}${salt}${hash}")
}

/// Decodes standard base64, with or without padding.
pub(crate) fn base64_bytes(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    STANDARD
        .decode(text)
        .or_else(|_| STANDARD_NO_PAD.decode(text))
        .ok()
}
