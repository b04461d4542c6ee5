//! Writing a message: [`Sealer`].

use vault_core::frame::{self, FINAL_FRAME_MARKER};
use vault_core::{
    DecryptPolicy, EncryptionMaterials, Encryptor, Error, HeaderParse, Limit, ParsedHeader, VerifiedHeader,
};
use wasm_bindgen::prelude::*;

use crate::error::JsResult;
use crate::grant::{self, CallerRandom};
use crate::parts::PartPlan;

/// One message being written, from its first frame or resumed at a later one.
#[wasm_bindgen]
pub struct Sealer {
    header: VerifiedHeader,
    header_bytes: Vec<u8>,
    next_sequence: u32,
    finished: bool,
}

/// What WebCrypto needs to seal one frame, and the bytes that go before its output:
/// seal `plaintext[start..end]` of the piece the plan was made for.
#[wasm_bindgen]
pub struct FramePlan {
    prefix: Vec<u8>,
    iv: Vec<u8>,
    aad: Vec<u8>,
    start: usize,
    end: usize,
}

#[wasm_bindgen]
impl FramePlan {
    /// Bytes preceding the frame's ciphertext (sequence, IV, and for the final frame
    /// its marker and length).
    #[wasm_bindgen(getter)]
    pub fn prefix(&self) -> Vec<u8> {
        self.prefix.clone()
    }

    /// The AES-GCM IV (`iv` of `AesGcmParams`).
    #[wasm_bindgen(getter)]
    pub fn iv(&self) -> Vec<u8> {
        self.iv.clone()
    }

    /// The AES-GCM additional data (`additionalData` of `AesGcmParams`).
    #[wasm_bindgen(getter)]
    pub fn aad(&self) -> Vec<u8> {
        self.aad.clone()
    }

    /// Where the frame's plaintext starts in the piece.
    #[wasm_bindgen(getter)]
    pub fn start(&self) -> usize {
        self.start
    }

    /// Where the frame's plaintext ends in the piece (exclusive).
    #[wasm_bindgen(getter)]
    pub fn end(&self) -> usize {
        self.end
    }
}

/// No key in it: the header's frame key stays out of any `Debug` output.
impl std::fmt::Debug for Sealer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Sealer").field("next_sequence", &self.next_sequence).finish_non_exhaustive()
    }
}

impl Sealer {
    fn from_header(header_bytes: &[u8], data_key: &[u8], next_sequence: u32) -> Result<Self, Error> {
        let data_key = grant::data_key(data_key)?;
        let header = match ParsedHeader::parse(header_bytes, &DecryptPolicy::default())? {
            HeaderParse::Complete(parsed) if parsed.len() == header_bytes.len() => parsed.verify(&data_key)?,
            HeaderParse::Complete(_) => return Err(Error::TrailingData),
            HeaderParse::NeedMore(_) => return Err(Error::Truncated),
        };
        if next_sequence == 0 {
            return Err(Error::Misuse("frame sequence numbers start at 1"));
        }
        Ok(Self { header, header_bytes: header_bytes.to_vec(), next_sequence, finished: false })
    }

    fn take_sequence(&mut self, is_final: bool) -> Result<u32, Error> {
        if self.finished {
            return Err(Error::Misuse("the message already has its final frame"));
        }
        let sequence = self.next_sequence;
        if !is_final && sequence == FINAL_FRAME_MARKER {
            return Err(Error::LimitExceeded(Limit::FrameCount));
        }
        self.finished = is_final;
        self.next_sequence = sequence.saturating_add(1);
        Ok(sequence)
    }

    fn plan_frame(&mut self, start: usize, len: u32, is_final: bool) -> Result<FramePlan, Error> {
        if (!is_final && len != self.header.frame_length()) || len > self.header.frame_length() {
            return Err(Error::Misuse("regular frames hold exactly the frame length; the final frame at most that"));
        }
        let sequence = self.take_sequence(is_final)?;
        let iv = frame::iv(sequence);
        let mut aad = Vec::with_capacity(96);
        frame::aad(&mut aad, self.header.message_id(), sequence, u64::from(len), is_final);
        let mut prefix = Vec::with_capacity(24);
        frame::write_prefix(&mut prefix, sequence, &iv, len, is_final);
        Ok(FramePlan { prefix, iv: iv.to_vec(), aad, start, end: start + len as usize })
    }

