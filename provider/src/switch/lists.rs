//! What the three list resources share: the list block's `server` and the switch read
//! fresh for `terraform query`.

use std::sync::Arc;

use rack_core::ovsdb::Snapshot;
use serde::Deserialize;

use super::provider_block::SwitchServer;
use super::shared::{server, snapshot};
use crate::framework::schema::Attribute;
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, Diagnostic, ListItem};
use crate::protocol::value::Value;

/// A list block's configuration: the switch, and a bridge to list within.
#[derive(Debug, Deserialize)]
pub struct ListConfig {
    /// The switch.
    pub server: Planned<Option<String>>,
    /// Only this bridge.
    pub bridge: Planned<Option<String>>,
}

/// The list blocks' attributes.
pub fn list_attributes() -> [Attribute; 2] {
    [
        Attribute::string("server").optional().description(
            "Name of a switch in the provider's `switch` block; the default switch when omitted.",
        ),
        Attribute::string("bridge")
            .optional()
            .description("Only this bridge; every bridge when omitted."),
    ]
}

/// The switch the list names, read fresh, and the bridges to list.
pub async fn listed(
    ctx: &Context,
    config: &Value,
) -> Result<(Arc<SwitchServer>, Arc<Snapshot>, Vec<String>), Diagnostic> {
    let c: ListConfig = typed::from_value(config)?;
    let srv = server(ctx, c.server.value().map(String::as_str))?;
    srv.client.invalidate().await;
    let snap = snapshot(&srv).await?;
    let bridges = match c.bridge.value() {
        Some(b) => vec![b.clone()],
        None => snap.bridge_names(),
    };
    Ok((srv, snap, bridges))
}

/// One list item from a state function's answer.
pub fn item(
    include: bool,
    display_name: String,
    answer: Result<(Value, Value), Diagnostic>,
) -> Result<ListItem, Diagnostic> {
    let (state, identity) = answer?;
    Ok(ListItem {
        identity,
        display_name,
        resource: include.then_some(state),
    })
}
