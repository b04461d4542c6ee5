//! Upload parts: how Vault cuts a message so that each part can be checked alone.
//!
//! A message is cut on frame boundaries into parts of `P` frames: part 1 is the
//! header plus frames 1…P, part *n* frames (n−1)·P+1 … n·P, and the last part
//! whatever remains, ending with the final frame. The receiver of part *n* therefore
//! knows before reading it which sequence number its first frame carries and how
//! long it may be, and can authenticate it on its own ([`crate::FrameRun`]).
//!
//! ```text
//! frame bytes        = frame length + 32                  every frame but the final
//! full part          = P · frame bytes   (+ header, part 1)
//! first sequence(n)  = (n − 1) · P + 1
//! plaintext of n     = [(n − 1) · P · frame length, n · P · frame length) ∩ [0, size)
//! parts(size)        = ⌊size / (P · frame length)⌋ + 1    the last holds the final frame,
//!                                                          empty when size is a multiple
//! ```
//! This is the one place of that arithmetic: the server, the CLI client and the
//! browser (through vault-wasm) all use it.

use core::ops::Range;

use crate::error::Error;
use crate::frame::{FINAL_FRAME_OVERHEAD, REGULAR_FRAME_OVERHEAD};
use crate::policy::MAX_FRAME_LENGTH;

/// How a message is cut into upload parts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct PartPlan {
    frame_length: u32,
    part_frames: u32,
}

/// What a part that ends a message holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FinalPart {
    /// Frames in the part, the final frame included.
    pub frames: u64,
    /// Plaintext bytes those frames hold.
    pub plaintext_len: u64,
}

impl PartPlan {
    /// A plan of `part_frames` frames of `frame_length` plaintext bytes per part.
    pub fn new(frame_length: u32, part_frames: u32) -> Result<Self, Error> {
        if frame_length == 0 || frame_length > MAX_FRAME_LENGTH || part_frames == 0 {
            return Err(Error::Misuse("a part plan needs frames of 1 byte to 16 MiB and at least one per part"));
        }
        Ok(Self { frame_length, part_frames })
    }

    /// The plan whose parts (all but the last) hold at least `min_part_bytes` of
    /// frames: S3 refuses multipart parts under 5 MiB, except the last.
    pub fn with_min_part_size(frame_length: u32, min_part_bytes: u64) -> Result<Self, Error> {
        let frame_bytes = u64::from(frame_length) + REGULAR_FRAME_OVERHEAD;
        let frames = u32::try_from(min_part_bytes.div_ceil(frame_bytes).max(1))
            .map_err(|_| Error::Misuse("a part of that size holds too many frames"))?;
        Self::new(frame_length, frames)
    }

    /// Plaintext bytes per frame.
    pub fn frame_length(&self) -> u32 {
        self.frame_length
    }

    /// Frames per part (all but the last).
    pub fn part_frames(&self) -> u32 {
        self.part_frames
    }

    /// Ciphertext bytes of a frame that is not the final one.
    pub fn frame_bytes(&self) -> u64 {
        u64::from(self.frame_length) + REGULAR_FRAME_OVERHEAD
    }

    /// Plaintext bytes of a full part.
    pub fn part_plaintext(&self) -> u64 {
        u64::from(self.part_frames) * u64::from(self.frame_length)
    }

    /// Bytes of part `part` (from 1) when it is full: its frames, and the header's
    /// `header_len` bytes for part 1. Also the most any part may hold.
    pub fn full_part_len(&self, part: u32, header_len: u64) -> u64 {
        let frames = u64::from(self.part_frames) * self.frame_bytes();
        if part == 1 { frames + header_len } else { frames }
    }