    /// The plans of the frames of a piece of `len` plaintext bytes: whole frames, and
    /// with `last` also the final frame (the rest, possibly empty). Checked before any
    /// sequence number is taken, so a refused piece uses none.
    pub(crate) fn plan_frames(&mut self, len: usize, last: bool) -> Result<Vec<FramePlan>, Error> {
        let frame_length = self.header.frame_length() as usize;
        let (regular, rest) = (len / frame_length, len % frame_length);
        if !last && rest != 0 {
            return Err(Error::Misuse("only the last piece may end inside a frame"));
        }
        if self.finished {
            return Err(Error::Misuse("the message already has its final frame"));
        }
        let mut plans = Vec::with_capacity(regular + usize::from(last));
        for i in 0..regular {
            plans.push(self.plan_frame(i * frame_length, self.header.frame_length(), false)?);
        }
        if last {
            let rest = u32::try_from(rest).map_err(|_| Error::Misuse("a frame holds at most the frame length"))?;
            plans.push(self.plan_frame(regular * frame_length, rest, true)?);
        }
        Ok(plans)
    }

    pub(crate) fn seal_frames(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, Error> {
        let frame_length = self.header.frame_length() as usize;
        if !last && !plaintext.len().is_multiple_of(frame_length) {
            return Err(Error::Misuse("only the last piece may end inside a frame"));
        }
        if self.finished {
            return Err(Error::Misuse("the message already has its final frame"));
        }
        let mut encryptor = Encryptor::resume(&self.header, self.next_sequence)?;
        let mut out = Vec::with_capacity(plaintext.len() + plaintext.len() / frame_length * 32 + 40);
        encryptor.update(plaintext, &mut out)?;
        let frames =
            u32::try_from(plaintext.len() / frame_length).map_err(|_| Error::LimitExceeded(Limit::FrameCount))?;
        self.next_sequence = self.next_sequence.checked_add(frames).ok_or(Error::LimitExceeded(Limit::FrameCount))?;
        if last {
            encryptor.finish(&mut out)?;
            self.take_sequence(true)?;
        }
        Ok(out)
    }
}

#[wasm_bindgen]
impl Sealer {
    /// Starts a message for the grant of `POST /v1/recordings`: the data key (32
    /// bytes), its context and encrypted data keys (JSON as the server sends them),
    /// the part plan the server announced (its frame length is the message's), and 32
    /// bytes from `crypto.getRandomValues` for the message id.
    pub fn create(
        data_key: &[u8],
        context_json: &str,
        edks_json: &str,
        plan: &PartPlan,
        random: &[u8],
    ) -> JsResult<Sealer> {
        let key = grant::data_key(data_key)?;
        let materials =
            EncryptionMaterials::new(grant::context(context_json)?, key, grant::encrypted_data_keys(edks_json)?)?;
        let mut encryptor = Encryptor::new(&materials, plan.frame_length(), &mut CallerRandom::new(random)?)?;
        // The header is what the encryptor writes first; frames then come from
        // `Encryptor::resume`, so both AES paths share one header and one key schedule.
        let mut header = Vec::with_capacity(encryptor.header_len());
        encryptor.update(&[], &mut header)?;
        Ok(Sealer::from_header(&header, data_key, 1)?)
    }

    /// Continues a message whose header is `header` (kept from the first attempt or
    /// returned by the upload status) at the first frame of part `part` of `plan`.
    pub fn resume(header: &[u8], data_key: &[u8], plan: &PartPlan, part: u32) -> JsResult<Sealer> {
        let sealer = Sealer::from_header(header, data_key, plan.first_sequence_of(part)?)?;
        if sealer.header.frame_length() != plan.core().frame_length() {
            return Err(Error::Misuse("the message's frame length is not the part plan's").into());
        }
        Ok(sealer)
    }

    /// The message header (the first bytes of part 1).
    #[wasm_bindgen(getter)]
    pub fn header(&self) -> Vec<u8> {
        self.header_bytes.clone()
    }

    #[wasm_bindgen(getter, js_name = frameLength)]
    pub fn frame_length(&self) -> u32 {
        self.header.frame_length()
    }

    #[wasm_bindgen(getter, js_name = nextSequence)]
    pub fn next_sequence(&self) -> u32 {
        self.next_sequence
    }

    /// A copy of the frame key, for `crypto.subtle.importKey` (non-extractable).
    /// The caller zeroes the copy once imported.
    #[wasm_bindgen(js_name = frameKey)]
    pub fn frame_key(&self) -> Vec<u8> {
        self.header.frame_key().expose().to_vec()
    }

    /// WebCrypto path: the next frames' prefixes, IVs, AADs and places in a piece of
    /// `len` plaintext bytes (whole frames unless `last`, which adds the final frame).
    #[wasm_bindgen(js_name = planFrames)]
    pub fn plan_frames_js(&mut self, len: usize, last: bool) -> JsResult<Vec<FramePlan>> {
        Ok(self.plan_frames(len, last)?)
    }

    /// Pure-WASM path: seals `plaintext` (whole frames unless `last`) as the next
    /// frames; with `last`, also the final frame (empty if the input was whole frames).
    pub fn seal(&mut self, plaintext: &[u8], last: bool) -> JsResult<Vec<u8>> {
        Ok(self.seal_frames(plaintext, last)?)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, reason = "test code")]
pub(crate) mod tests {
    use super::*;
    use vault_core::{EncryptedDataKey, EncryptionContext};

