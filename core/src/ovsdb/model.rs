//! The rows rack reads from the `Open_vSwitch` database, the specs it writes, and a
//! switch's snapshot: Bridge, Port, Interface and Open_vSwitch rows as one `transact` of
//! `select`s returned them. No I/O.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use serde_json::{Map, Value};

use super::OvsdbError;
use super::datum;

/// The prefix of the bridge `external_ids` keys that hold rack's named VLANs:
/// `rack-vlan:<name>` = `<tag>` or `<tag>:<description>`.
pub const VLAN_KEY_PREFIX: &str = "rack-vlan:";

/// The port `external_ids` key naming the VLAN (of [`VLAN_KEY_PREFIX`]) whose tag the
/// port has: a change of that VLAN's tag moves the port with it, in the same transaction.
pub const PORT_VLAN_KEY: &str = "rack-vlan";

/// The columns read of each table, also the columns of the `wait` operations.
pub(super) const BRIDGE_COLUMNS: &[&str] = &[
    "_uuid",
    "name",
    "datapath_type",
    "fail_mode",
    "stp_enable",
    "other_config",
    "external_ids",
    "ports",
];
pub(super) const PORT_COLUMNS: &[&str] = &[
    "_uuid",
    "name",
    "interfaces",
    "vlan_mode",
    "tag",
    "trunks",
    "bond_mode",
    "lacp",
    "bond_updelay",
    "external_ids",
    "other_config",
];
pub(super) const INTERFACE_COLUMNS: &[&str] = &[
    "_uuid",
    "name",
    "type",
    "options",
    "ofport",
    "error",
    "link_state",
    "admin_state",
    "mac_in_use",
];
/// The Interface columns a change writes (the others are ovs-vswitchd's).
pub(super) const INTERFACE_CONFIG_COLUMNS: &[&str] = &["name", "type", "options"];

/// A bridge as rack writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct BridgeSpec {
    /// Its name (also the name of its internal port and interface).
    pub name: String,
    /// `system` (the kernel datapath, also what OVS's empty default reads as) or `netdev`
    /// (userspace).
    pub datapath_type: String,
    /// `standalone` or `secure`; `None` is OVS's default, `standalone`.
    pub fail_mode: Option<String>,
    /// Whether the bridge runs 802.1D spanning tree.
    pub stp_enable: bool,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

/// One interface of a port as rack writes it.
#[derive(Debug, Clone, PartialEq, Eq, Default, PartialOrd, Ord)]
pub struct InterfaceSpec {
    /// Its name.
    pub name: String,
    /// Its `type`: `system` (stored as OVS's empty default), `internal`, `patch`, ...
    pub kind: String,
    /// `options`, e.g. `peer` of a patch interface.
    pub options: BTreeMap<String, String>,
}

/// A port as rack writes it. `interfaces` are kept sorted by name.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PortSpec {
    /// Its name.
    pub name: String,
    /// One interface, or two or more for a bond.
    pub interfaces: Vec<InterfaceSpec>,
    /// `access`, `trunk`, `native-tagged`, `native-untagged`; `None`: OVS decides from
    /// `tag` and `trunks`.
    pub vlan_mode: Option<String>,
    /// The access or native VLAN.
    pub tag: Option<u16>,
    /// The VLANs a trunk carries (empty: all).
    pub trunks: BTreeSet<u16>,
    /// `active-backup`, `balance-slb` or `balance-tcp` (bonds).
    pub bond_mode: Option<String>,
    /// `active`, `passive` or `off` (bonds).
    pub lacp: Option<String>,
    /// Milliseconds a member link must be up before the bond uses it.
    pub bond_updelay: i64,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
    /// `other_config`.
    pub other_config: BTreeMap<String, String>,
}

impl PortSpec {
    /// The same with its interfaces sorted by name (OVS keeps no order).
    pub fn normalized(mut self) -> Self {
        self.interfaces.sort();
        self
    }

    /// What differs between `self` (expected) and `other` (found), for messages.
    pub fn differences(&self, other: &PortSpec) -> String {
        let mut d = Vec::new();
        let mut field = |name: &str, a: String, b: String| {
            if a != b {
                d.push(format!("{name} is {b}, expected {a}"));
            }
        };
        field(
            "interfaces",
            format!("{:?}", names(&self.interfaces)),
            format!("{:?}", names(&other.interfaces)),
        );
        if names(&self.interfaces) == names(&other.interfaces) {
            field(
                "interface settings",
                format!("{:?}", self.interfaces),
                format!("{:?}", other.interfaces),
            );
        }
        field("vlan_mode", show(&self.vlan_mode), show(&other.vlan_mode));
        field("tag", show(&self.tag), show(&other.tag));
        field(
            "trunks",
            format!("{:?}", self.trunks),
            format!("{:?}", other.trunks),
        );
        field("bond_mode", show(&self.bond_mode), show(&other.bond_mode));
        field("lacp", show(&self.lacp), show(&other.lacp));
        field(
            "bond_updelay",
            self.bond_updelay.to_string(),
            other.bond_updelay.to_string(),
        );
        field(
            "external_ids",
            format!("{:?}", self.external_ids),
            format!("{:?}", other.external_ids),
        );
        field(
            "other_config",
            format!("{:?}", self.other_config),
            format!("{:?}", other.other_config),
        );
        d.join(", ")
    }
}

