//! The provisioning server: nginx 1.22 (Debian's `nginx`, built with its `dav` module)
//! serving `/boot/` over plain HTTP to machines that bootstrap (GET needs no password, as
//! for iPXE, ONIE and ZTP clients) and taking WebDAV writes there from rack (PUT and
//! DELETE behind basic authentication, directories created on PUT) and listing its
//! directories as JSON to the same users (nginx's `autoindex`; it has no PROPFIND).
//!
//! nginx receives a PUT's body in `client_body_temp_path` and renames it over the file
//! when it is complete; that temp dir is in the same directory tree as the files here,
//! so the rename is one `rename(2)` and a GET sees the old or the new file whole. nginx
//! runs in the foreground as one process, stopped by its PID on drop; its
//! configuration, password file, logs and files are in its own temp dir.

use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long nginx may take until its port accepts connections.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Tries with a fresh port when nginx loses a port race with another test.
const START_ATTEMPTS: usize = 3;
/// The user rack writes as.
pub const USERNAME: &str = "rack";

/// What differs between two provisioning servers (a test's, the standing lab's).
#[derive(Debug, Clone)]
pub struct ProvisioningConf<'a> {
    /// nginx's own directory: configuration, logs, temp paths (`tmp/`), the password file
    /// `htpasswd`, and the files under `www/boot/`.
    pub dir: &'a Path,
    /// Where it listens.
    pub listen: SocketAddr,
}

impl ProvisioningConf<'_> {
    /// The directory `/` is served from; files of `/boot/` are under its `boot/`.
    pub fn www(&self) -> PathBuf {
        self.dir.join("www")
    }

    /// `nginx.conf`: one process in the foreground; the files of `/boot/` served to
    /// anyone with GET and HEAD, and written with PUT and DELETE by the users of
    /// `htpasswd`; its directories (URLs ending in `/`) listed as JSON
    /// (`autoindex_format json`) to those users only.
    pub fn render(&self) -> String {
        let d = self.dir.display();
        format!(
            r#"daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log info;

events {{
    worker_connections 256;
}}

http {{
    types {{
        text/plain               txt sh ipxe cfg;
        application/json         json;
        application/octet-stream bin img;
    }}
    default_type application/octet-stream;
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    sendfile on;
    keepalive_requests 10000;

    server {{
        listen {listen};
        server_name localhost;
        root {www};
        autoindex off;

        location /boot/ {{
            dav_methods PUT DELETE;
            create_full_put_path on;
            dav_access user:rw group:r all:r;
            client_max_body_size 0;
            limit_except GET HEAD {{
                auth_basic "rack provisioning";
                auth_basic_user_file {d}/htpasswd;
            }}

            # A directory's listing (rack's list resource), for the same users only.
            location ~ /$ {{
                autoindex on;
                autoindex_format json;
                auth_basic "rack provisioning";
                auth_basic_user_file {d}/htpasswd;
            }}
        }}
    }}
}}
"#,
            listen = self.listen,
            www = self.www().display(),
        )
    }

    /// Writes `dir/nginx.conf`, the password file for [`USERNAME`] with `password`
    /// (SHA-256 crypt by `openssl passwd -5`), `dir/tmp` and `www/boot`; returns nginx's
    /// arguments to run it from `dir`, its PID file there.
    pub fn write(&self, password: &str) -> Result<Vec<String>, FixtureError> {
        let d = self.dir;
        let boot = self.www().join("boot");
        std::fs::create_dir_all(&boot)
            .map_err(|e| err(format!("cannot create {}: {e}", boot.display())))?;
        let openssl = process::find_binary("openssl", "openssl")?;
        let mut cmd = Command::new(openssl);
        cmd.args(["passwd", "-5", "-stdin"]);
        let hash =
            process::run_with_input(cmd, format!("{password}\n").as_bytes(), "openssl passwd")?;
        let htpasswd = d.join("htpasswd");
        std::fs::write(&htpasswd, format!("{USERNAME}:{}\n", hash.trim()))
            .map_err(|e| err(format!("cannot write {}: {e}", htpasswd.display())))?;
        crate::nginx::write_conf(d, &self.render())
    }
}

/// A running provisioning server (on 127.0.0.1 unless started with
/// [`Provisioning::start_on`]). Stopped and removed on drop.
#[derive(Debug)]
pub struct Provisioning {
    // Field order matters: nginx stops before its directory is removed.
    daemon: Daemon,
    dir: TempDir,
    /// Where it listens.
    pub addr: SocketAddr,
    /// `http://<addr>/boot/`: the URL rack writes below and clients read.
    pub url: String,
    /// The password of [`USERNAME`].
    pub password: String,
}

impl Provisioning {
    /// Starts nginx on a free port of 127.0.0.1 with a random password.
    pub fn start() -> Result<Self, FixtureError> {
        Self::start_on(Ipv4Addr::LOCALHOST)
    }

    /// Starts nginx on `ip` (an address of this namespace: 127.0.0.1, or one a test gave
    /// a veth of its own so that machines in other namespaces reach the server) at a port
    /// free on loopback, with a random password.
    pub fn start_on(ip: Ipv4Addr) -> Result<Self, FixtureError> {
        let nginx = process::find_binary("nginx", "nginx")?;
        let dir = TempDir::new("rack-provisioning")?;
        let d = dir.path().to_owned();
        let password = process::random_token();
        let mut attempt = 0;
        let (daemon, addr) = process::attempts(START_ATTEMPTS, "nginx", || {
            attempt += 1;
            let addr = SocketAddr::from((ip, process::free_port()?));
            let mut cmd = Command::new(&nginx);
            cmd.args(
                ProvisioningConf {
                    dir: &d,
                    listen: addr,
                }
                .write(&password)?,
            );
            let log = d.join(format!("nginx-{attempt}.log"));
            let mut daemon = Daemon::spawn("nginx", cmd, &log)?;
            daemon
                .wait_until(START_LIMIT, &d.join("error.log"), || {
                    process::tcp_open(addr)
                })
                .map(|_| (daemon, addr))
        })?;
        Ok(Self {
            daemon,
            dir,
            addr,
            url: format!("http://{addr}/boot/"),
            password,
        })
    }

    /// [`start`](Self::start) for a test: panics naming what is missing.
    pub fn started() -> Self {
        match Self::start() {
            Ok(p) => p,
            Err(e) => panic!("cannot start the provisioning server (nginx): {e}"),
        }
    }

    /// nginx's PID.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The temp dir holding the configuration, the logs and the files.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Where the file at `path` below `/boot/` is on disk (to change it out of band).
    pub fn file(&self, path: &str) -> PathBuf {
        self.dir().join("www").join("boot").join(path)
    }

    /// A plain GET of `path` below `/boot/`, as a booting machine does it: the status
    /// and the body.
    pub fn get(&self, path: &str) -> Option<(u16, String)> {
        process::http_get(self.addr, &format!("/boot/{path}"), &[])
    }

    /// The access log: one line per request.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("access.log")).unwrap_or_default()
    }
}
