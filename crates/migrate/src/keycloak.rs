//! Keycloak realm exports to Auth0 bulk-import users.
//!
//! Reads what `kc.sh export` writes: a realm (an object with `realm` and `users`), the
//! `<realm>-users-<n>.json` files of a split export, an array of realms, or an array of
//! users. Password and OTP credentials carry their data as JSON text in `secretData` and
//! `credentialData`. The mapping is described in `docs/migration/keycloak.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use serde_json::{Value, json};

use crate::common::{self, Fields, Hash, Metadata, NO_COUNTERPART, Object};
use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

const SOURCE: &str = "keycloak";

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

const FIELDS: Fields = Fields {
    handled: HANDLED,
    ignored: IGNORED,
    dropped: DROPPED,
};

/// Converts a Keycloak realm or users export.
pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let users = read_users(input)?;
    Ok(common::convert_objects(&users, &FIELDS, convert_user))
}

/// The user representations in `input`, whichever of the accepted shapes it has.
fn read_users(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = common::without_bom(input);
    let value: Value = serde_json::from_slice(input)
        .map_err(|e| common::format_error(SOURCE, format!("not JSON ({e})")))?;
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
        _ => Err(common::format_error(
            SOURCE,
            "expected a realm export (an object with `users`) or an array of users",
        )),
    }
}

fn realm_users(mut realm: Object) -> Result<Vec<Value>, ConvertError> {
    match realm.remove("users") {
        Some(Value::Array(users)) => Ok(users),
        Some(_) => Err(common::format_error(SOURCE, "`users` is not an array")),
        None if realm.contains_key("realm") => Err(common::format_error(
            SOURCE,
            "this realm file has no `users`; an export made with `--users different_files` \
             keeps them in `<realm>-users-<n>.json`, convert those files",
        )),
        None => Err(common::format_error(
            SOURCE,
            "expected a realm export (an object with `users`) or an array of users",
        )),
    }
}

