//! Okta → Gatehouse: users from Okta's Users API (`GET /api/v1/users`, one JSON array per page;
//! pages may be concatenated). Okta never returns password hashes; a user object that carries
//! one in Okta's import shape (`credentials.password.hash`) has it converted. See
//! `docs/migration/okta.md`.

use serde_json::Value;

use crate::common::{self, Dropped, Hash, Metadata, Object, Record, Salt};
use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

const SOURCE: &str = "okta";

/// Default profile attributes that belong to the user (address, contact, preferences): they go
/// to `user_metadata`. Every other attribute left over, custom ones included, goes to
/// `app_metadata`, which users cannot edit.
const USER_ATTRIBUTES: [&str; 15] = [
    "secondEmail",
    "middleName",
    "honorificPrefix",
    "honorificSuffix",
    "profileUrl",
    "primaryPhone",
    "streetAddress",
    "city",
    "state",
    "zipCode",
    "countryCode",
    "postalAddress",
    "preferredLanguage",
    "locale",
    "timezone",
];

const HASH_FIELD: &str = "credentials.password.hash";

pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    common::convert_records(input, SOURCE, convert_user)
}

fn convert_user(
    mut input: Object,
    index: usize,
    dropped: &mut Dropped,
    report: &mut Vec<Unmapped>,
) -> Option<Object> {
    let profile = match input.remove("profile") {
        Some(Value::Object(profile)) => profile,
        _ => Object::new(),
    };
    let credentials = match input.remove("credentials") {
        Some(Value::Object(credentials)) => credentials,
        _ => Object::new(),
    };
    let id = common::text(input.get("id")).map(str::to_owned);
    let name = common::label(
        id.as_deref().or_else(|| common::text(profile.get("login"))),
        index,
    );
    let mut rec = Record::new(name, report);

    let provider = credentials
        .get("provider")
        .and_then(|provider| common::text(provider.get("type")))
        .map(str::to_owned);
    if let Some(kind) = provider.as_deref()
        && (kind == "FEDERATION" || kind == "SOCIAL")
    {
        rec.note(
            "credentials.provider.type",
            format!(
                "signs in through an identity provider ({kind}); skipped (set that provider up \
                 as a connection and the user comes back through it)"
            ),
        );
        return None;
    }

    let Some(email) = rec.string(profile.get("email"), "profile.email") else {
        rec.note(
            "profile.email",
            "no email; user skipped (the import requires one)",
        );
        return None;
    };
    let mut user = Object::new();
    user.insert("email".to_owned(), Value::String(email.clone()));
    common::set(&mut user, "user_id", id);

    if let Some(status) = rec.string(input.get("status"), "status") {
        match status_flags(&status) {
            Some((blocked, verified)) => {
                user.insert("blocked".to_owned(), Value::Bool(blocked));
                user.insert("email_verified".to_owned(), Value::Bool(verified));
            }
            None => rec.note(
                "status",
                format!("unknown status {status}; blocked and email_verified left unset"),
            ),
        }
    }

    let mut user_metadata = Object::new();
    let mut app_metadata = Object::new();
    let (mut first, mut last, mut display) = (None, None, None);
    for (key, value) in profile {
        if value.is_null() {
            continue;
        }
        let field = format!("profile.{key}");
        match key.as_str() {
            "email" => {}
            "login" => {
                if let Some(login) = rec.string(Some(&value), &field)
                    && !login.eq_ignore_ascii_case(&email)
                {
                    user.insert("username".to_owned(), Value::String(login));
                }
            }
            "firstName" => first = rec.string(Some(&value), &field),
            "lastName" => last = rec.string(Some(&value), &field),
            "displayName" => display = rec.string(Some(&value), &field),
            "nickName" => {
                let nickname = rec.string(Some(&value), &field);
                common::set(&mut user, "nickname", nickname);
            }
            "mobilePhone" => match rec.string(Some(&value), &field) {
                Some(phone) if common::is_e164(&phone) => {
                    user.insert("phone_number".to_owned(), Value::String(phone));
                }
                Some(_) => {
                    rec.put_metadata(&mut user_metadata, Metadata::User, &key, value, &field);
                }
                None => {}
            },
            name if USER_ATTRIBUTES.contains(&name) => {
                rec.put_metadata(&mut user_metadata, Metadata::User, name, value, &field);
            }
            name => rec.put_metadata(&mut app_metadata, Metadata::App, name, value, &field),
        }
    }
    let full_name = display.or_else(|| common::full_name(first.as_deref(), last.as_deref()));
    common::set(&mut user, "given_name", first);
    common::set(&mut user, "family_name", last);
    common::set(&mut user, "name", full_name);
    if !user_metadata.is_empty() {
        user.insert("user_metadata".to_owned(), Value::Object(user_metadata));
    }
    if !app_metadata.is_empty() {
        user.insert("app_metadata".to_owned(), Value::Object(app_metadata));
    }

    let carried = password(&mut rec, &credentials, provider.as_deref(), &mut user);
    for key in credentials.keys() {
        if key != "password" && key != "provider" {
            dropped.add(&format!("credentials.{key}"), credential_reason(key));
        }
    }
    for (key, value) in input {
        if value.is_null() || key == "id" || key == "status" {
            continue;
        }
        if key == "passwordChanged" && carried {
            let date = rec.string(Some(&value), &key);
            common::set(&mut user, "password_set_date", date);
            continue;
        }
        dropped.add(&key, top_level_reason(&key));
    }
    Some(user)
}

