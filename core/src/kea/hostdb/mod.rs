//! Kea's host database in PostgreSQL: DHCPv4 reservations as rows of Kea's own schema
//! (`hosts` and `dhcp4_options`, schema 13.0 of Kea 2.2), which kea-dhcp4 configured with
//! `"hosts-database": {"type": "postgresql", ...}` looks up for each packet, with no
//! reconfiguration.
//!
//! - `rows`: the rows and their mapping to and from [`crate::kea::Reservation`];
//! - `plan`: a batch of changes checked against the rows it is about, and the writes it
//!   needs;
//! - `sql`: the statements;
//! - `client`: the connection, the cached read and the transactions.
//!
//! The subnets' ids come from the server's configuration (the control agent's
//! `config-get`): rows are keyed by `dhcp4_subnet_id`, reservations by CIDR.

mod client;
pub mod plan;
pub mod rows;
pub mod sql;

pub use client::{HostDbClient, HostDbConfig};
pub use plan::Request;
pub use rows::{SUPPORTED_SCHEMAS, SubnetIds};

use std::sync::Arc;

use crate::kea::{ConfigError, HostIdentifier};
use crate::net::Cidr;

/// Why a call to the host database failed. Every message says what to check; none holds
/// the password.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum HostDbError {
    /// The URL does not parse as a PostgreSQL connection URL.
    #[error(
        "The Kea hosts database URL cannot be used: {reason}; give it as postgresql://user@host:port/database"
    )]
    InvalidUrl {
        /// What the parser said.
        reason: String,
    },
    /// The TLS settings cannot be used.
    #[error("The Kea hosts database's TLS settings cannot be used: {reason}")]
    Tls {
        /// What is wrong (never quoting a key).
        reason: String,
    },
    /// The URL holds a password.
    #[error(
        "The Kea hosts database URL holds a password; give the password in its own (sensitive) setting instead, so it stays out of plans, logs and process listings"
    )]
    PasswordInUrl,
    /// No connection to the server.
    #[error(
        "Cannot connect to the Kea hosts database at {target}; check the URL, that PostgreSQL runs and listens there (listen_addresses, port) and that pg_hba.conf admits this client"
    )]
    Unreachable {
        /// host:port/database.
        target: String,
        /// What the client library said.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// The server refused the credentials.
    #[error(
        "The Kea hosts database at {target} refused the password of user {user:?}; check the hosts database password and the role's password in PostgreSQL"
    )]
    AuthFailed {
        /// host:port/database.
        target: String,
        /// The role.
        user: String,
    },
    /// The server's client authentication (`pg_hba.conf`) admits no such connection.
    #[error(
        "The Kea hosts database at {target} does not admit user {user:?} from here ({reason}); check pg_hba.conf on the server, and set ca_cert (or sslmode=require in the URL) when it admits TLS connections only"
    )]
    NotAdmitted {
        /// host:port/database.
        target: String,
        /// The role.
        user: String,
        /// The server's message.
        reason: String,
    },
    /// The database has no Kea schema.
    #[error(
        "The database at {target} holds no Kea schema (no schema_version table); initialise it with `kea-admin db-init pgsql`"
    )]
    NoSchema {
        /// host:port/database.
        target: String,
    },
    /// The schema is of a Kea version rack does not support.
    #[error(
        "The Kea hosts database has schema version {found}; rack supports {supported} (Kea 2.2); use a database of that version or a rack release that supports this one"
    )]
    SchemaUnsupported {
        /// The version found, `major.minor`.
        found: String,
        /// The versions rack supports.
        supported: String,
    },
    /// The database did not answer in time; the connection was dropped, so the server
    /// rolls back whatever the transaction had not committed.
    #[error(
        "The Kea hosts database at {target} did not answer within {timeout:?}; check that PostgreSQL is not overloaded or blocked by locks, or raise the timeout"
    )]
    Timeout {
        /// host:port/database.
        target: String,
        /// How long the operation could take.
        timeout: std::time::Duration,
    },
    /// A statement failed.
    #[error("The Kea hosts database failed to {what}")]
    Database {
        /// What rack was doing.
        what: &'static str,
        /// What the server said.
        #[source]
        source: Arc<tokio_postgres::Error>,
    },
    /// Another writer inserted a host with the same identifier in the same subnet while
    /// the batch was written (Kea's unique index refused the insert); nothing was written.
    #[error(
        "Another writer reserved the same identifier in the same subnet at the same time ({detail}); nothing was written; run again to work from the current reservations"
    )]
    ConcurrentInsert {
        /// The server's detail, naming the key.
        detail: String,
    },
    /// The identifier is of a kind rack reads but does not write.
    #[error(
        "rack writes reservations by hw-address or client-id only, not by {identifier}; manage this reservation outside rack"
    )]
    IdentifierNotWritable {
        /// The identifier.
        identifier: HostIdentifier,
    },
    /// An option is given by a name rack does not know, so its code is unknown.
    #[error(
        "Option {name:?} has no code rack knows; give the option by its code, or use a name of the DHCPv4 option catalogue"
    )]
    UnknownOption {
        /// The name given (empty when neither name nor code was).
        name: String,
    },
    /// The data of an option Kea has no definition for is not hex.
    #[error(
        "Option {code} has no definition in Kea, so its data is written as bytes and must be hex octets (e.g. 68:69); got {data:?}"
    )]
    OptionNotHex {
        /// The code.
        code: u8,
        /// The data given.
        data: String,
    },
    /// The row of the reservation also holds a DHCPv6 reservation.
    #[error(
        "The host row of {identifier} in subnet {subnet} also holds a DHCPv6 reservation; rack does not delete it; remove it outside rack"
    )]
    SharedWithDhcp6 {
        /// The identifier.
        identifier: HostIdentifier,
        /// The subnet.
        subnet: Cidr,
    },
    /// The reservation or the rows do not allow the change.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// The batch holding the change ended before answering.
    #[error(
        "The reservation change was abandoned before the hosts database answered; read the reservations again and retry"
    )]
    Abandoned,
}
