//! A real PowerDNS Authoritative server in a temp dir: sqlite3 backend, HTTP API with an
//! API key on 127.0.0.1, RFC 2136 updates enabled.

use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long pdns_server may take until its API answers.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Tries with fresh ports when pdns loses a port race with another test.
const START_ATTEMPTS: usize = 3;

/// Where Debian ships the sqlite3 schema, newest layout first.
const SCHEMA_PATHS: &[&str] = &[
    "/usr/share/pdns-backend-sqlite3/schema/schema.sqlite3.sql",
    "/usr/share/doc/pdns-backend-sqlite3/schema.sqlite3.sql",
];

/// A running pdns_server. Stopped by PID and its directory removed on drop.
#[derive(Debug)]
pub struct PowerDns {
    // Field order matters: the daemon is stopped before its directory is removed.
    daemon: Daemon,
    dir: TempDir,
    /// Address for DNS over UDP and TCP.
    pub dns_addr: SocketAddr,
    /// Address of the webserver carrying the API.
    pub api_addr: SocketAddr,
    /// Base URL of the webserver, e.g. `http://127.0.0.1:8081`.
    pub api_url: String,
    /// The API key (`X-API-Key`).
    pub api_key: String,
    /// The sqlite3 database file.
    pub database: PathBuf,
    /// Time from spawn until the API answered.
    pub startup: Duration,
}

impl PowerDns {
    /// Creates the database from Debian's schema, starts pdns_server and waits until
    /// `GET /api/v1/servers/localhost` answers 200.
    pub fn start() -> Result<Self, FixtureError> {
        let pdns = process::find_binary("pdns_server", "pdns-server")?;
        let sqlite = process::find_binary("sqlite3", "sqlite3")?;
        let schema = SCHEMA_PATHS
            .iter()
            .map(Path::new)
            .find(|p| p.is_file())
            .ok_or_else(|| {
                err("the PowerDNS sqlite3 schema is missing (schema.sqlite3.sql); install the Debian \
                     package `pdns-backend-sqlite3` (apt-get install -y pdns-backend-sqlite3)")
            })?;
        process::attempts(START_ATTEMPTS, "pdns_server", || {
            Self::start_once(&pdns, &sqlite, schema)
        })
    }

    /// [`start`](Self::start) for a test: panics naming what is missing, and logs how
    /// long pdns_server took to answer.
    pub fn started() -> Self {
        match Self::start() {
            Ok(p) => {
                eprintln!("pdns_server ready in {:?} (pid {})", p.startup, p.pid());
                p
            }
            Err(e) => panic!("cannot start the PowerDNS fixture: {e}"),
        }
    }

    fn start_once(pdns: &Path, sqlite: &Path, schema: &Path) -> Result<Self, FixtureError> {
        let dir = TempDir::new("rack-pdns")?;
        let database = dir.path().join("pdns.sqlite3");
        let schema_sql = std::fs::read_to_string(schema)
            .map_err(|e| err(format!("cannot read {}: {e}", schema.display())))?;
        let mut cmd = Command::new(sqlite);
        cmd.arg(&database).arg(&schema_sql);
        process::run(cmd, "sqlite3 (loading the PowerDNS schema)")?;

        let port = process::free_port()?;
        let web_port = process::free_port()?;
        let dns_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let api_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, web_port));
        let api_key = process::random_token();
        let d = dir.path().display();
        let conf = format!(
            "launch=gsqlite3\n\
             gsqlite3-database={db}\n\
             gsqlite3-dnssec=yes\n\
             local-address=127.0.0.1\n\
             local-port={port}\n\
             api=yes\n\
             api-key={api_key}\n\
             webserver=yes\n\
             webserver-address=127.0.0.1\n\
             webserver-port={web_port}\n\
             webserver-allow-from=127.0.0.0/8\n\
             dnsupdate=yes\n\
             allow-dnsupdate-from=127.0.0.0/8\n\
             socket-dir={d}\n\
             guardian=no\n\
             daemon=no\n\
             disable-syslog=yes\n\
             log-timestamp=yes\n\
             loglevel=6\n\
             default-soa-content=ns1.@ hostmaster.@ 0 10800 3600 604800 300\n",
            db = database.display(),
        );
        std::fs::write(dir.path().join("pdns.conf"), conf)
            .map_err(|e| err(format!("cannot write pdns.conf: {e}")))?;

        let log = dir.path().join("pdns.log");
        let mut cmd = Command::new(pdns);
        cmd.arg(format!("--config-dir={d}"));
        let mut daemon = Daemon::spawn("pdns_server", cmd, &log)?;
        let key = api_key.clone();
        let startup = daemon.wait_until(START_LIMIT, &log, || {
            matches!(
                process::http_get(
                    api_addr,
                    "/api/v1/servers/localhost",
                    &[("X-API-Key", &key)]
                ),
                Some((200, _))
            )
        })?;
        Ok(Self {
            daemon,
            dir,
            dns_addr,
            api_addr,
            api_url: format!("http://{api_addr}"),
            api_key,
            database,
            startup,
        })
    }

    /// The temp dir holding pdns.conf, the database and the log.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// pdns_server's process id.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// The end of pdns_server's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        process::tail(&self.dir.path().join("pdns.log"))
    }
}
