//! The ISCCC message format that BIND's control channel speaks, without any I/O.
//!
//! A frame on the wire is a 4-byte big-endian length, then the message: a 4-byte version
//! (always 1) followed by the body of the top-level table. A table is a run of entries,
//! each a 1-byte key length, the key, then a value: a 1-byte type, a 4-byte big-endian
//! length and that many bytes of content. Content is raw bytes (strings and numbers are
//! sent as decimal text in "binary" values), a nested table, or a list of values.
//! The reference is ISC BIND `lib/isccc/cc.c`.
//!
//! Signing lives beside this file in `auth.rs`; this file only lays bytes out and reads
//! them back.

use super::auth::Signer;
use thiserror::Error;

/// The only protocol version BIND has ever spoken on the control channel.
pub const VERSION: u32 = 1;

/// Largest frame accepted from the server. `rndc` itself refuses answers above 1 MiB;
/// `rndc status` or `showzone` answers are a few KiB.
pub const MAX_FRAME: usize = 1024 * 1024;

/// Deepest nesting of tables and lists accepted. Real messages nest two levels
/// (`_ctrl`, `_data`); the bound keeps a hostile frame from exhausting the stack.
const MAX_DEPTH: usize = 16;

const TYPE_STRING: u8 = 0x00;
const TYPE_BINARY: u8 = 0x01;
const TYPE_TABLE: u8 = 0x02;
const TYPE_LIST: u8 = 0x03;

/// Why bytes from the control channel could not be read as a message.
#[derive(Debug, Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum WireError {
    /// The data stops in the middle of an item.
    #[error("Message is truncated")]
    Truncated,
    /// The version field is not 1.
    #[error("Unsupported control channel protocol version {0}")]
    Version(u32),
    /// A value carries a type byte this format does not define.
    #[error("Unknown value type {0:#04x}")]
    UnknownType(u8),
    /// Tables or lists nest deeper than any real message does.
    #[error("Message nests too deeply")]
    TooDeep,
    /// The frame is larger than [`MAX_FRAME`].
    #[error("Frame of {0} bytes exceeds the limit")]
    TooLarge(usize),
    /// A key longer than 255 bytes cannot be encoded.
    #[error("Key `{0}` is longer than 255 bytes")]
    KeyTooLong(String),
    /// A value longer than 4 GiB cannot be encoded.
    #[error("Value is too long to encode")]
    ValueTooLong,
    /// The message has no `_auth` table in first position, or it lacks a signature.
    #[error("Message is not signed")]
    Unsigned,
    /// The signature does not match the message and the key.
    #[error("Message signature does not verify")]
    BadSignature,
}

/// One value in an ISCCC message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Value {
    /// Raw bytes; BIND stores strings and numbers this way.
    Binary(Vec<u8>),
    /// An ordered table of named values.
    Table(Table),
    /// An ordered list of values.
    List(Vec<Value>),
}

impl Value {
    /// A string value (sent as binary data, as BIND does).
    pub fn string(s: &str) -> Self {
        Value::Binary(s.as_bytes().to_vec())
    }

    /// A number value, sent as its decimal text.
    pub fn uint(n: u32) -> Self {
        Value::string(&n.to_string())
    }

    /// The value as UTF-8 text (lossy), when it is binary data.
    pub fn as_str(&self) -> Option<String> {
        match self {
            Value::Binary(b) => Some(String::from_utf8_lossy(b).into_owned()),
            _ => None,
        }
    }

    /// The value as a number, when it is binary data holding decimal digits.
    pub fn as_u32(&self) -> Option<u32> {
        match self {
            Value::Binary(b) => std::str::from_utf8(b).ok()?.trim().parse().ok(),
            _ => None,
        }
    }

    /// The value as a table.
    pub fn as_table(&self) -> Option<&Table> {
        match self {
            Value::Table(t) => Some(t),
            _ => None,
        }
    }
}

/// An ordered table (BIND's "alist"): order matters because `_auth` must come first.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Table(pub Vec<(String, Value)>);

impl Table {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Sets `key`, replacing an existing entry in place or appending a new one.
    pub fn set(&mut self, key: &str, value: Value) {
        match self.0.iter_mut().find(|(k, _)| k == key) {
            Some(entry) => entry.1 = value,
            None => self.0.push((key.to_owned(), value)),
        }
    }

    /// The first value stored under `key`.
    pub fn get(&self, key: &str) -> Option<&Value> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    /// The nested table stored under `key`.
    pub fn table(&self, key: &str) -> Option<&Table> {
        self.get(key).and_then(Value::as_table)
    }
}

