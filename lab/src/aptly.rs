//! aptly 1.5 (Debian's `aptly`) serving its REST API on 127.0.0.1, with nginx in front:
//! HTTP basic authentication for `/api/` (aptly itself has none), and the published tree
//! served to apt clients at `/`, over plain HTTP or, with [`Aptly::start_tls`], HTTPS with
//! a certificate of a throwaway CA.
//!
//! aptly runs as `aptly api serve -no-lock` in its own temp root, with a throwaway ed25519
//! signing key in its own `GNUPGHOME`; the key's passphrase is in a file there (mode 0600)
//! that publications name as `PassphraseFile`. The public key is exported as a keyring
//! file for apt's `Signed-By`. Both daemons run in the foreground and are stopped by PID
//! on drop, then the gpg-agent of the key's home by `gpgconf --kill`, then the dir is
//! removed.

use crate::postgres::server_certificate;
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long aptly and nginx may take until they answer.
const START_LIMIT: Duration = Duration::from_secs(20);
/// Tries with fresh ports when a daemon loses a port race with another test.
const START_ATTEMPTS: usize = 3;
/// The user nginx lets through to the API.
pub const API_USER: &str = "rack";

/// aptly's configuration file: its root directory, signing through gpg.
pub fn aptly_conf(root: &Path) -> String {
    serde_free_json(&[
        ("rootDir", format!("{:?}", root.display().to_string())),
        ("downloadConcurrency", "2".into()),
        ("architectures", "[]".into()),
        ("dependencyFollowSuggests", "false".into()),
        ("gpgDisableSign", "false".into()),
        ("gpgDisableVerify", "false".into()),
        ("gpgProvider", "\"gpg\"".into()),
        ("downloadSourcePackages", "false".into()),
        ("skipContentsPublishing", "false".into()),
        ("enableMetricsEndpoint", "false".into()),
        ("FileSystemPublishEndpoints", "{}".into()),
        ("S3PublishEndpoints", "{}".into()),
        ("SwiftPublishEndpoints", "{}".into()),
    ])
}

fn serde_free_json(pairs: &[(&str, String)]) -> String {
    let body: Vec<String> = pairs
        .iter()
        .map(|(k, v)| format!("  \"{k}\": {v}"))
        .collect();
    format!("{{\n{}\n}}\n", body.join(",\n"))
}

/// What differs between two configurations of the nginx in front of aptly.
#[derive(Debug, Clone)]
pub struct FrontConf<'a> {
    /// nginx's own directory (logs, temp paths, `tls/` when `tls`).
    pub dir: &'a Path,
    /// nginx's port on 127.0.0.1.
    pub port: u16,
    /// aptly's API port on 127.0.0.1.
    pub api_port: u16,
    /// aptly's public tree (`<rootDir>/public`).
    pub public: &'a Path,
    /// The `auth_basic_user_file`.
    pub htpasswd: &'a Path,
    /// HTTPS with `dir/tls/server.pem` and `server.key` instead of HTTP.
    pub tls: bool,
}

impl FrontConf<'_> {
    /// `nginx.conf`: one process in the foreground; `/api/` proxied to aptly behind basic
    /// auth (uploads of any size), the published tree at `/`.
    pub fn render(&self) -> String {
        let d = self.dir.display();
        let tls_dir = self.dir.join("tls");
        let (listen, certs) = if self.tls {
            (
                format!("127.0.0.1:{} ssl", self.port),
                format!(
                    "ssl_certificate {};\n        ssl_certificate_key {};",
                    tls_dir.join("server.pem").display(),
                    tls_dir.join("server.key").display()
                ),
            )
        } else {
            (format!("127.0.0.1:{}", self.port), String::new())
        };
        format!(
            r#"daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    default_type application/octet-stream;
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    sendfile on;

    server {{
        listen {listen};
        server_name localhost;
        {certs}
        root {public};
        autoindex on;

        location /api/ {{
            auth_basic "aptly";
            auth_basic_user_file {htpasswd};
            client_max_body_size 0;
            proxy_request_buffering off;
            proxy_read_timeout 600s;
            proxy_pass http://127.0.0.1:{api_port};
        }}
    }}
}}
"#,
            public = self.public.display(),
            htpasswd = self.htpasswd.display(),
            api_port = self.api_port,
        )
    }

    /// Writes `dir/nginx.conf` and creates `dir/tmp`; returns nginx's arguments.
    pub fn write(&self) -> Result<Vec<String>, FixtureError> {
        crate::nginx::write_conf(self.dir, &self.render())
    }
}

/// An htpasswd line nginx reads (`{PLAIN}`: nginx's own scheme for a clear password).
pub fn htpasswd_line(user: &str, password: &str) -> String {
    format!("{user}:{{PLAIN}}{password}\n")
}

