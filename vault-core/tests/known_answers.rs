#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Known answers: bytes the official AWS Encryption SDK wrote (`tests/vectors`, see
//! its README) and a message worked out by hand from the specification. A round trip
//! through this crate alone passes even when both directions share a mistake (a
//! wrong AAD, an all-zero key); these fail on it.

mod common;

use std::io::{Read, Write};
use std::ops::Range;

use aes_gcm::aead::{Aead as _, AeadInPlace, KeyInit, Payload};
use aes_gcm::{Aes256Gcm, Nonce};
use common::{ctx, decrypt_in_pieces};
use hkdf::Hkdf;
use rand_core::{CryptoRng, RngCore};
use sha2::Sha512;
use vault_core::frame::{self, FrameParse};
use vault_core::io::{DecryptReader, EncryptWriter, vault_error};
use vault_core::{
    BodyLayout, ContextProblem, DataKey, DecryptPolicy, Decryptor, EncryptedDataKey, EncryptionContext,
    EncryptionMaterials, Encryptor, Error, FrameRun, FrameRunEnd, HeaderParse, Keyring, ParsedHeader, RangeDecryptor,
    RawAesKeyring, Section, VerifiedHeader,
};

/// `keys.json` key `aes-256` (base64 `AAECAwQFBgcICRAREhMUFRYXGBkgISIjJCUmJygpMDE=`).
const WRAPPING_KEY: [u8; 32] = [
    0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15, 0x16, 0x17, 0x18,
    0x19, 0x20, 0x21, 0x22, 0x23, 0x24, 0x25, 0x26, 0x27, 0x28, 0x29, 0x30, 0x31,
];
/// The raw keyring's namespace in the vectors (sic) and its key name.
const NAMESPACE: &str = "aws-raw-vectors-persistant";
const KEY_NAME: &str = "aes-256";
const FRAME_LENGTH: u32 = 512;
/// `plaintexts/small`: 10240 bytes, 20 frames, the last a full final frame.
const PLAINTEXT_LEN: u64 = 10_240;
/// Plaintext bytes 0..1024 (frames 1 and 2) and 9728..10240 (the final frame 20).
const PLAIN_HEAD: &[u8] = include_bytes!("vectors/small.head");
const PLAIN_TAIL: &[u8] = include_bytes!("vectors/small.tail");
const TAIL_START: u64 = PLAINTEXT_LEN - 512;
/// A final frame of 512 bytes: marker, sequence, IV, length, content, tag.
const FINAL_FRAME_LEN: u64 = 4 + 4 + 12 + 4 + 512 + 16;

/// One official message, kept as its header and first two frames (`head`) and its
/// final frame (`tail`).
struct Official {
    name: &'static str,
    head: &'static [u8],
    tail: &'static [u8],
    message_len: u64,
    header_len: usize,
    context: &'static [(&'static str, &'static str)],
    /// Default CMM: the header stores the context. Required-encryption-context CMM:
    /// it stores none, and the caller supplies the context to authenticate.
    stored: bool,
}

const KEY_VALS: &[(&str, &str)] = &[("key1", "val1"), ("key2", "val2")];

const OFFICIAL: [Official; 3] = [
    Official {
        name: "default-ec0",
        head: include_bytes!("vectors/default-ec0.head"),
        tail: include_bytes!("vectors/default-ec0.tail"),
        message_len: 11_087,
        header_len: 199,
        context: &[],
        stored: true,
    },
    Official {
        name: "default-ec2",
        head: include_bytes!("vectors/default-ec2.head"),
        tail: include_bytes!("vectors/default-ec2.tail"),
        message_len: 11_113,
        header_len: 225,
        context: KEY_VALS,
        stored: true,
    },
    Official {
        name: "required-ec2",
        head: include_bytes!("vectors/required-ec2.head"),
        tail: include_bytes!("vectors/required-ec2.tail"),
        message_len: 11_087,
        header_len: 199,
        context: KEY_VALS,
        stored: false,
    },
];

