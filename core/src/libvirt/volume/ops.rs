//! The operations on the volumes of a [`Hypervisor`]: listing, reading, creating,
//! resizing and deleting.

use std::sync::Arc;
use std::time::{Duration, Instant};

use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;

use super::spec::{VolumeContent, VolumeFormat, VolumeRef, VolumeSpec, VolumeSpecError};
use super::xml::{NewVolume, VolumeState, parse_volume_xml, volume_xml};
pub(super) use crate::libvirt::connection::not_found;
use crate::libvirt::connection::{Hypervisor, Link, Listing};
use crate::libvirt::error::{LibvirtError, ObjectKind, missing_as_none};
use crate::libvirt::pool::{PoolKind, lookup_pool, parse_pool_xml, pool_error, require_pool};
use crate::size::ByteSize;

impl Hypervisor {
    /// This hypervisor's listing of the volumes in `pool`.
    pub(super) fn volume_cache(&self, pool: &str) -> Arc<Listing<VolumeState>> {
        self.caches().scoped().scope(pool)
    }
}

pub(super) fn qualified(pool: &str, name: &str) -> String {
    format!("{pool}/{name}")
}

/// Maps a libvirt error about volume `pool/name` to the variant that says what to check.
pub(super) fn volume_error(
    link: &Link<'_>,
    action: String,
    pool: &str,
    name: &str,
    e: virt::error::Error,
) -> LibvirtError {
    use virt::error::ErrorNumber;
    let message = e.message();
    if e.code().is(ErrorNumber::NoStorageVolume) {
        return not_found(link, ObjectKind::Volume, qualified(pool, name));
    }
    if e.code().is(ErrorNumber::NoStoragePool) {
        return not_found(link, ObjectKind::StoragePool, pool.to_owned());
    }
    if message.contains("already exists") || message.contains("File exists") {
        return LibvirtError::Exists {
            uri: link.uri().to_owned(),
            kind: ObjectKind::Volume,
            name: qualified(pool, name),
        };
    }
    if message.contains("is not active") {
        return LibvirtError::PoolInactive {
            uri: link.uri().to_owned(),
            pool: pool.to_owned(),
            source: e,
        };
    }
    if message.contains("No space left") || message.contains("Not enough space") {
        return LibvirtError::NoSpace {
            uri: link.uri().to_owned(),
            pool: pool.to_owned(),
            action,
            source: e,
        };
    }
    pool_error(link, action, pool, e)
}

pub(crate) fn lookup_volume(
    link: &Link<'_>,
    pool: &StoragePool,
    pool_name: &str,
    name: &str,
) -> Result<Option<StorageVol>, LibvirtError> {
    missing_as_none(
        pool.lookup_storage_vol_by_name(name),
        virt::error::ErrorNumber::NoStorageVolume,
    )
    .map_err(|e| {
        let action = format!("look up volume {:?}", qualified(pool_name, name));
        volume_error(link, action, pool_name, name, e)
    })
}

/// Reads one volume's state (on the connection's thread).
pub(super) fn read_volume(
    link: &Link<'_>,
    pool_name: &str,
    vol: &StorageVol,
) -> Result<VolumeState, LibvirtError> {
    let name = vol
        .name()
        .map_err(|e| link.fail("read the name of a volume", e))?;
    let action = || format!("read volume {:?}", qualified(pool_name, &name));
    let fail = |e| volume_error(link, action(), pool_name, &name, e);
    let xml = vol.xml_desc(0).map_err(fail)?;
    let mut state =
        parse_volume_xml(pool_name, &xml).map_err(|source| LibvirtError::VolumeSpec {
            pool: pool_name.to_owned(),
            name: name.clone(),
            source,
        })?;
    if let Ok(path) = vol.path() {
        state.path = path;
    }
    state.name = name;
    Ok(state)
}

/// Asks libvirt to look at the pool's storage again (files added or removed behind its
/// back). libvirt refuses while an upload into the pool finishes; that is retried for a
/// few seconds, then given up silently (the listing is then as fresh as libvirt's).
pub(super) fn refresh_pool_storage(pool: &StoragePool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match pool.refresh(0) {
            Ok(()) => return,
            Err(e) if e.message().contains("asynchronous jobs") && Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(50));
            }
            Err(_) => return,
        }
    }
}

/// Whether a read failed because the volume's file is gone behind libvirt's back.
fn file_gone(e: &LibvirtError) -> bool {
    let text = match e {
        LibvirtError::Failed { source, .. } | LibvirtError::Denied { source, .. } => {
            source.message()
        }
        _ => return false,
    };
    text.contains("No such file or directory")
}

