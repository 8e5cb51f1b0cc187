//! The foundation benchmark: how fast the release provider starts and answers, how much
//! memory it holds, and what it adds to a `terraform plan`.
//!
//! Every measurement runs in rounds; within a round the provider and its baseline run one
//! after the other in an order that rotates from round to round, so a burst of load from
//! another process on the machine hits both alike. A first round is run and thrown away
//! so that every binary (and Terraform's 166 MB core) is in the page cache.

use std::fmt::Write as _;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};

use super::host::{self, Curve, Handshake, HostIdentity};
use super::procfs::{self, Memory, mib};
use super::setup::{Setup, date, provider_line, terraform_line};
use super::stats::{Row, Summary, Target, Unit, table};
use rack_acceptance_tests::Workdir;

/// The start-up target: Terraform starts every provider at least once per command, often
/// twice, so its start-up is paid on every plan.
const HANDSHAKE_TARGET_MS: f64 = 20.0;

/// The memory target, in MiB: the provider runs beside Terraform on operators' laptops
/// and CI runners, once per configuration being planned.
const RSS_TARGET_MIB: f64 = 30.0;

/// Function calls in the larger configuration.
const CALLS: usize = 200;

/// Process-start rounds per `--runs`: a start takes milliseconds, so more rounds cost
/// little and steady the medians.
const START_ROUNDS_PER_RUN: usize = 4;

/// How often a running process's memory is sampled. `VmHWM` keeps the peak, so sampling
/// only needs to catch the process before it exits.
const SAMPLE_EVERY: Duration = Duration::from_millis(5);

/// How long a baseline `sleep` runs before its memory is read: enough to have loaded
/// its libraries and gone to sleep.
const SETTLE: Duration = Duration::from_millis(50);

/// P-521 signatures timed on their own, to split the AutoMTLS cost between the sides.
const P521_ROUNDS: usize = 20;

/// Deadline for one `terraform plan`; only there so a hang ends the run.
const PLAN_TIMEOUT: Duration = Duration::from_secs(600);

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds of `terraform plan`; process starts get [`START_ROUNDS_PER_RUN`] times more.
    pub runs: usize,
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let binary = &setup.binary;

    eprintln!(
        "bench: process starts ({} rounds)",
        opts.runs * START_ROUNDS_PER_RUN
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("Cannot start a tokio runtime")?;
    let starts = runtime.block_on(measure_starts(binary, opts.runs * START_ROUNDS_PER_RUN))?;
    drop(runtime);

    eprintln!("bench: terraform plans ({} rounds)", opts.runs);
    let plans = measure_plans(binary, opts.runs)?;

    let rows = rows(&starts, &plans)?;
    let mut out = String::new();
    let _ = writeln!(out, "### Foundation\n");
    let _ = writeln!(out, "- Date: {}", date());
    let _ = writeln!(out, "{}", setup.machine.report_line(None, None));
    let _ = writeln!(
        out,
        "{}",
        terraform_line(&setup.terraform_version, &setup.terraform, None)
    );
    let _ = writeln!(out, "{}", provider_line(binary));
    let _ = writeln!(
        out,
        "- Rounds: {} process starts of each kind, {} plans of each configuration, \
         interleaved, after one warm-up round that is not counted\n",
        opts.runs * START_ROUNDS_PER_RUN,
        opts.runs
    );
    out.push_str(&table(&rows));
    out.push('\n');
    for note in notes(&starts, &plans)? {
        let _ = writeln!(out, "- {note}");
    }
    Ok(out)
}

/// Ways of starting a process in the start-up rounds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Start {
    /// `/bin/echo` printing a handshake-like line: the cost of starting any process.
    Echo,
    /// The provider, plaintext.
    Plain,
    /// The provider with AutoMTLS and a P-521 host certificate, as Terraform does it.
    TlsP521,
    /// The provider with AutoMTLS and a P-256 host certificate.
    TlsP256,
}

