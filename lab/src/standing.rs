//! The standing lab of `scripts/up`: the same services as the fixtures, configured by the
//! same code, but long-lived. Each lives in a directory of the state directory
//! (`lab/named`, `lab/kea`, `lab/libvirt`), runs in a session of its own so it outlives
//! the command that started it, and is recorded by PID in `lab/NAME.pid`; a second `up`
//! finds it running and reuses it, `down` stops it by that PID.
//!
//! - named on 127.0.0.1 (TSIG key for updates, rndc control channel for new zones), with
//!   no zones of its own: the farm's zones are created by Terraform;
//! - PostgreSQL 15 on 127.0.0.1 (and a unix socket in `lab/postgres`), holding Kea's host
//!   database (`kea-admin db-init pgsql`): the farm's reservations are its rows;
//! - kea-dhcp4 in a network namespace of its own, the "DHCP server host" (`NS-dhcp`),
//!   on one end of a veth pair with [`DHCP_SERVER_ADDR`]; the other end is in the lab's
//!   namespace and joins the farm's bridge when libvirt starts the farm network (a
//!   libvirt network hook), as a DHCP server's port joins a real farm's network. Kea
//!   looks reservations up in the host database; kea-ctrl-agent runs on 127.0.0.1 with
//!   basic auth. Port 67 in the lab's namespace stays free, so a libvirt network with
//!   DHCP ranges (dnsmasq) starts beside it;
//! - libvirtd under tini inside the lab's namespace and a private mount namespace;
//! - the switch "tor1" (Open vSwitch, [`tor1`]) between the farm's bridge and two host
//!   namespaces;
//! - nginx on 127.0.0.1 serving `scripts/release`'s output as a provider network mirror
//!   over HTTPS (`mirror`);
//! - aptly's API on 127.0.0.1 with nginx in front (basic auth for the API, the published
//!   tree for apt clients) and the lab's signing key (`apt`).
//!
//! A daemon that does not become ready is stopped by its PID before the error is
//! reported (a guard that stops it on drop unless it was started well).

use crate::libvirt;
use crate::named::{self, NamedConf};
use crate::process::{self, FixtureError, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

mod apt;
pub mod boot;
mod dhcp;
mod mirror;
pub mod tor1;

/// The farm's network, as `examples/scenarios/farm` defines it: Kea serves this subnet.
pub const FARM_SUBNET: &str = "10.10.60.0/24";
/// The farm network's gateway, given to DHCP clients as their router.
pub const FARM_GATEWAY: &str = "10.10.60.1";
/// The farm network's bridge, as `examples/scenarios/farm` names it: the DHCP server
/// host's veth joins it.
pub const FARM_BRIDGE: &str = "rkfarm0";
/// The DHCP server host's address on the farm network (Kea's interface).
pub const DHCP_SERVER_ADDR: &str = "10.10.60.2";
/// The veth end in the DHCP server host's namespace, kea-dhcp4's interface.
const DHCP_IFACE: &str = "rkdhcp";
/// The veth end in the lab's namespace, the port of the farm's bridge.
const DHCP_PORT: &str = "rkdhcp-port";
/// named's TSIG key for updates and its rndc key, as the provider settings name them.
pub const TSIG_KEY_NAME: &str = "rack-lab-tsig";
/// See [`TSIG_KEY_NAME`].
pub const RNDC_KEY_NAME: &str = "rack-lab-rndc";

/// How long named and Kea's daemons may take to become ready.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long libvirtd may take until it answers (its QEMU driver probes QEMU first).
const LIBVIRTD_START_LIMIT: Duration = Duration::from_secs(60);
/// How long stopped processes get after SIGTERM before SIGKILL, and after SIGKILL.
const TERM_GRACE: Duration = Duration::from_secs(10);
const KILL_GRACE: Duration = Duration::from_secs(5);

/// Where the lab lives and how it is reached; read from the environment with the defaults
/// `scripts/up` documents.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The state directory; the lab's files are in its `lab/`.
    pub state: PathBuf,
    /// The lab's network namespace.
    pub namespace: String,
    /// named's DNS port on 127.0.0.1.
    pub dns_port: u16,
    /// named's rndc port on 127.0.0.1.
    pub rndc_port: u16,
    /// kea-ctrl-agent's port on 127.0.0.1.
    pub kea_port: u16,
    /// PostgreSQL's port on 127.0.0.1.
    pub pg_port: u16,
    /// How many hypervisors (libvirtd instances) the lab runs: the first in the lab's
    /// namespace, each other one in a namespace of its own.
    pub hypervisors: usize,
    /// tor1's ovsdb-server port on 127.0.0.1.
    pub ovs_port: u16,
}

