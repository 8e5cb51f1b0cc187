//! A real libvirtd (and its virtlogd) in a network namespace and a mount namespace of the
//! fixture's own.
//!
//! libvirtd run as root always uses the system paths (`/etc/libvirt`, `/run/libvirt`,
//! `/var/lib/libvirt`, `/var/cache/libvirt`, `/var/log/libvirt`); it has no option to move
//! its drivers' state. So the fixture starts it in a private mount namespace where those
//! five directories are bind mounts of directories in its temp dir: each fixture has its
//! own configuration, sockets, network definitions and dnsmasq files, several can run at
//! once, and nothing is left in the system paths (only the empty mount point
//! `/run/libvirt` is created if missing). The network namespace keeps libvirt's bridges,
//! iptables rules and dnsmasq processes off the host's network.
//!
//! Processes: `ip netns exec NS unshare -m sh start.sh`, where the script makes the bind
//! mounts, starts `virtlogd` in the background and execs `tini -s -- libvirtd`, so the
//! fixture's child is tini, a subreaper for libvirtd's daemonised children (dnsmasq).
//! On drop every process in the namespace (libvirtd, virtlogd, dnsmasq) is killed by PID,
//! then tini; the namespace is deleted (taking the bridges and firewall rules with it),
//! and the mount namespace disappears with its last process.

use crate::netns::{HostLink, Netns};
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use crate::udhcpc::{self, DhcpLease};
use std::net::Ipv4Addr;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long libvirtd may take until its socket accepts connections (about 0.3 s here).
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long killed processes may take to disappear from the namespace.
const STOP_LIMIT: Duration = Duration::from_secs(5);
/// How long a new port of a libvirt bridge may take to forward (STP listening and
/// learning take about 4 s with libvirt's forward delay of 0, the kernel's minimum 2 s
/// each).
const BRIDGE_PORT_LIMIT: Duration = Duration::from_secs(30);

/// The system directories libvirtd uses when run as root, and the fixture's directory
/// bind-mounted over each.
pub const PRIVATE_DIRS: &[(&str, &str)] = &[
    ("/etc/libvirt", "etc"),
    ("/run/libvirt", "run"),
    ("/var/lib/libvirt", "lib"),
    ("/var/cache/libvirt", "cache"),
    ("/var/log/libvirt", "log"),
];

/// The binaries the fixture and libvirt's network driver need, and their packages.
pub const BINARIES: &[(&str, &str)] = &[
    ("ip", "iproute2"),
    ("unshare", "util-linux"),
    ("mount", "mount"),
    ("kill", "procps"),
    ("tini", "tini"),
    ("libvirtd", "libvirt-daemon-system"),
    ("virtlogd", "libvirt-daemon-system"),
    ("dnsmasq", "dnsmasq-base"),
    ("iptables", "iptables"),
    ("qemu-system-x86_64", "qemu-system-x86"),
    ("qemu-img", "qemu-utils"),
];

/// Prepares `dir` for a libvirtd of its own: the directories bind-mounted over
/// [`PRIVATE_DIRS`], `libvirtd.conf` (logging to `dir/libvirtd.log`) and `start.sh`, the
/// script to run in a new mount namespace, which makes the bind mounts, starts virtlogd
/// and execs tini with libvirtd. `writer` names who wrote the files (in their comments).
/// Returns the script's path. The fixture and the standing lab share it.
pub fn write_private_dirs(
    dir: &Path,
    writer: &str,
    [virtlogd, tini, libvirtd]: [&Path; 3],
) -> Result<PathBuf, FixtureError> {
    let d = dir;
    for (_, sub) in PRIVATE_DIRS {
        std::fs::create_dir_all(d.join(sub))
            .map_err(|e| err(format!("cannot create {}/{sub}: {e}", d.display())))?;
    }
    std::fs::write(
        d.join("libvirtd.conf"),
        format!(
            "# Written by {writer}.\n\
             unix_sock_rw_perms = \"0700\"\n\
             auth_unix_rw = \"none\"\n\
             auth_unix_ro = \"none\"\n\
             log_outputs = \"3:file:{}\"\n",
            d.join("libvirtd.log").display()
        ),
    )
    .map_err(|e| err(format!("cannot write libvirtd.conf: {e}")))?;
    let mut script = format!(
        "#!/bin/sh\n# Written by {writer}: libvirt's directories private to it, virtlogd,\n\
         # then libvirtd under tini (a subreaper for dnsmasq and QEMU).\nset -e\n"
    );
    for (system, sub) in PRIVATE_DIRS {
        script.push_str(&format!(
            "mkdir -p {system}\nmount --bind {} {system}\n",
            d.join(sub).display()
        ));
    }
    script.push_str(&format!(
        "{virtlogd} -p {run}/virtlogd.pid > {d}/virtlogd.log 2>&1 &\n\
         exec {tini} -s -- {libvirtd} -f {d}/libvirtd.conf -p {run}/libvirtd.pid\n",
        virtlogd = virtlogd.display(),
        tini = tini.display(),
        libvirtd = libvirtd.display(),
        run = d.join("run").display(),
        d = d.display(),
    ));
    let script_path = d.join("start.sh");
    std::fs::write(&script_path, script).map_err(|e| err(format!("cannot write start.sh: {e}")))?;
    Ok(script_path)
}

