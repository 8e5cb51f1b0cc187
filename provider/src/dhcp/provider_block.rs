//! The provider block's `dhcp` section: named DHCP servers, each reached through one
//! backend ([`DhcpBackend`]): Kea's control agent, or a libvirt network (a hypervisor of
//! the provider's `hypervisors` map plus a network name), whose dnsmasq serves the static
//! host entries rack writes.
//!
//! ```hcl
//! dhcp {
//!   default_server = "kea1"
//!   server "kea1" {
//!     kea {
//!       url      = "https://10.0.0.67:8000"
//!       username = "rack"
//!       password = var.kea_password
//!       hosts_database {
//!         url      = "postgresql://rack@10.0.0.68:5432/kea"
//!         password = var.kea_db_password
//!       }
//!     }
//!   }
//!   server "lab" {
//!     libvirt {
//!       hypervisor = "kvm1" # default: the default hypervisor
//!       network    = "lab"
//!     }
//!   }
//! }
//! ```
//!
//! With `hosts_database`, reservations are rows of Kea's PostgreSQL host database, which
//! kea-dhcp4 (configured with that database as its `hosts-database`) looks up for each
//! packet; the control agent still gives the subnets' ids and the leases.
//!
//! The default server's settings can also come from `RACK_DHCP_*` environment variables;
//! with no `server` block at all, `RACK_DHCP_KEA_URL` defines a server named `default`.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;

use rack_core::Cidr;
use rack_core::dhcp::{DhcpBackend, KeaBackend, KeaHostDbBackend, LibvirtBackend};
use rack_core::kea::hostdb::{HostDbClient, HostDbConfig, HostDbError};
use rack_core::kea::{self, KeaClient, KeaConfig, KeaError, Secret};

use crate::config::hypervisors::Hypervisors;
use crate::config::servers::{self, NamedServers, Section};
use crate::framework::attrs::str_attr;
use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::env::apply_env;
use crate::framework::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::framework::timeouts::{duration_validator, parse_duration};
use crate::protocol::value::Value;

pub use crate::config::servers::ENV_SERVER_NAME;

/// How long one request to a Kea control agent may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// The `kea` block of a server.
fn kea_block() -> Block {
    Block::new(
        "Kea DHCPv4 through its control agent (`kea-ctrl-agent`). Kea 2.2 changes \
         reservations only by replacing its whole configuration (`config-set`), with no \
         compare-and-set: rack reads the configuration back after each write, checks that \
         its own changes and every reservation it saw are there, and writes again (or fails \
         the leases concerned) when another writer's `config-set` replaced its own. \
         Concurrent writers on this path (two Terraform runs, rack and an operator) are \
         serialised by this check only, which cannot see a whole write slipped between \
         another writer's read and write; a host database (Kea's `hosts-database`) is the \
         safe path for several writers.",
    )
    .attributes([
        Attribute::string("url")
            .optional()
            .env("RACK_DHCP_KEA_URL")
            .description(
                "The control agent's URL, `http://host:port` or `https://host:port` (its \
                 `http-host` and `http-port`). Required.",
            ),
        Attribute::string("username")
            .optional()
            .env("RACK_DHCP_KEA_USERNAME")
            .description(
                "User for HTTP basic authentication (the agent's `authentication` clients).",
            ),
        Attribute::string("password")
            .optional()
            .sensitive()
            .env("RACK_DHCP_KEA_PASSWORD")
            .description("Password for HTTP basic authentication."),
        Attribute::string("ca_cert")
            .optional()
            .env("RACK_DHCP_KEA_CA_CERT")
            .description(
                "PEM certificate(s) of the CA that signed the agent's certificate, for `https` \
                 (e.g. `file(\"ca.pem\")`). Default: the system's CAs.",
            ),
        Attribute::string("client_cert")
            .optional()
            .env("RACK_DHCP_KEA_CLIENT_CERT")
            .description("PEM client certificate, when the agent requires one (`cert-required`)."),
        Attribute::string("client_key")
            .optional()
            .sensitive()
            .env("RACK_DHCP_KEA_CLIENT_KEY")
            .description("PEM private key of `client_cert`."),
        Attribute::string("timeout")
            .optional()
            .env("RACK_DHCP_KEA_TIMEOUT")
            .description("How long one request may take. Default: `30s`.")
            .validator(duration_validator("A duration such as `30s` or `500ms`.")),
    ])
    .block(NestedBlock {
        name: "hosts_database".into(),
        nesting: Nesting::Single,
        block: hosts_database_block(),
        min_items: 0,
        max_items: 1,
    })
}

