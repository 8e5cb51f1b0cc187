//! The test guest: Debian's kernel and a busybox initramfs built by
//! `scripts/build-test-guest` (see there for what its init does), cached under
//! `$RACK_TEST_GUEST_DIR` or `/var/cache/rack-test-guest`. The first use downloads the
//! kernel package with `apt-get download` and builds the initramfs (about 20 s); later
//! uses only check the cache (about 2 s).

use crate::process::{FixtureError, err};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

/// The kernel and initramfs to boot directly.
#[derive(Debug, Clone)]
pub struct Guest {
    /// Debian's `vmlinuz`.
    pub kernel: PathBuf,
    /// The busybox initramfs (cpio newc, gzip).
    pub initrd: PathBuf,
}

/// The kernel command line the guest expects: its console on the first serial port.
pub const GUEST_CMDLINE: &str = "console=ttyS0 quiet";

/// The line prefix of everything the guest's init prints.
pub const GUEST_PREFIX: &str = "rack-guest: ";

impl Guest {
    /// Finds the guest in its cache, building it first if needed. Built once per test
    /// process.
    pub fn get() -> Result<Guest, FixtureError> {
        static GUEST: OnceLock<Result<Guest, String>> = OnceLock::new();
        GUEST
            .get_or_init(|| Self::build().map_err(|e| e.0))
            .clone()
            .map_err(FixtureError)
    }

    fn build() -> Result<Guest, FixtureError> {
        let script = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("scripts")
            .join("build-test-guest");
        if !script.is_file() {
            return Err(err(format!(
                "the test guest builder {} is missing",
                script.display()
            )));
        }
        let cache = std::env::var_os("RACK_TEST_GUEST_DIR")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from("/var/cache/rack-test-guest"));
        let out = Command::new("bash")
            .arg(&script)
            .arg(&cache)
            .output()
            .map_err(|e| err(format!("cannot run {}: {e}", script.display())))?;
        if !out.status.success() {
            return Err(err(format!(
                "building the test guest failed ({}):\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let mut lines = stdout.lines();
        match (lines.next(), lines.next()) {
            (Some(kernel), Some(initrd)) => Ok(Guest {
                kernel: PathBuf::from(kernel),
                initrd: PathBuf::from(initrd),
            }),
            _ => Err(err(format!(
                "{} printed no kernel and initramfs paths: {stdout}",
                script.display()
            ))),
        }
    }
}

/// The guest's own lines in a console log, without the prefix.
pub fn guest_lines(log: &str) -> Vec<String> {
    log.lines()
        .filter_map(|l| {
            l.split_once(GUEST_PREFIX)
                .map(|(_, rest)| rest.trim().to_owned())
        })
        .collect()
}

/// Gives `/dev/kvm` group `kvm` and mode 0660 as Debian's udev rules would. Here KVM is
/// nested without hardware support, so the tests use TCG; but libvirt's QEMU driver
/// probes `/dev/kvm` and, while it is root-only, probes QEMU's capabilities again every
/// few seconds, which stalls the first domain definition.
pub fn fix_kvm_permissions() -> Result<(), FixtureError> {
    let kvm = Path::new("/dev/kvm");
    if !kvm.exists() {
        return Ok(());
    }
    for (program, arg) in [("chgrp", "kvm"), ("chmod", "0660")] {
        let status = Command::new(program)
            .arg(arg)
            .arg(kvm)
            .status()
            .map_err(|e| err(format!("cannot run {program}: {e}")))?;
        if !status.success() {
            return Err(err(format!(
                "`{program} {arg} /dev/kvm` failed; run the tests as root"
            )));
        }
    }
    Ok(())
}
