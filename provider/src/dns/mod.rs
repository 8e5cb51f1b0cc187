//! The DNS family: the provider block's `dns` section and its servers, the
//! `rack_dns_zone` and `rack_dns_record_set` resources, their data sources and the record
//! set list resource.

pub mod provider_block;
pub mod record_set;
pub mod record_set_data;
pub mod record_set_list;
pub mod shared;
pub mod zone;
pub mod zone_data;

use std::sync::Arc;

use crate::config::{Configured, Family, Lookup};
use crate::framework::schema::NestedBlock;
use crate::framework::{DataSource, Diagnostics, ListResource, Resource};
use crate::protocol::value::Value;

/// The DNS family, as the provider registers it.
pub fn family() -> Box<dyn Family> {
    Box::new(Dns)
}

struct Dns;

impl Family for Dns {
    fn blocks(&self) -> Vec<NestedBlock> {
        vec![provider_block::block()]
    }

    fn configure(
        &self,
        config: &Value,
        lookup: Lookup<'_>,
        diags: &mut Diagnostics,
        clients: &mut Configured,
    ) {
        let value = config.attr("dns").cloned().unwrap_or(Value::Null);
        clients.insert(provider_block::configure(&value, lookup, diags));
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(record_set::DnsRecordSet), Arc::new(zone::DnsZone)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(zone_data::DnsZoneData),
            Arc::new(record_set_data::DnsRecordSetData),
        ]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(record_set_list::DnsRecordSetList)]
    }
}
