//! DNS messages (RFC 1035 §4.1): header, question and resource-record sections, with EDNS(0)
//! (RFC 6891) and the TSIG record (RFC 8945) taken out of the additional section.

use std::fmt;

use super::name::Name;
use super::rdata::{RData, RecordType};
use super::wire::{Reader, WireError, with_u16_len};

/// Size of the fixed header (RFC 1035 §4.1.1).
pub const HEADER_LEN: usize = 12;
/// Bytes every resource record has besides its owner name and rdata: type, class, TTL,
/// rdlength (RFC 1035 §4.1.3). Used to bound pre-allocation from untrusted counts.
const RR_FIXED_LEN: usize = 10;

/// A CLASS value (RFC 1035 §3.2.4, RFC 2136 §1.3 for NONE).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Class(pub u16);

impl Class {
    /// The Internet.
    pub const IN: Self = Self(1);
    /// Chaos.
    pub const CH: Self = Self(3);
    /// Hesiod.
    pub const HS: Self = Self(4);
    /// NONE, used by UPDATE (RFC 2136 §2.4.3, §2.5.4).
    pub const NONE: Self = Self(254);
    /// ANY, `*` (RFC 1035 §3.2.5).
    pub const ANY: Self = Self(255);
}

impl fmt::Display for Class {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Self::IN => f.write_str("IN"),
            Self::CH => f.write_str("CH"),
            Self::HS => f.write_str("HS"),
            Self::NONE => f.write_str("NONE"),
            Self::ANY => f.write_str("ANY"),
            Self(other) => write!(f, "CLASS{other}"),
        }
    }
}

/// The OPCODE header field (RFC 1035 §4.1.1, RFC 1996, RFC 2136).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Opcode(pub u8);

impl Opcode {
    /// A standard query.
    pub const QUERY: Self = Self(0);
    /// A zone change notification (RFC 1996).
    pub const NOTIFY: Self = Self(4);
    /// A dynamic update (RFC 2136).
    pub const UPDATE: Self = Self(5);
}

/// A response code, including the extended bits carried by OPT (RFC 6891 §6.1.3) and
/// the TSIG error field (RFC 8945 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Rcode(pub u16);

impl Rcode {
    /// No error.
    pub const NOERROR: Self = Self(0);
    /// The server could not interpret the message.
    pub const FORMERR: Self = Self(1);
    /// The server failed.
    pub const SERVFAIL: Self = Self(2);
    /// The name does not exist.
    pub const NXDOMAIN: Self = Self(3);
    /// Not implemented.
    pub const NOTIMP: Self = Self(4);
    /// Refused by policy.
    pub const REFUSED: Self = Self(5);
    /// A name exists that should not (RFC 2136).
    pub const YXDOMAIN: Self = Self(6);
    /// An RRset exists that should not (RFC 2136).
    pub const YXRRSET: Self = Self(7);
    /// An RRset that should exist does not (RFC 2136).
    pub const NXRRSET: Self = Self(8);
    /// Not authoritative, or not authorised (RFC 2136, RFC 8945).
    pub const NOTAUTH: Self = Self(9);
    /// A name is outside the zone (RFC 2136).
    pub const NOTZONE: Self = Self(10);
    /// Bad EDNS version (RFC 6891); as a TSIG error, BADSIG (RFC 8945).
    pub const BADVERS: Self = Self(16);
    /// TSIG: the MAC does not verify (RFC 8945).
    pub const BADSIG: Self = Self(16);
    /// TSIG: the key is not recognised (RFC 8945).
    pub const BADKEY: Self = Self(17);
    /// TSIG: the time signed is outside the fudge (RFC 8945).
    pub const BADTIME: Self = Self(18);
    /// TSIG: the MAC is truncated too much (RFC 8945).
    pub const BADTRUNC: Self = Self(22);
    /// Bad or missing server cookie (RFC 7873).
    pub const BADCOOKIE: Self = Self(23);
}

