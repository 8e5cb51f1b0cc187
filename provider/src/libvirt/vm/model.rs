//! Reading a VM's configuration into the core model (`DomainSpec`): the value helpers,
//! each attribute checked at its path, and the guest limits of the hypervisor.

use super::*;

// ---- Values -------------------------------------------------------------------------

pub(super) fn number(v: &Value, name: &str) -> Option<u64> {
    v.attr(name)
        .and_then(Value::as_number)
        .and_then(Number::to_u64)
}

pub(super) fn boolean(v: &Value, name: &str) -> Option<bool> {
    v.attr(name).and_then(Value::as_bool)
}

pub(super) fn items<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    match v.attr(name) {
        Some(Value::List(items) | Value::Set(items)) => items,
        _ => &[],
    }
}

/// A single nested block's object, if present.
pub(super) fn single<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.attr(name).filter(|b| matches!(b, Value::Object(_)))
}

pub(super) fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

pub(super) fn num_value(n: u64) -> Value {
    Value::Number(Number::from(n))
}

/// `n KiB` as the largest whole unit: `2GiB`, `512MiB`, `1000KiB`.
pub fn memory_text(kib: u64) -> String {
    if kib.is_multiple_of(1 << 20) {
        format!("{}GiB", kib >> 20)
    } else if kib.is_multiple_of(1 << 10) {
        format!("{}MiB", kib >> 10)
    } else {
        format!("{kib}KiB")
    }
}

/// Whether two cloud-init texts mean the same: line endings, trailing blanks on a line
/// and trailing empty lines aside.
pub fn same_seed_text(a: &str, b: &str) -> bool {
    fn norm(s: &str) -> Vec<&str> {
        let mut lines: Vec<&str> = s.lines().map(str::trim_end).collect();
        while lines.last().is_some_and(|l| l.is_empty()) {
            lines.pop();
        }
        lines
    }
    norm(a) == norm(b)
}

// ---- Configuration -> core model ------------------------------------------------------

pub(super) fn invalid(
    attr: AttributePath,
    summary: impl Into<String>,
    detail: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(summary, detail).at(attr)
}

pub(super) fn memory_of(v: &Value, attr: &str, errs: &mut Vec<Diagnostic>) -> Option<u64> {
    let text = str_attr(v, attr)?;
    match parse_memory_kib(text) {
        Ok(k) => Some(k),
        Err(e) => {
            errs.push(invalid(
                AttributePath::attr(attr),
                format!("Invalid memory size {text:?}"),
                format!("{e}."),
            ));
            None
        }
    }
}

pub(super) fn disk_of(
    d: &Value,
    path: AttributePath,
    errs: &mut Vec<Diagnostic>,
) -> Option<DiskSpec> {
    let pool = str_attr(d, "pool")?;
    let volume = str_attr(d, "volume")?;
    let bus = match str_attr(d, "bus").unwrap_or("virtio") {
        "virtio" => DiskBus::Virtio,
        "sata" => DiskBus::Sata,
        "scsi" => DiskBus::Scsi,
        other => {
            errs.push(invalid(
                path.join_attr("bus"),
                format!("Unknown disk bus {other:?}"),
                format!("Use one of {}.", BUSES.join(", ")),
            ));
            return None;
        }
    };
    let device = match str_attr(d, "device").unwrap_or("disk") {
        "disk" => DiskDevice::Disk,
        "cdrom" => DiskDevice::Cdrom,
        other => {
            errs.push(invalid(
                path.join_attr("device"),
                format!("Unknown disk device {other:?}"),
                format!("Use one of {}.", DEVICES.join(", ")),
            ));
            return None;
        }
    };
    Some(DiskSpec {
        bus,
        device,
        readonly: boolean(d, "readonly").unwrap_or(false),
        serial: str_attr(d, "serial").map(str::to_owned),
        format: str_attr(d, "format").map(str::to_owned),
        target: str_attr(d, "target").map(str::to_owned),
        ..DiskSpec::new(pool, volume)
    })
}

