//! The standing lab's provider network mirror: nginx serving the mirror directory of
//! `scripts/release` (`<state>/release/mirror`) over HTTPS on 127.0.0.1, with the same
//! configuration as the tests' fixture ([`NginxConf`]) and a certificate from a CA of the
//! lab's own, made anew each time nginx starts. A user of the lab installs rack from it
//! as CI runners do: `terraform init` with the CLI configuration `lab/nginx/terraformrc`
//! (a `network_mirror` block), trusting `lab/nginx/ca-bundle.pem` (the lab's CA and the
//! system's) through `SSL_CERT_FILE`.

use std::net::{Ipv4Addr, SocketAddr};
use std::path::PathBuf;

use super::{Lab, START_LIMIT, check_port, mkdir};
use crate::named;
use crate::nginx::{NginxConf, network_mirror_cli_config};
use crate::postgres::server_certificate;
use crate::process::{self, FixtureError, err};

/// The name of nginx's PID file (`lab/nginx.pid`) and its directory (`lab/nginx/`).
pub const PID_NAME: &str = "nginx";
/// The mirror's port on 127.0.0.1 when `RACK_LAB_MIRROR_PORT` is not set.
pub const DEFAULT_PORT: u16 = 10443;
/// The system's CA bundle (Debian's `ca-certificates`), which the lab's bundle extends so
/// that Terraform still trusts other registries.
const SYSTEM_CA_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// `RACK_LAB_MIRROR_PORT`, or [`DEFAULT_PORT`].
pub fn port() -> Result<u16, FixtureError> {
    match std::env::var("RACK_LAB_MIRROR_PORT") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| err(format!("RACK_LAB_MIRROR_PORT={v} is not a port number"))),
        _ => Ok(DEFAULT_PORT),
    }
}

/// `https://127.0.0.1:<port>/`, the mirror's URL.
pub fn url(port: u16) -> String {
    format!("https://127.0.0.1:{port}/")
}

impl Lab {
    /// The directory nginx serves: `scripts/release --out <state>/release` writes it.
    fn mirror_root(&self) -> PathBuf {
        self.settings.state.join("release").join("mirror")
    }

    /// Starts nginx serving the mirror unless it runs; writes its configuration, the
    /// certificate, the CA bundle and the CLI configuration in `lab/nginx/`.
    pub(super) fn ensure_mirror(&self) -> Result<(), FixtureError> {
        let port = port()?;
        if let Some(pid) = self.pid(PID_NAME) {
            println!(
                "nginx: running (PID {pid}), provider network mirror at {}",
                url(port)
            );
            return Ok(());
        }
        check_port(
            port,
            "nginx, the provider network mirror",
            "RACK_LAB_MIRROR_PORT",
        )?;
        let d = self.lab.join(PID_NAME);
        let root = self.mirror_root();
        mkdir(&root)?;
        let root = root
            .canonicalize()
            .map_err(|e| err(format!("cannot resolve {}: {e}", root.display())))?;
        let (ca, _, _) = server_certificate(&d, false)?;
        let mut bundle = std::fs::read_to_string(SYSTEM_CA_BUNDLE).unwrap_or_default();
        bundle.push_str(&ca);
        named::write(&d.join("ca-bundle.pem"), &bundle)?;
        named::write(
            &d.join("terraformrc"),
            &network_mirror_cli_config(&url(port)),
        )?;
        let nginx = process::find_binary("nginx", "nginx")?;
        let mut program = vec![nginx.display().to_string()];
        program.extend(
            NginxConf {
                dir: &d,
                port,
                root: &root,
            }
            .write()?,
        );
        let program: Vec<&str> = program.iter().map(String::as_str).collect();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let pid = self.start(
            PID_NAME,
            &program,
            &[],
            START_LIMIT,
            &d.join("error.log"),
            || process::tcp_open(addr),
        )?;
        println!(
            "nginx: started (PID {pid}), provider network mirror of {} at {}",
            root.display(),
            url(port)
        );
        Ok(())
    }
}
