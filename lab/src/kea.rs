//! A real Kea DHCPv4 server in its own network namespace, its control agent on 127.0.0.1,
//! and busybox `udhcpc` as a DHCP client in a second namespace.
//!
//! Layout: namespace `<name>-s` holds kea-dhcp4 on one end of a veth pair, with
//! [`SERVER_ADDR`] in [`SUBNET`]; the other end of the pair is in namespace `<name>-c`,
//! where `udhcpc` runs. Both namespaces exist only for the fixture. kea-ctrl-agent runs in
//! the host namespace on a free loopback port with basic auth and reaches kea-dhcp4
//! through its unix control socket. On drop: both daemons are killed by PID, both
//! namespaces (and with them the veth pair) deleted, the temp dir removed.

pub use crate::netns::Netns;
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use crate::udhcpc;
pub use crate::udhcpc::DhcpLease;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// The subnet kea-dhcp4 serves on the veth (inside the fixture's namespaces only).
pub const SUBNET: &str = "10.77.0.0/24";
/// The server's address on its end of the veth.
pub const SERVER_ADDR: &str = "10.77.0.1";
/// The dynamic pool of [`SUBNET`]; reservations in tests use addresses outside it.
pub const POOL: &str = "10.77.0.100 - 10.77.0.150";

/// How long kea-dhcp4 and the agent may take until `list-commands` answers.
const START_LIMIT: Duration = Duration::from_secs(20);
/// Tries with a fresh port when the agent loses a port race with another test.
const START_ATTEMPTS: usize = 3;
/// The Debian path of the lease_cmds hook library.
pub const LEASE_CMDS: &str = "/usr/lib/x86_64-linux-gnu/kea/hooks/libdhcp_lease_cmds.so";

/// A running kea-dhcp4 and kea-ctrl-agent. Everything is removed on drop.
#[derive(Debug)]
pub struct Kea {
    // Field order matters: daemons stop before the namespaces go, the dir goes last.
    agent: Option<Daemon>,
    dhcp4: Option<Daemon>,
    client_ns: Netns,
    server_ns: Netns,
    dir: TempDir,
    busybox: PathBuf,
    dhcp4_bin: PathBuf,
    /// The agent's URL, `http://127.0.0.1:<port>`.
    pub url: String,
    /// The agent's address.
    pub agent_addr: SocketAddr,
    /// Basic-auth user.
    pub username: String,
    /// Basic-auth password.
    pub password: String,
    /// The veth end in the client namespace.
    pub client_iface: String,
    /// The veth end in the server namespace, kea-dhcp4's interface.
    pub server_iface: String,
    /// kea-dhcp4's configuration file (config-write writes here).
    pub config_file: PathBuf,
    /// Time from the first spawn until the agent answered `list-commands` for dhcp4.
    pub startup: Duration,
}

impl Kea {
    /// Creates the namespaces and veth pair, starts kea-dhcp4 inside and the agent
    /// outside, and waits until the agent answers `list-commands` from dhcp4.
    /// Reservations live in the configuration (changed by `config-set`).
    pub fn start() -> Result<Self, FixtureError> {
        Self::start_with(None)
    }

    /// [`Kea::start`] with kea-dhcp4 looking reservations up in a host database as well:
    /// `hosts_database` is its `hosts-database` object, as JSON (for PostgreSQL:
    /// [`crate::postgres::Postgres::kea_hosts_database`]).
    pub fn start_with_hosts_database(hosts_database: &str) -> Result<Self, FixtureError> {
        Self::start_with(Some(hosts_database))
    }

    fn start_with(hosts_database: Option<&str>) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let ip = process::find_binary("ip", "iproute2")?;
        let dhcp4 = process::find_binary("kea-dhcp4", "kea-dhcp4-server")?;
        let agent = process::find_binary("kea-ctrl-agent", "kea-ctrl-agent")?;
        let busybox = process::find_binary("busybox", "busybox-static")?;
        if !Path::new(LEASE_CMDS).is_file() {
            return Err(err(format!(
                "the lease_cmds hook {LEASE_CMDS} is missing; install the Debian package \
                 `kea-dhcp4-server` (apt-get install -y kea-dhcp4-server)"
            )));
        }
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = TempDir::new("rack-kea")?;
        let server_ns = Netns::create(&ip, &format!("rack-kea-{pid}-{n}-s"))?;
        let client_ns = Netns::create(&ip, &format!("rack-kea-{pid}-{n}-c"))?;
        // Interface names have at most 15 characters.
        let tag = format!("{:x}{n}", pid % 0xfffff);
        let server_iface = format!("rks{tag}");
        let client_iface = format!("rkc{tag}");
        let mut cmd = Command::new(&ip);
        cmd.args(["link", "add", &server_iface, "netns", server_ns.name()])
            .args(["type", "veth", "peer", "name", &client_iface])
            .args(["netns", client_ns.name()]);
        process::run(cmd, "ip link add (veth pair)")?;
        server_ns.ip(&[
            "addr",
            "add",
            &format!("{SERVER_ADDR}/24"),
            "dev",
            &server_iface,
        ])?;
        server_ns.ip(&["link", "set", &server_iface, "up"])?;
        client_ns.ip(&["link", "set", &client_iface, "up"])?;

