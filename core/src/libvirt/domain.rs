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

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt::domain::Domain;
use virt::sys;

use super::connection::{Hypervisor, Link, Listing};
use super::error::{LibvirtError, ObjectKind};
use super::pool::valid_path;
use super::seed_volume;
use super::xml::{Element, is_plain};
use crate::cloudinit::CloudInit;
use crate::net::{MacAddress, MacPrefix, derive_mac};

/// The hypervisor driver a domain runs under.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DomainType {
    /// Hardware virtualisation through KVM.
    #[default]
    Kvm,
    /// Plain QEMU emulation (TCG): slow, but needs no KVM.
    Qemu,
}

impl DomainType {
    /// The name in configuration and XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Kvm => "kvm",
            Self::Qemu => "qemu",
        }
    }
}

/// The firmware a domain boots with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Firmware {
    /// SeaBIOS.
    #[default]
    Bios,
    /// UEFI through OVMF, with a per-domain NVRAM file libvirt creates (and removes on
    /// undefine).
    Uefi,
}

/// A boot device, in `boot` order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum BootDevice {
    /// The first disk.
    Disk,
    /// PXE from the first interface.
    Network,
    /// The first CD-ROM.
    Cdrom,
}

impl BootDevice {
    fn xml(self) -> &'static str {
        match self {
            Self::Disk => "hd",
            Self::Network => "network",
            Self::Cdrom => "cdrom",
        }
    }
}

/// The bus a disk is attached to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DiskBus {
    /// virtio-blk: fast, hot-pluggable, `vdX` in the guest.
    #[default]
    Virtio,
    /// AHCI: any guest has a driver, not hot-pluggable, `sdX`.
    Sata,
    /// virtio-scsi: hot-pluggable, `sdX`.
    Scsi,
}

impl DiskBus {
    /// The name in configuration and XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Virtio => "virtio",
            Self::Sata => "sata",
            Self::Scsi => "scsi",
        }
    }

    /// Whether QEMU can add and remove disks on this bus while the guest runs.
    pub fn hotpluggable(self) -> bool {
        !matches!(self, Self::Sata)
    }

    fn prefix(self) -> &'static str {
        match self {
            Self::Virtio => "vd",
            Self::Sata | Self::Scsi => "sd",
        }
    }
}

/// What a disk looks like to the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum DiskDevice {
    /// A disk.
    #[default]
    Disk,
    /// A CD-ROM (always read-only).
    Cdrom,
}

/// A disk: a volume in a storage pool of the hypervisor.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DiskSpec {
    /// The storage pool.
    pub pool: String,
    /// The volume in it.
    pub volume: String,
    /// The bus.
    pub bus: DiskBus,
    /// Disk or CD-ROM.
    pub device: DiskDevice,
    /// Whether the guest may only read it.
    pub readonly: bool,
    /// The serial number the guest sees (e.g. for `/dev/disk/by-id`).
    pub serial: Option<String>,
    /// The volume's format (`raw`, `qcow2`); `None`: raw.
    pub format: Option<String>,
    /// The target device name (`vda`, `sdb`); `None`: the first free one on the bus.
    pub target: Option<String>,
}

impl DiskSpec {
    /// A read-write virtio disk on `pool`/`volume`.
    pub fn new(pool: impl Into<String>, volume: impl Into<String>) -> Self {
        Self {
            pool: pool.into(),
            volume: volume.into(),
            bus: DiskBus::Virtio,
            device: DiskDevice::Disk,
            readonly: false,
            serial: None,
            format: None,
            target: None,
        }
    }

    /// Whether two disks are the same attachment, the target aside when either leaves
    /// it to rack.
    fn same_as(&self, other: &DiskSpec) -> bool {
        let targets = match (&self.target, &other.target) {
            (Some(a), Some(b)) => a == b,
            _ => true,
        };
        self.pool == other.pool
            && self.volume == other.volume
            && self.bus == other.bus
            && self.device == other.device
            && (self.readonly || self.device == DiskDevice::Cdrom)
                == (other.readonly || other.device == DiskDevice::Cdrom)
            && self.serial == other.serial
            && self.format.as_deref().unwrap_or("raw") == other.format.as_deref().unwrap_or("raw")
            && targets
    }
}

/// Where a network interface is plugged in.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum InterfaceSource {
    /// A libvirt network of the hypervisor.
    Network(String),
    /// A bridge of the host.
    Bridge(String),
}

/// A network interface.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct InterfaceSpec {
    /// Where it is plugged in.
    pub source: InterfaceSource,
    /// The NIC model (`virtio`, `e1000`, `rtl8139`); `None`: virtio.
    pub model: Option<String>,
    /// The MAC address; `None`: derived from the VM's name and the interface's index
    /// ([`interface_mac`]).
    pub mac: Option<MacAddress>,
}

impl InterfaceSpec {
    /// A virtio interface on the libvirt network `network`, with a derived MAC.
    pub fn network(network: impl Into<String>) -> Self {
        Self {
            source: InterfaceSource::Network(network.into()),
            model: None,
            mac: None,
        }
    }

    fn model(&self) -> &str {
        self.model.as_deref().unwrap_or("virtio")
    }
}

/// The MAC address of interface `index` of VM `vm` when none is given:
/// `derive_mac("<vm>/<index>", 52:54:00)`, the same as the provider function
/// `provider::rack::mac_address("<vm>/<index>")`.
pub fn interface_mac(vm: &str, index: usize) -> MacAddress {
    derive_mac(&format!("{vm}/{index}"), &MacPrefix::default())
}

/// The remote display protocol.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GraphicsKind {
    /// VNC.
    Vnc,
    /// SPICE.
    Spice,
}

impl GraphicsKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Vnc => "vnc",
            Self::Spice => "spice",
        }
    }
}

/// A graphical console, on an automatically chosen port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct GraphicsSpec {
    /// VNC or SPICE.
    pub kind: GraphicsKind,
    /// The address it listens on; `None`: libvirt's default (`127.0.0.1` usually).
    pub listen: Option<String>,
    /// The password; libvirt never shows it back without the secure flag, so it is not
    /// read back and never compared.
    pub password: Option<String>,
}

impl GraphicsSpec {
    fn same_as(&self, other: &GraphicsSpec) -> bool {
        self.kind == other.kind && (self.listen.is_none() || self.listen == other.listen)
    }
}

/// Booting a kernel directly (no boot loader in the guest).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DirectBoot {
    /// The kernel's path on the hypervisor.
    pub kernel: String,
    /// The initramfs's path on the hypervisor.
    pub initrd: Option<String>,
    /// The kernel command line.
    pub cmdline: Option<String>,
}

/// A virtual machine as rack manages it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct DomainSpec {
    /// The name, unique on the hypervisor.
    pub name: String,
    /// KVM or plain QEMU.
    pub domain_type: DomainType,
    /// Virtual CPUs at start.
    pub vcpus: u32,
    /// The most vCPUs it can have without a restart; `None`: `vcpus`.
    pub max_vcpus: Option<u32>,
    /// Memory in KiB.
    pub memory_kib: u64,
    /// The most memory it can have without a restart, in KiB; `None`: `memory_kib`.
    pub max_memory_kib: Option<u64>,
    /// `host-passthrough`, `host-model`, `maximum` or `custom`; `None`: libvirt's default.
    pub cpu_mode: Option<String>,
    /// The machine type (`pc`, `q35`, or a versioned one); `None`: libvirt's default.
    pub machine: Option<String>,
    /// BIOS or UEFI.
    pub firmware: Firmware,
    /// Boot order; empty: the first disk.
    pub boot: Vec<BootDevice>,
    /// Disks, in order.
    pub disks: Vec<DiskSpec>,
    /// Network interfaces, in order (the index derives the MAC when none is given).
    pub interfaces: Vec<InterfaceSpec>,
    /// A graphical console.
    pub graphics: Option<GraphicsSpec>,
    /// A serial console (a pty on the hypervisor, `virsh console`).
    pub serial_console: bool,
    /// A file on the hypervisor that receives everything the serial console prints
    /// (through virtlogd, appended across starts); needs `serial_console`.
    pub console_log: Option<String>,
    /// A virtio channel for the QEMU guest agent.
    pub guest_agent: bool,
    /// Kernel, initramfs and command line to boot directly.
    pub direct_boot: Option<DirectBoot>,
    /// The pool holding the cloud-init seed ([`cloud_init_volume_name`]), attached as a
    /// read-only SATA CD-ROM; `None`: no seed.
    pub cloud_init_pool: Option<String>,
    /// Whether it runs.
    pub running: bool,
    /// Whether libvirt starts it with the daemon.
    pub autostart: bool,
}

impl DomainSpec {
    /// A KVM machine with 1 vCPU and `memory_kib`, running, and nothing else.
    pub fn new(name: impl Into<String>, memory_kib: u64) -> Self {
        Self {
            name: name.into(),
            domain_type: DomainType::Kvm,
            vcpus: 1,
            max_vcpus: None,
            memory_kib,
            max_memory_kib: None,
            cpu_mode: None,
            machine: None,
            firmware: Firmware::Bios,
            boot: Vec::new(),
            disks: Vec::new(),
            interfaces: Vec::new(),
            graphics: None,
            serial_console: false,
            console_log: None,
            guest_agent: false,
            direct_boot: None,
            cloud_init_pool: None,
            running: true,
            autostart: false,
        }
    }

    /// The MAC address of interface `index` (given, or derived).
    pub fn mac(&self, index: usize) -> Option<MacAddress> {
        self.interfaces
            .get(index)
            .map(|i| i.mac.unwrap_or_else(|| interface_mac(&self.name, index)))
    }

    /// Every interface with its MAC address filled in.
    pub fn resolved_interfaces(&self) -> Vec<InterfaceSpec> {
        self.interfaces
            .iter()
            .enumerate()
            .map(|(i, iface)| InterfaceSpec {
                mac: Some(iface.mac.unwrap_or_else(|| interface_mac(&self.name, i))),
                ..iface.clone()
            })
            .collect()
    }

    fn max_vcpus(&self) -> u32 {
        self.max_vcpus.unwrap_or(self.vcpus).max(self.vcpus)
    }

    fn max_memory_kib(&self) -> u64 {
        self.max_memory_kib
            .unwrap_or(self.memory_kib)
            .max(self.memory_kib)
    }

    fn boot_order(&self) -> Vec<BootDevice> {
        if self.boot.is_empty() {
            vec![BootDevice::Disk]
        } else {
            self.boot.clone()
        }
    }

    /// Every disk the domain has, the cloud-init seed last, with targets assigned.
    fn all_disks(&self) -> Vec<DiskSpec> {
        let mut disks = self.disks.clone();
        if let Some(pool) = &self.cloud_init_pool {
            disks.push(cloud_init_disk(&self.name, pool));
        }
        assign_targets(&mut disks, &BTreeSet::new());
        disks
    }
}

/// The name of the volume holding VM `vm`'s cloud-init seed.
pub fn cloud_init_volume_name(vm: &str) -> String {
    format!("{vm}-cidata.iso")
}

fn cloud_init_disk(vm: &str, pool: &str) -> DiskSpec {
    DiskSpec {
        bus: DiskBus::Sata,
        device: DiskDevice::Cdrom,
        readonly: true,
        ..DiskSpec::new(pool, cloud_init_volume_name(vm))
    }
}

