//! `list "rack_network"`: every network of one hypervisor, so `terraform query
//! -generate-config-out` can adopt networks made by hand (those rack can model).

use async_trait::async_trait;
use rack_core::libvirt::{Hypervisor, NetworkState};

use super::network::listed_state;
use super::shared::{identity, list_objects, list_schema};
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::schema::Schema;
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct NetworkList;

#[async_trait]
impl ListResource for NetworkList {
    fn type_name(&self) -> &'static str {
        "rack_network"
    }

    fn schema(&self) -> Schema {
        list_schema(
            "Lists the networks of one hypervisor, active or not. When the resources \
             are asked for, networks rack cannot model (forward modes other than NAT, \
             route, isolated and open) are left out, with a warning.",
            [],
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let fetch = |hv: Hypervisor| async move { hv.refresh_networks().await };
        let item = |hv: &NamedHypervisor, net: &NetworkState, with_state: bool| {
            let item = ListItem {
                identity: identity(&hv.name, &net.name),
                display_name: format!(
                    "{} ({})",
                    net.name,
                    if net.active { "active" } else { "inactive" }
                ),
                resource: with_state.then(|| listed_state(&hv.name, net)).flatten(),
            };
            async move { Ok::<_, Diagnostic>(item) }
        };
        list_objects(ctx, req, sink, "the networks", fetch, item).await;
    }
}
