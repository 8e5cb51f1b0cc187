//! The Kea host-database backend: reservations as rows of Kea's PostgreSQL host database,
//! subnets (their ids) and leases through the control agent.

use std::sync::Arc;

use async_trait::async_trait;

use super::{ActiveLease, DhcpBackend, DhcpError, LeaseFilter};
use crate::Cidr;
use crate::kea::hostdb::{HostDbClient, Request, SubnetIds};
use crate::kea::{self, Change, Expect, KeaClient, Reservation};

/// Kea with its reservations in a host database.
#[derive(Debug)]
pub struct KeaHostDbBackend {
    /// The control agent: the subnets' ids (from its cached `config-get`) and leases.
    pub kea: KeaClient,
    /// The host database.
    pub hosts: HostDbClient,
}

impl KeaHostDbBackend {
    /// The ids of the server's subnets (those without an id in the configuration cannot
    /// hold rows and are left out).
    async fn subnet_ids(&self) -> Result<SubnetIds, DhcpError> {
        let config = self.kea.configuration().await?;
        let subnets = kea::config::subnets(&config).map_err(DhcpError::Config)?;
        Ok(SubnetIds(
            subnets
                .into_iter()
                .filter_map(|s| Some((s.cidr, u32::try_from(s.id?).ok()?)))
                .collect(),
        ))
    }
}

#[async_trait]
impl DhcpBackend for KeaHostDbBackend {
    fn kind(&self) -> &'static str {
        "Kea hosts database"
    }

    async fn reservations(&self, subnet: Cidr) -> Result<Arc<Vec<Reservation>>, DhcpError> {
        let ids = self.subnet_ids().await?;
        Ok(self.hosts.shared_reservations(&ids, subnet).await?)
    }

    async fn forget(&self) {
        self.hosts.invalidate().await;
        self.kea.invalidate().await;
    }

    async fn apply(&self, change: Change) -> Result<(), DhcpError> {
        let ids = self.subnet_ids().await?;
        Ok(self.hosts.apply(&ids, change, None).await?)
    }

    /// Checked inside the transaction that writes the change, against the row as locked.
    async fn apply_expecting(&self, change: Change, expect: Expect) -> Result<(), DhcpError> {
        let ids = self.subnet_ids().await?;
        Ok(self.hosts.apply(&ids, change, Some(expect)).await?)
    }

    /// One transaction for every change, each checked against its row as locked.
    async fn apply_all(
        &self,
        changes: Vec<(Change, Option<Expect>)>,
    ) -> Vec<Result<(), DhcpError>> {
        let count = changes.len();
        if count == 0 {
            return Vec::new();
        }
        let ids = match self.subnet_ids().await {
            Ok(ids) => ids,
            Err(e) => return vec![Err(e); count],
        };
        let requests: Vec<Request> = changes
            .into_iter()
            .map(|(change, expect)| Request { change, expect })
            .collect();
        match self.hosts.apply_batch(&ids, &requests).await {
            Ok(outcomes) => outcomes
                .into_iter()
                .map(|o| o.map_err(DhcpError::from))
                .collect(),
            Err(e) => vec![Err(DhcpError::from(e)); count],
        }
    }

    fn unsupported(&self, r: &Reservation) -> Vec<(&'static str, String)> {
        kea::hostdb::rows::too_long(r)
    }

    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError> {
        super::kea::leases(&self.kea, filter).await
    }
}
