//! `rack_network` against a real libvirtd: apply -> libvirt holds the network, its bridge
//! exists in the namespace and dnsmasq serves the range -> plan is empty -> import gives
//! the same state -> DHCP ranges and autostart change in place (the bridge stays) -> a new
//! CIDR replaces, and the plan says why -> a network stopped or undefined out of band shows
//! in plan and comes back -> bad input fails at plan time at its attribute -> destroy
//! leaves no network, bridge or dnsmasq behind.

use crate::libvirt_common::{PROVIDER, defined_again, start, started_again, virsh_ok, workdir};

fn config(cidr: &str, range: (&str, &str), autostart: bool) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_network" "farm" {{
  name   = "farm"
  mode   = "route"
  bridge = "rkfarm0"
  mtu    = 1400
  ipv4 = {{
    cidr        = "{cidr}"
    dhcp_ranges = [{{ start = "{}", end = "{}" }}]
  }}
  ipv6 = {{
    cidr = "fd10:60::/64"
  }}
  domain         = "farm.test"
  dns_local_only = true
  autostart      = {autostart}
}}

# libvirt picks the bridge name.
resource "rack_network" "backplane" {{
  name = "backplane"
  mode = "isolated"
  ipv4 = {{
    cidr    = "10.10.61.0/24"
    gateway = "10.10.61.254"
  }}
}}

output "bridge" {{
  value = rack_network.backplane.bridge
}}
"#,
        range.0, range.1
    )
}

