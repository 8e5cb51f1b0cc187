//! What the libvirt acceptance tests share: the libvirtd fixture seen by the provider
//! through `RACK_HYPERVISORS`, and `virsh` for looking at what libvirt holds and for
//! changes made behind Terraform's back.

use std::process::Command;

use rack_acceptance_tests::Workdir;

use rack_lab::Libvirt;
use rack_lab::process::TempDir;

/// The provider block every libvirt test uses; the hypervisor comes from
/// `RACK_HYPERVISORS` (a lone URI: a hypervisor named `default`).
pub use rack_acceptance_tests::EMPTY_PROVIDER_CONFIG as PROVIDER;

/// Starts the fixture or fails naming what is missing.
pub fn start() -> Libvirt {
    Libvirt::start().unwrap_or_else(|e| panic!("cannot start the libvirt fixture: {e}"))
}

/// A workdir whose provider reaches `libvirt` as its default hypervisor.
pub fn workdir(libvirt: &Libvirt) -> Workdir {
    let mut wd = Workdir::new();
    wd.set_env("RACK_HYPERVISORS", libvirt.uri.clone());
    wd.set_env("RACK_HYPERVISOR_TIMEOUT", "60s");
    wd
}

/// [`start`] and [`workdir`], and a new temp dir (its name starting with `prefix`) for
/// the test's own files.
pub fn start_with_dir(prefix: &str) -> (Libvirt, Workdir, TempDir) {
    let libvirt = start();
    let wd = workdir(&libvirt);
    let dir = TempDir::new(prefix).expect("temp dir");
    (libvirt, wd, dir)
}

/// Runs `virsh -c URI args...`; returns (success, stdout, stderr).
pub fn virsh(libvirt: &Libvirt, args: &[&str]) -> (bool, String, String) {
    let out = Command::new("virsh")
        .arg("-c")
        .arg(&libvirt.uri)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run virsh (package libvirt-clients): {e}"));
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `virsh args...`, which must succeed; returns its stdout.
#[track_caller]
pub fn virsh_ok(libvirt: &Libvirt, args: &[&str]) -> String {
    let (ok, out, err) = virsh(libvirt, args);
    assert!(ok, "virsh {args:?} failed: {err}\n{out}");
    out
}

/// Stops the `kind` (`net` or `pool`) `name` with virsh behind Terraform's back; the next
/// apply must update `address` in place and start it again (`virsh <kind>-info` then
/// shows `running_line`), and the plan after it is empty.
#[track_caller]
pub fn started_again(
    libvirt: &Libvirt,
    wd: &Workdir,
    (kind, name, address): (&str, &str, &str),
    running_line: &str,
) {
    virsh_ok(libvirt, &[&format!("{kind}-destroy"), name]);
    wd.apply_planned(&[(address, &["update"])]);
    let info = virsh_ok(libvirt, &[&format!("{kind}-info"), name]);
    assert!(info.contains(running_line), "{info}");
    wd.assert_plan_empty();
}

/// Stops and undefines the `kind` (`net` or `pool`) `name` with virsh behind Terraform's
/// back; the next apply must create `address` again, and the plan after it is empty.
#[track_caller]
pub fn defined_again(libvirt: &Libvirt, wd: &Workdir, (kind, name, address): (&str, &str, &str)) {
    virsh_ok(libvirt, &[&format!("{kind}-destroy"), name]);
    virsh_ok(libvirt, &[&format!("{kind}-undefine"), name]);
    wd.apply_planned(&[(address, &["create"])]);
    assert!(virsh(libvirt, &[&format!("{kind}-info"), name]).0);
    wd.assert_plan_empty();
}

/// The `<host .../>` lines of a network's DHCP configuration, as `virsh net-dumpxml`
/// prints them.
pub fn host_lines(libvirt: &Libvirt, network: &str) -> Vec<String> {
    virsh_ok(libvirt, &["net-dumpxml", network])
        .lines()
        .filter(|l| l.contains("<host "))
        .map(str::to_owned)
        .collect()
}

/// The start of a configuration with a DHCP server `farm` on libvirt network `network`,
/// and that network, managed by rack too: isolated, on `bridge`, subnet
/// `10.10.<octet>.0/24` with a dynamic range from .100 to .150.
pub fn dhcp_network(network: &str, bridge: &str, octet: u8) -> String {
    format!(
        r#"
terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{
  dhcp {{
    server "farm" {{
      libvirt {{
        network = "{network}"
      }}
    }}
  }}
}}

resource "rack_network" "{network}" {{
  name   = "{network}"
  mode   = "isolated"
  bridge = "{bridge}"
  ipv4 = {{
    cidr        = "10.10.{octet}.0/24"
    dhcp_ranges = [{{ start = "10.10.{octet}.100", end = "10.10.{octet}.150" }}]
  }}
}}
"#
    )
}

/// Resource `label`: the dir storage pool `name` on `path`.
pub fn dir_pool_hcl(label: &str, name: &str, path: &str) -> String {
    format!(
        r#"
resource "rack_storage_pool" "{label}" {{
  name = "{name}"
  type = "dir"
  path = "{path}"
}}
"#
    )
}

/// Resource `label`: the isolated network `name` on `cidr`, with the attribute lines
/// `extra` after its `ipv4`.
pub fn isolated_network_hcl(label: &str, name: &str, cidr: &str, extra: &str) -> String {
    format!(
        r#"
resource "rack_network" "{label}" {{
  name = "{name}"
  mode = "isolated"
  ipv4 = {{
    cidr = "{cidr}"
  }}
{extra}}}
"#
    )
}

/// Defines and starts (with virsh, outside Terraform) the dir pool `name` on a new
/// directory `subdir` of the fixture's dir; returns that directory's path.
pub fn virsh_dir_pool(libvirt: &Libvirt, name: &str, subdir: &str) -> String {
    let dir = libvirt.dir().join(subdir);
    std::fs::create_dir_all(&dir)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let path = dir.display().to_string();
    virsh_ok(libvirt, &["pool-define-as", name, "dir", "--target", &path]);
    virsh_ok(libvirt, &["pool-start", name]);
    path
}