impl fmt::Display for Rcode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let name = match self.0 {
            0 => "NOERROR",
            1 => "FORMERR",
            2 => "SERVFAIL",
            3 => "NXDOMAIN",
            4 => "NOTIMP",
            5 => "REFUSED",
            6 => "YXDOMAIN",
            7 => "YXRRSET",
            8 => "NXRRSET",
            9 => "NOTAUTH",
            10 => "NOTZONE",
            16 => "BADVERS/BADSIG",
            17 => "BADKEY",
            18 => "BADTIME",
            22 => "BADTRUNC",
            23 => "BADCOOKIE",
            other => return write!(f, "RCODE{other}"),
        };
        f.write_str(name)
    }
}

/// The fixed header (RFC 1035 §4.1.1, AD and CD from RFC 4035 §3.2). Section counts are
/// not kept: they follow from the sections when encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Header {
    /// Transaction ID.
    pub id: u16,
    /// Set in responses.
    pub qr: bool,
    /// Kind of message.
    pub opcode: Opcode,
    /// Authoritative answer.
    pub aa: bool,
    /// Truncated: retry over TCP.
    pub tc: bool,
    /// Recursion desired.
    pub rd: bool,
    /// Recursion available.
    pub ra: bool,
    /// Authentic data.
    pub ad: bool,
    /// Checking disabled.
    pub cd: bool,
    /// The low four bits of the response code.
    pub rcode: u8,
}

impl Default for Opcode {
    fn default() -> Self {
        Self::QUERY
    }
}

impl Header {
    fn flags(&self) -> u16 {
        u16::from(self.qr) << 15
            | u16::from(self.opcode.0 & 0x0F) << 11
            | u16::from(self.aa) << 10
            | u16::from(self.tc) << 9
            | u16::from(self.rd) << 8
            | u16::from(self.ra) << 7
            | u16::from(self.ad) << 5
            | u16::from(self.cd) << 4
            | u16::from(self.rcode & 0x0F)
    }

    fn from_flags(id: u16, flags: u16) -> Self {
        let bit = |n: u16| flags & (1 << n) != 0;
        Self {
            id,
            qr: bit(15),
            opcode: Opcode(((flags >> 11) & 0x0F) as u8),
            aa: bit(10),
            tc: bit(9),
            rd: bit(8),
            ra: bit(7),
            ad: bit(5),
            cd: bit(4),
            rcode: (flags & 0x0F) as u8,
        }
    }

    /// Appends the 12-byte header with the given section counts.
    pub(crate) fn encode(&self, out: &mut Vec<u8>, counts: [u16; 4]) {
        out.extend_from_slice(&self.id.to_be_bytes());
        out.extend_from_slice(&self.flags().to_be_bytes());
        for c in counts {
            out.extend_from_slice(&c.to_be_bytes());
        }
    }
}

/// An entry of the question section (RFC 1035 §4.1.2); in UPDATE, the zone (RFC 2136 §2.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Question {
    /// The name asked about.
    pub name: Name,
    /// The type asked for.
    pub qtype: RecordType,
    /// The class asked for.
    pub qclass: Class,
}

/// A resource record (RFC 1035 §4.1.3).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Record {
    /// Owner name.
    pub name: Name,
    /// Class; IN for zone data.
    pub class: Class,
    /// Time to live, seconds.
    pub ttl: u32,
    /// Record type; matches `rdata.record_type()` except for the empty rdata UPDATE uses.
    pub rtype: RecordType,
    /// The data.
    pub rdata: RData,
}

impl Record {
    /// An IN-class record; the type is taken from the rdata.
    pub fn new(name: Name, ttl: u32, rdata: RData) -> Self {
        Self {
            name,
            class: Class::IN,
            ttl,
            rtype: rdata.record_type(),
            rdata,
        }
    }

