//! The rustls client configurations rack's TLS clients share (the Kea control agent, Kea's
//! host database, Open vSwitch): the CA certificates to trust and the client certificate,
//! read from PEM, with the ring provider. Errors say what is wrong in words that never
//! quote a key.

use std::sync::Arc;

use rustls::client::WantsClientCert;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::{ClientConfig, ConfigBuilder, RootCertStore};

use crate::kea::Secret;

/// Debian's bundle of the system's trusted CAs, used when no CA is configured.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// The certificates of `ca_pem` as a root store; a PEM without a certificate is an error
/// when `required`.
pub(crate) fn root_store(ca_pem: &[u8], required: bool) -> Result<RootCertStore, String> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_slice_iter(ca_pem) {
        let cert = cert.map_err(|e| format!("the CA certificate is not PEM ({e})"))?;
        roots
            .add(cert)
            .map_err(|e| format!("the CA certificate cannot be used ({e})"))?;
    }
    if required && roots.is_empty() {
        return Err("the CA certificate PEM holds no certificate".to_owned());
    }
    Ok(roots)
}

/// Finishes `builder` with the client certificate `cert_pem` and its key `key_pem`, or
/// with no client certificate when neither is given.
pub(crate) fn with_client_auth(
    builder: ConfigBuilder<ClientConfig, WantsClientCert>,
    cert_pem: Option<&str>,
    key_pem: Option<&Secret>,
) -> Result<ClientConfig, String> {
    match (cert_pem, key_pem) {
        (None, None) => Ok(builder.with_no_client_auth()),
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_slice_iter(cert.as_bytes())
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| format!("the client certificate is not PEM ({e})"))?;
            if chain.is_empty() {
                return Err("the client certificate PEM holds no certificate".to_owned());
            }
            // The key's parse error is not shown: it could quote the key.
            let key = PrivateKeyDer::from_pem_slice(key.expose().as_bytes())
                .map_err(|_| "the client key is not a PEM private key".to_owned())?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| format!("the client certificate and key ({e})"))
        }
        _ => Err(
            "a client certificate needs its key and a key its certificate; set both or neither"
                .to_owned(),
        ),
    }
}

/// A client configuration checking the server's certificate and name against `ca_pem`
/// (the system's CA bundle when `None`), with a client certificate when `cert_pem` and
/// `key_pem` are given.
pub(crate) fn rustls_config(
    ca_pem: Option<&str>,
    cert_pem: Option<&str>,
    key_pem: Option<&Secret>,
) -> Result<ClientConfig, String> {
    let roots = match ca_pem {
        Some(pem) => root_store(pem.as_bytes(), true)?,
        None => root_store(&std::fs::read(SYSTEM_CA_BUNDLE).unwrap_or_default(), false)?,
    };
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    with_client_auth(builder, cert_pem, key_pem)
}
