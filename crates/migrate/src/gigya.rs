//! Gigya (SAP Customer Data Cloud) account exports to Auth0 bulk-import users.
//!
//! Reads account objects as `accounts.search`, `accounts.getAccountInfo` and IdentitySync give
//! them: a JSON array, a search response with `results`, a single account, or one account per
//! line (NDJSON). Each account names its own password hash in `password.hashSettings`. The
//! mapping is described in `docs/migration/gigya.md`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};

use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

/// Account fields this converter reads.
const HANDLED: &[&str] = &[
    "UID",
    "profile",
    "emails",
    "loginIDs",
    "isVerified",
    "isActive",
    "data",
    "password",
    "identities",
];

/// Account fields left out without a report: the API response envelope, timestamps repeating
/// another field, and login telemetry with no meaning on the new server.
const IGNORED: &[&str] = &[
    "UIDSignature",
    "signatureTimestamp",
    "statusCode",
    "errorCode",
    "statusReason",
    "callId",
    "time",
    "apiVersion",
    "createdTimestamp",
    "lastLoginTimestamp",
    "lastUpdated",
    "lastUpdatedTimestamp",
    "oldestDataUpdated",
    "oldestDataUpdatedTimestamp",
    "registered",
    "registeredTimestamp",
    "verified",
    "verifiedTimestamp",
    "isRegistered",
    "socialProviders",
    "hasLiteAccount",
    "hasFullAccount",
    "isLockedOut",
    "iRank",
    "lastLoginLocation",
    "loginProvider",
    "rbaPolicy",
];

/// Fields every account loses by design: reported once each, with record `*` and a count.
const DROPPED: &[(&str, &str)] = &[
    ("created", "the import schema has no creation date"),
    ("lastLogin", "the import schema has no last-login date"),
];

/// Top-level `app_metadata` names Auth0's import refuses.
const RESERVED_APP_METADATA: &[&str] = &[
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

const NO_COUNTERPART: &str = "no counterpart in the import schema; dropped";

/// Converts a Gigya accounts export.
pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let accounts = read_accounts(input)?;
    let mut conversion = Conversion::default();
    let mut dropped = vec![0_usize; DROPPED.len()];
    for (index, account) in accounts.iter().enumerate() {
        let Some(account) = account.as_object() else {
            conversion.report.push(Unmapped::new(
                format!("#{}", index + 1),
                "(record)",
                "not a JSON object; skipped",
            ));
            continue;
        };
        if let Some(user) = convert_account(account, index, &mut conversion.report) {
            conversion.users.push(Value::Object(user));
            for (count, (field, _)) in dropped.iter_mut().zip(DROPPED) {
                if account.get(*field).is_some_and(|v| !is_empty(v)) {
                    *count += 1;
                }
            }
        }
    }
    for (count, (field, reason)) in dropped.into_iter().zip(DROPPED) {
        if count > 0 {
            let records = if count == 1 { "record" } else { "records" };
            conversion.report.push(Unmapped::new(
                "*",
                *field,
                format!("{reason} (dropped from {count} {records})"),
            ));
        }
    }
    Ok(conversion)
}

fn format_error(reason: impl Into<String>) -> ConvertError {
    ConvertError::Format {
        system: "gigya",
        reason: reason.into(),
    }
}

/// The accounts in `input`, whichever of the accepted shapes it has.
fn read_accounts(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let text = std::str::from_utf8(input)
        .map_err(|e| format_error(format!("not UTF-8 text ({e})")))?
        .trim();
    let expected = "expected accounts: a JSON array, an accounts.search response with `results`, \
                    or one account object per line";
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(accounts)) => Ok(accounts),
        Ok(Value::Object(mut object)) => match object.remove("results") {
            Some(Value::Array(accounts)) => Ok(accounts),
            Some(_) => Err(format_error("`results` is not an array")),
            None if object.contains_key("UID") => Ok(vec![Value::Object(object)]),
            None => Err(format_error(expected)),
        },
        Ok(_) => Err(format_error(expected)),
        Err(error) if text.starts_with('[') || !text.contains('\n') => {
            Err(format_error(format!("not JSON ({error})")))
        }
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str::<Value>(line)
                    .map_err(|e| format_error(format!("line {}: not JSON ({e})", n + 1)))
            })
            .collect(),
    }
}

