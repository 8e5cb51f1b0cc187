//! Shared plumbing of the fixtures: finding binaries, temp dirs, free ports, a child
//! process that is stopped by PID on drop, and a tiny DNS probe.

use std::fmt;
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

/// Why a fixture could not be started. The message says what is missing.
#[derive(Debug)]
pub struct FixtureError(pub String);

impl fmt::Display for FixtureError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for FixtureError {}

pub(crate) fn err(msg: impl Into<String>) -> FixtureError {
    FixtureError(msg.into())
}

/// Finds `name` in PATH or the sbin directories (often missing from a user's PATH).
/// The error names the binary and the Debian package that ships it.
pub fn find_binary(name: &str, package: &str) -> Result<PathBuf, FixtureError> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::env::split_paths(&path).chain(
        ["/usr/sbin", "/usr/bin", "/sbin", "/usr/local/sbin"]
            .iter()
            .map(PathBuf::from),
    );
    for dir in dirs {
        let candidate = dir.join(name);
        if candidate.is_file() {
            return Ok(candidate);
        }
    }
    Err(err(format!(
        "`{name}` is not installed (not in PATH nor /usr/sbin); install the Debian package `{package}` \
         (apt-get install -y {package})"
    )))
}

/// A temp dir removed on drop.
#[derive(Debug)]
pub struct TempDir(PathBuf);

impl TempDir {
    /// A new empty dir under the system temp dir, named after `prefix`.
    pub fn new(prefix: &str) -> Result<Self, FixtureError> {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.subsec_nanos())
            .unwrap_or(0);
        let path = std::env::temp_dir().join(format!(
            "{prefix}-{}-{}-{nanos}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        std::fs::create_dir_all(&path)
            .map_err(|e| err(format!("cannot create {}: {e}", path.display())))?;
        Ok(Self(path))
    }

    /// Its path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        if std::env::var_os("RACK_KEEP_FIXTURES").is_none() {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }
}

/// Runs `start` up to `times` times (a daemon that lost a port race with another test is
/// tried again on fresh ports) and returns its first success or its last error.
pub fn attempts<T>(
    times: usize,
    what: &str,
    mut start: impl FnMut() -> Result<T, FixtureError>,
) -> Result<T, FixtureError> {
    let mut last = None;
    for _ in 0..times {
        match start() {
            Ok(started) => return Ok(started),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| err(format!("{what} did not start"))))
}

/// A loopback port that is free for both TCP and UDP right now.
pub fn free_port() -> Result<u16, FixtureError> {
    for _ in 0..50 {
        let tcp = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| err(format!("cannot bind a TCP port on 127.0.0.1: {e}")))?;
        let port = tcp
            .local_addr()
            .map_err(|e| err(format!("local_addr: {e}")))?
            .port();
        if UdpSocket::bind((Ipv4Addr::LOCALHOST, port)).is_ok() {
            return Ok(port);
        }
    }
    Err(err("no loopback port free for both TCP and UDP"))
}

/// A child process killed (SIGKILL by PID, through std) and reaped on drop.
#[derive(Debug)]
pub struct Daemon {
    child: Child,
    name: String,
}

