//! The objects rack manages inside Kea's configuration (host identifiers, options,
//! reservations) and the changes to them, with their conversion to and from Kea's JSON,
//! and why one is not acceptable ([`ConfigError`]).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Map, Value, json};

use crate::net::{Cidr, MacAddress};

/// Why a reservation or an edit of the configuration is not acceptable.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// The configuration has no `Dhcp4` object or a malformed part.
    #[error("The Kea configuration is not a DHCPv4 configuration rack can edit: {reason}")]
    Malformed {
        /// What was wrong.
        reason: String,
    },
    /// No `subnet4` entry has this CIDR.
    #[error(
        "Subnet {subnet} is not in the Kea configuration (its subnet4 entries: {known}); check the subnet's CIDR against the server's subnet4 list"
    )]
    SubnetNotFound {
        /// The subnet asked for.
        subnet: Cidr,
        /// The subnets the configuration has, comma-separated.
        known: String,
    },
    /// The reservation to replace or read does not exist.
    #[error(
        "Subnet {subnet} has no reservation for {identifier}; it may have been removed outside rack"
    )]
    NotFound {
        /// The subnet.
        subnet: Cidr,
        /// The reservation's identifier.
        identifier: HostIdentifier,
    },
    /// Another reservation holds the same identifier or address.
    #[error(
        "The reservation for {wanted} conflicts with the existing reservation [{entry}] in subnet {subnet}: same {what}; remove or change that reservation first"
    )]
    Conflict {
        /// The reservation being added or changed.
        wanted: HostIdentifier,
        /// The subnet holding the conflicting entry.
        subnet: String,
        /// The conflicting entry, as its identifier, address and hostname.
        entry: String,
        /// What both have: `MAC address`, `client-id` or `IP address` and its value.
        what: String,
    },
    /// The reserved address is not in the reservation's subnet.
    #[error("Address {ip} is not in subnet {subnet}; reserve an address of the subnet")]
    AddressOutsideSubnet {
        /// The address.
        ip: Ipv4Addr,
        /// The subnet.
        subnet: Cidr,
    },
    /// A client-id is not hexadecimal.
    #[error(
        "Client-id {text:?} is not hexadecimal octets such as 01:02:03:04:05:06 or 010203040506"
    )]
    BadClientId {
        /// The text as given.
        text: String,
    },
    /// A circuit ID that is empty or longer than option 82 has room for.
    #[error("A circuit ID of {len} octets; it has 1 to 255")]
    BadCircuitId {
        /// Its length.
        len: usize,
    },
    /// An option of the reservation names neither a name nor a code.
    #[error(
        "An option-data entry of the reservation for {identifier} has neither a name nor a code"
    )]
    OptionWithoutNameOrCode {
        /// The reservation's identifier.
        identifier: HostIdentifier,
    },
    /// The reservation is not what the change was planned against.
    #[error(
        "The reservation for {identifier} in subnet {subnet} was changed outside rack since it was read (it is now [{found}]); nothing was written"
    )]
    Changed {
        /// The subnet.
        subnet: Cidr,
        /// The reservation's identifier.
        identifier: HostIdentifier,
        /// The reservation as the server holds it now, or `none`.
        found: String,
    },
    /// The subnet is not an IPv4 network.
    #[error("Subnet {subnet} is not an IPv4 network; DHCPv4 reservations need one")]
    NotIpv4 {
        /// The subnet.
        subnet: Cidr,
    },
}

pub(super) fn malformed(reason: impl Into<String>) -> ConfigError {
    ConfigError::Malformed {
        reason: reason.into(),
    }
}

/// The longest circuit ID: option 82's sub-option length is one octet.
pub const MAX_CIRCUIT_ID: usize = 255;

/// How a reservation recognises its client (Kea's `host-reservation-identifiers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostIdentifier {
    /// The client's MAC address (`hw-address`).
    HwAddress(MacAddress),
    /// The client identifier, option 61 (`client-id`), as lower-case hex octets joined
    /// with `:`.
    ClientId(String),
    /// The circuit ID a relay agent adds (option 82, sub-option 1: `circuit-id`), as
    /// lower-case hex octets joined with `:`: the relay's port, so the reservation follows
    /// the location and not the client's MAC address.
    CircuitId(String),
    /// Another kind Kea knows (`duid`, `flex-id`), as Kea wrote it; read
    /// only, from reservations made outside rack.
    Other {
        /// The JSON key, e.g. `circuit-id`.
        kind: String,
        /// Its value.
        value: String,
    },
}

