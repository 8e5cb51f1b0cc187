//! The operations on the VMs of a [`Hypervisor`]: listing, reading, creating, updating,
//! power, addresses, deleting, and the cloud-init seed.

use std::collections::BTreeSet;
use std::fmt;
use std::net::IpAddr;
use std::time::{Duration, Instant};

use virt::domain::Domain;
use virt::sys;

use super::plan::{DomainUpdatePlan, plan_domain_update};
use super::seed_volume;
use super::spec::{DomainSpec, DomainSpecError, assign_targets, cloud_init_volume_name};
use super::xml::{disk_xml, domain_xml, interface_xml, parse_domain_xml, redefinition_xml};
use crate::cloudinit::CloudInit;

use crate::libvirt::connection::not_found;
use crate::libvirt::connection::{Hypervisor, Link, listed_kind};
use crate::libvirt::error::{LibvirtError, ObjectKind, missing_as_none};
use crate::libvirt::xml::Element;
use crate::net::MacAddress;
use virt::error::ErrorNumber;

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
    let found = link.conn().lookup_domain_by_name(name);
    missing_as_none(found, ErrorNumber::NoDomain)
        .map_err(|e| link.fail(format!("look up VM {name:?}"), e))
}

fn require(link: &Link<'_>, name: &str) -> Result<Domain, LibvirtError> {
    lookup(link, name)?.ok_or_else(|| not_found(link, ObjectKind::Domain, name.to_owned()))
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
        return not_found(link, ObjectKind::Network, network);
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
    /// Only the [`AddressBook`] given with the read: the active leases of DHCP servers
    /// outside libvirt.
    Dhcp,
}

/// Addresses of guest interfaces known outside libvirt, by MAC address: the active leases
/// of the DHCP servers that serve networks libvirt hands out no addresses on.
#[async_trait::async_trait]
pub trait AddressBook: Send + Sync {
    /// The addresses of those of `macs` it knows: `fresh` asks the servers now (while
    /// waiting for a guest), otherwise a read per server per process may answer.
    async fn addresses(&self, macs: &[MacAddress], fresh: bool) -> Vec<GuestInterface>;
    /// What it asks, for messages: e.g. `the active leases of DHCP server "kea1"`.
    fn describe(&self) -> String;
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

listed_kind!(
    DomainState,
    Domain,
    list: "list VMs",
    noun: "VM",
    plural: "VMs",
    list_all: list_all_domains,
    lookup: lookup,
    read: read_state,
    cache: domain_cache,
    methods: domains, refresh_domains, domain, domain_fresh,
);

impl Hypervisor {
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
                AddressSource::Dhcp => Vec::new(),
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
        self.wait_for_addresses_also(name, macs, source, timeout, None)
            .await
    }

    /// [`Self::domain_addresses`], and for the interfaces without a routable address
    /// there, what `book` knows of their MAC addresses (unless the source is the agent
    /// alone). `fresh` as [`AddressBook::addresses`] takes it.
    pub async fn domain_addresses_also(
        &self,
        name: &str,
        source: AddressSource,
        book: Option<&dyn AddressBook>,
        macs: &[MacAddress],
        fresh: bool,
    ) -> Result<Vec<GuestInterface>, LibvirtError> {
        let mut found = match source {
            AddressSource::Dhcp => Vec::new(),
            _ => self.domain_addresses(name, source).await?,
        };
        if let Some(book) = book
            && source != AddressSource::Agent
        {
            let missing: Vec<MacAddress> = macs
                .iter()
                .filter(|m| !has_routable(&found, **m))
                .copied()
                .collect();
            if !missing.is_empty() {
                found.retain(|i| i.mac.is_none_or(|m| !missing.contains(&m)));
                found.extend(book.addresses(&missing, fresh).await);
            }
        }
        Ok(found)
    }

    /// [`Self::wait_for_addresses`], asking `book` as well (see
    /// [`Self::domain_addresses_also`]); with [`AddressSource::Dhcp`], `book` alone.
    pub async fn wait_for_addresses_also(
        &self,
        name: &str,
        macs: &[MacAddress],
        source: AddressSource,
        timeout: Duration,
        book: Option<&dyn AddressBook>,
    ) -> Result<Vec<GuestInterface>, LibvirtError> {
        let started = Instant::now();
        loop {
            let found = match self
                .domain_addresses_also(name, source, book, macs, true)
                .await
            {
                Ok(f) => f,
                // The agent is not up yet.
                Err(_) if source != AddressSource::Lease && started.elapsed() < timeout => {
                    match book {
                        Some(book) if source != AddressSource::Agent => {
                            book.addresses(macs, true).await
                        }
                        _ => Vec::new(),
                    }
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
                let from = match book {
                    Some(book) if source != AddressSource::Agent => {
                        format!("{source}, {}", book.describe())
                    }
                    _ => source.to_string(),
                };
                return Err(LibvirtError::NoAddress {
                    name: name.to_owned(),
                    from,
                    missing,
                    waited: started.elapsed(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

/// Whether `found` has a routable address for `mac`.
fn has_routable(found: &[GuestInterface], mac: MacAddress) -> bool {
    found
        .iter()
        .any(|i| i.mac == Some(mac) && i.addresses.iter().any(|(ip, _)| routable(*ip)))
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
            Self::Dhcp => "dhcp",
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
}