fn names(i: &[InterfaceSpec]) -> Vec<&str> {
    i.iter().map(|i| i.name.as_str()).collect()
}

fn show<T: std::fmt::Display>(v: &Option<T>) -> String {
    v.as_ref()
        .map_or_else(|| "unset".to_owned(), ToString::to_string)
}

/// A named VLAN of a bridge, kept in its `external_ids`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Vlan {
    /// The name ports and plans use, e.g. `web`.
    pub name: String,
    /// The 802.1Q VLAN id, 1 to 4094.
    pub tag: u16,
    /// Free text.
    pub description: String,
}

impl Vlan {
    /// Its `external_ids` key.
    pub fn key(name: &str) -> String {
        format!("{VLAN_KEY_PREFIX}{name}")
    }

    /// Its `external_ids` value.
    pub fn value(&self) -> String {
        if self.description.is_empty() {
            self.tag.to_string()
        } else {
            format!("{}:{}", self.tag, self.description)
        }
    }

    /// Parses the `external_ids` entry `key` = `value`, if it is one of rack's VLANs.
    pub fn parse(key: &str, value: &str) -> Option<Self> {
        let name = key.strip_prefix(VLAN_KEY_PREFIX)?;
        let (tag, description) = value.split_once(':').unwrap_or((value, ""));
        Some(Self {
            name: name.to_owned(),
            tag: tag.parse().ok()?,
            description: description.to_owned(),
        })
    }
}

/// An interface as read, with what ovs-vswitchd reports about it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InterfaceState {
    /// Its configuration.
    pub spec: InterfaceSpec,
    /// Its OpenFlow port number (-1 when it failed; `None` until vswitchd saw it).
    pub ofport: Option<i64>,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// `up` or `down`.
    pub link_state: Option<String>,
    /// `up` or `down`.
    pub admin_state: Option<String>,
    /// Its MAC address.
    pub mac_in_use: Option<String>,
}

/// A port as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PortState {
    /// The bridge it is on.
    pub bridge: String,
    /// Its configuration.
    pub spec: PortSpec,
    /// Its interfaces, sorted by name.
    pub interfaces: Vec<InterfaceState>,
}

/// A bridge as read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BridgeState {
    /// Its configuration.
    pub spec: BridgeSpec,
    /// The names of its ports, sorted (its own internal port included).
    pub ports: Vec<String>,
    /// Its named VLANs, sorted by name.
    pub vlans: Vec<Vlan>,
    /// `external_ids`.
    pub external_ids: BTreeMap<String, String>,
}

/// A change for one switch. `expect`: `None` checks nothing; `Some(None)` requires that
/// the object does not exist; `Some(Some(x))` requires that it is `x` as read in the
/// transaction's base (a change by someone else is refused, naming the object).
/// `want: None` deletes (nothing to do when it is gone already).
// A port's two specs make its variant the large one; changes are few and short-lived.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Change {
    /// A bridge.
    Bridge {
        /// Its name.
        name: String,
        /// What it should be.
        want: Option<BridgeSpec>,
        /// What it must be now.
        expect: Option<Option<BridgeSpec>>,
    },
    /// A port of a bridge.
    Port {
        /// The bridge.
        bridge: String,
        /// The port's name.
        name: String,
        /// What it should be.
        want: Option<PortSpec>,
        /// What it must be now.
        expect: Option<Option<PortSpec>>,
    },
    /// A named VLAN of a bridge.
    Vlan {
        /// The bridge.
        bridge: String,
        /// The VLAN's name.
        name: String,
        /// What it should be.
        want: Option<Vlan>,
        /// What it must be now.
        expect: Option<Option<Vlan>>,
    },
}

impl Change {
    /// The object it is about, for messages: `port "p1" of bridge "br0"`.
    pub fn what(&self) -> String {
        match self {
            Change::Bridge { name, .. } => format!("bridge {name:?}"),
            Change::Port { bridge, name, .. } => format!("port {name:?} of bridge {bridge:?}"),
            Change::Vlan { bridge, name, .. } => format!("VLAN {name:?} of bridge {bridge:?}"),
        }
    }
}

