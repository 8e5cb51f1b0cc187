//! A client for aptly 1.5's REST API (`aptly api serve`): local repositories, packages
//! uploaded into them, snapshots and signed publications.
//!
//! - `api`: the JSON objects and bodies, paths, the upload's multipart body and the checks
//!   of aptly's answers; pure.
//! - `client`: HTTP transport, the cached listings and the retries.
//! - `file`: the local .deb files, read, checked and hashed.
//! - `sources`: what apt clients need (a deb822 `.sources` stanza, a pin); pure.
//!
//! The client is written on `reqwest`, like the Kea control agent's, rather than on a
//! generated or third-party aptly crate: none covers aptly 1.5's API as it behaves (HTTP
//! 200 with `FailedFiles`, `201` with a body of `null`, the `:.` root prefix), none lets
//! rack keep key material out of its requests, and `reqwest` with the workspace's rustls
//! configuration is already how `core` speaks HTTP(S).
//!
//! Reads are one listing per object kind or per repository or snapshot per provider
//! process (`GET /api/repos`, `/api/snapshots`, `/api/publish`, and one
//! `.../packages?format=details` per repository or snapshot), kept until rack's own writes
//! change them. Signing names a key in aptly's keyring and a passphrase file on the aptly
//! host; aptly's `Passphrase` field, which reaches gpg's command line, is never sent.

mod api;
mod client;
mod file;
mod sources;

pub use api::{
    AddAnswer, AddReport, NewPublication, Package, Publication, Repo, Signing, Snapshot, Source,
    component_problem, name_problem, normal_prefix, not_a_deb,
};
pub use client::{AptlyClient, AptlyConfig, PackageSource, token};
pub use file::{LocalDeb, read_deb, sha256_hex};
pub use sources::{deb822_stanza, pin_stanza};

use std::sync::Arc;
use std::time::Duration;

use thiserror::Error;

/// Why an aptly API call did not succeed.
#[derive(Debug, Error, Clone)]
#[non_exhaustive]
pub enum AptError {
    /// The configured URL is not an http(s) URL.
    #[error(
        "aptly API URL {url:?} is not usable; give it as http://host:port or https://host:port"
    )]
    InvalidUrl {
        /// The URL as configured.
        url: String,
    },
    /// The TLS settings cannot be used.
    #[error("The TLS settings for the aptly API cannot be used: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },
    /// No connection to the API.
    #[error(
        "Cannot reach the aptly API at {url}; check the URL, that `aptly api serve` (and the proxy in front of it) runs and listens there, and the TLS settings"
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// No answer in time.
    #[error("The aptly API at {url} did not answer within {timeout:?}")]
    Timeout {
        /// The URL.
        url: String,
        /// How long the request could take.
        timeout: Duration,
    },
    /// The credentials were refused (HTTP 401 or 403, from the proxy in front of aptly).
    #[error(
        "The aptly API at {url} refused the credentials (HTTP {status}); check the username and password"
    )]
    AuthRefused {
        /// The URL.
        url: String,
        /// HTTP status.
        status: u16,
    },
    /// aptly answered with an error status.
    #[error("aptly {method} {path} answered {status}: {message}")]
    Api {
        /// HTTP method.
        method: String,
        /// Path of the request.
        path: String,
        /// HTTP status.
        status: u16,
        /// aptly's `error`, or the body's start.
        message: String,
    },
    /// aptly answered 200 to adding files but listed some as failed.
    #[error("aptly did not add the package to repository {repo:?}: {report}")]
    FailedFiles {
        /// The repository.
        repo: String,
        /// aptly's report: the failed files and its warnings.
        report: String,
    },
    /// aptly reported no failure, yet the repository holds no package with the file's
    /// sha256.
    #[error(
        "aptly reported {file:?} added, but repository {repo:?} holds no package with its sha256"
    )]
    NotAdded {
        /// The repository.
        repo: String,
        /// The file name.
        file: String,
    },
    /// The answer was not the JSON expected.
    #[error("Unexpected answer from aptly to {path}")]
    Decode {
        /// Path of the request.
        path: String,
        /// What the JSON decoder said.
        #[source]
        source: Arc<serde_json::Error>,
    },
}

impl AptError {
    /// aptly said the object does not exist (404).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status: 404, .. })
    }

    /// aptly said 409: another task holds the resources, or (dropping a snapshot) the
    /// snapshot is still published or used.
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { status: 409, .. })
    }

    /// aptly 1.5 answered a publish switch with 500 "unable to update: snapshot with uuid
    /// ... not found" for a snapshot that exists: seen when two switches of different
    /// publications ran at once. Sent again like a 409.
    pub fn is_lost_snapshot(&self) -> bool {
        matches!(self, Self::Api { status: 500, message, .. }
            if message.contains("snapshot with uuid") && message.contains("not found"))
    }

    /// aptly's own message, for errors that carry one.
    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Api { message, .. } => Some(message),
            Self::FailedFiles { report, .. } => Some(report),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lost_snapshot_in_a_switch_is_told_apart() {
        let api = |status: u16, message: &str| AptError::Api {
            method: "PUT".into(),
            path: "/api/publish/:./beta".into(),
            status,
            message: message.into(),
        };
        let lost =
            "unable to update: snapshot with uuid 11018e80-9ad6-4a51-9f55-84027914a613 not found";
        assert!(api(500, lost).is_lost_snapshot());
        assert!(!api(500, "unable to update: disk full").is_lost_snapshot());
        assert!(!api(404, lost).is_lost_snapshot());
    }
}