/// The most hypervisors `RACK_LAB_HYPERVISORS` may ask for.
pub const MAX_HYPERVISORS: usize = 8;

/// One hypervisor of the lab: its name in the provider's `hypervisors` map, its network
/// namespace, its directory and the name of its PID file.
#[derive(Debug, Clone)]
pub struct LabHypervisor {
    /// `lab` for the first, then `lab2`, `lab3`, ...
    pub name: String,
    /// The lab's namespace for the first, `NS-hvN` for the others.
    pub namespace: String,
    /// `lab/libvirt` for the first, `lab/libvirt-hvN` for the others.
    pub dir: PathBuf,
    /// `libvirtd` for the first, `libvirtd-hvN` for the others.
    pub pid_name: String,
}

impl LabHypervisor {
    /// libvirtd's URI.
    pub fn uri(&self) -> String {
        format!(
            "qemu+unix:///system?socket={}",
            self.dir.join("run/libvirt-sock").display()
        )
    }
}

impl Settings {
    /// `RACK_LAB_STATE` (default `.state` in the checkout), `RACK_LAB_NAMESPACE`
    /// (`rack-lab`), `RACK_LAB_DNS_PORT` (10053), `RACK_LAB_RNDC_PORT` (10953),
    /// `RACK_LAB_KEA_PORT` (10067), `RACK_LAB_PG_PORT` (10432), `RACK_LAB_HYPERVISORS`
    /// (1), `RACK_LAB_OVS_PORT` (10640).
    pub fn from_env() -> Result<Self, FixtureError> {
        let var = |name: &str| std::env::var(name).ok().filter(|v| !v.is_empty());
        let port = |name: &str, default: u16| -> Result<u16, FixtureError> {
            var(name).map_or(Ok(default), |v| {
                v.parse()
                    .map_err(|_| err(format!("{name}={v} is not a port number")))
            })
        };
        let state = var("RACK_LAB_STATE").map_or_else(
            || {
                Path::new(env!("CARGO_MANIFEST_DIR"))
                    .join("..")
                    .join(".state")
            },
            PathBuf::from,
        );
        // RACK_LAB_HYPERVISORS, else what the last `up` of this lab used, else 1.
        let hypervisors = match var("RACK_LAB_HYPERVISORS").or_else(|| {
            std::fs::read_to_string(state.join("lab").join("hypervisors"))
                .ok()
                .map(|t| t.trim().to_owned())
        }) {
            None => 1,
            Some(v) => v
                .parse()
                .ok()
                .filter(|n| (1..=MAX_HYPERVISORS).contains(n))
                .ok_or_else(|| {
                    err(format!(
                        "RACK_LAB_HYPERVISORS={v} is not a number from 1 to {MAX_HYPERVISORS}"
                    ))
                })?,
        };
        Ok(Self {
            state,
            namespace: var("RACK_LAB_NAMESPACE").unwrap_or_else(|| "rack-lab".to_owned()),
            dns_port: port("RACK_LAB_DNS_PORT", 10053)?,
            rndc_port: port("RACK_LAB_RNDC_PORT", 10953)?,
            kea_port: port("RACK_LAB_KEA_PORT", 10067)?,
            pg_port: port("RACK_LAB_PG_PORT", 10432)?,
            hypervisors,
            ovs_port: port("RACK_LAB_OVS_PORT", tor1::DEFAULT_PORT)?,
        })
    }

    /// The lab's directory in the state directory.
    pub fn lab(&self) -> PathBuf {
        self.state.join("lab")
    }

    /// The DHCP server host's network namespace, where kea-dhcp4 runs.
    pub fn dhcp_namespace(&self) -> String {
        format!("{}-dhcp", self.namespace)
    }

    /// The first hypervisor's libvirtd URI (the farm's).
    pub fn libvirt_uri(&self) -> String {
        self.hypervisor_list()[0].uri()
    }

