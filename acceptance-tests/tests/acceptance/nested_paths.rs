//! Bad input inside a nested block is reported at its own line, not at the resource's
//! first line: the diagnostic's attribute path names the block by its index and the
//! attribute inside it. `terraform validate` only: nothing reaches a hypervisor.

use rack_acceptance_tests::Workdir;

const PROVIDER: &str = r#"terraform {
  required_providers {
    rack = { source = "terraform.local/rack/rack" }
  }
}

provider "rack" {
  hypervisors = { kvm1 = "test:///default" }
}
"#;

fn vm(blocks: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_vm" "a" {{
  hypervisor = "kvm1"
  name       = "a"
  type       = "qemu"
  memory     = "64MiB"

{blocks}
}}
"#
    )
}

/// Collapses whitespace, so a message Terraform wrapped still matches.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

#[test]
fn errors_in_nested_blocks_point_at_the_attribute() {
    let wd = Workdir::new();
    wd.write_main(&vm(""));
    wd.init();
    // (nested blocks, what the message says, the line Terraform must show)
    let cases = [
        (
            r#"  disk {
    pool   = "vms"
    volume = "a"
  }
  disk {
    pool   = "vms"
    volume = "b"
    serial = "has space"
  }"#,
            "\"has space\"",
            r#"serial = "has space""#,
        ),
        (
            r#"  disk {
    pool   = "vms"
    volume = "a"
  }
  disk {
    pool   = "vms"
    volume = "a" # again
  }"#,
            "attached twice",
            r#"volume = "a" # again"#,
        ),
        (
            r#"  disk {
    pool   = "vms"
    volume = "a"
    target = "vdb"
  }
  disk {
    pool   = "vms"
    volume = "b"
    target = "vdb" # again
  }"#,
            "Two disks have target",
            r#"target = "vdb" # again"#,
        ),
        (
            r#"  disk {
    pool   = "vms"
    volume = "a"
  }
  disk {
    pool   = "bad pool"
    volume = "b"
  }"#,
            "\"bad pool\"",
            r#"pool   = "bad pool""#,
        ),
        (
            r#"  network_interface {
    network = "default"
  }
  network_interface {
    network = "default"
    model   = "not a model"
  }"#,
            "\"not a model\"",
            r#"model   = "not a model""#,
        ),
    ];
    for (blocks, needle, line) in cases {
        wd.write_main(&vm(blocks));
        let out = wd.run(&["validate", "-no-color"]).failure();
        let text = flat(&out.stderr);
        assert!(
            text.contains(needle),
            "validate of {blocks:?} should fail saying {needle:?}:\n{}",
            out.stderr
        );
        assert!(
            text.contains(&flat(line)),
            "validate of {blocks:?} should point at {line:?}, not at the resource:\n{}",
            out.stderr
        );
        assert!(
            !text.contains("resource \"rack_vm\" \"a\" {"),
            "validate of {blocks:?} points at the resource's first line:\n{}",
            out.stderr
        );
    }
}
