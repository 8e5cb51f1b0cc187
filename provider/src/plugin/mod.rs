//! The plugin process, as go-plugin hosts (Terraform, OpenTofu) expect it: magic cookie,
//! protocol version negotiation, a unix socket announced on stdout, AutoMTLS, and the
//! health, controller, stdio and broker services next to the provider service.

mod handshake;
pub mod logging;
mod services;
mod tls;

use std::convert::Infallible;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt as _;
use tokio::net::{UnixListener, UnixStream};
use tokio::signal::unix::{SignalKind, signal};
use tokio_rustls::TlsAcceptor;
use tokio_stream::wrappers::{ReceiverStream, UnixListenerStream};
use tonic::body::Body;
use tonic::codegen::Service;
use tonic::codegen::http::{Request, Response};
use tonic::server::NamedService;
use tonic::transport::Server;

pub use handshake::{
    APP_PROTOCOL_VERSION, CORE_PROTOCOL_VERSION, HandshakeError, HandshakeLine, MAGIC_COOKIE_KEY,
    MAGIC_COOKIE_VALUE, PROTOCOL_VERSIONS_KEY, check_cookie, negotiate,
};
pub use services::{HEALTH_SERVICE_NAME, PluginServices, Shutdown};
pub use tls::{CLIENT_CERT_KEY, ExactClientCert, TlsError};

/// Largest gRPC message we send or receive: Terraform sends whole states and plans, and
/// terraform-plugin-go raises gRPC's 4 MiB default to 256 MiB for the same reason. The
/// provider service must apply it itself (`max_decoding_message_size` and
/// `max_encoding_message_size` on its generated server), since it reaches us already built.
pub const MAX_GRPC_MESSAGE_SIZE: usize = 256 << 20;

/// Environment variable naming the directory for the socket (go-plugin's
/// `PLUGIN_UNIX_SOCKET_DIR`); the system temp dir otherwise.
pub const UNIX_SOCKET_DIR_KEY: &str = "PLUGIN_UNIX_SOCKET_DIR";

/// How long in-flight RPCs may run on after a shutdown request: go-plugin hosts kill the
/// process 2 s after asking it to stop, so waiting longer gains nothing.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(2);

/// How often we check that the host process still exists: if it dies without asking us
/// to stop, nobody else will, and a second is quick enough to not leave us behind.
pub const PARENT_POLL_INTERVAL: Duration = Duration::from_secs(1);

/// How long a TLS handshake may take before the connection is dropped; the host is local,
/// so anything slower is not a host.
pub const TLS_HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest unix socket path Linux accepts (`sun_path` is 108 bytes with the final NUL).
const MAX_SOCKET_PATH: usize = 107;

