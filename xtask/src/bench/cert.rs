//! A go-plugin host's P-521 certificate, built by hand: rcgen signs P-521 only with its
//! aws-lc-rs backend and ring cannot sign P-521 at all, so the key is the pure-Rust `p521`
//! crate's and the certificate is a few lines of DER (RFC 5280 section 4.1).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use p521::ecdsa::signature::Signer as _;
use rustls::pki_types::CertificateDer;
use rustls::{SignatureAlgorithm, SignatureScheme};

/// DER tags used below.
const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const INTEGER: u8 = 0x02;
const BIT_STRING: u8 = 0x03;
const OCTET_STRING: u8 = 0x04;
const BOOLEAN: u8 = 0x01;
const UTF8_STRING: u8 = 0x0c;
const UTC_TIME: u8 = 0x17;
/// `[0] EXPLICIT` (version) and `[3] EXPLICIT` (extensions) in TBSCertificate.
const CONTEXT_0: u8 = 0xa0;
const CONTEXT_3: u8 = 0xa3;
/// `dNSName [2] IMPLICIT IA5String` in GeneralName.
const DNS_NAME: u8 = 0x82;

/// Object identifiers, DER-encoded with their tag.
const OID_ECDSA_SHA512: &[u8] = &[0x06, 0x08, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x04];
const OID_EC_PUBLIC_KEY: &[u8] = &[0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
const OID_SECP521R1: &[u8] = &[0x06, 0x05, 0x2b, 0x81, 0x04, 0x00, 0x23];
const OID_COMMON_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x04, 0x03];
const OID_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x0f];
const OID_SUBJECT_ALT_NAME: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x11];
const OID_BASIC_CONSTRAINTS: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x13];
const OID_EXT_KEY_USAGE: &[u8] = &[0x06, 0x03, 0x55, 0x1d, 0x25];
const OID_SERVER_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x01];
const OID_CLIENT_AUTH: &[u8] = &[0x06, 0x08, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x03, 0x02];

/// go-plugin's host certificates are valid from now for 30 years; fixed dates around
/// any run of the benchmark do as well.
const NOT_BEFORE: &[u8] = b"200101000000Z";
const NOT_AFTER: &[u8] = b"491231235959Z";

/// A tag, a DER length and the content.
fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[&[u8]]) -> Vec<u8> {
    tlv(SEQUENCE, &parts.concat())
}

/// One extension: its OID, whether it is critical, and its DER value.
fn extension(oid: &[u8], critical: bool, value: &[u8]) -> Vec<u8> {
    let critical = if critical {
        tlv(BOOLEAN, &[0xff])
    } else {
        Vec::new()
    };
    seq(&[oid, &critical, &tlv(OCTET_STRING, value)])
}

/// A P-521 key that signs both the certificate and the TLS handshake.
#[derive(Clone)]
pub struct P521Key {
    key: p521::ecdsa::SigningKey,
}

impl std::fmt::Debug for P521Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("P521Key(..)")
    }
}

impl P521Key {
    /// A fresh random key.
    pub fn generate() -> Self {
        Self {
            key: p521::ecdsa::SigningKey::random(&mut p521::elliptic_curve::rand_core::OsRng),
        }
    }

    /// ECDSA with SHA-512 over `message`, DER-encoded (as X.509 and TLS carry it).
    fn sign_der(&self, message: &[u8]) -> Vec<u8> {
        let signature: p521::ecdsa::Signature = self.key.sign(message);
        signature.to_der().as_bytes().to_vec()
    }

    /// A self-signed certificate for "localhost" like go-plugin's `generateCert`: a CA,
    /// for digital signatures, key encipherment and certificate signing, usable for client
    /// and server authentication.
    pub fn self_signed_cert(&self) -> CertificateDer<'static> {
        let point = p521::ecdsa::VerifyingKey::from(&self.key).to_encoded_point(false);
        let public_key = [&[0u8][..], point.as_bytes()].concat();
        let serial: u64 = rand_serial();
        let name = seq(&[&tlv(
            SET,
            &seq(&[OID_COMMON_NAME, &tlv(UTF8_STRING, b"localhost")]),
        )]);
        let algorithm = seq(&[OID_ECDSA_SHA512]);
        // keyUsage bits: digitalSignature (0), keyEncipherment (2), keyCertSign (5);
        // the first content byte counts the unused bits of the last byte (2).
        let key_usage = tlv(BIT_STRING, &[0x02, 0b1010_0100]);
        let extensions = seq(&[
            &extension(OID_KEY_USAGE, true, &key_usage),
            &extension(
                OID_EXT_KEY_USAGE,
                false,
                &seq(&[OID_CLIENT_AUTH, OID_SERVER_AUTH]),
            ),
            &extension(OID_BASIC_CONSTRAINTS, true, &seq(&[&tlv(BOOLEAN, &[0xff])])),
            &extension(
                OID_SUBJECT_ALT_NAME,
                false,
                &seq(&[&tlv(DNS_NAME, b"localhost")]),
            ),
        ]);
        let tbs = seq(&[
            &tlv(CONTEXT_0, &tlv(INTEGER, &[2])),
            &tlv(INTEGER, &positive_integer(serial)),
            &algorithm,
            &name,
            &seq(&[&tlv(UTC_TIME, NOT_BEFORE), &tlv(UTC_TIME, NOT_AFTER)]),
            &name,
            &seq(&[
                &seq(&[OID_EC_PUBLIC_KEY, OID_SECP521R1]),
                &tlv(BIT_STRING, &public_key),
            ]),
            &tlv(CONTEXT_3, &extensions),
        ]);
        let signature = [&[0u8][..], &self.sign_der(&tbs)].concat();
        CertificateDer::from(seq(&[&tbs, &algorithm, &tlv(BIT_STRING, &signature)]))
    }
}