        let d = dir.path();
        let socket = d.join("kea4.sock");
        let config_file = d.join("kea-dhcp4.conf");
        let dhcp4_conf = dhcp4_conf(&Dhcp4Conf {
            interfaces_config: &format!(
                r#"{{"interfaces": ["{server_iface}"], "dhcp-socket-type": "raw"}}"#
            ),
            socket: &socket,
            lease_database: r#"{"type": "memfile", "persist": false}"#,
            valid_lifetime: 600,
            subnet4: &format!(
                r#"[{{"id": 1, "subnet": "{SUBNET}", "pools": [{{"pool": "{POOL}"}}],
               "option-data": [{{"name": "routers", "data": "{SERVER_ADDR}"}}]}}]"#
            ),
            log: &d.join("kea-dhcp4.log"),
            hosts_database,
        });
        std::fs::write(&config_file, dhcp4_conf)
            .map_err(|e| err(format!("cannot write kea-dhcp4.conf: {e}")))?;
        let password = process::random_token();
        std::fs::write(d.join("password"), &password)
            .map_err(|e| err(format!("cannot write the password file: {e}")))?;

        let mut cmd = server_ns.command(&dhcp4);
        cmd.arg("-c").arg(&config_file);
        kea_env(&mut cmd, d);
        let dhcp4_out = d.join("kea-dhcp4.out");
        let mut dhcp4_daemon = Daemon::spawn("kea-dhcp4", cmd, &dhcp4_out)?;

        let mut last = None;
        for attempt in 0..START_ATTEMPTS {
            let port = process::free_port()?;
            let agent_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let agent_conf = ctrl_agent_conf(
                port,
                "rack",
                &d.join("password"),
                &socket,
                &d.join("kea-ctrl-agent.log"),
            );
            let agent_file = d.join("kea-ctrl-agent.conf");
            std::fs::write(&agent_file, agent_conf)
                .map_err(|e| err(format!("cannot write kea-ctrl-agent.conf: {e}")))?;
            let mut cmd = Command::new(&agent);
            cmd.arg("-c").arg(&agent_file);
            kea_env(&mut cmd, d);
            let agent_out = d.join(format!("kea-ctrl-agent-{attempt}.out"));
            let mut daemon = Daemon::spawn("kea-ctrl-agent", cmd, &agent_out)?;
            let auth = ("rack", password.as_str());
            let ready = daemon.wait_until(START_LIMIT, &agent_out, || {
                if let Some(status) = dhcp4_daemon.exited() {
                    // Reported below with kea-dhcp4's own log.
                    let _ = status;
                    return true;
                }
                post(
                    agent_addr,
                    Some(auth),
                    r#"{"command":"list-commands","service":["dhcp4"]}"#,
                )
                .is_some_and(|(status, body)| status == 200 && body.contains("\"result\": 0"))
            });
            if let Some(status) = dhcp4_daemon.exited() {
                return Err(err(format!(
                    "kea-dhcp4 exited ({status}); log:\n{}\n{}",
                    process::tail(&dhcp4_out),
                    process::tail(&d.join("kea-dhcp4.log"))
                )));
            }
            match ready {
                Ok(_) => {
                    return Ok(Self {
                        agent: Some(daemon),
                        dhcp4: Some(dhcp4_daemon),
                        client_ns,
                        server_ns,
                        dir,
                        busybox,
                        dhcp4_bin: dhcp4.clone(),
                        url: format!("http://{agent_addr}"),
                        agent_addr,
                        username: "rack".to_owned(),
                        password,
                        client_iface,
                        server_iface,
                        config_file,
                        startup: started.elapsed(),
                    });
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| err("kea-ctrl-agent did not start")))
    }

    /// The temp dir holding configurations, logs, the sockets and pid files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// kea-dhcp4's process id (0 once stopped).
    pub fn dhcp4_pid(&self) -> u32 {
        self.dhcp4.as_ref().map_or(0, Daemon::pid)
    }

    /// kea-ctrl-agent's process id (0 once stopped).
    pub fn agent_pid(&self) -> u32 {
        self.agent.as_ref().map_or(0, Daemon::pid)
    }

    /// Stops kea-dhcp4 (by PID); the agent keeps running.
    pub fn stop_dhcp4(&mut self) {
        self.dhcp4 = None;
    }

    /// Starts kea-dhcp4 again after [`Kea::stop_dhcp4`], from its configuration file (what
    /// `config-write` saved), and waits until the agent reaches it.
    pub fn restart_dhcp4(&mut self) -> Result<(), FixtureError> {
        self.dhcp4 = None;
        let d = self.dir.path().to_owned();
        let mut cmd = self.server_ns.command(&self.dhcp4_bin);
        cmd.arg("-c").arg(&self.config_file);
        kea_env(&mut cmd, &d);
        let out = d.join("kea-dhcp4-restart.out");
        let mut daemon = Daemon::spawn("kea-dhcp4", cmd, &out)?;
        let (addr, user, password) = (
            self.agent_addr,
            self.username.clone(),
            self.password.clone(),
        );
        daemon.wait_until(START_LIMIT, &out, || {
            post(
                addr,
                Some((&user, &password)),
                r#"{"command":"list-commands","service":["dhcp4"]}"#,
            )
            .is_some_and(|(status, body)| status == 200 && body.contains("\"result\": 0"))
        })?;
        self.dhcp4 = Some(daemon);
        Ok(())
    }

    /// Freezes kea-dhcp4 with SIGSTOP (by PID): it keeps its sockets but answers nothing
    /// until [`Kea::resume_dhcp4`]; commands sent meanwhile wait in its socket.
    pub fn pause_dhcp4(&self) -> Result<(), FixtureError> {
        self.signal_dhcp4("STOP")
    }

    /// Lets kea-dhcp4 run again after [`Kea::pause_dhcp4`] (SIGCONT, by PID).
    pub fn resume_dhcp4(&self) -> Result<(), FixtureError> {
        self.signal_dhcp4("CONT")
    }

    fn signal_dhcp4(&self, signal: &str) -> Result<(), FixtureError> {
        let pid = self.dhcp4_pid();
        if pid == 0 {
            return Err(err("kea-dhcp4 is not running"));
        }
        let mut cmd = Command::new("kill");
        cmd.arg(format!("-{signal}")).arg(pid.to_string());
        process::run(cmd, &format!("kill -{signal} {pid} (kea-dhcp4)")).map(|_| ())
    }

    /// kea-dhcp4's own log file (each control command it receives is logged at INFO).
    pub fn dhcp4_log(&self) -> PathBuf {
        self.dir().join("kea-dhcp4.log")
    }

    /// Stops the control agent (by PID); kea-dhcp4 keeps running.
    pub fn stop_agent(&mut self) {
        self.agent = None;
    }

    /// Sends one raw command to the agent with the fixture's credentials; returns the
    /// HTTP status and body. For out-of-band changes a test makes behind the client's back.
    pub fn command(&self, json: &str) -> Result<(u16, String), FixtureError> {
        post(
            self.agent_addr,
            Some((&self.username, &self.password)),
            json,
        )
        .ok_or_else(|| err(format!("no answer from kea-ctrl-agent at {}", self.url)))
    }

    /// The namespace kea-dhcp4 runs in (for routes to relayed segments).
    pub fn server_netns(&self) -> &Netns {
        &self.server_ns
    }

    /// The namespace at the other end of kea-dhcp4's veth, where `udhcpc` runs (and a
    /// relay can, see [`crate::relay`]).
    pub fn client_netns(&self) -> &Netns {
        &self.client_ns
    }

    /// The end of kea-dhcp4's and the agent's logs, for assertion messages.
    pub fn log_tail(&self) -> String {
        format!(
            "kea-dhcp4:\n{}\nkea-ctrl-agent:\n{}",
            process::tail(&self.dir().join("kea-dhcp4.log")),
            process::tail(&self.dir().join("kea-ctrl-agent.log"))
        )
    }

    /// Runs `udhcpc` once in the client namespace with MAC address `mac` on its interface
    /// (`-O` asks for the options `request` as well) and returns what it was offered and
    /// acknowledged. Fails if no lease was obtained in time.
    pub fn udhcpc(&self, mac: &str, request: &[u8]) -> Result<DhcpLease, FixtureError> {
        udhcpc::run(
            &self.client_ns,
            &self.client_iface,
            &self.busybox,
            self.dir(),
            mac,
            request,
        )
        .map_err(|e| err(format!("{e}\n{}", self.log_tail())))
    }
}

