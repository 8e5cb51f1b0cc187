//! The DNS benchmark: a zone with 1000 `rack_dns_record_set` resources (one `for_each`)
//! against a real BIND, measured against Terraform's own cost for 1000 `terraform_data`
//! resources and against the raw floor of the DNS work itself (one nsupdate carrying
//! 1000 records, one AXFR).
//!
//! DNS messages are counted on the server, from named's statistics channel read before
//! and after each command, so the count does not depend on the provider's own
//! bookkeeping. The provider's view (its debug log of every message) comes from one more,
//! untimed cycle at the end.
//!
//! Every round runs three cycles in an order that rotates from round to round: rack
//! (apply, no-change plans), `terraform_data` (the same commands), and the raw floor
//! (nsupdate adding 1000 records, AXFR, nsupdate deleting them). Each cycle ends where it
//! started, with an empty zone and no state, so every apply creates all 1000: the rack
//! cycle deletes its records with one nsupdate and removes its state file, which is much
//! faster than `terraform destroy` (destroy runs once, in the instrumented cycle). A first
//! round warms the page cache and named's memory and is not counted.
//!
//! CPU time: Terraform's and its providers' together from this process's `cutime` and
//! `cstime` (`/proc/self/stat`), the provider's alone from a wrapper script that
//! `dev_overrides` starts instead of the binary, which runs it and appends bash's
//! `times` (the child's CPU) to a file.

use std::fmt::Write as _;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use serde_json::Value;

use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Summary, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::Named;
use rack_lab::named::INITIAL_ZONE;
use rack_lab::process::http_get;

mod report;
use report::*;
pub(super) use report::{paired_ratios, yes_no};

/// Rounds when `--runs` is not given: one round applies and destroys 1000 record sets and
/// 1000 `terraform_data` resources, which takes about a minute on a quiet machine.
pub const DEFAULT_ROUNDS: usize = 5;

/// Record sets in the zone (the DNS issue's size).
const RECORDS: usize = 1000;

/// No-change plans per round of each configuration: a plan costs a fraction of an apply,
/// so more of them steady the median cheaply.
const PLANS_PER_ROUND: usize = 2;

/// The DNS issue's target: a no-change plan sends at most this many DNS messages per
/// zone (one AXFR, plus at most one SOA query to check it is current).
const PLAN_MESSAGES_PER_ZONE: u64 = 2;

/// The DNS issue's target: apply and plan each stay within this factor of the same
/// command on 1000 `terraform_data` resources, i.e. Terraform's own cost.
const BASELINE_FACTOR: f64 = 1.5;

/// Zones the configuration uses (the messages target is per zone).
const ZONES: u64 = 1;

/// Deadline for one Terraform command unless [`ENV_COMMAND_TIMEOUT`] says otherwise;
/// only there so a hang ends the run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(900);

/// Names the deadline for one Terraform command, in seconds: thousands of resources on a
/// busy machine take longer than [`COMMAND_TIMEOUT`].
const ENV_COMMAND_TIMEOUT: &str = "RACK_BENCH_COMMAND_TIMEOUT_SECS";

fn command_timeout() -> Duration {
    std::env::var(ENV_COMMAND_TIMEOUT)
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(COMMAND_TIMEOUT, Duration::from_secs)
}

/// Deadline for nsupdate and dig.
const TOOL_TIMEOUT: Duration = Duration::from_secs(60);

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds; each has one apply and destroy and [`PLANS_PER_ROUND`] plans of both
    /// configurations, and one raw-floor cycle.
    pub runs: usize,
}

/// Every timed command, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    RackApply,
    RackPlan,
    DataApply,
    DataPlan,
    RawUpdate,
    RawAxfr,
    RawDelete,
}

const STEPS: usize = 7;

