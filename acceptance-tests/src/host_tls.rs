//! The host's side of AutoMTLS, for tests and benchmarks that speak to the plugin without
//! Terraform: trusting exactly the certificate from the handshake line.

use rack_provider::plugin::ExactClientCert;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::ClientCertVerifier as _;
use rustls::{DigitallySignedStruct, SignatureScheme};

/// Trusts exactly the server certificate from the handshake line, as go-plugin hosts do
/// (webpki would refuse a CA certificate used as an end entity); signatures are checked
/// with the algorithms the plugin itself accepts.
#[derive(Debug)]
pub struct ExactServerCert {
    expected: CertificateDer<'static>,
    signatures: ExactClientCert,
}

impl ExactServerCert {
    /// Trusts `expected` only.
    pub fn new(expected: CertificateDer<'static>, provider: &CryptoProvider) -> Self {
        Self {
            signatures: ExactClientCert::new(expected.clone(), provider),
            expected,
        }
    }
}

impl ServerCertVerifier for ExactServerCert {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ServerCertVerified::assertion())
        } else {
            Err(rustls::Error::General(
                "Not the certificate from the handshake line".into(),
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.signatures.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.signatures.supported_verify_schemes()
    }
}
