//! The Gigya, Keycloak and Firebase converters run on the exports under `tests/fixtures/`:
//! every converted user field by field, and everything reported as not carried over.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)] // a test crate: a failed expectation is the test failing

mod common;

use common::{fixture, pairs, reason, reported};
use gatehouse_migrate::{
    Conversion, ConvertError, ConvertOptions, FirebaseHashConfig, Source, convert,
};
use serde_json::{Value, json};

/// The properties of Auth0's bulk-import user schema (which allows no others).
const SCHEMA_KEYS: &[&str] = &[
    "email",
    "email_verified",
    "user_id",
    "username",
    "given_name",
    "family_name",
    "name",
    "nickname",
    "picture",
    "phone_number",
    "phone_verified",
    "blocked",
    "app_metadata",
    "user_metadata",
    "password_hash",
    "custom_password_hash",
    "password_set_date",
    "mfa_factors",
];

fn run(source: Source, path: &str, options: &ConvertOptions) -> Conversion {
    let conversion = convert(source, &fixture(path), options)
        .unwrap_or_else(|e| panic!("{path} did not convert: {e}"));
    for user in &conversion.users {
        let object = user.as_object().expect("every user is a JSON object");
        for key in object.keys() {
            assert!(
                SCHEMA_KEYS.contains(&key.as_str()),
                "{key} is not in the schema: {user}"
            );
        }
        assert!(object.contains_key("email"), "a user without email: {user}");
    }
    conversion
}

fn user<'a>(conversion: &'a Conversion, user_id: &str) -> &'a Value {
    conversion
        .users
        .iter()
        .find(|u| u["user_id"] == user_id)
        .unwrap_or_else(|| panic!("no user {user_id}"))
}

fn firebase_options() -> ConvertOptions {
    ConvertOptions {
        firebase: Some(FirebaseHashConfig {
            signer_key: SIGNER_KEY.to_owned(),
            salt_separator: "Bw==".to_owned(),
            rounds: 8,
            mem_cost: 14,
        }),
        ..ConvertOptions::default()
    }
}

const SIGNER_KEY: &str =
    "Zml4dHVyZS1zaWduZXIta2V5LWZpeHR1cmUtc2lnbmVyLWtleS1maXh0dXJlLXNpZ25lci1rZXktZml4dHVyZQ==";

// ---------------------------------------------------------------------------------- Gigya