impl Step {
    fn what(self) -> String {
        match self {
            Step::RackApply => {
                format!("(1) `terraform apply`, {RECORDS} `rack_dns_record_set` (A)")
            }
            Step::RackPlan => format!("(2) no-change `terraform plan`, {RECORDS} record sets"),
            Step::DataApply => format!("`terraform apply`, {RECORDS} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {RECORDS} `terraform_data`"),
            Step::RawUpdate => format!("(3) `nsupdate`: one UPDATE adding {RECORDS} A records"),
            Step::RawAxfr => "(3) `dig AXFR` of the zone (TSIG)".to_owned(),
            Step::RawDelete => format!("`nsupdate`: one UPDATE deleting {RECORDS} A records"),
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

/// Counters from named's statistics channel (JSON, `/json/v1/server`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    /// Requests received (`nsstats.Requestv4` + `Requestv6`): every DNS message, over UDP
    /// or TCP, whatever its opcode.
    pub(super) requests: u64,
    /// Opcode QUERY (AXFR and SOA questions included).
    pub(super) query: u64,
    /// Opcode UPDATE.
    pub(super) update: u64,
    /// Questions of type AXFR.
    pub(super) axfr: u64,
    /// Questions of type IXFR.
    pub(super) ixfr: u64,
    /// Questions of type SOA.
    pub(super) soa: u64,
}

impl Counters {
    /// Parses the server statistics; named leaves out counters that are still zero.
    fn parse(json: &Value) -> anyhow::Result<Self> {
        if json.get("nsstats").is_none() || json.get("opcodes").is_none() {
            bail!("named's statistics have no `nsstats` or `opcodes`: {json}");
        }
        let n = |section: &str, key: &str| {
            json.get(section)
                .and_then(|s| s.get(key))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        Ok(Self {
            requests: n("nsstats", "Requestv4") + n("nsstats", "Requestv6"),
            query: n("opcodes", "QUERY"),
            update: n("opcodes", "UPDATE"),
            axfr: n("qtypes", "AXFR"),
            ixfr: n("qtypes", "IXFR"),
            soa: n("qtypes", "SOA"),
        })
    }

    /// What happened between `before` and `self`.
    pub(super) fn since(self, before: Self) -> Self {
        Self {
            requests: self.requests.saturating_sub(before.requests),
            query: self.query.saturating_sub(before.query),
            update: self.update.saturating_sub(before.update),
            axfr: self.axfr.saturating_sub(before.axfr),
            ixfr: self.ixfr.saturating_sub(before.ixfr),
            soa: self.soa.saturating_sub(before.soa),
        }
    }

    /// Queries that are neither transfers nor SOA questions.
    fn other_queries(self) -> u64 {
        self.query.saturating_sub(self.axfr + self.ixfr + self.soa)
    }
}

/// The named under test and how to reach it.
pub(super) struct Server {
    pub(super) named: Named,
    stats: SocketAddr,
    /// `ALG:NAME:SECRET` for nsupdate and dig `-y`.
    key_arg: String,
}

impl Server {
    pub(super) fn start() -> anyhow::Result<Self> {
        let named = Named::start_with_statistics()
            .map_err(|e| anyhow!("Cannot start named for the benchmark: {e}"))?;
        let stats = named
            .stats_addr
            .ok_or_else(|| anyhow!("The named fixture has no statistics channel"))?;
        let key_arg = format!(
            "{}:{}:{}",
            named.tsig.algorithm, named.tsig.name, named.tsig.secret
        );
        Ok(Self {
            named,
            stats,
            key_arg,
        })
    }

    pub(super) fn statistics(&self) -> anyhow::Result<Value> {
        let (status, body) = http_get(self.stats, "/json/v1/server", &[]).ok_or_else(|| {
            anyhow!(
                "named's statistics channel on {} did not answer; named log:\n{}",
                self.stats,
                self.named.log_tail()
            )
        })?;
        if status != 200 {
            bail!("named's statistics channel answered HTTP {status}: {body}");
        }
        serde_json::from_str(&body).context("named's statistics are not JSON")
    }

    pub(super) fn counters(&self) -> anyhow::Result<Counters> {
        Counters::parse(&self.statistics()?)
    }

    /// Runs `f` and returns its result with the DNS messages named received meanwhile.
    pub(super) fn counting<T>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Counters)> {
        let before = self.counters()?;
        let value = f()?;
        let after = self.counters()?;
        Ok((value, after.since(before)))
    }

    /// Feeds `script` to `nsupdate -y KEY` and returns its wall time in seconds.
    pub(super) fn nsupdate(&self, script: &str) -> anyhow::Result<f64> {
        let mut cmd = Command::new("nsupdate");
        cmd.args(["-y", &self.key_arg]);
        let (elapsed, out) = timed(cmd, Some(script.as_bytes()), "nsupdate")?;
        if !out.status.success() {
            bail!(
                "nsupdate failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Ok(elapsed)
    }

    /// `dig AXFR` of the zone with the TSIG key; returns its wall time in seconds and the
    /// number of records dig received.
    fn axfr(&self) -> anyhow::Result<(f64, u64)> {
        let mut cmd = Command::new("dig");
        cmd.args([
            &format!("@{}", self.named.dns_addr.ip()),
            "-p",
            &self.named.dns_addr.port().to_string(),
            "-y",
            &self.key_arg,
            INITIAL_ZONE,
            "AXFR",
        ]);
        let (elapsed, out) = timed(cmd, None, "dig")?;
        let text = String::from_utf8_lossy(&out.stdout);
        let records = text
            .lines()
            .find_map(|l| l.strip_prefix(";; XFR size: "))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|n| n.parse().ok());
        match records {
            Some(n) if out.status.success() => Ok((elapsed, n)),
            _ => bail!(
                "dig AXFR failed ({}): {text}{}",
                out.status,
                String::from_utf8_lossy(&out.stderr)
            ),
        }
    }

    /// The nsupdate script adding (or deleting) `<prefix>-NNNN` A records, all in one
    /// UPDATE.
    fn script(&self, prefix: &str, add: bool) -> String {
        let mut script = format!(
            "server {} {}\nzone {INITIAL_ZONE}\n",
            self.named.dns_addr.ip(),
            self.named.dns_addr.port()
        );
        for i in 0..RECORDS {
            let name = format!("{prefix}-{i:04}.{INITIAL_ZONE}");
            let _ = if add {
                writeln!(script, "update add {name} 300 A {}", address(30, i))
            } else {
                writeln!(script, "update delete {name} A")
            };
        }
        script.push_str("send\n");
        script
    }
}

/// Runs `cmd` with `stdin` and returns its wall time (spawn to exit) in seconds.
fn timed(
    mut cmd: Command,
    stdin: Option<&[u8]>,
    what: &str,
) -> anyhow::Result<(f64, std::process::Output)> {
    cmd.stdin(if stdin.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    })
    .stdout(Stdio::piped())
    .stderr(Stdio::piped());
    let start = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("Cannot run {what}: install the Debian package bind9-dnsutils"))?;
    if let (Some(bytes), Some(mut pipe)) = (stdin, child.stdin.take()) {
        pipe.write_all(bytes)
            .with_context(|| format!("Cannot write to {what}"))?;
    }
    // wait_with_output has no deadline; a watchdog thread would be more than a 30 ms tool
    // needs, so a hang is caught by checking the time after the fact.
    let out = child
        .wait_with_output()
        .with_context(|| format!("{what} did not finish"))?;
    let elapsed = start.elapsed();
    if elapsed > TOOL_TIMEOUT {
        bail!("{what} took {elapsed:?}");
    }
    Ok((elapsed.as_secs_f64(), out))
}

/// `10.<net>.<hi>.<lo>` for record `i`.
fn address(net: u8, i: usize) -> String {
    format!("10.{net}.{}.{}", i / 256, i % 256)
}

/// The names and addresses both configurations iterate over.
fn hosts_local() -> String {
    format!(
        "locals {{\n  hosts = {{\n    for i in range({RECORDS}) :\n    \
         format(\"host-%04d\", i) => format(\"10.20.%d.%d\", floor(i / 256), i % 256)\n  }}\n}}\n"
    )
}

/// 1000 A record sets in the fixture's zone, one `for_each`.
fn rack_main_tf() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    rack = {{ source = \"terraform.local/rack/rack\" }}\n  }}\n}}\n\n\
         provider \"rack\" {{}}\n\n{}\n\
         resource \"rack_dns_record_set\" \"host\" {{\n  for_each = local.hosts\n\n  \
         zone    = \"{INITIAL_ZONE}\"\n  name    = each.key\n  type    = \"A\"\n  ttl     = 300\n  \
         records = [each.value]\n}}\n",
        hosts_local()
    )
}

/// The same 1000 instances as `terraform_data`: Terraform's cost with no provider work.
fn data_main_tf() -> String {
    format!(
        "{}\nresource \"terraform_data\" \"host\" {{\n  for_each = local.hosts\n\n  \
         input = {{\n    name    = each.key\n    records = [each.value]\n  }}\n}}\n",
        hosts_local()
    )
}

/// Runs `terraform <args>`; fails unless it exits with one of `ok_codes`.
pub(super) fn terraform(
    wd: &Workdir,
    args: &[&str],
    ok_codes: &[i32],
) -> anyhow::Result<CmdResult> {
    let result = rack_acceptance_tests::run_command(wd.command(args), command_timeout())
        .context("Cannot start terraform")?;
    match result.code {
        Some(code) if ok_codes.contains(&code) => Ok(result),
        _ => bail!("terraform {} failed\n{result}", args.join(" ")),
    }
}

pub(super) fn apply(wd: &Workdir) -> anyhow::Result<CmdResult> {
    terraform(
        wd,
        &["apply", "-auto-approve", "-input=false", "-no-color"],
        &[0],
    )
}

/// A plan that must find nothing to do (`-detailed-exitcode` 0).
pub(super) fn plan_no_change(wd: &Workdir) -> anyhow::Result<CmdResult> {
    terraform(
        wd,
        &["plan", "-input=false", "-no-color", "-detailed-exitcode"],
        &[0],
    )
}

/// Forgets the state, so the next apply creates everything again.
pub(super) fn remove_state(wd: &Workdir) -> anyhow::Result<()> {
    for file in ["terraform.tfstate", "terraform.tfstate.backup"] {
        let path = wd.path().join(file);
        match std::fs::remove_file(&path) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("Cannot remove {}", path.display())),
        }
    }
    Ok(())
}

