//! Values the unit tests of this module share.

use serde_json::Value;

use crate::net::Cidr;

use super::model::{HostIdentifier, OptionData, Reservation};

pub(super) fn cidr(s: &str) -> Cidr {
    s.parse().unwrap()
}

pub(super) fn mac(s: &str) -> HostIdentifier {
    HostIdentifier::HwAddress(s.parse().unwrap())
}

/// A configuration shaped like Kea 2.2's config-get, with keys in a non-sorted order.
pub(super) fn config() -> Value {
    serde_json::from_str(
        r#"{"Dhcp4": {
            "valid-lifetime": 600,
            "subnet4": [
              {"subnet": "10.77.0.0/24", "id": 1, "pools": [{"pool": "10.77.0.100-10.77.0.150"}],
               "reservations": [
                 {"hw-address": "02:00:00:00:00:AA", "ip-address": "10.77.0.10", "hostname": "manual", "next-server": "0.0.0.0", "boot-file-name": ""}
               ],
               "option-data": [{"name": "routers", "data": "10.77.0.1"}]},
              {"id": 2, "subnet": "10.78.0.0/24"}
            ],
            "shared-networks": [{"name": "n", "subnet4": [{"id": 3, "subnet": "10.79.0.0/24", "reservations": [{"client-id": "01AABB", "ip-address": "10.79.0.5"}]}]}],
            "interfaces-config": {"interfaces": ["veth0"]},
            "authoritative": false
        }}"#,
    )
    .unwrap()
}

pub(super) fn node(ip: &str) -> Reservation {
    let mut r = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:01"));
    r.ip_address = Some(ip.parse().unwrap());
    r.hostname = Some("node1".into());
    r.next_server = Some("10.77.0.5".parse().unwrap());
    r.boot_file_name = Some("pxelinux.0".into());
    r.option_data = vec![
        OptionData::by_code(67, "boot/x.efi"),
        OptionData::by_name("v4-captive-portal", "http://portal/"),
    ];
    r.client_classes = vec!["pxe".into()];
    r
}
