//! The staged flow of an ops team's APT repository: `hello` 1.0 in the main distribution
//! (pinned at 940), 1.1 uploaded to proposed-updates (pinned at -1), where a real
//! `apt-get` keeps 1.0 as its candidate; then promotion, a new main snapshot with 1.1 and
//! a switch of the publication in one apply with `create_before_destroy`, after which the
//! candidate is 1.1. Then drift, import and destroy.

use rack_core::apt::{PackageSource, sha256_hex};

use crate::apt_common::{
    AptClient, PROVIDER, block_on, client, deb, public_files, signing, start, workdir,
};

/// The configuration: a repository, both versions uploaded, the main snapshot holding
/// `main_keys`, proposed-updates holding 1.1, a `profile/lb` component holding both
/// versions, the two publications, and the client's sources and pins as outputs.
fn config(aptly: &rack_lab::Aptly, v10: &str, v11: &str, main_keys: &str) -> String {
    let sign = signing(aptly);
    let url = &aptly.url;
    let keyring = aptly.key.keyring.display();
    format!(
        r#"{PROVIDER}
resource "rack_apt_repository" "ops" {{
  name    = "ops"
  comment = "built here"
}}

resource "rack_apt_package" "hello_10" {{
  repository  = rack_apt_repository.ops.name
  source_file = "{v10}"
}}

resource "rack_apt_package" "hello_11" {{
  repository  = rack_apt_repository.ops.name
  source_file = "{v11}"
}}

resource "rack_apt_snapshot" "main" {{
  name         = "main"
  package_keys = [{main_keys}]
  lifecycle {{
    create_before_destroy = true
  }}
}}

resource "rack_apt_snapshot" "proposed" {{
  name         = "proposed"
  package_keys = [rack_apt_package.hello_11.key]
  lifecycle {{
    create_before_destroy = true
  }}
}}

resource "rack_apt_snapshot" "lb" {{
  name         = "lb"
  package_keys = [rack_apt_package.hello_10.key, rack_apt_package.hello_11.key]
  lifecycle {{
    create_before_destroy = true
  }}
}}

resource "rack_apt_publication" "main" {{
  distribution = "ops-main"
  origin       = "rack-ops"
  label        = "ops"
  components = {{
    main         = rack_apt_snapshot.main.aptly_name
    "profile/lb" = rack_apt_snapshot.lb.aptly_name
  }}
  {sign}
}}

resource "rack_apt_publication" "proposed" {{
  distribution  = "proposed-updates"
  origin        = "rack-ops"
  architectures = ["amd64"]
  components = {{
    main = rack_apt_snapshot.proposed.aptly_name
  }}
  {sign}
}}

output "sources" {{
  value = provider::rack::apt_sources("{url}", ["ops-main", "proposed-updates"], ["main"], "{keyring}")
}}

output "sources_lb" {{
  value = provider::rack::apt_sources("{url}", ["ops-main"], ["profile/lb"], "{keyring}")
}}

output "pins" {{
  value = join("\n", [
    provider::rack::apt_pin("*", "rack-ops", "ops-main", 940),
    provider::rack::apt_pin("*", "rack-ops", "proposed-updates", -1),
  ])
}}
"#
    )
}

fn out(wd: &rack_acceptance_tests::Workdir, name: &str) -> String {
    wd.output(name)
        .as_str()
        .unwrap_or_else(|| panic!("output {name} is not a string"))
        .to_owned()
}

