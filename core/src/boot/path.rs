//! A file's path on the provisioning server and the server's base URL: checked, and
//! joined into the file's URL (RFC 3986 §5.2: a relative reference of path segments
//! below a base that ends in `/`). Pure.

use std::fmt;

/// The longest path rack writes: far beyond any boot file's, short of servers' limits
/// on a request line (nginx: 8 KiB with `large_client_header_buffers`' default).
pub const MAX_PATH: usize = 1024;

/// Why a path is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("Path {path:?} cannot be used: {reason}")]
pub struct PathError {
    /// The path as given.
    pub path: String,
    /// What is wrong and what to write instead.
    pub reason: &'static str,
}

/// A file's path below the server's URL, such as `ztp/tor1.sh` or `ipxe/boot.ipxe`:
/// segments of letters, digits and `-._~+=,@`, separated by single `/`, none of them `.`
/// or `..`. These need no percent-encoding, so the path is the same in the URL, on the
/// server's disk and in Terraform's state.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct BootPath(String);

impl BootPath {
    /// Checks `path`.
    pub fn parse(path: &str) -> Result<Self, PathError> {
        let refuse = |reason| {
            Err(PathError {
                path: path.to_owned(),
                reason,
            })
        };
        if path.is_empty() {
            return refuse("it is empty; name a file, e.g. `ztp/tor1.sh`");
        }
        if path.len() > MAX_PATH {
            return refuse("it is longer than 1024 bytes");
        }
        if path.starts_with('/') {
            return refuse(
                "it starts with `/`; give it relative to the server's URL, e.g. `ztp/tor1.sh`",
            );
        }
        if path.ends_with('/') {
            return refuse("it ends with `/`, which names a directory, not a file");
        }
        for segment in path.split('/') {
            match segment {
                "" => return refuse("it has an empty segment (`//`)"),
                "." | ".." => {
                    return refuse("it has a `.` or `..` segment; name the file without them");
                }
                s if !s.chars().all(allowed) => {
                    return refuse(
                        "it has characters other than letters, digits, `/` and `-._~+=,@`",
                    );
                }
                _ => {}
            }
        }
        Ok(Self(path.to_owned()))
    }

    /// The path as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn allowed(c: char) -> bool {
    c.is_ascii_alphanumeric() || "-._~+=,@".contains(c)
}

impl fmt::Display for BootPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A server's base URL: `http` or `https`, a host, a path ending in `/`, no query, no
/// fragment, no credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BaseUrl(String);

impl BaseUrl {
    /// Checks `url`, adding the final `/` when it lacks one. `None` when it cannot be used.
    pub fn parse(url: &str) -> Option<Self> {
        let url = url.trim();
        let rest = url
            .strip_prefix("https://")
            .or_else(|| url.strip_prefix("http://"))?;
        let host = rest.split('/').next().unwrap_or_default();
        if host.is_empty() || host.contains('@') || url.contains(['?', '#', ' ']) {
            return None;
        }
        let mut base = url.to_owned();
        if !base.ends_with('/') {
            base.push('/');
        }
        Some(Self(base))
    }

    /// Whether the URL is `https://`.
    pub fn is_https(&self) -> bool {
        self.0.starts_with("https://")
    }

    /// The URL of `path` below this one.
    pub fn join(&self, path: &BootPath) -> String {
        format!("{}{}", self.0, path.0)
    }

    /// The URL.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for BaseUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn boot_file_paths_are_accepted() {
        for p in [
            "boot.ipxe",
            "ztp/tor1.sh",
            "pxelinux.cfg/01-52-54-00-12-34-56",
            "debian/12/linux",
            "a~b+c=d,e@f_g.h",
        ] {
            assert_eq!(BootPath::parse(p).unwrap().as_str(), p);
        }
    }

    #[test]
    fn paths_that_could_leave_the_directory_or_need_encoding_are_refused() {
        let cases = [
            ("", "empty"),
            ("/boot.ipxe", "starts with `/`"),
            ("ztp/", "ends with `/`"),
            ("a//b", "empty segment"),
            ("../etc/passwd", "`..`"),
            ("a/../b", "`..`"),
            ("a/./b", "`.`"),
            ("..", "`..`"),
            ("a b", "characters"),
            ("a%2e%2e/b", "characters"),
            ("a?b", "characters"),
            ("a\\b", "characters"),
            ("a:b", "characters"),
            ("é", "characters"),
        ];
        for (p, why) in cases {
            let e = BootPath::parse(p).unwrap_err();
            assert!(e.to_string().contains(why), "{p:?}: {e}");
        }
        assert!(BootPath::parse(&"a".repeat(MAX_PATH + 1)).is_err());
    }

    #[test]
    fn base_urls_end_in_a_slash_and_join_paths() {
        let b = BaseUrl::parse("http://127.0.0.1:8080/boot").unwrap();
        assert_eq!(b.as_str(), "http://127.0.0.1:8080/boot/");
        assert!(!b.is_https());
        let p = BootPath::parse("ztp/tor1.sh").unwrap();
        assert_eq!(b.join(&p), "http://127.0.0.1:8080/boot/ztp/tor1.sh");
        let b = BaseUrl::parse("https://prov.example/").unwrap();
        assert!(b.is_https());
        assert_eq!(b.join(&p), "https://prov.example/ztp/tor1.sh");
        for bad in [
            "",
            "prov.example/boot",
            "ftp://prov.example/",
            "http://",
            "http:///boot",
            "http://u:p@prov.example/",
            "http://prov.example/boot?x=1",
            "http://prov.example/#a",
        ] {
            assert!(BaseUrl::parse(bad).is_none(), "{bad}");
        }
    }
}
