//! A batch of changes for one switch as one `transact` (RFC 7047 section 5.2), built on
//! the snapshot the batch read. No I/O.
//!
//! Order within the transaction: first a `wait` (timeout 0) on every row the batch read
//! and is about to change, with the columns as read, so a change made by someone else
//! since that read fails the whole transaction instead of being overwritten; then for
//! each change its Interface rows, its Port row (referring to the interfaces by
//! `uuid-name`) and the mutation of `Bridge.ports` that references the port (rows nothing
//! references are garbage-collected by the server at commit); last, `next_cfg` is
//! incremented and selected, so the client can wait for ovs-vswitchd's `cur_cfg`.

use std::collections::BTreeMap;

use serde_json::{Map, Value, json};

use super::OvsdbError;
use super::datum;
use super::model::{
    BRIDGE_COLUMNS, BridgeSpec, Change, INTERFACE_COLUMNS, INTERFACE_CONFIG_COLUMNS, InterfaceSpec,
    PORT_COLUMNS, PORT_VLAN_KEY, PortSpec, Row, Snapshot, Vlan, kind_to_ovs,
};

/// The database rack manages.
pub const DATABASE: &str = "Open_vSwitch";

/// The params of the read: one `transact` selecting the four tables rack uses.
pub fn read_params() -> Value {
    let select = |table: &str, columns: &[&str]| json!({"op": "select", "table": table, "where": [], "columns": columns});
    json!([
        DATABASE,
        select(DATABASE, &["_uuid", "next_cfg", "cur_cfg"]),
        select("Bridge", BRIDGE_COLUMNS),
        select("Port", PORT_COLUMNS),
        select("Interface", INTERFACE_COLUMNS),
    ])
}

/// The params of a transaction that fails unless `cur_cfg` is `target` within `timeout_ms`.
pub fn wait_cur_cfg_params(target: i64, timeout_ms: u64) -> Value {
    json!([DATABASE, {
        "op": "wait", "table": DATABASE, "where": [], "timeout": timeout_ms,
        "columns": ["cur_cfg"], "until": "==", "rows": [{"cur_cfg": target}],
    }])
}

/// The params of a read of `cur_cfg` and of the interfaces named `names`.
pub fn check_params(names: &[String]) -> Value {
    let mut ops =
        vec![json!({"op": "select", "table": DATABASE, "where": [], "columns": ["cur_cfg"]})];
    for n in names {
        ops.push(
            json!({"op": "select", "table": "Interface", "where": [["name", "==", n]],
                        "columns": ["name", "ofport", "error"]}),
        );
    }
    let mut params = vec![json!(DATABASE)];
    params.extend(ops);
    Value::Array(params)
}

/// A batch's transaction.
#[derive(Debug, Clone, PartialEq)]
pub struct Transaction {
    /// The `transact` params: the database name, then the operations.
    pub params: Value,
    /// How many operations at the start are `wait`s on what was read.
    pub waits: usize,
    /// The index (among the operations) of the `select` of the new `next_cfg`.
    pub next_cfg_op: usize,
    /// Interfaces created or reconfigured, whose `ofport` and `error` are checked once
    /// ovs-vswitchd applied the transaction.
    pub interfaces: Vec<String>,
}

/// Whether `change` is already in effect in `snap` (nothing to write).
pub fn in_effect(snap: &Snapshot, change: &Change) -> bool {
    match change {
        Change::Bridge { name, want, .. } => snap.bridge(name).map(|b| b.spec) == *want,
        Change::Port {
            bridge, name, want, ..
        } => snap.port(bridge, name).map(|p| p.spec) == want.clone().map(PortSpec::normalized),
        Change::Vlan {
            bridge, name, want, ..
        } => snap.vlan(bridge, name) == *want,
    }
}

