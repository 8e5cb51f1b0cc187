//! The client handle: the configuration fetched once and served from memory, lease
//! queries, and the task that writes each batch of queued changes with one
//! `config-get`, `config-set` and `config-write`.

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use reqwest::header::CONTENT_TYPE;
use serde_json::Value;
use tokio::sync::oneshot;

use super::settings::{KeaConfig, Secret, tls_config, tls_error};
use super::writes::{
    Attempt, Expect, Pending, WriteQueue, apply_each, apply_one, fail, lost_changes,
};
use crate::kea::KeaError;
use crate::kea::commands::{self, Answer, Command, Lease4, ResultCode};
use crate::kea::config::{self, Change, Reservation, config_hash};
use crate::net::{Cidr, MacAddress};
use crate::sync::lock;

/// How long a writer that starts waits, before taking its first batch, for changes that
/// arrive together. Terraform hands the provider one resource at a time, some
/// milliseconds apart, with at most `-parallelism` (10) in flight, and every batch costs a
/// whole-configuration `config-get` and `config-set` (tens of milliseconds each with
/// hundreds of reservations, mostly Kea's CPU). Later batches do not wait: they take what
/// queued while the previous one was written, and what arrives during their own
/// `config-get`.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(30);

/// How many times a batch is applied again when the read-back after its write shows that
/// another writer's `config-set` replaced it: each round costs a `config-get`, a
/// `config-set` and a `config-write`, and two writers racing settle in one or two.
const REWRITES: usize = 4;

/// How much of an unexpected HTTP body goes into an error message.
const BODY_EXCERPT: usize = 300;

/// Which leases to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseQuery {
    /// Every lease in the subnet with this CIDR (`lease4-get-all`).
    Subnet(Cidr),
    /// The leases of this MAC address (`lease4-get-by-hw-address`).
    HwAddress(MacAddress),
    /// Every lease of every subnet (`lease4-get-all` without arguments).
    All,
}

/// The server's configuration as fetched (also the read-back after our own writes), with
/// its hash; `None` marks a configuration not in Kea's own form, which is never the base
/// of a write.
#[derive(Debug)]
struct Fetched {
    config: Value,
    hash: Option<String>,
    /// The reservations of each subnet read so far, parsed once: every lease's refresh
    /// and plan reads its subnet, so parsing it per read would cost O(leases²).
    parsed: Mutex<HashMap<Cidr, Arc<Vec<Reservation>>>>,
}

impl Fetched {
    fn new(config: Value, hash: Option<String>) -> Self {
        Self {
            config,
            hash,
            parsed: Mutex::default(),
        }
    }

    fn reservations(&self, subnet: Cidr) -> Result<Arc<Vec<Reservation>>, config::ConfigError> {
        if let Some(list) = lock(&self.parsed).get(&subnet) {
            return Ok(list.clone());
        }
        let list = Arc::new(config::reservations(&self.config, subnet)?);
        lock(&self.parsed).insert(subnet, list.clone());
        Ok(list)
    }
}

struct Inner {
    config: KeaConfig,
    http: reqwest::Client,
    calls: AtomicU64,
    cache: tokio::sync::Mutex<Option<Arc<Fetched>>>,
    commands: tokio::sync::Mutex<Option<Arc<Vec<String>>>>,
    writes: Mutex<WriteQueue>,
}

/// A client for one Kea server. Cheap to clone: clones share the cached configuration,
/// the write queue and the call counter. Create one per server per process.
#[derive(Clone)]
pub struct KeaClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for KeaClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeaClient")
            .field("config", &self.inner.config)
            .field("calls_made", &self.calls_made())
            .finish_non_exhaustive()
    }
}

