//! Firebase Authentication exports to Auth0 bulk-import users.
//!
//! Reads what `firebase auth:export users.json --format=json` writes: `{"users": [...]}` (a
//! bare array of the same objects is taken too). Password hashes are Firebase's modified
//! scrypt; the project's hash parameters, which are not in the export, come from
//! [`ConvertOptions::firebase`]. The mapping is described in `docs/migration/firebase.md`.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use serde_json::{Map, Value, json};

use crate::{Conversion, ConvertError, ConvertOptions, FirebaseHashConfig, Unmapped};

/// User fields this converter reads.
const HANDLED: &[&str] = &[
    "localId",
    "email",
    "emailVerified",
    "displayName",
    "photoUrl",
    "phoneNumber",
    "disabled",
    "customAttributes",
    "passwordHash",
    "salt",
    "passwordUpdatedAt",
    "mfaInfo",
    "providerUserInfo",
];

/// User fields left out without a report: the token revocation cut-off, which means nothing
/// to the new server.
const IGNORED: &[&str] = &["validSince"];

/// Fields every user loses by design: reported once each, with record `*` and a count.
const DROPPED: &[(&str, &str)] = &[
    ("createdAt", "the import schema has no creation date"),
    ("lastSignedInAt", "the import schema has no last-login date"),
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

const MISSING_HASH_PARAMETERS: &str = "this Firebase export holds password hashes; give the \
    project's password hash parameters (Firebase console > Authentication > Users > \u{22ee} > \
    Password hash parameters) with --firebase-signer-key, --firebase-salt-separator, \
    --firebase-rounds and --firebase-mem-cost";

/// Converts a Firebase Authentication export.
pub fn convert(input: &[u8], options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let users = read_users(input)?;
    let has_hashes = users.iter().any(|user| {
        user.get("passwordHash")
            .and_then(Value::as_str)
            .is_some_and(|h| !h.trim().is_empty())
    });
    let parameters = match &options.firebase {
        Some(config) => Some(hash_parameters(config)?),
        None if has_hashes => {
            return Err(ConvertError::MissingOption(
                MISSING_HASH_PARAMETERS.to_owned(),
            ));
        }
        None => None,
    };

    let mut conversion = Conversion::default();
    let mut dropped = vec![0_usize; DROPPED.len()];
    for (index, user) in users.iter().enumerate() {
        let Some(user) = user.as_object() else {
            conversion.report.push(Unmapped::new(
                format!("#{}", index + 1),
                "(record)",
                "not a JSON object; skipped",
            ));
            continue;
        };
        if let Some(converted) =
            convert_user(user, index, parameters.as_ref(), &mut conversion.report)
        {
            conversion.users.push(Value::Object(converted));
            for (count, (field, _)) in dropped.iter_mut().zip(DROPPED) {
                if user.get(*field).is_some_and(|v| !v.is_null()) {
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
        system: "firebase",
        reason: reason.into(),
    }
}

fn read_users(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let value: Value =
        serde_json::from_slice(input).map_err(|e| format_error(format!("not JSON ({e})")))?;
    match value {
        Value::Object(mut export) => match export.remove("users") {
            Some(Value::Array(users)) => Ok(users),
            _ => Err(format_error("expected an object with a `users` array")),
        },
        Value::Array(users) => Ok(users),
        _ => Err(format_error("expected an object with a `users` array")),
    }
}

/// The `firebase` member of every `custom_password_hash`, from the project's parameters.
fn hash_parameters(config: &FirebaseHashConfig) -> Result<Value, ConvertError> {
    let invalid = |message: &str| ConvertError::MissingOption(message.to_owned());
    let signer_key = decode_b64(&config.signer_key)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| invalid("--firebase-signer-key must be the project's base64_signer_key"))?;
    let salt_separator = decode_b64(&config.salt_separator).ok_or_else(|| {
        invalid("--firebase-salt-separator must be the project's base64_salt_separator")
    })?;
    if !(1..=8).contains(&config.rounds) {
        return Err(invalid("--firebase-rounds must be from 1 to 8"));
    }
    if !(1..=14).contains(&config.mem_cost) {
        return Err(invalid("--firebase-mem-cost must be from 1 to 14"));
    }
    Ok(json!({
        "signer_key": STANDARD.encode(signer_key),
        "salt_separator": STANDARD.encode(salt_separator),
        "rounds": config.rounds,
        "mem_cost": config.mem_cost,
    }))
}

/// One exported user as an import user, or `None` (reported) when it cannot be imported.
fn convert_user(
    user: &Map<String, Value>,
    index: usize,
    parameters: Option<&Value>,
    report: &mut Vec<Unmapped>,
) -> Option<Map<String, Value>> {
    let id = str_field(user, "localId");
    let record = id.map_or_else(|| format!("#{}", index + 1), str::to_owned);
    let Some(email) = str_field(user, "email") else {
        report.push(Unmapped::new(
            &record,
            "email",
            "no email address (a phone-only or anonymous account); the import requires one, \
             so the user was skipped",
        ));
        return None;
    };
    if !looks_like_email(email) {
        report.push(Unmapped::new(
            &record,
            "email",
            "not an email address; the user was skipped",
        ));
        return None;
    }

    let mut out = Map::new();
    out.insert("email".to_owned(), Value::from(email));
    let verified = user
        .get("emailVerified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    out.insert("email_verified".to_owned(), Value::Bool(verified));
    if let Some(id) = id {
        out.insert("user_id".to_owned(), Value::from(id));
    }
    if let Some(name) = str_field(user, "displayName") {
        out.insert("name".to_owned(), Value::from(name));
    }
    if let Some(picture) = str_field(user, "photoUrl") {
        out.insert("picture".to_owned(), Value::from(picture));
    }
    if let Some(phone) = str_field(user, "phoneNumber") {
        match e164(phone) {
            Some(phone) => {
                out.insert("phone_number".to_owned(), Value::String(phone));
            }
            None => report.push(Unmapped::new(
                &record,
                "phoneNumber",
                "not an E.164 phone number; dropped",
            )),
        }
    }
    if user.get("disabled").and_then(Value::as_bool) == Some(true) {
        out.insert("blocked".to_owned(), Value::Bool(true));
    }

    if let Some(claims) = custom_claims(user.get("customAttributes")) {
        match claims {
            Ok(claims) => {
                let app_metadata = metadata(&record, &claims, report);
                if !app_metadata.is_empty() {
                    out.insert("app_metadata".to_owned(), Value::Object(app_metadata));
                }
            }
            Err(reason) => report.push(Unmapped::new(&record, "customAttributes", reason)),
        }
    }

    if let Some(hash) = str_field(user, "passwordHash") {
        let custom = match (parameters, str_field(user, "salt")) {
            (Some(parameters), Some(salt)) => firebase_scrypt(hash, salt, parameters),
            (_, None) => Err("passwordHash without a salt; dropped".to_owned()),
            // `convert` refuses an export with hashes but without parameters.
            (None, Some(_)) => Err(MISSING_HASH_PARAMETERS.to_owned()),
        };
        match custom {
            Ok(custom) => {
                out.insert("custom_password_hash".to_owned(), custom);
                let updated = user.get("passwordUpdatedAt").and_then(millis);
                if let Some(date) = updated.and_then(iso_from_millis) {
                    out.insert("password_set_date".to_owned(), Value::String(date));
                }
            }
            Err(reason) => report.push(Unmapped::new(&record, "passwordHash", reason)),
        }
    }

    if let Some(factors) = user.get("mfaInfo").and_then(Value::as_array) {
        let mut phone: Option<String> = None;
        for factor in factors {
            let reason = match factor.get("phoneInfo").and_then(Value::as_str).map(e164) {
                Some(Some(number)) if phone.is_none() => {
                    phone = Some(number);
                    continue;
                }
                Some(Some(_)) => "only one SMS factor is imported; dropped",
                Some(None) => "the SMS factor's number is not E.164; the user enrols again",
                None if factor.get("totpInfo").is_some() => {
                    "Firebase does not export TOTP secrets; the user enrols again"
                }
                None => "a second factor of a kind the import does not take; the user enrols again",
            };
            report.push(Unmapped::new(&record, "mfaInfo", reason));
        }
        if let Some(number) = phone {
            out.insert(
                "mfa_factors".to_owned(),
                json!([{ "phone": { "value": number } }]),
            );
        }
    }

    let providers: Vec<&str> = user
        .get("providerUserInfo")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|p| p.get("providerId").and_then(Value::as_str))
                .filter(|p| !matches!(*p, "password" | "phone"))
                .collect()
        })
        .unwrap_or_default();
    if !providers.is_empty() {
        report.push(Unmapped::new(
            &record,
            "providerUserInfo",
            format!(
                "sign-in providers ({}) are not imported; the user links them again by \
                 signing in with them",
                providers.join(", ")
            ),
        ));
    }

    for (key, value) in user {
        let key = key.as_str();
        let known = HANDLED.contains(&key)
            || IGNORED.contains(&key)
            || DROPPED.iter().any(|(field, _)| *field == key);
        if !known && !is_empty(value) {
            report.push(Unmapped::new(&record, key, NO_COUNTERPART));
        }
    }
    Some(out)
}

/// Firebase's modified scrypt in Gatehouse's `firebase-scrypt` shape.
fn firebase_scrypt(hash: &str, salt: &str, parameters: &Value) -> Result<Value, String> {
    let hash = decode_b64(hash)
        .filter(|h| !h.is_empty())
        .ok_or("passwordHash is not base64; dropped")?;
    let salt = decode_b64(salt)
        .filter(|s| !s.is_empty())
        .ok_or("salt is not base64; dropped")?;
    Ok(json!({
        "algorithm": "firebase-scrypt",
        "hash": { "value": STANDARD.encode(hash), "encoding": "base64" },
        "salt": { "value": STANDARD.encode(salt), "encoding": "base64" },
        "firebase": parameters.clone(),
    }))
}

/// `customAttributes`, the user's custom claims as JSON text: `None` when there are none.
fn custom_claims(value: Option<&Value>) -> Option<Result<Map<String, Value>, String>> {
    let claims = match value? {
        Value::String(text) if text.trim().is_empty() => return None,
        Value::String(text) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(claims)) => claims,
            _ => return Some(Err("not a JSON object; dropped".to_owned())),
        },
        Value::Object(claims) => claims.clone(),
        Value::Null => return None,
        _ => return Some(Err("not a JSON object; dropped".to_owned())),
    };
    Some(Ok(claims))
}

/// The claims as `app_metadata`, under the import's naming rules; what breaks them is
/// reported as `customAttributes.<name>` and left out.
fn metadata(
    record: &str,
    claims: &Map<String, Value>,
    report: &mut Vec<Unmapped>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in claims {
        if value.is_null() {
            continue;
        }
        let path = format!("customAttributes.{key}");
        if RESERVED_APP_METADATA.contains(&key.as_str()) {
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

/// Milliseconds given as a JSON number or a numeric string (Firebase writes both).
fn millis(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
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

/// Milliseconds since the Unix epoch as `YYYY-MM-DDTHH:MM:SS.mmmZ`.
fn iso_from_millis(millis: i64) -> Option<String> {
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

/// Decodes base64 in either alphabet, padded or not. `auth:export` rewrites the API's
/// URL-safe base64 into the standard alphabet; an export taken straight from the API keeps
/// the URL-safe one.
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
