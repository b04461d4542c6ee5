#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Helpers shared by vault-core's integration tests.
#![allow(dead_code, unreachable_pub)]

use rand_core::OsRng;
use vault_core::{
    DecryptPolicy, Decryptor, EncryptionContext, EncryptionMaterials, Encryptor, Error, Keyring, RawAesKeyring,
};

pub fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("vault-test", "key-1", [0x42; 32]).expect("valid keyring")
}

pub fn ctx(pairs: &[(&str, &str)]) -> EncryptionContext {
    pairs.iter().copied().collect()
}

pub fn family_ctx() -> EncryptionContext {
    ctx(&[("vault:tenant", "family-a"), ("vault:object", "obj-1")])
}

/// Encrypts `plaintext`, feeding the encryptor pieces of the given sizes (cycled).
pub fn encrypt_in_pieces(plaintext: &[u8], frame_length: u32, pieces: &[usize], context: EncryptionContext) -> Vec<u8> {
    let k = keyring();
    let materials = EncryptionMaterials::generate(context, &[&k as &dyn Keyring], &mut OsRng).expect("materials");
    let mut enc = Encryptor::new(&materials, frame_length, &mut OsRng).expect("encryptor");
    let mut out = Vec::new();
    let mut rest = plaintext;
    let mut sizes = pieces.iter().copied().filter(|&n| n > 0).cycle();
    while !rest.is_empty() {
        let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
        enc.update(&rest[..n], &mut out).expect("update");
        rest = &rest[n..];
    }
    enc.finish(&mut out).expect("finish");
    out
}

pub fn encrypt(plaintext: &[u8], frame_length: u32) -> Vec<u8> {
    encrypt_in_pieces(plaintext, frame_length, &[usize::MAX], family_ctx())
}

/// Decrypts feeding pieces of the given sizes (cycled). Returns the plaintext
/// released before any error, and the outcome.
pub fn decrypt_in_pieces(
    message: &[u8],
    pieces: &[usize],
    policy: DecryptPolicy,
    keyrings: &[&dyn Keyring],
) -> (Vec<u8>, Result<(), Error>) {
    let mut dec = Decryptor::new(policy);
    let mut out = Vec::new();
    let mut rest = message;
    let mut sizes = pieces.iter().copied().filter(|&n| n > 0).cycle();
    let result = (|| {
        while !rest.is_empty() {
            let n = sizes.next().unwrap_or(rest.len()).min(rest.len());
            let mut piece = &rest[..n];
            while !piece.is_empty() {
                let used = dec.update(piece, &mut out)?;
                piece = &piece[used..];
                if dec.header().is_some() {
                    dec.unlock_with(keyrings)?;
                } else {
                    // Only a completed header may leave input unconsumed; fail fast
                    // rather than loop forever.
                    assert!(used > 0, "the decryptor consumed nothing of {} bytes", piece.len());
                }
            }
            rest = &rest[n..];
        }
        if dec.header().is_some() {
            dec.unlock_with(keyrings)?;
        }
        Ok(())
    })();
    let result = result.and_then(|()| dec.finish());
    (out, result)
}

pub fn decrypt(message: &[u8]) -> Result<Vec<u8>, Error> {
    let k = keyring();
    let (out, result) = decrypt_in_pieces(message, &[usize::MAX], DecryptPolicy::default(), &[&k]);
    result.map(|()| out)
}

pub fn pattern(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 + i / 251) as u8).collect()
}
