//! The operations on the storage pools of a [`Hypervisor`].

use virt::storage_pool::StoragePool;
use virt::sys;

use super::plan::plan_pool_update;
use super::spec::{PoolKind, PoolSpec, PoolSpecError};
use super::xml::{parse_pool_xml, pool_xml};

use crate::libvirt::connection::not_found;
use crate::libvirt::connection::{Hypervisor, Link, listed_kind};
use crate::libvirt::error::{LibvirtError, ObjectKind, missing_as_none};
use virt::error::ErrorNumber;

/// A storage pool as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PoolState {
    /// The pool's name.
    pub name: String,
    /// libvirt's UUID.
    pub uuid: String,
    /// Whether it runs (its volumes can be used).
    pub active: bool,
    /// Whether it has a persistent definition.
    pub persistent: bool,
    /// Whether libvirt starts it when the daemon starts.
    pub autostart: bool,
    /// Size of the underlying storage, in bytes (0 when inactive).
    pub capacity: u64,
    /// Bytes allocated to volumes (0 when inactive).
    pub allocation: u64,
    /// Bytes free for new volumes (0 when inactive).
    pub available: u64,
    /// The XML libvirt reports.
    pub xml: String,
    /// The model read from [`Self::xml`], or why rack cannot model this pool.
    pub spec: Result<PoolSpec, PoolSpecError>,
}

/// Reads one pool's state (on the connection's thread).
pub(crate) fn read_pool(link: &Link<'_>, pool: &StoragePool) -> Result<PoolState, LibvirtError> {
    let name = pool
        .name()
        .map_err(|e| link.fail("read the name of a storage pool", e))?;
    let action = || format!("read storage pool {name:?}");
    let fail = |e| pool_error(link, action(), &name, e);
    let uuid = pool.uuid_string().map_err(fail)?;
    let active = pool.is_active().map_err(fail)?;
    let persistent = pool.is_persistent().map_err(fail)?;
    let autostart = persistent && pool.autostart().map_err(fail)?;
    let info = pool.info().map_err(fail)?;
    let xml = pool.xml_desc(0).map_err(fail)?;
    let spec = parse_pool_xml(&xml, autostart);
    Ok(PoolState {
        name,
        uuid,
        active,
        persistent,
        autostart,
        capacity: info.capacity,
        allocation: info.allocation,
        available: info.available,
        xml,
        spec,
    })
}

/// Maps a libvirt error about pool `name` to a [`LibvirtError`]: a pool that vanished is
/// [`LibvirtError::NotFound`], everything else goes through the common classification.
pub(crate) fn pool_error(
    link: &Link<'_>,
    action: String,
    name: &str,
    e: virt::error::Error,
) -> LibvirtError {
    if e.code().is(virt::error::ErrorNumber::NoStoragePool) {
        return not_found(link, ObjectKind::StoragePool, name.to_owned());
    }
    link.fail(action, e)
}

/// Maps a failure to build or start pool `spec` to the error that names its storage:
/// a missing or unwritable directory, a missing volume group or device.
fn storage_error(
    link: &Link<'_>,
    action: String,
    spec: &PoolSpec,
    e: virt::error::Error,
) -> LibvirtError {
    let message = e.message();
    let path_problem = [
        "No such file or directory",
        "cannot open directory",
        "cannot create path",
        "Not a directory",
        "not found",
        "Cannot find",
        "cannot find",
        "Permission denied",
        "Read-only file system",
        "already formatted",
        "does not match the expected format",
    ]
    .iter()
    .any(|m| message.contains(m));
    if path_problem {
        let (what, hint) = match &spec.kind {
            PoolKind::Dir { path } => (
                path.clone(),
                "check that the path exists on the hypervisor (or that its parent can be \
                 created) and that libvirtd may write there",
            ),
            PoolKind::Logical {
                volume_group,
                devices,
            } if devices.is_empty() => (
                volume_group.clone(),
                "check that the volume group exists on the hypervisor (`vgs`), or list \
                 its devices so that rack builds it",
            ),
            PoolKind::Logical { devices, .. } => (
                devices.join(", "),
                "check that the devices exist on the hypervisor, are not in use, and hold \
                 no filesystem or LVM signature (rack never overwrites one)",
            ),
        };
        return LibvirtError::PoolStorage {
            uri: link.uri().to_owned(),
            pool: spec.name.clone(),
            storage: what,
            hint,
            source: Box::new(e),
        };
    }
    link.fail(action, e)
}

pub(crate) fn lookup_pool(
    link: &Link<'_>,
    name: &str,
) -> Result<Option<StoragePool>, LibvirtError> {
    let found = link.conn().lookup_storage_pool_by_name(name);
    missing_as_none(found, ErrorNumber::NoStoragePool)
        .map_err(|e| link.fail(format!("look up storage pool {name:?}"), e))
}

/// The pool, or [`LibvirtError::NotFound`].
pub(crate) fn require_pool(link: &Link<'_>, name: &str) -> Result<StoragePool, LibvirtError> {
    lookup_pool(link, name)?
        .ok_or_else(|| not_found(link, ObjectKind::StoragePool, name.to_owned()))
}

