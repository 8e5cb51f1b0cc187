//! CI pipelines: `examples/ci/pipeline.sh` run as CI runs it, against named and Kea, with
//! the state in Terraform's `pg` backend on PostgreSQL and rack installed on every runner
//! from a provider network mirror (`scripts/release` served by nginx over HTTPS), never
//! from `dev_overrides`:
//! - the pipeline end to end, records, leases and a VM on libvirtd: plan in one
//!   directory, apply the saved plan in another, a drift check in a third finds nothing;
//! - a saved plan gone stale by an out-of-band change is refused, naming the record, and
//!   a new plan converges;
//! - two applies at once against one state: the second fails on the lock or waits for it;
//! - the drift job exits 2 and its JSON names what changed;
//! - `terraform show -json` of a saved plan holding every sensitive and write-only
//!   attribute of rack's schema holds none of their values, and applying it without the
//!   write-only value again fails saying so.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::{Duration, Instant};

use rack_acceptance_tests::{
    CmdResult, PROVIDER_SOURCE, PROVIDER_VERSION, Workdir, provider_binary, run_command,
    terraform_path, workspace_root,
};
use rack_lab::nginx::{Nginx, network_mirror_cli_config};
use rack_lab::{Kea, Libvirt, Named, OvsPki, Postgres};
use serde_json::Value;

use crate::dhcp_common;
use crate::dns_common::Server;
use crate::libvirt_common::{self, virsh_dir_pool, virsh_ok};

/// Deadline for one stage of the pipeline.
const STAGE_TIMEOUT: Duration = Duration::from_secs(300);

/// The hosts the pipeline applies (the example's `hosts` variable), in Kea's subnet.
const HOSTS: &str = r#"{ web1 = { ip = "10.77.0.11", mac = "52:54:00:00:77:11" }, web2 = { ip = "10.77.0.12", mac = "52:54:00:00:77:12" } }"#;

/// `scripts/release` of the provider under test, once per test run: its output directory
/// (`release/`, `mirror/`), named after this process. Those of earlier runs whose process
/// is gone are removed first.
fn release() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let work = workspace_root().join("acceptance-tests").join(".work");
        for entry in std::fs::read_dir(&work).into_iter().flatten().flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if let Some(pid) = name.strip_prefix("ci-release-")
                && !Path::new("/proc").join(pid).exists()
            {
                let _ = std::fs::remove_dir_all(entry.path());
            }
        }
        let dir = work.join(format!("ci-release-{}", std::process::id()));
        let mut cmd = Command::new(workspace_root().join("scripts/release"));
        cmd.arg("--out")
            .arg(&dir)
            .arg("--binary")
            .arg(format!("linux_amd64={}", provider_binary().display()))
            .arg("--throwaway-key");
        run_command(cmd, STAGE_TIMEOUT)
            .expect("run scripts/release")
            .success();
        dir
    })
}

/// The services a pipeline runs against, and the pipeline's artifacts directory.
struct Ci {
    named: Named,
    dns: Server,
    kea: Kea,
    pg: Postgres,
    nginx: Nginx,
    artifacts: tempfile::TempDir,
    hosts: String,
    /// The runners' settings of the VMs, when the pipeline has some.
    vm_env: Vec<(String, String)>,
    /// The hypervisor of the VMs, when the pipeline has some.
    libvirt: Option<Libvirt>,
}

impl Ci {
    fn start() -> Self {
        let mirror = release().join("mirror");
        let named = Named::started();
        let dns = Server::of_named(&named);
        let kea = dhcp_common::start();
        let pg = Postgres::started();
        let nginx = Nginx::started_https(&mirror);
        let artifacts = tempfile::Builder::new()
            .prefix("ci-artifacts-")
            .tempdir_in(workspace_root().join("acceptance-tests").join(".work"))
            .expect("an artifacts dir");
        Self {
            named,
            dns,
            kea,
            pg,
            nginx,
            artifacts,
            hosts: HOSTS.to_owned(),
            vm_env: Vec::new(),
            libvirt: None,
        }
    }