/// The header fields an SDK wrote, read by hand at their specified offsets
/// (independently of `vault_core::header`).
struct SdkHeader {
    message_id: [u8; 32],
    stored_context: Vec<u8>,
    edk: EncryptedDataKey,
    commitment: [u8; 32],
}

impl Official {
    fn context(&self) -> EncryptionContext {
        ctx(self.context)
    }

    fn policy(&self) -> DecryptPolicy {
        if self.stored {
            DecryptPolicy::requiring(self.context())
        } else {
            DecryptPolicy { authenticate_only: self.context(), ..DecryptPolicy::default() }
        }
    }

    fn keyring() -> RawAesKeyring {
        RawAesKeyring::new(NAMESPACE, KEY_NAME, WRAPPING_KEY).unwrap()
    }

    fn verified_header(&self) -> VerifiedHeader {
        match ParsedHeader::parse(self.head, &self.policy()).unwrap() {
            HeaderParse::Complete(h) => h.verify_with(&[&Self::keyring()]).unwrap(),
            HeaderParse::NeedMore(n) => panic!("{}: header needs {n} bytes", self.name),
        }
    }

    /// The bytes of `range` of the whole message; it must lie within head or tail.
    fn bytes(&self, range: Range<u64>) -> &'static [u8] {
        let tail_start = self.message_len - FINAL_FRAME_LEN;
        if range.start >= tail_start {
            &self.tail[(range.start - tail_start) as usize..(range.end - tail_start) as usize]
        } else {
            &self.head[range.start as usize..range.end as usize]
        }
    }

    fn sdk_header(&self) -> SdkHeader {
        let h = self.head;
        let u16_at = |at: usize| usize::from(u16::from_be_bytes([h[at], h[at + 1]]));
        let mut at = 35;
        let aad_len = u16_at(at);
        let stored_context = h[at + 2..at + 2 + aad_len].to_vec();
        at += 2 + aad_len;
        assert_eq!(u16_at(at), 1, "{}: one encrypted data key", self.name);
        at += 2;
        let mut short = || {
            let len = u16_at(at);
            at += 2 + len;
            h[at - len..at].to_vec()
        };
        let edk = EncryptedDataKey {
            provider_id: String::from_utf8(short()).unwrap(),
            provider_info: short(),
            ciphertext: short(),
        };
        assert_eq!(h[at..at + 5], [0x02, 0, 0, 0x02, 0x00], "framed, frame length 512");
        assert_eq!(at + 5 + 32 + 16, self.header_len);
        SdkHeader {
            message_id: h[3..35].try_into().unwrap(),
            stored_context,
            edk,
            commitment: h[at + 5..at + 37].try_into().unwrap(),
        }
    }
}

/// The data key and frame key of a message, derived as the specification says with
/// RustCrypto's AES-GCM and HKDF directly, not through vault-core.
fn independent_keys(v: &Official, sdk: &SdkHeader) -> ([u8; 32], [u8; 32]) {
    let info = &sdk.edk.provider_info;
    assert_eq!(&info[..KEY_NAME.len()], KEY_NAME.as_bytes());
    assert_eq!(&info[KEY_NAME.len()..KEY_NAME.len() + 8], &[0, 0, 0, 128, 0, 0, 0, 12]);
    let iv = &info[KEY_NAME.len() + 8..];
    // The wrapping AAD is the serialised full context, stored or not.
    let aad = v.context().serialize().unwrap();
    if v.stored {
        assert_eq!(aad, sdk.stored_context);
    }
    let wrapping = Aes256Gcm::new(&WRAPPING_KEY.into());
    let data_key: [u8; 32] = wrapping
        .decrypt(Nonce::from_slice(iv), Payload { msg: &sdk.edk.ciphertext, aad: &aad })
        .unwrap()
        .try_into()
        .unwrap();
    let hkdf = Hkdf::<Sha512>::new(Some(&sdk.message_id), &data_key);
    let mut frame_key = [0u8; 32];
    hkdf.expand(b"\x04\x78DERIVEKEY", &mut frame_key).unwrap();
    let mut commitment = [0u8; 32];
    hkdf.expand(b"COMMITKEY", &mut commitment).unwrap();
    // The SDK stored this commitment: the derivation above is the SDK's.
    assert_eq!(commitment, sdk.commitment, "{}", v.name);
    (data_key, frame_key)
}

