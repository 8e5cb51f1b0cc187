//! The standing lab of `scripts/up`, started and stopped from the lab crate:
//!
//!   lab up        start what is not running (named, the namespaces, Kea, tor1, libvirtd,
//!                 nginx)
//!   lab down      stop every lab process by PID and delete the namespace
//!   lab running   exit 0 when all the daemons run, 1 otherwise
//!   lab hypervisors   print the provider's RACK_HYPERVISORS value for the lab
//!
//! Settings come from the environment as `scripts/up` documents them (`RACK_LAB_STATE`,
//! `RACK_LAB_NAMESPACE`, `RACK_LAB_DNS_PORT`, `RACK_LAB_RNDC_PORT`, `RACK_LAB_KEA_PORT`,
//! `RACK_LAB_PG_PORT`, `RACK_LAB_HYPERVISORS`, `RACK_LAB_OVS_PORT`, `RACK_LAB_MIRROR_PORT`).

use rack_lab::standing::{Lab, Settings};
use std::process::ExitCode;

fn main() -> ExitCode {
    let mode = std::env::args().nth(1).unwrap_or_default();
    let lab = match Settings::from_env() {
        Ok(settings) => Lab::new(settings),
        Err(e) => return fail(&e),
    };
    let result = match mode.as_str() {
        "up" => lab.up(),
        "down" => lab.down(),
        "hypervisors" => {
            println!("{}", lab.hypervisors_env());
            return ExitCode::SUCCESS;
        }
        "running" => {
            return if lab.running() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            };
        }
        _ => {
            eprintln!("usage: lab up|down|running|hypervisors");
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(&e),
    }
}

fn fail(e: &dyn std::fmt::Display) -> ExitCode {
    eprintln!("lab: error: {e}");
    ExitCode::FAILURE
}
