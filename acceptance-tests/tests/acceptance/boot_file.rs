//! `rack_boot_file` against a real nginx with WebDAV writes: apply -> machines fetch the
//! files without a password -> plan is empty -> import gives the same state -> new
//! content is an update in place, served at once -> a change made on the server shows in
//! plan and is put back -> destroy leaves 404. Then what fails: a wrong password, and bad
//! input refused at plan time.

use crate::boot_common::{PROVIDER, fetch, workdir, workdir_with_password};
use rack_lab::Provisioning;

fn config(script: &str, initrd_sha: &str) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_boot_file" "script" {{
  path    = "ztp/tor1.sh"
  content = <<-EOT
    #!/bin/sh
    # CUMULUS-AUTOPROVISIONING
    {script}
  EOT
}}

resource "rack_boot_file" "initrd" {{
  path        = "debian/12/initrd.gz"
  source_file = "${{path.module}}/initrd.gz"
  {initrd_sha}
}}

data "rack_boot_file" "script" {{
  path = rack_boot_file.script.path
}}

output "script_url" {{
  value = rack_boot_file.script.url
}}

output "served_sha256" {{
  value = data.rack_boot_file.script.sha256
}}
"#
    )
}

fn script(line: &str) -> String {
    format!("#!/bin/sh\n# CUMULUS-AUTOPROVISIONING\n{line}\n")
}

#[test]
fn boot_file_lifecycle() {
    let p = Provisioning::started();
    let wd = workdir(&p);
    let initrd: Vec<u8> = (0..200_000u32).map(|i| (i * 13 % 256) as u8).collect();
    wd.write_file("initrd.gz", &initrd);
    wd.write_main(&config(
        "echo one",
        "sha256 = filesha256(\"${path.module}/initrd.gz\")",
    ));
    wd.apply();
    assert_eq!(fetch(&p, "ztp/tor1.sh"), (200, script("echo one")));
    assert_eq!(
        std::fs::read(p.file("debian/12/initrd.gz")).unwrap(),
        initrd
    );
    assert_eq!(
        wd.output("script_url"),
        serde_json::json!(format!("{}ztp/tor1.sh", p.url))
    );
    let values = wd.resource_values("rack_boot_file.script");
    assert_eq!(values["server"], "default");
    assert_eq!(values["id"], "ztp/tor1.sh");
    assert_eq!(wd.output("served_sha256"), values["sha256"]);
    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_boot_file.script", "ztp/tor1.sh", &[]);
    wd.assert_import_same_state("rack_boot_file.script", "default:ztp/tor1.sh", &[]);
    wd.assert_plan_empty();

    // New content: an update in place, served at once.
    wd.write_main(&config("echo two", ""));
    wd.apply_planned(&[
        ("rack_boot_file.script", &["update"]),
        ("rack_boot_file.initrd", &["no-op"]),
    ]);
    assert_eq!(fetch(&p, "ztp/tor1.sh"), (200, script("echo two")));
    wd.assert_plan_empty();

    // A new local file is seen at plan time through its hash.
    let initrd2: Vec<u8> = initrd.iter().map(|b| b ^ 0x5a).collect();
    wd.write_file("initrd.gz", &initrd2);
    wd.apply_planned(&[("rack_boot_file.initrd", &["update"])]);
    assert_eq!(
        std::fs::read(p.file("debian/12/initrd.gz")).unwrap(),
        initrd2
    );

    // Changes on the server show in plan and are put back.
    std::fs::write(p.file("ztp/tor1.sh"), "#!/bin/sh\necho tampered\n").unwrap();
    std::fs::write(p.file("debian/12/initrd.gz"), b"short").unwrap();
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_boot_file.script"), ["update"]);
    assert_eq!(plan.actions("rack_boot_file.initrd"), ["update"]);
    assert!(plan.run.stdout.contains("echo tampered"), "{}", plan.run);
    wd.apply();
    assert_eq!(fetch(&p, "ztp/tor1.sh"), (200, script("echo two")));
    assert_eq!(
        std::fs::read(p.file("debian/12/initrd.gz")).unwrap(),
        initrd2
    );
    wd.assert_plan_empty();

    // A file deleted on the server is created again.
    std::fs::remove_file(p.file("ztp/tor1.sh")).unwrap();
    wd.apply_planned(&[("rack_boot_file.script", &["create"])]);
    assert_eq!(fetch(&p, "ztp/tor1.sh").0, 200);

    wd.destroy();
    wd.assert_destroyed();
    assert_eq!(fetch(&p, "ztp/tor1.sh").0, 404);
    assert_eq!(fetch(&p, "debian/12/initrd.gz").0, 404);
}

#[test]
fn a_wrong_password_is_a_clear_error() {
    let p = Provisioning::started();
    let wd = workdir_with_password(&p, "not-the-password");
    wd.write_main(&format!(
        "{PROVIDER}\nresource \"rack_boot_file\" \"f\" {{\n  path = \"boot.ipxe\"\n  content = \"#!ipxe\\n\"\n}}\n"
    ));
    let text = wd.apply_fails_saying(&[
        "Cannot write",
        "boot.ipxe",
        "refused the credentials of user \"rack\"",
        "HTTP 401",
        "RACK_BOOT_PASSWORD",
    ]);
    assert!(!text.contains("not-the-password"), "{text}");
    assert_eq!(fetch(&p, "boot.ipxe").0, 404);
}

#[test]
fn bad_input_is_refused_at_plan_time() {
    let p = Provisioning::started();
    let wd = workdir(&p);
    wd.write_file("kernel", b"not really a kernel");
    let zeros = "0".repeat(64);
    for (body, needles) in [
        (
            "path = \"../etc/passwd\"\n  content = \"x\"".to_string(),
            &["Invalid boot file path", "`..` segment", "path"][..],
        ),
        (
            "path = \"/boot.ipxe\"\n  content = \"x\"".to_string(),
            &["Invalid boot file path", "starts with `/`"][..],
        ),
        (
            format!(
                "path = \"vmlinuz\"\n  source_file = \"${{path.module}}/kernel\"\n  sha256 = \"{zeros}\""
            ),
            &["sha256 does not match source_file", "filesha256"][..],
        ),
        (
            format!("path = \"a\"\n  content = \"x\"\n  sha256 = \"{zeros}\""),
            &["sha256 does not match content"][..],
        ),
        (
            "path = \"vmlinuz\"\n  source_file = \"${path.module}/missing\"".to_string(),
            &["Cannot read source_file", "missing"][..],
        ),
        (
            "path = \"a\"\n  content = \"x\"\n  source_file = \"${path.module}/kernel\""
                .to_string(),
            &["content and source_file conflict"][..],
        ),
        ("path = \"a\"".to_string(), &["No content"][..]),
        (
            "path = \"a\"\n  content = \"x\"\n  sha256 = \"ABC\"".to_string(),
            &["Invalid sha256"][..],
        ),
    ] {
        wd.write_main(&format!(
            "{PROVIDER}\nresource \"rack_boot_file\" \"f\" {{\n  {body}\n}}\n"
        ));
        let text = wd.plan_fails().combined();
        for n in needles {
            assert!(text.contains(n), "{body}: missing {n:?} in\n{text}");
        }
    }
    assert!(
        !p.access_log().contains("PUT"),
        "nothing may be written:\n{}",
        p.access_log()
    );
}
