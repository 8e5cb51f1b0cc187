//! `rack_dhcp_reservations`, many reservations of one subnet as one resource, against a
//! real Kea 2.2 with the reservations in its configuration and in its PostgreSQL host
//! database: apply -> plan is empty -> entries changed, added and removed in place ->
//! keys that are not valid MACs, two entries with one address, and a client a
//! `rack_dhcp_lease` holds are refused at plan time -> an out-of-band change shows in
//! plan and is put back -> a change made between plan and apply is refused, naming the
//! entry -> import takes the whole subnet (by ID and by identity) -> destroy removes only
//! its own entries, never a reservation made by hand.

use crate::dhcp_common::{Backend, PROVIDER, Server};

const A: &str = "02:00:00:cc:00:01";
const B: &str = "02:00:00:cc:00:02";
const C: &str = "02:00:00:cc:00:03";
const D: &str = "02:00:00:cc:00:04";
/// The `rack_dhcp_lease` beside the resource.
const LONE: &str = "02:00:00:cc:00:50";
/// A reservation made outside the configuration.
const HAND: &str = "02:00:00:cc:00:99";

/// The `rack_dhcp_lease` beside the resource, in the same subnet.
fn lone() -> String {
    format!(
        "resource \"rack_dhcp_lease\" \"lone\" {{\n  subnet = \"10.77.0.0/24\"\n  mac    = \
         \"{LONE}\"\n  ip     = \"10.77.0.50\"\n}}\n"
    )
}

/// The resource with `entries` (HCL map items), and the lease beside it.
fn config(entries: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_dhcp_reservations" "farm" {{
  subnet = "10.77.0.0/24"
  reservations = {{
{entries}
  }}
}}

{}"#,
        lone()
    )
}

/// Entries A, B (the MAC spelled otherwise) and C.
fn first(b_ip: &str) -> String {
    format!(
        r#"    "{A}" = {{
      ip       = "10.77.0.31"
      hostname = "n1"
      options  = [{{ name = "domain-name-servers", data = "10.77.0.1, 10.77.0.2" }}]
    }}
    "02-00-00-CC-00-02" = {{ ip = "{b_ip}" }}
    "{C}" = {{ ip = "10.77.0.33", next_server = "10.77.0.1", boot_file = "pxelinux.0" }}"#
    )
}

/// A moved to another address, C removed, D added.
fn second(b_ip: &str) -> String {
    format!(
        r#"    "{A}" = {{
      ip       = "10.77.0.41"
      hostname = "n1"
      options  = [{{ name = "domain-name-servers", data = "10.77.0.1, 10.77.0.2" }}]
    }}
    "02-00-00-CC-00-02" = {{ ip = "{b_ip}" }}
    "{D}" = {{ ip = "10.77.0.34", hostname = "n4" }}"#
    )
}

/// The writes to the server in a provider's debug log: `config-set`s through Kea's
/// control agent, transactions in its host database.
fn writes(log: &str) -> usize {
    log.lines()
        .filter(|l| {
            (l.contains("Kea command answered") && l.contains("config-set"))
                || l.contains("wrote a batch to the Kea hosts database")
        })
        .count()
}

fn ip_of(server: &Server, mac: &str) -> Option<String> {
    server
        .reservation(mac)
        .map(|r| r["ip-address"].as_str().unwrap_or_default().to_owned())
}

#[test]
fn reservations_lifecycle() {
    reservations_lifecycle_on(Backend::ConfigSet);
}

#[test]
fn reservations_lifecycle_in_the_hosts_database() {
    reservations_lifecycle_on(Backend::HostDatabase);
}

