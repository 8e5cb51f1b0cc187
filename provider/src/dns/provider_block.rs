//! The provider block's `dns` section: named DNS servers, each with its TSIG key and an
//! optional zone-management backend (rndc or the PowerDNS API).
//!
//! ```hcl
//! dns {
//!   default_server = "primary"
//!   server "primary" {
//!     address       = "10.0.0.53:53"
//!     key_name      = "rack."
//!     key_algorithm = "hmac-sha256"
//!     key_secret    = var.tsig_secret
//!   }
//! }
//! ```
//!
//! The default server's settings can also come from `RACK_DNS_*` environment variables; with
//! no `server` block at all, `RACK_DNS_ADDRESS` defines a server named `default`.

use std::collections::BTreeMap;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use rack_core::dns::{DnsClient, ServerConfig, Transport, TsigKey};
use rack_core::powerdns::PowerDnsClient;
use rack_core::rndc::{RndcClient, RndcKey};
use rack_core::zones::{BindZones, PowerDnsZones, ZoneManager};

use crate::config::servers::{self, NamedServers, Section};
use crate::framework::attrs::str_attr;
use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::env::apply_env;
use crate::framework::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::framework::timeouts::{duration_validator, parse_duration};
use crate::framework::validate::{IntBetween, one_of};
use crate::protocol::value::Value;

pub use crate::config::servers::ENV_SERVER_NAME;

/// How long one DNS exchange may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);

/// How often a timed-out query is retried when `retries` is not set.
pub const DEFAULT_RETRIES: u32 = 2;

const ALGORITHMS: [&str; 4] = ["hmac-sha256", "hmac-sha384", "hmac-sha512", "hmac-sha1"];

/// The `dns` block of the provider configuration.
pub fn block() -> NestedBlock {
    let rndc = Block::new("Zone management through BIND's control channel (rndc).").attributes([
        Attribute::string("address")
            .optional()
            .env("RACK_DNS_RNDC_ADDRESS")
            .description(
                "Control channel address, `host:port` (the `controls` statement of named.conf). Required.",
            ),
        Attribute::string("key_name")
            .optional()
            .env("RACK_DNS_RNDC_KEY_NAME")
            .description("Name of the rndc key. Required."),
        Attribute::string("algorithm")
            .optional()
            .env("RACK_DNS_RNDC_ALGORITHM")
            .description("HMAC algorithm of the rndc key. Default: `hmac-sha256`.")
            .validator(one_of([
                "hmac-md5",
                "hmac-sha1",
                "hmac-sha224",
                "hmac-sha256",
                "hmac-sha384",
                "hmac-sha512",
            ])),
        Attribute::string("secret")
            .optional()
            .sensitive()
            .env("RACK_DNS_RNDC_SECRET")
            .description("Base64 secret of the rndc key. Required."),
    ]);
    let powerdns = Block::new("Zone management through the PowerDNS HTTP API.").attributes([
        Attribute::string("url")
            .optional()
            .env("RACK_DNS_POWERDNS_URL")
            .description("Base URL of the API, e.g. `http://127.0.0.1:8081`. Required."),
        Attribute::string("api_key")
            .optional()
            .sensitive()
            .env("RACK_DNS_POWERDNS_API_KEY")
            .description("The `api-key` of pdns.conf. Required."),
        Attribute::string("server_id")
            .optional()
            .env("RACK_DNS_POWERDNS_SERVER_ID")
            .description("PowerDNS server id. Default: `localhost`."),
    ]);
    let server = Block::new(
        "One DNS server, by a name of your choice (the block label). Resources pick it with \
         `server`.",
    )
    .attributes([
        Attribute::string("address")
            .optional()
            .env("RACK_DNS_ADDRESS")
            .description("Where the server answers DNS, `host:port`. Required."),
        Attribute::string("key_name")
            .optional()
            .env("RACK_DNS_KEY_NAME")
            .description("Name of the TSIG key that signs updates and zone transfers."),
        Attribute::string("key_algorithm")
            .optional()
            .env("RACK_DNS_KEY_ALGORITHM")
            .description("TSIG algorithm. Default: `hmac-sha256`.")
            .validator(one_of(ALGORITHMS)),
        Attribute::string("key_secret")
            .optional()
            .sensitive()
            .env("RACK_DNS_KEY_SECRET")
            .description("Base64 TSIG secret, as `tsig-keygen` prints it."),
        Attribute::string("transport")
            .optional()
            .env("RACK_DNS_TRANSPORT")
            .description("`udp` (falling back to TCP for large answers) or `tcp`. Default: `udp`.")
            .validator(one_of(["udp", "tcp"])),
        Attribute::string("timeout")
            .optional()
            .env("RACK_DNS_TIMEOUT")
            .description("How long one exchange may take. Default: `5s`.")
            .validator(duration_validator("A duration such as `5s` or `500ms`.")),
        Attribute::number("retries")
            .optional()
            .env("RACK_DNS_RETRIES")
            .description("How often a timed-out UDP query is retried. Default: 2.")
            .validator(IntBetween(0, 10)),
        Attribute::string("zone_directory")
            .optional()
            .env("RACK_DNS_ZONE_DIRECTORY")
            .description(
                "With `rndc`: the directory where rack writes a new zone's initial file before \
                 `rndc addzone`. It must be the DNS server's own directory (named reads the \
                 file), so rack must run on the server or share that directory.",
            ),
    ])
    .block(NestedBlock {
        name: "rndc".into(),
        nesting: Nesting::Single,
        block: rndc,
        min_items: 0,
        max_items: 1,
    })
    .block(NestedBlock {
        name: "powerdns".into(),
        nesting: Nesting::Single,
        block: powerdns,
        min_items: 0,
        max_items: 1,
    });
    servers::section_block(
        &SECTION,
        "DNS servers that `rack_dns_*` resources use.",
        server,
    )
}

