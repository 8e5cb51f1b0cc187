//! Connections to ovsdb-server: `tcp:HOST:PORT`, `ssl:HOST:PORT` (TLS with a client
//! certificate, as OVS's own `ssl:` remotes) and `unix:PATH`, and the task that reads a
//! connection, hands each response to its caller and answers the server's `echo`
//! (ovsdb-server probes an idle connection with `echo` and drops it when unanswered).

use std::collections::HashMap;
use std::fmt;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use serde_json::Value;
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::sync::oneshot;

use super::OvsdbError;
use super::wire::{self, Framer, Message};
use crate::kea::Secret;
use crate::sync::lock;

/// Where a switch's ovsdb-server listens.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// `tcp:HOST:PORT`.
    Tcp(String, u16),
    /// `ssl:HOST:PORT`.
    Ssl(String, u16),
    /// `unix:PATH`.
    Unix(PathBuf),
}

impl Address {
    /// Parses OVS's connection syntax (`tcp:10.0.0.2:6640`, `ssl:[::1]:6640`,
    /// `unix:/run/openvswitch/db.sock`).
    pub fn parse(text: &str) -> Result<Self, OvsdbError> {
        let bad = |reason: &str| OvsdbError::InvalidAddress {
            address: text.to_owned(),
            reason: reason.to_owned(),
        };
        let (scheme, rest) = text
            .split_once(':')
            .ok_or_else(|| bad("expected tcp:HOST:PORT, ssl:HOST:PORT or unix:PATH"))?;
        if scheme == "unix" {
            if rest.is_empty() {
                return Err(bad("the socket path is empty"));
            }
            return Ok(Self::Unix(PathBuf::from(rest)));
        }
        let (host, port) = rest
            .rsplit_once(':')
            .ok_or_else(|| bad("expected HOST:PORT after the scheme"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() {
            return Err(bad("the host is empty"));
        }
        let port: u16 = port
            .parse()
            .map_err(|_| bad("the port is not a number from 1 to 65535"))?;
        match scheme {
            "tcp" => Ok(Self::Tcp(host.to_owned(), port)),
            "ssl" => Ok(Self::Ssl(host.to_owned(), port)),
            _ => Err(bad("the scheme is not tcp, ssl or unix")),
        }
    }
}

impl fmt::Display for Address {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let bracket = |h: &str| {
            if h.contains(':') {
                format!("[{h}]")
            } else {
                h.to_owned()
            }
        };
        match self {
            Self::Tcp(h, p) => write!(f, "tcp:{}:{p}", bracket(h)),
            Self::Ssl(h, p) => write!(f, "ssl:{}:{p}", bracket(h)),
            Self::Unix(path) => write!(f, "unix:{}", path.display()),
        }
    }
}

/// The rustls configuration of an `ssl:` switch: its CA (required: OVS deployments run
/// their own PKI), and the client certificate and key.
pub fn tls_config(
    ca_pem: Option<&str>,
    cert_pem: Option<&str>,
    key_pem: Option<&Secret>,
) -> Result<rustls::ClientConfig, OvsdbError> {
    let tls = |m: &str| OvsdbError::Tls(m.to_owned());
    let ca = ca_pem.ok_or_else(|| {
        tls("an ssl: address needs ca_cert, the CA that signed the switch's certificate")
    })?;
    let roots = crate::tls::root_store(ca.as_bytes(), true).map_err(OvsdbError::Tls)?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let inner = rustls::client::WebPkiServerVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .build()
    .map_err(|e| OvsdbError::Tls(format!("the CA certificate cannot be used ({e})")))?;
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| OvsdbError::Tls(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(ChainOnly(inner)));
    crate::tls::with_client_auth(builder, cert_pem, key_pem).map_err(OvsdbError::Tls)
}

/// Verifies the switch's certificate chain against the configured CA, and not the name
/// in it: OVS's PKI (`ovs-pki`) issues certificates whose subject is a switch id, not a
/// host name, and OVS itself checks the chain only. Trust rests on the CA, which should
/// be the switches' own.
#[derive(Debug)]
struct ChainOnly(Arc<rustls::client::WebPkiServerVerifier>);

impl ServerCertVerifier for ChainOnly {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        match self
            .0
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
        {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}

type Reply = oneshot::Sender<Result<Value, OvsdbError>>;
type Writer = Arc<tokio::sync::Mutex<Box<dyn AsyncWrite + Send + Unpin>>>;

/// One open connection. Requests may be sent concurrently; the reader task routes each
/// response by id. Dropping it stops the reader.
pub struct Connection {
    address: String,
    writer: Writer,
    pending: Arc<Mutex<Option<HashMap<u64, Reply>>>>,
    next_id: AtomicU64,
    reader: tokio::task::JoinHandle<()>,
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl Drop for Connection {
    fn drop(&mut self) {
        self.reader.abort();
    }
}

impl Connection {
    /// Connects to `address` within `timeout` (TLS with `tls` for `ssl:`).
    pub async fn open(
        address: &Address,
        tls: Option<Arc<rustls::ClientConfig>>,
        timeout: Duration,
    ) -> Result<Self, OvsdbError> {
        let name = address.to_string();
        let fail = |reason: String| OvsdbError::Connect {
            address: name.clone(),
            reason,
        };
        let connect = async {
            let (read, write): (
                Box<dyn AsyncRead + Send + Unpin>,
                Box<dyn AsyncWrite + Send + Unpin>,
            ) = match address {
                Address::Tcp(host, port) => {
                    let s = tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let _ = s.set_nodelay(true);
                    let (r, w) = s.into_split();
                    (Box::new(r), Box::new(w))
                }
                Address::Unix(path) => {
                    let s = tokio::net::UnixStream::connect(path)
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let (r, w) = s.into_split();
                    (Box::new(r), Box::new(w))
                }
                Address::Ssl(host, port) => {
                    let config = tls.ok_or_else(|| {
                        OvsdbError::Tls("no TLS settings for an ssl: address".into())
                    })?;
                    let s = tokio::net::TcpStream::connect((host.as_str(), *port))
                        .await
                        .map_err(|e| fail(e.to_string()))?;
                    let _ = s.set_nodelay(true);
                    let server = ServerName::try_from(host.clone())
                        .map_err(|e| fail(format!("{host:?} is not a host name ({e})")))?;
                    let s = tokio_rustls::TlsConnector::from(config)
                        .connect(server, s)
                        .await
                        .map_err(|e| fail(format!("TLS handshake failed: {e}")))?;
                    let (r, w) = tokio::io::split(s);
                    (Box::new(r), Box::new(w))
                }
            };
            Ok::<_, OvsdbError>((read, write))
        };
        let (read, write) = tokio::time::timeout(timeout, connect)
            .await
            .map_err(|_| fail(format!("no connection within {timeout:?}")))??;
        let writer: Writer = Arc::new(tokio::sync::Mutex::new(write));
        let pending = Arc::new(Mutex::new(Some(HashMap::new())));
        let reader = tokio::spawn(read_loop(
            read,
            writer.clone(),
            pending.clone(),
            name.clone(),
        ));
        Ok(Self {
            address: name,
            writer,
            pending,
            next_id: AtomicU64::new(1),
            reader,
        })
    }

