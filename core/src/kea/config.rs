//! Host reservations and the pure edit of a Kea DHCPv4 configuration, sans I/O.
//!
//! The configuration is kept as a `serde_json::Value` with `preserve_order`, so an edit
//! changes the one `reservations` entry it is about and nothing else: every other key,
//! subnet and reservation keeps its value and its place (Kea ARM §"Host Reservations in
//! DHCPv4": a reservation lives in its subnet's `reservations` list).

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};

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

fn malformed(reason: impl Into<String>) -> ConfigError {
    ConfigError::Malformed {
        reason: reason.into(),
    }
}

/// How a reservation recognises its client (Kea's `host-reservation-identifiers`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum HostIdentifier {
    /// The client's MAC address (`hw-address`).
    HwAddress(MacAddress),
    /// The client identifier, option 61 (`client-id`), as lower-case hex octets joined
    /// with `:`.
    ClientId(String),
    /// Another kind Kea knows (`duid`, `circuit-id`, `flex-id`), as Kea wrote it; read
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

    /// The JSON key Kea uses for it: `hw-address`, `client-id`, ...
    pub fn kind(&self) -> &str {
        match self {
            Self::HwAddress(_) => "hw-address",
            Self::ClientId(_) => "client-id",
            Self::Other { kind, .. } => kind,
        }
    }

    /// The value as written to Kea.
    pub fn value(&self) -> String {
        match self {
            Self::HwAddress(mac) => mac.to_string(),
            Self::ClientId(id) => id.clone(),
            Self::Other { value, .. } => value.clone(),
        }
    }

    /// Reads the identifier of a Kea reservation entry, normalised so that equal
    /// identifiers written differently (`AA-BB-...` and `aa:bb:...`) compare equal.
    fn of_entry(entry: &Map<String, Value>) -> Option<Self> {
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

/// A `subnet4` entry of the configuration.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subnet4 {
    /// Its `id`, when the configuration has one (Kea always reports it in `config-get`).
    pub id: Option<u64>,
    /// Its `subnet`.
    pub cidr: Cidr,
}

/// SHA-256 of the configuration as serialised (keys in their order), in hex. Two
/// `config-get` answers with the same hash hold the same configuration.
pub fn config_hash(config: &Value) -> String {
    let bytes = serde_json::to_vec(config).unwrap_or_default();
    Sha256::digest(&bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

fn dhcp4(config: &Value) -> Result<&Map<String, Value>, ConfigError> {
    config
        .get("Dhcp4")
        .and_then(Value::as_object)
        .ok_or_else(|| malformed("no Dhcp4 object"))
}

/// Every `subnet4` list: the top-level one and those of `shared-networks`.
fn subnet_lists(dhcp4: &Map<String, Value>) -> impl Iterator<Item = &Value> {
    let top = dhcp4.get("subnet4").into_iter();
    let shared = dhcp4
        .get("shared-networks")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|n| n.get("subnet4"));
    top.chain(shared)
        .filter_map(Value::as_array)
        .flat_map(|list| list.iter())
}

fn cidr_of(subnet: &Value) -> Option<Cidr> {
    subnet.get("subnet")?.as_str()?.trim().parse().ok()
}

/// The subnets of the configuration, top-level first, then those of shared networks.
pub fn subnets(config: &Value) -> Result<Vec<Subnet4>, ConfigError> {
    Ok(subnet_lists(dhcp4(config)?)
        .filter_map(|s| {
            Some(Subnet4 {
                id: s.get("id").and_then(Value::as_u64),
                cidr: cidr_of(s)?,
            })
        })
        .collect())
}

fn known_subnets(config: &Value) -> String {
    let list: Vec<String> = subnets(config)
        .unwrap_or_default()
        .iter()
        .map(|s| s.cidr.to_string())
        .collect();
    if list.is_empty() {
        "none".to_owned()
    } else {
        list.join(", ")
    }
}

fn find_subnet(config: &Value, cidr: Cidr) -> Result<&Value, ConfigError> {
    subnet_lists(dhcp4(config)?)
        .find(|s| cidr_of(s) == Some(cidr))
        .ok_or_else(|| ConfigError::SubnetNotFound {
            subnet: cidr,
            known: known_subnets(config),
        })
}

fn find_subnet_mut(config: &mut Value, cidr: Cidr) -> Result<&mut Map<String, Value>, ConfigError> {
    let known = known_subnets(config);
    let dhcp4 = config
        .get_mut("Dhcp4")
        .and_then(Value::as_object_mut)
        .ok_or_else(|| malformed("no Dhcp4 object"))?;
    let mut lists: Vec<&mut Value> = Vec::new();
    let mut shared = None;
    for (k, v) in dhcp4.iter_mut() {
        match k.as_str() {
            "subnet4" => lists.push(v),
            "shared-networks" => shared = Some(v),
            _ => {}
        }
    }
    if let Some(networks) = shared.and_then(Value::as_array_mut) {
        lists.extend(networks.iter_mut().filter_map(|n| n.get_mut("subnet4")));
    }
    lists
        .into_iter()
        .filter_map(Value::as_array_mut)
        .flat_map(|l| l.iter_mut())
        .find(|s| cidr_of(s) == Some(cidr))
        .and_then(Value::as_object_mut)
        .ok_or(ConfigError::SubnetNotFound {
            subnet: cidr,
            known,
        })
}

/// The reservations of `subnet`, in the configuration's order. Entries with an identifier
/// rack cannot read are left out.
pub fn reservations(config: &Value, subnet: Cidr) -> Result<Vec<Reservation>, ConfigError> {
    let s = find_subnet(config, subnet)?;
    Ok(s.get("reservations")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| Reservation::from_kea_json(subnet, e))
        .collect())
}

