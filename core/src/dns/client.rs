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

use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::message::{Class, Edns, Message, Rcode, Record};
use super::name::Name;
use super::rdata::{RData, RecordType};
use super::transport::{self, Endpoint, TcpStreamReader, TransportError};
use super::tsig::{self, RequestMac, StreamVerifier, TsigAlgorithm, TsigError, TsigKey};
use super::update::{UpdateBuilder, UpdateError};
use super::wire::WireError;

/// How long the first change for a zone waits for others before its UPDATE is sent.
/// Terraform hands the provider one resource at a time, some milliseconds apart, and holds
/// at most `-parallelism` (10) in flight: waiting this long lets those in-flight changes
/// share one UPDATE (about ten times fewer messages) at the cost of one short delay per
/// batch, which is small next to Terraform's own time per resource.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(30);

/// UDP payload size we advertise in queries (EDNS, RFC 6891 §6.2.5): the size DNS Flag Day
/// 2020 recommends to avoid IP fragmentation.
const EDNS_UDP_SIZE: u16 = 1232;

/// How rack reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// Small messages over UDP, again over TCP when the answer is truncated; zone
    /// transfers and large UPDATEs always over TCP.
    #[default]
    UdpWithTcpFallback,
    /// Every message over TCP.
    Tcp,
}

/// One DNS server and how to talk to it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `host:port`, resolved each time a message is sent.
    pub address: String,
    /// Key to sign every message with; `None` sends unsigned messages.
    pub tsig: Option<TsigKey>,
    /// UDP with TCP fallback, or TCP only.
    pub transport: Transport,
    /// How long one attempt may wait for an answer (for AXFR: for each message).
    pub timeout: Duration,
    /// How many times an attempt that timed out is repeated.
    pub retries: u32,
}

impl ServerConfig {
    /// `address` with no key, UDP with TCP fallback, a 5 s timeout and 2 retries.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            tsig: None,
            transport: Transport::UdpWithTcpFallback,
            timeout: Duration::from_secs(5),
            retries: 2,
        }
    }
}

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
    fn set(&mut self, name: Name, rtype: RecordType, found: Option<RrSet>) {
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
struct SnapshotBuilder {
    zone: Name,
    soa: Option<(u32, RrSet)>,
    rrsets: BTreeMap<(Name, u16), RrSet>,
    records: usize,
}

/// Whether an AXFR response is complete.
#[derive(Debug, PartialEq, Eq)]
enum Progress {
    More,
    Done,
}

impl SnapshotBuilder {
    fn new(zone: Name) -> Self {
        Self {
            zone,
            soa: None,
            rrsets: BTreeMap::new(),
            records: 0,
        }
    }

    fn push(&mut self, rr: Record) -> Result<Progress, String> {
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

    fn finish(self) -> Result<ZoneSnapshot, String> {
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

/// What a failing exchange was doing, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A query (SOA or one RRset).
    Query,
    /// A zone transfer.
    Transfer,
    /// A dynamic update.
    Update,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Query => "query",
            Self::Transfer => "zone transfer (AXFR)",
            Self::Update => "UPDATE",
        })
    }
}

fn refused_hint(op: &Operation, key: &Option<Name>) -> String {
    let who = match key {
        Some(k) => format!("key {k}"),
        None => "unsigned requests (no TSIG key is configured)".to_owned(),
    };
    match op {
        Operation::Update => {
            format!(
                "check that the zone's update-policy (or allow-update) grants {who}, and the \
                 server's log for a failed integrity check (e.g. an MX or NS target without \
                 address records)"
            )
        }
        Operation::Transfer => format!("check that the zone's allow-transfer grants {who}"),
        Operation::Query => {
            "check that the server serves this zone and that allow-query lets us ask".to_owned()
        }
    }
}

fn not_written_hint(name: &Name, rtype: &RecordType, others: &[RecordType]) -> String {
    let list: Vec<String> = others.iter().map(ToString::to_string).collect();
    if *rtype == RecordType::Cname && !others.is_empty() {
        format!(
            "{name} holds {} records, and a CNAME cannot share its name with other data \
             (RFC 1034 §3.6.2), so the server ignored it; remove the other record sets or use \
             another name",
            list.join(", ")
        )
    } else if others.contains(&RecordType::Cname) {
        format!(
            "{name} holds a CNAME, and no other data can share its name (RFC 1034 §3.6.2), so \
             the server ignored the change; remove the CNAME or use another name"
        )
    } else {
        "the server ignored the change (check its log) or someone else changed the record set \
         right after it; run terraform plan to see what the zone holds"
            .to_owned()
    }
}

