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

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt::storage_pool::StoragePool;
use virt::storage_vol::StorageVol;
use virt::stream::Stream;
use virt::sys;

use super::connection::{Hypervisor, Link, Listing};
use super::error::{LibvirtError, ObjectKind};
use super::pool::{
    PoolKind, lookup_pool, parse_pool_xml, pool_error, require_pool, valid_object_name,
};
use super::stream_hole::send_hole;
use super::upload::{
    self, DOWNLOAD_QUEUE, Hasher, Piece, Sink, SparseWriter, UploadError, UploadReport,
};
use super::xml::Element;
use crate::size::ByteSize;

/// A volume's image format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum VolumeFormat {
    /// Plain bytes, as the guest sees them.
    Raw,
    /// QEMU copy-on-write image: sparse, can have a backing volume.
    Qcow2,
}

impl VolumeFormat {
    /// The name in configuration and in libvirt's XML.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Raw => "raw",
            Self::Qcow2 => "qcow2",
        }
    }
}

impl fmt::Display for VolumeFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for VolumeFormat {
    type Err = VolumeSpecError;

    fn from_str(s: &str) -> Result<Self, VolumeSpecError> {
        match s {
            "raw" => Ok(Self::Raw),
            "qcow2" => Ok(Self::Qcow2),
            other => Err(VolumeSpecError::Format(other.to_owned())),
        }
    }
}

/// Another volume, by name in the same pool (`base`) or in a named pool (`pool/base`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VolumeRef {
    /// The pool, if not the volume's own.
    pub pool: Option<String>,
    /// The volume's name.
    pub name: String,
}

impl VolumeRef {
    /// The pool of the referenced volume, given the referring volume's pool.
    pub fn pool_or<'a>(&'a self, own: &'a str) -> &'a str {
        self.pool.as_deref().unwrap_or(own)
    }
}

impl FromStr for VolumeRef {
    type Err = VolumeSpecError;

    fn from_str(s: &str) -> Result<Self, VolumeSpecError> {
        let r = match s.split_once('/') {
            Some((pool, name)) => Self {
                pool: Some(pool.to_owned()),
                name: name.to_owned(),
            },
            None => Self {
                pool: None,
                name: s.to_owned(),
            },
        };
        let pool_ok = r.pool.as_deref().is_none_or(valid_object_name);
        if !pool_ok || !valid_object_name(&r.name) {
            return Err(VolumeSpecError::Reference(s.to_owned()));
        }
        Ok(r)
    }
}

impl fmt::Display for VolumeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.pool {
            Some(pool) => write!(f, "{pool}/{}", self.name),
            None => f.write_str(&self.name),
        }
    }
}

/// Where an upload's content comes from.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum SourceLocation {
    /// A file on the machine running rack.
    File(PathBuf),
    /// An `http://` or `https://` URL, fetched by the machine running rack.
    Url(String),
}

impl fmt::Display for SourceLocation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::File(p) => write!(f, "file {}", p.display()),
            Self::Url(u) => write!(f, "{u}"),
        }
    }
}

/// An upload: where from, and the SHA-256 the content must have.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UploadSource {
    /// Where from.
    pub location: SourceLocation,
    /// The expected SHA-256, 64 hex digits (either case).
    pub sha256: String,
}

/// What a new volume holds.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum VolumeContent {
    /// Nothing: zeros.
    Empty,
    /// A qcow2 overlay on another volume.
    Backing(VolumeRef),
    /// A full copy of another volume.
    CloneOf(VolumeRef),
    /// Bytes from a file or URL.
    Upload(UploadSource),
}

/// A volume as rack manages it.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct VolumeSpec {
    /// The pool it lives in.
    pub pool: String,
    /// Its name, unique in the pool (in a dir pool, the file name).
    pub name: String,
    /// Its image format.
    pub format: VolumeFormat,
    /// Its capacity (the size the guest sees) in bytes; `None` for content that brings
    /// its own (the base's, the copied volume's, the uploaded image's).
    pub capacity: Option<u64>,
    /// What it holds when created.
    pub content: VolumeContent,
}

impl VolumeSpec {
    /// An empty volume of `capacity` bytes.
    pub fn empty(
        pool: impl Into<String>,
        name: impl Into<String>,
        format: VolumeFormat,
        capacity: u64,
    ) -> Self {
        Self {
            pool: pool.into(),
            name: name.into(),
            format,
            capacity: Some(capacity),
            content: VolumeContent::Empty,
        }
    }
}

/// The attributes whose change forces the volume to be replaced.
pub const VOLUME_REPLACE_ATTRIBUTES: &[&str] = &[
    "pool",
    "name",
    "format",
    "base_volume",
    "clone_of",
    "source_file",
    "source_url",
    "sha256",
];

