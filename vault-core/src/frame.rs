//! Frames: the body of a framed message.
//!
//! Specification: `data-format/message-body.md` ("Framed Data") and
//! `data-format/message-body-aad.md`.
//!
//! ```text
//! regular frame:  sequence u32 | IV [12] | ciphertext [frame length]   | tag [16]
//! final frame:    0xFFFFFFFF   | sequence u32 | IV [12] | content length u32 | ciphertext [content length] | tag [16]
//!
//! IV  = 0^8 || sequence u32                      (written; readers use the IV stored in the frame)
//! AAD = message id || "AWSKMSEncryptionClient Frame" | "AWSKMSEncryptionClient Final Frame"
//!       || sequence u32 || content length u64
//! ```
//! Sequence numbers start at 1 and increase by one; the final frame holds 0 to
//! frame-length bytes and is the only frame allowed to be short. Because every frame
//! but the last has the same size, frame `n` starts at a computable offset, which is
//! what makes seeking possible (see [`crate::random_access`]).
//!
//! The functions here are public so that a caller running the AEAD elsewhere
//! (WebCrypto in the browser) frames its output exactly as this crate does.

use crate::aead::Aead;
use crate::error::{Error, Limit, Section};
use crate::suite::{IV_LEN, MESSAGE_ID_LEN, TAG_LEN};
use crate::wire::{ReadError, Reader};

/// The sequence-number field value that introduces a final frame.
pub const FINAL_FRAME_MARKER: u32 = 0xFFFF_FFFF;
/// Bytes a regular frame adds to its plaintext: sequence, IV, tag.
pub const REGULAR_FRAME_OVERHEAD: u64 = 4 + IV_LEN as u64 + TAG_LEN as u64;
/// Bytes a final frame adds to its plaintext: marker, sequence, IV, length, tag.
pub const FINAL_FRAME_OVERHEAD: u64 = 4 + 4 + IV_LEN as u64 + 4 + TAG_LEN as u64;

const REGULAR_LABEL: &[u8] = b"AWSKMSEncryptionClient Frame";
const FINAL_LABEL: &[u8] = b"AWSKMSEncryptionClient Final Frame";

/// The IV the specification assigns to a frame.
pub fn iv(sequence: u32) -> [u8; IV_LEN] {
    let mut iv = [0u8; IV_LEN];
    iv[IV_LEN - 4..].copy_from_slice(&sequence.to_be_bytes());
    iv
}

/// Writes a frame's AAD into `aad` (cleared first), so hot loops reuse one buffer.
pub fn aad(aad: &mut Vec<u8>, message_id: &[u8; MESSAGE_ID_LEN], sequence: u32, content_len: u64, is_final: bool) {
    aad.clear();
    aad.extend_from_slice(message_id);
    aad.extend_from_slice(if is_final { FINAL_LABEL } else { REGULAR_LABEL });
    aad.extend_from_slice(&sequence.to_be_bytes());
    aad.extend_from_slice(&content_len.to_be_bytes());
}

/// Writes the fields that precede a frame's ciphertext.
pub fn write_prefix(out: &mut Vec<u8>, sequence: u32, iv: &[u8; IV_LEN], content_len: u32, is_final: bool) {
    if is_final {
        out.extend_from_slice(&FINAL_FRAME_MARKER.to_be_bytes());
    }
    out.extend_from_slice(&sequence.to_be_bytes());
    out.extend_from_slice(iv);
    if is_final {
        out.extend_from_slice(&content_len.to_be_bytes());
    }
}

/// A frame located in a buffer, before authentication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameParts<'a> {
    /// The frame's sequence number.
    pub sequence: u32,
    /// Whether it is the final frame.
    pub is_final: bool,
    /// The IV stored in the frame.
    pub iv: [u8; IV_LEN],
    /// The encrypted content.
    pub ciphertext: &'a [u8],
    /// The authentication tag.
    pub tag: [u8; TAG_LEN],
    /// Total bytes the frame occupies.
    pub len: usize,
}

/// Result of looking for one frame at the start of a buffer.
#[derive(Debug)]
pub enum FrameParse<'a> {
    /// At least this many bytes from the frame's start are needed.
    NeedMore(usize),
    /// A whole frame.
    Complete(FrameParts<'a>),
}

/// Locates the frame at the start of `input` for a message with this frame length.
pub fn parse(input: &[u8], frame_length: u32) -> Result<FrameParse<'_>, Error> {
    match read(input, frame_length) {
        Ok(parts) => Ok(FrameParse::Complete(parts)),
        Err(ReadError::Incomplete(n)) => Ok(FrameParse::NeedMore(n)),
        Err(ReadError::Invalid(e)) => Err(e),
    }
}

fn read(input: &[u8], frame_length: u32) -> Result<FrameParts<'_>, ReadError> {
    let mut r = Reader::new(input);
    let first = r.u32()?;
    let (sequence, is_final) = if first == FINAL_FRAME_MARKER { (r.u32()?, true) } else { (first, false) };
    let iv = r.array()?;
    let content_len = if is_final { r.u32()? } else { frame_length };
    if content_len > frame_length {
        return Err(Error::Malformed("final frame is longer than the frame length").into());
    }
    // Ask for the whole rest of the frame at once, so a streaming caller buffers it
    // in one step instead of field by field.
    let frame_end = r.position() + content_len as usize + TAG_LEN;
    if input.len() < frame_end {
        return Err(ReadError::Incomplete(frame_end));
    }
    let ciphertext = r.take(content_len as usize)?;
    let tag = r.array()?;
    Ok(FrameParts { sequence, is_final, iv, ciphertext, tag, len: r.position() })
}

