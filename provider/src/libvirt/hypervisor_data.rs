//! `rack_hypervisor` data source: a KVM hypervisor's hardware, versions, and the domain
//! types that really work there (see `rack_core::libvirt::node` for how "work" is told).

use async_trait::async_trait;

use super::shared::{HYPERVISOR_DESCRIPTION, hypervisor, libvirt_diag};
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::{Context, DataSource, Diagnostics};
use crate::protocol::value::{Number, Type, Value};

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct HypervisorData;

fn num(n: u64) -> Value {
    Value::Number(Number::from(n))
}

#[async_trait]
impl DataSource for HypervisorData {
    fn type_name(&self) -> &'static str {
        "rack_hypervisor"
    }

    fn schema(&self) -> Schema {
        let computed = |name: &str, ty: Type, text: &str| {
            Attribute::new(name, ty).computed().description(text)
        };
        Schema::new(
            Block::new(
                "Reads a KVM hypervisor: its CPUs and memory, its libvirt and QEMU versions, \
                 and which domain types really work there. `kvm` is listed by libvirt wherever \
                 `/dev/kvm` exists; rack counts it as working only when libvirt can describe \
                 it and (on x86) the host CPU shows hardware virtualisation, so a nested \
                 hypervisor without it reports `qemu` only. Use it to pick `type` for \
                 `rack_vm`.",
            )
            .attributes([
                Attribute::string("name")
                    .optional()
                    .computed()
                    .description(HYPERVISOR_DESCRIPTION),
                computed("uri", Type::String, "The connection URI as libvirt normalised it."),
                computed("hostname", Type::String, "The host's name."),
                computed("driver", Type::String, "The libvirt driver, e.g. `QEMU`."),
                computed("libvirt_version", Type::String, "libvirt's version, e.g. `9.0.0`."),
                computed(
                    "driver_version",
                    Type::String,
                    "The driver's (QEMU's) version, e.g. `7.2.0`.",
                ),
                computed("arch", Type::String, "The host CPU architecture, e.g. `x86_64`."),
                computed("cpu_model", Type::String, "The host CPU model."),
                computed("cpus", Type::Number, "Logical CPUs."),
                computed("mhz", Type::Number, "CPU frequency in MHz (0 when unknown)."),
                computed("numa_nodes", Type::Number, "NUMA nodes."),
                computed("sockets", Type::Number, "Sockets per NUMA node."),
                computed("cores", Type::Number, "Cores per socket."),
                computed("threads", Type::Number, "Threads per core."),
                computed("memory_bytes", Type::Number, "Memory, bytes."),
                computed("free_memory_bytes", Type::Number, "Free memory, bytes."),
                computed(
                    "domain_types",
                    Type::List(Box::new(Type::String)),
                    "Domain types that work for the host's architecture, e.g. `[\"kvm\", \"qemu\"]`.",
                ),
                computed(
                    "unusable_domain_types",
                    Type::Map(Box::new(Type::String)),
                    "Domain types libvirt lists that do not work here, each with the reason.",
                ),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let mut diags = Diagnostics::new();
        let hv = match hypervisor(ctx, str_attr(&config, "name")) {
            Ok(h) => h,
            Err(d) => {
                diags.push(d);
                return (config, diags);
            }
        };
        let info = match hv.handle.node_info().await {
            Ok(i) => i,
            Err(e) => {
                diags.push(libvirt_diag(
                    &e,
                    &format!("Reading hypervisor {:?}.", hv.name),
                ));
                return (config, diags);
            }
        };
        let strings =
            |v: &[String]| Value::List(v.iter().map(|s| Value::from(s.as_str())).collect());
        let value = Value::object([
            ("name", Value::from(hv.name.as_str())),
            ("uri", Value::from(info.uri)),
            ("hostname", Value::from(info.hostname)),
            ("driver", Value::from(info.driver)),
            ("libvirt_version", Value::from(info.libvirt_version)),
            ("driver_version", Value::from(info.driver_version)),
            ("arch", Value::from(info.arch)),
            ("cpu_model", Value::from(info.cpu_model)),
            ("cpus", num(info.cpus.into())),
            ("mhz", num(info.mhz.into())),
            ("numa_nodes", num(info.numa_nodes.into())),
            ("sockets", num(info.sockets.into())),
            ("cores", num(info.cores.into())),
            ("threads", num(info.threads.into())),
            ("memory_bytes", num(info.memory_bytes)),
            ("free_memory_bytes", num(info.free_memory_bytes)),
            ("domain_types", strings(&info.domain_types)),
            (
                "unusable_domain_types",
                Value::Map(
                    info.unusable_domain_types
                        .into_iter()
                        .map(|(k, v)| (k, Value::from(v)))
                        .collect(),
                ),
            ),
        ]);
        (value, diags)
    }
}
