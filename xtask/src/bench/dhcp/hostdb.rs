//! The host-database side of the DHCP benchmark: a PostgreSQL with Kea's schema and
//! `pg_stat_statements`, the raw floor sent by the benchmark itself (one transaction
//! inserting the hosts, one `SELECT` reading them, one `DELETE` removing them), and the
//! statements the provider ran during each command.

use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use rack_lab::Postgres;
use rack_lab::postgres::{DATABASE, USER};
use tokio_postgres::NoTls;

use super::{SUBNET_ID, lease};

/// [`SUBNET_ID`] as the schema's `dhcp4_subnet_id` column (`bigint`) takes it.
const SUBNET_ROW_ID: i64 = SUBNET_ID as i64;

/// The floor's insert: every host in one statement over arrays (hw-address identifiers,
/// type 0), with the same MAC, address and hostname as the leases.
const INSERT: &str = "INSERT INTO hosts (dhcp_identifier, dhcp_identifier_type, \
     dhcp4_subnet_id, ipv4_address, hostname) \
     SELECT * FROM unnest($1::bytea[], $2::int2[], $3::int8[], $4::int8[], $5::text[])";

/// The floor's read: the hosts of the subnet, as the provider's one read takes them.
const SELECT: &str = "SELECT h.host_id, h.dhcp_identifier, h.ipv4_address, h.hostname, \
     o.option_id FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id \
     WHERE h.dhcp4_subnet_id = $1 ORDER BY h.host_id";

/// Empties the subnet (options go by the schema's cascade).
const DELETE: &str = "DELETE FROM hosts WHERE dhcp4_subnet_id = $1";

/// PostgreSQL and the benchmark's own connection to it, as the role Kea and rack use.
pub(in crate::bench) struct Database {
    pub pg: Postgres,
    rt: tokio::runtime::Runtime,
    client: tokio_postgres::Client,
}

impl Database {
    /// Starts PostgreSQL with `pg_stat_statements` and connects over TCP.
    pub(in crate::bench) fn start() -> anyhow::Result<Self> {
        let pg = Postgres::start_with_statement_stats()
            .map_err(|e| anyhow!("Cannot start PostgreSQL for the benchmark: {e}"))?;
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .context("Cannot start the async runtime")?;
        let mut config: tokio_postgres::Config = pg
            .url
            .parse()
            .with_context(|| format!("{} is not a PostgreSQL URL", pg.url))?;
        config.password(&pg.password).application_name("rack-bench");
        let client = rt.block_on(async {
            let (client, connection) = config
                .connect(NoTls)
                .await
                .with_context(|| format!("Cannot connect to {}", pg.url))?;
            tokio::spawn(async move {
                let _ = connection.await;
            });
            anyhow::Ok(client)
        })?;
        Ok(Self { pg, rt, client })
    }

    /// Inserts hosts `0..n` in one transaction; returns the seconds from `BEGIN` to the
    /// end of `COMMIT` (the statement is prepared beforehand). A failed insert leaves the
    /// connection in the aborted transaction, which fails the run.
    pub fn insert(&self, n: usize) -> anyhow::Result<f64> {
        let (mut idents, mut ips, mut names) = (Vec::new(), Vec::new(), Vec::new());
        for i in 0..n {
            let (mac, ip, hostname) = lease(i);
            idents.push(mac_bytes(&mac)?);
            let ip: std::net::Ipv4Addr = ip.parse().context("lease address")?;
            ips.push(i64::from(u32::from(ip)));
            names.push(hostname);
        }
        let kinds = vec![0_i16; n];
        let subnets = vec![SUBNET_ROW_ID; n];
        let client = &self.client;
        self.rt.block_on(async {
            let statement = client.prepare(INSERT).await.context("prepare the insert")?;
            let start = Instant::now();
            client.batch_execute("BEGIN").await.context("BEGIN")?;
            let inserted = client
                .execute(&statement, &[&idents, &kinds, &subnets, &ips, &names])
                .await
                .context("insert the hosts")?;
            client.batch_execute("COMMIT").await.context("COMMIT")?;
            let seconds = start.elapsed().as_secs_f64();
            if inserted != n as u64 {
                bail!("The floor's insert wrote {inserted} hosts, not {n}");
            }
            Ok(seconds)
        })
    }

    /// Reads the subnet's hosts with one query; returns the seconds it took.
    pub fn select(&self, expect: usize) -> anyhow::Result<f64> {
        let id = SUBNET_ROW_ID;
        self.rt.block_on(async {
            let statement = self
                .client
                .prepare(SELECT)
                .await
                .context("prepare the read")?;
            let start = Instant::now();
            let rows = self
                .client
                .query(&statement, &[&id])
                .await
                .context("read the hosts")?;
            let seconds = start.elapsed().as_secs_f64();
            if rows.len() != expect {
                bail!("The floor's read found {} hosts, not {expect}", rows.len());
            }
            Ok(seconds)
        })
    }

