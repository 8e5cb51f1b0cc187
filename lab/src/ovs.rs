//! Open vSwitch in a temp dir: `ovsdb-server` with the `Open_vSwitch` database on a
//! loopback TCP port (or TLS with certificates the caller made) and a unix socket, and
//! `ovs-vswitchd` applying it.
//!
//! Two modes:
//! - [`OvsMode::Dummy`]: `ovs-vswitchd --enable-dummy=override --disable-system
//!   --disable-system-route`, where every datapath and interface is OVS's in-memory
//!   dummy. Fast, touches no network device, for tests of protocol and state.
//! - [`OvsMode::Netdev`]: `ovs-vswitchd` inside a network namespace of the fixture's
//!   (the switch), with the userspace (`netdev`) datapath; [`Ovs::add_host`] adds a host
//!   namespace joined to the switch by a veth pair, so tests ping through real ports.
//!
//! Both daemons run in the foreground (no `--detach`), so the fixture owns their PIDs and
//! stops them on drop; `OVS_RUNDIR`, `OVS_LOGDIR` and `OVS_DBDIR` point at the temp dir
//! (vswitchd locks no memory: `--mlockall` is what `ovs-ctl` adds unless told
//! `--no-mlockall`, and it is not given here).

use crate::netns::Netns;
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// How long each daemon may take until it answers.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Tries with a fresh port when ovsdb-server loses a port race with another test.
const START_ATTEMPTS: usize = 3;

/// Where Debian ships the schema of the `Open_vSwitch` database.
pub const SCHEMA: &str = "/usr/share/openvswitch/vswitch.ovsschema";

/// The Debian package that ships the daemons and tools.
const PACKAGE: &str = "openvswitch-switch";

/// Which datapath the switch runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OvsMode {
    /// In-memory dummy datapath and interfaces: no root, no network devices.
    Dummy,
    /// The userspace datapath inside a network namespace (needs root), forwarding real
    /// packets between veth ports.
    Netdev,
}

/// PEM files for ovsdb-server's `pssl:` remote.
#[derive(Debug, Clone)]
pub struct OvsTls {
    /// The server's private key.
    pub private_key: PathBuf,
    /// The server's certificate.
    pub certificate: PathBuf,
    /// The CA that client certificates must chain to.
    pub ca_cert: PathBuf,
}

/// Certificates for a TLS switch, made with `openssl` in a temp dir of their own: a CA,
/// the switch's certificate (for 127.0.0.1) and a client certificate signed by it, and
/// a client certificate of another CA (one the switch must refuse).
#[derive(Debug)]
pub struct OvsPki {
    dir: TempDir,
}

