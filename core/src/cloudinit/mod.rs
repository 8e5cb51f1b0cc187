//! cloud-init's NoCloud data source: the `cidata` ISO image a virtual machine reads its
//! `user-data`, `meta-data`, `network-config` and `vendor-data` from.
//!
//! cloud-init looks for a filesystem labelled `cidata` (or `CIDATA`) holding at least
//! `user-data` and `meta-data`; `network-config` and `vendor-data` are optional. rack
//! builds the image itself, in memory ([`iso9660`]), so nothing is written to the local
//! disk and no `genisoimage` is needed; the image is then uploaded as a volume.

pub mod iso9660;

pub use iso9660::{IsoError, IsoFile};

/// The volume label NoCloud looks for.
pub const CIDATA_LABEL: &str = "cidata";

/// The contents of a NoCloud seed.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct CloudInit {
    /// `user-data` (e.g. a `#cloud-config` document); written empty when `None`, since
    /// NoCloud wants the file to exist.
    pub user_data: Option<String>,
    /// `meta-data` (YAML: `instance-id`, `local-hostname`); written empty when `None`.
    pub meta_data: Option<String>,
    /// `network-config` (network configuration version 1 or 2), if any.
    pub network_config: Option<String>,
    /// `vendor-data`, if any.
    pub vendor_data: Option<String>,
}

impl CloudInit {
    /// The `cidata` ISO image, byte for byte the same for the same contents.
    pub fn to_iso(&self) -> Result<Vec<u8>, IsoError> {
        let mut files = vec![
            IsoFile {
                name: "meta-data",
                data: self.meta_data.as_deref().unwrap_or_default().as_bytes(),
            },
            IsoFile {
                name: "user-data",
                data: self.user_data.as_deref().unwrap_or_default().as_bytes(),
            },
        ];
        if let Some(n) = &self.network_config {
            files.push(IsoFile {
                name: "network-config",
                data: n.as_bytes(),
            });
        }
        if let Some(v) = &self.vendor_data {
            files.push(IsoFile {
                name: "vendor-data",
                data: v.as_bytes(),
            });
        }
        iso9660::build(CIDATA_LABEL, &files)
    }
}

#[cfg(test)]
mod tests {
    //! Structure only; `tests/cloudinit` mounts an image with the kernel's iso9660 driver
    //! and the guest tests boot a VM that reads one.

    use super::*;

    #[test]
    fn required_files_always_present_optional_ones_when_given() {
        let minimal = CloudInit::default().to_iso().unwrap();
        let text = String::from_utf8_lossy(&minimal);
        assert!(text.contains("META_DATA.;1") && text.contains("USER_DATA.;1"));
        assert!(!text.contains("NETWORK_CONFIG"));
        let full = CloudInit {
            user_data: Some("#cloud-config\n".into()),
            meta_data: Some("instance-id: a\n".into()),
            network_config: Some("version: 2\n".into()),
            vendor_data: Some("#cloud-config\n{}\n".into()),
        };
        let image = full.to_iso().unwrap();
        let text = String::from_utf8_lossy(&image);
        assert!(text.contains("NETWORK_CONFIG.;1") && text.contains("VENDOR_DATA.;1"));
        assert!(text.contains("instance-id: a"));
        assert_eq!(image, full.to_iso().unwrap());
        assert_ne!(image, minimal);
    }
}