/// `(blocked, email_verified)` for an Okta user status. Users who got past activation
/// (`ACTIVE` and the states only an activated user reaches) count as verified; `STAGED` and
/// `PROVISIONED` users never activated; a `DEPROVISIONED` user may never have.
fn status_flags(status: &str) -> Option<(bool, bool)> {
    match status {
        "ACTIVE" | "RECOVERY" | "PASSWORD_EXPIRED" | "LOCKED_OUT" => Some((false, true)),
        "SUSPENDED" => Some((true, true)),
        "DEPROVISIONED" => Some((true, false)),
        "STAGED" | "PROVISIONED" => Some((false, false)),
        _ => None,
    }
}

fn top_level_reason(field: &str) -> &'static str {
    match field {
        "created" | "activated" | "statusChanged" | "lastLogin" | "lastUpdated" => {
            "kept by the server itself; not importable"
        }
        "passwordChanged" => "carried only with a password hash",
        "type" => "Okta user types have no counterpart",
        "_links" | "_embedded" => "API links, not user data",
        _ => "not in the import schema",
    }
}

fn credential_reason(field: &str) -> &'static str {
    match field {
        "recovery_question" => "recovery questions do not carry over",
        _ => "not in the import schema",
    }
}

/// Converts the user's password if the object carries a hash; true if it did. Reports why not
/// otherwise.
fn password(
    rec: &mut Record<'_>,
    credentials: &Object,
    provider: Option<&str>,
    user: &mut Object,
) -> bool {
    if let Some(kind) = provider
        && (kind == "ACTIVE_DIRECTORY" || kind == "LDAP")
    {
        rec.note(
            "credentials.provider.type",
            format!(
                "the password is checked by {kind} (delegated authentication), so Okta holds \
                 none; the user sets a new password"
            ),
        );
        return false;
    }
    let stored = credentials.get("password").and_then(Value::as_object);
    if let Some(hash) = stored
        .and_then(|stored| stored.get("hash"))
        .and_then(Value::as_object)
    {
        return import_hash(rec, hash, user);
    }
    if stored.is_some_and(|stored| stored.contains_key("hook")) {
        rec.note(
            "credentials.password.hook",
            "the password sits behind a password-import inline hook, so Okta holds no hash; \
             the user sets a new password",
        );
    } else {
        rec.note(
            "credentials.password",
            "Okta does not export password hashes; the user sets a new password",
        );
    }
    false
}

