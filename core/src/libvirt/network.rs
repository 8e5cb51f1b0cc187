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

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

use virt::network::Network;
use virt::sys;

use super::connection::{Hypervisor, Link, Listing};
use super::error::{LibvirtError, ObjectKind, classify};
use super::xml::{Element, is_dns_name, is_plain};

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

// ---- XML ----------------------------------------------------------------------------

fn ip_element(ip: &IpConfig, v6: bool) -> Element {
    let mut e = Element::new("ip");
    if v6 {
        e = e.attr("family", "ipv6");
    }
    e = e.attr("address", ip.address).attr("prefix", ip.prefix);
    if !ip.dhcp_ranges.is_empty() {
        let mut dhcp = Element::new("dhcp");
        for r in &ip.dhcp_ranges {
            dhcp = dhcp.child(range_element(r));
        }
        e = e.child(dhcp);
    }
    e
}

fn range_element(r: &DhcpRange) -> Element {
    Element::new("range")
        .attr("start", r.start)
        .attr("end", r.end)
}

/// The `<range>` element `virNetworkUpdate` takes for the `ip-dhcp-range` section.
pub(crate) fn range_xml(r: &DhcpRange) -> String {
    range_element(r).to_xml()
}

/// libvirt's network XML for `spec` (`autostart` is not part of it). Call
/// [`NetworkSpec::validate`] first: this builds whatever it is given.
pub fn network_xml(spec: &NetworkSpec) -> String {
    let mut root = Element::new("network").child(Element::new("name").with_text(&spec.name));
    match &spec.mode {
        NetworkMode::Isolated => {}
        mode => root = root.child(Element::new("forward").attr("mode", mode.as_str())),
    }
    let bridge = match &spec.mode {
        NetworkMode::Bridge { bridge } => Some(bridge),
        _ => spec.bridge.as_ref(),
    };
    if let Some(bridge) = bridge {
        root = root.child(Element::new("bridge").attr("name", bridge));
    }
    if let Some(mtu) = spec.mtu {
        root = root.child(Element::new("mtu").attr("size", mtu));
    }
    if let Some(domain) = &spec.domain {
        let mut e = Element::new("domain").attr("name", &domain.name);
        if domain.local_only {
            e = e.attr("localOnly", "yes");
        }
        root = root.child(e);
    }
    if let Some(ip) = &spec.ipv4 {
        root = root.child(ip_element(ip, false));
    }
    if let Some(ip) = &spec.ipv6 {
        root = root.child(ip_element(ip, true));
    }
    root.to_xml()
}

fn unsupported(msg: impl Into<String>) -> NetworkSpecError {
    NetworkSpecError::Unsupported(msg.into())
}

fn required<'a>(e: &'a Element, attr: &str) -> Result<&'a str, NetworkSpecError> {
    e.get(attr)
        .ok_or_else(|| unsupported(format!("<{}> has no {attr} attribute", e.name)))
}

fn parse_addr(text: &str, what: &str) -> Result<IpAddr, NetworkSpecError> {
    text.parse()
        .map_err(|_| unsupported(format!("{what} {text:?} is not an IP address")))
}

/// The prefix length of a contiguous IPv4 netmask.
pub(super) fn netmask_prefix(mask: &str) -> Result<u8, NetworkSpecError> {
    let bad = || unsupported(format!("netmask {mask:?} is not a contiguous IPv4 mask"));
    let m: std::net::Ipv4Addr = mask.parse().map_err(|_| bad())?;
    let m = u32::from(m);
    let ones = m.leading_ones();
    if m.checked_shl(ones).unwrap_or(0) != 0 {
        return Err(bad());
    }
    u8::try_from(ones).map_err(|_| bad())
}

