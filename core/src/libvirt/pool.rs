//! libvirt storage pools: the model rack manages ([`PoolSpec`]), its XML in both
//! directions, what a change needs ([`plan_pool_update`]), and the operations on a
//! [`Hypervisor`].
//!
//! Two kinds of pool:
//!
//! - `dir`: a directory on the hypervisor holding one file per volume. Creating the pool
//!   builds it (`mkdir -p`, existing directories are kept as they are);
//! - `logical`: an LVM volume group, one logical volume per volume. With source devices
//!   rack builds it (`pvcreate` and `vgcreate` on those devices, refusing devices that
//!   already carry a filesystem or LVM signature); without, the volume group must exist.
//!
//! Creating a pool defines it, builds it, starts it and sets autostart; if any step fails
//! the definition is removed again (and a volume group rack just created is removed).
//!
//! # What changes in place, what forces replacement
//!
//! Only `autostart` and whether the pool runs change in place. The name,
//! the kind, the path, the volume group and its devices force replacement
//! ([`POOL_REPLACE_ATTRIBUTES`]).
//!
//! # Deleting
//!
//! Deleting stops the pool and removes its definition. Storage is removed only when it is
//! empty and rack can tell it is the pool's own: a `dir` pool's directory is removed if no
//! volume is left in it (libvirt's `rmdir`, which also fails harmlessly on a directory
//! holding other files); a `logical` pool's volume group is removed (`vgremove`, then
//! `pvremove` on its devices) only if it holds no logical volume and the pool lists its
//! source devices, that is, rack built it. A volume group the pool merely uses is kept.

use std::fmt;
use std::sync::Arc;

use virt::storage_pool::StoragePool;
use virt::sys;

use super::connection::{Hypervisor, Link, Listing};
use super::error::{LibvirtError, ObjectKind};
use super::xml::{Element, is_plain};

/// What backs a pool.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum PoolKind {
    /// A directory on the hypervisor.
    Dir {
        /// Its absolute path.
        path: String,
    },
    /// An LVM volume group.
    Logical {
        /// The volume group's name.
        volume_group: String,
        /// Block devices to build the volume group on; empty: the group exists already.
        devices: Vec<String>,
    },
}

impl PoolKind {
    /// libvirt's pool type.
    pub fn as_str(&self) -> &'static str {
        match self {
            Self::Dir { .. } => "dir",
            Self::Logical { .. } => "logical",
        }
    }

    /// The pool's target path: the directory, or `/dev/<volume group>`.
    pub fn target_path(&self) -> String {
        match self {
            Self::Dir { path } => path.clone(),
            Self::Logical { volume_group, .. } => format!("/dev/{volume_group}"),
        }
    }
}

impl fmt::Display for PoolKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Dir { path } => write!(f, "dir ({path})"),
            Self::Logical { volume_group, .. } => {
                write!(f, "logical (volume group {volume_group})")
            }
        }
    }
}

/// A storage pool as rack manages it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct PoolSpec {
    /// The pool's name, unique on the hypervisor.
    pub name: String,
    /// What backs it.
    pub kind: PoolKind,
    /// Whether libvirt starts the pool when the daemon starts.
    pub autostart: bool,
}

impl PoolSpec {
    /// A `dir` pool on `path`, autostarted.
    pub fn dir(name: impl Into<String>, path: impl Into<String>) -> Self {
        Self {
            name: name.into(),
            kind: PoolKind::Dir { path: path.into() },
            autostart: true,
        }
    }

    /// A `logical` pool on volume group `volume_group`, autostarted.
    pub fn logical(
        name: impl Into<String>,
        volume_group: impl Into<String>,
        devices: Vec<String>,
    ) -> Self {
        Self {
            name: name.into(),
            kind: PoolKind::Logical {
                volume_group: volume_group.into(),
                devices,
            },
            autostart: true,
        }
    }
}

/// The attributes whose change forces the pool to be replaced.
pub const POOL_REPLACE_ATTRIBUTES: &[&str] = &["name", "type", "path", "volume_group", "devices"];

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

