//! Parsing single IP addresses.

use std::net::IpAddr;

/// Why a text is not an IP address.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AddressError {
    /// The text is neither an IPv4 nor an IPv6 address.
    #[error("{text:?} is not an IPv4 or IPv6 address")]
    NotAnAddress {
        /// The text as given.
        text: String,
    },
}

/// Parses an IPv4 address in dotted-quad form or an IPv6 address in any RFC 4291 text form.
///
/// Whitespace, IPv6 zone identifiers (`%eth0`) and IPv4 octets with leading zeros are
/// rejected. An IPv4-mapped IPv6 address (`::ffff:10.0.0.1`) stays an IPv6 address.
pub fn parse_ip(text: &str) -> Result<IpAddr, AddressError> {
    text.parse().map_err(|_| AddressError::NotAnAddress {
        text: text.to_owned(),
    })
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use std::net::{Ipv4Addr, Ipv6Addr};

    #[test]
    fn parses_both_families() {
        assert_eq!(
            parse_ip("10.10.60.2").unwrap(),
            IpAddr::V4(Ipv4Addr::new(10, 10, 60, 2))
        );
        assert_eq!(
            parse_ip("2001:DB8::1").unwrap(),
            IpAddr::V6(Ipv6Addr::new(0x2001, 0xdb8, 0, 0, 0, 0, 0, 1))
        );
    }

    #[test]
    fn ipv4_mapped_stays_ipv6() {
        let ip = parse_ip("::ffff:10.0.0.1").unwrap();
        assert!(ip.is_ipv6());
        assert_eq!(ip.to_string(), "::ffff:10.0.0.1");
    }

    #[test]
    fn rejects_non_addresses() {
        for text in [
            "",
            "not-an-ip",
            " 10.0.0.1",
            "10.0.0.1 ",
            "10.0.0.1\n",
            "10.0.0",
            "10.0.0.256",
            "010.0.0.1",
            "10.0.0.0/8",
            "fe80::1%eth0",
            "2001:db8:::1",
            "[2001:db8::1]",
        ] {
            assert_eq!(
                parse_ip(text),
                Err(AddressError::NotAnAddress {
                    text: text.to_owned()
                }),
                "{text:?}"
            );
        }
    }

    #[test]
    fn message_quotes_the_text() {
        assert_eq!(
            parse_ip("not-an-ip").unwrap_err().to_string(),
            "\"not-an-ip\" is not an IPv4 or IPv6 address"
        );
    }
}
