//! Running one Terraform command of the zone benchmark and measuring it: wall time,
//! Terraform's peak memory (`VmHWM` of its process, polled), every provider process's
//! peak memory and CPU (a wrapper runs the provider under GNU `time`), the CPU of
//! Terraform and its providers together, and what the services received.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rack_acceptance_tests::Workdir;

use super::super::dns::children_cpu;
use super::super::procfs;
use super::services::{Requests, Services};

/// How often Terraform's memory is read; `VmHWM` keeps the peak, so this only has to
/// catch the process before it exits.
const SAMPLE_EVERY: Duration = Duration::from_millis(50);

/// Deadline for one Terraform command unless `RACK_BENCH_COMMAND_TIMEOUT_SECS` says
/// otherwise; there so that a hang ends the run.
const COMMAND_TIMEOUT: Duration = Duration::from_secs(1800);

fn command_timeout() -> Duration {
    std::env::var("RACK_BENCH_COMMAND_TIMEOUT_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .map_or(COMMAND_TIMEOUT, Duration::from_secs)
}

/// GNU time, which reports a process's peak resident set and CPU time when it exits.
const GNU_TIME: &str = "/usr/bin/time";

/// One provider process of a command.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) struct ProviderProcess {
    /// Peak resident set (GNU time's `%M`), MiB.
    pub peak_mib: f64,
    /// User + system CPU, seconds.
    pub cpu: f64,
}

/// One measured command.
#[derive(Debug, Clone)]
pub(super) struct Measured {
    pub seconds: f64,
    /// Terraform's peak resident set (its process's `VmHWM`), MiB.
    pub terraform_mib: f64,
    /// CPU of Terraform and the providers it started, seconds.
    pub cpu: f64,
    pub providers: Vec<ProviderProcess>,
    pub requests: Requests,
    pub stdout: String,
}

impl Measured {
    /// The highest peak of the command's provider processes, MiB.
    pub fn provider_peak_mib(&self) -> Option<f64> {
        self.providers.iter().map(|p| p.peak_mib).reduce(f64::max)
    }

    /// CPU of every provider process together.
    pub fn provider_cpu(&self) -> f64 {
        self.providers.iter().map(|p| p.cpu).sum()
    }
}

/// The provider wrapper and where it writes.
pub(super) struct Wrapper {
    /// The directory `dev_overrides` points at.
    pub dir: PathBuf,
    times: PathBuf,
    ticks: f64,
}

impl Wrapper {
    /// Writes `<dir>/terraform-provider-rack`, which runs `binary` under GNU time, noting
    /// each process's peak memory and CPU in a file.
    pub fn write(dir: &Path, binary: &Path, ticks: f64) -> anyhow::Result<Self> {
        if !Path::new(GNU_TIME).is_file() {
            bail!("{GNU_TIME} is missing: install the Debian package time");
        }
        let quote = |p: &Path| -> anyhow::Result<String> {
            let text = p
                .to_str()
                .ok_or_else(|| anyhow!("{} is not UTF-8", p.display()))?;
            if text.contains('\'') {
                bail!("{text} contains a single quote");
            }
            Ok(format!("'{text}'"))
        };
        let times = dir.join("times");
        let script = format!(
            "#!/bin/sh\n# Written by a rack benchmark: run the provider, noting its peak memory \
             and CPU.\nexec {GNU_TIME} -a -o {} -f '%M %U %S' {} \"$@\"\n",
            quote(&times)?,
            quote(binary)?
        );
        let path = dir.join("terraform-provider-rack");
        std::fs::write(&path, script)
            .with_context(|| format!("Cannot write {}", path.display()))?;
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
            .with_context(|| format!("Cannot make {} executable", path.display()))?;
        Ok(Self {
            dir: dir.to_path_buf(),
            times,
            ticks,
        })
    }

    /// Reads and empties the file: the provider processes that ended since the last call.
    fn take(&self) -> anyhow::Result<Vec<ProviderProcess>> {
        let text = std::fs::read_to_string(&self.times).unwrap_or_default();
        std::fs::write(&self.times, "")
            .with_context(|| format!("Cannot empty {}", self.times.display()))?;
        Ok(parse_times(&text))
    }