/// The kind of a pool, from its XML (`None` if rack cannot read it).
pub(super) fn pool_kind(pool: &StoragePool) -> Option<PoolKind> {
    let xml = pool.xml_desc(0).ok()?;
    parse_pool_xml(&xml, false).ok().map(|s| s.kind)
}

pub(super) fn spec_error(spec: &VolumeSpec, source: VolumeSpecError) -> LibvirtError {
    LibvirtError::VolumeSpec {
        pool: spec.pool.clone(),
        name: spec.name.clone(),
        source,
    }
}

/// The volume a reference names, with its state.
fn resolve(
    link: &Link<'_>,
    own_pool: &str,
    r: &VolumeRef,
) -> Result<(StorageVol, VolumeState), LibvirtError> {
    let pool_name = r.pool_or(own_pool);
    let pool = require_pool(link, pool_name)?;
    let vol = lookup_volume(link, &pool, pool_name, &r.name)?
        .ok_or_else(|| not_found(link, ObjectKind::Volume, qualified(pool_name, &r.name)))?;
    let state = read_volume(link, pool_name, &vol)?;
    Ok((vol, state))
}

/// Whether an existing volume is exactly the one creating `spec` makes: format, capacity
/// and backing store, for a volume whose content rack does not write (empty, or an overlay
/// on the planned base). A volume that holds a copy or an upload is never taken over: its
/// content cannot be told from someone else's without reading it all, and writing it
/// again would overwrite a volume rack may not own.
fn as_planned(link: &Link<'_>, spec: &VolumeSpec, now: &VolumeState) -> Result<bool, LibvirtError> {
    let format_same = now.format.as_deref().unwrap_or("raw") == spec.format.as_str();
    let same = match &spec.content {
        VolumeContent::Empty => {
            format_same && now.backing.is_none() && spec.capacity == Some(now.capacity)
        }
        VolumeContent::Backing(r) => {
            let (_, base) = resolve(link, &spec.pool, r)?;
            format_same
                && now.capacity == spec.capacity.unwrap_or(base.capacity)
                && now.backing.as_ref().is_some_and(|b| b.path == base.path)
        }
        VolumeContent::CloneOf(_) | VolumeContent::Upload(_) => false,
    };
    Ok(same)
}

impl Hypervisor {
    /// Every volume in pool `pool`. The first call lists them; later calls answer from
    /// the cache, which rack's own writes keep current. [`Hypervisor::refresh_volumes`]
    /// asks libvirt to look at the storage again and lists anew.
    pub async fn volumes(&self, pool: &str) -> Result<Vec<VolumeState>, LibvirtError> {
        self.volumes_cached(pool, false).await
    }

    /// Lists the pool's volumes again (after libvirt looked at the storage again),
    /// replacing the cache.
    pub async fn refresh_volumes(&self, pool: &str) -> Result<Vec<VolumeState>, LibvirtError> {
        self.volumes_cached(pool, true).await
    }

    async fn volumes_cached(
        &self,
        pool_name: &str,
        refresh: bool,
    ) -> Result<Vec<VolumeState>, LibvirtError> {
        let cache = self.volume_cache(pool_name);
        if !refresh && let Some(list) = cache.values() {
            return Ok(list);
        }
        let _fill = cache.fill_lock().await;
        if !refresh && let Some(list) = cache.values() {
            return Ok(list);
        }
        let store = cache.clone();
        let pool_name = pool_name.to_owned();
        self.call(format!("list volumes of pool {pool_name:?}"), move |link| {
            let pool = require_pool(link, &pool_name)?;
            if refresh {
                refresh_pool_storage(&pool);
            }
            let vols = pool.list_all_volumes(0).map_err(|e| {
                volume_error(
                    link,
                    format!("list volumes of pool {pool_name:?}"),
                    &pool_name,
                    "",
                    e,
                )
            })?;
            let mut states = Vec::with_capacity(vols.len());
            for vol in &vols {
                match read_volume(link, &pool_name, vol) {
                    Ok(s) => states.push(s),
                    // Deleted between the listing and the read: not there.
                    Err(LibvirtError::NotFound { .. }) => {}
                    Err(e) if file_gone(&e) => {}
                    Err(e) => return Err(e),
                }
            }
            states.sort_by(|a, b| a.name.cmp(&b.name));
            store.fill(states.iter().map(|s| (s.name.clone(), s.clone())));
            Ok(states)
        })
        .await
    }

