//! Moving DNS messages to a server and back: UDP with retries and fallback to TCP when the
//! answer is truncated, TCP with the two-byte length prefix (RFC 1035 §4.2.2, RFC 7766 §8),
//! and a reader for responses that span several TCP messages (AXFR, RFC 5936 §2.2).
//!
//! Bytes in, bytes out: this module looks at a message only for its ID, its QR bit and the
//! TC bit. Building, signing and interpreting messages is the caller's job. Every message
//! written to the network is counted in the [`Endpoint`]'s counter, retries included, so
//! the counter says what the server really received.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpStream, UdpSocket};
use tokio::time::{Instant, timeout_at};

use super::message::HEADER_LEN;

/// Largest request sent over UDP; larger ones go straight to TCP. RFC 1035 §4.2.1 limits
/// UDP messages to 512 octets unless EDNS negotiates more, and a request cannot know what
/// the server negotiates, so large UPDATEs go over TCP.
pub const MAX_UDP_REQUEST: usize = 512;
/// Receive buffer for UDP responses: the largest UDP payload there is, so that a datagram
/// is never cut short by us (the server's EDNS limit is what bounds it).
const UDP_RECV_BUFFER: usize = 65_535;
/// Bit of the header's third octet that marks a truncated response (RFC 1035 §4.1.1).
const TC_BIT: u8 = 0x02;
/// Bit of the header's third octet that marks a response.
const QR_BIT: u8 = 0x80;

/// Why a message could not be exchanged.
#[derive(Debug, Clone, thiserror::Error)]
#[non_exhaustive]
pub enum TransportError {
    /// The configured address does not resolve to a socket address.
    #[error("Cannot resolve DNS server address {address:?}; give it as host:port")]
    Resolve {
        /// The address as configured.
        address: String,
        /// What the resolver said.
        #[source]
        source: Arc<io::Error>,
    },
    /// No answer within the timeout, after every retry.
    #[error("No answer from {server} after {attempts} attempt(s) of {timeout:?} each")]
    Timeout {
        /// The server.
        server: SocketAddr,
        /// How long each attempt waited.
        timeout: Duration,
        /// How many attempts were made.
        attempts: u32,
    },
    /// The server's host refused the connection (TCP RST or ICMP port unreachable).
    #[error("Connection to {server} refused")]
    ConnectionRefused {
        /// The server.
        server: SocketAddr,
    },
    /// The server closed a TCP connection before the whole response arrived.
    #[error("{server} closed the connection before the response was complete")]
    Closed {
        /// The server.
        server: SocketAddr,
    },
    /// A response is shorter than a DNS header.
    #[error("Response of {len} octets from {server} is shorter than a DNS header")]
    TooShort {
        /// The server.
        server: SocketAddr,
        /// Its length.
        len: usize,
    },
    /// A request does not fit the two-byte TCP length prefix.
    #[error("Request of {len} octets is too long for DNS over TCP")]
    RequestTooLong {
        /// Its length.
        len: usize,
    },
    /// Another socket error.
    #[error("Network error talking to {server}")]
    Io {
        /// The server.
        server: SocketAddr,
        /// What the OS said.
        #[source]
        source: Arc<io::Error>,
    },
}

impl TransportError {
    fn io(server: SocketAddr, e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::ConnectionRefused => Self::ConnectionRefused { server },
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset => {
                Self::Closed { server }
            }
            _ => Self::Io {
                server,
                source: Arc::new(e),
            },
        }
    }
}

/// Where to send messages and how patiently.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The server.
    pub server: SocketAddr,
    /// How long one attempt (one UDP datagram, or one TCP connect-and-answer) may take.
    pub timeout: Duration,
    /// How many times a timed-out attempt is repeated.
    pub retries: u32,
    /// Counts every message written to the network.
    pub sent: Arc<AtomicU64>,
}

impl Endpoint {
    fn count(&self) {
        self.sent.fetch_add(1, Ordering::Relaxed);
    }

    fn attempts(&self) -> u32 {
        self.retries.saturating_add(1)
    }

    fn timed_out(&self) -> TransportError {
        TransportError::Timeout {
            server: self.server,
            timeout: self.timeout,
            attempts: self.attempts(),
        }
    }
}

/// Resolves `host:port` to the first address it names.
pub async fn resolve(address: &str) -> Result<SocketAddr, TransportError> {
    let resolve_err = |source: io::Error| TransportError::Resolve {
        address: address.to_owned(),
        source: Arc::new(source),
    };
    let mut addrs = tokio::net::lookup_host(address)
        .await
        .map_err(resolve_err)?;
    addrs.next().ok_or_else(|| {
        resolve_err(io::Error::new(
            io::ErrorKind::NotFound,
            "the name has no addresses",
        ))
    })
}

