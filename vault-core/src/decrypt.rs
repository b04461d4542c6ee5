//! The streaming, sans-I/O decryptor.
//!
//! Specification: `client-apis/decrypt.md`.
//!
//! ```text
//!   new ──update──▶ header parsed ──unlock(data key)──▶ frames ──update…──▶ final frame ──finish──▶ Ok
//!                   (header() shows EDKs               (plaintext appended only
//!                    and context to the caller)         after each frame's tag verifies)
//! ```
//! The caller feeds ciphertext in pieces of any size. The decryptor buffers at most
//! one header or one frame, so memory is O(frame length), never O(message). It makes
//! no network call: between the header and the first frame it stops and lets the
//! caller unwrap the data key, synchronously through a [`Keyring`] or by any other
//! means (an async KMS call) followed by [`Decryptor::unlock`].
//!
//! Any error poisons the decryptor; later calls return the same kind of error.

use crate::error::Error;
use crate::frame::{self, FrameParse, FrameSequence};
use crate::header::{HeaderParse, ParsedHeader, VerifiedHeader};
use crate::keyring::{Keyring, unwrap_any};
use crate::keys::DataKey;
use crate::policy::DecryptPolicy;

/// Decrypts one message, incrementally.
#[derive(Debug)]
pub struct Decryptor {
    policy: DecryptPolicy,
    state: State,
    /// Bytes of an incomplete header or frame.
    partial: Vec<u8>,
    scratch: Vec<u8>,
}

#[derive(Debug)]
enum State {
    Header,
    Locked(Box<ParsedHeader>),
    Body { header: Box<VerifiedHeader>, frames: FrameSequence },
    Failed(Error),
}

impl Decryptor {
    /// A decryptor that will enforce `policy`.
    pub fn new(policy: DecryptPolicy) -> Self {
        Self { policy, state: State::Header, partial: Vec::new(), scratch: Vec::with_capacity(96) }
    }

    /// Consumes ciphertext, appending verified plaintext to `out`, and returns how
    /// many bytes of `input` it consumed. That is all of them, except when the header
    /// has just been completed: then it stops right after the header and waits for
    /// [`Decryptor::unlock`]; offer the rest again afterwards.
    pub fn update(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        let result = self.step(input, out);
        if let Err(e) = &result {
            self.state = State::Failed(e.clone());
            self.partial = Vec::new();
        }
        result
    }

    /// The parsed (not yet authenticated) header, while the decryptor waits for the
    /// data key: its encrypted data keys and [`ParsedHeader::keyring_context`] are
    /// what a keyring or KMS needs.
    pub fn header(&self) -> Option<&ParsedHeader> {
        match &self.state {
            State::Locked(h) => Some(h),
            _ => None,
        }
    }

    /// The verified header, once unlocked.
    pub fn verified_header(&self) -> Option<&VerifiedHeader> {
        match &self.state {
            State::Body { header, .. } => Some(header),
            _ => None,
        }
    }

