//! Real packets through Open vSwitch's userspace (netdev) datapath, in network namespaces
//! the fixture creates: hosts on access ports of one VLAN ping each other, a host on
//! another VLAN cannot reach them, and moving a port to the other VLAN (in place) moves
//! its host.

use rack_lab::OvsMode;

use crate::switch_common::{PROVIDER, start, workdir};

fn config(h3_vlan: &str) -> String {
    let port = |name: &str, vlan: &str| {
        format!(
            "resource \"rack_switch_port\" \"{name}\" {{\n  bridge = \"br0\"\n  name = \"{name}\"\n  vlan = rack_switch_vlan.{vlan}.name\n}}\n"
        )
    };
    format!(
        r#"{PROVIDER}
resource "rack_switch_vlan" "v10" {{
  bridge = "br0"
  name   = "v10"
  tag    = 10
}}

resource "rack_switch_vlan" "v20" {{
  bridge = "br0"
  name   = "v20"
  tag    = 20
}}

{}{}{}"#,
        port("h1", "v10"),
        port("h2", "v10"),
        port("h3", h3_vlan)
    )
}

#[test]
fn vlan_isolation_with_real_pings() {
    let mut ovs = start(OvsMode::Netdev);
    for (port, cidr) in [
        ("h1", "10.99.0.1/24"),
        ("h2", "10.99.0.2/24"),
        ("h3", "10.99.0.3/24"),
    ] {
        ovs.add_host(port, cidr)
            .unwrap_or_else(|e| panic!("host {port}: {e}"));
    }
    let wd = workdir(&ovs);
    wd.write_main(&config("v20"));
    wd.apply();
    let hosts = ovs.hosts();
    assert!(
        hosts[0].pings("10.99.0.2"),
        "h1 -> h2 on VLAN 10\n{}",
        ovs.log_tail()
    );
    assert!(!hosts[0].pings("10.99.0.3"), "h1 -> h3 crosses VLANs");
    assert!(!hosts[2].pings("10.99.0.2"), "h3 -> h2 crosses VLANs");
    wd.assert_plan_empty();

    wd.write_main(&config("v10"));
    wd.apply_planned(&[("rack_switch_port.h3", &["update"])]);
    assert!(ovs.hosts()[2].pings("10.99.0.1"), "h3 moved to VLAN 10");

    wd.destroy();
    wd.assert_destroyed();
    assert!(
        !ovs.hosts()[0].pings("10.99.0.2"),
        "no ports, no forwarding"
    );
}
