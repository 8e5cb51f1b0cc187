//! The libvirt family: the provider block's `hypervisors` attributes and their
//! connections, the `rack_network`, `rack_storage_pool`, `rack_volume` and `rack_vm`
//! resources, the hypervisor and volume data sources and the VM list resource.

pub mod hypervisor_data;
pub mod network;
pub mod provider_block;
pub mod shared;
pub mod storage_pool;
pub mod vm;
pub mod vm_list;
pub mod volume;
pub mod volume_data;

use std::sync::Arc;

use crate::config::{Configured, Family, Lookup};
use crate::framework::schema::Attribute;
use crate::framework::{DataSource, Diagnostics, ListResource, Resource};
use crate::protocol::value::Value;

/// The libvirt family, as the provider registers it.
pub fn family() -> Box<dyn Family> {
    Box::new(Libvirt)
}

struct Libvirt;

impl Family for Libvirt {
    fn attributes(&self) -> Vec<Attribute> {
        provider_block::attributes()
    }

    fn configure(
        &self,
        config: &Value,
        lookup: Lookup<'_>,
        diags: &mut Diagnostics,
        clients: &mut Configured,
    ) {
        clients.insert(provider_block::configure(config, lookup, diags));
    }

    fn resources(&self) -> Vec<Arc<dyn Resource>> {
        vec![
            Arc::new(network::Network),
            Arc::new(storage_pool::StoragePool),
            Arc::new(volume::Volume),
            Arc::new(vm::Vm),
        ]
    }

    fn data_sources(&self) -> Vec<Arc<dyn DataSource>> {
        vec![
            Arc::new(hypervisor_data::HypervisorData),
            Arc::new(volume_data::VolumeData),
        ]
    }

    fn list_resources(&self) -> Vec<Arc<dyn ListResource>> {
        vec![Arc::new(vm_list::VmList)]
    }
}