    /// [`Ci::start`] and a libvirtd with a storage pool and a network made outside
    /// Terraform, as a team's hypervisor has them; the pipeline makes web1 a VM there
    /// (defined, not started: a VM's life is `vm_lifecycle`'s story).
    fn start_with_vm() -> Self {
        let mut ci = Self::start();
        let libvirt = libvirt_common::start();
        virsh_dir_pool(&libvirt, "ci", "ci-pool");
        let xml = libvirt.dir().join("ci-net.xml");
        std::fs::write(
            &xml,
            "<network><name>ci</name><bridge name='rkci0'/></network>\n",
        )
        .expect("write the network's XML");
        virsh_ok(&libvirt, &["net-define", &xml.display().to_string()]);
        virsh_ok(&libvirt, &["net-start", "ci"]);
        ci.vm_env = vec![
            ("RACK_HYPERVISORS".into(), libvirt.uri.clone()),
            ("RACK_HYPERVISOR_TIMEOUT".into(), "60s".into()),
            (
                "TF_VAR_vms".into(),
                r#"{ web1 = { memory = "64MiB", disk = "16MiB", type = "qemu", running = false } }"#
                    .into(),
            ),
            ("TF_VAR_vm_pool".into(), "ci".into()),
            ("TF_VAR_vm_network".into(), "ci".into()),
        ];
        ci.libvirt = Some(libvirt);
        ci
    }

    /// `PG_CONN_STR` of the state's database (the password in it: a CI secret).
    fn pg_conn_str(&self) -> String {
        format!(
            "postgres://{}:{}@{}/{}?sslmode=disable",
            self.pg.user, self.pg.password, self.pg.addr, self.pg.database
        )
    }

    /// What a runner's environment holds: the CI's secrets and variables.
    fn env(&self) -> Vec<(String, String)> {
        let key = &self.dns.key;
        vec![
            ("PG_CONN_STR".into(), self.pg_conn_str()),
            ("RACK_DNS_ADDRESS".into(), self.dns.addr.to_string()),
            ("RACK_DNS_KEY_NAME".into(), key.name.clone()),
            ("RACK_DNS_KEY_ALGORITHM".into(), key.algorithm.clone()),
            ("RACK_DNS_KEY_SECRET".into(), key.secret.clone()),
            ("RACK_DHCP_KEA_URL".into(), self.kea.url.clone()),
            ("RACK_DHCP_KEA_USERNAME".into(), self.kea.username.clone()),
            ("RACK_DHCP_KEA_PASSWORD".into(), self.kea.password.clone()),
            ("RACK_DHCP_KEA_TIMEOUT".into(), "10s".into()),
            ("RACK_PROVIDER_MIRROR_URL".into(), self.nginx.url.clone()),
            (
                "SSL_CERT_FILE".into(),
                self.nginx.ca_cert.display().to_string(),
            ),
            ("TF_VAR_subnet".into(), dhcp_common::SUBNET.into()),
            ("TF_VAR_zone".into(), "farm.".into()),
            ("TF_VAR_hosts".into(), self.hosts.clone()),
        ]
        .into_iter()
        .chain(self.vm_env.iter().cloned())
        .collect()
    }

    /// `examples/ci/pipeline.sh <stage>` as a CI job runs it; not judged.
    fn stage(&self, stage: &str) -> CmdResult {
        let mut cmd = Command::new(workspace_root().join("examples/ci/pipeline.sh"));
        cmd.arg(stage)
            .current_dir(self.artifacts.path())
            .env_remove("TF_CLI_CONFIG_FILE")
            .env_remove("TF_CLI_ARGS")
            .env_remove("TF_DATA_DIR")
            .env("ARTIFACTS", self.artifacts.path())
            .env("TERRAFORM", terraform_path())
            .env("TF_LOCK_TIMEOUT", "60s")
            .envs(self.env());
        run_command(cmd, STAGE_TIMEOUT).expect("run pipeline.sh")
    }

    /// A working directory of the example's configuration whose CLI configuration
    /// installs rack from the network mirror, with the runner's environment.
    fn workdir(&self) -> Workdir {
        let mut wd = Workdir::with_cli_config_text(&network_mirror_cli_config(&self.nginx.url));
        wd.copy_files_from(&workspace_root().join("examples/ci"));
        for (k, v) in self.env() {
            wd.set_env(k, v);
        }
        wd
    }

