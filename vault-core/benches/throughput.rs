#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Format overhead: vault-core's streaming encryptor and decryptor against bare
//! AEAD calls sealing and opening the same frames (same sizes, same AAD length):
//! RustCrypto `aes-gcm` (the wasm32 backend) and `ring` (the native backend).
//!
//! `cargo bench -p vault-core --bench throughput`; figures go into the issue notes.

use std::hint::black_box;

use aes_gcm::aead::{AeadInPlace, KeyInit};
use aes_gcm::{Aes256Gcm, Nonce, Tag};
use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use rand_core::OsRng;
use vault_core::{DecryptPolicy, Decryptor, EncryptionContext, EncryptionMaterials, Encryptor, Keyring, RawAesKeyring};

const MESSAGE: usize = 16 << 20;
const FRAMES: [usize; 3] = [4 << 10, 64 << 10, 1 << 20];
/// Bytes handed to `update` per call.
const PIECE: usize = 4 << 20;
/// Frame AAD length: message id (32) + label (28) + sequence (4) + length (8).
const AAD_LEN: usize = 72;

fn keyring() -> RawAesKeyring {
    RawAesKeyring::new("bench", "key", [7; 32]).expect("keyring")
}

fn materials(k: &RawAesKeyring) -> EncryptionMaterials {
    let mut ctx = EncryptionContext::new();
    ctx.insert("vault:tenant", "bench").insert("vault:object", "obj");
    EncryptionMaterials::generate(ctx, &[k as &dyn Keyring], &mut OsRng).expect("materials")
}

fn encrypt(materials: &EncryptionMaterials, frame: usize, plaintext: &[u8], out: &mut Vec<u8>) {
    out.clear();
    let mut enc = Encryptor::new(materials, frame as u32, &mut OsRng).expect("encryptor");
    // Fed in 4 MiB pieces: large pieces keep most frames whole within one piece.
    for piece in plaintext.chunks(PIECE) {
        enc.update(piece, out).expect("update");
    }
    enc.finish(out).expect("finish");
}

fn bench(c: &mut Criterion) {
    let plaintext = vec![0x5Au8; MESSAGE];
    let k = keyring();
    let m = materials(&k);
    let mut group = c.benchmark_group("frames");
    group.throughput(Throughput::Bytes(MESSAGE as u64)).sample_size(20);
    for frame in FRAMES {
        let mut out = Vec::with_capacity(MESSAGE + MESSAGE / 16 + 4096);
        group.bench_with_input(BenchmarkId::new("vault-encrypt", frame), &frame, |b, &frame| {
            b.iter(|| encrypt(&m, frame, black_box(&plaintext), &mut out));
        });

        encrypt(&m, frame, &plaintext, &mut out);
        let message = out.clone();
        let mut plain = Vec::with_capacity(MESSAGE);
        group.bench_with_input(BenchmarkId::new("vault-decrypt", frame), &frame, |b, _| {
            b.iter(|| {
                plain.clear();
                let mut dec = Decryptor::new(DecryptPolicy::default());
                let mut rest: &[u8] = black_box(&message);
                while !rest.is_empty() {
                    let n = rest.len().min(PIECE);
                    let mut piece = &rest[..n];
                    while !piece.is_empty() {
                        let used = dec.update(piece, &mut plain).expect("update");
                        piece = &piece[used..];
                        if dec.header().is_some() {
                            dec.unlock_with(&[&k]).expect("unlock");
                        }
                    }
                    rest = &rest[n..];
                }
                dec.finish().expect("finish");
            });
        });

        // The floor: the same AEAD over the same frames, with a copy per frame as
        // any streaming API needs, and nothing else.
        let cipher = Aes256Gcm::new(&[9u8; 32].into());
        let aad = [0u8; AAD_LEN];
        let mut buf = Vec::with_capacity(MESSAGE + MESSAGE / 16);
        group.bench_with_input(BenchmarkId::new("aes-gcm-seal", frame), &frame, |b, &frame| {
            b.iter(|| {
                buf.clear();
                for (i, chunk) in black_box(&plaintext).chunks(frame).enumerate() {
                    let mut nonce = [0u8; 12];
                    nonce[8..].copy_from_slice(&(i as u32).to_be_bytes());
                    let start = buf.len();
                    buf.extend_from_slice(chunk);
                    let tag = cipher
                        .encrypt_in_place_detached(Nonce::from_slice(&nonce), &aad, &mut buf[start..])
                        .expect("seal");
                    buf.extend_from_slice(&tag);
                }
            });
        });
        let sealed = buf.clone();
        let mut opened = Vec::with_capacity(MESSAGE);
        group.bench_with_input(BenchmarkId::new("aes-gcm-open", frame), &frame, |b, &frame| {
            b.iter(|| {
                opened.clear();
                for (i, chunk) in black_box(&sealed).chunks(frame + 16).enumerate() {
                    let mut nonce = [0u8; 12];
                    nonce[8..].copy_from_slice(&(i as u32).to_be_bytes());
                    let (ct, tag) = chunk.split_at(chunk.len() - 16);
                    let start = opened.len();
                    opened.extend_from_slice(ct);
                    cipher
                        .decrypt_in_place_detached(
                            Nonce::from_slice(&nonce),
                            &aad,
                            &mut opened[start..],
                            Tag::from_slice(tag),
                        )
                        .expect("open");
                }
            });
        });

        // The same floor with the AEAD backend vault-core uses on native targets.
        let ring_key = ring::aead::LessSafeKey::new(
            ring::aead::UnboundKey::new(&ring::aead::AES_256_GCM, &[9u8; 32]).expect("key"),
        );
        group.bench_with_input(BenchmarkId::new("ring-seal", frame), &frame, |b, &frame| {
            b.iter(|| {
                buf.clear();
                for (i, chunk) in black_box(&plaintext).chunks(frame).enumerate() {
                    let mut nonce = [0u8; 12];
                    nonce[8..].copy_from_slice(&(i as u32).to_be_bytes());
                    let start = buf.len();
                    buf.extend_from_slice(chunk);
                    let tag = ring_key
                        .seal_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(nonce),
                            ring::aead::Aad::from(&aad),
                            &mut buf[start..],
                        )
                        .expect("seal");
                    buf.extend_from_slice(tag.as_ref());
                }
            });
        });
        group.bench_with_input(BenchmarkId::new("ring-open", frame), &frame, |b, &frame| {
            b.iter(|| {
                opened.clear();
                for (i, chunk) in black_box(&buf).chunks(frame + 16).enumerate() {
                    let mut nonce = [0u8; 12];
                    nonce[8..].copy_from_slice(&(i as u32).to_be_bytes());
                    let (ct, tag) = chunk.split_at(chunk.len() - 16);
                    let start = opened.len();
                    opened.extend_from_slice(ct);
                    let tag: [u8; 16] = tag.try_into().expect("tag");
                    ring_key
                        .open_in_place_separate_tag(
                            ring::aead::Nonce::assume_unique_for_key(nonce),
                            ring::aead::Aad::from(&aad),
                            ring::aead::Tag::from(tag),
                            &mut opened[start..],
                            0..,
                        )
                        .expect("open");
                }
            });
        });
    }
    group.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
