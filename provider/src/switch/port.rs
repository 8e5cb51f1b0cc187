//! `rack_switch_port`: one port of an Open vSwitch bridge with its interfaces (one, or
//! two or more for a bond), its VLAN settings and bond settings. Everything but the
//! bridge and the name changes in place; a port changed on the switch since Terraform
//! read it is refused, never overwritten.

use std::collections::{BTreeMap, BTreeSet};

use async_trait::async_trait;
use rack_core::ovsdb::{Change, InterfaceSpec, PORT_VLAN_KEY, PortSpec, PortState};
use serde::{Deserialize, Serialize};

use super::provider_block::SwitchServer;
use super::shared::{
    MAX_IFNAME, apply, bridged_id_attribute, bridged_identity, deleted, import_target, no_bridge,
    plan_server, server, server_attribute, snapshot, unknown_at_apply, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{IntBetween, check, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// VLAN modes of a port (OVS's `dot1q-tunnel` is left out: rack does not manage QinQ).
pub const VLAN_MODES: [&str; 4] = ["access", "trunk", "native-tagged", "native-untagged"];
/// Bond modes.
pub const BOND_MODES: [&str; 3] = ["active-backup", "balance-slb", "balance-tcp"];
/// LACP settings.
pub const LACP: [&str; 3] = ["active", "passive", "off"];

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchPort;

/// One interface as configuration, plan and state hold it.
#[derive(Debug, Clone, Deserialize, Serialize, PartialEq)]
pub(crate) struct InterfaceModel {
    pub(crate) name: String,
    #[serde(rename = "type")]
    pub(crate) kind: Option<String>,
    pub(crate) options: Option<BTreeMap<String, String>>,
}

impl InterfaceModel {
    fn spec(&self) -> InterfaceSpec {
        InterfaceSpec {
            name: self.name.clone(),
            kind: self.kind.clone().unwrap_or_else(|| "system".into()),
            options: self.options.clone().unwrap_or_default(),
        }
    }

    fn of(spec: &InterfaceSpec) -> Self {
        Self {
            name: spec.name.clone(),
            kind: Some(spec.kind.clone()),
            options: Some(spec.options.clone()),
        }
    }
}

/// The port's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct PortModel {
    server: Planned<Option<String>>,
    bridge: Planned<Option<String>>,
    name: Planned<Option<String>>,
    interfaces: Planned<Option<Vec<InterfaceModel>>>,
    vlan: Planned<Option<String>>,
    vlan_mode: Planned<Option<String>>,
    tag: Planned<Option<i64>>,
    trunks: Planned<Option<BTreeSet<i64>>>,
    bond_mode: Planned<Option<String>>,
    lacp: Planned<Option<String>>,
    bond_updelay: Planned<Option<i64>>,
    external_ids: Planned<Option<BTreeMap<String, String>>>,
    other_config: Planned<Option<BTreeMap<String, String>>>,
    id: Planned<Option<String>>,
}

impl PortModel {
    fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    fn key(&self) -> Option<(String, String)> {
        Some((self.bridge.value()?.clone(), self.name.value()?.clone()))
    }

    /// The spec with `tag`, once everything is known.
    fn spec(&self, tag: Option<u16>) -> Result<PortSpec, Diagnostic> {
        let name = self.name.value().ok_or_else(unknown_at_apply)?.clone();
        let interfaces = match self.interfaces.known() {
            Some(Some(list)) => list.iter().map(InterfaceModel::spec).collect(),
            Some(None) => vec![InterfaceSpec {
                name: name.clone(),
                kind: "system".into(),
                options: BTreeMap::new(),
            }],
            None => return Err(unknown_at_apply()),
        };
        Ok(PortSpec {
            name,
            interfaces,
            vlan_mode: self.vlan_mode.value().cloned(),
            tag,
            trunks: self
                .trunks
                .value()
                .map(|t| t.iter().filter_map(|v| u16::try_from(*v).ok()).collect())
                .unwrap_or_default(),
            bond_mode: self.bond_mode.value().cloned(),
            lacp: self.lacp.value().cloned(),
            bond_updelay: self.bond_updelay.value().copied().unwrap_or(0),
            external_ids: {
                let mut ids = self.external_ids.value().cloned().unwrap_or_default();
                ids.remove(PORT_VLAN_KEY);
                if let Some(vlan) = self.vlan.value() {
                    ids.insert(PORT_VLAN_KEY.to_owned(), vlan.clone());
                }
                ids
            },
            other_config: self.other_config.value().cloned().unwrap_or_default(),
        }
        .normalized())
    }

    fn tag(&self) -> Option<u16> {
        self.tag.value().and_then(|t| u16::try_from(*t).ok())
    }

    /// The state of `port` on switch `server`, keeping the interfaces' order of `prior`
    /// (OVS keeps no order). `vlan` is the port's `external_ids` key [`PORT_VLAN_KEY`],
    /// which the `external_ids` attribute does not show.
    fn of(server: &str, port: &PortState, prior: Option<&[InterfaceModel]>) -> Self {
        let s = &port.spec;
        let mut external_ids = s.external_ids.clone();
        let vlan = external_ids.remove(PORT_VLAN_KEY);
        let mut interfaces: Vec<InterfaceModel> =
            s.interfaces.iter().map(InterfaceModel::of).collect();
        if let Some(prior) = prior {
            let rank = |n: &str| prior.iter().position(|p| p.name == n).unwrap_or(usize::MAX);
            interfaces.sort_by_key(|i| rank(&i.name));
        }
        Self {
            server: Some(server.to_owned()).into(),
            bridge: Some(port.bridge.clone()).into(),
            name: Some(s.name.clone()).into(),
            interfaces: Some(interfaces).into(),
            vlan: vlan.into(),
            vlan_mode: s.vlan_mode.clone().into(),
            tag: s.tag.map(i64::from).into(),
            trunks: Some(s.trunks.iter().map(|t| i64::from(*t)).collect()).into(),
            bond_mode: s.bond_mode.clone().into(),
            lacp: s.lacp.clone().into(),
            bond_updelay: Some(s.bond_updelay).into(),
            external_ids: Some(external_ids).into(),
            other_config: Some(s.other_config.clone()).into(),
            id: Some(format!("{}/{}", port.bridge, s.name)).into(),
        }
    }

    fn state(&self) -> Result<Value, Diagnostic> {
        typed::to_value(self, &SwitchPort.schema().value_type())
    }
}

pub(crate) fn identity(server: &str, bridge: &str, name: &str) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("bridge", Value::from(bridge)),
        ("name", Value::from(name)),
    ])
}

