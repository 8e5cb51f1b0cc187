//! MAC addresses, MAC prefixes and the stable derivation of a MAC address from a seed.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

/// The prefix [`derive_mac`] is used with unless the user chooses another: the range QEMU and
/// libvirt use for their own generated addresses (locally administered, unicast).
pub const DEFAULT_MAC_PREFIX: &str = "52:54:00";

/// Bit 0 of the first octet: set for group (multicast and broadcast) addresses.
const MULTICAST_BIT: u8 = 0x01;
/// Bit 1 of the first octet: set for locally administered addresses.
const LOCAL_BIT: u8 = 0x02;
/// A prefix leaves at least one octet to the hash, so no two seeds are forced to collide.
const MAX_PREFIX_OCTETS: usize = 5;

/// Why a MAC address or MAC prefix could not be parsed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MacError {
    /// The text is not a MAC address in any of the accepted notations.
    #[error(
        "{text:?} is not a MAC address; expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"
    )]
    BadAddress {
        /// The text as given.
        text: String,
    },
    /// The text is not a MAC prefix of two-digit hexadecimal octets.
    #[error("{text:?} is not a MAC prefix; expected hexadecimal octets such as 52:54:00 or 02")]
    BadPrefix {
        /// The text as given.
        text: String,
    },
    /// The prefix leaves no octet to derive.
    #[error("MAC prefix {text:?} has {octets} octets; at most 5 are allowed")]
    PrefixTooLong {
        /// The text as given.
        text: String,
        /// How many octets it has.
        octets: usize,
    },
    /// The first octet of the prefix marks a multicast address, which no interface can own.
    #[error(
        "MAC prefix {text:?} has the multicast bit set in its first octet; use a unicast prefix such as 52:54:00 or 02"
    )]
    MulticastPrefix {
        /// The text as given.
        text: String,
    },
}

/// A 48-bit IEEE 802 MAC address.
///
/// Parsed case-insensitively from `aa:bb:cc:dd:ee:ff`, `aa-bb-cc-dd-ee-ff` or the Cisco form
/// `aabb.ccdd.eeff`; every octet has exactly two hexadecimal digits and no whitespace is
/// allowed. Displayed in lower-case colon form.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct MacAddress([u8; 6]);

impl MacAddress {
    /// The address with these octets, first octet first.
    pub const fn new(octets: [u8; 6]) -> Self {
        Self(octets)
    }

    /// The octets, first octet first.
    pub const fn octets(&self) -> [u8; 6] {
        self.0
    }

    /// Whether this is an individual (not multicast or broadcast) address.
    pub const fn is_unicast(&self) -> bool {
        self.0[0] & MULTICAST_BIT == 0
    }

    /// Whether the locally administered bit is set (the address is not from an OUI).
    pub const fn is_locally_administered(&self) -> bool {
        self.0[0] & LOCAL_BIT != 0
    }

    /// Whether this is `00:00:00:00:00:00`.
    pub fn is_zero(&self) -> bool {
        self.0 == [0; 6]
    }
}

impl From<[u8; 6]> for MacAddress {
    fn from(octets: [u8; 6]) -> Self {
        Self(octets)
    }
}

impl From<MacAddress> for [u8; 6] {
    fn from(mac: MacAddress) -> Self {
        mac.0
    }
}

impl FromStr for MacAddress {
    type Err = MacError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let bad = || MacError::BadAddress {
            text: text.to_owned(),
        };
        let groups: Vec<&str> = if text.contains('.') {
            // Cisco: three groups of four digits.
            let groups: Vec<&str> = text.split('.').collect();
            if groups.len() != 3 || groups.iter().any(|g| g.len() != 4) {
                return Err(bad());
            }
            groups
                .iter()
                .flat_map(|g| [g.get(..2), g.get(2..)])
                .collect::<Option<Vec<&str>>>()
                .ok_or_else(bad)?
        } else {
            let separator = if text.contains('-') { '-' } else { ':' };
            text.split(separator).collect()
        };
        let octets = parse_octets(&groups).ok_or_else(bad)?;
        let octets: [u8; 6] = octets.try_into().map_err(|_| bad())?;
        Ok(Self(octets))
    }
}

impl fmt::Display for MacAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let [a, b, c, d, e, g] = self.0;
        write!(f, "{a:02x}:{b:02x}:{c:02x}:{d:02x}:{e:02x}:{g:02x}")
    }
}