#[test]
fn gigya_search_response_converts_field_by_field() {
    let c = run(
        Source::Gigya,
        "gigya/accounts-search.json",
        &ConvertOptions::default(),
    );
    assert_eq!(c.users.len(), 7);

    assert_eq!(
        user(&c, "fixture-uid-ada"),
        &json!({
            "email": "ada@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-ada",
            "given_name": "Ada",
            "family_name": "Lovelace",
            "name": "Ada Lovelace",
            "nickname": "ada",
            "picture": "https://example.com/photos/ada.png",
            "phone_number": "+442079460001",
            "user_metadata": { "gender": "f", "birthYear": 1815, "locale": "en" },
            "app_metadata": { "newsletter": true, "tier": "gold" },
            "custom_password_hash": {
                "algorithm": "pbkdf2",
                "hash": {
                    "value": "$pbkdf2-sha256$i=10000,l=32$Zml4dHVyZS1zYWx0LWFkYQ$Zml4dHVyZS1naWd5YS1wYmtkZjItc2hhMjU2LWhhc2g",
                    "encoding": "utf8"
                }
            },
            "password_set_date": "2021-03-04T09:10:11.123Z"
        })
    );

    // Unverified address, deactivated account, salted MD5 in upper-case hex.
    assert_eq!(
        user(&c, "fixture-uid-grace"),
        &json!({
            "email": "grace@example.com",
            "email_verified": false,
            "user_id": "fixture-uid-grace",
            "given_name": "Grace",
            "name": "Grace",
            "blocked": true,
            "app_metadata": { "plan": "basic" },
            "custom_password_hash": {
                "algorithm": "md5",
                "hash": { "value": "666978747572652d6d64352d68617368", "encoding": "hex" },
                "salt": { "value": "cGVwcGVy", "encoding": "base64", "position": "suffix" }
            },
            "password_set_date": "2022-06-01T12:00:00.000Z"
        })
    );

    // PHP's `$2y$` bcrypt becomes `$2b$`; the username comes from loginIDs.
    assert_eq!(
        user(&c, "fixture-uid-linus"),
        &json!({
            "email": "linus@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-linus",
            "username": "linus",
            "family_name": "Torvalds",
            "name": "Torvalds",
            "password_hash": "$2b$10$FixtureSaltFixtureSaltFixtureHashFixtureHashFixtureHa"
        })
    );

    // No password; a phone number that is not E.164 stays in user_metadata.
    assert_eq!(
        user(&c, "fixture-uid-sam"),
        &json!({
            "email": "sam@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-sam",
            "given_name": "Sam",
            "family_name": "Social",
            "name": "Sam Social",
            "picture": "https://example.com/photos/sam.jpg",
            "user_metadata": { "phones": [{ "type": "home", "number": "020 7946 0002" }] }
        })
    );

    // Gigya's plain `pbkdf2` is HMAC-SHA1; the key length is the hash's.
    assert_eq!(
        user(&c, "fixture-uid-pbkdf2"),
        &json!({
            "email": "pat@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-pbkdf2",
            "given_name": "Pat",
            "name": "Pat",
            "custom_password_hash": {
                "algorithm": "pbkdf2",
                "hash": {
                    "value": "$pbkdf2-sha1$i=3000,l=20$Zml4dHVyZS1zYWx0LXNoYTE$Zml4dHVyZS1wYmtkZjItc2hhMSE",
                    "encoding": "utf8"
                }
            }
        })
    );

    // Hashes that cannot carry over leave the user without one (and are reported).
    assert_eq!(
        user(&c, "fixture-uid-legacy"),
        &json!({
            "email": "legacy@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-legacy"
        })
    );
    assert_eq!(
        user(&c, "fixture-uid-noformat"),
        &json!({
            "email": "nora@example.com",
            "email_verified": true,
            "user_id": "fixture-uid-noformat"
        })
    );
    assert!(c.users.iter().all(|u| u["user_id"] != "fixture-uid-nomail"));

    assert_eq!(
        reported(&c),
        pairs(&[
            ("*", "created"),
            ("*", "lastLogin"),
            ("fixture-uid-grace", "data.email"),
            ("fixture-uid-grace", "data.promo.code"),
            ("fixture-uid-grace", "identities"),
            ("fixture-uid-grace", "preferences"),
            ("fixture-uid-legacy", "password"),
            ("fixture-uid-nomail", "profile.email"),
            ("fixture-uid-noformat", "password"),
            ("fixture-uid-sam", "identities"),
            ("fixture-uid-sam", "subscriptions"),
        ])
    );
    assert!(reason(&c, "fixture-uid-legacy", "password").contains("md5_crypt"));
    assert!(reason(&c, "fixture-uid-noformat", "password").contains("hashSettings.format"));
    assert!(reason(&c, "fixture-uid-grace", "identities").contains("googleplus"));
    assert!(reason(&c, "fixture-uid-grace", "data.email").contains("app_metadata"));
    assert!(reason(&c, "*", "created").contains("4 records"));
    assert!(reason(&c, "*", "lastLogin").contains("3 records"));
}

