//! The README's first command, end to end: `scripts/up` starts the lab (named,
//! PostgreSQL with Kea's host database, Kea in a DHCP server host namespace, libvirtd in
//! the lab's namespace), applies `examples/scenarios/farm` and shows it; the VMs answer
//! pings, waited for their addresses from Kea's leases, and the names answer in DNS; the
//! reservations are rows of the host database; a libvirt network with DHCP ranges starts
//! beside Kea; the switch tor1 has the ports the farm gave it and forwards real packets
//! (a host behind it reaches the other host, the farm's gateway and a VM through its
//! uplink); `terraform init` installs rack from the lab's provider network mirror (nginx
//! over HTTPS) with the CLI configuration and CA that `lab/env` names; a second run reuses
//! the lab and Terraform finds no changes; `scripts/up down` leaves no process, namespace,
//! state directory (with it libvirt's definitions) or listening port behind.
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
    pg_port: u16,
    ovs_port: u16,
    mirror_port: u16,
    apt_port: u16,
    apt_api_port: u16,
    boot_port: u16,
    torn_down: bool,
}

impl Lab {
    fn new() -> Self {
        let pid = std::process::id();
        // Nine ports, each free and none twice: nothing holds a port between two calls of
        // `free_port`, so it may hand out the same one again.
        let mut taken: Vec<u16> = Vec::new();
        let mut port = |what: &str| loop {
            let p = free_port().unwrap_or_else(|e| panic!("no free port for {what}: {e}"));
            if !taken.contains(&p) {
                taken.push(p);
                break p;
            }
        };
        Self {
            state: workspace_root()
                .join("acceptance-tests")
                .join(".work")
                .join(format!("lab-{pid}")),
            namespace: format!("rack-lab-acc-{pid}"),
            dns_port: port("named"),
            rndc_port: port("rndc"),
            kea_port: port("kea-ctrl-agent"),
            pg_port: port("PostgreSQL"),
            ovs_port: port("tor1's ovsdb-server"),
            mirror_port: port("nginx"),
            apt_port: port("aptly's nginx"),
            apt_api_port: port("aptly"),
            boot_port: port("the provisioning nginx"),
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
            .env("RACK_LAB_PG_PORT", self.pg_port.to_string())
            .env("RACK_LAB_OVS_PORT", self.ovs_port.to_string())
            .env("RACK_LAB_MIRROR_PORT", self.mirror_port.to_string())
            .env("RACK_LAB_APT_PORT", self.apt_port.to_string())
            .env("RACK_LAB_APT_API_PORT", self.apt_api_port.to_string())
            .env("RACK_LAB_BOOT_PORT", self.boot_port.to_string())
            .env("RACK_LAB_HYPERVISORS", "2")
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

    fn ports(&self) -> [u16; 7] {
        [
            self.dns_port,
            self.rndc_port,
            self.kea_port,
            self.pg_port,
            self.ovs_port,
            self.mirror_port,
            self.boot_port,
        ]
    }

    /// The DHCP server host's namespace.
    fn dhcp_namespace(&self) -> String {
        format!("{}-dhcp", self.namespace)
    }

    /// Every namespace of the lab: its own, the DHCP server host's, the second
    /// hypervisor's, the switch tor1's and its two hosts'.
    fn namespaces(&self) -> [String; 6] {
        [
            self.namespace.clone(),
            self.dhcp_namespace(),
            format!("{}-hv2", self.namespace),
            format!("{}-tor1", self.namespace),
            format!("{}-host1", self.namespace),
            format!("{}-host2", self.namespace),
        ]
    }

    /// Runs `script` in bash with the lab's settings (`lab/env`) as a person would;
    /// returns its output, failing the test when it fails.
    fn shell(&self, script: &str) -> String {
        let out = Command::new("bash")
            .arg("-c")
            .arg(format!(
                "set -e; . {}/env; {script}",
                self.state.join("lab").display()
            ))
            .output()
            .expect("run bash");
        assert!(
            out.status.success(),
            "{script} failed:\n{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
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
        self.ping_from(&self.namespace, ip)
    }

    /// One ping from inside namespace `ns`.
    fn ping_from(&self, ns: &str, ip: &str) -> bool {
        Command::new("ip")
            .args(["netns", "exec", ns, "ping", "-c", "1", "-W", "2", ip])
            .output()
            .is_ok_and(|o| o.status.success())
    }

    /// Every process in the lab's namespaces plus the PIDs in its `lab/*.pid` files.
    fn processes(&self) -> BTreeSet<u32> {
        let mut pids = BTreeSet::new();
        for ns in self.namespaces() {
            if let Ok(out) = Command::new("ip").args(["netns", "pids", &ns]).output() {
                pids.extend(
                    String::from_utf8_lossy(&out.stdout)
                        .split_whitespace()
                        .filter_map(|p| p.parse::<u32>().ok()),
                );
            }
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

/// A VM of the farm example, from Terraform's output.
#[derive(Debug)]
struct FarmVm {
    name: String,
    /// Its reserved address.
    ip: String,
    /// Its MAC address.
    mac: String,
    /// The addresses `rack_vm` recorded (waited for in Kea's leases).
    ip_addresses: Vec<String>,
}

/// The VMs the farm example defines, from Terraform's output.
fn farm_vms(lab: &Lab) -> Vec<FarmVm> {
    let out = lab.shell(&format!(
        "{tf} -chdir={farm} output -json vms",
        tf = rack_acceptance_tests::terraform_path().display(),
        farm = lab.state.join("farm").display(),
    ));
    let vms: serde_json::Value = serde_json::from_str(&out).expect("output vms as JSON");
    let text = |v: &serde_json::Value| v.as_str().expect("a string").to_owned();
    vms.as_object()
        .expect("vms is an object")
        .iter()
        .map(|(name, vm)| FarmVm {
            name: name.clone(),
            ip: text(&vm["ip"]),
            mac: text(&vm["mac"]),
            ip_addresses: vm["ip_addresses"]
                .as_array()
                .map(|a| a.iter().map(text).collect())
                .unwrap_or_default(),
        })
        .collect()
}

/// A libvirt network with DHCP ranges (dnsmasq on port 67 in the lab's namespace) applied
/// and destroyed with the lab's settings, while Kea serves the farm.
fn network_with_dhcp_ranges_starts_beside_kea(lab: &Lab) {
    let dir = lab.state.join("ranges");
    std::fs::create_dir_all(&dir).expect("create a Terraform dir in the lab");
    std::fs::write(
        dir.join("main.tf"),
        r#"terraform {
  required_providers {
    rack = { source = "terraform.local/rack/rack" }
  }
}
provider "rack" {}
resource "rack_network" "ranges" {
  name   = "ranges"
  mode   = "nat"
  bridge = "rkranges0"
  ipv4 = {
    cidr        = "10.10.61.0/24"
    gateway     = "10.10.61.1"
    dhcp_ranges = [{ start = "10.10.61.100", end = "10.10.61.150" }]
  }
}
"#,
    )
    .expect("write main.tf");
    let tf = format!(
        "{} -chdir={}",
        rack_acceptance_tests::terraform_path().display(),
        dir.display()
    );
    lab.shell(&format!(
        "{tf} init -input=false -no-color >/dev/null && {tf} apply -auto-approve -input=false -no-color"
    ));
    let names = lab.shell(&format!(
        "for p in $(ip netns pids {}); do cat /proc/$p/cmdline | tr '\\0' ' '; echo; done",
        lab.namespace
    ));
    assert!(
        names
            .lines()
            .any(|l| l.contains("dnsmasq") && l.contains("ranges")),
        "no dnsmasq for the network with DHCP ranges in the lab's namespace:\n{names}"
    );
    lab.shell(&format!(
        "{tf} destroy -auto-approve -input=false -no-color"
    ));
}

/// A configuration that needs rack, initialised as a CI runner would: from the lab's
/// provider network mirror, with the CLI configuration and CA bundle `lab/env` names.
fn terraform_init_installs_rack_from_the_mirror(lab: &Lab) {
    let dir = lab.state.join("from-mirror");
    std::fs::create_dir_all(&dir).expect("create a Terraform dir in the lab");
    std::fs::write(
        dir.join("main.tf"),
        "terraform {\n  required_providers {\n    rack = { source = \"terraform.local/rack/rack\" }\n  }\n}\n",
    )
    .expect("write main.tf");
    let index = lab.shell(
        "curl -sSf --cacert \"$RACK_LAB_MIRROR_CA_FILE\" \
         \"${RACK_PROVIDER_MIRROR_URL}terraform.local/rack/rack/index.json\"",
    );
    assert!(index.contains("\"versions\""), "{index}");
    let init = lab.shell(&format!(
        "TF_CLI_CONFIG_FILE=\"$RACK_LAB_MIRROR_CLI_CONFIG\" SSL_CERT_FILE=\"$RACK_LAB_MIRROR_CA_FILE\" \
         {} -chdir={} init -input=false -no-color",
        rack_acceptance_tests::terraform_path().display(),
        dir.display()
    ));
    assert!(
        init.contains("Installed terraform.local/rack/rack"),
        "rack was not installed from the mirror:\n{init}"
    );
    let access = std::fs::read_to_string(lab.state.join("lab/nginx/access.log"))
        .expect("nginx's access log");
    assert!(
        access
            .lines()
            .any(|l| l.contains("_linux_amd64.zip") && l.contains("\" 200 ")),
        "nginx served no zip:\n{access}"
    );
}

/// The switch tor1: the ports the farm gave it, and real packets through it. Its hosts
/// (`NS-host1` 10.10.60.21, `NS-host2` 10.10.60.22) are on access ports of the farm's
/// VLAN; the uplink to the farm's bridge carries that VLAN untagged.
fn tor1_forwards(lab: &Lab, vm_ip: &str) {
    let vsctl = |args: &str| {
        lab.shell(&format!("ovs-vsctl --db=\"$RACK_SWITCH_ADDRESS\" {args}"))
            .trim()
            .to_owned()
    };
    assert_eq!(
        vsctl("list-ports br-tor1"),
        "host1\nhost2\nuplink",
        "tor1's ports"
    );
    assert_eq!(vsctl("get bridge br-tor1 datapath_type"), "netdev");
    for host in ["host1", "host2"] {
        assert_eq!(
            vsctl(&format!("get port {host} tag")),
            "60",
            "{host}'s VLAN"
        );
    }
    assert_eq!(vsctl("get port uplink vlan_mode"), "native-untagged");
    assert_eq!(vsctl("get port uplink trunks"), "[60, 70]");
    let host1 = format!("{}-host1", lab.namespace);
    // Three tries each: the first packets may be lost while the switch learns.
    let pings = |ip: &str| (0..3).any(|_| lab.ping_from(&host1, ip));
    assert!(
        pings("10.10.60.22"),
        "host1 does not reach host2 through tor1"
    );
    assert!(
        pings("10.10.60.1"),
        "host1 does not reach the farm's gateway through tor1's uplink"
    );
    assert!(pings(vm_ip), "host1 does not reach the VM {vm_ip}");
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

    let vms = farm_vms(&lab);
    assert_eq!(vms.len(), 2, "the farm has two VMs: {vms:?}");
    let hosts = lab.shell(
        "PGPASSWORD=\"$RACK_DHCP_KEA_HOSTS_DATABASE_PASSWORD\" psql -At \
         \"$RACK_DHCP_KEA_HOSTS_DATABASE_URL\" -c \"SELECT encode(dhcp_identifier, 'hex') || ' ' \
         || host('0.0.0.0'::inet + ipv4_address) FROM hosts\"",
    );
    for FarmVm {
        name,
        ip,
        mac,
        ip_addresses,
    } in &vms
    {
        assert_eq!(lab.dig(&[name, "A"]), [ip.as_str()], "A record of {name}");
        assert_eq!(lab.dig(&["-x", ip]), [name.as_str()], "PTR record of {ip}");
        assert!(
            first.stdout.contains(ip.as_str()),
            "{ip} is not in what scripts/up showed:\n{first}"
        );
        assert!(lab.ping(ip), "{name} ({ip}) does not answer pings");
        assert_eq!(
            ip_addresses,
            std::slice::from_ref(ip),
            "{name} did not wait for its address from Kea's leases"
        );
        let row = format!("{} {ip}", mac.replace(':', ""));
        assert!(
            hosts.lines().any(|l| l == row),
            "no host row {row} in Kea's host database:\n{hosts}"
        );
    }
    let ztp = lab.shell("curl -sSf \"${RACK_BOOT_URL}ztp/tor1.sh\"");
    assert!(
        ztp.contains("# CUMULUS-AUTOPROVISIONING") && ztp.contains("br-tor1"),
        "the farm's ZTP script is not served by the provisioning server:\n{ztp}"
    );
    network_with_dhcp_ranges_starts_beside_kea(&lab);
    tor1_forwards(&lab, &vms[0].ip);
    terraform_init_installs_rack_from_the_mirror(&lab);
    assert!(
        first
            .stdout
            .contains("terraform.local/rack/rack/index.json")
            && first.stdout.contains("\"versions\""),
        "scripts/up did not show the mirror's index:\n{first}"
    );

    // rack reached the host database over TLS, checked against the lab's CA.
    let ca = lab.shell("echo \"$RACK_DHCP_KEA_HOSTS_DATABASE_CA_CERT\"");
    assert!(ca.starts_with("-----BEGIN CERTIFICATE-----"), "{ca}");

    // The second hypervisor is in the provider's map and answers.
    let hvs = lab.shell("echo \"$RACK_HYPERVISORS\"");
    assert!(
        hvs.starts_with("lab=") && hvs.contains(",lab2=qemu+unix://"),
        "{hvs}"
    );
    let version = lab.shell(
        "uri=\"${RACK_HYPERVISORS##*lab2=}\"; virsh -q -c \"$uri\" hostname >/dev/null && echo ok",
    );
    assert_eq!(version.trim(), "ok");

    let second = lab.up(&[], UP_LIMIT).success();
    assert!(
        second.stdout.contains("No changes."),
        "the second run changed something:\n{second}"
    );
    for daemon in [
        "named",
        "postgres",
        "kea-dhcp4",
        "kea-ctrl-agent",
        "libvirtd",
        "libvirtd-hv2",
        "tor1-ovsdb-server",
        "tor1-vswitchd",
        "nginx",
    ] {
        assert!(
            second.stdout.contains(&format!("{daemon}: running")),
            "the second run did not reuse {daemon}:\n{second}"
        );
    }
    eprintln!("scripts/up, second run: {:.1?}", second.elapsed);

    let processes = lab.processes();
    assert!(
        processes.len() >= 9,
        "expected named, PostgreSQL, Kea's two daemons, tini, libvirtd, virtlogd, tor1's \
         two daemons and nginx: {processes:?}"
    );
    let down = lab.up(&["down"], DOWN_LIMIT).success();
    lab.torn_down = true;
    assert!(
        down.stdout.contains("Destroy complete!"),
        "down destroyed nothing:\n{down}"
    );
    let left: Vec<u32> = processes.into_iter().filter(|p| alive(*p)).collect();
    assert!(left.is_empty(), "processes left after down: {left:?}");
    for ns in lab.namespaces() {
        assert!(!namespace_exists(&ns), "namespace {ns} left after down");
    }
    assert!(
        !lab.state.exists(),
        "state directory {} (libvirt's definitions, the pool) left after down",
        lab.state.display()
    );
    for port in lab.ports() {
        assert!(!listening(port), "port {port} still listening after down");
    }
}