/// Why a volume specification or a volume's XML cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VolumeSpecError {
    /// The name is empty or has characters libvirt refuses.
    #[error(
        "Volume name {0:?} is not valid; use a non-empty name without '/', spaces, quotes, '<', '>' or '&' (not . or ..)"
    )]
    Name(String),
    /// The pool name is not valid.
    #[error(
        "Storage pool name {0:?} is not valid; use a non-empty name without '/', spaces, quotes, '<', '>' or '&'"
    )]
    Pool(String),
    /// A reference to another volume is not valid.
    #[error("Volume reference {0:?} is not valid; write `name` (same pool) or `pool/name`")]
    Reference(String),
    /// An unknown format.
    #[error("Volume format {0:?} is not one rack manages; use raw or qcow2")]
    Format(String),
    /// An empty volume needs a size.
    #[error("An empty volume needs a size; set size (e.g. \"20GiB\")")]
    CapacityRequired,
    /// A size of zero.
    #[error("A volume's size must be more than 0 bytes")]
    ZeroCapacity,
    /// An overlay must be qcow2.
    #[error("A volume on a base volume is a qcow2 overlay; set format = \"qcow2\"")]
    BackingNeedsQcow2,
    /// The checksum is not 64 hex digits.
    #[error("sha256 {0:?} is not a SHA-256 digest; give 64 hexadecimal digits")]
    Sha256(String),
    /// A URL rack cannot fetch.
    #[error("Source URL {0:?} is not valid; use an http:// or https:// URL")]
    Url(String),
    /// An empty file name.
    #[error("Source file name is empty")]
    File,
    /// A size below the size of the content.
    #[error(
        "Size {wanted} is smaller than {source_name} ({source_size}); raise size to at least {source_size}, or leave it unset"
    )]
    SmallerThanSource {
        /// The base, copied volume or image.
        source_name: String,
        /// Its size.
        source_size: ByteSize,
        /// The size asked for.
        wanted: ByteSize,
    },
    /// A content that the pool's kind cannot hold.
    #[error("Storage pool {pool:?} is a {kind} pool, which cannot hold {what}; use a dir pool")]
    NotForPool {
        /// The pool.
        pool: String,
        /// Its kind.
        kind: &'static str,
        /// What it cannot hold.
        what: &'static str,
    },
    /// The XML is not well-formed.
    #[error("Volume XML is not well-formed: {0}")]
    Syntax(String),
    /// The XML is well-formed but not a volume rack can read.
    #[error("Volume XML cannot be read by rack: {0}")]
    Unsupported(String),
}

/// Whether `s` is a SHA-256 digest in hex.
fn is_sha256(s: &str) -> bool {
    s.len() == 64 && s.chars().all(|c| c.is_ascii_hexdigit())
}

/// Checks a volume's name as libvirt needs it: a file name in its pool's directory (no
/// '/', not `.` or `..`) that libvirt can keep in its XML.
pub fn check_volume_name(name: &str) -> Result<(), VolumeSpecError> {
    if valid_object_name(name) {
        Ok(())
    } else {
        Err(VolumeSpecError::Name(name.to_owned()))
    }
}

/// Checks the name of a volume's pool.
pub fn check_volume_pool(pool: &str) -> Result<(), VolumeSpecError> {
    if valid_object_name(pool) {
        Ok(())
    } else {
        Err(VolumeSpecError::Pool(pool.to_owned()))
    }
}

