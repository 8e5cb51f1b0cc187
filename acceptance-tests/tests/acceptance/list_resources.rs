//! `terraform query` adopts what a team already runs, for the kinds whose list resources
//! the other stories do not cover: zones (BIND through its zone directory and rndc,
//! PowerDNS through its API), networks, storage pools and volumes, and the files of a
//! provisioning server (nginx, through its JSON directory listings). One working directory
//! makes the objects; a second one, with no state, lists them, writes their
//! configuration with `-generate-config-out`, imports them by applying it (nothing is
//! added or changed), and then plans nothing.

use rack_acceptance_tests::Workdir;
use rack_lab::{Named, Provisioning};

use crate::dns_zone::{bind_workdir, pdns_with_key, pdns_zone_workdir};
use crate::libvirt_common::{PROVIDER, dir_pool_hcl, isolated_network_hcl, start, workdir};

/// A zone `name` with one name server outside it.
fn zone(label: &str, name: &str) -> String {
    format!(
        r#"
resource "rack_dns_zone" "{label}" {{
  name = "{name}"
  soa = {{
    mname = "ns1.farm."
    rname = "hostmaster.farm."
  }}
  nameservers = ["ns1.farm."]
}}
"#
    )
}

/// Lists with `query` (a `.tfquery.hcl` holding `query`) in `wd`, whose `main.tf` holds
/// the provider only, checks that `wanted` are among the display names, generates the
/// configuration, applies it (every listed object imported, nothing added or changed)
/// and plans nothing.
fn adopt(wd: &Workdir, query: &str, wanted: &[&str]) {
    wd.write_file("adopt.tfquery.hcl", query);
    let names = wd.query_display_names();
    for w in wanted {
        assert!(
            names.iter().any(|n| n.starts_with(w)),
            "{w} not listed: {names:?}"
        );
    }
    let out = wd
        .run(&["query", "-no-color", "-generate-config-out=generated.tf"])
        .success();
    let generated = std::fs::read_to_string(wd.path().join("generated.tf"))
        .unwrap_or_else(|e| panic!("no generated.tf ({e})\n{out}"));
    // Objects rack cannot manage (the fixture's own zone with an in-zone name server)
    // are left out, with a warning.
    let adoptable = generated.matches("import {").count();
    assert!(adoptable >= wanted.len(), "{names:?}\n{generated}");
    let _ = std::fs::remove_file(wd.path().join("adopt.tfquery.hcl"));
    let applied = wd.apply();
    assert!(
        applied.stdout.contains(&format!(
            "{adoptable} imported, 0 added, 0 changed, 0 destroyed"
        )),
        "{applied}\n{generated}"
    );
    wd.assert_plan_empty();
}

#[test]
fn zones_on_bind_and_powerdns_are_listed_and_adopted() {
    let named = Named::start().unwrap_or_else(|e| panic!("cannot start named: {e}"));
    let (maker, provider) = bind_workdir(&named);
    maker.write_main(&format!(
        "{provider}{}{}",
        zone("a", "listed.example."),
        zone("b", "60.10.10.in-addr.arpa.")
    ));
    maker.apply();
    let (adopter, provider) = bind_workdir(&named);
    adopter.write_main(&provider);
    adopt(
        &adopter,
        "list \"rack_dns_zone\" \"all\" {\n  provider = rack\n}\n",
        &["listed.example.", "60.10.10.in-addr.arpa."],
    );

    let pdns = pdns_with_key();
    let (maker, provider) = pdns_zone_workdir(&pdns);
    maker.write_main(&format!("{provider}{}", zone("a", "pdns.example.")));
    maker.apply();
    let (adopter, provider) = pdns_zone_workdir(&pdns);
    adopter.write_main(&provider);
    adopt(
        &adopter,
        "list \"rack_dns_zone\" \"all\" {\n  provider = rack\n}\n",
        &["pdns.example."],
    );
}

#[test]
fn networks_pools_and_volumes_are_listed_and_adopted() {
    let libvirt = start();
    let maker = workdir(&libvirt);
    let pool_dir = libvirt.dir().join("listed-pool");
    maker.write_main(&format!(
        r#"{PROVIDER}{}{}
resource "rack_volume" "empty" {{
  pool   = rack_storage_pool.p.name
  name   = "empty.qcow2"
  format = "qcow2"
  size   = "16MiB"
}}

resource "rack_volume" "overlay" {{
  pool        = rack_storage_pool.p.name
  name        = "overlay.qcow2"
  base_volume = rack_volume.empty.name
}}
"#,
        isolated_network_hcl("n", "listed", "10.10.91.0/24", ""),
        dir_pool_hcl("p", "listedpool", &pool_dir.display().to_string()),
    ));
    maker.apply();

    let adopter = workdir(&libvirt);
    adopter.write_main(PROVIDER);
    adopt(
        &adopter,
        "list \"rack_network\" \"all\" {\n  provider = rack\n}\n\
         list \"rack_storage_pool\" \"all\" {\n  provider = rack\n}\n\
         list \"rack_volume\" \"all\" {\n  provider = rack\n  config {\n    pool = \"listedpool\"\n  }\n}\n",
        &[
            "listed (active)",
            "listedpool (active)",
            "listedpool/empty.qcow2",
            "listedpool/overlay.qcow2",
        ],
    );
}

#[test]
fn boot_files_put_there_by_hand_are_listed_and_adopted() {
    let p = Provisioning::started();
    // Put on the server out of band, as an operator copying a tree there would.
    let files = [
        (
            "boot.ipxe",
            "#!ipxe\nchain http://10.0.0.5/boot/menu.ipxe\n",
        ),
        (
            "ztp/pod1/tor1.sh",
            "#!/bin/sh\n# CUMULUS-AUTOPROVISIONING\nexit 0\n",
        ),
        (
            "preseed/hv1.cfg",
            "d-i debian-installer/locale string en_US\n",
        ),
    ];
    for (path, text) in files {
        let f = p.file(path);
        std::fs::create_dir_all(f.parent().unwrap()).unwrap();
        std::fs::write(&f, text).unwrap();
    }
    let adopter = crate::boot_common::workdir(&p);
    adopter.write_main(crate::boot_common::PROVIDER);
    adopt(
        &adopter,
        "list \"rack_boot_file\" \"all\" {\n  provider = rack\n}\n",
        &["boot.ipxe (", "preseed/hv1.cfg (", "ztp/pod1/tor1.sh ("],
    );
    let state = adopter.show_json();
    let adopted = rack_acceptance_tests::state_resources(&state)
        .into_iter()
        .find(|r| r.pointer("/values/path").and_then(|v| v.as_str()) == Some("boot.ipxe"))
        .unwrap_or_else(|| panic!("boot.ipxe not in the state: {state}"));
    assert_eq!(adopted["values"]["content"], files[0].1, "{adopted}");
    // Adopting changed nothing on the server.
    assert_eq!(
        crate::boot_common::fetch(&p, "ztp/pod1/tor1.sh"),
        (200, files[1].1.to_owned())
    );
    // One directory alone.
    let one = crate::boot_common::workdir(&p);
    one.write_main(crate::boot_common::PROVIDER);
    one.write_file(
        "one.tfquery.hcl",
        "list \"rack_boot_file\" \"ztp\" {\n  provider = rack\n  config {\n    directory = \"ztp\"\n  }\n}\n",
    );
    let names = one.query_display_names();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("ztp/pod1/tor1.sh"), "{names:?}");
}