#[test]
fn gigya_ndjson_converts_unsalted_and_prefix_salted_digests() {
    let c = run(
        Source::Gigya,
        "gigya/accounts.ndjson",
        &ConvertOptions::default(),
    );
    assert_eq!(
        c.users,
        vec![
            json!({
                "email": "una@example.com",
                "email_verified": true,
                "user_id": "fixture-uid-nd-sha1",
                "given_name": "Una",
                "name": "Una",
                "custom_password_hash": {
                    "algorithm": "sha1",
                    "hash": { "value": "Zml4dHVyZS1zaGExLWhhc2ghISE=", "encoding": "base64" }
                }
            }),
            json!({
                "email": "vic@example.com",
                "email_verified": false,
                "user_id": "fixture-uid-nd-sha512",
                "custom_password_hash": {
                    "algorithm": "sha512",
                    "hash": {
                        "value": "Zml4dHVyZS1zaGE1MTItaGFzaC1maXh0dXJlLXNoYTUxMi1oYXNoLWZpeHR1cmUtc2hhNTEyLWhhc2gtZml4dA==",
                        "encoding": "base64"
                    },
                    "salt": { "value": "cHJlZml4LXNhbHQ=", "encoding": "base64", "position": "prefix" }
                },
                "password_set_date": "2023-03-03T03:03:03.303Z"
            }),
        ]
    );
    assert!(c.report.is_empty(), "{:?}", c.report);
}

#[test]
fn gigya_takes_an_array_or_a_single_account_and_refuses_other_input() {
    let account = br#"{"UID": "u1", "profile": {"email": "u1@example.com"}}"#;
    let array = [b"[".as_slice(), account.as_slice(), b"]".as_slice()].concat();
    for input in [account.as_slice(), array.as_slice()] {
        let c = convert(Source::Gigya, input, &ConvertOptions::default()).expect("converts");
        assert_eq!(
            c.users,
            vec![json!({ "email": "u1@example.com", "email_verified": false, "user_id": "u1" })]
        );
    }
    let refused = [
        b"not json".as_slice(),
        br#"{"users": []}"#.as_slice(),
        b"42".as_slice(),
    ];
    for input in refused {
        let err = convert(Source::Gigya, input, &ConvertOptions::default()).unwrap_err();
        assert!(matches!(err, ConvertError::Format { .. }), "{err}");
    }
}

// ---------------------------------------------------------------------------------- Keycloak

