//! The HTTP side of the aptly client: one `reqwest` client per server, basic auth, the
//! listings read once per process and kept until rack's own writes change them, and the
//! retry of publish requests that aptly refused with 409 while another one ran.

use std::collections::HashMap;
use std::fmt;
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::header::CONTENT_TYPE;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::AptError;
use super::api::{
    self, AddAnswer, NewPublication, Package, Publication, Repo, Signing, Snapshot, Source,
};
use crate::kea::Secret;
use crate::sync::lock;

/// How long one request may take unless configured: publishing signs and writes every
/// index, ~125 ms for a small repository on this project's machines, and seconds for
/// thousands of packages.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How often a publish, switch or drop that aptly refused with 409 (another task held the
/// publication's resources) is sent again, waiting [`CONFLICT_PAUSE`] times the attempt
/// in between: a switch takes tenths of a second, so a few rounds cover a burst.
const CONFLICT_RETRIES: u32 = 12;
/// See [`CONFLICT_RETRIES`].
const CONFLICT_PAUSE: Duration = Duration::from_millis(100);

/// One aptly API server and how to talk to it.
#[derive(Debug, Clone)]
pub struct AptlyConfig {
    /// The API's base URL, e.g. `https://apt.example:8443` (the `/api` paths go below it).
    pub url: String,
    /// User for HTTP basic authentication (aptly has none; a proxy in front gives it).
    pub username: Option<String>,
    /// Password for HTTP basic authentication.
    pub password: Option<Secret>,
    /// PEM certificates of the CA that signed the server's certificate; `None` trusts the
    /// system's CAs.
    pub ca_cert_pem: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

impl AptlyConfig {
    /// `url` without credentials or TLS settings, with the default timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            username: None,
            password: None,
            ca_cert_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// A listing read at most once until rack invalidates it; concurrent first readers share
/// the fetch. A failed fetch is not kept.
type Slot<T> = tokio::sync::Mutex<Option<Arc<T>>>;

async fn cached<T, F, Fut>(slot: &Slot<T>, fetch: F) -> Result<Arc<T>, AptError>
where
    F: FnOnce() -> Fut,
    Fut: Future<Output = Result<T, AptError>>,
{
    let mut held = slot.lock().await;
    if let Some(v) = held.as_ref() {
        return Ok(v.clone());
    }
    let v = Arc::new(fetch().await?);
    *held = Some(v.clone());
    Ok(v)
}

/// Listings kept per repository or snapshot name.
type Slots = Mutex<HashMap<String, Arc<Slot<Vec<Package>>>>>;

/// A .deb waiting to be added to a repository, with the others that arrive while the
/// repository is being written.
struct PendingAdd {
    file_name: String,
    content: Vec<u8>,
    sha256: String,
    done: tokio::sync::oneshot::Sender<Result<Package, AptError>>,
}

/// The next batch of `queue`: every waiting file, except a second file of a name already
/// in the batch (one upload directory holds one file of a name), which waits for the
/// next batch.
fn take_batch(queue: &mut Vec<PendingAdd>) -> Vec<PendingAdd> {
    let mut batch: Vec<PendingAdd> = Vec::new();
    let mut rest = Vec::new();
    for p in queue.drain(..) {
        if batch.iter().any(|b| b.file_name == p.file_name) {
            rest.push(p);
        } else {
            batch.push(p);
        }
    }
    *queue = rest;
    batch
}

fn slot_of(slots: &Slots, name: &str) -> Arc<Slot<Vec<Package>>> {
    lock(slots).entry(name.to_owned()).or_default().clone()
}

struct Inner {
    config: AptlyConfig,
    http: reqwest::Client,
    calls: AtomicU64,
    /// Whether [`AptlyClient::read_ahead`] has started.
    reading_ahead: AtomicBool,
    repos: Slot<Vec<Repo>>,
    snapshots: Slot<Vec<Snapshot>>,
    publications: Slot<Vec<Publication>>,
    repo_packages: Slots,
    snapshot_packages: Slots,
    /// One writer per repository at a time: aptly 1.5 reads a repository's package list,
    /// changes it and writes it back, so two adds at once lose one of them.
    repo_writes: Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>,
    /// Files waiting to be added, per repository: the writer adds all of them at once.
    pending_adds: Mutex<HashMap<String, Vec<PendingAdd>>>,
    /// One publish, switch or unpublish (or snapshot drop, which checks the publications)
    /// at a time: publications share aptly's pool and its list of publications, and an
    /// unpublish beside other drops in aptly 1.5 was seen answering success while the
    /// publication stayed.
    publish_writes: tokio::sync::Mutex<()>,
}

impl Inner {
    fn repo_lock(&self, repo: &str) -> Arc<tokio::sync::Mutex<()>> {
        lock(&self.repo_writes)
            .entry(repo.to_owned())
            .or_default()
            .clone()
    }
}

/// A client for one aptly API server. Cheap to clone: clones share the cached listings
/// and the call counter. Create one per server per process.
#[derive(Clone)]
pub struct AptlyClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for AptlyClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AptlyClient")
            .field("config", &self.inner.config)
            .field("calls_made", &self.calls_made())
            .finish_non_exhaustive()
    }
}