    const EDKS: &str = r#"[{"provider_id":"vault","provider_info":"AQID","ciphertext":"BAUG"}]"#;

    pub(crate) fn new_sealer(frame_length: u32) -> Sealer {
        let key = [7u8; 32];
        let materials = EncryptionMaterials::new(
            [("vault:object", "r1")].into_iter().collect::<EncryptionContext>(),
            grant::data_key(&key).unwrap(),
            vec![EncryptedDataKey {
                provider_id: "vault".into(),
                provider_info: vec![1, 2, 3],
                ciphertext: vec![4, 5, 6],
            }],
        )
        .unwrap();
        let mut header = Vec::new();
        let mut random = CallerRandom::new(&[9u8; 32]).unwrap();
        Encryptor::new(&materials, frame_length, &mut random).unwrap().update(&[], &mut header).unwrap();
        Sealer::from_header(&header, &key, 1).unwrap()
    }

    #[test]
    fn grant_json_parses() {
        assert_eq!(grant::encrypted_data_keys(EDKS).unwrap()[0].ciphertext, vec![4, 5, 6]);
        assert!(grant::encrypted_data_keys("[{}]").is_err());
        assert_eq!(grant::context(r#"{"a":"b"}"#).unwrap().get("a"), Some("b"));
        assert!(CallerRandom::new(&[0; 32]).is_err() && CallerRandom::new(&[1; 31]).is_err());
    }

    #[test]
    fn plans_number_frames_and_refuse_misuse() {
        let mut s = new_sealer(16);
        assert!(s.plan_frame(0, 15, false).is_err(), "a short regular frame");
        assert!(s.plan_frames(40, false).is_err(), "only the last piece may end inside a frame");
        let plans = s.plan_frames(32, false).unwrap();
        assert_eq!(plans.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(), [(0, 16), (16, 32)]);
        assert_eq!((plans[0].iv.as_slice(), plans[1].iv.as_slice()), (&frame::iv(1)[..], &frame::iv(2)[..]));
        assert_eq!(s.next_sequence(), 3, "the refused piece took no sequence number");
        assert!(s.plan_frame(0, 17, true).is_err(), "a final frame longer than the frame length");
        let last = s.plan_frames(19, true).unwrap();
        assert_eq!(last.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(), [(0, 16), (16, 19)]);
        assert_eq!(&last[1].prefix[..4], &FINAL_FRAME_MARKER.to_be_bytes());
        assert_eq!(last[1].iv, frame::iv(4));
        assert!(s.plan_frames(0, true).is_err(), "nothing after the final frame");
        assert!(s.seal_frames(&[0; 16], false).is_err());
    }

    #[test]
    fn a_whole_number_of_frames_ends_with_an_empty_final_frame() {
        let mut s = new_sealer(16);
        let plans = s.plan_frames(32, true).unwrap();
        assert_eq!(plans.iter().map(|p| (p.start, p.end)).collect::<Vec<_>>(), [(0, 16), (16, 32), (32, 32)]);
    }

    #[test]
    fn resuming_starts_at_the_plans_first_frame_of_the_part() {
        let s = new_sealer(16);
        let plan = PartPlan::new(16, 4).unwrap();
        let resumed = Sealer::resume(&s.header(), &[7; 32], &plan, 3).unwrap();
        assert_eq!(resumed.next_sequence(), 9);
        assert_eq!(resumed.header(), s.header());
        let other = PartPlan::new(32, 4).unwrap();
        let refused = Sealer::resume(&s.header(), &[7; 32], &other, 2).unwrap_err();
        assert_eq!(refused.code(), crate::ErrorCode::Misuse, "another frame length than the header's");
        let wrong_key = Sealer::resume(&s.header(), &[8; 32], &plan, 2).unwrap_err();
        assert_eq!(wrong_key.code(), crate::ErrorCode::CommitmentMismatch);
        assert_eq!(Sealer::resume(&s.header(), &[7; 32], &plan, 0).unwrap_err().code(), crate::ErrorCode::Misuse);
    }

    #[test]
    fn sealing_in_pieces_matches_one_piece() {
        let plain: Vec<u8> = (0..100u8).collect();
        let mut whole = new_sealer(16);
        let one = whole.seal_frames(&plain, true).unwrap();
        let mut pieces = new_sealer(16);
        let mut joined = pieces.seal_frames(&plain[..32], false).unwrap();
        joined.extend(pieces.seal_frames(&plain[32..], true).unwrap());
        assert_eq!(one, joined);
        assert!(pieces.seal_frames(&plain[..5], false).is_err(), "not whole frames");
    }
}
