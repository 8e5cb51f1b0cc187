//! What a change to a VM needs: live, a restart, or replacement (see the module
//! documentation of `domain`). Pure: no I/O.

use super::spec::{DiskSpec, DomainSpec, InterfaceSpec};

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

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::super::fixtures::full;
    use super::super::spec::{
        BootDevice, DiskBus, Firmware, assign_targets, disk_letters, interface_mac,
    };
    use super::*;

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
