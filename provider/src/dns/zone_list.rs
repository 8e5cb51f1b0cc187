//! `list "rack_dns_zone"`: the zones a DNS server holds that rack can manage, so
//! `terraform query -generate-config-out` can adopt them (and then their record sets,
//! with `list "rack_dns_record_set"`).

use async_trait::async_trait;
use serde::Deserialize;

use super::shared::server;
use super::zone::{listed_identity, listed_state, listing_unsupported};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsZoneList;

#[async_trait]
impl ListResource for DnsZoneList {
    fn type_name(&self) -> &'static str {
        "rack_dns_zone"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists the zones of one DNS server, through its zone management: on PowerDNS \
                 every zone of the server; on BIND the zones with a zone file in the \
                 server's `zone_directory` (`<zone>.db`, as rack writes them) that named \
                 serves. One read of each zone when the resources are asked for. When the \
                 resources are asked for (`include_resource`, `-generate-config-out`), a \
                 zone with a name server inside itself (which needs glue records rack does \
                 not write) is left out, with a warning.",
            )
            .attributes([Attribute::string("server").optional().description(
                "Name of a server in the provider's `dns` block; the default server when \
                 omitted.",
            )]),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let listed = async {
            let config: ListConfig = typed::from_value(&req.config)?;
            let srv = server(ctx, config.server.value().map(String::as_str))?;
            let zones = srv.zones.clone().ok_or_else(|| listing_unsupported(&srv))?;
            let names = zones.list().await.map_err(|e| {
                Diagnostic::from_error(
                    &e,
                    &format!("Listing the zones of DNS server {:?}.", srv.name),
                )
            })?;
            for zone in names.into_iter().take(req.max_items()) {
                let resource = if req.include_resource {
                    listed_state(&srv, &zone).await?
                } else {
                    None
                };
                if req.include_resource && resource.is_none() {
                    // Terraform cannot generate configuration from an item without its
                    // resource object: leave the zone out, and say so.
                    sink.diagnostic(Diagnostic::warning(
                        format!("Zone {zone} is not listed"),
                        "A name server of the zone is inside it: that needs address \
                         records (glue) in the zone, which rack_dns_zone does not manage.",
                    ))
                    .await;
                    continue;
                }
                let item = ListItem {
                    identity: listed_identity(&srv.name, &zone),
                    display_name: zone.to_string(),
                    resource,
                };
                if !sink.item(item).await {
                    break;
                }
            }
            Ok(())
        };
        sink.finish(listed.await).await;
    }
}

/// The list block's configuration.
#[derive(Debug, Deserialize)]
struct ListConfig {
    server: Planned<Option<String>>,
}
