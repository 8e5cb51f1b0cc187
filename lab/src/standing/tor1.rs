//! The lab's top-of-rack switch, "tor1": Open vSwitch between the farm's bridge and two
//! host namespaces, as a Linux box running OVS sits between a farm's router and its
//! servers.
//!
//! ```text
//!   lab's namespace (NS)            NS-tor1 (ovs-vswitchd, netdev)      NS-host1, NS-host2
//!   rkfarm0 ── rktor1-up ═══ veth ═══ uplink                            eth0 10.10.60.21
//!                                     host1 ═══════════ veth ═══════════ eth0
//!                                     host2 ═══════════ veth ═══════════ eth0 10.10.60.22
//! ```
//!
//! - ovsdb-server on 127.0.0.1 (`RACK_LAB_OVS_PORT`, plain TCP on loopback) and a unix
//!   socket in `lab/tor1`, its database kept there across runs;
//! - ovs-vswitchd in the switch's namespace (`NS-tor1`) with the userspace datapath (there
//!   is no kernel datapath in the lab), so bridges need `datapath_type = "netdev"`;
//! - its links, ready to be made ports: `uplink`, whose other end (`rktor1-up`) joins the
//!   farm's bridge when libvirt starts the farm network (a hook in
//!   `/etc/libvirt/hooks/network.d`), and `host1`, `host2`, whose other ends are `eth0` of
//!   the host namespaces, on the farm's subnet with the farm's gateway as their router.
//!
//! The lab makes no bridge and no port: `examples/scenarios/farm` manages them.

use super::{
    FARM_GATEWAY, FARM_SUBNET, Lab, START_LIMIT, Settings, check_port, ip, mkdir, netns_exists,
    write_join_hook,
};
use crate::ovs::{self, Binaries, OvsConf, OvsMode};
use crate::process::{self, FixtureError, err};
use std::ffi::OsStr;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The switch's name, as the lab's files and namespace name it.
pub const SWITCH: &str = "tor1";
/// ovsdb-server's PID file name (`lab/NAME.pid`).
pub const OVSDB_SERVER: &str = "tor1-ovsdb-server";
/// ovs-vswitchd's PID file name.
pub const VSWITCHD: &str = "tor1-vswitchd";
/// ovsdb-server's default loopback port (`RACK_LAB_OVS_PORT`).
pub const DEFAULT_PORT: u16 = 10640;
/// The uplink's end in the switch's namespace: the name of its OVS port.
pub const UPLINK: &str = "uplink";
/// The uplink's end in the lab's namespace, a port of the farm's bridge.
pub const UPLINK_PEER: &str = "rktor1-up";
/// The hosts behind the switch: their name (the switch's end of their veth, and the
/// suffix of their namespace) and their address on the farm's subnet.
pub const HOSTS: [(&str, &str); 2] = [("host1", "10.10.60.21"), ("host2", "10.10.60.22")];

impl Settings {
    /// The switch's network namespace, where ovs-vswitchd runs.
    pub fn tor1_namespace(&self) -> String {
        format!("{}-{SWITCH}", self.namespace)
    }

    /// The namespace of host `host` (one of [`HOSTS`]).
    pub fn host_namespace(&self, host: &str) -> String {
        format!("{}-{host}", self.namespace)
    }

    /// tor1's database socket, `unix:PATH` (ovs-vsctl's `--db`).
    pub fn tor1_unix_address(&self) -> String {
        format!("unix:{}", self.lab().join(SWITCH).join("db.sock").display())
    }
}

/// The namespaces tor1 adds to the lab: the switch's and the hosts'.
pub fn namespaces(s: &Settings) -> Vec<String> {
    std::iter::once(s.tor1_namespace())
        .chain(HOSTS.iter().map(|(h, _)| s.host_namespace(h)))
        .collect()
}

