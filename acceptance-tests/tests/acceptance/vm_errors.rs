//! `rack_vm` when things go wrong, and adoption, against a real libvirtd (no guest boots:
//! the VMs sit in the BIOS): bad input fails at plan time at its attribute -> a disk on a
//! missing volume fails before anything is defined -> a VM whose network is missing is
//! defined but cannot start, the state records it with `running = false` next to the
//! error -> once the network exists the next apply converges -> `terraform query` lists it, import by UUID gives the same state -> destroy
//! leaves the volumes alone.

use crate::libvirt_common::{PROVIDER, start, virsh, virsh_dir_pool, virsh_ok, workdir};
use rack_lab::guest::fix_kvm_permissions;

const POOL: &str = "errpool";

fn vm(volume: &str, network: Option<&str>) -> String {
    let iface = network
        .map(|n| format!("network_interface {{\n    network = \"{n}\"\n  }}"))
        .unwrap_or_default();
    format!(
        r#"{PROVIDER}
resource "rack_vm" "vm1" {{
  name   = "vm1"
  type   = "qemu"
  memory = "64MiB"

  disk {{
    pool   = "{POOL}"
    volume = "{volume}"
  }}

  {iface}
}}
"#
    )
}

#[test]
fn vm_bad_input_partial_failure_and_adoption() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let lv = start();
    let wd = workdir(&lv);
    virsh_dir_pool(&lv, POOL, "errpool");

    // Bad input fails at plan time, at the attribute.
    wd.write_resources(
        r#"
resource "rack_vm" "bad" {
  name   = "bad"
  memory = "12XB"
}
"#,
    );
    wd.init();
    let text = wd.plan_fails().combined();
    assert!(text.contains("Memory size \"12XB\" is not valid"), "{text}");
    assert!(text.contains("memory"), "{text}");

    wd.write_resources(
        r#"
resource "rack_vm" "twins" {
  name   = "twins"
  memory = "64MiB"
  network_interface {
    network = "default"
    mac     = "52:54:00:00:00:01"
  }
  network_interface {
    network = "default"
    mac     = "52:54:00:00:00:01"
  }
}
"#,
    );
    let text = wd.plan_fails().combined();
    assert!(
        text.contains("both have MAC address 52:54:00:00:00:01"),
        "{text}"
    );
    // Terraform shows the attribute as the second interface's `mac` line.
    assert!(text.contains("line 19"), "{text}");
    let names = virsh_ok(&lv, &["list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "a failed plan defined {names}");

    // A missing volume fails before anything is defined, naming the disk.
    wd.write_main(&vm("root1", None));
    let text = wd.apply_fails().combined();
    assert!(
        text.contains("Volume \"root1\" does not exist in pool \"errpool\""),
        "{text}"
    );
    let names = virsh_ok(&lv, &["list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "a failed create defined {names}");

    // A network that does not exist: libvirt defines the VM and finds out at start. The
    // state records it with running = false next to the error.
    virsh_ok(
        &lv,
        &["vol-create-as", POOL, "root1", "8M", "--format", "raw"],
    );
    wd.write_main(&vm("root1", Some("late")));
    let text = wd.apply_fails().combined();
    assert!(text.contains("Network \"late\" does not exist"), "{text}");
    assert!(text.contains("did not start"), "{text}");
    let state = wd.resource_values("rack_vm.vm1");
    assert_eq!(state["running"], false, "{state}");
    assert_eq!(
        virsh_ok(&lv, &["domstate", "vm1"]).trim(),
        "shut off",
        "the definition stays"
    );

    // Once the network exists, the next apply converges.
    let net = lv.dir().join("late.xml");
    std::fs::write(
        &net,
        "<network><name>late</name><bridge name='rklate0'/><ip address='10.95.0.1' prefix='24'/></network>",
    )
    .unwrap();
    virsh_ok(&lv, &["net-create", &net.display().to_string()]);
    wd.apply();
    assert_eq!(virsh_ok(&lv, &["domstate", "vm1"]).trim(), "running");
    assert_eq!(wd.resource_values("rack_vm.vm1")["running"], true);
    wd.assert_plan_empty();

    // terraform query finds it; import by UUID gives the same state.
    wd.write_file(
        "vms.tfquery.hcl",
        "list \"rack_vm\" \"all\" {\n  provider = rack\n  config {}\n}\n",
    );
    let found = wd.query_display_names();
    assert_eq!(found, ["vm1 (running)"]);
    let _ = std::fs::remove_file(wd.path().join("vms.tfquery.hcl"));
    let uuid = virsh_ok(&lv, &["domuuid", "vm1"]).trim().to_owned();
    wd.assert_import_same_state("rack_vm.vm1", &uuid, &[]);
    wd.assert_plan_empty();

    // Destroy: the VM goes, the volume stays.
    wd.destroy();
    wd.assert_destroyed();
    assert!(!virsh(&lv, &["dominfo", "vm1"]).0, "vm1 left behind");
    let vols = virsh_ok(&lv, &["vol-list", POOL]);
    assert!(vols.contains("root1"), "{vols}");
}
