//! The lab: how every service rack manages is configured, started and stopped, in one
//! place, for the core crate's integration tests, the acceptance tests, the benchmarks
//! and `scripts/up`.
//!
//! Real backends started in temp dirs on 127.0.0.1 (Kea's DHCP side, libvirtd and Open
//! vSwitch's forwarding in network namespaces the fixtures create; PostgreSQL also on a unix socket there). Plain std code with no dependencies. Every
//! daemon is stopped by its PID and its temp dir removed when its handle is dropped,
//! also when a test panics.

pub mod aptly;
pub mod guest;
pub mod kea;
pub mod libvirt;
pub mod named;
pub mod netns;
pub mod nginx;
pub mod ovs;
pub mod pdns;
pub mod postgres;
pub mod process;
pub mod provisioning;
pub mod relay;
pub mod standing;
pub mod storage;
pub mod udhcpc;

pub use aptly::Aptly;
pub use guest::Guest;
pub use kea::Kea;
pub use libvirt::Libvirt;
pub use named::Named;
pub use ovs::{Ovs, OvsMode, OvsPki};
pub use pdns::PowerDns;
pub use postgres::Postgres;
pub use process::FixtureError;
pub use provisioning::Provisioning;
