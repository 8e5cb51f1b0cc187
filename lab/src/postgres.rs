//! A real PostgreSQL 15 (Debian's `postgresql-15`) in a temp dir, holding Kea's schema for
//! its host database.
//!
//! The cluster is created by `initdb` and run by `pg_ctl` as the `postgres` system user
//! (PostgreSQL refuses to run as root; `setpriv` switches to it), listens on 127.0.0.1 on a free port and on a unix
//! socket in the temp dir (which a Kea inside a network namespace reaches, as loopback
//! addresses differ between namespaces). One login role with a password owns one
//! database, initialised with `kea-admin db-init pgsql`. Password authentication
//! (scram-sha-256) on both; only the superuser `postgres` is trusted, on the socket, for
//! the fixture's own setup. Passwords go through files and the environment, never on a
//! command line. On drop: `pg_ctl stop -m fast`, then the postmaster killed by its PID if
//! it is still there, then the dir removed.

use crate::process::{self, FixtureError, TempDir, err};
use std::net::{Ipv4Addr, SocketAddr};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// Where Debian 12 installs PostgreSQL 15's server programs (not on PATH).
pub const PG_BIN: &str = "/usr/lib/postgresql/15/bin";
/// The Debian package with the server programs.
const PG_PACKAGE: &str = "postgresql";
/// How long `pg_ctl start` may wait for the server to accept connections.
const START_LIMIT: Duration = Duration::from_secs(30);
/// Tries with a fresh port when the server loses a port race with another test.
const START_ATTEMPTS: usize = 3;
/// The role rack and Kea log in as.
pub const USER: &str = "kea";
/// The database holding Kea's schema.
pub const DATABASE: &str = "kea";

/// A running PostgreSQL with Kea's schema in [`DATABASE`]. Stopped and removed on drop.
#[derive(Debug)]
pub struct Postgres {
    // Field order matters: the server stops before its directory is removed.
    server: Option<Server>,
    dir: TempDir,
    /// The TCP address, on 127.0.0.1.
    pub addr: SocketAddr,
    /// The directory holding the unix socket (`.s.PGSQL.<port>`).
    pub socket_dir: PathBuf,
    /// The login role ([`USER`]).
    pub user: String,
    /// Its password.
    pub password: String,
    /// The database ([`DATABASE`]).
    pub database: String,
    /// `postgresql://kea@127.0.0.1:<port>/kea` (no password in it).
    pub url: String,
    /// Time from `initdb` until the schema was created.
    pub startup: Duration,
    /// With [`Postgres::start_with_tls`]: the PEM certificate of the CA that signed the
    /// server's certificate (for 127.0.0.1); TCP clients must then use TLS.
    pub ca_cert_pem: Option<String>,
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres: bool,
    /// The server options `pg_ctl start -o` was given.
    options: String,
}

/// The postmaster started by `pg_ctl`: stopped by `pg_ctl stop -m fast`, then by its PID.
#[derive(Debug)]
struct Server {
    pg_ctl: PathBuf,
    data: PathBuf,
    as_postgres: bool,
}

impl Server {
    /// `pg_ctl start` with the server `options`, logging to `log`; waits until the server
    /// accepts connections. A failed start is stopped by the guard.
    fn start(
        pg_ctl: &Path,
        data: &Path,
        as_postgres: bool,
        options: &str,
        log: &Path,
    ) -> Result<Self, FixtureError> {
        let server = Self {
            pg_ctl: pg_ctl.to_owned(),
            data: data.to_owned(),
            as_postgres,
        };
        let limit = START_LIMIT.as_secs().to_string();
        let mut cmd = server.ctl(&["-w", "-t", &limit, "-o", options]);
        cmd.arg("-l").arg(log).arg("start");
        if let Some(dir) = data.parent() {
            cmd.current_dir(dir);
        }
        process::run(cmd, "pg_ctl start")
            .map(|_| server)
            .map_err(|e| err(format!("{e}\nlog:\n{}", process::tail(log))))
    }