/// A throwaway signing key in its own GNUPGHOME.
#[derive(Debug, Clone)]
pub struct SigningKey {
    /// The GNUPGHOME (mode 0700) holding the key.
    pub home: PathBuf,
    /// The key's fingerprint.
    pub key_id: String,
    /// The file (mode 0600) holding its passphrase, for aptly's `PassphraseFile`.
    pub passphrase_file: PathBuf,
    /// The public key as a binary keyring, for apt's `Signed-By`.
    pub keyring: PathBuf,
}

/// Makes an ed25519 signing key valid for `days` with a random passphrase in `home`
/// (created), writes its passphrase file and exports its public keyring into `out`. The
/// passphrase reaches gpg on its standard input, never its command line.
pub fn make_signing_key(home: &Path, out: &Path, days: u32) -> Result<SigningKey, FixtureError> {
    use std::os::unix::fs::PermissionsExt;
    let gpg = process::find_binary("gpg", "gnupg")?;
    std::fs::create_dir_all(home)
        .and_then(|()| std::fs::set_permissions(home, std::fs::Permissions::from_mode(0o700)))
        .map_err(|e| err(format!("cannot create {}: {e}", home.display())))?;
    let passphrase = process::random_token();
    let passphrase_file = out.join("passphrase");
    std::fs::write(&passphrase_file, &passphrase)
        .and_then(|()| {
            std::fs::set_permissions(&passphrase_file, std::fs::Permissions::from_mode(0o600))
        })
        .map_err(|e| err(format!("cannot write {}: {e}", passphrase_file.display())))?;
    let gpg_cmd = |args: &[&str]| {
        let mut cmd = Command::new(&gpg);
        cmd.env("GNUPGHOME", home)
            .args(["--batch", "--no-tty"])
            .args(args);
        cmd
    };
    process::run_with_input(
        gpg_cmd(&[
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            "--quick-gen-key",
            "rack test repository <apt@example.invalid>",
            "ed25519",
            "sign",
            &format!("{days}d"),
        ]),
        passphrase.as_bytes(),
        "gpg --quick-gen-key",
    )?;
    let listing = process::run(
        gpg_cmd(&["--with-colons", "--list-secret-keys"]),
        "gpg --list-secret-keys",
    )?;
    let key_id = listing
        .lines()
        .find_map(|l| {
            l.strip_prefix("fpr:")
                .map(|r| r.trim_matches(':').to_owned())
        })
        .ok_or_else(|| err(format!("gpg listed no fingerprint:\n{listing}")))?;
    let keyring = out.join("keyring.gpg");
    let mut export = gpg_cmd(&["--output"]);
    export.arg(&keyring).args(["--export", &key_id]);
    process::run(export, "gpg --export")?;
    Ok(SigningKey {
        home: home.to_owned(),
        key_id,
        passphrase_file,
        keyring,
    })
}

/// Stops the gpg-agent that gpg started for a GNUPGHOME, through its own control channel.
pub fn stop_gpg_agent(home: &Path) {
    if let Ok(gpgconf) = process::find_binary("gpgconf", "gpgconf") {
        let _ = Command::new(gpgconf)
            .env("GNUPGHOME", home)
            .args(["--kill", "gpg-agent"])
            .output();
    }
}

/// Stops the gpg-agent of the fixture's key when dropped (after the daemons, before the
/// dir is removed).
#[derive(Debug)]
struct AgentGuard(PathBuf);

impl Drop for AgentGuard {
    fn drop(&mut self) {
        stop_gpg_agent(&self.0);
    }
}

/// A running aptly API behind nginx. Stopped and removed on drop.
#[derive(Debug)]
pub struct Aptly {
    // Field order matters: the daemons stop first, then the key's gpg-agent, then the
    // directory is removed.
    front: Daemon,
    aptly: Daemon,
    agent: AgentGuard,
    dir: TempDir,
    /// The URL of nginx in front of aptly: the API under `/api/`, the published tree at `/`.
    pub url: String,
    /// aptly's own address, without authentication, for checks that go around rack.
    pub api_addr: SocketAddr,
    /// The user for basic auth ([`API_USER`]).
    pub username: String,
    /// Its password.
    pub password: String,
    /// The CA certificate (PEM file) for the HTTPS front, when started with TLS.
    pub ca_cert: Option<PathBuf>,
    /// The signing key.
    pub key: SigningKey,
    /// aptly's root directory (its database, pool and `public/` tree).
    pub root: PathBuf,
    /// Time until both answered.
    pub startup: Duration,
}

impl Aptly {
    /// aptly behind nginx over plain HTTP.
    pub fn start() -> Result<Self, FixtureError> {
        Self::start_with(false)
    }

