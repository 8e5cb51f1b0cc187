//! Regenerates `schemas/provider-schema.json` and `docs/` from the built provider.
//!
//! `cargo run -p xtask --bin generate` writes the files;
//! `... --bin generate -- --check` writes nothing and exits 1 listing the stale files.

use std::process::ExitCode;

use rack_acceptance_tests::workspace_root;
use xtask::docs;

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let check = match args.as_slice() {
        [] => false,
        [flag] if flag == "--check" => true,
        _ => {
            eprintln!("usage: generate [--check]");
            return ExitCode::from(2);
        }
    };
    let root = workspace_root();
    match docs::generate(&root, check) {
        Ok(stale) if check && !stale.is_empty() => {
            eprintln!("Generated files are out of date:");
            for path in &stale {
                eprintln!("  {path}");
            }
            eprintln!("Run `cargo run -p xtask --bin generate` and commit the result.");
            ExitCode::FAILURE
        }
        Ok(_) if check => {
            println!("Generated files are up to date.");
            ExitCode::SUCCESS
        }
        Ok(changed) => {
            if changed.is_empty() {
                println!("Generated files were already up to date.");
            }
            for path in &changed {
                println!("updated {path}");
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
