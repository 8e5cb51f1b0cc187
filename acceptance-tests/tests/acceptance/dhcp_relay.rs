//! Addresses by location: `rack_dhcp_lease` with `circuit_id`, behind ISC's `dhcrelay
//! -a`, which adds option 82 with the name of the port a request arrived on, as a
//! top-of-rack switch's relay does. On both places Kea keeps reservations (its
//! configuration's `circuit-id` reservations, identifier type 2 in its host database):
//! two clients with different MACs on one port get that port's address in turn, the
//! client on another port gets that port's; plan is empty and keeps the configured
//! spelling (`0x` hex or text); import by circuit ID gives the same state. The same with
//! `rack_dhcp_reservations` keyed `circuit-id:<port>`: the client behind the port gets
//! the entry's address, import of the subnet gives the same state, and a second plan is
//! empty. Then what is refused at plan time.

use rack_acceptance_tests::Workdir;
use rack_lab::Kea;
use rack_lab::relay::{Relay, port_subnet};
use serde_json::json;

use crate::dhcp_common::{Backend, PROVIDER, Server, raw_config};

/// Adds the relay's port subnets to Kea's configuration (ids 11, 12), as its operator
/// would for a new pod.
pub(crate) fn add_pod_subnets(kea: &Kea) {
    let mut config = raw_config(kea);
    let list = config["Dhcp4"]["subnet4"]
        .as_array_mut()
        .expect("subnet4 is a list");
    for n in 1..=2 {
        list.push(json!({
            "id": 10 + n,
            "subnet": port_subnet(n),
            "pools": [{"pool": format!("10.78.{n}.100 - 10.78.{n}.120")}],
        }));
    }
    let cmd = json!({"command": "config-set", "service": ["dhcp4"], "arguments": config});
    let (status, body) = kea.command(&cmd.to_string()).expect("config-set");
    assert!(
        status == 200 && body.contains("\"result\": 0"),
        "config-set of the pod subnets failed: {status} {body}"
    );
}

/// Frees a leased address, as its lease expiring would when a machine is replaced.
fn expire(kea: &Kea, ip: &str) {
    let cmd = json!({"command": "lease4-del", "service": ["dhcp4"],
                     "arguments": {"ip-address": ip}});
    let (status, body) = kea.command(&cmd.to_string()).expect("lease4-del");
    assert!(status == 200 && body.contains("\"result\": 0"), "{body}");
}

const LEASES: &str = r#"
resource "rack_dhcp_lease" "rack1_u1" {
  subnet     = "10.78.1.0/24"
  circuit_id = "swp1"
  ip         = "10.78.1.10"
  hostname   = "rack1-u1"
}

resource "rack_dhcp_lease" "rack1_u2" {
  subnet     = "10.78.2.0/24"
  circuit_id = "0x73777032"
  ip         = "10.78.2.10"
}
"#;

/// Starts Kea on `backend` with the pod subnets and the relay on ports swp1 and swp2,
/// applies `resources`, and checks that a client with `mac` on swp1 gets `ip` and the
/// hostname `rack1-u1`.
fn applied_on_pod(
    backend: Backend,
    resources: &str,
    mac: &str,
    ip: &str,
) -> (Server, Relay, Workdir) {
    let server = Server::start(backend);
    add_pod_subnets(&server);
    let relay = Relay::start(&server, &["swp1", "swp2"])
        .unwrap_or_else(|e| panic!("cannot start the relay fixture: {e}"));
    let wd = server.workdir();
    wd.write_main(&format!("{PROVIDER}{resources}"));
    wd.apply();

    let first = relay.udhcpc("swp1", mac).expect("client on swp1");
    assert_eq!(first.ip, ip, "{backend:?}");
    assert_eq!(
        first.options.get("hostname").map(String::as_str),
        Some("rack1-u1")
    );
    (server, relay, wd)
}

fn by_location(backend: Backend) {
    let (server, relay, wd) = applied_on_pod(backend, LEASES, "02:00:00:0a:00:01", "10.78.1.10");
    expire(&server, "10.78.1.10");
    let second = relay
        .udhcpc("swp1", "02:00:00:0b:00:02")
        .expect("second client");
    assert_eq!(
        second.ip, "10.78.1.10",
        "{backend:?}: the port's address, another MAC"
    );
    let other = relay
        .udhcpc("swp2", "02:00:00:0c:00:03")
        .expect("client on swp2");
    assert_eq!(other.ip, "10.78.2.10", "{backend:?}");

    wd.assert_plan_empty();
    let values = wd.resource_values("rack_dhcp_lease.rack1_u2");
    assert_eq!(
        values["circuit_id"], "0x73777032",
        "the configured spelling is kept"
    );
    for id in [
        "default/10.78.1.0/24/circuit-id:73:77:70:31",
        "10.78.1.0/24/circuit-id:73:77:70:31",
    ] {
        wd.assert_import_same_state("rack_dhcp_lease.rack1_u1", id, &[]);
    }
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
}

