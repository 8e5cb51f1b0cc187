//! `rack_volume` data source: one storage volume as libvirt holds it, read fresh.

use async_trait::async_trait;
use rack_core::ByteSize;
use rack_core::libvirt::VolumeState;
use serde::{Deserialize, Serialize};

use super::shared::{HYPERVISOR_DESCRIPTION, hypervisor, libvirt_diag};
use super::volume::volume_id;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::typed::{self, Planned};
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics, data_answer};
use crate::protocol::value::Value;

/// The data source.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolumeData;

#[async_trait]
impl DataSource for VolumeData {
    fn type_name(&self) -> &'static str {
        "rack_volume"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Reads a storage volume from its hypervisor: its format, size, allocation, \
                 path and backing file. For volumes made outside this configuration, e.g. a \
                 golden image to base overlays on.",
            )
            .attributes([
                Attribute::string("hypervisor")
                    .optional()
                    .computed()
                    .description(HYPERVISOR_DESCRIPTION),
                Attribute::string("pool")
                    .required()
                    .description("The storage pool's name."),
                Attribute::string("name")
                    .required()
                    .description("The volume's name in the pool."),
                Attribute::string("format")
                    .computed()
                    .description("The image format libvirt reports (`qcow2`, `raw`, ...)."),
                Attribute::string("size")
                    .computed()
                    .description("The size the guest sees, with a unit (e.g. `20GiB`)."),
                Attribute::number("capacity")
                    .computed()
                    .description("The size in bytes."),
                Attribute::number("allocation")
                    .computed()
                    .description("Bytes the volume takes on its storage."),
                Attribute::string("path")
                    .computed()
                    .description("The volume's path on the hypervisor."),
                Attribute::string("backing_file")
                    .computed()
                    .description("For an overlay: the path of its backing file; null otherwise."),
                Attribute::string("id")
                    .computed()
                    .description("`<hypervisor>/<pool>/<name>`."),
            ]),
        )
    }

    async fn read(&self, ctx: &Context, config: Value) -> (Value, Diagnostics) {
        let read = async {
            let wanted: VolumeWanted = typed::from_value(&config)?;
            let (Some(pool), Some(name)) = (wanted.pool.value(), wanted.name.value()) else {
                return Err(Diagnostic::error(
                    "Unknown volume",
                    "The pool and volume names must be known when the data source is read.",
                )
                .at(AttributePath::attr("name"))
                .into());
            };
            let hv = hypervisor(ctx, wanted.hypervisor.value().map(String::as_str))?;
            let now = hv
                .handle
                .volume_fresh(pool, name)
                .await
                .map_err(|e| {
                    libvirt_diag(
                        &e,
                        &format!("Reading volume {pool}/{name} on hypervisor {:?}.", hv.name),
                    )
                })?
                .ok_or_else(|| {
                    Diagnostic::error(
                        format!("No volume {pool}/{name} on hypervisor {:?}", hv.name),
                        "Check the pool and volume names (`virsh vol-list POOL` on the \
                         hypervisor lists them) and the hypervisor.",
                    )
                    .at(AttributePath::attr("name"))
                })?;
            Ok(data_value(&hv.name, &now)?)
        };
        data_answer(read.await)
    }
}

/// The volume the configuration names. A name not known yet is refused; an unknown
/// hypervisor reads as the default one.
#[derive(Debug, Deserialize)]
struct VolumeWanted {
    hypervisor: Planned<Option<String>>,
    pool: Planned<Option<String>>,
    name: Planned<Option<String>>,
}

/// A volume as the data source's attributes.
fn data_value(hv_name: &str, now: &VolumeState) -> Result<Value, Diagnostic> {
    let found = VolumeFound {
        id: volume_id(hv_name, &now.pool, &now.name),
        hypervisor: hv_name.to_owned(),
        pool: now.pool.clone(),
        name: now.name.clone(),
        format: now.format.clone().unwrap_or_else(|| "raw".to_string()),
        size: ByteSize(now.capacity).to_string(),
        capacity: now.capacity,
        allocation: now.allocation,
        path: now.path.clone(),
        backing_file: now.backing.as_ref().map(|b| b.path.clone()),
    };
    typed::to_value(&found, &VolumeData.schema().value_type())
}

/// What the data source answers: the volume as libvirt holds it.
#[derive(Debug, Serialize)]
struct VolumeFound {
    id: String,
    hypervisor: String,
    pool: String,
    name: String,
    format: String,
    size: String,
    capacity: u64,
    allocation: u64,
    path: String,
    backing_file: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn data_value_names_the_backing_file() {
        let now = VolumeState {
            pool: "p".into(),
            name: "v".into(),
            key: "/p/v".into(),
            path: "/p/v".into(),
            format: Some("qcow2".into()),
            capacity: 1 << 30,
            allocation: 4096,
            backing: Some(rack_core::libvirt::BackingStore {
                path: "/p/base".into(),
                format: Some("qcow2".into()),
            }),
            xml: String::new(),
        };
        let v = data_value("kvm1", &now).unwrap();
        assert_eq!(v.attr("size"), Some(&Value::from("1GiB")));
        assert_eq!(v.attr("backing_file"), Some(&Value::from("/p/base")));
        assert_eq!(v.attr("id"), Some(&Value::from("kvm1/p/v")));
    }
}
