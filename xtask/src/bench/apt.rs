//! The APT benchmark: 200 small packages (built with `dpkg-deb`) uploaded into an aptly
//! repository, snapshotted and published signed, by rack through `terraform apply`,
//! measured in the same run against Terraform's own cost for 200 `terraform_data` and
//! against the floor of aptly's own work: the same done by the `aptly` CLI in one script,
//! on a root of its own with the same signing key.
//!
//! aptly API calls are counted in the access log of the fixture's nginx in front of
//! aptly (one line per request), by method; GETs are the listings. Every round runs three
//! cycles in an order that rotates from round to round: rack (apply, no-change plans,
//! destroy), `terraform_data` (apply, no-change plans, state removed) and the floor (the
//! CLI script, then its root removed). A first round warms up and is not counted.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{Context as _, anyhow, bail};

use super::boot::{cell, summary};
use super::dns::{
    apply, children_cpu, clock_ticks, destroy, paired_ratios, plan_no_change, remove_state,
    take_provider_cpu, write_wrapper, yes_no,
};
use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Unit, table};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::aptly::{API_USER, Aptly, aptly_conf, build_deb};

/// Rounds when `--runs` is not given: about five minutes with the warm-up.
pub const DEFAULT_ROUNDS: usize = 3;

/// Packages (the APT issue's number).
const PACKAGES: usize = 200;

/// No-change plans per round of each configuration.
const PLANS_PER_ROUND: usize = 2;

/// The issue's targets: the apply within this many times (the CLI script + the apply of
/// 200 `terraform_data`), the no-change plan within this many times that of
/// `terraform_data`.
const APPLY_FACTOR: f64 = 2.0;
const PLAN_FACTOR: f64 = 1.3;

/// The repository, snapshot and distribution names of both rack and the floor.
const REPO: &str = "bench";
const DISTRIBUTION: &str = "bench";

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds; each has one apply, [`PLANS_PER_ROUND`] plans and one destroy of rack, the
    /// same of `terraform_data` (its state removed instead of a destroy), and one floor
    /// script.
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
}

const STEPS: usize = 6;

impl Step {
    fn what(self) -> String {
        match self {
            Step::RackApply => format!(
                "(1) `terraform apply`: {PACKAGES} `rack_apt_package`, a snapshot, a signed publication"
            ),
            Step::RackPlan => format!("(2) no-change `terraform plan`, {PACKAGES} packages"),
            Step::RackDestroy => format!("`terraform destroy`, {PACKAGES} packages"),
            Step::DataApply => format!("`terraform apply`, {PACKAGES} `terraform_data`"),
            Step::DataPlan => format!("no-change `terraform plan`, {PACKAGES} `terraform_data`"),
            Step::Floor => format!(
                "(3) `aptly` CLI script: repo create, repo add of {PACKAGES} .debs, snapshot, publish signed"
            ),
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

/// aptly API requests nginx logged, by method.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counters {
    gets: u64,
    posts: u64,
    puts: u64,
    deletes: u64,
}

impl Counters {
    /// Counts the `/api/` requests of an access log in nginx's default format
    /// (`... "GET /api/repos HTTP/1.1" 200 ...`).
    fn parse(log: &str) -> Self {
        let mut c = Self::default();
        for line in log.lines() {
            let Some(request) = line.split('"').nth(1) else {
                continue;
            };
            let mut parts = request.split(' ');
            let (method, path) = (parts.next(), parts.next().unwrap_or_default());
            if !path.starts_with("/api/") {
                continue;
            }
            match method {
                Some("GET" | "HEAD") => c.gets += 1,
                Some("POST") => c.posts += 1,
                Some("PUT") => c.puts += 1,
                Some("DELETE") => c.deletes += 1,
                _ => {}
            }
        }
        c
    }

    fn since(self, before: Self) -> Self {
        Self {
            gets: self.gets.saturating_sub(before.gets),
            posts: self.posts.saturating_sub(before.posts),
            puts: self.puts.saturating_sub(before.puts),
            deletes: self.deletes.saturating_sub(before.deletes),
        }
    }

    fn total(self) -> u64 {
        self.gets + self.posts + self.puts + self.deletes
    }
}

/// The name of package `i`.
fn package_name(i: usize) -> String {
    format!("bench{i:03}")
}

/// Builds the [`PACKAGES`] .debs in `dir` with `dpkg-deb`.
fn build_debs(dir: &Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    for i in 0..PACKAGES {
        build_deb(dir, &package_name(i), "1.0", "amd64")
            .map_err(|e| anyhow!("Cannot build package {i}: {e}"))?;
    }
    Ok(())
}

fn rack_main_tf(debs: &Path, aptly: &Aptly) -> String {
    format!(
        r#"terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{}}

resource "rack_apt_repository" "r" {{
  name = "{REPO}"
}}

resource "rack_apt_package" "p" {{
  for_each    = toset([for i in range({PACKAGES}) : format("bench%03d", i)])
  repository  = rack_apt_repository.r.name
  source_file = "{debs}/${{each.key}}_1.0_amd64.deb"
}}

resource "rack_apt_snapshot" "s" {{
  name       = "{REPO}"
  repository = rack_apt_repository.r.name
  depends_on = [rack_apt_package.p]
}}

resource "rack_apt_publication" "p" {{
  distribution = "{DISTRIBUTION}"
  components   = {{ main = rack_apt_snapshot.s.aptly_name }}
  signing {{
    key_id          = "{key}"
    passphrase_file = "{passphrase}"
  }}
}}
"#,
        debs = debs.display(),
        key = aptly.key.key_id,
        passphrase = aptly.key.passphrase_file.display(),
    )
}

fn data_main_tf(debs: &Path) -> String {
    format!(
        r#"resource "terraform_data" "p" {{
  for_each = toset([for i in range({PACKAGES}) : format("bench%03d", i)])
  input = {{
    name   = each.key
    sha256 = filesha256("{}/${{each.key}}_1.0_amd64.deb")
  }}
}}
"#,
        debs.display()
    )
}

