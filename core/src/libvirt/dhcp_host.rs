//! Static DHCP host entries of a libvirt network: the `<host mac=... ip=... name=.../>`
//! elements of an IPv4 `<ip><dhcp>`, which libvirt's dnsmasq turns into `dhcp-host`
//! lines (a fixed address, and a hostname, for one MAC address).
//!
//! # How they change
//!
//! Every change is one `virNetworkUpdate` of the `ip-dhcp-host` section on the live
//! network and its persistent definition together (`AFFECT_LIVE | AFFECT_CONFIG`, each
//! where the network has it), with the parent index of the `<ip>` element holding the
//! subnet. libvirt rewrites dnsmasq's hosts file and sends it SIGHUP: the network is not
//! restarted, dnsmasq keeps its PID and guests keep their links and leases. (Only the
//! first host entry of an `<ip>` that had no DHCP at all restarts dnsmasq, to start
//! serving DHCP there.)
//!
//! libvirt has no call that carries several changes, so a change is one call; the calls
//! of one hypervisor run one after the other on its connection's thread, in the order
//! they were made, so the changes of one network never overtake each other.
//!
//! Before writing, the change is checked against the entries the network holds at that
//! moment (read in the same call on the connection's thread): a MAC address, an address
//! or a hostname that another entry of the subnet holds is refused with that entry
//! named, since libvirt would refuse it with a less helpful message, or (for a
//! modification) change the other entry instead.
//!
//! # What a host entry cannot hold
//!
//! libvirt keeps boot options (`<bootp file=... server=...>`) per `<dhcp>` element, not
//! per host, and `virNetworkUpdate` cannot change them on a running network. A host entry
//! therefore carries only a MAC address, an address and a hostname; callers refuse
//! anything else before it gets here.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use virt::sys;

use super::connection::not_found;
use super::connection::{Hypervisor, Link};
use super::error::{LibvirtError, ObjectKind};
use super::network::{lookup, netmask_prefix, read_state};
use super::xml::Element;
use crate::net::{Cidr, MacAddress};

/// One `<host>` entry of an IPv4 `<dhcp>` element.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DhcpHost {
    /// The client's MAC address. Entries libvirt holds may have none (a hostname-only
    /// entry, matched by the name the client sends); rack's own always have one.
    pub mac: Option<MacAddress>,
    /// The address handed to the client.
    pub ip: Option<Ipv4Addr>,
    /// The hostname handed to the client (and resolved by the network's dnsmasq).
    pub name: Option<String>,
}

impl DhcpHost {
    /// An entry for `mac` with `ip` and no hostname.
    pub fn new(mac: MacAddress, ip: Ipv4Addr) -> Self {
        Self {
            mac: Some(mac),
            ip: Some(ip),
            name: None,
        }
    }

    /// The `<host>` element `virNetworkUpdate` takes for the `ip-dhcp-host` section.
    pub fn to_xml(&self) -> String {
        let mut e = Element::new("host");
        if let Some(mac) = self.mac {
            e = e.attr("mac", mac);
        }
        if let Some(name) = &self.name {
            e = e.attr("name", name);
        }
        if let Some(ip) = self.ip {
            e = e.attr("ip", ip);
        }
        e.to_xml()
    }

    fn from_element(e: &Element) -> Self {
        Self {
            mac: e.get("mac").and_then(|m| m.parse().ok()),
            ip: e.get("ip").and_then(|a| a.parse().ok()),
            name: e.get("name").filter(|n| !n.is_empty()).map(str::to_owned),
        }
    }
}

impl fmt::Display for DhcpHost {
    /// `mac 52:54:00:..., ip 10.0.0.5, name node1`, leaving out what is not set.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut parts = Vec::new();
        if let Some(mac) = self.mac {
            parts.push(format!("mac {mac}"));
        }
        if let Some(ip) = self.ip {
            parts.push(format!("ip {ip}"));
        }
        if let Some(name) = &self.name {
            parts.push(format!("name {name}"));
        }
        f.write_str(&parts.join(", "))
    }
}

