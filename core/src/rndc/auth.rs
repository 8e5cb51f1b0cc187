//! HMAC signatures of control-channel messages, as `lib/isccc/cc.c` computes them.
//!
//! The HMAC covers the encoded message body after the `_auth` table. It travels as the
//! padded base64 text of the digest:
//! - `hmac-md5`: in `_auth.hmd5`, the first 22 characters of the base64 text;
//! - the SHA family: in `_auth.hsha`, 89 bytes: one byte naming the algorithm (BIND's
//!   DST number: 161 sha1, 162 sha224, 163 sha256, 164 sha384, 165 sha512) then the
//!   base64 text padded with zero bytes to 88.

use super::RndcAlgorithm;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

/// Length of the base64 text BIND keeps for an HMAC-MD5 signature (24 minus the `==`).
const HMD5_LENGTH: usize = 22;
/// Room BIND reserves for a SHA signature: the base64 text of a SHA-512 digest.
const HSHA_LENGTH: usize = 88;

/// Signs and verifies messages with one key. Holds the decoded secret; never printed.
#[derive(Clone)]
pub struct Signer {
    algorithm: RndcAlgorithm,
    secret: Vec<u8>,
}

impl std::fmt::Debug for Signer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer")
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

fn mac<M: Mac + KeyInit>(secret: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length, so this cannot fail.
    match <M as KeyInit>::new_from_slice(secret) {
        Ok(mut m) => {
            m.update(data);
            m.finalize().into_bytes().to_vec()
        }
        Err(_) => Vec::new(),
    }
}

impl Signer {
    /// A signer for `algorithm` with the raw (already base64-decoded) `secret`.
    pub fn new(algorithm: RndcAlgorithm, secret: Vec<u8>) -> Self {
        Self { algorithm, secret }
    }

    fn digest(&self, data: &[u8]) -> Vec<u8> {
        match self.algorithm {
            RndcAlgorithm::HmacMd5 => mac::<Hmac<md5::Md5>>(&self.secret, data),
            RndcAlgorithm::HmacSha1 => mac::<Hmac<sha1::Sha1>>(&self.secret, data),
            RndcAlgorithm::HmacSha224 => mac::<Hmac<sha2::Sha224>>(&self.secret, data),
            RndcAlgorithm::HmacSha256 => mac::<Hmac<sha2::Sha256>>(&self.secret, data),
            RndcAlgorithm::HmacSha384 => mac::<Hmac<sha2::Sha384>>(&self.secret, data),
            RndcAlgorithm::HmacSha512 => mac::<Hmac<sha2::Sha512>>(&self.secret, data),
        }
    }

    /// The `_auth` key and value that sign `data` (the encoded body after `_auth`).
    pub fn signature_field(&self, data: &[u8]) -> (&'static str, Vec<u8>) {
        let b64 = STANDARD.encode(self.digest(data)).into_bytes();
        match self.algorithm {
            RndcAlgorithm::HmacMd5 => {
                let mut v = b64;
                v.truncate(HMD5_LENGTH);
                ("hmd5", v)
            }
            alg => {
                let mut v = Vec::with_capacity(1 + HSHA_LENGTH);
                v.push(alg.dst_number());
                v.extend_from_slice(&b64);
                v.resize(1 + HSHA_LENGTH, 0);
                ("hsha", v)
            }
        }
    }

    /// Whether `signature` (the `_auth` value) signs `data` with this key and algorithm.
    pub fn verify(&self, data: &[u8], signature: &[u8]) -> bool {
        let (_, expected) = self.signature_field(data);
        constant_time_eq(&expected, signature)
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hmac_sha256_matches_rfc_4231_case_2() {
        let s = Signer::new(RndcAlgorithm::HmacSha256, b"Jefe".to_vec());
        let digest = s.digest(b"what do ya want for nothing?");
        assert_eq!(
            digest,
            [
                0x5b, 0xdc, 0xc1, 0x46, 0xbf, 0x60, 0x75, 0x4e, 0x6a, 0x04, 0x24, 0x26, 0x08, 0x95,
                0x75, 0xc7, 0x5a, 0x00, 0x3f, 0x08, 0x9d, 0x27, 0x39, 0x83, 0x9d, 0xec, 0x58, 0xb9,
                0x64, 0xec, 0x38, 0x43
            ]
        );
        let (field, value) = s.signature_field(b"what do ya want for nothing?");
        assert_eq!(field, "hsha");
        assert_eq!(value.len(), 89);
        assert_eq!(value[0], 163);
        assert_eq!(
            &value[1..45],
            b"W9zBRr9gdU5qBCQmCJV1x1oAPwidJzmDnexYuWTsOEM="
        );
        assert!(value[45..].iter().all(|b| *b == 0));
    }

    #[test]
    fn hmac_md5_matches_rfc_2104_and_is_cut_to_22() {
        let s = Signer::new(RndcAlgorithm::HmacMd5, b"Jefe".to_vec());
        // RFC 2104 test 2: 750c783e6ab0b503eaa86e310a5db738.
        let (field, value) = s.signature_field(b"what do ya want for nothing?");
        assert_eq!(field, "hmd5");
        assert_eq!(value, b"dQx4PmqwtQPqqG4xCl23OA".to_vec());
    }

    #[test]
    fn debug_hides_the_secret() {
        let s = Signer::new(RndcAlgorithm::HmacSha256, b"topsecret".to_vec());
        let shown = format!("{s:?}");
        assert!(!shown.contains("topsecret"));
        assert!(!shown.contains("116, 111, 112"));
    }
}