    /// Whether the connection is still open (the reader has not seen it close).
    pub fn is_open(&self) -> bool {
        lock(&self.pending).is_some()
    }

    /// Calls `method` with `params` and returns the result, within `timeout`.
    pub async fn call(
        &self,
        method: &str,
        params: Value,
        timeout: Duration,
    ) -> Result<Value, OvsdbError> {
        let id = self.next_id.fetch_add(1, Ordering::Relaxed);
        let (tx, rx) = oneshot::channel();
        match lock(&self.pending).as_mut() {
            Some(p) => p.insert(id, tx),
            None => return Err(self.broken("the connection is closed")),
        };
        let bytes = wire::request(id, method, params);
        let sent = {
            let mut w = self.writer.lock().await;
            match w.write_all(&bytes).await {
                Ok(()) => w.flush().await,
                Err(e) => Err(e),
            }
        };
        if let Err(e) = sent {
            if let Some(p) = lock(&self.pending).as_mut() {
                p.remove(&id);
            }
            return Err(self.broken(&e.to_string()));
        }
        match tokio::time::timeout(timeout, rx).await {
            Ok(Ok(answer)) => answer,
            Ok(Err(_)) => Err(self.broken("the connection closed before the answer")),
            Err(_) => {
                if let Some(p) = lock(&self.pending).as_mut() {
                    p.remove(&id);
                }
                Err(self.broken(&format!("no answer to {method} within {timeout:?}")))
            }
        }
    }

