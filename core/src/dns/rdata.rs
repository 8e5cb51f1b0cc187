//! Record types and typed rdata: parsed from presentation form (RFC 1035 §5.1 and each type's
//! RFC), printed in one normalised presentation form, and encoded/decoded on the wire.

use std::collections::BTreeMap;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::{Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::name::{Name, NameError};
use super::text::{self, Token};
use super::wire::{Reader, WireError, put_character_string};

/// A resource record TYPE (RFC 1035 §3.2.2 and the registry of IANA DNS parameters).
///
/// Codes rack has no variant for are `Unknown`; `RecordType::from(u16)` always picks the
/// named variant when there is one, and equality compares codes.
#[derive(Debug, Clone, Copy, Eq, PartialOrd, Ord)]
#[non_exhaustive]
pub enum RecordType {
    /// IPv4 address (RFC 1035).
    A,
    /// Authoritative name server (RFC 1035).
    Ns,
    /// Canonical name (RFC 1035).
    Cname,
    /// Start of authority (RFC 1035).
    Soa,
    /// Domain name pointer (RFC 1035).
    Ptr,
    /// Mail exchange (RFC 1035).
    Mx,
    /// Text strings (RFC 1035).
    Txt,
    /// IPv6 address (RFC 3596).
    Aaaa,
    /// Service location (RFC 2782).
    Srv,
    /// Naming authority pointer (RFC 3403).
    Naptr,
    /// Delegation name (RFC 6672).
    Dname,
    /// EDNS(0) pseudo-record (RFC 6891); never in a zone.
    Opt,
    /// SSH key fingerprint (RFC 4255).
    Sshfp,
    /// DANE TLS association (RFC 6698).
    Tlsa,
    /// General service binding (RFC 9460).
    Svcb,
    /// Service binding for HTTP (RFC 9460).
    Https,
    /// Transaction signature (RFC 8945); meta-type.
    Tsig,
    /// Incremental zone transfer (RFC 1995); query type only.
    Ixfr,
    /// Full zone transfer (RFC 5936); query type only.
    Axfr,
    /// Any type, `*` (RFC 1035 §3.2.3); query and UPDATE only.
    Any,
    /// Certification authority authorisation (RFC 8659).
    Caa,
    /// Any other type, by code (`TYPE123` in presentation form, RFC 3597 §5).
    Unknown(u16),
}

const TYPES: &[(RecordType, u16, &str)] = &[
    (RecordType::A, 1, "A"),
    (RecordType::Ns, 2, "NS"),
    (RecordType::Cname, 5, "CNAME"),
    (RecordType::Soa, 6, "SOA"),
    (RecordType::Ptr, 12, "PTR"),
    (RecordType::Mx, 15, "MX"),
    (RecordType::Txt, 16, "TXT"),
    (RecordType::Aaaa, 28, "AAAA"),
    (RecordType::Srv, 33, "SRV"),
    (RecordType::Naptr, 35, "NAPTR"),
    (RecordType::Dname, 39, "DNAME"),
    (RecordType::Opt, 41, "OPT"),
    (RecordType::Sshfp, 44, "SSHFP"),
    (RecordType::Tlsa, 52, "TLSA"),
    (RecordType::Svcb, 64, "SVCB"),
    (RecordType::Https, 65, "HTTPS"),
    (RecordType::Tsig, 250, "TSIG"),
    (RecordType::Ixfr, 251, "IXFR"),
    (RecordType::Axfr, 252, "AXFR"),
    (RecordType::Any, 255, "ANY"),
    (RecordType::Caa, 257, "CAA"),
];

impl RecordType {
    /// The 16-bit TYPE code.
    pub fn code(self) -> u16 {
        match self {
            Self::Unknown(code) => code,
            known => TYPES
                .iter()
                .find(|(t, _, _)| std::mem::discriminant(t) == std::mem::discriminant(&known))
                .map_or(0, |(_, code, _)| *code),
        }
    }

    /// Whether this is a meta-type or query type (RFC 6895 §3.1: 128–255) or OPT, which
    /// never appear as zone data.
    pub fn is_meta(self) -> bool {
        let code = self.code();
        code == 0 || code == 41 || (128..=255).contains(&code)
    }
}

impl From<u16> for RecordType {
    fn from(code: u16) -> Self {
        TYPES
            .iter()
            .find(|(_, c, _)| *c == code)
            .map_or(Self::Unknown(code), |(t, _, _)| *t)
    }
}

impl PartialEq for RecordType {
    fn eq(&self, other: &Self) -> bool {
        self.code() == other.code()
    }
}

impl Hash for RecordType {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.code().hash(state);
    }
}

impl fmt::Display for RecordType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let code = self.code();
        match TYPES.iter().find(|(_, c, _)| *c == code) {
            Some((_, _, name)) => f.write_str(name),
            None => write!(f, "TYPE{code}"),
        }
    }
}

impl FromStr for RecordType {
    type Err = RDataError;

    /// A mnemonic in any case, or `TYPEnnn` (RFC 3597 §5).
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if let Some((_, code, _)) = TYPES.iter().find(|(_, _, n)| n.eq_ignore_ascii_case(s)) {
            return Ok(Self::from(*code));
        }
        s.get(..4)
            .filter(|p| p.eq_ignore_ascii_case("TYPE"))
            .and_then(|_| s.get(4..))
            .filter(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|d| d.parse::<u16>().ok())
            .map(Self::from)
            .ok_or_else(|| RDataError::UnknownType { text: s.to_owned() })
    }
}

/// Why presentation text could not be read as rdata of a given type.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RDataError {
    /// The text is not a record type mnemonic or `TYPEnnn`.
    #[error("{text:?} is not a record type; use a name such as A or MX, or TYPEnnn")]
    UnknownType {
        /// The text as given.
        text: String,
    },
    /// The text does not have the fields the type needs.
    #[error("{rtype} rdata {text:?} {reason}, e.g. {example:?}")]
    Malformed {
        /// The record type.
        rtype: RecordType,
        /// The rdata text as given.
        text: String,
        /// What is missing or extra.
        reason: String,
        /// A valid example.
        example: &'static str,
    },
    /// One field has a value the type does not allow.
    #[error("{rtype} rdata {text:?} has {field} {value:?}, which is not {expected}")]
    BadField {
        /// The record type.
        rtype: RecordType,
        /// The rdata text as given.
        text: String,
        /// Which field.
        field: &'static str,
        /// The field as given.
        value: String,
        /// What is allowed.
        expected: String,
    },
    /// A domain name inside the rdata is invalid.
    #[error("{rtype} rdata {text:?} has a bad {field}")]
    BadName {
        /// The record type.
        rtype: RecordType,
        /// The rdata text as given.
        text: String,
        /// Which field.
        field: &'static str,
        /// Why the name is invalid.
        #[source]
        source: NameError,
    },
    /// Generic `\#` data does not decode as the type's wire format.
    #[error("{rtype} rdata {text:?} in generic form does not decode as {rtype}")]
    BadGeneric {
        /// The record type.
        rtype: RecordType,
        /// The rdata text as given.
        text: String,
        /// What the decoder found.
        #[source]
        source: WireError,
    },
    /// Meta-types (OPT, TSIG, AXFR, IXFR, ANY) carry no zone data.
    #[error("{rtype} is a meta-type and has no rdata in presentation form")]
    MetaType {
        /// The record type.
        rtype: RecordType,
    },
}

