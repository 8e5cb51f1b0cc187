//! The DNS family: the provider block's `dns` section and its servers, the
//! `rack_dns_zone` and `rack_dns_record_set` resources, their data sources and the record
//! set list resource.

pub mod provider_block;
pub mod record_set;
pub mod record_set_data;
pub mod record_set_list;
pub mod records;
pub mod records_list;
pub mod shared;
pub mod zone;
pub mod zone_data;
pub mod zone_list;

use std::sync::Arc;

use crate::config::Family;
use crate::protocol::value::Value;

/// The DNS family, as the provider registers it.
pub fn family() -> Family {
    Family {
        blocks: vec![provider_block::block()],
        configure: |config, lookup, diags, clients| {
            let value = config.attr("dns").cloned().unwrap_or(Value::Null);
            clients.insert(provider_block::configure(&value, lookup, diags));
        },
        resources: vec![
            Arc::new(record_set::DnsRecordSet),
            Arc::new(records::DnsRecords),
            Arc::new(zone::DnsZone),
        ],
        data_sources: vec![
            Arc::new(zone_data::DnsZoneData),
            Arc::new(record_set_data::DnsRecordSetData),
        ],
        list_resources: vec![
            Arc::new(record_set_list::DnsRecordSetList),
            Arc::new(zone_list::DnsZoneList),
            Arc::new(records_list::DnsRecordsList),
        ],
        ..Family::default()
    }
}