const STARTS: [Start; 4] = [Start::Echo, Start::Plain, Start::TlsP521, Start::TlsP256];

/// Samples from the start-up rounds.
#[derive(Debug, Default)]
struct StartSamples {
    /// `/bin/echo`: start to first line, ms.
    echo_line: Vec<f64>,
    /// `/bin/sleep`: VmRSS after settling, MiB.
    sleep_rss: Vec<f64>,
    /// Per provider kind (`Plain`, `TlsP521`, `TlsP256`).
    provider: [ProviderStarts; 3],
    /// Encoded size of the GetProviderSchema answer.
    schema_bytes: usize,
    /// P-521 signing and verifying times, ms.
    p521_sign: Vec<f64>,
    p521_verify: Vec<f64>,
}

#[derive(Debug, Default)]
struct ProviderStarts {
    /// Start to handshake line, ms.
    line: Vec<f64>,
    /// Start to the first GetProviderSchema answer, ms.
    schema: Vec<f64>,
    /// VmRSS right after the handshake line, MiB.
    idle_rss: Vec<f64>,
    /// VmRSS after the GetProviderSchema answer, MiB.
    served_rss: Vec<f64>,
}

async fn measure_starts(binary: &Path, rounds: usize) -> anyhow::Result<StartSamples> {
    let mut samples = StartSamples::default();
    // Round 0 is the warm-up.
    for round in 0..=rounds {
        let mut kept = StartSamples::default();
        for i in 0..STARTS.len() {
            let kind = STARTS[(round + i) % STARTS.len()];
            let (slot, curve) = match kind {
                Start::Echo => {
                    kept.echo_line.push(echo_start().await?);
                    continue;
                }
                Start::Plain => (0, None),
                Start::TlsP521 => (1, Some(Curve::P521)),
                Start::TlsP256 => (2, Some(Curve::P256)),
            };
            let one = provider_start(binary, curve)
                .await
                .with_context(|| format!("Starting the provider ({kind:?}) failed"))?;
            let p = &mut kept.provider[slot];
            p.line.push(one.line_ms);
            p.schema.push(one.schema_ms);
            p.idle_rss.push(mib(one.idle.rss_kib));
            p.served_rss.push(mib(one.served.rss_kib));
            kept.schema_bytes = one.schema_bytes;
        }
        kept.sleep_rss.push(sleep_rss().await?);
        if round > 0 {
            samples.echo_line.append(&mut kept.echo_line);
            samples.sleep_rss.append(&mut kept.sleep_rss);
            for (all, new) in samples.provider.iter_mut().zip(kept.provider.iter_mut()) {
                all.line.append(&mut new.line);
                all.schema.append(&mut new.schema);
                all.idle_rss.append(&mut new.idle_rss);
                all.served_rss.append(&mut new.served_rss);
            }
            samples.schema_bytes = kept.schema_bytes;
        }
    }
    (samples.p521_sign, samples.p521_verify) = super::cert::time_p521(P521_ROUNDS);
    Ok(samples)
}

/// Milliseconds from starting `/bin/echo` to its line on stdout.
async fn echo_start() -> anyhow::Result<f64> {
    let mut cmd = tokio::process::Command::new("/bin/echo");
    cmd.arg("1|6|unix|/tmp/plugin-echo/plugin.sock|grpc|");
    let mut started = host::start_and_read_line(cmd)
        .await
        .context("Cannot run /bin/echo")?;
    let ms = millis(started.first_line_after);
    tokio::time::timeout(host::WAIT, started.child.wait())
        .await
        .map_err(|_| anyhow!("/bin/echo did not exit"))??;
    Ok(ms)
}

