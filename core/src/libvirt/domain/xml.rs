//! A VM's XML in both directions (a disk's and an interface's too, for live changes).
//! Pure: no I/O.

use super::spec::{
    BootDevice, DirectBoot, DiskBus, DiskDevice, DiskSpec, DomainSpec, DomainSpecError, DomainType,
    Firmware, GraphicsKind, GraphicsSpec, InterfaceSource, InterfaceSpec, cloud_init_volume_name,
    interface_mac,
};
use crate::libvirt::xml::Element;
use crate::net::MacAddress;

/// The name of the QEMU guest agent's channel.
const AGENT_CHANNEL: &str = "org.qemu.guest_agent.0";

fn disk_element(d: &DiskSpec) -> Element {
    let device = match d.device {
        DiskDevice::Disk => "disk",
        DiskDevice::Cdrom => "cdrom",
    };
    let mut e = Element::new("disk")
        .attr("type", "volume")
        .attr("device", device)
        .child(
            Element::new("driver")
                .attr("name", "qemu")
                .attr("type", d.format.as_deref().unwrap_or("raw")),
        )
        .child(
            Element::new("source")
                .attr("pool", &d.pool)
                .attr("volume", &d.volume),
        );
    let mut target = Element::new("target");
    if let Some(t) = &d.target {
        target = target.attr("dev", t);
    }
    e = e.child(target.attr("bus", d.bus.as_str()));
    if d.readonly || d.device == DiskDevice::Cdrom {
        e = e.child(Element::new("readonly"));
    }
    if let Some(serial) = &d.serial {
        e = e.child(Element::new("serial").with_text(serial));
    }
    e
}

fn interface_element(iface: &InterfaceSpec, mac: MacAddress) -> Element {
    let (kind, source) = match &iface.source {
        InterfaceSource::Network(n) => ("network", Element::new("source").attr("network", n)),
        InterfaceSource::Bridge(b) => ("bridge", Element::new("source").attr("bridge", b)),
    };
    Element::new("interface")
        .attr("type", kind)
        .child(Element::new("mac").attr("address", mac))
        .child(source)
        .child(Element::new("model").attr("type", iface.model()))
}

/// The `<disk>` element for `virDomainAttachDeviceFlags`/`DetachDeviceFlags`.
pub fn disk_xml(disk: &DiskSpec) -> String {
    disk_element(disk).to_xml()
}

/// The `<interface>` element for `virDomainAttachDeviceFlags`/`DetachDeviceFlags`.
pub fn interface_xml(iface: &InterfaceSpec, mac: MacAddress) -> String {
    interface_element(iface, mac).to_xml()
}

/// libvirt's domain XML for `spec` (`running` and `autostart` are not part of it). Call
/// [`DomainSpec::validate`] first: this builds whatever it is given.
pub fn domain_xml(spec: &DomainSpec) -> String {
    domain_element(spec).to_xml()
}

/// [`domain_xml`] for an existing domain: with its UUID, as libvirt wants for a new
/// definition of a domain it knows.
pub(super) fn redefinition_xml(spec: &DomainSpec, uuid: &str) -> String {
    let mut root = domain_element(spec);
    root.children
        .insert(1, Element::new("uuid").with_text(uuid));
    root.to_xml()
}

