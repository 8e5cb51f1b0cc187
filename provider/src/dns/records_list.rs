//! `list "rack_dns_records"`: one item per zone, holding every record set of it but the
//! apex SOA and NS, so `terraform query -generate-config-out` adopts a whole zone as one
//! `rack_dns_records` (one zone transfer per zone).

use async_trait::async_trait;
use serde::Deserialize;

use super::records::{identity, whole_zone};
use super::shared::{parse_zone, server};
use super::zone::listing_unsupported;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    AttributePath, Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink,
};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecordsList;

#[async_trait]
impl ListResource for DnsRecordsList {
    fn type_name(&self) -> &'static str {
        "rack_dns_records"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists zones of one DNS server, each as one `rack_dns_records` holding all its \
                 record sets but the apex SOA and NS: the zone named by `zone`, or every \
                 zone the server's zone management lists (as `list \"rack_dns_zone\"` does).",
            )
            .attributes([
                Attribute::string("zone")
                    .optional()
                    .description("The zone to list, e.g. `farm.`; every zone when omitted."),
                Attribute::string("server").optional().description(
                    "Name of a server in the provider's `dns` block; the default server when \
                     omitted.",
                ),
            ]),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let listed = async {
            let config: ListConfig = typed::from_value(&req.config)?;
            let srv = server(ctx, config.server.value().map(String::as_str))?;
            let zones = match config.zone.value() {
                Some(z) => vec![parse_zone(z, &AttributePath::attr("zone"))?],
                None => {
                    let manager = srv.zones.clone().ok_or_else(|| listing_unsupported(&srv))?;
                    manager.list().await.map_err(|e| {
                        Diagnostic::from_error(
                            &e,
                            &format!("Listing the zones of DNS server {:?}.", srv.name),
                        )
                    })?
                }
            };
            for zone in zones.into_iter().take(req.max_items()) {
                let resource = if req.include_resource {
                    Some(whole_zone(&srv, &zone, &zone.to_string()).await?)
                } else {
                    None
                };
                let item = ListItem {
                    identity: identity(&srv.name, &zone),
                    display_name: format!("records of {zone}"),
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
    zone: Planned<Option<String>>,
    server: Planned<Option<String>>,
}
