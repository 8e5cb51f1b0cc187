//! Values the unit tests of this module share.

use super::spec::{
    BootDevice, DirectBoot, DiskBus, DiskSpec, DomainSpec, DomainType, Firmware, GraphicsKind,
    GraphicsSpec, InterfaceSource, InterfaceSpec,
};

pub(super) fn guest() -> DomainSpec {
    let mut spec = DomainSpec::new("web1", 192 * 1024);
    spec.domain_type = DomainType::Qemu;
    spec.max_memory_kib = Some(256 * 1024);
    spec.max_vcpus = Some(2);
    spec.direct_boot = Some(DirectBoot {
        kernel: "/var/cache/rack-test-guest/vmlinuz".into(),
        initrd: Some("/var/cache/rack-test-guest/initrd.gz".into()),
        cmdline: Some("console=ttyS0 quiet".into()),
    });
    spec.interfaces = vec![InterfaceSpec {
        model: Some("e1000".into()),
        ..InterfaceSpec::network("vmnet")
    }];
    spec.serial_console = true;
    spec.console_log = Some("/var/log/rack/web1-console.log".into());
    spec.cloud_init_pool = Some("vmpool".into());
    spec.running = false;
    spec
}

pub(super) fn full() -> DomainSpec {
    let mut spec = guest();
    spec.domain_type = DomainType::Kvm;
    spec.firmware = Firmware::Uefi;
    spec.machine = Some("q35".into());
    spec.cpu_mode = Some("host-passthrough".into());
    spec.boot = vec![BootDevice::Disk, BootDevice::Network];
    spec.direct_boot = None;
    spec.disks = vec![
        DiskSpec {
            format: Some("qcow2".into()),
            serial: Some("root-1".into()),
            ..DiskSpec::new("default", "web1-root.qcow2")
        },
        DiskSpec {
            bus: DiskBus::Scsi,
            readonly: true,
            ..DiskSpec::new("default", "data")
        },
    ];
    spec.interfaces.push(InterfaceSpec {
        source: InterfaceSource::Bridge("br0".into()),
        model: None,
        mac: Some("02:00:00:00:00:01".parse().unwrap()),
    });
    spec.graphics = Some(GraphicsSpec {
        kind: GraphicsKind::Vnc,
        listen: Some("127.0.0.1".into()),
        password: Some("s3cret".into()),
    });
    spec.guest_agent = true;
    spec.autostart = true;
    spec
}
