//! `list "rack_storage_pool"`: every storage pool of one hypervisor, so `terraform query
//! -generate-config-out` can adopt pools made by hand (those rack can model).

use async_trait::async_trait;
use rack_core::libvirt::{Hypervisor, PoolState};

use super::shared::{identity, list_objects, list_schema};
use super::storage_pool::listed_state;
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::schema::Schema;
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct StoragePoolList;

#[async_trait]
impl ListResource for StoragePoolList {
    fn type_name(&self) -> &'static str {
        "rack_storage_pool"
    }

    fn schema(&self) -> Schema {
        list_schema(
            "Lists the storage pools of one hypervisor, active or not. When the resources \
             are asked for, pools of types rack cannot model are left out, with a warning.",
            [],
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let fetch = |hv: Hypervisor| async move { hv.refresh_pools().await };
        let item = |hv: &NamedHypervisor, pool: &PoolState, with_state: bool| {
            let item = ListItem {
                identity: identity(&hv.name, &pool.name),
                display_name: format!(
                    "{} ({})",
                    pool.name,
                    if pool.active { "active" } else { "inactive" }
                ),
                resource: with_state.then(|| listed_state(&hv.name, pool)).flatten(),
            };
            async move { Ok::<_, Diagnostic>(item) }
        };
        list_objects(ctx, req, sink, "the storage pools", fetch, item).await;
    }
}