    /// Appends the wire form, uncompressed (RFC 1035 §4.1.3).
    pub fn encode(&self, out: &mut Vec<u8>) -> Result<(), WireError> {
        encode_rr(out, &self.name, self.rtype, self.class, self.ttl, |o| {
            self.rdata.encode(o)
        })
    }
}

impl fmt::Display for Record {
    /// Zone-file form: `name ttl class type rdata`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} {} {} {} {}",
            self.name, self.ttl, self.class, self.rtype, self.rdata
        )
    }
}

/// Appends one resource record whose rdata `body` writes.
pub(crate) fn encode_rr(
    out: &mut Vec<u8>,
    name: &Name,
    rtype: RecordType,
    class: Class,
    ttl: u32,
    body: impl FnOnce(&mut Vec<u8>) -> Result<(), WireError>,
) -> Result<(), WireError> {
    name.encode(out);
    out.extend_from_slice(&rtype.code().to_be_bytes());
    out.extend_from_slice(&class.0.to_be_bytes());
    out.extend_from_slice(&ttl.to_be_bytes());
    with_u16_len(out, "rdata", body)
}

/// EDNS(0) parameters from the OPT pseudo-record (RFC 6891 §6.1.2, §6.1.3).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Edns {
    /// Largest UDP payload the sender can reassemble.
    pub udp_size: u16,
    /// The upper eight bits of the extended response code.
    pub extended_rcode: u8,
    /// EDNS version; 0.
    pub version: u8,
    /// DNSSEC OK.
    pub dnssec_ok: bool,
    /// Options, in wire form.
    pub options: Vec<u8>,
}

impl Edns {
    /// Version 0 with this UDP payload size and no options.
    pub fn new(udp_size: u16) -> Self {
        Self {
            udp_size,
            extended_rcode: 0,
            version: 0,
            dnssec_ok: false,
            options: Vec::new(),
        }
    }
}

/// The TSIG pseudo-record's fields (RFC 8945 §4.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TsigRecord {
    /// The key's name (the record's owner).
    pub key_name: Name,
    /// The algorithm's name, e.g. `hmac-sha256.`.
    pub algorithm: Name,
    /// Seconds since the epoch, 48 bits.
    pub time_signed: u64,
    /// Allowed clock difference, seconds.
    pub fudge: u16,
    /// The MAC; empty on some errors.
    pub mac: Vec<u8>,
    /// The ID of the message as first signed.
    pub original_id: u16,
    /// TSIG error (BADSIG, BADKEY, BADTIME, BADTRUNC) or 0.
    pub error: Rcode,
    /// Other data: the server's time on BADTIME.
    pub other: Vec<u8>,
}

/// A decoded message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Message {
    /// The header.
    pub header: Header,
    /// The question (zone, for UPDATE) section.
    pub questions: Vec<Question>,
    /// The answer (prerequisite, for UPDATE) section.
    pub answers: Vec<Record>,
    /// The authority (update, for UPDATE) section.
    pub authority: Vec<Record>,
    /// The additional section, without OPT and TSIG.
    pub additional: Vec<Record>,
    /// EDNS(0), when the message has an OPT record.
    pub edns: Option<Edns>,
    /// The TSIG record, when the message is signed.
    pub tsig: Option<TsigRecord>,
    /// Offset of the TSIG record: the signed part of the message ends there.
    tsig_offset: Option<usize>,
}

impl Message {
    /// A query for `name`/`qtype` in class IN with a fresh header (recursion not desired,
    /// as rack talks to authoritative servers). Works for AXFR, IXFR, SOA and any type.
    pub fn query(id: u16, name: Name, qtype: RecordType) -> Self {
        Self {
            header: Header {
                id,
                ..Header::default()
            },
            questions: vec![Question {
                name,
                qtype,
                qclass: Class::IN,
            }],
            ..Self::default()
        }
    }