/// The state and identity of `port`.
pub(crate) fn port_state(server: &str, port: &PortState) -> Result<(Value, Value), Diagnostic> {
    port_answer(server, port, None)
}

/// The state and identity of `port`, its interfaces in the order of `prior`.
fn port_answer(
    server: &str,
    port: &PortState,
    prior: Option<&[InterfaceModel]>,
) -> Result<(Value, Value), Diagnostic> {
    let m = PortModel::of(server, port, prior);
    Ok((m.state()?, identity(server, &port.bridge, &port.spec.name)))
}

fn interfaces_attribute() -> Attribute {
    let iface = [
        Attribute::string("name").required().description(
            "The interface's name: for `system`, the network device (at most 15 characters).",
        ),
        Attribute::string("type")
            .optional()
            .computed()
            .default(Value::from("system"))
            .description(
                "OVS's interface type: `system` (a network device), `internal`, `patch`, \
                 `dummy`, ... Default: `system`.",
            ),
        Attribute::map("options", Type::String)
            .optional()
            .computed()
            .default(Value::Map(BTreeMap::new()))
            .description("The interface's `options`, e.g. `{ peer = \"patch-b\" }` for a patch."),
    ];
    Attribute::nested("interfaces", Nesting::List, iface)
        .optional()
        .computed()
        .description(
            "The port's interfaces: one for a plain port, two or more for a bond. Default: one \
             `system` interface named as the port. Members added or removed change the port in \
             place.",
        )
}

