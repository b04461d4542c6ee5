//! Random access: decrypt a plaintext range by reading only the frames that hold it.
//!
//! Every frame but the last is `frame length + 32` bytes, so frame `n` (from 1)
//! starts at `header length + (n - 1) * (frame length + 32)`. The message length
//! (known to whoever stores the object) then fixes the number of regular frames and
//! the final frame's length:
//!
//! ```text
//! body        = message length - header length
//! regular     = (body - 40) / (frame length + 32)
//! final bytes = (body - 40) - regular * (frame length + 32)      must be <= frame length
//! ```
//! which is unambiguous for both final-frame conventions (full or empty).
//!
//! # Security
//! Each frame read is authenticated exactly as in a full decryption, and its AAD binds
//! its sequence number, its length and whether it is final, so a range can never
//! decrypt to bytes from another position or another message. A stored length that
//! lies about the message shows up as an error at the frames it misplaces. What a
//! range read cannot see is damage outside the range (a truncated tail while reading
//! the start); full verification is the integrity scrub's job.

use core::ops::Range;

use crate::decrypt::read_frames;
use crate::error::Error;
use crate::frame::{FINAL_FRAME_OVERHEAD, FrameSequence, REGULAR_FRAME_OVERHEAD};
use crate::header::VerifiedHeader;

/// Where a message's frames lie, computed from its header and total length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BodyLayout {
    header_len: u64,
    frame_length: u64,
    regular_frames: u64,
    final_len: u64,
}

/// The frames that hold a plaintext range.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrameSpan {
    /// Sequence number of the first frame to read.
    pub first_sequence: u32,
    /// Sequence number of the last frame to read.
    pub last_sequence: u32,
    /// The ciphertext bytes to fetch: exactly those frames.
    pub ciphertext: Range<u64>,
    /// The plaintext those frames decrypt to (a superset of the range asked for).
    pub frames_plaintext: Range<u64>,
    /// The plaintext range asked for.
    pub plaintext: Range<u64>,
}

impl BodyLayout {
    /// The layout of a message of `message_len` bytes whose header is `header`.
    pub fn new(header: &VerifiedHeader, message_len: u64) -> Result<Self, Error> {
        Self::from_parts(header.header_len() as u64, header.frame_length(), message_len)
    }

    /// The layout from raw numbers (for callers that stored them).
    pub fn from_parts(header_len: u64, frame_length: u32, message_len: u64) -> Result<Self, Error> {
        const BAD: Error = Error::Malformed("the message length does not fit its frame layout");
        let frame_length = u64::from(frame_length);
        if frame_length == 0 {
            return Err(BAD);
        }
        let body = message_len.checked_sub(header_len).ok_or(Error::Truncated)?;
        let after_final = body.checked_sub(FINAL_FRAME_OVERHEAD).ok_or(Error::Truncated)?;
        let regular_frames = after_final / (frame_length + REGULAR_FRAME_OVERHEAD);
        let final_len = after_final - regular_frames * (frame_length + REGULAR_FRAME_OVERHEAD);
        if final_len > frame_length || regular_frames >= u64::from(u32::MAX) {
            return Err(BAD);
        }
        Ok(Self { header_len, frame_length, regular_frames, final_len })
    }

    /// The plaintext length of the whole message.
    pub fn plaintext_len(&self) -> u64 {
        self.regular_frames * self.frame_length + self.final_len
    }

    /// Number of frames, the final one included.
    pub fn frame_count(&self) -> u64 {
        self.regular_frames + 1
    }