impl OvsPki {
    /// Makes the CA and the three certificates (EC P-256 keys, valid two days).
    pub fn create() -> Result<Self, FixtureError> {
        let openssl = process::find_binary("openssl", "openssl")?;
        let dir = TempDir::new("rack-ovs-pki")?;
        let d = dir.path();
        let run = |args: &[&str], what: &str| {
            let mut cmd = Command::new(&openssl);
            cmd.current_dir(d).args(args);
            process::run(cmd, what).map(|_| ())
        };
        let key = [
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:prime256v1",
            "-nodes",
        ];
        for ca in ["ca", "rogue-ca"] {
            let (k, c) = (format!("{ca}.key"), format!("{ca}.pem"));
            let mut args = vec!["req", "-x509"];
            args.extend(key);
            args.extend(["-keyout", &k, "-out", &c, "-days", "2", "-subj"]);
            let subj = format!("/CN=rack test {ca}");
            args.push(&subj);
            run(&args, "openssl req -x509 (a test CA)")?;
        }
        std::fs::write(
            d.join("server.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=serverAuth\n\
             subjectAltName=IP:127.0.0.1\n",
        )
        .map_err(|e| err(format!("cannot write server.ext: {e}")))?;
        std::fs::write(
            d.join("client.ext"),
            "basicConstraints=CA:FALSE\nkeyUsage=digitalSignature\nextendedKeyUsage=clientAuth\n",
        )
        .map_err(|e| err(format!("cannot write client.ext: {e}")))?;
        for (name, ca, ext) in [
            ("server", "ca", "server.ext"),
            ("client", "ca", "client.ext"),
            ("rogue", "rogue-ca", "client.ext"),
        ] {
            let (k, csr, c) = (
                format!("{name}.key"),
                format!("{name}.csr"),
                format!("{name}.pem"),
            );
            let subj = format!("/CN=rack test {name}");
            let mut args = vec!["req"];
            args.extend(key);
            args.extend(["-keyout", &k, "-out", &csr, "-subj", &subj]);
            run(&args, "openssl req (a test certificate request)")?;
            let (cap, cak) = (format!("{ca}.pem"), format!("{ca}.key"));
            run(
                &[
                    "x509",
                    "-req",
                    "-in",
                    &csr,
                    "-CA",
                    &cap,
                    "-CAkey",
                    &cak,
                    "-CAcreateserial",
                    "-out",
                    &c,
                    "-days",
                    "2",
                    "-extfile",
                    ext,
                ],
                "openssl x509 -req (signing a test certificate)",
            )?;
        }
        Ok(Self { dir })
    }

    /// The PEM file `name` (`ca.pem`, `client.pem`, `client.key`, `rogue.pem`,
    /// `rogue.key`, ...).
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The PEM text of file `name`.
    pub fn pem(&self, name: &str) -> Result<String, FixtureError> {
        std::fs::read_to_string(self.path(name))
            .map_err(|e| err(format!("cannot read {name}: {e}")))
    }

    /// The switch's side: its key and certificate, and the CA its clients need.
    pub fn server(&self) -> OvsTls {
        OvsTls {
            private_key: self.path("server.key"),
            certificate: self.path("server.pem"),
            ca_cert: self.path("ca.pem"),
        }
    }
}

/// A host namespace joined to the switch by a veth pair.
#[derive(Debug)]
pub struct OvsHost {
    /// The host's namespace (its end of the veth is `eth0`).
    pub ns: Netns,
    /// The switch's end of the veth, in the switch's namespace: the name an OVS port or
    /// interface uses.
    pub port: String,
    /// The host's address on `eth0`, without the prefix length.
    pub addr: String,
}

impl OvsHost {
    /// Whether one ping from this host reaches `addr` within a second (three tries, so a
    /// first packet lost to learning does not count).
    pub fn pings(&self, addr: &str) -> bool {
        let Ok(ping) = process::find_binary("ping", "iputils-ping") else {
            return false;
        };
        (0..3).any(|_| {
            let mut cmd = self.ns.command(&ping);
            cmd.args(["-c", "1", "-W", "1", addr]);
            process::run(cmd, "ping").is_ok()
        })
    }
}

/// A running ovsdb-server and ovs-vswitchd. Stopped by PID, the namespaces deleted and
/// the dir removed on drop.
#[derive(Debug)]
pub struct Ovs {
    // Field order matters: daemons stop first, namespaces next, the dir last.
    vswitchd: Daemon,
    server: Daemon,
    hosts: Vec<OvsHost>,
    switch_ns: Option<Netns>,
    dir: TempDir,
    ip: PathBuf,
    vsctl: PathBuf,
    /// The datapath mode.
    pub mode: OvsMode,
    /// ovsdb-server's loopback address (TCP, or TLS when started with [`OvsTls`]).
    pub addr: SocketAddr,
    /// ovsdb-server's unix socket.
    pub socket: PathBuf,
    /// Whether `addr` speaks TLS.
    pub tls: bool,
    /// Time from spawn until vswitchd applied the first configuration.
    pub startup: Duration,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Ovs {
    /// Starts both daemons in `mode`, ovsdb-server listening with plain TCP.
    pub fn start(mode: OvsMode) -> Result<Self, FixtureError> {
        Self::start_with(mode, None)
    }

    /// Starts both daemons in `mode`; with `tls`, ovsdb-server's loopback remote is
    /// `pssl:` with those files instead of `ptcp:`.
    pub fn start_with(mode: OvsMode, tls: Option<&OvsTls>) -> Result<Self, FixtureError> {
        let bins = Binaries::find()?;
        if !Path::new(SCHEMA).is_file() {
            return Err(err(format!(
                "the Open vSwitch schema {SCHEMA} is missing; install the Debian package \
                 `{PACKAGE}` (apt-get install -y {PACKAGE})"
            )));
        }
        process::attempts(START_ATTEMPTS, "ovsdb-server", || {
            Self::start_once(&bins, mode, tls)
        })
    }

    /// [`start`](Self::start) for a test: panics naming what is missing.
    pub fn started(mode: OvsMode) -> Self {
        match Self::start(mode) {
            Ok(o) => {
                eprintln!("Open vSwitch ({mode:?}) ready in {:?}", o.startup);
                o
            }
            Err(e) => panic!("cannot start the Open vSwitch fixture: {e}"),
        }
    }

    fn start_once(
        bins: &Binaries,
        mode: OvsMode,
        tls: Option<&OvsTls>,
    ) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let dir = TempDir::new("rack-ovs")?;
        let d = dir.path().to_owned();
        let db = d.join("conf.db");
        let mut cmd = Command::new(&bins.tool);
        cmd.arg("create").arg(&db).arg(SCHEMA);
        process::run(cmd, "ovsdb-tool create")?;

        let switch_ns = match mode {
            OvsMode::Dummy => None,
            OvsMode::Netdev => {
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                Some(Netns::create(
                    &bins.ip,
                    &format!("rack-ovs-{}-{n}", std::process::id()),
                )?)
            }
        };

        let port = process::free_port()?;
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let socket = d.join("db.sock");
        let conf = OvsConf {
            dir: &d,
            port,
            tls,
            mode,
        };
        let cmd = ovsdb_server_command(&bins.server, &conf);
        let server_out = d.join("ovsdb-server.out");
        let mut server = Daemon::spawn("ovsdb-server", cmd, &server_out)?;
        server.wait_until(START_LIMIT, &server_out, || {
            socket.exists() && process::tcp_open(addr)
        })?;
        let mut cmd = Command::new(&bins.vsctl);
        cmd.arg(format!("--db=unix:{}", socket.display()))
            .args(["--no-wait", "init"]);
        process::run(cmd, "ovs-vsctl init")?;

        let mut cmd = match &switch_ns {
            Some(ns) => ns.command(&bins.vswitchd),
            None => Command::new(&bins.vswitchd),
        };
        vswitchd_args(&mut cmd, &conf);
        let vswitchd_out = d.join("ovs-vswitchd.out");
        let mut vswitchd = Daemon::spawn("ovs-vswitchd", cmd, &vswitchd_out)?;
        let vsctl = bins.vsctl.clone();
        let sock = socket.clone();
        // Without --no-wait, ovs-vsctl returns once vswitchd applied the change
        // (cur_cfg reached next_cfg): vswitchd is then up and reading the database.
        vswitchd.wait_until(START_LIMIT, &vswitchd_out, || {
            let mut cmd = Command::new(&vsctl);
            cmd.arg(format!("--db=unix:{}", sock.display())).args([
                "--timeout=2",
                "set",
                "Open_vSwitch",
                ".",
                "external_ids:rack-lab=1",
            ]);
            process::run(cmd, "ovs-vsctl").is_ok()
        })?;
        Ok(Self {
            vswitchd,
            server,
            hosts: Vec::new(),
            switch_ns,
            dir,
            ip: bins.ip.clone(),
            vsctl: bins.vsctl.clone(),
            mode,
            addr,
            socket,
            tls: tls.is_some(),
            startup: started.elapsed(),
        })
    }