impl KeaClient {
    /// A client for `config`. Sends nothing until used.
    pub fn new(config: KeaConfig) -> Result<Self, KeaError> {
        let url = config.url.trim().trim_end_matches('/').to_owned();
        let https = url.starts_with("https://");
        if !(https || url.starts_with("http://")) || url.len() <= "https://".len() {
            return Err(KeaError::InvalidUrl {
                url: config.url.clone(),
            });
        }
        let tls_set = config.ca_cert_pem.is_some()
            || config.client_cert_pem.is_some()
            || config.client_key_pem.is_some();
        if tls_set && !https {
            return Err(tls_error(
                "CA, client certificate or key are set but the URL is not https://",
            ));
        }
        // reqwest builds its TLS configuration even for plain http, so it always gets one
        // here, with the ring provider (the workspace's rustls provider).
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .tls_backend_preconfigured(tls_config(&config)?)
            .build()
            .map_err(|e| tls_error(format!("cannot build the HTTP client ({e})")))?;
        let config = KeaConfig { url, ..config };
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                http,
                calls: AtomicU64::new(0),
                cache: tokio::sync::Mutex::new(None),
                commands: tokio::sync::Mutex::new(None),
                writes: Mutex::default(),
            }),
        })
    }

    /// The configuration (its URL without a trailing `/`).
    pub fn config(&self) -> &KeaConfig {
        &self.inner.config
    }

    /// HTTP requests sent so far (each carries one command).
    pub fn calls_made(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// The server's configuration, `{"Dhcp4": {...}}`: one `config-get`, cached until our
    /// own next write; concurrent first callers share the fetch. A failed fetch is not
    /// cached.
    pub async fn configuration(&self) -> Result<Value, KeaError> {
        Ok(self.inner.cached().await?.config.clone())
    }

    /// The reservations of `subnet`, from the cached configuration.
    pub async fn reservations(&self, subnet: Cidr) -> Result<Vec<Reservation>, KeaError> {
        Ok(self.shared_reservations(subnet).await?.as_ref().clone())
    }

    /// [`KeaClient::reservations`] without a copy: the cached list itself, shared.
    pub async fn shared_reservations(
        &self,
        subnet: Cidr,
    ) -> Result<Arc<Vec<Reservation>>, KeaError> {
        let fetched = self.inner.cached().await?;
        Ok(fetched.reservations(subnet)?)
    }

    /// Drops the cached configuration: the next read fetches it again.
    pub async fn invalidate(&self) {
        *self.inner.cache.lock().await = None;
    }

    /// The commands the server supports (`list-commands`, asked once per client).
    pub async fn commands(&self) -> Result<Arc<Vec<String>>, KeaError> {
        self.inner.commands().await
    }

    /// Applies one reservation change. Changes that arrive together are written together
    /// (see the module docs). A conflict with another reservation, in- or outside rack,
    /// fails with [`super::ConfigError::Conflict`] naming it. A change another writer's
    /// `config-set` undid is applied again to the current configuration; if that keeps
    /// happening it fails with [`KeaError::ConcurrentChange`]. `Ok` means the change was in
    /// Kea's configuration when it was read back.
    pub async fn apply(&self, change: Change) -> Result<(), KeaError> {
        self.queue(change, None).await
    }

    /// [`KeaClient::apply`], checked against what the caller last read: the change is
    /// applied only where `expect` accepts the reservation as the configuration being
    /// written holds it, and is refused with [`super::ConfigError::Changed`] otherwise.
    /// A change whose result is already in place succeeds without asking `expect`.
    pub async fn apply_expecting(&self, change: Change, expect: Expect) -> Result<(), KeaError> {
        self.queue(change, Some(expect)).await
    }

    async fn queue(&self, change: Change, expect: Option<Expect>) -> Result<(), KeaError> {
        change.validate()?;
        let (reply, answer) = oneshot::channel();
        let start = {
            let mut q = lock(&self.inner.writes);
            q.pending.push_back(Pending {
                change,
                expect,
                reply,
            });
            !std::mem::replace(&mut q.running, true)
        };
        if start {
            let inner = self.inner.clone();
            tokio::spawn(async move { inner.drive_writes().await });
        }
        answer.await.unwrap_or(Err(KeaError::Abandoned))
    }

    /// Active leases (the `lease_cmds` hook): of a subnet, or of a MAC address.
    pub async fn leases(&self, query: LeaseQuery) -> Result<Vec<Lease4>, KeaError> {
        let command = match query {
            LeaseQuery::Subnet(cidr) => {
                let fetched = self.inner.cached().await?;
                let subnets = config::subnets(&fetched.config)?;
                let id = subnets
                    .iter()
                    .find(|s| s.cidr == cidr)
                    .and_then(|s| s.id)
                    .ok_or_else(|| config::ConfigError::SubnetNotFound {
                        subnet: cidr,
                        known: subnets
                            .iter()
                            .map(|s| s.cidr.to_string())
                            .collect::<Vec<_>>()
                            .join(", "),
                    })?;
                Command::lease4_get_all(&[id])
            }
            LeaseQuery::HwAddress(mac) => Command::lease4_get_by_hw_address(mac),
            LeaseQuery::All => Command::lease4_get_every(),
        };
        let name = command.name;
        let answer = self.inner.call(command).await?;
        commands::parse_leases(&answer).map_err(|source| self.inner.malformed(name, source))
    }
}

