#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! What the browser builds on: resuming an encryption mid-message, and reading frames
//! with an external AES-GCM (WebCrypto) under this crate's ordering rules.

mod common;

use common::*;
use vault_core::frame::{self, FrameParse};
use vault_core::{BodyLayout, DecryptPolicy, Encryptor, Error, HeaderParse, ParsedHeader, VerifiedHeader};

fn verified_header(msg: &[u8]) -> VerifiedHeader {
    match ParsedHeader::parse(msg, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h.verify_with(&[&keyring()]).unwrap(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

#[test]
fn resumed_encryption_writes_the_same_bytes() {
    let frame_length = 100u32;
    let plain = pattern(1234);
    let whole = encrypt(&plain, frame_length);
    let header = verified_header(&whole);
    for done_frames in [0usize, 1, 5, 12] {
        let mut resumed = whole[..header.header_len() + done_frames * (frame_length as usize + 32)].to_vec();
        let mut enc = Encryptor::resume(&header, done_frames as u32 + 1).unwrap();
        enc.update(&plain[done_frames * frame_length as usize..], &mut resumed).unwrap();
        enc.finish(&mut resumed).unwrap();
        assert_eq!(resumed, whole, "resumed after {done_frames} frames");
    }
    assert!(matches!(Encryptor::resume(&header, 0), Err(Error::Misuse(_))));
}

/// Opens a span with `aes-gcm` standing in for WebCrypto, using only `admit`'s output.
fn open_detached(
    msg: &[u8],
    header: &VerifiedHeader,
    first_frame_offset: usize,
    span_end: usize,
) -> Result<usize, Error> {
    use aes_gcm::aead::{AeadInPlace, KeyInit};
    let layout = BodyLayout::new(header, msg.len() as u64)?;
    let span = layout.locate(0..layout.plaintext_len())?;
    let mut frames = layout.frame_sequence(&span);
    let aead = aes_gcm::Aes256Gcm::new(header.frame_key().expose().into());
    let (mut at, mut aad, mut opened) = (first_frame_offset, Vec::new(), 0);
    while at < span_end {
        let FrameParse::Complete(parts) = frame::parse(&msg[at..span_end], header.frame_length())? else {
            return Err(Error::Truncated);
        };
        frames.admit(header.message_id(), &parts, &mut aad)?;
        let mut buf = parts.ciphertext.to_vec();
        aead.decrypt_in_place_detached(&parts.iv.into(), &aad, &mut buf, &parts.tag.into())
            .map_err(|_| Error::AuthenticationFailed(vault_core::Section::Frame(parts.sequence)))?;
        opened += buf.len();
        at += parts.len;
    }
    Ok(opened)
}

#[test]
fn admit_gives_the_aad_an_external_aead_verifies() {
    let plain = pattern(1000);
    let msg = encrypt(&plain, 64);
    let header = verified_header(&msg);
    assert_eq!(open_detached(&msg, &header, header.header_len(), msg.len()).unwrap(), plain.len());
}

#[test]
fn admit_refuses_skipped_frames_and_a_cut_tail() {
    let msg = encrypt(&pattern(1000), 64);
    let header = verified_header(&msg);
    // Starting one frame late: the first frame read is out of order.
    let second = header.header_len() + 64 + 32;
    assert!(matches!(
        open_detached(&msg, &header, second, msg.len()),
        Err(Error::FrameOutOfOrder { expected: 1, found: 2 })
    ));
    // A message cut after a regular frame, read as if it were whole: the layout says
    // the last frame read must be final.
    let cut = &msg[..header.header_len() + 3 * (64 + 32) + 40];
    let header = verified_header(cut);
    assert!(open_detached(cut, &header, header.header_len(), cut.len()).is_err());
}
