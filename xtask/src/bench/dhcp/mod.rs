//! The DHCP benchmark: `rack_dhcp_lease` resources in one subnet (one `for_each`) against
//! a real Kea 2.2, on both of rack's Kea backends, measured against Terraform's own cost
//! for the same number of `terraform_data` resources and against the raw floor of the
//! backend's work itself:
//!
//! - 500 leases on the config-set backend (reservations in Kea's configuration); the floor
//!   is one `config-set` carrying all 500 reservations and one `config-get` reading them;
//! - 500 leases on the host-database backend (rows of Kea's PostgreSQL host database);
//!   the floor is one transaction inserting the 500 hosts and one `SELECT` reading them;
//! - 5,000 leases on the host database, against 5,000 `terraform_data`, in fewer rounds.
//!
//! Kea 2.2 has no command to add one reservation (`host_cmds` is not in its open-source
//! hooks), so the config-set backend writes reservations by `config-set` of the whole
//! configuration; the question is how many of those an apply takes and what they cost
//! next to Terraform. The host-database backend writes rows, batched per transaction.
//!
//! Commands are counted on the server: kea-dhcp4 logs `Received command '<name>'` at INFO
//! for every command the control agent passes on, and the benchmark counts those lines
//! in its log before and after each Terraform command. Statements are counted in
//! PostgreSQL by `pg_stat_statements`, reset before each command. Nothing else talks to
//! either Kea or to the database. The provider's own view (its debug log: every command
//! with its round trip, every batch of changes with its size) comes from one more,
//! untimed cycle of each backend at the end.
//!
//! Every round runs its cycles in an order that rotates from round to round; each cycle
//! ends where it started, with no reservations in the subnet and no state: a rack cycle
//! clears the subnet with one raw `config-set` or `DELETE` and removes its state file
//! (destroy runs once per backend, in the instrumented cycle). A first round warms up and
//! is not counted, and also warms the 5,000-lease rounds that follow.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

use super::dns::{
    ProviderCpu, apply, children_cpu, clock_ticks, destroy, paired_ratios, plan_no_change,
    remove_state, take_provider_cpu, write_wrapper, yes_no,
};
use super::setup::{Setup, rotating_counted_rounds, rotating_rounds};
use super::stats::{Row, Summary, Target, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::Kea;
use rack_lab::kea::post;

pub(super) mod hostdb;
mod report;
use hostdb::{Database, Statements};
use report::*;

/// Rounds when `--runs` is not given.
pub const DEFAULT_ROUNDS: usize = 3;

/// Leases in the subnet at the DHCP issue's size, on both backends.
const LEASES: usize = 500;

/// Leases of the zone-scale run, on the host database.
const LARGE_LEASES: usize = 5000;

/// Rounds of [`LARGE_LEASES`] when [`ENV_LARGE_RUNS`] does not say: at most this many,
/// and never more than `--runs` (one round there takes minutes).
const DEFAULT_LARGE_ROUNDS: usize = 2;

/// Names the number of rounds of [`LARGE_LEASES`].
const ENV_LARGE_RUNS: &str = "RACK_BENCH_DHCP_LARGE_RUNS";

/// The subnet the benchmark adds to each Kea for the leases: the fixture's own /24 is
/// too small. No interface serves it; Kea keeps its reservations all the same (as it
/// does for relayed subnets).
pub(super) const SUBNET: &str = "10.78.0.0/19";

/// The `id` of [`SUBNET`] in Kea's configuration.
pub(super) const SUBNET_ID: u64 = 2;

/// Names a Terraform `-parallelism` for the applies and destroys of both
/// configurations (default: Terraform's own, 10): how the apply scales when Terraform
/// hands the provider more leases at once.
const ENV_PARALLELISM: &str = "RACK_BENCH_PARALLELISM";

/// The parallelism asked for with [`ENV_PARALLELISM`], if any.
fn parallelism() -> anyhow::Result<Option<u32>> {
    match std::env::var(ENV_PARALLELISM) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .ok()
            .filter(|&n: &u32| n > 0)
            .map(Some)
            .ok_or_else(|| anyhow!("{ENV_PARALLELISM}={v:?} is not a positive number")),
        _ => Ok(None),
    }
}

/// Makes `wd`'s applies and destroys run with `-parallelism=n` (through
/// `TF_CLI_ARGS_apply` and `TF_CLI_ARGS_destroy`, which the workdir sets for Terraform).
fn set_parallelism(wd: &mut Workdir, n: Option<u32>) {
    if let Some(n) = n {
        let arg = format!("-parallelism={n}");
        wd.set_env("TF_CLI_ARGS_apply", arg.clone())
            .set_env("TF_CLI_ARGS_destroy", arg);
    }
}

/// No-change plans per round of each configuration.
const PLANS_PER_ROUND: usize = 2;

