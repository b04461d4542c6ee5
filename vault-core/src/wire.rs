//! Big-endian field reading and writing shared by the header and frame codecs.
//!
//! Parsing is incremental: a [`Reader`] over an incomplete buffer reports how many
//! bytes in total it needs to make progress, so streaming callers can buffer exactly
//! that much and never re-parse byte by byte.

use crate::error::{Error, Limit};

/// Why a read stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The buffer ends early; at least this many bytes (from the start) are needed.
    Incomplete(usize),
    /// The bytes can never form a valid message.
    Invalid(Error),
}

impl From<Error> for ReadError {
    fn from(e: Error) -> Self {
        ReadError::Invalid(e)
    }
}

/// A cursor over a byte slice that never panics on short input.
pub(crate) struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a [u8]) -> Self {
        Self { buf, pos: 0 }
    }

    /// Bytes consumed so far.
    pub(crate) fn position(&self) -> usize {
        self.pos
    }

    pub(crate) fn take(&mut self, n: usize) -> Result<&'a [u8], ReadError> {
        let end = self.pos.checked_add(n).ok_or(ReadError::Invalid(Error::Malformed("length overflow")))?;
        match self.buf.get(self.pos..end) {
            Some(bytes) => {
                self.pos = end;
                Ok(bytes)
            }
            None => Err(ReadError::Incomplete(end)),
        }
    }

    pub(crate) fn array<const N: usize>(&mut self) -> Result<[u8; N], ReadError> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N)?);
        Ok(out)
    }

    pub(crate) fn u8(&mut self) -> Result<u8, ReadError> {
        Ok(self.array::<1>()?[0])
    }

    pub(crate) fn u16(&mut self) -> Result<u16, ReadError> {
        Ok(u16::from_be_bytes(self.array()?))
    }

    pub(crate) fn u32(&mut self) -> Result<u32, ReadError> {
        Ok(u32::from_be_bytes(self.array()?))
    }

    /// A field preceded by its 16-bit length.
    pub(crate) fn short_bytes(&mut self) -> Result<&'a [u8], ReadError> {
        let len = self.u16()?;
        self.take(usize::from(len))
    }
}

/// Appends a field preceded by its 16-bit length.
pub(crate) fn put_short_bytes(out: &mut Vec<u8>, bytes: &[u8]) -> Result<(), Error> {
    let len = u16::try_from(bytes.len()).map_err(|_| Error::LimitExceeded(Limit::FieldLength))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(bytes);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_total_bytes_needed() {
        let mut r = Reader::new(&[0, 5, 1, 2]);
        match r.short_bytes() {
            Err(ReadError::Incomplete(n)) => assert_eq!(n, 7),
            other => panic!("expected Incomplete, got {other:?}"),
        }
    }

    #[test]
    fn short_bytes_round_trip() {
        let mut out = Vec::new();
        put_short_bytes(&mut out, b"abc").unwrap();
        let mut r = Reader::new(&out);
        assert_eq!(r.short_bytes().unwrap(), b"abc");
        assert_eq!(r.position(), 5);
    }

    #[test]
    fn refuses_fields_over_u16() {
        let big = vec![0u8; 65_536];
        assert_eq!(put_short_bytes(&mut Vec::new(), &big), Err(Error::LimitExceeded(Limit::FieldLength)));
    }
}