    fn artifact(&self, relative: &str) -> String {
        let path = self.artifacts.path().join(relative);
        std::fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()))
    }

    fn artifact_json(&self, relative: &str) -> Value {
        serde_json::from_str(&self.artifact(relative)).expect("artifact is JSON")
    }

    /// Replaces `name`'s A records behind Terraform's back.
    fn change_record(&self, name: &str, ip: &str) {
        self.dns.nsupdate(&format!(
            "update delete {name} A\nupdate add {name} 300 A {ip}\nsend\n"
        ));
    }

    /// How many times runners fetched the provider's zip from the mirror.
    fn zip_downloads(&self) -> usize {
        let zip = format!("terraform-provider-rack_{PROVIDER_VERSION}_linux_amd64.zip");
        self.nginx
            .access_log()
            .lines()
            .filter(|l| l.contains(&zip) && l.contains("\" 200 "))
            .count()
    }
}

/// The release's `SHA256SUMS`, verified against its detached signature with the
/// release's public key (`gpgv`, which needs no agent); the zip's sha256.
fn zip_sha256() -> String {
    let rel = release().join("release");
    let sums = rel.join(format!(
        "terraform-provider-rack_{PROVIDER_VERSION}_SHA256SUMS"
    ));
    let keyring = rel.join("signing-key.gpg");
    let mut dearmor = Command::new("gpg");
    dearmor
        .args(["--batch", "--yes", "--dearmor", "--output"])
        .arg(&keyring)
        .arg(rel.join("signing-key.asc"));
    run_command(dearmor, STAGE_TIMEOUT)
        .expect("gpg is missing: install the Debian package gnupg")
        .success();
    let mut verify = Command::new("gpgv");
    verify
        .arg("--keyring")
        .arg(&keyring)
        .arg(sums.with_extension("").with_file_name(format!(
            "terraform-provider-rack_{PROVIDER_VERSION}_SHA256SUMS.sig"
        )))
        .arg(&sums);
    run_command(verify, STAGE_TIMEOUT).expect("gpgv").success();
    let text = std::fs::read_to_string(&sums).expect("SHA256SUMS");
    text.lines()
        .find(|l| l.ends_with("_linux_amd64.zip"))
        .and_then(|l| l.split_whitespace().next())
        .expect("the zip's line in SHA256SUMS")
        .to_owned()
}

/// Terraform's `h1:` hash of the package in the release's zip: the sha256 of the lines
/// `<sha256 hex>  <file name>` of its files, sorted by name, in base64.
fn package_hash() -> String {
    use base64::Engine as _;
    use sha2::{Digest, Sha256};
    let zip = release().join("release").join(format!(
        "terraform-provider-rack_{PROVIDER_VERSION}_linux_amd64.zip"
    ));
    let name = format!("terraform-provider-rack_v{PROVIDER_VERSION}");
    let out = Command::new("unzip")
        .arg("-p")
        .arg(&zip)
        .arg(&name)
        .output()
        .expect("unzip is missing: install the Debian package unzip");
    assert!(
        out.status.success() && !out.stdout.is_empty(),
        "unzip -p {}",
        zip.display()
    );
    let line = format!("{:x}  {name}\n", Sha256::digest(&out.stdout));
    format!(
        "h1:{}",
        base64::engine::general_purpose::STANDARD.encode(Sha256::digest(line.as_bytes()))
    )
}

/// The working directories a pipeline's output names for `stage` (`plan in <dir>`).
fn stage_dirs(run: &CmdResult, stage: &str) -> Vec<String> {
    let marker = format!("pipeline: {stage} in ");
    run.stderr
        .lines()
        .filter_map(|l| l.strip_prefix(&marker))
        .map(str::to_owned)
        .collect()
}

