//! `examples/scenarios/farm-dhcp` applied as its README says, against a real Kea: every
//! lease is reserved, the PXE host's DHCP client gets its address and iPXE URL, the plan
//! after apply is empty, destroy removes every reservation.

use rack_acceptance_tests::{Workdir, workspace_root};

use crate::dhcp_common::{SUBNET, reservations, start};

#[test]
fn farm_dhcp_scenario_applies() {
    let kea = start();
    let mut wd = Workdir::new();
    wd.copy_files_from(&workspace_root().join("examples/scenarios/farm-dhcp"));
    wd.set_env("TF_VAR_kea_url", kea.url.clone());
    wd.set_env("TF_VAR_kea_username", kea.username.clone());
    wd.set_env("TF_VAR_kea_password", kea.password.clone());
    wd.set_env("TF_VAR_subnet", SUBNET);
    let text = wd.apply().stdout;
    assert!(
        !text.contains(&kea.password),
        "the password was printed:\n{text}"
    );

    let leases = wd.output("leases");
    assert_eq!(leases.as_object().map(|m| m.len()), Some(5), "{leases:#}");
    assert_eq!(reservations(&kea).len(), 5);
    let mac = wd.output("pxe_mac");
    let mac = mac.as_str().expect("pxe_mac is a string");
    let lease = kea.udhcpc(mac, &[67]).expect("the PXE host gets its lease");
    assert_eq!(lease.ip, "10.77.0.40", "{lease:?}");
    assert_eq!(lease.siaddr.as_deref(), Some("10.77.0.2"), "{lease:?}");
    assert_eq!(
        lease.options.get("bootfile").map(String::as_str),
        Some("http://10.77.0.2/ipxe/boot.ipxe"),
        "{lease:?}"
    );
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    assert!(reservations(&kea).is_empty(), "{:?}", reservations(&kea));
}
