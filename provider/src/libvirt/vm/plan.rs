//! Planning a VM: restart reasons, derived values filled in, seed pools and disk formats.

use super::*;

// ---- Plan ---------------------------------------------------------------------------

/// The attribute names the restart reasons of core stand for in this resource.
pub(super) fn restart_words(attrs: &[&'static str], config: &Value) -> Vec<String> {
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
pub(super) fn fill_planned(planned: &mut Value, prior: &Value, keep_addresses: bool) {
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
pub(super) fn fill_seed_pool(planned: &mut Value) {
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
pub(super) async fn plan_formats(hv: &Hypervisor, planned: &mut Value) {
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
pub(super) async fn apply_formats(
    hv: &Hypervisor,
    spec: &mut DomainSpec,
) -> Result<(), LibvirtError> {
    for d in spec.disks.iter_mut().filter(|d| d.format.is_none()) {
        if let Some(v) = hv.volume_fresh(&d.pool, &d.volume).await? {
            d.format = Some(v.format.unwrap_or_else(|| "raw".to_owned()));
        }
    }
    Ok(())
}

/// Whether the seed of `planned` must be written over the one of `prior`, and whether
/// the guest already uses a seed that it would then have to be restarted to see.
pub(super) fn seed_change(prior: &Value, planned: &Value) -> SeedChange {
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
pub(super) enum SeedChange {
    /// Nothing to write.
    None,
    /// A seed the VM did not have (or in another pool): written before the redefinition
    /// that attaches it.
    New,
    /// New texts for the seed the VM has: a running guest needs a restart to see them.
    Rewrite { restart: bool },
}
