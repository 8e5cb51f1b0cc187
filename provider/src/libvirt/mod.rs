//! The libvirt family: the provider block's `hypervisors` attributes and their
//! connections, the `rack_network`, `rack_storage_pool`, `rack_volume` and `rack_vm`
//! resources, the hypervisor and volume data sources and the VM list resource.

pub mod hypervisor_data;
pub mod network;
pub mod network_list;
pub mod provider_block;
pub mod shared;
pub mod storage_pool;
pub mod storage_pool_list;
pub mod vm;
pub mod vm_list;
pub mod volume;
pub mod volume_data;
pub mod volume_list;

use std::sync::Arc;

use crate::config::Family;

/// The libvirt family, as the provider registers it.
pub fn family() -> Family {
    Family {
        attributes: provider_block::attributes(),
        configure: |config, lookup, diags, clients| {
            clients.insert(provider_block::configure(config, lookup, diags));
        },
        resources: vec![
            Arc::new(network::Network),
            Arc::new(storage_pool::StoragePool),
            Arc::new(volume::Volume),
            Arc::new(vm::Vm),
        ],
        data_sources: vec![
            Arc::new(hypervisor_data::HypervisorData),
            Arc::new(volume_data::VolumeData),
        ],
        list_resources: vec![
            Arc::new(vm_list::VmList),
            Arc::new(network_list::NetworkList),
            Arc::new(storage_pool_list::StoragePoolList),
            Arc::new(volume_list::VolumeList),
        ],
        ..Family::default()
    }
}
