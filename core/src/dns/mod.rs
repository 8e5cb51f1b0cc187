//! The DNS wire layer rack owns, sans-IO: bytes in, bytes out, no sockets and no clock.
//!
//! Layering, bottom up:
//! - [`name`]: absolute domain names, presentation and wire form (RFC 1035 §3.1, §4.1.4, §5.1).
//! - [`rdata`]: record types and typed rdata with one normalised presentation form, so that
//!   the state rack stores compares equal to what a server returns (RFC 1035, RFC 3597 and
//!   each type's RFC).
//! - [`message`]: whole messages: building queries (including AXFR and SOA) and parsing
//!   responses into sections, with the EDNS extended rcode and the TSIG record set apart.
//! - [`update`]: RFC 2136 UPDATE messages, many RRsets per message, each change guarded by
//!   a prerequisite on the RRset's prior content.
//! - [`tsig`]: RFC 8945 signatures over the bytes the layers above produce. The caller
//!   passes the current time, so signing and verification stay pure.
//!
//!
//! Beside the sans-IO layers, and depending on them, not the other way round:
//! - [`transport`]: moves the byte buffers (UDP with TCP fallback, length-prefixed TCP
//!   streams for AXFR, timeouts and retries); no DNS semantics beyond ID and framing.
//! - [`client`]: [`DnsClient`], the async client the provider uses: zone snapshots by AXFR
//!   (fetched once, shared by concurrent readers), direct queries, and RRset changes
//!   coalesced into UPDATE messages with prerequisites; reads the clock for TSIG.

pub mod client;
pub mod message;
pub mod name;
pub mod rdata;
mod text;
pub mod transport;
pub mod tsig;
pub mod update;
pub mod wire;

pub use client::{
    DnsClient, DnsError, Operation, RrSet, RrsetChange, ServerConfig, Transport, ZoneSnapshot,
};
pub use message::{Class, Edns, Header, Message, Opcode, Question, Rcode, Record, TsigRecord};
pub use name::{Name, NameError};
pub use rdata::{RData, RDataError, RecordType, SvcParams};
pub use transport::TransportError;
pub use tsig::{
    RequestMac, StreamSigner, StreamVerifier, TsigAlgorithm, TsigError, TsigKey, sign_request,
    sign_response, verify_request, verify_response,
};
pub use update::{UpdateBuilder, UpdateError};
pub use wire::WireError;
