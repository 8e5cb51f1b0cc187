//! What the switch acceptance tests share: the Open vSwitch fixture seen by the provider
//! through `RACK_SWITCH_ADDRESS`, and reading the switch back with `ovs-vsctl`.

use rack_acceptance_tests::Workdir;
use rack_lab::{Ovs, OvsMode};

/// The provider block every switch test uses; the switch comes from `RACK_SWITCH_*`.
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// Starts the fixture in `mode` with a bridge `br0` (netdev datapath) made outside
/// Terraform, holding one port `theirs` that no test manages, or fails naming what is
/// missing.
pub fn start(mode: OvsMode) -> Ovs {
    let ovs =
        Ovs::start(mode).unwrap_or_else(|e| panic!("cannot start the Open vSwitch fixture: {e}"));
    ovs.vsctl(&[
        "add-br",
        "br0",
        "--",
        "set",
        "bridge",
        "br0",
        "datapath_type=netdev",
    ])
    .expect("add-br br0");
    ovs
}

/// A workdir whose provider reaches `ovs` through `RACK_SWITCH_ADDRESS`.
pub fn workdir(ovs: &Ovs) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_SWITCH_ADDRESS", ovs.address());
    wd.set_env("RACK_SWITCH_TIMEOUT", "10s");
    wd
}

/// `ovs-vsctl get TABLE RECORD COLUMN`, trimmed.
pub fn get(ovs: &Ovs, table: &str, record: &str, column: &str) -> String {
    ovs.vsctl(&["get", table, record, column])
        .unwrap_or_else(|e| panic!("{e}\n{}", ovs.log_tail()))
        .trim()
        .to_owned()
}

/// The ports of `bridge`, sorted, as `ovs-vsctl list-ports` gives them.
pub fn ports(ovs: &Ovs, bridge: &str) -> Vec<String> {
    let out = ovs.vsctl(&["list-ports", bridge]).expect("list-ports");
    out.lines().map(str::to_owned).collect()
}
