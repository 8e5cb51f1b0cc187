//! nginx 1.22 (Debian's `nginx`) serving a directory over HTTPS on 127.0.0.1: the
//! provider network mirror that CI runners install rack from (Terraform fetches network
//! mirrors over https only).
//!
//! A throwaway CA made by `openssl` signs the server's certificate for 127.0.0.1; clients
//! trust it through [`Nginx::ca_cert`] (Terraform: `SSL_CERT_FILE`). nginx runs in the
//! foreground as one process (`daemon off; master_process off;`), so it is stopped by its
//! PID on drop; its configuration, logs and temp paths are in its own temp dir.

use crate::postgres::server_certificate;
use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

/// How long nginx may take until its port accepts connections.
const START_LIMIT: Duration = Duration::from_secs(10);
/// Tries with a fresh port when nginx loses a port race with another test.
const START_ATTEMPTS: usize = 3;

/// Writes `text` as `dir/nginx.conf` and creates `dir/tmp` (the temp paths every
/// configuration of the lab puts there); returns nginx's arguments to run it from `dir`,
/// its PID file there. Every nginx of the lab starts this way.
pub fn write_conf(dir: &Path, text: &str) -> Result<Vec<String>, FixtureError> {
    std::fs::create_dir_all(dir.join("tmp"))
        .map_err(|e| err(format!("cannot create {}/tmp: {e}", dir.display())))?;
    let conf_file = dir.join("nginx.conf");
    std::fs::write(&conf_file, text)
        .map_err(|e| err(format!("cannot write {}: {e}", conf_file.display())))?;
    Ok(vec![
        "-p".into(),
        dir.display().to_string(),
        "-c".into(),
        conf_file.display().to_string(),
        "-g".into(),
        format!("pid {}/pid;", dir.display()),
    ])
}

/// What differs between two nginx configurations.
#[derive(Debug, Clone)]
pub struct NginxConf<'a> {
    /// nginx's own directory (logs, temp paths, its `tmp/` made by [`write`](Self::write)),
    /// with the server's certificate and key in `tls/server.pem` and `tls/server.key`
    /// (as [`server_certificate`] makes them there).
    pub dir: &'a Path,
    /// The port on 127.0.0.1.
    pub port: u16,
    /// The directory served at `/`.
    pub root: &'a Path,
}

impl NginxConf<'_> {
    /// `nginx.conf`: one process in the foreground, HTTPS only, static files of `root`
    /// (JSON and zip with their media types), an access log.
    pub fn render(&self) -> String {
        let d = self.dir.display();
        let tls = self.dir.join("tls");
        format!(
            r#"daemon off;
master_process off;
worker_processes 1;
error_log {d}/error.log info;

events {{
    worker_connections 64;
}}

http {{
    types {{
        application/json json;
        application/zip  zip;
        text/plain       txt sig asc;
    }}
    default_type application/octet-stream;
    access_log {d}/access.log;
    client_body_temp_path {d}/tmp/body;
    proxy_temp_path {d}/tmp/proxy;
    fastcgi_temp_path {d}/tmp/fastcgi;
    uwsgi_temp_path {d}/tmp/uwsgi;
    scgi_temp_path {d}/tmp/scgi;
    sendfile on;

    server {{
        listen 127.0.0.1:{port} ssl;
        server_name localhost;
        ssl_certificate {cert};
        ssl_certificate_key {key};
        root {root};
        autoindex off;
    }}
}}
"#,
            port = self.port,
            cert = tls.join("server.pem").display(),
            key = tls.join("server.key").display(),
            root = self.root.display(),
        )
    }

    /// Writes `dir/nginx.conf` and creates `dir/tmp`; returns nginx's arguments to run
    /// it from `dir`, its PID file there.
    pub fn write(&self) -> Result<Vec<String>, FixtureError> {
        write_conf(self.dir, &self.render())
    }
}

/// A Terraform CLI configuration that installs `terraform.local/*/*` providers (rack)
/// from the provider network mirror at `url` and every other provider from its origin.
pub fn network_mirror_cli_config(url: &str) -> String {
    format!(
        r#"disable_checkpoint = true

provider_installation {{
  network_mirror {{
    url     = "{url}"
    include = ["terraform.local/*/*"]
  }}
  direct {{
    exclude = ["terraform.local/*/*"]
  }}
}}
"#
    )
}

/// A running nginx serving a directory over HTTPS. Stopped and removed on drop.
#[derive(Debug)]
pub struct Nginx {
    // Field order matters: nginx stops before its directory is removed.
    daemon: Daemon,
    dir: TempDir,
    /// Where it listens, on 127.0.0.1.
    pub addr: SocketAddr,
    /// `https://127.0.0.1:<port>/`.
    pub url: String,
    /// The PEM file of the CA that signed the server's certificate.
    pub ca_cert: PathBuf,
    /// Time until the port accepted connections.
    pub startup: Duration,
}

impl Nginx {
    /// Serves `root` over HTTPS on a free port of 127.0.0.1.
    pub fn start_https(root: &Path) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let nginx = process::find_binary("nginx", "nginx")?;
        let root = root
            .canonicalize()
            .map_err(|e| err(format!("cannot resolve {}: {e}", root.display())))?;
        let dir = TempDir::new("rack-nginx")?;
        let d = dir.path().to_owned();
        server_certificate(&d, false)?;
        let ca_cert = d.join("tls").join("ca.pem");
        let mut attempt = 0;
        let (daemon, addr) = process::attempts(START_ATTEMPTS, "nginx", || {
            attempt += 1;
            let port = process::free_port()?;
            let mut cmd = Command::new(&nginx);
            cmd.args(
                NginxConf {
                    dir: &d,
                    port,
                    root: &root,
                }
                .write()?,
            );
            let log = d.join(format!("nginx-{attempt}.log"));
            let mut daemon = Daemon::spawn("nginx", cmd, &log)?;
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
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
            url: format!("https://{addr}/"),
            ca_cert,
            startup: started.elapsed(),
        })
    }

    /// [`start_https`](Self::start_https) for a test: panics naming what is missing.
    pub fn started_https(root: &Path) -> Self {
        match Self::start_https(root) {
            Ok(nginx) => nginx,
            Err(e) => panic!("cannot start the nginx fixture: {e}"),
        }
    }

    /// nginx's PID.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The temp dir holding the configuration, the CA and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The access log: one line per request.
    pub fn access_log(&self) -> String {
        std::fs::read_to_string(self.dir().join("access.log")).unwrap_or_default()
    }
}
