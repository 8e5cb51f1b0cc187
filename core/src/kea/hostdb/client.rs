//! The connection to Kea's host database, the read that fills the cache, and the
//! transactions that write batches of changes.
//!
//! # Reads
//!
//! [`HostDbClient::reservations`] answers from every DHCPv4 host of the server's subnets,
//! read by one query (hosts joined with their options) and kept until
//! [`HostDbClient::invalidate`] or a batch that fails. A committed batch updates the
//! cached hosts itself, with the rows it read and locked and with what it wrote, so the
//! plans Terraform makes during an apply (one per resource, each checking its lease
//! against the subnet's reservations) do not read every host again after every batch.
//! Each subnet's reservations are built once per change of the cache.
//!
//! # Writes
//!
//! [`HostDbClient::apply`] queues its change; whoever holds the connection next takes
//! everything queued and writes it in one transaction (changes that arrive while a batch
//! is written go together in the next one). Inside it: an advisory lock per subnet the
//! batch touches (rack's writers to one subnet take turns), the rows the changes are
//! about read and locked (`FOR UPDATE`), each change checked against them (see
//! [`super::plan`]), then the deletes, updates and inserts as one statement each, and
//! the commit. A change refused by the check fails alone; a statement that fails fails
//! the whole batch and nothing is written.
//!
//! The connection is TCP or a unix socket, over TLS (rustls, through
//! `tokio-postgres-rustls`) when a CA certificate is configured or the URL asks for it
//! with `sslmode=require`; the password is given to the client library in memory, never
//! in a URL, a file or a command line.

use std::collections::HashMap;
use std::sync::{Arc, Mutex as StdMutex};
use std::time::Duration;

use tokio::sync::{Mutex, oneshot};
use tokio_postgres::config::SslMode;
use tokio_postgres::error::SqlState;
use tokio_postgres::types::ToSql;
use tokio_postgres::{Client, NoTls, Row};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::plan::{self, Request};
use super::rows::{
    self, HostColumns, HostRow, HostValues, OptionRow, OptionValues, StoredHost, SubnetIds,
};
use super::{HostDbError, sql};
use crate::kea::{Change, Expect, Reservation, Secret};
use crate::net::Cidr;

/// How long connecting may take unless configured.
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);
/// How long one read or one batch's transaction may take unless configured: 500 hosts
/// are a few statements over arrays, written in milliseconds; waiting for another
/// writer's subnet lock is what can take longer.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// One Kea host database and how to reach it.
#[derive(Debug, Clone)]
pub struct HostDbConfig {
    /// `postgresql://user@host:port/database` (also the key=value form libpq accepts),
    /// without a password.
    pub url: String,
    /// The role's password.
    pub password: Option<Secret>,
    /// PEM certificates of the CA(s) that signed the server's certificate: the
    /// connection then requires TLS. Without it, TLS is used only when the URL says
    /// `sslmode=require` (checked against the system's CA bundle).
    pub ca_cert_pem: Option<String>,
    /// How long connecting may take.
    pub connect_timeout: Duration,
    /// How long one read, or one batch's transaction, may take.
    pub timeout: Duration,
}