impl Daemon {
    /// Spawns `cmd` with stdout and stderr appended to `log`.
    pub fn spawn(name: &str, mut cmd: Command, log: &Path) -> Result<Self, FixtureError> {
        let out = std::fs::File::create(log)
            .map_err(|e| err(format!("cannot create {}: {e}", log.display())))?;
        let errf = out
            .try_clone()
            .map_err(|e| err(format!("cannot clone log handle: {e}")))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(out))
            .stderr(Stdio::from(errf));
        let child = cmd
            .spawn()
            .map_err(|e| err(format!("cannot start {name}: {e}")))?;
        Ok(Self {
            child,
            name: name.to_owned(),
        })
    }

    /// The process id.
    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Stops the process now (SIGKILL by PID) and reaps it, as dropping it would.
    pub fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// `Some(status)` if the process has already exited.
    pub fn exited(&mut self) -> Option<std::process::ExitStatus> {
        self.child.try_wait().ok().flatten()
    }

    /// Polls `ready` every 10 ms until it returns true, the process exits, or `limit`.
    pub fn wait_until(
        &mut self,
        limit: Duration,
        log: &Path,
        mut ready: impl FnMut() -> bool,
    ) -> Result<Duration, FixtureError> {
        let start = Instant::now();
        loop {
            if ready() {
                return Ok(start.elapsed());
            }
            if let Some(status) = self.exited() {
                return Err(err(format!(
                    "{} exited ({status}) before answering; log {}:\n{}",
                    self.name,
                    log.display(),
                    tail(log)
                )));
            }
            if start.elapsed() > limit {
                return Err(err(format!(
                    "{} did not answer within {limit:?}; log {}:\n{}",
                    self.name,
                    log.display(),
                    tail(log)
                )));
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        // Child::kill sends SIGKILL to this PID only; wait reaps it.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last lines of a log file, for error messages.
pub fn tail(log: &Path) -> String {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Runs `cmd` to completion and returns its stdout, or an error with its stderr.
pub fn run(cmd: Command, what: &str) -> Result<String, FixtureError> {
    run_with_input(cmd, &[], what)
}

/// [`run`] with `input` written to the command's stdin (for secrets and scripts that
/// must not appear on a command line).
pub fn run_with_input(mut cmd: Command, input: &[u8], what: &str) -> Result<String, FixtureError> {
    let mut child = cmd
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| err(format!("cannot run {what}: {e}")))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(input)
            .map_err(|e| err(format!("cannot write to {what}: {e}")))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| err(format!("cannot run {what}: {e}")))?;
    if !out.status.success() {
        return Err(err(format!(
            "{what} failed ({}): {}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        )));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// A DNS query with `id` for the SOA of `zone` (IN, no recursion desired).
fn soa_query(id: u16, zone: &str) -> Vec<u8> {
    let mut q = Vec::with_capacity(64);
    q.extend_from_slice(&id.to_be_bytes());
    q.extend_from_slice(&[0x00, 0x00, 0, 1, 0, 0, 0, 0, 0, 0]); // no RD, one question
    for label in zone
        .trim_end_matches('.')
        .split('.')
        .filter(|l| !l.is_empty())
    {
        q.push(label.len() as u8);
        q.extend_from_slice(label.as_bytes());
    }
    q.push(0);
    q.extend_from_slice(&[0, 6, 0, 1]); // SOA, IN
    q
}

/// Sends a SOA query for `zone` over UDP and reports whether an answer with the same id
/// came back within `wait` (any rcode counts: the server is up).
pub fn dns_probe(server: SocketAddr, zone: &str, wait: Duration) -> bool {
    let Ok(sock) = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)) else {
        return false;
    };
    let _ = sock.set_read_timeout(Some(wait));
    let id: u16 = 0x5ac0 ^ (std::process::id() as u16);
    if sock.send_to(&soa_query(id, zone), server).is_err() {
        return false;
    }
    let mut buf = [0u8; 1500];
    matches!(sock.recv_from(&mut buf), Ok((n, _)) if n >= 12 && buf[..2] == id.to_be_bytes())
}

/// The rcode and answer count of a SOA query for `zone`, or `None` without an answer.
pub fn dns_soa(server: SocketAddr, zone: &str) -> Option<(u8, u16)> {
    let sock = UdpSocket::bind((Ipv4Addr::LOCALHOST, 0)).ok()?;
    sock.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let id: u16 = 0x1234;
    sock.send_to(&soa_query(id, zone), server).ok()?;
    let mut buf = [0u8; 1500];
    let (n, _) = sock.recv_from(&mut buf).ok()?;
    if n < 12 || buf[..2] != id.to_be_bytes() {
        return None;
    }
    Some((buf[3] & 0x0f, u16::from_be_bytes([buf[6], buf[7]])))
}

/// A plain HTTP/1.1 GET on loopback; returns the status code and body.
pub fn http_get(addr: SocketAddr, path: &str, headers: &[(&str, &str)]) -> Option<(u16, String)> {
    let mut s = TcpStream::connect_timeout(&addr, Duration::from_millis(200)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
    let mut req = format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        req.push_str(&format!("{k}: {v}\r\n"));
    }
    req.push_str("\r\n");
    s.write_all(req.as_bytes()).ok()?;
    let mut resp = String::new();
    s.read_to_string(&mut resp).ok()?;
    let status = resp.split_whitespace().nth(1)?.parse().ok()?;
    let body = resp.split_once("\r\n\r\n").map(|(_, b)| b.to_owned())?;
    Some((status, body))
}

/// Whether a TCP connection to `addr` succeeds.
pub fn tcp_open(addr: SocketAddr) -> bool {
    TcpStream::connect_timeout(&addr, Duration::from_millis(200)).is_ok()
}

/// 32 hex characters from the OS's random source, with a time-based fallback.
pub fn random_token() -> String {
    let mut bytes = [0u8; 16];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !filled {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = (n ^ u128::from(std::process::id())).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
