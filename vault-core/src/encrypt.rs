//! The streaming encryptor.
//!
//! Specification: `client-apis/encrypt.md` (framed content, version 2).
//!
//! Fed plaintext in pieces of any size, it writes the header, then a regular frame as
//! soon as `frame length` bytes have arrived, and on [`Encryptor::finish`] the final
//! frame with whatever is left: so a plaintext that is an exact multiple of the frame
//! length ends with an empty final frame, as the JavaScript and C SDKs write (every
//! official SDK reads both that and a full final frame). Writing frames eagerly lets
//! aligned input be sealed straight from the caller's buffer with no staging copy.
//! Memory: at most one frame of plaintext.

use rand_core::CryptoRngCore;
use zeroize::Zeroizing;

use crate::aead::Aead;
use crate::error::{Error, Limit};
use crate::frame::{self, FINAL_FRAME_MARKER};
use crate::header::{self, VerifiedHeader};
use crate::kdf;
use crate::keyring::EncryptionMaterials;
use crate::suite::MESSAGE_ID_LEN;

/// Encrypts one message, incrementally.
pub struct Encryptor {
    aead: Aead,
    message_id: [u8; MESSAGE_ID_LEN],
    frame_length: usize,
    next_sequence: u32,
    /// Not yet written header bytes (taken by the first call that writes).
    header: Option<Vec<u8>>,
    header_len: usize,
    /// Plaintext waiting to become a frame: never more than one frame length (so
    /// never reallocated), wiped on drop.
    pending: Zeroizing<Vec<u8>>,
    scratch: Vec<u8>,
}

impl Encryptor {
    /// Starts a message under `materials`, with a random message id from `rng`.
    pub fn new<R: CryptoRngCore + ?Sized>(
        materials: &EncryptionMaterials,
        frame_length: u32,
        rng: &mut R,
    ) -> Result<Self, Error> {
        let mut message_id = [0u8; MESSAGE_ID_LEN];
        rng.fill_bytes(&mut message_id);
        let frame_key = kdf::frame_key(&materials.data_key, &message_id);
        let aead = Aead::new(frame_key.expose());
        let header =
            header::write(&message_id, &materials.context, &materials.edks, frame_length, &materials.data_key, &aead)?;
        let frame_length = frame_length as usize;
        Ok(Self {
            header_len: header.len(),
            aead,
            message_id,
            frame_length,
            next_sequence: 1,
            header: Some(header),
            pending: Zeroizing::new(Vec::with_capacity(frame_length)),
            scratch: Vec::with_capacity(96),
        })
    }

    /// Continues a message whose header and frames before `next_sequence` were
    /// written earlier (an upload resumed after a crash or a page reload).
    ///
    /// # Security
    /// Frame IVs are the sequence numbers, so a frame re-encrypted here must hold
    /// the same plaintext as any earlier encryption of that frame that anyone may
    /// have seen; otherwise two plaintexts share a key and IV. Callers check that
    /// the input is the same (Vault's browser compares the part's SHA-256).
    pub fn resume(header: &VerifiedHeader, next_sequence: u32) -> Result<Self, Error> {
        if next_sequence == 0 {
            return Err(Error::Misuse("frame sequence numbers start at 1"));
        }
        let frame_length = header.frame_length() as usize;
        Ok(Self {
            aead: Aead::new(header.frame_key().expose()),
            message_id: *header.message_id(),
            frame_length,
            next_sequence,
            header: None,
            header_len: header.header_len(),
            pending: Zeroizing::new(Vec::with_capacity(frame_length)),
            scratch: Vec::with_capacity(96),
        })
    }

    /// The message id of the message being written.
    pub fn message_id(&self) -> &[u8; MESSAGE_ID_LEN] {
        &self.message_id
    }

    /// Length of the message header in bytes (the frames follow it).
    pub fn header_len(&self) -> usize {
        self.header_len
    }

    /// Encrypts `plaintext`, appending whatever output is ready (the header on the
    /// first call, then every complete frame) to `out`.
    pub fn update(&mut self, mut plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        self.write_header(out);
        if !self.pending.is_empty() {
            let take = (self.frame_length - self.pending.len()).min(plaintext.len());
            self.pending.extend_from_slice(&plaintext[..take]);
            plaintext = &plaintext[take..];
            if self.pending.len() < self.frame_length {
                return Ok(());
            }
            let frame = core::mem::take(&mut self.pending);
            self.seal_regular(&frame[..], out)?;
            self.pending = frame;
            self.pending.clear();
        }
        let mut frames = plaintext.chunks_exact(self.frame_length);
        for frame in &mut frames {
            self.seal_regular(frame, out)?;
        }
        self.pending.extend_from_slice(frames.remainder());
        Ok(())
    }

    /// Writes the final frame. Consumes the encryptor: a message has one end.
    pub fn finish(mut self, out: &mut Vec<u8>) -> Result<(), Error> {
        self.write_header(out);
        frame::seal(&self.aead, &self.message_id, &mut self.scratch, self.next_sequence, &self.pending, true, out);
        Ok(())
    }

    fn write_header(&mut self, out: &mut Vec<u8>) {
        if let Some(header) = self.header.take() {
            out.extend_from_slice(&header);
        }
    }

    fn seal_regular(&mut self, plaintext: &[u8], out: &mut Vec<u8>) -> Result<(), Error> {
        // The final frame needs a sequence number too, and a regular frame may not
        // carry the final-frame marker.
        if self.next_sequence == FINAL_FRAME_MARKER {
            return Err(Error::LimitExceeded(Limit::FrameCount));
        }
        frame::seal(&self.aead, &self.message_id, &mut self.scratch, self.next_sequence, plaintext, false, out);
        self.next_sequence += 1;
        Ok(())
    }
}

impl core::fmt::Debug for Encryptor {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Encryptor")
            .field("frame_length", &self.frame_length)
            .field("next_sequence", &self.next_sequence)
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::context::EncryptionContext;
    use crate::edk::EncryptedDataKey;
    use crate::keys::DataKey;

    #[test]
    fn debug_shows_progress_not_keys() {
        let edk = EncryptedDataKey { provider_id: "p".into(), provider_info: Vec::new(), ciphertext: Vec::new() };
        let materials =
            EncryptionMaterials::new(EncryptionContext::new(), DataKey::from_bytes([0x5A; 32]), vec![edk]).unwrap();
        let mut enc = Encryptor::new(&materials, 16, &mut OsRng).unwrap();
        enc.update(&[0x5A; 40], &mut Vec::new()).unwrap();
        let shown = format!("{enc:?}");
        assert!(shown.contains("frame_length: 16") && shown.contains("next_sequence: 3"), "{shown}");
        assert!(!shown.contains("90") && !shown.to_lowercase().contains("5a"), "{shown}");
    }
}