/// Checks `change` against `snap`: what it expects must be what is there, and what it
/// creates must not clash with what exists.
pub fn check(snap: &Snapshot, change: &Change) -> Result<(), OvsdbError> {
    let what = change.what();
    match change {
        Change::Bridge { name, expect, .. } => expected(
            &what,
            snap.bridge(name).map(|b| b.spec),
            expect.as_ref(),
            |e, f| format!("found {f:?}, expected {e:?}"),
        ),
        Change::Port {
            bridge,
            name,
            want,
            expect,
        } => {
            if let Some(w) = want {
                if snap.bridge_row(bridge).is_none() {
                    return Err(OvsdbError::NotFound(format!("bridge {bridge:?}")));
                }
                let own = snap.port_row(bridge, name);
                let own_ifaces: Vec<String> = own
                    .map(|r| snap.interface_rows(r))
                    .unwrap_or_default()
                    .iter()
                    .map(|r| r.col("name").as_str().unwrap_or_default().to_owned())
                    .collect();
                if own.is_none() && snap.ports.values().any(|p| p.col("name") == name.as_str()) {
                    return Err(OvsdbError::Exists(format!(
                        "a port named {name:?} (on another bridge)"
                    )));
                }
                for i in &w.interfaces {
                    if !own_ifaces.contains(&i.name) && snap.interface_named(&i.name).is_some() {
                        return Err(OvsdbError::Exists(format!(
                            "interface {:?} (in another port)",
                            i.name
                        )));
                    }
                }
            }
            let found = snap.port(bridge, name).map(|p| p.spec);
            let expect = expect.as_ref().map(|e| e.clone().map(PortSpec::normalized));
            expected(&what, found, expect.as_ref(), |e, f| e.differences(f))
        }
        Change::Vlan {
            bridge,
            name,
            want,
            expect,
        } => {
            if want.is_some() && snap.bridge_row(bridge).is_none() {
                return Err(OvsdbError::NotFound(format!("bridge {bridge:?}")));
            }
            expected(&what, snap.vlan(bridge, name), expect.as_ref(), |e, f| {
                format!(
                    "tag {} ({:?}), expected tag {} ({:?})",
                    f.tag, f.description, e.tag, e.description
                )
            })
        }
    }
}

fn expected<T: PartialEq>(
    what: &str,
    found: Option<T>,
    expect: Option<&Option<T>>,
    diff: impl Fn(&T, &T) -> String,
) -> Result<(), OvsdbError> {
    let Some(expect) = expect else { return Ok(()) };
    match (expect, &found) {
        (None, None) => Ok(()),
        (None, Some(_)) => Err(OvsdbError::Exists(what.to_owned())),
        (Some(_), None) => Err(OvsdbError::Changed {
            what: what.to_owned(),
            detail: "it was deleted".into(),
        }),
        (Some(e), Some(f)) if e == f => Ok(()),
        (Some(e), Some(f)) => Err(OvsdbError::Changed {
            what: what.to_owned(),
            detail: diff(e, f),
        }),
    }
}

/// Builds the transaction of `changes` (each already [`check`]ed and not in effect) on
/// `snap`.
pub fn build(snap: &Snapshot, changes: &[Change]) -> Transaction {
    let mut b = Builder {
        snap,
        waits: BTreeMap::new(),
        ops: Vec::new(),
        bridge_refs: BTreeMap::new(),
        interfaces: Vec::new(),
        n: 0,
    };
    for c in changes {
        match c {
            Change::Bridge { name, want, .. } => b.bridge(name, want.as_ref()),
            Change::Port {
                bridge, name, want, ..
            } => b.port(bridge, name, want.as_ref()),
            Change::Vlan {
                bridge, name, want, ..
            } => b.vlan(bridge, name, want.as_ref()),
        }
    }
    let root = snap.root.uuid.clone();
    let mut ops: Vec<Value> = b
        .waits
        .into_iter()
        .map(|((table, uuid), (columns, row))| {
            json!({"op": "wait", "table": table, "timeout": 0,
                   "where": [["_uuid", "==", datum::uuid(&uuid)]],
                   "columns": columns, "until": "==", "rows": [row]})
        })
        .collect();
    let waits = ops.len();
    ops.extend(b.ops);
    ops.push(json!({"op": "mutate", "table": DATABASE,
                    "where": [["_uuid", "==", datum::uuid(&root)]],
                    "mutations": [["next_cfg", "+=", 1]]}));
    ops.push(json!({"op": "select", "table": DATABASE,
                    "where": [["_uuid", "==", datum::uuid(&root)]],
                    "columns": ["next_cfg"]}));
    let next_cfg_op = ops.len() - 1;
    let mut params = vec![json!(DATABASE)];
    params.extend(ops);
    Transaction {
        params: Value::Array(params),
        waits,
        next_cfg_op,
        interfaces: b.interfaces,
    }
}