/// Hands out fixed bytes, so a message id can be the one the SDK drew.
struct Fixed(Vec<u8>);

impl RngCore for Fixed {
    fn next_u32(&mut self) -> u32 {
        rand_core::impls::next_u32_via_fill(self)
    }
    fn next_u64(&mut self) -> u64 {
        rand_core::impls::next_u64_via_fill(self)
    }
    fn fill_bytes(&mut self, dest: &mut [u8]) {
        let rest = self.0.split_off(dest.len());
        dest.copy_from_slice(&self.0);
        self.0 = rest;
    }
    fn try_fill_bytes(&mut self, dest: &mut [u8]) -> Result<(), rand_core::Error> {
        self.fill_bytes(dest);
        Ok(())
    }
}

impl CryptoRng for Fixed {}

#[test]
fn official_heads_stream_their_frames_then_report_truncation() {
    let k = Official::keyring();
    for v in &OFFICIAL {
        for pieces in [&[usize::MAX][..], &[1], &[7, 100, 3], &[544]] {
            let (out, res) = decrypt_in_pieces(v.head, pieces, v.policy(), &[&k]);
            assert_eq!(res, Err(Error::Truncated), "{} {pieces:?}", v.name);
            assert_eq!(out, PLAIN_HEAD, "{} {pieces:?}", v.name);
        }
        assert_eq!(vault_core::decrypt(v.head, &[&k], v.policy()), Err(Error::Truncated), "{}", v.name);

        let mut reader = DecryptReader::new(v.head, v.policy(), |d: &mut Decryptor| d.unlock_with(&[&k]));
        let mut out = Vec::new();
        let err = reader.read_to_end(&mut out).unwrap_err();
        assert_eq!(vault_error(&err), Some(&Error::Truncated), "{}", v.name);
        assert_eq!(out, PLAIN_HEAD, "{}", v.name);
    }
}

#[test]
fn official_layout_and_ranges() {
    for v in &OFFICIAL {
        let header = v.verified_header();
        assert_eq!(header.header_len(), v.header_len, "{}", v.name);
        assert_eq!(header.frame_length(), FRAME_LENGTH);
        assert_eq!(header.message_id(), &v.head[3..35]);
        assert_eq!(header.context(), &v.context(), "{}", v.name);
        let shown = format!("{header:?}");
        assert!(shown.contains("frame_length: 512") && shown.contains(&format!("header_len: {}", v.header_len)));
        assert!(v.context.iter().all(|(key, _)| shown.contains(key)) && !shown.contains("key:"), "{shown}");
        let layout = BodyLayout::new(&header, v.message_len).unwrap();
        assert_eq!((layout.plaintext_len(), layout.frame_count()), (PLAINTEXT_LEN, 20), "{}", v.name);

        let h = v.header_len as u64;
        let last = layout.locate(TAIL_START..PLAINTEXT_LEN).unwrap();
        assert_eq!((last.first_sequence, last.last_sequence), (20, 20));
        assert_eq!(last.ciphertext, v.message_len - FINAL_FRAME_LEN..v.message_len);
        assert_eq!(last.frames_plaintext, TAIL_START..PLAINTEXT_LEN);
        let across = layout.locate(511..513).unwrap();
        assert_eq!((across.first_sequence, across.last_sequence), (1, 2));
        assert_eq!(across.ciphertext, h..h + 2 * 544);
        assert_eq!(across.frames_plaintext, 0..1024);
        let second = layout.locate(600..700).unwrap();
        assert_eq!((second.first_sequence, second.ciphertext), (2, h + 544..h + 2 * 544));

        for range in [0..1024, 0..1, 500..600, 1023..1024, TAIL_START..PLAINTEXT_LEN, 10_000..10_001, 10_239..10_240] {
            let expected = if range.start >= TAIL_START {
                &PLAIN_TAIL[(range.start - TAIL_START) as usize..(range.end - TAIL_START) as usize]
            } else {
                &PLAIN_HEAD[range.start as usize..range.end as usize]
            };
            for piece in [1, 13, usize::MAX] {
                let span = layout.locate(range.clone()).unwrap();
                let bytes = v.bytes(span.ciphertext.clone());
                let mut rd = RangeDecryptor::new(&header, &layout, span);
                let mut out = Vec::new();
                for chunk in bytes.chunks(piece.min(bytes.len())) {
                    rd.update(chunk, &mut out).unwrap();
                }
                rd.finish().unwrap();
                assert_eq!(out, expected, "{} {range:?} in pieces of {piece}", v.name);
            }
        }
    }
}

