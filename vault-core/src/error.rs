//! The one error type of vault-core.
//!
//! Every failure a caller can act on differently has its own variant. All
//! authentication failures (a header or frame tag that does not verify) share one
//! variant and say only *where* they happened, never why: the difference between
//! "wrong key" and "tampered byte" is not something an attacker should learn.
//! No variant carries key bytes or plaintext.

use core::fmt;

/// Convenience alias used throughout the crate.
pub type Result<T, E = Error> = core::result::Result<T, E>;

/// Everything that can go wrong while encrypting or decrypting a message.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// The bytes are not a well-formed message (a field has an impossible value).
    Malformed(&'static str),
    /// A well-formed message that uses a feature Vault deliberately does not implement.
    Unsupported(Unsupported),
    /// The input ended before the message did (no final frame, or inside the header).
    Truncated,
    /// Bytes follow the final frame.
    TrailingData,
    /// A frame arrived with another sequence number than the next one expected:
    /// frames were reordered, duplicated, dropped or spliced in.
    FrameOutOfOrder {
        /// The sequence number the decoder expected.
        expected: u32,
        /// The sequence number the frame carries.
        found: u32,
    },
    /// An authentication tag did not verify: the message was altered, or the key is wrong.
    AuthenticationFailed(Section),
    /// The data key does not match the key commitment in the header.
    CommitmentMismatch,
    /// The encryption context does not satisfy the caller's requirements.
    ContextMismatch {
        /// The context key at fault.
        key: String,
        /// What is wrong with it.
        problem: ContextProblem,
    },
    /// No keyring could unwrap any of the message's encrypted data keys.
    NoUsableDataKey,
    /// The message exceeds one of the decoder's documented limits.
    LimitExceeded(Limit),
    /// The API was used in a way that can never succeed (a caller bug, not bad input).
    Misuse(&'static str),
}

/// What part of a message an authentication failure concerns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Section {
    /// The header authentication tag.
    Header,
    /// The frame with this sequence number.
    Frame(u32),
    /// An encrypted data key (wrapping layer of a keyring).
    DataKey,
}

/// Features of the message format that Vault refuses by design.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Unsupported {
    /// Message format version other than 2 (version 1 has no key commitment).
    Version(u8),
    /// Any algorithm suite other than 0x0478.
    AlgorithmSuite(u16),
    /// Non-framed content (content type 0x01) cannot be streamed or seeked.
    ContentType(u8),
}

/// Why an encryption-context entry was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ContextProblem {
    /// A required key is absent from the message.
    Missing,
    /// A required key is present with another value.
    WrongValue,
    /// The key starts with the reserved prefix `aws-crypto-`.
    Reserved,
    /// A key appears twice in the serialised context.
    Duplicate,
}

/// The decoder limits that protect against hostile headers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// More encrypted data keys than [`crate::DecryptPolicy::max_encrypted_data_keys`].
    EncryptedDataKeys,
    /// A frame length above [`crate::DecryptPolicy::max_frame_length`] or [`crate::MAX_FRAME_LENGTH`].
    FrameLength,
    /// An encryption context whose serialisation exceeds 65 535 bytes.
    ContextSize,
    /// A field longer than its 16-bit length prefix allows.
    FieldLength,
    /// More than 2^32 - 1 frames in one message.
    FrameCount,
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Malformed(what) => write!(f, "malformed message: {what}"),
            Error::Unsupported(u) => write!(f, "unsupported message: {u}"),
            Error::Truncated => f.write_str("message is truncated: the input ended before the final frame"),
            Error::TrailingData => f.write_str("unexpected bytes after the final frame"),
            Error::FrameOutOfOrder { expected, found } => write!(
                f,
                "frame out of order: expected sequence number {expected}, found {found} (frames reordered, duplicated or dropped)"
            ),
            Error::AuthenticationFailed(section) => match section {
                Section::Header => {
                    f.write_str("header authentication failed: the message was altered or the key is wrong")
                }
                Section::Frame(seq) => write!(f, "frame {seq} failed authentication: the message was altered"),
                Section::DataKey => f.write_str("encrypted data key failed authentication"),
            },
            Error::CommitmentMismatch => {
                f.write_str("key commitment mismatch: the data key does not belong to this message")
            }
            Error::ContextMismatch { key, problem } => {
                let problem = match problem {
                    ContextProblem::Missing => "is required but missing from the message",
                    ContextProblem::WrongValue => "has another value than required",
                    ContextProblem::Reserved => "uses the reserved prefix aws-crypto-",
                    ContextProblem::Duplicate => "appears more than once",
                };
                write!(f, "encryption context key {key:?} {problem}")
            }
            Error::NoUsableDataKey => f.write_str("no keyring could decrypt any of the message's encrypted data keys"),
            Error::LimitExceeded(limit) => {
                let what = match limit {
                    Limit::EncryptedDataKeys => "too many encrypted data keys",
                    Limit::FrameLength => "frame length too large",
                    Limit::ContextSize => "encryption context too large",
                    Limit::FieldLength => "field longer than 65535 bytes",
                    Limit::FrameCount => "more than 2^32 - 1 frames",
                };
                write!(f, "limit exceeded: {what}")
            }
            Error::Misuse(what) => write!(f, "API misuse: {what}"),
        }
    }
}

impl fmt::Display for Unsupported {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Unsupported::Version(v) => {
                write!(f, "message format version {v} (only version 2 is read)")
            }
            Unsupported::AlgorithmSuite(id) => {
                write!(f, "algorithm suite 0x{id:04X} (only 0x0478, AES_256_GCM_HKDF_SHA512_COMMIT_KEY, is read)")
            }
            Unsupported::ContentType(t) => write!(f, "content type 0x{t:02X} (only framed content, 0x02, is read)"),
        }
    }
}

impl std::error::Error for Error {}

#[cfg(test)]
mod tests {
    use super::*;

    /// Messages carry the details a reader acts on (which frame, which key, which
    /// suite); callers branch on the variant, never on this text.
    #[test]
    fn messages_carry_their_details() {
        let cases = [
            (Error::Malformed("frame length is zero"), "frame length is zero"),
            (Error::Unsupported(Unsupported::Version(1)), "version 1 "),
            (Error::Unsupported(Unsupported::AlgorithmSuite(0x0578)), "0x0578"),
            (Error::Unsupported(Unsupported::ContentType(1)), "0x01"),
            (Error::FrameOutOfOrder { expected: 3, found: 5 }, "expected sequence number 3, found 5"),
            (Error::AuthenticationFailed(Section::Frame(7)), "frame 7"),
            (
                Error::ContextMismatch { key: "vault:tenant".into(), problem: ContextProblem::Missing },
                "\"vault:tenant\"",
            ),
            (Error::LimitExceeded(Limit::EncryptedDataKeys), "encrypted data keys"),
            (Error::Misuse("unlock twice"), "unlock twice"),
        ];
        for (err, detail) in cases {
            assert!(err.to_string().contains(detail), "{err:?} shows as {err}");
        }
    }
}
