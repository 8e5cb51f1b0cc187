//! The storage benchmark, against a real libvirtd (the `rack-lab` fixture) and a
//! dir pool in a temp directory:
//!
//! (a) 20 qcow2 overlays on one base image (`base_volume`) against 20 full copies of it
//!     made by the hypervisor (`clone_of`, libvirt runs `qemu-img convert`): the time to
//!     create all 20 one after the other, and the bytes they take on disk (the blocks
//!     allocated to their files, `st_blocks`, i.e. what was written);
//! (b) the upload of a 1 GiB sparse raw image holding 100 MiB of data: rack's sparse
//!     upload against `virsh vol-upload --sparse` of the same file into the same pool, in
//!     the same round. Bytes sent are counted on the receiving side for both: the growth
//!     of libvirtd's `rchar` (`/proc/PID/io`, every byte its `read` calls returned, RPC
//!     framing and the pool refresh after the upload included). rack's own count of data
//!     bytes and hole messages is reported beside it.
//!
//! The work is driven through rack's core library, not Terraform, so the numbers are
//! the storage mechanism's; Terraform adds its own per-resource cost, measured by the
//! other benchmarks. Rounds alternate the order of overlays and copies, and of rack's
//! and virsh's uploads; a warm-up round (page cache, qemu-img and libvirtd's first use)
//! is not counted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rack_core::libvirt::{
    Hypervisor, PoolSpec, SourceLocation, UploadSource, VolumeContent, VolumeFormat, VolumeSpec,
};

use super::procfs::Machine;
use super::setup::{check_runs, results_head, runtime};
use super::stats::{Row, Summary, Unit, table};
use rack_lab::Libvirt;
use rack_lab::process::TempDir;
use rack_lab::storage::{allocated, qemu_io_write};

/// Rounds when `--runs` is not given: a round creates 40 volumes (5 GiB of copies) and
/// uploads 1 GiB twice, about 30 s on the 2-CPU machines.
pub const DEFAULT_ROUNDS: usize = 3;

/// Volumes of each kind per round (the storage issue's number).
const VOLUMES: usize = 20;

/// The base image's virtual size and how much of it holds data.
const BASE_SIZE: u64 = 1 << 30;
const BASE_DATA: u64 = 256 << 20;

/// The uploaded image's size and its data, spread as 1 MiB blocks over it.
const UPLOAD_SIZE: u64 = 1 << 30;
const UPLOAD_DATA_MIB: u64 = 100;

/// How long one libvirt call may take (a full copy of the base takes about a second).
const CALL_TIMEOUT: Duration = Duration::from_secs(600);

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds.
    pub runs: usize,
}

#[derive(Debug, Default)]
struct Samples {
    overlay_s: Vec<f64>,
    overlay_mib: Vec<f64>,
    copy_s: Vec<f64>,
    copy_mib: Vec<f64>,
    rack_upload_s: Vec<f64>,
    rack_stream_s: Vec<f64>,
    rack_received_mib: Vec<f64>,
    rack_data_mib: Vec<f64>,
    rack_messages: Vec<(u64, u64)>,
    rack_disk_mib: Vec<f64>,
    virsh_upload_s: Vec<f64>,
    virsh_received_mib: Vec<f64>,
    virsh_disk_mib: Vec<f64>,
}

/// libvirtd's process in the fixture's namespace.
fn libvirtd_pid(fixture: &Libvirt) -> anyhow::Result<u32> {
    fixture
        .pids()
        .into_iter()
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|c| c.trim() == "libvirtd")
        })
        .ok_or_else(|| anyhow!("no libvirtd process in the fixture's namespace"))
}

/// `rchar` of a process: bytes its `read` calls returned so far.
fn rchar(pid: u32) -> anyhow::Result<u64> {
    let io = std::fs::read_to_string(format!("/proc/{pid}/io"))
        .with_context(|| format!("Cannot read /proc/{pid}/io"))?;
    io.lines()
        .find_map(|l| l.strip_prefix("rchar:"))
        .and_then(|n| n.trim().parse().ok())
        .ok_or_else(|| anyhow!("no rchar in /proc/{pid}/io"))
}

