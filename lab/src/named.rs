//! A real BIND `named` in a temp dir: one primary zone open to TSIG-signed updates and
//! transfers, new zones allowed, an rndc control channel with two keys, and on request a
//! statistics channel (for benchmarks that count what the server received).

use crate::process::{self, Daemon, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// How long named may take to answer its first query. It answers in ~60 ms here;
/// the margin covers a loaded 2-core machine.
const START_LIMIT: Duration = Duration::from_secs(20);

/// Tries with fresh ports when named loses a port race with another test.
const START_ATTEMPTS: usize = 3;

/// The zone the fixture serves from the start.
pub const INITIAL_ZONE: &str = "farm.";

/// A key as named.conf declares it. `secret` is base64.
#[derive(Clone)]
pub struct Key {
    /// Key name.
    pub name: String,
    /// Algorithm name as in named.conf (`hmac-sha256`...).
    pub algorithm: String,
    /// Base64 secret.
    pub secret: String,
}

impl std::fmt::Debug for Key {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Key")
            .field("name", &self.name)
            .field("algorithm", &self.algorithm)
            .finish_non_exhaustive()
    }
}

/// A running named. Stopped by PID and its directory removed on drop.
#[derive(Debug)]
pub struct Named {
    // Field order matters: the daemon is stopped before its directory is removed.
    daemon: Daemon,
    dir: TempDir,
    /// Address for DNS over UDP and TCP.
    pub dns_addr: SocketAddr,
    /// Address of the rndc control channel.
    pub rndc_addr: SocketAddr,
    /// TSIG key allowed to update (`zonesub ANY`) and transfer the initial zone.
    pub tsig: Key,
    /// rndc key, hmac-sha256.
    pub rndc_key: Key,
    /// A second rndc key, legacy hmac-md5, also accepted by the control channel.
    pub rndc_md5_key: Key,
    /// Directory holding zone files (named's `directory`), writable by named.
    pub zone_dir: PathBuf,
    /// Time from spawn to the first answered SOA query.
    pub startup: Duration,
    /// named's statistics channel (HTTP; counters as JSON at `/json/v1/server`), when
    /// started with [`Named::start_with_statistics`].
    pub stats_addr: Option<SocketAddr>,
}

impl Named {
    /// Starts named with [`INITIAL_ZONE`] and waits until it answers a SOA query and
    /// its control port accepts connections.
    pub fn start() -> Result<Self, FixtureError> {
        Self::start_with(false)
    }

    /// [`start`](Self::start) for a test: panics naming what is missing, and logs how
    /// long named took to answer.
    pub fn started() -> Self {
        match Self::start() {
            Ok(n) => {
                eprintln!("named ready in {:?} (pid {})", n.startup, n.pid());
                n
            }
            Err(e) => panic!("cannot start the named fixture: {e}"),
        }
    }

    /// Like [`start`](Self::start), with a statistics channel on 127.0.0.1 as well
    /// ([`stats_addr`](Self::stats_addr)).
    pub fn start_with_statistics() -> Result<Self, FixtureError> {
        Self::start_with(true)
    }

    fn start_with(statistics: bool) -> Result<Self, FixtureError> {
        let named = process::find_binary("named", "bind9")?;
        let keygen = process::find_binary("tsig-keygen", "bind9")?;
        process::attempts(START_ATTEMPTS, "named", || {
            Self::start_once(&named, &keygen, statistics)
        })
    }

    fn start_once(named: &Path, keygen: &Path, statistics: bool) -> Result<Self, FixtureError> {
        let dir = TempDir::new("rack-named")?;
        let zone_dir = dir.path().join("zones");
        std::fs::create_dir_all(&zone_dir).map_err(|e| err(format!("mkdir zones: {e}")))?;
        let tsig = generate_key(keygen, "rack-tsig", "hmac-sha256")?;
        let rndc_key = generate_key(keygen, "rack-rndc", "hmac-sha256")?;
        let rndc_md5_key = generate_key(keygen, "rack-rndc-md5", "hmac-md5")?;
        let port = process::free_port()?;
        let control_port = process::free_port()?;
        let dns_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
        let rndc_addr = SocketAddr::from((Ipv4Addr::LOCALHOST, control_port));
        let stats_addr = if statistics {
            Some(SocketAddr::from((
                Ipv4Addr::LOCALHOST,
                process::free_port()?,
            )))
        } else {
            None
        };

        write(&zone_dir.join("farm.db"), &soa_zone_text(INITIAL_ZONE, 1))?;
        let zone = format!(
            r#"zone "{INITIAL_ZONE}" {{
    type primary;
    file "farm.db";
    update-policy {{ grant "{tsig}" zonesub ANY; }};
    allow-transfer {{ key "{tsig}"; }};
}};
"#,
            tsig = tsig.name,
        );
        let conf = NamedConf {
            header: "",
            dir: dir.path(),
            zone_dir: &zone_dir,
            dns_port: port,
            keys: &[
                key_decl(&tsig),
                key_decl(&rndc_key),
                key_decl(&rndc_md5_key),
            ],
            control_port,
            control_keys: &[&rndc_key.name, &rndc_md5_key.name],
            statistics: stats_addr,
            zones: &zone,
        }
        .render();
        let conf_path = dir.path().join("named.conf");
        write(&conf_path, &conf)?;

        let log = dir.path().join("named.stderr");
        let mut cmd = Command::new(named);
        cmd.arg("-c")
            .arg(&conf_path)
            .args(["-u", "root", "-f", "-n", "1"]);
        let mut daemon = Daemon::spawn("named", cmd, &log)?;
        let startup = daemon.wait_until(START_LIMIT, &dir.path().join("named.log"), || {
            process::dns_probe(dns_addr, INITIAL_ZONE, Duration::from_millis(100))
                && process::tcp_open(rndc_addr)
                && stats_addr.is_none_or(process::tcp_open)
        })?;
        Ok(Self {
            daemon,
            dir,
            dns_addr,
            rndc_addr,
            tsig,
            rndc_key,
            rndc_md5_key,
            zone_dir,
            startup,
            stats_addr,
        })
    }

    /// The temp dir holding named.conf, logs and the zone dir.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// named's process id.
    pub fn pid(&self) -> u32 {
        self.daemon.pid()
    }

    /// Writes `FILE` in the zone dir: a minimal zone (SOA, NS, the NS's A record) for
    /// `zone`, ready for `rndc addzone`. Returns the file name relative to the zone dir.
    pub fn write_zone_file(&self, zone: &str) -> Result<String, FixtureError> {
        let file = format!("{}.db", zone.trim_end_matches('.'));
        write(&self.zone_dir.join(&file), &soa_zone_text(zone, 1))?;
        Ok(file)
    }

    /// The end of named's log, for assertion messages.
    pub fn log_tail(&self) -> String {
        process::tail(&self.dir.path().join("named.log"))
    }
}

