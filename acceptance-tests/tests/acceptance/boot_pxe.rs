//! PXE, end to end. A TCG VM with `boot = ["network"]` and no disk boots QEMU's iPXE
//! ROM, which asks Kea for an address: the VM's `rack_dhcp_lease` reserves one for its
//! MAC address with the `http://` URL of an iPXE script (a `rack_boot_file`) as its boot
//! file. iPXE fetches the script, then the kernel and the initrd it names (the test
//! guest's, uploaded as `rack_boot_file`s too) from the provisioning server. The guest's
//! init fetches the preseed whose URL the script put on the kernel command line
//! (`rack.preseed=`) and prints its marker on the serial console, which the test reads
//! from the VM's `console_log`. The four files, the lease and the VM come from one
//! `terraform apply`.
//!
//! The segment: a `rack_network` without addresses or DHCP of libvirt's (applied first),
//! whose bridge gets two more ports, as the standing lab's network hook arranges for the
//! farm: Kea's veth (kea-dhcp4 serves the segment, its subnet `10.77.0.0/24`) and a veth
//! from this namespace, whose end here has [`PROV_ADDR`] in that subnet, where the
//! provisioning server listens (the guest reaches it directly; Terraform uploads to it
//! from here).

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use rack_acceptance_tests::Workdir;
use rack_core::libvirt::interface_mac;
use rack_lab::guest::{GUEST_CMDLINE, fix_kvm_permissions, guest_lines};
use rack_lab::provisioning::USERNAME;
use rack_lab::{Guest, Kea, Libvirt, Provisioning};

use crate::libvirt_common::{PROVIDER, virsh_ok};

/// The segment's bridge, in the libvirt fixture's namespace.
const BRIDGE: &str = "rkpxe0";
/// Where the provisioning server listens, on the segment (Kea's subnet; Kea's own
/// address is `10.77.0.1`, its dynamic pool `.100` to `.150`).
const PROV_ADDR: Ipv4Addr = Ipv4Addr::new(10, 77, 0, 3);
/// The address the VM's lease reserves.
const VM_IP: &str = "10.77.0.60";
/// The text after `rack-marker:` in the preseed, which the guest prints.
const MARKER: &str = "pxe-installed-hv1";
/// The NIC model, and the iPXE ROM QEMU loads for it (ipxe-qemu; QEMU's firmware path
/// on Debian includes `/usr/lib/ipxe/qemu`).
const NIC_MODEL: &str = "e1000";
const NIC_ROM: &str = "efi-e1000.rom";
const ROM_DIRS: &[&str] = &["/usr/lib/ipxe/qemu", "/usr/share/qemu"];
/// From the VM's start to its Kea lease (SeaBIOS, then iPXE's DHCP, under TCG), and
/// from the start to the marker on the console (iPXE's downloads of about 10 MB, the
/// kernel's boot, the guest's DHCP and fetch); room for a loaded machine.
const LEASE: Duration = Duration::from_secs(300);
const MARKER_LIMIT: Duration = Duration::from_secs(300);

/// The pod segment: a bridge of libvirt's with no address and no DHCP of its own.
const SEGMENT: &str = r#"
resource "rack_network" "pod" {
  name   = "pod"
  mode   = "isolated"
  bridge = "@BRIDGE@"
}
"#;

/// The boot files, the VM's lease and the VM. The lease names the MAC address the VM
/// derives (`mac_address("pxe1/0")`, known before the VM exists), and the VM starts
/// only once its lease and boot files are in place.
const PXE: &str = r#"
resource "rack_boot_file" "kernel" {
  path        = "guest/vmlinuz"
  source_file = "@KERNEL@"
}

resource "rack_boot_file" "initrd" {
  path        = "guest/initrd.gz"
  source_file = "@INITRD@"
}

resource "rack_boot_file" "preseed" {
  path    = "preseed/pxe1.cfg"
  content = <<-EOT
    # The guest prints the text after the marker.
    # rack-marker: @MARKER@
    d-i netcfg/get_hostname string pxe1
  EOT
}