    fn pid(&self) -> Option<u32> {
        let text = std::fs::read_to_string(self.data.join("postmaster.pid")).ok()?;
        text.lines().next()?.trim().parse().ok()
    }

    fn ctl(&self, args: &[&str]) -> Command {
        let mut cmd = as_user(&self.pg_ctl, self.as_postgres);
        cmd.arg("-D").arg(&self.data).args(args);
        cmd
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let pid = self.pid();
        let stopped = self
            .ctl(&["stop", "-m", "fast", "-w", "-t", "10"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !stopped && let Some(pid) = pid {
            let _ = Command::new("kill")
                .args(["-KILL", &pid.to_string()])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
    }
}

/// `program` run as the `postgres` system user when we are root, else as ourselves. As
/// that user it keeps one capability, to search directories (CAP_DAC_READ_SEARCH, as an
/// ambient capability): a lab's state directory may be under one the `postgres` user
/// cannot enter, such as /root.
fn as_user(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut cmd = Command::new("setpriv");
        cmd.args([
            "--reuid=postgres",
            "--regid=postgres",
            "--init-groups",
            "--inh-caps=+dac_read_search",
            "--ambient-caps=+dac_read_search",
            "--",
        ])
        .arg(program);
        cmd
    } else {
        Command::new(program)
    }
}

/// A PostgreSQL server program: in [`PG_BIN`], else on PATH.
fn pg_binary(name: &str) -> Result<PathBuf, FixtureError> {
    let candidate = Path::new(PG_BIN).join(name);
    if candidate.is_file() {
        return Ok(candidate);
    }
    process::find_binary(name, PG_PACKAGE)
}

/// The client authentication file: the superuser trusted on the socket only (the dir is
/// the fixture's, mode 0700), everyone else by password.
pub fn pg_hba_conf() -> &'static str {
    "# TYPE  DATABASE  USER      ADDRESS        METHOD\n\
     local   all       postgres                 trust\n\
     local   all       all                      scram-sha-256\n\
     host    all       all       127.0.0.1/32   scram-sha-256\n"
}

impl Postgres {
    /// Creates a cluster, starts it on a free port, creates the role and database and
    /// runs `kea-admin db-init pgsql` in it.
    pub fn start() -> Result<Self, FixtureError> {
        Self::start_with(false)
    }

    /// [`Postgres::start`] with TLS on TCP: a throwaway CA signs the server's certificate
    /// (made with `openssl`), and `pg_hba.conf` admits TCP clients over TLS only
    /// (`hostssl`); the unix socket stays as it is.
    pub fn start_with_tls() -> Result<Self, FixtureError> {
        Self::start_with(true)
    }

    fn start_with(tls: bool) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let pg_ctl = pg_binary("pg_ctl")?;
        let psql = process::find_binary("psql", PG_PACKAGE)?;
        let kea_admin = process::find_binary("kea-admin", "kea-admin")?;
        let as_postgres = running_as_root()?;
        let dir = TempDir::new("rack-pg")?;
        let d = dir.path().to_owned();
        let data = init_cluster(&d, as_postgres)?;
        let tls = if tls {
            let hba = pg_hba_conf().replace("\nhost    ", "\nhostssl ");
            write_owned(&data.join("pg_hba.conf"), &hba, as_postgres)?;
            Some(server_certificate(&d, as_postgres)?)
        } else {
            None
        };

        let password = process::random_token();
        let mut last = None;
        for attempt in 0..START_ATTEMPTS {
            let port = process::free_port()?;
            let log = d.join(format!("postgres-{attempt}.log"));
            let mut options = server_options(&d, port);
            if let Some((_, cert, key)) = &tls {
                options.push_str(&tls_options(cert, key));
            }
            match Server::start(&pg_ctl, &data, as_postgres, &options, &log) {
                Ok(server) => {
                    let addr = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
                    let mut pg = Self {
                        server: Some(server),
                        dir,
                        addr,
                        socket_dir: d.clone(),
                        user: USER.to_owned(),
                        password,
                        database: DATABASE.to_owned(),
                        url: format!("postgresql://{USER}@{addr}/{DATABASE}"),
                        startup: Duration::ZERO,
                        ca_cert_pem: tls.as_ref().map(|(ca, _, _)| ca.clone()),
                        pg_ctl: pg_ctl.clone(),
                        data: data.clone(),
                        as_postgres,
                        options,
                    };
                    pg.create_schema(&psql, &kea_admin)?;
                    pg.startup = started.elapsed();
                    return Ok(pg);
                }
                Err(e) => last = Some(e),
            }
        }
        Err(last.unwrap_or_else(|| err("PostgreSQL did not start")))
    }

