//! `rack_dhcp_leases` data source: the active leases of a subnet or of a MAC address, as
//! the DHCP server reports them (Kea: `lease4-get-all`, `lease4-get-by-hw-address` of the
//! lease_cmds hook; libvirt: `virNetworkGetDHCPLeases`). This is how a configuration reads
//! a machine's current address.

use async_trait::async_trait;

use serde::{Deserialize, Serialize};

use super::shared::{dhcp_error, parse_mac, parse_subnet, server};
use crate::framework::schema::{Attribute, Block, Nesting, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::Value;
use rack_core::dhcp::LeaseFilter;

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct DhcpLeasesData;

/// What the configuration asks for; `Ok(None)` while `subnet` or `mac` is not known.
fn filter_of(config: &LeasesData) -> Result<Option<LeaseFilter>, Diagnostic> {
    match (config.subnet.value(), config.mac.value()) {
        (Some(_), Some(_)) => Err(Diagnostic::error(
            "Both subnet and mac are set",
            "Give `subnet` for every lease of a subnet, or `mac` for the leases of one client.",
        )
        .at(AttributePath::attr("mac"))),
        (Some(s), None) => parse_subnet(s).map(|c| Some(LeaseFilter::Subnet(c))),
        (None, Some(m)) => {
            parse_mac(m, &AttributePath::attr("mac")).map(|m| Some(LeaseFilter::Mac(m)))
        }
        (None, None) if config.subnet.is_unknown() || config.mac.is_unknown() => Ok(None),
        (None, None) => Err(Diagnostic::error(
            "Neither subnet nor mac is set",
            "Give `subnet` for every lease of a subnet, or `mac` for the leases of one client.",
        )
        .at(AttributePath::attr("subnet"))),
    }
}

/// The data source's configuration and what it reads.
#[derive(Debug, Deserialize, Serialize)]
struct LeasesData {
    server: Planned<Option<String>>,
    subnet: Planned<Option<String>>,
    mac: Planned<Option<String>>,
    leases: Planned<Option<Vec<LeaseData>>>,
}

/// One of the `leases`.
#[derive(Debug, Deserialize, Serialize)]
struct LeaseData {
    ip: String,
    mac: Option<String>,
    client_id: Option<String>,
    hostname: Option<String>,
    subnet: Option<String>,
    valid_lifetime: u64,
    cltt: u64,
    expires: u64,
    state: String,
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
        if let Ok(c) = typed::from_value::<LeasesData>(config)
            && let Err(d) = filter_of(&c)
        {
            diags.push(d);
        }
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let mut data: LeasesData = typed::from_value(&config)?;
            let Some(filter) = filter_of(&data)? else {
                return Err(Diagnostics::new());
            };
            let srv = server(ctx, data.server.value().map(String::as_str))?;
            let mut leases = srv
                .backend
                .leases(filter)
                .await
                .map_err(|e| dhcp_error(&e, "read the active leases"))?;
            leases.sort_by_key(|l| l.ip);
            let leases = leases
                .into_iter()
                .map(|l| LeaseData {
                    ip: l.ip.to_string(),
                    mac: l.mac.map(|m| m.to_string()),
                    client_id: l.client_id,
                    hostname: l.hostname,
                    subnet: l.subnet.map(|s| s.to_string()),
                    valid_lifetime: l.valid_lifetime,
                    cltt: l.cltt,
                    expires: l.expires,
                    state: l.state.to_owned(),
                })
                .collect();
            data.server = Some(srv.name.clone()).into();
            data.leases = Some(leases).into();
            Ok(typed::to_value(&data, &self.schema().value_type())?)
        };
        data_answer(read.await)
    }
}