    fn broken(&self, reason: &str) -> OvsdbError {
        OvsdbError::Connect {
            address: self.address.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// Reads messages until the connection closes: responses go to their callers, `echo`
/// is answered, other requests and notifications are ignored. Every caller still
/// waiting when it ends gets an error.
async fn read_loop(
    mut read: Box<dyn AsyncRead + Send + Unpin>,
    writer: Writer,
    pending: Arc<Mutex<Option<HashMap<u64, Reply>>>>,
    address: String,
) {
    let mut framer = Framer::default();
    let mut buf = vec![0u8; 64 * 1024];
    let reason = loop {
        let n = match read.read(&mut buf).await {
            Ok(0) => break "the switch closed the connection".to_owned(),
            Ok(n) => n,
            Err(e) => break read_error(&e),
        };
        let values = match framer.push(&buf[..n]) {
            Ok(v) => v,
            Err(e) => break e.to_string(),
        };
        for v in values {
            match wire::classify(v) {
                Ok(Message::Response { id, result, error }) => {
                    let reply = lock(&pending).as_mut().and_then(|p| p.remove(&id));
                    if let Some(reply) = reply {
                        let answer = if error.is_null() {
                            Ok(result)
                        } else {
                            Err(OvsdbError::Rpc(error.to_string()))
                        };
                        let _ = reply.send(answer);
                    }
                }
                Ok(Message::Request { method, params, id }) if method == "echo" => {
                    let mut w = writer.lock().await;
                    let _ = w.write_all(&wire::echo_reply(&id, &params)).await;
                    let _ = w.flush().await;
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(%address, error = %e, "ignoring a message from the switch")
                }
            }
        }
    };
    let waiting = lock(&pending).take().unwrap_or_default();
    for (_, reply) in waiting {
        let _ = reply.send(Err(OvsdbError::Connect {
            address: address.clone(),
            reason: reason.clone(),
        }));
    }
}

/// Why reading failed. A TLS alert after the handshake is how a switch refuses a client
/// certificate (TLS 1.3 finishes the client's side of the handshake first).
fn read_error(e: &std::io::Error) -> String {
    match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
        Some(rustls::Error::AlertReceived(alert)) => format!(
            "the switch ended the TLS session ({alert:?}): it does not accept the client \
             certificate; check client_cert and client_key (signed by a CA the switch trusts)"
        ),
        _ => e.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn addresses_parse_as_ovs_writes_them() {
        assert_eq!(
            Address::parse("tcp:127.0.0.1:6640").unwrap(),
            Address::Tcp("127.0.0.1".into(), 6640)
        );
        assert_eq!(
            Address::parse("ssl:[::1]:6640").unwrap(),
            Address::Ssl("::1".into(), 6640)
        );
        assert_eq!(
            Address::parse("ssl:[::1]:6640").unwrap().to_string(),
            "ssl:[::1]:6640"
        );
        assert_eq!(
            Address::parse("unix:/run/db.sock").unwrap(),
            Address::Unix("/run/db.sock".into())
        );
        for bad in [
            "",
            "10.0.0.1:6640",
            "tcp:10.0.0.1",
            "tcp::6640",
            "udp:1.2.3.4:5",
            "tcp:h:99999",
            "unix:",
        ] {
            assert!(
                matches!(Address::parse(bad), Err(OvsdbError::InvalidAddress { .. })),
                "{bad}"
            );
        }
    }

    #[test]
    fn tls_settings_are_checked() {
        let e = tls_config(None, None, None).unwrap_err().to_string();
        assert!(e.contains("ca_cert"), "{e}");
        let e = tls_config(Some("not pem"), None, None)
            .unwrap_err()
            .to_string();
        assert!(e.contains("holds no certificate"), "{e}");
    }
}
