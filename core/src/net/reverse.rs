//! Reverse-DNS names: the `in-addr.arpa.` and `ip6.arpa.` zone of a network and the PTR
//! owner name of an address (RFC 1035 section 3.5, RFC 3596 section 2.5).

use std::net::IpAddr;

use super::cidr::Cidr;

/// Why a network has no reverse zone of its own.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReverseError {
    /// An IPv4 prefix length that is not a whole number of octets.
    #[error(
        "IPv4 reverse zones exist only for prefix lengths 8, 16, 24 and 32; /{prefix_len} is not on an octet boundary (RFC 2317 classless delegation is not supported)"
    )]
    Ipv4NotOctetBoundary {
        /// The prefix length of the network.
        prefix_len: u8,
    },
    /// An IPv6 prefix length that is not a whole number of nibbles.
    #[error(
        "IPv6 reverse zones exist only for prefix lengths that are a multiple of 4, from 4 to 128; /{prefix_len} is not on a nibble boundary"
    )]
    Ipv6NotNibbleBoundary {
        /// The prefix length of the network.
        prefix_len: u8,
    },
    /// A /0 network, whose zone would be the whole reverse tree.
    #[error(
        "A /0 network would take the whole {tree} tree as its reverse zone; use a prefix length of at least {min}"
    )]
    WholeTree {
        /// `"in-addr.arpa."` or `"ip6.arpa."`.
        tree: &'static str,
        /// The shortest prefix length with a zone of its own: 8 or 4.
        min: u8,
    },
}

/// The parent of every IPv4 reverse name.
const V4_TREE: &str = "in-addr.arpa.";
/// The parent of every IPv6 reverse name.
const V6_TREE: &str = "ip6.arpa.";

/// The reverse zone of `cidr`, as an absolute name with a trailing dot.
///
/// IPv4 networks must be on an octet boundary (/8, /16, /24 or /32): `10.10.0.0/16` gives
/// `10.10.in-addr.arpa.`. IPv6 networks must be on a nibble boundary (a multiple of 4 up to
/// /128): `2001:db8::/32` gives `8.b.d.0.1.0.0.2.ip6.arpa.`. A /32 (IPv4) or /128 (IPv6)
/// gives the zone holding only that address's PTR record.
///
/// A /0 network is refused: its zone would be `in-addr.arpa.` or `ip6.arpa.` itself, which
/// would shadow every reverse lookup on the server it is created on. RFC 2317 classless
/// delegation (e.g. `0/26.2.0.192.in-addr.arpa.`) is not supported.
pub fn reverse_zone(cidr: &Cidr) -> Result<String, ReverseError> {
    let prefix_len = cidr.prefix_len();
    match cidr.network() {
        IpAddr::V4(network) => {
            if prefix_len == 0 {
                return Err(ReverseError::WholeTree {
                    tree: V4_TREE,
                    min: 8,
                });
            }
            if !prefix_len.is_multiple_of(8) {
                return Err(ReverseError::Ipv4NotOctetBoundary { prefix_len });
            }
            let labels = network.octets();
            let labels = labels[..usize::from(prefix_len / 8)]
                .iter()
                .rev()
                .map(u8::to_string);
            Ok(absolute_name(labels, V4_TREE))
        }
        IpAddr::V6(network) => {
            if prefix_len == 0 {
                return Err(ReverseError::WholeTree {
                    tree: V6_TREE,
                    min: 4,
                });
            }
            if !prefix_len.is_multiple_of(4) {
                return Err(ReverseError::Ipv6NotNibbleBoundary { prefix_len });
            }
            let nibbles = nibbles(&network.octets());
            let labels = nibbles[..usize::from(prefix_len / 4)]
                .iter()
                .rev()
                .map(|n| format!("{n:x}"));
            Ok(absolute_name(labels, V6_TREE))
        }
    }
}

/// The PTR owner name of `ip`, as an absolute name with a trailing dot.
///
/// `10.10.60.2` gives `2.60.10.10.in-addr.arpa.`; an IPv6 address gives all 32 nibbles,
/// least significant first, then `ip6.arpa.`. An IPv4-mapped IPv6 address
/// (`::ffff:10.0.0.1`) is treated as IPv6 and gets an `ip6.arpa.` name.
pub fn ptr_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => absolute_name(ip.octets().iter().rev().map(u8::to_string), V4_TREE),
        IpAddr::V6(ip) => absolute_name(
            nibbles(&ip.octets()).iter().rev().map(|n| format!("{n:x}")),
            V6_TREE,
        ),
    }
}

/// The 32 nibbles of an IPv6 address, most significant first.
fn nibbles(octets: &[u8; 16]) -> [u8; 32] {
    let mut nibbles = [0; 32];
    for (i, octet) in octets.iter().enumerate() {
        nibbles[2 * i] = octet >> 4;
        nibbles[2 * i + 1] = octet & 0x0f;
    }
    nibbles
}