/// One change to the host entries of a subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostChange {
    /// Adds an entry; refused if its MAC address, address or hostname is taken.
    Add(DhcpHost),
    /// Changes the address and hostname of the entry with the same MAC address, in place.
    Modify(DhcpHost),
    /// Removes the entry of this MAC address; nothing to do if there is none.
    Delete(MacAddress),
}

/// Why a host entry cannot be read or changed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpHostError {
    /// The network has no IPv4 `<ip>` element for the subnet.
    #[error(
        "Network {network:?} has no IPv4 address in subnet {subnet} (its IPv4 subnets: {known}); check the subnet against the network's <ip> elements (virsh net-dumpxml {network})"
    )]
    SubnetNotFound {
        /// The network.
        network: String,
        /// The subnet asked for.
        subnet: Cidr,
        /// The IPv4 subnets the network has, comma-separated.
        known: String,
    },
    /// Another entry of the subnet holds the MAC address, address or hostname.
    #[error(
        "The host entry [{wanted}] conflicts with the existing entry [{entry}] of network {network:?} (subnet {subnet}): same {what}; remove or change that entry first"
    )]
    Conflict {
        /// The network.
        network: String,
        /// The subnet.
        subnet: Cidr,
        /// The entry being added or changed.
        wanted: String,
        /// The conflicting entry.
        entry: String,
        /// What both have, e.g. `IP address 10.0.0.5`.
        what: String,
    },
    /// The entry to modify does not exist.
    #[error(
        "Network {network:?} has no host entry for {mac} in subnet {subnet}; it may have been removed outside rack"
    )]
    NotFound {
        /// The network.
        network: String,
        /// The subnet.
        subnet: Cidr,
        /// The MAC address.
        mac: MacAddress,
    },
    /// The entry is not one rack writes.
    #[error("The host entry [{host}] cannot be written: {reason}")]
    Invalid {
        /// The entry.
        host: String,
        /// What is wrong.
        reason: String,
    },
    /// The network's XML cannot be read.
    #[error("Cannot read the XML of network {network:?}: {reason}")]
    Xml {
        /// The network.
        network: String,
        /// What is wrong.
        reason: String,
    },
    /// libvirt failed (or the network does not exist).
    #[error(transparent)]
    Libvirt(#[from] LibvirtError),
}

/// The network address of `address/prefix`.
fn network_of(address: Ipv4Addr, prefix: u8) -> Option<Cidr> {
    let mask = u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0);
    Cidr::new(
        IpAddr::V4(Ipv4Addr::from(u32::from(address) & mask)),
        prefix,
    )
    .ok()
}

/// Every IPv4 `<ip>` element of a network: its position among all `<ip>` elements (the
/// parent index `virNetworkUpdate` takes) and its subnet.
pub fn ipv4_subnets(xml: &str) -> Result<Vec<(usize, Cidr)>, String> {
    let root = Element::parse(xml)?;
    let mut out = Vec::new();
    for (i, e) in root.all("ip").enumerate() {
        let family_v6 = match e.get("family") {
            Some(f) => f == "ipv6",
            None => e.get("address").is_some_and(|a| a.contains(':')),
        };
        if family_v6 {
            continue;
        }
        let Some(address) = e.get("address").and_then(|a| a.parse::<Ipv4Addr>().ok()) else {
            continue;
        };
        let prefix = match (e.get("prefix"), e.get("netmask")) {
            (Some(p), _) => p.parse().ok(),
            (None, Some(mask)) => netmask_prefix(mask).ok(),
            (None, None) => None,
        };
        if let Some(cidr) = prefix
            .filter(|p| *p <= 32)
            .and_then(|p| network_of(address, p))
        {
            out.push((i, cidr));
        }
    }
    Ok(out)
}

