//! Acceptance tests: the real Terraform CLI against the rack provider and real services.
//! One integration binary; each module is one user story.

#![allow(clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../core/tests/support/mod.rs"]
mod support;

mod dns_record_set;
mod dns_zone;
mod examples;
mod functions;
mod harness;
mod logging;
