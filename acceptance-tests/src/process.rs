//! Running a command with a deadline and keeping everything it printed.

use std::fmt;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::OnceLock;
use std::thread;
use std::time::{Duration, Instant};

/// The path `find` gives on the first call in this process, kept in `cell` for later
/// calls; panics with the whole error chain when it fails (so the calling test fails,
/// never skips), on that call and every later one.
#[track_caller]
pub(crate) fn path_once(
    cell: &'static OnceLock<Result<PathBuf, String>>,
    find: impl FnOnce() -> anyhow::Result<PathBuf>,
) -> &'static Path {
    match cell.get_or_init(|| find().map_err(|e| format!("{e:#}"))) {
        Ok(path) => path,
        Err(message) => panic!("{message}"),
    }
}

/// How often a running command is polled for its exit.
const POLL: Duration = Duration::from_millis(20);

/// A finished (or killed) command: what ran, where, how it ended and what it printed.
#[derive(Debug, Clone)]
pub struct CmdResult {
    /// Program and arguments, for messages.
    pub command: Vec<String>,
    /// Working directory the command ran in.
    pub dir: PathBuf,
    /// Exit code; `None` when killed by a signal or by the deadline.
    pub code: Option<i32>,
    /// True when the deadline passed and the command was killed.
    pub timed_out: bool,
    /// Everything written to stdout.
    pub stdout: String,
    /// Everything written to stderr.
    pub stderr: String,
    /// Wall-clock time the command took.
    pub elapsed: Duration,
}

impl CmdResult {
    /// True when the command exited with code 0.
    pub fn succeeded(&self) -> bool {
        self.code == Some(0)
    }

    /// Returns `self` when the command exited 0; panics with the whole record otherwise.
    #[track_caller]
    pub fn success(self) -> Self {
        if !self.succeeded() {
            panic!("command failed\n{self}");
        }
        self
    }

    /// Returns `self` when the command ran to an exit code other than 0; panics when it
    /// succeeded, timed out or was killed.
    #[track_caller]
    pub fn failure(self) -> Self {
        match self.code {
            Some(0) => panic!("command succeeded but was expected to fail\n{self}"),
            None => panic!("command did not exit on its own\n{self}"),
            Some(_) => self,
        }
    }

    /// Stdout followed by stderr, for searching messages wherever Terraform put them.
    pub fn combined(&self) -> String {
        format!("{}{}", self.stdout, self.stderr)
    }
}

impl fmt::Display for CmdResult {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let status = match (self.code, self.timed_out) {
            (_, true) => "killed after the deadline".to_string(),
            (Some(code), false) => format!("exit code {code}"),
            (None, false) => "killed by a signal".to_string(),
        };
        writeln!(f, "  command: {}", self.command.join(" "))?;
        writeln!(f, "  in:      {}", self.dir.display())?;
        writeln!(f, "  status:  {status} after {:.1?}", self.elapsed)?;
        writeln!(f, "----- stdout -----\n{}", self.stdout.trim_end())?;
        write!(f, "----- stderr -----\n{}", self.stderr.trim_end())
    }
}

/// Runs `cmd` with stdin closed, collecting stdout and stderr, and kills it (that process
/// only) if it is still running after `timeout`. Only an error starting the program is an
/// `Err`; how the program ended is in the result.
pub fn run(mut cmd: Command, timeout: Duration) -> std::io::Result<CmdResult> {
    let command = std::iter::once(cmd.get_program())
        .chain(cmd.get_args())
        .map(|s| s.to_string_lossy().into_owned())
        .collect();
    let dir = cmd
        .get_current_dir()
        .map(PathBuf::from)
        .or_else(|| std::env::current_dir().ok())
        .unwrap_or_default();
    let start = Instant::now();
    let mut child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let (code, timed_out) = wait(&mut child, timeout)?;
    Ok(CmdResult {
        command,
        dir,
        code,
        timed_out,
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
        elapsed: start.elapsed(),
    })
}

fn drain<R: Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut bytes = Vec::new();
        if let Some(mut pipe) = pipe {
            // A read error ends the capture; what was read so far is still reported.
            let _ = pipe.read_to_end(&mut bytes);
        }
        String::from_utf8_lossy(&bytes).into_owned()
    })
}

fn wait(child: &mut Child, timeout: Duration) -> std::io::Result<(Option<i32>, bool)> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok((status.code(), false));
        }
        if Instant::now() >= deadline {
            // The child may have exited between the poll and the kill; either way reap it.
            let _ = child.kill();
            child.wait()?;
            return Ok((None, true));
        }
        thread::sleep(POLL);
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn captures_output_and_code() {
        let mut cmd = Command::new("sh");
        cmd.args(["-c", "echo out; echo err >&2; exit 3"]);
        let r = run(cmd, Duration::from_secs(10)).unwrap();
        assert_eq!(r.code, Some(3));
        assert_eq!(r.stdout, "out\n");
        assert_eq!(r.stderr, "err\n");
        assert!(!r.timed_out);
        assert!(r.to_string().contains("exit code 3"));
    }

    #[test]
    fn kills_after_the_deadline() {
        let mut cmd = Command::new("sleep");
        cmd.arg("30");
        let r = run(cmd, Duration::from_millis(200)).unwrap();
        assert!(r.timed_out);
        assert_eq!(r.code, None);
        assert!(r.elapsed < Duration::from_secs(10));
    }
}
