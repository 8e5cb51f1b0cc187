//! KVM hypervisors through libvirt: one connection per URI owned by its own thread
//! ([`Hypervisor`]), and the objects rack manages on it.
//!
//! Layers, bottom up; a module uses only those below it, never one beside or above:
//!
//! ```text
//!   domain/   ──> volume/ ──> pool/        dhcp_host, leases ──> network/     node
//!     │            │           │              │                    │            │
//!     └────────────┴───────────┴──────────────┴────────────────────┴────────────┘
//!                                      │
//!          connection (thread, channel, side lane, listings, cache slots)
//!          error (LibvirtError)      xml (element tree)
//! ```
//!
//! - `connection`: the connection's thread, the bounded channel to it, the side lane,
//!   the "fill once, read many" listings and the per-hypervisor cache slots. It knows no
//!   object kinds: each kind keeps its own cache in a slot, keyed by the cache's type;
//! - `error`: [`LibvirtError`] and the mapping of libvirt's error codes to it;
//! - `xml`: a small element tree over `quick-xml`;
//! - one folder per kind, each split the same way: `spec` (the model rack manages and
//!   its validation), `xml` (its XML in both directions) and `plan` (what a change
//!   needs) are pure; `ops` holds the operations on a [`Hypervisor`]:
//!   - `network`: virtual networks; `dhcp_host`: the static DHCP host entries of a
//!     network, changed in place; `leases`: its active DHCP leases;
//!   - `pool`: storage pools;
//!   - `volume`: storage volumes; `content` fills a new one from its source, `upload`
//!     streams a volume's content sparse, `stream_hole` is the one call the `virt` crate
//!     lacks;
//!   - `domain`: virtual machines; `seed_volume` writes their cloud-init seed volume;
//! - `node`: what the hypervisor's host offers ([`NodeInfo`], [`GuestLimits`]);
//! - `on_demand`: loads libvirt's C library when the first hypervisor is configured
//!   rather than at process start (the provider binary's trampolines, [`crate::libvirt_on_demand`]).
//!
//! libvirt's C library is reached through the `virt` crate's safe wrappers, except
//! `virStreamSendHole` (`volume/stream_hole.rs`) and `virNetworkGetDHCPLeases` (`leases.rs`);
//! those two and `on_demand` are the workspace's only `unsafe`.

mod connection;
pub mod dhcp_host;
pub mod domain;
mod error;
mod leases;
pub mod network;
pub mod node;
pub mod on_demand;
pub mod pool;
pub mod volume;
mod xml;

pub use connection::{DEFAULT_CALL_TIMEOUT, Hypervisor, MAX_CALLS_IN_FLIGHT};
pub use dhcp_host::{DhcpHost, DhcpHostError, HostChange};
pub use domain::{
    AddressBook, AddressSource, BootDevice, DOMAIN_REPLACE_ATTRIBUTES, DOMAIN_RESTART_ATTRIBUTES,
    DirectBoot, DiskBus, DiskDevice, DiskSpec, DomainCreated, DomainSpec, DomainSpecError,
    DomainState, DomainType, DomainUpdatePlan, DomainUpdated, Firmware, GraphicsKind, GraphicsSpec,
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
    VolumeFormat, VolumeRef, VolumeSpec, VolumeSpecError, VolumeState, check_volume_name,
    check_volume_pool, parse_volume_xml,
};