/// What differs between the kea-dhcp4 configurations of the fixture and the lab; the
/// control socket, the lease_cmds hook and the logger are always there.
#[derive(Debug)]
pub struct Dhcp4Conf<'a> {
    /// The `interfaces-config` object, as JSON.
    pub interfaces_config: &'a str,
    /// The unix control socket.
    pub socket: &'a Path,
    /// The `lease-database` object, as JSON.
    pub lease_database: &'a str,
    /// `valid-lifetime` in seconds.
    pub valid_lifetime: u32,
    /// The `subnet4` list, as JSON.
    pub subnet4: &'a str,
    /// kea-dhcp4's log file.
    pub log: &'a Path,
    /// The `hosts-database` object, as JSON, when reservations are also looked up in a
    /// host database.
    pub hosts_database: Option<&'a str>,
}

/// kea-dhcp4's configuration file.
pub fn dhcp4_conf(c: &Dhcp4Conf<'_>) -> String {
    format!(
        r#"{{"Dhcp4": {{
  "interfaces-config": {interfaces},
  "control-socket": {{"socket-type": "unix", "socket-name": "{socket}"}},
  "lease-database": {leases},{hosts}
  "hooks-libraries": [{{"library": "{LEASE_CMDS}"}}],
  "valid-lifetime": {lifetime},
  "subnet4": {subnets},
  "loggers": [{{"name": "kea-dhcp4", "output_options": [{{"output": "{log}"}}], "severity": "INFO"}}]
}}}}
"#,
        interfaces = c.interfaces_config,
        socket = c.socket.display(),
        leases = c.lease_database,
        hosts = c
            .hosts_database
            .map(|h| format!("\n  \"hosts-database\": {h},"))
            .unwrap_or_default(),
        lifetime = c.valid_lifetime,
        subnets = c.subnet4,
        log = c.log.display(),
    )
}