/// `virsh -q -c URI args...`, which must succeed; its stdout.
pub(super) fn virsh(uri: &str, args: &[&str]) -> anyhow::Result<String> {
    let out = Command::new("virsh")
        .arg("-q")
        .arg("-c")
        .arg(uri)
        .args(args)
        .output()
        .context("Cannot run virsh (Debian package libvirt-clients)")?;
    if !out.status.success() {
        bail!(
            "virsh {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// The 1 GiB sparse image with 100 MiB of (non-zero) data in 1 MiB blocks spread evenly.
fn upload_image(dir: &Path) -> anyhow::Result<PathBuf> {
    use std::os::unix::fs::FileExt;
    let path = dir.join("upload.raw");
    let f = std::fs::File::create(&path).context("Cannot create the upload image")?;
    f.set_len(UPLOAD_SIZE)?;
    let step = UPLOAD_SIZE / UPLOAD_DATA_MIB;
    for i in 0..UPLOAD_DATA_MIB {
        let block: Vec<u8> = (0..1u32 << 20).map(|j| (j as u8) ^ (i as u8) | 1).collect();
        f.write_all_at(&block, i * step)?;
    }
    f.sync_all()?;
    Ok(path)
}

/// `sha256sum` of a file, in hex.
pub(super) fn sha256_hex(path: &Path) -> anyhow::Result<String> {
    let out = Command::new("sha256sum")
        .arg(path)
        .output()
        .context("Cannot run sha256sum (coreutils)")?;
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .map(str::to_owned)
        .ok_or_else(|| anyhow!("sha256sum printed nothing"))
}

struct Bench {
    hv: Hypervisor,
    uri: String,
    pool_dir: PathBuf,
    image: PathBuf,
    image_sum: String,
    libvirtd: u32,
}

impl Bench {
    /// Creates `VOLUMES` volumes with `content` one after the other; returns the time and
    /// the bytes allocated to their files; deletes them again.
    async fn volumes(&self, tag: &str, content: &VolumeContent) -> anyhow::Result<(f64, u64)> {
        let names: Vec<String> = (0..VOLUMES).map(|i| format!("{tag}{i:02}.qcow2")).collect();
        let t = Instant::now();
        for name in &names {
            let spec = VolumeSpec {
                pool: "bench".into(),
                name: name.clone(),
                format: VolumeFormat::Qcow2,
                capacity: None,
                content: content.clone(),
            };
            self.hv.create_volume(&spec).await?;
        }
        let elapsed = t.elapsed().as_secs_f64();
        let bytes = names
            .iter()
            .map(|n| allocated(&self.pool_dir.join(n)))
            .sum();
        for name in &names {
            self.hv.delete_volume("bench", name).await?;
        }
        Ok((elapsed, bytes))
    }

    async fn rack_upload(&self, s: &mut Samples, counted: bool) -> anyhow::Result<()> {
        let spec = VolumeSpec {
            pool: "bench".into(),
            name: "rack.raw".into(),
            format: VolumeFormat::Raw,
            capacity: None,
            content: VolumeContent::Upload(UploadSource {
                location: SourceLocation::File(self.image.clone()),
                sha256: self.image_sum.clone(),
            }),
        };
        let before = rchar(self.libvirtd)?;
        let t = Instant::now();
        let (state, report) = self.hv.create_volume_reporting(&spec).await?;
        let elapsed = t.elapsed().as_secs_f64();
        let received = rchar(self.libvirtd)? - before;
        let report = report.ok_or_else(|| anyhow!("no upload report"))?;
        if state.capacity != UPLOAD_SIZE {
            bail!(
                "rack's upload is {} bytes, not {UPLOAD_SIZE}",
                state.capacity
            );
        }
        let disk = allocated(Path::new(&state.path));
        self.hv.delete_volume("bench", "rack.raw").await?;
        if counted {
            s.rack_upload_s.push(elapsed);
            s.rack_stream_s.push(report.elapsed.as_secs_f64());
            s.rack_received_mib.push(received as f64 / 1048576.0);
            s.rack_data_mib.push(report.data_bytes as f64 / 1048576.0);
            s.rack_messages
                .push((report.data_messages, report.hole_messages));
            s.rack_disk_mib.push(disk as f64 / 1048576.0);
        }
        Ok(())
    }

    fn virsh_upload(&self, s: &mut Samples, counted: bool) -> anyhow::Result<()> {
        virsh(
            &self.uri,
            &[
                "vol-create-as",
                "bench",
                "virsh.raw",
                &UPLOAD_SIZE.to_string(),
                "--format",
                "raw",
                "--allocation",
                "0",
            ],
        )?;
        let image = self.image.to_string_lossy().into_owned();
        let before = rchar(self.libvirtd)?;
        let t = Instant::now();
        virsh(
            &self.uri,
            &[
                "vol-upload",
                "--sparse",
                "--pool",
                "bench",
                "virsh.raw",
                &image,
            ],
        )?;
        let elapsed = t.elapsed().as_secs_f64();
        let received = rchar(self.libvirtd)? - before;
        let disk = allocated(&self.pool_dir.join("virsh.raw"));
        virsh(&self.uri, &["vol-delete", "--pool", "bench", "virsh.raw"])?;
        if counted {
            s.virsh_upload_s.push(elapsed);
            s.virsh_received_mib.push(received as f64 / 1048576.0);
            s.virsh_disk_mib.push(disk as f64 / 1048576.0);
        }
        Ok(())
    }
}

fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("no samples of {what}"))
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    check_runs(opts.runs)?;
    let runtime = runtime()?;
    runtime.block_on(run_async(opts))
}

async fn run_async(opts: &Options) -> anyhow::Result<String> {
    let machine = Machine::read();
    eprintln!("bench: starting libvirtd");
    let fixture = Libvirt::start().map_err(|e| anyhow!("Cannot start libvirtd: {e}"))?;
    let hv = Hypervisor::with_timeout(&fixture.uri, CALL_TIMEOUT)?;
    let (_, version) = hv.ping().await?;
    let dir = TempDir::new("rack-bench-storage").map_err(|e| anyhow!("{e}"))?;
    let pool_dir = dir.path().join("pool");
    let pool_text = pool_dir
        .to_str()
        .ok_or_else(|| anyhow!("temp dir is not UTF-8"))?;
    hv.create_pool(&PoolSpec::dir("bench", pool_text)).await?;

    eprintln!(
        "bench: base image ({} MiB of data), upload image",
        BASE_DATA >> 20
    );
    let base = hv
        .create_volume(&VolumeSpec::empty(
            "bench",
            "base.qcow2",
            VolumeFormat::Qcow2,
            BASE_SIZE,
        ))
        .await?;
    qemu_io_write(Path::new(&base.path), "qcow2", 0x5a, 0, BASE_DATA)
        .map_err(|e| anyhow!("{e}"))?;
    let base_alloc = allocated(Path::new(&base.path));
    let image = upload_image(dir.path())?;
    let image_sum = sha256_hex(&image)?;
    let bench = Bench {
        libvirtd: libvirtd_pid(&fixture)?,
        uri: fixture.uri.clone(),
        hv: hv.clone(),
        pool_dir: pool_dir.clone(),
        image: image.clone(),
        image_sum,
    };

    let mut s = Samples::default();
    let overlay = VolumeContent::Backing("base.qcow2".parse()?);
    let copy = VolumeContent::CloneOf("base.qcow2".parse()?);
    for round in 0..=opts.runs {
        let counted = round > 0;
        eprintln!(
            "bench: round {round}/{}{}",
            opts.runs,
            if counted { "" } else { " (warm-up)" }
        );
        let overlays_first = round % 2 == 0;
        for first in [true, false] {
            let (tag, content) = if first == overlays_first {
                ("overlay", &overlay)
            } else {
                ("copy", &copy)
            };
            let (secs, bytes) = bench.volumes(tag, content).await?;
            eprintln!("bench:   20 × {tag}: {secs:.2} s, {} MiB", bytes >> 20);
            if counted {
                let (t, b) = if tag == "overlay" {
                    (&mut s.overlay_s, &mut s.overlay_mib)
                } else {
                    (&mut s.copy_s, &mut s.copy_mib)
                };
                t.push(secs);
                b.push(bytes as f64 / 1048576.0);
            }
        }
        if overlays_first {
            bench.rack_upload(&mut s, counted).await?;
            bench.virsh_upload(&mut s, counted)?;
        } else {
            bench.virsh_upload(&mut s, counted)?;
            bench.rack_upload(&mut s, counted).await?;
        }
    }
    let load_at_end = Machine::read().loadavg;
    hv.delete_volume("bench", "base.qcow2").await?;
    hv.delete_pool("bench").await?;

    let mut out = results_head(&machine, None, &load_at_end);
    let _ = writeln!(
        out,
        "- libvirt {}.{}.{} (the `rack-lab` fixture: libvirtd under tini in its own \
         namespaces), a dir pool on the root filesystem; rack's core library in a release \
         build, one libvirt connection",
        version / 1_000_000,
        version / 1000 % 1000,
        version % 1000
    );
    let _ = writeln!(
        out,
        "- Base image: qcow2, {} GiB virtual, {} MiB of data ({:.1} MiB allocated); upload \
         image: raw, {} GiB, {UPLOAD_DATA_MIB} MiB of data in 1 MiB blocks spread evenly",
        BASE_SIZE >> 30,
        BASE_DATA >> 20,
        base_alloc as f64 / 1048576.0,
        UPLOAD_SIZE >> 30
    );
    let _ = writeln!(
        out,
        "- Rounds: {} after one warm-up round that is not counted\n",
        opts.runs
    );
    let rows = vec![
        Row {
            what: format!("(a) {VOLUMES} overlays (`base_volume`): time"),
            unit: Unit::S,
            rack: summary(&s.overlay_s, "overlay time")?,
            baseline_what: format!("{VOLUMES} full copies (`clone_of`)"),
            baseline: Summary::of(&s.copy_s),
            target: None,
        },
        Row {
            what: format!("(a) {VOLUMES} overlays: bytes written (allocated)"),
            unit: Unit::MiB,
            rack: summary(&s.overlay_mib, "overlay bytes")?,
            baseline_what: format!("{VOLUMES} full copies"),
            baseline: Summary::of(&s.copy_mib),
            target: None,
        },
        Row {
            what: "(b) upload 1 GiB / 100 MiB data: time (create, SHA-256 check, stream, \
                   refresh)"
                .to_owned(),
            unit: Unit::S,
            rack: summary(&s.rack_upload_s, "rack upload")?,
            baseline_what: "`virsh vol-upload --sparse` (stream only)".to_owned(),
            baseline: Summary::of(&s.virsh_upload_s),
            target: None,
        },
        Row {
            what: "(b) rack: the stream alone".to_owned(),
            unit: Unit::S,
            rack: summary(&s.rack_stream_s, "rack stream")?,
            baseline_what: "`virsh vol-upload --sparse`".to_owned(),
            baseline: Summary::of(&s.virsh_upload_s),
            target: None,
        },
        Row {
            what: "(b) bytes libvirtd received (`rchar` growth)".to_owned(),
            unit: Unit::MiB,
            rack: summary(&s.rack_received_mib, "rack received")?,
            baseline_what: "`virsh vol-upload --sparse`".to_owned(),
            baseline: Summary::of(&s.virsh_received_mib),
            target: None,
        },
        Row {
            what: "(b) uploaded volume on disk (allocated)".to_owned(),
            unit: Unit::MiB,
            rack: summary(&s.rack_disk_mib, "rack disk")?,
            baseline_what: "`virsh vol-upload --sparse`".to_owned(),
            baseline: Summary::of(&s.virsh_disk_mib),
            target: None,
        },
    ];
    out.push_str(&table(&rows));
    let (data_msgs, hole_msgs) = s.rack_messages.first().copied().unwrap_or_default();
    let _ = writeln!(
        out,
        "\nrack's own count per upload: {:.1} MiB of data in {data_msgs} messages, \
         {hole_msgs} hole messages.",
        s.rack_data_mib.first().copied().unwrap_or_default()
    );
    Ok(out)
}
