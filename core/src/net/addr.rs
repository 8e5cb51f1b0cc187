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
