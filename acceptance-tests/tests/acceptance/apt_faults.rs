//! Faults: aptly restarted in the middle of an apply (the next apply converges), and two
//! Terraform runs switching two publications at once (neither sees aptly's conflict).

use std::process::Stdio;
use std::time::{Duration, Instant};

use crate::apt_common::{PROVIDER, block_on, client, deb, start, workdir};

/// A repository with `n` packages, a snapshot of them and an unsigned publication.
fn config(debs: &[String], distribution: &str, repo: &str) -> String {
    let mut hcl =
        format!("{PROVIDER}\nresource \"rack_apt_repository\" \"r\" {{\n  name = \"{repo}\"\n}}\n");
    for (i, d) in debs.iter().enumerate() {
        hcl.push_str(&format!(
            "resource \"rack_apt_package\" \"p{i}\" {{\n  repository  = rack_apt_repository.r.name\n  source_file = \"{d}\"\n}}\n"
        ));
    }
    let keys: Vec<String> = (0..debs.len())
        .map(|i| format!("rack_apt_package.p{i}.key"))
        .collect();
    hcl.push_str(&format!(
        "resource \"rack_apt_snapshot\" \"s\" {{\n  name = \"{repo}\"\n  package_keys = [{}]\n  lifecycle {{\n    create_before_destroy = true\n  }}\n}}\n\
         resource \"rack_apt_publication\" \"p\" {{\n  distribution = \"{distribution}\"\n  components = {{ main = rack_apt_snapshot.s.aptly_name }}\n  signing {{\n    skip = true\n  }}\n}}\n",
        keys.join(", ")
    ));
    hcl
}

#[test]
fn aptly_restarted_mid_apply_then_the_next_apply_converges() {
    let mut aptly = start();
    let wd = workdir(&aptly);
    let debs: Vec<String> = (0..12)
        .map(|i| deb(&wd, &format!("pkg{i}"), "1.0"))
        .collect();
    wd.write_main(&config(&debs, "stable", "ops"));
    let mut apply = wd
        .command(["apply", "-auto-approve", "-input=false", "-no-color"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start terraform apply");
    // Restart aptly once the repository exists, while the packages are uploaded.
    let c = client(&aptly);
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        block_on(c.invalidate());
        if block_on(c.repo("ops")).ok().flatten().is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the apply never created the repository"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    aptly
        .restart_api()
        .unwrap_or_else(|e| panic!("cannot restart aptly: {e}"));
    let _ = apply.wait();
    // Whatever the first apply left, the next one converges.
    wd.apply();
    wd.assert_plan_empty();
    wd.destroy();
    wd.assert_destroyed();
}

#[test]
fn two_publications_switched_at_once() {
    let aptly = start();
    let (a, b) = (workdir(&aptly), workdir(&aptly));
    let (a1, a2) = (deb(&a, "alpha", "1.0"), deb(&a, "alpha", "1.1"));
    let (b1, b2) = (deb(&b, "beta", "1.0"), deb(&b, "beta", "1.1"));
    a.write_main(&config(std::slice::from_ref(&a1), "alpha", "alpha"));
    b.write_main(&config(std::slice::from_ref(&b1), "beta", "beta"));
    a.apply();
    b.apply();
    // Both switch their publication (a new snapshot each) at the same time.
    a.write_main(&config(std::slice::from_ref(&a2), "alpha", "alpha"));
    b.write_main(&config(std::slice::from_ref(&b2), "beta", "beta"));
    let spawn = |wd: &rack_acceptance_tests::Workdir| {
        wd.command(["apply", "-auto-approve", "-input=false", "-no-color"])
            .output()
    };
    let (ra, rb) = std::thread::scope(|s| {
        let ta = s.spawn(|| spawn(&a));
        let tb = s.spawn(|| spawn(&b));
        (ta.join(), tb.join())
    });
    for r in [ra, rb] {
        let out = r.expect("thread").expect("terraform apply");
        assert!(
            out.status.success(),
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    a.assert_plan_empty();
    b.assert_plan_empty();
    let pubs = block_on(client(&aptly).publications()).expect("publications");
    assert_eq!(pubs.len(), 2);
    a.destroy();
    b.destroy();
}