/// The DHCP issue's target: the apply stays within this many times the raw floor (one
/// config-set with all 500, or one transaction inserting them) plus the same apply of
/// 500 `terraform_data`.
const FLOOR_FACTOR: f64 = 3.0;

/// The host-database issue's target: the no-change plan of 5,000 leases stays within
/// this many times that of 5,000 `terraform_data`.
const LARGE_PLAN_FACTOR: f64 = 1.3;

/// The DHCP issue's target: a no-change plan makes one config-get per server.
const PLAN_CONFIG_GETS_PER_SERVER: u64 = 1;

/// The host-database issue's target: a no-change plan reads the hosts once per server.
const PLAN_HOST_READS_PER_SERVER: u64 = 1;

/// Servers each configuration uses.
const SERVERS: u64 = 1;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds of 500 leases; each has one apply and [`PLANS_PER_ROUND`] plans of each
    /// configuration and one cycle of each raw floor. The 5,000-lease rounds are fewer
    /// (see [`large_rounds`]).
    pub runs: usize,
}

/// Rounds of [`LARGE_LEASES`]: [`ENV_LARGE_RUNS`] (0: none), else `runs` up to
/// [`DEFAULT_LARGE_ROUNDS`].
fn large_rounds(runs: usize) -> anyhow::Result<usize> {
    match std::env::var(ENV_LARGE_RUNS) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .ok()
            .ok_or_else(|| anyhow!("{ENV_LARGE_RUNS}={v:?} is not a number")),
        _ => Ok(runs.min(DEFAULT_LARGE_ROUNDS)),
    }
}

/// The two ways rack keeps Kea's reservations.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Backend {
    /// In Kea's configuration, written by `config-set`.
    ConfigSet,
    /// In Kea's PostgreSQL host database.
    HostDb,
}

/// Every timed command, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    RackApply,
    RackPlan,
    DataApply,
    DataPlan,
    RawSet,
    RawGet,
    RawClear,
    DbApply,
    DbPlan,
    DbInsert,
    DbSelect,
    DbDelete,
    LargeDbApply,
    LargeDbPlan,
    LargeDataApply,
    LargeDataPlan,
}

const STEPS: usize = 16;

impl Step {
    fn what(self) -> String {
        let large = LARGE_LEASES;
        match self {
            Step::RackApply => {
                format!("(1) `terraform apply`, {LEASES} `rack_dhcp_lease`, config-set")
            }
            Step::RackPlan => {
                format!("(2) no-change `terraform plan`, {LEASES} leases, config-set")
            }
            Step::DataApply => format!("`terraform apply`, {LEASES} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {LEASES} `terraform_data`"),
            Step::RawSet => format!("(3) one `config-set` adding {LEASES} reservations"),
            Step::RawGet => format!("(3) one `config-get` ({LEASES} reservations)"),
            Step::RawClear => format!("one `config-set` removing {LEASES} reservations"),
            Step::DbApply => {
                format!("(5) `terraform apply`, {LEASES} `rack_dhcp_lease`, host database")
            }
            Step::DbPlan => {
                format!("(6) no-change `terraform plan`, {LEASES} leases, host database")
            }
            Step::DbInsert => format!("(7) one transaction inserting {LEASES} hosts"),
            Step::DbSelect => format!("(7) one `SELECT` of {LEASES} hosts"),
            Step::DbDelete => format!("one `DELETE` of {LEASES} hosts"),
            Step::LargeDbApply => {
                format!("(8) `terraform apply`, {large} `rack_dhcp_lease`, host database")
            }
            Step::LargeDbPlan => {
                format!("(9) no-change `terraform plan`, {large} leases, host database")
            }
            Step::LargeDataApply => format!("`terraform apply`, {large} `terraform_data`"),
            Step::LargeDataPlan => format!("no-change `terraform plan`, {large} `terraform_data`"),
        }
    }

    /// Whether the benchmark itself sent it (no Terraform, no provider).
    fn is_raw(self) -> bool {
        matches!(
            self,
            Step::RawSet
                | Step::RawGet
                | Step::RawClear
                | Step::DbInsert
                | Step::DbSelect
                | Step::DbDelete
        )
    }
}

/// The cycles of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Rack,
    Data,
    Raw,
    HostDb,
    HostDbRaw,
    LargeHostDb,
    LargeData,
}

/// The cycles of a round of [`LEASES`].
const CYCLES: [Cycle; 5] = [
    Cycle::Rack,
    Cycle::Data,
    Cycle::Raw,
    Cycle::HostDb,
    Cycle::HostDbRaw,
];

/// The cycles of a round of [`LARGE_LEASES`].
const LARGE_CYCLES: [Cycle; 2] = [Cycle::LargeHostDb, Cycle::LargeData];

/// Commands kea-dhcp4 received, from its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    /// Every command.
    pub(super) commands: u64,
    pub(super) config_get: u64,
    config_set: u64,
    config_write: u64,
    list_commands: u64,
}

