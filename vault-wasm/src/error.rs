//! Errors as JavaScript sees them: an `Error` whose `name` is `"VaultError"`, whose
//! `code` is one of [`ErrorCode`] (one per `vault_core::Error` variant, stable: the
//! page decides on it) and whose `message` is for people (vault-core's text, which
//! never holds key bytes or plaintext). Code that reads the message to decide is a
//! bug waiting for a reworded sentence; the page switches on `code`.

use vault_core::Error;
use wasm_bindgen::prelude::*;

/// The `code` of every error vault-wasm throws (the generated TypeScript declares it
/// as a union of these strings, so `tsc` checks every comparison the page makes).
#[wasm_bindgen]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorCode {
    /// `Error::Malformed`: a field has an impossible value (also a grant that is not
    /// the JSON the server sends, or a data key that is not 32 bytes).
    Malformed = "malformed",
    /// `Error::Unsupported`: another format version, algorithm suite or content type.
    Unsupported = "unsupported",
    /// `Error::Truncated`: the bytes ended before the message (or the span) did.
    Truncated = "truncated",
    /// `Error::TrailingData`: bytes after the final frame (or after the header).
    TrailingData = "trailing-data",
    /// `Error::FrameOutOfOrder`: frames reordered, duplicated, dropped or spliced in.
    FrameOutOfOrder = "frame-out-of-order",
    /// `Error::AuthenticationFailed`: a header or frame tag did not verify.
    AuthenticationFailed = "authentication-failed",
    /// `Error::CommitmentMismatch`: the data key does not belong to this message.
    CommitmentMismatch = "commitment-mismatch",
    /// `Error::ContextMismatch`: the message is not the recording the page asked for.
    ContextMismatch = "context-mismatch",
    /// `Error::NoUsableDataKey`: no keyring could unwrap a data key.
    NoUsableDataKey = "no-usable-data-key",
    /// `Error::LimitExceeded`: beyond one of the decoder's documented limits.
    LimitExceeded = "limit-exceeded",
    /// `Error::Misuse`: the page called vault-wasm in a way that can never succeed.
    Misuse = "misuse",
    /// A `vault_core::Error` variant newer than this list (the enum is non-exhaustive).
    Unknown = "unknown",
}

impl ErrorCode {
    /// The code of a vault-core error.
    pub fn of(e: &Error) -> Self {
        match e {
            Error::Malformed(_) => Self::Malformed,
            Error::Unsupported(_) => Self::Unsupported,
            Error::Truncated => Self::Truncated,
            Error::TrailingData => Self::TrailingData,
            Error::FrameOutOfOrder { .. } => Self::FrameOutOfOrder,
            Error::AuthenticationFailed(_) => Self::AuthenticationFailed,
            Error::CommitmentMismatch => Self::CommitmentMismatch,
            Error::ContextMismatch { .. } => Self::ContextMismatch,
            Error::NoUsableDataKey => Self::NoUsableDataKey,
            Error::LimitExceeded(_) => Self::LimitExceeded,
            Error::Misuse(_) => Self::Misuse,
            _ => Self::Unknown,
        }
    }

    /// The code as JavaScript reads it.
    pub fn as_str(self) -> &'static str {
        self.to_str()
    }
}

/// Every code a vault-wasm error may carry (for the page's tests and type checks).
#[wasm_bindgen(js_name = errorCodes)]
pub fn error_codes() -> Vec<ErrorCode> {
    ALL.to_vec()
}

const ALL: [ErrorCode; 12] = [
    ErrorCode::Malformed,
    ErrorCode::Unsupported,
    ErrorCode::Truncated,
    ErrorCode::TrailingData,
    ErrorCode::FrameOutOfOrder,
    ErrorCode::AuthenticationFailed,
    ErrorCode::CommitmentMismatch,
    ErrorCode::ContextMismatch,
    ErrorCode::NoUsableDataKey,
    ErrorCode::LimitExceeded,
    ErrorCode::Misuse,
    ErrorCode::Unknown,
];

/// A vault-core error on its way to JavaScript, where it becomes an `Error` with
/// `name`, `code` and `message` (see the module docs).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VaultError(Error);

impl VaultError {
    /// The stable code.
    pub fn code(&self) -> ErrorCode {
        ErrorCode::of(&self.0)
    }
}

impl From<Error> for VaultError {
    fn from(e: Error) -> Self {
        Self(e)
    }
}

#[wasm_bindgen]
extern "C" {
    /// JavaScript's own `Error` (with a stack), given the two properties the page reads.
    #[wasm_bindgen(js_name = Error)]
    type JsErrorObject;

    #[wasm_bindgen(constructor, js_class = Error)]
    fn new(message: &str) -> JsErrorObject;

    #[wasm_bindgen(method, setter, js_class = Error)]
    fn set_name(this: &JsErrorObject, name: &str);

    #[wasm_bindgen(method, setter, js_class = Error)]
    fn set_code(this: &JsErrorObject, code: &str);
}

impl From<VaultError> for JsValue {
    fn from(e: VaultError) -> Self {
        let object = JsErrorObject::new(&e.0.to_string());
        object.set_name("VaultError");
        object.set_code(e.code().as_str());
        object.into()
    }
}

/// The result of every exported function that can fail.
pub type JsResult<T> = Result<T, VaultError>;

#[cfg(test)]
mod tests {
    use super::*;
    use vault_core::{ContextProblem, Limit, Section, Unsupported};

    #[test]
    fn every_core_error_has_its_own_code() {
        let errors = [
            Error::Malformed("x"),
            Error::Unsupported(Unsupported::Version(1)),
            Error::Truncated,
            Error::TrailingData,
            Error::FrameOutOfOrder { expected: 1, found: 2 },
            Error::AuthenticationFailed(Section::Frame(3)),
            Error::CommitmentMismatch,
            Error::ContextMismatch { key: "vault:object".into(), problem: ContextProblem::WrongValue },
            Error::NoUsableDataKey,
            Error::LimitExceeded(Limit::FrameCount),
            Error::Misuse("x"),
        ];
        let codes: Vec<&str> = errors.iter().map(|e| ErrorCode::of(e).as_str()).collect();
        assert_eq!(
            codes,
            [
                "malformed",
                "unsupported",
                "truncated",
                "trailing-data",
                "frame-out-of-order",
                "authentication-failed",
                "commitment-mismatch",
                "context-mismatch",
                "no-usable-data-key",
                "limit-exceeded",
                "misuse",
            ]
        );
        // The published list is exactly these, plus the one for variants added later.
        let all: Vec<&str> = error_codes().into_iter().map(ErrorCode::as_str).collect();
        assert_eq!(all[..codes.len()], codes[..]);
        assert_eq!(all[codes.len()..], ["unknown"]);
    }

    #[test]
    fn one_authentication_code_wherever_the_tag_failed() {
        for section in [Section::Header, Section::Frame(1), Section::DataKey] {
            assert_eq!(ErrorCode::of(&Error::AuthenticationFailed(section)), ErrorCode::AuthenticationFailed);
        }
    }
}