impl HostIdentifier {
    /// A `client-id` from hex octets with or without `:` separators (`01:aa:bb` or
    /// `01aabb`).
    pub fn client_id(text: &str) -> Result<Self, ConfigError> {
        normalize_hex(text)
            .map(Self::ClientId)
            .ok_or_else(|| ConfigError::BadClientId {
                text: text.to_owned(),
            })
    }

    /// A `circuit-id` from its octets: 1 to [`MAX_CIRCUIT_ID`] of them, as option 82's
    /// sub-option has room for.
    pub fn circuit_id(octets: &[u8]) -> Result<Self, ConfigError> {
        if octets.is_empty() || octets.len() > MAX_CIRCUIT_ID {
            return Err(ConfigError::BadCircuitId { len: octets.len() });
        }
        let hex: Vec<String> = octets.iter().map(|b| format!("{b:02x}")).collect();
        Ok(Self::CircuitId(hex.join(":")))
    }

    /// The octets of a client-id or circuit-id.
    pub fn octets(&self) -> Option<Vec<u8>> {
        match self {
            Self::ClientId(hex) | Self::CircuitId(hex) => hex
                .split(':')
                .map(|h| u8::from_str_radix(h, 16).ok())
                .collect(),
            _ => None,
        }
    }

    /// The JSON key Kea uses for it: `hw-address`, `client-id`, ...
    pub fn kind(&self) -> &str {
        match self {
            Self::HwAddress(_) => "hw-address",
            Self::ClientId(_) => "client-id",
            Self::CircuitId(_) => "circuit-id",
            Self::Other { kind, .. } => kind,
        }
    }

    /// The value as written to Kea.
    pub fn value(&self) -> String {
        match self {
            Self::HwAddress(mac) => mac.to_string(),
            Self::ClientId(id) | Self::CircuitId(id) => id.clone(),
            Self::Other { value, .. } => value.clone(),
        }
    }

    /// Reads the identifier of a Kea reservation entry, normalised so that equal
    /// identifiers written differently (`AA-BB-...` and `aa:bb:...`) compare equal.
    pub(super) fn of_entry(entry: &Map<String, Value>) -> Option<Self> {
        for kind in ["hw-address", "client-id", "duid", "circuit-id", "flex-id"] {
            let Some(text) = entry.get(kind).and_then(Value::as_str) else {
                continue;
            };
            return Some(match kind {
                "hw-address" => match text.parse() {
                    Ok(mac) => Self::HwAddress(mac),
                    Err(_) => Self::Other {
                        kind: kind.to_owned(),
                        value: text.to_ascii_lowercase(),
                    },
                },
                "client-id" => match normalize_hex(text) {
                    Some(id) => Self::ClientId(id),
                    None => Self::Other {
                        kind: kind.to_owned(),
                        value: text.to_owned(),
                    },
                },
                // Hex octets, or text in single quotes (Kea's two spellings).
                "circuit-id" => {
                    let quoted = text
                        .strip_prefix('\'')
                        .and_then(|t| t.strip_suffix('\''))
                        .map(|t| Self::circuit_id(t.as_bytes()).ok());
                    match quoted.unwrap_or_else(|| normalize_hex(text).map(Self::CircuitId)) {
                        Some(id) => id,
                        None => Self::Other {
                            kind: kind.to_owned(),
                            value: text.to_owned(),
                        },
                    }
                }
                _ => Self::Other {
                    kind: kind.to_owned(),
                    value: text.to_owned(),
                },
            });
        }
        None
    }
}

impl fmt::Display for HostIdentifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind(), self.value())
    }
}

/// Whether both texts are the same hex octets, spelled differently (case, `0x`, `:`):
/// Kea may give back the data of an option it has no definition for in its own form.
fn same_hex(a: &str, b: &str) -> bool {
    let digits = |t: &str| {
        let t = t.trim();
        let t = t
            .strip_prefix("0x")
            .or_else(|| t.strip_prefix("0X"))
            .unwrap_or(t);
        normalize_hex(&t.replace(' ', ""))
    };
    matches!((digits(a), digits(b)), (Some(x), Some(y)) if x == y)
}