impl HostDbConfig {
    /// `url` with `password` and the default connect timeout.
    pub fn new(url: impl Into<String>, password: Option<Secret>) -> Self {
        Self {
            url: url.into(),
            password,
            ca_cert_pem: None,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A change waiting for the next batch.
struct Queued {
    request: Request,
    reply: oneshot::Sender<Result<(), HostDbError>>,
}

/// The client of one Kea host database.
pub struct HostDbClient {
    pg: tokio_postgres::Config,
    target: String,
    user: String,
    /// The TLS connector, when the connection uses TLS.
    tls: Option<MakeRustlsConnect>,
    timeout: Duration,
    /// The connection; held for a whole read or batch.
    conn: Mutex<Option<Client>>,
    /// Every host of the server's subnets, as last read and written.
    cache: Mutex<Option<Cached>>,
    queue: StdMutex<Vec<Queued>>,
}

impl std::fmt::Debug for HostDbClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HostDbClient")
            .field("target", &self.target)
            .field("user", &self.user)
            .finish_non_exhaustive()
    }
}

fn db_error(what: &'static str) -> impl Fn(tokio_postgres::Error) -> HostDbError {
    move |e| match e.code() {
        Some(c) if *c == SqlState::UNIQUE_VIOLATION => HostDbError::ConcurrentInsert {
            detail: e
                .as_db_error()
                .and_then(|d| d.detail())
                .unwrap_or("unique index")
                .to_owned(),
        },
        _ => HostDbError::Database {
            what,
            source: Arc::new(e),
        },
    }
}

impl HostDbClient {
    /// A client for `config`; connects on first use.
    pub fn new(config: HostDbConfig) -> Result<Self, HostDbError> {
        let mut pg: tokio_postgres::Config =
            config
                .url
                .parse()
                .map_err(|e: tokio_postgres::Error| HostDbError::InvalidUrl {
                    reason: e.to_string(),
                })?;
        if pg.get_password().is_some() {
            return Err(HostDbError::PasswordInUrl);
        }
        if let Some(p) = &config.password {
            pg.password(p.expose());
        }
        pg.connect_timeout(config.connect_timeout);
        pg.application_name("rack");
        if config.ca_cert_pem.is_some() {
            pg.ssl_mode(SslMode::Require);
        }
        let tls = if pg.get_ssl_mode() == SslMode::Require {
            let rustls = crate::tls::rustls_config(config.ca_cert_pem.as_deref(), None, None)
                .map_err(|reason| HostDbError::Tls { reason })?;
            Some(MakeRustlsConnect::new(rustls))
        } else {
            None
        };
        let hosts: Vec<String> = pg
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(name) => name.clone(),
                tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
            })
            .collect();
        let port = pg.get_ports().first().copied().unwrap_or(5432);
        let target = format!(
            "{}:{port}/{}",
            hosts.join(","),
            pg.get_dbname().unwrap_or_default()
        );
        let user = pg.get_user().unwrap_or_default().to_owned();
        Ok(Self {
            pg,
            target,
            user,
            tls,
            timeout: config.timeout,
            conn: Mutex::new(None),
            cache: Mutex::new(None),
            queue: StdMutex::new(Vec::new()),
        })
    }

    /// `host:port/database`, for messages.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// Connects and checks the schema version.
    async fn connect(&self) -> Result<Client, HostDbError> {
        let fail = |e: tokio_postgres::Error| {
            if e.code() == Some(&SqlState::INVALID_PASSWORD) {
                return HostDbError::AuthFailed {
                    target: self.target.clone(),
                    user: self.user.clone(),
                };
            }
            match e.as_db_error() {
                Some(db) if db.code() == &SqlState::INVALID_AUTHORIZATION_SPECIFICATION => {
                    HostDbError::NotAdmitted {
                        target: self.target.clone(),
                        user: self.user.clone(),
                        reason: db.message().to_owned(),
                    }
                }
                _ => HostDbError::Unreachable {
                    target: self.target.clone(),
                    source: Arc::new(e),
                },
            }
        };
        // The connection task runs until the client is dropped.
        let ended = |e: tokio_postgres::Error| {
            tracing::debug!(error = %e, "Kea hosts database connection ended");
        };
        let client = match &self.tls {
            Some(tls) => {
                let (client, connection) = self.pg.connect(tls.clone()).await.map_err(fail)?;
                tokio::spawn(async move { connection.await.map_err(ended) });
                client
            }
            None => {
                let (client, connection) = self.pg.connect(NoTls).await.map_err(fail)?;
                tokio::spawn(async move { connection.await.map_err(ended) });
                client
            }
        };
        let row = client
            .query_one(sql::SCHEMA_VERSION, &[])
            .await
            .map_err(|e| {
                if e.code() == Some(&SqlState::UNDEFINED_TABLE) {
                    HostDbError::NoSchema {
                        target: self.target.clone(),
                    }
                } else {
                    db_error("read schema_version")(e)
                }
            })?;
        let version: i32 = row.try_get(0).map_err(db_error("read schema_version"))?;
        let minor: Option<i32> = row.try_get(1).map_err(db_error("read schema_version"))?;
        rows::check_schema(version, minor.unwrap_or(0))?;
        tracing::debug!(target = %self.target, version, "connected to the Kea hosts database");
        Ok(client)
    }

    /// Checks that the database answers, with the credentials and a supported schema.
    pub async fn check(&self) -> Result<(), HostDbError> {
        let mut conn = self.conn.lock().await;
        self.connected(&mut conn).await.map(|_| ())
    }

    async fn connected<'a>(
        &self,
        conn: &'a mut Option<Client>,
    ) -> Result<&'a mut Client, HostDbError> {
        if conn.as_ref().is_none_or(Client::is_closed) {
            *conn = Some(self.connect().await?);
        }
        conn.as_mut().ok_or(HostDbError::Abandoned)
    }

    /// The reservations of `subnet`, from the cache filled by one read of every host of
    /// the server's `subnets`.
    pub async fn reservations(
        &self,
        subnets: &SubnetIds,
        subnet: Cidr,
    ) -> Result<Vec<Reservation>, HostDbError> {
        Ok(self
            .shared_reservations(subnets, subnet)
            .await?
            .as_ref()
            .clone())
    }

    /// [`HostDbClient::reservations`] without a copy: the cached list itself, shared. A
    /// plan of thousands of leases asks once per lease, so a copy each time would cost
    /// the square of their number.
    pub async fn shared_reservations(
        &self,
        subnets: &SubnetIds,
        subnet: Cidr,
    ) -> Result<Arc<Vec<Reservation>>, HostDbError> {
        let id = i64::from(subnets.id(subnet)?);
        // Answered from the cache without waiting for the connection (a batch under way
        // holds it); the cache is only ever held briefly.
        if let Some(cached) = self.cache.lock().await.as_mut() {
            return Ok(cached.subnet(id, subnet));
        }
        // The connection first, then the cache: the order writes take them in.
        let mut conn = self.conn.lock().await;
        let mut cache = self.cache.lock().await;
        if let Some(cached) = cache.as_mut() {
            return Ok(cached.subnet(id, subnet));
        }
        let client = self.connected(&mut conn).await?;
        let (statement, ids) = (sql::read_all(), subnets.ids());
        let params: [&(dyn ToSql + Sync); 1] = [&ids];
        let read = tokio::time::timeout(self.timeout, client.query(&statement, &params));
        let rows = match read.await {
            Ok(Ok(rows)) => rows,
            Ok(Err(e)) => {
                drop_if_closed(&mut conn);
                return Err(db_error("read the hosts")(e));
            }
            Err(_) => {
                *conn = None;
                return Err(self.timed_out());
            }
        };
        let hosts = fold_rows(&rows).map_err(db_error("read the hosts"))?;
        tracing::debug!(hosts = hosts.len(), "read the Kea hosts database");
        let cached = cache.insert(Cached::new(hosts));
        Ok(cached.subnet(id, subnet))
    }

    /// Drops what was read, so the next read asks the database.
    pub async fn invalidate(&self) {
        *self.cache.lock().await = None;
    }

    /// Applies one change where `expect` (when given) accepts the reservation it is about
    /// as the database holds it inside the transaction; changes that arrive together share
    /// a transaction.
    pub async fn apply(
        &self,
        subnets: &SubnetIds,
        change: Change,
        expect: Option<Expect>,
    ) -> Result<(), HostDbError> {
        let (reply, answer) = oneshot::channel();
        if let Ok(mut queue) = self.queue.lock() {
            queue.push(Queued {
                request: Request { change, expect },
                reply,
            });
        }
        // Whoever holds the connection next writes everything queued by then, this
        // change included unless an earlier holder took it.
        let mut conn = self.conn.lock().await;
        let batch: Vec<Queued> = self
            .queue
            .lock()
            .map(|mut q| std::mem::take(&mut *q))
            .unwrap_or_default();
        if !batch.is_empty() {
            let (requests, replies): (Vec<Request>, Vec<_>) =
                batch.into_iter().map(|q| (q.request, q.reply)).unzip();
            match self.write(&mut conn, subnets, &requests).await {
                Ok(outcomes) => {
                    for (reply, outcome) in replies.into_iter().zip(outcomes) {
                        let _ = reply.send(outcome);
                    }
                }
                Err(e) => {
                    for reply in replies {
                        let _ = reply.send(Err(e.clone()));
                    }
                }
            }
        }
        drop(conn);
        answer.await.unwrap_or(Err(HostDbError::Abandoned))
    }

    /// Writes `requests` in one transaction and returns how each ended; `Err` when the
    /// transaction failed and nothing was written.
    pub async fn apply_batch(
        &self,
        subnets: &SubnetIds,
        requests: &[Request],
    ) -> Result<Vec<Result<(), HostDbError>>, HostDbError> {
        let mut conn = self.conn.lock().await;
        self.write(&mut conn, subnets, requests).await
    }

    async fn write(
        &self,
        conn: &mut Option<Client>,
        subnets: &SubnetIds,
        requests: &[Request],
    ) -> Result<Vec<Result<(), HostDbError>>, HostDbError> {
        let client = self.connected(conn).await?;
        let result = match tokio::time::timeout(
            self.timeout,
            transaction(client, subnets, requests),
        )
        .await
        {
            Ok(result) => result,
            Err(_) => {
                // Dropping the connection ends the transaction on the server.
                *conn = None;
                Err(self.timed_out())
            }
        };
        let mut cache = self.cache.lock().await;
        match result {
            Ok((outcomes, written)) => {
                if let Some(cached) = cache.as_mut() {
                    cached.update(written);
                }
                Ok(outcomes)
            }
            Err(e) => {
                // What the cache holds may be stale now.
                *cache = None;
                drop_if_closed(conn);
                Err(e)
            }
        }
    }

    fn timed_out(&self) -> HostDbError {
        HostDbError::Timeout {
            target: self.target.clone(),
            timeout: self.timeout,
        }
    }
}

