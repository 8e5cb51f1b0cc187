//! The changes queued for one server and how a batch of them is applied to a fetched
//! configuration, and checked in the read-back after its `config-set`. No I/O.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use serde_json::Value;
use tokio::sync::oneshot;

use crate::kea::KeaError;
use crate::kea::config::{self, Change, HostIdentifier, Reservation};
use crate::net::Cidr;

/// What a change expects of the reservation it is about, as the configuration it is
/// applied to holds it (`None`: there is none); `false` refuses the change with
/// [`config::ConfigError::Changed`]. An [`KeaClient::apply_expecting`] of an add whose
/// expectation accepts an existing entry takes that entry over.
pub type Expect = Arc<dyn Fn(Option<&Reservation>) -> bool + Send + Sync>;

pub(super) struct Pending {
    pub(super) change: Change,
    pub(super) expect: Option<Expect>,
    pub(super) reply: oneshot::Sender<Result<(), KeaError>>,
}

#[derive(Default)]
pub(super) struct WriteQueue {
    pub(super) pending: VecDeque<Pending>,
    /// Whether a task is writing.
    pub(super) running: bool,
}

/// How one attempt at a group of changes ended.
pub(super) enum Attempt {
    /// One config-set carried this many changes; their callers are answered.
    Written(usize),
    /// Every caller is answered and nothing was set.
    Answered,
    /// Kea rejected the configuration: the two halves are to be tried on their own.
    Split(Vec<Pending>, Vec<Pending>),
}

/// Applies each change to `work`: a change that conflicts, or whose expectation the
/// reservation in `work` does not meet, is answered with its error; the others go into
/// `accepted`. A change already in effect is accepted as it is.
pub(super) fn apply_each(work: &mut Value, group: Vec<Pending>, accepted: &mut Vec<Pending>) {
    for p in group {
        match apply_one(work, &p) {
            Ok(()) => accepted.push(p),
            Err(e) => {
                let _ = p.reply.send(Err(e.into()));
            }
        }
    }
}

pub(super) fn apply_one(work: &mut Value, p: &Pending) -> Result<(), config::ConfigError> {
    let Some(expect) = &p.expect else {
        return config::apply(work, &p.change);
    };
    if config::in_effect(work, &p.change)? {
        return Ok(());
    }
    let (subnet, identifier) = (p.change.subnet(), p.change.identifier());
    let now = config::find(work, subnet, identifier)?;
    if !expect(now.as_ref()) {
        return Err(config::ConfigError::Changed {
            subnet,
            identifier: identifier.clone(),
            found: now.map_or_else(|| "none".to_owned(), |r| r.summary()),
        });
    }
    match (&p.change, now) {
        // The caller vouched for the entry there: take it over.
        (Change::Add(r), Some(_)) => config::apply(work, &Change::Replace(r.clone())),
        (change, _) => config::apply(work, change),
    }
}

/// What a write lost to another writer, as read back in `now`: the changes of `written`
/// not in effect, and the reservations of `base` (the configuration they were applied
/// to) that are gone although no change removed them. Empty when nothing was lost.
pub(super) fn lost_changes(now: &Value, base: &Value, written: &[Pending]) -> Vec<String> {
    let mut lost = Vec::new();
    for p in written {
        if !config::in_effect(now, &p.change).unwrap_or(false) {
            lost.push(format!(
                "{} in {}",
                p.change.identifier(),
                p.change.subnet()
            ));
        }
    }
    let touched: HashSet<(Cidr, &HostIdentifier)> = written
        .iter()
        .map(|p| (p.change.subnet(), p.change.identifier()))
        .collect();
    for subnet in config::subnets(base).unwrap_or_default() {
        let Ok(before) = config::reservations(base, subnet.cidr) else {
            continue;
        };
        let after: HashSet<HostIdentifier> = config::reservations(now, subnet.cidr)
            .unwrap_or_default()
            .into_iter()
            .map(|r| r.identifier)
            .collect();
        for r in before {
            if !after.contains(&r.identifier) && !touched.contains(&(subnet.cidr, &r.identifier)) {
                lost.push(format!("{} in {}", r.identifier, subnet.cidr));
            }
        }
    }
    lost
}

pub(super) fn fail(group: Vec<Pending>, e: &KeaError) {
    for p in group {
        let _ = p.reply.send(Err(e.clone()));
    }
}
