//! RFC 2136 dynamic UPDATE messages: a builder for the zone, prerequisite and update
//! sections, suited to "replace this RRset given what it held before".

use super::message::{Class, HEADER_LEN, Header, Opcode, Record, encode_rr};
use super::name::Name;
use super::rdata::{RData, RecordType};
use super::wire::WireError;

/// Largest message rack builds: a DNS message over TCP has a 16-bit length (RFC 1035
/// §4.2.2). UDP senders must check their own, smaller, limit.
pub const MAX_MESSAGE_LEN: usize = 65_535;

/// Why an UPDATE could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UpdateError {
    /// A name is outside the zone being updated (the server would answer NOTZONE).
    #[error("{name} is not in zone {zone}")]
    NotInZone {
        /// The name.
        name: Name,
        /// The zone.
        zone: Name,
    },
    /// Rdata of one type was given for an RRset of another.
    #[error("{name} {rtype} RRset was given {given} rdata")]
    TypeMismatch {
        /// The owner.
        name: Name,
        /// The RRset's type.
        rtype: RecordType,
        /// The rdata's type.
        given: RecordType,
    },
    /// Meta-types (ANY, AXFR, OPT, TSIG...) cannot be added, deleted as RRsets or required.
    #[error("{rtype} is a meta-type and cannot be part of an RRset")]
    MetaType {
        /// The type.
        rtype: RecordType,
    },
    /// A record to add is not of class IN.
    #[error("Record {record} must be of class IN to be added")]
    WrongClass {
        /// The record.
        record: String,
    },
    /// The message does not fit the wire format.
    #[error("UPDATE message cannot be encoded")]
    Wire(#[from] WireError),
}

/// One entry of the prerequisite or update section. `rdata: None` is the empty rdata
/// (RDLENGTH 0) that RFC 2136 uses for "any value".
#[derive(Debug, Clone, PartialEq, Eq)]
struct Entry {
    name: Name,
    rtype: RecordType,
    class: Class,
    ttl: u32,
    rdata: Option<RData>,
}

/// Builds one RFC 2136 UPDATE message for one zone; any number of RRsets can change in it,
/// and the server applies it all or nothing (RFC 2136 §3.4.2, §3.7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UpdateBuilder {
    zone: Name,
    prerequisites: Vec<Entry>,
    updates: Vec<Entry>,
}

impl UpdateBuilder {
    /// An empty UPDATE for `zone` (class IN).
    pub fn new(zone: Name) -> Self {
        Self {
            zone,
            prerequisites: Vec::new(),
            updates: Vec::new(),
        }
    }

    /// The zone.
    pub fn zone(&self) -> &Name {
        &self.zone
    }

    /// Whether no prerequisite and no update was added.
    pub fn is_empty(&self) -> bool {
        self.prerequisites.is_empty() && self.updates.is_empty()
    }

    fn check_name(&self, name: &Name) -> Result<(), UpdateError> {
        if name.is_subdomain_of(&self.zone) {
            Ok(())
        } else {
            Err(UpdateError::NotInZone {
                name: name.clone(),
                zone: self.zone.clone(),
            })
        }
    }

    fn check_rrset(&self, name: &Name, rtype: RecordType) -> Result<(), UpdateError> {
        self.check_name(name)?;
        if rtype.is_meta() {
            return Err(UpdateError::MetaType { rtype });
        }
        Ok(())
    }

    fn entry(name: &Name, rtype: RecordType, class: Class, rdata: Option<RData>) -> Entry {
        Entry {
            name: name.clone(),
            rtype,
            class,
            ttl: 0,
            rdata,
        }
    }

    /// Appends `entry` to the prerequisite section.
    fn prerequisite(&mut self, entry: Entry) -> &mut Self {
        self.prerequisites.push(entry);
        self
    }

    /// Appends `entry` to the update section.
    fn update(&mut self, entry: Entry) -> &mut Self {
        self.updates.push(entry);
        self
    }