    /// The full response code: the header's four bits with the OPT record's upper eight
    /// (RFC 6891 §6.1.3).
    pub fn rcode(&self) -> Rcode {
        let upper = self
            .edns
            .as_ref()
            .map_or(0, |e| u16::from(e.extended_rcode));
        Rcode(upper << 4 | u16::from(self.header.rcode & 0x0F))
    }

    /// Where the TSIG record starts in the bytes this message was parsed from.
    pub(crate) fn tsig_offset(&self) -> Option<usize> {
        self.tsig_offset
    }

    /// Encodes the message (RFC 1035 §4.1) with an OPT record if `edns` is set. Names are
    /// not compressed. A `tsig` field is not encoded: signing appends it (see `tsig`).
    pub fn to_bytes(&self) -> Result<Vec<u8>, WireError> {
        let count = |n: usize, what: &'static str| {
            u16::try_from(n).map_err(|_| WireError::TooLong {
                what,
                len: n,
                max: usize::from(u16::MAX),
            })
        };
        let extra = usize::from(self.edns.is_some());
        let counts = [
            count(self.questions.len(), "question section")?,
            count(self.answers.len(), "answer section")?,
            count(self.authority.len(), "authority section")?,
            count(self.additional.len() + extra, "additional section")?,
        ];
        let header = self.header;
        let mut out = Vec::with_capacity(512);
        header.encode(&mut out, counts);
        for q in &self.questions {
            q.name.encode(&mut out);
            out.extend_from_slice(&q.qtype.code().to_be_bytes());
            out.extend_from_slice(&q.qclass.0.to_be_bytes());
        }
        for rr in self
            .answers
            .iter()
            .chain(&self.authority)
            .chain(&self.additional)
        {
            rr.encode(&mut out)?;
        }
        if let Some(edns) = &self.edns {
            let ttl = u32::from(edns.extended_rcode) << 24
                | u32::from(edns.version) << 16
                | u32::from(edns.dnssec_ok) << 15;
            encode_rr(
                &mut out,
                &Name::root(),
                RecordType::Opt,
                Class(edns.udp_size),
                ttl,
                |o| {
                    o.extend_from_slice(&edns.options);
                    Ok(())
                },
            )?;
        }
        Ok(out)
    }

    /// Parses a whole message. Never panics: every read is bounds-checked, compression
    /// pointers must point backwards, and trailing bytes are an error.
    pub fn parse(bytes: &[u8]) -> Result<Self, WireError> {
        let mut r = Reader::new(bytes);
        let id = r.u16("header ID")?;
        let flags = r.u16("header flags")?;
        let qdcount = r.u16("QDCOUNT")?;
        let ancount = r.u16("ANCOUNT")?;
        let nscount = r.u16("NSCOUNT")?;
        let arcount = r.u16("ARCOUNT")?;
        let mut msg = Self {
            header: Header::from_flags(id, flags),
            ..Self::default()
        };
        let cap = |count: u16, r: &Reader<'_>| usize::from(count).min(r.remaining() / 4);
        msg.questions.reserve(cap(qdcount, &r));
        for _ in 0..qdcount {
            let name = Name::decode(&mut r, true)?;
            let qtype = RecordType::from(r.u16("QTYPE")?);
            let qclass = Class(r.u16("QCLASS")?);
            msg.questions.push(Question {
                name,
                qtype,
                qclass,
            });
        }
        let rr_cap =
            |count: u16, r: &Reader<'_>| usize::from(count).min(r.remaining() / (RR_FIXED_LEN + 1));
        msg.answers.reserve(rr_cap(ancount, &r));
        for _ in 0..ancount {
            let rr = read_rr(&mut r)?;
            msg.answers.push(rr.into_record()?);
        }
        msg.authority.reserve(rr_cap(nscount, &r));
        for _ in 0..nscount {
            let rr = read_rr(&mut r)?;
            msg.authority.push(rr.into_record()?);
        }
        for i in 0..arcount {
            let start = r.pos();
            let rr = read_rr(&mut r)?;
            match rr.rtype {
                RecordType::Opt => {
                    if msg.edns.is_some() || !rr.name.is_root() {
                        return Err(WireError::MisplacedRecord { what: "OPT" });
                    }
                    msg.edns = Some(Edns {
                        udp_size: rr.class.0,
                        extended_rcode: (rr.ttl >> 24) as u8,
                        version: (rr.ttl >> 16) as u8,
                        dnssec_ok: rr.ttl & 0x8000 != 0,
                        options: rr.rdata_bytes(bytes).to_vec(),
                    });
                }
                RecordType::Tsig => {
                    // RFC 8945 §5.1: the TSIG record is the last one in the message.
                    if i + 1 != arcount {
                        return Err(WireError::MisplacedRecord { what: "TSIG" });
                    }
                    msg.tsig = Some(read_tsig(bytes, &rr)?);
                    msg.tsig_offset = Some(start);
                }
                _ => msg.additional.push(rr.into_record()?),
            }
        }
        // A TSIG or OPT record anywhere but the additional section is malformed.
        let misplaced = msg
            .answers
            .iter()
            .chain(&msg.authority)
            .find(|rr| matches!(rr.rtype, RecordType::Tsig | RecordType::Opt));
        if let Some(rr) = misplaced {
            return Err(WireError::MisplacedRecord {
                what: if rr.rtype == RecordType::Tsig {
                    "TSIG"
                } else {
                    "OPT"
                },
            });
        }
        if r.remaining() > 0 {
            return Err(WireError::TrailingBytes {
                count: r.remaining(),
            });
        }
        Ok(msg)
    }
}