impl VolumeSpec {
    /// Checks what can be checked without the hypervisor.
    pub fn validate(&self) -> Result<(), VolumeSpecError> {
        check_volume_pool(&self.pool)?;
        check_volume_name(&self.name)?;
        if self.capacity == Some(0) {
            return Err(VolumeSpecError::ZeroCapacity);
        }
        match &self.content {
            VolumeContent::Empty if self.capacity.is_none() => {
                return Err(VolumeSpecError::CapacityRequired);
            }
            VolumeContent::Backing(_) if self.format != VolumeFormat::Qcow2 => {
                return Err(VolumeSpecError::BackingNeedsQcow2);
            }
            VolumeContent::Upload(up) => {
                if !is_sha256(&up.sha256) {
                    return Err(VolumeSpecError::Sha256(up.sha256.clone()));
                }
                match &up.location {
                    SourceLocation::Url(u)
                        if !(u.starts_with("http://") || u.starts_with("https://")) =>
                    {
                        return Err(VolumeSpecError::Url(u.clone()));
                    }
                    SourceLocation::File(p) if p.as_os_str().is_empty() => {
                        return Err(VolumeSpecError::File);
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        Ok(())
    }
}

// ---- XML ----------------------------------------------------------------------------

/// What libvirt needs to create a volume.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NewVolume<'a> {
    pub name: &'a str,
    pub format: VolumeFormat,
    pub capacity: u64,
    /// Allocate nothing up front (sparse file); otherwise allocate it all.
    pub sparse: bool,
    /// The backing volume's path and format.
    pub backing: Option<(&'a str, &'a str)>,
}

/// libvirt's volume XML for a new volume.
pub(crate) fn volume_xml(v: &NewVolume<'_>) -> String {
    let allocation = if v.sparse { 0 } else { v.capacity };
    let mut root = Element::new("volume")
        .child(Element::new("name").with_text(v.name))
        .child(
            Element::new("capacity")
                .attr("unit", "bytes")
                .with_text(&v.capacity.to_string()),
        )
        .child(
            Element::new("allocation")
                .attr("unit", "bytes")
                .with_text(&allocation.to_string()),
        )
        .child(
            Element::new("target").child(Element::new("format").attr("type", v.format.as_str())),
        );
    if let Some((path, format)) = v.backing {
        root = root.child(
            Element::new("backingStore")
                .child(Element::new("path").with_text(path))
                .child(Element::new("format").attr("type", format)),
        );
    }
    root.to_xml()
}

/// A volume's backing file, as libvirt reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BackingStore {
    /// Its path on the hypervisor.
    pub path: String,
    /// Its format, if libvirt reports one.
    pub format: Option<String>,
}

/// What rack reads from a volume's XML.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeXml {
    /// The volume's name.
    pub name: String,
    /// libvirt's key (for file pools, the path).
    pub key: String,
    /// The path on the hypervisor.
    pub path: String,
    /// The format libvirt reports (`raw`, `qcow2`, ... or none for LVM volumes).
    pub format: Option<String>,
    /// Capacity in bytes.
    pub capacity: u64,
    /// Bytes allocated on the storage.
    pub allocation: u64,
    /// The backing file, for an overlay.
    pub backing: Option<BackingStore>,
}

fn unsupported(msg: impl Into<String>) -> VolumeSpecError {
    VolumeSpecError::Unsupported(msg.into())
}

/// A `<capacity>`/`<allocation>` element in bytes (libvirt writes `unit='bytes'`, older
/// or hand-written XML may use any of libvirt's units).
fn parse_amount(e: &Element) -> Result<u64, VolumeSpecError> {
    let unit = match e.get("unit") {
        None | Some("bytes") => "",
        Some(u) => u,
    };
    format!("{}{unit}", e.text)
        .parse::<ByteSize>()
        .map(ByteSize::bytes)
        .map_err(|err| unsupported(format!("<{}>: {err}", e.name)))
}

/// Reads libvirt's XML of a volume.
pub fn parse_volume_xml(xml: &str) -> Result<VolumeXml, VolumeSpecError> {
    let root = Element::parse(xml).map_err(VolumeSpecError::Syntax)?;
    if root.name != "volume" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <volume>",
            root.name
        )));
    }
    let text = |name: &str| root.first(name).map(|e| e.text.clone()).unwrap_or_default();
    let name = text("name");
    if name.is_empty() {
        return Err(unsupported("the volume has no <name>"));
    }
    let amount = |name: &str| match root.first(name) {
        Some(e) => parse_amount(e),
        None => Ok(0),
    };
    let target = root.first("target");
    let path = target
        .and_then(|t| t.first("path"))
        .map(|p| p.text.clone())
        .unwrap_or_default();
    let format = target
        .and_then(|t| t.first("format"))
        .and_then(|f| f.get("type"))
        .map(str::to_owned);
    let backing = root
        .first("backingStore")
        .and_then(|b| {
            let path = b.first("path")?.text.clone();
            Some(BackingStore {
                path,
                format: b
                    .first("format")
                    .and_then(|f| f.get("type"))
                    .map(str::to_owned),
            })
        })
        .filter(|b| !b.path.is_empty());
    Ok(VolumeXml {
        key: text("key"),
        capacity: amount("capacity")?,
        allocation: amount("allocation")?,
        name,
        path,
        format,
        backing,
    })
}

// ---- Operations ---------------------------------------------------------------------

/// A volume as libvirt holds it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VolumeState {
    /// The pool it is in.
    pub pool: String,
    /// Its name.
    pub name: String,
    /// libvirt's key (for file pools, the path).
    pub key: String,
    /// The path on the hypervisor.
    pub path: String,
    /// The format libvirt reports, if any (`raw`, `qcow2`, ...).
    pub format: Option<String>,
    /// Capacity in bytes (the size the guest sees).
    pub capacity: u64,
    /// Bytes allocated on the storage.
    pub allocation: u64,
    /// The backing file, for an overlay.
    pub backing: Option<BackingStore>,
    /// The XML libvirt reports.
    pub xml: String,
}

impl Hypervisor {
    /// This hypervisor's listing of the volumes in `pool`.
    fn volume_cache(&self, pool: &str) -> Arc<Listing<VolumeState>> {
        self.caches().scoped().scope(pool)
    }
}

fn qualified(pool: &str, name: &str) -> String {
    format!("{pool}/{name}")
}

fn not_found(link: &Link<'_>, kind: ObjectKind, name: String) -> LibvirtError {
    LibvirtError::NotFound {
        uri: link.uri().to_owned(),
        kind,
        name,
    }
}

