//! The `cidata` image read back by independent readers: `isoinfo` (genisoimage) lists and
//! extracts the files through the Joliet tree and checks the primary tree, and blkid (the
//! library cloud-init and udev use to find the seed) reads its label. The kernel's own
//! iso9660 driver reads the image in the guest tests (`tests/libvirt/vm.rs`); this
//! machine's host kernel has no iso9660 driver, so a loop mount is not possible here.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use rack_core::cloudinit::CloudInit;
use rack_lab::process::{TempDir, find_binary};
use std::path::Path;
use std::process::Command;

fn run(program: &Path, args: &[&str]) -> String {
    let out = Command::new(program).args(args).output().unwrap();
    assert!(
        out.status.success(),
        "{} {args:?}: {}",
        program.display(),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn isoinfo_and_blkid_read_every_file_by_its_name_and_the_label() {
    let isoinfo = find_binary("isoinfo", "genisoimage").unwrap();
    let blkid = find_binary("blkid", "util-linux").unwrap();
    let seed = CloudInit {
        user_data: Some("#cloud-config\nruncmd: [echo rack-marker]\n".into()),
        meta_data: Some("instance-id: web1-1\nlocal-hostname: web1\n".into()),
        network_config: Some("version: 2\nethernets: {}\n".into()),
        vendor_data: Some("#cloud-config\n{}\n".into()),
    };
    let dir = TempDir::new("rack-cidata").unwrap();
    let path = dir.path().join("cidata.iso");
    std::fs::write(&path, seed.to_iso().unwrap()).unwrap();
    let img = path.to_str().unwrap();

    let tags = run(&blkid, &["-o", "export", img]);
    assert!(tags.contains("LABEL=cidata"), "blkid: {tags}");
    assert!(tags.contains("TYPE=iso9660"), "blkid: {tags}");

    let descriptor = run(&isoinfo, &["-d", "-i", img]);
    assert!(descriptor.contains("Volume id: cidata"), "{descriptor}");
    assert!(
        descriptor.contains("Joliet with UCS level 3 found"),
        "{descriptor}"
    );

    let joliet = run(&isoinfo, &["-J", "-f", "-i", img]);
    let mut names: Vec<&str> = joliet.lines().collect();
    names.sort_unstable();
    assert_eq!(
        names,
        [
            "/meta-data",
            "/network-config",
            "/user-data",
            "/vendor-data"
        ]
    );
    let primary = run(&isoinfo, &["-f", "-i", img]);
    assert!(primary.contains("/USER_DATA.;1"), "{primary}");

    for (name, content) in [
        ("meta-data", &seed.meta_data),
        ("user-data", &seed.user_data),
        ("network-config", &seed.network_config),
        ("vendor-data", &seed.vendor_data),
    ] {
        let got = run(&isoinfo, &["-J", "-i", img, "-x", &format!("/{name}")]);
        assert_eq!(Some(got), *content, "{name}");
    }
}
