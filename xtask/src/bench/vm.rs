//! The VM benchmark, against a real libvirtd (the `rack-lab` fixture) with QEMU
//! under TCG: 10 VMs, each booting from its own qcow2 overlay of one base volume (the
//! lab's base image: SYSLINUX, Debian's kernel and the test guest's busybox initramfs),
//! with a cloud-init seed and one interface on a NAT network whose dnsmasq hands out the
//! addresses.
//!
//! Two ways of doing the same thing, in the same round, in alternating order:
//!
//! - rack: `terraform apply` of 10 `rack_volume` overlays and 10 `rack_vm` with
//!   `wait_for_ip { source = "lease" }` (default parallelism, 10), then
//!   `terraform destroy`;
//! - the floor: the same sequence of `virsh` commands, one shell per VM, all ten at once:
//!   `vol-create-as --backing-vol` (overlay), `genisoimage` + `vol-create-as` +
//!   `vol-upload` (the seed), `define`, `start`; and for destroy `shutdown --mode acpi`,
//!   wait for `shut off`, `undefine`, `vol-delete` twice.
//!
//! One observer measures both the same way: from the first command, it runs
//! `virsh "list --state-running --name; net-dhcp-leases NET"` every 250 ms and notes when
//! all ten VMs are running and when all ten MACs have a lease. Each cycle uses new VM
//! names (so new MACs), since dnsmasq keeps the leases of earlier cycles.

use std::collections::HashSet;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context as _, anyhow, bail};
use rack_core::libvirt::{Hypervisor, PoolSpec, SourceLocation, UploadSource, VolumeContent};
use rack_core::libvirt::{VolumeFormat, VolumeSpec, interface_mac};

use super::dns::{ProviderCpu, take_provider_cpu, write_wrapper};
use super::setup::{Setup, runtime};
use super::stats::{Row, Summary, Target, Unit, table};
use super::storage::sha256_hex;
use super::storage::virsh;
use rack_acceptance_tests::{CmdResult, Workdir};
use rack_lab::Libvirt;
use rack_lab::guest::fix_kvm_permissions;
use rack_lab::process::TempDir;

/// Rounds when `--runs` is not given: a round boots 20 VMs under TCG, about 3 minutes
/// on the 2-CPU machines.
pub const DEFAULT_ROUNDS: usize = 3;

/// VMs per cycle (the VM issue's number).
const VMS: usize = 10;
/// Each VM's memory.
const MEMORY_MIB: u64 = 192;
/// The pool, network and bridge the benchmark makes (outside Terraform, shared by both).
const POOL: &str = "bench";
const NETWORK: &str = "benchnet";
const BRIDGE: &str = "rkbench0";
/// The base volume every VM's disk is an overlay of.
const BASE: &str = "base.raw";
/// How often the observer looks.
const POLL: Duration = Duration::from_millis(250);
/// How long ten guests may take to boot and get their addresses on a loaded machine.
const BOOT_LIMIT: Duration = Duration::from_secs(600);
/// The VM issue's target: within this factor of the virsh floor.
const FACTOR: f64 = 1.5;

/// What the user asked for.
#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// Rounds.
    pub runs: usize,
}

/// The VM names of one cycle: `<tag><round>vm<NN>`.
fn names(tag: char, round: usize) -> Vec<String> {
    (0..VMS).map(|i| format!("{tag}{round}vm{i:02}")).collect()
}

fn meta_data(name: &str) -> String {
    format!("instance-id: {name}-1\nlocal-hostname: {name}\n")
}

fn user_data(name: &str) -> String {
    format!("#cloud-config\nfqdn: {name}.bench\n")
}

/// When, from the first command, all VMs were seen running and all their MACs leased.
#[derive(Debug, Clone, Copy, Default)]
struct Seen {
    running: Option<f64>,
    leased: Option<f64>,
}

