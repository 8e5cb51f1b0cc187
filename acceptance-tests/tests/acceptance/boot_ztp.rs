//! Switch zero-touch provisioning, end to end. A bare switch (a namespace behind the
//! relay's port `swp1`, nothing configured) runs the ZTP client flow as Cumulus Linux
//! does: busybox `udhcpc` asks for option 239 and gets its management address by the
//! relay's circuit ID (a `rack_dhcp_lease` with `circuit_id`, the option from
//! `cumulus_ztp_option`), `wget` fetches the script (a `rack_boot_file`) from the URL in
//! option 239, the client checks its `CUMULUS-AUTOPROVISIONING` marker and runs it. The
//! script starts the switch's ovsdb-server on the management address (and ovs-vswitchd,
//! dummy datapath). Then Terraform applies the pod's switch configuration against that
//! address, and a second plan is empty.
//!
//! The provisioning server listens on this namespace's end of a veth into the relay's
//! namespace, which routes between it and the port subnets: the switch fetches from it,
//! and Terraform reaches the switch's management address through it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use rack_acceptance_tests::Workdir;
use rack_lab::process::{self, Daemon, TempDir};
use rack_lab::provisioning::USERNAME;
use rack_lab::relay::Relay;
use rack_lab::{Provisioning, ovs};

use crate::dhcp_common::{Backend, PROVIDER, Server};
use crate::dhcp_relay::add_pod_subnets;

/// The relay port the switch is plugged into, and the address its lease gives it.
const PORT: &str = "swp1";
const MGMT_IP: &str = "10.78.1.10";
/// How long the whole ZTP client flow may take (DHCP, fetch, both daemons started).
const ZTP_LIMIT: Duration = Duration::from_secs(60);

/// The provisioning side: the ZTP script and the switch's lease. `@DIR@` and the
/// binaries are the switch's own; the script finds its address in the configuration.
const POD: &str = r#"
locals {
  tor1_ip = "@MGMT_IP@"
}

resource "rack_boot_file" "tor1_ztp" {
  path    = "ztp/tor1.sh"
  content = <<-EOT
    #!/bin/sh
    # CUMULUS-AUTOPROVISIONING
    set -e
    d=@DIR@
    export OVS_RUNDIR=$d OVS_LOGDIR=$d OVS_DBDIR=$d OVS_SYSCONFDIR=$d
    @TOOL@ create $d/conf.db @SCHEMA@
    @SERVER@ $d/conf.db --remote=punix:$d/db.sock --remote=ptcp:6640:${local.tor1_ip} \
      --pidfile=$d/ovsdb-server.pid --detach --no-chdir \
      --unixctl=$d/ovsdb-server.ctl --log-file=$d/ovsdb-server.log
    @VSCTL@ --db=unix:$d/db.sock --no-wait init
    @VSWITCHD@ unix:$d/db.sock --pidfile=$d/ovs-vswitchd.pid --detach --no-chdir \
      --unixctl=$d/ovs-vswitchd.ctl --log-file=$d/ovs-vswitchd.log \
      --enable-dummy=override --disable-system --disable-system-route
    echo "tor1 provisioned"
  EOT
}

resource "rack_dhcp_lease" "tor1" {
  subnet     = "10.78.1.0/24"
  circuit_id = "@PORT@"
  ip         = local.tor1_ip
  hostname   = "tor1"
  options = [
    provider::rack::cumulus_ztp_option(rack_boot_file.tor1_ztp.url),
    { name = "routers", data = "10.78.1.1" },
  ]
}
"#;

/// The pod's switch configuration, applied once the switch answers.
const SWITCH: &str = r#"
resource "rack_switch_bridge" "tor1" {
  name          = "tor1"
  datapath_type = "netdev"
  fail_mode     = "standalone"
}

resource "rack_switch_vlan" "servers" {
  bridge = rack_switch_bridge.tor1.name
  name   = "servers"
  tag    = 110
}

