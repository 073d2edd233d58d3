//! Auth0 → Gatehouse: Auth0's user export (NDJSON from `POST /api/v2/jobs/users-exports` with
//! `format: "json"`, after gunzip; a JSON array works too), joined with the password-hash
//! export (NDJSON) that Auth0 support hands over on request. See `docs/migration/auth0.md`.

use std::collections::HashMap;

use serde_json::Value;

use crate::common::{self, Dropped, Metadata, Object, Record};
use crate::{Conversion, ConvertError, ConvertOptions, Unmapped};

const SOURCE: &str = "auth0";

/// String attributes the import takes as they are.
const STRINGS: [&str; 7] = [
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "phone_number",
];

/// Boolean attributes the import takes as they are.
const FLAGS: [&str; 3] = ["email_verified", "phone_verified", "blocked"];

const NO_HASH_EXPORT: &str =
    "no password-hash export given (ask Auth0 support for one); these users set a new password";

pub fn convert(input: &[u8], options: &ConvertOptions) -> Result<Conversion, ConvertError> {
    let records = common::records(input, SOURCE)?;
    let mut hashes = options
        .password_hashes
        .as_deref()
        .map(Hashes::read)
        .transpose()?;
    let mut report = Vec::new();
    let mut dropped = Dropped::default();
    let mut users = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        let user = convert_user(record, index, hashes.as_mut(), &mut dropped, &mut report);
        if let Some(user) = user {
            users.push(Value::Object(user));
        }
    }
    if let Some(hashes) = hashes {
        hashes.report_unused(&mut report);
    }
    dropped.report_to(&mut report);
    Ok(Conversion { users, report })
}

fn convert_user(
    input: Object,
    index: usize,
    hashes: Option<&mut Hashes>,
    dropped: &mut Dropped,
    report: &mut Vec<Unmapped>,
) -> Option<Object> {
    let full_id = common::text(input.get("user_id")).map(str::to_owned);
    let name = {
        let email = common::text(input.get("email"));
        common::label(full_id.as_deref().or(email), index)
    };
    let mut rec = Record::new(name, report);

    let identity = input
        .get("identities")
        .and_then(Value::as_array)
        .and_then(|identities| identities.first());
    let connection = identity
        .and_then(|identity| common::text(identity.get("connection")))
        .map(str::to_owned);
    let (provider, provider_field) = match identity {
        Some(identity) => (
            common::text(identity.get("provider")),
            "identities[0].provider",
        ),
        None => (
            full_id
                .as_deref()
                .and_then(|id| id.split_once('|'))
                .map(|(provider, _)| provider),
            "user_id",
        ),
    };
    if let Some(provider) = provider
        && provider != "auth0"
    {
        rec.note(
            provider_field,
            format!(
                "signs in through {provider}, not a database connection; skipped (the user \
                 comes back through that connection)"
            ),
        );
        return None;
    }

    // The import prefixes the connection's strategy itself: `auth0|abc` goes in as `abc`.
    let user_id = match full_id.as_deref() {
        Some(id) => Some(id.strip_prefix("auth0|").unwrap_or(id).to_owned()),
        None => identity
            .and_then(|identity| common::text(identity.get("user_id")))
            .map(str::to_owned),
    };
    let email = rec.string(input.get("email"), "email");
    let lookup = hashes
        .map(|hashes| hashes.take(user_id.as_deref(), email.as_deref(), connection.as_deref()));

    let Some(email) = email else {
        rec.note("email", "no email; user skipped (the import requires one)");
        return None;
    };
    let mut user = Object::new();
    user.insert("email".to_owned(), Value::String(email));
    common::set(&mut user, "user_id", user_id);

    for (key, value) in input {
        let key = key.as_str();
        if key == "email" || key == "user_id" {
            continue;
        }
        if STRINGS.contains(&key) {
            let text = rec.string(Some(&value), key);
            common::set(&mut user, key, text);
        } else if FLAGS.contains(&key) {
            let flag = rec.boolean(Some(&value), key);
            common::set(&mut user, key, flag);
        } else if key == "app_metadata" || key == "user_metadata" {
            let to = if key == "app_metadata" {
                Metadata::App
            } else {
                Metadata::User
            };
            match value {
                Value::Null => {}
                Value::Object(object) => {
                    let mut target = Object::new();
                    rec.put_all_metadata(&mut target, to, object, key);
                    if !target.is_empty() {
                        user.insert(key.to_owned(), Value::Object(target));
                    }
                }
                _ => rec.note(key, "expected an object; dropped"),
            }
        } else {
            dropped.add(key, dropped_reason(key));
        }
    }

    match lookup {
        None => dropped.add("password", NO_HASH_EXPORT),
        Some(Lookup::Missing) => rec.note(
            "password",
            "no entry in the password-hash export; the user sets a new password",
        ),
        Some(Lookup::Ambiguous) => rec.note(
            "password",
            "several password-hash entries match this email and none this user_id; the user \
             sets a new password",
        ),
        Some(Lookup::Found { hash, set_date }) => match hash.as_deref().and_then(common::bcrypt) {
            Some(hash) => {
                user.insert("password_hash".to_owned(), Value::String(hash));
                common::set(&mut user, "password_set_date", set_date);
            }
            None => rec.note(
                "passwordHash",
                "not a bcrypt $2a$/$2b$ hash; the user sets a new password",
            ),
        },
    }
    Some(user)
}

