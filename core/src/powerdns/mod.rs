//! A minimal client for the PowerDNS Authoritative HTTP API (`/api/v1`): zones, TSIG keys
//! and zone metadata, enough to prepare a zone for RFC 2136 updates signed with a key.
//!
//! - `types`: the JSON bodies, no I/O;
//! - `client`: HTTP transport and error mapping.

mod client;
mod types;

pub use client::PowerDnsClient;
pub use types::{NewZone, Record, RrSet, TsigKey, Zone, ZoneKind};

use thiserror::Error;

/// Metadata kind listing the TSIG keys whose signed updates PowerDNS accepts for a zone.
pub const TSIG_ALLOW_DNSUPDATE: &str = "TSIG-ALLOW-DNSUPDATE";
/// Metadata kind listing the TSIG keys allowed to transfer (AXFR) a zone. The API refuses
/// to write it as metadata; [`PowerDnsClient::allow_axfr_with_keys`] sets it through the
/// zone's `master_tsig_key_ids`.
pub const TSIG_ALLOW_AXFR: &str = "TSIG-ALLOW-AXFR";
/// Metadata kind listing the networks allowed to send updates (overrides the global
/// `allow-dnsupdate-from`).
pub const ALLOW_DNSUPDATE_FROM: &str = "ALLOW-DNSUPDATE-FROM";

/// Why a PowerDNS API call did not succeed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum PowerDnsError {
    /// The base URL cannot be parsed.
    #[error("Invalid PowerDNS API URL `{0}`")]
    InvalidUrl(String),
    /// No HTTP connection could be made.
    #[error(
        "Cannot reach the PowerDNS API at {url}; check `webserver-address`, `webserver-port` and `api=yes` in pdns.conf"
    )]
    Connect {
        /// Base URL tried.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: reqwest::Error,
    },
    /// The server did not answer in time.
    #[error("No answer from the PowerDNS API at {url} in time")]
    Timeout {
        /// Base URL of the server.
        url: String,
    },
    /// The API key was refused (HTTP 401).
    #[error("The PowerDNS API at {url} rejected the API key; check `api-key` in pdns.conf")]
    Unauthorized {
        /// Base URL of the server.
        url: String,
    },
    /// The API answered with an error status.
    #[error("PowerDNS API {method} {path} answered {status}: {message}")]
    Api {
        /// HTTP method of the request.
        method: &'static str,
        /// Path of the request.
        path: String,
        /// HTTP status.
        status: u16,
        /// The `error` field of the answer, or its body.
        message: String,
    },
    /// The request failed after the connection was made.
    #[error("Request to the PowerDNS API failed")]
    Http(#[source] reqwest::Error),
    /// The answer was not the JSON expected.
    #[error("Unexpected answer from the PowerDNS API to {path}")]
    Decode {
        /// Path of the request.
        path: String,
        /// What the JSON decoder said.
        #[source]
        source: serde_json::Error,
    },
}

impl PowerDnsError {
    /// The API said the object does not exist (404, or 422 "Could not find" of old versions).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Api { status, message, .. }
            if *status == 404 || (*status == 422 && message.contains("Could not find")))
    }

    /// The API said the object already exists (409).
    pub fn is_conflict(&self) -> bool {
        matches!(self, Self::Api { status: 409, .. })
    }
}