/// The host entries of the `<ip>` of `subnet` in a network's XML, in document order, and
/// that `<ip>`'s parent index.
pub fn hosts_in(
    network: &str,
    xml: &str,
    subnet: Cidr,
) -> Result<(usize, Vec<DhcpHost>), DhcpHostError> {
    let xml_error = |reason: String| DhcpHostError::Xml {
        network: network.to_owned(),
        reason,
    };
    let subnets = ipv4_subnets(xml).map_err(xml_error)?;
    let Some(&(index, _)) = subnets.iter().find(|(_, c)| *c == subnet) else {
        return Err(DhcpHostError::SubnetNotFound {
            network: network.to_owned(),
            subnet,
            known: if subnets.is_empty() {
                "none".to_owned()
            } else {
                subnets
                    .iter()
                    .map(|(_, c)| c.to_string())
                    .collect::<Vec<_>>()
                    .join(", ")
            },
        });
    };
    let root = Element::parse(xml).map_err(xml_error)?;
    let hosts = root
        .all("ip")
        .nth(index)
        .and_then(|ip| ip.first("dhcp"))
        .map(|dhcp| dhcp.all("host").map(DhcpHost::from_element).collect())
        .unwrap_or_default();
    Ok((index, hosts))
}

/// Checks `wanted` against the entries of its subnet; `own` is the MAC address of the
/// entry it replaces, which is not a conflict.
fn check_conflicts(
    network: &str,
    subnet: Cidr,
    hosts: &[DhcpHost],
    wanted: &DhcpHost,
    own: Option<MacAddress>,
) -> Result<(), DhcpHostError> {
    let conflict = |entry: &DhcpHost, what: String| DhcpHostError::Conflict {
        network: network.to_owned(),
        subnet,
        wanted: wanted.to_string(),
        entry: entry.to_string(),
        what,
    };
    for h in hosts {
        if own.is_some() && h.mac == own {
            continue;
        }
        if let (Some(a), Some(b)) = (h.mac, wanted.mac)
            && a == b
        {
            return Err(conflict(h, format!("MAC address {a}")));
        }
        if let (Some(a), Some(b)) = (h.ip, wanted.ip)
            && a == b
        {
            return Err(conflict(h, format!("IP address {a}")));
        }
        if let (Some(a), Some(b)) = (&h.name, &wanted.name)
            && a.eq_ignore_ascii_case(b)
        {
            return Err(conflict(h, format!("hostname {a}")));
        }
    }
    Ok(())
}

/// Checks what rack itself never writes: an entry without a MAC address or an address,
/// with an address outside its subnet, or with a name that is not a host name.
fn check_entry(host: &DhcpHost, subnet: Cidr) -> Result<(), DhcpHostError> {
    let invalid = |reason: String| DhcpHostError::Invalid {
        host: host.to_string(),
        reason,
    };
    let Some(ip) = host.ip else {
        return Err(invalid("it has no address".to_owned()));
    };
    if host.mac.is_none() {
        return Err(invalid("it has no MAC address".to_owned()));
    }
    if !subnet.contains(IpAddr::V4(ip)) {
        return Err(invalid(format!("{ip} is not in subnet {subnet}")));
    }
    // libvirt writes the name into dnsmasq's host file (`mac,ip,name`) too.
    if let Some(name) = &host.name
        && (name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
    {
        return Err(invalid(format!(
            "{name:?} is not a host name (letters, digits, '-', '_' and '.')"
        )));
    }
    Ok(())
}

/// The `virNetworkUpdate` call a change needs, given the subnet's entries now: the
/// command and the `<host>` element, or `None` when there is nothing to do.
fn plan_change(
    network: &str,
    subnet: Cidr,
    hosts: &[DhcpHost],
    change: &HostChange,
) -> Result<Option<(sys::virNetworkUpdateCommand, DhcpHost)>, DhcpHostError> {
    match change {
        HostChange::Add(h) => {
            check_entry(h, subnet)?;
            check_conflicts(network, subnet, hosts, h, None)?;
            Ok(Some((sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, h.clone())))
        }
        HostChange::Modify(h) => {
            check_entry(h, subnet)?;
            let mac = h.mac;
            let Some(current) = hosts.iter().find(|x| x.mac == mac) else {
                return Err(DhcpHostError::NotFound {
                    network: network.to_owned(),
                    subnet,
                    mac: mac.unwrap_or(MacAddress::new([0; 6])),
                });
            };
            if current == h {
                return Ok(None);
            }
            check_conflicts(network, subnet, hosts, h, mac)?;
            Ok(Some((sys::VIR_NETWORK_UPDATE_COMMAND_MODIFY, h.clone())))
        }
        HostChange::Delete(mac) => Ok(hosts
            .iter()
            .find(|x| x.mac == Some(*mac))
            // libvirt deletes the entry that matches every attribute given: all of them.
            .map(|current| (sys::VIR_NETWORK_UPDATE_COMMAND_DELETE, current.clone()))),
    }
}

fn verb(command: sys::virNetworkUpdateCommand) -> &'static str {
    match command {
        sys::VIR_NETWORK_UPDATE_COMMAND_DELETE => "remove",
        sys::VIR_NETWORK_UPDATE_COMMAND_MODIFY => "change",
        _ => "add",
    }
}

