//! The model of a storage pool rack manages ([`PoolSpec`]) and its validation. Pure: no
//! I/O.

use std::fmt;

use crate::libvirt::xml::is_plain;

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

#[cfg(test)]
mod tests {
    use super::*;

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
}