resource "rack_switch_port" "swp3" {
  bridge = rack_switch_bridge.tor1.name
  name   = "swp3"
  vlan   = rack_switch_vlan.servers.name
}

resource "rack_switch_port" "uplink" {
  bridge    = rack_switch_bridge.tor1.name
  name      = "uplink"
  vlan_mode = "trunk"
  trunks    = [110]
}
"#;

/// The switch's ZTP client: DHCP asking for option 239, the script's URL decoded from
/// the option's hex, fetched, its marker checked, run.
const CLIENT: &str = r#"#!/bin/sh
set -e
cd @DIR@
@BB@ udhcpc -f -q -n -i @IFACE@ -s @DIR@/hook.sh -O 239 -t 4 -T 1 -A 1
. @DIR@/lease.env
[ -n "$opt239" ] || { echo "ztp: no option 239 in the answer"; exit 1; }
url=$(printf "$(echo "$opt239" | @BB@ sed 's/../\\x&/g')")
echo "ztp: fetching $url"
@BB@ wget -q -O @DIR@/ztp.sh "$url"
@BB@ grep -q CUMULUS-AUTOPROVISIONING @DIR@/ztp.sh || { echo "ztp: no marker"; exit 1; }
chmod +x @DIR@/ztp.sh
@DIR@/ztp.sh
echo "ztp: done"
"#;

/// udhcpc's script: on `bound`, the address and default route, and the lease kept.
const HOOK: &str = r#"#!/bin/sh
[ "$1" = bound ] || exit 0
@IP@ addr add "$ip/$mask" dev "$interface"
for r in $router; do @IP@ route add default via "$r" dev "$interface"; break; done
{ echo "ip=$ip"; echo "opt239=$opt239"; } > @DIR@/lease.env
"#;

/// The daemons the switch's script detached, stopped by the PIDs in their PID files
/// when the test ends, also when it fails.
struct Detached(Vec<PathBuf>);

impl Drop for Detached {
    fn drop(&mut self) {
        for file in &self.0 {
            let Ok(pid) = std::fs::read_to_string(file) else {
                continue;
            };
            let pid = pid.trim();
            if !pid.is_empty() && pid.bytes().all(|b| b.is_ascii_digit()) {
                let _ = Command::new("kill").args(["-TERM", pid]).status();
            }
        }
    }
}

fn write_script(path: &Path, text: &str) {
    use std::os::unix::fs::PermissionsExt;
    std::fs::write(path, text).expect("write a script");
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
}

fn bin(name: &str, package: &str) -> String {
    process::find_binary(name, package)
        .unwrap_or_else(|e| panic!("{e}"))
        .display()
        .to_string()
}

