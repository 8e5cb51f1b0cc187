//! What create and update do besides defining the domain: waiting for addresses, checking
//! the volumes a VM attaches, and finishing (or undoing) an apply.

use super::*;

// ---- Addresses ----------------------------------------------------------------------

/// The routable addresses of every interface of `now`, from `source`, and from the DHCP
/// servers' leases in `book` for those libvirt knows none of (read once per server per
/// provider process); `None` when they cannot be read (no agent, VM off), which keeps
/// the prior addresses.
pub(super) async fn read_addresses(
    hv: &Hypervisor,
    now: &DomainState,
    source: AddressSource,
    book: Option<&LeaseBook>,
) -> Option<Addresses> {
    let macs: Vec<MacAddress> = now.spec.as_ref().map_or_else(
        |_| Vec::new(),
        |spec| {
            spec.resolved_interfaces()
                .into_iter()
                .filter_map(|i| i.mac)
                .collect()
        },
    );
    let book = book.map(|b| b as &dyn AddressBook);
    let found = hv
        .domain_addresses_also(&now.name, source, book, &macs, false)
        .await
        .ok()?;
    Some(addresses_of(&found))
}

/// The routable addresses in `found`, by MAC address.
fn addresses_of(found: &[GuestInterface]) -> Addresses {
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
    out
}

pub(super) fn source_words(source: AddressSource, book: Option<&LeaseBook>) -> String {
    let libvirt = match source {
        AddressSource::Lease => "the DHCP leases of the libvirt network",
        AddressSource::Agent => "the QEMU guest agent",
        AddressSource::Dhcp => "",
        _ => "the QEMU guest agent, then the DHCP leases of the libvirt network",
    };
    match book.filter(|b| !b.is_empty() && source != AddressSource::Agent) {
        Some(b) if libvirt.is_empty() => b.describe(),
        Some(b) => format!("{libvirt}, then {}", b.describe()),
        None if libvirt.is_empty() => "no DHCP server (the provider configures none outside \
                                       libvirt)"
            .to_owned(),
        None => libvirt.to_owned(),
    }
}

