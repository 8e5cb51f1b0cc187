//! The DNS client rack's resources use: zone snapshots by AXFR, direct queries, and RRset
//! changes coalesced into RFC 2136 UPDATE messages, all TSIG-signed when a key is set.
//!
//! # Reads: which call costs what
//!
//! - [`DnsClient::zone`] serves a snapshot of the whole zone, transferred once by AXFR
//!   (one message sent) and kept for the life of the client. Concurrent first callers share
//!   the one transfer. This is what resource reads (refresh during `plan`) use, so a plan
//!   sends one message per zone however many record sets it reads.
//! - [`DnsClient::zone_fresh`] first asks the SOA serial (one message) and transfers again
//!   only if the serial differs from the snapshot's. At most two messages per zone: for
//!   reads that must not miss outside changes made while the process runs (import, or a
//!   read right after a [`DnsError::Conflict`]).
//! - [`DnsClient::query`] asks the server for one RRset, bypassing the snapshot: for data
//!   sources that read names the provider does not manage.
//!
//! Staleness of the snapshot never leads to a silent overwrite: every change carries its
//! prior content as an RFC 2136 prerequisite, so the server rejects a change whose prior
//! content moved, and the caller gets [`DnsError::Conflict`].
//!
//! # Writes
//!
//! [`DnsClient::change`] queues the change for its zone. If no UPDATE for the zone is in
//! flight, one is sent at once with what is queued; changes that arrive meanwhile wait and
//! go together in the next UPDATE. UPDATE is atomic (RFC 2136 §3.4.2.6): when the server
//! rejects a batch because a prerequisite failed, nothing was changed, and the batch is
//! split in halves and sent again, recursively, until the changes whose prerequisite fails
//! are alone; those get [`DnsError::Conflict`] and all others succeed. This finds `k`
//! conflicts among `n` changes in about `2·k·log2(n)` messages rather than `n`. Any other
//! failure (REFUSED, NOTAUTH, TSIG, timeout) fails every change of the batch with the same
//! error.
//!
//! A server may answer NOERROR to an UPDATE and still ignore part of it (RFC 2136
//! §3.4.2.2: a CNAME beside other data, the apex SOA and NS). So after every accepted
//! UPDATE each changed RRset is read back (one query per change) and checked: a change
//! whose RRset does not hold what it wrote fails with [`DnsError::NotWritten`], the others
//! succeed, and the cached snapshot gets what was read. Within a batch, deletions go first
//! and CNAME/DNAME additions last. An UPDATE that timed out may still be carried out by the
//! server later, so it drops the cached snapshot.

mod batch;
mod config;
mod error;
#[cfg(test)]
mod fixtures;
mod handle;
mod snapshot;

pub use config::{COALESCE_WINDOW, ServerConfig, Transport};
pub use error::{DnsError, Operation};
pub use handle::DnsClient;
pub use snapshot::{RrSet, RrsetChange, ZoneSnapshot};
