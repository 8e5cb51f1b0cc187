//! `rack_switch_port` and `rack_switch_vlan` against a real ovsdb-server and ovs-vswitchd
//! (dummy datapath): apply -> plan is empty -> import gives the same state -> update in
//! place (access to trunk, a tag change, a member added to a bond) -> a change made with
//! ovs-vsctl shows in plan and is put back -> a change between plan and apply is
//! refused, naming the port -> `terraform query` lists the ports -> destroy leaves the
//! bridge as it was.

use rack_lab::OvsMode;

use crate::switch_common::{PROVIDER, get, ports, start, workdir};

fn config(web_port: &str, uplink: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_switch_vlan" "web" {{
  bridge      = "br0"
  name        = "web"
  tag         = 110
  description = "front end"
}}

resource "rack_switch_vlan" "db" {{
  bridge = "br0"
  name   = "db"
  tag    = 120
}}

resource "rack_switch_port" "web1" {{
  bridge = "br0"
  name   = "web1"
  {web_port}
}}

resource "rack_switch_port" "db1" {{
  bridge = "br0"
  name   = "db1"
  vlan   = rack_switch_vlan.db.name
}}

resource "rack_switch_port" "uplink" {{
  bridge = "br0"
  name   = "uplink"
  {uplink}
}}
"#
    )
}

const ACCESS_WEB: &str = "vlan = rack_switch_vlan.web.name\n  vlan_mode = \"access\"";
const TRUNK_WEB: &str = "vlan_mode = \"trunk\"\n  trunks = [110, 120]";
const BOND2: &str = r#"interfaces = [{ name = "up-a" }, { name = "up-b" }]
  bond_mode  = "active-backup"
  lacp       = "off"
  trunks     = [110, 120]"#;
const BOND3: &str = r#"interfaces = [{ name = "up-a" }, { name = "up-b" }, { name = "up-c" }]
  bond_mode    = "active-backup"
  lacp         = "off"
  bond_updelay = 200
  trunks       = [110, 120]"#;

