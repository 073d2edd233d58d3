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
    #[error("internal error: {0}")]
    Internal(String),
    #[error(transparent)]
    Store(#[from] StoreError),
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

    pub fn internal(e: impl std::fmt::Display) -> Self {
        ServiceError::Internal(e.to_string())
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

/// The system's random number generator failed (ring tells nothing more).
#[derive(Debug, thiserror::Error)]
#[error("the system's random number generator failed")]
pub struct RandomnessFailed;

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