/// Polls libvirt with virsh until every VM is running and every MAC leased, `stop` is
/// set, or [`BOOT_LIMIT`] passes.
struct Observer {
    stop: Arc<AtomicBool>,
    handle: std::thread::JoinHandle<anyhow::Result<Seen>>,
}

impl Observer {
    fn start(uri: &str, names: &[String], started: Instant) -> Self {
        let stop = Arc::new(AtomicBool::new(false));
        let uri = uri.to_owned();
        let names = names.to_vec();
        let macs: Vec<String> = names
            .iter()
            .map(|n| interface_mac(n, 0).to_string().to_lowercase())
            .collect();
        let flag = Arc::clone(&stop);
        let handle = std::thread::spawn(move || {
            let mut seen = Seen::default();
            let script = format!("list --state-running --name; net-dhcp-leases {NETWORK}");
            while !flag.load(Ordering::Relaxed) && started.elapsed() < BOOT_LIMIT {
                let text = virsh(&uri, &[&script])?;
                let t = started.elapsed().as_secs_f64();
                let lines: HashSet<&str> = text.lines().map(str::trim).collect();
                let lower = text.to_lowercase();
                if seen.running.is_none() && names.iter().all(|n| lines.contains(n.as_str())) {
                    seen.running = Some(t);
                }
                if seen.leased.is_none() && macs.iter().all(|m| lower.contains(m.as_str())) {
                    seen.leased = Some(t);
                }
                if seen.running.is_some() && seen.leased.is_some() {
                    break;
                }
                std::thread::sleep(POLL);
            }
            Ok(seen)
        });
        Self { stop, handle }
    }

    /// Waits for the observer to see everything (or time out).
    fn finish(self) -> anyhow::Result<Seen> {
        self.handle
            .join()
            .map_err(|_| anyhow!("the observer thread panicked"))?
    }

    /// Stops the observer now and returns what it saw.
    fn abort(self) -> anyhow::Result<Seen> {
        self.stop.store(true, Ordering::Relaxed);
        self.finish()
    }
}

/// One cycle's measurements, in seconds from its first command.
#[derive(Debug, Clone, Copy)]
struct Cycle {
    /// All VMs seen running.
    running: f64,
    /// All VMs have their address: rack, `terraform apply` returned (its `wait_for_ip`
    /// saw every lease); virsh, the observer saw every lease.
    addressed: f64,
    /// rack only: the observer's view of the leases, for comparison with `addressed`.
    leased_seen: f64,
    /// The whole destroy.
    destroy: f64,
    /// rack only: CPU seconds of the provider processes of apply and destroy.
    provider_cpu: Option<(f64, f64)>,
}

struct Bench {
    uri: String,
    /// The base volume's size in bytes: each overlay's size.
    base_size: u64,
    work: PathBuf,
    wd: Workdir,
    times: PathBuf,
}