impl Counters {
    /// Counts the `Received command 'NAME'` lines of kea-dhcp4's log.
    fn parse(log: &str) -> Self {
        let mut c = Self::default();
        for name in log.lines().filter_map(|l| {
            let rest = l.split_once("Received command '")?.1;
            rest.split_once('\'').map(|(name, _)| name)
        }) {
            c.commands += 1;
            match name {
                "config-get" => c.config_get += 1,
                "config-set" => c.config_set += 1,
                "config-write" => c.config_write += 1,
                "list-commands" => c.list_commands += 1,
                _ => {}
            }
        }
        c
    }

    fn since(self, before: Self) -> Self {
        Self {
            commands: self.commands.saturating_sub(before.commands),
            config_get: self.config_get.saturating_sub(before.config_get),
            config_set: self.config_set.saturating_sub(before.config_set),
            config_write: self.config_write.saturating_sub(before.config_write),
            list_commands: self.list_commands.saturating_sub(before.list_commands),
        }
    }
}

/// The Kea under test.
pub(super) struct Server {
    pub(super) kea: Kea,
    log: PathBuf,
}

impl Server {
    /// Starts the fixture (looking reservations up in the host database `db` too, when
    /// given) and adds [`SUBNET`] to it, with a log that does not rotate during the run.
    pub(super) fn start(db: Option<&Database>) -> anyhow::Result<Self> {
        let kea = match db {
            None => Kea::start(),
            Some(db) => Kea::start_with_hosts_database(&db.pg.kea_hosts_database()),
        }
        .map_err(|e| anyhow!("Cannot start Kea for the benchmark: {e}"))?;
        let log = kea.dir().join("kea-dhcp4.log");
        let server = Self { kea, log };
        let mut config = server.config_get()?.0;
        let dhcp4 = config
            .get_mut("Dhcp4")
            .ok_or_else(|| anyhow!("Kea's configuration has no Dhcp4"))?;
        if let Some(db) = db {
            // As the fixture wrote it: what config-get answers may hide the password.
            dhcp4["hosts-database"] = serde_json::from_str(&db.pg.kea_hosts_database())
                .context("The fixture's hosts-database is not JSON")?;
        }
        let subnets = dhcp4
            .get_mut("subnet4")
            .and_then(Value::as_array_mut)
            .ok_or_else(|| anyhow!("Kea's configuration has no subnet4 list"))?;
        subnets.push(json!({"id": SUBNET_ID, "subnet": SUBNET, "reservations": []}));
        // Kea rotates its log at 10 MB by default; the counts need one file.
        dhcp4["loggers"] = json!([{
            "name": "kea-dhcp4",
            "output_options": [{"output": server.log.display().to_string(), "maxsize": 1_073_741_824_u64}],
            "severity": "INFO"
        }]);
        server.config_set(&config)?;
        Ok(server)
    }

    /// Sends one command and returns its answer's first element and the round trip in
    /// seconds; fails unless Kea answered result 0.
    fn command(&self, command: &Value) -> anyhow::Result<(Value, f64)> {
        let body = command.to_string();
        let start = Instant::now();
        let (status, text) = post(
            self.kea.agent_addr,
            Some((&self.kea.username, &self.kea.password)),
            &body,
        )
        .ok_or_else(|| anyhow!("No answer from kea-ctrl-agent at {}", self.kea.url))?;
        let elapsed = start.elapsed().as_secs_f64();
        if status != 200 {
            bail!("kea-ctrl-agent answered HTTP {status}: {text}");
        }
        let answer: Value =
            serde_json::from_str(&text).context("kea-ctrl-agent's answer is not JSON")?;
        let first = answer.get(0).cloned().unwrap_or(answer);
        if first.get("result").and_then(Value::as_i64) != Some(0) {
            bail!(
                "Kea refused {}: {first}\n{}",
                command["command"],
                self.kea.log_tail()
            );
        }
        Ok((first, elapsed))
    }

    /// The running configuration (without its `hash`) and the round trip.
    fn config_get(&self) -> anyhow::Result<(Value, f64)> {
        let (answer, t) = self.command(&json!({"command": "config-get", "service": ["dhcp4"]}))?;
        let mut config = answer
            .get("arguments")
            .cloned()
            .ok_or_else(|| anyhow!("config-get answered no arguments"))?;
        if let Some(m) = config.as_object_mut() {
            m.remove("hash");
        }
        Ok((config, t))
    }

    fn config_set(&self, config: &Value) -> anyhow::Result<f64> {
        self.command(&json!({"command": "config-set", "service": ["dhcp4"], "arguments": config}))
            .map(|(_, t)| t)
    }