/// Service parameters of an SVCB or HTTPS record (RFC 9460 §2.2), by key, with values in
/// wire form. Keys are kept in increasing order, which is the canonical order.
pub type SvcParams = BTreeMap<u16, Vec<u8>>;

/// SvcParamKey numbers and their presentation names (RFC 9460 §14.3.2).
const SVC_KEYS: &[(u16, &str)] = &[
    (0, "mandatory"),
    (1, "alpn"),
    (2, "no-default-alpn"),
    (3, "port"),
    (4, "ipv4hint"),
    (5, "ech"),
    (6, "ipv6hint"),
];
/// The reserved "invalid key" (RFC 9460 §14.3.2).
const SVC_KEY_INVALID: u16 = 65535;

/// Typed rdata of one resource record.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RData {
    /// RFC 1035 §3.4.1.
    A(Ipv4Addr),
    /// RFC 3596 §2.2.
    Aaaa(Ipv6Addr),
    /// RFC 1035 §3.3.1.
    Cname(Name),
    /// RFC 1035 §3.3.11.
    Ns(Name),
    /// RFC 1035 §3.3.12.
    Ptr(Name),
    /// RFC 6672 §2.1.
    Dname(Name),
    /// RFC 1035 §3.3.9.
    Mx {
        /// Lower is preferred.
        preference: u16,
        /// The mail host.
        exchange: Name,
    },
    /// RFC 2782.
    Srv {
        /// Lower is tried first.
        priority: u16,
        /// Relative weight among equal priorities.
        weight: u16,
        /// The service's port.
        port: u16,
        /// The host, `.` for "not available here".
        target: Name,
    },
    /// RFC 1035 §3.3.14: one or more `<character-string>`s, each at most 255 bytes. String
    /// boundaries are data: `"a" "b"` is not the same record as `"ab"`.
    Txt(Vec<Vec<u8>>),
    /// RFC 8659 §4.1.
    Caa {
        /// Bit 0 (128) is the issuer-critical flag.
        flags: u8,
        /// Property tag, lower-cased (matching is case-insensitive, RFC 8659 §4.1).
        tag: String,
        /// Property value.
        value: Vec<u8>,
    },
    /// RFC 4255 §3.1.
    Sshfp {
        /// Key algorithm (1 RSA, 2 DSA, 3 ECDSA, 4 Ed25519, 6 Ed448).
        algorithm: u8,
        /// Fingerprint type (1 SHA-1, 2 SHA-256).
        fingerprint_type: u8,
        /// The fingerprint.
        fingerprint: Vec<u8>,
    },
    /// RFC 6698 §2.1.
    Tlsa {
        /// Certificate usage.
        usage: u8,
        /// Selector.
        selector: u8,
        /// Matching type.
        matching_type: u8,
        /// Certificate association data.
        data: Vec<u8>,
    },
    /// RFC 3403 §4.1.
    Naptr {
        /// Processing order, lower first.
        order: u16,
        /// Preference among equal orders.
        preference: u16,
        /// Flags string.
        flags: Vec<u8>,
        /// Services string.
        services: Vec<u8>,
        /// Substitution expression.
        regexp: Vec<u8>,
        /// Replacement name.
        replacement: Name,
    },
    /// RFC 1035 §3.3.13.
    Soa {
        /// Primary name server.
        mname: Name,
        /// Responsible mailbox.
        rname: Name,
        /// Zone serial.
        serial: u32,
        /// Refresh interval, seconds.
        refresh: u32,
        /// Retry interval, seconds.
        retry: u32,
        /// Expiry, seconds.
        expire: u32,
        /// Negative-caching TTL, seconds (RFC 2308).
        minimum: u32,
    },
    /// RFC 9460 §2.2.
    Svcb {
        /// 0 is AliasMode, anything else ServiceMode.
        priority: u16,
        /// Target name; `.` means the owner (ServiceMode) or "no service" (AliasMode).
        target: Name,
        /// Parameters by key, values in wire form.
        params: SvcParams,
    },
    /// RFC 9460 §9: SVCB for HTTP.
    Https {
        /// As for SVCB.
        priority: u16,
        /// As for SVCB.
        target: Name,
        /// As for SVCB.
        params: SvcParams,
    },
    /// Any other type, kept as opaque wire bytes (RFC 3597).
    Unknown {
        /// The record type.
        rtype: RecordType,
        /// Wire-form rdata.
        data: Vec<u8>,
    },
}

/// Context for building user-facing errors while parsing one rdata text.
struct Ctx<'a> {
    rtype: RecordType,
    text: &'a str,
    origin: &'a Name,
}

impl Ctx<'_> {
    fn malformed(&self, reason: impl Into<String>) -> RDataError {
        RDataError::Malformed {
            rtype: self.rtype,
            text: self.text.to_owned(),
            reason: reason.into(),
            example: example(self.rtype),
        }
    }

    fn bad(&self, field: &'static str, value: &str, expected: impl Into<String>) -> RDataError {
        RDataError::BadField {
            rtype: self.rtype,
            text: self.text.to_owned(),
            field,
            value: value.to_owned(),
            expected: expected.into(),
        }
    }

    fn name(&self, field: &'static str, token: &Token<'_>) -> Result<Name, RDataError> {
        Name::resolve(token.raw, self.origin).map_err(|source| RDataError::BadName {
            rtype: self.rtype,
            text: self.text.to_owned(),
            field,
            source,
        })
    }

    fn number<T: FromStr>(&self, field: &'static str, token: &Token<'_>) -> Result<T, RDataError> {
        let raw = token.raw;
        let max = std::mem::size_of::<T>() * 8;
        if raw.is_empty() || !raw.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.bad(field, raw, format!("a {max}-bit unsigned number")));
        }
        raw.parse()
            .map_err(|_| self.bad(field, raw, format!("a {max}-bit unsigned number")))
    }

    /// A duration in seconds, bare (`3600`) or with BIND-style units (`1h`, `1w2d`).
    fn seconds(&self, field: &'static str, token: &Token<'_>) -> Result<u32, RDataError> {
        let raw = token.raw;
        let bad = || self.bad(field, raw, "a number of seconds such as 3600 or 1h");
        if raw.bytes().all(|b| b.is_ascii_digit()) {
            return raw.parse().map_err(|_| bad());
        }
        let mut total: u64 = 0;
        let mut digits = String::new();
        for c in raw.chars() {
            if c.is_ascii_digit() {
                digits.push(c);
                continue;
            }
            let unit: u64 = match c.to_ascii_lowercase() {
                's' => 1,
                'm' => 60,
                'h' => 3600,
                'd' => 86_400,
                'w' => 604_800,
                _ => return Err(bad()),
            };
            let n: u64 = digits.parse().map_err(|_| bad())?;
            digits.clear();
            total = n
                .checked_mul(unit)
                .and_then(|v| v.checked_add(total))
                .ok_or_else(bad)?;
        }
        if !digits.is_empty() {
            return Err(bad());
        }
        u32::try_from(total).map_err(|_| bad())
    }

    fn unescaped(&self, field: &'static str, token: &Token<'_>) -> Result<Vec<u8>, RDataError> {
        text::unescape(token.raw).map_err(|why| self.bad(field, token.raw, why))
    }

    fn string(&self, field: &'static str, token: &Token<'_>) -> Result<Vec<u8>, RDataError> {
        let bytes = text::unescape(token.raw).map_err(|why| self.bad(field, token.raw, why))?;
        if bytes.len() > 255 {
            return Err(self.bad(field, token.raw, "at most 255 bytes"));
        }
        Ok(bytes)
    }

    fn hex(&self, field: &'static str, tokens: &[Token<'_>]) -> Result<Vec<u8>, RDataError> {
        let joined: String = tokens.iter().map(|t| t.raw).collect();
        text::unhex(&joined)
            .filter(|b| !b.is_empty())
            .ok_or_else(|| self.bad(field, &joined, "an even number of hexadecimal digits"))
    }
}

