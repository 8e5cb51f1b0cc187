//! The Kea backend: reservations and leases through Kea's control agent.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ActiveLease, DhcpBackend, DhcpError, LeaseFilter};
use crate::Cidr;
use crate::kea::{self, Change, Expect, KeaClient, LeaseQuery, Reservation};

/// Kea through its control agent.
#[derive(Debug)]
pub struct KeaBackend(pub KeaClient);

#[async_trait]
impl DhcpBackend for KeaBackend {
    fn kind(&self) -> &'static str {
        "Kea"
    }

    async fn reservations(&self, subnet: Cidr) -> Result<Arc<Vec<Reservation>>, DhcpError> {
        Ok(self.0.shared_reservations(subnet).await?)
    }

    async fn forget(&self) {
        self.0.invalidate().await;
    }

    async fn apply(&self, change: Change) -> Result<(), DhcpError> {
        Ok(self.0.apply(change).await?)
    }

    async fn apply_expecting(&self, change: Change, expect: Expect) -> Result<(), DhcpError> {
        Ok(self.0.apply_expecting(change, expect).await?)
    }

    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError> {
        leases(&self.0, filter).await
    }
}

/// The active leases of the server behind `client`, with their subnets' CIDRs from its
/// configuration; the host-database backend reads leases the same way.
pub(super) async fn leases(
    client: &KeaClient,
    filter: LeaseFilter,
) -> Result<Vec<ActiveLease>, DhcpError> {
    let query = match filter {
        LeaseFilter::Subnet(c) => LeaseQuery::Subnet(c),
        LeaseFilter::Mac(m) => LeaseQuery::HwAddress(m),
        LeaseFilter::All => LeaseQuery::All,
    };
    let leases = client.leases(query).await?;
    let config = client.configuration().await?;
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
