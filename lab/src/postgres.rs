//! A real PostgreSQL 15 (Debian's `postgresql-15`) in a temp dir, holding Kea's schema for
//! its host database.
//!
//! The cluster is created by `initdb` and run by `pg_ctl` as the `postgres` system user
//! (PostgreSQL refuses to run as root), listens on 127.0.0.1 on a free port and on a unix
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

/// `program` run as the `postgres` system user when we are root, else as ourselves.
fn as_user(program: &Path, as_postgres: bool) -> Command {
    if as_postgres {
        let mut cmd = Command::new("runuser");
        cmd.args(["-u", "postgres", "--"]).arg(program);
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

    /// [`start`](Self::start), with `pg_stat_statements` loaded
    /// (`shared_preload_libraries`) and created in [`DATABASE`], so that the statements
    /// each role ran can be counted (`SELECT ... FROM pg_stat_statements`, reset with
    /// `SELECT pg_stat_statements_reset()`, both through [`Postgres::sql`]).
    pub fn start_with_statement_stats() -> Result<Self, FixtureError> {
        Self::start_with(true)
    }

    fn start_with(statement_stats: bool) -> Result<Self, FixtureError> {
        let started = Instant::now();
        let initdb = pg_binary("initdb")?;
        let pg_ctl = pg_binary("pg_ctl")?;
        let psql = process::find_binary("psql", PG_PACKAGE)?;
        let kea_admin = process::find_binary("kea-admin", "kea-admin")?;
        let as_postgres = process::run(
            {
                let mut c = Command::new("id");
                c.arg("-u");
                c
            },
            "id -u",
        )?
        .trim()
            == "0";
        if as_postgres {
            process::find_binary("runuser", "util-linux")?;
        }

        let dir = TempDir::new("rack-pg")?;
        let d = dir.path().to_owned();
        std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o700))
            .map_err(|e| err(format!("cannot restrict {}: {e}", d.display())))?;
        if as_postgres {
            let mut cmd = Command::new("chown");
            cmd.arg("postgres:postgres").arg(&d);
            process::run(cmd, "chown postgres (the cluster's dir)")?;
        }
        let data = d.join("data");
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
            .current_dir(&d);
        process::run(cmd, "initdb")?;
        // Written by us (root or the postgres user) into the cluster postgres owns.
        write_owned(&data.join("pg_hba.conf"), pg_hba_conf(), as_postgres)?;

        let password = process::random_token();
        let mut last = None;
        for attempt in 0..START_ATTEMPTS {
            let port = process::free_port()?;
            let log = d.join(format!("postgres-{attempt}.log"));
            let mut options = format!(
                "-k {} -c listen_addresses=127.0.0.1 -p {port} -c fsync=off \
                 -c password_encryption=scram-sha-256",
                d.display()
            );
            if statement_stats {
                options.push_str(" -c shared_preload_libraries=pg_stat_statements");
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
                        pg_ctl: pg_ctl.clone(),
                        data: data.clone(),
                        as_postgres,
                        options,
                    };
                    pg.create_schema(&psql, &kea_admin)?;
                    if statement_stats {
                        pg.psql_superuser(
                            &psql,
                            DATABASE,
                            "CREATE EXTENSION pg_stat_statements;\n",
                        )?;
                    }
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

    /// The role, its database, and Kea's schema through `kea-admin db-init pgsql` (over
    /// TCP with the role's password, given in the environment).
    fn create_schema(&self, psql: &Path, kea_admin: &Path) -> Result<(), FixtureError> {
        // The password is a random hex token: no quoting issues inside the literal.
        let sql = format!(
            "CREATE ROLE {USER} LOGIN PASSWORD '{}';\nCREATE DATABASE {DATABASE} OWNER {USER};\n",
            self.password
        );
        self.psql_superuser(psql, "postgres", &sql)?;
        let mut cmd = Command::new(kea_admin);
        cmd.args(["db-init", "pgsql", "-u", USER, "-n", DATABASE])
            .args(["-h", "127.0.0.1", "-P", &self.addr.port().to_string()])
            .env("KEA_ADMIN_DB_PASSWORD", &self.password)
            .current_dir(self.dir.path());
        let out = process::run(cmd, "kea-admin db-init pgsql")?;
        if !out.contains("13.0") {
            return Err(err(format!(
                "kea-admin db-init pgsql did not report schema 13.0 (Kea 2.2): {out}"
            )));
        }
        Ok(())
    }

    /// Runs `sql` as the superuser in `database`, through the socket; returns the output
    /// (unaligned, tuples only).
    fn psql_superuser(
        &self,
        psql: &Path,
        database: &str,
        sql: &str,
    ) -> Result<String, FixtureError> {
        let mut cmd = Command::new(psql);
        cmd.arg("-h")
            .arg(&self.socket_dir)
            .args(["-p", &self.addr.port().to_string(), "-U", "postgres"])
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

    /// Runs `sql` in [`DATABASE`] as the superuser, behind any client's back (out-of-band
    /// changes, checks of what a client wrote); returns the rows, one a line, columns
    /// separated by `|`.
    pub fn sql(&self, sql: &str) -> Result<String, FixtureError> {
        let psql = process::find_binary("psql", PG_PACKAGE)?;
        self.psql_superuser(&psql, &self.database, sql)
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
        format!(
            r#"{{"type": "postgresql", "name": "{}", "host": "{}", "port": {}, "user": "{}", "password": "{}"}}"#,
            self.database,
            self.socket_dir.display(),
            self.addr.port(),
            self.user,
            self.password
        )
    }
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