/// VmRSS of an idle `/bin/sleep`, in MiB: what any small process holds.
async fn sleep_rss() -> anyhow::Result<f64> {
    let mut child = tokio::process::Command::new("/bin/sleep")
        .arg("30")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .context("Cannot run /bin/sleep")?;
    tokio::time::sleep(SETTLE).await;
    let pid = child
        .id()
        .ok_or_else(|| anyhow!("/bin/sleep exited early"))?;
    let memory = procfs::memory(pid).ok_or_else(|| anyhow!("/bin/sleep has no memory figures"))?;
    child.kill().await.context("Cannot stop /bin/sleep")?;
    Ok(mib(memory.rss_kib))
}

/// One provider start, as Terraform does it up to the first answer.
struct ProviderStart {
    line_ms: f64,
    schema_ms: f64,
    idle: Memory,
    served: Memory,
    schema_bytes: usize,
}

async fn provider_start(binary: &Path, curve: Option<Curve>) -> anyhow::Result<ProviderStart> {
    // Terraform makes its certificate before it starts the plugin: not timed.
    let identity = curve.map(HostIdentity::generate).transpose()?;
    let socket_dir = tempfile::Builder::new()
        .prefix("rack-bench-")
        .tempdir()
        .context("Cannot create a socket directory")?;
    let cmd = host::plugin_command(binary, socket_dir.path(), identity.as_ref());
    let mut started = host::start_and_read_line(cmd).await?;
    let line_ms = millis(started.first_line_after);
    let idle = procfs::memory(started.pid)
        .ok_or_else(|| anyhow!("The provider exited after its handshake"))?;
    let hs = Handshake::parse(&started.first_line)?;
    let channel = host::connect(&hs, identity.as_ref()).await?;
    let schema_bytes = host::get_provider_schema(channel.clone()).await?;
    let schema_ms = millis(started.start.elapsed());
    let served = procfs::memory(started.pid)
        .ok_or_else(|| anyhow!("The provider exited after GetProviderSchema"))?;
    host::shutdown(channel, &mut started.child).await?;
    Ok(ProviderStart {
        line_ms,
        schema_ms,
        idle,
        served,
        schema_bytes,
    })
}

/// The configurations planned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Config {
    /// No provider at all: Terraform's own cost.
    NoProvider,
    /// The provider required, no function called.
    ZeroCalls,
    /// [`CALLS`] function calls.
    Calls,
}

const CONFIGS: [Config; 3] = [Config::NoProvider, Config::ZeroCalls, Config::Calls];

impl Config {
    fn main_tf(self) -> String {
        let required = "terraform {\n  required_providers {\n    rack = {\n      \
                        source = \"terraform.local/rack/rack\"\n    }\n  }\n}\n\n";
        match self {
            Config::NoProvider => "output \"n\" {\n  value = 1\n}\n".to_owned(),
            Config::ZeroCalls => format!("{required}output \"n\" {{\n  value = 1\n}}\n"),
            Config::Calls => {
                let mut text = format!("{required}locals {{\n  values = [\n");
                for i in 0..CALLS {
                    let call = match i % 3 {
                        0 => format!("provider::rack::mac_address(\"vm-{i}.bench.example\")"),
                        1 => format!("provider::rack::reverse_zone(\"10.{}.0.0/16\")", i % 256),
                        _ => format!("provider::rack::ptr_name(\"10.0.{}.{}\")", i / 256, i % 256),
                    };
                    let _ = writeln!(text, "    {call},");
                }
                text.push_str("  ]\n}\n\noutput \"values\" {\n  value = local.values\n}\n");
                text
            }
        }
    }
}

/// One `terraform plan`.
#[derive(Debug)]
struct PlanRun {
    elapsed: Duration,
    /// VmHWM of the Terraform process (the Python wrapper running Terraform's core).
    terraform_hwm_kib: u64,
    /// Last memory figures of each provider process Terraform started.
    providers: Vec<Memory>,
}

