//! Reading a stored message: [`Opener`], [`Span`], [`FrameRef`].
//!
//! Offsets and lengths cross into JavaScript as `f64` (exact below 2^53 bytes, far
//! above any recording), so the page never juggles `BigInt`s.

use vault_core::frame::{self, FrameParse};
use vault_core::suite::TAG_LEN;
use vault_core::{
    BodyLayout, DecryptPolicy, EncryptionContext, Error, FrameSpan, HeaderParse, ParsedHeader, RangeDecryptor,
    VerifiedHeader,
};
use wasm_bindgen::prelude::*;

use crate::error::JsResult;
use crate::{grant, to_f64, to_u64};

/// A stored message whose header verified under its data key.
#[wasm_bindgen]
pub struct Opener {
    header: VerifiedHeader,
    layout: BodyLayout,
}

/// The frames (and ciphertext bytes) holding a plaintext range.
#[wasm_bindgen]
#[derive(Clone)]
pub struct Span(FrameSpan);

/// One frame of a span, for WebCrypto: decrypt `ciphertext[start..end]` (ciphertext
/// then tag, as `crypto.subtle.decrypt` wants) with `iv` and `aad`.
#[wasm_bindgen]
pub struct FrameRef {
    iv: Vec<u8>,
    aad: Vec<u8>,
    start: usize,
    end: usize,
}

impl Opener {
    fn open_inner(
        header: &[u8],
        data_key: &[u8],
        message_len: f64,
        required: EncryptionContext,
    ) -> Result<Self, Error> {
        let data_key = grant::data_key(data_key)?;
        let policy = DecryptPolicy::requiring(required);
        let header = match ParsedHeader::parse(header, &policy)? {
            HeaderParse::Complete(parsed) => parsed.verify(&data_key)?,
            HeaderParse::NeedMore(_) => return Err(Error::Truncated),
        };
        let layout = BodyLayout::new(&header, to_u64(message_len)?)?;
        Ok(Self { header, layout })
    }

    fn frames_inner(&self, span: &Span, ciphertext: &[u8]) -> Result<Vec<FrameRef>, Error> {
        let expected = span.0.ciphertext.end - span.0.ciphertext.start;
        if ciphertext.len() as u64 != expected {
            return Err(Error::Truncated);
        }
        let mut order = self.layout.frame_sequence(&span.0);
        let mut frames = Vec::new();
        let mut at = 0;
        while at < ciphertext.len() {
            let FrameParse::Complete(parts) = frame::parse(&ciphertext[at..], self.header.frame_length())? else {
                return Err(Error::Truncated);
            };
            let mut aad = Vec::with_capacity(96);
            order.admit(self.header.message_id(), &parts, &mut aad)?;
            let end = at + parts.len;
            frames.push(FrameRef { iv: parts.iv.to_vec(), aad, start: end - TAG_LEN - parts.ciphertext.len(), end });
            at = end;
        }
        if order.next() <= span.0.last_sequence && !order.finished() {
            return Err(Error::Truncated);
        }
        Ok(frames)
    }

    fn decrypt_inner(&self, span: &Span, ciphertext: &[u8]) -> Result<Vec<u8>, Error> {
        let mut out = Vec::with_capacity(ciphertext.len());
        let mut reader = RangeDecryptor::new(&self.header, &self.layout, span.0.clone());
        reader.update(ciphertext, &mut out)?;
        reader.finish()?;
        Ok(out)
    }
}

#[wasm_bindgen]
impl Opener {
    /// Checks `header` (the first `header_len` bytes of the object) under `data_key`:
    /// key commitment, header tag, and that the stored context names `family` and
    /// `recording` (Vault's context for that object: the ones the page asked for, so a
    /// server cannot pass off another recording). `message_len` is the object's size.
    pub fn open(header: &[u8], data_key: &[u8], message_len: f64, family: &str, recording: &str) -> JsResult<Opener> {
        let required = EncryptionContext::for_vault_object(family, recording);
        Ok(Self::open_inner(header, data_key, message_len, required)?)
    }

    #[wasm_bindgen(getter, js_name = headerLength)]
    pub fn header_len(&self) -> usize {
        self.header.header_len()
    }

    #[wasm_bindgen(getter, js_name = plaintextLength)]
    pub fn plaintext_len(&self) -> f64 {
        to_f64(self.layout.plaintext_len())
    }

    /// The frames holding plaintext bytes `start .. end` (end exclusive).
    pub fn locate(&self, start: f64, end: f64) -> JsResult<Span> {
        Ok(Span(self.layout.locate(to_u64(start)?..to_u64(end)?)?))
    }

    /// Pure-WASM path: decrypts a span's ciphertext to exactly the range asked for.
    pub fn decrypt(&self, span: &Span, ciphertext: &[u8]) -> JsResult<Vec<u8>> {
        Ok(self.decrypt_inner(span, ciphertext)?)
    }

    /// WebCrypto path: the span's frames, each checked for position and order, with
    /// the IV and AAD its tag must verify against.
    pub fn frames(&self, span: &Span, ciphertext: &[u8]) -> JsResult<Vec<FrameRef>> {
        Ok(self.frames_inner(span, ciphertext)?)
    }

