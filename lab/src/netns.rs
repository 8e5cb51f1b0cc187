//! Network namespaces that a fixture creates for a daemon that binds beyond loopback (Kea's
//! DHCP side, libvirtd, a DHCP client), deleted when the handle drops.

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