    /// One volume from the cache (filled by [`Hypervisor::volumes`] on first use);
    /// `None` if it does not exist.
    pub async fn volume(
        &self,
        pool: &str,
        name: &str,
    ) -> Result<Option<VolumeState>, LibvirtError> {
        self.volumes(pool).await?;
        Ok(self.volume_cache(pool).get(name))
    }

    /// One volume read from libvirt now, bypassing the cache (and updating it): for
    /// import, and to confirm drift. A volume libvirt does not know yet, or whose file is
    /// gone, is looked for again after libvirt looked at the pool's storage. `None` if
    /// the volume or its pool does not exist.
    pub async fn volume_fresh(
        &self,
        pool: &str,
        name: &str,
    ) -> Result<Option<VolumeState>, LibvirtError> {
        let cache = self.volume_cache(pool);
        let (pool_name, name) = (pool.to_owned(), name.to_owned());
        self.call(
            format!("read volume {:?}", qualified(&pool_name, &name)),
            move |link| {
                let Some(pool) = lookup_pool(link, &pool_name)? else {
                    return Ok(None);
                };
                let mut refreshed = false;
                let state = loop {
                    let attempt = match lookup_volume(link, &pool, &pool_name, &name)? {
                        Some(vol) => match read_volume(link, &pool_name, &vol) {
                            Ok(s) => Some(s),
                            Err(LibvirtError::NotFound { .. }) => None,
                            Err(e) if file_gone(&e) => None,
                            Err(e) => return Err(e),
                        },
                        None => None,
                    };
                    if attempt.is_some() || refreshed {
                        break attempt;
                    }
                    refresh_pool_storage(&pool);
                    refreshed = true;
                };
                match &state {
                    Some(s) => cache.put(&name, s.clone()),
                    None => cache.remove(&name),
                }
                Ok(state)
            },
        )
        .await
    }

    /// Empty volumes, overlays and copies: one call on the connection's thread. With
    /// `adopt`, an existing volume defined exactly as planned is taken over (see
    /// [`as_planned`]); without, any existing volume is [`LibvirtError::Exists`].
    pub(super) async fn create_in_pool(
        &self,
        spec: &VolumeSpec,
        adopt: bool,
    ) -> Result<VolumeState, LibvirtError> {
        let spec = spec.clone();
        let cache = self.volume_cache(&spec.pool);
        let label = qualified(&spec.pool, &spec.name);
        self.call(format!("create volume {label:?}"), move |link| {
            let pool_name = spec.pool.as_str();
            let name = spec.name.as_str();
            let pool = require_pool(link, pool_name)?;
            if let Some(existing) = lookup_volume(link, &pool, pool_name, name)? {
                // Idempotent: exactly what is planned (a create that timed out and that
                // libvirtd carried out later) is adopted.
                let now = read_volume(link, pool_name, &existing)?;
                if adopt && as_planned(link, &spec, &now)? {
                    tracing::info!(
                        volume = %label,
                        "adopting the volume that already exists as planned"
                    );
                    cache.put(name, now.clone());
                    return Ok(now);
                }
                cache.put(name, now);
                return Err(LibvirtError::Exists {
                    uri: link.uri().to_owned(),
                    kind: ObjectKind::Volume,
                    name: qualified(pool_name, name),
                });
            }
            let kind = pool_kind(&pool);
            let is_logical = matches!(kind, Some(PoolKind::Logical { .. }));
            let not_for_pool = |what| {
                spec_error(
                    &spec,
                    VolumeSpecError::NotForPool {
                        pool: pool_name.to_owned(),
                        kind: "logical",
                        what,
                    },
                )
            };
            if is_logical && spec.format != VolumeFormat::Raw {
                return Err(not_for_pool("qcow2 volumes"));
            }
            let fail =
                |e| volume_error(link, format!("create volume {label:?}"), pool_name, name, e);
            let too_small = |source: &VolumeState, r: &VolumeRef| {
                spec_error(
                    &spec,
                    VolumeSpecError::SmallerThanSource {
                        source_name: format!("volume {r}"),
                        source_size: ByteSize(source.capacity),
                        wanted: ByteSize(spec.capacity.unwrap_or_default()),
                    },
                )
            };
            let vol = match &spec.content {
                VolumeContent::Empty => {
                    let xml = volume_xml(&NewVolume {
                        name,
                        format: spec.format,
                        capacity: spec.capacity.unwrap_or_default(),
                        sparse: !is_logical,
                        backing: None,
                    });
                    StorageVol::create_xml(&pool, &xml, 0).map_err(fail)?
                }
                VolumeContent::Backing(r) => {
                    if is_logical {
                        return Err(not_for_pool("qcow2 overlays"));
                    }
                    let (_, base) = resolve(link, pool_name, r)?;
                    let capacity = spec.capacity.unwrap_or(base.capacity);
                    if capacity < base.capacity {
                        return Err(too_small(&base, r));
                    }
                    let base_format = base.format.clone().unwrap_or_else(|| "raw".to_owned());
                    let xml = volume_xml(&NewVolume {
                        name,
                        format: VolumeFormat::Qcow2,
                        capacity,
                        sparse: true,
                        backing: Some((&base.path, &base_format)),
                    });
                    StorageVol::create_xml(&pool, &xml, 0).map_err(fail)?
                }
                VolumeContent::CloneOf(r) => {
                    let (source_vol, source) = resolve(link, pool_name, r)?;
                    if spec.capacity.is_some_and(|c| c < source.capacity) {
                        return Err(too_small(&source, r));
                    }
                    let xml = volume_xml(&NewVolume {
                        name,
                        format: spec.format,
                        capacity: source.capacity,
                        sparse: !is_logical,
                        backing: None,
                    });
                    let vol =
                        StorageVol::create_xml_from(&pool, &xml, &source_vol, 0).map_err(fail)?;
                    if let Some(capacity) = spec.capacity.filter(|c| *c > source.capacity)
                        && let Err(e) = vol.resize(capacity, 0)
                    {
                        let _ = vol.delete(0);
                        return Err(fail(e));
                    }
                    vol
                }
                // Uploads create an empty raw volume here first (`create_uploaded`).
                VolumeContent::Upload(_) => {
                    return Err(LibvirtError::WorkerGone {
                        uri: link.uri().to_owned(),
                    });
                }
            };
            Ok(cache.kept(name, read_volume(link, pool_name, &vol)?))
        })
        .await
    }
}