/// Maps a libvirt error about volume `pool/name` to the variant that says what to check.
fn volume_error(
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

fn lookup_volume(
    link: &Link<'_>,
    pool: &StoragePool,
    pool_name: &str,
    name: &str,
) -> Result<Option<StorageVol>, LibvirtError> {
    match pool.lookup_storage_vol_by_name(name) {
        Ok(vol) => Ok(Some(vol)),
        Err(e) if e.code().is(virt::error::ErrorNumber::NoStorageVolume) => Ok(None),
        Err(e) => Err(volume_error(
            link,
            format!("look up volume {:?}", qualified(pool_name, name)),
            pool_name,
            name,
            e,
        )),
    }
}

/// Reads one volume's state (on the connection's thread).
fn read_volume(
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
    let parsed = parse_volume_xml(&xml).map_err(|source| LibvirtError::VolumeSpec {
        pool: pool_name.to_owned(),
        name: name.clone(),
        source,
    })?;
    let path = vol.path().unwrap_or(parsed.path);
    Ok(VolumeState {
        pool: pool_name.to_owned(),
        name,
        key: parsed.key,
        path,
        format: parsed.format,
        capacity: parsed.capacity,
        allocation: parsed.allocation,
        backing: parsed.backing,
        xml,
    })
}

/// Asks libvirt to look at the pool's storage again (files added or removed behind its
/// back). libvirt refuses while an upload into the pool finishes; that is retried for a
/// few seconds, then given up silently (the listing is then as fresh as libvirt's).
fn refresh_pool_storage(pool: &StoragePool) {
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
fn pool_kind(pool: &StoragePool) -> Option<PoolKind> {
    let xml = pool.xml_desc(0).ok()?;
    parse_pool_xml(&xml, false).ok().map(|s| s.kind)
}

fn spec_error(spec: &VolumeSpec, source: VolumeSpecError) -> LibvirtError {
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

/// libvirt's sink for a [`SparseWriter`]: data with `virStreamSend` (which may take
/// less than offered), holes with `virStreamSendHole`.
struct StreamSink<'a> {
    stream: &'a Stream,
}

impl Sink for StreamSink<'_> {
    type Error = virt::error::Error;

    fn data(&mut self, mut buf: &[u8]) -> Result<(), Self::Error> {
        while !buf.is_empty() {
            let sent = self.stream.send(buf)?;
            let sent = usize::try_from(sent).unwrap_or(0).min(buf.len());
            if sent == 0 {
                return Err(virt::error::Error::last_error());
            }
            buf = &buf[sent..];
        }
        Ok(())
    }

    fn hole(&mut self, mut len: u64) -> Result<(), Self::Error> {
        while len > 0 {
            let piece = len.min(i64::MAX as u64);
            send_hole(self.stream, piece as i64)?;
            len -= piece;
        }
        Ok(())
    }
}

/// Why pumping content into a stream stopped.
enum Pump {
    /// libvirt refused.
    Stream(virt::error::Error),
    /// The source failed or did not check out.
    Source(UploadError),
}

impl From<virt::error::Error> for Pump {
    fn from(e: virt::error::Error) -> Self {
        Self::Stream(e)
    }
}

/// What feeds an upload, on the blocking thread.
enum Feed {
    /// A local file, already checked.
    File {
        path: PathBuf,
        checked: upload::CheckedFile,
    },
    /// Chunks from the download task; `None` ends the content, committed only if the
    /// last message said so.
    Download(tokio::sync::mpsc::Receiver<DownloadPiece>),
}

/// One message from the download task.
enum DownloadPiece {
    Data(bytes::Bytes),
    /// The content is complete and checked: finish the stream.
    Commit,
    /// The content failed: abort the stream.
    Abort,
}

/// Streams `feed` into volume `pool/name` over a connection of its own. Blocking.
fn stream_upload(
    hv: &Hypervisor,
    pool_name: &str,
    name: &str,
    feed: Feed,
) -> Result<UploadReport, LibvirtError> {
    let uri = hv.uri().to_owned();
    let conn = hv.open_dedicated()?;
    let action = format!("upload into volume {:?}", qualified(pool_name, name));
    let fail = |e: virt::error::Error| super::error::classify(&uri, action.clone(), None, e);
    let pool = conn.lookup_storage_pool_by_name(pool_name).map_err(fail)?;
    let vol = pool.lookup_storage_vol_by_name(name).map_err(fail)?;
    let stream = Stream::new(&conn, 0).map_err(fail)?;
    vol.upload(&stream, 0, 0, sys::VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
        .map_err(fail)?;
    let started = Instant::now();
    let mut writer = SparseWriter::new(StreamSink { stream: &stream });
    let pumped: Result<bool, Pump> = match feed {
        Feed::File { path, checked } => {
            let file_err = |source| {
                Pump::Source(UploadError::File {
                    path: path.clone(),
                    source,
                })
            };
            (|| {
                let file = std::fs::File::open(&path).map_err(file_err)?;
                upload::read_sparse::<PumpIo>(&file, checked.len, |piece| {
                    match piece {
                        Piece::Data(b) => writer.data(b),
                        Piece::Hole(h) => writer.hole(h),
                    }
                    .map_err(PumpIo::Stream)
                })
                .map_err(|e| match e {
                    PumpIo::Io(e) => file_err(e),
                    PumpIo::Stream(e) => Pump::Stream(e),
                })?;
                let meta = file.metadata().map_err(file_err)?;
                if meta.len() != checked.len || meta.modified().ok() != checked.modified {
                    return Err(Pump::Source(UploadError::Changed(path.clone())));
                }
                Ok(true)
            })()
        }
        Feed::Download(mut rx) => (|| {
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    DownloadPiece::Data(chunk) => writer.data(&chunk)?,
                    DownloadPiece::Commit => return Ok(true),
                    DownloadPiece::Abort => return Ok(false),
                }
            }
            Ok(false)
        })(),
    };
    let outcome = match pumped {
        Ok(true) => writer
            .finish()
            .map_err(Pump::Stream)
            .map(|(_, report)| report),
        Ok(false) => {
            let _ = stream.abort();
            // The download task reports why.
            return Ok(UploadReport::default());
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(mut report) => {
            stream.finish().map_err(fail)?;
            report.elapsed = started.elapsed();
            Ok(report)
        }
        Err(e) => {
            let _ = stream.abort();
            match e {
                Pump::Stream(e) => Err(fail(e)),
                Pump::Source(source) => Err(LibvirtError::Upload {
                    pool: pool_name.to_owned(),
                    name: name.to_owned(),
                    source: Arc::new(source),
                }),
            }
        }
    }
}

/// The two ways reading a file for an upload fails.
enum PumpIo {
    Io(std::io::Error),
    Stream(virt::error::Error),
}

impl From<std::io::Error> for PumpIo {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// The HTTP client for downloads (system roots for https).
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest's rustls backend needs a crypto provider even for plain http: the
    // workspace's, ring, unless the process installed one already.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
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

    /// Creates the volume with its content, and leaves nothing behind when any step
    /// fails. Idempotent for volumes whose content rack does not write: an empty volume
    /// or an overlay of that name defined as planned (format, capacity, backing store:
    /// what a create that timed out and that libvirtd carried out later leaves) is
    /// adopted. Any other volume (or file) of that name, a copy or an upload included, is
    /// [`LibvirtError::Exists`], and is left alone.
    pub async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeState, LibvirtError> {
        self.create_volume_reporting(spec).await.map(|(s, _)| s)
    }

    /// Like [`Hypervisor::create_volume`], also returning what an upload sent.
    pub async fn create_volume_reporting(
        &self,
        spec: &VolumeSpec,
    ) -> Result<(VolumeState, Option<UploadReport>), LibvirtError> {
        spec.validate().map_err(|e| spec_error(spec, e))?;
        match &spec.content {
            VolumeContent::Upload(source) => {
                let (state, report) = self.create_uploaded(spec, source).await?;
                Ok((state, Some(report)))
            }
            _ => Ok((self.create_in_pool(spec, true).await?, None)),
        }
    }

    /// Empty volumes, overlays and copies: one call on the connection's thread. With
    /// `adopt`, an existing volume defined exactly as planned is taken over (see
    /// [`as_planned`]); without, any existing volume is [`LibvirtError::Exists`].
    async fn create_in_pool(
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
            let state = read_volume(link, pool_name, &vol)?;
            cache.put(name, state.clone());
            Ok(state)
        })
        .await
    }

    /// An upload: check a file's sum first, create a raw volume of the content's length,
    /// stream the content into it, let libvirt look at what arrived (a qcow2 image is
    /// then seen as one), check its format, and grow it to the asked capacity.
    async fn create_uploaded(
        &self,
        spec: &VolumeSpec,
        source: &UploadSource,
    ) -> Result<(VolumeState, UploadReport), LibvirtError> {
        let upload_err = |e: UploadError| LibvirtError::Upload {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            source: Arc::new(e),
        };
        let expected = source.sha256.to_ascii_lowercase();
        let source_name = source.location.to_string();

        // 1. The source: a file is checked completely before anything is created.
        let (feed_file, response, length) = match &source.location {
            SourceLocation::File(path) => {
                let p = path.clone();
                let checked = tokio::task::spawn_blocking(move || upload::check_file(&p))
                    .await
                    .map_err(|_| upload_err(UploadError::Interrupted(source_name.clone())))?
                    .map_err(upload_err)?;
                if checked.sha256 != expected {
                    return Err(upload_err(UploadError::Checksum {
                        source_name,
                        expected,
                        actual: checked.sha256,
                    }));
                }
                if checked.format != spec.format {
                    return Err(upload_err(UploadError::Format {
                        source_name,
                        declared: spec.format,
                        found: checked.format,
                    }));
                }
                let len = checked.len;
                (
                    Some(Feed::File {
                        path: path.clone(),
                        checked,
                    }),
                    None,
                    len,
                )
            }
            SourceLocation::Url(url) => {
                let download = |e| {
                    upload_err(UploadError::Download {
                        url: url.clone(),
                        source: e,
                    })
                };
                let client = http_client().map_err(download)?;
                let response = client.get(url).send().await.map_err(download)?;
                if !response.status().is_success() {
                    return Err(upload_err(UploadError::Status {
                        url: url.clone(),
                        status: response.status().as_u16(),
                    }));
                }
                let len = response.content_length().unwrap_or(0);
                (None, Some(response), len)
            }
        };

        // 2. A raw volume to stream into: libvirt writes what arrives, and its look at
        // the file afterwards tells the format.
        let raw = VolumeSpec {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            format: VolumeFormat::Raw,
            capacity: Some(length.max(1)),
            content: VolumeContent::Empty,
        };
        if spec.format == VolumeFormat::Qcow2
            && let Some(PoolKind::Logical { .. }) = self
                .pool(&spec.pool)
                .await?
                .and_then(|p| p.spec.ok())
                .map(|s| s.kind)
        {
            return Err(spec_error(
                spec,
                VolumeSpecError::NotForPool {
                    pool: spec.pool.clone(),
                    kind: "logical",
                    what: "qcow2 volumes",
                },
            ));
        }
        // Never adopted: the upload would write over a volume rack may not own.
        self.create_in_pool(&raw, false).await?;

        // 3. Stream.
        let streamed = match (feed_file, response) {
            (Some(feed), _) => {
                let hv = self.clone();
                let (pool, name) = (spec.pool.clone(), spec.name.clone());
                tokio::task::spawn_blocking(move || stream_upload(&hv, &pool, &name, feed))
                    .await
                    .unwrap_or_else(|_| {
                        Err(upload_err(UploadError::Interrupted(source_name.clone())))
                    })
            }
            (None, Some(response)) => {
                self.stream_download(spec, response, &expected, &source_name)
                    .await
            }
            (None, None) => Err(upload_err(UploadError::Interrupted(source_name.clone()))),
        };
        let report = match streamed {
            Ok(mut report) => {
                // A file's sum was checked before; a download's while it streamed.
                report.sha256 = expected.clone();
                report
            }
            Err(e) => {
                let _ = self.delete_volume(&spec.pool, &spec.name).await;
                return Err(e);
            }
        };

        // 4. What arrived.
        match self.finish_upload(spec, &source_name).await {
            Ok(state) => Ok((state, report)),
            Err(e) => {
                let _ = self.delete_volume(&spec.pool, &spec.name).await;
                Err(e)
            }
        }
    }

    /// Streams a download: chunks go to the blocking uploader as they arrive, the sum is
    /// computed on the way, and the stream is finished only if it matches.
    async fn stream_download(
        &self,
        spec: &VolumeSpec,
        mut response: reqwest::Response,
        expected: &str,
        source_name: &str,
    ) -> Result<UploadReport, LibvirtError> {
        let upload_err = |e: UploadError| LibvirtError::Upload {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            source: Arc::new(e),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(DOWNLOAD_QUEUE);
        let hv = self.clone();
        let (pool, name) = (spec.pool.clone(), spec.name.clone());
        let uploader = tokio::task::spawn_blocking(move || {
            stream_upload(&hv, &pool, &name, Feed::Download(rx))
        });
        let mut hasher = Hasher::default();
        let mut head: Vec<u8> = Vec::new();
        let url = match &spec.content {
            VolumeContent::Upload(UploadSource {
                location: SourceLocation::Url(u),
                ..
            }) => u.clone(),
            _ => source_name.to_owned(),
        };
        // Ok(true): complete and checked; Ok(false): the uploader stopped first (it
        // says why).
        let downloaded: Result<bool, UploadError> = async {
            loop {
                let chunk = response.chunk().await.map_err(|e| UploadError::Download {
                    url: url.clone(),
                    source: e,
                })?;
                let Some(chunk) = chunk else { break };
                if head.len() < 4 {
                    head.extend(chunk.iter().take(4 - head.len()));
                    let found = upload::detect_format(&head);
                    if head.len() == 4 && found != spec.format {
                        return Err(UploadError::Format {
                            source_name: source_name.to_owned(),
                            declared: spec.format,
                            found,
                        });
                    }
                }
                hasher.data(&chunk);
                if tx.send(DownloadPiece::Data(chunk)).await.is_err() {
                    return Ok(false);
                }
            }
            let actual = std::mem::take(&mut hasher).hex();
            if actual != expected {
                return Err(UploadError::Checksum {
                    source_name: source_name.to_owned(),
                    expected: expected.to_owned(),
                    actual,
                });
            }
            Ok(true)
        }
        .await;
        let last = if matches!(downloaded, Ok(true)) {
            DownloadPiece::Commit
        } else {
            DownloadPiece::Abort
        };
        let _ = tx.send(last).await;
        drop(tx);
        let uploaded = uploader
            .await
            .unwrap_or_else(|_| Err(upload_err(UploadError::Interrupted(url.clone()))));
        match (downloaded, uploaded) {
            (Err(e), _) => Err(upload_err(e)),
            (Ok(_), Err(e)) => Err(e),
            (Ok(true), Ok(report)) => Ok(report),
            (Ok(false), Ok(_)) => Err(upload_err(UploadError::Interrupted(url))),
        }
    }

    /// After an upload: libvirt looks at the file again; the format must be the one
    /// declared, the image self-contained, and no larger than the asked capacity, which
    /// it is grown to.
    async fn finish_upload(
        &self,
        spec: &VolumeSpec,
        source_name: &str,
    ) -> Result<VolumeState, LibvirtError> {
        let spec = spec.clone();
        let source_name = source_name.to_owned();
        let cache = self.volume_cache(&spec.pool);
        let label = qualified(&spec.pool, &spec.name);
        self.call(format!("check uploaded volume {label:?}"), move |link| {
            let (pool_name, name) = (spec.pool.as_str(), spec.name.as_str());
            let upload_err = |e: UploadError| LibvirtError::Upload {
                pool: pool_name.to_owned(),
                name: name.to_owned(),
                source: Arc::new(e),
            };
            let pool = require_pool(link, pool_name)?;
            refresh_pool_storage(&pool);
            let vol = lookup_volume(link, &pool, pool_name, name)?
                .ok_or_else(|| not_found(link, ObjectKind::Volume, label.clone()))?;
            let mut state = read_volume(link, pool_name, &vol)?;
            let found = state.format.as_deref().unwrap_or("raw");
            let is_logical = matches!(pool_kind(&pool), Some(PoolKind::Logical { .. }));
            if !is_logical && found != spec.format.as_str() {
                let found = found.parse().unwrap_or(VolumeFormat::Raw);
                return Err(upload_err(UploadError::Format {
                    source_name,
                    declared: spec.format,
                    found,
                }));
            }
            if let Some(backing) = &state.backing {
                return Err(upload_err(UploadError::Backing {
                    source_name,
                    backing: backing.path.clone(),
                }));
            }
            if let Some(wanted) = spec.capacity {
                if wanted < state.capacity {
                    return Err(upload_err(UploadError::TooLarge {
                        source_name,
                        image: state.capacity,
                        wanted,
                    }));
                }
                if wanted > state.capacity {
                    vol.resize(wanted, 0).map_err(|e| {
                        volume_error(link, format!("resize volume {label:?}"), pool_name, name, e)
                    })?;
                    state = read_volume(link, pool_name, &vol)?;
                }
            }
            cache.put(name, state.clone());
            Ok(state)
        })
        .await
    }

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
            let state = read_volume(link, &pool_name, &vol)?;
            cache.put(&name, state.clone());
            Ok(state)
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

#[cfg(test)]
mod tests {
    use super::*;

    /// What libvirt 9.0 answers for an overlay in a dir pool (`virsh vol-dumpxml`).
    const LIBVIRT_OVERLAY: &str = "<volume type='file'>
  <name>vm1.qcow2</name>
  <key>/srv/pool/vm1.qcow2</key>
  <capacity unit='bytes'>10737418240</capacity>
  <allocation unit='bytes'>200704</allocation>
  <physical unit='bytes'>196928</physical>
  <target>
    <path>/srv/pool/vm1.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0600</mode>
      <owner>0</owner>
      <group>0</group>
    </permissions>
    <compat>1.1</compat>
    <clusterSize unit='B'>65536</clusterSize>
    <features/>
  </target>
  <backingStore>
    <path>/srv/pool/base.qcow2</path>
    <format type='qcow2'/>
    <permissions>
      <mode>0644</mode>
    </permissions>
  </backingStore>
</volume>
";

    #[test]
    fn builds_the_xml_libvirt_expects() {
        assert_eq!(
            volume_xml(&NewVolume {
                name: "vm1.qcow2",
                format: VolumeFormat::Qcow2,
                capacity: 10 << 30,
                sparse: true,
                backing: Some(("/srv/pool/base.qcow2", "qcow2")),
            }),
            "<volume>\n  <name>vm1.qcow2</name>\n  \
             <capacity unit=\"bytes\">10737418240</capacity>\n  \
             <allocation unit=\"bytes\">0</allocation>\n  <target>\n    \
             <format type=\"qcow2\"/>\n  </target>\n  <backingStore>\n    \
             <path>/srv/pool/base.qcow2</path>\n    <format type=\"qcow2\"/>\n  \
             </backingStore>\n</volume>"
        );
        let raw = volume_xml(&NewVolume {
            name: "lv",
            format: VolumeFormat::Raw,
            capacity: 4096,
            sparse: false,
            backing: None,
        });
        assert!(
            raw.contains("<allocation unit=\"bytes\">4096</allocation>"),
            "{raw}"
        );
        assert!(!raw.contains("backingStore"), "{raw}");
    }

    #[test]
    fn parses_what_libvirt_answers() {
        let v = parse_volume_xml(LIBVIRT_OVERLAY).unwrap();
        assert_eq!(
            v,
            VolumeXml {
                name: "vm1.qcow2".into(),
                key: "/srv/pool/vm1.qcow2".into(),
                path: "/srv/pool/vm1.qcow2".into(),
                format: Some("qcow2".into()),
                capacity: 10 << 30,
                allocation: 200704,
                backing: Some(BackingStore {
                    path: "/srv/pool/base.qcow2".into(),
                    format: Some("qcow2".into()),
                }),
            }
        );
        let lv = "<volume type='block'><name>lv1</name><key>abc</key>\
                  <capacity unit='MiB'>8</capacity><allocation>8388608</allocation>\
                  <target><path>/dev/vg/lv1</path></target></volume>";
        let v = parse_volume_xml(lv).unwrap();
        assert_eq!(v.capacity, 8 << 20);
        assert_eq!(v.allocation, 8 << 20);
        assert_eq!(v.format, None);
        assert_eq!(v.backing, None);
    }

    #[test]
    fn refuses_what_it_cannot_read() {
        for xml in [
            "<pool><name>x</name></pool>",
            "<volume><capacity>1</capacity></volume>",
            "<volume><name>x</name><capacity unit='parsecs'>1</capacity></volume>",
        ] {
            assert!(
                matches!(parse_volume_xml(xml), Err(VolumeSpecError::Unsupported(_))),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_volume_xml("<volume"),
            Err(VolumeSpecError::Syntax(_))
        ));
    }

    #[test]
    fn references() {
        let r: VolumeRef = "base.qcow2".parse().unwrap();
        assert_eq!(r.pool, None);
        assert_eq!(r.pool_or("images"), "images");
        let r: VolumeRef = "golden/base.qcow2".parse().unwrap();
        assert_eq!(r.pool.as_deref(), Some("golden"));
        assert_eq!(r.to_string(), "golden/base.qcow2");
        for bad in ["", "a/b/c", "/b", "a/", "a b"] {
            assert!(bad.parse::<VolumeRef>().is_err(), "{bad}");
        }
    }

    fn upload(location: SourceLocation, sha256: &str) -> VolumeSpec {
        VolumeSpec {
            pool: "p".into(),
            name: "v".into(),
            format: VolumeFormat::Raw,
            capacity: None,
            content: VolumeContent::Upload(UploadSource {
                location,
                sha256: sha256.into(),
            }),
        }
    }

    #[test]
    fn validation() {
        let sum = "a".repeat(64);
        VolumeSpec::empty("p", "v", VolumeFormat::Raw, 1)
            .validate()
            .unwrap();
        upload(SourceLocation::Url("https://x/y.img".into()), &sum)
            .validate()
            .unwrap();
        upload(SourceLocation::File("img.raw".into()), &sum.to_uppercase())
            .validate()
            .unwrap();
        let bad = |s: VolumeSpec| s.validate().unwrap_err();
        assert!(matches!(
            bad(VolumeSpec::empty("p", "a/b", VolumeFormat::Raw, 1)),
            VolumeSpecError::Name(_)
        ));
        assert!(matches!(
            bad(VolumeSpec::empty("", "v", VolumeFormat::Raw, 1)),
            VolumeSpecError::Pool(_)
        ));
        assert!(matches!(
            bad(VolumeSpec::empty("p", "v", VolumeFormat::Raw, 0)),
            VolumeSpecError::ZeroCapacity
        ));
        let mut no_size = VolumeSpec::empty("p", "v", VolumeFormat::Raw, 1);
        no_size.capacity = None;
        assert!(matches!(bad(no_size), VolumeSpecError::CapacityRequired));
        let mut raw_overlay = VolumeSpec::empty("p", "v", VolumeFormat::Raw, 1);
        raw_overlay.content = VolumeContent::Backing("base".parse().unwrap());
        assert!(matches!(
            bad(raw_overlay),
            VolumeSpecError::BackingNeedsQcow2
        ));
        assert!(matches!(
            bad(upload(SourceLocation::Url("ftp://x".into()), &sum)),
            VolumeSpecError::Url(_)
        ));
        assert!(matches!(
            bad(upload(SourceLocation::File("x".into()), "abc")),
            VolumeSpecError::Sha256(_)
        ));
        assert!(matches!(
            bad(upload(SourceLocation::File("".into()), &sum)),
            VolumeSpecError::File
        ));
    }

    #[test]
    fn formats() {
        assert_eq!(
            "qcow2".parse::<VolumeFormat>().unwrap(),
            VolumeFormat::Qcow2
        );
        assert_eq!("raw".parse::<VolumeFormat>().unwrap(), VolumeFormat::Raw);
        assert!(matches!(
            "vmdk".parse::<VolumeFormat>(),
            Err(VolumeSpecError::Format(_))
        ));
    }
}
