//! [`SwitchClient`]: one switch's connection, its snapshot read once and served from
//! memory, and the writer that applies each batch of queued changes as one transaction.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use tokio::sync::oneshot;

use super::model::{Change, Snapshot};
use super::transport::{self, Address, Connection};
use super::{OvsdbError, txn};
use crate::kea::Secret;
use crate::sync::lock;

/// How long the writer waits, before taking its first batch, for changes that arrive
/// together: Terraform hands the provider one resource at a time, a few milliseconds
/// apart, and a switch applies a batch of ports in one transaction as fast as one port.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(20);

/// How many times a batch is built again on a fresh read when its `wait` operations fail
/// (someone else wrote between the read and the write); two writers settle in one or two.
const ATTEMPTS: usize = 4;

/// How long ovs-vswitchd may take to apply a transaction (`cur_cfg` reaching `next_cfg`):
/// it applied one in under 2 ms on this project's machines, but reconfiguring many
/// system interfaces on a busy switch takes seconds.
const APPLY_LIMIT: Duration = Duration::from_secs(20);

/// How long each `wait` for `cur_cfg` blocks in the server before the client reads
/// `cur_cfg` itself (it may have passed the target, which `==` cannot see).
const CUR_CFG_POLL_MS: u64 = 500;

/// How long a connection or a request may take unless configured.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// How to reach one switch's ovsdb-server.
#[derive(Debug, Clone)]
pub struct SwitchConfig {
    /// `tcp:HOST:PORT`, `ssl:HOST:PORT` or `unix:PATH`.
    pub address: String,
    /// PEM CA certificate(s) of the switch (`ssl:` only).
    pub ca_cert_pem: Option<String>,
    /// PEM client certificate (`ssl:` only).
    pub client_cert_pem: Option<String>,
    /// PEM private key of the client certificate.
    pub client_key_pem: Option<Secret>,
    /// How long connecting and each request may take.
    pub timeout: Duration,
}

impl SwitchConfig {
    /// `address` without TLS settings and the default timeout.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            ca_cert_pem: None,
            client_cert_pem: None,
            client_key_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

struct Pending {
    change: Change,
    reply: oneshot::Sender<Result<(), OvsdbError>>,
}

#[derive(Default)]
struct Queue {
    pending: Vec<Pending>,
    running: bool,
}

struct Inner {
    config: SwitchConfig,
    address: Address,
    tls: Option<Arc<rustls::ClientConfig>>,
    conn: tokio::sync::Mutex<Option<Arc<Connection>>>,
    cache: tokio::sync::Mutex<Option<Arc<Snapshot>>>,
    queue: Mutex<Queue>,
    reads: AtomicU64,
    transactions: AtomicU64,
}

/// A client for one switch. Cheap to clone: clones share the connection, the snapshot
/// and the write queue. Create one per switch per process.
#[derive(Clone)]
pub struct SwitchClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for SwitchClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SwitchClient")
            .field("config", &self.inner.config)
            .finish_non_exhaustive()
    }
}

