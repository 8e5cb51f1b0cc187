//! The DHCP benchmark: 500 `rack_dhcp_lease` resources in one subnet (one `for_each`)
//! against a real Kea 2.2, measured against Terraform's own cost for 500 `terraform_data`
//! resources and against the raw floor of the Kea work itself (one `config-set` carrying
//! all 500 reservations, one `config-get` reading them).
//!
//! Kea 2.2 has no command to add one reservation (`host_cmds` is not in its open-source
//! hooks), so rack writes reservations by `config-set` of the whole configuration; the
//! question is how many of those an apply takes and what they cost next to Terraform.
//!
//! Commands are counted on the server: kea-dhcp4 logs `Received command '<name>'` at INFO
//! for every command the control agent passes on, and the benchmark counts those lines
//! in its log before and after each Terraform command. Nothing else talks to that Kea. The
//! provider's own view (its debug log: every command with its round trip, every batch of
//! reservation changes with its size) comes from one more, untimed cycle at the end.
//!
//! Every round runs three cycles in an order that rotates from round to round: rack
//! (apply, no-change plans), `terraform_data` (the same commands) and the raw floor
//! (config-set adding 500 reservations, config-get, config-set removing them). Each cycle
//! ends where it started, with no reservations in the subnet and no state: the rack cycle
//! clears the subnet with one raw config-set and removes its state file (destroy runs
//! once, in the instrumented cycle). A first round warms up and is not counted.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use serde_json::{Value, json};

use super::dns::{
    ProviderCpu, apply, children_cpu, clock_ticks, destroy, paired_ratios, plan_no_change,
    remove_state, take_provider_cpu, write_wrapper, yes_no,
};
use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Summary, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::Kea;
use rack_lab::kea::post;

mod report;
use report::*;

/// Rounds when `--runs` is not given.
pub const DEFAULT_ROUNDS: usize = 3;

/// Leases in the subnet (the DHCP issue's size).
const LEASES: usize = 500;

/// The subnet the benchmark adds to the fixture's Kea for the leases: the fixture's own
/// /24 is too small for 500 reservations. No interface serves it; Kea keeps its
/// reservations all the same (as it does for relayed subnets).
const SUBNET: &str = "10.78.0.0/22";

/// The `id` of [`SUBNET`] in Kea's configuration.
const SUBNET_ID: u64 = 2;

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
/// config-set with all 500) plus the same apply of 500 `terraform_data`.
const FLOOR_FACTOR: f64 = 3.0;

/// The DHCP issue's target: a no-change plan makes one config-get per server.
const PLAN_CONFIG_GETS_PER_SERVER: u64 = 1;

/// Servers the configuration uses.
const SERVERS: u64 = 1;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds; each has one apply and [`PLANS_PER_ROUND`] plans of both configurations
    /// and one raw-floor cycle.
    pub runs: usize,
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
}

const STEPS: usize = 7;

impl Step {
    fn what(self) -> String {
        match self {
            Step::RackApply => format!("(1) `terraform apply`, {LEASES} `rack_dhcp_lease`"),
            Step::RackPlan => format!("(2) no-change `terraform plan`, {LEASES} leases"),
            Step::DataApply => format!("`terraform apply`, {LEASES} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {LEASES} `terraform_data`"),
            Step::RawSet => format!("(3) one `config-set` adding {LEASES} reservations"),
            Step::RawGet => format!("(3) one `config-get` ({LEASES} reservations)"),
            Step::RawClear => format!("one `config-set` removing {LEASES} reservations"),
        }
    }
}

/// The three cycles of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Rack,
    Data,
    Raw,
}

const CYCLES: [Cycle; 3] = [Cycle::Rack, Cycle::Data, Cycle::Raw];

/// Commands kea-dhcp4 received, from its log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    /// Every command.
    commands: u64,
    config_get: u64,
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
struct Server {
    kea: Kea,
    log: PathBuf,
}

