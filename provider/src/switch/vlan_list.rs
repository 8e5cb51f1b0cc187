//! `list "rack_switch_vlan"`: the named VLANs of a switch's bridges, for `terraform query`.

use async_trait::async_trait;

use super::lists::{item, list_attributes, listed};
use super::vlan::vlan_state;
use crate::framework::schema::{Block, Schema};
use crate::framework::{Context, ListRequest, ListResource, ListSink};

/// The list resource.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwitchVlanList;

#[async_trait]
impl ListResource for SwitchVlanList {
    fn type_name(&self) -> &'static str {
        "rack_switch_vlan"
    }

    fn schema(&self) -> Schema {
        Schema::new(
            Block::new("Lists the named VLANs of a switch's bridges.")
                .attributes(list_attributes()),
        )
    }

    async fn list(&self, ctx: &Context, req: ListRequest, sink: ListSink) {
        let found = async {
            let (srv, snap, bridges) = listed(ctx, &req.config).await?;
            let mut items = Vec::new();
            for b in &bridges {
                for v in snap.bridge(b).map(|b| b.vlans).unwrap_or_default() {
                    items.push(item(
                        req.include_resource,
                        format!("{b}/{}", v.name),
                        vlan_state(&srv.name, b, &v),
                    ));
                }
            }
            sink.send_all(items).await
        };
        sink.finish(found.await).await;
    }
}
