//! No key material anywhere: a signed publication made and switched by rack leaves the
//! signing key's passphrase and secret key out of the state, the plan JSON, the
//! provider's TF_LOG=trace output, and every process's arguments during the apply.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use crate::apt_common::{PROVIDER, deb, signing, start, workdir};

/// The command lines of every process that holds one of `needles`, polled until `stop`.
fn watch_arguments(
    needles: Vec<String>,
    stop: Arc<AtomicBool>,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut seen = Vec::new();
        while !stop.load(Ordering::Relaxed) {
            for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let Ok(raw) = std::fs::read(e.path().join("cmdline")) else {
                    continue;
                };
                let line = String::from_utf8_lossy(&raw).replace('\0', " ");
                if needles.iter().any(|n| line.contains(n.as_str())) {
                    seen.push(line);
                }
            }
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        seen
    })
}

#[test]
fn no_key_material_in_state_plan_logs_or_arguments() {
    let aptly = start();
    let mut wd = workdir(&aptly);
    wd.set_env("TF_LOG", "trace");
    let v10 = deb(&wd, "hello", "1.0");
    let v11 = deb(&wd, "hello", "1.1");
    let config = |keys: &str| {
        format!(
            "{PROVIDER}
resource \"rack_apt_repository\" \"r\" {{
  name = \"ops\"
}}
resource \"rack_apt_package\" \"a\" {{
  repository  = rack_apt_repository.r.name
  source_file = \"{v10}\"
}}
resource \"rack_apt_package\" \"b\" {{
  repository  = rack_apt_repository.r.name
  source_file = \"{v11}\"
}}
resource \"rack_apt_snapshot\" \"s\" {{
  name         = \"s\"
  package_keys = [{keys}]
  lifecycle {{
    create_before_destroy = true
  }}
}}
resource \"rack_apt_publication\" \"p\" {{
  distribution = \"stable\"
  components   = {{ main = rack_apt_snapshot.s.aptly_name }}
  {}
}}
",
            signing(&aptly)
        )
    };
    let passphrase = aptly.passphrase();
    assert!(
        passphrase.len() >= 16,
        "the fixture's passphrase is too short to look for"
    );
    let secret = aptly
        .secret_key_armored()
        .unwrap_or_else(|e| panic!("cannot export the secret key: {e}"));
    let mut needles: Vec<String> = secret
        .lines()
        .filter(|l| l.len() >= 32 && !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    assert!(!needles.is_empty(), "no armored lines in:\n{secret}");
    needles.push(passphrase.trim().to_owned());

    let stop = Arc::new(AtomicBool::new(false));
    let watcher = watch_arguments(needles.clone(), stop.clone());
    let mut texts = Vec::new();
    for keys in ["rack_apt_package.a.key", "rack_apt_package.b.key"] {
        wd.write_main(&config(keys));
        let saved = wd.save_plan("p.tfplan");
        texts.push(saved.combined());
        texts.push(wd.run(&["show", "-json", "p.tfplan"]).combined());
        texts.push(wd.apply_saved("p.tfplan").combined());
    }
    stop.store(true, Ordering::Relaxed);
    let arguments = watcher.join().expect("watcher");
    texts.push(std::fs::read_to_string(wd.path().join("terraform.tfstate")).expect("state"));
    let all = texts.join("\n");
    assert!(
        all.contains("rack_apt_publication") && all.contains("TRACE"),
        "the trace log is missing"
    );
    assert!(all.contains(&aptly.key.key_id), "the key id is in state");
    for n in &needles {
        assert!(!all.contains(n.as_str()), "key material {n:?} found");
    }
    assert!(
        arguments.is_empty(),
        "key material in process arguments: {arguments:?}"
    );
    // The publication really is signed by the key.
    let in_release = std::fs::read_to_string(aptly.public_dir().join("dists/stable/InRelease"))
        .expect("InRelease");
    assert!(in_release.contains("BEGIN PGP SIGNATURE"), "{in_release}");
    wd.destroy();
}