/// Gives every disk without a target the first free name of its bus (`vda`, `vdb`, ...;
/// `sda`, ... shared by SATA and SCSI), after the names in `taken`.
fn assign_targets(disks: &mut [DiskSpec], taken: &BTreeSet<String>) {
    let mut used: BTreeSet<String> = taken.clone();
    used.extend(disks.iter().filter_map(|d| d.target.clone()));
    for d in disks.iter_mut().filter(|d| d.target.is_none()) {
        let name = free_target(d.bus, &used);
        used.insert(name.clone());
        d.target = Some(name);
    }
}

fn free_target(bus: DiskBus, used: &BTreeSet<String>) -> String {
    (0..)
        .map(|i| format!("{}{}", bus.prefix(), disk_letters(i)))
        .find(|n| !used.contains(n))
        .unwrap_or_default()
}

/// `a`..`z`, `aa`..`zz`, ... as Linux names disks.
fn disk_letters(mut i: usize) -> String {
    let mut s = Vec::new();
    loop {
        s.push(b'a' + (i % 26) as u8);
        if i < 26 {
            break;
        }
        i = i / 26 - 1;
    }
    s.reverse();
    String::from_utf8_lossy(&s).into_owned()
}

/// Why a domain specification, a memory size or a domain's XML cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DomainSpecError {
    /// The name is empty or has characters libvirt refuses.
    #[error(
        "VM name {0:?} is not valid; use a non-empty name without '/', spaces, quotes, '<', '>' or '&'"
    )]
    Name(String),
    /// A memory size that cannot be read.
    #[error(
        "Memory size {0:?} is not valid; use a whole number with a unit, e.g. 512MiB, 2GiB or 1048576KiB (KiB, MiB, GiB, TiB; KB, MB, GB, TB are powers of 1000)"
    )]
    MemorySize(String),
    /// A count or size of zero, or a maximum below the current value.
    #[error("`{attribute}` is {value}; {expected}")]
    Range {
        /// The attribute.
        attribute: &'static str,
        /// The value given.
        value: u64,
        /// What is allowed.
        expected: String,
    },
    /// A CPU mode libvirt does not know.
    #[error("CPU mode {0:?} is not valid; use host-passthrough, host-model, maximum or custom")]
    CpuMode(String),
    /// An empty or misplaced name or path.
    #[error("`{attribute}` is {value:?}; {expected}")]
    Value {
        /// The attribute.
        attribute: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A value of one disk or interface that libvirt would refuse or could not keep.
    #[error("`{block}[{index}].{attribute}` is {value:?}; {expected}")]
    Item {
        /// The block: `disk` or `network_interface`.
        block: &'static str,
        /// The block's index.
        index: usize,
        /// The attribute in the block.
        attribute: &'static str,
        /// The value given.
        value: String,
        /// What is allowed.
        expected: &'static str,
    },
    /// A multicast or broadcast MAC address, which no interface can have.
    #[error(
        "Network interface {index} has MAC address {mac}, a multicast or broadcast address; use a unicast address (even first octet), e.g. 52:54:00:12:34:56, or leave `mac` out to derive one"
    )]
    MulticastMac {
        /// The interface's index.
        index: usize,
        /// The MAC address.
        mac: MacAddress,
    },
    /// Two interfaces would have the same MAC address.
    #[error(
        "Network interfaces {first} and {second} both have MAC address {mac}; give each interface its own `mac`, or leave it out to derive one"
    )]
    DuplicateMac {
        /// The MAC address.
        mac: MacAddress,
        /// The first interface's index.
        first: usize,
        /// The second interface's index.
        second: usize,
    },
    /// A volume is attached twice.
    #[error("Volume {volume:?} of pool {pool:?} is attached twice; attach each volume once")]
    DuplicateDisk {
        /// The pool.
        pool: String,
        /// The volume.
        volume: String,
        /// The index of the second disk attaching it.
        index: usize,
    },
    /// Two disks have the same target.
    #[error("Two disks have target {0:?}; give each disk its own target, or leave it out")]
    DuplicateTarget(String, usize),
    /// The XML is not well-formed.
    #[error("Domain XML is not well-formed: {0}")]
    Syntax(String),
    /// The XML is well-formed but not a domain rack can model.
    #[error("Domain XML cannot be read by rack: {0}")]
    Unsupported(String),
}

/// Parses a memory size into KiB: a whole number and a unit, `KiB`/`K`, `MiB`/`M`,
/// `GiB`/`G`, `TiB`/`T` (powers of 1024), `KB`, `MB`, `GB`, `TB` (powers of 1000) or
/// `B`; a bare number is MiB. The result must be a whole number of KiB, at least 1.
pub fn parse_memory_kib(text: &str) -> Result<u64, DomainSpecError> {
    let bad = || DomainSpecError::MemorySize(text.to_owned());
    let t = text.trim();
    let digits = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (number, unit) = t.split_at(digits);
    let number: u64 = number.parse().map_err(|_| bad())?;
    let bytes_per: u64 = match unit.trim() {
        "" | "M" | "MiB" => 1 << 20,
        "B" => 1,
        "K" | "KiB" => 1 << 10,
        "G" | "GiB" => 1 << 30,
        "T" | "TiB" => 1 << 40,
        "KB" | "kB" => 1000,
        "MB" => 1000 * 1000,
        "GB" => 1000 * 1000 * 1000,
        "TB" => 1000 * 1000 * 1000 * 1000,
        _ => return Err(bad()),
    };
    let bytes = number.checked_mul(bytes_per).ok_or_else(bad)?;
    if bytes == 0 || !bytes.is_multiple_of(1024) {
        return Err(bad());
    }
    Ok(bytes / 1024)
}

const CPU_MODES: &[&str] = &["host-passthrough", "host-model", "maximum", "custom"];

fn check_name(name: &str) -> bool {
    !name.is_empty()
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
        && is_plain(name)
}

/// Whether `word` is a single word of letters, digits and `-_.:` (a machine type, a
/// disk format, a device name).
fn check_word(word: &str) -> bool {
    !word.is_empty()
        && word
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:".contains(c))
}

impl DomainSpec {
    /// Checks what libvirt would otherwise reject late, or accept and misbehave with.
    pub fn validate(&self) -> Result<(), DomainSpecError> {
        if !check_name(&self.name) {
            return Err(DomainSpecError::Name(self.name.clone()));
        }
        let range = |attribute, value: u64, expected: String| DomainSpecError::Range {
            attribute,
            value,
            expected,
        };
        if self.vcpus == 0 {
            return Err(range("vcpus", 0, "use at least 1".into()));
        }
        if let Some(max) = self.max_vcpus
            && max < self.vcpus
        {
            return Err(range(
                "max_vcpus",
                max.into(),
                format!("use at least `vcpus` ({})", self.vcpus),
            ));
        }
        if self.memory_kib == 0 {
            return Err(range("memory", 0, "use at least 1 MiB".into()));
        }
        if let Some(max) = self.max_memory_kib
            && max < self.memory_kib
        {
            return Err(range(
                "max_memory",
                max,
                format!("use at least `memory` ({} KiB)", self.memory_kib),
            ));
        }
        if let Some(mode) = &self.cpu_mode
            && !CPU_MODES.contains(&mode.as_str())
        {
            return Err(DomainSpecError::CpuMode(mode.clone()));
        }
        let value = |attribute, value: &str, expected| DomainSpecError::Value {
            attribute,
            value: value.to_owned(),
            expected,
        };
        if let Some(m) = &self.machine
            && !check_word(m)
        {
            return Err(value("machine", m, "use a machine type such as pc or q35"));
        }
        let mut targets = BTreeSet::new();
        let mut sources = BTreeSet::new();
        for (index, d) in self.disks.iter().enumerate() {
            let item = |attribute, value: &str, expected| DomainSpecError::Item {
                block: "disk",
                index,
                attribute,
                value: value.to_owned(),
                expected,
            };
            if !check_name(&d.pool) {
                return Err(item("pool", &d.pool, "name an existing storage pool"));
            }
            if !check_name(&d.volume) {
                return Err(item("volume", &d.volume, "name a volume of the pool"));
            }
            if let Some(serial) = &d.serial
                && (serial.is_empty()
                    || serial.len() > 20
                    || !serial
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c)))
            {
                return Err(item(
                    "serial",
                    serial,
                    "use 1 to 20 letters, digits, '-', '_' or '.'",
                ));
            }
            if let Some(f) = &d.format
                && !check_word(f)
            {
                return Err(item("format", f, "use raw or qcow2"));
            }
            if let Some(t) = &d.target
                && !check_word(t)
            {
                return Err(item("target", t, "use a device name such as vda or sdb"));
            }
        }
        if let Some(pool) = &self.cloud_init_pool
            && !check_name(pool)
        {
            return Err(value(
                "cloud_init.pool",
                pool,
                "name an existing storage pool",
            ));
        }
        for (i, d) in self.all_disks().iter().enumerate() {
            if !sources.insert((d.pool.clone(), d.volume.clone())) {
                return Err(DomainSpecError::DuplicateDisk {
                    pool: d.pool.clone(),
                    volume: d.volume.clone(),
                    index: i,
                });
            }
            if let Some(t) = &d.target
                && !targets.insert(t.clone())
            {
                return Err(DomainSpecError::DuplicateTarget(t.clone(), i));
            }
        }
        let mut macs: Vec<MacAddress> = Vec::new();
        for (i, iface) in self.resolved_interfaces().iter().enumerate() {
            let item = |attribute, value: &str, expected| DomainSpecError::Item {
                block: "network_interface",
                index: i,
                attribute,
                value: value.to_owned(),
                expected,
            };
            let (attribute, n) = match &iface.source {
                InterfaceSource::Network(n) => ("network", n),
                InterfaceSource::Bridge(n) => ("bridge", n),
            };
            if !check_name(n) {
                return Err(item(
                    attribute,
                    n,
                    "name a libvirt network or a host bridge",
                ));
            }
            if let Some(model) = &iface.model
                && !check_name(model)
            {
                return Err(item(
                    "model",
                    model,
                    "use a NIC model such as virtio or e1000",
                ));
            }
            let mac = iface.mac.unwrap_or_else(|| interface_mac(&self.name, i));
            if !mac.is_unicast() {
                return Err(DomainSpecError::MulticastMac { index: i, mac });
            }
            if let Some(first) = macs.iter().position(|m| *m == mac) {
                return Err(DomainSpecError::DuplicateMac {
                    mac,
                    first,
                    second: i,
                });
            }
            macs.push(mac);
        }
        if let Some(boot) = &self.direct_boot {
            let path = "use an absolute, normalised path on the hypervisor without quotes, '<', '>' or '&'";
            if !valid_path(&boot.kernel) {
                return Err(value("kernel", &boot.kernel, path));
            }
            if let Some(initrd) = &boot.initrd
                && !valid_path(initrd)
            {
                return Err(value("initrd", initrd, path));
            }
            if let Some(cmdline) = &boot.cmdline
                && cmdline.chars().any(char::is_control)
            {
                return Err(value(
                    "cmdline",
                    cmdline,
                    "use one line without control characters",
                ));
            }
        }
        if let Some(listen) = self.graphics.as_ref().and_then(|g| g.listen.as_ref())
            && listen.parse::<IpAddr>().is_err()
        {
            return Err(value(
                "graphics.listen",
                listen,
                "use an IP address of the hypervisor, e.g. 127.0.0.1 or 0.0.0.0",
            ));
        }
        if let Some(log) = &self.console_log {
            if !valid_path(log) {
                return Err(value(
                    "console_log",
                    log,
                    "use an absolute, normalised path on the hypervisor without quotes, '<', '>' or '&'",
                ));
            }
            if !self.serial_console {
                return Err(value(
                    "console_log",
                    log,
                    "a console log needs the serial console; enable it",
                ));
            }
        }
        Ok(())
    }
}