/// One configured DNS server.
pub struct DnsServer {
    /// The block label.
    pub name: String,
    /// Queries, transfers and updates.
    pub client: DnsClient,
    /// Zone creation and deletion, when `rndc` or `powerdns` is configured.
    pub zones: Option<Arc<dyn ZoneManager>>,
}

impl std::fmt::Debug for DnsServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DnsServer")
            .field("name", &self.name)
            .field("zone_management", &self.zones.is_some())
            .finish_non_exhaustive()
    }
}

/// Every configured DNS server.
pub type DnsServers = NamedServers<DnsServer>;

static SECTION: Section = Section {
    block: "dns",
    kind: "DNS",
    default_env: "RACK_DNS_DEFAULT_SERVER",
    trigger_env: "RACK_DNS_ADDRESS",
    missing_hint: "Add a `dns { server \"NAME\" { address = ... } }` section to the rack provider \
                     block, or set RACK_DNS_ADDRESS (and RACK_DNS_KEY_NAME, RACK_DNS_KEY_SECRET).",
};

/// Builds the servers from the `dns` block's value (environment fallbacks applied here).
pub fn configure(
    dns: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) -> DnsServers {
    servers::configure(&SECTION, dns, lookup, diags, apply_server_env, server)
}

/// Fills the default server's unset settings from `RACK_DNS_*`, including its `rndc` and
/// `powerdns` backends, which the environment can supply even without a block.
fn apply_server_env(
    server: &mut Value,
    path: &AttributePath,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    let dns_block = block().block;
    let Some(server_block) = dns_block.blocks.first().map(|b| &b.block) else {
        return;
    };
    apply_env(server_block, server, path, lookup, diags);
    let Value::Object(attrs) = server else { return };
    for (nested, trigger) in [
        ("rndc", "RACK_DNS_RNDC_ADDRESS"),
        ("powerdns", "RACK_DNS_POWERDNS_URL"),
    ] {
        let Some(nb) = server_block.blocks.iter().find(|b| b.name == nested) else {
            continue;
        };
        let slot = attrs.entry(nested.to_string()).or_insert(Value::Null);
        if slot.is_null() && lookup(trigger).is_some() {
            *slot = Value::Object(BTreeMap::new());
        }
        if !slot.is_null() {
            apply_env(&nb.block, slot, &path.join_attr(nested), lookup, diags);
        }
    }
}

