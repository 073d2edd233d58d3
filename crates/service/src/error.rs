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