fn reservations_lifecycle_on(backend: Backend) {
    let server = Server::start(backend);

    // A reservation made outside this configuration: written by another, then forgotten.
    let hand = server.workdir();
    hand.write_main(&format!(
        "{PROVIDER}\nresource \"rack_dhcp_lease\" \"hand\" {{\n  subnet = \"10.77.0.0/24\"\n  \
         mac = \"{HAND}\"\n  ip = \"10.77.0.99\"\n}}\n"
    ));
    hand.apply();
    hand.state_rm("rack_dhcp_lease.hand");

    let mut wd = server.workdir();
    // The provider's debug log, where its writes are counted.
    wd.set_env("TF_LOG_PROVIDER", "DEBUG");
    wd.write_main(&config(&first("10.77.0.32")));
    wd.apply();
    assert_eq!(ip_of(&server, A).as_deref(), Some("10.77.0.31"));
    assert_eq!(ip_of(&server, B).as_deref(), Some("10.77.0.32"));
    let c = server.reservation(C).expect("C reserved");
    assert_eq!(c["boot-file-name"], "pxelinux.0", "{c}");
    assert_eq!(ip_of(&server, LONE).as_deref(), Some("10.77.0.50"));
    // Spellings Kea reports differently (the MAC, the option's spacing) are no change.
    wd.assert_plan_empty();

    // One resource updated in place: an entry changed, one removed, one added; the lease
    // beside it and the reservation made by hand are untouched.
    // Its three changes are one write: one config-set, or one transaction.
    wd.write_main(&config(&second("10.77.0.32")));
    let out = wd.apply_planned(&[("rack_dhcp_reservations.farm", &["update"])]);
    assert_eq!(writes(&out.stderr), 1, "{}", out.stderr);
    assert_eq!(ip_of(&server, A).as_deref(), Some("10.77.0.41"));
    assert_eq!(ip_of(&server, C), None);
    assert_eq!(ip_of(&server, D).as_deref(), Some("10.77.0.34"));
    assert_eq!(ip_of(&server, LONE).as_deref(), Some("10.77.0.50"));
    assert_eq!(ip_of(&server, HAND).as_deref(), Some("10.77.0.99"));
    wd.assert_plan_empty();

    // Refused at plan time: a key that is not a MAC, two entries with one address, and a
    // client the lease beside it holds.
    for (entry, needle) in [
        (
            "    \"01:00:5e:00:00:01\" = { ip = \"10.77.0.60\" }".to_owned(),
            "not a unicast MAC address",
        ),
        (
            "    \"02:00:00:cc:00:05\" = { ip = \"10.77.0.34\" }".to_owned(),
            "10.77.0.34 is in two entries",
        ),
        (
            format!("    \"{LONE}\" = {{ ip = \"10.77.0.61\" }}"),
            "is already reserved in subnet",
        ),
    ] {
        wd.write_main(&config(&format!("{}\n{entry}", second("10.77.0.32"))));
        let out = wd.plan_fails();
        let text = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(text.contains(needle), "{needle}: {out}");
    }
    wd.write_main(&config(&second("10.77.0.32")));

    // Out of band: a changed entry shows in plan, by its key; apply puts it back.
    server.edit_out_of_band(A, |r| r["ip-address"] = "10.77.0.45".into());
    let plan = wd.plan();
    assert!(plan.has_changes, "drift not seen\n{}", plan.run);
    assert!(
        plan.run.stdout.contains(A) && plan.run.stdout.contains("10.77.0.45"),
        "the plan names the entry\n{}",
        plan.run
    );
    wd.apply_planned(&[("rack_dhcp_reservations.farm", &["update"])]);
    assert_eq!(ip_of(&server, A).as_deref(), Some("10.77.0.41"));
    wd.assert_plan_empty();

    // A change made between plan and apply is refused, naming the entry, not clobbered;
    // the other entries' changes are written.
    wd.write_main(&config(
        &second("10.77.0.52").replace("hostname = \"n4\"", "hostname = \"n4b\""),
    ));
    wd.save_plan("saved.tfplan");
    server.edit_out_of_band(B, |r| r["ip-address"] = "10.77.0.77".into());
    let out = wd.apply_saved("saved.tfplan").failure();
    let text = out.stderr.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        text.contains(B) && text.contains("changed outside Terraform"),
        "{out}"
    );
    assert_eq!(
        ip_of(&server, B).as_deref(),
        Some("10.77.0.77"),
        "clobbered"
    );
    let d = server.reservation(D).expect("D reserved");
    assert_eq!(d["hostname"], "n4b", "{d}");
    wd.apply();
    assert_eq!(ip_of(&server, B).as_deref(), Some("10.77.0.52"));
    wd.assert_plan_empty();

    // Import takes the whole subnet: the lease beside it and the hand-made one too.
    let adopter = server.workdir();
    adopter.write_main(&format!(
        "{PROVIDER}\nresource \"rack_dhcp_reservations\" \"all\" {{\n  subnet = \
         \"10.77.0.0/24\"\n  reservations = {{}}\n}}\n"
    ));
    adopter.import("rack_dhcp_reservations.all", "10.77.0.0/24");
    let imported = adopter.resource_values("rack_dhcp_reservations.all");
    let entries = imported["reservations"]
        .as_object()
        .expect("reservations is a map");
    for (mac, ip) in [
        (A, "10.77.0.41"),
        (B, "10.77.0.52"),
        (D, "10.77.0.34"),
        (LONE, "10.77.0.50"),
        (HAND, "10.77.0.99"),
    ] {
        assert_eq!(entries[mac]["ip"], ip, "{mac} in {imported:#}");
    }
    assert_eq!(entries.len(), 5, "{imported:#}");
    assert_eq!(entries[A]["hostname"], "n1", "{imported:#}");
    assert_eq!(imported["id"], "default/10.77.0.0/24", "{imported:#}");
    adopter.state_rm("rack_dhcp_reservations.all");

    // terraform query finds the subnet as one item.
    adopter.write_file(
        "farm.tfquery.hcl",
        "list \"rack_dhcp_reservations\" \"farm\" {\n  provider = rack\n  config {\n    \
         subnet = \"10.77.0.0/24\"\n  }\n}\n",
    );
    assert_eq!(
        adopter.query_display_names(),
        ["reservations of 10.77.0.0/24"]
    );

    // Destroyed, it removes its own entries only: not the lease beside it, nor the
    // reservation made by hand.
    wd.write_main(&format!("{PROVIDER}\n{}", lone()));
    wd.apply_planned(&[("rack_dhcp_reservations.farm", &["delete"])]);
    for mac in [A, B, D] {
        assert_eq!(ip_of(&server, mac), None, "{mac} left behind");
    }
    assert_eq!(ip_of(&server, LONE).as_deref(), Some("10.77.0.50"));
    assert_eq!(ip_of(&server, HAND).as_deref(), Some("10.77.0.99"));
    wd.destroy();
    assert_eq!(ip_of(&server, LONE), None);

    // Imported by ID with the server named, then configured as it is: the plan is empty.
    let adopted = format!(
        "{PROVIDER}\nresource \"rack_dhcp_reservations\" \"all\" {{\n  subnet = \
         \"10.77.0.0/24\"\n  reservations = {{\n    \"{HAND}\" = {{ ip = \"10.77.0.99\" }}\n  \
         }}\n}}\n"
    );
    adopter.write_main(&adopted);
    adopter.import("rack_dhcp_reservations.all", "default/10.77.0.0/24");
    adopter.assert_plan_empty();

    // Imported by identity, in an import block: the plan imports and changes nothing.
    adopter.state_rm("rack_dhcp_reservations.all");
    adopter.write_main(&format!(
        "{adopted}\nimport {{\n  to       = rack_dhcp_reservations.all\n  identity = {{ subnet \
         = \"10.77.0.0/24\" }}\n}}\n"
    ));
    let plan = adopter.plan();
    let actions = plan.actions("rack_dhcp_reservations.all");
    assert!(actions.iter().all(|a| a == "no-op"), "{actions:?}");
    adopter.apply();
    adopter.write_main(&adopted);
    adopter.assert_plan_empty();
    assert_eq!(ip_of(&server, HAND).as_deref(), Some("10.77.0.99"));
}

