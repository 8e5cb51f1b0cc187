//! The plugin process: magic cookie, handshake, AutoMTLS, health, controller and stdio.

use std::process::ExitCode;

/// Entry point of the `terraform-provider-rack` binary.
pub fn main() -> ExitCode {
    ExitCode::FAILURE
}