    /// The lab's hypervisors, the farm's first.
    pub fn hypervisor_list(&self) -> Vec<LabHypervisor> {
        (1..=self.hypervisors.max(1))
            .map(|i| {
                if i == 1 {
                    LabHypervisor {
                        name: "lab".to_owned(),
                        namespace: self.namespace.clone(),
                        dir: self.lab().join("libvirt"),
                        pid_name: "libvirtd".to_owned(),
                    }
                } else {
                    LabHypervisor {
                        name: format!("lab{i}"),
                        namespace: format!("{}-hv{i}", self.namespace),
                        dir: self.lab().join(format!("libvirt-hv{i}")),
                        pid_name: format!("libvirtd-hv{i}"),
                    }
                }
            })
            .collect()
    }
}

/// The daemons of the lab, by the name of their PID file, in the order `down` stops them.
pub const DAEMONS: &[&str] = &[
    tor1::VSWITCHD,
    tor1::OVSDB_SERVER,
    "libvirtd",
    "kea-dhcp4",
    "kea-ctrl-agent",
    "postgres",
    "named",
    mirror::PID_NAME,
    apt::FRONT,
    apt::APTLY,
    boot::PID_NAME,
];

/// The standing lab.
#[derive(Debug)]
pub struct Lab {
    settings: Settings,
    lab: PathBuf,
}

impl Lab {
    /// The lab these settings describe (nothing is started).
    pub fn new(settings: Settings) -> Self {
        let lab = settings.lab();
        Self { settings, lab }
    }

    /// Starts what is not running yet: named, the namespaces and their veth pair,
    /// PostgreSQL, kea-dhcp4 and kea-ctrl-agent, tor1, libvirtd, nginx (the provider
    /// network mirror), nginx-boot (the provisioning server). Prints one line per service.
    pub fn up(&self) -> Result<(), FixtureError> {
        mkdir(&self.lab.join("log"))?;
        named::write(
            &self.lab.join("hypervisors"),
            &format!("{}\n", self.settings.hypervisors),
        )?;
        self.ensure_named()?;
        self.ensure_namespaces()?;
        self.ensure_postgres()?;
        self.ensure_kea()?;
        self.ensure_tor1()?;
        for (i, hv) in self.settings.hypervisor_list().iter().enumerate() {
            self.ensure_libvirtd(hv, i == 0)?;
        }
        self.ensure_mirror()?;
        self.ensure_apt()?;
        self.ensure_boot()?;
        self.join_farm_bridge(DHCP_PORT)
    }

    /// Whether all the daemons run.
    pub fn running(&self) -> bool {
        DAEMONS.iter().all(|d| self.pid(d).is_some())
            && self
                .settings
                .hypervisor_list()
                .iter()
                .all(|hv| self.pid(&hv.pid_name).is_some())
    }

