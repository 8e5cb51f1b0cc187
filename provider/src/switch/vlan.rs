//! `rack_switch_vlan`: a named VLAN of a bridge (tag, name, description), kept in the
//! bridge's `external_ids` as `rack-vlan:<name>`, so ports refer to it by name and plans
//! read "web" rather than 110.

use async_trait::async_trait;
use rack_core::ovsdb::{Change, Vlan};
use serde::{Deserialize, Serialize};

use super::shared::{
    apply, bridged_id_attribute, bridged_identity, deleted, import_target, no_bridge, plan_server,
    server, server_attribute, snapshot, unknown_at_apply, written,
};
use crate::framework::attrs::obj_set;
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::{IntBetween, check};
use crate::framework::{
    ApplyRequest, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest, PlanRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::Value;

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchVlan;

/// The VLAN's attributes.
#[derive(Debug, Deserialize, Serialize)]
pub(crate) struct VlanModel {
    server: Planned<Option<String>>,
    bridge: Planned<Option<String>>,
    name: Planned<Option<String>>,
    tag: Planned<Option<i64>>,
    description: Planned<Option<String>>,
    id: Planned<Option<String>>,
}

impl VlanModel {
    fn server(&self) -> Option<&str> {
        self.server.value().map(String::as_str)
    }

    fn key(&self) -> Result<(String, String), Diagnostic> {
        match (self.bridge.value(), self.name.value()) {
            (Some(b), Some(n)) => Ok((b.clone(), n.clone())),
            _ => Err(unknown_at_apply()),
        }
    }

    fn vlan(&self) -> Result<Vlan, Diagnostic> {
        Ok(Vlan {
            name: self.name.value().ok_or_else(unknown_at_apply)?.clone(),
            tag: self
                .tag
                .value()
                .and_then(|t| u16::try_from(*t).ok())
                .ok_or_else(unknown_at_apply)?,
            description: self.description.value().cloned().unwrap_or_default(),
        })
    }

    fn of(server: &str, bridge: &str, v: &Vlan) -> Self {
        Self {
            server: Some(server.to_owned()).into(),
            bridge: Some(bridge.to_owned()).into(),
            name: Some(v.name.clone()).into(),
            tag: Some(i64::from(v.tag)).into(),
            description: Some(v.description.clone()).into(),
            id: Some(format!("{bridge}/{}", v.name)).into(),
        }
    }
}

pub(crate) fn identity(server: &str, bridge: &str, name: &str) -> Value {
    Value::object([
        ("server", Value::from(server)),
        ("bridge", Value::from(bridge)),
        ("name", Value::from(name)),
    ])
}

/// The state and identity of VLAN `v` of `bridge`.
pub(crate) fn vlan_state(
    server: &str,
    bridge: &str,
    v: &Vlan,
) -> Result<(Value, Value), Diagnostic> {
    let state = typed::to_value(
        &VlanModel::of(server, bridge, v),
        &SwitchVlan.schema().value_type(),
    )?;
    Ok((state, identity(server, bridge, &v.name)))
}

#[async_trait]
impl Resource for SwitchVlan {
    fn type_name(&self) -> &'static str {
        "rack_switch_vlan"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "A named VLAN of a bridge, kept in the bridge's `external_ids` \
                 (`rack-vlan:<name>`). Ports use it with `vlan = rack_switch_vlan.NAME.name`, \
                 so plans name the VLAN rather than its number.",
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
                    .description("The VLAN's name, e.g. `web`.")
                    .validator(check(
                        "Letters, digits, `-`, `_` and `.`.",
                        "Invalid VLAN name",
                        |v| match v.as_str() {
                            Some(s)
                                if s.is_empty()
                                    || !s.chars().all(|c| {
                                        c.is_ascii_alphanumeric() || "-_.".contains(c)
                                    }) =>
                            {
                                Err(format!("{s:?}: use letters, digits, `-`, `_` and `.`."))
                            }
                            _ => Ok(()),
                        },
                    )),
                Attribute::number("tag")
                    .required()
                    .description("The 802.1Q VLAN id, 1 to 4094.")
                    .validator(IntBetween(1, 4094)),
                Attribute::string("description")
                    .optional()
                    .computed()
                    .default(Value::from(""))
                    .description("Free text."),
                bridged_id_attribute(),
            ]),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(bridged_identity("The VLAN's name."))
    }

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        if plan.planned.is_null() {
            return;
        }
        plan_server(ctx, &mut plan.planned);
        if let (Some(b), Some(n)) = (
            req.config.attr("bridge").and_then(Value::as_str),
            req.config.attr("name").and_then(Value::as_str),
        ) {
            obj_set(&mut plan.planned, "id", Value::from(format!("{b}/{n}")));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let created = async {
            let planned: VlanModel = typed::from_value(&req.planned)?;
            let (bridge, name) = planned.key()?;
            let v = planned.vlan()?;
            let srv = server(ctx, planned.server())?;
            if snapshot(&srv).await?.bridge(&bridge).is_none() {
                return Err(no_bridge(&bridge, &srv.name).into());
            }
            let change = Change::Vlan {
                bridge: bridge.clone(),
                name: name.clone(),
                want: Some(v.clone()),
                expect: Some(None),
            };
            apply(
                &srv,
                change,
                &format!("create VLAN {name:?} on bridge {bridge:?}"),
            )
            .await?;
            written(vlan_state(&srv.name, &bridge, &v))
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let read = async {
            let stored: VlanModel = typed::from_value(&state)?;
            let (bridge, name) = stored.key()?;
            let srv = server(ctx, stored.server())?;
            match snapshot(&srv).await?.vlan(&bridge, &name) {
                Some(v) => written(vlan_state(&srv.name, &bridge, &v)),
                None => Ok(StateResult::default()),
            }
        };
        let read = read.await;
        StateResult::or_failed(read, state)
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let prior_value = req.prior.clone();
        let updated = async {
            let planned: VlanModel = typed::from_value(&req.planned)?;
            let prior: VlanModel = typed::from_value(&req.prior)?;
            let (bridge, name) = planned.key()?;
            let v = planned.vlan()?;
            let srv = server(ctx, planned.server())?;
            let change = Change::Vlan {
                bridge: bridge.clone(),
                name: name.clone(),
                want: Some(v.clone()),
                expect: Some(Some(prior.vlan()?)),
            };
            apply(
                &srv,
                change,
                &format!("update VLAN {name:?} on bridge {bridge:?}"),
            )
            .await?;
            written(vlan_state(&srv.name, &bridge, &v))
        };
        StateResult::or_failed(updated.await, prior_value)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let removed = async {
            let prior: VlanModel = typed::from_value(&req.prior)?;
            let (bridge, name) = prior.key()?;
            let srv = server(ctx, prior.server())?;
            if snapshot(&srv).await?.bridge(&bridge).is_none() {
                return Ok(());
            }
            let change = Change::Vlan {
                bridge: bridge.clone(),
                name: name.clone(),
                want: None,
                expect: None,
            };
            Ok(apply(
                &srv,
                change,
                &format!("delete VLAN {name:?} on bridge {bridge:?}"),
            )
            .await?)
        };
        deleted(removed.await)
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let usage = "Use `<bridge>/<vlan>`, e.g. `br0/web`, or `<switch>/<bridge>/<vlan>` \
                         for another switch than the default.";
            let (target, srv, snap) = import_target(ctx, &req, true, usage).await?;
            let (bridge, name) = (target.bridge.unwrap_or_default(), target.name);
            let v = snap.vlan(&bridge, &name).ok_or_else(|| {
                Diagnostic::error(
                    format!("No VLAN {name:?} on bridge {bridge:?}"),
                    format!(
                        "Bridge {bridge:?} of switch {:?} has no external_ids key rack-vlan:{name}.",
                        srv.name
                    ),
                )
            })?;
            written(vlan_state(&srv.name, &bridge, &v))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}