    /// [`start`](Self::start) for a test: panics naming what is missing.
    pub fn started() -> Self {
        match Self::start() {
            Ok(pg) => {
                eprintln!(
                    "PostgreSQL ready in {:?} on {} (pid {})",
                    pg.startup,
                    pg.addr,
                    pg.pid()
                );
                pg
            }
            Err(e) => panic!("cannot start the PostgreSQL fixture: {e}"),
        }
    }

    /// The role, its database, and Kea's schema.
    fn create_schema(&self, psql: &Path, kea_admin: &Path) -> Result<(), FixtureError> {
        create_kea_schema(
            psql,
            kea_admin,
            &self.socket_dir,
            self.addr.port(),
            &self.password,
        )
    }

    /// Runs `sql` in [`DATABASE`] as the superuser, behind any client's back (out-of-band
    /// changes, checks of what a client wrote); returns the rows, one a line, columns
    /// separated by `|`.
    pub fn sql(&self, sql: &str) -> Result<String, FixtureError> {
        let psql = process::find_binary("psql", PG_PACKAGE)?;
        psql_superuser(
            &psql,
            &self.socket_dir,
            self.addr.port(),
            &self.database,
            sql,
        )
    }

    /// The postmaster's PID (0 once stopped).
    pub fn pid(&self) -> u32 {
        self.server.as_ref().and_then(Server::pid).unwrap_or(0)
    }

    /// The temp dir holding the cluster, the socket and the logs.
    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// Stops the server (`pg_ctl stop -m fast`, then by PID).
    pub fn stop(&mut self) {
        self.server = None;
    }

    /// Starts the server again after [`Postgres::stop`], on the same port and socket,
    /// with the same data.
    pub fn restart(&mut self) -> Result<(), FixtureError> {
        self.server = None;
        let log = self.dir().join("postgres-restart.log");
        self.server = Some(Server::start(
            &self.pg_ctl,
            &self.data,
            self.as_postgres,
            &self.options,
            &log,
        )?);
        Ok(())
    }

    /// The end of the server's logs, for assertion messages.
    pub fn log_tail(&self) -> String {
        let mut out = String::new();
        let names = (0..START_ATTEMPTS)
            .map(|attempt| format!("postgres-{attempt}.log"))
            .chain(["postgres-restart.log".to_owned()]);
        for name in names {
            let log = self.dir().join(name);
            if log.is_file() {
                out.push_str(&process::tail(&log));
            }
        }
        out
    }

    /// kea-dhcp4's `hosts-database` object for this database, reached through the unix
    /// socket (a Kea in a network namespace has a loopback of its own).
    pub fn kea_hosts_database(&self) -> String {
        kea_hosts_database_json(&self.socket_dir, self.addr.port(), &self.password)
    }
}

/// Starts the cluster in `data` with the server `options`, logging to `log`, and leaves it
/// running: for the standing lab, which stops it by its PID. Returns the postmaster's PID.
pub fn start_detached(
    data: &Path,
    as_postgres: bool,
    options: &str,
    log: &Path,
) -> Result<u32, FixtureError> {
    let pg_ctl = pg_binary("pg_ctl")?;
    let server = Server::start(&pg_ctl, data, as_postgres, options, log)?;
    let pid = server.pid();
    // Not stopped on drop: the caller owns the server from here on.
    std::mem::forget(server);
    pid.ok_or_else(|| err(format!("no postmaster.pid in {}", data.display())))
}

