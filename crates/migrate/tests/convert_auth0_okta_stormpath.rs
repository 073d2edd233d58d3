//! Converts the Auth0, Okta and Stormpath fixtures under `tests/fixtures/` and checks every
//! converted user field by field, and the report of what did not carry over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

mod common;

use common::{fixture, pairs, reason, reported};
use gatehouse_migrate::{ConvertError, ConvertOptions, Source, convert};
use serde_json::json;

// ---------------------------------------------------------------------------------------------
// Auth0

const ADA_HASH: &str = "$2b$10$FixtureSaltAdaLovelaceFixtureHashNotARealBcryptDigest";
const GRACE_HASH: &str = "$2a$12$FixtureSaltGraceHopperFixtureHashNotARealBcryptDigest";
/// The export has `$2y$`; the import gets `$2b$`.
const EDSGER_HASH: &str = "$2b$10$FixtureSaltEdsgerDijksFixtureHashNotARealBcryptDigest";

fn with_hashes() -> ConvertOptions {
    ConvertOptions {
        password_hashes: Some(fixture("auth0/password-hashes.ndjson")),
        ..ConvertOptions::default()
    }
}

#[test]
fn auth0_export_joined_with_the_password_hash_export() {
    let conversion = convert(
        Source::Auth0,
        &fixture("auth0/users.ndjson"),
        &with_hashes(),
    )
    .unwrap();
    let users = &conversion.users;
    assert_eq!(users.len(), 5, "{users:#?}");

    // Joined by user id; `auth0|` stripped; metadata kept; audit fields dropped.
    assert_eq!(
        users[0],
        json!({
            "email": "ada@example.com",
            "user_id": "5f1b2c3d4e5f6a7b8c9d0e1f",
            "email_verified": true,
            "username": "ada",
            "name": "Ada Lovelace",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "nickname": "ada",
            "picture": "https://example.com/ada.png",
            "user_metadata": { "theme": "dark", "language": "en" },
            "app_metadata": { "plan": "premium", "roles": ["admin"] },
            "password_hash": ADA_HASH,
            "password_set_date": "2020-07-24T12:00:00.000Z",
        })
    );
    // Joined by email (the hash entry's id differs; the case of the address too); blocked.
    assert_eq!(
        users[1],
        json!({
            "email": "Grace@Example.com",
            "user_id": "60aa11bb22cc33dd44ee55ff",
            "email_verified": true,
            "name": "Grace Hopper",
            "given_name": "Grace",
            "family_name": "Hopper",
            "blocked": true,
            "password_hash": GRACE_HASH,
            "password_set_date": "2021-05-23T08:00:00.000Z",
        })
    );
    // No hash entry; a metadata name with a dot dropped.
    assert_eq!(
        users[2],
        json!({
            "email": "katherine@example.com",
            "user_id": "65ff00000000000000000005",
            "email_verified": false,
            "given_name": "Katherine",
            "family_name": "Johnson",
            "user_metadata": { "phone": "+15550100" },
        })
    );
    // Joined through the hash entry's `alt_id`; `$2y$` rewritten.
    assert_eq!(
        users[3],
        json!({
            "email": "edsger@example.com",
            "user_id": "edsger",
            "email_verified": true,
            "name": "Edsger Dijkstra",
            "password_hash": EDSGER_HASH,
            "password_set_date": "2022-03-04T05:06:07.000Z",
        })
    );
    // A hash that is not bcrypt; a reserved app_metadata name dropped.
    assert_eq!(
        users[4],
        json!({
            "email": "barbara@example.com",
            "user_id": "63dd00000000000000000007",
            "email_verified": true,
            "given_name": "Barbara",
            "family_name": "Liskov",
            "app_metadata": { "tier": "gold" },
        })
    );

    assert_eq!(
        reported(&conversion),
        pairs(&[
            (
                "google-oauth2|103547991597142817347",
                "identities[0].provider"
            ),
            ("auth0|61bb00000000000000000004", "email"),
            ("auth0|65ff00000000000000000005", "user_metadata.team.name"),
            ("auth0|65ff00000000000000000005", "password"),
            ("auth0|63dd00000000000000000007", "app_metadata.user_id"),
            ("auth0|63dd00000000000000000007", "passwordHash"),
            ("auth0|64ee00000000000000000008", "passwordHash"),
            ("*", "created_at"),
            ("*", "updated_at"),
            ("*", "last_login"),
            ("*", "logins_count"),
            ("*", "identities"),
            ("*", "multifactor"),
        ])
    );
    assert!(
        reason(
            &conversion,
            "google-oauth2|103547991597142817347",
            "identities[0].provider"
        )
        .contains("google-oauth2")
    );
    assert!(reason(&conversion, "auth0|61bb00000000000000000004", "email").contains("skipped"));
    assert!(
        reason(
            &conversion,
            "auth0|63dd00000000000000000007",
            "passwordHash"
        )
        .contains("bcrypt")
    );
    assert!(
        reason(
            &conversion,
            "auth0|64ee00000000000000000008",
            "passwordHash"
        )
        .contains("matches no database user")
    );
    assert!(reason(&conversion, "*", "identities").contains("dropped from 5 records"));
    assert!(reason(&conversion, "*", "logins_count").contains("dropped from 2 records"));
    assert!(reason(&conversion, "*", "multifactor").contains("dropped from 1 record)"));
}

