//! TSIG, secret-key transaction signatures (RFC 8945): signing requests, verifying single
//! responses and multi-message responses such as AXFR. Pure: the caller passes the current
//! time, and messages are byte buffers built by the other modules.

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

use super::message::{Class, HEADER_LEN, Message, Rcode, encode_rr};
use super::name::{Name, NameError};
use super::rdata::RecordType;
use super::wire::{WireError, put_u48};

/// Clock difference allowed between signer and verifier, seconds (RFC 8945 §10 recommends
/// 300).
pub const DEFAULT_FUDGE: u16 = 300;
/// Messages of a multi-message response that may come in a row without TSIG; the next must
/// be signed (RFC 8945 §5.3.1).
pub const MAX_UNSIGNED_IN_ROW: usize = 99;
/// Shortest truncated MAC accepted, octets (RFC 8945 §5.2.2.1).
const MIN_TRUNCATED_MAC: usize = 10;

/// Why a message could not be signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigError {
    /// The algorithm name is not one rack implements.
    #[error(
        "TSIG algorithm {name:?} is not supported; use hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1"
    )]
    UnsupportedAlgorithm {
        /// The name as given.
        name: String,
    },
    /// The key name is not a valid domain name.
    #[error("TSIG key name is invalid")]
    BadKeyName(#[source] NameError),
    /// The secret is not base64.
    #[error("TSIG secret is not valid base64 (as printed by tsig-keygen)")]
    BadSecret(#[source] base64::DecodeError),
    /// The secret is empty.
    #[error("TSIG secret is empty")]
    EmptySecret,
    /// The message could not be parsed or extended.
    #[error("Message cannot be signed or verified")]
    Wire(#[from] WireError),
    /// A response that should be signed is not (RFC 8945 §5.4).
    #[error(
        "Response (rcode {rcode}) is not signed; check that the server has key {key} and that the right server answered"
    )]
    Unsigned {
        /// The response's rcode.
        rcode: Rcode,
        /// The key the request was signed with.
        key: Name,
    },
    /// The response is signed with another key or algorithm.
    #[error("Response is signed with key {got} ({algorithm}), not with {expected}")]
    WrongKey {
        /// The key we used.
        expected: Name,
        /// The key in the response.
        got: Name,
        /// The algorithm in the response.
        algorithm: Name,
    },
    /// The server could not verify our MAC (TSIG error BADSIG).
    #[error(
        "Server rejected the signature of key {key} (BADSIG); check that the secret matches the server's"
    )]
    BadSig {
        /// The key used.
        key: Name,
    },
    /// The server does not know the key (TSIG error BADKEY).
    #[error(
        "Server does not know key {key} with algorithm {algorithm} (BADKEY); check the key name and algorithm"
    )]
    BadKey {
        /// The key used.
        key: Name,
        /// Its algorithm.
        algorithm: TsigAlgorithm,
    },
    /// The server found our time outside the fudge (TSIG error BADTIME).
    #[error(
        "Server rejected the request time (BADTIME): server clock {server_time}, ours {client_time}; check the server and client clocks"
    )]
    BadTime {
        /// The server's clock, seconds since the epoch, when it reports it.
        server_time: u64,
        /// Our time signed.
        client_time: u64,
    },
    /// The server refused our truncated MAC (TSIG error BADTRUNC).
    #[error("Server rejected the truncated MAC (BADTRUNC)")]
    BadTrunc,
    /// The server returned another TSIG error.
    #[error("Server returned TSIG error {error}")]
    OtherError {
        /// The TSIG error field.
        error: Rcode,
    },
    /// The MAC is shorter than RFC 8945 §5.2.2.1 allows.
    #[error("MAC of {len} octets is too short; at least {min} are required")]
    MacTooShort {
        /// Its length.
        len: usize,
        /// The least allowed.
        min: usize,
    },
    /// The MAC does not verify.
    #[error(
        "MAC does not verify with key {key}; check that the secret matches the server's, or the message was altered"
    )]
    MacMismatch {
        /// The key used.
        key: Name,
    },
    /// The signature time is outside the fudge (RFC 8945 §5.2.3, §5.4.3).
    #[error(
        "Message was signed at {signed}, {skew} s from our clock {now} (fudge {fudge} s); check the server and client clocks"
    )]
    ClockSkew {
        /// Time signed.
        signed: u64,
        /// Our clock.
        now: u64,
        /// The difference.
        skew: u64,
        /// The allowed difference.
        fudge: u16,
    },
    /// A multi-message response went on unsigned for too long (RFC 8945 §5.3.1).
    #[error("More than 99 messages in a row of the response are unsigned")]
    TooManyUnsigned,
    /// A multi-message response ended with an unsigned message (RFC 8945 §5.3.1).
    #[error("The last message of the response is not signed")]
    UnsignedEnd,
}

