//! The fuzz harnesses, shared by the `cargo fuzz` targets and by the corpus replay
//! in `cargo test` (`tests/tests/fuzz_corpus.rs`), so both check the same things.

use std::cell::Cell;
use std::io::{BufRead, Read};

use vault_core::io::DecryptReader;
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

/// A reader that hands out its bytes `piece` at a time (the splits a network makes).
struct Pieces<'a> {
    bytes: &'a [u8],
    piece: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.piece.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

/// Decrypts `message` read `piece` bytes at a time through vault-core's `Read`
/// adapter: the plaintext released, the outcome, and whether unlocking failed.
fn decrypt_in_pieces(message: &[u8], piece: usize, k: &RawAesKeyring) -> (Vec<u8>, std::io::Result<()>, bool) {
    let unlock_failed = Cell::new(false);
    let mut reader =
        DecryptReader::new(Pieces { bytes: message, piece }, DecryptPolicy::default(), |d: &mut Decryptor| {
            let unlocked = d.unlock_with(&[k as &dyn Keyring]);
            unlock_failed.set(unlocked.is_err());
            unlocked
        });
    let mut out = Vec::new();
    let result = loop {
        match reader.fill_buf() {
            Ok([]) => break Ok(()),
            Ok(bytes) => {
                let n = bytes.len();
                out.extend_from_slice(bytes);
                reader.consume(n);
            }
            Err(e) => break Err(e),
        }
    };
    drop(reader);
    (out, result, unlock_failed.get())
}

/// Decrypting arbitrary bytes, fed in pieces whose sizes come from the input, never
/// panics; plaintext appears only for a message that then finishes successfully or
/// fails later (a verified prefix), never before its header verified.
pub fn decrypt(data: &[u8]) {
    let Some((&split, message)) = data.split_first() else { return };
    let (out, _, unlock_failed) = decrypt_in_pieces(message, usize::from(split).max(1), &keyring());
    assert!(!unlock_failed || out.is_empty(), "plaintext before the header verified");
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
        let (out, result, _) = decrypt_in_pieces(message, piece, &k);
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
