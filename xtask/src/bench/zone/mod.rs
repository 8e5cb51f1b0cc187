//! The zone benchmark: a zone of 10,000 resources across three hypervisors, with a
//! switch port per VM on top (10,253 in all), in one configuration, against named, Kea
//! with its PostgreSQL host database, three libvirtd and one Open vSwitch, measured in one
//! run on a 2-core machine within 30 minutes:
//!
//! - the zone in its **aggregate form** (`rack_dns_records` and `rack_dhcp_reservations`
//!   of at most 250 entries each, and the volumes, VMs, switch ports and VLANs): its
//!   apply, which creates the whole zone, its no-change plan, `-refresh=false`,
//!   `-parallelism=50`, and the apply of a one-entry change;
//! - the same zone in its **per-item form** (one resource per record set, lease, volume
//!   and VM: 10,000 resources, and the same 250 `rack_switch_port` and 3
//!   `rack_switch_vlan`, of which there is no aggregate resource): its no-change plan at
//!   the sizes 1,000, 3,000 and 10,000 (each with its ports and VLANs), with
//!   `-refresh=false` and `-parallelism=50` at the full size, against the same plans of
//!   as many `terraform_data` of the same shape;
//! - **adopting** a BIND zone of 10,000 A records written by nsupdate: `terraform query
//!   -generate-config-out` and the import plan, as record sets and as one
//!   `rack_dns_records`.
//!
//! Terraform's own cost decides the design. An apply of N `terraform_data` grows faster
//! than N (33 s for 1,000, 247 s for 3,000 on this machine), so applying 10,000 resources
//! one by one does not fit the budget. The zone is therefore created once, by the
//! aggregate form's apply, and the state of the per-item form is written by the benchmark:
//! the record sets and leases as rack's import writes them, the volumes, VMs, switch
//! ports and VLANs copied from the aggregate form's state (both forms hold them alike).
//! The `terraform_data` baselines' state is written the same way. Every plan against a
//! written state must find nothing to do (`-detailed-exitcode` 0), and the report says
//! whether its refresh found anything changed. The 1,000 and 3,000 points are the first
//! items of each kind of the same zone, which the services hold whole.
//!
//! Requests are counted on the services (see [`services`]). A smaller zone of the same
//! proportions runs with `RACK_BENCH_ZONE_RESOURCES` (default 10,000 record sets,
//! leases, volumes and VMs, to which the ports and VLANs are added; the growth points,
//! the ports and the adoption zone scale with it).

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};
use rack_acceptance_tests::Workdir;

use super::dns::clock_ticks;
use super::setup::{Setup, rotating_counted_rounds};

mod report;
mod run;
mod services;
mod shape;

use run::{Measured, Wrapper};
use services::Services;
use shape::{Form, Shape};

/// Rounds of no-change plans when `--runs` is not given: one round plans every form at
/// every size once, about 10 minutes at 10,000 resources.
pub const DEFAULT_ROUNDS: usize = 1;

/// The zone: resources in the per-item form, without the switch's.
const FULL: usize = 10_000;

/// Names the size of the zone, in resources of the per-item form without the switch's
/// (a port per 40 of them and a VLAN per hypervisor are added).
const ENV_RESOURCES: &str = "RACK_BENCH_ZONE_RESOURCES";

/// Hypervisors the VMs spread over.
const HYPERVISORS: usize = 3;

/// Names the phases to run: `all` (the default) or `aggregate` (the aggregate form
/// alone: its apply, no-change plans, plan variants and one-entry changes; a few minutes
/// at the full size, for working on that form).
const ENV_PHASES: &str = "RACK_BENCH_ZONE_PHASES";

/// When `1`, the run stops after the aggregate form's apply, prints its working directory
/// (with `bench-env.sh`, the environment its commands run with) and waits for a line on
/// stdin before it goes on, so that other configurations can be tried against the same
/// services by hand.
const ENV_HOLD: &str = "RACK_BENCH_ZONE_HOLD";