/// Why a DNS operation failed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The configured address does not resolve.
    #[error("DNS server address {address:?} cannot be used; set it as host:port")]
    Address {
        /// The address as configured.
        address: String,
        /// Why it does not resolve.
        #[source]
        source: TransportError,
    },
    /// No answer within the timeout, after every retry.
    #[error(
        "DNS server {server} did not answer within {timeout:?} ({attempts} attempt(s)); check the server address and port, that the server is running, and the timeout"
    )]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// How long each attempt waited.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Nothing listens at the address.
    #[error(
        "DNS server {server} refused the connection; check the address and port and that the server listens there"
    )]
    ConnectionRefused {
        /// The server.
        server: SocketAddr,
    },
    /// Another network failure.
    #[error("Cannot exchange messages with DNS server {server}")]
    Network {
        /// The server.
        server: SocketAddr,
        /// What went wrong.
        #[source]
        source: TransportError,
    },
    /// The server answered REFUSED.
    #[error("DNS server {server} REFUSED the {op} for zone {zone}; {}", refused_hint(.op, .key))]
    Refused {
        /// The server.
        server: SocketAddr,
        /// What was refused.
        op: Operation,
        /// The zone (for a query: the name asked).
        zone: Name,
        /// The key the request was signed with.
        key: Option<Name>,
    },
    /// The server answered NOTAUTH (RFC 2136 §2.2, RFC 8945 §5.4).
    #[error(
        "DNS server {server} answered NOTAUTH to the {op} for zone {zone}: it is not authoritative for the zone or did not accept the key; check the zone name, that this server is the zone's primary, and the key"
    )]
    NotAuth {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone.
        zone: Name,
    },
    /// The server answered NOTZONE: a name of the UPDATE is outside the zone.
    #[error(
        "A name in the UPDATE is outside zone {zone} (NOTZONE); check the zone name and that every record name ends in it"
    )]
    NotZone {
        /// The zone.
        zone: Name,
    },
    /// The server answered SERVFAIL.
    #[error(
        "DNS server {server} failed (SERVFAIL) on the {op} for zone {zone}; check the server's log (is the zone loaded, is its journal writable?)"
    )]
    ServFail {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone.
        zone: Name,
    },
    /// The server does not serve the zone.
    #[error(
        "Zone {zone} does not exist on DNS server {server} ({rcode} to the {op}); check the zone name and that the server serves it"
    )]
    ZoneNotFound {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: Name,
        /// What was attempted.
        op: Operation,
        /// What the server answered.
        rcode: Rcode,
    },
    /// The server does not know the key (TSIG BADKEY).
    #[error(
        "DNS server {server} does not know TSIG key {key} with algorithm {algorithm} (BADKEY); check the key name and algorithm against the server's key statement"
    )]
    BadKey {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: Name,
        /// The key's algorithm.
        algorithm: TsigAlgorithm,
    },
    /// The server could not verify our signature (TSIG BADSIG).
    #[error(
        "DNS server {server} rejected the signature of TSIG key {key} (BADSIG); check that the key's secret and algorithm match the server's"
    )]
    BadSig {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: Name,
    },
    /// The server found our clock too far from its own (TSIG BADTIME).
    #[error(
        "DNS server {server} rejected the time of our signature (BADTIME): its clock says {server_time}, ours {client_time}; check both clocks (NTP)"
    )]
    BadTime {
        /// The server.
        server: SocketAddr,
        /// The server's time, seconds since the epoch (0 when it did not say).
        server_time: u64,
        /// Our time, seconds since the epoch.
        client_time: u64,
    },
    /// Signing a request or verifying a response failed.
    #[error("TSIG check of the exchange with DNS server {server} failed")]
    Tsig {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        #[source]
        source: TsigError,
    },
    /// The response does not parse.
    #[error("Malformed response from DNS server {server}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        #[source]
        source: WireError,
    },
    /// The response parses but makes no sense for the request.
    #[error("Unexpected response from DNS server {server}: {reason}")]
    Unexpected {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// The server answered another error code.
    #[error("DNS server {server} answered {rcode} to the {op} for zone {zone}")]
    Rcode {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone (for a query: the name asked).
        zone: Name,
        /// The response code.
        rcode: Rcode,
    },
    /// The RRset's content is no longer what the change expected.
    #[error(
        "{name} {rtype} was changed by someone else since it was last read; read it again before changing it"
    )]
    Conflict {
        /// Owner name.
        name: Name,
        /// Type.
        rtype: RecordType,
    },
    /// The change cannot be expressed as an UPDATE (name outside the zone, wrong rdata type,
    /// meta-type, too large).
    #[error("Cannot build the UPDATE for zone {zone}")]
    Build {
        /// The zone.
        zone: Name,
        /// What was wrong.
        #[source]
        source: UpdateError,
    },
    /// The query cannot be encoded.
    #[error("Cannot encode the query for {name}")]
    Encode {
        /// The name asked.
        name: Name,
        /// What was wrong.
        #[source]
        source: WireError,
    },
    /// The server accepted the UPDATE, but the RRset read back right after it does not
    /// hold what the change wrote: the server ignored the change (RFC 2136 §3.4.2.2
    /// lets it, e.g. for a CNAME beside other data) or someone else changed it meanwhile.
    #[error("{name} {rtype} was not written: the server accepted the UPDATE, but right after it the zone holds {found}; {}", not_written_hint(.name, .rtype, .others))]
    NotWritten {
        /// Owner name.
        name: Name,
        /// Type.
        rtype: RecordType,
        /// What the zone held for the RRset when read back (records or "no such records").
        found: String,
        /// The other types at the name when read back.
        others: Vec<RecordType>,
    },
    /// The server accepted the UPDATE, but reading the zone back to check its effect
    /// failed, so whether the change took effect is unknown.
    #[error(
        "The UPDATE of zone {zone} was accepted but its effect could not be read back; run terraform plan to see what the zone holds"
    )]
    Unverified {
        /// The zone.
        zone: Name,
        /// Why the zone could not be read back.
        #[source]
        source: Box<DnsError>,
    },
    /// The task sending the zone's UPDATEs ended before answering this change.
    #[error(
        "The UPDATE for zone {zone} was abandoned before the server answered; read the zone again and retry"
    )]
    Abandoned {
        /// The zone.
        zone: Name,
    },
}

