//! `terraform query` adopts what a team already runs, for the kinds whose list resources
//! the other stories do not cover: zones (BIND through its zone directory and rndc,
//! PowerDNS through its API), networks, storage pools and volumes, the files of a
//! provisioning server (nginx, through its JSON directory listings), and the packages of
//! an aptly server. One working directory
//! makes the objects; a second one, with no state, lists them, writes their
//! configuration with `-generate-config-out`, imports them by applying it (nothing is
//! added or changed), and then plans nothing.

use rack_acceptance_tests::Workdir;
use rack_core::apt::{Repo, read_deb};
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
    adopt_edited(wd, query, wanted, str::to_owned);
}

/// [`adopt`], with the generated configuration passed through `edit` before the apply.
fn adopt_edited(wd: &Workdir, query: &str, wanted: &[&str], edit: impl Fn(&str) -> String) {
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
    let generated = edit(&generated);
    wd.write_file("generated.tf", &generated);
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

#[test]
fn apt_packages_uploaded_by_hand_are_listed_and_adopted() {
    use crate::apt_common::{PROVIDER, block_on, client, deb, start, workdir};
    let aptly = start();
    let adopter = workdir(&aptly);
    adopter.write_main(PROVIDER);
    // Uploaded out of band with rack's client, as a release script would: the .deb paths
    // (relative to the workdir) by sha256, for the `source_file`s of the adoption.
    let c = client(&aptly);
    let mut debs = Vec::new();
    for (repo, name, version) in [
        ("ops", "hello", "1.0"),
        ("ops", "hello", "1.1"),
        ("lab", "tool", "2.0"),
    ] {
        let path = deb(&adopter, name, version);
        let local = read_deb(&adopter.path().join(&path)).expect("read the .deb");
        block_on(async {
            if c.repo(repo).await.expect("list repositories").is_none() {
                let r = Repo {
                    name: repo.into(),
                    ..Repo::default()
                };
                c.create_repo(&r).await.expect("create the repository");
            }
            c.add_package(repo, &local.file_name, local.content, &local.sha256)
                .await
                .expect("upload the .deb");
        });
        debs.push((local.sha256, path));
    }

    // One repository, filtered by an aptly query.
    let one = workdir(&aptly);
    one.write_main(PROVIDER);
    one.write_file(
        "one.tfquery.hcl",
        "list \"rack_apt_package\" \"ops\" {\n  provider = rack\n  config {\n    \
         repository = \"ops\"\n    query      = \"$Version (>= 1.1)\"\n  }\n}\n",
    );
    let names = one.query_display_names();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("ops/Pamd64 hello 1.1 "), "{names:?}");

    // Every repository; the generated blocks get the `source_file` they cannot carry.
    let with_source_files = |generated: &str| {
        let mut out = String::new();
        for line in generated.lines() {
            if line.trim_start().starts_with("source_file") {
                continue;
            }
            out.push_str(line);
            out.push('\n');
            if line.trim_start().starts_with("sha256")
                && let Some((_, path)) = debs.iter().find(|(sha, _)| line.contains(sha.as_str()))
            {
                out.push_str(&format!("  source_file = \"{path}\"\n"));
            }
        }
        out
    };
    adopt_edited(
        &adopter,
        "list \"rack_apt_package\" \"all\" {\n  provider = rack\n}\n",
        &[
            "ops/Pamd64 hello 1.0 ",
            "ops/Pamd64 hello 1.1 ",
            "lab/Pamd64 tool 2.0 ",
        ],
        with_source_files,
    );
    let state = adopter.show_json();
    let ids: Vec<_> = rack_acceptance_tests::state_resources(&state)
        .into_iter()
        .filter_map(|r| {
            r.pointer("/values/id")
                .and_then(|v| v.as_str())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(ids.len(), 3, "{state}");
    assert!(
        ids.iter().any(|i| i.starts_with("lab/Pamd64 tool 2.0 ")),
        "{ids:?}"
    );
}