#[test]
fn keycloak_realm_export_converts_field_by_field() {
    let c = run(
        Source::Keycloak,
        "keycloak/acme-realm.json",
        &ConvertOptions::default(),
    );
    assert_eq!(c.users.len(), 5);

    assert_eq!(
        user(&c, "5c0e1a2b-0000-4000-8000-0000000a11ce"),
        &json!({
            "email": "alice@example.com",
            "email_verified": true,
            "user_id": "5c0e1a2b-0000-4000-8000-0000000a11ce",
            "username": "alice",
            "given_name": "Alice",
            "family_name": "Liddell",
            "name": "Alice Liddell",
            "user_metadata": { "locale": ["en"], "department": ["R&D", "Ops"] },
            "app_metadata": { "realmRoles": ["default-roles-acme", "admin"], "groups": ["/staff"] },
            "custom_password_hash": {
                "algorithm": "pbkdf2",
                "hash": {
                    "value": "$pbkdf2-sha256$i=27500,l=32$Zml4dHVyZS1zYWx0LWFsIQ$Zml4dHVyZS1rZXljbG9hay1wYmtkZjItc2hhMjU2ISE",
                    "encoding": "utf8"
                }
            },
            "password_set_date": "2023-11-14T22:15:00.000Z",
            "mfa_factors": [{ "totp": { "secret": "MZUXQ5DVOJSU65DQKNSWG4TFOQYTEMZU" } }]
        })
    );

    // Argon2id; disabled; the username equals the email and is left out.
    assert_eq!(
        user(&c, "5c0e1a2b-0000-4000-8000-000000000b0b"),
        &json!({
            "email": "bob@example.com",
            "email_verified": false,
            "user_id": "5c0e1a2b-0000-4000-8000-000000000b0b",
            "given_name": "Bob",
            "name": "Bob",
            "blocked": true,
            "app_metadata": { "realmRoles": ["default-roles-acme"] },
            "custom_password_hash": {
                "algorithm": "argon2",
                "hash": {
                    "value": "$argon2id$v=19$m=7168,t=5,p=1$Zml4dHVyZS1zYWx0LWJvYg$Zml4dHVyZS1rZXljbG9hay1hcmdvbjJpZC1oYXNoISE",
                    "encoding": "utf8"
                }
            },
            "password_set_date": "2023-11-14T22:20:00.000Z"
        })
    );

    // `pbkdf2` is HMAC-SHA1 with a 64-byte key; a BASE32-encoded OTP secret passes as is.
    assert_eq!(
        user(&c, "5c0e1a2b-0000-4000-8000-0000000ca201"),
        &json!({
            "email": "carol@example.com",
            "email_verified": true,
            "user_id": "5c0e1a2b-0000-4000-8000-0000000ca201",
            "username": "carol",
            "user_metadata": { "favouriteColour": ["green"] },
            "custom_password_hash": {
                "algorithm": "pbkdf2",
                "hash": {
                    "value": "$pbkdf2-sha1$i=20000,l=64$Zml4dHVyZS1zYWx0LWNhcg$Zml4dHVyZS1rZXljbG9hay1wYmtkZjItc2hhMS1oYXNoLWZpeHR1cmUta2V5Y2xvYWstcGJrZGYyLXNoYTEtaA",
                    "encoding": "utf8"
                }
            },
            "password_set_date": "2020-09-13T12:26:40.000Z",
            "mfa_factors": [{ "totp": { "secret": "JBSWY3DPEHPK3PXP" } }]
        })
    );

    assert_eq!(
        user(&c, "5c0e1a2b-0000-4000-8000-0000000e5171"),
        &json!({
            "email": "erin@example.com",
            "email_verified": true,
            "user_id": "5c0e1a2b-0000-4000-8000-0000000e5171",
            "username": "erin"
        })
    );
    assert_eq!(
        user(&c, "5c0e1a2b-0000-4000-8000-00000000f4a1"),
        &json!({
            "email": "frank@example.com",
            "email_verified": true,
            "user_id": "5c0e1a2b-0000-4000-8000-00000000f4a1",
            "username": "frank",
            "given_name": "Frank",
            "family_name": "Federated",
            "name": "Frank Federated",
            "user_metadata": {
                "LDAP_ID": ["fixture-ldap-id"],
                "LDAP_ENTRY_DN": ["uid=frank,ou=people,dc=example,dc=com"]
            }
        })
    );

    assert_eq!(
        reported(&c),
        pairs(&[
            ("*", "createdTimestamp"),
            ("5c0e1a2b-0000-4000-8000-000000000b0b", "credentials[otp]"),
            (
                "5c0e1a2b-0000-4000-8000-000000000b0b",
                "federatedIdentities"
            ),
            ("5c0e1a2b-0000-4000-8000-000000000b0b", "requiredActions"),
            (
                "5c0e1a2b-0000-4000-8000-0000000ca201",
                "attributes.org.unit"
            ),
            ("5c0e1a2b-0000-4000-8000-0000000ca201", "clientConsents"),
            (
                "5c0e1a2b-0000-4000-8000-0000000ca201",
                "credentials[webauthn]"
            ),
            (
                "5c0e1a2b-0000-4000-8000-0000000000c1",
                "serviceAccountClientId"
            ),
            ("5c0e1a2b-0000-4000-8000-000000000da7", "email"),
            (
                "5c0e1a2b-0000-4000-8000-0000000e5171",
                "credentials[password]"
            ),
            ("5c0e1a2b-0000-4000-8000-00000000f4a1", "federationLink"),
        ])
    );
    let bob = "5c0e1a2b-0000-4000-8000-000000000b0b";
    assert!(reason(&c, bob, "credentials[otp]").contains("HmacSHA256"));
    assert!(reason(&c, bob, "requiredActions").contains("UPDATE_PASSWORD"));
    assert!(reason(&c, bob, "federatedIdentities").contains("github"));
    let erin = "5c0e1a2b-0000-4000-8000-0000000e5171";
    assert!(reason(&c, erin, "credentials[password]").contains("sha512-legacy"));
    assert!(reason(&c, "*", "createdTimestamp").contains("5 records"));
}

