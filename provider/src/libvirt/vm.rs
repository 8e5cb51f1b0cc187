//! `rack_vm`: a virtual machine (libvirt domain) on a hypervisor: CPUs and memory,
//! firmware and boot order, disks that are volumes of a storage pool, interfaces on a
//! `rack_network` or a host bridge, consoles, the guest agent, a cloud-init seed, and its
//! power state.
//!
//! Core's [`plan_domain_update`] decides what a change needs: live (memory and vCPUs
//! within their maximum, hot-plugged disks and interfaces, power state, autostart), a
//! restart (graceful shutdown, new definition, start; the plan warns and names the
//! attributes), or a replacement (`name`, `hypervisor`). A new cloud-init seed is written
//! into its volume; a running VM is restarted so that it sees it, and the plan says so.
//!
//! Refresh reads every VM of a hypervisor in one listing per provider process.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::time::Duration;

use async_trait::async_trait;
use rack_core::cloudinit::CloudInit;
use rack_core::libvirt::{
    AddressSource, BootDevice, DirectBoot, DiskBus, DiskDevice, DiskSpec, DomainSpec,
    DomainSpecError, DomainState, DomainType, Firmware, GraphicsKind, GraphicsSpec, GuestLimits,
    Hypervisor, InterfaceSource, InterfaceSpec, LibvirtError, interface_mac, machine_matches,
    parse_memory_kib, plan_domain_update, routable,
};
use rack_core::net::MacAddress;

use super::shared::{hypervisor, libvirt_diag, plan_default_hypervisor, split_import_id};
use crate::framework::attrs::{incomplete, obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{
    Attribute, Block, IdentityAttribute, IdentitySchema, NestedBlock, Nesting, Schema,
};
use crate::framework::timeouts::parse_duration;
use crate::framework::validate::{check, one_of};
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vm;

/// How long a graceful shutdown may take before the VM is forced off, by default.
pub const DEFAULT_SHUTDOWN_TIMEOUT: &str = "60s";
/// How long `wait_for_ip` waits by default.
pub const DEFAULT_WAIT_TIMEOUT: &str = "5m";

const TYPES: &[&str] = &["kvm", "qemu"];
const FIRMWARES: &[&str] = &["bios", "uefi"];
const BOOT_DEVICES: &[&str] = &["disk", "network", "cdrom"];
const BUSES: &[&str] = &["virtio", "sata", "scsi"];
const DEVICES: &[&str] = &["disk", "cdrom"];
const GRAPHICS: &[&str] = &["vnc", "spice"];
const SOURCES: &[&str] = &["lease", "agent", "any"];
const CPU_MODES: &[&str] = &["host-passthrough", "host-model", "maximum", "custom"];
const SEED_FILES: &[&str] = &["user_data", "meta_data", "network_config", "vendor_data"];

// ---- Values -------------------------------------------------------------------------

fn number(v: &Value, name: &str) -> Option<u64> {
    v.attr(name)
        .and_then(Value::as_number)
        .and_then(Number::to_u64)
}

fn boolean(v: &Value, name: &str) -> Option<bool> {
    v.attr(name).and_then(Value::as_bool)
}

fn items<'a>(v: &'a Value, name: &str) -> &'a [Value] {
    match v.attr(name) {
        Some(Value::List(items) | Value::Set(items)) => items,
        _ => &[],
    }
}

/// A single nested block's object, if present.
fn single<'a>(v: &'a Value, name: &str) -> Option<&'a Value> {
    v.attr(name).filter(|b| matches!(b, Value::Object(_)))
}

fn opt_str(s: Option<&str>) -> Value {
    s.map_or(Value::Null, Value::from)
}

