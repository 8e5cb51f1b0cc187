//! `rack_dhcp_lease` on a libvirt network (a `libvirt` DHCP server) against a real
//! libvirtd: apply -> the network holds the host entry and a real DHCP client (udhcpc on
//! the network's bridge) gets the address and hostname -> plan is empty -> import gives
//! the same state -> `rack_dhcp_leases` reads the client's lease -> a new address
//! changes in place, dnsmasq keeps running (same PID) and
//! the client sees it -> entries changed and deleted out of band (virsh net-update) show
//! in plan and are put back -> boot options, a circuit ID (a `rack_dhcp_reservations`
//! key), and another lease's address or hostname, are refused at plan time naming why -> destroy leaves no entry behind.

use rack_acceptance_tests::{CmdResult, Workdir};

use crate::libvirt_common::{dhcp_network, host_lines, start, virsh, virsh_ok, workdir};
use rack_lab::Libvirt;

const MAC: &str = "02:00:00:62:00:01";
const BRIDGE: &str = "rkdhcp0";

/// The network (managed by rack too) and one lease on it through the `farm` server.
fn config(ip: &str, hostname: &str, extra: &str) -> String {
    format!(
        r#"{network}
resource "rack_dhcp_lease" "node1" {{
  subnet   = "10.10.62.0/24"
  mac      = "{MAC}"
  ip       = "{ip}"
  hostname = "{hostname}"

  depends_on = [rack_network.farm]
}}
{extra}"#,
        network = dhcp_network("farm", BRIDGE, 62),
    )
}

fn hosts(lv: &Libvirt) -> String {
    host_lines(lv, "farm").join("\n")
}

/// Plans the configuration of `node1b` at 10.10.62.21 with `extra` resources; the plan
/// must fail (exit code 1). Returns how it ended.
fn plan_refusing(wd: &Workdir, extra: &str) -> CmdResult {
    wd.write_main(&config("10.10.62.21", "node1b", extra));
    let out = wd.run(&["plan", "-input=false", "-no-color"]);
    assert_eq!(out.code, Some(1), "{out}");
    out
}

