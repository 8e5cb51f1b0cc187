//! The model of a VM rack manages ([`DomainSpec`]) and its validation. Pure: no I/O.

use std::collections::BTreeSet;
use std::net::IpAddr;

use crate::libvirt::pool::spec::valid_path;
use crate::libvirt::xml::is_plain;
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
    pub(super) fn xml(self) -> &'static str {
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
    pub(super) fn same_as(&self, other: &DiskSpec) -> bool {
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

    pub(super) fn model(&self) -> &str {
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
    pub(super) fn as_str(self) -> &'static str {
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
    pub(super) fn same_as(&self, other: &GraphicsSpec) -> bool {
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

    pub(super) fn max_vcpus(&self) -> u32 {
        self.max_vcpus.unwrap_or(self.vcpus).max(self.vcpus)
    }

    pub(super) fn max_memory_kib(&self) -> u64 {
        self.max_memory_kib
            .unwrap_or(self.memory_kib)
            .max(self.memory_kib)
    }

    pub(super) fn boot_order(&self) -> Vec<BootDevice> {
        if self.boot.is_empty() {
            vec![BootDevice::Disk]
        } else {
            self.boot.clone()
        }
    }

    /// Every disk the domain has, the cloud-init seed last, with targets assigned.
    pub(super) fn all_disks(&self) -> Vec<DiskSpec> {
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
pub(super) fn assign_targets(disks: &mut [DiskSpec], taken: &BTreeSet<String>) {
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
pub(super) fn disk_letters(mut i: usize) -> String {
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

#[cfg(test)]
mod tests {
    use super::super::fixtures::full;
    use super::*;

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
}
