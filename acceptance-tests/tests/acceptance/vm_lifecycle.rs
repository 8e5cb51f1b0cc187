//! `rack_vm` against a real libvirtd, one TCG guest (the test guest of
//! `scripts/build-test-guest`, booted directly) through its whole life: apply -> the
//! guest boots, reads its cloud-init seed and gets the address the network reserves for
//! its derived MAC; it answers ping from the namespace -> plan is empty, also with the
//! cloud-init text reformatted -> import gives the same state -> a disk is hot-plugged
//! and memory changed live, no restart -> memory drift is seen and undone -> memory
//! beyond its maximum and new cloud-init texts restart the guest gracefully, and the plan
//! warns -> running = false powers it off by ACPI, running = true starts it -> a VM
//! undefined out of band is created again -> destroy leaves only the data volume.

use std::path::PathBuf;
use std::time::{Duration, Instant};

use rack_acceptance_tests::Workdir;
use rack_core::libvirt::interface_mac;

use crate::libvirt_common::{PROVIDER, start, virsh, virsh_dir_pool, virsh_ok, workdir};
use rack_lab::guest::{GUEST_CMDLINE, fix_kvm_permissions, guest_lines};
use rack_lab::{Guest, Libvirt};

const POOL: &str = "vmpool";
/// The address the network's DHCP host entry gives the VM's first interface.
const RESERVED: &str = "10.94.0.77";
/// Boot to DHCP lease takes ~10 s under TCG here; room for a loaded machine.
const BOOT: Duration = Duration::from_secs(120);

struct Cfg {
    memory: &'static str,
    max_memory: Option<&'static str>,
    running: bool,
    data_disk: bool,
    user_data: &'static str,
}

const FIRST: Cfg = Cfg {
    memory: "192MiB",
    max_memory: Some("256MiB"),
    running: true,
    data_disk: false,
    user_data: "#cloud-config\\n# rack-marker: first-boot\\n",
};

fn config(guest: &Guest, log: &str, c: &Cfg) -> String {
    let max_memory = c
        .max_memory
        .map(|m| format!("max_memory = \"{m}\""))
        .unwrap_or_default();
    let disk = if c.data_disk {
        format!(
            "disk {{\n    pool   = \"{POOL}\"\n    volume = \"data1\"\n    serial = \"data-1\"\n  }}"
        )
    } else {
        String::new()
    };
    format!(
        r#"{PROVIDER}
resource "rack_network" "vmnet" {{
  name   = "vmnet"
  mode   = "nat"
  bridge = "rkvm1"
  ipv4 = {{
    cidr        = "10.94.0.0/24"
    dhcp_ranges = [{{ start = "10.94.0.100", end = "10.94.0.150" }}]
  }}
}}

resource "rack_vm" "web1" {{
  name       = "web1"
  type       = "qemu"
  memory     = "{memory}"
  {max_memory}
  max_vcpus  = 2
  kernel     = "{kernel}"
  initrd     = "{initrd}"
  cmdline    = "{GUEST_CMDLINE}"
  console_log = "{log}"
  running    = {running}
  shutdown_timeout = "30s"

  {disk}

  network_interface {{
    network = rack_network.vmnet.name
    model   = "e1000"
  }}

  graphics {{
    type     = "vnc"
    password = "s3cretvn"
  }}

  cloud_init {{
    pool      = "{POOL}"
    user_data = "{user_data}"
    meta_data = "instance-id: web1-1\nlocal-hostname: web1\n"
  }}

  wait_for_ip {{
    source  = "lease"
    timeout = "{boot}s"
  }}
}}

output "ips" {{
  value = rack_vm.web1.network_interface[0].ip_addresses
}}
"#,
        memory = c.memory,
        kernel = guest.kernel.display(),
        initrd = guest.initrd.display(),
        running = c.running,
        user_data = c.user_data,
        boot = BOOT.as_secs(),
    )
}