/// The zone adopted in the last phase, written by nsupdate, and its records per UPDATE.
const ADOPT_ZONE: &str = "adopt.";
const ADOPT_PER_UPDATE: usize = 1000;

/// The parallelism of the `-parallelism` plans.
const PARALLELISM: u32 = 50;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds of the no-change plans.
    pub runs: usize,
}

/// The plans of one round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Aggregate,
    PerItem(usize),
    Data(usize),
}

/// A plan run differently from the default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Variant {
    RefreshFalse,
    Parallelism,
}

impl Variant {
    pub fn args(self) -> Vec<String> {
        let mut args: Vec<String> = PLAN.iter().map(|s| (*s).to_owned()).collect();
        args.push(match self {
            Variant::RefreshFalse => "-refresh=false".to_owned(),
            Variant::Parallelism => format!("-parallelism={PARALLELISM}"),
        });
        args
    }

    pub fn what(self) -> String {
        match self {
            Variant::RefreshFalse => "`-refresh=false`".to_owned(),
            Variant::Parallelism => format!("`-parallelism={PARALLELISM}`"),
        }
    }
}

const PLAN: [&str; 4] = ["plan", "-input=false", "-no-color", "-detailed-exitcode"];
const APPLY: [&str; 4] = ["apply", "-auto-approve", "-input=false", "-no-color"];

/// The adoption phase.
#[derive(Debug, Clone)]
struct Adoption {
    pub records: usize,
    /// nsupdate's wall time for all of them.
    pub write_seconds: f64,
    /// `terraform query -generate-config-out` with `list "rack_dns_record_set"`.
    pub per_item_query: Measured,
    /// Resource blocks and import blocks it generated.
    pub generated: (usize, usize),
    /// The import plan of the generated configuration.
    pub per_item_plan: Measured,
    /// The same with `list "rack_dns_records"`.
    pub aggregate_query: Measured,
    pub aggregate_plan: Measured,
    /// Applying the aggregate import, then a no-change plan.
    pub aggregate_apply: Measured,
    pub aggregate_clean_plan: Measured,
}

/// Everything measured.
#[derive(Debug, Default)]
struct Results {
    pub shape: Option<Shape>,
    pub sizes: Vec<usize>,
    pub apply: Option<Measured>,
    pub aggregate_plans: Vec<Measured>,
    pub per_item_plans: BTreeMap<usize, Vec<Measured>>,
    pub data_plans: BTreeMap<usize, Vec<Measured>>,
    pub aggregate_variants: Vec<(Variant, Measured)>,
    pub per_item_variants: Vec<(Variant, Measured)>,
    pub changes: Vec<Measured>,
    pub adoption: Option<Adoption>,
    /// Plans against a written state whose refresh reported objects changed outside
    /// Terraform.
    pub drift: Vec<String>,
    /// Commands that failed: what, and the error (Terraform's diagnostics).
    pub failures: Vec<(String, String)>,
    /// Wall time of each phase, seconds.
    pub phases: Vec<(&'static str, f64)>,
}

/// The zone's size from [`ENV_RESOURCES`].
fn resources() -> anyhow::Result<usize> {
    match std::env::var(ENV_RESOURCES) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .ok()
            .filter(|&n: &usize| n >= 400)
            .ok_or_else(|| anyhow!("{ENV_RESOURCES}={v:?} is not a number of at least 400")),
        _ => Ok(FULL),
    }
}

/// Whether [`ENV_PHASES`] asks for the aggregate form alone.
fn aggregate_only() -> anyhow::Result<bool> {
    match std::env::var(ENV_PHASES).as_deref() {
        Err(_) | Ok("" | "all") => Ok(false),
        Ok("aggregate") => Ok(true),
        Ok(v) => bail!("{ENV_PHASES}={v:?} is neither `all` nor `aggregate`"),
    }
}

