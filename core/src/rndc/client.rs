//! TCP transport for the control channel: connect, nonce handshake, one command.
//!
//! The exchange follows `bin/rndc/rndc.c`: a first signed message with `type = null`
//! earns a `_nonce` in the server's `_ctrl`; the command is then sent with that nonce in
//! its own `_ctrl`, and the server's answer carries `result`, `text` and `err` in `_data`.
//! named closes the connection without a word when it cannot verify a message, so a
//! close before the first answer is reported as an authentication failure.

use super::auth::Signer;
use super::wire::{self, WireError};
use super::{RndcError, RndcKey, RndcResponse};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use std::hash::{BuildHasher, Hasher};
use std::net::SocketAddr;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// A client for one named control channel. Each command opens its own connection, as
/// `rndc` does; the client holds no connection and is cheap to clone.
#[derive(Debug, Clone)]
pub struct RndcClient {
    addr: SocketAddr,
    key: RndcKey,
    timeout: Duration,
}

/// named rejects a message whose (`_ser`, `_tim`) pair it has seen in the last 15
/// minutes, so serials are unique across every client of this process and start at a
/// random point so that two processes are unlikely to collide.
fn next_serial() -> u32 {
    static SERIAL: OnceLock<AtomicU32> = OnceLock::new();
    SERIAL
        .get_or_init(|| {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(now_nanos());
            h.write_u32(std::process::id());
            AtomicU32::new((h.finish() as u32) | 1)
        })
        .fetch_add(1, Ordering::Relaxed)
}

fn now_nanos() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn now_secs() -> u32 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as u32)
        .unwrap_or(0)
}

/// Characters named's command parser takes as part of a zone name token.
fn check_zone(zone: &str) -> Result<(), RndcError> {
    let ok = !zone.is_empty()
        && zone.len() <= 255
        && zone
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_' | '/'));
    if ok {
        Ok(())
    } else {
        Err(RndcError::InvalidArgument {
            what: "zone name",
            value: zone.to_owned(),
        })
    }
}

impl RndcClient {
    /// A client for the control channel at `addr`, signing with `key`; `timeout` bounds
    /// each whole command (connect, handshake and answer).
    pub fn new(addr: SocketAddr, key: RndcKey, timeout: Duration) -> Self {
        Self { addr, key, timeout }
    }

    /// The control channel's address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Sends `text` (for example `status` or `reload farm.`) and returns named's answer as
    /// it is, whether the command succeeded or not.
    pub async fn send(&self, text: &str) -> Result<RndcResponse, RndcError> {
        let secret = STANDARD
            .decode(self.key.secret.trim())
            .map_err(|_| RndcError::InvalidSecret(self.key.name.clone()))?;
        let signer = Signer::new(self.key.algorithm, secret);
        tracing::debug!(addr = %self.addr, command = first_word(text), "rndc command");
        match tokio::time::timeout(self.timeout, self.exchange(&signer, text)).await {
            Ok(result) => result,
            Err(_) => Err(RndcError::Timeout {
                addr: self.addr,
                timeout: self.timeout,
            }),
        }
    }

    /// Sends `text` and turns an error reported by named into [`RndcError::Command`].
    pub async fn command(&self, text: &str) -> Result<RndcResponse, RndcError> {
        let response = self.send(text).await?;
        if response.ok() {
            return Ok(response);
        }
        Err(RndcError::Command {
            command: first_word(text).to_owned(),
            result: response.result,
            err: response
                .err
                .unwrap_or_else(|| format!("result {}", response.result)),
            text: response.text,
        })
    }

    /// `rndc status`: named's status report.
    pub async fn status(&self) -> Result<String, RndcError> {
        Ok(self.command("status").await?.text.unwrap_or_default())
    }

    /// `rndc reload ZONE`: reloads one zone from its file.
    pub async fn reload(&self, zone: &str) -> Result<String, RndcError> {
        check_zone(zone)?;
        Ok(self
            .command(&format!("reload {zone}"))
            .await?
            .text
            .unwrap_or_default())
    }

    /// `rndc addzone ZONE CONFIG`: adds a zone at run time (needs `allow-new-zones yes;`).
    ///
    /// `config` is the zone's configuration block, with or without its braces, for
    /// example `type primary; file "farm.db";`. The zone file must already exist.
    pub async fn addzone(&self, zone: &str, config: &str) -> Result<(), RndcError> {
        check_zone(zone)?;
        let block = zone_block(config);
        self.command(&format!("addzone {zone} {block}")).await?;
        Ok(())
    }

    /// `rndc delzone [-clean] ZONE`: removes a zone added at run time; with `clean`,
    /// named also deletes its zone file and journal.
    pub async fn delzone(&self, zone: &str, clean: bool) -> Result<(), RndcError> {
        check_zone(zone)?;
        let flag = if clean { "-clean " } else { "" };
        self.command(&format!("delzone {flag}{zone}")).await?;
        Ok(())
    }

