//! Coalescing changes into UPDATE messages: the per-zone queue, the order of a batch,
//! and judging what a read-back shows. Pure: no I/O.

use std::collections::{HashSet, VecDeque};

use tokio::sync::oneshot;

use super::error::DnsError;
use super::snapshot::{RrSet, RrsetChange, ZoneSnapshot};
use crate::dns::message::Rcode;
use crate::dns::rdata::{RData, RecordType};
use crate::dns::update::{UpdateBuilder, UpdateError};

#[derive(Default)]
pub(super) struct WriteQueue {
    pub(super) pending: VecDeque<Pending>,
    /// Whether a task is sending this zone's UPDATEs.
    pub(super) running: bool,
}

pub(super) struct Pending {
    pub(super) change: RrsetChange,
    pub(super) reply: oneshot::Sender<Result<(), DnsError>>,
}

/// How an UPDATE of a batch ended.
pub(super) enum BatchOutcome {
    Applied,
    /// A prerequisite failed (RFC 2136 §3.2.5): nothing was changed.
    Prerequisite(Rcode),
    /// The message would exceed the 64 KiB limit.
    TooLong(UpdateError),
    /// Any other failure, for every change of the batch.
    Failed(DnsError),
}

pub(super) fn add_change(b: &mut UpdateBuilder, c: &RrsetChange) -> Result<(), UpdateError> {
    match &c.new {
        Some((ttl, rdata)) => {
            b.replace_rrset(&c.name, c.rtype, &c.prior, *ttl, rdata)?;
        }
        None => {
            b.require_rrset_exact(&c.name, c.rtype, &c.prior)?;
            if !c.prior.is_empty() {
                b.delete_rrset(&c.name, c.rtype)?;
            }
        }
    }
    Ok(())
}

/// Whether the zone as transferred holds what `change` wrote; when not, the error says
/// what the name holds.
pub(super) fn judge(fresh: &ZoneSnapshot, change: &RrsetChange) -> Result<(), DnsError> {
    let found = fresh.rrset(&change.name, change.rtype);
    if written(change, found) {
        return Ok(());
    }
    let others: Vec<RecordType> = fresh
        .types_at(&change.name)
        .into_iter()
        .filter(|t| *t != change.rtype)
        .collect();
    let found = match found {
        None => "no such records".to_owned(),
        Some(set) => {
            let records: Vec<String> = set.rdata.iter().map(ToString::to_string).collect();
            format!("TTL {} and records [{}]", set.ttl, records.join(", "))
        }
    };
    tracing::warn!(name = %change.name, rtype = %change.rtype, %found, "the server accepted the UPDATE but did not write the change");
    Err(DnsError::NotWritten {
        name: change.name.clone(),
        rtype: change.rtype,
        found,
        others,
    })
}

/// Whether `found` (the RRset as read back) is what `change` wrote: the same records (as
/// a set, in normalised form) and TTL, or no RRset for a deletion.
pub(super) fn written(change: &RrsetChange, found: Option<&RrSet>) -> bool {
    match (&change.new, found) {
        (Some((ttl, rdata)), Some(set)) if !rdata.is_empty() => {
            let want: HashSet<String> = rdata.iter().map(comparable).collect();
            let have: HashSet<String> = set.rdata.iter().map(comparable).collect();
            set.ttl == *ttl && want == have
        }
        (Some((_, rdata)), None) => rdata.is_empty(),
        (Some(_), Some(_)) => false,
        (None, found) => found.is_none(),
    }
}

/// A record's normalised form for the read-back check. A SOA's serial is left out: a
/// server may set its own (a serial policy, or one that only moves forward).
fn comparable(rdata: &RData) -> String {
    match rdata {
        RData::Soa { .. } => {
            let mut soa = rdata.clone();
            if let RData::Soa { serial, .. } = &mut soa {
                *serial = 0;
            }
            soa.to_string()
        }
        other => other.to_string(),
    }
}

/// Where a change goes in its batch: deletions first, then other additions, then CNAME and
/// DNAME additions, so that one UPDATE replacing data at a name with a CNAME (or the
/// reverse) removes the old data before adding the new, and a CNAME sent with other data
/// for its name is the change the server ignores.
fn batch_order(change: &RrsetChange) -> u8 {
    match &change.new {
        Some((_, rdata)) if !rdata.is_empty() => {
            if matches!(change.rtype, RecordType::Cname | RecordType::Dname) {
                2
            } else {
                1
            }
        }
        _ => 0,
    }
}