/// Why a root attribute of the export is not imported.
fn dropped_reason(field: &str) -> &'static str {
    match field {
        "identities" => "the import creates the user's identity itself",
        "multifactor" | "multifactor_last_modified" => {
            "MFA enrolments do not carry over; users enrol again"
        }
        "created_at"
        | "updated_at"
        | "last_login"
        | "last_ip"
        | "logins_count"
        | "last_password_reset" => "kept by the server itself; not importable",
        _ => "not in the import schema",
    }
}

/// What the password-hash export holds for one user.
enum Lookup {
    Found {
        hash: Option<String>,
        set_date: Option<String>,
    },
    Missing,
    Ambiguous,
}

/// One line of the password-hash export.
struct Entry {
    /// How the report names the entry: its user id, else its email.
    name: String,
    connection: Option<String>,
    hash: Option<String>,
    set_date: Option<String>,
    used: bool,
}

/// The password-hash export, indexed by user id (`auth0|…`) and by lower-cased email.
struct Hashes {
    entries: Vec<Entry>,
    by_id: HashMap<String, usize>,
    by_email: HashMap<String, Vec<usize>>,
}

impl Hashes {
    fn read(input: &[u8]) -> Result<Self, ConvertError> {
        let rows = common::records(input, SOURCE).map_err(|error| match error {
            ConvertError::Format { reason, .. } => {
                common::format_error(SOURCE, format!("password-hash export: {reason}"))
            }
            other => other,
        })?;
        let mut hashes = Hashes {
            entries: Vec::new(),
            by_id: HashMap::new(),
            by_email: HashMap::new(),
        };
        for (index, row) in rows.iter().enumerate() {
            let id = entry_id(row);
            let email = entry_email(row);
            let position = hashes.entries.len();
            if let Some(id) = &id {
                hashes.by_id.insert(id.clone(), position);
            }
            if let Some(email) = &email {
                hashes
                    .by_email
                    .entry(email.clone())
                    .or_default()
                    .push(position);
            }
            let name = id
                .or(email)
                .unwrap_or_else(|| format!("password-hash entry #{}", index + 1));
            hashes.entries.push(Entry {
                name,
                connection: common::text(row.get("connection")).map(str::to_owned),
                hash: common::text(row.get("passwordHash")).map(str::to_owned),
                set_date: entry_date(row.get("password_set_date")),
                used: false,
            });
        }
        Ok(hashes)
    }

    /// The entry for a user: by user id, else by email (within the user's connection when both
    /// name one). Each entry serves one user.
    fn take(&mut self, id: Option<&str>, email: Option<&str>, connection: Option<&str>) -> Lookup {
        if let Some(id) = id {
            let key = format!("auth0|{id}");
            if let Some(&position) = self.by_id.get(&key)
                && !self.entries[position].used
            {
                return self.claim(position);
            }
        }
        let Some(email) = email else {
            return Lookup::Missing;
        };
        let candidates: Vec<usize> = match self.by_email.get(&email.to_lowercase()) {
            Some(positions) => positions
                .iter()
                .copied()
                .filter(|&position| {
                    let entry = &self.entries[position];
                    let same_connection = match (entry.connection.as_deref(), connection) {
                        (Some(theirs), Some(ours)) => theirs == ours,
                        _ => true,
                    };
                    !entry.used && same_connection
                })
                .collect(),
            None => Vec::new(),
        };
        match candidates.as_slice() {
            [] => Lookup::Missing,
            [position] => self.claim(*position),
            _ => Lookup::Ambiguous,
        }
    }

    fn claim(&mut self, position: usize) -> Lookup {
        let entry = &mut self.entries[position];
        entry.used = true;
        Lookup::Found {
            hash: entry.hash.clone(),
            set_date: entry.set_date.clone(),
        }
    }

    fn report_unused(self, report: &mut Vec<Unmapped>) {
        for entry in self.entries.into_iter().filter(|entry| !entry.used) {
            report.push(Unmapped::new(
                entry.name,
                "passwordHash",
                "matches no database user in the export (by user_id or email); not imported",
            ));
        }
    }
}

/// `auth0|` + `alt_id` (a custom id) or else `_id.$oid`.
fn entry_id(row: &Object) -> Option<String> {
    let id = common::text(row.get("alt_id")).or_else(|| {
        let id = row.get("_id")?;
        common::text(id.get("$oid")).or_else(|| common::text(Some(id)))
    })?;
    Some(format!("auth0|{id}"))
}

/// `email`, else the email entry of `identifiers`; lower-cased.
fn entry_email(row: &Object) -> Option<String> {
    let email = common::text(row.get("email")).or_else(|| {
        row.get("identifiers")?
            .as_array()?
            .iter()
            .find(|identifier| common::text(identifier.get("type")) == Some("email"))
            .and_then(|identifier| common::text(identifier.get("value")))
    })?;
    Some(email.to_lowercase())
}

/// `{"$date": "…"}` (MongoDB extended JSON) or a plain string.
fn entry_date(value: Option<&Value>) -> Option<String> {
    let value = value?;
    common::text(value.get("$date"))
        .or_else(|| common::text(Some(value)))
        .map(str::to_owned)
}
