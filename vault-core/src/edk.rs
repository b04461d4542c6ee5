//! Encrypted data keys: a data key wrapped by one keyring.
//!
//! Specification: `data-format/message-header.md` ("Encrypted Data Keys"):
//!
//! ```text
//! provider_id_len u16 | provider_id (UTF-8) | provider_info_len u16 | provider_info | ciphertext_len u16 | ciphertext
//! ```
//! The meaning of provider info and ciphertext belongs to the keyring that wrote
//! them (see [`crate::keyring`]); the header treats them as opaque bytes.

use core::fmt;

use crate::error::Error;
use crate::wire::{ReadError, Reader, put_short_bytes};

/// One wrapped copy of a message's data key.
#[derive(Clone, PartialEq, Eq)]
pub struct EncryptedDataKey {
    /// Who can unwrap it: `aws-kms`, or a raw keyring's key namespace.
    pub provider_id: String,
    /// Which key: a KMS key ARN, or a raw keyring's key name and wrapping parameters.
    pub provider_info: Vec<u8>,
    /// The wrapped data key. Not secret, but never useful to log.
    pub ciphertext: Vec<u8>,
}

impl EncryptedDataKey {
    pub(crate) fn write(&self, out: &mut Vec<u8>) -> Result<(), Error> {
        put_short_bytes(out, self.provider_id.as_bytes())?;
        put_short_bytes(out, &self.provider_info)?;
        put_short_bytes(out, &self.ciphertext)
    }

    pub(crate) fn read(r: &mut Reader<'_>) -> Result<Self, ReadError> {
        let provider_id = String::from_utf8(r.short_bytes()?.to_vec())
            .map_err(|_| Error::Malformed("encrypted data key provider id is not UTF-8"))?;
        let provider_info = r.short_bytes()?.to_vec();
        let ciphertext = r.short_bytes()?.to_vec();
        Ok(Self { provider_id, provider_info, ciphertext })
    }
}

impl fmt::Debug for EncryptedDataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EncryptedDataKey")
            .field("provider_id", &self.provider_id)
            .field("provider_info_len", &self.provider_info.len())
            .field("ciphertext_len", &self.ciphertext.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_lengths_not_bytes() {
        let edk = EncryptedDataKey {
            provider_id: "aws-kms".into(),
            provider_info: b"arn:k".to_vec(),
            ciphertext: vec![0xAB; 48],
        };
        let shown = format!("{edk:?}");
        assert!(
            shown.contains("aws-kms") && shown.contains("provider_info_len: 5") && shown.contains("ciphertext_len: 48")
        );
        assert!(!shown.contains("171") && !shown.contains("arn:k"), "{shown}");
    }
}