fn example(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::A => "192.0.2.1",
        RecordType::Aaaa => "2001:db8::1",
        RecordType::Cname | RecordType::Ns | RecordType::Ptr | RecordType::Dname => "host.farm.",
        RecordType::Mx => "10 mail.farm.",
        RecordType::Srv => "10 5 5060 sip.farm.",
        RecordType::Txt => "\"v=spf1 -all\"",
        RecordType::Caa => "0 issue \"letsencrypt.org\"",
        RecordType::Sshfp => "4 2 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
        RecordType::Tlsa => {
            "3 1 1 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"
        }
        RecordType::Naptr => "100 10 \"u\" \"E2U+sip\" \"!^.*$!sip:info@farm.example!\" .",
        RecordType::Soa => "ns1.farm. hostmaster.farm. 1 7200 3600 1209600 300",
        RecordType::Svcb | RecordType::Https => "1 . alpn=h2,h3 port=8443",
        _ => "\\# 4 c0000201",
    }
}

fn svc_key_name(key: u16) -> String {
    SVC_KEYS
        .iter()
        .find(|(k, _)| *k == key)
        .map_or_else(|| format!("key{key}"), |(_, n)| (*n).to_owned())
}

fn svc_key_from_name(name: &str) -> Option<u16> {
    if let Some((k, _)) = SVC_KEYS.iter().find(|(_, n)| *n == name) {
        return Some(*k);
    }
    let digits = name.strip_prefix("key")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    digits.parse().ok().filter(|k| *k != SVC_KEY_INVALID)
}

/// Checks one SvcParam value against its key's wire format (RFC 9460 §7).
fn check_svc_param(key: u16, value: &[u8]) -> Result<(), &'static str> {
    match key {
        0 => {
            if value.is_empty() || !value.len().is_multiple_of(2) {
                return Err("mandatory must list at least one key");
            }
            let keys: Vec<u16> = value
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .collect();
            if keys.windows(2).any(|w| w[0] >= w[1]) || keys.contains(&0) {
                return Err("mandatory keys must be increasing and exclude mandatory itself");
            }
            Ok(())
        }
        1 => {
            let mut r = Reader::new(value);
            if value.is_empty() {
                return Err("alpn must list at least one protocol");
            }
            while r.remaining() > 0 {
                let id = r
                    .character_string("alpn id")
                    .map_err(|_| "alpn ids overrun the value")?;
                if id.is_empty() {
                    return Err("alpn ids must not be empty");
                }
            }
            Ok(())
        }
        2 if value.is_empty() => Ok(()),
        2 => Err("no-default-alpn takes no value"),
        3 if value.len() == 2 => Ok(()),
        3 => Err("port must be 2 bytes"),
        4 if !value.is_empty() && value.len().is_multiple_of(4) => Ok(()),
        4 => Err("ipv4hint must hold whole IPv4 addresses"),
        6 if !value.is_empty() && value.len().is_multiple_of(16) => Ok(()),
        6 => Err("ipv6hint must hold whole IPv6 addresses"),
        SVC_KEY_INVALID => Err("key65535 is reserved"),
        _ => Ok(()),
    }
}

/// Splits a value-list on unescaped commas, resolving `\,` and `\\` (RFC 9460 Appendix A.1).
fn split_value_list(bytes: &[u8]) -> Vec<Vec<u8>> {
    let mut items = vec![Vec::new()];
    let mut iter = bytes.iter();
    while let Some(&b) = iter.next() {
        let item = items.last_mut();
        match (b, item) {
            (b'\\', Some(item)) => item.push(iter.next().copied().unwrap_or(b'\\')),
            (b',', _) => items.push(Vec::new()),
            (_, Some(item)) => item.push(b),
            (_, None) => {}
        }
    }
    items
}

impl RData {
    /// The record type this rdata belongs to.
    pub fn record_type(&self) -> RecordType {
        match self {
            Self::A(_) => RecordType::A,
            Self::Aaaa(_) => RecordType::Aaaa,
            Self::Cname(_) => RecordType::Cname,
            Self::Ns(_) => RecordType::Ns,
            Self::Ptr(_) => RecordType::Ptr,
            Self::Dname(_) => RecordType::Dname,
            Self::Mx { .. } => RecordType::Mx,
            Self::Srv { .. } => RecordType::Srv,
            Self::Txt(_) => RecordType::Txt,
            Self::Caa { .. } => RecordType::Caa,
            Self::Sshfp { .. } => RecordType::Sshfp,
            Self::Tlsa { .. } => RecordType::Tlsa,
            Self::Naptr { .. } => RecordType::Naptr,
            Self::Soa { .. } => RecordType::Soa,
            Self::Svcb { .. } => RecordType::Svcb,
            Self::Https { .. } => RecordType::Https,
            Self::Unknown { rtype, .. } => *rtype,
        }
    }

