//! Bounds-checked reading and writing of the DNS wire format (RFC 1035 §4.1): the primitives
//! that names, rdata and messages are built from.

/// Why bytes could not be decoded as (or encoded into) the DNS wire format.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The data ends before a field that should be there.
    #[error("Message truncated: {what} needs {needed} bytes at offset {offset}, {available} left")]
    Truncated {
        /// The field being read.
        what: &'static str,
        /// Where it starts.
        offset: usize,
        /// How many bytes it needs.
        needed: usize,
        /// How many bytes were left.
        available: usize,
    },
    /// A label length octet uses the reserved 0b01 or 0b10 prefix (RFC 1035 §4.1.4, RFC 6891 §5).
    #[error("Unsupported label type 0x{octet:02x} at offset {offset}")]
    BadLabelType {
        /// The length octet.
        octet: u8,
        /// Where it is.
        offset: usize,
    },
    /// A compression pointer does not point strictly backwards, so it could loop.
    #[error("Compression pointer at offset {offset} points forward to {target}")]
    ForwardPointer {
        /// Where the pointer is.
        offset: usize,
        /// Where it points.
        target: usize,
    },
    /// A compression pointer appears where RFC 3597 §4 forbids compression.
    #[error("Compressed name at offset {offset} where compression is not allowed")]
    CompressionNotAllowed {
        /// Where the pointer is.
        offset: usize,
    },
    /// A decoded name is longer than 255 octets (RFC 1035 §2.3.4).
    #[error("Name at offset {offset} is longer than 255 octets")]
    NameTooLong {
        /// Where the name starts.
        offset: usize,
    },
    /// Rdata has bytes left over, or fields run past its declared length.
    #[error("{rtype} rdata at offset {offset} is malformed: {reason}")]
    BadRdata {
        /// The record type.
        rtype: String,
        /// Where the rdata starts.
        offset: usize,
        /// What is wrong.
        reason: String,
    },
    /// The message has bytes after its last record.
    #[error("Message has {count} trailing bytes after its last record")]
    TrailingBytes {
        /// How many.
        count: usize,
    },
    /// A record that must be unique or last (OPT, TSIG) is misplaced or repeated.
    #[error("{what} record is misplaced or repeated")]
    MisplacedRecord {
        /// OPT or TSIG.
        what: &'static str,
    },
    /// Something to encode does not fit its length field.
    #[error("{what} is {len} bytes; at most {max} fit")]
    TooLong {
        /// What was being encoded.
        what: &'static str,
        /// Its length.
        len: usize,
        /// The limit.
        max: usize,
    },
}

/// A cursor over a whole DNS message that never reads past `limit`.
///
/// The whole message stays visible so compression pointers (RFC 1035 §4.1.4) can be
/// followed; `limit` confines reads of the current structure (e.g. one rdata).
#[derive(Debug, Clone)]
pub(crate) struct Reader<'a> {
    msg: &'a [u8],
    pos: usize,
    limit: usize,
}

impl<'a> Reader<'a> {
    /// A reader over the whole message, starting at offset 0.
    pub(crate) fn new(msg: &'a [u8]) -> Self {
        Self {
            msg,
            pos: 0,
            limit: msg.len(),
        }
    }

    /// A reader over `msg[pos..limit]` that can still see the whole message for pointers.
    pub(crate) fn window(msg: &'a [u8], pos: usize, limit: usize) -> Self {
        let limit = limit.min(msg.len());
        Self {
            msg,
            pos: pos.min(limit),
            limit,
        }
    }

