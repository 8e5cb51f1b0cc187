//! Filling a new volume from its source: an upload from a local file or a download
//! streamed into libvirt, checked against its SHA-256 sum.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use virt::stream::Stream;
use virt::sys;

use super::ops::{
    lookup_volume, not_found, pool_kind, qualified, read_volume, refresh_pool_storage, spec_error,
    volume_error,
};
use super::spec::{
    SourceLocation, UploadSource, VolumeContent, VolumeFormat, VolumeSpec, VolumeSpecError,
};
use super::stream_hole::send_hole;
use super::upload::{
    self, DOWNLOAD_QUEUE, Hasher, Piece, Sink, SparseWriter, UploadError, UploadReport,
};
use super::xml::VolumeState;
use crate::libvirt::connection::Hypervisor;
use crate::libvirt::error::{LibvirtError, ObjectKind};
use crate::libvirt::pool::{PoolKind, require_pool};

/// libvirt's sink for a [`SparseWriter`]: data with `virStreamSend` (which may take
/// less than offered), holes with `virStreamSendHole`.
struct StreamSink<'a> {
    stream: &'a Stream,
}

impl Sink for StreamSink<'_> {
    type Error = virt::error::Error;

    fn data(&mut self, mut buf: &[u8]) -> Result<(), Self::Error> {
        while !buf.is_empty() {
            let sent = self.stream.send(buf)?;
            let sent = usize::try_from(sent).unwrap_or(0).min(buf.len());
            if sent == 0 {
                return Err(virt::error::Error::last_error());
            }
            buf = &buf[sent..];
        }
        Ok(())
    }

    fn hole(&mut self, mut len: u64) -> Result<(), Self::Error> {
        while len > 0 {
            let piece = len.min(i64::MAX as u64);
            send_hole(self.stream, piece as i64)?;
            len -= piece;
        }
        Ok(())
    }
}

/// Why pumping content into a stream stopped.
enum Pump {
    /// libvirt refused.
    Stream(virt::error::Error),
    /// The source failed or did not check out.
    Source(UploadError),
}

impl From<virt::error::Error> for Pump {
    fn from(e: virt::error::Error) -> Self {
        Self::Stream(e)
    }
}

/// What feeds an upload, on the blocking thread.
enum Feed {
    /// A local file, already checked.
    File {
        path: PathBuf,
        checked: upload::CheckedFile,
    },
    /// Chunks from the download task; `None` ends the content, committed only if the
    /// last message said so.
    Download(tokio::sync::mpsc::Receiver<DownloadPiece>),
}

/// One message from the download task.
enum DownloadPiece {
    Data(bytes::Bytes),
    /// The content is complete and checked: finish the stream.
    Commit,
    /// The content failed: abort the stream.
    Abort,
}

