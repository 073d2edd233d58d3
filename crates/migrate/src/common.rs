//! Helpers shared by the converters. Any converter module may use them:
//!
//! - Reading input: `records(input, source)` reads an export into user objects: one JSON
//!   object, a JSON array of objects, NDJSON, or any run of these back to back (files
//!   concatenated by the CLI). `without_bom(input)` skips a UTF-8 byte-order mark.
//!   `format_error(source, reason)` builds `ConvertError::Format`.
//! - Running a converter: `convert_records(input, source, convert_user)` converts every record
//!   and reports `Dropped` (Okta, Stormpath). `convert_objects(values, fields, convert_user)`
//!   does the same for already-read values, reporting those that are not objects and counting
//!   `Fields::dropped`; `Fields::report_unknown` reports what a record has beyond `Fields`
//!   (Gigya, Keycloak, Firebase), with the reason `NO_COUNTERPART`.
//! - Naming and reading fields: `label(id, index)` names a record in the report: its id, else
//!   `#n` (1-based position). `text(value)` is a trimmed, non-empty string, with nothing
//!   reported. `strings(value)` the strings of a JSON array. `positive_int(value)` a positive
//!   integer given as a number or a numeric string. `is_empty(value)` is true for null, blank
//!   strings, `[]` and `{}`.
//! - `Record` reads one record's fields (reporting values of the wrong type) and files metadata,
//!   dropping and reporting keys the import rejects (`.` or `$` in a name, at any depth, and
//!   Auth0's reserved `app_metadata` names, `gatehouse_core`'s `RESERVED_APP_METADATA_KEYS`);
//!   nested names are dropped one by one. `metadata_entries` files a whole object the other way:
//!   an entry with a bad name anywhere in it is dropped whole. `Record::password` files a
//!   converted `Hash`, or reports why there is none.
//! - `Dropped` counts fields that every record loses by design (timestamps, counters, links);
//!   they are reported once per field with record `*`, not once per user.
//! - Writing users: `set(user, key, value)` inserts an optional value into a user object.
//!   `split_name("Ada King Lovelace")` gives `("Ada", "King Lovelace")`; `full_name(given,
//!   family)` joins them. `looks_like_email(text)` is a light email check. `is_e164(phone)`
//!   checks a phone number as the import's `phone_number` takes it; `e164(raw)` first removes
//!   spaces, dashes, dots and brackets. `iso_from_millis(ms)` writes a Unix time in
//!   milliseconds as an ISO 8601 date-time.
//! - Passwords: `Hash` (`password_hash` or `custom_password_hash`), `bcrypt` (a
//!   `password_hash`, `$2y$` rewritten to `$2b$`), `digest_algorithm` and `digest_length`,
//!   `digest_hash` and `Salt` (salted md5/sha*), `encoded_hash` (bcrypt/argon2/pbkdf2/ldap
//!   strings), `pbkdf2_phc`, and base64 decoding: `base64_bytes` (standard alphabet) and
//!   `any_base64_bytes` (standard or URL-safe).

use std::collections::BTreeMap;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use gatehouse_core::metadata::RESERVED_APP_METADATA_KEYS;
use gatehouse_core::payload;
use serde_json::{Map, Value, json};

use crate::{Conversion, ConvertError, Unmapped};

/// A JSON object: a record read from an export, or a user written for the import.
pub(crate) type Object = Map<String, Value>;

/// The reason reported for a field that has no place in the import.
pub(crate) const NO_COUNTERPART: &str = "no counterpart in the import schema; dropped";

const BAD_NAME: &str = "metadata field names may not contain `.` or `$`; dropped";
const RESERVED_NAME: &str = "a name app_metadata may not use; dropped";

/// The error for input that is not the source's export format.
pub(crate) fn format_error(source: &'static str, reason: impl Into<String>) -> ConvertError {
    ConvertError::Format {
        system: source,
        reason: reason.into(),
    }
}

/// `input` without its UTF-8 byte-order mark, if it has one.
pub(crate) fn without_bom(input: &[u8]) -> &[u8] {
    input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input)
}

/// Reads every user object in `input`: objects, arrays of objects, or several of either one
/// after another (NDJSON and concatenated files both fit). A UTF-8 byte-order mark is skipped.
pub(crate) fn records(input: &[u8], source: &'static str) -> Result<Vec<Object>, ConvertError> {
    let input = without_bom(input);
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

/// Converts every record of `input` (read by `records`) with `convert`, which gets the record,
/// its index, the fields dropped by design and the report; then reports those fields.
pub(crate) fn convert_records(
    input: &[u8],
    source: &'static str,
    mut convert: impl FnMut(Object, usize, &mut Dropped, &mut Vec<Unmapped>) -> Option<Object>,
) -> Result<Conversion, ConvertError> {
    let records = records(input, source)?;
    let mut report = Vec::new();
    let mut dropped = Dropped::default();
    let mut users = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        if let Some(user) = convert(record, index, &mut dropped, &mut report) {
            users.push(Value::Object(user));
        }
    }
    dropped.report_to(&mut report);
    Ok(Conversion { users, report })
}

