//! The message header (format version 2): parsing, serialisation, and verification.
//!
//! Specification: `data-format/message-header.md` (version 2 layout, header
//! authentication) and `client-apis/decrypt.md` ("Verify the header").
//!
//! ```text
//! offset  size  field
//! 0       1     version            = 0x02
//! 1       2     algorithm suite    = 0x0478
//! 3       32    message id         random per message
//! 35      2     AAD length         0 for an empty context
//! 37      var   encryption context see crate::context
//! ..      2     EDK count          >= 1
//! ..      var   encrypted data keys see crate::edk
//! ..      1     content type       = 0x02 (framed)
//! ..      4     frame length       > 0
//! ..      32    key commitment     see crate::kdf
//! ..      16    header auth tag    AES-GCM(frame key, IV = 0^12, plaintext = empty,
//!                                          AAD = all header bytes above || serialised
//!                                          authenticate-only context)
//! ```
//!
//! A [`ParsedHeader`] is untrusted: only [`ParsedHeader::verify`], given the data key,
//! checks the key commitment and then the auth tag over the exact bytes received, and
//! yields the [`VerifiedHeader`] from which frame keys come.

use crate::aead::Aead;
use crate::context::{EncryptionContext, PUBLIC_KEY_KEY};
use crate::edk::EncryptedDataKey;
use crate::error::{ContextProblem, Error, Limit, Section, Unsupported};
use crate::kdf;
use crate::keyring::{Keyring, unwrap_any};
use crate::keys::{DataKey, FrameKey};
use crate::policy::{DecryptPolicy, MAX_FRAME_LENGTH};
use crate::suite::{
    COMMITMENT_LEN, CONTENT_TYPE_FRAMED, IV_LEN, MESSAGE_FORMAT_VERSION, MESSAGE_ID_LEN, SUITE_ID, TAG_LEN,
};
use crate::wire::{ReadError, Reader, put_short_bytes};

/// The header auth IV of format version 2: all zeros (the frame key is unique per
/// message, so a fixed IV is never reused under one key).
const HEADER_IV: [u8; IV_LEN] = [0; IV_LEN];

/// The result of offering bytes to the header parser.
#[derive(Debug)]
pub enum HeaderParse {
    /// The header is not complete; at least this many bytes from its start are needed.
    NeedMore(usize),
    /// The header is complete (its length is [`ParsedHeader::len`]).
    Complete(Box<ParsedHeader>),
}

/// A structurally valid header that has not been authenticated yet.
#[derive(Debug)]
pub struct ParsedHeader {
    message_id: [u8; MESSAGE_ID_LEN],
    stored_context: EncryptionContext,
    authenticate_only: EncryptionContext,
    edks: Vec<EncryptedDataKey>,
    frame_length: u32,
    commitment: [u8; COMMITMENT_LEN],
    /// The exact bytes received from the version through the commitment.
    authenticated_bytes: Vec<u8>,
    tag: [u8; TAG_LEN],
}

impl ParsedHeader {
    /// Parses a header from the start of `input` and applies `policy`'s structural
    /// checks and required context. Fails as early as the offending field: a message
    /// of another suite is refused after 3 bytes.
    pub fn parse(input: &[u8], policy: &DecryptPolicy) -> Result<HeaderParse, Error> {
        match Self::read(input, policy) {
            Ok(header) => Ok(HeaderParse::Complete(Box::new(header))),
            Err(ReadError::Incomplete(n)) => Ok(HeaderParse::NeedMore(n)),
            Err(ReadError::Invalid(e)) => Err(e),
        }
    }