/// The fixed first octets of derived MAC addresses: 0 to 5 octets, never multicast.
///
/// Parsed case-insensitively from octets of two hexadecimal digits separated by `:` or `-`
/// (`"52:54:00"`, `"02"`, or `""` for no prefix). Displayed in lower-case colon form.
/// The default is [`DEFAULT_MAC_PREFIX`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct MacPrefix {
    octets: [u8; MAX_PREFIX_OCTETS],
    len: usize,
}

impl MacPrefix {
    /// The empty prefix: [`derive_mac`] then takes every octet from the hash.
    pub const EMPTY: Self = Self {
        octets: [0; MAX_PREFIX_OCTETS],
        len: 0,
    };

    /// The octets of the prefix, first octet first.
    pub fn octets(&self) -> &[u8] {
        &self.octets[..self.len]
    }

    /// How many octets the prefix fixes (0 to 5).
    pub const fn len(&self) -> usize {
        self.len
    }

    /// Whether the prefix fixes no octet.
    pub const fn is_empty(&self) -> bool {
        self.len == 0
    }
}

impl Default for MacPrefix {
    /// [`DEFAULT_MAC_PREFIX`], `52:54:00`.
    fn default() -> Self {
        Self {
            octets: [0x52, 0x54, 0x00, 0, 0],
            len: 3,
        }
    }
}

impl FromStr for MacPrefix {
    type Err = MacError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        if text.is_empty() {
            return Ok(Self::EMPTY);
        }
        let separator = if text.contains('-') { '-' } else { ':' };
        let groups: Vec<&str> = text.split(separator).collect();
        let parsed = parse_octets(&groups).ok_or_else(|| MacError::BadPrefix {
            text: text.to_owned(),
        })?;
        if parsed.len() > MAX_PREFIX_OCTETS {
            return Err(MacError::PrefixTooLong {
                text: text.to_owned(),
                octets: parsed.len(),
            });
        }
        if parsed
            .first()
            .is_some_and(|first| first & MULTICAST_BIT != 0)
        {
            return Err(MacError::MulticastPrefix {
                text: text.to_owned(),
            });
        }
        let mut octets = [0; MAX_PREFIX_OCTETS];
        octets[..parsed.len()].copy_from_slice(&parsed);
        Ok(Self {
            octets,
            len: parsed.len(),
        })
    }
}

impl fmt::Display for MacPrefix {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, octet) in self.octets().iter().enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{octet:02x}")?;
        }
        Ok(())
    }
}

/// Parses groups of exactly two hexadecimal digits; `None` if any group is not one.
fn parse_octets(groups: &[&str]) -> Option<Vec<u8>> {
    groups
        .iter()
        .map(|group| {
            if group.len() == 2 && group.bytes().all(|b| b.is_ascii_hexdigit()) {
                u8::from_str_radix(group, 16).ok()
            } else {
                None
            }
        })
        .collect()
}

