//! Network namespaces that a fixture creates for a daemon that binds beyond loopback (Kea's
//! DHCP side, libvirtd, a DHCP client), deleted when the handle drops.

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use crate::process::{self, FixtureError};

/// A network namespace created by the fixture and deleted on drop.
#[derive(Debug)]
pub struct Netns {
    ip: PathBuf,
    name: String,
}

impl Netns {
    /// Creates namespace `name` with its loopback up.
    pub fn create(ip: &Path, name: &str) -> Result<Self, FixtureError> {
        let mut cmd = Command::new(ip);
        cmd.args(["netns", "add", name]);
        process::run(cmd, &format!("ip netns add {name} (needs root)"))?;
        let ns = Self {
            ip: ip.to_owned(),
            name: name.to_owned(),
        };
        ns.ip(&["link", "set", "lo", "up"])?;
        Ok(ns)
    }

    /// Its name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Runs `ip -n <name> args...`.
    pub fn ip(&self, args: &[&str]) -> Result<String, FixtureError> {
        let mut cmd = Command::new(&self.ip);
        cmd.arg("-n").arg(&self.name).args(args);
        process::run(cmd, &format!("ip -n {} {}", self.name, args.join(" ")))
    }

    /// A command that runs `program` inside the namespace (`ip netns exec` execs it, so
    /// the child's PID is the program's).
    pub fn command(&self, program: &Path) -> Command {
        let mut cmd = Command::new(&self.ip);
        cmd.args(["netns", "exec", &self.name]).arg(program);
        cmd
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new(&self.ip)
            .args(["netns", "del", &self.name])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}

/// A veth pair between the caller's namespace (the host's, usually) and a fixture's
/// namespace, for servers of the caller's that machines there reach: the relay's
/// ([`crate::relay::Relay::link_host`]) or a libvirt bridge
/// ([`crate::libvirt::Libvirt::host_port`]). Deleting this end on drop deletes the pair
/// and the routes through it.
#[derive(Debug)]
pub struct HostLink {
    ip: PathBuf,
    iface: String,
    /// This end's address, which servers for the machines on the other side listen on.
    pub addr: Ipv4Addr,
}

impl HostLink {
    /// Takes charge of `iface`, this namespace's end of a pair just made, with `addr`.
    pub(crate) fn new(ip: &Path, iface: &str, addr: Ipv4Addr) -> Self {
        Self {
            ip: ip.to_owned(),
            iface: iface.to_owned(),
            addr,
        }
    }
}

impl Drop for HostLink {
    fn drop(&mut self) {
        let _ = Command::new(&self.ip)
            .args(["link", "del", &self.iface])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