/// Lower-case hex octets joined by `:`; `None` unless `text` is whole octets of hex,
/// optionally separated by `:` or `-`.
fn normalize_hex(text: &str) -> Option<String> {
    let digits: String = text.chars().filter(|c| *c != ':' && *c != '-').collect();
    if digits.is_empty()
        || !digits.len().is_multiple_of(2)
        || !digits.chars().all(|c| c.is_ascii_hexdigit())
    {
        return None;
    }
    let lower = digits.to_ascii_lowercase();
    let octets: Vec<&str> = (0..lower.len())
        .step_by(2)
        .filter_map(|i| lower.get(i..i + 2))
        .collect();
    Some(octets.join(":"))
}

/// One DHCP option of a reservation: by name or by code, and its data in Kea's
/// (CSV) text form.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OptionData {
    /// The option's name in the `dhcp4` space, e.g. `boot-file-name`.
    pub name: Option<String>,
    /// The option's code, e.g. 67.
    pub code: Option<u8>,
    /// The value, as Kea reads it (`csv-format`).
    pub data: String,
}

impl OptionData {
    /// The option called `name` with `data`.
    pub fn by_name(name: impl Into<String>, data: impl Into<String>) -> Self {
        Self {
            name: Some(name.into()),
            code: None,
            data: data.into(),
        }
    }

    /// The option with code `code` and `data`.
    pub fn by_code(code: u8, data: impl Into<String>) -> Self {
        Self {
            name: None,
            code: Some(code),
            data: data.into(),
        }
    }

    /// The same option with the same data; by code where both have one, else by name.
    fn same_as(&self, other: &OptionData) -> bool {
        let same_option = match (self.code, other.code, &self.name, &other.name) {
            (Some(a), Some(b), ..) => a == b,
            (_, _, Some(a), Some(b)) => a.eq_ignore_ascii_case(b),
            _ => false,
        };
        same_option && (self.data == other.data || same_hex(&self.data, &other.data))
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        if let Some(code) = self.code {
            m.insert("code".to_owned(), json!(code));
        }
        if let Some(name) = &self.name {
            m.insert("name".to_owned(), json!(name));
        }
        m.insert("data".to_owned(), json!(self.data));
        Value::Object(m)
    }

    fn from_json(v: &Value) -> Self {
        Self {
            name: v.get("name").and_then(Value::as_str).map(str::to_owned),
            code: v
                .get("code")
                .and_then(Value::as_u64)
                .and_then(|c| u8::try_from(c).ok()),
            data: v
                .get("data")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned(),
        }
    }
}

/// A DHCPv4 host reservation in one subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reservation {
    /// The subnet, matched against the `subnet` of the server's `subnet4` entries.
    pub subnet: Cidr,
    /// How the client is recognised.
    pub identifier: HostIdentifier,
    /// The reserved address (`ip-address`).
    pub ip_address: Option<Ipv4Addr>,
    /// The hostname handed to the client (`hostname`).
    pub hostname: Option<String>,
    /// The boot server's address, siaddr (`next-server`).
    pub next_server: Option<Ipv4Addr>,
    /// The boot file in the header's file field (`boot-file-name`).
    pub boot_file_name: Option<String>,
    /// Options sent to this client (`option-data`).
    pub option_data: Vec<OptionData>,
    /// Classes the client is put in (`client-classes`).
    pub client_classes: Vec<String>,
}

impl Reservation {
    /// The reservation in a few words, for messages: identifier, address, hostname.
    pub fn summary(&self) -> String {
        let mut parts = vec![self.identifier.to_string()];
        if let Some(ip) = self.ip_address {
            parts.push(format!("ip-address {ip}"));
        }
        if let Some(h) = &self.hostname {
            parts.push(format!("hostname {h}"));
        }
        parts.join(", ")
    }

    /// A reservation of nothing yet for `identifier` in `subnet`.
    pub fn new(subnet: Cidr, identifier: HostIdentifier) -> Self {
        Self {
            subnet,
            identifier,
            ip_address: None,
            hostname: None,
            next_server: None,
            boot_file_name: None,
            option_data: Vec::new(),
            client_classes: Vec::new(),
        }
    }