/// The `hosts_database` block of a Kea server.
fn hosts_database_block() -> Block {
    Block::new(
        "Kea's PostgreSQL host database (schema 13.0, as `kea-admin db-init pgsql` of Kea \
         2.2 creates it), which this server's kea-dhcp4 uses as its `hosts-database`. With \
         it, rack writes each reservation as rows of `hosts` and `dhcp4_options`, with the \
         changes that arrive together in one transaction, and kea-dhcp4 serves them at once \
         without reconfiguration; the control agent still gives the subnets' ids (set `id` \
         on every subnet) and the leases. Rows rack does not manage are never touched; \
         import adopts them.",
    )
    .attributes([
        Attribute::string("url")
            .optional()
            .env("RACK_DHCP_KEA_HOSTS_DATABASE_URL")
            .description(
                "`postgresql://user@host:port/database`, without a password (or libpq's \
                 `key=value` form). Required.",
            ),
        Attribute::string("password")
            .optional()
            .sensitive()
            .env("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD")
            .description("The database role's password."),
        Attribute::string("ca_cert")
            .optional()
            .env("RACK_DHCP_KEA_HOSTS_DATABASE_CA_CERT")
            .description(
                "PEM certificate(s) of the CA that signed PostgreSQL's server certificate. \
                 When set, the connection requires TLS and checks the server's certificate \
                 and name against it. Without it, TLS is used only when the URL says \
                 `sslmode=require` (checked against the system's CA bundle).",
            ),
    ])
}

/// The `libvirt` block of a server.
fn libvirt_block() -> Block {
    Block::new(
        "The DHCP of a libvirt network: rack writes static host entries (`<host mac ip \
         name>` of its `<ip><dhcp>`), which the network's dnsmasq serves. Changes apply to \
         the running network and its definition together, without restarting it. A host \
         entry holds a MAC address, an address and a hostname only: leases with \
         `next_server`, `boot_file`, `options`, `client_classes` or `client_id` are refused \
         at plan time (libvirt keeps boot options per network), and two leases of a subnet \
         may not share a hostname.",
    )
    .attributes([
        Attribute::string("hypervisor").optional().description(
            "Name of a hypervisor in the provider's `hypervisors` map. Default: the default \
             hypervisor.",
        ),
        Attribute::string("network")
            .required()
            .description("The libvirt network's name, e.g. `default`."),
    ])
}

/// The `dhcp` block of the provider configuration.
pub fn block() -> NestedBlock {
    let server = Block::new(
        "One DHCP server, by a name of your choice (the block label). Resources pick it with \
         `server`. It names exactly one backend block: `kea` or `libvirt`.",
    )
    .block(NestedBlock {
        name: "kea".into(),
        nesting: Nesting::Single,
        block: kea_block(),
        min_items: 0,
        max_items: 1,
    })
    .block(NestedBlock {
        name: "libvirt".into(),
        nesting: Nesting::Single,
        block: libvirt_block(),
        min_items: 0,
        max_items: 1,
    });
    servers::section_block(
        &SECTION,
        "DHCP servers that `rack_dhcp_*` resources and data sources use.",
        server,
    )
}

