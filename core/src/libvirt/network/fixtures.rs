//! Values the unit tests of this module share.

use std::net::IpAddr;

use super::spec::DhcpRange;
use super::spec::DomainConfig;
use super::spec::IpConfig;
use super::spec::NetworkMode;
use super::spec::NetworkSpec;

pub(super) fn v4(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn range(a: &str, b: &str) -> DhcpRange {
    DhcpRange {
        start: v4(a),
        end: v4(b),
    }
}

pub(super) fn nat() -> NetworkSpec {
    NetworkSpec {
        name: "farm".into(),
        mode: NetworkMode::Nat,
        bridge: Some("rkbr0".into()),
        mtu: Some(1400),
        ipv4: Some(IpConfig {
            address: v4("10.90.0.1"),
            prefix: 24,
            dhcp_ranges: vec![range("10.90.0.100", "10.90.0.150")],
        }),
        ipv6: Some(IpConfig {
            address: v4("fd90::1"),
            prefix: 64,
            dhcp_ranges: vec![],
        }),
        domain: Some(DomainConfig {
            name: "farm.test".into(),
            local_only: true,
        }),
        autostart: true,
    }
}