fn spec_error(name: &str, source: PoolSpecError) -> LibvirtError {
    LibvirtError::PoolSpec {
        name: name.to_owned(),
        source,
    }
}

/// A pool rack has just created.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct PoolCreated {
    /// The pool as libvirt holds it now.
    pub state: PoolState,
    /// Whether rack built the pool's storage (made its directory, created its volume
    /// group): only then may a delete remove it.
    pub built_storage: bool,
}

listed_kind!(
    PoolState,
    StoragePool,
    list: "list storage pools",
    noun: "storage pool",
    plural: "storage pools",
    list_all: list_all_storage_pools,
    lookup: lookup_pool,
    read: read_pool,
    cache: pool_cache,
    methods: pools, refresh_pools, pool, pool_fresh,
);

impl Hypervisor {
    /// Defines the pool, builds it, starts it and sets autostart; see
    /// [`Hypervisor::create_pool_recording`].
    pub async fn create_pool(&self, spec: &PoolSpec) -> Result<PoolState, LibvirtError> {
        Ok(self.create_pool_recording(spec).await?.state)
    }

    /// Defines the pool, builds its storage if it is missing, starts it and sets
    /// autostart, and says whether it built the storage. A `dir` pool whose directory
    /// exists already starts without a build (the directory is not rack's, and
    /// [`Hypervisor::delete_pool_with`] leaves it); only a missing directory is built
    /// (`mkdir -p`). A `logical` pool with devices is always built (a new volume group).
    /// If a step fails the definition is removed again (with a volume group rack has just
    /// created), so a failed create leaves nothing behind but a directory `mkdir -p` made.
    /// Idempotent: a pool of that name defined exactly as `spec` is adopted (started, its
    /// autostart set, its storage not rack's); any other is [`LibvirtError::Exists`].
    pub async fn create_pool_recording(
        &self,
        spec: &PoolSpec,
    ) -> Result<PoolCreated, LibvirtError> {
        spec.validate().map_err(|e| spec_error(&spec.name, e))?;
        let xml = pool_xml(spec);
        let spec = spec.clone();
        let cache = self.pool_cache();
        self.call(
            format!("create storage pool {:?}", spec.name),
            move |link| {
                let name = spec.name.as_str();
                if let Some(pool) = lookup_pool(link, name)? {
                    // Idempotent: exactly what is planned (a create that timed out and
                    // that libvirtd carried out later) is adopted and started; its
                    // storage is not counted as built by rack.
                    let now = read_pool(link, &pool)?;
                    let same = now.persistent
                        && now.spec.as_ref().is_ok_and(|current| {
                            plan_pool_update(current, &spec).replace.is_empty()
                        });
                    if !same {
                        cache.put(name, now);
                        return Err(LibvirtError::Exists {
                            uri: link.uri().to_owned(),
                            kind: ObjectKind::StoragePool,
                            name: name.to_owned(),
                        });
                    }
                    tracing::info!(
                        pool = name,
                        "adopting the storage pool that is already defined as planned"
                    );
                    if !now.active {
                        pool.create(0).map_err(|e| {
                            storage_error(link, format!("start storage pool {name:?}"), &spec, e)
                        })?;
                    }
                    if now.autostart != spec.autostart {
                        pool.set_autostart(spec.autostart).map_err(|e| {
                            link.fail(format!("set autostart of storage pool {name:?}"), e)
                        })?;
                    }
                    let state = read_pool(link, &pool)?;
                    cache.put(name, state.clone());
                    return Ok(PoolCreated {
                        state,
                        built_storage: false,
                    });
                }
                let pool = link
                    .conn()
                    .define_storage_pool_xml(&xml, 0)
                    .map_err(|e| link.fail(format!("define storage pool {name:?}"), e))?;
                let mut built_vg = false;
                let mut built_storage = false;
                let result = (|| {
                    let build_error =
                        |e| storage_error(link, format!("build storage pool {name:?}"), &spec, e);
                    match &spec.kind {
                        // Starting fails when the directory is missing (libvirt cannot
                        // open it): only then is it built, and rack's.
                        PoolKind::Dir { .. } => {
                            if pool.create(0).is_err() {
                                pool.build(0).map_err(build_error)?;
                                built_storage = true;
                            }
                        }
                        PoolKind::Logical { devices, .. } if !devices.is_empty() => {
                            pool.build(sys::VIR_STORAGE_POOL_BUILD_NO_OVERWRITE)
                                .map_err(build_error)?;
                            built_vg = true;
                            built_storage = true;
                        }
                        PoolKind::Logical { .. } => {}
                    }
                    if !pool.is_active().unwrap_or(false) {
                        pool.create(0).map_err(|e| {
                            storage_error(link, format!("start storage pool {name:?}"), &spec, e)
                        })?;
                    }
                    pool.set_autostart(spec.autostart).map_err(|e| {
                        link.fail(format!("set autostart of storage pool {name:?}"), e)
                    })
                })();
                if let Err(e) = result {
                    if pool.is_active().unwrap_or(false) {
                        let _ = pool.destroy();
                    }
                    if built_vg {
                        let _ = pool.delete(0);
                    }
                    let _ = pool.undefine();
                    cache.remove(name);
                    return Err(e);
                }
                let state = read_pool(link, &pool)?;
                cache.put(name, state.clone());
                Ok(PoolCreated {
                    state,
                    built_storage,
                })
            },
        )
        .await
    }

