//! The model of a virtual network rack manages ([`NetworkSpec`]) and its validation.
//! Pure: no I/O.

use std::fmt;
use std::net::IpAddr;

use crate::libvirt::xml::{is_dns_name, is_plain};

/// How a network reaches the outside world (libvirt's `<forward mode=...>`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum NetworkMode {
    /// A bridge of libvirt's with NAT (masquerading) to the host's routes.
    Nat,
    /// A bridge of libvirt's, routed without NAT.
    Route,
    /// A bridge of libvirt's, routed, with no firewall rules added by libvirt.
    Open,
    /// A bridge of libvirt's with no forwarding: guests reach each other and the host.
    Isolated,
    /// Guests join an existing host bridge; libvirt adds no addresses, DHCP or DNS.
    Bridge {
        /// The host bridge, which must exist on the hypervisor.
        bridge: String,
    },
}

impl NetworkMode {
    /// The name used in configuration and in libvirt's XML (`isolated` has no XML form).
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Nat => "nat",
            Self::Route => "route",
            Self::Open => "open",
            Self::Isolated => "isolated",
            Self::Bridge { .. } => "bridge",
        }
    }
}

impl fmt::Display for NetworkMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Bridge { bridge } => write!(f, "bridge (onto {bridge})"),
            other => f.write_str(other.as_str()),
        }
    }
}

/// One DHCP range, both ends included.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct DhcpRange {
    /// First address handed out.
    pub start: IpAddr,
    /// Last address handed out.
    pub end: IpAddr,
}

impl fmt::Display for DhcpRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.start, self.end)
    }
}

/// The host's address on the network's bridge, the network's prefix, and DHCP.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IpConfig {
    /// The host's (gateway's) address on the bridge.
    pub address: IpAddr,
    /// Prefix length of the network.
    pub prefix: u8,
    /// DHCP ranges served by the network's dnsmasq; empty: no DHCP.
    pub dhcp_ranges: Vec<DhcpRange>,
}

/// The DNS domain of the network's dnsmasq.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainConfig {
    /// The domain guests get (e.g. `vm.example.test`).
    pub name: String,
    /// Whether dnsmasq answers names in the domain only itself, never forwarding them.
    pub local_only: bool,
}

/// A libvirt network as rack manages it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct NetworkSpec {
    /// The network's name, unique on the hypervisor.
    pub name: String,
    /// How it forwards.
    pub mode: NetworkMode,
    /// The name of the bridge libvirt creates (not for [`NetworkMode::Bridge`]);
    /// `None` lets libvirt pick `virbrN`.
    pub bridge: Option<String>,
    /// MTU of the bridge; `None`: the kernel's default.
    pub mtu: Option<u32>,
    /// IPv4 on the bridge.
    pub ipv4: Option<IpConfig>,
    /// IPv6 on the bridge.
    pub ipv6: Option<IpConfig>,
    /// The DNS domain.
    pub domain: Option<DomainConfig>,
    /// Whether libvirt starts the network when the daemon starts.
    pub autostart: bool,
}

impl NetworkSpec {
    /// A network of `mode` with nothing else set.
    pub fn new(name: impl Into<String>, mode: NetworkMode) -> Self {
        Self {
            name: name.into(),
            mode,
            bridge: None,
            mtu: None,
            ipv4: None,
            ipv6: None,
            domain: None,
            autostart: false,
        }
    }
}

/// The attributes whose change forces the network to be replaced (destroyed and defined
/// again); see the module documentation for why.
pub const REPLACE_ATTRIBUTES: &[&str] = &[
    "name",
    "mode",
    "bridge",
    "mtu",
    "ipv4.address",
    "ipv4.prefix",
    "ipv6.address",
    "ipv6.prefix",
    "domain",
];

/// Longest interface name Linux accepts (IFNAMSIZ less the terminating NUL).
const MAX_IFNAME: usize = 15;