/// One account as an import user, or `None` (reported) when it cannot be imported.
fn convert_account(
    account: &Map<String, Value>,
    index: usize,
    report: &mut Vec<Unmapped>,
) -> Option<Map<String, Value>> {
    let uid = str_field(account, "UID");
    let record = uid.map_or_else(|| format!("#{}", index + 1), str::to_owned);
    let no_profile = Map::new();
    let profile = account
        .get("profile")
        .and_then(Value::as_object)
        .unwrap_or(&no_profile);
    let emails = account.get("emails").and_then(Value::as_object);
    let verified = strings(emails, "verified");
    let unverified = strings(emails, "unverified");

    let email = str_field(profile, "email")
        .or_else(|| verified.first().copied())
        .or_else(|| unverified.first().copied());
    let Some(email) = email else {
        report.push(Unmapped::new(
            &record,
            "profile.email",
            "no email address; the import requires one, so the account was skipped",
        ));
        return None;
    };
    if !looks_like_email(email) {
        report.push(Unmapped::new(
            &record,
            "profile.email",
            "not an email address; the account was skipped",
        ));
        return None;
    }
    let email_verified = if verified.iter().any(|v| v.eq_ignore_ascii_case(email)) {
        true
    } else if unverified.iter().any(|v| v.eq_ignore_ascii_case(email)) {
        false
    } else {
        account
            .get("isVerified")
            .and_then(Value::as_bool)
            .unwrap_or(false)
    };

    let mut user = Map::new();
    user.insert("email".to_owned(), Value::from(email));
    user.insert("email_verified".to_owned(), Value::Bool(email_verified));
    if let Some(uid) = uid {
        user.insert("user_id".to_owned(), Value::from(uid));
    }

    // Profile fields with a counterpart are taken out; the rest go to user_metadata.
    let mut rest = profile.clone();
    rest.remove("email");
    let given = take_string(&mut rest, "firstName");
    let family = take_string(&mut rest, "lastName");
    let name = full_name(given.as_deref(), family.as_deref());
    let username = take_string(&mut rest, "username").or_else(|| {
        account
            .get("loginIDs")
            .and_then(Value::as_object)
            .and_then(|ids| str_field(ids, "username"))
            .map(str::to_owned)
    });
    insert_string(&mut user, "username", username);
    insert_string(&mut user, "given_name", given);
    insert_string(&mut user, "family_name", family);
    insert_string(&mut user, "name", name);
    insert_string(&mut user, "nickname", take_string(&mut rest, "nickname"));
    insert_string(&mut user, "picture", take_string(&mut rest, "photoURL"));

    let phones: Vec<Option<String>> = rest
        .get("phones")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|p| p.get("number").and_then(Value::as_str).and_then(e164))
                .collect()
        })
        .unwrap_or_default();
    if let Some(number) = phones.iter().flatten().next() {
        user.insert("phone_number".to_owned(), Value::from(number.as_str()));
        if phones.len() == 1 {
            rest.remove("phones");
        }
    }

    if account.get("isActive").and_then(Value::as_bool) == Some(false) {
        user.insert("blocked".to_owned(), Value::Bool(true));
    }

    let user_metadata = metadata(&record, "profile", &rest, &[], report);
    if !user_metadata.is_empty() {
        user.insert("user_metadata".to_owned(), Value::Object(user_metadata));
    }
    if let Some(data) = account.get("data").and_then(Value::as_object) {
        let app_metadata = metadata(&record, "data", data, RESERVED_APP_METADATA, report);
        if !app_metadata.is_empty() {
            user.insert("app_metadata".to_owned(), Value::Object(app_metadata));
        }
    }

    if let Some(password) = account.get("password").and_then(Value::as_object) {
        match password_hash(password) {
            Ok(None) => {}
            Ok(Some(hash)) => {
                hash.insert_into(&mut user);
                match str_field(password, "created") {
                    Some(created) if looks_like_iso(created) => {
                        user.insert("password_set_date".to_owned(), Value::from(created));
                    }
                    Some(_) => report.push(Unmapped::new(
                        &record,
                        "password.created",
                        "not an ISO 8601 date-time; dropped",
                    )),
                    None => {}
                }
            }
            Err(reason) => report.push(Unmapped::new(&record, "password", reason)),
        }
    }

    let social: Vec<&str> = account
        .get("identities")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("provider").and_then(Value::as_str))
                .filter(|provider| *provider != "site")
                .collect()
        })
        .unwrap_or_default();
    if !social.is_empty() {
        report.push(Unmapped::new(
            &record,
            "identities",
            format!(
                "social identities ({}) are not imported; the user links them again by \
                 signing in with them",
                social.join(", ")
            ),
        ));
    }

    for (key, value) in account {
        let key = key.as_str();
        let known = HANDLED.contains(&key)
            || IGNORED.contains(&key)
            || DROPPED.iter().any(|(field, _)| *field == key);
        if !known && !is_empty(value) {
            report.push(Unmapped::new(&record, key, NO_COUNTERPART));
        }
    }
    Some(user)
}

