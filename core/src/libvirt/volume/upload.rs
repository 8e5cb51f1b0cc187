//! Filling a volume from a local file or an HTTP(S) URL over a libvirt stream, sparse:
//! data goes as data, zero ranges go as holes (`virStreamSendHole`), so a 1 GiB image
//! holding 100 MiB of data sends about 100 MiB.
//!
//! Zero ranges are found two ways: the file's own holes (`SEEK_DATA`/`SEEK_HOLE`, no
//! read at all), and chunks of data that are all zeros (written-out zeros, and every
//! zero range of a download, which has no holes). Data goes in chunks of
//! [`CHUNK`] bytes (the last chunk before a hole, and the last of the content, may be
//! shorter).
//!
//! The pieces are pure where they can be: [`SparseWriter`] turns data and holes into
//! messages for any [`Sink`], [`for_each_extent`] walks a file's extents, [`Sha256Sink`]
//! hashes what passes through. The libvirt sink lives in `volume.rs`.

use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use super::spec::VolumeFormat;

/// Bytes per data message and per zero check: large enough that per-message costs
/// (a libvirt RPC each) vanish next to the copying, small enough to keep memory flat.
pub const CHUNK: usize = 1 << 20;

/// How many chunks a download may have in flight between the HTTP reader and the
/// libvirt stream: a little slack so neither side waits on every chunk.
pub(crate) const DOWNLOAD_QUEUE: usize = 4;

/// The first bytes of a qcow2 image (`QFI\xfb`).
const QCOW2_MAGIC: &[u8; 4] = b"QFI\xfb";

/// What an upload sent.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UploadReport {
    /// Length of the content, in bytes (data and holes).
    pub length: u64,
    /// Data bytes sent.
    pub data_bytes: u64,
    /// Data messages sent.
    pub data_messages: u64,
    /// Bytes sent as holes.
    pub hole_bytes: u64,
    /// Hole messages sent.
    pub hole_messages: u64,
    /// The content's SHA-256, lowercase hex.
    pub sha256: String,
    /// Time spent streaming.
    pub elapsed: std::time::Duration,
}

impl fmt::Display for UploadReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} bytes: {} data bytes in {} messages, {} hole bytes in {} messages, {:?}",
            self.length,
            self.data_bytes,
            self.data_messages,
            self.hole_bytes,
            self.hole_messages,
            self.elapsed
        )
    }
}

/// Why a volume's content could not be read, checked or sent.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum UploadError {
    /// The local file cannot be opened or read.
    #[error(
        "Cannot read source file {path:?}; check that it exists on the machine running Terraform and is readable"
    )]
    File {
        /// The file.
        path: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The file changed between its check and its upload.
    #[error("Source file {0:?} changed while it was uploaded; retry once nothing writes to it")]
    Changed(PathBuf),
    /// The HTTP request failed.
    #[error(
        "Cannot download {url}; check the URL and that its server is reachable from the machine running Terraform"
    )]
    Download {
        /// The URL.
        url: String,
        /// Why.
        #[source]
        source: reqwest::Error,
    },
    /// The HTTP server answered with an error status.
    #[error("Downloading {url} failed with HTTP status {status}; check the URL")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: u16,
    },
    /// The content's checksum is not the one configured.
    #[error(
        "The SHA-256 of {source_name} is {actual}, but sha256 is set to {expected}; check that the source is the image you meant, or correct sha256"
    )]
    Checksum {
        /// The file or URL.
        source_name: String,
        /// What the configuration says.
        expected: String,
        /// What the content hashes to.
        actual: String,
    },
    /// The content is not in the declared format.
    #[error(
        "{source_name} holds a {found} image, but format is {declared}; set format = \"{found}\""
    )]
    Format {
        /// The file or URL.
        source_name: String,
        /// What the configuration says.
        declared: VolumeFormat,
        /// What the content is.
        found: VolumeFormat,
    },
    /// The image names a backing file, which would be read on the hypervisor.
    #[error(
        "The image from {source_name} refers to a backing file ({backing}); upload a self-contained image (`qemu-img convert -O qcow2`), or use base_volume"
    )]
    Backing {
        /// The file or URL.
        source_name: String,
        /// The backing file it names.
        backing: String,
    },
    /// The image's size is larger than the configured size.
    #[error(
        "The image from {source_name} is {image} bytes, larger than size ({wanted} bytes); raise size or leave it unset"
    )]
    TooLarge {
        /// The file or URL.
        source_name: String,
        /// The image's virtual size.
        image: u64,
        /// The configured size.
        wanted: u64,
    },
    /// The download's task ended without a result (it panicked).
    #[error("The download of {0} stopped unexpectedly; this is a bug in rack, please report it")]
    Interrupted(String),
}