impl Server {
    /// Starts the fixture and adds [`SUBNET`] to it, with a log that does not rotate
    /// during the run.
    fn start() -> anyhow::Result<Self> {
        let kea = Kea::start().map_err(|e| anyhow!("Cannot start Kea for the benchmark: {e}"))?;
        let log = kea.dir().join("kea-dhcp4.log");
        let server = Self { kea, log };
        let mut config = server.config_get()?.0;
        let dhcp4 = config
            .get_mut("Dhcp4")
            .ok_or_else(|| anyhow!("Kea's configuration has no Dhcp4"))?;
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
    fn counting<T>(&self, f: impl FnOnce() -> anyhow::Result<T>) -> anyhow::Result<(T, Counters)> {
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

/// MAC, address and hostname of lease `i`, as both configurations and the raw floor
/// compute them.
fn lease(i: usize) -> (String, String, String) {
    let n = i + 10;
    (
        format!("02:00:00:00:{:02x}:{:02x}", i / 256, i % 256),
        format!("10.78.{}.{}", n / 256, n % 256),
        format!("host-{i:03}"),
    )
}

/// The raw floor's reservations: the same 500 as Kea entries.
fn raw_reservations() -> Vec<Value> {
    (0..LEASES)
        .map(|i| {
            let (mac, ip, hostname) = lease(i);
            json!({"hw-address": mac, "ip-address": ip, "hostname": hostname})
        })
        .collect()
}

/// The leases both configurations iterate over (the same values as [`lease`]).
fn leases_local() -> String {
    format!(
        "locals {{\n  leases = {{\n    for i in range({LEASES}) :\n    format(\"host-%03d\", i) => {{\n      \
         mac = format(\"02:00:00:00:%02x:%02x\", floor(i / 256), i % 256)\n      \
         ip  = cidrhost(\"{SUBNET}\", i + 10)\n    }}\n  }}\n}}\n"
    )
}

fn rack_main_tf() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    rack = {{ source = \"terraform.local/rack/rack\" }}\n  }}\n}}\n\n\
         provider \"rack\" {{}}\n\n{}\n\
         resource \"rack_dhcp_lease\" \"host\" {{\n  for_each = local.leases\n\n  \
         subnet   = \"{SUBNET}\"\n  mac      = each.value.mac\n  ip       = each.value.ip\n  \
         hostname = each.key\n}}\n",
        leases_local()
    )
}

/// The same 500 instances as `terraform_data`: Terraform's cost with no provider work.
fn data_main_tf() -> String {
    format!(
        "{}\nresource \"terraform_data\" \"host\" {{\n  for_each = local.leases\n\n  \
         input = {{\n    mac      = each.value.mac\n    ip       = each.value.ip\n    \
         hostname = each.key\n  }}\n}}\n",
        leases_local()
    )
}

fn rack_workdir(cli_config: &str, server: &Server, debug_log: bool) -> Workdir {
    let mut wd = Workdir::with_cli_config_text(cli_config);
    let kea = &server.kea;
    wd.set_env("RACK_DHCP_KEA_URL", kea.url.clone())
        .set_env("RACK_DHCP_KEA_USERNAME", kea.username.clone())
        .set_env("RACK_DHCP_KEA_PASSWORD", kea.password.clone());
    if debug_log {
        wd.set_env("TF_LOG_PROVIDER", "DEBUG");
    }
    set_parallelism(&mut wd, parallelism().ok().flatten());
    wd.write_main(&rack_main_tf());
    wd
}

/// Wall time, Kea commands and CPU of one command.
#[derive(Debug, Clone, Copy)]
struct Measured {
    seconds: f64,
    commands: Counters,
    cpu: f64,
    /// kea-dhcp4 and kea-ctrl-agent together.
    kea_cpu: f64,
    provider: Option<ProviderCpu>,
}

#[derive(Debug, Default, Clone)]
struct StepSamples {
    seconds: Vec<f64>,
    commands: Vec<Counters>,
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
        if !matches!(step, Step::RawSet | Step::RawGet | Step::RawClear) {
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
    rack: Workdir,
    data: Workdir,
    times: PathBuf,
}

fn measure(
    server: &Server,
    wds: &Workdirs,
    ticks: f64,
    command: impl FnOnce() -> anyhow::Result<CmdResult>,
) -> anyhow::Result<(Measured, CmdResult)> {
    take_provider_cpu(&wds.times)?;
    let cpu_before = children_cpu(ticks)?;
    let kea_before = server.kea_cpu(ticks)?;
    let (result, commands) = server.counting(command)?;
    let cpu = children_cpu(ticks)? - cpu_before;
    let kea_cpu = server.kea_cpu(ticks)? - kea_before;
    let provider = take_provider_cpu(&wds.times)?;
    Ok((
        Measured {
            seconds: result.elapsed.as_secs_f64(),
            commands,
            cpu,
            kea_cpu,
            provider: (provider.starts > 0).then_some(provider),
        },
        result,
    ))
}

fn run_cycle(
    cycle: Cycle,
    server: &Server,
    wds: &Workdirs,
    ticks: f64,
    samples: &mut Samples,
    keep: bool,
) -> anyhow::Result<()> {
    let mut got: Vec<(Step, Measured)> = Vec::new();
    // One command the benchmark sends itself, with Kea's CPU meanwhile.
    let tool = |f: &dyn Fn() -> anyhow::Result<f64>| -> anyhow::Result<Measured> {
        let kea_before = server.kea_cpu(ticks)?;
        let (seconds, commands) = server.counting(f)?;
        Ok(Measured {
            seconds,
            commands,
            cpu: 0.0,
            kea_cpu: server.kea_cpu(ticks)? - kea_before,
            provider: None,
        })
    };
    match cycle {
        Cycle::Rack | Cycle::Data => {
            let (wd, apply_step, plan_step) = match cycle {
                Cycle::Rack => (&wds.rack, Step::RackApply, Step::RackPlan),
                _ => (&wds.data, Step::DataApply, Step::DataPlan),
            };
            let (m, _) = measure(server, wds, ticks, || apply(wd))?;
            got.push((apply_step, m));
            if cycle == Cycle::Rack {
                let n = server.reservation_count()?;
                if n != LEASES {
                    bail!("After the apply the subnet holds {n} reservations, not {LEASES}");
                }
            }
            for _ in 0..PLANS_PER_ROUND {
                let (m, _) = measure(server, wds, ticks, || plan_no_change(wd))?;
                got.push((plan_step, m));
            }
            if cycle == Cycle::Rack {
                server.clear()?;
            }
            remove_state(wd)?;
        }
        Cycle::Raw => {
            let (base, _) = server.config_get()?;
            let full = Server::with_reservations(&base, raw_reservations())?;
            got.push((Step::RawSet, tool(&|| server.config_set(&full))?));
            got.push((Step::RawGet, tool(&|| server.config_get().map(|(_, t)| t))?));
            let empty = Server::with_reservations(&base, Vec::new())?;
            got.push((Step::RawClear, tool(&|| server.config_set(&empty))?));
        }
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

fn instrumented(
    cli_config: &str,
    server: &Server,
    wds: &Workdirs,
    ticks: f64,
) -> anyhow::Result<Instrumented> {
    let wd = rack_workdir(cli_config, server, true);
    let one = |f: &dyn Fn(&Workdir) -> anyhow::Result<CmdResult>| {
        measure(server, wds, ticks, || f(&wd)).map(|(measured, r)| Observed {
            view: ProviderView::parse(&r.stderr),
            measured,
        })
    };
    let result = Instrumented {
        apply: one(&apply)?,
        plan: one(&plan_no_change)?,
        destroy: one(&destroy)?,
    };
    let left = server.reservation_count()?;
    if left != 0 {
        bail!("terraform destroy left {left} reservations in {SUBNET}");
    }
    Ok(result)
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let ticks = clock_ticks();

    eprintln!("bench: starting Kea");
    let server = Server::start()?;
    let kea_version = server
        .command(&json!({"command": "version-get", "service": ["dhcp4"]}))
        .ok()
        .and_then(|(a, _)| a.get("text").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    let wrapper_dir = tempfile::Builder::new()
        .prefix("rack-bench-dhcp-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let times = wrapper_dir.path().join("times");
    write_wrapper(wrapper_dir.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(wrapper_dir.path());
    let parallelism = parallelism()?;
    let wds = Workdirs {
        rack: rack_workdir(&cli_config, &server, false),
        data: {
            let mut wd = Workdir::without_provider();
            set_parallelism(&mut wd, parallelism);
            wd.write_main(&data_main_tf());
            wd
        },
        times,
    };

    let mut samples = Samples::default();
    rotating_rounds(opts.runs, &CYCLES, |cycle, counted| {
        run_cycle(cycle, &server, &wds, ticks, &mut samples, counted)
    })?;
    eprintln!("bench: one more rack cycle with the provider's debug log, and destroy");
    let view = instrumented(&cli_config, &server, &wds, ticks)?;
    let how = parallelism.map_or_else(
        || "default parallelism (10)".to_owned(),
        |n| format!("`-parallelism={n}` for every apply and destroy ({ENV_PARALLELISM})"),
    );
    let mut out = setup.report_head(None, &how);
    let _ = writeln!(
        out,
        "- DHCP server: Kea {kea_version}, the `rack-lab` fixture (kea-dhcp4 in a \
         network namespace, kea-ctrl-agent on 127.0.0.1 with basic auth), the leases in an \
         added subnet `{SUBNET}`"
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: one apply and {PLANS_PER_ROUND} no-change plans of both \
         configurations, and one raw-floor cycle; the three in rotating order), after one \
         warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str("#### Time\n\n");
    out.push_str(&table(&time_rows(&samples)?));
    out.push_str("\n#### CPU\n\n");
    out.push_str(&cpu_table(&samples));
    out.push_str("\n#### Commands received by kea-dhcp4, per command\n\n");
    out.push_str(&commands_table(&samples));
    out.push_str(&provider_view_table(&view));
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    out.push('\n');
    for note in notes(&samples, &view) {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}
