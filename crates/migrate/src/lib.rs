//! Converters from other identity providers' user exports to Auth0's bulk-import schema
//! (a JSON array of users, see `docs/migration/`). Each source lives in its own module with
//! one entry point, `convert(input, options)`; what a converter cannot map is reported, never
//! silently dropped.

pub mod auth0;
mod common;
pub mod firebase;
pub mod gigya;
pub mod keycloak;
pub mod okta;
pub mod stormpath;

use serde_json::Value;

/// The systems `gatehouse convert --from` knows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Auth0,
    Okta,
    Gigya,
    Stormpath,
    Keycloak,
    Firebase,
}

impl Source {
    pub const ALL: [Source; 6] = [
        Source::Auth0,
        Source::Okta,
        Source::Gigya,
        Source::Stormpath,
        Source::Keycloak,
        Source::Firebase,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Source::Auth0 => "auth0",
            Source::Okta => "okta",
            Source::Gigya => "gigya",
            Source::Stormpath => "stormpath",
            Source::Keycloak => "keycloak",
            Source::Firebase => "firebase",
        }
    }

    pub fn parse(name: &str) -> Option<Source> {
        Source::ALL.into_iter().find(|s| s.name() == name)
    }
}

/// Inputs some sources keep outside the user export itself.
#[derive(Clone, Debug, Default)]
pub struct ConvertOptions {
    /// Auth0: the password-hash export (NDJSON) Auth0 support hands over on request.
    pub password_hashes: Option<Vec<u8>>,
    /// Firebase: the project's password hash parameters (console → Authentication → Users →
    /// "Password hash parameters").
    pub firebase: Option<FirebaseHashConfig>,
}

#[derive(Clone, Debug)]
pub struct FirebaseHashConfig {
    /// `base64_signer_key`, standard base64.
    pub signer_key: String,
    /// `base64_salt_separator`, standard base64.
    pub salt_separator: String,
    pub rounds: u32,
    pub mem_cost: u32,
}

/// The converted users (objects in Auth0's import schema) and what could not be carried over.
#[derive(Debug, Default)]
pub struct Conversion {
    pub users: Vec<Value>,
    pub report: Vec<Unmapped>,
}

/// One thing a converter left behind: which record (the source's id, or its index), which
/// source field, and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Unmapped {
    pub record: String,
    pub field: String,
    pub reason: String,
}

impl Unmapped {
    pub fn new(
        record: impl Into<String>,
        field: impl Into<String>,
        reason: impl Into<String>,
    ) -> Self {
        Self {
            record: record.into(),
            field: field.into(),
            reason: reason.into(),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConvertError {
    /// The input is not in the source's export format at all.
    #[error("not a {system} export: {reason}")]
    Format {
        system: &'static str,
        reason: String,
    },
    /// A required side input is missing (e.g. Firebase hash parameters).
    #[error("{0}")]
    MissingOption(String),
}

/// Converts one export.
pub fn convert(
    source: Source,
    input: &[u8],
    options: &ConvertOptions,
) -> Result<Conversion, ConvertError> {
    match source {
        Source::Auth0 => auth0::convert(input, options),
        Source::Okta => okta::convert(input, options),
        Source::Gigya => gigya::convert(input, options),
        Source::Stormpath => stormpath::convert(input, options),
        Source::Keycloak => keycloak::convert(input, options),
        Source::Firebase => firebase::convert(input, options),
    }
}
