//! Backend tests against the real services, started by `tests/support` in temp dirs.
//! They fail (never skip) with the name of the missing binary when a service is absent.

#[path = "../support/mod.rs"]
mod support;

mod powerdns;
mod rndc;