/// A password hash in one of the import's two shapes.
enum Hash {
    /// `password_hash`: a bcrypt string.
    Bcrypt(String),
    /// `custom_password_hash`.
    Custom(Value),
}

impl Hash {
    fn insert_into(self, user: &mut Map<String, Value>) {
        match self {
            Hash::Bcrypt(hash) => user.insert("password_hash".to_owned(), Value::String(hash)),
            Hash::Custom(custom) => user.insert("custom_password_hash".to_owned(), custom),
        };
    }
}

/// The account's `password` object as an import hash: `Ok(None)` when it holds no hash,
/// `Err(reason)` when the hash cannot carry over.
fn password_hash(password: &Map<String, Value>) -> Result<Option<Hash>, String> {
    let Some(hash) = str_field(password, "hash").or_else(|| str_field(password, "hashedPassword"))
    else {
        // IdentitySync can export Gigya's own `compoundHash` instead, whose layout is not
        // published.
        return if password.contains_key("compoundHash") {
            Err(
                "only password.compoundHash was exported; export `hash` and `hashSettings` \
                 instead"
                    .to_owned(),
            )
        } else {
            Ok(None)
        };
    };
    let Some(settings) = password.get("hashSettings").and_then(Value::as_object) else {
        return Err(
            "password.hashSettings is missing, so the hash's algorithm is unknown; \
                    the user must reset the password"
                .to_owned(),
        );
    };
    let algorithm = str_field(settings, "algorithm")
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rounds = positive_int(settings.get("rounds"));
    let salt = str_field(settings, "salt");
    let format = str_field(settings, "format");
    let hash = match algorithm.as_str() {
        "bcrypt" => Hash::Bcrypt(
            bcrypt(hash)
                .ok_or("bcrypt hash is not a `$2a$`, `$2b$` or `$2y$` string of 60 characters")?,
        ),
        "pbkdf2" | "pbkdf2_sha1" => Hash::Custom(pbkdf2("sha1", hash, salt, rounds)?),
        "pbkdf2_sha256" => Hash::Custom(pbkdf2("sha256", hash, salt, rounds)?),
        "pbkdf2_sha512" => Hash::Custom(pbkdf2("sha512", hash, salt, rounds)?),
        "md5" | "sha1" | "sha256" | "sha512" => {
            Hash::Custom(salted_digest(&algorithm, hash, salt, rounds, format)?)
        }
        "" => return Err("password.hashSettings.algorithm is missing".to_owned()),
        other => {
            return Err(format!(
                "hash algorithm `{other}` has no counterpart in the import; the user must \
                 reset the password"
            ));
        }
    };
    Ok(Some(hash))
}