/// Writes `bench-env.sh` into `wd` (the variables its Terraform commands run with) and
/// waits for a line on stdin.
fn hold(wd: &Workdir) -> anyhow::Result<()> {
    let mut script = String::new();
    let _ = writeln!(
        script,
        "export TF_CLI_CONFIG_FILE='{}' TF_IN_AUTOMATION=1 CHECKPOINT_DISABLE=1 TF_INPUT=0",
        wd.cli_config().display()
    );
    for (k, v) in wd.envs() {
        let _ = writeln!(
            script,
            "export {}='{}'",
            k.to_string_lossy(),
            v.to_string_lossy()
        );
    }
    wd.write_file("bench-env.sh", script);
    eprintln!(
        "bench: holding; the aggregate form is in {} (source bench-env.sh there); \
         a line on stdin goes on",
        wd.path().display()
    );
    let mut line = String::new();
    std::io::stdin()
        .read_line(&mut line)
        .context("Cannot read stdin")?;
    Ok(())
}

/// A working directory of `form` for `shape`, with `state` written in it when given.
fn workdir(
    form: Form,
    shape: &Shape,
    services: &Services,
    wrapper: &Wrapper,
    state: Option<&str>,
) -> anyhow::Result<Workdir> {
    let mut wd = match form {
        Form::Data => Workdir::without_provider(),
        _ => Workdir::with_cli_config_text(&rack_acceptance_tests::dev_overrides_cli_config(
            &wrapper.dir,
        )),
    };
    services.provider_env(&mut wd);
    wd.write_main(&shape::main_tf(form, &services.endpoints()));
    wd.write_file(shape::values_file(form), shape::locals(shape, form));
    if let Some(state) = state {
        wd.write_file("terraform.tfstate", state);
    }
    Ok(wd)
}

/// Notes a plan against a written state whose refresh found objects changed.
fn check_drift(m: &Measured, what: &str, drift: &mut Vec<String>) {
    if m.stdout.contains("changed outside of Terraform") {
        drift.push(what.to_owned());
    }
}

/// The nsupdate script adding `n` A records to [`ADOPT_ZONE`], [`ADOPT_PER_UPDATE`] per
/// UPDATE.
fn adopt_script(services: &Services, n: usize) -> String {
    let addr = services.dns_addr();
    let mut script = String::new();
    for chunk in (0..n).collect::<Vec<_>>().chunks(ADOPT_PER_UPDATE) {
        let _ = writeln!(
            script,
            "server {} {}\nzone {ADOPT_ZONE}",
            addr.ip(),
            addr.port()
        );
        for i in chunk {
            let _ = writeln!(
                script,
                "update add a{i:05}.{ADOPT_ZONE} 300 A 10.30.{}.{}",
                i / 250,
                i % 250 + 1
            );
        }
        script.push_str("send\n");
    }
    script
}

