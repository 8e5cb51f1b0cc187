//! One provider block, several hypervisors: three libvirtd, each in a network namespace
//! of its own, in one `hypervisors` map. VMs spread over them with `for_each`; moving a VM
//! to another hypervisor replaces it (and its disk), and the plan says it is the
//! `hypervisor` attribute that forces it; destroy leaves every hypervisor empty.

use rack_acceptance_tests::Workdir;
use rack_lab::Libvirt;
use rack_lab::guest::fix_kvm_permissions;
use serde_json::Value;

use crate::libvirt_common::{start, virsh_ok};

/// The configuration: hypervisors `a`, `b`, `c`; on each a dir pool `p`; per VM of
/// `placement` (VM name => hypervisor) a qcow2 volume and a stopped VM on that
/// hypervisor.
fn config(hvs: &[Libvirt; 3], placement: &[(&str, &str)]) -> String {
    let map: Vec<String> = ["a", "b", "c"]
        .iter()
        .zip(hvs)
        .map(|(name, hv)| format!("    {name} = \"{}\"", hv.uri))
        .collect();
    let paths: Vec<String> = ["a", "b", "c"]
        .iter()
        .zip(hvs)
        .map(|(name, hv)| format!("    {name} = \"{}\"", hv.dir().join("pool").display()))
        .collect();
    let vms: Vec<String> = placement
        .iter()
        .map(|(vm, hv)| format!("    {vm} = \"{hv}\""))
        .collect();
    format!(
        r#"
terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{
  hypervisors = {{
{map}
  }}
  default_hypervisor = "a"
}}

locals {{
  pool_paths = {{
{paths}
  }}
  vms = {{
{vms}
  }}
}}

resource "rack_storage_pool" "p" {{
  for_each   = local.pool_paths
  hypervisor = each.key
  name       = "p"
  type       = "dir"
  path       = each.value
}}

resource "rack_volume" "disk" {{
  for_each   = local.vms
  hypervisor = each.value
  pool       = rack_storage_pool.p[each.value].name
  name       = "${{each.key}}.qcow2"
  format     = "qcow2"
  size       = "16MiB"
}}

resource "rack_vm" "vm" {{
  for_each   = local.vms
  hypervisor = each.value
  name       = each.key
  type       = "qemu"
  memory     = "64MiB"
  running    = false

  disk {{
    pool   = rack_storage_pool.p[each.value].name
    volume = rack_volume.disk[each.key].name
  }}
}}
"#,
        map = map.join("\n"),
        paths = paths.join("\n"),
        vms = vms.join("\n"),
    )
}

/// The VMs libvirt holds on `hv`, sorted.
fn vms_on(hv: &Libvirt) -> Vec<String> {
    let mut names: Vec<String> = virsh_ok(hv, &["list", "--all", "--name"])
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(str::to_owned)
        .collect();
    names.sort();
    names
}

#[test]
fn vms_spread_over_three_hypervisors_and_move_between_them() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let hvs = [start(), start(), start()];
    let wd = Workdir::new();
    wd.write_main(&config(&hvs, &[("vm1", "a"), ("vm2", "b"), ("vm3", "c")]));
    wd.apply();
    assert_eq!(vms_on(&hvs[0]), ["vm1"]);
    assert_eq!(vms_on(&hvs[1]), ["vm2"]);
    assert_eq!(vms_on(&hvs[2]), ["vm3"]);
    wd.assert_plan_empty();

    // vm3 moves to b: it and its disk are replaced, and the plan says why.
    wd.write_main(&config(&hvs, &[("vm1", "a"), ("vm2", "b"), ("vm3", "b")]));
    let plan = wd.plan();
    let changes = plan
        .json
        .get("resource_changes")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    for address in ["rack_vm.vm[\"vm3\"]", "rack_volume.disk[\"vm3\"]"] {
        let change = changes
            .iter()
            .find(|c| c["address"] == address)
            .unwrap_or_else(|| panic!("no change for {address}\n{}", plan.run));
        assert_eq!(
            change["change"]["actions"],
            serde_json::json!(["delete", "create"]),
            "{change:#}"
        );
        assert_eq!(
            change["change"]["replace_paths"],
            serde_json::json!([["hypervisor"]]),
            "{change:#}"
        );
    }
    assert!(
        plan.run.stdout.contains("forces replacement"),
        "{}",
        plan.run
    );
    let others: Vec<&Value> = changes
        .iter()
        .filter(|c| c["change"]["actions"] != serde_json::json!(["no-op"]))
        .collect();
    assert_eq!(others.len(), 2, "only vm3 and its disk change: {others:#?}");
    wd.apply();
    assert_eq!(vms_on(&hvs[1]), ["vm2", "vm3"]);
    assert!(vms_on(&hvs[2]).is_empty(), "vm3 left on c");
    wd.assert_plan_empty();

    wd.destroy();
    for hv in &hvs {
        assert!(vms_on(hv).is_empty(), "VMs left on {}", hv.uri);
        let pools = virsh_ok(hv, &["pool-list", "--all", "--name"]);
        assert!(pools.trim().is_empty(), "pools left on {}: {pools}", hv.uri);
    }
}
