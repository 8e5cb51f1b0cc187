//! The README's first command, end to end: `scripts/up` starts the lab (named, Kea,
//! libvirtd in a network namespace), applies `examples/scenarios/farm` and shows it;
//! the VMs answer pings and the names answer in DNS; a second run reuses the lab and
//! Terraform finds no changes; `scripts/up down` leaves no process, namespace, state
//! directory (with it libvirt's definitions) or listening port behind.
//!
//! The lab gets its own state directory, namespace and ports, so it runs beside a lab a
//! developer has up and beside the other tests; it uses the provider the harness built
//! (`RACK_PROVIDER_BINARY`) and the test guest cache the VM tests share.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use rack_acceptance_tests::{CmdResult, provider_binary, run_command, workspace_root};

use rack_lab::process::free_port;

/// A first run on a machine with the packages: the lab, the base image (cached guest),
/// the apply and the VMs' boot under TCG.
const UP_LIMIT: Duration = Duration::from_secs(900);
/// `scripts/up down`: a destroy and stopping the daemons.
const DOWN_LIMIT: Duration = Duration::from_secs(300);

/// One lab of this test: where it lives and how it is reached.
struct Lab {
    state: PathBuf,
    namespace: String,
    dns_port: u16,
    rndc_port: u16,
    kea_port: u16,
    torn_down: bool,
}

impl Lab {
    fn new() -> Self {
        let pid = std::process::id();
        Self {
            state: workspace_root()
                .join("acceptance-tests")
                .join(".work")
                .join(format!("lab-{pid}")),
            namespace: format!("rack-lab-acc-{pid}"),
            dns_port: free_port().expect("a free port for named"),
            rndc_port: free_port().expect("a free port for rndc"),
            kea_port: free_port().expect("a free port for kea-ctrl-agent"),
            torn_down: false,
        }
    }

    /// `scripts/up [args]` with this lab's settings.
    fn up(&self, args: &[&str], limit: Duration) -> CmdResult {
        let mut cmd = Command::new("bash");
        cmd.arg(workspace_root().join("scripts").join("up"))
            .args(args)
            .current_dir(workspace_root())
            .env("RACK_LAB_STATE", &self.state)
            .env("RACK_LAB_NAMESPACE", &self.namespace)
            .env("RACK_LAB_DNS_PORT", self.dns_port.to_string())
            .env("RACK_LAB_RNDC_PORT", self.rndc_port.to_string())
            .env("RACK_LAB_KEA_PORT", self.kea_port.to_string())
            .env("RACK_PROVIDER_BINARY", provider_binary())
            .env(
                "RACK_TEST_GUEST_DIR",
                std::env::var_os("RACK_TEST_GUEST_DIR")
                    .unwrap_or_else(|| "/var/cache/rack-test-guest".into()),
            );
        for key in [
            "TF_CLI_ARGS",
            "TF_DATA_DIR",
            "TF_PLUGIN_CACHE_DIR",
            "TF_LOG",
        ] {
            cmd.env_remove(key);
        }
        run_command(cmd, limit).expect("run scripts/up")
    }

    fn ports(&self) -> [u16; 3] {
        [self.dns_port, self.rndc_port, self.kea_port]
    }

    /// `dig +short` against the lab's named.
    fn dig(&self, args: &[&str]) -> Vec<String> {
        let out = Command::new("dig")
            .args(["@127.0.0.1", "-p", &self.dns_port.to_string(), "+short"])
            .args(args)
            .output()
            .expect("run dig (bind9-dnsutils)");
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_owned)
            .collect()
    }

    /// One ping from inside the lab's namespace.
    fn ping(&self, ip: &str) -> bool {
        Command::new("ip")
            .args([
                "netns",
                "exec",
                &self.namespace,
                "ping",
                "-c",
                "1",
                "-W",
                "2",
                ip,
            ])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Every process in the lab's namespace plus the PIDs in its `lab/*.pid` files.
    fn processes(&self) -> BTreeSet<u32> {
        let mut pids = BTreeSet::new();
        if let Ok(out) = Command::new("ip")
            .args(["netns", "pids", &self.namespace])
            .output()
        {
            pids.extend(
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse::<u32>().ok()),
            );
        }
        for entry in std::fs::read_dir(self.state.join("lab"))
            .into_iter()
            .flatten()
        {
            let path = entry.expect("read the lab directory").path();
            if path.extension().is_some_and(|e| e == "pid") {
                let text = std::fs::read_to_string(&path).expect("read a pid file");
                pids.insert(text.trim().parse().expect("a PID in a pid file"));
            }
        }
        pids
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        if !self.torn_down {
            let out = self.up(&["down"], DOWN_LIMIT);
            if !out.succeeded() {
                eprintln!("cleaning up the lab failed:\n{out}");
            }
        }
    }
}

