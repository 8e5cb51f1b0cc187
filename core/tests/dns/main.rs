//! The DNS client against a real named, started by the `rack-lab` crate in a temp dir.
//! Fails (never skips) with the name of the missing binary when BIND is absent.

mod client;
mod trust;
