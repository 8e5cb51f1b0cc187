//! The libvirt resources when rack's own writes and libvirt's state meet: `-replace`
//! of each kind in one apply (a create after its own delete), and a storage pool's
//! directory removed on destroy only when rack created it; a create that timed out while
//! libvirtd was stopped, carried out by libvirtd later, adopted by the next apply.

use crate::libvirt_common::{
    PROVIDER, dir_pool_hcl, isolated_network_hcl, start, virsh, virsh_dir_pool, virsh_ok, workdir,
};
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::guest::fix_kvm_permissions;

fn all_kinds(pool_path: &str) -> String {
    format!(
        r#"{PROVIDER}{network}{pool}
resource "rack_volume" "r" {{
  name = "rvol.qcow2"
  pool = rack_storage_pool.r.name
  format = "qcow2"
  size = "1MiB"
}}

resource "rack_vm" "r" {{
  name    = "rvm"
  type    = "qemu"
  memory  = "64MiB"
  running = false
  disk {{
    pool   = rack_storage_pool.r.name
    volume = rack_volume.r.name
  }}
  network_interface {{
    network = rack_network.r.name
  }}
}}
"#,
        network = isolated_network_hcl("r", "rnet", "10.10.72.0/24", ""),
        pool = dir_pool_hcl("r", "rpool", pool_path),
    )
}

#[test]
fn libvirt_replace_works_for_every_kind() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let lv = start();
    let wd = workdir(&lv);
    let pool_path = lv.dir().join("rpool").display().to_string();
    wd.write_main(&all_kinds(&pool_path));
    wd.apply();
    wd.assert_plan_empty();
    let uuids = |lv: &rack_lab::Libvirt| {
        (
            virsh_ok(lv, &["net-uuid", "rnet"]),
            virsh_ok(lv, &["pool-uuid", "rpool"]),
            virsh_ok(lv, &["domuuid", "rvm"]),
        )
    };
    let before = uuids(&lv);

    // Each kind alone, then all at once.
    for targets in [
        &["rack_vm.r"][..],
        &["rack_volume.r"],
        &["rack_network.r"],
        &["rack_storage_pool.r"],
        &[
            "rack_network.r",
            "rack_storage_pool.r",
            "rack_volume.r",
            "rack_vm.r",
        ],
    ] {
        let mut args = vec!["apply", "-auto-approve", "-input=false", "-no-color"];
        let flags: Vec<String> = targets.iter().map(|t| format!("-replace={t}")).collect();
        args.extend(flags.iter().map(String::as_str));
        let out = wd.run(&args);
        assert!(out.succeeded(), "apply {targets:?} failed:\n{out}");
        wd.assert_plan_empty();
    }
    let after = uuids(&lv);
    assert_ne!(before.0, after.0, "the network was replaced");
    assert_ne!(before.1, after.1, "the pool was replaced");
    assert_ne!(before.2, after.2, "the VM was replaced");

    // A tainted resource is replaced the same way.
    wd.run(&["taint", "rack_volume.r"]).success();
    wd.run(&["taint", "rack_network.r"]).success();
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.succeeded(), "apply of tainted resources failed:\n{out}");
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert!(!virsh(&lv, &["pool-info", "rpool"]).0);
}

fn pool_only(path: &str) -> String {
    format!("{PROVIDER}{}", dir_pool_hcl("own", "own", path))
}

#[test]
fn storage_pool_destroy_keeps_a_directory_it_did_not_create() {
    let lv = start();
    let wd = workdir(&lv);
    // An empty directory that was there before: it stays after destroy.
    let existing = lv.dir().join("existing-empty");
    std::fs::create_dir_all(&existing).expect("create the directory");
    wd.write_main(&pool_only(&existing.display().to_string()));
    wd.apply();
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert!(
        existing.is_dir(),
        "destroy removed a directory rack did not create"
    );

    // A directory rack created: removed on destroy, also after an import.
    let created = lv.dir().join("created-by-rack");
    wd.write_main(&pool_only(&created.display().to_string()));
    wd.apply();
    assert!(created.is_dir());
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert!(!created.exists(), "destroy left the directory rack created");

    // Imported: rack did not create the directory, destroy keeps it.
    let p = virsh_dir_pool(&lv, "own", "imported");
    virsh_ok(&lv, &["pool-autostart", "own"]);
    wd.write_main(&pool_only(&p));
    wd.import("rack_storage_pool.own", "own");
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
    assert!(
        std::path::Path::new(&p).is_dir(),
        "destroy removed an imported pool's directory"
    );
}