/// Why a pool specification or a pool's XML cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PoolSpecError {
    /// The name is empty or has characters libvirt refuses.
    #[error(
        "Storage pool name {0:?} is not valid; use a non-empty name without '/', spaces, quotes, '<', '>' or '&'"
    )]
    Name(String),
    /// A path that is not absolute and normalised.
    #[error(
        "Path {path:?} in `{attribute}` is not valid; use an absolute path without '.', '..', '//', a trailing '/', quotes, '<', '>' or '&'"
    )]
    Path {
        /// Where.
        attribute: &'static str,
        /// The path.
        path: String,
    },
    /// A volume group name LVM refuses.
    #[error(
        "Volume group name {0:?} is not valid; use letters, digits and + _ . - (not starting with '-', not . or ..)"
    )]
    VolumeGroup(String),
    /// The XML is not well-formed.
    #[error("Storage pool XML is not well-formed: {0}")]
    Syntax(String),
    /// The XML is well-formed but not a pool rack can model.
    #[error("Storage pool XML cannot be read by rack: {0}")]
    Unsupported(String),
}

/// Whether `name` is a name libvirt accepts for a pool or a volume.
pub(crate) fn valid_object_name(name: &str) -> bool {
    !name.is_empty()
        && name != "."
        && name != ".."
        && !name
            .chars()
            .any(|c| c == '/' || c.is_whitespace() || c.is_control())
        && is_plain(name)
}

/// Whether `path` is absolute and normalised (libvirt normalises paths, so anything else
/// would read back different).
pub(crate) fn valid_path(path: &str) -> bool {
    path.starts_with('/')
        && (path == "/" || !path.ends_with('/'))
        && !path.contains("//")
        && is_plain(path)
        && !path.split('/').any(|c| c == "." || c == "..")
}

impl PoolSpec {
    /// Checks what libvirt would otherwise reject late, or accept and read back differently.
    pub fn validate(&self) -> Result<(), PoolSpecError> {
        if !valid_object_name(&self.name) {
            return Err(PoolSpecError::Name(self.name.clone()));
        }
        match &self.kind {
            PoolKind::Dir { path } => {
                if !valid_path(path) || path == "/" {
                    return Err(PoolSpecError::Path {
                        attribute: "path",
                        path: path.clone(),
                    });
                }
            }
            PoolKind::Logical {
                volume_group,
                devices,
            } => {
                let vg_ok = !volume_group.is_empty()
                    && !volume_group.starts_with('-')
                    && volume_group != "."
                    && volume_group != ".."
                    && volume_group
                        .chars()
                        .all(|c| c.is_ascii_alphanumeric() || "+_.-".contains(c));
                if !vg_ok {
                    return Err(PoolSpecError::VolumeGroup(volume_group.clone()));
                }
                if let Some(bad) = devices.iter().find(|d| !valid_path(d) || *d == "/") {
                    return Err(PoolSpecError::Path {
                        attribute: "devices",
                        path: bad.clone(),
                    });
                }
            }
        }
        Ok(())
    }
}

// ---- XML ----------------------------------------------------------------------------

/// libvirt's storage pool XML for `spec` (`autostart` is not part of it). Call
/// [`PoolSpec::validate`] first: this builds whatever it is given.
pub fn pool_xml(spec: &PoolSpec) -> String {
    let mut root = Element::new("pool")
        .attr("type", spec.kind.as_str())
        .child(Element::new("name").with_text(&spec.name));
    if let PoolKind::Logical {
        volume_group,
        devices,
    } = &spec.kind
    {
        let mut source = Element::new("source");
        for d in devices {
            source = source.child(Element::new("device").attr("path", d));
        }
        source = source
            .child(Element::new("name").with_text(volume_group))
            .child(Element::new("format").attr("type", "lvm2"));
        root = root.child(source);
    }
    root.child(
        Element::new("target").child(Element::new("path").with_text(&spec.kind.target_path())),
    )
    .to_xml()
}

fn unsupported(msg: impl Into<String>) -> PoolSpecError {
    PoolSpecError::Unsupported(msg.into())
}

