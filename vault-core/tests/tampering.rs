#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Every way of altering a message is refused, and no unverified plaintext escapes.

mod common;

use common::*;
use vault_core::frame::{FINAL_FRAME_OVERHEAD, REGULAR_FRAME_OVERHEAD};
use vault_core::{DecryptPolicy, Error, HeaderParse, ParsedHeader, Section};

const FRAME: u32 = 16;

fn header_len(msg: &[u8]) -> usize {
    match ParsedHeader::parse(msg, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h.len(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

/// A message of four frames (three regular, one final).
fn small_message() -> (Vec<u8>, Vec<u8>) {
    let pt = pattern(3 * FRAME as usize + 5);
    (encrypt(&pt, FRAME), pt)
}

#[test]
fn every_single_bit_flip_is_rejected() {
    let (msg, pt) = small_message();
    let k = keyring();
    let mut checked = 0;
    for byte in 0..msg.len() {
        for bit in 0..8 {
            let mut bad = msg.clone();
            bad[byte] ^= 1 << bit;
            for pieces in [&[usize::MAX][..], &[7, 1, 13]] {
                let (out, res) = decrypt_in_pieces(&bad, pieces, DecryptPolicy::default(), &[&k]);
                assert!(res.is_err(), "flip of bit {bit} in byte {byte} accepted");
                // Whatever was released must be a verified prefix of the plaintext.
                assert!(pt.starts_with(&out), "flip at {byte}:{bit} released unverified bytes");
                checked += 1;
            }
        }
    }
    assert_eq!(checked, msg.len() * 16);
}

#[test]
fn truncation_at_every_offset_is_rejected() {
    let (msg, pt) = small_message();
    let k = keyring();
    for cut in 0..msg.len() {
        let (out, res) = decrypt_in_pieces(&msg[..cut], &[5], DecryptPolicy::default(), &[&k]);
        assert_eq!(res, Err(Error::Truncated), "cut at {cut}");
        assert!(pt.starts_with(&out));
    }
}

#[test]
fn trailing_bytes_and_extra_frames_are_rejected() {
    let (msg, _) = small_message();
    let mut extra = msg.clone();
    extra.push(0);
    assert_eq!(decrypt(&extra), Err(Error::TrailingData));
    // The final frame appended twice.
    let final_len = (FINAL_FRAME_OVERHEAD + 5) as usize;
    let mut doubled = msg.clone();
    doubled.extend_from_slice(&msg[msg.len() - final_len..]);
    assert_eq!(decrypt(&doubled), Err(Error::TrailingData));
}

#[test]
fn reordered_dropped_and_duplicated_frames_are_rejected() {
    let (msg, pt) = small_message();
    let h = header_len(&msg);
    let f = (FRAME as u64 + REGULAR_FRAME_OVERHEAD) as usize;
    let frame = |i: usize| &msg[h + i * f..h + (i + 1) * f];
    let tail = &msg[h + 3 * f..];
    let build = |order: &[usize]| {
        let mut m = msg[..h].to_vec();
        for &i in order {
            m.extend_from_slice(frame(i));
        }
        m.extend_from_slice(tail);
        m
    };
    let k = keyring();
    let check = |m: Vec<u8>, expected: Error, released: usize| {
        let (out, res) = decrypt_in_pieces(&m, &[usize::MAX], DecryptPolicy::default(), &[&k]);
        assert_eq!(res, Err(expected));
        assert_eq!(out, pt[..released]);
    };
    check(build(&[1, 0, 2]), Error::FrameOutOfOrder { expected: 1, found: 2 }, 0);
    check(build(&[0, 2, 1]), Error::FrameOutOfOrder { expected: 2, found: 3 }, 16);
    check(build(&[0, 0, 1, 2]), Error::FrameOutOfOrder { expected: 2, found: 1 }, 16);
    check(build(&[0, 2]), Error::FrameOutOfOrder { expected: 2, found: 3 }, 16);
    check(build(&[0, 1]), Error::FrameOutOfOrder { expected: 3, found: 4 }, 32);
}

#[test]
fn frames_from_another_message_are_rejected() {
    let (a, pt) = small_message();
    let (b, _) = small_message();
    let h = header_len(&a);
    let f = (FRAME as u64 + REGULAR_FRAME_OVERHEAD) as usize;
    let mut spliced = a.clone();
    spliced[h + f..h + 2 * f].copy_from_slice(&b[h + f..h + 2 * f]);
    let k = keyring();
    let (out, res) = decrypt_in_pieces(&spliced, &[usize::MAX], DecryptPolicy::default(), &[&k]);
    assert_eq!(res, Err(Error::AuthenticationFailed(Section::Frame(2))));
    assert_eq!(out, pt[..16], "only frame 1 was released");
}

#[test]
fn wrong_commitment_is_its_own_error() {
    let (msg, _) = small_message();
    let h = header_len(&msg);
    // The commitment is the 32 bytes before the 16-byte header tag.
    let mut bad = msg.clone();
    bad[h - 16 - 1] ^= 0x80;
    assert_eq!(decrypt(&bad), Err(Error::CommitmentMismatch));
    // A flip in the header tag itself is a header authentication failure.
    let mut bad = msg.clone();
    bad[h - 1] ^= 1;
    assert_eq!(decrypt(&bad), Err(Error::AuthenticationFailed(Section::Header)));
}

#[test]
fn errors_never_show_plaintext_or_keys() {
    let (msg, _) = small_message();
    let mut bad = msg.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    let err = decrypt(&bad).unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("42"), "{shown}");
    assert_eq!(err, Error::AuthenticationFailed(Section::Frame(4)));
}
