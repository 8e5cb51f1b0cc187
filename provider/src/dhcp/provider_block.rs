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
//! The default server's settings can also come from `RACK_DHCP_*` environment variables;
//! with no `server` block at all, `RACK_DHCP_KEA_URL` defines a server named `default`.

use std::collections::BTreeMap;
use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use rack_core::Cidr;
use rack_core::kea::{
    self, Change, ConfigError, HostIdentifier, KeaClient, KeaConfig, KeaError, LeaseQuery,
    Reservation, Secret,
};
use rack_core::libvirt::{
    DhcpHost, DhcpHostError, HostChange, Hypervisor, LibvirtError, ObjectKind,
};
use rack_core::net::MacAddress;

use crate::config::hypervisors::Hypervisors;
use crate::config::servers::{self, NamedServers, Section};
use crate::framework::diag::{AttributePath, Diagnostic, Diagnostics};
use crate::framework::env::apply_env;
use crate::framework::schema::{Attribute, Block, NestedBlock, Nesting};
use crate::framework::timeouts::parse_duration;
use crate::framework::validate::check;
use crate::protocol::value::Value;

pub use crate::config::servers::ENV_SERVER_NAME;

/// How long one request to a Kea control agent may take when `timeout` is not set.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

/// Why a DHCP backend could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// The reservation or the server's configuration does not allow it (conflicts, an
    /// unknown subnet, ...), whatever the backend.
    #[error(transparent)]
    Config(ConfigError),
    /// The Kea backend failed.
    #[error(transparent)]
    Kea(KeaError),
    /// The libvirt backend failed (boxed: libvirt's errors are large).
    #[error(transparent)]
    Libvirt(Box<DhcpHostError>),
    /// The hypervisor a libvirt server names is not configured.
    #[error("{summary}: {detail}")]
    Hypervisor {
        /// What is wrong.
        summary: String,
        /// What to do about it.
        detail: String,
    },
    /// The backend cannot do this at all.
    #[error("The {backend} backend does not support {what}; {hint}")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// What was asked.
        what: String,
        /// What to do instead.
        hint: &'static str,
    },
}

impl From<KeaError> for DhcpError {
    fn from(e: KeaError) -> Self {
        match e {
            KeaError::Config(c) => Self::Config(c),
            other => Self::Kea(other),
        }
    }
}

/// One active lease as a backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLease {
    /// The leased address.
    pub ip: std::net::Ipv4Addr,
    /// The client's MAC address, if recorded.
    pub mac: Option<MacAddress>,
    /// The client identifier, hex octets joined by `:`, if recorded.
    pub client_id: Option<String>,
    /// The hostname the server recorded.
    pub hostname: Option<String>,
    /// The subnet the lease belongs to, when the backend can tell.
    pub subnet: Option<Cidr>,
    /// Lifetime in seconds.
    pub valid_lifetime: u64,
    /// When the client last talked to the server, seconds since the epoch.
    pub cltt: u64,
    /// Expiry, seconds since the epoch.
    pub expires: u64,
    /// `default`, `declined` or `expired-reclaimed`.
    pub state: &'static str,
}

/// Which leases to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseFilter {
    /// Every lease of a subnet.
    Subnet(Cidr),
    /// The leases of one MAC address.
    Mac(MacAddress),
}

