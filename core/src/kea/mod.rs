//! Kea DHCPv4 host reservations and leases, through Kea's control agent (Kea 2.x).
//!
//! - `commands`: the JSON of the control channel's commands and answers, no I/O;
//! - `config`: the reservation model and the pure edit of a configuration;
//! - `client`: HTTP to the control agent, the cached configuration and the coalesced
//!   writes;
//! - `hostdb`: reservations as rows of Kea's PostgreSQL host database instead of its
//!   configuration.

mod client;
pub mod commands;
pub mod config;
pub mod hostdb;

pub use client::{COALESCE_WINDOW, Expect, KeaClient, KeaConfig, LeaseQuery, Secret};
pub use commands::{Answer, Command, Lease4, MalformedAnswer, ResultCode};
pub use config::{
    Change, ConfigError, HostIdentifier, OptionData, Reservation, Subnet4, config_hash,
};

use std::sync::Arc;
use std::time::Duration;

/// Why a call to Kea failed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum KeaError {
    /// The configured URL is not an http(s) URL.
    #[error(
        "Kea control agent URL {url:?} is not usable; give it as http://host:port or https://host:port"
    )]
    InvalidUrl {
        /// The URL as configured.
        url: String,
    },
    /// The TLS settings cannot be used.
    #[error("The TLS settings for the Kea control agent cannot be used: {reason}")]
    Tls {
        /// What is wrong.
        reason: String,
    },
    /// No connection to the control agent.
    #[error(
        "Cannot reach the Kea control agent at {url}; check the URL, that kea-ctrl-agent runs and listens there (http-host, http-port), and the TLS settings"
    )]
    Unreachable {
        /// The URL.
        url: String,
        /// What the HTTP client said.
        #[source]
        source: Arc<reqwest::Error>,
    },
    /// The control agent did not answer in time.
    #[error(
        "The Kea control agent at {url} did not answer within {timeout:?}; check that it and kea-dhcp4 are not overloaded, or raise the timeout"
    )]
    Timeout {
        /// The URL.
        url: String,
        /// How long the request could take.
        timeout: Duration,
    },
    /// The control agent refused the credentials (HTTP 401 or 403).
    #[error(
        "The Kea control agent at {url} refused the credentials of user {username:?} (HTTP {status}); check the username and password against the agent's authentication clients"
    )]
    AuthRefused {
        /// The URL.
        url: String,
        /// The user sent, empty when none was.
        username: String,
        /// The HTTP status.
        status: u16,
    },
    /// The control agent answered an unexpected HTTP status.
    #[error("The Kea control agent at {url} answered HTTP {status} to {command}: {body}")]
    Http {
        /// The URL.
        url: String,
        /// The command sent.
        command: &'static str,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The control agent cannot pass commands to the DHCPv4 server.
    #[error(
        "The Kea control agent at {url} cannot reach the dhcp4 server: {text}; check that kea-dhcp4 runs and that the agent's control-sockets dhcp4 entry names its control socket"
    )]
    ServerUnavailable {
        /// The URL.
        url: String,
        /// Kea's text.
        text: String,
    },
    /// The server does not know the command (its hook library is not loaded).
    #[error("Kea does not support {command} ({text}); load the hook library {hook} in kea-dhcp4")]
    Unsupported {
        /// The command.
        command: &'static str,
        /// The hook library that provides it.
        hook: &'static str,
        /// Kea's text.
        text: String,
    },
    /// Kea refused the new configuration; nothing was changed.
    #[error(
        "Kea rejected the configuration with the reservation change: {text}; nothing was changed; check the reservation's values (options, classes, addresses)"
    )]
    ConfigRejected {
        /// Kea's own text.
        text: String,
    },
    /// Kea applied the configuration but could not save it.
    #[error(
        "Kea applied the reservation change but could not write its configuration file: {text}; check that kea-dhcp4 may write its configuration file, or the change is lost at its next restart"
    )]
    ConfigWrite {
        /// Kea's own text.
        text: String,
    },
    /// Other writers kept replacing the configuration while rack wrote its changes.
    #[error(
        "The configuration of the Kea server at {url} was changed by someone else while rack wrote it, again after each retry; some of these changes may be missing; run again to work from the current configuration"
    )]
    ConcurrentChange {
        /// The URL.
        url: String,
    },
    /// Another command failed.
    #[error("Kea answered {command} with result {result}: {text}")]
    CommandFailed {
        /// The command.
        command: &'static str,
        /// The result code.
        result: i64,
        /// Kea's text.
        text: String,
    },
    /// The answer did not parse.
    #[error("Cannot understand the answer of the Kea control agent at {url} to {command}")]
    Malformed {
        /// The URL.
        url: String,
        /// The command.
        command: &'static str,
        /// What was wrong.
        #[source]
        source: MalformedAnswer,
    },
    /// The reservation or the configuration does not allow the change.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The task writing the changes ended before answering.
    #[error(
        "The reservation change was abandoned before Kea answered; read the reservations again and retry"
    )]
    Abandoned,
}
