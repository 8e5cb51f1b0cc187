//! `rack_switch_bridge`: an Open vSwitch bridge, created with its internal port and
//! interface of the same name, as `ovs-vsctl add-br` does. Its ports and VLANs are other
//! resources; deleting the bridge deletes the ports still on it.

use std::collections::BTreeMap;

use async_trait::async_trait;
use rack_core::ovsdb::{BridgeSpec, BridgeState, Change};
use serde::{Deserialize, Serialize};

use super::provider_block::SwitchServer;
use super::shared::{
    apply, deleted, import_target, plan_server, server, server_attribute, server_identity,
    snapshot, unknown_at_apply, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentityAttribute, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::one_of;
use crate::framework::{
    ApplyRequest, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest, PlanRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchBridge;

/// The bridge's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct BridgeModel {
    server: Planned<Option<String>>,
    name: Planned<Option<String>>,
    datapath_type: Planned<Option<String>>,
    fail_mode: Planned<Option<String>>,
    stp_enable: Planned<Option<bool>>,
    other_config: Planned<Option<BTreeMap<String, String>>>,
    ports: Planned<Option<Vec<String>>>,
    id: Planned<Option<String>>,
}

impl BridgeModel {
    fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    fn spec(&self) -> Result<BridgeSpec, Diagnostic> {
        Ok(BridgeSpec {
            name: self.name.value().ok_or_else(unknown_at_apply)?.clone(),
            datapath_type: self
                .datapath_type
                .value()
                .cloned()
                .unwrap_or_else(|| "system".into()),
            fail_mode: self.fail_mode.value().cloned(),
            stp_enable: self.stp_enable.value().copied().unwrap_or(false),
            other_config: self.other_config.value().cloned().unwrap_or_default(),
        })
    }

    fn of(server: &str, b: &BridgeState) -> Self {
        Self {
            server: Some(server.to_owned()).into(),
            name: Some(b.spec.name.clone()).into(),
            datapath_type: Some(b.spec.datapath_type.clone()).into(),
            fail_mode: b.spec.fail_mode.clone().into(),
            stp_enable: Some(b.spec.stp_enable).into(),
            other_config: Some(b.spec.other_config.clone()).into(),
            ports: Some(b.ports.clone()).into(),
            id: Some(b.spec.name.clone()).into(),
        }
    }
}

pub(crate) fn identity(server: &str, name: &str) -> Value {
    Value::object([("server", Value::from(server)), ("name", Value::from(name))])
}

/// The state and identity of bridge `b`.
pub(crate) fn bridge_state(server: &str, b: &BridgeState) -> Result<(Value, Value), Diagnostic> {
    let state = typed::to_value(
        &BridgeModel::of(server, b),
        &SwitchBridge.schema().value_type(),
    )?;
    Ok((state, identity(server, &b.spec.name)))
}

#[async_trait]
impl Resource for SwitchBridge {
    fn type_name(&self) -> &'static str {
        "rack_switch_bridge"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "An Open vSwitch bridge, written over OVSDB, with its internal port of the same \
                 name. Destroying it removes the bridge with every port still on it.",
            )
            .attributes([
                server_attribute(),
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("The bridge's name."),
                Attribute::string("datapath_type")
                    .optional()
                    .computed()
                    .default(Value::from("system"))
                    .description(
                        "`system` (the kernel datapath) or `netdev` (the userspace datapath). \
                         Default: `system`.",
                    )
                    .validator(one_of(["system", "netdev"])),
                Attribute::string("fail_mode")
                    .optional()
                    .description(
                        "`standalone` (learn and forward like a switch without a controller) or \
                         `secure` (forward only by flows a controller installs). Unset: OVS's \
                         default, standalone.",
                    )
                    .validator(one_of(["standalone", "secure"])),
                Attribute::bool("stp_enable")
                    .optional()
                    .computed()
                    .default(Value::Bool(false))
                    .description("Whether the bridge runs 802.1D spanning tree. Default: false."),
                Attribute::map("other_config", Type::String)
                    .optional()
                    .computed()
                    .default(Value::Map(BTreeMap::new()))
                    .description("The bridge's `other_config`."),
                Attribute::list("ports", Type::String)
                    .computed()
                    .description("The names of the bridge's ports, its own internal port included."),
                Attribute::string("id")
                    .computed()
                    .description("The bridge's name, the import ID (`<switch>/<name>` for another switch than the default)."),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                server_identity(),
                IdentityAttribute::required_string("name", "The bridge's name."),
            ],
        })
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        if let Some(name) = req.config.attr("name").filter(|n| n.as_str().is_some()) {
            obj_set(&mut plan.planned, "id", name.clone());
        }
        // The ports are other resources': keep what was read until apply reads again.
        if let Some(ports) = req.prior.attr("ports").filter(|p| !p.is_null()) {
            obj_set(&mut plan.planned, "ports", ports.clone());
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: BridgeModel = typed::from_value(&req.planned)?;
            let spec = planned.spec()?;
            let srv = server(ctx, planned.server())?;
            let name = spec.name.clone();
            let change = Change::Bridge {
                name: name.clone(),
                want: Some(spec),
                expect: Some(None),
            };
            apply(&srv, change, &format!("create bridge {name:?}")).await?;
            applied(&srv, &name).await
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: BridgeModel = typed::from_value(&state)?;
            let name = stored.name.value().cloned().unwrap_or_default();
            let srv = server(ctx, stored.server())?;
            match snapshot(&srv).await?.bridge(&name) {
                Some(b) => written(bridge_state(&srv.name, &b)),
                None => Ok(StateResult::default()),
            }
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: BridgeModel = typed::from_value(&req.planned)?;
            let prior: BridgeModel = typed::from_value(&req.prior)?;
            let spec = planned.spec()?;
            let srv = server(ctx, planned.server())?;
            let name = spec.name.clone();
            let expect = Some(Some(prior.spec()?));
            let change = Change::Bridge {
                name: name.clone(),
                want: Some(spec),
                expect,
            };
            apply(&srv, change, &format!("update bridge {name:?}")).await?;
            applied(&srv, &name).await
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: BridgeModel = typed::from_value(&req.prior)?;
            let Some(name) = prior.name.value().cloned() else {
                return Ok(());
            };
            let srv = server(ctx, prior.server())?;
            let change = Change::Bridge {
                name: name.clone(),
                want: None,
                expect: None,
            };
            Ok(apply(&srv, change, &format!("delete bridge {name:?}")).await?)
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use the bridge's name, e.g. `br0`, or `<switch>/<bridge>` for another \
                         switch than the default.";
            let (target, srv, snap) = import_target(ctx, &req, false, usage).await?;
            let name = target.name;
            let b = snap.bridge(&name).ok_or_else(|| {
                Diagnostic::error(
                    format!("No bridge {name:?}"),
                    format!(
                        "Switch {:?} has no such bridge (`ovs-vsctl list-br`).",
                        srv.name
                    ),
                )
            })?;
            written(bridge_state(&srv.name, &b))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

async fn applied(srv: &SwitchServer, name: &str) -> Result<StateResult, Diagnostics> {
    let b = snapshot(srv).await?.bridge(name).ok_or_else(|| {
        Diagnostic::error(
            format!("Bridge {name:?} is not on the switch after it was written"),
            "Someone removed it at once; run `terraform plan` to see.",
        )
    })?;
    written(bridge_state(&srv.name, &b))
}