#[derive(Debug, Default)]
struct PlanSamples {
    /// Per configuration: plan wall time, s.
    seconds: [Vec<f64>; 3],
    /// Per configuration: provider processes started per plan.
    provider_starts: [Vec<f64>; 3],
    /// 200-call plans: the highest VmHWM of the provider processes, MiB.
    provider_peak: Vec<f64>,
    /// 200-call plans: VmHWM of Terraform itself, MiB.
    terraform_peak: Vec<f64>,
}

fn measure_plans(binary: &Path, rounds: usize) -> anyhow::Result<PlanSamples> {
    // dev_overrides points at a directory holding a wrapper that records its PID (so the
    // provider can be watched) and then becomes the release binary.
    let wrapper_dir = tempfile::Builder::new()
        .prefix("rack-bench-provider-")
        .tempdir()
        .context("Cannot create a directory for the provider wrapper")?;
    let pid_file = wrapper_dir.path().join("pids");
    write_wrapper(wrapper_dir.path(), binary, &pid_file)?;
    let cli_config = rack_acceptance_tests::dev_overrides_cli_config(wrapper_dir.path());
    let workdirs: Vec<Workdir> = CONFIGS
        .iter()
        .map(|config| {
            let wd = Workdir::with_cli_config_text(&cli_config);
            wd.write_main(&config.main_tf());
            wd
        })
        .collect();

    let mut samples = PlanSamples::default();
    for round in 0..=rounds {
        for i in 0..CONFIGS.len() {
            let slot = (round + i) % CONFIGS.len();
            let config = CONFIGS[slot];
            let run = plan(&workdirs[slot], &pid_file, config)
                .with_context(|| format!("terraform plan ({config:?}) failed"))?;
            if round == 0 {
                continue;
            }
            samples.seconds[slot].push(run.elapsed.as_secs_f64());
            samples.provider_starts[slot].push(run.providers.len() as f64);
            if config == Config::Calls {
                let peak = run.providers.iter().map(|m| m.hwm_kib).max().unwrap_or(0);
                samples.provider_peak.push(mib(peak));
                samples.terraform_peak.push(mib(run.terraform_hwm_kib));
            }
        }
    }
    Ok(samples)
}

/// Writes `<dir>/terraform-provider-rack`: appends its PID to `pid_file`, then `exec`s
/// the real binary (same PID, so the watcher follows the provider itself).
fn write_wrapper(dir: &Path, binary: &Path, pid_file: &Path) -> anyhow::Result<()> {
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
        "#!/bin/sh\n# Written by the rack benchmark: note the PID, then become the provider.\n\
         echo \"$$\" >> {}\nexec {} \"$@\"\n",
        quote(pid_file)?,
        quote(binary)?
    );
    let path = dir.join("terraform-provider-rack");
    std::fs::write(&path, script).with_context(|| format!("Cannot write {}", path.display()))?;
    use std::os::unix::fs::PermissionsExt as _;
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .with_context(|| format!("Cannot make {} executable", path.display()))?;
    Ok(())
}