fn domain_element(spec: &DomainSpec) -> Element {
    let mut root = Element::new("domain")
        .attr("type", spec.domain_type.as_str())
        .child(Element::new("name").with_text(&spec.name))
        .child(
            Element::new("memory")
                .attr("unit", "KiB")
                .with_text(&spec.max_memory_kib().to_string()),
        )
        .child(
            Element::new("currentMemory")
                .attr("unit", "KiB")
                .with_text(&spec.memory_kib.to_string()),
        );
    let mut vcpu = Element::new("vcpu").attr("placement", "static");
    if spec.max_vcpus() != spec.vcpus {
        vcpu = vcpu.attr("current", spec.vcpus);
    }
    root = root.child(vcpu.with_text(&spec.max_vcpus().to_string()));

    let mut os = Element::new("os");
    if spec.firmware == Firmware::Uefi {
        os = os.attr("firmware", "efi");
    }
    let mut os_type = Element::new("type").attr("arch", "x86_64");
    if let Some(m) = &spec.machine {
        os_type = os_type.attr("machine", m);
    }
    os = os.child(os_type.with_text("hvm"));
    if let Some(b) = &spec.direct_boot {
        os = os.child(Element::new("kernel").with_text(&b.kernel));
        if let Some(i) = &b.initrd {
            os = os.child(Element::new("initrd").with_text(i));
        }
        if let Some(c) = &b.cmdline {
            os = os.child(Element::new("cmdline").with_text(c));
        }
    }
    for dev in spec.boot_order() {
        os = os.child(Element::new("boot").attr("dev", dev.xml()));
    }
    root = root.child(os).child(
        Element::new("features")
            .child(Element::new("acpi"))
            .child(Element::new("apic")),
    );
    if let Some(mode) = &spec.cpu_mode {
        root = root.child(Element::new("cpu").attr("mode", mode));
    }
    root = root
        .child(Element::new("on_poweroff").with_text("destroy"))
        .child(Element::new("on_reboot").with_text("restart"))
        .child(Element::new("on_crash").with_text("destroy"));

    let mut devices = Element::new("devices");
    for d in &spec.all_disks() {
        devices = devices.child(disk_element(d));
    }
    if spec.all_disks().iter().any(|d| d.bus == DiskBus::Scsi) {
        devices = devices.child(
            Element::new("controller")
                .attr("type", "scsi")
                .attr("model", "virtio-scsi"),
        );
    }
    for (i, iface) in spec.interfaces.iter().enumerate() {
        let mac = iface.mac.unwrap_or_else(|| interface_mac(&spec.name, i));
        devices = devices.child(interface_element(iface, mac));
    }
    if spec.serial_console {
        let mut serial = Element::new("serial").attr("type", "pty");
        if let Some(log) = &spec.console_log {
            // Appended across starts (virtlogd rotates it), so a restart keeps what the
            // shutdown printed.
            serial = serial.child(Element::new("log").attr("file", log).attr("append", "on"));
        }
        devices = devices
            .child(serial.child(Element::new("target").attr("port", 0)))
            .child(
                Element::new("console").attr("type", "pty").child(
                    Element::new("target")
                        .attr("type", "serial")
                        .attr("port", 0),
                ),
            );
    }
    if spec.guest_agent {
        devices = devices.child(
            Element::new("channel").attr("type", "unix").child(
                Element::new("target")
                    .attr("type", "virtio")
                    .attr("name", AGENT_CHANNEL),
            ),
        );
    }
    if let Some(g) = &spec.graphics {
        let mut e = Element::new("graphics")
            .attr("type", g.kind.as_str())
            .attr("autoport", "yes");
        if let Some(p) = &g.password {
            e = e.attr("passwd", p);
        }
        if let Some(l) = &g.listen {
            e = e.attr("listen", l).child(
                Element::new("listen")
                    .attr("type", "address")
                    .attr("address", l),
            );
        }
        devices = devices.child(e);
    }
    root.child(devices)
}

fn unsupported(msg: impl Into<String>) -> DomainSpecError {
    DomainSpecError::Unsupported(msg.into())
}

/// A size element (`<memory unit='KiB'>`) in KiB.
fn size_kib(e: &Element) -> Result<u64, DomainSpecError> {
    let n: u64 = e
        .text
        .parse()
        .map_err(|_| unsupported(format!("<{}> {:?} is not a number", e.name, e.text)))?;
    let factor: u64 = match e.get("unit").unwrap_or("KiB") {
        "b" | "bytes" => return Ok(n / 1024),
        "k" | "KiB" => 1,
        "M" | "MiB" => 1 << 10,
        "G" | "GiB" => 1 << 20,
        "KB" => return Ok(n * 1000 / 1024),
        "MB" => return Ok(n * 1_000_000 / 1024),
        "GB" => return Ok(n * 1_000_000_000 / 1024),
        other => return Err(unsupported(format!("memory unit {other:?}"))),
    };
    Ok(n * factor)
}

