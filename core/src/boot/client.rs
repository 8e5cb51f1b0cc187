//! [`BootClient`]: the requests of [`super::request`] sent with `reqwest`, and the files
//! read once per process (see the module docs of [`super`]).

use std::collections::HashMap;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::header::AUTHORIZATION;
use sha2::{Digest, Sha256};
use tokio::sync::OnceCell;

use super::BootError;
use super::listing::{IndexEntry, Listed, MAX_DEPTH, parse_index, split};
use super::path::{BaseUrl, BootPath};
use super::request::{Method, Outcome, Request, hex, interpret};
use crate::kea::Secret;
use crate::sync::lock;

/// The largest file whose text a read keeps (for `content` drift): boot scripts,
/// preseeds and iPXE scripts are a few KiB; kernels and initrds, tens of MiB, are known
/// by their hash only.
pub const TEXT_LIMIT: usize = 1 << 20;

/// How long one request may take unless configured: generous for a kernel or initrd of
/// tens of MiB on a slow management network.
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

/// How much of an unexpected answer's body goes into an error message.
const BODY_EXCERPT: usize = 300;

/// One provisioning server and how to reach it.
#[derive(Debug, Clone)]
pub struct BootConfig {
    /// The URL files are written below, e.g. `https://prov1.example/boot/`.
    pub url: String,
    /// The URL clients fetch the same files below, when it differs from `url` (another
    /// address or scheme on the provisioning network); `None`: `url`.
    pub public_url: Option<String>,
    /// User for HTTP basic authentication; `None` sends no credentials.
    pub username: Option<String>,
    /// Password for HTTP basic authentication.
    pub password: Option<Secret>,
    /// PEM certificates of the CA(s) that signed the server's certificate; `None` trusts
    /// the system's CA bundle.
    pub ca_cert_pem: Option<String>,
    /// How long one request may take.
    pub timeout: Duration,
}

impl BootConfig {
    /// `url` with no credentials, no CA and a 120 s timeout.
    pub fn new(url: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            public_url: None,
            username: None,
            password: None,
            ca_cert_pem: None,
            timeout: DEFAULT_TIMEOUT,
        }
    }
}

/// What the server holds at a path, as read or written.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remote {
    /// The SHA-256 of the content, lower-case hex.
    pub sha256: String,
    /// The content's size in bytes.
    pub size: u64,
    /// The content, when it is UTF-8 of at most [`TEXT_LIMIT`] bytes.
    pub text: Option<String>,
}

impl Remote {
    /// What `bytes` are.
    pub fn of(bytes: &[u8]) -> Self {
        Self {
            sha256: super::sha256_hex(bytes),
            size: bytes.len() as u64,
            text: text_of(bytes.to_vec()),
        }
    }
}

fn text_of(bytes: Vec<u8>) -> Option<String> {
    if bytes.len() > TEXT_LIMIT {
        return None;
    }
    String::from_utf8(bytes).ok()
}

/// One file's cached read: filled once, shared by concurrent readers.
type Slot = Arc<OnceCell<Option<Arc<Remote>>>>;

struct Inner {
    config: BootConfig,
    base: BaseUrl,
    public: BaseUrl,
    http: reqwest::Client,
    calls: AtomicU64,
    files: Mutex<HashMap<BootPath, Slot>>,
}

/// A client for one provisioning server. Cheap to clone: clones share the files read and
/// the call counter. Create one per server per process.
#[derive(Clone)]
pub struct BootClient {
    inner: Arc<Inner>,
}

impl fmt::Debug for BootClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BootClient")
            .field("config", &self.inner.config)
            .field("calls_made", &self.calls_made())
            .finish_non_exhaustive()
    }
}

impl BootClient {
    /// A client for `config`. Sends nothing until used.
    pub fn new(config: BootConfig) -> Result<Self, BootError> {
        let invalid = |url: &str| BootError::InvalidUrl {
            url: url.to_owned(),
        };
        let base = BaseUrl::parse(&config.url).ok_or_else(|| invalid(&config.url))?;
        let public = match &config.public_url {
            Some(u) => BaseUrl::parse(u).ok_or_else(|| invalid(u))?,
            None => base.clone(),
        };
        if config.ca_cert_pem.is_some() && !base.is_https() {
            return Err(BootError::Tls {
                reason: "a CA certificate is set but the URL is not https://".to_owned(),
            });
        }
        let tls = crate::tls::rustls_config(config.ca_cert_pem.as_deref(), None, None)
            .map_err(|reason| BootError::Tls { reason })?;
        // reqwest builds its TLS configuration even for plain http, so it always gets one
        // here, with the ring provider (the workspace's rustls provider).
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .tls_backend_preconfigured(tls)
            .build()
            .map_err(|e| BootError::Tls {
                reason: format!("cannot build the HTTP client ({e})"),
            })?;
        Ok(Self {
            inner: Arc::new(Inner {
                config,
                base,
                public,
                http,
                calls: AtomicU64::new(0),
                files: Mutex::default(),
            }),
        })
    }