    /// Runs `terraform <args>` in `wd`, measuring it; fails unless it exits with one of
    /// `ok_codes`.
    pub fn measure(
        &self,
        services: &Services,
        wd: &Workdir,
        args: &[&str],
        ok_codes: &[i32],
    ) -> anyhow::Result<Measured> {
        eprintln!("bench:   terraform {}", args.join(" "));
        self.take()?;
        let cpu_before = children_cpu(self.ticks)?;
        let ((seconds, terraform_mib, stdout), requests) =
            services.counting(|| run_watched(wd, args, ok_codes))?;
        let cpu = children_cpu(self.ticks)? - cpu_before;
        // Providers get a moment after Terraform to write their line.
        thread::sleep(Duration::from_millis(200));
        let providers = self.take()?;
        eprintln!(
            "bench:     {seconds:.2} s, Terraform {terraform_mib:.0} MiB, {} provider processes",
            providers.len()
        );
        Ok(Measured {
            seconds,
            terraform_mib,
            cpu,
            providers,
            requests,
            stdout,
        })
    }
}

/// The lines GNU time appended (`%M %U %S`); other lines ("Command terminated by
/// signal") are skipped.
fn parse_times(text: &str) -> Vec<ProviderProcess> {
    text.lines()
        .filter_map(|line| {
            let f: Vec<f64> = line
                .split_whitespace()
                .map(str::parse)
                .collect::<Result<_, _>>()
                .ok()?;
            match f[..] {
                [kib, user, system] => Some(ProviderProcess {
                    peak_mib: kib / 1024.0,
                    cpu: user + system,
                }),
                _ => None,
            }
        })
        .collect()
}

/// Runs `terraform <args>`, polling its memory; returns wall seconds, peak MiB and stdout.
fn run_watched(
    wd: &Workdir,
    args: &[&str],
    ok_codes: &[i32],
) -> anyhow::Result<(f64, f64, String)> {
    let mut cmd = wd.command(args);
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let timeout = command_timeout();
    let start = Instant::now();
    let mut child = cmd.spawn().context("Cannot start terraform")?;
    let stdout = drain(child.stdout.take());
    let stderr = drain(child.stderr.take());
    let mut hwm_kib = 0;
    let status = loop {
        if let Some(m) = procfs::memory(child.id()) {
            hwm_kib = hwm_kib.max(m.hwm_kib);
        }
        if let Some(status) = child.try_wait()? {
            break Some(status);
        }
        if start.elapsed() > timeout {
            let _ = child.kill();
            let _ = child.wait();
            break None;
        }
        thread::sleep(SAMPLE_EVERY);
    };
    let seconds = start.elapsed().as_secs_f64();
    let stdout = stdout.join().unwrap_or_default();
    let stderr = stderr.join().unwrap_or_default();
    match status.and_then(|s| s.code()) {
        Some(code) if ok_codes.contains(&code) => Ok((seconds, procfs::mib(hwm_kib), stdout)),
        Some(code) => bail!(
            "terraform {} exited with {code}\n{}\n{}",
            args.join(" "),
            tail(&stdout),
            tail(&stderr)
        ),
        None => bail!(
            "terraform {} did not finish within {timeout:?}\n{}",
            args.join(" "),
            tail(&stdout)
        ),
    }
}

/// The last lines of a long output.
fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(60)..].join("\n")
}

fn drain<R: std::io::Read + Send + 'static>(pipe: Option<R>) -> thread::JoinHandle<String> {
    thread::spawn(move || {
        let mut text = String::new();
        if let Some(mut pipe) = pipe {
            let _ = pipe.read_to_string(&mut text);
        }
        text
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gnu_time_lines() {
        let text = "20480 1.50 0.25\nCommand terminated by signal 9\n10240 0.10 0.00\n";
        assert_eq!(
            parse_times(text),
            vec![
                ProviderProcess {
                    peak_mib: 20.0,
                    cpu: 1.75
                },
                ProviderProcess {
                    peak_mib: 10.0,
                    cpu: 0.1
                }
            ]
        );
    }
}