/// Finds the network or says it does not exist.
fn existing(link: &Link<'_>, name: &str) -> Result<virt::network::Network, LibvirtError> {
    lookup(link, name)?.ok_or_else(|| not_found(link, ObjectKind::Network, name.to_owned()))
}

impl Hypervisor {
    /// The host entries of `subnet` in network `network`, from the network listing's
    /// cache (filled on first use, kept current by rack's own writes).
    pub async fn dhcp_hosts(
        &self,
        network: &str,
        subnet: Cidr,
    ) -> Result<Vec<DhcpHost>, DhcpHostError> {
        let state = self.network(network).await?;
        self.hosts_of(network, state, subnet)
    }

    /// Like [`Hypervisor::dhcp_hosts`], read from libvirt now (and updating the cache):
    /// for import, and after changes made outside rack.
    pub async fn dhcp_hosts_fresh(
        &self,
        network: &str,
        subnet: Cidr,
    ) -> Result<Vec<DhcpHost>, DhcpHostError> {
        let state = self.network_fresh(network).await?;
        self.hosts_of(network, state, subnet)
    }

    fn hosts_of(
        &self,
        network: &str,
        state: Option<super::network::NetworkState>,
        subnet: Cidr,
    ) -> Result<Vec<DhcpHost>, DhcpHostError> {
        let state = state.ok_or_else(|| LibvirtError::NotFound {
            uri: self.uri().to_owned(),
            kind: ObjectKind::Network,
            name: network.to_owned(),
        })?;
        Ok(hosts_in(network, &state.xml, subnet)?.1)
    }