    /// Parses the presentation form of one record's rdata, as in a zone file (RFC 1035 §5.1)
    /// or `dig +short`. Relative names inside it are taken relative to `origin`. Any type
    /// also accepts the generic form `\# <length> <hex>` (RFC 3597 §5).
    pub fn parse(rtype: RecordType, text: &str, origin: &Name) -> Result<Self, RDataError> {
        let ctx = Ctx {
            rtype,
            text,
            origin,
        };
        if rtype.is_meta() {
            return Err(RDataError::MetaType { rtype });
        }
        let tokens = text::tokenize(text).map_err(|why| ctx.malformed(why))?;
        if let Some(first) = tokens.first()
            && !first.quoted
            && first.raw == "\\#"
        {
            return Self::parse_generic(&ctx, tokens.get(1..).unwrap_or_default());
        }
        let need = |n: usize| -> Result<(), RDataError> {
            if tokens.len() == n {
                Ok(())
            } else {
                Err(ctx.malformed(needs(rtype)))
            }
        };
        let t = |i: usize| tokens.get(i).ok_or_else(|| ctx.malformed(needs(rtype)));
        let rdata = match rtype {
            RecordType::A => {
                need(1)?;
                let raw = t(0)?.raw;
                Self::A(
                    raw.parse()
                        .map_err(|_| ctx.bad("address", raw, "an IPv4 address"))?,
                )
            }
            RecordType::Aaaa => {
                need(1)?;
                let raw = t(0)?.raw;
                Self::Aaaa(
                    raw.parse()
                        .map_err(|_| ctx.bad("address", raw, "an IPv6 address"))?,
                )
            }
            RecordType::Cname | RecordType::Ns | RecordType::Ptr | RecordType::Dname => {
                need(1)?;
                let name = ctx.name("target name", t(0)?)?;
                match rtype {
                    RecordType::Cname => Self::Cname(name),
                    RecordType::Ns => Self::Ns(name),
                    RecordType::Ptr => Self::Ptr(name),
                    _ => Self::Dname(name),
                }
            }
            RecordType::Mx => {
                need(2)?;
                Self::Mx {
                    preference: ctx.number("preference", t(0)?)?,
                    exchange: ctx.name("exchange", t(1)?)?,
                }
            }
            RecordType::Srv => {
                need(4)?;
                Self::Srv {
                    priority: ctx.number("priority", t(0)?)?,
                    weight: ctx.number("weight", t(1)?)?,
                    port: ctx.number("port", t(2)?)?,
                    target: ctx.name("target", t(3)?)?,
                }
            }
            RecordType::Txt => {
                if tokens.is_empty() {
                    return Err(ctx.malformed(needs(rtype)));
                }
                let mut strings = Vec::new();
                for token in &tokens {
                    let bytes = text::unescape(token.raw)
                        .map_err(|why| ctx.bad("string", token.raw, why))?;
                    if bytes.is_empty() {
                        strings.push(bytes);
                    } else {
                        // A string longer than one <character-string> is split into 255-byte
                        // chunks, as zone-file tools do.
                        strings.extend(bytes.chunks(255).map(<[u8]>::to_vec));
                    }
                }
                Self::Txt(strings)
            }
            RecordType::Caa => {
                need(3)?;
                let flags = ctx.number("flags", t(0)?)?;
                let tag_raw = t(1)?.raw;
                if tag_raw.is_empty()
                    || tag_raw.len() > 255
                    || !tag_raw.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(ctx.bad("tag", tag_raw, "letters and digits such as issue"));
                }
                Self::Caa {
                    flags,
                    tag: tag_raw.to_ascii_lowercase(),
                    value: ctx.unescaped("value", t(2)?)?,
                }
            }
            RecordType::Sshfp => {
                if tokens.len() < 3 {
                    return Err(ctx.malformed(needs(rtype)));
                }
                Self::Sshfp {
                    algorithm: ctx.number("algorithm", t(0)?)?,
                    fingerprint_type: ctx.number("fingerprint type", t(1)?)?,
                    fingerprint: ctx.hex("fingerprint", tokens.get(2..).unwrap_or_default())?,
                }
            }
            RecordType::Tlsa => {
                if tokens.len() < 4 {
                    return Err(ctx.malformed(needs(rtype)));
                }
                Self::Tlsa {
                    usage: ctx.number("usage", t(0)?)?,
                    selector: ctx.number("selector", t(1)?)?,
                    matching_type: ctx.number("matching type", t(2)?)?,
                    data: ctx.hex("data", tokens.get(3..).unwrap_or_default())?,
                }
            }
            RecordType::Naptr => {
                need(6)?;
                Self::Naptr {
                    order: ctx.number("order", t(0)?)?,
                    preference: ctx.number("preference", t(1)?)?,
                    flags: ctx.string("flags", t(2)?)?,
                    services: ctx.string("services", t(3)?)?,
                    regexp: ctx.string("regexp", t(4)?)?,
                    replacement: ctx.name("replacement", t(5)?)?,
                }
            }
            RecordType::Soa => {
                need(7)?;
                Self::Soa {
                    mname: ctx.name("mname", t(0)?)?,
                    rname: ctx.name("rname", t(1)?)?,
                    serial: ctx.number("serial", t(2)?)?,
                    refresh: ctx.seconds("refresh", t(3)?)?,
                    retry: ctx.seconds("retry", t(4)?)?,
                    expire: ctx.seconds("expire", t(5)?)?,
                    minimum: ctx.seconds("minimum", t(6)?)?,
                }
            }
            RecordType::Svcb | RecordType::Https => {
                if tokens.len() < 2 {
                    return Err(ctx.malformed(needs(rtype)));
                }
                let priority = ctx.number("priority", t(0)?)?;
                let target = ctx.name("target", t(1)?)?;
                let params = Self::parse_svc_params(&ctx, tokens.get(2..).unwrap_or_default())?;
                if rtype == RecordType::Svcb {
                    Self::Svcb {
                        priority,
                        target,
                        params,
                    }
                } else {
                    Self::Https {
                        priority,
                        target,
                        params,
                    }
                }
            }
            _ => return Err(ctx.malformed(needs(rtype))),
        };
        Ok(rdata)
    }

    /// RFC 3597 §5: `\# <length> <hex>...`.
    fn parse_generic(ctx: &Ctx<'_>, rest: &[Token<'_>]) -> Result<Self, RDataError> {
        let generic = || ctx.malformed("needs the generic form \\# <length> <hex>");
        let len_token = rest.first().ok_or_else(generic)?;
        let len: usize = ctx.number::<u16>("length", len_token)?.into();
        let hex_tokens = rest.get(1..).unwrap_or_default();
        let data = if hex_tokens.is_empty() {
            Vec::new()
        } else {
            ctx.hex("data", hex_tokens)?
        };
        if data.len() != len {
            return Err(ctx.bad(
                "length",
                len_token.raw,
                format!("the {} bytes of hex that follow", data.len()),
            ));
        }
        Self::from_wire(ctx.rtype, &data).map_err(|source| RDataError::BadGeneric {
            rtype: ctx.rtype,
            text: ctx.text.to_owned(),
            source,
        })
    }

    /// RFC 9460 §2.1 and Appendix A: `key[=value]` items.
    fn parse_svc_params(ctx: &Ctx<'_>, tokens: &[Token<'_>]) -> Result<SvcParams, RDataError> {
        let mut params = SvcParams::new();
        for token in tokens {
            if token.quoted {
                return Err(ctx.bad("parameter", token.raw, "key=value"));
            }
            let (key_text, value_raw) = match token.raw.split_once('=') {
                Some((k, v)) => (k, Some(v)),
                None => (token.raw, None),
            };
            let key = svc_key_from_name(key_text).ok_or_else(|| {
                ctx.bad(
                    "parameter key",
                    key_text,
                    "mandatory, alpn, no-default-alpn, port, ipv4hint, ech, ipv6hint or keyNNNNN",
                )
            })?;
            let value_raw = value_raw.map(|v| {
                v.strip_prefix('"')
                    .and_then(|v| v.strip_suffix('"'))
                    .unwrap_or(v)
            });
            let value = match value_raw {
                Some(v) => text::unescape(v).map_err(|why| ctx.bad("parameter value", v, why))?,
                None => Vec::new(),
            };
            let shown = value_raw.unwrap_or_default();
            let bad = |expected: &str| {
                ctx.bad("parameter value", &format!("{key_text}={shown}"), expected)
            };
            let wire = match key {
                0 => {
                    let mut keys = Vec::new();
                    for item in split_value_list(&value) {
                        let name = String::from_utf8_lossy(&item);
                        keys.push(svc_key_from_name(&name).ok_or_else(|| bad("a list of keys"))?);
                    }
                    keys.sort_unstable();
                    keys.iter().flat_map(|k| k.to_be_bytes()).collect()
                }
                1 => {
                    let mut wire = Vec::new();
                    for id in split_value_list(&value) {
                        put_character_string(&mut wire, "alpn id", &id)
                            .map_err(|_| bad("protocol ids of at most 255 bytes"))?;
                    }
                    wire
                }
                2 if value_raw.is_none() => Vec::new(),
                3 => String::from_utf8_lossy(&value)
                    .parse::<u16>()
                    .map_err(|_| bad("a port number"))?
                    .to_be_bytes()
                    .to_vec(),
                4 => {
                    let mut wire = Vec::new();
                    for item in String::from_utf8_lossy(&value).split(',') {
                        let addr: Ipv4Addr = item
                            .parse()
                            .map_err(|_| bad("IPv4 addresses separated by commas"))?;
                        wire.extend_from_slice(&addr.octets());
                    }
                    wire
                }
                5 => BASE64.decode(&value).map_err(|_| bad("base64"))?,
                6 => {
                    let mut wire = Vec::new();
                    for item in String::from_utf8_lossy(&value).split(',') {
                        let addr: Ipv6Addr = item
                            .parse()
                            .map_err(|_| bad("IPv6 addresses separated by commas"))?;
                        wire.extend_from_slice(&addr.octets());
                    }
                    wire
                }
                _ => value,
            };
            check_svc_param(key, &wire).map_err(bad)?;
            if params.insert(key, wire).is_some() {
                return Err(ctx.bad("parameter key", key_text, "a key given only once"));
            }
        }
        if let Some(mandatory) = params.get(&0) {
            let missing = mandatory
                .chunks_exact(2)
                .map(|c| u16::from_be_bytes([c[0], c[1]]))
                .find(|k| !params.contains_key(k));
            if let Some(k) = missing {
                return Err(ctx.bad(
                    "mandatory key",
                    &svc_key_name(k),
                    "a key that is also present (RFC 9460 §8)",
                ));
            }
        }
        Ok(params)
    }

    /// Decodes wire-form rdata on its own (no message around it, so no compression).
    pub fn from_wire(rtype: RecordType, rdata: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(rdata);
        Self::decode(rtype, &mut r, rdata.len(), false)
    }

    /// Decodes `rdlength` bytes of rdata at the reader's position. Names may be compressed
    /// (pointing anywhere earlier in the message) only when `in_message` is set and the type
    /// is one RFC 3597 §4 lets receivers decompress: the RFC 1035 types, plus SRV and NAPTR.
    pub(crate) fn decode(
        rtype: RecordType,
        r: &mut Reader<'_>,
        rdlength: usize,
        in_message: bool,
    ) -> Result<Self, WireError> {
        let start = r.pos();
        // Claim the whole rdata from the outer reader first: this checks it is all there.
        r.bytes(rdlength, "rdata")?;
        let end = start + rdlength;
        let mut w = Reader::window(r.msg(), start, end);
        let compress = in_message
            && matches!(
                rtype,
                RecordType::Cname
                    | RecordType::Ns
                    | RecordType::Ptr
                    | RecordType::Mx
                    | RecordType::Soa
                    | RecordType::Srv
                    | RecordType::Naptr
            );
        let bad = |reason: &str| WireError::BadRdata {
            rtype: rtype.to_string(),
            offset: start,
            reason: reason.to_owned(),
        };
        let w = &mut w;
        let rdata = match rtype {
            RecordType::A => {
                let b = w.bytes(4, "A address")?;
                let mut a = [0u8; 4];
                a.copy_from_slice(b);
                Self::A(Ipv4Addr::from(a))
            }
            RecordType::Aaaa => {
                let b = w.bytes(16, "AAAA address")?;
                let mut a = [0u8; 16];
                a.copy_from_slice(b);
                Self::Aaaa(Ipv6Addr::from(a))
            }
            RecordType::Cname => Self::Cname(Name::decode(w, compress)?),
            RecordType::Ns => Self::Ns(Name::decode(w, compress)?),
            RecordType::Ptr => Self::Ptr(Name::decode(w, compress)?),
            RecordType::Dname => Self::Dname(Name::decode(w, compress)?),
            RecordType::Mx => Self::Mx {
                preference: w.u16("MX preference")?,
                exchange: Name::decode(w, compress)?,
            },
            RecordType::Srv => Self::Srv {
                priority: w.u16("SRV priority")?,
                weight: w.u16("SRV weight")?,
                port: w.u16("SRV port")?,
                target: Name::decode(w, compress)?,
            },
            RecordType::Txt => {
                let mut strings = Vec::new();
                while w.remaining() > 0 {
                    strings.push(w.character_string("TXT string")?.to_vec());
                }
                if strings.is_empty() {
                    return Err(bad("TXT needs at least one string"));
                }
                Self::Txt(strings)
            }
            RecordType::Caa => {
                let flags = w.u8("CAA flags")?;
                let tag = w.character_string("CAA tag")?;
                if tag.is_empty() || !tag.iter().all(u8::is_ascii_alphanumeric) {
                    return Err(bad("CAA tag must be letters and digits"));
                }
                Self::Caa {
                    flags,
                    tag: String::from_utf8_lossy(tag).to_ascii_lowercase(),
                    value: w.rest().to_vec(),
                }
            }
            RecordType::Sshfp => Self::Sshfp {
                algorithm: w.u8("SSHFP algorithm")?,
                fingerprint_type: w.u8("SSHFP type")?,
                fingerprint: w.rest().to_vec(),
            },
            RecordType::Tlsa => Self::Tlsa {
                usage: w.u8("TLSA usage")?,
                selector: w.u8("TLSA selector")?,
                matching_type: w.u8("TLSA matching type")?,
                data: w.rest().to_vec(),
            },
            RecordType::Naptr => Self::Naptr {
                order: w.u16("NAPTR order")?,
                preference: w.u16("NAPTR preference")?,
                flags: w.character_string("NAPTR flags")?.to_vec(),
                services: w.character_string("NAPTR services")?.to_vec(),
                regexp: w.character_string("NAPTR regexp")?.to_vec(),
                replacement: Name::decode(w, compress)?,
            },
            RecordType::Soa => Self::Soa {
                mname: Name::decode(w, compress)?,
                rname: Name::decode(w, compress)?,
                serial: w.u32("SOA serial")?,
                refresh: w.u32("SOA refresh")?,
                retry: w.u32("SOA retry")?,
                expire: w.u32("SOA expire")?,
                minimum: w.u32("SOA minimum")?,
            },
            RecordType::Svcb | RecordType::Https => {
                let priority = w.u16("SVCB priority")?;
                // RFC 9460 §2.2: the target name is never compressed.
                let target = Name::decode(w, false)?;
                let mut params = SvcParams::new();
                let mut last: Option<u16> = None;
                while w.remaining() > 0 {
                    let key = w.u16("SvcParamKey")?;
                    let len = w.u16("SvcParamValue length")?;
                    let value = w.bytes(usize::from(len), "SvcParamValue")?;
                    if last.is_some_and(|l| l >= key) {
                        return Err(bad("SvcParamKeys must be in strictly increasing order"));
                    }
                    last = Some(key);
                    check_svc_param(key, value).map_err(bad)?;
                    params.insert(key, value.to_vec());
                }
                if rtype == RecordType::Svcb {
                    Self::Svcb {
                        priority,
                        target,
                        params,
                    }
                } else {
                    Self::Https {
                        priority,
                        target,
                        params,
                    }
                }
            }
            _ => Self::Unknown {
                rtype,
                data: w.rest().to_vec(),
            },
        };
        if w.remaining() != 0 {
            return Err(bad("bytes left over after the last field"));
        }
        Ok(rdata)
    }

    /// Appends the wire form (RFC 3597 §4: names inside rdata are never compressed here).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        match self {
            Self::A(a) => out.extend_from_slice(&a.octets()),
            Self::Aaaa(a) => out.extend_from_slice(&a.octets()),
            Self::Cname(n) | Self::Ns(n) | Self::Ptr(n) | Self::Dname(n) => n.encode(out),
            Self::Mx {
                preference,
                exchange,
            } => {
                out.extend_from_slice(&preference.to_be_bytes());
                exchange.encode(out);
            }
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => {
                for v in [priority, weight, port] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
                target.encode(out);
            }
            Self::Txt(strings) => {
                for s in strings {
                    put_character_string(out, "TXT string", s)?;
                }
            }
            Self::Caa { flags, tag, value } => {
                out.push(*flags);
                put_character_string(out, "CAA tag", tag.as_bytes())?;
                out.extend_from_slice(value);
            }
            Self::Sshfp {
                algorithm,
                fingerprint_type,
                fingerprint,
            } => {
                out.extend_from_slice(&[*algorithm, *fingerprint_type]);
                out.extend_from_slice(fingerprint);
            }
            Self::Tlsa {
                usage,
                selector,
                matching_type,
                data,
            } => {
                out.extend_from_slice(&[*usage, *selector, *matching_type]);
                out.extend_from_slice(data);
            }
            Self::Naptr {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement,
            } => {
                out.extend_from_slice(&order.to_be_bytes());
                out.extend_from_slice(&preference.to_be_bytes());
                put_character_string(out, "NAPTR flags", flags)?;
                put_character_string(out, "NAPTR services", services)?;
                put_character_string(out, "NAPTR regexp", regexp)?;
                replacement.encode(out);
            }
            Self::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => {
                mname.encode(out);
                rname.encode(out);
                for v in [serial, refresh, retry, expire, minimum] {
                    out.extend_from_slice(&v.to_be_bytes());
                }
            }
            Self::Svcb {
                priority,
                target,
                params,
            }
            | Self::Https {
                priority,
                target,
                params,
            } => {
                out.extend_from_slice(&priority.to_be_bytes());
                target.encode(out);
                for (key, value) in params {
                    out.extend_from_slice(&key.to_be_bytes());
                    super::wire::with_u16_len(out, "SvcParamValue", |o| {
                        o.extend_from_slice(value);
                        Ok(())
                    })?;
                }
            }
            Self::Unknown { data, .. } => out.extend_from_slice(data),
        }
        Ok(())
    }

    /// The wire form on its own.
    pub fn to_wire(&self) -> Result<Vec<u8>, WireError> {
        let mut out = Vec::new();
        self.encode(&mut out)?;
        Ok(out)
    }
}

