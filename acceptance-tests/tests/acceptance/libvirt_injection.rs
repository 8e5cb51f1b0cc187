//! Values with XML markup in every string attribute of the libvirt resources that reaches
//! libvirt's XML, against a real libvirtd. libvirt 9.0 writes some values back into its
//! saved definitions without escaping them (a network's domain, a graphics `listen`), so
//! every such value is either refused at plan time at its attribute path, or escaped by
//! rack and read back identically: a second plan is empty and the definitions libvirt
//! saved hold no injected element.
//!
//! One configuration holds every refused case (one `terraform plan`); one holds the
//! accepted ones (one apply).

use serde_json::Value;

use crate::libvirt_common::{
    PROVIDER, dir_pool_hcl, isolated_network_hcl, start, virsh_ok, workdir,
};
use rack_lab::guest::fix_kvm_permissions;

/// What every refused value carries: quotes, `<`, `>`, `&` and a newline.
const MARKUP: &str = r#"x'/><x a=\"&amp;\"/>\n<y"#;

/// One refused case: the resource type, the attribute as written in HCL (the nested
/// path, e.g. `graphics.listen`) and the HCL body of the resource, with `{bad}` for the
/// value.
struct Refused {
    kind: &'static str,
    attribute: &'static str,
    body: &'static str,
}

const VM_BASE: &str = r#"type = "qemu"
  memory = "64MiB"
  running = false"#;