/// A client for one DNS server. Cheap to clone: clones share the zone snapshots, the write
/// queues and the message counter. Create one per configured server per process.
#[derive(Clone)]
pub struct DnsClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for DnsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DnsClient")
            .field("config", &self.inner.config)
            .field("messages_sent", &self.messages_sent())
            .finish_non_exhaustive()
    }
}

/// The cached snapshot of one zone; the async lock makes concurrent first readers wait for
/// one transfer.
type ZoneSlot = tokio::sync::Mutex<Option<Arc<ZoneSnapshot>>>;

struct Inner {
    config: ServerConfig,
    sent: Arc<AtomicU64>,
    zones: Mutex<HashMap<Name, Arc<ZoneSlot>>>,
    writes: Mutex<HashMap<Name, WriteQueue>>,
}

#[derive(Default)]
struct WriteQueue {
    pending: VecDeque<Pending>,
    /// Whether a task is sending this zone's UPDATEs.
    running: bool,
}

struct Pending {
    change: RrsetChange,
    reply: oneshot::Sender<Result<(), DnsError>>,
}

/// How an UPDATE of a batch ended.
enum BatchOutcome {
    Applied,
    /// A prerequisite failed (RFC 2136 §3.2.5): nothing was changed.
    Prerequisite(Rcode),
    /// The message would exceed the 64 KiB limit.
    TooLong(UpdateError),
    /// Any other failure, for every change of the batch.
    Failed(DnsError),
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // The maps stay consistent even if a holder panicked: every critical section is a
    // single insert, remove or take.
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

fn add_change(b: &mut UpdateBuilder, c: &RrsetChange) -> Result<(), UpdateError> {
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

impl DnsClient {
    /// A client for `config`. Sends nothing until used.
    pub fn new(config: ServerConfig) -> Self {
        Self {
            inner: Arc::new(Inner {
                config,
                sent: Arc::default(),
                zones: Mutex::default(),
                writes: Mutex::default(),
            }),
        }
    }

    /// The configuration.
    pub fn config(&self) -> &ServerConfig {
        &self.inner.config
    }

    /// Messages sent so far (queries, AXFR requests, UPDATEs, retries and TCP fallbacks
    /// included).
    pub fn messages_sent(&self) -> u64 {
        self.inner.sent.load(Ordering::Relaxed)
    }

    /// The zone's content, by AXFR (TSIG-verified), cached for the life of the client;
    /// concurrent first callers share one transfer (single-flight). A failed transfer is
    /// not cached: the next caller tries again.
    pub async fn zone(&self, zone: &Name) -> Result<Arc<ZoneSnapshot>, DnsError> {
        let slot = self.inner.slot(zone);
        let mut cached = slot.lock().await;
        if let Some(snapshot) = cached.as_ref() {
            return Ok(snapshot.clone());
        }
        let snapshot = Arc::new(self.inner.transfer(zone).await?);
        *cached = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Like [`zone`](Self::zone), but first asks the SOA serial (one message) and transfers
    /// again when it differs from the snapshot's.
    pub async fn zone_fresh(&self, zone: &Name) -> Result<Arc<ZoneSnapshot>, DnsError> {
        let serial = self.soa_serial(zone).await?;
        let slot = self.inner.slot(zone);
        let mut cached = slot.lock().await;
        if let Some(snapshot) = cached.as_ref() {
            if snapshot.serial == serial {
                return Ok(snapshot.clone());
            }
            tracing::debug!(%zone, cached = snapshot.serial, server = serial, "zone moved; transferring again");
        }
        let snapshot = Arc::new(self.inner.transfer(zone).await?);
        *cached = Some(snapshot.clone());
        Ok(snapshot)
    }

    /// Drops the cached snapshot so the next [`zone`](Self::zone) transfers again. A
    /// transfer already under way still answers its own callers.
    pub fn invalidate(&self, zone: &Name) {
        lock(&self.inner.zones).remove(zone);
    }

    /// Asks the server directly (not the snapshot) for one RRset; `None` when the name or
    /// the type does not exist. For data sources.
    pub async fn query(&self, name: &Name, rtype: RecordType) -> Result<Option<RrSet>, DnsError> {
        let response = self.inner.query(name, rtype).await?;
        let server = response.0;
        let msg = response.1;
        match msg.rcode() {
            Rcode::NOERROR | Rcode::NXDOMAIN => {}
            rcode => {
                return Err(self
                    .inner
                    .rcode_error(server, rcode, Operation::Query, name));
            }
        }
        Ok(collect_rrset(name, rtype, msg.answers))
    }

    /// The zone's current SOA serial, by one SOA query.
    pub async fn soa_serial(&self, zone: &Name) -> Result<u32, DnsError> {
        let (server, msg) = self.inner.query(zone, RecordType::Soa).await?;
        let rcode = msg.rcode();
        let not_found = || DnsError::ZoneNotFound {
            server,
            zone: zone.clone(),
            op: Operation::Query,
            rcode,
        };
        match rcode {
            Rcode::NOERROR => {}
            // An authoritative-only server such as BIND answers REFUSED for names in no zone
            // it serves.
            Rcode::NXDOMAIN | Rcode::NOTAUTH | Rcode::REFUSED => return Err(not_found()),
            rcode => {
                return Err(self
                    .inner
                    .rcode_error(server, rcode, Operation::Query, zone));
            }
        }
        msg.answers
            .iter()
            .find_map(|rr| match &rr.rdata {
                RData::Soa { serial, .. } if rr.name == *zone => Some(*serial),
                _ => None,
            })
            .ok_or_else(not_found)
    }

    /// Applies one RRset change; concurrent changes for the same zone are coalesced into
    /// one UPDATE (see the module docs). After success the cached snapshot, if any, holds
    /// the change.
    pub async fn change(&self, zone: &Name, change: RrsetChange) -> Result<(), DnsError> {
        // Check the change alone first, so one bad change cannot fail a whole batch.
        add_change(&mut UpdateBuilder::new(zone.clone()), &change).map_err(|source| {
            DnsError::Build {
                zone: zone.clone(),
                source,
            }
        })?;
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut writes = lock(&self.inner.writes);
            let queue = writes.entry(zone.clone()).or_default();
            queue.pending.push_back(Pending { change, reply });
            !std::mem::replace(&mut queue.running, true)
        };
        if start {
            let inner = self.inner.clone();
            let zone = zone.clone();
            tokio::spawn(async move { inner.drive_writes(zone).await });
        }
        answer
            .await
            .unwrap_or_else(|_| Err(DnsError::Abandoned { zone: zone.clone() }))
    }
}

/// Marks a zone's write queue idle and drops what is queued (their callers get
/// [`DnsError::Abandoned`]) if the writer task ends without emptying it, e.g. on panic.
struct WriterGuard<'a> {
    inner: &'a Inner,
    zone: &'a Name,
    armed: bool,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            lock(&self.inner.writes).remove(self.zone);
        }
    }
}