fn needs(rtype: RecordType) -> &'static str {
    match rtype {
        RecordType::A => "needs one IPv4 address",
        RecordType::Aaaa => "needs one IPv6 address",
        RecordType::Cname | RecordType::Ns | RecordType::Ptr | RecordType::Dname => {
            "needs one domain name"
        }
        RecordType::Mx => "needs a preference and an exchange",
        RecordType::Srv => "needs a priority, a weight, a port and a target",
        RecordType::Txt => "needs at least one string",
        RecordType::Caa => "needs flags, a tag and a value",
        RecordType::Sshfp => "needs an algorithm, a fingerprint type and a hex fingerprint",
        RecordType::Tlsa => "needs a usage, a selector, a matching type and hex data",
        RecordType::Naptr => {
            "needs an order, a preference, flags, services, a regexp and a replacement"
        }
        RecordType::Soa => "needs mname, rname, serial, refresh, retry, expire and minimum",
        RecordType::Svcb | RecordType::Https => {
            "needs a priority, a target and optional key=value parameters"
        }
        _ => "needs the generic form \\# <length> <hex>",
    }
}

fn write_svc_params(f: &mut fmt::Formatter<'_>, params: &SvcParams) -> fmt::Result {
    for (&key, value) in params {
        f.write_str(" ")?;
        f.write_str(&svc_param_text(key, value))?;
    }
    Ok(())
}