pub(super) fn interface_of(
    i: &Value,
    path: AttributePath,
    errs: &mut Vec<Diagnostic>,
) -> Option<InterfaceSpec> {
    let source = match (str_attr(i, "network"), str_attr(i, "bridge")) {
        (Some(n), None) => InterfaceSource::Network(n.to_owned()),
        (None, Some(b)) => InterfaceSource::Bridge(b.to_owned()),
        (n, b) => {
            // Unknown values are checked again once known.
            let unknown = ["network", "bridge"]
                .iter()
                .any(|a| i.attr(a).is_some_and(Value::is_unknown));
            if !unknown {
                errs.push(invalid(
                    path,
                    if n.is_some() && b.is_some() {
                        "Both `network` and `bridge` are set"
                    } else {
                        "Neither `network` nor `bridge` is set"
                    },
                    "Plug each interface into a libvirt network (`network`, e.g. \
                     `rack_network.farm.name`) or a host bridge (`bridge`, e.g. `br0`): one \
                     of the two.",
                ));
            }
            return None;
        }
    };
    let mac = match str_attr(i, "mac") {
        Some(text) => match text.parse::<MacAddress>() {
            Ok(m) => Some(m),
            Err(e) => {
                errs.push(invalid(
                    path.join_attr("mac"),
                    format!("Invalid MAC address {text:?}"),
                    format!("{e}. Write it as `52:54:00:12:34:56`, or omit it to derive one."),
                ));
                return None;
            }
        },
        None => None,
    };
    Some(InterfaceSpec {
        source,
        model: str_attr(i, "model").map(str::to_owned),
        mac,
    })
}

/// Memory and vCPUs beyond what the hypervisor reports for one VM, each at its
/// attribute.
pub(super) fn limit_errors(v: &Value, limits: &GuestLimits) -> Vec<Diagnostic> {
    let mut errs = Vec::new();
    for attr in ["memory", "max_memory"] {
        if let Some(text) = str_attr(v, attr)
            && let Ok(kib) = parse_memory_kib(text)
            && kib > limits.memory_kib
        {
            errs.push(invalid(
                AttributePath::attr(attr),
                format!("More memory than the hypervisor has: {text}"),
                format!(
                    "`{attr}` is {kib} KiB; the hypervisor has {} KiB in all. Give the VM less.",
                    limits.memory_kib
                ),
            ));
        }
    }
    let kind = str_attr(v, "type").unwrap_or("kvm");
    for attr in ["vcpus", "max_vcpus"] {
        if let Some(n) = number(v, attr)
            && n > u64::from(limits.max_vcpus)
        {
            errs.push(invalid(
                AttributePath::attr(attr),
                format!("More vCPUs than the hypervisor allows: {n}"),
                format!(
                    "The hypervisor allows at most {} vCPUs for a `{kind}` VM. Use fewer.",
                    limits.max_vcpus
                ),
            ));
        }
    }
    errs
}

/// [`limit_errors`] against the hypervisor's limits, or nothing when they cannot be read
/// (then libvirt itself refuses what it cannot do).
pub(super) async fn check_limits(hv: &Hypervisor, v: &Value) -> Vec<Diagnostic> {
    let known = ["memory", "max_memory", "vcpus", "max_vcpus"]
        .iter()
        .any(|a| v.attr(a).is_some_and(|x| !x.is_null() && !x.is_unknown()));
    if !known {
        return Vec::new();
    }
    match hv.guest_limits(str_attr(v, "type").unwrap_or("kvm")).await {
        Ok(limits) => limit_errors(v, &limits),
        Err(e) => {
            tracing::debug!(error = %e, "the hypervisor's limits for a VM cannot be read");
            Vec::new()
        }
    }
}

/// Attribute `inner` of disk `index`. Core counts the cloud-init seed as the disk after
/// the configured ones, so an index past `disks` is the `cloud_init` block.
pub(super) fn disk_path(index: usize, inner: &str, disks: usize) -> AttributePath {
    if index >= disks {
        AttributePath::attr("cloud_init")
    } else {
        AttributePath::attr("disk")
            .join_index(index)
            .join_attr(inner)
    }
}

