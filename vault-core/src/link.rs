//! Share links: the key a link's items are sealed under, and the items themselves.
//!
//! A share link is `…/share.html#<id>.<secret>`: `id` is 16 random bytes (base64url)
//! that name the link to the server; `secret` is 32 random bytes that never leave the
//! URL fragment. Each recording the link shows travels as one small message of this
//! crate's format, readable by any official ESDK holding the wrapping key:
//!
//! ```text
//! wrapping key = HKDF-SHA256(salt = id (its base64url text, UTF-8),
//!                            ikm  = secret [32] || passphrase key [32] (links with a passphrase),
//!                            info = "vault share link v1", L = 32)
//! item         = message (suite 0x0478), one raw AES EDK: namespace "vault-link", key name = id,
//!                context {vault:tenant: family, vault:object: "share-link"}
//! ```
//! The passphrase key (Argon2id of the passphrase) is computed by the caller: this
//! crate stays free of password hashing. The id in the salt and the key name binds an
//! item to its link; the context binds it to its family.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::context::EncryptionContext;
use crate::error::Error;
use crate::keyring::{EncryptionMaterials, RawAesKeyring};
use crate::policy::DecryptPolicy;
use crate::suite::KEY_LEN;

/// The raw AES keyring namespace of link items.
pub const NAMESPACE: &str = "vault-link";
/// Every link item's `vault:object`.
pub const OBJECT: &str = "share-link";
const INFO: &[u8] = b"vault share link v1";
/// Link items are small (a key, a title, a poster): one frame size fits them.
const FRAME_LENGTH: u32 = 4096;

/// The wrapping key of link `id` from its secret and, if it has one, its passphrase key.
pub fn wrapping_key(id: &str, secret: &[u8; 32], passphrase_key: Option<&[u8; 32]>) -> Zeroizing<[u8; KEY_LEN]> {
    let mut ikm = Zeroizing::new(Vec::with_capacity(64));
    ikm.extend_from_slice(secret);
    if let Some(p) = passphrase_key {
        ikm.extend_from_slice(p);
    }
    let mut out = Zeroizing::new([0u8; KEY_LEN]);
    hkdf::Hkdf::<sha2::Sha256>::new(Some(id.as_bytes()), &ikm)
        .expand(INFO, out.as_mut())
        .expect("32 bytes is a valid HKDF-SHA256 output length");
    out
}

fn keyring(wrapping_key: &[u8; KEY_LEN], id: &str) -> Result<RawAesKeyring, Error> {
    RawAesKeyring::new(NAMESPACE, id, *wrapping_key)
}

/// Seals `plaintext` as an item of link `id` of `family`.
pub fn seal(
    wrapping_key: &[u8; KEY_LEN],
    id: &str,
    family: &str,
    plaintext: &[u8],
    rng: &mut dyn CryptoRngCore,
) -> Result<Vec<u8>, Error> {
    let keyring = keyring(wrapping_key, id)?;
    let context = EncryptionContext::for_vault_object(family, OBJECT);
    let materials = EncryptionMaterials::generate(context, &[&keyring], rng)?;
    crate::oneshot::encrypt(&materials, FRAME_LENGTH, plaintext, rng)
}

/// Opens an item of link `id` of `family`: another key (a wrong passphrase), another
/// link or family, or any damage is an error.
pub fn open(wrapping_key: &[u8; KEY_LEN], id: &str, family: &str, message: &[u8]) -> Result<Zeroizing<Vec<u8>>, Error> {
    let keyring = keyring(wrapping_key, id)?;
    let policy = DecryptPolicy::requiring(EncryptionContext::for_vault_object(family, OBJECT));
    Ok(Zeroizing::new(crate::oneshot::decrypt(message, &[&keyring], policy)?.0))
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand_core::OsRng;

    const ID: &str = "AAAAAAAAAAAAAAAAAAAAAA";

    fn secret() -> [u8; 32] {
        core::array::from_fn(|i| u8::try_from(i).unwrap())
    }

    /// The same derivation through another implementation (pyca/cryptography):
    /// `HKDF(SHA256(), 32, salt=b"AAAAAAAAAAAAAAAAAAAAAA", info=b"vault share link v1")`
    /// of `bytes(range(32))`, and of that followed by 32 bytes of 0xaa.
    #[test]
    fn the_wrapping_key_is_hkdf_sha256_of_the_secret_and_passphrase_key() {
        let hex = |k: &[u8]| k.iter().map(|b| format!("{b:02x}")).collect::<String>();
        assert_eq!(
            hex(&*wrapping_key(ID, &secret(), None)),
            "9edd06699c9859bbf4478c6123a3e09c0a2e44e54d6dc84232f098a18625163e"
        );
        assert_eq!(
            hex(&*wrapping_key(ID, &secret(), Some(&[0xaa; 32]))),
            "f328c0b89ef3508fef908ffa39fc808f60df6ac1324e956aa9f49e63633bbfc9"
        );
    }

    #[test]
    fn an_item_opens_only_with_its_key_link_and_family() {
        let key = wrapping_key(ID, &secret(), None);
        let message = seal(&key, ID, "smiths", b"{\"title\":\"First scan\"}", &mut OsRng).unwrap();
        assert_eq!(open(&key, ID, "smiths", &message).unwrap().as_slice(), b"{\"title\":\"First scan\"}");
        let with_passphrase = wrapping_key(ID, &secret(), Some(&[1; 32]));
        assert!(open(&with_passphrase, ID, "smiths", &message).is_err(), "a wrong passphrase");
        assert!(open(&key, "BBBBBBBBBBBBBBBBBBBBBB", "smiths", &message).is_err(), "moved to another link");
        assert!(open(&key, ID, "joneses", &message).is_err(), "moved to another family");
        let mut damaged = message.clone();
        let last = damaged.len() - 1;
        damaged[last] ^= 1;
        assert!(open(&key, ID, "smiths", &damaged).is_err());
    }
}
