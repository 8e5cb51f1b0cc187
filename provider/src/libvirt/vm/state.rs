//! The core model back into state: what the hypervisor reports, in the order and
//! spelling of the prior state or plan where it means the same.

use super::*;

// ---- Core model -> state ------------------------------------------------------------

/// The addresses of each interface by MAC, routable ones only.
pub(super) type Addresses = BTreeMap<MacAddress, Vec<IpAddr>>;

/// Orders `now` like `prior` (by `key`), the rest after in their own order: libvirt
/// lists hot-plugged devices last, the configuration may have them anywhere.
pub(super) fn ordered_like<T: Clone, K: PartialEq>(
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
pub(super) fn keep_if(
    prior: &Value,
    attr: &str,
    now: Value,
    same: impl Fn(&str, &Value) -> bool,
) -> Value {
    match str_attr(prior, attr) {
        Some(p) if same(p, &now) => Value::from(p),
        _ => now,
    }
}

pub(super) fn disk_value(d: &DiskSpec, prior: Option<&Value>) -> Value {
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

pub(super) fn interface_value(
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
pub(super) fn state_of(
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
        ("id", Value::from(object_id(hv, &spec.name))),
    ]))
}

/// The result of an operation that found the VM `now`: its state over `prior` with its
/// identity, or `prior` with the error when the VM cannot be managed by rack.
pub(super) fn result(
    hv: &str,
    now: &DomainState,
    prior: &Value,
    addresses: Option<&Addresses>,
) -> StateResult {
    object_result(hv, &now.name, state_of(hv, now, prior, addresses), prior)
}
