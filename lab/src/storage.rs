//! Helpers for the storage tests: `qemu-img` on images, a loopback HTTP server serving
//! files, and a loop device for LVM (detached, with any volume group on it removed, on
//! drop).

use crate::process::{self, FixtureError, TempDir, err};
use std::io::{Read, Write};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;

/// `qemu-img`, or an error naming its package.
pub fn qemu_img() -> Result<PathBuf, FixtureError> {
    process::find_binary("qemu-img", "qemu-utils")
}

/// Runs `qemu-img args...` and returns its standard output.
pub fn qemu_img_run(args: &[&str]) -> Result<String, FixtureError> {
    let mut cmd = Command::new(qemu_img()?);
    cmd.args(args);
    process::run(cmd, "qemu-img")
}

/// `qemu-img info --output=json` of an image (with `-U`: readable while in use).
pub fn qemu_img_info(path: &Path) -> Result<String, FixtureError> {
    let p = path.to_string_lossy();
    qemu_img_run(&["info", "-U", "--output=json", &p])
}

/// Writes `len` bytes of `byte` at `offset` into a qcow2 (or raw) image with `qemu-io`.
pub fn qemu_io_write(
    path: &Path,
    format: &str,
    byte: u8,
    offset: u64,
    len: u64,
) -> Result<(), FixtureError> {
    let qemu_io = process::find_binary("qemu-io", "qemu-utils")?;
    let mut cmd = Command::new(qemu_io);
    cmd.args(["-f", format, "-c"])
        .arg(format!("write -P {byte} {offset} {len}"))
        .arg(path);
    process::run(cmd, "qemu-io").map(|_| ())
}

/// A value of `qemu-img info --output=json`: the number or string after `"key": `.
pub fn json_field(json: &str, key: &str) -> Option<String> {
    let at = json.find(&format!("\"{key}\":"))? + key.len() + 3;
    let rest = json[at..].trim_start();
    if let Some(s) = rest.strip_prefix('"') {
        return s.split('"').next().map(str::to_owned);
    }
    let end = rest.find([',', '\n', '}']).unwrap_or(rest.len());
    Some(rest[..end].trim().to_owned())
}

/// Blocks allocated to a file, in bytes (`st_blocks * 512`).
pub fn allocated(path: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    std::fs::metadata(path)
        .map(|m| m.blocks() * 512)
        .unwrap_or(0)
}

/// A plain HTTP/1.1 server on 127.0.0.1 serving the files of a directory (`GET /name`),
/// one connection at a time, each closed after its answer. Stopped on drop.
#[derive(Debug)]
pub struct FileServer {
    /// Where it listens.
    pub addr: SocketAddr,
    stop: Arc<AtomicBool>,
    /// Body bytes sent so far.
    pub sent: Arc<AtomicU64>,
    thread: Option<JoinHandle<()>>,
}

impl FileServer {
    /// Serves `dir`.
    pub fn start(dir: &Path) -> Result<Self, FixtureError> {
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))
            .map_err(|e| err(format!("cannot bind 127.0.0.1: {e}")))?;
        let addr = listener
            .local_addr()
            .map_err(|e| err(format!("local_addr: {e}")))?;
        let stop = Arc::new(AtomicBool::new(false));
        let sent = Arc::new(AtomicU64::new(0));
        let dir = dir.to_owned();
        let (stop2, sent2) = (stop.clone(), sent.clone());
        let thread = std::thread::spawn(move || {
            for conn in listener.incoming() {
                if stop2.load(Ordering::SeqCst) {
                    return;
                }
                if let Ok(conn) = conn {
                    let _ = serve(conn, &dir, &sent2);
                }
            }
        });
        Ok(Self {
            addr,
            stop,
            sent,
            thread: Some(thread),
        })
    }

    /// The URL of file `name`.
    pub fn url(&self, name: &str) -> String {
        format!("http://{}/{name}", self.addr)
    }
}

fn serve(mut conn: TcpStream, dir: &Path, sent: &AtomicU64) -> std::io::Result<()> {
    let mut request = Vec::new();
    let mut buf = [0u8; 1024];
    while !request.windows(4).any(|w| w == b"\r\n\r\n") {
        let n = conn.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        request.extend_from_slice(&buf[..n]);
    }
    let request = String::from_utf8_lossy(&request);
    let path = request
        .split_whitespace()
        .nth(1)
        .unwrap_or("/")
        .trim_start_matches('/')
        .to_owned();
    let file = (!path.contains('/') && !path.is_empty())
        .then(|| std::fs::File::open(dir.join(&path)).ok())
        .flatten();
    let Some(mut file) = file else {
        return conn.write_all(
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let len = file.metadata()?.len();
    conn.write_all(
        format!("HTTP/1.1 200 OK\r\nContent-Length: {len}\r\nConnection: close\r\n\r\n").as_bytes(),
    )?;
    let mut chunk = vec![0u8; 256 * 1024];
    loop {
        let n = file.read(&mut chunk)?;
        if n == 0 {
            return Ok(());
        }
        conn.write_all(&chunk[..n])?;
        sent.fetch_add(n as u64, Ordering::Relaxed);
    }
}

impl Drop for FileServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(self.addr);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A loop device on a sparse file, for LVM. On drop: the volume group named at
/// [`LoopDevice::volume_group`] is removed if it still exists, the device's PV label
/// wiped, the device detached.
#[derive(Debug)]
pub struct LoopDevice {
    /// The device (`/dev/loopN`).
    pub device: String,
    /// A volume group to remove on drop, if the test left it behind.
    pub volume_group: Option<String>,
    _dir: TempDir,
    losetup: PathBuf,
    vgremove: PathBuf,
    pvremove: PathBuf,
}

impl LoopDevice {
    /// Attaches a new sparse file of `size` bytes.
    pub fn new(size: u64) -> Result<Self, FixtureError> {
        let losetup = process::find_binary("losetup", "mount")?;
        process::find_binary("vgcreate", "lvm2")?;
        let vgremove = process::find_binary("vgremove", "lvm2")?;
        let pvremove = process::find_binary("pvremove", "lvm2")?;
        let dir = TempDir::new("rack-loop")?;
        let file = dir.path().join("disk.img");
        std::fs::File::create(&file)
            .and_then(|f| f.set_len(size))
            .map_err(|e| err(format!("cannot create {}: {e}", file.display())))?;
        let mut cmd = Command::new(&losetup);
        cmd.args(["-f", "--show"]).arg(&file);
        let device = process::run(cmd, "losetup -f --show")?.trim().to_owned();
        if !device.starts_with("/dev/loop") {
            return Err(err(format!("losetup answered {device:?}")));
        }
        Ok(Self {
            device,
            volume_group: None,
            _dir: dir,
            losetup,
            vgremove,
            pvremove,
        })
    }
}

impl Drop for LoopDevice {
    fn drop(&mut self) {
        if let Some(vg) = &self.volume_group {
            let _ = Command::new(&self.vgremove).args(["-f", "-y", vg]).output();
        }
        let _ = Command::new(&self.pvremove)
            .args(["-f", "-y", &self.device])
            .output();
        let _ = Command::new(&self.losetup)
            .args(["-d", &self.device])
            .output();
    }
}
