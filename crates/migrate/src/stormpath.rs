//! Stormpath → Gatehouse: accounts from Stormpath's tenant export, one JSON file per account
//! (`accounts/<directoryId>/<accountId>.json`), given as one object, an array, NDJSON or the
//! files concatenated. Passwords are MCF strings: bcrypt, or `$stormpath2$`. See
//! `docs/migration/stormpath.md`.

use serde_json::Value;

use crate::common::{self, Dropped, Hash, Metadata, Object, Record, Salt};
use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

const SOURCE: &str = "stormpath";

/// Keys of `customData` that describe the customData resource itself, not the user.
const CUSTOM_DATA_OWN: [&str; 4] = ["href", "createdAt", "modifiedAt", "id"];

/// Account attributes read before the leftovers are reported.
const HANDLED: [&str; 12] = [
    "id",
    "href",
    "email",
    "username",
    "givenName",
    "middleName",
    "surname",
    "fullName",
    "status",
    "emailVerificationStatus",
    "password",
    "providerData",
];

pub fn convert(input: &[u8], _options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    common::convert_records(input, SOURCE, convert_user)
}

fn convert_user(
    mut input: Object,
    index: usize,
    dropped: &mut Dropped,
    report: &mut Vec<Unmapped>,
) -> Option<Object> {
    let id = common::text(input.get("id"))
        .or_else(|| common::text(input.get("href")).and_then(last_segment))
        .map(str::to_owned);
    let name = common::label(
        id.as_deref().or_else(|| common::text(input.get("email"))),
        index,
    );
    let mut rec = Record::new(name, report);

    let provider = input
        .get("providerData")
        .and_then(|data| common::text(data.get("providerId")));
    if let Some(provider) = provider
        && provider != "stormpath"
    {
        rec.note(
            "providerData.providerId",
            format!(
                "signs in through {provider}, not a Stormpath password; skipped (set that \
                 provider up as a connection and the user comes back through it)"
            ),
        );
        return None;
    }

    let Some(email) = rec.string(input.get("email"), "email") else {
        rec.note("email", "no email; user skipped (the import requires one)");
        return None;
    };
    let mut user = Object::new();
    user.insert("email".to_owned(), Value::String(email.clone()));
    common::set(&mut user, "user_id", id);

    if let Some(username) = rec.string(input.get("username"), "username")
        && !username.eq_ignore_ascii_case(&email)
    {
        user.insert("username".to_owned(), Value::String(username));
    }
    let given = rec.string(input.get("givenName"), "givenName");
    let family = rec.string(input.get("surname"), "surname");
    let full = rec.string(input.get("fullName"), "fullName");
    let (given, family) = match (given, family, full.as_deref()) {
        (None, None, Some(full)) => common::split_name(full),
        (given, family, _) => (given, family),
    };
    common::set(&mut user, "given_name", given);
    common::set(&mut user, "family_name", family);
    common::set(&mut user, "name", full);

    let status = rec
        .string(input.get("status"), "status")
        .map(|status| status.to_ascii_uppercase());
    match status.as_deref() {
        Some("ENABLED" | "UNVERIFIED") => {
            user.insert("blocked".to_owned(), Value::Bool(false));
        }
        Some("DISABLED") => {
            user.insert("blocked".to_owned(), Value::Bool(true));
        }
        Some(other) => rec.note(
            "status",
            format!("unknown status {other}; blocked left unset"),
        ),
        None => {}
    }
    let verification = rec
        .string(
            input.get("emailVerificationStatus"),
            "emailVerificationStatus",
        )
        .map(|status| status.to_ascii_uppercase());
    let verified = match (verification.as_deref(), status.as_deref()) {
        (Some("VERIFIED"), _) => Some(true),
        (Some("UNVERIFIED"), _) => Some(false),
        // UNKNOWN (the directory had no verification step) or absent: the status decides.
        (_, Some("UNVERIFIED")) => Some(false),
        (_, Some("ENABLED" | "DISABLED")) => Some(true),
        _ => None,
    };
    common::set(&mut user, "email_verified", verified);

    let carried = match rec.string(input.get("password"), "password") {
        Some(mcf) => password(&mut rec, &mcf, &mut user),
        None => {
            rec.note(
                "password",
                "no password hash in the export; the user sets a new password",
            );
            false
        }
    };

    let mut user_metadata = Object::new();
    if let Some(middle) = rec.string(input.get("middleName"), "middleName") {
        user_metadata.insert("middleName".to_owned(), Value::String(middle));
    }
    let mut app_metadata = Object::new();
    match input.remove("customData") {
        None | Some(Value::Null) => {}
        Some(Value::Object(mut data)) => {
            for own in CUSTOM_DATA_OWN {
                data.remove(own);
            }
            rec.put_all_metadata(&mut app_metadata, Metadata::App, data, "customData");
        }
        Some(_) => rec.note("customData", "expected an object; dropped"),
    }
    match input.remove("groups") {
        None | Some(Value::Null) => {}
        Some(Value::Array(groups)) => {
            let names: Vec<Value> = groups
                .iter()
                .filter_map(group_name)
                .map(Value::String)
                .collect();
            if !names.is_empty() {
                if app_metadata.contains_key("groups") {
                    rec.note(
                        "groups",
                        "customData already has a `groups` entry; group memberships dropped",
                    );
                } else {
                    app_metadata.insert("groups".to_owned(), Value::Array(names));
                }
            }
        }
        Some(_) => dropped.add("groups", "not expanded in the export (a link, not a list)"),
    }
    if !user_metadata.is_empty() {
        user.insert("user_metadata".to_owned(), Value::Object(user_metadata));
    }
    if !app_metadata.is_empty() {
        user.insert("app_metadata".to_owned(), Value::Object(app_metadata));
    }

    for (key, value) in input {
        if value.is_null() || HANDLED.contains(&key.as_str()) {
            continue;
        }
        if key == "passwordModifiedAt" && carried {
            let date = rec.string(Some(&value), &key);
            common::set(&mut user, "password_set_date", date);
            continue;
        }
        dropped.add(&key, dropped_reason(&key));
    }
    Some(user)
}