/// libvirtd stopped (SIGSTOP) in the middle of an apply, after the provider connected
/// and before it creates the second network: that create times out, the apply fails.
/// Resumed (SIGCONT) while the provider still runs, the create the provider gave up on
/// is carried out after all. The
/// next apply converges without an import: what exists is what was planned, so it is
/// adopted (and started); a different definition under the same name is a conflict.
#[test]
fn libvirt_create_adopts_what_a_timed_out_create_left() {
    let (lv, mut wd, pid) = start_impatient();
    let config = |second_cidr: &str| {
        let after_pause = "  depends_on = [terraform_data.stop_libvirtd]\n";
        [
            PROVIDER.to_owned(),
            isolated_network_hcl("first", "first", "10.10.73.0/24", ""),
            pause_libvirtd(&pid, "rack_network.first.uuid", 6),
            isolated_network_hcl("second", "second", second_cidr, after_pause),
        ]
        .join("\n")
    };
    let out = apply_timing_out(&wd, &pid, &config("10.10.74.0/24"));
    // libvirtd carries out the defines it received while stopped.
    assert!(
        wait_for(&lv, &["net-info", "second"]),
        "libvirtd did not carry out the timed-out define:\n{out}\n{}",
        lv.log_tail()
    );
    let names = |args: &[&str]| virsh_ok(&lv, args);
    assert!(
        names(&["net-list", "--all", "--name"]).contains("second"),
        "{}",
        names(&["net-list", "--all"])
    );

    // The next apply converges, with no import.
    wd.set_env("RACK_HYPERVISOR_TIMEOUT", "60s");
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.succeeded(), "the second apply must converge:\n{out}");
    wd.assert_plan_empty();
    let info = virsh_ok(&lv, &["net-info", "second"]);
    assert!(info.contains("Active:         yes"), "{info}");

    // Something different under the same name is a conflict, not adopted.
    wd.run(&["state", "rm", "rack_network.second"]).success();
    wd.write_main(&config("10.10.75.0/24"));
    let text = apply_not_adopting(&wd, "a different network");
    assert!(text.contains("already exists"), "{text}");
    let xml = virsh_ok(&lv, &["net-dumpxml", "second"]);
    assert!(
        xml.contains("10.10.74.1"),
        "the existing network is untouched: {xml}"
    );
    wd.write_main(&config("10.10.74.0/24"));
    wd.apply();
    wd.destroy();
    wd.assert_destroyed();
}

