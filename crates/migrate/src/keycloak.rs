//! Keycloak realm exports to Auth0 bulk-import users.
//!
//! Reads what `kc.sh export` writes: a realm (an object with `realm` and `users`), the
//! `<realm>-users-<n>.json` files of a split export, an array of realms, or an array of
//! users. Password and OTP credentials carry their data as JSON text in `secretData` and
//! `credentialData`. The mapping is described in `docs/migration/keycloak.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Map, Value, json};

use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

/// User fields this converter reads.
const HANDLED: &[&str] = &[
    "id",
    "username",
    "email",
    "emailVerified",
    "enabled",
    "firstName",
    "lastName",
    "attributes",
    "credentials",
    "requiredActions",
    "federatedIdentities",
    "federationLink",
    "realmRoles",
    "clientRoles",
    "groups",
    "serviceAccountClientId",
];

/// User fields left out without a report: values derived from other fields, admin-console
/// hints, and the token revocation cut-off, which means nothing to the new server.
const IGNORED: &[&str] = &[
    "totp",
    "self",
    "origin",
    "access",
    "disableableCredentialTypes",
    "notBefore",
];

/// Fields every user loses by design: reported once each, with record `*` and a count.
const DROPPED: &[(&str, &str)] = &[("createdTimestamp", "the import schema has no creation date")];

const NO_COUNTERPART: &str = "no counterpart in the import schema; dropped";

/// Converts a Keycloak realm or users export.
pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let users = read_users(input)?;
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
        if let Some(converted) = convert_user(user, index, &mut conversion.report) {
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
        system: "keycloak",
        reason: reason.into(),
    }
}

/// The user representations in `input`, whichever of the accepted shapes it has.
fn read_users(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = input.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(input);
    let value: Value =
        serde_json::from_slice(input).map_err(|e| format_error(format!("not JSON ({e})")))?;
    match value {
        Value::Object(realm) => realm_users(realm),
        Value::Array(items) => {
            let realms = !items.is_empty()
                && items
                    .iter()
                    .all(|item| item.get("realm").is_some() && item.get("username").is_none());
            if !realms {
                return Ok(items);
            }
            let mut users = Vec::new();
            for item in items {
                if let Value::Object(realm) = item {
                    users.extend(realm_users(realm)?);
                }
            }
            Ok(users)
        }
        _ => Err(format_error(
            "expected a realm export (an object with `users`) or an array of users",
        )),
    }
}

fn realm_users(mut realm: Map<String, Value>) -> Result<Vec<Value>, ConvertError> {
    match realm.remove("users") {
        Some(Value::Array(users)) => Ok(users),
        Some(_) => Err(format_error("`users` is not an array")),
        None if realm.contains_key("realm") => Err(format_error(
            "this realm file has no `users`; an export made with `--users different_files` \
             keeps them in `<realm>-users-<n>.json`, convert those files",
        )),
        None => Err(format_error(
            "expected a realm export (an object with `users`) or an array of users",
        )),
    }
}