fn drop_if_closed(conn: &mut Option<Client>) {
    if conn.as_ref().is_some_and(Client::is_closed) {
        *conn = None;
    }
}

/// The rows of `hosts LEFT JOIN dhcp4_options` (the columns of [`sql::read_all`]).
fn fold_rows(rows: &[Row]) -> Result<Vec<StoredHost>, tokio_postgres::Error> {
    let mut joined = Vec::with_capacity(rows.len());
    for r in rows {
        let host = HostRow {
            host_id: r.try_get(0)?,
            dhcp6_subnet_id: r.try_get(4)?,
            columns: HostColumns {
                identifier: r.try_get(1)?,
                identifier_type: r.try_get(2)?,
                subnet_id: r.try_get(3)?,
                ipv4_address: r.try_get(5)?,
                hostname: r.try_get(6)?,
                client_classes: r.try_get(7)?,
                next_server: r.try_get(8)?,
                boot_file_name: r.try_get(9)?,
            },
        };
        let option_id: Option<i32> = r.try_get(10)?;
        let option = match option_id {
            Some(_) => Some(OptionRow {
                space: r.try_get(14)?,
                columns: OptionValues {
                    code: r.try_get(11)?,
                    value: r.try_get(12)?,
                    formatted_value: r.try_get(13)?,
                },
            }),
            None => None,
        };
        joined.push((host, option));
    }
    Ok(rows::fold(joined))
}

