//! The project's tools, kept out of the test library: the generator of `docs/` and
//! `schemas/provider-schema.json` (`cargo run -p xtask --bin generate`), and the
//! benchmarks (`scripts/bench`, which runs `cargo run --release -p xtask --bin bench`).
//! Both drive the real Terraform CLI through the acceptance tests' harness.

pub mod bench;
pub mod docs;
