//! What the switch resources, data source and list resources share: finding the switch,
//! OVSDB errors as diagnostics, import IDs, and the server attribute's planning.

use std::sync::Arc;

use rack_core::ovsdb::{Change, OvsdbError, Snapshot};
use serde::Deserialize;

use super::provider_block::{SwitchServer, SwitchServers};
use crate::config;
use crate::framework::attrs::obj_set;
use crate::framework::schema::{Attribute, IdentityAttribute, IdentitySchema};
use crate::framework::typed;
use crate::framework::{
    AttributePath, Context, Diagnostic, Diagnostics, ImportRequest, StateResult,
};
use crate::protocol::value::Value;

/// The longest Linux network interface name (IFNAMSIZ - 1): OVS opens `system`
/// interfaces by this name.
pub const MAX_IFNAME: usize = 15;

/// The switch a resource names (or the default), from the configured provider.
pub fn server(ctx: &Context, name: Option<&str>) -> Result<Arc<SwitchServer>, Diagnostic> {
    config::clients::<SwitchServers>(ctx)?.get(name)
}

/// The switch's snapshot (read once per run), or a diagnostic naming the switch.
pub async fn snapshot(srv: &SwitchServer) -> Result<Arc<Snapshot>, Diagnostic> {
    srv.client
        .snapshot()
        .await
        .map_err(|e| ovsdb_error(&e, &format!("read switch {:?}", srv.name)))
}

/// An OVSDB error as a diagnostic: what rack was doing, the error, what to do about it.
pub fn ovsdb_error(e: &OvsdbError, doing: &str) -> Diagnostic {
    let hint = match e {
        OvsdbError::Connect { .. } => {
            "Check the switch's address in the provider block, that ovsdb-server listens there \
             (`ovs-appctl -t ovsdb-server ovsdb-server/list-remotes`) and, for ssl:, the \
             certificates."
        }
        OvsdbError::Changed { .. } => {
            "Someone changed it on the switch after Terraform read it, so rack did not \
             overwrite it. Run `terraform plan` to see the change, then apply again."
        }
        OvsdbError::Exists(_) => "Pick another name, or import the existing object.",
        OvsdbError::InterfaceFailed { .. } => {
            "The switch holds the change but ovs-vswitchd could not bring the interface up; \
             check its name and type (`ovs-vsctl list interface NAME`)."
        }
        OvsdbError::NotApplied(_) => {
            "The database holds the change, but ovs-vswitchd did not apply it: check that it \
             runs and its log."
        }
        _ => "",
    };
    let mut d = Diagnostic::from_error(e, hint);
    d.summary = format!("Cannot {doing}: {}", d.summary);
    d
}

/// The `server` attribute of every switch resource.
pub fn server_attribute() -> Attribute {
    Attribute::string("server")
        .optional()
        .computed()
        .requires_replace()
        .description(
            "Name of a switch in the provider's `switch` block; the default switch when \
             omitted.",
        )
}

/// The `server` attribute of every switch identity.
pub fn server_identity() -> IdentityAttribute {
    IdentityAttribute::optional_string("server", "Switch name; the default switch when omitted.")
}

/// The identity of an object of a bridge (a port, a VLAN): switch, bridge and `name`,
/// described as `name`.
pub fn bridged_identity(name: &str) -> IdentitySchema {
    IdentitySchema {
        version: 0,
        attributes: vec![
            server_identity(),
            IdentityAttribute::required_string("bridge", "The bridge."),
            IdentityAttribute::required_string("name", name),
        ],
    }
}

/// The `id` of an object of a bridge.
pub fn bridged_id_attribute() -> Attribute {
    Attribute::string("id").computed().description(
        "`<bridge>/<name>`, the import ID (`<switch>/<bridge>/<name>` for another switch than \
         the default).",
    )
}

/// Plans `server` as the default switch's name when the configuration leaves it out.
pub fn plan_server(ctx: &Context, planned: &mut Value) {
    if planned.attr("server").is_some_and(Value::is_unknown)
        && let Ok(srv) = server(ctx, None)
    {
        obj_set(planned, "server", Value::from(srv.name.as_str()));
    }
}

/// Splits an import ID of `n` parts, with an optional leading switch name.
fn import_parts(
    id: &str,
    n: usize,
    usage: &str,
) -> Result<(Option<String>, Vec<String>), Diagnostic> {
    let parts: Vec<String> = id.split('/').map(str::to_owned).collect();
    if parts.iter().any(String::is_empty) || !(parts.len() == n || parts.len() == n + 1) {
        return Err(Diagnostic::invalid_import_id(id, usage));
    }
    Ok(if parts.len() == n + 1 {
        (Some(parts[0].clone()), parts[1..].to_vec())
    } else {
        (None, parts)
    })
}

/// The error of an apply whose plan lacks what it needs.
pub fn unknown_at_apply() -> Diagnostic {
    Diagnostic::error(
        "Unknown values at apply",
        "This is a bug in the provider; please report it.",
    )
}

/// The diagnostic for a bridge that is not on the switch.
pub fn no_bridge(bridge: &str, server: &str) -> Diagnostic {
    Diagnostic::error(
        format!("Bridge {bridge:?} does not exist on switch {server:?}"),
        "Create it with a rack_switch_bridge resource (or `ovs-vsctl add-br`), or name an \
         existing bridge.",
    )
    .at(AttributePath::attr("bridge"))
}

/// What an import names, read from an import ID (`[<switch>/]<bridge>/<name>`, or
/// `[<switch>/]<name>` for a bridge) or an identity.
#[derive(Debug, Deserialize)]
pub struct ImportTarget {
    /// The switch; the default one when `None`.
    pub server: Option<String>,
    /// The bridge (none for a bridge itself).
    #[serde(default)]
    pub bridge: Option<String>,
    /// The object's name.
    #[serde(default)]
    pub name: String,
}

/// Reads what an import names: with a bridge (`bridged`) or without, and the usage for a
/// bad ID. Returns the target, its switch and the switch read fresh.
pub async fn import_target(
    ctx: &Context,
    req: &ImportRequest,
    bridged: bool,
    usage: &str,
) -> Result<(ImportTarget, Arc<SwitchServer>, Arc<Snapshot>), Diagnostic> {
    let target = match req {
        ImportRequest::Id(id) => {
            let (server, mut parts) = import_parts(id, if bridged { 2 } else { 1 }, usage)?;
            let name = parts.pop().unwrap_or_default();
            ImportTarget {
                server,
                bridge: parts.pop(),
                name,
            }
        }
        ImportRequest::Identity(v) => typed::from_value(v)?,
    };
    let srv = server(ctx, target.server.as_deref())?;
    srv.client.invalidate().await;
    let snap = snapshot(&srv).await?;
    Ok((target, srv, snap))
}

/// Applies `change` on `srv`; an error says what rack was `doing`.
pub async fn apply(srv: &SwitchServer, change: Change, doing: &str) -> Result<(), Diagnostic> {
    srv.client
        .apply(change)
        .await
        .map_err(|e| ovsdb_error(&e, doing))
}

/// The answer of a delete.
pub fn deleted(result: Result<(), Diagnostics>) -> Diagnostics {
    result.err().unwrap_or_default()
}

/// A state result from a state and its identity.
pub fn written(answer: Result<(Value, Value), Diagnostic>) -> Result<StateResult, Diagnostics> {
    let (state, identity) = answer?;
    Ok(StateResult {
        state,
        identity: Some(identity),
        ..StateResult::default()
    })
}
