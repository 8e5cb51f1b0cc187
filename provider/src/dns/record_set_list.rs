//! `list "rack_dns_record_set"`: every RRset of a zone (except the apex SOA and NS, which
//! `rack_dns_zone` manages), so `terraform query -generate-config-out` can adopt a zone.

use async_trait::async_trait;
use rack_core::dns::RecordType;
use serde::Deserialize;

use super::record_set::{identity, state_value};
use super::shared::{RrsetKey, dns_error, parse_zone, records_for_state, server};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{
    AttributePath, Context, Diagnostics, ListItem, ListRequest, ListResource, ListSink,
};
use crate::protocol::value::Value;

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecordSetList;

#[async_trait]
impl ListResource for DnsRecordSetList {
    fn type_name(&self) -> &'static str {
        "rack_dns_record_set"
    }

    fn schema(&self) -> Schema {
        Schema::new(Block::new("Lists the record sets of one zone.").attributes([
            Attribute::string("zone").required().description("The zone to list, e.g. `farm.`."),
            Attribute::string("server")
                .optional()
                .description("Name of a server in the provider's `dns` block; the default server when omitted."),
        ]))
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        if let Ok(c) = typed::from_value::<ListConfig>(config)
            && let Some(Err(d)) = c
                .zone
                .value()
                .map(|z| parse_zone(z, &AttributePath::attr("zone")))
        {
            diags.push(d);
        }
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let listed = async {
            let config: ListConfig = typed::from_value(&req.config)?;
            let zone_text = config.zone.value().cloned().unwrap_or_default();
            let zone = parse_zone(&zone_text, &AttributePath::attr("zone"))?;
            let srv = server(ctx, config.server.value().map(String::as_str))?;
            let snapshot = srv
                .client
                .zone_fresh(&zone)
                .await
                .map_err(|e| dns_error(&e, &format!("list zone {zone}")))?;
            // The apex SOA and NS belong to `rack_dns_zone`.
            let listed = snapshot.rrsets().filter(|rrset| {
                let apex = rrset.name == zone;
                !(matches!(rrset.rtype, RecordType::Soa) || (apex && rrset.rtype == RecordType::Ns))
            });
            let items: Vec<_> = listed
                .map(|rrset| {
                    let key = RrsetKey {
                        zone: zone.clone(),
                        owner: rrset.name.clone(),
                        rtype: rrset.rtype,
                    };
                    let name = key.owner.relative_to(&zone);
                    let resource = req.include_resource.then(|| {
                        let records = records_for_state(None, rrset, &zone);
                        state_value(&srv.name, &zone_text, &name, &key, rrset.ttl, records)
                    });
                    Ok(ListItem {
                        identity: identity(&srv.name, &key),
                        display_name: format!("{} {}", key.owner, key.rtype),
                        resource: resource.transpose()?,
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
    zone: Planned<Option<String>>,
    server: Planned<Option<String>>,
}
