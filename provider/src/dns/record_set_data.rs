//! `rack_dns_record_set` data source: one RRset, asked of the server directly (not from a
//! zone transfer), so it also reads names in zones the key may not transfer.

use async_trait::async_trait;

use super::shared::{RECORD_TYPES, dns_error, key_of, normalised, server, set_value};
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::validate::one_of;
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics};
use crate::protocol::value::{Number, Type, Value};

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
        let mut diags = Diagnostics::new();
        let key = match key_of(&config) {
            Ok(Some(k)) => k,
            Ok(None) => {
                diags.error(
                    "Unknown zone, name or type",
                    "zone, name and type must be known when the data source is read.",
                );
                return (Value::Null, diags);
            }
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
        let rrset = match srv.client.query(&key.owner, key.rtype).await {
            Ok(Some(s)) => s,
            Ok(None) => {
                diags.push(
                    Diagnostic::error(
                        format!("No {} records at {}", key.rtype, key.owner),
                        format!(
                            "Server {:?} answered that {} has no {} record set. Check the name \
                             and type, or create the records first.",
                            srv.name, key.owner, key.rtype
                        ),
                    )
                    .at(AttributePath::attr("name")),
                );
                return (Value::Null, diags);
            }
            Err(e) => {
                diags.push(dns_error(&e, &format!("read {} {}", key.owner, key.rtype)));
                return (Value::Null, diags);
            }
        };
        let mut state = config;
        if let Value::Object(m) = &mut state {
            m.insert("server".into(), Value::from(srv.name.as_str()));
            m.insert("fqdn".into(), Value::from(key.owner.to_string()));
            m.insert(
                "ttl".into(),
                Value::Number(Number::from(u64::from(rrset.ttl))),
            );
            m.insert("records".into(), set_value(normalised(&rrset.rdata)));
        }
        (state, diags)
    }
}