/// The leases of one subnet split over resources (`for_each` over groups), as the docs
/// advise for thousands of them: each resource owns its own keys, so neither refuses nor
/// deletes the other's, and a change to one entry updates its resource alone.
#[test]
fn reservations_split_over_resources_in_the_hosts_database() {
    let server = Server::start(Backend::HostDatabase);
    let wd = server.workdir();
    let config = |d_ip: &str| {
        format!(
            r#"{PROVIDER}
locals {{
  groups = {{
    a = {{ "{A}" = "10.77.0.31", "{B}" = "10.77.0.32" }}
    b = {{ "{C}" = "10.77.0.33", "{D}" = "{d_ip}" }}
  }}
}}

resource "rack_dhcp_reservations" "group" {{
  for_each     = local.groups
  subnet       = "10.77.0.0/24"
  reservations = {{ for mac, ip in each.value : mac => {{ ip = ip }} }}
}}
"#
        )
    };
    wd.write_main(&config("10.77.0.34"));
    wd.apply();
    for (mac, ip) in [
        (A, "10.77.0.31"),
        (B, "10.77.0.32"),
        (C, "10.77.0.33"),
        (D, "10.77.0.34"),
    ] {
        assert_eq!(ip_of(&server, mac).as_deref(), Some(ip), "{mac}");
    }
    wd.assert_plan_empty();

    wd.write_main(&config("10.77.0.44"));
    let plan = wd.plan();
    assert!(
        plan.actions("rack_dhcp_reservations.group[\"a\"]")
            .iter()
            .all(|a| a == "no-op"),
        "{}",
        plan.run
    );
    wd.apply_planned(&[("rack_dhcp_reservations.group[\"b\"]", &["update"])]);
    assert_eq!(ip_of(&server, D).as_deref(), Some("10.77.0.44"));
    assert_eq!(ip_of(&server, A).as_deref(), Some("10.77.0.31"));
    wd.assert_plan_empty();

    wd.destroy();
    for mac in [A, B, C, D] {
        assert_eq!(ip_of(&server, mac), None, "{mac} left behind");
    }
}
