//! go-plugin's AutoMTLS: the host passes its own self-signed certificate in
//! `PLUGIN_CLIENT_CERT`; we answer with a fresh self-signed server certificate (sent in
//! the handshake line) and accept exactly the host's certificate, nothing else.

use std::fmt;
use std::sync::{Arc, OnceLock};

use p521::ecdsa::signature::Verifier as _;
use rustls::client::danger::HandshakeSignatureValid;
use rustls::crypto::{CryptoProvider, WebPkiSupportedAlgorithms};
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{
    AlgorithmIdentifier, CertificateDer, InvalidSignature, PrivateKeyDer, PrivatePkcs8KeyDer,
    SignatureVerificationAlgorithm, UnixTime, alg_id,
};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{
    CertificateError, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme,
};

/// Environment variable with the host's certificate (PEM) when it wants AutoMTLS.
pub const CLIENT_CERT_KEY: &str = "PLUGIN_CLIENT_CERT";

/// The name go-plugin hosts expect in the server certificate (they connect to "localhost").
const SERVER_NAME: &str = "localhost";

/// Why TLS could not be set up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// `PLUGIN_CLIENT_CERT` holds no PEM certificate.
    #[error("PLUGIN_CLIENT_CERT holds no PEM certificate")]
    NoClientCert,
    /// The server key or certificate could not be generated.
    #[error("Cannot generate the server certificate")]
    Generate(#[source] rcgen::Error),
    /// rustls refused the configuration.
    #[error("Cannot configure TLS")]
    Config(#[source] rustls::Error),
}

/// Reads the first certificate from the host's PEM.
pub fn parse_client_cert(pem: &str) -> Result<CertificateDer<'static>, TlsError> {
    CertificateDer::pem_slice_iter(pem.as_bytes())
        .find_map(Result::ok)
        .ok_or(TlsError::NoClientCert)
}

/// A freshly generated server certificate and its key.
pub struct ServerIdentity {
    /// The certificate, DER; also sent to the host in the handshake line.
    pub cert: CertificateDer<'static>,
    key: PrivatePkcs8KeyDer<'static>,
}

impl fmt::Debug for ServerIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerIdentity").finish_non_exhaustive()
    }
}

/// Generates a self-signed certificate shaped like go-plugin's `generateCert`: name
/// "localhost", usable for server and client authentication, marked as a CA (the host puts
/// it in its root pool). go-plugin uses P-521; ring cannot generate P-521 keys, so we use
/// P-256, which every host verifies.
pub fn generate_server_identity() -> Result<ServerIdentity, TlsError> {
    use rcgen::{
        BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose,
        IsCa, KeyPair, KeyUsagePurpose, PKCS_ECDSA_P256_SHA256,
    };
    let key = KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(TlsError::Generate)?;
    let mut params =
        CertificateParams::new(vec![SERVER_NAME.to_owned()]).map_err(TlsError::Generate)?;
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, SERVER_NAME);
    params.distinguished_name = dn;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyAgreement,
        KeyUsagePurpose::KeyCertSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    let cert = params.self_signed(&key).map_err(TlsError::Generate)?;
    Ok(ServerIdentity {
        cert: cert.der().clone(),
        key: PrivatePkcs8KeyDer::from(key.serialize_der()),
    })
}

/// The rustls server configuration: our certificate, the host's certificate required,
/// ALPN "h2" (grpc-go clients refuse a TLS server without it).
pub fn server_config(
    identity: &ServerIdentity,
    client_cert: CertificateDer<'static>,
) -> Result<ServerConfig, TlsError> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let verifier = ExactClientCert::new(client_cert, &provider);
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_client_cert_verifier(Arc::new(verifier))
        .with_single_cert(
            vec![identity.cert.clone()],
            PrivateKeyDer::Pkcs8(identity.key.clone_key()),
        )
        .map_err(TlsError::Config)?;
    config.alpn_protocols = vec![b"h2".to_vec()];
    Ok(config)
}

/// Accepts exactly one client certificate, byte for byte, and checks that the client
/// holds its key. webpki's own verifier cannot be used: it rejects a CA certificate
/// presented as an end entity, which is what go-plugin hosts send.
#[derive(Debug)]
pub struct ExactClientCert {
    expected: CertificateDer<'static>,
    algorithms: &'static WebPkiSupportedAlgorithms,
}

impl ExactClientCert {
    /// Accepts only `expected`; handshake signatures are checked with `provider`'s
    /// algorithms plus ECDSA P-521, which go-plugin hosts use and ring lacks.
    pub fn new(expected: CertificateDer<'static>, provider: &CryptoProvider) -> Self {
        Self {
            expected,
            algorithms: with_p521(&provider.signature_verification_algorithms),
        }
    }
}

impl ClientCertVerifier for ExactClientCert {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        if end_entity.as_ref() == self.expected.as_ref() {
            Ok(ClientCertVerified::assertion())
        } else {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::ApplicationVerificationFailure,
            ))
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, self.algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, self.algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.algorithms.supported_schemes()
    }
}