fn namespace_exists(name: &str) -> bool {
    let out = Command::new("ip")
        .args(["netns", "list"])
        .output()
        .expect("run ip netns list");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .any(|l| l.split_whitespace().next() == Some(name))
}

fn listening(port: u16) -> bool {
    let out = Command::new("ss")
        .args(["-Hltn", &format!("( sport = :{port} )")])
        .output()
        .expect("run ss (iproute2)");
    !String::from_utf8_lossy(&out.stdout).trim().is_empty()
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The VMs the farm example defines, name => address, from Terraform's output.
fn farm_vms(state: &Path) -> Vec<(String, String)> {
    let out = Command::new("bash")
        .arg("-c")
        .arg(format!(
            ". {lab}/env && {tf} -chdir={farm} output -json vms",
            lab = state.join("lab").display(),
            tf = rack_acceptance_tests::terraform_path().display(),
            farm = state.join("farm").display(),
        ))
        .output()
        .expect("run terraform output");
    assert!(
        out.status.success(),
        "terraform output vms failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let vms: serde_json::Value = serde_json::from_slice(&out.stdout).expect("output vms as JSON");
    vms.as_object()
        .expect("vms is an object")
        .iter()
        .map(|(name, vm)| {
            (
                name.clone(),
                vm["ip"].as_str().expect("a VM's ip").to_owned(),
            )
        })
        .collect()
}

#[test]
fn lab_up_twice_then_down() {
    let mut lab = Lab::new();

    let first = lab.up(&[], UP_LIMIT).success();
    assert!(
        first.stdout.contains("Apply complete!"),
        "no apply in the first run:\n{first}"
    );
    eprintln!("scripts/up, first run: {:.1?}", first.elapsed);

    let vms = farm_vms(&lab.state);
    assert_eq!(vms.len(), 2, "the farm has two VMs: {vms:?}");
    let defines_vms =
        std::fs::read_to_string(workspace_root().join("examples/scenarios/farm/main.tf"))
            .expect("read the farm example")
            .contains("resource \"rack_vm\"");
    for (name, ip) in &vms {
        assert_eq!(lab.dig(&[name, "A"]), [ip.as_str()], "A record of {name}");
        assert_eq!(lab.dig(&["-x", ip]), [name.as_str()], "PTR record of {ip}");
        assert!(
            first.stdout.contains(ip.as_str()),
            "{ip} is not in what scripts/up showed:\n{first}"
        );
        if defines_vms {
            assert!(lab.ping(ip), "{name} ({ip}) does not answer pings");
        }
    }

    let second = lab.up(&[], UP_LIMIT).success();
    assert!(
        second.stdout.contains("No changes."),
        "the second run changed something:\n{second}"
    );
    for daemon in ["named", "kea-dhcp4", "kea-ctrl-agent", "libvirtd"] {
        assert!(
            second.stdout.contains(&format!("{daemon}: running")),
            "the second run did not reuse {daemon}:\n{second}"
        );
    }
    eprintln!("scripts/up, second run: {:.1?}", second.elapsed);

    let processes = lab.processes();
    assert!(
        processes.len() >= 5,
        "expected named, Kea's two daemons, tini, libvirtd and virtlogd: {processes:?}"
    );
    let down = lab.up(&["down"], DOWN_LIMIT).success();
    lab.torn_down = true;
    assert!(
        down.stdout.contains("Destroy complete!"),
        "down destroyed nothing:\n{down}"
    );
    let left: Vec<u32> = processes.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left after down: {left:?}");
    assert!(
        !namespace_exists(&lab.namespace),
        "namespace {} left after down",
        lab.namespace
    );
    assert!(
        !lab.state.exists(),
        "state directory {} (libvirt's definitions, the pool) left after down",
        lab.state.display()
    );
    for port in lab.ports() {
        assert!(!listening(port), "port {port} still listening after down");
    }
}