/// A running libvirtd. Everything is stopped and removed on drop.
#[derive(Debug)]
pub struct Libvirt {
    // Drop stops the namespace's processes first (see `Drop`); then, in field order,
    // tini, the network namespace, and the temp dir last.
    tini: Option<Daemon>,
    netns: Netns,
    dir: TempDir,
    ip: PathBuf,
    kill: PathBuf,
    /// The URI to connect with: `qemu+unix:///system?socket=<dir>/run/libvirt-sock`.
    pub uri: String,
    /// libvirtd's read-write socket.
    pub socket: PathBuf,
    /// Time from creating the namespace until the socket accepted a connection.
    pub startup: Duration,
}

impl Libvirt {
    /// Creates the namespaces, starts virtlogd and libvirtd, and waits until libvirtd's
    /// socket accepts connections.
    pub fn start() -> Result<Self, FixtureError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let started = Instant::now();
        let mut found = Vec::new();
        for (name, package) in BINARIES {
            found.push(process::find_binary(name, package)?);
        }
        let [ip, unshare, _mount, kill, tini, libvirtd, virtlogd, ..] = &found[..] else {
            return Err(err("binary list out of step"));
        };
        let dir = TempDir::new("rack-libvirt")?;
        let d = dir.path();
        let log = d.join("libvirtd.log");
        let script_path = write_private_dirs(
            d,
            "rack's test fixture",
            [virtlogd.as_path(), tini.as_path(), libvirtd.as_path()],
        )?;

        let ns_name = format!(
            "rk-lv-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        );
        let netns = Netns::create(ip, &ns_name)?;
        let mut cmd = netns.command(unshare);
        cmd.args(["--mount", "--propagation", "private", "/bin/sh"])
            .arg(&script_path);
        let out = d.join("libvirtd.out");
        let tini = Daemon::spawn("libvirtd (under tini)", cmd, &out)?;
        let socket = d.join("run").join("libvirt-sock");
        let uri = format!("qemu+unix:///system?socket={}", socket.display());
        let mut fixture = Self {
            tini: Some(tini),
            netns,
            dir,
            ip: ip.clone(),
            kill: kill.clone(),
            uri,
            socket,
            startup: Duration::ZERO,
        };
        let socket = fixture.socket.clone();
        let waited = match fixture.tini.as_mut() {
            Some(t) => t.wait_until(START_LIMIT, &out, || UnixStream::connect(&socket).is_ok()),
            None => Err(err("libvirtd was not started")),
        };
        if let Err(e) = waited {
            return Err(err(format!("{e}\nlibvirtd.log:\n{}", process::tail(&log))));
        }
        fixture.startup = started.elapsed();
        Ok(fixture)
    }

    /// The network namespace libvirtd runs in.
    pub fn namespace(&self) -> &str {
        self.netns.name()
    }

    /// Runs `ip -n <namespace> args...` and returns its output.
    pub fn ip(&self, args: &[&str]) -> Result<String, FixtureError> {
        self.netns.ip(args)
    }

