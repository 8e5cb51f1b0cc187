//! Files on a provisioning HTTP server, written over WebDAV (RFC 4918 §9.7 PUT, §9.6
//! DELETE) and read with plain GET: the scripts, preseeds, iPXE scripts, kernels and
//! initrds that machines fetch while they bootstrap.
//!
//! - `path`: a file's path below the server's URL, checked (no `..`, no empty or dot
//!   segments, a small safe alphabet) and joined to it, no I/O;
//! - `request`: the requests (method, URL, `Authorization`) and what each status answer
//!   means, no I/O;
//! - `listing`: the directory listings nginx's `autoindex` writes as JSON, parsed, no I/O;
//! - `client`: [`BootClient`], which sends them with `reqwest`, caches what it read and
//!   walks a server's directories ([`BootClient::list`]).
//!
//! **Why reqwest and no WebDAV crate.** rack needs three methods of WebDAV, each one
//! request with a body or none, on the HTTP client and rustls configuration the Kea and
//! PowerDNS clients already use (the same CA handling through `crate::tls`). nginx's
//! `dav_methods` offers exactly PUT, DELETE, MKCOL, COPY and MOVE, and no PROPFIND, so a
//! WebDAV library's listings and property calls would not work against it anyway.
//!
//! **One read per file.** A directory listing (nginx's `autoindex`, see [`listing`])
//! gives names and sizes, never content, so drift by content needs each file read: a
//! [`BootClient`] reads each file once per provider process (one
//! GET, hashed as it streams; concurrent first readers share it) and serves every later
//! read of that file from memory: a refresh of 200 files is 200 GETs, never 400. What
//! it wrote itself it remembers as written, without reading it back. [`BootClient::invalidate`]
//! forgets a file (import reads it fresh). A file's text is kept only when it is UTF-8 and
//! at most [`TEXT_LIMIT`] bytes; larger files are known by their SHA-256 and size.
//!
//! **Atomic publishing.** nginx's `dav` module receives a PUT's body into a temp file
//! (`client_body_temp_path`) and renames it over the target only when the body is
//! complete; when the temp dir is on another file system it copies to a temp name beside
//! the target first and renames that. A client fetching the file meanwhile gets the
//! whole old or the whole new file, never part of one (`core/tests/boot` checks this
//! against nginx: reads of the served file racing PUTs of 4 MiB only ever see one
//! version whole). A failed or interrupted PUT leaves the old file in place.

mod client;
pub mod listing;
pub mod path;
pub mod request;

pub use client::{BootClient, BootConfig, Remote, TEXT_LIMIT};
pub use listing::Listed;
pub use path::{BaseUrl, BootPath, PathError};
pub use request::{Method, Request, sha256_hex};

use std::sync::Arc;
use std::time::Duration;

/// Why a call to the provisioning server failed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum BootError {
    /// The configured URL is not an http(s) URL.
    #[error(
        "Provisioning server URL {url:?} is not usable; give it as http(s)://host[:port]/path/, with no query or fragment"
    )]
    InvalidUrl {
        /// The URL as configured.
        url: String,
    },
    /// A file path that rack does not write.
    #[error(transparent)]
    InvalidPath(#[from] PathError),
    /// The TLS settings cannot be used.
    #[error("The TLS settings for the provisioning server cannot be used: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },
    /// No connection, or the connection broke.
    #[error(
        "Cannot reach the provisioning server at {url}; check the URL, that the server listens there, and the CA certificate"
    )]
    Unreachable {
        /// The file's URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The server did not answer in time.
    #[error("The provisioning server did not answer {method} {url} within {timeout:?}")]
    Timeout {
        /// The method sent.
        method: Method,
        /// The file's URL.
        url: String,
        /// How long the request could take.
        timeout: Duration,
    },
    /// The server refused the credentials (HTTP 401).
    #[error(
        "The provisioning server refused the credentials of user {username:?} for {method} {url} (HTTP 401); check the username and password"
    )]
    Unauthorized {
        /// The method sent.
        method: Method,
        /// The file's URL.
        url: String,
        /// The user sent, empty when none was.
        username: String,
    },
    /// The server forbids the request (HTTP 403).
    #[error(
        "The provisioning server forbids {method} {url} (HTTP 403); check that its user may write there and the directory's permissions"
    )]
    Forbidden {
        /// The method sent.
        method: Method,
        /// The file's URL.
        url: String,
    },
    /// The server does not offer the method there (HTTP 405, 501).
    #[error(
        "The provisioning server does not accept {method} at {url} (HTTP {status}); enable WebDAV writes there (nginx: `dav_methods PUT DELETE;`)"
    )]
    NotAllowed {
        /// The method sent.
        method: Method,
        /// The file's URL.
        url: String,
        /// The HTTP status.
        status: u16,
    },
    /// The server does not list the directory (HTTP 403 or 405 to a GET of it), or its
    /// answer is no JSON listing.
    #[error(
        "The provisioning server does not list the directory {url} as JSON; let it list directories to rack's user (nginx: `autoindex on; autoindex_format json;` for URLs ending in `/`, behind the same `auth_basic` as writes)"
    )]
    NoListing {
        /// The directory's URL.
        url: String,
    },
    /// The file's directory does not exist (HTTP 409).
    #[error(
        "The provisioning server has no directory for {url} (HTTP 409); let it create directories on PUT (nginx: `create_full_put_path on;`)"
    )]
    NoParent {
        /// The file's URL.
        url: String,
    },
    /// The file is larger than the server accepts (HTTP 413).
    #[error(
        "The provisioning server refused {url}: {size} bytes is more than it accepts (HTTP 413); raise its limit (nginx: `client_max_body_size`)"
    )]
    TooLarge {
        /// The file's URL.
        url: String,
        /// The body's size.
        size: u64,
    },
    /// Any other status.
    #[error("The provisioning server answered HTTP {status} to {method} {url}: {body}")]
    Status {
        /// The method sent.
        method: Method,
        /// The file's URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the answer's body.
        body: String,
    },
}
