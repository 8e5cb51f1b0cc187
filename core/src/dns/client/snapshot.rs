//! The zone model a client reads and writes: RRsets, changes to them, and a zone's
//! snapshot assembled from an AXFR. Pure: no I/O.

use std::collections::BTreeMap;

use crate::dns::message::{Class, Record};
use crate::dns::name::Name;
use crate::dns::rdata::{RData, RecordType};

/// The records of one name and type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrSet {
    /// Owner name.
    pub name: Name,
    /// Type.
    pub rtype: RecordType,
    /// TTL, seconds (one per RRset, RFC 2181 §5.2).
    pub ttl: u32,
    /// The records' data, in the order the server sent them.
    pub rdata: Vec<RData>,
}

/// A change to one RRset, guarded by what the caller believes it holds now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RrsetChange {
    /// Owner name; must be in the zone.
    pub name: Name,
    /// Type; not a meta-type.
    pub rtype: RecordType,
    /// What the caller believes the RRset holds now (empty: that it does not exist). Sent
    /// as the prerequisite, so the change fails with [`DnsError::Conflict`] if it moved.
    pub prior: Vec<RData>,
    /// TTL and records to hold afterwards; `None` (or no records) deletes the RRset.
    pub new: Option<(u32, Vec<RData>)>,
}

/// What a zone held when it was transferred, plus our own changes since.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ZoneSnapshot {
    /// The zone's apex.
    pub zone: Name,
    /// The SOA serial the transfer saw.
    pub serial: u32,
    soa: RrSet,
    rrsets: BTreeMap<(Name, u16), RrSet>,
}

impl ZoneSnapshot {
    /// The RRset `name`/`rtype`, if the zone has it.
    pub fn rrset(&self, name: &Name, rtype: RecordType) -> Option<&RrSet> {
        self.rrsets.get(&(name.clone(), rtype.code()))
    }

    /// Every RRset, the SOA included, by name then type code.
    pub fn rrsets(&self) -> impl Iterator<Item = &RrSet> {
        self.rrsets.values()
    }

    /// Sets what the zone holds for `name`/`rtype` (`None`: nothing), as read from the
    /// server after our own change; the serial stays the transferred one, so
    /// [`DnsClient::zone_fresh`] transfers again.
    pub(super) fn set(&mut self, name: Name, rtype: RecordType, found: Option<RrSet>) {
        let key = (name, rtype.code());
        match found {
            Some(set) => {
                self.rrsets.insert(key, set);
            }
            None => {
                self.rrsets.remove(&key);
            }
        }
    }

    /// The types that have an RRset at `name`.
    pub fn types_at(&self, name: &Name) -> Vec<RecordType> {
        self.rrsets
            .range((name.clone(), 0)..=(name.clone(), u16::MAX))
            .map(|(_, set)| set.rtype)
            .collect()
    }

    /// The SOA RRset as transferred.
    pub fn soa(&self) -> &RrSet {
        &self.soa
    }

    /// How many RRsets the zone holds, the SOA included.
    pub fn len(&self) -> usize {
        self.rrsets.len()
    }

    /// Whether the zone holds no RRset; never true for a transferred zone (it has a SOA).
    pub fn is_empty(&self) -> bool {
        self.rrsets.is_empty()
    }
}

/// Collects the records of an AXFR response (RFC 5936 §2.2): SOA first, the zone's
/// records, and the SOA again at the end.
pub(super) struct SnapshotBuilder {
    zone: Name,
    soa: Option<(u32, RrSet)>,
    rrsets: BTreeMap<(Name, u16), RrSet>,
    pub(super) records: usize,
}

/// Whether an AXFR response is complete.
#[derive(Debug, PartialEq, Eq)]
pub(super) enum Progress {
    More,
    Done,
}

impl SnapshotBuilder {
    pub(super) fn new(zone: Name) -> Self {
        Self {
            zone,
            soa: None,
            rrsets: BTreeMap::new(),
            records: 0,
        }
    }

