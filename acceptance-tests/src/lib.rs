//! Acceptance-test harness: runs the real Terraform CLI against the rack provider.
