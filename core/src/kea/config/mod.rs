//! Host reservations and the pure edit of a Kea DHCPv4 configuration, sans I/O.
//!
//! The configuration is kept as a `serde_json::Value` with `preserve_order`, so an edit
//! changes the one `reservations` entry it is about and nothing else: every other key,
//! subnet and reservation keeps its value and its place (Kea ARM §"Host Reservations in
//! DHCPv4": a reservation lives in its subnet's `reservations` list).

mod document;
#[cfg(test)]
mod fixtures;
mod model;

pub use document::{Subnet4, apply, config_hash, find, in_effect, reservations, subnets};
pub use model::{Change, ConfigError, HostIdentifier, MAX_CIRCUIT_ID, OptionData, Reservation};