/// Encrypts and appends one frame to `out`, copying the plaintext once.
pub(crate) fn seal(
    aead: &Aead,
    message_id: &[u8; MESSAGE_ID_LEN],
    scratch: &mut Vec<u8>,
    sequence: u32,
    plaintext: &[u8],
    is_final: bool,
    out: &mut Vec<u8>,
) {
    let len = u32::try_from(plaintext.len()).expect("frames are at most MAX_FRAME_LENGTH bytes");
    let iv = iv(sequence);
    aad(scratch, message_id, sequence, u64::from(len), is_final);
    write_prefix(out, sequence, &iv, len, is_final);
    let start = out.len();
    out.extend_from_slice(plaintext);
    let tag = aead.seal(&iv, scratch, &mut out[start..]);
    out.extend_from_slice(&tag);
}

/// Tracks which frame must come next while a body is read, in order.
///
/// Public so that a caller running the AEAD elsewhere (WebCrypto) applies the same
/// ordering rules: see [`FrameSequence::admit`]. Obtain one for a seek from
/// [`crate::BodyLayout::frame_sequence`].
#[derive(Debug)]
pub struct FrameSequence {
    next: u32,
    /// In random access the final frame's position is known from the message
    /// length; a regular frame there means the stored object was cut short.
    final_at: Option<u32>,
    finished: bool,
}

impl FrameSequence {
    pub(crate) fn starting_at(next: u32, final_at: Option<u32>) -> Self {
        Self { next, final_at, finished: false }
    }

    /// Whether the final frame has been read.
    pub fn finished(&self) -> bool {
        self.finished
    }

    /// Sequence number of the next regular frame expected.
    pub fn next(&self) -> u32 {
        self.next
    }

    /// Checks that `parts` is the frame that must come next, writes the AAD its tag
    /// must verify against into `aad`, and moves past it.
    ///
    /// For callers that authenticate frames with their own AES-GCM (WebCrypto): they
    /// must decrypt with `parts.iv` and this AAD, and treat a failed tag as the end
    /// of the message, exactly as [`crate::Decryptor`] does.
    pub fn admit(
        &mut self,
        message_id: &[u8; MESSAGE_ID_LEN],
        parts: &FrameParts<'_>,
        aad_out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.check(parts)?;
        aad(aad_out, message_id, parts.sequence, parts.ciphertext.len() as u64, parts.is_final);
        self.advance(parts)
    }

    fn check(&self, parts: &FrameParts<'_>) -> Result<(), Error> {
        if self.finished {
            return Err(Error::TrailingData);
        }
        if parts.sequence != self.next {
            return Err(Error::FrameOutOfOrder { expected: self.next, found: parts.sequence });
        }
        if let Some(final_at) = self.final_at
            && parts.is_final != (parts.sequence == final_at)
        {
            return Err(Error::Malformed("the message length disagrees with its frames"));
        }
        Ok(())
    }

    fn advance(&mut self, parts: &FrameParts<'_>) -> Result<(), Error> {
        if parts.is_final {
            self.finished = true;
        } else {
            // A regular frame can never carry the marker value, so the next frame
            // after 0xFFFFFFFE must be the final one with sequence 0xFFFFFFFF.
            self.next = self.next.checked_add(1).ok_or(Error::LimitExceeded(Limit::FrameCount))?;
        }
        Ok(())
    }

    /// Verifies and decrypts one located frame, appending its plaintext to `out`
    /// only if its tag verifies.
    pub(crate) fn open(
        &mut self,
        aead: &Aead,
        message_id: &[u8; MESSAGE_ID_LEN],
        scratch: &mut Vec<u8>,
        parts: &FrameParts<'_>,
        out: &mut Vec<u8>,
    ) -> Result<(), Error> {
        self.check(parts)?;
        aad(scratch, message_id, parts.sequence, parts.ciphertext.len() as u64, parts.is_final);
        let start = out.len();
        out.extend_from_slice(parts.ciphertext);
        if let Err(e) = aead.open(&parts.iv, scratch, &mut out[start..], &parts.tag, Section::Frame(parts.sequence)) {
            out.truncate(start);
            return Err(e);
        }
        self.advance(parts)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn iv_is_sequence_padded() {
        assert_eq!(iv(0x0102_0304), [0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3, 4]);
    }

    #[test]
    fn final_frame_longer_than_frame_length_is_malformed() {
        let mut bytes = FINAL_FRAME_MARKER.to_be_bytes().to_vec();
        bytes.extend_from_slice(&1u32.to_be_bytes());
        bytes.extend_from_slice(&[0; IV_LEN]);
        bytes.extend_from_slice(&9u32.to_be_bytes());
        assert!(matches!(parse(&bytes, 8), Err(Error::Malformed(_))));
        assert!(matches!(parse(&bytes, 9).unwrap(), FrameParse::NeedMore(n) if n == 24 + 9 + 16));
    }
}