#[test]
fn official_frames_verify_as_runs() {
    for v in &OFFICIAL {
        let header = v.verified_header();
        let run = |first: u32, bytes: &[u8]| {
            let mut frames = FrameRun::new(&header, first);
            let mut out = Vec::new();
            for chunk in bytes.chunks(100) {
                frames.update(chunk, &mut out)?;
            }
            frames.finish().map(|end| (end, out))
        };
        let (end, out) = run(20, v.tail).unwrap();
        assert_eq!(end, FrameRunEnd { next_sequence: 20, is_final: true, plaintext_len: 512 }, "{}", v.name);
        assert_eq!(out, PLAIN_TAIL);
        let (end, out) = run(1, &v.head[v.header_len..]).unwrap();
        assert_eq!(end, FrameRunEnd { next_sequence: 3, is_final: false, plaintext_len: 1024 }, "{}", v.name);
        assert_eq!(out, PLAIN_HEAD);
        assert_eq!(run(19, v.tail).unwrap_err(), Error::FrameOutOfOrder { expected: 19, found: 20 });
    }
}

/// What the browser does: WebCrypto (here `aes-gcm`) with the exposed frame key and
/// the AAD that `admit` writes.
#[test]
fn official_frames_open_with_the_exposed_key_and_admitted_aad() {
    for v in &OFFICIAL {
        let header = v.verified_header();
        let layout = BodyLayout::new(&header, v.message_len).unwrap();
        let aead = Aes256Gcm::new(header.frame_key().expose().into());
        for (range, expected) in [(0..1024, PLAIN_HEAD), (TAIL_START..PLAINTEXT_LEN, PLAIN_TAIL)] {
            let span = layout.locate(range).unwrap();
            let mut frames = layout.frame_sequence(&span);
            let mut bytes = v.bytes(span.ciphertext.clone());
            let (mut aad, mut out) = (Vec::new(), Vec::new());
            while !bytes.is_empty() {
                let FrameParse::Complete(parts) = frame::parse(bytes, header.frame_length()).unwrap() else {
                    panic!("{}: a whole frame", v.name);
                };
                frames.admit(header.message_id(), &parts, &mut aad).unwrap();
                let mut buf = parts.ciphertext.to_vec();
                aead.decrypt_in_place_detached(&parts.iv.into(), &aad, &mut buf, &parts.tag.into()).unwrap();
                out.extend_from_slice(&buf);
                bytes = &bytes[parts.len..];
            }
            assert_eq!(out, expected, "{}", v.name);
            assert_eq!(frames.finished(), expected == PLAIN_TAIL);
        }
    }
}