#[test]
fn pipeline_plans_applies_the_saved_plan_and_finds_no_drift() {
    let ci = Ci::start_with_vm();
    let run = ci.stage("all").success();

    // Each stage ran in a directory of its own, as separate runners.
    let dirs: Vec<String> = ["validate", "plan", "apply", "drift check"]
        .iter()
        .flat_map(|s| stage_dirs(&run, s))
        .collect();
    assert_eq!(dirs.len(), 4, "{run}");
    let mut unique = dirs.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 4, "{dirs:?}");
    assert!(run.stderr.contains("no drift"), "{run}");

    // Every runner installed rack from the network mirror, and the lock file the plan
    // job handed to the apply job records the checksum of what the mirror serves.
    assert!(ci.zip_downloads() >= 4, "{}", ci.nginx.access_log());
    let lock = ci.artifact("plan/.terraform.lock.hcl");
    let h1 = package_hash();
    assert!(lock.contains(&format!("\"{h1}\"")), "{h1} not in\n{lock}");
    // `terraform providers lock` from the mirror records the same `h1:` (the hash of the
    // unpacked package, which Terraform checks on every later install).
    let wd = ci.workdir();
    wd.run(&[
        "providers",
        "lock",
        &format!("-net-mirror={}", ci.nginx.url),
        "-platform=linux_amd64",
    ])
    .success();
    let locked = std::fs::read_to_string(wd.path().join(".terraform.lock.hcl")).expect("lock");
    assert!(locked.contains(&format!("\"{h1}\"")), "{locked}");
    // The mirror's `zh:` of the zip is the sha256 of the signed SHA256SUMS.
    let index = std::fs::read_to_string(
        release()
            .join("mirror/terraform.local/rack/rack")
            .join(format!("{PROVIDER_VERSION}.json")),
    )
    .expect("the mirror's version index");
    assert!(
        index.contains(&format!("\"zh:{}\"", zip_sha256())),
        "{index}"
    );
    // A runner whose lock file records other checksums refuses what the mirror serves.
    let tampered = lock.replace(&h1, "h1:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=");
    std::fs::write(
        ci.artifacts.path().join("plan/.terraform.lock.hcl"),
        tampered,
    )
    .expect("write the lock file");
    let refused = ci.stage("apply").failure();
    assert!(
        refused
            .combined()
            .contains("doesn't match any of the checksums"),
        "{refused}"
    );
    assert!(!run.combined().contains("dev_overrides"), "{run}");

    // What the apply did, seen through the services' own clients.
    ci.dns.assert_answers(&[
        ("web1.farm.", "A", &["10.77.0.11"]),
        ("web2.farm.", "A", &["10.77.0.12"]),
    ]);
    let macs: Vec<String> = dhcp_common::reservations(&ci.kea)
        .iter()
        .filter_map(|r| r["hw-address"].as_str().map(str::to_owned))
        .collect();
    assert_eq!(macs.len(), 2, "{macs:?}");
    assert!(macs.iter().any(|m| m == "52:54:00:00:77:11"), "{macs:?}");
    // The reviewed plan held the VM and its disk; the apply defined them on libvirtd,
    // the VM's NIC with web1's MAC address, and the drift check above found them as
    // planned.
    let planned: Vec<String> = ci.artifact_json("plan/plan.json")["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|c| c["change"]["actions"] == serde_json::json!(["create"]))
        .filter_map(|c| c["address"].as_str().map(str::to_owned))
        .collect();
    for address in [r#"rack_vm.host["web1"]"#, r#"rack_volume.vm["web1"]"#] {
        assert!(planned.iter().any(|a| a == address), "{planned:?}");
    }
    let libvirt = ci.libvirt.as_ref().expect("the VMs' libvirtd");
    let state = virsh_ok(libvirt, &["domstate", "web1"]);
    assert_eq!(state.trim(), "shut off");
    let nics = virsh_ok(libvirt, &["domiflist", "web1"]);
    assert!(nics.contains("52:54:00:00:77:11"), "{nics}");
    let volumes = virsh_ok(libvirt, &["vol-list", "ci"]);
    assert!(volumes.contains("web1.qcow2"), "{volumes}");
    // The state is in PostgreSQL, not on a runner.
    let states = ci
        .pg
        .sql("SELECT name FROM rack_ci.states;")
        .expect("the pg backend's table");
    assert_eq!(states.trim(), "default");
}

#[test]
fn stale_saved_plan_is_refused_and_a_new_plan_converges() {
    let mut ci = Ci::start();
    ci.stage("plan").success();
    ci.stage("apply").success();

    // A reviewed plan moves web1 to .21; before it is applied, someone points web1 at .99.
    ci.hosts = HOSTS.replace("10.77.0.11", "10.77.0.21");
    ci.stage("plan").success();
    ci.change_record("web1.farm.", "10.77.0.99");
    let refused = ci.stage("apply").failure();
    let text = refused.combined();
    assert!(
        text.contains("web1.farm. A was changed outside Terraform"),
        "{refused}"
    );
    // Nothing clobbered: the out-of-band record stands.
    ci.dns
        .assert_answers(&[("web1.farm.", "A", &["10.77.0.99"])]);

    // A new plan sees the change and converges.
    ci.stage("plan").success();
    ci.stage("apply").success();
    ci.dns.assert_answers(&[
        ("web1.farm.", "A", &["10.77.0.21"]),
        ("web2.farm.", "A", &["10.77.0.12"]),
    ]);
    ci.stage("drift").success();
}