/// What the hypervisor cannot give one VM, and MAC addresses no interface can have, are
/// refused at plan time at their attribute, before anything is defined. (Terraform stops
/// at validation errors before it plans, so the MACs, refused by validation, and the
/// limits, checked against the hypervisor while planning, are two plans.)
#[test]
fn libvirt_vm_limits_and_group_macs_are_refused_at_plan_time() {
    let lv = start();
    let wd = workdir(&lv);
    wd.init();
    let macs = [
        (
            "multicast_mac",
            "mac",
            "memory = \"64MiB\"\n  network_interface {\n    network = \"default\"\n    mac = \"01:00:5e:00:00:01\"\n  }",
        ),
        (
            "broadcast_mac",
            "mac",
            "memory = \"64MiB\"\n  network_interface {\n    network = \"default\"\n    mac = \"ff:ff:ff:ff:ff:ff\"\n  }",
        ),
    ];
    let limits = [
        ("huge_memory", "memory", "memory = \"99TiB\""),
        (
            "huge_max_memory",
            "max_memory",
            "memory = \"64MiB\"\n  max_memory = \"99TiB\"",
        ),
        (
            "many_vcpus",
            "vcpus",
            "memory = \"64MiB\"\n  vcpus = 100000",
        ),
        (
            "many_max_vcpus",
            "max_vcpus",
            "memory = \"64MiB\"\n  max_vcpus = 100000",
        ),
    ];
    for cases in [&macs[..], &limits[..]] {
        let mut main = PROVIDER.to_owned();
        for (name, _, body) in cases {
            main.push_str(&format!(
                "\nresource \"rack_vm\" \"{name}\" {{\n  name = \"{name}\"\n  type = \"qemu\"\n  \
                 running = false\n  {body}\n}}\n"
            ));
        }
        wd.write_main(&main);
        let out = wd.run(&["plan", "-input=false", "-no-color", "-json"]);
        assert!(!out.succeeded(), "the plan must fail:\n{out}");
        let errors = crate::libvirt_injection::errors(&out.stdout);
        for (name, attr, _) in cases {
            let address = format!("rack_vm.{name}");
            assert!(
                errors.iter().any(|(a, _, code)| *a == address
                    && code.trim_start().starts_with(&format!("{attr} "))),
                "{address} not refused at {attr}: {:?}\n{}",
                errors
                    .iter()
                    .filter(|(a, ..)| *a == address)
                    .collect::<Vec<_>>(),
                out.stdout
            );
        }
    }
    let names = virsh_ok(&lv, &["list", "--all", "--name"]);
    assert!(names.trim().is_empty(), "{names}");
}

/// Waits until `virsh args` succeeds (libvirtd carries out what it received while it was
/// stopped); whether it did.
fn wait_for(lv: &rack_lab::Libvirt, args: &[&str]) -> bool {
    for _ in 0..300 {
        if virsh(lv, args).0 {
            return true;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    false
}

/// The VM and the volume, like the networks above: libvirtd stopped (SIGSTOP) after the
/// provider connected, so their creates time out; resumed (SIGCONT) while the provider
/// still runs, libvirtd defines the VM and creates the volume after all. The next apply
/// adopts both with no import, and then plans nothing; a different VM or volume under
/// the same name is a conflict and is left as it is.
#[test]
fn libvirt_vm_and_volume_create_adopt_what_a_timed_out_create_left() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let (lv, mut wd, pid) = start_impatient();
    let pool_path = lv.dir().join("adopt-pool").display().to_string();
    let config = |memory: &str, size: &str| {
        format!(
            r#"{PROVIDER}{pool}
{pause}

resource "rack_volume" "v" {{
  name   = "adopted.qcow2"
  pool   = rack_storage_pool.p.name
  format = "qcow2"
  size   = "{size}"
  depends_on = [terraform_data.stop_libvirtd]
}}

resource "rack_vm" "m" {{
  name    = "adopted"
  type    = "qemu"
  memory  = "{memory}"
  running = false
  depends_on = [terraform_data.stop_libvirtd]
}}
"#,
            pool = dir_pool_hcl("p", "adopt", &pool_path),
            pause = pause_libvirtd(&pid, "rack_storage_pool.p.uuid", 8),
        )
    };
    let out = apply_timing_out(&wd, &pid, &config("64MiB", "1MiB"));
    assert!(
        wait_for(&lv, &["dominfo", "adopted"]),
        "libvirtd did not carry out the timed-out define:\n{out}\n{}",
        lv.log_tail()
    );
    assert!(
        wait_for(&lv, &["vol-info", "--pool", "adopt", "adopted.qcow2"]),
        "libvirtd did not carry out the timed-out volume create:\n{out}\n{}",
        lv.log_tail()
    );
    let vm_uuid = virsh_ok(&lv, &["domuuid", "adopted"]);

    // The next apply converges, with no import, and adopts what is there.
    wd.set_env("RACK_HYPERVISOR_TIMEOUT", "60s");
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(out.succeeded(), "the second apply must converge:\n{out}");
    wd.assert_plan_empty();
    assert_eq!(
        virsh_ok(&lv, &["domuuid", "adopted"]),
        vm_uuid,
        "the VM was adopted, not made again"
    );

    // Something different under the same name is a conflict, not adopted.
    wd.run(&["state", "rm", "rack_vm.m", "rack_volume.v"])
        .success();
    wd.write_main(&config("96MiB", "2MiB"));
    let text = apply_not_adopting(&wd, "a different VM or volume");
    assert!(text.contains("VM \"adopted\" already exists"), "{text}");
    assert!(
        text.contains("adopt/adopted.qcow2\" already exists"),
        "{text}"
    );
    let xml = virsh_ok(&lv, &["dumpxml", "adopted"]);
    assert!(xml.contains("65536"), "the existing VM is untouched: {xml}");
    let info = virsh_ok(
        &lv,
        &["vol-info", "--pool", "adopt", "adopted.qcow2", "--bytes"],
    );
    assert!(
        info.contains("1048576 bytes"),
        "the existing volume is untouched: {info}"
    );

    // As planned again: adopted again, and destroyed with the rest.
    wd.write_main(&config("64MiB", "1MiB"));
    wd.apply();
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
}

/// Two `terraform_data` resources: `stop_libvirtd` freezes libvirtd (`pid`, SIGSTOP) once
/// `after` exists, and `resume_libvirtd` lets it run again (SIGCONT) `seconds` later, while
/// the provider still runs (Terraform waits for it before it ends the apply), so that the
/// creates that depend on `stop_libvirtd` time out and libvirtd carries them out later.
fn pause_libvirtd(pid: &str, after: &str, seconds: u32) -> String {
    format!(
        r#"resource "terraform_data" "stop_libvirtd" {{
  triggers_replace = [{after}]
  provisioner "local-exec" {{
    command = "kill -STOP {pid}"
  }}
}}

resource "terraform_data" "resume_libvirtd" {{
  triggers_replace = [terraform_data.stop_libvirtd.id]
  provisioner "local-exec" {{
    command = "sleep {seconds}; kill -CONT {pid}; sleep 2"
  }}
}}"#
    )
}