#[test]
fn a_switch_provisions_itself_and_takes_the_pods_configuration() {
    let server = Server::start(Backend::ConfigSet);
    add_pod_subnets(&server);
    let relay = Relay::start(&server, &[PORT, "swp2"])
        .unwrap_or_else(|e| panic!("cannot start the relay fixture: {e}"));
    let link = relay
        .link_host()
        .unwrap_or_else(|e| panic!("cannot link to the relay's namespace: {e}"));
    let prov = Provisioning::start_on(link.addr)
        .unwrap_or_else(|e| panic!("cannot start the provisioning server (nginx): {e}"));
    let switch_dir = TempDir::new("rack-ztp-switch").expect("temp dir");
    let d = switch_dir.path().display().to_string();
    let detached = Detached(vec![
        switch_dir.path().join("ovs-vswitchd.pid"),
        switch_dir.path().join("ovsdb-server.pid"),
    ]);

    let mut pod = server.workdir();
    pod.set_env("RACK_BOOT_URL", &prov.url);
    pod.set_env("RACK_BOOT_USERNAME", USERNAME);
    pod.set_env("RACK_BOOT_PASSWORD", &prov.password);
    pod.set_env("RACK_BOOT_TIMEOUT", "20s");
    let pod_hcl = POD
        .replace("@MGMT_IP@", MGMT_IP)
        .replace("@PORT@", PORT)
        .replace("@DIR@", &d)
        .replace("@TOOL@", &bin("ovsdb-tool", "openvswitch-switch"))
        .replace("@SERVER@", &bin("ovsdb-server", "openvswitch-switch"))
        .replace("@VSCTL@", &bin("ovs-vsctl", "openvswitch-switch"))
        .replace("@VSWITCHD@", &bin("ovs-vswitchd", "openvswitch-switch"))
        .replace("@SCHEMA@", ovs::SCHEMA);
    pod.write_main(&format!("{PROVIDER}{pod_hcl}"));
    pod.apply();

    // The bare switch boots.
    let (ns, iface) = relay.port_netns(PORT).expect("the switch's port");
    let busybox = bin("busybox", "busybox-static");
    let client = switch_dir.path().join("ztp-client.sh");
    write_script(
        &client,
        &CLIENT
            .replace("@DIR@", &d)
            .replace("@BB@", &busybox)
            .replace("@IFACE@", iface),
    );
    write_script(
        &switch_dir.path().join("hook.sh"),
        &HOOK
            .replace("@DIR@", &d)
            .replace("@IP@", &bin("ip", "iproute2")),
    );
    let mut cmd = ns.command(Path::new(&busybox));
    cmd.arg("sh").arg(&client);
    let log = switch_dir.path().join("ztp-client.log");
    let mut flow = Daemon::spawn("the ZTP client", cmd, &log).expect("ZTP client");
    let start = Instant::now();
    let status = loop {
        if let Some(status) = flow.exited() {
            break status;
        }
        assert!(
            start.elapsed() < ZTP_LIMIT,
            "the ZTP client did not finish within {ZTP_LIMIT:?}:\n{}\ndhcrelay:\n{}",
            process::tail(&log),
            relay.log()
        );
        std::thread::sleep(Duration::from_millis(50));
    };
    let out = std::fs::read_to_string(&log).unwrap_or_default();
    assert!(
        status.success() && out.contains("tor1 provisioned") && out.contains("ztp: done"),
        "the ZTP client failed ({status}):\n{out}\ndhcrelay:\n{}\nKea:\n{}",
        relay.log(),
        server.log_tail()
    );
    let lease = std::fs::read_to_string(switch_dir.path().join("lease.env")).expect("lease");
    assert!(
        lease.contains(&format!("ip={MGMT_IP}\n")),
        "the address of the port's lease: {lease}"
    );
    assert!(
        out.contains(&format!("ztp: fetching {}ztp/tor1.sh", prov.url)),
        "option 239 names the script's URL:\n{out}"
    );
    let access = prov.access_log();
    assert!(
        access
            .lines()
            .any(|l| l.starts_with(MGMT_IP) && l.contains("GET /boot/ztp/tor1.sh")),
        "the switch fetched the script from its management address:\n{access}"
    );

    // The pod's switch configuration, over the management network.
    let mut sw = Workdir::new();
    sw.set_env("RACK_SWITCH_ADDRESS", format!("tcp:{MGMT_IP}:6640"));
    sw.set_env("RACK_SWITCH_TIMEOUT", "10s");
    sw.write_main(&format!("{PROVIDER}{SWITCH}"));
    sw.apply();
    sw.assert_plan_empty();
    let vsctl = |args: &[&str]| {
        let mut cmd = Command::new(bin("ovs-vsctl", "openvswitch-switch"));
        cmd.arg(format!("--db=unix:{d}/db.sock")).args(args);
        process::run(cmd, "ovs-vsctl")
            .unwrap_or_else(|e| panic!("{e}"))
            .trim()
            .to_owned()
    };
    assert_eq!(vsctl(&["get", "port", "swp3", "tag"]), "110");
    assert_eq!(vsctl(&["get", "port", "uplink", "trunks"]), "[110]");
    assert_eq!(vsctl(&["list-ports", "tor1"]), "swp3\nuplink");

    sw.destroy();
    pod.destroy();
    pod.assert_destroyed();
    drop(detached);
}