    /// `config` with the reservations of [`SUBNET`] replaced by `reservations`.
    fn with_reservations(config: &Value, reservations: Vec<Value>) -> anyhow::Result<Value> {
        let mut config = config.clone();
        let subnet = config["Dhcp4"]["subnet4"]
            .as_array_mut()
            .and_then(|l| l.iter_mut().find(|s| s["subnet"].as_str() == Some(SUBNET)))
            .ok_or_else(|| anyhow!("Kea's configuration has no subnet {SUBNET}"))?;
        subnet["reservations"] = Value::Array(reservations);
        Ok(config)
    }

    /// Empties [`SUBNET`] with one config-set (untimed).
    fn clear(&self) -> anyhow::Result<f64> {
        let (config, _) = self.config_get()?;
        self.config_set(&Self::with_reservations(&config, Vec::new())?)
    }

    /// How many reservations [`SUBNET`] holds.
    fn reservation_count(&self) -> anyhow::Result<usize> {
        let (config, _) = self.config_get()?;
        Ok(config["Dhcp4"]["subnet4"]
            .as_array()
            .and_then(|l| l.iter().find(|s| s["subnet"].as_str() == Some(SUBNET)))
            .and_then(|s| s["reservations"].as_array())
            .map_or(0, Vec::len))
    }

    fn counters(&self) -> anyhow::Result<Counters> {
        let text = std::fs::read_to_string(&self.log)
            .with_context(|| format!("Cannot read kea-dhcp4's log {}", self.log.display()))?;
        Ok(Counters::parse(&text))
    }

    /// CPU seconds (user + system) kea-dhcp4 and kea-ctrl-agent have used so far.
    fn kea_cpu(&self, ticks_per_second: f64) -> anyhow::Result<f64> {
        let mut total = 0.0;
        for (name, pid) in [
            ("kea-dhcp4", self.kea.dhcp4_pid()),
            ("kea-ctrl-agent", self.kea.agent_pid()),
        ] {
            let path = format!("/proc/{pid}/stat");
            let stat = std::fs::read_to_string(&path)
                .with_context(|| format!("Cannot read {path} ({name})"))?;
            total += process_cpu(&stat)
                .ok_or_else(|| anyhow!("Unexpected {path} ({name}): {stat}"))?
                / ticks_per_second;
        }
        Ok(total)
    }

    /// Runs `f` and returns its result with the commands kea-dhcp4 received meanwhile.
    pub(super) fn counting<T>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Counters)> {
        let before = self.counters()?;
        let value = f()?;
        let after = self.counters()?;
        Ok((value, after.since(before)))
    }
}

/// utime + stime, in clock ticks, from a `/proc/<pid>/stat` line.
fn process_cpu(stat: &str) -> Option<f64> {
    // The fields after the command name (which may hold spaces) start at field 3.
    let fields: Vec<&str> = stat.rsplit_once(") ")?.1.split_whitespace().collect();
    let ticks = |i: usize| fields.get(i - 3)?.parse::<f64>().ok();
    Some(ticks(14)? + ticks(15)?)
}

/// MAC, address and hostname of lease `i`, as every configuration and the raw floors
/// compute them.
pub(super) fn lease(i: usize) -> (String, String, String) {
    let n = i + 10;
    (
        format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256),
        format!("10.78.{}.{}", n / 256, n % 256),
        format!("host-{i:03}"),
    )
}

/// The config-set floor's reservations: the same [`LEASES`] as Kea entries.
fn raw_reservations() -> Vec<Value> {
    (0..LEASES)
        .map(|i| {
            let (mac, ip, hostname) = lease(i);
            json!({"hw-address": mac, "ip-address": ip, "hostname": hostname})
        })
        .collect()
}

/// The `n` leases every configuration iterates over (the same values as [`lease`]).
/// Terraform's `range` makes at most 1024 numbers, so they come in chunks of 1000.
fn leases_local(n: usize) -> String {
    let chunks = n.div_ceil(1000);
    format!(
        "locals {{\n  leases = {{\n    for i in flatten([for c in range({chunks}) : \
         range(c * 1000, min({n}, c * 1000 + 1000))]) :\n    format(\"host-%03d\", i) => {{\n      \
         mac = format(\"02:00:00:00:%02x:%02x\", floor(i / 256), i % 256)\n      \
         ip  = cidrhost(\"{SUBNET}\", i + 10)\n    }}\n  }}\n}}\n"
    )
}

fn rack_main_tf(n: usize) -> String {
    format!(
        "terraform {{\n  required_providers {{\n    rack = {{ source = \"terraform.local/rack/rack\" }}\n  }}\n}}\n\n\
         provider \"rack\" {{}}\n\n{}\n\
         resource \"rack_dhcp_lease\" \"host\" {{\n  for_each = local.leases\n\n  \
         subnet   = \"{SUBNET}\"\n  mac      = each.value.mac\n  ip       = each.value.ip\n  \
         hostname = each.key\n}}\n",
        leases_local(n)
    )
}

