//! Building the provider binary and installing it where Terraform looks for it.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use anyhow::{Context, bail};

use crate::process;

/// The provider's source address, as configurations write it in `required_providers`.
pub const PROVIDER_SOURCE: &str = "terraform.local/rack/rack";

/// The provider's version. The provider and this crate share the workspace version.
pub const PROVIDER_VERSION: &str = env!("CARGO_PKG_VERSION");

/// Name of the provider's binary (and of its package).
const PROVIDER_PACKAGE: &str = "terraform-provider-rack";

/// A cold debug build of the provider takes minutes on two shared cores.
const BUILD_TIMEOUT: Duration = Duration::from_secs(1800);

/// The workspace root (the directory holding the root `Cargo.toml`).
pub fn workspace_root() -> PathBuf {
    let crate_dir = Path::new(env!("CARGO_MANIFEST_DIR"));
    crate_dir.parent().unwrap_or(crate_dir).to_path_buf()
}

/// Path of the provider binary, built with `cargo build -p terraform-provider-rack` on the
/// first call in this process (later calls return the same path at once).
///
/// The build uses the profile and target directory of the running executable, so
/// `cargo test --release` tests a release provider and `CARGO_TARGET_DIR` is honoured.
/// `RACK_PROVIDER_BINARY` names a prebuilt binary instead. Concurrent test threads wait
/// for the one build; concurrent processes are serialised by cargo's own build lock.
#[track_caller]
pub fn provider_binary() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    process::path_once(&BUILT, build)
}

fn build() -> anyhow::Result<PathBuf> {
    if let Some(path) = std::env::var_os("RACK_PROVIDER_BINARY").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        if !path.is_file() {
            bail!(
                "RACK_PROVIDER_BINARY={} is not a file; unset it to build the provider",
                path.display()
            );
        }
        return Ok(path);
    }
    let layout = BuildLayout::of_current_exe()?;
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let mut cmd = Command::new(cargo);
    cmd.current_dir(workspace_root())
        .args([
            "build",
            "--package",
            PROVIDER_PACKAGE,
            "--bin",
            PROVIDER_PACKAGE,
        ])
        .arg("--target-dir")
        .arg(&layout.target_dir)
        .args(layout.profile_args());
    if let Some(triple) = &layout.triple {
        cmd.args(["--target", triple]);
    }
    let result = process::run(cmd, BUILD_TIMEOUT).context("Cannot run cargo")?;
    if !result.succeeded() {
        bail!("Building the provider failed\n{result}");
    }
    let binary = layout.profile_dir.join(PROVIDER_PACKAGE);
    if !binary.is_file() {
        bail!(
            "cargo built the provider but {} does not exist\n{result}",
            binary.display()
        );
    }
    Ok(binary)
}

/// Where cargo put the running executable, read back from its path:
/// `<target-dir>[/<triple>]/<profile-dir>[/deps]/<exe>`.
#[derive(Debug, PartialEq, Eq)]
struct BuildLayout {
    target_dir: PathBuf,
    triple: Option<String>,
    profile_dir: PathBuf,
    profile: String,
}

impl BuildLayout {
    fn of_current_exe() -> anyhow::Result<Self> {
        let exe = std::env::current_exe().context("Cannot find the running executable")?;
        Self::from_exe(&exe, |dir| dir.join("CACHEDIR.TAG").is_file()).with_context(|| {
            format!(
                "{} is not inside a cargo target directory; set RACK_PROVIDER_BINARY",
                exe.display()
            )
        })
    }

    /// `is_target_root` tells whether a directory is a target-dir root (cargo marks those
    /// with a `CACHEDIR.TAG` file).
    fn from_exe(exe: &Path, is_target_root: impl Fn(&Path) -> bool) -> Option<Self> {
        let mut profile_dir = exe.parent()?;
        if profile_dir.file_name()? == "deps" || profile_dir.file_name()? == "examples" {
            profile_dir = profile_dir.parent()?;
        }
        let profile = match profile_dir.file_name()?.to_str()? {
            "debug" => "dev".to_string(),
            other => other.to_string(),
        };
        let parent = profile_dir.parent()?;
        let (target_dir, triple) = if is_target_root(parent) {
            (parent, None)
        } else {
            let triple = parent.file_name()?.to_str()?.to_string();
            (parent.parent()?, Some(triple))
        };
        Some(Self {
            target_dir: target_dir.to_path_buf(),
            triple,
            profile_dir: profile_dir.to_path_buf(),
            profile,
        })
    }

    fn profile_args(&self) -> Vec<String> {
        vec!["--profile".to_string(), self.profile.clone()]
    }
}

/// What [`install_into_mirror`] wrote.
#[derive(Debug, Clone)]
pub struct MirrorInstall {
    /// The copied provider binary inside the mirror.
    pub binary: PathBuf,
    /// A CLI configuration that installs `terraform.local/*/*` from the mirror only.
    pub cli_config: PathBuf,
}

/// Copies the provider binary into the filesystem mirror `dir` in Terraform's unpacked
/// layout, `<dir>/terraform.local/rack/rack/<version>/linux_amd64/terraform-provider-rack_v<version>`,
/// and writes `<dir>/rack.tfrc`: a CLI configuration whose `provider_installation` takes
/// `terraform.local/*/*` from that mirror and everything else from its origin registry.
pub fn install_into_mirror(dir: &Path, version: &str) -> anyhow::Result<MirrorInstall> {
    install_binary_into_mirror(provider_binary(), dir, version)
}

