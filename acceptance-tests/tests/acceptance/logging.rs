//! Provider logs reach Terraform's log through go-plugin, at the level TF_LOG_PROVIDER sets.

use rack_acceptance_tests::{Workdir, workspace_root};

#[test]
fn tf_log_provider_shows_provider_logs() {
    let mut wd = Workdir::new();
    wd.copy_files_from(&workspace_root().join("examples").join("functions"));
    wd.set_env("TF_LOG_PROVIDER", "DEBUG");
    let out = wd.run(&["plan", "-no-color"]).success();
    assert!(
        out.stderr
            .contains("provider.terraform-provider-rack: Served request"),
        "no provider log lines in:\n{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("tf_rpc=CallFunction"),
        "no CallFunction log line in:\n{}",
        out.stderr
    );
    // Library internals (h2 frames, rustls handshakes) stay out of a DEBUG log.
    assert!(!out.stderr.contains("log.target=h2"), "{}", out.stderr);
}

#[test]
fn no_provider_logs_without_tf_log() {
    let wd = Workdir::new();
    wd.copy_files_from(&workspace_root().join("examples").join("functions"));
    let out = wd.run(&["plan", "-no-color"]).success();
    assert!(
        !out.stderr.contains("provider.terraform-provider-rack"),
        "{}",
        out.stderr
    );
}