/// named.conf for a server on 127.0.0.1 with no recursion and new zones allowed: the
/// fixture's and the standing lab's share it.
#[derive(Debug)]
pub struct NamedConf<'a> {
    /// Comment lines at the top (each starting with `//`), or empty.
    pub header: &'a str,
    /// named's own files: pid file, session key, logs.
    pub dir: &'a Path,
    /// named's `directory`, holding the zone files.
    pub zone_dir: &'a Path,
    /// DNS port on 127.0.0.1.
    pub dns_port: u16,
    /// Key clauses (`key "..." { ... };` or `include "...";` lines).
    pub keys: &'a [String],
    /// rndc port on 127.0.0.1.
    pub control_port: u16,
    /// Names of the keys the control channel accepts.
    pub control_keys: &'a [&'a str],
    /// A statistics channel, if any.
    pub statistics: Option<SocketAddr>,
    /// Zone clauses, appended at the end.
    pub zones: &'a str,
}

impl NamedConf<'_> {
    /// The text of named.conf.
    pub fn render(&self) -> String {
        let d = self.dir.display();
        let stats = self.statistics.map_or_else(String::new, |a| {
            format!(
                "statistics-channels {{\n    inet {} port {} allow {{ 127.0.0.1; }};\n}};\n",
                a.ip(),
                a.port()
            )
        });
        let keys: String = self.keys.iter().map(|k| format!("{k}\n")).collect();
        let control_keys: String = self
            .control_keys
            .iter()
            .map(|k| format!(" \"{k}\";"))
            .collect();
        format!(
            r#"{header}options {{
    directory "{z}";
    pid-file "{d}/named.pid";
    session-keyfile "{d}/session.key";
    managed-keys-directory "{d}";
    listen-on port {port} {{ 127.0.0.1; }};
    listen-on-v6 {{ none; }};
    recursion no;
    dnssec-validation no;
    notify no;
    allow-new-zones yes;
}};
{keys}controls {{
    inet 127.0.0.1 port {control_port} allow {{ 127.0.0.1; }} keys {{{control_keys} }};
}};
{stats}logging {{
    channel file_log {{ file "{d}/named.log"; severity info; print-time yes; }};
    category default {{ file_log; }};
}};
{zones}"#,
            header = self.header,
            z = self.zone_dir.display(),
            port = self.dns_port,
            control_port = self.control_port,
            zones = self.zones,
        )
    }
}

pub(crate) fn write(path: &Path, text: &str) -> Result<(), FixtureError> {
    std::fs::write(path, text).map_err(|e| err(format!("cannot write {}: {e}", path.display())))
}

fn key_decl(k: &Key) -> String {
    format!(
        "key \"{}\" {{ algorithm {}; secret \"{}\"; }};",
        k.name, k.algorithm, k.secret
    )
}

/// A zone with SOA, NS `ns1.<zone>` and its A record on 127.0.0.1.
pub fn soa_zone_text(zone: &str, serial: u32) -> String {
    let origin = format!("{}.", zone.trim_end_matches('.'));
    format!(
        "$ORIGIN {origin}\n$TTL 300\n\
         @ IN SOA ns1.{origin} hostmaster.{origin} {serial} 3600 600 86400 300\n\
         @ IN NS ns1.{origin}\n\
         ns1 IN A 127.0.0.1\n"
    )
}

/// Runs `tsig-keygen -a ALG NAME` and reads the secret back from its output.
fn generate_key(keygen: &Path, name: &str, algorithm: &str) -> Result<Key, FixtureError> {
    let out = keygen_clause(keygen, name, algorithm)?;
    Ok(Key {
        name: name.to_owned(),
        algorithm: algorithm.to_owned(),
        secret: key_secret(&out)?,
    })
}

/// The key clause `tsig-keygen -a ALG NAME` prints, ready to include in named.conf.
pub fn keygen_clause(keygen: &Path, name: &str, algorithm: &str) -> Result<String, FixtureError> {
    let mut cmd = Command::new(keygen);
    cmd.args(["-a", algorithm, name]);
    process::run(cmd, "tsig-keygen")
}

/// The base64 secret of a key clause.
pub fn key_secret(clause: &str) -> Result<String, FixtureError> {
    clause
        .split("secret \"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .map(str::to_owned)
        .ok_or_else(|| err(format!("no secret in the key clause: {clause}")))
}
