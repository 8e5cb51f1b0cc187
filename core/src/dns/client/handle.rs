//! The client handle: cached zone reads (one AXFR per zone), queries, and the task that
//! sends each zone's queued changes as one UPDATE.

use std::collections::HashMap;
use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use tokio::sync::oneshot;

use super::batch::{BatchOutcome, Pending, WriteQueue, add_change, judge, take_batch, written};
use super::config::{
    COALESCE_WINDOW, EDNS_UDP_SIZE, MAX_CONCURRENT_TRANSFERS, ServerConfig, Transport,
};
use super::error::{DnsError, Operation};
use super::snapshot::{Progress, RrSet, RrsetChange, SnapshotBuilder, ZoneSnapshot, collect_rrset};
use crate::dns::message::{Edns, Message, Rcode};
use crate::dns::name::Name;
use crate::dns::rdata::{RData, RecordType};
use crate::dns::transport::{self, Endpoint, TcpStreamReader, TransportError};
use crate::dns::tsig::{self, RequestMac, StreamVerifier, TsigError};
use crate::dns::update::{UpdateBuilder, UpdateError};
use crate::dns::wire::WireError;
use crate::sync::lock;

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
    /// Slots for zone transfers ([`MAX_CONCURRENT_TRANSFERS`]).
    transfers: tokio::sync::Semaphore,
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
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
                transfers: tokio::sync::Semaphore::new(MAX_CONCURRENT_TRANSFERS),
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

    /// Signs `request` (with the TSIG key, if any), sends it to `ep` (UDP first where
    /// the client uses UDP) and returns the verified answer.
    async fn signed_exchange(
        &self,
        ep: &Endpoint,
        request: &mut Vec<u8>,
        op: Operation,
        zone: &Name,
    ) -> Result<Message, DnsError> {
        let mac = self.sign(ep.server, request)?;
        let bytes = transport::exchange(ep, request, self.udp())
            .await
            .map_err(|e| Self::network_error(ep.server, e))?;
        self.verify(ep.server, &bytes, mac.as_ref(), op, zone)
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
        let started = Instant::now();
        let msg = self
            .signed_exchange(&ep, &mut request, Operation::Query, name)
            .await?;
        tracing::debug!(%name, %rtype, rcode = %msg.rcode(), elapsed_ms = started.elapsed().as_millis() as u64, sent = self.sent.load(Ordering::Relaxed), "DNS query answered");
        Ok((ep.server, msg))
    }

    /// Transfers the whole zone by AXFR over TCP (RFC 5936), verifying the TSIG of the
    /// message stream when a key is set (RFC 8945 §5.3.1).
    async fn transfer(&self, zone: &Name) -> Result<ZoneSnapshot, DnsError> {
        // The semaphore is never closed, so a permit always comes.
        let _slot = self.transfers.acquire().await.ok();
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
            let started = Instant::now();
            let msg = self
                .signed_exchange(&ep, &mut request, Operation::Update, zone)
                .await?;
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dns::tsig::TsigKey;

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
