//! The zone's services, and what they received during one command: named (AXFRs and
//! other messages, from its statistics channel), Kea with its PostgreSQL host database
//! (commands from kea-dhcp4's log, statements from `pg_stat_statements`), the
//! hypervisors (every RPC call libvirtd dispatched, from its own debug log of the RPC
//! layer, turned on at run time with `virt-admin`), and the switch (the `transact`
//! requests ovsdb-server received from rack, from its `jsonrpc` debug log, as the switch
//! benchmark counts them).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use anyhow::{Context as _, anyhow, bail};
use rack_core::dns::Name;
use rack_core::libvirt::{Hypervisor, PoolSpec, VolumeContent, VolumeFormat, VolumeSpec};
use rack_core::rndc::{RndcClient, RndcKey};
use rack_core::zones::{BindZones, Soa, ZoneManager, ZoneSpec};
use rack_lab::Libvirt;
use rack_lab::guest::fix_kvm_permissions;

use super::super::dhcp::hostdb::{Database, Statements};
use super::super::switch::{self, Switch};
use super::super::{dhcp, dns};
use super::shape::{BASE, Endpoints, POOL};

/// The base volume's size: never booted, so any size does.
const BASE_BYTES: u64 = 16 * 1024 * 1024;

/// Deadline for the set-up calls to rndc and libvirt.
const SETUP_TIMEOUT: Duration = Duration::from_secs(120);

/// libvirt's program number for its remote protocol, and the procedures of the listings
/// rack's refresh makes (from libvirt's `remote_protocol.x`).
const REMOTE_PROGRAM: &str = "prog=536903814 ";
const LIST_ALL_DOMAINS: u32 = 273;
const LIST_ALL_STORAGE_POOLS: u32 = 281;
const LIST_ALL_VOLUMES: u32 = 282;
const LIST_ALL_NETWORKS: u32 = 283;

/// Calls one libvirtd dispatched.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct LibvirtCalls {
    /// Every call of the remote protocol.
    pub total: u64,
    /// Listings of all domains, storage pools, volumes of a pool, and networks.
    pub list_domains: u64,
    pub list_pools: u64,
    pub list_volumes: u64,
    pub list_networks: u64,
}

impl LibvirtCalls {
    /// Counts the dispatch lines (`... prog=536903814 ... proc=N`) of libvirtd's log.
    fn parse(log: &str) -> Self {
        let mut c = Self::default();
        for line in log.lines().filter(|l| l.contains(REMOTE_PROGRAM)) {
            let Some(proc) = line
                .split_whitespace()
                .find_map(|w| w.strip_prefix("proc="))
                .and_then(|n| n.parse::<u32>().ok())
            else {
                continue;
            };
            c.total += 1;
            match proc {
                LIST_ALL_DOMAINS => c.list_domains += 1,
                LIST_ALL_STORAGE_POOLS => c.list_pools += 1,
                LIST_ALL_VOLUMES => c.list_volumes += 1,
                LIST_ALL_NETWORKS => c.list_networks += 1,
                _ => {}
            }
        }
        c
    }

    /// Listings of every kind.
    pub fn listings(&self) -> u64 {
        self.list_domains + self.list_pools + self.list_volumes + self.list_networks
    }
}

/// One hypervisor: a libvirtd of the lab, and the file its RPC layer logs to.
pub(super) struct Hv {
    pub fixture: Libvirt,
    rpc_log: PathBuf,
}