/// `labels` each followed by a dot, then `tree`.
fn absolute_name(labels: impl Iterator<Item = String>, tree: &str) -> String {
    let mut name = String::new();
    for label in labels {
        name.push_str(&label);
        name.push('.');
    }
    name.push_str(tree);
    name
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn zone(text: &str) -> Result<String, ReverseError> {
        reverse_zone(&text.parse().unwrap())
    }

    fn ptr(text: &str) -> String {
        ptr_name(text.parse().unwrap())
    }

    #[test]
    fn ipv4_zones_on_octet_boundaries() {
        assert_eq!(zone("10.0.0.0/8").unwrap(), "10.in-addr.arpa.");
        assert_eq!(zone("10.10.0.0/16").unwrap(), "10.10.in-addr.arpa.");
        assert_eq!(zone("192.0.2.0/24").unwrap(), "2.0.192.in-addr.arpa.");
        assert_eq!(zone("10.10.60.2/32").unwrap(), "2.60.10.10.in-addr.arpa.");
    }

    #[test]
    fn ipv4_zone_off_an_octet_boundary() {
        assert_eq!(
            zone("10.10.0.0/20"),
            Err(ReverseError::Ipv4NotOctetBoundary { prefix_len: 20 })
        );
        assert_eq!(
            zone("10.10.0.0/20").unwrap_err().to_string(),
            "IPv4 reverse zones exist only for prefix lengths 8, 16, 24 and 32; /20 is not on an octet boundary (RFC 2317 classless delegation is not supported)"
        );
        for len in (1..32).filter(|len| len % 8 != 0) {
            let text = format!("0.0.0.0/{len}");
            assert_eq!(
                zone(&text),
                Err(ReverseError::Ipv4NotOctetBoundary { prefix_len: len }),
                "{text}"
            );
        }
    }

    #[test]
    fn ipv6_zones_on_nibble_boundaries() {
        assert_eq!(zone("2001:db8::/32").unwrap(), "8.b.d.0.1.0.0.2.ip6.arpa.");
        assert_eq!(zone("2000::/4").unwrap(), "2.ip6.arpa.");
        assert_eq!(
            zone("2001:DB8:A::/52").unwrap(),
            "0.a.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        assert_eq!(
            zone("2001:db8::1/128").unwrap(),
            "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
    }

    #[test]
    fn ipv6_zone_off_a_nibble_boundary() {
        assert_eq!(
            zone("2001:db8::/33").unwrap_err().to_string(),
            "IPv6 reverse zones exist only for prefix lengths that are a multiple of 4, from 4 to 128; /33 is not on a nibble boundary"
        );
        for len in (1..128).filter(|len| len % 4 != 0) {
            let text = format!("::/{len}");
            assert_eq!(
                zone(&text),
                Err(ReverseError::Ipv6NotNibbleBoundary { prefix_len: len }),
                "{text}"
            );
        }
    }

    #[test]
    fn slash_zero_is_refused() {
        assert_eq!(
            zone("0.0.0.0/0"),
            Err(ReverseError::WholeTree {
                tree: "in-addr.arpa.",
                min: 8
            })
        );
        assert_eq!(
            zone("0.0.0.0/0").unwrap_err().to_string(),
            "A /0 network would take the whole in-addr.arpa. tree as its reverse zone; use a prefix length of at least 8"
        );
        assert_eq!(
            zone("::/0").unwrap_err().to_string(),
            "A /0 network would take the whole ip6.arpa. tree as its reverse zone; use a prefix length of at least 4"
        );
    }

    #[test]
    fn ptr_names() {
        assert_eq!(ptr("10.10.60.2"), "2.60.10.10.in-addr.arpa.");
        assert_eq!(ptr("0.0.0.0"), "0.0.0.0.in-addr.arpa.");
        assert_eq!(ptr("255.255.255.255"), "255.255.255.255.in-addr.arpa.");
        assert_eq!(
            ptr("2001:DB8::567:89AB"),
            "b.a.9.8.7.6.5.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa."
        );
        assert_eq!(
            ptr("::"),
            "0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."
        );
    }

    #[test]
    fn ptr_name_of_ipv4_mapped_is_ipv6() {
        assert_eq!(
            ptr("::ffff:10.0.0.1"),
            "1.0.0.0.0.0.a.0.f.f.f.f.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.ip6.arpa."
        );
    }

    #[test]
    fn ipv6_ptr_names_have_32_nibbles() {
        let name = ptr("2001:db8::1");
        let labels: Vec<&str> = name
            .trim_end_matches("ip6.arpa.")
            .split_terminator('.')
            .collect();
        assert_eq!(labels.len(), 32);
        assert!(labels.iter().all(|l| l.len() == 1));
    }

    #[test]
    fn ptr_name_is_inside_its_reverse_zone() {
        for (net, address) in [
            ("10.10.0.0/16", "10.10.60.2"),
            ("192.0.2.0/24", "192.0.2.77"),
            ("2001:db8::/32", "2001:db8::567:89ab"),
            ("2001:db8:a::/48", "2001:db8:a::1"),
        ] {
            let zone = zone(net).unwrap();
            let name = ptr(address);
            assert!(name.ends_with(&format!(".{zone}")), "{name} not in {zone}");
        }
    }
}