/// Streams `feed` into volume `pool/name` over a connection of its own. Blocking.
fn stream_upload(
    hv: &Hypervisor,
    pool_name: &str,
    name: &str,
    feed: Feed,
) -> Result<UploadReport, LibvirtError> {
    let uri = hv.uri().to_owned();
    let conn = hv.open_dedicated()?;
    let action = format!("upload into volume {:?}", qualified(pool_name, name));
    let fail =
        |e: virt::error::Error| crate::libvirt::error::classify(&uri, action.clone(), None, e);
    let pool = conn.lookup_storage_pool_by_name(pool_name).map_err(fail)?;
    let vol = pool.lookup_storage_vol_by_name(name).map_err(fail)?;
    let stream = Stream::new(&conn, 0).map_err(fail)?;
    vol.upload(&stream, 0, 0, sys::VIR_STORAGE_VOL_UPLOAD_SPARSE_STREAM)
        .map_err(fail)?;
    let started = Instant::now();
    let mut writer = SparseWriter::new(StreamSink { stream: &stream });
    let pumped: Result<bool, Pump> = match feed {
        Feed::File { path, checked } => {
            let file_err = |source| {
                Pump::Source(UploadError::File {
                    path: path.clone(),
                    source,
                })
            };
            (|| {
                let file = std::fs::File::open(&path).map_err(file_err)?;
                upload::read_sparse::<PumpIo>(&file, checked.len, |piece| {
                    match piece {
                        Piece::Data(b) => writer.data(b),
                        Piece::Hole(h) => writer.hole(h),
                    }
                    .map_err(PumpIo::Stream)
                })
                .map_err(|e| match e {
                    PumpIo::Io(e) => file_err(e),
                    PumpIo::Stream(e) => Pump::Stream(e),
                })?;
                let meta = file.metadata().map_err(file_err)?;
                if meta.len() != checked.len || meta.modified().ok() != checked.modified {
                    return Err(Pump::Source(UploadError::Changed(path.clone())));
                }
                Ok(true)
            })()
        }
        Feed::Download(mut rx) => (|| {
            while let Some(piece) = rx.blocking_recv() {
                match piece {
                    DownloadPiece::Data(chunk) => writer.data(&chunk)?,
                    DownloadPiece::Commit => return Ok(true),
                    DownloadPiece::Abort => return Ok(false),
                }
            }
            Ok(false)
        })(),
    };
    let outcome = match pumped {
        Ok(true) => writer
            .finish()
            .map_err(Pump::Stream)
            .map(|(_, report)| report),
        Ok(false) => {
            let _ = stream.abort();
            // The download task reports why.
            return Ok(UploadReport::default());
        }
        Err(e) => Err(e),
    };
    match outcome {
        Ok(mut report) => {
            stream.finish().map_err(fail)?;
            report.elapsed = started.elapsed();
            Ok(report)
        }
        Err(e) => {
            let _ = stream.abort();
            match e {
                Pump::Stream(e) => Err(fail(e)),
                Pump::Source(source) => Err(LibvirtError::Upload {
                    pool: pool_name.to_owned(),
                    name: name.to_owned(),
                    source: Arc::new(source),
                }),
            }
        }
    }
}

/// The two ways reading a file for an upload fails.
enum PumpIo {
    Io(std::io::Error),
    Stream(virt::error::Error),
}

impl From<std::io::Error> for PumpIo {
    fn from(e: std::io::Error) -> Self {
        Self::Io(e)
    }
}

/// The HTTP client for downloads (system roots for https).
fn http_client() -> Result<reqwest::Client, reqwest::Error> {
    // reqwest's rustls backend needs a crypto provider even for plain http: the
    // workspace's, ring, unless the process installed one already.
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
    reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(30))
        .build()
}

impl Hypervisor {
    /// Creates the volume with its content, and leaves nothing behind when any step
    /// fails. Idempotent for volumes whose content rack does not write: an empty volume
    /// or an overlay of that name defined as planned (format, capacity, backing store:
    /// what a create that timed out and that libvirtd carried out later leaves) is
    /// adopted. Any other volume (or file) of that name, a copy or an upload included, is
    /// [`LibvirtError::Exists`], and is left alone.
    pub async fn create_volume(&self, spec: &VolumeSpec) -> Result<VolumeState, LibvirtError> {
        self.create_volume_reporting(spec).await.map(|(s, _)| s)
    }

    /// Like [`Hypervisor::create_volume`], also returning what an upload sent.
    pub async fn create_volume_reporting(
        &self,
        spec: &VolumeSpec,
    ) -> Result<(VolumeState, Option<UploadReport>), LibvirtError> {
        spec.validate().map_err(|e| spec_error(spec, e))?;
        match &spec.content {
            VolumeContent::Upload(source) => {
                let (state, report) = self.create_uploaded(spec, source).await?;
                Ok((state, Some(report)))
            }
            _ => Ok((self.create_in_pool(spec, true).await?, None)),
        }
    }