    /// Deletes every host of the subnet with one statement; returns the seconds it took.
    pub fn delete(&self) -> anyhow::Result<f64> {
        let id = SUBNET_ROW_ID;
        self.rt.block_on(async {
            let start = Instant::now();
            self.client
                .execute(DELETE, &[&id])
                .await
                .context("delete the hosts")?;
            Ok(start.elapsed().as_secs_f64())
        })
    }

    /// How many hosts the subnet holds.
    pub(in crate::bench) fn count(&self) -> anyhow::Result<usize> {
        let id = SUBNET_ROW_ID;
        self.rt.block_on(async {
            let row = self
                .client
                .query_one(
                    "SELECT count(*) FROM hosts WHERE dhcp4_subnet_id = $1",
                    &[&id],
                )
                .await
                .context("count the hosts")?;
            let n: i64 = row.get(0);
            Ok(usize::try_from(n).unwrap_or(0))
        })
    }

    /// Forgets every statement counted so far.
    pub(in crate::bench) fn reset_statements(&self) -> anyhow::Result<()> {
        self.pg
            .sql("SELECT pg_stat_statements_reset();")
            .map(|_| ())
            .map_err(|e| anyhow!("Cannot reset pg_stat_statements: {e}"))
    }

    /// The statements the role [`USER`] ran in [`DATABASE`] since the last reset, other
    /// than the benchmark's own (which it runs only outside the measured commands).
    pub(in crate::bench) fn statements(&self) -> anyhow::Result<Statements> {
        let text = self
            .pg
            .sql(&format!(
                "SELECT s.calls, s.total_exec_time, regexp_replace(s.query, '\\s+', ' ', 'g') \
                 FROM pg_stat_statements s \
                 JOIN pg_roles r ON r.oid = s.userid \
                 JOIN pg_database d ON d.oid = s.dbid \
                 WHERE r.rolname = '{USER}' AND d.datname = '{DATABASE}';"
            ))
            .map_err(|e| anyhow!("Cannot read pg_stat_statements: {e}"))?;
        Statements::parse(&text)
    }
}

/// `02:00:...` as bytes.
fn mac_bytes(mac: &str) -> anyhow::Result<Vec<u8>> {
    mac.split(':')
        .map(|b| u8::from_str_radix(b, 16).with_context(|| format!("MAC {mac}")))
        .collect()
}

/// What one command cost in PostgreSQL, from `pg_stat_statements`.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub(in crate::bench) struct Statements {
    /// Every statement executed (utility statements such as `BEGIN` included).
    pub calls: u64,
    /// The read of every host of the server's subnets that fills the provider's cache.
    pub hosts_reads: u64,
    /// The schema-version check each new connection makes.
    pub schema_checks: u64,
    /// Transactions committed.
    pub commits: u64,
    /// Time PostgreSQL spent executing them, ms.
    pub exec_ms: f64,
}

impl Statements {
    /// Rows of `calls|total_exec_time|query`.
    fn parse(text: &str) -> anyhow::Result<Self> {
        let mut s = Self::default();
        for line in text.lines().filter(|l| !l.trim().is_empty()) {
            let mut parts = line.splitn(3, '|');
            let (Some(calls), Some(ms), Some(query)) = (parts.next(), parts.next(), parts.next())
            else {
                bail!("Unexpected pg_stat_statements row: {line}");
            };
            let calls: u64 = calls.trim().parse().context("pg_stat_statements calls")?;
            s.calls += calls;
            s.exec_ms += ms
                .trim()
                .parse::<f64>()
                .context("pg_stat_statements time")?;
            let query = query.trim();
            if query.starts_with("SELECT version, minor FROM schema_version") {
                s.schema_checks += calls;
            } else if query.starts_with("SELECT")
                && query.contains("FROM hosts h LEFT JOIN dhcp4_options")
                && !query.contains("FOR UPDATE")
            {
                s.hosts_reads += calls;
            } else if query.eq_ignore_ascii_case("COMMIT") {
                s.commits += calls;
            }
        }
        Ok(s)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn statements_by_kind() {
        let text = "\
1|0.05|SELECT version, minor FROM schema_version
2|3.5|SELECT h.host_id, h.dhcp_identifier FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id AND o.scope_id = $1 WHERE h.dhcp4_subnet_id = ANY($2::int8[]) ORDER BY h.host_id, o.option_id
7|1.0|SELECT h.host_id FROM hosts h LEFT JOIN dhcp4_options o ON o.host_id = h.host_id WHERE (h.dhcp_identifier) IN (SELECT 1) FOR UPDATE OF h
7|0.1|BEGIN
7|0.2|COMMIT
";
        let s = Statements::parse(text).unwrap();
        assert_eq!(
            (s.calls, s.hosts_reads, s.schema_checks, s.commits),
            (24, 2, 1, 7)
        );
        assert!((s.exec_ms - 4.85).abs() < 1e-9);
        assert!(Statements::parse("garbage").is_err());
    }

    #[test]
    fn mac_as_bytes() {
        assert_eq!(
            mac_bytes("02:00:00:00:01:f3").unwrap(),
            vec![2, 0, 0, 0, 1, 0xf3]
        );
    }
}
