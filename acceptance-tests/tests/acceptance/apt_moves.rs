//! A repository renamed in place keeps its packages, and a package pointed at another
//! repository moves there: both are updates in place, and the next plan is empty.

use rack_core::apt::PackageSource;

use crate::apt_common::{PROVIDER, block_on, client, deb, start, workdir};

/// Two repositories and one package in `home` (`a` or `b`); `a` is named `a_name`.
fn config(a_name: &str, comment: &str, home: &str, hello: &str) -> String {
    format!(
        "{PROVIDER}
resource \"rack_apt_repository\" \"a\" {{
  name    = \"{a_name}\"
  comment = \"{comment}\"
}}
resource \"rack_apt_repository\" \"b\" {{
  name = \"other\"
}}
resource \"rack_apt_package\" \"hello\" {{
  repository  = rack_apt_repository.{home}.name
  source_file = \"{hello}\"
}}
"
    )
}

/// The keys of the packages of every repository, by repository name.
fn contents(aptly: &rack_lab::Aptly) -> Vec<(String, String, Vec<String>)> {
    let c = client(aptly);
    let repos = block_on(c.repos()).expect("list repositories");
    let mut out: Vec<(String, String, Vec<String>)> = repos
        .iter()
        .map(|r| {
            let keys = block_on(c.packages(PackageSource::Repo(&r.name)))
                .expect("list packages")
                .iter()
                .map(|p| p.key.clone())
                .collect();
            (r.name.clone(), r.comment.clone(), keys)
        })
        .collect();
    out.sort();
    out
}

#[test]
fn a_renamed_repository_keeps_its_packages_and_a_package_moves_in_place() {
    let aptly = start();
    let wd = workdir(&aptly);
    let hello = deb(&wd, "hello", "1.0");
    wd.write_main(&config("ops", "first", "a", &hello));
    wd.apply();
    wd.assert_plan_empty();
    let key = wd.resource_values("rack_apt_package.hello")["key"]
        .as_str()
        .expect("key")
        .to_owned();

    // Rename `ops` to `ops2` and change its comment: both in place.
    wd.write_main(&config("ops2", "second", "a", &hello));
    wd.apply_planned(&[
        ("rack_apt_repository.a", &["update"]),
        ("rack_apt_package.hello", &["update"]),
    ]);
    wd.assert_plan_empty();
    assert_eq!(
        contents(&aptly),
        vec![
            ("ops2".to_owned(), "second".to_owned(), vec![key.clone()]),
            ("other".to_owned(), String::new(), vec![]),
        ]
    );
    assert_eq!(
        wd.resource_values("rack_apt_package.hello")["key"],
        key.as_str()
    );

    // Point the package at the other repository: it moves, in place.
    wd.write_main(&config("ops2", "second", "b", &hello));
    wd.apply_planned(&[("rack_apt_package.hello", &["update"])]);
    wd.assert_plan_empty();
    assert_eq!(
        contents(&aptly),
        vec![
            ("ops2".to_owned(), "second".to_owned(), vec![]),
            ("other".to_owned(), String::new(), vec![key.clone()]),
        ]
    );

    wd.destroy();
    assert!(contents(&aptly).is_empty());
}
