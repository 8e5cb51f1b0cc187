//! `rack_volume` data source: one storage volume as libvirt holds it, read fresh.

use async_trait::async_trait;

use super::shared::{HYPERVISOR_DESCRIPTION, hypervisor, libvirt_diag};
use super::volume::data_value;
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::{AttributePath, Context, DataSource, Diagnostic, Diagnostics};
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
        let mut diags = Diagnostics::new();
        let (Some(pool), Some(name)) = (str_attr(&config, "pool"), str_attr(&config, "name"))
        else {
            diags.error_at(
                AttributePath::attr("name"),
                "Unknown volume",
                "The pool and volume names must be known when the data source is read.",
            );
            return (Value::Null, diags);
        };
        let hv = match hypervisor(ctx, str_attr(&config, "hypervisor")) {
            Ok(h) => h,
            Err(d) => {
                diags.push(d);
                return (Value::Null, diags);
            }
        };
        match hv.handle.volume_fresh(pool, name).await {
            Ok(Some(now)) => (data_value(&hv.name, &now), diags),
            Ok(None) => {
                diags.push(
                    Diagnostic::error(
                        format!("No volume {pool}/{name} on hypervisor {:?}", hv.name),
                        "Check the pool and volume names (`virsh vol-list POOL` on the \
                         hypervisor lists them) and the hypervisor.",
                    )
                    .at(AttributePath::attr("name")),
                );
                (Value::Null, diags)
            }
            Err(e) => {
                diags.push(libvirt_diag(
                    &e,
                    &format!("Reading volume {pool}/{name} on hypervisor {:?}.", hv.name),
                ));
                (Value::Null, diags)
            }
        }
    }
}
