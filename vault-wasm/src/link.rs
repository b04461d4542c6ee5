//! Share links in the browser: vault-core's link items ([`vault_core::link`]: the
//! wrapping key, sealing, opening) and the passphrase key, Argon2id, which vault-core
//! leaves to its callers.

use vault_core::{Error, suite};
use wasm_bindgen::prelude::*;
use zeroize::Zeroizing;

use crate::error::JsResult;
use crate::grant::CallerRandom;

/// Random bytes one sealing takes: a message id, a data key, the wrapping IV.
pub const SEAL_RANDOM_LEN: usize = suite::MESSAGE_ID_LEN + suite::KEY_LEN + suite::IV_LEN;

fn array(bytes: &[u8], what: &'static str) -> Result<Zeroizing<[u8; 32]>, Error> {
    let array: [u8; 32] = bytes.try_into().map_err(|_| Error::Misuse(what))?;
    Ok(Zeroizing::new(array))
}

/// Link `id`'s wrapping key from its 32-byte secret and, for a link with a
/// passphrase, the 32-byte [`passphrase_key`] (empty otherwise).
#[wasm_bindgen(js_name = linkWrappingKey)]
pub fn link_wrapping_key(id: &str, secret: &[u8], passphrase_key: &[u8]) -> JsResult<Vec<u8>> {
    let secret = array(secret, "a link's secret is 32 bytes")?;
    let passphrase =
        if passphrase_key.is_empty() { None } else { Some(array(passphrase_key, "a passphrase key is 32 bytes")?) };
    Ok(vault_core::link::wrapping_key(id, &secret, passphrase.as_deref()).to_vec())
}

/// Seals `plaintext` as an item of link `id` of `family`; `random` is
/// [`SEAL_RANDOM_LEN`] bytes from `crypto.getRandomValues`.
#[wasm_bindgen(js_name = sealForLink)]
pub fn seal_for_link(
    wrapping_key: &[u8],
    id: &str,
    family: &str,
    plaintext: &[u8],
    random: &[u8],
) -> JsResult<Vec<u8>> {
    let key = array(wrapping_key, "a link's wrapping key is 32 bytes")?;
    let mut rng = CallerRandom::of_len(random, SEAL_RANDOM_LEN)?;
    Ok(vault_core::link::seal(&key, id, family, plaintext, &mut rng)?)
}

/// Opens an item of link `id` of `family`.
#[wasm_bindgen(js_name = openFromLink)]
pub fn open_from_link(wrapping_key: &[u8], id: &str, family: &str, message: &[u8]) -> JsResult<Vec<u8>> {
    let key = array(wrapping_key, "a link's wrapping key is 32 bytes")?;
    Ok(vault_core::link::open(&key, id, family, message)?.to_vec())
}

/// The passphrase's share of a link's wrapping key: Argon2id (RFC 9106) of the
/// passphrase with the link's salt, 32 bytes. Memory-hard, so a leaked link without
/// its passphrase is slow to guess.
#[wasm_bindgen(js_name = passphraseKey)]
pub fn passphrase_key(passphrase: &str, salt: &[u8], memory_kib: u32, iterations: u32) -> JsResult<Vec<u8>> {
    Ok(stretch(passphrase, salt, memory_kib, iterations)?.to_vec())
}

pub(crate) fn stretch(
    passphrase: &str,
    salt: &[u8],
    memory_kib: u32,
    iterations: u32,
) -> Result<Zeroizing<[u8; 32]>, Error> {
    let params = argon2::Params::new(memory_kib, iterations, 1, Some(32))
        .map_err(|_| Error::Misuse("Argon2 parameters out of range"))?;
    let argon = argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
    let mut out = Zeroizing::new([0u8; 32]);
    argon
        .hash_password_into(passphrase.as_bytes(), salt, out.as_mut())
        .map_err(|_| Error::Misuse("Argon2 needs a salt of at least 8 bytes"))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_passphrase_key_is_argon2id_as_another_implementation_computes_it() {
        // The same inputs through pyca/cryptography's Argon2id (OpenSSL's):
        // `Argon2id(salt=b"0123456789abcdef", length=32, iterations=2, lanes=1,
        // memory_cost=19456).derive(b"correct horse")`.
        let key = stretch("correct horse", b"0123456789abcdef", 19_456, 2).unwrap();
        let hex: String = key.iter().map(|b| format!("{b:02x}")).collect();
        assert_eq!(hex, "ae4d8c8b713876044c8347c76986a9b5655944aaacfffe9bea4dff9e7b6a1899");
        assert_ne!(*stretch("correct horsf", b"0123456789abcdef", 19_456, 2).unwrap(), *key);
        assert!(stretch("x", b"short", 19_456, 2).is_err());
    }

    #[test]
    fn sealing_takes_exactly_the_random_bytes_it_needs() {
        let key = link_wrapping_key("AAAAAAAAAAAAAAAAAAAAAA", &[7; 32], &[]).unwrap();
        let random: Vec<u8> = (0..SEAL_RANDOM_LEN).map(|i| u8::try_from(i).unwrap() ^ 0x5a).collect();
        let message = seal_for_link(&key, "AAAAAAAAAAAAAAAAAAAAAA", "smiths", b"item", &random).unwrap();
        assert_eq!(open_from_link(&key, "AAAAAAAAAAAAAAAAAAAAAA", "smiths", &message).unwrap(), b"item");
        assert!(seal_for_link(&key, "AAAAAAAAAAAAAAAAAAAAAA", "smiths", b"item", &random[1..]).is_err());
    }
}