#[test]
fn concurrent_applies_wait_for_or_fail_on_the_state_lock() {
    let ci = Ci::start();
    // An apply that holds the lock for a while: a slow step beside the example.
    let slow = r#"
resource "terraform_data" "slow" {
  provisioner "local-exec" {
    command = "sleep 6"
  }
}
"#;
    let dirs: Vec<Workdir> = (0..3).map(|_| ci.workdir()).collect();
    for wd in &dirs {
        wd.write_file("slow.tf", slow);
        wd.init();
    }
    let advisory_locks = || {
        ci.pg
            .sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted;")
            .map(|n| n.trim().parse::<u32>().unwrap_or(0))
            .unwrap_or(0)
    };
    assert_eq!(advisory_locks(), 0);

    let first = dirs[0]
        .command(["apply", "-auto-approve", "-input=false", "-no-color"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("start the first apply");
    let started = Instant::now();
    while advisory_locks() == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "the first apply never took the state lock"
        );
        std::thread::sleep(Duration::from_millis(50));
    }

    // While it holds the lock: an apply that does not wait fails with Terraform's lock
    // error; one with a lock timeout waits, then finds the first apply's work done.
    let refused = dirs[1].run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-lock-timeout=0s",
    ]);
    assert!(
        !refused.succeeded()
            && refused
                .combined()
                .contains("Error acquiring the state lock"),
        "{refused}"
    );
    let waited = dirs[2].run(&[
        "apply",
        "-auto-approve",
        "-input=false",
        "-no-color",
        "-lock-timeout=120s",
    ]);
    let first = first.wait_with_output().expect("the first apply");
    assert!(
        first.status.success(),
        "{}{}",
        String::from_utf8_lossy(&first.stdout),
        String::from_utf8_lossy(&first.stderr)
    );
    let waited = waited.success();
    assert!(
        waited.stdout.contains("0 added, 0 changed, 0 destroyed")
            || waited.stdout.contains("No changes."),
        "{waited}"
    );

    // No write lost: everything exists, once, and a plan anywhere is empty.
    let state = dirs[1].show_json();
    let addresses: Vec<&str> = rack_acceptance_tests::state_resources(&state)
        .iter()
        .filter_map(|r| r["address"].as_str())
        .collect();
    assert_eq!(addresses.len(), 5, "{addresses:?}");
    ci.dns.assert_answers(&[
        ("web1.farm.", "A", &["10.77.0.11"]),
        ("web2.farm.", "A", &["10.77.0.12"]),
    ]);
    assert_eq!(dhcp_common::reservations(&ci.kea).len(), 2);
    dirs[1].assert_plan_empty();
}

