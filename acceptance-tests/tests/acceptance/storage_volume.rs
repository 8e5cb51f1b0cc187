//! `rack_volume` and the `rack_volume` data source against a real libvirtd: a pool with
//! an empty base image, a qcow2 overlay on it, a full copy, and uploads from a local file
//! and a loopback URL -> libvirt holds them, `qemu-img info` shows the overlay's backing
//! file -> plan is empty -> import gives the same state (what libvirt cannot tell, how a
//! copy or upload was made, is adopted from the configuration) -> the size grows in
//! place -> shrinking is refused at plan time -> a volume deleted or resized out of band
//! shows in plan -> a new base replaces the overlay -> a wrong sha256 fails naming both
//! sums and leaves nothing behind -> destroy removes every file.

use std::path::Path;

use sha2::{Digest, Sha256};

use crate::libvirt_common::{PROVIDER, start_with_dir, virsh_ok};
use crate::storage_pool::flat;
use rack_lab::storage::{FileServer, json_field, qemu_img_info, qemu_img_run};

const MIB: u64 = 1 << 20;

fn sha256_file(path: &Path) -> String {
    let mut hasher = Sha256::new();
    let mut file = std::fs::File::open(path).expect("open");
    std::io::copy(&mut file, &mut hasher).expect("read");
    hasher
        .finalize()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// A sparse raw image of 64 MiB holding 2 MiB of data.
fn image(dir: &Path) -> (String, String) {
    use std::os::unix::fs::FileExt;
    let path = dir.join("disk.raw");
    let f = std::fs::File::create(&path).expect("create");
    f.set_len(64 * MIB).expect("set_len");
    f.write_all_at(&vec![0x5a; MIB as usize], 0).expect("write");
    f.write_all_at(&vec![0xa5; MIB as usize], 40 * MIB)
        .expect("write");
    f.sync_all().expect("sync");
    let sum = sha256_file(&path);
    (path.to_str().expect("utf-8").to_string(), sum)
}

struct Setup<'a> {
    pool_path: &'a str,
    image: &'a str,
    sum: &'a str,
    url: &'a str,
    overlay_size: &'a str,
    overlay_base: &'a str,
}

fn config(s: &Setup<'_>) -> String {
    format!(
        r#"{PROVIDER}
resource "rack_storage_pool" "p" {{
  name = "p"
  type = "dir"
  path = "{pool_path}"
}}

resource "rack_volume" "base" {{
  pool = rack_storage_pool.p.name
  name = "base.qcow2"
  size = "64MiB"
}}

resource "rack_volume" "base2" {{
  pool = rack_storage_pool.p.name
  name = "base2.qcow2"
  size = "64MiB"
}}

resource "rack_volume" "vm1" {{
  pool        = rack_storage_pool.p.name
  name        = "vm1.qcow2"
  base_volume = {overlay_base}
  size        = "{overlay_size}"
}}

resource "rack_volume" "copy" {{
  pool     = rack_storage_pool.p.name
  name     = "copy.qcow2"
  clone_of = rack_volume.base.name
}}

resource "rack_volume" "uploaded" {{
  pool        = rack_storage_pool.p.name
  name        = "disk.raw"
  format      = "raw"
  source_file = "{image}"
  sha256      = "{sum}"
}}

resource "rack_volume" "downloaded" {{
  pool       = rack_storage_pool.p.name
  name       = "web.raw"
  format     = "raw"
  size       = "128MiB"
  source_url = "{url}"
  sha256     = "{sum}"
}}

data "rack_volume" "vm1" {{
  pool = rack_storage_pool.p.name
  name = rack_volume.vm1.name
}}

output "backing_file" {{
  value = data.rack_volume.vm1.backing_file
}}

output "base_path" {{
  value = rack_volume.base.path
}}
"#,
        pool_path = s.pool_path,
        image = s.image,
        sum = s.sum,
        url = s.url,
        overlay_size = s.overlay_size,
        overlay_base = s.overlay_base,
    )
}

fn virtual_size(path: &str) -> u64 {
    let info = qemu_img_info(Path::new(path)).expect("qemu-img info");
    json_field(&info, "virtual-size")
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("no virtual-size in {info}"))
}