impl Inner {
    fn slot(&self, zone: &Name) -> Arc<ZoneSlot> {
        lock(&self.zones).entry(zone.clone()).or_default().clone()
    }

    fn udp(&self) -> bool {
        self.config.transport == Transport::UdpWithTcpFallback
    }

    async fn endpoint(&self) -> Result<Endpoint, DnsError> {
        let server = transport::resolve(&self.config.address)
            .await
            .map_err(|source| DnsError::Address {
                address: self.config.address.clone(),
                source,
            })?;
        Ok(Endpoint {
            server,
            timeout: self.config.timeout,
            retries: self.config.retries,
            sent: self.sent.clone(),
        })
    }

    fn sign(
        &self,
        server: SocketAddr,
        request: &mut Vec<u8>,
    ) -> Result<Option<RequestMac>, DnsError> {
        match &self.config.tsig {
            None => Ok(None),
            Some(key) => tsig::sign_request(request, key, now_secs())
                .map(Some)
                .map_err(|source| DnsError::Tsig { server, source }),
        }
    }

    /// Parses a response, verifying its signature when the request was signed. An
    /// unsigned error response to a signed request is reported by its rcode, since it
    /// only makes the operation fail.
    fn verify(
        &self,
        server: SocketAddr,
        bytes: &[u8],
        mac: Option<&RequestMac>,
        op: Operation,
        zone: &Name,
    ) -> Result<Message, DnsError> {
        let (Some(key), Some(mac)) = (&self.config.tsig, mac) else {
            return Message::parse(bytes).map_err(|source| DnsError::Malformed { server, source });
        };
        tsig::verify_response(bytes, key, mac, now_secs())
            .map_err(|e| self.tsig_error(server, e, op, zone))
    }

