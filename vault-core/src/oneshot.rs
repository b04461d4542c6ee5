//! Whole-message helpers over the streaming API, for small messages and tests.
//! Media goes through [`crate::Encryptor`] and [`crate::Decryptor`] in pieces.

use rand_core::CryptoRngCore;

use crate::context::EncryptionContext;
use crate::decrypt::Decryptor;
use crate::encrypt::Encryptor;
use crate::error::Error;
use crate::keyring::{EncryptionMaterials, Keyring};
use crate::policy::DecryptPolicy;

/// Encrypts `plaintext` as one message.
pub fn encrypt<R: CryptoRngCore + ?Sized>(
    materials: &EncryptionMaterials,
    frame_length: u32,
    plaintext: &[u8],
    rng: &mut R,
) -> Result<Vec<u8>, Error> {
    let mut enc = Encryptor::new(materials, frame_length, rng)?;
    let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / 64 + 512);
    enc.update(plaintext, &mut out)?;
    enc.finish(&mut out)?;
    Ok(out)
}

/// Decrypts a whole message, returning its plaintext and authenticated context.
pub fn decrypt(
    message: &[u8],
    keyrings: &[&dyn Keyring],
    policy: DecryptPolicy,
) -> Result<(Vec<u8>, EncryptionContext), Error> {
    let mut dec = Decryptor::new(policy);
    let mut out = Vec::with_capacity(message.len());
    let header_len = dec.update(message, &mut out)?;
    if dec.header().is_none() {
        return Err(Error::Truncated);
    }
    dec.unlock_with(keyrings)?;
    dec.update(&message[header_len..], &mut out)?;
    let context = dec.verified_header().map(|h| h.context().clone()).unwrap_or_default();
    dec.finish()?;
    Ok((out, context))
}