/// Adopts [`ADOPT_ZONE`], written outside rack, both ways.
fn adopt(services: &Services, wrapper: &Wrapper, records: usize) -> anyhow::Result<Adoption> {
    let write_seconds = services.nsupdate(&adopt_script(services, records))?;
    let query_wd = |list: &str, extra: &str| {
        let mut wd = Workdir::with_cli_config_text(
            &rack_acceptance_tests::dev_overrides_cli_config(&wrapper.dir),
        );
        services.provider_env(&mut wd);
        wd.write_main(rack_acceptance_tests::EMPTY_PROVIDER_CONFIG);
        wd.write_file(
            "adopt.tfquery.hcl",
            format!(
                "list \"{list}\" \"adopt\" {{\n  provider = rack\n{extra}\n  config {{\n    \
                 zone = \"{ADOPT_ZONE}\"\n  }}\n}}\n"
            ),
        );
        wd
    };
    let query = ["query", "-no-color", "-generate-config-out=generated.tf"];
    let generated = |wd: &Workdir| -> anyhow::Result<String> {
        std::fs::read_to_string(wd.path().join("generated.tf"))
            .context("terraform query wrote no generated.tf")
    };

    eprintln!("bench: adoption, as record sets");
    let wd = query_wd(
        "rack_dns_record_set",
        &format!("  limit    = {}", records + 100),
    );
    let per_item_query = wrapper.measure(services, &wd, &query, &[0])?;
    let text = generated(&wd)?;
    let counts = (
        text.matches("resource \"rack_dns_record_set\"").count(),
        text.matches("import {").count(),
    );
    if counts.0 != records {
        bail!(
            "terraform query generated {} record sets, not {records}",
            counts.0
        );
    }
    let per_item_plan = wrapper.measure(services, &wd, &PLAN, &[2])?;
    let expect = format!("Plan: {records} to import, 0 to add, 0 to change, 0 to destroy.");
    if !per_item_plan.stdout.contains(&expect) {
        bail!(
            "The import plan of the generated record sets does not say {expect:?}:\n{}",
            last_lines(&per_item_plan.stdout)
        );
    }
    drop(wd);

    eprintln!("bench: adoption, as one rack_dns_records");
    let wd = query_wd("rack_dns_records", "");
    let aggregate_query = wrapper.measure(services, &wd, &query, &[0])?;
    let text = generated(&wd)?;
    if text.matches("resource \"rack_dns_records\"").count() != 1 {
        bail!("terraform query generated no single rack_dns_records:\n{text:.2000}");
    }
    let aggregate_plan = wrapper.measure(services, &wd, &PLAN, &[2])?;
    let expect = "Plan: 1 to import, 0 to add, 0 to change, 0 to destroy.";
    if !aggregate_plan.stdout.contains(expect) {
        bail!(
            "The import plan of the generated rack_dns_records does not say {expect:?}:\n{}",
            last_lines(&aggregate_plan.stdout)
        );
    }
    let aggregate_apply = wrapper.measure(services, &wd, &APPLY, &[0])?;
    let aggregate_clean_plan = wrapper.measure(services, &wd, &PLAN, &[0])?;
    Ok(Adoption {
        records,
        write_seconds,
        per_item_query,
        generated: counts,
        per_item_plan,
        aggregate_query,
        aggregate_plan,
        aggregate_apply,
        aggregate_clean_plan,
    })
}

