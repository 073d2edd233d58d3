//! Gigya (SAP Customer Data Cloud) account exports to Auth0 bulk-import users.
//!
//! Reads account objects as `accounts.search`, `accounts.getAccountInfo` and IdentitySync give
//! them: a JSON array, a search response with `results`, a single account, or one account per
//! line (NDJSON). Each account names its own password hash in `password.hashSettings`. The
//! mapping is described in `docs/migration/gigya.md`.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::Value;

use crate::common::{self, Fields, Hash, Metadata, Object, Salt};
use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

const SOURCE: &str = "gigya";

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

const FIELDS: Fields = Fields {
    handled: HANDLED,
    ignored: IGNORED,
    dropped: DROPPED,
};

/// Converts a Gigya accounts export.
pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let accounts = read_accounts(input)?;
    Ok(common::convert_objects(&accounts, &FIELDS, convert_account))
}

/// The accounts in `input`, whichever of the accepted shapes it has.
fn read_accounts(input: &[u8]) -> Result<Vec<Value>, ConvertError> {
    let input = common::without_bom(input);
    let text = std::str::from_utf8(input)
        .map_err(|e| common::format_error(SOURCE, format!("not UTF-8 text ({e})")))?
        .trim();
    let expected = "expected accounts: a JSON array, an accounts.search response with `results`, \
                    or one account object per line";
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Array(accounts)) => Ok(accounts),
        Ok(Value::Object(mut object)) => match object.remove("results") {
            Some(Value::Array(accounts)) => Ok(accounts),
            Some(_) => Err(common::format_error(SOURCE, "`results` is not an array")),
            None if object.contains_key("UID") => Ok(vec![Value::Object(object)]),
            None => Err(common::format_error(SOURCE, expected)),
        },
        Ok(_) => Err(common::format_error(SOURCE, expected)),
        Err(error) if text.starts_with('[') || !text.contains('\n') => {
            Err(common::format_error(SOURCE, format!("not JSON ({error})")))
        }
        Err(_) => text
            .lines()
            .enumerate()
            .filter(|(_, line)| !line.trim().is_empty())
            .map(|(n, line)| {
                serde_json::from_str::<Value>(line).map_err(|e| {
                    common::format_error(SOURCE, format!("line {}: not JSON ({e})", n + 1))
                })
            })
            .collect(),
    }
}

/// One account as an import user, or `None` (reported) when it cannot be imported.
fn convert_account(account: &Object, index: usize, report: &mut Vec<Unmapped>) -> Option<Object> {
    let uid = common::text(account.get("UID"));
    let record = common::label(uid, index);
    let no_profile = Object::new();
    let profile = account
        .get("profile")
        .and_then(Value::as_object)
        .unwrap_or(&no_profile);
    let emails = account.get("emails").and_then(Value::as_object);
    let verified = common::strings(emails.and_then(|emails| emails.get("verified")));
    let unverified = common::strings(emails.and_then(|emails| emails.get("unverified")));

    let email = common::text(profile.get("email"))
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
    if !common::looks_like_email(email) {
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

    let mut user = Object::new();
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
    let name = common::full_name(given.as_deref(), family.as_deref());
    let username = take_string(&mut rest, "username").or_else(|| {
        account
            .get("loginIDs")
            .and_then(Value::as_object)
            .and_then(|ids| common::text(ids.get("username")))
            .map(str::to_owned)
    });
    common::set(&mut user, "username", username);
    common::set(&mut user, "given_name", given);
    common::set(&mut user, "family_name", family);
    common::set(&mut user, "name", name);
    common::set(&mut user, "nickname", take_string(&mut rest, "nickname"));
    common::set(&mut user, "picture", take_string(&mut rest, "photoURL"));

    let phones: Vec<Option<String>> = rest
        .get("phones")
        .and_then(Value::as_array)
        .map(|items| {
            items
                .iter()
                .map(|p| {
                    p.get("number")
                        .and_then(Value::as_str)
                        .and_then(common::e164)
                })
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

    let user_metadata = common::metadata_entries(
        &record,
        report,
        &rest,
        Metadata::User,
        "profile.",
        common::is_empty,
    );
    if !user_metadata.is_empty() {
        user.insert("user_metadata".to_owned(), Value::Object(user_metadata));
    }
    if let Some(data) = account.get("data").and_then(Value::as_object) {
        let app_metadata = common::metadata_entries(
            &record,
            report,
            data,
            Metadata::App,
            "data.",
            common::is_empty,
        );
        if !app_metadata.is_empty() {
            user.insert("app_metadata".to_owned(), Value::Object(app_metadata));
        }
    }

    if let Some(password) = account.get("password").and_then(Value::as_object) {
        match password_hash(password) {
            Ok(None) => {}
            Ok(Some(hash)) => {
                hash.insert_into(&mut user);
                match common::text(password.get("created")) {
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

    FIELDS.report_unknown(&record, account, report);
    Some(user)
}

/// The account's `password` object as an import hash: `Ok(None)` when it holds no hash,
/// `Err(reason)` when the hash cannot carry over.
fn password_hash(password: &Object) -> Result<Option<Hash>, String> {
    let Some(hash) =
        common::text(password.get("hash")).or_else(|| common::text(password.get("hashedPassword")))
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
    let algorithm = common::text(settings.get("algorithm"))
        .unwrap_or_default()
        .to_ascii_lowercase();
    let rounds = common::positive_int(settings.get("rounds"));
    let salt = common::text(settings.get("salt"));
    let format = common::text(settings.get("format"));
    let hash = match algorithm.as_str() {
        "bcrypt" => Hash::Bcrypt(
            common::bcrypt(hash)
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
        .and_then(common::any_base64_bytes)
        .ok_or("pbkdf2 hash without a base64 hashSettings.salt")?;
    let hash = common::any_base64_bytes(hash)
        .filter(|h| !h.is_empty())
        .ok_or("pbkdf2 hash is not base64")?;
    let phc = common::pbkdf2_phc(digest, rounds, &salt, &hash);
    Ok(common::encoded_hash("pbkdf2", &phc))
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
    let salt = match salt {
        None => None,
        Some(salt) => {
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
            if common::any_base64_bytes(salt).is_none() {
                return Err("hashSettings.salt is not base64".to_owned());
            }
            Some(Salt {
                value: salt,
                encoding: "base64",
                position,
            })
        }
    };
    Ok(common::digest_hash(algorithm, &value, encoding, salt))
}

/// A digest as the import takes it: lower-case hex, or standard padded base64.
fn digest_value(algorithm: &str, hash: &str) -> Option<(String, &'static str)> {
    let length = common::digest_length(algorithm)?;
    if hash.len() == 2 * length && hash.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Some((hash.to_ascii_lowercase(), "hex"));
    }
    let bytes = common::any_base64_bytes(hash)?;
    (bytes.len() == length).then(|| (STANDARD.encode(bytes), "base64"))
}

/// Removes and returns a string field; values of other types stay where they are.
fn take_string(map: &mut Object, key: &str) -> Option<String> {
    let text = map.get(key)?.as_str()?.trim().to_owned();
    map.remove(key);
    (!text.is_empty()).then_some(text)
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