#[test]
fn lease_on_a_libvirt_network() {
    let lv = start();
    let wd = workdir(&lv);
    wd.write_main(&config("10.10.62.20", "node1", ""));
    wd.apply();

    assert_eq!(
        hosts(&lv).trim(),
        "<host mac='02:00:00:62:00:01' name='node1' ip='10.10.62.20'/>"
    );
    let dnsmasq = lv.dnsmasq_pid("farm").expect("dnsmasq serves the network");
    let client = lv
        .dhcp_client(BRIDGE)
        .unwrap_or_else(|e| panic!("cannot attach a DHCP client: {e}"));
    let lease = client.udhcpc(MAC, &[]).expect("udhcpc gets the entry");
    assert_eq!(lease.ip, "10.10.62.20", "{lease:?}");
    assert_eq!(
        lease.options.get("hostname").map(String::as_str),
        Some("node1"),
        "{lease:?}"
    );
    wd.assert_plan_empty();

    wd.assert_import_same_state(
        "rack_dhcp_lease.node1",
        "farm/10.10.62.0/24/02-00-00-62-00-01",
        &[],
    );
    wd.assert_plan_empty();

    // The data source reads the lease the client holds, by MAC and by subnet.
    wd.write_main(&config(
        "10.10.62.20",
        "node1",
        r#"
data "rack_dhcp_leases" "by_mac" {
  server = "farm"
  mac    = "02:00:00:62:00:01"
}
data "rack_dhcp_leases" "by_subnet" {
  server = "farm"
  subnet = "10.10.62.0/24"
}
output "by_mac" {
  value = data.rack_dhcp_leases.by_mac.leases[*].ip
}
output "by_subnet" {
  value = [for l in data.rack_dhcp_leases.by_subnet.leases : l.mac]
}
"#,
    ));
    wd.apply();
    assert_eq!(wd.output("by_mac"), serde_json::json!(["10.10.62.20"]));
    assert_eq!(wd.output("by_subnet"), serde_json::json!([MAC]));

    // A new address and hostname change in place; dnsmasq is not restarted.
    wd.write_main(&config("10.10.62.21", "node1b", ""));
    wd.apply_planned(&[("rack_dhcp_lease.node1", &["update"])]);
    assert!(
        hosts(&lv).contains("name='node1b' ip='10.10.62.21'"),
        "{}",
        hosts(&lv)
    );
    let lease = client.udhcpc(MAC, &[]).expect("udhcpc after the update");
    assert_eq!(lease.ip, "10.10.62.21", "{lease:?}");
    assert_eq!(lv.dnsmasq_pid("farm"), Some(dnsmasq), "dnsmasq restarted");
    wd.assert_plan_empty();

    // Changed out of band: the plan puts the address back.
    virsh_ok(
        &lv,
        &[
            "net-update",
            "farm",
            "modify",
            "ip-dhcp-host",
            "<host mac='02:00:00:62:00:01' name='node1b' ip='10.10.62.99'/>",
            "--live",
            "--config",
        ],
    );
    wd.apply_planned(&[("rack_dhcp_lease.node1", &["update"])]);
    assert!(hosts(&lv).contains("ip='10.10.62.21'"), "{}", hosts(&lv));
    wd.assert_plan_empty();

    // Deleted out of band: the plan creates it again.
    virsh_ok(
        &lv,
        &[
            "net-update",
            "farm",
            "delete",
            "ip-dhcp-host",
            "<host mac='02:00:00:62:00:01' name='node1b' ip='10.10.62.21'/>",
            "--live",
            "--config",
        ],
    );
    assert_eq!(hosts(&lv), "");
    wd.apply_planned(&[("rack_dhcp_lease.node1", &["create"])]);
    assert!(hosts(&lv).contains("ip='10.10.62.21'"), "{}", hosts(&lv));
    wd.assert_plan_empty();

    // What a libvirt host entry cannot hold, and what another entry holds, fail at plan
    // time at the attribute, naming why.
    let out = plan_refusing(
        &wd,
        r#"
resource "rack_dhcp_lease" "pxe" {
  subnet      = "10.10.62.0/24"
  mac         = "02:00:00:62:00:02"
  ip          = "10.10.62.30"
  next_server = "10.10.62.1"
  boot_file   = "pxelinux.0"
}
"#,
    );
    assert!(
        out.stderr.contains("not supported by the libvirt backend")
            && out.stderr.contains("boot_file")
            && out.stderr.contains("next_server"),
        "{out}"
    );
    // A circuit ID is a Kea identifier: refused at the entry's key.
    let out = plan_refusing(
        &wd,
        r#"
resource "rack_dhcp_reservations" "ports" {
  subnet = "10.10.62.0/24"
  reservations = {
    "circuit-id:swp1" = { ip = "10.10.62.40" }
  }

  depends_on = [rack_network.farm]
}
"#,
    );
    assert!(
        out.stderr
            .contains("`circuit_id` is not supported by the libvirt backend")
            && out.stderr.contains("\"circuit-id:swp1\" = { ip"),
        "{out}"
    );
    let out = plan_refusing(
        &wd,
        r#"
resource "rack_dhcp_lease" "twin" {
  subnet   = "10.10.62.0/24"
  mac      = "02:00:00:62:00:03"
  ip       = "10.10.62.31"
  hostname = "node1b"
}
"#,
    );
    assert!(
        out.stderr.contains("node1b") && out.stderr.contains("02:00:00:62:00:01"),
        "{out}"
    );

    wd.write_main(&config("10.10.62.21", "node1b", ""));
    wd.destroy();
    wd.assert_destroyed();
    let (exists, _, _) = virsh(&lv, &["net-info", "farm"]);
    assert!(!exists, "the network is gone");
}
