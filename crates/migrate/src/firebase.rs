//! Firebase Authentication exports to Auth0 bulk-import users.
//!
//! Reads what `firebase auth:export users.json --format=json` writes: `{"users": [...]}` (a
//! bare array of the same objects is taken too). Password hashes are Firebase's modified
//! scrypt; the project's hash parameters, which are not in the export, come from
//! [`ConvertOptions::firebase`]. The mapping is described in `docs/migration/firebase.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use crate::common::{self, Fields, Metadata, Object};
use crate::{Conversion, ConvertError, ConvertOptions, FirebaseHashConfig, Unmapped};

const SOURCE: &str = "firebase";

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

const FIELDS: Fields = Fields {
    handled: HANDLED,
    ignored: IGNORED,
    dropped: DROPPED,
};

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

    Ok(common::convert_objects(
        &users,
        &FIELDS,
        |user, index, report| convert_user(user, index, parameters.as_ref(), report),
    ))
}

fn read_users(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = common::without_bom(input);
    let value: Value = serde_json::from_slice(input)
        .map_err(|e| common::format_error(SOURCE, format!("not JSON ({e})")))?;
    match value {
        Value::Object(mut export) => match export.remove("users") {
            Some(Value::Array(users)) => Ok(users),
            _ => Err(common::format_error(
                SOURCE,
                "expected an object with a `users` array",
            )),
        },
        Value::Array(users) => Ok(users),
        _ => Err(common::format_error(
            SOURCE,
            "expected an object with a `users` array",
        )),
    }
}

/// The `firebase` member of every `custom_password_hash`, from the project's parameters.
fn hash_parameters(config: &FirebaseHashConfig) -> Result<Value, ConvertError> {
    let invalid = |message: &str| ConvertError::MissingOption(message.to_owned());
    let signer_key = common::any_base64_bytes(&config.signer_key)
        .filter(|key| !key.is_empty())
        .ok_or_else(|| invalid("--firebase-signer-key must be the project's base64_signer_key"))?;
    let salt_separator = common::any_base64_bytes(&config.salt_separator).ok_or_else(|| {
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
    user: &Object,
    index: usize,
    parameters: Option<&Value>,
    report: &mut Vec<Unmapped>,
) -> Option<Object> {
    let id = common::text(user.get("localId"));
    let record = common::label(id, index);
    let Some(email) = common::text(user.get("email")) else {
        report.push(Unmapped::new(
            &record,
            "email",
            "no email address (a phone-only or anonymous account); the import requires one, \
             so the user was skipped",
        ));
        return None;
    };
    if !common::looks_like_email(email) {
        report.push(Unmapped::new(
            &record,
            "email",
            "not an email address; the user was skipped",
        ));
        return None;
    }

    let mut out = Object::new();
    out.insert("email".to_owned(), Value::from(email));
    let verified = user
        .get("emailVerified")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    out.insert("email_verified".to_owned(), Value::Bool(verified));
    if let Some(id) = id {
        out.insert("user_id".to_owned(), Value::from(id));
    }
    if let Some(name) = common::text(user.get("displayName")) {
        out.insert("name".to_owned(), Value::from(name));
    }
    if let Some(picture) = common::text(user.get("photoUrl")) {
        out.insert("picture".to_owned(), Value::from(picture));
    }
    if let Some(phone) = common::text(user.get("phoneNumber")) {
        match common::e164(phone) {
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
                let app_metadata = common::metadata_entries(
                    &record,
                    report,
                    &claims,
                    Metadata::App,
                    "customAttributes.",
                    Value::is_null,
                );
                if !app_metadata.is_empty() {
                    out.insert("app_metadata".to_owned(), Value::Object(app_metadata));
                }
            }
            Err(reason) => report.push(Unmapped::new(&record, "customAttributes", reason)),
        }
    }

    if let Some(hash) = common::text(user.get("passwordHash")) {
        let custom = match (parameters, common::text(user.get("salt"))) {
            (Some(parameters), Some(salt)) => firebase_scrypt(hash, salt, parameters),
            (_, None) => Err("passwordHash without a salt; dropped".to_owned()),
            // `convert` refuses an export with hashes but without parameters.
            (None, Some(_)) => Err(MISSING_HASH_PARAMETERS.to_owned()),
        };
        match custom {
            Ok(custom) => {
                out.insert("custom_password_hash".to_owned(), custom);
                let updated = user.get("passwordUpdatedAt").and_then(millis);
                if let Some(date) = updated.and_then(common::iso_from_millis) {
                    out.insert("password_set_date".to_owned(), Value::String(date));
                }
            }
            Err(reason) => report.push(Unmapped::new(&record, "passwordHash", reason)),
        }
    }

    if let Some(factors) = user.get("mfaInfo").and_then(Value::as_array) {
        let mut phone: Option<String> = None;
        for factor in factors {
            let reason = match factor
                .get("phoneInfo")
                .and_then(Value::as_str)
                .map(common::e164)
            {
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

    FIELDS.report_unknown(&record, user, report);
    Some(out)
}

/// Firebase's modified scrypt in Gatehouse's `firebase-scrypt` shape.
fn firebase_scrypt(hash: &str, salt: &str, parameters: &Value) -> Result<Value, String> {
    let hash = common::any_base64_bytes(hash)
        .filter(|h| !h.is_empty())
        .ok_or("passwordHash is not base64; dropped")?;
    let salt = common::any_base64_bytes(salt)
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
fn custom_claims(value: Option<&Value>) -> Option<Result<Object, String>> {
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

/// Milliseconds given as a JSON number or a numeric string (Firebase writes both).
fn millis(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}
