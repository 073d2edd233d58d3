//! Auth0's bulk-import format: splitting an uploaded users file into records as it streams
//! in (constant memory, whatever the file's size), packing records into blocks, and
//! validating one record against Auth0's import schema with per-row error reasons.

use crate::metadata::{MetadataKind, MetadataPatch};
use crate::payload::{is_e164, is_email, type_name};
use crate::time::{EpochMillis, parse_iso8601};
use serde_json::{Map, Value, json};

/// One record of a users file, as the splitter found it.
#[derive(Debug, PartialEq, Eq)]
pub enum Record<'a> {
    /// The record's raw JSON text.
    Json(&'a [u8]),
    /// A record longer than the limit, of this many bytes; it is reported, not kept.
    Oversize(usize),
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SplitError(pub String);

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Layout {
    /// Nothing but whitespace (and a BOM) seen yet.
    Start,
    /// Auth0's format: one JSON array of users.
    Array,
    /// Objects one after another (NDJSON, as Auth0's exports are written).
    Stream,
    /// After the array's closing bracket.
    Done,
}

/// Cuts a users file into records without parsing them: tracks strings and nesting only,
/// so memory stays at one record whatever the file's size. Accepts Auth0's JSON array and
/// also NDJSON (one object per line, the format exports are written in).
#[derive(Debug)]
pub struct RecordSplitter {
    layout: Layout,
    max_record: usize,
    current: Vec<u8>,
    current_len: usize,
    depth: u32,
    in_string: bool,
    escaped: bool,
    /// In an array: a comma was seen and a record must follow.
    expect_record: bool,
    records: u64,
}

impl RecordSplitter {
    pub fn new(max_record: usize) -> Self {
        Self {
            layout: Layout::Start,
            max_record,
            current: Vec::new(),
            current_len: 0,
            depth: 0,
            in_string: false,
            escaped: false,
            expect_record: false,
            records: 0,
        }
    }

    /// Records seen so far.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn emit(&mut self, out: &mut impl FnMut(Record<'_>)) {
        while self.current.last().is_some_and(|b| b.is_ascii_whitespace()) {
            self.current.pop();
        }
        if self.current_len > self.max_record {
            out(Record::Oversize(self.current_len));
        } else {
            out(Record::Json(&self.current));
        }
        self.records += 1;
        self.current.clear();
        self.current_len = 0;
    }

    fn push(&mut self, b: u8) {
        self.current_len += 1;
        if self.current_len <= self.max_record {
            self.current.push(b);
        } else if !self.current.is_empty() {
            self.current = Vec::new();
        }
    }

    /// Feeds the next chunk of the file; calls `out` for each complete record.
    pub fn feed(
        &mut self,
        chunk: &[u8],
        out: &mut impl FnMut(Record<'_>),
    ) -> Result<(), SplitError> {
        for &b in chunk {
            if self.in_string {
                self.push(b);
                if self.escaped {
                    self.escaped = false;
                } else if b == b'\\' {
                    self.escaped = true;
                } else if b == b'"' {
                    self.in_string = false;
                }
                continue;
            }
            let in_record = self.current_len > 0;
            match self.layout {
                Layout::Start => match b {
                    b'[' => self.layout = Layout::Array,
                    b'{' => {
                        self.layout = Layout::Stream;
                        self.push(b);
                        self.depth = 1;
                    }
                    b if b.is_ascii_whitespace() => {}
                    0xEF | 0xBB | 0xBF => {}
                    _ => {
                        return Err(SplitError(
                            "the users file must be a JSON array of user objects".into(),
                        ));
                    }
                },
                Layout::Done => {
                    if !b.is_ascii_whitespace() {
                        return Err(SplitError(
                            "unexpected content after the end of the users array".into(),
                        ));
                    }
                }
                Layout::Array if self.depth == 0 && (b == b',' || b == b']') => {
                    if !in_record {
                        if b == b']' && !self.expect_record && self.records == 0 {
                            self.layout = Layout::Done;
                            continue;
                        }
                        return Err(SplitError(format!(
                            "empty entry in the users array after record {}",
                            self.records
                        )));
                    }
                    self.emit(out);
                    self.expect_record = b == b',';
                    if b == b']' {
                        self.layout = Layout::Done;
                    }
                }
                Layout::Array | Layout::Stream => {
                    if !in_record && b.is_ascii_whitespace() {
                        continue;
                    }
                    if self.layout == Layout::Stream && self.depth == 0 && b != b'{' {
                        return Err(SplitError(format!(
                            "expected a user object after record {}",
                            self.records
                        )));
                    }
                    self.push(b);
                    match b {
                        b'"' => self.in_string = true,
                        b'{' | b'[' => self.depth += 1,
                        b'}' | b']' => {
                            self.depth = self.depth.checked_sub(1).ok_or_else(|| {
                                SplitError(format!(
                                    "unbalanced brackets in record {}",
                                    self.records
                                ))
                            })?;
                            if self.layout == Layout::Stream && self.depth == 0 {
                                self.emit(out);
                            }
                        }
                        _ => {}
                    }
                }
            }
        }
        Ok(())
    }

    /// Checks the file ended where a file may end.
    pub fn finish(&self) -> Result<(), SplitError> {
        match self.layout {
            Layout::Done | Layout::Stream if self.current_len == 0 && !self.in_string => Ok(()),
            Layout::Start => Err(SplitError("the users file is empty".into())),
            _ => Err(SplitError(
                "the users file ends in the middle of a record".into(),
            )),
        }
    }
}

/// Length value marking an oversize record in a block.
const OVERSIZE: u32 = u32::MAX;

/// Appends a record to a block: a little-endian u32 length, then the bytes.
pub fn pack_record(block: &mut Vec<u8>, record: &Record<'_>) {
    match record {
        Record::Json(bytes) => {
            block.extend_from_slice(&(bytes.len() as u32).to_le_bytes());
            block.extend_from_slice(bytes);
        }
        Record::Oversize(n) => {
            block.extend_from_slice(&OVERSIZE.to_le_bytes());
            block.extend_from_slice(&(*n as u32).to_le_bytes());
        }
    }
}

/// The records of a block, in order.
pub fn unpack_records(block: &[u8]) -> Vec<Record<'_>> {
    let mut out = Vec::new();
    let mut rest = block;
    while rest.len() >= 4 {
        let len = u32::from_le_bytes([rest[0], rest[1], rest[2], rest[3]]);
        rest = &rest[4..];
        if len == OVERSIZE {
            let n = rest
                .get(..4)
                .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
                .unwrap_or(0);
            out.push(Record::Oversize(n as usize));
            rest = rest.get(4..).unwrap_or(&[]);
        } else {
            let Some(bytes) = rest.get(..len as usize) else {
                break;
            };
            out.push(Record::Json(bytes));
            rest = &rest[len as usize..];
        }
    }
    out
}