impl SwitchClient {
    /// A client for `config`. Connects when first used.
    pub fn new(config: SwitchConfig) -> Result<Self, OvsdbError> {
        let address = Address::parse(config.address.trim())?;
        let tls_set = config.ca_cert_pem.is_some()
            || config.client_cert_pem.is_some()
            || config.client_key_pem.is_some();
        let tls = match &address {
            Address::Ssl(..) => Some(Arc::new(transport::tls_config(
                config.ca_cert_pem.as_deref(),
                config.client_cert_pem.as_deref(),
                config.client_key_pem.as_ref(),
            )?)),
            _ if tls_set => {
                return Err(OvsdbError::Tls(
                    "ca_cert, client_cert or client_key are set but the address is not ssl:".into(),
                ));
            }
            _ => None,
        };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                address,
                tls,
                conn: tokio::sync::Mutex::new(None),
                cache: tokio::sync::Mutex::new(None),
                queue: Mutex::default(),
                reads: AtomicU64::new(0),
                transactions: AtomicU64::new(0),
            }),
        })
    }

    /// The switch's address.
    pub fn address(&self) -> &Address {
        &self.inner.address
    }

    /// Reads of the switch's tables so far (one `transact` of four `select`s each).
    pub fn reads_made(&self) -> u64 {
        self.inner.reads.load(Ordering::Relaxed)
    }

    /// Write transactions sent so far.
    pub fn transactions_made(&self) -> u64 {
        self.inner.transactions.load(Ordering::Relaxed)
    }

    /// The switch as read: once, then from memory until this client's next write.
    /// Concurrent first callers share the read; a failed read is not cached.
    pub async fn snapshot(&self) -> Result<Arc<Snapshot>, OvsdbError> {
        let mut cache = self.inner.cache.lock().await;
        if let Some(s) = cache.as_ref() {
            return Ok(s.clone());
        }
        let result = self.call_retrying("transact", txn::read_params()).await?;
        self.inner.reads.fetch_add(1, Ordering::Relaxed);
        if let Some((_, e)) = txn::first_error(&result, 4) {
            return Err(OvsdbError::Transaction(e));
        }
        let snap = Arc::new(Snapshot::parse(&result)?);
        *cache = Some(snap.clone());
        Ok(snap)
    }

    /// Drops the snapshot: the next read asks the switch again.
    pub async fn invalidate(&self) {
        *self.inner.cache.lock().await = None;
    }

    /// Applies `change`. Changes that arrive together share one transaction. `Ok` means
    /// the switch committed it, ovs-vswitchd applied it, and every interface it created
    /// or reconfigured has an OpenFlow port and no error.
    pub async fn apply(&self, change: Change) -> Result<(), OvsdbError> {
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = lock(&self.inner.queue);
            q.pending.push(Pending { change, reply });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let me = self.clone();
            tokio::spawn(async move { me.write_loop().await });
        }
        answer.await.unwrap_or_else(|_| {
            Err(OvsdbError::Protocol(
                "the writer stopped before answering".into(),
            ))
        })
    }

    async fn write_loop(self) {
        tokio::time::sleep(COALESCE_WINDOW).await;
        loop {
            let group = {
                let mut q = lock(&self.inner.queue);
                if q.pending.is_empty() {
                    q.running = false;
                    return;
                }
                std::mem::take(&mut q.pending)
            };
            self.write_group(group).await;
        }
    }

    /// Writes `group`, answering every caller in it.
    async fn write_group(&self, group: Vec<Pending>) {
        let mut group = group;
        for _ in 0..ATTEMPTS {
            // Whether the snapshot is this batch's own read, not one cached earlier.
            let fresh = self.inner.cache.lock().await.is_none();
            let snap = match self.snapshot().await {
                Ok(s) => s,
                Err(e) => return fail(group, &e),
            };
            let mut accepted = Vec::new();
            for p in group {
                if txn::in_effect(&snap, &p.change) {
                    let _ = p.reply.send(Ok(()));
                } else if let Err(e) = txn::check(&snap, &p.change) {
                    let _ = p.reply.send(Err(e));
                } else {
                    accepted.push(p);
                }
            }
            if accepted.is_empty() {
                return;
            }
            let changes: Vec<Change> = accepted.iter().map(|p| p.change.clone()).collect();
            let t = txn::build(&snap, &changes);
            let ops = t.params.as_array().map_or(0, |a| a.len().saturating_sub(1));
            let sent = self.call("transact", t.params.clone()).await;
            self.inner.transactions.fetch_add(1, Ordering::Relaxed);
            self.invalidate().await;
            let result = match sent {
                Ok(r) => r,
                Err(e) => return fail(accepted, &e),
            };
            match txn::first_error(&result, ops) {
                None => return self.confirm(&t, &result, accepted).await,
                // A wait failed: someone else wrote since the read. Read again.
                Some((Some(i), _)) if i < t.waits => group = accepted,
                // Refused on a snapshot read earlier (a name taken since, say): check
                // the changes again on a fresh read before blaming them.
                Some(_) if !fresh => group = accepted,
                Some((_, text)) if accepted.len() > 1 => {
                    // Find out which change the switch refuses: each on its own.
                    tracing::debug!(error = %text, "batch refused; writing its changes one by one");
                    for p in accepted {
                        Box::pin(self.write_group(vec![p])).await;
                    }
                    return;
                }
                Some((_, text)) => return fail(accepted, &OvsdbError::Transaction(text)),
            }
        }
        fail(group, &OvsdbError::Contended(ATTEMPTS));
    }

    /// After a committed transaction: waits for ovs-vswitchd to apply it, then checks the
    /// interfaces it created or reconfigured, and answers each change.
    async fn confirm(&self, t: &txn::Transaction, result: &Value, group: Vec<Pending>) {
        let target = result
            .get(t.next_cfg_op)
            .and_then(|r| r.pointer("/rows/0/next_cfg"))
            .and_then(Value::as_i64);
        let checked = match target {
            Some(target) => self.wait_applied(target, &t.interfaces).await,
            None => Err(OvsdbError::Protocol(format!("no next_cfg in {result}"))),
        };
        match checked {
            Err(e) => fail(group, &e),
            Ok(failed) => {
                for p in group {
                    let own = failed.iter().find(|(name, _)| owns(&p.change, name));
                    let _ = p.reply.send(match own {
                        Some((name, reason)) => Err(OvsdbError::InterfaceFailed {
                            interface: name.clone(),
                            reason: reason.clone(),
                        }),
                        None => Ok(()),
                    });
                }
            }
        }
    }

    /// Waits until `cur_cfg` reaches `target`, then returns the interfaces of `names`
    /// that failed, with why.
    async fn wait_applied(
        &self,
        target: i64,
        names: &[String],
    ) -> Result<Vec<(String, String)>, OvsdbError> {
        let start = Instant::now();
        loop {
            let r = self
                .call(
                    "transact",
                    txn::wait_cur_cfg_params(target, CUR_CFG_POLL_MS),
                )
                .await?;
            let reached = txn::first_error(&r, 1).is_none();
            let check = self.call("transact", txn::check_params(names)).await?;
            let cur = check
                .pointer("/0/rows/0/cur_cfg")
                .and_then(Value::as_i64)
                .unwrap_or(0);
            if reached || cur >= target {
                let mut failed = Vec::new();
                for (i, name) in names.iter().enumerate() {
                    let row = check.pointer(&format!("/{}/rows/0", i + 1));
                    let error = row
                        .and_then(|r| r.get("error"))
                        .and_then(super::datum::opt_string);
                    let ofport = row
                        .and_then(|r| r.get("ofport"))
                        .and_then(super::datum::opt_int);
                    if let Some(e) = error {
                        failed.push((name.clone(), e));
                    } else if ofport == Some(-1) {
                        failed.push((name.clone(), "ovs-vswitchd gave it no OpenFlow port".into()));
                    }
                }
                return Ok(failed);
            }
            if start.elapsed() > APPLY_LIMIT {
                return Err(OvsdbError::NotApplied(APPLY_LIMIT));
            }
        }
    }

    async fn connection(&self) -> Result<Arc<Connection>, OvsdbError> {
        let mut slot = self.inner.conn.lock().await;
        if let Some(c) = slot.as_ref().filter(|c| c.is_open()) {
            return Ok(c.clone());
        }
        let c = Arc::new(
            Connection::open(
                &self.inner.address,
                self.inner.tls.clone(),
                self.inner.config.timeout,
            )
            .await?,
        );
        *slot = Some(c.clone());
        Ok(c)
    }

    async fn call(&self, method: &str, params: Value) -> Result<Value, OvsdbError> {
        self.connection()
            .await?
            .call(method, params, self.inner.config.timeout)
            .await
    }

    /// [`Self::call`] for reads: once more on a new connection when the old one broke
    /// (ovsdb-server drops connections that stayed idle past its probe interval).
    async fn call_retrying(&self, method: &str, params: Value) -> Result<Value, OvsdbError> {
        match self.call(method, params.clone()).await {
            Err(OvsdbError::Connect { .. }) => {
                *self.inner.conn.lock().await = None;
                self.call(method, params).await
            }
            other => other,
        }
    }
}

/// Whether interface `name` is one `change` creates or configures.
fn owns(change: &Change, name: &str) -> bool {
    match change {
        Change::Bridge { name: b, .. } => b == name,
        Change::Port { want: Some(w), .. } => w.interfaces.iter().any(|i| i.name == name),
        _ => false,
    }
}

fn fail(group: Vec<Pending>, e: &OvsdbError) {
    for p in group {
        let _ = p.reply.send(Err(e.clone()));
    }
}