resource "rack_boot_file" "ipxe" {
  path    = "ipxe/pxe1.ipxe"
  content = <<-EOT
    #!ipxe
    kernel ${rack_boot_file.kernel.url} @CMDLINE@ rack.preseed=${rack_boot_file.preseed.url}
    initrd ${rack_boot_file.initrd.url}
    boot
  EOT
}

resource "rack_dhcp_lease" "pxe1" {
  subnet    = "10.77.0.0/24"
  mac       = provider::rack::mac_address("pxe1/0")
  ip        = "@VM_IP@"
  hostname  = "pxe1"
  boot_file = rack_boot_file.ipxe.url
}

resource "rack_vm" "pxe1" {
  name        = "pxe1"
  type        = "qemu"
  memory      = "256MiB"
  boot        = ["network"]
  console_log = "@LOG@"

  network_interface {
    network = rack_network.pod.name
    model   = "@NIC_MODEL@"
  }

  wait_for_ip {
    source  = "dhcp"
    timeout = "@LEASE@s"
  }

  depends_on = [rack_dhcp_lease.pxe1, rack_boot_file.ipxe]
}

output "ips" {
  value = rack_vm.pxe1.network_interface[0].ip_addresses
}
"#;

/// The iPXE ROM QEMU loads for [`NIC_MODEL`], or a failure naming the package.
fn nic_rom() -> PathBuf {
    ROM_DIRS
        .iter()
        .map(|d| Path::new(d).join(NIC_ROM))
        .find(|p| p.is_file())
        .unwrap_or_else(|| {
            panic!(
                "QEMU's iPXE ROM {NIC_ROM} for the {NIC_MODEL} NIC is in none of {ROM_DIRS:?}; \
                 install the Debian package `ipxe-qemu` (apt-get install -y ipxe-qemu)"
            )
        })
}

/// A workdir whose provider reaches the hypervisor and Kea (the provisioning server is
/// added once it runs).
fn workdir(lv: &Libvirt, kea: &Kea) -> Workdir {
    let mut wd = crate::dhcp_common::workdir(kea);
    wd.set_env("RACK_HYPERVISORS", lv.uri.clone());
    wd.set_env("RACK_HYPERVISOR_TIMEOUT", "60s");
    wd
}