pub(super) fn destroy(wd: &Workdir) -> anyhow::Result<CmdResult> {
    terraform(
        wd,
        &["destroy", "-auto-approve", "-input=false", "-no-color"],
        &[0],
    )
}

/// Samples of one step.
#[derive(Debug, Default, Clone)]
struct StepSamples {
    seconds: Vec<f64>,
    messages: Vec<Counters>,
    /// CPU seconds of Terraform and its providers (Terraform steps only).
    cpu: Vec<f64>,
    /// CPU seconds of the rack provider processes (rack steps only).
    provider_cpu: Vec<f64>,
    /// Provider processes Terraform started (rack steps only).
    provider_starts: Vec<f64>,
}

/// Wall time, DNS messages and CPU of one Terraform command.
#[derive(Debug, Clone, Copy)]
struct Measured {
    seconds: f64,
    messages: Counters,
    cpu: f64,
    provider: Option<ProviderCpu>,
}

/// The rack provider's processes during one command.
#[derive(Debug, Clone, Copy)]
pub(super) struct ProviderCpu {
    pub(super) seconds: f64,
    pub(super) starts: usize,
}

#[derive(Debug, Default)]
struct Samples {
    steps: [StepSamples; STEPS],
    /// Records in each `dig AXFR` answer (SOA twice, NS, glue and the 1000).
    axfr_records: Vec<u64>,
}

