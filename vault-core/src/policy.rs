//! What a reader demands of a message before it trusts it.

use crate::context::EncryptionContext;

/// The most a frame may hold, in bytes, unless a [`DecryptPolicy`] says otherwise.
/// A decoder holds one frame in memory, so this bounds its memory; 16 MiB is far
/// above the 4 KiB to 1 MiB that SDKs and Vault write.
pub const MAX_FRAME_LENGTH: u32 = 16 * 1024 * 1024;

/// The most encrypted data keys a header may carry unless a [`DecryptPolicy`] says
/// otherwise. Vault writes one per region; with every field at its 16-bit maximum
/// this caps a hostile header near 3 MiB.
pub const MAX_ENCRYPTED_DATA_KEYS: u16 = 16;

/// Requirements and limits for decryption.
#[derive(Debug, Clone)]
pub struct DecryptPolicy {
    /// Pairs the message's stored context must contain, with these values.
    /// Vault requires `vault:tenant` and `vault:object`, so a family's ciphertext
    /// presented under another family's or object's name is refused.
    pub required: EncryptionContext,
    /// Pairs that were authenticated but not stored at encryption (the SDKs'
    /// "required encryption context" CMM). Keys the message does store are compared
    /// instead, as if they were in `required`.
    pub authenticate_only: EncryptionContext,
    /// Refuse headers with more encrypted data keys than this.
    pub max_encrypted_data_keys: u16,
    /// Refuse frame lengths above this.
    pub max_frame_length: u32,
}

impl Default for DecryptPolicy {
    fn default() -> Self {
        Self {
            required: EncryptionContext::new(),
            authenticate_only: EncryptionContext::new(),
            max_encrypted_data_keys: MAX_ENCRYPTED_DATA_KEYS,
            max_frame_length: MAX_FRAME_LENGTH,
        }
    }
}

impl DecryptPolicy {
    /// A policy that requires these context pairs to be stored in the message.
    pub fn requiring(required: EncryptionContext) -> Self {
        Self { required, ..Self::default() }
    }
}