    /// An upload: check a file's sum first, create a raw volume of the content's length,
    /// stream the content into it, let libvirt look at what arrived (a qcow2 image is
    /// then seen as one), check its format, and grow it to the asked capacity.
    async fn create_uploaded(
        &self,
        spec: &VolumeSpec,
        source: &UploadSource,
    ) -> Result<(VolumeState, UploadReport), LibvirtError> {
        let upload_err = |e: UploadError| LibvirtError::Upload {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            source: Arc::new(e),
        };
        let expected = source.sha256.to_ascii_lowercase();
        let source_name = source.location.to_string();

        // 1. The source: a file is checked completely before anything is created.
        let (feed_file, response, length) = match &source.location {
            SourceLocation::File(path) => {
                let p = path.clone();
                let checked = tokio::task::spawn_blocking(move || upload::check_file(&p))
                    .await
                    .map_err(|_| upload_err(UploadError::Interrupted(source_name.clone())))?
                    .map_err(upload_err)?;
                if checked.sha256 != expected {
                    return Err(upload_err(UploadError::Checksum {
                        source_name,
                        expected,
                        actual: checked.sha256,
                    }));
                }
                if checked.format != spec.format {
                    return Err(upload_err(UploadError::Format {
                        source_name,
                        declared: spec.format,
                        found: checked.format,
                    }));
                }
                let len = checked.len;
                (
                    Some(Feed::File {
                        path: path.clone(),
                        checked,
                    }),
                    None,
                    len,
                )
            }
            SourceLocation::Url(url) => {
                let download = |e| {
                    upload_err(UploadError::Download {
                        url: url.clone(),
                        source: e,
                    })
                };
                let client = http_client().map_err(download)?;
                let response = client.get(url).send().await.map_err(download)?;
                if !response.status().is_success() {
                    return Err(upload_err(UploadError::Status {
                        url: url.clone(),
                        status: response.status().as_u16(),
                    }));
                }
                let len = response.content_length().unwrap_or(0);
                (None, Some(response), len)
            }
        };

        // 2. A raw volume to stream into: libvirt writes what arrives, and its look at
        // the file afterwards tells the format.
        let raw = VolumeSpec {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            format: VolumeFormat::Raw,
            capacity: Some(length.max(1)),
            content: VolumeContent::Empty,
        };
        if spec.format == VolumeFormat::Qcow2
            && let Some(PoolKind::Logical { .. }) = self
                .pool(&spec.pool)
                .await?
                .and_then(|p| p.spec.ok())
                .map(|s| s.kind)
        {
            return Err(spec_error(
                spec,
                VolumeSpecError::NotForPool {
                    pool: spec.pool.clone(),
                    kind: "logical",
                    what: "qcow2 volumes",
                },
            ));
        }
        // Never adopted: the upload would write over a volume rack may not own.
        self.create_in_pool(&raw, false).await?;

        // 3. Stream.
        let streamed = match (feed_file, response) {
            (Some(feed), _) => {
                let hv = self.clone();
                let (pool, name) = (spec.pool.clone(), spec.name.clone());
                tokio::task::spawn_blocking(move || stream_upload(&hv, &pool, &name, feed))
                    .await
                    .unwrap_or_else(|_| {
                        Err(upload_err(UploadError::Interrupted(source_name.clone())))
                    })
            }
            (None, Some(response)) => {
                self.stream_download(spec, response, &expected, &source_name)
                    .await
            }
            (None, None) => Err(upload_err(UploadError::Interrupted(source_name.clone()))),
        };
        let report = match streamed {
            Ok(mut report) => {
                // A file's sum was checked before; a download's while it streamed.
                report.sha256 = expected.clone();
                report
            }
            Err(e) => {
                let _ = self.delete_volume(&spec.pool, &spec.name).await;
                return Err(e);
            }
        };

        // 4. What arrived.
        match self.finish_upload(spec, &source_name).await {
            Ok(state) => Ok((state, report)),
            Err(e) => {
                let _ = self.delete_volume(&spec.pool, &spec.name).await;
                Err(e)
            }
        }
    }