/// One configured DHCP server.
#[derive(Debug)]
pub struct DhcpServer {
    /// The block label.
    pub name: String,
    /// How rack reaches it.
    pub backend: Arc<dyn DhcpBackend>,
    /// Reservations of Terraform's state that this process read or planned: the ones it
    /// may replace (delete, then create anew). Terraform plans the create half of a
    /// replacement, and a tainted object, with no prior state, so this is how that plan
    /// knows that the old reservation is its own and its address about to be free. Keyed
    /// by subnet: every refresh notes its lease, and every plan of a new lease asks for
    /// each reservation of its subnet.
    pub replacing: std::sync::Mutex<HashMap<Cidr, HashSet<kea::HostIdentifier>>>,
}

impl DhcpServer {
    /// Notes that the reservation of `identifier` in `subnet` is being replaced.
    pub fn note_replacing(&self, subnet: Cidr, identifier: kea::HostIdentifier) {
        self.replacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .entry(subnet)
            .or_default()
            .insert(identifier);
    }

    /// Whether the reservation of `identifier` in `subnet` is being replaced.
    pub fn is_replacing(&self, subnet: Cidr, identifier: &kea::HostIdentifier) -> bool {
        self.replacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .get(&subnet)
            .is_some_and(|ids| ids.contains(identifier))
    }
}

/// Every configured DHCP server.
pub type DhcpServers = NamedServers<DhcpServer>;

static SECTION: Section = Section {
    block: "dhcp",
    kind: "DHCP",
    default_env: "RACK_DHCP_DEFAULT_SERVER",
    trigger_env: "RACK_DHCP_KEA_URL",
    missing_hint: "Add a `dhcp { server \"NAME\" { kea { url = ... } } }` section to the rack \
                     provider block, or set RACK_DHCP_KEA_URL (and RACK_DHCP_KEA_USERNAME, \
                     RACK_DHCP_KEA_PASSWORD).",
};

/// Builds the servers from the `dhcp` block's value (environment fallbacks applied here).
/// A `libvirt` server keeps `hypervisors` and finds its hypervisor there when first used.
pub fn configure(
    dhcp: &Value,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
    hypervisors: &Hypervisors,
) -> DhcpServers {
    servers::configure(
        &SECTION,
        dhcp,
        lookup,
        diags,
        apply_server_env,
        |name, v, path, diags| server(name, v, path, diags, hypervisors),
    )
}

/// Fills the default server's unset `kea` settings from `RACK_DHCP_KEA_*`; the
/// environment can supply the whole block.
fn apply_server_env(
    server: &mut Value,
    path: &AttributePath,
    lookup: &dyn Fn(&str) -> Option<String>,
    diags: &mut Diagnostics,
) {
    let Value::Object(attrs) = server else { return };
    if attrs.get("libvirt").is_some_and(|l| !l.is_null()) {
        return;
    }
    let slot = attrs.entry("kea".to_string()).or_insert(Value::Null);
    if slot.is_null() && lookup("RACK_DHCP_KEA_URL").is_some() {
        *slot = Value::Object(BTreeMap::new());
    }
    if slot.is_null() {
        return;
    }
    let kpath = path.join_attr("kea");
    apply_env(&kea_block(), slot, &kpath, lookup, diags);
    let Value::Object(kea) = slot else { return };
    let db = kea
        .entry("hosts_database".to_string())
        .or_insert(Value::Null);
    if db.is_null() && lookup("RACK_DHCP_KEA_HOSTS_DATABASE_URL").is_some() {
        *db = Value::Object(BTreeMap::new());
    }
    if !db.is_null() {
        let dpath = kpath.join_attr("hosts_database");
        apply_env(&hosts_database_block(), db, &dpath, lookup, diags);
    }
}

