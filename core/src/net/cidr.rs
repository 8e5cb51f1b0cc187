//! IP networks in CIDR notation.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::str::FromStr;

use super::addr::{AddressError, parse_ip};

/// Why a CIDR could not be parsed or built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CidrError {
    /// The text has no `/` separating address and prefix length.
    #[error(
        "{text:?} is not a CIDR; expected an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/32"
    )]
    NotCidr {
        /// The text as given.
        text: String,
    },
    /// The part before the `/` is not an IP address.
    #[error("Bad network address in CIDR {text:?}")]
    BadAddress {
        /// The text as given.
        text: String,
        /// Why the address was rejected.
        #[source]
        source: AddressError,
    },
    /// The part after the `/` is not a plain decimal number.
    #[error("Prefix length {prefix:?} is not a decimal number without sign or leading zeros")]
    BadPrefixLength {
        /// The text after the `/`.
        prefix: String,
    },
    /// The prefix length is longer than the address.
    #[error("Prefix length /{prefix} is out of range: 0 to {max} for {family}")]
    PrefixLengthOutOfRange {
        /// The prefix length as given.
        prefix: String,
        /// The longest valid prefix length for the family: 32 or 128.
        max: u8,
        /// `"IPv4"` or `"IPv6"`.
        family: &'static str,
    },
    /// The address has bits set beyond the prefix length.
    #[error("{given} has host bits set; did you mean {network}?")]
    HostBitsSet {
        /// The address and prefix length as given, in canonical form.
        given: String,
        /// The network that contains the given address.
        network: Cidr,
    },
}

/// An IPv4 or IPv6 network: a network address and a prefix length, with no host bits set.
///
/// Parsed from `"10.10.0.0/16"` or `"2001:db8::/32"`; displayed the same way, IPv6 in its
/// canonical RFC 5952 form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Cidr {
    network: IpAddr,
    prefix_len: u8,
}

impl Cidr {
    /// The network `network/prefix_len`; an error if the prefix length is longer than the
    /// address or `network` has host bits set.
    pub fn new(network: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        Self::build(network, prefix_len, &prefix_len.to_string())
    }

    /// The network of prefix length `prefix_len` that holds `address` (host bits
    /// cleared), e.g. `10.10.60.0/24` for `10.10.60.1` and 24.
    pub fn containing(address: IpAddr, prefix_len: u8) -> Result<Self, CidrError> {
        let network = match address {
            IpAddr::V4(ip) if prefix_len <= 32 => {
                IpAddr::V4(Ipv4Addr::from(u32::from(ip) & v4_mask(prefix_len)))
            }
            IpAddr::V6(ip) if prefix_len <= 128 => {
                IpAddr::V6(Ipv6Addr::from(u128::from(ip) & v6_mask(prefix_len)))
            }
            other => other,
        };
        Self::build(network, prefix_len, &prefix_len.to_string())
    }

    /// The network address (all host bits zero).
    pub const fn network(&self) -> IpAddr {
        self.network
    }

    /// The prefix length: 0 to 32 for IPv4, 0 to 128 for IPv6.
    pub const fn prefix_len(&self) -> u8 {
        self.prefix_len
    }

    /// Whether `ip` is in this network.
    ///
    /// Families never mix: an IPv4 address is never in an IPv6 network, and an IPv4-mapped
    /// IPv6 address (`::ffff:10.0.0.1`) is never in an IPv4 network (it is in
    /// `::ffff:0:0/96`).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip) {
            (IpAddr::V4(network), IpAddr::V4(ip)) => {
                u32::from(ip) & v4_mask(self.prefix_len) == u32::from(network)
            }
            (IpAddr::V6(network), IpAddr::V6(ip)) => {
                u128::from(ip) & v6_mask(self.prefix_len) == u128::from(network)
            }
            _ => false,
        }
    }

    /// Checks the prefix length (given as `prefix` text for messages) and the host bits.
    fn build(address: IpAddr, prefix_len: u8, prefix: &str) -> Result<Self, CidrError> {
        let (max, family) = match address {
            IpAddr::V4(_) => (32, "IPv4"),
            IpAddr::V6(_) => (128, "IPv6"),
        };
        if prefix_len > max {
            return Err(CidrError::PrefixLengthOutOfRange {
                prefix: prefix.to_owned(),
                max,
                family,
            });
        }
        let network = match address {
            IpAddr::V4(ip) => IpAddr::V4(Ipv4Addr::from(u32::from(ip) & v4_mask(prefix_len))),
            IpAddr::V6(ip) => IpAddr::V6(Ipv6Addr::from(u128::from(ip) & v6_mask(prefix_len))),
        };
        let cidr = Self {
            network,
            prefix_len,
        };
        if network != address {
            return Err(CidrError::HostBitsSet {
                given: format!("{address}/{prefix_len}"),
                network: cidr,
            });
        }
        Ok(cidr)
    }
}

