//! What every benchmark starts from and how every report begins: the machine, the
//! release provider, the Terraform CLI, the report's head lines, and the rounds that
//! rotate their cycles.

use std::fmt::Debug;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};

use super::procfs::Machine;

/// The machine, the provider binary and the Terraform CLI of one benchmark run.
#[derive(Debug)]
pub(super) struct Setup {
    /// The machine, read when the run starts.
    pub machine: Machine,
    /// The release provider (or `RACK_PROVIDER_BINARY`).
    pub binary: PathBuf,
    /// The Terraform CLI.
    pub terraform: PathBuf,
    /// Its version.
    pub terraform_version: String,
}

impl Setup {
    /// Checks `runs` and finds the provider and Terraform.
    pub fn new(runs: usize) -> anyhow::Result<Self> {
        check_runs(runs)?;
        let machine = Machine::read();
        let binary = release_provider()?;
        let terraform = rack_acceptance_tests::terraform_path().to_path_buf();
        let terraform_version = rack_acceptance_tests::terraform_version(&terraform)?;
        Ok(Self {
            machine,
            binary,
            terraform,
            terraform_version,
        })
    }

    /// The head of the report, written at the end of the run: heading, date, machine
    /// (with `note`, and the load average now), Terraform run `how`, and the provider.
    pub fn report_head(&self, note: Option<&str>, how: &str) -> String {
        let load_at_end = Machine::read().loadavg;
        let mut out = results_head(&self.machine, note, &load_at_end);
        out.push_str(&format!(
            "{}\n{}\n",
            terraform_line(&self.terraform_version, &self.terraform, Some(how)),
            provider_line(&self.binary)
        ));
        out
    }
}

/// Refuses zero rounds.
pub(super) fn check_runs(runs: usize) -> anyhow::Result<()> {
    if runs == 0 {
        bail!("--runs must be at least 1");
    }
    Ok(())
}

/// Runs `runs` counted rounds after one warm-up round (round 0). Each round runs every
/// cycle once, in an order that rotates from round to round, so no cycle always runs
/// first or after the same other one; `run` gets the cycle and whether it counts.
pub(super) fn rotating_rounds<C: Copy + Debug>(
    runs: usize,
    cycles: &[C],
    run: impl FnMut(C, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    rounds(0..=runs, runs, cycles, run)
}

/// [`rotating_rounds`] without the warm-up round, for rounds that follow others which
/// already warmed the same services, provider and Terraform.
pub(super) fn rotating_counted_rounds<C: Copy + Debug>(
    runs: usize,
    cycles: &[C],
    run: impl FnMut(C, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    rounds(1..=runs, runs, cycles, run)
}

fn rounds<C: Copy + Debug>(
    which: std::ops::RangeInclusive<usize>,
    runs: usize,
    cycles: &[C],
    mut run: impl FnMut(C, bool) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    for round in which {
        for i in 0..cycles.len() {
            let cycle = cycles[(round + i) % cycles.len()];
            eprintln!(
                "bench: round {round}/{runs}{}: {cycle:?}",
                if round == 0 { " (warm-up)" } else { "" }
            );
            run(cycle, round > 0).with_context(|| format!("Round {round}, {cycle:?} cycle"))?;
        }
    }
    Ok(())
}

/// The release provider: built on first use by the harness (`cargo run --release` makes
/// it a release build), or `RACK_PROVIDER_BINARY`.
pub(super) fn release_provider() -> anyhow::Result<PathBuf> {
    let binary = rack_acceptance_tests::provider_binary().to_path_buf();
    let explicit = std::env::var_os("RACK_PROVIDER_BINARY").is_some_and(|v| !v.is_empty());
    if !is_release(&binary) && !explicit {
        bail!(
            "{} is not a release build; run the benchmark with `cargo run --release` \
             (scripts/bench does)",
            binary.display()
        );
    }
    Ok(binary)
}

/// The start of a benchmark's results: the heading, the date and the machine (with
/// `note` on it, and its load average at the end of the run).
pub(super) fn results_head(machine: &Machine, note: Option<&str>, load_at_end: &str) -> String {
    format!(
        "### Results\n\n- Date: {}\n{}\n",
        date(),
        machine.report_line(note, Some(load_at_end))
    )
}

/// The report line naming the provider binary measured: release build or
/// `RACK_PROVIDER_BINARY`, its size and path.
pub(super) fn provider_line(binary: &Path) -> String {
    let size = std::fs::metadata(binary).map_or(0, |m| m.len());
    format!(
        "- Provider: {}, {:.1} MiB ({})",
        if is_release(binary) {
            "release build"
        } else {
            "RACK_PROVIDER_BINARY"
        },
        size as f64 / 1048576.0,
        binary.display()
    )
}

/// The report line naming Terraform: its version and path, then `how` it was run (its
/// parallelism), when the report says.
pub(super) fn terraform_line(version: &str, binary: &Path, how: Option<&str>) -> String {
    let mut line = format!("- Terraform: {version} ({})", binary.display());
    if let Some(how) = how {
        line.push_str(", ");
        line.push_str(how);
    }
    line
}

/// The async runtime of the benchmarks that drive libvirt: two workers, as on CI.
pub(super) fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("Cannot start the async runtime")
}

/// Whether `binary` sits in cargo's release output directory.
fn is_release(binary: &Path) -> bool {
    binary
        .parent()
        .and_then(Path::file_name)
        .is_some_and(|d| d == "release")
}

/// Today's date and time in UTC, e.g. `2025-01-31 14:05 UTC`.
pub(super) fn date() -> String {
    let secs = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    let (y, m, d) = civil_from_days((secs / 86_400) as i64);
    let rem = secs % 86_400;
    format!(
        "{y:04}-{m:02}-{d:02} {:02}:{:02} UTC",
        rem / 3600,
        rem % 3600 / 60
    )
}

/// Year, month, day of a day count since 1970-01-01 (proleptic Gregorian; Howard
/// Hinnant's `civil_from_days`).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terraform_lines() {
        let bin = Path::new("/opt/tf/terraform");
        assert_eq!(
            terraform_line("1.15.5", bin, None),
            "- Terraform: 1.15.5 (/opt/tf/terraform)"
        );
        assert_eq!(
            terraform_line("1.15.5", bin, Some("default parallelism (10)")),
            "- Terraform: 1.15.5 (/opt/tf/terraform), default parallelism (10)"
        );
    }

    #[test]
    fn calendar_dates() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(59), (1970, 3, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
        assert_eq!(civil_from_days(20_454), (2026, 1, 1));
    }
}