    fn tsig_error(&self, server: SocketAddr, e: TsigError, op: Operation, zone: &Name) -> DnsError {
        match e {
            TsigError::BadSig { key } => DnsError::BadSig { server, key },
            TsigError::BadKey { key, algorithm } => DnsError::BadKey {
                server,
                key,
                algorithm,
            },
            TsigError::BadTime {
                server_time,
                client_time,
            } => DnsError::BadTime {
                server,
                server_time,
                client_time,
            },
            TsigError::Unsigned { rcode, .. } if rcode != Rcode::NOERROR => {
                self.rcode_error(server, rcode, op, zone)
            }
            TsigError::Wire(source) => DnsError::Malformed { server, source },
            source => DnsError::Tsig { server, source },
        }
    }

    fn rcode_error(
        &self,
        server: SocketAddr,
        rcode: Rcode,
        op: Operation,
        zone: &Name,
    ) -> DnsError {
        let zone = zone.clone();
        match rcode {
            Rcode::REFUSED => DnsError::Refused {
                server,
                op,
                zone,
                key: self.config.tsig.as_ref().map(|k| k.name.clone()),
            },
            Rcode::NOTAUTH | Rcode::NXDOMAIN if op == Operation::Transfer => {
                DnsError::ZoneNotFound {
                    server,
                    zone,
                    op,
                    rcode,
                }
            }
            Rcode::NOTAUTH => DnsError::NotAuth { server, op, zone },
            Rcode::NOTZONE => DnsError::NotZone { zone },
            Rcode::SERVFAIL => DnsError::ServFail { server, op, zone },
            rcode => DnsError::Rcode {
                server,
                op,
                zone,
                rcode,
            },
        }
    }

    fn network_error(server: SocketAddr, e: TransportError) -> DnsError {
        match e {
            TransportError::Timeout {
                server,
                timeout,
                attempts,
            } => DnsError::Timeout {
                server,
                timeout,
                attempts,
            },
            TransportError::ConnectionRefused { server } => DnsError::ConnectionRefused { server },
            source => DnsError::Network { server, source },
        }
    }

    /// One query, signed if a key is set; the response verified but its rcode unchecked.
    async fn query(
        &self,
        name: &Name,
        rtype: RecordType,
    ) -> Result<(SocketAddr, Message), DnsError> {
        let ep = self.endpoint().await?;
        let mut q = Message::query(transport::random_id(), name.clone(), rtype);
        q.edns = Some(Edns::new(EDNS_UDP_SIZE));
        let mut request = q.to_bytes().map_err(|source| DnsError::Encode {
            name: name.clone(),
            source,
        })?;
        let mac = self.sign(ep.server, &mut request)?;
        let started = Instant::now();
        let bytes = transport::exchange(&ep, &request, self.udp())
            .await
            .map_err(|e| Self::network_error(ep.server, e))?;
        let msg = self.verify(ep.server, &bytes, mac.as_ref(), Operation::Query, name)?;
        tracing::debug!(%name, %rtype, rcode = %msg.rcode(), elapsed_ms = started.elapsed().as_millis() as u64, sent = self.sent.load(Ordering::Relaxed), "DNS query answered");
        Ok((ep.server, msg))
    }