/// The `wait` of one row: its columns, and their values as read.
type Wait = (Vec<String>, Map<String, Value>);

struct Builder<'a> {
    snap: &'a Snapshot,
    /// (table, uuid) -> the row's wait.
    waits: BTreeMap<(String, String), Wait>,
    ops: Vec<Value>,
    /// Bridges created in this transaction, by name: their `uuid-name`.
    bridge_refs: BTreeMap<String, String>,
    interfaces: Vec<String>,
    n: usize,
}

impl Builder<'_> {
    fn fresh(&mut self, prefix: &str) -> String {
        self.n += 1;
        format!("rack_{prefix}{}", self.n)
    }

    fn wait(&mut self, table: &str, row: &Row, columns: &[&str]) {
        let entry = self
            .waits
            .entry((table.to_owned(), row.uuid.clone()))
            .or_insert_with(|| (Vec::new(), Map::new()));
        for c in columns.iter().filter(|c| **c != "_uuid") {
            if !entry.0.iter().any(|e| e == c) {
                entry.0.push((*c).to_owned());
            }
        }
        entry.1.extend(row.wait_row(columns));
    }

    /// A reference to bridge `name`: its uuid, or its `uuid-name` when this transaction
    /// creates it.
    fn bridge_ref(&self, name: &str) -> Option<Value> {
        if let Some(n) = self.bridge_refs.get(name) {
            return Some(datum::named(n));
        }
        self.snap.bridge_row(name).map(|r| datum::uuid(&r.uuid))
    }

    fn bridge(&mut self, name: &str, want: Option<&BridgeSpec>) {
        let root = datum::uuid(&self.snap.root.uuid);
        let existing = self.snap.bridge_row(name).cloned();
        match (want, existing) {
            (Some(w), None) => {
                let iface = self.fresh("iface");
                let port = self.fresh("port");
                let bridge = self.fresh("bridge");
                self.ops.push(
                    json!({"op": "insert", "table": "Interface", "uuid-name": iface,
                                     "row": {"name": name, "type": "internal"}}),
                );
                self.ops
                    .push(json!({"op": "insert", "table": "Port", "uuid-name": port,
                                     "row": {"name": name, "interfaces": datum::named(&iface)}}));
                let mut row = bridge_columns(w);
                row.insert("name".into(), json!(name));
                row.insert("ports".into(), datum::named(&port));
                self.ops.push(
                    json!({"op": "insert", "table": "Bridge", "uuid-name": bridge,
                                     "row": row}),
                );
                self.ops.push(json!({"op": "mutate", "table": DATABASE,
                                     "where": [["_uuid", "==", root]],
                                     "mutations": [["bridges", "insert", datum::named(&bridge)]]}));
                self.bridge_refs.insert(name.to_owned(), bridge);
                self.interfaces.push(name.to_owned());
            }
            (Some(w), Some(row)) => {
                self.wait(
                    "Bridge",
                    &row,
                    &["datapath_type", "fail_mode", "stp_enable", "other_config"],
                );
                self.ops.push(json!({"op": "update", "table": "Bridge",
                                     "where": [["_uuid", "==", datum::uuid(&row.uuid)]],
                                     "row": bridge_columns(w)}));
            }
            (None, Some(row)) => {
                self.ops.push(json!({"op": "mutate", "table": DATABASE,
                                     "where": [["_uuid", "==", root]],
                                     "mutations": [["bridges", "delete", datum::uuid(&row.uuid)]]}));
            }
            (None, None) => {}
        }
    }

    fn port(&mut self, bridge: &str, name: &str, want: Option<&PortSpec>) {
        let existing = self.snap.port_row(bridge, name).cloned();
        let Some(bridge_ref) = self.bridge_ref(bridge) else {
            return;
        };
        let Some(w) = want else {
            if let Some(row) = existing {
                self.ops.push(json!({"op": "mutate", "table": "Bridge",
                                     "where": [["_uuid", "==", bridge_ref]],
                                     "mutations": [["ports", "delete", datum::uuid(&row.uuid)]]}));
            }
            return;
        };
        let old_ifaces: Vec<Row> = existing
            .as_ref()
            .map(|r| self.snap.interface_rows(r).into_iter().cloned().collect())
            .unwrap_or_default();
        let mut refs = Vec::new();
        for i in &w.interfaces {
            match old_ifaces.iter().find(|r| r.col("name") == i.name.as_str()) {
                Some(old) => {
                    self.wait("Interface", old, INTERFACE_CONFIG_COLUMNS);
                    let row = interface_columns(i);
                    if old.col("type") != &row["type"]
                        || datum::as_map(old.col("options")) != i.options
                    {
                        self.ops.push(json!({"op": "update", "table": "Interface",
                                             "where": [["_uuid", "==", datum::uuid(&old.uuid)]],
                                             "row": row}));
                        self.interfaces.push(i.name.clone());
                    }
                    refs.push(datum::uuid(&old.uuid));
                }
                None => {
                    let n = self.fresh("iface");
                    let mut row = interface_columns(i);
                    row.insert("name".into(), json!(i.name));
                    self.ops
                        .push(json!({"op": "insert", "table": "Interface", "uuid-name": n,
                                         "row": row}));
                    self.interfaces.push(i.name.clone());
                    refs.push(datum::named(&n));
                }
            }
        }
        let mut row = port_columns(w);
        row.insert("interfaces".into(), datum::set(refs));
        match existing {
            Some(old) => {
                self.wait("Port", &old, PORT_COLUMNS);
                self.ops.push(json!({"op": "update", "table": "Port",
                                     "where": [["_uuid", "==", datum::uuid(&old.uuid)]],
                                     "row": row}));
            }
            None => {
                let n = self.fresh("port");
                row.insert("name".into(), json!(name));
                self.ops
                    .push(json!({"op": "insert", "table": "Port", "uuid-name": n, "row": row}));
                self.ops.push(json!({"op": "mutate", "table": "Bridge",
                                     "where": [["_uuid", "==", bridge_ref]],
                                     "mutations": [["ports", "insert", datum::named(&n)]]}));
            }
        }
    }

    fn vlan(&mut self, bridge: &str, name: &str, want: Option<&Vlan>) {
        let Some(bridge_ref) = self.bridge_ref(bridge) else {
            return;
        };
        if let Some(row) = self.snap.bridge_row(bridge).cloned() {
            self.wait("Bridge", &row, &["external_ids"]);
        }
        let key = Vlan::key(name);
        let mut mutations = vec![json!(["external_ids", "delete", datum::set([json!(key)])])];
        if let Some(v) = want {
            let m: BTreeMap<String, String> = [(key, v.value())].into();
            mutations.push(json!(["external_ids", "insert", datum::map(&m)]));
        }
        self.ops.push(json!({"op": "mutate", "table": "Bridge",
                             "where": [["_uuid", "==", bridge_ref]],
                             "mutations": mutations}));
        // The ports that name this VLAN follow its new tag.
        let (Some(v), Some(b)) = (want, self.snap.bridge_row(bridge)) else {
            return;
        };
        let ports: Vec<Row> = datum::uuids(b.col("ports"))
            .iter()
            .filter_map(|u| self.snap.ports.get(u))
            .filter(|p| datum::as_map(p.col("external_ids")).get(PORT_VLAN_KEY) == Some(&v.name))
            .filter(|p| datum::opt_int(p.col("tag")) != Some(i64::from(v.tag)))
            .cloned()
            .collect();
        for p in ports {
            self.wait("Port", &p, &["tag", "external_ids"]);
            self.ops.push(json!({"op": "update", "table": "Port",
                                 "where": [["_uuid", "==", datum::uuid(&p.uuid)]],
                                 "row": {"tag": v.tag}}));
        }
    }
}