/// Why the plugin could not be served.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The cookie, protocol version or socket path does not allow a handshake.
    #[error(transparent)]
    Handshake(#[from] HandshakeError),
    /// AutoMTLS could not be set up.
    #[error("Cannot set up AutoMTLS")]
    Tls(#[from] TlsError),
    /// The directory for the socket could not be created.
    #[error("Cannot create a directory for the plugin socket in {}", .0.display())]
    SocketDir(PathBuf, #[source] std::io::Error),
    /// The socket path is longer than the system allows.
    #[error(
        "The plugin socket path {} is too long; set PLUGIN_UNIX_SOCKET_DIR to a shorter directory",
        .0.display()
    )]
    SocketPathTooLong(PathBuf),
    /// The socket could not be bound.
    #[error("Cannot listen on {}", .0.display())]
    Listen(PathBuf, #[source] std::io::Error),
    /// The async runtime could not start.
    #[error("Cannot start the async runtime")]
    Runtime(#[source] std::io::Error),
    /// Signal handlers could not be installed.
    #[error("Cannot install signal handlers")]
    Signals(#[source] std::io::Error),
    /// The handshake line could not be written to stdout.
    #[error("Cannot write the handshake to stdout")]
    Stdout(#[source] std::io::Error),
    /// The gRPC server failed.
    #[error("The gRPC server failed")]
    Serve(#[source] tonic::transport::Error),
}

/// The `tfplugin6.Provider` service as the plugin serves it (e.g. a generated
/// `ProviderServer<T>`).
pub trait ProviderService:
    Service<Request<Body>, Response = Response<Body>, Error = Infallible>
    + NamedService
    + Clone
    + Send
    + Sync
    + 'static
{
}

impl<S> ProviderService for S where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>
        + NamedService
        + Clone
        + Send
        + Sync
        + 'static
{
}

/// Runs the plugin process serving `provider` (the `tfplugin6.Provider` service, e.g. a
/// generated `ProviderServer<T>`) next to go-plugin's own services. Returns the exit code
/// for `main`: 0 after a shutdown, 1 with one line on stderr if the process cannot serve.
pub fn main_with<S>(provider: S) -> ExitCode
where
    S: ProviderService,
    S::Future: Send + 'static,
{
    finish(run(Some(provider), |k| std::env::var(k).ok()))
}

/// The exit code, with the error on one line of stderr.
fn finish(result: Result<(), Error>) -> ExitCode {
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("{}", error_line(&e));
            ExitCode::FAILURE
        }
    }
}

/// The whole error chain on one line.
fn error_line(e: &dyn std::error::Error) -> String {
    let mut line = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        line.push_str(": ");
        line.push_str(&s.to_string());
        source = s.source();
    }
    line.replace('\n', " ")
}

/// A provider service that is never routed to, for tests of what happens before serving.
#[cfg(test)]
#[derive(Debug, Clone)]
struct Unimplemented;

#[cfg(test)]
impl NamedService for Unimplemented {
    const NAME: &'static str = "tfplugin6.Provider";
}

#[cfg(test)]
impl Service<Request<Body>> for Unimplemented {
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Response<Body>, Infallible>>;

    fn poll_ready(
        &mut self,
        _cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _req: Request<Body>) -> Self::Future {
        std::future::ready(Ok(tonic::Status::unimplemented(
            "The provider service is not built into this binary yet",
        )
        .into_http()))
    }
}

fn run<S>(provider: Option<S>, env: impl Fn(&str) -> Option<String>) -> Result<(), Error>
where
    S: ProviderService,
    S::Future: Send + 'static,
{
    check_cookie(env(MAGIC_COOKIE_KEY).as_deref())?;
    negotiate(env(PROTOCOL_VERSIONS_KEY).as_deref())?;
    logging::init();
    let client_cert = env(CLIENT_CERT_KEY)
        .filter(|c| !c.trim().is_empty())
        .map(|pem| tls::parse_client_cert(&pem))
        .transpose()?;
    let socket_base = env(UNIX_SOCKET_DIR_KEY)
        .filter(|d| !d.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(std::env::temp_dir);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(Error::Runtime)?;
    runtime.block_on(serve(provider, client_cert, &socket_base))
}

async fn serve<S>(
    provider: Option<S>,
    client_cert: Option<rustls::pki_types::CertificateDer<'static>>,
    socket_base: &Path,
) -> Result<(), Error>
where
    S: ProviderService,
    S::Future: Send + 'static,
{
    // Removed with everything in it when this function returns.
    let dir = tempfile::Builder::new()
        .prefix("plugin")
        .tempdir_in(socket_base)
        .map_err(|e| Error::SocketDir(socket_base.to_owned(), e))?;
    let socket = dir.path().join("plugin.sock");
    if socket.as_os_str().len() > MAX_SOCKET_PATH {
        return Err(Error::SocketPathTooLong(socket));
    }
    let listener = UnixListener::bind(&socket).map_err(|e| Error::Listen(socket.clone(), e))?;

    let tls = match client_cert {
        Some(cert) => {
            let identity = tls::generate_server_identity()?;
            let config = tls::server_config(&identity, cert)?;
            Some((identity.cert, TlsAcceptor::from(Arc::new(config))))
        }
        None => None,
    };

    let shutdown = Shutdown::new();
    watch_host(&shutdown)?;

    let services = PluginServices::new(&shutdown);
    let mut router = Server::builder()
        .add_service(services.health)
        .add_service(services.controller)
        .add_service(services.stdio)
        .add_service(services.broker);
    if let Some(provider) = provider {
        router = router.add_service(provider);
    }

    let line = HandshakeLine::new(&socket, tls.as_ref().map(|(cert, _)| cert.as_ref()))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{line}")
        .and_then(|()| stdout.flush())
        .map_err(Error::Stdout)?;
    drop(stdout);
    tracing::debug!(socket = %socket.display(), tls = tls.is_some(), "plugin serving");

    let stopped = shutdown.wait();
    let served = async {
        match tls {
            None => {
                router
                    .serve_with_incoming_shutdown(UnixListenerStream::new(listener), stopped)
                    .await
            }
            Some((_, acceptor)) => {
                let incoming = tls_incoming(listener, acceptor, shutdown.clone());
                router.serve_with_incoming_shutdown(incoming, stopped).await
            }
        }
    };
    let forced = async {
        shutdown.wait().await;
        tokio::time::sleep(SHUTDOWN_GRACE).await;
    };
    tokio::select! {
        result = served => result.map_err(Error::Serve)?,
        () = forced => tracing::debug!("in-flight requests cut off after the grace period"),
    }
    tracing::debug!("plugin stopped");
    drop(dir);
    Ok(())
}

/// Accepts unix connections and runs each TLS handshake in its own task, so a slow or
/// failed handshake never holds up the next host connection. Failed handshakes are logged
/// and dropped, not passed on: an error from the incoming stream would stop tonic.
fn tls_incoming(
    listener: UnixListener,
    acceptor: TlsAcceptor,
    shutdown: Shutdown,
) -> ReceiverStream<std::io::Result<tokio_rustls::server::TlsStream<UnixStream>>> {
    let (tx, rx) = tokio::sync::mpsc::channel(16);
    tokio::spawn(async move {
        let mut incoming = UnixListenerStream::new(listener);
        let stopped = shutdown.wait();
        tokio::pin!(stopped);
        loop {
            let conn = tokio::select! {
                () = &mut stopped => break,
                conn = incoming.next() => conn,
            };
            let conn = match conn {
                Some(Ok(conn)) => conn,
                Some(Err(e)) => {
                    tracing::warn!(error = %e, "accepting a connection failed");
                    continue;
                }
                None => break,
            };
            let acceptor = acceptor.clone();
            let tx = tx.clone();
            tokio::spawn(async move {
                match tokio::time::timeout(TLS_HANDSHAKE_TIMEOUT, acceptor.accept(conn)).await {
                    Ok(Ok(stream)) => {
                        let _ = tx.send(Ok(stream)).await;
                    }
                    Ok(Err(e)) => tracing::warn!(error = %e, "TLS handshake with the host failed"),
                    Err(_) => tracing::warn!("TLS handshake with the host timed out"),
                }
            });
        }
    });
    ReceiverStream::new(rx)
}

/// Stops the server when the host goes away: SIGTERM, SIGHUP, or our parent process
/// exiting. SIGINT is ignored: Terraform forwards Ctrl-C to its whole process group and
/// stops providers itself (StopProvider, then Shutdown). stdin is not watched: go-plugin
/// hosts hand the plugin their own stdin, often a terminal.
fn watch_host(shutdown: &Shutdown) -> Result<(), Error> {
    let mut sigint = signal(SignalKind::interrupt()).map_err(Error::Signals)?;
    let mut sigterm = signal(SignalKind::terminate()).map_err(Error::Signals)?;
    let mut sighup = signal(SignalKind::hangup()).map_err(Error::Signals)?;
    let parent = std::os::unix::process::parent_id();
    let shutdown = shutdown.clone();
    tokio::spawn(async move {
        let mut poll = tokio::time::interval(PARENT_POLL_INTERVAL);
        let stopped = shutdown.wait();
        tokio::pin!(stopped);
        loop {
            tokio::select! {
                () = &mut stopped => break,
                _ = sigint.recv() => tracing::trace!("ignoring SIGINT"),
                _ = sigterm.recv() => {
                    tracing::debug!("SIGTERM: stopping");
                    shutdown.trigger();
                }
                _ = sighup.recv() => {
                    tracing::debug!("SIGHUP: stopping");
                    shutdown.trigger();
                }
                _ = poll.tick() => {
                    if std::os::unix::process::parent_id() != parent {
                        tracing::debug!("host process gone: stopping");
                        shutdown.trigger();
                    }
                }
            }
        }
    });
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_cookie_the_error_is_one_line() {
        let err = run(None::<Unimplemented>, |_| None);
        assert!(matches!(
            err,
            Err(Error::Handshake(HandshakeError::NotLaunchedByHost))
        ));
        if let Err(e) = err {
            assert!(!error_line(&e).contains('\n'));
        }
    }

    #[test]
    fn unsupported_protocol_is_refused_before_listening() {
        let env = |k: &str| match k {
            MAGIC_COOKIE_KEY => Some(MAGIC_COOKIE_VALUE.to_owned()),
            PROTOCOL_VERSIONS_KEY => Some("5".to_owned()),
            _ => None,
        };
        assert!(matches!(
            run(None::<Unimplemented>, env),
            Err(Error::Handshake(HandshakeError::UnsupportedProtocol { .. }))
        ));
    }

    #[test]
    fn error_line_joins_the_chain() {
        let e = Error::Listen(
            PathBuf::from("/x/plugin.sock"),
            std::io::Error::other("address in use"),
        );
        assert_eq!(
            error_line(&e),
            "Cannot listen on /x/plugin.sock: address in use"
        );
    }
}
