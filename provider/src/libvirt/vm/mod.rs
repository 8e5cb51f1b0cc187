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
use rack_core::dhcp::LeaseBook;
use rack_core::libvirt::{AddressBook, GuestInterface};
use rack_core::libvirt::{
    AddressSource, BootDevice, DirectBoot, DiskBus, DiskDevice, DiskSpec, DomainSpec,
    DomainSpecError, DomainState, DomainType, Firmware, GraphicsKind, GraphicsSpec, GuestLimits,
    Hypervisor, InterfaceSource, InterfaceSpec, LibvirtError, interface_mac, machine_matches,
    parse_memory_kib, plan_domain_update, routable,
};
use rack_core::net::MacAddress;

use super::shared::{
    Placement, apply_target, delete_object, hypervisor, hypervisor_attribute, identity,
    libvirt_diag, object_id, object_result, plan_placement, read_object,
    replace_on_hypervisor_change, split_import_id,
};
use crate::config;
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::attrs::{incomplete, obj_set, str_attr};
use crate::framework::plan::PlannedChange;
use crate::framework::schema::{Attribute, Block, IdentitySchema, NestedBlock, Nesting, Schema};
use crate::framework::timeouts::{duration_validator, parse_duration};
use crate::framework::typed;
use crate::framework::validate::one_of;
use crate::framework::{
    ApplyRequest, AttributePath, Context, DeleteRequest, Diagnostic, Diagnostics, ImportRequest,
    PlanRequest, ReadRequest, Resource, StateResult,
};
use crate::protocol::value::{Number, Type, Value};

/// The resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct Vm;

/// The active leases of the DHCP servers the provider configures outside libvirt, where
/// `wait_for_ip` and refreshes also find a VM's addresses (none when the provider has no
/// such server).
fn lease_book(ctx: &Context) -> Option<std::sync::Arc<LeaseBook>> {
    config::clients::<LeaseBook>(ctx)
        .ok()
        .filter(|b| !b.is_empty())
}

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
const SOURCES: &[&str] = &["lease", "agent", "any", "dhcp"];
const CPU_MODES: &[&str] = &["host-passthrough", "host-model", "maximum", "custom"];
const SEED_FILES: &[&str] = &["user_data", "meta_data", "network_config", "vendor_data"];

mod apply;
mod model;
mod plan;
mod schema;
mod state;
#[cfg(test)]
mod tests;

use apply::*;
pub(crate) use apply::{listed_identity, listed_state};
use model::*;
pub use model::{memory_text, same_seed_text};
use plan::*;
use state::*;

