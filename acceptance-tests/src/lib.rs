//! Acceptance-test harness: runs the real Terraform CLI against the rack provider.
//!
//! A test builds a [`Workdir`] (a temp dir with its own CLI configuration), writes a
//! configuration into it and drives Terraform through it:
//!
//! ```no_run
//! use rack_acceptance_tests::Workdir;
//!
//! let wd = Workdir::new(); // builds the provider once, points dev_overrides at it
//! wd.write_main(r#"resource "terraform_data" "x" { input = "a" }"#);
//! wd.init();
//! wd.apply();
//! wd.assert_plan_empty();
//! wd.destroy();
//! wd.assert_destroyed();
//! ```
//!
//! Every method that runs Terraform panics with the command, its exit code, stdout and
//! stderr when the command does not end as expected; the `run` method returns the
//! [`CmdResult`] without judging it, for tests that expect a failure.
//!
//! Nothing is skipped: without a Terraform >= [`MIN_TERRAFORM`] the tests fail and say to
//! run `scripts/install-terraform`.

pub mod host_tls;
mod process;
mod provider;
mod terraform;
mod workdir;

pub use process::{CmdResult, run as run_command};
pub use provider::{
    MirrorInstall, PROVIDER_SOURCE, PROVIDER_VERSION, dev_overrides_cli_config,
    install_into_mirror, provider_binary, workspace_root,
};
pub use terraform::{MIN_TERRAFORM, terraform_path, terraform_version};
pub use workdir::{PlanResult, ResourceChange, Workdir, state_resources};

/// The start of a configuration whose provider block is empty: rack from the source the
/// harness installs, its settings all from `RACK_*` variables.
pub const EMPTY_PROVIDER_CONFIG: &str = r#"
terraform {
  required_providers {
    rack = { source = "terraform.local/rack/rack" }
  }
}

provider "rack" {}
"#;
