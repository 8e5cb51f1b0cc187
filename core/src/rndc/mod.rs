//! A native client for BIND's control channel (what `rndc` speaks), without shelling out.
//!
//! - `wire`: the ISCCC message format, sans I/O;
//! - `auth`: the HMAC signatures carried in each message's `_auth` table;
//! - `client`: TCP transport, the nonce handshake and the command helpers.

mod auth;
mod client;
pub mod wire;

pub use client::RndcClient;
pub use wire::WireError;

use std::fmt;
use std::net::SocketAddr;
use std::str::FromStr;
use std::time::Duration;
use thiserror::Error;

/// HMAC algorithm of an rndc key, as written in `rndc.key` / `named.conf`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RndcAlgorithm {
    /// `hmac-md5`: legacy, still the default of old `rndc-confgen`.
    HmacMd5,
    /// `hmac-sha1`.
    HmacSha1,
    /// `hmac-sha224`.
    HmacSha224,
    /// `hmac-sha256`: the default of `rndc-confgen` and `tsig-keygen` today.
    HmacSha256,
    /// `hmac-sha384`.
    HmacSha384,
    /// `hmac-sha512`.
    HmacSha512,
}

impl RndcAlgorithm {
    /// The name used in BIND configuration.
    pub fn name(self) -> &'static str {
        match self {
            Self::HmacMd5 => "hmac-md5",
            Self::HmacSha1 => "hmac-sha1",
            Self::HmacSha224 => "hmac-sha224",
            Self::HmacSha256 => "hmac-sha256",
            Self::HmacSha384 => "hmac-sha384",
            Self::HmacSha512 => "hmac-sha512",
        }
    }

    /// BIND's DST algorithm number, sent in front of SHA signatures.
    pub(crate) fn dst_number(self) -> u8 {
        match self {
            Self::HmacMd5 => 157,
            Self::HmacSha1 => 161,
            Self::HmacSha224 => 162,
            Self::HmacSha256 => 163,
            Self::HmacSha384 => 164,
            Self::HmacSha512 => 165,
        }
    }
}

impl fmt::Display for RndcAlgorithm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for RndcAlgorithm {
    type Err = RndcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let lower = s.trim().to_ascii_lowercase();
        let name = lower.strip_suffix(".sig-alg.reg.int.").unwrap_or(&lower);
        Ok(match name {
            "hmac-md5" => Self::HmacMd5,
            "hmac-sha1" => Self::HmacSha1,
            "hmac-sha224" => Self::HmacSha224,
            "hmac-sha256" => Self::HmacSha256,
            "hmac-sha384" => Self::HmacSha384,
            "hmac-sha512" => Self::HmacSha512,
            _ => return Err(RndcError::UnknownAlgorithm(s.to_owned())),
        })
    }
}

/// An rndc key as written in `rndc.key`: name, algorithm and base64 secret.
///
/// The name is not sent on the wire (named tries every key listed in `controls`); it is
/// kept for messages. The secret never appears in `Debug` output.
#[derive(Clone, PartialEq, Eq)]
pub struct RndcKey {
    /// Key name, as in `key "rndc-key" { ... }`.
    pub name: String,
    /// HMAC algorithm.
    pub algorithm: RndcAlgorithm,
    /// Base64 secret, as in the key's `secret` clause.
    pub secret: String,
}

impl fmt::Debug for RndcKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RndcKey")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .field("secret", &"<redacted>")
            .finish()
    }
}

/// What named answered to a command.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RndcResponse {
    /// BIND's result code (`isc_result_t`); 0 is success.
    pub result: i32,
    /// The command's output (`rndc status` text, a zone's configuration...).
    pub text: Option<String>,
    /// BIND's error text when the command failed (`already exists`, `not found`...).
    pub err: Option<String>,
}

impl RndcResponse {
    /// Whether named reported success.
    pub fn ok(&self) -> bool {
        self.err.is_none() && self.result == 0
    }
}