/// Where data and holes go.
pub(crate) trait Sink {
    /// The error of the sink.
    type Error;
    /// Sends data (never empty).
    fn data(&mut self, buf: &[u8]) -> Result<(), Self::Error>;
    /// Sends a hole of `len` bytes (never 0).
    fn hole(&mut self, len: u64) -> Result<(), Self::Error>;
}

/// Turns a sequence of data and holes into [`CHUNK`]-sized data messages and merged
/// holes, sending all-zero chunks as holes.
pub(crate) struct SparseWriter<S> {
    sink: S,
    buf: Vec<u8>,
    pending_hole: u64,
    report: UploadReport,
}

impl<S: Sink> SparseWriter<S> {
    pub(crate) fn new(sink: S) -> Self {
        Self {
            sink,
            buf: Vec::with_capacity(CHUNK),
            pending_hole: 0,
            report: UploadReport::default(),
        }
    }

    /// Adds data.
    pub(crate) fn data(&mut self, mut bytes: &[u8]) -> Result<(), S::Error> {
        self.report.length += bytes.len() as u64;
        while !bytes.is_empty() {
            let room = CHUNK - self.buf.len();
            let (now, rest) = bytes.split_at(room.min(bytes.len()));
            if self.buf.is_empty() && now.len() == CHUNK {
                // A whole chunk: no copy.
                self.emit(now)?;
            } else {
                self.buf.extend_from_slice(now);
                if self.buf.len() == CHUNK {
                    self.flush_buf()?;
                }
            }
            bytes = rest;
        }
        Ok(())
    }

    /// Adds a hole of `len` zero bytes.
    pub(crate) fn hole(&mut self, len: u64) -> Result<(), S::Error> {
        if len == 0 {
            return Ok(());
        }
        self.report.length += len;
        self.flush_buf()?;
        self.pending_hole += len;
        Ok(())
    }

    /// Sends what is buffered and the trailing hole; returns the sink and the counts.
    pub(crate) fn finish(mut self) -> Result<(S, UploadReport), S::Error> {
        self.flush_buf()?;
        self.flush_hole()?;
        Ok((self.sink, self.report))
    }

    fn flush_buf(&mut self) -> Result<(), S::Error> {
        if self.buf.is_empty() {
            return Ok(());
        }
        let buf = std::mem::take(&mut self.buf);
        let result = self.emit(&buf);
        self.buf = buf;
        self.buf.clear();
        result
    }

    fn emit(&mut self, chunk: &[u8]) -> Result<(), S::Error> {
        if is_zero(chunk) {
            self.pending_hole += chunk.len() as u64;
            return Ok(());
        }
        self.flush_hole()?;
        self.sink.data(chunk)?;
        self.report.data_bytes += chunk.len() as u64;
        self.report.data_messages += 1;
        Ok(())
    }

    fn flush_hole(&mut self) -> Result<(), S::Error> {
        if self.pending_hole > 0 {
            self.sink.hole(self.pending_hole)?;
            self.report.hole_bytes += self.pending_hole;
            self.report.hole_messages += 1;
            self.pending_hole = 0;
        }
        Ok(())
    }
}

/// Whether every byte is zero (16 bytes at a time).
pub(crate) fn is_zero(buf: &[u8]) -> bool {
    let words = buf.chunks_exact(16);
    let tail = words.remainder();
    tail.iter().all(|b| *b == 0)
        && words
            .map(|w| <[u8; 16]>::try_from(w).map_or(1, u128::from_ne_bytes))
            .all(|w| w == 0)
}

/// A piece of a file: data to read, or a hole that reads as zeros.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Extent {
    /// Bytes `start..end` hold data.
    Data { start: u64, end: u64 },
    /// Bytes `start..end` are a hole.
    Hole { start: u64, end: u64 },
}

/// The extent of `file` starting at `pos` (before `len`), by `SEEK_DATA`/`SEEK_HOLE`.
/// On filesystems without them the rest of the file is data.
fn extent_at(file: &File, pos: u64, len: u64) -> io::Result<Extent> {
    use rustix::fs::{SeekFrom, seek};
    use rustix::io::Errno;
    match seek(file, SeekFrom::Data(pos)) {
        Ok(data) if data > pos => Ok(Extent::Hole {
            start: pos,
            end: data.min(len),
        }),
        Ok(_) => {
            let hole = seek(file, SeekFrom::Hole(pos)).map_err(io::Error::from)?;
            Ok(Extent::Data {
                start: pos,
                end: hole.clamp(pos + 1, len),
            })
        }
        Err(Errno::NXIO) => Ok(Extent::Hole {
            start: pos,
            end: len,
        }),
        Err(Errno::INVAL | Errno::OPNOTSUPP) => Ok(Extent::Data {
            start: pos,
            end: len,
        }),
        Err(e) => Err(e.into()),
    }
}

