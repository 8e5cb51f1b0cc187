//! `rack_dns_zone` data source: a zone's SOA and every RRset, read by one TSIG-signed
//! zone transfer (AXFR).

use async_trait::async_trait;
use rack_core::dns::{DnsError, RData, RecordType};

use super::shared::{dns_error, normalised, parse_zone, server, set_value};
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics};
use crate::protocol::value::{Number, Type, Value};

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct DnsZoneData;

fn num(n: u32) -> Value {
    Value::Number(Number::from(u64::from(n)))
}

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
        let mut diags = Diagnostics::new();
        let Some(text) = str_attr(&config, "name") else {
            diags.error_at(
                AttributePath::attr("name"),
                "Unknown zone name",
                "The zone name must be known when the data source is read.",
            );
            return (Value::Null, diags);
        };
        let zone = match parse_zone(text, &AttributePath::attr("name")) {
            Ok(z) => z,
            Err(d) => {
                diags.push(d);
                return (Value::Null, diags);
            }
        };
        let srv = match server(ctx, str_attr(&config, "server")) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                return (Value::Null, diags);
            }
        };
        let snapshot = match srv.client.zone_fresh(&zone).await {
            Ok(s) => s,
            Err(e @ DnsError::ZoneNotFound { .. }) => {
                diags.push(
                    Diagnostic::from_error(
                        &e,
                        &format!(
                            "Check the zone name and that server {:?} serves it.",
                            srv.name
                        ),
                    )
                    .at(AttributePath::attr("name")),
                );
                return (Value::Null, diags);
            }
            Err(e) => {
                diags.push(dns_error(&e, &format!("read zone {zone}")));
                return (Value::Null, diags);
            }
        };
        let soa = match snapshot.soa().rdata.first() {
            Some(RData::Soa {
                mname,
                rname,
                serial,
                refresh,
                retry,
                expire,
                minimum,
            }) => Value::object([
                ("mname", Value::from(mname.to_string())),
                ("rname", Value::from(rname.to_string())),
                ("serial", num(*serial)),
                ("refresh", num(*refresh)),
                ("retry", num(*retry)),
                ("expire", num(*expire)),
                ("minimum", num(*minimum)),
            ]),
            _ => Value::Null,
        };
        let nameservers = snapshot
            .rrset(&zone, RecordType::Ns)
            .map(|s| normalised(&s.rdata))
            .unwrap_or_default();
        let record_sets: Vec<Value> = snapshot
            .rrsets()
            .map(|s| {
                Value::object([
                    ("name", Value::from(s.name.relative_to(&zone))),
                    ("fqdn", Value::from(s.name.to_string())),
                    ("type", Value::from(s.rtype.to_string())),
                    ("ttl", num(s.ttl)),
                    (
                        "records",
                        Value::List(normalised(&s.rdata).into_iter().map(Value::from).collect()),
                    ),
                ])
            })
            .collect();
        let state = Value::object([
            ("name", Value::from(text)),
            ("server", Value::from(srv.name.as_str())),
            ("serial", num(snapshot.serial)),
            ("soa", soa),
            ("nameservers", set_value(nameservers)),
            ("record_sets", Value::List(record_sets)),
        ]);
        (state, diags)
    }
}
