//! The switch benchmark: a top-of-rack profile of 48 interfaces (40 access ports over 4
//! named VLANs, 4 trunks, 2 two-member bonds: 46 ports) on one switch, a real ovsdb-server and
//! ovs-vswitchd (the lab's dummy datapath), measured in the same run against Terraform's
//! own cost for 48 `terraform_data` and against the floor of the switch work itself: one
//! `ovs-vsctl` invocation carrying the whole configuration (which, like rack, waits until
//! ovs-vswitchd applied it).
//!
//! Requests are counted on the server: ovsdb-server's `jsonrpc` module logs every request
//! it receives at debug level, which the benchmark turns on for its log file. rack's
//! connections are the TCP ones (`ovs-vsctl` uses the unix socket). A `transact` with an
//! `insert`, `update`, `mutate` or `delete` is a write; one of `select`s only is a read;
//! the `wait`s for `cur_cfg` are counted apart.
//!
//! Every round runs four cycles in an order that rotates from round to round: rack
//! (apply, no-change plans), `terraform_data` (the same commands), `terraform_data` with
//! the rack provider started by one provider function call (the same commands: what
//! Terraform's provider processes cost with no switch work) and the floor (`ovs-vsctl`
//! adding everything, then removing it). Each cycle ends where it started:
//! the rack cycle puts the bridge back with one untimed `ovs-vsctl` and removes its state
//! file. A first round warms up and is not counted.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};

use super::dns::{
    apply, children_cpu, clock_ticks, paired_ratios, plan_no_change, remove_state,
    take_provider_cpu, write_wrapper, yes_no,
};
use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Summary, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::{Ovs, OvsMode};

/// Rounds when `--runs` is not given.
pub const DEFAULT_ROUNDS: usize = 5;

/// The profile: access ports, VLANs they spread over, trunks, bonds (two members each).
const ACCESS: usize = 40;
const VLANS: [u16; 4] = [10, 20, 30, 40];
const TRUNKS: usize = 4;
const BONDS: usize = 2;
const PORTS: usize = ACCESS + TRUNKS + BONDS;

/// No-change plans per round of each configuration.
const PLANS_PER_ROUND: usize = 2;

/// The switch issue's targets: an apply within this many times (floor + the same apply
/// of `terraform_data`), a no-change plan within this many times that of
/// `terraform_data` (and at most one read per switch per provider process in a plan).
const APPLY_FACTOR: f64 = 1.5;
const PLAN_FACTOR: f64 = 1.2;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds; each has one apply and [`PLANS_PER_ROUND`] plans of both configurations
    /// and one floor cycle.
    pub runs: usize,
}

/// Every timed command, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    RackApply,
    RackPlan,
    DataApply,
    DataPlan,
    StartedApply,
    StartedPlan,
    Floor,
    FloorClear,
}

const STEPS: usize = 8;

impl Step {
    fn what(self) -> String {
        match self {
            Step::RackApply => {
                format!("(1) `terraform apply`, {PORTS} `rack_switch_port` + 4 `rack_switch_vlan`")
            }
            Step::RackPlan => "(2) no-change `terraform plan`".into(),
            Step::DataApply => format!("`terraform apply`, {PORTS} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {PORTS} `terraform_data`"),
            Step::StartedApply => {
                format!("`terraform apply`, {PORTS} `terraform_data` with rack started")
            }
            Step::StartedPlan => format!(
                "(2b) no-change `terraform plan`, {PORTS} `terraform_data` with rack started \
                 (one provider function call, no switch resources)"
            ),
            Step::Floor => format!("(3) one `ovs-vsctl` adding the {PORTS} ports and 4 VLANs"),
            Step::FloorClear => format!("one `ovs-vsctl` removing the {PORTS} ports"),
        }
    }
}

/// The four cycles of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Rack,
    Data,
    /// `terraform_data` with the rack provider started but given no switch work: what
    /// Terraform's provider processes cost by themselves.
    Started,
    Floor,
}

const CYCLES: [Cycle; 4] = [Cycle::Rack, Cycle::Data, Cycle::Started, Cycle::Floor];

/// `transact` requests rack's connections sent, from ovsdb-server's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(super) struct Counters {
    pub writes: u64,
    pub reads: u64,
    pub waits: u64,
}

