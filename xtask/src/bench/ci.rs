//! `scripts/bench ci`: the scheduled drift check of a CI pipeline,
//! `terraform plan -refresh-only -detailed-exitcode` with the state in Terraform's `pg`
//! backend, of a farm of [`HOSTS`] hosts (an A record on named and a static lease on Kea
//! each), against the same check of a configuration holding as many `terraform_data`
//! stand-ins with the same values and its state in the same database: what the refresh
//! through rack costs beyond Terraform's own work.

use std::fmt::Write as _;
use std::time::Instant;

use anyhow::{Context as _, bail};

use super::setup::{Setup, rotating_rounds};
use super::stats::{Row, Summary, Target, Unit, table};
use rack_acceptance_tests::{PROVIDER_VERSION, Workdir, install_into_mirror};
use rack_lab::{Kea, Named, Postgres};

/// Rounds when `--runs` is not given: the 10 drift checks.
pub const DEFAULT_ROUNDS: usize = 10;

/// Hosts in the farm: two resources each.
const HOSTS: usize = 50;

/// The target: rack's drift check within this factor of the stand-ins'.
const TARGET_RATIO: f64 = 1.3;

/// Kea's subnet in the fixture; the hosts take addresses from .10 on, below its pool.
const SUBNET: &str = rack_lab::kea::SUBNET;

/// Which configuration a cycle checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Cycle {
    /// rack's record sets and leases.
    Rack,
    /// The `terraform_data` stand-ins.
    Data,
}

/// Options of one run.
#[derive(Debug, Clone)]
pub struct Options {
    /// Counted rounds.
    pub runs: usize,
}

/// The hosts as an HCL local, shared by both configurations.
fn hosts_local() -> String {
    format!(
        "locals {{\n  hosts = {{\n    for i in range({HOSTS}) :\n    format(\"host-%02d\", i) => {{\n      \
         mac = format(\"02:00:00:00:77:%02x\", i + 10)\n      \
         ip  = cidrhost(\"{SUBNET}\", i + 10)\n    }}\n  }}\n}}\n"
    )
}

/// The `terraform` block with the state in PostgreSQL's schema `schema`.
fn terraform_block(schema: &str, rack: bool) -> String {
    let providers = if rack {
        "  required_providers {\n    rack = { source = \"terraform.local/rack/rack\" }\n  }\n"
    } else {
        ""
    };
    format!(
        "terraform {{\n{providers}  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n"
    )
}

fn rack_main_tf() -> String {
    format!(
        "{}\nprovider \"rack\" {{}}\n\n{}\n\
         resource \"rack_dns_record_set\" \"host\" {{\n  for_each = local.hosts\n\n  \
         zone    = \"farm.\"\n  name    = each.key\n  type    = \"A\"\n  \
         records = [each.value.ip]\n}}\n\n\
         resource \"rack_dhcp_lease\" \"host\" {{\n  for_each = local.hosts\n\n  \
         subnet   = \"{SUBNET}\"\n  mac      = each.value.mac\n  ip       = each.value.ip\n  \
         hostname = each.key\n}}\n",
        terraform_block("bench_rack", true),
        hosts_local()
    )
}

fn data_main_tf() -> String {
    format!(
        "{}\n{}\n\
         resource \"terraform_data\" \"record\" {{\n  for_each = local.hosts\n\n  \
         input = {{ zone = \"farm.\", name = each.key, type = \"A\", records = [each.value.ip] }}\n}}\n\n\
         resource \"terraform_data\" \"lease\" {{\n  for_each = local.hosts\n\n  \
         input = {{ subnet = \"{SUBNET}\", mac = each.value.mac, ip = each.value.ip, hostname = each.key }}\n}}\n",
        terraform_block("bench_data", false),
        hosts_local()
    )
}

/// The scheduled job's command, timed; fails unless it finds no drift (exit 0).
fn drift_check(wd: &Workdir) -> anyhow::Result<f64> {
    let started = Instant::now();
    let run = wd.run(&[
        "plan",
        "-refresh-only",
        "-detailed-exitcode",
        "-input=false",
        "-no-color",
        "-lock-timeout=60s",
    ]);
    let seconds = started.elapsed().as_secs_f64();
    if run.code != Some(0) {
        bail!("the drift check did not exit 0 (no drift)\n{run}");
    }
    Ok(seconds)
}