#[async_trait]
impl Resource for SwitchPort {
    fn type_name(&self) -> &'static str {
        "rack_switch_port"
    }

    fn schema(&self) -> Schema {
        let empty_map = || Value::Map(BTreeMap::new());
        Schema::new(
            Block::new(
                "One port of an Open vSwitch bridge, written over OVSDB: an access port, a trunk \
                 or a bond. The ports of a switch that change together are written in one \
                 transaction, and the apply waits until ovs-vswitchd has applied it and checks \
                 that each new interface came up. A port changed on the switch after Terraform \
                 read it is refused, naming it, rather than overwritten.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("bridge")
                    .required()
                    .requires_replace()
                    .description("The bridge."),
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("The port's name."),
                interfaces_attribute(),
                Attribute::string("vlan").optional().description(
                    "The name of a `rack_switch_vlan` of the bridge whose tag this port uses, \
                     instead of `tag`, so plans read the VLAN's name. Kept in the port's \
                     `external_ids` as `rack-vlan`; when the VLAN's tag changes, the ports \
                     that name it follow in the same transaction.",
                ),
                Attribute::string("vlan_mode")
                    .optional()
                    .description(
                        "`access`, `trunk`, `native-tagged` or `native-untagged`. Unset, OVS \
                         treats a port with `tag` as access and one without as a trunk.",
                    )
                    .validator(one_of(VLAN_MODES)),
                Attribute::number("tag")
                    .optional()
                    .computed()
                    .description(
                        "The access VLAN (or the native VLAN of a native mode), 1 to 4094. \
                         Computed from `vlan` when that is set.",
                    )
                    .validator(IntBetween(1, 4094)),
                Attribute::set("trunks", Type::Number)
                    .optional()
                    .computed()
                    .default(Value::Set(Vec::new()))
                    .description("The VLANs a trunk carries, each 1 to 4094. Empty: all VLANs.")
                    .validator(check(
                        "Each VLAN from 1 to 4094.",
                        "VLAN out of range",
                        |v| match v {
                            Value::Set(items) => items
                                .iter()
                                .filter_map(Value::as_number)
                                .find(|n| {
                                    !n.is_integer()
                                        || !(1..=4094).contains(&n.to_i64().unwrap_or(0))
                                })
                                .map_or(Ok(()), |n| {
                                    Err(format!("VLAN {n} is not a whole number from 1 to 4094."))
                                }),
                            _ => Ok(()),
                        },
                    )),
                Attribute::string("bond_mode")
                    .optional()
                    .description("For a bond: `active-backup`, `balance-slb` or `balance-tcp`.")
                    .validator(one_of(BOND_MODES)),
                Attribute::string("lacp")
                    .optional()
                    .description("For a bond: LACP `active`, `passive` or `off`.")
                    .validator(one_of(LACP)),
                Attribute::number("bond_updelay")
                    .optional()
                    .computed()
                    .default(Value::Number(Number::from(0)))
                    .description(
                        "For a bond: milliseconds a member link must be up before it carries \
                         traffic. Default: 0.",
                    )
                    .validator(IntBetween(0, 2_147_483_647)),
                Attribute::map("external_ids", Type::String)
                    .optional()
                    .computed()
                    .default(empty_map())
                    .description(
                        "The port's `external_ids` (without `rack-vlan`, which is `vlan`).",
                    ),
                Attribute::map("other_config", Type::String)
                    .optional()
                    .computed()
                    .default(empty_map())
                    .description(
                        "The port's `other_config` (e.g. `bond-detect-mode`, `lacp-time`).",
                    ),
                bridged_id_attribute(),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(bridged_identity("The port's name."))
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let Ok(m) = typed::from_value::<PortModel>(config) else {
            return;
        };
        validate_port(&m, diags);
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        let Ok(config) = typed::from_value::<PortModel>(req.config) else {
            return;
        };
        if let Some((bridge, name)) = config.key() {
            obj_set(
                &mut plan.planned,
                "id",
                Value::from(format!("{bridge}/{name}")),
            );
            if config.interfaces.known() == Some(&None) {
                let default = InterfaceModel::of(&InterfaceSpec {
                    name: name.clone(),
                    kind: "system".into(),
                    options: BTreeMap::new(),
                });
                if let Ok(v) = typed::to_value(&vec![default], &interfaces_attribute().value_type())
                {
                    obj_set(&mut plan.planned, "interfaces", v);
                }
            }
        }
        match (config.vlan.known(), config.tag.known()) {
            (Some(None), Some(None)) => obj_set(&mut plan.planned, "tag", Value::Null),
            (Some(Some(vlan)), _) => {
                let tag = async {
                    let srv = server(ctx, config.server()).ok()?;
                    let snap = srv.client.snapshot().await.ok()?;
                    snap.vlan(config.bridge.value()?, vlan)
                };
                let tag = tag.await.map_or(Value::Unknown, |v| {
                    Value::Number(Number::from(i64::from(v.tag)))
                });
                obj_set(&mut plan.planned, "tag", tag);
            }
            _ => {}
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        StateResult::or_failed(write(ctx, &req.planned, None).await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: PortModel = typed::from_value(&state)?;
            let Some((bridge, name)) = stored.key() else {
                return Err(Diagnostic::error(
                    "Incomplete state",
                    "The stored state lacks bridge or name; remove it from state and import \
                     the port again.",
                )
                .into());
            };
            let srv = server(ctx, stored.server())?;
            let snap = snapshot(&srv).await?;
            let Some(port) = snap.port(&bridge, &name) else {
                return Ok(StateResult::default());
            };
            let prior = stored.interfaces.value().map(Vec::as_slice);
            written(port_answer(&srv.name, &port, prior))
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior = req.prior.clone();
        StateResult::or_failed(write(ctx, &req.planned, Some(&req.prior)).await, prior)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: PortModel = typed::from_value(&req.prior)?;
            let Some((bridge, name)) = prior.key() else {
                return Ok(());
            };
            let srv = server(ctx, prior.server())?;
            let doing = format!("delete port {name:?} on bridge {bridge:?}");
            let change = Change::Port {
                bridge,
                name,
                want: None,
                expect: None,
            };
            Ok(apply(&srv, change, &doing).await?)
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use `<bridge>/<port>`, e.g. `br0/p1`, or `<switch>/<bridge>/<port>` \
                         for another switch than the default.";
            let (target, srv, snap) = import_target(ctx, &req, true, usage).await?;
            let (bridge, name) = (target.bridge.unwrap_or_default(), target.name);
            let port = snap.port(&bridge, &name).ok_or_else(|| {
                Diagnostic::error(
                    format!("No port {name:?} on bridge {bridge:?}"),
                    format!(
                        "Switch {:?} has no such port. Check the names (`ovs-vsctl list-ports \
                         {bridge}`).",
                        srv.name
                    ),
                )
            })?;
            written(port_answer(&srv.name, &port, None))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

/// Creates (no `prior`) or updates the port `planned` describes, expecting the switch to
/// hold what `prior` says, and returns its state as read back.
async fn write(
    ctx: &Context,
    planned: &Value,
    prior: Option<&Value>,
) -> Result<StateResult, Diagnostics> {
    let planned: PortModel = typed::from_value(planned)?;
    let (bridge, name) = planned.key().ok_or_else(unknown_at_apply)?;
    let srv = server(ctx, planned.server())?;
    let tag = resolve_tag(&srv, &planned, &bridge).await?;
    let expect = match prior {
        Some(p) => {
            let p: PortModel = typed::from_value(p)?;
            Some(p.spec(p.tag())?)
        }
        None => None,
    };
    let verb = if prior.is_some() { "update" } else { "create" };
    let change = Change::Port {
        bridge: bridge.clone(),
        name: name.clone(),
        want: Some(planned.spec(tag)?),
        expect: Some(expect),
    };
    apply(
        &srv,
        change,
        &format!("{verb} port {name:?} on bridge {bridge:?}"),
    )
    .await?;
    let snap = snapshot(&srv).await?;
    let port = snap.port(&bridge, &name).ok_or_else(|| {
        Diagnostic::error(
            format!("Port {name:?} is not on bridge {bridge:?} after it was written"),
            "Someone removed it at once, or the switch dropped it; run `terraform plan` to see.",
        )
    })?;
    written(port_answer(
        &srv.name,
        &port,
        planned.interfaces.value().map(Vec::as_slice),
    ))
}

/// The tag to write: the named VLAN's, read from the bridge, or the planned one.
async fn resolve_tag(
    srv: &SwitchServer,
    planned: &PortModel,
    bridge: &str,
) -> Result<Option<u16>, Diagnostic> {
    let Some(vlan) = planned.vlan.value() else {
        return Ok(planned.tag());
    };
    let snap = snapshot(srv).await?;
    if snap.bridge(bridge).is_none() {
        return Err(no_bridge(bridge, &srv.name));
    }
    snap.vlan(bridge, vlan).map(|v| Some(v.tag)).ok_or_else(|| {
        Diagnostic::error(
            format!("Bridge {bridge:?} has no VLAN named {vlan:?}"),
            "Define it with a rack_switch_vlan resource on this bridge (and refer to it, \
             `vlan = rack_switch_vlan.NAME.name`, so it is created first), or set `tag`.",
        )
        .at(AttributePath::attr("vlan"))
    })
}

/// The checks that need several attributes: bonds, interface names, tag with the mode.
fn validate_port(m: &PortModel, diags: &mut Diagnostics) {
    if let (Some(Some(_)), Some(Some(_))) = (m.vlan.known(), m.tag.known()) {
        diags.error_at(
            AttributePath::attr("tag"),
            "Both vlan and tag are set",
            "Set `vlan` (the name of a rack_switch_vlan) or `tag`, not both.",
        );
    }
    let mode = m.vlan_mode.value().map(String::as_str);
    if mode == Some("trunk") {
        for attr in ["tag", "vlan"] {
            let set = match attr {
                "tag" => m.tag.value().is_some(),
                _ => m.vlan.value().is_some(),
            };
            if set {
                diags.error_at(
                    AttributePath::attr(attr),
                    format!("A trunk port has no {attr}"),
                    "`tag` (or `vlan`) is the access VLAN, or the native VLAN of `native-tagged` \
                     and `native-untagged`; a `trunk` port carries `trunks` only. Change \
                     `vlan_mode` or remove it.",
                );
            }
        }
    }
    let Some(Some(interfaces)) = m.interfaces.known() else {
        return;
    };
    let bond_settings = m.bond_mode.value().is_some() || m.lacp.value().is_some();
    if interfaces.is_empty() || (bond_settings && interfaces.len() < 2) {
        diags.error_at(
            AttributePath::attr("interfaces"),
            if interfaces.is_empty() {
                "A port needs an interface"
            } else {
                "A bond has two or more interfaces"
            },
            "List one interface for a plain port, or two or more for a bond (`bond_mode`, `lacp`).",
        );
    }
    let mut seen = BTreeSet::new();
    for (i, iface) in interfaces.iter().enumerate() {
        let path = AttributePath::attr("interfaces")
            .join_index(i)
            .join_attr("name");
        if !seen.insert(iface.name.as_str()) {
            diags.error_at(
                path.clone(),
                format!("Interface {:?} is listed twice", iface.name),
                "List each interface once.",
            );
        }
        let system = iface.kind.as_deref().is_none_or(|k| k == "system");
        if system && (iface.name.len() > MAX_IFNAME || iface.name.is_empty()) {
            diags.error_at(
                path,
                format!("Interface name {:?} is too long", iface.name),
                format!(
                    "A system interface is a Linux network device, whose name has 1 to \
                     {MAX_IFNAME} characters ({} here).",
                    iface.name.len()
                ),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(pairs: &[(&str, Value)]) -> Value {
        let mut attrs: BTreeMap<String, Value> = SwitchPort
            .schema()
            .block
            .attributes
            .iter()
            .map(|a| (a.name.clone(), Value::Null))
            .collect();
        attrs.insert("bridge".into(), Value::from("br0"));
        attrs.insert("name".into(), Value::from("p1"));
        for (k, v) in pairs {
            attrs.insert((*k).into(), v.clone());
        }
        Value::Object(attrs)
    }

    fn iface(name: &str) -> Value {
        Value::object([
            ("name", Value::from(name)),
            ("type", Value::Null),
            ("options", Value::Null),
        ])
    }

    fn paths(v: &Value) -> Vec<String> {
        let m: PortModel = typed::from_value(v).unwrap();
        let mut d = Diagnostics::new();
        validate_port(&m, &mut d);
        d.into_vec()
            .into_iter()
            .map(|d| {
                format!(
                    "{}: {}",
                    d.attribute.map(|p| p.to_string()).unwrap_or_default(),
                    d.summary
                )
            })
            .collect()
    }

    #[test]
    fn bad_combinations_point_at_their_attribute() {
        let bond = config(&[
            ("interfaces", Value::List(vec![iface("eth1")])),
            ("bond_mode", Value::from("active-backup")),
        ]);
        assert_eq!(
            paths(&bond),
            ["interfaces: A bond has two or more interfaces"]
        );
        let long = config(&[("interfaces", Value::List(vec![iface("a-very-long-name0")]))]);
        assert_eq!(
            paths(&long),
            ["interfaces[0].name: Interface name \"a-very-long-name0\" is too long"]
        );
        let trunk_tag = config(&[
            ("vlan_mode", Value::from("trunk")),
            ("tag", Value::Number(Number::from(10))),
        ]);
        assert_eq!(paths(&trunk_tag), ["tag: A trunk port has no tag"]);
        let both = config(&[
            ("vlan", Value::from("web")),
            ("tag", Value::Number(Number::from(10))),
        ]);
        assert_eq!(paths(&both), ["tag: Both vlan and tag are set"]);
        let fine = config(&[
            (
                "interfaces",
                Value::List(vec![iface("eth1"), iface("eth2")]),
            ),
            ("bond_mode", Value::from("balance-slb")),
        ]);
        assert!(paths(&fine).is_empty());
    }
}