    /// RFC 2136 §2.4.1 "RRset exists (value independent)": class ANY, TTL 0, no rdata.
    pub fn require_rrset_exists(
        &mut self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<&mut Self, UpdateError> {
        self.check_rrset(name, rtype)?;
        Ok(self.prerequisite(Self::entry(name, rtype, Class::ANY, None)))
    }

    /// RFC 2136 §2.4.2 "RRset exists (value dependent)": the RRset holds exactly `rdata`
    /// (in any order; TTLs are not compared, §3.2.5). An empty `rdata` means the RRset must
    /// not exist, so this becomes §2.4.3.
    pub fn require_rrset_exact(
        &mut self,
        name: &Name,
        rtype: RecordType,
        rdata: &[RData],
    ) -> Result<&mut Self, UpdateError> {
        if rdata.is_empty() {
            return self.require_rrset_absent(name, rtype);
        }
        self.check_rrset(name, rtype)?;
        for rd in rdata {
            if rd.record_type() != rtype {
                return Err(UpdateError::TypeMismatch {
                    name: name.clone(),
                    rtype,
                    given: rd.record_type(),
                });
            }
        }
        for rd in rdata {
            self.prerequisites
                .push(Self::entry(name, rtype, Class::IN, Some(rd.clone())));
        }
        Ok(self)
    }

    /// RFC 2136 §2.4.3 "RRset does not exist": class NONE, TTL 0, no rdata.
    pub fn require_rrset_absent(
        &mut self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<&mut Self, UpdateError> {
        self.check_rrset(name, rtype)?;
        Ok(self.prerequisite(Self::entry(name, rtype, Class::NONE, None)))
    }

    /// RFC 2136 §2.4.4 "Name is in use": class ANY, type ANY.
    pub fn require_name_in_use(&mut self, name: &Name) -> Result<&mut Self, UpdateError> {
        self.check_name(name)?;
        Ok(self.prerequisite(Self::entry(name, RecordType::Any, Class::ANY, None)))
    }

    /// RFC 2136 §2.4.5 "Name is not in use": class NONE, type ANY.
    pub fn require_name_not_in_use(&mut self, name: &Name) -> Result<&mut Self, UpdateError> {
        self.check_name(name)?;
        Ok(self.prerequisite(Self::entry(name, RecordType::Any, Class::NONE, None)))
    }

    /// RFC 2136 §2.5.1 "Add to an RRset": the record as it is, class IN. Note the server
    /// takes one TTL per RRset (§3.4.2.2 makes later additions set it for the whole RRset).
    pub fn add(&mut self, record: &Record) -> Result<&mut Self, UpdateError> {
        self.check_rrset(&record.name, record.rtype)?;
        if record.rdata.record_type() != record.rtype {
            return Err(UpdateError::TypeMismatch {
                name: record.name.clone(),
                rtype: record.rtype,
                given: record.rdata.record_type(),
            });
        }
        if record.class != Class::IN {
            return Err(UpdateError::WrongClass {
                record: record.to_string(),
            });
        }
        self.updates.push(Entry {
            name: record.name.clone(),
            rtype: record.rtype,
            class: Class::IN,
            ttl: record.ttl,
            rdata: Some(record.rdata.clone()),
        });
        Ok(self)
    }

    /// RFC 2136 §2.5.2 "Delete an RRset": class ANY, TTL 0, no rdata. Servers ignore this
    /// for SOA and NS at the zone apex (§3.4.2.4).
    pub fn delete_rrset(
        &mut self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<&mut Self, UpdateError> {
        self.check_rrset(name, rtype)?;
        Ok(self.update(Self::entry(name, rtype, Class::ANY, None)))
    }

    /// RFC 2136 §2.5.3 "Delete all RRsets from a name": class ANY, type ANY. At the apex the
    /// server keeps SOA and NS (§3.4.2.3).
    pub fn delete_name(&mut self, name: &Name) -> Result<&mut Self, UpdateError> {
        self.check_name(name)?;
        Ok(self.update(Self::entry(name, RecordType::Any, Class::ANY, None)))
    }

    /// RFC 2136 §2.5.4 "Delete an RR from an RRset": class NONE, TTL 0, the rdata to match.
    pub fn delete_record(&mut self, name: &Name, rdata: &RData) -> Result<&mut Self, UpdateError> {
        let rtype = rdata.record_type();
        self.check_rrset(name, rtype)?;
        Ok(self.update(Self::entry(name, rtype, Class::NONE, Some(rdata.clone()))))
    }

    /// Replaces the RRset `name`/`rtype` with `new` (TTL `ttl`), on condition that it still
    /// holds exactly `prior` (empty: that it does not exist). Combines §2.4.2 (or §2.4.3),
    /// §2.5.2 and §2.5.1. An empty `new` deletes the RRset.
    ///
    /// The apex NS RRset is the exception: servers ignore "delete an RRset" there
    /// (§3.4.2.4), so the new records are added first and then each prior record that is
    /// not among them is deleted on its own (§2.5.4), which servers honour as long as the
    /// RRset keeps one record. An empty `new` cannot empty the apex NS RRset.
    pub fn replace_rrset(
        &mut self,
        name: &Name,
        rtype: RecordType,
        prior: &[RData],
        ttl: u32,
        new: &[RData],
    ) -> Result<&mut Self, UpdateError> {
        for rd in new {
            if rd.record_type() != rtype {
                return Err(UpdateError::TypeMismatch {
                    name: name.clone(),
                    rtype,
                    given: rd.record_type(),
                });
            }
        }
        self.require_rrset_exact(name, rtype, prior)?;
        if rtype == RecordType::Ns && *name == self.zone {
            for rd in new {
                self.add(&Record::new(name.clone(), ttl, rd.clone()))?;
            }
            for rd in prior.iter().filter(|rd| !new.contains(rd)) {
                self.delete_record(name, rd)?;
            }
            return Ok(self);
        }
        if !prior.is_empty() {
            self.delete_rrset(name, rtype)?;
        }
        for rd in new {
            self.add(&Record::new(name.clone(), ttl, rd.clone()))?;
        }
        Ok(self)
    }

    /// Encodes the UPDATE (RFC 2136 §2: header with opcode UPDATE, ZOCOUNT 1; zone section
    /// §2.3 with type SOA; prerequisites §2.4; updates §2.5; no additional data). Names are
    /// not compressed. Sign the result with `tsig::sign_request` if the server needs a key.
    pub fn build(&self, id: u16) -> Result<Vec<u8>, UpdateError> {
        let count = |n: usize, what: &'static str| {
            u16::try_from(n).map_err(|_| WireError::TooLong {
                what,
                len: n,
                max: usize::from(u16::MAX),
            })
        };
        let header = Header {
            id,
            opcode: Opcode::UPDATE,
            ..Header::default()
        };
        let mut out = Vec::with_capacity(HEADER_LEN + 64 * (1 + self.updates.len()));
        header.encode(
            &mut out,
            [
                1,
                count(self.prerequisites.len(), "prerequisite section")?,
                count(self.updates.len(), "update section")?,
                0,
            ],
        );
        self.zone.encode(&mut out);
        out.extend_from_slice(&RecordType::Soa.code().to_be_bytes());
        out.extend_from_slice(&Class::IN.0.to_be_bytes());
        for e in self.prerequisites.iter().chain(&self.updates) {
            encode_rr(&mut out, &e.name, e.rtype, e.class, e.ttl, |o| {
                match &e.rdata {
                    Some(rd) => rd.encode(o),
                    None => Ok(()),
                }
            })?;
        }
        if out.len() > MAX_MESSAGE_LEN {
            return Err(WireError::TooLong {
                what: "UPDATE message",
                len: out.len(),
                max: MAX_MESSAGE_LEN,
            }
            .into());
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::message::Message;

    fn n(s: &str) -> Name {
        s.parse().unwrap()
    }

    fn a(s: &str) -> RData {
        RData::A(s.parse().unwrap())
    }

    #[test]
    fn prerequisite_and_update_forms() {
        let zone = n("farm.");
        let www = n("www.farm.");
        let mut b = UpdateBuilder::new(zone.clone());
        b.require_rrset_exists(&www, RecordType::A)
            .unwrap()
            .require_rrset_exact(&www, RecordType::A, &[a("192.0.2.1")])
            .unwrap()
            .require_rrset_absent(&www, RecordType::Aaaa)
            .unwrap()
            .require_name_in_use(&www)
            .unwrap()
            .require_name_not_in_use(&n("new.farm."))
            .unwrap()
            .add(&Record::new(www.clone(), 300, a("192.0.2.2")))
            .unwrap()
            .delete_rrset(&www, RecordType::Txt)
            .unwrap()
            .delete_name(&n("old.farm."))
            .unwrap()
            .delete_record(&www, &a("192.0.2.1"))
            .unwrap();
        let bytes = b.build(0x4242).unwrap();
        let msg = Message::parse(&bytes).unwrap();
        assert_eq!(msg.header.opcode, Opcode::UPDATE);
        assert_eq!(msg.header.id, 0x4242);
        assert_eq!(msg.questions.len(), 1);
        assert_eq!(msg.questions[0].name, zone);
        assert_eq!(msg.questions[0].qtype, RecordType::Soa);
        let shape = |rr: &Record| {
            (
                rr.name.to_string(),
                rr.class,
                rr.rtype.to_string(),
                rr.ttl,
                rr.rdata.to_string(),
            )
        };
        let pre: Vec<_> = msg.answers.iter().map(shape).collect();
        let s = |x: &str| x.to_owned();
        assert_eq!(
            pre,
            [
                (s("www.farm."), Class::ANY, s("A"), 0, s("\\# 0")),
                (s("www.farm."), Class::IN, s("A"), 0, s("192.0.2.1")),
                (s("www.farm."), Class::NONE, s("AAAA"), 0, s("\\# 0")),
                (s("www.farm."), Class::ANY, s("ANY"), 0, s("\\# 0")),
                (s("new.farm."), Class::NONE, s("ANY"), 0, s("\\# 0")),
            ]
        );
        let upd: Vec<_> = msg.authority.iter().map(shape).collect();
        assert_eq!(
            upd,
            [
                (s("www.farm."), Class::IN, s("A"), 300, s("192.0.2.2")),
                (s("www.farm."), Class::ANY, s("TXT"), 0, s("\\# 0")),
                (s("old.farm."), Class::ANY, s("ANY"), 0, s("\\# 0")),
                (s("www.farm."), Class::NONE, s("A"), 0, s("192.0.2.1")),
            ]
        );
    }

    #[test]
    fn exact_wire_bytes_of_a_small_update() {
        let mut b = UpdateBuilder::new(n("farm."));
        b.require_rrset_absent(&n("www.farm."), RecordType::A)
            .unwrap()
            .add(&Record::new(n("www.farm."), 300, a("192.0.2.1")))
            .unwrap();
        let bytes = b.build(1).unwrap();
        let mut expected = Vec::new();
        expected.extend_from_slice(b"\x00\x01\x28\x00\x00\x01\x00\x01\x00\x01\x00\x00");
        expected.extend_from_slice(b"\x04farm\x00\x00\x06\x00\x01");
        expected.extend_from_slice(b"\x03www\x04farm\x00\x00\x01\x00\xfe\x00\x00\x00\x00\x00\x00");
        expected.extend_from_slice(b"\x03www\x04farm\x00\x00\x01\x00\x01\x00\x00\x01\x2c\x00\x04");
        expected.extend_from_slice(&[192, 0, 2, 1]);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn replace_rrset_given_prior_content() {
        let www = n("www.farm.");
        let mut b = UpdateBuilder::new(n("farm."));
        b.replace_rrset(
            &www,
            RecordType::A,
            &[a("192.0.2.1"), a("192.0.2.2")],
            600,
            &[a("192.0.2.3")],
        )
        .unwrap()
        // A second RRset in the same message: creation, on condition it does not exist.
        .replace_rrset(&n("mail.farm."), RecordType::A, &[], 60, &[a("192.0.2.9")])
        .unwrap();
        let msg = Message::parse(&b.build(2).unwrap()).unwrap();
        assert_eq!(msg.answers.len(), 3);
        assert_eq!(msg.answers[2].class, Class::NONE);
        let upd: Vec<String> = msg.authority.iter().map(ToString::to_string).collect();
        assert_eq!(
            upd,
            [
                "www.farm. 0 ANY A \\# 0",
                "www.farm. 600 IN A 192.0.2.3",
                "mail.farm. 60 IN A 192.0.2.9",
            ]
        );
    }

    #[test]
    fn apex_ns_is_replaced_record_by_record() {
        let zone = n("farm.");
        let ns = |s: &str| RData::Ns(n(s));
        let mut b = UpdateBuilder::new(zone.clone());
        b.replace_rrset(
            &zone,
            RecordType::Ns,
            &[ns("ns1.example."), ns("ns2.example.")],
            3600,
            &[ns("ns2.example."), ns("ns3.example.")],
        )
        .unwrap();
        let msg = Message::parse(&b.build(3).unwrap()).unwrap();
        assert_eq!(msg.answers.len(), 2);
        let upd: Vec<String> = msg.authority.iter().map(ToString::to_string).collect();
        assert_eq!(
            upd,
            [
                "farm. 3600 IN NS ns2.example.",
                "farm. 3600 IN NS ns3.example.",
                "farm. 0 NONE NS ns1.example.",
            ]
        );
    }

    #[test]
    fn rejects_what_the_server_would() {
        let mut b = UpdateBuilder::new(n("farm."));
        assert!(matches!(
            b.delete_rrset(&n("www.other."), RecordType::A),
            Err(UpdateError::NotInZone { .. })
        ));
        assert!(matches!(
            b.require_rrset_exact(&n("www.farm."), RecordType::A, &[RData::Ns(n("x."))]),
            Err(UpdateError::TypeMismatch { .. })
        ));
        assert!(matches!(
            b.delete_rrset(&n("www.farm."), RecordType::Any),
            Err(UpdateError::MetaType { .. })
        ));
        let mut chaos = Record::new(n("www.farm."), 1, a("192.0.2.1"));
        chaos.class = Class::CH;
        assert!(matches!(b.add(&chaos), Err(UpdateError::WrongClass { .. })));
        assert!(b.is_empty());
        assert_eq!(
            UpdateError::NotInZone {
                name: n("a.b."),
                zone: n("farm.")
            }
            .to_string(),
            "a.b. is not in zone farm."
        );
    }

    #[test]
    fn size_limit() {
        let mut b = UpdateBuilder::new(n("farm."));
        let txt = RData::Txt(vec![vec![b'x'; 255]; 4]);
        for i in 0..70 {
            b.add(&Record::new(n(&format!("h{i}.farm.")), 1, txt.clone()))
                .unwrap();
        }
        assert!(matches!(
            b.build(1),
            Err(UpdateError::Wire(WireError::TooLong { .. }))
        ));
    }
}
