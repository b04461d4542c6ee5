//! Upload parts: [`PartPlan`], vault-core's one definition of how a message is cut
//! into parts, for the page's upload worker.
//!
//! The server sends `frame_length` and `part_frames` when it creates a recording (and
//! again in the upload status); the page builds this plan from those two numbers, so
//! its parts are the ones the server checks one by one. Byte counts cross as `f64`
//! (exact below 2^53), part numbers as `u32` (as in the part URLs).

use vault_core::{Error, Limit};
use wasm_bindgen::prelude::*;

use crate::error::JsResult;
use crate::{to_f64, to_u64};

/// How a message is cut into upload parts (`vault_core::PartPlan`): part 1 is the
/// header plus `partFrames` frames, every later part `partFrames` frames, and the last
/// part the rest, ending with the final frame.
#[wasm_bindgen]
#[derive(Debug)]
pub struct PartPlan(vault_core::PartPlan);

impl PartPlan {
    pub(crate) fn core(&self) -> &vault_core::PartPlan {
        &self.0
    }

    pub(crate) fn first_sequence_of(&self, part: u32) -> Result<u32, Error> {
        self.0
            .first_sequence(part)
            .ok_or(Error::Misuse("parts are numbered from 1, and a message holds 2^32 - 1 frames"))
    }

    fn part_count_of(&self, plaintext_len: u64) -> Result<u32, Error> {
        u32::try_from(self.0.part_count(plaintext_len)).map_err(|_| Error::LimitExceeded(Limit::FrameCount))
    }
}

#[wasm_bindgen]
impl PartPlan {
    /// The plan the server announced: `frame_length` and `part_frames` of
    /// `POST /v1/recordings` (`upload`) or of the upload status.
    #[wasm_bindgen(constructor)]
    pub fn new(frame_length: u32, part_frames: u32) -> JsResult<PartPlan> {
        Ok(Self(vault_core::PartPlan::new(frame_length, part_frames)?))
    }

    /// Plaintext bytes per frame.
    #[wasm_bindgen(getter, js_name = frameLength)]
    pub fn frame_length(&self) -> u32 {
        self.0.frame_length()
    }

    /// Frames per part (all but the last).
    #[wasm_bindgen(getter, js_name = partFrames)]
    pub fn part_frames(&self) -> u32 {
        self.0.part_frames()
    }

    /// Ciphertext bytes of a frame that is not the final one.
    #[wasm_bindgen(getter, js_name = frameBytes)]
    pub fn frame_bytes(&self) -> f64 {
        to_f64(self.0.frame_bytes())
    }

    /// Plaintext bytes of a full part.
    #[wasm_bindgen(getter, js_name = partPlaintext)]
    pub fn part_plaintext(&self) -> f64 {
        to_f64(self.0.part_plaintext())
    }

    /// Bytes of part `part` when full (with the header's `header_len` bytes for part
    /// 1): the most any part may hold.
    #[wasm_bindgen(js_name = fullPartLength)]
    pub fn full_part_len(&self, part: u32, header_len: f64) -> JsResult<f64> {
        Ok(to_f64(self.0.full_part_len(part, to_u64(header_len)?)))
    }

    /// The sequence number of part `part`'s first frame (where a resumed message
    /// continues).
    #[wasm_bindgen(js_name = firstSequence)]
    pub fn first_sequence(&self, part: u32) -> JsResult<u32> {
        Ok(self.first_sequence_of(part)?)
    }

    /// How many parts a plaintext of `plaintext_len` bytes makes; the last one holds
    /// the final frame (and only that when the length is a multiple of a part's).
    #[wasm_bindgen(js_name = partCount)]
    pub fn part_count(&self, plaintext_len: f64) -> JsResult<u32> {
        Ok(self.part_count_of(to_u64(plaintext_len)?)?)
    }

    /// The first plaintext byte part `part` carries, of a plaintext of `plaintext_len`.
    #[wasm_bindgen(js_name = plaintextStart)]
    pub fn plaintext_start(&self, part: u32, plaintext_len: f64) -> JsResult<f64> {
        Ok(to_f64(self.0.plaintext_range(part, to_u64(plaintext_len)?).start))
    }

    /// One past the last plaintext byte part `part` carries.
    #[wasm_bindgen(js_name = plaintextEnd)]
    pub fn plaintext_end(&self, part: u32, plaintext_len: f64) -> JsResult<f64> {
        Ok(to_f64(self.0.plaintext_range(part, to_u64(plaintext_len)?).end))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
mod tests {
    use super::*;

    #[test]
    fn the_page_cuts_parts_as_vault_core_does() {
        // The server's default: 64 KiB frames, parts of at least 8 MiB.
        let core = vault_core::PartPlan::with_min_part_size(65_536, 8 << 20).unwrap();
        let plan = PartPlan::new(core.frame_length(), core.part_frames()).unwrap();
        assert_eq!(plan.core(), &core);
        assert_eq!(plan.frame_bytes(), 65_568.0);
        assert_eq!(plan.part_plaintext(), 128.0 * 65_536.0);
        let size = 20.0 * 1_048_576.0 + 5.0;
        assert_eq!(plan.part_count(size).unwrap(), 3);
        assert_eq!(plan.plaintext_start(3, size).unwrap(), 16.0 * 1_048_576.0);
        assert_eq!(plan.plaintext_end(3, size).unwrap(), size);
        assert_eq!(plan.first_sequence(2).unwrap(), 129);
        assert_eq!(plan.full_part_len(1, 300.0).unwrap(), 128.0 * 65_568.0 + 300.0);
        assert!(plan.first_sequence_of(0).is_err());
        assert!(plan.part_count_of(u64::MAX).is_err());
        assert!(PartPlan::new(0, 1).is_err() && PartPlan::new(65_536, 0).is_err());
    }
}