/// Why a network specification or a network's XML cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NetworkSpecError {
    /// The name is empty or has characters libvirt refuses or cannot keep.
    #[error(
        "Network name {0:?} is not valid; use a non-empty name without '/', spaces, quotes, '<', '>' or '&'"
    )]
    Name(String),
    /// The bridge name is not a valid interface name.
    #[error(
        "Bridge name {0:?} is not a valid interface name; use 1 to 15 characters without '/', ':', spaces, quotes, '<', '>' or '&'"
    )]
    BridgeName(String),
    /// An attribute was given that the mode does not allow.
    #[error("Attribute `{attribute}` cannot be used with mode {mode}; remove it")]
    NotForMode {
        /// The attribute.
        attribute: &'static str,
        /// The mode.
        mode: &'static str,
    },
    /// The MTU is out of range.
    #[error("MTU {0} is out of range; use 68 to 65535")]
    Mtu(u32),
    /// An address of the wrong family.
    #[error("Address {address} in `{attribute}` is not an {family} address")]
    Family {
        /// Where.
        attribute: &'static str,
        /// The address.
        address: IpAddr,
        /// The expected family.
        family: &'static str,
    },
    /// A prefix length too long for the family.
    #[error("Prefix length {prefix} in `{attribute}` is too long; at most {max}")]
    Prefix {
        /// Where.
        attribute: &'static str,
        /// The prefix.
        prefix: u8,
        /// The family's maximum.
        max: u8,
    },
    /// A DHCP range outside the network or backwards.
    #[error(
        "DHCP range {range} in `{attribute}` is not valid; both ends must be inside {address}/{prefix} and the start must not be after the end"
    )]
    Range {
        /// Where.
        attribute: &'static str,
        /// The range.
        range: DhcpRange,
        /// The network's address.
        address: IpAddr,
        /// Its prefix.
        prefix: u8,
    },
    /// The DNS domain is not a DNS name.
    #[error(
        "Domain {0:?} is not a DNS name; use labels of letters, digits and hyphens joined by dots, e.g. farm.example"
    )]
    Domain(String),
    /// The XML is not well-formed.
    #[error("Network XML is not well-formed: {0}")]
    Syntax(String),
    /// The XML is well-formed but not a network rack can model.
    #[error("Network XML cannot be read by rack: {0}")]
    Unsupported(String),
}

impl NetworkSpec {
    /// Checks what libvirt would otherwise reject late, or accept and misbehave with.
    pub fn validate(&self) -> Result<(), NetworkSpecError> {
        if self.name.is_empty()
            || self
                .name
                .chars()
                .any(|c| c == '/' || c.is_whitespace() || c.is_control())
            || !is_plain(&self.name)
        {
            return Err(NetworkSpecError::Name(self.name.clone()));
        }
        if let NetworkMode::Bridge { bridge } = &self.mode {
            check_ifname(bridge)?;
            let mode = "bridge";
            let forbidden = [
                ("bridge", self.bridge.is_some()),
                ("mtu", self.mtu.is_some()),
                ("ipv4", self.ipv4.is_some()),
                ("ipv6", self.ipv6.is_some()),
                ("domain", self.domain.is_some()),
            ];
            if let Some((attribute, _)) = forbidden.iter().find(|(_, set)| *set) {
                return Err(NetworkSpecError::NotForMode { attribute, mode });
            }
        }
        if let Some(bridge) = &self.bridge {
            check_ifname(bridge)?;
        }
        if let Some(mtu) = self.mtu
            && !(68..=65535).contains(&mtu)
        {
            return Err(NetworkSpecError::Mtu(mtu));
        }
        if let Some(ip) = &self.ipv4 {
            check_ip(ip, "ipv4", false)?;
        }
        if let Some(ip) = &self.ipv6 {
            check_ip(ip, "ipv6", true)?;
        }
        if let Some(domain) = &self.domain
            && !is_dns_name(&domain.name)
        {
            return Err(NetworkSpecError::Domain(domain.name.clone()));
        }
        Ok(())
    }
}

