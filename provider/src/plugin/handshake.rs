//! The go-plugin handshake: magic cookie, protocol version negotiation and the line the
//! host reads from our stdout. Pure functions of their inputs, no I/O.

use std::fmt;
use std::path::Path;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD_NO_PAD;

/// Environment variable holding the magic cookie set by Terraform and OpenTofu.
pub const MAGIC_COOKIE_KEY: &str = "TF_PLUGIN_MAGIC_COOKIE";

/// The magic cookie value of Terraform's plugin protocol. Not a secret: it only tells a
/// process started by hand apart from one started by the host.
pub const MAGIC_COOKIE_VALUE: &str =
    "d602bf8f470bc67ca7faa0386276bbdd4330efaf76d1a219cb4d6991ca9872b2";

/// Environment variable listing the application protocol versions the host speaks.
pub const PROTOCOL_VERSIONS_KEY: &str = "PLUGIN_PROTOCOL_VERSIONS";

/// Version of go-plugin's own protocol (the first handshake field).
pub const CORE_PROTOCOL_VERSION: u32 = 1;

/// The only application protocol we serve: Terraform plugin protocol 6.
pub const APP_PROTOCOL_VERSION: u32 = 6;

/// Why the handshake cannot go ahead.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[non_exhaustive]
pub enum HandshakeError {
    /// The magic cookie is missing or wrong: the binary was started by hand.
    #[error(
        "This binary is a Terraform/OpenTofu provider plugin and is not meant to be run by hand; \
         install it as a provider (see the README) and run terraform or tofu instead"
    )]
    NotLaunchedByHost,
    /// The host offers only protocol versions we do not speak.
    #[error(
        "The host speaks plugin protocol versions {offered} but this provider speaks only \
         version 6; use Terraform 1.0 or later, or OpenTofu"
    )]
    UnsupportedProtocol {
        /// The versions the host offered, as it sent them.
        offered: String,
    },
    /// The socket path cannot be written into the handshake line.
    #[error("The socket path {0:?} is not UTF-8 or contains '|' or a line break")]
    SocketPath(String),
}

/// Checks the magic cookie the host put in the environment.
pub fn check_cookie(value: Option<&str>) -> Result<(), HandshakeError> {
    match value {
        Some(v) if v == MAGIC_COOKIE_VALUE => Ok(()),
        _ => Err(HandshakeError::NotLaunchedByHost),
    }
}

/// Picks the application protocol version from the host's comma-separated list.
///
/// Like go-plugin, entries that are not numbers are skipped, and a host that sends no
/// usable list is served our only version (it will report a mismatch itself).
pub fn negotiate(offered: Option<&str>) -> Result<u32, HandshakeError> {
    let Some(list) = offered else {
        return Ok(APP_PROTOCOL_VERSION);
    };
    let versions: Vec<u32> = list
        .split(',')
        .filter_map(|v| v.trim().parse().ok())
        .collect();
    if versions.is_empty() || versions.contains(&APP_PROTOCOL_VERSION) {
        Ok(APP_PROTOCOL_VERSION)
    } else {
        Err(HandshakeError::UnsupportedProtocol {
            offered: list.to_owned(),
        })
    }
}

/// The line the host reads from our stdout:
/// `CORE|APP|unix|<socket path>|grpc|<server cert DER, base64 without padding>`.
///
/// The certificate field is empty without AutoMTLS. go-plugin decodes it with
/// `base64.RawStdEncoding`, i.e. the standard alphabet without `=` padding.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HandshakeLine {
    socket: String,
    server_cert: String,
}

impl HandshakeLine {
    /// Builds the line for a unix socket and an optional server certificate (DER).
    pub fn new(socket: &Path, server_cert_der: Option<&[u8]>) -> Result<Self, HandshakeError> {
        let socket = socket
            .to_str()
            .filter(|s| !s.contains(['|', '\n', '\r']))
            .ok_or_else(|| HandshakeError::SocketPath(socket.display().to_string()))?
            .to_owned();
        let server_cert = server_cert_der
            .map(|der| STANDARD_NO_PAD.encode(der))
            .unwrap_or_default();
        Ok(Self {
            socket,
            server_cert,
        })
    }
}

impl fmt::Display for HandshakeLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{CORE_PROTOCOL_VERSION}|{APP_PROTOCOL_VERSION}|unix|{}|grpc|{}",
            self.socket, self.server_cert
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookie_must_match_exactly() {
        assert_eq!(check_cookie(Some(MAGIC_COOKIE_VALUE)), Ok(()));
        assert_eq!(check_cookie(None), Err(HandshakeError::NotLaunchedByHost));
        assert_eq!(
            check_cookie(Some("")),
            Err(HandshakeError::NotLaunchedByHost)
        );
        let upper = MAGIC_COOKIE_VALUE.to_uppercase();
        assert_eq!(
            check_cookie(Some(&upper)),
            Err(HandshakeError::NotLaunchedByHost)
        );
    }

    #[test]
    fn cookie_message_is_one_line() {
        let msg = HandshakeError::NotLaunchedByHost.to_string();
        assert!(!msg.contains('\n'));
        assert!(msg.starts_with("This binary"));
        assert!(msg.contains("README"));
    }

    #[test]
    fn negotiation() {
        let cases: &[(Option<&str>, Result<u32, ()>)] = &[
            (None, Ok(6)),
            (Some(""), Ok(6)),
            (Some("6"), Ok(6)),
            (Some("5,6"), Ok(6)),
            (Some("6,7"), Ok(6)),
            (Some(" 5 , 6 "), Ok(6)),
            (Some("x,y"), Ok(6)),
            (Some("5"), Err(())),
            (Some("4,5"), Err(())),
            (Some("5,x"), Err(())),
        ];
        for (input, want) in cases {
            let got = negotiate(*input).map_err(|_| ());
            assert_eq!(&got, want, "input {input:?}");
        }
        assert_eq!(
            negotiate(Some("4,5")),
            Err(HandshakeError::UnsupportedProtocol {
                offered: "4,5".into()
            })
        );
    }

    #[test]
    fn line_without_tls() -> Result<(), HandshakeError> {
        let line = HandshakeLine::new(Path::new("/tmp/plugin123/plugin.sock"), None)?;
        assert_eq!(
            line.to_string(),
            "1|6|unix|/tmp/plugin123/plugin.sock|grpc|"
        );
        Ok(())
    }

    #[test]
    fn line_with_cert_has_no_padding() -> Result<(), HandshakeError> {
        // 4 bytes encode to 6 characters plus "==" with padding.
        let line = HandshakeLine::new(Path::new("/s"), Some(&[0xde, 0xad, 0xbe, 0xef]))?;
        assert_eq!(line.to_string(), "1|6|unix|/s|grpc|3q2+7w");
        Ok(())
    }

    #[test]
    fn line_rejects_separator_in_path() {
        assert!(matches!(
            HandshakeLine::new(Path::new("/tmp/a|b/plugin.sock"), None),
            Err(HandshakeError::SocketPath(_))
        ));
        assert!(matches!(
            HandshakeLine::new(Path::new("/tmp/a\nb"), None),
            Err(HandshakeError::SocketPath(_))
        ));
    }
}