#[test]
fn official_keys_match_an_independent_derivation() {
    let k = Official::keyring();
    for v in &OFFICIAL {
        let sdk = v.sdk_header();
        let (data_key, frame_key) = independent_keys(v, &sdk);
        let edks = [sdk.edk.clone()];
        let unwrapped = k.unwrap(&edks, &v.context()).unwrap().expect("the vector's key unwraps");
        assert_eq!(unwrapped.expose(), &data_key, "{}", v.name);
        assert_eq!(v.verified_header().frame_key().expose(), &frame_key, "{}", v.name);

        let parsed = || match ParsedHeader::parse(v.head, &v.policy()).unwrap() {
            HeaderParse::Complete(h) => h,
            HeaderParse::NeedMore(_) => panic!("incomplete"),
        };
        assert_eq!(parsed().encrypted_data_keys(), &edks);
        assert_eq!(parsed().keyring_context(), v.context());
        assert_eq!(parsed().stored_context(), &if v.stored { v.context() } else { EncryptionContext::new() });
        assert_eq!((parsed().message_id(), parsed().frame_length()), (&sdk.message_id, FRAME_LENGTH));
        assert_eq!((parsed().len(), parsed().is_empty()), (v.header_len, false));
        parsed().verify(&DataKey::from_bytes(data_key)).unwrap();
        let mut wrong = data_key;
        wrong[31] ^= 1;
        assert_eq!(parsed().verify(&DataKey::from_bytes(wrong)).unwrap_err(), Error::CommitmentMismatch);
    }
}

/// With the SDK's message id, data key and EDK, the encryptor writes the SDK's bytes.
#[test]
fn encryption_reproduces_the_official_bytes() {
    for v in OFFICIAL.iter().filter(|v| v.stored) {
        let sdk = v.sdk_header();
        let (data_key, frame_key) = independent_keys(v, &sdk);
        let materials =
            || EncryptionMaterials::new(v.context(), DataKey::from_bytes(data_key), vec![sdk.edk.clone()]).unwrap();
        for pieces in [&[1024][..], &[1, 511, 600], &[100]] {
            let mut enc = Encryptor::new(&materials(), FRAME_LENGTH, &mut Fixed(sdk.message_id.to_vec())).unwrap();
            assert_eq!((enc.message_id(), enc.header_len()), (&sdk.message_id, v.header_len));
            let mut out = Vec::new();
            let mut rest = PLAIN_HEAD;
            for &n in pieces.iter().cycle() {
                if rest.is_empty() {
                    break;
                }
                let n = n.min(rest.len());
                enc.update(&rest[..n], &mut out).unwrap();
                rest = &rest[n..];
            }
            assert_eq!(out, v.head, "{} {pieces:?}", v.name);
        }

        let mut sink = Vec::new();
        let enc = Encryptor::new(&materials(), FRAME_LENGTH, &mut Fixed(sdk.message_id.to_vec())).unwrap();
        EncryptWriter::new(&mut sink, enc).write_all(PLAIN_HEAD).unwrap();
        assert_eq!(sink, v.head, "{}", v.name);

        // Resumed after frame 1: frame 2 again, byte for byte.
        let mut enc = Encryptor::resume(&v.verified_header(), 2).unwrap();
        let mut out = Vec::new();
        enc.update(&PLAIN_HEAD[512..], &mut out).unwrap();
        assert_eq!(out, v.head[v.header_len + 544..], "{}", v.name);

        // The SDK's full final frame, framed by this crate and sealed by another AES-GCM.
        let mut out = Vec::new();
        frame::write_prefix(&mut out, 20, &frame::iv(20), 512, true);
        let mut aad = vec![0xEE; 7];
        frame::aad(&mut aad, &sdk.message_id, 20, 512, true);
        let mut body = PLAIN_TAIL.to_vec();
        let tag = Aes256Gcm::new(&frame_key.into())
            .encrypt_in_place_detached(&frame::iv(20).into(), &aad, &mut body)
            .unwrap();
        out.extend_from_slice(&body);
        out.extend_from_slice(&tag);
        assert_eq!(out, v.tail, "{}", v.name);
    }
}