    /// The PID files of every daemon, the extra hypervisors' first (they stop first):
    /// those the settings name and those an earlier `up` with more hypervisors left.
    fn daemon_names(&self) -> Vec<String> {
        let mut names: Vec<String> = self
            .settings
            .hypervisor_list()
            .into_iter()
            .skip(1)
            .map(|hv| hv.pid_name)
            .collect();
        for entry in std::fs::read_dir(&self.lab).into_iter().flatten().flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(name) = file
                .strip_suffix(".pid")
                .filter(|n| n.starts_with("libvirtd-hv"))
                && !names.iter().any(|n| n == name)
            {
                names.push(name.to_owned());
            }
        }
        names.extend(DAEMONS.iter().map(|d| (*d).to_owned()));
        names
    }

    /// Every namespace of the lab: the lab's, the DHCP server host's, tor1's and its
    /// hosts', the extra hypervisors' (also those an earlier `up` with more hypervisors
    /// left).
    fn namespaces(&self) -> Vec<String> {
        let ns = &self.settings.namespace;
        let mut all = vec![ns.clone(), self.settings.dhcp_namespace()];
        all.extend(tor1::namespaces(&self.settings));
        let prefix = format!("{ns}-hv");
        if let Ok(list) = ip(&["netns", "list"]) {
            all.extend(
                list.lines()
                    .filter_map(|l| l.split_whitespace().next())
                    .filter(|n| {
                        n.strip_prefix(&prefix)
                            .is_some_and(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_digit()))
                    })
                    .map(str::to_owned),
            );
        }
        all
    }

    /// Stops every process in the namespaces (tini last: it reaps the others), then the
    /// daemons by their PIDs, and deletes the namespaces.
    pub fn down(&self) -> Result<(), FixtureError> {
        let names = self.daemon_names();
        let namespaces = self.namespaces();
        let daemons: Vec<u32> = names.iter().filter_map(|d| self.pid(d)).collect();
        let others: Vec<u32> = namespaces
            .iter()
            .flat_map(|ns| netns_pids(ns))
            .filter(|p| !daemons.contains(p))
            .collect();
        if !others.is_empty() {
            println!(
                "namespaces {}: stopping PIDs {}",
                namespaces.join(", "),
                join(&others)
            );
            stop_pids(&others)?;
        }
        let mut pids = Vec::new();
        for name in &names {
            if let Some(pid) = self.pid(name) {
                println!("{name}: stopping PID {pid}");
                pids.push(pid);
            }
        }
        stop_pids(&pids)?;
        self.stop_apt_agent();
        for ns in &namespaces {
            if netns_exists(ns) {
                ip(&["netns", "del", ns])?;
                println!("network namespace {ns}: deleted");
            }
        }
        Ok(())
    }

    /// The provider's `RACK_HYPERVISORS` value for the lab: `name=uri` pairs joined by
    /// commas, the farm's hypervisor (`lab`) first.
    pub fn hypervisors_env(&self) -> String {
        self.settings
            .hypervisor_list()
            .iter()
            .map(|hv| format!("{}={}", hv.name, hv.uri()))
            .collect::<Vec<_>>()
            .join(",")
    }

    /// The PID in `lab/NAME.pid` when that process is alive and is the lab's (its command
    /// line names the lab directory, so a reused PID is not taken for ours).
    pub fn pid(&self, name: &str) -> Option<u32> {
        let text = std::fs::read_to_string(self.lab.join(format!("{name}.pid"))).ok()?;
        let pid: u32 = text.trim().parse().ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        cmdline
            .contains(&format!("{}/", self.lab.display()))
            .then_some(pid)
    }

    /// Starts a daemon in a session of its own with its output appended to
    /// `lab/log/NAME.out`, records its PID (`setsid` and `ip netns exec` exec their
    /// command, so the child's PID is the daemon's), and waits until `ready`.
    fn start(
        &self,
        name: &str,
        program: &[&str],
        env: &[(&str, &Path)],
        limit: Duration,
        log: &Path,
        mut ready: impl FnMut() -> bool,
    ) -> Result<u32, FixtureError> {
        let out_path = self.lab.join("log").join(format!("{name}.out"));
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&out_path)
            .map_err(|e| err(format!("cannot open {}: {e}", out_path.display())))?;
        let errf = out
            .try_clone()
            .map_err(|e| err(format!("cannot clone a log handle: {e}")))?;
        let mut cmd = Command::new("setsid");
        cmd.args(program)
            .stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(errf));
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start {name}: {e}")))?;
        let mut guard = Starting {
            child,
            pid_file: self.lab.join(format!("{name}.pid")),
            ready: false,
        };
        let pid = guard.child.id();
        named::write(&guard.pid_file, &format!("{pid}\n"))?;
        let deadline = Instant::now() + limit;
        while !ready() {
            if let Ok(Some(status)) = guard.child.try_wait() {
                return Err(err(format!(
                    "{name} exited ({status}) while starting; its logs are in {}:\n{}\n{}",
                    self.lab.join("log").display(),
                    process::tail(&out_path),
                    process::tail(log)
                )));
            }
            if Instant::now() > deadline {
                return Err(err(format!(
                    "{name} did not become ready within {limit:?}; see {}",
                    log.display()
                )));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        guard.ready = true;
        Ok(pid)
    }

    fn ensure_named(&self) -> Result<(), FixtureError> {
        if let Some(pid) = self.pid("named") {
            println!("named: running (PID {pid})");
            return Ok(());
        }
        let s = &self.settings;
        check_port(s.dns_port, "named, DNS", "RACK_LAB_DNS_PORT")?;
        check_port(s.rndc_port, "named, rndc", "RACK_LAB_RNDC_PORT")?;
        let d = self.lab.join("named");
        let zones = d.join("zones");
        mkdir(&zones)?;
        let keygen = process::find_binary("tsig-keygen", "bind9")?;
        let mut keys = Vec::new();
        for name in [TSIG_KEY_NAME, RNDC_KEY_NAME] {
            let file = d.join(if name == TSIG_KEY_NAME {
                "tsig.key"
            } else {
                "rndc.key"
            });
            if std::fs::metadata(&file).map_or(true, |m| m.len() == 0) {
                named::write(&file, &named::keygen_clause(&keygen, name, "hmac-sha256")?)?;
            }
            std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(format!("cannot chmod {}: {e}", file.display())))?;
            keys.push(format!("include \"{}\";", file.display()));
        }
        let conf = NamedConf {
            header: "// Written by scripts/up.\n",
            dir: &d,
            zone_dir: &zones,
            dns_port: s.dns_port,
            keys: &keys,
            control_port: s.rndc_port,
            control_keys: &[RNDC_KEY_NAME],
            statistics: None,
            zones: "",
        }
        .render();
        let conf_path = d.join("named.conf");
        named::write(&conf_path, &conf)?;
        let checkconf = process::find_binary("named-checkconf", "bind9")?;
        let mut check = Command::new(checkconf);
        check.arg(&conf_path);
        process::run(check, "named-checkconf (named.conf was not accepted)")?;
        let named_bin = process::find_binary("named", "bind9")?;
        let dns = SocketAddr::from((Ipv4Addr::LOCALHOST, s.dns_port));
        let rndc = SocketAddr::from((Ipv4Addr::LOCALHOST, s.rndc_port));
        let pid = self.start(
            "named",
            &[
                &named_bin.to_string_lossy(),
                "-c",
                &conf_path.to_string_lossy(),
                "-u",
                "root",
                "-f",
                "-n",
                "1",
            ],
            &[],
            START_LIMIT,
            &d.join("named.log"),
            || {
                process::tcp_open(rndc)
                    && process::dns_probe(dns, "rack-lab.invalid", Duration::from_secs(1))
            },
        )?;
        println!(
            "named: started (PID {pid}), DNS on 127.0.0.1:{}, rndc on 127.0.0.1:{}",
            s.dns_port, s.rndc_port
        );
        Ok(())
    }

    /// The lab's network namespace and the DHCP server host's, created once, and the
    /// veth pair between them: [`DHCP_IFACE`] with [`DHCP_SERVER_ADDR`] in the DHCP
    /// server host, [`DHCP_PORT`] in the lab's namespace (a port of the farm's bridge once
    /// libvirt creates it).
    fn ensure_namespaces(&self) -> Result<(), FixtureError> {
        let ns = self.settings.namespace.as_str();
        let dhcp_ns = self.settings.dhcp_namespace();
        for name in [ns, dhcp_ns.as_str()] {
            if !netns_exists(name) {
                ip(&["netns", "add", name])?;
                println!("network namespace {name}: created");
            }
            ip(&["-n", name, "link", "set", "lo", "up"])?;
        }
        if ip(&["-n", &dhcp_ns, "link", "show", DHCP_IFACE]).is_err() {
            ip(&[
                "link", "add", DHCP_IFACE, "netns", &dhcp_ns, "type", "veth", "peer", "name",
                DHCP_PORT, "netns", ns,
            ])?;
            let prefix = FARM_SUBNET.split_once('/').map_or("24", |(_, p)| p);
            ip(&[
                "-n",
                &dhcp_ns,
                "addr",
                "add",
                &format!("{DHCP_SERVER_ADDR}/{prefix}"),
                "dev",
                DHCP_IFACE,
            ])?;
            ip(&["-n", &dhcp_ns, "link", "set", DHCP_IFACE, "up"])?;
            ip(&[
                "-n",
                &dhcp_ns,
                "route",
                "add",
                "default",
                "via",
                FARM_GATEWAY,
                "dev",
                DHCP_IFACE,
                "onlink",
            ])?;
            println!(
                "DHCP server host {dhcp_ns}: {DHCP_IFACE} {DHCP_SERVER_ADDR}, its peer {DHCP_PORT} in {ns}"
            );
        }
        ip(&["-n", &dhcp_ns, "link", "set", DHCP_IFACE, "up"])?;
        ip(&["-n", ns, "link", "set", DHCP_PORT, "up"]).map(|_| ())
    }

    /// Joins `port`, a link of the lab's namespace (the DHCP server host's veth, tor1's
    /// uplink), to the farm's bridge when the bridge exists and the link is not in it yet
    /// (the libvirt hooks do it when libvirt starts the farm network; this covers a lab
    /// whose network was started before).
    fn join_farm_bridge(&self, port: &str) -> Result<(), FixtureError> {
        let ns = self.settings.namespace.as_str();
        if ip(&["-n", ns, "link", "show", FARM_BRIDGE]).is_err() {
            return Ok(());
        }
        let link = ip(&["-n", ns, "-o", "link", "show", port])?;
        if !link.contains(&format!("master {FARM_BRIDGE}")) {
            ip(&["-n", ns, "link", "set", port, "master", FARM_BRIDGE])?;
            println!("{port}: joined {FARM_BRIDGE}");
        }
        Ok(())
    }

    /// The libvirt network hook (`/etc/libvirt/hooks/network` in libvirtd's private
    /// directories) that joins [`DHCP_PORT`] to [`FARM_BRIDGE`] when a network is
    /// started. libvirtd finds hooks when it starts, so this is written before.
    fn write_network_hook(&self, etc: &Path) -> Result<(), FixtureError> {
        write_join_hook(
            &etc.join("hooks").join("network"),
            DHCP_PORT,
            "the DHCP server host's veth",
        )
    }

    /// libvirtd (and virtlogd) inside the namespace and a private mount namespace, under
    /// tini; QEMU runs as root.
    fn ensure_libvirtd(&self, hv: &LabHypervisor, farm: bool) -> Result<(), FixtureError> {
        let label = &hv.pid_name;
        if let Some(pid) = self.pid(label) {
            println!("{label}: running (tini PID {pid})");
            return Ok(());
        }
        let ns = hv.namespace.as_str();
        if !netns_exists(ns) {
            ip(&["netns", "add", ns])?;
            ip(&["-n", ns, "link", "set", "lo", "up"])?;
            println!("network namespace {ns}: created");
        }
        let leftover = netns_pids(ns);
        if !leftover.is_empty() {
            return Err(err(format!(
                "processes left in namespace {ns} without their libvirtd ({}); run scripts/up down first",
                join(&leftover)
            )));
        }
        crate::guest::fix_kvm_permissions()?;
        let mut found = Vec::new();
        for (name, package) in libvirt::BINARIES {
            found.push(process::find_binary(name, package)?);
        }
        let [_ip, unshare, _mount, _kill, tini, libvirtd, virtlogd, ..] = &found[..] else {
            return Err(err("binary list out of step"));
        };
        let d = hv.dir.clone();
        let script = libvirt::write_private_dirs(&d, "scripts/up", [virtlogd, tini, libvirtd])?;
        if farm {
            self.write_network_hook(&d.join("etc"))?;
        }
        mkdir(&d.join("log").join("qemu"))?;
        // QEMU runs as root: the checkout (and so the pool) may be under a directory
        // that Debian's libvirt-qemu user cannot enter, such as /root.
        named::write(
            &d.join("etc").join("qemu.conf"),
            "# Written by scripts/up.\nuser = \"root\"\ngroup = \"root\"\n",
        )?;
        let virsh = process::find_binary("virsh", "libvirt-clients")?;
        let uri = hv.uri();
        let pid = self.start(
            label,
            &[
                "ip",
                "netns",
                "exec",
                ns,
                &unshare.to_string_lossy(),
                "--mount",
                "--propagation",
                "private",
                "/bin/sh",
                &script.to_string_lossy(),
            ],
            &[],
            LIBVIRTD_START_LIMIT,
            &d.join("libvirtd.log"),
            || {
                Command::new(&virsh)
                    .args(["-q", "-c", &uri, "version"])
                    .stdout(Stdio::null())
                    .stderr(Stdio::null())
                    .status()
                    .is_ok_and(|s| s.success())
            },
        )?;
        println!(
            "{label}: started (tini PID {pid}) in namespace {ns}, hypervisor {:?}: {uri}",
            hv.name
        );
        Ok(())
    }
}