fn bridge_columns(w: &BridgeSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("datapath_type".into(), json!(w.datapath_type));
    m.insert("fail_mode".into(), datum::optional(w.fail_mode.clone()));
    m.insert("stp_enable".into(), json!(w.stp_enable));
    m.insert("other_config".into(), datum::map(&w.other_config));
    m
}

fn interface_columns(i: &InterfaceSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("type".into(), json!(kind_to_ovs(&i.kind)));
    m.insert("options".into(), datum::map(&i.options));
    m
}

fn port_columns(w: &PortSpec) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("vlan_mode".into(), datum::optional(w.vlan_mode.clone()));
    m.insert("tag".into(), datum::optional(w.tag.map(i64::from)));
    m.insert(
        "trunks".into(),
        datum::set(w.trunks.iter().map(|t| json!(t))),
    );
    m.insert("bond_mode".into(), datum::optional(w.bond_mode.clone()));
    m.insert("lacp".into(), datum::optional(w.lacp.clone()));
    m.insert("bond_updelay".into(), json!(w.bond_updelay));
    m.insert("external_ids".into(), datum::map(&w.external_ids));
    m.insert("other_config".into(), datum::map(&w.other_config));
    m
}

/// The first error in a `transact` result, with the index of the operation it belongs
/// to (`None` for an error of the commit itself, after the operations).
pub fn first_error(result: &Value, ops: usize) -> Option<(Option<usize>, String)> {
    let items = result.as_array()?;
    items.iter().enumerate().find_map(|(i, r)| {
        let e = r.get("error")?.as_str()?;
        let details = r.get("details").and_then(Value::as_str).unwrap_or_default();
        let text = if details.is_empty() {
            e.to_owned()
        } else {
            format!("{e}: {details}")
        };
        Some((if i < ops { Some(i) } else { None }, text))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn snapshot() -> Snapshot {
        let result = json!([
            {"rows": [{"_uuid": ["uuid", "root"], "next_cfg": 3, "cur_cfg": 3}]},
            {"rows": [{"_uuid": ["uuid", "b1"], "name": "br0", "datapath_type": "netdev",
                       "fail_mode": ["set", []], "stp_enable": false,
                       "other_config": ["map", []], "external_ids": ["map", [["rack-vlan:web", "110"]]],
                       "ports": ["set", [["uuid", "p0"], ["uuid", "p1"]]]}]},
            {"rows": [
                {"_uuid": ["uuid", "p0"], "name": "br0", "interfaces": ["uuid", "i0"],
                 "vlan_mode": ["set", []], "tag": ["set", []], "trunks": ["set", []],
                 "bond_mode": ["set", []], "lacp": ["set", []], "bond_updelay": 0,
                 "external_ids": ["map", []], "other_config": ["map", []]},
                {"_uuid": ["uuid", "p1"], "name": "p1", "interfaces": ["uuid", "i1"],
                 "vlan_mode": "access", "tag": 10, "trunks": ["set", []],
                 "bond_mode": ["set", []], "lacp": ["set", []], "bond_updelay": 0,
                 "external_ids": ["map", []], "other_config": ["map", []]}]},
            {"rows": [
                {"_uuid": ["uuid", "i0"], "name": "br0", "type": "internal", "options": ["map", []],
                 "ofport": 65534, "error": ["set", []], "link_state": "up", "admin_state": "up",
                 "mac_in_use": "aa:bb:cc:dd:ee:ff"},
                {"_uuid": ["uuid", "i1"], "name": "p1", "type": "", "options": ["map", []],
                 "ofport": 1, "error": ["set", []], "link_state": "up", "admin_state": "up",
                 "mac_in_use": ["set", []]}]},
        ]);
        Snapshot::parse(&result).unwrap()
    }

    fn access(name: &str, tag: u16) -> PortSpec {
        PortSpec {
            name: name.into(),
            interfaces: vec![InterfaceSpec {
                name: name.into(),
                kind: "system".into(),
                options: BTreeMap::new(),
            }],
            vlan_mode: Some("access".into()),
            tag: Some(tag),
            ..PortSpec::default()
        }
    }

    #[test]
    fn the_snapshot_reads_ports_and_vlans() {
        let s = snapshot();
        let p = s.port("br0", "p1").unwrap();
        assert_eq!(p.spec, access("p1", 10));
        assert_eq!(p.interfaces[0].ofport, Some(1));
        assert_eq!(
            s.ports("br0").len(),
            1,
            "the bridge's own port is not listed"
        );
        assert_eq!(s.vlan("br0", "web").unwrap().tag, 110);
        assert_eq!(s.bridge("br0").unwrap().ports, vec!["br0", "p1"]);
    }

    #[test]
    fn a_new_port_inserts_interfaces_then_the_port_then_mutates_the_bridge() {
        let s = snapshot();
        let t = build(
            &s,
            &[Change::Port {
                bridge: "br0".into(),
                name: "p2".into(),
                want: Some(access("p2", 20)),
                expect: Some(None),
            }],
        );
        let ops = t.params.as_array().unwrap();
        assert_eq!(ops[0], "Open_vSwitch");
        assert_eq!(t.waits, 0);
        let kinds: Vec<(&str, &str)> = ops[1..]
            .iter()
            .map(|o| (o["op"].as_str().unwrap(), o["table"].as_str().unwrap()))
            .collect();
        assert_eq!(
            kinds,
            [
                ("insert", "Interface"),
                ("insert", "Port"),
                ("mutate", "Bridge"),
                ("mutate", "Open_vSwitch"),
                ("select", "Open_vSwitch")
            ]
        );
        assert_eq!(
            ops[2]["row"]["interfaces"],
            json!(["set", [["named-uuid", ops[1]["uuid-name"]]]])
        );
        assert_eq!(
            ops[3]["mutations"][0][2],
            json!(["named-uuid", ops[2]["uuid-name"]])
        );
        assert_eq!(t.next_cfg_op, 4);
        assert_eq!(t.interfaces, ["p2"]);
    }

    #[test]
    fn an_update_waits_on_the_rows_it_read() {
        let s = snapshot();
        let t = build(
            &s,
            &[Change::Port {
                bridge: "br0".into(),
                name: "p1".into(),
                want: Some(access("p1", 20)),
                expect: None,
            }],
        );
        let ops = t.params.as_array().unwrap();
        assert_eq!(t.waits, 2);
        let port_wait = ops[1..=2].iter().find(|o| o["table"] == "Port").unwrap();
        assert_eq!(port_wait["rows"][0]["tag"], 10);
        assert_eq!(port_wait["timeout"], 0);
        assert!(
            t.interfaces.is_empty(),
            "the interface itself did not change"
        );
    }

    #[test]
    fn a_change_by_someone_else_is_refused_naming_the_port() {
        let s = snapshot();
        let c = Change::Port {
            bridge: "br0".into(),
            name: "p1".into(),
            want: Some(access("p1", 30)),
            expect: Some(Some(access("p1", 20))),
        };
        let e = check(&s, &c).unwrap_err().to_string();
        assert!(
            e.contains("port \"p1\" of bridge \"br0\"") && e.contains("tag is 10, expected 20"),
            "{e}"
        );
        let dup = Change::Port {
            bridge: "br0".into(),
            name: "p1".into(),
            want: Some(access("p1", 30)),
            expect: Some(None),
        };
        assert!(matches!(check(&s, &dup), Err(OvsdbError::Exists(_))));
        let taken = Change::Port {
            bridge: "br0".into(),
            name: "p9".into(),
            want: Some(access("p1", 30)),
            expect: Some(None),
        };
        assert!(
            check(&s, &taken)
                .unwrap_err()
                .to_string()
                .contains("interface \"p1\"")
        );
    }

    #[test]
    fn vlans_mutate_the_bridge_external_ids() {
        let s = snapshot();
        let v = Vlan {
            name: "db".into(),
            tag: 20,
            description: String::new(),
        };
        let t = build(
            &s,
            &[Change::Vlan {
                bridge: "br0".into(),
                name: "db".into(),
                want: Some(v),
                expect: Some(None),
            }],
        );
        let ops = t.params.as_array().unwrap();
        assert_eq!(
            ops[2]["mutations"][1],
            json!(["external_ids", "insert", ["map", [["rack-vlan:db", "20"]]]])
        );
        assert_eq!(
            first_error(&json!([{}, {"error": "timed out", "details": "x"}]), 2),
            Some((Some(1), "timed out: x".into()))
        );
    }
}
