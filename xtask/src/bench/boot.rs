//! The boot-file benchmark: a pod's worth of provisioning files (200 of 64 KiB each:
//! ZTP scripts, preseeds, iPXE scripts) written to a real provisioning server (the lab's
//! nginx with WebDAV under `/boot/`), measured in the same run against Terraform's own
//! cost for 200 `terraform_data` and against the floor of the HTTP work itself: the same
//! files uploaded by `curl -T` in one shell loop.
//!
//! Requests are counted on the server, in nginx's access log (one line per request),
//! by method. Every round runs three cycles in an order that rotates from round to
//! round: rack (apply, no-change plans, destroy), `terraform_data` (apply, no-change
//! plans, state removed) and the floor (a loop of `curl -T`, then a loop of
//! `curl -X DELETE`). Each cycle ends with the server empty. A first round warms up and
//! is not counted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};

use super::dns::{
    apply, children_cpu, clock_ticks, destroy, paired_ratios, plan_no_change, remove_state,
    take_provider_cpu, write_wrapper, yes_no,
};
use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Summary, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::provisioning::{Provisioning, USERNAME};

/// Rounds when `--runs` is not given.
pub const DEFAULT_ROUNDS: usize = 3;

/// Files, and the size of each (the boot issue's numbers).
const FILES: usize = 200;
const FILE_SIZE: usize = 64 << 10;

/// No-change plans per round of each configuration.
const PLANS_PER_ROUND: usize = 2;

/// The boot issue's target: the apply within this many times (the `curl -T` loop + the
/// same apply of `terraform_data`).
const APPLY_FACTOR: f64 = 1.5;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds; each has one apply, [`PLANS_PER_ROUND`] plans and one destroy of rack, the
    /// same of `terraform_data` (its state removed instead of a destroy), and one floor
    /// cycle.
    pub runs: usize,
}

/// Every measured command, in report order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Step {
    RackApply,
    RackPlan,
    RackDestroy,
    DataApply,
    DataPlan,
    Floor,
    FloorDelete,
}

const STEPS: usize = 7;

impl Step {
    fn what(self) -> String {
        match self {
            Step::RackApply => format!(
                "(1) `terraform apply`, {FILES} `rack_boot_file` of {} KiB (`source_file`)",
                FILE_SIZE >> 10
            ),
            Step::RackPlan => format!("(2) no-change `terraform plan`, {FILES} boot files"),
            Step::RackDestroy => format!("`terraform destroy`, {FILES} boot files"),
            Step::DataApply => format!("`terraform apply`, {FILES} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {FILES} `terraform_data`"),
            Step::Floor => format!("(3) `curl -T` of the {FILES} files, in one shell loop"),
            Step::FloorDelete => format!("`curl -X DELETE` of the {FILES} files, in one loop"),
        }
    }
}

/// The three cycles of a round.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    Rack,
    Data,
    Floor,
}

const CYCLES: [Cycle; 3] = [Cycle::Rack, Cycle::Data, Cycle::Floor];

/// Requests nginx logged, by method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    puts: u64,
    gets: u64,
    deletes: u64,
    other: u64,
}

impl Counters {
    /// Counts the requests of an access log in nginx's default format
    /// (`... "PUT /boot/x HTTP/1.1" 201 ...`).
    fn parse(log: &str) -> Self {
        let mut c = Self::default();
        for line in log.lines() {
            let Some(request) = line.split('"').nth(1) else {
                continue;
            };
            match request.split(' ').next() {
                Some("PUT") => c.puts += 1,
                Some("GET" | "HEAD") => c.gets += 1,
                Some("DELETE") => c.deletes += 1,
                _ => c.other += 1,
            }
        }
        c
    }

    fn since(self, before: Self) -> Self {
        Self {
            puts: self.puts.saturating_sub(before.puts),
            gets: self.gets.saturating_sub(before.gets),
            deletes: self.deletes.saturating_sub(before.deletes),
            other: self.other.saturating_sub(before.other),
        }
    }

    fn total(self) -> u64 {
        self.puts + self.gets + self.deletes + self.other
    }
}

/// The name of file `i`, below `/boot/` and in the local directory.
fn file_name(i: usize) -> String {
    format!("pod1/host{i:03}.cfg")
}

