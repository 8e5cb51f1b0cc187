//! Why a DNS operation failed ([`DnsError`]), with what to check.

use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

use crate::dns::message::Rcode;
use crate::dns::name::Name;
use crate::dns::rdata::RecordType;
use crate::dns::transport::TransportError;
use crate::dns::tsig::{TsigAlgorithm, TsigError};
use crate::dns::update::UpdateError;
use crate::dns::wire::WireError;

/// What a failing exchange was doing, for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A query (SOA or one RRset).
    Query,
    /// A zone transfer.
    Transfer,
    /// A dynamic update.
    Update,
}

impl fmt::Display for Operation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Query => "query",
            Self::Transfer => "zone transfer (AXFR)",
            Self::Update => "UPDATE",
        })
    }
}

fn refused_hint(op: &Operation, key: &Option<Name>) -> String {
    let who = match key {
        Some(k) => format!("key {k}"),
        None => "unsigned requests (no TSIG key is configured)".to_owned(),
    };
    match op {
        Operation::Update => {
            format!(
                "check that the zone's update-policy (or allow-update) grants {who}, and the \
                 server's log for a failed integrity check (e.g. an MX or NS target without \
                 address records)"
            )
        }
        Operation::Transfer => format!("check that the zone's allow-transfer grants {who}"),
        Operation::Query => {
            "check that the server serves this zone and that allow-query lets us ask".to_owned()
        }
    }
}

fn not_written_hint(name: &Name, rtype: &RecordType, others: &[RecordType]) -> String {
    let list: Vec<String> = others.iter().map(ToString::to_string).collect();
    if *rtype == RecordType::Cname && !others.is_empty() {
        format!(
            "{name} holds {} records, and a CNAME cannot share its name with other data \
             (RFC 1034 §3.6.2), so the server ignored it; remove the other record sets or use \
             another name",
            list.join(", ")
        )
    } else if others.contains(&RecordType::Cname) {
        format!(
            "{name} holds a CNAME, and no other data can share its name (RFC 1034 §3.6.2), so \
             the server ignored the change; remove the CNAME or use another name"
        )
    } else {
        "the server ignored the change (check its log) or someone else changed the record set \
         right after it; run terraform plan to see what the zone holds"
            .to_owned()
    }
}