fn parse_ip(e: &Element) -> Result<IpConfig, NetworkSpecError> {
    let address = parse_addr(required(e, "address")?, "ip address")?;
    let prefix = match (e.get("prefix"), e.get("netmask")) {
        (Some(p), _) => p
            .parse()
            .map_err(|_| unsupported(format!("ip prefix {p:?} is not a number")))?,
        (None, Some(mask)) => netmask_prefix(mask)?,
        // libvirt's default for an address without prefix or netmask: the classful one
        // for IPv4, 64 for IPv6. rack always writes a prefix.
        (None, None) if address.is_ipv6() => 64,
        (None, None) => return Err(unsupported("an IPv4 <ip> has no prefix or netmask")),
    };
    let mut dhcp_ranges = Vec::new();
    if let Some(dhcp) = e.first("dhcp") {
        for r in dhcp.all("range") {
            dhcp_ranges.push(DhcpRange {
                start: parse_addr(required(r, "start")?, "DHCP range start")?,
                end: parse_addr(required(r, "end")?, "DHCP range end")?,
            });
        }
    }
    Ok(IpConfig {
        address,
        prefix,
        dhcp_ranges,
    })
}

/// Whether an `<ip>` element is IPv6 (by its `family`, or by its address).
fn is_v6(e: &Element) -> bool {
    match e.get("family") {
        Some(f) => f == "ipv6",
        None => e.get("address").is_some_and(|a| a.contains(':')),
    }
}

/// The position of the first `<ip>` element of a family among all `<ip>` elements: the
/// parent index `virNetworkUpdate` wants for DHCP sections.
pub(crate) fn ip_index(xml: &str, v6: bool) -> Result<Option<usize>, NetworkSpecError> {
    let root = Element::parse(xml).map_err(NetworkSpecError::Syntax)?;
    Ok(root.all("ip").position(|e| is_v6(e) == v6))
}

/// Reads libvirt's XML of a network into a [`NetworkSpec`], with `autostart` as given
/// (it is not part of the XML). What rack does not model (uuid, MAC address, STP, NAT
/// port ranges, DNS entries, static DHCP hosts) is ignored; what would change the
/// meaning of the model (a second address of one family, another forward mode) is an
/// error.
pub fn parse_network_xml(xml: &str, autostart: bool) -> Result<NetworkSpec, NetworkSpecError> {
    let root = Element::parse(xml).map_err(NetworkSpecError::Syntax)?;
    if root.name != "network" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <network>",
            root.name
        )));
    }
    let name = root
        .first("name")
        .map(|n| n.text.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unsupported("the network has no <name>"))?;
    let bridge = root.first("bridge").and_then(|b| b.get("name"));
    let forward = root
        .first("forward")
        .map(|f| f.get("mode").unwrap_or("nat"));
    let mode = match forward {
        None => NetworkMode::Isolated,
        Some("nat") => NetworkMode::Nat,
        Some("route") => NetworkMode::Route,
        Some("open") => NetworkMode::Open,
        Some("bridge") => NetworkMode::Bridge {
            bridge: bridge
                .ok_or_else(|| {
                    unsupported("a network in bridge mode names no bridge (macvtap or OVS?)")
                })?
                .to_owned(),
        },
        Some(other) => {
            return Err(unsupported(format!(
                "forward mode {other:?} is not one rack manages (nat, route, open, isolated, bridge)"
            )));
        }
    };
    let bridge = match mode {
        NetworkMode::Bridge { .. } => None,
        _ => bridge.map(str::to_owned),
    };
    let mtu = match root.first("mtu") {
        Some(m) => {
            let size = required(m, "size")?;
            Some(
                size.parse()
                    .map_err(|_| unsupported(format!("mtu size {size:?} is not a number")))?,
            )
        }
        None => None,
    };
    let domain = root.first("domain").map(|d| DomainConfig {
        name: d.get("name").unwrap_or_default().to_owned(),
        local_only: d.get("localOnly") == Some("yes"),
    });
    let (mut ipv4, mut ipv6) = (None, None);
    for e in root.all("ip") {
        let v6 = is_v6(e);
        let slot = if v6 { &mut ipv6 } else { &mut ipv4 };
        if slot.is_some() {
            return Err(unsupported(format!(
                "the network has more than one {} address; rack models one per family",
                if v6 { "IPv6" } else { "IPv4" }
            )));
        }
        *slot = Some(parse_ip(e)?);
    }
    Ok(NetworkSpec {
        name,
        mode,
        bridge,
        mtu,
        ipv4,
        ipv6,
        domain,
        autostart,
    })
}