    /// The address a client uses: `tcp:127.0.0.1:PORT` (or `ssl:` with TLS).
    pub fn address(&self) -> String {
        let scheme = if self.tls { "ssl" } else { "tcp" };
        format!("{scheme}:{}", self.addr)
    }

    /// The unix socket's address, `unix:/path/db.sock`.
    pub fn unix_address(&self) -> String {
        format!("unix:{}", self.socket.display())
    }

    /// The temp dir holding the database, sockets and logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// ovsdb-server's process id.
    pub fn server_pid(&self) -> u32 {
        self.server.pid()
    }

    /// ovs-vswitchd's process id.
    pub fn vswitchd_pid(&self) -> u32 {
        self.vswitchd.pid()
    }

    /// Runs `ovs-vsctl --db=unix:... ARGS` (waiting for vswitchd to apply a change) and
    /// returns its stdout: changes made out of band, and reading back what rack wrote.
    pub fn vsctl(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut cmd = Command::new(&self.vsctl);
        cmd.arg(format!("--db=unix:{}", self.socket.display()))
            .arg("--timeout=10")
            .args(args);
        process::run(cmd, &format!("ovs-vsctl {}", args.join(" ")))
    }

    /// The end of both daemons' logs, for assertion messages.
    pub fn log_tail(&self) -> String {
        format!(
            "ovsdb-server:\n{}\novs-vswitchd:\n{}",
            process::tail(&self.dir.path().join("ovsdb-server.log")),
            process::tail(&self.dir.path().join("ovs-vswitchd.log"))
        )
    }