impl Samples {
    fn push(&mut self, step: Step, m: Measured) {
        let s = &mut self.steps[step as usize];
        s.seconds.push(m.seconds);
        s.messages.push(m.messages);
        if !matches!(step, Step::RawUpdate | Step::RawAxfr | Step::RawDelete) {
            s.cpu.push(m.cpu);
        }
        if let Some(p) = m.provider {
            s.provider_cpu.push(p.seconds);
            s.provider_starts.push(p.starts as f64);
        }
    }

    fn of(&self, step: Step) -> &StepSamples {
        &self.steps[step as usize]
    }
}

/// A Terraform working directory per configuration.
struct Workdirs {
    rack: Workdir,
    data: Workdir,
    /// Where the provider wrapper appends the CPU times of each provider process.
    times: PathBuf,
}

/// Writes `<dir>/terraform-provider-rack`: runs the real binary as a child (not `exec`),
/// then appends bash's `times` (two lines: the shell's own CPU, then its children's) to
/// `times_file`, and exits with the provider's status.
pub(super) fn write_wrapper(dir: &Path, binary: &Path, times_file: &Path) -> anyhow::Result<()> {
    let quote = |p: &Path| -> anyhow::Result<String> {
        let text = p
            .to_str()
            .ok_or_else(|| anyhow!("{} is not UTF-8", p.display()))?;
        if text.contains('\'') {
            bail!("{text} contains a single quote");
        }
        Ok(format!("'{text}'"))
    };
    let script = format!(
        "#!/bin/bash\n# Written by a rack benchmark: run the provider, then note its CPU time.\n\
         {} \"$@\"\nstatus=$?\ntimes >> {}\nexit $status\n",
        quote(binary)?,
        quote(times_file)?
    );
    let path = dir.join("terraform-provider-rack");
    std::fs::write(&path, script).with_context(|| format!("Cannot write {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("Cannot make {} executable", path.display()))?;
    Ok(())
}

/// Reads and empties the wrapper's file: the CPU seconds of every provider process that
/// ended since the last call.
pub(super) fn take_provider_cpu(times_file: &Path) -> anyhow::Result<ProviderCpu> {
    let text = std::fs::read_to_string(times_file).unwrap_or_default();
    std::fs::write(times_file, "")
        .with_context(|| format!("Cannot empty {}", times_file.display()))?;
    parse_times(&text)
}

/// Sums the children's line (every second line) of bash `times` outputs such as
/// `0m0.002s 0m0.001s\n0m1.250s 0m0.310s`.
pub(super) fn parse_times(text: &str) -> anyhow::Result<ProviderCpu> {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    if !lines.len().is_multiple_of(2) {
        bail!("Unexpected `times` output from the provider wrapper: {text:?}");
    }
    let duration = |t: &str| -> Option<f64> {
        let (m, s) = t.strip_suffix('s')?.split_once('m')?;
        Some(m.parse::<f64>().ok()? * 60.0 + s.parse::<f64>().ok()?)
    };
    let mut seconds = 0.0;
    for children in lines.iter().skip(1).step_by(2) {
        for t in children.split_whitespace() {
            seconds +=
                duration(t).ok_or_else(|| anyhow!("Unexpected `times` output: {children:?}"))?;
        }
    }
    Ok(ProviderCpu {
        seconds,
        starts: lines.len() / 2,
    })
}

/// CPU seconds of this process's waited-for children (`cutime` + `cstime`, fields 16
/// and 17 of `/proc/self/stat`): Terraform, and the providers it waited for, once it has
/// exited.
pub(super) fn children_cpu(ticks_per_second: f64) -> anyhow::Result<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").context("Cannot read /proc/self/stat")?;
    let after_name = stat
        .rsplit_once(") ")
        .map(|(_, rest)| rest)
        .ok_or_else(|| anyhow!("Unexpected /proc/self/stat: {stat}"))?;
    // `after_name` starts at field 3 (state).
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let ticks = |i: usize| -> anyhow::Result<f64> {
        fields
            .get(i - 3)
            .and_then(|f| f.parse::<f64>().ok())
            .ok_or_else(|| anyhow!("No field {i} in /proc/self/stat"))
    };
    Ok((ticks(16)? + ticks(17)?) / ticks_per_second)
}

/// Clock ticks per second of `/proc` times (`getconf CLK_TCK`, 100 on Linux).
pub(super) fn clock_ticks() -> f64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100.0)
}

