//! ISC's DHCP relay (`dhcrelay` from Debian's `isc-dhcp-relay`) as a top-of-rack
//! switch's relay between a pod segment and Kea: it forwards what clients broadcast on
//! its ports to kea-dhcp4 with option 82 added (`-a`), the circuit ID being the name of
//! the port the request arrived on, as a real ToR's relay does.
//!
//! Layout, beside a [`Kea`] fixture: the relay runs in Kea's client namespace, on the
//! veth to kea-dhcp4 ([`RELAY_ADDR`], its upstream) and on one veth per port (`swp1`,
//! `swp2`, ...), each port with the first address of its own subnet
//! ([`port_subnet`]: 10.78.N.0/24), which becomes the giaddr Kea picks the subnet by.
//! Behind each port, a namespace of its own holds the client end, where `udhcpc` runs.
//! kea-dhcp4's namespace gets a route to 10.78.0.0/16 through the relay. The relay is
//! stopped by its PID, the port namespaces deleted and the temp dir removed on drop; the
//! Kea fixture itself is left as it was, but for the relay's address and the route (and,
//! after [`Relay::link_host`], forwarding and the veth to the caller's namespace).

use crate::kea::{Kea, SERVER_ADDR};
pub use crate::netns::HostLink;
use crate::netns::Netns;
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use crate::udhcpc::{self, DhcpLease};
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

/// The relay's address on its upstream veth, in Kea's subnet.
pub const RELAY_ADDR: &str = "10.77.0.2";
/// How long the relay may take to open its sockets.
const START_LIMIT: Duration = Duration::from_secs(10);

/// The subnet behind port number `n` (1-based): `10.78.<n>.0/24`, the relay's address
/// on it `10.78.<n>.1`.
pub fn port_subnet(n: usize) -> String {
    format!("10.78.{n}.0/24")
}

/// One port of the relay and the namespace behind it.
#[derive(Debug)]
struct Port {
    name: String,
    ns: Netns,
    iface: String,
}

/// A running `dhcrelay -a` in front of a Kea fixture.
#[derive(Debug)]
pub struct Relay {
    // Field order matters: the relay stops before its ports' namespaces go.
    daemon: Daemon,
    ports: Vec<Port>,
    dir: TempDir,
    busybox: PathBuf,
    relay_ns: String,
}

impl Relay {
    /// Starts the relay in front of `kea` with one port per name of `ports` (at most 15
    /// characters each), port `ports[i]` on subnet [`port_subnet`]`(i + 1)`. Kea serves
    /// those subnets only once they are in its configuration (`config-set`).
    pub fn start(kea: &Kea, ports: &[&str]) -> Result<Self, FixtureError> {
        let ip = process::find_binary("ip", "iproute2")?;
        let dhcrelay = process::find_binary("dhcrelay", "isc-dhcp-relay")?;
        let busybox = process::find_binary("busybox", "busybox-static")?;
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let dir = TempDir::new("rack-relay")?;
        let relay_ns = kea.client_netns();
        relay_ns.ip(&[
            "addr",
            "add",
            &format!("{RELAY_ADDR}/24"),
            "dev",
            &kea.client_iface,
        ])?;
        kea.server_netns()
            .ip(&["route", "add", "10.78.0.0/16", "via", RELAY_ADDR])?;
        let mut made = Vec::new();
        for (i, name) in ports.iter().enumerate() {
            let ns = Netns::create(&ip, &format!("rack-relay-{pid}-{n}-{i}"))?;
            // Unique names while the pair is made, the port's own name once in place.
            let tag = format!("{:x}{n}{i}", pid % 0xfffff);
            let (up, down) = (format!("rrp{tag}"), format!("rrh{tag}"));
            let mut cmd = Command::new(&ip);
            cmd.args(["link", "add", &up, "netns", relay_ns.name()])
                .args(["type", "veth", "peer", "name", &down])
                .args(["netns", ns.name()]);
            process::run(cmd, "ip link add (relay port veth pair)")?;
            relay_ns.ip(&["link", "set", &up, "name", name])?;
            relay_ns.ip(&["addr", "add", &format!("10.78.{}.1/24", i + 1), "dev", name])?;
            relay_ns.ip(&["link", "set", name, "up"])?;
            ns.ip(&["link", "set", &down, "up"])?;
            made.push(Port {
                name: (*name).to_owned(),
                ns,
                iface: down,
            });
        }
        let mut cmd = relay_ns.command(&dhcrelay);
        cmd.args(["-4", "-d", "-a", "-m", "replace"])
            .arg("-pf")
            .arg(dir.path().join("dhcrelay.pid"))
            .args(["-iu", &kea.client_iface]);
        for p in &made {
            cmd.args(["-id", &p.name]);
        }
        cmd.arg(SERVER_ADDR);
        let log = dir.path().join("dhcrelay.log");
        let mut daemon = Daemon::spawn("dhcrelay", cmd, &log)?;
        daemon.wait_until(START_LIMIT, &log, || {
            std::fs::read_to_string(&log).is_ok_and(|l| l.contains("Sending on"))
        })?;
        Ok(Self {
            daemon,
            ports: made,
            dir,
            busybox,
            relay_ns: relay_ns.name().to_owned(),
        })
    }