    /// Changes the pool `desired.name` in place to match `desired` (autostart). Fails with
    /// [`LibvirtError::StorageRequiresReplacement`], changing nothing, if anything else
    /// differs. Whether it runs is [`Hypervisor::set_pool_active`]'s.
    pub async fn update_pool(&self, desired: &PoolSpec) -> Result<PoolState, LibvirtError> {
        desired
            .validate()
            .map_err(|e| spec_error(&desired.name, e))?;
        let desired = desired.clone();
        let cache = self.pool_cache();
        self.call(
            format!("update storage pool {:?}", desired.name),
            move |link| {
                let name = desired.name.as_str();
                let pool = require_pool(link, name)?;
                let before = read_pool(link, &pool)?;
                let current = before.spec.clone().map_err(|e| spec_error(name, e))?;
                let plan = plan_pool_update(&current, &desired);
                if !plan.replace.is_empty() {
                    return Err(LibvirtError::StorageRequiresReplacement {
                        kind: ObjectKind::StoragePool,
                        name: name.to_owned(),
                        attributes: plan.replace,
                    });
                }
                if let Some(autostart) = plan.autostart {
                    pool.set_autostart(autostart).map_err(|e| {
                        link.fail(format!("set autostart of storage pool {name:?}"), e)
                    })?;
                }
                Ok(cache.kept(name, read_pool(link, &pool)?))
            },
        )
        .await
    }

    /// Starts or stops the pool (stopping leaves its volumes in place, unusable until it
    /// runs again).
    pub async fn set_pool_active(
        &self,
        name: &str,
        active: bool,
    ) -> Result<PoolState, LibvirtError> {
        let name = name.to_owned();
        let cache = self.pool_cache();
        let verb = if active { "start" } else { "stop" };
        self.call(format!("{verb} storage pool {name:?}"), move |link| {
            let pool = require_pool(link, &name)?;
            let action = || format!("{verb} storage pool {name:?}");
            let now = pool
                .is_active()
                .map_err(|e| pool_error(link, action(), &name, e))?;
            if now != active {
                let done = if active {
                    pool.create(0)
                } else {
                    pool.destroy()
                };
                if let Err(e) = done {
                    let spec = pool
                        .xml_desc(0)
                        .ok()
                        .and_then(|xml| parse_pool_xml(&xml, false).ok());
                    return Err(match &spec {
                        Some(spec) => storage_error(link, action(), spec, e),
                        None => pool_error(link, action(), &name, e),
                    });
                }
            }
            Ok(cache.kept(&name, read_pool(link, &pool)?))
        })
        .await
    }

    /// Stops the pool, removes its storage when that is empty and the pool's own (see
    /// the module documentation), and removes its definition. Volumes in a `dir` pool
    /// stay on disk. Returns whether there was a pool of that name.
    pub async fn delete_pool(&self, name: &str) -> Result<bool, LibvirtError> {
        self.delete_pool_with(name, true).await
    }

    /// [`Hypervisor::delete_pool`], removing the empty storage only when
    /// `remove_storage` (rack built it: [`PoolCreated::built_storage`]).
    pub async fn delete_pool_with(
        &self,
        name: &str,
        remove_storage: bool,
    ) -> Result<bool, LibvirtError> {
        let name = name.to_owned();
        let cache = self.pool_cache();
        let caches = self.caches();
        self.call(format!("delete storage pool {name:?}"), move |link| {
            let Some(pool) = lookup_pool(link, &name)? else {
                cache.remove(&name);
                return Ok(false);
            };
            let action = || format!("delete storage pool {name:?}");
            let fail = |e| pool_error(link, action(), &name, e);
            let spec = pool
                .xml_desc(0)
                .ok()
                .and_then(|xml| parse_pool_xml(&xml, false).ok());
            let mut empty = false;
            if pool.is_active().map_err(fail)? {
                // What libvirt lists after looking at the storage again.
                let _ = pool.refresh(0);
                empty = pool.num_of_volumes().map_err(fail)? == 0;
                pool.destroy().map_err(fail)?;
            }
            let owns_storage = remove_storage
                && match spec.as_ref().map(|s| &s.kind) {
                    Some(PoolKind::Dir { .. }) => true,
                    Some(PoolKind::Logical { devices, .. }) => !devices.is_empty(),
                    None => false,
                };
            if empty && owns_storage {
                // Best effort: a directory holding other files stays, and says nothing.
                if let Err(e) = pool.delete(0) {
                    tracing::info!(pool = %name, error = %e, "storage of the pool kept");
                }
            }
            if pool.is_persistent().unwrap_or(false) {
                pool.undefine().map_err(fail)?;
            }
            cache.remove(&name);
            // What was cached inside the pool (its volumes) is gone with it.
            caches.forget_scope(&name);
            Ok(true)
        })
        .await
    }
}