#[test]
fn drift_job_exits_2_and_names_what_changed() {
    let ci = Ci::start();
    ci.stage("plan").success();
    ci.stage("apply").success();
    ci.stage("drift").success();

    ci.change_record("web2.farm.", "10.77.0.98");
    dhcp_common::edit_out_of_band(&ci.kea, |list| {
        list.retain(|r| r["hw-address"] != "52:54:00:00:77:11");
    });
    let drift = ci.stage("drift");
    assert_eq!(drift.code, Some(2), "{drift}");
    eprintln!("{}", drift.stderr);
    for address in [
        r#"rack_dns_record_set.host["web2"]"#,
        r#"rack_dhcp_lease.host["web1"]"#,
    ] {
        assert!(drift.stderr.contains(address), "{drift}");
    }
    let json = ci.artifact_json("drift/drift.json");
    let changed: Vec<(String, Vec<String>)> = json["resource_changes"]
        .as_array()
        .expect("resource_changes")
        .iter()
        .filter(|c| c["change"]["actions"] != serde_json::json!(["no-op"]))
        .map(|c| {
            let actions = c["change"]["actions"]
                .as_array()
                .map(|a| {
                    a.iter()
                        .filter_map(|s| s.as_str().map(str::to_owned))
                        .collect()
                })
                .unwrap_or_default();
            (c["address"].as_str().unwrap_or("").to_owned(), actions)
        })
        .collect();
    assert_eq!(
        changed,
        [
            (
                r#"rack_dhcp_lease.host["web1"]"#.to_owned(),
                vec!["create".to_owned()]
            ),
            (
                r#"rack_dns_record_set.host["web2"]"#.to_owned(),
                vec!["update".to_owned()]
            ),
        ],
        "{json:#}"
    );
    let drifted = json["resource_drift"].to_string();
    assert!(
        drifted.contains(r#"rack_dns_record_set.host[\"web2\"]"#),
        "{drifted}"
    );
}

/// The sensitive and write-only attributes of rack's schema, as `block.path.attribute`,
/// each of which `saved_plan_json_holds_no_secret` sets.
const SECRET_ATTRIBUTES: [&str; 10] = [
    "provider.apt.server.password",
    "provider.boot.server.password",
    "provider.dhcp.server.kea.client_key",
    "provider.dhcp.server.kea.hosts_database.password",
    "provider.dhcp.server.kea.password",
    "provider.dns.server.key_secret",
    "provider.dns.server.powerdns.api_key",
    "provider.dns.server.rndc.secret",
    "provider.switch.server.client_key",
    "rack_vm.graphics.password",
];

/// Write-only attributes that hold no secret, so are not in `SECRET_ATTRIBUTES`: a
/// package's path is write-only so that state keeps only the file's sha256 (which aptly
/// reports too, so an imported package plans empty).
const WRITE_ONLY_NOT_SECRET: [&str; 1] = ["rack_apt_package.source_file"];

/// Every attribute that is sensitive or write-only in rack's schema as
/// `terraform providers schema -json` prints it, named as in `SECRET_ATTRIBUTES`.
fn schema_secret_attributes(schemas: &Value) -> Vec<String> {
    fn walk(block: &Value, path: &str, out: &mut Vec<String>) {
        for (name, a) in block["attributes"].as_object().into_iter().flatten() {
            if a["sensitive"] == true || a["write_only"] == true {
                out.push(format!("{path}.{name}"));
            }
            if a["nested_type"].is_object() {
                walk(&a["nested_type"], &format!("{path}.{name}"), out);
            }
        }
        for (name, b) in block["block_types"].as_object().into_iter().flatten() {
            walk(&b["block"], &format!("{path}.{name}"), out);
        }
    }
    let provider = &schemas["provider_schemas"][PROVIDER_SOURCE];
    assert!(provider.is_object(), "no schema of rack in {schemas:#}");
    let mut out = Vec::new();
    walk(&provider["provider"]["block"], "provider", &mut out);
    for kind in [
        "resource_schemas",
        "data_source_schemas",
        "ephemeral_resource_schemas",
        "list_resource_schemas",
    ] {
        for (name, s) in provider[kind].as_object().into_iter().flatten() {
            walk(&s["block"], name, &mut out);
        }
    }
    out.sort();
    out
}

/// The longest line of a PEM text: a piece of the key that `show -json` would print on
/// one line if it printed the key (where the newlines become `\n`).
fn pem_line(pem: &str) -> String {
    pem.lines()
        .filter(|l| !l.starts_with("-----"))
        .max_by_key(|l| l.len())
        .expect("a PEM body")
        .to_owned()
}

#[test]
fn saved_plan_json_holds_no_secret() {
    let ci = Ci::start();
    let pki = OvsPki::create().unwrap_or_else(|e| panic!("cannot make the certificates: {e}"));
    let pem = |name: &str| {
        pki.pem(name)
            .unwrap_or_else(|e| panic!("cannot read {name}: {e}"))
    };
    // Every secret the configuration handles: the provider's from the environment and
    // from ephemeral variables, a VM's write-only graphics password from one too. The
    // Kea server with a client certificate and a host database and the switch are
    // configured but used by no resource, and so are an aptly server and a provisioning
    // server: the plan configures them, never connects.
    let vnc = "Vn7cQz4p";
    let rndc = ci.named.rndc_key.secret.clone();
    let pdns_key = "pdns-api-key-chosen-by-the-test";
    let kea_key = pem("client.key");
    let hosts_db_password = "hosts-db-password-chosen-by-the-test";
    let switch_key = pem("rogue.key");
    let apt_password = "apt-password-chosen-by-the-test";
    let boot_password = "boot-password-chosen-by-the-test";
    let config = format!(
        r#"
terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
  backend "pg" {{
    schema_name = "rack_secrets"
  }}
}}

variable "rndc_secret" {{
  type      = string
  ephemeral = true
}}

variable "pdns_api_key" {{
  type      = string
  ephemeral = true
}}

variable "vnc_password" {{
  type      = string
  ephemeral = true
}}

variable "kea_client_key" {{
  type      = string
  ephemeral = true
}}

variable "hosts_db_password" {{
  type      = string
  ephemeral = true
}}

variable "switch_client_key" {{
  type      = string
  ephemeral = true
}}

variable "apt_password" {{
  type      = string
  ephemeral = true
}}

variable "boot_password" {{
  type      = string
  ephemeral = true
}}

provider "rack" {{
  hypervisors = {{ test = "test:///default" }}
  dns {{
    default_server = "named"
    server "named" {{
      address       = "{addr}"
      key_name      = "{key_name}"
      key_algorithm = "{key_alg}"
      zone_directory = "{zone_dir}"
      rndc {{
        address  = "{rndc_addr}"
        key_name = "{rndc_name}"
        secret   = var.rndc_secret
      }}
    }}
    server "pdns" {{
      address = "{addr}"
      powerdns {{
        url     = "http://127.0.0.1:9"
        api_key = var.pdns_api_key
      }}
    }}
  }}
  dhcp {{
    default_server = "kea"
    server "kea" {{
      kea {{
        url = "{kea_url}"
      }}
    }}
    server "kea-tls" {{
      kea {{
        url         = "https://127.0.0.1:9"
        ca_cert     = file("{ca}")
        client_cert = file("{kea_cert}")
        client_key  = var.kea_client_key
        hosts_database {{
          url      = "postgresql://kea@127.0.0.1:9/kea"
          password = var.hosts_db_password
        }}
      }}
    }}
  }}
  switch {{
    server "tor1" {{
      address     = "ssl:127.0.0.1:9"
      ca_cert     = file("{ca}")
      client_cert = file("{switch_cert}")
      client_key  = var.switch_client_key
    }}
  }}
  apt {{
    server "repo1" {{
      url      = "http://127.0.0.1:9"
      username = "rack"
      password = var.apt_password
    }}
  }}
  boot {{
    server "prov1" {{
      url      = "http://127.0.0.1:9/boot/"
      username = "rack"
      password = var.boot_password
    }}
  }}
}}

resource "rack_dns_record_set" "www" {{
  zone    = "farm."
  name    = "www"
  type    = "A"
  records = ["10.77.0.80"]
}}

resource "rack_dhcp_lease" "www" {{
  subnet   = "{subnet}"
  mac      = "52:54:00:00:77:80"
  ip       = "10.77.0.80"
  hostname = "www"
}}

resource "rack_vm" "console" {{
  hypervisor = "test"
  name       = "ci-console"
  memory     = "64MiB"
  graphics {{
    type     = "vnc"
    password = var.vnc_password
  }}
}}
"#,
        addr = ci.dns.addr,
        key_name = ci.dns.key.name,
        key_alg = ci.dns.key.algorithm,
        rndc_addr = ci.named.rndc_addr,
        rndc_name = ci.named.rndc_key.name,
        zone_dir = ci.named.zone_dir.display(),
        subnet = dhcp_common::SUBNET,
        kea_url = ci.kea.url,
        ca = pki.path("ca.pem").display(),
        kea_cert = pki.path("client.pem").display(),
        switch_cert = pki.path("rogue.pem").display(),
    );
    let mut plan_dir = ci.workdir();
    plan_dir.write_main(&config);
    for f in ["variables.tf", "outputs.tf"] {
        let _ = std::fs::remove_file(plan_dir.path().join(f));
    }
    plan_dir
        .set_env("TF_VAR_rndc_secret", rndc.clone())
        .set_env("TF_VAR_pdns_api_key", pdns_key)
        .set_env("TF_VAR_vnc_password", vnc)
        .set_env("TF_VAR_kea_client_key", kea_key.clone())
        .set_env("TF_VAR_hosts_db_password", hosts_db_password)
        .set_env("TF_VAR_switch_client_key", switch_key.clone())
        .set_env("TF_VAR_apt_password", apt_password)
        .set_env("TF_VAR_boot_password", boot_password);
    plan_dir.init();
    // The test covers every sensitive and write-only attribute the schema has.
    let schemas = plan_dir
        .run(&["providers", "schema", "-json"])
        .success()
        .stdout;
    let schemas: Value = serde_json::from_str(&schemas).expect("the schema is JSON");
    let secret: Vec<String> = schema_secret_attributes(&schemas)
        .into_iter()
        .filter(|a| !WRITE_ONLY_NOT_SECRET.contains(&a.as_str()))
        .collect();
    assert_eq!(secret, SECRET_ATTRIBUTES);
    plan_dir.save_plan("ci.tfplan");
    let shown = plan_dir
        .run(&["show", "-json", "ci.tfplan"])
        .success()
        .stdout;
    let text = plan_dir
        .run(&["show", "-no-color", "ci.tfplan"])
        .success()
        .stdout;
    let plan_file = std::fs::read(plan_dir.path().join("ci.tfplan")).expect("the plan file");
    let unzipped = Command::new("unzip")
        .arg("-p")
        .arg(plan_dir.path().join("ci.tfplan"))
        .output()
        .expect("unzip is missing: install the Debian package unzip")
        .stdout;
    let (kea_key_line, switch_key_line) = (pem_line(&kea_key), pem_line(&switch_key));
    // One value per attribute of SECRET_ATTRIBUTES, in its order, and the state's
    // database password.
    let secrets = [
        apt_password,
        boot_password,
        kea_key_line.as_str(),
        hosts_db_password,
        ci.kea.password.as_str(),
        ci.dns.key.secret.as_str(),
        pdns_key,
        rndc.as_str(),
        switch_key_line.as_str(),
        vnc,
        ci.pg.password.as_str(),
    ];
    for secret in secrets {
        for (what, haystack) in [
            ("show -json", shown.as_bytes()),
            ("show", text.as_bytes()),
            ("the plan file", &plan_file[..]),
            ("the plan file's contents", &unzipped[..]),
        ] {
            assert!(
                !haystack
                    .windows(secret.len())
                    .any(|w| w == secret.as_bytes()),
                "{what} holds a secret ({}...)",
                &secret[..3]
            );
        }
    }
    let json: Value = serde_json::from_str(&shown).expect("plan JSON");
    assert!(
        json["resource_changes"]
            .to_string()
            .contains("rack_vm.console")
    );

    // Another runner applying the saved plan must be given the ephemeral values again;
    // without them Terraform stops before touching anything.
    let mut apply_dir = ci.workdir();
    apply_dir.write_main(&config);
    for f in ["variables.tf", "outputs.tf"] {
        let _ = std::fs::remove_file(apply_dir.path().join(f));
    }
    std::fs::copy(
        plan_dir.path().join("ci.tfplan"),
        apply_dir.path().join("ci.tfplan"),
    )
    .expect("copy the plan");
    std::fs::copy(
        plan_dir.path().join(".terraform.lock.hcl"),
        apply_dir.path().join(".terraform.lock.hcl"),
    )
    .expect("copy the lock file");
    apply_dir.init();
    let missing = apply_dir.apply_saved("ci.tfplan").failure();
    assert!(
        missing.combined().contains("vnc_password")
            && missing
                .combined()
                .contains("must also be set during the apply phase"),
        "{missing}"
    );
    assert!(ci.dns.dig("www.farm.", "A").is_empty());
    apply_dir
        .set_env("TF_VAR_rndc_secret", rndc.clone())
        .set_env("TF_VAR_pdns_api_key", pdns_key)
        .set_env("TF_VAR_kea_client_key", kea_key.clone())
        .set_env("TF_VAR_hosts_db_password", hosts_db_password)
        .set_env("TF_VAR_switch_client_key", switch_key.clone())
        .set_env("TF_VAR_apt_password", apt_password)
        .set_env("TF_VAR_boot_password", boot_password);
    let _ = apply_dir.set_env("TF_VAR_vnc_password", vnc);
    let applied = apply_dir.apply_saved("ci.tfplan").success();
    for secret in secrets {
        assert!(
            !applied.combined().contains(secret),
            "the apply printed a secret"
        );
    }
    ci.dns
        .assert_answers(&[("www.farm.", "A", &["10.77.0.80"])]);
}