#[test]
fn volume_lifecycle() {
    let (lv, wd, root) = start_with_dir("rack-acc-vol");
    let pool = root.path().join("pool");
    let pool_path = pool.to_str().expect("utf-8").to_string();
    let www = root.path().join("www");
    std::fs::create_dir_all(&www).expect("mkdir");
    let (image_path, sum) = image(&www);
    let server = FileServer::start(&www).expect("http server");
    let url = server.url("disk.raw");
    let mut setup = Setup {
        pool_path: &pool_path,
        image: &image_path,
        sum: &sum,
        url: &url,
        overlay_size: "64MiB",
        overlay_base: "rack_volume.base.name",
    };
    wd.write_main(&config(&setup));
    wd.apply();

    // What libvirt holds, and what exists on disk.
    let base = pool.join("base.qcow2");
    let vm1 = pool.join("vm1.qcow2");
    let info = qemu_img_info(&vm1).expect("qemu-img info");
    assert_eq!(
        json_field(&info, "backing-filename").as_deref(),
        base.to_str(),
        "{info}"
    );
    let xml = virsh_ok(&lv, &["vol-dumpxml", "--pool", "p", "vm1.qcow2"]);
    assert!(xml.contains("<backingStore>"), "{xml}");
    assert_eq!(wd.output("backing_file"), wd.output("base_path"));
    let info = qemu_img_info(&pool.join("copy.qcow2")).expect("qemu-img info");
    assert!(json_field(&info, "backing-filename").is_none(), "{info}");
    assert_eq!(sha256_file(&pool.join("disk.raw")), sum, "same bytes");
    let web = pool.join("web.raw");
    assert_eq!(std::fs::metadata(&web).expect("web.raw").len(), 128 * MIB);
    let xml = virsh_ok(&lv, &["vol-dumpxml", "--pool", "p", "disk.raw"]);
    assert!(xml.contains("<format type='raw'/>"), "{xml}");

    wd.assert_plan_empty();
    wd.assert_import_same_state("rack_volume.vm1", "default/p/vm1.qcow2", &[]);
    wd.assert_import_same_state("rack_volume.base", "p/base.qcow2", &[]);
    // How a copy or an upload was made is not in libvirt: the import leaves it out,
    // and the next apply adopts it from the configuration without touching the volume.
    wd.assert_import_same_state("rack_volume.copy", "p/copy.qcow2", &["clone_of"]);
    wd.assert_import_same_state(
        "rack_volume.uploaded",
        "p/disk.raw",
        &["source_file", "sha256"],
    );
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_volume.copy"), ["update"]);
    assert_eq!(plan.actions("rack_volume.uploaded"), ["update"]);
    let copy_inode = std::fs::metadata(pool.join("copy.qcow2")).expect("copy");
    wd.apply();
    wd.assert_plan_empty();
    use std::os::unix::fs::MetadataExt;
    assert_eq!(
        std::fs::metadata(pool.join("copy.qcow2"))
            .expect("copy")
            .ino(),
        copy_inode.ino(),
        "adopted, not recreated"
    );

    // The size grows in place.
    setup.overlay_size = "128MiB";
    wd.write_main(&config(&setup));
    wd.apply_planned(&[("rack_volume.vm1", &["update"])]);
    assert_eq!(virtual_size(vm1.to_str().expect("utf-8")), 128 * MIB);
    wd.assert_plan_empty();

    // Shrinking is refused at plan time, at `size`.
    setup.overlay_size = "32MiB";
    wd.write_main(&config(&setup));
    let out = wd.run(&["plan", "-input=false"]).failure();
    let text = flat(&out.combined());
    assert!(
        text.contains("Shrinking volume p/vm1.qcow2 is refused"),
        "{text}"
    );
    assert!(text.contains("size"), "{text}");
    assert_eq!(virtual_size(vm1.to_str().expect("utf-8")), 128 * MIB);

    // Drift: deleted out of band -> created again; resized out of band -> seen.
    setup.overlay_size = "128MiB";
    wd.write_main(&config(&setup));
    virsh_ok(&lv, &["vol-delete", "--pool", "p", "vm1.qcow2"]);
    wd.apply_planned(&[("rack_volume.vm1", &["create"])]);
    assert!(vm1.is_file());
    wd.assert_plan_empty();
    qemu_img_run(&[
        "resize",
        "-f",
        "qcow2",
        vm1.to_str().expect("utf-8"),
        "192M",
    ])
    .expect("qemu-img resize");
    let out = wd.run(&["plan", "-input=false"]).failure();
    let text = flat(&out.combined());
    assert!(
        text.contains("Shrinking volume p/vm1.qcow2 is refused"),
        "a size grown out of band is drift the configuration would undo: {text}"
    );
    setup.overlay_size = "192MiB";
    wd.write_main(&config(&setup));
    wd.assert_plan_empty();
    // Where the configuration leaves the size out, the new size is simply read.
    let copy = pool.join("copy.qcow2");
    qemu_img_run(&[
        "resize",
        "-f",
        "qcow2",
        copy.to_str().expect("utf-8"),
        "96M",
    ])
    .expect("qemu-img resize");
    wd.assert_plan_empty();
    wd.apply();
    let values = wd.resource_values("rack_volume.copy");
    assert_eq!(values["size"], "96MiB", "{values}");
    assert_eq!(values["capacity"], 96 * MIB, "{values}");

    // A new base replaces the overlay, and the plan says why.
    setup.overlay_base = "rack_volume.base2.name";
    let cfg = config(&setup);
    wd.write_main(&cfg);
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_volume.vm1"), ["delete", "create"]);
    assert_eq!(plan.replace_paths("rack_volume.vm1"), ["base_volume"]);
    wd.apply();
    let info = qemu_img_info(&vm1).expect("qemu-img info");
    assert!(
        json_field(&info, "backing-filename").is_some_and(|b| b.ends_with("base2.qcow2")),
        "{info}"
    );
    wd.assert_plan_empty();

    // A wrong sha256: the apply fails naming both sums, nothing is left behind.
    let wrong = "0".repeat(64);
    let bad = format!(
        "{cfg}\nresource \"rack_volume\" \"bad\" {{\n  pool = rack_storage_pool.p.name\n  \
         name = \"bad.raw\"\n  format = \"raw\"\n  source_file = \"{image_path}\"\n  \
         sha256 = \"{wrong}\"\n}}\n"
    );
    wd.write_main(&bad);
    let out = wd.apply_fails();
    let text = flat(&out.combined());
    assert!(text.contains(&sum) && text.contains(&wrong), "{text}");
    assert!(text.contains("sha256"), "{text}");
    assert!(!pool.join("bad.raw").exists());
    assert!(
        !virsh_ok(&lv, &["vol-list", "p"]).contains("bad.raw"),
        "libvirt has no such volume"
    );

    wd.write_main(&cfg);
    wd.destroy();
    wd.assert_destroyed();
    assert!(!pool.exists(), "volumes and pool directory removed");
    drop(server);
}