fn parse_disk(e: &Element) -> Result<DiskSpec, DomainSpecError> {
    let device = match e.get("device").unwrap_or("disk") {
        "disk" => DiskDevice::Disk,
        "cdrom" => DiskDevice::Cdrom,
        other => return Err(unsupported(format!("disk device {other:?}"))),
    };
    let source = e.first("source");
    let (pool, volume) = match (e.get("type"), source) {
        (Some("volume"), Some(s)) => (
            s.get("pool").unwrap_or_default().to_owned(),
            s.get("volume").unwrap_or_default().to_owned(),
        ),
        (kind, _) => {
            return Err(unsupported(format!(
                "a disk of type {:?}; rack manages disks that are volumes of a pool",
                kind.unwrap_or("file")
            )));
        }
    };
    let target = e.first("target");
    let bus = match target.and_then(|t| t.get("bus")) {
        Some("virtio") => DiskBus::Virtio,
        Some("sata") => DiskBus::Sata,
        Some("scsi") => DiskBus::Scsi,
        other => {
            return Err(unsupported(format!(
                "disk bus {:?}; rack manages virtio, sata and scsi",
                other.unwrap_or("none")
            )));
        }
    };
    Ok(DiskSpec {
        pool,
        volume,
        bus,
        device,
        readonly: e.first("readonly").is_some(),
        serial: e.first("serial").map(|s| s.text.clone()),
        format: e
            .first("driver")
            .and_then(|d| d.get("type"))
            .map(str::to_owned),
        target: target.and_then(|t| t.get("dev")).map(str::to_owned),
    })
}

fn parse_interface(e: &Element) -> Result<InterfaceSpec, DomainSpecError> {
    let source = e.first("source");
    let source = match (e.get("type"), source) {
        (Some("network"), Some(s)) => {
            InterfaceSource::Network(s.get("network").unwrap_or_default().to_owned())
        }
        (Some("bridge"), Some(s)) => {
            InterfaceSource::Bridge(s.get("bridge").unwrap_or_default().to_owned())
        }
        (kind, _) => {
            return Err(unsupported(format!(
                "an interface of type {:?}; rack manages network and bridge interfaces",
                kind.unwrap_or("none")
            )));
        }
    };
    let mac = match e.first("mac").and_then(|m| m.get("address")) {
        Some(m) => Some(
            m.parse::<MacAddress>()
                .map_err(|_| unsupported(format!("MAC address {m:?}")))?,
        ),
        None => None,
    };
    Ok(InterfaceSpec {
        source,
        model: e
            .first("model")
            .and_then(|m| m.get("type"))
            .map(str::to_owned),
        mac,
    })
}