#[test]
fn port_lifecycle() {
    let ovs = start(OvsMode::Dummy);
    ovs.vsctl(&[
        "add-port", "br0", "theirs", "--", "set", "port", "theirs", "tag=7",
    ])
    .expect("theirs");
    let wd = workdir(&ovs);
    wd.write_main(&config(ACCESS_WEB, BOND2));
    wd.apply();
    assert_eq!(get(&ovs, "port", "web1", "tag"), "110");
    assert_eq!(get(&ovs, "port", "web1", "vlan_mode"), "access");
    assert_eq!(get(&ovs, "port", "db1", "tag"), "120");
    assert_eq!(get(&ovs, "port", "uplink", "bond_mode"), "active-backup");
    assert_eq!(get(&ovs, "port", "uplink", "trunks"), "[110, 120]");
    let ids = get(&ovs, "bridge", "br0", "external_ids");
    assert!(ids.contains("\"rack-vlan:web\"=\"110:front end\""), "{ids}");
    let ofport: i64 = get(&ovs, "interface", "up-b", "ofport")
        .parse()
        .expect("ofport");
    assert!(ofport > 0);
    wd.assert_plan_empty();

    wd.assert_import_same_state("rack_switch_port.uplink", "br0/uplink", &[]);
    // The port's tag is VLAN "db"'s: import names the VLAN.
    wd.assert_import_same_state("rack_switch_port.db1", "default/br0/db1", &[]);
    wd.assert_import_same_state("rack_switch_vlan.web", "br0/web", &[]);
    wd.assert_plan_empty();

    // In place: access to trunk, a member added to the bond, a VLAN's tag changed (the
    // port that names it follows in the VLAN's own transaction).
    wd.write_main(&config(TRUNK_WEB, BOND3).replace("tag    = 120", "tag    = 121"));
    wd.apply_planned(&[
        ("rack_switch_port.web1", &["update"]),
        ("rack_switch_port.uplink", &["update"]),
        ("rack_switch_vlan.db", &["update"]),
        ("rack_switch_port.db1", &["no-op"]),
    ]);
    assert_eq!(get(&ovs, "port", "web1", "vlan_mode"), "trunk");
    assert_eq!(get(&ovs, "port", "web1", "tag"), "[]");
    assert_eq!(get(&ovs, "port", "db1", "tag"), "121");
    assert_eq!(get(&ovs, "port", "uplink", "bond_updelay"), "200");
    assert!(
        get(&ovs, "interface", "up-c", "ofport")
            .parse::<i64>()
            .expect("ofport")
            > 0
    );
    wd.assert_plan_empty();

    // Drift: a tag set with ovs-vsctl shows in plan and apply puts it back.
    ovs.vsctl(&["set", "port", "db1", "tag=99"]).expect("drift");
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_switch_port.db1"), ["update"]);
    assert!(plan.run.stdout.contains("99"), "{}", plan.run.stdout);
    wd.apply();
    assert_eq!(get(&ovs, "port", "db1", "tag"), "121");

    // A change between plan and apply is refused, naming the port, and not overwritten.
    wd.write_main(
        &config(TRUNK_WEB, BOND3)
            .replace("tag    = 120", "tag    = 121")
            .replace("trunks = [110, 120]\n}", "trunks = [110]\n}"),
    );
    wd.save_plan("tfplan");
    ovs.vsctl(&["set", "port", "web1", "trunks=300"])
        .expect("change after plan");
    let text = wd
        .run(&[
            "apply",
            "-auto-approve",
            "-input=false",
            "-no-color",
            "tfplan",
        ])
        .failure()
        .combined();
    assert!(
        text.contains("port \"web1\" of bridge \"br0\" changed on the switch"),
        "{text}"
    );
    assert_eq!(get(&ovs, "port", "web1", "trunks"), "[300]");
    wd.apply();
    assert_eq!(get(&ovs, "port", "web1", "trunks"), "[110]");

    // terraform query lists the ports rack can adopt, the foreign one too.
    wd.write_file(
        "ports.tfquery.hcl",
        "list \"rack_switch_port\" \"all\" {\n  provider = rack\n  config {\n    bridge = \"br0\"\n  }\n}\n",
    );
    let found = wd.query_display_names();
    assert_eq!(found.len(), 4, "{found:?}");
    assert!(found.iter().any(|f| f.contains("br0/theirs")), "{found:?}");
    let _ = std::fs::remove_file(wd.path().join("ports.tfquery.hcl"));

    wd.destroy();
    wd.assert_destroyed();
    assert_eq!(ports(&ovs, "br0"), ["theirs"]);
    assert_eq!(get(&ovs, "port", "theirs", "tag"), "7");
    let ids = get(&ovs, "bridge", "br0", "external_ids");
    assert!(!ids.contains("rack-vlan"), "{ids}");
}

#[test]
fn bridge_and_data_source() {
    let ovs = start(OvsMode::Dummy);
    let wd = workdir(&ovs);
    let config = |stp: bool| {
        format!(
            r#"{PROVIDER}
resource "rack_switch_bridge" "tor" {{
  name          = "tor"
  datapath_type = "netdev"
  fail_mode     = "standalone"
  stp_enable    = {stp}
}}

resource "rack_switch_port" "a" {{
  bridge = rack_switch_bridge.tor.name
  name   = "tor-a"
  tag    = 10
}}

data "rack_switch" "now" {{
  depends_on = [rack_switch_port.a]
}}

output "ports" {{
  value = [for b in data.rack_switch.now.bridges : [for p in b.ports : "${{b.name}}/${{p.name}}/${{p.interfaces[0].ofport}}"] if b.name == "tor"][0]
}}
"#
        )
    };
    wd.write_main(&config(false));
    wd.apply();
    assert_eq!(get(&ovs, "bridge", "tor", "datapath_type"), "netdev");
    let ports = wd.output("ports");
    let ports: Vec<&str> = ports
        .as_array()
        .expect("list")
        .iter()
        .filter_map(|p| p.as_str())
        .collect();
    assert_eq!(ports.len(), 2, "{ports:?}");
    assert!(
        ports
            .iter()
            .any(|p| p.starts_with("tor/tor-a/") && !p.ends_with("/-1")),
        "{ports:?}"
    );
    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_switch_bridge.tor", "tor", &["ports"]);

    wd.write_main(&config(true));
    wd.apply_planned(&[("rack_switch_bridge.tor", &["update"])]);
    assert_eq!(get(&ovs, "bridge", "tor", "stp_enable"), "true");

    wd.destroy();
    wd.assert_destroyed();
    let bridges = ovs.vsctl(&["list-br"]).expect("list-br");
    assert_eq!(bridges.trim(), "br0");
}