/// Runs `terraform plan` in `wd`, timing it and watching the memory of Terraform and of
/// every provider process it starts.
fn plan(wd: &Workdir, pid_file: &Path, config: Config) -> anyhow::Result<PlanRun> {
    std::fs::write(pid_file, "").with_context(|| format!("Cannot reset {}", pid_file.display()))?;
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let stop = stop.clone();
        let pid_file = pid_file.to_path_buf();
        thread::spawn(move || watch_providers(&pid_file, &stop))
    };
    let mut cmd = wd.command(["plan", "-input=false", "-no-color", "-lock=false"]);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let start = Instant::now();
    let spawned = cmd.spawn();
    let mut child = match spawned {
        Ok(child) => child,
        Err(e) => {
            stop.store(true, Ordering::Relaxed);
            let _ = watcher.join();
            return Err(e).context("Cannot start terraform");
        }
    };
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut terraform_hwm_kib = 0;
    let status = loop {
        if let Some(m) = procfs::memory(child.id()) {
            terraform_hwm_kib = terraform_hwm_kib.max(m.hwm_kib);
        }
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > PLAN_TIMEOUT {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(SAMPLE_EVERY);
    };
    let elapsed = start.elapsed();
    stop.store(true, Ordering::Relaxed);
    let providers = watcher
        .join()
        .map_err(|_| anyhow!("The memory watcher panicked"))?;
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status {
        Some(s) if s.success() => {}
        Some(s) => bail!("terraform plan exited with {s}\n{stdout}\n{stderr}"),
        None => bail!("terraform plan did not finish within {PLAN_TIMEOUT:?}"),
    }
    // The 200-call plan must have called the functions: the MACs show in the outputs.
    if config == Config::Calls && !stdout.contains("52:54:00:") {
        bail!("The plan shows no function results\n{stdout}");
    }
    if config != Config::NoProvider && providers.is_empty() {
        bail!("Terraform did not start the provider through the wrapper\n{stdout}\n{stderr}");
    }
    Ok(PlanRun {
        elapsed,
        terraform_hwm_kib,
        providers,
    })
}

/// Follows every PID the wrapper writes to `pid_file` until `stop` is set and all of them
/// have exited; returns the last memory figures seen for each.
fn watch_providers(pid_file: &Path, stop: &AtomicBool) -> Vec<Memory> {
    // After the plan ends, providers get Terraform's shutdown grace to exit.
    const LINGER: Duration = Duration::from_secs(5);
    let mut seen: Vec<(u32, Option<Memory>, bool)> = Vec::new();
    let mut stopped_at: Option<Instant> = None;
    loop {
        if let Ok(text) = std::fs::read_to_string(pid_file) {
            for pid in text.lines().filter_map(|l| l.trim().parse::<u32>().ok()) {
                if !seen.iter().any(|(p, _, _)| *p == pid) {
                    seen.push((pid, None, true));
                }
            }
        }
        for (pid, last, alive) in seen.iter_mut().filter(|(_, _, alive)| *alive) {
            match procfs::memory(*pid) {
                Some(m) => *last = Some(m),
                None => *alive = false,
            }
        }
        if stop.load(Ordering::Relaxed) {
            let since = *stopped_at.get_or_insert_with(Instant::now);
            if seen.iter().all(|(_, _, alive)| !alive) || since.elapsed() > LINGER {
                break;
            }
        }
        thread::sleep(SAMPLE_EVERY);
    }
    seen.into_iter().filter_map(|(_, last, _)| last).collect()
}

fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = std::io::Read::read_to_string(&mut pipe, &mut text);
        }
        text
    })
}