/// The same `n` instances as `terraform_data`: Terraform's cost with no provider work.
fn data_main_tf(n: usize) -> String {
    format!(
        "{}\nresource \"terraform_data\" \"host\" {{\n  for_each = local.leases\n\n  \
         input = {{\n    mac      = each.value.mac\n    ip       = each.value.ip\n    \
         hostname = each.key\n  }}\n}}\n",
        leases_local(n)
    )
}

/// A workdir of `n` leases whose provider reaches `server` through `RACK_DHCP_*`, and
/// its host database `db` when given.
fn rack_workdir(
    cli_config: &str,
    server: &Server,
    db: Option<&Database>,
    n: usize,
    debug_log: bool,
) -> Workdir {
    let mut wd = Workdir::with_cli_config_text(cli_config);
    let kea = &server.kea;
    wd.set_env("RACK_DHCP_KEA_URL", kea.url.clone())
        .set_env("RACK_DHCP_KEA_USERNAME", kea.username.clone())
        .set_env("RACK_DHCP_KEA_PASSWORD", kea.password.clone());
    if let Some(db) = db {
        wd.set_env("RACK_DHCP_KEA_HOSTS_DATABASE_URL", db.pg.url.clone())
            .set_env(
                "RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD",
                db.pg.password.clone(),
            );
    }
    if debug_log {
        wd.set_env("TF_LOG_PROVIDER", "DEBUG");
    }
    set_parallelism(&mut wd, parallelism().ok().flatten());
    wd.write_main(&rack_main_tf(n));
    wd
}

/// A workdir of `n` `terraform_data`.
fn data_workdir(n: usize, parallelism: Option<u32>) -> Workdir {
    let mut wd = Workdir::without_provider();
    set_parallelism(&mut wd, parallelism);
    wd.write_main(&data_main_tf(n));
    wd
}

/// Both Keas and the host database.
struct Servers {
    /// The Kea whose reservations are in its configuration.
    config_set: Server,
    /// The Kea that looks reservations up in [`Servers::db`].
    host_db: Server,
    db: Database,
}

impl Servers {
    fn of(&self, backend: Backend) -> &Server {
        match backend {
            Backend::ConfigSet => &self.config_set,
            Backend::HostDb => &self.host_db,
        }
    }

    /// The database, for the host-database backend.
    fn db(&self, backend: Backend) -> Option<&Database> {
        (backend == Backend::HostDb).then_some(&self.db)
    }

    /// How many reservations [`SUBNET`] holds on `backend`.
    fn reservation_count(&self, backend: Backend) -> anyhow::Result<usize> {
        match backend {
            Backend::ConfigSet => self.config_set.reservation_count(),
            Backend::HostDb => self.db.count(),
        }
    }

    /// Empties [`SUBNET`] on `backend` with one raw command (untimed).
    fn clear(&self, backend: Backend) -> anyhow::Result<()> {
        match backend {
            Backend::ConfigSet => self.config_set.clear().map(|_| ()),
            Backend::HostDb => self.db.delete().map(|_| ()),
        }
    }
}

/// Wall time, Kea commands, statements and CPU of one command.
#[derive(Debug, Clone, Copy)]
struct Measured {
    seconds: f64,
    commands: Counters,
    /// What the provider ran in PostgreSQL (host-database and 5,000-lease steps).
    statements: Option<Statements>,
    cpu: f64,
    /// kea-dhcp4 and kea-ctrl-agent together.
    kea_cpu: f64,
    provider: Option<ProviderCpu>,
}

#[derive(Debug, Default, Clone)]
struct StepSamples {
    seconds: Vec<f64>,
    commands: Vec<Counters>,
    statements: Vec<Statements>,
    cpu: Vec<f64>,
    kea_cpu: Vec<f64>,
    provider_cpu: Vec<f64>,
    provider_starts: Vec<f64>,
}

#[derive(Debug, Default)]
struct Samples {
    steps: [StepSamples; STEPS],
}

impl Samples {
    fn push(&mut self, step: Step, m: Measured) {
        let s = &mut self.steps[step as usize];
        s.seconds.push(m.seconds);
        s.commands.push(m.commands);
        if let Some(st) = m.statements {
            s.statements.push(st);
        }
        if !step.is_raw() {
            s.cpu.push(m.cpu);
        }
        s.kea_cpu.push(m.kea_cpu);
        if let Some(p) = m.provider {
            s.provider_cpu.push(p.seconds);
            s.provider_starts.push(p.starts as f64);
        }
    }

    fn of(&self, step: Step) -> &StepSamples {
        &self.steps[step as usize]
    }
}

struct Workdirs {
    /// [`LEASES`] on the config-set backend.
    rack: Workdir,
    /// [`LEASES`] `terraform_data`.
    data: Workdir,
    /// [`LEASES`] on the host database.
    host_db: Workdir,
    /// [`LARGE_LEASES`] on the host database.
    large_host_db: Workdir,
    /// [`LARGE_LEASES`] `terraform_data`.
    large_data: Workdir,
    times: PathBuf,
}

