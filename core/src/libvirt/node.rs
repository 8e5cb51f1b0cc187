//! What a hypervisor is: its hardware, its versions, and which domain types really work
//! there.
//!
//! libvirt lists a domain type in its capabilities when the emulator supports it, which
//! is not the same as "works": `kvm` is listed wherever `/dev/kvm` exists, also in a
//! virtual machine whose CPU offers no hardware virtualisation to nested guests, where a
//! `kvm` domain reports running and makes no progress. So a type counts as usable when
//! libvirt's domain capabilities for it can be read and, for `kvm` on x86, the host CPU
//! shows `vmx` or `svm`.

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use super::connection::Hypervisor;
use super::error::LibvirtError;
use super::xml::Element;

/// A hypervisor's hardware, versions and usable domain types.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeInfo {
    /// The host's name as the hypervisor reports it.
    pub hostname: String,
    /// The connection's URI as libvirt normalised it.
    pub uri: String,
    /// The driver, e.g. `QEMU`.
    pub driver: String,
    /// libvirt's version on the hypervisor, `major.minor.release`.
    pub libvirt_version: String,
    /// The driver's (emulator's) version, `major.minor.release`.
    pub driver_version: String,
    /// The host CPU architecture, e.g. `x86_64`.
    pub arch: String,
    /// The host CPU model libvirt reports.
    pub cpu_model: String,
    /// Logical CPUs.
    pub cpus: u32,
    /// CPU frequency in MHz (0 when unknown).
    pub mhz: u32,
    /// NUMA nodes.
    pub numa_nodes: u32,
    /// Sockets per NUMA node.
    pub sockets: u32,
    /// Cores per socket.
    pub cores: u32,
    /// Threads per core.
    pub threads: u32,
    /// Memory in bytes.
    pub memory_bytes: u64,
    /// Free memory in bytes.
    pub free_memory_bytes: u64,
    /// Domain types that work on the host's architecture, e.g. `["kvm", "qemu"]`.
    pub domain_types: Vec<String>,
    /// Domain types libvirt lists that do not work here, with the reason.
    pub unusable_domain_types: BTreeMap<String, String>,
}

/// The host part of libvirt's capabilities XML, as far as rack uses it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Capabilities {
    /// Host CPU architecture.
    pub arch: String,
    /// Host CPU model.
    pub cpu_model: String,
    /// Host CPU features beyond the model.
    pub cpu_features: Vec<String>,
    /// Guest architectures and the domain types listed for each.
    pub guests: BTreeMap<String, Vec<String>>,
}

/// Reads libvirt's capabilities XML.
pub fn parse_capabilities(xml: &str) -> Result<Capabilities, String> {
    let root = Element::parse(xml)?;
    let mut caps = Capabilities::default();
    if let Some(cpu) = root.first("host").and_then(|h| h.first("cpu")) {
        caps.arch = cpu
            .first("arch")
            .map(|a| a.text.trim().to_owned())
            .unwrap_or_default();
        caps.cpu_model = cpu
            .first("model")
            .map(|m| m.text.trim().to_owned())
            .unwrap_or_default();
        caps.cpu_features = cpu
            .all("feature")
            .filter_map(|f| f.get("name").map(str::to_owned))
            .collect();
    }
    for guest in root.all("guest") {
        let Some(arch) = guest.first("arch") else {
            continue;
        };
        let name = arch.get("name").unwrap_or_default().to_owned();
        let types = caps.guests.entry(name).or_default();
        for domain in arch.all("domain") {
            if let Some(t) = domain.get("type")
                && !types.iter().any(|x| x == t)
            {
                types.push(t.to_owned());
            }
        }
    }
    Ok(caps)
}

/// Why `kvm` cannot work on a host of these capabilities, if it cannot (x86 only: other
/// architectures are judged by their domain capabilities alone).
pub fn kvm_obstacle(caps: &Capabilities) -> Option<String> {
    let x86 = matches!(caps.arch.as_str(), "x86_64" | "i686");
    let hw = caps.cpu_features.iter().any(|f| f == "vmx" || f == "svm");
    (x86 && !hw).then(|| {
        "the host CPU shows no hardware virtualisation (vmx or svm): a nested hypervisor \
         without it, or virtualisation disabled in the firmware; use type `qemu` \
         (emulation)"
            .to_owned()
    })
}

fn version_text(v: u32) -> String {
    format!("{}.{}.{}", v / 1_000_000, (v / 1000) % 1000, v % 1000)
}

/// What one VM may have on a hypervisor, as the hypervisor reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GuestLimits {
    /// The most vCPUs a domain of the type may have (`virConnectGetMaxVcpus`).
    pub max_vcpus: u32,
    /// The host's memory in KiB: no VM gets more.
    pub memory_kib: u64,
}

/// What one VM may have, per domain type: read once per process (see
/// [`Hypervisor::guest_limits`]).
#[derive(Default)]
struct KnownLimits(Mutex<HashMap<String, GuestLimits>>);