/// The fixture, a workdir whose provider gives up on a libvirt call after 2 s, and
/// libvirtd's PID.
fn start_impatient() -> (rack_lab::Libvirt, Workdir, String) {
    let lv = start();
    let mut wd = workdir(&lv);
    wd.set_env("RACK_HYPERVISOR_TIMEOUT", "2s");
    let pid = libvirtd_pid(&lv);
    (lv, wd, pid)
}

/// Applies `config`, whose `terraform_data.stop_libvirtd` stops libvirtd (`pid`) on the
/// way ([`pause_libvirtd`]); the apply must time out. Returns how it ended.
fn apply_timing_out(wd: &Workdir, pid: &str, config: &str) -> CmdResult {
    wd.write_main(config);
    wd.init();
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    // Resumed already; again in case the apply stopped early.
    let _ = std::process::Command::new("kill")
        .args(["-CONT", pid])
        .status();
    assert!(!out.succeeded(), "the apply must time out:\n{out}");
    out
}

/// Applies with something different than planned under a planned name: the apply must
/// fail, `what` must not be adopted. Returns what it printed, flattened.
fn apply_not_adopting(wd: &Workdir, what: &str) -> String {
    let out = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(!out.succeeded(), "{what} must not be adopted:\n{out}");
    crate::storage_pool::flat(&out.combined())
}

/// libvirtd's PID, from its pid file in the fixture's dir.
fn libvirtd_pid(lv: &rack_lab::Libvirt) -> String {
    let pid_file = lv.dir().join("run").join("libvirtd.pid");
    std::fs::read_to_string(&pid_file)
        .unwrap_or_else(|e| panic!("no libvirtd pid file {}: {e}", pid_file.display()))
        .trim()
        .to_owned()
}