    /// aptly behind nginx over HTTPS (a certificate of a throwaway CA, [`Aptly::ca_cert`]).
    pub fn start_tls() -> Result<Self, FixtureError> {
        Self::start_with(true)
    }

    /// [`start`](Self::start) for a test: panics naming what is missing.
    pub fn started() -> Self {
        match Self::start() {
            Ok(a) => {
                eprintln!("aptly ready in {:?} (pid {})", a.startup, a.pid());
                a
            }
            Err(e) => panic!("cannot start the aptly fixture: {e}"),
        }
    }

    fn start_with(tls: bool) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let aptly_bin = process::find_binary("aptly", "aptly")?;
        let nginx_bin = process::find_binary("nginx", "nginx")?;
        let dir = TempDir::new("rack-aptly")?;
        let d = dir.path().to_owned();
        let home = d.join("gnupg");
        let agent = AgentGuard(home.clone());
        let key = make_signing_key(&home, &d, 1)?;
        let root = d.join("root");
        let public = root.join("public");
        std::fs::create_dir_all(&public)
            .map_err(|e| err(format!("cannot create {}: {e}", public.display())))?;
        let conf = d.join("aptly.conf");
        std::fs::write(&conf, aptly_conf(&root))
            .map_err(|e| err(format!("cannot write {}: {e}", conf.display())))?;
        let password = process::random_token();
        let htpasswd = d.join("htpasswd");
        std::fs::write(&htpasswd, htpasswd_line(API_USER, &password))
            .map_err(|e| err(format!("cannot write {}: {e}", htpasswd.display())))?;
        let ca_cert = if tls {
            let front = d.join("nginx");
            server_certificate(&front, false)?;
            Some(front.join("tls").join("ca.pem"))
        } else {
            None
        };

