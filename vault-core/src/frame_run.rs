//! Verifying a run of whole frames from a known sequence number, without the rest
//! of the message: how a server checks a resumable upload part by part.
//!
//! A client that cuts its upload into parts on frame boundaries lets the server
//! authenticate each part as it arrives (the header came with the first part), so a
//! corrupted or forged part is refused before it is stored, and completing the upload
//! needs no second pass over the object.
//!
//! # Security
//! Each frame is authenticated exactly as in a full decryption; its AAD binds the
//! sequence number and whether it is final, so parts cannot be reordered, replayed at
//! another position or taken from another message. Whether the runs of all parts join
//! up (part `n + 1` starts where part `n` ended, and the last run holds the final
//! frame) is the caller's check, made with [`FrameRunEnd`].

use crate::decrypt::read_frames;
use crate::error::Error;
use crate::frame::FrameSequence;
use crate::header::VerifiedHeader;

/// Decrypts and verifies whole frames starting at a given sequence number.
#[derive(Debug)]
pub struct FrameRun<'h> {
    header: &'h VerifiedHeader,
    frames: FrameSequence,
    partial: Vec<u8>,
    scratch: Vec<u8>,
    plaintext_len: u64,
}

/// Where a verified run of frames ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameRunEnd {
    /// The sequence number the next run must start at (unused when `is_final`).
    pub next_sequence: u32,
    /// Whether the run ended with the message's final frame.
    pub is_final: bool,
    /// Plaintext bytes the run decrypted to.
    pub plaintext_len: u64,
}

impl<'h> FrameRun<'h> {
    /// A run whose first frame has sequence number `first_sequence` (1 for the
    /// frames right after the header).
    pub fn new(header: &'h VerifiedHeader, first_sequence: u32) -> Self {
        Self {
            header,
            frames: FrameSequence::starting_at(first_sequence, None),
            partial: Vec::new(),
            scratch: Vec::with_capacity(96),
            plaintext_len: 0,
        }
    }

    /// Consumes ciphertext, appending the plaintext of each verified frame to `out`.
    /// Bytes after the final frame are [`Error::TrailingData`].
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        let start = out.len();
        read_frames(self.header, &mut self.frames, &mut self.partial, &mut self.scratch, input, out)?;
        self.plaintext_len += (out.len() - start) as u64;
        Ok(())
    }

    /// Succeeds if the input ended on a frame boundary, saying where.
    pub fn finish(self) -> Result<FrameRunEnd, Error> {
        if !self.partial.is_empty() {
            return Err(Error::Truncated);
        }
        Ok(FrameRunEnd {
            next_sequence: self.frames.next(),
            is_final: self.frames.finished(),
            plaintext_len: self.plaintext_len,
        })
    }
}