    /// Applies one change to the host entries of `subnet` in network `network`, on its
    /// live and persistent definitions together, without restarting it. The change is
    /// checked against the entries the network holds at that moment. Returns whether
    /// anything was changed.
    pub async fn change_dhcp_host(
        &self,
        network: &str,
        subnet: Cidr,
        change: HostChange,
    ) -> Result<bool, DhcpHostError> {
        let name = network.to_owned();
        let cache = self.network_cache();
        self.call(
            format!("update the DHCP hosts of network {name:?}"),
            move |link| {
                let inner = || -> Result<bool, DhcpHostError> {
                    let net = existing(link, &name)?;
                    let action = || format!("read network {name:?}");
                    let xml = net.xml_desc(0).map_err(|e| link.fail(action(), e))?;
                    let (index, hosts) = hosts_in(&name, &xml, subnet)?;
                    let Some((command, host)) = plan_change(&name, subnet, &hosts, &change)? else {
                        return Ok(false);
                    };
                    let active = net.is_active().map_err(|e| link.fail(action(), e))?;
                    let persistent = net.is_persistent().map_err(|e| link.fail(action(), e))?;
                    let mut flags = 0;
                    if active {
                        flags |= sys::VIR_NETWORK_UPDATE_AFFECT_LIVE;
                    }
                    if persistent {
                        flags |= sys::VIR_NETWORK_UPDATE_AFFECT_CONFIG;
                    }
                    let parent = i32::try_from(index).unwrap_or(-1);
                    let started = std::time::Instant::now();
                    net.update(
                        command,
                        sys::VIR_NETWORK_SECTION_IP_DHCP_HOST,
                        parent,
                        &host.to_xml(),
                        flags,
                    )
                    .map_err(|e| {
                        link.fail(
                            format!("{} DHCP host [{host}] of network {name:?}", verb(command)),
                            e,
                        )
                    })?;
                    tracing::debug!(
                        network = %name,
                        command = verb(command),
                        host = %host,
                        elapsed_ms = started.elapsed().as_millis() as u64,
                        "libvirt DHCP host updated"
                    );
                    let state = read_state(link, &net)?;
                    cache.put(&name, state);
                    Ok(true)
                };
                // Errors of our own travel inside Ok, libvirt's as Err, so `call` can tell a
                // lost connection.
                match inner() {
                    Err(DhcpHostError::Libvirt(e)) => Err(e),
                    other => Ok(other),
                }
            },
        )
        .await?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mac(s: &str) -> MacAddress {
        s.parse().unwrap()
    }

    fn ip(s: &str) -> Ipv4Addr {
        s.parse().unwrap()
    }

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    /// What libvirt 9.0 answers for a network with hosts (`virsh net-dumpxml`), with an
    /// IPv6 `<ip>` first so that the IPv4 one is at index 1.
    const XML: &str = "<network>
  <name>farm</name>
  <forward mode='nat'/>
  <bridge name='rkbr0' stp='on' delay='0'/>
  <ip family='ipv6' address='fd90::1' prefix='64'>
    <dhcp><host id='0:1:0:1' ip='fd90::5'/></dhcp>
  </ip>
  <ip address='10.90.0.1' netmask='255.255.255.0'>
    <dhcp>
      <range start='10.90.0.100' end='10.90.0.150'/>
      <host mac='52:54:00:00:00:01' name='node1' ip='10.90.0.10'/>
      <host mac='52:54:00:00:00:02' ip='10.90.0.11'/>
      <host name='byname' ip='10.90.0.12'/>
    </dhcp>
  </ip>
</network>";

    #[test]
    fn reads_the_hosts_of_the_subnet() {
        assert_eq!(ipv4_subnets(XML).unwrap(), vec![(1, cidr("10.90.0.0/24"))]);
        let (index, hosts) = hosts_in("farm", XML, cidr("10.90.0.0/24")).unwrap();
        assert_eq!(index, 1);
        assert_eq!(
            hosts,
            vec![
                DhcpHost {
                    mac: Some(mac("52:54:00:00:00:01")),
                    ip: Some(ip("10.90.0.10")),
                    name: Some("node1".into())
                },
                DhcpHost::new(mac("52:54:00:00:00:02"), ip("10.90.0.11")),
                DhcpHost {
                    mac: None,
                    ip: Some(ip("10.90.0.12")),
                    name: Some("byname".into())
                },
            ]
        );
        let e = hosts_in("farm", XML, cidr("10.91.0.0/24")).unwrap_err();
        assert!(
            e.to_string().contains("its IPv4 subnets: 10.90.0.0/24"),
            "{e}"
        );
        // A subnet without <dhcp> has no hosts.
        let bare = "<network><name>x</name><ip address='10.1.0.1' prefix='16'/></network>";
        assert_eq!(
            hosts_in("x", bare, cidr("10.1.0.0/16")).unwrap(),
            (0, vec![])
        );
    }

    #[test]
    fn host_xml_for_virnetworkupdate() {
        let mut h = DhcpHost::new(mac("52:54:00:AA:00:01"), ip("10.90.0.20"));
        assert_eq!(
            h.to_xml(),
            "<host mac=\"52:54:00:aa:00:01\" ip=\"10.90.0.20\"/>"
        );
        h.name = Some("a&b".into());
        assert_eq!(
            h.to_xml(),
            "<host mac=\"52:54:00:aa:00:01\" name=\"a&amp;b\" ip=\"10.90.0.20\"/>"
        );
        assert_eq!(
            h.to_string(),
            "mac 52:54:00:aa:00:01, ip 10.90.0.20, name a&b"
        );
    }

    #[test]
    fn changes_are_checked_against_the_other_entries() {
        let subnet = cidr("10.90.0.0/24");
        let (_, hosts) = hosts_in("farm", XML, subnet).unwrap();
        let plan = |c: HostChange| plan_change("farm", subnet, &hosts, &c);

        let new = DhcpHost::new(mac("52:54:00:00:00:09"), ip("10.90.0.30"));
        let (cmd, h) = plan(HostChange::Add(new.clone())).unwrap().unwrap();
        assert_eq!((cmd, h), (sys::VIR_NETWORK_UPDATE_COMMAND_ADD_LAST, new));

        let same_ip = DhcpHost::new(mac("52:54:00:00:00:09"), ip("10.90.0.11"));
        let e = plan(HostChange::Add(same_ip)).unwrap_err().to_string();
        assert!(
            e.contains("existing entry [mac 52:54:00:00:00:02, ip 10.90.0.11]")
                && e.contains("same IP address 10.90.0.11"),
            "{e}"
        );
        let same_mac = DhcpHost::new(mac("52:54:00:00:00:01"), ip("10.90.0.31"));
        let e = plan(HostChange::Add(same_mac)).unwrap_err().to_string();
        assert!(e.contains("same MAC address 52:54:00:00:00:01"), "{e}");
        let mut same_name = DhcpHost::new(mac("52:54:00:00:00:09"), ip("10.90.0.31"));
        same_name.name = Some("ByName".into());
        let e = plan(HostChange::Add(same_name)).unwrap_err().to_string();
        assert!(e.contains("same hostname byname"), "{e}");
        let outside = DhcpHost::new(mac("52:54:00:00:00:09"), ip("10.91.0.31"));
        assert!(matches!(
            plan(HostChange::Add(outside)),
            Err(DhcpHostError::Invalid { .. })
        ));
        // A name that would reach dnsmasq's host file (`mac,ip,name`) with a comma, a
        // newline or markup is refused.
        for bad in ["a,b", "a\nb", "a'/><x/>", ""] {
            let mut named = DhcpHost::new(mac("52:54:00:00:00:09"), ip("10.90.0.31"));
            named.name = Some(bad.into());
            assert!(
                matches!(
                    plan(HostChange::Add(named)),
                    Err(DhcpHostError::Invalid { .. })
                ),
                "{bad:?}"
            );
        }

        // Modify: its own entry is no conflict; another's address is.
        let moved = DhcpHost::new(mac("52:54:00:00:00:02"), ip("10.90.0.40"));
        let (cmd, _) = plan(HostChange::Modify(moved)).unwrap().unwrap();
        assert_eq!(cmd, sys::VIR_NETWORK_UPDATE_COMMAND_MODIFY);
        let unchanged = DhcpHost::new(mac("52:54:00:00:00:02"), ip("10.90.0.11"));
        assert_eq!(plan(HostChange::Modify(unchanged)).unwrap(), None);
        let taken = DhcpHost::new(mac("52:54:00:00:00:02"), ip("10.90.0.10"));
        assert!(matches!(
            plan(HostChange::Modify(taken)),
            Err(DhcpHostError::Conflict { .. })
        ));
        let missing = DhcpHost::new(mac("52:54:00:00:00:77"), ip("10.90.0.41"));
        assert!(matches!(
            plan(HostChange::Modify(missing)),
            Err(DhcpHostError::NotFound { .. })
        ));

        // Delete names the entry as libvirt holds it; a missing one is nothing to do.
        let (cmd, h) = plan(HostChange::Delete(mac("52:54:00:00:00:01")))
            .unwrap()
            .unwrap();
        assert_eq!(cmd, sys::VIR_NETWORK_UPDATE_COMMAND_DELETE);
        assert_eq!(h.name.as_deref(), Some("node1"));
        assert_eq!(
            plan(HostChange::Delete(mac("52:54:00:00:00:77"))).unwrap(),
            None
        );
    }
}