    /// Checks what can be checked without the server's configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if !matches!(self.subnet.network(), IpAddr::V4(_)) {
            return Err(ConfigError::NotIpv4 {
                subnet: self.subnet,
            });
        }
        if let Some(ip) = self.ip_address
            && !self.subnet.contains(IpAddr::V4(ip))
        {
            return Err(ConfigError::AddressOutsideSubnet {
                ip,
                subnet: self.subnet,
            });
        }
        if self
            .option_data
            .iter()
            .any(|o| o.name.is_none() && o.code.is_none())
        {
            return Err(ConfigError::OptionWithoutNameOrCode {
                identifier: self.identifier.clone(),
            });
        }
        Ok(())
    }

    /// Whether `other` is the same reservation as Kea serves it: options match by code
    /// where both give one (Kea's own form names and numbers them), otherwise by name, in
    /// any order. This is how a write is recognised in what Kea reads back.
    pub fn same_as(&self, other: &Reservation) -> bool {
        self.subnet == other.subnet
            && self.identifier == other.identifier
            && self.ip_address == other.ip_address
            && self.hostname == other.hostname
            && self.next_server == other.next_server
            && self.boot_file_name == other.boot_file_name
            && self.client_classes == other.client_classes
            && self.option_data.len() == other.option_data.len()
            && self
                .option_data
                .iter()
                .all(|o| other.option_data.iter().any(|p| o.same_as(p)))
    }

    /// The reservation as a Kea `reservations` entry (without its subnet).
    pub fn to_kea_json(&self) -> Value {
        let mut m = Map::new();
        m.insert(
            self.identifier.kind().to_owned(),
            json!(self.identifier.value()),
        );
        if let Some(ip) = self.ip_address {
            m.insert("ip-address".to_owned(), json!(ip.to_string()));
        }
        if let Some(h) = &self.hostname {
            m.insert("hostname".to_owned(), json!(h));
        }
        if let Some(ns) = self.next_server {
            m.insert("next-server".to_owned(), json!(ns.to_string()));
        }
        if let Some(f) = &self.boot_file_name {
            m.insert("boot-file-name".to_owned(), json!(f));
        }
        if !self.client_classes.is_empty() {
            m.insert("client-classes".to_owned(), json!(self.client_classes));
        }
        if !self.option_data.is_empty() {
            let opts: Vec<Value> = self.option_data.iter().map(OptionData::to_json).collect();
            m.insert("option-data".to_owned(), Value::Array(opts));
        }
        Value::Object(m)
    }

    /// Reads a Kea `reservations` entry of `subnet`. Kea's defaults for absent values (an
    /// empty hostname or boot file, next-server 0.0.0.0) read as absent. `None` when the
    /// entry has no identifier rack knows.
    pub fn from_kea_json(subnet: Cidr, entry: &Value) -> Option<Self> {
        let obj = entry.as_object()?;
        let identifier = HostIdentifier::of_entry(obj)?;
        let text = |k: &str| {
            obj.get(k)
                .and_then(Value::as_str)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        };
        let addr = |k: &str| {
            text(k)
                .and_then(|s| s.parse::<Ipv4Addr>().ok())
                .filter(|ip| !ip.is_unspecified())
        };
        Some(Self {
            subnet,
            identifier,
            ip_address: addr("ip-address"),
            hostname: text("hostname"),
            next_server: addr("next-server"),
            boot_file_name: text("boot-file-name"),
            option_data: obj
                .get("option-data")
                .and_then(Value::as_array)
                .map(|a| a.iter().map(OptionData::from_json).collect())
                .unwrap_or_default(),
            client_classes: obj
                .get("client-classes")
                .and_then(Value::as_array)
                .map(|a| {
                    a.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_owned)
                        .collect()
                })
                .unwrap_or_default(),
        })
    }
}

/// One change to the reservations of a configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// Adds a reservation; refused if its identifier or address is already reserved by
    /// another entry. An entry that is already exactly this reservation is kept as it is.
    Add(Reservation),
    /// Replaces the reservation with the same identifier in the same subnet, in place.
    Replace(Reservation),
    /// Removes the reservation of `identifier` in `subnet`; nothing to do if there is none.
    Remove {
        /// The subnet.
        subnet: Cidr,
        /// The reservation's identifier.
        identifier: HostIdentifier,
    },
}

