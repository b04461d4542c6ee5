//! The fuzz harnesses, shared by the `cargo fuzz` targets and by the corpus replay
//! in `cargo test` (`tests/tests/fuzz_corpus.rs`), so both check the same things.

use vault_core::{
    DecryptPolicy, Decryptor, EncryptionContext, EncryptionMaterials, Encryptor, HeaderParse, Keyring, ParsedHeader,
    RawAesKeyring,
};

/// The keyring every harness decrypts with (ESDK vector key and namespace, so the
/// official vectors in the seed corpus unlock too).
pub fn keyring() -> RawAesKeyring {
    let key: [u8; 32] = [
        0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18, 0x19, 0x20, 0x21, 0x22,
        0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31,
    ];
    RawAesKeyring::new("aws-raw-vectors-persistant", "aes-256", key).expect("valid keyring")
}

/// Header parsing never panics, and a complete header never claims more bytes than given.
pub fn header(data: &[u8]) {
    if let Ok(HeaderParse::Complete(h)) = ParsedHeader::parse(data, &DecryptPolicy::default()) {
        assert!(h.len() <= data.len());
        let _ = h.verify_with(&[&keyring()]);
    }
}

/// Decrypting arbitrary bytes, fed in pieces whose sizes come from the input, never
/// panics; plaintext appears only for a message that then finishes successfully or
/// fails later (a verified prefix).
pub fn decrypt(data: &[u8]) {
    let Some((&split, message)) = data.split_first() else { return };
    let piece = usize::from(split).max(1);
    let k = keyring();
    let mut dec = Decryptor::new(DecryptPolicy::default());
    let mut out = Vec::new();
    for mut chunk in message.chunks(piece) {
        while !chunk.is_empty() {
            let Ok(used) = dec.update(chunk, &mut out) else { return };
            chunk = &chunk[used..];
            if dec.header().is_some() && dec.unlock_with(&[&k]).is_err() {
                assert!(out.is_empty(), "plaintext before the header verified");
                return;
            }
        }
    }
    let _ = dec.finish();
}

/// Encrypts a plaintext taken from the input, flips one byte at a position taken
/// from the input, and decrypts at input-chosen splits: the original decrypts to
/// itself; the altered one fails, having released at most a prefix of the plaintext.
pub fn stream_mutated(data: &[u8]) {
    if data.len() < 6 {
        return;
    }
    let frame = u32::from(data[0]) % 64 + 1;
    let piece = usize::from(data[1]) + 1;
    let flip_at = usize::from(u16::from_be_bytes([data[2], data[3]]));
    let flip = data[4] | 1;
    let plaintext = &data[5..];

    let k = keyring();
    let mut rng = CountingRng(u64::from(data[0]) << 8 | u64::from(data[1]));
    let mut context = EncryptionContext::new();
    context.insert("vault:tenant", "fuzz");
    let materials = EncryptionMaterials::generate(context, &[&k as &dyn Keyring], &mut rng).expect("materials");
    let mut enc = Encryptor::new(&materials, frame, &mut rng).expect("encryptor");
    let mut message = Vec::new();
    for chunk in plaintext.chunks(piece) {
        enc.update(chunk, &mut message).expect("update");
    }
    enc.finish(&mut message).expect("finish");

    let run = |message: &[u8]| {
        let mut dec = Decryptor::new(DecryptPolicy::default());
        let mut out = Vec::new();
        let result = (|| {
            for mut chunk in message.chunks(piece) {
                while !chunk.is_empty() {
                    let used = dec.update(chunk, &mut out)?;
                    chunk = &chunk[used..];
                    if dec.header().is_some() {
                        dec.unlock_with(&[&k])?;
                    }
                }
            }
            dec.finish()
        })();
        (out, result)
    };
    let (out, result) = run(&message);
    assert!(result.is_ok(), "unaltered message failed: {result:?}");
    assert_eq!(out, plaintext);

    let at = flip_at % message.len();
    message[at] ^= flip;
    let (out, result) = run(&message);
    assert!(result.is_err(), "a flipped byte at {at} was accepted");
    assert!(plaintext.starts_with(&out), "unverified plaintext released");
}

/// Deterministic bytes, so a crashing input reproduces exactly. Not a CSPRNG: fuzzing only.
pub struct CountingRng(pub u64);

impl rand_core::RngCore for CountingRng {
    fn next_u32(&mut self) -> u32 {
        self.next_u64() as u32
    }
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
        self.0
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        for b in dest {
            *b = (self.next_u64() >> 56) as u8;
        }
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl rand_core::CryptoRng for CountingRng {}