impl Counters {
    fn parse(log: &str) -> Self {
        let mut c = Self::default();
        for line in log.lines().filter(|l| {
            l.contains("|jsonrpc|DBG|tcp:") && l.contains("received request, method=\"transact\"")
        }) {
            if ["insert", "update", "mutate", "delete"]
                .iter()
                .any(|op| line.contains(&format!("\"op\":\"{op}\"")))
            {
                c.writes += 1;
            } else if line.contains("\"op\":\"wait\"") {
                c.waits += 1;
            } else {
                c.reads += 1;
            }
        }
        c
    }

    fn since(self, before: Self) -> Self {
        Self {
            writes: self.writes - before.writes.min(self.writes),
            reads: self.reads - before.reads.min(self.reads),
            waits: self.waits - before.waits.min(self.waits),
        }
    }
}

/// The switch under test (also the zone benchmark's): an OVS of the lab whose
/// ovsdb-server logs every request it receives, with an empty bridge `br0`.
pub(super) struct Switch {
    pub ovs: Ovs,
    log: PathBuf,
}

impl Switch {
    pub fn start() -> anyhow::Result<Self> {
        let ovs =
            Ovs::start(OvsMode::Dummy).map_err(|e| anyhow!("Cannot start Open vSwitch: {e}"))?;
        let appctl = rack_lab::process::find_binary("ovs-appctl", "openvswitch-switch")
            .map_err(|e| anyhow!("{e}"))?;
        let ctl = ovs.dir().join("ovsdb-server.ctl");
        let mut cmd = Command::new(appctl);
        cmd.arg("-t")
            .arg(&ctl)
            .args(["vlog/set", "jsonrpc:file:dbg"]);
        rack_lab::process::run(cmd, "ovs-appctl vlog/set").map_err(|e| anyhow!("{e}"))?;
        let log = ovs.dir().join("ovsdb-server.log");
        let switch = Self { ovs, log };
        switch.reset()?;
        Ok(switch)
    }

    fn vsctl(&self, args: &[String]) -> anyhow::Result<f64> {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let start = Instant::now();
        self.ovs.vsctl(&args).map_err(|e| anyhow!("{e}"))?;
        Ok(start.elapsed().as_secs_f64())
    }

    /// An empty bridge `br0` on the netdev datapath (untimed).
    fn reset(&self) -> anyhow::Result<()> {
        let args = [
            "--if-exists",
            "del-br",
            "br0",
            "--",
            "add-br",
            "br0",
            "--",
            "set",
            "bridge",
            "br0",
            "datapath_type=netdev",
        ];
        self.vsctl(&args.map(String::from))?;
        Ok(())
    }

    /// ovs-vswitchd's version and how the switch runs, for reports.
    pub fn described() -> String {
        let version = Command::new("ovs-vswitchd")
            .arg("--version")
            .output()
            .ok()
            .and_then(|o| String::from_utf8(o.stdout).ok())
            .and_then(|t| t.lines().next().map(str::to_owned))
            .unwrap_or_else(|| "?".into());
        format!(
            "{version}, the `rack-lab` fixture (ovsdb-server on 127.0.0.1 over TCP, \
             ovs-vswitchd with the dummy datapath), bridge `br0` on the netdev datapath type"
        )
    }

    /// The ports of `br0` (its own internal one not counted).
    pub fn port_count(&self) -> anyhow::Result<usize> {
        let out = self
            .ovs
            .vsctl(&["list-ports", "br0"])
            .map_err(|e| anyhow!("{e}"))?;
        Ok(out.lines().count())
    }

    fn counters(&self) -> anyhow::Result<Counters> {
        let text = std::fs::read_to_string(&self.log)
            .with_context(|| format!("Cannot read ovsdb-server's log {}", self.log.display()))?;
        Ok(Counters::parse(&text))
    }

    /// Runs `f` and returns its result with the requests rack's connections sent meanwhile.
    pub fn counting<T>(
        &self,
        f: impl FnOnce() -> anyhow::Result<T>,
    ) -> anyhow::Result<(T, Counters)> {
        let before = self.counters()?;
        let value = f()?;
        Ok((value, self.counters()?.since(before)))
    }
}

