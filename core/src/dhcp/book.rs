//! The DHCP servers' active leases as an [`AddressBook`]: where a VM on a network that
//! libvirt hands out no addresses on (a DHCP server elsewhere serves it) finds its
//! address. While waiting for a guest, each server is asked for the MAC addresses still
//! missing (`lease4-get-by-hw-address` on Kea); a refresh reads every server's leases
//! once per provider process (`lease4-get-all`), so its cost grows with the servers, not
//! with the VMs.

use std::net::IpAddr;
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use async_trait::async_trait;
use tokio::sync::OnceCell;

use super::{ActiveLease, DhcpBackend, LeaseFilter};
use crate::libvirt::{AddressBook, GuestInterface};
use crate::net::MacAddress;

/// The active leases of a set of DHCP servers, by MAC address.
#[derive(Debug)]
pub struct LeaseBook {
    servers: Vec<(String, Arc<dyn DhcpBackend>)>,
    /// Every server's leases, read once for refreshes.
    all: OnceCell<Vec<ActiveLease>>,
}

impl LeaseBook {
    /// The book of `servers` (name, backend).
    pub fn new(servers: Vec<(String, Arc<dyn DhcpBackend>)>) -> Self {
        Self {
            servers,
            all: OnceCell::new(),
        }
    }

    /// Whether it holds no server.
    pub fn is_empty(&self) -> bool {
        self.servers.is_empty()
    }

    async fn every_lease(&self) -> &[ActiveLease] {
        self.all
            .get_or_init(|| async {
                let mut all = Vec::new();
                for (name, server) in &self.servers {
                    match server.leases(LeaseFilter::All).await {
                        Ok(leases) => all.extend(leases),
                        Err(e) => tracing::debug!(
                            server = %name,
                            error = %e,
                            "the DHCP server's leases could not be read"
                        ),
                    }
                }
                all
            })
            .await
    }

    async fn leases_of(&self, mac: MacAddress) -> Vec<ActiveLease> {
        let mut out = Vec::new();
        for (name, server) in &self.servers {
            match server.leases(LeaseFilter::Mac(mac)).await {
                Ok(leases) => out.extend(leases),
                Err(e) => tracing::debug!(
                    server = %name,
                    %mac,
                    error = %e,
                    "the DHCP server's leases could not be read"
                ),
            }
        }
        out
    }
}

/// Whether `lease` is in use now: in the default state and not expired.
fn active(lease: &ActiveLease, now: u64) -> bool {
    lease.state == "default" && lease.expires > now
}

/// One interface per MAC address of `macs` with an active lease in `leases`, holding
/// those leases' addresses (the most recent first).
fn interfaces(macs: &[MacAddress], leases: &[ActiveLease], now: u64) -> Vec<GuestInterface> {
    macs.iter()
        .filter_map(|mac| {
            let mut mine: Vec<&ActiveLease> = leases
                .iter()
                .filter(|l| l.mac == Some(*mac) && active(l, now))
                .collect();
            mine.sort_by_key(|l| std::cmp::Reverse(l.cltt));
            let mut addresses: Vec<(IpAddr, u8)> = Vec::new();
            for l in mine {
                let prefix = l.subnet.map_or(32, |c| c.prefix_len());
                let entry = (IpAddr::V4(l.ip), prefix);
                if !addresses.contains(&entry) {
                    addresses.push(entry);
                }
            }
            (!addresses.is_empty()).then(|| GuestInterface {
                name: String::new(),
                mac: Some(*mac),
                addresses,
            })
        })
        .collect()
}

fn now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[async_trait]
impl AddressBook for LeaseBook {
    async fn addresses(&self, macs: &[MacAddress], fresh: bool) -> Vec<GuestInterface> {
        if self.servers.is_empty() || macs.is_empty() {
            return Vec::new();
        }
        if fresh {
            let mut leases = Vec::new();
            for mac in macs {
                leases.extend(self.leases_of(*mac).await);
            }
            interfaces(macs, &leases, now())
        } else {
            interfaces(macs, self.every_lease().await, now())
        }
    }

    fn describe(&self) -> String {
        let names: Vec<String> = self.servers.iter().map(|(n, _)| format!("{n:?}")).collect();
        format!("the active leases of DHCP servers {}", names.join(", "))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn lease(mac: &str, ip: [u8; 4], cltt: u64, expires: u64, state: &'static str) -> ActiveLease {
        ActiveLease {
            ip: Ipv4Addr::from(ip),
            mac: Some(mac.parse().unwrap()),
            client_id: None,
            hostname: None,
            subnet: Some("10.10.60.0/24".parse().unwrap()),
            valid_lifetime: 3600,
            cltt,
            expires,
            state,
        }
    }

    #[test]
    fn only_active_leases_of_the_asked_macs_count_newest_first() {
        let a: MacAddress = "02:00:00:00:00:01".parse().unwrap();
        let b: MacAddress = "02:00:00:00:00:02".parse().unwrap();
        let leases = vec![
            lease("02:00:00:00:00:01", [10, 10, 60, 11], 100, 5000, "default"),
            lease("02:00:00:00:00:01", [10, 10, 60, 21], 200, 5000, "default"),
            lease("02:00:00:00:00:01", [10, 10, 60, 31], 300, 900, "default"),
            lease("02:00:00:00:00:02", [10, 10, 60, 12], 100, 5000, "declined"),
            lease("02:00:00:00:00:03", [10, 10, 60, 13], 100, 5000, "default"),
        ];
        let found = interfaces(&[a, b], &leases, 1000);
        assert_eq!(found.len(), 1);
        assert_eq!(found[0].mac, Some(a));
        let ips: Vec<String> = found[0]
            .addresses
            .iter()
            .map(|(ip, p)| format!("{ip}/{p}"))
            .collect();
        assert_eq!(ips, ["10.10.60.21/24", "10.10.60.11/24"]);
    }
}