    /// The relay's PID.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The relay's log, for assertion messages.
    pub fn log(&self) -> String {
        process::tail(&self.dir.path().join("dhcrelay.log"))
    }

    /// The namespace behind port `port` and the name of its interface there (the
    /// machine plugged into that port), for a test that runs its own client flow.
    pub fn port_netns(&self, port: &str) -> Option<(&Netns, &str)> {
        self.ports
            .iter()
            .find(|p| p.name == port)
            .map(|p| (&p.ns, p.iface.as_str()))
    }

    /// Joins this namespace (the caller's, usually the host's) to the relay's by a veth
    /// pair, `10.79.<k>.1/30` here and `10.79.<k>.2/30` in the relay's namespace, which
    /// then forwards: the port subnets are routed here through it, so the machines behind
    /// the ports reach servers listening on `10.79.<k>.1` and are reached from here by
    /// their addresses (their default route being the port's address). `k` comes from the
    /// process id. The link and its routes are removed when the [`HostLink`] drops.
    pub fn link_host(&self) -> Result<HostLink, FixtureError> {
        let ip = process::find_binary("ip", "iproute2")?;
        static LINKS: AtomicU32 = AtomicU32::new(0);
        let n = LINKS.fetch_add(1, Ordering::Relaxed);
        let pid = std::process::id();
        let k = u8::try_from(16 + (pid + n) % 200).unwrap_or(16);
        let tag = format!("{:x}{n}", pid % 0xfffff);
        let (here, there) = (format!("rlh{tag}"), format!("rlr{tag}"));
        let relay_ns = self.relay_ns.as_str();
        let mut cmd = Command::new(&ip);
        cmd.args(["link", "add", &here, "type", "veth", "peer", "name", &there])
            .args(["netns", relay_ns]);
        process::run(cmd, "ip link add (host link veth pair)")?;
        let link = HostLink::new(&ip, &here, Ipv4Addr::new(10, 79, k, 1));
        let local = |args: &[&str]| {
            let mut cmd = Command::new(&ip);
            cmd.args(args);
            process::run(cmd, &format!("ip {}", args.join(" ")))
        };
        let remote = |args: &[&str]| {
            let mut cmd = Command::new(&ip);
            cmd.args(["-n", relay_ns]).args(args);
            process::run(cmd, &format!("ip -n {relay_ns} {}", args.join(" ")))
        };
        local(&["addr", "add", &format!("10.79.{k}.1/30"), "dev", &here])?;
        local(&["link", "set", &here, "up"])?;
        remote(&["addr", "add", &format!("10.79.{k}.2/30"), "dev", &there])?;
        remote(&["link", "set", &there, "up"])?;
        let sysctl = process::find_binary("sysctl", "procps")?;
        let mut cmd = Command::new(&ip);
        cmd.args(["netns", "exec", relay_ns])
            .arg(sysctl)
            .args(["-qw", "net.ipv4.ip_forward=1"]);
        process::run(cmd, "sysctl net.ipv4.ip_forward=1 in the relay's namespace")?;
        for i in 1..=self.ports.len() {
            let subnet = port_subnet(i);
            let via = format!("10.79.{k}.2");
            local(&["route", "add", &subnet, "via", &via, "dev", &here])?;
        }
        Ok(link)
    }

    /// Runs `udhcpc` once behind port `port` with MAC address `mac`, through the relay.
    pub fn udhcpc(&self, port: &str, mac: &str) -> Result<DhcpLease, FixtureError> {
        let p = self
            .ports
            .iter()
            .find(|p| p.name == port)
            .ok_or_else(|| err(format!("the relay has no port {port:?}")))?;
        udhcpc::run(&p.ns, &p.iface, &self.busybox, self.dir.path(), mac, &[])
            .map_err(|e| err(format!("{e}\ndhcrelay:\n{}", self.log())))
    }
}