    /// A copy of the frame key, for `crypto.subtle.importKey` (non-extractable).
    #[wasm_bindgen(js_name = frameKey)]
    pub fn frame_key(&self) -> Vec<u8> {
        self.header.frame_key().expose().to_vec()
    }
}

#[wasm_bindgen]
impl Span {
    /// First ciphertext byte to fetch.
    #[wasm_bindgen(getter, js_name = cipherStart)]
    pub fn cipher_start(&self) -> f64 {
        to_f64(self.0.ciphertext.start)
    }

    /// One past the last ciphertext byte to fetch.
    #[wasm_bindgen(getter, js_name = cipherEnd)]
    pub fn cipher_end(&self) -> f64 {
        to_f64(self.0.ciphertext.end)
    }

    /// Plaintext offset of the first frame's first byte.
    #[wasm_bindgen(getter, js_name = framesStart)]
    pub fn frames_start(&self) -> f64 {
        to_f64(self.0.frames_plaintext.start)
    }

    /// The plaintext range asked for.
    #[wasm_bindgen(getter, js_name = plainStart)]
    pub fn plain_start(&self) -> f64 {
        to_f64(self.0.plaintext.start)
    }

    #[wasm_bindgen(getter, js_name = plainEnd)]
    pub fn plain_end(&self) -> f64 {
        to_f64(self.0.plaintext.end)
    }

    /// How many frames the span holds.
    #[wasm_bindgen(getter, js_name = frameCount)]
    pub fn frame_count(&self) -> u32 {
        self.0.last_sequence - self.0.first_sequence + 1
    }
}

#[wasm_bindgen]
impl FrameRef {
    #[wasm_bindgen(getter)]
    pub fn iv(&self) -> Vec<u8> {
        self.iv.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn aad(&self) -> Vec<u8> {
        self.aad.clone()
    }

    #[wasm_bindgen(getter)]
    pub fn start(&self) -> usize {
        self.start
    }

    #[wasm_bindgen(getter)]
    pub fn end(&self) -> usize {
        self.end
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used, clippy::cast_possible_truncation, reason = "test code: small messages")]
mod tests {
    use super::*;
    use crate::sealer::tests::new_sealer;

    fn message(len: usize) -> (Vec<u8>, Vec<u8>) {
        let plain: Vec<u8> = (0..len).map(|i| (i * 7 % 251) as u8).collect();
        let mut s = new_sealer(16);
        let mut msg = s.header();
        msg.extend(s.seal_frames(&plain, true).unwrap());
        (plain, msg)
    }

    fn opener(msg: &[u8], required: EncryptionContext) -> Result<Opener, Error> {
        Opener::open_inner(msg, &[7; 32], to_f64(msg.len() as u64), required)
    }

    fn object(id: &str) -> EncryptionContext {
        [("vault:object", id)].into_iter().collect()
    }

    #[test]
    fn ranges_decrypt_and_frames_describe_the_span() {
        let (plain, msg) = message(100);
        let o = opener(&msg, object("r1")).unwrap();
        assert_eq!(o.layout.plaintext_len(), 100);
        let span = Span(o.layout.locate(20..70).unwrap());
        let bytes = &msg[span.0.ciphertext.start as usize..span.0.ciphertext.end as usize];
        assert_eq!(o.decrypt_inner(&span, bytes).unwrap(), &plain[20..70]);
        let frames = o.frames_inner(&span, bytes).unwrap();
        assert_eq!(frames.len(), 4, "frames 2..=5 of 16 bytes hold 20..70");
        assert_eq!(span.frame_count(), 4);
        assert!(frames.iter().all(|f| f.end - f.start == 16 + TAG_LEN));
        assert_eq!(frames[0].iv, frame::iv(2));
        assert!(o.frames_inner(&span, &bytes[..bytes.len() - 1]).is_err(), "a short span");
        let first = Span(o.layout.locate(0..1).unwrap());
        let first_len = (first.0.ciphertext.end - first.0.ciphertext.start) as usize;
        assert!(
            matches!(
                o.frames_inner(&first, &bytes[..first_len]),
                Err(Error::FrameOutOfOrder { expected: 1, found: 2 })
            ),
            "frame 2's bytes served for frame 1"
        );
    }

    #[test]
    fn wrong_context_key_or_length_is_refused() {
        let (_, msg) = message(100);
        assert!(matches!(opener(&msg, object("r2")), Err(Error::ContextMismatch { .. })), "another recording's id");
        let family = EncryptionContext::for_vault_object("smith", "r1");
        assert!(
            matches!(opener(&msg, family), Err(Error::ContextMismatch { .. })),
            "no family in the message's context"
        );
        let none = EncryptionContext::new;
        assert!(Opener::open_inner(&msg, &[8; 32], to_f64(msg.len() as u64), none()).is_err(), "wrong key");
        assert!(Opener::open_inner(&msg, &[7; 32], 10.0, none()).is_err(), "a length shorter than the header");
        assert!(to_u64(-1.0).is_err() && to_u64(0.5).is_err() && to_u64(f64::NAN).is_err());
    }
}