/// The names and settings both configurations and the floor share.
fn access(i: usize) -> (String, u16) {
    (format!("acc{i:02}"), VLANS[i % VLANS.len()])
}

/// The floor: the whole profile as one `ovs-vsctl` invocation.
fn floor_args() -> Vec<String> {
    let mut cmds: Vec<Vec<String>> = Vec::new();
    let trunks = VLANS.map(|v| v.to_string()).join(",");
    for v in VLANS {
        cmds.push(
            [
                "br-set-external-id",
                "br0",
                &format!("rack-vlan:v{v}"),
                &v.to_string(),
            ]
            .map(String::from)
            .to_vec(),
        );
    }
    for i in 0..ACCESS {
        let (name, tag) = access(i);
        cmds.push(vec![
            "add-port".into(),
            "br0".into(),
            name,
            format!("tag={tag}"),
            "vlan_mode=access".into(),
        ]);
    }
    for i in 0..TRUNKS {
        cmds.push(vec![
            "add-port".into(),
            "br0".into(),
            format!("trk{i}"),
            "vlan_mode=trunk".into(),
            format!("trunks={trunks}"),
        ]);
    }
    for i in 0..BONDS {
        cmds.push(vec![
            "add-bond".into(),
            "br0".into(),
            format!("bond{i}"),
            format!("bond{i}a"),
            format!("bond{i}b"),
            "bond_mode=balance-slb".into(),
            "lacp=off".into(),
            "vlan_mode=trunk".into(),
            format!("trunks={trunks}"),
        ]);
    }
    let mut args = Vec::new();
    for (n, c) in cmds.into_iter().enumerate() {
        if n > 0 {
            args.push("--".to_owned());
        }
        args.extend(c);
    }
    args
}

fn floor_clear_args() -> Vec<String> {
    let mut args = Vec::new();
    let names = (0..ACCESS)
        .map(|i| access(i).0)
        .chain((0..TRUNKS).map(|i| format!("trk{i}")))
        .chain((0..BONDS).map(|i| format!("bond{i}")));
    for (n, name) in names.enumerate() {
        if n > 0 {
            args.push("--".to_owned());
        }
        args.extend(["del-port".to_owned(), "br0".to_owned(), name]);
    }
    args
}

fn rack_main_tf(address: &str) -> String {
    let vlans: Vec<String> = VLANS.iter().map(|v| format!("    v{v} = {v}")).collect();
    let trunks = VLANS.map(|v| v.to_string()).join(", ");
    format!(
        r#"terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{
  switch {{
    server "tor1" {{
      address = "{address}"
    }}
  }}
}}

locals {{
  vlans = {{
{}
  }}
}}

resource "rack_switch_vlan" "v" {{
  for_each = local.vlans
  bridge   = "br0"
  name     = each.key
  tag      = each.value
}}

resource "rack_switch_port" "access" {{
  for_each = {{ for i in range({ACCESS}) : format("acc%02d", i) => format("v%d", [{trunks}][i % 4]) }}
  bridge   = "br0"
  name     = each.key
  vlan     = rack_switch_vlan.v[each.value].name
}}

resource "rack_switch_port" "trunk" {{
  for_each  = toset([for i in range({TRUNKS}) : "trk${{i}}"])
  bridge    = "br0"
  name      = each.key
  vlan_mode = "trunk"
  trunks    = [{trunks}]
}}

resource "rack_switch_port" "bond" {{
  for_each   = toset([for i in range({BONDS}) : "bond${{i}}"])
  bridge     = "br0"
  name       = each.key
  interfaces = [{{ name = "${{each.key}}a" }}, {{ name = "${{each.key}}b" }}]
  bond_mode  = "balance-slb"
  lacp       = "off"
  vlan_mode  = "trunk"
  trunks     = [{trunks}]
}}
"#,
        vlans.join("\n")
    )
}

fn data_main_tf() -> String {
    format!(
        "resource \"terraform_data\" \"port\" {{\n  for_each = toset([for i in range({PORTS}) : \"p${{i}}\"])\n  \
         input = {{ name = each.key, tag = 10 }}\n}}\n"
    )
}

