//! `list "rack_dhcp_lease"`: every reservation of one subnet of a DHCP server, known by a
//! MAC address or a client identifier, so `terraform query -generate-config-out` can adopt
//! hand-made reservations.

use async_trait::async_trait;
use rack_core::kea::HostIdentifier;
use serde::Deserialize;

use super::lease::lease_result;
use super::shared::{dhcp_error, identity, parse_subnet, server, state_of};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    AttributePath, Context, Diagnostics, ListItem, ListRequest, ListResource, ListSink,
};
use crate::protocol::value::Value;

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpLeaseList;

#[async_trait]
impl ListResource for DhcpLeaseList {
    fn type_name(&self) -> &'static str {
        "rack_dhcp_lease"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("Lists the reservations (static leases) of one subnet.").attributes([
                Attribute::string("subnet")
                    .required()
                    .description("The subnet to list, as a CIDR, e.g. `10.10.60.0/24`."),
                Attribute::string("server").optional().description(
                    "Name of a server in the provider's `dhcp` block; the default server when omitted.",
                ),
            ]),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Ok(c) = typed::from_value::<ListConfig>(config)
            && let Some(Err(d)) = c.subnet.value().map(|s| parse_subnet(s))
        {
            diags.push(d);
        }
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let listed = async {
            let config: ListConfig = typed::from_value(&req.config)?;
            let subnet = parse_subnet(config.subnet.value().map_or("", String::as_str))
                .map_err(|d| d.at(AttributePath::attr("subnet")))?;
            let srv = server(ctx, config.server.value().map(String::as_str))?;
            srv.backend.forget().await;
            let list = srv
                .backend
                .reservations(subnet)
                .await
                .map_err(|e| dhcp_error(&e, &format!("list the reservations of {subnet}")))?;
            let manageable = list.iter().filter(|r| {
                matches!(
                    r.identifier,
                    HostIdentifier::HwAddress(_) | HostIdentifier::ClientId(_)
                ) && r.ip_address.is_some()
            });
            let items: Vec<_> = manageable
                .take(req.max_items())
                .map(|r| {
                    Ok(ListItem {
                        identity: identity(&srv.name, r),
                        display_name: r.summary(),
                        resource: req
                            .include_resource
                            .then(|| lease_result(&srv.name, r, state_of(&srv.name, r, None)))
                            .transpose()?
                            .map(|s| s.state),
                    })
                })
                .collect();
            sink.send_all(items).await
        };
        sink.finish(listed.await).await;
    }
}

/// The list block's configuration.
#[derive(Debug, Deserialize)]
struct ListConfig {
    subnet: Planned<Option<String>>,
    server: Planned<Option<String>>,
}