fn num_value(n: u64) -> Value {
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

fn vm_id(hv: &str, name: &str) -> String {
    format!("{hv}/{name}")
}

fn identity(hv: &str, name: &str) -> Value {
    Value::object([("hypervisor", Value::from(hv)), ("name", Value::from(name))])
}

// ---- Configuration -> core model ------------------------------------------------------

fn invalid(
    attr: AttributePath,
    summary: impl Into<String>,
    detail: impl Into<String>,
) -> Diagnostic {
    Diagnostic::error(summary, detail).at(attr)
}

fn memory_of(v: &Value, attr: &str, errs: &mut Vec<Diagnostic>) -> Option<u64> {
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

fn disk_of(d: &Value, path: AttributePath, errs: &mut Vec<Diagnostic>) -> Option<DiskSpec> {
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

fn interface_of(
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
fn limit_errors(v: &Value, limits: &GuestLimits) -> Vec<Diagnostic> {
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
async fn check_limits(hv: &Hypervisor, v: &Value) -> Vec<Diagnostic> {
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
fn disk_path(index: usize, inner: &str, disks: usize) -> AttributePath {
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
fn spec_error_path(e: &DomainSpecError, disks: usize) -> AttributePath {
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
fn spec_of(v: &Value, config: &Value) -> Result<DomainSpec, Vec<Diagnostic>> {
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
fn seed_of(v: &Value) -> Option<CloudInit> {
    let ci = single(v, "cloud_init")?;
    let text = |a: &str| str_attr(ci, a).map(str::to_owned);
    Some(CloudInit {
        user_data: text("user_data"),
        meta_data: text("meta_data"),
        network_config: text("network_config"),
        vendor_data: text("vendor_data"),
    })
}

fn shutdown_timeout(v: &Value) -> Duration {
    str_attr(v, "shutdown_timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(60))
}

/// `wait_for_ip` as (timeout, source), if configured.
fn wait_of(v: &Value) -> Option<(Duration, AddressSource)> {
    let w = single(v, "wait_for_ip")?;
    let timeout = str_attr(w, "timeout")
        .and_then(|t| parse_duration(t).ok())
        .unwrap_or(Duration::from_secs(300));
    let source = match str_attr(w, "source") {
        Some("lease") => AddressSource::Lease,
        Some("agent") => AddressSource::Agent,
        _ => AddressSource::Any,
    };
    Some((timeout, source))
}

// ---- Core model -> state ------------------------------------------------------------

/// The addresses of each interface by MAC, routable ones only.
type Addresses = BTreeMap<MacAddress, Vec<IpAddr>>;

/// Orders `now` like `prior` (by `key`), the rest after in their own order: libvirt
/// lists hot-plugged devices last, the configuration may have them anywhere.
fn ordered_like<T: Clone, K: PartialEq>(
    now: &[T],
    prior: &[Value],
    key_now: impl Fn(&T) -> K,
    key_prior: impl Fn(&Value) -> Option<K>,
) -> Vec<T> {
    let mut out = Vec::with_capacity(now.len());
    let mut used = vec![false; now.len()];
    for p in prior {
        let Some(k) = key_prior(p) else { continue };
        if let Some(i) = (0..now.len()).find(|i| !used[*i] && key_now(&now[*i]) == k) {
            used[i] = true;
            out.push(now[i].clone());
        }
    }
    for (i, n) in now.iter().enumerate() {
        if !used[i] {
            out.push(n.clone());
        }
    }
    out
}

/// The prior value of `attr` when it means the same as `now` (per `same`), else `now`.
fn keep_if(prior: &Value, attr: &str, now: Value, same: impl Fn(&str, &Value) -> bool) -> Value {
    match str_attr(prior, attr) {
        Some(p) if same(p, &now) => Value::from(p),
        _ => now,
    }
}

fn disk_value(d: &DiskSpec, prior: Option<&Value>) -> Value {
    let readonly = match (d.device, prior.and_then(|p| boolean(p, "readonly"))) {
        // A CD-ROM is read-only whatever the configuration said.
        (DiskDevice::Cdrom, Some(p)) => p,
        _ => d.readonly,
    };
    Value::object([
        ("pool", Value::from(d.pool.as_str())),
        ("volume", Value::from(d.volume.as_str())),
        ("bus", Value::from(d.bus.as_str())),
        (
            "device",
            Value::from(match d.device {
                DiskDevice::Cdrom => "cdrom",
                _ => "disk",
            }),
        ),
        ("readonly", Value::Bool(readonly)),
        ("serial", opt_str(d.serial.as_deref())),
        ("format", Value::from(d.format.as_deref().unwrap_or("raw"))),
        ("target", opt_str(d.target.as_deref())),
    ])
}

fn interface_value(
    i: &InterfaceSpec,
    mac: MacAddress,
    prior: Option<&Value>,
    addresses: Option<&Addresses>,
) -> Value {
    let (network, bridge) = match &i.source {
        InterfaceSource::Network(n) => (Value::from(n.as_str()), Value::Null),
        InterfaceSource::Bridge(b) => (Value::Null, Value::from(b.as_str())),
        _ => (Value::Null, Value::Null),
    };
    let mac_text = match prior.and_then(|p| str_attr(p, "mac")) {
        Some(p) if p.parse::<MacAddress>().ok() == Some(mac) => p.to_owned(),
        _ => mac.to_string(),
    };
    let ips = match addresses {
        Some(found) => Value::List(
            found
                .get(&mac)
                .map(|ips| ips.iter().map(|ip| Value::from(ip.to_string())).collect())
                .unwrap_or_default(),
        ),
        None => prior
            .and_then(|p| p.attr("ip_addresses"))
            .filter(|v| matches!(v, Value::List(_)))
            .cloned()
            .unwrap_or(Value::List(Vec::new())),
    };
    Value::object([
        ("network", network),
        ("bridge", bridge),
        ("model", Value::from(i.model.as_deref().unwrap_or("virtio"))),
        ("mac", Value::from(mac_text)),
        ("ip_addresses", ips),
    ])
}

/// The state of the VM `now` on hypervisor `hv`: what libvirt holds, in the spelling of
/// `prior` where it means the same, and `prior`'s values of what libvirt does not hold
/// (cloud-init texts, `shutdown_timeout`, `wait_for_ip`). `addresses`: freshly read
/// interface addresses, or `None` to keep `prior`'s.
fn state_of(
    hv: &str,
    now: &DomainState,
    prior: &Value,
    addresses: Option<&Addresses>,
) -> Result<Value, Diagnostic> {
    let spec = now.spec.clone().map_err(|e| {
        Diagnostic::error(
            format!("VM {:?} cannot be managed by rack", now.name),
            format!(
                "{e}. rack manages VMs whose disks are volumes of a pool (virtio, sata or \
                 scsi) and whose interfaces are on a libvirt network or a host bridge; \
                 change the VM with `virsh edit {}` or leave it out of the configuration.",
                now.name
            ),
        )
    })?;
    let memory = keep_if(
        prior,
        "memory",
        Value::from(memory_text(spec.memory_kib)),
        |p, _| parse_memory_kib(p).ok() == Some(spec.memory_kib),
    );
    let max_kib = spec.max_memory_kib.unwrap_or(spec.memory_kib);
    let max_memory = match str_attr(prior, "max_memory") {
        Some(p) if parse_memory_kib(p).ok() == Some(max_kib) => Value::from(p),
        None if max_kib == spec.memory_kib => Value::Null,
        _ => Value::from(memory_text(max_kib)),
    };
    let max_vcpus_now = spec.max_vcpus.unwrap_or(spec.vcpus);
    let max_vcpus = match number(prior, "max_vcpus") {
        Some(p) if p == u64::from(max_vcpus_now) => num_value(p),
        None if max_vcpus_now == spec.vcpus => Value::Null,
        _ => num_value(max_vcpus_now.into()),
    };
    let machine = keep_if(
        prior,
        "machine",
        opt_str(spec.machine.as_deref()),
        |p, n| n.as_str().is_some_and(|n| machine_matches(p, n)),
    );
    let cpu_mode = keep_if(
        prior,
        "cpu_mode",
        opt_str(spec.cpu_mode.as_deref()),
        |p, n| n.as_str() == Some(p),
    );
    let boot = Value::List(
        (if spec.boot.is_empty() {
            vec![BootDevice::Disk]
        } else {
            spec.boot.clone()
        })
        .iter()
        .map(|b| {
            Value::from(match b {
                BootDevice::Network => "network",
                BootDevice::Cdrom => "cdrom",
                _ => "disk",
            })
        })
        .collect(),
    );

    let prior_disks = items(prior, "disk");
    let disk_key = |d: &DiskSpec| (d.pool.clone(), d.volume.clone());
    let prior_disk_key = |p: &Value| {
        Some((
            str_attr(p, "pool")?.to_owned(),
            str_attr(p, "volume")?.to_owned(),
        ))
    };
    let disks = ordered_like(&spec.disks, prior_disks, disk_key, prior_disk_key)
        .iter()
        .map(|d| {
            let p = prior_disks
                .iter()
                .find(|p| prior_disk_key(p) == Some(disk_key(d)));
            disk_value(d, p)
        })
        .collect();

    let prior_ifaces = items(prior, "network_interface");
    let resolved = spec.resolved_interfaces();
    let iface_mac = |i: &InterfaceSpec| i.mac;
    let prior_mac = |p: &Value| Some(str_attr(p, "mac")?.parse::<MacAddress>().ok());
    let interfaces = ordered_like(&resolved, prior_ifaces, iface_mac, prior_mac)
        .iter()
        .map(|i| {
            let mac = i.mac.unwrap_or_else(|| interface_mac(&spec.name, 0));
            let p = prior_ifaces
                .iter()
                .find(|p| prior_mac(p) == Some(Some(mac)));
            interface_value(i, mac, p, addresses)
        })
        .collect();

    let graphics = match &spec.graphics {
        Some(g) => {
            let prior_g = single(prior, "graphics").cloned().unwrap_or(Value::Null);
            let listen = match (str_attr(&prior_g, "listen"), &g.listen) {
                (Some(p), Some(n)) if p == n => Value::from(p),
                (_, n) => opt_str(n.as_deref()),
            };
            Value::object([
                (
                    "type",
                    Value::from(match g.kind {
                        GraphicsKind::Spice => "spice",
                        _ => "vnc",
                    }),
                ),
                ("listen", listen),
                ("password", Value::Null),
            ])
        }
        None => Value::Null,
    };

    let cloud_init = match &spec.cloud_init_pool {
        Some(pool) => {
            let prior_ci = single(prior, "cloud_init");
            let mut fields = vec![("pool", Value::from(pool.as_str()))];
            for f in SEED_FILES {
                fields.push((
                    f,
                    prior_ci
                        .and_then(|c| c.attr(f))
                        .filter(|v| v.as_str().is_some())
                        .cloned()
                        .unwrap_or(Value::Null),
                ));
            }
            Value::object(fields)
        }
        None => Value::Null,
    };
    let wait_for_ip = single(prior, "wait_for_ip").cloned().unwrap_or(Value::Null);
    let direct = spec.direct_boot.as_ref();
    Ok(Value::object([
        ("hypervisor", Value::from(hv)),
        ("name", Value::from(spec.name.as_str())),
        ("type", Value::from(spec.domain_type.as_str())),
        ("vcpus", num_value(spec.vcpus.into())),
        ("max_vcpus", max_vcpus),
        ("memory", memory),
        ("max_memory", max_memory),
        ("cpu_mode", cpu_mode),
        ("machine", machine),
        (
            "firmware",
            Value::from(match spec.firmware {
                Firmware::Uefi => "uefi",
                _ => "bios",
            }),
        ),
        ("boot", boot),
        ("kernel", opt_str(direct.map(|d| d.kernel.as_str()))),
        ("initrd", opt_str(direct.and_then(|d| d.initrd.as_deref()))),
        (
            "cmdline",
            opt_str(direct.and_then(|d| d.cmdline.as_deref())),
        ),
        ("disk", Value::List(disks)),
        ("network_interface", Value::List(interfaces)),
        ("graphics", graphics),
        ("serial_console", Value::Bool(spec.serial_console)),
        ("console_log", opt_str(spec.console_log.as_deref())),
        ("qemu_guest_agent", Value::Bool(spec.guest_agent)),
        ("cloud_init", cloud_init),
        ("running", Value::Bool(now.active)),
        ("autostart", Value::Bool(now.autostart)),
        (
            "shutdown_timeout",
            str_attr(prior, "shutdown_timeout")
                .map_or(Value::from(DEFAULT_SHUTDOWN_TIMEOUT), Value::from),
        ),
        ("wait_for_ip", wait_for_ip),
        ("uuid", Value::from(now.uuid.as_str())),
        ("id", Value::from(vm_id(hv, &spec.name))),
    ]))
}

fn result(
    hv: &str,
    now: &DomainState,
    prior: &Value,
    addresses: Option<&Addresses>,
) -> StateResult {
    match state_of(hv, now, prior, addresses) {
        Ok(state) => StateResult {
            state,
            identity: Some(identity(hv, &now.name)),
            ..StateResult::default()
        },
        Err(d) => StateResult::failed(prior.clone(), d),
    }
}

// ---- Addresses ----------------------------------------------------------------------

/// The routable addresses of every interface, from `source`; `None` when they cannot be
/// read (no agent, VM off), which keeps the prior addresses.
async fn read_addresses(hv: &Hypervisor, name: &str, source: AddressSource) -> Option<Addresses> {
    let found = hv.domain_addresses(name, source).await.ok()?;
    let mut out = Addresses::new();
    for i in found {
        if let Some(mac) = i.mac {
            let ips = out.entry(mac).or_default();
            ips.extend(
                i.addresses
                    .iter()
                    .map(|(ip, _)| *ip)
                    .filter(|ip| routable(*ip)),
            );
        }
    }
    Some(out)
}

fn source_words(source: AddressSource) -> &'static str {
    match source {
        AddressSource::Lease => "the DHCP leases of the libvirt network",
        AddressSource::Agent => "the QEMU guest agent",
        _ => "the QEMU guest agent, then the DHCP leases of the libvirt network",
    }
}

/// Waits as `wait_for_ip` says for every interface (with source `lease`, every interface
/// on a libvirt network: a host bridge has no lease libvirt knows of).
async fn wait_for_ip(
    hv: &Hypervisor,
    spec: &DomainSpec,
    timeout: Duration,
    source: AddressSource,
) -> Result<Addresses, Diagnostic> {
    let macs: Vec<(usize, MacAddress, InterfaceSource)> = spec
        .resolved_interfaces()
        .into_iter()
        .enumerate()
        .filter(|(_, i)| {
            source != AddressSource::Lease || matches!(i.source, InterfaceSource::Network(_))
        })
        .filter_map(|(n, i)| Some((n, i.mac?, i.source)))
        .collect();
    let wanted: Vec<MacAddress> = macs.iter().map(|(_, m, _)| *m).collect();
    match hv
        .wait_for_addresses(&spec.name, &wanted, source, timeout)
        .await
    {
        Ok(found) => {
            let mut out = Addresses::new();
            for i in found {
                if let Some(mac) = i.mac {
                    out.insert(
                        mac,
                        i.addresses
                            .iter()
                            .map(|(ip, _)| *ip)
                            .filter(|ip| routable(*ip))
                            .collect(),
                    );
                }
            }
            Ok(out)
        }
        Err(LibvirtError::NoAddress {
            missing, waited, ..
        }) => {
            let named: Vec<String> = macs
                .iter()
                .filter(|(_, m, _)| missing.contains(&m.to_string()))
                .map(|(n, m, src)| {
                    let on = match src {
                        InterfaceSource::Network(n) => format!("network {n:?}"),
                        InterfaceSource::Bridge(b) => format!("bridge {b:?}"),
                        _ => String::new(),
                    };
                    format!("network_interface[{n}] ({m} on {on})")
                })
                .collect();
            Err(Diagnostic::error(
                format!("VM {:?} has no address on {}", spec.name, named.join(", ")),
                format!(
                    "Waited {waited:.0?} for an address that is neither link-local nor \
                     loopback, from {} (wait_for_ip.source = {source}). Check that the guest \
                     boots and runs a DHCP client (lease: on a libvirt network with DHCP), or \
                     the QEMU guest agent (agent: `qemu_guest_agent = true` and \
                     qemu-guest-agent in the guest); or raise wait_for_ip.timeout. The VM \
                     exists and stays as it is.",
                    source_words(source)
                ),
            )
            .at(AttributePath::attr("wait_for_ip")))
        }
        Err(e) => Err(libvirt_diag(
            &e,
            &format!("Waiting for the addresses of VM {:?}.", spec.name),
        )),
    }
}

// ---- Plan ---------------------------------------------------------------------------

/// The attribute names the restart reasons of core stand for in this resource.
fn restart_words(attrs: &[&'static str], config: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for a in attrs {
        let word = match *a {
            "max_memory" if str_attr(config, "max_memory").is_none() => {
                "memory (beyond its maximum; set max_memory to change it live)".to_owned()
            }
            "max_vcpus" if number(config, "max_vcpus").is_none() => {
                "vcpus (beyond their maximum; set max_vcpus to change them live)".to_owned()
            }
            "kernel" => "kernel, initrd or cmdline".to_owned(),
            other => other.to_owned(),
        };
        if !out.contains(&word) {
            out.push(word);
        }
    }
    out
}

/// Fills what is known at plan time: derived MACs, disk formats and targets and
/// addresses kept from the prior state, and libvirt's choices for attributes the
/// configuration leaves to it.
fn fill_planned(planned: &mut Value, prior: &Value, keep_addresses: bool) {
    let name = str_attr(planned, "name").map(str::to_owned);
    let prior_ifaces = items(prior, "network_interface").to_vec();
    if let Some(Value::List(ifaces)) = planned.attr("network_interface").cloned() {
        let mut out = Vec::with_capacity(ifaces.len());
        for (i, mut iface) in ifaces.into_iter().enumerate() {
            if iface.attr("mac").is_some_and(Value::is_unknown)
                && let Some(n) = &name
            {
                obj_set(
                    &mut iface,
                    "mac",
                    Value::from(interface_mac(n, i).to_string()),
                );
            }
            let mac = str_attr(&iface, "mac").and_then(|m| m.parse::<MacAddress>().ok());
            let prior_same = prior_ifaces.iter().find(|p| {
                mac.is_some()
                    && str_attr(p, "mac").and_then(|m| m.parse::<MacAddress>().ok()) == mac
                    && p.attr("network") == iface.attr("network")
                    && p.attr("bridge") == iface.attr("bridge")
            });
            match prior_same {
                Some(p) if keep_addresses => {
                    if let Some(ips) = p.attr("ip_addresses") {
                        obj_set(&mut iface, "ip_addresses", ips.clone());
                    }
                }
                _ => obj_set(&mut iface, "ip_addresses", Value::Unknown),
            }
            out.push(iface);
        }
        obj_set(planned, "network_interface", Value::List(out));
    }
    let prior_disks = items(prior, "disk").to_vec();
    if let Some(Value::List(disks)) = planned.attr("disk").cloned() {
        let mut out = Vec::with_capacity(disks.len());
        for mut disk in disks {
            let same = prior_disks.iter().find(|p| {
                p.attr("pool") == disk.attr("pool") && p.attr("volume") == disk.attr("volume")
            });
            for attr in ["format", "target"] {
                if disk.attr(attr).is_some_and(Value::is_unknown)
                    && let Some(v) = same.and_then(|p| p.attr(attr)).filter(|v| !v.is_null())
                {
                    obj_set(&mut disk, attr, v.clone());
                }
            }
            out.push(disk);
        }
        obj_set(planned, "disk", Value::List(out));
    }
    if prior.is_null() {
        fill_seed_pool(planned);
        return;
    }
    // What the configuration leaves to libvirt stays as libvirt chose.
    for attr in ["machine", "cpu_mode", "boot"] {
        if planned.attr(attr).is_some_and(Value::is_unknown)
            && let Some(p) = prior.attr(attr)
        {
            obj_set(planned, attr, p.clone());
        }
    }
    if let (Some(Value::Object(g)), Some(pg)) =
        (planned.attr("graphics").cloned(), single(prior, "graphics"))
        && g.get("listen").is_some_and(Value::is_unknown)
    {
        let mut g = Value::Object(g);
        obj_set(
            &mut g,
            "listen",
            pg.attr("listen").cloned().unwrap_or(Value::Null),
        );
        obj_set(planned, "graphics", g);
    }
    // Cloud-init texts that mean the same as before keep their old spelling.
    if let (Some(Value::Object(ci)), Some(pci)) = (
        planned.attr("cloud_init").cloned(),
        single(prior, "cloud_init"),
    ) {
        let mut ci = Value::Object(ci);
        for f in SEED_FILES {
            if let (Some(now), Some(before)) = (str_attr(&ci, f), str_attr(pci, f))
                && now != before
                && same_seed_text(now, before)
            {
                let before = before.to_owned();
                obj_set(&mut ci, f, Value::from(before));
            }
        }
        if ci.attr("pool").is_some_and(Value::is_unknown)
            && let Some(p) = pci.attr("pool")
        {
            obj_set(&mut ci, "pool", p.clone());
        }
        obj_set(planned, "cloud_init", ci);
    }
    fill_seed_pool(planned);
}

/// The seed's pool, when the configuration leaves it to the first disk.
fn fill_seed_pool(planned: &mut Value) {
    let first_pool = items(planned, "disk")
        .first()
        .and_then(|d| d.attr("pool"))
        .filter(|p| p.as_str().is_some())
        .cloned();
    if let (Some(Value::Object(ci)), Some(pool)) = (planned.attr("cloud_init").cloned(), first_pool)
        && ci.get("pool").is_some_and(Value::is_unknown)
    {
        let mut ci = Value::Object(ci);
        obj_set(&mut ci, "pool", pool);
        obj_set(planned, "cloud_init", ci);
    }
}

/// The format of every disk whose format is still unknown, from the pool's volume
/// listing; a volume that does not exist yet (created by the same apply) is looked at
/// again at apply.
async fn plan_formats(hv: &Hypervisor, planned: &mut Value) {
    let Some(Value::List(disks)) = planned.attr("disk").cloned() else {
        return;
    };
    let mut out = Vec::with_capacity(disks.len());
    for mut disk in disks {
        if disk.attr("format").is_some_and(Value::is_unknown)
            && let (Some(pool), Some(volume)) = (str_attr(&disk, "pool"), str_attr(&disk, "volume"))
            && let Ok(Some(v)) = hv.volume(pool, volume).await
        {
            let format = v.format.unwrap_or_else(|| "raw".to_owned());
            obj_set(&mut disk, "format", Value::from(format));
        }
        out.push(disk);
    }
    obj_set(planned, "disk", Value::List(out));
}

/// Fills the format of every disk that has none from the volume itself: qemu must not
/// read a qcow2 image as raw.
async fn apply_formats(hv: &Hypervisor, spec: &mut DomainSpec) -> Result<(), LibvirtError> {
    for d in spec.disks.iter_mut().filter(|d| d.format.is_none()) {
        if let Some(v) = hv.volume_fresh(&d.pool, &d.volume).await? {
            d.format = Some(v.format.unwrap_or_else(|| "raw".to_owned()));
        }
    }
    Ok(())
}

/// Whether the seed of `planned` must be written over the one of `prior`, and whether
/// the guest already uses a seed that it would then have to be restarted to see.
fn seed_change(prior: &Value, planned: &Value) -> SeedChange {
    let (before, after) = (seed_of(prior), seed_of(planned));
    let pool = |v: &Value| {
        single(v, "cloud_init")
            .and_then(|c| str_attr(c, "pool"))
            .map(str::to_owned)
    };
    match (&before, &after) {
        (_, None) => SeedChange::None,
        (None, Some(_)) => SeedChange::New,
        (Some(_), Some(_)) if pool(prior) != pool(planned) => SeedChange::New,
        (Some(b), Some(a)) if b == a => SeedChange::None,
        // Imported: the texts in use are not known; write them, no restart.
        (Some(b), Some(_)) if *b == CloudInit::default() => SeedChange::Rewrite { restart: false },
        _ => SeedChange::Rewrite { restart: true },
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum SeedChange {
    /// Nothing to write.
    None,
    /// A seed the VM did not have (or in another pool): written before the redefinition
    /// that attaches it.
    New,
    /// New texts for the seed the VM has: a running guest needs a restart to see them.
    Rewrite { restart: bool },
}

// ---- Resource -----------------------------------------------------------------------

fn bool_attr(name: &str, default: bool, description: &str) -> Attribute {
    Attribute::bool(name)
        .optional()
        .computed()
        .default(Value::Bool(default))
        .description(description)
}

fn duration_check() -> impl crate::framework::validate::Validator {
    check(
        "A duration such as `30s`, `2m` or `1h`.",
        "Invalid duration",
        |v| match v.as_str().map(parse_duration) {
            Some(Err(e)) => Err(e),
            _ => Ok(()),
        },
    )
}

#[async_trait]
impl Resource for Vm {
    fn type_name(&self) -> &'static str {
        "rack_vm"
    }

    fn schema(&self) -> Schema {
        let disk = Block::new("A disk: a volume of a storage pool of the hypervisor.")
            .attributes([
            Attribute::string("pool")
                .required()
                .description("The storage pool, e.g. `rack_storage_pool.vms.name` or `default`."),
            Attribute::string("volume")
                .required()
                .description("The volume in the pool, e.g. `rack_volume.web1_root.name`."),
            Attribute::string("bus")
                .optional()
                .computed()
                .default(Value::from("virtio"))
                .validator(one_of(BUSES.iter().copied()))
                .description(
                    "`virtio` (default; `vdX` in the guest), `sata` (`sdX`, any guest has a \
                     driver, cannot be added or removed while the VM runs) or `scsi` \
                     (virtio-scsi, `sdX`).",
                ),
            Attribute::string("device")
                .optional()
                .computed()
                .default(Value::from("disk"))
                .validator(one_of(DEVICES.iter().copied()))
                .description("`disk` (default) or `cdrom` (always read-only)."),
            Attribute::bool("readonly")
                .optional()
                .computed()
                .default(Value::Bool(false))
                .description("Whether the guest may only read the disk. Default: `false`."),
            Attribute::string("serial").optional().description(
                "The serial number the guest sees (1 to 20 letters, digits, `-`, `_`, `.`), \
                 e.g. for `/dev/disk/by-id`.",
            ),
            Attribute::string("format")
                .optional()
                .computed()
                .description(
                    "The volume's format, `raw` or `qcow2`; the volume's own format (as libvirt \
                 reports it) when omitted.",
                ),
            Attribute::string("target")
                .optional()
                .computed()
                .description(
                    "The device name (`vda`, `sdb`); the first free one on the bus when omitted.",
                ),
        ]);
        let interface = Block::new(
            "A network interface, on a libvirt network or a host bridge (one of the two).",
        )
        .attributes([
            Attribute::string("network")
                .optional()
                .description("A libvirt network of the hypervisor, e.g. `rack_network.farm.name`."),
            Attribute::string("bridge")
                .optional()
                .description("A bridge of the hypervisor host, e.g. `br0`."),
            Attribute::string("model")
                .optional()
                .computed()
                .default(Value::from("virtio"))
                .description("The NIC model: `virtio` (default), `e1000`, `rtl8139`, ..."),
            Attribute::string("mac").optional().computed().description(
                "The MAC address. When omitted it is derived from the VM's name and the \
                 interface's index, `provider::rack::mac_address(\"<name>/<index>\")`: known \
                 at plan time (e.g. for a `rack_dhcp_lease`) and the same after a \
                 replacement.",
            ),
            Attribute::list("ip_addresses", Type::String)
                .computed()
                .description(
                    "The interface's addresses (neither link-local nor loopback), from the \
                 source `wait_for_ip` names (leases when it is omitted).",
                ),
        ]);
        let graphics = Block::new("A graphical console (VNC or SPICE) on an automatic port.")
            .attributes([
                Attribute::string("type")
                    .required()
                    .validator(one_of(GRAPHICS.iter().copied()))
                    .description("`vnc` or `spice`."),
                Attribute::string("listen")
                    .optional()
                    .computed()
                    .description(
                        "The address it listens on; libvirt's default (`127.0.0.1` usually) when \
                     omitted.",
                    ),
                Attribute::string("password")
                    .optional()
                    .sensitive()
                    .write_only()
                    .description(
                        "The console password (at most 8 characters for VNC). Write-only: \
                         never stored in state; libvirt receives it when the VM is defined or \
                         redefined.",
                    ),
            ]);
        let cloud_init = Block::new(
            "A cloud-init NoCloud seed: an ISO image rack builds and stores as the volume \
             `<name>-cidata.iso`, attached as a read-only SATA CD-ROM. New texts are written \
             into it; a running VM is shut down gracefully and started again so that it reads \
             them (the plan warns). Texts that differ only in line endings, trailing blanks \
             or trailing empty lines are the same text: no change.",
        )
        .attributes([
            Attribute::string("pool").optional().computed().description(
                "The storage pool for the seed volume; the first disk's pool when omitted.",
            ),
            Attribute::string("user_data")
                .optional()
                .description("`user-data`, e.g. a `#cloud-config` document."),
            Attribute::string("meta_data").optional().description(
                "`meta-data` (YAML with `instance-id` and `local-hostname`); empty when omitted.",
            ),
            Attribute::string("network_config")
                .optional()
                .description("`network-config` (network configuration version 1 or 2)."),
            Attribute::string("vendor_data")
                .optional()
                .description("`vendor-data`."),
        ]);
        let wait = Block::new(
            "Waits after create (and after updates that start or restart the VM) until every \
             interface has an address that is neither link-local nor loopback, or fails \
             naming the interfaces without one and the sources tried. With source `lease`, \
             interfaces on a host bridge are not waited for, and a lease from an earlier \
             boot (dnsmasq keeps it for its lifetime) counts at once after a restart; the \
             agent answers only from the running guest.",
        )
        .attributes([
            Attribute::string("timeout")
                .optional()
                .computed()
                .default(Value::from(DEFAULT_WAIT_TIMEOUT))
                .validator(duration_check())
                .description("How long to wait, e.g. `2m`. Default: `5m`."),
            Attribute::string("source")
                .optional()
                .computed()
                .default(Value::from("any"))
                .validator(one_of(SOURCES.iter().copied()))
                .description(
                    "`lease` (the libvirt network's DHCP leases), `agent` (the QEMU guest \
                     agent; needs `qemu_guest_agent`) or `any` (the agent, then the leases; \
                     default).",
                ),
        ]);
        Schema::new(
            Block::new(
                "A virtual machine (libvirt domain) on a KVM hypervisor.\n\n\
                 Changed live, without a restart: `memory` up to `max_memory`, `vcpus` up to \
                 `max_vcpus`, adding or removing a virtio or scsi `disk` and any \
                 `network_interface`, `running`, `autostart`. Changed by a restart \
                 (graceful shutdown within `shutdown_timeout`, then forced; new definition; \
                 start), which the plan announces with a warning naming the attributes: \
                 the maximums, `type`, `machine`, `cpu_mode`, `firmware`, `boot`, the \
                 direct-boot kernel, `graphics`, the consoles, `qemu_guest_agent`, a sata \
                 disk, a changed disk or interface, and new cloud-init texts. Only `name` \
                 and `hypervisor` replace the VM.\n\n\
                 Drift: a VM shut down out of band shows as `running` changing back to \
                 `true`, changed memory as a change of `memory`, an undefined VM is created \
                 again. If the VM is defined but cannot start, the state records it with \
                 `running = false` next to the error. Destroy removes the definition and the \
                 cloud-init seed volume, and no other volume.\n\n\
                 Create finds a VM of that name already defined exactly as planned (e.g. by an \
                 apply whose request timed out) and takes it over: its cloud-init seed is \
                 written again, its autostart set, and it is started when `running`. A VM \
                 defined differently under that name is refused and left as it is.",
            )
            .attributes([
                Attribute::string("hypervisor")
                    .optional()
                    .computed()
                    .description(
                        "Name of a hypervisor in the provider's `hypervisors` map; the default \
                     hypervisor when omitted. Changing it replaces the VM.",
                    ),
                Attribute::string("name")
                    .required()
                    .requires_replace()
                    .description("The VM's name on the hypervisor. Changing it replaces the VM."),
                Attribute::string("type")
                    .optional()
                    .computed()
                    .default(Value::from("kvm"))
                    .validator(one_of(TYPES.iter().copied()))
                    .description(
                        "`kvm` (hardware virtualisation, default) or `qemu` (emulation: slow, \
                         needs no KVM).",
                    ),
                Attribute::number("vcpus")
                    .optional()
                    .computed()
                    .default(num_value(1))
                    .description("Virtual CPUs. Default: 1."),
                Attribute::number("max_vcpus").optional().description(
                    "The most vCPUs the VM can get without a restart; `vcpus` when omitted.",
                ),
                Attribute::string("memory").required().description(
                    "Memory with a unit: `512MiB`, `2GiB`, `1048576KiB` (KiB, MiB, GiB, TiB; \
                     KB, MB, GB, TB are powers of 1000; a bare number is MiB).",
                ),
                Attribute::string("max_memory").optional().description(
                    "The most memory the VM can get without a restart (the balloon's \
                     ceiling); `memory` when omitted.",
                ),
                Attribute::string("cpu_mode")
                    .optional()
                    .computed()
                    .validator(one_of(CPU_MODES.iter().copied()))
                    .description(
                        "`host-passthrough`, `host-model`, `maximum` or `custom`; libvirt's \
                         default when omitted.",
                    ),
                Attribute::string("machine")
                    .optional()
                    .computed()
                    .description(
                        "The machine type: `pc`, `q35`, or a versioned one such as \
                     `pc-q35-7.2`; libvirt's default when omitted. `pc` and `q35` match \
                     their versioned forms.",
                    ),
                Attribute::string("firmware")
                    .optional()
                    .computed()
                    .default(Value::from("bios"))
                    .validator(one_of(FIRMWARES.iter().copied()))
                    .description("`bios` (SeaBIOS, default) or `uefi` (OVMF, with its own NVRAM)."),
                Attribute::list("boot", Type::String)
                    .optional()
                    .computed()
                    .description(
                        "Boot order: `disk`, `network` (PXE from the first interface), `cdrom`; \
                     `[\"disk\"]` when omitted.",
                    ),
                Attribute::string("kernel").optional().description(
                    "Direct kernel boot: the kernel's absolute path on the hypervisor.",
                ),
                Attribute::string("initrd")
                    .optional()
                    .description("Direct kernel boot: the initramfs's path on the hypervisor."),
                Attribute::string("cmdline")
                    .optional()
                    .description("Direct kernel boot: the kernel command line."),
                bool_attr(
                    "serial_console",
                    true,
                    "A serial console (`virsh console`). Default: `true`.",
                ),
                Attribute::string("console_log").optional().description(
                    "A file on the hypervisor that receives everything the serial console \
                     prints, appended across starts (virtlogd rotates it).",
                ),
                bool_attr(
                    "qemu_guest_agent",
                    false,
                    "A virtio channel for the QEMU guest agent (addresses from the agent, \
                     fs-freeze). Default: `false`.",
                ),
                bool_attr(
                    "running",
                    true,
                    "Whether the VM runs; changed in place (graceful shutdown, forced after \
                     `shutdown_timeout`). Default: `true`.",
                ),
                bool_attr(
                    "autostart",
                    false,
                    "Whether libvirt starts the VM when its daemon starts. Default: `false`.",
                ),
                Attribute::string("shutdown_timeout")
                    .optional()
                    .computed()
                    .default(Value::from(DEFAULT_SHUTDOWN_TIMEOUT))
                    .validator(duration_check())
                    .description(
                        "How long a graceful shutdown (ACPI power button) may take before the \
                         VM is forced off. Default: `60s`.",
                    ),
                Attribute::string("uuid")
                    .computed()
                    .use_state_for_unknown()
                    .description("libvirt's UUID of the VM."),
                Attribute::string("id").computed().description(
                    "`<hypervisor>/<name>`: the import ID (the name or the UUID, alone for \
                     the default hypervisor).",
                ),
            ])
            .block(NestedBlock {
                name: "disk".into(),
                nesting: Nesting::List,
                block: disk,
                min_items: 0,
                max_items: 0,
            })
            .block(NestedBlock {
                name: "network_interface".into(),
                nesting: Nesting::List,
                block: interface,
                min_items: 0,
                max_items: 0,
            })
            .block(NestedBlock {
                name: "graphics".into(),
                nesting: Nesting::Single,
                block: graphics,
                min_items: 0,
                max_items: 0,
            })
            .block(NestedBlock {
                name: "cloud_init".into(),
                nesting: Nesting::Single,
                block: cloud_init,
                min_items: 0,
                max_items: 0,
            })
            .block(NestedBlock {
                name: "wait_for_ip".into(),
                nesting: Nesting::Single,
                block: wait,
                min_items: 0,
                max_items: 0,
            }),
        )
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        Some(IdentitySchema {
            version: 0,
            attributes: vec![
                IdentityAttribute::optional_string(
                    "hypervisor",
                    "Hypervisor name; the default hypervisor when omitted.",
                ),
                IdentityAttribute::required_string("name", "The VM's name."),
            ],
        })
    }

    async fn validate(&self, config: &Value, diags: &mut Diagnostics) {
        let mut errs = Vec::new();
        // Each memory size on its own, so that an unknown neighbour does not hide it.
        memory_of(config, "memory", &mut errs);
        memory_of(config, "max_memory", &mut errs);
        if errs.is_empty()
            && config.is_fully_known()
            && let Err(e) = spec_of(config, config)
        {
            errs = e;
        }
        for e in errs {
            diags.push(e);
        }
    }

    async fn modify_plan(
        &self,
        ctx: &Context,
        prior: &Value,
        config: &Value,
        plan: &mut PlannedChange,
    ) {
        if plan.planned.is_null() {
            return;
        }
        plan_default_hypervisor(ctx, &mut plan.planned);
        if let (Some(hv), Some(name)) = (
            str_attr(&plan.planned, "hypervisor"),
            str_attr(&plan.planned, "name"),
        ) {
            let id = vm_id(hv, name);
            obj_set(&mut plan.planned, "id", Value::from(id));
        }
        let mut replace = false;
        if !prior.is_null() {
            if str_attr(&plan.planned, "hypervisor") != str_attr(prior, "hypervisor") {
                plan.requires_replace
                    .push(AttributePath::attr("hypervisor"));
            }
            replace = !plan.requires_replace.is_empty()
                || str_attr(&plan.planned, "name") != str_attr(prior, "name");
        }
        if replace {
            obj_set(&mut plan.planned, "uuid", Value::Unknown);
            fill_planned(&mut plan.planned, &Value::Null, false);
            return;
        }
        // Is a restart coming? Then addresses are not known until after it.
        let mut restart: Vec<String> = Vec::new();
        let prior_running = boolean(prior, "running") == Some(true);
        if !prior.is_null() {
            let mut probe = plan.planned.clone();
            fill_planned(&mut probe, prior, true);
            if let (Ok(current), Ok(desired)) = (spec_of(prior, config), spec_of(&probe, config)) {
                let changes = plan_domain_update(&current, &desired);
                if changes.needs_restart() {
                    restart = restart_words(&changes.restart, config);
                }
            }
            if seed_change(prior, &probe) == (SeedChange::Rewrite { restart: true })
                && !restart.iter().any(|r| r == "cloud_init")
            {
                restart.push("cloud_init".to_owned());
            }
        }
        let want_running = boolean(&plan.planned, "running") != Some(false);
        if let Ok(hv) = hypervisor(ctx, str_attr(&plan.planned, "hypervisor")) {
            plan_formats(&hv.handle, &mut plan.planned).await;
            for e in check_limits(&hv.handle, &plan.planned).await {
                plan.diags.push(e);
            }
        }
        // Addresses stay known unless the guest starts, stops or restarts.
        fill_planned(
            &mut plan.planned,
            prior,
            restart.is_empty() && prior_running == want_running,
        );
        if !restart.is_empty() && prior_running && want_running {
            let name = str_attr(&plan.planned, "name").unwrap_or_default();
            plan.diags.push(Diagnostic::warning(
                format!("VM {name:?} will be restarted"),
                format!(
                    "Changing {} needs a restart: the VM is shut down gracefully (forced off \
                     after shutdown_timeout = {}), redefined and started again.",
                    restart.join(", "),
                    str_attr(&plan.planned, "shutdown_timeout").unwrap_or(DEFAULT_SHUTDOWN_TIMEOUT)
                ),
            ));
        }
        if seed_change(prior, &plan.planned) == (SeedChange::Rewrite { restart: false })
            && prior_running
        {
            plan.diags.push(Diagnostic::warning(
                "The cloud-init seed will be written without a restart",
                "The VM was imported, so the texts its seed holds are not known: rack writes \
                 the configured ones and leaves the VM running. The guest reads them at its \
                 next start (cloud-init runs per-instance modules again only for a new \
                 `instance-id`).",
            ));
        }
    }

    async fn create(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let planned = req.planned;
        let spec = match spec_of(&planned, &req.config) {
            Ok(s) => s,
            Err(errs) => return StateResult::failed(Value::Null, incomplete(errs, "VM")),
        };
        let hv = match hypervisor(ctx, str_attr(&planned, "hypervisor")) {
            Ok(h) => h,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        // Checked again here: the plan may have been made without the hypervisor.
        let beyond = check_limits(&hv.handle, &planned).await;
        if !beyond.is_empty() {
            return StateResult::failed(Value::Null, incomplete(beyond, "VM"));
        }
        let checked = check_volumes(&hv.handle, &spec, &Value::Null).await;
        if checked.has_errors() {
            return StateResult::failed(Value::Null, checked);
        }
        let mut spec = spec;
        if let Err(e) = apply_formats(&hv.handle, &mut spec).await {
            let d = libvirt_diag(&e, &format!("Reading the volumes of VM {:?}.", spec.name));
            return StateResult::failed(Value::Null, d);
        }
        let seed = seed_of(&planned);
        let created = match hv.handle.create_domain(&spec, seed.as_ref()).await {
            Ok(c) => c,
            Err(e) => {
                let d = libvirt_diag(
                    &e,
                    &format!("Creating VM {:?} on hypervisor {:?}.", spec.name, hv.name),
                );
                return StateResult::failed(Value::Null, d);
            }
        };
        if let Some(e) = &created.start_error {
            let mut out = result(&hv.name, &created.state, &planned, None);
            out.diags.push(libvirt_diag(
                e,
                &format!(
                    "VM {:?} is defined but did not start; the state records it with \
                     running = false, and the next apply starts it once the cause is fixed.",
                    spec.name
                ),
            ));
            return out;
        }
        finish(&hv.handle, &hv.name, &spec, &created.state, &planned, true).await
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let state = req.state;
        let Some(name) = str_attr(&state, "name").map(str::to_owned) else {
            return StateResult::failed(state, incomplete(Vec::new(), "VM"));
        };
        let hv = match hypervisor(ctx, str_attr(&state, "hypervisor")) {
            Ok(h) => h,
            Err(d) => return StateResult::failed(state, d),
        };
        match hv.handle.domain(&name).await {
            Ok(Some(now)) => {
                let addresses = if now.active {
                    let source = wait_of(&state).map_or(AddressSource::Lease, |(_, s)| s);
                    read_addresses(&hv.handle, &name, source).await
                } else {
                    Some(Addresses::new())
                };
                result(&hv.name, &now, &state, addresses.as_ref())
            }
            Ok(None) => StateResult::default(),
            Err(e) => {
                let d = libvirt_diag(
                    &e,
                    &format!("Reading VM {name:?} on hypervisor {:?}.", hv.name),
                );
                StateResult::failed(state, d)
            }
        }
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned, config) = (req.prior, req.planned, req.config);
        let desired = match spec_of(&planned, &config) {
            Ok(s) => s,
            Err(errs) => return StateResult::failed(prior, incomplete(errs, "VM")),
        };
        let hv = match hypervisor(ctx, str_attr(&planned, "hypervisor")) {
            Ok(h) => h,
            Err(d) => return StateResult::failed(prior, d),
        };
        let name = desired.name.clone();
        let timeout = shutdown_timeout(&planned);
        let fail = |e: &LibvirtError| {
            libvirt_diag(
                e,
                &format!("Updating VM {name:?} on hypervisor {:?}.", hv.name),
            )
        };
        let checked = check_volumes(&hv.handle, &desired, &prior).await;
        if checked.has_errors() {
            return StateResult::failed(prior, checked);
        }
        let mut desired = desired;
        if let Err(e) = apply_formats(&hv.handle, &mut desired).await {
            let d = libvirt_diag(&e, &format!("Reading the volumes of VM {name:?}."));
            return StateResult::failed(prior, d);
        }
        let seed = seed_of(&planned);
        let change = seed_change(&prior, &planned);
        if change != SeedChange::None
            && let (Some(seed), Some(pool)) = (&seed, &desired.cloud_init_pool)
        {
            if change == (SeedChange::Rewrite { restart: true }) {
                // The running guest holds the old image open: off, write, and the update
                // below starts it again.
                if let Err(e) = hv.handle.shutdown_domain(&name, timeout).await
                    && !matches!(e, LibvirtError::NotFound { .. })
                {
                    return after_failure(&hv.handle, &hv.name, &name, &prior, fail(&e)).await;
                }
            }
            if let Err(e) = hv.handle.write_cloud_init(&name, pool, seed).await {
                return after_failure(&hv.handle, &hv.name, &name, &prior, fail(&e)).await;
            }
        }
        let updated = match hv.handle.update_domain(&desired, timeout).await {
            Ok(u) => u,
            // Undefined by someone else since the refresh: define it again.
            Err(LibvirtError::NotFound { .. }) => {
                return match hv.handle.create_domain(&desired, seed.as_ref()).await {
                    Ok(c) => match &c.start_error {
                        Some(e) => {
                            let mut r = result(&hv.name, &c.state, &planned, None);
                            r.diags.push(fail(e));
                            r
                        }
                        None => {
                            finish(&hv.handle, &hv.name, &desired, &c.state, &planned, true).await
                        }
                    },
                    Err(e) => StateResult::failed(Value::Null, fail(&e)),
                };
            }
            Err(e) => return after_failure(&hv.handle, &hv.name, &name, &prior, fail(&e)).await,
        };
        // A seed taken out of the definition: its volume goes too.
        if let (None, Some(old_pool)) = (
            &desired.cloud_init_pool,
            single(&prior, "cloud_init").and_then(|c| str_attr(c, "pool")),
        ) && let Err(e) = hv.handle.delete_cloud_init(&name, old_pool).await
        {
            let mut r = result(&hv.name, &updated.state, &planned, None);
            r.diags.push(fail(&e));
            return r;
        }
        if let Some(e) = &updated.start_error {
            let mut r = result(&hv.name, &updated.state, &planned, None);
            r.diags.push(libvirt_diag(
                e,
                &format!(
                    "VM {name:?} is redefined but did not start; the state records it with \
                     running = false, and the next apply starts it once the cause is fixed."
                ),
            ));
            return r;
        }
        let started = updated.restarted
            || updated.plan.running == Some(true)
            || !updated.plan.attach_interfaces.is_empty()
            || change == (SeedChange::Rewrite { restart: true });
        finish(
            &hv.handle,
            &hv.name,
            &desired,
            &updated.state,
            &planned,
            started,
        )
        .await
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let prior = req.prior;
        let mut diags = Diagnostics::new();
        let Some(name) = str_attr(&prior, "name") else {
            return diags;
        };
        let hv = match hypervisor(ctx, str_attr(&prior, "hypervisor")) {
            Ok(h) => h,
            Err(d) => {
                diags.push(d);
                return diags;
            }
        };
        if let Err(e) = hv
            .handle
            .delete_domain(name, shutdown_timeout(&prior))
            .await
        {
            diags.push(libvirt_diag(
                &e,
                &format!("Deleting VM {name:?} on hypervisor {:?}.", hv.name),
            ));
        }
        diags
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let usage = "Use `<hypervisor>/<name>` or `<hypervisor>/<uuid>`, or the name or UUID \
                     alone for the default hypervisor.";
        let (hv_name, key) = match &req {
            ImportRequest::Id(id) => match split_import_id(id, 1) {
                Some((h, mut rest)) => (h, rest.remove(0)),
                None => {
                    return StateResult::failed(
                        Value::Null,
                        Diagnostic::error(format!("Invalid import ID {id:?}"), usage),
                    );
                }
            },
            ImportRequest::Identity(v) => (
                str_attr(v, "hypervisor").map(str::to_string),
                str_attr(v, "name").unwrap_or_default().to_string(),
            ),
        };
        let hv = match hypervisor(ctx, hv_name.as_deref()) {
            Ok(h) => h,
            Err(d) => return StateResult::failed(Value::Null, d),
        };
        let found = match hv.handle.domain_fresh(&key).await {
            Ok(Some(now)) => Ok(Some(now)),
            Ok(None) => hv
                .handle
                .refresh_domains()
                .await
                .map(|all| all.into_iter().find(|d| d.uuid.eq_ignore_ascii_case(&key))),
            Err(e) => Err(e),
        };
        match found {
            Ok(Some(now)) => {
                let addresses = if now.active {
                    read_addresses(&hv.handle, &now.name, AddressSource::Lease).await
                } else {
                    Some(Addresses::new())
                };
                result(&hv.name, &now, &Value::Null, addresses.as_ref())
            }
            Ok(None) => StateResult::failed(
                Value::Null,
                Diagnostic::error(
                    format!("No VM {key:?} on hypervisor {:?}", hv.name),
                    "Check the name or UUID (`virsh list --all --uuid --name` on the \
                     hypervisor lists them, and so does `terraform query` with a \
                     `list \"rack_vm\"` block) and the hypervisor.",
                ),
            ),
            Err(e) => StateResult::failed(
                Value::Null,
                libvirt_diag(&e, &format!("Reading VM {key:?} for import.")),
            ),
        }
    }
}

/// Fails, naming the disk, when a volume (or pool) that `spec` attaches and `prior` did
/// not does not exist: libvirt would define the VM and find out only at start.
async fn check_volumes(hv: &Hypervisor, spec: &DomainSpec, prior: &Value) -> Diagnostics {
    let mut diags = Diagnostics::new();
    let missing = match hv.missing_volumes(spec).await {
        Ok(m) => m,
        Err(e) => {
            diags.push(libvirt_diag(
                &e,
                &format!("Checking the volumes of VM {:?}.", spec.name),
            ));
            return diags;
        }
    };
    let before = items(prior, "disk");
    for (i, pool_exists) in missing {
        let Some(d) = spec.disks.get(i) else { continue };
        let attached = before.iter().any(|p| {
            str_attr(p, "pool") == Some(d.pool.as_str())
                && str_attr(p, "volume") == Some(d.volume.as_str())
        });
        if attached {
            continue;
        }
        let path = AttributePath::attr("disk").join_index(i);
        diags.push(if pool_exists {
            invalid(
                path.join_attr("volume"),
                format!("Volume {:?} does not exist in pool {:?}", d.volume, d.pool),
                "Create the volume first (a `rack_volume` this VM refers to is created \
                 before it), or fix the name; `virsh vol-list <pool>` on the hypervisor lists \
                 the pool's volumes. Nothing was changed.",
            )
        } else {
            invalid(
                path.join_attr("pool"),
                format!("Storage pool {:?} does not exist", d.pool),
                "Create the pool first, or fix the name; `virsh pool-list --all` on the \
                 hypervisor lists them. Nothing was changed.",
            )
        });
    }
    diags
}

/// After a failed update: the state is what libvirt holds, so the next plan starts from
/// the truth; `prior` when libvirt cannot be read either.
async fn after_failure(
    hv: &Hypervisor,
    hv_name: &str,
    name: &str,
    prior: &Value,
    d: Diagnostic,
) -> StateResult {
    match hv.domain_fresh(name).await {
        Ok(Some(now)) => {
            let mut r = result(hv_name, &now, prior, None);
            r.diags.push(d);
            r
        }
        Ok(None) => StateResult::failed(Value::Null, d),
        Err(_) => StateResult::failed(prior.clone(), d),
    }
}

/// The state after a create or update that went through: waits for addresses when
/// `wait_for_ip` asks and the VM was (re)started, else reads what is there.
async fn finish(
    hv: &Hypervisor,
    hv_name: &str,
    spec: &DomainSpec,
    now: &DomainState,
    planned: &Value,
    started: bool,
) -> StateResult {
    let wait = wait_of(planned);
    let addresses = match wait {
        Some((timeout, source)) if now.active && started => {
            match wait_for_ip(hv, spec, timeout, source).await {
                Ok(a) => Some(a),
                Err(d) => {
                    let mut r = result(hv_name, now, planned, Some(&Addresses::new()));
                    r.diags.push(d);
                    return r;
                }
            }
        }
        _ if !now.active => Some(Addresses::new()),
        Some((_, source)) => read_addresses(hv, &spec.name, source).await,
        None => read_addresses(hv, &spec.name, AddressSource::Lease).await,
    };
    result(hv_name, now, planned, Some(&addresses.unwrap_or_default()))
}

/// The state of one VM for the list resource: as import gives it.
pub(crate) fn listed_state(hv: &str, now: &DomainState) -> Option<Value> {
    state_of(hv, now, &Value::Null, None).ok()
}

/// The identity of a VM, for the list resource.
pub(crate) fn listed_identity(hv: &str, name: &str) -> Value {
    identity(hv, name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_are_checked_at_their_attribute() {
        let limits = GuestLimits {
            max_vcpus: 16,
            memory_kib: 8 << 20,
        };
        assert!(limit_errors(&config(vec![]), &limits).is_empty());
        let v = config(vec![
            ("memory", Value::from("99TiB")),
            ("max_memory", Value::from("8GiB")),
            ("vcpus", num_value(17)),
            ("max_vcpus", num_value(16)),
        ]);
        let paths: Vec<String> = limit_errors(&v, &limits)
            .iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect();
        assert_eq!(paths, ["memory", "vcpus"]);
    }

    fn config(pairs: Vec<(&str, Value)>) -> Value {
        let mut base: Vec<(&str, Value)> = vec![
            ("hypervisor", Value::from("kvm1")),
            ("name", Value::from("web1")),
            ("type", Value::from("qemu")),
            ("vcpus", num_value(1)),
            ("max_vcpus", Value::Null),
            ("memory", Value::from("256MiB")),
            ("max_memory", Value::Null),
            ("cpu_mode", Value::Null),
            ("machine", Value::Null),
            ("firmware", Value::from("bios")),
            ("boot", Value::Null),
            ("kernel", Value::Null),
            ("initrd", Value::Null),
            ("cmdline", Value::Null),
            ("disk", Value::List(vec![])),
            ("network_interface", Value::List(vec![])),
            ("graphics", Value::Null),
            ("serial_console", Value::Bool(true)),
            ("console_log", Value::Null),
            ("qemu_guest_agent", Value::Bool(false)),
            ("cloud_init", Value::Null),
            ("running", Value::Bool(true)),
            ("autostart", Value::Bool(false)),
            ("shutdown_timeout", Value::from("60s")),
            ("wait_for_ip", Value::Null),
            ("uuid", Value::Null),
            ("id", Value::Null),
        ];
        for (k, v) in pairs {
            base.retain(|(n, _)| *n != k);
            base.push((k, v));
        }
        Value::object(base)
    }

    fn iface(network: &str, mac: Option<&str>) -> Value {
        Value::object([
            ("network", Value::from(network)),
            ("bridge", Value::Null),
            ("model", Value::from("virtio")),
            ("mac", mac.map_or(Value::Unknown, Value::from)),
            ("ip_addresses", Value::Unknown),
        ])
    }

    fn disk(pool: &str, volume: &str) -> Value {
        Value::object([
            ("pool", Value::from(pool)),
            ("volume", Value::from(volume)),
            ("bus", Value::from("virtio")),
            ("device", Value::from("disk")),
            ("readonly", Value::Bool(false)),
            ("serial", Value::Null),
            ("format", Value::Unknown),
            ("target", Value::Unknown),
        ])
    }

    fn paths(errs: &[Diagnostic]) -> Vec<String> {
        errs.iter()
            .filter_map(|d| d.attribute.as_ref().map(ToString::to_string))
            .collect()
    }

    #[test]
    fn memory_texts() {
        assert_eq!(memory_text(2 << 20), "2GiB");
        assert_eq!(memory_text(512 << 10), "512MiB");
        assert_eq!(memory_text(1000), "1000KiB");
    }

    #[test]
    fn seed_texts_compare_without_trailing_blanks() {
        assert!(same_seed_text(
            "#cloud-config\nhostname: a\n",
            "#cloud-config\r\nhostname: a  \n\n\n"
        ));
        assert!(!same_seed_text("a: 1\n", "  a: 1\n"));
        assert!(!same_seed_text("a: 1\n", "a: 2\n"));
    }

    #[test]
    fn bad_input_points_at_the_attribute() {
        let cases = [
            (config(vec![("memory", Value::from("12XB"))]), "memory"),
            (
                config(vec![(
                    "network_interface",
                    Value::List(vec![
                        iface("farm", Some("52:54:00:00:00:01")),
                        iface("farm", Some("52:54:00:00:00:01")),
                    ]),
                )]),
                "network_interface[1].mac",
            ),
            (
                config(vec![(
                    "network_interface",
                    Value::List(vec![iface("farm", Some("nope"))]),
                )]),
                "network_interface[0].mac",
            ),
            (config(vec![("cmdline", Value::from("quiet"))]), "cmdline"),
            (
                config(vec![(
                    "cloud_init",
                    Value::object([
                        ("pool", Value::Null),
                        ("user_data", Value::from("#cloud-config\n")),
                        ("meta_data", Value::Null),
                        ("network_config", Value::Null),
                        ("vendor_data", Value::Null),
                    ]),
                )]),
                "cloud_init.pool",
            ),
        ];
        for (c, path) in cases {
            let errs = spec_of(&c, &c).unwrap_err();
            assert!(paths(&errs).contains(&path.to_string()), "{path}: {errs:?}");
        }
    }

    #[test]
    fn plan_fills_derived_macs_and_keeps_disk_facts() {
        let mut planned = config(vec![
            (
                "network_interface",
                Value::List(vec![iface("farm", None), iface("farm", None)]),
            ),
            (
                "disk",
                Value::List(vec![disk("p", "root"), disk("p", "data")]),
            ),
        ]);
        let mut prior = planned.clone();
        let mut prior_root = disk("p", "root");
        obj_set(&mut prior_root, "format", Value::from("qcow2"));
        obj_set(&mut prior_root, "target", Value::from("vda"));
        obj_set(&mut prior, "disk", Value::List(vec![prior_root]));
        obj_set(&mut prior, "network_interface", Value::List(vec![]));
        fill_planned(&mut planned, &prior, true);
        let ifaces = items(&planned, "network_interface");
        assert_eq!(
            str_attr(&ifaces[1], "mac"),
            Some(interface_mac("web1", 1).to_string().as_str())
        );
        let disks = items(&planned, "disk");
        assert_eq!(str_attr(&disks[0], "format"), Some("qcow2"));
        assert_eq!(str_attr(&disks[0], "target"), Some("vda"));
        assert!(disks[1].attr("format").is_some_and(Value::is_unknown));
        assert!(disks[1].attr("target").is_some_and(Value::is_unknown));
    }

    #[test]
    fn state_keeps_the_users_spelling_and_order() {
        let mut planned = config(vec![
            ("memory", Value::from("0.25GiB")),
            ("machine", Value::from("pc")),
            (
                "network_interface",
                Value::List(vec![iface("farm", Some("52-54-00-AA-00-01"))]),
            ),
            ("disk", Value::List(vec![disk("p", "b"), disk("p", "a")])),
        ]);
        obj_set(&mut planned, "memory", Value::from("262144KiB"));
        let mut spec = spec_of(&planned, &planned).unwrap();
        spec.machine = Some("pc-i440fx-7.2".into());
        // libvirt lists the hot-plugged disk last.
        spec.disks.reverse();
        let now = DomainState {
            name: "web1".into(),
            uuid: "u-1".into(),
            active: true,
            state: "running",
            persistent: true,
            autostart: false,
            live_memory_kib: None,
            live_vcpus: None,
            xml: String::new(),
            spec: Ok(spec),
        };
        let state = state_of("kvm1", &now, &planned, None).unwrap();
        assert_eq!(str_attr(&state, "memory"), Some("262144KiB"));
        assert_eq!(str_attr(&state, "machine"), Some("pc"));
        let disks = items(&state, "disk");
        assert_eq!(str_attr(&disks[0], "volume"), Some("b"));
        let ifaces = items(&state, "network_interface");
        assert_eq!(str_attr(&ifaces[0], "mac"), Some("52-54-00-AA-00-01"));
        assert_eq!(str_attr(&state, "id"), Some("kvm1/web1"));
        assert_eq!(state.attr("running"), Some(&Value::Bool(true)));
    }

    #[test]
    fn restart_reasons_read_as_the_configuration() {
        let words = restart_words(&["max_memory", "kernel", "boot"], &config(vec![]));
        assert!(words[0].starts_with("memory (beyond"), "{words:?}");
        assert_eq!(words[1], "kernel, initrd or cmdline");
        assert_eq!(words[2], "boot");
    }
}