/// Okta's import shape (`algorithm`, `value`, `salt`, `saltOrder`, `workFactor`,
/// `digestAlgorithm`, `iterationCount`, `keySize`) to `password_hash` or
/// `custom_password_hash`.
fn import_hash(rec: &mut Record<'_>, hash: &Object, user: &mut Object) -> bool {
    let algorithm = common::text(hash.get("algorithm")).unwrap_or("(none)");
    let value = common::text(hash.get("value"));
    let salt = common::text(hash.get("salt"));
    let converted = match algorithm {
        "BCRYPT" => bcrypt(hash, salt, value),
        "PBKDF2" => pbkdf2(hash, salt, value),
        other => match common::digest_algorithm(other) {
            Some(digest) => salted_digest(hash, digest, salt, value),
            None => Err(format!("algorithm {other} is not one the import takes")),
        },
    };
    rec.password(HASH_FIELD, converted, user)
}

/// `$2a$<workFactor>$<salt><value>`: Okta keeps bcrypt's 22-character salt and 31-character
/// hash apart.
fn bcrypt(hash: &Object, salt: Option<&str>, value: Option<&str>) -> Result<Hash, String> {
    let cost = hash.get("workFactor").and_then(Value::as_u64);
    let (Some(cost), Some(salt), Some(value)) = (cost, salt, value) else {
        return Err("BCRYPT needs workFactor, salt and value".to_owned());
    };
    let joined = format!("$2a${cost:02}${salt}{value}");
    match common::bcrypt(&joined) {
        Some(joined) if salt.len() == 22 && value.len() == 31 => Ok(Hash::Bcrypt(joined)),
        _ => Err(
            "not a well-formed bcrypt hash (workFactor 4-31, 22-character salt, 31-character \
             value)"
                .to_owned(),
        ),
    }
}

/// One round of MD5 or SHA-*, over salt + password (`PREFIX`) or password + salt (`POSTFIX`),
/// salt and digest in base64.
fn salted_digest(
    hash: &Object,
    (algorithm, length): (&'static str, usize),
    salt: Option<&str>,
    value: Option<&str>,
) -> Result<Hash, String> {
    let Some(value) = value else {
        return Err("the hash has no value".to_owned());
    };
    if common::base64_bytes(value).map(|bytes| bytes.len()) != Some(length) {
        return Err(format!(
            "value is not a base64 {algorithm} digest ({length} bytes)"
        ));
    }
    let salt = match salt {
        None => None,
        Some(salt) => {
            if common::base64_bytes(salt).is_none() {
                return Err("salt is not base64".to_owned());
            }
            let position = match common::text(hash.get("saltOrder")) {
                Some("PREFIX") => "prefix",
                Some("POSTFIX") => "suffix",
                _ => return Err("a salted hash needs saltOrder PREFIX or POSTFIX".to_owned()),
            };
            Some(Salt {
                value: salt,
                encoding: "base64",
                position,
            })
        }
    };
    Ok(Hash::Custom(common::digest_hash(
        algorithm, value, "base64", salt,
    )))
}

/// PBKDF2-HMAC-SHA256/512 into the PHC string the import takes.
fn pbkdf2(hash: &Object, salt: Option<&str>, value: Option<&str>) -> Result<Hash, String> {
    let digest = match common::text(hash.get("digestAlgorithm")) {
        Some("SHA256_HMAC") => "sha256",
        Some("SHA512_HMAC") => "sha512",
        other => {
            let other = other.unwrap_or("(none)");
            return Err(format!(
                "PBKDF2 digestAlgorithm {other} is not SHA256_HMAC or SHA512_HMAC"
            ));
        }
    };
    let iterations = hash
        .get("iterationCount")
        .and_then(Value::as_u64)
        .ok_or("PBKDF2 needs iterationCount")?;
    let salt = salt
        .and_then(common::base64_bytes)
        .ok_or("PBKDF2 needs a base64 salt")?;
    let key = value
        .and_then(common::base64_bytes)
        .ok_or("PBKDF2 needs a base64 value")?;
    let length = key.len();
    if let Some(size) = hash.get("keySize").and_then(Value::as_u64)
        && size != length as u64
    {
        return Err(format!(
            "keySize {size} does not match the value's {length} bytes"
        ));
    }
    let phc = common::pbkdf2_phc(digest, iterations, &salt, &key);
    Ok(Hash::Custom(common::encoded_hash("pbkdf2", &phc)))
}