    /// Where each part of a whole message of `message_len` bytes (its header of
    /// `header_len` bytes included) lies in it, part 1 first: how a client that holds
    /// the message cuts it for upload.
    pub fn part_ranges(&self, header_len: u64, message_len: u64) -> impl Iterator<Item = Range<u64>> + '_ {
        let mut start = 0u64;
        (1..=u32::MAX).map_while(move |part| {
            let end = start.saturating_add(self.full_part_len(part, header_len)).min(message_len);
            let range = (start < message_len).then_some(start..end);
            start = end;
            range
        })
    }

    /// The sequence number of part `part`'s first frame; None for part 0 or past the
    /// 2³² frames a message may hold.
    pub fn first_sequence(&self, part: u32) -> Option<u32> {
        part.checked_sub(1)?.checked_mul(self.part_frames)?.checked_add(1)
    }

    /// How many parts a plaintext of `plaintext_len` bytes makes.
    pub fn part_count(&self, plaintext_len: u64) -> u64 {
        plaintext_len / self.part_plaintext() + 1
    }

    /// The plaintext bytes part `part` carries, of a plaintext of `plaintext_len`
    /// bytes (empty for the last part when the length is a multiple of a part's).
    pub fn plaintext_range(&self, part: u32, plaintext_len: u64) -> Range<u64> {
        let start = u64::from(part.saturating_sub(1)).saturating_mul(self.part_plaintext()).min(plaintext_len);
        start..start.saturating_add(self.part_plaintext()).min(plaintext_len)
    }

    /// What a part that ends the message holds, from its frame bytes (without the
    /// header); None if no run of whole frames ending in a final frame has that length.
    pub fn final_part(&self, body_len: u64) -> Option<FinalPart> {
        let before_final = body_len.checked_sub(FINAL_FRAME_OVERHEAD)?;
        let regular = before_final / self.frame_bytes();
        let final_len = before_final - regular * self.frame_bytes();
        if final_len > u64::from(self.frame_length) || regular >= u64::from(self.part_frames) {
            return None;
        }
        Some(FinalPart { frames: regular + 1, plaintext_len: regular * u64::from(self.frame_length) + final_len })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_of_a_message() {
        let plan = PartPlan::new(4096, 3).unwrap();
        assert_eq!((plan.frame_length(), plan.part_frames()), (4096, 3));
        assert_eq!(plan.frame_bytes(), 4096 + 32);
        assert_eq!(plan.part_plaintext(), 3 * 4096);
        assert_eq!(plan.full_part_len(1, 500), 3 * 4128 + 500);
        assert_eq!(plan.full_part_len(2, 500), 3 * 4128);
        assert_eq!(plan.first_sequence(1), Some(1));
        assert_eq!(plan.first_sequence(3), Some(7));
        assert_eq!(plan.first_sequence(0), None);
        assert_eq!(PartPlan::new(16, u32::MAX).unwrap().first_sequence(3), None);
        let ranges: Vec<_> = plan.part_ranges(500, 500 + 2 * 12_384 + 100).collect();
        assert_eq!(ranges, [0..500 + 12_384, 500 + 12_384..500 + 2 * 12_384, 500 + 2 * 12_384..500 + 2 * 12_384 + 100]);
        assert_eq!(plan.part_ranges(500, 400).collect::<Vec<_>>(), vec![(0..400)], "a short message is one part");
        // 25000 bytes: parts of 12288, 12288 and 424.
        assert_eq!(plan.part_count(25_000), 3);
        assert_eq!(plan.plaintext_range(1, 25_000), 0..12_288);
        assert_eq!(plan.plaintext_range(3, 25_000), 24_576..25_000);
        // A multiple of a part: the last part holds only the (empty) final frame.
        assert_eq!(plan.part_count(24_576), 3);
        assert_eq!(plan.plaintext_range(3, 24_576), 24_576..24_576);
        assert_eq!(plan.part_count(0), 1);
    }

    #[test]
    fn the_last_part_is_read_back_from_its_length() {
        let plan = PartPlan::new(4096, 3).unwrap();
        // Two regular frames and a final one of 100 bytes.
        let body = 2 * 4128 + 100 + 40;
        assert_eq!(plan.final_part(body), Some(FinalPart { frames: 3, plaintext_len: 2 * 4096 + 100 }));
        assert_eq!(plan.final_part(40), Some(FinalPart { frames: 1, plaintext_len: 0 }));
        assert_eq!(plan.final_part(4096 + 40), Some(FinalPart { frames: 1, plaintext_len: 4096 }));
        assert_eq!(plan.final_part(39), None, "shorter than a final frame");
        assert_eq!(plan.final_part(4097 + 40), None, "a final frame longer than a frame");
        assert_eq!(plan.final_part(3 * 4128 + 40), None, "more frames than a part holds");
    }

    #[test]
    fn plans_for_a_minimum_part_size() {
        let plan = PartPlan::with_min_part_size(65_536, 8 << 20).unwrap();
        assert_eq!(plan.part_frames(), 128, "ceil(8 MiB / (64 KiB + 32))");
        assert!(plan.full_part_len(2, 0) >= 8 << 20);
        assert!(u64::from(plan.part_frames() - 1) * plan.frame_bytes() < 8 << 20);
        assert_eq!(PartPlan::with_min_part_size(65_536, 1).unwrap().part_frames(), 1);
        assert!(PartPlan::new(0, 1).is_err() && PartPlan::new(1, 0).is_err());
        assert!(PartPlan::new(MAX_FRAME_LENGTH + 1, 1).is_err());
    }
}