/// The cached hosts, sorted by `host_id`, and the reservations of each subnet asked for.
struct Cached {
    hosts: Vec<StoredHost>,
    /// Built from `hosts` on first use, dropped when they change: every lease's refresh
    /// and plan reads its subnet, so building it per read would cost O(leases²).
    subnets: HashMap<i64, Arc<Vec<Reservation>>>,
}

impl Cached {
    fn new(mut hosts: Vec<StoredHost>) -> Self {
        hosts.sort_by_key(|h| h.row.host_id);
        Self {
            hosts,
            subnets: HashMap::new(),
        }
    }

    /// The reservations of subnet `id` (`subnet`).
    fn subnet(&mut self, id: i64, subnet: Cidr) -> Arc<Vec<Reservation>> {
        let hosts = &self.hosts;
        self.subnets
            .entry(id)
            .or_insert_with(|| {
                Arc::new(
                    hosts
                        .iter()
                        .filter(|h| h.row.columns.subnet_id == id)
                        .map(|h| h.reservation(subnet))
                        .collect(),
                )
            })
            .clone()
    }

    fn position(&self, host_id: i32) -> Result<usize, usize> {
        self.hosts.binary_search_by_key(&host_id, |h| h.row.host_id)
    }

    fn put(&mut self, host: StoredHost) {
        match self.position(host.row.host_id) {
            Ok(i) => self.hosts[i] = host,
            Err(i) => self.hosts.insert(i, host),
        }
    }

