//! The host side of go-plugin, as much as the benchmarks need: start a plugin binary with
//! the host's environment, time its handshake line, connect a gRPC client to the unix
//! socket it names (plaintext, or AutoMTLS with a host certificate in `PLUGIN_CLIENT_CERT`)
//! and ask for the provider schema. The provider's own tests in `provider/tests/plugin/`
//! connect the same way.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hyper_util::rt::TokioIo;
use rack_acceptance_tests::host_tls::ExactServerCert;
use rack_provider::plugin::{
    CLIENT_CERT_KEY, MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE, MAX_GRPC_MESSAGE_SIZE,
    PROTOCOL_VERSIONS_KEY, UNIX_SOCKET_DIR_KEY,
};
use rack_provider::protocol::proto::plugin::Empty;
use rack_provider::protocol::proto::plugin::grpc_controller_client::GrpcControllerClient;
use rack_provider::protocol::proto::tfplugin6::diagnostic::Severity;
use rack_provider::protocol::proto::tfplugin6::get_provider_schema;
use rack_provider::protocol::proto::tfplugin6::provider_client::ProviderClient;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::sign::{CertifiedKey, SingleCertAndKey};
use tokio::io::{AsyncBufReadExt as _, BufReader};
use tokio::net::UnixStream;
use tokio::process::{Child, Command};
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use super::cert::{self, P521Key};

/// How long a plugin may take to print its handshake, answer or exit before the benchmark
/// gives up on it; far above anything a working plugin needs.
pub const WAIT: Duration = Duration::from_secs(30);

/// The name both sides put in their certificates (go-plugin uses "localhost").
const TLS_NAME: &str = "localhost";

/// The curve of the host's certificate.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Curve {
    /// P-521, as go-plugin's `generateCert` (and so Terraform) makes it.
    P521,
    /// P-256, which ring signs and verifies natively.
    P256,
}

/// A host's self-signed certificate and the key that signs with it.
#[derive(Debug)]
pub struct HostIdentity {
    /// The certificate in PEM, for `PLUGIN_CLIENT_CERT`.
    pub pem: String,
    certified: Arc<CertifiedKey>,
}

impl HostIdentity {
    /// A fresh identity shaped like go-plugin's host certificate: "localhost", a CA,
    /// usable for client and server authentication.
    pub fn generate(curve: Curve) -> anyhow::Result<Self> {
        let (cert, signing_key): (CertificateDer<'static>, Arc<dyn rustls::sign::SigningKey>) =
            match curve {
                Curve::P521 => {
                    let key = P521Key::generate();
                    (key.self_signed_cert(), Arc::new(key))
                }
                Curve::P256 => {
                    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
                    let mut params = rcgen::CertificateParams::new(vec![TLS_NAME.to_owned()])?;
                    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
                    params.extended_key_usages = vec![
                        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
                        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
                    ];
                    let cert = params.self_signed(&key)?;
                    let der = rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into());
                    let signing = rustls::crypto::ring::default_provider()
                        .key_provider
                        .load_private_key(der)?;
                    (cert.der().clone(), signing)
                }
            };
        let pem = cert::pem(&cert);
        let certified = CertifiedKey::new(vec![cert], signing_key);
        Ok(Self {
            pem,
            certified: Arc::new(certified),
        })
    }
}

/// The plugin's handshake line, split into what the host uses.
#[derive(Debug)]
pub struct Handshake {
    /// The unix socket to connect to.
    pub socket: PathBuf,
    /// The plugin's certificate (AutoMTLS), if it sent one.
    pub server_cert: Option<CertificateDer<'static>>,
}

impl Handshake {
    /// Parses `CORE|APP|unix|SOCKET|grpc|CERT`.
    pub fn parse(line: &str) -> anyhow::Result<Self> {
        let fields: Vec<&str> = line.trim_end().split('|').collect();
        let [_core, app, network, socket, protocol, cert] = fields[..] else {
            bail!("Handshake line {line:?} does not have 6 fields");
        };
        if app != "6" || network != "unix" || protocol != "grpc" {
            bail!("Handshake line {line:?} is not protocol 6, unix, grpc");
        }
        let server_cert = match cert {
            "" => None,
            b64 => Some(CertificateDer::from(
                STANDARD_NO_PAD
                    .decode(b64.trim_end_matches('='))
                    .context("The certificate in the handshake line is not base64")?,
            )),
        };
        Ok(Self {
            socket: PathBuf::from(socket),
            server_cert,
        })
    }
}

/// A started process and when its first stdout line arrived.
#[derive(Debug)]
pub struct Started {
    /// The process (killed when dropped).
    pub child: Child,
    /// Its PID.
    pub pid: u32,
    /// When `spawn` was called.
    pub start: Instant,
    /// Time from `spawn` to the complete first line on stdout.
    pub first_line_after: Duration,
    /// That line.
    pub first_line: String,
}

/// Starts `cmd` (stdout piped, stdin and stderr to /dev/null) and waits for its first
/// stdout line. The same path times the baseline process and the plugin.
pub async fn start_and_read_line(mut cmd: Command) -> anyhow::Result<Started> {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .kill_on_drop(true);
    let start = Instant::now();
    let mut child = cmd.spawn().context("Cannot start the process")?;
    let stdout = child
        .stdout
        .take()
        .ok_or_else(|| anyhow!("No stdout pipe"))?;
    let mut first_line = String::new();
    tokio::time::timeout(WAIT, BufReader::new(stdout).read_line(&mut first_line))
        .await
        .map_err(|_| anyhow!("No line on stdout within {WAIT:?}"))?
        .context("Cannot read stdout")?;
    let first_line_after = start.elapsed();
    if !first_line.ends_with('\n') {
        bail!("The process closed stdout without a complete line ({first_line:?})");
    }
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("The process has already exited"))?;
    Ok(Started {
        child,
        pid,
        start,
        first_line_after,
        first_line,
    })
}