/// Authenticate-only pairs (the required-encryption-context CMM) are compared where
/// the message stores them and authenticated where it does not.
#[test]
fn official_authenticate_only_context() {
    let k = Official::keyring();
    let [ec0, ec2, required] = &OFFICIAL;
    let auth_only =
        |pairs: &[(&str, &str)]| DecryptPolicy { authenticate_only: ctx(pairs), ..DecryptPolicy::default() };
    let run = |v: &Official, policy: DecryptPolicy| decrypt_in_pieces(v.head, &[usize::MAX], policy, &[&k]);

    // Stored pairs: compared, not authenticated a second time.
    let (out, res) = run(ec2, auth_only(&[("key1", "val1")]));
    assert_eq!((res, out.as_slice()), (Err(Error::Truncated), PLAIN_HEAD));
    let (out, res) = run(ec2, auth_only(&[("key1", "val2")]));
    assert_eq!(res, Err(Error::ContextMismatch { key: "key1".into(), problem: ContextProblem::WrongValue }));
    assert!(out.is_empty());

    // Not stored: required pairs are missing; authenticate-only pairs must be exact.
    let (_, res) = run(required, DecryptPolicy::requiring(ctx(KEY_VALS)));
    assert_eq!(res, Err(Error::ContextMismatch { key: "key1".into(), problem: ContextProblem::Missing }));
    let (_, res) = run(required, auth_only(&[("key1", "val1"), ("key2", "other")]));
    assert_eq!(res, Err(Error::NoUsableDataKey), "the wrapping AAD holds the whole context");
    // With the data key in hand, the header tag is what refuses a wrong or absent context.
    let (data_key, _) = independent_keys(required, &required.sdk_header());
    for policy in
        [DecryptPolicy::default(), auth_only(&[("key1", "val1")]), auth_only(&[("key1", "val1"), ("key2", "x")])]
    {
        let mut dec = Decryptor::new(policy);
        assert_eq!(dec.update(required.head, &mut Vec::new()).unwrap(), required.header_len);
        assert_eq!(dec.unlock(&DataKey::from_bytes(data_key)), Err(Error::AuthenticationFailed(Section::Header)));
    }
    // And no context at all where none was used.
    let (out, res) = run(ec0, auth_only(&[]));
    assert_eq!((res, out.as_slice()), (Err(Error::Truncated), PLAIN_HEAD));
}

/// The ESDK for .NET 4.0.0 authenticated its headers over an extra `00 00`; the
/// specification (and every other SDK, bar a special case) refuses them.
#[test]
fn net_4_0_0_header_is_refused() {
    let head = include_bytes!("vectors/invalid-ec0.head");
    let k = Official::keyring();
    let (out, res) = decrypt_in_pieces(head, &[usize::MAX], DecryptPolicy::default(), &[&k]);
    assert_eq!(res, Err(Error::AuthenticationFailed(Section::Header)));
    assert!(out.is_empty());
}