/// Writes the [`FILES`] local files of [`FILE_SIZE`] bytes under `dir`, each different
/// (printable text, as preseeds and scripts are).
fn write_files(dir: &Path) -> anyhow::Result<()> {
    for i in 0..FILES {
        let path = dir.join(file_name(i));
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("Cannot create {}", parent.display()))?;
        }
        let mut text = String::with_capacity(FILE_SIZE);
        let mut line = 0usize;
        while text.len() < FILE_SIZE {
            let _ = writeln!(
                text,
                "# host{i:03} line {line:05} d-i preseed/late_command string true"
            );
            line += 1;
        }
        text.truncate(FILE_SIZE - 1);
        text.push('\n');
        std::fs::write(&path, text).with_context(|| format!("Cannot write {}", path.display()))?;
    }
    Ok(())
}

fn rack_main_tf(files: &Path) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{}}

resource "rack_boot_file" "f" {{
  for_each    = toset([for i in range({FILES}) : format("pod1/host%03d.cfg", i)])
  path        = each.key
  source_file = "{}/${{each.key}}"
}}
"#,
        files.display()
    )
}

fn data_main_tf(files: &Path) -> String {
    format!(
        r#"resource "terraform_data" "f" {{
  for_each = toset([for i in range({FILES}) : format("pod1/host%03d.cfg", i)])
  input = {{
    path   = each.key
    sha256 = filesha256("{}/${{each.key}}")
  }}
}}
"#,
        files.display()
    )
}

/// The floor: `curl` once per file in one bash loop, with the password in a netrc file
/// (not on a command line). `method` is `-T` (upload the file) or `-X DELETE`.
fn floor_script(server: &Provisioning, files: &Path, netrc: &Path, upload: bool) -> String {
    let action = if upload { "-T \"$f\"" } else { "-X DELETE" };
    format!(
        "set -e\ncd '{}'\nfor i in $(seq -f %03g 0 {}); do\n  f=pod1/host$i.cfg\n  \
         curl -sSf --netrc-file '{}' {action} -o /dev/null \"{}$f\"\ndone\n",
        files.display(),
        FILES - 1,
        netrc.display(),
        server.url
    )
}

/// Wall time, requests and CPU of one command.
#[derive(Debug, Clone, Copy, Default)]
struct Measured {
    seconds: f64,
    counters: Counters,
    cpu: f64,
    provider_cpu: f64,
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

struct Bench {
    server: Provisioning,
    files: PathBuf,
    netrc: PathBuf,
    rack: Workdir,
    data: Workdir,
    times: PathBuf,
    ticks: f64,
}

impl Bench {
    fn counters(&self) -> Counters {
        Counters::parse(&self.server.access_log())
    }

    /// The files below `/boot/pod1` on the server's disk.
    fn files_on_server(&self) -> usize {
        std::fs::read_dir(self.server.file("pod1")).map_or(0, |d| d.count())
    }

    fn measure(
        &self,
        command: impl FnOnce() -> anyhow::Result<CmdResult>,
    ) -> anyhow::Result<Measured> {
        take_provider_cpu(&self.times)?;
        let cpu_before = children_cpu(self.ticks)?;
        let before = self.counters();
        let result = command()?;
        let counters = self.counters().since(before);
        let provider = take_provider_cpu(&self.times)?;
        Ok(Measured {
            seconds: result.elapsed.as_secs_f64(),
            counters,
            cpu: children_cpu(self.ticks)? - cpu_before,
            provider_cpu: provider.seconds,
            provider_starts: provider.starts,
        })
    }

