//! libvirt domains (virtual machines): the model rack manages ([`DomainSpec`]), its XML
//! in both directions, what a change needs ([`plan_domain_update`]), and the operations
//! on a [`Hypervisor`].
//!
//! # What changes how
//!
//! libvirt changes a running domain only through a few calls; everything else is a new
//! persistent definition that the domain picks up at its next start. So a change is one
//! of (see [`DomainUpdatePlan`]):
//!
//! - **live** (and in the persistent definition at once, `VIR_DOMAIN_AFFECT_LIVE |
//!   VIR_DOMAIN_AFFECT_CONFIG`): `memory` up to the maximum (`virDomainSetMemoryFlags`,
//!   the balloon), `vcpus` up to the maximum (`virDomainSetVcpusFlags`), adding or
//!   removing a `virtio` or `scsi` disk and any network interface
//!   (`virDomainAttachDeviceFlags`/`virDomainDetachDeviceFlags`), `autostart`, and the
//!   power state;
//! - **restart**: a graceful shutdown (ACPI power button, forced off after the timeout),
//!   the new definition, and a start: the maximums, `type`, `machine`, `cpu_mode`,
//!   `firmware`, `boot`, the direct-boot kernel, graphics, the serial console and its
//!   log, the agent channel, a SATA disk (QEMU cannot hot-plug AHCI), a changed disk or
//!   interface, and adding or removing the cloud-init seed;
//! - **replace**: the `name`.
//!
//! The cloud-init seed is an ISO image in a volume named [`cloud_init_volume_name`] in
//! the pool the spec names, attached as a read-only SATA CD-ROM. Its contents can be
//! rewritten at any time ([`Hypervisor::write_cloud_init`]); a guest reads them when it
//! boots.

#[cfg(test)]
mod fixtures;
mod ops;
mod plan;
mod seed_volume;
pub(crate) mod spec;
mod xml;

pub use ops::{
    AddressBook, AddressSource, DomainCreated, DomainState, DomainUpdated, GuestInterface,
    ShutdownOutcome, routable,
};
pub use plan::{
    DOMAIN_REPLACE_ATTRIBUTES, DOMAIN_RESTART_ATTRIBUTES, DomainUpdatePlan, machine_matches,
    plan_domain_update,
};
pub use spec::{
    BootDevice, DirectBoot, DiskBus, DiskDevice, DiskSpec, DomainSpec, DomainSpecError, DomainType,
    Firmware, GraphicsKind, GraphicsSpec, InterfaceSource, InterfaceSpec, cloud_init_volume_name,
    interface_mac, parse_memory_kib,
};
pub use xml::{disk_xml, domain_xml, interface_xml, parse_domain_xml};
