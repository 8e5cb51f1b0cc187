//! Finding the Terraform CLI and checking that it is new enough.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process;

/// Oldest Terraform the tests accept: 1.14 brought list resources (`terraform query`),
/// which later resources use, and protocol 6 features the provider relies on.
pub const MIN_TERRAFORM: (u64, u64) = (1, 14);

/// `terraform version` answers in well under a second; this only guards against a hang.
const VERSION_TIMEOUT: Duration = Duration::from_secs(60);

const INSTALL_HINT: &str = "run `scripts/install-terraform` and export TF_ACC_TERRAFORM_PATH \
     to the path it prints (scripts/test does both)";

/// The Terraform CLI to test with: `$TF_ACC_TERRAFORM_PATH`, else `terraform` on `PATH`.
///
/// Panics (so the calling test fails, never skips) when there is none, when it does not
/// run, or when it is older than [`MIN_TERRAFORM`]; the message says how to install one.
/// The answer is computed once per process.
#[track_caller]
pub fn terraform_path() -> &'static Path {
    static FOUND: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    process::path_once(&FOUND, locate)
}

fn locate() -> anyhow::Result<PathBuf> {
    let path = match std::env::var_os("TF_ACC_TERRAFORM_PATH").filter(|p| !p.is_empty()) {
        Some(path) => PathBuf::from(path),
        None => find_on_path("terraform").with_context(|| {
            format!("No Terraform CLI: TF_ACC_TERRAFORM_PATH is unset and there is no `terraform` on PATH; {INSTALL_HINT}")
        })?,
    };
    let version = terraform_version(&path).with_context(|| {
        format!(
            "Terraform at {} does not report its version; {INSTALL_HINT}",
            path.display()
        )
    })?;
    if parse_version(&version).is_none_or(|v| v < MIN_TERRAFORM) {
        bail!(
            "Terraform at {} is version {version}, older than the {}.{} these tests need; {INSTALL_HINT}",
            path.display(),
            MIN_TERRAFORM.0,
            MIN_TERRAFORM.1
        );
    }
    Ok(path)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let paths = std::env::var_os("PATH")?;
    std::env::split_paths(&paths)
        .map(|dir| dir.join(name))
        .find(|candidate| candidate.is_file())
}

/// The version `terraform version -json` reports, e.g. `"1.15.5"`.
pub fn terraform_version(terraform: &Path) -> anyhow::Result<String> {
    let scratch = tempfile::tempdir().context("Cannot create a temp dir")?;
    let config = scratch.path().join("terraformrc");
    std::fs::write(&config, "disable_checkpoint = true\n")
        .with_context(|| format!("Cannot write {}", config.display()))?;
    let mut cmd = Command::new(terraform);
    cmd.args(["version", "-json"])
        .current_dir(scratch.path())
        .env("TF_CLI_CONFIG_FILE", &config)
        .env("CHECKPOINT_DISABLE", "1");
    let result = process::run(cmd, VERSION_TIMEOUT)
        .with_context(|| format!("Cannot run {}", terraform.display()))?;
    if !result.succeeded() {
        bail!("`terraform version -json` failed\n{result}");
    }
    let json: serde_json::Value = serde_json::from_str(&result.stdout)
        .with_context(|| format!("`terraform version -json` printed no JSON\n{result}"))?;
    json.get("terraform_version")
        .and_then(|v| v.as_str())
        .map(str::to_owned)
        .with_context(|| format!("`terraform version -json` has no terraform_version\n{result}"))
}

/// `(major, minor)` of a version such as `1.15.5` or `1.14.0-beta1`.
fn parse_version(version: &str) -> Option<(u64, u64)> {
    let mut parts = version.trim_start_matches('v').split(['.', '-']);
    let major = parts.next()?.parse().ok()?;
    let minor = parts.next()?.parse().ok()?;
    Some((major, minor))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_versions() {
        assert_eq!(parse_version("1.15.5"), Some((1, 15)));
        assert_eq!(parse_version("v1.14.0-beta1"), Some((1, 14)));
        assert_eq!(parse_version("1.9.8"), Some((1, 9)));
        assert_eq!(parse_version("garbage"), None);
        assert!(parse_version("1.11.4").is_some_and(|v| v < MIN_TERRAFORM));
        assert!(parse_version("2.0.0").is_some_and(|v| v >= MIN_TERRAFORM));
    }
}
