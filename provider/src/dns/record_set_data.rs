//! `rack_dns_record_set` data source: one RRset, asked of the server directly (not from a
//! zone transfer), so it also reads names in zones the key may not transfer.

use std::collections::BTreeSet;

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use super::shared::{RECORD_TYPES, dns_error, key_from, normalised, server};
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::validate::one_of;
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::{Type, Value};

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsRecordSetData;

#[async_trait]
impl DataSource for DnsRecordSetData {
    fn type_name(&self) -> &'static str {
        "rack_dns_record_set"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Reads one record set (all records of one name and type) by asking the server \
                 directly. A record set that does not exist is an error naming it, so a \
                 configuration never goes on with an empty answer by mistake.",
            )
            .attributes([
                Attribute::string("zone")
                    .required()
                    .description("The zone, e.g. `farm.`."),
                Attribute::string("name").required().description(
                    "Owner name: `@` for the apex, a name relative to the zone (`www`), or an \
                     absolute name inside the zone (`www.farm.`).",
                ),
                Attribute::string("type")
                    .required()
                    .description("Record type.")
                    .validator(one_of(RECORD_TYPES)),
                Attribute::string("server").optional().computed().description(
                    "Name of a server in the provider's `dns` block; the default server when omitted.",
                ),
                Attribute::string("fqdn")
                    .computed()
                    .description("The absolute owner name."),
                Attribute::number("ttl")
                    .computed()
                    .description("Time to live, seconds."),
                Attribute::set("records", Type::String).computed().description(
                    "The records' data in normalised zone-file syntax with absolute names.",
                ),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let mut data: RecordSetData = typed::from_value(&config)?;
            let key = key_from(data.zone.value(), data.name.value(), data.rtype.value())?
                .ok_or_else(|| {
                    Diagnostic::error(
                        "Unknown zone, name or type",
                        "zone, name and type must be known when the data source is read.",
                    )
                })?;
            let srv = server(ctx, data.server.value().map(String::as_str))?;
            let rrset = srv
                .client
                .query(&key.owner, key.rtype)
                .await
                .map_err(|e| dns_error(&e, &format!("read {} {}", key.owner, key.rtype)))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No {} records at {}", key.rtype, key.owner),
                        format!(
                            "Server {:?} answered that {} has no {} record set. Check the name \
                             and type, or create the records first.",
                            srv.name, key.owner, key.rtype
                        ),
                    )
                    .at(AttributePath::attr("name"))
                })?;
            data.server = Some(srv.name.clone()).into();
            data.fqdn = Some(key.owner.to_string()).into();
            data.ttl = Some(rrset.ttl).into();
            data.records = Some(normalised(&rrset.rdata)).into();
            Ok(typed::to_value(&data, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}

/// The data source's configuration and what it reads.
#[derive(Debug, Deserialize, Serialize)]
struct RecordSetData {
    zone: Planned<Option<String>>,
    name: Planned<Option<String>>,
    #[serde(rename = "type")]
    rtype: Planned<Option<String>>,
    server: Planned<Option<String>>,
    fqdn: Planned<Option<String>>,
    ttl: Planned<Option<u32>>,
    records: Planned<Option<BTreeSet<String>>>,
}