    /// Streams a download: chunks go to the blocking uploader as they arrive, the sum is
    /// computed on the way, and the stream is finished only if it matches.
    async fn stream_download(
        &self,
        spec: &VolumeSpec,
        mut response: reqwest::Response,
        expected: &str,
        source_name: &str,
    ) -> Result<UploadReport, LibvirtError> {
        let upload_err = |e: UploadError| LibvirtError::Upload {
            pool: spec.pool.clone(),
            name: spec.name.clone(),
            source: Arc::new(e),
        };
        let (tx, rx) = tokio::sync::mpsc::channel(DOWNLOAD_QUEUE);
        let hv = self.clone();
        let (pool, name) = (spec.pool.clone(), spec.name.clone());
        let uploader = tokio::task::spawn_blocking(move || {
            stream_upload(&hv, &pool, &name, Feed::Download(rx))
        });
        let mut hasher = Hasher::default();
        let mut head: Vec<u8> = Vec::new();
        let url = match &spec.content {
            VolumeContent::Upload(UploadSource {
                location: SourceLocation::Url(u),
                ..
            }) => u.clone(),
            _ => source_name.to_owned(),
        };
        // Ok(true): complete and checked; Ok(false): the uploader stopped first (it
        // says why).
        let downloaded: Result<bool, UploadError> = async {
            loop {
                let chunk = response.chunk().await.map_err(|e| UploadError::Download {
                    url: url.clone(),
                    source: e,
                })?;
                let Some(chunk) = chunk else { break };
                if head.len() < 4 {
                    head.extend(chunk.iter().take(4 - head.len()));
                    let found = upload::detect_format(&head);
                    if head.len() == 4 && found != spec.format {
                        return Err(UploadError::Format {
                            source_name: source_name.to_owned(),
                            declared: spec.format,
                            found,
                        });
                    }
                }
                hasher.data(&chunk);
                if tx.send(DownloadPiece::Data(chunk)).await.is_err() {
                    return Ok(false);
                }
            }
            let actual = std::mem::take(&mut hasher).hex();
            if actual != expected {
                return Err(UploadError::Checksum {
                    source_name: source_name.to_owned(),
                    expected: expected.to_owned(),
                    actual,
                });
            }
            Ok(true)
        }
        .await;
        let last = if matches!(downloaded, Ok(true)) {
            DownloadPiece::Commit
        } else {
            DownloadPiece::Abort
        };
        let _ = tx.send(last).await;
        drop(tx);
        let uploaded = uploader
            .await
            .unwrap_or_else(|_| Err(upload_err(UploadError::Interrupted(url.clone()))));
        match (downloaded, uploaded) {
            (Err(e), _) => Err(upload_err(e)),
            (Ok(_), Err(e)) => Err(e),
            (Ok(true), Ok(report)) => Ok(report),
            (Ok(false), Ok(_)) => Err(upload_err(UploadError::Interrupted(url))),
        }
    }

    /// After an upload: libvirt looks at the file again; the format must be the one
    /// declared, the image self-contained, and no larger than the asked capacity, which
    /// it is grown to.
    async fn finish_upload(
        &self,
        spec: &VolumeSpec,
        source_name: &str,
    ) -> Result<VolumeState, LibvirtError> {
        let spec = spec.clone();
        let source_name = source_name.to_owned();
        let cache = self.volume_cache(&spec.pool);
        let label = qualified(&spec.pool, &spec.name);
        self.call(format!("check uploaded volume {label:?}"), move |link| {
            let (pool_name, name) = (spec.pool.as_str(), spec.name.as_str());
            let upload_err = |e: UploadError| LibvirtError::Upload {
                pool: pool_name.to_owned(),
                name: name.to_owned(),
                source: Arc::new(e),
            };
            let pool = require_pool(link, pool_name)?;
            refresh_pool_storage(&pool);
            let vol = lookup_volume(link, &pool, pool_name, name)?
                .ok_or_else(|| not_found(link, ObjectKind::Volume, label.clone()))?;
            let mut state = read_volume(link, pool_name, &vol)?;
            let found = state.format.as_deref().unwrap_or("raw");
            let is_logical = matches!(pool_kind(&pool), Some(PoolKind::Logical { .. }));
            if !is_logical && found != spec.format.as_str() {
                let found = found.parse().unwrap_or(VolumeFormat::Raw);
                return Err(upload_err(UploadError::Format {
                    source_name,
                    declared: spec.format,
                    found,
                }));
            }
            if let Some(backing) = &state.backing {
                return Err(upload_err(UploadError::Backing {
                    source_name,
                    backing: backing.path.clone(),
                }));
            }
            if let Some(wanted) = spec.capacity {
                if wanted < state.capacity {
                    return Err(upload_err(UploadError::TooLarge {
                        source_name,
                        image: state.capacity,
                        wanted,
                    }));
                }
                if wanted > state.capacity {
                    vol.resize(wanted, 0).map_err(|e| {
                        volume_error(link, format!("resize volume {label:?}"), pool_name, name, e)
                    })?;
                    state = read_volume(link, pool_name, &vol)?;
                }
            }
            cache.put(name, state.clone());
            Ok(state)
        })
        .await
    }
}