/// Runs one Terraform command and measures it: Kea commands on `server`, statements in
/// `db` when given, CPU.
fn measure(
    server: &Server,
    db: Option<&Database>,
    times: &std::path::Path,
    ticks: f64,
    command: impl FnOnce() -> anyhow::Result<CmdResult>,
) -> anyhow::Result<(Measured, CmdResult)> {
    if let Some(db) = db {
        db.reset_statements()?;
    }
    take_provider_cpu(times)?;
    let cpu_before = children_cpu(ticks)?;
    let kea_before = server.kea_cpu(ticks)?;
    let (result, commands) = server.counting(command)?;
    let cpu = children_cpu(ticks)? - cpu_before;
    let kea_cpu = server.kea_cpu(ticks)? - kea_before;
    let provider = take_provider_cpu(times)?;
    let statements = db.map(Database::statements).transpose()?;
    Ok((
        Measured {
            seconds: result.elapsed.as_secs_f64(),
            commands,
            statements,
            cpu,
            kea_cpu,
            provider: (provider.starts > 0).then_some(provider),
        },
        result,
    ))
}

/// What a Terraform cycle runs: its workdir, its steps, the backend it writes to (none
/// for `terraform_data`) and the leases it holds.
struct TerraformCycle<'a> {
    wd: &'a Workdir,
    apply: Step,
    plan: Step,
    backend: Option<Backend>,
    leases: usize,
}

impl<'a> TerraformCycle<'a> {
    fn of(cycle: Cycle, wds: &'a Workdirs) -> Option<Self> {
        let (wd, apply, plan, backend, leases) = match cycle {
            Cycle::Rack => (
                &wds.rack,
                Step::RackApply,
                Step::RackPlan,
                Some(Backend::ConfigSet),
                LEASES,
            ),
            Cycle::Data => (&wds.data, Step::DataApply, Step::DataPlan, None, LEASES),
            Cycle::HostDb => (
                &wds.host_db,
                Step::DbApply,
                Step::DbPlan,
                Some(Backend::HostDb),
                LEASES,
            ),
            Cycle::LargeHostDb => (
                &wds.large_host_db,
                Step::LargeDbApply,
                Step::LargeDbPlan,
                Some(Backend::HostDb),
                LARGE_LEASES,
            ),
            Cycle::LargeData => (
                &wds.large_data,
                Step::LargeDataApply,
                Step::LargeDataPlan,
                None,
                LARGE_LEASES,
            ),
            Cycle::Raw | Cycle::HostDbRaw => return None,
        };
        Some(Self {
            wd,
            apply,
            plan,
            backend,
            leases,
        })
    }
}

fn run_cycle(
    cycle: Cycle,
    servers: &Servers,
    wds: &Workdirs,
    ticks: f64,
    samples: &mut Samples,
    keep: bool,
) -> anyhow::Result<()> {
    let mut got: Vec<(Step, Measured)> = Vec::new();
    // One command the benchmark sends itself, with Kea's CPU meanwhile.
    let tool = |server: &Server, f: &dyn Fn() -> anyhow::Result<f64>| -> anyhow::Result<Measured> {
        let kea_before = server.kea_cpu(ticks)?;
        let (seconds, commands) = server.counting(f)?;
        Ok(Measured {
            seconds,
            commands,
            statements: None,
            cpu: 0.0,
            kea_cpu: server.kea_cpu(ticks)? - kea_before,
            provider: None,
        })
    };
    if let Some(c) = TerraformCycle::of(cycle, wds) {
        // `terraform_data` is measured beside the Kea of the rack configuration it is the
        // baseline of (it sends nothing to either).
        let backend = c.backend.unwrap_or(if c.leases == LEASES {
            Backend::ConfigSet
        } else {
            Backend::HostDb
        });
        let (server, db) = (servers.of(backend), servers.db(backend));
        let (m, _) = measure(server, db, &wds.times, ticks, || apply(c.wd))?;
        got.push((c.apply, m));
        if let Some(backend) = c.backend {
            let n = servers.reservation_count(backend)?;
            if n != c.leases {
                bail!(
                    "After the apply the subnet holds {n} reservations, not {}",
                    c.leases
                );
            }
        }
        for _ in 0..PLANS_PER_ROUND {
            let (m, _) = measure(server, db, &wds.times, ticks, || plan_no_change(c.wd))?;
            got.push((c.plan, m));
        }
        if let Some(backend) = c.backend {
            servers.clear(backend)?;
        }
        remove_state(c.wd)?;
    } else if cycle == Cycle::Raw {
        let server = &servers.config_set;
        let (base, _) = server.config_get()?;
        let full = Server::with_reservations(&base, raw_reservations())?;
        got.push((Step::RawSet, tool(server, &|| server.config_set(&full))?));
        got.push((
            Step::RawGet,
            tool(server, &|| server.config_get().map(|(_, t)| t))?,
        ));
        let empty = Server::with_reservations(&base, Vec::new())?;
        got.push((Step::RawClear, tool(server, &|| server.config_set(&empty))?));
    } else {
        let (server, db) = (&servers.host_db, &servers.db);
        got.push((Step::DbInsert, tool(server, &|| db.insert(LEASES))?));
        got.push((Step::DbSelect, tool(server, &|| db.select(LEASES))?));
        got.push((Step::DbDelete, tool(server, &|| db.delete())?));
    }
    if keep {
        for (step, m) in got {
            samples.push(step, m);
        }
    }
    Ok(())
}