    /// Supplies the data key: checks the key commitment and the header auth tag.
    pub fn unlock(&mut self, data_key: &DataKey) -> Result<(), Error> {
        let State::Locked(_) = &self.state else {
            return Err(self.misuse("unlock needs a complete, not yet unlocked header"));
        };
        let State::Locked(parsed) = core::mem::replace(&mut self.state, State::Header) else {
            unreachable!("state checked above")
        };
        match parsed.verify(data_key) {
            Ok(header) => {
                self.state = State::Body { header: Box::new(header), frames: FrameSequence::starting_at(1, None) };
                Ok(())
            }
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Unwraps the data key with the first keyring that can, then [`Decryptor::unlock`]s.
    pub fn unlock_with(&mut self, keyrings: &[&dyn Keyring]) -> Result<(), Error> {
        let key = match &self.state {
            State::Locked(h) => unwrap_any(keyrings, h.encrypted_data_keys(), &h.keyring_context()),
            _ => return Err(self.misuse("unlock needs a complete, not yet unlocked header")),
        };
        match key {
            Ok(key) => self.unlock(&key),
            Err(e) => {
                self.state = State::Failed(e.clone());
                Err(e)
            }
        }
    }

    /// Ends the message: succeeds only if the final frame was read and verified.
    pub fn finish(self) -> Result<(), Error> {
        match self.state {
            State::Body { frames, .. } if frames.finished() => Ok(()),
            State::Failed(e) => Err(e),
            _ => Err(Error::Truncated),
        }
    }

    fn misuse(&self, what: &'static str) -> Error {
        match &self.state {
            State::Failed(e) => e.clone(),
            _ => Error::Misuse(what),
        }
    }

    fn step(&mut self, input: &[u8], out: &mut Vec<u8>) -> Result<usize, Error> {
        match &mut self.state {
            State::Failed(e) => Err(e.clone()),
            State::Header => self.read_header(input),
            State::Locked(_) => {
                if input.is_empty() {
                    Ok(0)
                } else {
                    Err(Error::Misuse("the header is complete: unlock before offering frames"))
                }
            }
            State::Body { header, frames } => {
                read_frames(header, frames, &mut self.partial, &mut self.scratch, input, out)
            }
        }
    }

    fn read_header(&mut self, input: &[u8]) -> Result<usize, Error> {
        // Fast path: the whole header is in this input; nothing is copied.
        if self.partial.is_empty()
            && let HeaderParse::Complete(header) = ParsedHeader::parse(input, &self.policy)?
        {
            let consumed = header.len();
            self.state = State::Locked(header);
            return Ok(consumed);
        }
        let mut consumed = 0;
        loop {
            match ParsedHeader::parse(&self.partial, &self.policy)? {
                HeaderParse::Complete(header) => {
                    self.partial = Vec::new();
                    self.state = State::Locked(header);
                    return Ok(consumed);
                }
                HeaderParse::NeedMore(needed) => {
                    let take = (needed - self.partial.len()).min(input.len() - consumed);
                    if take == 0 {
                        return Ok(consumed);
                    }
                    self.partial.extend_from_slice(&input[consumed..consumed + take]);
                    consumed += take;
                }
            }
        }
    }
}

/// Decrypts every whole frame in `partial` + `input`, keeping a trailing partial
/// frame in `partial`. Frames are read in place from `input` when not split.
pub(crate) fn read_frames(
    header: &VerifiedHeader,
    frames: &mut FrameSequence,
    partial: &mut Vec<u8>,
    scratch: &mut Vec<u8>,
    input: &[u8],
    out: &mut Vec<u8>,
) -> Result<usize, Error> {
    let mut consumed = 0;
    loop {
        if partial.is_empty() {
            let rest = &input[consumed..];
            if rest.is_empty() {
                return Ok(consumed);
            }
            if frames.finished() {
                return Err(Error::TrailingData);
            }
            match frame::parse(rest, header.frame_length())? {
                FrameParse::Complete(parts) => {
                    frames.open(&header.aead, header.message_id(), scratch, &parts, out)?;
                    consumed += parts.len;
                }
                FrameParse::NeedMore(_) => {
                    partial.extend_from_slice(rest);
                    return Ok(input.len());
                }
            }
        } else {
            match frame::parse(partial, header.frame_length())? {
                FrameParse::Complete(parts) => {
                    frames.open(&header.aead, header.message_id(), scratch, &parts, out)?;
                    debug_assert_eq!(parts.len, partial.len());
                    partial.clear();
                }
                FrameParse::NeedMore(needed) => {
                    let take = (needed - partial.len()).min(input.len() - consumed);
                    partial.extend_from_slice(&input[consumed..consumed + take]);
                    consumed += take;
                    if partial.len() < needed {
                        return Ok(consumed);
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use rand_core::OsRng;

    use super::*;
    use crate::keyring::{EncryptionMaterials, RawAesKeyring};
    use crate::{EncryptionContext, Section};

    fn keyring() -> RawAesKeyring {
        RawAesKeyring::new("ns", "k", [7; 32]).expect("valid keyring")
    }

    /// Three regular frames of 8 bytes and a final one of 3.
    fn message() -> Vec<u8> {
        let materials = EncryptionMaterials::generate(EncryptionContext::new(), &[&keyring()], &mut OsRng).unwrap();
        crate::encrypt(&materials, 8, b"twenty-seven bytes of input", &mut OsRng).unwrap()
    }

    /// Feeds `message` in pieces of `piece` bytes, asserting that every call consumes
    /// something unless a header waits for its key: a caller loops on exactly that.
    fn run(dec: &mut Decryptor, message: &[u8], piece: usize, out: &mut Vec<u8>) -> Result<(), Error> {
        for mut chunk in message.chunks(piece) {
            while !chunk.is_empty() {
                let used = dec.update(chunk, out)?;
                assert!(used > 0 || dec.header().is_some(), "no progress on {} bytes", chunk.len());
                chunk = &chunk[used..];
                if dec.header().is_some() {
                    dec.unlock_with(&[&keyring()])?;
                }
            }
        }
        Ok(())
    }

    #[test]
    fn every_update_makes_progress() {
        let msg = message();
        for piece in [1, 2, 5, 39, 40, 41, 500] {
            let (mut dec, mut out) = (Decryptor::new(DecryptPolicy::default()), Vec::new());
            run(&mut dec, &msg, piece, &mut out).unwrap();
            assert!(dec.verified_header().is_some());
            dec.finish().unwrap();
            assert_eq!(out, b"twenty-seven bytes of input", "pieces of {piece}");
        }
    }

    /// After a failure every call repeats it: no later input, key or `finish` can
    /// turn a rejected message into an accepted one.
    #[test]
    fn a_failed_decryptor_stays_failed() {
        let mut msg = message();
        let frame_2 = msg.len() - 43 - 2 * 40 + 30;
        msg[frame_2] ^= 1;
        let failure = Error::AuthenticationFailed(Section::Frame(2));
        let (mut dec, mut out) = (Decryptor::new(DecryptPolicy::default()), Vec::new());
        assert_eq!(run(&mut dec, &msg, 1000, &mut out), Err(failure.clone()));
        assert_eq!(out, b"twenty-s", "frame 1 only");
        assert!(dec.header().is_none() && dec.verified_header().is_none());
        assert_eq!(dec.update(&msg[msg.len() - 43..], &mut out), Err(failure.clone()));
        assert_eq!(dec.update(&[], &mut out), Err(failure.clone()));
        assert_eq!(dec.unlock(&DataKey::from_bytes([7; 32])), Err(failure.clone()));
        assert_eq!(dec.unlock_with(&[&keyring()]), Err(failure.clone()));
        assert_eq!(dec.finish(), Err(failure));

        // A failed unlock poisons it too.
        let (mut dec, mut out) = (Decryptor::new(DecryptPolicy::default()), Vec::new());
        let header_len = dec.update(&msg, &mut out).unwrap();
        assert_eq!(dec.unlock(&DataKey::from_bytes([7; 32])), Err(Error::CommitmentMismatch));
        assert_eq!(dec.update(&msg[header_len..], &mut out), Err(Error::CommitmentMismatch));
        assert_eq!(dec.unlock_with(&[&keyring()]), Err(Error::CommitmentMismatch));
        assert_eq!(dec.finish(), Err(Error::CommitmentMismatch));
        let mut dec = Decryptor::new(DecryptPolicy::default());
        dec.update(&msg, &mut out).unwrap();
        let stranger = RawAesKeyring::new("ns", "k", [8; 32]).unwrap();
        assert_eq!(dec.unlock_with(&[&stranger]), Err(Error::NoUsableDataKey));
        assert_eq!(dec.unlock_with(&[&keyring()]), Err(Error::NoUsableDataKey));
        assert!(out.is_empty());
    }

    #[test]
    fn misuse_is_named_until_something_fails() {
        let msg = message();
        let mut dec = Decryptor::new(DecryptPolicy::default());
        assert!(matches!(dec.unlock_with(&[&keyring()]), Err(Error::Misuse(_))), "no header yet");
        assert!(matches!(dec.unlock(&DataKey::from_bytes([7; 32])), Err(Error::Misuse(_))));
        let header_len = dec.update(&msg, &mut Vec::new()).unwrap();
        assert_eq!(dec.update(&[], &mut Vec::new()), Ok(0), "a locked decryptor waits");
        assert!(matches!(dec.update(&msg[header_len..], &mut Vec::new()), Err(Error::Misuse(_))));
        assert_eq!(dec.finish(), Err(Error::Misuse("the header is complete: unlock before offering frames")));
    }
}