/// The end of a Terraform output, for messages.
fn last_lines(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(30)..].join("\n")
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let started = Instant::now();
    let full = resources()?;
    let shape = Shape::of(full, HYPERVISORS)?;
    let sizes = vec![full / 10, full * 3 / 10, full];
    let mut zones = shape::reverse_zones(&shape);
    zones.push(ADOPT_ZONE.to_owned());
    let mut r = Results {
        shape: Some(shape),
        sizes: sizes.clone(),
        ..Results::default()
    };
    let mut phase = Instant::now();
    let mut end_phase = |name: &'static str, r: &mut Results| {
        r.phases.push((name, phase.elapsed().as_secs_f64()));
        phase = Instant::now();
    };

    let services = Services::start(&zones, HYPERVISORS)?;
    let dir = tempfile::Builder::new()
        .prefix("rack-bench-zone-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let wrapper = Wrapper::write(dir.path(), &setup.binary, clock_ticks())?;
    end_phase("services started", &mut r);

    eprintln!(
        "bench: the zone's apply, in the aggregate form ({} resources)",
        shape.resources()
    );
    let aggregate = workdir(Form::Aggregate, &shape, &services, &wrapper, None)?;
    r.apply = Some(wrapper.measure(&services, &aggregate, &APPLY, &[0])?);
    let hosts = services.db.count()?;
    if hosts != shape.leases {
        bail!(
            "After the apply the host database holds {hosts} hosts, not {}",
            shape.leases
        );
    }
    let ports = services.switch.port_count()?;
    if ports != shape.ports {
        bail!(
            "After the apply the switch's bridge holds {ports} ports, not {}",
            shape.ports
        );
    }
    let applied = std::fs::read_to_string(aggregate.path().join("terraform.tfstate"))
        .context("The aggregate form's apply left no state")?;
    end_phase("aggregate apply", &mut r);

    if std::env::var(ENV_HOLD).is_ok_and(|v| v == "1") {
        hold(&aggregate)?;
        end_phase("held", &mut r);
    }
    let only_aggregate = aggregate_only()?;

    let mut per_item = BTreeMap::new();
    let mut data = BTreeMap::new();
    if !only_aggregate {
        eprintln!("bench: writing the per-item and terraform_data states");
        for &n in &sizes {
            let s = shape.subset(n)?;
            let state = shape::per_item_state(&s, &applied)?;
            per_item.insert(
                n,
                workdir(Form::PerItem, &s, &services, &wrapper, Some(&state))?,
            );
            let state = shape::data_state(&s);
            data.insert(
                n,
                workdir(Form::Data, &s, &services, &wrapper, Some(&state))?,
            );
        }
        end_phase("states written", &mut r);
    }

    let mut cycles = vec![Cycle::Aggregate];
    for &n in sizes.iter().rev().filter(|_| !only_aggregate) {
        cycles.push(Cycle::PerItem(n));
        cycles.push(Cycle::Data(n));
    }
    rotating_counted_rounds(opts.runs, &cycles, |cycle, _| {
        match cycle {
            Cycle::Aggregate => {
                let m = wrapper.measure(&services, &aggregate, &PLAN, &[0])?;
                r.aggregate_plans.push(m);
            }
            Cycle::PerItem(n) => {
                let wd = per_item
                    .get(&n)
                    .ok_or_else(|| anyhow!("no workdir of {n}"))?;
                let m = wrapper.measure(&services, wd, &PLAN, &[0])?;
                check_drift(&m, &format!("per-item plan of {n}"), &mut r.drift);
                r.per_item_plans.entry(n).or_default().push(m);
            }
            Cycle::Data(n) => {
                let wd = data.get(&n).ok_or_else(|| anyhow!("no workdir of {n}"))?;
                let m = wrapper.measure(&services, wd, &PLAN, &[0])?;
                check_drift(&m, &format!("`terraform_data` plan of {n}"), &mut r.drift);
                r.data_plans.entry(n).or_default().push(m);
            }
        }
        Ok(())
    })?;
    end_phase("no-change plans", &mut r);

    for variant in [Variant::RefreshFalse, Variant::Parallelism] {
        let args = variant.args();
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let mut forms = vec![(&aggregate, "aggregate form")];
        forms.extend(per_item.get(&full).map(|wd| (wd, "per-item form")));
        // A plan that fails is reported with its error; the run goes on.
        for (wd, form) in forms {
            match wrapper.measure(&services, wd, &args, &[0]) {
                Ok(m) if form == "aggregate form" => r.aggregate_variants.push((variant, m)),
                Ok(m) => r.per_item_variants.push((variant, m)),
                Err(e) => r.failures.push((
                    format!("no-change plan {}, {form}", variant.what()),
                    format!("{e:#}"),
                )),
            }
        }
    }
    drop(per_item);
    drop(data);
    end_phase("plan variants", &mut r);

    eprintln!("bench: a one-entry change in the aggregate form, and back");
    let original = shape::locals(&shape, Form::Aggregate);
    let from = format!("\"{}\":\"{}\"", shape::host(7), shape::address(7));
    let to = format!("\"{}\":\"10.21.0.8\"", shape::host(7));
    if !original.contains(&from) {
        bail!("The locals hold no {from}");
    }
    for locals in [original.replace(&from, &to), original.clone()] {
        aggregate.write_file(shape::values_file(Form::Aggregate), locals);
        let m = wrapper.measure(&services, &aggregate, &APPLY, &[0])?;
        if !m.stdout.contains("0 added, 1 changed, 0 destroyed") {
            bail!(
                "The one-entry change did not change one resource:\n{}",
                last_lines(&m.stdout)
            );
        }
        r.changes.push(m);
    }
    end_phase("one-entry changes", &mut r);

    if !only_aggregate {
        r.adoption = Some(adopt(&services, &wrapper, full)?);
        end_phase("adoption", &mut r);
    }
    let total = started.elapsed().as_secs_f64();
    r.phases.push(("total", total));

    let mut out = setup.report_head(None, "default parallelism (10) unless a row says otherwise");
    out.push_str(&report::services_line(&services, &shape));
    out.push_str(&report::report(&r, opts.runs)?);
    Ok(out)
}
