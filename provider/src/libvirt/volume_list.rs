//! `list "rack_volume"`: every volume of one storage pool, so `terraform query
//! -generate-config-out` can adopt volumes made by hand. Their content (an uploaded
//! image, a copy) cannot be told from libvirt, so the generated configuration describes
//! each as an empty volume of its size, or an overlay of its base.

use async_trait::async_trait;
use rack_core::libvirt::{Hypervisor, VolumeState};

use super::shared::{list_objects, list_schema};
use super::volume::{identity, listed_state};
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Schema};
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct VolumeList;

#[async_trait]
impl ListResource for VolumeList {
    fn type_name(&self) -> &'static str {
        "rack_volume"
    }

    fn schema(&self) -> Schema {
        list_schema(
            "Lists the volumes of one storage pool (one listing of the pool).",
            [Attribute::string("pool")
                .required()
                .description("The storage pool to list.")],
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let pool = str_attr(&req.config, "pool").unwrap_or_default().to_owned();
        let fetch = |hv: Hypervisor| async move { hv.refresh_volumes(&pool).await };
        let item = |hv: &NamedHypervisor, vol: &VolumeState, with_state: bool| {
            let hv = hv.clone();
            let vol = vol.clone();
            async move {
                let resource = if with_state {
                    listed_state(&hv, &vol).await
                } else {
                    None
                };
                Ok::<_, Diagnostic>(ListItem {
                    identity: identity(&hv.name, &vol.pool, &vol.name),
                    display_name: format!("{}/{} ({})", vol.pool, vol.name, vol.path),
                    resource,
                })
            }
        };
        list_objects(ctx, req, sink, "the volumes", fetch, item).await;
    }
}