impl Bench {
    fn rack_main_tf(names: &[String]) -> String {
        let vms = names
            .iter()
            .map(|n| format!("\"{n}\""))
            .collect::<Vec<_>>()
            .join(", ");
        format!(
            r##"terraform {{
  required_providers {{
    rack = {{ source = "terraform.local/rack/rack" }}
  }}
}}

provider "rack" {{}}

locals {{
  vms = toset([{vms}])
}}

resource "rack_volume" "disk" {{
  for_each = local.vms

  pool        = "{POOL}"
  name        = "${{each.key}}.qcow2"
  base_volume = "{BASE}"
}}

resource "rack_vm" "vm" {{
  for_each = local.vms

  name   = each.key
  type   = "qemu"
  vcpus  = 1
  memory = "{MEMORY_MIB}MiB"

  disk {{
    pool   = "{POOL}"
    volume = rack_volume.disk[each.key].name
    format = "qcow2"
  }}

  network_interface {{
    network = "{NETWORK}"
  }}

  cloud_init {{
    meta_data = "instance-id: ${{each.key}}-1\nlocal-hostname: ${{each.key}}\n"
    user_data = "#cloud-config\nfqdn: ${{each.key}}.bench\n"
  }}

  wait_for_ip {{
    source  = "lease"
    timeout = "{limit}s"
  }}
}}

output "ips" {{
  value = {{ for k, vm in rack_vm.vm : k => vm.network_interface[0].ip_addresses }}
}}
"##,
            limit = BOOT_LIMIT.as_secs()
        )
    }

    fn terraform(&self, args: &[&str]) -> anyhow::Result<CmdResult> {
        let run = self.wd.run(args);
        if !run.succeeded() {
            bail!("terraform {} failed:\n{run}", args.join(" "));
        }
        Ok(run)
    }

    fn rack(&self, names: &[String]) -> anyhow::Result<Cycle> {
        self.wd.write_main(&Self::rack_main_tf(names));
        take_provider_cpu(&self.times)?;
        let started = Instant::now();
        let observer = Observer::start(&self.uri, names, started);
        let apply = self
            .wd
            .run(&["apply", "-auto-approve", "-input=false", "-no-color"]);
        let addressed = started.elapsed().as_secs_f64();
        if !apply.succeeded() {
            observer.abort()?;
            bail!("terraform apply failed:\n{apply}");
        }
        let seen = observer.finish()?;
        let apply_cpu = take_provider_cpu(&self.times)?;
        // Terraform's own record: every VM has an address.
        let ips = self.terraform(&["output", "-json", "-no-color", "ips"])?;
        let ips: serde_json::Value =
            serde_json::from_str(&ips.stdout).context("terraform output is not JSON")?;
        for name in names {
            let list = ips.get(name).and_then(serde_json::Value::as_array);
            if list.is_none_or(Vec::is_empty) {
                bail!("after apply, VM {name} has no address in Terraform's state: {ips}");
            }
        }
        let destroy = self
            .terraform(&["destroy", "-auto-approve", "-input=false", "-no-color"])?
            .elapsed
            .as_secs_f64();
        let destroy_cpu = take_provider_cpu(&self.times)?;
        self.check_clean(names)?;
        Ok(Cycle {
            running: seen
                .running
                .ok_or_else(|| anyhow!("the observer never saw all VMs running"))?,
            addressed,
            leased_seen: seen
                .leased
                .ok_or_else(|| anyhow!("the observer never saw all leases"))?,
            destroy,
            provider_cpu: Some((cpu_of(apply_cpu), cpu_of(destroy_cpu))),
        })
    }

    /// One VM made the virsh way: overlay, seed ISO, definition, start.
    fn virsh_create(&self, name: &str) -> anyhow::Result<()> {
        let uri = self.uri.as_str();
        let disk = format!("{name}.qcow2");
        let seed = format!("{name}-cidata.iso");
        virsh(
            uri,
            &[
                "vol-create-as",
                POOL,
                &disk,
                &self.base_size.to_string(),
                "--format",
                "qcow2",
                "--backing-vol",
                BASE,
                "--backing-vol-format",
                "raw",
            ],
        )?;
        let dir = self.work.join(name);
        std::fs::create_dir_all(&dir)?;
        std::fs::write(dir.join("meta-data"), meta_data(name))?;
        std::fs::write(dir.join("user-data"), user_data(name))?;
        let iso = dir.join("seed.iso");
        let out = Command::new("genisoimage")
            .current_dir(&dir)
            .args(["-quiet", "-output"])
            .arg(&iso)
            .args([
                "-volid",
                "cidata",
                "-joliet",
                "-rock",
                "user-data",
                "meta-data",
            ])
            .output()
            .context("Cannot run genisoimage (Debian package genisoimage)")?;
        if !out.status.success() {
            bail!(
                "genisoimage failed: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        let size = std::fs::metadata(&iso)?.len().to_string();
        virsh(
            uri,
            &["vol-create-as", POOL, &seed, &size, "--format", "raw"],
        )?;
        let iso_text = iso.to_string_lossy().into_owned();
        virsh(uri, &["vol-upload", "--pool", POOL, &seed, &iso_text])?;
        let xml = dir.join("domain.xml");
        std::fs::write(&xml, domain_xml(name))?;
        virsh(uri, &["define", &xml.to_string_lossy()])?;
        virsh(uri, &["start", name])?;
        Ok(())
    }

    /// One VM removed the virsh way, as rack does it: ACPI shutdown, wait, undefine, the
    /// overlay and the seed deleted.
    fn virsh_delete(&self, name: &str) -> anyhow::Result<()> {
        let uri = self.uri.as_str();
        virsh(uri, &["shutdown", name, "--mode", "acpi"])?;
        let started = Instant::now();
        while virsh(uri, &["domstate", name])?.trim() != "shut off" {
            if started.elapsed() > Duration::from_secs(60) {
                virsh(uri, &["destroy", name])?;
                break;
            }
            std::thread::sleep(POLL);
        }
        virsh(uri, &["undefine", name])?;
        virsh(
            uri,
            &["vol-delete", "--pool", POOL, &format!("{name}.qcow2")],
        )?;
        virsh(
            uri,
            &["vol-delete", "--pool", POOL, &format!("{name}-cidata.iso")],
        )?;
        Ok(())
    }

    fn virsh(&self, names: &[String]) -> anyhow::Result<Cycle> {
        let started = Instant::now();
        let observer = Observer::start(&self.uri, names, started);
        let created = std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| s.spawn(move || self.virsh_create(n)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow!("a virsh thread panicked"))?)
                .collect::<anyhow::Result<Vec<()>>>()
        });
        if let Err(e) = created {
            observer.abort()?;
            return Err(e.context("The virsh sequence failed"));
        }
        let seen = observer.finish()?;
        let running = seen
            .running
            .ok_or_else(|| anyhow!("the observer never saw all virsh VMs running"))?;
        let leased = seen.leased.ok_or_else(|| {
            anyhow!("the virsh VMs did not all get a lease within {BOOT_LIMIT:?}")
        })?;
        let t = Instant::now();
        std::thread::scope(|s| {
            let handles: Vec<_> = names
                .iter()
                .map(|n| s.spawn(move || self.virsh_delete(n)))
                .collect();
            handles
                .into_iter()
                .map(|h| h.join().map_err(|_| anyhow!("a virsh thread panicked"))?)
                .collect::<anyhow::Result<Vec<()>>>()
        })?;
        let destroy = t.elapsed().as_secs_f64();
        self.check_clean(names)?;
        for n in names {
            let _ = std::fs::remove_dir_all(self.work.join(n));
        }
        Ok(Cycle {
            running,
            addressed: leased,
            leased_seen: leased,
            destroy,
            provider_cpu: None,
        })
    }

    /// After a destroy: no VM of the cycle and no volume but the base is left.
    fn check_clean(&self, names: &[String]) -> anyhow::Result<()> {
        let defined = virsh(&self.uri, &["list", "--all", "--name"])?;
        if let Some(left) = defined
            .lines()
            .map(str::trim)
            .find(|l| names.iter().any(|n| n == l))
        {
            bail!("VM {left} is still defined after destroy");
        }
        virsh(&self.uri, &["pool-refresh", POOL])?;
        let vols = virsh(&self.uri, &["vol-list", POOL])?;
        let left: Vec<&str> = vols
            .lines()
            .filter_map(|l| l.split_whitespace().next())
            .filter(|v| *v != BASE)
            .collect();
        if !left.is_empty() {
            bail!("volumes left in pool {POOL} after destroy: {left:?}");
        }
        Ok(())
    }
}

