#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! The `Read`/`Write` adapters: the same messages as the sans-I/O core, whatever the
//! sizes of the reads and writes; verified bytes only; errors after them.

mod common;

use std::io::{Read, Write};

use common::*;
use rand_core::OsRng;
use vault_core::io::{DecryptReader, EncryptWriter, vault_error};
use vault_core::{DecryptPolicy, EncryptionMaterials, Encryptor, Error, Keyring};

/// A reader that hands out its bytes in pieces of the given sizes (cycled).
struct Pieces<'a> {
    bytes: &'a [u8],
    sizes: Vec<usize>,
    turn: usize,
}

impl Read for Pieces<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let want = self.sizes[self.turn % self.sizes.len()];
        self.turn += 1;
        let n = want.min(buf.len()).min(self.bytes.len());
        buf[..n].copy_from_slice(&self.bytes[..n]);
        self.bytes = &self.bytes[n..];
        Ok(n)
    }
}

fn reader<'a>(message: &'a [u8], sizes: &[usize]) -> impl Read + 'a {
    let k = keyring();
    DecryptReader::new(
        Pieces { bytes: message, sizes: sizes.to_vec(), turn: 0 },
        DecryptPolicy::requiring(family_ctx()),
        move |d: &mut vault_core::Decryptor| d.unlock_with(&[&k as &dyn Keyring]),
    )
}

/// Reads everything, in reads of `chunk` bytes; the bytes before an error, and it.
fn drain(mut r: impl Read, chunk: usize) -> (Vec<u8>, Option<std::io::Error>) {
    let mut out = Vec::new();
    let mut buf = vec![0u8; chunk];
    loop {
        match r.read(&mut buf) {
            Ok(0) => return (out, None),
            Ok(n) => out.extend_from_slice(&buf[..n]),
            Err(e) => return (out, Some(e)),
        }
    }
}

#[test]
fn the_writer_and_the_reader_round_trip_whatever_the_piece_sizes() {
    let plaintext: Vec<u8> = (0..100_003u32).map(|i| (i * 7 % 251) as u8).collect();
    let k = keyring();
    for frame_length in [1u32, 100, 4096] {
        let materials = EncryptionMaterials::generate(family_ctx(), &[&k as &dyn Keyring], &mut OsRng).unwrap();
        let mut writer = EncryptWriter::new(Vec::new(), Encryptor::new(&materials, frame_length, &mut OsRng).unwrap());
        for piece in plaintext.chunks(777) {
            writer.write_all(piece).unwrap();
        }
        let message = writer.finish().unwrap();
        for sizes in [vec![1], vec![3, 1000, 17], vec![1 << 20]] {
            for chunk in [1, 4096, 1 << 20] {
                let (out, err) = drain(reader(&message, &sizes), chunk);
                assert!(err.is_none(), "{frame_length} {sizes:?} {chunk}: {err:?}");
                assert_eq!(out, plaintext, "{frame_length} {sizes:?} {chunk}");
            }
        }
    }
}

#[test]
fn a_truncated_message_is_an_error_after_its_verified_frames() {
    let plaintext = vec![5u8; 10_000];
    let message = encrypt(&plaintext, 1000);
    let cut = &message[..message.len() - 10];
    let (out, err) = drain(reader(cut, &[333]), 512);
    let err = err.expect("truncation is an error");
    assert_eq!(vault_error(&err), Some(&Error::Truncated));
    assert_eq!(out, plaintext[..out.len()], "only verified bytes");
    assert!(out.len() >= 9000, "every frame before the cut was delivered: {}", out.len());
}

#[test]
fn a_tampered_frame_stops_the_reader_after_the_frames_before_it() {
    let plaintext: Vec<u8> = (0..10_000u32).map(|i| i as u8).collect();
    let mut message = encrypt(&plaintext, 1000);
    let at = message.len() - 3000;
    message[at] ^= 1;
    let (out, err) = drain(reader(&message, &[4096]), 4096);
    assert!(matches!(vault_error(&err.unwrap()), Some(Error::AuthenticationFailed(_))));
    assert_eq!(out, plaintext[..out.len()]);
    assert!(out.len() < plaintext.len());
}

#[test]
fn a_failed_unlock_yields_nothing() {
    let message = encrypt(b"secret", 100);
    let r =
        DecryptReader::new(&message[..], DecryptPolicy::requiring(family_ctx()), |_: &mut vault_core::Decryptor| {
            Err(Error::Misuse("no key"))
        });
    let (out, err) = drain(r, 64);
    assert!(out.is_empty());
    assert_eq!(vault_error(&err.unwrap()), Some(&Error::Misuse("no key")));
}

#[test]
fn a_writer_dropped_before_finish_leaves_a_message_readers_refuse() {
    let k = keyring();
    let materials = EncryptionMaterials::generate(family_ctx(), &[&k as &dyn Keyring], &mut OsRng).unwrap();
    let mut sink = Vec::new();
    {
        let mut writer = EncryptWriter::new(&mut sink, Encryptor::new(&materials, 100, &mut OsRng).unwrap());
        writer.write_all(&[1u8; 1000]).unwrap();
    }
    let (_, err) = drain(reader(&sink, &[64]), 64);
    assert_eq!(vault_error(&err.unwrap()), Some(&Error::Truncated));
}

