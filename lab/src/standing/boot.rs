//! The standing lab's provisioning server: nginx on 127.0.0.1 serving `/boot/` to anyone
//! and taking WebDAV PUT and DELETE there from rack behind basic auth, with the same
//! configuration as the tests' fixture ([`ProvisioningConf`]), in `lab/boot/` (the files
//! under `lab/boot/www/boot/`, the password of user `rack` in `lab/boot/password`, kept
//! across runs). `scripts/up` names it to the provider through `RACK_BOOT_*`.

use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;

use super::{Lab, START_LIMIT, check_port, mkdir};
use crate::named;
use crate::process::{self, FixtureError, err};
use crate::provisioning::ProvisioningConf;

/// The name of its PID file (`lab/nginx-boot.pid`).
pub const PID_NAME: &str = "nginx-boot";
/// Its port on 127.0.0.1 when `RACK_LAB_BOOT_PORT` is not set.
pub const DEFAULT_PORT: u16 = 10082;

/// `RACK_LAB_BOOT_PORT`, or [`DEFAULT_PORT`].
pub fn port() -> Result<u16, FixtureError> {
    match std::env::var("RACK_LAB_BOOT_PORT") {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| err(format!("RACK_LAB_BOOT_PORT={v} is not a port number"))),
        _ => Ok(DEFAULT_PORT),
    }
}

impl Lab {
    /// Starts the provisioning server unless it runs.
    pub(super) fn ensure_boot(&self) -> Result<(), FixtureError> {
        let port = port()?;
        let url = format!("http://127.0.0.1:{port}/boot/");
        if let Some(pid) = self.pid(PID_NAME) {
            println!("nginx-boot: running (PID {pid}), provisioning server at {url}");
            return Ok(());
        }
        check_port(port, "nginx, the provisioning server", "RACK_LAB_BOOT_PORT")?;
        let d = self.lab.join("boot");
        mkdir(&d)?;
        let password_file = d.join("password");
        if !password_file.is_file() {
            named::write(&password_file, &process::random_token())?;
            std::fs::set_permissions(&password_file, std::fs::Permissions::from_mode(0o600))
                .map_err(|e| err(format!("cannot chmod {}: {e}", password_file.display())))?;
        }
        let password = std::fs::read_to_string(&password_file)
            .map_err(|e| err(format!("cannot read {}: {e}", password_file.display())))?;
        let listen = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let nginx = process::find_binary("nginx", "nginx")?;
        let mut program = vec![nginx.display().to_string()];
        program.extend(ProvisioningConf { dir: &d, listen }.write(password.trim())?);
        let program: Vec<&str> = program.iter().map(String::as_str).collect();
        let pid = self.start(
            PID_NAME,
            &program,
            &[],
            START_LIMIT,
            &d.join("error.log"),
            || process::tcp_open(listen),
        )?;
        println!("nginx-boot: started (PID {pid}), provisioning server at {url}");
        Ok(())
    }
}