/// The last path segment of an `href`: the resource's id.
fn last_segment(href: &str) -> Option<&str> {
    href.trim_end_matches('/')
        .rsplit('/')
        .next()
        .filter(|segment| !segment.is_empty())
}

/// A group's name: the entry itself if it is a string, else its `name`, else its id.
fn group_name(group: &Value) -> Option<String> {
    common::text(Some(group))
        .or_else(|| common::text(group.get("name")))
        .or_else(|| common::text(group.get("href")).and_then(last_segment))
        .map(str::to_owned)
}

fn dropped_reason(field: &str) -> &'static str {
    match field {
        "createdAt" | "modifiedAt" => "kept by the server itself; not importable",
        "passwordModifiedAt" => "carried only with a password hash",
        "directory" => {
            "directories become connections: import each directory's accounts into its own \
             connection"
        }
        "apiKeys" => "account API keys do not carry over",
        "emailVerificationToken" => "pending verification tokens do not carry over",
        "tenant" | "applications" | "groupMemberships" | "accessTokens" | "refreshTokens" => {
            "links to other Stormpath resources, not user data"
        }
        _ => "not in the import schema",
    }
}

/// Converts the account's MCF password; true if it carried over. Reports why not otherwise.
fn password(rec: &mut Record<'_>, mcf: &str, user: &mut Object) -> bool {
    let converted = if mcf.starts_with("$2") {
        common::bcrypt(mcf).map(Hash::Bcrypt).ok_or_else(|| {
            "a bcrypt form the import does not take (only $2a$, $2b$ and $2y$, cost 04-31)"
                .to_owned()
        })
    } else if let Some(rest) = mcf.strip_prefix("$stormpath2$") {
        stormpath2(rest)
    } else if mcf.starts_with("$stormpath1$") {
        Err("stormpath1 is Stormpath's own scheme, with no published definition".to_owned())
    } else {
        Err("not a password hash format the converter knows".to_owned())
    };
    rec.password("password", converted, user)
}

/// `$stormpath2$ALGORITHM$ITERATIONS$BASE64_SALT$BASE64_HASH`: Stormpath hashed the salt
/// followed by the password, then re-hashed the digest for further iterations. One iteration is
/// a salted digest the import takes (salt in prefix position); more are not.
fn stormpath2(rest: &str) -> Result<Hash, String> {
    let parts: Vec<&str> = rest.split('$').collect();
    let &[algorithm, iterations, salt, hash] = parts.as_slice() else {
        return Err(
            "not a stormpath2 hash ($stormpath2$ALGORITHM$ITERATIONS$SALT$HASH)".to_owned(),
        );
    };
    let Some((name, length)) = common::digest_algorithm(algorithm) else {
        return Err(format!(
            "stormpath2 with {algorithm}: the import takes MD5, SHA-1, SHA-256 and SHA-512"
        ));
    };
    if iterations.parse::<u64>().ok() != Some(1) {
        return Err(format!(
            "stormpath2 with {iterations} iterations: the import takes a single round"
        ));
    }
    if common::base64_bytes(hash).map(|bytes| bytes.len()) != Some(length) {
        return Err(format!(
            "the stormpath2 hash is not a base64 {algorithm} digest"
        ));
    }
    let salt = if salt.is_empty() {
        None
    } else if common::base64_bytes(salt).is_some() {
        Some(Salt {
            value: salt,
            encoding: "base64",
            position: "prefix",
        })
    } else {
        return Err("the stormpath2 salt is not base64".to_owned());
    };
    Ok(Hash::Custom(common::digest_hash(
        name, hash, "base64", salt,
    )))
}
