//! The `rack_vm` schema and identity.

use super::*;

pub(super) fn bool_attr(name: &str, default: bool, description: &str) -> Attribute {
    Attribute::bool(name)
        .optional()
        .computed()
        .default(Value::Bool(default))
        .description(description)
}

/// The resource's schema.
pub(super) fn schema() -> Schema {
    let disk = Block::new("A disk: a volume of a storage pool of the hypervisor.").attributes([
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
    let interface =
        Block::new("A network interface, on a libvirt network or a host bridge (one of the two).")
            .attributes([
                Attribute::string("network").optional().description(
                    "A libvirt network of the hypervisor, e.g. `rack_network.farm.name`.",
                ),
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
         agent answers only from the running guest. Where libvirt hands out no address \
         (a network without DHCP, served by a DHCP server elsewhere), the active leases \
         of the Kea servers in the provider's `dhcp` block answer for the interface's MAC \
         address (`lease4-get-by-hw-address`), with sources `lease`, `any` and `dhcp`.",
    )
    .attributes([
        Attribute::string("timeout")
            .optional()
            .computed()
            .default(Value::from(DEFAULT_WAIT_TIMEOUT))
            .validator(duration_validator(
                "A duration such as `30s`, `2m` or `1h`.",
            ))
            .description("How long to wait, e.g. `2m`. Default: `5m`."),
        Attribute::string("source")
            .optional()
            .computed()
            .default(Value::from("any"))
            .validator(one_of(SOURCES.iter().copied()))
            .description(
                "`lease` (the libvirt network's DHCP leases, then the Kea servers' active \
                 leases), `agent` (the QEMU guest agent; needs `qemu_guest_agent`), `dhcp` \
                 (only the active leases of the Kea servers in the provider's `dhcp` \
                 block) or `any` (the agent, then the leases; default).",
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
            hypervisor_attribute("VM"),
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
            Attribute::string("kernel")
                .optional()
                .description("Direct kernel boot: the kernel's absolute path on the hypervisor."),
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
                .validator(duration_validator(
                    "A duration such as `30s`, `2m` or `1h`.",
                ))
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

/// The resource's identity: the hypervisor and the VM's name.
pub(super) fn identity_schema() -> Option<IdentitySchema> {
    super::super::shared::identity_schema(&[("name", "The VM's name.")])
}