/// Times `rounds` P-521 signatures (this host's side of an AutoMTLS handshake) and
/// verifications (the provider's side, done with the same `p521` crate), in ms.
pub fn time_p521(rounds: usize) -> (Vec<f64>, Vec<f64>) {
    use p521::ecdsa::signature::Verifier as _;
    let key = P521Key::generate();
    let public = p521::ecdsa::VerifyingKey::from(&key.key);
    let message = [0x20u8; 130];
    let (mut sign, mut verify) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let start = std::time::Instant::now();
        let signature: p521::ecdsa::Signature = key.key.sign(&message);
        sign.push(start.elapsed().as_secs_f64() * 1000.0);
        let start = std::time::Instant::now();
        let ok = public.verify(&message, &signature).is_ok();
        verify.push(start.elapsed().as_secs_f64() * 1000.0);
        debug_assert!(ok);
    }
    (sign, verify)
}

/// A serial number from the clock: unique enough for throwaway certificates.
fn rand_serial() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| d.as_nanos() as u64)
        | 1
}

/// The content octets of a DER INTEGER holding `n` (> 0): big-endian, no redundant
/// leading zero, and a zero added when the top bit is set so it stays positive.
fn positive_integer(n: u64) -> Vec<u8> {
    let mut bytes: Vec<u8> = n
        .to_be_bytes()
        .into_iter()
        .skip_while(|&b| b == 0)
        .collect();
    if bytes.first().is_none_or(|&b| b & 0x80 != 0) {
        bytes.insert(0, 0);
    }
    bytes
}

/// A certificate in PEM.
pub fn pem(cert: &CertificateDer<'_>) -> String {
    let b64 = STANDARD.encode(cert.as_ref());
    let mut out = String::from("-----BEGIN CERTIFICATE-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        out.push_str(&String::from_utf8_lossy(chunk));
        out.push('\n');
    }
    out.push_str("-----END CERTIFICATE-----\n");
    out
}

impl rustls::sign::SigningKey for P521Key {
    fn choose_scheme(&self, offered: &[SignatureScheme]) -> Option<Box<dyn rustls::sign::Signer>> {
        offered
            .contains(&SignatureScheme::ECDSA_NISTP521_SHA512)
            .then(|| Box::new(self.clone()) as Box<dyn rustls::sign::Signer>)
    }

    fn algorithm(&self) -> SignatureAlgorithm {
        SignatureAlgorithm::ECDSA
    }
}

impl rustls::sign::Signer for P521Key {
    fn sign(&self, message: &[u8]) -> Result<Vec<u8>, rustls::Error> {
        Ok(self.sign_der(message))
    }

    fn scheme(&self) -> SignatureScheme {
        SignatureScheme::ECDSA_NISTP521_SHA512
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn der_lengths() {
        assert_eq!(tlv(0x04, &[1, 2]), vec![0x04, 2, 1, 2]);
        let long = tlv(0x04, &[0; 200]);
        assert_eq!(&long[..3], &[0x04, 0x81, 200]);
        let longer = tlv(0x04, &[0; 300]);
        assert_eq!(&longer[..4], &[0x04, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn integers_stay_positive() {
        assert_eq!(positive_integer(1), vec![1]);
        assert_eq!(positive_integer(0x80), vec![0, 0x80]);
        assert_eq!(positive_integer(0x0100), vec![1, 0]);
    }

    #[test]
    fn certificate_round_trips_through_pem() {
        let key = P521Key::generate();
        let cert = key.self_signed_cert();
        assert_eq!(cert.as_ref()[0], SEQUENCE);
        let text = pem(&cert);
        let parsed = rustls::pki_types::pem::PemObject::pem_slice_iter(text.as_bytes())
            .next()
            .unwrap();
        let parsed: CertificateDer<'static> = parsed.unwrap();
        assert_eq!(parsed.as_ref(), cert.as_ref());
    }
}
