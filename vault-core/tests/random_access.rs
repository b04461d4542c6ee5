#![allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: a panic is a failed test")]
//! Seeking: any plaintext range decrypts from exactly the frames that hold it.

mod common;

use std::ops::Range;

use common::*;
use proptest::prelude::*;
use vault_core::{
    BodyLayout, DecryptPolicy, Error, FrameRun, FrameRunEnd, HeaderParse, ParsedHeader, RangeDecryptor, VerifiedHeader,
};

fn verified_header(msg: &[u8]) -> VerifiedHeader {
    match ParsedHeader::parse(msg, &DecryptPolicy::default()).unwrap() {
        HeaderParse::Complete(h) => h.verify_with(&[&keyring()]).unwrap(),
        HeaderParse::NeedMore(_) => panic!("incomplete header"),
    }
}

/// Reads `range` by fetching only the span's bytes, fed in `piece`-sized pieces.
fn read_range(msg: &[u8], header: &VerifiedHeader, range: Range<u64>, piece: usize) -> Result<Vec<u8>, Error> {
    let layout = BodyLayout::new(header, msg.len() as u64)?;
    let span = layout.locate(range)?;
    let bytes = &msg[span.ciphertext.start as usize..span.ciphertext.end as usize];
    let mut rd = RangeDecryptor::new(header, &layout, span);
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece.max(1)) {
        rd.update(chunk, &mut out)?;
    }
    rd.finish()?;
    Ok(out)
}

#[test]
fn every_range_of_a_small_message() {
    for len in [1usize, 15, 16, 17, 48, 53] {
        let pt = pattern(len);
        let msg = encrypt(&pt, 16);
        let header = verified_header(&msg);
        let layout = BodyLayout::new(&header, msg.len() as u64).unwrap();
        assert_eq!(layout.plaintext_len(), len as u64);
        for start in 0..len {
            for end in start + 1..=len {
                let got = read_range(&msg, &header, start as u64..end as u64, 7).unwrap();
                assert_eq!(got, pt[start..end], "len {len} range {start}..{end}");
            }
        }
    }
}

#[test]
fn span_touches_only_the_needed_frames() {
    let msg = encrypt(&pattern(10 * 1024), 1024);
    let header = verified_header(&msg);
    let layout = BodyLayout::new(&header, msg.len() as u64).unwrap();
    let span = layout.locate(5000..5001).unwrap();
    assert_eq!((span.first_sequence, span.last_sequence), (5, 5));
    assert_eq!(span.ciphertext.end - span.ciphertext.start, 1024 + 32);
    let last = layout.locate(10 * 1024 - 1..10 * 1024).unwrap();
    assert_eq!(last.last_sequence, 10);
    // The empty final frame (40 bytes) holds no plaintext and is not fetched.
    assert_eq!(last.ciphertext.end, msg.len() as u64 - 40);
}

#[test]
fn out_of_bounds_ranges_are_misuse() {
    let msg = encrypt(&pattern(100), 16);
    let header = verified_header(&msg);
    let layout = BodyLayout::new(&header, msg.len() as u64).unwrap();
    assert!(matches!(layout.locate(50..50), Err(Error::Misuse(_))));
    assert!(matches!(layout.locate(99..101), Err(Error::Misuse(_))));
}

#[test]
fn a_lying_length_never_yields_wrong_plaintext() {
    let pt = pattern(16 * 6);
    let msg = encrypt(&pt, 16);
    let header = verified_header(&msg);
    // The object cut after its fifth frame but stored as if complete at that length.
    let cut = &msg[..header.header_len() + 5 * 48];
    let layout = BodyLayout::new(&header, cut.len() as u64).unwrap();
    let range = 0..layout.plaintext_len();
    assert!(read_range(cut, &header, range, 1000).is_err());
    // Reading a range whose frames are intact still works.
    assert_eq!(read_range(cut, &header, 0..32, 1000).unwrap(), pt[..32]);
    // A length that cannot be a frame layout at all: shorter than a final frame, or
    // a final frame of 17 bytes where frames hold 16.
    assert!(BodyLayout::new(&header, header.header_len() as u64 + 39).is_err());
    assert!(matches!(BodyLayout::new(&header, header.header_len() as u64 + 40 + 17), Err(Error::Malformed(_))));
}

#[test]
fn layout_limits() {
    // The most a message holds: 2^32 - 2 regular frames and a final one.
    let regular = u64::from(u32::MAX) - 1;
    let most = BodyLayout::from_parts(100, 1, 100 + regular * 33 + 40).unwrap();
    assert_eq!((most.frame_count(), most.plaintext_len()), (u64::from(u32::MAX), regular));
    let last = most.locate(regular - 1..regular).unwrap();
    assert_eq!((last.last_sequence, last.ciphertext.end), (u32::MAX - 1, 100 + regular * 33));
    assert!(matches!(BodyLayout::from_parts(100, 1, 100 + (regular + 1) * 33 + 40), Err(Error::Malformed(_))));
    assert!(matches!(BodyLayout::from_parts(100, 0, 1000), Err(Error::Malformed(_))));
    assert_eq!(BodyLayout::from_parts(100, 16, 139), Err(Error::Truncated));
    assert_eq!(BodyLayout::from_parts(100, 16, 99), Err(Error::Truncated));
}

