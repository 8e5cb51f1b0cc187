//! libvirt storage volumes: the model rack manages ([`VolumeSpec`]), its XML in both
//! directions, and the operations on a [`Hypervisor`].
//!
//! A volume's content is one of:
//!
//! - empty ([`VolumeContent::Empty`]): a sparse raw file or an empty qcow2 image of the
//!   given capacity;
//! - an overlay ([`VolumeContent::Backing`]): a qcow2 image whose unwritten clusters read
//!   from a base volume (libvirt's `<backingStore>`); created in milliseconds and
//!   taking almost no space, the default when many guests share one image. The base
//!   must then never change or go away while an overlay uses it;
//! - a full copy ([`VolumeContent::CloneOf`]) made by the hypervisor
//!   (`virStorageVolCreateXMLFrom`, `qemu-img convert` for file pools);
//! - an upload ([`VolumeContent::Upload`]) of a local file or an HTTP(S) URL, streamed
//!   sparse (see `upload.rs`) and checked against its SHA-256. A local file is checked
//!   before anything is created; a download is checked as it streams, and the volume is
//!   deleted if the sum differs.
//!
//! # What changes in place, what forces replacement
//!
//! Only the capacity changes in place, and only upwards (`virStorageVolResize`; for
//! qcow2 `qemu-img resize`): a smaller capacity is refused ([`LibvirtError::Shrink`])
//! before anything is touched, since the guest's data at the end would be lost. The
//! pool, name, format and content force replacement ([`VOLUME_REPLACE_ATTRIBUTES`]).
//!
//! Uploads open a libvirt connection of their own on a blocking thread, so a long
//! upload neither holds the hypervisor's shared connection nor runs into its per-call
//! timeout.

mod content;
mod ops;
pub(crate) mod spec;
mod stream_hole;
pub(crate) mod upload;
mod xml;

pub(crate) use ops::lookup_volume;
pub use spec::{
    SourceLocation, UploadSource, VOLUME_REPLACE_ATTRIBUTES, VolumeContent, VolumeFormat,
    VolumeRef, VolumeSpec, VolumeSpecError, check_volume_name, check_volume_pool,
};
pub use xml::{BackingStore, VolumeState, parse_volume_xml};
