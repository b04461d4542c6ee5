//! `Read` and `Write` over the sans-I/O core, for callers that have streams (feature
//! `std`): [`DecryptReader`] yields verified plaintext from a reader of ciphertext,
//! [`EncryptWriter`] writes a message to a writer as plaintext is written to it.
//! They are thin loops over [`Decryptor`] and [`Encryptor`], which stay the one
//! implementation of the format (the age crate wraps one parser in readers the same way).

use std::io::{self, BufRead, Read, Write};

use zeroize::Zeroizing;

use crate::error::Error;
use crate::{DecryptPolicy, Decryptor, Encryptor};

/// Ciphertext read from the inner reader per step.
const CHUNK: usize = 1 << 20;

/// An [`Error`] as an I/O error (kind `InvalidData`, the error as its source), so a
/// caller can still tell truncation from tampering with [`vault_error`].
fn io_error(err: Error) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, err)
}

/// The format error inside an I/O error from this module, if it holds one.
pub fn vault_error(err: &io::Error) -> Option<&Error> {
    err.get_ref().and_then(|e| e.downcast_ref::<Error>())
}

/// Reads a message from `R` and yields its plaintext, only ever bytes of frames that
/// verified. The data key is asked for once the header is read: `unlock` gets the
/// decryptor and unlocks it (`Decryptor::unlock` with a data key, or
/// `Decryptor::unlock_with` keyrings). A failure is returned after every verified byte
/// before it, and end of input without the final frame is an error (`Truncated`).
pub struct DecryptReader<R, U> {
    inner: R,
    decryptor: Option<Decryptor>,
    unlock: Option<U>,
    /// Ciphertext read and not yet fed: `input[consumed..filled]`.
    input: Vec<u8>,
    filled: usize,
    consumed: usize,
    output: Zeroizing<Vec<u8>>,
    delivered: usize,
    failed: Option<Error>,
}

impl<R: Read, U: FnOnce(&mut Decryptor) -> Result<(), Error>> DecryptReader<R, U> {
    /// A reader of the message in `inner`, under `policy`.
    pub fn new(inner: R, policy: DecryptPolicy, unlock: U) -> Self {
        Self {
            inner,
            decryptor: Some(Decryptor::new(policy)),
            unlock: Some(unlock),
            input: Vec::new(),
            filled: 0,
            consumed: 0,
            output: Zeroizing::new(Vec::new()),
            delivered: 0,
            failed: None,
        }
    }

    /// Writes every verified frame's plaintext to `out`, a whole frame per write (no
    /// copy through a small buffer, as `io::copy` would make), and answers how many
    /// bytes; on failure, the frames verified before it have been written.
    pub fn copy_to<W: Write>(&mut self, out: &mut W) -> io::Result<u64> {
        let mut total = 0;
        loop {
            let bytes = self.fill_buf()?;
            if bytes.is_empty() {
                return Ok(total);
            }
            let n = bytes.len();
            out.write_all(bytes)?;
            self.consume(n);
            total += n as u64;
        }
    }

    /// The inner reader, once the message has been read to its end.
    pub fn into_inner(self) -> R {
        self.inner
    }

    /// Feeds the decryptor until it yields plaintext, fails or ends.
    fn fill(&mut self) -> io::Result<()> {
        self.output.clear();
        self.delivered = 0;
        while self.output.is_empty() && self.failed.is_none() {
            let Some(decryptor) = self.decryptor.as_mut() else { return Ok(()) };
            if self.consumed == self.filled {
                if self.input.is_empty() {
                    self.input = vec![0; CHUNK];
                }
                let n = loop {
                    match self.inner.read(&mut self.input) {
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                (self.filled, self.consumed) = (n, 0);
                if n == 0 {
                    // End of input: the message must be complete.
                    if let Some(decryptor) = self.decryptor.take() {
                        decryptor.finish().map_err(io_error)?;
                    }
                    return Ok(());
                }
            }
            let unlocked = self.unlock.is_none();
            let mut used = 0;
            match decryptor.update(&self.input[self.consumed..self.filled], &mut self.output) {
                Ok(n) => used = n,
                // Frames verified before the failure are delivered first.
                Err(e) => self.failed = Some(e),
            }
            self.consumed += used;
            if decryptor.header().is_some()
                && let Some(unlock) = self.unlock.take()
                && let Err(e) = unlock(decryptor)
            {
                self.failed = Some(e);
            }
            // An unlocked decryptor takes every byte it is offered; one that takes none
            // and yields nothing would spin this loop forever: a bug, said as one.
            if unlocked && used == 0 && self.output.is_empty() && self.failed.is_none() {
                self.failed = Some(Error::Misuse("the decryptor made no progress"));
            }
        }
        Ok(())
    }
}

impl<R: Read, U: FnOnce(&mut Decryptor) -> Result<(), Error>> Read for DecryptReader<R, U> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        let available = self.fill_buf()?;
        let n = buf.len().min(available.len());
        buf[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Without a copy: the verified plaintext is lent from the reader's own buffer.
impl<R: Read, U: FnOnce(&mut Decryptor) -> Result<(), Error>> BufRead for DecryptReader<R, U> {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.delivered == self.output.len() {
            self.fill()?;
            if self.output.is_empty()
                && let Some(e) = self.failed.take()
            {
                self.decryptor = None;
                return Err(io_error(e));
            }
        }
        Ok(&self.output[self.delivered..])
    }

    fn consume(&mut self, n: usize) {
        self.delivered = (self.delivered + n).min(self.output.len());
    }
}

impl<R, U> core::fmt::Debug for DecryptReader<R, U> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("DecryptReader").field("finished", &self.decryptor.is_none()).finish_non_exhaustive()
    }
}

/// Writes a message to `W`: plaintext written to it is encrypted (the header first,
/// then every full frame), and [`EncryptWriter::finish`] writes the final frame.
/// Dropping it without `finish` leaves a message without its end, which every reader
/// refuses as truncated.
pub struct EncryptWriter<W> {
    inner: W,
    encryptor: Encryptor,
    out: Vec<u8>,
}

impl<W: Write> EncryptWriter<W> {
    /// A writer of one message through `encryptor`.
    pub fn new(inner: W, encryptor: Encryptor) -> Self {
        Self { inner, encryptor, out: Vec::new() }
    }

    /// Writes the final frame, flushes, and returns the inner writer.
    pub fn finish(self) -> io::Result<W> {
        let Self { mut inner, encryptor, mut out } = self;
        out.clear();
        encryptor.finish(&mut out).map_err(io_error)?;
        inner.write_all(&out)?;
        inner.flush()?;
        Ok(inner)
    }
}

impl<W: Write> Write for EncryptWriter<W> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.out.clear();
        self.encryptor.update(buf, &mut self.out).map_err(io_error)?;
        self.inner.write_all(&self.out)?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl<W> core::fmt::Debug for EncryptWriter<W> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("EncryptWriter").field("encryptor", &self.encryptor).finish_non_exhaustive()
    }
}