impl Change {
    /// The subnet the change is about.
    pub fn subnet(&self) -> Cidr {
        match self {
            Self::Add(r) | Self::Replace(r) => r.subnet,
            Self::Remove { subnet, .. } => *subnet,
        }
    }

    /// The identifier of the reservation the change is about.
    pub fn identifier(&self) -> &HostIdentifier {
        match self {
            Self::Add(r) | Self::Replace(r) => &r.identifier,
            Self::Remove { identifier, .. } => identifier,
        }
    }

    /// Checks what can be checked without the server's configuration.
    pub fn validate(&self) -> Result<(), ConfigError> {
        match self {
            Self::Add(r) | Self::Replace(r) => r.validate(),
            Self::Remove { .. } => Ok(()),
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::super::document::reservations;
    use super::super::fixtures::{cidr, config, mac, node};
    use super::*;

    #[test]
    fn circuit_ids_are_octets_in_either_of_keas_spellings() {
        let swp3 = HostIdentifier::circuit_id(b"swp3").unwrap();
        assert_eq!(swp3.kind(), "circuit-id");
        assert_eq!(swp3.value(), "73:77:70:33");
        assert_eq!(swp3.octets().unwrap(), b"swp3");
        for text in ["73:77:70:33", "73777033", "'swp3'"] {
            let entry = json!({ "circuit-id": text });
            let read = HostIdentifier::of_entry(entry.as_object().unwrap());
            assert_eq!(read, Some(swp3.clone()), "{text}");
        }
        assert!(HostIdentifier::circuit_id(b"").is_err());
        assert!(HostIdentifier::circuit_id(&[7; 255]).is_ok());
        let e = HostIdentifier::circuit_id(&[7; 256])
            .unwrap_err()
            .to_string();
        assert!(e.contains("256 octets"), "{e}");
    }

    #[test]
    fn reading_normalises_kea_defaults() {
        let r = reservations(&config(), cidr("10.77.0.0/24")).unwrap();
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].identifier, mac("02:00:00:00:00:aa"));
        assert_eq!(r[0].next_server, None);
        assert_eq!(r[0].boot_file_name, None);
        assert_eq!(r[0].hostname.as_deref(), Some("manual"));
        let shared = reservations(&config(), cidr("10.79.0.0/24")).unwrap();
        assert_eq!(
            shared[0].identifier,
            HostIdentifier::ClientId("01:aa:bb".into())
        );
        let e = reservations(&config(), cidr("10.99.0.0/24")).unwrap_err();
        assert!(e.to_string().contains("10.77.0.0/24, 10.78.0.0/24"), "{e}");
    }

    #[test]
    fn to_and_from_kea_json_round_trip() {
        let r = node("10.77.0.42");
        let j = r.to_kea_json();
        assert_eq!(
            j.to_string(),
            r#"{"hw-address":"02:00:00:00:00:01","ip-address":"10.77.0.42","hostname":"node1","next-server":"10.77.0.5","boot-file-name":"pxelinux.0","client-classes":["pxe"],"option-data":[{"code":67,"data":"boot/x.efi"},{"name":"v4-captive-portal","data":"http://portal/"}]}"#
        );
        assert_eq!(Reservation::from_kea_json(r.subnet, &j), Some(r));
    }

    #[test]
    fn options_match_by_code_then_name_and_hex_in_any_spelling() {
        let a = OptionData::by_code(240, "687474703a2f2f");
        let b = OptionData {
            name: None,
            code: Some(240),
            data: "68:74:74:70:3A:2F:2F".into(),
        };
        assert!(a.same_as(&b));
        assert!(
            OptionData::by_name("routers", "10.0.0.1").same_as(&OptionData {
                name: Some("routers".into()),
                code: Some(3),
                data: "10.0.0.1".into()
            })
        );
        assert!(!OptionData::by_code(3, "10.0.0.1").same_as(&OptionData::by_code(3, "10.0.0.2")));
        assert!(!OptionData::by_code(3, "x").same_as(&OptionData::by_name("routers", "x")));
    }
}