/// The floor: the same repository, snapshot and signed publication made by the `aptly`
/// CLI, in one bash script, on a root of its own (`conf`), with the fixture's key.
fn floor_script(conf: &Path, debs: &Path, aptly: &Aptly) -> String {
    let c = format!("aptly -config='{}'", conf.display());
    format!(
        "set -e\n\
         {c} repo create {REPO} >/dev/null\n\
         {c} repo add {REPO} '{debs}' >/dev/null\n\
         {c} snapshot create {REPO} from repo {REPO} >/dev/null\n\
         {c} publish snapshot -batch -gpg-key='{key}' -passphrase-file='{passphrase}' \
         -distribution={DISTRIBUTION} {REPO} >/dev/null\n",
        debs = debs.display(),
        key = aptly.key.key_id,
        passphrase = aptly.key.passphrase_file.display(),
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
    aptly: Aptly,
    debs: PathBuf,
    /// Where the floor's roots go (one per cycle, removed after it).
    floor_dir: PathBuf,
    rack: Workdir,
    data: Workdir,
    times: PathBuf,
    ticks: f64,
}

impl Bench {
    fn counters(&self) -> Counters {
        let log =
            std::fs::read_to_string(self.aptly.dir().join("nginx/access.log")).unwrap_or_default();
        Counters::parse(&log)
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

    /// The packages of the published distribution's index, counted in its `Packages`.
    fn published_packages(&self, public: &Path) -> usize {
        let index = public.join(format!("dists/{DISTRIBUTION}/main/binary-amd64/Packages"));
        std::fs::read_to_string(index).map_or(0, |t| {
            t.lines().filter(|l| l.starts_with("Package: ")).count()
        })
    }

    fn expect_published(&self, public: &Path, n: usize, after: &str) -> anyhow::Result<()> {
        let found = self.published_packages(public);
        let signed = public
            .join(format!("dists/{DISTRIBUTION}/InRelease"))
            .exists();
        if found != n || signed != (n > 0) {
            bail!(
                "After {after} the distribution publishes {found} packages (signed: {signed}), \
                 not {n}"
            );
        }
        Ok(())
    }

    fn floor(&self) -> anyhow::Result<Measured> {
        let root = self.floor_dir.join("root");
        let conf = self.floor_dir.join("aptly.conf");
        std::fs::write(&conf, aptly_conf(&root))
            .with_context(|| format!("Cannot write {}", conf.display()))?;
        let script = floor_script(&conf, &self.debs, &self.aptly);
        let cpu_before = children_cpu(self.ticks)?;
        let start = Instant::now();
        let out = Command::new("bash")
            .arg("-c")
            .arg(&script)
            .env("GNUPGHOME", self.aptly.gnupg_home())
            .output()
            .context("Cannot run bash for the aptly script")?;
        let seconds = start.elapsed().as_secs_f64();
        if !out.status.success() {
            bail!(
                "The aptly script failed: {}",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        }
        let cpu = children_cpu(self.ticks)? - cpu_before;
        self.expect_published(&root.join("public"), PACKAGES, "the aptly script")?;
        std::fs::remove_dir_all(&root)
            .with_context(|| format!("Cannot remove {}", root.display()))?;
        Ok(Measured {
            seconds,
            cpu,
            ..Measured::default()
        })
    }

    fn run_cycle(&self, cycle: Cycle, samples: &mut Samples, keep: bool) -> anyhow::Result<()> {
        let mut got: Vec<(Step, Measured)> = Vec::new();
        let public = self.aptly.public_dir();
        match cycle {
            Cycle::Rack => {
                got.push((Step::RackApply, self.measure(|| apply(&self.rack))?));
                self.expect_published(&public, PACKAGES, "rack's apply")?;
                for _ in 0..PLANS_PER_ROUND {
                    got.push((Step::RackPlan, self.measure(|| plan_no_change(&self.rack))?));
                }
                got.push((Step::RackDestroy, self.measure(|| destroy(&self.rack))?));
                self.expect_published(&public, 0, "rack's destroy")?;
                remove_state(&self.rack)?;
            }
            Cycle::Data => {
                got.push((Step::DataApply, self.measure(|| apply(&self.data))?));
                for _ in 0..PLANS_PER_ROUND {
                    got.push((Step::DataPlan, self.measure(|| plan_no_change(&self.data))?));
                }
                remove_state(&self.data)?;
            }
            Cycle::Floor => got.push((Step::Floor, self.floor()?)),
        }
        if keep {
            for (step, m) in got {
                samples.steps[step as usize].push(m);
            }
        }
        Ok(())
    }
}

fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let s = |step: Step| summary(&samples.seconds(step), &step.what());
    let mut rows = Vec::new();
    for (step, base, base_what) in [
        (
            Step::RackApply,
            Some(Step::DataApply),
            format!("apply, {PACKAGES} `terraform_data`"),
        ),
        (
            Step::RackPlan,
            Some(Step::DataPlan),
            format!("no-change plan, {PACKAGES} `terraform_data`"),
        ),
        (Step::RackDestroy, None, "–".into()),
        (Step::Floor, None, "–".into()),
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
        "| Command | Wall | CPU, Terraform + provider (floor: aptly) | CPU, provider | Provider processes | API requests | GET (listings) | POST | PUT | DELETE |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::RackPlan,
        Step::RackDestroy,
        Step::DataApply,
        Step::DataPlan,
        Step::Floor,
    ] {
        let s = samples.of(step);
        let rack = matches!(step, Step::RackApply | Step::RackPlan | Step::RackDestroy);
        let with_rack = |f: fn(&Measured) -> f64, u: Option<Unit>| {
            if rack { cell(s, f, u) } else { "–".into() }
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            step.what(),
            cell(s, |m| m.seconds, Some(Unit::S)),
            cell(s, |m| m.cpu, Some(Unit::S)),
            with_rack(|m| m.provider_cpu, Some(Unit::S)),
            with_rack(|m| m.provider_starts as f64, None),
            with_rack(|m| m.counters.total() as f64, None),
            with_rack(|m| m.counters.gets as f64, None),
            with_rack(|m| m.counters.posts as f64, None),
            with_rack(|m| m.counters.puts as f64, None),
            with_rack(|m| m.counters.deletes as f64, None),
        );
    }
    out.push_str(
        "\nMedian (min–max) over the rounds. API requests are counted in the access log of \
         the nginx in front of aptly (`/api/` only; the floor's CLI works on its own root, \
         not through the API). CPU is user + system time of the waited-for children \
         (Terraform with its Python wrapper and the provider processes; for the floor, bash \
         and aptly); the provider's own through a wrapper script. aptly's own CPU while \
         serving rack is not in these columns.\n",
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
    let per_round = super::stats::Summary::of(&paired).map_or_else(String::new, |p| {
        format!(
            "; per-round ratio {:.2} (min–max {:.2}–{:.2})",
            p.median, p.min, p.max
        )
    });
    let _ = writeln!(
        out,
        "| Apply within {APPLY_FACTOR}× (the `aptly` CLI script + {PACKAGES} `terraform_data`) | \
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
        "| No-change plan within {PLAN_FACTOR}× {PACKAGES} `terraform_data` | {:.2}× ({} vs \
         {}){paired} | {} |",
        plan / data_plan,
        Unit::S.format(plan),
        Unit::S.format(data_plan),
        yes_no(plan / data_plan <= PLAN_FACTOR)
    );
    let listings = samples
        .of(Step::RackPlan)
        .iter()
        .map(|m| m.counters.gets)
        .max()
        .unwrap_or(0);
    let writes = samples
        .of(Step::RackPlan)
        .iter()
        .map(|m| m.counters.total() - m.counters.gets)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "| No-change plan: one listing per object, not per package | at most {listings} GETs \
         and {writes} writes per plan, for {PACKAGES} packages | {} |",
        yes_no(listings < 10 && writes == 0)
    );
    Ok(out)
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    eprintln!("bench: starting aptly behind nginx");
    let aptly = Aptly::start().map_err(|e| anyhow!("Cannot start aptly: {e}"))?;
    let work = tempfile::Builder::new()
        .prefix("rack-bench-apt-")
        .tempdir()
        .context("Cannot create the benchmark's directory")?;
    let debs = work.path().join("debs");
    eprintln!("bench: building {PACKAGES} packages with dpkg-deb");
    build_debs(&debs)?;
    let floor_dir = work.path().join("floor");
    std::fs::create_dir_all(&floor_dir)
        .with_context(|| format!("Cannot create {}", floor_dir.display()))?;
    let times = work.path().join("times");
    write_wrapper(work.path(), &setup.binary, &times)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(work.path());
    let mut rack = Workdir::with_cli_config_text(&cli_config);
    rack.write_main(&rack_main_tf(&debs, &aptly));
    rack.set_env("RACK_APT_URL", &aptly.url)
        .set_env("RACK_APT_USERNAME", API_USER)
        .set_env("RACK_APT_PASSWORD", &aptly.password);
    let data = Workdir::without_provider();
    data.write_main(&data_main_tf(&debs));
    let bench = Bench {
        aptly,
        debs,
        floor_dir,
        rack,
        data,
        times,
        ticks: clock_ticks(),
    };
    let mut samples = Samples::default();
    rotating_rounds(opts.runs, &CYCLES, |cycle, counted| {
        bench.run_cycle(cycle, &mut samples, counted)
    })?;
    let version = Command::new("aptly")
        .arg("version")
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_else(|| "?".into());
    let mut out = setup.report_head(None, "default parallelism (10)");
    let _ = writeln!(
        out,
        "- aptly: {version}, the `rack-lab` fixture (`lab::aptly`: `aptly api serve -no-lock` \
         behind nginx with basic auth, on 127.0.0.1 over HTTP; a throwaway ed25519 key)"
    );
    let _ = writeln!(
        out,
        "- Packages: {PACKAGES} .debs of about 700 bytes built by `dpkg-deb` (`bench000` to \
         `bench199`, 1.0, amd64), one repository, a snapshot of it, one publication signed \
         with the fixture's key (`key_id`, `passphrase_file`)"
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: rack's apply, {PLANS_PER_ROUND} no-change plans and destroy; \
         the apply and {PLANS_PER_ROUND} plans of `terraform_data`; one floor script; the \
         three in rotating order), after one warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str("#### Time\n\n");
    out.push_str(&table(&time_rows(&samples)?));
    out.push_str("\n#### CPU and aptly API requests, per command\n\n");
    out.push_str(&requests_table(&samples));
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(&samples)?);
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn api_requests_are_counted_by_method() {
        let log = "127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"GET /api/repos HTTP/1.1\" 200 2 \"-\" \"-\"\n\
                   127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"POST /api/files/x HTTP/1.1\" 200 2 \"-\" \"-\"\n\
                   127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"PUT /api/publish/:./b HTTP/1.1\" 200 2 \"-\" \"-\"\n\
                   127.0.0.1 - rack [05/Dec/2026:16:00:00 +0000] \"DELETE /api/files/x HTTP/1.1\" 200 2 \"-\" \"-\"\n\
                   127.0.0.1 - - [05/Dec/2026:16:00:00 +0000] \"GET /dists/b/InRelease HTTP/1.1\" 200 9 \"-\" \"apt\"\n";
        let c = Counters::parse(log);
        assert_eq!(
            c,
            Counters {
                gets: 1,
                posts: 1,
                puts: 1,
                deletes: 1
            }
        );
        assert_eq!(c.total(), 4);
    }

    #[test]
    fn the_configurations_name_every_package() {
        assert_eq!(package_name(7), "bench007");
        let data = data_main_tf(Path::new("/d"));
        assert!(data.contains("range(200)") && data.contains("/d/${each.key}_1.0_amd64.deb"));
    }
}