/// A row as read: its uuid and columns.
#[derive(Debug, Clone, PartialEq)]
pub(super) struct Row {
    pub(super) uuid: String,
    pub(super) columns: Map<String, Value>,
}

impl Row {
    fn new(v: &Value) -> Result<Self, OvsdbError> {
        let columns = v
            .as_object()
            .cloned()
            .ok_or_else(|| OvsdbError::Protocol(format!("a row that is not an object: {v}")))?;
        let uuid = columns
            .get("_uuid")
            .and_then(datum::as_uuid)
            .ok_or_else(|| OvsdbError::Protocol("a row without _uuid".into()))?
            .to_owned();
        Ok(Self { uuid, columns })
    }

    pub(super) fn col(&self, name: &str) -> &Value {
        self.columns.get(name).unwrap_or(&Value::Null)
    }

    fn string(&self, name: &str) -> String {
        self.col(name).as_str().unwrap_or_default().to_owned()
    }

    /// The row's columns `names` as read (without `_uuid`), for a `wait` operation.
    pub(super) fn wait_row(&self, names: &[&str]) -> Map<String, Value> {
        names
            .iter()
            .filter(|n| **n != "_uuid")
            .filter_map(|n| self.columns.get(*n).map(|v| ((*n).to_owned(), v.clone())))
            .collect()
    }
}

/// One switch as read: its Bridge, Port and Interface tables and the Open_vSwitch row.
#[derive(Debug, Clone, PartialEq)]
pub struct Snapshot {
    pub(super) root: Row,
    pub(super) bridges: BTreeMap<String, Row>,
    pub(super) ports: HashMap<String, Row>,
    pub(super) interfaces: HashMap<String, Row>,
}

impl Snapshot {
    /// Parses the result of the read transaction: selects of Open_vSwitch, Bridge, Port
    /// and Interface, in that order.
    pub(super) fn parse(result: &Value) -> Result<Self, OvsdbError> {
        let rows = |i: usize| -> Result<Vec<Row>, OvsdbError> {
            result
                .get(i)
                .and_then(|r| r.get("rows"))
                .and_then(Value::as_array)
                .ok_or_else(|| {
                    OvsdbError::Protocol(format!("select {i} returned no rows: {result}"))
                })?
                .iter()
                .map(Row::new)
                .collect()
        };
        let root = rows(0)?.into_iter().next().ok_or_else(|| {
            OvsdbError::Protocol("the Open_vSwitch table is empty (run `ovs-vsctl init`)".into())
        })?;
        Ok(Self {
            root,
            bridges: rows(1)?
                .into_iter()
                .map(|r| (r.string("name"), r))
                .collect(),
            ports: rows(2)?.into_iter().map(|r| (r.uuid.clone(), r)).collect(),
            interfaces: rows(3)?.into_iter().map(|r| (r.uuid.clone(), r)).collect(),
        })
    }

    /// `cur_cfg` of the Open_vSwitch row: the last configuration ovs-vswitchd applied.
    pub fn cur_cfg(&self) -> i64 {
        self.root.col("cur_cfg").as_i64().unwrap_or(0)
    }

    /// The names of the bridges, sorted.
    pub fn bridge_names(&self) -> Vec<String> {
        self.bridges.keys().cloned().collect()
    }

    /// Bridge `name`.
    pub fn bridge(&self, name: &str) -> Option<BridgeState> {
        let row = self.bridges.get(name)?;
        let external_ids = datum::as_map(row.col("external_ids"));
        let mut ports: Vec<String> = datum::uuids(row.col("ports"))
            .iter()
            .filter_map(|u| self.ports.get(u))
            .map(|p| p.string("name"))
            .collect();
        ports.sort();
        Some(BridgeState {
            spec: bridge_spec(row),
            ports,
            vlans: external_ids
                .iter()
                .filter_map(|(k, v)| Vlan::parse(k, v))
                .collect(),
            external_ids,
        })
    }

    pub(super) fn bridge_row(&self, name: &str) -> Option<&Row> {
        self.bridges.get(name)
    }

    /// Port `name` of bridge `bridge`.
    pub fn port(&self, bridge: &str, name: &str) -> Option<PortState> {
        let row = self.port_row(bridge, name)?;
        Some(self.port_state(bridge, row))
    }

    pub(super) fn port_row(&self, bridge: &str, name: &str) -> Option<&Row> {
        let b = self.bridges.get(bridge)?;
        datum::uuids(b.col("ports"))
            .iter()
            .filter_map(|u| self.ports.get(u))
            .find(|p| p.string("name") == name)
    }