// ---- XML ----------------------------------------------------------------------------

/// The name of the QEMU guest agent's channel.
const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

fn disk_element(d: &DiskSpec) -> Element {
    let device = match d.device {
        DiskDevice::Disk => "disk",
        DiskDevice::Cdrom => "cdrom",
    };
    let mut e = Element::new("disk")
        .attr("type", "volume")
        .attr("device", device)
        .child(
            Element::new("driver")
                .attr("name", "qemu")
                .attr("type", d.format.as_deref().unwrap_or("raw")),
        )
        .child(
            Element::new("source")
                .attr("pool", &d.pool)
                .attr("volume", &d.volume),
        );
    let mut target = Element::new("target");
    if let Some(t) = &d.target {
        target = target.attr("dev", t);
    }
    e = e.child(target.attr("bus", d.bus.as_str()));
    if d.readonly || d.device == DiskDevice::Cdrom {
        e = e.child(Element::new("readonly"));
    }
    if let Some(serial) = &d.serial {
        e = e.child(Element::new("serial").with_text(serial));
    }
    e
}

fn interface_element(iface: &InterfaceSpec, mac: MacAddress) -> Element {
    let (kind, source) = match &iface.source {
        InterfaceSource::Network(n) => ("network", Element::new("source").attr("network", n)),
        InterfaceSource::Bridge(b) => ("bridge", Element::new("source").attr("bridge", b)),
    };
    Element::new("interface")
        .attr("type", kind)
        .child(Element::new("mac").attr("address", mac))
        .child(source)
        .child(Element::new("model").attr("type", iface.model()))
}

/// The `<disk>` element for `virDomainAttachDeviceFlags`/`DetachDeviceFlags`.
pub fn disk_xml(disk: &DiskSpec) -> String {
    disk_element(disk).to_xml()
}

/// The `<interface>` element for `virDomainAttachDeviceFlags`/`DetachDeviceFlags`.
pub fn interface_xml(iface: &InterfaceSpec, mac: MacAddress) -> String {
    interface_element(iface, mac).to_xml()
}

/// libvirt's domain XML for `spec` (`running` and `autostart` are not part of it). Call
/// [`DomainSpec::validate`] first: this builds whatever it is given.
pub fn domain_xml(spec: &DomainSpec) -> String {
    domain_element(spec).to_xml()
}

/// [`domain_xml`] for an existing domain: with its UUID, as libvirt wants for a new
/// definition of a domain it knows.
fn redefinition_xml(spec: &DomainSpec, uuid: &str) -> String {
    let mut root = domain_element(spec);
    root.children
        .insert(1, Element::new("uuid").with_text(uuid));
    root.to_xml()
}

fn domain_element(spec: &DomainSpec) -> Element {
    let mut root = Element::new("domain")
        .attr("type", spec.domain_type.as_str())
        .child(Element::new("name").with_text(&spec.name))
        .child(
            Element::new("memory")
                .attr("unit", "KiB")
                .with_text(&spec.max_memory_kib().to_string()),
        )
        .child(
            Element::new("currentMemory")
                .attr("unit", "KiB")
                .with_text(&spec.memory_kib.to_string()),
        );
    let mut vcpu = Element::new("vcpu").attr("placement", "static");
    if spec.max_vcpus() != spec.vcpus {
        vcpu = vcpu.attr("current", spec.vcpus);
    }
    root = root.child(vcpu.with_text(&spec.max_vcpus().to_string()));

    let mut os = Element::new("os");
    if spec.firmware == Firmware::Uefi {
        os = os.attr("firmware", "efi");
    }
    let mut os_type = Element::new("type").attr("arch", "x86_64");
    if let Some(m) = &spec.machine {
        os_type = os_type.attr("machine", m);
    }
    os = os.child(os_type.with_text("hvm"));
    if let Some(b) = &spec.direct_boot {
        os = os.child(Element::new("kernel").with_text(&b.kernel));
        if let Some(i) = &b.initrd {
            os = os.child(Element::new("initrd").with_text(i));
        }
        if let Some(c) = &b.cmdline {
            os = os.child(Element::new("cmdline").with_text(c));
        }
    }
    for dev in spec.boot_order() {
        os = os.child(Element::new("boot").attr("dev", dev.xml()));
    }
    root = root.child(os).child(
        Element::new("features")
            .child(Element::new("acpi"))
            .child(Element::new("apic")),
    );
    if let Some(mode) = &spec.cpu_mode {
        root = root.child(Element::new("cpu").attr("mode", mode));
    }
    root = root
        .child(Element::new("on_poweroff").with_text("destroy"))
        .child(Element::new("on_reboot").with_text("restart"))
        .child(Element::new("on_crash").with_text("destroy"));

    let mut devices = Element::new("devices");
    for d in &spec.all_disks() {
        devices = devices.child(disk_element(d));
    }
    if spec.all_disks().iter().any(|d| d.bus == DiskBus::Scsi) {
        devices = devices.child(
            Element::new("controller")
                .attr("type", "scsi")
                .attr("model", "virtio-scsi"),
        );
    }
    for (i, iface) in spec.interfaces.iter().enumerate() {
        let mac = iface.mac.unwrap_or_else(|| interface_mac(&spec.name, i));
        devices = devices.child(interface_element(iface, mac));
    }
    if spec.serial_console {
        let mut serial = Element::new("serial").attr("type", "pty");
        if let Some(log) = &spec.console_log {
            // Appended across starts (virtlogd rotates it), so a restart keeps what the
            // shutdown printed.
            serial = serial.child(Element::new("log").attr("file", log).attr("append", "on"));
        }
        devices = devices
            .child(serial.child(Element::new("target").attr("port", 0)))
            .child(
                Element::new("console").attr("type", "pty").child(
                    Element::new("target")
                        .attr("type", "serial")
                        .attr("port", 0),
                ),
            );
    }
    if spec.guest_agent {
        devices = devices.child(
            Element::new("channel").attr("type", "unix").child(
                Element::new("target")
                    .attr("type", "virtio")
                    .attr("name", AGENT_CHANNEL),
            ),
        );
    }
    if let Some(g) = &spec.graphics {
        let mut e = Element::new("graphics")
            .attr("type", g.kind.as_str())
            .attr("autoport", "yes");
        if let Some(p) = &g.password {
            e = e.attr("passwd", p);
        }
        if let Some(l) = &g.listen {
            e = e.attr("listen", l).child(
                Element::new("listen")
                    .attr("type", "address")
                    .attr("address", l),
            );
        }
        devices = devices.child(e);
    }
    root.child(devices)
}

fn unsupported(msg: impl Into<String>) -> DomainSpecError {
    DomainSpecError::Unsupported(msg.into())
}

/// A size element (`<memory unit='KiB'>`) in KiB.
fn size_kib(e: &Element) -> Result<u64, DomainSpecError> {
    let n: u64 = e
        .text
        .parse()
        .map_err(|_| unsupported(format!("<{}> {:?} is not a number", e.name, e.text)))?;
    let factor: u64 = match e.get("unit").unwrap_or("KiB") {
        "b" | "bytes" => return Ok(n / 1024),
        "k" | "KiB" => 1,
        "M" | "MiB" => 1 << 10,
        "G" | "GiB" => 1 << 20,
        "KB" => return Ok(n * 1000 / 1024),
        "MB" => return Ok(n * 1_000_000 / 1024),
        "GB" => return Ok(n * 1_000_000_000 / 1024),
        other => return Err(unsupported(format!("memory unit {other:?}"))),
    };
    Ok(n * factor)
}

fn parse_disk(e: &Element) -> Result<DiskSpec, DomainSpecError> {
    let device = match e.get("device").unwrap_or("disk") {
        "disk" => DiskDevice::Disk,
        "cdrom" => DiskDevice::Cdrom,
        other => return Err(unsupported(format!("disk device {other:?}"))),
    };
    let source = e.first("source");
    let (pool, volume) = match (e.get("type"), source) {
        (Some("volume"), Some(s)) => (
            s.get("pool").unwrap_or_default().to_owned(),
            s.get("volume").unwrap_or_default().to_owned(),
        ),
        (kind, _) => {
            return Err(unsupported(format!(
                "a disk of type {:?}; rack manages disks that are volumes of a pool",
                kind.unwrap_or("file")
            )));
        }
    };
    let target = e.first("target");
    let bus = match target.and_then(|t| t.get("bus")) {
        Some("virtio") => DiskBus::Virtio,
        Some("sata") => DiskBus::Sata,
        Some("scsi") => DiskBus::Scsi,
        other => {
            return Err(unsupported(format!(
                "disk bus {:?}; rack manages virtio, sata and scsi",
                other.unwrap_or("none")
            )));
        }
    };
    Ok(DiskSpec {
        pool,
        volume,
        bus,
        device,
        readonly: e.first("readonly").is_some(),
        serial: e.first("serial").map(|s| s.text.clone()),
        format: e
            .first("driver")
            .and_then(|d| d.get("type"))
            .map(str::to_owned),
        target: target.and_then(|t| t.get("dev")).map(str::to_owned),
    })
}

fn parse_interface(e: &Element) -> Result<InterfaceSpec, DomainSpecError> {
    let source = e.first("source");
    let source = match (e.get("type"), source) {
        (Some("network"), Some(s)) => {
            InterfaceSource::Network(s.get("network").unwrap_or_default().to_owned())
        }
        (Some("bridge"), Some(s)) => {
            InterfaceSource::Bridge(s.get("bridge").unwrap_or_default().to_owned())
        }
        (kind, _) => {
            return Err(unsupported(format!(
                "an interface of type {:?}; rack manages network and bridge interfaces",
                kind.unwrap_or("none")
            )));
        }
    };
    let mac = match e.first("mac").and_then(|m| m.get("address")) {
        Some(m) => Some(
            m.parse::<MacAddress>()
                .map_err(|_| unsupported(format!("MAC address {m:?}")))?,
        ),
        None => None,
    };
    Ok(InterfaceSpec {
        source,
        model: e
            .first("model")
            .and_then(|m| m.get("type"))
            .map(str::to_owned),
        mac,
    })
}