impl Hypervisor {
    /// The limits for one VM of `domain_type` (`kvm`, `qemu`): the host's memory and
    /// libvirt's vCPU maximum do not change while the provider runs, so they are read once
    /// per domain type, not once per VM planned.
    pub async fn guest_limits(&self, domain_type: &str) -> Result<GuestLimits, LibvirtError> {
        if let Some(limits) = self.cached_guest_limits(domain_type) {
            return Ok(limits);
        }
        let limits = self.read_guest_limits(domain_type).await?;
        if let Ok(mut m) = self.cache::<KnownLimits>().0.lock() {
            m.insert(domain_type.to_owned(), limits);
        }
        Ok(limits)
    }

    fn cached_guest_limits(&self, domain_type: &str) -> Option<GuestLimits> {
        self.cache::<KnownLimits>()
            .0
            .lock()
            .ok()
            .and_then(|m| m.get(domain_type).copied())
    }

    async fn read_guest_limits(&self, domain_type: &str) -> Result<GuestLimits, LibvirtError> {
        let domain_type = domain_type.to_owned();
        self.call("read the hypervisor's limits for a VM", move |link| {
            let conn = link.conn();
            let fail = |what: &str, e| link.fail(format!("read the hypervisor's {what}"), e);
            let node = conn.node_info().map_err(|e| fail("node information", e))?;
            let max_vcpus = conn
                .max_vcpus(Some(&domain_type))
                .map_err(|e| fail("maximum vCPUs", e))?;
            Ok(GuestLimits {
                max_vcpus,
                memory_kib: node.memory,
            })
        })
        .await
    }

    /// The hypervisor's hardware, versions and usable domain types (read each time).
    pub async fn node_info(&self) -> Result<NodeInfo, LibvirtError> {
        self.call("read the hypervisor's node information", |link| {
            let conn = link.conn();
            let fail = |what: &str, e| link.fail(format!("read the hypervisor's {what}"), e);
            let node = conn.node_info().map_err(|e| fail("node information", e))?;
            let caps_xml = conn.capabilities().map_err(|e| fail("capabilities", e))?;
            let caps = parse_capabilities(&caps_xml).map_err(|e| LibvirtError::Unreadable {
                uri: link.uri().to_owned(),
                what: "capabilities".to_owned(),
                reason: e,
            })?;
            let mut domain_types = Vec::new();
            let mut unusable = BTreeMap::new();
            for t in caps.guests.get(&caps.arch).cloned().unwrap_or_default() {
                let probe = conn.domain_capabilities(None, Some(&caps.arch), None, Some(&t), 0);
                match probe {
                    Err(e) => {
                        unusable.insert(t, e.message().to_owned());
                    }
                    Ok(_) if t == "kvm" => match kvm_obstacle(&caps) {
                        Some(why) => {
                            unusable.insert(t, why);
                        }
                        None => domain_types.push(t),
                    },
                    Ok(_) => domain_types.push(t),
                }
            }
            Ok(NodeInfo {
                hostname: conn.hostname().map_err(|e| fail("host name", e))?,
                uri: conn.uri().map_err(|e| fail("URI", e))?,
                driver: conn.driver_type().map_err(|e| fail("driver", e))?,
                libvirt_version: version_text(
                    conn.lib_version().map_err(|e| fail("libvirt version", e))?,
                ),
                driver_version: version_text(
                    conn.hyp_version().map_err(|e| fail("driver version", e))?,
                ),
                arch: caps.arch.clone(),
                cpu_model: if caps.cpu_model.is_empty() {
                    node.model.clone()
                } else {
                    caps.cpu_model.clone()
                },
                cpus: node.cpus,
                mhz: node.mhz,
                numa_nodes: node.nodes,
                sockets: node.sockets,
                cores: node.cores,
                threads: node.threads,
                memory_bytes: node.memory.saturating_mul(1024),
                free_memory_bytes: conn.free_memory().map_err(|e| fail("free memory", e))?,
                domain_types,
                unusable_domain_types: unusable,
            })
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const CAPS: &str = "<capabilities>
  <host>
    <uuid>0a</uuid>
    <cpu>
      <arch>x86_64</arch>
      <model>Skylake-Client-IBRS</model>
      <vendor>Intel</vendor>
      <feature name='hypervisor'/>
      <feature name='ss'/>
    </cpu>
  </host>
  <guest>
    <os_type>hvm</os_type>
    <arch name='i686'>
      <domain type='qemu'/>
      <domain type='kvm'/>
    </arch>
  </guest>
  <guest>
    <os_type>hvm</os_type>
    <arch name='x86_64'>
      <wordsize>64</wordsize>
      <domain type='qemu'/>
      <domain type='kvm'/>
    </arch>
  </guest>
</capabilities>";

    #[test]
    fn reads_the_host_and_guests() {
        let caps = parse_capabilities(CAPS).unwrap();
        assert_eq!(caps.arch, "x86_64");
        assert_eq!(caps.cpu_model, "Skylake-Client-IBRS");
        assert_eq!(caps.guests["x86_64"], ["qemu", "kvm"]);
        assert!(kvm_obstacle(&caps).unwrap().contains("vmx"));
        let with_vmx = CAPS.replace("name='ss'", "name='vmx'");
        assert_eq!(kvm_obstacle(&parse_capabilities(&with_vmx).unwrap()), None);
    }

    #[test]
    fn versions_read_as_dotted() {
        assert_eq!(version_text(9_000_000), "9.0.0");
        assert_eq!(version_text(7_002_011), "7.2.11");
    }
}