    /// `rndc showzone ZONE`: the zone's configuration, or `None` when named has no such zone.
    pub async fn showzone(&self, zone: &str) -> Result<Option<String>, RndcError> {
        check_zone(zone)?;
        match self.command(&format!("showzone {zone}")).await {
            Ok(r) => Ok(Some(r.text.unwrap_or_default())),
            Err(e) if e.is_not_found() => Ok(None),
            Err(e) => Err(e),
        }
    }

    async fn exchange(&self, signer: &Signer, text: &str) -> Result<RndcResponse, RndcError> {
        let addr = self.addr;
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|source| RndcError::Connect { addr, source })?;
        let io = |source| RndcError::Io { addr, source };

        // Closing before the first answer is named's way of refusing the key.
        let hello = wire::request(next_serial(), now_secs(), None, "null");
        let answer = self
            .round(&mut stream, signer, &hello, || RndcError::Auth {
                addr,
                algorithm: self.key.algorithm,
            })
            .await?;
        let nonce = wire::nonce(&answer);

        let request = wire::request(next_serial(), now_secs(), nonce, text);
        let answer = self
            .round(&mut stream, signer, &request, || {
                io(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "named closed the connection before answering the command",
                ))
            })
            .await?;
        let _ = stream.shutdown().await;
        let (result, text, err) = wire::answer_fields(&answer).ok_or(RndcError::Protocol {
            addr,
            source: WireError::Truncated,
        })?;
        let result = match (result, &err) {
            (Some(r), _) => i32::try_from(r).unwrap_or(i32::MAX),
            (None, Some(_)) => -1,
            (None, None) => 0,
        };
        Ok(RndcResponse { result, text, err })
    }

    /// Sends one signed message and reads and checks named's answer; `closed` is the
    /// error for a connection named closed instead of answering.
    async fn round(
        &self,
        stream: &mut TcpStream,
        signer: &Signer,
        message: &wire::Table,
        closed: impl FnOnce() -> RndcError,
    ) -> Result<wire::Table, RndcError> {
        let addr = self.addr;
        let frame = wire::encode_frame(message, signer)
            .map_err(|source| RndcError::Protocol { addr, source })?;
        stream
            .write_all(&frame)
            .await
            .map_err(|source| RndcError::Io { addr, source })?;
        let answer = match read_frame(stream).await {
            Ok(bytes) => bytes,
            Err(Frame::Closed) => return Err(closed()),
            Err(Frame::Io(source)) => return Err(RndcError::Io { addr, source }),
            Err(Frame::Wire(source)) => return Err(RndcError::Protocol { addr, source }),
        };
        self.decode(signer, &answer)
    }

    fn decode(&self, signer: &Signer, message: &[u8]) -> Result<wire::Table, RndcError> {
        wire::decode_message(message, signer).map_err(|source| match source {
            WireError::BadSignature | WireError::Unsigned => RndcError::Auth {
                addr: self.addr,
                algorithm: self.key.algorithm,
            },
            source => RndcError::Protocol {
                addr: self.addr,
                source,
            },
        })
    }
}

enum Frame {
    Closed,
    Io(std::io::Error),
    Wire(WireError),
}

async fn read_frame(stream: &mut TcpStream) -> Result<Vec<u8>, Frame> {
    let mut prefix = [0u8; 4];
    if let Err(e) = stream.read_exact(&mut prefix).await {
        return Err(match e.kind() {
            std::io::ErrorKind::UnexpectedEof
            | std::io::ErrorKind::ConnectionReset
            | std::io::ErrorKind::ConnectionAborted => Frame::Closed,
            _ => Frame::Io(e),
        });
    }
    let len = wire::frame_length(prefix).map_err(Frame::Wire)?;
    let mut buf = vec![0u8; len];
    stream.read_exact(&mut buf).await.map_err(Frame::Io)?;
    Ok(buf)
}

/// `config` as named expects it after the zone name: `{ ...; };`, whether it was given
/// with its braces or as bare statements.
fn zone_block(config: &str) -> String {
    let config = config.trim();
    if config.starts_with('{') {
        format!("{};", config.trim_end_matches(';').trim_end())
    } else if config.ends_with(';') {
        format!("{{ {config} }};")
    } else {
        format!("{{ {config}; }};")
    }
}

fn first_word(text: &str) -> &str {
    text.split_whitespace().next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zone_names_are_checked() {
        assert!(check_zone("farm.").is_ok());
        assert!(check_zone("10.in-addr.arpa").is_ok());
        assert!(check_zone("").is_err());
        assert!(check_zone("a b").is_err());
        assert!(check_zone("a;{").is_err());
        assert!(check_zone("\"x\"").is_err());
    }

    #[test]
    fn zone_blocks_get_braces_and_semicolons() {
        let want = r#"{ type primary; file "a.db"; };"#;
        assert_eq!(zone_block(r#"type primary; file "a.db";"#), want);
        assert_eq!(zone_block(r#"type primary; file "a.db""#), want);
        assert_eq!(zone_block(r#"{ type primary; file "a.db"; };"#), want);
        assert_eq!(zone_block(r#" { type primary; file "a.db"; } "#), want);
    }

    #[test]
    fn serials_are_distinct() {
        let a = next_serial();
        let b = next_serial();
        assert_ne!(a, b);
    }
}
