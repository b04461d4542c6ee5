//! Secret key types. They zeroize on drop, print as `DataKey(..)`, and have no `Clone`
//! unless a flow needs one.

use core::fmt;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::suite::KEY_LEN;

/// A plaintext data key: the per-message secret from which the frame key and the key
/// commitment are derived. Wrapped by keyrings, never stored in the clear.
pub struct DataKey(Zeroizing<[u8; KEY_LEN]>);

impl DataKey {
    /// Draws a fresh data key from a cryptographic RNG.
    pub fn generate<R: CryptoRngCore + ?Sized>(rng: &mut R) -> Self {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        rng.fill_bytes(key.as_mut());
        Self(key)
    }

    /// Wraps key bytes obtained elsewhere (e.g. a KMS `GenerateDataKey` response).
    pub fn from_bytes(bytes: [u8; KEY_LEN]) -> Self {
        Self(Zeroizing::new(bytes))
    }

    /// Copies key bytes from a slice of exactly [`KEY_LEN`] bytes.
    pub fn try_from_slice(bytes: &[u8]) -> Option<Self> {
        let mut key = Zeroizing::new([0u8; KEY_LEN]);
        if bytes.len() != KEY_LEN {
            return None;
        }
        key.copy_from_slice(bytes);
        Some(Self(key))
    }

    /// The key bytes, for keyrings and key derivation only.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }

    /// A second handle on the same key. Explicit because every copy of a secret
    /// is one more to zeroize; the server needs one for its key-release cache.
    pub fn duplicate(&self) -> Self {
        Self(Zeroizing::new(*self.0))
    }
}

impl fmt::Debug for DataKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DataKey").finish_non_exhaustive()
    }
}

/// The AES-256 key that encrypts a message's frames and authenticates its header,
/// derived from a [`DataKey`] and the message id.
pub struct FrameKey(pub(crate) Zeroizing<[u8; KEY_LEN]>);

impl FrameKey {
    /// The key bytes, for callers that run the frame AEAD elsewhere (WebCrypto in
    /// the browser). Everything else about the frame is computed by this crate.
    pub fn expose(&self) -> &[u8; KEY_LEN] {
        &self.0
    }
}

impl fmt::Debug for FrameKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FrameKey").finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let key = DataKey::from_bytes([0xAB; KEY_LEN]);
        let shown = format!("{key:?}");
        assert_eq!(shown, "DataKey { .. }");
        assert!(!shown.to_lowercase().contains("ab"));
        let frame_key = FrameKey(Zeroizing::new([0xAB; KEY_LEN]));
        assert_eq!(format!("{frame_key:?}"), "FrameKey { .. }");
        assert_eq!(frame_key.expose(), &[0xAB; KEY_LEN]);
    }

    #[test]
    fn from_slice_checks_length() {
        assert!(DataKey::try_from_slice(&[0; 31]).is_none());
        assert!(DataKey::try_from_slice(&[0; 32]).is_some());
    }
}
