//! Real backends for integration tests, started in temp dirs on 127.0.0.1 (Kea's DHCP
//! side and libvirtd in network namespaces the fixtures create).
//!
//! Plain std code with no test-only dependencies, so that any test binary (this crate's
//! or the acceptance tests', through `#[path = ".../core/tests/support/mod.rs"] mod
//! support;`) can use it. Every daemon is stopped by its PID and its temp dir removed
//! when its handle is dropped, also when a test panics.

#![allow(dead_code, unused_imports)]

pub mod guest;
pub mod kea;
pub mod libvirt;
pub mod named;
pub mod pdns;
pub mod process;
pub mod storage;

pub use guest::Guest;
pub use kea::Kea;
pub use libvirt::Libvirt;
pub use named::Named;
pub use pdns::PowerDns;
pub use process::FixtureError;
