//! The `rack` provider: its configuration block and everything it offers.

pub mod dhcp;
pub mod dns;
pub mod hypervisors;
pub mod servers;

use std::sync::Arc;

use async_trait::async_trait;

use crate::data_sources::dhcp_leases::DhcpLeasesData;
use crate::data_sources::dns_record_set::DnsRecordSetData;
use crate::data_sources::dns_zone::DnsZoneData;
use crate::data_sources::hypervisor::HypervisorData;
use crate::data_sources::volume::VolumeData;
use crate::framework::schema::{Block, Schema};
use crate::framework::{
    DataSource, Diagnostics, Function, ListResource, Provider, ProviderData, Resource,
};
use crate::functions;
use crate::list_resources::dhcp_lease::DhcpLeaseList;
use crate::list_resources::dns_record_set::DnsRecordSetList;
use crate::list_resources::vm::VmList;
use crate::protocol::value::Value;
use crate::resources::dhcp_lease::DhcpLease;
use crate::resources::dns_record_set::DnsRecordSet;
use crate::resources::dns_zone::DnsZone;
use crate::resources::network::Network;
use crate::resources::storage_pool::StoragePool;
use crate::resources::vm::Vm;
use crate::resources::volume::Volume;

/// Provider type name, as in `provider "rack" {}` and `provider::rack::...`.
pub const TYPE_NAME: &str = "rack";

/// Provider source address used in examples and tests.
pub const SOURCE_ADDRESS: &str = "terraform.local/rack/rack";

/// What the provider keeps after `configure`, shared by every resource.
#[derive(Debug, Default)]
pub struct RackConfig {
    /// The DNS servers of the `dns` block.
    pub dns: dns::DnsServers,
    /// The DHCP servers of the `dhcp` block.
    pub dhcp: dhcp::DhcpServers,
    /// The KVM hypervisors of the `hypervisors` map.
    pub hypervisors: hypervisors::Hypervisors,
}

/// The rack provider.
#[derive(Debug, Default, Clone, Copy)]
pub struct RackProvider;

#[async_trait]
impl Provider for RackProvider {
    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Manages a data-centre zone as code, through the services the team already runs \
             (BIND or any RFC 2136 server, Kea, libvirt). Every setting of this block can \
             also come from the environment variable named in its description. The provider \
             functions need no configuration.",
            )
            .attributes(hypervisors::attributes())
            .block(dns::block())
            .block(dhcp::block()),
        )
    }

    async fn configure(&self, config: Value, diags: &mut Diagnostics) -> Option<ProviderData> {
        let lookup = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let hypervisors = hypervisors::configure(&config, &lookup, diags);
        let dns_value = config.attr("dns").cloned().unwrap_or(Value::Null);
        let dns = dns::configure(&dns_value, &lookup, diags);
        let dhcp_value = config.attr("dhcp").cloned().unwrap_or(Value::Null);
        let dhcp = dhcp::configure(&dhcp_value, &lookup, diags);
        Some(Arc::new(RackConfig {
            dns,
            dhcp,
            hypervisors,
        }))
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(DnsRecordSet),
            Arc::new(DnsZone),
            Arc::new(DhcpLease),
            Arc::new(Network),
            Arc::new(StoragePool),
            Arc::new(Volume),
            Arc::new(Vm),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(DnsZoneData),
            Arc::new(DnsRecordSetData),
            Arc::new(DhcpLeasesData),
            Arc::new(HypervisorData),
            Arc::new(VolumeData),
        ]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![
            Arc::new(DnsRecordSetList),
            Arc::new(DhcpLeaseList),
            Arc::new(VmList),
        ]
    }

    fn functions(&self) -> Vec<Arc<dyn Function>> {
        functions::all()
    }
}