/// One reason a row was refused, as Auth0's `GET /jobs/{id}/errors` reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub code: &'static str,
    pub message: String,
    pub path: String,
}

impl RowError {
    pub fn new(code: &'static str, message: impl Into<String>, path: &str) -> Self {
        Self {
            code,
            message: message.into(),
            path: path.to_string(),
        }
    }

    pub fn to_json(&self) -> Value {
        json!({"code": self.code, "message": self.message, "path": self.path})
    }
}

/// An MFA enrollment carried over with the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MfaFactor {
    /// Unpadded base32 TOTP secret.
    Totp(String),
    Phone(String),
    Email(String),
}

/// A validated import row. `None` means the row did not give the field, which matters for
/// upserts: only given fields change.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ImportRow {
    pub email: String,
    pub email_verified: Option<bool>,
    /// The id without a provider prefix; an `auth0|` prefix (as in Auth0's own exports) is
    /// stripped so a re-imported export keeps its ids.
    pub user_id: Option<String>,
    pub username: Option<String>,
    pub given_name: Option<String>,
    pub family_name: Option<String>,
    pub name: Option<String>,
    pub nickname: Option<String>,
    pub picture: Option<String>,
    pub phone_number: Option<String>,
    pub phone_verified: Option<bool>,
    pub blocked: Option<bool>,
    pub user_metadata: Option<Map<String, Value>>,
    pub app_metadata: Option<Map<String, Value>>,
    pub password_hash: Option<String>,
    pub custom_password_hash: Option<Value>,
    pub password_set_date: Option<EpochMillis>,
    pub mfa_factors: Vec<MfaFactor>,
}

pub const IMPORT_PROPERTIES: &[&str] = &[
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "phone_number",
    "phone_verified",
    "blocked",
    "app_metadata",
    "user_metadata",
    "password_hash",
    "custom_password_hash",
    "password_set_date",
    "mfa_factors",
];