impl Lab {
    /// tor1: its namespaces and links, ovsdb-server, ovs-vswitchd, and the libvirt hook
    /// that joins the uplink to the farm's bridge (written before libvirtd starts, which
    /// is when libvirtd looks for hooks); joins the uplink now when the bridge exists.
    pub(super) fn ensure_tor1(&self) -> Result<(), FixtureError> {
        let s = &self.settings;
        let d = self.lab.join(SWITCH);
        mkdir(&d)?;
        self.ensure_tor1_links()?;
        let bins = Binaries::find()?;
        let conf = OvsConf {
            dir: &d,
            port: s.ovs_port,
            tls: None,
            mode: OvsMode::Netdev,
        };
        let socket = d.join("db.sock");
        if let Some(pid) = self.pid(OVSDB_SERVER) {
            println!("{OVSDB_SERVER}: running (PID {pid})");
        } else {
            check_port(s.ovs_port, "tor1's ovsdb-server", "RACK_LAB_OVS_PORT")?;
            if !d.join("conf.db").is_file() {
                let mut create = Command::new(&bins.tool);
                create.arg("create").arg(d.join("conf.db")).arg(ovs::SCHEMA);
                process::run(create, "ovsdb-tool create (tor1's database)")?;
            }
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, s.ovs_port));
            let pid = self.start_command(
                OVSDB_SERVER,
                &ovs::ovsdb_server_command(&bins.server, &conf),
                &d.join("ovsdb-server.log"),
                || socket.exists() && process::tcp_open(addr),
            )?;
            let mut init = Command::new(&bins.vsctl);
            init.arg(format!("--db={}", s.tor1_unix_address()))
                .args(["--no-wait", "init"]);
            process::run(init, "ovs-vsctl init (tor1)")?;
            println!(
                "{OVSDB_SERVER}: started (PID {pid}), OVSDB on tcp:127.0.0.1:{}",
                s.ovs_port
            );
        }
        if let Some(pid) = self.pid(VSWITCHD) {
            println!("{VSWITCHD}: running (PID {pid})");
        } else {
            let ns = s.tor1_namespace();
            let mut cmd = Command::new(&bins.ip);
            cmd.args(["netns", "exec", &ns]).arg(&bins.vswitchd);
            ovs::vswitchd_args(&mut cmd, &conf);
            let vsctl = &bins.vsctl;
            let db = s.tor1_unix_address();
            let pid = self.start_command(
                VSWITCHD,
                &cmd,
                &d.join("ovs-vswitchd.log"),
                // Without --no-wait, ovs-vsctl returns once vswitchd applied the change.
                || {
                    let mut cmd = Command::new(vsctl);
                    cmd.arg(format!("--db={db}")).args([
                        "--timeout=2",
                        "set",
                        "Open_vSwitch",
                        ".",
                        "external_ids:rack-lab=tor1",
                    ]);
                    process::run(cmd, "ovs-vsctl").is_ok()
                },
            )?;
            println!("{VSWITCHD}: started (PID {pid}) in namespace {ns}, userspace datapath");
        }
        self.write_tor1_hook()?;
        self.join_farm_bridge(UPLINK_PEER)
    }

    /// The switch's namespace and the hosts', created once, and the veth pairs: the
    /// uplink to the lab's namespace and one per host.
    fn ensure_tor1_links(&self) -> Result<(), FixtureError> {
        let s = &self.settings;
        let lab_ns = s.namespace.as_str();
        let tor = s.tor1_namespace();
        for name in namespaces(s) {
            if !netns_exists(&name) {
                ip(&["netns", "add", &name])?;
                println!("network namespace {name}: created");
            }
            ip(&["-n", &name, "link", "set", "lo", "up"])?;
        }
        if ip(&["-n", &tor, "link", "show", UPLINK]).is_err() {
            ip(&[
                "link",
                "add",
                UPLINK,
                "netns",
                &tor,
                "type",
                "veth",
                "peer",
                "name",
                UPLINK_PEER,
                "netns",
                lab_ns,
            ])?;
            println!("{SWITCH}: link {UPLINK}, its peer {UPLINK_PEER} in {lab_ns}");
        }
        ip(&["-n", &tor, "link", "set", UPLINK, "up"])?;
        ip(&["-n", lab_ns, "link", "set", UPLINK_PEER, "up"])?;
        let prefix = FARM_SUBNET.split_once('/').map_or("24", |(_, p)| p);
        for (host, addr) in HOSTS {
            let host_ns = s.host_namespace(host);
            if ip(&["-n", &tor, "link", "show", host]).is_err() {
                ip(&[
                    "link", "add", host, "netns", &tor, "type", "veth", "peer", "name", "eth0",
                    "netns", &host_ns,
                ])?;
                ip(&[
                    "-n",
                    &host_ns,
                    "addr",
                    "add",
                    &format!("{addr}/{prefix}"),
                    "dev",
                    "eth0",
                ])?;
                ip(&["-n", &host_ns, "link", "set", "eth0", "up"])?;
                ip(&[
                    "-n",
                    &host_ns,
                    "route",
                    "add",
                    "default",
                    "via",
                    FARM_GATEWAY,
                    "dev",
                    "eth0",
                    "onlink",
                ])?;
                println!("{SWITCH}: link {host}, its peer eth0 ({addr}) in {host_ns}");
            }
            ip(&["-n", &tor, "link", "set", host, "up"])?;
            ip(&["-n", &host_ns, "link", "set", "eth0", "up"])?;
        }
        Ok(())
    }

    /// `/etc/libvirt/hooks/network.d/tor1` in the farm hypervisor's private directories:
    /// when a network starts and the farm's bridge exists, tor1's uplink becomes a port of
    /// it (libvirt runs the scripts of `network.d` after the `network` hook).
    fn write_tor1_hook(&self) -> Result<(), FixtureError> {
        let Some(farm) = self.settings.hypervisor_list().into_iter().next() else {
            return Err(err("the lab has no hypervisor"));
        };
        let hook = farm.dir.join("etc/hooks/network.d").join(SWITCH);
        write_join_hook(&hook, UPLINK_PEER, "the switch tor1's uplink")
    }

    /// `Lab::start` for a command built by the `ovs` module: its program,
    /// arguments and environment run under `setsid`.
    fn start_command(
        &self,
        name: &str,
        cmd: &Command,
        log: &Path,
        ready: impl FnMut() -> bool,
    ) -> Result<u32, FixtureError> {
        let text = |s: &OsStr| s.to_string_lossy().into_owned();
        let program: Vec<String> = std::iter::once(cmd.get_program())
            .chain(cmd.get_args())
            .map(text)
            .collect();
        let env: Vec<(String, PathBuf)> = cmd
            .get_envs()
            .filter_map(|(k, v)| Some((text(k), Path::new(v?).to_owned())))
            .collect();
        self.start(
            name,
            &program.iter().map(String::as_str).collect::<Vec<_>>(),
            &env.iter()
                .map(|(k, v)| (k.as_str(), v.as_path()))
                .collect::<Vec<_>>(),
            START_LIMIT,
            log,
            ready,
        )
    }
}