/// Reads libvirt's XML of a domain into a [`DomainSpec`], with `running` and
/// `autostart` as given (they are not part of the XML). What rack does not model
/// (uuid, controllers, USB, video, memballoon, PCI addresses, ...) is ignored; a disk or
/// interface of a kind rack does not manage is an error, so it is never dropped
/// silently by an update.
pub fn parse_domain_xml(
    xml: &str,
    running: bool,
    autostart: bool,
) -> Result<DomainSpec, DomainSpecError> {
    let root = Element::parse(xml).map_err(DomainSpecError::Syntax)?;
    if root.name != "domain" {
        return Err(unsupported(format!(
            "the root element is <{}>, not <domain>",
            root.name
        )));
    }
    let domain_type = match root.get("type") {
        Some("kvm") => DomainType::Kvm,
        Some("qemu") => DomainType::Qemu,
        other => {
            return Err(unsupported(format!(
                "domain type {:?}; rack manages kvm and qemu",
                other.unwrap_or("none")
            )));
        }
    };
    let name = root
        .first("name")
        .map(|n| n.text.clone())
        .filter(|n| !n.is_empty())
        .ok_or_else(|| unsupported("the domain has no <name>"))?;
    let max_memory = root
        .first("memory")
        .map(size_kib)
        .transpose()?
        .ok_or_else(|| unsupported("the domain has no <memory>"))?;
    let memory = root
        .first("currentMemory")
        .map(size_kib)
        .transpose()?
        .unwrap_or(max_memory);
    let vcpu = root
        .first("vcpu")
        .ok_or_else(|| unsupported("the domain has no <vcpu>"))?;
    let max_vcpus: u32 = vcpu
        .text
        .parse()
        .map_err(|_| unsupported(format!("<vcpu> {:?} is not a number", vcpu.text)))?;
    let vcpus: u32 = match vcpu.get("current") {
        Some(c) => c
            .parse()
            .map_err(|_| unsupported(format!("vcpu current {c:?} is not a number")))?,
        None => max_vcpus,
    };
    let os = root.first("os");
    let firmware = match os {
        Some(os)
            if os.get("firmware") == Some("efi")
                || os
                    .first("loader")
                    .is_some_and(|l| l.get("type") == Some("pflash")) =>
        {
            Firmware::Uefi
        }
        _ => Firmware::Bios,
    };
    let machine = os
        .and_then(|o| o.first("type"))
        .and_then(|t| t.get("machine"))
        .map(str::to_owned);
    let mut boot = Vec::new();
    for b in os.into_iter().flat_map(|o| o.all("boot")) {
        boot.push(match b.get("dev") {
            Some("hd") => BootDevice::Disk,
            Some("network") => BootDevice::Network,
            Some("cdrom") => BootDevice::Cdrom,
            other => {
                return Err(unsupported(format!(
                    "boot device {:?}",
                    other.unwrap_or("none")
                )));
            }
        });
    }
    let direct_boot = os.and_then(|o| o.first("kernel")).map(|k| DirectBoot {
        kernel: k.text.clone(),
        initrd: os
            .and_then(|o| o.first("initrd"))
            .map(|i| i.text.clone())
            .filter(|t| !t.is_empty()),
        cmdline: os
            .and_then(|o| o.first("cmdline"))
            .map(|c| c.text.clone())
            .filter(|t| !t.is_empty()),
    });
    let cpu_mode = root
        .first("cpu")
        .and_then(|c| c.get("mode"))
        .map(str::to_owned);

    let empty = Element::new("devices");
    let devices = root.first("devices").unwrap_or(&empty);
    let seed_name = cloud_init_volume_name(&name);
    let mut disks = Vec::new();
    let mut cloud_init_pool = None;
    for e in devices.all("disk") {
        let d = parse_disk(e)?;
        if d.volume == seed_name && d.device == DiskDevice::Cdrom {
            cloud_init_pool = Some(d.pool);
        } else {
            disks.push(d);
        }
    }
    let interfaces = devices
        .all("interface")
        .map(parse_interface)
        .collect::<Result<Vec<_>, _>>()?;
    let serial = devices.first("serial");
    let graphics = match devices.first("graphics") {
        Some(g) => {
            let kind = match g.get("type") {
                Some("vnc") => GraphicsKind::Vnc,
                Some("spice") => GraphicsKind::Spice,
                other => {
                    return Err(unsupported(format!(
                        "graphics of type {:?}; rack manages vnc and spice",
                        other.unwrap_or("none")
                    )));
                }
            };
            let listen = g
                .get("listen")
                .or_else(|| g.first("listen").and_then(|l| l.get("address")))
                .map(str::to_owned);
            Some(GraphicsSpec {
                kind,
                listen,
                password: g.get("passwd").map(str::to_owned),
            })
        }
        None => None,
    };
    let guest_agent = devices.all("channel").any(|c| {
        c.first("target")
            .is_some_and(|t| t.get("name") == Some(AGENT_CHANNEL))
    });
    Ok(DomainSpec {
        name,
        domain_type,
        vcpus,
        max_vcpus: (max_vcpus != vcpus).then_some(max_vcpus),
        memory_kib: memory,
        max_memory_kib: (max_memory != memory).then_some(max_memory),
        cpu_mode,
        machine,
        firmware,
        boot,
        disks,
        interfaces,
        graphics,
        serial_console: serial.is_some(),
        console_log: serial
            .and_then(|s| s.first("log"))
            .and_then(|l| l.get("file"))
            .map(str::to_owned),
        guest_agent,
        direct_boot,
        cloud_init_pool,
        running,
        autostart,
    })
}

#[cfg(test)]
mod tests {
    use super::super::fixtures::{full, guest};
    use super::super::plan::plan_domain_update;
    use super::*;

    /// What libvirt 9.0 answers (`virsh dumpxml --inactive`) for `guest()` after
    /// defining it: the test guest's definition from `tests/libvirt/vm.rs`.
    const LIBVIRT_GUEST: &str = r"<domain type='qemu'>
  <name>web1</name>
  <uuid>47f8949d-c2ee-40c9-9ba6-e87adba60c4f</uuid>
  <memory unit='KiB'>262144</memory>
  <currentMemory unit='KiB'>196608</currentMemory>
  <vcpu placement='static' current='1'>2</vcpu>
  <os>
    <type arch='x86_64' machine='pc-i440fx-7.2'>hvm</type>
    <kernel>/var/cache/rack-test-guest/vmlinuz</kernel>
    <initrd>/var/cache/rack-test-guest/initrd.gz</initrd>
    <cmdline>console=ttyS0 quiet</cmdline>
    <boot dev='hd'/>
  </os>
  <features>
    <acpi/>
    <apic/>
  </features>
  <cpu mode='custom' match='exact' check='none'>
    <model fallback='forbid'>qemu64</model>
  </cpu>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='vmpool' volume='web1-cidata.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
      <address type='drive' controller='0' bus='0' target='0' unit='0'/>
    </disk>
    <controller type='usb' index='0' model='piix3-uhci'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x01' function='0x2'/>
    </controller>
    <controller type='pci' index='0' model='pci-root'/>
    <controller type='sata' index='0'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </controller>
    <interface type='network'>
      <mac address='52:54:00:ee:1d:7e'/>
      <source network='vmnet'/>
      <model type='e1000'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x02' function='0x0'/>
    </interface>
    <serial type='pty'>
      <log file='/var/log/rack/web1-console.log' append='off'/>
      <target type='isa-serial' port='0'>
        <model name='isa-serial'/>
      </target>
    </serial>
    <console type='pty'>
      <log file='/var/log/rack/web1-console.log' append='off'/>
      <target type='serial' port='0'/>
    </console>
    <input type='mouse' bus='ps2'/>
    <input type='keyboard' bus='ps2'/>
    <audio id='1' type='none'/>
    <memballoon model='virtio'>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x04' function='0x0'/>
    </memballoon>
  </devices>
</domain>
";

