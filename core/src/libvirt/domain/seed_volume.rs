//! The one volume the domain code writes itself: the cloud-init seed (`<vm>-cidata.iso`),
//! a raw volume created by XML in the VM's pool and filled from memory through a
//! `virStorageVolUpload` stream, so nothing is written to the local disk.
//!
//! It finds pools and volumes with the volume module's lookups; creating and filling it
//! stays here, since the general volume upload streams from files and URLs on a
//! connection of its own, while the seed is a few kilobytes already in memory.

use virt::storage_vol::StorageVol;
use virt::stream::Stream;

use crate::libvirt::connection::Link;
use crate::libvirt::error::LibvirtError;
use crate::libvirt::pool::require_pool;
use crate::libvirt::volume::lookup_volume;
use crate::libvirt::xml::Element;

/// How much one `virStreamSend` carries (libvirt's own RPC limit is 256 KiB).
const UPLOAD_CHUNK: usize = 256 * 1024;

/// Creates (or replaces) the raw volume `name` in `pool` holding exactly `bytes`.
pub(crate) fn upload(
    link: &Link<'_>,
    pool_name: &str,
    name: &str,
    bytes: &[u8],
) -> Result<(), LibvirtError> {
    let pool = require_pool(link, pool_name)?;
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
    let pool = require_pool(link, pool_name)?;
    Ok(lookup_volume(link, &pool, pool_name, name)?.is_some())
}

/// Deletes the volume `name` from `pool`; whether it existed. A missing pool counts as
/// a missing volume.
pub(crate) fn delete(link: &Link<'_>, pool_name: &str, name: &str) -> Result<bool, LibvirtError> {
    let pool = match require_pool(link, pool_name) {
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