/// Appends the entries of `table` (not its own type and length) to `out`.
pub fn encode_table_body(table: &Table, out: &mut Vec<u8>) -> Result<(), WireError> {
    for (key, value) in &table.0 {
        let len = u8::try_from(key.len()).map_err(|_| WireError::KeyTooLong(key.clone()))?;
        out.push(len);
        out.extend_from_slice(key.as_bytes());
        encode_value(value, out)?;
    }
    Ok(())
}

fn encode_value(value: &Value, out: &mut Vec<u8>) -> Result<(), WireError> {
    let (kind, start) = match value {
        Value::Binary(_) => (TYPE_BINARY, out.len()),
        Value::Table(_) => (TYPE_TABLE, out.len()),
        Value::List(_) => (TYPE_LIST, out.len()),
    };
    out.push(kind);
    out.extend_from_slice(&[0; 4]);
    match value {
        Value::Binary(b) => out.extend_from_slice(b),
        Value::Table(t) => encode_table_body(t, out)?,
        Value::List(items) => {
            for item in items {
                encode_value(item, out)?;
            }
        }
    }
    let len = u32::try_from(out.len() - start - 5).map_err(|_| WireError::ValueTooLong)?;
    out[start + 1..start + 5].copy_from_slice(&len.to_be_bytes());
    Ok(())
}

/// Encodes `message` as one signed frame, length prefix included.
///
/// Any `_auth` entry in `message` is ignored: the signature is computed here over the
/// encoded body and placed in an `_auth` table that comes first, as `isccc_cc_towire`
/// lays it out.
pub fn encode_frame(message: &Table, signer: &Signer) -> Result<Vec<u8>, WireError> {
    let mut body = Vec::new();
    let unsigned = Table(
        message
            .0
            .iter()
            .filter(|(k, _)| k != "_auth")
            .cloned()
            .collect(),
    );
    encode_table_body(&unsigned, &mut body)?;

    let mut auth = Table::new();
    let (field, sig) = signer.signature_field(&body);
    auth.set(field, Value::Binary(sig));
    let mut head = Table::new();
    head.set("_auth", Value::Table(auth));

    let mut frame = vec![0; 4];
    frame.extend_from_slice(&VERSION.to_be_bytes());
    encode_table_body(&head, &mut frame)?;
    frame.extend_from_slice(&body);
    let len = u32::try_from(frame.len() - 4).map_err(|_| WireError::ValueTooLong)?;
    frame[..4].copy_from_slice(&len.to_be_bytes());
    Ok(frame)
}

/// Decodes one message (the bytes after the length prefix) and checks its signature.
pub fn decode_message(message: &[u8], signer: &Signer) -> Result<Table, WireError> {
    if message.len() > MAX_FRAME {
        return Err(WireError::TooLarge(message.len()));
    }
    let mut r = Reader { buf: message };
    let version = r.u32()?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    let body = r.buf;
    let mut signed_from = None;
    let mut table = Table::new();
    let mut first = true;
    while !r.buf.is_empty() {
        let (key, value) = r.entry(0)?;
        if first && key == "_auth" {
            signed_from = Some(body.len() - r.buf.len());
        }
        first = false;
        table.0.push((key, value));
    }
    let signed_from = signed_from.ok_or(WireError::Unsigned)?;
    let auth_table = table.table("_auth").ok_or(WireError::Unsigned)?;
    let (field, _) = signer.signature_field(&[]);
    let sig = match auth_table.get(field) {
        Some(Value::Binary(b)) => b,
        _ => return Err(WireError::Unsigned),
    };
    if !signer.verify(&body[signed_from..], sig) {
        return Err(WireError::BadSignature);
    }
    Ok(table)
}

/// Decodes a message without checking any signature (for tests and diagnostics).
pub fn decode_unsigned(message: &[u8]) -> Result<Table, WireError> {
    let mut r = Reader { buf: message };
    let version = r.u32()?;
    if version != VERSION {
        return Err(WireError::Version(version));
    }
    r.table_body(0)
}

/// The length announced by a frame's 4-byte prefix, checked against [`MAX_FRAME`].
pub fn frame_length(prefix: [u8; 4]) -> Result<usize, WireError> {
    let len = u32::from_be_bytes(prefix) as usize;
    if len > MAX_FRAME {
        return Err(WireError::TooLarge(len));
    }
    if len < 4 {
        return Err(WireError::Truncated);
    }
    Ok(len)
}

