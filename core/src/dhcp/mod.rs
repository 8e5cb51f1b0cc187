//! DHCPv4 reservations and leases, whatever server holds them: the [`DhcpBackend`]
//! trait the DHCP resources are written against, its Kea ([`kea::KeaBackend`], through the
//! control agent; [`kea_hostdb::KeaHostDbBackend`], reservations in Kea's PostgreSQL host
//! database) and libvirt ([`libvirt::LibvirtBackend`], the static host entries of a
//! libvirt network) implementations, and the catalogue of DHCPv4 options rack accepts
//! ([`options`]). The reservation model (`Reservation`, `Change`) is [`crate::kea`]'s and
//! backend-neutral.

mod book;
pub mod kea;
pub mod kea_hostdb;
pub mod libvirt;
pub mod options;

use std::fmt;
use std::sync::Arc;

use async_trait::async_trait;

use crate::Cidr;
use crate::kea::hostdb::HostDbError;
use crate::kea::{Change, ConfigError, Expect, KeaError, Reservation};
use crate::libvirt::DhcpHostError;
use crate::net::MacAddress;

pub use self::book::LeaseBook;
pub use self::kea::KeaBackend;
pub use self::kea_hostdb::KeaHostDbBackend;
pub use self::libvirt::{HypervisorSource, LibvirtBackend};

/// Why a DHCP backend could not do what was asked.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DhcpError {
    /// The reservation or the server's configuration does not allow it (conflicts, an
    /// unknown subnet, ...), whatever the backend.
    #[error(transparent)]
    Config(ConfigError),
    /// The Kea backend failed.
    #[error(transparent)]
    Kea(KeaError),
    /// Kea's host database failed.
    #[error(transparent)]
    HostDb(HostDbError),
    /// The libvirt backend failed (boxed: libvirt's errors are large).
    #[error(transparent)]
    Libvirt(Box<DhcpHostError>),
    /// The hypervisor a libvirt server names is not configured.
    #[error("{summary}: {detail}")]
    Hypervisor {
        /// What is wrong.
        summary: String,
        /// What to do about it.
        detail: String,
    },
    /// The backend cannot do this at all.
    #[error("The {backend} backend does not support {what}; {hint}")]
    Unsupported {
        /// The backend.
        backend: &'static str,
        /// What was asked.
        what: String,
        /// What to do instead.
        hint: &'static str,
    },
}

impl From<KeaError> for DhcpError {
    fn from(e: KeaError) -> Self {
        match e {
            KeaError::Config(c) => Self::Config(c),
            other => Self::Kea(other),
        }
    }
}

impl From<HostDbError> for DhcpError {
    fn from(e: HostDbError) -> Self {
        match e {
            HostDbError::Config(c) => Self::Config(c),
            other => Self::HostDb(other),
        }
    }
}

/// One active lease as a backend reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActiveLease {
    /// The leased address.
    pub ip: std::net::Ipv4Addr,
    /// The client's MAC address, if recorded.
    pub mac: Option<MacAddress>,
    /// The client identifier, hex octets joined by `:`, if recorded.
    pub client_id: Option<String>,
    /// The hostname the server recorded.
    pub hostname: Option<String>,
    /// The subnet the lease belongs to, when the backend can tell.
    pub subnet: Option<Cidr>,
    /// Lifetime in seconds.
    pub valid_lifetime: u64,
    /// When the client last talked to the server, seconds since the epoch.
    pub cltt: u64,
    /// Expiry, seconds since the epoch.
    pub expires: u64,
    /// `default`, `declined` or `expired-reclaimed`.
    pub state: &'static str,
}

/// Which leases to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LeaseFilter {
    /// Every lease of a subnet.
    Subnet(Cidr),
    /// The leases of one MAC address.
    Mac(MacAddress),
    /// Every lease the server holds.
    All,
}

/// What the DHCP resources need from a server, whatever runs it. The reservation model
/// (`Reservation`, `Change`) is rack-core's and backend-neutral.
#[async_trait]
pub trait DhcpBackend: Send + Sync + fmt::Debug {
    /// A word for messages, e.g. `Kea`.
    fn kind(&self) -> &'static str;
    /// The reservations of `subnet` (read once per provider process, kept until our own
    /// next write or [`DhcpBackend::forget`]), shared rather than copied: a plan asks once
    /// per lease.
    async fn reservations(&self, subnet: Cidr) -> Result<Arc<Vec<Reservation>>, DhcpError>;
    /// Drops what was read, so the next read asks the server.
    async fn forget(&self);
    /// Applies one change; changes that arrive together may be written together.
    async fn apply(&self, change: Change) -> Result<(), DhcpError>;
    /// Applies one change only where `expect` accepts the reservation it is about as the
    /// server holds it (`None`: none), else fails with [`ConfigError::Changed`]; a change
    /// already in effect succeeds. An add whose `expect` accepts an existing entry takes
    /// it over. This default reads the server afresh just before the write; Kea checks
    /// in the configuration it writes.
    async fn apply_expecting(&self, change: Change, expect: Expect) -> Result<(), DhcpError> {
        self.forget().await;
        let (subnet, identifier) = (change.subnet(), change.identifier().clone());
        let now = self
            .reservations(subnet)
            .await?
            .iter()
            .find(|r| r.identifier == identifier)
            .cloned();
        let done = match (&change, &now) {
            (Change::Add(r) | Change::Replace(r), Some(n)) => r.same_as(n),
            (Change::Remove { .. }, None) => true,
            _ => false,
        };
        if done {
            return Ok(());
        }
        if !expect(now.as_ref()) {
            return Err(DhcpError::Config(ConfigError::Changed {
                subnet,
                identifier,
                found: now.map_or_else(|| "none".to_owned(), |r| r.summary()),
            }));
        }
        match (change, now) {
            (Change::Add(r), Some(_)) => self.apply(Change::Replace(r)).await,
            (change, _) => self.apply(change).await,
        }
    }
    /// Applies every change of `changes` together, each where its expectation (if any)
    /// accepts the reservation it is about, as [`DhcpBackend::apply_expecting`] does; answers
    /// each change in order. This default sends them at once, so a backend that coalesces
    /// what arrives together writes them together (Kea: one `config-set`); the host
    /// database writes them in one transaction.
    async fn apply_all(
        &self,
        changes: Vec<(Change, Option<Expect>)>,
    ) -> Vec<Result<(), DhcpError>> {
        futures::future::join_all(changes.into_iter().map(|(change, expect)| async move {
            match expect {
                Some(expect) => self.apply_expecting(change, expect).await,
                None => self.apply(change).await,
            }
        }))
        .await
    }
    /// Active leases.
    async fn leases(&self, filter: LeaseFilter) -> Result<Vec<ActiveLease>, DhcpError>;
    /// The attributes of `r` this backend cannot store, each with why: refused at plan
    /// time, at the attribute.
    fn unsupported(&self, _r: &Reservation) -> Vec<(&'static str, String)> {
        Vec::new()
    }
    /// Whether two reservations of a subnet may not share a hostname.
    fn unique_hostnames(&self) -> bool {
        false
    }
}
