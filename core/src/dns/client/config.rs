//! What a [`DnsClient`] is configured with: the server, its transport and TSIG key.

use std::time::Duration;

use crate::dns::tsig::TsigKey;

/// How long the first change for a zone waits for others before its UPDATE is sent.
/// Terraform hands the provider one resource at a time, some milliseconds apart, and holds
/// at most `-parallelism` (10) in flight: waiting this long lets those in-flight changes
/// share one UPDATE (about ten times fewer messages) at the cost of one short delay per
/// batch, which is small next to Terraform's own time per resource.
pub const COALESCE_WINDOW: Duration = Duration::from_millis(30);

/// Zone transfers one client runs at once. BIND refuses outgoing transfers beyond its
/// `transfers-out` quota (10 by default, shared with its secondaries) with SERVFAIL, and a
/// plan of many zones at `-parallelism` above 10 started one transfer per zone at once;
/// the others wait for a slot, which costs little since each transfer takes milliseconds.
pub(super) const MAX_CONCURRENT_TRANSFERS: usize = 4;

/// UDP payload size we advertise in queries (EDNS, RFC 6891 §6.2.5): the size DNS Flag Day
/// 2020 recommends to avoid IP fragmentation.
pub(super) const EDNS_UDP_SIZE: u16 = 1232;

/// How rack reaches the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Transport {
    /// Small messages over UDP, again over TCP when the answer is truncated; zone
    /// transfers and large UPDATEs always over TCP.
    #[default]
    UdpWithTcpFallback,
    /// Every message over TCP.
    Tcp,
}

/// One DNS server and how to talk to it.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// `host:port`, resolved each time a message is sent.
    pub address: String,
    /// Key to sign every message with; `None` sends unsigned messages.
    pub tsig: Option<TsigKey>,
    /// UDP with TCP fallback, or TCP only.
    pub transport: Transport,
    /// How long one attempt may wait for an answer (for AXFR: for each message).
    pub timeout: Duration,
    /// How many times an attempt that timed out is repeated.
    pub retries: u32,
}

impl ServerConfig {
    /// `address` with no key, UDP with TCP fallback, a 5 s timeout and 2 retries.
    pub fn new(address: impl Into<String>) -> Self {
        Self {
            address: address.into(),
            tsig: None,
            transport: Transport::UdpWithTcpFallback,
            timeout: Duration::from_secs(5),
            retries: 2,
        }
    }
}