impl Hv {
    /// Starts libvirtd, turns on the debug log of its RPC dispatch into a file of its
    /// own, and makes the pool with the base volume.
    fn start(rt: &tokio::runtime::Runtime) -> anyhow::Result<Self> {
        let fixture = Libvirt::start().map_err(|e| anyhow!("Cannot start libvirtd: {e}"))?;
        let rpc_log = fixture.dir().join("rpc.log");
        let admin = format!(
            "libvirtd:///system?socket={}",
            fixture
                .dir()
                .join("run")
                .join("libvirt-admin-sock")
                .display()
        );
        let outputs = format!(
            "1:file:{} 3:file:{}",
            rpc_log.display(),
            fixture.dir().join("libvirtd.log").display()
        );
        for args in [
            ["daemon-log-filters", "1:rpc.netserverprogram"],
            ["daemon-log-outputs", outputs.as_str()],
        ] {
            let out = Command::new("virt-admin")
                .args(["-c", &admin])
                .args(args)
                .output()
                .context("Cannot run virt-admin (Debian package libvirt-clients)")?;
            if !out.status.success() {
                bail!(
                    "virt-admin {} failed: {}",
                    args.join(" "),
                    String::from_utf8_lossy(&out.stderr)
                );
            }
        }
        let pool_dir = fixture.dir().join("pool");
        let pool_path = pool_dir
            .to_str()
            .ok_or_else(|| anyhow!("{} is not UTF-8", pool_dir.display()))?
            .to_owned();
        rt.block_on(async {
            let hv = Hypervisor::with_timeout(&fixture.uri, SETUP_TIMEOUT)?;
            hv.create_pool(&PoolSpec::dir(POOL, &pool_path)).await?;
            hv.create_volume(&VolumeSpec {
                pool: POOL.into(),
                name: BASE.into(),
                format: VolumeFormat::Raw,
                capacity: Some(BASE_BYTES),
                content: VolumeContent::Empty,
            })
            .await?;
            anyhow::Ok(())
        })
        .with_context(|| format!("Cannot make the pool on {}", fixture.uri))?;
        let hv = Self { fixture, rpc_log };
        if hv.calls_since(0)?.1.total == 0 {
            bail!(
                "libvirtd on {} logged no RPC calls to {} while the pool was made",
                hv.fixture.uri,
                hv.rpc_log.display()
            );
        }
        Ok(hv)
    }

    /// The calls logged after byte `offset` of the RPC log, and the log's length now.
    fn calls_since(&self, offset: u64) -> anyhow::Result<(u64, LibvirtCalls)> {
        let bytes = std::fs::read(&self.rpc_log)
            .with_context(|| format!("Cannot read {}", self.rpc_log.display()))?;
        let start = usize::try_from(offset)
            .unwrap_or(usize::MAX)
            .min(bytes.len());
        let text = String::from_utf8_lossy(&bytes[start..]);
        Ok((bytes.len() as u64, LibvirtCalls::parse(&text)))
    }
}

/// What the services received during one command.
#[derive(Debug, Clone, Default)]
pub(super) struct Requests {
    pub dns: dns::Counters,
    pub kea: dhcp::Counters,
    pub db: Statements,
    /// Per hypervisor, in the order of the provider's map.
    pub libvirt: Vec<LibvirtCalls>,
    /// The switch's `transact` requests.
    pub switch: switch::Counters,
}

/// Every service of the zone.
pub(super) struct Services {
    pub dns: dns::Server,
    pub kea: dhcp::Server,
    pub db: Database,
    pub hypervisors: Vec<Hv>,
    pub switch: Switch,
}

impl Services {
    /// Starts named with the forward zone and adds `zones` (the reverse zones and the
    /// adoption zone), PostgreSQL with Kea's schema and Kea looking reservations up in it,
    /// `hypervisors` libvirtd with a pool and the base volume each, and Open vSwitch with
    /// an empty bridge.
    pub fn start(zones: &[String], hypervisors: usize) -> anyhow::Result<Self> {
        let rt = super::super::setup::runtime()?;
        eprintln!(
            "bench: starting named, PostgreSQL, Kea, {hypervisors} libvirtd and Open vSwitch"
        );
        let dns = dns::Server::start()?;
        add_zones(&dns, zones, &rt)?;
        let db = Database::start()?;
        let kea = dhcp::Server::start(Some(&db))?;
        fix_kvm_permissions().map_err(|e| anyhow!("{e}"))?;
        let hypervisors = (0..hypervisors)
            .map(|_| Hv::start(&rt))
            .collect::<anyhow::Result<Vec<_>>>()?;
        let switch = Switch::start()?;
        Ok(Self {
            dns,
            kea,
            db,
            hypervisors,
            switch,
        })
    }

    /// Where the provider block reaches the hypervisors (in the order of its map) and the
    /// switch.
    pub fn endpoints(&self) -> Endpoints {
        Endpoints {
            hypervisors: self
                .hypervisors
                .iter()
                .map(|h| h.fixture.uri.clone())
                .collect(),
            switch: self.switch.ovs.address(),
        }
    }