fn refused_cases() -> Vec<Refused> {
    let case = |kind, attribute, body| Refused {
        kind,
        attribute,
        body,
    };
    vec![
        case(
            "rack_network",
            "name",
            r#"name = "{bad}"
  mode = "isolated""#,
        ),
        case(
            "rack_network",
            "bridge",
            r#"name = "n2"
  mode = "isolated"
  bridge = "{bad}""#,
        ),
        case(
            "rack_network",
            "domain",
            r#"name = "n3"
  mode = "isolated"
  domain = "{bad}""#,
        ),
        case(
            "rack_network",
            "domain",
            r#"name = "n4"
  mode = "isolated"
  domain = "rel'/><mtu size='1400'/><x a='""#,
        ),
        case(
            "rack_network",
            "domain",
            r#"name = "n5"
  mode = "isolated"
  domain = "farm.test\ndhcp-script=/bin/true""#,
        ),
        case(
            "rack_storage_pool",
            "name",
            r#"name = "{bad}"
  type = "dir"
  path = "/var/lib/rack-none/p1""#,
        ),
        case(
            "rack_storage_pool",
            "path",
            r#"name = "p2"
  type = "dir"
  path = "/var/lib/rack-none/{bad}""#,
        ),
        case(
            "rack_storage_pool",
            "devices",
            r#"name = "p3"
  type = "logical"
  volume_group = "vg0"
  devices = ["/dev/{bad}"]"#,
        ),
        case(
            "rack_volume",
            "name",
            r#"name = "{bad}"
  pool = "p"
  size = "1MiB""#,
        ),
        case(
            "rack_volume",
            "name",
            r#"name = "../escape"
  pool = "p"
  size = "1MiB""#,
        ),
        case(
            "rack_volume",
            "name",
            r#"name = "sub/dir"
  pool = "p"
  size = "1MiB""#,
        ),
        case(
            "rack_volume",
            "name",
            r#"name = ".."
  pool = "p"
  size = "1MiB""#,
        ),
        case(
            "rack_volume",
            "pool",
            r#"name = "v5"
  pool = "{bad}"
  size = "1MiB""#,
        ),
        case(
            "rack_vm",
            "name",
            r#"name = "{bad}"
  VM_BASE"#,
        ),
        case(
            "rack_vm",
            "machine",
            r#"name = "m2"
  VM_BASE
  machine = "{bad}""#,
        ),
        case(
            "rack_vm",
            "kernel",
            r#"name = "m3"
  VM_BASE
  kernel = "/boot/{bad}""#,
        ),
        case(
            "rack_vm",
            "initrd",
            r#"name = "m4"
  VM_BASE
  kernel = "/boot/vmlinuz"
  initrd = "/boot/{bad}""#,
        ),
        case(
            "rack_vm",
            "cmdline",
            r#"name = "m5"
  VM_BASE
  kernel = "/boot/vmlinuz"
  cmdline = "console=ttyS0\n<x/>""#,
        ),
        case(
            "rack_vm",
            "console_log",
            r#"name = "m6"
  VM_BASE
  console_log = "/var/log/{bad}""#,
        ),
        case(
            "rack_vm",
            "graphics.listen",
            r#"name = "m7"
  VM_BASE
  graphics {
    type   = "vnc"
    listen = "127.0.0.1'/><x a='"
  }"#,
        ),
        case(
            "rack_vm",
            "graphics.listen",
            r#"name = "m8"
  VM_BASE
  graphics {
    type   = "vnc"
    listen = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "disk.pool",
            r#"name = "m9"
  VM_BASE
  disk {
    pool   = "{bad}"
    volume = "v"
  }"#,
        ),
        case(
            "rack_vm",
            "disk.volume",
            r#"name = "m10"
  VM_BASE
  disk {
    pool   = "p"
    volume = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "disk.format",
            r#"name = "m11"
  VM_BASE
  disk {
    pool   = "p"
    volume = "v"
    format = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "disk.target",
            r#"name = "m12"
  VM_BASE
  disk {
    pool   = "p"
    volume = "v"
    target = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "disk.serial",
            r#"name = "m13"
  VM_BASE
  disk {
    pool   = "p"
    volume = "v"
    serial = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "network_interface.network",
            r#"name = "m14"
  VM_BASE
  network_interface {
    network = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "network_interface.bridge",
            r#"name = "m15"
  VM_BASE
  network_interface {
    bridge = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "network_interface.model",
            r#"name = "m16"
  VM_BASE
  network_interface {
    network = "default"
    model   = "{bad}"
  }"#,
        ),
        case(
            "rack_vm",
            "network_interface.mac",
            r#"name = "m17"
  VM_BASE
  network_interface {
    network = "default"
    mac     = "{bad}"
  }"#,
        ),
    ]
}

/// The error diagnostics of `terraform plan -json` output: (address, summary + detail,
/// the source line the diagnostic points at).
pub(crate) fn errors(json_lines: &str) -> Vec<(String, String, String)> {
    json_lines
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter(|m| m["type"] == "diagnostic" && m["diagnostic"]["severity"] == "error")
        .map(|m| {
            let d = &m["diagnostic"];
            (
                d["address"].as_str().unwrap_or_default().to_owned(),
                format!(
                    "{} {}",
                    d["summary"].as_str().unwrap_or_default(),
                    d["detail"].as_str().unwrap_or_default()
                ),
                d["snippet"]["code"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[test]
fn libvirt_values_with_markup_are_refused_at_their_attribute() {
    let lv = start();
    let wd = workdir(&lv);
    let cases = refused_cases();
    let mut main = PROVIDER.to_owned();
    for (i, c) in cases.iter().enumerate() {
        let body = c.body.replace("VM_BASE", VM_BASE).replace("{bad}", MARKUP);
        main.push_str(&format!(
            "\nresource \"{}\" \"c{i}\" {{\n  {body}\n}}\n",
            c.kind
        ));
    }
    wd.write_main(&main);
    wd.init();
    let out = wd.run(&["plan", "-input=false", "-no-color", "-json"]);
    assert!(!out.succeeded(), "the plan must fail:\n{out}");
    let errors = errors(&out.stdout);
    let mut missing = Vec::new();
    for (i, c) in cases.iter().enumerate() {
        let address = format!("{}.c{i}", c.kind);
        let leaf = c.attribute.rsplit('.').next().unwrap_or(c.attribute);
        let hit = errors.iter().any(|(a, _, code)| {
            *a == address && code.trim_start().starts_with(&format!("{leaf} "))
        });
        if !hit {
            let seen: Vec<_> = errors.iter().filter(|(a, ..)| *a == address).collect();
            missing.push(format!("{address} ({}): {seen:?}", c.attribute));
        }
    }
    assert!(
        missing.is_empty(),
        "not refused at their attribute:\n{}\n\nall output:\n{}",
        missing.join("\n"),
        out.stdout
    );
    // Nothing reached libvirt.
    for list in [
        &["net-list", "--all", "--name"][..],
        &["pool-list", "--all", "--name"],
        &["list", "--all", "--name"],
    ] {
        let names = virsh_ok(&lv, list);
        assert!(names.trim().is_empty(), "{list:?}: {names}");
    }
}

/// Markup where a value is free text or may hold it: escaped by rack, kept by libvirt,
/// read back identically.
#[test]
fn libvirt_values_with_markup_are_kept_as_text() {
    fix_kvm_permissions().unwrap_or_else(|e| panic!("{e}"));
    let lv = start();
    let wd = workdir(&lv);
    let pool_dir = lv.dir().join("pool with space+plus");
    let pool_path = pool_dir.display().to_string();
    let cmdline = r#"console=ttyS0 rack.note=\"a<b>&c'd\""#;
    wd.write_resources(&format!(
        r#"{network}
{pool}
resource "rack_volume" "kept" {{
  name = "kept#1[a]"
  pool = rack_storage_pool.kept.name
  size = "1MiB"
}}

resource "rack_vm" "kept" {{
  name    = "kept"
  type    = "qemu"
  memory  = "64MiB"
  running = false
  kernel  = "/boot/vmlinuz-rack-none"
  cmdline = "{cmdline}"
  disk {{
    pool   = rack_storage_pool.kept.name
    volume = rack_volume.kept.name
  }}
  graphics {{
    type   = "vnc"
    listen = "127.0.0.1"
  }}
}}
"#,
        network = isolated_network_hcl(
            "kept",
            "kept",
            "10.10.71.0/24",
            "  domain = \"kept.test\"\n"
        ),
        pool = dir_pool_hcl("kept", "kept", &pool_path),
    ));
    wd.apply();
    wd.assert_plan_empty();
    let vm = virsh_ok(&lv, &["dumpxml", "--inactive", "kept"]);
    assert!(
        vm.contains(
            "<cmdline>console=ttyS0 rack.note=&quot;a&lt;b&gt;&amp;c&apos;d&quot;</cmdline>"
        ),
        "{vm}"
    );
    let cmd = wd.resource_values("rack_vm.kept");
    assert_eq!(cmd["cmdline"], r#"console=ttyS0 rack.note="a<b>&c'd""#);
    let pool = virsh_ok(&lv, &["pool-dumpxml", "kept"]);
    assert!(
        pool.contains(&format!("<path>{pool_path}</path>")),
        "{pool}"
    );
    let vol = virsh_ok(&lv, &["vol-list", "kept"]);
    assert!(vol.contains("kept#1[a]"), "{vol}");
    // The files libvirt saved parse as the same documents, with no stray element.
    for (file, root) in [
        (lv.dir().join("etc/qemu/kept.xml"), "domain"),
        (lv.dir().join("etc/qemu/networks/kept.xml"), "network"),
        (lv.dir().join("etc/storage/kept.xml"), "pool"),
    ] {
        let text = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("libvirt saved no {}: {e}", file.display()));
        assert!(text.contains(&format!("<{root}")), "{text}");
        assert!(!text.contains("<x"), "{}:\n{text}", file.display());
    }
    wd.destroy();
    wd.assert_destroyed();
}