/// What the DHCP resources need from a server, whatever runs it. The reservation model
/// (`Reservation`, `Change`) is rack-core's and backend-neutral.
#[async_trait]
pub trait DhcpBackend: Send + Sync + fmt::Debug {
    /// A word for messages, e.g. `Kea`.
    fn kind(&self) -> &'static str;
    /// The reservations of `subnet` (read once per provider process, kept until our own
    /// next write or [`DhcpBackend::forget`]).
    async fn reservations(&self, subnet: Cidr) -> Result<Vec<Reservation>, DhcpError>;
    /// Drops what was read, so the next read asks the server.
    async fn forget(&self);
    /// Applies one change; changes that arrive together may be written together.
    async fn apply(&self, change: Change) -> Result<(), DhcpError>;
    /// Applies one change only where `expect` accepts the reservation it is about as the
    /// server holds it (`None`: none), else fails with [`ConfigError::Changed`]; a change
    /// already in effect succeeds. An add whose `expect` accepts an existing entry takes
    /// it over. This default reads the server afresh just before the write; Kea checks
    /// in the configuration it writes.
    async fn apply_expecting(&self, change: Change, expect: kea::Expect) -> Result<(), DhcpError> {
        self.forget().await;
        let (subnet, identifier) = (change.subnet(), change.identifier().clone());
        let now = self
            .reservations(subnet)
            .await?
            .into_iter()
            .find(|r| r.identifier == identifier);
        let done = match (&change, &now) {
            (Change::Add(r) | Change::Replace(r), Some(n)) => r.same_as(n),
            (Change::Remove { .. }, None) => true,
            _ => false,
        };
        if done {
            return Ok(());
        }
        if !expect(now.as_ref()) {
            return Err(DhcpError::Config(ConfigError::Changed {
                subnet,
                identifier,
                found: now.map_or_else(|| "none".to_owned(), |r| r.summary()),
            }));
        }
        match (change, now) {
            (Change::Add(r), Some(_)) => self.apply(Change::Replace(r)).await,
            (change, _) => self.apply(change).await,
        }
    }
    /// Active leases.
    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError>;
    /// The attributes of `r` this backend cannot store, each with why: refused at plan
    /// time, at the attribute.
    fn unsupported(&self, _r: &Reservation) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Whether two reservations of a subnet may not share a hostname.
    fn unique_hostnames(&self) -> bool {
        false
    }
}

/// Kea through its control agent.
#[derive(Debug)]
pub struct KeaBackend(pub KeaClient);

#[async_trait]
impl DhcpBackend for KeaBackend {
    fn kind(&self) -> &'static str {
        "Kea"
    }

    async fn reservations(&self, subnet: Cidr) -> Result<Vec<Reservation>, DhcpError> {
        Ok(self.0.reservations(subnet).await?)
    }

    async fn forget(&self) {
        self.0.invalidate().await;
    }

    async fn apply(&self, change: Change) -> Result<(), DhcpError> {
        Ok(self.0.apply(change).await?)
    }

    async fn apply_expecting(&self, change: Change, expect: kea::Expect) -> Result<(), DhcpError> {
        Ok(self.0.apply_expecting(change, expect).await?)
    }

    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError> {
        let query = match filter {
            LeaseFilter::Subnet(c) => LeaseQuery::Subnet(c),
            LeaseFilter::Mac(m) => LeaseQuery::HwAddress(m),
        };
        let leases = self.0.leases(query).await?;
        let config = self.0.configuration().await?;
        let subnets = kea::config::subnets(&config).map_err(DhcpError::Config)?;
        Ok(leases
            .into_iter()
            .map(|l| ActiveLease {
                ip: l.ip_address,
                mac: l.hw_address,
                client_id: l.client_id,
                hostname: l.hostname,
                subnet: subnets
                    .iter()
                    .find(|s| s.id == Some(l.subnet_id))
                    .map(|s| s.cidr),
                valid_lifetime: l.valid_lifetime,
                cltt: l.cltt,
                expires: l.cltt.saturating_add(l.valid_lifetime),
                state: match l.state {
                    0 => "default",
                    1 => "declined",
                    _ => "expired-reclaimed",
                },
            })
            .collect())
    }
}

/// The static DHCP host entries of a libvirt network (`<host mac= ip= name=>` of its
/// `<ip><dhcp>`), changed in place through `virNetworkUpdate`. The hypervisor is looked up
/// by name in the provider's `hypervisors` map when the backend is first used, so a
/// configuration that never touches this server never needs the hypervisor.
#[derive(Debug)]
pub struct LibvirtBackend {
    /// The hypervisor's name in `hypervisors`; `None`: the default hypervisor.
    pub hypervisor: Option<String>,
    /// The libvirt network.
    pub network: String,
    hypervisors: Hypervisors,
    /// Set by [`DhcpBackend::forget`]: the next read asks libvirt, not the cache.
    stale: AtomicBool,
}

impl LibvirtBackend {
    /// A backend for `network` on `hypervisor` (or the default one), resolved in
    /// `hypervisors` on first use.
    pub fn new(hypervisor: Option<String>, network: String, hypervisors: Hypervisors) -> Self {
        Self {
            hypervisor,
            network,
            hypervisors,
            stale: AtomicBool::new(false),
        }
    }

    fn handle(&self) -> Result<Hypervisor, DhcpError> {
        self.hypervisors
            .get(self.hypervisor.as_deref())
            .map(|h| h.handle)
            .map_err(|d| DhcpError::Hypervisor {
                summary: d.summary,
                detail: d.detail,
            })
    }