    fn floor(&self, upload: bool) -> anyhow::Result<Measured> {
        let script = floor_script(&self.server, &self.files, &self.netrc, upload);
        let cpu_before = children_cpu(self.ticks)?;
        let before = self.counters();
        let start = Instant::now();
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .output()
            .context("Cannot run bash for the curl loop")?;
        let seconds = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "The curl loop failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        Ok(Measured {
            seconds,
            counters: self.counters().since(before),
            cpu: children_cpu(self.ticks)? - cpu_before,
            ..Measured::default()
        })
    }

    fn expect_files(&self, n: usize, after: &str) -> anyhow::Result<()> {
        let found = self.files_on_server();
        if found != n {
            bail!("After {after} the server holds {found} files, not {n}");
        }
        Ok(())
    }

    fn run_cycle(&self, cycle: Cycle, samples: &mut Samples, keep: bool) -> anyhow::Result<()> {
        let mut got: Vec<(Step, Measured)> = Vec::new();
        match cycle {
            Cycle::Rack => {
                got.push((Step::RackApply, self.measure(|| apply(&self.rack))?));
                self.expect_files(FILES, "rack's apply")?;
                for _ in 0..PLANS_PER_ROUND {
                    got.push((Step::RackPlan, self.measure(|| plan_no_change(&self.rack))?));
                }
                got.push((Step::RackDestroy, self.measure(|| destroy(&self.rack))?));
                self.expect_files(0, "rack's destroy")?;
                remove_state(&self.rack)?;
            }
            Cycle::Data => {
                got.push((Step::DataApply, self.measure(|| apply(&self.data))?));
                for _ in 0..PLANS_PER_ROUND {
                    got.push((Step::DataPlan, self.measure(|| plan_no_change(&self.data))?));
                }
                remove_state(&self.data)?;
            }
            Cycle::Floor => {
                got.push((Step::Floor, self.floor(true)?));
                self.expect_files(FILES, "the curl loop")?;
                got.push((Step::FloorDelete, self.floor(false)?));
                self.expect_files(0, "the DELETE loop")?;
            }
        }
        if keep {
            for (step, m) in got {
                samples.steps[step as usize].push(m);
            }
        }
        Ok(())
    }
}

pub(super) fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

/// `median (min–max)` of one value over a step's samples.
pub(super) fn cell<M>(samples: &[M], field: fn(&M) -> f64, unit: Option<Unit>) -> String {
    let values: Vec<f64> = samples.iter().map(field).collect();
    let show = |v: f64| unit.map_or_else(|| format!("{v}"), |u| u.format(v));
    match Summary::of(&values) {
        Some(s) if s.min == s.max => show(s.median),
        Some(s) => format!("{} ({}–{})", show(s.median), show(s.min), show(s.max)),
        None => "–".into(),
    }
}

fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let s = |step: Step| summary(&samples.seconds(step), &step.what());
    let mut rows = Vec::new();
    for (step, base, base_what) in [
        (
            Step::RackApply,
            Some(Step::DataApply),
            format!("apply, {FILES} `terraform_data`"),
        ),
        (
            Step::RackPlan,
            Some(Step::DataPlan),
            format!("no-change plan, {FILES} `terraform_data`"),
        ),
        (Step::RackDestroy, None, "–".into()),
        (Step::Floor, None, "–".into()),
        (Step::FloorDelete, None, "–".into()),
    ] {
        rows.push(Row {
            what: step.what(),
            unit: Unit::S,
            rack: s(step)?,
            baseline_what: base_what,
            baseline: base.map(s).transpose()?,
            target: None,
        });
    }
    Ok(rows)
}