    /// Runs `f` and returns its result with what every service received meanwhile.
    pub fn counting<T>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Requests)> {
        let offsets = self
            .hypervisors
            .iter()
            .map(|h| h.calls_since(u64::MAX).map(|(len, _)| len))
            .collect::<anyhow::Result<Vec<_>>>()?;
        self.db.reset_statements()?;
        let (((value, switch), kea), dns) = self
            .dns
            .counting(|| self.kea.counting(|| self.switch.counting(f)))?;
        let db = self.db.statements()?;
        let libvirt = self
            .hypervisors
            .iter()
            .zip(offsets)
            .map(|(h, offset)| h.calls_since(offset).map(|(_, calls)| calls))
            .collect::<anyhow::Result<Vec<_>>>()?;
        Ok((
            value,
            Requests {
                dns,
                kea,
                db,
                libvirt,
                switch,
            },
        ))
    }

    /// Feeds `script` to nsupdate with the fixture's key.
    pub fn nsupdate(&self, script: &str) -> anyhow::Result<f64> {
        self.dns.nsupdate(script)
    }

    /// The DNS server's address, for nsupdate scripts.
    pub fn dns_addr(&self) -> std::net::SocketAddr {
        self.dns.named.dns_addr
    }

    /// Sets the environment through which the provider reaches named, Kea and the
    /// host database.
    pub fn provider_env(&self, wd: &mut rack_acceptance_tests::Workdir) {
        let named = &self.dns.named;
        let kea = &self.kea.kea;
        wd.set_env("RACK_DNS_ADDRESS", named.dns_addr.to_string())
            .set_env("RACK_DNS_KEY_NAME", named.tsig.name.clone())
            .set_env("RACK_DNS_KEY_ALGORITHM", named.tsig.algorithm.clone())
            .set_env("RACK_DNS_KEY_SECRET", named.tsig.secret.clone())
            .set_env("RACK_DHCP_KEA_URL", kea.url.clone())
            .set_env("RACK_DHCP_KEA_USERNAME", kea.username.clone())
            .set_env("RACK_DHCP_KEA_PASSWORD", kea.password.clone())
            .set_env("RACK_DHCP_KEA_HOSTS_DATABASE_URL", self.db.pg.url.clone())
            .set_env(
                "RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD",
                self.db.pg.password.clone(),
            )
            .set_env("RACK_HYPERVISOR_TIMEOUT", "300s");
    }
}

/// Adds `zones` to named with rack-core's BIND zone manager (zone file and
/// `rndc addzone`), open to updates and transfers signed with the fixture's key.
fn add_zones(
    dns: &dns::Server,
    zones: &[String],
    rt: &tokio::runtime::Runtime,
) -> anyhow::Result<()> {
    let named = &dns.named;
    let k = &named.rndc_key;
    let rndc = RndcClient::new(
        named.rndc_addr,
        RndcKey {
            name: k.name.clone(),
            algorithm: k
                .algorithm
                .parse()
                .map_err(|e| anyhow!("rndc key algorithm {}: {e}", k.algorithm))?,
            secret: k.secret.clone(),
        },
        SETUP_TIMEOUT,
    );
    let manager = BindZones::new(rndc, named.zone_dir.clone(), Some(named.tsig.name.clone()));
    let name = |text: &str| Name::parse(text).map_err(|e| anyhow!("{text}: {e}"));
    for zone in zones {
        let spec = ZoneSpec {
            name: name(zone)?,
            soa: Soa {
                mname: name("ns1.farm.")?,
                rname: name("hostmaster.farm.")?,
                serial: 1,
                refresh: 3600,
                retry: 600,
                expire: 86400,
                minimum: 300,
            },
            nameservers: vec![name("ns1.farm.")?],
            ttl: 300,
        };
        rt.block_on(manager.create(&spec))
            .map_err(|e| anyhow!("Cannot add zone {zone} to named: {e}\n{}", named.log_tail()))?;
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn dispatch_lines_are_counted_by_procedure() {
        let log = "\
2026-12-05 15:00:00.000+0000: 1: debug : virNetServerProgramDispatch:292 : prog=536903814 ver=1 type=0 status=0 serial=5 proc=273
2026-12-05 15:00:00.001+0000: 1: debug : virNetServerProgramDispatch:292 : prog=536903814 ver=1 type=0 status=0 serial=6 proc=282
2026-12-05 15:00:00.002+0000: 1: debug : virNetServerProgramDispatch:292 : prog=536903814 ver=1 type=0 status=0 serial=7 proc=16
2026-12-05 15:00:00.003+0000: 1: debug : virNetServerProgramDispatch:292 : prog=1718579821 ver=1 type=0 status=0 serial=1 proc=1
2026-12-05 15:00:00.004+0000: 1: warning : something else
";
        let c = LibvirtCalls::parse(log);
        assert_eq!(
            (c.total, c.list_domains, c.list_volumes, c.listings()),
            (3, 1, 1, 2)
        );
    }
}
