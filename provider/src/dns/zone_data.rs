//! `rack_dns_zone` data source: a zone's SOA and every RRset, read by one TSIG-signed
//! zone transfer (AXFR).

use std::collections::BTreeSet;

use async_trait::async_trait;
use rack_core::dns::{DnsError, RecordType};
use serde::{Deserialize, Serialize};

use super::shared::{dns_error, normalised, parse_zone, server, soa_of};
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::{Type, Value};

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsZoneData;

#[async_trait]
impl DataSource for DnsZoneData {
    fn type_name(&self) -> &'static str {
        "rack_dns_zone"
    }

    fn schema(&self) -> Schema {
        let soa = [
            ("mname", Type::String, "The primary name server."),
            (
                "rname",
                Type::String,
                "The responsible mailbox, written as a name.",
            ),
            ("serial", Type::Number, "The serial."),
            ("refresh", Type::Number, "Refresh interval, seconds."),
            ("retry", Type::Number, "Retry interval, seconds."),
            ("expire", Type::Number, "Expire time, seconds."),
            ("minimum", Type::Number, "TTL of negative answers, seconds."),
        ]
        .map(|(n, t, d)| Attribute::new(n, t).computed().description(d));
        let record_set = [
            Attribute::string("name")
                .computed()
                .description("Owner name relative to the zone (`@` for the apex)."),
            Attribute::string("fqdn")
                .computed()
                .description("The absolute owner name."),
            Attribute::string("type")
                .computed()
                .description("Record type."),
            Attribute::number("ttl")
                .computed()
                .description("Time to live, seconds."),
            Attribute::list("records", Type::String)
                .computed()
                .description(
                    "The records' data in normalised zone-file syntax with absolute names, sorted.",
                ),
        ];
        Schema::new(
            Block::new(
                "Reads a whole zone from its server by one zone transfer (AXFR), signed with the \
                 server's TSIG key: its SOA, apex name servers and every record set. The server \
                 must allow the key to transfer the zone (zones made by `rack_dns_zone` do).",
            )
            .attributes([
                Attribute::string("name")
                    .required()
                    .description("The zone, e.g. `farm.`."),
                Attribute::string("server").optional().computed().description(
                    "Name of a server in the provider's `dns` block; the default server when omitted.",
                ),
                Attribute::number("serial")
                    .computed()
                    .description("The SOA serial the transfer saw."),
                Attribute::nested("soa", Nesting::Single, soa)
                    .computed()
                    .description("The SOA record's fields."),
                Attribute::set("nameservers", Type::String)
                    .computed()
                    .description("The apex NS set, as absolute names."),
                Attribute::nested("record_sets", Nesting::List, record_set)
                    .computed()
                    .description(
                        "Every record set of the zone, the apex SOA and NS included, ordered by \
                         owner name, then type.",
                    ),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let wanted: ZoneConfig = typed::from_value(&config)?;
            let Some(text) = wanted.name.value() else {
                return Err(Diagnostic::error(
                    "Unknown zone name",
                    "The zone name must be known when the data source is read.",
                )
                .at(AttributePath::attr("name"))
                .into());
            };
            let zone = parse_zone(text, &AttributePath::attr("name"))?;
            let srv = server(ctx, wanted.server.value().map(String::as_str))?;
            let snapshot = srv.client.zone_fresh(&zone).await.map_err(|e| match e {
                DnsError::ZoneNotFound { .. } => Diagnostic::from_error(
                    &e,
                    &format!(
                        "Check the zone name and that server {:?} serves it.",
                        srv.name
                    ),
                )
                .at(AttributePath::attr("name")),
                e => dns_error(&e, &format!("read zone {zone}")),
            })?;
            let nameservers = snapshot
                .rrset(&zone, RecordType::Ns)
                .map(|s| normalised(&s.rdata))
                .unwrap_or_default();
            let record_sets = snapshot
                .rrsets()
                .map(|s| ZoneRecordSet {
                    name: s.name.relative_to(&zone),
                    fqdn: s.name.to_string(),
                    rtype: s.rtype.to_string(),
                    ttl: s.ttl,
                    records: normalised(&s.rdata),
                })
                .collect();
            let data = ZoneData {
                name: text.clone(),
                server: srv.name.clone(),
                serial: snapshot.serial,
                soa: snapshot
                    .soa()
                    .rdata
                    .first()
                    .and_then(soa_of)
                    .map(|soa| SoaData {
                        mname: soa.mname.to_string(),
                        rname: soa.rname.to_string(),
                        serial: soa.serial,
                        refresh: soa.refresh,
                        retry: soa.retry,
                        expire: soa.expire,
                        minimum: soa.minimum,
                    }),
                nameservers,
                record_sets,
            };
            Ok(typed::to_value(&data, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}

/// The data source's configuration.
#[derive(Debug, Deserialize)]
struct ZoneConfig {
    name: Planned<Option<String>>,
    server: Planned<Option<String>>,
}

/// What the data source reads.
#[derive(Debug, Serialize)]
struct ZoneData {
    name: String,
    server: String,
    serial: u32,
    soa: Option<SoaData>,
    nameservers: BTreeSet<String>,
    record_sets: Vec<ZoneRecordSet>,
}

/// The `soa` block.
#[derive(Debug, Serialize)]
struct SoaData {
    mname: String,
    rname: String,
    serial: u32,
    refresh: u32,
    retry: u32,
    expire: u32,
    minimum: u32,
}

/// One of the `record_sets`.
#[derive(Debug, Serialize)]
struct ZoneRecordSet {
    name: String,
    fqdn: String,
    #[serde(rename = "type")]
    rtype: String,
    ttl: u32,
    records: BTreeSet<String>,
}