fn rack_workdir(cli_config: &str, server: &Server, debug_log: bool) -> Workdir {
    let mut wd = Workdir::with_cli_config_text(cli_config);
    let named = &server.named;
    wd.set_env("RACK_DNS_ADDRESS", named.dns_addr.to_string())
        .set_env("RACK_DNS_KEY_NAME", named.tsig.name.clone())
        .set_env("RACK_DNS_KEY_ALGORITHM", named.tsig.algorithm.clone())
        .set_env("RACK_DNS_KEY_SECRET", named.tsig.secret.clone());
    if debug_log {
        wd.set_env("TF_LOG_PROVIDER", "DEBUG");
    }
    wd.write_main(&rack_main_tf());
    wd
}

/// Runs one Terraform command, measuring its wall time, the DNS messages named received
/// and the CPU time of Terraform and of the provider.
fn measure(
    server: &Server,
    wds: &Workdirs,
    ticks: f64,
    command: impl FnOnce() -> anyhow::Result<CmdResult>,
) -> anyhow::Result<(Measured, CmdResult)> {
    take_provider_cpu(&wds.times)?;
    let cpu_before = children_cpu(ticks)?;
    let (result, messages) = server.counting(command)?;
    let cpu = children_cpu(ticks)? - cpu_before;
    let provider = take_provider_cpu(&wds.times)?;
    let measured = Measured {
        seconds: result.elapsed.as_secs_f64(),
        messages,
        cpu,
        provider: (provider.starts > 0).then_some(provider),
    };
    Ok((measured, result))
}