/// The IPv4 netmask for `prefix_len` (at most 32) as an integer.
fn v4_mask(prefix_len: u8) -> u32 {
    u32::MAX
        .checked_shl(32 - u32::from(prefix_len))
        .unwrap_or(0)
}

/// The IPv6 netmask for `prefix_len` (at most 128) as an integer.
fn v6_mask(prefix_len: u8) -> u128 {
    u128::MAX
        .checked_shl(128 - u32::from(prefix_len))
        .unwrap_or(0)
}

impl FromStr for Cidr {
    type Err = CidrError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let Some((address, prefix)) = text.split_once('/') else {
            return Err(CidrError::NotCidr {
                text: text.to_owned(),
            });
        };
        let address = parse_ip(address).map_err(|source| CidrError::BadAddress {
            text: text.to_owned(),
            source,
        })?;
        let plain_decimal = !prefix.is_empty()
            && prefix.bytes().all(|b| b.is_ascii_digit())
            && (prefix == "0" || !prefix.starts_with('0'));
        if !plain_decimal {
            return Err(CidrError::BadPrefixLength {
                prefix: prefix.to_owned(),
            });
        }
        // Digits only, so the only way to fail is a number too large for a u8, which is
        // out of range for both families.
        let prefix_len = prefix.parse::<u8>().unwrap_or(u8::MAX);
        Self::build(address, prefix_len, prefix)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix_len)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::error::Error as _;

    fn cidr(text: &str) -> Cidr {
        text.parse().unwrap()
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    fn message(text: &str) -> String {
        text.parse::<Cidr>().unwrap_err().to_string()
    }

    #[test]
    fn parses_ipv4_and_ipv6() {
        let v4 = cidr("10.10.0.0/16");
        assert_eq!(v4.network(), ip("10.10.0.0"));
        assert_eq!(v4.prefix_len(), 16);
        assert_eq!(v4.to_string(), "10.10.0.0/16");

        let v6 = cidr("2001:db8::/32");
        assert_eq!(v6.network(), ip("2001:db8::"));
        assert_eq!(v6.prefix_len(), 32);
        assert_eq!(v6.to_string(), "2001:db8::/32");
    }

    #[test]
    fn upper_case_ipv6_is_displayed_canonically() {
        assert_eq!(cidr("2001:DB8:0:0::/64").to_string(), "2001:db8::/64");
    }

    #[test]
    fn edge_prefix_lengths() {
        assert_eq!(cidr("0.0.0.0/0").to_string(), "0.0.0.0/0");
        assert_eq!(cidr("::/0").to_string(), "::/0");
        assert_eq!(cidr("10.10.60.2/32").to_string(), "10.10.60.2/32");
        assert_eq!(cidr("2001:db8::1/128").to_string(), "2001:db8::1/128");
        assert_eq!(cidr("255.255.255.255/32").prefix_len(), 32);
    }

    #[test]
    fn new_checks_like_from_str() {
        assert_eq!(
            Cidr::new(ip("10.10.0.0"), 16).unwrap(),
            cidr("10.10.0.0/16")
        );
        assert_eq!(
            Cidr::new(ip("10.0.0.0"), 33).unwrap_err().to_string(),
            "Prefix length /33 is out of range: 0 to 32 for IPv4"
        );
        assert!(matches!(
            Cidr::new(ip("10.0.0.1"), 8),
            Err(CidrError::HostBitsSet { .. })
        ));
    }

    #[test]
    fn contains() {
        let net = cidr("10.10.0.0/16");
        assert!(net.contains(ip("10.10.0.0")));
        assert!(net.contains(ip("10.10.60.2")));
        assert!(net.contains(ip("10.10.255.255")));
        assert!(!net.contains(ip("10.11.0.0")));
        assert!(!net.contains(ip("10.9.255.255")));

        let v6 = cidr("2001:db8::/32");
        assert!(v6.contains(ip("2001:db8::1")));
        assert!(v6.contains(ip("2001:db8:ffff:ffff:ffff:ffff:ffff:ffff")));
        assert!(!v6.contains(ip("2001:db9::")));
    }

    #[test]
    fn contains_at_the_edges() {
        assert!(cidr("0.0.0.0/0").contains(ip("255.255.255.255")));
        assert!(cidr("::/0").contains(ip("ffff::1")));
        let host = cidr("10.10.60.2/32");
        assert!(host.contains(ip("10.10.60.2")));
        assert!(!host.contains(ip("10.10.60.3")));
        let host6 = cidr("2001:db8::1/128");
        assert!(host6.contains(ip("2001:db8::1")));
        assert!(!host6.contains(ip("2001:db8::2")));
    }

    #[test]
    fn contains_never_mixes_families() {
        assert!(!cidr("0.0.0.0/0").contains(ip("::")));
        assert!(!cidr("::/0").contains(ip("0.0.0.0")));
        assert!(!cidr("10.0.0.0/8").contains(ip("::ffff:10.0.0.1")));
        assert!(cidr("::ffff:0:0/96").contains(ip("::ffff:10.0.0.1")));
    }

    #[test]
    fn ipv4_mapped_network_is_ipv6() {
        let mapped = cidr("::ffff:10.0.0.0/104");
        assert!(mapped.network().is_ipv6());
        assert_eq!(mapped.to_string(), "::ffff:10.0.0.0/104");
        assert!(mapped.contains(ip("::ffff:10.1.2.3")));
        assert!(!mapped.contains(ip("::ffff:11.0.0.0")));
    }

    #[test]
    fn not_a_cidr() {
        for text in ["10.10.0.0", "", "2001:db8::", "not-a-cidr"] {
            assert_eq!(
                text.parse::<Cidr>(),
                Err(CidrError::NotCidr {
                    text: text.to_owned()
                }),
                "{text:?}"
            );
        }
        assert_eq!(
            message("10.10.0.0"),
            "\"10.10.0.0\" is not a CIDR; expected an address and a prefix length such as 10.0.0.0/16 or 2001:db8::/32"
        );
    }

    #[test]
    fn bad_address_keeps_its_source() {
        for text in [
            "10.10.0/16",
            " 10.10.0.0/16",
            "10.10.0.0 /16",
            "/16",
            "fe80::%eth0/64",
        ] {
            assert!(
                matches!(text.parse::<Cidr>(), Err(CidrError::BadAddress { .. })),
                "{text:?}"
            );
        }
        let err = "10.10.0/16".parse::<Cidr>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "Bad network address in CIDR \"10.10.0/16\""
        );
        assert_eq!(
            err.source().unwrap().to_string(),
            "\"10.10.0\" is not an IPv4 or IPv6 address"
        );
    }

    #[test]
    fn bad_prefix_length() {
        for (text, prefix) in [
            ("10.0.0.0/", ""),
            ("10.0.0.0/ 8", " 8"),
            ("10.0.0.0/8 ", "8 "),
            ("10.0.0.0/+8", "+8"),
            ("10.0.0.0/-8", "-8"),
            ("10.0.0.0/08", "08"),
            ("10.0.0.0/00", "00"),
            ("10.0.0.0/8/8", "8/8"),
            ("10.0.0.0/255.0.0.0", "255.0.0.0"),
            ("2001:db8::/x", "x"),
        ] {
            assert_eq!(
                text.parse::<Cidr>(),
                Err(CidrError::BadPrefixLength {
                    prefix: prefix.to_owned()
                }),
                "{text:?}"
            );
        }
        assert_eq!(
            message("10.0.0.0/08"),
            "Prefix length \"08\" is not a decimal number without sign or leading zeros"
        );
    }

    #[test]
    fn prefix_length_out_of_range_names_the_range() {
        assert_eq!(
            message("10.0.0.0/33"),
            "Prefix length /33 is out of range: 0 to 32 for IPv4"
        );
        assert_eq!(
            message("2001:db8::/129"),
            "Prefix length /129 is out of range: 0 to 128 for IPv6"
        );
        assert_eq!(
            message("10.0.0.0/256"),
            "Prefix length /256 is out of range: 0 to 32 for IPv4"
        );
        assert_eq!(
            message("::/99999999999999999999999"),
            "Prefix length /99999999999999999999999 is out of range: 0 to 128 for IPv6"
        );
    }

    #[test]
    fn host_bits_set_suggests_the_network() {
        assert_eq!(
            "10.10.0.1/16".parse::<Cidr>(),
            Err(CidrError::HostBitsSet {
                given: "10.10.0.1/16".to_owned(),
                network: cidr("10.10.0.0/16"),
            })
        );
        assert_eq!(
            message("10.10.0.1/16"),
            "10.10.0.1/16 has host bits set; did you mean 10.10.0.0/16?"
        );
        assert_eq!(
            message("2001:DB8::1/32"),
            "2001:db8::1/32 has host bits set; did you mean 2001:db8::/32?"
        );
        assert_eq!(
            message("10.0.0.1/0"),
            "10.0.0.1/0 has host bits set; did you mean 0.0.0.0/0?"
        );
        assert_eq!(
            message("::1/127"),
            "::1/127 has host bits set; did you mean ::/127?"
        );
    }
}
