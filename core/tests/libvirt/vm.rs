//! Virtual machines on the real libvirtd of the fixture, under QEMU's TCG (KVM does not
//! work on these machines): the test guest of `scripts/build-test-guest` boots its
//! kernel directly, gets an address from a NAT network's dnsmasq, reads its cloud-init
//! seed (an ISO rack wrote and uploaded) and prints what it found on the serial console,
//! whose log the tests read. The scenarios share one fixture and one guest where the
//! order of steps is itself the story.

use rack_core::cloudinit::CloudInit;
use rack_core::libvirt::{
    AddressSource, DhcpRange, DirectBoot, DiskBus, DiskSpec, DomainSpec, DomainSpecError,
    DomainType, Hypervisor, InterfaceSpec, IpConfig, LibvirtError, NetworkMode, NetworkSpec,
    ObjectKind, ShutdownOutcome, cloud_init_volume_name, interface_mac, parse_memory_kib,
    plan_domain_update,
};
use rack_lab::guest::{GUEST_CMDLINE, fix_kvm_permissions, guest_lines};
use rack_lab::{Guest, Libvirt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const POOL: &str = "vmpool";
const NETWORK: &str = "vmnet";
/// Graceful shutdowns take ~1 s with the test guest; this leaves room for a loaded machine.
const SHUTDOWN_TIMEOUT: Duration = Duration::from_secs(30);
/// Boot to DHCP lease takes ~10 s under TCG here.
const BOOT_TIMEOUT: Duration = Duration::from_secs(90);

struct Vm {
    fixture: Libvirt,
    hv: Hypervisor,
    guest: Guest,
}

fn start() -> Vm {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let guest = Guest::get().unwrap_or_else(|e| panic!("cannot get the test guest: {e}"));
    let fixture = Libvirt::start().unwrap_or_else(|e| panic!("cannot start libvirtd: {e}"));
    let hv = Hypervisor::with_timeout(&fixture.uri, Duration::from_secs(60)).unwrap();
    // A directory pool in the fixture's dir (until volume support lands, by plain virt).
    let conn = virt::connect::Connect::open(Some(&fixture.uri)).unwrap();
    let pool_dir = fixture.dir().join("pool");
    std::fs::create_dir_all(&pool_dir).unwrap();
    let pool = conn
        .define_storage_pool_xml(
            &format!(
                "<pool type='dir'><name>{POOL}</name><target><path>{}</path></target></pool>",
                pool_dir.display()
            ),
            0,
        )
        .unwrap();
    pool.create(0).unwrap();
    Vm { fixture, hv, guest }
}

impl Vm {
    async fn network(&self) {
        let ip = |s: &str| s.parse().unwrap();
        let mut net = NetworkSpec::new(NETWORK, NetworkMode::Nat);
        net.bridge = Some("rkvm0".into());
        net.ipv4 = Some(IpConfig {
            address: ip("10.93.0.1"),
            prefix: 24,
            dhcp_ranges: vec![DhcpRange {
                start: ip("10.93.0.100"),
                end: ip("10.93.0.150"),
            }],
        });
        self.hv.create_network(&net).await.unwrap();
    }

    fn console_log(&self, name: &str) -> PathBuf {
        self.fixture.dir().join(format!("{name}-console.log"))
    }

    fn spec(&self, name: &str) -> DomainSpec {
        let mut spec = DomainSpec::new(name, parse_memory_kib("192MiB").unwrap());
        spec.domain_type = DomainType::Qemu;
        spec.max_memory_kib = Some(parse_memory_kib("256MiB").unwrap());
        spec.max_vcpus = Some(2);
        spec.direct_boot = Some(DirectBoot {
            kernel: self.guest.kernel.display().to_string(),
            initrd: Some(self.guest.initrd.display().to_string()),
            cmdline: Some(GUEST_CMDLINE.into()),
        });
        spec.interfaces = vec![InterfaceSpec {
            model: Some("e1000".into()),
            ..InterfaceSpec::network(NETWORK)
        }];
        spec.serial_console = true;
        spec.console_log = Some(self.console_log(name).display().to_string());
        spec.cloud_init_pool = Some(POOL.into());
        spec
    }

    fn volumes(&self) -> Vec<String> {
        let conn = virt::connect::Connect::open(Some(&self.fixture.uri)).unwrap();
        let pool = conn.lookup_storage_pool_by_name(POOL).unwrap();
        pool.refresh(0).unwrap();
        let mut v = pool.list_volumes().unwrap();
        v.sort();
        v
    }

    fn create_volume(&self, name: &str, mib: u64) {
        let conn = virt::connect::Connect::open(Some(&self.fixture.uri)).unwrap();
        let pool = conn.lookup_storage_pool_by_name(POOL).unwrap();
        virt::storage_vol::StorageVol::create_xml(
            &pool,
            &format!(
                "<volume><name>{name}</name><capacity unit='MiB'>{mib}</capacity>\
                 <target><format type='raw'/></target></volume>"
            ),
            0,
        )
        .unwrap();
    }

    /// Waits until the guest's console log has `line` (after the prefix), returning
    /// every guest line so far.
    async fn wait_console(&self, name: &str, line: &str, timeout: Duration) -> Vec<String> {
        self.wait_console_n(name, line, 1, timeout).await
    }

    /// Waits until the console log, appended across starts, has `line` `count` times.
    async fn wait_console_n(
        &self,
        name: &str,
        line: &str,
        count: usize,
        timeout: Duration,
    ) -> Vec<String> {
        let started = Instant::now();
        loop {
            let log = std::fs::read_to_string(self.console_log(name)).unwrap_or_default();
            let lines = guest_lines(&log);
            if lines.iter().filter(|l| *l == line).count() >= count {
                return lines;
            }
            assert!(
                started.elapsed() < timeout,
                "the guest did not print {line:?} within {timeout:?}; console:\n{log}\nlibvirtd:\n{}",
                self.fixture.log_tail()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    }

    /// Pings `ip` from the fixture's namespace (the host side of the bridge), retrying
    /// for a few seconds; the output of the last try when none succeeded.
    fn ping(&self, ip: &str) -> Result<(), String> {
        let mut last = String::new();
        for _ in 0..10 {
            let out = std::process::Command::new("ip")
                .args(["netns", "exec", self.fixture.namespace(), "busybox", "ping"])
                .args(["-c", "1", "-W", "2", ip])
                .output()
                .map_err(|e| format!("cannot run ip netns exec: {e}"))?;
            if out.status.success() {
                return Ok(());
            }
            last = format!(
                "{}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        Err(last)
    }
}

fn seed(hostname: &str, marker: &str) -> CloudInit {
    CloudInit {
        user_data: Some(format!("#cloud-config\n# rack-marker: {marker}\n")),
        meta_data: Some(format!(
            "instance-id: {hostname}-1\nlocal-hostname: {hostname}\n"
        )),
        network_config: None,
        vendor_data: None,
    }
}

fn exists(p: &Path) -> bool {
    p.exists()
}

#[tokio::test]
async fn vm_lifecycle_on_tcg() {
    let vm = start();
    vm.network().await;
    let name = "web1";

    // Defined but not running: no QEMU, the seed volume is there.
    let mut spec = vm.spec(name);
    spec.running = false;
    let t = Instant::now();
    let created = vm
        .hv
        .create_domain(&spec, Some(&seed("web1", "first-boot")))
        .await
        .unwrap();
    eprintln!("define (seed upload included): {:?}", t.elapsed());
    assert!(created.start_error.is_none());
    assert!(!created.state.active, "{:?}", created.state);
    let read = created.state.spec.clone().unwrap();
    assert!(
        plan_domain_update(&read, &spec).is_empty(),
        "{:?}\n{}",
        plan_domain_update(&read, &spec),
        created.state.xml
    );
    eprintln!("libvirt's definition:\n{}", created.state.xml);
    assert_eq!(vm.volumes(), [cloud_init_volume_name(name)]);
    assert!(vm.hv.domain(name).await.unwrap().is_some(), "cached");

    // running = true: boots, reads the seed, gets a lease.
    spec.running = true;
    let t = Instant::now();
    let updated = vm.hv.update_domain(&spec, SHUTDOWN_TIMEOUT).await.unwrap();
    assert_eq!(updated.plan.running, Some(true));
    assert!(!updated.plan.needs_restart(), "{:?}", updated.plan);
    assert!(updated.state.active && updated.start_error.is_none());
    let mac = interface_mac(name, 0);
    let ifaces = vm
        .hv
        .wait_for_addresses(name, &[mac], AddressSource::Lease, BOOT_TIMEOUT)
        .await
        .unwrap();
    let boot_to_ip = t.elapsed();
    eprintln!("start to DHCP lease (lease source): {boot_to_ip:?}");
    let ip = ifaces[0].addresses[0].0.to_string();
    assert!(ip.starts_with("10.93.0."), "{ifaces:?}");
    let lines = vm.wait_console(name, "ready", BOOT_TIMEOUT).await;
    assert!(lines.contains(&"hostname web1".to_owned()), "{lines:?}");
    assert!(lines.contains(&"marker first-boot".to_owned()), "{lines:?}");
    vm.wait_console(name, &format!("lease {ip} on eth0"), BOOT_TIMEOUT)
        .await;
    let t = Instant::now();
    if let Err(out) = vm.ping(&ip) {
        panic!(
            "the guest does not answer ping at {ip}: {out}\n{}\n{}",
            vm.fixture.ip(&["addr"]).unwrap_or_default(),
            vm.fixture.ip(&["neigh"]).unwrap_or_default()
        );
    }
    eprintln!("ping answered after {:?}", t.elapsed());

    // A disk added in place: hot-plugged, the guest sees it, no restart.
    vm.create_volume("data1", 16);
    spec.disks = vec![DiskSpec::new(POOL, "data1")];
    let t = Instant::now();
    let updated = vm.hv.update_domain(&spec, SHUTDOWN_TIMEOUT).await.unwrap();
    eprintln!("disk hot-plug: {:?}", t.elapsed());
    assert_eq!(updated.plan.attach_disks.len(), 1, "{:?}", updated.plan);
    assert!(!updated.restarted && updated.shutdown.is_none());
    assert_eq!(
        updated.state.spec.clone().unwrap().disks[0]
            .target
            .as_deref(),
        Some("vda")
    );
    vm.wait_console(name, "new disk vda", Duration::from_secs(30))
        .await;

    // Memory within the maximum: live.
    spec.memory_kib = parse_memory_kib("224MiB").unwrap();
    let updated = vm.hv.update_domain(&spec, SHUTDOWN_TIMEOUT).await.unwrap();
    assert_eq!(updated.plan.memory_kib, Some(224 * 1024));
    assert!(!updated.restarted);
    assert_eq!(updated.state.spec.clone().unwrap().memory_kib, 224 * 1024);

    // Memory beyond the maximum: graceful shutdown, redefine, start.
    spec.memory_kib = parse_memory_kib("320MiB").unwrap();
    spec.max_memory_kib = None;
    let t = Instant::now();
    let updated = vm.hv.update_domain(&spec, SHUTDOWN_TIMEOUT).await.unwrap();
    eprintln!(
        "memory change by restart: {:?} ({:?})",
        t.elapsed(),
        updated.shutdown
    );
    assert!(
        updated.plan.restart.contains(&"max_memory"),
        "{:?}",
        updated.plan
    );
    assert!(updated.restarted);
    assert!(
        matches!(updated.shutdown, Some(ShutdownOutcome::Graceful(_))),
        "{:?}",
        updated.shutdown
    );
    assert_eq!(updated.state.live_memory_kib, Some(320 * 1024));
    assert!(plan_domain_update(&updated.state.spec.clone().unwrap(), &spec).is_empty());
    // The log is appended across starts: the second boot's "ready".
    vm.wait_console_n(name, "ready", 2, BOOT_TIMEOUT).await;

    // running = false: the guest powers off on the ACPI button within the timeout.
    spec.running = false;
    let updated = vm.hv.update_domain(&spec, SHUTDOWN_TIMEOUT).await.unwrap();
    match updated.shutdown {
        Some(ShutdownOutcome::Graceful(d)) => {
            eprintln!("graceful shutdown: {d:?}");
            assert!(d < SHUTDOWN_TIMEOUT);
        }
        other => panic!("expected a graceful shutdown, got {other:?}"),
    }
    assert!(!updated.state.active);
    let log = std::fs::read_to_string(vm.console_log(name)).unwrap();
    assert!(
        guest_lines(&log).contains(&"power button pressed, powering off".to_owned()),
        "{log}"
    );

    // Delete: the definition and the seed go, the data volume stays.
    assert!(vm.hv.delete_domain(name, SHUTDOWN_TIMEOUT).await.unwrap());
    assert!(vm.hv.domain_fresh(name).await.unwrap().is_none());
    assert!(vm.hv.domains().await.unwrap().is_empty());
    assert_eq!(vm.volumes(), ["data1"]);
    assert!(!vm.hv.delete_domain(name, SHUTDOWN_TIMEOUT).await.unwrap());
    assert!(exists(&vm.console_log(name)));
}

#[tokio::test]
async fn bad_input_and_partial_failure() {
    let vm = start();

    // Memory with a unit that does not exist.
    assert_eq!(
        parse_memory_kib("12XB"),
        Err(DomainSpecError::MemorySize("12XB".into()))
    );

    // Two interfaces with one MAC: refused before libvirt sees anything.
    let mut spec = vm.spec("twins");
    let mut second = spec.interfaces[0].clone();
    second.mac = Some(interface_mac("twins", 0));
    spec.interfaces.push(second);
    let e = vm.hv.create_domain(&spec, None).await.unwrap_err();
    match &e {
        LibvirtError::DomainSpec {
            source:
                DomainSpecError::DuplicateMac {
                    first: 0,
                    second: 1,
                    ..
                },
            ..
        } => {}
        other => panic!("expected DuplicateMac, got {other:?}"),
    }
    assert!(vm.hv.domain_fresh("twins").await.unwrap().is_none());

    // Defined, but the start fails (its network does not exist): reported beside the
    // state, which says not running; the definition and the seed stay for the caller
    // to record.
    let spec = vm.spec("orphan");
    let created = vm
        .hv
        .create_domain(&spec, Some(&seed("orphan", "never")))
        .await
        .unwrap();
    match created.start_error {
        Some(LibvirtError::NotFound {
            kind: ObjectKind::Network,
            ref name,
            ..
        }) if name == NETWORK => {}
        other => panic!("expected network {NETWORK:?} not found, got {other:?}"),
    }
    assert!(!created.state.active);
    assert_eq!(vm.volumes(), [cloud_init_volume_name("orphan")]);

    // A SATA disk cannot be hot-plugged: the plan says restart.
    let mut want = spec.clone();
    want.running = false;
    want.disks = vec![DiskSpec {
        bus: DiskBus::Sata,
        ..DiskSpec::new(POOL, "x")
    }];
    let current = created.state.spec.clone().unwrap();
    let plan = plan_domain_update(&current, &want);
    assert_eq!(plan.restart, ["disk"]);

    // Renaming is a replacement, refused by update.
    let mut renamed = spec.clone();
    renamed.name = "other".into();
    let plan = plan_domain_update(&current, &renamed);
    assert_eq!(plan.replace, ["name"]);

    assert!(
        vm.hv
            .delete_domain("orphan", SHUTDOWN_TIMEOUT)
            .await
            .unwrap()
    );
    assert!(vm.volumes().is_empty());
}