/// Reads libvirt's XML of a domain into a [`DomainSpec`], with `running` and
/// `autostart` as given (they are not part of the XML). What rack does not model
/// (uuid, controllers, USB, video, memballoon, PCI addresses, ...) is ignored; a disk or
/// interface of a kind rack does not manage is an error, so it is never dropped
/// silently by an update.
pub fn parse_domain_xml(
    xml: &str,
    running: bool,
    autostart: bool,
) -> Result<DomainSpec, DomainSpecError> {
    let root = Element::parse(xml).map_err(DomainSpecError::Syntax)?;
    if root.name != "domain" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <domain>",
            root.name
        )));
    }
    let domain_type = match root.get("type") {
        Some("kvm") => DomainType::Kvm,
        Some("qemu") => DomainType::Qemu,
        other => {
            return Err(unsupported(format!(
                "domain type {:?}; rack manages kvm and qemu",
                other.unwrap_or("none")
            )));
        }
    };
    let name = root
        .first("name")
        .map(|n| n.text.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unsupported("the domain has no <name>"))?;
    let max_memory = root
        .first("memory")
        .map(size_kib)
        .transpose()?
        .ok_or_else(|| unsupported("the domain has no <memory>"))?;
    let memory = root
        .first("currentMemory")
        .map(size_kib)
        .transpose()?
        .unwrap_or(max_memory);
    let vcpu = root
        .first("vcpu")
        .ok_or_else(|| unsupported("the domain has no <vcpu>"))?;
    let max_vcpus: u32 = vcpu
        .text
        .parse()
        .map_err(|_| unsupported(format!("<vcpu> {:?} is not a number", vcpu.text)))?;
    let vcpus: u32 = match vcpu.get("current") {
        Some(c) => c
            .parse()
            .map_err(|_| unsupported(format!("vcpu current {c:?} is not a number")))?,
        None => max_vcpus,
    };
    let os = root.first("os");
    let firmware = match os {
        Some(os)
            if os.get("firmware") == Some("efi")
                || os
                    .first("loader")
                    .is_some_and(|l| l.get("type") == Some("pflash")) =>
        {
            Firmware::Uefi
        }
        _ => Firmware::Bios,
    };
    let machine = os
        .and_then(|o| o.first("type"))
        .and_then(|t| t.get("machine"))
        .map(str::to_owned);
    let mut boot = Vec::new();
    for b in os.into_iter().flat_map(|o| o.all("boot")) {
        boot.push(match b.get("dev") {
            Some("hd") => BootDevice::Disk,
            Some("network") => BootDevice::Network,
            Some("cdrom") => BootDevice::Cdrom,
            other => {
                return Err(unsupported(format!(
                    "boot device {:?}",
                    other.unwrap_or("none")
                )));
            }
        });
    }
    let direct_boot = os.and_then(|o| o.first("kernel")).map(|k| DirectBoot {
        kernel: k.text.clone(),
        initrd: os
            .and_then(|o| o.first("initrd"))
            .map(|i| i.text.clone())
            .filter(|t| !t.is_empty()),
        cmdline: os
            .and_then(|o| o.first("cmdline"))
            .map(|c| c.text.clone())
            .filter(|t| !t.is_empty()),
    });
    let cpu_mode = root
        .first("cpu")
        .and_then(|c| c.get("mode"))
        .map(str::to_owned);

    let empty = Element::new("devices");
    let devices = root.first("devices").unwrap_or(&empty);
    let seed_name = cloud_init_volume_name(&name);
    let mut disks = Vec::new();
    let mut cloud_init_pool = None;
    for e in devices.all("disk") {
        let d = parse_disk(e)?;
        if d.volume == seed_name && d.device == DiskDevice::Cdrom {
            cloud_init_pool = Some(d.pool);
        } else {
            disks.push(d);
        }
    }
    let interfaces = devices
        .all("interface")
        .map(parse_interface)
        .collect::<Result<Vec<_>, _>>()?;
    let serial = devices.first("serial");
    let graphics = match devices.first("graphics") {
        Some(g) => {
            let kind = match g.get("type") {
                Some("vnc") => GraphicsKind::Vnc,
                Some("spice") => GraphicsKind::Spice,
                other => {
                    return Err(unsupported(format!(
                        "graphics of type {:?}; rack manages vnc and spice",
                        other.unwrap_or("none")
                    )));
                }
            };
            let listen = g
                .get("listen")
                .or_else(|| g.first("listen").and_then(|l| l.get("address")))
                .map(str::to_owned);
            Some(GraphicsSpec {
                kind,
                listen,
                password: g.get("passwd").map(str::to_owned),
            })
        }
        None => None,
    };
    let guest_agent = devices.all("channel").any(|c| {
        c.first("target")
            .is_some_and(|t| t.get("name") == Some(AGENT_CHANNEL))
    });
    Ok(DomainSpec {
        name,
        domain_type,
        vcpus,
        max_vcpus: (max_vcpus != vcpus).then_some(max_vcpus),
        memory_kib: memory,
        max_memory_kib: (max_memory != memory).then_some(max_memory),
        cpu_mode,
        machine,
        firmware,
        boot,
        disks,
        interfaces,
        graphics,
        serial_console: serial.is_some(),
        console_log: serial
            .and_then(|s| s.first("log"))
            .and_then(|l| l.get("file"))
            .map(str::to_owned),
        guest_agent,
        direct_boot,
        cloud_init_pool,
        running,
        autostart,
    })
}

// ---- Changes ------------------------------------------------------------------------

/// The attributes whose change forces the VM to be replaced.
pub const DOMAIN_REPLACE_ATTRIBUTES: &[&str] = &["name"];

/// The attributes whose change needs a graceful shutdown, a new definition and a start.
pub const DOMAIN_RESTART_ATTRIBUTES: &[&str] = &[
    "type",
    "machine",
    "cpu_mode",
    "firmware",
    "boot",
    "kernel",
    "max_vcpus",
    "vcpus",
    "max_memory",
    "memory",
    "disk",
    "network_interface",
    "graphics",
    "serial_console",
    "console_log",
    "qemu_guest_agent",
    "cloud_init",
];

/// What it takes to turn one VM into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct DomainUpdatePlan {
    /// Attributes that differ and force replacement (from
    /// [`DOMAIN_REPLACE_ATTRIBUTES`]); non-empty means the VM must be replaced.
    pub replace: Vec<&'static str>,
    /// Attributes that differ and need a restart (from [`DOMAIN_RESTART_ATTRIBUTES`]);
    /// non-empty means: graceful shutdown, new definition, start (when running is
    /// wanted). The live changes below are then part of the new definition.
    pub restart: Vec<&'static str>,
    /// New memory in KiB, set live (within the maximum) and in the definition.
    pub memory_kib: Option<u64>,
    /// New vCPU count, set live (within the maximum) and in the definition.
    pub vcpus: Option<u32>,
    /// Disks to hot-unplug (their current form, targets included).
    pub detach_disks: Vec<DiskSpec>,
    /// Disks to hot-plug.
    pub attach_disks: Vec<DiskSpec>,
    /// Interfaces to hot-unplug (MACs filled in).
    pub detach_interfaces: Vec<InterfaceSpec>,
    /// Interfaces to hot-plug (MACs filled in).
    pub attach_interfaces: Vec<InterfaceSpec>,
    /// The new autostart flag, if it changes.
    pub autostart: Option<bool>,
    /// Start (`true`) or shut down (`false`), if the power state changes.
    pub running: Option<bool>,
}

impl DomainUpdatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }

    /// Whether the VM must be shut down and started again (when it runs).
    pub fn needs_restart(&self) -> bool {
        !self.restart.is_empty()
    }

    /// Whether anything changes while the VM runs, without a restart.
    pub fn has_live_changes(&self) -> bool {
        self.memory_kib.is_some()
            || self.vcpus.is_some()
            || !self.detach_disks.is_empty()
            || !self.attach_disks.is_empty()
            || !self.detach_interfaces.is_empty()
            || !self.attach_interfaces.is_empty()
    }
}

/// Whether the domain libvirt holds is defined exactly as `desired` (persistent, and
/// [`plan_domain_update`] finds nothing to change but its power state and autostart):
/// what a create that timed out and that libvirtd carried out later leaves.
fn defined_as_planned(now: &DomainState, desired: &DomainSpec) -> bool {
    now.persistent
        && now.spec.as_ref().is_ok_and(|current| {
            let mut plan = plan_domain_update(current, desired);
            plan.autostart = None;
            plan.running = None;
            if !plan.is_empty() {
                tracing::info!(
                    vm = %desired.name,
                    restart = ?plan.restart,
                    "an existing VM of that name is defined differently from the plan"
                );
            }
            plan.is_empty()
        })
}

/// Whether the machine type libvirt reports (`pc-i440fx-7.2`) is what was asked for
/// (`pc`, `q35`, or exactly that).
pub fn machine_matches(desired: &str, actual: &str) -> bool {
    desired == actual
        || (desired == "pc" && actual.starts_with("pc-i440fx-"))
        || (desired == "q35" && actual.starts_with("pc-q35-"))
}

/// Compares the VM as it is with the VM as wanted. Attributes left to libvirt in
/// `desired` (`machine`, `cpu_mode`, disk targets, graphics listen address: `None`)
/// never differ, nor does the graphics password (libvirt does not show it).
pub fn plan_domain_update(current: &DomainSpec, desired: &DomainSpec) -> DomainUpdatePlan {
    let mut plan = DomainUpdatePlan::default();
    if current.name != desired.name {
        plan.replace.push("name");
    }
    let mut restart = Vec::new();
    let mut check = |cond: bool, attr: &'static str| {
        if cond && !restart.contains(&attr) {
            restart.push(attr);
        }
    };
    check(current.domain_type != desired.domain_type, "type");
    check(
        desired.machine.as_deref().is_some_and(|m| {
            !current
                .machine
                .as_deref()
                .is_some_and(|c| machine_matches(m, c))
        }),
        "machine",
    );
    check(
        desired.cpu_mode.is_some() && desired.cpu_mode != current.cpu_mode,
        "cpu_mode",
    );
    check(current.firmware != desired.firmware, "firmware");
    check(current.boot_order() != desired.boot_order(), "boot");
    check(current.direct_boot != desired.direct_boot, "kernel");
    check(current.max_vcpus() != desired.max_vcpus(), "max_vcpus");
    check(
        current.max_memory_kib() != desired.max_memory_kib(),
        "max_memory",
    );
    let graphics_same = match (&current.graphics, &desired.graphics) {
        (None, None) => true,
        (Some(c), Some(d)) => d.same_as(c),
        _ => false,
    };
    check(!graphics_same, "graphics");
    check(
        current.serial_console != desired.serial_console,
        "serial_console",
    );
    check(current.console_log != desired.console_log, "console_log");
    check(
        current.guest_agent != desired.guest_agent,
        "qemu_guest_agent",
    );
    check(
        current.cloud_init_pool != desired.cloud_init_pool,
        "cloud_init",
    );

    // Memory and vCPUs: live within an unchanged maximum.
    if current.memory_kib != desired.memory_kib {
        if current.max_memory_kib() == desired.max_memory_kib() {
            plan.memory_kib = Some(desired.memory_kib);
        } else {
            check(true, "memory");
        }
    }
    if current.vcpus != desired.vcpus {
        if current.max_vcpus() == desired.max_vcpus() {
            plan.vcpus = Some(desired.vcpus);
        } else {
            check(true, "vcpus");
        }
    }

    // Disks, matched by volume.
    let key = |d: &DiskSpec| (d.pool.clone(), d.volume.clone());
    for c in &current.disks {
        match desired.disks.iter().find(|d| key(d) == key(c)) {
            Some(d) if d.same_as(c) => {}
            Some(_) => check(true, "disk"),
            None if c.bus.hotpluggable() => plan.detach_disks.push(c.clone()),
            None => check(true, "disk"),
        }
    }
    for d in &desired.disks {
        if !current.disks.iter().any(|c| key(c) == key(d)) {
            if d.bus.hotpluggable() {
                plan.attach_disks.push(d.clone());
            } else {
                check(true, "disk");
            }
        }
    }

    // Interfaces, matched by MAC address.
    let cur_ifaces = current.resolved_interfaces();
    let want_ifaces = desired.resolved_interfaces();
    for c in &cur_ifaces {
        match want_ifaces.iter().find(|d| d.mac == c.mac) {
            Some(d) if d.source == c.source && d.model() == c.model() => {}
            Some(_) => check(true, "network_interface"),
            None => plan.detach_interfaces.push(c.clone()),
        }
    }
    for d in &want_ifaces {
        if !cur_ifaces.iter().any(|c| c.mac == d.mac) {
            plan.attach_interfaces.push(d.clone());
        }
    }
    // Interfaces are numbered in order: a change of order shows as a restart.
    let order = |ifaces: &[InterfaceSpec]| ifaces.iter().map(|i| i.mac).collect::<Vec<_>>();
    let kept_cur: Vec<_> = order(&cur_ifaces)
        .into_iter()
        .filter(|m| want_ifaces.iter().any(|d| d.mac == *m))
        .collect();
    let kept_want: Vec<_> = order(&want_ifaces)
        .into_iter()
        .filter(|m| cur_ifaces.iter().any(|c| c.mac == *m))
        .collect();
    check(kept_cur != kept_want, "network_interface");

    plan.restart = restart;
    if current.autostart != desired.autostart {
        plan.autostart = Some(desired.autostart);
    }
    if current.running != desired.running {
        plan.running = Some(desired.running);
    }
    plan
}

