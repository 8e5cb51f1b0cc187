//! Bad apt configurations fail at plan time with a diagnostic at the attribute, and
//! dropping a snapshot that is still published fails saying where it is published (over
//! HTTPS to the proxy in front of aptly).

use rack_core::apt::{NewPublication, Signing, Source};

use crate::apt_common::{PROVIDER, block_on, client, deb, start, start_tls, workdir};

#[test]
fn bad_input_is_refused_at_plan_time() {
    let aptly = start();
    let wd = workdir(&aptly);
    let hello = deb(&wd, "hello", "1.0");
    wd.write_file("debs/notes.deb", "this is not a Debian package\n");
    let c = client(&aptly);
    // An empty snapshot made out of band.
    block_on(c.snapshot_packages("empty", "", &[], &[])).expect("empty snapshot");
    let repo = "resource \"rack_apt_repository\" \"r\" {\n  name = \"ops\"\n}\n";
    for (body, needles) in [
        (
            format!(
                "{repo}resource \"rack_apt_package\" \"p\" {{\n  repository = rack_apt_repository.r.name\n  source_file = \"debs/notes.deb\"\n}}\n"
            ),
            &["Cannot use \"debs/notes.deb\"", "not a Debian package", "source_file"][..],
        ),
        (
            format!(
                "{repo}resource \"rack_apt_package\" \"p\" {{\n  repository = rack_apt_repository.r.name\n  source_file = \"{hello}\"\n  sha256 = \"{}\"\n}}\n",
                "0".repeat(64)
            ),
            &["The file's sha256 does not match", "sha256"][..],
        ),
        (
            "resource \"rack_apt_snapshot\" \"s\" {\n  name = \"s\"\n  source_snapshots = [\"nope\"]\n}\n".to_owned(),
            &["Unknown snapshot \"nope\"", "source_snapshots"][..],
        ),
        (
            "resource \"rack_apt_publication\" \"p\" {\n  distribution = \"d\"\n  components = { main = \"nope\" }\n  signing { skip = true }\n}\n".to_owned(),
            &["Unknown snapshot \"nope\"", "components"][..],
        ),
        (
            "resource \"rack_apt_publication\" \"p\" {\n  distribution = \"d\"\n  components = { main = \"empty\" }\n  signing { skip = true }\n}\n".to_owned(),
            &["Set `architectures`", "architectures"][..],
        ),
        (
            "resource \"rack_apt_publication\" \"p\" {\n  distribution = \"d\"\n  architectures = [\"amd64\"]\n  components = { \"pro file\" = \"empty\" }\n  signing { skip = true }\n}\n".to_owned(),
            &["Invalid component name", "whitespace"][..],
        ),
        (
            "resource \"rack_apt_snapshot\" \"s\" {\n  name = \"s\"\n  repository = \"ops\"\n  package_keys = [\"x\"]\n}\n".to_owned(),
            &["A snapshot needs exactly one source"][..],
        ),
    ] {
        wd.write_main(&format!("{PROVIDER}\n{body}"));
        let text = wd.plan_fails().combined();
        for n in needles {
            assert!(text.contains(n), "{body}: missing {n:?} in\n{text}");
        }
    }
    block_on(c.invalidate());
    assert!(block_on(c.repos()).expect("repos").is_empty());
    assert!(block_on(c.publications()).expect("publications").is_empty());
}

/// Over HTTPS: the provider trusts the proxy's CA through `RACK_APT_CA_CERT`.
#[test]
fn a_published_snapshot_is_not_dropped() {
    let aptly = start_tls();
    let wd = workdir(&aptly);
    let hello = deb(&wd, "hello", "1.0");
    let config = format!(
        "{PROVIDER}
resource \"rack_apt_repository\" \"r\" {{
  name = \"ops\"
}}
resource \"rack_apt_package\" \"p\" {{
  repository  = rack_apt_repository.r.name
  source_file = \"{hello}\"
}}
resource \"rack_apt_snapshot\" \"s\" {{
  name       = \"s\"
  repository = rack_apt_repository.r.name
  depends_on = [rack_apt_package.p]
}}
"
    );
    wd.write_main(&config);
    wd.apply();
    let name = wd.resource_values("rack_apt_snapshot.s")["aptly_name"]
        .as_str()
        .expect("aptly_name")
        .to_owned();
    // Published outside Terraform.
    let c = client(&aptly);
    block_on(c.publish(&NewPublication {
        prefix: ".".into(),
        distribution: "theirs".into(),
        source_kind: "snapshot".into(),
        sources: vec![Source {
            component: "main".into(),
            name: name.clone(),
        }],
        acquire_by_hash: true,
        signing: Signing {
            skip: true,
            ..Signing::default()
        },
        ..NewPublication::default()
    }))
    .expect("publish out of band");
    let run = wd.run(&["destroy", "-auto-approve", "-input=false", "-no-color"]);
    assert_ne!(run.code, Some(0), "destroy succeeded:\n{run}");
    let text = run.combined();
    for n in [
        format!("Snapshot {name:?} is still in use"),
        "./theirs".to_owned(),
    ] {
        assert!(text.contains(&n), "missing {n:?} in\n{text}");
    }
    assert!(block_on(c.unpublish(".", "theirs")).expect("unpublish"));
    wd.destroy();
    wd.assert_destroyed();
}