    /// The fixture's temp dir (holding `etc/`, `run/`, `lib/`, `cache/`, `log/`, the
    /// configuration and the logs).
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where libvirt writes the dnsmasq configuration of network `name`
    /// (`/var/lib/libvirt/dnsmasq/<name>.conf` as libvirtd sees it).
    pub fn dnsmasq_conf(&self, network: &str) -> PathBuf {
        self.dir()
            .join("lib")
            .join("dnsmasq")
            .join(format!("{network}.conf"))
    }

    /// The PID of the dnsmasq serving network `name`, if its pid file names a live
    /// dnsmasq process.
    pub fn dnsmasq_pid(&self, network: &str) -> Option<u32> {
        let pid_file = self
            .dir()
            .join("run")
            .join("network")
            .join(format!("{network}.pid"));
        let pid: u32 = std::fs::read_to_string(pid_file)
            .ok()?
            .trim()
            .parse()
            .ok()?;
        let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
        let cmdline = String::from_utf8_lossy(&cmdline);
        (cmdline.contains("dnsmasq") && cmdline.contains(&format!("{network}.conf"))).then_some(pid)
    }

    /// Every process in the namespace (libvirtd, virtlogd, tini, dnsmasq).
    pub fn pids(&self) -> Vec<u32> {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "pids", self.namespace()]);
        process::run(cmd, "ip netns pids")
            .map(|out| {
                out.split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// The end of libvirtd's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        process::tail(&self.dir().join("libvirtd.log"))
    }

    /// Kills every process in the namespace but tini, by PID, and waits until they are
    /// reaped (tini, their subreaper, does that at once; waiting keeps them from being
    /// handed to PID 1 as zombies when tini goes).
    fn stop_namespace_processes(&self) {
        let tini = self.tini.as_ref().map_or(0, Daemon::pid);
        let deadline = Instant::now() + STOP_LIMIT;
        let mut killed: Vec<u32> = Vec::new();
        loop {
            let others: Vec<u32> = self.pids().into_iter().filter(|p| *p != tini).collect();
            if !others.is_empty() {
                let mut cmd = Command::new(&self.kill);
                cmd.arg("-KILL").args(others.iter().map(u32::to_string));
                let _ = cmd.output();
                killed.extend(others);
            }
            killed.retain(|p| Path::new(&format!("/proc/{p}")).exists());
            if (killed.is_empty() && self.pids().iter().all(|p| *p == tini))
                || Instant::now() > deadline
            {
                return;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Libvirt {
    fn drop(&mut self) {
        if std::env::var_os("RACK_KEEP_FIXTURES").is_some() {
            eprintln!(
                "libvirt fixture kept stopped in {} (RACK_KEEP_FIXTURES)",
                self.dir().display()
            );
        }
        self.stop_namespace_processes();
        // Kills tini by PID and reaps it; the fields drop next: namespace, then dir.
        self.tini = None;
    }
}

/// A DHCP client on a bridge of the fixture's libvirt: a namespace of its own joined to
/// the bridge by a veth pair (one end enslaved to the bridge in libvirt's namespace, the
/// other in the client's). Dropping it deletes the namespace, and with it the pair.
#[derive(Debug)]
pub struct DhcpClient {
    ns: Netns,
    dir: TempDir,
    busybox: PathBuf,
    /// The client's interface.
    pub iface: String,
}

impl DhcpClient {
    /// Runs busybox `udhcpc` once with MAC address `mac`, asking for the options
    /// `request` too; see [`udhcpc::run`].
    pub fn udhcpc(&self, mac: &str, request: &[u8]) -> Result<DhcpLease, FixtureError> {
        udhcpc::run(
            &self.ns,
            &self.iface,
            &self.busybox,
            self.dir.path(),
            mac,
            request,
        )
    }
}

impl Libvirt {
    /// A DHCP client attached to `bridge` (a bridge libvirt created for a network).
    pub fn dhcp_client(&self, bridge: &str) -> Result<DhcpClient, FixtureError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let busybox = process::find_binary("busybox", "busybox-static")?;
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let ns = Netns::create(&self.ip, &format!("rk-lvc-{pid}-{n}"))?;
        // Interface names have at most 15 characters.
        let tag = format!("{:x}{n}", pid % 0xfffff);
        let (iface, peer) = (format!("rvc{tag}"), format!("rvp{tag}"));
        let mut cmd = Command::new(&self.ip);
        cmd.args(["link", "add", &iface, "netns", ns.name()])
            .args(["type", "veth", "peer", "name", &peer])
            .args(["netns", self.namespace()]);
        process::run(cmd, "ip link add (veth pair to the libvirt bridge)")?;
        self.ip(&["link", "set", &peer, "master", bridge])?;
        self.ip(&["link", "set", &peer, "up"])?;
        ns.ip(&["link", "set", &iface, "up"])?;
        self.wait_forwarding(&peer, bridge)?;
        Ok(DhcpClient {
            ns,
            dir: TempDir::new("rack-lv-dhcp")?,
            busybox,
            iface,
        })
    }

    /// Makes interface `iface` of namespace `from` a port of `bridge` (a bridge libvirt
    /// created for a network): moves it into libvirtd's namespace, enslaves it and waits
    /// until the port forwards. With the Kea fixture's client end
    /// ([`crate::kea::Kea::client_netns`], [`crate::kea::Kea::client_iface`]), kea-dhcp4
    /// serves the bridge's segment, as the standing lab's network hook arranges for the
    /// farm. The interface goes when `from`'s peer does (Kea's namespaces deleted).
    pub fn join_bridge(&self, from: &Netns, iface: &str, bridge: &str) -> Result<(), FixtureError> {
        from.ip(&["link", "set", iface, "netns", self.namespace()])?;
        self.ip(&["link", "set", iface, "master", bridge])?;
        self.ip(&["link", "set", iface, "up"])?;
        self.wait_forwarding(iface, bridge)
    }

    /// A veth pair from the caller's namespace (the host's, usually) to `bridge`: this
    /// end gets `addr/prefix`, the other becomes a port of the bridge. Servers listening
    /// on `addr` here (e.g. [`crate::Provisioning::start_on`]) serve the guests on the
    /// bridge's segment directly. Removed when the [`HostLink`] drops.
    pub fn host_port(
        &self,
        bridge: &str,
        addr: Ipv4Addr,
        prefix: u8,
    ) -> Result<HostLink, FixtureError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        // Interface names have at most 15 characters.
        let tag = format!("{:x}{n}", pid % 0xfffff);
        let (here, there) = (format!("rvh{tag}"), format!("rvb{tag}"));
        let mut cmd = Command::new(&self.ip);
        cmd.args(["link", "add", &here, "type", "veth", "peer", "name", &there])
            .args(["netns", self.namespace()]);
        process::run(cmd, "ip link add (veth pair to the libvirt bridge)")?;
        let link = HostLink::new(&self.ip, &here, addr);
        let local = |args: &[&str]| {
            let mut cmd = Command::new(&self.ip);
            cmd.args(args);
            process::run(cmd, &format!("ip {}", args.join(" ")))
        };
        local(&["addr", "add", &format!("{addr}/{prefix}"), "dev", &here])?;
        local(&["link", "set", &here, "up"])?;
        self.ip(&["link", "set", &there, "master", bridge])?;
        self.ip(&["link", "set", &there, "up"])?;
        self.wait_forwarding(&there, bridge)?;
        Ok(link)
    }

    /// Waits until `port` of `bridge` forwards. libvirt's bridges run STP: a new port
    /// forwards only after its listening and learning states (a few seconds), and what
    /// is sent before (DHCP broadcasts) is lost.
    fn wait_forwarding(&self, port: &str, bridge: &str) -> Result<(), FixtureError> {
        let started = Instant::now();
        loop {
            let details = self.ip(&["-d", "link", "show", "dev", port])?;
            if details.contains("state forwarding") {
                return Ok(());
            }
            if started.elapsed() > BRIDGE_PORT_LIMIT {
                return Err(err(format!(
                    "port {port} of bridge {bridge} is not forwarding after {BRIDGE_PORT_LIMIT:?}:\n{details}"
                )));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}