// ---- Operations ---------------------------------------------------------------------

/// A domain as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DomainState {
    /// The name.
    pub name: String,
    /// libvirt's UUID.
    pub uuid: String,
    /// Whether it runs (running, paused, in shutdown: anything but shut off).
    pub active: bool,
    /// libvirt's state, e.g. `running`, `shut off`, `paused`.
    pub state: &'static str,
    /// Whether it has a persistent definition.
    pub persistent: bool,
    /// Whether libvirt starts it with the daemon.
    pub autostart: bool,
    /// Memory in KiB the running guest has now (after live changes); `None` when off.
    pub live_memory_kib: Option<u64>,
    /// vCPUs the running guest has now; `None` when off.
    pub live_vcpus: Option<u32>,
    /// The persistent definition (what the next start uses) as libvirt reports it.
    pub xml: String,
    /// The model read from [`Self::xml`], or why rack cannot model this domain.
    pub spec: Result<DomainSpec, DomainSpecError>,
}

fn state_name(state: sys::virDomainState) -> &'static str {
    match state {
        sys::VIR_DOMAIN_RUNNING => "running",
        sys::VIR_DOMAIN_BLOCKED => "blocked",
        sys::VIR_DOMAIN_PAUSED => "paused",
        sys::VIR_DOMAIN_SHUTDOWN => "shutting down",
        sys::VIR_DOMAIN_SHUTOFF => "shut off",
        sys::VIR_DOMAIN_CRASHED => "crashed",
        sys::VIR_DOMAIN_PMSUSPENDED => "suspended",
        _ => "unknown",
    }
}

fn read_state(link: &Link<'_>, dom: &Domain) -> Result<DomainState, LibvirtError> {
    let name = dom
        .name()
        .map_err(|e| link.fail("read the name of a domain", e))?;
    let action = || format!("read VM {name:?}");
    let uuid = dom.uuid_string().map_err(|e| link.fail(action(), e))?;
    let info = dom.info().map_err(|e| link.fail(action(), e))?;
    let active = dom.is_active().map_err(|e| link.fail(action(), e))?;
    let persistent = dom.is_persistent().map_err(|e| link.fail(action(), e))?;
    let autostart = persistent && dom.autostart().map_err(|e| link.fail(action(), e))?;
    let flags = if persistent {
        sys::VIR_DOMAIN_XML_INACTIVE
    } else {
        0
    };
    let xml = dom.xml_desc(flags).map_err(|e| link.fail(action(), e))?;
    let spec = parse_domain_xml(&xml, active, autostart);
    let state = match info.state {
        virt::enumutil::Enum::Known(k) => state_name(k as sys::virDomainState),
        virt::enumutil::Enum::Unknown(_) => "unknown",
    };
    Ok(DomainState {
        name,
        uuid,
        active,
        state,
        persistent,
        autostart,
        live_memory_kib: active.then_some(info.memory),
        live_vcpus: active.then_some(info.nr_virt_cpu),
        xml,
        spec,
    })
}

fn lookup(link: &Link<'_>, name: &str) -> Result<Option<Domain>, LibvirtError> {
    match link.conn().lookup_domain_by_name(name) {
        Ok(d) => Ok(Some(d)),
        Err(e) if e.code().is(virt::error::ErrorNumber::NoDomain) => Ok(None),
        Err(e) => Err(link.fail(format!("look up VM {name:?}"), e)),
    }
}

fn require(link: &Link<'_>, name: &str) -> Result<Domain, LibvirtError> {
    lookup(link, name)?.ok_or_else(|| LibvirtError::NotFound {
        uri: link.uri().to_owned(),
        kind: ObjectKind::Domain,
        name: name.to_owned(),
    })
}

/// Maps a failed start: a missing network is named (libvirt only finds out at start),
/// anything else is classified as usual.
fn start_failed(link: &Link<'_>, vm: &str, e: virt::error::Error) -> LibvirtError {
    if e.code().is(virt::error::ErrorNumber::NoNetwork) {
        // "Network not found: no network with matching name 'x'"
        let message = e.message();
        let network = message
            .rsplit_once('\'')
            .and_then(|(head, _)| head.rsplit_once('\''))
            .map(|(_, n)| n.to_owned())
            .unwrap_or_default();
        return LibvirtError::NotFound {
            uri: link.uri().to_owned(),
            kind: ObjectKind::Network,
            name: network,
        };
    }
    link.fail(format!("start VM {vm:?}"), e)
}

fn spec_error(name: &str, source: DomainSpecError) -> LibvirtError {
    LibvirtError::DomainSpec {
        name: name.to_owned(),
        source,
    }
}

/// What [`Hypervisor::create_domain`] did.
#[derive(Debug, Clone)]
pub struct DomainCreated {
    /// The domain as libvirt holds it afterwards.
    pub state: DomainState,
    /// Why it could not be started, if `running` was asked for and the start failed:
    /// the definition (and the seed) stay, and [`DomainState::active`] is false.
    pub start_error: Option<LibvirtError>,
}

/// What [`Hypervisor::update_domain`] did.
#[derive(Debug, Clone)]
pub struct DomainUpdated {
    /// The plan it carried out.
    pub plan: DomainUpdatePlan,
    /// Whether the guest was shut down and started again.
    pub restarted: bool,
    /// How the shutdown went, if there was one.
    pub shutdown: Option<ShutdownOutcome>,
    /// Why the (re)start failed, if it did: the new definition stays.
    pub start_error: Option<LibvirtError>,
    /// The domain as libvirt holds it afterwards.
    pub state: DomainState,
}

/// How a shutdown ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ShutdownOutcome {
    /// It was not running.
    WasOff,
    /// The guest powered off after the ACPI power button, within the timeout.
    Graceful(Duration),
    /// The guest did not power off within the timeout and was forced off.
    Forced(Duration),
}

/// Where interface addresses come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum AddressSource {
    /// The DHCP leases of the libvirt networks the interfaces are on (by MAC).
    #[default]
    Lease,
    /// The QEMU guest agent in the guest.
    Agent,
    /// The agent, and the leases when the agent does not answer.
    Any,
}

/// The addresses of one guest interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GuestInterface {
    /// The interface's name (on the host for leases, in the guest for the agent).
    pub name: String,
    /// Its MAC address, if reported.
    pub mac: Option<MacAddress>,
    /// Its addresses with their prefix lengths.
    pub addresses: Vec<(IpAddr, u8)>,
}

/// How often [`Hypervisor::shutdown_domain`] and [`Hypervisor::wait_for_addresses`] look
/// again.
const POLL: Duration = Duration::from_millis(250);

impl Hypervisor {
    /// This hypervisor's listing of VMs.
    fn domain_cache(&self) -> Arc<Listing<DomainState>> {
        self.cache()
    }
}

impl Hypervisor {
    /// Every domain on the hypervisor, from a listing filled on first use and kept by
    /// rack's own writes ([`Hypervisor::refresh_domains`] lists again).
    pub async fn domains(&self) -> Result<Vec<DomainState>, LibvirtError> {
        self.domains_cached(false).await
    }

    /// Lists the domains again, replacing the cache.
    pub async fn refresh_domains(&self) -> Result<Vec<DomainState>, LibvirtError> {
        self.domains_cached(true).await
    }

    async fn domains_cached(&self, refresh: bool) -> Result<Vec<DomainState>, LibvirtError> {
        self.listing(
            self.domain_cache(),
            refresh,
            "list VMs",
            |c| c.list_all_domains(0),
            read_state,
            |s| &s.name,
        )
        .await
    }

    /// One domain from the cache; `None` if it does not exist.
    pub async fn domain(&self, name: &str) -> Result<Option<DomainState>, LibvirtError> {
        self.domains().await?;
        Ok(self.domain_cache().get(name))
    }

    /// One domain read from libvirt now (and the cache updated): for import, and to
    /// confirm drift.
    pub async fn domain_fresh(&self, name: &str) -> Result<Option<DomainState>, LibvirtError> {
        let action = format!("read VM {name:?}");
        self.read_one(self.domain_cache(), action, name, lookup, read_state)
            .await
    }

    /// [`Self::domain_fresh`] of a VM that must exist: a missing one is `NotFound`.
    async fn domain_existing(&self, name: &str) -> Result<DomainState, LibvirtError> {
        self.domain_fresh(name)
            .await?
            .ok_or_else(|| LibvirtError::NotFound {
                uri: self.uri().to_owned(),
                kind: ObjectKind::Domain,
                name: name.to_owned(),
            })
    }

    /// Writes (or rewrites) VM `vm`'s cloud-init seed into `pool` as
    /// [`cloud_init_volume_name`]. A running guest reads the new contents at its next
    /// boot.
    pub async fn write_cloud_init(
        &self,
        vm: &str,
        pool: &str,
        seed: &CloudInit,
    ) -> Result<(), LibvirtError> {
        let image = seed.to_iso().map_err(|e| {
            spec_error(
                vm,
                DomainSpecError::Value {
                    attribute: "cloud_init",
                    value: e.to_string(),
                    expected: "fix the cloud-init data",
                },
            )
        })?;
        let volume = cloud_init_volume_name(vm);
        let pool = pool.to_owned();
        // The seed is this VM's own volume, and no cache records it: the side lane.
        self.call_parallel(
            format!("write cloud-init volume {volume:?} in pool {pool:?}"),
            move |link| seed_volume::upload(link, &pool, &volume, &image),
        )
        .await
    }

