//! The raw AES keyring, byte-compatible with the official SDKs' raw AES keyrings.
//!
//! Specification: `framework/raw-aes-keyring.md`.
//!
//! ```text
//! provider id   = key namespace (UTF-8)
//! provider info = key name || tag length in bits u32 (= 128) || IV length u32 (= 12) || IV [12]
//! ciphertext    = AES-256-GCM(wrapping key, IV, data key, AAD = serialised encryption context) || tag [16]
//! ```
//! A fresh random IV per wrap; the wrapping AAD binds the data key to the message's
//! full context, so an EDK moved into a message with another context never unwraps.

use core::fmt;

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use super::Keyring;
use crate::aead::Aead;
use crate::context::EncryptionContext;
use crate::edk::EncryptedDataKey;
use crate::error::{Error, Section};
use crate::keys::DataKey;
use crate::suite::{IV_LEN, KEY_LEN, TAG_LEN};

const TAG_LEN_BITS: u32 = 128;
const IV_LEN_U32: u32 = 12;
const _: () = assert!(TAG_LEN * 8 == TAG_LEN_BITS as usize && IV_LEN == IV_LEN_U32 as usize);

/// A 256-bit wrapping key identified by a namespace and a name.
pub struct RawAesKeyring {
    namespace: String,
    name: String,
    aead: Aead,
    // Kept only so the key bytes are zeroized with the keyring.
    _key: Zeroizing<[u8; KEY_LEN]>,
}

impl RawAesKeyring {
    /// A keyring for `key`. The namespace `aws-kms` is reserved for KMS keyrings.
    pub fn new(namespace: impl Into<String>, name: impl Into<String>, key: [u8; KEY_LEN]) -> Result<Self, Error> {
        let namespace = namespace.into();
        if namespace.starts_with("aws-kms") {
            return Err(Error::Misuse("the key namespace aws-kms is reserved for KMS keyrings"));
        }
        let key = Zeroizing::new(key);
        Ok(Self { namespace, name: name.into(), aead: Aead::new(&key), _key: key })
    }

    /// The IV if `edk` names this keyring's key with the only parameters it writes.
    fn matching_iv(&self, edk: &EncryptedDataKey) -> Option<[u8; IV_LEN]> {
        if edk.provider_id != self.namespace || edk.ciphertext.len() != KEY_LEN + TAG_LEN {
            return None;
        }
        let info = edk.provider_info.strip_prefix(self.name.as_bytes())?;
        let (tag_bits, rest) = info.split_first_chunk::<4>()?;
        let (iv_len, iv) = rest.split_first_chunk::<4>()?;
        let iv: [u8; IV_LEN] = iv.try_into().ok()?;
        (u32::from_be_bytes(*tag_bits) == TAG_LEN_BITS && u32::from_be_bytes(*iv_len) == IV_LEN_U32).then_some(iv)
    }
}

impl Keyring for RawAesKeyring {
    fn wrap(
        &self,
        data_key: &DataKey,
        context: &EncryptionContext,
        rng: &mut dyn CryptoRngCore,
    ) -> Result<EncryptedDataKey, Error> {
        let mut iv = [0u8; IV_LEN];
        rng.fill_bytes(&mut iv);
        let mut ciphertext = data_key.expose().to_vec();
        let tag = self.aead.seal(&iv, &context.serialize()?, &mut ciphertext);
        ciphertext.extend_from_slice(&tag);

        let mut provider_info = Vec::with_capacity(self.name.len() + 8 + IV_LEN);
        provider_info.extend_from_slice(self.name.as_bytes());
        provider_info.extend_from_slice(&TAG_LEN_BITS.to_be_bytes());
        provider_info.extend_from_slice(&IV_LEN_U32.to_be_bytes());
        provider_info.extend_from_slice(&iv);
        Ok(EncryptedDataKey { provider_id: self.namespace.clone(), provider_info, ciphertext })
    }