/// PBKDF2 as the PHC string the import takes; the key length is the decoded hash's.
fn pbkdf2(
    digest: &str,
    hash: &str,
    salt: Option<&str>,
    rounds: Option<u64>,
) -> Result<Value, String> {
    let rounds = rounds.ok_or("pbkdf2 hash without hashSettings.rounds")?;
    let salt = salt
        .and_then(decode_b64)
        .ok_or("pbkdf2 hash without a base64 hashSettings.salt")?;
    let hash = decode_b64(hash)
        .filter(|h| !h.is_empty())
        .ok_or("pbkdf2 hash is not base64")?;
    let length = hash.len();
    let salt = STANDARD_NO_PAD.encode(salt);
    let hash = STANDARD_NO_PAD.encode(hash);
    let phc = format!("$pbkdf2-{digest}$i={rounds},l={length}${salt}${hash}");
    Ok(json!({ "algorithm": "pbkdf2", "hash": { "value": phc, "encoding": "utf8" } }))
}

/// One round of md5/sha1/sha256/sha512, the salt (if any) placed by `hashSettings.format`.
fn salted_digest(
    algorithm: &str,
    hash: &str,
    salt: Option<&str>,
    rounds: Option<u64>,
    format: Option<&str>,
) -> Result<Value, String> {
    if let Some(rounds) = rounds.filter(|r| *r > 1) {
        return Err(format!(
            "{algorithm} applied {rounds} times; the import's {algorithm} is a single round"
        ));
    }
    let (value, encoding) = digest_value(algorithm, hash).ok_or_else(|| {
        format!("{algorithm} hash is neither hex nor base64 of a {algorithm} digest")
    })?;
    let mut custom = Map::new();
    custom.insert("algorithm".to_owned(), Value::from(algorithm));
    custom.insert(
        "hash".to_owned(),
        json!({ "value": value, "encoding": encoding }),
    );
    if let Some(salt) = salt {
        let position = match format.map(|f| f.replace(char::is_whitespace, "")) {
            Some(f) if f == "$password$salt" => "suffix",
            Some(f) if f == "$salt$password" => "prefix",
            Some(f) => {
                return Err(format!(
                    "hash format `{f}` has no counterpart; the import takes only \
                     `$salt$password` or `$password$salt`"
                ));
            }
            None => {
                return Err(format!(
                    "salted {algorithm} hash without hashSettings.format, so where the salt \
                     goes is unknown"
                ));
            }
        };
        if decode_b64(salt).is_none() {
            return Err("hashSettings.salt is not base64".to_owned());
        }
        custom.insert(
            "salt".to_owned(),
            json!({ "value": salt, "encoding": "base64", "position": position }),
        );
    }
    Ok(Value::Object(custom))
}

/// A digest as the import takes it: lower-case hex, or standard padded base64.
fn digest_value(algorithm: &str, hash: &str) -> Option<(String, &'static str)> {
    let length = match algorithm {
        "md5" => 16,
        "sha1" => 20,
        "sha256" => 32,
        "sha512" => 64,
        _ => return None,
    };
    if hash.len() == 2 * length && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some((hash.to_ascii_lowercase(), "hex"));
    }
    let bytes = decode_b64(hash)?;
    (bytes.len() == length).then(|| (STANDARD.encode(bytes), "base64"))
}