    /// Transfers the whole zone by AXFR over TCP (RFC 5936), verifying the TSIG of the
    /// message stream when a key is set (RFC 8945 §5.3.1).
    async fn transfer(&self, zone: &Name) -> Result<ZoneSnapshot, DnsError> {
        let ep = self.endpoint().await?;
        let server = ep.server;
        let mut request = Message::query(transport::random_id(), zone.clone(), RecordType::Axfr)
            .to_bytes()
            .map_err(|source| DnsError::Encode {
                name: zone.clone(),
                source,
            })?;
        let mac = self.sign(server, &mut request)?;
        let started = Instant::now();
        let mut reader = TcpStreamReader::open(&ep, &request)
            .await
            .map_err(|e| Self::network_error(ep.server, e))?;
        let mut verifier = match (&self.config.tsig, &mac) {
            (Some(key), Some(mac)) => Some(StreamVerifier::new(key.clone(), mac)),
            _ => None,
        };
        let mut builder = SnapshotBuilder::new(zone.clone());
        let unexpected = |reason| DnsError::Unexpected { server, reason };
        let mut messages = 0u64;
        loop {
            let bytes = reader
                .next_message()
                .await
                .map_err(|e| Self::network_error(ep.server, e))?;
            messages += 1;
            let msg = match verifier.as_mut() {
                Some(v) => v
                    .verify(&bytes, now_secs())
                    .map_err(|e| self.tsig_error(server, e, Operation::Transfer, zone))?,
                None => Message::parse(&bytes)
                    .map_err(|source| DnsError::Malformed { server, source })?,
            };
            if msg.rcode() != Rcode::NOERROR {
                return Err(self.rcode_error(server, msg.rcode(), Operation::Transfer, zone));
            }
            let mut done = false;
            for rr in msg.answers {
                if builder.push(rr).map_err(unexpected)? == Progress::Done {
                    done = true;
                    break;
                }
            }
            if done {
                break;
            }
        }
        if let Some(v) = &verifier {
            v.finish()
                .map_err(|source| DnsError::Tsig { server, source })?;
        }
        let records = builder.records;
        let snapshot = builder.finish().map_err(unexpected)?;
        tracing::debug!(%zone, serial = snapshot.serial, records, rrsets = snapshot.len(), messages, elapsed_ms = started.elapsed().as_millis() as u64, sent = self.sent.load(Ordering::Relaxed), "zone transferred");
        Ok(snapshot)
    }

    /// Sends the zone's queued changes, batch after batch, until the queue is empty. Each
    /// batch waits [`COALESCE_WINDOW`] first, so changes that arrive together share one
    /// UPDATE.
    async fn drive_writes(self: Arc<Self>, zone: Name) {
        let mut guard = WriterGuard {
            inner: &self,
            zone: &zone,
            armed: true,
        };
        loop {
            // Let the changes that arrive together gather before the UPDATE goes out.
            tokio::time::sleep(COALESCE_WINDOW).await;
            let batch = {
                let mut writes = lock(&self.writes);
                let Some(queue) = writes.get_mut(&zone) else {
                    break;
                };
                let batch = take_batch(&mut queue.pending);
                if batch.is_empty() {
                    writes.remove(&zone);
                    break;
                }
                batch
            };
            self.run_batch(&zone, batch).await;
        }
        guard.armed = false;
    }