/// A short description of a reservation entry: identifier, address and hostname.
fn describe(entry: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(obj) = entry.as_object() {
        if let Some(id) = HostIdentifier::of_entry(obj) {
            parts.push(id.to_string());
        }
        for k in ["ip-address", "hostname"] {
            if let Some(v) = obj.get(k).and_then(Value::as_str).filter(|s| !s.is_empty()) {
                parts.push(format!("{k} {v}"));
            }
        }
    }
    if parts.is_empty() {
        entry.to_string()
    } else {
        parts.join(", ")
    }
}

/// Refuses `r` if another reservation, in any subnet, has its address; `skip` is the
/// index, in `r`'s subnet, of the entry `r` replaces.
fn check_address(config: &Value, r: &Reservation, skip: Option<usize>) -> Result<(), ConfigError> {
    let Some(ip) = r.ip_address else {
        return Ok(());
    };
    for s in subnet_lists(dhcp4(config)?) {
        let own = cidr_of(s) == Some(r.subnet);
        let entries = s.get("reservations").and_then(Value::as_array);
        for (i, e) in entries.into_iter().flatten().enumerate() {
            if own && Some(i) == skip {
                continue;
            }
            let theirs = e
                .get("ip-address")
                .and_then(Value::as_str)
                .and_then(|t| t.parse::<Ipv4Addr>().ok());
            if theirs == Some(ip) {
                return Err(ConfigError::Conflict {
                    wanted: r.identifier.clone(),
                    subnet: s
                        .get("subnet")
                        .and_then(Value::as_str)
                        .unwrap_or("?")
                        .to_owned(),
                    entry: describe(e),
                    what: format!("IP address {ip}"),
                });
            }
        }
    }
    Ok(())
}

/// Index of the entry of `subnet` with `identifier`.
fn position(subnet: &Value, identifier: &HostIdentifier) -> Option<usize> {
    subnet
        .get("reservations")?
        .as_array()?
        .iter()
        .position(|e| {
            e.as_object()
                .and_then(HostIdentifier::of_entry)
                .is_some_and(|id| id == *identifier)
        })
}

