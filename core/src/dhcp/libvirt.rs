//! The libvirt backend: the static DHCP host entries of a libvirt network, and its
//! dnsmasq's leases.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use async_trait::async_trait;

use super::{ActiveLease, DhcpBackend, DhcpError, LeaseFilter};
use crate::Cidr;
use crate::kea::{Change, ConfigError, HostIdentifier, Reservation};
use crate::libvirt::{DhcpHost, DhcpHostError, HostChange, Hypervisor, LibvirtError, ObjectKind};

/// Where a [`LibvirtBackend`] finds its hypervisor by name when first used: the
/// hypervisors the user configured, by the names of their choice.
pub trait HypervisorSource: Send + Sync + fmt::Debug {
    /// The hypervisor called `name`, or the default one when `name` is `None`; a
    /// [`DhcpError::Hypervisor`] saying what to configure when there is none.
    fn hypervisor(&self, name: Option<&str>) -> Result<Hypervisor, DhcpError>;
}

/// The static DHCP host entries of a libvirt network (`<host mac= ip= name=>` of its
/// `<ip><dhcp>`), changed in place through `virNetworkUpdate`. The hypervisor is looked up
/// by name in its [`HypervisorSource`] when the backend is first used, so a
/// configuration that never touches this server never needs the hypervisor.
#[derive(Debug)]
pub struct LibvirtBackend {
    /// The hypervisor's name in `hypervisors`; `None`: the default hypervisor.
    pub hypervisor: Option<String>,
    /// The libvirt network.
    pub network: String,
    hypervisors: Arc<dyn HypervisorSource>,
    /// Set by [`DhcpBackend::forget`]: the next read asks libvirt, not the cache.
    stale: AtomicBool,
}

impl LibvirtBackend {
    /// A backend for `network` on `hypervisor` (or the default one), resolved in
    /// `hypervisors` on first use.
    pub fn new(
        hypervisor: Option<String>,
        network: String,
        hypervisors: Arc<dyn HypervisorSource>,
    ) -> Self {
        Self {
            hypervisor,
            network,
            hypervisors,
            stale: AtomicBool::new(false),
        }
    }

    fn handle(&self) -> Result<Hypervisor, DhcpError> {
        self.hypervisors.hypervisor(self.hypervisor.as_deref())
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
        match r.identifier {
            HostIdentifier::HwAddress(_) => {}
            HostIdentifier::CircuitId(_) => out.push(("circuit_id", why.to_owned())),
            _ => out.push(("client_id", why.to_owned())),
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

    async fn reservations(&self, subnet: Cidr) -> Result<Arc<Vec<Reservation>>, DhcpError> {
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
        Ok(Arc::new(
            hosts
                .into_iter()
                .filter_map(|h| Self::reservation_of(subnet, h))
                .collect(),
        ))
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
            LeaseFilter::Subnet(_) | LeaseFilter::All => None,
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
