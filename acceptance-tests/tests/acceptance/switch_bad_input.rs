//! Bad switch configurations fail at plan time with a diagnostic at the attribute, and an
//! unreachable switch fails saying so.

use rack_lab::OvsMode;

use crate::switch_common::{PROVIDER, start, workdir};

fn port(body: &str) -> String {
    format!(
        "{PROVIDER}\nresource \"rack_switch_port\" \"p\" {{\n  bridge = \"br0\"\n  name = \"p\"\n  {body}\n}}\n"
    )
}

#[test]
fn bad_input_is_refused_at_plan_time() {
    let ovs = start(OvsMode::Dummy);
    let wd = workdir(&ovs);
    for (body, needles) in [
        (
            "tag = 4095",
            &["Value 4095 is out of range", "rack_switch_port.p", "tag"][..],
        ),
        ("tag = 0", &["Value 0 is out of range"][..]),
        (
            "trunks = [10, 5000]",
            &["VLAN out of range", "VLAN 5000"][..],
        ),
        (
            "interfaces = [{ name = \"eth1\" }]\n  bond_mode = \"active-backup\"",
            &["A bond has two or more interfaces", "interfaces"][..],
        ),
        (
            "interfaces = [{ name = \"a-very-long-name0\" }]",
            &[
                "Interface name \"a-very-long-name0\" is too long",
                "1 to 15",
            ][..],
        ),
        (
            "vlan_mode = \"trunk\"\n  tag = 10",
            &["A trunk port has no tag"][..],
        ),
        (
            "vlan_mode = \"hybrid\"",
            &["Invalid value \"hybrid\"", "vlan_mode"][..],
        ),
    ] {
        wd.write_main(&port(body));
        let text = wd.plan_fails().combined();
        for n in needles {
            assert!(text.contains(n), "{body}: missing {n:?} in\n{text}");
        }
    }
    assert_eq!(
        ovs.vsctl(&["list-ports", "br0"])
            .expect("list-ports")
            .trim(),
        ""
    );
}

#[test]
fn an_unreachable_switch_is_a_clear_error() {
    let ovs = start(OvsMode::Dummy);
    let mut wd = workdir(&ovs);
    wd.set_env("RACK_SWITCH_ADDRESS", "tcp:127.0.0.1:1");
    wd.write_main(&port("tag = 10"));
    let text = wd.apply_fails_saying(&["Cannot reach the switch at tcp:127.0.0.1:1"]);
    assert!(
        text.contains("Connection refused") || text.contains("refused"),
        "{text}"
    );
    let mut wd = workdir(&ovs);
    wd.set_env("RACK_SWITCH_ADDRESS", "127.0.0.1:6640");
    wd.write_main(&port("tag = 10"));
    let text = wd.plan_fails().combined();
    assert!(
        text.contains("Invalid switch address")
            && text.contains("switch.server[\"default\"].address")
            || text.contains("address"),
        "{text}"
    );
}