/// Waits until the guest printed `line` on its console; returns the guest's lines.
fn wait_console(
    log: &Path,
    line: &str,
    since: Instant,
    diagnostics: impl Fn() -> String,
) -> Vec<String> {
    loop {
        let text = std::fs::read_to_string(log).unwrap_or_default();
        let lines = guest_lines(&text);
        if lines.iter().any(|l| l == line) {
            return lines;
        }
        assert!(
            !lines.iter().any(|l| l.ends_with(" not fetched")),
            "the guest could not fetch its preseed; console ({}):\n{text}\n{}",
            log.display(),
            diagnostics()
        );
        assert!(
            since.elapsed() < MARKER_LIMIT,
            "the guest did not print {line:?} within {MARKER_LIMIT:?} of the VM's start; \
             console ({}):\n{text}\n{}",
            log.display(),
            diagnostics()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

#[test]
fn a_vm_boots_ipxe_over_http_and_reads_its_preseed() {
    let rom = nic_rom();
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let guest = Guest::get().unwrap_or_else(|e| panic!("cannot get the test guest: {e}"));
    let kea = crate::dhcp_common::start();
    let lv = crate::libvirt_common::start();
    let mut wd = workdir(&lv, &kea);

    // The segment first: its bridge must exist before Kea and the server join it.
    let segment = SEGMENT.replace("@BRIDGE@", BRIDGE);
    wd.write_main(&format!("{PROVIDER}{segment}"));
    wd.apply();
    lv.join_bridge(kea.client_netns(), &kea.client_iface, BRIDGE)
        .unwrap_or_else(|e| panic!("cannot join Kea's veth to the segment: {e}"));
    let link = lv
        .host_port(BRIDGE, PROV_ADDR, 24)
        .unwrap_or_else(|e| panic!("cannot link this namespace to the segment: {e}"));
    let prov = Provisioning::start_on(link.addr)
        .unwrap_or_else(|e| panic!("cannot start the provisioning server (nginx): {e}"));
    wd.set_env("RACK_BOOT_URL", &prov.url);
    wd.set_env("RACK_BOOT_USERNAME", USERNAME);
    wd.set_env("RACK_BOOT_PASSWORD", &prov.password);
    wd.set_env("RACK_BOOT_TIMEOUT", "60s");

    // One apply: the four files, the lease, the VM, which waits for its Kea lease.
    let log_path = lv.dir().join("pxe1-console.log");
    let pxe = PXE
        .replace("@KERNEL@", &guest.kernel.display().to_string())
        .replace("@INITRD@", &guest.initrd.display().to_string())
        .replace("@MARKER@", MARKER)
        .replace("@CMDLINE@", GUEST_CMDLINE)
        .replace("@VM_IP@", VM_IP)
        .replace("@LOG@", &log_path.display().to_string())
        .replace("@NIC_MODEL@", NIC_MODEL)
        .replace("@LEASE@", &LEASE.as_secs().to_string());
    wd.write_main(&format!("{PROVIDER}{segment}{pxe}"));
    let started = Instant::now();
    let diagnostics = || {
        format!(
            "iPXE ROM: {}\nprovisioning server's access log:\n{}\n{}\nlibvirtd:\n{}",
            rom.display(),
            prov.access_log(),
            kea.log_tail(),
            lv.log_tail()
        )
    };
    let applied = wd.run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
    assert!(
        applied.succeeded(),
        "the apply failed (the VM's Kea lease is what it waits for):\n{}\nconsole:\n{}\n{}",
        applied.combined(),
        std::fs::read_to_string(&log_path).unwrap_or_default(),
        diagnostics()
    );
    let leased = started.elapsed();
    assert_eq!(wd.output("ips"), serde_json::json!([VM_IP]));
    let mac = interface_mac("pxe1", 0).to_string();
    assert_eq!(
        wd.resource_values("rack_vm.pxe1")["network_interface"][0]["mac"],
        mac.as_str()
    );
    let xml = virsh_ok(&lv, &["dumpxml", "pxe1"]);
    assert!(
        xml.contains("<boot dev='network'/>") && !xml.contains("<disk"),
        "a diskless VM booting from the network:\n{xml}"
    );

    // iPXE fetched the script, the kernel and the initrd; the guest's init the preseed.
    let lines = wait_console(
        &log_path,
        &format!("preseed {MARKER}"),
        started,
        diagnostics,
    );
    let booted = started.elapsed();
    eprintln!("PXE: Kea lease after {leased:?}, preseed marker after {booted:?}");
    let preseed_url = format!("{}preseed/pxe1.cfg", prov.url);
    assert!(
        lines.contains(&format!("preseed fetched from {preseed_url}")),
        "the preseed's URL came from the kernel command line: {lines:?}"
    );
    assert!(
        lines.contains(&format!("lease {VM_IP} on eth0")),
        "the guest got its reserved address: {lines:?}"
    );
    let access = prov.access_log();
    for path in [
        "ipxe/pxe1.ipxe",
        "guest/vmlinuz",
        "guest/initrd.gz",
        "preseed/pxe1.cfg",
    ] {
        assert!(
            access.lines().any(|l| l.starts_with(VM_IP)
                && l.contains(&format!("\"GET /boot/{path} "))
                && l.contains("\" 200 ")),
            "the VM fetched /boot/{path} from the provisioning server:\n{access}"
        );
    }
    wd.assert_plan_empty();

    wd.destroy();
    wd.assert_destroyed();
    for path in ["ipxe/pxe1.ipxe", "guest/vmlinuz", "preseed/pxe1.cfg"] {
        assert_eq!(
            prov.get(path).map(|(status, _)| status),
            Some(404),
            "{path} is gone"
        );
    }
    drop(link);
}