/// One parameter in presentation form; falls back to the generic `keyNNNNN="..."` form for
/// values that do not match their key's format (only possible for hand-built values).
fn svc_param_text(key: u16, value: &[u8]) -> String {
    let generic = |key: u16| format!("key{key}={}", text::quoted(value));
    if check_svc_param(key, value).is_err() {
        return generic(key);
    }
    let name = svc_key_name(key);
    match key {
        0 => {
            let keys: Vec<String> = value
                .chunks_exact(2)
                .map(|c| svc_key_name(u16::from_be_bytes([c[0], c[1]])))
                .collect();
            format!("{name}={}", keys.join(","))
        }
        1 => {
            let mut r = Reader::new(value);
            let mut list = Vec::new();
            while let Ok(id) = r.character_string("alpn id") {
                let mut item = Vec::new();
                for &b in id {
                    if b == b',' || b == b'\\' {
                        item.push(b'\\');
                    }
                    item.push(b);
                }
                list.push(item);
            }
            format!("{name}={}", text::quoted(&list.join(&b","[..])))
        }
        2 => name,
        3 => format!("{name}={}", u16::from_be_bytes([value[0], value[1]])),
        4 => {
            let addrs: Vec<String> = value
                .chunks_exact(4)
                .map(|c| Ipv4Addr::new(c[0], c[1], c[2], c[3]).to_string())
                .collect();
            format!("{name}={}", addrs.join(","))
        }
        5 => format!("{name}={}", BASE64.encode(value)),
        6 => {
            let addrs: Vec<String> = value
                .chunks_exact(16)
                .map(|c| {
                    let mut a = [0u8; 16];
                    a.copy_from_slice(c);
                    Ipv6Addr::from(a).to_string()
                })
                .collect();
            format!("{name}={}", addrs.join(","))
        }
        _ if value.is_empty() => name,
        _ => format!("{name}={}", text::quoted(value)),
    }
}