#[test]
fn an_address_by_relay_port_in_kea_configuration() {
    by_location(Backend::ConfigSet);
}

#[test]
fn an_address_by_relay_port_in_the_host_database() {
    by_location(Backend::HostDatabase);
}

/// Both pod subnets as `rack_dhcp_reservations`, one keyed by the port's name, the other
/// by its circuit ID in hex, each beside a MAC entry.
const RESERVATIONS: &str = r#"
resource "rack_dhcp_reservations" "pod1" {
  subnet = "10.78.1.0/24"
  reservations = {
    "circuit-id:swp1"   = { ip = "10.78.1.20", hostname = "rack1-u1" }
    "02:00:00:0d:00:09" = { ip = "10.78.1.29" }
  }
}

resource "rack_dhcp_reservations" "pod2" {
  subnet = "10.78.2.0/24"
  reservations = {
    "circuit-id:0x73777032" = { ip = "10.78.2.20" }
  }
}
"#;

fn by_location_in_reservations(backend: Backend) {
    let (_server, relay, wd) =
        applied_on_pod(backend, RESERVATIONS, "02:00:00:0a:00:11", "10.78.1.20");
    let other = relay
        .udhcpc("swp2", "02:00:00:0c:00:12")
        .expect("client on swp2");
    assert_eq!(other.ip, "10.78.2.20", "{backend:?}");

    wd.assert_plan_empty();
    let values = wd.resource_values("rack_dhcp_reservations.pod2");
    assert!(
        values["reservations"]["circuit-id:0x73777032"].is_object(),
        "the configured key is kept: {values}"
    );
    for id in ["default/10.78.1.0/24", "10.78.1.0/24"] {
        wd.assert_import_same_state("rack_dhcp_reservations.pod1", id, &[]);
    }
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
}

#[test]
fn reservations_by_relay_port_in_kea_configuration() {
    by_location_in_reservations(Backend::ConfigSet);
}

#[test]
fn reservations_by_relay_port_in_the_host_database() {
    by_location_in_reservations(Backend::HostDatabase);
}

#[test]
fn bad_circuit_ids_are_refused_at_plan_time() {
    let server = Server::start(Backend::ConfigSet);
    let wd = server.workdir();
    let long = "p".repeat(256);
    for (body, needles) in [
        (
            "mac = \"52:54:00:12:34:56\"\n  circuit_id = \"swp1\"".to_string(),
            &["Both mac and circuit_id are set", "circuit_id"][..],
        ),
        (
            "circuit_id = \"\"".to_string(),
            &["An empty circuit ID"][..],
        ),
        (
            format!("circuit_id = \"{long}\""),
            &["A circuit ID of 256 bytes is too long", "255"][..],
        ),
        (
            "circuit_id = \"0xabc\"".to_string(),
            &["is not hex octets"][..],
        ),
    ] {
        wd.write_main(&format!(
            "{PROVIDER}\nresource \"rack_dhcp_lease\" \"l\" {{\n  subnet = \"10.77.0.0/24\"\n  ip = \"10.77.0.20\"\n  {body}\n}}\n"
        ));
        let text = wd.plan_fails().combined();
        for n in needles {
            assert!(text.contains(n), "{body}: missing {n:?} in\n{text}");
        }
    }
    // The same as `rack_dhcp_reservations` keys, each at its entry.
    for (key, needle) in [
        ("circuit-id:".to_string(), "An empty circuit ID"),
        (
            format!("circuit-id:{long}"),
            "A circuit ID of 256 bytes is too long",
        ),
        ("circuit-id:0xabc".to_string(), "is not hex octets"),
    ] {
        wd.write_main(&format!(
            "{PROVIDER}\nresource \"rack_dhcp_reservations\" \"r\" {{\n  subnet = \"10.77.0.0/24\"\n  reservations = {{\n    \"{key}\" = {{ ip = \"10.77.0.20\" }}\n  }}\n}}\n"
        ));
        let text = wd.plan_fails().combined();
        assert!(
            text.contains(needle) && text.contains(&format!("\"{key}\" = {{ ip")),
            "{key}: missing {needle:?} at the entry in\n{text}"
        );
    }
}