    /// The configuration.
    pub fn config(&self) -> &BootConfig {
        &self.inner.config
    }

    /// The URL clients fetch `path` from.
    pub fn public_url(&self, path: &BootPath) -> String {
        self.inner.public.join(path)
    }

    /// HTTP requests sent so far.
    pub fn calls_made(&self) -> u64 {
        self.inner.calls.load(Ordering::Relaxed)
    }

    /// What the server holds at `path` (`None`: no file): one GET per file per client,
    /// shared by concurrent callers; a failed read is not kept.
    pub async fn file(&self, path: &BootPath) -> Result<Option<Arc<Remote>>, BootError> {
        let slot = self.slot(path);
        slot.get_or_try_init(|| self.fetch(path)).await.cloned()
    }

    /// Forgets what was read of `path`: the next [`BootClient::file`] reads it again.
    pub fn invalidate(&self, path: &BootPath) {
        lock(&self.inner.files).remove(path);
    }

    /// Writes `content` to `path`, replacing what is there (the server creates missing
    /// directories when configured to). Returns what the file now is.
    pub async fn put(&self, path: &BootPath, content: Vec<u8>) -> Result<Arc<Remote>, BootError> {
        let written = Arc::new(Remote::of(&content));
        let size = content.len() as u64;
        let req = self.request(Method::Put, path);
        let sent = self.send(&req, Some(content), size).await;
        match sent {
            Ok(_) => {
                self.remember(path, Some(written.clone()));
                Ok(written)
            }
            Err(e) => {
                self.invalidate(path);
                Err(e)
            }
        }
    }

    /// Removes `path`; `Ok(false)` when there was no file.
    pub async fn delete(&self, path: &BootPath) -> Result<bool, BootError> {
        let req = self.request(Method::Delete, path);
        let sent = self.send(&req, None, 0).await;
        match sent {
            Ok((outcome, _)) => {
                self.remember(path, None);
                Ok(outcome == Outcome::Done)
            }
            Err(e) => {
                self.invalidate(path);
                Err(e)
            }
        }
    }

    /// Every file below directory `under` (`None`: the server's URL), walked from the
    /// directories' JSON listings (one GET per directory, sent now, nothing cached),
    /// sorted by path. A directory that is gone by the time it is listed is skipped;
    /// directories deeper than [`MAX_DEPTH`] are not walked.
    pub async fn list(&self, under: Option<&BootPath>) -> Result<Vec<Listed>, BootError> {
        let mut files = Vec::new();
        let mut level = vec![under.cloned()];
        for _ in 0..=MAX_DEPTH {
            let mut next = Vec::new();
            for dir in level {
                let Some(entries) = self.listing(dir.as_ref()).await? else {
                    continue;
                };
                let (found, dirs) = split(dir.as_ref(), entries);
                files.extend(found);
                next.extend(dirs.into_iter().map(Some));
            }
            if next.is_empty() {
                break;
            }
            level = next;
        }
        files.sort_by(|a, b| a.path.cmp(&b.path));
        Ok(files)
    }

    /// One directory's entries, `None` when there is no such directory.
    async fn listing(&self, dir: Option<&BootPath>) -> Result<Option<Vec<IndexEntry>>, BootError> {
        let req = self.with_credentials(|c| Request::listing(&self.inner.base, dir, c));
        let (outcome, resp) = self.send(&req, None, 0).await?;
        let Some(resp) = resp.filter(|_| outcome == Outcome::Done) else {
            return Ok(None);
        };
        let body = resp.bytes().await.map_err(|e| self.transport(&req, e))?;
        parse_index(&body)
            .map(Some)
            .map_err(|_| BootError::NoListing { url: req.url })
    }

    fn slot(&self, path: &BootPath) -> Slot {
        lock(&self.inner.files)
            .entry(path.clone())
            .or_default()
            .clone()
    }

    fn remember(&self, path: &BootPath, remote: Option<Arc<Remote>>) {
        let slot = Arc::new(OnceCell::new_with(Some(remote)));
        lock(&self.inner.files).insert(path.clone(), slot);
    }

    fn request(&self, method: Method, path: &BootPath) -> Request {
        self.with_credentials(|c| Request::new(method, &self.inner.base, path, c))
    }

    /// `build` given the configured user and password, if any.
    fn with_credentials(&self, build: impl FnOnce(Option<(&str, &Secret)>) -> Request) -> Request {
        let c = &self.inner.config;
        let empty = Secret::new("");
        build(
            c.username
                .as_deref()
                .map(|u| (u, c.password.as_ref().unwrap_or(&empty))),
        )
    }

