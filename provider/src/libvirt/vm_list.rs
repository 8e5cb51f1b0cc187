//! `list "rack_vm"`: every VM of one hypervisor, so `terraform query
//! -generate-config-out` can adopt VMs made by hand (those rack can model).

use async_trait::async_trait;
use rack_core::libvirt::{DomainState, Hypervisor};

use super::shared::{list_objects, list_schema};
use super::vm::{listed_identity, listed_state};
use crate::config::hypervisors::NamedHypervisor;
use crate::framework::schema::Schema;
use crate::framework::{Context, Diagnostic, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmList;

#[async_trait]
impl ListResource for VmList {
    fn type_name(&self) -> &'static str {
        "rack_vm"
    }

    fn schema(&self) -> Schema {
        list_schema(
            "Lists the VMs of one hypervisor, running or not. When the resources are asked \
             for (`include_resource`, `-generate-config-out`), VMs rack cannot model (disks \
             that are plain files, interfaces of other kinds) are left out, with a warning.",
            [],
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let fetch = |hv: Hypervisor| async move { hv.refresh_domains().await };
        let item = |hv: &NamedHypervisor, vm: &DomainState, with_state: bool| {
            let item = ListItem {
                identity: listed_identity(&hv.name, &vm.name),
                display_name: format!("{} ({})", vm.name, vm.state),
                resource: if with_state {
                    listed_state(&hv.name, vm)
                } else {
                    None
                },
            };
            async move { Ok::<_, Diagnostic>(item) }
        };
        list_objects(ctx, req, sink, "the VMs", fetch, item).await;
    }
}