/// Reads libvirt's XML of a pool into a [`PoolSpec`], with `autostart` as given. What
/// rack does not model (uuid, sizes, permissions) is ignored; other pool types are an
/// error.
pub fn parse_pool_xml(xml: &str, autostart: bool) -> Result<PoolSpec, PoolSpecError> {
    let root = Element::parse(xml).map_err(PoolSpecError::Syntax)?;
    if root.name != "pool" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <pool>",
            root.name
        )));
    }
    let name = root
        .first("name")
        .map(|n| n.text.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unsupported("the pool has no <name>"))?;
    let target = root
        .first("target")
        .and_then(|t| t.first("path"))
        .map(|p| p.text.clone());
    let kind = match root.get("type") {
        Some("dir") => PoolKind::Dir {
            path: target.ok_or_else(|| unsupported("a dir pool has no <target><path>"))?,
        },
        Some("logical") => {
            let source = root.first("source");
            let volume_group = source
                .and_then(|s| s.first("name"))
                .map(|n| n.text.clone())
                .filter(|n| !n.is_empty())
                // libvirt's default: the volume group is named like the pool.
                .unwrap_or_else(|| name.clone());
            let devices = source
                .map(|s| {
                    s.all("device")
                        .filter_map(|d| d.get("path").map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            PoolKind::Logical {
                volume_group,
                devices,
            }
        }
        Some(other) => {
            return Err(unsupported(format!(
                "pool type {other:?} is not one rack manages (dir, logical)"
            )));
        }
        None => return Err(unsupported("the pool has no type")),
    };
    Ok(PoolSpec {
        name,
        kind,
        autostart,
    })
}

// ---- Changes ------------------------------------------------------------------------

/// What it takes to turn one pool into another.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct PoolUpdatePlan {
    /// Attributes that differ and cannot change in place (from
    /// [`POOL_REPLACE_ATTRIBUTES`]); non-empty means the pool must be replaced.
    pub replace: Vec<&'static str>,
    /// The new autostart flag, if it changes.
    pub autostart: Option<bool>,
}

impl PoolUpdatePlan {
    /// Whether nothing changes.
    pub fn is_empty(&self) -> bool {
        self.replace.is_empty() && self.autostart.is_none()
    }
}

/// Compares the pool as it is with the pool as wanted.
pub fn plan_pool_update(current: &PoolSpec, desired: &PoolSpec) -> PoolUpdatePlan {
    let mut plan = PoolUpdatePlan::default();
    if current.name != desired.name {
        plan.replace.push("name");
    }
    match (&current.kind, &desired.kind) {
        (PoolKind::Dir { path: a }, PoolKind::Dir { path: b }) => {
            if a != b {
                plan.replace.push("path");
            }
        }
        (
            PoolKind::Logical {
                volume_group: va,
                devices: da,
            },
            PoolKind::Logical {
                volume_group: vb,
                devices: db,
            },
        ) => {
            if va != vb {
                plan.replace.push("volume_group");
            }
            if da != db {
                plan.replace.push("devices");
            }
        }
        _ => plan.replace.push("type"),
    }
    if current.autostart != desired.autostart {
        plan.autostart = Some(desired.autostart);
    }
    plan
}

// ---- Operations ---------------------------------------------------------------------

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
        return LibvirtError::NotFound {
            uri: link.uri().to_owned(),
            kind: ObjectKind::StoragePool,
            name: name.to_owned(),
        };
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
    match link.conn().lookup_storage_pool_by_name(name) {
        Ok(pool) => Ok(Some(pool)),
        Err(e) if e.code().is(virt::error::ErrorNumber::NoStoragePool) => Ok(None),
        Err(e) => Err(link.fail(format!("look up storage pool {name:?}"), e)),
    }
}

/// The pool, or [`LibvirtError::NotFound`].
pub(crate) fn require_pool(link: &Link<'_>, name: &str) -> Result<StoragePool, LibvirtError> {
    lookup_pool(link, name)?.ok_or_else(|| LibvirtError::NotFound {
        uri: link.uri().to_owned(),
        kind: ObjectKind::StoragePool,
        name: name.to_owned(),
    })
}

fn spec_error(name: &str, source: PoolSpecError) -> LibvirtError {
    LibvirtError::PoolSpec {
        name: name.to_owned(),
        source,
    }
}