/// The server options that turn TLS on with the certificate `cert` and key `key`.
pub fn tls_options(cert: &Path, key: &Path) -> String {
    format!(
        " -c ssl=on -c ssl_cert_file={} -c ssl_key_file={}",
        cert.display(),
        key.display()
    )
}

/// A throwaway CA and a server certificate for 127.0.0.1 signed by it, made with
/// `openssl` in `dir/tls`; the key is the server's (owned by the postgres user when
/// `as_postgres`, mode 0600). Returns the CA's PEM and the certificate's and key's paths.
pub fn server_certificate(
    dir: &Path,
    as_postgres: bool,
) -> Result<(String, PathBuf, PathBuf), FixtureError> {
    let openssl = process::find_binary("openssl", "openssl")?;
    let d = dir.join("tls");
    std::fs::create_dir_all(&d).map_err(|e| err(format!("cannot create {}: {e}", d.display())))?;
    let ext = d.join("server.ext");
    std::fs::write(&ext, "subjectAltName=IP:127.0.0.1,DNS:localhost\n")
        .map_err(|e| err(format!("cannot write {}: {e}", ext.display())))?;
    let ec = [
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
    ];
    let steps: [(&str, Vec<&str>); 3] = [
        (
            "openssl req (the CA)",
            [
                &["req", "-x509"][..],
                &ec[..],
                &["-keyout", "ca.key", "-out", "ca.pem"][..],
            ]
            .concat()
            .into_iter()
            .chain(["-days", "2", "-subj", "/CN=rack test CA"])
            .collect(),
        ),
        (
            "openssl req (the server's request)",
            [
                &["req"][..],
                &ec[..],
                &["-keyout", "server.key", "-out", "server.csr"][..],
            ]
            .concat()
            .into_iter()
            .chain(["-subj", "/CN=127.0.0.1"])
            .collect(),
        ),
        (
            "openssl x509 (the server's certificate)",
            vec![
                "x509",
                "-req",
                "-in",
                "server.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "server.pem",
                "-days",
                "2",
                "-extfile",
                "server.ext",
            ],
        ),
    ];
    for (what, args) in steps {
        let mut cmd = Command::new(&openssl);
        cmd.args(args).current_dir(&d);
        process::run(cmd, what)?;
    }
    let key = d.join("server.key");
    std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o600))
        .map_err(|e| err(format!("cannot chmod {}: {e}", key.display())))?;
    if as_postgres {
        let mut cmd = Command::new("chown");
        cmd.args(["-R", "postgres:postgres"]).arg(&d);
        process::run(cmd, "chown postgres (the server's key)")?;
    }
    let ca = std::fs::read_to_string(d.join("ca.pem"))
        .map_err(|e| err(format!("cannot read the CA certificate: {e}")))?;
    Ok((ca, d.join("server.pem"), key))
}

/// Whether this process runs as root (then the server runs as the `postgres` user, which
/// must exist).
pub fn running_as_root() -> Result<bool, FixtureError> {
    let mut id = Command::new("id");
    id.arg("-u");
    let root = process::run(id, "id -u")?.trim() == "0";
    if root {
        process::find_binary("setpriv", "util-linux")?;
    }
    Ok(root)
}

/// Creates a cluster in `dir/data` (`dir` restricted to its owner, the postgres user when
/// `as_postgres`), with [`pg_hba_conf`]; returns the data directory.
pub fn init_cluster(dir: &Path, as_postgres: bool) -> Result<PathBuf, FixtureError> {
    let initdb = pg_binary("initdb")?;
    std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700))
        .map_err(|e| err(format!("cannot restrict {}: {e}", dir.display())))?;
    if as_postgres {
        let mut cmd = Command::new("chown");
        cmd.arg("postgres:postgres").arg(dir);
        process::run(cmd, "chown postgres (the cluster's dir)")?;
    }
    let data = dir.join("data");
    let mut cmd = as_user(&initdb, as_postgres);
    cmd.arg("-D")
        .arg(&data)
        .args([
            "-U",
            "postgres",
            "-E",
            "UTF8",
            "--no-sync",
            "--no-instructions",
        ])
        .args(["--auth-local=trust", "--auth-host=scram-sha-256"])
        .current_dir(dir);
    process::run(cmd, "initdb")?;
    // Written by us (root or the postgres user) into the cluster postgres owns.
    write_owned(&data.join("pg_hba.conf"), pg_hba_conf(), as_postgres)?;
    Ok(data)
}