fn server(
    name: &str,
    v: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) -> Option<DnsServer> {
    let Some(address) = str_attr(v, "address") else {
        diags.error_at(
            path.join_attr("address"),
            format!("DNS server {name:?} has no address"),
            "Set `address = \"host:port\"` in its server block (or RACK_DNS_ADDRESS for the default server).",
        );
        return None;
    };
    let tsig = match (str_attr(v, "key_name"), str_attr(v, "key_secret")) {
        (Some(key), Some(secret)) => {
            let algorithm = str_attr(v, "key_algorithm").unwrap_or("hmac-sha256");
            match TsigKey::from_base64(key, algorithm, secret) {
                Ok(k) => Some(k),
                Err(e) => {
                    diags.push(
                        Diagnostic::from_error(&e, "Check key_name, key_algorithm and key_secret (the base64 secret that tsig-keygen prints).")
                            .at(path.join_attr("key_secret")),
                    );
                    return None;
                }
            }
        }
        (None, None) => None,
        (Some(_), None) | (None, Some(_)) => {
            diags.error_at(
                path.join_attr("key_secret"),
                "Incomplete TSIG key",
                "Set both key_name and key_secret, or neither (unsigned updates are rarely allowed).",
            );
            return None;
        }
    };
    let update_key = str_attr(v, "key_name").map(str::to_string);
    let timeout = str_attr(v, "timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT);
    let retries = v
        .attr("retries")
        .and_then(Value::as_number)
        .and_then(|n| n.to_u64())
        .and_then(|n| u32::try_from(n).ok())
        .unwrap_or(DEFAULT_RETRIES);
    let transport = match str_attr(v, "transport") {
        Some("tcp") => Transport::Tcp,
        _ => Transport::UdpWithTcpFallback,
    };
    let client = DnsClient::new(ServerConfig {
        address: address.to_string(),
        tsig,
        transport,
        timeout,
        retries,
    });
    let rndc = v.attr("rndc").filter(|r| !r.is_null());
    let pdns = v.attr("powerdns").filter(|p| !p.is_null());
    let zones: Option<Arc<dyn ZoneManager>> = match (rndc, pdns) {
        (Some(_), Some(_)) => {
            diags.error_at(
                path.join_attr("powerdns"),
                "Two zone-management backends",
                "Configure either `rndc` or `powerdns` for one server, not both.",
            );
            return None;
        }
        (Some(r), None) => Some(Arc::new(bind_zones(
            r, v, path, update_key, timeout, diags,
        )?)),
        (None, Some(p)) => {
            for (attr, var) in [
                ("url", "RACK_DNS_POWERDNS_URL"),
                ("api_key", "RACK_DNS_POWERDNS_API_KEY"),
            ] {
                if str_attr(p, attr).is_none() {
                    diags.error_at(
                        path.join_attr("powerdns").join_attr(attr),
                        format!("powerdns needs {attr}"),
                        format!(
                            "Set `{attr}` in the powerdns block (or {var} for the default server)."
                        ),
                    );
                    return None;
                }
            }
            let url = str_attr(p, "url").unwrap_or_default();
            let key = str_attr(p, "api_key").unwrap_or_default();
            match PowerDnsClient::new(url, key, timeout) {
                Ok(c) => {
                    let c = match str_attr(p, "server_id") {
                        Some(id) => c.with_server_id(id),
                        None => c,
                    };
                    Some(Arc::new(PowerDnsZones::new(c, update_key)))
                }
                Err(e) => {
                    diags.push(
                        Diagnostic::from_error(
                            &e,
                            "Check the PowerDNS API url, e.g. http://127.0.0.1:8081.",
                        )
                        .at(path.join_attr("powerdns").join_attr("url")),
                    );
                    return None;
                }
            }
        }
        (None, None) => None,
    };
    Some(DnsServer {
        name: name.to_string(),
        client,
        zones,
    })
}

fn bind_zones(
    r: &Value,
    server: &Value,
    path: &AttributePath,
    update_key: Option<String>,
    timeout: Duration,
    diags: &mut Diagnostics,
) -> Option<BindZones> {
    let rpath = path.join_attr("rndc");
    for (attr, var) in [
        ("address", "RACK_DNS_RNDC_ADDRESS"),
        ("key_name", "RACK_DNS_RNDC_KEY_NAME"),
        ("secret", "RACK_DNS_RNDC_SECRET"),
    ] {
        if str_attr(r, attr).is_none() {
            diags.error_at(
                rpath.join_attr(attr),
                format!("rndc needs {attr}"),
                format!("Set `{attr}` in the rndc block (or {var} for the default server)."),
            );
            return None;
        }
    }
    let addr_text = str_attr(r, "address").unwrap_or_default();
    let Some(addr) = resolve(addr_text) else {
        diags.error_at(
            rpath.join_attr("address"),
            format!("Cannot resolve rndc address {addr_text:?}"),
            "Use host:port, e.g. 127.0.0.1:953, as in the `controls` statement of named.conf.",
        );
        return None;
    };
    let algorithm = match str_attr(r, "algorithm").unwrap_or("hmac-sha256").parse() {
        Ok(a) => a,
        Err(e) => {
            diags.push(Diagnostic::from_error(&e, "").at(rpath.join_attr("algorithm")));
            return None;
        }
    };
    let key = RndcKey {
        name: str_attr(r, "key_name").unwrap_or_default().to_string(),
        algorithm,
        secret: str_attr(r, "secret").unwrap_or_default().to_string(),
    };
    let Some(dir) = str_attr(server, "zone_directory") else {
        diags.error_at(
            path.join_attr("zone_directory"),
            "rndc needs zone_directory",
            "Set zone_directory to the DNS server's directory where new zone files go (BIND reads them there).",
        );
        return None;
    };
    Some(BindZones::new(
        RndcClient::new(addr, key, timeout),
        PathBuf::from(dir),
        update_key,
    ))
}

fn resolve(text: &str) -> Option<SocketAddr> {
    text.parse()
        .ok()
        .or_else(|| text.to_socket_addrs().ok().and_then(|mut a| a.next()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixed_env as env;

    const SECRET: &str = "c2VjcmV0c2VjcmV0c2VjcmV0c2VjcmV0";

    #[test]
    fn environment_alone_defines_the_default_server() {
        let lookup = env(&[
            ("RACK_DNS_ADDRESS", "127.0.0.1:5353"),
            ("RACK_DNS_KEY_NAME", "rack."),
            ("RACK_DNS_KEY_SECRET", SECRET),
            ("RACK_DNS_RNDC_ADDRESS", "127.0.0.1:953"),
            ("RACK_DNS_RNDC_KEY_NAME", "rndc-key"),
            ("RACK_DNS_RNDC_SECRET", SECRET),
            ("RACK_DNS_ZONE_DIRECTORY", "/var/lib/bind"),
        ]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, ENV_SERVER_NAME);
        assert_eq!(s.client.config().address, "127.0.0.1:5353");
        assert!(s.client.config().tsig.is_some());
        assert!(s.zones.is_some());
    }

    #[test]
    fn configuration_wins_over_environment() {
        let dns = Value::object([(
            "server",
            Value::Map(
                [(
                    "primary".to_string(),
                    Value::object([("address", Value::from("10.0.0.53:53"))]),
                )]
                .into(),
            ),
        )]);
        let lookup = env(&[("RACK_DNS_ADDRESS", "127.0.0.1:5353")]);
        let mut diags = Diagnostics::new();
        let servers = configure(&dns, &lookup, &mut diags);
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, "primary");
        assert_eq!(s.client.config().address, "10.0.0.53:53");
        assert!(servers.get(Some("other")).is_err());
    }

    #[test]
    fn half_a_key_points_at_the_secret() {
        let lookup = env(&[
            ("RACK_DNS_ADDRESS", "127.0.0.1:5353"),
            ("RACK_DNS_KEY_NAME", "rack."),
        ]);
        let mut diags = Diagnostics::new();
        configure(&Value::Null, &lookup, &mut diags);
        let d = diags.into_vec();
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("dns.server[\"default\"].key_secret")
        );
    }

    #[test]
    fn no_server_is_a_clear_error_when_used() {
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &env(&[]), &mut diags);
        assert!(diags.is_empty());
        let e = servers.get(None).unwrap_err();
        assert!(e.detail.contains("RACK_DNS_ADDRESS"));
    }
}