    fn read(input: &[u8], policy: &DecryptPolicy) -> Result<Self, ReadError> {
        let mut r = Reader::new(input);
        let version = r.u8()?;
        if version != MESSAGE_FORMAT_VERSION {
            return Err(Error::Unsupported(Unsupported::Version(version)).into());
        }
        let suite = r.u16()?;
        if suite != SUITE_ID {
            return Err(Error::Unsupported(Unsupported::AlgorithmSuite(suite)).into());
        }
        let message_id = r.array()?;
        let stored_context = EncryptionContext::parse(r.short_bytes()?)?;
        if stored_context.get(PUBLIC_KEY_KEY).is_some() {
            // Signing suites store their verification key here; 0x0478 has none.
            return Err(Error::ContextMismatch { key: PUBLIC_KEY_KEY.into(), problem: ContextProblem::Reserved }.into());
        }
        let authenticate_only = check_context(&stored_context, policy)?;

        let edk_count = r.u16()?;
        if edk_count == 0 {
            return Err(Error::Malformed("header has no encrypted data key").into());
        }
        if edk_count > policy.max_encrypted_data_keys {
            return Err(Error::LimitExceeded(Limit::EncryptedDataKeys).into());
        }
        let mut edks = Vec::with_capacity(usize::from(edk_count));
        for _ in 0..edk_count {
            edks.push(EncryptedDataKey::read(&mut r)?);
        }

        let content_type = r.u8()?;
        if content_type != CONTENT_TYPE_FRAMED {
            return Err(Error::Unsupported(Unsupported::ContentType(content_type)).into());
        }
        let frame_length = r.u32()?;
        if frame_length == 0 {
            return Err(Error::Malformed("frame length is zero").into());
        }
        if frame_length > policy.max_frame_length {
            return Err(Error::LimitExceeded(Limit::FrameLength).into());
        }
        let commitment = r.array()?;
        let authenticated_bytes = input[..r.position()].to_vec();
        let tag = r.array()?;
        Ok(Self {
            message_id,
            stored_context,
            authenticate_only,
            edks,
            frame_length,
            commitment,
            authenticated_bytes,
            tag,
        })
    }

    /// The message id (random, 32 bytes).
    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// The context stored in the header (unauthenticated until verified).
    pub fn stored_context(&self) -> &EncryptionContext {
        &self.stored_context
    }

    /// The context keyrings must use as wrapping AAD: stored plus authenticate-only.
    pub fn keyring_context(&self) -> EncryptionContext {
        self.stored_context.union(&self.authenticate_only)
    }

    /// The encrypted data keys, in header order.
    pub fn encrypted_data_keys(&self) -> &[EncryptedDataKey] {
        &self.edks
    }

    /// Plaintext bytes per regular frame.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// The header's length in bytes, auth tag included: where the body starts.
    pub fn len(&self) -> usize {
        self.authenticated_bytes.len() + TAG_LEN
    }

    /// Always false: a header has at least its fixed fields.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Checks the key commitment, then the header auth tag, with the data key a
    /// keyring unwrapped. Only a header that passes both can decrypt frames.
    pub fn verify(self, data_key: &DataKey) -> Result<VerifiedHeader, Error> {
        kdf::verify_commitment(data_key, &self.message_id, &self.commitment)?;
        let frame_key = kdf::frame_key(data_key, &self.message_id);
        let aead = Aead::new(frame_key.expose());
        let header_len = self.len();
        let mut aad = self.authenticated_bytes;
        aad.extend_from_slice(&self.authenticate_only.serialize()?);
        aead.open(&HEADER_IV, &aad, &mut [], &self.tag, Section::Header)?;
        Ok(VerifiedHeader {
            message_id: self.message_id,
            context: self.stored_context.union(&self.authenticate_only),
            frame_length: self.frame_length,
            header_len,
            frame_key,
            aead,
        })
    }
    /// Unwraps the data key with the first of `keyrings` that can, then [`ParsedHeader::verify`]s.
    pub fn verify_with(self, keyrings: &[&dyn Keyring]) -> Result<VerifiedHeader, Error> {
        let data_key = unwrap_any(keyrings, &self.edks, &self.keyring_context())?;
        self.verify(&data_key)
    }
}