    #[test]
    fn parses_what_libvirt_answers_and_plans_nothing() {
        let read = parse_domain_xml(LIBVIRT_GUEST, false, false).unwrap();
        assert_eq!(read.machine.as_deref(), Some("pc-i440fx-7.2"));
        assert_eq!(read.cpu_mode.as_deref(), Some("custom"));
        assert_eq!(read.interfaces[0].mac, Some(interface_mac("web1", 0)));
        assert_eq!(read.cloud_init_pool.as_deref(), Some("vmpool"));
        assert!(read.disks.is_empty(), "the seed is not a user disk");
        assert!(plan_domain_update(&read, &guest()).is_empty());
    }

    #[test]
    fn every_attribute_round_trips() {
        let spec = full();
        spec.validate().unwrap();
        let xml = domain_xml(&spec);
        let mut back = parse_domain_xml(&xml, spec.running, spec.autostart).unwrap();
        assert_eq!(back.disks[0].target.as_deref(), Some("vda"));
        assert_eq!(back.disks[1].target.as_deref(), Some("sda"));
        for d in &mut back.disks {
            d.target = None;
        }
        let mut want = spec.clone();
        want.interfaces = want.resolved_interfaces();
        // The defaults are written out: raw, virtio.
        want.disks[1].format = Some("raw".into());
        want.interfaces[1].model = Some("virtio".into());
        assert_eq!(back, want, "{xml}");
        assert!(plan_domain_update(&back, &spec).is_empty());
        assert!(xml.contains("<os firmware=\"efi\">"), "{xml}");
        assert!(xml.contains("passwd=\"s3cret\""), "{xml}");
        assert!(xml.contains("model=\"virtio-scsi\""), "{xml}");
        // The seed is the last disk, after the scsi one on the shared sd names.
        assert!(
            xml.contains("volume=\"web1-cidata.iso\"/>\n      <target dev=\"sdb\""),
            "{xml}"
        );
    }

    #[test]
    fn redefinition_carries_the_uuid() {
        let xml = redefinition_xml(&guest(), "47f8949d-c2ee-40c9-9ba6-e87adba60c4f");
        assert!(
            xml.starts_with("<domain type=\"qemu\">\n  <name>web1</name>\n  <uuid>47f8949d"),
            "{xml}"
        );
    }

    #[test]
    fn refuses_what_it_cannot_model() {
        let cases = [
            "<domain type='xen'><name>x</name><memory>1</memory><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><memory>1</memory><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><name>x</name><vcpu>1</vcpu></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <disk type='file' device='disk'><source file='/x'/><target dev='vda' bus='virtio'/>\
             </disk></devices></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <disk type='volume' device='disk'><source pool='p' volume='v'/><target dev='hda' bus='ide'/>\
             </disk></devices></domain>",
            "<domain type='kvm'><name>x</name><memory>1</memory><vcpu>1</vcpu><devices>\
             <interface type='user'/></devices></domain>",
            "<network><name>x</name></network>",
        ];
        for xml in cases {
            assert!(
                matches!(
                    parse_domain_xml(xml, false, false),
                    Err(DomainSpecError::Unsupported(_))
                ),
                "{xml}"
            );
        }
        assert!(matches!(
            parse_domain_xml("<domain>", false, false),
            Err(DomainSpecError::Syntax(_))
        ));
    }
}