/// [`data_main_tf`] with one call of a rack provider function in a local: Terraform
/// starts the provider in each of a plan's three phases (schema, validate, plan), as it
/// does for the switch configuration, and the provider does nothing else.
fn started_main_tf() -> String {
    format!(
        "terraform {{\n  required_providers {{\n    rack = {{ source = \"terraform.local/rack/rack\" }}\n  }}\n}}\n\n\
         locals {{\n  mac = provider::rack::mac_address(\"tor1\")\n}}\n\n\
         resource \"terraform_data\" \"port\" {{\n  for_each = toset([for i in range({PORTS}) : \"p${{i}}\"])\n  \
         input = {{ name = each.key, tag = 10, mac = local.mac }}\n}}\n"
    )
}

/// Wall time, requests and CPU of one command.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    seconds: f64,
    counters: Counters,
    cpu: f64,
    provider_starts: usize,
}

#[derive(Debug, Default)]
struct Samples {
    steps: [Vec<Measured>; STEPS],
}

impl Samples {
    fn of(&self, step: Step) -> &[Measured] {
        &self.steps[step as usize]
    }

    fn seconds(&self, step: Step) -> Vec<f64> {
        self.of(step).iter().map(|m| m.seconds).collect()
    }
}

struct Workdirs {
    rack: Workdir,
    data: Workdir,
    started: Workdir,
    times: PathBuf,
}

fn measure(
    switch: &Switch,
    wds: &Workdirs,
    ticks: f64,
    command: impl FnOnce() -> anyhow::Result<CmdResult>,
) -> anyhow::Result<Measured> {
    take_provider_cpu(&wds.times)?;
    let cpu_before = children_cpu(ticks)?;
    let (result, counters) = switch.counting(command)?;
    Ok(Measured {
        seconds: result.elapsed.as_secs_f64(),
        counters,
        cpu: children_cpu(ticks)? - cpu_before,
        provider_starts: take_provider_cpu(&wds.times)?.starts,
    })
}

fn run_cycle(
    cycle: Cycle,
    switch: &Switch,
    wds: &Workdirs,
    ticks: f64,
    samples: &mut Samples,
    keep: bool,
) -> anyhow::Result<()> {
    let mut got: Vec<(Step, Measured)> = Vec::new();
    match cycle {
        Cycle::Rack | Cycle::Data | Cycle::Started => {
            let (wd, apply_step, plan_step) = match cycle {
                Cycle::Rack => (&wds.rack, Step::RackApply, Step::RackPlan),
                Cycle::Started => (&wds.started, Step::StartedApply, Step::StartedPlan),
                _ => (&wds.data, Step::DataApply, Step::DataPlan),
            };
            got.push((apply_step, measure(switch, wds, ticks, || apply(wd))?));
            if cycle == Cycle::Rack {
                let n = switch.port_count()?;
                if n != PORTS {
                    bail!("After the apply br0 holds {n} ports, not {PORTS}");
                }
            }
            for _ in 0..PLANS_PER_ROUND {
                got.push((
                    plan_step,
                    measure(switch, wds, ticks, || plan_no_change(wd))?,
                ));
            }
            if cycle == Cycle::Rack {
                switch.reset()?;
            }
            remove_state(wd)?;
        }
        Cycle::Floor => {
            for (step, args) in [
                (Step::Floor, floor_args()),
                (Step::FloorClear, floor_clear_args()),
            ] {
                let (seconds, counters) = switch.counting(|| switch.vsctl(&args))?;
                got.push((
                    step,
                    Measured {
                        seconds,
                        counters,
                        ..Measured::default()
                    },
                ));
                if step == Step::Floor && switch.port_count()? != PORTS {
                    bail!("The floor's ovs-vsctl did not add {PORTS} ports");
                }
            }
            switch.reset()?;
        }
    }
    if keep {
        for (step, m) in got {
            samples.steps[step as usize].push(m);
        }
    }
    Ok(())
}

fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

/// `median (min–max)` of one counter over a step's samples.
fn count_cell(samples: &[Measured], field: fn(&Measured) -> u64) -> String {
    let values: Vec<f64> = samples.iter().map(|m| field(m) as f64).collect();
    match Summary::of(&values) {
        Some(s) if s.min == s.max => format!("{}", s.median),
        Some(s) => format!("{} ({}–{})", s.median, s.min, s.max),
        None => "–".into(),
    }
}

fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let s = |step: Step| summary(&samples.seconds(step), &step.what());
    let mut rows = Vec::new();
    for (step, base, base_what) in [
        (
            Step::RackApply,
            Step::DataApply,
            format!("apply, {PORTS} `terraform_data`"),
        ),
        (
            Step::RackPlan,
            Step::DataPlan,
            format!("no-change plan, {PORTS} `terraform_data`"),
        ),
        (
            Step::StartedPlan,
            Step::DataPlan,
            format!("no-change plan, {PORTS} `terraform_data`"),
        ),
    ] {
        rows.push(Row {
            what: step.what(),
            unit: Unit::S,
            rack: s(step)?,
            baseline_what: base_what,
            baseline: Some(s(base)?),
            target: None,
        });
    }
    for step in [Step::Floor, Step::FloorClear] {
        let v = s(step)?;
        let ms = |x: f64| x * 1000.0;
        let v = Summary {
            min: ms(v.min),
            p25: ms(v.p25),
            median: ms(v.median),
            p75: ms(v.p75),
            max: ms(v.max),
            ..v
        };
        rows.push(Row {
            what: step.what(),
            unit: Unit::Ms,
            rack: v,
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    Ok(rows)
}

fn requests_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| Command | Write transactions | Reads (`select`s) | `cur_cfg` waits | Provider processes |\n|---|---:|---:|---:|---:|\n",
    );
    for step in [Step::RackApply, Step::RackPlan, Step::StartedPlan] {
        let s = samples.of(step);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            step.what(),
            count_cell(s, |m| m.counters.writes),
            count_cell(s, |m| m.counters.reads),
            count_cell(s, |m| m.counters.waits),
            count_cell(s, |m| m.provider_starts as u64),
        );
    }
    out
}