#[async_trait]
impl Resource for Vm {
    fn type_name(&self) -> &'static str {
        "rack_vm"
    }

    fn schema(&self) -> Schema {
        schema::schema()
    }

    fn identity_schema(&self) -> Option<IdentitySchema> {
        schema::identity_schema()
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

    async fn modify_plan(&self, ctx: &Context, req: PlanRequest<'_>, plan: &mut PlannedChange) {
        let prior = req.prior;
        let config = req.config;
        plan_placement(ctx, &mut plan.planned, &["name"]);
        let mut replace = false;
        if !prior.is_null() {
            replace_on_hypervisor_change(prior, plan);
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
        let created = async {
            let (mut spec, hv) = apply_target(
                ctx,
                str_attr(&planned, "hypervisor"),
                spec_of(&planned, &req.config),
                "VM",
            )?;
            // Checked again here: the plan may have been made without the hypervisor.
            within_limits(&hv.handle, &planned).await?;
            check_volumes(&hv.handle, &spec, &Value::Null).await?;
            apply_formats(&hv.handle, &mut spec).await.map_err(|e| {
                libvirt_diag(&e, &format!("Reading the volumes of VM {:?}.", spec.name))
            })?;
            let seed = seed_of(&planned);
            let created = hv
                .handle
                .create_domain(&spec, seed.as_ref())
                .await
                .map_err(|e| {
                    libvirt_diag(
                        &e,
                        &format!("Creating VM {:?} on hypervisor {:?}.", spec.name, hv.name),
                    )
                })?;
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
                return Ok(out);
            }
            let book = lease_book(ctx);
            Ok(finish(
                &hv.handle,
                &hv.name,
                &spec,
                &created.state,
                &planned,
                true,
                book.as_deref(),
            )
            .await)
        };
        StateResult::or_failed(created.await, Value::Null)
    }

    async fn read(&self, ctx: &Context, req: ReadRequest) -> StateResult {
        let source = wait_of(&req.state).map_or(AddressSource::Lease, |(_, s)| s);
        let book = lease_book(ctx);
        let fetch = |hv: Hypervisor, name: String| async move {
            let Some(now) = hv.domain(&name).await? else {
                return Ok(None);
            };
            let addresses = if now.active {
                read_addresses(&hv, &now, source, book.as_deref()).await
            } else {
                Some(Addresses::new())
            };
            Ok::<_, LibvirtError>(Some((now, addresses)))
        };
        let to_state =
            |hv: &str, (now, addresses): &(DomainState, Option<Addresses>), state: &Value| {
                result(hv, now, state, addresses.as_ref())
            };
        read_object(ctx, req.state, "VM", fetch, to_state).await
    }

    async fn update(&self, ctx: &Context, req: ApplyRequest) -> StateResult {
        let (prior, planned, config) = (req.prior, req.planned, req.config);
        let updated = async {
            let (mut desired, hv) = apply_target(
                ctx,
                str_attr(&planned, "hypervisor"),
                spec_of(&planned, &config),
                "VM",
            )?;
            let name = desired.name.clone();
            check_volumes(&hv.handle, &desired, &prior).await?;
            apply_formats(&hv.handle, &mut desired)
                .await
                .map_err(|e| libvirt_diag(&e, &format!("Reading the volumes of VM {name:?}.")))?;
            let book = lease_book(ctx);
            Ok(update_in_place(&hv, &desired, &prior, &planned, book.as_deref()).await)
        };
        let out = updated.await;
        StateResult::or_failed(out, prior)
    }

    async fn delete(&self, ctx: &Context, req: DeleteRequest) -> Diagnostics {
        let timeout = shutdown_timeout(&req.prior);
        let delete = |hv: Hypervisor, name: String| async move {
            hv.delete_domain(&name, timeout).await.map(|_| ())
        };
        delete_object(ctx, &req.prior, "VM", "", delete).await
    }

    async fn import(&self, ctx: &Context, req: ImportRequest) -> StateResult {
        let imported = async {
            let (hv_name, key) = import_key(&req)?;
            let hv = hypervisor(ctx, hv_name.as_deref())?;
            let found = match hv.handle.domain_fresh(&key).await {
                Ok(None) => hv
                    .handle
                    .refresh_domains()
                    .await
                    .map(|all| all.into_iter().find(|d| d.uuid.eq_ignore_ascii_case(&key))),
                other => other,
            };
            let now = found
                .map_err(|e| libvirt_diag(&e, &format!("Reading VM {key:?} for import.")))?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No VM {key:?} on hypervisor {:?}", hv.name),
                        "Check the name or UUID (`virsh list --all --uuid --name` on the \
                         hypervisor lists them, and so does `terraform query` with a \
                         `list \"rack_vm\"` block) and the hypervisor.",
                    )
                })?;
            let addresses = if now.active {
                let book = lease_book(ctx);
                read_addresses(&hv.handle, &now, AddressSource::Lease, book.as_deref()).await
            } else {
                Some(Addresses::new())
            };
            Ok(result(&hv.name, &now, &Value::Null, addresses.as_ref()))
        };
        StateResult::or_failed(imported.await, Value::Null)
    }
}

/// How an import ID names a VM.
const IMPORT_USAGE: &str = "Use `<hypervisor>/<name>` or `<hypervisor>/<uuid>`, or the name or \
                            UUID alone for the default hypervisor.";

/// What an import names: the hypervisor (the default one when `None`) and the VM's name or
/// UUID.
fn import_key(req: &ImportRequest) -> Result<(Option<String>, String), Diagnostic> {
    match req {
        ImportRequest::Id(id) => {
            let (hv, mut rest) = split_import_id(id, 1)
                .ok_or_else(|| Diagnostic::invalid_import_id(id, IMPORT_USAGE))?;
            Ok((hv, rest.remove(0)))
        }
        ImportRequest::Identity(v) => {
            let Placement { hypervisor, name } = typed::from_value(v)?;
            Ok((hypervisor, name.unwrap_or_default()))
        }
    }
}