/// Fixed inputs; the expected bytes were built from the specification with
/// pyca/cryptography (OpenSSL's AES-GCM and HKDF), not with this crate.
const FIXED_DATA_KEY: [u8; 32] = [1; 32];
const FIXED_MESSAGE_ID: [u8; 32] = [2; 32];
const FIXED_FRAME_KEY: &str = "8c897cf6e98130876f20bd711ec93f39e47fd8df26daeddf377ec1e9633ee1a4";
/// Context `{a: b}`, one EDK `(p, i, c)`, frame length 4, plaintext `hello`.
#[rustfmt::skip]
const FIXED_HEADER: &str = concat!(
    "02", "0478", "0202020202020202020202020202020202020202020202020202020202020202",
    "0008", "0001", "000161", "000162",
    "0001", "000170", "000169", "000163",
    "02", "00000004",
    "2404c0ce344731f3f17b2b1837c7c20318a2717576fb6e957b82abf2a2dcd76c",
    "2f87729477134bcc3b5e40fc9a7e0ef0",
);
#[rustfmt::skip]
const FIXED_FRAMES: &str = concat!(
    "00000001", "000000000000000000000001", "361b63e9", "34987d1e6d1cb9fb0ab60498f2f7f783",
    "ffffffff", "00000002", "000000000000000000000002", "00000001", "77", "b4099c3c2927629297c6f5fe6c3deeb3",
);

#[test]
fn a_message_from_fixed_inputs() {
    let edk = EncryptedDataKey { provider_id: "p".into(), provider_info: b"i".to_vec(), ciphertext: b"c".to_vec() };
    let materials =
        EncryptionMaterials::new(ctx(&[("a", "b")]), DataKey::from_bytes(FIXED_DATA_KEY), vec![edk]).unwrap();
    let mut enc = Encryptor::new(&materials, 4, &mut Fixed(FIXED_MESSAGE_ID.to_vec())).unwrap();
    let mut msg = Vec::new();
    enc.update(b"hello", &mut msg).unwrap();
    enc.finish(&mut msg).unwrap();
    assert_eq!(hex::encode(&msg), [FIXED_HEADER, FIXED_FRAMES].concat());

    let mut dec = Decryptor::new(DecryptPolicy::requiring(ctx(&[("a", "b")])));
    let mut out = Vec::new();
    assert_eq!(dec.update(&msg, &mut out).unwrap(), FIXED_HEADER.len() / 2);
    dec.unlock(&DataKey::from_bytes(FIXED_DATA_KEY)).unwrap();
    assert_eq!(hex::encode(dec.verified_header().unwrap().frame_key().expose()), FIXED_FRAME_KEY);
    dec.update(&msg[FIXED_HEADER.len() / 2..], &mut out).unwrap();
    dec.finish().unwrap();
    assert_eq!(out, b"hello");
}

/// The frame fields, spelled out from `data-format/message-body-aad.md` and
/// `message-body.md`.
#[test]
fn frame_aad_iv_and_prefix_by_hand() {
    let id = [0x11; 32];
    let mut aad = b"stale".to_vec();
    frame::aad(&mut aad, &id, 0x0102_0304, 0x0000_0005_0006_0007, false);
    let mut want = id.to_vec();
    want.extend_from_slice(b"AWSKMSEncryptionClient Frame");
    want.extend_from_slice(&[1, 2, 3, 4, 0, 0, 0, 5, 0, 6, 0, 7]);
    assert_eq!(aad, want);
    frame::aad(&mut aad, &id, 9, 0, true);
    let mut want = id.to_vec();
    want.extend_from_slice(b"AWSKMSEncryptionClient Final Frame");
    want.extend_from_slice(&[0, 0, 0, 9, 0, 0, 0, 0, 0, 0, 0, 0]);
    assert_eq!(aad, want);

    assert_eq!(frame::iv(0x0A0B_0C0D), [0, 0, 0, 0, 0, 0, 0, 0, 0x0A, 0x0B, 0x0C, 0x0D]);
    let iv = [0x33; 12];
    let mut out = vec![0xAA];
    frame::write_prefix(&mut out, 7, &iv, 99, false);
    assert_eq!(out, [&[0xAA, 0, 0, 0, 7][..], &iv].concat());
    let mut out = Vec::new();
    frame::write_prefix(&mut out, 7, &iv, 99, true);
    assert_eq!(out, [&[0xFF, 0xFF, 0xFF, 0xFF, 0, 0, 0, 7][..], &iv, &[0, 0, 0, 99]].concat());
}
