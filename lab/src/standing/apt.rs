//! The standing lab's APT repository: aptly's API (`aptly api serve -no-lock`) on
//! 127.0.0.1 with nginx in front, configured as the tests' fixture is
//! ([`aptly_conf`], [`FrontConf`]): basic auth for `/api/` (user `rack`, a password made
//! once in `lab/aptly/password`), the published tree at `/` for apt clients. The signing
//! key (ed25519, ten years) is made once in `lab/aptly/gnupg`, its passphrase in
//! `lab/aptly/passphrase`, its ID in `lab/aptly/key_id` and its public keyring in
//! `lab/aptly/keyring.gpg`, which `.state/lab/env` names as `RACK_LAB_APT_KEYRING`.

use std::net::{Ipv4Addr, SocketAddr};

use super::{Lab, START_LIMIT, check_port, mkdir};
use crate::aptly::{
    API_USER, FrontConf, aptly_conf, htpasswd_line, make_signing_key, stop_gpg_agent,
};
use crate::named;
use crate::process::{self, FixtureError, err};

/// The name of aptly's PID file (`lab/aptly.pid`) and its directory (`lab/aptly/`).
pub const APTLY: &str = "aptly";
/// The name of the front nginx's PID file and its directory.
pub const FRONT: &str = "aptly-nginx";
/// nginx's port on 127.0.0.1 when `RACK_LAB_APT_PORT` is not set.
pub const DEFAULT_PORT: u16 = 10080;
/// aptly's own port on 127.0.0.1 when `RACK_LAB_APT_API_PORT` is not set.
pub const DEFAULT_API_PORT: u16 = 10081;
/// How long the lab's signing key stays valid, in days.
const KEY_DAYS: u32 = 3650;

fn port(var: &str, default: u16) -> Result<u16, FixtureError> {
    match std::env::var(var) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| err(format!("{var}={v} is not a port number"))),
        _ => Ok(default),
    }
}

/// `RACK_LAB_APT_PORT` (nginx, the URL of the API and of the published tree), or
/// [`DEFAULT_PORT`].
pub fn front_port() -> Result<u16, FixtureError> {
    port("RACK_LAB_APT_PORT", DEFAULT_PORT)
}

impl Lab {
    /// Starts aptly and nginx in front of it unless they run; makes the signing key and
    /// the API password the first time.
    pub(super) fn ensure_apt(&self) -> Result<(), FixtureError> {
        let d = self.lab.join(APTLY);
        let front_dir = self.lab.join(FRONT);
        mkdir(&d)?;
        let home = d.join("gnupg");
        if !d.join("key_id").is_file() {
            let key = make_signing_key(&home, &d, KEY_DAYS)?;
            stop_gpg_agent(&home);
            named::write(&d.join("key_id"), &format!("{}\n", key.key_id))?;
        }
        let password_file = d.join("password");
        if !password_file.is_file() {
            named::write(&password_file, &process::random_token())?;
        }
        let password = std::fs::read_to_string(&password_file)
            .map_err(|e| err(format!("cannot read {}: {e}", password_file.display())))?;
        let api_port = port("RACK_LAB_APT_API_PORT", DEFAULT_API_PORT)?;
        let front_port = front_port()?;
        let root = d.join("root");
        let public = root.join("public");
        mkdir(&public)?;

        if let Some(pid) = self.pid(APTLY) {
            println!("aptly: running (PID {pid})");
        } else {
            check_port(api_port, "aptly's API", "RACK_LAB_APT_API_PORT")?;
            let conf = d.join("aptly.conf");
            named::write(&conf, &aptly_conf(&root))?;
            let aptly = process::find_binary("aptly", "aptly")?;
            let program = [
                aptly.display().to_string(),
                "api".into(),
                "serve".into(),
                format!("-config={}", conf.display()),
                format!("-listen=127.0.0.1:{api_port}"),
                "-no-lock".into(),
            ];
            let program: Vec<&str> = program.iter().map(String::as_str).collect();
            let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, api_port));
            let pid = self.start(
                APTLY,
                &program,
                &[("GNUPGHOME", &home)],
                START_LIMIT,
                &self.lab.join("log").join(format!("{APTLY}.out")),
                || matches!(process::http_get(addr, "/api/version", &[]), Some((200, _))),
            )?;
            println!("aptly: started (PID {pid}), API on 127.0.0.1:{api_port}");
        }

        if let Some(pid) = self.pid(FRONT) {
            println!("aptly's nginx: running (PID {pid}) at http://127.0.0.1:{front_port}/");
            return Ok(());
        }
        check_port(front_port, "nginx in front of aptly", "RACK_LAB_APT_PORT")?;
        let htpasswd = front_dir.join("htpasswd");
        mkdir(&front_dir)?;
        named::write(&htpasswd, &htpasswd_line(API_USER, password.trim()))?;
        let nginx = process::find_binary("nginx", "nginx")?;
        let mut program = vec![nginx.display().to_string()];
        program.extend(
            FrontConf {
                dir: &front_dir,
                port: front_port,
                api_port,
                public: &public,
                htpasswd: &htpasswd,
                tls: false,
            }
            .write()?,
        );
        let program: Vec<&str> = program.iter().map(String::as_str).collect();
        let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, front_port));
        let pid = self.start(
            FRONT,
            &program,
            &[],
            START_LIMIT,
            &front_dir.join("error.log"),
            || process::tcp_open(addr),
        )?;
        println!(
            "aptly's nginx: started (PID {pid}), API and published tree at http://127.0.0.1:{front_port}/"
        );
        Ok(())
    }

    /// Stops the gpg-agent aptly's signing started in the lab's key home.
    pub(super) fn stop_apt_agent(&self) {
        stop_gpg_agent(&self.lab.join(APTLY).join("gnupg"));
    }
}