    /// Sends `batch` as one UPDATE, splitting it when a prerequisite fails or it is too
    /// long, and answers every caller.
    async fn run_batch(&self, zone: &Name, batch: Vec<Pending>) {
        let mut groups = vec![batch];
        while let Some(mut group) = groups.pop() {
            let outcome = self.send_update(zone, &group).await;
            match outcome {
                BatchOutcome::Applied => {
                    let results = self.read_back(zone, &group).await;
                    for (p, result) in group.into_iter().zip(results) {
                        let _ = p.reply.send(result);
                    }
                }
                // A REFUSED can be about one change's data (BIND's check-mx, check-names),
                // so it is split like a prerequisite failure: the other changes still go in.
                BatchOutcome::Prerequisite(_)
                | BatchOutcome::TooLong(_)
                | BatchOutcome::Failed(DnsError::Refused { .. })
                    if group.len() > 1 =>
                {
                    let second = group.split_off(group.len() / 2);
                    tracing::debug!(%zone, first = group.len(), second = second.len(), "splitting the UPDATE batch");
                    groups.push(second);
                    groups.push(group);
                }
                BatchOutcome::Prerequisite(rcode) => {
                    for p in group {
                        tracing::debug!(%zone, name = %p.change.name, rtype = %p.change.rtype, %rcode, "prerequisite failed");
                        let _ = p.reply.send(Err(DnsError::Conflict {
                            name: p.change.name,
                            rtype: p.change.rtype,
                        }));
                    }
                }
                BatchOutcome::TooLong(source) => {
                    let err = DnsError::Build {
                        zone: zone.clone(),
                        source,
                    };
                    for p in group {
                        let _ = p.reply.send(Err(err.clone()));
                    }
                }
                BatchOutcome::Failed(err) => {
                    if matches!(err, DnsError::Timeout { .. } | DnsError::Network { .. }) {
                        // The server may still carry the UPDATE out: the snapshot can no
                        // longer tell what the zone holds.
                        self.forget(zone).await;
                    }
                    for p in group {
                        let _ = p.reply.send(Err(err.clone()));
                    }
                }
            }
        }
    }

    async fn send_update(&self, zone: &Name, group: &[Pending]) -> BatchOutcome {
        let mut builder = UpdateBuilder::new(zone.clone());
        for p in group {
            if let Err(source) = add_change(&mut builder, &p.change) {
                return BatchOutcome::Failed(DnsError::Build {
                    zone: zone.clone(),
                    source,
                });
            }
        }
        let mut request = match builder.build(transport::random_id()) {
            Ok(r) => r,
            Err(e @ UpdateError::Wire(WireError::TooLong { .. })) => {
                return BatchOutcome::TooLong(e);
            }
            Err(source) => {
                return BatchOutcome::Failed(DnsError::Build {
                    zone: zone.clone(),
                    source,
                });
            }
        };
        let result = async {
            let ep = self.endpoint().await?;
            let mac = self.sign(ep.server, &mut request)?;
            let started = Instant::now();
            let bytes = transport::exchange(&ep, &request, self.udp())
                .await
                .map_err(|e| Self::network_error(ep.server, e))?;
            let msg = self.verify(ep.server, &bytes, mac.as_ref(), Operation::Update, zone)?;
            tracing::debug!(%zone, changes = group.len(), bytes = request.len(), rcode = %msg.rcode(), elapsed_ms = started.elapsed().as_millis() as u64, sent = self.sent.load(Ordering::Relaxed), "UPDATE answered");
            Ok::<_, DnsError>((ep.server, msg.rcode()))
        }
        .await;
        match result {
            Err(e) => BatchOutcome::Failed(e),
            Ok((_, Rcode::NOERROR)) => BatchOutcome::Applied,
            Ok((
                _,
                rcode @ (Rcode::YXDOMAIN | Rcode::YXRRSET | Rcode::NXDOMAIN | Rcode::NXRRSET),
            )) => BatchOutcome::Prerequisite(rcode),
            Ok((server, rcode)) => {
                BatchOutcome::Failed(self.rcode_error(server, rcode, Operation::Update, zone))
            }
        }
    }