// ---- Changes ------------------------------------------------------------------------

/// What it takes to turn one network into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetworkUpdatePlan {
    /// Attributes that differ and cannot change in place (from [`REPLACE_ATTRIBUTES`]);
    /// non-empty means the network must be replaced.
    pub replace: Vec<&'static str>,
    /// DHCP ranges to delete, with `true` for IPv6.
    pub remove_ranges: Vec<(bool, DhcpRange)>,
    /// DHCP ranges to add, with `true` for IPv6.
    pub add_ranges: Vec<(bool, DhcpRange)>,
    /// The new autostart flag, if it changes.
    pub autostart: Option<bool>,
}

impl NetworkUpdatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty()
            && self.remove_ranges.is_empty()
            && self.add_ranges.is_empty()
            && self.autostart.is_none()
    }
}

/// Compares the network as it is with the network as wanted. A `bridge` of `None` in
/// `desired` means "whatever libvirt picked" and never differs.
pub fn plan_update(current: &NetworkSpec, desired: &NetworkSpec) -> NetworkUpdatePlan {
    let mut plan = NetworkUpdatePlan::default();
    let mut replace = |cond: bool, attr: &'static str| {
        if cond {
            plan.replace.push(attr);
        }
    };
    replace(current.name != desired.name, "name");
    replace(current.mode != desired.mode, "mode");
    replace(
        desired.bridge.is_some() && current.bridge != desired.bridge,
        "bridge",
    );
    replace(current.mtu != desired.mtu, "mtu");
    replace(current.domain != desired.domain, "domain");
    for (v6, cur, want) in [
        (false, &current.ipv4, &desired.ipv4),
        (true, &current.ipv6, &desired.ipv6),
    ] {
        let (address, prefix) = if v6 {
            ("ipv6.address", "ipv6.prefix")
        } else {
            ("ipv4.address", "ipv4.prefix")
        };
        match (cur, want) {
            (None, None) => {}
            (Some(c), Some(w)) => {
                replace(c.address != w.address, address);
                replace(c.prefix != w.prefix, prefix);
                for r in &c.dhcp_ranges {
                    if !w.dhcp_ranges.contains(r) {
                        plan.remove_ranges.push((v6, *r));
                    }
                }
                for r in &w.dhcp_ranges {
                    if !c.dhcp_ranges.contains(r) {
                        plan.add_ranges.push((v6, *r));
                    }
                }
            }
            _ => {
                replace(true, address);
                replace(true, prefix);
            }
        }
    }
    if current.autostart != desired.autostart {
        plan.autostart = Some(desired.autostart);
    }
    plan
}

// ---- Operations ---------------------------------------------------------------------

/// A network as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NetworkState {
    /// The network's name.
    pub name: String,
    /// libvirt's UUID.
    pub uuid: String,
    /// Whether it runs.
    pub active: bool,
    /// Whether it has a persistent definition (false: transient, gone when stopped).
    pub persistent: bool,
    /// Whether libvirt starts it when the daemon starts.
    pub autostart: bool,
    /// The XML libvirt reports: the live definition when active, else the persistent one.
    pub xml: String,
    /// The model read from [`Self::xml`], or why rack cannot model this network.
    pub spec: Result<NetworkSpec, NetworkSpecError>,
}