/// Where packages are listed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PackageSource<'a> {
    /// A local repository.
    Repo(&'a str),
    /// A snapshot.
    Snapshot(&'a str),
}

impl PackageSource<'_> {
    fn path(&self) -> String {
        match self {
            Self::Repo(n) => format!("/api/repos/{}/packages", api::segment(n)),
            Self::Snapshot(n) => format!("/api/snapshots/{}/packages", api::segment(n)),
        }
    }
}

impl AptlyClient {
    /// A client for `config`. Sends nothing until used.
    pub fn new(config: AptlyConfig) -> Result<Self, AptError> {
        let url = config.url.trim().trim_end_matches('/').to_owned();
        let https = url.starts_with("https://");
        if !(https || url.starts_with("http://")) || url.len() <= "https://".len() {
            return Err(AptError::InvalidUrl {
                url: config.url.clone(),
            });
        }
        if config.ca_cert_pem.is_some() && !https {
            return Err(AptError::Tls {
                reason: "a CA certificate is set but the URL is not https://".into(),
            });
        }
        let tls = crate::tls::rustls_config(config.ca_cert_pem.as_deref(), None, None)
            .map_err(|reason| AptError::Tls { reason })?;
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| AptError::Tls {
                reason: format!("cannot build the HTTP client ({e})"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config: AptlyConfig { url, ..config },
                http,
                calls: AtomicU64::new(0),
                reading_ahead: AtomicBool::new(false),
                repos: Slot::default(),
                snapshots: Slot::default(),
                publications: Slot::default(),
                repo_packages: Slots::default(),
                snapshot_packages: Slots::default(),
                repo_writes: Mutex::default(),
                pending_adds: Mutex::default(),
                publish_writes: tokio::sync::Mutex::default(),
            }),
        })
    }

    /// The configuration (its URL without a trailing `/`).
    pub fn config(&self) -> &AptlyConfig {
        &self.inner.config
    }

    /// HTTP requests sent so far.
    pub fn calls_made(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// Starts reading the snapshot and publication listings in the background, once per
    /// client, so that the reads that need them later in the same refresh find them
    /// ready. Terraform refreshes a repository, its packages, a snapshot of it and a
    /// publication of that one after the other, in dependency order; without this, each
    /// listing's round trip to aptly would sit on that path. A listing that fails here is
    /// not kept: the read that needs it asks again and reports the error. Outside a
    /// Tokio runtime this does nothing.
    pub fn read_ahead(&self) {
        if self.inner.reading_ahead.swap(true, Ordering::Relaxed) {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let c = self.clone();
        runtime.spawn(async move {
            let _ = c.snapshots().await;
            let _ = c.publications().await;
        });
    }

    /// Starts reading the packages of `repo` in the background (see
    /// [`read_ahead`](Self::read_ahead)): the next [`packages`](Self::packages) of it
    /// shares that one request.
    pub fn read_repo_packages_ahead(&self, repo: &str) {
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (c, repo) = (self.clone(), repo.to_owned());
        runtime.spawn(async move { c.packages(PackageSource::Repo(&repo)).await.map(drop) });
    }

    /// Drops every cached listing: the next reads ask aptly again.
    pub async fn invalidate(&self) {
        *self.inner.repos.lock().await = None;
        *self.inner.snapshots.lock().await = None;
        *self.inner.publications.lock().await = None;
        lock(&self.inner.repo_packages).clear();
        lock(&self.inner.snapshot_packages).clear();
    }

    /// aptly's version (`GET /api/version`).
    pub async fn version(&self) -> Result<String, AptError> {
        #[derive(serde::Deserialize)]
        struct V {
            #[serde(rename = "Version")]
            version: String,
        }
        let v: V = self.inner.json(Method::GET, "/api/version", None).await?;
        Ok(v.version)
    }

    // Repositories.

    /// Every local repository: one `GET /api/repos` per process.
    pub async fn repos(&self) -> Result<Arc<Vec<Repo>>, AptError> {
        cached(&self.inner.repos, || {
            self.inner.json(Method::GET, "/api/repos", None)
        })
        .await
    }

    /// The repository named `name`, from [`repos`](Self::repos).
    pub async fn repo(&self, name: &str) -> Result<Option<Repo>, AptError> {
        Ok(self.repos().await?.iter().find(|r| r.name == name).cloned())
    }

    /// Creates a local repository.
    pub async fn create_repo(&self, repo: &Repo) -> Result<Repo, AptError> {
        let made = self
            .inner
            .json(Method::POST, "/api/repos", Some(api::repo_body(repo)))
            .await;
        *self.inner.repos.lock().await = None;
        made
    }

    /// Changes the repository `name` to `repo` (renaming it when the names differ).
    pub async fn update_repo(&self, name: &str, repo: &Repo) -> Result<Repo, AptError> {
        let path = format!("/api/repos/{}", api::segment(name));
        let done = self
            .inner
            .json(Method::PUT, &path, Some(api::repo_body(repo)))
            .await;
        *self.inner.repos.lock().await = None;
        lock(&self.inner.repo_packages).remove(name);
        done
    }

    /// Drops a repository; `Ok(false)` when it did not exist. aptly refuses while a
    /// publication uses it.
    pub async fn delete_repo(&self, name: &str) -> Result<bool, AptError> {
        let path = format!("/api/repos/{}", api::segment(name));
        let done = self.inner.delete(&path, None).await;
        *self.inner.repos.lock().await = None;
        lock(&self.inner.repo_packages).remove(name);
        done
    }

    // Packages.

    /// Every package of a repository or snapshot, with details: one listing per
    /// repository or snapshot per process.
    pub async fn packages(&self, from: PackageSource<'_>) -> Result<Arc<Vec<Package>>, AptError> {
        let (slots, name) = match from {
            PackageSource::Repo(n) => (&self.inner.repo_packages, n),
            PackageSource::Snapshot(n) => (&self.inner.snapshot_packages, n),
        };
        let slot = slot_of(slots, name);
        let path = format!("{}?format=details", from.path());
        cached(&slot, || self.inner.json(Method::GET, &path, None)).await
    }

    /// The packages of a repository or snapshot that match an aptly package query (e.g.
    /// `Name (nginx), $Version (>= 1.2)`), asked fresh.
    pub async fn query(
        &self,
        from: PackageSource<'_>,
        query: &str,
    ) -> Result<Vec<Package>, AptError> {
        let path = format!(
            "{}?format=details&q={}",
            from.path(),
            api::query_escape(query)
        );
        self.inner.json(Method::GET, &path, None).await
    }

    /// Uploads a .deb as `file_name` and adds it to `repo`; returns the package as aptly
    /// lists it. aptly keeps `file_name` as the file's name in its pool, where two
    /// different files of one package may not share a name (use Debian's
    /// `<name>_<version>_<arch>.deb`). Files to one repository that arrive while it is
    /// being written wait and go together: one upload of all of them into one upload
    /// directory, one add of the directory, one listing (one writer per repository, as
    /// aptly 1.5 needs). The upload directory is removed again whatever happens. A file
    /// aptly could not add (it answers 200 and lists it in `FailedFiles`) fails with its
    /// report; the others of its batch are added.
    pub async fn add_package(
        &self,
        repo: &str,
        file_name: &str,
        content: Vec<u8>,
        sha256: &str,
    ) -> Result<Package, AptError> {
        let (done, answer) = tokio::sync::oneshot::channel();
        lock(&self.inner.pending_adds)
            .entry(repo.to_owned())
            .or_default()
            .push(PendingAdd {
                file_name: file_name.to_owned(),
                content,
                sha256: sha256.to_owned(),
                done,
            });
        let repo_lock = self.inner.repo_lock(repo);
        {
            let _writing = repo_lock.lock().await;
            // This file is in the queue or was added by an earlier writer, which has
            // answered it: what is waiting now goes in batches until none is left.
            loop {
                let batch = match lock(&self.inner.pending_adds).get_mut(repo) {
                    Some(queue) => take_batch(queue),
                    None => Vec::new(),
                };
                if batch.is_empty() {
                    break;
                }
                self.add_batch(repo, batch).await;
            }
        }
        answer.await.unwrap_or_else(|_| {
            Err(AptError::NotAdded {
                repo: repo.to_owned(),
                file: file_name.to_owned(),
            })
        })
    }

    /// Adds `batch` to `repo` (its writer holds the repository) and answers each file.
    async fn add_batch(&self, repo: &str, batch: Vec<PendingAdd>) {
        let dir = format!("rack-{}", token());
        let files: Vec<(&str, &[u8])> = batch
            .iter()
            .map(|p| (p.file_name.as_str(), p.content.as_slice()))
            .collect();
        let (body, content_type) = api::multipart_files(&files, &format!("rack{}", token()));
        let upload = format!("/api/files/{}", api::segment(&dir));
        let added: Result<AddAnswer, AptError> = async {
            self.inner
                .send(Method::POST, &upload, Some((body, content_type)))
                .await?;
            let path = format!(
                "/api/repos/{}/file/{}",
                api::segment(repo),
                api::segment(&dir)
            );
            self.inner.json(Method::POST, &path, None).await
        }
        .await;
        let cleanup = self.inner.delete(&upload, None).await;
        lock(&self.inner.repo_packages).remove(repo);
        if let Err(e) = cleanup {
            tracing::warn!(error = %e, dir, "could not remove aptly's upload directory");
        }
        let answer = match added {
            Ok(a) => a,
            Err(e) => {
                for p in batch {
                    let _ = p.done.send(Err(e.clone()));
                }
                return;
            }
        };
        let listing = self.packages(PackageSource::Repo(repo)).await;
        for p in batch {
            let result = match (answer.check_file(&p.file_name), &listing) {
                (Err(report), _) => Err(AptError::FailedFiles {
                    repo: repo.to_owned(),
                    report,
                }),
                (Ok(()), Err(e)) => Err(e.clone()),
                (Ok(()), Ok(list)) => list
                    .iter()
                    .find(|pk| pk.sha256.eq_ignore_ascii_case(&p.sha256))
                    .cloned()
                    .ok_or_else(|| AptError::NotAdded {
                        repo: repo.to_owned(),
                        file: p.file_name.clone(),
                    }),
            };
            let _ = p.done.send(result);
        }
    }

    /// Removes packages from a repository by key; a repository that does not exist has
    /// none to remove.
    pub async fn remove_packages(&self, repo: &str, keys: &[String]) -> Result<(), AptError> {
        let repo_lock = self.inner.repo_lock(repo);
        let _writing = repo_lock.lock().await;
        let path = format!("/api/repos/{}/packages", api::segment(repo));
        let done = self.inner.delete(&path, Some(api::refs_body(keys))).await;
        lock(&self.inner.repo_packages).remove(repo);
        done.map(|_| ())
    }

    // Snapshots.

    /// Every snapshot: one `GET /api/snapshots` per process.
    pub async fn snapshots(&self) -> Result<Arc<Vec<Snapshot>>, AptError> {
        cached(&self.inner.snapshots, || {
            self.inner.json(Method::GET, "/api/snapshots", None)
        })
        .await
    }

    /// The snapshot named `name`, from [`snapshots`](Self::snapshots).
    pub async fn snapshot(&self, name: &str) -> Result<Option<Snapshot>, AptError> {
        Ok(self
            .snapshots()
            .await?
            .iter()
            .find(|s| s.name == name)
            .cloned())
    }

    /// Snapshots a repository as it is now.
    pub async fn snapshot_repo(
        &self,
        repo: &str,
        name: &str,
        description: &str,
    ) -> Result<(), AptError> {
        let repo_lock = self.inner.repo_lock(repo);
        let _writing = repo_lock.lock().await;
        let path = format!("/api/repos/{}/snapshots", api::segment(repo));
        let body = serde_json::json!({ "Name": name, "Description": description });
        let done = self
            .inner
            .send(Method::POST, &path, Some(json_body(&body)))
            .await;
        *self.inner.snapshots.lock().await = None;
        done.map(|_| ())
    }

    /// A snapshot of the packages `keys`, which `sources` (snapshots) hold or which exist
    /// in aptly's package pool.
    pub async fn snapshot_packages(
        &self,
        name: &str,
        description: &str,
        sources: &[String],
        keys: &[String],
    ) -> Result<(), AptError> {
        let body = api::snapshot_body(name, description, sources, keys);
        let done = self
            .inner
            .send(Method::POST, "/api/snapshots", Some(json_body(&body)))
            .await;
        *self.inner.snapshots.lock().await = None;
        done.map(|_| ())
    }

    /// Drops a snapshot; `Ok(false)` when it did not exist. aptly refuses (409) while it
    /// is published or other snapshots were made from it.
    pub async fn delete_snapshot(&self, name: &str) -> Result<bool, AptError> {
        let path = format!("/api/snapshots/{}", api::segment(name));
        // aptly checks the publications before dropping: not while one is written.
        let writing = self.inner.publish_writes.lock().await;
        let done = self.inner.delete(&path, None).await;
        drop(writing);
        *self.inner.snapshots.lock().await = None;
        lock(&self.inner.snapshot_packages).remove(name);
        done
    }

    // Publications.

    /// Every publication: one `GET /api/publish` per process.
    pub async fn publications(&self) -> Result<Arc<Vec<Publication>>, AptError> {
        cached(&self.inner.publications, || {
            self.inner.json(Method::GET, "/api/publish", None)
        })
        .await
    }

    /// The publication of `distribution` under `prefix`.
    pub async fn publication(
        &self,
        prefix: &str,
        distribution: &str,
    ) -> Result<Option<Publication>, AptError> {
        let prefix = api::normal_prefix(prefix);
        Ok(self
            .publications()
            .await?
            .iter()
            .find(|p| p.prefix == prefix && p.distribution == distribution)
            .cloned())
    }

    /// Publishes a distribution.
    pub async fn publish(&self, new: &NewPublication) -> Result<Publication, AptError> {
        let path = format!("/api/publish/{}", api::prefix_segment(&new.prefix));
        let body = new.body();
        let done = self
            .inner
            .publish_write(Method::POST, &path, Some(body))
            .await;
        *self.inner.publications.lock().await = None;
        decode(&path, &done?)
    }

    /// Switches the snapshot components of a publication in place (`sources`), or
    /// re-publishes a local repository's content (`None`), with the given signing.
    pub async fn switch(
        &self,
        prefix: &str,
        distribution: &str,
        sources: Option<&[Source]>,
        acquire_by_hash: bool,
        signing: &Signing,
    ) -> Result<Publication, AptError> {
        let path = publication_path(prefix, distribution);
        let body = api::switch_body(sources, acquire_by_hash, signing);
        let done = self
            .inner
            .publish_write(Method::PUT, &path, Some(body))
            .await;
        *self.inner.publications.lock().await = None;
        decode(&path, &done?)
    }

    /// Drops a publication and its files from the public tree; `Ok(false)` when it did
    /// not exist.
    pub async fn unpublish(&self, prefix: &str, distribution: &str) -> Result<bool, AptError> {
        let path = publication_path(prefix, distribution);
        let done = self.inner.publish_write(Method::DELETE, &path, None).await;
        *self.inner.publications.lock().await = None;
        match done {
            Ok(_) => Ok(true),
            // aptly 1.5 answers 500 "published repo with storage:prefix/distribution ...
            // not found" here.
            Err(e)
                if e.is_not_found()
                    || e.message().is_some_and(|m| {
                        m.contains("published repo with") && m.contains("not found")
                    }) =>
            {
                Ok(false)
            }
            Err(e) => Err(e),
        }
    }
}

fn publication_path(prefix: &str, distribution: &str) -> String {
    format!(
        "/api/publish/{}/{}",
        api::prefix_segment(prefix),
        api::segment(distribution)
    )
}

fn json_body(v: &serde_json::Value) -> (Vec<u8>, String) {
    (v.to_string().into_bytes(), "application/json".into())
}

fn decode<T: DeserializeOwned>(path: &str, body: &[u8]) -> Result<T, AptError> {
    serde_json::from_slice(body).map_err(|source| AptError::Decode {
        path: path.to_owned(),
        source: Arc::new(source),
    })
}

/// 16 hex characters from the OS's random source (names of upload directories and
/// multipart boundaries), with a time-based fallback.
pub fn token() -> String {
    use std::io::Read;
    let mut bytes = [0u8; 8];
    let filled = std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .is_ok();
    if !filled {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        bytes = ((n as u64) ^ u64::from(std::process::id())).to_be_bytes();
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

impl Inner {
    async fn json<T: DeserializeOwned>(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<T, AptError> {
        let body = self
            .send(method, path, body.as_ref().map(json_body))
            .await?;
        decode(path, &body)
    }

    /// `DELETE`; `Ok(false)` when aptly said 404.
    async fn delete(&self, path: &str, body: Option<serde_json::Value>) -> Result<bool, AptError> {
        match self
            .send(Method::DELETE, path, body.as_ref().map(json_body))
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.is_not_found() => Ok(false),
            Err(e) => Err(e),
        }
    }

    /// A publish, switch or drop, sent again while aptly answers 409 (or loses a snapshot,
    /// see [`AptError::is_lost_snapshot`]).
    async fn publish_write(
        &self,
        method: Method,
        path: &str,
        body: Option<serde_json::Value>,
    ) -> Result<Vec<u8>, AptError> {
        let body = body.as_ref().map(json_body);
        let _writing = self.publish_writes.lock().await;
        let mut attempt = 0;
        loop {
            attempt += 1;
            match self.send(method.clone(), path, body.clone()).await {
                Err(e)
                    if (e.is_conflict() || e.is_lost_snapshot()) && attempt < CONFLICT_RETRIES =>
                {
                    tracing::debug!(path, attempt, error = %e, "aptly busy with the publication; again");
                    tokio::time::sleep(CONFLICT_PAUSE * attempt).await;
                }
                other => return other,
            }
        }
    }

    /// Sends one request and maps failures to [`AptError`].
    async fn send(
        &self,
        method: Method,
        path: &str,
        body: Option<(Vec<u8>, String)>,
    ) -> Result<Vec<u8>, AptError> {
        let url = &self.config.url;
        let mut req = self.http.request(method.clone(), format!("{url}{path}"));
        if let Some((bytes, content_type)) = body {
            req = req.header(CONTENT_TYPE, content_type).body(bytes);
        }
        if let Some(user) = &self.config.username {
            req = req.basic_auth(user, self.config.password.as_ref().map(Secret::expose));
        }
        let started = Instant::now();
        let calls = self.calls.fetch_add(1, Ordering::Relaxed) + 1;
        let transport = |e: reqwest::Error| {
            if e.is_timeout() {
                AptError::Timeout {
                    url: url.clone(),
                    timeout: self.config.timeout,
                }
            } else {
                AptError::Unreachable {
                    url: url.clone(),
                    source: Arc::new(e),
                }
            }
        };
        let resp = req.send().await.map_err(transport)?;
        let status = resp.status();
        let bytes = resp.bytes().await.map_err(transport)?;
        tracing::debug!(
            method = %method,
            path,
            status = status.as_u16(),
            bytes = bytes.len(),
            elapsed_ms = started.elapsed().as_millis() as u64,
            calls,
            "aptly answered"
        );
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(AptError::AuthRefused {
                url: url.clone(),
                status: status.as_u16(),
            });
        }
        if !status.is_success() {
            return Err(AptError::Api {
                method: method.to_string(),
                path: path.to_owned(),
                status: status.as_u16(),
                message: api::error_message(&bytes),
            });
        }
        Ok(bytes.to_vec())
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_checked_and_secrets_hidden() {
        for bad in ["", "127.0.0.1:8080", "ftp://x", "http://"] {
            let e = AptlyClient::new(AptlyConfig::new(bad)).unwrap_err();
            assert!(matches!(e, AptError::InvalidUrl { .. }), "{bad}: {e}");
        }
        let mut c = AptlyConfig::new("http://127.0.0.1:8080/");
        c.ca_cert_pem = Some("x".into());
        assert!(matches!(
            AptlyClient::new(c).unwrap_err(),
            AptError::Tls { .. }
        ));
        let mut c = AptlyConfig::new("http://127.0.0.1:8080/");
        c.username = Some("rack".into());
        c.password = Some(Secret::new("hunter2-password"));
        let client = AptlyClient::new(c).unwrap();
        assert_eq!(client.config().url, "http://127.0.0.1:8080");
        let text = format!("{client:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn a_batch_holds_one_file_of_a_name() {
        let pending = |name: &str| PendingAdd {
            file_name: name.into(),
            content: Vec::new(),
            sha256: String::new(),
            done: tokio::sync::oneshot::channel().0,
        };
        let mut queue = vec![pending("a.deb"), pending("b.deb"), pending("a.deb")];
        let names = |v: &[PendingAdd]| v.iter().map(|p| p.file_name.clone()).collect::<Vec<_>>();
        assert_eq!(names(&take_batch(&mut queue)), ["a.deb", "b.deb"]);
        assert_eq!(names(&queue), ["a.deb"]);
        assert_eq!(names(&take_batch(&mut queue)), ["a.deb"]);
        assert!(take_batch(&mut queue).is_empty());
    }

    #[test]
    fn tokens_are_hex_and_differ() {
        let (a, b) = (token(), token());
        assert_eq!(a.len(), 16);
        assert!(a.chars().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a, b);
    }
}