/// [`install_into_mirror`] for a given binary.
pub fn install_binary_into_mirror(
    binary: &Path,
    dir: &Path,
    version: &str,
) -> anyhow::Result<MirrorInstall> {
    std::fs::create_dir_all(dir).with_context(|| format!("Cannot create {}", dir.display()))?;
    let dir = dir
        .canonicalize()
        .with_context(|| format!("Cannot resolve {}", dir.display()))?;
    let platform_dir = dir.join(PROVIDER_SOURCE).join(version).join(platform());
    std::fs::create_dir_all(&platform_dir)
        .with_context(|| format!("Cannot create {}", platform_dir.display()))?;
    let installed = platform_dir.join(format!("{PROVIDER_PACKAGE}_v{version}"));
    std::fs::copy(binary, &installed).with_context(|| {
        format!(
            "Cannot copy {} to {}",
            binary.display(),
            installed.display()
        )
    })?;
    let cli_config = dir.join("rack.tfrc");
    let text = mirror_cli_config(&dir);
    std::fs::write(&cli_config, text)
        .with_context(|| format!("Cannot write {}", cli_config.display()))?;
    Ok(MirrorInstall {
        binary: installed,
        cli_config,
    })
}

/// Terraform's name for this machine's platform, e.g. `linux_amd64`.
pub(crate) fn platform() -> String {
    let os = std::env::consts::OS;
    let arch = match std::env::consts::ARCH {
        "x86_64" => "amd64",
        "aarch64" => "arm64",
        "x86" => "386",
        other => other,
    };
    format!("{os}_{arch}")
}

/// The CLI configuration text for a filesystem mirror at `dir`.
pub(crate) fn mirror_cli_config(dir: &Path) -> String {
    format!(
        r#"disable_checkpoint = true

provider_installation {{
  filesystem_mirror {{
    path    = {path}
    include = ["terraform.local/*/*"]
  }}
  direct {{
    exclude = ["terraform.local/*/*"]
  }}
}}
"#,
        path = hcl_string(&dir.to_string_lossy())
    )
}

/// The CLI configuration text for development: the provider is run straight from `dir`.
pub fn dev_overrides_cli_config(dir: &Path) -> String {
    format!(
        r#"disable_checkpoint = true

provider_installation {{
  dev_overrides {{
    "{PROVIDER_SOURCE}" = {path}
  }}
  direct {{}}
}}
"#,
        path = hcl_string(&dir.to_string_lossy())
    )
}

/// `text` as a quoted HCL string literal, template sequences escaped.
pub(crate) fn hcl_string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '$' | '%' if chars.peek() == Some(&'{') => {
                out.push(c);
                out.push(c);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn layout_of_a_test_binary() {
        let roots = [Path::new("/t")];
        let is_root = |p: &Path| roots.contains(&p);
        let l = BuildLayout::from_exe(Path::new("/t/debug/deps/acceptance-0123"), is_root).unwrap();
        assert_eq!(l.target_dir, Path::new("/t"));
        assert_eq!(l.profile_dir, Path::new("/t/debug"));
        assert_eq!(l.profile, "dev");
        assert_eq!(l.triple, None);

        let l = BuildLayout::from_exe(Path::new("/t/release/generate"), is_root).unwrap();
        assert_eq!(l.profile, "release");
        assert_eq!(l.profile_dir, Path::new("/t/release"));

        let l = BuildLayout::from_exe(
            Path::new("/t/x86_64-unknown-linux-gnu/debug/deps/a-1"),
            is_root,
        )
        .unwrap();
        assert_eq!(l.target_dir, Path::new("/t"));
        assert_eq!(l.triple.as_deref(), Some("x86_64-unknown-linux-gnu"));
    }

    #[test]
    fn hcl_strings_are_escaped() {
        assert_eq!(hcl_string("/a/b"), r#""/a/b""#);
        assert_eq!(hcl_string(r#"a"b\c"#), r#""a\"b\\c""#);
        assert_eq!(hcl_string("${x}%{y}$z"), r#""$${x}%%{y}$z""#);
    }

    #[test]
    fn mirror_layout_and_config() {
        let tmp = tempfile::tempdir().unwrap();
        let fake = tmp.path().join("fake-provider");
        std::fs::write(&fake, b"#!/bin/sh\n").unwrap();
        let mirror = tmp.path().join("mirror");
        let installed = install_binary_into_mirror(&fake, &mirror, "1.2.3").unwrap();
        let mirror = mirror.canonicalize().unwrap();
        assert_eq!(
            installed.binary,
            mirror.join(format!(
                "terraform.local/rack/rack/1.2.3/{}/terraform-provider-rack_v1.2.3",
                platform()
            ))
        );
        assert!(installed.binary.is_file());
        let config = std::fs::read_to_string(&installed.cli_config).unwrap();
        assert!(config.contains(&format!("path    = \"{}\"", mirror.display())));
        assert!(config.contains(r#"include = ["terraform.local/*/*"]"#));
        assert!(config.contains(r#"exclude = ["terraform.local/*/*"]"#));
    }
}