    /// The frames and ciphertext bytes that hold `plaintext` (a non-empty range
    /// within [`BodyLayout::plaintext_len`]).
    pub fn locate(&self, plaintext: Range<u64>) -> Result<FrameSpan, Error> {
        if plaintext.start >= plaintext.end || plaintext.end > self.plaintext_len() {
            return Err(Error::Misuse("range must be non-empty and within the plaintext"));
        }
        let first = self.frame_index(plaintext.start);
        let last = self.frame_index(plaintext.end - 1);
        let (first_start, _) = self.frame_bytes(first);
        let (last_start, last_len) = self.frame_bytes(last);
        Ok(FrameSpan {
            first_sequence: sequence(first),
            last_sequence: sequence(last),
            ciphertext: first_start..last_start + last_len,
            frames_plaintext: first * self.frame_length..(last * self.frame_length + self.plaintext_in(last)),
            plaintext,
        })
    }

    /// Zero-based index of the frame holding plaintext offset `offset`.
    fn frame_index(&self, offset: u64) -> u64 {
        (offset / self.frame_length).min(self.regular_frames)
    }

    fn plaintext_in(&self, index: u64) -> u64 {
        if index == self.regular_frames { self.final_len } else { self.frame_length }
    }

    /// Byte offset and length of the frame at zero-based `index`.
    fn frame_bytes(&self, index: u64) -> (u64, u64) {
        let start = self.header_len + index * (self.frame_length + REGULAR_FRAME_OVERHEAD);
        let len = if index == self.regular_frames {
            FINAL_FRAME_OVERHEAD + self.final_len
        } else {
            REGULAR_FRAME_OVERHEAD + self.frame_length
        };
        (start, len)
    }

    /// The ordering rules for reading `span`'s frames with an external AEAD (see
    /// [`FrameSequence::admit`]); [`RangeDecryptor`] applies the same ones.
    pub fn frame_sequence(&self, span: &FrameSpan) -> FrameSequence {
        FrameSequence::starting_at(span.first_sequence, Some(self.final_sequence()))
    }

    fn final_sequence(&self) -> u32 {
        sequence(self.regular_frames)
    }
}

fn sequence(index: u64) -> u32 {
    u32::try_from(index + 1).expect("frame count checked against u32::MAX in BodyLayout::from_parts")
}

/// Decrypts the frames of one [`FrameSpan`], fed in pieces of any size, and emits
/// exactly the plaintext range asked for.
#[derive(Debug)]
pub struct RangeDecryptor<'h> {
    header: &'h VerifiedHeader,
    frames: FrameSequence,
    span: FrameSpan,
    /// Plaintext offset of the next frame's first byte.
    position: u64,
    partial: Vec<u8>,
    scratch: Vec<u8>,
}

impl<'h> RangeDecryptor<'h> {
    /// A decryptor for `span` of a message laid out as `layout`.
    pub fn new(header: &'h VerifiedHeader, layout: &BodyLayout, span: FrameSpan) -> Self {
        Self {
            header,
            frames: layout.frame_sequence(&span),
            position: span.frames_plaintext.start,
            span,
            partial: Vec::new(),
            scratch: Vec::with_capacity(96),
        }
    }

    /// Consumes ciphertext from the span's byte range, appending the wanted part of
    /// each verified frame to `out`.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        read_frames(self.header, &mut self.frames, &mut self.partial, &mut self.scratch, input, out)?;
        let decrypted = out.len() - start;
        let from = self.position;
        self.position += decrypted as u64;
        // Keep only the overlap of this batch with the range asked for.
        let offset = |at: u64| usize::try_from(at.saturating_sub(from)).map_or(decrypted, |n| n.min(decrypted));
        let (skip, keep) = (offset(self.span.plaintext.start), offset(self.span.plaintext.end));
        out.truncate(start + keep);
        out.drain(start..start + skip.min(keep));
        if self.position > self.span.frames_plaintext.end {
            return Err(Error::Misuse("more ciphertext than the span holds"));
        }
        Ok(())
    }

    /// Succeeds once every frame of the span was read and verified.
    pub fn finish(self) -> Result<(), Error> {
        if self.position == self.span.frames_plaintext.end && self.partial.is_empty() {
            Ok(())
        } else {
            Err(Error::Truncated)
        }
    }
}