/// Reads one network's state (on the connection's thread).
pub(super) fn read_state(link: &Link<'_>, net: &Network) -> Result<NetworkState, LibvirtError> {
    let name = net
        .name()
        .map_err(|e| link.fail("read the name of a network", e))?;
    let action = || format!("read network {name:?}");
    let uuid = net.uuid_string().map_err(|e| link.fail(action(), e))?;
    let active = net.is_active().map_err(|e| link.fail(action(), e))?;
    let persistent = net.is_persistent().map_err(|e| link.fail(action(), e))?;
    let autostart = persistent && net.autostart().map_err(|e| link.fail(action(), e))?;
    let xml = net.xml_desc(0).map_err(|e| link.fail(action(), e))?;
    let spec = parse_network_xml(&xml, autostart);
    Ok(NetworkState {
        name,
        uuid,
        active,
        persistent,
        autostart,
        xml,
        spec,
    })
}

pub(super) fn lookup(link: &Link<'_>, name: &str) -> Result<Option<Network>, LibvirtError> {
    match link.conn().lookup_network_by_name(name) {
        Ok(net) => Ok(Some(net)),
        Err(e) if e.code().is(virt::error::ErrorNumber::NoNetwork) => Ok(None),
        Err(e) => Err(link.fail(format!("look up network {name:?}"), e)),
    }
}

/// Checks, where the hypervisor can tell, that the host bridge of a bridge-mode network
/// exists (libvirt itself only notices when a guest is attached).
fn check_host_bridge(link: &Link<'_>, bridge: &str) -> Result<(), LibvirtError> {
    use virt::error::ErrorNumber;
    match link.conn().lookup_interface_by_name(bridge) {
        Ok(_) => Ok(()),
        Err(e) if e.code().is(ErrorNumber::NoInterface) => Err(LibvirtError::MissingBridge {
            uri: link.uri().to_owned(),
            bridge: bridge.to_owned(),
            source: Some(e),
        }),
        // No interface driver there (e.g. built without udev): libvirt will tell later.
        Err(_) => Ok(()),
    }
}

/// Like [`Link::fail`], for an action on the network `spec` (names its bridge when the
/// error is about one).
fn fail_on(
    link: &Link<'_>,
    action: impl Into<String>,
    spec: &NetworkSpec,
    e: virt::error::Error,
) -> LibvirtError {
    classify(link.uri(), action.into(), Some(spec), e)
}

impl Hypervisor {
    /// This hypervisor's listing of networks.
    pub(crate) fn network_cache(&self) -> Arc<Listing<NetworkState>> {
        self.cache()
    }
}

impl Hypervisor {
    /// Every network on the hypervisor. The first call lists them (one round trip to the
    /// connection's thread); later calls answer from the cache, which rack's own writes
    /// keep current. [`Hypervisor::refresh_networks`] lists again.
    pub async fn networks(&self) -> Result<Vec<NetworkState>, LibvirtError> {
        self.networks_cached(false).await
    }

    /// Lists the networks again, replacing the cache.
    pub async fn refresh_networks(&self) -> Result<Vec<NetworkState>, LibvirtError> {
        self.networks_cached(true).await
    }

    async fn networks_cached(&self, refresh: bool) -> Result<Vec<NetworkState>, LibvirtError> {
        self.listing(
            self.network_cache(),
            refresh,
            "list networks",
            |c| c.list_all_networks(0),
            read_state,
            |s| &s.name,
        )
        .await
    }

    /// One network from the cache (filled by [`Hypervisor::networks`] on first use);
    /// `None` if it does not exist.
    pub async fn network(&self, name: &str) -> Result<Option<NetworkState>, LibvirtError> {
        self.networks().await?;
        Ok(self.network_cache().get(name))
    }

    /// One network read from libvirt now, bypassing the cache (and updating it): for
    /// import, and to confirm drift before acting on it.
    pub async fn network_fresh(&self, name: &str) -> Result<Option<NetworkState>, LibvirtError> {
        let action = format!("read network {name:?}");
        self.read_one(self.network_cache(), action, name, lookup, read_state)
            .await
    }