#[test]
fn network_lifecycle() {
    let lv = start();
    let wd = workdir(&lv);
    wd.write_main(&config(
        "10.10.60.0/24",
        ("10.10.60.100", "10.10.60.199"),
        true,
    ));
    wd.apply();

    // What libvirt holds, and what exists in the namespace.
    let xml = virsh_ok(&lv, &["net-dumpxml", "farm"]);
    for part in [
        "<forward mode='route'",
        "<bridge name='rkfarm0'",
        "<mtu size='1400'",
        "<domain name='farm.test' localOnly='yes'",
        "<ip address='10.10.60.1' prefix='24'",
        "<range start='10.10.60.100' end='10.10.60.199'",
        "<ip family='ipv6' address='fd10:60::1' prefix='64'",
    ] {
        assert!(xml.contains(part), "{part} missing in\n{xml}");
    }
    let info = virsh_ok(&lv, &["net-info", "farm"]);
    assert!(info.contains("Autostart:      yes"), "{info}");
    let link = lv.ip(&["addr", "show", "rkfarm0"]).expect("bridge rkfarm0");
    assert!(link.contains("10.10.60.1/24"), "{link}");
    let dnsmasq = lv.dnsmasq_pid("farm").expect("dnsmasq serves farm");
    let conf = std::fs::read_to_string(lv.dnsmasq_conf("farm")).expect("dnsmasq conf");
    assert!(
        conf.contains("dhcp-range=10.10.60.100,10.10.60.199"),
        "{conf}"
    );
    let bridge = wd.output("bridge");
    let bridge = bridge.as_str().expect("libvirt picked a bridge");
    assert!(bridge.starts_with("virbr"), "{bridge}");
    assert!(lv.ip(&["link", "show", bridge]).is_ok());
    let xml = virsh_ok(&lv, &["net-dumpxml", "backplane"]);
    assert!(
        xml.contains("<ip address='10.10.61.254' prefix='24'"),
        "{xml}"
    );
    assert!(!xml.contains("<forward"), "{xml}");

    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_network.farm", "default/farm", &[]);
    wd.assert_import_same_state("rack_network.backplane", "backplane", &[]);
    wd.assert_plan_empty();

    // In place: a new DHCP range and autostart off; the bridge is not recreated.
    let ifindex = |lv: &rack_lab::Libvirt| {
        lv.ip(&["-o", "link", "show", "rkfarm0"])
            .expect("bridge")
            .split(':')
            .next()
            .unwrap_or_default()
            .to_string()
    };
    let before = ifindex(&lv);
    wd.write_main(&config(
        "10.10.60.0/24",
        ("10.10.60.50", "10.10.60.90"),
        false,
    ));
    wd.apply_planned(&[
        ("rack_network.farm", &["update"]),
        ("rack_network.backplane", &["no-op"]),
    ]);
    assert_eq!(
        ifindex(&lv),
        before,
        "bridge recreated by an in-place update"
    );
    let xml = virsh_ok(&lv, &["net-dumpxml", "farm"]);
    assert!(
        xml.contains("<range start='10.10.60.50' end='10.10.60.90'"),
        "{xml}"
    );
    assert!(!xml.contains("10.10.60.100"), "{xml}");
    let xml = virsh_ok(&lv, &["net-dumpxml", "--inactive", "farm"]);
    assert!(
        xml.contains("<range start='10.10.60.50' end='10.10.60.90'"),
        "persistent: {xml}"
    );
    let conf = std::fs::read_to_string(lv.dnsmasq_conf("farm")).expect("dnsmasq conf");
    assert!(
        conf.contains("dhcp-range=10.10.60.50,10.10.60.90"),
        "{conf}"
    );
    assert!(
        lv.dnsmasq_pid("farm").is_some(),
        "dnsmasq runs after the update"
    );
    let _ = dnsmasq;
    let info = virsh_ok(&lv, &["net-info", "farm"]);
    assert!(info.contains("Autostart:      no"), "{info}");
    wd.assert_plan_empty();

    // A network stopped out of band is started again.
    let farm = ("net", "farm", "rack_network.farm");
    started_again(&lv, &wd, farm, "Active:         yes");

    // One undefined out of band is created again.
    defined_again(&lv, &wd, ("net", "backplane", "rack_network.backplane"));

    // A new CIDR cannot change on a running network: replace, and the plan says why.
    wd.write_main(&config(
        "10.10.70.0/24",
        ("10.10.70.50", "10.10.70.90"),
        false,
    ));
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_network.farm"), ["delete", "create"]);
    let why = plan.replace_paths("rack_network.farm");
    assert!(why.contains(&"ipv4.gateway".to_string()), "{why:?}");
    wd.apply();
    let xml = virsh_ok(&lv, &["net-dumpxml", "farm"]);
    assert!(
        xml.contains("<ip address='10.10.70.1' prefix='24'"),
        "{xml}"
    );
    wd.assert_plan_empty();

    // Bad input fails at plan time, at the attribute.
    wd.write_resources(
        r#"
resource "rack_network" "bad" {
  name = "bad"
  mode = "nat"
  ipv4 = {
    cidr        = "10.10.80.0/24"
    gateway     = "10.10.81.1"
  }
}
"#,
    );
    let out = wd.run(&["plan", "-input=false"]).failure();
    let text = out.combined();
    assert!(
        text.contains("Gateway 10.10.81.1 is not a host address"),
        "{text}"
    );
    assert!(
        text.contains("ipv4.gateway") || text.contains("gateway"),
        "{text}"
    );

    wd.write_main(&config(
        "10.10.70.0/24",
        ("10.10.70.50", "10.10.70.90"),
        false,
    ));
    wd.destroy();
    wd.assert_destroyed();
    let names = virsh_ok(&lv, &["net-list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "networks left: {names}");
    assert!(lv.ip(&["link", "show", "rkfarm0"]).is_err(), "bridge left");
    assert!(lv.dnsmasq_pid("farm").is_none(), "dnsmasq left");
}

#[test]
fn a_missing_host_bridge_is_named() {
    let lv = start();
    let wd = workdir(&lv);
    wd.write_resources(
        r#"
resource "rack_network" "lan" {
  name   = "lan"
  mode   = "bridge"
  bridge = "br-missing"
}
"#,
    );
    wd.init();
    wd.apply_fails_saying(&["br-missing", "does not exist"]);
    let names = virsh_ok(&lv, &["net-list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "a failed create left {names}");

    // Once the bridge exists, the same configuration applies.
    lv.ip(&["link", "add", "br-missing", "type", "bridge"])
        .expect("create a host bridge in the namespace");
    wd.apply();
    let xml = virsh_ok(&lv, &["net-dumpxml", "lan"]);
    assert!(xml.contains("<bridge name='br-missing'"), "{xml}");
    wd.assert_plan_empty();
    wd.destroy();
}

#[test]
fn hypervisor_data_source_reports_what_works() {
    let lv = start();
    let wd = workdir(&lv);
    wd.write_resources(
        r#"
data "rack_hypervisor" "this" {}

output "info" {
  value = data.rack_hypervisor.this
}
"#,
    );
    wd.apply();
    let info = wd.output("info");
    assert_eq!(info["name"], "default", "{info}");
    assert_eq!(info["driver"], "QEMU", "{info}");
    assert_eq!(info["arch"], "x86_64", "{info}");
    let types = info["domain_types"].as_array().expect("domain_types");
    assert!(types.iter().any(|t| t == "qemu"), "{info}");
    assert!(info["memory_bytes"].as_u64().unwrap_or(0) > 0, "{info}");
}

#[test]
fn an_unreachable_hypervisor_says_what_to_check() {
    let mut wd = rack_acceptance_tests::Workdir::new();
    let socket = wd.path().join("no-libvirt-sock");
    wd.set_env(
        "RACK_HYPERVISORS",
        format!("kvm1=qemu+unix:///system?socket={}", socket.display()),
    );
    wd.write_resources(
        r#"
resource "rack_network" "n" {
  name = "n"
  mode = "isolated"
}
"#,
    );
    wd.init();
    wd.apply_fails_saying(&["Cannot connect to the hypervisor", "check the URI"]);
}