fn check_ifname(name: &str) -> Result<(), NetworkSpecError> {
    let bad = name.is_empty()
        || name.len() > MAX_IFNAME
        || name
            .chars()
            .any(|c| c == '/' || c == ':' || c.is_whitespace() || c.is_control())
        || !is_plain(name);
    if bad {
        return Err(NetworkSpecError::BridgeName(name.to_owned()));
    }
    Ok(())
}

fn check_ip(ip: &IpConfig, attribute: &'static str, v6: bool) -> Result<(), NetworkSpecError> {
    let (family, max) = if v6 { ("IPv6", 128) } else { ("IPv4", 32) };
    let family_err = |address| NetworkSpecError::Family {
        attribute,
        address,
        family,
    };
    if ip.address.is_ipv6() != v6 {
        return Err(family_err(ip.address));
    }
    if ip.prefix > max {
        return Err(NetworkSpecError::Prefix {
            attribute,
            prefix: ip.prefix,
            max,
        });
    }
    for range in &ip.dhcp_ranges {
        for end in [range.start, range.end] {
            if end.is_ipv6() != v6 {
                return Err(family_err(end));
            }
        }
        let inside = |a| same_prefix(a, ip.address, ip.prefix);
        if !inside(range.start) || !inside(range.end) || bits(range.start) > bits(range.end) {
            return Err(NetworkSpecError::Range {
                attribute,
                range: *range,
                address: ip.address,
                prefix: ip.prefix,
            });
        }
    }
    Ok(())
}

/// The address as a number left-aligned in 128 bits (so prefixes compare alike).
fn bits(a: IpAddr) -> u128 {
    match a {
        IpAddr::V4(v4) => u128::from(u32::from(v4)) << 96,
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn same_prefix(a: IpAddr, b: IpAddr, prefix: u8) -> bool {
    if prefix == 0 {
        return true;
    }
    let mask = u128::MAX << (128 - u32::from(prefix));
    (bits(a) & mask) == (bits(b) & mask)
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{nat, range, v4};
    use super::*;

    #[test]
    fn validation() {
        nat().validate().unwrap();
        let bad = |f: fn(&mut NetworkSpec)| {
            let mut s = nat();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|s| s.name = "a/b".into()),
            NetworkSpecError::Name(_)
        ));
        assert!(matches!(
            bad(|s| s.bridge = Some("a-very-long-bridge".into())),
            NetworkSpecError::BridgeName(_)
        ));
        assert!(matches!(
            bad(|s| s.mtu = Some(10)),
            NetworkSpecError::Mtu(10)
        ));
        assert!(matches!(
            bad(|s| s.mode = NetworkMode::Bridge {
                bridge: "br0".into()
            }),
            NetworkSpecError::NotForMode {
                attribute: "bridge",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.ipv4.as_mut().unwrap().address = v4("fd00::1")),
            NetworkSpecError::Family { .. }
        ));
        assert!(matches!(
            bad(|s| s.ipv4.as_mut().unwrap().prefix = 33),
            NetworkSpecError::Prefix { .. }
        ));
        assert!(matches!(
            bad(|s| s.ipv4.as_mut().unwrap().dhcp_ranges = vec![range("10.90.1.1", "10.90.1.9")]),
            NetworkSpecError::Range { .. }
        ));
        assert!(matches!(
            bad(|s| s.ipv4.as_mut().unwrap().dhcp_ranges = vec![range("10.90.0.9", "10.90.0.1")]),
            NetworkSpecError::Range { .. }
        ));
        assert!(matches!(
            bad(|s| s.domain.as_mut().unwrap().name = " ".into()),
            NetworkSpecError::Domain(_)
        ));
        assert!(matches!(
            bad(|s| s.domain.as_mut().unwrap().name = "rel'/><mtu size='1400'/><x a='".into()),
            NetworkSpecError::Domain(_)
        ));
        assert!(matches!(
            bad(|s| s.domain.as_mut().unwrap().name = "farm.test\ndhcp-script=/x".into()),
            NetworkSpecError::Domain(_)
        ));
        assert!(matches!(
            bad(|s| s.name = "farm'".into()),
            NetworkSpecError::Name(_)
        ));
    }
}