#[test]
fn keycloak_users_file_of_a_split_export_converts() {
    let c = run(
        Source::Keycloak,
        "keycloak/acme-users-0.json",
        &ConvertOptions::default(),
    );
    // A bcrypt credential from a community hash provider; client roles keyed by a client id
    // with dots cannot be metadata names.
    assert_eq!(
        c.users,
        vec![json!({
            "email": "grace@example.com",
            "email_verified": true,
            "user_id": "5c0e1a2b-0000-4000-8000-000000094ace",
            "username": "grace",
            "given_name": "Grace",
            "family_name": "Hopper",
            "name": "Grace Hopper",
            "app_metadata": { "realmRoles": ["default-roles-acme"] },
            "password_hash": "$2a$12$FixtureSaltFixtureSaltFixtureHashFixtureHashFixtureHb",
            "password_set_date": "2024-03-09T16:00:00.000Z"
        })]
    );
    assert_eq!(
        reported(&c),
        pairs(&[
            ("*", "createdTimestamp"),
            ("5c0e1a2b-0000-4000-8000-000000094ace", "clientRoles"),
        ])
    );
}

#[test]
fn keycloak_takes_an_array_of_realms_and_refuses_a_realm_without_users() {
    let realms = br#"[{"realm": "a", "users": [{"id": "1", "email": "one@example.com"}]},
                      {"realm": "b", "users": [{"id": "2", "email": "two@example.com"}]}]"#;
    let c = convert(Source::Keycloak, realms, &ConvertOptions::default()).expect("converts");
    let ids: Vec<&Value> = c.users.iter().map(|u| &u["user_id"]).collect();
    assert_eq!(ids, [&json!("1"), &json!("2")]);

    let err = convert(
        Source::Keycloak,
        br#"{"realm": "acme"}"#,
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Format { .. }), "{err}");
    assert!(err.to_string().contains("-users-"), "{err}");
}

// ---------------------------------------------------------------------------------- Firebase

#[test]
fn firebase_export_converts_field_by_field() {
    let c = run(Source::Firebase, "firebase/users.json", &firebase_options());
    assert_eq!(c.users.len(), 4);
    let parameters = json!({
        "signer_key": SIGNER_KEY,
        "salt_separator": "Bw==",
        "rounds": 8,
        "mem_cost": 14
    });

    assert_eq!(
        user(&c, "fixtureUidAda000000000000001"),
        &json!({
            "email": "ada@example.com",
            "email_verified": true,
            "user_id": "fixtureUidAda000000000000001",
            "name": "Ada Lovelace",
            "picture": "https://example.com/photos/ada.png",
            "phone_number": "+15555550100",
            "app_metadata": { "admin": true, "plan": "pro" },
            "custom_password_hash": {
                "algorithm": "firebase-scrypt",
                "hash": { "value": "Zml4dHVyZS1maXJlYmFzZS1zY3J5cHQtaGFzaC1hZGE=", "encoding": "base64" },
                "salt": { "value": "Zml4dHVyZS1zYWx0", "encoding": "base64" },
                "firebase": parameters
            }
        })
    );
    assert_eq!(
        user(&c, "fixtureUidDisabled000000003"),
        &json!({
            "email": "dora@example.com",
            "email_verified": false,
            "user_id": "fixtureUidDisabled000000003",
            "name": "Dora Disabled",
            "blocked": true
        })
    );
    // Reserved and dotted claim names are dropped; the SMS second factor carries over.
    assert_eq!(
        user(&c, "fixtureUidClaims00000000004"),
        &json!({
            "email": "cla@example.com",
            "email_verified": true,
            "user_id": "fixtureUidClaims00000000004",
            "app_metadata": { "roles": ["editor"] },
            "custom_password_hash": {
                "algorithm": "firebase-scrypt",
                "hash": { "value": "Zml4dHVyZS1maXJlYmFzZS1zY3J5cHQtaGFzaC1jbGE=", "encoding": "base64" },
                "salt": { "value": "Zml4dHVyZS1zYWx0LWM=", "encoding": "base64" },
                "firebase": parameters
            },
            "mfa_factors": [{ "phone": { "value": "+15555550102" } }]
        })
    );
    assert_eq!(
        user(&c, "fixtureUidNoSalt00000000006"),
        &json!({
            "email": "nosalt@example.com",
            "email_verified": true,
            "user_id": "fixtureUidNoSalt00000000006"
        })
    );

    assert_eq!(
        reported(&c),
        pairs(&[
            ("*", "createdAt"),
            ("*", "lastSignedInAt"),
            ("fixtureUidAda000000000000001", "providerUserInfo"),
            ("fixtureUidAnon000000000000005", "email"),
            ("fixtureUidClaims00000000004", "customAttributes.email"),
            ("fixtureUidClaims00000000004", "customAttributes.team.id"),
            ("fixtureUidClaims00000000004", "mfaInfo"),
            ("fixtureUidDisabled000000003", "providerUserInfo"),
            ("fixtureUidNoSalt00000000006", "passwordHash"),
            ("fixtureUidPhone0000000000002", "email"),
        ])
    );
    assert!(reason(&c, "fixtureUidAda000000000000001", "providerUserInfo").contains("google.com"));
    assert!(reason(&c, "fixtureUidClaims00000000004", "mfaInfo").contains("TOTP"));
    assert!(reason(&c, "fixtureUidPhone0000000000002", "email").contains("skipped"));
    assert!(reason(&c, "*", "createdAt").contains("4 records"));
    assert!(reason(&c, "*", "lastSignedInAt").contains("2 records"));
}