    fn unwrap(&self, edks: &[EncryptedDataKey], context: &EncryptionContext) -> Result<Option<DataKey>, Error> {
        let aad = context.serialize()?;
        for edk in edks {
            let Some(iv) = self.matching_iv(edk) else {
                continue;
            };
            let (wrapped, tag) = edk.ciphertext.split_at(KEY_LEN);
            let tag: [u8; TAG_LEN] = tag.try_into().expect("length checked by matching_iv");
            let mut key = Zeroizing::new([0u8; KEY_LEN]);
            key.copy_from_slice(wrapped);
            // A failure here means another key with the same name, or another context:
            // the specification says to try the next EDK.
            if self.aead.open(&iv, &aad, key.as_mut(), &tag, Section::DataKey).is_ok() {
                return Ok(Some(DataKey::from_bytes(*key)));
            }
        }
        Ok(None)
    }
}

impl fmt::Debug for RawAesKeyring {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RawAesKeyring")
            .field("namespace", &self.namespace)
            .field("name", &self.name)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
        pairs.iter().copied().collect()
    }

    #[test]
    fn wraps_in_the_specified_layout_and_unwraps() {
        let keyring = RawAesKeyring::new("ns", "name", [1; KEY_LEN]).unwrap();
        let dk = DataKey::from_bytes([2; KEY_LEN]);
        let c = ctx(&[("a", "b")]);
        let edk = keyring.wrap(&dk, &c, &mut OsRng).unwrap();
        assert_eq!(edk.provider_id, "ns");
        assert_eq!(&edk.provider_info[..4], b"name");
        assert_eq!(&edk.provider_info[4..12], &[0, 0, 0, 128, 0, 0, 0, 12]);
        assert_eq!(edk.provider_info.len(), 4 + 8 + 12);
        assert_eq!(edk.ciphertext.len(), 48);
        let edks = [edk];
        let back = keyring.unwrap(&edks, &c).unwrap().unwrap();
        assert_eq!(back.expose(), dk.expose());
        // Another context, name or key never unwraps.
        assert!(keyring.unwrap(&edks, &ctx(&[("a", "c")])).unwrap().is_none());
        let other = RawAesKeyring::new("ns", "name", [9; KEY_LEN]).unwrap();
        assert!(other.unwrap(&edks, &c).unwrap().is_none());
        let renamed = RawAesKeyring::new("ns", "nam", [1; KEY_LEN]).unwrap();
        assert!(renamed.unwrap(&edks, &c).unwrap().is_none());
    }

    /// Only EDKs in the one layout this keyring writes are tried: a 48-byte
    /// ciphertext, a 128-bit tag and a 12-byte IV. Any other shape is someone
    /// else's, skipped without an error (and without a panic on its lengths).
    #[test]
    fn skips_edks_of_other_shapes() {
        let keyring = RawAesKeyring::new("ns", "name", [1; KEY_LEN]).unwrap();
        let c = ctx(&[("a", "b")]);
        let good = keyring.wrap(&DataKey::from_bytes([2; KEY_LEN]), &c, &mut OsRng).unwrap();
        let altered = |change: &dyn Fn(&mut EncryptedDataKey)| {
            let mut edk = good.clone();
            change(&mut edk);
            keyring.unwrap(&[edk], &c).unwrap().map(|k| *k.expose())
        };
        assert_eq!(altered(&|_| ()), Some([2; KEY_LEN]));
        assert_eq!(altered(&|e| e.provider_id = "other".into()), None);
        assert_eq!(altered(&|e| e.ciphertext.truncate(47)), None);
        assert_eq!(altered(&|e| e.ciphertext.push(0)), None);
        // Tag length 96 bits, or IV length 16, with everything else intact.
        assert_eq!(altered(&|e| e.provider_info[4 + 3] = 96), None);
        assert_eq!(altered(&|e| e.provider_info[4 + 7] = 16), None);
        assert_eq!(altered(&|e| e.provider_info.push(0)), None);
    }

    #[test]
    fn debug_hides_the_key() {
        let keyring = RawAesKeyring::new("ns", "name", [0x5A; KEY_LEN]).unwrap();
        let shown = format!("{keyring:?}");
        assert!(!shown.contains("90") && !shown.contains("5a") && !shown.contains("5A"), "{shown}");
        assert!(shown.contains("\"ns\"") && shown.contains("\"name\""), "{shown}");
    }

    #[test]
    fn refuses_kms_namespace() {
        assert!(RawAesKeyring::new("aws-kms", "x", [0; KEY_LEN]).is_err());
    }
}