        let mut attempt = 0;
        let (aptly, api_addr) = process::attempts(START_ATTEMPTS, "aptly", || {
            attempt += 1;
            let port = process::free_port()?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            let log = d.join(format!("aptly-{attempt}.log"));
            let mut daemon = Daemon::spawn(
                "aptly api serve",
                serve_command(&aptly_bin, &conf, &home, addr),
                &log,
            )?;
            daemon
                .wait_until(START_LIMIT, &log, || {
                    matches!(process::http_get(addr, "/api/version", &[]), Some((200, _)))
                })
                .map(|_| (daemon, addr))
        })?;
        let front_dir = d.join("nginx");
        let mut attempt = 0;
        let (front, port) = process::attempts(START_ATTEMPTS, "nginx", || {
            attempt += 1;
            let port = process::free_port()?;
            let mut cmd = Command::new(&nginx_bin);
            cmd.args(
                FrontConf {
                    dir: &front_dir,
                    port,
                    api_port: api_addr.port(),
                    public: &public,
                    htpasswd: &htpasswd,
                    tls,
                }
                .write()?,
            );
            let log = front_dir.join(format!("nginx-{attempt}.log"));
            let mut daemon = Daemon::spawn("nginx", cmd, &log)?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            daemon
                .wait_until(START_LIMIT, &front_dir.join("error.log"), || {
                    process::tcp_open(addr)
                })
                .map(|_| (daemon, port))
        })?;
        let scheme = if tls { "https" } else { "http" };
        Ok(Self {
            front,
            aptly,
            agent,
            dir,
            url: format!("{scheme}://127.0.0.1:{port}"),
            api_addr,
            username: API_USER.to_owned(),
            password,
            ca_cert,
            key,
            root,
            startup: started.elapsed(),
        })
    }

    /// aptly's PID.
    pub fn pid(&self) -> u32 {
        self.aptly.pid()
    }

    /// nginx's PID.
    pub fn front_pid(&self) -> u32 {
        self.front.pid()
    }

    /// The temp dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The GNUPGHOME of the signing key.
    pub fn gnupg_home(&self) -> &Path {
        &self.agent.0
    }

    /// The published tree, as apt clients see it at [`url`](Self::url).
    pub fn public_dir(&self) -> PathBuf {
        self.root.join("public")
    }

    /// The signing key's passphrase (for tests that look for it where it must not be).
    pub fn passphrase(&self) -> String {
        std::fs::read_to_string(&self.key.passphrase_file).unwrap_or_default()
    }

    /// The signing key's secret part, armored (for tests that look for it where it must
    /// not be).
    pub fn secret_key_armored(&self) -> Result<String, FixtureError> {
        let gpg = process::find_binary("gpg", "gnupg")?;
        let mut cmd = Command::new(gpg);
        cmd.env("GNUPGHOME", self.gnupg_home()).args([
            "--batch",
            "--pinentry-mode",
            "loopback",
            "--passphrase-fd",
            "0",
            "--armor",
            "--export-secret-keys",
            &self.key.key_id,
        ]);
        process::run_with_input(
            cmd,
            self.passphrase().as_bytes(),
            "gpg --export-secret-keys",
        )
    }

    /// Stops aptly (by PID) and starts it again on the same port and root, as a restart of
    /// the service would.
    pub fn restart_api(&mut self) -> Result<(), FixtureError> {
        let aptly_bin = process::find_binary("aptly", "aptly")?;
        let d = self.dir.path().to_owned();
        let log = d.join("aptly-restarted.log");
        let addr = self.api_addr;
        let cmd = serve_command(&aptly_bin, &d.join("aptly.conf"), self.gnupg_home(), addr);
        self.aptly.stop();
        let mut daemon = Daemon::spawn("aptly api serve", cmd, &log)?;
        daemon.wait_until(START_LIMIT, &log, || {
            matches!(process::http_get(addr, "/api/version", &[]), Some((200, _)))
        })?;
        self.aptly = daemon;
        Ok(())
    }

    /// The end of aptly's logs, for assertion messages.
    pub fn log_tail(&self) -> String {
        let mut logs: Vec<PathBuf> = std::fs::read_dir(self.dir())
            .map(|rd| rd.flatten().map(|e| e.path()).collect())
            .unwrap_or_default();
        logs.retain(|p| p.extension().is_some_and(|e| e == "log"));
        logs.sort();
        logs.iter()
            .map(|p| format!("{}:\n{}", p.display(), process::tail(p)))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

/// Builds a small Debian binary package with `dpkg-deb` in `out`: `name` at `version`
/// for `arch`, holding `/usr/share/<name>/version`. Returns the .deb's path.
pub fn build_deb(
    out: &Path,
    name: &str,
    version: &str,
    arch: &str,
) -> Result<PathBuf, FixtureError> {
    let dpkg_deb = process::find_binary("dpkg-deb", "dpkg")?;
    let tree = out.join(format!("{name}-{version}-{arch}.tree"));
    let control_dir = tree.join("DEBIAN");
    let share = tree.join("usr/share").join(name);
    let write = |p: &Path, text: &str| {
        std::fs::write(p, text).map_err(|e| err(format!("cannot write {}: {e}", p.display())))
    };
    for d in [&control_dir, &share] {
        std::fs::create_dir_all(d)
            .map_err(|e| err(format!("cannot create {}: {e}", d.display())))?;
    }
    write(
        &control_dir.join("control"),
        &format!(
            "Package: {name}\nVersion: {version}\nArchitecture: {arch}\n\
             Maintainer: rack tests <apt@example.invalid>\nSection: misc\nPriority: optional\n\
             Description: {name} {version}, a rack test package\n"
        ),
    )?;
    write(&share.join("version"), &format!("{version}\n"))?;
    let deb = out.join(format!("{name}_{version}_{arch}.deb"));
    let mut cmd = Command::new(dpkg_deb);
    cmd.args(["--root-owner-group", "-Zgzip", "-b"])
        .arg(&tree)
        .arg(&deb);
    process::run(cmd, "dpkg-deb -b")?;
    let _ = std::fs::remove_dir_all(&tree);
    Ok(deb)
}

/// `aptly api serve -no-lock` on `addr` with `conf`, signing from `home`.
pub fn serve_command(aptly: &Path, conf: &Path, home: &Path, addr: SocketAddr) -> Command {
    let mut cmd = Command::new(aptly);
    cmd.env("GNUPGHOME", home)
        .arg("api")
        .arg("serve")
        .arg(format!("-config={}", conf.display()))
        .arg(format!("-listen={addr}"))
        .arg("-no-lock");
    cmd
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_front_guards_the_api_only() {
        let conf = FrontConf {
            dir: Path::new("/d"),
            port: 8080,
            api_port: 9090,
            public: Path::new("/r/public"),
            htpasswd: Path::new("/d/htpasswd"),
            tls: false,
        }
        .render();
        let api = conf.find("location /api/").unwrap_or(0);
        assert!(api > 0, "{conf}");
        assert!(conf[api..].contains("auth_basic_user_file /d/htpasswd;"));
        assert!(conf[..api].contains("root /r/public;"));
        assert!(!conf[..api].contains("auth_basic"));
        assert!(conf.contains("proxy_pass http://127.0.0.1:9090;"));
        assert!(!conf.contains("ssl"));
        assert_eq!(htpasswd_line("rack", "pw"), "rack:{PLAIN}pw\n");
        assert!(aptly_conf(Path::new("/r")).contains("\"rootDir\": \"/r\""));
    }
}