/// One user representation as an import user, or `None` (reported) when it cannot be
/// imported.
fn convert_user(user: &Object, index: usize, report: &mut Vec<Unmapped>) -> Option<Object> {
    let id = common::text(user.get("id"));
    let record = common::label(id.or_else(|| common::text(user.get("username"))), index);

    if let Some(client) = common::text(user.get("serviceAccountClientId")) {
        report.push(Unmapped::new(
            &record,
            "serviceAccountClientId",
            format!("the service account of client `{client}`, not a person; skipped"),
        ));
        return None;
    }
    let Some(email) = common::text(user.get("email")) else {
        report.push(Unmapped::new(
            &record,
            "email",
            "no email address; the import requires one, so the user was skipped",
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
    // Realms that log in by email keep the address as the username too; it adds nothing.
    if let Some(username) =
        common::text(user.get("username")).filter(|u| !u.eq_ignore_ascii_case(email))
    {
        out.insert("username".to_owned(), Value::from(username));
    }
    let given = common::text(user.get("firstName"));
    let family = common::text(user.get("lastName"));
    if let Some(given) = given {
        out.insert("given_name".to_owned(), Value::from(given));
    }
    if let Some(family) = family {
        out.insert("family_name".to_owned(), Value::from(family));
    }
    if let Some(name) = common::full_name(given, family) {
        out.insert("name".to_owned(), Value::String(name));
    }
    if user.get("enabled").and_then(Value::as_bool) == Some(false) {
        out.insert("blocked".to_owned(), Value::Bool(true));
    }

    if let Some(attributes) = user.get("attributes").and_then(Value::as_object) {
        let user_metadata = common::metadata_entries(
            &record,
            report,
            attributes,
            Metadata::User,
            "attributes.",
            common::is_empty,
        );
        if !user_metadata.is_empty() {
            out.insert("user_metadata".to_owned(), Value::Object(user_metadata));
        }
    }
    let mut access = Object::new();
    for key in ["realmRoles", "clientRoles", "groups"] {
        if let Some(value) = user.get(key) {
            access.insert(key.to_owned(), value.clone());
        }
    }
    let app_metadata = common::metadata_entries(
        &record,
        report,
        &access,
        Metadata::App,
        "",
        common::is_empty,
    );
    if !app_metadata.is_empty() {
        out.insert("app_metadata".to_owned(), Value::Object(app_metadata));
    }

    convert_credentials(user, &record, &mut out, report);

    for action in common::strings(user.get("requiredActions")) {
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
    if let Some(provider) = common::text(user.get("federationLink")) {
        report.push(Unmapped::new(
            &record,
            "federationLink",
            format!(
                "the user is stored in user federation provider `{provider}` (LDAP or \
                 Kerberos), whose password Keycloak does not hold"
            ),
        ));
    }

    FIELDS.report_unknown(&record, user, report);
    Some(out)
}

/// The first password credential becomes the user's hash, the first usable TOTP credential
/// an authenticator enrolment; everything else is reported.
fn convert_credentials(user: &Object, record: &str, out: &mut Object, report: &mut Vec<Unmapped>) {
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
        let kind = common::text(credential.get("type")).unwrap_or("(no type)");
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
                    Ok(hash) => hash.insert_into(out),
                    Err(reason) => {
                        report.push(Unmapped::new(record, field, reason));
                        continue;
                    }
                }
                let created = credential.get("createdDate").and_then(Value::as_i64);
                if let Some(date) = created.and_then(common::iso_from_millis) {
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

/// A password credential as an import hash, or why it cannot carry over.
fn password_hash(credential: &Object) -> Result<Hash, String> {
    let secret = embedded(credential, "secretData")?;
    let data = embedded(credential, "credentialData")?;
    let value = common::text(secret.get("value")).ok_or("secretData has no value")?;
    // Keycloak writes "__SALT__" for "no salt".
    let salt = common::text(secret.get("salt")).filter(|s| *s != "__SALT__");
    let algorithm = common::text(data.get("algorithm")).ok_or("credentialData has no algorithm")?;
    let iterations = common::positive_int(data.get("hashIterations"));
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
            return common::bcrypt(value)
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
        .and_then(common::any_base64_bytes)
        .ok_or("pbkdf2 credential without a base64 salt")?;
    let hash = common::any_base64_bytes(value)
        .filter(|h| !h.is_empty())
        .ok_or("pbkdf2 hash is not base64")?;
    let phc = common::pbkdf2_phc(digest, iterations, &salt, &hash);
    Ok(Hash::Custom(common::encoded_hash("pbkdf2", &phc)))
}

/// Keycloak's Argon2 credential as the PHC string the import takes.
fn argon2(
    value: &str,
    salt: Option<&str>,
    iterations: Option<u64>,
    parameters: Option<&Object>,
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
        .and_then(common::any_base64_bytes)
        .ok_or("Argon2 credential without a base64 salt")?;
    let hash = common::any_base64_bytes(value)
        .filter(|h| !h.is_empty())
        .ok_or("Argon2 hash is not base64")?;
    let salt = STANDARD_NO_PAD.encode(salt);
    let hash = STANDARD_NO_PAD.encode(hash);
    let phc =
        format!("${variant}$v={version}$m={memory},t={iterations},p={parallelism}${salt}${hash}");
    Ok(common::encoded_hash("argon2", &phc))
}

/// The authenticator secret of an OTP credential in unpadded base32, if the import can take
/// it: time-based, HmacSHA1, 6 digits, 30 seconds.
fn totp_secret(credential: &Object) -> Result<String, String> {
    let secret = embedded(credential, "secretData")?;
    let data = embedded(credential, "credentialData")?;
    let sub_type = common::text(data.get("subType")).unwrap_or("totp");
    if sub_type != "totp" {
        return Err(format!(
            "{sub_type} authenticators have no counterpart (the import takes time-based ones); \
             the user enrols again"
        ));
    }
    let digits = common::positive_int(data.get("digits")).unwrap_or(6);
    let period = common::positive_int(data.get("period")).unwrap_or(30);
    let algorithm = common::text(data.get("algorithm")).unwrap_or("HmacSHA1");
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
    match common::text(data.get("secretEncoding")) {
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
fn embedded(credential: &Object, key: &str) -> Result<Object, String> {
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
fn first_parameter<'a>(parameters: Option<&'a Object>, key: &str) -> Option<&'a str> {
    match parameters?.get(key)? {
        Value::Array(items) => items.first()?.as_str(),
        Value::String(text) => Some(text.as_str()),
        _ => None,
    }
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
