//! Signing one message (RFC 8945 §4, §5.3): the MAC's input, and the TSIG record
//! appended.

use super::key::TsigError;
use super::key::{DEFAULT_FUDGE, TsigKey};
use crate::dns::message::{Class, HEADER_LEN, Rcode, encode_rr};
use crate::dns::rdata::RecordType;
use crate::dns::wire::{WireError, put_u48};

/// What a signed request leaves behind to verify its response with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestMac {
    /// The request's ID.
    pub id: u16,
    /// The request's MAC (RFC 8945 §4.3.1 puts it in the response's digest).
    pub mac: Vec<u8>,
    /// When it was signed.
    pub time_signed: u64,
}

/// The TSIG variables of RFC 8945 §4.3.3, in wire form.
pub(super) fn variables(
    key: &TsigKey,
    time_signed: u64,
    fudge: u16,
    error: Rcode,
    other: &[u8],
) -> Vec<u8> {
    let mut v = Vec::with_capacity(64);
    key.name.encode(&mut v);
    v.extend_from_slice(&Class::ANY.0.to_be_bytes());
    v.extend_from_slice(&0u32.to_be_bytes());
    key.algorithm.name().encode(&mut v);
    timers(&mut v, time_signed, fudge);
    v.extend_from_slice(&error.0.to_be_bytes());
    v.extend_from_slice(&u16::try_from(other.len()).unwrap_or(0).to_be_bytes());
    v.extend_from_slice(other);
    v
}

/// Time signed and fudge: the only variables of later messages (RFC 8945 §5.3.1).
pub(super) fn timers(v: &mut Vec<u8>, time_signed: u64, fudge: u16) {
    put_u48(v, time_signed);
    v.extend_from_slice(&fudge.to_be_bytes());
}

/// The 2-octet size followed by the MAC, as it enters a later digest (RFC 8945 §4.3.1).
pub(super) fn prior(mac: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(mac.len() + 2);
    v.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
    v.extend_from_slice(mac);
    v
}

/// A copy of `msg` with `id` in its header: MACs always cover the original ID (RFC 8945
/// §4.3.2).
pub(super) fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut covered = msg.to_vec();
    if let Some(slot) = covered.get_mut(0..2) {
        slot.copy_from_slice(&id.to_be_bytes());
    }
    covered
}

/// Appends a TSIG record to `msg` and increments ARCOUNT (RFC 8945 §4.2, §5.1).
pub(super) fn append_tsig(
    msg: &mut Vec<u8>,
    key: &TsigKey,
    time_signed: u64,
    fudge: u16,
    mac: &[u8],
    original_id: u16,
) -> Result<(), TsigError> {
    let arcount = arcount(msg)?.checked_add(1).ok_or(WireError::TooLong {
        what: "additional section",
        len: usize::from(u16::MAX) + 1,
        max: usize::from(u16::MAX),
    })?;
    encode_rr(msg, &key.name, RecordType::Tsig, Class::ANY, 0, |o| {
        key.algorithm.name().encode(o);
        timers(o, time_signed, fudge);
        o.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
        o.extend_from_slice(mac);
        o.extend_from_slice(&original_id.to_be_bytes());
        o.extend_from_slice(&0u16.to_be_bytes());
        o.extend_from_slice(&0u16.to_be_bytes());
        Ok(())
    })?;
    if let Some(slot) = msg.get_mut(10..12) {
        slot.copy_from_slice(&arcount.to_be_bytes());
    }
    Ok(())
}

fn header_field(msg: &[u8], at: usize) -> Result<u16, TsigError> {
    match (msg.get(at), msg.get(at + 1)) {
        (Some(hi), Some(lo)) if msg.len() >= HEADER_LEN => Ok(u16::from_be_bytes([*hi, *lo])),
        _ => Err(WireError::Truncated {
            what: "header",
            offset: 0,
            needed: HEADER_LEN,
            available: msg.len(),
        }
        .into()),
    }
}

pub(super) fn arcount(msg: &[u8]) -> Result<u16, TsigError> {
    header_field(msg, 10)
}

/// Signs a request in place (RFC 8945 §5.1): the MAC covers the message as it is plus the
/// TSIG variables (§4.3.2, §4.3.3) with the given time and the default fudge, and the TSIG
/// record is appended. Keep the result to verify the response.
pub fn sign_request(msg: &mut Vec<u8>, key: &TsigKey, now: u64) -> Result<RequestMac, TsigError> {
    let id = header_field(msg, 0)?;
    let vars = variables(key, now, DEFAULT_FUDGE, Rcode::NOERROR, &[]);
    let mac = key.mac(&[msg, &vars]);
    append_tsig(msg, key, now, DEFAULT_FUDGE, &mac, id)?;
    Ok(RequestMac {
        id,
        mac,
        time_signed: now,
    })
}

/// Signs a response in place (RFC 8945 §5.3): like a request, with the request's MAC first in
/// the digest (§4.3.1). For servers and tests; rack itself is a client.
pub fn sign_response(
    msg: &mut Vec<u8>,
    key: &TsigKey,
    request: &RequestMac,
    now: u64,
) -> Result<Vec<u8>, TsigError> {
    let vars = variables(key, now, DEFAULT_FUDGE, Rcode::NOERROR, &[]);
    let mac = key.mac(&[&prior(&request.mac), &with_id(msg, request.id), &vars]);
    append_tsig(msg, key, now, DEFAULT_FUDGE, &mac, request.id)?;
    Ok(mac)
}