/// A record as read, rdata not yet decoded.
struct RawRecord<'a> {
    name: Name,
    rtype: RecordType,
    class: Class,
    ttl: u32,
    rdata_start: usize,
    rdlength: usize,
    msg: &'a [u8],
}

impl RawRecord<'_> {
    fn rdata_bytes<'b>(&self, msg: &'b [u8]) -> &'b [u8] {
        msg.get(self.rdata_start..self.rdata_start + self.rdlength)
            .unwrap_or_default()
    }

    /// Decodes the rdata. Class ANY or NONE with no rdata is UPDATE's "no value" (RFC 2136
    /// §2.4.1, §2.5.2): kept as empty `Unknown` rdata. Other classes than IN, NONE and ANY
    /// keep their rdata opaque, since type formats are defined per class.
    fn into_record(self) -> Result<Record, WireError> {
        let typed = matches!(self.class, Class::IN | Class::NONE | Class::ANY);
        let rdata =
            if (self.rdlength == 0 && matches!(self.class, Class::ANY | Class::NONE)) || !typed {
                RData::Unknown {
                    rtype: self.rtype,
                    data: self.rdata_bytes(self.msg).to_vec(),
                }
            } else {
                let mut r = Reader::window(self.msg, self.rdata_start, self.msg.len());
                RData::decode(self.rtype, &mut r, self.rdlength, true)?
            };
        Ok(Record {
            name: self.name,
            class: self.class,
            ttl: self.ttl,
            rtype: self.rtype,
            rdata,
        })
    }
}

fn read_rr<'a>(r: &mut Reader<'a>) -> Result<RawRecord<'a>, WireError> {
    let name = Name::decode(r, true)?;
    let rtype = RecordType::from(r.u16("TYPE")?);
    let class = Class(r.u16("CLASS")?);
    let ttl = r.u32("TTL")?;
    let rdlength = usize::from(r.u16("RDLENGTH")?);
    let rdata_start = r.pos();
    r.bytes(rdlength, "RDATA")?;
    Ok(RawRecord {
        name,
        rtype,
        class,
        ttl,
        rdata_start,
        rdlength,
        msg: r.msg(),
    })
}

