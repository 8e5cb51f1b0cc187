//! The errors of the OVSDB client.

/// What went wrong talking to a switch or applying a change to it.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum OvsdbError {
    /// The switch address is not `tcp:HOST:PORT`, `ssl:HOST:PORT` or `unix:PATH`.
    #[error("Invalid switch address {address:?}: {reason}")]
    InvalidAddress {
        /// The address as given.
        address: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The TLS settings cannot be used.
    #[error("Invalid TLS settings: {0}")]
    Tls(String),
    /// The connection could not be made or broke.
    #[error("Cannot reach the switch at {address}: {reason}")]
    Connect {
        /// The switch address.
        address: String,
        /// Why.
        reason: String,
    },
    /// The server sent something that is not OVSDB's JSON-RPC.
    #[error("Unexpected answer from the switch: {0}")]
    Protocol(String),
    /// The server answered a request with an error.
    #[error("The switch refused the request: {0}")]
    Rpc(String),
    /// An operation of a transaction failed (a constraint, a reference, a bad value).
    #[error("The switch refused the transaction: {0}")]
    Transaction(String),
    /// Another writer changed what a change expected, between the read it is based on
    /// and its write.
    #[error("{what} changed on the switch since it was read: {detail}")]
    Changed {
        /// The object, e.g. `port "p1" of bridge "br0"`.
        what: String,
        /// What differs.
        detail: String,
    },
    /// A change names something that does not exist on the switch.
    #[error("{0} does not exist on the switch")]
    NotFound(String),
    /// A change would create something that exists already.
    #[error("{0} already exists on the switch")]
    Exists(String),
    /// A spec is not acceptable (checked before anything is sent).
    #[error("Invalid {what}: {reason}")]
    Invalid {
        /// The object.
        what: String,
        /// Why.
        reason: String,
    },
    /// ovs-vswitchd did not apply the change in time (`cur_cfg` did not reach `next_cfg`).
    #[error("ovs-vswitchd did not apply the change within {0:?}")]
    NotApplied(std::time::Duration),
    /// ovs-vswitchd applied the change but an interface failed (its `error` column, or
    /// no OpenFlow port).
    #[error("Interface {interface:?} failed on the switch: {reason}")]
    InterfaceFailed {
        /// The interface name.
        interface: String,
        /// OVS's error text.
        reason: String,
    },
    /// The transaction kept losing races with other writers.
    #[error("The switch kept changing while rack wrote to it ({0} attempts)")]
    Contended(usize),
}