/// A TSIG algorithm (RFC 8945 §6). HMAC-MD5 is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TsigAlgorithm {
    /// `hmac-sha1.`
    HmacSha1,
    /// `hmac-sha256.`, what `tsig-keygen` uses by default.
    HmacSha256,
    /// `hmac-sha384.`
    HmacSha384,
    /// `hmac-sha512.`
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's name without the trailing dot, as in BIND's configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm name as it appears in the TSIG record (RFC 8945 §6).
    pub fn name(self) -> Name {
        // The names are valid constants; `parse` cannot fail on them.
        Name::parse(self.as_str()).unwrap_or_default()
    }

    /// Length of a full MAC, octets.
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    fn from_name(name: &Name) -> Option<Self> {
        [
            Self::HmacSha1,
            Self::HmacSha256,
            Self::HmacSha384,
            Self::HmacSha512,
        ]
        .into_iter()
        .find(|a| a.name() == *name)
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TsigAlgorithm {
    type Err = TsigError;

    /// `hmac-sha256`, `HMAC-SHA256.` and the like.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
            .ok()
            .and_then(|n| Self::from_name(&n))
            .ok_or_else(|| TsigError::UnsupportedAlgorithm { name: s.to_owned() })
    }
}

/// A shared TSIG key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, the owner of TSIG records.
    pub name: Name,
    /// The HMAC algorithm.
    pub algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl TsigKey {
    /// A key from its raw secret.
    pub fn new(name: Name, algorithm: TsigAlgorithm, secret: Vec<u8>) -> Result<Self, TsigError> {
        if secret.is_empty() {
            return Err(TsigError::EmptySecret);
        }
        Ok(Self {
            name,
            algorithm,
            secret,
        })
    }

    /// A key as `tsig-keygen` prints it: name, algorithm name, base64 secret.
    pub fn from_base64(name: &str, algorithm: &str, secret: &str) -> Result<Self, TsigError> {
        let name = Name::parse(name).map_err(TsigError::BadKeyName)?;
        let algorithm = algorithm.parse()?;
        let secret = BASE64.decode(secret.trim()).map_err(TsigError::BadSecret)?;
        Self::new(name, algorithm, secret)
    }

    /// The secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC takes keys of any length (RFC 2104 §2); `new_from_slice` cannot fail.
            match <M as KeyInit>::new_from_slice(secret) {
                Ok(mut mac) => {
                    for p in parts {
                        mac.update(p);
                    }
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self.algorithm {
            TsigAlgorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(&self.secret, parts),
            TsigAlgorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(&self.secret, parts),
            TsigAlgorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(&self.secret, parts),
            TsigAlgorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(&self.secret, parts),
        }
    }

    /// Compares `given` (possibly truncated, RFC 8945 §5.2.2.1) with the MAC of `parts`
    /// without leaking timing.
    fn check_mac(&self, parts: &[&[u8]], given: &[u8]) -> Result<(), TsigError> {
        let full = self.algorithm.mac_len();
        let min = MIN_TRUNCATED_MAC.max(full / 2);
        if given.len() < min || given.len() > full {
            return Err(TsigError::MacTooShort {
                len: given.len(),
                min,
            });
        }
        let computed = self.mac(parts);
        let diff = computed
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 && computed.len() >= given.len() {
            Ok(())
        } else {
            Err(TsigError::MacMismatch {
                key: self.name.clone(),
            })
        }
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

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
fn variables(key: &TsigKey, time_signed: u64, fudge: u16, error: Rcode, other: &[u8]) -> Vec<u8> {
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
fn timers(v: &mut Vec<u8>, time_signed: u64, fudge: u16) {
    put_u48(v, time_signed);
    v.extend_from_slice(&fudge.to_be_bytes());
}

/// The 2-octet size followed by the MAC, as it enters a later digest (RFC 8945 §4.3.1).
fn prior(mac: &[u8]) -> Vec<u8> {
    let mut v = Vec::with_capacity(mac.len() + 2);
    v.extend_from_slice(&u16::try_from(mac.len()).unwrap_or(0).to_be_bytes());
    v.extend_from_slice(mac);
    v
}

/// A copy of `msg` with `id` in its header: MACs always cover the original ID (RFC 8945
/// §4.3.2).
fn with_id(msg: &[u8], id: u16) -> Vec<u8> {
    let mut covered = msg.to_vec();
    if let Some(slot) = covered.get_mut(0..2) {
        slot.copy_from_slice(&id.to_be_bytes());
    }
    covered
}

/// Appends a TSIG record to `msg` and increments ARCOUNT (RFC 8945 §4.2, §5.1).
fn append_tsig(
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

fn arcount(msg: &[u8]) -> Result<u16, TsigError> {
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

/// A parsed, signed message and the bytes its MAC covers (RFC 8945 §4.3.2): the message
/// without its TSIG record, ARCOUNT one less, and the original ID in the header.
struct Signed {
    message: Message,
    covered: Vec<u8>,
}

fn split_signed(bytes: &[u8]) -> Result<Option<Signed>, TsigError> {
    let message = Message::parse(bytes)?;
    let (Some(tsig), Some(offset)) = (&message.tsig, message.tsig_offset()) else {
        return Ok(None);
    };
    let mut covered = bytes.get(..offset).unwrap_or_default().to_vec();
    let arcount = arcount(&covered)?.saturating_sub(1);
    if let Some(slot) = covered.get_mut(10..12) {
        slot.copy_from_slice(&arcount.to_be_bytes());
    }
    if let Some(slot) = covered.get_mut(0..2) {
        slot.copy_from_slice(&tsig.original_id.to_be_bytes());
    }
    Ok(Some(Signed { message, covered }))
}

/// Checks the key, the error field and the time of a TSIG record (RFC 8945 §5.2.1, §5.2.3,
/// §5.4); the MAC is checked by the caller.
fn check_record(message: &Message, key: &TsigKey) -> Result<(), TsigError> {
    let Some(tsig) = &message.tsig else {
        return Err(TsigError::Unsigned {
            rcode: message.rcode(),
            key: key.name.clone(),
        });
    };
    match tsig.error {
        Rcode::NOERROR => {}
        Rcode::BADSIG => {
            return Err(TsigError::BadSig {
                key: key.name.clone(),
            });
        }
        Rcode::BADKEY => {
            return Err(TsigError::BadKey {
                key: key.name.clone(),
                algorithm: key.algorithm,
            });
        }
        Rcode::BADTIME => {
            // RFC 8945 §5.2.3: other data holds the server's time, 48 bits.
            let server_time = tsig.other.get(..6).map_or(0, |b| {
                b.iter().fold(0u64, |acc, b| (acc << 8) | u64::from(*b))
            });
            return Err(TsigError::BadTime {
                server_time,
                client_time: tsig.time_signed,
            });
        }
        Rcode::BADTRUNC => return Err(TsigError::BadTrunc),
        error => return Err(TsigError::OtherError { error }),
    }
    if tsig.key_name != key.name || tsig.algorithm != key.algorithm.name() {
        return Err(TsigError::WrongKey {
            expected: key.name.clone(),
            got: tsig.key_name.clone(),
            algorithm: tsig.algorithm.clone(),
        });
    }
    Ok(())
}

fn check_time(signed: u64, fudge: u16, now: u64) -> Result<(), TsigError> {
    let skew = signed.abs_diff(now);
    if skew > u64::from(fudge) {
        return Err(TsigError::ClockSkew {
            signed,
            now,
            skew,
            fudge,
        });
    }
    Ok(())
}

/// Verifies a signed request as a server would (RFC 8945 §5.2): key, MAC, then time.
/// Returns the parsed message and what signing its response needs.
pub fn verify_request(
    bytes: &[u8],
    key: &TsigKey,
    now: u64,
) -> Result<(Message, RequestMac), TsigError> {
    let Some(signed) = split_signed(bytes)? else {
        let message = Message::parse(bytes)?;
        return Err(TsigError::Unsigned {
            rcode: message.rcode(),
            key: key.name.clone(),
        });
    };
    check_record(&signed.message, key)?;
    let Some(tsig) = &signed.message.tsig else {
        return Err(TsigError::UnsignedEnd);
    };
    let vars = variables(key, tsig.time_signed, tsig.fudge, tsig.error, &tsig.other);
    key.check_mac(&[&signed.covered, &vars], &tsig.mac)?;
    check_time(tsig.time_signed, tsig.fudge, now)?;
    let request = RequestMac {
        id: tsig.original_id,
        mac: tsig.mac.clone(),
        time_signed: tsig.time_signed,
    };
    Ok((signed.message, request))
}

/// Verifies the response to a signed request (RFC 8945 §5.4): it must be signed with the
/// same key, carry no TSIG error, have a MAC over the request MAC, the message and the
/// variables (§4.3.1–§4.3.3), and a time within the fudge of `now`.
pub fn verify_response(
    bytes: &[u8],
    key: &TsigKey,
    request: &RequestMac,
    now: u64,
) -> Result<Message, TsigError> {
    let mut stream = StreamVerifier::new(key.clone(), request);
    stream.verify(bytes, now)
}

/// Verifies the messages of one multi-message response, such as an AXFR over TCP
/// (RFC 8945 §5.3.1). The first message must be signed; later ones may go unsigned, at
/// most 99 in a row, and each signed one covers the previous MAC, the unsigned messages
/// since, and itself, with only the timers as variables. Call [`StreamVerifier::finish`]
/// after the last message.
#[derive(Debug, Clone)]
pub struct StreamVerifier {
    key: TsigKey,
    prior_mac: Vec<u8>,
    /// Unsigned messages since the last signed one, concatenated.
    unsigned: Vec<u8>,
    unsigned_count: usize,
    first: bool,
}

impl StreamVerifier {
    /// A verifier for the response to `request`.
    pub fn new(key: TsigKey, request: &RequestMac) -> Self {
        Self {
            key,
            prior_mac: request.mac.clone(),
            unsigned: Vec::new(),
            unsigned_count: 0,
            first: true,
        }
    }

    /// Verifies the next message and returns it parsed.
    pub fn verify(&mut self, bytes: &[u8], now: u64) -> Result<Message, TsigError> {
        let Some(signed) = split_signed(bytes)? else {
            let message = Message::parse(bytes)?;
            if self.first {
                return Err(TsigError::Unsigned {
                    rcode: message.rcode(),
                    key: self.key.name.clone(),
                });
            }
            self.unsigned_count += 1;
            if self.unsigned_count > MAX_UNSIGNED_IN_ROW {
                return Err(TsigError::TooManyUnsigned);
            }
            self.unsigned.extend_from_slice(bytes);
            return Ok(message);
        };
        check_record(&signed.message, &self.key)?;
        let Some(tsig) = &signed.message.tsig else {
            return Err(TsigError::UnsignedEnd);
        };
        let vars = if self.first {
            variables(
                &self.key,
                tsig.time_signed,
                tsig.fudge,
                tsig.error,
                &tsig.other,
            )
        } else {
            let mut v = Vec::with_capacity(8);
            timers(&mut v, tsig.time_signed, tsig.fudge);
            v
        };
        self.key.check_mac(
            &[
                &prior(&self.prior_mac),
                &self.unsigned,
                &signed.covered,
                &vars,
            ],
            &tsig.mac,
        )?;
        check_time(tsig.time_signed, tsig.fudge, now)?;
        self.prior_mac.clone_from(&tsig.mac);
        self.unsigned.clear();
        self.unsigned_count = 0;
        self.first = false;
        Ok(signed.message)
    }

    /// Checks that the last message verified was signed (RFC 8945 §5.3.1).
    pub fn finish(&self) -> Result<(), TsigError> {
        if self.first || self.unsigned_count > 0 {
            Err(TsigError::UnsignedEnd)
        } else {
            Ok(())
        }
    }
}

/// Signs the messages of a multi-message response (RFC 8945 §5.3.1), the counterpart of
/// [`StreamVerifier`]. For servers and tests.
#[derive(Debug, Clone)]
pub struct StreamSigner {
    key: TsigKey,
    request: RequestMac,
    prior_mac: Vec<u8>,
    unsigned: Vec<u8>,
    first: bool,
}

impl StreamSigner {
    /// A signer for the response to `request`.
    pub fn new(key: TsigKey, request: &RequestMac) -> Self {
        Self {
            key,
            request: request.clone(),
            prior_mac: request.mac.clone(),
            unsigned: Vec::new(),
            first: true,
        }
    }

    /// Records a message sent without TSIG.
    pub fn skip(&mut self, msg: &[u8]) {
        self.unsigned.extend_from_slice(msg);
    }

    /// Signs the next message in place.
    pub fn sign(&mut self, msg: &mut Vec<u8>, now: u64) -> Result<(), TsigError> {
        let vars = if self.first {
            variables(&self.key, now, DEFAULT_FUDGE, Rcode::NOERROR, &[])
        } else {
            let mut v = Vec::with_capacity(8);
            timers(&mut v, now, DEFAULT_FUDGE);
            v
        };
        let covered = with_id(msg, self.request.id);
        let mac = self
            .key
            .mac(&[&prior(&self.prior_mac), &self.unsigned, &covered, &vars]);
        append_tsig(msg, &self.key, now, DEFAULT_FUDGE, &mac, self.request.id)?;
        self.prior_mac = mac;
        self.unsigned.clear();
        self.first = false;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::message::{Header, Opcode, Record};
    use crate::dns::rdata::RData;
    use crate::dns::update::UpdateBuilder;

    /// An UPDATE signed by BIND 9.18's `nsupdate -y hmac-sha256:rack-key.:<secret>` for
    /// "prereq nxrrset www.farm. A; update add www.farm. 300 A 192.0.2.1", captured from a
    /// UDP socket. BIND compresses owner names; the MAC covers the bytes as sent.
    const NSUPDATE_REQUEST: &str = "c69828000001000100010001046661726d000006000103777777c00c000100fe000000000000c016000100010000012c0004c0000201087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b025513012c00204324b41587ad66d597c5fc7b59e58f78f2519148a4be4c6358403cb94279783ac69800000000";
    const NSUPDATE_SECRET: &str = "c2VjcmV0LWZvci1yYWNrLXRlc3RzLTMyLWJ5dGVzISE=";
    const NSUPDATE_TIME: u64 = 0x6b02_5513;

    /// A SOA query signed by BIND 9.18's `dig -y` and the answer `named` 9.18 signed for it,
    /// captured by a UDP relay; then an UPDATE from `nsupdate` and `named`'s signed NOERROR.
    const DIG_SOA_QUERY: &str = "20b100200001000000000001046661726d0000060001087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00206bc39fd3518ca6d6c1cf24db2ad8135d1d5ae63104b3e5c0b3408d618cc4466320b100000000";
    const NAMED_SOA_ANSWER: &str = "20b184000001000100010002046661726d0000060001c00c000600010000012c0027036e7331c00c0a686f73746d6173746572c00c0000000100001c2000000e10001275000000012cc00c000200010000012c0002c022c022000100010000012c0004c0000235087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c0020355068b9a42614da4900665103bc2d6d3fe6b54faf34814955e364b228b21f5e20b100000000";
    const NSUPDATE_REQUEST_2: &str = "5d1c28000001000100010001046661726d000006000103777777c00c000100fe000000000000c016000100010000012c0004c0000201087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00200f24c6909db32f94ae68ed33597833161b66b515c0452fbda1714d488f92c10f5d1c00000000";
    const NAMED_UPDATE_ANSWER: &str = "5d1ca8000001000000000001046661726d0000060001087261636b2d6b65790000fa00ff00000000003d0b686d61632d7368613235360000006b0255bb012c00207f95103c356dd8c025756d670c166ec9b9d05c345ddb47e289120c71867839af5d1c00000000";
    const NAMED_TIME: u64 = 0x6b02_55bb;

    fn unhex(s: &str) -> Vec<u8> {
        crate::dns::text::unhex(s).unwrap()
    }

    fn key(alg: &str) -> TsigKey {
        TsigKey::from_base64("rack-key.", alg, NSUPDATE_SECRET).unwrap()
    }

    fn response_to(request: &[u8]) -> Vec<u8> {
        let parsed = Message::parse(request).unwrap();
        let mut resp = Message::default();
        resp.header = Header {
            id: parsed.header.id,
            qr: true,
            opcode: parsed.header.opcode,
            ..Header::default()
        };
        resp.questions = parsed.questions;
        resp.header.aa = true;
        resp.to_bytes().unwrap()
    }

    #[test]
    fn known_answer_from_nsupdate() {
        let bytes = unhex(NSUPDATE_REQUEST);
        let key = key("hmac-sha256");
        let (msg, request) = verify_request(&bytes, &key, NSUPDATE_TIME).unwrap();
        assert_eq!(msg.header.opcode, Opcode::UPDATE);
        assert_eq!(request.id, 0xc698);
        assert_eq!(request.time_signed, NSUPDATE_TIME);
        // Re-signing the unsigned message at the same time gives BIND's bytes exactly.
        let offset = msg.tsig_offset().unwrap();
        let mut unsigned = bytes[..offset].to_vec();
        unsigned[11] -= 1;
        let ours = sign_request(&mut unsigned, &key, NSUPDATE_TIME).unwrap();
        assert_eq!(ours.mac, request.mac);
        assert_eq!(unsigned, bytes);
        // Outside the fudge, or with another secret, it fails with the right error.
        assert!(matches!(
            verify_request(&bytes, &key, NSUPDATE_TIME + 301),
            Err(TsigError::ClockSkew {
                skew: 301,
                fudge: 300,
                ..
            })
        ));
        let other = TsigKey::new(key.name.clone(), key.algorithm, b"wrong".to_vec()).unwrap();
        assert!(matches!(
            verify_request(&bytes, &other, NSUPDATE_TIME),
            Err(TsigError::MacMismatch { .. })
        ));
    }

    #[test]
    fn known_answers_from_named() {
        let key = key("hmac-sha256");
        let (_, request) = verify_request(&unhex(DIG_SOA_QUERY), &key, NAMED_TIME).unwrap();
        let answer =
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME + 1).unwrap();
        assert_eq!(answer.rcode(), Rcode::NOERROR);
        assert_eq!(
            answer.answers[0].to_string(),
            "farm. 300 IN SOA ns1.farm. hostmaster.farm. 1 7200 3600 1209600 300"
        );
        assert!(matches!(
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME + 400),
            Err(TsigError::ClockSkew { .. })
        ));
        let (_, request) = verify_request(&unhex(NSUPDATE_REQUEST_2), &key, NAMED_TIME).unwrap();
        let answer =
            verify_response(&unhex(NAMED_UPDATE_ANSWER), &key, &request, NAMED_TIME).unwrap();
        assert_eq!(answer.header.opcode, Opcode::UPDATE);
        assert_eq!(answer.rcode(), Rcode::NOERROR);
        // The SOA answer does not verify as the answer to the UPDATE.
        assert!(matches!(
            verify_response(&unhex(NAMED_SOA_ANSWER), &key, &request, NAMED_TIME),
            Err(TsigError::MacMismatch { .. })
        ));
    }

    #[test]
    fn sign_and_verify_every_algorithm() {
        let zone: Name = "farm.".parse().unwrap();
        for alg in ["hmac-sha1", "hmac-sha256", "HMAC-SHA384.", "hmac-sha512"] {
            let key = key(alg);
            let mut b = UpdateBuilder::new(zone.clone());
            b.add(&Record::new(
                "www.farm.".parse().unwrap(),
                60,
                RData::A("192.0.2.7".parse().unwrap()),
            ))
            .unwrap();
            let mut req = b.build(77).unwrap();
            let request = sign_request(&mut req, &key, 1_700_000_000).unwrap();
            assert_eq!(request.mac.len(), key.algorithm.mac_len());
            let (_, seen) = verify_request(&req, &key, 1_700_000_100).unwrap();
            assert_eq!(seen, request);
            let mut resp = response_to(&req);
            sign_response(&mut resp, &key, &request, 1_700_000_001).unwrap();
            let msg = verify_response(&resp, &key, &request, 1_700_000_002).unwrap();
            assert!(msg.tsig.is_some());
            // A response to another request does not verify.
            let other = RequestMac {
                mac: vec![0; request.mac.len()],
                ..request.clone()
            };
            assert!(matches!(
                verify_response(&resp, &key, &other, 1_700_000_002),
                Err(TsigError::MacMismatch { .. })
            ));
            // Any flipped bit before the TSIG record breaks the MAC.
            let mut tampered = resp.clone();
            tampered[3] ^= 0x01;
            assert!(verify_response(&tampered, &key, &request, 1_700_000_002).is_err());
        }
    }

    /// A response carrying a TSIG record with this error and an empty MAC, as servers send
    /// for BADKEY and BADSIG (RFC 8945 §5.3.2).
    fn error_response(key: &TsigKey, error: Rcode, other: &[u8]) -> Vec<u8> {
        let mut m = Vec::new();
        Header {
            id: 5,
            qr: true,
            rcode: 9,
            ..Header::default()
        }
        .encode(&mut m, [0, 0, 0, 1]);
        encode_rr(&mut m, &key.name, RecordType::Tsig, Class::ANY, 0, |o| {
            key.algorithm.name().encode(o);
            put_u48(o, 1000);
            o.extend_from_slice(&300u16.to_be_bytes());
            o.extend_from_slice(&0u16.to_be_bytes());
            o.extend_from_slice(&5u16.to_be_bytes());
            o.extend_from_slice(&error.0.to_be_bytes());
            o.extend_from_slice(&u16::try_from(other.len()).unwrap().to_be_bytes());
            o.extend_from_slice(other);
            Ok(())
        })
        .unwrap();
        m
    }

    #[test]
    fn server_errors_map_to_variants() {
        let key = key("hmac-sha256");
        let req = RequestMac {
            id: 5,
            mac: vec![1; 32],
            time_signed: 1000,
        };
        let check = |error: Rcode, other: &[u8]| {
            verify_response(&error_response(&key, error, other), &key, &req, 1000).unwrap_err()
        };
        let e = check(Rcode::BADSIG, &[]);
        assert!(matches!(e, TsigError::BadSig { .. }));
        assert!(e.to_string().contains("secret"), "{e}");
        let e = check(Rcode::BADKEY, &[]);
        assert!(matches!(e, TsigError::BadKey { .. }));
        assert!(e.to_string().contains("key name"), "{e}");
        let e = check(Rcode::BADTIME, &[0, 0, 0, 0, 0x0b, 0xb8]);
        assert_eq!(
            e,
            TsigError::BadTime {
                server_time: 3000,
                client_time: 1000
            }
        );
        assert!(e.to_string().contains("clocks"), "{e}");
        assert_eq!(check(Rcode::BADTRUNC, &[]), TsigError::BadTrunc);
        assert!(matches!(
            check(Rcode(99), &[]),
            TsigError::OtherError { .. }
        ));
        // An unsigned answer.
        let plain = response_to(
            &Message::query(5, "farm.".parse().unwrap(), RecordType::Soa)
                .to_bytes()
                .unwrap(),
        );
        assert!(matches!(
            verify_response(&plain, &key, &req, 1000),
            Err(TsigError::Unsigned { .. })
        ));
        // Signed with another key.
        let other = TsigKey::from_base64("other.", "hmac-sha256", NSUPDATE_SECRET).unwrap();
        let mut resp = plain.clone();
        sign_response(&mut resp, &other, &req, 1000).unwrap();
        assert!(matches!(
            verify_response(&resp, &key, &req, 1000),
            Err(TsigError::WrongKey { .. })
        ));
    }

    #[test]
    fn truncated_macs() {
        let key = key("hmac-sha256");
        let mut req = Message::query(3, "farm.".parse().unwrap(), RecordType::Soa)
            .to_bytes()
            .unwrap();
        let full = key.mac(&[&req, &variables(&key, 10, 300, Rcode::NOERROR, &[])]);
        append_tsig(&mut req, &key, 10, 300, &full[..16], 3).unwrap();
        assert!(verify_request(&req, &key, 10).is_ok());
        let mut short = Message::query(3, "farm.".parse().unwrap(), RecordType::Soa)
            .to_bytes()
            .unwrap();
        append_tsig(&mut short, &key, 10, 300, &full[..15], 3).unwrap();
        assert_eq!(
            verify_request(&short, &key, 10).unwrap_err(),
            TsigError::MacTooShort { len: 15, min: 16 }
        );
    }

    #[test]
    fn multi_message_stream() {
        let key = key("hmac-sha256");
        let mut query = Message::query(9, "farm.".parse().unwrap(), RecordType::Axfr)
            .to_bytes()
            .unwrap();
        let request = sign_request(&mut query, &key, 500).unwrap();
        let base = response_to(&query);
        let mut signer = StreamSigner::new(key.clone(), &request);
        let mut messages = Vec::new();
        // Signed, 3 unsigned, signed, 99 unsigned, signed.
        let plan: Vec<bool> = [true]
            .into_iter()
            .chain([false; 3])
            .chain([true])
            .chain([false; MAX_UNSIGNED_IN_ROW])
            .chain([true])
            .collect();
        for (i, sign) in plan.iter().enumerate() {
            let mut m = base.clone();
            m[1] = i as u8; // distinct IDs: the MAC covers the original ID
            if *sign {
                signer.sign(&mut m, 500 + i as u64).unwrap();
            } else {
                signer.skip(&m);
            }
            messages.push(m);
        }
        let mut v = StreamVerifier::new(key.clone(), &request);
        for m in &messages {
            v.verify(m, 550).unwrap();
        }
        v.finish().unwrap();

        // A message altered in the unsigned run is caught by the next signature.
        let mut v = StreamVerifier::new(key.clone(), &request);
        let mut altered = messages.clone();
        altered[2][3] ^= 0x10;
        let results: Vec<_> = altered.iter().map(|m| v.verify(m, 550)).collect();
        assert!(results[..4].iter().all(Result::is_ok));
        assert!(matches!(results[4], Err(TsigError::MacMismatch { .. })));

        // The first message must be signed.
        let mut v = StreamVerifier::new(key.clone(), &request);
        assert!(matches!(
            v.verify(&messages[1], 550),
            Err(TsigError::Unsigned { .. })
        ));

        // 100 unsigned in a row is too many; ending unsigned is an error.
        let mut v = StreamVerifier::new(key.clone(), &request);
        v.verify(&messages[0], 550).unwrap();
        for m in &messages[5..5 + MAX_UNSIGNED_IN_ROW] {
            v.verify(m, 550).unwrap();
        }
        assert_eq!(v.finish(), Err(TsigError::UnsignedEnd));
        assert_eq!(
            v.verify(&messages[1], 550).unwrap_err(),
            TsigError::TooManyUnsigned
        );
    }

    #[test]
    fn keys_and_algorithms() {
        let key = key("hmac-sha256");
        let debug = format!("{key:?}");
        assert!(!debug.contains(NSUPDATE_SECRET), "{debug}");
        assert!(!debug.contains("secret-for"), "{debug}");
        assert!(debug.contains("redacted"));
        assert_eq!(key.secret(), b"secret-for-rack-tests-32-bytes!!");
        assert_eq!(
            "hmac-sha1".parse::<TsigAlgorithm>().unwrap(),
            TsigAlgorithm::HmacSha1
        );
        assert_eq!(TsigAlgorithm::HmacSha512.name().to_string(), "hmac-sha512.");
        assert!(matches!(
            "hmac-md5".parse::<TsigAlgorithm>(),
            Err(TsigError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            TsigKey::from_base64("k.", "hmac-sha256", "not base64!"),
            Err(TsigError::BadSecret(_))
        ));
        assert!(matches!(
            TsigKey::from_base64("k.", "hmac-sha256", ""),
            Err(TsigError::EmptySecret)
        ));
        assert!(matches!(
            TsigKey::from_base64("a..b", "hmac-sha256", "YQ=="),
            Err(TsigError::BadKeyName(_))
        ));
        // RFC 4231 test case 2 for HMAC-SHA-256 ("Jefe").
        let jefe = TsigKey::new(Name::root(), TsigAlgorithm::HmacSha256, b"Jefe".to_vec()).unwrap();
        assert_eq!(
            crate::dns::text::hex(&jefe.mac(&[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }

    #[test]
    fn short_input_is_an_error_not_a_panic() {
        let key = key("hmac-sha256");
        assert!(sign_request(&mut vec![0; 5], &key, 1).is_err());
        assert!(verify_request(&[0; 5], &key, 1).is_err());
    }
}