    /// The switch's namespace ([`OvsMode::Netdev`] only).
    pub fn switch_ns(&self) -> Option<&Netns> {
        self.switch_ns.as_ref()
    }

    /// Adds a host: a namespace whose `eth0` has `cidr` (e.g. `10.9.0.1/24`), joined by a
    /// veth pair to the switch's namespace, where its end is named `port` (at most 15
    /// characters) and is up, ready to be an OVS port. [`OvsMode::Netdev`] only.
    pub fn add_host(&mut self, port: &str, cidr: &str) -> Result<&OvsHost, FixtureError> {
        let Some(switch) = &self.switch_ns else {
            return Err(err("hosts need the netdev mode (a switch namespace)"));
        };
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let ns = Netns::create(&self.ip, &format!("rack-ovsh-{}-{n}", std::process::id()))?;
        switch.ip(&[
            "link",
            "add",
            port,
            "type",
            "veth",
            "peer",
            "name",
            "eth0",
            "netns",
            ns.name(),
        ])?;
        switch.ip(&["link", "set", port, "up"])?;
        ns.ip(&["addr", "add", cidr, "dev", "eth0"])?;
        ns.ip(&["link", "set", "eth0", "up"])?;
        let addr = cidr.split('/').next().unwrap_or(cidr).to_owned();
        self.hosts.push(OvsHost {
            ns,
            port: port.to_owned(),
            addr,
        });
        self.hosts.last().ok_or_else(|| err("no host"))
    }

    /// Adds a veth pair inside the switch's namespace, both ends up: a link from the
    /// switch to itself, for trunks and bonds between two bridges. [`OvsMode::Netdev`] only.
    pub fn add_link(&self, a: &str, b: &str) -> Result<(), FixtureError> {
        let Some(switch) = &self.switch_ns else {
            return Err(err("links need the netdev mode (a switch namespace)"));
        };
        switch.ip(&["link", "add", a, "type", "veth", "peer", "name", b])?;
        switch.ip(&["link", "set", a, "up"])?;
        switch.ip(&["link", "set", b, "up"])?;
        Ok(())
    }

    /// Joins this switch to `other` by a veth pair: `here` in this switch's namespace,
    /// `there` in the other's, both up. [`OvsMode::Netdev`] only.
    pub fn link_to(&self, other: &Ovs, here: &str, there: &str) -> Result<(), FixtureError> {
        let (Some(a), Some(b)) = (&self.switch_ns, &other.switch_ns) else {
            return Err(err("links between switches need the netdev mode"));
        };
        a.ip(&[
            "link",
            "add",
            here,
            "type",
            "veth",
            "peer",
            "name",
            there,
            "netns",
            b.name(),
        ])?;
        a.ip(&["link", "set", here, "up"])?;
        b.ip(&["link", "set", there, "up"])?;
        Ok(())
    }

    /// Sets link `name` of the switch's namespace up or down (a cable pulled: both ends
    /// of a veth lose carrier). [`OvsMode::Netdev`] only.
    pub fn set_link(&self, name: &str, up: bool) -> Result<(), FixtureError> {
        let Some(switch) = &self.switch_ns else {
            return Err(err("links need the netdev mode"));
        };
        switch.ip(&["link", "set", name, if up { "up" } else { "down" }])?;
        Ok(())
    }

    /// What `tcpdump -e -n` sees on link `name` of the switch's namespace while `during`
    /// runs (link-level headers: 802.1Q tags show as `vlan N`). tcpdump is stopped by
    /// its PID afterwards. [`OvsMode::Netdev`] only.
    pub fn capture(&self, name: &str, during: impl FnOnce()) -> Result<String, FixtureError> {
        let Some(switch) = &self.switch_ns else {
            return Err(err("captures need the netdev mode"));
        };
        let tcpdump = process::find_binary("tcpdump", "tcpdump")?;
        let out = self.dir.path().join(format!("capture-{name}.txt"));
        let mut cmd = switch.command(&tcpdump);
        cmd.args(["-l", "-e", "-n", "-i", name]);
        let dump = Daemon::spawn("tcpdump", cmd, &out)?;
        // tcpdump says "listening on" once its socket is open.
        let start = Instant::now();
        while !std::fs::read_to_string(&out).is_ok_and(|t| t.contains("listening on"))
            && start.elapsed() < Duration::from_secs(5)
        {
            std::thread::sleep(Duration::from_millis(20));
        }
        during();
        std::thread::sleep(Duration::from_millis(300));
        drop(dump);
        std::fs::read_to_string(&out).map_err(|e| err(format!("cannot read the capture: {e}")))
    }