/// Runs the benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    eprintln!("bench: starting named, Kea and PostgreSQL");
    let named = Named::start().context("Cannot start named")?;
    let kea = Kea::start().context("Cannot start Kea")?;
    let pg = Postgres::start().context("Cannot start PostgreSQL")?;
    let conn = format!(
        "postgres://{}:{}@{}/{}?sslmode=disable",
        pg.user, pg.password, pg.addr, pg.database
    );

    let mut data = Workdir::without_provider();
    let mirror = data.path().join("mirror");
    let installed = install_into_mirror(&mirror, PROVIDER_VERSION)?;
    let cli_config = std::fs::read_to_string(&installed.cli_config)
        .context("Cannot read the mirror's CLI configuration")?;
    let mut rack = Workdir::with_cli_config_text(&cli_config);
    rack.set_env("RACK_DNS_ADDRESS", named.dns_addr.to_string())
        .set_env("RACK_DNS_KEY_NAME", named.tsig.name.clone())
        .set_env("RACK_DNS_KEY_ALGORITHM", named.tsig.algorithm.clone())
        .set_env("RACK_DNS_KEY_SECRET", named.tsig.secret.clone())
        .set_env("RACK_DHCP_KEA_URL", kea.url.clone())
        .set_env("RACK_DHCP_KEA_USERNAME", kea.username.clone())
        .set_env("RACK_DHCP_KEA_PASSWORD", kea.password.clone())
        .set_env("PG_CONN_STR", conn.clone())
        .write_main(&rack_main_tf());
    data.set_env("PG_CONN_STR", conn)
        .write_main(&data_main_tf());
    for (what, wd) in [("rack", &rack), ("terraform_data", &data)] {
        eprintln!("bench: init and apply of the {what} farm");
        wd.init();
        wd.apply();
    }

    let mut samples: [Vec<f64>; 2] = [Vec::new(), Vec::new()];
    rotating_rounds(opts.runs, &[Cycle::Rack, Cycle::Data], |cycle, counted| {
        let (i, wd) = match cycle {
            Cycle::Rack => (0, &rack),
            Cycle::Data => (1, &data),
        };
        let seconds = drift_check(wd)?;
        if counted {
            samples[i].push(seconds);
        }
        Ok(())
    })?;
    for wd in [&rack, &data] {
        wd.destroy();
    }

    let (Some(rack_s), Some(data_s)) = (Summary::of(&samples[0]), Summary::of(&samples[1])) else {
        bail!("no samples");
    };
    let row = Row {
        what: format!(
            "`plan -refresh-only -detailed-exitcode`, {} resources",
            2 * HOSTS
        ),
        unit: Unit::S,
        rack: rack_s,
        baseline_what: format!("{} `terraform_data`", 2 * HOSTS),
        baseline: Some(data_s),
        target: Some(Target {
            below: TARGET_RATIO * data_s.median,
        }),
    };
    let mut out = setup.report_head(None, "default parallelism (10)");
    let _ = writeln!(
        out,
        "- Farm: {HOSTS} hosts, each an A record (`rack_dns_record_set`, the `rack-lab` named) \
         and a static lease (`rack_dhcp_lease`, the `rack-lab` Kea, configuration backend); \
         state in Terraform's `pg` backend on the `rack-lab` PostgreSQL 15 for both \
         configurations; rack installed from a filesystem mirror"
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: one drift check of both configurations, in rotating order), \
         after one warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str(&table(&[row]));
    // Each round's two checks ran back to back: their ratio is less exposed to the load
    // of the shared machine changing between rounds.
    let paired: Vec<f64> = samples[0]
        .iter()
        .zip(&samples[1])
        .map(|(r, d)| r / d)
        .collect();
    let paired = Summary::of(&paired).context("no paired samples")?;
    let _ = writeln!(
        out,
        "\nRatio of the medians: {:.2}× (target within {TARGET_RATIO}×); per round: median \
         {:.2}×, p25–p75 {:.2}×–{:.2}×.",
        rack_s.median / data_s.median,
        paired.median,
        paired.p25,
        paired.p75
    );
    Ok(out)
}