/// Marks the write queue idle and fails what is queued ([`KeaError::Abandoned`]) if the
/// writer task ends without emptying it, e.g. on panic.
struct WriterGuard<'a> {
    inner: &'a Inner,
    armed: bool,
}

impl Drop for WriterGuard<'_> {
    fn drop(&mut self) {
        if self.armed {
            let mut q = lock(&self.inner.writes);
            q.pending.clear();
            q.running = false;
        }
    }
}

impl Inner {
    fn malformed(&self, command: &'static str, source: commands::MalformedAnswer) -> KeaError {
        KeaError::Malformed {
            url: self.config.url.clone(),
            command,
            source,
        }
    }

    /// Sends one command and maps transport failures and error results to [`KeaError`].
    /// Results 0 (success) and 3 (empty) are answers.
    async fn call(&self, command: Command) -> Result<Answer, KeaError> {
        let url = &self.config.url;
        let name = command.name;
        let mut req = self
            .http
            .post(url)
            .header(CONTENT_TYPE, "application/json")
            .body(command.to_bytes());
        if let Some(user) = &self.config.username {
            req = req.basic_auth(user, self.config.password.as_ref().map(Secret::expose));
        }
        let started = Instant::now();
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                KeaError::Timeout {
                    url: url.clone(),
                    timeout: self.config.timeout,
                }
            } else {
                KeaError::Unreachable {
                    url: url.clone(),
                    source: Arc::new(e),
                }
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let body = resp.bytes().await.map_err(transport)?;
        tracing::debug!(
            command = name,
            status = status.as_u16(),
            bytes = body.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            calls,
            "Kea command answered"
        );
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(KeaError::AuthRefused {
                url: url.clone(),
                username: self.config.username.clone().unwrap_or_default(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(KeaError::Http {
                url: url.clone(),
                command: name,
                status: status.as_u16(),
                body: String::from_utf8_lossy(&body)
                    .chars()
                    .take(BODY_EXCERPT)
                    .collect(),
            });
        }
        let answer =
            commands::parse_answer(&body).map_err(|source| self.malformed(name, source))?;
        let text = answer.text().to_owned();
        match answer.result {
            ResultCode::Success | ResultCode::Empty => Ok(answer),
            // The agent's own answers when it cannot pass the command on.
            ResultCode::Error
                if text.contains("unable to forward command")
                    || text.contains("forwarding socket is not configured") =>
            {
                Err(KeaError::ServerUnavailable {
                    url: url.clone(),
                    text,
                })
            }
            ResultCode::Unsupported => Err(KeaError::Unsupported {
                command: name,
                hook: hook_of(name),
                text,
            }),
            ResultCode::Error if name == "config-set" => Err(KeaError::ConfigRejected { text }),
            ResultCode::Error if name == "config-write" => Err(KeaError::ConfigWrite { text }),
            result => Err(KeaError::CommandFailed {
                command: name,
                result: result.code(),
                text,
            }),
        }
    }

    async fn fetch(&self) -> Result<Fetched, KeaError> {
        let answer = self.call(Command::config_get()).await?;
        let config =
            commands::parse_config(&answer).map_err(|s| self.malformed("config-get", s))?;
        let hash = Some(config_hash(&config));
        Ok(Fetched::new(config, hash))
    }

    async fn cached(&self) -> Result<Arc<Fetched>, KeaError> {
        self.cached_or_fetched().await.map(|(f, _)| f)
    }

    /// The cached configuration, fetched if there was none; `true` when it was fetched by
    /// this call (so it is the server's configuration as of now).
    async fn cached_or_fetched(&self) -> Result<(Arc<Fetched>, bool), KeaError> {
        let mut slot = self.cache.lock().await;
        if let Some(f) = slot.as_ref() {
            return Ok((f.clone(), false));
        }
        let f = Arc::new(self.fetch().await?);
        *slot = Some(f.clone());
        Ok((f, true))
    }

    async fn commands(&self) -> Result<Arc<Vec<String>>, KeaError> {
        let mut slot = self.commands.lock().await;
        if let Some(c) = slot.as_ref() {
            return Ok(c.clone());
        }
        let answer = self.call(Command::list_commands()).await?;
        let list = Arc::new(
            commands::parse_command_list(&answer)
                .map_err(|s| self.malformed("list-commands", s))?,
        );
        *slot = Some(list.clone());
        Ok(list)
    }

    /// Writes the queued changes, batch after batch, until the queue is empty.
    async fn drive_writes(self: Arc<Self>) {
        let mut guard = WriterGuard {
            inner: &self,
            armed: true,
        };
        let mut first = true;
        loop {
            // Let the changes that arrive together gather before the first batch is
            // taken; later batches take what queued while the previous one was written.
            if std::mem::take(&mut first) {
                tokio::time::sleep(COALESCE_WINDOW).await;
            }
            // Asked before the queue is taken, so that the first batch also holds what
            // arrived during this first call.
            let host_cmds = self
                .commands()
                .await
                .map(|list| list.iter().any(|c| c == "reservation-add"));
            let batch: Vec<Pending> = {
                let mut q = lock(&self.writes);
                if q.pending.is_empty() {
                    q.running = false;
                    break;
                }
                q.pending.drain(..).collect()
            };
            let host_cmds = match host_cmds {
                Ok(yes) => yes,
                Err(e) => {
                    fail(batch, &e);
                    continue;
                }
            };
            if host_cmds {
                self.write_with_host_cmds(batch).await;
            } else {
                self.write_config(batch).await;
            }
        }
        guard.armed = false;
    }

    /// Writes a batch by config-get / config-set / config-write, splitting it when Kea
    /// rejects the configuration.
    async fn write_config(&self, batch: Vec<Pending>) {
        let mut groups = vec![batch];
        // Only a batch's first attempt takes in the changes that arrive during its
        // config-get; the halves of a rejected batch are tried as they are.
        let mut take_late = true;
        while let Some(group) = groups.pop() {
            let started = Instant::now();
            match self
                .write_group(group, std::mem::take(&mut take_late))
                .await
            {
                Attempt::Split(first, second) => {
                    tracing::debug!(
                        first = first.len(),
                        second = second.len(),
                        "Kea rejected the batch; splitting it"
                    );
                    groups.push(second);
                    groups.push(first);
                }
                Attempt::Written(changes) => tracing::debug!(
                    changes,
                    elapsed_ms = started.elapsed().as_millis() as u64,
                    calls = self.calls.load(Ordering::Relaxed),
                    "Kea reservation batch done"
                ),
                Attempt::Answered => {}
            }
        }
    }

    /// The changes queued since the batch was taken.
    fn take_queued(&self) -> Vec<Pending> {
        lock(&self.writes).pending.drain(..).collect()
    }

    /// One attempt at one group: answers every caller, or gives the group back in halves
    /// when Kea rejected it and it has more than one change. With `take_late`, the
    /// changes queued while the configuration was being fetched join the group once the
    /// check has passed: the configuration they are applied to is the server's current
    /// one, so they cost no extra command.
    ///
    /// Kea 2.2's `config-set` has no compare-and-set, so after `config-write` the
    /// configuration is read back: every change of the group must be in it, and every
    /// reservation of the configuration the group was applied to must still be there
    /// unless the group removed it. If another writer's `config-set` came in between, the
    /// group is applied again to what Kea holds now, up to [`REWRITES`] times; then its
    /// changes fail with [`KeaError::ConcurrentChange`]. The read-back refills the cache.
    async fn write_group(&self, group: Vec<Pending>, take_late: bool) -> Attempt {
        let (mut base, mut fetched_now) = match self.cached_or_fetched().await {
            Ok(b) => b,
            Err(e) => {
                fail(group, &e);
                return Attempt::Answered;
            }
        };
        if base.hash.is_none() {
            // Not in Kea's own form: Kea's own is the base.
            match self.fetch().await {
                Ok(f) => {
                    let f = Arc::new(f);
                    *self.cache.lock().await = Some(f.clone());
                    (base, fetched_now) = (f, true);
                }
                Err(e) => {
                    fail(group, &e);
                    return Attempt::Answered;
                }
            }
        }
        let mut work = base.config.clone();
        let mut accepted = Vec::with_capacity(group.len());
        apply_each(&mut work, group, &mut accepted);
        if accepted.is_empty() {
            return Attempt::Answered;
        }
        // The hash check: the configuration must still be the one the edit started from.
        // A base fetched just now is the current configuration: nothing to compare.
        if !fetched_now {
            let fresh = match self.fetch().await {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    fail(accepted, &e);
                    return Attempt::Answered;
                }
            };
            if fresh.hash != base.hash {
                tracing::debug!(cached = ?base.hash, server = ?fresh.hash, "Kea configuration changed underneath; applying the batch to the current one");
                *self.cache.lock().await = Some(fresh.clone());
                base = fresh;
                work = base.config.clone();
                apply_each(&mut work, std::mem::take(&mut accepted), &mut accepted);
                if accepted.is_empty() {
                    return Attempt::Answered;
                }
            }
        }
        if take_late {
            apply_each(&mut work, self.take_queued(), &mut accepted);
        }
        let mut rewrites = 0;
        loop {
            if work != base.config {
                match self.call(Command::config_set(work)).await {
                    Ok(_) => {}
                    Err(KeaError::ConfigRejected { .. }) if accepted.len() > 1 => {
                        let second = accepted.split_off(accepted.len() / 2);
                        return Attempt::Split(accepted, second);
                    }
                    Err(e) => {
                        // A rejected config-set changes nothing; after any other failure
                        // (a timeout, a lost connection) Kea may still carry it out: the
                        // cache can no longer be trusted.
                        if !matches!(e, KeaError::ConfigRejected { .. }) {
                            *self.cache.lock().await = None;
                        }
                        fail(accepted, &e);
                        return Attempt::Answered;
                    }
                }
                if let Err(e) = self.call(Command::config_write()).await {
                    *self.cache.lock().await = None;
                    fail(accepted, &e);
                    return Attempt::Answered;
                }
            }
            // The read-back: what Kea holds now, also the next reads' and batch's base.
            let now = match self.fetch().await {
                Ok(f) => Arc::new(f),
                Err(e) => {
                    *self.cache.lock().await = None;
                    fail(accepted, &e);
                    return Attempt::Answered;
                }
            };
            *self.cache.lock().await = Some(now.clone());
            let lost = lost_changes(&now.config, &base.config, &accepted);
            if lost.is_empty() {
                let changes = accepted.len();
                for p in accepted {
                    let _ = p.reply.send(Ok(()));
                }
                return Attempt::Written(changes);
            }
            if rewrites == REWRITES {
                tracing::warn!(lost = ?lost, rewrites, "Kea configuration keeps changing underneath; giving up");
                fail(
                    accepted,
                    &KeaError::ConcurrentChange {
                        url: self.config.url.clone(),
                    },
                );
                return Attempt::Answered;
            }
            rewrites += 1;
            tracing::warn!(lost = ?lost, rewrites, "Another writer's config-set replaced ours; applying the batch again");
            base = now;
            work = base.config.clone();
            apply_each(&mut work, std::mem::take(&mut accepted), &mut accepted);
            if accepted.is_empty() {
                return Attempt::Answered;
            }
        }
    }

    /// Writes a batch through the host_cmds hook, one change at a time.
    async fn write_with_host_cmds(&self, batch: Vec<Pending>) {
        for p in batch {
            let result = match self.host_cmds_expected(&p).await {
                Ok(Some(change)) => self.host_cmds_change(&change).await,
                Ok(None) => Ok(()),
                Err(e) => Err(e),
            };
            let _ = p.reply.send(result);
        }
        *self.cache.lock().await = None;
    }

    /// For a change with an expectation: checks it against the configuration read now;
    /// the change to send, or `None` when it is already in effect.
    async fn host_cmds_expected(&self, p: &Pending) -> Result<Option<Change>, KeaError> {
        if p.expect.is_none() {
            return Ok(Some(p.change.clone()));
        }
        *self.cache.lock().await = None;
        let base = self.cached().await?;
        if config::in_effect(&base.config, &p.change)? {
            return Ok(None);
        }
        let mut work = base.config.clone();
        apply_one(&mut work, p)?;
        let exists = config::find(&base.config, p.change.subnet(), p.change.identifier())?;
        Ok(Some(match (&p.change, exists) {
            (Change::Add(r), Some(_)) => Change::Replace(r.clone()),
            (change, _) => change.clone(),
        }))
    }

    async fn host_cmds_change(&self, change: &Change) -> Result<(), KeaError> {
        let base = self.cached().await?;
        // The conflict check, on a copy.
        let mut work = base.config.clone();
        config::apply(&mut work, change)?;
        let subnet = change.subnet();
        let id = config::subnets(&base.config)?
            .into_iter()
            .find(|s| s.cidr == subnet)
            .and_then(|s| s.id)
            .ok_or_else(|| config::ConfigError::SubnetNotFound {
                subnet,
                known: String::from("(no id)"),
            })?;
        let identifier = change.identifier();
        if matches!(change, Change::Replace(_) | Change::Remove { .. }) {
            self.call(Command::reservation_del(
                id,
                identifier.kind(),
                &identifier.value(),
            ))
            .await?;
        }
        if let Change::Add(r) | Change::Replace(r) = change {
            self.call(Command::reservation_add(id, &r.to_kea_json()))
                .await?;
        }
        *self.cache.lock().await = None;
        Ok(())
    }
}

/// The hook library providing `command`, for [`KeaError::Unsupported`].
fn hook_of(command: &str) -> &'static str {
    if command.starts_with("lease") {
        "libdhcp_lease_cmds.so"
    } else if command.starts_with("reservation") {
        "libdhcp_host_cmds.so"
    } else {
        "that provides it"
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn a_subnets_reservations_are_parsed_once_per_configuration() {
        let config = serde_json::json!({"Dhcp4": {"subnet4": [{
            "id": 1, "subnet": "10.77.0.0/24",
            "reservations": [{"hw-address": "02:00:00:00:00:01", "ip-address": "10.77.0.5"}]
        }]}});
        let subnet: Cidr = "10.77.0.0/24".parse().unwrap();
        let fetched = Fetched::new(config, None);
        let first = fetched.reservations(subnet).unwrap();
        assert_eq!(first.len(), 1);
        assert!(Arc::ptr_eq(&first, &fetched.reservations(subnet).unwrap()));
        // A subnet the configuration lacks is an error, and is not remembered.
        let other: Cidr = "10.99.0.0/24".parse().unwrap();
        assert!(fetched.reservations(other).is_err());
        assert!(!lock(&fetched.parsed).contains_key(&other));
    }

    #[test]
    fn errors_say_what_to_check() {
        let e = KeaError::ConcurrentChange {
            url: "http://k:8000".into(),
        }
        .to_string();
        assert!(
            e.contains("changed by someone else") && e.contains("run again"),
            "{e}"
        );
        let e = KeaError::ConfigRejected {
            text: "definition for the option 'dhcp4.x' does not exist".into(),
        }
        .to_string();
        assert!(e.contains("dhcp4.x' does not exist"), "{e}");
        assert_eq!(hook_of("lease4-get-all"), "libdhcp_lease_cmds.so");
    }
}