    /// The host entry of a reservation: a MAC address, an address and a hostname, which
    /// is all a libvirt host entry holds (the rest is refused at plan time).
    fn host_of(r: &Reservation) -> Result<DhcpHost, DhcpError> {
        match &r.identifier {
            HostIdentifier::HwAddress(mac) => Ok(DhcpHost {
                mac: Some(*mac),
                ip: r.ip_address,
                name: r.hostname.clone(),
            }),
            other => Err(DhcpError::Unsupported {
                backend: "libvirt",
                what: format!("a reservation by {}", other.kind()),
                hint: "Identify the client by `mac`.",
            }),
        }
    }

    /// A host entry as a reservation of `subnet`; entries without a MAC address are
    /// identified by their hostname (read only).
    fn reservation_of(subnet: Cidr, h: DhcpHost) -> Option<Reservation> {
        let identifier = match (h.mac, &h.name) {
            (Some(mac), _) => HostIdentifier::HwAddress(mac),
            (None, Some(name)) => HostIdentifier::Other {
                kind: "name".to_owned(),
                value: name.clone(),
            },
            (None, None) => return None,
        };
        let mut r = Reservation::new(subnet, identifier);
        r.ip_address = h.ip;
        r.hostname = h.name;
        Some(r)
    }

    /// Maps the core's errors onto the backend-neutral ones where the resources react to
    /// them (a missing entry, a conflict naming the other entry).
    fn error(&self, e: DhcpHostError, wanted: Option<&HostIdentifier>) -> DhcpError {
        match e {
            DhcpHostError::NotFound { subnet, mac, .. } => {
                DhcpError::Config(ConfigError::NotFound {
                    subnet,
                    identifier: HostIdentifier::HwAddress(mac),
                })
            }
            DhcpHostError::Conflict {
                network,
                subnet,
                entry,
                what,
                ..
            } if wanted.is_some() => DhcpError::Config(ConfigError::Conflict {
                wanted: wanted.cloned().unwrap_or(HostIdentifier::Other {
                    kind: String::new(),
                    value: String::new(),
                }),
                subnet: format!("{subnet} of libvirt network {network:?}"),
                entry,
                what,
            }),
            other => DhcpError::Libvirt(Box::new(other)),
        }
    }
}

