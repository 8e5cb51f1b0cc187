//! busybox `udhcpc` as a real DHCP client: one run on an interface of a network namespace
//! of the fixture's, with the MAC address set first, and what it obtained read from the
//! variables its script saw. The Kea fixture and the libvirt DHCP client share it.

use crate::netns::Netns;
use crate::process::{self, Daemon, FixtureError, err};
use std::collections::BTreeMap;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

/// How long one udhcpc run may take: it sends up to 4 discovers a second apart.
pub const UDHCPC_LIMIT: Duration = Duration::from_secs(15);

/// What `udhcpc` obtained: the variables its script saw.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DhcpLease {
    /// The address offered (`ip`).
    pub ip: String,
    /// The next-server / siaddr field (`siaddr`), if set.
    pub siaddr: Option<String>,
    /// The header's boot file field (`boot_file`), if set.
    pub boot_file: Option<String>,
    /// Every option udhcpc exported: by its name (`hostname`, `router`, `bootfile` for
    /// option 67, ...) or as `optNN` (hex) for those it has no name for.
    pub options: BTreeMap<String, String>,
}

/// The variables udhcpc exports that are about the lease (the rest is our environment).
const LEASE_VARS: &[&str] = &[
    "ip",
    "siaddr",
    "sname",
    "boot_file",
    "subnet",
    "mask",
    "router",
    "dns",
    "domain",
    "hostname",
    "bootfile",
    "serverid",
    "lease",
    "broadcast",
    "ntpsrv",
    "tftp",
    "message",
];

/// Runs `udhcpc` once in `ns` on `iface` with MAC address `mac` (`-O` asks for the
/// options `request` as well), with its script, environment dump and log in `dir`, and
/// returns what it was offered and acknowledged. Fails if no lease was obtained in
/// [`UDHCPC_LIMIT`].
pub fn run(
    ns: &Netns,
    iface: &str,
    busybox: &Path,
    dir: &Path,
    mac: &str,
    request: &[u8],
) -> Result<DhcpLease, FixtureError> {
    ns.ip(&["link", "set", iface, "address", mac])?;
    let script = dir.join("udhcpc.sh");
    let out = dir.join(format!("udhcpc-{}.env", mac.replace(':', "")));
    let _ = std::fs::remove_file(&out);
    std::fs::write(
        &script,
        "#!/bin/sh\n# udhcpc calls this with the event; on bound, keep its variables.\n\
         [ \"$1\" = bound ] && env > \"$RACK_UDHCPC_OUT\"\nexit 0\n",
    )
    .map_err(|e| err(format!("cannot write the udhcpc script: {e}")))?;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755))
        .map_err(|e| err(format!("cannot make the udhcpc script executable: {e}")))?;
    let mut cmd = ns.command(busybox);
    cmd.args(["udhcpc", "-f", "-q", "-n", "-i", iface])
        .arg("-s")
        .arg(&script)
        .args(["-t", "4", "-T", "1", "-A", "1"]);
    for code in request {
        cmd.arg("-O").arg(code.to_string());
    }
    cmd.env("RACK_UDHCPC_OUT", &out);
    let log = dir.join("udhcpc.log");
    let mut child = Daemon::spawn("udhcpc", cmd, &log)?;
    let start = Instant::now();
    let status = loop {
        if let Some(status) = child.exited() {
            break status;
        }
        if start.elapsed() > UDHCPC_LIMIT {
            return Err(err(format!(
                "udhcpc got no lease within {UDHCPC_LIMIT:?}; its log:\n{}",
                process::tail(&log),
            )));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let env = std::fs::read_to_string(&out).map_err(|_| {
        err(format!(
            "udhcpc ({status}) obtained no lease; its log:\n{}",
            process::tail(&log),
        ))
    })?;
    let mut options = BTreeMap::new();
    for line in env.lines() {
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let numbered = k
            .strip_prefix("opt")
            .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
        if LEASE_VARS.contains(&k) || numbered {
            options.insert(k.to_owned(), v.to_owned());
        }
    }
    let ip = options
        .remove("ip")
        .ok_or_else(|| err(format!("udhcpc's script saw no ip: {env}")))?;
    Ok(DhcpLease {
        ip,
        siaddr: options.remove("siaddr"),
        boot_file: options.remove("boot_file"),
        options,
    })
}
