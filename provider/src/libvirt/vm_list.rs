//! `list "rack_vm"`: every VM of one hypervisor, so `terraform query
//! -generate-config-out` can adopt VMs made by hand (those rack can model).

use async_trait::async_trait;

use super::shared::{HYPERVISOR_DESCRIPTION, hypervisor, libvirt_diag};
use super::vm::{listed_identity, listed_state};
use crate::framework::attrs::str_attr;
use crate::framework::schema::{Attribute, Block, Schema};
use crate::framework::{Context, ListItem, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct VmList;

#[async_trait]
impl ListResource for VmList {
    fn type_name(&self) -> &'static str {
        "rack_vm"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new(
                "Lists the VMs of one hypervisor, running or not. VMs rack cannot model \
                 (disks that are plain files, interfaces of other kinds) are listed without \
                 a resource object.",
            )
            .attributes([Attribute::string("hypervisor")
                .optional()
                .description(HYPERVISOR_DESCRIPTION)]),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let hv = match hypervisor(ctx, str_attr(&req.config, "hypervisor")) {
            Ok(h) => h,
            Err(d) => {
                sink.diagnostic(d).await;
                return;
            }
        };
        let mut all = match hv.handle.refresh_domains().await {
            Ok(l) => l,
            Err(e) => {
                sink.diagnostic(libvirt_diag(
                    &e,
                    &format!("Listing the VMs of hypervisor {:?}.", hv.name),
                ))
                .await;
                return;
            }
        };
        all.sort_by(|a, b| a.name.cmp(&b.name));
        for (sent, vm) in all.iter().enumerate() {
            if req.limit > 0 && i64::try_from(sent).is_ok_and(|n| n >= req.limit) {
                return;
            }
            let item = ListItem {
                identity: listed_identity(&hv.name, &vm.name),
                display_name: format!("{} ({})", vm.name, vm.state),
                resource: if req.include_resource {
                    listed_state(&hv.name, vm)
                } else {
                    None
                },
            };
            if !sink.item(item).await {
                return;
            }
        }
    }
}