impl Hypervisor {
    /// Grows volume `pool/name` to `capacity` bytes. A smaller capacity is refused with
    /// [`LibvirtError::Shrink`] before anything is changed; the same capacity changes
    /// nothing.
    pub async fn resize_volume(
        &self,
        pool: &str,
        name: &str,
        capacity: u64,
    ) -> Result<VolumeState, LibvirtError> {
        let cache = self.volume_cache(pool);
        let (pool_name, name) = (pool.to_owned(), name.to_owned());
        let label = qualified(&pool_name, &name);
        self.call(format!("resize volume {label:?}"), move |link| {
            let pool = require_pool(link, &pool_name)?;
            let vol = lookup_volume(link, &pool, &pool_name, &name)?
                .ok_or_else(|| not_found(link, ObjectKind::Volume, label.clone()))?;
            let before = read_volume(link, &pool_name, &vol)?;
            if capacity < before.capacity {
                return Err(LibvirtError::Shrink {
                    pool: pool_name.clone(),
                    name: name.clone(),
                    current: ByteSize(before.capacity),
                    wanted: ByteSize(capacity),
                });
            }
            if capacity == before.capacity {
                cache.put(&name, before.clone());
                return Ok(before);
            }
            vol.resize(capacity, 0).map_err(|e| {
                volume_error(
                    link,
                    format!("resize volume {label:?}"),
                    &pool_name,
                    &name,
                    e,
                )
            })?;
            Ok(cache.kept(&name, read_volume(link, &pool_name, &vol)?))
        })
        .await
    }

    /// Deletes volume `pool/name` (its file or logical volume). Returns whether there was
    /// one; a volume whose file is already gone counts as not there.
    pub async fn delete_volume(&self, pool: &str, name: &str) -> Result<bool, LibvirtError> {
        let cache = self.volume_cache(pool);
        let (pool_name, name) = (pool.to_owned(), name.to_owned());
        let label = qualified(&pool_name, &name);
        self.call(format!("delete volume {label:?}"), move |link| {
            let Some(pool) = lookup_pool(link, &pool_name)? else {
                cache.remove(&name);
                return Ok(false);
            };
            let Some(vol) = lookup_volume(link, &pool, &pool_name, &name)? else {
                cache.remove(&name);
                return Ok(false);
            };
            let existed = match vol.delete(0) {
                Ok(()) => true,
                Err(e) if e.message().contains("No such file or directory") => {
                    refresh_pool_storage(&pool);
                    false
                }
                Err(e) => {
                    return Err(volume_error(
                        link,
                        format!("delete volume {label:?}"),
                        &pool_name,
                        &name,
                        e,
                    ));
                }
            };
            cache.remove(&name);
            Ok(existed)
        })
        .await
    }
}