/// The fields of a source's user objects, as a converter that reports every field it does not
/// carry over sorts them.
pub(crate) struct Fields {
    /// Fields the converter reads.
    pub(crate) handled: &'static [&'static str],
    /// Fields left out without a report.
    pub(crate) ignored: &'static [&'static str],
    /// Fields every user loses by design, with the reason: reported once each, with record `*`
    /// and a count (see `Dropped`).
    pub(crate) dropped: &'static [(&'static str, &'static str)],
}

impl Fields {
    /// Reports, under `record`, every field of `object` that is not empty and not one of these.
    pub(crate) fn report_unknown(&self, record: &str, object: &Object, report: &mut Vec<Unmapped>) {
        for (key, value) in object {
            let key = key.as_str();
            let known = self.handled.contains(&key)
                || self.ignored.contains(&key)
                || self.dropped.iter().any(|(field, _)| *field == key);
            if !known && !is_empty(value) {
                report.push(Unmapped::new(record, key, NO_COUNTERPART));
            }
        }
    }
}

/// Converts every entry of `values` with `convert`, which gets the object, its index and the
/// report. Entries that are not objects are reported and skipped. Each of `fields.dropped` is
/// counted over the users converted that have a value for it, and reported once.
pub(crate) fn convert_objects(
    values: &[Value],
    fields: &Fields,
    mut convert: impl FnMut(&Object, usize, &mut Vec<Unmapped>) -> Option<Object>,
) -> Conversion {
    let mut conversion = Conversion::default();
    let mut dropped = Dropped::default();
    for (index, value) in values.iter().enumerate() {
        let Some(object) = value.as_object() else {
            conversion.report.push(Unmapped::new(
                label(None, index),
                "(record)",
                "not a JSON object; skipped",
            ));
            continue;
        };
        if let Some(user) = convert(object, index, &mut conversion.report) {
            conversion.users.push(Value::Object(user));
            for (field, reason) in fields.dropped {
                if object.get(*field).is_some_and(|value| !is_empty(value)) {
                    dropped.add(field, reason);
                }
            }
        }
    }
    dropped.report_to(&mut conversion.report);
    conversion
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

/// The strings in a JSON array (other entries are passed over).
pub(crate) fn strings(value: Option<&Value>) -> Vec<&str> {
    value
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A positive integer given as a JSON number or a numeric string.
pub(crate) fn positive_int(value: Option<&Value>) -> Option<u64> {
    let number = match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number.filter(|n| *n > 0)
}

/// Null, a blank string, `[]` and `{}`: nothing worth carrying or reporting.
pub(crate) fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
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

/// A full name from its parts: `given family`, or whichever of the two there is.
pub(crate) fn full_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    match (given, family) {
        (Some(given), Some(family)) => Some(format!("{given} {family}")),
        (given, family) => given.or(family).map(str::to_owned),
    }
}

/// A light email check: a non-empty local part and domain around the first `@`, and no white
/// space.
pub(crate) fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// A phone number the import takes as `phone_number`: E.164 as `gatehouse_core` checks it (`+`,
/// then at most 15 digits not starting with 0), and at least 7 digits, as the shortest numbers
/// in use have.
pub(crate) fn is_e164(phone: &str) -> bool {
    phone
        .strip_prefix('+')
        .is_some_and(|digits| digits.len() >= 7)
        && payload::is_e164(phone)
}

/// A phone number in E.164 form once spaces, dashes, dots and brackets are taken out.
pub(crate) fn e164(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    is_e164(&compact).then_some(compact)
}

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
pub(crate) fn iso_from_millis(millis: i64) -> Option<String> {
    if millis < 0 {
        return None;
    }
    let days = millis / 86_400_000;
    let in_day = millis % 86_400_000;
    let (hour, minute) = (in_day / 3_600_000, in_day / 60_000 % 60);
    let (second, milli) = (in_day / 1000 % 60, in_day % 1000);
    // Days to a proleptic Gregorian date, counting in 400-year eras from 0000-03-01.
    let shifted = days + 719_468;
    let era = shifted / 146_097;
    let day_of_era = shifted - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_from_march = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_from_march + 2) / 5 + 1;
    let month = if month_from_march < 10 {
        month_from_march + 3
    } else {
        month_from_march - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    Some(format!(
        "{year:04}-{month:02}-{day:02}T{hour:02}:{minute:02}:{second:02}.{milli:03}Z"
    ))
}

/// Which metadata object a value goes to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Metadata {
    /// `app_metadata`: set by the application or administrators, not by the user.
    App,
    /// `user_metadata`: profile data the user may edit.
    User,
}

