//! Two switches (two Open vSwitch instances, each in a namespace of its own on the netdev
//! datapath) joined by veth links, managed from one configuration through two named
//! switches: a trunk carries VLANs 10 and 20 tagged between them, and an active-backup
//! bond keeps traffic flowing when one of its member links goes down.

use rack_acceptance_tests::Workdir;
use rack_lab::{Ovs, OvsMode};

use crate::switch_common::start;

/// The hosts: on tor1 `a10` (VLAN 10) and `a20` (VLAN 20), on tor2 `b10` and `b20`, all
/// in one subnet so that only the VLANs keep them apart.
const HOSTS: [(&str, &str); 2] = [("10", "1"), ("20", "3")];

fn switches() -> (Ovs, Ovs) {
    let mut tor1 = start(OvsMode::Netdev);
    let mut tor2 = start(OvsMode::Netdev);
    for (vlan, n) in HOSTS {
        tor1.add_host(&format!("a{vlan}"), &format!("10.98.0.{n}/24"))
            .expect("host on tor1");
        let m: u8 = n.parse::<u8>().expect("n") + 1;
        tor2.add_host(&format!("b{vlan}"), &format!("10.98.0.{m}/24"))
            .expect("host on tor2");
    }
    (tor1, tor2)
}

/// The provider block naming both switches, the VLANs on both and the access ports, then
/// `links` (the ports between the switches).
fn config(tor1: &Ovs, tor2: &Ovs, links: &str) -> String {
    let mut hcl = format!(
        r#"terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{
  switch {{
    default_server = "tor1"
    server "tor1" {{
      address = "{}"
    }}
    server "tor2" {{
      address = "{}"
    }}
  }}
}}
"#,
        tor1.address(),
        tor2.address()
    );
    for (sw, side) in [("tor1", "a"), ("tor2", "b")] {
        for (vlan, _) in HOSTS {
            hcl.push_str(&format!(
                r#"
resource "rack_switch_vlan" "{sw}_v{vlan}" {{
  server = "{sw}"
  bridge = "br0"
  name   = "v{vlan}"
  tag    = {vlan}
}}

resource "rack_switch_port" "{side}{vlan}" {{
  server = "{sw}"
  bridge = "br0"
  name   = "{side}{vlan}"
  vlan   = rack_switch_vlan.{sw}_v{vlan}.name
}}
"#
            ));
        }
    }
    hcl.push_str(links);
    hcl
}

fn host<'a>(ovs: &'a Ovs, port: &str) -> &'a rack_lab::ovs::OvsHost {
    ovs.hosts().iter().find(|h| h.port == port).expect("host")
}

#[test]
fn a_trunk_carries_tagged_vlans_to_a_second_switch() {
    let (tor1, tor2) = switches();
    tor1.link_to(&tor2, "tr1", "tr2").expect("trunk link");
    let trunk = |sw: &str, name: &str| {
        format!(
            "\nresource \"rack_switch_port\" \"{name}\" {{\n  server = \"{sw}\"\n  bridge = \"br0\"\n  name = \"{name}\"\n  vlan_mode = \"trunk\"\n  trunks = [10, 20]\n}}\n"
        )
    };
    let wd = Workdir::new();
    wd.write_main(&config(
        &tor1,
        &tor2,
        &(trunk("tor1", "tr1") + &trunk("tor2", "tr2")),
    ));
    wd.apply();

    let a10 = host(&tor1, "a10");
    let mut reached = false;
    let seen = tor1
        .capture("tr1", || reached = a10.pings("10.98.0.2"))
        .expect("tcpdump on the trunk");
    assert!(
        reached,
        "a10 -> b10 across the trunk\n{}\n{}",
        tor1.log_tail(),
        tor2.log_tail()
    );
    assert!(
        seen.contains("vlan 10"),
        "802.1Q tag 10 on the trunk:\n{seen}"
    );
    assert!(
        host(&tor1, "a20").pings("10.98.0.4"),
        "a20 -> b20 across the trunk"
    );
    assert!(!a10.pings("10.98.0.4"), "a10 reached b20 in another VLAN");
    wd.assert_plan_empty();

    // The trunk stops carrying VLAN 20 (in place): VLAN 10 still crosses, 20 no longer.
    wd.write_main(&config(
        &tor1,
        &tor2,
        &(trunk("tor1", "tr1").replace("[10, 20]", "[10]") + &trunk("tor2", "tr2")),
    ));
    wd.apply_planned(&[("rack_switch_port.tr1", &["update"])]);
    assert!(
        !host(&tor1, "a20").pings("10.98.0.4"),
        "VLAN 20 crossed a trunk without it"
    );
    assert!(a10.pings("10.98.0.2"), "VLAN 10 still crosses");

    wd.destroy();
    wd.assert_destroyed();
}

#[test]
fn an_active_backup_bond_survives_a_member_link_going_down() {
    let (tor1, tor2) = switches();
    tor1.link_to(&tor2, "m1a", "m2a").expect("member link a");
    tor1.link_to(&tor2, "m1b", "m2b").expect("member link b");
    // Both ends prefer the same member, so both use the same link while it is up.
    let bond = |sw: &str, name: &str, a: &str, b: &str| {
        format!(
            r#"
resource "rack_switch_port" "{name}" {{
  server       = "{sw}"
  bridge       = "br0"
  name         = "{name}"
  interfaces   = [{{ name = "{a}" }}, {{ name = "{b}" }}]
  bond_mode    = "active-backup"
  lacp         = "off"
  vlan_mode    = "trunk"
  trunks       = [10, 20]
  other_config = {{ "bond-primary" = "{a}" }}
}}
"#
        )
    };
    let wd = Workdir::new();
    wd.write_main(&config(
        &tor1,
        &tor2,
        &(bond("tor1", "bond1", "m1a", "m1b") + &bond("tor2", "bond2", "m2a", "m2b")),
    ));
    wd.apply();
    let a10 = host(&tor1, "a10");
    assert!(
        a10.pings("10.98.0.2"),
        "a10 -> b10 over the bond\n{}",
        tor1.log_tail()
    );
    wd.assert_plan_empty();

    // Pull the primary member's cable: both ends fail over to the other member.
    tor1.set_link("m1a", false).expect("link down");
    let start = std::time::Instant::now();
    let mut ok = false;
    while !ok && start.elapsed() < std::time::Duration::from_secs(10) {
        ok = a10.pings("10.98.0.2");
    }
    assert!(
        ok,
        "a10 -> b10 after a member link went down\n{}",
        tor1.log_tail()
    );
    assert!(!a10.pings("10.98.0.4"), "a10 reached b20 in another VLAN");
    let active = tor1
        .vsctl(&["get", "interface", "m1b", "link_state"])
        .expect("link_state");
    assert_eq!(active.trim(), "up");

    wd.destroy();
    wd.assert_destroyed();
}