/// The reservation of `identifier` in `subnet`, if the configuration holds one.
pub fn find(
    config: &Value,
    subnet: Cidr,
    identifier: &HostIdentifier,
) -> Result<Option<Reservation>, ConfigError> {
    let s = find_subnet(config, subnet)?;
    Ok(position(s, identifier)
        .and_then(|i| s.get("reservations").and_then(|l| l.get(i)))
        .and_then(|e| Reservation::from_kea_json(subnet, e)))
}

/// Whether `config` already holds what `change` would make of it: the reservation
/// added or replaced exactly (see [`Reservation::same_as`]), or none for a removal.
pub fn in_effect(config: &Value, change: &Change) -> Result<bool, ConfigError> {
    let now = find(config, change.subnet(), change.identifier())?;
    Ok(match change {
        Change::Add(r) | Change::Replace(r) => now.is_some_and(|n| r.same_as(&n)),
        Change::Remove { .. } => now.is_none(),
    })
}

/// Applies one change to `config`, or leaves it untouched and says why not. Only the
/// `reservations` list of the change's subnet is modified: an added entry goes at its end
/// (the list is created if missing), a replaced one keeps its place, a removed one's
/// neighbours keep their order.
pub fn apply(config: &mut Value, change: &Change) -> Result<(), ConfigError> {
    change.validate()?;
    let subnet = change.subnet();
    let existing = position(find_subnet(config, subnet)?, change.identifier());
    match change {
        Change::Add(r) => {
            if let Some(i) = existing {
                let s = find_subnet(config, subnet)?;
                let same = s
                    .get("reservations")
                    .and_then(|l| l.get(i))
                    .and_then(|e| Reservation::from_kea_json(subnet, e))
                    .is_some_and(|now| r.same_as(&now));
                if same {
                    // Already there exactly as asked (an earlier write that was carried
                    // out after its answer was lost): nothing to do.
                    return Ok(());
                }
                let s = find_subnet(config, subnet)?;
                let entry = s
                    .get("reservations")
                    .and_then(|l| l.get(i))
                    .cloned()
                    .unwrap_or(Value::Null);
                let what = match &r.identifier {
                    HostIdentifier::HwAddress(mac) => format!("MAC address {mac}"),
                    other => other.to_string(),
                };
                return Err(ConfigError::Conflict {
                    wanted: r.identifier.clone(),
                    subnet: subnet.to_string(),
                    entry: describe(&entry),
                    what,
                });
            }
            check_address(config, r, None)?;
            let s = find_subnet_mut(config, subnet)?;
            let list = s
                .entry("reservations")
                .or_insert_with(|| Value::Array(Vec::new()));
            let list = list
                .as_array_mut()
                .ok_or_else(|| malformed(format!("reservations of {subnet} is not a list")))?;
            list.push(r.to_kea_json());
        }
        Change::Replace(r) => {
            let Some(i) = existing else {
                return Err(ConfigError::NotFound {
                    subnet,
                    identifier: r.identifier.clone(),
                });
            };
            check_address(config, r, Some(i))?;
            let s = find_subnet_mut(config, subnet)?;
            if let Some(slot) = s
                .get_mut("reservations")
                .and_then(Value::as_array_mut)
                .and_then(|l| l.get_mut(i))
            {
                *slot = r.to_kea_json();
            }
        }
        Change::Remove { .. } => {
            let Some(i) = existing else { return Ok(()) };
            let s = find_subnet_mut(config, subnet)?;
            if let Some(list) = s.get_mut("reservations").and_then(Value::as_array_mut) {
                list.remove(i);
            }
        }
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    fn cidr(s: &str) -> Cidr {
        s.parse().unwrap()
    }

    fn mac(s: &str) -> HostIdentifier {
        HostIdentifier::HwAddress(s.parse().unwrap())
    }

    /// A configuration shaped like Kea 2.2's config-get, with keys in a non-sorted order.
    fn config() -> Value {
        serde_json::from_str(
            r#"{"Dhcp4": {
                "valid-lifetime": 600,
                "subnet4": [
                  {"subnet": "10.77.0.0/24", "id": 1, "pools": [{"pool": "10.77.0.100-10.77.0.150"}],
                   "reservations": [
                     {"hw-address": "02:00:00:00:00:AA", "ip-address": "10.77.0.10", "hostname": "manual", "next-server": "0.0.0.0", "boot-file-name": ""}
                   ],
                   "option-data": [{"name": "routers", "data": "10.77.0.1"}]},
                  {"id": 2, "subnet": "10.78.0.0/24"}
                ],
                "shared-networks": [{"name": "n", "subnet4": [{"id": 3, "subnet": "10.79.0.0/24", "reservations": [{"client-id": "01AABB", "ip-address": "10.79.0.5"}]}]}],
                "interfaces-config": {"interfaces": ["veth0"]},
                "authoritative": false
            }}"#,
        )
        .unwrap()
    }

    fn node(ip: &str) -> Reservation {
        let mut r = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:01"));
        r.ip_address = Some(ip.parse().unwrap());
        r.hostname = Some("node1".into());
        r.next_server = Some("10.77.0.5".parse().unwrap());
        r.boot_file_name = Some("pxelinux.0".into());
        r.option_data = vec![
            OptionData::by_code(67, "boot/x.efi"),
            OptionData::by_name("v4-captive-portal", "http://portal/"),
        ];
        r.client_classes = vec!["pxe".into()];
        r
    }

    #[test]
    fn subnets_include_shared_networks() {
        let s = subnets(&config()).unwrap();
        let cidrs: Vec<String> = s.iter().map(|s| s.cidr.to_string()).collect();
        assert_eq!(cidrs, ["10.77.0.0/24", "10.78.0.0/24", "10.79.0.0/24"]);
        assert_eq!(s[2].id, Some(3));
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
    fn add_touches_only_its_subnets_list() {
        let before = config();
        let mut c = before.clone();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        let text = serde_json::to_string(&c).unwrap();
        let expected = serde_json::to_string(&before).unwrap().replace(
            r#""boot-file-name":""}]"#,
            &format!(
                r#""boot-file-name":""}},{}]"#,
                node("10.77.0.42").to_kea_json()
            ),
        );
        assert_eq!(text, expected);
        // A subnet without a list gets one, at the end of its keys.
        let mut r = Reservation::new(cidr("10.78.0.0/24"), mac("02:00:00:00:00:02"));
        r.ip_address = Some("10.78.0.2".parse().unwrap());
        apply(&mut c, &Change::Add(r)).unwrap();
        let s = &c["Dhcp4"]["subnet4"][1];
        let keys: Vec<&String> = s.as_object().unwrap().keys().collect();
        assert_eq!(keys, ["id", "subnet", "reservations"]);
    }

    #[test]
    fn replace_keeps_the_place_and_remove_keeps_the_order() {
        let mut c = config();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        let mut third = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:03"));
        third.ip_address = Some("10.77.0.43".parse().unwrap());
        apply(&mut c, &Change::Add(third)).unwrap();
        apply(&mut c, &Change::Replace(node("10.77.0.50"))).unwrap();
        let r = reservations(&c, cidr("10.77.0.0/24")).unwrap();
        let ips: Vec<String> = r
            .iter()
            .map(|r| r.ip_address.unwrap().to_string())
            .collect();
        assert_eq!(ips, ["10.77.0.10", "10.77.0.50", "10.77.0.43"]);
        let remove = Change::Remove {
            subnet: cidr("10.77.0.0/24"),
            identifier: mac("02:00:00:00:00:01"),
        };
        apply(&mut c, &remove).unwrap();
        apply(&mut c, &remove).unwrap(); // already gone: nothing to do
        let mut back = config();
        let mut third = Reservation::new(cidr("10.77.0.0/24"), mac("02:00:00:00:00:03"));
        third.ip_address = Some("10.77.0.43".parse().unwrap());
        apply(&mut back, &Change::Add(third)).unwrap();
        assert_eq!(c, back);
        let e = apply(&mut c, &Change::Replace(node("10.77.0.50"))).unwrap_err();
        assert!(matches!(e, ConfigError::NotFound { .. }), "{e}");
    }

    #[test]
    fn conflicts_name_the_existing_entry() {
        let mut c = config();
        let before = c.clone();
        let mut same_mac = node("10.77.0.42");
        same_mac.identifier = mac("02-00-00-00-00-aa");
        let e = apply(&mut c, &Change::Add(same_mac)).unwrap_err();
        let text = e.to_string();
        assert!(
            text.contains("[hw-address 02:00:00:00:00:aa, ip-address 10.77.0.10, hostname manual]")
                && text.contains("same MAC address 02:00:00:00:00:aa"),
            "{text}"
        );
        let e = apply(&mut c, &Change::Add(node("10.77.0.10"))).unwrap_err();
        assert!(e.to_string().contains("same IP address 10.77.0.10"), "{e}");
        assert_eq!(c, before, "a refused change leaves the configuration alone");
        // An address may stay with the entry being replaced, not move onto another's.
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        apply(&mut c, &Change::Replace(node("10.77.0.42"))).unwrap();
        let e = apply(&mut c, &Change::Replace(node("10.77.0.10"))).unwrap_err();
        assert!(e.to_string().contains("manual"), "{e}");
    }

    #[test]
    fn invalid_reservations_are_refused_before_the_config_is_read() {
        let mut r = node("10.78.0.1");
        let e = r.validate().unwrap_err();
        assert!(matches!(e, ConfigError::AddressOutsideSubnet { .. }), "{e}");
        r.ip_address = None;
        r.option_data.push(OptionData {
            name: None,
            code: None,
            data: "x".into(),
        });
        assert!(r.validate().is_err());
        assert!(HostIdentifier::client_id("01:zz").is_err());
        assert!(HostIdentifier::client_id("abc").is_err());
        assert_eq!(
            HostIdentifier::client_id("01-AA-bb").unwrap().value(),
            "01:aa:bb"
        );
        let v6 = Reservation::new(cidr("2001:db8::/64"), mac("02:00:00:00:00:01"));
        assert!(matches!(v6.validate(), Err(ConfigError::NotIpv4 { .. })));
    }

    #[test]
    fn adding_what_is_already_there_changes_nothing() {
        let mut c = config();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        // Kea's own form of the entry: options named and numbered, defaults filled in.
        let entry = &mut c["Dhcp4"]["subnet4"][0]["reservations"][1];
        entry["option-data"] = json!([
            {"always-send": false, "code": 67, "csv-format": true, "data": "boot/x.efi", "name": "boot-file-name", "space": "dhcp4"},
            {"always-send": false, "code": 114, "csv-format": true, "data": "http://portal/", "name": "v4-captive-portal", "space": "dhcp4"}
        ]);
        entry["server-hostname"] = json!("");
        let kea_form = c.clone();
        apply(&mut c, &Change::Add(node("10.77.0.42"))).unwrap();
        assert_eq!(c, kea_form);
        assert!(in_effect(&c, &Change::Add(node("10.77.0.42"))).unwrap());
        // Anything different is still a conflict.
        let mut other = node("10.77.0.42");
        other.hostname = Some("node2".into());
        assert!(matches!(
            apply(&mut c, &Change::Add(other.clone())),
            Err(ConfigError::Conflict { .. })
        ));
        assert!(!in_effect(&c, &Change::Add(other)).unwrap());
        let gone = Change::Remove {
            subnet: cidr("10.77.0.0/24"),
            identifier: mac("02:00:00:00:00:02"),
        };
        assert!(in_effect(&c, &gone).unwrap());
        assert_eq!(
            find(&c, cidr("10.77.0.0/24"), &mac("02:00:00:00:00:01"))
                .unwrap()
                .map(|r| r.ip_address),
            Some(Some("10.77.0.42".parse().unwrap()))
        );
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

    #[test]
    fn the_hash_follows_content_and_order() {
        let a = config();
        let mut b = config();
        assert_eq!(config_hash(&a), config_hash(&b));
        assert_eq!(config_hash(&a).len(), 64);
        apply(&mut b, &Change::Add(node("10.77.0.42"))).unwrap();
        assert_ne!(config_hash(&a), config_hash(&b));
    }
}