#[test]
fn firebase_hashes_need_the_project_hash_parameters() {
    let err = convert(
        Source::Firebase,
        &fixture("firebase/users.json"),
        &ConvertOptions::default(),
    )
    .unwrap_err();
    match err {
        ConvertError::MissingOption(message) => {
            for flag in [
                "--firebase-signer-key",
                "--firebase-salt-separator",
                "--firebase-rounds",
                "--firebase-mem-cost",
            ] {
                assert!(message.contains(flag), "{message}");
            }
        }
        other => panic!("expected a missing option, got {other}"),
    }

    let mut options = firebase_options();
    if let Some(config) = options.firebase.as_mut() {
        config.rounds = 0;
    }
    let err = convert(Source::Firebase, &fixture("firebase/users.json"), &options).unwrap_err();
    assert!(
        matches!(&err, ConvertError::MissingOption(m) if m.contains("--firebase-rounds")),
        "{err}"
    );
}

#[test]
fn firebase_without_hashes_needs_no_parameters_and_url_safe_base64_is_normalised() {
    let plain = br#"{"users": [{"localId": "u1", "email": "u1@example.com"}]}"#;
    let c = convert(Source::Firebase, plain, &ConvertOptions::default()).expect("converts");
    assert_eq!(
        c.users,
        vec![json!({ "email": "u1@example.com", "email_verified": false, "user_id": "u1" })]
    );

    let url_safe = br#"{"users": [{"localId": "u2", "email": "u2@example.com",
                                   "passwordHash": "-_-_", "salt": "_w"}]}"#;
    let c = convert(Source::Firebase, url_safe, &firebase_options()).expect("converts");
    let custom = &c.users[0]["custom_password_hash"];
    assert_eq!(custom["hash"]["value"], "+/+/");
    assert_eq!(custom["salt"]["value"], "/w==");

    let odd = convert(Source::Firebase, b"[1, 2]", &ConvertOptions::default())
        .expect("entries that are not objects are reported, not fatal");
    assert!(odd.users.is_empty());
    assert_eq!(odd.report.len(), 2);
    let err = convert(
        Source::Firebase,
        br#"{"accounts": []}"#,
        &ConvertOptions::default(),
    )
    .unwrap_err();
    assert!(matches!(err, ConvertError::Format { .. }), "{err}");
}