fn targets(samples: &Samples) -> anyhow::Result<String> {
    let median = |step: Step| summary(&samples.seconds(step), &step.what()).map(|s| s.median);
    let mut out = String::from("| Target | Measured | Met |\n|---|---|---|\n");
    let (apply, floor, data_apply) = (
        median(Step::RackApply)?,
        median(Step::Floor)?,
        median(Step::DataApply)?,
    );
    let ratio = apply / (floor + data_apply);
    let _ = writeln!(
        out,
        "| Apply within {APPLY_FACTOR}× (one `ovs-vsctl` + {PORTS} `terraform_data`) | {ratio:.2}× ({} vs {} + {}) | {} |",
        Unit::S.format(apply),
        Unit::S.format(floor),
        Unit::S.format(data_apply),
        yes_no(ratio <= APPLY_FACTOR)
    );
    let (plan, data_plan) = (median(Step::RackPlan)?, median(Step::DataPlan)?);
    let paired = paired_ratios(
        &samples.seconds(Step::RackPlan),
        &samples.seconds(Step::DataPlan),
    )
    .map_or_else(String::new, |p| {
        format!(
            "; per-plan ratios {:.2} (min–max {:.2}–{:.2})",
            p.median, p.min, p.max
        )
    });
    let _ = writeln!(
        out,
        "| No-change plan within {PLAN_FACTOR}× that of {PORTS} `terraform_data` | {:.2}× ({} vs {}){paired} | {} |",
        plan / data_plan,
        Unit::S.format(plan),
        Unit::S.format(data_plan),
        yes_no(plan / data_plan <= PLAN_FACTOR)
    );
    let started = median(Step::StartedPlan)?;
    let _ = writeln!(
        out,
        "| No-change plan against {PORTS} `terraform_data` with rack started (counted, no \
         target: the switch work alone, without the provider processes' cost) | {:.2}× ({} vs {}); \
         rack started by itself: {:.2}× `terraform_data` | – |",
        plan / started,
        Unit::S.format(plan),
        Unit::S.format(started),
        started / data_plan
    );
    let plans = samples.of(Step::RackPlan);
    let worst = plans
        .iter()
        .map(|m| m.counters.reads.saturating_sub(m.provider_starts as u64))
        .max()
        .unwrap_or(u64::MAX);
    let _ = writeln!(
        out,
        "| No-change plan: one read per switch per provider process | at most {} more reads than provider processes in {} plans | {} |",
        worst,
        plans.len(),
        yes_no(!plans.is_empty() && worst == 0)
    );
    let writes = samples.of(Step::RackApply);
    let _ = writeln!(
        out,
        "| Apply: write transactions (counted, no target; Terraform hands the provider at \
         most 10 resources at a time, and the ports wait for their VLANs) | {} for {} resources | – |",
        count_cell(writes, |m| m.counters.writes),
        PORTS + VLANS.len()
    );
    Ok(out)
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let ticks = clock_ticks();
    eprintln!("bench: starting Open vSwitch");
    let switch = Switch::start()?;
    let wrapper_dir = tempfile::Builder::new()
        .prefix("rack-bench-switch-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let times = wrapper_dir.path().join("times");
    write_wrapper(wrapper_dir.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(wrapper_dir.path());
    let wds = Workdirs {
        rack: {
            let wd = Workdir::with_cli_config_text(&cli_config);
            wd.write_main(&rack_main_tf(&switch.ovs.address()));
            wd
        },
        data: {
            let wd = Workdir::without_provider();
            wd.write_main(&data_main_tf());
            wd
        },
        started: {
            let wd = Workdir::with_cli_config_text(&cli_config);
            wd.write_main(&started_main_tf());
            wd
        },
        times,
    };
    let mut samples = Samples::default();
    rotating_rounds(opts.runs, &CYCLES, |cycle, counted| {
        run_cycle(cycle, &switch, &wds, ticks, &mut samples, counted)
    })?;
    let mut out = setup.report_head(None, "default parallelism (10)");
    let _ = writeln!(out, "- Switch: {}", Switch::described());
    let _ = writeln!(
        out,
        "- Profile: {ACCESS} access ports over {} named VLANs, {TRUNKS} trunks, {BONDS} \
         two-member bonds ({PORTS} ports, 48 interfaces)",
        VLANS.len()
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: one apply and {PLANS_PER_ROUND} no-change plans of the three \
         configurations, and one floor cycle; the four in rotating order), after one \
         warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str("#### Time\n\n");
    out.push_str(&table(&time_rows(&samples)?));
    out.push_str("\n#### Requests received by ovsdb-server from rack, per command\n\n");
    out.push_str(&requests_table(&samples));
    let cpu: Vec<f64> = samples.of(Step::RackApply).iter().map(|m| m.cpu).collect();
    if let Some(c) = Summary::of(&cpu) {
        let _ = writeln!(
            out,
            "\nCPU of Terraform and the provider per apply: median {}.",
            Unit::S.format(c.median)
        );
    }
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_classified_from_the_log() {
        let log = "x|jsonrpc|DBG|tcp:127.0.0.1:5: received request, method=\"transact\", params=[\"Open_vSwitch\",{\"op\":\"select\"}], id=1\n\
                   x|jsonrpc|DBG|tcp:127.0.0.1:5: received request, method=\"transact\", params=[\"Open_vSwitch\",{\"op\":\"wait\"},{\"op\":\"insert\"}], id=2\n\
                   x|jsonrpc|DBG|tcp:127.0.0.1:5: received request, method=\"transact\", params=[\"Open_vSwitch\",{\"op\":\"wait\",\"columns\":[\"cur_cfg\"]}], id=3\n\
                   x|jsonrpc|DBG|unix#1: received request, method=\"transact\", params=[\"Open_vSwitch\",{\"op\":\"insert\"}], id=1\n";
        assert_eq!(
            Counters::parse(log),
            Counters {
                writes: 1,
                reads: 1,
                waits: 1
            }
        );
    }

    #[test]
    fn the_floor_is_one_invocation_with_every_port() {
        let args = floor_args();
        assert_eq!(
            args.iter().filter(|a| *a == "add-port").count(),
            ACCESS + TRUNKS
        );
        assert_eq!(args.iter().filter(|a| *a == "add-bond").count(), BONDS);
        assert!(args.contains(&"tag=10".to_owned()));
    }
}
