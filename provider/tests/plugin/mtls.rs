//! With AutoMTLS: the host's certificate in PLUGIN_CLIENT_CERT, the plugin's in the
//! handshake line, both self-signed and trusted byte for byte.

use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;
use hyper_util::rt::TokioIo;
use rack_acceptance_tests::host_tls::ExactServerCert;
use rack_provider::protocol::proto::grpc_health_v1::HealthCheckRequest;
use rack_provider::protocol::proto::grpc_health_v1::health_client::HealthClient;
use rustls::ClientConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use tokio::net::UnixStream;
use tokio_rustls::TlsConnector;
use tonic::transport::{Channel, Endpoint, Uri};

use crate::common::{TestResult, assert_serving, shutdown_exits_0, start};

/// A host identity made like go-plugin's `generateCert` (but on P-256).
struct HostCert {
    pem: String,
    der: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

fn host_cert() -> Result<HostCert, rcgen::Error> {
    let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256)?;
    let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()])?;
    params.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    params.extended_key_usages = vec![
        rcgen::ExtendedKeyUsagePurpose::ClientAuth,
        rcgen::ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key)?;
    Ok(HostCert {
        pem: cert.pem(),
        der: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

async fn connect(
    socket: std::path::PathBuf,
    server_cert: CertificateDer<'static>,
    host: &HostCert,
) -> Result<Channel, Box<dyn std::error::Error>> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = ExactServerCert::new(server_cert, &provider);
    let mut config = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_auth_cert(
            vec![host.der.clone()],
            PrivateKeyDer::Pkcs8(host.key.clone_key()),
        )?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    let connector = TlsConnector::from(Arc::new(config));
    let channel = Endpoint::try_from("http://localhost")?
        .connect_with_connector(tower::service_fn(move |_: Uri| {
            let socket = socket.clone();
            let connector = connector.clone();
            async move {
                let unix = UnixStream::connect(socket).await?;
                let name = ServerName::try_from("localhost").map_err(std::io::Error::other)?;
                let tls = connector.connect(name, unix).await?;
                Ok::<_, std::io::Error>(TokioIo::new(tls))
            }
        }))
        .await?;
    Ok(channel)
}

fn server_cert(field: &str) -> Result<CertificateDer<'static>, base64::DecodeError> {
    Ok(CertificateDer::from(STANDARD_NO_PAD.decode(field)?))
}

#[tokio::test]
async fn health_then_shutdown_over_mtls() -> TestResult {
    let host = host_cert()?;
    let dir = tempfile::tempdir()?;
    let (mut child, hs) = start(dir.path(), Some(&host.pem)).await?;
    assert!(
        !hs.fields[5].is_empty(),
        "No server certificate in the handshake"
    );
    assert!(
        !hs.fields[5].ends_with('='),
        "Certificate must be base64 without padding"
    );
    let cert = server_cert(&hs.fields[5])?;

    let channel = connect(hs.socket.clone(), cert, &host).await?;
    assert_serving(&channel, "plugin").await?;
    shutdown_exits_0(channel, &mut child).await
}

#[tokio::test]
async fn another_client_cert_is_refused() -> TestResult {
    let host = host_cert()?;
    let intruder = host_cert()?;
    let dir = tempfile::tempdir()?;
    let (mut child, hs) = start(dir.path(), Some(&host.pem)).await?;
    let cert = server_cert(&hs.fields[5])?;

    let refused = match connect(hs.socket.clone(), cert.clone(), &intruder).await {
        Err(_) => true,
        Ok(channel) => HealthClient::new(channel)
            .check(HealthCheckRequest {
                service: "plugin".into(),
            })
            .await
            .is_err(),
    };
    assert!(refused, "A client with another certificate got an answer");

    // The rightful host still gets in afterwards.
    let channel = connect(hs.socket.clone(), cert, &host).await?;
    shutdown_exits_0(channel, &mut child).await
}