/// What the provider's debug log says it sent during one command.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
struct ProviderView {
    /// "Kea command answered" events.
    commands: u64,
    config_get: u64,
    config_set: u64,
    config_write: u64,
    /// "Kea reservation batch done" events: config-sets that were accepted.
    batches: u64,
    /// Changes those batches carried.
    changes: u64,
    /// The largest batch.
    largest: u64,
    /// Sum of the round trips of every command, ms.
    command_ms: u64,
    /// The same sums for each of the three configuration commands, ms.
    config_get_ms: u64,
    config_set_ms: u64,
    config_write_ms: u64,
    /// "read the Kea hosts database" events: reads of every host that filled the cache.
    db_reads: u64,
    /// "wrote a batch to the Kea hosts database" events: transactions that wrote.
    db_batches: u64,
    /// Hosts those transactions inserted, updated or deleted.
    db_changes: u64,
    /// The largest of them.
    db_largest: u64,
}

impl ProviderView {
    fn parse(log: &str) -> Self {
        let field = |line: &str, key: &str| -> Option<String> {
            line.split([' ', '\t', ','])
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .map(|v| v.trim_matches('"').to_owned())
        };
        let number = |line: &str, key: &str| -> u64 {
            field(line, key).and_then(|v| v.parse().ok()).unwrap_or(0)
        };
        let mut view = Self::default();
        for line in log
            .lines()
            .filter(|l| l.contains("provider.terraform-provider-rack"))
        {
            if line.contains("Kea command answered") {
                let ms = number(line, "elapsed_ms");
                view.commands += 1;
                view.command_ms += ms;
                match field(line, "command").as_deref() {
                    Some("config-get") => {
                        (view.config_get, view.config_get_ms) =
                            (view.config_get + 1, view.config_get_ms + ms)
                    }
                    Some("config-set") => {
                        (view.config_set, view.config_set_ms) =
                            (view.config_set + 1, view.config_set_ms + ms)
                    }
                    Some("config-write") => {
                        (view.config_write, view.config_write_ms) =
                            (view.config_write + 1, view.config_write_ms + ms)
                    }
                    _ => {}
                }
            } else if line.contains("Kea reservation batch done") {
                let changes = number(line, "changes");
                view.batches += 1;
                view.changes += changes;
                view.largest = view.largest.max(changes);
            } else if line.contains("read the Kea hosts database") {
                view.db_reads += 1;
            } else if line.contains("wrote a batch to the Kea hosts database") {
                let changes =
                    number(line, "inserted") + number(line, "updated") + number(line, "deleted");
                view.db_batches += 1;
                view.db_changes += changes;
                view.db_largest = view.db_largest.max(changes);
            }
        }
        view
    }
}

#[derive(Debug, Clone, Copy)]
struct Observed {
    view: ProviderView,
    measured: Measured,
}

struct Instrumented {
    apply: Observed,
    plan: Observed,
    destroy: Observed,
}

/// The instrumented cycle of each backend.
struct Views {
    config_set: Instrumented,
    host_db: Instrumented,
}