/// A bcrypt hash as `password_hash` takes it: `$2a$` or `$2b$`, a cost from 04 to 31 and 53
/// characters of salt and hash. `$2y$` (PHP's name for the same algorithm) becomes `$2b$`.
fn bcrypt(hash: &str) -> Option<String> {
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

/// Copies `source` into a metadata object under the import's naming rules; what breaks them is
/// reported as `field.key` and left out. Empty values are left out silently.
fn metadata(
    record: &str,
    field: &str,
    source: &Map<String, Value>,
    reserved: &[&str],
    report: &mut Vec<Unmapped>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in source {
        if is_empty(value) {
            continue;
        }
        let path = format!("{field}.{key}");
        if reserved.contains(&key.as_str()) {
            report.push(Unmapped::new(
                record,
                path,
                "a name app_metadata may not use; dropped",
            ));
        } else if has_bad_name(key, value) {
            report.push(Unmapped::new(
                record,
                path,
                "metadata field names may not contain `.` or `$`; dropped",
            ));
        } else {
            out.insert(key.clone(), value.clone());
        }
    }
    out
}

/// Whether `key`, or any name nested in `value`, contains `.` or `$`.
fn has_bad_name(key: &str, value: &Value) -> bool {
    key.contains(['.', '$'])
        || match value {
            Value::Object(map) => map.iter().any(|(k, v)| has_bad_name(k, v)),
            Value::Array(items) => items.iter().any(|v| has_bad_name("", v)),
            _ => false,
        }
}

/// Null, `""`, `[]` and `{}`: nothing worth carrying or reporting.
fn is_empty(value: &Value) -> bool {
    match value {
        Value::Null => true,
        Value::String(s) => s.trim().is_empty(),
        Value::Array(items) => items.is_empty(),
        Value::Object(map) => map.is_empty(),
        Value::Bool(_) | Value::Number(_) => false,
    }
}

/// A trimmed, non-empty string field.
fn str_field<'a>(map: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    map.get(key)
        .and_then(Value::as_str)
        .map(str::trim)
        .filter(|s| !s.is_empty())
}

/// Removes and returns a string field; values of other types stay where they are.
fn take_string(map: &mut Map<String, Value>, key: &str) -> Option<String> {
    let text = map.get(key)?.as_str()?.trim().to_owned();
    map.remove(key);
    (!text.is_empty()).then_some(text)
}

fn insert_string(user: &mut Map<String, Value>, key: &str, value: Option<String>) {
    if let Some(value) = value {
        user.insert(key.to_owned(), Value::String(value));
    }
}

/// The strings in the array `map[key]`.
fn strings<'a>(map: Option<&'a Map<String, Value>>, key: &str) -> Vec<&'a str> {
    map.and_then(|m| m.get(key))
        .and_then(Value::as_array)
        .map(|items| items.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// A positive integer given as a JSON number or a numeric string.
fn positive_int(value: Option<&Value>) -> Option<u64> {
    let number = match value? {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    };
    number.filter(|n| *n > 0)
}

fn full_name(given: Option<&str>, family: Option<&str>) -> Option<String> {
    match (given, family) {
        (Some(given), Some(family)) => Some(format!("{given} {family}")),
        (Some(one), None) | (None, Some(one)) => Some(one.to_owned()),
        (None, None) => None,
    }
}

fn looks_like_email(text: &str) -> bool {
    match text.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty() && !domain.is_empty() && !text.contains(char::is_whitespace)
        }
        None => false,
    }
}

/// `YYYY-MM-DDTHH:MM:SS...`, as Gigya writes its ISO 8601 times.
fn looks_like_iso(text: &str) -> bool {
    let b = text.as_bytes();
    b.len() >= 20
        && b[..4].iter().all(u8::is_ascii_digit)
        && b[4] == b'-'
        && b[7] == b'-'
        && b[10] == b'T'
}

/// A phone number in E.164 form once spaces, dashes, dots and brackets are taken out.
fn e164(raw: &str) -> Option<String> {
    let compact: String = raw
        .chars()
        .filter(|c| !matches!(c, ' ' | '-' | '.' | '(' | ')'))
        .collect();
    let digits = compact.strip_prefix('+')?;
    let valid = (1..=15).contains(&digits.len())
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    valid.then_some(compact)
}

/// Decodes base64 in either alphabet, padded or not.
fn decode_b64(text: &str) -> Option<Vec<u8>> {
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