    /// The hosts as a committed batch left them: the rows it read and locked as read,
    /// then its deletes, updates and inserts as the statements wrote them.
    fn update(&mut self, written: Written) {
        self.subnets.clear();
        let gone: Vec<i32> = self
            .hosts
            .iter()
            .filter(|h| {
                written.looked_up(h)
                    && !written
                        .current
                        .iter()
                        .any(|c| c.row.host_id == h.row.host_id)
            })
            .map(|h| h.row.host_id)
            .collect();
        for id in gone {
            if let Ok(i) = self.position(id) {
                self.hosts.remove(i);
            }
        }
        for host in written.current {
            self.put(host);
        }
        for id in &written.deleted {
            if let Ok(i) = self.position(*id) {
                self.hosts.remove(i);
            }
        }
        for (id, values) in written.updated {
            if let Ok(i) = self.position(id) {
                let host = &mut self.hosts[i];
                host.row.columns = values.host;
                // DELETE_OPTIONS removed those of rack's space; the new ones follow.
                host.options.retain(|o| !rows::is_dhcp4_space(&o.space));
                host.options.extend(dhcp4_options(values.options));
            }
        }
        for (id, values) in written.inserted {
            self.put(StoredHost {
                row: HostRow {
                    host_id: id,
                    dhcp6_subnet_id: None,
                    columns: values.host,
                },
                options: dhcp4_options(values.options).collect(),
            });
        }
    }
}

/// Option rows as [`sql::INSERT_OPTIONS`] writes them.
fn dhcp4_options(options: Vec<OptionValues>) -> impl Iterator<Item = OptionRow> {
    options.into_iter().map(|columns| OptionRow {
        space: Some(rows::DHCP4_SPACE.to_owned()),
        columns,
    })
}

/// What a committed (or rolled back) batch knows of the rows: those it read and locked,
/// the keys it looked them up by, and what it wrote.
#[derive(Default)]
struct Written {
    /// The rows read and locked inside the transaction, as read.
    current: Vec<StoredHost>,
    /// The (identifier type, identifier, subnet id) and (subnet id, address) the
    /// transaction looked rows up by: a cached row matching one that was not found is
    /// gone from the database.
    identifiers: Vec<(i16, Vec<u8>, i64)>,
    addresses: Vec<(i64, i64)>,
    deleted: Vec<i32>,
    updated: Vec<(i32, HostValues)>,
    inserted: Vec<(i32, HostValues)>,
}

impl Written {
    /// Whether the transaction looked `host` up, by identifier or by address.
    fn looked_up(&self, host: &StoredHost) -> bool {
        let c = &host.row.columns;
        self.identifiers
            .iter()
            .any(|(t, i, s)| *t == c.identifier_type && *i == c.identifier && *s == c.subnet_id)
            || c.ipv4_address.is_some_and(|ip| {
                self.addresses
                    .iter()
                    .any(|(s, a)| *s == c.subnet_id && *a == ip)
            })
    }
}