    /// The hosts added so far, in order.
    pub fn hosts(&self) -> &[OvsHost] {
        &self.hosts
    }
}

/// What differs between one switch and another (a test's, the lab's): its directory
/// (database, sockets, logs), its loopback port, TLS, and the datapath mode.
#[derive(Debug, Clone, Copy)]
pub struct OvsConf<'a> {
    /// Holds `conf.db`, `db.sock`, the control sockets and the logs.
    pub dir: &'a Path,
    /// ovsdb-server's loopback port (`ptcp:`, or `pssl:` with `tls`).
    pub port: u16,
    /// The TLS files of a `pssl:` remote.
    pub tls: Option<&'a OvsTls>,
    /// The datapath mode (the dummy one adds vswitchd's `--enable-dummy` options).
    pub mode: OvsMode,
}

/// ovsdb-server (`server`) for `c`, in the foreground: the database `conf.db` of `c.dir`
/// served on `db.sock` and on 127.0.0.1 at `c.port`, logging to `ovsdb-server.log`.
pub fn ovsdb_server_command(server: &Path, c: &OvsConf<'_>) -> Command {
    let d = c.dir;
    let mut cmd = Command::new(server);
    ovs_env(&mut cmd, d);
    cmd.arg(d.join("conf.db"))
        .arg(format!("--remote=punix:{}", d.join("db.sock").display()))
        .arg("--no-chdir")
        .arg(format!(
            "--unixctl={}",
            d.join("ovsdb-server.ctl").display()
        ))
        .arg(format!(
            "--log-file={}",
            d.join("ovsdb-server.log").display()
        ));
    match c.tls {
        Some(t) => {
            cmd.arg(format!("--remote=pssl:{}:127.0.0.1", c.port))
                .arg(format!("--private-key={}", t.private_key.display()))
                .arg(format!("--certificate={}", t.certificate.display()))
                .arg(format!("--ca-cert={}", t.ca_cert.display()));
        }
        None => {
            cmd.arg(format!("--remote=ptcp:{}:127.0.0.1", c.port));
        }
    }
    cmd
}

/// Adds ovs-vswitchd's arguments and environment for `c` to `cmd` (which runs
/// ovs-vswitchd, possibly through `ip netns exec`): the database of `c.dir`, its control
/// socket and log there, and the dummy options in [`OvsMode::Dummy`].
pub fn vswitchd_args(cmd: &mut Command, c: &OvsConf<'_>) {
    let d = c.dir;
    ovs_env(cmd, d);
    cmd.arg(format!("unix:{}", d.join("db.sock").display()))
        .arg("--no-chdir")
        .arg(format!(
            "--unixctl={}",
            d.join("ovs-vswitchd.ctl").display()
        ))
        .arg(format!(
            "--log-file={}",
            d.join("ovs-vswitchd.log").display()
        ));
    if c.mode == OvsMode::Dummy {
        cmd.args([
            "--enable-dummy=override",
            "--disable-system",
            "--disable-system-route",
        ]);
    }
}

/// The Open vSwitch binaries and `ip`.
#[derive(Debug)]
pub(crate) struct Binaries {
    pub(crate) server: PathBuf,
    pub(crate) vswitchd: PathBuf,
    pub(crate) tool: PathBuf,
    pub(crate) vsctl: PathBuf,
    pub(crate) ip: PathBuf,
}

impl Binaries {
    pub(crate) fn find() -> Result<Self, FixtureError> {
        Ok(Self {
            server: process::find_binary("ovsdb-server", PACKAGE)?,
            vswitchd: process::find_binary("ovs-vswitchd", PACKAGE)?,
            tool: process::find_binary("ovsdb-tool", PACKAGE)?,
            vsctl: process::find_binary("ovs-vsctl", PACKAGE)?,
            ip: process::find_binary("ip", "iproute2")?,
        })
    }
}

/// Points OVS's run, log and database dirs at `dir`.
pub fn ovs_env(cmd: &mut Command, dir: &Path) {
    cmd.env("OVS_RUNDIR", dir)
        .env("OVS_LOGDIR", dir)
        .env("OVS_DBDIR", dir)
        .env("OVS_SYSCONFDIR", dir);
}
