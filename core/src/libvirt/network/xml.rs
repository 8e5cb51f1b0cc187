//! A network's XML in both directions. Pure: no I/O.

use std::net::IpAddr;

use super::spec::{DhcpRange, DomainConfig, IpConfig, NetworkMode, NetworkSpec, NetworkSpecError};
use crate::libvirt::xml::Element;

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
pub(crate) fn netmask_prefix(mask: &str) -> Result<u8, NetworkSpecError> {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::{nat, range};
    use super::*;

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
}