/// Waits until the console log has `count` lines equal to `line`; returns the guest's
/// lines.
fn wait_console(lv: &Libvirt, log: &PathBuf, line: &str, count: usize) -> Vec<String> {
    let started = Instant::now();
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines = guest_lines(&text);
        if lines.iter().filter(|l| *l == line).count() >= count {
            return lines;
        }
        assert!(
            started.elapsed() < BOOT,
            "the guest did not print {line:?} {count} times within {BOOT:?}; console:\n{text}\nlibvirtd:\n{}",
            lv.log_tail()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn count_lines(log: &PathBuf, line: &str) -> usize {
    let text = std::fs::read_to_string(log).unwrap_or_default();
    guest_lines(&text).iter().filter(|l| *l == line).count()
}

/// Pings `ip` from the fixture's namespace (the host side of the bridge), retrying.
fn ping(lv: &Libvirt, ip: &str) {
    let mut last = String::new();
    for _ in 0..10 {
        let out = std::process::Command::new("ip")
            .args(["netns", "exec", lv.namespace(), "busybox", "ping"])
            .args(["-c", "1", "-W", "2", ip])
            .output()
            .expect("run ip netns exec");
        if out.status.success() {
            return;
        }
        last = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    panic!("the guest does not answer ping at {ip}: {last}");
}

fn volumes(lv: &Libvirt) -> Vec<String> {
    virsh_ok(lv, &["pool-refresh", POOL]);
    let mut v: Vec<String> = virsh_ok(lv, &["vol-list", POOL])
        .lines()
        .skip(2)
        .filter_map(|l| l.split_whitespace().next().map(str::to_owned))
        .collect();
    v.sort();
    v
}

/// The memory the next start gets, from the persistent definition, in KiB.
fn defined_memory(lv: &Libvirt) -> String {
    let xml = virsh_ok(lv, &["dumpxml", "--inactive", "web1"]);
    xml.split_once("<currentMemory unit='KiB'>")
        .and_then(|(_, rest)| rest.split_once('<'))
        .map(|(n, _)| n.to_owned())
        .unwrap_or_default()
}

fn dominfo(lv: &Libvirt, field: &str) -> String {
    virsh_ok(lv, &["dominfo", "web1"])
        .lines()
        .find_map(|l| l.strip_prefix(field).map(|v| v.trim().to_owned()))
        .unwrap_or_default()
}

fn wait_state(lv: &Libvirt, want: &str) {
    let started = Instant::now();
    while virsh_ok(lv, &["domstate", "web1"]).trim() != want {
        assert!(started.elapsed() < BOOT, "web1 never became {want:?}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn assert_restart_warning(wd: &Workdir, attr: &str) {
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_vm.web1"), ["update"]);
    let text = plan.run.combined();
    assert!(
        text.contains("will be restarted"),
        "no restart warning:\n{text}"
    );
    assert!(
        text.contains(attr),
        "the warning does not name {attr}:\n{text}"
    );
}

fn assert_no_restart_warning(wd: &Workdir) {
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_vm.web1"), ["update"]);
    let text = plan.run.combined();
    assert!(!text.contains("will be restarted"), "{text}");
}

#[test]
fn vm_lifecycle_on_tcg() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let guest = Guest::get().unwrap_or_else(|e| panic!("cannot get the test guest: {e}"));
    let lv = start();
    let wd = workdir(&lv);
    let log_path = lv.dir().join("web1-console.log");
    let log = log_path.display().to_string();
    virsh_dir_pool(&lv, POOL, "pool");
    virsh_ok(
        &lv,
        &["vol-create-as", POOL, "data1", "16M", "--format", "raw"],
    );

    // The network first, then a DHCP host entry for the MAC the VM will derive: known
    // before the VM exists.
    let mac = interface_mac("web1", 0).to_string();
    wd.write_main(&format!(
        "{PROVIDER}\nresource \"rack_network\" \"vmnet\" {{\n  name = \"vmnet\"\n  mode = \"nat\"\n  bridge = \"rkvm1\"\n  ipv4 = {{\n    cidr = \"10.94.0.0/24\"\n    dhcp_ranges = [{{ start = \"10.94.0.100\", end = \"10.94.0.150\" }}]\n  }}\n}}\n"
    ));
    wd.apply();
    let host = format!("<host mac='{mac}' name='web1' ip='{RESERVED}'/>");
    virsh_ok(
        &lv,
        &[
            "net-update",
            "vmnet",
            "add",
            "ip-dhcp-host",
            &host,
            "--live",
            "--config",
        ],
    );

    // Create: boots, reads the seed, gets exactly the reserved address.
    wd.write_main(&config(&guest, &log, &FIRST));
    let plan = wd.plan();
    let planned_mac = plan
        .json
        .pointer("/planned_values/root_module/resources")
        .and_then(|r| r.as_array())
        .and_then(|r| r.iter().find(|x| x["address"] == "rack_vm.web1"))
        .and_then(|r| r.pointer("/values/network_interface/0/mac"))
        .cloned();
    assert_eq!(
        planned_mac,
        Some(mac.clone().into()),
        "MAC known at plan time"
    );
    let t = Instant::now();
    wd.apply();
    eprintln!("create until the address is there: {:?}", t.elapsed());
    assert_eq!(wd.output("ips"), serde_json::json!([RESERVED]));
    let lines = wait_console(&lv, &log_path, "ready", 1);
    assert!(lines.contains(&"hostname web1".to_owned()), "{lines:?}");
    assert!(lines.contains(&"marker first-boot".to_owned()), "{lines:?}");
    ping(&lv, RESERVED);
    let xml = virsh_ok(&lv, &["dumpxml", "--security-info", "web1"]);
    assert!(xml.contains("passwd='s3cretvn'"), "{xml}");
    let state = wd.resource_values("rack_vm.web1");
    assert!(state["graphics"]["password"].is_null(), "{state}");
    assert_eq!(state["network_interface"][0]["mac"], mac.as_str());
    assert_eq!(volumes(&lv), ["data1", "web1-cidata.iso"]);
    wd.assert_plan_empty();

    // The same cloud-init text with other line ends and trailing blanks: no change.
    let reformatted = Cfg {
        user_data: "#cloud-config  \\r\\n# rack-marker: first-boot\\n\\n\\n",
        ..FIRST
    };
    wd.write_main(&config(&guest, &log, &reformatted));
    wd.assert_plan_empty();

    // Import by name gives the same state (the cloud-init texts and wait_for_ip are
    // configuration only); applying writes the texts it could not read, no restart.
    wd.assert_import_same_state(
        "rack_vm.web1",
        "default/web1",
        &["cloud_init", "wait_for_ip", "shutdown_timeout"],
    );
    let domid = virsh_ok(&lv, &["domid", "web1"]);
    let same_domain = |why: &str| {
        let now = virsh_ok(&lv, &["domid", "web1"]);
        assert_eq!(now, domid, "restarted {why}");
    };
    wd.apply();
    same_domain("by import");
    wd.assert_plan_empty();

    // A disk added in place: hot-plugged, the guest sees it, no restart.
    let with_disk = Cfg {
        data_disk: true,
        ..FIRST
    };
    wd.write_main(&config(&guest, &log, &with_disk));
    assert_no_restart_warning(&wd);
    wd.apply();
    wait_console(&lv, &log_path, "new disk vda", 1);
    same_domain("for a disk");
    wd.assert_plan_empty();

    // Memory within the maximum: live.
    let more = Cfg {
        memory: "224MiB",
        ..with_disk
    };
    wd.write_main(&config(&guest, &log, &more));
    assert_no_restart_warning(&wd);
    wd.apply();
    assert_eq!(defined_memory(&lv), "229376");
    same_domain("for memory");

    // Drift: memory changed out of band shows in the plan, and apply puts it back.
    virsh_ok(&lv, &["setmem", "web1", "200M", "--live", "--config"]);
    assert_no_restart_warning(&wd);
    wd.apply();
    assert_eq!(defined_memory(&lv), "229376");
    wd.assert_plan_empty();

    // Memory beyond the maximum: graceful shutdown, redefine, start; the plan warns.
    let most = Cfg {
        memory: "320MiB",
        max_memory: None,
        ..more
    };
    wd.write_main(&config(&guest, &log, &most));
    assert_restart_warning(&wd, "memory");
    let t = Instant::now();
    wd.apply();
    eprintln!("memory change by restart: {:?}", t.elapsed());
    wait_console(&lv, &log_path, "power button pressed, powering off", 1);
    assert_eq!(dominfo(&lv, "Max memory:"), "327680 KiB");
    wait_console(&lv, &log_path, "ready", 2);
    wd.assert_plan_empty();

    // New cloud-init texts reach the guest: restart, the plan says so.
    let second = Cfg {
        user_data: "#cloud-config\\n# rack-marker: second-boot\\n",
        ..most
    };
    wd.write_main(&config(&guest, &log, &second));
    assert_restart_warning(&wd, "cloud_init");
    wd.apply();
    wait_console(&lv, &log_path, "marker second-boot", 1);

    // running = false: the ACPI power button, within the timeout.
    let presses = count_lines(&log_path, "power button pressed, powering off");
    let off = Cfg {
        running: false,
        ..second
    };
    wd.write_main(&config(&guest, &log, &off));
    assert_no_restart_warning(&wd);
    let t = Instant::now();
    wd.apply();
    eprintln!("running = false: {:?}", t.elapsed());
    assert_eq!(virsh_ok(&lv, &["domstate", "web1"]).trim(), "shut off");
    assert_eq!(
        count_lines(&log_path, "power button pressed, powering off"),
        presses + 1,
        "not a graceful shutdown"
    );
    assert_eq!(wd.resource_values("rack_vm.web1")["running"], false);
    wd.assert_plan_empty();

    // running = true again. The lease of the earlier boot still counts for wait_for_ip
    // (dnsmasq keeps it), so the guest's own "ready" says when it is up.
    let boots = count_lines(&log_path, "ready");
    wd.write_main(&config(&guest, &log, &second));
    wd.apply();
    assert_eq!(wd.output("ips"), serde_json::json!([RESERVED]));
    wait_console(&lv, &log_path, "ready", boots + 1);
    ping(&lv, RESERVED);

    // Drift: shut down out of band shows as running going back to true; undefined out of
    // band, it is created again.
    virsh_ok(&lv, &["destroy", "web1"]);
    wait_state(&lv, "shut off");
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_vm.web1"), ["update"]);
    virsh_ok(&lv, &["undefine", "web1"]);
    wd.apply_planned(&[("rack_vm.web1", &["create"])]);
    assert_eq!(virsh_ok(&lv, &["domstate", "web1"]).trim(), "running");

    // Destroy: the VM and its seed go, the data volume stays.
    wd.destroy();
    wd.assert_destroyed();
    let (exists, _, _) = virsh(&lv, &["dominfo", "web1"]);
    assert!(!exists, "web1 left behind");
    assert_eq!(volumes(&lv), ["data1"]);
}