/// One user representation as an import user, or `None` (reported) when it cannot be
/// imported.
fn convert_user(
    user: &Map<String, Value>,
    index: usize,
    report: &mut Vec<Unmapped>,
) -> Option<Map<String, Value>> {
    let id = str_field(user, "id");
    let record = id
        .or_else(|| str_field(user, "username"))
        .map_or_else(|| format!("#{}", index + 1), str::to_owned);

    if let Some(client) = str_field(user, "serviceAccountClientId") {
        report.push(Unmapped::new(
            &record,
            "serviceAccountClientId",
            format!("the service account of client `{client}`, not a person; skipped"),
        ));
        return None;
    }
    let Some(email) = str_field(user, "email") else {
        report.push(Unmapped::new(
            &record,
            "email",
            "no email address; the import requires one, so the user was skipped",
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
    // Realms that log in by email keep the address as the username too; it adds nothing.
    if let Some(username) = str_field(user, "username").filter(|u| !u.eq_ignore_ascii_case(email)) {
        out.insert("username".to_owned(), Value::from(username));
    }
    let given = str_field(user, "firstName");
    let family = str_field(user, "lastName");
    if let Some(given) = given {
        out.insert("given_name".to_owned(), Value::from(given));
    }
    if let Some(family) = family {
        out.insert("family_name".to_owned(), Value::from(family));
    }
    if let Some(name) = full_name(given, family) {
        out.insert("name".to_owned(), Value::String(name));
    }
    if user.get("enabled").and_then(Value::as_bool) == Some(false) {
        out.insert("blocked".to_owned(), Value::Bool(true));
    }

    if let Some(attributes) = user.get("attributes").and_then(Value::as_object) {
        let user_metadata = metadata(&record, "attributes.", attributes, report);
        if !user_metadata.is_empty() {
            out.insert("user_metadata".to_owned(), Value::Object(user_metadata));
        }
    }
    let mut access = Map::new();
    for key in ["realmRoles", "clientRoles", "groups"] {
        if let Some(value) = user.get(key) {
            access.insert(key.to_owned(), value.clone());
        }
    }
    let app_metadata = metadata(&record, "", &access, report);
    if !app_metadata.is_empty() {
        out.insert("app_metadata".to_owned(), Value::Object(app_metadata));
    }

    convert_credentials(user, &record, &mut out, report);

    for action in strings(user.get("requiredActions")) {
        report.push(Unmapped::new(
            &record,
            "requiredActions",
            format!("pending required action {action} has no counterpart; dropped"),
        ));
    }
    let brokers: Vec<&str> = user
        .get("federatedIdentities")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .filter_map(|i| i.get("identityProvider").and_then(Value::as_str))
                .collect()
        })
        .unwrap_or_default();
    if !brokers.is_empty() {
        report.push(Unmapped::new(
            &record,
            "federatedIdentities",
            format!(
                "identity-provider links ({}) are not imported; the user links them again by \
                 signing in with them",
                brokers.join(", ")
            ),
        ));
    }
    if let Some(provider) = str_field(user, "federationLink") {
        report.push(Unmapped::new(
            &record,
            "federationLink",
            format!(
                "the user is stored in user federation provider `{provider}` (LDAP or \
                 Kerberos), whose password Keycloak does not hold"
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

/// The first password credential becomes the user's hash, the first usable TOTP credential
/// an authenticator enrolment; everything else is reported.
fn convert_credentials(
    user: &Map<String, Value>,
    record: &str,
    out: &mut Map<String, Value>,
    report: &mut Vec<Unmapped>,
) {
    let credentials = user
        .get("credentials")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default();
    let mut seen_password = false;
    let mut totp: Option<String> = None;
    for credential in credentials {
        let Some(credential) = credential.as_object() else {
            continue;
        };
        let kind = str_field(credential, "type").unwrap_or("(no type)");
        let field = format!("credentials[{kind}]");
        match kind {
            "password" if seen_password => report.push(Unmapped::new(
                record,
                field,
                "only the first password credential is imported; dropped",
            )),
            "password" => {
                seen_password = true;
                match password_hash(credential) {
                    Ok(Hash::Bcrypt(hash)) => {
                        out.insert("password_hash".to_owned(), Value::String(hash));
                    }
                    Ok(Hash::Custom(custom)) => {
                        out.insert("custom_password_hash".to_owned(), custom);
                    }
                    Err(reason) => {
                        report.push(Unmapped::new(record, field, reason));
                        continue;
                    }
                }
                let created = credential.get("createdDate").and_then(Value::as_i64);
                if let Some(date) = created.and_then(iso_from_millis) {
                    out.insert("password_set_date".to_owned(), Value::String(date));
                }
            }
            "otp" if totp.is_some() => report.push(Unmapped::new(
                record,
                field,
                "only one authenticator app is imported; dropped",
            )),
            "otp" => match totp_secret(credential) {
                Ok(secret) => totp = Some(secret),
                Err(reason) => report.push(Unmapped::new(record, field, reason)),
            },
            _ => report.push(Unmapped::new(record, field, NO_COUNTERPART)),
        }
    }
    if let Some(secret) = totp {
        out.insert(
            "mfa_factors".to_owned(),
            json!([{ "totp": { "secret": secret } }]),
        );
    }
}

/// A password hash in one of the import's two shapes.
enum Hash {
    /// `password_hash`: a bcrypt string.
    Bcrypt(String),
    /// `custom_password_hash`.
    Custom(Value),
}

/// A password credential as an import hash, or why it cannot carry over.
fn password_hash(credential: &Map<String, Value>) -> Result<Hash, String> {
    let secret = embedded(credential, "secretData")?;
    let data = embedded(credential, "credentialData")?;
    let value = str_field(&secret, "value").ok_or("secretData has no value")?;
    // Keycloak writes "__SALT__" for "no salt".
    let salt = str_field(&secret, "salt").filter(|s| *s != "__SALT__");
    let algorithm = str_field(&data, "algorithm").ok_or("credentialData has no algorithm")?;
    let iterations = positive_int(data.get("hashIterations"));
    let parameters = data
        .get("additionalParameters")
        .or_else(|| data.get("algorithmData"))
        .and_then(Value::as_object);
    let digest = match algorithm {
        "pbkdf2" => "sha1",
        "pbkdf2-sha256" => "sha256",
        "pbkdf2-sha512" => "sha512",
        "argon2" => return argon2(value, salt, iterations, parameters).map(Hash::Custom),
        "bcrypt" => {
            return bcrypt(value)
                .map(Hash::Bcrypt)
                .ok_or_else(|| "bcrypt hash is not a `$2a$`, `$2b$` or `$2y$` string".to_owned());
        }
        other => {
            return Err(format!(
                "hash algorithm `{other}` has no counterpart in the import; the user must \
                 reset the password"
            ));
        }
    };
    let iterations = iterations.ok_or("pbkdf2 credential without hashIterations")?;
    let salt = salt
        .and_then(decode_b64)
        .ok_or("pbkdf2 credential without a base64 salt")?;
    let hash = decode_b64(value)
        .filter(|h| !h.is_empty())
        .ok_or("pbkdf2 hash is not base64")?;
    let length = hash.len();
    let salt = STANDARD_NO_PAD.encode(salt);
    let hash = STANDARD_NO_PAD.encode(hash);
    let phc = format!("$pbkdf2-{digest}$i={iterations},l={length}${salt}${hash}");
    Ok(Hash::Custom(json!({
        "algorithm": "pbkdf2",
        "hash": { "value": phc, "encoding": "utf8" },
    })))
}

/// Keycloak's Argon2 credential as the PHC string the import takes.
fn argon2(
    value: &str,
    salt: Option<&str>,
    iterations: Option<u64>,
    parameters: Option<&Map<String, Value>>,
) -> Result<Value, String> {
    let variant = match first_parameter(parameters, "type").unwrap_or("id") {
        "id" => "argon2id",
        "i" => "argon2i",
        "d" => "argon2d",
        other => return Err(format!("Argon2 type `{other}` is unknown")),
    };
    let version = match first_parameter(parameters, "version").unwrap_or("1.3") {
        "1.3" => 19,
        "1.0" => 16,
        other => return Err(format!("Argon2 version `{other}` is unknown")),
    };
    let memory = first_parameter(parameters, "memory")
        .and_then(|m| m.parse::<u64>().ok())
        .ok_or("Argon2 credential without a memory parameter")?;
    let parallelism = first_parameter(parameters, "parallelism")
        .and_then(|p| p.parse::<u64>().ok())
        .ok_or("Argon2 credential without a parallelism parameter")?;
    let iterations = iterations.ok_or("Argon2 credential without hashIterations")?;
    let salt = salt
        .and_then(decode_b64)
        .ok_or("Argon2 credential without a base64 salt")?;
    let hash = decode_b64(value)
        .filter(|h| !h.is_empty())
        .ok_or("Argon2 hash is not base64")?;
    let salt = STANDARD_NO_PAD.encode(salt);
    let hash = STANDARD_NO_PAD.encode(hash);
    let phc =
        format!("${variant}$v={version}$m={memory},t={iterations},p={parallelism}${salt}${hash}");
    Ok(json!({ "algorithm": "argon2", "hash": { "value": phc, "encoding": "utf8" } }))
}

/// The authenticator secret of an OTP credential in unpadded base32, if the import can take
/// it: time-based, HmacSHA1, 6 digits, 30 seconds.
fn totp_secret(credential: &Map<String, Value>) -> Result<String, String> {
    let secret = embedded(credential, "secretData")?;
    let data = embedded(credential, "credentialData")?;
    let sub_type = str_field(&data, "subType").unwrap_or("totp");
    if sub_type != "totp" {
        return Err(format!(
            "{sub_type} authenticators have no counterpart (the import takes time-based ones); \
             the user enrols again"
        ));
    }
    let digits = positive_int(data.get("digits")).unwrap_or(6);
    let period = positive_int(data.get("period")).unwrap_or(30);
    let algorithm = str_field(&data, "algorithm").unwrap_or("HmacSHA1");
    if digits != 6 || period != 30 || !algorithm.eq_ignore_ascii_case("HmacSHA1") {
        return Err(format!(
            "TOTP with {algorithm}, {digits} digits every {period} s; the import's \
             authenticators use HmacSHA1, 6 digits every 30 s, so the user enrols again"
        ));
    }
    let value = secret
        .get("value")
        .and_then(Value::as_str)
        .filter(|v| !v.is_empty())
        .ok_or("secretData has no value")?;
    match str_field(&data, "secretEncoding") {
        // The secret's UTF-8 bytes are the key.
        None => Ok(base32(value.as_bytes())),
        Some(encoding) if encoding.eq_ignore_ascii_case("BASE32") => {
            let secret: String = value
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '=')
                .map(|c| c.to_ascii_uppercase())
                .collect();
            let valid = !secret.is_empty()
                && secret
                    .bytes()
                    .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b));
            if valid {
                Ok(secret)
            } else {
                Err("BASE32 secret has characters outside A-Z and 2-7".to_owned())
            }
        }
        Some(other) => Err(format!("secret encoding `{other}` is unknown")),
    }
}

/// `secretData` or `credentialData`: JSON text in an export (an object is taken too).
fn embedded(credential: &Map<String, Value>, key: &str) -> Result<Map<String, Value>, String> {
    match credential.get(key) {
        Some(Value::String(text)) => match serde_json::from_str::<Value>(text) {
            Ok(Value::Object(map)) => Ok(map),
            _ => Err(format!("{key} is not a JSON object")),
        },
        Some(Value::Object(map)) => Ok(map.clone()),
        _ => Err(format!("{key} is missing")),
    }
}

/// The first value of an algorithm parameter (Keycloak keeps a list of strings per name).
fn first_parameter<'a>(parameters: Option<&'a Map<String, Value>>, key: &str) -> Option<&'a str> {
    match parameters?.get(key)? {
        Value::Array(items) => items.first()?.as_str(),
        Value::String(text) => Some(text.as_str()),
        _ => None,
    }
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

/// Copies `source` into a metadata object; names holding `.` or `$` (at any depth), which the
/// import refuses, are reported as `prefix` + name and left out, as are empty values (silently).
fn metadata(
    record: &str,
    prefix: &str,
    source: &Map<String, Value>,
    report: &mut Vec<Unmapped>,
) -> Map<String, Value> {
    let mut out = Map::new();
    for (key, value) in source {
        if is_empty(value) {
            continue;
        }
        if has_bad_name(key, value) {
            report.push(Unmapped::new(
                record,
                format!("{prefix}{key}"),
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

/// The strings in a JSON array.
fn strings(value: Option<&Value>) -> Vec<&str> {
    value
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

/// RFC 4648 base32, upper case, without padding (the form authenticator apps and the import
/// take).
fn base32(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 32] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
    let mut out = String::with_capacity(bytes.len().div_ceil(5) * 8);
    let mut buffer: u32 = 0;
    let mut bits: u32 = 0;
    for &byte in bytes {
        buffer = (buffer << 8) | u32::from(byte);
        bits += 8;
        while bits >= 5 {
            bits -= 5;
            out.push(char::from(ALPHABET[((buffer >> bits) & 31) as usize]));
        }
        buffer &= (1 << bits) - 1;
    }
    if bits > 0 {
        out.push(char::from(ALPHABET[((buffer << (5 - bits)) & 31) as usize]));
    }
    out
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