/// A fresh message ID, unpredictable to others on the path (RFC 5452 §9.2).
pub fn random_id() -> u16 {
    use std::hash::{BuildHasher, Hasher};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    // `RandomState` is seeded from the OS once per process and each new one differs, so
    // hashing a counter with it gives IDs an off-path attacker cannot guess.
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    h.finish() as u16
}

fn request_id(request: &[u8]) -> Option<[u8; 2]> {
    request.get(..2).and_then(|b| b.try_into().ok())
}

/// Whether `response` is a response carrying the ID of `request`.
fn answers(request: &[u8], response: &[u8]) -> bool {
    response.len() >= HEADER_LEN
        && request_id(request).is_some_and(|id| response[..2] == id)
        && response[2] & QR_BIT != 0
}

fn truncated(response: &[u8]) -> bool {
    response.get(2).is_some_and(|b| b & TC_BIT != 0)
}

/// Sends `request` and returns the response: over UDP when `udp` is set and the request is
/// small enough, repeating it after each timeout, and again over TCP when the UDP answer is
/// truncated; otherwise over TCP only.
pub async fn exchange(
    endpoint: &Endpoint,
    request: &[u8],
    udp: bool,
) -> Result<Vec<u8>, TransportError> {
    if udp && request.len() <= MAX_UDP_REQUEST {
        let response = exchange_udp(endpoint, request).await?;
        if !truncated(&response) {
            return Ok(response);
        }
        tracing::debug!(server = %endpoint.server, "UDP response truncated; asking again over TCP");
    }
    exchange_tcp(endpoint, request).await
}

/// One request over UDP. Datagrams that do not answer it (wrong ID, not a response) are
/// ignored; each timeout sends the request again, `retries` times.
pub async fn exchange_udp(endpoint: &Endpoint, request: &[u8]) -> Result<Vec<u8>, TransportError> {
    let server = endpoint.server;
    let local: SocketAddr = if server.is_ipv4() {
        (std::net::Ipv4Addr::UNSPECIFIED, 0).into()
    } else {
        (std::net::Ipv6Addr::UNSPECIFIED, 0).into()
    };
    let socket = UdpSocket::bind(local)
        .await
        .map_err(|e| TransportError::io(server, e))?;
    // Connected: only the server's datagrams arrive, and ICMP errors surface as errors.
    socket
        .connect(server)
        .await
        .map_err(|e| TransportError::io(server, e))?;
    let mut buf = vec![0u8; UDP_RECV_BUFFER];
    for _ in 0..endpoint.attempts() {
        socket
            .send(request)
            .await
            .map_err(|e| TransportError::io(server, e))?;
        endpoint.count();
        let deadline = Instant::now() + endpoint.timeout;
        loop {
            match timeout_at(deadline, socket.recv(&mut buf)).await {
                Err(_) => break,
                Ok(Err(e)) => return Err(TransportError::io(server, e)),
                Ok(Ok(n)) => {
                    let datagram = buf.get(..n).unwrap_or_default();
                    if answers(request, datagram) {
                        return Ok(datagram.to_vec());
                    }
                    tracing::debug!(%server, len = n, "ignoring a datagram that does not answer our request");
                }
            }
        }
    }
    Err(endpoint.timed_out())
}

/// One request over a fresh TCP connection, one response back. A timed-out attempt is
/// repeated `retries` times.
pub async fn exchange_tcp(endpoint: &Endpoint, request: &[u8]) -> Result<Vec<u8>, TransportError> {
    for _ in 0..endpoint.attempts() {
        let deadline = Instant::now() + endpoint.timeout;
        let attempt = async {
            let mut stream = TcpStreamReader::open(endpoint, request).await?;
            stream.next_message().await
        };
        match timeout_at(deadline, attempt).await {
            Ok(result) => return result,
            Err(_) => continue,
        }
    }
    Err(endpoint.timed_out())
}

fn frame(request: &[u8]) -> Result<Vec<u8>, TransportError> {
    let len = u16::try_from(request.len())
        .map_err(|_| TransportError::RequestTooLong { len: request.len() })?;
    let mut framed = Vec::with_capacity(request.len() + 2);
    framed.extend_from_slice(&len.to_be_bytes());
    framed.extend_from_slice(request);
    Ok(framed)
}

/// A TCP connection that has sent one request and reads the messages of its response one
/// by one, for responses made of many messages such as AXFR (RFC 5936 §2.2). Messages
/// whose ID differs from the request's are skipped.
#[derive(Debug)]
pub struct TcpStreamReader {
    stream: TcpStream,
    server: SocketAddr,
    timeout: Duration,
    id: [u8; 2],
}