    /// Defines the network, starts it and sets autostart. If starting fails the
    /// definition is removed again, so a failed create leaves nothing behind.
    ///
    /// Idempotent: a network of that name whose definition is exactly `spec` (a create
    /// that timed out and that libvirtd carried out later, or one made by hand) is
    /// adopted, started and given `spec`'s autostart; any other network of that name is
    /// [`LibvirtError::Exists`], and is left alone.
    pub async fn create_network(&self, spec: &NetworkSpec) -> Result<NetworkState, LibvirtError> {
        spec.validate().map_err(|source| LibvirtError::Spec {
            name: spec.name.clone(),
            source,
        })?;
        let xml = network_xml(spec);
        let spec = spec.clone();
        let cache = self.network_cache();
        self.call(format!("create network {:?}", spec.name), move |link| {
            let name = spec.name.as_str();
            if let Some(net) = lookup(link, name)? {
                let now = read_state(link, &net)?;
                let same = now.persistent
                    && now.spec.as_ref().is_ok_and(|current| {
                        let plan = plan_update(current, &spec);
                        plan.replace.is_empty()
                            && plan.add_ranges.is_empty()
                            && plan.remove_ranges.is_empty()
                    });
                if !same {
                    cache.put(name, now);
                    return Err(LibvirtError::Exists {
                        uri: link.uri().to_owned(),
                        kind: ObjectKind::Network,
                        name: name.to_owned(),
                    });
                }
                tracing::info!(
                    network = name,
                    "adopting the network that is already defined as planned"
                );
                if !now.active {
                    net.create()
                        .map_err(|e| fail_on(link, format!("start network {name:?}"), &spec, e))?;
                }
                if now.autostart != spec.autostart {
                    net.set_autostart(spec.autostart)
                        .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))?;
                }
                let state = read_state(link, &net)?;
                cache.put(name, state.clone());
                return Ok(state);
            }
            if let NetworkMode::Bridge { bridge } = &spec.mode {
                check_host_bridge(link, bridge)?;
            }
            let net = link
                .conn()
                .define_network_xml(&xml)
                .map_err(|e| fail_on(link, format!("define network {name:?}"), &spec, e))?;
            let started = net
                .create()
                .map_err(|e| fail_on(link, format!("start network {name:?}"), &spec, e))
                .and_then(|()| {
                    net.set_autostart(spec.autostart)
                        .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))
                });
            if let Err(e) = started {
                let _ = net.destroy();
                let _ = net.undefine();
                cache.remove(name);
                return Err(e);
            }
            let state = read_state(link, &net)?;
            cache.put(name, state.clone());
            Ok(state)
        })
        .await
    }

    /// Changes the network `desired.name` in place to match `desired` (see the module
    /// documentation for what can change). Fails with
    /// [`LibvirtError::RequiresReplacement`], changing nothing, if anything else differs.
    pub async fn update_network(
        &self,
        desired: &NetworkSpec,
    ) -> Result<NetworkState, LibvirtError> {
        desired.validate().map_err(|source| LibvirtError::Spec {
            name: desired.name.clone(),
            source,
        })?;
        let desired = desired.clone();
        let cache = self.network_cache();
        self.call(format!("update network {:?}", desired.name), move |link| {
            let name = desired.name.as_str();
            let net = lookup(link, name)?.ok_or_else(|| LibvirtError::NotFound {
                uri: link.uri().to_owned(),
                kind: ObjectKind::Network,
                name: name.to_owned(),
            })?;
            let before = read_state(link, &net)?;
            let current = before.spec.clone().map_err(|source| LibvirtError::Spec {
                name: name.to_owned(),
                source,
            })?;
            let plan = plan_update(&current, &desired);
            if !plan.replace.is_empty() {
                return Err(LibvirtError::RequiresReplacement {
                    name: name.to_owned(),
                    attributes: plan.replace,
                });
            }
            let mut flags = 0;
            if before.active {
                flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
            }
            if before.persistent {
                flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
            }
            let steps = plan
                .remove_ranges
                .iter()
                .map(|r| (sys::VIR_NETWORK_UPDATE_COMMAND_DELETE, r))
                .chain(
                    plan.add_ranges
                        .iter()
                        .map(|r| (sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, r)),
                );
            for (command, (v6, range)) in steps {
                let parent = ip_index(&before.xml, *v6)
                    .map_err(|source| LibvirtError::Spec {
                        name: name.to_owned(),
                        source,
                    })?
                    .and_then(|i| i32::try_from(i).ok())
                    .unwrap_or(-1);
                let verb = if command == sys::VIR_NETWORK_UPDATE_COMMAND_DELETE {
                    "remove"
                } else {
                    "add"
                };
                net.update(
                    command,
                    sys::VIR_NETWORK_SECTION_IP_DHCP_RANGE,
                    parent,
                    &range_xml(range),
                    flags,
                )
                .map_err(|e| {
                    fail_on(
                        link,
                        format!("{verb} DHCP range {range} of network {name:?}"),
                        &desired,
                        e,
                    )
                })?;
            }
            if let Some(autostart) = plan.autostart {
                net.set_autostart(autostart)
                    .map_err(|e| link.fail(format!("set autostart of network {name:?}"), e))?;
            }
            let state = read_state(link, &net)?;
            cache.put(name, state.clone());
            Ok(state)
        })
        .await
    }

    /// Starts (`active`) or stops the network `name`; nothing happens when it is already
    /// so. Guests attached to a network that is stopped lose their link until it runs
    /// again and they are reattached.
    pub async fn set_network_active(
        &self,
        name: &str,
        active: bool,
    ) -> Result<NetworkState, LibvirtError> {
        let name = name.to_owned();
        let cache = self.network_cache();
        let verb = if active { "start" } else { "stop" };
        self.call(format!("{verb} network {name:?}"), move |link| {
            let net = lookup(link, &name)?.ok_or_else(|| LibvirtError::NotFound {
                uri: link.uri().to_owned(),
                kind: ObjectKind::Network,
                name: name.clone(),
            })?;
            let action = || format!("{verb} network {name:?}");
            let now = net.is_active().map_err(|e| link.fail(action(), e))?;
            if now != active {
                let done = if active { net.create() } else { net.destroy() };
                if let Err(e) = done {
                    let spec = read_state(link, &net).ok().and_then(|s| s.spec.ok());
                    return Err(match &spec {
                        Some(spec) => fail_on(link, action(), spec, e),
                        None => link.fail(action(), e),
                    });
                }
            }
            let state = read_state(link, &net)?;
            cache.put(&name, state.clone());
            Ok(state)
        })
        .await
    }

    /// Stops the network if it runs and removes its definition. Returns whether there
    /// was a network of that name.
    pub async fn delete_network(&self, name: &str) -> Result<bool, LibvirtError> {
        let name = name.to_owned();
        let cache = self.network_cache();
        self.call(format!("delete network {name:?}"), move |link| {
            let Some(net) = lookup(link, &name)? else {
                cache.remove(&name);
                return Ok(false);
            };
            let action = || format!("delete network {name:?}");
            if net.is_active().map_err(|e| link.fail(action(), e))? {
                net.destroy().map_err(|e| link.fail(action(), e))?;
            }
            // A transient network is gone once destroyed.
            if net.is_persistent().unwrap_or(false) {
                net.undefine().map_err(|e| link.fail(action(), e))?;
            }
            cache.remove(&name);
            Ok(true)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(s: &str) -> IpAddr {
        s.parse().unwrap()
    }

    fn range(a: &str, b: &str) -> DhcpRange {
        DhcpRange {
            start: v4(a),
            end: v4(b),
        }
    }

    fn nat() -> NetworkSpec {
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

    /// What libvirt 9.0 answers for `nat()` after defining it (`virsh net-dumpxml`).
    const LIBVIRT_NAT: &str = "<network>
  <name>farm</name>
  <uuid>c9223f45-6369-47ed-8176-35ba80d19985</uuid>
  <forward mode='nat'>
    <nat>
      <port start='1024' end='65535'/>
    </nat>
  </forward>
  <bridge name='rkbr0' stp='on' delay='0'/>
  <mtu size='1400'/>
  <mac address='52:54:00:c1:26:ed'/>
  <domain name='farm.test' localOnly='yes'/>
  <ip address='10.90.0.1' prefix='24'>
    <dhcp>
      <range start='10.90.0.100' end='10.90.0.150'/>
    </dhcp>
  </ip>
  <ip family='ipv6' address='fd90::1' prefix='64'>
  </ip>
</network>
";

    #[test]
    fn builds_the_xml_libvirt_expects() {
        let xml = network_xml(&nat());
        assert_eq!(
            xml,
            "<network>\n  <name>farm</name>\n  <forward mode=\"nat\"/>\n  <bridge name=\"rkbr0\"/>\n  \
             <mtu size=\"1400\"/>\n  <domain name=\"farm.test\" localOnly=\"yes\"/>\n  \
             <ip address=\"10.90.0.1\" prefix=\"24\">\n    <dhcp>\n      \
             <range start=\"10.90.0.100\" end=\"10.90.0.150\"/>\n    </dhcp>\n  </ip>\n  \
             <ip family=\"ipv6\" address=\"fd90::1\" prefix=\"64\"/>\n</network>"
        );
    }

    #[test]
    fn parses_what_libvirt_answers() {
        assert_eq!(parse_network_xml(LIBVIRT_NAT, true).unwrap(), nat());
    }

    #[test]
    fn every_mode_round_trips() {
        let modes = [
            NetworkMode::Nat,
            NetworkMode::Route,
            NetworkMode::Open,
            NetworkMode::Isolated,
        ];
        for mode in modes {
            let mut spec = nat();
            spec.mode = mode;
            spec.autostart = false;
            let back = parse_network_xml(&network_xml(&spec), false).unwrap();
            assert_eq!(back, spec);
        }
        let bridged = NetworkSpec::new(
            "lan",
            NetworkMode::Bridge {
                bridge: "br0".into(),
            },
        );
        bridged.validate().unwrap();
        let xml = network_xml(&bridged);
        assert!(
            xml.contains("<forward mode=\"bridge\"/>") && xml.contains("<bridge name=\"br0\"/>")
        );
        assert_eq!(parse_network_xml(&xml, false).unwrap(), bridged);
    }

    #[test]
    fn isolated_has_no_forward_element() {
        let mut spec = nat();
        spec.mode = NetworkMode::Isolated;
        assert!(!network_xml(&spec).contains("forward"));
    }

    #[test]
    fn minimal_network_and_netmask_form() {
        let xml = "<network><name>x</name><forward/><ip address='192.168.5.1' \
                   netmask='255.255.255.0'/></network>";
        let spec = parse_network_xml(xml, false).unwrap();
        assert_eq!(
            spec.mode,
            NetworkMode::Nat,
            "forward without mode means nat"
        );
        assert_eq!(spec.ipv4.unwrap().prefix, 24);
        assert!(spec.bridge.is_none() && spec.ipv6.is_none() && spec.domain.is_none());
    }

    #[test]
    fn refuses_what_it_cannot_model() {
        let cases = [
            "<network><forward mode='nat'/></network>",
            "<network><name>x</name><forward mode='hostdev'/></network>",
            "<network><name>x</name><forward mode='bridge'/></network>",
            "<network><name>x</name><ip address='10.0.0.1' prefix='24'/>\
             <ip address='10.0.1.1' prefix='24'/></network>",
            "<network><name>x</name><ip address='10.0.0.1' netmask='255.0.255.0'/></network>",
            "<network><name>x</name><ip address='nope' prefix='24'/></network>",
            "<domain><name>x</name></domain>",
        ];
        for xml in cases {
            assert!(
                matches!(
                    parse_network_xml(xml, false),
                    Err(NetworkSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_network_xml("<network>", false),
            Err(NetworkSpecError::Syntax(_))
        ));
    }

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

    #[test]
    fn plan_in_place_and_replace() {
        let current = nat();
        assert!(plan_update(&current, &current).is_empty());

        let mut want = nat();
        want.autostart = false;
        want.ipv4.as_mut().unwrap().dhcp_ranges = vec![
            range("10.90.0.100", "10.90.0.120"),
            range("10.90.0.200", "10.90.0.210"),
        ];
        let plan = plan_update(&current, &want);
        assert!(plan.replace.is_empty());
        assert_eq!(plan.autostart, Some(false));
        assert_eq!(
            plan.remove_ranges,
            vec![(false, range("10.90.0.100", "10.90.0.150"))]
        );
        assert_eq!(
            plan.add_ranges,
            vec![
                (false, range("10.90.0.100", "10.90.0.120")),
                (false, range("10.90.0.200", "10.90.0.210"))
            ]
        );

        let mut want = nat();
        want.bridge = None;
        assert!(
            plan_update(&current, &want).is_empty(),
            "bridge left to libvirt"
        );

        let mut want = nat();
        want.mode = NetworkMode::Route;
        want.mtu = None;
        want.ipv6 = None;
        want.domain.as_mut().unwrap().local_only = false;
        want.ipv4.as_mut().unwrap().prefix = 16;
        assert_eq!(
            plan_update(&current, &want).replace,
            vec![
                "mode",
                "mtu",
                "domain",
                "ipv4.prefix",
                "ipv6.address",
                "ipv6.prefix"
            ]
        );
        for attr in plan_update(&current, &want).replace {
            assert!(REPLACE_ATTRIBUTES.contains(&attr));
        }
    }

    #[test]
    fn ip_index_counts_every_ip_element() {
        let xml = "<network><name>x</name><ip family='ipv6' address='fd00::1' prefix='64'/>\
                   <ip address='10.0.0.1' prefix='24'/></network>";
        assert_eq!(ip_index(xml, false).unwrap(), Some(1));
        assert_eq!(ip_index(xml, true).unwrap(), Some(0));
        assert_eq!(ip_index("<network/>", true).unwrap(), None);
    }

    #[test]
    fn range_xml_for_virnetworkupdate() {
        assert_eq!(
            range_xml(&range("10.0.0.2", "10.0.0.9")),
            "<range start=\"10.0.0.2\" end=\"10.0.0.9\"/>"
        );
    }

    #[tokio::test]
    async fn listing_is_filled_once_and_follows_our_writes() {
        let hv = Hypervisor::new("test:///default").unwrap();
        let before = hv.networks().await.unwrap();
        assert!(before.iter().any(|n| n.name == "default"), "{before:?}");
        let mut spec = NetworkSpec::new("rack-unit-isolated", NetworkMode::Isolated);
        spec.bridge = Some("rkunit0".into());
        let created = hv.create_network(&spec).await.unwrap();
        assert_eq!(created.spec.clone().unwrap(), spec);
        assert_eq!(hv.network(&spec.name).await.unwrap(), Some(created));
        assert_eq!(hv.networks().await.unwrap().len(), before.len() + 1);
        assert!(hv.delete_network(&spec.name).await.unwrap());
        assert_eq!(hv.network(&spec.name).await.unwrap(), None);
    }
}
