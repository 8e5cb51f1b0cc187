//! The .deb files on the machine running rack: read, checked to be Debian binary
//! packages, and hashed, before anything is sent.

use std::path::Path;

use sha2::{Digest, Sha256};

use super::api::not_a_deb;

/// A local .deb read into memory.
#[derive(Debug, Clone)]
pub struct LocalDeb {
    /// Its content.
    pub content: Vec<u8>,
    /// The lowercase hex sha256 of its content.
    pub sha256: String,
    /// Its file name, which aptly keeps in its pool.
    pub file_name: String,
}

/// Reads `path` and checks that it is a Debian binary package; the error says why not
/// (in words to follow "cannot use FILE: ").
pub fn read_deb(path: &Path) -> Result<LocalDeb, String> {
    let content = std::fs::read(path).map_err(|e| e.to_string())?;
    if let Some(why) = not_a_deb(&content) {
        return Err(format!("it is not a Debian package: {why}"));
    }
    let file_name = path
        .file_name()
        .and_then(|n| n.to_str())
        .filter(|n| !n.is_empty())
        .ok_or("it has no file name")?
        .to_owned();
    Ok(LocalDeb {
        sha256: sha256_hex(&content),
        content,
        file_name,
    })
}

/// The lowercase hex sha256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn known_digest() {
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