/// The attribute a core validation error is about; `disks` is how many `disk` blocks the
/// configuration has.
pub(super) fn spec_error_path(e: &DomainSpecError, disks: usize) -> AttributePath {
    use DomainSpecError as E;
    match e {
        E::Name(_) => AttributePath::attr("name"),
        E::MemorySize(_) => AttributePath::attr("memory"),
        E::Range { attribute, .. } => AttributePath::attr(*attribute),
        E::CpuMode(_) => AttributePath::attr("cpu_mode"),
        E::Value { attribute, .. } => match attribute.split_once('.') {
            // A single nested block: the path reaches its attribute.
            Some((block @ ("graphics" | "cloud_init"), inner)) => {
                AttributePath::attr(block).join_attr(inner)
            }
            Some((top, _)) => AttributePath::attr(top),
            None => AttributePath::attr(*attribute),
        },
        E::Item {
            block,
            index,
            attribute,
            ..
        } => AttributePath::attr(*block)
            .join_index(*index)
            .join_attr(*attribute),
        E::MulticastMac { index, .. } => AttributePath::attr("network_interface")
            .join_index(*index)
            .join_attr("mac"),
        E::DuplicateMac { second, .. } => AttributePath::attr("network_interface")
            .join_index(*second)
            .join_attr("mac"),
        E::DuplicateDisk { index, .. } => disk_path(*index, "volume", disks),
        E::DuplicateTarget(_, index) => disk_path(*index, "target", disks),
        _ => AttributePath::attr("name"),
    }
}