/// A row as it is shown back in the job's error report: secrets replaced by `*****`.
pub fn redact_row(row: &Value) -> Value {
    let mut row = row.clone();
    if let Some(m) = row.as_object_mut() {
        for key in ["password_hash", "custom_password_hash", "mfa_factors"] {
            if m.contains_key(key) {
                m.insert(key.into(), json!("*****"));
            }
        }
    }
    row
}

struct Fields<'a> {
    map: &'a Map<String, Value>,
    errors: Vec<RowError>,
}

impl Fields<'_> {
    fn string(&mut self, key: &str, max: usize) -> Option<String> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => {
                let n = s.chars().count();
                if n == 0 || n > max {
                    self.errors.push(RowError::new(
                        "INVALID_FORMAT",
                        format!("String length must be between 1 and {max} characters"),
                        key,
                    ));
                    return None;
                }
                Some(s.clone())
            }
            Some(v) => {
                self.type_error(key, "string", v);
                None
            }
        }
    }

    fn bool(&mut self, key: &str) -> Option<bool> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Bool(b)) => Some(*b),
            Some(v) => {
                self.type_error(key, "boolean", v);
                None
            }
        }
    }

    fn metadata(&mut self, kind: MetadataKind, max_bytes: usize) -> Option<Map<String, Value>> {
        let key = kind.field();
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(Value::Object(m)) => {
                match MetadataPatch::parse(kind, m.clone()).and_then(|p| p.into_document(max_bytes))
                {
                    Ok(doc) => Some(doc),
                    Err(e) => {
                        self.errors
                            .push(RowError::new("INVALID_FORMAT", e.to_string(), key));
                        None
                    }
                }
            }
            Some(v) => {
                self.type_error(key, "object", v);
                None
            }
        }
    }

    /// Records a profile rule's refusal (the same rules `POST /api/v2/users` applies).
    fn check(&mut self, rule: Result<(), crate::payload::InvalidBody>, key: &str) {
        if let Err(e) = rule {
            self.errors
                .push(RowError::new("INVALID_FORMAT", e.message, key));
        }
    }

    fn type_error(&mut self, key: &str, expected: &str, got: &Value) {
        self.errors.push(RowError::new(
            "INVALID_TYPE",
            format!("Expected type {expected} but found type {}", type_name(got)),
            key,
        ));
    }
}

fn is_base32(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b))
}