/// Takes the queued changes for one UPDATE: all of them, except that a second change to an
/// RRset already in the batch waits for the next one (its prior content is the first's
/// result, which the server does not have yet).
pub(super) fn take_batch(pending: &mut VecDeque<Pending>) -> Vec<Pending> {
    let mut seen = HashSet::new();
    let mut batch = Vec::new();
    let mut later = VecDeque::new();
    while let Some(p) = pending.pop_front() {
        if seen.insert((p.change.name.clone(), p.change.rtype.code())) {
            batch.push(p);
        } else {
            later.push_back(p);
        }
    }
    *pending = later;
    batch.sort_by_key(|p| batch_order(&p.change));
    batch
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{a, name, soa};
    use super::*;

    #[test]
    fn a_batch_holds_each_rrset_once() {
        let change = |n: &str, ip: &str| RrsetChange {
            name: name(n),
            rtype: RecordType::A,
            prior: vec![],
            new: Some((60, vec![a(ip)])),
        };
        let mut q = VecDeque::new();
        let mut keep = Vec::new();
        for (n, ip) in [
            ("a.farm.", "192.0.2.1"),
            ("b.farm.", "192.0.2.2"),
            ("a.farm.", "192.0.2.3"),
        ] {
            let (reply, rx) = oneshot::channel();
            keep.push(rx);
            q.push_back(Pending {
                change: change(n, ip),
                reply,
            });
        }
        let batch = take_batch(&mut q);
        assert_eq!(batch.len(), 2);
        assert_eq!(q.len(), 1);
        assert_eq!(q[0].change.new, Some((60, vec![a("192.0.2.3")])));
    }

    #[test]
    fn written_compares_records_as_a_set_and_the_ttl() {
        let change = RrsetChange {
            name: name("www.farm."),
            rtype: RecordType::A,
            prior: vec![],
            new: Some((60, vec![a("192.0.2.1"), a("192.0.2.2")])),
        };
        let set = |ttl, rdata| RrSet {
            name: name("www.farm."),
            rtype: RecordType::A,
            ttl,
            rdata,
        };
        assert!(written(
            &change,
            Some(&set(60, vec![a("192.0.2.2"), a("192.0.2.1")]))
        ));
        assert!(!written(
            &change,
            Some(&set(300, vec![a("192.0.2.1"), a("192.0.2.2")]))
        ));
        assert!(!written(&change, Some(&set(60, vec![a("192.0.2.1")]))));
        assert!(!written(&change, None));
        let delete = RrsetChange {
            new: None,
            ..change
        };
        assert!(written(&delete, None));
        assert!(!written(&delete, Some(&set(60, vec![a("192.0.2.1")]))));
        // A SOA is written whatever serial the server gave it.
        let mut soa_change = RrsetChange {
            name: name("farm."),
            rtype: RecordType::Soa,
            prior: vec![],
            new: Some((300, vec![soa(8).rdata])),
        };
        let served = RrSet {
            name: name("farm."),
            rtype: RecordType::Soa,
            ttl: 300,
            rdata: vec![soa(9).rdata],
        };
        assert!(written(&soa_change, Some(&served)));
        soa_change.new = Some((600, vec![soa(8).rdata]));
        assert!(!written(&soa_change, Some(&served)));
    }

    #[test]
    fn a_batch_deletes_first_and_adds_cnames_last() {
        let change = |n: &str, rtype, new: Option<RData>| RrsetChange {
            name: name(n),
            rtype,
            prior: vec![],
            new: new.map(|r| (60, vec![r])),
        };
        let mut q = VecDeque::new();
        let mut keep = Vec::new();
        for c in [
            change(
                "www.farm.",
                RecordType::Cname,
                Some(RData::Cname(name("web.farm."))),
            ),
            change("www.farm.", RecordType::A, Some(a("192.0.2.1"))),
            change("old.farm.", RecordType::A, None),
        ] {
            let (reply, rx) = oneshot::channel();
            keep.push(rx);
            q.push_back(Pending { change: c, reply });
        }
        let batch = take_batch(&mut q);
        let order: Vec<String> = batch
            .iter()
            .map(|p| format!("{} {}", p.change.name, p.change.rtype))
            .collect();
        assert_eq!(order, ["old.farm. A", "www.farm. A", "www.farm. CNAME"]);
    }
}