/// The configuration (or plan, or state) as core's model, with the graphics password
/// taken from `config` (write-only: never in plan or state). `None` values that are
/// unknown at plan time are left to libvirt or checked again at apply.
pub(super) fn spec_of(v: &Value, config: &Value) -> Result<DomainSpec, Vec<Diagnostic>> {
    let mut errs = Vec::new();
    let name = str_attr(v, "name").unwrap_or_default().to_owned();
    let memory = memory_of(v, "memory", &mut errs);
    let max_memory = memory_of(v, "max_memory", &mut errs);
    let mut spec = DomainSpec::new(name, memory.unwrap_or(1024));
    spec.max_memory_kib = max_memory;
    spec.domain_type = match str_attr(v, "type").unwrap_or("kvm") {
        "qemu" => DomainType::Qemu,
        _ => DomainType::Kvm,
    };
    spec.vcpus = number(v, "vcpus").map_or(1, |n| u32::try_from(n).unwrap_or(u32::MAX));
    spec.max_vcpus = number(v, "max_vcpus").map(|n| u32::try_from(n).unwrap_or(u32::MAX));
    // libvirt's default for `qemu` reads back as `custom` with a CPU model rack does not
    // keep: left to libvirt again unless the configuration asks for it.
    spec.cpu_mode = str_attr(v, "cpu_mode")
        .filter(|m| *m != "custom" || str_attr(config, "cpu_mode").is_some())
        .map(str::to_owned);
    spec.machine = str_attr(v, "machine").map(str::to_owned);
    spec.firmware = match str_attr(v, "firmware") {
        Some("uefi") => Firmware::Uefi,
        _ => Firmware::Bios,
    };
    for (i, b) in items(v, "boot").iter().enumerate() {
        match b.as_str() {
            Some("disk") => spec.boot.push(BootDevice::Disk),
            Some("network") => spec.boot.push(BootDevice::Network),
            Some("cdrom") => spec.boot.push(BootDevice::Cdrom),
            Some(other) => errs.push(invalid(
                AttributePath::attr("boot").join_index(i),
                format!("Unknown boot device {other:?}"),
                format!("Use {}.", BOOT_DEVICES.join(", ")),
            )),
            None => {}
        }
    }
    for (i, d) in items(v, "disk").iter().enumerate() {
        if let Some(disk) = disk_of(d, AttributePath::attr("disk").join_index(i), &mut errs) {
            spec.disks.push(disk);
        }
    }
    for (i, n) in items(v, "network_interface").iter().enumerate() {
        let path = AttributePath::attr("network_interface").join_index(i);
        if let Some(iface) = interface_of(n, path, &mut errs) {
            spec.interfaces.push(iface);
        }
    }
    if let Some(g) = single(v, "graphics") {
        let kind = match str_attr(g, "type") {
            Some("spice") => GraphicsKind::Spice,
            _ => GraphicsKind::Vnc,
        };
        let password = single(config, "graphics")
            .and_then(|c| str_attr(c, "password"))
            .map(str::to_owned);
        if kind == GraphicsKind::Vnc
            && let Some(p) = &password
            && p.len() > 8
        {
            errs.push(invalid(
                AttributePath::attr("graphics").join_attr("password"),
                "VNC password too long",
                format!(
                    "The password is {} characters long; VNC (QEMU) takes at most 8. Use a \
                     shorter one, or SPICE.",
                    p.len()
                ),
            ));
        }
        spec.graphics = Some(GraphicsSpec {
            kind,
            listen: str_attr(g, "listen").map(str::to_owned),
            password,
        });
    }
    spec.serial_console = boolean(v, "serial_console").unwrap_or(true);
    spec.console_log = str_attr(v, "console_log").map(str::to_owned);
    spec.guest_agent = boolean(v, "qemu_guest_agent").unwrap_or(false);
    if let Some(kernel) = str_attr(v, "kernel") {
        spec.direct_boot = Some(DirectBoot {
            kernel: kernel.to_owned(),
            initrd: str_attr(v, "initrd").map(str::to_owned),
            cmdline: str_attr(v, "cmdline").map(str::to_owned),
        });
    } else {
        for attr in ["initrd", "cmdline"] {
            if str_attr(v, attr).is_some() {
                errs.push(invalid(
                    AttributePath::attr(attr),
                    format!("`{attr}` without `kernel`"),
                    "An initramfs and a command line are for direct kernel boot: set \
                     `kernel` too, or remove this attribute.",
                ));
            }
        }
    }
    if let Some(ci) = single(v, "cloud_init") {
        match str_attr(ci, "pool").or_else(|| spec.disks.first().map(|d| d.pool.as_str())) {
            Some(pool) => spec.cloud_init_pool = Some(pool.to_owned()),
            None if ci.attr("pool").is_some_and(Value::is_unknown) => {}
            None => errs.push(invalid(
                AttributePath::attr("cloud_init").join_attr("pool"),
                "No pool for the cloud-init seed",
                "The seed is a volume; set `cloud_init.pool`, or give the VM a disk (the \
                 seed then goes into the first disk's pool).",
            )),
        }
    }
    spec.running = boolean(v, "running").unwrap_or(true);
    spec.autostart = boolean(v, "autostart").unwrap_or(false);
    if errs.is_empty()
        && let Err(e) = spec.validate()
    {
        let path = spec_error_path(&e, spec.disks.len());
        errs.push(invalid(path, "Invalid VM", format!("{e}.")));
    }
    if errs.is_empty() { Ok(spec) } else { Err(errs) }
}

/// The cloud-init seed the value asks for.
pub(super) fn seed_of(v: &Value) -> Option<CloudInit> {
    let ci = single(v, "cloud_init")?;
    let text = |a: &str| str_attr(ci, a).map(str::to_owned);
    Some(CloudInit {
        user_data: text("user_data"),
        meta_data: text("meta_data"),
        network_config: text("network_config"),
        vendor_data: text("vendor_data"),
    })
}

pub(super) fn shutdown_timeout(v: &Value) -> Duration {
    str_attr(v, "shutdown_timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

/// `wait_for_ip` as (timeout, source), if configured.
pub(super) fn wait_of(v: &Value) -> Option<(Duration, AddressSource)> {
    let w = single(v, "wait_for_ip")?;
    let timeout = str_attr(w, "timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(300));
    let source = match str_attr(w, "source") {
        Some("lease") => AddressSource::Lease,
        Some("agent") => AddressSource::Agent,
        Some("dhcp") => AddressSource::Dhcp,
        _ => AddressSource::Any,
    };
    Some((timeout, source))
}