    /// Reads back every RRset of `group` after an UPDATE the server accepted: a server may
    /// answer NOERROR and still ignore part of an UPDATE (RFC 2136 §3.4.2.2: a CNAME beside
    /// other data, the apex SOA and NS), so NOERROR alone never counts as written. One
    /// query per change (the cost grows with the changes, not with the zone); a change the
    /// query does not confirm (or a query that fails) is judged on a zone transfer, which
    /// also sees data a query answers with a referral (NS below the apex, glue). The cached
    /// snapshot gets what was read, so later reads in this process see our writes as the
    /// server holds them. Returns one result per change, in order.
    async fn read_back(&self, zone: &Name, group: &[Pending]) -> Vec<Result<(), DnsError>> {
        let mut results: Vec<Option<Result<(), DnsError>>> = Vec::with_capacity(group.len());
        let mut confirmed = Vec::new();
        for p in group {
            let c = &p.change;
            match self.read_rrset(&c.name, c.rtype).await {
                Ok(found) if written(c, found.as_ref()) => {
                    results.push(Some(Ok(())));
                    confirmed.push((c.name.clone(), c.rtype, found));
                }
                Ok(_) => results.push(None),
                Err(e) => {
                    tracing::debug!(%zone, name = %c.name, rtype = %c.rtype, error = %e, "read-back query failed; reading the zone");
                    results.push(None);
                }
            }
        }
        let slot = self.slot(zone);
        let mut cached = slot.lock().await;
        if results.iter().all(Option::is_some) {
            if let Some(snapshot) = cached.as_ref() {
                let mut next = ZoneSnapshot::clone(snapshot);
                for (name, rtype, found) in confirmed {
                    next.set(name, rtype, found);
                }
                *cached = Some(Arc::new(next));
            }
            return results.into_iter().flatten().collect();
        }
        let fresh = match self.transfer(zone).await {
            Ok(fresh) => fresh,
            Err(e) => {
                tracing::warn!(%zone, error = %e, "cannot read the zone back after an UPDATE");
                *cached = None;
                let err = DnsError::Unverified {
                    zone: zone.clone(),
                    source: Box::new(e),
                };
                return results
                    .into_iter()
                    .map(|r| r.unwrap_or_else(|| Err(err.clone())))
                    .collect();
            }
        };
        let results = group
            .iter()
            .zip(results)
            .map(|(p, r)| r.unwrap_or_else(|| judge(&fresh, &p.change)))
            .collect();
        *cached = Some(Arc::new(fresh));
        results
    }

    /// One RRset as the server answers it now, by a query (not the snapshot).
    async fn read_rrset(&self, name: &Name, rtype: RecordType) -> Result<Option<RrSet>, DnsError> {
        let (server, msg) = self.query(name, rtype).await?;
        match msg.rcode() {
            Rcode::NOERROR | Rcode::NXDOMAIN => Ok(collect_rrset(name, rtype, msg.answers)),
            rcode => Err(self.rcode_error(server, rcode, Operation::Query, name)),
        }
    }

    /// Drops the zone's cached snapshot, waiting for a transfer under way to end first.
    async fn forget(&self, zone: &Name) {
        let slot = self.slot(zone);
        *slot.lock().await = None;
    }
}

/// The records of `name`/`rtype` among a response's answers (a CNAME the server followed
/// is not part of it).
fn collect_rrset(name: &Name, rtype: RecordType, answers: Vec<Record>) -> Option<RrSet> {
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

/// Whether the zone as transferred holds what `change` wrote; when not, the error says
/// what the name holds.
fn judge(fresh: &ZoneSnapshot, change: &RrsetChange) -> Result<(), DnsError> {
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
fn written(change: &RrsetChange, found: Option<&RrSet>) -> bool {
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
fn take_batch(pending: &mut VecDeque<Pending>) -> Vec<Pending> {
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
    use super::*;

    fn name(s: &str) -> Name {
        Name::parse(s).unwrap()
    }

    fn a(ip: &str) -> RData {
        RData::A(ip.parse().unwrap())
    }

    fn soa(serial: u32) -> Record {
        Record::new(
            name("farm."),
            300,
            RData::Soa {
                mname: name("ns1.farm."),
                rname: name("hostmaster.farm."),
                serial,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 300,
            },
        )
    }

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

    #[test]
    fn errors_say_what_to_check() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let refused = DnsError::Refused {
            server,
            op: Operation::Update,
            zone: name("farm."),
            key: Some(name("k.")),
        }
        .to_string();
        assert!(
            refused.contains("update-policy") && refused.contains("k."),
            "{refused}"
        );
        let refused = DnsError::Refused {
            server,
            op: Operation::Transfer,
            zone: name("farm."),
            key: Some(name("k.")),
        }
        .to_string();
        assert!(refused.contains("allow-transfer"), "{refused}");
        let conflict = DnsError::Conflict {
            name: name("www.farm."),
            rtype: RecordType::A,
        }
        .to_string();
        assert!(
            conflict.starts_with("www.farm. A was changed"),
            "{conflict}"
        );
    }

    #[test]
    fn debug_of_the_client_hides_the_secret() {
        let key = TsigKey::from_base64("k", "hmac-sha256", "c2VjcmV0c2VjcmV0").unwrap();
        let mut config = ServerConfig::new("127.0.0.1:53");
        config.tsig = Some(key);
        let text = format!("{:?}", DnsClient::new(config));
        assert!(!text.contains("c2VjcmV0c2VjcmV0"), "{text}");
        assert!(text.contains("redacted"), "{text}");
    }
}