    pub(crate) fn msg(&self) -> &'a [u8] {
        self.msg
    }

    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    pub(crate) fn remaining(&self) -> usize {
        self.limit.saturating_sub(self.pos)
    }

    pub(crate) fn bytes(&mut self, n: usize, what: &'static str) -> Result<&'a [u8], WireError> {
        let end = self.pos.checked_add(n).filter(|end| *end <= self.limit);
        match end.and_then(|end| self.msg.get(self.pos..end).map(|s| (s, end))) {
            Some((slice, end)) => {
                self.pos = end;
                Ok(slice)
            }
            None => Err(WireError::Truncated {
                what,
                offset: self.pos,
                needed: n,
                available: self.remaining(),
            }),
        }
    }

    pub(crate) fn u8(&mut self, what: &'static str) -> Result<u8, WireError> {
        let b = self.bytes(1, what)?;
        Ok(b.first().copied().unwrap_or_default())
    }

    pub(crate) fn u16(&mut self, what: &'static str) -> Result<u16, WireError> {
        let b = self.bytes(2, what)?;
        let mut a = [0u8; 2];
        a.copy_from_slice(b);
        Ok(u16::from_be_bytes(a))
    }

    pub(crate) fn u32(&mut self, what: &'static str) -> Result<u32, WireError> {
        let b = self.bytes(4, what)?;
        let mut a = [0u8; 4];
        a.copy_from_slice(b);
        Ok(u32::from_be_bytes(a))
    }

    /// A 48-bit unsigned integer (TSIG time signed, RFC 8945 §4.2).
    pub(crate) fn u48(&mut self, what: &'static str) -> Result<u64, WireError> {
        let b = self.bytes(6, what)?;
        Ok(b.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b)))
    }

    /// The rest of the current window.
    pub(crate) fn rest(&mut self) -> &'a [u8] {
        let slice = self.msg.get(self.pos..self.limit).unwrap_or_default();
        self.pos = self.limit;
        slice
    }

    /// A `<character-string>`: one length octet and that many bytes (RFC 1035 §3.3).
    pub(crate) fn character_string(&mut self, what: &'static str) -> Result<&'a [u8], WireError> {
        let len = self.u8(what)?;
        self.bytes(usize::from(len), what)
    }
}

/// Appends a 16-bit length-prefixed structure: reserves the length, runs `body`, fills it in.
pub(crate) fn with_u16_len(
    out: &mut Vec<u8>,
    what: &'static str,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    let at = out.len();
    out.extend_from_slice(&[0, 0]);
    body(out)?;
    let len = out.len() - at - 2;
    let len16 = u16::try_from(len).map_err(|_| WireError::TooLong {
        what,
        len,
        max: usize::from(u16::MAX),
    })?;
    if let Some(slot) = out.get_mut(at..at + 2) {
        slot.copy_from_slice(&len16.to_be_bytes());
    }
    Ok(())
}

/// Appends a `<character-string>` (RFC 1035 §3.3); at most 255 bytes.
pub(crate) fn put_character_string(
    out: &mut Vec<u8>,
    what: &'static str,
    s: &[u8],
) -> Result<(), WireError> {
    let len = u8::try_from(s.len()).map_err(|_| WireError::TooLong {
        what,
        len: s.len(),
        max: 255,
    })?;
    out.push(len);
    out.extend_from_slice(s);
    Ok(())
}

/// Appends a 48-bit unsigned integer (the low 48 bits of `v`).
pub(crate) fn put_u48(out: &mut Vec<u8>, v: u64) {
    out.extend_from_slice(&v.to_be_bytes()[2..]);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reader_never_reads_past_limit() {
        let msg = [1, 2, 3, 4, 5];
        let mut r = Reader::window(&msg, 1, 3);
        assert_eq!(r.u16("x").unwrap(), 0x0203);
        assert!(matches!(
            r.u8("y"),
            Err(WireError::Truncated { offset: 3, .. })
        ));
        let mut r = Reader::window(&msg, 4, 100);
        assert_eq!(r.remaining(), 1);
        assert!(r.u32("z").is_err());
        assert_eq!(r.rest(), &[5]);
    }

    #[test]
    fn u48_round_trip() {
        let mut out = Vec::new();
        put_u48(&mut out, 0x0102_0304_0506);
        assert_eq!(out, [1, 2, 3, 4, 5, 6]);
        assert_eq!(Reader::new(&out).u48("t").unwrap(), 0x0102_0304_0506);
    }

    #[test]
    fn length_prefix_is_filled_in() {
        let mut out = vec![9];
        with_u16_len(&mut out, "x", |o| {
            o.extend_from_slice(b"abc");
            Ok(())
        })
        .unwrap();
        assert_eq!(out, [9, 0, 3, b'a', b'b', b'c']);
        let big = vec![0u8; 256];
        assert!(put_character_string(&mut out, "s", &big).is_err());
    }
}
