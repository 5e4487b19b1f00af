//! A cursor over one message's bytes. Every read checks what is left; nothing here panics.

use bytes::Bytes;

use crate::DecodeError;

pub(crate) struct Reader<'a> {
    buf: &'a Bytes,
    pos: usize,
}

impl<'a> Reader<'a> {
    pub(crate) fn new(buf: &'a Bytes) -> Self {
        Reader { buf, pos: 0 }
    }

    pub(crate) fn remaining(&self) -> usize {
        self.buf.len().saturating_sub(self.pos)
    }

    /// The next `n` bytes as a range of the input, advancing past them.
    fn take(&mut self, what: &'static str, n: usize) -> Result<&'a [u8], DecodeError> {
        let remaining = self.remaining();
        let truncated = DecodeError::Truncated {
            what,
            needed: n,
            remaining,
        };
        let end = self.pos.checked_add(n).ok_or(truncated.clone())?;
        let slice = self.buf.get(self.pos..end).ok_or(truncated)?;
        self.pos = end;
        Ok(slice)
    }

    fn array<const N: usize>(&mut self, what: &'static str) -> Result<[u8; N], DecodeError> {
        let slice = self.take(what, N)?;
        <[u8; N]>::try_from(slice).map_err(|_| DecodeError::Truncated {
            what,
            needed: N,
            remaining: slice.len(),
        })
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, DecodeError> {
        self.array::<1>(what).map(|[b]| b)
    }

    pub(crate) fn i16(&mut self, what: &'static str) -> Result<i16, DecodeError> {
        self.array(what).map(i16::from_be_bytes)
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, DecodeError> {
        self.array(what).map(u32::from_be_bytes)
    }

    pub(crate) fn i32(&mut self, what: &'static str) -> Result<i32, DecodeError> {
        self.array(what).map(i32::from_be_bytes)
    }

    pub(crate) fn u64(&mut self, what: &'static str) -> Result<u64, DecodeError> {
        self.array(what).map(u64::from_be_bytes)
    }

    pub(crate) fn i64(&mut self, what: &'static str) -> Result<i64, DecodeError> {
        self.array(what).map(i64::from_be_bytes)
    }

    /// A non-negative Int16 count, as a `usize`.
    pub(crate) fn count16(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let value = self.i16(what)?;
        usize::try_from(value).map_err(|_| DecodeError::InvalidLength {
            what,
            value: value.into(),
        })
    }

    /// A non-negative Int32 length or count, as a `usize`.
    pub(crate) fn count32(&mut self, what: &'static str) -> Result<usize, DecodeError> {
        let value = self.i32(what)?;
        usize::try_from(value).map_err(|_| DecodeError::InvalidLength {
            what,
            value: value.into(),
        })
    }

    /// The next `n` bytes as a zero-copy slice of the input.
    pub(crate) fn bytes(&mut self, what: &'static str, n: usize) -> Result<Bytes, DecodeError> {
        let start = self.pos;
        self.take(what, n)?;
        Ok(self.buf.slice(start..self.pos))
    }

    /// A NUL-terminated UTF-8 string; the NUL is consumed and not returned.
    pub(crate) fn cstr(&mut self, what: &'static str) -> Result<String, DecodeError> {
        let rest = self.buf.get(self.pos..).unwrap_or_default();
        let len = rest
            .iter()
            .position(|&b| b == 0)
            .ok_or(DecodeError::MissingNul { what })?;
        let text = self.take(what, len)?;
        self.take(what, 1)?; // the NUL
        std::str::from_utf8(text)
            .map(str::to_owned)
            .map_err(|_| DecodeError::InvalidUtf8 { what })
    }
}