/// One batch in one transaction: lock, read, check, write, commit.
async fn transaction(
    client: &mut Client,
    subnets: &SubnetIds,
    requests: &[Request],
) -> Result<(Vec<Result<(), HostDbError>>, Written), HostDbError> {
    let tx = client
        .transaction()
        .await
        .map_err(db_error("begin a transaction"))?;

    // Lock the subnets, in order.
    let mut ids: Vec<u32> = requests
        .iter()
        .filter_map(|r| subnets.id(r.change.subnet()).ok())
        .collect();
    ids.sort_unstable();
    ids.dedup();
    let keys: Vec<i64> = ids.into_iter().map(sql::lock_key).collect();
    tx.execute(sql::LOCK_SUBNETS, &[&keys])
        .await
        .map_err(db_error("lock the subnets"))?;

    // The rows the changes are about, locked.
    let (mut idents, mut kinds, mut id_subnets) = (Vec::new(), Vec::new(), Vec::new());
    let (mut ip_subnets, mut ips) = (Vec::new(), Vec::new());
    for r in requests {
        let Ok(subnet_id) = subnets.id(r.change.subnet()) else {
            continue;
        };
        if let Ok((kind, bytes)) = rows::identifier_key(r.change.identifier()) {
            idents.push(bytes);
            kinds.push(kind);
            id_subnets.push(i64::from(subnet_id));
        }
        if let Change::Add(res) | Change::Replace(res) = &r.change
            && let Some(ip) = res.ip_address
        {
            ip_subnets.push(i64::from(subnet_id));
            ips.push(i64::from(u32::from(ip)));
        }
    }
    let locked = tx
        .query(
            &sql::lock_current(),
            &[&idents, &kinds, &id_subnets, &ip_subnets, &ips],
        )
        .await
        .map_err(db_error("read the hosts to change"))?;
    let current = fold_rows(&locked).map_err(db_error("read the hosts to change"))?;

    let plan = plan::plan(&current, subnets, requests);
    let mut written = Written {
        identifiers: kinds
            .iter()
            .zip(&idents)
            .zip(&id_subnets)
            .map(|((t, i), s)| (*t, i.clone(), *s))
            .collect(),
        addresses: ip_subnets
            .iter()
            .copied()
            .zip(ips.iter().copied())
            .collect(),
        current,
        ..Written::default()
    };
    if plan.writes_nothing() {
        tx.rollback()
            .await
            .map_err(db_error("end the transaction"))?;
        return Ok((plan.outcomes, written));
    }

    if !plan.delete.is_empty() {
        tx.execute(sql::DELETE_HOSTS, &[&plan.delete])
            .await
            .map_err(db_error("delete hosts"))?;
    }
    let mut option_hosts: Vec<(i32, &[OptionValues])> = Vec::new();
    if !plan.update.is_empty() {
        let ids: Vec<i32> = plan.update.iter().map(|(id, _)| *id).collect();
        let m = Managed::of(plan.update.iter().map(|(_, v)| v));
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ids];
        params.extend(m.params());
        tx.execute(sql::UPDATE_HOSTS, &params)
            .await
            .map_err(db_error("update hosts"))?;
        tx.execute(sql::DELETE_OPTIONS, &[&ids])
            .await
            .map_err(db_error("delete the options of updated hosts"))?;
        option_hosts.extend(
            plan.update
                .iter()
                .map(|(id, v)| (*id, v.options.as_slice())),
        );
    }
    if !plan.insert.is_empty() {
        let v = &plan.insert;
        let ident: Vec<&[u8]> = v.iter().map(|v| v.host.identifier.as_slice()).collect();
        let kind: Vec<i16> = v.iter().map(|v| v.host.identifier_type).collect();
        let subnet: Vec<i64> = v.iter().map(|v| v.host.subnet_id).collect();
        let m = Managed::of(v.iter());
        let mut params: Vec<&(dyn ToSql + Sync)> = vec![&ident, &kind, &subnet];
        params.extend(m.params());
        let inserted = tx
            .query(sql::INSERT_HOSTS, &params)
            .await
            .map_err(db_error("insert hosts"))?;
        for row in &inserted {
            let id: i32 = row.try_get(0).map_err(db_error("insert hosts"))?;
            let bytes: Vec<u8> = row.try_get(1).map_err(db_error("insert hosts"))?;
            let kind: i16 = row.try_get(2).map_err(db_error("insert hosts"))?;
            let subnet: i64 = row.try_get(3).map_err(db_error("insert hosts"))?;
            if let Some(v) = v.iter().find(|v| {
                v.host.identifier == bytes
                    && v.host.identifier_type == kind
                    && v.host.subnet_id == subnet
            }) {
                option_hosts.push((id, v.options.as_slice()));
                written.inserted.push((id, v.clone()));
            }
        }
    }
    let (mut host_ids, mut codes, mut values, mut formatted) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for (id, options) in &option_hosts {
        for o in options.iter() {
            host_ids.push(*id);
            codes.push(o.code);
            values.push(o.value.as_deref());
            formatted.push(o.formatted_value.as_deref());
        }
    }
    if !host_ids.is_empty() {
        tx.execute(
            sql::INSERT_OPTIONS,
            &[&host_ids, &codes, &values, &formatted],
        )
        .await
        .map_err(db_error("insert options"))?;
    }
    tx.commit()
        .await
        .map_err(db_error("commit the transaction"))?;
    tracing::debug!(
        inserted = plan.insert.len(),
        updated = plan.update.len(),
        deleted = plan.delete.len(),
        "wrote a batch to the Kea hosts database"
    );
    written.deleted = plan.delete;
    written.updated = plan.update;
    Ok((plan.outcomes, written))
}

/// The columns rack sets on both insert and update, one array each.
struct Managed<'a> {
    ip: Vec<Option<i64>>,
    hostname: Vec<Option<&'a str>>,
    classes: Vec<Option<&'a str>>,
    next_server: Vec<Option<i64>>,
    boot_file: Vec<Option<&'a str>>,
}

