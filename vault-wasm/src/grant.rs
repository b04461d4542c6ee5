//! The server's data-key grant, as JSON, into vault-core types.

use base64::Engine;
use base64::engine::general_purpose::STANDARD as B64;
use serde::Deserialize;
use vault_core::{DataKey, EncryptedDataKey, EncryptionContext, Error};
use zeroize::{Zeroize, Zeroizing};

/// One encrypted data key as `POST /v1/recordings` returns it (binary fields base64).
#[derive(Deserialize)]
struct EdkJson {
    provider_id: String,
    provider_info: String,
    ciphertext: String,
}

const BAD_EDKS: Error = Error::Malformed("encrypted data keys must be a JSON list of base64 fields");

pub(crate) fn data_key(bytes: &[u8]) -> Result<DataKey, Error> {
    DataKey::try_from_slice(bytes).ok_or(Error::Malformed("a data key is 32 bytes"))
}

/// `[{ "provider_id", "provider_info", "ciphertext" }, …]`.
pub(crate) fn encrypted_data_keys(json: &str) -> Result<Vec<EncryptedDataKey>, Error> {
    let list: Vec<EdkJson> = serde_json::from_str(json).map_err(|_| BAD_EDKS)?;
    list.into_iter()
        .map(|e| {
            Ok(EncryptedDataKey {
                provider_id: e.provider_id,
                provider_info: B64.decode(e.provider_info).map_err(|_| BAD_EDKS)?,
                ciphertext: B64.decode(e.ciphertext).map_err(|_| BAD_EDKS)?,
            })
        })
        .collect()
}

/// `{ "key": "value", … }`.
pub(crate) fn context(json: &str) -> Result<EncryptionContext, Error> {
    let pairs: std::collections::BTreeMap<String, String> = serde_json::from_str(json)
        .map_err(|_| Error::Malformed("an encryption context must be a JSON object of strings"))?;
    Ok(pairs.into_iter().collect())
}

/// A 32-byte message id from the caller's `crypto.getRandomValues` (the crate has no
/// randomness of its own on wasm32, on purpose: one source, the browser's CSPRNG).
pub(crate) struct CallerRandom(Zeroizing<Vec<u8>>);

impl CallerRandom {
    pub(crate) fn new(bytes: &[u8]) -> Result<Self, Error> {
        Self::of_len(bytes, vault_core::suite::MESSAGE_ID_LEN)
    }

    /// Exactly `len` bytes, for an operation that takes that many.
    pub(crate) fn of_len(bytes: &[u8], len: usize) -> Result<Self, Error> {
        if bytes.len() != len || bytes.iter().all(|b| *b == 0) {
            return Err(Error::Misuse("pass as many bytes from crypto.getRandomValues as asked"));
        }
        Ok(Self(Zeroizing::new(bytes.to_vec())))
    }
}

impl rand_core::RngCore for CallerRandom {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        // vault-core asks for exactly the message id; asking for more is a bug here,
        // never an occasion to hand out predictable bytes.
        assert!(dest.len() <= self.0.len(), "caller randomness exhausted");
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0.zeroize();
        *self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for CallerRandom {}