/// Calls `f` with each extent of the first `len` bytes of `file`, in order.
pub(crate) fn for_each_extent<E: From<io::Error>>(
    file: &File,
    len: u64,
    mut f: impl FnMut(Extent) -> Result<(), E>,
) -> Result<(), E> {
    let mut pos = 0;
    while pos < len {
        let extent = extent_at(file, pos, len)?;
        pos = match extent {
            Extent::Data { end, .. } | Extent::Hole { end, .. } => end,
        };
        f(extent)?;
    }
    Ok(())
}

/// A piece of content, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Piece<'a> {
    /// Bytes.
    Data(&'a [u8]),
    /// This many zero bytes.
    Hole(u64),
}

/// Reads the data extents of the first `len` bytes of `file` in [`CHUNK`]s and passes
/// them on; holes are passed on as holes, unread.
pub(crate) fn read_sparse<E: From<io::Error>>(
    file: &File,
    len: u64,
    mut f: impl FnMut(Piece<'_>) -> Result<(), E>,
) -> Result<(), E> {
    let mut buf = vec![0u8; CHUNK];
    for_each_extent(file, len, |extent| match extent {
        Extent::Hole { start, end } => f(Piece::Hole(end - start)),
        Extent::Data { start, end } => {
            let mut at = start;
            while at < end {
                let want = usize::try_from(end - at).unwrap_or(CHUNK).min(CHUNK);
                let got = file.read_at(&mut buf[..want], at)?;
                if got == 0 {
                    // The file shrank under us.
                    return Err(io::Error::from(io::ErrorKind::UnexpectedEof).into());
                }
                f(Piece::Data(&buf[..got]))?;
                at += got as u64;
            }
            Ok(())
        }
    })
}

/// The SHA-256 of bytes fed as data and holes.
#[derive(Default)]
pub(crate) struct Hasher(Sha256);

impl Hasher {
    pub(crate) fn data(&mut self, bytes: &[u8]) {
        self.0.update(bytes);
    }

    pub(crate) fn zeros(&mut self, mut len: u64) {
        static ZEROS: [u8; 64 * 1024] = [0; 64 * 1024];
        while len > 0 {
            let n = usize::try_from(len).unwrap_or(ZEROS.len()).min(ZEROS.len());
            self.0.update(&ZEROS[..n]);
            len -= n as u64;
        }
    }

    pub(crate) fn hex(self) -> String {
        hex_lower(&self.0.finalize())
    }
}

fn hex_lower(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// The format of an image by its first bytes: qcow2 by its magic, anything else raw.
pub(crate) fn detect_format(head: &[u8]) -> VolumeFormat {
    if head.starts_with(QCOW2_MAGIC) {
        VolumeFormat::Qcow2
    } else {
        VolumeFormat::Raw
    }
}

/// What checking a local file found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CheckedFile {
    /// Its length.
    pub len: u64,
    /// Its format, by its first bytes.
    pub format: VolumeFormat,
    /// Its SHA-256, lowercase hex.
    pub sha256: String,
    /// Its modification time, to notice a change before the upload.
    pub modified: Option<std::time::SystemTime>,
}

/// Reads `path` sparse-aware (holes are hashed, not read) and returns its length,
/// format and SHA-256. Blocking.
pub(crate) fn check_file(path: &Path) -> Result<CheckedFile, UploadError> {
    let file_err = |source| UploadError::File {
        path: path.to_owned(),
        source,
    };
    let file = File::open(path).map_err(file_err)?;
    let meta = file.metadata().map_err(file_err)?;
    if !meta.is_file() {
        return Err(file_err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not a regular file",
        )));
    }
    let len = meta.len();
    let mut head = [0u8; 4];
    let n = file.read_at(&mut head, 0).map_err(file_err)?;
    let mut hasher = Hasher::default();
    read_sparse::<io::Error>(&file, len, |piece| {
        match piece {
            Piece::Data(bytes) => hasher.data(bytes),
            Piece::Hole(len) => hasher.zeros(len),
        }
        Ok(())
    })
    .map_err(file_err)?;
    Ok(CheckedFile {
        len,
        format: detect_format(&head[..n]),
        sha256: hasher.hex(),
        modified: meta.modified().ok(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    /// Records what a writer sends.
    #[derive(Default)]
    struct Recorder(Vec<(bool, u64)>);

    impl Sink for Recorder {
        type Error = std::convert::Infallible;
        fn data(&mut self, buf: &[u8]) -> Result<(), Self::Error> {
            assert!(!buf.is_empty());
            self.0.push((true, buf.len() as u64));
            Ok(())
        }
        fn hole(&mut self, len: u64) -> Result<(), Self::Error> {
            assert!(len > 0);
            self.0.push((false, len));
            Ok(())
        }
    }

    const C: u64 = CHUNK as u64;

    #[test]
    fn chunks_data_and_merges_holes() {
        let mut w = SparseWriter::new(Recorder::default());
        let ones = vec![1u8; CHUNK + 10];
        w.data(&ones[..100]).unwrap();
        w.data(&ones).unwrap();
        w.hole(5).unwrap();
        w.hole(7).unwrap();
        w.data(&vec![0u8; CHUNK]).unwrap(); // all zeros: joins the hole
        w.data(&ones[..3]).unwrap();
        w.hole(9).unwrap();
        let (sink, report) = w.finish().unwrap();
        assert_eq!(
            sink.0,
            vec![
                (true, C),
                (true, 110),
                (false, 12 + C),
                (true, 3),
                (false, 9)
            ]
        );
        assert_eq!(report.length, 100 + C + 10 + 12 + C + 3 + 9);
        assert_eq!(report.data_bytes, C + 113);
        assert_eq!(report.data_messages, 3);
        assert_eq!(report.hole_bytes, C + 21);
        assert_eq!(report.hole_messages, 2);
    }

    #[test]
    fn a_zero_chunk_inside_data_is_a_hole() {
        let mut w = SparseWriter::new(Recorder::default());
        let mut bytes = vec![7u8; 3 * CHUNK];
        bytes[CHUNK..2 * CHUNK].fill(0);
        w.data(&bytes).unwrap();
        let (sink, _) = w.finish().unwrap();
        assert_eq!(sink.0, vec![(true, C), (false, C), (true, C)]);
    }

    #[test]
    fn zero_check() {
        assert!(is_zero(&[]));
        assert!(is_zero(&[0; 33]));
        let mut b = [0u8; 33];
        b[32] = 1;
        assert!(!is_zero(&b));
        b[32] = 0;
        b[5] = 1;
        assert!(!is_zero(&b));
    }

    #[test]
    fn formats_by_magic() {
        assert_eq!(detect_format(b"QFI\xfb\0\0\0\x03"), VolumeFormat::Qcow2);
        assert_eq!(detect_format(b"\xeb\x63\x90"), VolumeFormat::Raw);
        assert_eq!(detect_format(b""), VolumeFormat::Raw);
    }

    #[test]
    fn sparse_file_extents_hash_and_stream() {
        let dir = std::env::temp_dir().join(format!("rack-upload-unit-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("sparse.img");
        let mut f = File::create(&path).unwrap();
        // 8 MiB: data at 0 (3 MiB + 5), a hole, data at 6 MiB (1 MiB), a trailing hole.
        f.set_len(8 * C).unwrap();
        f.write_all(&vec![0xab; 3 * CHUNK + 5]).unwrap();
        f.write_all_at(&vec![0xcd; CHUNK], 6 * C).unwrap();
        f.sync_all().unwrap();
        drop(f);

        let checked = check_file(&path).unwrap();
        let mut expected = vec![0u8; 8 * CHUNK];
        expected[..3 * CHUNK + 5].fill(0xab);
        expected[6 * CHUNK..7 * CHUNK].fill(0xcd);
        assert_eq!(checked.sha256, hex_lower(&Sha256::digest(&expected)));
        assert_eq!(checked.len, 8 * C);
        assert_eq!(checked.format, VolumeFormat::Raw);

        let file = File::open(&path).unwrap();
        let mut w = SparseWriter::new(Recorder::default());
        let mut holes_seen = 0;
        read_sparse::<io::Error>(&file, 8 * C, |piece| {
            match piece {
                Piece::Data(b) => w.data(b).unwrap(),
                Piece::Hole(h) => {
                    holes_seen += 1;
                    w.hole(h).unwrap();
                }
            }
            Ok(())
        })
        .unwrap();
        let (sink, report) = w.finish().unwrap();
        assert_eq!(report.length, 8 * C);
        // The filesystem may round the first extent up to a block; whatever it
        // reports, the data sent is at most the data written rounded to blocks, and
        // the content is all there.
        assert!(holes_seen >= 1, "tmpfs/ext4 report holes");
        assert!(report.data_bytes <= 4 * C + 4096 * 2, "{report}");
        assert!(report.data_bytes >= 4 * C + 5, "{report}");
        assert_eq!(
            sink.0.iter().map(|(_, n)| n).sum::<u64>(),
            8 * C,
            "{:?}",
            sink.0
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