#[async_trait]
impl DhcpBackend for LibvirtBackend {
    fn kind(&self) -> &'static str {
        "libvirt"
    }

    fn unsupported(&self, r: &Reservation) -> Vec<(&'static str, String)> {
        let why = "A libvirt network's host entry holds only a MAC address, an address and a \
                   hostname: libvirt keeps boot options (`<bootp>`) per network, and cannot \
                   change them on a running network. Use a Kea server for this lease, or \
                   remove the attribute.";
        let mut out = Vec::new();
        if !matches!(r.identifier, HostIdentifier::HwAddress(_)) {
            out.push(("client_id", why.to_owned()));
        }
        if r.next_server.is_some() {
            out.push(("next_server", why.to_owned()));
        }
        if r.boot_file_name.is_some() {
            out.push(("boot_file", why.to_owned()));
        }
        if !r.option_data.is_empty() {
            out.push(("options", why.to_owned()));
        }
        if !r.client_classes.is_empty() {
            out.push(("client_classes", why.to_owned()));
        }
        if r.ip_address.is_none() {
            out.push(("ip", "A libvirt host entry needs an address.".to_owned()));
        }
        out
    }

    fn unique_hostnames(&self) -> bool {
        true
    }

    async fn reservations(&self, subnet: Cidr) -> Result<Vec<Reservation>, DhcpError> {
        let hv = self.handle()?;
        let hosts = if self.stale.swap(false, Ordering::Relaxed) {
            hv.dhcp_hosts_fresh(&self.network, subnet).await
        } else {
            hv.dhcp_hosts(&self.network, subnet).await
        };
        let hosts = match hosts {
            Ok(h) => h,
            // No network, no entries: a plan that creates the network with its leases
            // (the write then fails, naming the network, if it still does not exist).
            Err(DhcpHostError::Libvirt(LibvirtError::NotFound {
                kind: ObjectKind::Network,
                ..
            })) => Vec::new(),
            Err(e) => return Err(self.error(e, None)),
        };
        Ok(hosts
            .into_iter()
            .filter_map(|h| Self::reservation_of(subnet, h))
            .collect())
    }

    async fn forget(&self) {
        self.stale.store(true, Ordering::Relaxed);
    }

    async fn apply(&self, change: Change) -> Result<(), DhcpError> {
        let hv = self.handle()?;
        let subnet = change.subnet();
        let wanted = change.identifier().clone();
        let host_change = match change {
            Change::Add(r) => HostChange::Add(Self::host_of(&r)?),
            Change::Replace(r) => HostChange::Modify(Self::host_of(&r)?),
            Change::Remove {
                identifier: HostIdentifier::HwAddress(mac),
                ..
            } => HostChange::Delete(mac),
            Change::Remove { identifier, .. } => {
                return Err(DhcpError::Unsupported {
                    backend: "libvirt",
                    what: format!("removing a reservation by {}", identifier.kind()),
                    hint: "rack writes libvirt host entries by MAC address only.",
                });
            }
            other => {
                return Err(DhcpError::Unsupported {
                    backend: "libvirt",
                    what: format!("the change {other:?}"),
                    hint: "This is a bug in rack, please report it.",
                });
            }
        };
        hv.change_dhcp_host(&self.network, subnet, host_change)
            .await
            .map(|_| ())
            .map_err(|e| self.error(e, Some(&wanted)))
    }

    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError> {
        let hv = self.handle()?;
        let mac = match filter {
            LeaseFilter::Mac(m) => Some(m),
            LeaseFilter::Subnet(_) => None,
        };
        let leases = hv
            .dhcp_leases(&self.network, mac)
            .await
            .map_err(|e| self.error(e, None))?;
        Ok(leases
            .into_iter()
            .filter_map(|l| {
                let IpAddr::V4(ip) = l.ip else { return None };
                let subnet = u8::try_from(l.prefix)
                    .ok()
                    .filter(|p| *p <= 32)
                    .and_then(|p| {
                        let mask = u32::MAX.checked_shl(32 - u32::from(p)).unwrap_or(0);
                        Cidr::new(IpAddr::V4(Ipv4Addr::from(u32::from(ip) & mask)), p).ok()
                    });
                if let LeaseFilter::Subnet(wanted) = filter
                    && subnet != Some(wanted)
                {
                    return None;
                }
                Some(ActiveLease {
                    ip,
                    mac: l.mac,
                    client_id: l.client_id,
                    hostname: l.hostname,
                    subnet,
                    // libvirt reports the expiry only.
                    valid_lifetime: 0,
                    cltt: 0,
                    expires: u64::try_from(l.expiry).unwrap_or(0),
                    state: "default",
                })
            })
            .collect())
    }
}

fn duration_check() -> impl crate::framework::validate::Validator {
    check(
        "A duration such as `30s` or `500ms`.",
        "Invalid duration",
        |v| match v.as_str().map(parse_duration) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        },
    )
}

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
            .validator(duration_check()),
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
    /// knows that the old reservation is its own and its address about to be free.
    pub replacing: std::sync::Mutex<Vec<(Cidr, kea::HostIdentifier)>>,
}

impl DhcpServer {
    /// Notes that the reservation of `identifier` in `subnet` is being replaced.
    pub fn note_replacing(&self, subnet: Cidr, identifier: kea::HostIdentifier) {
        let mut list = self
            .replacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if !list.iter().any(|(s, i)| *s == subnet && *i == identifier) {
            list.push((subnet, identifier));
        }
    }

    /// Whether the reservation of `identifier` in `subnet` is being replaced.
    pub fn is_replacing(&self, subnet: Cidr, identifier: &kea::HostIdentifier) -> bool {
        self.replacing
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
            .iter()
            .any(|(s, i)| *s == subnet && i == identifier)
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

fn str_attr<'a>(v: &'a Value, name: &str) -> Option<&'a str> {
    v.attr(name).and_then(Value::as_str)
}

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
    if !slot.is_null() {
        apply_env(&kea_block(), slot, &path.join_attr("kea"), lookup, diags);
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
                hypervisors.clone(),
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
    match KeaClient::new(config) {
        Ok(client) => Some(DhcpServer {
            name: name.to_string(),
            backend: Arc::new(KeaBackend(client)),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &'static [(&'static str, &'static str)]) -> impl Fn(&str) -> Option<String> {
        move |k| {
            pairs
                .iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

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
}