    /// The interface rows of port row `row`.
    pub(super) fn interface_rows(&self, row: &Row) -> Vec<&Row> {
        datum::uuids(row.col("interfaces"))
            .iter()
            .filter_map(|u| self.interfaces.get(u))
            .collect()
    }

    fn port_state(&self, bridge: &str, row: &Row) -> PortState {
        let mut interfaces: Vec<InterfaceState> = self
            .interface_rows(row)
            .into_iter()
            .map(interface_state)
            .collect();
        interfaces.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        PortState {
            bridge: bridge.to_owned(),
            spec: PortSpec {
                name: row.string("name"),
                interfaces: interfaces.iter().map(|i| i.spec.clone()).collect(),
                vlan_mode: datum::opt_string(row.col("vlan_mode")),
                tag: datum::opt_int(row.col("tag")).and_then(|t| u16::try_from(t).ok()),
                trunks: datum::ints(row.col("trunks"))
                    .into_iter()
                    .filter_map(|t| u16::try_from(t).ok())
                    .collect(),
                bond_mode: datum::opt_string(row.col("bond_mode")),
                lacp: datum::opt_string(row.col("lacp")),
                bond_updelay: row.col("bond_updelay").as_i64().unwrap_or(0),
                external_ids: datum::as_map(row.col("external_ids")),
                other_config: datum::as_map(row.col("other_config")),
            },
            interfaces,
        }
    }

    /// The ports of bridge `bridge`, sorted by name, without the bridge's own internal
    /// port (the one named as the bridge, which OVS creates with it).
    pub fn ports(&self, bridge: &str) -> Vec<PortState> {
        let Some(b) = self.bridges.get(bridge) else {
            return Vec::new();
        };
        let mut ports: Vec<PortState> = datum::uuids(b.col("ports"))
            .iter()
            .filter_map(|u| self.ports.get(u))
            .filter(|p| p.string("name") != bridge)
            .map(|p| self.port_state(bridge, p))
            .collect();
        ports.sort_by(|a, b| a.spec.name.cmp(&b.spec.name));
        ports
    }

    /// Interface `name` wherever it is, as read.
    pub(super) fn interface_named(&self, name: &str) -> Option<&Row> {
        self.interfaces.values().find(|r| r.string("name") == name)
    }

    /// The VLAN `name` of bridge `bridge`.
    pub fn vlan(&self, bridge: &str, name: &str) -> Option<Vlan> {
        let b = self.bridges.get(bridge)?;
        datum::as_map(b.col("external_ids"))
            .get(&Vlan::key(name))
            .and_then(|v| Vlan::parse(&Vlan::key(name), v))
    }
}

fn bridge_spec(row: &Row) -> BridgeSpec {
    BridgeSpec {
        name: row.string("name"),
        datapath_type: kind_from_ovs(row.col("datapath_type").as_str().unwrap_or_default()),
        fail_mode: datum::opt_string(row.col("fail_mode")),
        stp_enable: row.col("stp_enable").as_bool().unwrap_or(false),
        other_config: datum::as_map(row.col("other_config")),
    }
}

/// OVS stores the `system` interface type (and datapath type) as the empty string.
pub(super) fn kind_from_ovs(kind: &str) -> String {
    if kind.is_empty() {
        "system".to_owned()
    } else {
        kind.to_owned()
    }
}

/// The `type` column for `kind`.
pub(super) fn kind_to_ovs(kind: &str) -> &str {
    if kind == "system" { "" } else { kind }
}

fn interface_state(row: &Row) -> InterfaceState {
    InterfaceState {
        spec: InterfaceSpec {
            name: row.string("name"),
            kind: kind_from_ovs(row.col("type").as_str().unwrap_or_default()),
            options: datum::as_map(row.col("options")),
        },
        ofport: datum::opt_int(row.col("ofport")),
        error: datum::opt_string(row.col("error")),
        link_state: datum::opt_string(row.col("link_state")),
        admin_state: datum::opt_string(row.col("admin_state")),
        mac_in_use: datum::opt_string(row.col("mac_in_use")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn vlans_round_trip_through_external_ids() {
        let v = Vlan {
            name: "web".into(),
            tag: 110,
            description: "front: tier".into(),
        };
        assert_eq!(Vlan::parse(&Vlan::key("web"), &v.value()), Some(v));
        let bare = Vlan {
            name: "db".into(),
            tag: 20,
            description: String::new(),
        };
        assert_eq!(bare.value(), "20");
        assert_eq!(Vlan::parse("other", "20"), None);
    }
}
