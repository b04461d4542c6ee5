//! Writing a message: [`Sealer`].

use vault_core::frame::{self, FINAL_FRAME_MARKER};
use vault_core::{
    DecryptPolicy, EncryptionMaterials, Encryptor, Error, HeaderParse, Limit, ParsedHeader, VerifiedHeader,
};
use wasm_bindgen::prelude::*;

use crate::grant::{self, CallerRandom};
use crate::js_error;

/// One message being written, from its first frame or resumed at a later one.
#[wasm_bindgen]
pub struct Sealer {
    header: VerifiedHeader,
    header_bytes: Vec<u8>,
    next_sequence: u32,
    finished: bool,
}

/// What WebCrypto needs to seal one frame, and the bytes that go before its output.
#[wasm_bindgen]
pub struct FramePlan {
    prefix: Vec<u8>,
    iv: Vec<u8>,
    aad: Vec<u8>,
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

    fn plan_frame(&mut self, len: u32, is_final: bool) -> Result<FramePlan, Error> {
        if (!is_final && len != self.header.frame_length()) || len > self.header.frame_length() {
            return Err(Error::Misuse("regular frames hold exactly the frame length; the final frame at most that"));
        }
        let sequence = self.take_sequence(is_final)?;
        let iv = frame::iv(sequence);
        let mut aad = Vec::with_capacity(96);
        frame::aad(&mut aad, self.header.message_id(), sequence, u64::from(len), is_final);
        let mut prefix = Vec::with_capacity(24);
        frame::write_prefix(&mut prefix, sequence, &iv, len, is_final);
        Ok(FramePlan { prefix, iv: iv.to_vec(), aad })
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
    /// the frame length, and 32 bytes from `crypto.getRandomValues` for the message id.
    pub fn create(
        data_key: &[u8],
        context_json: &str,
        edks_json: &str,
        frame_length: u32,
        random: &[u8],
    ) -> Result<Sealer, JsError> {
        let build = || -> Result<Sealer, Error> {
            let key = grant::data_key(data_key)?;
            let materials =
                EncryptionMaterials::new(grant::context(context_json)?, key, grant::encrypted_data_keys(edks_json)?)?;
            let mut encryptor = Encryptor::new(&materials, frame_length, &mut CallerRandom::new(random)?)?;
            // The header is what the encryptor writes first; frames then come from
            // `Encryptor::resume`, so both AES paths share one header and one key schedule.
            let mut header = Vec::with_capacity(encryptor.header_len());
            encryptor.update(&[], &mut header)?;
            Sealer::from_header(&header, data_key, 1)
        };
        build().map_err(js_error)
    }

    /// Continues a message whose header is `header` (kept from the first attempt or
    /// returned by the upload status) at frame `next_sequence`.
    pub fn resume(header: &[u8], data_key: &[u8], next_sequence: u32) -> Result<Sealer, JsError> {
        Sealer::from_header(header, data_key, next_sequence).map_err(js_error)
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

    /// WebCrypto path: the next frame's prefix, IV and AAD. `len` must be the frame
    /// length for a regular frame; `last` marks the final frame (0 ..= frame length).
    pub fn plan(&mut self, len: u32, last: bool) -> Result<FramePlan, JsError> {
        self.plan_frame(len, last).map_err(js_error)
    }

    /// Pure-WASM path: seals `plaintext` (whole frames unless `last`) as the next
    /// frames; with `last`, also the final frame (empty if the input was whole frames).
    pub fn seal(&mut self, plaintext: &[u8], last: bool) -> Result<Vec<u8>, JsError> {
        self.seal_frames(plaintext, last).map_err(js_error)
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
        assert!(s.plan_frame(15, false).is_err(), "a short regular frame");
        assert_eq!(s.plan_frame(16, false).unwrap().iv, frame::iv(1));
        assert_eq!(s.plan_frame(16, false).unwrap().iv, frame::iv(2));
        assert!(s.plan_frame(17, true).is_err(), "a final frame longer than the frame length");
        let last = s.plan_frame(3, true).unwrap();
        assert_eq!(&last.prefix[..4], &FINAL_FRAME_MARKER.to_be_bytes());
        assert!(s.plan_frame(0, true).is_err(), "nothing after the final frame");
        assert!(s.seal_frames(&[0; 16], false).is_err());
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
