//! `rack_dhcp_lease` against a real Kea 2.2, with the reservations in its configuration
//! and in its PostgreSQL host database: apply -> a real DHCP client (udhcpc) gets the
//! reserved address and the boot options -> plan is empty -> import gives the same state
//! -> update in place, seen by the client -> out-of-band change and delete show in plan ->
//! a new MAC replaces -> `terraform query` lists the leases -> destroy leaves nothing.

use serde_json::Value;

use crate::dhcp_common::{Backend, PROVIDER, Server, assert_pxe_boot, pxe_lease, start, workdir};

const PXE_MAC: &str = "02:00:00:aa:bb:01";

fn config(pxe_ip: &str, extra_option: &str, other_mac: &str) -> String {
    let options = format!(
        "\n    {{ name = \"domain-name-servers\", data = \"10.77.0.1, 10.77.0.2\" }},{extra_option}"
    );
    format!(
        r#"{PROVIDER}
{}
# Another spelling of the MAC, an option by code, addresses without spaces.
resource "rack_dhcp_lease" "other" {{
  subnet  = "10.77.0.0/24"
  mac     = "{other_mac}"
  ip      = "10.77.0.21"
  options = [{{ code = 3, data = "10.77.0.1,10.77.0.254" }}]
}}
"#,
        pxe_lease(PXE_MAC, pxe_ip, "node1", &options)
    )
}

#[test]
fn lease_lifecycle() {
    lease_lifecycle_on(Backend::ConfigSet);
}

#[test]
fn lease_lifecycle_in_the_hosts_database() {
    lease_lifecycle_on(Backend::HostDatabase);
}

fn lease_lifecycle_on(backend: Backend) {
    let server = Server::start(backend);
    let wd = server.workdir();
    wd.write_main(&config("10.77.0.20", "", "02-00-00-AA-BB-02"));
    let out = wd.apply();
    for secret in server.secrets() {
        assert!(!out.stdout.contains(secret), "a secret printed");
    }

    let lease = assert_pxe_boot(&server, PXE_MAC, "10.77.0.20");
    assert_eq!(
        lease.options.get("hostname").map(String::as_str),
        Some("node1")
    );
    let other = server
        .reservation("02:00:00:aa:bb:02")
        .expect("other reserved");
    assert_eq!(other["ip-address"], "10.77.0.21");
    if backend == Backend::ConfigSet {
        // config-write persisted both.
        let file = std::fs::read_to_string(&server.config_file).expect("kea config file");
        assert!(
            file.contains("10.77.0.21") && file.contains("pxelinux.0"),
            "{file}"
        );
    }
    // Spellings Kea reports differently are no change.
    wd.assert_plan_empty();

    wd.assert_import_same_state("rack_dhcp_lease.pxe", "10.77.0.0/24/02:00:00:AA:BB:01", &[]);
    wd.assert_import_same_state(
        "rack_dhcp_lease.pxe",
        "default/10.77.0.0/24/02:00:00:aa:bb:01",
        &[],
    );
    wd.assert_plan_empty();

    // Update in place: a new address and one more option; the client sees both.
    let ntp = "\n    { name = \"ntp-servers\", data = \"10.77.0.123\" },";
    wd.write_main(&config("10.77.0.30", ntp, "02-00-00-AA-BB-02"));
    wd.apply_planned(&[
        ("rack_dhcp_lease.pxe", &["update"]),
        ("rack_dhcp_lease.other", &["no-op"]),
    ]);
    let lease = server
        .udhcpc(PXE_MAC, &[42, 67])
        .expect("udhcpc after update");
    assert_eq!(lease.ip, "10.77.0.30", "{lease:?}");
    assert_eq!(
        lease.options.get("ntpsrv").map(String::as_str),
        Some("10.77.0.123"),
        "{lease:?}"
    );
    wd.assert_plan_empty();

    // Out-of-band change: refresh shows it, apply puts it back.
    server.edit_out_of_band(PXE_MAC, |r| r["ip-address"] = Value::from("10.77.0.99"));
    wd.apply_planned(&[("rack_dhcp_lease.pxe", &["update"])]);
    assert_eq!(
        server.reservation(PXE_MAC).expect("pxe")["ip-address"],
        "10.77.0.30"
    );

    // Out-of-band delete: the lease leaves state and is created again.
    server.delete_out_of_band("02:00:00:aa:bb:02");
    wd.apply_planned(&[("rack_dhcp_lease.other", &["create"])]);
    assert!(server.reservation("02:00:00:aa:bb:02").is_some());
    wd.assert_plan_empty();

    // A new MAC is a new reservation: replace.
    wd.write_main(&config("10.77.0.30", ntp, "02:00:00:aa:bb:03"));
    wd.apply_planned(&[("rack_dhcp_lease.other", &["delete", "create"])]);
    assert!(server.reservation("02:00:00:aa:bb:02").is_none());
    assert!(server.reservation("02:00:00:aa:bb:03").is_some());

    // terraform query lists what the subnet holds.
    wd.write_file(
        "leases.tfquery.hcl",
        "list \"rack_dhcp_lease\" \"all\" {\n  provider = rack\n  config {\n    subnet = \"10.77.0.0/24\"\n  }\n}\n",
    );
    let found = wd.query_display_names();
    assert_eq!(found.len(), 2, "{found:?}");
    assert!(
        found
            .iter()
            .any(|f| f.contains(PXE_MAC) && f.contains("10.77.0.30")),
        "{found:?}"
    );
    let _ = std::fs::remove_file(wd.path().join("leases.tfquery.hcl"));

    wd.destroy();
    wd.assert_destroyed();
    assert!(
        server.reservations().is_empty(),
        "{:?}",
        server.reservations()
    );
}

#[test]
fn active_leases_data_source() {
    let kea = start();
    let wd = workdir(&kea);
    let lease = format!(
        r#"{PROVIDER}
resource "rack_dhcp_lease" "a" {{
  subnet = "10.77.0.0/24"
  mac    = "{PXE_MAC}"
  ip     = "10.77.0.40"
}}
"#
    );
    wd.write_main(&lease);
    wd.apply();
    kea.udhcpc(PXE_MAC, &[])
        .expect("udhcpc gets the reservation");
    wd.write_main(&format!(
        r#"{lease}
data "rack_dhcp_leases" "by_mac" {{
  mac = "02-00-00-AA-BB-01"
}}

data "rack_dhcp_leases" "subnet" {{
  subnet = "10.77.0.0/24"
}}

output "by_mac" {{ value = data.rack_dhcp_leases.by_mac.leases }}
output "subnet" {{ value = data.rack_dhcp_leases.subnet.leases }}
"#
    ));
    wd.apply();
    let by_mac = wd.output("by_mac");
    assert_eq!(by_mac[0]["ip"], "10.77.0.40", "{by_mac:#}");
    assert_eq!(by_mac[0]["mac"], PXE_MAC, "{by_mac:#}");
    assert_eq!(by_mac[0]["subnet"], "10.77.0.0/24", "{by_mac:#}");
    assert_eq!(by_mac[0]["state"], "default", "{by_mac:#}");
    let subnet = wd.output("subnet");
    assert!(
        subnet
            .as_array()
            .is_some_and(|l| l.iter().any(|x| x["ip"] == "10.77.0.40")),
        "{subnet:#}"
    );
    wd.destroy();
}