    /// The disks of `spec` whose volume (or pool) does not exist, as (index, pool exists):
    /// checked before a definition, since libvirt itself finds out only at start.
    pub async fn missing_volumes(
        &self,
        spec: &DomainSpec,
    ) -> Result<Vec<(usize, bool)>, LibvirtError> {
        let disks: Vec<(String, String)> = spec
            .disks
            .iter()
            .map(|d| (d.pool.clone(), d.volume.clone()))
            .collect();
        if disks.is_empty() {
            return Ok(Vec::new());
        }
        self.call(
            format!("check the volumes of VM {:?}", spec.name),
            move |link| {
                let mut missing = Vec::new();
                for (i, (pool, volume)) in disks.iter().enumerate() {
                    match seed_volume::exists(link, pool, volume) {
                        Ok(true) => {}
                        Ok(false) => missing.push((i, true)),
                        Err(LibvirtError::NotFound { .. }) => missing.push((i, false)),
                        Err(e) => return Err(e),
                    }
                }
                Ok(missing)
            },
        )
        .await
    }

    /// Deletes VM `vm`'s cloud-init seed volume from `pool` (after the seed was taken out
    /// of its definition); whether it existed.
    pub async fn delete_cloud_init(&self, vm: &str, pool: &str) -> Result<bool, LibvirtError> {
        let volume = cloud_init_volume_name(vm);
        let pool = pool.to_owned();
        self.call(
            format!("delete cloud-init volume {volume:?} in pool {pool:?}"),
            move |link| seed_volume::delete(link, &pool, &volume),
        )
        .await
    }