impl TcpStreamReader {
    /// Connects (within the endpoint's timeout; no retries) and sends `request`.
    pub async fn open(endpoint: &Endpoint, request: &[u8]) -> Result<Self, TransportError> {
        let server = endpoint.server;
        let framed = frame(request)?;
        let id = request_id(request).ok_or(TransportError::TooShort {
            server,
            len: request.len(),
        })?;
        let deadline = Instant::now() + endpoint.timeout;
        let mut stream = match timeout_at(deadline, TcpStream::connect(server)).await {
            Err(_) => {
                return Err(TransportError::Timeout {
                    server,
                    timeout: endpoint.timeout,
                    attempts: 1,
                });
            }
            Ok(r) => r.map_err(|e| TransportError::io(server, e))?,
        };
        let _ = stream.set_nodelay(true);
        stream
            .write_all(&framed)
            .await
            .map_err(|e| TransportError::io(server, e))?;
        endpoint.count();
        Ok(Self {
            stream,
            server,
            timeout: endpoint.timeout,
            id,
        })
    }

    /// The next message of the response; each read may take up to the endpoint's timeout.
    pub async fn next_message(&mut self) -> Result<Vec<u8>, TransportError> {
        loop {
            let deadline = Instant::now() + self.timeout;
            let read = async {
                let mut len = [0u8; 2];
                self.stream.read_exact(&mut len).await?;
                let mut msg = vec![0u8; usize::from(u16::from_be_bytes(len))];
                self.stream.read_exact(&mut msg).await?;
                Ok::<_, io::Error>(msg)
            };
            let msg = match timeout_at(deadline, read).await {
                Err(_) => {
                    return Err(TransportError::Timeout {
                        server: self.server,
                        timeout: self.timeout,
                        attempts: 1,
                    });
                }
                Ok(r) => r.map_err(|e| TransportError::io(self.server, e))?,
            };
            if msg.len() < HEADER_LEN {
                return Err(TransportError::TooShort {
                    server: self.server,
                    len: msg.len(),
                });
            }
            if msg[..2] == self.id && msg[2] & QR_BIT != 0 {
                return Ok(msg);
            }
            tracing::debug!(server = %self.server, "ignoring a TCP message that does not answer our request");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_checks_id_and_qr() {
        let req = [0x12, 0x34, 0, 0, 0, 1, 0, 0, 0, 0, 0, 0];
        let mut resp = req;
        assert!(!answers(&req, &resp), "a query is not a response");
        resp[2] = QR_BIT;
        assert!(answers(&req, &resp));
        resp[1] = 0x35;
        assert!(!answers(&req, &resp), "wrong ID");
        assert!(!answers(&req, &resp[..5]), "too short");
    }

    #[test]
    fn truncation_bit_is_read() {
        assert!(truncated(&[0, 0, QR_BIT | TC_BIT, 0]));
        assert!(!truncated(&[0, 0, QR_BIT, 0]));
        assert!(!truncated(&[]));
    }

    #[test]
    fn frame_prefixes_length_and_rejects_oversize() {
        assert_eq!(frame(&[1, 2, 3]).unwrap(), vec![0, 3, 1, 2, 3]);
        assert!(matches!(
            frame(&vec![0; 70_000]),
            Err(TransportError::RequestTooLong { len: 70_000 })
        ));
    }

    #[test]
    fn random_ids_vary() {
        let ids: std::collections::HashSet<u16> = (0..64).map(|_| random_id()).collect();
        assert!(ids.len() > 32, "{ids:?}");
    }

    #[tokio::test]
    async fn udp_ignores_mismatched_ids_and_retries() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let addr = server.local_addr().unwrap();
        let ep = Endpoint {
            server: addr,
            timeout: Duration::from_millis(200),
            retries: 2,
            sent: Arc::default(),
        };
        let responder = tokio::spawn(async move {
            let mut buf = [0u8; 512];
            // Drop the first attempt; answer the second with a wrong ID, then the right one.
            let (_, _) = server.recv_from(&mut buf).await.unwrap();
            let (n, from) = server.recv_from(&mut buf).await.unwrap();
            let mut wrong = buf[..n].to_vec();
            wrong[0] ^= 0xff;
            wrong[2] |= QR_BIT;
            server.send_to(&wrong, from).await.unwrap();
            let mut right = buf[..n].to_vec();
            right[2] |= QR_BIT;
            server.send_to(&right, from).await.unwrap();
        });
        let req = [0xab, 0xcd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
        let resp = exchange_udp(&ep, &req).await.unwrap();
        assert_eq!(resp[..2], [0xab, 0xcd]);
        assert_eq!(ep.sent.load(Ordering::Relaxed), 2);
        responder.await.unwrap();
    }

    #[tokio::test]
    async fn udp_gives_up_after_retries() {
        let server = UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let ep = Endpoint {
            server: server.local_addr().unwrap(),
            timeout: Duration::from_millis(50),
            retries: 1,
            sent: Arc::default(),
        };
        let err = exchange_udp(&ep, &[0; 12]).await.unwrap_err();
        assert!(
            matches!(err, TransportError::Timeout { attempts: 2, .. }),
            "{err:?}"
        );
        assert_eq!(ep.sent.load(Ordering::Relaxed), 2);
        drop(server);
    }
}