/// Why a DNS operation failed. Every message says what to check.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum DnsError {
    /// The configured address does not resolve.
    #[error("DNS server address {address:?} cannot be used; set it as host:port")]
    Address {
        /// The address as configured.
        address: String,
        /// Why it does not resolve.
        #[source]
        source: TransportError,
    },
    /// No answer within the timeout, after every retry.
    #[error(
        "DNS server {server} did not answer within {timeout:?} ({attempts} attempt(s)); check the server address and port, that the server is running, and the timeout"
    )]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// How long each attempt waited.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// Nothing listens at the address.
    #[error(
        "DNS server {server} refused the connection; check the address and port and that the server listens there"
    )]
    ConnectionRefused {
        /// The server.
        server: SocketAddr,
    },
    /// Another network failure.
    #[error("Cannot exchange messages with DNS server {server}")]
    Network {
        /// The server.
        server: SocketAddr,
        /// What went wrong.
        #[source]
        source: TransportError,
    },
    /// The server answered REFUSED.
    #[error("DNS server {server} REFUSED the {op} for zone {zone}; {}", refused_hint(.op, .key))]
    Refused {
        /// The server.
        server: SocketAddr,
        /// What was refused.
        op: Operation,
        /// The zone (for a query: the name asked).
        zone: Name,
        /// The key the request was signed with.
        key: Option<Name>,
    },
    /// The server answered NOTAUTH (RFC 2136 §2.2, RFC 8945 §5.4).
    #[error(
        "DNS server {server} answered NOTAUTH to the {op} for zone {zone}: it is not authoritative for the zone or did not accept the key; check the zone name, that this server is the zone's primary, and the key"
    )]
    NotAuth {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone.
        zone: Name,
    },
    /// The server answered NOTZONE: a name of the UPDATE is outside the zone.
    #[error(
        "A name in the UPDATE is outside zone {zone} (NOTZONE); check the zone name and that every record name ends in it"
    )]
    NotZone {
        /// The zone.
        zone: Name,
    },
    /// The server answered SERVFAIL.
    #[error(
        "DNS server {server} failed (SERVFAIL) on the {op} for zone {zone}; check the server's log (is the zone loaded, is its journal writable?)"
    )]
    ServFail {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone.
        zone: Name,
    },
    /// The server does not serve the zone.
    #[error(
        "Zone {zone} does not exist on DNS server {server} ({rcode} to the {op}); check the zone name and that the server serves it"
    )]
    ZoneNotFound {
        /// The server.
        server: SocketAddr,
        /// The zone.
        zone: Name,
        /// What was attempted.
        op: Operation,
        /// What the server answered.
        rcode: Rcode,
    },
    /// The server does not know the key (TSIG BADKEY).
    #[error(
        "DNS server {server} does not know TSIG key {key} with algorithm {algorithm} (BADKEY); check the key name and algorithm against the server's key statement"
    )]
    BadKey {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: Name,
        /// The key's algorithm.
        algorithm: TsigAlgorithm,
    },
    /// The server could not verify our signature (TSIG BADSIG).
    #[error(
        "DNS server {server} rejected the signature of TSIG key {key} (BADSIG); check that the key's secret and algorithm match the server's"
    )]
    BadSig {
        /// The server.
        server: SocketAddr,
        /// The key's name.
        key: Name,
    },
    /// The server found our clock too far from its own (TSIG BADTIME).
    #[error(
        "DNS server {server} rejected the time of our signature (BADTIME): its clock says {server_time}, ours {client_time}; check both clocks (NTP)"
    )]
    BadTime {
        /// The server.
        server: SocketAddr,
        /// The server's time, seconds since the epoch (0 when it did not say).
        server_time: u64,
        /// Our time, seconds since the epoch.
        client_time: u64,
    },
    /// Signing a request or verifying a response failed.
    #[error("TSIG check of the exchange with DNS server {server} failed")]
    Tsig {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        #[source]
        source: TsigError,
    },
    /// The response does not parse.
    #[error("Malformed response from DNS server {server}")]
    Malformed {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        #[source]
        source: WireError,
    },
    /// The response parses but makes no sense for the request.
    #[error("Unexpected response from DNS server {server}: {reason}")]
    Unexpected {
        /// The server.
        server: SocketAddr,
        /// What was wrong.
        reason: String,
    },
    /// The server answered another error code.
    #[error("DNS server {server} answered {rcode} to the {op} for zone {zone}")]
    Rcode {
        /// The server.
        server: SocketAddr,
        /// What was attempted.
        op: Operation,
        /// The zone (for a query: the name asked).
        zone: Name,
        /// The response code.
        rcode: Rcode,
    },
    /// The RRset's content is no longer what the change expected.
    #[error(
        "{name} {rtype} was changed by someone else since it was last read; read it again before changing it"
    )]
    Conflict {
        /// Owner name.
        name: Name,
        /// Type.
        rtype: RecordType,
    },
    /// The change cannot be expressed as an UPDATE (name outside the zone, wrong rdata type,
    /// meta-type, too large).
    #[error("Cannot build the UPDATE for zone {zone}")]
    Build {
        /// The zone.
        zone: Name,
        /// What was wrong.
        #[source]
        source: UpdateError,
    },
    /// The query cannot be encoded.
    #[error("Cannot encode the query for {name}")]
    Encode {
        /// The name asked.
        name: Name,
        /// What was wrong.
        #[source]
        source: WireError,
    },
    /// The server accepted the UPDATE, but the RRset read back right after it does not
    /// hold what the change wrote: the server ignored the change (RFC 2136 §3.4.2.2
    /// lets it, e.g. for a CNAME beside other data) or someone else changed it meanwhile.
    #[error("{name} {rtype} was not written: the server accepted the UPDATE, but right after it the zone holds {found}; {}", not_written_hint(.name, .rtype, .others))]
    NotWritten {
        /// Owner name.
        name: Name,
        /// Type.
        rtype: RecordType,
        /// What the zone held for the RRset when read back (records or "no such records").
        found: String,
        /// The other types at the name when read back.
        others: Vec<RecordType>,
    },
    /// The server accepted the UPDATE, but reading the zone back to check its effect
    /// failed, so whether the change took effect is unknown.
    #[error(
        "The UPDATE of zone {zone} was accepted but its effect could not be read back; run terraform plan to see what the zone holds"
    )]
    Unverified {
        /// The zone.
        zone: Name,
        /// Why the zone could not be read back.
        #[source]
        source: Box<DnsError>,
    },
    /// The task sending the zone's UPDATEs ended before answering this change.
    #[error(
        "The UPDATE for zone {zone} was abandoned before the server answered; read the zone again and retry"
    )]
    Abandoned {
        /// The zone.
        zone: Name,
    },
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::name;
    use super::*;

    #[test]
    fn errors_say_what_to_check() {
        let server: SocketAddr = "127.0.0.1:53".parse().unwrap();
        let refused = DnsError::Refused {
            server,
            op: Operation::Update,
            zone: name("farm."),
            key: Some(name("k.")),
        }
        .to_string();
        assert!(
            refused.contains("update-policy") && refused.contains("k."),
            "{refused}"
        );
        let refused = DnsError::Refused {
            server,
            op: Operation::Transfer,
            zone: name("farm."),
            key: Some(name("k.")),
        }
        .to_string();
        assert!(refused.contains("allow-transfer"), "{refused}");
        let conflict = DnsError::Conflict {
            name: name("www.farm."),
            rtype: RecordType::A,
        }
        .to_string();
        assert!(
            conflict.starts_with("www.farm. A was changed"),
            "{conflict}"
        );
    }
}