impl Hypervisor {
    /// This hypervisor's listing of storage pools.
    fn pool_cache(&self) -> Arc<Listing<PoolState>> {
        self.cache()
    }
}

impl Hypervisor {
    /// Every storage pool on the hypervisor. The first call lists them; later calls
    /// answer from the cache, which rack's own writes keep current.
    /// [`Hypervisor::refresh_pools`] lists again.
    pub async fn pools(&self) -> Result<Vec<PoolState>, LibvirtError> {
        self.pools_cached(false).await
    }

    /// Lists the storage pools again, replacing the cache.
    pub async fn refresh_pools(&self) -> Result<Vec<PoolState>, LibvirtError> {
        self.pools_cached(true).await
    }

    async fn pools_cached(&self, refresh: bool) -> Result<Vec<PoolState>, LibvirtError> {
        self.listing(
            self.pool_cache(),
            refresh,
            "list storage pools",
            |c| c.list_all_storage_pools(0),
            read_pool,
            |s| &s.name,
        )
        .await
    }

    /// One pool from the cache (filled by [`Hypervisor::pools`] on first use); `None` if
    /// it does not exist.
    pub async fn pool(&self, name: &str) -> Result<Option<PoolState>, LibvirtError> {
        self.pools().await?;
        Ok(self.pool_cache().get(name))
    }

    /// One pool read from libvirt now, bypassing the cache (and updating it): for import,
    /// and to confirm drift before acting on it.
    pub async fn pool_fresh(&self, name: &str) -> Result<Option<PoolState>, LibvirtError> {
        let action = format!("read storage pool {name:?}");
        self.read_one(self.pool_cache(), action, name, lookup_pool, read_pool)
            .await
    }

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
                let state = read_pool(link, &pool)?;
                cache.put(name, state.clone());
                Ok(state)
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
            let state = read_pool(link, &pool)?;
            cache.put(&name, state.clone());
            Ok(state)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What libvirt 9.0 answers for a dir pool (`virsh pool-dumpxml`).
    const LIBVIRT_DIR: &str = "<pool type='dir'>
  <name>images</name>
  <uuid>4c4a3b37-0d1c-4c3b-9b7e-6f0b8e7d4a11</uuid>
  <capacity unit='bytes'>270465425408</capacity>
  <allocation unit='bytes'>41608081408</allocation>
  <available unit='bytes'>228857344000</available>
  <source>
  </source>
  <target>
    <path>/var/lib/rack/images</path>
    <permissions>
      <mode>0711</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
  </target>
</pool>
";

    /// What libvirt 9.0 answers for a logical pool built on a loop device.
    const LIBVIRT_LOGICAL: &str = "<pool type='logical'>
  <name>fast</name>
  <uuid>0e3a2f9b-7f0b-4f7e-9d1a-2b7c9c1f0d22</uuid>
  <capacity unit='bytes'>62914560</capacity>
  <allocation unit='bytes'>0</allocation>
  <available unit='bytes'>62914560</available>
  <source>
    <device path='/dev/loop3'/>
    <name>rackvg</name>
    <format type='lvm2'/>
  </source>
  <target>
    <path>/dev/rackvg</path>
  </target>
</pool>
";

    #[test]
    fn builds_the_xml_libvirt_expects() {
        assert_eq!(
            pool_xml(&PoolSpec::dir("images", "/var/lib/rack/images")),
            "<pool type=\"dir\">\n  <name>images</name>\n  <target>\n    \
             <path>/var/lib/rack/images</path>\n  </target>\n</pool>"
        );
        assert_eq!(
            pool_xml(&PoolSpec::logical(
                "fast",
                "rackvg",
                vec!["/dev/loop3".into()]
            )),
            "<pool type=\"logical\">\n  <name>fast</name>\n  <source>\n    \
             <device path=\"/dev/loop3\"/>\n    <name>rackvg</name>\n    \
             <format type=\"lvm2\"/>\n  </source>\n  <target>\n    \
             <path>/dev/rackvg</path>\n  </target>\n</pool>"
        );
    }

