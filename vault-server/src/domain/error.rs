//! The domain's one error type. It says what went wrong in the service's terms;
//! the HTTP layer decides the status and problem document, the CLI prints it.

use std::borrow::Cow;

use crate::api::ErrorCode;
use crate::keys::KeyError;
use crate::store::StoreError;

/// Why a domain operation did not happen.
#[derive(Debug, thiserror::Error)]
pub(crate) enum DomainError {
    /// No such thing in the caller's family (also for other families' ids: existence
    /// is not revealed).
    #[error("not found")]
    NotFound,
    /// The request itself is wrong.
    #[error("{detail}")]
    Invalid { code: ErrorCode, detail: Cow<'static, str> },
    /// The caller may not do this.
    #[error("{detail}")]
    Forbidden { code: ErrorCode, detail: Cow<'static, str> },
    /// The state does not allow it (now).
    #[error("{detail}")]
    Conflict { code: ErrorCode, detail: Cow<'static, str> },
    /// It is gone for good (an erased family, an expired upload).
    #[error("{detail}")]
    Gone { code: ErrorCode, detail: Cow<'static, str> },
    #[error("{0}")]
    TooLarge(Cow<'static, str>),
    #[error("too many requests")]
    RateLimited,
    /// Ciphertext that does not verify or does not fit the recording.
    #[error("{detail}")]
    InvalidCiphertext { detail: String, source: Option<vault_core::Error> },
    /// A dependency (database, KMS, store) cannot be reached: retry later. The cause
    /// is for the log.
    #[error("unavailable: {0}")]
    Unavailable(String),
    /// A fault of the service. The cause is for the log, never for the client.
    #[error("internal: {0}")]
    Internal(String),
}

impl DomainError {
    pub(crate) fn invalid(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Invalid { code: ErrorCode::BadRequest, detail: detail.into() }
    }

    pub(crate) fn forbidden(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Forbidden { code: ErrorCode::Forbidden, detail: detail.into() }
    }

    pub(crate) fn conflict(detail: impl Into<Cow<'static, str>>) -> Self {
        Self::Conflict { code: ErrorCode::Conflict, detail: detail.into() }
    }

    pub(crate) fn internal(cause: impl std::fmt::Display) -> Self {
        Self::Internal(cause.to_string())
    }

    /// Ciphertext refused, with the format's reason.
    pub(crate) fn ciphertext(detail: impl Into<String>, source: Option<vault_core::Error>) -> Self {
        Self::InvalidCiphertext { detail: detail.into(), source }
    }
}

impl From<sqlx::Error> for DomainError {
    /// A database that cannot be reached is a retry-later, not a fault.
    fn from(err: sqlx::Error) -> Self {
        match err {
            sqlx::Error::PoolTimedOut | sqlx::Error::PoolClosed | sqlx::Error::Io(_) => {
                Self::Unavailable(format!("database: {err}"))
            }
            other => Self::Internal(format!("database: {other}")),
        }
    }
}

impl From<StoreError> for DomainError {
    fn from(err: StoreError) -> Self {
        match err {
            StoreError::NotFound | StoreError::UploadNotFound => Self::NotFound,
            StoreError::AlreadyExists => Self::conflict("the object already exists"),
            StoreError::ChecksumMismatch => {
                Self::Invalid { code: ErrorCode::ChecksumMismatch, detail: "the part's SHA-256 does not match".into() }
            }
            StoreError::SizeMismatch => {
                Self::invalid("the body's length does not match its Content-Length or the expected size")
            }
            StoreError::Body(_) => Self::invalid("the upload body broke off"),
            other => Self::Internal(format!("store: {other:?}")),
        }
    }
}

impl From<KeyError> for DomainError {
    fn from(err: KeyError) -> Self {
        match err {
            KeyError::Unavailable(_) => Self::Unavailable(err.to_string()),
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<anyhow::Error> for DomainError {
    fn from(err: anyhow::Error) -> Self {
        Self::Internal(format!("{err:#}"))
    }
}

pub(crate) type DomainResult<T> = Result<T, DomainError>;
