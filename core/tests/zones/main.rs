//! Zone creation and deletion against real servers, started by the `rack-lab` crate in temp
//! dirs. They fail (never skip) with the name of the missing binary when one is absent.

// Test helpers too may unwrap: a panic there is a failed test.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod bind;
mod common;
mod powerdns;
#[path = "../support/mod.rs"]
mod support;