    #[test]
    fn parses_what_libvirt_answers() {
        assert_eq!(
            parse_pool_xml(LIBVIRT_DIR, true).unwrap(),
            PoolSpec::dir("images", "/var/lib/rack/images")
        );
        let mut logical = PoolSpec::logical("fast", "rackvg", vec!["/dev/loop3".into()]);
        logical.autostart = false;
        assert_eq!(parse_pool_xml(LIBVIRT_LOGICAL, false).unwrap(), logical);
    }

    #[test]
    fn round_trips() {
        for spec in [
            PoolSpec::dir("a", "/srv/a"),
            PoolSpec::logical("b", "vg_b", vec![]),
            PoolSpec::logical("c", "vg-c", vec!["/dev/sdb".into(), "/dev/sdc".into()]),
        ] {
            spec.validate().unwrap();
            assert_eq!(parse_pool_xml(&pool_xml(&spec), true).unwrap(), spec);
        }
        // A logical pool without <source><name> uses the pool's name as the group.
        let xml = "<pool type='logical'><name>vg9</name><target><path>/dev/vg9</path>\
                   </target></pool>";
        let mut expected = PoolSpec::logical("vg9", "vg9", vec![]);
        expected.autostart = false;
        assert_eq!(parse_pool_xml(xml, false).unwrap(), expected);
    }

    #[test]
    fn refuses_what_it_cannot_model() {
        for xml in [
            "<pool type='netfs'><name>n</name></pool>",
            "<pool><name>n</name></pool>",
            "<pool type='dir'><name>n</name></pool>",
            "<pool type='dir'><target><path>/x</path></target></pool>",
            "<network><name>n</name></network>",
        ] {
            assert!(
                matches!(
                    parse_pool_xml(xml, false),
                    Err(PoolSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_pool_xml("<pool", false),
            Err(PoolSpecError::Syntax(_))
        ));
    }

    #[test]
    fn validation() {
        let bad = |spec: PoolSpec| spec.validate().unwrap_err();
        assert!(matches!(
            bad(PoolSpec::dir("", "/x")),
            PoolSpecError::Name(_)
        ));
        assert!(matches!(
            bad(PoolSpec::dir("a b", "/x")),
            PoolSpecError::Name(_)
        ));
        for path in ["x", "/x/", "/x//y", "/x/../y", "/", "/x/./y"] {
            assert!(
                matches!(
                    bad(PoolSpec::dir("p", path)),
                    PoolSpecError::Path {
                        attribute: "path",
                        ..
                    }
                ),
                "{path}"
            );
        }
        for vg in ["", "-vg", "a/b", "..", "v g"] {
            assert!(
                matches!(
                    bad(PoolSpec::logical("p", vg, vec![])),
                    PoolSpecError::VolumeGroup(_)
                ),
                "{vg}"
            );
        }
        assert!(matches!(
            bad(PoolSpec::logical("p", "vg", vec!["sdb".into()])),
            PoolSpecError::Path {
                attribute: "devices",
                ..
            }
        ));
    }

    #[test]
    fn plan_in_place_and_replace() {
        let current = PoolSpec::dir("images", "/srv/images");
        assert!(plan_pool_update(&current, &current).is_empty());
        let mut want = current.clone();
        want.autostart = false;
        let plan = plan_pool_update(&current, &want);
        assert!(plan.replace.is_empty());
        assert_eq!(plan.autostart, Some(false));
        let want = PoolSpec::dir("images", "/srv/other");
        assert_eq!(plan_pool_update(&current, &want).replace, vec!["path"]);
        let want = PoolSpec::logical("images", "vg", vec![]);
        assert_eq!(plan_pool_update(&current, &want).replace, vec!["type"]);
        let a = PoolSpec::logical("l", "vg", vec![]);
        let b = PoolSpec::logical("l", "vg2", vec!["/dev/sdb".into()]);
        assert_eq!(
            plan_pool_update(&a, &b).replace,
            vec!["volume_group", "devices"]
        );
        for attr in plan_pool_update(&a, &b).replace {
            assert!(POOL_REPLACE_ATTRIBUTES.contains(&attr));
        }
    }
}
