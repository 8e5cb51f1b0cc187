//! Benchmarks of the release provider against baselines measured in the same run.
//!
//! `cargo run --release -p xtask --bin bench -- <benchmark> [--runs N]`,
//! or `scripts/bench <benchmark>`, which also installs Terraform. The markdown report goes
//! to stdout, progress to stderr. See `BENCHMARKS.md`.

use std::process::ExitCode;

use xtask::bench::{BENCHMARKS, Benchmark};

fn usage() -> String {
    let mut text = String::from(
        "usage: bench <benchmark> [--runs N]\n\n\
         --runs N  rounds of each measurement (default: the benchmark's own, below)\n\nbenchmarks:\n",
    );
    for b in BENCHMARKS {
        text.push_str(&format!(
            "  {:<12} {} (default {} rounds)\n",
            b.name, b.about, b.default_runs
        ));
    }
    text
}

/// The benchmark and the number of rounds, from the command line.
fn parse(args: &[String]) -> Result<(&'static Benchmark, usize), String> {
    let mut name = None;
    let mut runs = None;
    let mut args = args.iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--runs" => {
                let value = args.next().ok_or("--runs needs a number")?;
                runs = Some(
                    value
                        .parse()
                        .ok()
                        .filter(|&n: &usize| n > 0)
                        .ok_or_else(|| format!("--runs {value:?} is not a positive number"))?,
                );
            }
            other if other.starts_with('-') => return Err(format!("unknown option {other}")),
            other if name.is_none() => name = Some(other.to_owned()),
            other => return Err(format!("unexpected argument {other}")),
        }
    }
    let name = name.ok_or("no benchmark named")?;
    let bench = BENCHMARKS
        .iter()
        .find(|b| b.name == name)
        .ok_or_else(|| format!("no benchmark called {name:?}"))?;
    Ok((bench, runs.unwrap_or(bench.default_runs)))
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "-h" || a == "--help") {
        print!("{}", usage());
        return ExitCode::SUCCESS;
    }
    let (bench, runs) = match parse(&args) {
        Ok(choice) => choice,
        Err(message) => {
            eprintln!("bench: {message}\n\n{}", usage());
            return ExitCode::from(2);
        }
    };
    match (bench.run)(runs) {
        Ok(report) => {
            print!("{report}");
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("bench {}: {e:#}", bench.name);
            ExitCode::FAILURE
        }
    }
}
