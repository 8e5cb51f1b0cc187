//! The one volume the domain code writes itself: the cloud-init seed (`<vm>-cidata.iso`),
//! a raw volume created by XML in the VM's pool and filled from memory through a
//! `virStorageVolUpload` stream, so nothing is written to the local disk.
//!
//! Kept apart on purpose: it is a stop-gap until the general volume support
//! (`volume.rs`) offers create-and-upload, and these two functions are all the domain
//! code needs from it.

use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;

use crate::libvirt::connection::Link;
use crate::libvirt::connection::not_found;
use crate::libvirt::error::{LibvirtError, ObjectKind, missing_as_none};
use crate::libvirt::xml::Element;
use virt::error::ErrorNumber;

/// How much one `virStreamSend` carries (libvirt's own RPC limit is 256 KiB).
const UPLOAD_CHUNK: usize = 256 * 1024;

fn lookup_pool(link: &Link<'_>, pool: &str) -> Result<StoragePool, LibvirtError> {
    match link.conn().lookup_storage_pool_by_name(pool) {
        Ok(p) => Ok(p),
        Err(e) if e.code().is(virt::error::ErrorNumber::NoStoragePool) => {
            Err(not_found(link, ObjectKind::StoragePool, pool.to_owned()))
        }
        Err(e) => Err(link.fail(format!("look up storage pool {pool:?}"), e)),
    }
}

fn lookup_volume(
    link: &Link<'_>,
    pool: &StoragePool,
    pool_name: &str,
    name: &str,
) -> Result<Option<StorageVol>, LibvirtError> {
    missing_as_none(
        pool.lookup_storage_vol_by_name(name),
        ErrorNumber::NoStorageVolume,
    )
    .map_err(|e| link.fail(format!("look up volume {name:?} in pool {pool_name:?}"), e))
}

/// Creates (or replaces) the raw volume `name` in `pool` holding exactly `bytes`.
pub(crate) fn upload(
    link: &Link<'_>,
    pool_name: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), LibvirtError> {
    let pool = lookup_pool(link, pool_name)?;
    let action = || format!("write volume {name:?} in pool {pool_name:?}");
    if let Some(old) = lookup_volume(link, &pool, pool_name, name)? {
        old.delete(0).map_err(|e| link.fail(action(), e))?;
    }
    let len = bytes.len() as u64;
    let xml = Element::new("volume")
        .child(Element::new("name").with_text(name))
        .child(
            Element::new("capacity")
                .attr("unit", "bytes")
                .with_text(&len.to_string()),
        )
        .child(Element::new("target").child(Element::new("format").attr("type", "raw")))
        .to_xml();
    let vol = StorageVol::create_xml(&pool, &xml, 0).map_err(|e| link.fail(action(), e))?;
    let sent = (|| {
        let stream = Stream::new(link.conn(), 0)?;
        vol.upload(&stream, 0, len, 0)?;
        let mut rest = bytes;
        while !rest.is_empty() {
            let n = rest.len().min(UPLOAD_CHUNK);
            let wrote = stream.send(&rest[..n])?;
            let wrote = usize::try_from(wrote).unwrap_or(0).min(n);
            rest = &rest[wrote..];
        }
        stream.finish()
    })();
    if let Err(e) = sent {
        let _ = vol.delete(0);
        return Err(link.fail(action(), e));
    }
    Ok(())
}

/// Whether volume `name` exists in `pool`; [`LibvirtError::NotFound`] for a missing
/// pool.
pub(crate) fn exists(link: &Link<'_>, pool_name: &str, name: &str) -> Result<bool, LibvirtError> {
    let pool = lookup_pool(link, pool_name)?;
    Ok(lookup_volume(link, &pool, pool_name, name)?.is_some())
}

/// Deletes the volume `name` from `pool`; whether it existed. A missing pool counts as
/// a missing volume.
pub(crate) fn delete(link: &Link<'_>, pool_name: &str, name: &str) -> Result<bool, LibvirtError> {
    let pool = match lookup_pool(link, pool_name) {
        Ok(p) => p,
        Err(LibvirtError::NotFound { .. }) => return Ok(false),
        Err(e) => return Err(e),
    };
    match lookup_volume(link, &pool, pool_name, name)? {
        Some(vol) => {
            vol.delete(0).map_err(|e| {
                link.fail(format!("delete volume {name:?} in pool {pool_name:?}"), e)
            })?;
            Ok(true)
        }
        None => Ok(false),
    }
}
