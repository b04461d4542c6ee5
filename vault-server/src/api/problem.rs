//! RFC 9457 problem documents: every refusal, with a stable code.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// An error answer (`application/problem+json`). `type` is `urn:vault:<code>`, the
/// stable part: clients decide on it, never on `detail`, which is for people.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub(crate) struct Problem {
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    pub detail: String,
}

/// Every code a problem document may carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum ErrorCode {
    BadRequest,
    Unauthenticated,
    Forbidden,
    NotFound,
    Conflict,
    RateLimited,
    TooLarge,
    Internal,
    Unavailable,
    Timeout,
    FamilyErased,
    LengthRequired,
    ChecksumMismatch,
    Range,
    Expired,
    InvalidCiphertext,
    UploadBusy,
    UnknownHost,
    SignInCode,
    ContentType,
    MalformedJson,
    InvalidBody,
    InvalidQuery,
    InvalidPath,
    MethodNotAllowed,
}

impl ErrorCode {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Self::BadRequest => "bad-request",
            Self::Unauthenticated => "unauthenticated",
            Self::Forbidden => "forbidden",
            Self::NotFound => "not-found",
            Self::Conflict => "conflict",
            Self::RateLimited => "rate-limited",
            Self::TooLarge => "too-large",
            Self::Internal => "internal",
            Self::Unavailable => "unavailable",
            Self::Timeout => "timeout",
            Self::FamilyErased => "family-erased",
            Self::LengthRequired => "length-required",
            Self::ChecksumMismatch => "checksum-mismatch",
            Self::Range => "range",
            Self::Expired => "expired",
            Self::InvalidCiphertext => "invalid-ciphertext",
            Self::UploadBusy => "upload-busy",
            Self::UnknownHost => "unknown-host",
            Self::SignInCode => "sign-in-code",
            Self::ContentType => "content-type",
            Self::MalformedJson => "malformed-json",
            Self::InvalidBody => "invalid-body",
            Self::InvalidQuery => "invalid-query",
            Self::InvalidPath => "invalid-path",
            Self::MethodNotAllowed => "method-not-allowed",
        }
    }
}