/// ECDSA on P-521 with SHA-512, in pure Rust.
#[derive(Debug)]
struct EcdsaP521Sha512;

impl SignatureVerificationAlgorithm for EcdsaP521Sha512 {
    fn verify_signature(
        &self,
        public_key: &[u8],
        message: &[u8],
        signature: &[u8],
    ) -> Result<(), InvalidSignature> {
        let key =
            p521::ecdsa::VerifyingKey::from_sec1_bytes(public_key).map_err(|_| InvalidSignature)?;
        let sig = p521::ecdsa::Signature::from_der(signature).map_err(|_| InvalidSignature)?;
        key.verify(message, &sig).map_err(|_| InvalidSignature)
    }

    fn public_key_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_P521
    }

    fn signature_alg_id(&self) -> AlgorithmIdentifier {
        alg_id::ECDSA_SHA512
    }
}

static P521_SHA512: &[&dyn SignatureVerificationAlgorithm] = &[&EcdsaP521Sha512];

/// The base algorithms plus P-521, built once per process (the slices must be `'static`).
fn with_p521(base: &WebPkiSupportedAlgorithms) -> &'static WebPkiSupportedAlgorithms {
    static ALL: OnceLock<Vec<&'static dyn SignatureVerificationAlgorithm>> = OnceLock::new();
    static MAPPING: OnceLock<
        Vec<(
            SignatureScheme,
            &'static [&'static dyn SignatureVerificationAlgorithm],
        )>,
    > = OnceLock::new();
    static ALGORITHMS: OnceLock<WebPkiSupportedAlgorithms> = OnceLock::new();
    ALGORITHMS.get_or_init(|| {
        let all = ALL.get_or_init(|| {
            let mut all = base.all.to_vec();
            all.extend_from_slice(P521_SHA512);
            all
        });
        let mapping = MAPPING.get_or_init(|| {
            let mut mapping = base.mapping.to_vec();
            if !mapping
                .iter()
                .any(|(s, _)| *s == SignatureScheme::ECDSA_NISTP521_SHA512)
            {
                mapping.push((SignatureScheme::ECDSA_NISTP521_SHA512, P521_SHA512));
            }
            mapping
        });
        WebPkiSupportedAlgorithms { all, mapping }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use p521::ecdsa::signature::RandomizedSigner as _;

    fn provider() -> CryptoProvider {
        rustls::crypto::ring::default_provider()
    }

    #[test]
    fn verifier_accepts_only_the_identical_cert() -> Result<(), TlsError> {
        let ours = generate_server_identity()?;
        let other = generate_server_identity()?;
        let verifier = ExactClientCert::new(ours.cert.clone(), &provider());
        let now = UnixTime::now();
        assert!(verifier.verify_client_cert(&ours.cert, &[], now).is_ok());
        assert!(verifier.verify_client_cert(&other.cert, &[], now).is_err());
        let mut tampered = ours.cert.to_vec();
        if let Some(last) = tampered.last_mut() {
            *last ^= 1;
        }
        let tampered = CertificateDer::from(tampered);
        assert!(verifier.verify_client_cert(&tampered, &[], now).is_err());
        assert!(verifier.client_auth_mandatory());
        Ok(())
    }

    #[test]
    fn verifier_offers_p521() {
        let verifier = ExactClientCert::new(CertificateDer::from(vec![]), &provider());
        let schemes = verifier.supported_verify_schemes();
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP521_SHA512));
        assert!(schemes.contains(&SignatureScheme::ECDSA_NISTP256_SHA256));
    }

    #[test]
    fn p521_algorithm_verifies_signatures() {
        let sk = p521::ecdsa::SigningKey::random(&mut p521::elliptic_curve::rand_core::OsRng);
        let pk = p521::ecdsa::VerifyingKey::from(&sk);
        let point = pk.to_encoded_point(false);
        let sig: p521::ecdsa::Signature = sk.sign_with_rng(
            &mut p521::elliptic_curve::rand_core::OsRng,
            b"handshake transcript",
        );
        let der = sig.to_der();
        let alg = EcdsaP521Sha512;
        assert!(
            alg.verify_signature(point.as_bytes(), b"handshake transcript", der.as_bytes())
                .is_ok()
        );
        assert!(
            alg.verify_signature(point.as_bytes(), b"another transcript", der.as_bytes())
                .is_err()
        );
    }

    #[test]
    fn client_cert_from_pem() -> Result<(), TlsError> {
        let id = generate_server_identity()?;
        // Written the way go-plugin's pem.Encode writes it: 64 characters a line.
        let b64 = base64::Engine::encode(&base64::engine::general_purpose::STANDARD, &id.cert);
        let mut text = String::from("-----BEGIN CERTIFICATE-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            text.push_str(&String::from_utf8_lossy(chunk));
            text.push('\n');
        }
        text.push_str("-----END CERTIFICATE-----\n");
        assert_eq!(parse_client_cert(&text)?, id.cert);
        assert!(matches!(
            parse_client_cert("not a pem"),
            Err(TlsError::NoClientCert)
        ));
        Ok(())
    }
}
