//! The model of a storage volume rack manages ([`VolumeSpec`]) and its validation.
//! Pure: no I/O.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::libvirt::pool::spec::valid_object_name;
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

#[cfg(test)]
mod tests {
    use super::*;

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