impl ImportRow {
    /// Validates one record against Auth0's import schema. Password hashes are checked for
    /// shape only here; their algorithms and parameters are checked by the caller.
    pub fn parse(record: &Value, max_metadata_bytes: usize) -> Result<Self, Vec<RowError>> {
        let Some(map) = record.as_object() else {
            return Err(vec![RowError::new(
                "INVALID_TYPE",
                format!("Expected type object but found type {}", type_name(record)),
                "",
            )]);
        };
        let mut f = Fields {
            map,
            errors: Vec::new(),
        };
        for key in map.keys() {
            if !IMPORT_PROPERTIES.contains(&key.as_str()) {
                f.errors.push(RowError::new(
                    "OBJECT_ADDITIONAL_PROPERTIES",
                    format!("Additional properties not allowed: {key}"),
                    key,
                ));
            }
        }
        let email = f.string("email", 512).map(|e| e.to_lowercase());
        match &email {
            None if !map.contains_key("email") => f.errors.push(RowError::new(
                "OBJECT_MISSING_REQUIRED_PROPERTY",
                "Missing required property: email",
                "email",
            )),
            Some(e) => f.check(crate::user::check_email(e), "email"),
            _ => {}
        }
        let user_id = f
            .string("user_id", crate::user::USER_ID_MAX + 6)
            .map(|id| id.strip_prefix("auth0|").map(str::to_string).unwrap_or(id));
        if let Some(id) = &user_id
            && (id.is_empty()
                || id.chars().count() > crate::user::USER_ID_MAX
                || id.chars().any(|c| c.is_whitespace() || c.is_control()))
        {
            f.errors.push(RowError::new(
                "INVALID_FORMAT",
                "user_id must be 1 to 255 characters without white space",
                "user_id",
            ));
        }
        let name_max = crate::user::NAME_MAX;
        let username = f.string("username", 128);
        let phone_number = f.string("phone_number", 32);
        if let Some(p) = &phone_number {
            f.check(crate::user::check_phone(p), "phone_number");
        }
        let picture = f.string("picture", 2048);
        if let Some(p) = &picture {
            f.check(crate::user::check_picture(p), "picture");
        }
        let password_hash = f.string("password_hash", 1024);
        let custom_password_hash = match map.get("custom_password_hash") {
            None | Some(Value::Null) => None,
            Some(v @ Value::Object(_)) => Some(v.clone()),
            Some(v) => {
                f.type_error("custom_password_hash", "object", v);
                None
            }
        };
        if password_hash.is_some() && custom_password_hash.is_some() {
            f.errors.push(RowError::new(
                "INVALID_FORMAT",
                "password_hash and custom_password_hash cannot both be given",
                "custom_password_hash",
            ));
        }
        let password_set_date = f.string("password_set_date", 64).and_then(|s| {
            let parsed = parse_iso8601(&s);
            if parsed.is_none() {
                f.errors.push(RowError::new(
                    "INVALID_FORMAT",
                    format!("Object didn't pass validation for format date-time: {s}"),
                    "password_set_date",
                ));
            }
            parsed
        });
        let mfa_factors = parse_mfa_factors(map.get("mfa_factors"), &mut f.errors);
        let row = ImportRow {
            email: email.unwrap_or_default(),
            email_verified: f.bool("email_verified"),
            user_id,
            username,
            given_name: f.string("given_name", name_max),
            family_name: f.string("family_name", name_max),
            name: f.string("name", name_max),
            nickname: f.string("nickname", name_max),
            picture,
            phone_number,
            phone_verified: f.bool("phone_verified"),
            blocked: f.bool("blocked"),
            user_metadata: f.metadata(MetadataKind::User, max_metadata_bytes),
            app_metadata: f.metadata(MetadataKind::App, max_metadata_bytes),
            password_hash,
            custom_password_hash,
            password_set_date,
            mfa_factors,
        };
        if f.errors.is_empty() {
            Ok(row)
        } else {
            Err(f.errors)
        }
    }
}