impl Metadata {
    /// Whether `key` is a top-level name this object may not use.
    fn reserves(self, key: &str) -> bool {
        self == Metadata::App && RESERVED_APP_METADATA_KEYS.contains(&key)
    }
}

/// Whether the import rejects `key` as a metadata field name: it holds `.` or `$`.
fn bad_name(key: &str) -> bool {
    key.contains(['.', '$'])
}

/// Whether `key`, or any name nested in `value`, is a `bad_name`.
fn has_bad_name(key: &str, value: &Value) -> bool {
    bad_name(key)
        || match value {
            Value::Object(map) => map.iter().any(|(k, v)| has_bad_name(k, v)),
            Value::Array(items) => items.iter().any(|v| has_bad_name("", v)),
            _ => false,
        }
}

/// Copies the entries of `source` into a new `to` metadata object, each whole or not at all: an
/// entry named as `to` may not be, or with a `.` or `$` in a name at any depth, is left out and
/// reported under `record` as `prefix` + name. Entries for which `skip` is true are left out
/// silently.
pub(crate) fn metadata_entries(
    record: &str,
    report: &mut Vec<Unmapped>,
    source: &Object,
    to: Metadata,
    prefix: &str,
    skip: fn(&Value) -> bool,
) -> Object {
    let mut out = Object::new();
    for (key, value) in source {
        if skip(value) {
            continue;
        }
        if to.reserves(key) {
            report.push(Unmapped::new(
                record,
                format!("{prefix}{key}"),
                RESERVED_NAME,
            ));
        } else if has_bad_name(key, value) {
            report.push(Unmapped::new(record, format!("{prefix}{key}"), BAD_NAME));
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    out
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
        if bad_name(key) {
            self.note(field, BAD_NAME);
        } else if to.reserves(key) {
            self.note(field, RESERVED_NAME);
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
                    if bad_name(&key) {
                        self.note(&here, BAD_NAME);
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

    /// Files a converted password in `user`; true if it carried over. Otherwise reports
    /// `field` with the problem, and that the user sets a new password.
    pub(crate) fn password(
        &mut self,
        field: &str,
        converted: Result<Hash, String>,
        user: &mut Object,
    ) -> bool {
        match converted {
            Ok(hash) => {
                hash.insert_into(user);
                true
            }
            Err(problem) => {
                self.note(field, format!("{problem}; the user sets a new password"));
                false
            }
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

/// A password hash in one of the import's two shapes.
pub(crate) enum Hash {
    /// `password_hash`: a bcrypt string.
    Bcrypt(String),
    /// `custom_password_hash`.
    Custom(Value),
}

impl Hash {
    /// Sets the user's `password_hash` or `custom_password_hash`.
    pub(crate) fn insert_into(self, user: &mut Object) {
        match self {
            Hash::Bcrypt(hash) => user.insert("password_hash".to_owned(), Value::String(hash)),
            Hash::Custom(custom) => user.insert("custom_password_hash".to_owned(), custom),
        };
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
    } else {
        ("2b", hash.strip_prefix("$2y$")?)
    };
    let (cost, body) = rest.split_once('$')?;
    let cost_ok = cost.len() == 2
        && cost.bytes().all(|b| b.is_ascii_digit())
        && cost.parse::<u8>().is_ok_and(|c| (4..=31).contains(&c));
    let body_ok = body.len() == 53
        && body
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'.' || b == b'/');
    (cost_ok && body_ok).then(|| format!("${version}${cost}${body}"))
}

/// The digests the import takes for `custom_password_hash`: the name Okta and Stormpath give
/// it, the import's name, and the digest's length in bytes.
const DIGESTS: [(&str, &str, usize); 4] = [
    ("MD5", "md5", 16),
    ("SHA-1", "sha1", 20),
    ("SHA-256", "sha256", 32),
    ("SHA-512", "sha512", 64),
];

/// The import's name and the digest length in bytes for `MD5`, `SHA-1`, `SHA-256` and
/// `SHA-512` (the spelling Okta and Stormpath use).
pub(crate) fn digest_algorithm(name: &str) -> Option<(&'static str, usize)> {
    DIGESTS
        .iter()
        .find(|(source, _, _)| *source == name)
        .map(|&(_, algorithm, length)| (algorithm, length))
}

/// The digest length in bytes of the import's `md5`, `sha1`, `sha256` and `sha512`.
pub(crate) fn digest_length(algorithm: &str) -> Option<usize> {
    DIGESTS
        .iter()
        .find(|(_, name, _)| *name == algorithm)
        .map(|&(_, _, length)| length)
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

/// Decodes base64 in either alphabet (standard or URL-safe), padded or not.
pub(crate) fn any_base64_bytes(text: &str) -> Option<Vec<u8>> {
    let standard: String = text
        .trim()
        .trim_end_matches('=')
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    STANDARD_NO_PAD.decode(standard).ok()
}
