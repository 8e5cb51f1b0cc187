//! The DHCP family: the provider block's `dhcp` section and its servers, the
//! `rack_dhcp_lease` resource, the `rack_dhcp_leases` data source and the lease list
//! resource.

pub mod lease;
pub mod lease_list;
pub mod leases_data;
pub mod provider_block;
pub mod shared;

use std::sync::Arc;

use crate::config::hypervisors::Hypervisors;
use crate::config::{Configured, Family, Lookup};
use crate::framework::schema::NestedBlock;
use crate::framework::{DataSource, Diagnostics, ListResource, Resource};
use crate::protocol::value::Value;

/// The DHCP family, as the provider registers it.
pub fn family() -> Box<dyn Family> {
    Box::new(Dhcp)
}

struct Dhcp;

impl Family for Dhcp {
    fn blocks(&self) -> Vec<NestedBlock> {
        vec![provider_block::block()]
    }

    /// A `libvirt` server reaches its hypervisor through the configured [`Hypervisors`],
    /// so the family that builds them is registered before this one.
    fn configure(
        &self,
        config: &Value,
        lookup: Lookup<'_>,
        diags: &mut Diagnostics,
        clients: &mut Configured,
    ) {
        let value = config.attr("dhcp").cloned().unwrap_or(Value::Null);
        let hypervisors = clients.get::<Hypervisors>().unwrap_or_default();
        clients.insert(provider_block::configure(
            &value,
            lookup,
            diags,
            &hypervisors,
        ));
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![Arc::new(lease::DhcpLease)]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![Arc::new(leases_data::DhcpLeasesData)]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(lease_list::DhcpLeaseList)]
    }
}