#[test]
fn auth0_export_without_the_password_hash_export() {
    let conversion = convert(
        Source::Auth0,
        &fixture("auth0/users.ndjson"),
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(conversion.users.len(), 5);
    for user in &conversion.users {
        assert!(user.get("password_hash").is_none(), "{user}");
        assert!(user.get("password_set_date").is_none(), "{user}");
    }
    assert_eq!(
        conversion.users[1],
        json!({
            "email": "Grace@Example.com",
            "user_id": "60aa11bb22cc33dd44ee55ff",
            "email_verified": true,
            "name": "Grace Hopper",
            "given_name": "Grace",
            "family_name": "Hopper",
            "blocked": true,
        })
    );
    assert_eq!(
        reported(&conversion),
        pairs(&[
            (
                "google-oauth2|103547991597142817347",
                "identities[0].provider"
            ),
            ("auth0|61bb00000000000000000004", "email"),
            ("auth0|65ff00000000000000000005", "user_metadata.team.name"),
            ("auth0|63dd00000000000000000007", "app_metadata.user_id"),
            ("*", "created_at"),
            ("*", "updated_at"),
            ("*", "last_login"),
            ("*", "logins_count"),
            ("*", "identities"),
            ("*", "multifactor"),
            ("*", "password"),
        ])
    );
    assert!(reason(&conversion, "*", "password").contains("dropped from 5 records"));
}

#[test]
fn auth0_export_as_a_json_array_converts_the_same() {
    let ndjson = fixture("auth0/users.ndjson");
    let text = String::from_utf8(ndjson.clone()).unwrap();
    let array = format!("[{}]", text.lines().collect::<Vec<_>>().join(",\n"));
    let from_lines = convert(Source::Auth0, &ndjson, &with_hashes()).unwrap();
    let from_array = convert(Source::Auth0, array.as_bytes(), &with_hashes()).unwrap();
    assert_eq!(from_array.users, from_lines.users);
    assert_eq!(from_array.report, from_lines.report);
}

#[test]
fn auth0_rejects_input_that_is_not_an_export() {
    let none = ConvertOptions::default();
    assert!(matches!(
        convert(Source::Auth0, b"{\"user_id\": ", &none),
        Err(ConvertError::Format { .. })
    ));
    assert!(matches!(
        convert(Source::Auth0, b"[\"ada@example.com\"]", &none),
        Err(ConvertError::Format { .. })
    ));
    let bad_hashes = ConvertOptions {
        password_hashes: Some(b"not json".to_vec()),
        ..ConvertOptions::default()
    };
    assert!(matches!(
        convert(Source::Auth0, &fixture("auth0/users.ndjson"), &bad_hashes),
        Err(ConvertError::Format { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Okta

#[test]
fn okta_user_list() {
    let conversion = convert(
        Source::Okta,
        &fixture("okta/users.json"),
        &ConvertOptions::default(),
    )
    .unwrap();
    let users = &conversion.users;
    assert_eq!(users.len(), 5, "{users:#?}");

    // ACTIVE: verified, not blocked; E.164 mobile phone; login = email so no username;
    // address and locale to user_metadata, organisation and custom attributes to app_metadata.
    assert_eq!(
        users[0],
        json!({
            "email": "alice@example.com",
            "user_id": "00u1alice0000fixture",
            "blocked": false,
            "email_verified": true,
            "given_name": "Alice",
            "family_name": "Smith",
            "name": "Alice Smith",
            "nickname": "Al",
            "phone_number": "+14155550100",
            "user_metadata": { "city": "San Francisco", "locale": "en_US" },
            "app_metadata": {
                "department": "Engineering",
                "employeeNumber": "1001",
                "favoriteColor": "green",
            },
        })
    );
    // SUSPENDED: blocked; login differs from email; free-form phone kept in user_metadata;
    // Okta's BCRYPT parts rebuilt into one hash.
    assert_eq!(
        users[1],
        json!({
            "email": "bob@example.com",
            "user_id": "00u2bob00000fixture",
            "blocked": true,
            "email_verified": true,
            "username": "bob",
            "given_name": "Bob",
            "family_name": "Jones",
            "name": "Bob Jones",
            "user_metadata": { "mobilePhone": "(415) 555-0101" },
            "password_hash": "$2a$10$FixtureSaltBobJonesOktFixtureHashNotARealBcryptDigest",
            "password_set_date": "2023-02-01T00:00:00.000Z",
        })
    );
    // STAGED: never activated, so not verified; salted SHA-512 (POSTFIX = suffix).
    assert_eq!(
        users[2],
        json!({
            "email": "carol@example.com",
            "user_id": "00u3carol000fixture",
            "blocked": false,
            "email_verified": false,
            "given_name": "Carol",
            "family_name": "White",
            "name": "Carol White",
            "user_metadata": { "preferredLanguage": "fr" },
            "custom_password_hash": {
                "algorithm": "sha512",
                "hash": {
                    "value": "Zml4dHVyZS1zaGE1MTItZGlnZXN0LWNhcm9sLWZpeHR1cmUtc2hhNTEyLWRpZ2VzdC1jYXJvbC1maXh0dXJlLQ==",
                    "encoding": "base64",
                },
                "salt": {
                    "value": "Zml4dHVyZS1zYWx0LWNhcm9s",
                    "encoding": "base64",
                    "position": "suffix",
                },
            },
            "password_set_date": "2023-01-01T00:00:00.000Z",
        })
    );
    // PBKDF2 into a PHC string.
    assert_eq!(
        users[3],
        json!({
            "email": "frank@example.com",
            "user_id": "00u6frank000fixture",
            "blocked": false,
            "email_verified": true,
            "given_name": "Frank",
            "family_name": "Black",
            "name": "Frank B.",
            "custom_password_hash": {
                "algorithm": "pbkdf2",
                "hash": {
                    "value": "$pbkdf2-sha256$i=4096,l=32$Zml4dHVyZS1zYWx0LTE2Yg$Zml4dHVyZS1wYmtkZjIta2V5LW9mLTMyLWJ5dGVzISE",
                    "encoding": "utf8",
                },
            },
            "password_set_date": "2023-04-01T00:00:00.000Z",
        })
    );
    // DEPROVISIONED: blocked, not known to be verified; an MD5 "digest" of the wrong length.
    assert_eq!(
        users[4],
        json!({
            "email": "gina@example.com",
            "user_id": "00u7gina0000fixture",
            "blocked": true,
            "email_verified": false,
            "given_name": "Gina",
            "family_name": "Gray",
            "name": "Gina Gray",
        })
    );

    assert_eq!(
        reported(&conversion),
        pairs(&[
            ("00u1alice0000fixture", "credentials.password"),
            ("00u4dan00000fixture", "profile.email"),
            ("00u5erin0000fixture", "credentials.provider.type"),
            ("00u7gina0000fixture", "credentials.password.hash"),
            ("*", "_links"),
            ("*", "activated"),
            ("*", "created"),
            ("*", "credentials.recovery_question"),
            ("*", "lastLogin"),
            ("*", "lastUpdated"),
            ("*", "passwordChanged"),
            ("*", "statusChanged"),
            ("*", "type"),
        ])
    );
    assert!(
        reason(&conversion, "00u1alice0000fixture", "credentials.password")
            .contains("does not export password hashes")
    );
    assert!(
        reason(
            &conversion,
            "00u5erin0000fixture",
            "credentials.provider.type"
        )
        .contains("FEDERATION")
    );
    assert!(
        reason(
            &conversion,
            "00u7gina0000fixture",
            "credentials.password.hash"
        )
        .contains("md5")
    );
    assert!(reason(&conversion, "*", "created").contains("dropped from 5 records"));
    assert!(reason(&conversion, "*", "passwordChanged").contains("dropped from 2 records"));
}

#[test]
fn okta_pages_back_to_back_convert_like_one_list() {
    let one = fixture("okta/users.json");
    let mut two = one.clone();
    two.extend_from_slice(&one);
    let once = convert(Source::Okta, &one, &ConvertOptions::default()).unwrap();
    let twice = convert(Source::Okta, &two, &ConvertOptions::default()).unwrap();
    assert_eq!(twice.users.len(), 2 * once.users.len());
    assert_eq!(twice.users[..once.users.len()], once.users[..]);
}

#[test]
fn okta_rejects_input_that_is_not_a_user_list() {
    assert!(matches!(
        convert(Source::Okta, b"[1, 2]", &ConvertOptions::default()),
        Err(ConvertError::Format { .. })
    ));
}

// ---------------------------------------------------------------------------------------------
// Stormpath

const STORMPATH_ACCOUNTS: [&str; 7] = [
    "1a2B3c4D5e6F7g8H9i0J",
    "2b3C4d5E6f7G8h9I0j1K",
    "3c4D5e6F7g8H9i0J1k2L",
    "4d5E6f7G8h9I0j1K2l3M",
    "5e6F7g8H9i0J1k2L3m4N",
    "6f7G8h9I0j1K2l3M4n5O",
    "7g8H9i0J1k2L3m4N5o6P",
];

fn stormpath_account(id: &str) -> Vec<u8> {
    fixture(&format!(
        "stormpath/accounts/5LInED46hB6nv9auaOrIYW/{id}.json"
    ))
}

/// The account files one after another, as the CLI hands them over.
fn stormpath_export() -> Vec<u8> {
    STORMPATH_ACCOUNTS
        .into_iter()
        .flat_map(stormpath_account)
        .collect()
}

fn picard() -> serde_json::Value {
    json!({
        "email": "jlpicard@example.com",
        "user_id": "1a2B3c4D5e6F7g8H9i0J",
        "username": "jlpicard",
        "given_name": "Jean-Luc",
        "family_name": "Picard",
        "name": "Jean-Luc Picard",
        "blocked": false,
        "email_verified": true,
        "password_hash": "$2a$10$FixtureSaltJeanLucPicaFixtureHashNotARealBcryptDigest",
        "password_set_date": "2016-10-26T16:48:14.457Z",
        "app_metadata": {
            "favoriteShip": "Enterprise",
            "preferences": { "theme": "blue" },
            "rank": "captain",
            "groups": ["officers"],
        },
    })
}

#[test]
fn stormpath_export_files_concatenated() {
    let conversion = convert(
        Source::Stormpath,
        &stormpath_export(),
        &ConvertOptions::default(),
    )
    .unwrap();
    let users = &conversion.users;
    assert_eq!(users.len(), 5, "{users:#?}");

    // bcrypt as is; customData (less its own href and dates) and group names to app_metadata.
    assert_eq!(users[0], picard());
    // No `id`: taken from `href`. DISABLED: blocked. UNKNOWN verification: the status decides.
    // stormpath2 with one round: a salted digest, salt first.
    assert_eq!(
        users[1],
        json!({
            "email": "riker@example.com",
            "user_id": "2b3C4d5E6f7G8h9I0j1K",
            "given_name": "William",
            "family_name": "Riker",
            "name": "William Thomas Riker",
            "blocked": true,
            "email_verified": true,
            "user_metadata": { "middleName": "Thomas" },
            "custom_password_hash": {
                "algorithm": "sha512",
                "hash": {
                    "value": "Zml4dHVyZS1zaGE1MTItcmlrZXItZml4dHVyZS1zaGE1MTItcmlrZXItZml4dHVyZS1zaGE1MTItcmlrZXItZg==",
                    "encoding": "base64",
                },
                "salt": {
                    "value": "Zml4dHVyZS1zYWx0LXJpa2Vy",
                    "encoding": "base64",
                    "position": "prefix",
                },
            },
            "password_set_date": "2016-10-26T16:48:14.457Z",
        })
    );
    // UNVERIFIED, no password.
    assert_eq!(
        users[2],
        json!({
            "email": "troi@example.com",
            "user_id": "3c4D5e6F7g8H9i0J1k2L",
            "given_name": "Deanna",
            "family_name": "Troi",
            "name": "Deanna Troi",
            "blocked": false,
            "email_verified": false,
            "app_metadata": { "empath": true },
        })
    );
    // stormpath1 cannot carry over; a customData name with a dot is dropped.
    assert_eq!(
        users[3],
        json!({
            "email": "data@example.com",
            "user_id": "5e6F7g8H9i0J1k2L3m4N",
            "given_name": "Data",
            "family_name": "Soong",
            "name": "Data Soong",
            "blocked": false,
            "email_verified": true,
            "app_metadata": { "rank": "lieutenant commander" },
        })
    );
    // `$2y$` rewritten to `$2b$`.
    assert_eq!(
        users[4],
        json!({
            "email": "geordi@example.com",
            "user_id": "6f7G8h9I0j1K2l3M4n5O",
            "given_name": "Geordi",
            "family_name": "La Forge",
            "name": "Geordi La Forge",
            "blocked": false,
            "email_verified": true,
            "password_hash": "$2b$10$FixtureSaltGeordiLaForFixtureHashNotARealBcryptDigest",
            "password_set_date": "2016-10-26T16:48:14.457Z",
        })
    );

    assert_eq!(
        reported(&conversion),
        pairs(&[
            ("3c4D5e6F7g8H9i0J1k2L", "password"),
            ("4d5E6f7G8h9I0j1K2l3M", "email"),
            ("5e6F7g8H9i0J1k2L3m4N", "password"),
            ("5e6F7g8H9i0J1k2L3m4N", "customData.positronic.net"),
            ("7g8H9i0J1k2L3m4N5o6P", "providerData.providerId"),
            ("*", "apiKeys"),
            ("*", "createdAt"),
            ("*", "directory"),
            ("*", "groups"),
            ("*", "modifiedAt"),
            ("*", "passwordModifiedAt"),
        ])
    );
    assert!(reason(&conversion, "5e6F7g8H9i0J1k2L3m4N", "password").contains("stormpath1"));
    assert!(
        reason(
            &conversion,
            "7g8H9i0J1k2L3m4N5o6P",
            "providerData.providerId"
        )
        .contains("google")
    );
    assert!(reason(&conversion, "*", "directory").contains("dropped from 5 records"));
    assert!(reason(&conversion, "*", "passwordModifiedAt").contains("dropped from 2 records"));
}

#[test]
fn stormpath_single_account_and_array() {
    let single = convert(
        Source::Stormpath,
        &stormpath_account(STORMPATH_ACCOUNTS[0]),
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(single.users, vec![picard()]);
    assert_eq!(
        reported(&single),
        pairs(&[
            ("*", "apiKeys"),
            ("*", "createdAt"),
            ("*", "directory"),
            ("*", "modifiedAt"),
        ])
    );

    let texts: Vec<String> = STORMPATH_ACCOUNTS
        .into_iter()
        .map(|id| String::from_utf8(stormpath_account(id)).unwrap())
        .collect();
    let array = format!("[{}]", texts.join(","));
    let from_array = convert(
        Source::Stormpath,
        array.as_bytes(),
        &ConvertOptions::default(),
    )
    .unwrap();
    let concatenated = convert(
        Source::Stormpath,
        &stormpath_export(),
        &ConvertOptions::default(),
    )
    .unwrap();
    assert_eq!(from_array.users, concatenated.users);
    assert_eq!(from_array.report, concatenated.report);
}
