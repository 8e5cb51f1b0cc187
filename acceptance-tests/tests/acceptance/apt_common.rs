//! What the apt acceptance tests share: the aptly fixture seen by the provider through
//! `RACK_APT_*`, test packages built with `dpkg-deb`, aptly's API called out of band with
//! rack's own client, and a real `apt-get` with its own configuration, state and cache
//! directories that trusts the fixture's key only (`Signed-By`).

use std::path::{Path, PathBuf};
use std::process::Command;

use rack_acceptance_tests::Workdir;
use rack_core::apt::{AptlyClient, AptlyConfig};
use rack_core::kea::Secret;
use rack_lab::Aptly;

/// The provider block every apt test uses; the server comes from `RACK_APT_*`.
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// Starts aptly behind nginx, or fails naming what is missing.
pub fn start() -> Aptly {
    Aptly::start().unwrap_or_else(|e| panic!("cannot start the aptly fixture: {e}"))
}

/// Starts aptly behind nginx over HTTPS (a certificate of a throwaway CA).
pub fn start_tls() -> Aptly {
    Aptly::start_tls().unwrap_or_else(|e| panic!("cannot start the aptly fixture: {e}"))
}

/// A workdir whose provider reaches `aptly` through `RACK_APT_*` (with its CA for HTTPS).
pub fn workdir(aptly: &Aptly) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_APT_URL", &aptly.url);
    wd.set_env("RACK_APT_USERNAME", &aptly.username);
    wd.set_env("RACK_APT_PASSWORD", &aptly.password);
    if let Some(ca) = &aptly.ca_cert {
        wd.set_env(
            "RACK_APT_CA_CERT",
            std::fs::read_to_string(ca).expect("read the CA"),
        );
    }
    wd
}

/// Builds `name` `version` for amd64 into `wd`'s `debs/`; returns its path relative to
/// the workdir, as configurations name it.
pub fn deb(wd: &Workdir, name: &str, version: &str) -> String {
    let dir = wd.path().join("debs");
    std::fs::create_dir_all(&dir).expect("create debs/");
    let path = rack_lab::aptly::build_deb(&dir, name, version, "amd64")
        .unwrap_or_else(|e| panic!("cannot build the test package: {e}"));
    format!(
        "debs/{}",
        path.file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default()
    )
}

/// The signing block naming the fixture's key and passphrase file.
pub fn signing(aptly: &Aptly) -> String {
    format!(
        "signing {{\n    key_id          = \"{}\"\n    passphrase_file = \"{}\"\n  }}",
        aptly.key.key_id,
        aptly.key.passphrase_file.display()
    )
}

/// rack's aptly client on the fixture, for changes and checks out of band.
pub fn client(aptly: &Aptly) -> AptlyClient {
    let mut c = AptlyConfig::new(&aptly.url);
    c.username = Some(aptly.username.clone());
    c.password = Some(Secret::new(&aptly.password));
    c.ca_cert_pem = aptly
        .ca_cert
        .as_ref()
        .map(|ca| std::fs::read_to_string(ca).expect("read the CA"));
    AptlyClient::new(c).expect("aptly client")
}

/// Runs `f` on a runtime of its own (the tests themselves are synchronous).
pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(f)
}

/// The files under aptly's public tree.
pub fn public_files(aptly: &Aptly) -> Vec<PathBuf> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                walk(&p, out);
            } else {
                out.push(p);
            }
        }
    }
    let mut out = Vec::new();
    walk(&aptly.public_dir(), &mut out);
    out
}

/// A real apt client: `apt-get` and `apt-cache` with their own `Dir::Etc`, `Dir::State`
/// and `Dir::Cache` in a directory of their own.
pub struct AptClient {
    dir: tempfile::TempDir,
}

impl AptClient {
    /// A client whose only source is `sources` (a deb822 stanza) and whose preferences
    /// are `pins`.
    pub fn new(sources: &str, pins: &str) -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        let d = dir.path();
        for sub in [
            "etc/sources.list.d",
            "etc/preferences.d",
            "etc/trusted.gpg.d",
            "etc/apt.conf.d",
            "state/lists/partial",
            "cache/archives/partial",
            "download",
        ] {
            std::fs::create_dir_all(d.join(sub)).expect("create apt dirs");
        }
        std::fs::write(d.join("etc/sources.list"), "").expect("sources.list");
        std::fs::write(d.join("state/status"), "").expect("status");
        let client = Self { dir };
        client.set(sources, pins);
        client
    }

    /// Replaces the sources and pins.
    pub fn set(&self, sources: &str, pins: &str) {
        let d = self.dir.path();
        std::fs::write(d.join("etc/sources.list.d/rack.sources"), sources).expect("sources");
        std::fs::write(d.join("etc/preferences.d/rack"), pins).expect("pins");
    }

    fn command(&self, program: &str) -> Command {
        let d = self.dir.path();
        let mut cmd = Command::new(program);
        cmd.current_dir(d.join("download"))
            .arg("-o")
            .arg(format!("Dir::Etc={}", d.join("etc").display()))
            .arg("-o")
            .arg(format!("Dir::State={}", d.join("state").display()))
            .arg("-o")
            .arg(format!(
                "Dir::State::status={}",
                d.join("state/status").display()
            ))
            .arg("-o")
            .arg(format!("Dir::Cache={}", d.join("cache").display()))
            .args(["-o", "Debug::NoLocking=1", "-o", "APT::Architecture=amd64"])
            .args([
                "-o",
                "APT::Architectures=amd64",
                "-o",
                "Acquire::Languages=none",
            ]);
        cmd
    }

    fn run(&self, program: &str, args: &[&str]) -> String {
        let out = self
            .command(program)
            .args(args)
            .output()
            .unwrap_or_else(|e| panic!("cannot run {program} (Debian package `apt`): {e}"));
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(out.status.success(), "{program} {args:?} failed:\n{text}");
        text
    }

    /// `apt-get update`; fails unless every index was fetched and verified.
    pub fn update(&self) -> String {
        let text = self.run("apt-get", &["update", "-q", "--error-on=any"]);
        assert!(
            !text.contains("NO_PUBKEY") && !text.contains("not signed"),
            "{text}"
        );
        text
    }

    /// The candidate version of `package` (`apt-cache policy`), `(none)` when there is none.
    pub fn candidate(&self, package: &str) -> String {
        let text = self.run("apt-cache", &["policy", package]);
        text.lines()
            .find_map(|l| {
                l.trim()
                    .strip_prefix("Candidate:")
                    .map(|c| c.trim().to_owned())
            })
            .unwrap_or_else(|| panic!("no candidate line in:\n{text}"))
    }

    /// `apt-cache policy` of `package`, for messages.
    pub fn policy(&self, package: &str) -> String {
        self.run("apt-cache", &["policy", package])
    }

    /// Downloads the candidate of `package`; returns the .deb's bytes.
    pub fn download(&self, package: &str) -> Vec<u8> {
        let dl = self.dir.path().join("download");
        for e in std::fs::read_dir(&dl).into_iter().flatten().flatten() {
            let _ = std::fs::remove_file(e.path());
        }
        self.run("apt-get", &["download", "-q", package]);
        let file = std::fs::read_dir(&dl)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .find(|p| p.extension().is_some_and(|x| x == "deb"))
            .unwrap_or_else(|| panic!("apt-get download left no .deb"));
        std::fs::read(file).expect("read the download")
    }
}
