//! A provisioning server's directory listings, as nginx's `autoindex` module writes them
//! with `autoindex_format json`: a GET of a directory's URL (ending in `/`) answers a
//! JSON array with one object per entry, `name`, `type` (`"file"`, `"directory"` or
//! `"other"`), `mtime` and, for files, `size`. nginx leaves out names starting with `.`.
//! WebDAV's own listing (PROPFIND, RFC 4918 §9.1) is not in nginx's `dav` module, so this
//! is how rack finds the files of a server. Pure: [`crate::boot::BootClient::list`] sends
//! the GETs and walks the tree.

use serde::Deserialize;

use super::path::BootPath;

/// How deep below the listed directory rack walks: far deeper than any boot tree, and an
/// end to a loop of symbolic links, which nginx follows.
pub const MAX_DEPTH: usize = 32;

/// What an entry of a directory is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Directory,
    /// Anything else (a socket, a device, a dangling link).
    #[serde(other)]
    Other,
}

/// One entry of a directory's listing.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IndexEntry {
    /// Its name in the directory.
    pub name: String,
    /// What it is.
    #[serde(rename = "type")]
    pub kind: EntryKind,
    /// Its size in bytes (files only).
    #[serde(default)]
    pub size: Option<u64>,
}

/// A file found by a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Listed {
    /// Its path below the server's URL.
    pub path: BootPath,
    /// Its size in bytes, as the listing gave it.
    pub size: u64,
}

/// The entries of one listing's body, or why it is not a JSON listing (an HTML index,
/// `autoindex_format html`, says so here).
pub fn parse_index(body: &[u8]) -> Result<Vec<IndexEntry>, String> {
    serde_json::from_slice(body).map_err(|e| {
        let start: String = String::from_utf8_lossy(body).chars().take(60).collect();
        format!("the answer is not a JSON directory listing ({e}; it starts {start:?})")
    })
}

/// The path of entry `name` of directory `dir` (`None`: the server's URL itself), or
/// `None` when it is not a path rack manages (see [`BootPath`]).
pub fn child(dir: Option<&BootPath>, name: &str) -> Option<BootPath> {
    if name.contains('/') {
        return None;
    }
    let joined = match dir {
        Some(d) => format!("{d}/{name}"),
        None => name.to_owned(),
    };
    BootPath::parse(&joined).ok()
}

/// What one listing of `dir` adds: its files, and the directories to list next.
/// Entries whose names rack cannot manage (spaces, other characters) are left out.
pub fn split(dir: Option<&BootPath>, entries: Vec<IndexEntry>) -> (Vec<Listed>, Vec<BootPath>) {
    let mut files = Vec::new();
    let mut dirs = Vec::new();
    for e in entries {
        let Some(path) = child(dir, &e.name) else {
            continue;
        };
        match e.kind {
            EntryKind::File => files.push(Listed {
                path,
                size: e.size.unwrap_or_default(),
            }),
            EntryKind::Directory => dirs.push(path),
            EntryKind::Other => {}
        }
    }
    (files, dirs)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    /// What nginx 1.22 answers for a directory with a subdirectory, a file, a name rack
    /// does not write and a socket.
    const NGINX: &str = r#"[
{ "name":"ztp", "type":"directory", "mtime":"Sat, 05 Dec 2026 18:12:48 GMT" },
{ "name":"boot.ipxe", "type":"file", "mtime":"Sat, 05 Dec 2026 18:12:48 GMT", "size":42 },
{ "name":"with space.txt", "type":"file", "mtime":"Sat, 05 Dec 2026 18:12:48 GMT", "size":1 },
{ "name":"sock", "type":"other", "mtime":"Sat, 05 Dec 2026 18:12:48 GMT" }
]"#;

    #[test]
    fn nginx_listings_parse_into_files_and_directories() {
        let entries = parse_index(NGINX.as_bytes()).unwrap();
        assert_eq!(entries.len(), 4);
        assert_eq!(entries[1].kind, EntryKind::File);
        assert_eq!(entries[1].size, Some(42));
        assert_eq!(entries[3].kind, EntryKind::Other);
        let (files, dirs) = split(None, entries.clone());
        assert_eq!(
            files,
            vec![Listed {
                path: BootPath::parse("boot.ipxe").unwrap(),
                size: 42
            }]
        );
        assert_eq!(dirs, vec![BootPath::parse("ztp").unwrap()]);
        let under = BootPath::parse("pod1/ztp").unwrap();
        let (files, dirs) = split(Some(&under), entries);
        assert_eq!(files[0].path.as_str(), "pod1/ztp/boot.ipxe");
        assert_eq!(dirs[0].as_str(), "pod1/ztp/ztp");
        assert_eq!(parse_index(b"[]").unwrap(), vec![]);
    }

    #[test]
    fn names_rack_does_not_write_are_left_out() {
        let d = BootPath::parse("a").unwrap();
        assert_eq!(child(Some(&d), "b.sh").unwrap().as_str(), "a/b.sh");
        assert!(child(Some(&d), "..").is_none());
        assert!(child(None, "x/y").is_none());
        assert!(child(None, "").is_none());
        assert!(child(None, "caf\u{e9}").is_none());
    }

    #[test]
    fn html_indexes_are_refused_saying_what_came() {
        let e = parse_index(b"<html><head><title>Index of /boot/</title>").unwrap_err();
        assert!(e.contains("not a JSON directory listing"), "{e}");
        assert!(e.contains("<html>"), "{e}");
    }
}