#[test]
fn buffered_reads_lend_the_same_plaintext() {
    use std::io::BufRead;
    let plaintext: Vec<u8> = (0..50_000u32).map(|i| (i % 253) as u8).collect();
    let message = encrypt(&plaintext, 4096);
    let k = keyring();
    let mut r =
        DecryptReader::new(&message[..], DecryptPolicy::requiring(family_ctx()), |d: &mut vault_core::Decryptor| {
            d.unlock_with(&[&k as &dyn Keyring])
        });
    let mut out = Vec::new();
    loop {
        let buf = r.fill_buf().unwrap();
        if buf.is_empty() {
            break;
        }
        let n = buf.len().min(1000);
        out.extend_from_slice(&buf[..n]);
        r.consume(n);
    }
    assert_eq!(out, plaintext);
}

/// A reader that fails once with `kind`, then hands out its bytes.
struct FailsOnce<'a> {
    bytes: &'a [u8],
    kind: Option<std::io::ErrorKind>,
}

impl Read for FailsOnce<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self.kind.take() {
            Some(kind) => Err(kind.into()),
            None => self.bytes.read(buf),
        }
    }
}

#[test]
fn interrupted_reads_are_retried_and_other_errors_returned() {
    use std::io::ErrorKind;
    let plaintext = pattern(1000);
    let message = encrypt(&plaintext, 100);
    let k = keyring();
    let open = |kind| {
        DecryptReader::new(
            FailsOnce { bytes: &message, kind: Some(kind) },
            DecryptPolicy::requiring(family_ctx()),
            |d: &mut vault_core::Decryptor| d.unlock_with(&[&k as &dyn Keyring]),
        )
    };
    let (out, err) = drain(open(ErrorKind::Interrupted), 4096);
    assert!(err.is_none(), "{err:?}");
    assert_eq!(out, plaintext);
    let err = open(ErrorKind::ConnectionReset).read(&mut [0; 64]).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionReset);
    assert!(vault_error(&err).is_none());
}

/// Plaintext is lent as soon as a frame verifies, so the reader holds one frame,
/// never the message.
#[test]
fn plaintext_is_lent_a_frame_at_a_time() {
    use std::io::BufRead;
    let plaintext = pattern(1000);
    let message = encrypt(&plaintext, 100);
    let k = keyring();
    let mut r = DecryptReader::new(
        Pieces { bytes: &message, sizes: vec![1], turn: 0 },
        DecryptPolicy::requiring(family_ctx()),
        |d: &mut vault_core::Decryptor| d.unlock_with(&[&k as &dyn Keyring]),
    );
    assert_eq!(r.fill_buf().unwrap(), &plaintext[..100]);
    r.consume(30);
    assert_eq!(r.fill_buf().unwrap(), &plaintext[30..100]);
    r.consume(70);
    assert_eq!(r.fill_buf().unwrap(), &plaintext[100..200]);
    assert!(format!("{r:?}").contains("finished: false"));
    let (rest, err) = drain(&mut r, 64);
    assert!(err.is_none());
    assert_eq!(rest, plaintext[100..]);
    assert!(format!("{r:?}").contains("finished: true"));
}

/// A writer that counts the flushes that reach it.
struct CountsFlushes<'a>(&'a std::cell::Cell<usize>);

impl Write for CountsFlushes<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.0.set(self.0.get() + 1);
        Ok(())
    }
}

#[test]
fn the_writer_passes_flushes_on() {
    let k = keyring();
    let materials = EncryptionMaterials::generate(family_ctx(), &[&k as &dyn Keyring], &mut OsRng).unwrap();
    let flushes = std::cell::Cell::new(0);
    let mut writer = EncryptWriter::new(CountsFlushes(&flushes), Encryptor::new(&materials, 100, &mut OsRng).unwrap());
    writer.write_all(&[1; 150]).unwrap();
    writer.flush().unwrap();
    assert_eq!(flushes.get(), 1);
    assert!(format!("{writer:?}").contains("next_sequence: 2"), "{writer:?}");
    writer.finish().unwrap();
    assert_eq!(flushes.get(), 2);
}

/// A writer that records the length of every write.
struct Writes(Vec<u8>, Vec<usize>);

impl Write for Writes {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.extend_from_slice(buf);
        self.1.push(buf.len());
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

#[test]
fn copy_to_writes_whole_verified_frames_and_stops_at_a_bad_one() {
    let plaintext = pattern(10_000);
    let message = encrypt(&plaintext, 1000);
    let k = keyring();
    let unlock = |d: &mut vault_core::Decryptor| d.unlock_with(&[&k as &dyn Keyring]);
    let mut out = Writes(Vec::new(), Vec::new());
    let mut r = DecryptReader::new(
        Pieces { bytes: &message, sizes: vec![777], turn: 0 },
        DecryptPolicy::requiring(family_ctx()),
        unlock,
    );
    assert_eq!(r.copy_to(&mut out).unwrap(), 10_000);
    assert_eq!(out.0, plaintext);
    assert_eq!(out.1, [1000; 10], "one write per frame (the final frame is empty here)");

    let mut tampered = message.clone();
    let at = tampered.len() - 3000;
    tampered[at] ^= 1;
    let mut out = Writes(Vec::new(), Vec::new());
    let mut r = DecryptReader::new(
        Pieces { bytes: &tampered, sizes: vec![4096], turn: 0 },
        DecryptPolicy::requiring(family_ctx()),
        unlock,
    );
    let err = r.copy_to(&mut out).unwrap_err();
    assert!(matches!(vault_error(&err), Some(Error::AuthenticationFailed(_))));
    assert!(!out.0.is_empty() && out.0.len() < plaintext.len());
    assert_eq!(out.0, plaintext[..out.0.len()], "only the frames before the bad one");
}