/// kea-ctrl-agent's configuration file: HTTP on 127.0.0.1:`port` with basic auth (user
/// `rack`, the password in `password_file`), forwarding to kea-dhcp4's `socket`.
pub fn ctrl_agent_conf(
    port: u16,
    realm: &str,
    password_file: &Path,
    socket: &Path,
    log: &Path,
) -> String {
    format!(
        r#"{{"Control-agent": {{
  "http-host": "127.0.0.1", "http-port": {port},
  "authentication": {{"type": "basic", "realm": "{realm}",
                     "clients": [{{"user": "rack", "password-file": "{pw}"}}]}},
  "control-sockets": {{"dhcp4": {{"socket-type": "unix", "socket-name": "{socket}"}}}},
  "loggers": [{{"name": "kea-ctrl-agent", "output_options": [{{"output": "{log}"}}], "severity": "INFO"}}]
}}}}
"#,
        pw = password_file.display(),
        socket = socket.display(),
        log = log.display(),
    )
}

/// Where Kea writes its pid and lock files: the fixture's dir, not /run.
pub fn kea_env(cmd: &mut Command, dir: &Path) {
    cmd.env("KEA_PIDFILE_DIR", dir).env("KEA_LOCKFILE_DIR", dir);
}

/// One HTTP/1.1 POST of a JSON body on loopback, with basic auth when given; returns the
/// status and body, `None` on any failure.
pub fn post(addr: SocketAddr, auth: Option<(&str, &str)>, json: &str) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut req = format!(
        "POST / HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n",
        json.len()
    );
    if let Some((user, password)) = auth {
        let token = base64(format!("{user}:{password}").as_bytes());
        req.push_str(&format!("Authorization: Basic {token}\r\n"));
    }
    req.push_str("\r\n");
    req.push_str(json);
    s.write_all(req.as_bytes()).ok()?;
    // Read the head, then exactly Content-Length bytes (the agent may keep the
    // connection open).
    let mut buf = Vec::new();
    let mut chunk = [0u8; 8192];
    let (head_end, length) = loop {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            return None;
        }
        buf.extend_from_slice(&chunk[..n]);
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&buf[..i]).to_ascii_lowercase();
            let length = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse::<usize>().ok())?;
            break (i + 4, length);
        }
    };
    while buf.len() < head_end + length {
        let n = s.read(&mut chunk).ok()?;
        if n == 0 {
            break;
        }
        buf.extend_from_slice(&chunk[..n]);
    }
    let head = String::from_utf8_lossy(&buf[..head_end]).into_owned();
    let status = head.split_whitespace().nth(1)?.parse().ok()?;
    let end = (head_end + length).min(buf.len());
    Some((
        status,
        String::from_utf8_lossy(&buf[head_end..end]).into_owned(),
    ))
}

/// Standard base64 with padding (RFC 4648 §4), for the Authorization header.
fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