/// Checks `policy`'s context requirements against the stored context and returns
/// the pairs that must be appended to the header-auth AAD.
fn check_context(stored: &EncryptionContext, policy: &DecryptPolicy) -> Result<EncryptionContext, Error> {
    for (key, want) in policy.required.iter() {
        match stored.get(key) {
            None => {
                return Err(Error::ContextMismatch { key: key.into(), problem: ContextProblem::Missing });
            }
            Some(have) if have != want => {
                return Err(Error::ContextMismatch { key: key.into(), problem: ContextProblem::WrongValue });
            }
            Some(_) => {}
        }
    }
    let mut authenticate_only = EncryptionContext::new();
    for (key, want) in policy.authenticate_only.iter() {
        match stored.get(key) {
            None => {
                authenticate_only.insert(key, want);
            }
            Some(have) if have != want => {
                return Err(Error::ContextMismatch { key: key.into(), problem: ContextProblem::WrongValue });
            }
            Some(_) => {}
        }
    }
    Ok(authenticate_only)
}

/// A header whose commitment and auth tag verified: the only source of frame keys.
pub struct VerifiedHeader {
    message_id: [u8; MESSAGE_ID_LEN],
    context: EncryptionContext,
    frame_length: u32,
    header_len: usize,
    frame_key: FrameKey,
    pub(crate) aead: Aead,
}

impl VerifiedHeader {
    /// The message id.
    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// The full authenticated context (stored and authenticate-only pairs).
    pub fn context(&self) -> &EncryptionContext {
        &self.context
    }

    /// Plaintext bytes per regular frame.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// The header's length in bytes: the offset of the first frame.
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// The frame key, for callers that run the frame AEAD themselves (WebCrypto).
    pub fn frame_key(&self) -> &FrameKey {
        &self.frame_key
    }
}

impl core::fmt::Debug for VerifiedHeader {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("VerifiedHeader")
            .field("context", &self.context)
            .field("frame_length", &self.frame_length)
            .field("header_len", &self.header_len)
            .finish_non_exhaustive()
    }
}

/// Serialises a new header and its auth tag for an encryptor.
pub(crate) fn write(
    message_id: &[u8; MESSAGE_ID_LEN],
    context: &EncryptionContext,
    edks: &[EncryptedDataKey],
    frame_length: u32,
    data_key: &DataKey,
    aead: &Aead,
) -> Result<Vec<u8>, Error> {
    if frame_length == 0 || frame_length > MAX_FRAME_LENGTH {
        return Err(Error::Misuse("frame length must be between 1 and MAX_FRAME_LENGTH"));
    }
    if edks.is_empty() {
        return Err(Error::Misuse("a message needs at least one encrypted data key"));
    }
    let edk_count = u16::try_from(edks.len()).map_err(|_| Error::LimitExceeded(Limit::EncryptedDataKeys))?;
    let mut out = Vec::with_capacity(256);
    out.push(MESSAGE_FORMAT_VERSION);
    out.extend_from_slice(&SUITE_ID.to_be_bytes());
    out.extend_from_slice(message_id);
    put_short_bytes(&mut out, &context.serialize()?)?;
    out.extend_from_slice(&edk_count.to_be_bytes());
    for edk in edks {
        edk.write(&mut out)?;
    }
    out.push(CONTENT_TYPE_FRAMED);
    out.extend_from_slice(&frame_length.to_be_bytes());
    out.extend_from_slice(&kdf::commitment(data_key, message_id));
    let tag = aead.seal(&HEADER_IV, &out, &mut []);
    out.extend_from_slice(&tag);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(bytes: &[u8]) -> Result<HeaderParse, Error> {
        ParsedHeader::parse(bytes, &DecryptPolicy::default())
    }

    #[test]
    fn refuses_other_versions_and_suites_early() {
        assert_eq!(parse(&[0x01]).unwrap_err(), Error::Unsupported(Unsupported::Version(1)));
        assert_eq!(parse(&[0x02, 0x05, 0x78]).unwrap_err(), Error::Unsupported(Unsupported::AlgorithmSuite(0x0578)));
        assert!(matches!(parse(&[0x02, 0x04]).unwrap(), HeaderParse::NeedMore(3)));
    }
}