/// Derives a MAC address from `seed`, deterministically.
///
/// This is the one stable algorithm rack uses for generated addresses, including the
/// interfaces of virtual machines (seed `"<vm name>/<interface index>"`, e.g. `"web1/0"`).
/// Changing it would change the address of every existing interface, so the tests pin its
/// output:
///
/// 1. `hash` = SHA-256 of the UTF-8 bytes of `seed`.
/// 2. The address starts with the `n` octets of `prefix`.
/// 3. The remaining `6 - n` octets are `hash[0]`, `hash[1]`, ... in that order: the first
///    hash byte fills the first free octet.
/// 4. If the prefix is empty, the first octet is forced to a locally administered unicast
///    value: `(hash[0] & 0xfc) | 0x02`.
///
/// The result is always unicast, since [`MacPrefix`] rejects a multicast first octet.
pub fn derive_mac(seed: &str, prefix: &MacPrefix) -> MacAddress {
    let hash = Sha256::digest(seed.as_bytes());
    let mut octets = [0u8; 6];
    let fixed = prefix.octets();
    octets[..fixed.len()].copy_from_slice(fixed);
    for (octet, byte) in octets[fixed.len()..].iter_mut().zip(hash.iter()) {
        *octet = *byte;
    }
    if prefix.is_empty() {
        octets[0] = (octets[0] & !(MULTICAST_BIT | LOCAL_BIT)) | LOCAL_BIT;
    }
    MacAddress(octets)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn mac(text: &str) -> MacAddress {
        text.parse().unwrap()
    }

    fn prefix(text: &str) -> MacPrefix {
        text.parse().unwrap()
    }

    const OCTETS: [u8; 6] = [0xaa, 0xbb, 0xcc, 0xdd, 0xee, 0xff];

    #[test]
    fn parses_the_three_notations_case_insensitively() {
        for text in [
            "aa:bb:cc:dd:ee:ff",
            "AA:BB:CC:DD:EE:FF",
            "aa-bb-cc-dd-ee-ff",
            "Aa-bB-cc-DD-ee-FF",
            "aabb.ccdd.eeff",
            "AABB.CCDD.EEFF",
        ] {
            assert_eq!(mac(text), MacAddress::new(OCTETS), "{text}");
        }
    }

    #[test]
    fn displays_lower_case_colon_form() {
        assert_eq!(mac("AABB.CCDD.EEFF").to_string(), "aa:bb:cc:dd:ee:ff");
        assert_eq!(mac("02-00-0A-00-00-01").to_string(), "02:00:0a:00:00:01");
        let round_trip = mac("52:54:00:12:34:56");
        assert_eq!(mac(&round_trip.to_string()), round_trip);
    }

    #[test]
    fn rejects_malformed_addresses() {
        for text in [
            "",
            " aa:bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:ff ",
            "aa:bb:cc:dd:ee:ff\n",
            "aa: bb:cc:dd:ee:ff",
            "aa:bb:cc:dd:ee",
            "aa:bb:cc:dd:ee:ff:00",
            "aa:bb:cc:dd:ee:f",
            "a:b:c:d:e:f",
            "aa:bb:cc:dd:ee:fff",
            "aa:bb:cc:dd:ee:gg",
            "aa:bb-cc:dd:ee:ff",
            "aa:bb:cc:dd:ee:ff:",
            "aabbccddeeff",
            "aabb.ccdd",
            "aabb.ccdd.eeff.0011",
            "aab.bccd.deeff",
            "aabb:ccdd:eeff",
            "aabb.ccdd.eef",
            "aabb.ccdd.eeé",
            "+a:bb:cc:dd:ee:ff",
            "éa:bb:cc:dd:ee:f",
        ] {
            assert!(
                matches!(text.parse::<MacAddress>(), Err(MacError::BadAddress { .. })),
                "{text:?} should be rejected"
            );
        }
    }

    #[test]
    fn bad_address_message() {
        let err = "aa:bb".parse::<MacAddress>().unwrap_err();
        assert_eq!(
            err.to_string(),
            "\"aa:bb\" is not a MAC address; expected aa:bb:cc:dd:ee:ff, aa-bb-cc-dd-ee-ff or aabb.ccdd.eeff"
        );
    }

    #[test]
    fn address_bits() {
        let qemu = mac("52:54:00:12:34:56");
        assert!(qemu.is_unicast());
        assert!(qemu.is_locally_administered());
        assert!(!qemu.is_zero());

        let oui = mac("00:1b:21:aa:bb:cc");
        assert!(oui.is_unicast());
        assert!(!oui.is_locally_administered());

        let broadcast = mac("ff:ff:ff:ff:ff:ff");
        assert!(!broadcast.is_unicast());
        assert!(broadcast.is_locally_administered());

        let multicast = mac("01:00:5e:00:00:01");
        assert!(!multicast.is_unicast());
        assert!(!multicast.is_locally_administered());

        let zero = mac("00:00:00:00:00:00");
        assert!(zero.is_zero());
        assert!(zero.is_unicast());
        assert!(!zero.is_locally_administered());
    }

    #[test]
    fn octet_conversions() {
        let address = MacAddress::from(OCTETS);
        assert_eq!(address.octets(), OCTETS);
        assert_eq!(<[u8; 6]>::from(address), OCTETS);
    }

    #[test]
    fn parses_prefixes_of_zero_to_five_octets() {
        assert_eq!(prefix(""), MacPrefix::EMPTY);
        assert!(prefix("").is_empty());
        assert_eq!(prefix("02").octets(), &[0x02]);
        assert_eq!(prefix("52:54:00").octets(), &[0x52, 0x54, 0x00]);
        assert_eq!(prefix("52-54-00").octets(), &[0x52, 0x54, 0x00]);
        assert_eq!(prefix("0A:BC").octets(), &[0x0a, 0xbc]);
        assert_eq!(prefix("02:00:00:00:01").len(), 5);
    }

    #[test]
    fn prefix_display() {
        assert_eq!(prefix("").to_string(), "");
        assert_eq!(prefix("02").to_string(), "02");
        assert_eq!(prefix("52-54-0A").to_string(), "52:54:0a");
    }

    #[test]
    fn default_prefix_is_the_documented_constant() {
        assert_eq!(MacPrefix::default(), prefix(DEFAULT_MAC_PREFIX));
        assert_eq!(MacPrefix::default().to_string(), DEFAULT_MAC_PREFIX);
    }

    #[test]
    fn rejects_malformed_prefixes() {
        for text in [
            " ",
            "52:54:00 ",
            " 02",
            "2",
            "052",
            "52:",
            ":52",
            "52::00",
            "52:54-00",
            "zz",
            "52.5400",
            "+2",
        ] {
            assert_eq!(
                text.parse::<MacPrefix>(),
                Err(MacError::BadPrefix {
                    text: text.to_owned()
                }),
                "{text:?}"
            );
        }
        assert_eq!(
            "52:54".parse::<MacPrefix>().map(|_| ()),
            Ok(()),
            "control case"
        );
    }

    #[test]
    fn rejects_prefixes_longer_than_five_octets() {
        let err = "52:54:00:00:00:00".parse::<MacPrefix>().unwrap_err();
        assert_eq!(
            err,
            MacError::PrefixTooLong {
                text: "52:54:00:00:00:00".to_owned(),
                octets: 6
            }
        );
        assert_eq!(
            err.to_string(),
            "MAC prefix \"52:54:00:00:00:00\" has 6 octets; at most 5 are allowed"
        );
    }

    #[test]
    fn rejects_multicast_prefixes() {
        for text in ["01", "53:54:00", "FF", "01:00:5e"] {
            assert!(
                matches!(
                    text.parse::<MacPrefix>(),
                    Err(MacError::MulticastPrefix { .. })
                ),
                "{text:?}"
            );
        }
        assert_eq!(
            "53:54:00".parse::<MacPrefix>().unwrap_err().to_string(),
            "MAC prefix \"53:54:00\" has the multicast bit set in its first octet; use a unicast prefix such as 52:54:00 or 02"
        );
    }

    // SHA-256("skaro.xivo.vm.farm") = 4eaaa27d75e5e29a...; SHA-256("") = e3b0c44298fc1c14...
    // These outputs are pinned: if one changes, every derived interface address changes.
    #[test]
    fn derive_mac_is_pinned() {
        let qemu = prefix(DEFAULT_MAC_PREFIX);
        assert_eq!(
            derive_mac("skaro.xivo.vm.farm", &qemu).to_string(),
            "52:54:00:4e:aa:a2"
        );
        assert_eq!(
            derive_mac("skaro.xivo.vm.farm", &MacPrefix::EMPTY).to_string(),
            "4e:aa:a2:7d:75:e5"
        );
        assert_eq!(derive_mac("", &qemu).to_string(), "52:54:00:e3:b0:c4");
        // 0xe3 has the multicast bit set; the empty prefix forces 0xe2.
        assert_eq!(
            derive_mac("", &MacPrefix::EMPTY).to_string(),
            "e2:b0:c4:42:98:fc"
        );
        assert_eq!(
            derive_mac("skaro.xivo.vm.farm", &prefix("02")).to_string(),
            "02:4e:aa:a2:7d:75"
        );
        assert_eq!(
            derive_mac("skaro.xivo.vm.farm", &prefix("02:00:00:00:01")).to_string(),
            "02:00:00:00:01:4e"
        );
    }

    #[test]
    fn derive_mac_is_deterministic_and_seed_sensitive() {
        let qemu = MacPrefix::default();
        assert_eq!(derive_mac("web1/0", &qemu), derive_mac("web1/0", &qemu));
        assert_ne!(derive_mac("web1/0", &qemu), derive_mac("web1/1", &qemu));
        assert_ne!(derive_mac("web1/0", &qemu), derive_mac("web2/0", &qemu));
    }

    #[test]
    fn derived_addresses_keep_the_prefix_and_are_unicast() {
        for seed in [
            "",
            "a",
            "web1/0",
            "web1/1",
            "skaro.xivo.vm.farm",
            "ünïcode/3",
        ] {
            for text in ["", "02", "52:54:00", "00:16:3e", "02:00:00:00:01"] {
                let fixed = prefix(text);
                let derived = derive_mac(seed, &fixed);
                assert!(
                    derived.octets().starts_with(fixed.octets()),
                    "{seed} {text}"
                );
                assert!(derived.is_unicast(), "{seed} {text}");
            }
            assert!(derive_mac(seed, &MacPrefix::EMPTY).is_locally_administered());
        }
    }
}
