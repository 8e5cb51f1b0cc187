//! TSIG keys, their algorithms, and why signing or verifying fails ([`TsigError`]).

use std::fmt;
use std::str::FromStr;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use hmac::digest::KeyInit;
use hmac::{Hmac, Mac};

use crate::dns::message::Rcode;
use crate::dns::name::{Name, NameError};
use crate::dns::wire::WireError;

/// Clock difference allowed between signer and verifier, seconds (RFC 8945 §10 recommends
/// 300).
pub const DEFAULT_FUDGE: u16 = 300;
/// Shortest truncated MAC accepted, octets (RFC 8945 §5.2.2.1).
pub(super) const MIN_TRUNCATED_MAC: usize = 10;

/// Why a message could not be signed or verified.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TsigError {
    /// The algorithm name is not one rack implements.
    #[error(
        "TSIG algorithm {name:?} is not supported; use hmac-sha256, hmac-sha384, hmac-sha512 or hmac-sha1"
    )]
    UnsupportedAlgorithm {
        /// The name as given.
        name: String,
    },
    /// The key name is not a valid domain name.
    #[error("TSIG key name is invalid")]
    BadKeyName(#[source] NameError),
    /// The secret is not base64.
    #[error("TSIG secret is not valid base64 (as printed by tsig-keygen)")]
    BadSecret(#[source] base64::DecodeError),
    /// The secret is empty.
    #[error("TSIG secret is empty")]
    EmptySecret,
    /// The message could not be parsed or extended.
    #[error("Message cannot be signed or verified")]
    Wire(#[from] WireError),
    /// A response that should be signed is not (RFC 8945 §5.4).
    #[error(
        "Response (rcode {rcode}) is not signed; check that the server has key {key} and that the right server answered"
    )]
    Unsigned {
        /// The response's rcode.
        rcode: Rcode,
        /// The key the request was signed with.
        key: Name,
    },
    /// The response is signed with another key or algorithm.
    #[error("Response is signed with key {got} ({algorithm}), not with {expected}")]
    WrongKey {
        /// The key we used.
        expected: Name,
        /// The key in the response.
        got: Name,
        /// The algorithm in the response.
        algorithm: Name,
    },
    /// The server could not verify our MAC (TSIG error BADSIG).
    #[error(
        "Server rejected the signature of key {key} (BADSIG); check that the secret matches the server's"
    )]
    BadSig {
        /// The key used.
        key: Name,
    },
    /// The server does not know the key (TSIG error BADKEY).
    #[error(
        "Server does not know key {key} with algorithm {algorithm} (BADKEY); check the key name and algorithm"
    )]
    BadKey {
        /// The key used.
        key: Name,
        /// Its algorithm.
        algorithm: TsigAlgorithm,
    },
    /// The server found our time outside the fudge (TSIG error BADTIME).
    #[error(
        "Server rejected the request time (BADTIME): server clock {server_time}, ours {client_time}; check the server and client clocks"
    )]
    BadTime {
        /// The server's clock, seconds since the epoch, when it reports it.
        server_time: u64,
        /// Our time signed.
        client_time: u64,
    },
    /// The server refused our truncated MAC (TSIG error BADTRUNC).
    #[error("Server rejected the truncated MAC (BADTRUNC)")]
    BadTrunc,
    /// The server returned another TSIG error.
    #[error("Server returned TSIG error {error}")]
    OtherError {
        /// The TSIG error field.
        error: Rcode,
    },
    /// The MAC is shorter than RFC 8945 §5.2.2.1 allows.
    #[error("MAC of {len} octets is too short; at least {min} are required")]
    MacTooShort {
        /// Its length.
        len: usize,
        /// The least allowed.
        min: usize,
    },
    /// The MAC does not verify.
    #[error(
        "MAC does not verify with key {key}; check that the secret matches the server's, or the message was altered"
    )]
    MacMismatch {
        /// The key used.
        key: Name,
    },
    /// The signature time is outside the fudge (RFC 8945 §5.2.3, §5.4.3).
    #[error(
        "Message was signed at {signed}, {skew} s from our clock {now} (fudge {fudge} s); check the server and client clocks"
    )]
    ClockSkew {
        /// Time signed.
        signed: u64,
        /// Our clock.
        now: u64,
        /// The difference.
        skew: u64,
        /// The allowed difference.
        fudge: u16,
    },
    /// A multi-message response went on unsigned for too long (RFC 8945 §5.3.1).
    #[error("More than 99 messages in a row of the response are unsigned")]
    TooManyUnsigned,
    /// A multi-message response ended with an unsigned message (RFC 8945 §5.3.1).
    #[error("The last message of the response is not signed")]
    UnsignedEnd,
}

/// A TSIG algorithm (RFC 8945 §6). HMAC-MD5 is deliberately absent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TsigAlgorithm {
    /// `hmac-sha1.`
    HmacSha1,
    /// `hmac-sha256.`, what `tsig-keygen` uses by default.
    HmacSha256,
    /// `hmac-sha384.`
    HmacSha384,
    /// `hmac-sha512.`
    HmacSha512,
}

impl TsigAlgorithm {
    /// The algorithm's name without the trailing dot, as in BIND's configuration.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// The algorithm name as it appears in the TSIG record (RFC 8945 §6).
    pub fn name(self) -> Name {
        // The names are valid constants; `parse` cannot fail on them.
        Name::parse(self.as_str()).unwrap_or_default()
    }

    /// Length of a full MAC, octets.
    pub fn mac_len(self) -> usize {
        match self {
            Self::HmacSha1 => 20,
            Self::HmacSha256 => 32,
            Self::HmacSha384 => 48,
            Self::HmacSha512 => 64,
        }
    }

