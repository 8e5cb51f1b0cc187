//! Memory figures of a running process from `/proc/PID/status`, and facts about the machine.

/// The memory lines of `/proc/PID/status` the benchmarks report, in KiB.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Memory {
    /// Resident set size now (`VmRSS`).
    pub rss_kib: u64,
    /// Highest resident set size so far (`VmHWM`); reset by `exec`.
    pub hwm_kib: u64,
}

/// Reads `/proc/<pid>/status`; `None` once the process is gone (or is a zombie, which
/// has no memory lines left).
pub fn memory(pid: u32) -> Option<Memory> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    parse_status(&text)
}

/// The `VmRSS` and `VmHWM` lines of a status file; `None` when either is missing.
pub fn parse_status(text: &str) -> Option<Memory> {
    let kib = |key: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(key))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|n| n.trim().parse::<u64>().ok())
    };
    Some(Memory {
        rss_kib: kib("VmRSS:")?,
        hwm_kib: kib("VmHWM:")?,
    })
}

/// KiB as MiB.
pub fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// What the results were measured on.
#[derive(Debug, Clone)]
pub struct Machine {
    /// CPUs this process may use.
    pub cpus: usize,
    /// The CPU model (first `model name` of `/proc/cpuinfo`).
    pub cpu_model: String,
    /// `MemTotal` of `/proc/meminfo`, in KiB.
    pub mem_kib: u64,
    /// Kernel name and release.
    pub kernel: String,
    /// 1-, 5- and 15-minute load averages when the run started.
    pub loadavg: String,
}

impl Machine {
    /// Reads the machine's facts; a fact that cannot be read is shown as "unknown".
    pub fn read() -> Self {
        let read = |path: &str| std::fs::read_to_string(path).unwrap_or_default();
        let cpuinfo = read("/proc/cpuinfo");
        let cpu_model = cpuinfo
            .lines()
            .find_map(|l| l.strip_prefix("model name"))
            .and_then(|rest| rest.split_once(':'))
            .map_or_else(|| "unknown".to_owned(), |(_, m)| m.trim().to_owned());
        let mem_kib = read("/proc/meminfo")
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|rest| rest.trim().strip_suffix("kB"))
            .and_then(|n| n.trim().parse().ok())
            .unwrap_or(0);
        let release = read("/proc/sys/kernel/osrelease");
        let kernel = match release.trim() {
            "" => "unknown".to_owned(),
            r => format!("Linux {r}"),
        };
        let loadavg = read("/proc/loadavg")
            .split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" ");
        Self {
            cpus: std::thread::available_parallelism().map_or(0, usize::from),
            cpu_model,
            mem_kib,
            kernel,
            loadavg,
        }
    }

    /// The report's "- Machine: ..." line: CPUs, RAM, kernel, then `note` (if any), then
    /// the load average at the start of the run and, when given, at its end.
    pub fn report_line(&self, note: Option<&str>, load_at_end: Option<&str>) -> String {
        let mut line = format!(
            "- Machine: {} CPUs ({}), {:.1} GiB RAM, {}",
            self.cpus,
            self.cpu_model,
            mib(self.mem_kib) / 1024.0,
            self.kernel,
        );
        if let Some(note) = note {
            line.push_str("; ");
            line.push_str(note);
        }
        line.push_str("; load average at start ");
        line.push_str(&self.loadavg);
        if let Some(end) = load_at_end {
            line.push_str(", at end ");
            line.push_str(end);
        }
        line
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn machine_report_line() {
        let m = Machine {
            cpus: 2,
            cpu_model: "Some CPU".to_owned(),
            mem_kib: 2 * 1024 * 1024,
            kernel: "Linux 6.1".to_owned(),
            loadavg: "0.50 0.40 0.30".to_owned(),
        };
        assert_eq!(
            m.report_line(None, None),
            "- Machine: 2 CPUs (Some CPU), 2.0 GiB RAM, Linux 6.1; load average at start 0.50 0.40 0.30"
        );
        assert_eq!(
            m.report_line(Some("no KVM"), Some("1 1 1")),
            "- Machine: 2 CPUs (Some CPU), 2.0 GiB RAM, Linux 6.1; no KVM; load average at start \
             0.50 0.40 0.30, at end 1 1 1"
        );
    }

    #[test]
    fn status_lines() {
        let text = "Name:\tterraform-provi\nVmPeak:\t  30000 kB\nVmHWM:\t    9120 kB\n\
                    VmRSS:\t    8004 kB\nThreads:\t3\n";
        assert_eq!(
            parse_status(text),
            Some(Memory {
                rss_kib: 8004,
                hwm_kib: 9120
            })
        );
        // A zombie has no memory lines.
        assert_eq!(parse_status("Name:\tx\nState:\tZ (zombie)\n"), None);
    }

    #[test]
    fn this_process_has_memory() {
        let m = memory(std::process::id()).unwrap();
        assert!(m.rss_kib > 0 && m.hwm_kib >= m.rss_kib);
        assert_eq!(mib(2048), 2.0);
    }
}