/// One more cycle of [`LEASES`] on `backend` with the provider's debug log: apply,
/// no-change plan, destroy.
fn instrumented(
    cli_config: &str,
    backend: Backend,
    servers: &Servers,
    times: &std::path::Path,
    ticks: f64,
) -> anyhow::Result<Instrumented> {
    let (server, db) = (servers.of(backend), servers.db(backend));
    let wd = rack_workdir(cli_config, server, db, LEASES, true);
    let one = |f: &dyn Fn(&Workdir) -> anyhow::Result<CmdResult>| {
        measure(server, db, times, ticks, || f(&wd)).map(|(measured, r)| Observed {
            view: ProviderView::parse(&r.stderr),
            measured,
        })
    };
    let result = Instrumented {
        apply: one(&apply)?,
        plan: one(&plan_no_change)?,
        destroy: one(&destroy)?,
    };
    let left = servers.reservation_count(backend)?;
    if left != 0 {
        bail!("terraform destroy left {left} reservations in {SUBNET}");
    }
    Ok(result)
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let large_runs = large_rounds(opts.runs)?;
    let ticks = clock_ticks();

    eprintln!("bench: starting PostgreSQL and two Keas (config-set, host database)");
    let db = Database::start()?;
    let servers = Servers {
        config_set: Server::start(None)?,
        host_db: Server::start(Some(&db))?,
        db,
    };
    let kea_version = servers
        .config_set
        .command(&json!({"command": "version-get", "service": ["dhcp4"]}))
        .ok()
        .and_then(|(a, _)| a.get("text").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let pg_version = servers
        .db
        .pg
        .sql("SHOW server_version;")
        .map(|v| v.trim().to_owned())
        .unwrap_or_else(|_| "?".to_owned());
    let wrapper_dir = tempfile::Builder::new()
        .prefix("rack-bench-dhcp-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let times = wrapper_dir.path().join("times");
    write_wrapper(wrapper_dir.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(wrapper_dir.path());
    let parallelism = parallelism()?;
    let hostdb = |n| rack_workdir(&cli_config, &servers.host_db, Some(&servers.db), n, false);
    let wds = Workdirs {
        rack: rack_workdir(&cli_config, &servers.config_set, None, LEASES, false),
        data: data_workdir(LEASES, parallelism),
        host_db: hostdb(LEASES),
        large_host_db: hostdb(LARGE_LEASES),
        large_data: data_workdir(LARGE_LEASES, parallelism),
        times,
    };

    let mut samples = Samples::default();
    rotating_rounds(opts.runs, &CYCLES, |cycle, counted| {
        run_cycle(cycle, &servers, &wds, ticks, &mut samples, counted)
    })?;
    if large_runs > 0 {
        eprintln!("bench: {LARGE_LEASES} leases, {large_runs} rounds");
        rotating_counted_rounds(large_runs, &LARGE_CYCLES, |cycle, counted| {
            run_cycle(cycle, &servers, &wds, ticks, &mut samples, counted)
        })?;
    }
    eprintln!("bench: one more cycle of each backend with the provider's debug log, and destroy");
    let views = Views {
        config_set: instrumented(&cli_config, Backend::ConfigSet, &servers, &wds.times, ticks)?,
        host_db: instrumented(&cli_config, Backend::HostDb, &servers, &wds.times, ticks)?,
    };
    let how = parallelism.map_or_else(
        || "default parallelism (10)".to_owned(),
        |n| format!("`-parallelism={n}` for every apply and destroy ({ENV_PARALLELISM})"),
    );
    let mut out = setup.report_head(None, &how);
    let _ = writeln!(
        out,
        "- DHCP servers: two Kea {kea_version}, the `rack-lab` fixture (kea-dhcp4 in a \
         network namespace, kea-ctrl-agent on 127.0.0.1 with basic auth), the leases in an \
         added subnet `{SUBNET}`: one keeps reservations in its configuration (config-set \
         backend), the other looks them up in its host database"
    );
    let _ = writeln!(
        out,
        "- Host database: PostgreSQL {pg_version}, the `rack-lab` fixture (on 127.0.0.1, \
         `fsync=off`), Kea's schema from `kea-admin db-init pgsql`, `pg_stat_statements` \
         loaded"
    );
    let _ = writeln!(
        out,
        "- Rounds of {LEASES} leases: {} (each: one apply and {PLANS_PER_ROUND} no-change \
         plans of the three configurations, and one cycle of each raw floor; the five in \
         rotating order); rounds of {LARGE_LEASES}: {large_runs} (each: one apply and \
         {PLANS_PER_ROUND} no-change plans of both configurations){}; the rounds of \
         {LEASES} after one warm-up round that is not counted, which also warms the \
         rounds of {LARGE_LEASES}\n",
        opts.runs,
        if large_runs == 0 {
            format!(" ({ENV_LARGE_RUNS}=0: none were run)")
        } else if large_runs < opts.runs {
            format!(
                ", fewer for the time a round of {LARGE_LEASES} takes ({ENV_LARGE_RUNS} sets it)"
            )
        } else {
            String::new()
        }
    );
    out.push_str("#### Time\n\n");
    out.push_str(&table(&time_rows(&samples)?));
    out.push_str(&format!("\n#### Both backends at {LEASES} leases\n\n"));
    out.push_str(&backends_table(&samples, &views)?);
    out.push_str("\n#### CPU\n\n");
    out.push_str(&cpu_table(&samples));
    out.push_str("\n#### Commands received by kea-dhcp4, per command\n\n");
    out.push_str(&commands_table(&samples));
    out.push_str("\n#### Statements the provider ran in PostgreSQL, per command\n\n");
    out.push_str(&statements_table(&samples));
    out.push_str(&provider_view_table(&views.config_set));
    out.push_str(&hostdb_view_table(&views.host_db));
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    out.push('\n');
    for note in notes(&samples, &views) {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}
