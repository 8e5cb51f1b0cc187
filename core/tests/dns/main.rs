//! The DNS client against a real named, started by `tests/support` in a temp dir.
//! Fails (never skips) with the name of the missing binary when BIND is absent.

#[path = "../support/mod.rs"]
mod support;

mod client;
mod trust;