impl fmt::Display for RData {
    /// The normalised presentation form: names lower-case and absolute, IPv6 compressed,
    /// strings quoted with escapes normalised, hex lower-case without spaces, SVCB
    /// parameters in key order, numbers in plain decimal.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::A(a) => write!(f, "{a}"),
            Self::Aaaa(a) => write!(f, "{a}"),
            Self::Cname(n) | Self::Ns(n) | Self::Ptr(n) | Self::Dname(n) => write!(f, "{n}"),
            Self::Mx {
                preference,
                exchange,
            } => write!(f, "{preference} {exchange}"),
            Self::Srv {
                priority,
                weight,
                port,
                target,
            } => write!(f, "{priority} {weight} {port} {target}"),
            Self::Txt(strings) => {
                let parts: Vec<String> = strings.iter().map(|s| text::quoted(s)).collect();
                f.write_str(&parts.join(" "))
            }
            Self::Caa { flags, tag, value } => {
                write!(f, "{flags} {tag} {}", text::quoted(value))
            }
            Self::Sshfp {
                algorithm,
                fingerprint_type,
                fingerprint,
            } => write!(
                f,
                "{algorithm} {fingerprint_type} {}",
                text::hex(fingerprint)
            ),
            Self::Tlsa {
                usage,
                selector,
                matching_type,
                data,
            } => write!(f, "{usage} {selector} {matching_type} {}", text::hex(data)),
            Self::Naptr {
                order,
                preference,
                flags,
                services,
                regexp,
                replacement,
            } => write!(
                f,
                "{order} {preference} {} {} {} {replacement}",
                text::quoted(flags),
                text::quoted(services),
                text::quoted(regexp)
            ),
            Self::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            } => write!(
                f,
                "{mname} {rname} {serial} {refresh} {retry} {expire} {minimum}"
            ),
            Self::Svcb {
                priority,
                target,
                params,
            }
            | Self::Https {
                priority,
                target,
                params,
            } => {
                write!(f, "{priority} {target}")?;
                write_svc_params(f, params)
            }
            Self::Unknown { data, .. } if data.is_empty() => f.write_str("\\# 0"),
            Self::Unknown { data, .. } => write!(f, "\\# {} {}", data.len(), text::hex(data)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn origin() -> Name {
        "farm.".parse().unwrap()
    }

    fn parse(rtype: &str, text: &str) -> RData {
        RData::parse(rtype.parse().unwrap(), text, &origin()).unwrap()
    }

    /// presentation -> RData -> wire -> RData -> presentation, and the generic form too.
    fn round_trip(rtype: &str, text: &str, expected: &str) {
        let t: RecordType = rtype.parse().unwrap();
        let rdata = parse(rtype, text);
        assert_eq!(rdata.record_type(), t);
        assert_eq!(rdata.to_string(), expected, "{rtype} {text}");
        let wire = rdata.to_wire().unwrap();
        let back = RData::from_wire(t, &wire).unwrap();
        assert_eq!(back, rdata, "{rtype} {text}");
        assert_eq!(back.to_string(), expected);
        let reparsed = RData::parse(t, expected, &Name::root()).unwrap();
        assert_eq!(reparsed, rdata, "normalised form parses to the same value");
        let generic = format!("\\# {} {}", wire.len(), text::hex(&wire));
        assert_eq!(RData::parse(t, &generic, &origin()).unwrap(), rdata);
    }

    #[test]
    fn round_trips_every_type() {
        round_trip("A", "192.0.2.1", "192.0.2.1");
        round_trip("AAAA", "2001:DB8:0:0::1", "2001:db8::1");
        round_trip("CNAME", "WWW", "www.farm.");
        round_trip("NS", "ns1.Farm.", "ns1.farm.");
        round_trip("PTR", "host.farm.", "host.farm.");
        round_trip("DNAME", "other.example.", "other.example.");
        round_trip("MX", "010 MAIL.Farm.", "10 mail.farm.");
        round_trip("SRV", "10 5 5060 sip", "10 5 5060 sip.farm.");
        round_trip("TXT", "hello", "\"hello\"");
        round_trip("TXT", r#""a" "b""#, r#""a" "b""#);
        round_trip(
            "TXT",
            r#""say \"hi\"\059 \\ \195\169""#,
            r#""say \"hi\"; \\ \195\169""#,
        );
        round_trip("TXT", r#""""#, r#""""#);
        round_trip(
            "CAA",
            "0 ISSUE letsencrypt.org",
            "0 issue \"letsencrypt.org\"",
        );
        round_trip(
            "CAA",
            "128 iodef \"mailto:sec@farm.example\"",
            "128 iodef \"mailto:sec@farm.example\"",
        );
        round_trip("SSHFP", "4 2 ABCD EF01", "4 2 abcdef01");
        round_trip("TLSA", "3 1 1 0A0B0c0d", "3 1 1 0a0b0c0d");
        round_trip(
            "NAPTR",
            r#"100 10 "u" "E2U+sip" "!^.*$!sip:info@farm.example!" ."#,
            r#"100 10 "u" "E2U+sip" "!^.*$!sip:info@farm.example!" ."#,
        );
        round_trip(
            "SOA",
            "ns1 hostmaster 2024010101 2h 1H 2w 300",
            "ns1.farm. hostmaster.farm. 2024010101 7200 3600 1209600 300",
        );
        round_trip("SVCB", "0 svc.farm.example.", "0 svc.farm.example.");
        round_trip(
            "HTTPS",
            "1 . port=8443 alpn=h3,h2 ipv6hint=2001:DB8::1,2001:db8::2 ipv4hint=192.0.2.1 \
             no-default-alpn mandatory=port,alpn key65000=\"x y\" ech=AAEC",
            "1 . mandatory=alpn,port alpn=\"h3,h2\" no-default-alpn port=8443 \
             ipv4hint=192.0.2.1 ech=AAEC ipv6hint=2001:db8::1,2001:db8::2 key65000=\"x y\"",
        );
        round_trip(
            "SVCB",
            "1 svc key1=h2 key3=53",
            "1 svc.farm. alpn=\"h2\" port=53",
        );
        round_trip("TYPE65280", "\\# 3 abcdef", "\\# 3 abcdef");
        round_trip("TYPE65280", "\\# 0", "\\# 0");
    }

    #[test]
    fn normalisation_makes_spellings_equal() {
        assert_eq!(
            parse("AAAA", "2001:DB8:0:0::1"),
            parse("AAAA", "2001:db8::1")
        );
        assert_eq!(parse("MX", "10 MAIL.Farm."), parse("MX", "10 mail.farm."));
        assert_eq!(parse("MX", "10 mail"), parse("MX", "10 mail.farm."));
        assert_eq!(parse("TXT", r#""a" "b""#), parse("TXT", "a b"));
        assert_ne!(parse("TXT", r#""a" "b""#), parse("TXT", "ab"));
        assert_eq!(parse("TXT", r"\097"), parse("TXT", "a"));
        assert_eq!(
            parse("CAA", "0 Issue \"ca.example\""),
            parse("CAA", "0 issue ca.example")
        );
        assert_eq!(parse("SSHFP", "1 1 AB cd"), parse("SSHFP", "1 1 abcd"));
        assert_eq!(
            parse("HTTPS", "1 . port=443 alpn=h2"),
            parse("HTTPS", "1 . alpn=\"h2\" port=\"443\"")
        );
        assert_eq!(parse("A", "\\# 4 C0000201"), parse("A", "192.0.2.1"));
    }

    #[test]
    fn txt_long_strings_are_chunked() {
        let long = "x".repeat(300);
        let rdata = parse("TXT", &long);
        let RData::Txt(strings) = &rdata else {
            panic!("not TXT")
        };
        assert_eq!(strings.len(), 2);
        assert_eq!(strings[0].len(), 255);
        assert_eq!(strings[1].len(), 45);
        assert_eq!(
            rdata.to_string(),
            format!("\"{}\" \"{}\"", "x".repeat(255), "x".repeat(45))
        );
        // The chunked form parses back to the same record.
        assert_eq!(parse("TXT", &rdata.to_string()), rdata);
    }

    #[test]
    fn svcb_alpn_value_list_escapes() {
        // RFC 9460 Appendix D.2, figure 9: alpn ids "f\oo,bar" and "h2".
        let rdata = parse("SVCB", r#"16 foo.example.org. alpn="f\\\\oo\\,bar,h2""#);
        let RData::Svcb { params, .. } = &rdata else {
            panic!("not SVCB")
        };
        assert_eq!(params[&1], b"\x08f\\oo,bar\x02h2");
        assert_eq!(parse("SVCB", &rdata.to_string()), rdata);
        // RFC 9460 Appendix D.1, figure 2: AliasMode wire form.
        let alias = parse("SVCB", "0 foo.example.com.");
        assert_eq!(
            alias.to_wire().unwrap(),
            b"\x00\x00\x03foo\x07example\x03com\x00"
        );
        // RFC 9460 Appendix D.2, figure 4: one key with a port.
        let port = parse("SVCB", "16 foo.example.com. port=53");
        assert_eq!(
            port.to_wire().unwrap(),
            b"\x00\x10\x03foo\x07example\x03com\x00\x00\x03\x00\x02\x00\x35"
        );
    }

    #[test]
    fn svcb_rejects_bad_params() {
        let o = origin();
        for bad in [
            "1 . mandatory=port",
            "1 . port=x",
            "1 . port=1 port=2",
            "1 . nope=1",
            "1 . key65535=1",
            "1 . ipv4hint=::1",
            "1 . no-default-alpn=x",
            "1 . alpn=",
            "1 . mandatory=mandatory",
            "1",
        ] {
            assert!(RData::parse(RecordType::Svcb, bad, &o).is_err(), "{bad}");
        }
        // Keys out of order on the wire.
        let wire = b"\x00\x01\x00\x00\x03\x00\x02\x00\x35\x01\x00\x03\x02h2";
        assert!(RData::from_wire(RecordType::Svcb, wire).is_err());
    }

    #[test]
    fn errors_speak_in_user_terms() {
        let o = origin();
        let err = RData::parse(RecordType::Mx, "mail.farm.", &o).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"MX rdata "mail.farm." needs a preference and an exchange, e.g. "10 mail.farm.""#
        );
        let err = RData::parse(RecordType::Mx, "70000 mail.farm.", &o).unwrap_err();
        assert_eq!(
            err.to_string(),
            r#"MX rdata "70000 mail.farm." has preference "70000", which is not a 16-bit unsigned number"#
        );
        let err = RData::parse(RecordType::A, "2001:db8::1", &o).unwrap_err();
        assert!(err.to_string().contains("not an IPv4 address"), "{err}");
        let err = RData::parse(RecordType::Cname, "a..b", &o).unwrap_err();
        assert!(matches!(err, RDataError::BadName { .. }));
        assert!(RData::parse(RecordType::Txt, "", &o).is_err());
        assert!(RData::parse(RecordType::Txt, "\"open", &o).is_err());
        assert!(RData::parse(RecordType::Sshfp, "1 1 abc", &o).is_err());
        assert!(RData::parse(RecordType::Caa, "0 is-sue x", &o).is_err());
        assert!(RData::parse(RecordType::A, "\\# 3 c00002", &o).is_err());
        assert!(RData::parse(RecordType::A, "\\# 4 c00002", &o).is_err());
        assert!(RData::parse(RecordType::Unknown(65280), "abc", &o).is_err());
        assert!(matches!(
            RData::parse(RecordType::Axfr, "x", &o),
            Err(RDataError::MetaType { .. })
        ));
        assert!(RData::parse(RecordType::Soa, "a b 1 2 3 4 5x", &o).is_err());
    }

    #[test]
    fn record_types() {
        assert_eq!("mx".parse::<RecordType>().unwrap(), RecordType::Mx);
        assert_eq!("TYPE15".parse::<RecordType>().unwrap(), RecordType::Mx);
        assert_eq!(
            "type123".parse::<RecordType>().unwrap(),
            RecordType::Unknown(123)
        );
        assert_eq!(RecordType::Unknown(123).to_string(), "TYPE123");
        assert_eq!(RecordType::Unknown(15), RecordType::Mx);
        assert_eq!(RecordType::from(65).to_string(), "HTTPS");
        assert_eq!(RecordType::Caa.code(), 257);
        assert!("TYPE".parse::<RecordType>().is_err());
        assert!("TYPE70000".parse::<RecordType>().is_err());
        assert!("BOGUS".parse::<RecordType>().is_err());
        assert!(RecordType::Axfr.is_meta());
        assert!(RecordType::Opt.is_meta());
        assert!(!RecordType::Caa.is_meta());
        for (t, code, name) in TYPES {
            assert_eq!(t.code(), *code);
            assert_eq!(RecordType::from(*code).to_string(), *name);
        }
    }

    #[test]
    fn wire_decoding_is_strict() {
        assert!(RData::from_wire(RecordType::A, &[1, 2, 3]).is_err());
        assert!(RData::from_wire(RecordType::A, &[1, 2, 3, 4, 5]).is_err());
        assert!(RData::from_wire(RecordType::Txt, &[]).is_err());
        assert!(RData::from_wire(RecordType::Txt, &[5, b'a']).is_err());
        assert!(RData::from_wire(RecordType::Mx, &[0, 10, 0xC0, 0]).is_err());
        // RFC 1035 §3.3.14: one string.
        assert_eq!(
            RData::from_wire(RecordType::Txt, b"\x02hi").unwrap(),
            RData::Txt(vec![b"hi".to_vec()])
        );
    }
}