#[test]
fn a_range_read_needs_exactly_the_frames_of_its_span() {
    let msg = encrypt(&pattern(100), 16);
    let header = verified_header(&msg);
    let layout = BodyLayout::new(&header, msg.len() as u64).unwrap();
    let span = layout.locate(10..40).unwrap();
    assert_eq!((span.first_sequence, span.last_sequence), (1, 3));
    let (start, end) = (span.ciphertext.start as usize, span.ciphertext.end as usize);
    let read = |bytes: &[u8]| {
        let mut rd = RangeDecryptor::new(&header, &layout, span.clone());
        rd.update(bytes, &mut Vec::new())?;
        rd.finish()
    };
    assert_eq!(read(&msg[start..end]), Ok(()));
    assert_eq!(read(&msg[start..end - 48]), Err(Error::Truncated), "two frames of three");
    assert_eq!(read(&msg[start..end - 1]), Err(Error::Truncated), "the last frame cut");
    assert_eq!(read(&msg[start..end + 10]), Err(Error::Truncated), "a piece of a frame after the span");
    assert!(matches!(read(&msg[start..end + 48]), Err(Error::Misuse(_))), "a whole frame after the span");
}

#[test]
fn tampered_frame_in_range_fails() {
    let pt = pattern(64);
    let mut msg = encrypt(&pt, 16);
    let header = verified_header(&msg);
    let at = header.header_len() + 48 + 20;
    msg[at] ^= 1;
    assert!(matches!(
        read_range(&msg, &header, 16..32, 64),
        Err(Error::AuthenticationFailed(vault_core::Section::Frame(2)))
    ));
    assert_eq!(read_range(&msg, &header, 0..16, 64).unwrap(), pt[..16]);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn random_ranges(len in 1usize..5000, frame in 1u32..700, a in any::<u64>(), b in any::<u64>(), piece in 1usize..900) {
        let pt = pattern(len);
        let msg = encrypt(&pt, frame);
        let header = verified_header(&msg);
        let (mut s, mut e) = (a % len as u64, b % len as u64);
        if s > e { std::mem::swap(&mut s, &mut e); }
        e += 1;
        let got = read_range(&msg, &header, s..e, piece).unwrap();
        prop_assert_eq!(&got[..], &pt[s as usize..e as usize]);
    }
}

/// Cuts a message's body into runs of `frames_per_part` frames, as an uploading client does.
fn frame_runs(msg: &[u8], header: &VerifiedHeader, frames_per_part: usize) -> Vec<Vec<u8>> {
    let frame_bytes = header.frame_length() as usize + 32;
    msg[header.header_len()..].chunks(frames_per_part * frame_bytes).map(<[u8]>::to_vec).collect()
}

fn verify_run(header: &VerifiedHeader, first: u32, bytes: &[u8], piece: usize) -> Result<FrameRunEnd, Error> {
    let mut run = FrameRun::new(header, first);
    let mut out = Vec::new();
    for chunk in bytes.chunks(piece.max(1)) {
        run.update(chunk, &mut out)?;
    }
    run.finish()
}

#[test]
fn frame_runs_verify_part_by_part_and_join_up() {
    for len in [0usize, 1, 63, 64, 65, 200, 256] {
        let pt = pattern(len);
        let msg = encrypt(&pt, 16);
        let header = verified_header(&msg);
        let runs = frame_runs(&msg, &header, 3);
        let (mut next, mut total) = (1, 0);
        for (i, bytes) in runs.iter().enumerate() {
            let end = verify_run(&header, next, bytes, 7).unwrap();
            assert_eq!(end.is_final, i == runs.len() - 1, "len {len} run {i}");
            next = end.next_sequence;
            total += end.plaintext_len;
        }
        assert_eq!(total, len as u64);
    }
}

#[test]
fn frame_runs_refuse_wrong_position_cut_frames_and_trailing_bytes() {
    let msg = encrypt(&pattern(200), 16);
    let header = verified_header(&msg);
    let runs = frame_runs(&msg, &header, 3);
    // The second part presented as the first, or the first one twice.
    assert!(matches!(verify_run(&header, 1, &runs[1], 5), Err(Error::FrameOutOfOrder { expected: 1, found: 4 })));
    assert!(matches!(verify_run(&header, 4, &runs[0], 5), Err(Error::FrameOutOfOrder { .. })));
    // A part that stops inside a frame.
    assert!(matches!(verify_run(&header, 1, &runs[0][..runs[0].len() - 1], 5), Err(Error::Truncated)));
    // Bytes after the final frame.
    let mut last = runs.last().unwrap().clone();
    last.push(0);
    let first = 1 + 3 * (runs.len() as u32 - 1);
    assert!(matches!(verify_run(&header, first, &last, 5), Err(Error::TrailingData)));
    // A flipped bit anywhere in a part.
    let mut bad = runs[1].clone();
    bad[40] ^= 1;
    assert!(matches!(verify_run(&header, 4, &bad, 5), Err(Error::AuthenticationFailed(_))));
    // A part of another message with the same key and context.
    let other = encrypt(&pattern(200), 16);
    let other_runs = frame_runs(&other, &verified_header(&other), 3);
    assert!(matches!(verify_run(&header, 4, &other_runs[1], 5), Err(Error::AuthenticationFailed(_))));
}