/// Waits as `wait_for_ip` says for every interface (with source `lease`, every interface
/// on a libvirt network: a host bridge has no lease libvirt knows of).
pub(super) async fn wait_for_ip(
    hv: &Hypervisor,
    spec: &DomainSpec,
    timeout: Duration,
    source: AddressSource,
    book: Option<&LeaseBook>,
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
    let asked = book
        .filter(|b| !b.is_empty())
        .map(|b| b as &dyn AddressBook);
    match hv
        .wait_for_addresses_also(&spec.name, &wanted, source, timeout, asked)
        .await
    {
        Ok(found) => Ok(addresses_of(&found)),
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
                     boots and runs a DHCP client (lease: on a libvirt network with DHCP; \
                     dhcp: on a network a DHCP server of the provider's `dhcp` block \
                     serves), or the QEMU guest agent (agent: `qemu_guest_agent = true` and \
                     qemu-guest-agent in the guest); or raise wait_for_ip.timeout. The VM \
                     exists and stays as it is.",
                    source_words(source, book)
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

// ---- Apply ---------------------------------------------------------------------------

/// Fails, naming the disk, when a volume (or pool) that `spec` attaches and `prior` did
/// not does not exist: libvirt would define the VM and find out only at start.
pub(super) async fn check_volumes(
    hv: &Hypervisor,
    spec: &DomainSpec,
    prior: &Value,
) -> Result<(), Diagnostics> {
    let missing = hv
        .missing_volumes(spec)
        .await
        .map_err(|e| libvirt_diag(&e, &format!("Checking the volumes of VM {:?}.", spec.name)))?;
    let mut diags = Diagnostics::new();
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
    if diags.is_empty() { Ok(()) } else { Err(diags) }
}

/// [`check_limits`] at apply: memory or vCPUs beyond the hypervisor's limits fail it.
pub(super) async fn within_limits(hv: &Hypervisor, planned: &Value) -> Result<(), Diagnostics> {
    let beyond = check_limits(hv, planned).await;
    if beyond.is_empty() {
        Ok(())
    } else {
        Err(incomplete(beyond, "VM"))
    }
}

/// After a failed update: the state is what libvirt holds, so the next plan starts from
/// the truth; `prior` when libvirt cannot be read either.
pub(super) async fn after_failure(
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
pub(super) async fn finish(
    hv: &Hypervisor,
    hv_name: &str,
    spec: &DomainSpec,
    now: &DomainState,
    planned: &Value,
    started: bool,
    book: Option<&LeaseBook>,
) -> StateResult {
    let wait = wait_of(planned);
    let addresses = match wait {
        Some((timeout, source)) if now.active && started => {
            match wait_for_ip(hv, spec, timeout, source, book).await {
                Ok(a) => Some(a),
                Err(d) => {
                    let mut r = result(hv_name, now, planned, Some(&Addresses::new()));
                    r.diags.push(d);
                    return r;
                }
            }
        }
        _ if !now.active => Some(Addresses::new()),
        Some((_, source)) => read_addresses(hv, now, source, book).await,
        None => read_addresses(hv, now, AddressSource::Lease, book).await,
    };
    result(hv_name, now, planned, Some(&addresses.unwrap_or_default()))
}

/// Changes the VM to `desired` (its volumes checked, their formats filled), as `planned`
/// over `prior` asks: the cloud-init seed written first (the guest shut down when it must
/// see new texts), then the definition, memory, devices and power state; a VM undefined
/// by someone else since the refresh is defined again.
pub(super) async fn update_in_place(
    hv: &NamedHypervisor,
    desired: &DomainSpec,
    prior: &Value,
    planned: &Value,
    book: Option<&LeaseBook>,
) -> StateResult {
    let name = &desired.name;
    let timeout = shutdown_timeout(planned);
    let fail = |e: &LibvirtError| {
        libvirt_diag(
            e,
            &format!("Updating VM {name:?} on hypervisor {:?}.", hv.name),
        )
    };
    let seed = seed_of(planned);
    let change = seed_change(prior, planned);
    if change != SeedChange::None
        && let (Some(seed), Some(pool)) = (&seed, &desired.cloud_init_pool)
    {
        if change == (SeedChange::Rewrite { restart: true }) {
            // The running guest holds the old image open: off, write, and the update
            // below starts it again.
            if let Err(e) = hv.handle.shutdown_domain(name, timeout).await
                && !matches!(e, LibvirtError::NotFound { .. })
            {
                return after_failure(&hv.handle, &hv.name, name, prior, fail(&e)).await;
            }
        }
        if let Err(e) = hv.handle.write_cloud_init(name, pool, seed).await {
            return after_failure(&hv.handle, &hv.name, name, prior, fail(&e)).await;
        }
    }
    let updated = match hv.handle.update_domain(desired, timeout).await {
        Ok(u) => u,
        // Undefined by someone else since the refresh: define it again.
        Err(LibvirtError::NotFound { .. }) => {
            return match hv.handle.create_domain(desired, seed.as_ref()).await {
                Ok(c) => match &c.start_error {
                    Some(e) => {
                        let mut r = result(&hv.name, &c.state, planned, None);
                        r.diags.push(fail(e));
                        r
                    }
                    None => {
                        finish(&hv.handle, &hv.name, desired, &c.state, planned, true, book).await
                    }
                },
                Err(e) => StateResult::failed(Value::Null, fail(&e)),
            };
        }
        Err(e) => return after_failure(&hv.handle, &hv.name, name, prior, fail(&e)).await,
    };
    // A seed taken out of the definition: its volume goes too.
    if let (None, Some(old_pool)) = (
        &desired.cloud_init_pool,
        single(prior, "cloud_init").and_then(|c| str_attr(c, "pool")),
    ) && let Err(e) = hv.handle.delete_cloud_init(name, old_pool).await
    {
        let mut r = result(&hv.name, &updated.state, planned, None);
        r.diags.push(fail(&e));
        return r;
    }
    if let Some(e) = &updated.start_error {
        let mut r = result(&hv.name, &updated.state, planned, None);
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
        desired,
        &updated.state,
        planned,
        started,
        book,
    )
    .await
}

/// The state of one VM for the list resource: as import gives it.
pub(crate) fn listed_state(hv: &str, now: &DomainState) -> Option<Value> {
    state_of(hv, now, &Value::Null, None).ok()
}

/// The identity of a VM, for the list resource.
pub(crate) fn listed_identity(hv: &str, name: &str) -> Value {
    identity(hv, name)
}