impl<'a> Managed<'a> {
    fn of(values: impl Iterator<Item = &'a HostValues>) -> Self {
        let mut m = Self {
            ip: Vec::new(),
            hostname: Vec::new(),
            classes: Vec::new(),
            next_server: Vec::new(),
            boot_file: Vec::new(),
        };
        for v in values {
            let h = &v.host;
            m.ip.push(h.ipv4_address);
            m.hostname.push(h.hostname.as_deref());
            m.classes.push(h.client_classes.as_deref());
            m.next_server.push(h.next_server);
            m.boot_file.push(h.boot_file_name.as_deref());
        }
        m
    }

    /// The arrays, in the order the statements take them.
    fn params(&self) -> [&(dyn ToSql + Sync); 5] {
        [
            &self.ip,
            &self.hostname,
            &self.classes,
            &self.next_server,
            &self.boot_file,
        ]
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn host(id: i32, mac: u8, ip: i64, hostname: &str, options: Vec<OptionRow>) -> StoredHost {
        StoredHost {
            row: HostRow {
                host_id: id,
                dhcp6_subnet_id: None,
                columns: HostColumns {
                    identifier_type: 0,
                    identifier: vec![2, 0, 0, 0, 0, mac],
                    subnet_id: 1,
                    ipv4_address: Some(ip),
                    hostname: Some(hostname.to_owned()),
                    client_classes: None,
                    next_server: None,
                    boot_file_name: None,
                },
            },
            options,
        }
    }

    fn option(space: &str, code: i16) -> OptionRow {
        OptionRow {
            space: Some(space.to_owned()),
            columns: OptionValues {
                code,
                value: None,
                formatted_value: Some("x".to_owned()),
            },
        }
    }

    fn values(h: &StoredHost, options: Vec<OptionValues>) -> HostValues {
        HostValues {
            host: h.row.columns.clone(),
            options,
        }
    }

    #[test]
    fn a_committed_batch_updates_the_cached_hosts() {
        let subnet: Cidr = "10.77.0.0/24".parse().unwrap();
        let mut cached = Cached::new(vec![
            host(3, 3, 30, "c", vec![option("other", 1), option("dhcp4", 67)]),
            host(1, 1, 10, "a", vec![]),
            host(2, 2, 20, "b", vec![]),
            host(4, 4, 40, "d", vec![]),
        ]);
        assert_eq!(cached.subnet(1, subnet).len(), 4);
        let new = host(7, 7, 70, "g", vec![]);
        let mut updated = host(3, 3, 31, "c2", vec![]);
        updated.row.columns.ipv4_address = Some(31);
        cached.update(Written {
            // Host 1 as read in the transaction, changed behind rack's back.
            current: vec![
                host(1, 1, 11, "a-by-hand", vec![]),
                host(3, 3, 30, "c", vec![option("other", 1), option("dhcp4", 67)]),
            ],
            // Host 2 was looked up and not found: deleted behind rack's back.
            identifiers: vec![
                (0, vec![2, 0, 0, 0, 0, 2], 1),
                (0, vec![2, 0, 0, 0, 0, 7], 1),
            ],
            addresses: vec![(1, 70)],
            deleted: vec![4],
            updated: vec![(3, values(&updated, vec![option("dhcp4", 66).columns]))],
            inserted: vec![(7, values(&new, vec![option("dhcp4", 67).columns]))],
        });
        let ids: Vec<i32> = cached.hosts.iter().map(|h| h.row.host_id).collect();
        assert_eq!(ids, vec![1, 3, 7]);
        assert_eq!(
            cached.hosts[0].row.columns.hostname.as_deref(),
            Some("a-by-hand")
        );
        let c = &cached.hosts[1];
        assert_eq!(c.row.columns.hostname.as_deref(), Some("c2"));
        let codes: Vec<(Option<&str>, i16)> = c
            .options
            .iter()
            .map(|o| (o.space.as_deref(), o.columns.code))
            .collect();
        assert_eq!(codes, vec![(Some("other"), 1), (Some("dhcp4"), 66)]);
        assert_eq!(cached.hosts[2].options.len(), 1);
        // The subnet's reservations are built again from the hosts as they are now.
        let names: Vec<Option<String>> = cached
            .subnet(1, subnet)
            .iter()
            .map(|r| r.hostname.clone())
            .collect();
        assert_eq!(
            names,
            vec![
                Some("a-by-hand".into()),
                Some("c2".into()),
                Some("g".into())
            ]
        );
    }
}