fn rows(starts: &StartSamples, plans: &PlanSamples) -> anyhow::Result<Vec<Row>> {
    let summary = |what: &str, samples: &[f64]| {
        Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
    };
    let echo = summary("echo", &starts.echo_line)?;
    let sleep = summary("sleep", &starts.sleep_rss)?;
    let kinds = [
        "plaintext",
        "AutoMTLS, P-521 host cert (as Terraform)",
        "AutoMTLS, P-256 host cert",
    ];
    let handshake = Some(Target {
        below: HANDSHAKE_TARGET_MS,
    });
    let rss = Some(Target {
        below: RSS_TARGET_MIB,
    });
    let mut rows = Vec::new();
    for (kind, p) in kinds.iter().zip(&starts.provider) {
        rows.push(Row {
            what: format!("(a) start → handshake line, {kind}"),
            unit: Unit::Ms,
            rack: summary("handshake", &p.line)?,
            baseline_what: "`/bin/echo` start → line".into(),
            baseline: Some(echo),
            target: handshake,
        });
    }
    for (kind, p) in kinds.iter().zip(&starts.provider) {
        rows.push(Row {
            what: format!("(a) start → first GetProviderSchema answer, {kind}"),
            unit: Unit::Ms,
            rack: summary("schema", &p.schema)?,
            baseline_what: "`/bin/echo` start → line".into(),
            baseline: Some(echo),
            target: None,
        });
    }
    for (kind, p) in kinds.iter().zip(&starts.provider).take(2) {
        rows.push(Row {
            what: format!("(b) idle RSS after the handshake, {kind}"),
            unit: Unit::MiB,
            rack: summary("idle RSS", &p.idle_rss)?,
            baseline_what: "idle `/bin/sleep` RSS".into(),
            baseline: Some(sleep),
            target: rss,
        });
    }
    rows.push(Row {
        what: format!("(b) RSS after the first GetProviderSchema, {}", kinds[1]),
        unit: Unit::MiB,
        rack: summary("served RSS", &starts.provider[1].served_rss)?,
        baseline_what: "idle `/bin/sleep` RSS".into(),
        baseline: Some(sleep),
        target: rss,
    });
    rows.push(Row {
        what: format!("(b) peak RSS (VmHWM) during `terraform plan` with {CALLS} calls"),
        unit: Unit::MiB,
        rack: summary("peak RSS", &plans.provider_peak)?,
        baseline_what: "Terraform's own VmHWM, same plans".into(),
        baseline: Some(summary("terraform peak", &plans.terraform_peak)?),
        target: rss,
    });
    rows.push(Row {
        what: "(c) `terraform plan`, provider required, 0 calls".into(),
        unit: Unit::S,
        rack: summary("plan 0", &plans.seconds[1])?,
        baseline_what: "plan without the provider".into(),
        baseline: Some(summary("plan none", &plans.seconds[0])?),
        target: None,
    });
    rows.push(Row {
        what: format!("(c) `terraform plan`, {CALLS} calls"),
        unit: Unit::S,
        rack: summary("plan calls", &plans.seconds[2])?,
        baseline_what: "plan with 0 calls".into(),
        baseline: Some(summary("plan 0", &plans.seconds[1])?),
        target: None,
    });
    Ok(rows)
}

fn notes(starts: &StartSamples, plans: &PlanSamples) -> anyhow::Result<Vec<String>> {
    let median = |samples: &[f64]| Summary::of(samples).map_or(f64::NAN, |s| s.median);
    let per_call_ms =
        (median(&plans.seconds[2]) - median(&plans.seconds[1])) * 1000.0 / CALLS as f64;
    let starts_of = |slot: usize| {
        let s = Summary::of(&plans.provider_starts[slot]);
        s.map_or_else(
            || "?".to_owned(),
            |s| {
                if s.min == s.max {
                    format!("{}", s.min)
                } else {
                    format!("{}–{}", s.min, s.max)
                }
            },
        )
    };
    Ok(vec![
        format!(
            "Provider processes Terraform started per plan: {} with 0 calls, {} with {CALLS} calls.",
            starts_of(1),
            starts_of(2)
        ),
        format!(
            "Median cost per function call in a plan: {per_call_ms:.2} ms \
             ((median {CALLS}-call plan − median 0-call plan) / {CALLS})."
        ),
        format!(
            "GetProviderSchema answer: {} bytes encoded.",
            starts.schema_bytes
        ),
        format!(
            "One P-521 ECDSA signature with the pure-Rust `p521` crate: {:.2} ms to sign \
             (this benchmark's host side, included in the P-521 rows), {:.2} ms to verify \
             (the provider's side); medians of {P521_ROUNDS}.",
            median(&starts.p521_sign),
            median(&starts.p521_verify)
        ),
    ])
}

fn millis(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_call_configuration_has_every_call() {
        let text = Config::Calls.main_tf();
        assert_eq!(text.matches("provider::rack::").count(), CALLS);
        assert!(text.contains("provider::rack::ptr_name(\"10.0.0.197\")"));
        assert!(!Config::ZeroCalls.main_tf().contains("provider::"));
        assert!(!Config::NoProvider.main_tf().contains("rack"));
    }
}