/// Why a control-channel command did not succeed.
#[derive(Debug, Error)]
#[non_exhaustive]
pub enum RndcError {
    /// No TCP connection could be made to the control channel.
    #[error(
        "Cannot connect to the rndc control channel at {addr}; check `controls` in named.conf and the address"
    )]
    Connect {
        /// Address tried.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server did not answer in time.
    #[error("No answer from the rndc control channel at {addr} within {timeout:?}")]
    Timeout {
        /// Address of the server.
        addr: SocketAddr,
        /// Time allowed for the whole exchange.
        timeout: Duration,
    },
    /// The server closed the connection on our signed message, or its answer did not
    /// verify with our key.
    #[error(
        "Authentication with the rndc control channel at {addr} failed; check the key name, secret and algorithm ({algorithm}) against `controls` in named.conf"
    )]
    Auth {
        /// Address of the server.
        addr: SocketAddr,
        /// Algorithm of the key we used.
        algorithm: RndcAlgorithm,
    },
    /// The connection broke after authentication.
    #[error("Connection to the rndc control channel at {addr} failed")]
    Io {
        /// Address of the server.
        addr: SocketAddr,
        /// What the OS said.
        #[source]
        source: std::io::Error,
    },
    /// The server sent something that is not a valid control-channel message.
    #[error("Malformed answer from the rndc control channel at {addr}")]
    Protocol {
        /// Address of the server.
        addr: SocketAddr,
        /// What was wrong with it.
        #[source]
        source: WireError,
    },
    /// named ran the command and reported an error.
    #[error("rndc {command} failed: {}", failure_text(.err, .text))]
    Command {
        /// The command's first word (`addzone`, `delzone`...).
        command: String,
        /// BIND's result code.
        result: i32,
        /// BIND's error text (`already exists`, `not found`...).
        err: String,
        /// BIND's explanation, when it gave one.
        text: Option<String>,
    },
    /// The key's secret is not valid base64.
    #[error("The secret of rndc key `{0}` is not valid base64")]
    InvalidSecret(String),
    /// The algorithm name is not one BIND supports for rndc.
    #[error("Unknown rndc key algorithm `{0}`")]
    UnknownAlgorithm(String),
    /// An argument would not survive named's command parser (quotes, spaces...).
    #[error("Invalid {what} `{value}` for an rndc command")]
    InvalidArgument {
        /// Which argument.
        what: &'static str,
        /// Its value.
        value: String,
    },
}

fn failure_text(err: &str, text: &Option<String>) -> String {
    match text.as_deref().map(str::trim) {
        Some(t) if !t.is_empty() => format!("{err}: {t}"),
        _ => err.to_owned(),
    }
}

/// BIND's `ISC_R_EXISTS`: `already exists`.
pub const RESULT_EXISTS: i32 = 18;
/// BIND's `ISC_R_NOTFOUND`: `not found`.
pub const RESULT_NOT_FOUND: i32 = 23;

impl RndcError {
    /// named answered `not found` (no such zone, for instance).
    pub fn is_not_found(&self) -> bool {
        matches!(self, Self::Command { result, err, .. }
            if *result == RESULT_NOT_FOUND || err == "not found")
    }

    /// named answered `already exists`.
    pub fn is_exists(&self) -> bool {
        matches!(self, Self::Command { result, err, .. }
            if *result == RESULT_EXISTS || err == "already exists")
    }
}

#[cfg(test)]
impl RndcAlgorithm {
    /// Every algorithm, for the tests that cover them all.
    pub(crate) const ALL: [Self; 6] = [
        Self::HmacMd5,
        Self::HmacSha1,
        Self::HmacSha224,
        Self::HmacSha256,
        Self::HmacSha384,
        Self::HmacSha512,
    ];
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn algorithm_names_parse_both_ways() {
        for alg in RndcAlgorithm::ALL {
            assert_eq!(alg.name().parse::<RndcAlgorithm>().unwrap(), alg);
        }
        assert_eq!(
            "HMAC-MD5.SIG-ALG.REG.INT."
                .parse::<RndcAlgorithm>()
                .unwrap(),
            RndcAlgorithm::HmacMd5
        );
        assert!("hmac-foo".parse::<RndcAlgorithm>().is_err());
    }

    #[test]
    fn key_debug_hides_secret() {
        let key = RndcKey {
            name: "rndc-key".into(),
            algorithm: RndcAlgorithm::HmacSha256,
            secret: "c2VjcmV0c2VjcmV0".into(),
        };
        let shown = format!("{key:?}");
        assert!(shown.contains("rndc-key"));
        assert!(!shown.contains("c2VjcmV0c2VjcmV0"));
    }

    #[test]
    fn command_error_shows_bind_text() {
        let e = RndcError::Command {
            command: "addzone".into(),
            result: RESULT_EXISTS,
            err: "already exists".into(),
            text: Some("zone 'x.' already exists\n".into()),
        };
        assert_eq!(
            e.to_string(),
            "rndc addzone failed: already exists: zone 'x.' already exists"
        );
        assert!(e.is_exists());
        assert!(!e.is_not_found());
    }
}