    /// Defines the domain, writes its cloud-init seed first when `spec.cloud_init_pool`
    /// and `seed` are given, sets autostart, and starts it if `spec.running`. A start
    /// that fails does not undo the rest: it is reported in
    /// [`DomainCreated::start_error`] so the caller records the VM as not running.
    ///
    /// Idempotent: a domain of that name whose definition is exactly `spec` (a create
    /// that timed out and that libvirtd carried out later) is adopted: its seed is
    /// written again, its autostart set, and it is started if `spec.running`. Any other
    /// domain of that name is [`LibvirtError::Exists`], and is left alone.
    pub async fn create_domain(
        &self,
        spec: &DomainSpec,
        seed: Option<&CloudInit>,
    ) -> Result<DomainCreated, LibvirtError> {
        spec.validate().map_err(|e| spec_error(&spec.name, e))?;
        if let (Some(pool), Some(seed)) = (&spec.cloud_init_pool, seed) {
            if let Some(now) = self.domain_fresh(&spec.name).await?
                && !defined_as_planned(&now, spec)
            {
                return Err(LibvirtError::Exists {
                    uri: self.uri().to_owned(),
                    kind: ObjectKind::Domain,
                    name: spec.name.clone(),
                });
            }
            // For a new VM and for one adopted below alike: the seed as planned.
            self.write_cloud_init(&spec.name, pool, seed).await?;
        }
        let xml = domain_xml(spec);
        let name = spec.name.clone();
        let spec = spec.clone();
        // Define, autostart and start touch no cache (the fresh read below, on the
        // connection's thread, records the result), so they run on the side lane, where
        // ten VMs are defined and started together; the start waits for QEMU.
        let start_error = self
            .call_parallel(format!("create VM {:?}", spec.name), move |link| {
                let name = spec.name.as_str();
                let cleanup_seed = |link: &Link<'_>| {
                    if let Some(pool) = &spec.cloud_init_pool {
                        let _ = seed_volume::delete(link, pool, &cloud_init_volume_name(name));
                    }
                };
                if let Some(dom) = lookup(link, name)? {
                    let now = read_state(link, &dom)?;
                    if !defined_as_planned(&now, &spec) {
                        return Err(LibvirtError::Exists {
                            uri: link.uri().to_owned(),
                            kind: ObjectKind::Domain,
                            name: name.to_owned(),
                        });
                    }
                    tracing::info!(
                        vm = name,
                        "adopting the VM that is already defined as planned"
                    );
                    if now.autostart != spec.autostart {
                        dom.set_autostart(spec.autostart)
                            .map_err(|e| link.fail(format!("set autostart of VM {name:?}"), e))?;
                    }
                    return Ok(if spec.running && !now.active {
                        dom.create().err().map(|e| start_failed(link, name, e))
                    } else {
                        None
                    });
                }
                let dom = match link.conn().define_domain_xml(&xml) {
                    Ok(d) => d,
                    Err(e) => {
                        cleanup_seed(link);
                        return Err(link.fail(format!("define VM {name:?}"), e));
                    }
                };
                if let Err(e) = dom.set_autostart(spec.autostart) {
                    let _ = dom.undefine();
                    cleanup_seed(link);
                    return Err(link.fail(format!("set autostart of VM {name:?}"), e));
                }
                Ok(if spec.running {
                    dom.create().err().map(|e| start_failed(link, name, e))
                } else {
                    None
                })
            })
            .await?;
        let state = self.domain_existing(&name).await?;
        Ok(DomainCreated { state, start_error })
    }

    /// Starts the domain unless it runs, on the side lane; the caches are not touched.
    async fn start_on_side_lane(&self, name: &str) -> Result<(), LibvirtError> {
        let owned = name.to_owned();
        self.call_parallel(format!("start VM {name:?}"), move |link| {
            let dom = require(link, &owned)?;
            if !dom
                .is_active()
                .map_err(|e| link.fail(format!("start VM {owned:?}"), e))?
            {
                dom.create().map_err(|e| start_failed(link, &owned, e))?;
            }
            Ok(())
        })
        .await
    }

    /// Starts the domain (no-op if it runs).
    pub async fn start_domain(&self, name: &str) -> Result<DomainState, LibvirtError> {
        self.start_on_side_lane(name).await?;
        self.domain_existing(name).await
    }

    /// Forces the domain off at once (no-op if it is off).
    pub async fn destroy_domain(&self, name: &str) -> Result<(), LibvirtError> {
        let name = name.to_owned();
        let cache = self.domain_cache();
        self.call(format!("force off VM {name:?}"), move |link| {
            let dom = require(link, &name)?;
            let action = || format!("force off VM {name:?}");
            if dom.is_active().map_err(|e| link.fail(action(), e))? {
                match dom.destroy() {
                    Ok(()) => {}
                    // It went off by itself in the meantime.
                    Err(e) if e.code().is(virt::error::ErrorNumber::OperationInvalid) => {}
                    Err(e) => return Err(link.fail(action(), e)),
                }
            }
            cache.put(&name, read_state(link, &dom)?);
            Ok(())
        })
        .await
    }

    /// Presses the ACPI power button and waits up to `timeout` for the guest to power
    /// off; forces it off after that. The waiting happens here, not on the connection's
    /// thread, so other calls go on meanwhile.
    pub async fn shutdown_domain(
        &self,
        name: &str,
        timeout: Duration,
    ) -> Result<ShutdownOutcome, LibvirtError> {
        let started = Instant::now();
        let owned = name.to_owned();
        let pressed = self
            .call(format!("shut down VM {name:?}"), move |link| {
                let dom = require(link, &owned)?;
                let action = || format!("shut down VM {owned:?}");
                if !dom.is_active().map_err(|e| link.fail(action(), e))? {
                    return Ok(false);
                }
                match dom.shutdown_flags(sys::VIR_DOMAIN_SHUTDOWN_ACPI_POWER_BTN) {
                    Ok(()) => Ok(true),
                    Err(e) if e.code().is(virt::error::ErrorNumber::OperationInvalid) => Ok(false),
                    Err(e) => Err(link.fail(action(), e)),
                }
            })
            .await?;
        if !pressed {
            return Ok(ShutdownOutcome::WasOff);
        }
        loop {
            if !self.domain_active(name).await? {
                let _ = self.domain_fresh(name).await?;
                return Ok(ShutdownOutcome::Graceful(started.elapsed()));
            }
            if started.elapsed() >= timeout {
                self.destroy_domain(name).await?;
                return Ok(ShutdownOutcome::Forced(started.elapsed()));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    async fn domain_active(&self, name: &str) -> Result<bool, LibvirtError> {
        let name = name.to_owned();
        self.call(format!("read the state of VM {name:?}"), move |link| {
            let dom = require(link, &name)?;
            dom.is_active()
                .map_err(|e| link.fail(format!("read the state of VM {name:?}"), e))
        })
        .await
    }

    /// Changes the domain `desired.name` to match `desired`: live where libvirt can,
    /// else by graceful shutdown (up to `shutdown_timeout`, then forced), new definition
    /// and start; see [`plan_domain_update`]. Refuses, changing nothing, when the plan
    /// says replace. A failed start after a redefine is reported in
    /// [`DomainUpdated::start_error`].
    pub async fn update_domain(
        &self,
        desired: &DomainSpec,
        shutdown_timeout: Duration,
    ) -> Result<DomainUpdated, LibvirtError> {
        desired
            .validate()
            .map_err(|e| spec_error(&desired.name, e))?;
        let name = desired.name.clone();
        let before = self.domain_existing(&name).await?;
        let current = before.spec.clone().map_err(|e| spec_error(&name, e))?;
        let plan = plan_domain_update(&current, desired);
        if !plan.replace.is_empty() {
            return Err(LibvirtError::DomainRequiresReplacement {
                name,
                attributes: plan.replace,
            });
        }
        let mut shutdown = None;
        let mut restarted = false;
        let mut start_error = None;
        if plan.needs_restart() {
            if before.active {
                shutdown = Some(self.shutdown_domain(&name, shutdown_timeout).await?);
            }
            let xml = redefinition_xml(desired, &before.uuid);
            let autostart = desired.autostart;
            self.call(format!("redefine VM {name:?}"), move |link| {
                let dom = link
                    .conn()
                    .define_domain_xml(&xml)
                    .map_err(|e| link.fail("redefine the VM", e))?;
                dom.set_autostart(autostart)
                    .map_err(|e| link.fail("set autostart of the VM", e))
            })
            .await?;
            if desired.running {
                match self.start_domain(&name).await {
                    Ok(_) => restarted = before.active,
                    Err(e) => start_error = Some(e),
                }
            }
        } else {
            let live_plan = plan.clone();
            let active = before.active;
            let owned = name.clone();
            self.call(format!("update VM {name:?}"), move |link| {
                apply_live(link, &owned, &live_plan, active)
            })
            .await?;
            match plan.running {
                Some(true) => {
                    if let Err(e) = self.start_domain(&name).await {
                        start_error = Some(e);
                    }
                }
                Some(false) => {
                    shutdown = Some(self.shutdown_domain(&name, shutdown_timeout).await?);
                }
                None => {}
            }
        }
        let state = self.domain_existing(&name).await?;
        Ok(DomainUpdated {
            plan,
            restarted,
            shutdown,
            start_error,
            state,
        })
    }

    /// Shuts the domain down (gracefully up to `shutdown_timeout`, then forced), removes
    /// its definition (with its UEFI NVRAM and managed save) and its cloud-init seed
    /// volume; no other volume is touched. Returns whether the domain existed.
    pub async fn delete_domain(
        &self,
        name: &str,
        shutdown_timeout: Duration,
    ) -> Result<bool, LibvirtError> {
        if self.domain_fresh(name).await?.is_none() {
            return Ok(false);
        }
        self.shutdown_domain(name, shutdown_timeout).await?;
        let owned = name.to_owned();
        let cache = self.domain_cache();
        self.call(format!("delete VM {name:?}"), move |link| {
            let Some(dom) = lookup(link, &owned)? else {
                cache.remove(&owned);
                return Ok(false);
            };
            let action = || format!("delete VM {owned:?}");
            let xml = dom
                .xml_desc(sys::VIR_DOMAIN_XML_INACTIVE)
                .map_err(|e| link.fail(action(), e))?;
            let seed = parse_domain_xml(&xml, false, false)
                .ok()
                .and_then(|s| s.cloud_init_pool);
            if dom.is_active().map_err(|e| link.fail(action(), e))? {
                let _ = dom.destroy();
            }
            if dom.is_persistent().unwrap_or(false) {
                let flags = sys::VIR_DOMAIN_UNDEFINE_NVRAM
                    | sys::VIR_DOMAIN_UNDEFINE_MANAGED_SAVE
                    | sys::VIR_DOMAIN_UNDEFINE_SNAPSHOTS_METADATA
                    | sys::VIR_DOMAIN_UNDEFINE_CHECKPOINTS_METADATA;
                dom.undefine_flags(flags)
                    .map_err(|e| link.fail(action(), e))?;
            }
            cache.remove(&owned);
            if let Some(pool) = seed {
                seed_volume::delete(link, &pool, &cloud_init_volume_name(&owned))?;
            }
            Ok(true)
        })
        .await
    }

    /// The addresses of the domain's interfaces from `source`.
    pub async fn domain_addresses(
        &self,
        name: &str,
        source: AddressSource,
    ) -> Result<Vec<GuestInterface>, LibvirtError> {
        let name = name.to_owned();
        self.call(format!("read the addresses of VM {name:?}"), move |link| {
            let dom = require(link, &name)?;
            let read = |src| {
                dom.interface_addresses(src, 0)
                    .map_err(|e| link.fail(format!("read the addresses of VM {name:?}"), e))
            };
            let raw = match source {
                AddressSource::Lease => read(sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE)?,
                AddressSource::Agent => read(sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)?,
                AddressSource::Any => read(sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_AGENT)
                    .or_else(|_| read(sys::VIR_DOMAIN_INTERFACE_ADDRESSES_SRC_LEASE))?,
            };
            Ok(raw
                .into_iter()
                .map(|i| GuestInterface {
                    name: i.name,
                    mac: i.hwaddr.and_then(|m| m.parse().ok()),
                    addresses: i
                        .addrs
                        .into_iter()
                        .filter_map(|a| {
                            let ip: IpAddr = a.addr.parse().ok()?;
                            Some((ip, u8::try_from(a.prefix).unwrap_or(0)))
                        })
                        .collect(),
                })
                // The agent reports the guest's loopback too.
                .filter(|i| {
                    !i.addresses.iter().all(|(ip, _)| ip.is_loopback()) || i.addresses.is_empty()
                })
                .filter(|i| i.name != "lo")
                .collect())
        })
        .await
    }

    /// Waits until every MAC in `macs` has an address from `source` that is neither
    /// link-local nor loopback ([`routable`]), or `timeout` passes; returns the
    /// interfaces with such addresses, in `macs` order.
    pub async fn wait_for_addresses(
        &self,
        name: &str,
        macs: &[MacAddress],
        source: AddressSource,
        timeout: Duration,
    ) -> Result<Vec<GuestInterface>, LibvirtError> {
        let started = Instant::now();
        loop {
            let found = match self.domain_addresses(name, source).await {
                Ok(f) => f,
                // The agent is not up yet.
                Err(_) if source != AddressSource::Lease && started.elapsed() < timeout => {
                    Vec::new()
                }
                Err(e) => return Err(e),
            };
            let matched: Vec<GuestInterface> = macs
                .iter()
                .filter_map(|m| {
                    found
                        .iter()
                        .find(|i| {
                            i.mac == Some(*m) && i.addresses.iter().any(|(ip, _)| routable(*ip))
                        })
                        .cloned()
                })
                .collect();
            if matched.len() == macs.len() {
                return Ok(matched);
            }
            if started.elapsed() >= timeout {
                let missing = macs
                    .iter()
                    .filter(|m| !matched.iter().any(|i| i.mac == Some(**m)))
                    .map(ToString::to_string)
                    .collect();
                return Err(LibvirtError::NoAddress {
                    name: name.to_owned(),
                    from: source.to_string(),
                    missing,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Whether an interface address is one other hosts can reach the guest at: not
/// loopback, not link-local (`169.254.0.0/16`, `fe80::/10`), not unspecified.
pub fn routable(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => !(a.is_loopback() || a.is_link_local() || a.is_unspecified()),
        IpAddr::V6(a) => {
            !(a.is_loopback() || a.is_unspecified() || (a.segments()[0] & 0xffc0) == 0xfe80)
        }
    }
}

impl fmt::Display for AddressSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Lease => "lease",
            Self::Agent => "agent",
            Self::Any => "any",
        })
    }
}

/// Applies the live part of a plan (no restart) on the connection's thread: to the
/// running guest and its definition when `active`, to the definition only otherwise.
fn apply_live(
    link: &Link<'_>,
    name: &str,
    plan: &DomainUpdatePlan,
    active: bool,
) -> Result<(), LibvirtError> {
    let dom = require(link, name)?;
    let mut flags = sys::VIR_DOMAIN_AFFECT_CONFIG;
    if active {
        flags |= sys::VIR_DOMAIN_AFFECT_LIVE;
    }
    if let Some(kib) = plan.memory_kib {
        dom.set_memory_flags(kib, flags)
            .map_err(|e| link.fail(format!("set the memory of VM {name:?} to {kib} KiB"), e))?;
    }
    if let Some(n) = plan.vcpus {
        dom.set_vcpus_flags(n, flags)
            .map_err(|e| link.fail(format!("set the vCPUs of VM {name:?} to {n}"), e))?;
    }
    for d in &plan.detach_disks {
        dom.detach_device_flags(&disk_xml(d), flags)
            .map_err(|e| link.fail(format!("detach volume {:?} from VM {name:?}", d.volume), e))?;
    }
    if !plan.attach_disks.is_empty() {
        let xml = dom
            .xml_desc(0)
            .map_err(|e| link.fail(format!("read VM {name:?}"), e))?;
        let taken: BTreeSet<String> = Element::parse(&xml)
            .ok()
            .and_then(|r| r.first("devices").cloned())
            .map(|d| {
                d.all("disk")
                    .filter_map(|e| e.first("target").and_then(|t| t.get("dev")))
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default();
        let mut disks = plan.attach_disks.clone();
        assign_targets(&mut disks, &taken);
        for d in &disks {
            dom.attach_device_flags(&disk_xml(d), flags).map_err(|e| {
                link.fail(format!("attach volume {:?} to VM {name:?}", d.volume), e)
            })?;
        }
    }
    for i in &plan.detach_interfaces {
        if let Some(mac) = i.mac {
            dom.detach_device_flags(&interface_xml(i, mac), flags)
                .map_err(|e| link.fail(format!("detach interface {mac} from VM {name:?}"), e))?;
        }
    }
    for i in &plan.attach_interfaces {
        if let Some(mac) = i.mac {
            dom.attach_device_flags(&interface_xml(i, mac), flags)
                .map_err(|e| link.fail(format!("attach interface {mac} to VM {name:?}"), e))?;
        }
    }
    if let Some(a) = plan.autostart {
        dom.set_autostart(a)
            .map_err(|e| link.fail(format!("set autostart of VM {name:?}"), e))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What libvirt 9.0 answers (`virsh dumpxml --inactive`) for `guest()` after
    /// defining it: the test guest's definition from `tests/libvirt/vm.rs`.
    const LIBVIRT_GUEST: &str = r"<domain type='qemu'>
  <name>web1</name>
  <uuid>47f8949d-c2ee-40c9-9ba6-e87adba60c4f</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>196608</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/cache/rack-test-guest/vmlinuz</kernel>
    <initrd>/var/cache/rack-test-guest/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='vmpool' volume='web1-cidata.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:ee:1d:7e'/>
      <source network='vmnet'/>
      <model type='e1000'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>
    <serial type='pty'>
      <log file='/var/log/rack/web1-console.log' append='off'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <log file='/var/log/rack/web1-console.log' append='off'/>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

    fn guest() -> DomainSpec {
        let mut spec = DomainSpec::new("web1", 192 * 1024);
        spec.domain_type = DomainType::Qemu;
        spec.max_memory_kib = Some(256 * 1024);
        spec.max_vcpus = Some(2);
        spec.direct_boot = Some(DirectBoot {
            kernel: "/var/cache/rack-test-guest/vmlinuz".into(),
            initrd: Some("/var/cache/rack-test-guest/initrd.gz".into()),
            cmdline: Some("console=ttyS0 quiet".into()),
        });
        spec.interfaces = vec![InterfaceSpec {
            model: Some("e1000".into()),
            ..InterfaceSpec::network("vmnet")
        }];
        spec.serial_console = true;
        spec.console_log = Some("/var/log/rack/web1-console.log".into());
        spec.cloud_init_pool = Some("vmpool".into());
        spec.running = false;
        spec
    }

    fn full() -> DomainSpec {
        let mut spec = guest();
        spec.domain_type = DomainType::Kvm;
        spec.firmware = Firmware::Uefi;
        spec.machine = Some("q35".into());
        spec.cpu_mode = Some("host-passthrough".into());
        spec.boot = vec![BootDevice::Disk, BootDevice::Network];
        spec.direct_boot = None;
        spec.disks = vec![
            DiskSpec {
                format: Some("qcow2".into()),
                serial: Some("root-1".into()),
                ..DiskSpec::new("default", "web1-root.qcow2")
            },
            DiskSpec {
                bus: DiskBus::Scsi,
                readonly: true,
                ..DiskSpec::new("default", "data")
            },
        ];
        spec.interfaces.push(InterfaceSpec {
            source: InterfaceSource::Bridge("br0".into()),
            model: None,
            mac: Some("02:00:00:00:00:01".parse().unwrap()),
        });
        spec.graphics = Some(GraphicsSpec {
            kind: GraphicsKind::Vnc,
            listen: Some("127.0.0.1".into()),
            password: Some("s3cret".into()),
        });
        spec.guest_agent = true;
        spec.autostart = true;
        spec
    }

    #[test]
    fn parses_what_libvirt_answers_and_plans_nothing() {
        let read = parse_domain_xml(LIBVIRT_GUEST, false, false).unwrap();
        assert_eq!(read.machine.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(read.cpu_mode.as_deref(), Some("custom"));
        assert_eq!(read.interfaces[0].mac, Some(interface_mac("web1", 0)));
        assert_eq!(read.cloud_init_pool.as_deref(), Some("vmpool"));
        assert!(read.disks.is_empty(), "the seed is not a user disk");
        assert!(plan_domain_update(&read, &guest()).is_empty());
    }

    #[test]
    fn every_attribute_round_trips() {
        let spec = full();
        spec.validate().unwrap();
        let xml = domain_xml(&spec);
        let mut back = parse_domain_xml(&xml, spec.running, spec.autostart).unwrap();
        assert_eq!(back.disks[0].target.as_deref(), Some("vda"));
        assert_eq!(back.disks[1].target.as_deref(), Some("sda"));
        for d in &mut back.disks {
            d.target = None;
        }
        let mut want = spec.clone();
        want.interfaces = want.resolved_interfaces();
        // The defaults are written out: raw, virtio.
        want.disks[1].format = Some("raw".into());
        want.interfaces[1].model = Some("virtio".into());
        assert_eq!(back, want, "{xml}");
        assert!(plan_domain_update(&back, &spec).is_empty());
        assert!(xml.contains("<os firmware=\"efi\">"), "{xml}");
        assert!(xml.contains("passwd=\"s3cret\""), "{xml}");
        assert!(xml.contains("model=\"virtio-scsi\""), "{xml}");
        // The seed is the last disk, after the scsi one on the shared sd names.
        assert!(
            xml.contains("volume=\"web1-cidata.iso\"/>\n      <target dev=\"sdb\""),
            "{xml}"
        );
    }

    #[test]
    fn redefinition_carries_the_uuid() {
        let xml = redefinition_xml(&guest(), "47f8949d-c2ee-40c9-9ba6-e87adba60c4f");
        assert!(
            xml.starts_with("<domain type=\"qemu\">\n  <name>web1</name>\n  <uuid>47f8949d"),
            "{xml}"
        );
    }

    #[test]
    fn routable_addresses() {
        for (ip, want) in [
            ("10.93.0.5", true),
            ("fd10::5", true),
            ("169.254.1.1", false),
            ("fe80::5054:ff:fe00:1", false),
            ("127.0.0.1", false),
            ("::1", false),
            ("0.0.0.0", false),
        ] {
            assert_eq!(routable(ip.parse().unwrap()), want, "{ip}");
        }
    }

    #[test]
    fn memory_sizes() {
        assert_eq!(parse_memory_kib("512MiB"), Ok(512 * 1024));
        assert_eq!(parse_memory_kib("512"), Ok(512 * 1024));
        assert_eq!(parse_memory_kib("2G"), Ok(2 * 1024 * 1024));
        assert_eq!(parse_memory_kib("1048576KiB"), Ok(1048576));
        assert_eq!(parse_memory_kib("1024000KB"), Ok(1_000_000));
        assert_eq!(parse_memory_kib(" 1 TiB "), Ok(1 << 30));
        for bad in [
            "12XB",
            "",
            "MiB",
            "0",
            "1.5GiB",
            "-1G",
            "100B",
            "99999999999999999999T",
        ] {
            assert_eq!(
                parse_memory_kib(bad),
                Err(DomainSpecError::MemorySize(bad.into())),
                "{bad}"
            );
        }
        assert!(
            DomainSpecError::MemorySize("12XB".into())
                .to_string()
                .contains("e.g. 512MiB")
        );
    }

    #[test]
    fn validation() {
        full().validate().unwrap();
        let bad = |f: fn(&mut DomainSpec)| {
            let mut s = full();
            f(&mut s);
            s.validate().unwrap_err()
        };
        assert!(matches!(
            bad(|s| s.name = "a b".into()),
            DomainSpecError::Name(_)
        ));
        assert!(matches!(
            bad(|s| s.name = "web'1".into()),
            DomainSpecError::Name(_)
        ));
        assert!(matches!(
            bad(|s| s.interfaces[1].mac = Some("01:00:5e:00:00:01".parse().unwrap())),
            DomainSpecError::MulticastMac { index: 1, .. }
        ));
        assert!(matches!(
            bad(|s| s.interfaces[0].mac = Some("ff:ff:ff:ff:ff:ff".parse().unwrap())),
            DomainSpecError::MulticastMac { index: 0, .. }
        ));
        assert!(matches!(
            bad(|s| s.graphics = Some(GraphicsSpec {
                kind: GraphicsKind::Vnc,
                listen: Some("127.0.0.1'/><x a='".into()),
                password: None,
            })),
            DomainSpecError::Value {
                attribute: "graphics.listen",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.disks[1].target = Some("vdb'".into())),
            DomainSpecError::Item {
                block: "disk",
                index: 1,
                attribute: "target",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.vcpus = 0),
            DomainSpecError::Range {
                attribute: "vcpus",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.max_vcpus = Some(0)),
            DomainSpecError::Range {
                attribute: "max_vcpus",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.max_memory_kib = Some(1)),
            DomainSpecError::Range {
                attribute: "max_memory",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.cpu_mode = Some("fast".into())),
            DomainSpecError::CpuMode(_)
        ));
        assert!(matches!(
            bad(|s| s.interfaces[1].mac = Some(interface_mac("web1", 0))),
            DomainSpecError::DuplicateMac {
                first: 0,
                second: 1,
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.disks[1].volume = "web1-root.qcow2".into()),
            DomainSpecError::DuplicateDisk { .. }
        ));
        assert!(matches!(
            bad(|s| {
                s.disks[0].target = Some("sda".into());
                s.disks[1].target = Some("sda".into());
            }),
            DomainSpecError::DuplicateTarget(..)
        ));
        assert!(matches!(
            bad(|s| s.disks[0].serial = Some("has space".into())),
            DomainSpecError::Item {
                block: "disk",
                index: 0,
                attribute: "serial",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.serial_console = false),
            DomainSpecError::Value {
                attribute: "console_log",
                ..
            }
        ));
        assert!(matches!(
            bad(|s| s.direct_boot = Some(DirectBoot {
                kernel: "vmlinuz".into(),
                initrd: None,
                cmdline: None
            })),
            DomainSpecError::Value {
                attribute: "kernel",
                ..
            }
        ));
    }

    #[test]
    fn derived_macs_follow_the_provider_function() {
        // provider::rack::mac_address("web1/0") gives the same address.
        assert_eq!(
            interface_mac("web1", 0),
            derive_mac("web1/0", &MacPrefix::default())
        );
        let spec = full();
        assert_eq!(spec.mac(0), Some(interface_mac("web1", 0)));
        assert_eq!(spec.mac(1), Some("02:00:00:00:00:01".parse().unwrap()));
        assert_eq!(spec.mac(2), None);
    }

    #[test]
    fn plan_live_changes() {
        let mut current = full();
        // libvirt reports the versioned machine type of the alias asked for.
        current.machine = Some("pc-q35-7.2".into());
        let mut want = full();
        want.memory_kib = 200 * 1024;
        want.vcpus = 2;
        want.running = true;
        want.autostart = false;
        want.disks.push(DiskSpec::new("default", "extra"));
        want.disks.remove(1);
        want.interfaces.push(InterfaceSpec::network("other"));
        want.graphics.as_mut().unwrap().password = Some("changed".into());
        let plan = plan_domain_update(&current, &want);
        assert!(
            plan.replace.is_empty() && plan.restart.is_empty(),
            "{plan:?}"
        );
        assert_eq!(plan.memory_kib, Some(200 * 1024));
        assert_eq!(plan.vcpus, Some(2));
        assert_eq!(plan.running, Some(true));
        assert_eq!(plan.autostart, Some(false));
        assert_eq!(plan.attach_disks, vec![DiskSpec::new("default", "extra")]);
        assert_eq!(plan.detach_disks, vec![current.disks[1].clone()]);
        assert_eq!(plan.attach_interfaces.len(), 1);
        assert_eq!(
            plan.attach_interfaces[0].mac,
            Some(interface_mac("web1", 2))
        );
        assert!(plan.detach_interfaces.is_empty());
        assert!(plan.has_live_changes() && !plan.needs_restart());
    }

    #[test]
    fn plan_restart_and_replace() {
        let current = full();
        let mut want = full();
        want.memory_kib = 512 * 1024;
        want.max_memory_kib = None;
        want.vcpus = 4;
        want.max_vcpus = Some(4);
        want.firmware = Firmware::Bios;
        want.boot = vec![BootDevice::Cdrom];
        want.disks[0].bus = DiskBus::Sata;
        want.interfaces[0].model = Some("virtio".into());
        want.guest_agent = false;
        want.cloud_init_pool = None;
        want.machine = Some("pc".into());
        let plan = plan_domain_update(&current, &want);
        assert_eq!(
            plan.restart,
            [
                "machine",
                "firmware",
                "boot",
                "max_vcpus",
                "max_memory",
                "qemu_guest_agent",
                "cloud_init",
                "memory",
                "vcpus",
                "disk",
                "network_interface"
            ]
        );
        for attr in &plan.restart {
            assert!(DOMAIN_RESTART_ATTRIBUTES.contains(attr), "{attr}");
        }
        assert!(plan.needs_restart());

        // A SATA disk cannot be hot-plugged: adding one needs a restart.
        let mut want = full();
        want.disks.push(DiskSpec {
            bus: DiskBus::Sata,
            ..DiskSpec::new("default", "s")
        });
        assert_eq!(plan_domain_update(&current, &want).restart, ["disk"]);

        // Interfaces swapped: the order (and so the guest's names) changes.
        let mut want = full();
        want.interfaces = want.resolved_interfaces();
        want.interfaces.swap(0, 1);
        assert_eq!(
            plan_domain_update(&current, &want).restart,
            ["network_interface"]
        );

        let mut want = full();
        want.name = "web2".into();
        assert_eq!(plan_domain_update(&current, &want).replace, ["name"]);
        for attr in DOMAIN_REPLACE_ATTRIBUTES {
            assert_eq!(*attr, "name");
        }
    }

    #[test]
    fn refuses_what_it_cannot_model() {
        let cases = [
            "<domain type='xen'><name>x</name><memory>1</memory><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><memory>1</memory><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><name>x</name><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <disk type='file' device='disk'><source file='/x'/><target dev='vda' bus='virtio'/>\
             </disk></devices></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <disk type='volume' device='disk'><source pool='p' volume='v'/><target dev='hda' bus='ide'/>\
             </disk></devices></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <interface type='user'/></devices></domain>",
            "<network><name>x</name></network>",
        ];
        for xml in cases {
            assert!(
                matches!(
                    parse_domain_xml(xml, false, false),
                    Err(DomainSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_domain_xml("<domain>", false, false),
            Err(DomainSpecError::Syntax(_))
        ));
    }

    #[test]
    fn targets_and_machines() {
        let taken: BTreeSet<String> = ["vda".to_owned(), "sda".to_owned()].into();
        let mut disks = vec![
            DiskSpec::new("p", "a"),
            DiskSpec {
                bus: DiskBus::Scsi,
                ..DiskSpec::new("p", "b")
            },
        ];
        assign_targets(&mut disks, &taken);
        assert_eq!(disks[0].target.as_deref(), Some("vdb"));
        assert_eq!(disks[1].target.as_deref(), Some("sdb"));
        assert_eq!(disk_letters(0), "a");
        assert_eq!(disk_letters(25), "z");
        assert_eq!(disk_letters(26), "aa");
        assert_eq!(disk_letters(27), "ab");
        assert!(machine_matches("pc", "pc-i440fx-7.2"));
        assert!(machine_matches("q35", "pc-q35-7.2"));
        assert!(!machine_matches("q35", "pc-i440fx-7.2"));
    }
}
