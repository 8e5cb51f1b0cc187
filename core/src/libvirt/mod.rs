//! KVM hypervisors through libvirt: one connection per URI owned by its own thread
//! ([`Hypervisor`]), and the objects rack manages on it.
//!
//! - `connection`: the connection's thread, the bounded channel to it, the side lane,
//!   the "fill once, read many" listings and the per-hypervisor cache slots; it knows no
//!   object kinds, each kind below keeps its own cache in a slot;
//! - `error`: [`LibvirtError`] and the mapping of libvirt's error codes to it;
//! - `network`: virtual networks, their model and XML (pure) and their operations;
//! - `dhcp_host`: the static DHCP host entries of a network, changed in place;
//!   `leases`: its active DHCP leases;
//! - `domain`: virtual machines, their model and XML (pure), update plans and their
//!   operations; `seed_volume`: the cloud-init seed volume they write;
//! - `pool`, `volume`: storage pools and volumes, the same way; `upload` streams a
//!   volume's content sparse, `stream_hole` is the one call the `virt` crate lacks;
//! - `xml`: a small element tree over `quick-xml`.
//!
//! libvirt's C library is reached through the `virt` crate's safe wrappers, except
//! `virStreamSendHole` (`stream_hole.rs`) and `virNetworkGetDHCPLeases` (`leases.rs`),
//! the workspace's only `unsafe`.

mod connection;
pub mod dhcp_host;
pub mod domain;
mod error;
mod leases;
pub mod network;
pub mod node;
pub mod pool;
mod seed_volume;
pub mod volume;
mod xml;

pub use connection::{DEFAULT_CALL_TIMEOUT, Hypervisor, MAX_CALLS_IN_FLIGHT};
pub use dhcp_host::{DhcpHost, DhcpHostError, HostChange};
pub use domain::{
    AddressSource, BootDevice, DOMAIN_REPLACE_ATTRIBUTES, DOMAIN_RESTART_ATTRIBUTES, DirectBoot,
    DiskBus, DiskDevice, DiskSpec, DomainCreated, DomainSpec, DomainSpecError, DomainState,
    DomainType, DomainUpdatePlan, DomainUpdated, Firmware, GraphicsKind, GraphicsSpec,
    GuestInterface, InterfaceSource, InterfaceSpec, ShutdownOutcome, cloud_init_volume_name,
    domain_xml, interface_mac, machine_matches, parse_domain_xml, parse_memory_kib,
    plan_domain_update, routable,
};
pub use error::{LibvirtError, ObjectKind};
pub use leases::NetworkLease;
pub use network::{
    DhcpRange, DomainConfig, IpConfig, NetworkMode, NetworkSpec, NetworkSpecError, NetworkState,
    NetworkUpdatePlan, REPLACE_ATTRIBUTES, network_xml, parse_network_xml, plan_update,
};
pub use node::{GuestLimits, NodeInfo};
pub use pool::{
    POOL_REPLACE_ATTRIBUTES, PoolCreated, PoolKind, PoolSpec, PoolSpecError, PoolState,
    PoolUpdatePlan, parse_pool_xml, plan_pool_update, pool_xml,
};
pub use volume::upload::{CHUNK as UPLOAD_CHUNK, UploadError, UploadReport};
pub use volume::{
    BackingStore, SourceLocation, UploadSource, VOLUME_REPLACE_ATTRIBUTES, VolumeContent,
    VolumeFormat, VolumeRef, VolumeSpec, VolumeSpecError, VolumeState, VolumeXml,
    check_volume_name, check_volume_pool, parse_volume_xml,
};