/// A daemon being started: stopped by its PID (and its PID file removed) on drop unless
/// it became ready.
struct Starting {
    child: Child,
    pid_file: PathBuf,
    ready: bool,
}

impl Drop for Starting {
    fn drop(&mut self) {
        if !self.ready {
            let _ = self.child.kill();
            let _ = self.child.wait();
            let _ = std::fs::remove_file(&self.pid_file);
        }
    }
}

/// Writes the libvirt network hook `hook` (executable): when a network starts and the
/// farm's bridge exists, link `port` (`what`) becomes a port of it.
fn write_join_hook(hook: &Path, port: &str, what: &str) -> Result<(), FixtureError> {
    let ip_bin = process::find_binary("ip", "iproute2")?;
    if let Some(dir) = hook.parent() {
        mkdir(dir)?;
    }
    named::write(
        hook,
        &format!(
            "#!/bin/sh
             # Written by scripts/up: libvirt runs this as `HOOK NAME OPERATION PHASE -`.
             # When a network starts and the farm's bridge exists, {what}
             # becomes a port of it.
             [ \"$2\" = started ] || exit 0
             {ip} link show {FARM_BRIDGE} >/dev/null 2>&1 || exit 0
             {ip} link show {port} >/dev/null 2>&1 || exit 0
             {ip} link set {port} master {FARM_BRIDGE}
             {ip} link set {port} up
",
            ip = ip_bin.display()
        ),
    )?;
    std::fs::set_permissions(hook, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| err(format!("cannot chmod {}: {e}", hook.display())))
}

fn mkdir(dir: &Path) -> Result<(), FixtureError> {
    std::fs::create_dir_all(dir).map_err(|e| err(format!("cannot create {}: {e}", dir.display())))
}

fn join(pids: &[u32]) -> String {
    pids.iter()
        .map(u32::to_string)
        .collect::<Vec<_>>()
        .join(" ")
}

fn ip(args: &[&str]) -> Result<String, FixtureError> {
    let mut cmd = Command::new(process::find_binary("ip", "iproute2")?);
    cmd.args(args);
    process::run(cmd, &format!("ip {}", args.join(" ")))
}

fn netns_exists(name: &str) -> bool {
    ip(&["netns", "list"]).is_ok_and(|out| {
        out.lines()
            .any(|l| l.split_whitespace().next() == Some(name))
    })
}

fn netns_pids(name: &str) -> Vec<u32> {
    ip(&["netns", "pids", name])
        .map(|out| {
            out.split_whitespace()
                .filter_map(|p| p.parse().ok())
                .collect()
        })
        .unwrap_or_default()
}

/// Fails when something listens on TCP port `port` (the lab's own daemon is not running
/// when this is asked), naming the processes that hold it.
fn check_port(port: u16, what: &str, variable: &str) -> Result<(), FixtureError> {
    let filter = format!("( sport = :{port} )");
    let Ok(listeners) = ip_ss(&["-Hltnp", &filter]) else {
        return Ok(());
    };
    if listeners.trim().is_empty() {
        return Ok(());
    }
    let mut who = String::new();
    let mut seen = Vec::new();
    for part in listeners.split("pid=").skip(1) {
        let pid: String = part.chars().take_while(char::is_ascii_digit).collect();
        if pid.is_empty() || seen.contains(&pid) {
            continue;
        }
        let comm = std::fs::read_to_string(format!("/proc/{pid}/comm"))
            .map_or_else(|_| "?".to_owned(), |c| c.trim().to_owned());
        who.push_str(&format!(" {comm} (PID {pid})"));
        seen.push(pid);
    }
    if who.is_empty() {
        who = " another process".to_owned();
    }
    Err(err(format!(
        "port {port} ({what}) is already in use by{who}; stop it, or pick another port with {variable}=PORT"
    )))
}

fn ip_ss(args: &[&str]) -> Result<String, FixtureError> {
    let mut cmd = Command::new(process::find_binary("ss", "iproute2")?);
    cmd.args(args);
    process::run(cmd, "ss")
}

/// Sends SIGTERM to `pids`, SIGKILL to those left after [`TERM_GRACE`], and waits until
/// all are gone.
fn stop_pids(pids: &[u32]) -> Result<(), FixtureError> {
    if pids.is_empty() {
        return Ok(());
    }
    signal("TERM", pids);
    let start = Instant::now();
    let mut killed = false;
    loop {
        let left: Vec<u32> = pids
            .iter()
            .copied()
            .filter(|p| Path::new(&format!("/proc/{p}")).exists())
            .collect();
        if left.is_empty() {
            return Ok(());
        }
        if start.elapsed() >= TERM_GRACE && !killed {
            signal("KILL", &left);
            killed = true;
        }
        if start.elapsed() >= TERM_GRACE + KILL_GRACE {
            return Err(err(format!("processes {} do not go away", join(&left))));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn signal(name: &str, pids: &[u32]) {
    let _ = Command::new("kill")
        .arg(format!("-{name}"))
        .args(pids.iter().map(u32::to_string))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}