    /// One GET, its body hashed as it arrives.
    async fn fetch(&self, path: &BootPath) -> Result<Option<Arc<Remote>>, BootError> {
        let req = self.request(Method::Get, path);
        let (outcome, resp) = self.send(&req, None, 0).await?;
        let Some(mut resp) = resp.filter(|_| outcome == Outcome::Done) else {
            return Ok(None);
        };
        let mut hash = Sha256::new();
        let mut size = 0u64;
        let mut kept = Some(Vec::new());
        while let Some(chunk) = resp.chunk().await.map_err(|e| self.transport(&req, e))? {
            hash.update(&chunk);
            size += chunk.len() as u64;
            if let Some(buf) = kept.as_mut() {
                if buf.len() + chunk.len() > TEXT_LIMIT {
                    kept = None;
                } else {
                    buf.extend_from_slice(&chunk);
                }
            }
        }
        Ok(Some(Arc::new(Remote {
            sha256: hex(&hash.finalize()),
            size,
            text: kept.and_then(text_of),
        })))
    }

    /// Sends `req` with `body`; the answer's meaning and, for a GET that found the file,
    /// the response whose body is still to read.
    async fn send(
        &self,
        req: &Request,
        body: Option<Vec<u8>>,
        size: u64,
    ) -> Result<(Outcome, Option<reqwest::Response>), BootError> {
        let method = match req.method {
            Method::Put => reqwest::Method::PUT,
            Method::Get | Method::List => reqwest::Method::GET,
            Method::Delete => reqwest::Method::DELETE,
        };
        let mut builder = self.inner.http.request(method, &req.url);
        if let Some(auth) = &req.authorization {
            builder = builder.header(AUTHORIZATION, auth.expose());
        }
        if let Some(body) = body {
            builder = builder.body(body);
        }
        self.inner.calls.fetch_add(1, Ordering::Relaxed);
        let resp = builder.send().await.map_err(|e| self.transport(req, e))?;
        let status = resp.status().as_u16();
        if matches!(req.method, Method::Get | Method::List) && status == 200 {
            return Ok((Outcome::Done, Some(resp)));
        }
        let text = if (200..300).contains(&status) || status == 404 {
            String::new()
        } else {
            resp.text().await.unwrap_or_default()
        };
        let excerpt: String = text.chars().take(BODY_EXCERPT).collect();
        let username = self.inner.config.username.as_deref().unwrap_or_default();
        let outcome = interpret(req, status, username, size, &excerpt)?;
        Ok((outcome, None))
    }

    fn transport(&self, req: &Request, e: reqwest::Error) -> BootError {
        if e.is_timeout() {
            BootError::Timeout {
                method: req.method,
                url: req.url.clone(),
                timeout: self.inner.config.timeout,
            }
        } else {
            BootError::Unreachable {
                url: req.url.clone(),
                source: Arc::new(e),
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn urls_and_tls_settings_are_checked() {
        let e = BootClient::new(BootConfig::new("prov1/boot")).unwrap_err();
        assert!(matches!(e, BootError::InvalidUrl { .. }), "{e}");
        let mut c = BootConfig::new("http://127.0.0.1:8080/boot");
        c.ca_cert_pem = Some("x".into());
        assert!(matches!(
            BootClient::new(c).unwrap_err(),
            BootError::Tls { .. }
        ));
        let mut c = BootConfig::new("https://127.0.0.1:8443/boot");
        c.ca_cert_pem = Some("not a pem".into());
        let e = BootClient::new(c).unwrap_err().to_string();
        assert!(e.contains("holds no certificate"), "{e}");
        let mut c = BootConfig::new("https://127.0.0.1:8443/boot");
        c.public_url = Some("http://10.0.0.1/boot".into());
        let client = BootClient::new(c).unwrap();
        let p = BootPath::parse("ztp/tor1.sh").unwrap();
        assert_eq!(client.public_url(&p), "http://10.0.0.1/boot/ztp/tor1.sh");
        assert_eq!(
            client.request(Method::Put, &p).url,
            "https://127.0.0.1:8443/boot/ztp/tor1.sh"
        );
    }

    #[test]
    fn debug_hides_the_password() {
        let mut c = BootConfig::new("http://127.0.0.1:8080/boot");
        c.username = Some("rack".into());
        c.password = Some(Secret::new("hunter2-password"));
        let client = BootClient::new(c).unwrap();
        let text = format!("{client:?}");
        assert!(!text.contains("hunter2"), "{text}");
    }

    #[test]
    fn only_small_utf8_files_keep_their_text() {
        let r = Remote::of(b"#!/bin/sh\n");
        assert_eq!(r.text.as_deref(), Some("#!/bin/sh\n"));
        assert_eq!(r.size, 10);
        assert!(Remote::of(&[0xff, 0xfe]).text.is_none());
        assert!(Remote::of(&vec![b'a'; TEXT_LIMIT + 1]).text.is_none());
    }
}
