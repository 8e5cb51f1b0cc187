//! An OVSDB (RFC 7047) client for Open vSwitch's `ovsdb-server`, and what rack manages
//! through it: bridges, ports with their interfaces, and named VLANs.
//!
//! The client is rack's own: the Rust OVSDB crates that exist are unmaintained 0.0.x
//! releases, and the part rack needs (JSON-RPC `transact` with `select`, `insert`,
//! `update`, `mutate` and `wait` operations) is small.
//!
//! - `wire` (pure): JSON-RPC 1.0 messages and the framing of a byte stream where messages
//!   are concatenated JSON texts with no delimiter (RFC 7047 section 4).
//! - `datum` (pure): OVSDB's JSON notation of atoms, sets and maps (section 5.1).
//! - `model` (pure): the rows rack reads (Bridge, Port, Interface, Open_vSwitch), the
//!   specs it writes, and a switch's snapshot.
//! - `txn` (pure): a batch of changes turned into one transaction's operations
//!   (section 5.2), with `wait` operations on every row the batch read.
//! - `transport`: TCP, unix socket and TLS connections, the task that reads them and
//!   answers the server's `echo`.
//! - `client`: [`SwitchClient`], one per switch: one read per provider process, served
//!   from memory, and one transaction per batch of changes that arrive together,
//!   confirmed through `next_cfg`/`cur_cfg` and the new interfaces' `ofport` and `error`.

mod client;
mod datum;
mod error;
mod model;
mod transport;
mod txn;
mod wire;

pub use client::{COALESCE_WINDOW, SwitchClient, SwitchConfig};
pub use error::OvsdbError;
pub use model::{
    BridgeSpec, BridgeState, Change, InterfaceSpec, InterfaceState, PORT_VLAN_KEY, PortSpec,
    PortState, Snapshot, VLAN_KEY_PREFIX, Vlan,
};
pub use transport::Address;