fn cpu_of(p: ProviderCpu) -> f64 {
    p.seconds
}

/// The domain the floor defines: what rack defines for the same `rack_vm` (see
/// `rack_core::libvirt::domain_xml`).
fn domain_xml(name: &str) -> String {
    let mac = interface_mac(name, 0);
    let kib = MEMORY_MIB * 1024;
    format!(
        "<domain type='qemu'>
  <name>{name}</name>
  <memory unit='KiB'>{kib}</memory>
  <currentMemory unit='KiB'>{kib}</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os><type arch='x86_64'>hvm</type><boot dev='hd'/></os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <disk type='volume' device='disk'>
      <driver name='qemu' type='qcow2'/>
      <source pool='{POOL}' volume='{name}.qcow2'/>
      <target dev='vda' bus='virtio'/>
    </disk>
    <disk type='volume' device='cdrom'>
      <driver name='qemu' type='raw'/>
      <source pool='{POOL}' volume='{name}-cidata.iso'/>
      <target dev='sda' bus='sata'/>
      <readonly/>
    </disk>
    <interface type='network'>
      <mac address='{mac}'/>
      <source network='{NETWORK}'/>
      <model type='virtio'/>
    </interface>
    <serial type='pty'><target port='0'/></serial>
    <console type='pty'><target type='serial' port='0'/></console>
  </devices>
</domain>
"
    )
}