fn requests_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| Command | Wall | CPU, Terraform + provider | CPU, provider | Provider processes | Requests | PUT | GET | DELETE | other |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::RackPlan,
        Step::RackDestroy,
        Step::DataApply,
        Step::DataPlan,
        Step::Floor,
        Step::FloorDelete,
    ] {
        let s = samples.of(step);
        let rack = matches!(step, Step::RackApply | Step::RackPlan | Step::RackDestroy);
        let provider = |f: fn(&Measured) -> f64, u: Option<Unit>| {
            if rack { cell(s, f, u) } else { "–".into() }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            step.what(),
            cell(s, |m| m.seconds, Some(Unit::S)),
            cell(s, |m| m.cpu, Some(Unit::S)),
            provider(|m| m.provider_cpu, Some(Unit::S)),
            provider(|m| m.provider_starts as f64, None),
            cell(s, |m| m.counters.total() as f64, None),
            cell(s, |m| m.counters.puts as f64, None),
            cell(s, |m| m.counters.gets as f64, None),
            cell(s, |m| m.counters.deletes as f64, None),
            cell(s, |m| m.counters.other as f64, None),
        );
    }
    out.push_str(
        "\nMedian (min–max) over the rounds. Requests are counted in nginx's access log. CPU \
         is user + system time of the waited-for children (Terraform with its Python wrapper, \
         and the provider processes; for the floor, bash and its curls); the provider's own \
         through a wrapper script.\n",
    );
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
    let paired: Vec<f64> = samples
        .seconds(Step::RackApply)
        .iter()
        .zip(samples.seconds(Step::Floor))
        .zip(samples.seconds(Step::DataApply))
        .map(|((a, f), d)| a / (f + d))
        .collect();
    let per_round = Summary::of(&paired).map_or_else(String::new, |p| {
        format!(
            "; per-round ratio {:.2} (min–max {:.2}–{:.2})",
            p.median, p.min, p.max
        )
    });
    let _ = writeln!(
        out,
        "| Apply within {APPLY_FACTOR}× (the `curl -T` loop + {FILES} `terraform_data`) | \
         {ratio:.2}× ({} vs {} + {}){per_round} | {} |",
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
        "| No-change plan against {FILES} `terraform_data` (counted, no target) | {:.2}× ({} vs \
         {}){paired} | – |",
        plan / data_plan,
        Unit::S.format(plan),
        Unit::S.format(data_plan),
    );
    Ok(out)
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    eprintln!("bench: starting the provisioning server (nginx)");
    let server =
        Provisioning::start().map_err(|e| anyhow!("Cannot start the provisioning server: {e}"))?;
    let work = tempfile::Builder::new()
        .prefix("rack-bench-boot-")
        .tempdir()
        .context("Cannot create the benchmark's directory")?;
    let files = work.path().join("files");
    write_files(&files)?;
    let netrc = work.path().join("netrc");
    std::fs::write(
        &netrc,
        format!(
            "machine {} login {USERNAME} password {}\n",
            server.addr.ip(),
            server.password
        ),
    )
    .context("Cannot write the netrc file")?;
    let times = work.path().join("times");
    write_wrapper(work.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(work.path());
    let mut rack = Workdir::with_cli_config_text(&cli_config);
    rack.write_main(&rack_main_tf(&files));
    rack.set_env("RACK_BOOT_URL", &server.url)
        .set_env("RACK_BOOT_USERNAME", USERNAME)
        .set_env("RACK_BOOT_PASSWORD", &server.password);
    let data = Workdir::without_provider();
    data.write_main(&data_main_tf(&files));
    let bench = Bench {
        server,
        files,
        netrc,
        rack,
        data,
        times,
        ticks: clock_ticks(),
    };
    let mut samples = Samples::default();
    rotating_rounds(opts.runs, &CYCLES, |cycle, counted| {
        bench.run_cycle(cycle, &mut samples, counted)
    })?;
    let version = Command::new("nginx")
        .arg("-v")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stderr).trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let mut out = setup.report_head(None, "default parallelism (10)");
    let _ = writeln!(
        out,
        "- Provisioning server: {version}, the `rack-lab` fixture (`lab::provisioning`: \
         WebDAV PUT and DELETE under `/boot/` with basic auth, on 127.0.0.1 over HTTP)"
    );
    let _ = writeln!(
        out,
        "- Files: {FILES} text files of {} KiB each, every one different, from a local \
         directory (`source_file`)",
        FILE_SIZE >> 10
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: rack's apply, {PLANS_PER_ROUND} no-change plans and destroy; \
         the apply and {PLANS_PER_ROUND} plans of `terraform_data`; one floor cycle; the \
         three in rotating order), after one warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str("#### Time\n\n");
    out.push_str(&table(&time_rows(&samples)?));
    out.push_str("\n#### CPU and requests received by nginx, per command\n\n");
    out.push_str(&requests_table(&samples));
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_counted_by_method() {
        let log = "127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"PUT /boot/a HTTP/1.1\" 201 0 \"-\" \"rack\"\n\
                   127.0.0.1 - - [05/Dec/2026:16:00:00 +0000] \"GET /boot/a HTTP/1.1\" 200 5 \"-\" \"rack\"\n\
                   127.0.0.1 - - [05/Dec/2026:16:00:00 +0000] \"HEAD /boot/a HTTP/1.1\" 200 0 \"-\" \"curl\"\n\
                   127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"DELETE /boot/a HTTP/1.1\" 204 0 \"-\" \"rack\"\n\
                   127.0.0.1 - - [05/Dec/2026:16:00:00 +0000] \"MKCOL /boot/b/ HTTP/1.1\" 201 0 \"-\" \"x\"\n";
        assert_eq!(
            Counters::parse(log),
            Counters {
                puts: 1,
                gets: 2,
                deletes: 1,
                other: 1
            }
        );
    }

    #[test]
    fn every_file_has_its_name_and_size() {
        let names: Vec<String> = (0..FILES).map(file_name).collect();
        assert_eq!(names[7], "pod1/host007.cfg");
        assert_eq!(names.last().map(String::as_str), Some("pod1/host199.cfg"));
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        write_files(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        let len = std::fs::metadata(dir.path().join(file_name(0)))
            .map(|m| m.len())
            .unwrap_or(0);
        assert_eq!(len, FILE_SIZE as u64);
    }
}