/// RFC 8945 §4.2: the TSIG rdata. The algorithm name is never compressed.
fn read_tsig(msg: &[u8], rr: &RawRecord<'_>) -> Result<TsigRecord, WireError> {
    let mut r = Reader::window(msg, rr.rdata_start, rr.rdata_start + rr.rdlength);
    let algorithm = Name::decode(&mut r, false)?;
    let time_signed = r.u48("TSIG time signed")?;
    let fudge = r.u16("TSIG fudge")?;
    let mac_len = r.u16("TSIG MAC size")?;
    let mac = r.bytes(usize::from(mac_len), "TSIG MAC")?.to_vec();
    let original_id = r.u16("TSIG original ID")?;
    let error = Rcode(r.u16("TSIG error")?);
    let other_len = r.u16("TSIG other length")?;
    let other = r.bytes(usize::from(other_len), "TSIG other data")?.to_vec();
    if r.remaining() != 0 {
        return Err(WireError::BadRdata {
            rtype: "TSIG".to_owned(),
            offset: rr.rdata_start,
            reason: "bytes left over after the last field".to_owned(),
        });
    }
    Ok(TsigRecord {
        key_name: rr.name.clone(),
        algorithm,
        time_signed,
        fudge,
        mac,
        original_id,
        error,
        other,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    #[test]
    fn query_wire_form() {
        let mut q = Message::query(0x1234, n("farm."), RecordType::Axfr);
        let bytes = q.to_bytes().unwrap();
        assert_eq!(
            bytes,
            b"\x12\x34\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x04farm\x00\x00\xfc\x00\x01"
        );
        q.header.rd = true;
        q.edns = Some(Edns::new(1232));
        let bytes = q.to_bytes().unwrap();
        let back = Message::parse(&bytes).unwrap();
        assert_eq!(back, q);
        assert_eq!(back.edns.as_ref().unwrap().udp_size, 1232);
    }

    /// A response as a server writes it, with compression pointers to the question.
    fn compressed_response() -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(b"\xab\xcd\x84\x00\x00\x01\x00\x03\x00\x00\x00\x00");
        m.extend_from_slice(b"\x04farm\x00\x00\x0f\x00\x01"); // farm. MX IN at 12
        // farm. MX 10 mail.farm. ; owner pointer to 12, exchange "mail" + pointer to 12
        m.extend_from_slice(
            b"\xc0\x0c\x00\x0f\x00\x01\x00\x00\x0e\x10\x00\x09\x00\x0a\x04mail\xc0\x0c",
        );
        // mail.farm. A 192.0.2.1 ; owner pointer to "mail" label at 12+10+12+2 = 36
        m.extend_from_slice(b"\xc0\x24\x00\x01\x00\x01\x00\x00\x0e\x10\x00\x04\xc0\x00\x02\x01");
        // farm. SOA with both names compressed
        m.extend_from_slice(b"\xc0\x0c\x00\x06\x00\x01\x00\x00\x0e\x10\x00\x1f");
        m.extend_from_slice(b"\x03ns1\xc0\x0c\x02hm\xc0\x0c");
        m.extend_from_slice(&[0, 0, 0, 1, 0, 0, 0, 2, 0, 0, 0, 3, 0, 0, 0, 4, 0, 0, 0, 5]);
        m
    }

    #[test]
    fn parses_compressed_response() {
        let msg = Message::parse(&compressed_response()).unwrap();
        assert!(msg.header.qr && msg.header.aa);
        assert_eq!(msg.header.id, 0xabcd);
        assert_eq!(msg.rcode(), Rcode::NOERROR);
        let lines: Vec<String> = msg.answers.iter().map(ToString::to_string).collect();
        assert_eq!(
            lines,
            [
                "farm. 3600 IN MX 10 mail.farm.",
                "mail.farm. 3600 IN A 192.0.2.1",
                "farm. 3600 IN SOA ns1.farm. hm.farm. 1 2 3 4 5",
            ]
        );
    }

    #[test]
    fn extended_rcode_from_opt() {
        let mut m = Message::query(1, n("farm."), RecordType::Soa);
        m.header.qr = true;
        m.header.rcode = 0;
        let mut edns = Edns::new(4096);
        edns.extended_rcode = 1; // 16: BADVERS
        m.edns = Some(edns);
        let back = Message::parse(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back.rcode(), Rcode::BADVERS);
        assert_eq!(back.rcode().to_string(), "BADVERS/BADSIG");
    }

    #[test]
    fn rejects_malformed() {
        let good = compressed_response();
        // Every truncation fails cleanly.
        for len in 0..good.len() {
            assert!(Message::parse(&good[..len]).is_err(), "len {len}");
        }
        let mut trailing = good.clone();
        trailing.push(0);
        assert!(matches!(
            Message::parse(&trailing),
            Err(WireError::TrailingBytes { count: 1 })
        ));
        // Two OPT records.
        let mut m = Message::query(1, n("farm."), RecordType::A);
        m.edns = Some(Edns::new(512));
        let mut bytes = m.to_bytes().unwrap();
        bytes.extend_from_slice(b"\x00\x00\x29\x02\x00\x00\x00\x00\x00\x00\x00");
        bytes[11] = 2;
        assert!(matches!(
            Message::parse(&bytes),
            Err(WireError::MisplacedRecord { what: "OPT" })
        ));
    }

    #[test]
    fn update_style_empty_rdata_is_kept() {
        // RFC 2136 §2.5.2 "delete an RRset": class ANY, TTL 0, RDLENGTH 0.
        let mut bytes = Vec::new();
        Header {
            id: 7,
            opcode: Opcode::UPDATE,
            ..Header::default()
        }
        .encode(&mut bytes, [0, 0, 1, 0]);
        encode_rr(
            &mut bytes,
            &n("www.farm."),
            RecordType::A,
            Class::ANY,
            0,
            |_| Ok(()),
        )
        .unwrap();
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(msg.header.opcode, Opcode::UPDATE);
        assert_eq!(
            msg.authority[0].rdata,
            RData::Unknown {
                rtype: RecordType::A,
                data: vec![]
            }
        );
        assert_eq!(msg.authority[0].rtype, RecordType::A);
    }

    #[test]
    fn record_round_trip_through_message() {
        let origin = n("farm.");
        let mut m = Message::query(9, origin.clone(), RecordType::Any);
        m.header.qr = true;
        for (t, text) in [
            ("TXT", "\"v=spf1 -all\""),
            ("CAA", "0 issue \"ca.example\""),
            ("HTTPS", "1 . alpn=h2"),
            ("SRV", "0 0 443 www"),
        ] {
            let rdata = RData::parse(t.parse().unwrap(), text, &origin).unwrap();
            m.answers.push(Record::new(origin.clone(), 300, rdata));
        }
        m.authority
            .push(Record::new(origin.clone(), 60, RData::Ns(n("ns1.farm."))));
        let back = Message::parse(&m.to_bytes().unwrap()).unwrap();
        assert_eq!(back, m);
    }

    proptest::proptest! {
        #[test]
        fn random_bytes_never_panic(bytes in proptest::collection::vec(proptest::num::u8::ANY, 0..600)) {
            let _ = Message::parse(&bytes);
        }

        #[test]
        fn mutated_messages_never_panic(
            edits in proptest::collection::vec((0usize..200, proptest::num::u8::ANY), 1..8)
        ) {
            let mut bytes = compressed_response();
            for (at, value) in edits {
                let len = bytes.len();
                bytes[at % len] = value;
            }
            if let Ok(msg) = Message::parse(&bytes) {
                // Anything that parses re-encodes without panicking.
                let _ = msg.to_bytes();
                for rr in &msg.answers {
                    let _ = rr.to_string();
                }
            }
        }
    }
}
