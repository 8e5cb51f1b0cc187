//! The production path: ovsdb-server behind `pssl:` with certificates the test makes,
//! the provider's client certificate from `RACK_SWITCH_*`. A client certificate of
//! another CA gets a diagnostic that says so, and the switch is left untouched.

use rack_acceptance_tests::Workdir;
use rack_lab::{Ovs, OvsMode, OvsPki};

use crate::switch_common::{PROVIDER, get};

fn workdir(ovs: &Ovs, pki: &OvsPki, client: &str) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_SWITCH_ADDRESS", ovs.address());
    wd.set_env("RACK_SWITCH_CA_CERT", pki.pem("ca.pem").expect("ca"));
    wd.set_env(
        "RACK_SWITCH_CLIENT_CERT",
        pki.pem(&format!("{client}.pem")).expect("cert"),
    );
    wd.set_env(
        "RACK_SWITCH_CLIENT_KEY",
        pki.pem(&format!("{client}.key")).expect("key"),
    );
    wd
}

const CONFIG: &str = r#"
resource "rack_switch_bridge" "tor" {
  name          = "tor"
  datapath_type = "netdev"
}

resource "rack_switch_port" "p1" {
  bridge = rack_switch_bridge.tor.name
  name   = "p1"
  tag    = 10
}
"#;

#[test]
fn a_switch_over_tls_with_a_client_certificate() {
    let pki = OvsPki::create().unwrap_or_else(|e| panic!("cannot make the certificates: {e}"));
    let ovs = Ovs::start_with(OvsMode::Dummy, Some(&pki.server()))
        .unwrap_or_else(|e| panic!("cannot start the Open vSwitch fixture: {e}"));
    assert!(ovs.address().starts_with("ssl:"));

    let rogue = workdir(&ovs, &pki, "rogue");
    rogue.write_main(&format!("{PROVIDER}{CONFIG}"));
    let text = rogue.apply_fails_saying(&[
        "Cannot reach the switch at ssl:127.0.0.1:",
        "client certificate",
    ]);
    let key = pki.pem("rogue.key").expect("key");
    let body = key.lines().nth(1).unwrap_or("-");
    assert!(!text.contains(body), "the key was printed:\n{text}");
    assert_eq!(ovs.vsctl(&["list-br"]).expect("list-br").trim(), "");

    let wd = workdir(&ovs, &pki, "client");
    wd.write_main(&format!("{PROVIDER}{CONFIG}"));
    wd.apply();
    assert_eq!(get(&ovs, "port", "p1", "tag"), "10");
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert_eq!(ovs.vsctl(&["list-br"]).expect("list-br").trim(), "");
}