/// The server's options: TCP on 127.0.0.1:`port`, the unix socket in `socket_dir`.
pub fn server_options(socket_dir: &Path, port: u16) -> String {
    format!(
        "-k {} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off \
         -c password_encryption=scram-sha-256",
        socket_dir.display()
    )
}

/// Creates the login role [`USER`] with `password`, its database [`DATABASE`], and Kea's
/// schema in it through `kea-admin db-init pgsql` (over TCP with the role's password,
/// given in the environment), on the server listening on 127.0.0.1:`port` and in
/// `socket_dir`.
pub fn create_kea_schema(
    psql: &Path,
    kea_admin: &Path,
    socket_dir: &Path,
    port: u16,
    password: &str,
) -> Result<(), FixtureError> {
    // The password is a random hex token: no quoting issues inside the literal.
    let sql = format!(
        "CREATE ROLE {USER} LOGIN PASSWORD '{password}';\nCREATE DATABASE {DATABASE} OWNER {USER};\n"
    );
    psql_superuser(psql, socket_dir, port, "postgres", &sql)?;
    let mut cmd = Command::new(kea_admin);
    cmd.args(["db-init", "pgsql", "-u", USER, "-n", DATABASE])
        .args(["-h", "127.0.0.1", "-P", &port.to_string()])
        .env("KEA_ADMIN_DB_PASSWORD", password)
        .current_dir(socket_dir);
    let out = process::run(cmd, "kea-admin db-init pgsql")?;
    if !out.contains("13.0") {
        return Err(err(format!(
            "kea-admin db-init pgsql did not report schema 13.0 (Kea 2.2): {out}"
        )));
    }
    Ok(())
}

/// Runs `sql` as the superuser in `database` of the server with its socket in
/// `socket_dir`; returns the output (unaligned, tuples only).
pub fn psql_superuser(
    psql: &Path,
    socket_dir: &Path,
    port: u16,
    database: &str,
    sql: &str,
) -> Result<String, FixtureError> {
    let mut cmd = Command::new(psql);
    cmd.arg("-h")
        .arg(socket_dir)
        .args(["-p", &port.to_string(), "-U", "postgres"])
        .args([
            "-d",
            database,
            "-v",
            "ON_ERROR_STOP=1",
            "-q",
            "-A",
            "-t",
            "-f",
            "-",
        ]);
    process::run_with_input(cmd, sql.as_bytes(), "psql")
}

/// kea-dhcp4's `hosts-database` object for [`DATABASE`] as [`USER`], reached through
/// the unix socket in `socket_dir` (a Kea in a network namespace has a loopback of its
/// own). When the database goes away, Kea keeps serving and reconnects every second for
/// ten minutes (its default is to stop at once).
pub fn kea_hosts_database_json(socket_dir: &Path, port: u16, password: &str) -> String {
    format!(
        r#"{{"type": "postgresql", "name": "{DATABASE}", "host": "{}", "port": {port}, "user": "{USER}", "password": "{password}",
             "max-reconnect-tries": 600, "reconnect-wait-time": 1000, "on-fail": "serve-retry-continue"}}"#,
        socket_dir.display(),
    )
}

/// Writes `text` to `path`, owned by the postgres user when `chown` is set.
fn write_owned(path: &Path, text: &str, chown: bool) -> Result<(), FixtureError> {
    std::fs::write(path, text).map_err(|e| err(format!("cannot write {}: {e}", path.display())))?;
    if chown {
        let mut cmd = Command::new("chown");
        cmd.arg("postgres:postgres").arg(path);
        process::run(cmd, &format!("chown postgres {}", path.display()))?;
    }
    Ok(())
}