fn server(
    name: &str,
    v: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
    hypervisors: &Hypervisors,
) -> Option<DhcpServer> {
    let kea = v.attr("kea").filter(|k| !k.is_null());
    let libvirt = v.attr("libvirt").filter(|l| !l.is_null());
    if let Some(l) = libvirt {
        if kea.is_some() {
            diags.error_at(
                path.join_attr("libvirt"),
                format!("DHCP server {name:?} has two backends"),
                "Keep either its `kea` block or its `libvirt` block; define another server for \
                 the other.",
            );
            return None;
        }
        let Some(network) = str_attr(l, "network") else {
            diags.error_at(
                path.join_attr("libvirt").join_attr("network"),
                format!("DHCP server {name:?} names no libvirt network"),
                "Set `network` in its libvirt block.",
            );
            return None;
        };
        return Some(DhcpServer {
            name: name.to_string(),
            backend: Arc::new(LibvirtBackend::new(
                str_attr(l, "hypervisor").map(str::to_string),
                network.to_string(),
                Arc::new(hypervisors.clone()),
            )),
            replacing: std::sync::Mutex::default(),
        });
    }
    let Some(k) = kea else {
        diags.error_at(
            path.clone(),
            format!("DHCP server {name:?} has no backend"),
            "Add a `kea { url = \"http://host:port\" }` block to it (or set RACK_DHCP_KEA_URL \
             for the default server), or a `libvirt { network = \"NAME\" }` block.",
        );
        return None;
    };
    let kpath = path.join_attr("kea");
    let Some(url) = str_attr(k, "url") else {
        diags.error_at(
            kpath.join_attr("url"),
            format!("DHCP server {name:?} has no Kea control agent URL"),
            "Set `url` in its kea block (or RACK_DHCP_KEA_URL for the default server).",
        );
        return None;
    };
    let mut config = KeaConfig::new(url);
    config.timeout = str_attr(k, "timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT);
    match (str_attr(k, "username"), str_attr(k, "password")) {
        (Some(u), p) => {
            config.username = Some(u.to_string());
            config.password = Some(Secret::new(p.unwrap_or_default()));
        }
        (None, Some(_)) => {
            diags.error_at(
                kpath.join_attr("username"),
                "A Kea password without a username",
                "Set `username` too (or RACK_DHCP_KEA_USERNAME for the default server).",
            );
            return None;
        }
        (None, None) => {}
    }
    config.ca_cert_pem = str_attr(k, "ca_cert").map(str::to_string);
    config.client_cert_pem = str_attr(k, "client_cert").map(str::to_string);
    config.client_key_pem = str_attr(k, "client_key").map(Secret::new);
    let hosts = match k.attr("hosts_database").filter(|d| !d.is_null()) {
        Some(d) => Some(hosts_database(
            name,
            d,
            &kpath.join_attr("hosts_database"),
            diags,
        )?),
        None => None,
    };
    match KeaClient::new(config) {
        Ok(client) => Some(DhcpServer {
            name: name.to_string(),
            backend: match hosts {
                Some(hosts) => Arc::new(KeaHostDbBackend { kea: client, hosts }),
                None => Arc::new(KeaBackend(client)),
            },
            replacing: std::sync::Mutex::default(),
        }),
        Err(e) => {
            let attr = match e {
                KeaError::InvalidUrl { .. } => "url",
                _ => "ca_cert",
            };
            diags.push(
                Diagnostic::from_error(&e, "Check the kea block of this server.")
                    .at(kpath.join_attr(attr)),
            );
            None
        }
    }
}

/// The host-database client of server `name`'s `hosts_database` block `d` at `path`.
fn hosts_database(
    name: &str,
    d: &Value,
    path: &AttributePath,
    diags: &mut Diagnostics,
) -> Option<HostDbClient> {
    let Some(url) = str_attr(d, "url") else {
        diags.error_at(
            path.join_attr("url"),
            format!("DHCP server {name:?} has a hosts database without a URL"),
            "Set `url` in its hosts_database block (or RACK_DHCP_KEA_HOSTS_DATABASE_URL for the \
             default server), e.g. postgresql://rack@db:5432/kea.",
        );
        return None;
    };
    let password = str_attr(d, "password").map(Secret::new);
    let mut config = HostDbConfig::new(url, password);
    config.ca_cert_pem = str_attr(d, "ca_cert").map(str::to_string);
    match HostDbClient::new(config) {
        Ok(client) => Some(client),
        Err(e) => {
            let attr = match e {
                HostDbError::Tls { .. } => "ca_cert",
                _ => "url",
            };
            diags.push(
                Diagnostic::from_error(&e, "Check the hosts_database block of this server.")
                    .at(path.join_attr(attr)),
            );
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::fixed_env as env;

    #[test]
    fn environment_alone_defines_the_default_server() {
        let lookup = env(&[
            ("RACK_DHCP_KEA_URL", "http://127.0.0.1:8000"),
            ("RACK_DHCP_KEA_USERNAME", "rack"),
            ("RACK_DHCP_KEA_PASSWORD", "hunter2"),
        ]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags, &Hypervisors::default());
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, ENV_SERVER_NAME);
        assert_eq!(s.backend.kind(), "Kea");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn configuration_wins_over_environment() {
        let dhcp = Value::object([(
            "server",
            Value::Map(
                [(
                    "kea1".to_string(),
                    Value::object([(
                        "kea",
                        Value::object([("url", Value::from("http://10.0.0.67:8000"))]),
                    )]),
                )]
                .into(),
            ),
        )]);
        let lookup = env(&[("RACK_DHCP_KEA_URL", "http://127.0.0.1:8000")]);
        let mut diags = Diagnostics::new();
        let servers = configure(&dhcp, &lookup, &mut diags, &Hypervisors::default());
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.name, "kea1");
        assert!(format!("{:?}", s.backend).contains("10.0.0.67"));
        assert!(servers.get(Some("other")).is_err());
    }

    #[test]
    fn a_bad_url_points_at_it() {
        let lookup = env(&[("RACK_DHCP_KEA_URL", "127.0.0.1:8000")]);
        let mut diags = Diagnostics::new();
        configure(&Value::Null, &lookup, &mut diags, &Hypervisors::default());
        let d = diags.into_vec();
        assert_eq!(d.len(), 1);
        assert_eq!(
            d[0].attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("dhcp.server[\"default\"].kea.url")
        );
    }

    #[test]
    fn no_server_is_a_clear_error_when_used() {
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &env(&[]), &mut diags, &Hypervisors::default());
        assert!(diags.is_empty());
        let e = servers.get(None).unwrap_err();
        assert!(e.detail.contains("RACK_DHCP_KEA_URL"));
    }

    #[test]
    fn the_environment_can_add_a_hosts_database() {
        let lookup = env(&[
            ("RACK_DHCP_KEA_URL", "http://127.0.0.1:8000"),
            (
                "RACK_DHCP_KEA_HOSTS_DATABASE_URL",
                "postgresql://kea@127.0.0.1:5432/kea",
            ),
            ("RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD", "hunter2"),
        ]);
        let mut diags = Diagnostics::new();
        let servers = configure(&Value::Null, &lookup, &mut diags, &Hypervisors::default());
        assert!(diags.is_empty(), "{diags:?}");
        let s = servers.get(None).unwrap();
        assert_eq!(s.backend.kind(), "Kea hosts database");
        assert!(!format!("{s:?}").contains("hunter2"));
    }

    #[test]
    fn a_password_in_the_database_url_points_at_it() {
        let lookup = env(&[
            ("RACK_DHCP_KEA_URL", "http://127.0.0.1:8000"),
            (
                "RACK_DHCP_KEA_HOSTS_DATABASE_URL",
                "postgresql://kea:hunter2@127.0.0.1:5432/kea",
            ),
        ]);
        let mut diags = Diagnostics::new();
        configure(&Value::Null, &lookup, &mut diags, &Hypervisors::default());
        let d = diags.into_vec();
        assert_eq!(d.len(), 1, "{d:?}");
        assert_eq!(
            d[0].attribute.as_ref().map(ToString::to_string).as_deref(),
            Some("dhcp.server[\"default\"].kea.hosts_database.url")
        );
        assert!(!format!("{d:?}").contains("hunter2"));
    }
}
