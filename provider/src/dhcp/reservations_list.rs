//! `list "rack_dhcp_reservations"`: one item, every reservation of one subnet known by a
//! MAC address, client identifier or circuit ID, so `terraform query
//! -generate-config-out` adopts a whole subnet as one `rack_dhcp_reservations` (one read
//! of the server).

use async_trait::async_trait;
use serde::Deserialize;

use super::reservations::{identity, whole_subnet};
use super::shared::{parse_subnet, server};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    AttributePath, Context, Diagnostics, ListItem, ListRequest, ListResource, ListSink,
};
use crate::protocol::value::Value;

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpReservationsList;

#[async_trait]
impl ListResource for DhcpReservationsList {
    fn type_name(&self) -> &'static str {
        "rack_dhcp_reservations"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists one subnet of a DHCP server as one `rack_dhcp_reservations` holding \
                 every reservation of it known by a MAC address or client identifier.",
            )
            .attributes([
                Attribute::string("subnet")
                    .required()
                    .description("The subnet, as a CIDR, e.g. `10.10.60.0/24`."),
                Attribute::string("server").optional().description(
                    "Name of a server in the provider's `dhcp` block; the default server when \
                     omitted.",
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
            let text = config.subnet.value().map_or("", String::as_str);
            let subnet = parse_subnet(text).map_err(|d| d.at(AttributePath::attr("subnet")))?;
            let srv = server(ctx, config.server.value().map(String::as_str))?;
            let resource = if req.include_resource {
                Some(whole_subnet(&srv, subnet, text).await?)
            } else {
                None
            };
            let item = ListItem {
                identity: identity(&srv.name, subnet),
                display_name: format!("reservations of {subnet}"),
                resource,
            };
            sink.send_all([Ok(item)]).await
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