fn parse_mfa_factors(v: Option<&Value>, errors: &mut Vec<RowError>) -> Vec<MfaFactor> {
    let items = match v {
        None | Some(Value::Null) => return Vec::new(),
        Some(Value::Array(items)) => items,
        Some(other) => {
            errors.push(RowError::new(
                "INVALID_TYPE",
                format!("Expected type array but found type {}", type_name(other)),
                "mfa_factors",
            ));
            return Vec::new();
        }
    };
    let mut out = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let path = format!("mfa_factors[{i}]");
        let entry = item
            .as_object()
            .filter(|m| m.len() == 1)
            .and_then(|m| m.iter().next());
        let factor = entry.and_then(|(kind, body)| {
            let body = body.as_object()?;
            match (kind.as_str(), body.len()) {
                ("totp", 1) => body
                    .get("secret")
                    .and_then(Value::as_str)
                    .filter(|s| is_base32(s))
                    .map(|s| MfaFactor::Totp(s.to_string())),
                ("phone", 1) => body
                    .get("value")
                    .and_then(Value::as_str)
                    .filter(|s| is_e164(s))
                    .map(|s| MfaFactor::Phone(s.to_string())),
                ("email", 1) => body
                    .get("value")
                    .and_then(Value::as_str)
                    .filter(|s| is_email(s))
                    .map(|s| MfaFactor::Email(s.to_string())),
                _ => None,
            }
        });
        match factor {
            Some(f) => out.push(f),
            None => errors.push(RowError::new(
                "INVALID_FORMAT",
                "an MFA factor is one of {\"totp\":{\"secret\":<base32>}}, {\"phone\":{\"value\":<E.164>}} or {\"email\":{\"value\":<email>}}",
                &path,
            )),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &str, chunk: usize) -> Result<Vec<String>, SplitError> {
        let mut s = RecordSplitter::new(64);
        let mut got = Vec::new();
        for c in input.as_bytes().chunks(chunk) {
            s.feed(c, &mut |r| {
                got.push(match r {
                    Record::Json(b) => String::from_utf8_lossy(b).into_owned(),
                    Record::Oversize(n) => format!("<{n}>"),
                })
            })?;
        }
        s.finish()?;
        Ok(got)
    }

    #[test]
    fn splits_arrays_and_ndjson_at_any_chunk_size() {
        let input = "\u{feff} [ {\"email\":\"a@x.io\",\"m\":{\"s\":\"],}\\\"{\"}} ,\n{\"email\":\"b@x.io\"}, 7 ]\n";
        for chunk in [1, 2, 3, 7, 1000] {
            assert_eq!(
                split(input, chunk).unwrap(),
                vec![
                    "{\"email\":\"a@x.io\",\"m\":{\"s\":\"],}\\\"{\"}}",
                    "{\"email\":\"b@x.io\"}",
                    "7"
                ]
            );
        }
        assert_eq!(
            split("{\"a\":1}\n{\"b\":[2]}\n", 3).unwrap(),
            vec!["{\"a\":1}", "{\"b\":[2]}"]
        );
        assert_eq!(split("[]", 1).unwrap(), Vec::<String>::new());
        let long = format!("[{{\"k\":\"{}\"}},{{}}]", "x".repeat(100));
        assert_eq!(split(&long, 5).unwrap(), vec!["<108>", "{}"]);
    }

    #[test]
    fn refuses_what_is_not_a_users_file() {
        for bad in [
            "",
            "  ",
            "\"x\"",
            "[{}",
            "[{},]",
            "[,{}]",
            "[{}] x",
            "{}x",
            "[{\"a\":\"b]",
        ] {
            assert!(split(bad, 2).is_err(), "accepted {bad:?}");
        }
    }

    #[test]
    fn blocks_round_trip() {
        let mut block = Vec::new();
        pack_record(&mut block, &Record::Json(b"{\"a\":1}"));
        pack_record(&mut block, &Record::Oversize(5_000_000));
        pack_record(&mut block, &Record::Json(b"{}"));
        assert_eq!(
            unpack_records(&block),
            vec![
                Record::Json(b"{\"a\":1}"),
                Record::Oversize(5_000_000),
                Record::Json(b"{}")
            ]
        );
    }

    #[test]
    fn rows_are_checked_against_the_schema() {
        let ok = ImportRow::parse(
            &json!({"email": "A@X.io", "user_id": "auth0|abc", "email_verified": true,
                "password_set_date": "2020-01-02T03:04:05Z", "user_metadata": {"a": 1},
                "mfa_factors": [{"totp": {"secret": "JBSWY3DPEHPK3PXP"}}]}),
            16384,
        )
        .unwrap();
        assert_eq!(ok.email, "a@x.io");
        assert_eq!(ok.user_id.as_deref(), Some("abc"));
        assert_eq!(ok.password_set_date, Some(1_577_934_245_000));
        assert_eq!(
            ok.mfa_factors,
            vec![MfaFactor::Totp("JBSWY3DPEHPK3PXP".into())]
        );
        let codes = |v: Value| -> Vec<(&'static str, String)> {
            ImportRow::parse(&v, 16384)
                .unwrap_err()
                .into_iter()
                .map(|e| (e.code, e.path))
                .collect()
        };
        assert_eq!(
            codes(json!({})),
            vec![("OBJECT_MISSING_REQUIRED_PROPERTY", "email".into())]
        );
        assert_eq!(
            codes(json!({"email": "a@x.io", "age": 3})),
            vec![("OBJECT_ADDITIONAL_PROPERTIES", "age".into())]
        );
        assert_eq!(
            codes(json!({"email": "nope"})),
            vec![("INVALID_FORMAT", "email".into())]
        );
        assert_eq!(
            codes(json!({"email": "a@x.io", "blocked": "yes"})),
            vec![("INVALID_TYPE", "blocked".into())]
        );
        assert_eq!(
            codes(json!({"email": "a@x.io", "app_metadata": {"email": 1}})),
            vec![("INVALID_FORMAT", "app_metadata".into())]
        );
        assert_eq!(
            codes(json!({"email": "a@x.io", "mfa_factors": [{"totp": {"secret": "abc"}}]})),
            vec![("INVALID_FORMAT", "mfa_factors[0]".into())]
        );
        assert_eq!(codes(json!(7)), vec![("INVALID_TYPE", "".into())]);
        let redacted = redact_row(&json!({"email": "a@x.io", "password_hash": "$2b$..."}));
        assert_eq!(redacted["password_hash"], "*****");
    }
}
