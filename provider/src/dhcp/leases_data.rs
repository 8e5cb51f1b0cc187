//! `rack_dhcp_leases` data source: the active leases of a subnet or of a MAC address, as
//! the DHCP server reports them (Kea: `lease4-get-all`, `lease4-get-by-hw-address` of the
//! lease_cmds hook; libvirt: `virNetworkGetDHCPLeases`). This is how a configuration reads
//! a machine's current address.

use async_trait::async_trait;

use super::shared::{dhcp_error, parse_mac, parse_subnet, server};
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::{AttributePath, Context, DataSource, Diagnostics};
use crate::protocol::value::{Number, Value};
use rack_core::dhcp::LeaseFilter;

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpLeasesData;

fn filter_of(config: &Value, diags: &mut Diagnostics) -> Option<LeaseFilter> {
    match (str_attr(config, "subnet"), str_attr(config, "mac")) {
        (Some(_), Some(_)) => {
            diags.error_at(
                AttributePath::attr("mac"),
                "Both subnet and mac are set",
                "Give `subnet` for every lease of a subnet, or `mac` for the leases of one client.",
            );
            None
        }
        (Some(s), None) => match parse_subnet(s) {
            Ok(c) => Some(LeaseFilter::Subnet(c)),
            Err(d) => {
                diags.push(d);
                None
            }
        },
        (None, Some(m)) => match parse_mac(m, &AttributePath::attr("mac")) {
            Ok(m) => Some(LeaseFilter::Mac(m)),
            Err(d) => {
                diags.push(d);
                None
            }
        },
        (None, None) => {
            let unknown = ["subnet", "mac"]
                .iter()
                .any(|a| config.attr(a).is_some_and(Value::is_unknown));
            if !unknown {
                diags.error_at(
                    AttributePath::attr("subnet"),
                    "Neither subnet nor mac is set",
                    "Give `subnet` for every lease of a subnet, or `mac` for the leases of one client.",
                );
            }
            None
        }
    }
}

#[async_trait]
impl DataSource for DhcpLeasesData {
    fn type_name(&self) -> &'static str {
        "rack_dhcp_leases"
    }

    fn schema(&self) -> Schema {
        let lease = [
            Attribute::string("ip")
                .computed()
                .description("The leased address."),
            Attribute::string("mac")
                .computed()
                .description("The client's MAC address, if known."),
            Attribute::string("client_id")
                .computed()
                .description("The client identifier in hex, if the client sent one."),
            Attribute::string("hostname")
                .computed()
                .description("The hostname the server recorded, if any."),
            Attribute::string("subnet")
                .computed()
                .description("The lease's subnet, as a CIDR."),
            Attribute::number("valid_lifetime")
                .computed()
                .description("Lease lifetime, seconds; 0 from a libvirt server, which reports only the expiry."),
            Attribute::number("cltt")
                .computed()
                .description(
                    "When the client last renewed, seconds since the Unix epoch; 0 from a libvirt server.",
                ),
            Attribute::number("expires")
                .computed()
                .description("When the lease expires, seconds since the Unix epoch."),
            Attribute::string("state")
                .computed()
                .description("`default` (active), `declined` or `expired-reclaimed`."),
        ];
        Schema::new(
            Block::new(
                "The active leases of a subnet, or of one MAC address, as the DHCP server reports \
                 them (Kea needs its `lease_cmds` hook library; a libvirt network reports what \
                 `virsh net-dhcp-leases` shows). Read a machine's current address from here.",
            )
            .attributes([
                Attribute::string("server").optional().computed().description(
                    "Name of a server in the provider's `dhcp` block; the default server when omitted.",
                ),
                Attribute::string("subnet")
                    .optional()
                    .description("Every lease of this subnet (a CIDR of the server's). Set this or `mac`."),
                Attribute::string("mac")
                    .optional()
                    .description("The leases of this MAC address, in any subnet. Set this or `subnet`."),
                Attribute::nested("leases", Nesting::List, lease)
                    .computed()
                    .description("The leases, by address."),
            ]),
        )
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        filter_of(config, diags);
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let Some(filter) = filter_of(&config, &mut diags) else {
            return (Value::Null, diags);
        };
        let srv = match server(ctx, str_attr(&config, "server")) {
            Ok(s) => s,
            Err(d) => {
                diags.push(d);
                return (Value::Null, diags);
            }
        };
        let mut leases = match srv.backend.leases(filter).await {
            Ok(l) => l,
            Err(e) => {
                diags.push(dhcp_error(&e, "read the active leases"));
                return (Value::Null, diags);
            }
        };
        leases.sort_by_key(|l| l.ip);
        let text = |s: Option<String>| s.map_or(Value::Null, Value::String);
        let num = |n: u64| Value::Number(Number::from(n));
        let items = leases
            .into_iter()
            .map(|l| {
                Value::object([
                    ("ip", Value::String(l.ip.to_string())),
                    ("mac", text(l.mac.map(|m| m.to_string()))),
                    ("client_id", text(l.client_id)),
                    ("hostname", text(l.hostname)),
                    ("subnet", text(l.subnet.map(|s| s.to_string()))),
                    ("valid_lifetime", num(l.valid_lifetime)),
                    ("cltt", num(l.cltt)),
                    ("expires", num(l.expires)),
                    ("state", Value::from(l.state)),
                ])
            })
            .collect();
        let mut state = config;
        if let Value::Object(m) = &mut state {
            m.insert("server".into(), Value::from(srv.name.as_str()));
            m.insert("leases".into(), Value::List(items));
        }
        (state, diags)
    }
}