#[test]
fn staged_promotion_drift_import_and_destroy() {
    let aptly = start();
    let wd = workdir(&aptly);
    let v10 = deb(&wd, "hello", "1.0");
    let v11 = deb(&wd, "hello", "1.1");
    let v10_sha = sha256_hex(&std::fs::read(wd.path().join(&v10)).expect("read 1.0"));
    let v11_sha = sha256_hex(&std::fs::read(wd.path().join(&v11)).expect("read 1.1"));

    // 1. hello 1.0 in main, 1.1 in proposed-updates.
    wd.write_main(&config(&aptly, &v10, &v11, "rack_apt_package.hello_10.key"));
    wd.apply();
    wd.assert_plan_empty();
    let apt = AptClient::new(&out(&wd, "sources"), &out(&wd, "pins"));
    let update = apt.update();
    assert!(update.contains("InRelease"), "{update}");
    assert_eq!(apt.candidate("hello"), "1.0", "{}", apt.policy("hello"));
    let policy = apt.policy("hello");
    assert!(
        policy.contains(" -1 ") && policy.contains(" 940 "),
        "{policy}"
    );
    assert_eq!(sha256_hex(&apt.download("hello")), v10_sha);
    // Two versions of one package in one distribution, under a component with a slash.
    let lb_client = AptClient::new(&out(&wd, "sources_lb"), "");
    lb_client.update();
    let lb_policy = lb_client.policy("hello");
    assert!(
        lb_policy.contains(" 1.0 ") && lb_policy.contains(" 1.1 "),
        "{lb_policy}"
    );
    let c = client(&aptly);
    let lb_name = wd.resource_values("rack_apt_snapshot.lb")["aptly_name"]
        .as_str()
        .expect("aptly_name")
        .to_owned();
    let lb = block_on(c.packages(PackageSource::Snapshot(&lb_name))).expect("lb packages");
    assert_eq!(lb.len(), 2);
    assert!(
        std::fs::read_to_string(aptly.public_dir().join("dists/ops-main/Release"))
            .expect("Release")
            .contains("Components: main profile/lb")
    );

    // 2. Promote: a new main snapshot with 1.1, the publication switched in place.
    let old_main = wd.resource_values("rack_apt_snapshot.main")["aptly_name"].clone();
    wd.write_main(&config(&aptly, &v10, &v11, "rack_apt_package.hello_11.key"));
    wd.apply_planned(&[
        ("rack_apt_snapshot.main", &["create", "delete"]),
        ("rack_apt_publication.main", &["update"]),
        ("rack_apt_publication.proposed", &["no-op"]),
    ]);
    wd.assert_plan_empty();
    let new_main = wd.resource_values("rack_apt_snapshot.main")["aptly_name"].clone();
    assert_ne!(old_main, new_main);
    let snaps = block_on(c.snapshots()).expect("snapshots");
    assert!(
        !snaps
            .iter()
            .any(|s| Some(s.name.as_str()) == old_main.as_str())
    );
    apt.update();
    assert_eq!(apt.candidate("hello"), "1.1", "{}", apt.policy("hello"));
    assert_eq!(sha256_hex(&apt.download("hello")), v11_sha);

    // 3. Import of each resource gives the same state, and the plan is empty right after
    // it: the package's sha256 comes from aptly, the snapshot's content from what rack
    // wrote into its description, the publication's signing from the import ID.
    wd.assert_import_same_state("rack_apt_repository.ops", "ops", &[]);
    wd.assert_plan_empty();
    let key11 = wd.resource_values("rack_apt_package.hello_11")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    wd.assert_import_same_state("rack_apt_package.hello_11", &format!("ops/{key11}"), &[]);
    wd.assert_plan_empty();
    for snapshot in ["proposed", "main"] {
        let address = format!("rack_apt_snapshot.{snapshot}");
        let name = wd.resource_values(&address)["aptly_name"]
            .as_str()
            .expect("aptly_name")
            .to_owned();
        wd.assert_import_same_state(&address, &name, &[]);
    }
    wd.assert_plan_empty();
    let signed_id = format!(
        "./proposed-updates?key_id={}&passphrase_file={}",
        aptly.key.key_id,
        aptly.key.passphrase_file.display()
    );
    wd.assert_import_same_state("rack_apt_publication.proposed", &signed_id, &[]);
    wd.assert_plan_empty();
    // Imported without its signing: the configured signing is an update, which signs
    // the publication again with it.
    wd.assert_import_same_state("rack_apt_publication.main", "./ops-main", &["signing"]);
    wd.apply_planned(&[
        ("rack_apt_publication.main", &["update"]),
        ("rack_apt_publication.proposed", &["no-op"]),
    ]);
    wd.assert_plan_empty();

    // 4. A package removed out of band shows in the plan, and the next apply puts it back
    // (a new key: the snapshot holding it is replaced, its publication switched).
    let key10 = wd.resource_values("rack_apt_package.hello_10")["key"]
        .as_str()
        .expect("key")
        .to_owned();
    block_on(c.remove_packages("ops", &[key10])).expect("remove out of band");
    let plan = wd.plan();
    assert_eq!(plan.actions("rack_apt_package.hello_10"), ["create"]);
    wd.apply();
    wd.assert_plan_empty();

    // 5. Destroy leaves nothing in aptly.
    wd.destroy();
    wd.assert_destroyed();
    block_on(c.invalidate());
    assert!(block_on(c.repos()).expect("repos").is_empty());
    assert!(block_on(c.snapshots()).expect("snapshots").is_empty());
    assert!(block_on(c.publications()).expect("publications").is_empty());
    assert_eq!(public_files(&aptly), Vec::<std::path::PathBuf>::new());
}