/// The plugin command with the environment a go-plugin host gives it, and nothing
/// inherited that would change its behaviour.
pub fn plugin_command(binary: &Path, socket_dir: &Path, host: Option<&HostIdentity>) -> Command {
    let mut cmd = Command::new(binary);
    for key in ["TF_LOG", "TF_LOG_PROVIDER", "TF_LOG_PATH", CLIENT_CERT_KEY] {
        cmd.env_remove(key);
    }
    cmd.env(MAGIC_COOKIE_KEY, MAGIC_COOKIE_VALUE)
        .env(PROTOCOL_VERSIONS_KEY, "5,6")
        .env(UNIX_SOCKET_DIR_KEY, socket_dir);
    if let Some(host) = host {
        cmd.env(CLIENT_CERT_KEY, &host.pem);
    }
    cmd
}

/// Connects a gRPC channel to the plugin's socket: plaintext without a host identity,
/// AutoMTLS with one (then the handshake must carry the plugin's certificate).
pub async fn connect(hs: &Handshake, host: Option<&HostIdentity>) -> anyhow::Result<Channel> {
    let socket = hs.socket.clone();
    let endpoint = Endpoint::try_from("http://localhost")?;
    let Some(host) = host else {
        return Ok(
            endpoint
                .connect_with_connector(tower::service_fn(move |_: Uri| {
                    let socket = socket.clone();
                    async move {
                        Ok::<_, std::io::Error>(TokioIo::new(UnixStream::connect(socket).await?))
                    }
                }))
                .await?,
        );
    };
    let server_cert = hs
        .server_cert
        .clone()
        .ok_or_else(|| anyhow!("A client certificate was given but the plugin sent none"))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = ExactServerCert::new(server_cert, &provider);
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(SingleCertAndKey::from(host.certified.clone())));
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = TlsConnector::from(Arc::new(config));
    Ok(endpoint
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            let connector = connector.clone();
            async move {
                let unix = UnixStream::connect(socket).await?;
                let name = ServerName::try_from(TLS_NAME).map_err(std::io::Error::other)?;
                let tls = connector.connect(name, unix).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await?)
}

/// Calls GetProviderSchema and fails on an error diagnostic; returns the answer's size.
pub async fn get_provider_schema(channel: Channel) -> anyhow::Result<usize> {
    let answer = tokio::time::timeout(
        WAIT,
        ProviderClient::new(channel)
            .max_decoding_message_size(MAX_GRPC_MESSAGE_SIZE)
            .get_provider_schema(get_provider_schema::Request {}),
    )
    .await
    .map_err(|_| anyhow!("No GetProviderSchema answer within {WAIT:?}"))??
    .into_inner();
    if let Some(d) = answer
        .diagnostics
        .iter()
        .find(|d| d.severity() == Severity::Error)
    {
        bail!("GetProviderSchema failed: {}: {}", d.summary, d.detail);
    }
    Ok(prost::Message::encoded_len(&answer))
}

/// Asks the plugin to stop, as Terraform does at the end of a command, and waits for it.
pub async fn shutdown(channel: Channel, child: &mut Child) -> anyhow::Result<()> {
    GrpcControllerClient::new(channel)
        .shutdown(Empty {})
        .await
        .context("Shutdown failed")?;
    let status = tokio::time::timeout(WAIT, child.wait())
        .await
        .map_err(|_| anyhow!("The plugin did not exit within {WAIT:?} of Shutdown"))??;
    if !status.success() {
        bail!("The plugin exited with {status} after Shutdown");
    }
    Ok(())
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use rustls::SignatureScheme;

    #[test]
    fn handshake_lines() {
        let hs = Handshake::parse("1|6|unix|/tmp/p/plugin.sock|grpc|\n").unwrap();
        assert_eq!(hs.socket, Path::new("/tmp/p/plugin.sock"));
        assert!(hs.server_cert.is_none());
        let hs = Handshake::parse("1|6|unix|/s|grpc|AQID").unwrap();
        assert_eq!(hs.server_cert.unwrap().as_ref(), &[1, 2, 3]);
        assert!(Handshake::parse("1|5|unix|/s|grpc|").is_err());
        assert!(Handshake::parse("1|6|unix|/s|grpc").is_err());
        assert!(Handshake::parse("1|6|unix|/s|grpc|!!").is_err());
    }

    #[test]
    fn host_identities_carry_their_curve() {
        for curve in [Curve::P521, Curve::P256] {
            let host = HostIdentity::generate(curve).unwrap();
            assert!(host.pem.starts_with("-----BEGIN CERTIFICATE-----"));
            let scheme = match curve {
                Curve::P521 => SignatureScheme::ECDSA_NISTP521_SHA512,
                Curve::P256 => SignatureScheme::ECDSA_NISTP256_SHA256,
            };
            assert!(host.certified.key.choose_scheme(&[scheme]).is_some());
        }
    }
}