    fn from_name(name: &Name) -> Option<Self> {
        [
            Self::HmacSha1,
            Self::HmacSha256,
            Self::HmacSha384,
            Self::HmacSha512,
        ]
        .into_iter()
        .find(|a| a.name() == *name)
    }
}

impl fmt::Display for TsigAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for TsigAlgorithm {
    type Err = TsigError;

    /// `hmac-sha256`, `HMAC-SHA256.` and the like.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Name::parse(s)
            .ok()
            .and_then(|n| Self::from_name(&n))
            .ok_or_else(|| TsigError::UnsupportedAlgorithm { name: s.to_owned() })
    }
}

/// A shared TSIG key. `Debug` never shows the secret.
#[derive(Clone, PartialEq, Eq)]
pub struct TsigKey {
    /// The key's name, the owner of TSIG records.
    pub name: Name,
    /// The HMAC algorithm.
    pub algorithm: TsigAlgorithm,
    secret: Vec<u8>,
}

impl TsigKey {
    /// A key from its raw secret.
    pub fn new(name: Name, algorithm: TsigAlgorithm, secret: Vec<u8>) -> Result<Self, TsigError> {
        if secret.is_empty() {
            return Err(TsigError::EmptySecret);
        }
        Ok(Self {
            name,
            algorithm,
            secret,
        })
    }

    /// A key as `tsig-keygen` prints it: name, algorithm name, base64 secret.
    pub fn from_base64(name: &str, algorithm: &str, secret: &str) -> Result<Self, TsigError> {
        let name = Name::parse(name).map_err(TsigError::BadKeyName)?;
        let algorithm = algorithm.parse()?;
        let secret = BASE64.decode(secret.trim()).map_err(TsigError::BadSecret)?;
        Self::new(name, algorithm, secret)
    }

    /// The secret.
    pub fn secret(&self) -> &[u8] {
        &self.secret
    }

    pub(super) fn mac(&self, parts: &[&[u8]]) -> Vec<u8> {
        fn run<M: Mac + KeyInit>(secret: &[u8], parts: &[&[u8]]) -> Vec<u8> {
            // HMAC takes keys of any length (RFC 2104 §2); `new_from_slice` cannot fail.
            match <M as KeyInit>::new_from_slice(secret) {
                Ok(mut mac) => {
                    for p in parts {
                        mac.update(p);
                    }
                    mac.finalize().into_bytes().to_vec()
                }
                Err(_) => Vec::new(),
            }
        }
        match self.algorithm {
            TsigAlgorithm::HmacSha1 => run::<Hmac<sha1::Sha1>>(&self.secret, parts),
            TsigAlgorithm::HmacSha256 => run::<Hmac<sha2::Sha256>>(&self.secret, parts),
            TsigAlgorithm::HmacSha384 => run::<Hmac<sha2::Sha384>>(&self.secret, parts),
            TsigAlgorithm::HmacSha512 => run::<Hmac<sha2::Sha512>>(&self.secret, parts),
        }
    }

    /// Compares `given` (possibly truncated, RFC 8945 §5.2.2.1) with the MAC of `parts`
    /// without leaking timing.
    pub(super) fn check_mac(&self, parts: &[&[u8]], given: &[u8]) -> Result<(), TsigError> {
        let full = self.algorithm.mac_len();
        let min = MIN_TRUNCATED_MAC.max(full / 2);
        if given.len() < min || given.len() > full {
            return Err(TsigError::MacTooShort {
                len: given.len(),
                min,
            });
        }
        let computed = self.mac(parts);
        let diff = computed
            .iter()
            .zip(given)
            .fold(0u8, |acc, (a, b)| acc | (a ^ b));
        if diff == 0 && computed.len() >= given.len() {
            Ok(())
        } else {
            Err(TsigError::MacMismatch {
                key: self.name.clone(),
            })
        }
    }
}

impl fmt::Debug for TsigKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TsigKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{NSUPDATE_SECRET, key};
    use super::*;

    #[test]
    fn keys_and_algorithms() {
        let key = key("hmac-sha256");
        let debug = format!("{key:?}");
        assert!(!debug.contains(NSUPDATE_SECRET), "{debug}");
        assert!(!debug.contains("secret-for"), "{debug}");
        assert!(debug.contains("redacted"));
        assert_eq!(key.secret(), b"secret-for-rack-tests-32-bytes!!");
        assert_eq!(
            "hmac-sha1".parse::<TsigAlgorithm>().unwrap(),
            TsigAlgorithm::HmacSha1
        );
        assert_eq!(TsigAlgorithm::HmacSha512.name().to_string(), "hmac-sha512.");
        assert!(matches!(
            "hmac-md5".parse::<TsigAlgorithm>(),
            Err(TsigError::UnsupportedAlgorithm { .. })
        ));
        assert!(matches!(
            TsigKey::from_base64("k.", "hmac-sha256", "not base64!"),
            Err(TsigError::BadSecret(_))
        ));
        assert!(matches!(
            TsigKey::from_base64("k.", "hmac-sha256", ""),
            Err(TsigError::EmptySecret)
        ));
        assert!(matches!(
            TsigKey::from_base64("a..b", "hmac-sha256", "YQ=="),
            Err(TsigError::BadKeyName(_))
        ));
        // RFC 4231 test case 2 for HMAC-SHA-256 ("Jefe").
        let jefe = TsigKey::new(Name::root(), TsigAlgorithm::HmacSha256, b"Jefe".to_vec()).unwrap();
        assert_eq!(
            crate::dns::text::hex(&jefe.mac(&[b"what do ya want ", b"for nothing?"])),
            "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"
        );
    }
}