    pub(super) fn push(&mut self, rr: Record) -> Result<Progress, String> {
        if rr.class != Class::IN {
            return Err(format!(
                "record {rr} in the zone transfer is not of class IN"
            ));
        }
        if !rr.name.is_subdomain_of(&self.zone) {
            return Err(format!(
                "record {rr} in the transfer of zone {} is outside it",
                self.zone
            ));
        }
        let is_apex_soa = rr.rtype == RecordType::Soa && rr.name == self.zone;
        match (&self.soa, is_apex_soa) {
            (None, false) => {
                return Err(format!(
                    "zone transfer starts with {rr}, not with the SOA of {}",
                    self.zone
                ));
            }
            (None, true) => {
                let RData::Soa { serial, .. } = rr.rdata else {
                    return Err("SOA record without SOA data".to_owned());
                };
                let soa = RrSet {
                    name: rr.name.clone(),
                    rtype: RecordType::Soa,
                    ttl: rr.ttl,
                    rdata: vec![rr.rdata.clone()],
                };
                self.rrsets
                    .insert((rr.name.clone(), RecordType::Soa.code()), soa.clone());
                self.soa = Some((serial, soa));
                return Ok(Progress::More);
            }
            (Some(_), true) => return Ok(Progress::Done),
            (Some(_), false) => {}
        }
        self.records += 1;
        let set = self
            .rrsets
            .entry((rr.name.clone(), rr.rtype.code()))
            .or_insert_with(|| RrSet {
                name: rr.name.clone(),
                rtype: rr.rtype,
                ttl: rr.ttl,
                rdata: Vec::new(),
            });
        if !set.rdata.contains(&rr.rdata) {
            set.rdata.push(rr.rdata);
        }
        Ok(Progress::More)
    }

    pub(super) fn finish(self) -> Result<ZoneSnapshot, String> {
        let Some((serial, soa)) = self.soa else {
            return Err("zone transfer holds no SOA".to_owned());
        };
        Ok(ZoneSnapshot {
            zone: self.zone,
            serial,
            soa,
            rrsets: self.rrsets,
        })
    }
}

/// The records of `name`/`rtype` among a response's answers (a CNAME the server followed
/// is not part of it).
pub(super) fn collect_rrset(name: &Name, rtype: RecordType, answers: Vec<Record>) -> Option<RrSet> {
    let mut set: Option<RrSet> = None;
    for rr in answers {
        if rr.name != *name || rr.rtype != rtype || rr.class != Class::IN {
            continue;
        }
        let s = set.get_or_insert_with(|| RrSet {
            name: rr.name.clone(),
            rtype,
            ttl: rr.ttl,
            rdata: Vec::new(),
        });
        if !s.rdata.contains(&rr.rdata) {
            s.rdata.push(rr.rdata);
        }
    }
    set
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{a, name, soa};
    use super::*;

    fn snapshot() -> ZoneSnapshot {
        let mut b = SnapshotBuilder::new(name("farm."));
        assert_eq!(b.push(soa(7)).unwrap(), Progress::More);
        for rr in [
            Record::new(name("www.farm."), 60, a("192.0.2.1")),
            Record::new(name("www.farm."), 60, a("192.0.2.2")),
            Record::new(name("www.farm."), 60, RData::Txt(vec![b"x".to_vec()])),
            Record::new(name("farm."), 300, RData::Ns(name("ns1.farm."))),
        ] {
            assert_eq!(b.push(rr).unwrap(), Progress::More);
        }
        assert_eq!(b.push(soa(7)).unwrap(), Progress::Done);
        b.finish().unwrap()
    }

    #[test]
    fn axfr_records_group_into_rrsets() {
        let s = snapshot();
        assert_eq!(s.serial, 7);
        assert_eq!(s.len(), 4);
        let www = s.rrset(&name("www.farm."), RecordType::A).unwrap();
        assert_eq!(www.rdata, vec![a("192.0.2.1"), a("192.0.2.2")]);
        assert_eq!(www.ttl, 60);
        assert_eq!(
            s.types_at(&name("www.farm.")),
            vec![RecordType::A, RecordType::Txt]
        );
        assert!(s.types_at(&name("nope.farm.")).is_empty());
        assert_eq!(s.soa().rdata, vec![soa(7).rdata]);
        assert!(s.rrset(&name("farm."), RecordType::Soa).is_some());
    }

    #[test]
    fn axfr_must_start_with_the_apex_soa_and_stay_in_zone() {
        let mut b = SnapshotBuilder::new(name("farm."));
        let e = b
            .push(Record::new(name("www.farm."), 60, a("192.0.2.1")))
            .unwrap_err();
        assert!(e.contains("not with the SOA"), "{e}");
        b.push(soa(1)).unwrap();
        let e = b
            .push(Record::new(name("www.other."), 60, a("192.0.2.1")))
            .unwrap_err();
        assert!(e.contains("outside"), "{e}");
        assert!(SnapshotBuilder::new(name("farm.")).finish().is_err());
    }
}
