//! libvirt virtual networks: the model rack manages ([`NetworkSpec`]), its XML in both
//! directions, what a change needs ([`plan_update`]), and the operations on a
//! [`Hypervisor`].
//!
//! # What changes in place, what forces replacement
//!
//! libvirt can change a running network only through `virNetworkUpdate`, and only some of
//! its sections (DHCP ranges and hosts, DNS hosts/TXT/SRV, port groups, forward
//! interfaces); it answers "can't update 'domain' section" or "'bridge' section" for the
//! rest. Redefining a running network (`virNetworkDefineXML`) changes only its persistent
//! configuration, which takes effect at the next start, that is after a destroy that
//! detaches every guest's interface from the bridge. So rack applies in place:
//!
//! - `dhcp_ranges` of either family: `virNetworkUpdate` (delete, then add-last) on the
//!   live network and its persistent configuration together; libvirt restarts the
//!   network's dnsmasq (about 1 s), guests keep their links and leases;
//! - `autostart`: `virNetworkSetAutostart`.
//!
//! and everything else forces replacement ([`REPLACE_ATTRIBUTES`]): `name`, `mode`
//! (including the host bridge of `bridge` mode), `bridge`, `mtu`, the addresses and
//! prefixes of `ipv4` and `ipv6` (adding or removing a family too), and `domain`.

#[cfg(test)]
mod fixtures;
mod ops;
mod plan;
pub(crate) mod spec;
mod xml;

pub use ops::NetworkState;
pub(crate) use ops::{lookup, read_state};
pub use plan::{NetworkUpdatePlan, plan_update};
pub use spec::{
    DhcpRange, DomainConfig, IpConfig, NetworkMode, NetworkSpec, NetworkSpecError,
    REPLACE_ATTRIBUTES,
};
pub(crate) use xml::netmask_prefix;
pub use xml::{network_xml, parse_network_xml};