fn network_xml() -> String {
    format!(
        "<network>
  <name>{NETWORK}</name>
  <forward mode='nat'/>
  <bridge name='{BRIDGE}' stp='on' delay='0'/>
  <ip address='10.96.0.1' netmask='255.255.255.0'>
    <dhcp><range start='10.96.0.10' end='10.96.0.250'/></dhcp>
  </ip>
</network>
"
    )
}

/// The lab's base image, built by `scripts/build-base-image` into `dir`.
fn base_image(dir: &Path) -> anyhow::Result<PathBuf> {
    let script = rack_acceptance_tests::workspace_root()
        .join("scripts")
        .join("build-base-image");
    let cache = std::env::var_os("RACK_TEST_GUEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/rack-test-guest"));
    let image = dir.join("base.raw");
    let out = Command::new("bash")
        .arg(&script)
        .arg(&cache)
        .arg(&image)
        .output()
        .with_context(|| format!("Cannot run {}", script.display()))?;
    if !out.status.success() {
        bail!(
            "{} failed:\n{}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(image)
}

#[derive(Debug, Default)]
struct Samples {
    rack: Vec<Cycle>,
    virsh: Vec<Cycle>,
}

/// Runs the whole benchmark and returns its report in markdown.
pub fn run(opts: &Options) -> anyhow::Result<String> {
    let setup = Setup::new(opts.runs)?;
    let runtime = runtime()?;

    eprintln!("bench: starting libvirtd, building the base image");
    fix_kvm_permissions().map_err(|e| anyhow!("{e}"))?;
    let fixture = Libvirt::start().map_err(|e| anyhow!("Cannot start libvirtd: {e}"))?;
    let dir = TempDir::new("rack-bench-vm").map_err(|e| anyhow!("{e}"))?;
    let image = base_image(dir.path())?;
    let pool_dir = dir.path().join("pool");
    let pool_text = pool_dir
        .to_str()
        .ok_or_else(|| anyhow!("temp dir is not UTF-8"))?
        .to_owned();
    let version = runtime.block_on(async {
        let hv = Hypervisor::with_timeout(&fixture.uri, Duration::from_secs(120))?;
        let (_, version) = hv.ping().await?;
        hv.create_pool(&PoolSpec::dir(POOL, &pool_text)).await?;
        let spec = VolumeSpec {
            pool: POOL.into(),
            name: BASE.into(),
            format: VolumeFormat::Raw,
            capacity: None,
            content: VolumeContent::Upload(UploadSource {
                location: SourceLocation::File(image.clone()),
                sha256: sha256_hex(&image)?,
            }),
        };
        hv.create_volume(&spec).await?;
        anyhow::Ok(version)
    })?;
    let net = dir.path().join("network.xml");
    std::fs::write(&net, network_xml())?;
    virsh(&fixture.uri, &["net-define", &net.to_string_lossy()])?;
    virsh(&fixture.uri, &["net-start", NETWORK])?;

    let work = dir.path().join("virsh");
    std::fs::create_dir_all(&work)?;
    let wrapper_dir = dir.path().join("provider");
    std::fs::create_dir_all(&wrapper_dir)?;
    let times = wrapper_dir.join("times");
    write_wrapper(&wrapper_dir, &setup.binary, &times)?;
    let mut wd = Workdir::with_cli_config_text(&rack_acceptance_tests::dev_overrides_cli_config(
        &wrapper_dir,
    ));
    wd.set_env("RACK_HYPERVISORS", fixture.uri.clone())
        .set_env("RACK_HYPERVISOR_TIMEOUT", "120s");
    let bench = Bench {
        uri: fixture.uri.clone(),
        base_size: std::fs::metadata(&image)?.len(),
        work,
        wd,
        times,
    };

    let mut s = Samples::default();
    for round in 0..=opts.runs {
        let counted = round > 0;
        let rack_first = round % 2 == 0;
        for first in [true, false] {
            let rack = first == rack_first;
            eprintln!(
                "bench: round {round}/{}{}: {}",
                opts.runs,
                if counted { "" } else { " (warm-up)" },
                if rack { "rack" } else { "virsh" }
            );
            let cycle = if rack {
                bench.rack(&names('r', round))
            } else {
                bench.virsh(&names('v', round))
            }
            .with_context(|| format!("Round {round}"))?;
            eprintln!(
                "bench:   running {:.1} s, addresses {:.1} s, destroy {:.1} s",
                cycle.running, cycle.addressed, cycle.destroy
            );
            if counted {
                if rack {
                    s.rack.push(cycle);
                } else {
                    s.virsh.push(cycle);
                }
            }
        }
    }
    let mut out = setup.report_head(
        Some("no KVM acceleration (QEMU TCG)"),
        "default parallelism (10)",
    );
    let _ = writeln!(
        out,
        "- libvirt {}.{}.{} (the `rack-lab` fixture), a dir pool, a NAT network \
         with dnsmasq's DHCP; VMs: {VMS} × 1 vCPU, {MEMORY_MIB} MiB, a qcow2 overlay of the \
         32 MiB raw base image, a cloud-init seed, one virtio NIC",
        version / 1_000_000,
        version / 1000 % 1000,
        version % 1000
    );
    let _ = writeln!(
        out,
        "- Rounds: {} (each: one rack cycle and one virsh cycle, in alternating order), after \
         one warm-up round that is not counted\n",
        opts.runs
    );
    out.push_str(&report(&s)?);
    Ok(out)
}

fn summary(samples: &[f64], what: &str) -> anyhow::Result<Summary> {
    Summary::of(samples).ok_or_else(|| anyhow!("No samples for {what}"))
}

fn report(s: &Samples) -> anyhow::Result<String> {
    let col = |cycles: &[Cycle], f: fn(&Cycle) -> f64| cycles.iter().map(f).collect::<Vec<_>>();
    let virsh_running = summary(&col(&s.virsh, |c| c.running), "virsh running")?;
    let virsh_leased = summary(&col(&s.virsh, |c| c.addressed), "virsh leases")?;
    let virsh_destroy = summary(&col(&s.virsh, |c| c.destroy), "virsh destroy")?;
    let limit = |b: Summary| {
        Some(Target {
            below: FACTOR * b.median,
        })
    };
    let rows = vec![
        Row {
            what: format!("{VMS} VMs all running (seen by the observer)"),
            unit: Unit::S,
            rack: summary(&col(&s.rack, |c| c.running), "rack running")?,
            baseline_what: "virsh: the same".to_owned(),
            baseline: Some(virsh_running),
            target: limit(virsh_running),
        },
        Row {
            what: format!(
                "{VMS} VMs all with their address: `terraform apply` returned (`wait_for_ip`)"
            ),
            unit: Unit::S,
            rack: summary(&col(&s.rack, |c| c.addressed), "rack apply")?,
            baseline_what: "virsh: every lease seen by the observer".to_owned(),
            baseline: Some(virsh_leased),
            target: limit(virsh_leased),
        },
        Row {
            what: "rack: every lease seen by the observer".to_owned(),
            unit: Unit::S,
            rack: summary(&col(&s.rack, |c| c.leased_seen), "rack leases")?,
            baseline_what: "virsh: the same".to_owned(),
            baseline: Some(virsh_leased),
            target: None,
        },
        Row {
            what: format!("destroy {VMS} VMs and their volumes: `terraform destroy`"),
            unit: Unit::S,
            rack: summary(&col(&s.rack, |c| c.destroy), "rack destroy")?,
            baseline_what: "virsh: shutdown, wait, undefine, vol-delete".to_owned(),
            baseline: Some(virsh_destroy),
            target: limit(virsh_destroy),
        },
    ];
    let mut out = table(&rows);
    let ratio = |f: fn(&Cycle) -> f64| {
        let r: Vec<f64> = s
            .rack
            .iter()
            .zip(&s.virsh)
            .map(|(r, v)| f(r) / f(v))
            .collect();
        Summary::of(&r).map_or_else(
            || "–".to_owned(),
            |r| format!("{:.2} (min–max {:.2}–{:.2})", r.median, r.min, r.max),
        )
    };
    let cpu: Vec<(f64, f64)> = s.rack.iter().filter_map(|c| c.provider_cpu).collect();
    let apply_cpu = Summary::of(&cpu.iter().map(|c| c.0).collect::<Vec<_>>());
    let destroy_cpu = Summary::of(&cpu.iter().map(|c| c.1).collect::<Vec<_>>());
    let _ = writeln!(
        out,
        "\nPer-round ratios, rack / virsh (same round): all running {}; all addressed {}; \
         destroy {}.",
        ratio(|c| c.running),
        ratio(|c| c.addressed),
        ratio(|c| c.destroy)
    );
    if let (Some(a), Some(d)) = (apply_cpu, destroy_cpu) {
        let _ = writeln!(
            out,
            "\nCPU of the provider processes (median): apply {:.2} s, destroy {:.2} s.",
            a.median, d.median
        );
    }
    let met = rows.iter().all(|r| r.met() != Some(false));
    let _ = writeln!(
        out,
        "\n**Target (within {FACTOR}× the virsh floor, by medians): {}.**",
        if met { "met" } else { "not met" }
    );
    Ok(out)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn cycles_have_their_own_names_and_macs() {
        let a = names('r', 1);
        let b = names('v', 1);
        let c = names('r', 2);
        assert_eq!(a.len(), VMS);
        assert_eq!(a[3], "r1vm03");
        let macs: HashSet<String> = a
            .iter()
            .chain(&b)
            .chain(&c)
            .map(|n| interface_mac(n, 0).to_string())
            .collect();
        assert_eq!(macs.len(), 3 * VMS);
    }

    #[test]
    fn the_floor_defines_what_rack_defines() {
        let xml = domain_xml("r1vm00");
        assert!(xml.contains(&format!("<mac address='{}'/>", interface_mac("r1vm00", 0))));
        assert!(xml.contains("volume='r1vm00-cidata.iso'"));
        assert!(xml.contains(&format!("{}", MEMORY_MIB * 1024)));
        let tf = Bench::rack_main_tf(&names('r', 1));
        assert!(tf.contains("\"r1vm09\""));
        assert!(tf.contains(&format!("memory = \"{MEMORY_MIB}MiB\"")));
    }
}