struct Reader<'a> {
    buf: &'a [u8],
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], WireError> {
        if self.buf.len() < n {
            return Err(WireError::Truncated);
        }
        let (head, tail) = self.buf.split_at(n);
        self.buf = tail;
        Ok(head)
    }

    fn u8(&mut self) -> Result<u8, WireError> {
        Ok(self.take(1)?[0])
    }

    fn u32(&mut self) -> Result<u32, WireError> {
        let b = self.take(4)?;
        Ok(u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn entry(&mut self, depth: usize) -> Result<(String, Value), WireError> {
        let klen = self.u8()? as usize;
        let key = String::from_utf8_lossy(self.take(klen)?).into_owned();
        let value = self.value(depth)?;
        Ok((key, value))
    }

    fn table_body(&mut self, depth: usize) -> Result<Table, WireError> {
        let mut table = Table::new();
        while !self.buf.is_empty() {
            table.0.push(self.entry(depth)?);
        }
        Ok(table)
    }

    fn value(&mut self, depth: usize) -> Result<Value, WireError> {
        if depth >= MAX_DEPTH {
            return Err(WireError::TooDeep);
        }
        let kind = self.u8()?;
        let len = self.u32()? as usize;
        let content = self.take(len)?;
        let mut inner = Reader { buf: content };
        match kind {
            TYPE_STRING | TYPE_BINARY => Ok(Value::Binary(content.to_vec())),
            TYPE_TABLE => Ok(Value::Table(inner.table_body(depth + 1)?)),
            TYPE_LIST => {
                let mut items = Vec::new();
                while !inner.buf.is_empty() {
                    items.push(inner.value(depth + 1)?);
                }
                Ok(Value::List(items))
            }
            other => Err(WireError::UnknownType(other)),
        }
    }
}

/// Builds a request the way `rndc` does: `_ctrl` with serial, time, expiry and (after the
/// handshake) the server's nonce; `_data` with the command text under `type`.
pub fn request(serial: u32, now: u32, nonce: Option<u32>, command: &str) -> Table {
    let mut ctrl = Table::new();
    ctrl.set("_ser", Value::uint(serial));
    ctrl.set("_tim", Value::uint(now));
    ctrl.set(
        "_exp",
        Value::uint(now.saturating_add(REQUEST_LIFETIME_SECS)),
    );
    if let Some(nonce) = nonce {
        ctrl.set("_nonce", Value::uint(nonce));
    }
    let mut data = Table::new();
    data.set("type", Value::string(command));
    let mut msg = Table::new();
    msg.set("_ctrl", Value::Table(ctrl));
    msg.set("_data", Value::Table(data));
    msg
}

/// How long a request stays valid; `rndc` uses 60 seconds.
pub const REQUEST_LIFETIME_SECS: u32 = 60;

/// The nonce the server hands out in its answer to the first message, if any.
pub fn nonce(response: &Table) -> Option<u32> {
    response
        .table("_ctrl")?
        .get("_nonce")
        .and_then(Value::as_u32)
        .filter(|n| *n != 0)
}

/// `_data.result`, `_data.text` and `_data.err` of an answer; `None` without `_data`.
pub fn answer_fields(response: &Table) -> Option<(Option<u32>, Option<String>, Option<String>)> {
    let data = response.table("_data")?;
    Some((
        data.get("result").and_then(Value::as_u32),
        data.get("text").and_then(Value::as_str),
        data.get("err").and_then(Value::as_str),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rndc::RndcAlgorithm;

    fn signer(alg: RndcAlgorithm) -> Signer {
        Signer::new(alg, b"0123456789abcdef".to_vec())
    }

    #[test]
    fn value_layout_matches_isccc() {
        let mut t = Table::new();
        t.set("type", Value::string("null"));
        let mut out = Vec::new();
        encode_table_body(&t, &mut out).unwrap();
        assert_eq!(out, b"\x04type\x01\x00\x00\x00\x04null".to_vec());
    }

    #[test]
    fn nested_table_and_list_round_trip() {
        let mut inner = Table::new();
        inner.set("a", Value::uint(7));
        let mut t = Table::new();
        t.set("t", Value::Table(inner));
        t.set(
            "l",
            Value::List(vec![Value::string("x"), Value::List(vec![])]),
        );
        let mut msg = VERSION.to_be_bytes().to_vec();
        encode_table_body(&t, &mut msg).unwrap();
        assert_eq!(decode_unsigned(&msg).unwrap(), t);
    }

    #[test]
    fn sha256_frame_has_isccc_auth_header() {
        let frame = encode_frame(
            &request(1, 1000, None, "status"),
            &signer(RndcAlgorithm::HmacSha256),
        )
        .unwrap();
        let len = u32::from_be_bytes(frame[..4].try_into().unwrap()) as usize;
        assert_eq!(len, frame.len() - 4);
        assert_eq!(&frame[4..8], &[0, 0, 0, 1]);
        // len + "_auth", table of 99 bytes, len + "hsha", binary of 89 bytes, algorithm 163.
        assert_eq!(&frame[8..14], b"\x05_auth");
        assert_eq!(&frame[14..19], &[TYPE_TABLE, 0, 0, 0, 99]);
        assert_eq!(&frame[19..24], b"\x04hsha");
        assert_eq!(&frame[24..29], &[TYPE_BINARY, 0, 0, 0, 89]);
        assert_eq!(frame[29], 163);
    }

    #[test]
    fn md5_frame_has_22_byte_signature() {
        let frame = encode_frame(
            &request(1, 1000, None, "status"),
            &signer(RndcAlgorithm::HmacMd5),
        )
        .unwrap();
        assert_eq!(&frame[14..19], &[TYPE_TABLE, 0, 0, 0, 32]);
        assert_eq!(&frame[19..24], b"\x04hmd5");
        assert_eq!(&frame[24..29], &[TYPE_BINARY, 0, 0, 0, 22]);
    }

    #[test]
    fn signed_frame_round_trips_and_detects_tampering() {
        for alg in RndcAlgorithm::ALL {
            let s = signer(alg);
            let msg = request(42, 1000, Some(99), "reload farm.");
            let frame = encode_frame(&msg, &s).unwrap();
            let decoded = decode_message(&frame[4..], &s).unwrap();
            assert_eq!(decoded.table("_data"), msg.table("_data"));
            assert_eq!(nonce(&decoded), Some(99));

            let mut bad = frame.clone();
            let last = bad.len() - 1;
            bad[last] ^= 1;
            assert_eq!(decode_message(&bad[4..], &s), Err(WireError::BadSignature));
            let other = Signer::new(alg, b"another secret".to_vec());
            assert_eq!(
                decode_message(&frame[4..], &other),
                Err(WireError::BadSignature)
            );
        }
    }

    #[test]
    fn unsigned_message_is_refused() {
        let mut msg = VERSION.to_be_bytes().to_vec();
        encode_table_body(&request(1, 1, None, "null"), &mut msg).unwrap();
        let s = signer(RndcAlgorithm::HmacSha256);
        assert_eq!(decode_message(&msg, &s), Err(WireError::Unsigned));
    }

    #[test]
    fn malformed_input_is_an_error_not_a_panic() {
        assert_eq!(decode_unsigned(&[0, 0, 0]), Err(WireError::Truncated));
        assert_eq!(decode_unsigned(&[0, 0, 0, 2]), Err(WireError::Version(2)));
        assert_eq!(
            decode_unsigned(&[0, 0, 0, 1, 1, b'a', 9, 0, 0, 0, 0]),
            Err(WireError::UnknownType(9))
        );
        assert_eq!(
            decode_unsigned(&[0, 0, 0, 1, 1, b'a', 1, 0, 0, 0, 5, b'x']),
            Err(WireError::Truncated)
        );
        let mut deep = VERSION.to_be_bytes().to_vec();
        let mut v = Value::List(vec![]);
        for _ in 0..40 {
            v = Value::List(vec![v]);
        }
        let mut t = Table::new();
        t.set("d", v);
        encode_table_body(&t, &mut deep).unwrap();
        assert_eq!(decode_unsigned(&deep), Err(WireError::TooDeep));
        assert_eq!(
            frame_length([0xff, 0, 0, 0]),
            Err(WireError::TooLarge(0xff00_0000))
        );
    }

    #[test]
    fn answer_fields_read_result_text_and_err() {
        let mut data = Table::new();
        data.set("type", Value::string("addzone"));
        data.set("result", Value::uint(18));
        data.set("err", Value::string("already exists"));
        data.set("text", Value::string("zone 'x' already exists"));
        let mut msg = Table::new();
        msg.set("_data", Value::Table(data));
        assert_eq!(
            answer_fields(&msg),
            Some((
                Some(18),
                Some("zone 'x' already exists".into()),
                Some("already exists".into())
            ))
        );
    }
}
