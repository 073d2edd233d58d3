//! What a use case can fail with. The HTTP edge maps each variant once to Auth0's format.

use gatehouse_core::password_policy::PasswordRejection;
use gatehouse_core::payload::InvalidBody;
use gatehouse_store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    InvalidBody(#[from] InvalidBody),
    #[error("{0}")]
    InvalidQuery(String),
    #[error("{0}")]
    InvalidUri(String),
    /// `code` is Auth0's errorCode, e.g. `inexistent_user`.
    #[error("{message}")]
    NotFound { code: &'static str, message: String },
    /// A 400 for a reference to something that does not exist (e.g. a connection name).
    #[error("{message}")]
    BadReference { code: &'static str, message: String },
    #[error("{0}")]
    Conflict(String),
    #[error(transparent)]
    Password(#[from] PasswordRejection),
    #[error("{0}")]
    NotSupported(String),
    /// Refused by a setting of the tenant, connection or application (e.g. sign-ups turned
    /// off); `code` is Auth0's, e.g. `operation_not_allowed`.
    #[error("{message}")]
    NotAllowed { code: &'static str, message: String },
    /// Password hashing is saturated: retry in a moment (a 429 with `Retry-After`).
    #[error("Too many requests are waiting for password checks; retry in a moment")]
    Busy,
    /// A limit on concurrent work (e.g. two active imports per tenant): a 429.
    #[error("{0}")]
    TooManyRequests(String),
    /// A failure of ours that is not the database's: the cause is kept as the source, so the
    /// edge's log names it.
    #[error("internal error: {0}")]
    Internal(#[source] Box<dyn std::error::Error + Send + Sync>),
    #[error(transparent)]
    Store(#[from] StoreError),
    /// A custom database's script refused or failed an operation (400 with `code`):
    /// `message` for administrators (the Management API), `public` for anyone (public
    /// sign-up, the hosted pages), without the cause.
    #[error("{message}")]
    Script {
        code: &'static str,
        message: String,
        public: String,
    },
}

impl ServiceError {
    pub fn user_not_found() -> Self {
        ServiceError::NotFound {
            code: "inexistent_user",
            message: "The user does not exist.".into(),
        }
    }
    /// Auth0's answer to a public sign-up on a connection that has turned them off.
    pub fn signup_disabled() -> Self {
        ServiceError::NotAllowed {
            code: "operation_not_allowed",
            message: "Public signup is disabled".into(),
        }
    }

    /// An internal failure caused by `e` (kept as the source).
    pub fn internal(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        ServiceError::Internal(Box::new(e))
    }

    /// An internal failure whose cause is a broken rule of ours, said in words.
    pub fn broken(what: impl Into<String>) -> Self {
        ServiceError::Internal(Box::new(Broken(what.into())))
    }
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;

/// A failure of ours inside a flow whose answers are not Management API errors (token
/// endpoint, hosted pages, links): the cause is kept, unchanged, until the HTTP edge logs it
/// once with the request id. Users are told to retry (`unavailable`: the database could not
/// be reached, a 503) or that something went wrong (a 500), never that their link, page or
/// code is bad.
#[derive(Debug, Clone)]
pub struct Failure {
    cause: std::sync::Arc<dyn std::error::Error + Send + Sync>,
    unavailable: bool,
}

impl Failure {
    /// A failure that is not an outage (randomness, signing, serialisation).
    pub fn internal(cause: impl std::error::Error + Send + Sync + 'static) -> Self {
        Self {
            cause: std::sync::Arc::new(cause),
            unavailable: false,
        }
    }

    /// The database could not be reached: retrying later may work.
    pub fn is_unavailable(&self) -> bool {
        self.unavailable
    }

    /// The cause and its sources, outermost first, for the log.
    pub fn report(&self) -> String {
        let mut text = self.cause.to_string();
        let mut source = self.cause.source();
        while let Some(s) = source {
            let next = s.to_string();
            // Wrappers often repeat their source's text; say each part once.
            if !text.contains(&next) {
                text.push_str(": ");
                text.push_str(&next);
            }
            source = s.source();
        }
        text
    }
}

/// Something that should hold did not (a missing row another one refers to, ...).
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Broken(pub String);

pub use gatehouse_crypto::random::RandomnessFailed;

/// Two failures are the same only when they are one failure (tests compare refusals).
impl PartialEq for Failure {
    fn eq(&self, other: &Self) -> bool {
        std::sync::Arc::ptr_eq(&self.cause, &other.cause)
    }
}

impl Eq for Failure {}

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.report())
    }
}

impl From<StoreError> for Failure {
    fn from(e: StoreError) -> Self {
        Self {
            unavailable: e.is_outage(),
            cause: std::sync::Arc::new(e),
        }
    }
}

impl From<ServiceError> for Failure {
    fn from(e: ServiceError) -> Self {
        Self {
            unavailable: matches!(&e, ServiceError::Store(s) if s.is_outage()),
            cause: std::sync::Arc::new(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn an_internal_error_keeps_its_cause_as_its_source() {
        let cause = std::io::Error::other("disk quota exceeded on /var/lib/gatehouse");
        let e = ServiceError::internal(cause);
        let source = e.source().map(ToString::to_string);
        assert_eq!(
            source.as_deref(),
            Some("disk quota exceeded on /var/lib/gatehouse")
        );
        let report = Failure::from(e).report();
        assert!(report.contains("disk quota exceeded"), "{report}");
    }

    #[test]
    fn a_broken_rule_says_what_broke() {
        let e = ServiceError::broken("connection of auth0|5f1e is missing");
        assert_eq!(
            e.to_string(),
            "internal error: connection of auth0|5f1e is missing"
        );
        assert!(e.source().is_some());
    }
}