/// One round's cycle; pushes its samples unless `keep` is false (the warm-up round).
fn run_cycle(
    cycle: Cycle,
    server: &Server,
    wds: &Workdirs,
    ticks: f64,
    samples: &mut Samples,
    keep: bool,
) -> anyhow::Result<()> {
    let mut got: Vec<(Step, Measured)> = Vec::new();
    let mut axfr_records = None;
    let tool = |seconds: f64, messages: Counters| Measured {
        seconds,
        messages,
        cpu: 0.0,
        provider: None,
    };
    match cycle {
        Cycle::Rack | Cycle::Data => {
            let (wd, apply_step, plan_step) = match cycle {
                Cycle::Rack => (&wds.rack, Step::RackApply, Step::RackPlan),
                _ => (&wds.data, Step::DataApply, Step::DataPlan),
            };
            let (m, _) = measure(server, wds, ticks, || apply(wd))?;
            got.push((apply_step, m));
            for _ in 0..PLANS_PER_ROUND {
                let (m, _) = measure(server, wds, ticks, || plan_no_change(wd))?;
                got.push((plan_step, m));
            }
            if cycle == Cycle::Rack {
                // Back to an empty zone in one UPDATE; the next apply would fail on any
                // record left behind (rack does not take over existing records).
                server.nsupdate(&server.script("host", false))?;
            }
            remove_state(wd)?;
        }
        Cycle::Raw => {
            let (t, m) = server.counting(|| server.nsupdate(&server.script("raw", true)))?;
            got.push((Step::RawUpdate, tool(t, m)));
            let ((t, n), m) = server.counting(|| server.axfr())?;
            got.push((Step::RawAxfr, tool(t, m)));
            axfr_records = Some(n);
            let (t, m) = server.counting(|| server.nsupdate(&server.script("raw", false)))?;
            got.push((Step::RawDelete, tool(t, m)));
        }
    }
    if keep {
        for (step, m) in got {
            samples.push(step, m);
        }
        samples.axfr_records.extend(axfr_records);
    }
    Ok(())
}

/// What the provider's debug log says it sent during one command.
#[derive(Debug, Default, Clone, Copy)]
struct ProviderView {
    /// "zone transferred" events (one AXFR request each).
    transfers: u64,
    /// "UPDATE answered" events.
    updates: u64,
    /// Changes carried by those UPDATEs.
    changes: u64,
    /// The largest UPDATE, in changes.
    largest: u64,
    /// "DNS query answered" events (SOA and other direct queries).
    queries: u64,
    /// Sum of the UPDATEs' round trips as the provider timed them, ms. UPDATEs to one
    /// zone go one at a time, so this is the time the zone's writes kept the wire busy.
    update_ms: u64,
    /// Sum of the transfers' durations, ms.
    transfer_ms: u64,
}

impl ProviderView {
    /// Reads the provider's `tracing` events out of Terraform's stderr.
    fn parse(log: &str) -> Self {
        let field = |line: &str, key: &str| -> u64 {
            line.split([' ', '\t', ','])
                .find_map(|w| w.strip_prefix(key)?.strip_prefix('='))
                .and_then(|v| v.trim_matches('"').parse().ok())
                .unwrap_or(0)
        };
        let mut view = Self::default();
        for line in log
            .lines()
            .filter(|l| l.contains("provider.terraform-provider-rack"))
        {
            if line.contains("zone transferred") {
                view.transfers += 1;
                view.transfer_ms += field(line, "elapsed_ms");
            } else if line.contains("UPDATE answered") {
                let changes = field(line, "changes");
                view.updates += 1;
                view.changes += changes;
                view.largest = view.largest.max(changes);
                view.update_ms += field(line, "elapsed_ms");
            } else if line.contains("DNS query answered") {
                view.queries += 1;
            }
        }
        view
    }

    fn messages(self) -> u64 {
        self.transfers + self.updates + self.queries
    }
}

/// One command of the instrumented cycle.
#[derive(Debug, Clone, Copy)]
struct Observed {
    view: ProviderView,
    measured: Measured,
}

/// One untimed rack cycle with the provider's debug log on, ending with a destroy.
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
    Ok(Instrumented {
        apply: one(&apply)?,
        plan: one(&plan_no_change)?,
        destroy: one(&destroy)?,
    })
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let ticks = clock_ticks();

    eprintln!("bench: starting named");
    let server = Server::start()?;
    let bind_version = server
        .statistics()?
        .get("version")
        .and_then(Value::as_str)
        .unwrap_or("?")
        .to_owned();
    // dev_overrides points at a directory holding the CPU-noting wrapper.
    let wrapper_dir = tempfile::Builder::new()
        .prefix("rack-bench-dns-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let times = wrapper_dir.path().join("times");
    write_wrapper(wrapper_dir.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(wrapper_dir.path());
    let wds = Workdirs {
        rack: rack_workdir(&cli_config, &server, false),
        data: {
            let wd = Workdir::without_provider();
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
    let mut out = setup.report_head(None, "default parallelism (10)");
    let _ = writeln!(
        out,
        "- DNS server: BIND {bind_version}, the `rack-lab` fixture on 127.0.0.1, \
         one zone (`{INITIAL_ZONE}`), TSIG hmac-sha256; the provider on its default \
         transport (UDP, TCP for transfers and large messages)"
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
    out.push_str("\n#### DNS messages received by named, per command\n\n");
    out.push_str(&messages_table(&samples));
    out.push_str(&provider_view_table(&view));
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    out.push('\n');
    for note in notes(&samples, &view) {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}
